import assert from "node:assert/strict";
import { formatEvent, formatTime, textReport, traceLines } from "./text.ts";
import { ExitCode, exitCodeOf, type Outcome, summarize } from "./outcome.ts";
import { runText } from "../api/scenario.ts";

function result(file: string): Outcome {
  const text = Deno.readTextFileSync(file);
  return { kind: "result", file, result: runText(text, file) };
}

const PASS = "tests/fixtures/cli/pass.scn";
const FAIL = "tests/fixtures/cli/fail.scn";
const XFAIL = "tests/fixtures/cli/xfail.scn";
const XPASS = "tests/fixtures/cli/xpass.scn";

const at = { offset: 0, line: 1, column: 1 };
const inputError: Outcome = {
  kind: "input-error",
  file: "bad.scn",
  diagnostics: [{
    kind: "check",
    message: "unknown command 'eio' for vcpu0",
    loc: {
      source: "bad.scn",
      start: { offset: 7, line: 1, column: 8 },
      end: { offset: 10, line: 1, column: 11 },
    },
    hint: "did you mean 'eoi'?",
  }],
  sources: new Map([["bad.scn", "vcpu0: eio\n"]]),
};
const internalError: Outcome = {
  kind: "internal-error",
  file: "boom.scn",
  message: "TypeError: x",
};
const missing: Outcome = {
  kind: "input-error",
  file: "gone.scn",
  diagnostics: [{
    kind: "include",
    message: "no such file",
    loc: { source: "gone.scn", start: at, end: at },
  }],
  sources: new Map(),
};

const opts = { trace: false, replay: (f: string) => `replay ${f}` };
const texts = (outcomes: Outcome[], o = opts) => textReport(outcomes, o).map((l) => l.text);

Deno.test("textReport() of nothing is just the summary line", () => {
  assert.deepEqual(textReport([], opts), [{ text: "0 passed, 0 failed", style: "color: green" }]);
});

Deno.test("textReport() of one pass is its line and the summary", () => {
  assert.deepEqual(texts([result(PASS)]), [
    `PASS  ${PASS}  an IPI to self is taken once`,
    "1 passed, 0 failed",
  ]);
});

Deno.test("textReport() details each failure with location, expected, actual, trace and replay", () => {
  const lines = texts([result(FAIL)]);
  assert.equal(lines[0], `FAIL  ${FAIL}  expects the wrong vector`);
  assert.equal(lines[1], `  ${FAIL}:8:1: expect vcpu0 took 0x42`);
  assert.equal(lines[2], "    expected: 0x42");
  assert.equal(lines[3], "    actual:   0x41");
  assert.equal(lines.at(-2), `  replay: replay ${FAIL}`);
  assert.equal(lines.at(-1), "0 passed, 1 failed");
  // The trace lines come from the model; check their form, not their wording.
  assert.equal(lines[4], "    trace:");
  const trace = lines.slice(5, -2);
  assert.ok(trace.length > 0);
  for (const l of trace) assert.match(l, /^ {6}#\d+ @0ns \S+ \S+: /);
  assert.match(trace.at(-1)!, /vcpu0 took: 0x41/);
});

Deno.test("textReport() marks XFAIL and XPASS and counts them in the summary", () => {
  assert.deepEqual(texts([result(XFAIL), result(XPASS)]), [
    `XFAIL ${XFAIL}  a known bug that still fails`,
    "      expected failure: waiting for a fix",
    `XPASS ${XPASS}  a known bug that no longer fails`,
    `      marked 'expect failure "waiting for a fix"' but that expectation held`,
    "      if the bug is fixed, write it as a plain 'expect'",
    "(1 expected failures, 1 unexpected passes, 0 errors)",
    "1 passed, 1 failed",
  ]);
});

Deno.test("textReport() quotes input errors and flags internal errors", async (t) => {
  const lines = texts([inputError, internalError, missing]);
  assert.deepEqual(lines, [
    "ERROR bad.scn",
    "  bad.scn:1:8: error: unknown command 'eio' for vcpu0",
    "    1 | vcpu0: eio",
    "      |        ^^^",
    "    = did you mean 'eoi'?",
    "ERROR boom.scn: internal error: TypeError: x",
    "  this is a bug in irqlab: please report it with the scenario",
    "ERROR gone.scn",
    "  gone.scn:1:1: error: no such file",
    "(0 expected failures, 0 unexpected passes, 3 errors)",
    "0 passed, 0 failed, 3 errors",
  ]);
  await t.assertSnapshot(lines.join("\n"));
});

Deno.test("textReport() styles lines by status", () => {
  const styles = textReport([result(PASS), result(FAIL)], opts).map((l) => l.style);
  assert.equal(styles[0], "color: green");
  assert.equal(styles[1], "color: red; font-weight: bold");
  assert.equal(styles.at(-1), "color: red; font-weight: bold");
});

Deno.test("textReport() with trace prints every event after the scenario line", () => {
  const o = result(PASS);
  const lines = texts([o], { ...opts, trace: true });
  const r = (o as Outcome & { kind: "result" }).result;
  assert.equal(lines.length, 2 + r.trace.length);
  assert.equal(lines[1], "  #1 @0ns lapic0 reset: power-up reset");
  assert.deepEqual(lines.slice(1, -1), r.trace.map((e) => `  ${formatEvent(e)}`));
  assert.deepEqual(traceLines(r.trace).map((l) => l.text), lines.slice(1, -1));
});

Deno.test("formatEvent() shows id, time, source, kind, text and cause", () => {
  assert.equal(
    formatEvent({ id: 9, time: 0, source: "lapic1", kind: "irr.set", text: "0x41 edge", cause: 8 }),
    "#9 @0ns lapic1 irr.set: 0x41 edge  <- #8",
  );
  assert.equal(
    formatEvent({ id: 1, time: 5_000_000, source: "vmm", kind: "ioctl", text: "x", cause: 0 }),
    "#1 @5ms vmm ioctl: x",
  );
});

Deno.test("formatTime() picks the largest unit that keeps the time whole", () => {
  assert.deepEqual(
    [0, 250, 1000, 1500, 5_000_000, 2_000_000_000, 1_000_001].map(formatTime),
    ["0ns", "250ns", "1us", "1500ns", "5ms", "2s", "1000001ns"],
  );
});

Deno.test("summarize() and exitCodeOf() rank outcomes", () => {
  const all = [result(PASS), result(FAIL), result(XFAIL), result(XPASS), inputError, internalError];
  assert.deepEqual(summarize(all), {
    passed: 2,
    failed: 4,
    xfail: 1,
    xpass: 1,
    errors: 2,
    skipped: 0,
  });
  assert.equal(exitCodeOf([]), ExitCode.Ok);
  assert.equal(exitCodeOf([result(PASS), result(XFAIL)]), 0);
  assert.equal(exitCodeOf([result(PASS), result(XPASS)]), 1);
  assert.equal(exitCodeOf([result(FAIL), inputError]), 2);
  assert.equal(exitCodeOf([inputError, internalError, result(FAIL)]), 3);
});
