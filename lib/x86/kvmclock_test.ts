import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import {
  KvmClock,
  MSR_KVM_SYSTEM_TIME,
  MSR_KVM_SYSTEM_TIME_NEW,
  PVCLOCK_VCPU_TIME_INFO_SIZE,
} from "./kvmclock.ts";

/** A kvmclock over 64 KiB of RAM whose VM's kvmclock and TSC the test sets. */
function rig() {
  const mem = new GuestMemory(0x10000);
  const t = { ns: 0, tsc: 0n, stable: true, updates: 0 };
  const clock: KvmClock = new KvmClock({
    mem: () => mem,
    memorySize: () => 0x10000,
    kvmclockNs: () => t.ns,
    tsc: () => t.tsc,
    scale: () => ({ shift: 1, mul: 0x80000000 }),
    stable: () => t.stable,
    emit: () => {},
    updateAll: () => {
      t.updates++;
      clock.update();
    },
  });
  return { mem, t, clock };
}

Deno.test("MSR_KVM_SYSTEM_TIME_NEW is 0x4b564d01 and the record 32 bytes", () => {
  assert.equal(MSR_KVM_SYSTEM_TIME_NEW, 0x4b564d01);
  assert.equal(PVCLOCK_VCPU_TIME_INFO_SIZE, 32);
});

Deno.test("enabling the kvmclock writes the pvclock record: version even, the time and TSC, 1 GHz scale", () => {
  const { mem, t, clock } = rig();
  t.ns = 5_000;
  t.tsc = 7_000n;
  clock.write(0x1000n | 1n);
  assert.equal(t.updates, 1, "a write asks every vCPU for an update");
  assert.equal(mem.read(0x1000, 32), 2);
  assert.equal(mem.read(0x1008, 64), 7_000n);
  assert.equal(mem.read(0x1010, 64), 5_000n);
  assert.equal(mem.read(0x1018, 32), 0x80000000);
  assert.equal(mem.read(0x101c, 8), 1);
  assert.equal(mem.read(0x101d, 8), 1, "PVCLOCK_TSC_STABLE_BIT with the master clock");
  // The guest's formula gives the kvmclock at any later TSC.
  const tsc = 9_500n;
  const ns = 5_000n + (((tsc - 7_000n) << 1n) * 0x80000000n >> 32n);
  assert.equal(ns, 7_500n);
});

Deno.test("each update bumps the version by 2; off (bit 0 clear) or outside RAM nothing is written", () => {
  const { mem, t, clock } = rig();
  clock.write(0x2000n | 1n);
  assert.equal(clock.update(), true);
  assert.equal(mem.read(0x2000, 32), 4);
  t.stable = false;
  clock.update();
  assert.equal(mem.read(0x201d, 8), 0, "no master clock: flags 0");
  clock.write(0x2000n);
  assert.equal(clock.enabled, false);
  assert.equal(clock.update(), false);
  assert.equal(mem.read(0x2000, 32), 6, "kept as it was");
  clock.write(0xfff0n | 1n);
  assert.equal(clock.update(), false, "crosses the end of RAM: not written");
  assert.equal(clock.msrVal, 0xfff1n, "KVM still takes the value");
});

Deno.test("a guest write tells the VM which MSR it was; a VMM write tells nothing", () => {
  const mem = new GuestMemory(0x10000);
  const told: boolean[] = [];
  const clock = new KvmClock({
    mem: () => mem,
    memorySize: () => 0x10000,
    kvmclockNs: () => 0,
    tsc: () => 0n,
    scale: () => ({ shift: 1, mul: 0x80000000 }),
    stable: () => true,
    emit: () => {},
    updateAll: () => void clock.update(),
    guestWrote: (legacy) => told.push(legacy),
  });
  clock.write(0x1001n, true, true);
  clock.write(0x1001n, false, true);
  clock.write(0x1001n, true, false);
  assert.deepEqual(told, [true, false]);
  assert.equal(MSR_KVM_SYSTEM_TIME, 0x12);
  assert.equal(mem.read(0x1000, 32), 6); // three updates
});
