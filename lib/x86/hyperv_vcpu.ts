/**
 * A vCPU's Hyper-V MSRs as KVM dispatches them (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`): none of them exists for the guest until the
 * VMM set the Hyper-V CPUID leaves (`vcpu->arch.hyperv_enabled`, from
 * KVM_SET_CPUID2's HYPERV_CPUID_INTERFACE "Hv#1"); then the partition-wide
 * ones ({@link HvPartition}), VP_INDEX (the vCPU index until the VMM sets
 * another; read-only to the guest), the synthetic APIC MSRs EOI, ICR and TPR
 * (the in-kernel LAPIC's registers, whatever its mode), the VP assist page
 * (HV_X64_MSR_VP_ASSIST_PAGE: bit 0 enable, bits 63:12 the page; enabling
 * zeroes its first u32, `apic_assist`, keeps the rest, and points KVM's PV
 * EOI at it, so MSR_KVM_PV_EOI_EN then reads the page | 1; disabling turns
 * PV EOI off, whoever enabled it; a page outside guest RAM #GPs), the SynIC's
 * ({@link HvSynic}) and the synthetic timers' ({@link HvStimer}), and the
 * read-only frequency MSRs: HV_X64_MSR_TSC_FREQUENCY (the vCPU's TSC in Hz,
 * `virtual_tsc_khz * 1000`: 1 GHz unless KVM_SET_TSC_KHZ set another) and
 * HV_X64_MSR_APIC_FREQUENCY (10^9 / the VM's APIC bus cycle in ns), which
 * #GP when the guest writes them and ignore the VMM's writes. Any other
 * Hyper-V MSR is not modelled and #GPs, as an MSR KVM does not know does.
 * With KVM_CAP_HYPERV_ENFORCE_CPUID ({@link HvVcpu.enforceCpuid}) each
 * guest access first needs its bit in the vCPU's Hyper-V CPUID
 * (`hv_check_msr_access`, `lib/x86/hyperv_cpuid.ts`), and a synthetic
 * timer's direct mode HV_STIMER_DIRECT_MODE_AVAILABLE. HV_X64_MSR_VP_RUNTIME
 * counts the vCPU thread's run time in 100 ns (the model's time since the
 * VM's creation, plus what the VMM's write set; read-only to the guest);
 * the partition's HV_X64_MSR_RESET (a write of 1) and CRASH_CTL (a guest
 * write with CRASH_NOTIFY) make the writing vCPU exit with
 * KVM_EXIT_SYSTEM_EVENT, RESET or CRASH.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`kvm_hv_set_msr_common`,
 * `kvm_hv_get_msr_common`, `kvm_hv_msr_partition_wide`, `kvm_hv_set_msr`
 * (HV_X64_MSR_VP_ASSIST_PAGE: `kvm_lapic_set_pv_eoi` with the page's GPA | 1
 * and `sizeof(struct hv_vp_assist_page)`, or 0 when disabled),
 * `kvm_hv_get_msr`, `kvm_hv_vcpu_init`: vp_index = vcpu_idx; a host write
 * of HV_X64_MSR_VP_INDEX below KVM_MAX_VCPUS sets it), lapic.c
 * (`kvm_hv_vapic_msr_write`, `kvm_hv_vapic_msr_read`), arch/x86/kvm/cpuid.c
 * (`kvm_hv_set_cpuid`: hyperv_enabled, the `cpuid_cache`), hyperv.c
 * (`hv_check_msr_access`, `stimer_set_config`'s direct-mode check,
 * `kvm_hv_set_enforce_cpuid`).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { HV_MSR, HvSynic } from "./hyperv_synic.ts";
import { HV_SYNIC_STIMER_COUNT, type HvStimer, isStimerMsr } from "./hyperv_stimer.ts";
import { HvPartition } from "./hyperv_hypercall.ts";
import type { KvmPvEoi } from "./kvm_pv_eoi.ts";
import {
  HV_CRASH_CTL_CRASH_NOTIFY,
  type HvHypercallCpuid,
  isSyndbgMsr,
} from "./hyperv_hypercall.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { KVM_SYSTEM_EVENT } from "./kvm_run.ts";
import {
  type HvCpuidCache,
  hvHas,
  hvHypercallAllowed,
  hvMsrRefusal,
  KVM_SUPPORTED_HV_CPUID,
  syndbgEnabled,
} from "./hyperv_cpuid.ts";
import { STIMER_CONFIG } from "./hyperv_stimer.ts";
import { isFrequencyMsr, isHypervMsr, VAPIC_OFFSET } from "./hyperv_abi.ts";
export { isFrequencyMsr } from "./hyperv_abi.ts";

/** HV_X64_MSR_VP_ASSIST_PAGE_ENABLE (bit 0); the page is bits 63:12 (_ADDRESS_SHIFT). */
export const HV_X64_MSR_VP_ASSIST_PAGE_ENABLE = 1n;
/** HV_X64_MSR_VP_ASSIST_PAGE_ADDRESS_SHIFT. */
const HV_X64_MSR_VP_ASSIST_PAGE_ADDRESS_SHIFT = 12n;
/** `sizeof(struct hv_vp_assist_page)`: one page; `apic_assist` is its first u32. */
const HV_VP_ASSIST_PAGE_SIZE = 4096;

/** The model's TSC frequency in kHz (`virtual_tsc_khz`): its TSC counts nanoseconds. */
export const MODEL_TSC_KHZ = 1_000_000;

/** KVM_MAX_VCPUS on x86: a VP index the VMM sets must be below it. */
export const KVM_MAX_VCPUS = 4096;

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
  /** HV_X64_MSR_VP_ASSIST_PAGE as the guest wrote it (`hv_vapic`). */
  hvVapic = 0n;
  /** HV_X64_MSR_VP_RUNTIME's offset (`runtime_offset`), which the VMM's write sets. */
  runtimeOffset = 0n;
  /**
   * The vCPU thread's run time in ns that VP_RUNTIME counts (KVM:
   * `current_task_runtime_100ns`, the host thread's CPU time; the model's
   * vCPU thread runs from the VM's creation on). Set once, at creation.
   */
  runtimeNs: () => number = () => 0;
  /**
   * The vCPU's `virtual_tsc_khz` (KVM_SET_TSC_KHZ), which
   * HV_X64_MSR_TSC_FREQUENCY reports in Hz. Set once, at creation.
   */
  tscKhz: () => number = () => MODEL_TSC_KHZ;
  /** KVM_EXIT_SYSTEM_EVENT of this vCPU (a reset or crash request); set once, at creation. */
  onSystemEvent: ((type: number, why: string) => void) | null = null;
  /** KVM_CAP_HYPERV_ENFORCE_CPUID (`enforce_cpuid`): the guest gets only what its CPUID announces. */
  enforceCpuid = false;
  /** KVM's copy of the vCPU's Hyper-V CPUID leaves (`cpuid_cache`). */
  readonly cpuidCache: HvCpuidCache = { ...KVM_SUPPORTED_HV_CPUID };
  /** What the vCPU's hypercalls may do, read from {@link HvVcpu.cpuidCache} at the call. */
  get hypercallCpuid(): HvHypercallCpuid {
    return this.#hypercallCpuid;
  }

  /** {@link HvVcpu.hypercallCpuid}: closures over the fields, fixed at creation. */
  readonly #hypercallCpuid: HvHypercallCpuid = {
    allowed: (code) => !this.enforceCpuid || hvHypercallAllowed(this.cpuidCache, code),
    xmmRefused: () =>
      this.enforceCpuid && !hvHas(this.cpuidCache, "HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE"),
    syndbg: () => syndbgEnabled(this.cpuidCache),
  };

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
    pvEoi: KvmPvEoi | null = null,
    apicBusCycleNs = 1,
  ) {
    this.#vapic = vapic;
    this.#pvEoi = pvEoi;
    this.#apicBusCycleNs = apicBusCycleNs;
  }

  /** The VM's APIC bus cycle in ns (`apic_bus_cycle_ns`), fixed at creation. */
  readonly #apicBusCycleNs: number;

  /** The vCPU's PV EOI state, which the VP assist page points at its `apic_assist`; fixed at creation. */
  readonly #pvEoi: KvmPvEoi | null;

  /** The in-kernel LAPIC, fixed at creation (its state is the LAPIC's to hash and save). */
  readonly #vapic: HvVapic | null;

  /** Feeds `h` the vCPU's Hyper-V state, the partition's too. */
  hashFields(h: StateHash): void {
    h.n(this.vpIndex);
    this.partition.hashFields(h);
    h.big(this.rax);
    h.bool(this.hcallWaiting);
    h.big(this.hvVapic);
    h.bool(this.enforceCpuid);
    h.big(this.runtimeOffset);
    const c = this.cpuidCache;
    h.n(c.features_eax), h.n(c.features_ebx), h.n(c.features_edx);
    h.n(c.enlightenments_eax), h.n(c.enlightenments_ebx), h.n(c.syndbg_eax);
    this.synic.hashFields(h);
    for (const s of this.stimers) s.hashFields(h);
  }

  /** Whether `msr` is a Hyper-V MSR this model has. */
  static owns(msr: number): boolean {
    return isHypervMsr(msr);
  }

  /**
   * A guest RDMSR, or (`host`) the VMM's KVM_GET_MSRS: the value, why KVM
   * injects #GP, or undefined for an MSR not Hyper-V's.
   */
  rdmsr(msr: number, host = false): bigint | string | undefined {
    if (!host && this.enforceCpuid && HvVcpu.owns(msr)) {
      const why = hvMsrRefusal(this.cpuidCache, msr);
      if (why !== null) return `Hyper-V CPUID enforced: no ${why}`;
    }
    if (isSyndbgMsr(msr) && !host && !syndbgEnabled(this.cpuidCache)) return NO_SYNDBG;
    if (HvPartition.owns(msr)) return this.partition.rdmsr(msr);
    if (msr === HV_MSR.VP_INDEX) return BigInt(this.vpIndex);
    if (msr === HV_MSR.VP_RUNTIME) {
      return BigInt.asUintN(64, this.#runtime100ns() + this.runtimeOffset);
    }
    if (msr === HV_MSR.VP_ASSIST_PAGE) return this.hvVapic;
    if (msr === HV_MSR.TSC_FREQUENCY) return BigInt(this.tscKhz()) * 1000n;
    if (msr === HV_MSR.APIC_FREQUENCY) return 1_000_000_000n / BigInt(this.#apicBusCycleNs);
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

  /**
   * A guest WRMSR, or (`host`) the VMM's KVM_SET_MSRS of a partition-wide
   * MSR, the VP assist page or a frequency MSR: null done, why KVM fails it, or undefined
   * for an MSR not Hyper-V's.
   */
  wrmsr(msr: number, value: bigint, host = false): string | null | undefined {
    if (!host && this.enforceCpuid && HvVcpu.owns(msr)) {
      const why = hvMsrRefusal(this.cpuidCache, msr);
      if (why !== null) return `Hyper-V CPUID enforced: no ${why}`;
    }
    if (isSyndbgMsr(msr) && !host) {
      if (!syndbgEnabled(this.cpuidCache)) return NO_SYNDBG;
      if (msr === HV_MSR.SYNDBG_CONTROL || msr === HV_MSR.SYNDBG_PENDING_BUFFER) {
        throw new CommandInputError(
          "the guest's write of SYNDBG_CONTROL or SYNDBG_PENDING_BUFFER exits to the VMM " +
            "(KVM_EXIT_HYPERV_SYNDBG), which is not modelled",
        );
      }
    }
    if (HvPartition.owns(msr)) {
      const r = this.partition.wrmsr(msr, value, host);
      // KVM_REQ_HV_RESET / KVM_REQ_HV_CRASH: the vCPU exits to userspace as it next enters.
      if (msr === HV_MSR.RESET && value === 1n) {
        this.onSystemEvent?.(KVM_SYSTEM_EVENT.RESET, "HV_X64_MSR_RESET");
      } else if (msr === HV_MSR.CRASH_CTL && !host && (value & HV_CRASH_CTL_CRASH_NOTIFY) !== 0n) {
        this.onSystemEvent?.(KVM_SYSTEM_EVENT.CRASH, "HV_X64_MSR_CRASH_CTL CRASH_NOTIFY");
      }
      return r;
    }
    if (msr === HV_MSR.VP_RUNTIME) {
      if (!host) return "HV_X64_MSR_VP_RUNTIME is read-only";
      this.runtimeOffset = BigInt.asUintN(64, value - this.#runtime100ns());
      return null;
    }
    if (msr === HV_MSR.VP_INDEX) return "HV_X64_MSR_VP_INDEX is set by the VMM only";
    if (msr === HV_MSR.VP_ASSIST_PAGE) return this.#setVpAssistPage(value);
    // Read-only; the VMM's write (a restore) is ignored.
    if (isFrequencyMsr(msr)) return host ? null : "the frequency MSRs are read-only";
    const offset = VAPIC_OFFSET.get(msr);
    if (offset !== undefined) {
      return this.#vapic === null ? NO_VAPIC : this.#vapic.vapicMsrWrite(offset, value);
    }
    if (HvSynic.owns(msr)) return this.synic.wrmsr(msr, value);
    if (isStimerMsr(msr)) {
      const t = this.stimers[(msr - HV_MSR.STIMER0_CONFIG) >> 1];
      if ((msr - HV_MSR.STIMER0_CONFIG) % 2 !== 0) return t.setCount(value);
      const direct = (value & BigInt(STIMER_CONFIG.DirectMode)) !== 0n;
      // Either check fails the write with #GP, whichever KVM makes first.
      if (
        this.enforceCpuid && direct && !hvHas(this.cpuidCache, "HV_STIMER_DIRECT_MODE_AVAILABLE")
      ) return "Hyper-V CPUID enforced: no HV_STIMER_DIRECT_MODE_AVAILABLE";
      return t.setConfig(value);
    }
    return undefined;
  }

  /** `current_task_runtime_100ns`: the vCPU thread's run time in 100 ns units. */
  #runtime100ns(): bigint {
    return BigInt(Math.floor(this.runtimeNs() / 100));
  }

  /** `kvm_hv_set_msr`'s HV_X64_MSR_VP_ASSIST_PAGE: null, or why KVM injects #GP. */
  #setVpAssistPage(value: bigint): string | null {
    const pv = this.#pvEoi;
    if ((value & HV_X64_MSR_VP_ASSIST_PAGE_ENABLE) === 0n) {
      this.hvVapic = value;
      pv?.setMsr(0n, 0);
      return null;
    }
    const gpa = (value >> HV_X64_MSR_VP_ASSIST_PAGE_ADDRESS_SHIFT) <<
      HV_X64_MSR_VP_ASSIST_PAGE_ADDRESS_SHIFT;
    if (pv === null) return "the VP assist page needs KVM's PV EOI state";
    if (gpa + BigInt(HV_VP_ASSIST_PAGE_SIZE) > BigInt(pv.memorySize())) {
      return `VP assist page 0x${gpa.toString(16)} is outside guest RAM (kvm_vcpu_gfn_to_hva)`;
    }
    // Only apic_assist is cleared: the rest may hold what a migration kept.
    pv.memory().write(Number(gpa), 32, 0n);
    this.hvVapic = value;
    pv.setMsr(gpa | HV_X64_MSR_VP_ASSIST_PAGE_ENABLE, HV_VP_ASSIST_PAGE_SIZE);
    return null;
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

/** Why KVM injects #GP for a SynDBG MSR the guest's CPUID does not enable (`syndbg_get_msr`). */
const NO_SYNDBG = "SynDBG is not enabled (HV_X64_SYNDBG_CAP_ALLOW_KERNEL_DEBUGGING)";

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
