/**
 * The partition-wide part of KVM's Hyper-V emulation that interrupt
 * delivery needs: HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL (which
 * fills the hypercall page with KVM's stub), HV_X64_MSR_TIME_REF_COUNT,
 * HV_X64_MSR_REFERENCE_TSC (the reference TSC page, below), and
 * the hypercalls of SynIC connections: HVCALL_SIGNAL_EVENT, which KVM
 * answers itself when KVM_HYPERV_EVENTFD bound the connection to an
 * eventfd, and HVCALL_POST_MESSAGE (and an unbound SIGNAL_EVENT), which
 * exit to userspace (KVM_EXIT_HYPERV_HCALL) for the VMM to answer; and the
 * PV IPIs HVCALL_SEND_IPI and HVCALL_SEND_IPI_EX, which KVM sends itself as
 * fixed edge interrupts to the vCPUs whose VP indexes the call names.
 *
 * The hypercall page KVM writes is `[0d 00 00 00 80] 0f 01 c1 c3`: `or
 * $0x80000000, %eax` only when Xen hypercalls are intercepted too (bit 31
 * of EAX tells the two apart), then the host's hypercall instruction
 * (`patch_hypercall`: VMCALL on Intel, VMMCALL `0f 01 d9` on AMD, the vm
 * setting `host_cpu`) and RET. The guest's hypercall is a call through that page, with the
 * 64-bit ABI: RCX the input (code in bits 15:0, fast bit 16, variable
 * header size 26:17, rep count 43:32, rep start 59:48), RDX the input GPA
 * (or the first fast argument), R8 the output GPA (or the second); an XMM
 * fast call (SEND_IPI_EX) continues in XMM0..XMM5, read as twelve 64-bit
 * halves, low half first. The status comes back in RAX. KVM also answers
 * HVCALL_NOTIFY_LONG_SPIN_WAIT (a yield: success), the TLB flushes
 * (HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE/LIST and their _EX forms: the input
 * read and checked as KVM reads it, then success with every rep done; the
 * model has no TLB to flush), the SynDBG calls (INVALID_HYPERCALL_CODE
 * without SynDBG, else OPERATION_DENIED: its options MSR is not modelled)
 * and the extended calls (HV_EXT_CALL_QUERY_CAPABILITIES and the 64 after
 * it: fast is INVALID_PARAMETER, slow exits to the VMM). Before any of it
 * the calling vCPU's Hyper-V CPUID is consulted
 * ({@link HvHypercallCpuid}, KVM_CAP_HYPERV_ENFORCE_CPUID): a missing
 * privilege is HV_STATUS_ACCESS_DENIED, checked before the reserved bits,
 * and an XMM fast call it does not allow raises #UD. Calls from 32-bit mode
 * or CPL > 0 (#UD) are not modelled.
 *
 * The reference TSC page (`struct ms_hyperv_tsc_page`: u32 tsc_sequence at
 * 0, u64 tsc_scale at 8, s64 tsc_offset at 16, the rest of the 4 KiB page
 * reserved) lets the guest compute the reference time from its TSC,
 * `((tsc * tsc_scale) >> 64) + tsc_offset`, retrying while tsc_sequence
 * changes and using the TIME_REF_COUNT MSR while it is 0. KVM takes any
 * value of HV_X64_MSR_REFERENCE_TSC (bit 0 enable, bits 63:12 the page;
 * bits 11:1 unchecked). Enabling it marks the page GUEST_CHANGED and
 * requests a master clock update, which the writer services as it
 * re-enters the guest, at once here (no time passes in a WRMSR exit): the
 * first `kvm_guest_time_update` then fills the page from its pvclock
 * parameters. It reads the old tsc_sequence, writes 0 there, and only with
 * a master clock (a stable-TSC host: `kvm_master_clock 1`, which puts
 * PVCLOCK_TSC_STABLE_BIT in the parameters) writes the whole page from its
 * own copy (zeroing what the guest kept in it) and then the old sequence
 * plus one (never 0 or 0xffffffff). Without one the page stays at sequence
 * 0 and is BROKEN until the guest writes the MSR again; so does a page
 * outside guest RAM. While the page is SET, TIME_REF_COUNT (and the
 * synthetic timers) read KVM's formula from its copy, which rounds down:
 * with the model's 1 GHz TSC the scale is floor(2^64 / 100) and the
 * offset `system_time / 100 - ((tsc_timestamp * scale) >> 64)` at the
 * update. A master clock update (KVM_SET_CLOCK, `vmm: kvm set_clock`)
 * marks a SET page HOST_CHANGED (`kvm_hv_request_tsc_page_update`) and the
 * next entry fills it again from the new kvmclock, unless the update is
 * unsafe (`tsc_page_update_unsafe`): the guest turned TSC emulation on
 * (HV_X64_MSR_TSC_EMULATION_CONTROL != 0, a Hyper-V guest that expects the
 * page to stay as it was until it has re-read the TSC frequency after a
 * migration) and the page was not the guest's own latest change. Then a
 * SET page stays as it is, and a HOST_CHANGED one (the VMM's restore of the
 * MSR) whose sequence is not 0 is taken as the guest left it: KVM reads the
 * page into its copy and calls it SET. HV_X64_MSR_REENLIGHTENMENT_CONTROL
 * and HV_X64_MSR_TSC_EMULATION_CONTROL are stored as written (KVM sends no
 * reenlightenment interrupt); HV_X64_MSR_TSC_EMULATION_STATUS takes only 0
 * from the guest.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`kvm_hv_set_msr_pw`,
 * `kvm_hv_get_msr_pw`, `kvm_hv_hypercall`, `kvm_hvcall_signal_event`,
 * `kvm_hv_flush_tlb`, `kvm_hv_get_hc_data`, `is_xmm_fast_hypercall`,
 * `kvm_hv_hypercall_complete`, `kvm_hv_send_ipi`, `kvm_hv_send_ipi_to_many`,
 * `hv_is_vp_in_sparse_set`, `kvm_get_sparse_vp_set`, `kvm_hv_get_hc_data`,
 * `is_xmm_fast_hypercall`, `kvm_vm_ioctl_hv_eventfd`,
 * `kvm_hv_eventfd_assign`, `kvm_hv_eventfd_deassign`,
 * `get_time_ref_counter`, `kvm_hv_setup_tsc_page`,
 * `compute_tsc_page_parameters`, `kvm_hv_request_tsc_page_update`,
 * `tsc_page_update_unsafe`, `kvm_hv_set_msr_pw` / `kvm_hv_get_msr_pw` for
 * HV_X64_MSR_REENLIGHTENMENT_CONTROL, _TSC_EMULATION_CONTROL, _STATUS),
 * x86.c (`kvm_vm_ioctl_set_clock`: the request, then
 * KVM_REQ_CLOCK_UPDATE on every vCPU),
 * arch/x86/include/asm/kvm_host.h (`enum hv_tsc_page_status`), x86.c
 * (`kvm_update_masterclock`, `kvm_guest_time_update`: any vCPU's update
 * may fill the page; PVCLOCK_TSC_STABLE_BIT only with the master clock),
 * include/hyperv/hvgdk.h (`struct ms_hyperv_tsc_page`,
 * HV_X64_MSR_TSC_REFERENCE_ENABLE, _ADDRESS_SHIFT), hyperv.h
 * (`kvm_hv_hypercall_enabled`: Hyper-V CPUID set and a guest OS ID),
 * arch/x86/kvm/x86.c (`kvm_emulate_hypercall`), xen.c (`kvm_xen_hypercall`:
 * bit 31 of EAX), include/hyperv/hvgdk_mini.h (HVCALL_POST_MESSAGE 0x5c,
 * HVCALL_SIGNAL_EVENT 0x5d, HVCALL_SEND_IPI 0x0b, HVCALL_SEND_IPI_EX 0x15,
 * HV_STATUS_*, HV_HYPERCALL_* fields, `struct hv_send_ipi`, `struct
 * hv_send_ipi_ex`, `struct hv_vpset`, HV_GENERIC_SET_*),
 * include/uapi/linux/kvm.h (`struct kvm_hyperv_eventfd`,
 * KVM_HYPERV_CONN_ID_MASK, KVM_HYPERV_EVENTFD_DEASSIGN, `struct
 * kvm_hyperv_exit`).
 *
 * @module
 */
import { HYPERCALL_INSN } from "./kvm_quirks.ts";
import type { StateHash } from "../core/platform.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import { HV_MSR, HV_PAGE_SIZE } from "./hyperv_synic.ts";
import { TSC_SHIFT_1GHZ, TSC_TO_SYSTEM_MUL_1GHZ } from "../xen/abi.ts";
import {
  HV_GENERIC_SET,
  HV_HYPERCALL,
  HV_HYPERCALL_MAX_XMM_REGISTERS,
  HV_STATUS,
  HV_TSC_PAGE,
  HVCALL,
  isPartitionMsr,
  isSyndbgMsr,
  KVM_HYPERV_CONN_ID_MASK,
  KVM_HYPERV_EVENTFD_DEASSIGN,
} from "./hyperv_abi.ts";
export {
  HV_GENERIC_SET,
  HV_HYPERCALL,
  HV_HYPERCALL_MAX_XMM_REGISTERS,
  HV_STATUS,
  HV_TSC_PAGE,
  HVCALL,
  isSyndbgMsr,
  KVM_EXIT_HYPERV,
  KVM_HYPERV_CONN_ID_MASK,
  KVM_HYPERV_EVENTFD_DEASSIGN,
} from "./hyperv_abi.ts";

/** HV_EXPOSE_INVARIANT_TSC (bit 0 of HV_X64_MSR_TSC_INVARIANT_CONTROL). */
export const HV_EXPOSE_INVARIANT_TSC = 1n;
/** HV_X64_SYNDBG_OPTION_USE_HCALLS (bit 2 of HV_X64_MSR_SYNDBG_OPTIONS). */
export const HV_X64_SYNDBG_OPTION_USE_HCALLS = 1n << 2n;

/** HV_CRASH_CTL_CRASH_NOTIFY (bit 63 of HV_X64_MSR_CRASH_CTL). */
export const HV_CRASH_CTL_CRASH_NOTIFY = 1n << 63n;
/** HV_X64_MSR_REFERENCE_TSC bit 0: the page is enabled (HV_X64_MSR_TSC_REFERENCE_ENABLE). */
export const HV_X64_MSR_TSC_REFERENCE_ENABLE = 1n;
/** HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT: the MSR's bits 63:12 are the page's frame. */
export const HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT = 12n;

/**
 * `struct ms_hyperv_tsc_page`'s byte offsets (u32 tsc_sequence, u32
 * reserved1, u64 tsc_scale, s64 tsc_offset, u64 reserved2[509]) and size.
 *
 * @example
 * ```ts
 * MS_HYPERV_TSC_PAGE.tsc_scale; // 8
 * ```
 */
export const MS_HYPERV_TSC_PAGE = {
  tsc_sequence: 0,
  reserved1: 4,
  tsc_scale: 8,
  tsc_offset: 16,
  size: 4096,
} as const;

/** KVM's copy of the page's fields (`kvm_hv.tsc_ref`); the reserved ones stay 0. */
export interface HvTscRef {
  /** tsc_sequence: 0 while the guest must use the MSR. */
  sequence: number;
  /** tsc_scale: reference time per TSC tick, as a 64.64 fraction. */
  scale: bigint;
  /** tsc_offset (s64, kept as its 64 bits). */
  offset: bigint;
}

/** HV_IPI_LOW_VECTOR and HV_IPI_HIGH_VECTOR: the vectors a PV IPI may carry. */
export const HV_IPI_VECTORS = { low: 0x10, high: 0xff } as const;
/** HV_MAX_SPARSE_VCPU_BANKS: a VP set names at most 64 banks of 64 VPs. */
const HV_MAX_SPARSE_VCPU_BANKS = 64;
/** `struct hv_send_ipi`'s byte offsets: u32 vector, u32 reserved, u64 cpu_mask; its size. */
const HV_SEND_IPI = { vector: 0, cpuMask: 8, size: 16 } as const;
/**
 * `struct hv_send_ipi_ex`'s byte offsets: u32 vector, u32 reserved, then `struct hv_vpset`
 * (u64 format, u64 valid_bank_mask, u64 bank_contents[]).
 */
const HV_SEND_IPI_EX = { vector: 0, format: 8, validBankMask: 16, bankContents: 24 } as const;

/** HV_X64_MSR_HYPERCALL bit 0: the hypercall page is enabled. */
export const HV_X64_MSR_HYPERCALL_ENABLE = 1n;

/** The byte of `or $imm32, %eax` that KVM puts before VMCALL when Xen hypercalls are intercepted too. */
const OR_EAX_IMM32 = 0x0d;
/** VMCALL (Intel), the hypercall instruction unless the host says otherwise. */
const VMCALL: readonly number[] = HYPERCALL_INSN.vmcall;
const RET = 0xc3;

/** What the partition reaches outside itself. */
export interface HvPartitionHost {
  /** The VM's guest RAM. */
  mem(): GuestMemory;
  /** KVM's kvmclock in ns: the reference time is it / 100 (`get_time_ref_counter`) without a TSC page. */
  kvmclockNs(): number;
  /** vCPU 0's TSC now (`kvm_read_l1_tsc`). */
  tsc(): bigint;
  /**
   * vCPU 0's pvclock `tsc_shift` and `tsc_to_system_mul` (`kvm_guest_time_update`
   * from its scaled TSC rate). Absent: the 1 GHz TSC's.
   */
  tscScale?(): { shift: number; mul: number };
  /**
   * KVM keeps a master clock (`use_master_clock`, the setting
   * `kvm_master_clock`): the pvclock parameters carry PVCLOCK_TSC_STABLE_BIT.
   */
  masterClock(): boolean;
  /** `kvm_xen_hypercall_enabled`: Xen hypercalls are intercepted (KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL). */
  xenHypercalls(): boolean;
  /** The host's hypercall instruction (`patch_hypercall`); absent: VMCALL, Intel's. */
  hypercallInsn?(): readonly number[];
  /** Signals eventfd `fd` (`eventfd_signal`). */
  signal(fd: number): void;
  /** Whether vCPU `n` has an active SynIC (a POST_MESSAGE exit needs one). */
  synicActive(n: number): boolean;
  /** Whether the vCPUs have in-kernel LAPICs (`lapic_in_kernel`). */
  lapicInKernel(): boolean;
  /**
   * `kvm_hv_send_ipi_to_many`: a fixed edge interrupt of `vector` to every
   * vCPU whose VP index `inSet` accepts (every vCPU when null), through
   * `kvm_apic_set_irq` (an APIC that is disabled drops it).
   */
  sendIpi(vector: number, inSet: ((vp: number) => boolean) | null): void;
  /** Records what happened, or nothing. */
  emit?(kind: string, detail: string): void;
}

/** A hypercall's outcome: a status for RAX, or an exit to the VMM. */
export type HvHypercallResult =
  | { readonly status: number }
  | { readonly exit: { readonly input: bigint; readonly params: readonly [bigint, bigint] } }
  | { readonly ud: string };

/**
 * What the calling vCPU's Hyper-V CPUID lets it do (KVM's `cpuid_cache`
 * and `enforce_cpuid`, `lib/x86/hyperv_cpuid.ts`).
 */
export interface HvHypercallCpuid {
  /** `hv_check_hypercall_access`: false makes the call HV_STATUS_ACCESS_DENIED. */
  allowed(code: number): boolean;
  /** An XMM fast call raises #UD (enforced, HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE clear). */
  xmmRefused(): boolean;
  /** `kvm_hv_is_syndbg_enabled`. */
  syndbg(): boolean;
}

/** The CPUID of a vCPU that may make every call and has no SynDBG (no enforcement). */
const OPEN_CPUID: HvHypercallCpuid = {
  allowed: () => true,
  xmmRefused: () => false,
  syndbg: () => false,
};

/** `is_xmm_fast_hypercall`: the calls whose fast form reads the XMM registers. */
function isXmmFast(code: number): boolean {
  return code === HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST ||
    code === HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE ||
    code === HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST_EX ||
    code === HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE_EX || code === HVCALL.SEND_IPI_EX;
}

/** KVM_HV_TLB_FLUSH_FIFO_SIZE - 1: a longer GVA list is flushed whole, unread. */
const TLB_FLUSH_ENTRIES = 15;
/** `struct hv_tlb_flush` (address_space, flags, processor_mask) and `struct hv_tlb_flush_ex`'s fixed part. */
const HV_TLB_FLUSH_SIZE = 24, HV_TLB_FLUSH_EX_SIZE = 32;

/**
 * One VM's Hyper-V partition state (`struct kvm_hv`, the parts modelled).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * import { HV_MSR } from "./hyperv_synic.ts";
 * const mem = new GuestMemory(0x10000);
 * const p = new HvPartition({
 *   mem: () => mem,
 *   kvmclockNs: () => 0,
 *   tsc: () => 0n,
 *   masterClock: () => true,
 *   xenHypercalls: () => false,
 *   signal: () => {},
 *   synicActive: () => true,
 *   lapicInKernel: () => true,
 *   sendIpi: () => {},
 * });
 * p.wrmsr(HV_MSR.GUEST_OS_ID, 0x8f00n << 48n);
 * p.wrmsr(HV_MSR.HYPERCALL, 0x3001n); // the stub is at 0x3000
 * ```
 */
export class HvPartition {
  /** HV_X64_MSR_GUEST_OS_ID (`hv_guest_os_id`). */
  guestOsId = 0n;
  /** HV_X64_MSR_HYPERCALL (`hv_hypercall`). */
  hypercall = 0n;
  /** HV_X64_MSR_REFERENCE_TSC (`hv_tsc_page`). */
  referenceTsc = 0n;
  /** `hv_tsc_page_status`, one of {@link HV_TSC_PAGE}. */
  tscPageStatus: number = HV_TSC_PAGE.UNSET;
  /** KVM's copy of the page (`tsc_ref`), what it last wrote there. */
  readonly tscRef: HvTscRef = { sequence: 0, scale: 0n, offset: 0n };
  /** HV_X64_MSR_REENLIGHTENMENT_CONTROL (`hv_reenlightenment_control`): stored only. */
  reenlightenmentControl = 0n;
  /** HV_X64_MSR_TSC_EMULATION_CONTROL (`hv_tsc_emulation_control`): non-zero keeps the page. */
  tscEmulationControl = 0n;
  /** HV_X64_MSR_TSC_EMULATION_STATUS (`hv_tsc_emulation_status`). */
  tscEmulationStatus = 0n;
  /** HV_X64_MSR_CRASH_P0..P4 (`hv_crash_param`): what the guest reports with a crash. */
  readonly crashParams: bigint[] = [0n, 0n, 0n, 0n, 0n];
  /** HV_X64_MSR_CRASH_CTL (`hv_crash_ctl`): the VMM sets CRASH_NOTIFY to offer crash reports. */
  crashCtl = 0n;
  /** HV_X64_MSR_TSC_INVARIANT_CONTROL (`hv_invtsc_control`): bit 0 exposes the invariant TSC. */
  invtscControl = 0n;
  /**
   * The SynDBG MSRs (`hv_syndbg`): CONTROL, STATUS, SEND_BUFFER,
   * RECV_BUFFER, PENDING_BUFFER (0x400000f1..f5) by their offset from
   * CONTROL, and OPTIONS.
   */
  readonly syndbg: bigint[] = [0n, 0n, 0n, 0n, 0n];
  /** HV_X64_MSR_SYNDBG_OPTIONS: HV_X64_SYNDBG_OPTION_USE_HCALLS sends the debug hypercalls to the VMM. */
  syndbgOptions = 0n;
  /** KVM_HYPERV_EVENTFD's table (`conn_to_evt`): connection ID -> eventfd. */
  readonly connToEvt: Map<number, number> = new Map();
  readonly #host: HvPartitionHost;

  /** The partition of a VM whose surroundings are `host`. */
  constructor(host: HvPartitionHost) {
    this.#host = host;
  }

  /** Feeds `h` the partition's state. */
  hashFields(h: StateHash): void {
    h.big(this.guestOsId);
    h.big(this.hypercall);
    h.big(this.referenceTsc);
    h.n(this.tscPageStatus);
    h.n(this.tscRef.sequence);
    h.big(this.tscRef.scale);
    h.big(this.tscRef.offset);
    h.big(this.reenlightenmentControl);
    h.big(this.tscEmulationControl);
    h.big(this.tscEmulationStatus);
    for (const c of this.crashParams) h.big(c);
    h.big(this.crashCtl);
    h.big(this.invtscControl);
    for (const c of this.syndbg) h.big(c);
    h.big(this.syndbgOptions);
    for (const [c, fd] of [...this.connToEvt].sort((a, b) => a[0] - b[0])) (h.n(c), h.n(fd));
  }

  /** Whether `msr` is one of the partition-wide MSRs modelled. */
  static owns(msr: number): boolean {
    return isPartitionMsr(msr);
  }

  /**
   * The partition reference time in 100 ns units (`get_time_ref_counter`):
   * from the TSC page's parameters while it is SET, else kvmclock / 100.
   */
  refTime(): bigint {
    if (this.tscPageStatus !== HV_TSC_PAGE.SET) {
      return BigInt(Math.floor(this.#host.kvmclockNs() / 100));
    }
    const r = this.tscRef;
    return BigInt.asUintN(64, ((this.#host.tsc() * r.scale) >> 64n) + r.offset);
  }

  /** `kvm_hv_get_msr_pw`. */
  rdmsr(msr: number): bigint {
    if (msr === HV_MSR.GUEST_OS_ID) return this.guestOsId;
    if (msr === HV_MSR.HYPERCALL) return this.hypercall;
    if (msr === HV_MSR.REFERENCE_TSC) return this.referenceTsc;
    if (msr === HV_MSR.REENLIGHTENMENT_CONTROL) return this.reenlightenmentControl;
    if (msr === HV_MSR.TSC_EMULATION_CONTROL) return this.tscEmulationControl;
    if (msr === HV_MSR.TSC_EMULATION_STATUS) return this.tscEmulationStatus;
    if (msr >= HV_MSR.CRASH_P0 && msr <= HV_MSR.CRASH_P4) {
      return this.crashParams[msr - HV_MSR.CRASH_P0];
    }
    if (msr === HV_MSR.CRASH_CTL) return this.crashCtl;
    if (msr === HV_MSR.RESET) return 0n;
    if (msr === HV_MSR.TSC_INVARIANT_CONTROL) return this.invtscControl;
    if (msr === HV_MSR.SYNDBG_OPTIONS) return this.syndbgOptions;
    if (isSyndbgMsr(msr)) return this.syndbg[msr - HV_MSR.SYNDBG_CONTROL];
    return this.refTime();
  }

  /**
   * A master clock update (KVM_SET_CLOCK's `kvm_hv_request_tsc_page_update`,
   * then KVM_REQ_CLOCK_UPDATE): the vCPU's next entry, at once here, fills
   * the page again unless the update is unsafe.
   */
  clockUpdate(): void {
    if (this.tscPageStatus === HV_TSC_PAGE.SET && !this.#updateUnsafe()) {
      this.tscPageStatus = HV_TSC_PAGE.HOST_CHANGED;
    }
    this.#setupTscPage();
  }

  /**
   * `tsc_page_update_unsafe`: the guest turned TSC emulation on and the
   * page is not its own latest change, so KVM must leave it as it is.
   */
  #updateUnsafe(): boolean {
    return this.tscPageStatus !== HV_TSC_PAGE.GUEST_CHANGED && this.tscEmulationControl !== 0n;
  }

  /**
   * A write of HV_X64_MSR_REFERENCE_TSC (`kvm_hv_set_msr_pw`), the guest's
   * or (`host`) the VMM's KVM_SET_MSRS: any value is taken; enabling marks
   * the page GUEST_CHANGED or HOST_CHANGED and asks for a master clock
   * update (KVM_REQ_MASTERCLOCK_UPDATE), which the vCPU services as it
   * next enters the guest, here at once (the model's vCPU runs on right
   * after an exit or a VMM ioctl).
   */
  #setReferenceTsc(value: bigint, host: boolean): void {
    this.referenceTsc = value;
    if ((value & HV_X64_MSR_TSC_REFERENCE_ENABLE) === 0n) {
      this.tscPageStatus = HV_TSC_PAGE.UNSET;
      return;
    }
    this.tscPageStatus = host ? HV_TSC_PAGE.HOST_CHANGED : HV_TSC_PAGE.GUEST_CHANGED;
    this.#masterClockUpdate();
  }

  /**
   * `kvm_update_masterclock` (a SET page becomes HOST_CHANGED,
   * `kvm_hv_request_tsc_page_update`), then the first vCPU's
   * `kvm_guest_time_update`, which calls `kvm_hv_setup_tsc_page` with the
   * clock's parameters taken now.
   */
  #masterClockUpdate(): void {
    this.clockUpdate();
  }

  /** `kvm_hv_setup_tsc_page`. */
  #setupTscPage(): void {
    const s = this.tscPageStatus;
    if (s === HV_TSC_PAGE.BROKEN || s === HV_TSC_PAGE.SET || s === HV_TSC_PAGE.UNSET) return;
    if ((this.referenceTsc & HV_X64_MSR_TSC_REFERENCE_ENABLE) === 0n) return;
    const gpa = (this.referenceTsc >> HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT) <<
      HV_X64_MSR_TSC_REFERENCE_ADDRESS_SHIFT;
    const mem = this.#host.mem(), P = MS_HYPERV_TSC_PAGE;
    const broken = (why: string) => {
      this.tscPageStatus = HV_TSC_PAGE.BROKEN;
      this.#host.emit?.("hv.tsc_page", `reference TSC page at 0x${gpa.toString(16)}: ${why}`);
    };
    // kvm_read_guest / kvm_write_guest fail outside the memslots.
    if (gpa + BigInt(P.size) > BigInt(mem.size)) return broken("outside guest RAM (BROKEN)");
    const at = Number(gpa);
    let seq = Number(mem.read(at + P.tsc_sequence, 32));
    if (seq !== 0 && this.#updateUnsafe()) {
      // The page as the guest has it becomes KVM's copy.
      this.tscRef.sequence = seq;
      this.tscRef.scale = mem.readBig(at + P.tsc_scale, 64);
      this.tscRef.offset = mem.readBig(at + P.tsc_offset, 64);
      this.tscPageStatus = HV_TSC_PAGE.SET;
      this.#host.emit?.(
        "hv.tsc_page",
        `reference TSC page at 0x${gpa.toString(16)}: kept (TSC emulation on)`,
      );
      return;
    }
    // While computing and writing, the guest must use the MSR.
    this.tscRef.sequence = 0;
    mem.write(at + P.tsc_sequence, 32, 0n);
    if (!this.#computeParameters()) {
      return broken("no master clock: tsc_sequence 0 (BROKEN, TIME_REF_COUNT from kvmclock)");
    }
    const page = new Uint8Array(P.size), view = new DataView(page.buffer);
    view.setBigUint64(P.tsc_scale, this.tscRef.scale, true);
    view.setBigUint64(P.tsc_offset, this.tscRef.offset, true);
    mem.store(at, page);
    seq = (seq + 1) >>> 0;
    if (seq === 0xffff_ffff || seq === 0) seq = 1;
    this.tscRef.sequence = seq;
    mem.write(at + P.tsc_sequence, 32, BigInt(seq));
    this.tscPageStatus = HV_TSC_PAGE.SET;
    this.#host.emit?.(
      "hv.tsc_page",
      `reference TSC page at 0x${gpa.toString(16)}: sequence ${seq}, scale 0x${
        this.tscRef.scale.toString(16)
      }, offset 0x${this.tscRef.offset.toString(16)}`,
    );
  }

  /**
   * `compute_tsc_page_parameters` from the pvclock parameters KVM has now
   * (`kvm_guest_time_update`): vCPU 0's multiplier and shift (its TSC rate,
   * 1 GHz unless KVM_SET_TSC_KHZ scaled it),
   * system_time the kvmclock and tsc_timestamp the TSC at the master
   * clock's snapshot. False without PVCLOCK_TSC_STABLE_BIT (no master
   * clock) or when the scale would not fit 64 bits.
   */
  #computeParameters(): boolean {
    const h = this.#host;
    if (!h.masterClock()) return false;
    const s = h.tscScale?.();
    const mul = BigInt(s?.mul ?? TSC_TO_SYSTEM_MUL_1GHZ),
      shift = BigInt(s?.shift ?? TSC_SHIFT_1GHZ);
    if (mul >= 100n << (32n - shift)) return false;
    const scale = BigInt.asUintN(64, ((1n << (32n + shift)) * mul) / 100n);
    const systemTime = BigInt(Math.floor(h.kvmclockNs())), tscTimestamp = h.tsc();
    this.tscRef.scale = scale;
    this.tscRef.offset = BigInt.asUintN(64, systemTime / 100n - ((tscTimestamp * scale) >> 64n));
    return true;
  }

  /**
   * `kvm_hv_set_msr_pw`, from the guest or (`host`) the VMM's KVM_SET_MSRS:
   * null, or why KVM injects #GP (the VMM's ioctl fails instead).
   */
  wrmsr(msr: number, value: bigint, host = false): string | null {
    if (msr === HV_MSR.GUEST_OS_ID) {
      this.guestOsId = value;
      // A zero guest OS ID disables the hypercall page.
      if (value === 0n) this.hypercall &= ~HV_X64_MSR_HYPERCALL_ENABLE;
      return null;
    }
    // Read-only, but a VMM's write (a restore) is ignored.
    if (msr === HV_MSR.TIME_REF_COUNT) {
      return host ? null : "HV_X64_MSR_TIME_REF_COUNT is read-only";
    }
    if (msr === HV_MSR.REFERENCE_TSC) {
      this.#setReferenceTsc(value, host);
      return null;
    }
    if (msr === HV_MSR.REENLIGHTENMENT_CONTROL) {
      this.reenlightenmentControl = value;
      return null;
    }
    if (msr === HV_MSR.TSC_EMULATION_CONTROL) {
      this.tscEmulationControl = value;
      return null;
    }
    if (msr >= HV_MSR.CRASH_P0 && msr <= HV_MSR.CRASH_P4) {
      this.crashParams[msr - HV_MSR.CRASH_P0] = value;
      return null;
    }
    // The VMM offers crash reports; the guest's CRASH_NOTIFY is the vCPU's exit (HvVcpu).
    if (msr === HV_MSR.CRASH_CTL) {
      if (host) this.crashCtl = value & HV_CRASH_CTL_CRASH_NOTIFY;
      return null;
    }
    // A write of 1 is the vCPU's reset request (HvVcpu); nothing is stored.
    if (msr === HV_MSR.RESET) return null;
    if (msr === HV_MSR.TSC_INVARIANT_CONTROL) {
      if ((value & ~HV_EXPOSE_INVARIANT_TSC) !== 0n) return "only bit 0 of TSC_INVARIANT_CONTROL";
      // Once exposed, the guest cannot take it back.
      if (!host && this.invtscControl !== 0n && value === 0n) {
        return "the guest cannot clear TSC_INVARIANT_CONTROL";
      }
      this.invtscControl = value;
      return null;
    }
    if (msr === HV_MSR.SYNDBG_OPTIONS) {
      this.syndbgOptions = value;
      return null;
    }
    if (isSyndbgMsr(msr)) {
      this.syndbg[msr - HV_MSR.SYNDBG_CONTROL] = value;
      return null;
    }
    if (msr === HV_MSR.TSC_EMULATION_STATUS) {
      if (value !== 0n && !host) {
        return "HV_X64_MSR_TSC_EMULATION_STATUS takes only 0 from the guest";
      }
      this.tscEmulationStatus = value;
      return null;
    }
    // Without a guest OS ID the write is ignored: the page stays disabled.
    if (this.guestOsId === 0n) {
      this.#host.emit?.("hv.hypercall_msr", "ignored: no guest OS ID");
      return null;
    }
    if ((value & HV_X64_MSR_HYPERCALL_ENABLE) === 0n) {
      this.hypercall = value;
      return null;
    }
    const stub = this.#stub();
    const addr = value & ~BigInt(HV_PAGE_SIZE - 1);
    const mem = this.#host.mem();
    if (addr + BigInt(stub.length) > BigInt(mem.size)) {
      return `hypercall page 0x${addr.toString(16)} is outside guest RAM`;
    }
    mem.store(Number(addr), stub);
    this.hypercall = value;
    this.#host.emit?.("hv.hypercall_page", `hypercall page at 0x${addr.toString(16)}`);
    return null;
  }

  /** The bytes `kvm_hv_set_msr_pw` writes to the hypercall page. */
  #stub(): Uint8Array {
    const xen = this.#host.xenHypercalls();
    const out = xen ? [OR_EAX_IMM32, 0, 0, 0, 0x80] : [];
    return new Uint8Array([...out, ...this.#insn(), RET]);
  }

  /** The host's hypercall instruction's bytes. */
  #insn(): readonly number[] {
    return this.#host.hypercallInsn?.() ?? VMCALL;
  }

  /** `kvm_hv_hypercall_enabled`: a guest OS ID is set (the Hyper-V CPUID is the caller's to check). */
  hypercallsEnabled(): boolean {
    return this.guestOsId !== 0n;
  }

  /**
   * What a call through the hypercall page puts in EAX before its VMCALL
   * (VMMCALL on AMD): `eax | 0x80000000` when the page starts with KVM's
   * `or` for Xen, `eax` when it starts with the host's hypercall
   * instruction; null when the page holds neither (never filled, or
   * overwritten).
   */
  pageEax(eax: bigint): bigint | null {
    const mem = this.#host.mem();
    const at = Number(this.hypercall & ~BigInt(HV_PAGE_SIZE - 1));
    if (!mem.contains(at, 9)) return null;
    const b = (i: number) => mem.byte(at + i);
    const insn = this.#insn();
    const isVmcall = (i: number) =>
      b(i) === insn[0] && b(i + 1) === insn[1] && b(i + 2) === insn[2];
    if (b(0) === OR_EAX_IMM32 && mem.read(at + 1, 32) === 0x8000_0000 && isVmcall(5)) {
      return eax | 0x8000_0000n;
    }
    return isVmcall(0) ? eax : null;
  }

  /**
   * `kvm_hv_hypercall` for a 64-bit caller at CPL 0 on vCPU `n`: RCX the
   * input, RDX the input GPA or first fast argument, R8 the output GPA or
   * second fast argument, `xmm` the XMM registers' halves (XMM0 low, XMM0
   * high, XMM1 low, ...; missing ones read 0).
   */
  hypercall64(
    n: number,
    rcx: bigint,
    rdx: bigint,
    r8: bigint,
    xmm: readonly bigint[] = [],
    cpuid: HvHypercallCpuid = OPEN_CPUID,
  ): HvHypercallResult {
    const H = HVCALL, S = HV_STATUS;
    const code = Number(rcx & HV_HYPERCALL.CodeMask);
    const fast = (rcx & HV_HYPERCALL.Fast) !== 0n;
    const count = Number((rcx & HV_HYPERCALL.VarheadMask) >> 17n);
    const varCnt = count !== 0;
    const repCnt = Number((rcx & HV_HYPERCALL.RepCompMask) >> 32n);
    const repIdx = Number((rcx & HV_HYPERCALL.RepStartMask) >> 48n);
    const rep = repCnt !== 0 || repIdx !== 0;
    if (!cpuid.allowed(code)) return { status: S.ACCESS_DENIED };
    if ((rcx & HV_HYPERCALL.RsvdMask) !== 0n) return { status: S.INVALID_HYPERCALL_INPUT };
    if (fast && isXmmFast(code) && cpuid.xmmRefused()) {
      return { ud: "XMM fast hypercall without HV_X64_HYPERCALL_XMM_INPUT_AVAILABLE" };
    }
    const input = { status: S.INVALID_HYPERCALL_INPUT };
    switch (code) {
      case H.NOTIFY_LONG_SPIN_WAIT:
        // kvm_vcpu_on_spin: a yield the model does not schedule.
        return rep || varCnt ? input : { status: S.SUCCESS };
      case H.SEND_IPI:
      case H.SEND_IPI_EX:
        // SEND_IPI takes no variable header; neither is a rep call.
        if ((code === H.SEND_IPI && varCnt) || rep) return input;
        return { status: this.#sendIpi(code === H.SEND_IPI_EX, fast, count, rdx, r8, xmm) };
      case H.FLUSH_VIRTUAL_ADDRESS_LIST:
      case H.FLUSH_VIRTUAL_ADDRESS_LIST_EX:
        if (code === H.FLUSH_VIRTUAL_ADDRESS_LIST && varCnt) return input;
        if (repCnt === 0 || repIdx !== 0) return input;
        return { status: this.#flushTlb(code, fast, count, repCnt, rdx, xmm) };
      case H.FLUSH_VIRTUAL_ADDRESS_SPACE:
      case H.FLUSH_VIRTUAL_ADDRESS_SPACE_EX:
        if (code === H.FLUSH_VIRTUAL_ADDRESS_SPACE && varCnt) return input;
        if (rep) return input;
        return { status: this.#flushTlb(code, fast, count, repCnt, rdx, xmm) };
      case H.POST_DEBUG_DATA:
      case H.RETRIEVE_DEBUG_DATA:
      case H.RESET_DEBUG_SESSION:
        if (fast && code !== H.RESET_DEBUG_SESSION) return { status: S.INVALID_PARAMETER };
        if (!cpuid.syndbg()) return { status: S.INVALID_HYPERCALL_CODE };
        if ((this.syndbgOptions & HV_X64_SYNDBG_OPTION_USE_HCALLS) === 0n) {
          return { status: S.OPERATION_DENIED };
        }
        return { exit: { input: rcx, params: [rdx, r8] } };
      case H.SIGNAL_EVENT: {
        if (rep || varCnt) return input;
        const s = this.#signalEvent(fast, rdx);
        if (s !== S.INVALID_PORT_ID) return { status: s };
        // Maybe the VMM knows this connection: on to POST_MESSAGE's exit.
      }
      /* falls through */
      case H.POST_MESSAGE:
        if (rep || varCnt || !this.#host.synicActive(n)) return input;
        return { exit: { input: rcx, params: [rdx, r8] } };
    }
    if (code >= H.EXT_CALL_QUERY_CAPABILITIES && code <= H.EXT_CALL_QUERY_CAPABILITIES + 64) {
      return fast ? { status: S.INVALID_PARAMETER } : { exit: { input: rcx, params: [rdx, r8] } };
    }
    return { status: S.INVALID_HYPERCALL_CODE };
  }

  /**
   * `kvm_hv_flush_tlb` for a caller not in guest mode: the input checked as
   * KVM reads it (a fast call's from RDX, R8 and the XMM halves, a slow
   * call's `struct hv_tlb_flush` or `hv_tlb_flush_ex`, its sparse banks and
   * then its GVA list, from guest memory at `ingpa`); the flush itself is
   * nothing the model can show (it has no TLB). Succeeds with every rep
   * done: HV_STATUS_SUCCESS | rep_cnt << 32.
   */
  #flushTlb(
    code: number,
    fast: boolean,
    varCnt: number,
    repCnt: number,
    ingpa: bigint,
    xmm: readonly bigint[],
  ): number {
    const mem = this.#host.mem(), bad = HV_STATUS.INVALID_HYPERCALL_INPUT;
    const inRam = (at: bigint, bytes: number) => at >= 0n && at + BigInt(bytes) <= BigInt(mem.size);
    const done = HV_STATUS.SUCCESS + repCnt * 2 ** 32;
    const ex = code === HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE_EX ||
      code === HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST_EX;
    let consumed = 0, offset = 0;
    if (!ex) {
      if (fast) consumed = 1;
      else if (!inRam(ingpa, HV_TLB_FLUSH_SIZE)) return bad;
      else offset = HV_TLB_FLUSH_SIZE;
    } else {
      let format: bigint, validBanks: bigint;
      if (fast) {
        format = BigInt.asUintN(64, xmm[0] ?? 0n);
        validBanks = BigInt.asUintN(64, xmm[1] ?? 0n);
        consumed = 2;
      } else {
        if (!inRam(ingpa, HV_TLB_FLUSH_EX_SIZE)) return bad;
        format = mem.readBig(Number(ingpa) + 16, 64);
        validBanks = mem.readBig(Number(ingpa) + 24, 64);
        offset = HV_TLB_FLUSH_EX_SIZE;
      }
      let weight = 0;
      for (let b = validBanks; b !== 0n; b &= b - 1n) weight++;
      if (varCnt !== weight) return bad;
      if (format === BigInt(HV_GENERIC_SET.SPARSE_4K)) {
        if (varCnt === 0) return done;
        if (varCnt > HV_MAX_SPARSE_VCPU_BANKS) return bad;
        if (
          fast
            ? varCnt > 2 * HV_HYPERCALL_MAX_XMM_REGISTERS - consumed
            : !inRam(ingpa + BigInt(offset), varCnt * 8)
        ) {
          return bad;
        }
      }
      // The banks are skipped over, as KVM does even for a set of every VP.
      if (fast) consumed += varCnt;
      else offset += varCnt * 8;
    }
    const list = code === HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST ||
      code === HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST_EX;
    if (list && repCnt <= TLB_FLUSH_ENTRIES) {
      if (
        fast
          ? repCnt > 2 * HV_HYPERCALL_MAX_XMM_REGISTERS - consumed
          : !inRam(ingpa + BigInt(offset), repCnt * 8)
      ) {
        return bad;
      }
    }
    return done;
  }

  /**
   * `kvm_hv_send_ipi`: the vector and VP set from guest memory at `ingpa`
   * (`struct hv_send_ipi`, or `struct hv_send_ipi_ex` with `varCnt` banks
   * after it), or from the registers of a fast call (SEND_IPI: vector in
   * RDX bits 31:0 whose bits 63:32 must be 0, the 64-VP mask in R8;
   * SEND_IPI_EX: vector in RDX, format in R8, valid_bank_mask in XMM0's low
   * half, the banks in the halves after it). The set's format is ALL or
   * else sparse; `varCnt` must count valid_bank_mask's bits; a sparse set
   * with no banks sends nothing and succeeds before the vector is checked.
   */
  #sendIpi(
    ex: boolean,
    fast: boolean,
    varCnt: number,
    ingpa: bigint,
    outgpa: bigint,
    xmm: readonly bigint[],
  ): number {
    const h = this.#host;
    if (!h.lapicInKernel()) return HV_STATUS.INVALID_HYPERCALL_INPUT;
    const mem = h.mem();
    const read = (at: bigint, bytes: number): boolean =>
      at >= 0n && at + BigInt(bytes) <= BigInt(mem.size);
    const u64At = (at: bigint) => mem.readBig(Number(at), 64);
    const half = (i: number) => BigInt.asUintN(64, xmm[i] ?? 0n);
    let vector: number, validBanks: bigint, all = false;
    const banks: bigint[] = [];
    if (!ex) {
      if (!fast) {
        if (!read(ingpa, HV_SEND_IPI.size)) return HV_STATUS.INVALID_HYPERCALL_INPUT;
        vector = Number(mem.read(Number(ingpa) + HV_SEND_IPI.vector, 32));
        banks.push(u64At(ingpa + BigInt(HV_SEND_IPI.cpuMask)));
      } else {
        if (ingpa >> 32n !== 0n) return HV_STATUS.INVALID_HYPERCALL_INPUT;
        vector = Number(ingpa);
        banks.push(outgpa);
      }
      validBanks = 1n;
    } else {
      let format: bigint;
      if (!fast) {
        if (!read(ingpa, HV_SEND_IPI_EX.bankContents)) return HV_STATUS.INVALID_HYPERCALL_INPUT;
        vector = Number(mem.read(Number(ingpa) + HV_SEND_IPI_EX.vector, 32));
        format = u64At(ingpa + BigInt(HV_SEND_IPI_EX.format));
        validBanks = u64At(ingpa + BigInt(HV_SEND_IPI_EX.validBankMask));
      } else {
        vector = Number(ingpa & 0xffff_ffffn);
        format = outgpa;
        validBanks = half(0);
      }
      all = format === BigInt(HV_GENERIC_SET.ALL);
      if (varCnt !== popcount64(validBanks)) return HV_STATUS.INVALID_HYPERCALL_INPUT;
      if (!all) {
        if (varCnt === 0) return HV_STATUS.SUCCESS;
        if (varCnt > HV_MAX_SPARSE_VCPU_BANKS) return HV_STATUS.INVALID_HYPERCALL_INPUT;
        if (fast) {
          // XMM0's high half onwards: eleven halves are left for the banks.
          if (varCnt > 2 * HV_HYPERCALL_MAX_XMM_REGISTERS - 1) {
            return HV_STATUS.INVALID_HYPERCALL_INPUT;
          }
          for (let i = 0; i < varCnt; i++) banks.push(half(1 + i));
        } else {
          const at = ingpa + BigInt(HV_SEND_IPI_EX.bankContents);
          if (!read(at, 8 * varCnt)) return HV_STATUS.INVALID_HYPERCALL_INPUT;
          for (let i = 0; i < varCnt; i++) banks.push(u64At(at + BigInt(8 * i)));
        }
      }
    }
    if (vector < HV_IPI_VECTORS.low || vector > HV_IPI_VECTORS.high) {
      return HV_STATUS.INVALID_HYPERCALL_INPUT;
    }
    h.emit?.(
      "hv.send_ipi",
      `vector 0x${vector.toString(16)} to ${
        all ? "every VP" : `banks 0x${validBanks.toString(16)}: ${banks.map(hex64).join(" ")}`
      }`,
    );
    h.sendIpi(vector, all ? null : (vp) => vpInSparseSet(vp, validBanks, banks));
    return HV_STATUS.SUCCESS;
  }

  /** `kvm_hvcall_signal_event`. */
  #signalEvent(fast: boolean, ingpa: bigint): number {
    let param = ingpa;
    if (!fast) {
      // The parameter is a u64 in guest memory: 8-aligned, not across a page.
      if ((ingpa & 7n) !== 0n || (ingpa & BigInt(HV_PAGE_SIZE - 1)) + 8n > BigInt(HV_PAGE_SIZE)) {
        return HV_STATUS.INVALID_ALIGNMENT;
      }
      const mem = this.#host.mem();
      if (ingpa + 8n > BigInt(mem.size)) return HV_STATUS.INVALID_ALIGNMENT;
      param = mem.readBig(Number(ingpa), 64);
    }
    // Bits 47:32 are the flag number, which KVM has no use for.
    if ((param & 0xffff_0000_0000n) !== 0n) return HV_STATUS.INVALID_PORT_ID;
    if ((param & ~BigInt(KVM_HYPERV_CONN_ID_MASK)) !== 0n) {
      return HV_STATUS.INVALID_HYPERCALL_INPUT;
    }
    const fd = this.connToEvt.get(Number(param));
    if (fd === undefined) return HV_STATUS.INVALID_PORT_ID;
    this.#host.signal(fd);
    this.#host.emit?.("hv.signal_event", `connection ${param} -> eventfd ${fd}`);
    return HV_STATUS.SUCCESS;
  }

  /**
   * KVM_HYPERV_EVENTFD (`kvm_vm_ioctl_hv_eventfd`): 0 or -errno. Flags
   * other than DEASSIGN or a connection ID past 24 bits: -EINVAL; assigning
   * a bound connection: -EEXIST; deassigning an unbound one: -ENOENT; an fd
   * that is not an eventfd (negative here): -EBADF.
   */
  eventfd(connId: number, fd: number, flags: number): number {
    if ((flags & ~KVM_HYPERV_EVENTFD_DEASSIGN) !== 0 || (connId & ~KVM_HYPERV_CONN_ID_MASK) !== 0) {
      return -22;
    }
    if (flags === KVM_HYPERV_EVENTFD_DEASSIGN) {
      if (!this.connToEvt.has(connId)) return -2;
      this.connToEvt.delete(connId);
      return 0;
    }
    if (fd < 0) return -9;
    if (this.connToEvt.has(connId)) return -17;
    this.connToEvt.set(connId, fd);
    return 0;
  }
}

/** The number of set bits of a 64-bit value (`hweight64`). */
function popcount64(v: bigint): number {
  let n = 0;
  for (let x = BigInt.asUintN(64, v); x !== 0n; x &= x - 1n) n++;
  return n;
}

const hex64 = (v: bigint) => `0x${v.toString(16)}`;

/**
 * `hv_is_vp_in_sparse_set`: whether VP `vp` is in the set whose banks
 * `validBanks` names, `banks` holding those banks in ascending order (a
 * bank's place is the number of valid banks below it).
 *
 * @example
 * ```ts
 * vpInSparseSet(65, 0b11n, [1n << 2n, 1n << 1n]); // true: bank 1, bit 1
 * ```
 */
export function vpInSparseSet(vp: number, validBanks: bigint, banks: readonly bigint[]): boolean {
  const bank = Math.floor(vp / 64);
  if (bank >= 64 || ((validBanks >> BigInt(bank)) & 1n) === 0n) return false;
  const place = popcount64(validBanks & ((1n << BigInt(bank)) - 1n));
  const word = banks[place];
  return word !== undefined && ((word >> BigInt(vp % 64)) & 1n) === 1n;
}
