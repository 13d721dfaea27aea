import assert from "node:assert/strict";
import { extractScenarios, isHostFile, scenarioText, splitTarget, toHostLoc } from "./extract.ts";
import { readTarget } from "./load.ts";
import { mainAsync } from "../cli/main.ts";
import { processFile, processTarget } from "../cli/process.ts";
import { captureIo, scn } from "../cli/captured.ts";
import { collectFiles } from "./files.ts";
import type { Outcome } from "../report/outcome.ts";

// Paths are relative to the repository root, where `deno task test` runs.
const HOSTS = "tests/fixtures/hosts";

function read(name: string): string {
  return Deno.readTextFileSync(`${HOSTS}/${name}`);
}

function run(target: string): Outcome[] {
  return processTarget(target, { mode: "run" });
}

Deno.test("isHostFile() and splitTarget() tell host files and 'file.md:LINE' from .scn files", () => {
  assert.deepEqual(
    ["a.md", "b.TXT", "c.eml", "d.mbox", "e.scn", "f.markdown"].map(isHostFile),
    [true, true, true, true, false, true],
  );
  assert.deepEqual(splitTarget("dir/bug.md:12"), { path: "dir/bug.md", line: 12 });
  assert.deepEqual(splitTarget("a.scn:12"), { path: "a.scn:12" });
  assert.deepEqual(splitTarget("bug.md"), { path: "bug.md" });
});

Deno.test("extractScenarios() finds ```scn and ~~~scn blocks in Markdown and skips other languages", () => {
  const text = read("two_fenced.md");
  const { scenarios } = extractScenarios("bug.md", text);
  assert.deepEqual(scenarios.map((s) => s.name), ["bug.md:6", "bug.md:32"]);
  assert.deepEqual(scenarios.map((s) => s.span), [{ first: 5, last: 27 }, { first: 31, last: 38 }]);
  const hostLines = text.split("\n");
  for (const s of scenarios) {
    // Every line of the scenario sits on its host line, at its host column; nothing else is there.
    const lines = scenarioText(s).split("\n");
    assert.equal(s.offsets, undefined);
    lines.forEach((l, i) => assert.ok(l === "" || l === hostLines[i], `line ${i + 1}`));
    assert.deepEqual(
      lines.slice(s.span.first, s.span.last - 1),
      hostLines.slice(s.span.first, s.span.last - 1),
    );
  }
  assert.equal(scenarios[0].body, read("level.scn"));
  const second = scenarioText(scenarios[1]);
  assert.equal(second.split("\n")[31], 'scenario "an MSI to APIC ID 2 lands in vCPU 2\'s IRR"');
  assert.equal(second.split("\n")[30], "", "the fence line is not part of it");
  assert.ok(!second.includes("deno task"), "prose and other blocks are not part of it");
});

Deno.test("extractScenarios() finds a '> > ' quoted scenario in an email reply and blanks the quotes", () => {
  const text = read("reply.eml");
  const { scenarios } = extractScenarios("reply.eml", text);
  assert.equal(scenarios.length, 1);
  const s = scenarios[0];
  assert.equal(s.name, "reply.eml:13");
  assert.deepEqual(s.span, { first: 13, last: 19 });
  const line13 = scenarioText(s).split("\n")[12];
  assert.equal(line13, '    scenario "an MSI to APIC ID 1 lands in vCPU 1\'s IRR"');
  assert.ok(s.body.startsWith('scenario "an MSI'));
  assert.doesNotMatch(s.body, /^ *>/m, "quote marks are not part of the scenario");
  assert.ok(!scenarioText(s).includes("Can't reproduce"), "the shallower quote is not part of it");
});

Deno.test("extractScenarios() reads every message of an mbox, multipart and quoted-printable parts included", () => {
  const text = read("two.mbox");
  const { scenarios, unreadable } = extractScenarios("two.mbox", text);
  assert.deepEqual(scenarios.map((s) => s.name), ["two.mbox:7", "two.mbox:25"]);
  assert.match(scenarios[1].body, /msi address=0xfee00000 data=0xc0b6\n/);
  assert.match(scenarios[1].body, /expect vcpu0\.lapic\.tmr == \{0xb6\}/);
  assert.deepEqual(unreadable, [], "a base64 image is an attachment, not an unreadable text part");
});

Deno.test("extractScenarios() decodes quoted-printable: =XX bytes, UTF-8, soft line breaks", () => {
  const text = read("qp.eml");
  const [s] = extractScenarios("qp.eml", text).scenarios;
  assert.equal(s.name, "qp.eml:10");
  assert.match(s.body, /^scenario "an MSI to APIC ID 2 lands in vCPU 2\u2019s IRR"$/m);
  assert.match(
    s.body,
    /^device nvme: msi address=0xfee02000 data=0x00a5 -> \$r {6}# a long comment the mailer wrapped$/m,
  );
  assert.ok(s.offsets !== undefined);
  // '1' of "== 1" sits after two '=3D' in host line 15.
  const at = scenarioText(s).indexOf("== 1") + 3;
  const loc = toHostLoc(s, {
    source: "qp.eml",
    start: { offset: at, line: 0, column: 0 },
    end: { offset: at + 1, line: 0, column: 0 },
  }, text);
  assert.deepEqual([loc.start.line, loc.start.column], [15, 18]);
  assert.equal(text.split("\n")[14][17], "1");
});

Deno.test("scn run reports an error inside a quoted scenario at the host line and column, quoting the host line", () => {
  const c = scn(["run", `${HOSTS}/quoted_error.eml`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out.slice(0, 5), [
    `ERROR ${HOSTS}/quoted_error.eml:6`,
    `  ${HOSTS}/quoted_error.eml:9:14: error: unknown command 'eio' for vcpu0`,
    "    9 | > >   vcpu0: eio",
    "      |              ^^^",
    "    = did you mean 'eoi'?",
  ]);
});

Deno.test("scn run reports an error in a quoted-printable part at the encoded host line and column", () => {
  const c = scn(["run", `${HOSTS}/qp_error.eml`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out.slice(1, 4), [
    `  ${HOSTS}/qp_error.eml:10:25: error: unknown command 'lapic enabel' for vcpu2`,
    "    10 | let $v =3D 0x41; vcpu2: lapic enabel",
    "       |                         ^^^^^^^^^^^^",
  ]);
});

Deno.test("scn run locates a failed expectation of a hosted scenario in the host file", () => {
  const c = scn(["run", `${HOSTS}/fail.md`]);
  assert.equal(c.code, 1);
  assert.equal(
    c.out[0],
    `FAIL  ${HOSTS}/fail.md:4  a fixed MSI to a software-disabled LAPIC is dropped`,
  );
  assert.equal(c.out[1], `  ${HOSTS}/fail.md:7:3: expect vcpu0.lapic.irr == {0x51}`);
  assert.ok(c.out.includes(`  replay: deno task scn run ${HOSTS}/fail.md:4 --trace`));
});

Deno.test("scn run of a good hosted scenario gives the same result as the .scn file", () => {
  const [hosted] = run(`${HOSTS}/two_fenced.md:6`);
  const plain = processFile(`${HOSTS}/level.scn`, "run");
  assert.equal(hosted.kind, "result");
  assert.equal(plain.kind, "result");
  if (hosted.kind !== "result" || plain.kind !== "result") return;
  assert.equal(hosted.file, `${HOSTS}/two_fenced.md:6`);
  assert.equal(hosted.result.status, "pass");
  const { file: _a, ...h } = hosted.result;
  const { file: _b, ...p } = plain.result;
  assert.deepEqual(h, p);
});

Deno.test("scn run runs every scenario of a host file, or the one 'file.md:LINE' names", () => {
  const all = scn(["run", `${HOSTS}/two_fenced.md`, `${HOSTS}/two.mbox`, `${HOSTS}/reply.eml`]);
  assert.equal(all.code, 0);
  assert.equal(all.out.at(-1), "5 passed, 0 failed");
  // Any line of the block picks it, the fence included.
  const one = scn(["run", `${HOSTS}/two_fenced.md:31`]);
  assert.equal(one.code, 0);
  assert.deepEqual(one.out, [
    `PASS  ${HOSTS}/two_fenced.md:32  an MSI to APIC ID 2 lands in vCPU 2's IRR`,
    "1 passed, 0 failed",
  ]);
  const none = scn(["run", `${HOSTS}/two_fenced.md:3`]);
  assert.equal(none.code, 2);
  assert.equal(
    none.out[1],
    `  ${HOSTS}/two_fenced.md:3:1: error: no scenario at line 3 of '${HOSTS}/two_fenced.md'`,
  );
  assert.equal(none.out[4], "    = its scenarios start at lines 6, 32");
});

Deno.test("scn run of a host file with no scenario is a located input error saying what is recognised", () => {
  const c = scn(["run", `${HOSTS}/none.md`]);
  assert.equal(c.code, 2);
  assert.equal(c.out[1], `  ${HOSTS}/none.md:1:1: error: no scenario found in '${HOSTS}/none.md'`);
  assert.match(
    c.out[4],
    /= irqlab reads fenced blocks marked ```scn or ~~~scn, and '> '-quoted runs/,
  );
  const r = readTarget(`${HOSTS}/base64.eml`);
  assert.ok("outcome" in r);
  if (!("outcome" in r)) return;
  assert.match(
    r.outcome.diagnostics[0].hint ?? "",
    /the part at line 1 is base64-encoded, which irqlab cannot read/,
  );
});

Deno.test("scn check and scn run give a newer-language scenario in a host file a located version error", () => {
  for (const command of ["check", "run"]) {
    const c = scn([command, `${HOSTS}/future.md`]);
    assert.equal(c.code, 2);
    assert.deepEqual(c.out.slice(1, 5), [
      `  ${HOSTS}/future.md:4:8: error: this scenario is written for irqlab language 2; this runner implements version 1`,
      "    4 | irqlab 2",
      "      |        ^",
      "    = update irqlab to run it",
    ]);
  }
});

Deno.test("collectFiles() walks directories for .scn files only: host files must be named", () => {
  assert.deepEqual(collectFiles([HOSTS]).files, [`${HOSTS}/level.scn`]);
  assert.deepEqual(collectFiles([`${HOSTS}/two_fenced.md:6`, `${HOSTS}/gone.md:6`]), {
    files: [`${HOSTS}/two_fenced.md:6`],
    missing: [`${HOSTS}/gone.md:6`],
  });
});

Deno.test("scn explore explores each scenario of a host file under its file:LINE name, with workers too", async () => {
  const c = scn(["explore", `${HOSTS}/races.eml`]);
  assert.equal(c.code, 0);
  assert.match(
    c.out[0],
    new RegExp(`^XFAIL ${HOSTS}/races.eml:6  an unmask that tests evtchn_mask`),
  );
  assert.ok(
    c.out.some((l) => l.startsWith(`PASS  ${HOSTS}/races.eml:41  A level interrupt re-asserted`)),
  );
  assert.ok(
    c.out.includes("      3 interleavings, all pass (1 parallel block run; 5 states, 3 runs)"),
  );
  const one = scn(["explore", `${HOSTS}/races.eml:41`]);
  const out: string[] = [];
  const code = await mainAsync(
    ["explore", "--workers", "2", `${HOSTS}/races.eml:41`],
    captureIo(out),
  );
  assert.equal(code, one.code);
  assert.deepEqual(out, one.out);
});

Deno.test("scn explore reports an error in a quoted scenario at the host line", () => {
  const c = scn(["explore", `${HOSTS}/quoted_error.eml`]);
  assert.equal(c.code, 2);
  assert.ok(
    c.out.includes(`  ${HOSTS}/quoted_error.eml:9:14: error: unknown command 'eio' for vcpu0`),
  );
  assert.ok(c.out.includes("    9 | > >   vcpu0: eio"));
});

Deno.test("scn run --schedule replays explore's failing order of a hosted scenario by host lines", () => {
  const host = `${HOSTS}/race_order.md`, plain = "scenarios/races/its_msi_before_mapti.scn";
  const explored = scn(["explore", host]);
  assert.ok(
    explored.out.includes(`  replay: deno task scn run ${host}:4 --schedule 23:2,0,1 --trace`),
  );
  const a = scn(["run", "--json", `${host}:4`, "--schedule", "23:2,0,1"]);
  const b = scn(["run", "--json", plain, "--schedule", "20:2,0,1"]);
  assert.equal(a.code, 1);
  assert.equal(b.code, 1);
  const failures = (out: string[]) =>
    JSON.parse(out.join("\n")).scenarios[0].failures.map((
      f: { expected: string; actual: string },
    ) => [
      f.expected,
      f.actual,
    ]);
  assert.deepEqual(failures(a.out), failures(b.out));
});

Deno.test("scn run of a CRLF host file: a block without a title is reported at its own first line", () => {
  const c = scn(["run", `${HOSTS}/crlf_untitled.md`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out.slice(0, 4), [
    `ERROR ${HOSTS}/crlf_untitled.md:4`,
    `  ${HOSTS}/crlf_untitled.md:4:1: error: missing the scenario's title`,
    "    4 | vm guest { arch x86_64 }",
    "      | ^",
  ]);
  assert.ok(
    c.out.includes(`  ${HOSTS}/crlf_untitled.md:10:10: error: unknown command 'eio' for vcpu0`),
  );
});
