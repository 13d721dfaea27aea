import assert from "node:assert/strict";
import { ArmVm } from "./vm.ts";
import { testEnv } from "./test_env.ts";
import { KvmIrqType } from "./gic.ts";

function vm3() {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  vm.gic.vgicInitialised(); // the VMM's CTRL_INIT: KVM_IRQ_LINE needs it
  vm.gic.dist.ctlr = 3;
  const cif = vm.gic.cifs[0];
  cif.pmr = 0xf0;
  cif.igrpen0 = 1;
  cif.igrpen1 = 1;
  return { vm, env, cpu: vm.cpus[0] };
}

Deno.test("ArmCpu.take() acknowledges: an IRQ takes IAR1's INTID and masks I and F until ERET", () => {
  const { vm, cpu } = vm3();
  vm.gic.dist.spis.enabled[40] = 1;
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cpu.canTake(), false);
  cpu.unmask("irq");
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.equal(t.kind, "irq");
  assert.equal(t.vector, 40);
  assert.equal(cpu.maskI, true);
  assert.equal(cpu.maskF, true);
  assert.equal(vm.gic.dist.spis.state(40), "active");
  cpu.returnFromInterrupt();
  assert.equal(cpu.maskI, false);
  assert.equal(cpu.maskF, true);
});

Deno.test("ArmCpu.take() delivers a Group 0 interrupt as an FIQ", () => {
  const { vm, cpu } = vm3();
  vm.gic.dist.spis.enabled[32] = 1;
  vm.gic.dist.spis.group[32] = 0;
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 32, 1);
  cpu.unmask("irq");
  assert.equal(cpu.canTake(), false);
  cpu.unmask("fiq");
  const t = cpu.take();
  assert.equal(t.kind, "fiq");
  assert.equal(t.vector, 32);
  assert.equal(cpu.inFiq, true);
});

Deno.test("ArmCpu.wfi() sleeps until an interrupt is pending below PMR, even with PSTATE.I set", () => {
  const { vm, cpu } = vm3();
  vm.gic.dist.spis.enabled[40] = 1;
  cpu.wfi();
  assert.equal(cpu.halted, true);
  assert.equal(cpu.canTake(), false);
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cpu.canTake(), false);
  assert.equal(cpu.halted, false);
});
