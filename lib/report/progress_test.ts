import assert from "node:assert/strict";
import { Progress, progressLine, type ProgressSink } from "./progress.ts";

function sink(terminal: boolean): ProgressSink & { text: string } {
  const s = { text: "", isTerminal: () => terminal, write: (t: string) => void (s.text += t) };
  return s;
}

Deno.test("progressLine() gives done/total, rate, time left and failures", () => {
  const o = { label: "difftest", total: 10000, failures: "disagree" };
  assert.equal(
    progressLine(o, 1234, 3, 150_000),
    "difftest 1234/10000 (12%)  8.2/s  17m46s left  3 disagree",
  );
  assert.equal(progressLine(o, 0, 0, 0), "difftest 0/10000 (0%)  0.0/s  ? left  0 disagree");
  assert.equal(
    progressLine(o, 100, 0, 10),
    "difftest 100/10000 (1%)  10000/s  1s left  0 disagree",
  );
  assert.equal(progressLine(o, 1, 0, 1000), "difftest 1/10000 (0%)  1.0/s  2h46m left  0 disagree");
});

Deno.test("Progress draws on a terminal, at most once per interval, and clears at the end", () => {
  let now = 0;
  const s = sink(true);
  const p = new Progress({ label: "fuzz", total: 4, sink: s, clock: () => now, interval: 100 });
  assert.equal(p.shown, true);
  now = 1000;
  p.update(1, 0);
  now = 1050;
  p.update(2, 0); // within the interval: not drawn
  now = 2000;
  p.update(4, 1); // the last unit is always drawn
  assert.equal(
    s.text,
    "\rfuzz 1/4 (25%)  1.0/s  3s left  0 failed\rfuzz 4/4 (100%)  2.0/s  0s left  1 failed",
  );
  p.end();
  const last = "fuzz 4/4 (100%)  2.0/s  0s left  1 failed";
  assert.ok(s.text.endsWith(`${last}\r${" ".repeat(last.length)}\r`));
});

Deno.test("Progress writes nothing when the sink is no terminal or it is turned off (--json)", () => {
  const pipe = sink(false);
  const a = new Progress({ label: "x", total: 2, sink: pipe });
  a.update(1, 0);
  a.end();
  const tty = sink(true);
  const b = new Progress({ label: "x", total: 2, sink: tty, enabled: false });
  b.update(2, 0);
  b.end();
  assert.deepEqual([pipe.text, tty.text, a.shown, b.shown], ["", "", false, false]);
});
