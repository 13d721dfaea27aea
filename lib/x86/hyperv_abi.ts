/**
 * The Hyper-V numbers and field tables (hvgdk_mini.h, KVM's uapi) that the
 * language's tables name (./hyperv_commands.ts, `scn report`'s MSR
 * decoding, the VMM's ioctls) apart from the modules that implement
 * Hyper-V's partition, SynIC, timers and vCPU state, so that loading the
 * tables (every x86 scenario does, for the checker and `scn help`) loads
 * none of the implementation (./hyperv_parts.ts). Each is re-exported by the
 * module it belongs to.
 *
 * @module
 */
import type { FieldTable } from "../core/bitfield.ts";
import { LapicOffset } from "./lapic_registers.ts";

// ---- hyperv_synic.ts ---------------------------------------------------------------------------

/**
 * The Hyper-V MSRs KVM emulates that this model has (hvgdk_mini.h
 * `HV_X64_MSR_*`). SINTx is `SINT0 + x`; STIMERn_CONFIG and _COUNT are
 * `STIMER0_CONFIG + 2n` and `STIMER0_COUNT + 2n`.
 *
 * @example
 * ```ts
 * HV_MSR.SIMP; // 0x40000083
 * ```
 */
export const HV_MSR = {
  GUEST_OS_ID: 0x4000_0000,
  HYPERCALL: 0x4000_0001,
  VP_INDEX: 0x4000_0002,
  RESET: 0x4000_0003,
  VP_RUNTIME: 0x4000_0010,
  TIME_REF_COUNT: 0x4000_0020,
  REFERENCE_TSC: 0x4000_0021,
  TSC_FREQUENCY: 0x4000_0022,
  APIC_FREQUENCY: 0x4000_0023,
  EOI: 0x4000_0070,
  ICR: 0x4000_0071,
  TPR: 0x4000_0072,
  VP_ASSIST_PAGE: 0x4000_0073,
  SCONTROL: 0x4000_0080,
  SVERSION: 0x4000_0081,
  SIEFP: 0x4000_0082,
  SIMP: 0x4000_0083,
  EOM: 0x4000_0084,
  SINT0: 0x4000_0090,
  STIMER0_CONFIG: 0x4000_00b0,
  STIMER0_COUNT: 0x4000_00b1,
  REENLIGHTENMENT_CONTROL: 0x4000_0106,
  TSC_EMULATION_CONTROL: 0x4000_0107,
  SYNDBG_CONTROL: 0x4000_00f1,
  SYNDBG_STATUS: 0x4000_00f2,
  SYNDBG_SEND_BUFFER: 0x4000_00f3,
  SYNDBG_RECV_BUFFER: 0x4000_00f4,
  SYNDBG_PENDING_BUFFER: 0x4000_00f5,
  SYNDBG_OPTIONS: 0x4000_00ff,
  CRASH_P0: 0x4000_0100,
  CRASH_P1: 0x4000_0101,
  CRASH_P2: 0x4000_0102,
  CRASH_P3: 0x4000_0103,
  CRASH_P4: 0x4000_0104,
  CRASH_CTL: 0x4000_0105,
  TSC_EMULATION_STATUS: 0x4000_0108,
  TSC_INVARIANT_CONTROL: 0x4000_0118,
} as const;

/** The SINTs: HV_SYNIC_SINT_COUNT. */
export const HV_SYNIC_SINT_COUNT = 16;

/** The guest page size: SIMP and SIEFP name a page by bits 63:12. */
export const HV_PAGE_SIZE = 4096;

/**
 * The fields of a SINTx MSR (hvgdk_mini.h `union hv_synic_sint`): the one
 * statement of their positions, read by the model, the state paths'
 * layout and `scn report`'s MSR decoding.
 *
 * @example
 * ```ts
 * import { formatFields } from "../core/bitfield.ts";
 * formatFields(SINT_FIELDS, 0x200b0); // "vector=0xb0 masked=0 auto_eoi=1 polling=0"
 * ```
 */
export const SINT_FIELDS = [
  { name: "vector", lsb: 0, width: 8, doc: "the interrupt vector (16..255 unless masked)" },
  { name: "masked", lsb: 16, width: 1, doc: "the SINT raises nothing" },
  { name: "auto_eoi", lsb: 17, width: 1, doc: "taken without entering ISR (no EOI)" },
  { name: "polling", lsb: 18, width: 1, doc: "polling mode (KVM stores it only)" },
] as const satisfies FieldTable;

/**
 * The fields of SIMP and SIEFP (and of SCONTROL, its enable bit alone):
 * enable in bit 0, the guest page in bits 63:12.
 *
 * @example
 * ```ts
 * import { formatFields } from "../core/bitfield.ts";
 * formatFields(SYNIC_PAGE_FIELDS, 0x10001n); // "enable=1 page=0x0000000000010"
 * ```
 */
export const SYNIC_PAGE_FIELDS = [
  { name: "enable", lsb: 0, width: 1, doc: "HV_SYNIC_SIMP_ENABLE / HV_SYNIC_SIEFP_ENABLE" },
  { name: "page", lsb: 12, width: 52, doc: "the guest page number" },
] as const satisfies FieldTable;

/** HVMSG_TIMER_EXPIRED: a synthetic timer's message. */
export const HVMSG_TIMER_EXPIRED = 0x8000_0010;

// ---- hyperv_stimer.ts --------------------------------------------------------------------------

/** HV_SYNIC_STIMER_COUNT: timers per vCPU. */
export const HV_SYNIC_STIMER_COUNT = 4;

/**
 * The fields of a STIMERn_CONFIG MSR (hvgdk_mini.h `union hv_stimer_config`):
 * the one statement of their positions, read by the model, the state
 * paths' layout and `scn report`'s MSR decoding.
 *
 * @example
 * ```ts
 * import { encodeFields } from "../core/bitfield.ts";
 * encodeFields(STIMER_CONFIG_FIELDS, { enable: 1, periodic: 1, sintx: 2 }); // 0x20003
 * ```
 */
export const STIMER_CONFIG_FIELDS = [
  { name: "enable", lsb: 0, width: 1, doc: "the timer counts" },
  { name: "periodic", lsb: 1, width: 1, doc: "every COUNT, else once at COUNT" },
  { name: "lazy", lsb: 2, width: 1, doc: "lazy (KVM stores it only)" },
  { name: "auto_enable", lsb: 3, width: 1, doc: "a non-zero COUNT write sets enable" },
  { name: "apic_vector", lsb: 4, width: 8, doc: "direct mode: the vector sent" },
  { name: "direct_mode", lsb: 12, width: 1, doc: "an APIC vector instead of a message" },
  { name: "sintx", lsb: 16, width: 4, doc: "message mode: the SINT whose slot gets the message" },
] as const satisfies FieldTable;

/** Whether `msr` is a STIMERn_CONFIG or _COUNT MSR. */
export function isStimerMsr(msr: number): boolean {
  return msr >= HV_MSR.STIMER0_CONFIG && msr < HV_MSR.STIMER0_CONFIG + 2 * HV_SYNIC_STIMER_COUNT;
}

// ---- hyperv_hypercall.ts -----------------------------------------------------------------------

/**
 * `enum hv_tsc_page_status`: where KVM is with the reference TSC page.
 *
 * @example
 * ```ts
 * HV_TSC_PAGE.SET; // 3: the guest may use the page
 * ```
 */
export const HV_TSC_PAGE = {
  UNSET: 0,
  GUEST_CHANGED: 1,
  HOST_CHANGED: 2,
  SET: 3,
  BROKEN: 4,
} as const;

/** SYNDBG_CONTROL..SYNDBG_PENDING_BUFFER and SYNDBG_OPTIONS. */
export function isSyndbgMsr(msr: number): boolean {
  return (msr >= HV_MSR.SYNDBG_CONTROL && msr <= HV_MSR.SYNDBG_PENDING_BUFFER) ||
    msr === HV_MSR.SYNDBG_OPTIONS;
}

/**
 * Hypercall codes the model answers (hvgdk_mini.h `HVCALL_*`).
 *
 * @example
 * ```ts
 * HVCALL.SIGNAL_EVENT; // 0x5d
 * ```
 */
export const HVCALL = {
  FLUSH_VIRTUAL_ADDRESS_SPACE: 0x02,
  FLUSH_VIRTUAL_ADDRESS_LIST: 0x03,
  NOTIFY_LONG_SPIN_WAIT: 0x08,
  SEND_IPI: 0x0b,
  FLUSH_VIRTUAL_ADDRESS_SPACE_EX: 0x13,
  FLUSH_VIRTUAL_ADDRESS_LIST_EX: 0x14,
  SEND_IPI_EX: 0x15,
  POST_MESSAGE: 0x5c,
  SIGNAL_EVENT: 0x5d,
  POST_DEBUG_DATA: 0x69,
  RETRIEVE_DEBUG_DATA: 0x6a,
  RESET_DEBUG_SESSION: 0x6b,
  EXT_CALL_QUERY_CAPABILITIES: 0x8001,
} as const;

/**
 * `struct hv_vpset`'s formats (hvgdk_mini.h `enum hv_generic_set_format`):
 * a sparse set of 64-VP banks, or every VP.
 *
 * @example
 * ```ts
 * HV_GENERIC_SET.ALL; // 1
 * ```
 */
export const HV_GENERIC_SET = { SPARSE_4K: 0, ALL: 1 } as const;

/** HV_HYPERCALL_MAX_XMM_REGISTERS: an XMM fast call's input registers. */
export const HV_HYPERCALL_MAX_XMM_REGISTERS = 6;

/**
 * Hypercall status codes (hvgdk_mini.h `HV_STATUS_*`), returned in RAX.
 *
 * @example
 * ```ts
 * HV_STATUS.INVALID_ALIGNMENT; // 4
 * ```
 */
export const HV_STATUS = {
  SUCCESS: 0,
  INVALID_HYPERCALL_CODE: 2,
  INVALID_HYPERCALL_INPUT: 3,
  INVALID_ALIGNMENT: 4,
  INVALID_PARAMETER: 5,
  ACCESS_DENIED: 6,
  OPERATION_DENIED: 8,
  INVALID_PORT_ID: 17,
  INVALID_CONNECTION_ID: 18,
} as const;

/**
 * The fields of the hypercall input value in RCX (hvgdk_mini.h `HV_HYPERCALL_*`).
 *
 * @example
 * ```ts
 * BigInt(HVCALL.SIGNAL_EVENT) | HV_HYPERCALL.Fast; // a fast SIGNAL_EVENT
 * ```
 */
export const HV_HYPERCALL = {
  CodeMask: 0xffffn,
  Fast: 1n << 16n,
  /** Variable header size, bits 26:17. */
  VarheadMask: 0x3ffn << 17n,
  /** Rep count, bits 43:32. */
  RepCompMask: 0xfffn << 32n,
  /** Rep start index, bits 59:48. */
  RepStartMask: 0xfffn << 48n,
  /** Reserved: bits 31:27, 47:44 and 63:60. */
  RsvdMask: (0x1fn << 27n) | (0xfn << 44n) | (0xfn << 60n),
} as const;

/** KVM_HYPERV_CONN_ID_MASK: connection IDs are 24 bits. */
export const KVM_HYPERV_CONN_ID_MASK = 0x00ff_ffff;

/** KVM_HYPERV_EVENTFD_DEASSIGN. */
export const KVM_HYPERV_EVENTFD_DEASSIGN = 1;

/** KVM_EXIT_HYPERV's `type` values (`struct kvm_hyperv_exit`). */
export const KVM_EXIT_HYPERV = { SYNIC: 1, HCALL: 2 } as const;

// ---- hyperv_vcpu.ts ----------------------------------------------------------------------------

/** Whether `msr` is HV_X64_MSR_TSC_FREQUENCY or HV_X64_MSR_APIC_FREQUENCY (read-only, per vCPU). */
export function isFrequencyMsr(msr: number): boolean {
  return msr === HV_MSR.TSC_FREQUENCY || msr === HV_MSR.APIC_FREQUENCY;
}

/** The synthetic APIC MSRs and the LAPIC register offset each reaches. */
export const VAPIC_OFFSET: ReadonlyMap<number, number> = new Map([
  [HV_MSR.EOI, LapicOffset.EOI],
  [HV_MSR.ICR, LapicOffset.ICR_LOW],
  [HV_MSR.TPR, LapicOffset.TPR],
]);

// ---- which model owns an MSR -------------------------------------------------------------------

/** Whether `msr` is one of the SINTs (`HvSynic.isSint`). */
export function isSintMsr(msr: number): boolean {
  return msr >= HV_MSR.SINT0 && msr < HV_MSR.SINT0 + HV_SYNIC_SINT_COUNT;
}

/** Whether `msr` is a SynIC MSR, SCONTROL..EOM or SINT0..15 (`HvSynic.owns`). */
export function isSynicMsr(msr: number): boolean {
  return (msr >= HV_MSR.SCONTROL && msr <= HV_MSR.EOM) || isSintMsr(msr);
}

/** Whether `msr` is one of the partition-wide MSRs modelled (`HvPartition.owns`). */
export function isPartitionMsr(msr: number): boolean {
  return msr === HV_MSR.GUEST_OS_ID || msr === HV_MSR.HYPERCALL ||
    msr === HV_MSR.TIME_REF_COUNT || msr === HV_MSR.REFERENCE_TSC ||
    (msr >= HV_MSR.REENLIGHTENMENT_CONTROL && msr <= HV_MSR.TSC_EMULATION_STATUS) ||
    (msr >= HV_MSR.CRASH_P0 && msr <= HV_MSR.CRASH_CTL) || msr === HV_MSR.RESET ||
    msr === HV_MSR.TSC_INVARIANT_CONTROL || isSyndbgMsr(msr);
}

/** Whether `msr` is a Hyper-V MSR this model has (`HvVcpu.owns`). */
export function isHypervMsr(msr: number): boolean {
  return isPartitionMsr(msr) || msr === HV_MSR.VP_INDEX || msr === HV_MSR.VP_ASSIST_PAGE ||
    VAPIC_OFFSET.has(msr) || isFrequencyMsr(msr) || msr === HV_MSR.VP_RUNTIME ||
    isSynicMsr(msr) || isStimerMsr(msr);
}
