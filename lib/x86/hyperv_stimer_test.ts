import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { EventQueue } from "../core/event_queue.ts";
import { HV_MSR, HVMSG_TIMER_EXPIRED, HvSynic, type HvSynicHost } from "./hyperv_synic.ts";
import { HvStimer, type HvStimerHost, STIMER_CONFIG } from "./hyperv_stimer.ts";

/** A vCPU's SynIC and timer 0 on a queue, its interrupts counted by vector. */
function rig() {
  const mem = new GuestMemory(0x20000);
  const q = new EventQueue();
  let now = 0;
  const irqs: number[] = [];
  const ref: { timer?: HvStimer } = {};
  const host: HvSynicHost = {
    mem: () => mem,
    interrupt: (v) => (irqs.push(v), 1),
    ackedGsi: () => {},
    ackedSint: (sint) => ref.timer!.acked(sint),
    exit: () => {},
  };
  const synic = new HvSynic(host);
  synic.activate();
  const th: HvStimerHost = {
    refTime: () => BigInt(Math.floor(now / 100)),
    nowNs: () => now,
    schedule: (at, fire) => q.schedule(at, fire),
    deliverMessage: (sint, msg, noRetry) => synic.deliverMessage(sint, msg, noRetry),
    interrupt: (v) => (irqs.push(v), true),
    synicActive: () => synic.active,
  };
  const timer = ref.timer = new HvStimer(0, th);
  const runTo = (t: number) => {
    for (;;) {
      const e = q.peek();
      if (e === undefined || e.time > t) break;
      q.pop();
      now = e.time;
      if (!e.cancelled) e.fire();
    }
    now = t;
  };
  return { mem, synic, timer, irqs, runTo };
}

Deno.test("HvStimer: a message-mode one-shot fires at COUNT with its payload, then disables itself", () => {
  const { mem, synic, timer, irqs, runTo } = rig();
  assert.equal(synic.wrmsr(HV_MSR.SIMP, 0x10001n), null);
  assert.equal(synic.wrmsr(HV_MSR.SINT0 + 3, 0xf1n), null);
  timer.setCount(500n);
  timer.setConfig(BigInt(STIMER_CONFIG.Enable | (3 << STIMER_CONFIG.SintxShift)));
  runTo(49_999);
  assert.deepEqual(irqs, []);
  runTo(50_000);
  assert.deepEqual(irqs, [0xf1]);
  const slot = 0x10000 + 3 * 256;
  assert.equal(mem.read(slot, 32), HVMSG_TIMER_EXPIRED);
  assert.equal(mem.read(slot + 4, 8), 24);
  assert.equal(mem.readBig(slot + 24, 64), 500n);
  assert.equal(timer.config & 1n, 0n);
});

Deno.test("HvStimer: a busy slot makes a one-shot wait with msg_pending until the SINT is acked", () => {
  const { mem, synic, timer, irqs, runTo } = rig();
  synic.wrmsr(HV_MSR.SIMP, 0x10001n);
  synic.wrmsr(HV_MSR.SINT0 + 2, 0xf1n);
  mem.write(0x10000 + 2 * 256, 32, HVMSG_TIMER_EXPIRED);
  timer.setCount(100n);
  timer.setConfig(BigInt(STIMER_CONFIG.Enable | (2 << STIMER_CONFIG.SintxShift)));
  runTo(1_000_000);
  assert.deepEqual(irqs, []);
  assert.equal(timer.msgPending, true);
  assert.equal(mem.read(0x10000 + 2 * 256 + 5, 8), 1, "msg_pending set in the slot");
  synic.wrmsr(HV_MSR.EOM, 0n);
  assert.deepEqual(irqs, [], "EOM with the slot still busy: still waiting");
  mem.write(0x10000 + 2 * 256, 32, 0);
  synic.wrmsr(HV_MSR.EOM, 0n);
  assert.deepEqual(irqs, [0xf1]);
  assert.equal(timer.msgPending, false);
});

Deno.test("HvStimer: a periodic direct-mode timer fires every COUNT without a SIMP and stops when disabled", () => {
  const { synic, timer, irqs, runTo } = rig();
  timer.setCount(1000n); // 100 us
  timer.setConfig(
    BigInt(
      STIMER_CONFIG.Enable | STIMER_CONFIG.Periodic | STIMER_CONFIG.DirectMode |
        (0xf3 << STIMER_CONFIG.ApicVectorShift),
    ),
  );
  runTo(1_000_000);
  assert.equal(irqs.length, 10);
  assert.equal(timer.expTime, 11_000n);
  timer.setConfig(0n);
  runTo(2_000_000);
  assert.equal(irqs.length, 10);
  assert.equal(synic.msgPage, 0n);
});

Deno.test("HvStimer: without an active SynIC every guest write #GPs, zero too", () => {
  const { synic, timer } = rig();
  synic.active = false;
  assert.match(timer.setCount(5n)!, /not activated/);
  assert.match(timer.setConfig(0n)!, /not activated/);
});

Deno.test("HvStimer: CONFIG's fields read what was last written, by the guest or by assignment", () => {
  const { timer } = rig();
  assert.equal(
    timer.setConfig(BigInt(STIMER_CONFIG.Periodic | (5 << STIMER_CONFIG.SintxShift))),
    null,
  );
  assert.equal(timer.sint, 5);
  timer.config = (1n << 40n) | BigInt(7 << STIMER_CONFIG.SintxShift);
  assert.equal(timer.sint, 7, "a bit above 31 does not hide the low word");
  assert.equal(timer.config, (1n << 40n) | 0x70000n);
});
