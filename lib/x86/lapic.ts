/**
 * The local APIC of one vCPU: IRR/ISR/TMR, priorities, acceptance of bus
 * messages, the INTA cycle, EOI (with the EOI broadcast to the IOAPICs),
 * LVTs and local interrupts (timer, LINT0/LINT1, error), the ICR and IPIs,
 * xAPIC MMIO and x2APIC MSR register access, and IA32_APIC_BASE with the
 * disabled / xAPIC / x2APIC mode transitions.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller
 * (APIC)" chapter: "Local APIC Status and Location", "Local Vector Table",
 * "Issuing Interprocessor Interrupts", "Interrupt Acceptance for Fixed
 * Interrupts", "Task and Processor Priorities", "End-of-Interrupt", "Spurious
 * Interrupt", "Local APIC State After Power-Up Reset / INIT", "Error
 * Handling", and the "Extended XAPIC (x2APIC)" section (x2APIC register
 * address space, x2APIC ID, logical destination, ICR, SELF IPI, state
 * transitions). Where the SDM leaves room or KVM deviates, the model follows
 * Linux KVM (`arch/x86/kvm/lapic.c`) because that is what guests run on:
 * PPR's low nibble, fixed messages dropped while software-disabled, writable
 * LVT bits, ICR delivery status always 0, INIT level de-assert ignored, reset
 * values, which x2APIC accesses #GP (`kvm_lapic_readable_reg_mask`,
 * `kvm_lapic_reg_write`, `kvm_x2apic_icr_write`), IA32_APIC_BASE checks
 * (`kvm_apic_set_base`), and an x2APIC EOI that accepts any value below 2^32
 * (the SDM asks for 0).
 *
 * Two architectural behaviours KVM does not have are kept, named and off by
 * default: error detection for illegal vectors 0-15 and unimplemented
 * registers (`illegalVectorErrors`; KVM never sets an ESR bit; a Xen HVM
 * domain's vlapic has it in Xen's form, `xenErrors`: Xen `vlapic_ipi`,
 * `vlapic_set_irq`, `vlapic_error`, `vlapic_reg_write` of APIC_ESR), and the LINT
 * pins ({@link Lapic.setLint}): KVM has no LINT inputs except the PIT's NMI
 * watchdog pulse on LINT0, and never sets the LVT remote IRR bit.
 *
 * Register layouts, masks and reset values come from {@link ./lapic_registers.ts};
 * the timer is {@link ./lapic_timer.ts}.
 *
 * @module
 */

import {
  clearAllVectors,
  clearVector,
  setVector,
  testVector,
  type VectorSet,
} from "../core/vector_set.ts";
import { arenaI32, arenaU32 } from "../core/arena.ts";
import { maskedWords } from "../core/state_words.ts";
import type { Trace } from "../core/trace.ts";
import {
  type ApicMessage,
  type ApicSink,
  DeliveryMode,
  type EoiListener,
  fixedMessage,
  Shorthand,
} from "./apic_message.ts";
import {
  APIC_DEFAULT_BASE,
  ApicBaseBit,
  IA32_APIC_BASE_MSR,
  IA32_TSC_DEADLINE_MSR,
  ICR_HIGH_FIELDS,
  ICR_LOW_FIELDS,
  LapicOffset,
  type LapicRegister,
  lapicRegisterByName,
  lapicRegisterByOffset,
  LVT_LINT_FIELDS,
  LVT_TIMER_FIELDS,
  SELF_IPI_OFFSET,
  SVR_FIELDS,
  X2APIC_MSR_BASE,
  X2APIC_MSR_LAST,
} from "./lapic_registers.ts";
import {
  type BitField,
  encodeFieldValue,
  fieldByName,
  fieldGet,
  fieldSet,
  type FieldTable,
} from "../core/bitfield.ts";
import {
  LapicTimer,
  STOPPED_CLOCK,
  type TimerClock,
  type TimerHandle,
  type TimerMode,
} from "./lapic_timer.ts";
import type { TscView, XenVptOptions } from "./lapic_timer.ts";
import type { StateHash } from "../core/platform.ts";

/** What a local APIC is wired to. */
export interface LapicHost {
  /** The vCPU's TSC rate (KVM_SET_TSC_KHZ), for IA32_TSC_DEADLINE; absent, the host's 1 GHz. */
  tsc?: TscView;
  /** Where IPIs from the ICR go (the VM's APIC bus). */
  sink: ApicSink;
  /** Who hears EOIs of level-triggered vectors (IOAPICs, or userspace in split mode). */
  eoiListener: EoiListener;
  /** Where events go. */
  trace: Trace;
  /** Trace source name, e.g. `lapic0`. */
  name: string;
  /** Boot vCPU: IA32_APIC_BASE.BSP set and LVT0 = ExtINT at reset. */
  bsp: boolean;
  /**
   * An SVR write turned SVR bit 8 from 0 to 1. Xen's vlapic and KVM's
   * `apic_set_spiv` (`kvm_xen_sw_enable_lapic`) re-assert a pending
   * per-vCPU upcall vector here.
   */
  softwareEnabled?: () => void;
  /**
   * A fixed or lowest-priority vector newly set in IRR. Xen's
   * `vlapic_set_irq` kicks the vCPU here (`vcpu_kick`), which ends a
   * SCHEDOP_block whatever IF says.
   */
  irrSet?: (vector: number) => void;
  /** Virtual time in ns (the TSC at 1 GHz). Absent: time stands at 0. */
  now?(): number;
  /**
   * Runs `fire` at absolute virtual time `atNs` (the engine's event queue).
   * Absent: the timer arms but never fires.
   */
  schedule?(atNs: number, fire: () => void): TimerHandle;
  /**
   * Whether KVM offers directed EOI (Version bit 24, SVR bit 12 writable)
   * given CPUID x2APIC: asked at each reset and INIT, as
   * `kvm_lapic_reset` re-runs `kvm_apic_set_version`. Absent: Version keeps
   * what the options and {@link Lapic.setCpuid} gave it.
   */
  directedEoiOffered?(): boolean;
  /**
   * Whether SVR bit 12, once set, suppresses the EOI broadcast (KVM's
   * `kvm_lapic_suppress_eoi_broadcast`, by KVM_CAP_X2APIC_API's mode).
   * Asked only at the EOI of a vector while the bit is set. Absent: it
   * does, as the SDM says.
   */
  suppressEoiBroadcast?(): boolean;
  /**
   * An input of KVM's APIC map changed (IA32_APIC_BASE, ID, LDR, DFR, SVR
   * written or set by KVM_SET_LAPIC, a reset): `kvm_recalculate_apic_map`
   * then asks every vCPU to scan its `ioapic_handled_vectors`. Called by
   * the constructor's reset too, never by a snapshot's restore. Absent:
   * nobody listens.
   */
  mapChanged?(): void;
}

/**
 * A sink that can tell which APIC sent an IPI, so that the self and
 * all-excluding-self shorthands stay exact when xAPIC IDs alias.
 * {@link ./apic_bus.ts}'s ApicBus implements it.
 */
export interface IpiSink extends ApicSink {
  /** Delivers an IPI sent by `sender`; same return value as `deliver`. */
  deliverFrom(sender: Lapic, msg: ApicMessage): number;
}

/** Model options that are CPUID/capability choices rather than guest-visible state. */
export interface LapicOptions {
  /** Advertise EOI-broadcast suppression (Version bit 24, SVR bit 12 writable). Default false (KVM with in-kernel IOAPIC). */
  eoiBroadcastSuppression?: boolean;
  /** Implement LVT CMCI (KVM: only with MCG_CMCI_P). Default false. */
  cmci?: boolean;
  /** Apply KVM_X86_QUIRK_LINT0_REENABLED (BSP LVT0 = ExtINT at reset). Default true. */
  lint0Reenabled?: boolean;
  /** CPUID.1:ECX.x2APIC[bit 21]: without it IA32_APIC_BASE.EXTD is reserved. Default true. */
  x2apic?: boolean;
  /** APIC bus cycle in ns (KVM_CAP_X86_APIC_BUS_CYCLES_NS). Default 1. */
  busCycleNs?: number;
  /** Shortest periodic timer period in ns (KVM min_timer_period_us × 1000). Default 200000. */
  minPeriodicNs?: number;
  /**
   * The timer is Xen's vpt (a Xen HVM domain's vLAPIC: lib/x86/lapic_timer.ts),
   * with its HVM_PARAM_VPT_ALIGN; its bus cycle and period floor are Xen's.
   * Absent: KVM's timer.
   */
  xenVpt?: XenVptOptions;
  /**
   * Architectural error detection KVM does not do: vectors 0-15 sent or
   * received set ESR bits 5/6 and are not delivered, xAPIC accesses to
   * unimplemented registers set ESR bit 7, and each new error raises LVT
   * Error. Default false (KVM: ESR always reads 0).
   */
  illegalVectorErrors?: boolean;
  /**
   * Xen's vlapic error model instead of the SDM's (with `illegalVectorErrors`):
   * a fixed or lowest-priority IPI with a vector 0-15 sets Send Illegal
   * Vector and is not sent (`vlapic_ipi`), no access sets Illegal
   * Register Address (Xen's vlapic has no such error), and an x2APIC MSR
   * write with bits set that the register does not keep, an EOI value but 0
   * or ICR bit 12 faults (`guest_wrmsr_x2apic`; KVM drops such bits).
   * Default false.
   */
  xenErrors?: boolean;
  /**
   * Xen's xAPIC ID register keeps every bit written (`vlapic_reg_write`
   * APIC_ID stores the value; the ID is bits 31:24, GET_xAPIC_ID), where
   * KVM keeps only the ID byte. Default false.
   */
  idWhole?: boolean;
  /**
   * AMD AVIC is active (the VM's `apicv amd_avic`): xAPIC writes land in the
   * AVIC backing page, and the hardware keeps all of ICR2 where KVM's
   * emulation and Intel keep only the destination byte (bits 31:24). Default false.
   */
  avicIcr2?: boolean;
}

/** LVT indices, in KVM's order (the order of the LVT registers from 0x320, with CMCI last). */
export const Lvt = {
  Timer: 0,
  Thermal: 1,
  Pmc: 2,
  Lint0: 3,
  Lint1: 4,
  Error: 5,
  Cmci: 6,
} as const;
/** An LVT index. */
export type Lvt = typeof Lvt[keyof typeof Lvt];

/**
 * Where the hooks for `scn explore` write a LAPIC's numbers to feed them in
 * one call (`StateHash.block`), each hook before it calls another's.
 */
const HASHED = new Int32Array(48);

/** LVT entries: Timer to CMCI. */
const LVT_ENTRIES = 7;
/** Words of a LAPIC's register block: IRR, ISR, TMR (8 each), the LVT, one spare. */
const PAGE_WORDS = 32;
/** {@link Lapic.latched}'s bits. */
const LATCHED_NMI = 1, LATCHED_INIT = 2, LATCHED_SIPI = 4;

/** What {@link Lapic.accept} did with a message. */
export const Accept = {
  /** Not taken: APIC disabled, software-disabled for fixed, or an ignored de-assert. */
  Dropped: 0,
  /** Latched: a new IRR bit or a pending NMI/INIT/SIPI/SMI/ExtINT. */
  Accepted: 1,
  /** Fixed/lowest vector whose IRR bit was already set: counted as accepted (KVM). */
  Merged: 2,
} as const;
/** An acceptance outcome. */
export type Accept = typeof Accept[keyof typeof Accept];

/** The three IA32_APIC_BASE modes (SDM "x2APIC State Transitions"). */
export type ApicMode = "disabled" | "xapic" | "x2apic";

/**
 * A general-protection fault (#GP(0)) raised by an MSR access, and why.
 * Returned, not thrown: the caller (the CPU) decides what a #GP does.
 */
export interface GpFault {
  readonly gp: true;
  /** The MSR accessed. */
  readonly msr: number;
  /** One line: which rule refused the access. */
  readonly reason: string;
}

/**
 * Whether an MSR access result is a #GP.
 *
 * @example
 * ```ts
 * declare const apic: Lapic;
 * const r = apic.rdmsr(0x830);
 * if (isGpFault(r)) console.log(r.reason);
 * ```
 */
export function isGpFault(r: bigint | GpFault | null): r is GpFault {
  return typeof r === "object" && r !== null;
}

/** ESR bits this model can set (SDM "Error Handling"). */
export const EsrBit = {
  SendIllegalVector: 1 << 5,
  ReceiveIllegalVector: 1 << 6,
  IllegalRegisterAddress: 1 << 7,
} as const;

/**
 * LVT LINT0 / LINT1 as SeaBIOS programs them on the boot CPU (`smp_setup`):
 * LINT0 ExtINT, LINT1 NMI (both with the level bit set, which the SDM ignores
 * for those modes). KVM's reset leaves LINT1 masked; use these to model a
 * guest after firmware.
 */
export const SEABIOS_LVT0 = 0x8700;
/** See {@link SEABIOS_LVT0}. */
export const SEABIOS_LVT1 = 0x8400;

/** KVM's APIC version (integrated APIC). */
export const LAPIC_VERSION = 0x14;

const BASE_BSP = ApicBaseBit.BSP;
const BASE_EXTD = ApicBaseBit.EXTD;
const BASE_EN = ApicBaseBit.EN;
/** KVM: bits 0-7 and 9 are reserved; bits from MAXPHYADDR (52 here) up too. */
const BASE_RESERVED_LOW = 0x2ff;
const MAX_PHYS_ADDR_BITS = 52;
// Single-bit flags as masks, from the register tables.
const SVR_ENABLE = bit(SVR_FIELDS, "apic_enable");
const SVR_SUPPRESS_EOI = bit(SVR_FIELDS, "suppress_eoi_broadcast");
const LVT_MASKED = bit(LVT_LINT_FIELDS, "mask");
const LVT_REMOTE_IRR = bit(LVT_LINT_FIELDS, "remote_irr");
const LVT_LEVEL = bit(LVT_LINT_FIELDS, "trigger");
const ICR_BUSY = bit(ICR_LOW_FIELDS, "delivery_status");
/** KVM X2APIC_ICR_RESERVED_BITS: 31:20, 17:16 and 13. */
const X2APIC_ICR_RESERVED = 0xfff00000 | 0x30000 | 0x2000;
const TIMER_MODE_TSC_DEADLINE = fieldSet(
  field(LVT_TIMER_FIELDS, "timer_mode"),
  0,
  encodeFieldValue(field(LVT_TIMER_FIELDS, "timer_mode"), "tsc_deadline"),
);

function field(table: FieldTable, name: string): BitField {
  const f = fieldByName(table, name);
  if (!f) throw new Error(`lapic: no field ${name}`);
  return f;
}

/** The mask of a one-bit field. */
function bit(table: FieldTable, name: string): number {
  const f = field(table, name);
  if (f.width !== 1) throw new Error(`lapic: ${name} is not one bit`);
  return (1 << f.lsb) >>> 0;
}

// Hot-path fields resolved once from the register tables.
const ICR_VECTOR = field(ICR_LOW_FIELDS, "vector");
const ICR_DELIVERY_MODE = field(ICR_LOW_FIELDS, "delivery_mode");
const ICR_DEST_MODE = field(ICR_LOW_FIELDS, "dest_mode");
const ICR_LEVEL = field(ICR_LOW_FIELDS, "level");
const ICR_TRIGGER = field(ICR_LOW_FIELDS, "trigger");
const ICR_SHORTHAND = field(ICR_LOW_FIELDS, "shorthand");
const ICR_DEST = field(ICR_HIGH_FIELDS, "dest");
const LVT_DELIVERY_MODE = field(LVT_LINT_FIELDS, "delivery_mode");
const LVT_MASK = field(LVT_LINT_FIELDS, "mask");
/**
 * LVT0's mask and delivery mode as plain bits, for {@link Lapic.acceptsExtInt}, which every
 * interrupt-window check calls: `fieldGet` on a field descriptor is a lookup of `lsb` and
 * `width` that sees every table's descriptors, and so is slow there.
 */
const LVT0_MASK_AND_MODE = ((1 << LVT_MASK.width) - 1) << LVT_MASK.lsb |
  ((1 << LVT_DELIVERY_MODE.width) - 1) << LVT_DELIVERY_MODE.lsb;
/** LVT0 unmasked with ExtINT delivery, in {@link LVT0_MASK_AND_MODE}'s bits. */
const LVT0_UNMASKED_EXTINT = DeliveryMode.ExtINT << LVT_DELIVERY_MODE.lsb;

// Register offsets singled out below, from the register table.
const offsetOf = (name: string) => lapicRegisterByName(name)!.offset;
const OFFSET_ID = offsetOf("id"), OFFSET_LDR = offsetOf("ldr"), OFFSET_ESR = offsetOf("esr");
const OFFSET_ICR = offsetOf("icr_low"), OFFSET_LVT_CMCI = offsetOf("lvt_cmci");
const OFFSET_LVT_FIRST = offsetOf("lvt_timer"), OFFSET_LVT_LAST = offsetOf("lvt_error");

/** MMIO offset → LVT index, -1 elsewhere (LVT CMCI, then LVT Timer..Error in 16-byte steps). */
function lvtIndexOf(offset: number): number {
  if (offset === OFFSET_LVT_CMCI) return Lvt.Cmci;
  if (offset >= OFFSET_LVT_FIRST && offset <= OFFSET_LVT_LAST) {
    return (offset - OFFSET_LVT_FIRST) >> 4;
  }
  return -1;
}

const LVT_RESET = lapicRegisterByName("lvt0")!.reset;

/**
 * The x2APIC LDR of an x2APIC ID: cluster (ID[31:4]) in bits 31:16, one bit
 * for ID[3:0] in bits 15:0 (SDM "Logical Destination Mode in x2APIC Mode").
 *
 * @example
 * ```ts
 * x2apicLdr(0x23); // 0x00020008
 * ```
 */
export function x2apicLdr(id: number): number {
  return (((id >>> 4) << 16) | (1 << (id & 0xf))) >>> 0;
}

function hex(v: number | bigint): string {
  // Numbers above 32 bits occur for IA32_APIC_BASE.
  return "0x" + (typeof v === "bigint" || v > 0xffffffff ? v.toString(16) : (v >>> 0).toString(16));
}

function isIpiSink(s: ApicSink): s is IpiSink {
  return typeof (s as Partial<IpiSink>).deliverFrom === "function";
}

function modeOf(base: number): ApicMode | "invalid" {
  const en = (base & BASE_EN) !== 0, extd = (base & BASE_EXTD) !== 0;
  return en ? (extd ? "x2apic" : "xapic") : extd ? "invalid" : "disabled";
}

/**
 * One vCPU's local APIC.
 *
 * @example
 * ```ts
 * import { fixedMessage } from "./apic_message.ts";
 * import { Trace } from "../../mod.ts";
 * const trace = new Trace(() => 0);
 * const host = { sink: { deliver: () => -1 }, eoiListener: { eoi() {} }, trace, name: "lapic0", bsp: true };
 * const apic = new Lapic(0, host);
 * apic.write(0xf0, 0x1ff); // software-enable
 * apic.accept(fixedMessage(0x41, 0, "msi"));
 * apic.acknowledge(); // 0x41
 * apic.eoi();
 * apic.wrmsr(0x1b, 0xfee00d00n); // into x2APIC mode
 * apic.rdmsr(0x802); // 0n: the x2APIC ID
 * ```
 */
export class Lapic {
  /**
   * Interrupt Request Register. Read it freely; change it only through the
   * LAPIC (accept, acknowledge, reset, {@link Lapic.restoreWord}), which keep
   * its summary in step.
   */
  readonly irr: VectorSet;
  /** In-Service Register. Change it only through the LAPIC, as {@link Lapic.irr}. */
  readonly isr: VectorSet;
  /**
   * Summaries of IRR and ISR: bit w is set when word w of the register is
   * not zero. KVM keeps summaries for the same reason (`apic->irr_pending`,
   * `isr_count`, `highest_isr_cache`): the questions asked at every
   * instruction boundary (anything pending? PPR?) then need no scan, and
   * the highest vector is one `clz32` of the summary and one of its word.
   * Every writer of IRR and ISR keeps them exact (`#irrSet` and its kin);
   * derived state, so neither hashed nor shown.
   */
  #irrWords = 0;
  #isrWords = 0;
  /** Trigger Mode Register: 1 = the vector was last accepted level-triggered. */
  readonly tmr: VectorSet;
  /** LVT entries indexed by {@link Lvt}. */
  readonly lvt: Uint32Array;
  /**
   * IRR, ISR, TMR and the LVT are views of this one block (in that order,
   * one word spare): `scn explore` saves, restores and hashes them as one
   * array, one slice and one set and one mask of the words not zero, at
   * every state instead of four.
   */
  readonly #pages: Uint32Array = arenaU32(PAGE_WORDS);
  /**
   * Per vector, the trace event that set its IRR bit (the cause of a later
   * take), or null until the trace records one: `scn explore` builds a VM
   * per order with the trace off, and this is the LAPIC's largest array.
   */
  #irrCause: Int32Array | null = null;
  /** The APIC timer (TMICT, TDCR, TMCCT, IA32_TSC_DEADLINE). */
  readonly timer: LapicTimer;

  #nmiPending = 0;
  #initPending = false;
  #sipiVector = -1;
  /**
   * A bit for each of {@link Lapic.nmiPending} (not 0), {@link Lapic.initPending}
   * and {@link Lapic.sipiVector} (not -1), kept by their setters: the CPU's
   * instruction boundary asks "anything latched?" with one test. Derived.
   */
  #latched = 0;

  /** Pending NMIs latched for the CPU (the CPU side decides how many it keeps). */
  get nmiPending(): number {
    return this.#nmiPending;
  }
  set nmiPending(n: number) {
    this.#nmiPending = n;
    this.#latched = n !== 0 ? this.#latched | LATCHED_NMI : this.#latched & ~LATCHED_NMI;
  }
  /** An INIT was accepted and not yet processed. */
  get initPending(): boolean {
    return this.#initPending;
  }
  set initPending(on: boolean) {
    this.#initPending = on;
    this.#latched = on ? this.#latched | LATCHED_INIT : this.#latched & ~LATCHED_INIT;
  }
  /**
   * Vector of a start-up IPI accepted and not yet processed by the CPU, or
   * -1. A later SIPI replaces it; an INIT discards it.
   */
  get sipiVector(): number {
    return this.#sipiVector;
  }
  set sipiVector(v: number) {
    this.#sipiVector = v;
    this.#latched = v >= 0 ? this.#latched | LATCHED_SIPI : this.#latched & ~LATCHED_SIPI;
  }
  /**
   * Not 0 while an NMI, an INIT or a SIPI is latched for the CPU (one word
   * for the three, as the instruction boundary's first test wants it).
   */
  get latched(): number {
    return this.#latched;
  }
  /**
   * KVM's `apic->sipi_vector`: the vector of the last SIPI accepted, or
   * what KVM_SET_VCPU_EVENTS stored; KVM_SET_MP_STATE's SIPI_RECEIVED
   * starts the vCPU with it.
   */
  lastSipiVector = 0;
  /** An SMI was accepted and not yet processed. */
  smiPending = false;
  /** An ExtINT message was accepted: the CPU should fetch the vector from the PIC. */
  extIntPending = false;
  /** A remote-read IPI (KVM's paravirtual kick) was accepted. */
  kickPending = false;

  #apicBase = 0;
  /**
   * IA32_APIC_BASE.EN, kept with {@link Lapic.apicBase} by its two writers:
   * IA32_APIC_BASE is above 2^31, a double, and every delivery and boundary asks.
   */
  #enabled = false;
  #x2apic = false;
  /** The ID register: the 8-bit xAPIC ID, or the 32-bit x2APIC ID in x2APIC mode. */
  #id: number;
  /** The initial APIC ID (KVM: the vCPU ID): the x2APIC ID, and the xAPIC ID after reset. */
  readonly #initialId: number;
  #tpr = 0;
  #svr = 0;
  #ldr = 0;
  #dfr = 0;
  #esr = 0;
  /** Errors detected since the last ESR write (the SDM's "write before read" latch). */
  #esrPending = 0;
  #icrLow = 0;
  #icrHigh = 0;
  /** Input levels of LINT0 (bit 0) and LINT1 (bit 1). */
  #lintLines = 0;
  readonly #host: LapicHost;
  /**
   * The host's trace and EOI listener, held here: the paths of every
   * delivery read them, and a field of the host (an object literal, whose
   * field types V8 loosens when a later run of the process builds it again)
   * threw away their optimized code at the next run's first VM.
   */
  readonly #trace: Trace;
  readonly #eoiListener: EoiListener;
  #suppressEoi: boolean;
  #cmci: boolean;
  readonly #lint0Reenabled: boolean;
  #x2apicSupported: boolean;
  /** CPUID.1:ECX.TSC_DEADLINE: LVT timer mode 2 is writable (KVM's `timer_mode_mask`). */
  #tscDeadlineSupported = true;
  readonly #errors: boolean;
  /** Xen's vlapic errors ({@link LapicOptions.xenErrors}): illegal IPIs stay unsent, no register errors. */
  readonly #xenErrors: boolean;
  /** Xen's vpt runs the timer: a take tells it (pt_intr_post), off the fast path. */
  readonly #vptAck: boolean;
  /** Xen keeps the xAPIC ID register whole ({@link LapicOptions.idWhole}). */
  readonly #idWhole: boolean;
  /** Bits 23:0 of the xAPIC ID register as Xen keeps them (0 under KVM and in x2APIC mode). */
  #idLow = 0;
  readonly #icr2Whole: boolean;
  readonly #ipi: ApicMessage = fixedMessage(0, 0, "ipi");
  #mapStamp = nextMapStamp();
  readonly #local: ApicMessage = fixedMessage(0, 0, "local");
  /** {@link Lapic.useAutoEoi}'s vectors, or null (no SynIC: the common case, one test per take). */
  #autoEoi: Uint32Array | null = null;
  /** {@link Lapic.useSynicEoi}'s vectors and listener, or null (no SynIC). */
  #synicVectors: Uint32Array | null = null;
  #synicEoi: ((vector: number) => void) | null = null;

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    // Trace event ids, set only while the trace records (never in `scn
    // explore`, where they stay 0): the guest cannot see them.
    if (this.#trace.enabled) h.value(this.#irrCause);
    this.timer.hashFields(h);
    const w = HASHED;
    w[0] = this.nmiPending;
    w[1] = this.sipiVector;
    w[2] = this.lastSipiVector;
    // The flags as the bits of one word: fewer words at every state.
    w[3] = (this.initPending ? 1 : 0) | (this.smiPending ? 2 : 0) | (this.extIntPending ? 4 : 0) |
      (this.kickPending ? 8 : 0);
    // IRR, ISR, TMR and the LVT (see #pages), in the same block.
    h.block(w, maskedWords(w, 4, this.#pages));
  }

  /**
   * Saves what can change (pages, registers, pending events, the timer)
   * and returns a function that puts it back, for `scn explore`
   * (`VmModel.snapshot`); null while the timer is armed. The pages irr,
   * isr, tmr and lvt are views of #pages, saved whole. Fixed at
   * creation, not saved: #initialId, #host, #trace, #eoiListener, #lint0Reenabled,
   * #errors, #xenErrors, #vptAck, #idWhole, #icr2Whole, #autoEoi, #synicVectors and #synicEoi (the SynIC's, which the VM owns); scratch
   * messages: #ipi, #local. #nmiPending, #initPending and #sipiVector are saved
   * through their accessors, whose setters keep #latched (derived).
   */
  snapshot(): (() => void) | null {
    const timer = this.timer.snapshot();
    if (timer === null) return null;
    const pages = this.#pages.slice();
    const irrCause = this.#irrCause?.slice() ?? null;
    const irrWords = this.#irrWords, isrWords = this.#isrWords;
    const { nmiPending, initPending, sipiVector, lastSipiVector } = this;
    const { smiPending, extIntPending, kickPending } = this;
    const apicBase = this.#apicBase, enabled = this.#enabled, x2apic = this.#x2apic, id = this.#id;
    const idLow = this.#idLow;
    const tpr = this.#tpr, svr = this.#svr, ldr = this.#ldr, dfr = this.#dfr;
    const esr = this.#esr, esrPending = this.#esrPending;
    const icrLow = this.#icrLow, icrHigh = this.#icrHigh, lintLines = this.#lintLines;
    const suppressEoi = this.#suppressEoi, x2apicSupported = this.#x2apicSupported;
    const tscDeadlineSupported = this.#tscDeadlineSupported, mapStamp = this.#mapStamp;
    const cmci = this.#cmci;
    return () => {
      this.#cmci = cmci;
      this.#pages.set(pages);
      this.#irrCause = irrCause?.slice() ?? null;
      this.#irrWords = irrWords;
      this.#isrWords = isrWords;
      timer();
      this.nmiPending = nmiPending;
      this.initPending = initPending;
      this.sipiVector = sipiVector;
      this.lastSipiVector = lastSipiVector;
      this.smiPending = smiPending;
      this.extIntPending = extIntPending;
      this.kickPending = kickPending;
      this.#apicBase = apicBase;
      this.#enabled = enabled;
      this.#x2apic = x2apic;
      this.#id = id;
      this.#idLow = idLow;
      this.#tpr = tpr;
      this.#svr = svr;
      this.#ldr = ldr;
      this.#dfr = dfr;
      this.#esr = esr;
      this.#esrPending = esrPending;
      this.#icrLow = icrLow;
      this.#icrHigh = icrHigh;
      this.#lintLines = lintLines;
      this.#suppressEoi = suppressEoi;
      this.#x2apicSupported = x2apicSupported;
      this.#tscDeadlineSupported = tscDeadlineSupported;
      // The stamp these registers had: KVM's APIC map, which keeps the stamps
      // it was computed from, recalculates only if it saw other registers since.
      this.#mapStamp = mapStamp;
    };
  }

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    const w = HASHED;
    // IA32_APIC_BASE is up to MAXPHYADDR bits wide: both halves, or two bases
    // that differ above bit 31 would be one state to the search.
    w[0] = this.#apicBase;
    w[13] = Math.floor(this.#apicBase / 0x1_0000_0000);
    w[1] = this.#id;
    w[2] = this.#initialId;
    w[3] = this.#tpr;
    w[4] = this.#svr;
    w[5] = this.#ldr;
    w[6] = this.#dfr;
    w[7] = this.#esr;
    w[8] = this.#esrPending;
    w[9] = this.#icrLow;
    w[10] = this.#icrHigh;
    w[11] = this.#lintLines;
    w[12] = (this.#x2apic ? 1 : 0) | (this.#suppressEoi ? 2 : 0) |
      (this.#x2apicSupported ? 4 : 0) | (this.#tscDeadlineSupported ? 8 : 0);
    w[14] = this.#idLow;
    h.block(w, 15);
    this.timer.hashPrivate(h);
  }

  /**
   * Makes a local APIC in its reset state.
   *
   * @param apicId initial APIC ID (KVM: the vCPU ID): the x2APIC ID, whose
   * low 8 bits are the xAPIC ID.
   * @example
   * ```ts
   * declare const host: LapicHost;
   * const apic = new Lapic(1, host);
   * apic.read(0x20); // 0x01000000
   * ```
   */
  constructor(apicId: number, host: LapicHost, options: LapicOptions = {}) {
    const pages = this.#pages;
    this.irr = pages.subarray(0, 8);
    this.isr = pages.subarray(8, 16);
    this.tmr = pages.subarray(16, 24);
    this.lvt = pages.subarray(24, 24 + LVT_ENTRIES);
    this.#host = host;
    this.#trace = host.trace;
    this.#eoiListener = host.eoiListener;
    this.#initialId = apicId >>> 0;
    this.#id = this.#initialId & 0xff;
    this.#suppressEoi = options.eoiBroadcastSuppression ?? false;
    this.#cmci = options.cmci ?? false;
    this.#lint0Reenabled = options.lint0Reenabled ?? true;
    this.#x2apicSupported = options.x2apic ?? true;
    this.#errors = options.illegalVectorErrors ?? false;
    this.#xenErrors = this.#errors && (options.xenErrors ?? false);
    this.#icr2Whole = options.avicIcr2 ?? false;
    const clock: TimerClock = host.schedule
      ? {
        now: () => host.now?.() ?? 0,
        schedule: (at, fire) => host.schedule!(at, fire),
      }
      : STOPPED_CLOCK;
    this.timer = new LapicTimer({
      clock,
      trace: host.trace,
      name: host.name,
      expire: () => this.#timerExpired(),
      tsc: host.tsc,
      // Xen's pt_irq_masked and pt->irq.
      masked: () =>
        (this.lvt[Lvt.Timer] & LVT_MASKED) !== 0 || !this.hardwareEnabled || !this.softwareEnabled,
      timerVector: () => this.lvt[Lvt.Timer] & 0xff,
    }, {
      busCycleNs: options.busCycleNs,
      minPeriodicNs: options.minPeriodicNs,
      xenVpt: options.xenVpt,
    });
    this.#vptAck = options.xenVpt !== undefined;
    this.#idWhole = options.idWhole ?? false;
    this.reset(false);
  }

  // --- state -------------------------------------------------------------

  /** The trace event that set `vector`'s IRR bit (0: none recorded, or the trace was off). */
  irrCause(vector: number): number {
    return this.#irrCause?.[vector] ?? 0;
  }

  /** The APIC ID in the current mode: the xAPIC ID (ID[31:24]), or the 32-bit x2APIC ID. */
  get id(): number {
    return this.#id;
  }
  /** The x2APIC ID (KVM: the vCPU ID), whatever the mode. */
  get x2apicId(): number {
    return this.#initialId;
  }
  /** The xAPIC ID the ID register holds (meaningful in xAPIC mode). */
  get xapicId(): number {
    return this.#x2apic ? this.#id >>> 24 : this.#id;
  }
  /** IA32_APIC_BASE (below 2^52, so a plain number). */
  get apicBase(): number {
    return this.#apicBase;
  }
  /** The mode IA32_APIC_BASE selects. */
  get mode(): ApicMode {
    return this.#x2apic ? "x2apic" : this.hardwareEnabled ? "xapic" : "disabled";
  }
  /** IA32_APIC_BASE.EXTD with EN: x2APIC mode. */
  get x2apicMode(): boolean {
    return this.#x2apic;
  }
  /** Task Priority Register. */
  get tpr(): number {
    return this.#tpr;
  }
  /** Spurious-Interrupt Vector Register. */
  get svr(): number {
    return this.#svr;
  }
  /** Logical Destination Register (derived from the ID in x2APIC mode). */
  get ldr(): number {
    return this.#ldr;
  }
  /** Destination Format Register (bits 27:0 always 1). */
  get dfr(): number {
    return this.#dfr;
  }
  /**
   * Changes whenever an input of KVM's APIC map may have (IA32_APIC_BASE,
   * ID, LDR, DFR, SVR written or restored, a reset); no two different
   * states of any LAPIC share a stamp (a snapshot's restore puts back the
   * stamp of the registers it puts back). {@link KvmApicMap} recalculates when a stamp
   * differs from the one it saw, as KVM does on those writes, instead of
   * comparing every input at every delivery.
   */
  get mapStamp(): number {
    return this.#mapStamp;
  }
  /** Error Status Register (as latched by the last ESR write). */
  get esr(): number {
    return this.#esr;
  }
  /** Errors detected since the last ESR write; the next write moves them to ESR. */
  get esrPending(): number {
    return this.#esrPending;
  }
  /** ICR bits 31:0 as last written (delivery status reads 0). */
  get icrLow(): number {
    return this.#icrLow;
  }
  /** ICR bits 63:32 (xAPIC: only 31:24 kept; x2APIC: the 32-bit destination). */
  get icrHigh(): number {
    return this.#icrHigh;
  }
  /** Timer Initial Count. */
  get timerInitialCount(): number {
    return this.timer.initialCount;
  }
  /** Timer Current Count, counting down in virtual time. */
  get timerCurrentCount(): number {
    return this.timer.currentCount();
  }
  /** Timer Divide Configuration. */
  get timerDivide(): number {
    return this.timer.divide;
  }
  /** The Version register: version, LVT count − 1, EOI-broadcast-suppression support. */
  get version(): number {
    return LAPIC_VERSION | ((this.#cmci ? 6 : 5) << 16) | (this.#suppressEoi ? 1 << 24 : 0);
  }
  /**
   * What KVM_SET_CPUID2 tells the APIC (Linux `kvm_vcpu_after_set_cpuid`,
   * `kvm_apic_set_version`): CPUID.1:ECX.x2APIC makes IA32_APIC_BASE.EXTD
   * settable; CPUID.1:ECX.TSC_DEADLINE makes LVT timer mode 2 writable
   * (`timer_mode_mask`); `directedEoi` sets Version bit 24 and with it SVR
   * bit 12's writability, which KVM advertises when the guest has x2APIC and
   * the I/O APIC is not in the kernel. SVR keeps a bit 12 already set.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.setCpuid({ x2apic: true, tscDeadline: true, directedEoi: true });
   * apic.version; // 0x01050014
   * ```
   */
  setCpuid(cpuid: { x2apic: boolean; tscDeadline: boolean; directedEoi: boolean }): void {
    this.#x2apicSupported = cpuid.x2apic;
    this.#tscDeadlineSupported = cpuid.tscDeadline;
    this.#suppressEoi = cpuid.directedEoi;
  }

  /** IA32_APIC_BASE.EN: the APIC is globally (hardware) enabled. */
  get hardwareEnabled(): boolean {
    return this.#enabled;
  }
  /** SVR bit 8: the APIC is software-enabled. */
  get softwareEnabled(): boolean {
    return (this.#svr & SVR_ENABLE) !== 0;
  }
  /** CR8 as the CPU sees it: TPR[7:4] (SDM "Task Priority in IA-32e Mode"). */
  get cr8(): number {
    return this.#tpr >>> 4;
  }

  /**
   * IRRV, the SDM's name for the highest vector in IRR (-1 when IRR is
   * empty), whatever PPR says; from the LAPIC's summary, no scan.
   */
  get irrv(): number {
    return highestOf(this.irr, this.#irrWords);
  }

  /** ISRV: the highest in-service vector (-1 when ISR is empty); from the summary, no scan. */
  get isrv(): number {
    return highestOf(this.isr, this.#isrWords);
  }

  /**
   * Processor Priority Register, by KVM's rule: TPR when TPR[7:4] ≥ ISRV[7:4],
   * else ISRV & 0xF0 (ISRV = highest in-service vector, 0 if none). The SDM
   * leaves PPR[3:0] model-specific in the equal-class case; KVM keeps TPR's.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.write(0x80, 0x25); // TPR; ISR holds 0x41
   * apic.ppr; // 0x40
   * ```
   */
  get ppr(): number {
    const isrv = highestOf(this.isr, this.#isrWords);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.#tpr & 0xf0) >= isrClass ? this.#tpr : isrClass;
  }

  /**
   * MOV to CR8: TPR = value[3:0] << 4 (KVM `kvm_lapic_set_tpr`). Works
   * whatever the APIC mode, hardware-disabled included (CR8 is not MMIO).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.setCr8(5);
   * apic.tpr; // 0x50
   * ```
   */
  setCr8(value: number): void {
    this.#tpr = (value & 0xf) << 4;
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#host.name, "write", `tpr <- ${hex(this.#tpr)} (CR8 ${value & 0xf})`);
    }
  }

  // --- reset and enable --------------------------------------------------

  /**
   * Power-up reset (`initEvent` false) or INIT (`initEvent` true), KVM's way:
   * INIT keeps IA32_APIC_BASE (so the mode) and the ID, and in x2APIC mode
   * the derived LDR; everything else goes to its reset value and the timer
   * stops. Pending NMI/INIT/SIPI/SMI flags are left to the CPU model; the
   * LINT input lines are outside the APIC and keep their levels.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.reset(true);
   * apic.svr; // 0xff
   * ```
   */
  reset(initEvent = false): void {
    if (!initEvent) {
      this.#apicBase = (APIC_DEFAULT_BASE | BASE_EN | (this.#host.bsp ? BASE_BSP : 0)) >>> 0;
      this.#enabled = true;
      this.#x2apic = false;
      this.#id = this.#initialId & 0xff;
      this.#idLow = 0;
    }
    const lvt = this.lvt;
    // A loop, not `fill`: see clearAllVectors.
    for (let i = 0; i < lvt.length; i++) lvt[i] = LVT_RESET;
    this.timer.setMode(0);
    // KVM re-enables LINT0 as ExtINT on the boot CPU so the PIC works before the
    // guest touches the APIC (KVM_X86_QUIRK_LINT0_REENABLED).
    if (this.#host.bsp && this.#lint0Reenabled) this.lvt[Lvt.Lint0] = 0x700;
    this.#dfr = 0xffffffff;
    this.#svr = 0xff;
    this.#tpr = 0;
    if (!this.#x2apic) this.#ldr = 0;
    this.#mapDirty();
    const offered = this.#host.directedEoiOffered;
    if (offered) this.#suppressEoi = this.#x2apicSupported && offered();
    this.#esr = 0;
    this.#esrPending = 0;
    this.#icrLow = 0;
    this.#icrHigh = 0;
    this.timer.reset();
    clearAllVectors(this.irr);
    clearAllVectors(this.isr);
    clearAllVectors(this.tmr);
    this.#irrWords = this.#isrWords = 0;
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#host.name, "reset", initEvent ? "INIT reset" : "power-up reset");
    }
  }

  /**
   * Writes IA32_APIC_BASE as WRMSR would (`hostInitiated`: as userspace's
   * KVM_SET_MSRS would). Returns false where KVM raises #GP: reserved bits
   * (0-7, 9, 52 and up, EXTD without x2APIC support), EXTD without EN, and
   * for the guest only the x2APIC → xAPIC and disabled → x2APIC moves.
   * Writing the current value always succeeds. Entering x2APIC mode makes the
   * ID the 32-bit x2APIC ID and derives the LDR; enabling from disabled (or
   * leaving x2APIC for xAPIC) resets the xAPIC ID to the initial one. The BSP
   * flag is stored as written (SDM: R/W; KVM keeps the guest's bit).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.setApicBase(0xfee00000); // hardware-disable
   * apic.hardwareEnabled; // false
   * ```
   */
  setApicBase(value: number | bigint, hostInitiated = false): boolean {
    const why = this.#setApicBase(BigInt(value), hostInitiated);
    if (why === null) return true;
    const t = this.#trace;
    if (t.enabled) t.emit(this.#host.name, "apicbase.gp", `${hex(value)}: ${why}`);
    return false;
  }

  #setApicBase(value: bigint, host: boolean): string | null {
    if (value === BigInt(this.#apicBase)) return null;
    if (value < 0n || value >= 1n << BigInt(MAX_PHYS_ADDR_BITS)) {
      return `reserved bits set (above MAXPHYADDR ${MAX_PHYS_ADDR_BITS})`;
    }
    const low = Number(value & 0xfffn);
    if ((low & BASE_RESERVED_LOW) !== 0) return `reserved bits ${hex(low & BASE_RESERVED_LOW)} set`;
    if ((low & BASE_EXTD) !== 0 && !this.#x2apicSupported) {
      return "EXTD set but CPUID reports no x2APIC";
    }
    const from = this.mode;
    const to = modeOf(low);
    if (to === "invalid") return "EXTD (x2APIC) without EN is an invalid state";
    if (!host) {
      if (from === "x2apic" && to === "xapic") {
        return "x2APIC -> xAPIC is not allowed (disable the APIC first)";
      }
      if (from === "disabled" && to === "x2apic") {
        return "disabled -> x2APIC is not allowed (enable xAPIC first)";
      }
    }
    const old = this.#apicBase;
    this.#apicBase = Number(value);
    this.#enabled = (low & BASE_EN) !== 0;
    this.#x2apic = to === "x2apic";
    // What changes with the mode (KVM __kvm_apic_set_base).
    if (((old ^ low) & BASE_EN) !== 0 && to !== "disabled") {
      this.#id = this.#initialId & 0xff;
      this.#idLow = 0;
    }
    if (((old ^ low) & BASE_EXTD) !== 0) {
      this.#idLow = 0;
      if (to === "x2apic") {
        this.#id = this.#initialId;
        this.#ldr = x2apicLdr(this.#initialId);
      } else if (to === "xapic") {
        this.#id = this.#initialId & 0xff;
      }
    }
    this.#mapDirty();
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#host.name, "apicbase", `apic base <- ${hex(value)} (${from} -> ${to})`);
    }
    return null;
  }

  // --- MSRs ----------------------------------------------------------------

  /**
   * RDMSR of an MSR the local APIC owns: IA32_APIC_BASE (0x1B),
   * IA32_TSC_DEADLINE (0x6E0: 0 unless armed in TSC-deadline mode) and the
   * x2APIC registers (0x800-0x8FF, only in x2APIC mode; ICR at 0x830 reads
   * all 64 bits). Returns the value, or a {@link GpFault} where KVM injects
   * #GP: not in x2APIC mode, a register with no x2APIC form (DFR 0x80E, ICR
   * high 0x831, APR, RRD), a write-only one (EOI, SELF IPI), an absent one.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.rdmsr(0x1b); // 0xfee00900n on the BSP
   * apic.rdmsr(0x80e); // { gp: true, reason: "..." } in x2APIC mode
   * ```
   */
  rdmsr(msr: number): bigint | GpFault {
    if (msr === IA32_APIC_BASE_MSR) return BigInt(this.#apicBase);
    if (msr === IA32_TSC_DEADLINE_MSR) {
      return this.hardwareEnabled ? this.timer.readTscDeadline() : 0n;
    }
    if (msr < X2APIC_MSR_BASE || msr > X2APIC_MSR_LAST) {
      return this.#gp(msr, "not a local APIC MSR");
    }
    if (!this.#x2apic) return this.#gp(msr, "x2APIC MSRs exist only in x2APIC mode");
    const offset = (msr - X2APIC_MSR_BASE) << 4;
    if (offset === OFFSET_ICR) return (BigInt(this.#icrHigh) << 32n) | BigInt(this.#icrLow);
    const reg = offset <= LapicOffset.TIMER_DIVIDE ? lapicRegisterByOffset(offset) : undefined;
    let why: string | null = null;
    if (offset === SELF_IPI_OFFSET) why = "SELF IPI is write-only";
    else if (!reg) why = "no x2APIC register there";
    else if (reg.msr === null) why = `${reg.specName} does not exist in x2APIC mode`;
    else if (reg.access === "wo") why = `${reg.specName} is write-only`;
    else if (offset === OFFSET_LVT_CMCI && !this.#cmci) why = "LVT CMCI is not implemented";
    if (why !== null) return this.#gp(msr, why);
    return BigInt(this.#readRegister(offset));
  }

  /**
   * WRMSR of an MSR the local APIC owns. Returns null, or a {@link GpFault}
   * where KVM injects #GP: IA32_APIC_BASE rules ({@link Lapic.setApicBase});
   * x2APIC registers outside x2APIC mode; bits 63:32 set on anything but the
   * ICR; ICR reserved bits 31:20, 17:16, 13; read-only registers (ID, LDR,
   * Version, PPR, ISR/TMR/IRR, TMCCT); DFR, ICR high and other registers with
   * no x2APIC form; a non-zero ESR write; SELF IPI bits 31:8. The single
   * 64-bit ICR write sends the IPI (destination = bits 63:32); SELF IPI sends
   * a fixed self IPI. IA32_TSC_DEADLINE writes outside TSC-deadline mode are
   * ignored without a fault. The EOI value is not checked (KVM).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.wrmsr(0x830, 0x1_000040f1n); // fixed 0xF1 to x2APIC ID 1
   * apic.wrmsr(0x83f, 0x1f1n);        // GpFault: SELF IPI bits 31:8
   * ```
   */
  wrmsr(msr: number, value: bigint): GpFault | null {
    value = BigInt.asUintN(64, value);
    if (msr === IA32_APIC_BASE_MSR) {
      const why = this.#setApicBase(value, false);
      return why === null ? null : this.#gp(msr, why);
    }
    if (msr === IA32_TSC_DEADLINE_MSR) {
      if (!this.hardwareEnabled || !this.timer.writeTscDeadline(value)) {
        const t = this.#trace;
        if (t.enabled) {
          t.emit(
            this.#host.name,
            "write.ignored",
            `IA32_TSC_DEADLINE <- ${hex(value)}: ${
              this.hardwareEnabled ? "not in TSC-deadline mode" : "APIC hardware-disabled"
            }`,
          );
        }
      }
      return null;
    }
    if (msr < X2APIC_MSR_BASE || msr > X2APIC_MSR_LAST) {
      return this.#gp(msr, "not a local APIC MSR");
    }
    if (!this.#x2apic) return this.#gp(msr, "x2APIC MSRs exist only in x2APIC mode");
    const offset = (msr - X2APIC_MSR_BASE) << 4;
    const low = Number(value & 0xffffffffn);
    const high = Number(value >> 32n);
    if (offset === OFFSET_ICR) {
      const reserved = (low & X2APIC_ICR_RESERVED) >>> 0;
      if (reserved !== 0) return this.#gp(msr, `ICR reserved bits ${hex(reserved)} set`);
      // BUSY is reserved in x2APIC; KVM clears it rather than faulting, Xen faults.
      if (this.#xenErrors && (low & ICR_BUSY) !== 0) {
        return this.#gp(msr, "Xen: ICR bit 12 (delivery status) is reserved in x2APIC mode");
      }
      this.#icrLow = low & ~ICR_BUSY;
      this.#icrHigh = high;
      this.#traceWrite("icr", (BigInt(high) << 32n) | BigInt(this.#icrLow));
      this.#sendIpi(this.#icrLow, high);
      return null;
    }
    if (high !== 0) return this.#gp(msr, "bits 63:32 are reserved");
    const why = this.#x2apicWrite(offset, low);
    return why === null ? null : this.#gp(msr, why);
  }

  /**
   * A 64-bit access to a register through Hyper-V's synthetic APIC MSRs
   * (HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR), which KVM sends to the
   * register whatever the APIC's mode (`kvm_hv_vapic_msr_write` ->
   * `kvm_lapic_msr_write` -> `kvm_x2apic_icr_write` or
   * `kvm_lapic_reg_write`). ICR takes all 64 bits at once, as in x2APIC
   * mode: reserved bits 31:20, 17:16 and 13 fault, BUSY is cleared, and the
   * destination is bits 63:32 in x2APIC mode, bits 63:56 (ICR2's field) in
   * xAPIC mode. Every other register faults with bits 63:32 set. Returns null,
   * or why KVM injects #GP.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.vapicMsrWrite(0xb0, 1n); // EOI, whatever the value (null)
   * apic.vapicMsrWrite(0x80, 1n << 32n); // "bits 63:32 are reserved"
   * ```
   */
  vapicMsrWrite(offset: number, value: bigint): string | null {
    value = BigInt.asUintN(64, value);
    const low = Number(value & 0xffffffffn), high = Number(value >> 32n);
    if (offset === OFFSET_ICR) {
      const reserved = (low & X2APIC_ICR_RESERVED) >>> 0;
      if (reserved !== 0) return `ICR reserved bits ${hex(reserved)} set`;
      this.#icrLow = low & ~ICR_BUSY;
      // KVM keeps bits 63:32 as one 64-bit ICR; on a host whose ICR is split (AMD) they are
      // ICR2, the register this model keeps them in (see the README's gaps for Intel's).
      this.#icrHigh = high;
      this.#traceWrite("icr", (BigInt(high) << 32n) | BigInt(this.#icrLow));
      this.#sendIpi(this.#icrLow, this.#x2apic ? high : fieldGet(ICR_DEST, high));
      return null;
    }
    if (high !== 0) return "bits 63:32 are reserved";
    const reg = lapicRegisterByOffset(offset);
    if (!reg) return "no APIC register there";
    return this.#regWrite(reg, offset, low);
  }

  /**
   * A read through Hyper-V's synthetic APIC MSRs (`kvm_hv_vapic_msr_read`
   * -> `kvm_lapic_msr_read`): ICR all 64 bits, any other readable register
   * zero-extended; a write-only one (EOI) is why KVM injects #GP.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.vapicMsrRead(0x80); // TPR, e.g. 0n
   * apic.vapicMsrRead(0xb0); // "EOI is write-only"
   * ```
   */
  vapicMsrRead(offset: number): bigint | string {
    if (offset === OFFSET_ICR) return (BigInt(this.#icrHigh) << 32n) | BigInt(this.#icrLow);
    const reg = lapicRegisterByOffset(offset);
    if (!reg) return "no APIC register there";
    if (reg.access === "wo") return `${reg.specName} is write-only`;
    return BigInt(this.#readRegister(offset) >>> 0);
  }

  #x2apicWrite(offset: number, value: number): string | null {
    if (offset === SELF_IPI_OFFSET) {
      if ((value & ~0xff) !== 0) return `SELF IPI bits 31:8 are reserved (${hex(value)})`;
      this.#traceWrite("self_ipi", value);
      // KVM sends it as ICR = self shorthand | vector: fixed, edge, level bit 0.
      this.#sendIpi(fieldSet(ICR_SHORTHAND, value, Shorthand.Self), 0);
      return null;
    }
    const reg = offset <= LapicOffset.TIMER_DIVIDE ? lapicRegisterByOffset(offset) : undefined;
    if (!reg) return "no x2APIC register there";
    if (reg.msr === null) return `${reg.specName} does not exist in x2APIC mode`;
    if (offset === OFFSET_ID) return "the x2APIC ID is read-only";
    if (offset === OFFSET_LDR) return "the x2APIC LDR is read-only (derived from the ID)";
    if (reg.access === "ro") return `${reg.specName} is read-only`;
    if (offset === OFFSET_ESR && value !== 0) {
      return `ESR writes must be 0 in x2APIC mode (${hex(value)})`;
    }
    if (this.#xenErrors) {
      // Xen's guest_wrmsr_x2apic faults on the bits KVM drops, and on any
      // EOI value but 0 (KVM takes any).
      if (offset === LapicOffset.EOI) {
        if (value !== 0) return `Xen: EOI writes must be 0 in x2APIC mode (${hex(value)})`;
      } else {
        const reserved = (value & ~this.#writeMask(reg, offset)) >>> 0;
        if (reserved !== 0) return `Xen: ${reg.specName} reserved bits ${hex(reserved)} set`;
      }
    }
    return this.#regWrite(reg, offset, value);
  }

  /** The bits a write keeps (as #regWrite keeps them): the register's, SVR's directed-EOI bit only when offered. */
  #writeMask(reg: LapicRegister, offset: number): number {
    return offset === LapicOffset.SVR && !this.#suppressEoi
      ? reg.writeMask & ~SVR_SUPPRESS_EOI
      : reg.writeMask;
  }

  #gp(msr: number, reason: string): GpFault {
    const t = this.#trace;
    if (t.enabled) t.emit(this.#host.name, "msr.gp", `MSR ${hex(msr)}: #GP, ${reason}`);
    return { gp: true, msr, reason };
  }

  // --- IRR and ISR with their summaries -------------------------------------

  /** Sets IRR bit `v`. */
  #irrSet(v: number): void {
    setVector(this.irr, v);
    this.#irrWords |= 1 << (v >>> 5);
  }

  /** Clears IRR bit `v`. */
  #irrClear(v: number): void {
    const w = v >>> 5;
    if ((this.irr[w] &= ~(1 << (v & 31))) === 0) this.#irrWords &= ~(1 << w);
  }

  /** Sets ISR bit `v`. */
  #isrSet(v: number): void {
    setVector(this.isr, v);
    this.#isrWords |= 1 << (v >>> 5);
  }

  /** Clears ISR bit `v`. */
  #isrClear(v: number): void {
    const w = v >>> 5;
    if ((this.isr[w] &= ~(1 << (v & 31))) === 0) this.#isrWords &= ~(1 << w);
  }

  /** Recomputes the summaries from IRR and ISR, after a write of whole words. */
  /** A new {@link Lapic.mapStamp}: KVM marks its APIC map dirty and recalculates. */
  #mapDirty(): void {
    this.#mapStamp = nextMapStamp();
    this.#host.mapChanged?.();
  }

  #summarize(): void {
    let irr = 0, isr = 0;
    for (let w = 0; w < 8; w++) {
      if (this.irr[w] !== 0) irr |= 1 << w;
      if (this.isr[w] !== 0) isr |= 1 << w;
    }
    this.#irrWords = irr;
    this.#isrWords = isr;
  }

  // --- message acceptance (hot path) ---------------------------------------

  /**
   * Accepts a message this APIC was chosen for (the bus has already matched
   * the destination). Returns an {@link Accept} code; Dropped means "not
   * taken" in KVM's delivery count.
   *
   * @example
   * ```ts
   * import { testVector } from "../core/vector_set.ts";
   * import { fixedMessage } from "./apic_message.ts";
   * declare const apic: Lapic;
   * apic.accept(fixedMessage(0x41, 0, "msi")); // Accept.Accepted
   * testVector(apic.irr, 0x41); // true
   * ```
   */
  accept(msg: ApicMessage): Accept {
    // The common case first and small, so that V8 inlines it into the bus:
    // a fixed or lowest-priority edge message, untraced, to an enabled APIC.
    const mode = msg.deliveryMode;
    const v = msg.vector & 0xff;
    if (
      (mode !== DeliveryMode.Fixed && mode !== DeliveryMode.LowestPriority) || msg.level ||
      !this.#enabled || (this.#svr & SVR_ENABLE) === 0 || (v < 16 && this.#errors) ||
      this.#trace.enabled
    ) {
      return this.#acceptAny(msg);
    }
    // TMR follows the most recent acceptance, so an EOI knows how it came in.
    clearVector(this.tmr, v);
    if (testVector(this.irr, v)) return Accept.Merged;
    this.#irrSet(v);
    this.#host.irrSet?.(v);
    return Accept.Accepted;
  }

  /** {@link Lapic.accept} for every message, traced or not. */
  #acceptAny(msg: ApicMessage): Accept {
    const t = this.#trace;
    const name = this.#host.name;
    const v = msg.vector & 0xff;
    if (!this.hardwareEnabled) {
      if (t.enabled) t.emit(name, "dropped", `${hex(v)}: APIC hardware-disabled`);
      return Accept.Dropped;
    }
    switch (msg.deliveryMode) {
      case DeliveryMode.Fixed:
      case DeliveryMode.LowestPriority: {
        if (msg.level && !msg.assert) {
          // A level de-assert carries no request (KVM drops it).
          if (t.enabled) t.emit(name, "dropped", `${hex(v)}: level de-assert`);
          return Accept.Dropped;
        }
        if (!this.softwareEnabled) {
          if (t.enabled) t.emit(name, "dropped", `${hex(v)}: APIC software-disabled`);
          return Accept.Dropped;
        }
        if (v < 16 && this.#errors) {
          // SDM: the APIC never sets IRR bits 0-15.
          if (t.enabled) t.emit(name, "dropped", `${hex(v)}: illegal vector`);
          this.#signalError(EsrBit.ReceiveIllegalVector);
          return Accept.Dropped;
        }
        // TMR follows the most recent acceptance, so an EOI knows how it came in.
        if (msg.level) setVector(this.tmr, v);
        else clearVector(this.tmr, v);
        if (testVector(this.irr, v)) {
          if (t.enabled) t.emit(name, "irr.merged", `${hex(v)} already pending`);
          return Accept.Merged;
        }
        this.#irrSet(v);
        if (t.enabled) {
          (this.#irrCause ??= arenaI32(256))[v] = t.emit(
            name,
            "irr.set",
            `${hex(v)} ${msg.level ? "level" : "edge"}`,
          );
        }
        this.#host.irrSet?.(v);
        return Accept.Accepted;
      }
      case DeliveryMode.NMI:
        this.nmiPending++;
        if (t.enabled) t.emit(name, "nmi", `NMI pending (${this.nmiPending})`);
        return Accept.Accepted;
      case DeliveryMode.SMI:
        this.smiPending = true;
        if (t.enabled) t.emit(name, "smi", "SMI pending");
        return Accept.Accepted;
      case DeliveryMode.INIT:
        if (msg.level && !msg.assert) {
          // INIT level de-assert only resynchronised arbitration IDs on old parts.
          if (t.enabled) t.emit(name, "init.deassert", "INIT level de-assert ignored");
          return Accept.Dropped;
        }
        this.initPending = true;
        if (this.sipiVector >= 0) {
          // KVM sets pending_events to INIT alone: an unprocessed SIPI is dropped.
          this.sipiVector = -1;
          if (t.enabled) t.emit(name, "sipi.dropped", "INIT discards the unprocessed SIPI");
        }
        if (t.enabled) t.emit(name, "init", "INIT pending");
        return Accept.Accepted;
      case DeliveryMode.StartUp:
        this.sipiVector = this.lastSipiVector = v;
        if (t.enabled) t.emit(name, "sipi", `SIPI ${hex(v)} pending`);
        return Accept.Accepted;
      case DeliveryMode.ExtINT:
        this.extIntPending = true;
        if (t.enabled) t.emit(name, "extint", "ExtINT pending: vector comes from the PIC");
        return Accept.Accepted;
      case DeliveryMode.RemoteRead:
        this.kickPending = true;
        if (t.enabled) t.emit(name, "kick", "remote-read IPI taken as a wake-up kick");
        return Accept.Accepted;
    }
    return Accept.Dropped;
  }

  /**
   * The vector the APIC would present to the CPU now: the highest IRR vector
   * whose class is above PPR's, or -1. Does not look at RFLAGS.IF (CPU side).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.pendingVector(); // 0x41 or -1
   * ```
   */
  pendingVector(): number {
    if (!this.hardwareEnabled) return -1;
    const v = highestOf(this.irr, this.#irrWords);
    if (v < 0 || (v & 0xf0) <= this.ppr) return -1;
    return v;
  }

  /**
   * The INTA cycle: moves the highest deliverable IRR vector to ISR and
   * returns it. If nothing in IRR is above PPR any more (TPR was raised
   * between INTR and INTA), returns the spurious vector SVR[7:0] and changes
   * nothing; the handler for it must not EOI. A caller that has just asked
   * {@link Lapic.pendingVector} passes its answer (`pending`), so the take
   * does not scan IRR and ISR twice.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * const v = apic.acknowledge(); // 0x41, now in ISR
   * ```
   */
  acknowledge(pending: number = this.pendingVector()): number {
    if (pending >= 0 && this.#autoEoi === null && !this.#vptAck && !this.#trace.enabled) {
      this.#irrClear(pending);
      this.#isrSet(pending);
      return pending;
    }
    return this.#acknowledgeAny(pending);
  }

  /** {@link Lapic.acknowledge}, spurious, traced or with a SynIC. */
  #acknowledgeAny(pending: number): number {
    const t = this.#trace;
    const v = pending;
    if (v < 0) {
      const s = this.#svr & 0xff;
      if (t.enabled) t.emit(this.#host.name, "spurious", `INTA found nothing: ${hex(s)}`);
      return s;
    }
    this.#irrClear(v);
    if (this.#autoEoi !== null && testVector(this.#autoEoi, v)) {
      if (t.enabled) t.emit(this.#host.name, "ack", `${hex(v)} IRR cleared, auto-EOI (SynIC)`);
      return v;
    }
    this.#isrSet(v);
    if (t.enabled) t.emit(this.#host.name, "ack", `${hex(v)} IRR -> ISR`);
    // Xen: the injection of the vpt's vector delivers its tick (pt_intr_post).
    if (this.#vptAck) this.timer.xenInjected(v);
    return v;
  }

  /**
   * Hyper-V SynIC's AutoEOI SINTs (`synic->auto_eoi_bitmap`, read at each
   * take by `kvm_apic_ack_interrupt`): a vector in `vectors` is taken
   * without entering ISR, so it needs no EOI and sends none. The array is
   * the SynIC's, read live.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.useAutoEoi(new Uint32Array(8));
   * ```
   */
  useAutoEoi(vectors: Uint32Array): void {
    this.#autoEoi = vectors;
  }

  /**
   * Hyper-V SynIC's SINT vectors (`synic->vec_bitmap`, read live): the EOI
   * of one is an ack of its SINTs, which `onEoi` hears before the I/O APIC
   * does (`apic_set_eoi` -> `kvm_hv_synic_send_eoi`).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.useSynicEoi(new Uint32Array(8), (v) => console.log(v));
   * ```
   */
  useSynicEoi(vectors: Uint32Array, onEoi: (vector: number) => void): void {
    this.#synicVectors = vectors;
    this.#synicEoi = onEoi;
  }

  /**
   * End of interrupt: clears the highest ISR bit. If that vector's TMR bit is
   * set and SVR bit 12 is clear, tells the EOI listener (the IOAPIC's remote
   * IRR); with the bit set, only its `suppressedEoi`, if the host lets the
   * bit suppress ({@link LapicHost.suppressEoiBroadcast}). If TMR is clear
   * (edge) and the listener wants that vector's edge EOIs (KVM's
   * `ioapic_handled_vectors`: the RTC's vector while a tick awaits EOI),
   * tells it through `edgeEoi`, whatever SVR bit 12 says (KVM
   * `kvm_ioapic_send_eoi`). With a split irqchip the listener may claim the
   * EOI first ({@link EoiListener.exitsOnEoi}): then it exits to userspace
   * whatever TMR says, and whatever SVR bit 12 says unless the host lets
   * the bit suppress (KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST). A level-triggered LINT
   * whose vector this is gets its remote IRR cleared (and re-fires if its
   * line is still high). With ISR empty nothing happens. Returns the vector,
   * or -1.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.eoi(); // 0x41
   * apic.eoi(); // -1: ISR empty
   * ```
   */
  eoi(): number {
    const v = highestOf(this.isr, this.#isrWords);
    if (v < 0) {
      const t = this.#trace;
      if (t.enabled) t.emit(this.#host.name, "eoi.none", "EOI with ISR empty");
      return -1;
    }
    this.#isrClear(v);
    if (this.#synicVectors !== null && testVector(this.#synicVectors, v)) this.#synicEoi!(v);
    // The common EOI stays small enough for V8 to inline: an edge vector,
    // untraced, no split irqchip, no LINT waiting for it.
    const listener = this.#eoiListener;
    if (
      this.#trace.enabled || listener.exitsOnEoi !== undefined || testVector(this.tmr, v) ||
      ((this.lvt[Lvt.Lint0] | this.lvt[Lvt.Lint1]) & LVT_REMOTE_IRR) !== 0
    ) {
      this.#eoiNotify(v);
    } else if (listener.wantsEdgeEoi?.(v)) {
      listener.edgeEoi!(v, this.#initialId);
    }
    return v;
  }

  /** Who hears the EOI of `v`, its ISR bit just cleared (see {@link Lapic.eoi}). */
  #eoiNotify(v: number): void {
    const t = this.#trace;
    const name = this.#host.name;
    const id = t.enabled ? t.emit(name, "eoi", `${hex(v)} ISR cleared`) : 0;
    const listener = this.#eoiListener;
    if (listener.exitsOnEoi?.(v)) {
      // Split irqchip: userspace's I/O APIC hears it whatever TMR says, and
      // whatever SVR.12 says unless the VMM enabled suppression.
      if (this.#suppressesBroadcast()) {
        if (t.enabled) t.emit(name, "eoi.suppressed", `${hex(v)}: SVR.12 set, no EOI exit`);
      } else {
        t.open(id);
        try {
          listener.exitEoi!(v);
        } finally {
          t.close(id);
        }
      }
    } else if (!testVector(this.tmr, v)) {
      if (listener.wantsEdgeEoi?.(v)) {
        t.open(id);
        try {
          listener.edgeEoi!(v, this.#initialId);
        } finally {
          t.close(id);
        }
      }
    } else {
      if (this.#suppressesBroadcast()) {
        if (t.enabled) t.emit(name, "eoi.suppressed", `${hex(v)}: SVR.12 set, no broadcast`);
        if (listener.suppressedEoi) {
          t.open(id);
          try {
            listener.suppressedEoi(v, this.#initialId);
          } finally {
            t.close(id);
          }
        }
      } else {
        t.open(id);
        try {
          if (t.enabled) t.emit(name, "eoi.broadcast", `${hex(v)} to the IOAPICs`);
          listener.eoi(v, this.#initialId);
        } finally {
          t.close(id);
        }
      }
    }
    if (
      ((this.lvt[Lvt.Lint0] | this.lvt[Lvt.Lint1]) & LVT_REMOTE_IRR) !== 0 &&
      testVector(this.tmr, v)
    ) {
      t.open(id);
      try {
        this.#lintEoi(v);
      } finally {
        t.close(id);
      }
    }
  }

  /** SVR bit 12 is set and, by the host's rule, suppresses the EOI broadcast. */
  #suppressesBroadcast(): boolean {
    return (this.#svr & SVR_SUPPRESS_EOI) !== 0 && (this.#host.suppressEoiBroadcast?.() ?? true);
  }

  /**
   * Whether the PIC's INTR reaches this CPU: LVT0 unmasked in ExtINT mode, or
   * the APIC hardware-disabled (then INTR is wired straight to the CPU). KVM's
   * rule; QEMU also accepts other unmasked LVT0 modes.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.write(0x350, 0x700);
   * apic.acceptsExtInt(); // true (if software-enabled; otherwise the mask is forced)
   * ```
   */
  acceptsExtInt(): boolean {
    if (!this.hardwareEnabled) return true;
    return (this.lvt[Lvt.Lint0] & LVT0_MASK_AND_MODE) === LVT0_UNMASKED_EXTINT;
  }

  // --- local interrupts: LINT pins, timer, error ----------------------------

  /**
   * Drives the LINT0 or LINT1 input pin to `level`, and delivers what the LVT
   * says (SDM "Local Vector Table"): masked → nothing (an edge is lost; a
   * level line is looked at again when unmasked); NMI, SMI, INIT → on the
   * rising edge; fixed edge → the vector on the rising edge; fixed level
   * (LINT0 only: LINT1 is always edge) → the vector, level-triggered, while
   * the line is high and remote IRR (LVT bit 14) is clear; remote IRR is set
   * on acceptance and cleared by the EOI of that vector, which re-delivers
   * if the line is still high; ExtINT → nothing here, the CPU samples the
   * PIC's INTR itself ({@link Lapic.acceptsExtInt}). With the APIC
   * hardware-disabled the pins are the CPU's INTR and NMI: a LINT1 rising
   * edge is an NMI. Under KVM only the PIT drives a LINT pin (an NMI-watchdog
   * pulse on LINT0); KVM never sets remote IRR.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.write(0x360, 0x400); // LINT1 = NMI
   * apic.setLint(1, 1);       // nmiPending 1
   * apic.setLint(1, 0);
   * ```
   */
  setLint(pin: 0 | 1, level: 0 | 1): void {
    const bit = 1 << pin;
    const wasHigh = (this.#lintLines & bit) !== 0;
    if (level) this.#lintLines |= bit;
    else this.#lintLines &= ~bit;
    const t = this.#trace;
    const name = this.#host.name;
    const id = t.enabled ? t.emit(name, "lint", `LINT${pin} ${level ? "high" : "low"}`) : 0;
    t.open(id);
    try {
      const rising = level === 1 && !wasHigh;
      if (!this.hardwareEnabled) {
        if (pin === 1 && rising) {
          this.nmiPending++;
          if (t.enabled) {
            t.emit(
              name,
              "nmi",
              `LINT1 is the NMI pin (APIC disabled): NMI pending (${this.nmiPending})`,
            );
          }
        }
        return;
      }
      this.#lintSample(pin, rising);
    } finally {
      t.close(id);
    }
  }

  /** The level of a LINT input line (0 or 1). */
  lintLine(pin: 0 | 1): number {
    return (this.#lintLines >> pin) & 1;
  }

  #lintSample(pin: 0 | 1, rising: boolean): void {
    const index = pin === 0 ? Lvt.Lint0 : Lvt.Lint1;
    const lvt = this.lvt[index];
    const high = (this.#lintLines & (1 << pin)) !== 0;
    const t = this.#trace;
    const name = this.#host.name;
    if ((lvt & LVT_MASKED) !== 0) {
      if (high && t.enabled) t.emit(name, "local.masked", `LINT${pin}: LVT masked`);
      return;
    }
    const mode = fieldGet(LVT_DELIVERY_MODE, lvt);
    if (mode === DeliveryMode.ExtINT) {
      if (t.enabled && rising) {
        t.emit(
          name,
          "lint.extint",
          `LINT${pin} is ExtINT: the CPU fetches the vector from the PIC`,
        );
      }
      return;
    }
    const levelFixed = pin === 0 && mode === DeliveryMode.Fixed && (lvt & LVT_LEVEL) !== 0;
    if (levelFixed) {
      if (!high) return;
      if ((lvt & LVT_REMOTE_IRR) !== 0) {
        if (t.enabled) t.emit(name, "lint.remote_irr", `LINT${pin}: remote IRR set, waits for EOI`);
        return;
      }
      if (this.#localDeliver(index, true) !== Accept.Dropped) {
        this.lvt[index] |= LVT_REMOTE_IRR;
        if (t.enabled) t.emit(name, "lint.remote_irr.set", `LINT${pin} vector ${hex(lvt & 0xff)}`);
      }
      return;
    }
    if (!rising) return;
    if (
      mode === DeliveryMode.Fixed || mode === DeliveryMode.NMI || mode === DeliveryMode.SMI ||
      mode === DeliveryMode.INIT
    ) {
      this.#localDeliver(index, false);
    } else if (t.enabled) {
      t.emit(name, "local.ignored", `LINT${pin}: delivery mode ${mode} is reserved for LVTs`);
    }
  }

  #lintEoi(v: number): void {
    for (const pin of [0, 1] as const) {
      const index = pin === 0 ? Lvt.Lint0 : Lvt.Lint1;
      const lvt = this.lvt[index];
      if ((lvt & LVT_REMOTE_IRR) === 0 || (lvt & 0xff) !== v) continue;
      this.lvt[index] = lvt & ~LVT_REMOTE_IRR;
      const t = this.#trace;
      if (t.enabled) {
        t.emit(this.#host.name, "lint.remote_irr.clear", `LINT${pin} vector ${hex(v)}`);
      }
      if (this.lintLine(pin)) this.#lintSample(pin, false);
    }
  }

  /**
   * The vCPU's IA32_MCG_CAP changed (KVM_X86_SETUP_MCE): LVT CMCI exists
   * exactly when it has MCG_CMCI_P (`kvm_apic_calc_nr_lvt_entries`), and
   * Version's Max LVT Entry follows. An entry that appears starts masked;
   * one that goes keeps its value, unreachable (`kvm_apic_after_set_mcg_cap`).
   */
  setMcgCmci(cmciP: boolean): void {
    if (cmciP === this.#cmci) return;
    if (cmciP) this.lvt[Lvt.Cmci] = LVT_MASKED;
    this.#cmci = cmciP;
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#host.name, "lvt.cmci", `LVT CMCI ${cmciP ? "added (masked)" : "removed"}`);
    }
  }

  /**
   * A corrected machine-check interrupt (KVM `kvm_vcpu_x86_set_ucna` ->
   * `kvm_apic_local_deliver(APIC_LVTCMCI)`): through LVT CMCI, when it
   * exists and is unmasked. Returns whether the interrupt was accepted.
   */
  deliverCmci(): boolean {
    if (!this.#cmci) return false;
    return this.#localDeliver(Lvt.Cmci, false) !== Accept.Dropped;
  }

  /**
   * KVM `kvm_apic_local_deliver`: an unmasked LVT entry becomes a message to
   * this APIC with the entry's vector and delivery mode.
   */
  #localDeliver(index: Lvt, level: boolean): Accept {
    const reg = this.lvt[index];
    const t = this.#trace;
    if (!this.hardwareEnabled || (reg & LVT_MASKED) !== 0) {
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "local.masked",
          `${LVT_NAMES[index]} ${hex(reg)}: ${
            this.hardwareEnabled ? "masked" : "APIC disabled"
          }, no interrupt`,
        );
      }
      return Accept.Dropped;
    }
    const m = this.#local;
    m.vector = reg & 0xff;
    m.deliveryMode = fieldGet(LVT_DELIVERY_MODE, reg) as DeliveryMode;
    m.level = level;
    m.assert = true;
    m.sourceId = this.#id;
    return this.accept(m);
  }

  #timerExpired(): void {
    const t = this.#trace;
    const id = t.enabled
      ? t.emit(this.#host.name, "timer.fire", `timer expired, LVTT ${hex(this.lvt[Lvt.Timer])}`)
      : 0;
    t.open(id);
    try {
      this.#localDeliver(Lvt.Timer, false);
    } finally {
      t.close(id);
    }
  }

  /**
   * Records an error (SDM "Error Handling"): the bits collect until the next
   * ESR write; a new one raises LVT Error if it is unmasked. An LVT Error
   * entry with a vector 0-15 is itself an illegal vector received (the SDM's
   * Receive Illegal Vector covers "the local vector table"): that bit is
   * added and nothing is delivered, which is also how Xen's `vlapic_error`
   * breaks the cycle since XSA-462.
   */
  #signalError(bits: number): void {
    const fresh = bits & ~this.#esrPending;
    this.#esrPending |= bits;
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#host.name, "esr", `error ${hex(bits)} (pending ${hex(this.#esrPending)})`);
    }
    const lvtErr = this.lvt[Lvt.Error];
    if (fresh === 0 || (lvtErr & LVT_MASKED) !== 0) return;
    if ((lvtErr & 0xff) < 16) {
      this.#esrPending |= EsrBit.ReceiveIllegalVector;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "esr",
          `LVT Error vector ${hex(lvtErr & 0xff)} is illegal: not delivered (pending ${
            hex(this.#esrPending)
          })`,
        );
      }
      return;
    }
    this.#localDeliver(Lvt.Error, false);
  }

  // --- MMIO --------------------------------------------------------------

  /**
   * A 32-bit MMIO read at `offset` from the APIC base. A hardware-disabled
   * APIC, or one in x2APIC mode, reads all-ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE);
   * unknown and write-only registers read 0; an offset inside a 16-byte slot
   * reads the register shifted (bytes past the first four read 0).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.read(0xf0); // 0xff after reset
   * ```
   */
  read(offset: number): number {
    if (!this.hardwareEnabled || this.#x2apic) return 0xffffffff;
    const within = offset & 0xf;
    if (within >= 4) return 0;
    const base = offset - within;
    if (this.#errors && !this.#xenErrors && !lapicRegisterByOffset(base)) {
      this.#signalError(EsrBit.IllegalRegisterAddress);
    }
    const value = this.#readRegister(base);
    return (value >>> (within * 8)) >>> 0;
  }

  #readRegister(offset: number): number {
    const lvtIndex = lvtIndexOf(offset);
    if (lvtIndex >= 0) {
      if (lvtIndex === Lvt.Cmci && !this.#cmci) return 0;
      return this.lvt[lvtIndex];
    }
    if (offset >= LapicOffset.ISR && offset < LapicOffset.ESR) {
      const word = (offset >> 4) & 7;
      const set = offset < LapicOffset.TMR
        ? this.isr
        : offset < LapicOffset.IRR
        ? this.tmr
        : this.irr;
      return set[word];
    }
    switch (offset) {
      case LapicOffset.ID:
        return this.#x2apic ? this.#id : ((this.#id << 24) | this.#idLow) >>> 0;
      case LapicOffset.VERSION:
        return this.version;
      case LapicOffset.TPR:
        return this.#tpr;
      case LapicOffset.APR:
        return 0; // KVM does not model arbitration priority.
      case LapicOffset.PPR:
        return this.ppr;
      case LapicOffset.LDR:
        return this.#ldr;
      case LapicOffset.DFR:
        return this.#dfr;
      case LapicOffset.SVR:
        return this.#svr;
      case LapicOffset.ESR:
        return this.#esr;
      case LapicOffset.ICR_LOW:
        return this.#icrLow;
      case LapicOffset.ICR_HIGH:
        return this.#icrHigh;
      case LapicOffset.TIMER_INITIAL_COUNT:
        return this.timer.initialCount;
      case LapicOffset.TIMER_CURRENT_COUNT:
        return this.timer.currentCount();
      case LapicOffset.TIMER_DIVIDE:
        return this.timer.divide;
    }
    return 0;
  }

  /**
   * The register at `offset` as the model holds it, for inspection (state
   * paths, reports): no MMIO hole in x2APIC or disabled mode and no error
   * detection. In x2APIC mode the ID register holds the 32-bit x2APIC ID;
   * write-only and unknown registers read 0.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.peek(0x80); // TPR, whatever the mode
   * ```
   */
  peek(offset: number): number {
    // Registers held in 32-bit JavaScript ints (ICR, LVTs) come back unsigned.
    return this.#readRegister(offset) >>> 0;
  }

  /**
   * KVM_SET_LAPIC's view of one word of the register page (`kvm_apic_set_state`):
   * the value is copied in as given, with no write mask and no side effect
   * of a guest write (an ICR word sends nothing, an SVR that disables
   * masks no LVT); Version and PPR are recomputed from the rest, TMCCT
   * restarts the timer with that count left, and the ID register is the
   * caller's to fix up in x2APIC mode (`kvm_apic_state_fixup`).
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.restoreWord(0x200, 0x10); // IRR bits 4: vector 0x04 pending, as userspace restored it
   * ```
   */
  restoreWord(offset: number, value: number): void {
    value >>>= 0;
    const lvtIndex = lvtIndexOf(offset);
    if (lvtIndex >= 0) {
      this.lvt[lvtIndex] = value;
      if (lvtIndex === Lvt.Timer) this.timer.setMode(((value >>> 17) & 3) as TimerMode);
    } else if (offset >= LapicOffset.ISR && offset < LapicOffset.ESR) {
      const word = (offset >> 4) & 7;
      const set = offset < LapicOffset.TMR
        ? this.isr
        : offset < LapicOffset.IRR
        ? this.tmr
        : this.irr;
      set[word] = value;
      // KVM's kvm_apic_set_state recounts too (irr_pending, isr_count).
      if (set !== this.tmr) this.#summarize();
    } else {
      switch (offset) {
        case LapicOffset.ID:
          if (!this.#x2apic) this.#id = value >>> 24;
          this.#mapDirty();
          break;
        case LapicOffset.TPR:
          this.#tpr = value & 0xff;
          break;
        case LapicOffset.LDR:
          this.#ldr = value;
          this.#mapDirty();
          break;
        case LapicOffset.DFR:
          this.#dfr = value;
          this.#mapDirty();
          break;
        case LapicOffset.SVR:
          this.#svr = value;
          this.#mapDirty();
          break;
        case LapicOffset.ESR:
          this.#esr = value;
          break;
        case LapicOffset.ICR_LOW:
          this.#icrLow = value;
          break;
        case LapicOffset.ICR_HIGH:
          this.#icrHigh = value;
          break;
        case LapicOffset.TIMER_INITIAL_COUNT:
          this.timer.writeInitialCount(value);
          break;
        case LapicOffset.TIMER_DIVIDE:
          this.timer.writeDivide(value);
          break;
      }
    }
    const t = this.#trace;
    if (t.enabled) t.emit(this.#host.name, "set_state", `${hex(offset)} <- ${hex(value)}`);
  }

  /**
   * A 32-bit MMIO write at `offset`. Like KVM, only 16-byte aligned offsets
   * count; read-only and unknown registers ignore the write; bits outside a
   * register's writable mask are dropped; a hardware-disabled APIC or one in
   * x2APIC mode drops every MMIO write. Writing EOI (0xB0) performs
   * {@link Lapic.eoi}; writing ICR low sends an IPI.
   *
   * @example
   * ```ts
   * declare const apic: Lapic;
   * apic.write(0x310, 0x01000000); // ICR high: dest 1
   * apic.write(0x300, 0x000040f1); // ICR low: fixed 0xF1 -> sends
   * ```
   */
  write(offset: number, value: number): void {
    // The EOI write, one per interrupt, without the register lookup.
    if (offset === LapicOffset.EOI && this.#enabled && !this.#x2apic) {
      this.eoi();
      return;
    }
    this.#writeAny(offset, value);
  }

  /**
   * {@link Lapic.write} of 0 to EOI, the handler's `eoi`: a method of its own, so that the
   * code performing a round trip's EOI is not the code that wrote the run's other registers
   * (`lapic enable`'s SVR). That write comes first in a run, before V8 collects type feedback
   * for the functions it passes through, and the next run making it again threw away the
   * optimized EOI path that had inlined it.
   */
  writeEoi(): void {
    if (this.#enabled && !this.#x2apic) this.eoi();
    else this.#writeAny(LapicOffset.EOI, 0);
  }

  /** {@link Lapic.write} of any register. */
  #writeAny(offset: number, value: number): void {
    const t = this.#trace;
    const name = this.#host.name;
    value = value >>> 0;
    if (!this.hardwareEnabled || this.#x2apic) {
      if (t.enabled) {
        const why = this.#x2apic ? "x2APIC mode, MMIO is a hole" : "APIC hardware-disabled";
        t.emit(name, "write.ignored", `${hex(offset)} <- ${hex(value)}: ${why}`);
      }
      return;
    }
    const reg = (offset & 0xf) === 0 ? lapicRegisterByOffset(offset) : undefined;
    if (!reg) {
      if (this.#errors && !this.#xenErrors && (offset & 0xf) === 0) {
        this.#signalError(EsrBit.IllegalRegisterAddress);
      }
      if (t.enabled) {
        t.emit(name, "write.ignored", `${hex(offset)} <- ${hex(value)}: no register there`);
      }
      return;
    }
    const why = this.#regWrite(reg, offset, value);
    if (why !== null && t.enabled) {
      t.emit(name, "write.ignored", `${hex(offset)} <- ${hex(value)}: ${why}`);
    }
  }

  /**
   * One 32-bit register write, shared by MMIO and x2APIC WRMSR (KVM
   * `kvm_lapic_reg_write`). Returns why KVM refuses the write (its `ret = 1`:
   * MMIO drops it, WRMSR raises #GP), or null; a write KVM accepts and then
   * ignores (TMICT in TSC-deadline mode) traces itself and returns null. The
   * x2APIC-only refusals (ID, LDR, DFR, ICR high, ESR ≠ 0) are the caller's.
   */
  #regWrite(reg: LapicRegister, offset: number, value: number): string | null {
    const t = this.#trace;
    const name = this.#host.name;
    if (reg.access === "ro") return "read-only";
    if (offset === OFFSET_LVT_CMCI && !this.#cmci) {
      return "LVT CMCI not implemented (no MCG_CMCI_P)";
    }
    if (offset === LapicOffset.EOI) {
      // The EOI value is ignored (xAPIC; KVM in x2APIC too).
      this.eoi();
      return null;
    }
    let mask = reg.writeMask;
    if (offset === LapicOffset.SVR && !this.#suppressEoi) mask &= ~SVR_SUPPRESS_EOI;
    let stored = (value & mask) >>> 0;
    const reserved = (value & ~mask & this.#reservedReportMask(offset)) >>> 0;
    if (reserved !== 0 && t.enabled) {
      t.emit(name, "write.reserved", `${reg.name}: reserved bits ${hex(reserved)} ignored`);
    }

    const lvtIndex = lvtIndexOf(offset);
    if (lvtIndex >= 0) {
      if (lvtIndex === Lvt.Timer && !this.#tscDeadlineSupported) {
        // Without CPUID TSC_DEADLINE KVM's timer_mode_mask keeps only bit 17.
        stored &= ~TIMER_MODE_TSC_DEADLINE;
      }
      if (!this.softwareEnabled) {
        // A software-disabled APIC keeps every LVT masked (SDM "Local APIC State").
        if ((stored & LVT_MASKED) === 0 && t.enabled) {
          t.emit(name, "lvt.masked", `${reg.name}: mask forced, APIC software-disabled`);
        }
        stored |= LVT_MASKED;
      }
      this.lvt[lvtIndex] = stored;
      this.#traceWrite(reg.name, stored);
      if (lvtIndex === Lvt.Timer) {
        this.timer.setMode(((stored >>> 17) & 3) as TimerMode);
      } else if (lvtIndex === Lvt.Lint0 && (this.#lintLines & 1) !== 0) {
        // A level-sensitive input that is still high is seen again once unmasked.
        this.#lintSample(0, false);
      }
      return null;
    }

    switch (offset) {
      case LapicOffset.ID:
        this.#id = stored >>> 24;
        // Xen stores what was written; its ID is still bits 31:24.
        if (this.#idWhole) this.#idLow = value & 0xff_ffff;
        this.#mapDirty();
        break;
      case LapicOffset.TPR:
        this.#tpr = stored;
        break;
      case LapicOffset.LDR:
        this.#ldr = stored;
        this.#mapDirty();
        break;
      case LapicOffset.DFR:
        stored = (stored | 0x0fffffff) >>> 0;
        this.#dfr = stored;
        this.#mapDirty();
        break;
      case LapicOffset.SVR: {
        const was = (this.#svr & SVR_ENABLE) !== 0;
        this.#svr = stored;
        this.#mapDirty();
        if ((stored & SVR_ENABLE) === 0) {
          for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_MASKED;
          if (t.enabled) t.emit(name, "lvt.masked", "all LVTs masked: APIC software-disabled");
        } else if (!was && this.#host.softwareEnabled) {
          // After the register is written, so the hook sees an enabled APIC.
          this.#traceWrite(reg.name, stored);
          this.#host.softwareEnabled();
          return null;
        }
        break;
      }
      case LapicOffset.ESR:
        // Writing ESR latches the errors seen since the last write.
        this.#esr = this.#esrPending;
        this.#esrPending = 0;
        stored = this.#esr;
        break;
      case LapicOffset.ICR_LOW:
        // Delivery is instantaneous here, so the send-pending bit never sticks.
        this.#icrLow = stored & ~ICR_BUSY;
        this.#traceWrite(reg.name, this.#icrLow);
        this.#sendIpi(this.#icrLow, fieldGet(ICR_DEST, this.#icrHigh));
        return null;
      case LapicOffset.ICR_HIGH:
        // AVIC's backing page takes the whole word (xapic_state_test's "xavic errata").
        if (this.#icr2Whole) stored = value >>> 0;
        this.#icrHigh = stored;
        break;
      case LapicOffset.TIMER_INITIAL_COUNT:
        if ((this.lvt[Lvt.Timer] & (3 << 17)) === TIMER_MODE_TSC_DEADLINE) {
          // TMICT is dead in TSC-deadline mode (SDM "TSC-Deadline Mode"). KVM
          // drops the write without failing it, so an x2APIC WRMSR does not #GP.
          if (t.enabled) {
            t.emit(name, "write.ignored", `${reg.name} <- ${hex(value)}: TSC-deadline mode`);
          }
          return null;
        }
        this.#traceWrite(reg.name, stored);
        this.timer.writeInitialCount(stored);
        return null;
      case LapicOffset.TIMER_DIVIDE:
        this.#traceWrite(reg.name, stored);
        this.timer.writeDivide(stored);
        return null;
    }
    this.#traceWrite(reg.name, stored);
    return null;
  }

  /** Bits worth reporting as "reserved": DFR's 27:0 read as ones anyway, so are not. */
  #reservedReportMask(offset: number): number {
    if (offset === LapicOffset.DFR) return 0xf0000000;
    if (offset === LapicOffset.ESR) return 0;
    return 0xffffffff;
  }

  #traceWrite(regName: string, stored: number | bigint): void {
    const t = this.#trace;
    if (t.enabled) t.emit(this.#host.name, "write", `${regName} <- ${hex(stored)}`);
  }

  /** Sends the IPI an ICR value describes; `dest` is already the mode's destination field. */
  #sendIpi(icr: number, dest: number): void {
    const t = this.#trace;
    const m = this.#ipi;
    m.vector = fieldGet(ICR_VECTOR, icr);
    m.deliveryMode = fieldGet(ICR_DELIVERY_MODE, icr) as DeliveryMode;
    m.logical = fieldGet(ICR_DEST_MODE, icr) === 1;
    m.dest = dest >>> 0;
    m.shorthand = fieldGet(ICR_SHORTHAND, icr) as Shorthand;
    m.level = fieldGet(ICR_TRIGGER, icr) === 1;
    m.assert = fieldGet(ICR_LEVEL, icr) === 1;
    m.sourceId = this.#id;
    if (
      this.#errors && m.vector < 16 &&
      (m.deliveryMode === DeliveryMode.Fixed || m.deliveryMode === DeliveryMode.LowestPriority)
    ) {
      this.#signalError(EsrBit.SendIllegalVector);
      // Xen's vlapic_ipi stops here; the SDM's APIC sends it and receivers refuse it.
      if (this.#xenErrors) {
        if (t.enabled) {
          t.emit(
            this.#host.name,
            "ipi.dropped",
            `vector ${hex(m.vector)} is illegal: not sent (Xen)`,
          );
        }
        return;
      }
    }
    const id = t.enabled
      ? t.emit(
        this.#host.name,
        "ipi",
        `vector ${hex(m.vector)} mode ${m.deliveryMode} ${m.logical ? "logical" : "physical"} ` +
          `dest ${hex(m.dest)} shorthand ${m.shorthand}`,
      )
      : 0;
    t.open(id);
    try {
      const sink = this.#host.sink;
      if (isIpiSink(sink)) sink.deliverFrom(this, m);
      else sink.deliver(m);
    } finally {
      t.close(id);
    }
  }
}

const LVT_NAMES = [
  "LVT Timer",
  "LVT Thermal",
  "LVT PMC",
  "LVT LINT0",
  "LVT LINT1",
  "LVT Error",
  "LVT CMCI",
] as const;

/**
 * The stamps of {@link Lapic.mapStamp}: one count for every LAPIC of the
 * process, never reset, so a stamp names one state of one LAPIC even
 * across the VMs `scn explore` builds. Never shown or hashed: only compared.
 */
let mapStamps = 0;

function nextMapStamp(): number {
  return ++mapStamps;
}

/**
 * The newest {@link Lapic.mapStamp} any LAPIC of the process has taken: while
 * it stays the same, no input of any APIC map changed (KVM's
 * `apic_map_dirty`, one word for every delivery to look at).
 *
 * @example
 * ```ts
 * const before = lastMapStamp();
 * // ... an ID, LDR, DFR, SVR or IA32_APIC_BASE write somewhere ...
 * lastMapStamp() !== before; // true after such a write
 * ```
 */
export function lastMapStamp(): number {
  return mapStamps;
}

/** The highest vector of `set`, whose non-zero words are the bits of `words`; -1 when empty. */
function highestOf(set: VectorSet, words: number): number {
  if (words === 0) return -1;
  const w = 31 - Math.clz32(words);
  return (w << 5) + 31 - Math.clz32(set[w]);
}
