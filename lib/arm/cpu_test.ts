import assert from "node:assert/strict";
import { ArmVm, ID_AA64PFR0_GIC_V3 } from "./vm.ts";
import { testEnv } from "./test_env.ts";
import { KvmIrqType } from "./gic.ts";
import { Esr, EsrEc, SYNC } from "./cpu.ts";

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
  vm.gic.dist.spis.setEnabled(40, true);
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
  vm.gic.dist.spis.setEnabled(32, true);
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
  vm.gic.dist.spis.setEnabled(40, true);
  cpu.wfi();
  assert.equal(cpu.halted, true);
  assert.equal(cpu.canTake(), false);
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cpu.canTake(), false);
  assert.equal(cpu.halted, false);
});

Deno.test("ArmCpu.undefined() raises a synchronous exception taken before an IRQ, whatever PSTATE says", () => {
  const { vm, cpu } = vm3();
  vm.gic.dist.spis.setEnabled(40, true);
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cpu.maskI, true);
  cpu.undefined("test");
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.equal(t.kind, SYNC);
  assert.equal(t.vector, -1);
  assert.equal(t.ack, (EsrEc.UNKNOWN << Esr.EC_SHIFT) | Esr.IL);
  assert.equal(cpu.esr, 0x200_0000);
  assert.equal(cpu.syncTaken, 1);
  assert.equal(vm.gic.dist.spis.state(40), "pending"); // nothing acknowledged
  cpu.returnFromInterrupt();
  assert.equal(cpu.maskI, true);
  cpu.unmask("irq");
  assert.equal(cpu.take().vector, 40);
});

Deno.test("ArmVm: without a vGIC the ICC registers UNDEF and ID_AA64PFR0_EL1.GIC follows KVM", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  assert.equal(vm.iccUndefined(), undefined);
  assert.equal(vm.idAa64pfr0Gic("guest"), ID_AA64PFR0_GIC_V3);
  vm.gic.device.created = false;
  assert.match(vm.iccUndefined()!, /no vGIC/);
  assert.equal(vm.idAa64pfr0Gic("vmm"), ID_AA64PFR0_GIC_V3); // the host's, before any run
  assert.equal(vm.idAa64pfr0Gic("guest"), 0);
  assert.equal(vm.gic.device.run(false), 0); // kvm_finalize_sys_regs clears it
  assert.equal(vm.idAa64pfr0Gic("vmm"), 0);
  const v2 = new ArmVm("arm", { vcpus: 1, gic: 2, its: false, v4: false, nrIrqs: 64 }, env);
  assert.match(v2.iccUndefined()!, /GICv2 vGIC/);
  assert.equal(v2.idAa64pfr0Gic("vmm"), 0);
});
