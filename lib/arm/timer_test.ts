import assert from "node:assert/strict";
import { ArchTimer, newCounterOffsets, TimerCtl, TimerIrqAttr, TimerPpis } from "./timer.ts";
import { ArmVm } from "./vm.ts";
import { OWNER_NONE, OWNER_TIMER } from "./irq_state.ts";
import { testEnv } from "./test_env.ts";

Deno.test("ArchTimer raises its line at CVAL and drops it when masked or disabled", () => {
  const env = testEnv();
  const levels: boolean[] = [];
  const t = new ArchTimer("virt", 27, env, (l) => levels.push(l));
  t.writeCval(1_000);
  t.writeCtl(TimerCtl.ENABLE);
  env.advance(999);
  assert.deepEqual(levels, []);
  env.advance(1_000);
  assert.deepEqual(levels, [true]);
  assert.equal(t.ctl, TimerCtl.ENABLE | TimerCtl.ISTATUS);
  t.writeCtl(TimerCtl.ENABLE | TimerCtl.IMASK);
  assert.deepEqual(levels, [true, false]);
  assert.equal(t.istatus, true);
  t.writeCtl(0);
  assert.equal(t.ctl, 0);
  // KVM's read_timer_ctl: ISTATUS once expired, whatever ENABLE says.
  assert.equal(t.kvmCtl, TimerCtl.ISTATUS);
});

Deno.test("ArchTimer drops its line when CVAL moves into the future", () => {
  const env = testEnv();
  const levels: boolean[] = [];
  const t = new ArchTimer("phys", 30, env, (l) => levels.push(l));
  t.writeCtl(TimerCtl.ENABLE);
  assert.deepEqual(levels, [true]);
  t.writeTval(500);
  assert.deepEqual(levels, [true, false]);
  env.advance(500);
  assert.deepEqual(levels, [true, false, true]);
});

Deno.test("ArchTimer counts in 64 bits less the VM's offset, wrapping modulo 2^64", () => {
  const env = testEnv();
  const offsets = newCounterOffsets();
  const t = new ArchTimer("virt", 27, env, () => {}, offsets);
  offsets.virt = 10n;
  env.advance(4);
  assert.equal(t.counter, 2n ** 64n - 6n);
  offsets.virt = -(2n ** 53n);
  assert.equal(t.counter, 2n ** 53n + 4n);
});

Deno.test("ArchTimer fires at a CVAL past 2^53 at exactly the right tick", () => {
  const env = testEnv();
  const offsets = newCounterOffsets();
  offsets.virt = -(2n ** 53n);
  const levels: boolean[] = [];
  const t = new ArchTimer("virt", 27, env, (l) => levels.push(l), offsets);
  t.writeCval(2n ** 53n + 1001n);
  t.writeCtl(TimerCtl.ENABLE);
  env.advance(1000);
  assert.deepEqual(levels, []);
  assert.equal(t.tval, 1);
  env.advance(1001);
  assert.deepEqual(levels, [true]);
});

Deno.test("ArchTimer TVAL reads the low 32 bits of CVAL - counter, signed", () => {
  const env = testEnv();
  const t = new ArchTimer("phys", 30, env, () => {});
  env.advance(1000);
  t.writeTval(-200);
  assert.equal(t.cval, 800n);
  assert.equal(t.tval, -200);
  t.writeCval(2n ** 32n + 100n);
  assert.equal(t.tval, -900);
});

Deno.test("ArchTimer: a met condition ends when the counter wraps past 2^64 to below CVAL, and the PPI drops", () => {
  const env = testEnv();
  const levels: boolean[] = [];
  const offsets = newCounterOffsets();
  const t = new ArchTimer("virt", 27, env, (l) => levels.push(l), offsets);
  offsets.virt = 1n; // the counter reads 2^64 - 1 at time 0
  t.writeCval(0x7fff_ffff_ffff_ffffn);
  t.writeCtl(TimerCtl.ENABLE);
  assert.equal(t.istatus, true);
  assert.deepEqual(levels, [true]);
  env.advance(5);
  assert.equal(t.counter < t.cval, true);
  assert.equal(t.istatus, false);
  assert.deepEqual(levels, [true, false]);
});

Deno.test("TimerPpis.set follows kvm_arm_timer_set_attr's order of checks", () => {
  const t = new TimerPpis();
  assert.deepEqual(t.ppi, [27, 30, 28, 26]);
  assert.equal(t.set(TimerIrqAttr.VTIMER, 32), -22); // not a PPI
  assert.equal(t.set(7, 40), -22); // the INTID before the attribute
  assert.equal(t.set(7, 20), -6); // -ENXIO
  assert.equal(t.set(TimerIrqAttr.PTIMER, 27), 0); // a duplicate, taken at face value
  assert.equal(t.validate(2), false); // KVM_RUN: -EINVAL
  assert.equal(t.immutable, false);
  assert.equal(t.set(TimerIrqAttr.PTIMER, 30), 0);
  assert.equal(t.set(TimerIrqAttr.HVTIMER, 27), 0); // an EL2 timer: not checked without NV
  assert.equal(t.validate(2), true);
  assert.equal(t.set(TimerIrqAttr.VTIMER, 20), -16); // frozen: -EBUSY
});

Deno.test("ArmVm.setTimerIrq moves the timer's line and its ownership", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  const bank = vm.gic.rds[0].bank;
  assert.equal(vm.setTimerIrq(TimerIrqAttr.VTIMER, 20), 0);
  assert.equal(vm.timers[0].virt.ppi, 20);
  assert.equal(bank.owner[20], OWNER_TIMER);
  assert.equal(bank.owner[27], OWNER_NONE);
  vm.gic.device.created = false;
  assert.equal(vm.setTimerIrq(TimerIrqAttr.VTIMER, 21), -22); // no in-kernel irqchip
});
