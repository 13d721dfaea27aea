import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import {
  KVM_MIN_PERIODIC_NS,
  LapicTimer,
  type LapicTimerHost,
  type LapicTimerOptions,
  TimerMode,
} from "./lapic_timer.ts";

/**
 * A timer on a virtual clock, with the expiry times it reported; `hooks` are
 * the host's optional answers (the LVT's mask, its vector).
 */
function rig(
  options: LapicTimerOptions = {},
  hooks: Pick<LapicTimerHost, "masked" | "timerVector"> = {},
) {
  const queue = new EventQueue();
  let now = 0;
  const fired: number[] = [];
  const trace = new Trace(() => now);
  const timer = new LapicTimer({
    clock: { now: () => now, schedule: (at, fire) => queue.schedule(at, fire) },
    trace,
    name: "lapic0",
    expire: () => fired.push(now),
    ...hooks,
  }, options);
  /** Advances virtual time to `to`, firing what falls due on the way. */
  const advance = (to: number) => {
    for (;;) {
      const next = queue.peek();
      if (!next || next.time > to) break;
      queue.pop();
      now = next.time;
      next.fire();
    }
    now = to;
  };
  return { timer, fired, advance, trace, now: () => now };
}

Deno.test("LapicTimer one-shot: TMICT arms, TMCCT counts down to 0 and stays, one expiry", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb); // divide by 1
  assert.equal(timer.writeInitialCount(1000), true);
  assert.equal(timer.currentCount(), 1000, "the full count at the instant of arming");
  advance(400);
  assert.equal(timer.currentCount(), 600);
  advance(1000);
  assert.deepEqual(fired, [1000]);
  assert.equal(timer.currentCount(), 0);
  advance(5000);
  assert.deepEqual(fired, [1000], "a one-shot does not reload");
  assert.equal(timer.currentCount(), 0);
  assert.equal(timer.initialCount, 1000, "TMICT keeps its value");
});

Deno.test("LapicTimer TDCR: bits 3,1,0 select the divisor; bit 2 is dropped (KVM: value & 0xB)", () => {
  const { timer, fired, advance } = rig();
  assert.equal(timer.divisor, 2, "TDCR 0 after reset divides by 2");
  timer.writeDivide(0xf);
  assert.equal(timer.divide, 0xb);
  assert.equal(timer.divisor, 1);
  timer.writeDivide(0x3);
  assert.equal(timer.divisor, 16);
  timer.writeInitialCount(10); // 10 × 16 × 1 ns
  assert.equal(timer.periodNs, 160);
  advance(159);
  assert.deepEqual(fired, []);
  assert.equal(timer.currentCount(), 0, "1 ns left is less than one divided tick");
  advance(160);
  assert.deepEqual(fired, [160]);
});

Deno.test("LapicTimer bus cycle length scales the period (KVM_CAP_X86_APIC_BUS_CYCLES_NS)", () => {
  const { timer, fired, advance } = rig({ busCycleNs: 10 });
  timer.writeDivide(0xb);
  timer.writeInitialCount(5);
  advance(49);
  assert.deepEqual(fired, []);
  advance(50);
  assert.deepEqual(fired, [50]);
});

Deno.test("LapicTimer TMICT = 0 stops the timer; a new TMICT restarts the count", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  timer.writeInitialCount(1000);
  advance(500);
  timer.writeInitialCount(0);
  assert.equal(timer.armed, false);
  assert.equal(timer.currentCount(), 0);
  advance(3000);
  assert.deepEqual(fired, []);
  timer.writeInitialCount(1000);
  advance(3500);
  assert.equal(timer.currentCount(), 500);
  timer.writeInitialCount(1000); // re-arms from now
  advance(4400);
  assert.deepEqual(fired, []);
  advance(4500);
  assert.deepEqual(fired, [4500]);
});

Deno.test("LapicTimer periodic reloads from TMICT and clamps short periods to 200 µs (KVM)", () => {
  const { timer, fired, advance } = rig();
  timer.setMode(TimerMode.Periodic);
  timer.writeDivide(0xb);
  timer.writeInitialCount(300_000);
  advance(300_000);
  assert.equal(timer.currentCount(), 300_000, "reloaded at the wrap");
  advance(900_000);
  assert.deepEqual(fired, [300_000, 600_000, 900_000]);
  timer.writeInitialCount(1000); // 1 µs asked, 200 µs given
  assert.equal(timer.periodNs, KVM_MIN_PERIODIC_NS);
  advance(1_300_000);
  assert.deepEqual(fired.slice(3), [1_100_000, 1_300_000]);
});

Deno.test("LapicTimer one-shot -> periodic mid-count keeps the count, reloads at the wrap (X86-53)", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  const tmict = 0x999999;
  timer.writeInitialCount(tmict);
  advance(Math.floor(tmict * 0.6));
  const before = timer.currentCount();
  assert.ok(before < tmict / 2);
  timer.setMode(TimerMode.Periodic);
  assert.equal(timer.initialCount, tmict, "TMICT unchanged");
  assert.equal(timer.currentCount(), before, "the running count is not reloaded");
  advance(tmict);
  assert.deepEqual(fired, [tmict]);
  advance(tmict + 10);
  assert.equal(timer.currentCount(), tmict - 10, "periodic now: reloaded from TMICT");
  advance(2 * tmict);
  assert.deepEqual(fired, [tmict, 2 * tmict]);
});

Deno.test("LapicTimer periodic -> one-shot runs out the current period and stops", () => {
  const { timer, fired, advance } = rig();
  timer.setMode(TimerMode.Periodic);
  timer.writeDivide(0xb);
  timer.writeInitialCount(300_000);
  advance(100_000);
  timer.setMode(TimerMode.OneShot);
  advance(1_000_000);
  assert.deepEqual(fired, [300_000]);
  assert.equal(timer.currentCount(), 0);
});

Deno.test("LapicTimer: an expired one-shot switched to periodic stays at 0 and stays quiet (X86-53)", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  timer.writeInitialCount(1000);
  advance(1000);
  assert.deepEqual(fired, [1000]);
  timer.setMode(TimerMode.Periodic);
  assert.equal(timer.currentCount(), 0);
  advance(10_000_000);
  assert.deepEqual(fired, [1000]);
});

Deno.test("LapicTimer TDCR change mid-count rescales the time left (KVM update_target_expiration)", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb); // /1
  timer.writeInitialCount(1000);
  advance(600); // 400 ns left at /1
  timer.writeDivide(0x0); // /2: 800 ns left
  assert.equal(timer.currentCount(), 400, "same count, slower ticks");
  advance(1399);
  assert.deepEqual(fired, []);
  advance(1400);
  assert.deepEqual(fired, [1400]);
});

Deno.test("LapicTimer KVM quirk: a TDCR change after a one-shot expired fires it once more", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  timer.writeInitialCount(1000);
  advance(2000);
  assert.deepEqual(fired, [1000]);
  timer.writeDivide(0x0); // target 0 is in the past: restart finds it expired
  assert.deepEqual(fired, [1000, 2000]);
  timer.writeDivide(0x0); // same divisor: nothing
  assert.deepEqual(fired, [1000, 2000]);
});

Deno.test("LapicTimer TSC-deadline: arm, fire at the deadline, read 0 afterwards", () => {
  const { timer, fired, advance } = rig();
  timer.setMode(TimerMode.TscDeadline);
  assert.equal(timer.writeTscDeadline(5000n), true);
  assert.equal(timer.readTscDeadline(), 5000n);
  assert.equal(timer.currentCount(), 0, "TMCCT reads 0 in TSC-deadline mode");
  advance(4999);
  assert.deepEqual(fired, []);
  advance(5000);
  assert.deepEqual(fired, [5000]);
  assert.equal(timer.readTscDeadline(), 0n);
});

Deno.test("LapicTimer TSC-deadline: 0 disarms, a past deadline fires at once, TMICT is ignored", () => {
  const { timer, fired, advance } = rig();
  timer.setMode(TimerMode.TscDeadline);
  timer.writeTscDeadline(5000n);
  timer.writeTscDeadline(0n);
  assert.equal(timer.armed, false);
  advance(6000);
  assert.deepEqual(fired, []);
  timer.writeTscDeadline(100n);
  assert.deepEqual(fired, [6000], "already passed: expires at the write");
  assert.equal(timer.readTscDeadline(), 0n);
  assert.equal(timer.writeInitialCount(1234), false);
  assert.equal(timer.initialCount, 0);
  timer.writeTscDeadline(6000n); // equal to the TSC counts as passed
  assert.deepEqual(fired, [6000, 6000]);
});

Deno.test("LapicTimer: switching into or out of TSC-deadline mode disarms and zeroes TMICT", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  timer.writeInitialCount(1000);
  timer.setMode(TimerMode.TscDeadline);
  assert.equal(timer.initialCount, 0);
  assert.equal(timer.armed, false);
  timer.writeTscDeadline(500n);
  timer.setMode(TimerMode.OneShot);
  assert.equal(timer.readTscDeadline(), 0n, "the MSR reads 0 outside deadline mode");
  advance(5000);
  assert.deepEqual(fired, []);
  assert.equal(timer.writeTscDeadline(7000n), false, "ignored outside deadline mode");
  timer.setMode(TimerMode.TscDeadline);
  assert.equal(timer.readTscDeadline(), 0n);
});

Deno.test("LapicTimer reserved mode 3 runs nothing (KVM)", () => {
  const { timer, fired, advance } = rig();
  timer.setMode(TimerMode.Reserved);
  timer.writeDivide(0xb);
  assert.equal(timer.writeInitialCount(100), true);
  assert.equal(timer.initialCount, 100);
  advance(1000);
  assert.deepEqual(fired, []);
  assert.equal(timer.currentCount(), 0);
});

Deno.test("LapicTimer.reset() stops the timer and clears TMICT and TDCR", () => {
  const { timer, fired, advance } = rig();
  timer.writeDivide(0xb);
  timer.writeInitialCount(1000);
  timer.reset();
  assert.equal(timer.initialCount, 0);
  assert.equal(timer.divide, 0);
  assert.equal(timer.divisor, 2);
  advance(10_000);
  assert.deepEqual(fired, []);
});

Deno.test("LapicTimer without a clock never fires and reads a still count", () => {
  let fired = 0;
  const t = new LapicTimer({
    clock: { now: () => 0, schedule: () => ({ cancelled: false }) },
    trace: new Trace(() => 0),
    name: "lapic0",
    expire: () => fired++,
  });
  t.writeInitialCount(10);
  assert.equal(t.currentCount(), 10);
  assert.equal(fired, 0);
});

Deno.test("LapicTimer traces arm and expiry-relevant events", () => {
  const { timer, trace } = rig();
  timer.writeInitialCount(10);
  timer.setMode(TimerMode.TscDeadline);
  assert.deepEqual(trace.events.map((e) => e.kind), [
    "timer.arm",
    "timer.stop",
    "timer.mode",
  ]);
});

/** A Xen vpt on a virtual clock: `masked` stands for the LVT's mask, `take` for the vCPU's injection. */
function xenRig(align: boolean) {
  let masked = false;
  const { timer, fired, advance } = rig({ xenVpt: { align } }, {
    masked: () => masked,
    timerVector: () => 0x40,
  });
  return { timer, raised: fired, advance, mask: (m: boolean) => (masked = m) };
}

Deno.test("LapicTimer as Xen's vpt: 10 ns bus cycles, a 100 µs period floor, the first tick aligned or half a delay late", () => {
  const a = xenRig(true);
  a.timer.setMode(TimerMode.Periodic);
  a.timer.writeDivide(0xb);
  a.advance(30_000);
  a.timer.writeInitialCount(1000); // 10 µs asked for
  assert.equal(a.timer.periodNs, 100_000);
  a.advance(100_000);
  assert.deepEqual(a.raised, [100_000], "align_timer(40 µs, 100 µs)");
  const b = xenRig(false);
  b.timer.setMode(TimerMode.Periodic);
  b.timer.writeDivide(0xb);
  b.timer.writeInitialCount(20_000); // 200 µs
  b.advance(400_000);
  assert.deepEqual(
    b.raised,
    [300_000],
    "delta + delta/2, and no re-arm until the tick is delivered",
  );
  b.timer.xenInjected(0x40);
  assert.equal(b.timer.xenPendingTicks, 0);
  b.advance(500_000);
  assert.deepEqual(b.raised, [300_000, 500_000]);
});

Deno.test("LapicTimer as Xen's vpt: missed ticks are counted at delivery and delivered one per injection", () => {
  const { timer, raised, advance } = xenRig(true);
  timer.setMode(TimerMode.Periodic);
  timer.writeDivide(0xb);
  timer.writeInitialCount(20_000);
  advance(750_000);
  assert.deepEqual(raised, [200_000]);
  timer.xenInjected(0x41); // another vector: not the tick
  assert.equal(timer.xenPendingTicks, 1);
  timer.xenInjected(0x40);
  assert.equal(timer.xenPendingTicks, 2, "400 and 600 µs");
  assert.deepEqual(raised, [200_000, 750_000], "raised again at once");
  timer.xenInjected(0x40);
  timer.xenInjected(0x40);
  assert.equal(timer.xenPendingTicks, 0);
  advance(800_000);
  assert.deepEqual(
    raised,
    [200_000, 750_000, 750_000, 800_000],
    "one raise per tick still pending",
  );
});

Deno.test("LapicTimer as Xen's vpt: a tick due while masked suspends the timer; TMCCT counts from the last delivery", () => {
  const { timer, raised, advance, mask } = xenRig(true);
  timer.setMode(TimerMode.Periodic);
  timer.writeDivide(0xb);
  timer.writeInitialCount(20_000);
  mask(true);
  advance(1_000_000);
  assert.deepEqual(raised, [], "suspended at the first tick");
  assert.equal(timer.currentCount(), 20_000, "1 ms since the write: a whole number of periods");
  mask(false);
  timer.setMode(TimerMode.Periodic); // an LVTT write recreates it with the time left
  advance(1_200_000);
  assert.deepEqual(raised, [1_200_000]);
  advance(1_250_000);
  timer.xenInjected(0x40);
  advance(1_260_000);
  assert.equal(timer.currentCount(), 19_000);
});
