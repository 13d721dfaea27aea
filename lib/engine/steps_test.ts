import assert from "node:assert/strict";
import { checkText } from "../api/scenario.ts";
import { ScnError } from "../core/diagnostic.ts";
import { runProgram } from "./run.ts";
import { explore } from "./explore.ts";
import { parallelBlocks, parseSchedule, ReplayScheduler } from "./explore_schedule.ts";
import type { ScheduleEntry } from "./explore_schedule.ts";
import { blockSteps, inFlight } from "./steps.ts";

// A guest polling with IF=0 that takes the event when it sees the selector
// bit: fine whether Xen's send runs before or after it, broken only when it
// lands between Xen's selector write and its UP write.
const SPLIT = `scenario "t"
vm guest { arch x86_64  hypervisor xen  vcpus 1 }
vcpu0: evtchn bind_ipi -> $p
parallel {
  xen: send $p -> $r
  vcpu0: if bit test vcpu0.info.evtchn_pending_sel[0] {
    bit clear vcpu0.info.evtchn_upcall_pending
    xchg vcpu0.info.evtchn_pending_sel 0
  }
}
expect vcpu0.info.evtchn_upcall_pending == 0 or vcpu0.info.evtchn_pending_sel[0] == 1
`;

Deno.test("blockSteps() gives an interruptible command one step per step of its own", () => {
  const p = checkText(SPLIT, "t.scn");
  const s = blockSteps(parallelBlocks(p)[0]);
  assert.deepEqual(s.childOf, [0, 0, 0, 1]);
  assert.deepEqual(s.partOf, [0, 1, 2, 0]);
  assert.deepEqual(s.parts, [3, 1]);
  assert.deepEqual(s.firstStep, [0, 3]);
});

Deno.test("inFlight() is true only between the steps of one command", () => {
  const p = checkText(SPLIT, "t.scn");
  const s = blockSteps(parallelBlocks(p)[0]);
  assert.equal(inFlight(s, [false, false, false, false]), false);
  assert.equal(inFlight(s, [true, false, false, false]), true);
  assert.equal(inFlight(s, [true, true, false, true]), true);
  assert.equal(inFlight(s, [true, true, true, false]), false);
});

Deno.test("runProgram() runs an interruptible command whole outside explore, binding its result", () => {
  const p = checkText(SPLIT, "t.scn");
  const r = runProgram(p);
  assert.equal(r.status, "pass");
  // Stepping it in written order under a scheduler gives the same run.
  const replay = new ReplayScheduler([], p);
  const stepped = runProgram(p, { scheduler: replay });
  assert.equal(stepped.status, "pass");
  assert.deepEqual(replay.runs[0].order, [0, 1, 2, 3]);
  assert.ok(stepped.trace.some((e) => e.kind === "step" && e.text.startsWith("send: step 3 of 3")));
});

Deno.test("explore() puts another actor's step between the steps of Xen's send", () => {
  const p = checkText(SPLIT, "t.scn");
  const r = explore(p);
  assert.equal(r.status, "fail");
  // Send's P and selector writes, the guest, then send's UP write.
  assert.equal(r.counterexample!.token, "4:0,1,3,2");
  assert.match(
    (r.counterexample!.linear as { why: string }).why,
    /another step between the steps of 'send' \(line 5\)/,
  );
  assert.equal(r.counterexample!.result.failures.length, 1);
  // Four orders of four steps (send's three keep their order), not two of two children.
  const total = explore(checkText(SPLIT.replace(/^expect.*$/m, "expect $r == 1"), "t.scn"), {
    reduce: false,
    dedup: false,
  });
  assert.equal(total.status, "pass");
  assert.equal(total.orders, 4n);
});

Deno.test("a schedule that runs a command's steps out of their order is a located error", () => {
  const p = checkText(SPLIT, "t.scn");
  const replay = new ReplayScheduler(parseSchedule("4:1,0,2,3", "t.scn") as ScheduleEntry[], p);
  assert.throws(
    () => runProgram(p, { scheduler: replay }),
    (e) => e instanceof ScnError && /step 1 runs before an earlier step/.test(e.message),
  );
});

Deno.test("the result of an interruptible command is bound after its last step", () => {
  const p = checkText(SPLIT.replace("expect", "expect $r == 1\nexpect"), "t.scn");
  const r = explore(p, { dedup: false });
  // Every order binds 1 (delivered); only the split order breaks the UP check.
  assert.equal(r.counterexample!.result.failures.length, 1);
  assert.match(r.counterexample!.result.failures[0].text, /upcall_pending/);
});
