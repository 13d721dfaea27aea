/**
 * KVM's paravirtual feature bits (CPUID leaf KVM_CPUID_FEATURES, EAX) and
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID. KVM offers its PV MSRs and hypercalls
 * to every guest unless the VMM enables that capability on the vCPU
 * (`vcpu->arch.pv_cpuid.enforce`); then each one works only while its
 * feature bit is set in the CPUID the VMM gave with KVM_SET_CPUID2
 * (`pv_cpuid.features`, the leaf's EAX): a PV MSR read or written without
 * its bit #GPs (`kvm_get_msr_common` / `kvm_set_msr_common` return 1,
 * for the VMM's KVM_GET/SET_MSRS too), and a hypercall without its bit
 * returns -KVM_ENOSYS (`kvm_emulate_hypercall` breaks out of its switch
 * with ret still -KVM_ENOSYS).
 *
 * The model keeps the rule for every PV MSR and hypercall that has one;
 * of what they do once allowed it has MSR_KVM_PV_EOI_EN (kvm_pv_eoi.ts),
 * MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_SYSTEM_TIME (kvmclock.ts),
 * KVM_HC_SEND_IPI and KVM_HC_KICK_CPU (kvm_hypercall.ts, `X86Cpu.pvKick`),
 * KVM_HC_SCHED_YIELD and KVM_HC_VAPIC_POLL_IRQ (both just return 0 to the
 * guest). The wall-clock, async-PF, steal-time and poll-control MSRs are not
 * modelled: an access that KVM would allow is an input error, never a
 * made-up answer.
 *
 * Sources: Linux arch/x86/kvm/x86.c (`kvm_set_msr_common`,
 * `kvm_get_msr_common`: the `guest_pv_has` checks; `kvm_emulate_hypercall`;
 * `kvm_vcpu_ioctl_enable_cap` KVM_CAP_ENFORCE_PV_FEATURE_CPUID;
 * `kvm_vm_ioctl_check_extension`: 1), cpuid.h (`guest_pv_has`), cpuid.c
 * (`kvm_update_pv_runtime`: features := the leaf's EAX at KVM_SET_CPUID2;
 * `__do_cpuid_func` KVM_CPUID_FEATURES: the bits KVM_GET_SUPPORTED_CPUID
 * offers), include/uapi/asm/kvm_para.h (KVM_FEATURE_* bit numbers, MSR
 * numbers), include/uapi/linux/kvm_para.h (KVM_HC_*, KVM_ENOSYS 1000),
 * include/uapi/linux/kvm.h (KVM_CAP_ENFORCE_PV_FEATURE_CPUID 190),
 * Documentation/virt/kvm/x86/cpuid.rst.
 *
 * @module
 */

/** KVM_CPUID_FEATURES: the leaf whose EAX holds the PV feature bits (KVM's base 0x40000000 + 1). */
export const KVM_CPUID_FEATURES = 0x4000_0001;

/** KVM_CAP_ENFORCE_PV_FEATURE_CPUID, a vCPU capability. */
export const KVM_CAP_ENFORCE_PV_FEATURE_CPUID = 190;

/**
 * KVM_FEATURE_*: bit numbers in KVM_CPUID_FEATURES.EAX (kvm_para.h).
 *
 * @example
 * ```ts
 * KvmFeature.PV_SEND_IPI; // 11
 * ```
 */
export const KvmFeature = {
  CLOCKSOURCE: 0,
  NOP_IO_DELAY: 1,
  MMU_OP: 2,
  CLOCKSOURCE2: 3,
  ASYNC_PF: 4,
  STEAL_TIME: 5,
  PV_EOI: 6,
  PV_UNHALT: 7,
  PV_TLB_FLUSH: 9,
  ASYNC_PF_VMEXIT: 10,
  PV_SEND_IPI: 11,
  POLL_CONTROL: 12,
  PV_SCHED_YIELD: 13,
  ASYNC_PF_INT: 14,
  MSI_EXT_DEST_ID: 15,
  HC_MAP_GPA_RANGE: 16,
  MIGRATION_CONTROL: 17,
  CLOCKSOURCE_STABLE_BIT: 24,
} as const;

/** One KVM_FEATURE_* name. */
export type KvmFeatureName = keyof typeof KvmFeature;

const bit = (name: KvmFeatureName) => (1 << KvmFeature[name]) >>> 0;

/**
 * The EAX KVM_GET_SUPPORTED_CPUID gives for KVM_CPUID_FEATURES (cpuid.c
 * `__do_cpuid_func`, with `sched_info_on()` true, so STEAL_TIME), which a
 * VMM that copies it (QEMU's `-cpu host`, the selftests' default CPUID)
 * hands to the guest: the model's vCPUs have it until KVM_SET_CPUID2 says
 * otherwise. MSI_EXT_DEST_ID, HC_MAP_GPA_RANGE and MIGRATION_CONTROL are the
 * VMM's to add, not KVM's.
 *
 * @example
 * ```ts
 * (KVM_SUPPORTED_PV_FEATURES >> KvmFeature.PV_EOI) & 1; // 1
 * ```
 */
export const KVM_SUPPORTED_PV_FEATURES = (
  bit("CLOCKSOURCE") | bit("NOP_IO_DELAY") | bit("CLOCKSOURCE2") | bit("ASYNC_PF") |
  bit("PV_EOI") | bit("CLOCKSOURCE_STABLE_BIT") | bit("PV_UNHALT") | bit("PV_TLB_FLUSH") |
  bit("ASYNC_PF_VMEXIT") | bit("PV_SEND_IPI") | bit("POLL_CONTROL") | bit("PV_SCHED_YIELD") |
  bit("ASYNC_PF_INT") | bit("STEAL_TIME")
) >>> 0;

/** One PV MSR and the feature bit `kvm_get/set_msr_common` require for it. */
export interface PvMsr {
  /** The MSR's name in kvm_para.h. */
  readonly name: string;
  /** Its index. */
  readonly msr: number;
  /** The KVM_FEATURE_* it needs under enforcement. */
  readonly feature: KvmFeatureName;
}

/**
 * KVM's PV MSRs that `kvm_get_msr_common` and `kvm_set_msr_common` gate on a
 * feature bit (both directions check the same bit). MSR_KVM_MIGRATION_CONTROL
 * is left out: only SEV guests' vendor code takes it.
 *
 * @example
 * ```ts
 * PV_MSRS.find((m) => m.msr === 0x4b564d04)?.feature; // "PV_EOI"
 * ```
 */
export const PV_MSRS: readonly PvMsr[] = [
  { name: "MSR_KVM_WALL_CLOCK", msr: 0x11, feature: "CLOCKSOURCE" },
  { name: "MSR_KVM_SYSTEM_TIME", msr: 0x12, feature: "CLOCKSOURCE" },
  { name: "MSR_KVM_WALL_CLOCK_NEW", msr: 0x4b56_4d00, feature: "CLOCKSOURCE2" },
  { name: "MSR_KVM_SYSTEM_TIME_NEW", msr: 0x4b56_4d01, feature: "CLOCKSOURCE2" },
  { name: "MSR_KVM_ASYNC_PF_EN", msr: 0x4b56_4d02, feature: "ASYNC_PF" },
  { name: "MSR_KVM_STEAL_TIME", msr: 0x4b56_4d03, feature: "STEAL_TIME" },
  { name: "MSR_KVM_PV_EOI_EN", msr: 0x4b56_4d04, feature: "PV_EOI" },
  { name: "MSR_KVM_POLL_CONTROL", msr: 0x4b56_4d05, feature: "POLL_CONTROL" },
  { name: "MSR_KVM_ASYNC_PF_INT", msr: 0x4b56_4d06, feature: "ASYNC_PF_INT" },
  { name: "MSR_KVM_ASYNC_PF_ACK", msr: 0x4b56_4d07, feature: "ASYNC_PF_INT" },
];

const PV_MSR_BY_INDEX: ReadonlyMap<number, PvMsr> = new Map(PV_MSRS.map((m) => [m.msr, m]));

/**
 * `msr` may be a PV MSR: two compares, for the WRMSR path that x2APIC EOIs take.
 *
 * @example
 * ```ts
 * maybePvMsr(0x80b); // false
 * ```
 */
export function maybePvMsr(msr: number): boolean {
  return msr <= 0x12 ? msr >= 0x11 : (msr >>> 8) === 0x4b_564d;
}

/**
 * The PV MSR `msr` is, or undefined.
 *
 * @example
 * ```ts
 * pvMsr(0x12)?.name; // "MSR_KVM_SYSTEM_TIME"
 * ```
 */
export function pvMsr(msr: number): PvMsr | undefined {
  return PV_MSR_BY_INDEX.get(msr);
}

/**
 * KVM_HC_*: hypercall numbers (include/uapi/linux/kvm_para.h).
 *
 * @example
 * ```ts
 * KvmHc.SEND_IPI; // 10
 * ```
 */
export const KvmHc = {
  VAPIC_POLL_IRQ: 1,
  MMU_OP: 2,
  FEATURES: 3,
  PPC_MAP_MAGIC_PAGE: 4,
  KICK_CPU: 5,
  MIPS_GET_CLOCK_FREQ: 6,
  MIPS_EXIT_VM: 7,
  MIPS_CONSOLE_OUTPUT: 8,
  CLOCK_PAIRING: 9,
  SEND_IPI: 10,
  SCHED_YIELD: 11,
  MAP_GPA_RANGE: 12,
} as const;

/** The feature bit each gated hypercall needs (`kvm_emulate_hypercall`'s `guest_pv_has`). */
export const PV_HYPERCALL_FEATURE: Readonly<Record<number, KvmFeatureName>> = {
  [KvmHc.KICK_CPU]: "PV_UNHALT",
  [KvmHc.SEND_IPI]: "PV_SEND_IPI",
  [KvmHc.SCHED_YIELD]: "PV_SCHED_YIELD",
};

/** -KVM_ENOSYS, the hypercall result for a call KVM does not take (kvm_para.h KVM_ENOSYS 1000). */
export const KVM_ENOSYS = 1000;

/**
 * `vcpu->arch.pv_cpuid`: whether KVM_CAP_ENFORCE_PV_FEATURE_CPUID is on for
 * the vCPU, and the feature bits of its CPUID.
 */
export interface PvCpuid {
  /** `pv_cpuid.enforce`: KVM_ENABLE_CAP's args[0] != 0, last set. */
  readonly pvEnforce: boolean;
  /** `pv_cpuid.features`: KVM_CPUID_FEATURES.EAX as KVM_SET_CPUID2 last gave it. */
  readonly kvmFeatures: number;
}

/**
 * `guest_pv_has`: the vCPU may use the PV interface that needs `feature`.
 *
 * @example
 * ```ts
 * guestPvHas({ pvEnforce: true, kvmFeatures: 0 }, "PV_EOI"); // false
 * guestPvHas({ pvEnforce: false, kvmFeatures: 0 }, "PV_EOI"); // true
 * ```
 */
export function guestPvHas(pv: PvCpuid, feature: KvmFeatureName): boolean {
  return !pv.pvEnforce || ((pv.kvmFeatures >>> KvmFeature[feature]) & 1) === 1;
}

/**
 * Why the guest's or VMM's access of PV MSR `msr` fails under
 * enforcement, or null if KVM lets it through (or it is no PV MSR).
 *
 * @example
 * ```ts
 * pvMsrRefusal({ pvEnforce: true, kvmFeatures: 0 }, 0x4b564d04);
 * // "MSR_KVM_PV_EOI_EN needs KVM_FEATURE_PV_EOI (KVM_CAP_ENFORCE_PV_FEATURE_CPUID)"
 * ```
 */
export function pvMsrRefusal(pv: PvCpuid, msr: number): string | null {
  if (!pv.pvEnforce) return null;
  const m = PV_MSR_BY_INDEX.get(msr);
  if (m === undefined || guestPvHas(pv, m.feature)) return null;
  return `${m.name} needs KVM_FEATURE_${m.feature} (KVM_CAP_ENFORCE_PV_FEATURE_CPUID)`;
}
