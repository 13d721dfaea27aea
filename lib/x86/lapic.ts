/**
 * The local APIC of one vCPU, in xAPIC mode: IRR/ISR/TMR, priorities,
 * acceptance of bus messages, the INTA cycle, EOI (with the EOI broadcast to
 * the IOAPICs), LVTs, the ICR and IPIs, and MMIO register access.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller
 * (APIC)" chapter: "Local APIC Status and Location", "Local Vector Table",
 * "Issuing Interprocessor Interrupts", "Interrupt Acceptance for Fixed
 * Interrupts", "Task and Processor Priorities", "End-of-Interrupt", "Spurious
 * Interrupt", "Local APIC State After Power-Up Reset / INIT". Where the SDM
 * leaves room or KVM deviates, the model follows Linux KVM
 * (`arch/x86/kvm/lapic.c`) because that is what guests run on: PPR's low
 * nibble, fixed messages dropped while software-disabled, writable LVT bits,
 * ICR delivery status always 0, INIT level de-assert ignored, reset values.
 *
 * Register layouts, masks and reset values come from {@link ./lapic_registers.ts}.
 * x2APIC (MSR access, 32-bit IDs, derived LDR) is not modelled yet: the state
 * is kept so that it can be added (the ID is stored as a number, not as the
 * xAPIC register image).
 *
 * @module
 */

import {
  clearAllVectors,
  clearVector,
  highestVector,
  newVectorSet,
  setVector,
  testVector,
  type VectorSet,
} from "../core/vector_set.ts";
import type { Trace } from "../core/trace.ts";
import {
  type ApicMessage,
  type ApicSink,
  DeliveryMode,
  type EoiListener,
  fixedMessage,
  type Shorthand,
} from "./apic_message.ts";
import {
  APIC_DEFAULT_BASE,
  ICR_HIGH_FIELDS,
  ICR_LOW_FIELDS,
  lapicRegisterByName,
  lapicRegisterByOffset,
  LVT_LINT_FIELDS,
} from "./lapic_registers.ts";
import { type BitField, fieldByName, fieldGet, type FieldTable } from "../core/bitfield.ts";

/** What a local APIC is wired to. */
export interface LapicHost {
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

/** KVM's APIC version (integrated APIC). */
export const LAPIC_VERSION = 0x14;

const BASE_BSP = 1 << 8;
const BASE_EXTD = 1 << 10;
const BASE_EN = 1 << 11;
const SVR_ENABLE = 1 << 8;
const SVR_SUPPRESS_EOI = 1 << 12;
const LVT_MASKED = 1 << 16;
const ICR_BUSY = 1 << 12;
const TIMER_MODE_TSC_DEADLINE = 2 << 17;

function field(table: FieldTable, name: string): BitField {
  const f = fieldByName(table, name);
  if (!f) throw new Error(`lapic: no field ${name}`);
  return f;
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

/** MMIO offset → LVT index, -1 elsewhere (0x2F0..0x370 in 16-byte steps). */
function lvtIndexOf(offset: number): number {
  if (offset === 0x2f0) return Lvt.Cmci;
  if (offset >= 0x320 && offset <= 0x370) return (offset - 0x320) >> 4;
  return -1;
}

const LVT_RESET = lapicRegisterByName("lvt0")!.reset;

function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}

function isIpiSink(s: ApicSink): s is IpiSink {
  return typeof (s as Partial<IpiSink>).deliverFrom === "function";
}

/**
 * One vCPU's local APIC (xAPIC mode).
 *
 * @example
 * ```ts
 * const trace = new Trace(() => 0);
 * const host = { sink: { deliver: () => -1 }, eoiListener: { eoi() {} }, trace, name: "lapic0", bsp: true };
 * const apic = new Lapic(0, host);
 * apic.write(0xf0, 0x1ff); // software-enable
 * apic.accept(fixedMessage(0x41, 0, "msi"));
 * apic.acknowledge(); // 0x41
 * apic.eoi();
 * ```
 */
export class Lapic {
  /** Interrupt Request Register. */
  readonly irr: VectorSet = newVectorSet();
  /** In-Service Register. */
  readonly isr: VectorSet = newVectorSet();
  /** Trigger Mode Register: 1 = the vector was last accepted level-triggered. */
  readonly tmr: VectorSet = newVectorSet();
  /** LVT entries indexed by {@link Lvt}. */
  readonly lvt: Uint32Array = new Uint32Array(7);
  /** Per vector, the trace event that set its IRR bit: the cause of a later take. */
  readonly irrCause: Int32Array = new Int32Array(256);

  /** Pending NMIs latched for the CPU (the CPU side decides how many it keeps). */
  nmiPending = 0;
  /** An INIT was accepted and not yet processed. */
  initPending = false;
  /** Vector of the last accepted start-up IPI, or -1. */
  sipiVector: number = -1;
  /** An SMI was accepted and not yet processed. */
  smiPending = false;
  /** An ExtINT message was accepted: the CPU should fetch the vector from the PIC. */
  extIntPending = false;
  /** A remote-read IPI (KVM's paravirtual kick) was accepted. */
  kickPending = false;

  #apicBase = 0;
  #id: number;
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
  #timerInitial = 0;
  #timerCurrent = 0;
  #timerDivide = 0;
  readonly #host: LapicHost;
  readonly #suppressEoi: boolean;
  readonly #cmci: boolean;
  readonly #lint0Reenabled: boolean;
  readonly #ipi: ApicMessage = fixedMessage(0, 0, "ipi");

  /**
   * Makes a local APIC in its reset state.
   *
   * @param apicId initial xAPIC ID (0-255).
   * @example
   * ```ts
   * const apic = new Lapic(1, host);
   * apic.read(0x20); // 0x01000000
   * ```
   */
  constructor(apicId: number, host: LapicHost, options: LapicOptions = {}) {
    this.#host = host;
    this.#id = apicId & 0xff;
    this.#initialId = this.#id;
    this.#suppressEoi = options.eoiBroadcastSuppression ?? false;
    this.#cmci = options.cmci ?? false;
    this.#lint0Reenabled = options.lint0Reenabled ?? true;
    this.reset(false);
  }

  // --- state -------------------------------------------------------------

  /** The xAPIC ID (ID register bits 31:24). */
  get id(): number {
    return this.#id;
  }
  /** IA32_APIC_BASE. */
  get apicBase(): number {
    return this.#apicBase;
  }
  /** Task Priority Register. */
  get tpr(): number {
    return this.#tpr;
  }
  /** Spurious-Interrupt Vector Register. */
  get svr(): number {
    return this.#svr;
  }
  /** Logical Destination Register. */
  get ldr(): number {
    return this.#ldr;
  }
  /** Destination Format Register (bits 27:0 always 1). */
  get dfr(): number {
    return this.#dfr;
  }
  /** Error Status Register. */
  get esr(): number {
    return this.#esr;
  }
  /** ICR bits 31:0 as last written (delivery status reads 0). */
  get icrLow(): number {
    return this.#icrLow;
  }
  /** ICR bits 63:32 (only 31:24 kept in xAPIC). */
  get icrHigh(): number {
    return this.#icrHigh;
  }
  /** Timer Initial Count. */
  get timerInitialCount(): number {
    return this.#timerInitial;
  }
  /** Timer Current Count (stored only: the timer does not count in this model yet). */
  get timerCurrentCount(): number {
    return this.#timerCurrent;
  }
  /** Timer Divide Configuration. */
  get timerDivide(): number {
    return this.#timerDivide;
  }
  /** The Version register: version, LVT count − 1, EOI-broadcast-suppression support. */
  get version(): number {
    return LAPIC_VERSION | ((this.#cmci ? 6 : 5) << 16) | (this.#suppressEoi ? 1 << 24 : 0);
  }
  /** IA32_APIC_BASE.EN: the APIC is globally (hardware) enabled. */
  get hardwareEnabled(): boolean {
    return (this.#apicBase & BASE_EN) !== 0;
  }
  /** SVR bit 8: the APIC is software-enabled. */
  get softwareEnabled(): boolean {
    return (this.#svr & SVR_ENABLE) !== 0;
  }

  /**
   * Processor Priority Register, by KVM's rule: TPR when TPR[7:4] ≥ ISRV[7:4],
   * else ISRV & 0xF0 (ISRV = highest in-service vector, 0 if none). The SDM
   * leaves PPR[3:0] model-specific in the equal-class case; KVM keeps TPR's.
   *
   * @example
   * ```ts
   * apic.write(0x80, 0x25); // TPR; ISR holds 0x41
   * apic.ppr; // 0x40
   * ```
   */
  get ppr(): number {
    const isrv = highestVector(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.#tpr & 0xf0) >= isrClass ? this.#tpr : isrClass;
  }

  // --- reset and enable --------------------------------------------------

  /**
   * Power-up reset (`initEvent` false) or INIT (`initEvent` true), KVM's way:
   * INIT keeps IA32_APIC_BASE and the ID; everything else goes to its reset
   * value. Pending NMI/INIT/SIPI/SMI flags are left to the CPU model.
   *
   * @example
   * ```ts
   * apic.reset(true);
   * apic.svr; // 0xff
   * ```
   */
  reset(initEvent = false): void {
    if (!initEvent) {
      this.#apicBase = (APIC_DEFAULT_BASE | BASE_EN | (this.#host.bsp ? BASE_BSP : 0)) >>> 0;
      this.#id = this.#initialId;
    }
    this.lvt.fill(LVT_RESET);
    // KVM re-enables LINT0 as ExtINT on the boot CPU so the PIC works before the
    // guest touches the APIC (KVM_X86_QUIRK_LINT0_REENABLED).
    if (this.#host.bsp && this.#lint0Reenabled) this.lvt[Lvt.Lint0] = 0x700;
    this.#dfr = 0xffffffff;
    this.#svr = 0xff;
    this.#tpr = 0;
    this.#ldr = 0;
    this.#esr = 0;
    this.#esrPending = 0;
    this.#icrLow = 0;
    this.#icrHigh = 0;
    this.#timerDivide = 0;
    this.#timerInitial = 0;
    this.#timerCurrent = 0;
    clearAllVectors(this.irr);
    clearAllVectors(this.isr);
    clearAllVectors(this.tmr);
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(this.#host.name, "reset", initEvent ? "INIT reset" : "power-up reset");
    }
  }

  /**
   * Writes IA32_APIC_BASE as a guest WRMSR would, for the xAPIC/disabled
   * states. Returns false (the caller raises #GP) for reserved bits, EXTD
   * without EN, or any x2APIC state (not modelled yet). Re-enabling restores
   * the initial xAPIC ID (SDM: re-enabling = power-up state; KVM resets the ID).
   *
   * @example
   * ```ts
   * apic.setApicBase(0xfee00000); // hardware-disable
   * apic.hardwareEnabled; // false
   * ```
   */
  setApicBase(value: number): boolean {
    const t = this.#host.trace;
    // Bits 51:12 are the base; 8, 10 and 11 are flags; the rest is reserved.
    const low12 = value % 0x1000;
    if ((low12 & ~(BASE_BSP | BASE_EXTD | BASE_EN)) !== 0 || value >= 2 ** 52 || value < 0) {
      if (t.enabled) t.emit(this.#host.name, "apicbase.gp", `${hex(value)}: reserved bits set`);
      return false;
    }
    if (low12 & BASE_EXTD) {
      if (t.enabled) {
        t.emit(this.#host.name, "apicbase.gp", `${hex(value)}: x2APIC not modelled`);
      }
      return false;
    }
    const wasEnabled = this.hardwareEnabled;
    // BSP is owned by the platform: guest writes cannot change it.
    const bsp = this.#apicBase % 0x1000 & BASE_BSP;
    this.#apicBase = value - (low12 & BASE_BSP) + bsp;
    if (!wasEnabled && this.hardwareEnabled) this.#id = this.#initialId;
    if (t.enabled) t.emit(this.#host.name, "apicbase", `apic base <- ${hex(this.#apicBase)}`);
    return true;
  }

  // --- message acceptance (hot path) ---------------------------------------

  /**
   * Accepts a message this APIC was chosen for (the bus has already matched
   * the destination). Returns an {@link Accept} code; Dropped means "not
   * taken" in KVM's delivery count.
   *
   * @example
   * ```ts
   * apic.accept(fixedMessage(0x41, 0, "msi")); // Accept.Accepted
   * testVector(apic.irr, 0x41); // true
   * ```
   */
  accept(msg: ApicMessage): Accept {
    const t = this.#host.trace;
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
        // TMR follows the most recent acceptance, so an EOI knows how it came in.
        if (msg.level) setVector(this.tmr, v);
        else clearVector(this.tmr, v);
        if (testVector(this.irr, v)) {
          if (t.enabled) t.emit(name, "irr.merged", `${hex(v)} already pending`);
          return Accept.Merged;
        }
        setVector(this.irr, v);
        if (t.enabled) {
          this.irrCause[v] = t.emit(name, "irr.set", `${hex(v)} ${msg.level ? "level" : "edge"}`);
        }
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
        if (t.enabled) t.emit(name, "init", "INIT pending");
        return Accept.Accepted;
      case DeliveryMode.StartUp:
        this.sipiVector = v;
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
   * apic.pendingVector(); // 0x41 or -1
   * ```
   */
  pendingVector(): number {
    if (!this.hardwareEnabled) return -1;
    const v = highestVector(this.irr);
    if (v < 0 || (v & 0xf0) <= this.ppr) return -1;
    return v;
  }

  /**
   * The INTA cycle: moves the highest deliverable IRR vector to ISR and
   * returns it. If nothing in IRR is above PPR any more (TPR was raised
   * between INTR and INTA), returns the spurious vector SVR[7:0] and changes
   * nothing; the handler for it must not EOI.
   *
   * @example
   * ```ts
   * const v = apic.acknowledge(); // 0x41, now in ISR
   * ```
   */
  acknowledge(): number {
    const t = this.#host.trace;
    const v = this.pendingVector();
    if (v < 0) {
      const s = this.#svr & 0xff;
      if (t.enabled) t.emit(this.#host.name, "spurious", `INTA found nothing: ${hex(s)}`);
      return s;
    }
    clearVector(this.irr, v);
    setVector(this.isr, v);
    if (t.enabled) t.emit(this.#host.name, "ack", `${hex(v)} IRR -> ISR`);
    return v;
  }

  /**
   * End of interrupt: clears the highest ISR bit. If that vector's TMR bit is
   * set and SVR bit 12 is clear, tells the EOI listener (the IOAPIC's remote
   * IRR). If it is clear (edge) and the listener wants that vector's edge
   * EOIs (KVM's `ioapic_handled_vectors`: the RTC's vector while a tick
   * awaits EOI), tells it through `edgeEoi`, whatever SVR bit 12 says (KVM
   * `kvm_ioapic_send_eoi`). With ISR empty nothing happens. Returns the
   * vector, or -1.
   *
   * @example
   * ```ts
   * apic.eoi(); // 0x41
   * apic.eoi(); // -1: ISR empty
   * ```
   */
  eoi(): number {
    const t = this.#host.trace;
    const name = this.#host.name;
    const v = highestVector(this.isr);
    if (v < 0) {
      if (t.enabled) t.emit(name, "eoi.none", "EOI with ISR empty");
      return -1;
    }
    clearVector(this.isr, v);
    const id = t.enabled ? t.emit(name, "eoi", `${hex(v)} ISR cleared`) : 0;
    const listener = this.#host.eoiListener;
    if (!testVector(this.tmr, v)) {
      if (listener.wantsEdgeEoi?.(v)) {
        t.open(id);
        try {
          listener.edgeEoi!(v);
        } finally {
          t.close(id);
        }
      }
    } else {
      if ((this.#svr & SVR_SUPPRESS_EOI) !== 0) {
        if (t.enabled) t.emit(name, "eoi.suppressed", `${hex(v)}: SVR.12 set, no broadcast`);
      } else {
        t.open(id);
        try {
          if (t.enabled) t.emit(name, "eoi.broadcast", `${hex(v)} to the IOAPICs`);
          listener.eoi(v);
        } finally {
          t.close(id);
        }
      }
    }
    return v;
  }

  /**
   * Whether the PIC's INTR reaches this CPU: LVT0 unmasked in ExtINT mode, or
   * the APIC hardware-disabled (then INTR is wired straight to the CPU). KVM's
   * rule; QEMU also accepts other unmasked LVT0 modes.
   *
   * @example
   * ```ts
   * apic.write(0x350, 0x700);
   * apic.acceptsExtInt(); // true (if software-enabled; otherwise the mask is forced)
   * ```
   */
  acceptsExtInt(): boolean {
    if (!this.hardwareEnabled) return true;
    const lvt0 = this.lvt[Lvt.Lint0];
    return fieldGet(LVT_MASK, lvt0) === 0 &&
      fieldGet(LVT_DELIVERY_MODE, lvt0) === DeliveryMode.ExtINT;
  }

  // --- MMIO --------------------------------------------------------------

  /**
   * A 32-bit MMIO read at `offset` from the APIC base. A hardware-disabled
   * APIC reads all-ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE); unknown and
   * write-only registers read 0; an offset inside a 16-byte slot reads the
   * register shifted (bytes past the first four read 0).
   *
   * @example
   * ```ts
   * apic.read(0xf0); // 0xff after reset
   * ```
   */
  read(offset: number): number {
    if (!this.hardwareEnabled) return 0xffffffff;
    const within = offset & 0xf;
    if (within >= 4) return 0;
    const value = this.#readRegister(offset - within);
    return (value >>> (within * 8)) >>> 0;
  }

  #readRegister(offset: number): number {
    const lvtIndex = lvtIndexOf(offset);
    if (lvtIndex >= 0) {
      if (lvtIndex === Lvt.Cmci && !this.#cmci) return 0;
      return this.lvt[lvtIndex];
    }
    if (offset >= 0x100 && offset < 0x280) {
      const word = (offset >> 4) & 7;
      const set = offset < 0x180 ? this.isr : offset < 0x200 ? this.tmr : this.irr;
      return set[word];
    }
    switch (offset) {
      case 0x020:
        return (this.#id << 24) >>> 0;
      case 0x030:
        return this.version;
      case 0x080:
        return this.#tpr;
      case 0x090:
        return 0; // KVM does not model arbitration priority.
      case 0x0a0:
        return this.ppr;
      case 0x0d0:
        return this.#ldr;
      case 0x0e0:
        return this.#dfr;
      case 0x0f0:
        return this.#svr;
      case 0x280:
        return this.#esr;
      case 0x300:
        return this.#icrLow;
      case 0x310:
        return this.#icrHigh;
      case 0x380:
        return this.#timerInitial;
      case 0x390:
        return this.#timerCurrent;
      case 0x3e0:
        return this.#timerDivide;
    }
    return 0;
  }

  /**
   * A 32-bit MMIO write at `offset`. Like KVM, only 16-byte aligned offsets
   * count; read-only and unknown registers ignore the write; bits outside a
   * register's writable mask are dropped. Writing EOI (0xB0) performs
   * {@link Lapic.eoi}; writing ICR low sends an IPI.
   *
   * @example
   * ```ts
   * apic.write(0x310, 0x01000000); // ICR high: dest 1
   * apic.write(0x300, 0x000040f1); // ICR low: fixed 0xF1 -> sends
   * ```
   */
  write(offset: number, value: number): void {
    const t = this.#host.trace;
    const name = this.#host.name;
    value = value >>> 0;
    if (!this.hardwareEnabled) {
      if (t.enabled) {
        t.emit(name, "write.ignored", `${hex(offset)} <- ${hex(value)}: APIC hardware-disabled`);
      }
      return;
    }
    const reg = (offset & 0xf) === 0 ? lapicRegisterByOffset(offset) : undefined;
    if (!reg || reg.access === "ro" || (offset === 0x2f0 && !this.#cmci)) {
      if (t.enabled) {
        const why = !reg ? "no register there" : "read-only";
        t.emit(name, "write.ignored", `${hex(offset)} <- ${hex(value)}: ${why}`);
      }
      return;
    }
    if (offset === 0x0b0) {
      // xAPIC ignores the EOI value.
      this.eoi();
      return;
    }
    let mask = reg.writeMask;
    if (offset === 0x0f0 && !this.#suppressEoi) mask &= ~SVR_SUPPRESS_EOI;
    let stored = (value & mask) >>> 0;
    const reserved = (value & ~mask & this.#reservedReportMask(offset)) >>> 0;
    if (reserved !== 0 && t.enabled) {
      t.emit(name, "write.reserved", `${reg.name}: reserved bits ${hex(reserved)} ignored`);
    }

    const lvtIndex = lvtIndexOf(offset);
    if (lvtIndex >= 0) {
      if (!this.softwareEnabled) {
        // A software-disabled APIC keeps every LVT masked (SDM "Local APIC State").
        if ((stored & LVT_MASKED) === 0 && t.enabled) {
          t.emit(name, "lvt.masked", `${reg.name}: mask forced, APIC software-disabled`);
        }
        stored |= LVT_MASKED;
      }
      this.lvt[lvtIndex] = stored;
      this.#traceWrite(reg.name, stored);
      return;
    }

    switch (offset) {
      case 0x020:
        this.#id = stored >>> 24;
        break;
      case 0x080:
        this.#tpr = stored;
        break;
      case 0x0d0:
        this.#ldr = stored;
        break;
      case 0x0e0:
        stored = (stored | 0x0fffffff) >>> 0;
        this.#dfr = stored;
        break;
      case 0x0f0:
        this.#svr = stored;
        if ((stored & SVR_ENABLE) === 0) {
          for (let i = 0; i < this.lvt.length; i++) this.lvt[i] |= LVT_MASKED;
          if (t.enabled) t.emit(name, "lvt.masked", "all LVTs masked: APIC software-disabled");
        }
        break;
      case 0x280:
        // Writing ESR latches the errors seen since the last write.
        this.#esr = this.#esrPending;
        this.#esrPending = 0;
        stored = this.#esr;
        break;
      case 0x300:
        // Delivery is instantaneous here, so the send-pending bit never sticks.
        this.#icrLow = stored & ~ICR_BUSY;
        this.#traceWrite(reg.name, this.#icrLow);
        this.#sendIpi();
        return;
      case 0x310:
        this.#icrHigh = stored;
        break;
      case 0x380:
        if ((this.lvt[Lvt.Timer] & (3 << 17)) === TIMER_MODE_TSC_DEADLINE) {
          // TMICT is dead in TSC-deadline mode (SDM "TSC-Deadline Mode").
          if (t.enabled) t.emit(name, "write.ignored", "TMICT write in TSC-deadline mode");
          return;
        }
        this.#timerInitial = stored;
        break;
      case 0x3e0:
        this.#timerDivide = stored;
        break;
    }
    this.#traceWrite(reg.name, stored);
  }

  /** Bits worth reporting as "reserved": DFR's 27:0 read as ones anyway, so are not. */
  #reservedReportMask(offset: number): number {
    if (offset === 0x0e0) return 0xf0000000;
    if (offset === 0x280) return 0;
    return 0xffffffff;
  }

  #traceWrite(regName: string, stored: number): void {
    const t = this.#host.trace;
    if (t.enabled) t.emit(this.#host.name, "write", `${regName} <- ${hex(stored)}`);
  }

  #sendIpi(): void {
    const t = this.#host.trace;
    const icr = this.#icrLow;
    const m = this.#ipi;
    m.vector = fieldGet(ICR_VECTOR, icr);
    m.deliveryMode = fieldGet(ICR_DELIVERY_MODE, icr) as DeliveryMode;
    m.logical = fieldGet(ICR_DEST_MODE, icr) === 1;
    m.dest = fieldGet(ICR_DEST, this.#icrHigh);
    m.shorthand = fieldGet(ICR_SHORTHAND, icr) as Shorthand;
    m.level = fieldGet(ICR_TRIGGER, icr) === 1;
    m.assert = fieldGet(ICR_LEVEL, icr) === 1;
    m.sourceId = this.#id;
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
