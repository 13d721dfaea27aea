import { stateHashRecord } from "../core/state_hash_record.ts";
import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { GP_FAULT } from "./cpu.ts";
import {
  guestPvHas,
  KVM_SUPPORTED_PV_FEATURES,
  KvmFeature,
  maybePvMsr,
  PV_MSRS,
  pvMsr,
  pvMsrRefusal,
} from "./kvm_pv_features.ts";
import { MSR_KVM_PV_EOI_EN } from "./kvm_pv_eoi.ts";
import { X86Vm } from "./vm.ts";

function makeVm(vcpus = 1): X86Vm {
  return new X86Vm("guest", {
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    vcpus,
    irqchip: "kernel",
  }, { trace: new Trace(() => 0), queue: new EventQueue(), now: () => 0 });
}

Deno.test("guest_pv_has: everything without enforcement, only the CPUID's bits with it", () => {
  assert.equal(guestPvHas({ pvEnforce: false, kvmFeatures: 0 }, "STEAL_TIME"), true);
  assert.equal(guestPvHas({ pvEnforce: true, kvmFeatures: 0 }, "STEAL_TIME"), false);
  const steal = 1 << KvmFeature.STEAL_TIME;
  assert.equal(guestPvHas({ pvEnforce: true, kvmFeatures: steal }, "STEAL_TIME"), true);
  assert.equal(guestPvHas({ pvEnforce: true, kvmFeatures: steal }, "PV_EOI"), false);
});

Deno.test("PV MSRs: kvm_para.h's numbers, each with the bit kvm_get/set_msr_common check", () => {
  assert.equal(pvMsr(0x11)?.feature, "CLOCKSOURCE");
  assert.equal(pvMsr(0x4b564d01)?.feature, "CLOCKSOURCE2");
  assert.equal(pvMsr(0x4b564d07)?.feature, "ASYNC_PF_INT", "the ACK MSR needs ASYNC_PF_INT");
  assert.equal(pvMsr(MSR_KVM_PV_EOI_EN)?.feature, "PV_EOI");
  assert.equal(pvMsr(0x1b), undefined, "IA32_APIC_BASE is no PV MSR");
  assert.equal(PV_MSRS.length, 10);
  for (const m of PV_MSRS) assert.ok(maybePvMsr(m.msr), m.name);
  for (const other of [0x10, 0x13, 0x1b, 0x80b, 0x830, 0x4b564c07, 0x40000070]) {
    assert.equal(maybePvMsr(other), false, other.toString(16));
  }
  assert.match(pvMsrRefusal({ pvEnforce: true, kvmFeatures: 0 }, 0x12) ?? "", /CLOCKSOURCE/);
  assert.equal(pvMsrRefusal({ pvEnforce: true, kvmFeatures: 1 }, 0x12), null);
  // KVM_GET_SUPPORTED_CPUID offers each feature the PV MSRs need.
  for (const m of PV_MSRS) {
    assert.equal((KVM_SUPPORTED_PV_FEATURES >>> KvmFeature[m.feature]) & 1, 1, m.name);
  }
});

Deno.test("X86Cpu: under enforcement a PV MSR without its bit #GPs; allowed and unmodelled is an input error", () => {
  const vm = makeVm();
  const cpu = vm.cpus[0];
  assert.throws(() => cpu.rdmsr(0x11), CommandInputError, "the wall clock: KVM takes it");
  assert.equal(cpu.rdmsr(0x12), 0n, "the legacy kvmclock is modelled (kvmclock.ts)");
  vm.setPvEnforce(0, true);
  assert.equal(vm.setCpuid(0, { x2apic: true, tscDeadline: true, kvmFeatures: 0 }), 0);
  assert.equal(cpu.rdmsr(0x12), GP_FAULT);
  assert.equal(cpu.wrmsr(MSR_KVM_PV_EOI_EN, 0x3001n), GP_FAULT);
  assert.equal(cpu.pvEoi?.msrVal, 0n, "the refused write did nothing");
  assert.equal(cpu.gpFaults, 2);
  vm.setPvEnforce(0, false);
  assert.equal(cpu.wrmsr(MSR_KVM_PV_EOI_EN, 0x3001n), 0, "off again: the CPUID no longer matters");
  assert.equal(vm.cpuidBits(0).kvmFeatures, 0, "the CPUID stays as set");
});

Deno.test("KVM_SET_CPUID2 keeps the PV features unless given and leaves enforcement alone", () => {
  const vm = makeVm();
  assert.equal(vm.cpuidBits(0).kvmFeatures, KVM_SUPPORTED_PV_FEATURES);
  vm.setCpuid(0, { x2apic: true, tscDeadline: true, kvmFeatures: 1 << KvmFeature.PV_EOI });
  vm.setCpuid(0, { x2apic: false, tscDeadline: true });
  assert.equal(vm.cpuidBits(0).kvmFeatures, 1 << KvmFeature.PV_EOI);
  vm.setPvEnforce(0, true);
  vm.setCpuid(0, { x2apic: false, tscDeadline: true, kvmFeatures: 0 });
  assert.equal(vm.cpuidBits(0).pvEnforce, true, "KVM_SET_CPUID2 leaves enforcement alone");
});

Deno.test("scn explore: the PV CPUID state is hashed and restored with the VM", () => {
  const fed = (vm: X86Vm) => stateHashRecord((h) => vm.hashPrivate(h));
  const a = makeVm(), b = makeVm();
  assert.equal(fed(a), fed(b));
  b.setPvEnforce(0, true);
  assert.notEqual(fed(a), fed(b), "enforcement");
  a.setPvEnforce(0, true);
  assert.equal(fed(a), fed(b));
  b.setCpuid(0, { x2apic: true, tscDeadline: true, kvmFeatures: 0 });
  assert.notEqual(fed(a), fed(b), "the features");
  const vm = makeVm();
  const restore = vm.snapshot();
  assert.ok(restore !== null);
  vm.setPvEnforce(0, true);
  assert.equal(vm.cpuidBits(0).pvEnforce, true);
  restore();
  assert.equal(vm.cpuidBits(0).pvEnforce, false);
});

Deno.test("X86Cpu.pvKick: wakes a halted vCPU; else pv_unhalted (hashed, saved) spares its next HLT", () => {
  const vm = makeVm();
  const cpu = vm.cpus[0];
  cpu.hlt();
  assert.equal(cpu.halted, true);
  cpu.pvKick();
  assert.equal(cpu.halted, false, "woken from HLT, the flag not kept");
  cpu.hlt();
  assert.equal(cpu.halted, true, "so the next HLT halts");
  cpu.halted = false;
  const restore = vm.snapshot();
  assert.ok(restore !== null);
  const fed = () => stateHashRecord((h) => cpu.hashFields(h));
  const before = fed();
  cpu.pvKick();
  assert.notEqual(fed(), before, "pv_unhalted is in the fingerprint");
  restore();
  assert.equal(fed(), before, "and in the snapshot");
  cpu.pvKick();
  cpu.hlt();
  assert.equal(cpu.halted, false, "pv_unhalted: HLT does not halt");
  cpu.hlt();
  assert.equal(cpu.halted, true, "the flag was used up");
});
