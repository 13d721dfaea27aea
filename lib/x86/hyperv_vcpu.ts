/**
 * A vCPU's Hyper-V MSRs as KVM dispatches them (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`): none of them exists for the guest until the
 * VMM set the Hyper-V CPUID leaves (`vcpu->arch.hyperv_enabled`, from
 * KVM_SET_CPUID2's HYPERV_CPUID_INTERFACE "Hv#1"); then the partition-wide
 * ones ({@link HvPartition}), VP_INDEX (read-only to the guest, the vCPU
 * index), the SynIC's ({@link HvSynic}) and the synthetic timers'
 * ({@link HvStimer}). Any other Hyper-V MSR is not modelled and #GPs, as an
 * MSR KVM does not know does.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`, `kvm_hv_msr_partition_wide`, `kvm_hv_set_msr`,
 * `kvm_hv_get_msr`, `kvm_hv_vcpu_init`: vp_index = vcpu_idx),
 * arch/x86/kvm/cpuid.c (`kvm_hv_set_cpuid`: hyperv_enabled).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { HV_MSR, HvSynic } from "./hyperv_synic.ts";
import { HV_SYNIC_STIMER_COUNT, type HvStimer, isStimerMsr } from "./hyperv_stimer.ts";
import { HvPartition } from "./hyperv_hypercall.ts";

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

  /** A vCPU of a VM with the Hyper-V CPUID, whose index is `vpIndex`. */
  constructor(
    readonly vpIndex: number,
    readonly synic: HvSynic,
    readonly stimers: readonly HvStimer[],
    readonly partition: HvPartition,
  ) {}

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
    return HvPartition.owns(msr) || msr === HV_MSR.VP_INDEX || HvSynic.owns(msr) ||
      isStimerMsr(msr);
  }

  /** A guest RDMSR: the value, why KVM injects #GP, or undefined for an MSR not Hyper-V's. */
  rdmsr(msr: number): bigint | string | undefined {
    if (HvPartition.owns(msr)) return this.partition.rdmsr(msr);
    if (msr === HV_MSR.VP_INDEX) return BigInt(this.vpIndex);
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
    if (HvSynic.owns(msr)) return this.synic.wrmsr(msr, value);
    if (isStimerMsr(msr)) {
      const t = this.stimers[(msr - HV_MSR.STIMER0_CONFIG) >> 1];
      return (msr - HV_MSR.STIMER0_CONFIG) % 2 === 0 ? t.setConfig(value) : t.setCount(value);
    }
    return undefined;
  }

  /** `kvm_hv_notify_acked_sint`'s timer part: timers waiting on `sint` retry. */
  ackedSint(sint: number): void {
    for (let i = 0; i < HV_SYNIC_STIMER_COUNT; i++) this.stimers[i].acked(sint);
  }
}
