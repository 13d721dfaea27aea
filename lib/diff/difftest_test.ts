import assert from "node:assert/strict";
import type { Platform } from "../core/platform.ts";
import { runProgram } from "../engine/run.ts";
import { checkText } from "../api/scenario.ts";
import { x86Platform } from "../x86/platform.ts";
import { BackendUnavailable } from "./backend.ts";
import { diffText } from "./diff.ts";
import {
  difftest,
  type DifftestIo,
  difftestMain,
  type DifftestOptions,
  disagreementClass,
} from "./difftest.ts";
import { droppedEoiPlatform } from "./test_platforms.ts";
import { ISR_NOT_TRACKED } from "./host.ts";

const X86 = x86Platform as unknown as Platform;

interface Captured {
  code: number;
  out: string[];
  err: string[];
  files: Map<string, string>;
}

function capture(): [Captured, DifftestIo] {
  const c: Captured = { code: -1, out: [], err: [], files: new Map() };
  return [c, {
    out: (l) => c.out.push(l),
    err: (l) => c.err.push(l),
    writeFile: (p, t) => c.files.set(p, t),
  }];
}

function run(options: Partial<DifftestOptions> & { platforms: DifftestOptions["platforms"] }) {
  const [c, io] = capture();
  c.code = difftest({ seed: 1, count: 12, outDir: "kd", names: ["model", "bug"], ...options }, io);
  return c;
}

Deno.test("difftest() finds the planted dropped EOI and writes each disagreement shrunk", () => {
  const bug = droppedEoiPlatform();
  const c = run({ platforms: [X86, bug] });
  assert.equal(c.code, 1);
  assert.ok(c.files.size >= 2, `only ${c.files.size} kinds of disagreement in 12 cases`);
  const summary = c.out.find((l) => l.startsWith("12 cases"))!;
  assert.match(
    summary,
    new RegExp(
      `^12 cases \\(seed 1\\): \\d+ agree, \\d+ disagree \\(${c.files.size} kinds, ${c.files.size} files\\), 0 skipped$`,
    ),
  );
  for (const [path, text] of c.files) {
    const index = Number(path.match(/^kd\/seed1_case(\d+)\.scn$/)?.[1]);
    assert.ok(text.includes(`#   deno task difftest --seed 1 --index ${index}\n`), text);
    // Still a scenario the library can hold: it checks and runs on the model.
    runProgram(checkText(text, path, { platforms: [X86] }));
    // And it still disagrees, on the value the header names.
    const r = diffText(text, path, [X86, bug]);
    assert.equal(r.status, "disagree", text);
    const d = r.divergences[0];
    assert.ok(
      text.includes(`#   ${d.key}: model ${d.a} | bug ${d.b}, after '${d.statement}'\n`),
      text,
    );
    // Minimal for a dropped EOI: a handler or an eoi, an enable, an sti, a delivery and a run.
    const statements = text.split("\n\n")[2].trim().split("\n").length;
    assert.ok(statements <= 7, `${path} has ${statements} statements:\n${text}`);
  }
});

Deno.test("difftest() gives the same output and files for the same seed", () => {
  const a = run({ platforms: [X86, droppedEoiPlatform()] });
  const b = run({ platforms: [X86, droppedEoiPlatform()] });
  assert.deepEqual(a.out, b.out);
  assert.deepEqual([...a.files], [...b.files]);
  const c = run({ seed: 2, platforms: [X86, droppedEoiPlatform()] });
  assert.notDeepEqual(a.out, c.out);
});

Deno.test("difftest() writes one file per kind of disagreement and lists the rest against it", () => {
  const grouped = run({ count: 20, platforms: [X86, droppedEoiPlatform()] });
  const every = run({ count: 20, platforms: [X86, droppedEoiPlatform()], everyCase: true });
  const lines = grouped.out.filter((l) => l.startsWith("DISAGREE"));
  const like = lines.filter((l) => / like kd\/seed1_case\d+\.scn$/.test(l));
  assert.ok(like.length > 0, "20 cases of one planted bug repeat a kind");
  for (const l of like) assert.ok(grouped.files.has(l.split(" like ")[1]), l);
  assert.equal(grouped.files.size + like.length, lines.length);
  assert.equal(every.files.size, lines.length);
  // The per-kind counts add up to the disagreements.
  const counts = grouped.out.filter((l) => / like kd\//.test(l) && l.startsWith("  "))
    .map((l) => Number(l.trim().split(" ")[0]));
  assert.equal(counts.reduce((a, b) => a + b, 0), lines.length);
});

Deno.test("disagreementClass() blanks vCPUs, values and arguments but keeps the key and command", () => {
  const at = { offset: 0, line: 1, column: 1 };
  const loc = { source: "a.scn", start: at, end: at };
  const result = (key: string, a: string, b: string, statement: string) => ({
    file: "a.scn",
    title: "t",
    status: "disagree" as const,
    steps: 1,
    divergences: [{ key, loc, statement, step: 0, a, b }],
  });
  const x = disagreementClass(
    result(
      "vcpu1.lapic.isr",
      "{0x41}",
      "{}",
      "vmm: kvm signal_msi address=0xfee01000 data=0x41 -> $r3",
    ),
  );
  const y = disagreementClass(
    result(
      "vcpu0.lapic.isr",
      "{0xe8}",
      "{}",
      "vmm: kvm signal_msi address=0xfee00000 data=0xe8 -> $r0",
    ),
  );
  assert.equal(x, y);
  assert.equal(x, "vcpuN.lapic.isr|{N}|{}|kvm signal_msi");
  const z = disagreementClass(result("vcpu0.lapic.isr", "{0xe8}", "{}", "vcpu0: eoi"));
  assert.notEqual(x, z);
  // However many values a non-empty set holds, it is one kind; empty is another.
  assert.equal(
    disagreementClass(result("vcpu2.lapic.irr", "{0x41, 0x30}", "{}", "run")),
    disagreementClass(result("vcpu0.lapic.irr", "{0x41}", "{}", "run")),
  );
  assert.notEqual(
    disagreementClass(result("vcpu0.lapic.irr", "{0x41, 0x30}", "{}", "run")),
    disagreementClass(result("vcpu0.lapic.irr", "{}", "{0x41}", "run")),
  );
  const w = disagreementClass(result("vcpu0.lapic.irr", "{0xe8}", "{}", "run"));
  assert.notEqual(w, disagreementClass(result("vcpu0.lapic.isr", "{0xe8}", "{}", "run")));
});

Deno.test("difftest() exits 0 and writes nothing when both platforms are the model", () => {
  const c = run({ count: 30, platforms: [X86, X86] });
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, ["30 cases (seed 1): 30 agree, 0 disagree, 0 skipped"]);
  assert.equal(c.files.size, 0);
});

Deno.test("difftest() counts skipped cases with the backend's reason", () => {
  class BackendUnsupported extends Error {}
  const refusing: Platform = {
    ...X86,
    commands: X86.commands.map((cmd) =>
      cmd.name !== "sti" ? cmd : {
        ...cmd,
        run: () => {
          throw new BackendUnsupported("sti is not expressible");
        },
      }
    ),
  };
  const c = run({ count: 10, platforms: [X86, refusing] });
  assert.equal(c.code, 0);
  const skipped = Number(c.out.at(-2)!.match(/(\d+) skipped$/)?.[1]);
  assert.ok(skipped > 0);
  assert.equal(c.out.at(-1), `  skipped ${skipped}: sti is not expressible`);
});

Deno.test("difftest --index prints the case and its result; bad options exit 2", async () => {
  const [c, io] = capture();
  c.code = await difftestMain(["--seed", "3", "--index", "4"], io, () => Promise.resolve(X86));
  assert.equal(c.code, 0);
  assert.equal(c.out[0], 'scenario "generated x86 case 3:4"');
  assert.ok(c.out.includes("# deno task difftest --seed 3 --index 4"));
  assert.match(c.out.at(-2)!, /^AGREE {5}case 3:4 {2}\(\d+ steps\)$/);
  assert.equal(c.out.at(-1), "1 cases (seed 3): 1 agree, 0 disagree, 0 skipped");

  const [bad, badIo] = capture();
  bad.code = await difftestMain(["--count", "0"], badIo, () => Promise.resolve(X86));
  assert.deepEqual([bad.code, bad.err], [2, [
    "difftest: --count needs a whole number >= 1, not '0'",
  ]]);
});

Deno.test("difftest says what is missing in one line when the backend cannot run", async () => {
  const [c, io] = capture();
  c.code = await difftestMain([], io, () => Promise.reject(new BackendUnavailable("no", true)));
  assert.deepEqual([c.code, c.err], [
    2,
    ["difftest: the kvm backend needs --allow-ffi: run 'deno task difftest'"],
  ]);
});

Deno.test("difftest() lists disagreements a host quirk explains, writes none and exits 0", () => {
  const c = run({ platforms: [X86, droppedEoiPlatform()], hostQuirks: [ISR_NOT_TRACKED] });
  // A dropped EOI needs a taken interrupt first, which is what the quirk's rule asks.
  assert.equal(c.code, 0);
  assert.equal(c.files.size, 0);
  const summary = c.out.find((l) => l.startsWith("12 cases"))!;
  const n = Number(summary.match(/(\d+) disagree/)![1]);
  assert.ok(n > 0);
  assert.match(summary, new RegExp(`\\(${n} explained by the host, 0 not\\)`));
  assert.ok(
    c.out.some((l) => l.startsWith(`  ${n} explained by the host (isr-not-tracked): cases `)),
  );
});
