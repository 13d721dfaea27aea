import { deepEqual as assertEquals } from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { RUNSTATE, runstateLayout, Runstates, XEN_RUNSTATE_UPDATE } from "./runstate.ts";
import { XEN_ERRNO } from "./errno.ts";

Deno.test("runstateLayout(): 64-bit pads state to 8 (48 bytes), compat packs it (44 bytes)", () => {
  assertEquals(runstateLayout(64), { state: 0, entry: 8, time: 16, size: 48 });
  assertEquals(runstateLayout(32), { state: 0, entry: 4, time: 12, size: 44 });
});

Deno.test("Runstates.change() adds the time since entry to the old state and copies the struct", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(1, mem, () => 64);
  assertEquals(r.register(0, 0x1000, 100n), 0);
  r.change(0, RUNSTATE.blocked, 700n);
  r.change(0, RUNSTATE.running, 1000n);
  assertEquals(mem.read(0x1000, 32), RUNSTATE.running);
  assertEquals(mem.readBig(0x1008, 64), 1000n);
  assertEquals(mem.readBig(0x1010, 64), 700n); // running 0..700
  assertEquals(mem.readBig(0x1020, 64), 300n); // blocked 700..1000
});

Deno.test("Runstates.write() leaves XEN_RUNSTATE_UPDATE clear when the copy is done", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(1, mem, () => 32);
  r.updateFlag = true;
  r.register(0, 0x1000, 0n);
  r.change(0, RUNSTATE.runnable, 50n);
  assertEquals(mem.readBig(0x1004, 64) & XEN_RUNSTATE_UPDATE, 0n);
  assertEquals(mem.readBig(0x1004, 64), 50n);
});

Deno.test("Runstates.register() refuses an area outside guest RAM with -EFAULT", () => {
  const r = new Runstates(1, new GuestMemory(0x1000), () => 64);
  assertEquals(r.register(0, 0x1000 - 47, 0n), -XEN_ERRNO.EFAULT);
  assertEquals(r.register(0, 0x1000 - 48, 0n), 0);
});

Deno.test("Runstates.kvmSetData() applies KVM's -EINVAL rules for DATA and ADJUST", () => {
  const r = new Runstates(1, new GuestMemory(0x1000), () => 64);
  const t = (a: number, b: number, c: number, d: number) => [a, b, c, d].map(BigInt);
  assertEquals(r.kvmSetData(0, false, 4n, 0n, [0n, 0n, 0n, 0n], 10n), -XEN_ERRNO.EINVAL);
  assertEquals(r.kvmSetData(0, false, 0n, 5n, t(1, 1, 1, 1), 10n), -XEN_ERRNO.EINVAL);
  assertEquals(r.kvmSetData(0, false, 0n, 12n, t(3, 3, 3, 3), 10n), -XEN_ERRNO.EINVAL);
  assertEquals(r.kvmSetData(0, false, 1n, 8n, t(2, 2, 2, 2), 10n), 0);
  assertEquals(r.vcpus[0].state, RUNSTATE.runnable);
  assertEquals(r.kvmSetData(0, true, 0xffff_ffff_ffff_ffffn, 2n, t(2, 0, 0, 0), 10n), 0);
  assertEquals(r.vcpus[0].state, RUNSTATE.runnable);
  assertEquals(r.vcpus[0].entryTime, 10n);
  assertEquals(r.vcpus[0].time, t(4, 2, 2, 2));
  assertEquals(r.kvmSetData(0, true, 0n, 1n, t(1, 0, 0, 0), 10n), -XEN_ERRNO.EINVAL);
});

Deno.test("Runstates.kvmChange() moves the run delay since the last update from running to runnable", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(1, mem, () => 64);
  r.register(0, 0x1000, 0n);
  r.kvmChange(0, RUNSTATE.running, 0n); // the first KVM_RUN's entry
  r.runDelay[0] = 300n;
  r.kvmChange(0, RUNSTATE.running, 1000n);
  assertEquals(r.vcpus[0].time, [700n, 300n, 0n, 0n]);
  assertEquals(r.lastSteal[0], 300n);
  // Nothing new since: all running. A delay larger than the interval is clamped to it.
  r.kvmChange(0, RUNSTATE.blocked, 1500n);
  assertEquals(r.vcpus[0].time, [1200n, 300n, 0n, 0n]);
  r.runDelay[0] += 900n;
  r.kvmChange(0, RUNSTATE.running, 1600n);
  assertEquals(r.vcpus[0].time, [1200n, 300n, 100n, 0n]); // not running: no steal
  assertEquals(mem.readBig(0x1008, 64), 1600n);
  assertEquals(mem.readBig(0x1008, 64), r.vcpus[0].time.reduce((a, b) => a + b, 0n));
});

Deno.test("Runstates.kvmChange() clamps the steal to the interval while running", () => {
  const r = new Runstates(1, new GuestMemory(0x1000), () => 64);
  r.kvmChange(0, RUNSTATE.running, 0n); // the first KVM_RUN's entry
  r.runDelay[0] = 5000n;
  r.kvmChange(0, RUNSTATE.running, 1000n);
  assertEquals(r.vcpus[0].time, [0n, 1000n, 0n, 0n]);
  assertEquals(r.vcpus[0].entryTime, 1000n);
});

Deno.test("Runstates.writeSteps(): the flag's byte first, then state, then entry and times, then the byte cleared", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(1, mem, () => 64);
  r.register(0, 0x1000, 0n);
  r.updateFlag = true;
  r.vcpus[0].entryTime = 0x0100_0000_0000_0010n; // a top byte of its own
  r.write(0, 0n);
  r.vcpus[0].state = RUNSTATE.blocked;
  r.vcpus[0].entryTime = 0x0200_0000_0000_0020n;
  const steps = r.writeSteps(0);
  steps.next();
  // Only the top byte: the old entry time's low bytes, the new top byte, the flag.
  assertEquals(mem.readBig(0x1008, 64), 0x8200_0000_0000_0010n);
  assertEquals(mem.read(0x1000, 32), RUNSTATE.running);
  steps.next();
  assertEquals(mem.read(0x1000, 32), RUNSTATE.blocked);
  steps.next();
  assertEquals(mem.readBig(0x1008, 64), 0x0200_0000_0000_0020n | XEN_RUNSTATE_UPDATE);
  assertEquals(steps.next().done, true);
  assertEquals(mem.readBig(0x1008, 64), 0x0200_0000_0000_0020n);
});

Deno.test("Runstates.writeSteps() without the flag: state before entry time, never a flag", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(1, mem, () => 32);
  r.register(0, 0x1000, 0n);
  r.vcpus[0].state = RUNSTATE.offline;
  r.vcpus[0].entryTime = 77n;
  const steps = r.writeSteps(0);
  steps.next();
  assertEquals(mem.read(0x1000, 32), RUNSTATE.running);
  steps.next();
  assertEquals(mem.read(0x1000, 32), RUNSTATE.offline);
  assertEquals(mem.readBig(0x1004, 64), 0n); // torn: new state, old entry time
  steps.next();
  assertEquals(mem.readBig(0x1004, 64), 77n);
  steps.next();
  assertEquals(mem.readBig(0x1004, 64), 77n);
});

Deno.test("Runstates.copyInfo(): VCPUOP_get_runstate_info adds the current state's time so far, in the caller's layout", () => {
  const mem = new GuestMemory(0x2000);
  const r = new Runstates(2, mem, () => 64);
  r.change(1, RUNSTATE.blocked, 300n);
  assertEquals(r.copyInfo(1, 0x1000, 64, 1000n), 0);
  assertEquals(mem.read(0x1000, 32), RUNSTATE.blocked);
  assertEquals(mem.readBig(0x1008, 64), 300n); // entry time as it is
  assertEquals(mem.readBig(0x1010, 64), 300n); // running 0..300
  assertEquals(mem.readBig(0x1020, 64), 700n); // blocked so far
  assertEquals(r.vcpus[1].time[RUNSTATE.blocked], 0n); // the hypervisor's copy is unchanged
  assertEquals(r.copyInfo(1, 0x1100, 32, 1000n), 0); // compat: packed, entry at +4
  assertEquals(mem.readBig(0x1104, 64), 300n);
  assertEquals(mem.readBig(0x111c, 64), 700n); // time[blocked] at +12 + 16
  assertEquals(r.copyInfo(0, 0x2000 - 47, 64, 0n), -XEN_ERRNO.EFAULT);
});

Deno.test("Runstates.outside(): off the CPU strictly before outsideUntil", () => {
  const r = new Runstates(1, new GuestMemory(0x1000), () => 64);
  assertEquals(r.outside(0, 0), false);
  r.outsideUntil[0] = 500;
  assertEquals([r.outside(0, 499), r.outside(0, 500)], [true, false]);
});

Deno.test("Runstates: KVM takes an entry time of 0 for never run: the time to the first update is offline, and again after RUNSTATE_DATA sets 0", () => {
  const r = new Runstates(1, new GuestMemory(0x1000), () => 64);
  r.kvmChange(0, RUNSTATE.running, 700n); // the first update: offline until now
  assertEquals(r.vcpus[0].time, [0n, 0n, 0n, 700n]);
  r.kvmChange(0, RUNSTATE.runnable, 1000n);
  assertEquals(r.vcpus[0].time, [300n, 0n, 0n, 700n]);
  assertEquals(r.kvmSetData(0, false, BigInt(RUNSTATE.running), 0n, [0n, 0n, 0n, 0n], 1000n), 0);
  r.kvmChange(0, RUNSTATE.running, 1500n); // "running" since 0: all offline
  assertEquals(r.vcpus[0].time, [0n, 0n, 0n, 1500n]);
  assertEquals(r.kvmSetData(0, true, 0xffff_ffff_ffff_ffffn, 0n, [0n, 0n, 0n, 0n], 1500n), 0);
  r.kvmChange(0, RUNSTATE.running, 1600n); // an ADJUST keeps the entry time: normal accounting
  assertEquals(r.vcpus[0].time, [100n, 0n, 0n, 1500n]);
});
