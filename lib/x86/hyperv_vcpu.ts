/**
 * A vCPU's Hyper-V MSRs as KVM dispatches them (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`): none of them exists for the guest until the
 * VMM set the Hyper-V CPUID leaves (`vcpu->arch.hyperv_enabled`, from
 * KVM_SET_CPUID2's HYPERV_CPUID_INTERFACE "Hv#1"); then the partition-wide
 * ones ({@link HvPartition}), VP_INDEX (the vCPU index until the VMM sets
 * another; read-only to the guest), the synthetic APIC MSRs EOI, ICR and TPR
 * (the in-kernel LAPIC's registers, whatever its mode), the SynIC's
 * ({@link HvSynic}) and the synthetic timers' ({@link HvStimer}). Any other
 * Hyper-V MSR is not modelled and #GPs, as an MSR KVM does not know does.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`, `kvm_hv_msr_partition_wide`, `kvm_hv_set_msr`,
 * `kvm_hv_get_msr`, `kvm_hv_vcpu_init`: vp_index = vcpu_idx; a host write
 * of HV_X64_MSR_VP_INDEX below KVM_MAX_VCPUS sets it), lapic.c
 * (`kvm_hv_vapic_msr_write`, `kvm_hv_vapic_msr_read`), arch/x86/kvm/cpuid.c
 * (`kvm_hv_set_cpuid`: hyperv_enabled).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { HV_MSR, HvSynic } from "./hyperv_synic.ts";
import { HV_SYNIC_STIMER_COUNT, type HvStimer, isStimerMsr } from "./hyperv_stimer.ts";
import { HvPartition } from "./hyperv_hypercall.ts";
import { LapicOffset } from "./lapic_registers.ts";

/** KVM_MAX_VCPUS on x86: a VP index the VMM sets must be below it. */
export const KVM_MAX_VCPUS = 4096;

/** The synthetic APIC MSRs and the LAPIC register offset each reaches. */
const VAPIC_OFFSET: ReadonlyMap<number, number> = new Map([
  [HV_MSR.EOI, LapicOffset.EOI],
  [HV_MSR.ICR, LapicOffset.ICR_LOW],
  [HV_MSR.TPR, LapicOffset.TPR],
]);

/** The in-kernel LAPIC as the synthetic APIC MSRs reach it (`Lapic.vapicMsrWrite`). */
export interface HvVapic {
  /** A 64-bit write of the register at `offset`: null, or why KVM injects #GP. */
  vapicMsrWrite(offset: number, value: bigint): string | null;
  /** A 64-bit read of the register at `offset`, or why KVM injects #GP. */
  vapicMsrRead(offset: number): bigint | string;
}

/**
 * One vCPU's Hyper-V state and MSRs.
 *
 * @example
 * ```ts
 * import { HV_MSR } from "./hyperv_synic.ts";
 * declare const hv: HvVcpu;
 * hv.rdmsr(HV_MSR.SVERSION); // 1n with a SynIC
 * hv.rdmsr(0x1b); // undefined: not a Hyper-V MSR
 * ```
 */
export class HvVcpu {
  /** RAX after the vCPU's last Hyper-V hypercall (its HV_STATUS, or the VMM's result). */
  rax = 0n;
  /** A hypercall exited to the VMM (KVM_EXIT_HYPERV_HCALL) and waits for its result. */
  hcallWaiting = false;

  /**
   * A vCPU of a VM with the Hyper-V CPUID, whose VP index starts as
   * `vpIndex` (its vCPU index); `vapic` is its in-kernel LAPIC, null without one.
   */
  constructor(
    public vpIndex: number,
    readonly synic: HvSynic,
    readonly stimers: readonly HvStimer[],
    readonly partition: HvPartition,
    vapic: HvVapic | null = null,
  ) {
    this.#vapic = vapic;
  }

  /** The in-kernel LAPIC, fixed at creation (its state is the LAPIC's to hash and save). */
  readonly #vapic: HvVapic | null;

  /** Feeds `h` the vCPU's Hyper-V state, the partition's too. */
  hashFields(h: StateHash): void {
    h.n(this.vpIndex);
    this.partition.hashFields(h);
    h.big(this.rax);
    h.bool(this.hcallWaiting);
    this.synic.hashFields(h);
    for (const s of this.stimers) s.hashFields(h);
  }

  /** Whether `msr` is a Hyper-V MSR this model has. */
  static owns(msr: number): boolean {
    return HvPartition.owns(msr) || msr === HV_MSR.VP_INDEX || VAPIC_OFFSET.has(msr) ||
      HvSynic.owns(msr) || isStimerMsr(msr);
  }

  /** A guest RDMSR: the value, why KVM injects #GP, or undefined for an MSR not Hyper-V's. */
  rdmsr(msr: number): bigint | string | undefined {
    if (HvPartition.owns(msr)) return this.partition.rdmsr(msr);
    if (msr === HV_MSR.VP_INDEX) return BigInt(this.vpIndex);
    const offset = VAPIC_OFFSET.get(msr);
    if (offset !== undefined) {
      return this.#vapic === null ? NO_VAPIC : this.#vapic.vapicMsrRead(offset);
    }
    if (HvSynic.owns(msr)) return this.synic.rdmsr(msr);
    if (isStimerMsr(msr)) {
      const t = this.stimers[(msr - HV_MSR.STIMER0_CONFIG) >> 1];
      return (msr - HV_MSR.STIMER0_CONFIG) % 2 === 0 ? t.config : t.count;
    }
    return undefined;
  }

  /** A guest WRMSR: null done, why KVM injects #GP, or undefined for an MSR not Hyper-V's. */
  wrmsr(msr: number, value: bigint): string | null | undefined {
    if (HvPartition.owns(msr)) return this.partition.wrmsr(msr, value);
    if (msr === HV_MSR.VP_INDEX) return "HV_X64_MSR_VP_INDEX is set by the VMM only";
    const offset = VAPIC_OFFSET.get(msr);
    if (offset !== undefined) {
      return this.#vapic === null ? NO_VAPIC : this.#vapic.vapicMsrWrite(offset, value);
    }
    if (HvSynic.owns(msr)) return this.synic.wrmsr(msr, value);
    if (isStimerMsr(msr)) {
      const t = this.stimers[(msr - HV_MSR.STIMER0_CONFIG) >> 1];
      return (msr - HV_MSR.STIMER0_CONFIG) % 2 === 0 ? t.setConfig(value) : t.setCount(value);
    }
    return undefined;
  }

  /**
   * The VMM's KVM_SET_MSRS of HV_X64_MSR_VP_INDEX (host-initiated
   * `kvm_hv_set_msr`): true when set, false when KVM refuses the value
   * (KVM_MAX_VCPUS or more). Two vCPUs may end up with one index: KVM then
   * finds the first by vCPU index ({@link findByVpIndex}).
   */
  setVpIndex(value: bigint): boolean {
    if (value < 0n || value >= BigInt(KVM_MAX_VCPUS)) return false;
    this.vpIndex = Number(value);
    return true;
  }

  /** `kvm_hv_notify_acked_sint`'s timer part: timers waiting on `sint` retry. */
  ackedSint(sint: number): void {
    for (let i = 0; i < HV_SYNIC_STIMER_COUNT; i++) this.stimers[i].acked(sint);
  }
}

/** Why KVM injects #GP for a synthetic APIC MSR without an in-kernel LAPIC (`lapic_in_kernel`). */
const NO_VAPIC = "the synthetic APIC MSRs need an in-kernel LAPIC";

/**
 * KVM's `get_vcpu_by_vpidx`: the vCPU whose VP index is `vp` (the vCPU of
 * that index if its VP index matches, else the first that has it), or
 * undefined (none, or `vp` at or past KVM_MAX_VCPUS).
 *
 * @example
 * ```ts
 * declare const vcpus: readonly HvVcpu[];
 * findByVpIndex(vcpus, 65); // the vCPU the VMM gave VP index 65
 * ```
 */
export function findByVpIndex(vcpus: readonly HvVcpu[], vp: number): HvVcpu | undefined {
  if (!Number.isInteger(vp) || vp < 0 || vp >= KVM_MAX_VCPUS) return undefined;
  const same = vcpus[vp];
  if (same !== undefined && same.vpIndex === vp) return same;
  return vcpus.find((v) => v.vpIndex === vp);
}
