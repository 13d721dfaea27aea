import assert from "node:assert/strict";
import {
  type HV_CPUID_BITS,
  type HvCpuidCache,
  hvHypercallAllowed,
  hvMsrRefusal,
  HYPERV_CPUID_CONSTANTS,
  KVM_SUPPORTED_HV_CPUID,
  syndbgEnabled,
} from "./hyperv_cpuid.ts";
import { HV_MSR } from "./hyperv_synic.ts";
import { HVCALL } from "./hyperv_hypercall.ts";

const NONE: HvCpuidCache = {
  features_eax: 0,
  features_ebx: 0,
  features_edx: 0,
  enlightenments_eax: 0,
  enlightenments_ebx: 0,
  syndbg_eax: 0,
};
const mask = (name: keyof typeof HV_CPUID_BITS) => HYPERV_CPUID_CONSTANTS[name];

Deno.test("hvMsrRefusal: each Hyper-V MSR needs its HYPERV_CPUID_FEATURES bit", () => {
  assert.equal(hvMsrRefusal(NONE, HV_MSR.GUEST_OS_ID), "HV_MSR_HYPERCALL_AVAILABLE");
  const hc = { ...NONE, features_eax: mask("HV_MSR_HYPERCALL_AVAILABLE") };
  assert.equal(hvMsrRefusal(hc, HV_MSR.GUEST_OS_ID), null);
  assert.equal(hvMsrRefusal(hc, HV_MSR.HYPERCALL), null);
  assert.equal(hvMsrRefusal(hc, HV_MSR.TIME_REF_COUNT), "HV_MSR_TIME_REF_COUNT_AVAILABLE");
  assert.equal(hvMsrRefusal(NONE, HV_MSR.SINT0 + 15), "HV_MSR_SYNIC_AVAILABLE");
  assert.equal(hvMsrRefusal(NONE, HV_MSR.STIMER0_COUNT + 6), "HV_MSR_SYNTIMER_AVAILABLE");
  assert.equal(hvMsrRefusal(NONE, HV_MSR.VP_ASSIST_PAGE), "HV_MSR_APIC_ACCESS_AVAILABLE");
  assert.equal(hvMsrRefusal(NONE, HV_MSR.APIC_FREQUENCY), "HV_ACCESS_FREQUENCY_MSRS");
  assert.equal(hvMsrRefusal(NONE, HV_MSR.TSC_EMULATION_STATUS), "HV_ACCESS_REENLIGHTENMENT");
  for (const m of Object.values(HV_MSR)) {
    assert.equal(hvMsrRefusal(KVM_SUPPORTED_HV_CPUID, m), null, `0x${m.toString(16)} offered`);
  }
});

Deno.test("hvHypercallAllowed: KVM's privileges, EX calls needing both bits, unknown codes allowed", () => {
  assert.equal(hvHypercallAllowed(NONE, 0xbeef), true);
  assert.equal(hvHypercallAllowed(NONE, HVCALL.POST_MESSAGE), false);
  assert.equal(
    hvHypercallAllowed({ ...NONE, features_ebx: mask("HV_POST_MESSAGES") }, HVCALL.POST_MESSAGE),
    true,
  );
  const ipi = { ...NONE, enlightenments_eax: mask("HV_X64_CLUSTER_IPI_RECOMMENDED") };
  assert.equal(hvHypercallAllowed(ipi, HVCALL.SEND_IPI), true);
  assert.equal(hvHypercallAllowed(ipi, HVCALL.SEND_IPI_EX), false, "EX needs EX_PROCESSOR_MASKS");
  // The spinlock count: 0 and 0xffffffff (never notify) both refuse.
  assert.equal(hvHypercallAllowed(NONE, HVCALL.NOTIFY_LONG_SPIN_WAIT), false);
  assert.equal(
    hvHypercallAllowed({ ...NONE, enlightenments_ebx: 0xffff_ffff }, HVCALL.NOTIFY_LONG_SPIN_WAIT),
    false,
  );
  assert.equal(
    hvHypercallAllowed({ ...NONE, enlightenments_ebx: 1 }, HVCALL.NOTIFY_LONG_SPIN_WAIT),
    true,
  );
  // Debug calls: allowed while SynDBG is off, so they answer INVALID_HYPERCALL_CODE.
  assert.equal(hvHypercallAllowed(NONE, HVCALL.RESET_DEBUG_SESSION), true);
  const dbg = { ...NONE, syndbg_eax: mask("HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING") };
  assert.equal(syndbgEnabled(dbg), true);
  assert.equal(hvHypercallAllowed(dbg, HVCALL.RESET_DEBUG_SESSION), false);
  assert.equal(hvHypercallAllowed(NONE, HVCALL.EXT_CALL_QUERY_CAPABILITIES + 64), false);
  assert.equal(hvHypercallAllowed(NONE, HVCALL.EXT_CALL_QUERY_CAPABILITIES + 65), true);
});
