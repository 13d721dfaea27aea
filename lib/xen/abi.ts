/**
 * The Xen and KVM-Xen ABI numbers that the language's tables name (lib/xen/platform.ts) and
 * that other models borrow (KVM's capabilities, kvmclock, Hyper-V's reference TSC page): kept
 * apart from the modules that implement the hypervisor, so that loading the tables (every x86
 * and Arm scenario does, for the checker and `scn help`) loads none of the implementation. Each
 * is re-exported by the module it belongs to.
 *
 * @module
 */
import { XEN_PAGE_SIZE } from "./layout.ts";

// ---- evtchn.ts ---------------------------------------------------------------------------------

/** The steps of a 2-level raise, as `scn explore` interleaves them. */
export const RAISE_STEPS: readonly string[] = [
  "set P",
  "test M, set the selector bit",
  "set UP and kick",
];

/**
 * `DOMID_SELF`: "the calling domain" in EVTCHNOP arguments.
 *
 * @example
 * ```ts
 * DOMID_SELF; // 0x7ff0, as EventChannels.allocUnbound(DOMID_SELF, DOMID_SELF) takes it
 * ```
 */
export const DOMID_SELF = 0x7ff0;

/**
 * EVTCHNSTAT_* values returned by EVTCHNOP_status.
 *
 * @example
 * ```ts
 * EVTCHNSTAT.closed; // 0: what EventChannels.status answers for the reserved port 0
 * ```
 */
export const EVTCHNSTAT = {
  closed: 0,
  unbound: 1,
  interdomain: 2,
  pirq: 3,
  virq: 4,
  ipi: 5,
} as const;

/**
 * VIRQ numbers (`xen.h`), by the names scenarios use.
 *
 * @example
 * ```ts
 * VIRQ.timer; // 0
 * ```
 */
export const VIRQ: Readonly<Record<string, number>> = {
  timer: 0,
  debug: 1,
  console: 2,
  dom_exc: 3,
  tbuf: 4,
  debugger: 6,
  xenoprof: 7,
  con_ring: 8,
  pcpu_state: 9,
  mem_event: 10,
  argo: 11,
  enomem: 12,
  xenpmu: 13,
  mca: 16,
  arch_0: 16,
  arch_1: 17,
  arch_2: 18,
  arch_3: 19,
  arch_4: 20,
  arch_5: 21,
  arch_6: 22,
  arch_7: 23,
};

/**
 * `NR_VIRQS`.
 *
 * @example
 * ```ts
 * NR_VIRQS; // 24
 * ```
 */
export const NR_VIRQS = 24;

// ---- fifo.ts -----------------------------------------------------------------------------------

/**
 * Event-word bits and the FIFO constants of `event_channel.h`.
 *
 * @example
 * ```ts
 * declare const word: number;
 * (word >>> FIFO.PENDING) & 1; // the port's PENDING bit
 * ```
 */
export const FIFO = {
  PENDING: 31,
  MASKED: 30,
  LINKED: 29,
  BUSY: 28,
  LINK_BITS: 17,
  LINK_MASK: (1 << 17) - 1,
  /** `EVTCHN_FIFO_NR_CHANNELS`. */
  NR_CHANNELS: 1 << 17,
  MAX_QUEUES: 16,
  PRIORITY_MAX: 0,
  PRIORITY_DEFAULT: 7,
  PRIORITY_MIN: 15,
  /** `EVTCHN_FIFO_EVENT_WORDS_PER_PAGE`. */
  WORDS_PER_PAGE: XEN_PAGE_SIZE / 4,
  /** `sizeof(struct evtchn_fifo_control_block)`. */
  CONTROL_BLOCK_SIZE: 72,
  /** `EVTCHN_FIFO_MAX_EVENT_ARRAY_PAGES`. */
  MAX_ARRAY_PAGES: (1 << 17) / (XEN_PAGE_SIZE / 4),
} as const;

// ---- kvm_xen.ts --------------------------------------------------------------------------------

/**
 * KVM_XEN_HVM_CONFIG_* capability / config flags.
 *
 * @example
 * ```ts
 * KVM_XEN_HVM_CONFIG.EVTCHN_SEND; // 1 << 5
 * ```
 */
export const KVM_XEN_HVM_CONFIG = {
  HYPERCALL_MSR: 1 << 0,
  INTERCEPT_HCALL: 1 << 1,
  SHARED_INFO: 1 << 2,
  RUNSTATE: 1 << 3,
  EVTCHN_2LEVEL: 1 << 4,
  EVTCHN_SEND: 1 << 5,
  RUNSTATE_UPDATE_FLAG: 1 << 6,
  PVCLOCK_TSC_UNSTABLE: 1 << 7,
  SHARED_INFO_HVA: 1 << 8,
} as const;

/**
 * What KVM_CAP_XEN_HVM reports in this model (everything up to SHARED_INFO_HVA).
 *
 * @example
 * ```ts
 * (KVM_XEN_CAPS & KVM_XEN_HVM_CONFIG.EVTCHN_SEND) !== 0; // true
 * ```
 */
export const KVM_XEN_CAPS = 0x1ff;

/**
 * `KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL`: the only priority KVM accepts.
 *
 * @example
 * ```ts
 * KVM_XEN_PRIO_2LEVEL; // 0xffffffff
 * ```
 */
export const KVM_XEN_PRIO_2LEVEL = 0xffff_ffff;

/**
 * The all-ones GPA/GFN that switches an area off (`KVM_XEN_INVALID_GPA` / `_GFN`).
 *
 * @example
 * ```ts
 * KVM_XEN_INVALID; // 0xffffffffffffffffn, as KvmXen.setVcpuInfo(0, KVM_XEN_INVALID) takes it
 * ```
 */
export const KVM_XEN_INVALID = 0xffff_ffff_ffff_ffffn;

/**
 * `KVM_XEN_EVTCHN_*` flags of KVM_XEN_ATTR_TYPE_EVTCHN (exactly one, or none
 * to assign).
 *
 * @example
 * ```ts
 * KVM_XEN_EVTCHN.UPDATE; // 2
 * ```
 */
export const KVM_XEN_EVTCHN = { DEASSIGN: 1, UPDATE: 2, RESET: 4 } as const;

// ---- vcpu_info.ts ------------------------------------------------------------------------------

/** The steps of a VMM's vcpu_info copy, as `scn explore` interleaves them. */
export const VMM_COPY_STEPS: readonly string[] = [
  "copy the bytes before evtchn_pending_sel (UP, mask)",
  "copy evtchn_pending_sel and the rest",
];

// ---- runstate.ts -------------------------------------------------------------------------------

/** The steps of a runstate copy (`Runstates.writeSteps` in runstate.ts), as `scn explore` names them. */
export const RUNSTATE_COPY_STEPS: readonly string[] = [
  "state_entry_time's top byte with XEN_RUNSTATE_UPDATE (if opted in)",
  "write state",
  "write state_entry_time and time[]",
  "state_entry_time's top byte without the flag (if opted in)",
];

// ---- vcpu_time.ts ------------------------------------------------------------------------------

/**
 * The TSC-to-ns multiplier for a 1 GHz TSC (32.32 fixed point, after the shift).
 *
 * @example
 * ```ts
 * TSC_TO_SYSTEM_MUL_1GHZ; // 0x80000000
 * ```
 */
export const TSC_TO_SYSTEM_MUL_1GHZ = 0x80000000;

/**
 * The TSC shift for a 1 GHz TSC.
 *
 * @example
 * ```ts
 * TSC_SHIFT_1GHZ; // 1
 * ```
 */
export const TSC_SHIFT_1GHZ = 1;

/**
 * PVCLOCK_TSC_STABLE_BIT of `vcpu_time_info.flags` (Xen's
 * XEN_PVCLOCK_TSC_STABLE_BIT is the same bit).
 *
 * @example
 * ```ts
 * PVCLOCK_TSC_STABLE_BIT; // 1
 * ```
 */
export const PVCLOCK_TSC_STABLE_BIT = 1;

// ---- callback.ts -------------------------------------------------------------------------------

/**
 * GSIs of an HVM domU (Xen `NR_HVM_DOMU_IRQS`: the pins of its vIOAPIC, 16
 * ISA IRQs and 32 PCI INTx GSIs). A callback GSI must be below it.
 *
 * @example
 * ```ts
 * NR_HVM_DOMU_IRQS; // 48
 * ```
 */
export const NR_HVM_DOMU_IRQS = 48;

// ---- hypercall_page.ts -------------------------------------------------------------------------

/**
 * The hypercall-page MSR of Xen without Viridian (with Viridian it moves to
 * 0x40000200), and QEMU's choice for KVM_XEN_HVM_CONFIG.
 *
 * @example
 * ```ts
 * XEN_HYPERCALL_MSR; // 0x40000000
 * ```
 */
export const XEN_HYPERCALL_MSR = 0x40000000;
