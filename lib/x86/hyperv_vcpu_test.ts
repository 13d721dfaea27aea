import assert from "node:assert/strict";
import { findByVpIndex, HvVcpu, KVM_MAX_VCPUS } from "./hyperv_vcpu.ts";
import { HV_MSR, type HvSynic } from "./hyperv_synic.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { KvmPvEoi } from "./kvm_pv_eoi.ts";
import type { HvPartition } from "./hyperv_hypercall.ts";
import { KVM_SYSTEM_EVENT } from "./kvm_run.ts";
import { hvPartition } from "./test_vm.ts";

/** Bare vCPUs: findByVpIndex and setVpIndex read nothing else. */
function vcpus(n: number): HvVcpu[] {
  return Array.from(
    { length: n },
    (_, i) => new HvVcpu(i, {} as HvSynic, [], {} as HvPartition),
  );
}

Deno.test("HvVcpu.setVpIndex: the VMM sets any index below KVM_MAX_VCPUS", () => {
  const [v] = vcpus(1);
  assert.equal(v.setVpIndex(BigInt(KVM_MAX_VCPUS)), false);
  assert.equal(v.vpIndex, 0);
  assert.equal(v.setVpIndex(BigInt(KVM_MAX_VCPUS - 1)), true);
  assert.equal(v.vpIndex, KVM_MAX_VCPUS - 1);
});

Deno.test("findByVpIndex: the vCPU of that index if its VP index matches, else the first", () => {
  const vs = vcpus(3);
  assert.equal(findByVpIndex(vs, 1), vs[1]);
  vs[0].setVpIndex(65n);
  assert.equal(findByVpIndex(vs, 65), vs[0]);
  assert.equal(findByVpIndex(vs, 0), undefined, "nobody has VP index 0 now");
  vs[2].setVpIndex(1n);
  assert.equal(findByVpIndex(vs, 1), vs[1], "two have VP index 1: vCPU 1 is asked first");
  vs[1].setVpIndex(9n);
  assert.equal(findByVpIndex(vs, 1), vs[2]);
  assert.equal(findByVpIndex(vs, KVM_MAX_VCPUS), undefined);
});

Deno.test("HvVcpu: the VP assist page zeroes apic_assist and points PV EOI at it; disabling it turns PV EOI off", () => {
  const mem = new GuestMemory(0x10000);
  const pv = new KvmPvEoi({
    mem: () => mem,
    memorySize: () => mem.size,
    cachesHighestIsr: true,
    ioapicHandles: () => false,
  });
  const v = new HvVcpu(0, {} as HvSynic, [], {} as HvPartition, null, pv);
  mem.write(0x4000, 32, 0xffff_ffffn);
  mem.write(0x4004, 32, 0x77n);
  assert.equal(v.wrmsr(HV_MSR.VP_ASSIST_PAGE, 0x4ffdn), null, "bits 11:1 ignored for the page");
  assert.equal(mem.read(0x4000, 32), 0);
  assert.equal(mem.read(0x4004, 32), 0x77, "only apic_assist");
  assert.equal(v.rdmsr(HV_MSR.VP_ASSIST_PAGE), 0x4ffdn);
  assert.equal(pv.msrVal, 0x4001n);
  assert.equal(typeof v.wrmsr(HV_MSR.VP_ASSIST_PAGE, 0x10001n), "string", "past RAM: #GP");
  assert.equal(v.rdmsr(HV_MSR.VP_ASSIST_PAGE), 0x4ffdn);
  assert.equal(v.wrmsr(HV_MSR.VP_ASSIST_PAGE, 0x4000n), null);
  assert.equal(pv.msrVal, 0n);
});

Deno.test("HvVcpu: the frequency MSRs read the TSC's and the APIC bus's Hz; the guest cannot write them", () => {
  const v = new HvVcpu(0, {} as HvSynic, [], {} as HvPartition, null, null, 40);
  assert.equal(v.rdmsr(HV_MSR.TSC_FREQUENCY), 1_000_000_000n);
  assert.equal(v.rdmsr(HV_MSR.APIC_FREQUENCY), 25_000_000n);
  assert.equal(typeof v.wrmsr(HV_MSR.TSC_FREQUENCY, 1n), "string");
  assert.equal(typeof v.wrmsr(HV_MSR.APIC_FREQUENCY, 1n), "string");
  assert.equal(v.wrmsr(HV_MSR.APIC_FREQUENCY, 1n, true), null, "the VMM's write is ignored");
  assert.equal(v.rdmsr(HV_MSR.APIC_FREQUENCY), 25_000_000n);
  assert.ok(HvVcpu.owns(HV_MSR.TSC_FREQUENCY) && HvVcpu.owns(HV_MSR.TSC_EMULATION_STATUS));
});

Deno.test("HvVcpu: with enforce_cpuid a guest access needs its CPUID bit; the VMM's never does", () => {
  const v = new HvVcpu(0, {} as HvSynic, [], {} as HvPartition, null, null, 1);
  v.cpuidCache.features_eax = 0;
  assert.equal(v.rdmsr(HV_MSR.VP_INDEX), 0n, "not enforced: allowed");
  v.enforceCpuid = true;
  assert.match(String(v.rdmsr(HV_MSR.VP_INDEX)), /HV_MSR_VP_INDEX_AVAILABLE/);
  assert.equal(v.rdmsr(HV_MSR.VP_INDEX, true), 0n, "KVM_GET_MSRS is not checked");
  assert.match(String(v.wrmsr(HV_MSR.TSC_FREQUENCY, 0n)), /HV_ACCESS_FREQUENCY_MSRS/);
  v.cpuidCache.features_eax = 1 << 6;
  assert.equal(v.rdmsr(HV_MSR.VP_INDEX), 0n);
  assert.equal(v.rdmsr(0x1b), undefined, "not a Hyper-V MSR");
});

Deno.test("HvVcpu: RESET's 1 and the guest's CRASH_NOTIFY ask for a system event; VP_RUNTIME is read-only to the guest", () => {
  const mem = new GuestMemory(0x10000);
  const p = hvPartition(mem, { synicActive: () => false });
  const v = new HvVcpu(0, {} as HvSynic, [], p);
  const events: number[] = [];
  v.onSystemEvent = (type) => events.push(type);
  v.runtimeNs = () => 1_000;
  assert.equal(v.wrmsr(HV_MSR.RESET, 2n), null);
  assert.equal(v.wrmsr(HV_MSR.RESET, 1n), null);
  assert.equal(v.wrmsr(HV_MSR.CRASH_CTL, 1n << 63n, true), null, "the VMM's offer: no event");
  assert.equal(v.wrmsr(HV_MSR.CRASH_CTL, 1n << 63n), null);
  assert.deepEqual(events, [KVM_SYSTEM_EVENT.RESET, KVM_SYSTEM_EVENT.CRASH]);
  assert.equal(v.rdmsr(HV_MSR.VP_RUNTIME), 10n);
  assert.equal(typeof v.wrmsr(HV_MSR.VP_RUNTIME, 0n), "string");
  assert.equal(v.wrmsr(HV_MSR.VP_RUNTIME, 50n, true), null);
  assert.equal(v.rdmsr(HV_MSR.VP_RUNTIME), 50n);
});

Deno.test("HvVcpu: the SynDBG MSRs #GP for the guest without SynDBG's CPUID bit, not for the VMM", () => {
  const mem = new GuestMemory(0x10000);
  const p = hvPartition(mem, { synicActive: () => false });
  const v = new HvVcpu(0, {} as HvSynic, [], p);
  assert.equal(v.wrmsr(HV_MSR.SYNDBG_STATUS, 3n), null, "offered by default");
  v.cpuidCache.syndbg_eax = 0;
  assert.equal(typeof v.rdmsr(HV_MSR.SYNDBG_STATUS), "string");
  assert.equal(typeof v.wrmsr(HV_MSR.SYNDBG_STATUS, 0n), "string");
  assert.equal(v.rdmsr(HV_MSR.SYNDBG_STATUS, true), 3n);
  assert.equal(p.invtscControl, 0n);
  assert.equal(typeof v.wrmsr(HV_MSR.TSC_INVARIANT_CONTROL, 0xdeadbeefn), "string");
});
