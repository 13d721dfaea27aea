import assert from "node:assert/strict";
import { fmtCommand } from "./fmt_command.ts";
import type { Io } from "./main.ts";

interface Captured {
  code: number;
  out: string[];
  err: string[];
  files: Map<string, string>;
}

function fmt(args: string[], writeFile?: Io["writeFile"]): Captured {
  const c: Captured = { code: -1, out: [], err: [], files: new Map() };
  const io: Io = {
    out: (line) => c.out.push(line),
    err: (line) => c.err.push(line),
    color: false,
    writeFile: writeFile ?? ((path, text) => c.files.set(path, text)),
  };
  c.code = fmtCommand(args, io);
  return c;
}

/** A directory with a canonical file, one to format, and a fragment to format. */
function fixture(): { dir: string; done: string; messy: string; fragment: string } {
  const dir = Deno.makeTempDirSync({ prefix: "scn_fmt_" });
  const done = `${dir}/done.scn`;
  const messy = `${dir}/messy.scn`;
  const fragment = `${dir}/_common.scn`;
  Deno.writeTextFileSync(done, 'scenario "done"\nvm g { arch x86_64 }\nvcpu0: sti\n');
  Deno.writeTextFileSync(messy, 'scenario "messy"\nvm g {arch x86_64}\n\n\nvcpu0:sti   # go\n');
  Deno.writeTextFileSync(fragment, "vcpu0:  cli\n");
  return { dir, done, messy, fragment };
}

Deno.test("scn fmt FILE prints the file in the canonical layout and exits 0", () => {
  const { dir, messy } = fixture();
  const c = fmt([messy]);
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, ['scenario "messy"', "vm g { arch x86_64 }", "", "vcpu0: sti  # go"]);
  assert.equal(Deno.readTextFileSync(messy).includes("vcpu0:sti"), true, "printing wrote the file");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt --check exits 1 listing the files not in the layout, fragments included", () => {
  const { dir, messy, fragment } = fixture();
  const c = fmt(["--check", dir]);
  assert.equal(c.code, 1);
  assert.deepEqual(c.out, [
    `not formatted: ${fragment}`,
    `not formatted: ${messy}`,
    "1 formatted, 2 not (scn fmt --write rewrites them)",
  ]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt --check exits 0 when every file is in the layout", () => {
  const { dir, done } = fixture();
  const c = fmt(["--check", done]);
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, ["1 formatted, 0 not"]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt --write rewrites only the files that change", () => {
  const { dir, messy, fragment } = fixture();
  const c = fmt(["--write", dir]);
  assert.equal(c.code, 0);
  assert.deepEqual([...c.files.keys()], [fragment, messy]);
  assert.equal(c.files.get(fragment), "vcpu0: cli\n");
  assert.deepEqual(c.out, ["2 of 3 file(s) rewritten"]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt --write without write permission says which command works, exit 2", () => {
  const { dir, messy } = fixture();
  const c = fmt(["--write", messy], () => {
    throw new Deno.errors.NotCapable("Requires write access");
  });
  assert.equal(c.code, 2);
  assert.equal(c.err.length, 1);
  assert.match(c.err[0], /writing '.*messy\.scn' needs write permission: run 'deno task scn-fmt/);
  assert.match(c.err[0], /--allow-write=.*messy\.scn lib\/cli\/main\.ts fmt --write/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt on a syntax error prints the located diagnostic and exits 2", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_fmt_" });
  const bad = `${dir}/bad.scn`;
  Deno.writeTextFileSync(bad, 'scenario "bad"\nexpect vcpu0 took\n');
  const c = fmt([bad]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out, []);
  assert.equal(c.err[0], `${bad}:2:18: error: unexpected end of line`);
  assert.ok(c.err.some((l) => l.includes("expect vcpu0 took")), "the source line is quoted");
  assert.ok(c.err.some((l) => /^\s*\|\s*\^/.test(l)), "a caret marks the spot");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn fmt refuses --write with --check, no files, and missing files, exit 2", () => {
  assert.equal(fmt(["--write", "--check", "x.scn"]).code, 2);
  assert.equal(fmt([]).code, 2);
  const missing = fmt(["no/such.scn"]);
  assert.equal(missing.code, 2);
  assert.deepEqual(missing.err, ["scn fmt: no such file or directory 'no/such.scn'"]);
});

Deno.test("scn fmt formats the scenarios inside a Markdown report in place and its summary is true", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_fmt_host_" });
  try {
    const md = `${dir}/bug.md`;
    const text = '# Bug\r\n\r\nSteps:\r\n\r\n```SCN\r\nscenario "x"\r\nvm g {arch x86_64}\r\n' +
      "vcpu0:sti\r\n```\r\n\r\nThanks.\r\n";
    Deno.writeTextFileSync(md, text);
    const check = fmt(["--check", md]);
    assert.equal(check.code, 1);
    assert.deepEqual(check.out, [
      `not formatted: ${md}:6`,
      "0 formatted, 1 not (scn fmt --write rewrites them)",
    ]);
    const w = fmt(["--write", md]);
    assert.equal(w.code, 0);
    assert.deepEqual(w.out, ["1 of 1 file(s) rewritten"]);
    assert.equal(
      w.files.get(md),
      '# Bug\r\n\r\nSteps:\r\n\r\n```SCN\r\nscenario "x"\r\nvm g { arch x86_64 }\r\n' +
        "vcpu0: sti\r\n```\r\n\r\nThanks.\r\n",
    );
    Deno.writeTextFileSync(md, w.files.get(md)!);
    assert.deepEqual(fmt(["--check", md]).out, ["1 formatted, 0 not"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scn fmt refuses a quoted scenario clearly and counts prose and errors as errors, not formatted", () => {
  const c = fmt(["--check", "tests/fixtures/hosts/reply.eml", "tests/fixtures/hosts/none.md"]);
  assert.equal(c.code, 2);
  assert.match(
    c.err.join("\n"),
    /reply\.eml:13: a scenario quoted in a reply .* is not formatted in place/,
  );
  assert.match(c.err.join("\n"), /no scenario found in/);
  assert.deepEqual(c.out, ["0 formatted, 0 not, 2 errors"]);
});

Deno.test("the scenario library is in the canonical layout (`deno task scn-fmt scenarios` mends it)", () => {
  // Scenarios are pasted into bug reports and read side by side: one layout keeps a diff of two
  // to what differs, as `deno fmt --check` does for the code.
  const library = new URL("../../scenarios", import.meta.url).pathname;
  const c = fmt(["--check", library]);
  assert.deepEqual(c.out.filter((line) => line.startsWith("not formatted")), []);
  assert.equal(c.code, 0);
});
