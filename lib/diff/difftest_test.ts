import assert from "node:assert/strict";
import { type PlatformEntry, platformEntry } from "../core/platform.ts";
import { runProgram } from "../engine/run.ts";
import { checkText } from "../api/scenario.ts";
import { X86 } from "../api/platforms.ts";
import { BackendUnavailable } from "./backend.ts";
import { diffText } from "./diff.ts";
import { caseText, generateCase } from "./generate.ts";
import {
  difftest,
  type DifftestIo,
  difftestMain,
  type DifftestOptions,
  type DifftestReport,
  disagreementClass,
  mergeReports,
} from "./difftest.ts";
import { droppedEoiPlatform, PLANTED_BUGS } from "./test_platforms.ts";
import { HOST_QUIRKS, modelWith } from "./host.ts";

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
  const result = (key: string, a: string, b: string, statement: string) => [
    { key, loc, statement, step: 0, a, b },
  ];
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
  const refusing: PlatformEntry = {
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

/** A run with --json: its report. */
function report(options: Partial<DifftestOptions> & { platforms: DifftestOptions["platforms"] }) {
  const c = run({ ...options, json: true });
  assert.equal(c.out.length, 1, "--json prints one line");
  return { code: c.code, files: c.files, report: JSON.parse(c.out[0]) as DifftestReport };
}

const QUIRKY = platformEntry(modelWith(HOST_QUIRKS));

Deno.test("difftest() puts a case down to the host only when the quirk variant agrees over all of it", () => {
  // A backend that is the model with the host's quirks: every disagreement is theirs.
  const host = report({ count: 20, platforms: [X86, QUIRKY], hostQuirks: HOST_QUIRKS });
  assert.equal(host.code, 0);
  assert.equal(host.files.size, 0);
  const explained = host.report.cases.filter((c) => c.verdict.startsWith("host: "));
  assert.ok(explained.length > 0, "20 cases take some interrupt");
  assert.equal(host.report.summary.disagree, 0);
  assert.equal(host.report.summary.agree + explained.length, 20);
});

for (const [name, bug] of Object.entries(PLANTED_BUGS)) {
  Deno.test(`difftest() excuses no disagreement of a planted bug (${name}) on a plain host`, () => {
    const r = report({ count: 16, platforms: [X86, bug()], hostQuirks: HOST_QUIRKS });
    const verdicts = new Set(r.report.cases.map((c) => c.verdict));
    assert.ok(verdicts.has("disagree"), `${name}: 16 cases show the bug`);
    assert.equal(r.code, 1);
    assert.deepEqual([...verdicts].filter((v) => v.startsWith("host: ")), []);
  });

  Deno.test(`difftest() reports a planted bug (${name}) on a quirky host wherever it shows`, () => {
    // The host has the quirks and the bug: a case is the host's exactly when
    // the bug changes nothing in it, which diffing the host with and without
    // the bug tells.
    const buggy = bug(QUIRKY);
    const r = report({ count: 16, platforms: [X86, buggy], hostQuirks: HOST_QUIRKS });
    let shown = 0;
    for (const c of r.report.cases) {
      const text = caseText(generateCase(1, c.index));
      const bugShows = diffText(text, "c.scn", [QUIRKY, buggy]).status === "disagree";
      shown += bugShows ? 1 : 0;
      if (bugShows) assert.equal(c.verdict, "disagree", `${name}: case ${c.index}`);
      else assert.notEqual(c.verdict, "disagree", `${name}: case ${c.index}`);
    }
    // With ISR never set, the dropped EOI (the first with ISR non-empty) never happens.
    if (name !== "dropped EOI") assert.ok(shown > 0, `${name}: the bug shows in 16 cases`);
  });
}

Deno.test("difftest --json prints one object: each case's index and verdict, and a summary", () => {
  const r = report({ count: 12, platforms: [X86, droppedEoiPlatform()], hostQuirks: HOST_QUIRKS });
  assert.deepEqual(r.report.cases.map((c) => c.index), [...Array(12).keys()]);
  for (const c of r.report.cases) assert.match(c.verdict, /^(agree|skipped|disagree|host: \S+)$/);
  const s = r.report.summary;
  assert.equal(
    s.agree + s.skipped + s.disagree + Object.values(s.host).reduce((a, b) => a + b, 0),
    12,
  );
  assert.deepEqual(r.report.host, HOST_QUIRKS.map((q) => q.id));
  for (const k of s.kinds) assert.ok(k.file === undefined || r.files.has(k.file));
});

Deno.test("difftest shards split the cases by index and merge to the report of one run", () => {
  const platforms = [X86, droppedEoiPlatform()] as const;
  const whole = report({ count: 12, platforms, everyCase: true });
  const shards = [1, 2, 3].map((index) =>
    report({ count: 12, platforms, everyCase: true, shard: { index, of: 3 } }).report
  );
  assert.deepEqual(shards[1].cases.map((c) => c.index), [1, 4, 7, 10]);
  const merged = mergeReports([shards[2], shards[0], shards[1]]);
  assert.deepEqual(merged.cases, whole.report.cases);
  assert.deepEqual(merged.summary, whole.report.summary);
  assert.throws(() => mergeReports([shards[0], shards[0]]), /case 0 is in two reports/);
  assert.throws(() => mergeReports([shards[0], { ...shards[1], seed: 2 }]), /different runs/);
});

Deno.test("difftest shows a progress line only on a terminal and never with --json", () => {
  for (const [terminal, json] of [[true, false], [false, false], [true, true]]) {
    let text = "";
    const [c, io] = capture();
    io.progress = { isTerminal: () => terminal, write: (t) => void (text += t) };
    c.code = difftest({
      seed: 1,
      count: 3,
      outDir: "kd",
      names: ["model", "m"],
      platforms: [X86, X86],
      json,
    }, io);
    if (terminal && !json) assert.match(text, /\rdifftest 3\/3 \(100%\) .* 0 disagree/);
    else assert.equal(text, "");
  }
});
