/**
 * KVM_CAP_HYPERV_ENFORCE_CPUID: with it, KVM lets a guest use only the
 * Hyper-V MSRs and hypercalls its Hyper-V CPUID leaves announce. KVM keeps
 * a per-vCPU copy of those leaves (`kvm_vcpu_hv.cpuid_cache`, filled at
 * KVM_SET_CPUID2): HYPERV_CPUID_FEATURES (0x40000003) EAX (the partition's
 * MSR privileges), EBX (its hypercall privileges) and EDX (features),
 * HYPERV_CPUID_ENLIGHTMENT_INFO (0x40000004) EAX (recommendations) and EBX
 * (the spinlock retry count), and HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES
 * (0x40000082) EAX. Enforced, a guest RDMSR or WRMSR of a Hyper-V MSR
 * whose bit is clear #GPs (the VMM's KVM_GET/SET_MSRS are never checked),
 * and a hypercall whose privilege is missing returns
 * HV_STATUS_ACCESS_DENIED before anything else is looked at; an XMM fast
 * hypercall without HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE raises #UD, and a
 * synthetic timer's direct mode needs HV_STIMER_DIRECT_MODE_AVAILABLE.
 * Until the VMM sets the leaves they hold what KVM_GET_SUPPORTED_HV_CPUID
 * offers ({@link KVM_SUPPORTED_HV_CPUID}: what the selftests'
 * `vcpu_set_hv_cpuid` and the `hyperv_cpuid 1` setting give); without
 * enforcement they are not looked at.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`hv_check_msr_access`,
 * `hv_check_hypercall_access`, `kvm_hv_hypercall`: the access check, then
 * the reserved bits, then the XMM #UD; `stimer_set_config`'s direct-mode
 * check, `kvm_hv_set_enforce_cpuid`, `kvm_hv_set_cpuid`,
 * `kvm_hv_is_syndbg_enabled`, `kvm_get_hv_cpuid`), x86.c
 * (`kvm_vcpu_ioctl_enable_cap`: KVM_CAP_HYPERV_ENFORCE_CPUID),
 * include/hyperv/hvgdk.h and hvgdk_mini.h (the bits, HVCALL_* codes),
 * include/uapi/linux/kvm.h (KVM_CAP_HYPERV_ENFORCE_CPUID 199).
 *
 * @module
 */
import { HV_MSR, HVCALL } from "./hyperv_abi.ts";

/** KVM_CAP_HYPERV_ENFORCE_CPUID (include/uapi/linux/kvm.h). */
export const KVM_CAP_HYPERV_ENFORCE_CPUID = 199;

/**
 * The Hyper-V CPUID bits KVM's checks read, by name (hvgdk.h), each with
 * its register: `features_eax` / `_ebx` / `_edx` are HYPERV_CPUID_FEATURES,
 * `enlightenments_eax` HYPERV_CPUID_ENLIGHTMENT_INFO, `syndbg_eax`
 * HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES.
 *
 * @example
 * ```ts
 * HV_CPUID_BITS.HV_MSR_HYPERCALL_AVAILABLE; // { reg: "features_eax", bit: 5 }
 * ```
 */
export const HV_CPUID_BITS = {
  HV_MSR_VP_RUNTIME_AVAILABLE: { reg: "features_eax", bit: 0 },
  HV_MSR_TIME_REF_COUNT_AVAILABLE: { reg: "features_eax", bit: 1 },
  HV_MSR_SYNIC_AVAILABLE: { reg: "features_eax", bit: 2 },
  HV_MSR_SYNTIMER_AVAILABLE: { reg: "features_eax", bit: 3 },
  HV_MSR_APIC_ACCESS_AVAILABLE: { reg: "features_eax", bit: 4 },
  HV_MSR_HYPERCALL_AVAILABLE: { reg: "features_eax", bit: 5 },
  HV_MSR_VP_INDEX_AVAILABLE: { reg: "features_eax", bit: 6 },
  HV_MSR_RESET_AVAILABLE: { reg: "features_eax", bit: 7 },
  HV_MSR_REFERENCE_TSC_AVAILABLE: { reg: "features_eax", bit: 9 },
  HV_ACCESS_FREQUENCY_MSRS: { reg: "features_eax", bit: 11 },
  HV_ACCESS_REENLIGHTENMENT: { reg: "features_eax", bit: 13 },
  HV_ACCESS_TSC_INVARIANT: { reg: "features_eax", bit: 15 },
  HV_POST_MESSAGES: { reg: "features_ebx", bit: 4 },
  HV_SIGNAL_EVENTS: { reg: "features_ebx", bit: 5 },
  HV_DEBUGGING: { reg: "features_ebx", bit: 11 },
  HV_ENABLE_EXTENDED_HYPERCALLS: { reg: "features_ebx", bit: 20 },
  HV_X64_GUEST_DEBUGGING_AVAILABLE: { reg: "features_edx", bit: 1 },
  HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE: { reg: "features_edx", bit: 4 },
  HV_FEATURE_FREQUENCY_MSRS_AVAILABLE: { reg: "features_edx", bit: 8 },
  HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE: { reg: "features_edx", bit: 10 },
  HV_FEATURE_DEBUG_MSRS_AVAILABLE: { reg: "features_edx", bit: 11 },
  HV_STIMER_DIRECT_MODE_AVAILABLE: { reg: "features_edx", bit: 19 },
  HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED: { reg: "enlightenments_eax", bit: 2 },
  HV_X64_APIC_ACCESS_RECOMMENDED: { reg: "enlightenments_eax", bit: 3 },
  HV_X64_RELAXED_TIMING_RECOMMENDED: { reg: "enlightenments_eax", bit: 5 },
  HV_DEPRECATING_AEOI_RECOMMENDED: { reg: "enlightenments_eax", bit: 9 },
  HV_X64_CLUSTER_IPI_RECOMMENDED: { reg: "enlightenments_eax", bit: 10 },
  HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED: { reg: "enlightenments_eax", bit: 11 },
  HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING: { reg: "syndbg_eax", bit: 1 },
} as const satisfies Record<string, { reg: keyof HvCpuidCache; bit: number }>;

/** A Hyper-V CPUID bit's name. */
export type HvCpuidBit = keyof typeof HV_CPUID_BITS;

/** KVM's per-vCPU copy of the Hyper-V leaves (`cpuid_cache`), each register a u32. */
export interface HvCpuidCache {
  /** HYPERV_CPUID_FEATURES.EAX: the MSR privileges. */
  features_eax: number;
  /** HYPERV_CPUID_FEATURES.EBX: the hypercall privileges. */
  features_ebx: number;
  /** HYPERV_CPUID_FEATURES.EDX. */
  features_edx: number;
  /** HYPERV_CPUID_ENLIGHTMENT_INFO.EAX. */
  enlightenments_eax: number;
  /** HYPERV_CPUID_ENLIGHTMENT_INFO.EBX: the spinlock retry count (0xffffffff: never notify). */
  enlightenments_ebx: number;
  /** HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES.EAX. */
  syndbg_eax: number;
}

/** The bits of `reg` the named bits give, as a u32. */
function bits(reg: keyof HvCpuidCache, names: readonly HvCpuidBit[]): number {
  let v = 0;
  for (const n of names) if (HV_CPUID_BITS[n].reg === reg) v |= 1 << HV_CPUID_BITS[n].bit;
  return v >>> 0;
}

const SUPPORTED: readonly HvCpuidBit[] = [
  "HV_MSR_VP_RUNTIME_AVAILABLE",
  "HV_MSR_TIME_REF_COUNT_AVAILABLE",
  "HV_MSR_SYNIC_AVAILABLE",
  "HV_MSR_SYNTIMER_AVAILABLE",
  "HV_MSR_APIC_ACCESS_AVAILABLE",
  "HV_MSR_HYPERCALL_AVAILABLE",
  "HV_MSR_VP_INDEX_AVAILABLE",
  "HV_MSR_RESET_AVAILABLE",
  "HV_MSR_REFERENCE_TSC_AVAILABLE",
  "HV_ACCESS_FREQUENCY_MSRS",
  "HV_ACCESS_REENLIGHTENMENT",
  "HV_ACCESS_TSC_INVARIANT",
  "HV_POST_MESSAGES",
  "HV_SIGNAL_EVENTS",
  "HV_DEBUGGING",
  "HV_ENABLE_EXTENDED_HYPERCALLS",
  "HV_X64_GUEST_DEBUGGING_AVAILABLE",
  "HV_FEATURE_DEBUG_MSRS_AVAILABLE",
  "HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE",
  "HV_FEATURE_FREQUENCY_MSRS_AVAILABLE",
  "HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE",
  "HV_STIMER_DIRECT_MODE_AVAILABLE",
  "HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED",
  "HV_X64_APIC_ACCESS_RECOMMENDED",
  "HV_X64_RELAXED_TIMING_RECOMMENDED",
  "HV_DEPRECATING_AEOI_RECOMMENDED",
  "HV_X64_CLUSTER_IPI_RECOMMENDED",
  "HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED",
  "HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING",
];

/**
 * KVM_GET_SUPPORTED_HV_CPUID's leaves as far as the checks read them
 * (`kvm_get_hv_cpuid`, an in-kernel LAPIC, no enlightened VMCS; the
 * spinlock retry count 0xfff, Hyper-V 2016's; SynDBG's kernel debugging
 * offered).
 *
 * @example
 * ```ts
 * (KVM_SUPPORTED_HV_CPUID.features_eax >> 5) & 1; // 1: HV_MSR_HYPERCALL_AVAILABLE
 * ```
 */
export const KVM_SUPPORTED_HV_CPUID: Readonly<HvCpuidCache> = Object.freeze({
  features_eax: bits("features_eax", SUPPORTED),
  features_ebx: bits("features_ebx", SUPPORTED),
  features_edx: bits("features_edx", SUPPORTED),
  enlightenments_eax: bits("enlightenments_eax", SUPPORTED),
  enlightenments_ebx: 0xfff,
  syndbg_eax: bits("syndbg_eax", SUPPORTED),
});

/** Whether `c` has the named bit. */
export function hvHas(c: Readonly<HvCpuidCache>, name: HvCpuidBit): boolean {
  const b = HV_CPUID_BITS[name];
  return ((c[b.reg] >>> b.bit) & 1) === 1;
}

/** The MSRs each bit opens (`hv_check_msr_access`), the model's MSRs only. */
const MSR_BIT: ReadonlyMap<number, HvCpuidBit> = new Map<number, HvCpuidBit>([
  [HV_MSR.GUEST_OS_ID, "HV_MSR_HYPERCALL_AVAILABLE"],
  [HV_MSR.HYPERCALL, "HV_MSR_HYPERCALL_AVAILABLE"],
  [HV_MSR.TIME_REF_COUNT, "HV_MSR_TIME_REF_COUNT_AVAILABLE"],
  [HV_MSR.VP_INDEX, "HV_MSR_VP_INDEX_AVAILABLE"],
  [HV_MSR.VP_RUNTIME, "HV_MSR_VP_RUNTIME_AVAILABLE"],
  [HV_MSR.RESET, "HV_MSR_RESET_AVAILABLE"],
  ...[0, 1, 2, 3, 4, 5].map(
    (i) => [HV_MSR.CRASH_P0 + i, "HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE"] as const,
  ),
  [HV_MSR.REFERENCE_TSC, "HV_MSR_REFERENCE_TSC_AVAILABLE"],
  ...[HV_MSR.SCONTROL, HV_MSR.SVERSION, HV_MSR.SIEFP, HV_MSR.SIMP, HV_MSR.EOM].map(
    (m) => [m, "HV_MSR_SYNIC_AVAILABLE"] as const,
  ),
  ...Array.from({ length: 16 }, (_, i) => [HV_MSR.SINT0 + i, "HV_MSR_SYNIC_AVAILABLE"] as const),
  ...Array.from(
    { length: 8 },
    (_, i) => [HV_MSR.STIMER0_CONFIG + i, "HV_MSR_SYNTIMER_AVAILABLE"] as const,
  ),
  ...[HV_MSR.EOI, HV_MSR.ICR, HV_MSR.TPR, HV_MSR.VP_ASSIST_PAGE].map(
    (m) => [m, "HV_MSR_APIC_ACCESS_AVAILABLE"] as const,
  ),
  [HV_MSR.TSC_FREQUENCY, "HV_ACCESS_FREQUENCY_MSRS"],
  [HV_MSR.TSC_INVARIANT_CONTROL, "HV_ACCESS_TSC_INVARIANT"],
  ...[
    HV_MSR.SYNDBG_CONTROL,
    HV_MSR.SYNDBG_STATUS,
    HV_MSR.SYNDBG_SEND_BUFFER,
    HV_MSR.SYNDBG_RECV_BUFFER,
    HV_MSR.SYNDBG_PENDING_BUFFER,
    HV_MSR.SYNDBG_OPTIONS,
  ].map((m) => [m, "HV_FEATURE_DEBUG_MSRS_AVAILABLE"] as const),
  [HV_MSR.APIC_FREQUENCY, "HV_ACCESS_FREQUENCY_MSRS"],
  ...[HV_MSR.REENLIGHTENMENT_CONTROL, HV_MSR.TSC_EMULATION_CONTROL, HV_MSR.TSC_EMULATION_STATUS]
    .map((m) => [m, "HV_ACCESS_REENLIGHTENMENT"] as const),
]);

/**
 * `hv_check_msr_access` for a guest access: null when allowed, else the
 * bit the guest lacks (KVM injects #GP). An MSR KVM's check does not list
 * is refused too.
 *
 * @example
 * ```ts
 * import { HV_MSR } from "./hyperv_synic.ts";
import { HVCALL } from "./hyperv_hypercall.ts";
 * hvMsrRefusal({ ...KVM_SUPPORTED_HV_CPUID, features_eax: 0 }, HV_MSR.GUEST_OS_ID);
 * // "HV_MSR_HYPERCALL_AVAILABLE"
 * ```
 */
export function hvMsrRefusal(c: Readonly<HvCpuidCache>, msr: number): string | null {
  const bit = MSR_BIT.get(msr);
  if (bit === undefined) return "an MSR hv_check_msr_access does not list";
  return hvHas(c, bit) ? null : bit;
}

/** The extended hypercalls: HV_EXT_CALL_QUERY_CAPABILITIES and the 64 after it (HV_EXT_CALL_MAX). */
export function isExtendedHypercall(code: number): boolean {
  const first = HVCALL.EXT_CALL_QUERY_CAPABILITIES;
  return code >= first && code <= first + 64;
}

/**
 * `kvm_hv_invtsc_suppressed`: the guest's CPUID hides the invariant TSC
 * (0x80000007:EDX[8]) while HV_ACCESS_TSC_INVARIANT is offered and
 * HV_X64_MSR_TSC_INVARIANT_CONTROL's bit 0 is clear.
 */
export function invtscSuppressed(c: Readonly<HvCpuidCache>, invtscControl: bigint): boolean {
  return hvHas(c, "HV_ACCESS_TSC_INVARIANT") && (invtscControl & 1n) === 0n;
}

/** `kvm_hv_is_syndbg_enabled`: SynDBG's kernel-debugging capability is announced. */
export function syndbgEnabled(c: Readonly<HvCpuidCache>): boolean {
  return hvHas(c, "HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING");
}

/**
 * `hv_check_hypercall_access` once enforced: whether the guest may make
 * hypercall `code`. A code the check does not list is allowed (KVM then
 * answers it or says HV_STATUS_INVALID_HYPERCALL_CODE).
 *
 * @example
 * ```ts
 * hvHypercallAllowed({ ...KVM_SUPPORTED_HV_CPUID, features_ebx: 0 }, 0x5c); // false
 * ```
 */
export function hvHypercallAllowed(c: Readonly<HvCpuidCache>, code: number): boolean {
  const H = HVCALL;
  switch (code) {
    case H.NOTIFY_LONG_SPIN_WAIT:
      return c.enlightenments_ebx !== 0 && c.enlightenments_ebx !== 0xffff_ffff;
    case H.POST_MESSAGE:
      return hvHas(c, "HV_POST_MESSAGES");
    case H.SIGNAL_EVENT:
      return hvHas(c, "HV_SIGNAL_EVENTS");
    case H.POST_DEBUG_DATA:
    case H.RETRIEVE_DEBUG_DATA:
    case H.RESET_DEBUG_SESSION:
      // Without SynDBG the call goes on to HV_STATUS_INVALID_HYPERCALL_CODE.
      return !syndbgEnabled(c) || hvHas(c, "HV_DEBUGGING");
    case H.FLUSH_VIRTUAL_ADDRESS_LIST_EX:
    case H.FLUSH_VIRTUAL_ADDRESS_SPACE_EX:
      if (!hvHas(c, "HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED")) return false;
      return hvHas(c, "HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED");
    case H.FLUSH_VIRTUAL_ADDRESS_LIST:
    case H.FLUSH_VIRTUAL_ADDRESS_SPACE:
      return hvHas(c, "HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED");
    case H.SEND_IPI_EX:
      if (!hvHas(c, "HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED")) return false;
      return hvHas(c, "HV_X64_CLUSTER_IPI_RECOMMENDED");
    case H.SEND_IPI:
      return hvHas(c, "HV_X64_CLUSTER_IPI_RECOMMENDED");
  }
  if (isExtendedHypercall(code)) return hvHas(c, "HV_ENABLE_EXTENDED_HYPERCALLS");
  return true;
}

/**
 * Named values for scenarios: KVM_CAP_HYPERV_ENFORCE_CPUID and each Hyper-V
 * CPUID bit as its mask in its register.
 *
 * @example
 * ```ts
 * HYPERV_CPUID_CONSTANTS.HV_POST_MESSAGES; // 0x10 (HYPERV_CPUID_FEATURES.EBX)
 * ```
 */
export const HYPERV_CPUID_CONSTANTS: Readonly<Record<string, number>> = {
  KVM_CAP_HYPERV_ENFORCE_CPUID,
  ...Object.fromEntries(
    Object.entries(HV_CPUID_BITS).map(([k, v]) => [k, (1 << v.bit) >>> 0]),
  ),
};
