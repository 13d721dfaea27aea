import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";

/**
 * `scn run` and `scn check` from the command line's own entry load only
 * the models their scenarios name (lib/api/platform_loaders.ts): each case
 * runs in a fresh `deno run` process and must print, byte for byte, what
 * main() prints in this process, where every model is loaded.
 */
const CASES: string[][] = [
  ["run", "scenarios/x86/readme_level_redelivery.scn"],
  ["run", "scenarios/arm/arm01_gicv2_sgi_self.scn"],
  ["run", "tests/fixtures/cli/fail.scn"],
  ["run", "tests/fixtures/cli/bad_command.scn"],
  ["run", "tests/fixtures/include/main.scn"],
  ["check", "tests/fixtures/hosts/two_fenced.md"],
  ["run", "--trace", "tests/fixtures/cli/xfail.scn"],
  ["run", "tests/fixtures/cli/pass.scn", "scenarios/arm/arm01_gicv2_sgi_self.scn"],
  ["run", "tests/fixtures/no_such_file.scn"],
];

function inProcess(args: string[]): { code: number; out: string } {
  const lines: string[] = [];
  const io: Io = {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
    color: false,
    writeFile: () => {},
  };
  const code = main(args, io);
  return { code, out: lines.map((l) => l + "\n").join("") };
}

async function fromEntry(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "lib/cli/main.ts", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

for (const args of CASES) {
  Deno.test(`scn ${args.join(" ")}: the entry loading only what it names prints what main() does`, async () => {
    assert.deepEqual(await fromEntry(args), inProcess(args));
  });
}

Deno.test("an arch no platform implements is refused naming every architecture, from the entry", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/riscv.scn`;
    await Deno.writeTextFile(file, 'scenario "t"\nvm g { arch riscv64 }\nrun\n');
    const entry = await fromEntry(["run", file]);
    assert.deepEqual(entry, inProcess(["run", file]));
    assert.match(entry.out, /unknown architecture 'riscv64'/);
    assert.equal(entry.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
