import assert from "node:assert/strict";
import { ArmVm } from "./vm.ts";
import { testEnv } from "./test_env.ts";
import { KvmIrqType } from "./gic.ts";
import { TimerCtl } from "./timer.ts";

Deno.test("ArmVm wires the virtual timer to PPI 27, which KVM_IRQ_LINE cannot drive", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 0, 27, 1), 0);
  assert.equal(vm.gic.rds[0].bank.isPending(27), false);
  vm.timers[0].virt.writeCval(100);
  vm.timers[0].virt.writeCtl(TimerCtl.ENABLE);
  env.advance(100);
  assert.equal(vm.gic.rds[0].bank.line[27], 1);
  assert.deepEqual(vm.gic.pendingOf(0), [27]);
});

Deno.test("ArmVm refuses KVM_IRQ_LINE type CPU and checks SPI and PPI ranges", () => {
  const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64 }, testEnv());
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.CPU, 0, 0, 1), -6);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 20, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 0, 40, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 2, 20, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 1, 20, 1), 0);
  assert.deepEqual(vm.gic.pendingOf(1), [20]);
});
