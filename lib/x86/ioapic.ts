/**
 * The I/O APIC, with KVM's in-kernel semantics.
 *
 * Registers follow the Intel 82093AA I/O APIC datasheet (IOREGSEL at +0x00,
 * IOWIN at +0x10, indirect registers IOAPICID 0x00, IOAPICVER 0x01,
 * IOAPICARB 0x02, IOREDTBL[n] at 0x10+2n / 0x11+2n) plus the EOI register at
 * +0x40 of the version-0x20 (ICH) I/O APIC. Behaviour follows Linux
 * `arch/x86/kvm/ioapic.c` (`ioapic_set_irq`, `ioapic_service`,
 * `ioapic_write_indirect`, `__kvm_ioapic_update_eoi`), which is what a
 * KVM_CREATE_IRQCHIP guest sees; where QEMU's userspace I/O APIC
 * (`hw/intc/ioapic.c`) differs, the comment says so.
 *
 * The redirection-entry layout lives in {@link RTE_FIELDS} and nowhere else:
 * the model reads fields through it (with the allocation-free word
 * accessors of `../core/bitfield.ts`) and the scenario language writes
 * entries by field name. {@link encodeRte}, {@link decodeRte} and
 * {@link formatRte} are the bit-field helpers bound to that table.
 *
 * @module
 */

import {
  type ApicSink,
  DEST_MODE_VALUES,
  type EoiListener,
  MESSAGE_DELIVERY_MODE_VALUES,
  TRIGGER_VALUES,
} from "./apic_message.ts";
import {
  decodeFields,
  encodeFields,
  fieldGet,
  type FieldIndex,
  type FieldInit,
  fieldSet,
  type FieldTable,
  fieldValueName,
  type FieldValues,
  formatFields,
  indexFields,
  joinWords,
  type RegWords,
  splitWords,
} from "../core/bitfield.ts";
import { arenaU32, arenaU8 } from "../core/arena.ts";
import { maskedWords, maskedWordsSize, restoreVersioned } from "../core/state_words.ts";
import { StateVersion } from "../core/state_version.ts";
import { msiAddressLow, msiDataWord, MsiDecoder, type MsiSink } from "./msi.ts";
import type { Trace } from "../core/trace.ts";
import type { StateHash } from "../core/platform.ts";

// ---------------------------------------------------------------------------
// The redirection entry

/**
 * The I/O redirection table entry (82093AA datasheet, "I/O Redirection Table
 * Registers"): the only statement of these bit positions in the code base.
 * Bits 17..55 are reserved (Linux's paravirt extended destination ID in
 * 55:49 is not modelled: KVM's in-kernel I/O APIC ignores it).
 *
 * @example
 * ```ts
 * RTE_FIELDS.find((f) => f.name === "dest")!.lsb; // 56
 * ```
 */
export const RTE_FIELDS = [
  { name: "vector", lsb: 0, width: 8, doc: "interrupt vector (0x10-0xFE)" },
  {
    name: "delivery_mode",
    lsb: 8,
    width: 3,
    values: MESSAGE_DELIVERY_MODE_VALUES,
    doc: "delivery mode (0b011 and 0b110 reserved)",
  },
  {
    name: "dest_mode",
    lsb: 11,
    width: 1,
    values: DEST_MODE_VALUES,
    doc: "destination mode: dest is an APIC ID or a logical mask",
  },
  {
    name: "delivery_status",
    lsb: 12,
    width: 1,
    readOnly: true,
    doc: "1 while a message waits to be sent",
  },
  {
    name: "polarity",
    lsb: 13,
    width: 1,
    values: { high: 0, low: 1 },
    doc: "input pin polarity",
  },
  {
    name: "remote_irr",
    lsb: 14,
    width: 1,
    readOnly: true,
    doc: "level interrupt accepted by a LAPIC, cleared by its EOI",
  },
  { name: "trigger", lsb: 15, width: 1, values: TRIGGER_VALUES, doc: "trigger mode" },
  { name: "mask", lsb: 16, width: 1, doc: "1 inhibits the interrupt" },
  { name: "dest", lsb: 56, width: 8, doc: "destination APIC ID or logical mask" },
] as const satisfies FieldTable;

/**
 * {@link RTE_FIELDS} by name.
 *
 * @example
 * ```ts
 * RTE.remote_irr.lsb; // 14
 * ```
 */
export const RTE: FieldIndex<typeof RTE_FIELDS> = indexFields(RTE_FIELDS);

/**
 * Field values of a redirection entry for {@link encodeRte}.
 *
 * @example
 * ```ts
 * const e: RteInit = { vector: 0x76, trigger: "level", dest: 0 };
 * ```
 */
export type RteInit = FieldInit<typeof RTE_FIELDS>;

/**
 * A decoded redirection entry: every field as a number.
 *
 * @example
 * ```ts
 * const f: RteFields = decodeRte(0x10000, 0); // f.mask === 1
 * ```
 */
export type RteFields = FieldValues<typeof RTE_FIELDS>;

/**
 * Encodes a redirection entry from named fields (omitted fields are 0, so
 * an entry is unmasked unless `mask: 1` is given).
 *
 * @throws {RangeError} for an unknown field or value name, or a value that does not fit.
 * @example
 * ```ts
 * encodeRte({ vector: 0x76, trigger: "level", dest: 0 }); // { low: 0x8076, high: 0 }
 * ```
 */
export function encodeRte(init: RteInit): RegWords {
  return splitWords(encodeFields(RTE_FIELDS, init, 0n));
}

/**
 * Decodes a redirection entry given as low/high words.
 *
 * @example
 * ```ts
 * decodeRte(0x8076, 0x01000000).dest; // 1
 * ```
 */
export function decodeRte(low: number, high: number): RteFields {
  return decodeFields(RTE_FIELDS, joinWords(low, high));
}

/**
 * A redirection entry as text: `vector=0x76 delivery_mode=fixed ... dest=0x01`.
 *
 * @example
 * ```ts
 * formatRte(0x18076, 0);
 * // "vector=0x76 delivery_mode=fixed dest_mode=physical delivery_status=0 polarity=high remote_irr=0 trigger=level mask=1 dest=0x00"
 * ```
 */
export function formatRte(low: number, high: number): string {
  return formatFields(RTE_FIELDS, joinWords(low, high));
}

function hex(v: number, digits = 2): string {
  return "0x" + v.toString(16).padStart(digits, "0");
}

// ---------------------------------------------------------------------------
// Register map

/**
 * MMIO offsets from the I/O APIC base (default 0xFEC00000).
 *
 * @example
 * ```ts
 * declare const ioapic: Ioapic;
 * ioapic.write(IoapicMmio.IOREGSEL, 0x10);
 * ```
 */
export const IoapicMmio = {
  IOREGSEL: 0x00,
  IOWIN: 0x10,
  /** Only on version 0x20 I/O APICs: writing a vector EOIs it. */
  EOI: 0x40,
} as const;

/**
 * Indirect register indices (written to IOREGSEL).
 *
 * @example
 * ```ts
 * declare const ioapic: Ioapic;
 * ioapic.readIndirect(IoapicIndex.IOAPICVER); // 0x170011 on KVM
 * ```
 */
export const IoapicIndex = {
  IOAPICID: 0x00,
  IOAPICVER: 0x01,
  IOAPICARB: 0x02,
  /** IOREDTBL[n] low dword is at IOREDTBL + 2n, high dword at IOREDTBL + 2n + 1. */
  IOREDTBL: 0x10,
} as const;

/**
 * The I/O APIC's ID as a write of IOAPICID leaves it: bits 27:24 (82093AA
 * 3.2.1; the rest of the register reads 0).
 *
 * @example
 * ```ts
 * ioapicIdWritten(0xff00_0000); // 0xf
 * ```
 */
export function ioapicIdWritten(value: number): number {
  return (value >>> 24) & 0xf;
}

/**
 * IOAPICID as a read gives it, for an ID {@link ioapicIdWritten} kept.
 *
 * @example
 * ```ts
 * ioapicIdRead(2); // 0x02000000
 * ```
 */
export function ioapicIdRead(id: number): number {
  return ((id & 0xf) << 24) >>> 0;
}

/**
 * The pin whose redirection entry an indirect index names, or -1: each
 * entry is two dwords from {@link IoapicIndex.IOREDTBL} up. Indices below
 * it (the ID, version and arbitration registers, and the gap after them)
 * name no entry, nor does one past the last pin.
 *
 * @example
 * ```ts
 * redirectionPin(0x10 + 2 * 5 + 1, 24); // 5 (its high dword)
 * redirectionPin(0x40, 24); // -1
 * ```
 */
export function redirectionPin(index: number, pins: number): number {
  if (index < IoapicIndex.IOREDTBL) return -1;
  const pin = (index - IoapicIndex.IOREDTBL) >> 1;
  return pin < pins ? pin : -1;
}

/**
 * A redirection entry's low dword after software writes `value` to it:
 * delivery status and remote IRR are the I/O APIC's own (read-only to
 * software, 82093AA 3.2.4), so they keep what `old` had.
 *
 * @example
 * ```ts
 * rteLowWritten(0x4000, 0x0031); // 0x4031: remote IRR kept
 * ```
 */
export function rteLowWritten(old: number, value: number): number {
  const low = fieldSet(RTE.delivery_status, value, fieldGet(RTE.delivery_status, old));
  return fieldSet(RTE.remote_irr, low, fieldGet(RTE.remote_irr, old));
}

/** What {@link IoapicWriteTrace} traces as: a chip's name and its trace. */
export interface IoapicTraced {
  /** The chip's name in trace events. */
  readonly name: string;
  /** The trace the events go to. */
  readonly trace: Trace;
}

/**
 * The trace events of a software write through IOREGSEL/IOWIN, the same for
 * every I/O APIC the model has (KVM's in-kernel one and QEMU's), so that
 * their traces read alike.
 *
 * @example
 * ```ts
 * declare const chip: IoapicTraced;
 * IoapicWriteTrace.ignored(chip, 0x40, 1); // "index 0x40 <- 0x00000001"
 * ```
 */
export const IoapicWriteTrace = {
  /** IOAPICID written with `value`, keeping ID `id`. */
  id(c: IoapicTraced, value: number, id: number): void {
    if (c.trace.enabled) c.trace.emit(c.name, "write", `IOAPICID <- ${hex(value, 8)} (id ${id})`);
  },
  /** A write to `index`, which names no register, dropped. */
  ignored(c: IoapicTraced, index: number, value: number): void {
    if (c.trace.enabled) {
      c.trace.emit(c.name, "write.ignored", `index ${hex(index)} <- ${hex(value, 8)}`);
    }
  },
  /**
   * Pin `pin`'s entry written through `index` with `value`, now `low`/`high`:
   * the event's id, which the write's effects nest under (0 untraced).
   */
  entry(c: IoapicTraced, pin: number, index: number, value: number, low: number, high: number) {
    return c.trace.enabled
      ? c.trace.emit(
        c.name,
        "write",
        `redtbl[${pin}].${index & 1 ? "high" : "low"} <- ${hex(value, 8)}: ${formatRte(low, high)}`,
      )
      : 0;
  },
  /** Pin `pin`'s remote IRR cleared by its entry's write as edge-triggered. */
  remoteIrrCleared(c: IoapicTraced, pin: number): void {
    if (c.trace.enabled) {
      c.trace.emit(c.name, "remote_irr.clear", `pin ${pin}: entry made edge-triggered`);
    }
  },
} as const;

/**
 * IOAPICVER bits 7:0 values that change behaviour.
 *
 * @example
 * ```ts
 * declare const host: IoapicHost;
 * new Ioapic(host, { version: IoapicVersion.ICH });
 * ```
 */
export const IoapicVersion = {
  /** KVM's in-kernel I/O APIC (no EOI register). */
  KVM: 0x11,
  /** ICH-style I/O APIC with the EOI register (QEMU's userspace default). */
  ICH: 0x20,
} as const;

/**
 * The RTC's pin: KVM tracks its edge deliveries until EOI so that
 * KVM_IRQ_LINE_STATUS can report coalesced RTC ticks (ioapic.c `RTC_GSI`).
 *
 * @example
 * ```ts
 * declare const ioapic: Ioapic;
 * ioapic.setLine(RTC_PIN, 1);
 * ```
 */
export const RTC_PIN = 8;

/**
 * `IOAPIC_DEFAULT_BASE_ADDRESS`: where the I/O APIC's registers are, and
 * where KVM registers its MMIO device once, at KVM_CREATE_IRQCHIP
 * (`kvm_ioapic_init`).
 */
export const IOAPIC_MMIO_BASE = 0xfec0_0000;

/**
 * Back-to-back EOI re-deliveries of one pin after which KVM delays the next
 * by 10 ms (ioapic.c `IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT`, QEMU the same).
 *
 * @example
 * ```ts
 * EOI_STORM_LIMIT; // 10000
 * ```
 */
export const EOI_STORM_LIMIT = 10000;

/**
 * The storm-guard delay in nanoseconds (KVM: `HZ / 100`).
 *
 * @example
 * ```ts
 * EOI_STORM_DELAY_NS; // 10_000_000
 * ```
 */
export const EOI_STORM_DELAY_NS = 10_000_000;

// ---------------------------------------------------------------------------
// The model

/** What an I/O APIC is plugged into. */
export interface IoapicHost {
  /** The APIC bus, which its messages reach through `msi`. */
  sink: ApicSink;
  /**
   * Where its redirection messages go, as MSI writes: the way a device's
   * MSI goes (an interrupt-remapping unit would sit there). Default: an
   * {@link MsiDecoder} straight onto `sink`.
   */
  msi?: MsiSink;
  /** Where state changes are recorded. */
  trace: Trace;
  /** Trace source name, e.g. `ioapic`. */
  name: string;
  /**
   * Runs `fire` after `delayNs` of virtual time. Needed only by the EOI-storm
   * guard; without it the guard is off and every EOI re-delivers at once.
   */
  schedule?: (delayNs: number, fire: () => void) => void;
  /**
   * KVM's irq ack notifiers (`kvm_notify_acked_irq`): a LAPIC EOI reached a
   * pin whose entry has the EOI'd vector. Called before remote IRR is
   * cleared, as KVM does, so a resampling irqfd can lower the line first.
   */
  ack?: (pin: number) => void;
  /**
   * Whether `pin` has an ack notifier (KVM `kvm_irq_has_notifier`: one
   * registered on the GSI the routing maps the pin to, i.e. a resampling
   * irqfd). KVM intercepts the EOI of an edge pin's vector only then (or for
   * the RTC's pin). Absent: none has.
   */
  hasAckNotifier?: (pin: number) => boolean;
  /**
   * The vCPU IDs an RTC tick's message (`addressLo`, `data`) just reached:
   * KVM's `rtc_status.dest_map`, taken as `__rtc_irq_eoi_tracking_restore_one`
   * rebuilds it (the vCPUs the destination names that have the vector in
   * IRR or ISR). Only their EOIs end the coalescing window. Absent: any EOI
   * of the vector counts.
   */
  rtcDestinations?: (addressLo: number, data: number) => readonly number[];
  /**
   * The vCPU IDs, in vCPU order, the message (`addressLo`, `data`) names that
   * have its vector in neither IRR nor ISR: AVIC's lazy RTC EOI takes the
   * first (KVM `ioapic_lazy_update_eoi`), KVM_SET_LAPIC's recount drops them.
   */
  vcpusWithoutPendingEoi?: (addressLo: number, data: number) => readonly number[];
  /**
   * Redirection entry `pin` was written by the guest (its words were
   * `oldLow`, `oldHigh`): KVM's `ioapic_write_indirect` then asks vCPUs to
   * scan their `ioapic_handled_vectors`. Absent: nothing listens.
   */
  entryWritten?: (pin: number, oldLow: number, oldHigh: number) => void;
  /** KVM_SET_IRQCHIP replaced the state (`kvm_set_ioapic` asks every vCPU to scan). */
  stateRestored?: () => void;
}

/** Construction options. */
export interface IoapicOptions {
  /** Number of pins (redirection entries), 1..256; default 24. */
  pins?: number;
  /** IOAPICVER bits 7:0: 0x11 (KVM, default) or 0x20 (adds the EOI register). */
  version?: number;
  /**
   * AMD AVIC is active (KVM's `kvm_apicv_activated` on an AMD host): the
   * guest's EOI of an edge vector is accelerated and never reaches KVM, so
   * no edge pin is acked at EOI and the RTC's window ends only lazily, when
   * an edge pin is raised (`ioapic_lazy_update_eoi`). Default false.
   */
  avic?: boolean;
  /**
   * Xen's vIOAPIC register window (`vioapic_read`, `vioapic_write`,
   * `vioapic_read_indirect`, `vioapic_write_indirect`): IOREGSEL keeps all
   * 32 bits written (KVM keeps bits 7:0), so a select above 0xff names no
   * register, and an indirect register that does not exist reads 0 (KVM:
   * all ones). Default false.
   */
  xenRegisters?: boolean;
}

// Hot-path field accessors resolved once from the table.
const F_VECTOR = RTE.vector;
const F_DM = RTE.delivery_mode;
const F_DESTMODE = RTE.dest_mode;
const F_RIRR = RTE.remote_irr;
const F_TRIGGER = RTE.trigger;
const F_MASK = RTE.mask;
/** An entry's low word at creation: masked, every other bit 0. */
const RTE_LOW_AT_CREATION = fieldSet(F_MASK, 0, 1);
const F_DEST = RTE.dest;
const EXTINT = 0b111;

/**
 * The bytes of `b` (from the arena: 8-byte aligned, its granule's bytes past
 * the end zero and never written) as 32-bit words.
 */
function wordsOver(b: Uint8Array): Uint32Array {
  return new Uint32Array(b.buffer, b.byteOffset, (b.length + 3) >> 2);
}

/** {@link Ioapic.baseAddress} at creation. */
const IOAPIC_BASE_AT_CREATION = BigInt(IOAPIC_MMIO_BASE);

/** Where {@link Ioapic.hashPrivate} writes its words, grown for a larger I/O APIC. */
let HASHED = new Int32Array(256);

/**
 * An I/O APIC with KVM's in-kernel behaviour.
 *
 * A redirection entry is sent as an MSI write (address 0xFEE00000 with the
 * entry's 8-bit destination and destination mode; data with its vector,
 * delivery mode and trigger), as QEMU's `ioapic_service` and crosvm's
 * IOAPIC do, and goes the way a device's MSI goes ({@link MsiSink}).
 * KVM's `ioapic_service` instead fills a `kvm_lapic_irq` from the entry and
 * calls `kvm_irq_delivery_to_apic` itself; KVM's MSI decode
 * (`kvm_msi_to_lapic_irq`) of such a write gives that same request field
 * for field (destination bits 7:0 only, since address-high is 0 and KVM
 * reads no extended destination ID from address bits 11:5; no redirection
 * hint; level asserted; no shorthand) in every x2APIC API mode, so no
 * guest-visible difference needs a named choice: `ioapic_msi_test.ts` checks
 * the equivalence entry by entry.
 *
 * @example
 * ```ts
 * import { ApicBus } from "./apic_bus.ts";
 * import { Trace } from "../../mod.ts";
 * declare const bus: ApicBus, trace: Trace;
 * const ioapic = new Ioapic({ sink: bus, trace, name: "ioapic" });
 * ioapic.write(0x00, 0x10 + 2 * 14);
 * ioapic.write(0x10, encodeRte({ vector: 0x76, trigger: "level" }).low);
 * ioapic.setLine(14, 1); // >0: delivered; remote IRR now 1
 * ioapic.eoi(0x76);      // line still high: delivered again
 * ```
 */
export class Ioapic implements EoiListener {
  /** Number of pins. */
  readonly pins: number;
  /** IOAPICVER bits 7:0. */
  readonly version: number;

  readonly #host: IoapicHost;
  readonly #avic: boolean;
  /** {@link IoapicOptions.xenRegisters}. */
  readonly #xenRegisters: boolean;
  readonly #low: Uint32Array;
  readonly #high: Uint32Array;
  /** Input line levels (KVM's `irr`; the inputs are active-high whatever the polarity bit). */
  readonly #line: Uint8Array;
  /** Consecutive EOI re-deliveries per pin, for the storm guard. */
  readonly #eoiRepeats: Uint32Array;
  /**
   * An edge pin's request that met a masked entry and was never sent: KVM's
   * `irr` bit without its `irr_delivered` bit, which KVM_GET_IRQCHIP
   * reports until the line falls.
   */
  readonly #edgeUndelivered: Uint8Array;
  /**
   * #line and #edgeUndelivered as 32-bit words, views of the same bytes
   * (the arena's 8-byte granules: the bytes past the last pin stay 0), for
   * {@link Ioapic.hashPrivate}: four pins a word.
   */
  readonly #lineWords: Uint32Array;
  readonly #edgeWords: Uint32Array;
  #ioregsel = 0;
  #id = 0;
  /** CPUs that took the last RTC edge and have not EOI'd it yet. */
  #rtcPendingEoi = 0;
  #rtcVector = -1;
  /** The vCPU IDs of {@link Ioapic.rtcPendingEoi} (KVM `dest_map`), when the host says. */
  #rtcDest: number[] = [];
  #stormArmed = false;
  /**
   * One bit per vector some redirection entry holds (masked or not), kept in
   * step with the entries: an edge EOI of any other vector skips the pin scan
   * {@link Ioapic.wantsEdgeEoi} does, so a LAPIC's common EOI stays cheap.
   */
  readonly #rteVectors = arenaU32(8);
  readonly #msi: MsiSink;
  /**
   * Bumped by every method that may write the private state above (each
   * public one but the readers, and the storm timer's retry), for `scn
   * explore`'s digest of {@link Ioapic.hashPrivate}.
   */
  readonly #version = new StateVersion();
  /**
   * KVM's `ioapic->base_address` (struct kvm_ioapic_state's first field):
   * KVM_SET_IRQCHIP copies any u64 in, and `ioapic_mmio_in_range` then
   * compares accesses with it, while the MMIO device stays registered at
   * {@link IOAPIC_MMIO_BASE}.
   */
  baseAddress: bigint = IOAPIC_BASE_AT_CREATION;

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    // At its reset value (every guest but KVM_SET_IRQCHIP's): a word, not a
    // bigint taken apart; the three words in one call.
    const base = this.baseAddress, w = HASHED;
    w[0] = this.pins;
    w[1] = this.version;
    w[2] = base === IOAPIC_BASE_AT_CREATION ? 0 : 1;
    h.block(w, 3);
    if (base !== IOAPIC_BASE_AT_CREATION) h.big(base);
  }

  /**
   * Saves the entries, line levels and EOI state and returns a function
   * that puts them back, for `scn explore` (`VmModel.snapshot`). Fixed at
   * creation, not saved: pins, version, #avic, #xenRegisters, #host, #msi (its status and
   * message are the last write's, set before they are read); #lineWords and
   * #edgeWords are views of #line and #edgeUndelivered, which are; #version
   * is put back with the state it names.
   */
  snapshot(): () => void {
    const low = this.#low.slice(), high = this.#high.slice(), line = this.#line.slice();
    const eoiRepeats = this.#eoiRepeats.slice(), edgeUndelivered = this.#edgeUndelivered.slice();
    const ioregsel = this.#ioregsel, id = this.#id, rtcPendingEoi = this.#rtcPendingEoi;
    const rtcVector = this.#rtcVector, stormArmed = this.#stormArmed;
    const baseAddress = this.baseAddress, rteVectors = this.#rteVectors.slice();
    const rtcDest = this.#rtcDest.slice(), version = this.#version.value;
    const put = () => {
      this.#rteVectors.set(rteVectors);
      // Changed in place later: a copy, unless both are empty (most restores).
      if (rtcDest.length > 0 || this.#rtcDest.length > 0) this.#rtcDest = rtcDest.slice();
      this.baseAddress = baseAddress;
      this.#low.set(low);
      this.#high.set(high);
      this.#line.set(line);
      this.#eoiRepeats.set(eoiRepeats);
      this.#edgeUndelivered.set(edgeUndelivered);
      this.#ioregsel = ioregsel;
      this.#id = id;
      this.#rtcPendingEoi = rtcPendingEoi;
      this.#rtcVector = rtcVector;
      this.#stormArmed = stormArmed;
    };
    // Nothing to put back while the version stands (most orders of a search).
    return () => restoreVersioned(this.#version, version, this, Ioapic.#words, put);
  }

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    // Unchanged in most states of a search: the digest kept with the version.
    h.versioned(this.#version, this, Ioapic.#words);
  }

  static #words(h: StateHash, io: Ioapic): void {
    const pins = io.pins, dest = io.#rtcDest;
    const need = 4 * maskedWordsSize(pins) + 6 + dest.length;
    if (HASHED.length < need) HASHED = new Int32Array(need);
    const w = HASHED;
    // The entries a guest programmed, not all of them at every state: per 32
    // pins, which differ from what creation left (masked, all else 0), then those.
    const low = io.#low, high = io.#high;
    const C = RTE_LOW_AT_CREATION;
    let k = 0;
    for (let base = 0; base < pins; base += 32) {
      const end = Math.min(pins, base + 32);
      const at = k++;
      let mask = 0;
      let i = base;
      for (; i < end; i++) {
        // Four entries as creation left them at once (most are).
        if (
          (i & 3) === 0 && i + 4 <= end &&
          ((low[i] ^ C) | (low[i + 1] ^ C) | (low[i + 2] ^ C) | (low[i + 3] ^ C) |
              high[i] | high[i + 1] | high[i + 2] | high[i + 3]) === 0
        ) {
          i += 3;
          continue;
        }
        if (low[i] !== C || high[i] !== 0) {
          mask |= 1 << (i - base);
          w[k++] = low[i];
          w[k++] = high[i];
        }
      }
      w[at] = mask;
    }
    k = maskedWords(w, k, io.#lineWords);
    k = maskedWords(w, k, io.#edgeWords);
    k = maskedWords(w, k, io.#eoiRepeats);
    w[k++] = io.#ioregsel;
    w[k++] = io.#id;
    w[k++] = io.#rtcPendingEoi;
    w[k++] = io.#rtcVector;
    w[k++] = (io.#stormArmed ? 1 : 0) | (dest.length << 1);
    for (let i = 0; i < dest.length; i++) w[k++] = dest[i];
    // All in one call (see state_words.ts).
    h.block(w, k);
  }

  /** Makes an I/O APIC in its reset state (every entry masked). */
  constructor(host: IoapicHost, options: IoapicOptions = {}) {
    this.#msi = host.msi ?? new MsiDecoder(host.sink);
    const pins = options.pins ?? 24;
    if (!Number.isInteger(pins) || pins < 1 || pins > 256) {
      throw new RangeError(`ioapic: pins must be 1..256, got ${pins}`);
    }
    const version = options.version ?? IoapicVersion.KVM;
    if (!Number.isInteger(version) || version < 0 || version > 0xff) {
      throw new RangeError(`ioapic: version must be 0..0xff, got ${version}`);
    }
    this.#host = host;
    this.pins = pins;
    this.version = version;
    this.#avic = options.avic ?? false;
    this.#xenRegisters = options.xenRegisters ?? false;
    this.#low = arenaU32(pins);
    this.#high = arenaU32(pins);
    this.#line = arenaU8(pins);
    this.#lineWords = wordsOver(this.#line);
    this.#eoiRepeats = arenaU32(pins);
    this.#edgeUndelivered = arenaU8(pins);
    this.#edgeWords = wordsOver(this.#edgeUndelivered);
    this.#low.fill(RTE_LOW_AT_CREATION);
    this.#rescanVectors();
  }

  /**
   * Reset as KVM's `kvm_ioapic_reset` does it: sets every mask bit but keeps
   * the other RTE bits (remote IRR included), clears ID, IOREGSEL, the input
   * lines, the storm counters and RTC tracking. (QEMU instead rewrites each
   * RTE to exactly "masked".)
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.reset();
   * ioapic.rte(14).low & 0x10000; // 0x10000
   * ```
   */
  reset(): void {
    this.#version.bump();
    for (let i = 0; i < this.pins; i++) this.#low[i] = fieldSet(F_MASK, this.#low[i], 1);
    this.#line.fill(0);
    this.#edgeUndelivered.fill(0);
    this.#eoiRepeats.fill(0);
    this.#ioregsel = 0;
    this.#id = 0;
    this.#rtcPendingEoi = 0;
    this.#rtcVector = -1;
    this.#rtcDest = [];
    const t = this.#host.trace;
    if (t.enabled) t.emit(this.#host.name, "reset", "all RTEs masked, lines low");
  }

  // ---- MMIO ---------------------------------------------------------------

  /**
   * An MMIO read at `offset` from the base: IOREGSEL, IOWIN, else 0 (the EOI
   * register is write-only).
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.write(0x00, 0x01);
   * ioapic.read(0x10); // 0x00170011
   * ```
   */
  read(offset: number): number {
    switch (offset & 0xff) {
      case IoapicMmio.IOREGSEL:
        return this.#ioregsel;
      case IoapicMmio.IOWIN:
        return this.readIndirect(this.#ioregsel);
      default:
        return 0;
    }
  }

  /**
   * An MMIO write at `offset` from the base. IOREGSEL keeps 8 bits (Xen's: 32); IOWIN
   * writes the selected register; the EOI register (+0x40) exists only on
   * version 0x20 and EOIs the vector in bits 7:0.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.write(0x00, 0x10 + 2 * 14); // select IOREDTBL[14] low
   * ioapic.write(0x10, 0x00008076);    // level, vector 0x76, unmasked
   * ```
   */
  write(offset: number, value: number): void {
    this.#version.bump();
    switch (offset & 0xff) {
      case IoapicMmio.IOREGSEL:
        this.#ioregsel = this.#xenRegisters ? value >>> 0 : value & 0xff;
        return;
      case IoapicMmio.IOWIN:
        this.writeIndirect(this.#ioregsel, value);
        return;
      case IoapicMmio.EOI:
        if (this.version === IoapicVersion.ICH) {
          this.eoi(value & 0xff);
          return;
        }
        break;
    }
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "write.ignored",
        `mmio +${hex(offset & 0xff)} <- ${hex(value >>> 0, 8)}`,
      );
    }
  }

  /**
   * Reads indirect register `index`. IOAPICID and IOAPICARB read the ID in
   * bits 27:24 (KVM mirrors ID into ARB); IOAPICVER reads
   * `version | (pins - 1) << 16`; a redirection index past the last pin, or
   * 0x03..0x0F, reads all-ones (KVM; Xen's vIOAPIC: 0, as any index above 0xFF does there).
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.readIndirect(0x01); // 0x00170011 for 24 pins, version 0x11
   * ```
   */
  readIndirect(index: number): number {
    const xen = this.#xenRegisters;
    if (!xen) index &= 0xff;
    else if (index > 0xff) return 0;
    switch (index) {
      case IoapicIndex.IOAPICVER:
        return (this.version | (((this.pins - 1) & 0xff) << 16)) >>> 0;
      case IoapicIndex.IOAPICID:
      case IoapicIndex.IOAPICARB:
        return ioapicIdRead(this.#id);
    }
    const pin = this.#pinOf(index);
    if (pin < 0) return xen ? 0 : 0xffffffff;
    return (index & 1) ? this.#high[pin] : this.#low[pin];
  }

  /**
   * Writes indirect register `index` (KVM `ioapic_write_indirect`): ID keeps
   * bits 27:24; version and arbitration are read-only; a redirection write
   * keeps delivery status and remote IRR, clears remote IRR when the entry
   * is (now) edge-triggered, and re-evaluates a level entry whose line is
   * high, which is how unmasking fires a pending level interrupt.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.writeIndirect(0x10 + 2 * 14 + 1, 0x01000000); // RTE14 dest = 1
   * ```
   */
  writeIndirect(index: number, value: number): void {
    this.#version.bump();
    value >>>= 0;
    const h = this.#host, t = h.trace;
    if (!this.#xenRegisters) index &= 0xff;
    else if (index > 0xff) return IoapicWriteTrace.ignored(h, index, value);
    if (index === IoapicIndex.IOAPICID) {
      this.#id = ioapicIdWritten(value);
      return IoapicWriteTrace.id(h, value, this.#id);
    }
    const pin = this.#pinOf(index);
    if (pin < 0) return IoapicWriteTrace.ignored(h, index, value);
    const oldLow = this.#low[pin], oldHigh = this.#high[pin];
    let low = oldLow, high = oldHigh;
    if (index & 1) high = value;
    else low = rteLowWritten(oldLow, value);
    const level = fieldGet(F_TRIGGER, low) === 1;
    // Linux and Xen clear a stuck remote IRR by flipping the entry to edge
    // and back, as an EOI for I/O APICs that lack the EOI register.
    const clearIrr = !level && fieldGet(F_RIRR, low) === 1;
    if (clearIrr) low = fieldSet(F_RIRR, low, 0);
    this.#low[pin] = low;
    this.#high[pin] = high;
    if (fieldGet(F_VECTOR, low) !== fieldGet(F_VECTOR, oldLow)) this.#rescanVectors();
    const id = IoapicWriteTrace.entry(h, pin, index, value, low, high);
    t.open(id);
    try {
      if (clearIrr) IoapicWriteTrace.remoteIrrCleared(h, pin);
      // KVM re-services on any write to a level entry with its line high,
      // not only on unmask; ioapic_service refuses if masked or remote IRR.
      if (level && this.#line[pin] === 1) this.#service(pin, false);
      h.entryWritten?.(pin, oldLow, oldHigh);
    } finally {
      t.close(id);
    }
  }

  // ---- Input lines ------------------------------------------------------

  /**
   * Sets input `pin` to `level` and returns KVM_IRQ_LINE_STATUS's status
   * (KVM `ioapic_set_irq`): -1 ignored (masked, or a level entry still
   * waiting for EOI), 0 coalesced (an edge pin asserted again without a
   * deassert, or an RTC tick not yet EOI'd), >0 CPUs reached. Lowering a line
   * always returns 1. `lineStatus` is false for callers that are not
   * KVM_IRQ_LINE_STATUS (irqfd, KVM_IRQ_LINE): only then is the RTC pin
   * tracked.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.setLine(14, 1); // 1 (edge, unmasked, one CPU)
   * ioapic.setLine(14, 1); // 0 (coalesced)
   * ioapic.setLine(14, 0); // 1
   * ```
   */
  setLine(pin: number, level: 0 | 1, lineStatus = true): number {
    this.#checkPin(pin);
    this.#version.bump();
    const h = this.#host, t = h.trace;
    const old = this.#line[pin];
    const id = t.enabled && old !== level ? t.emit(h.name, "line", `pin ${pin} level ${level}`) : 0;
    t.open(id);
    try {
      if (level === 0) {
        this.#line[pin] = 0;
        this.#edgeUndelivered[pin] = 0;
        return 1;
      }
      const entry0 = this.#low[pin];
      if (this.#avic && fieldGet(F_TRIGGER, entry0) === 0) this.#lazyRtcEoi(pin);
      // An RTC tick that some CPU has not EOI'd yet is reported, and
      // dropped, before it even reaches the input latch.
      if (pin === RTC_PIN && lineStatus && this.#rtcPendingEoi > 0) {
        if (t.enabled) {
          t.emit(
            h.name,
            "coalesced",
            `pin ${pin}: RTC tick not yet EOI'd by ${this.#rtcPendingEoi} CPU(s)`,
          );
        }
        return 0;
      }
      this.#line[pin] = 1;
      const entry = this.#low[pin];
      if (old === 1 && fieldGet(F_TRIGGER, entry) === 0) {
        if (t.enabled) t.emit(h.name, "coalesced", `pin ${pin}: edge already asserted`);
        return 0;
      }
      // KVM marks an edge delivered before sending unless the entry is masked.
      if (fieldGet(F_TRIGGER, entry) === 0) this.#edgeUndelivered[pin] = fieldGet(F_MASK, entry);
      return this.#service(pin, lineStatus);
    } finally {
      t.close(id);
    }
  }

  // ---- EOI --------------------------------------------------------------

  /**
   * A local APIC EOI'd level-triggered `vector` (KVM
   * `__kvm_ioapic_update_eoi`): every entry with that vector gets remote IRR
   * cleared, and each one that is unmasked with its line still high is
   * serviced again. Like KVM this matches on the vector alone, so an
   * edge-triggered entry sharing the vector with its line held high is
   * re-delivered too. After {@link EOI_STORM_LIMIT} back-to-back
   * re-deliveries of one pin the next is delayed by 10 ms (when the host can
   * schedule). A suppressed EOI broadcast (SVR bit 12) comes to
   * {@link Ioapic.suppressedEoi} instead.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.setLine(14, 1); // level entry: delivered, remote IRR 1
   * ioapic.eoi(0x76);      // remote IRR 0, line high: delivered again
   * ```
   */
  eoi(vector: number, vcpuId?: number): void {
    this.#version.bump();
    const h = this.#host, t = h.trace;
    const id = t.enabled ? t.emit(h.name, "eoi", `vector ${hex(vector)}`) : 0;
    t.open(id);
    try {
      this.#rtcEoi(vector, vcpuId);
      for (let pin = 0; pin < this.pins; pin++) {
        if (fieldGet(F_VECTOR, this.#low[pin]) !== vector) continue;
        h.ack?.(pin);
        const low = this.#low[pin];
        if (fieldGet(F_RIRR, low) === 1) {
          this.#low[pin] = fieldSet(F_RIRR, low, 0);
          if (t.enabled) t.emit(h.name, "remote_irr.clear", `pin ${pin} vector ${hex(vector)}`);
        }
        if (fieldGet(F_MASK, low) === 0 && this.#line[pin] === 1) {
          if (++this.#eoiRepeats[pin] === EOI_STORM_LIMIT && h.schedule) {
            this.#eoiRepeats[pin] = 0;
            if (t.enabled) {
              t.emit(
                h.name,
                "storm",
                `pin ${pin}: ${EOI_STORM_LIMIT} EOI re-deliveries, next in 10 ms`,
              );
            }
            this.#armStormTimer();
          } else {
            this.#service(pin, false);
          }
        } else {
          this.#eoiRepeats[pin] = 0;
        }
      }
    } finally {
      t.close(id);
    }
  }

  /**
   * A local APIC EOI'd level-triggered `vector` with SVR bit 12 suppressing
   * the broadcast (KVM_SET_LAPIC can set the bit though KVM never offers it
   * with this I/O APIC). KVM's `kvm_ioapic_update_eoi_one` still ends the
   * RTC's coalescing window and runs the ack notifiers of every pin with
   * that vector, then looks at the bit: remote IRR stays set and nothing is
   * re-delivered.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.suppressedEoi(0x76); // pin 14's resampler hears it; remote IRR stays 1
   * ```
   */
  suppressedEoi(vector: number, vcpuId?: number): void {
    this.#version.bump();
    const h = this.#host;
    this.#rtcEoi(vector, vcpuId);
    if (!h.ack) return;
    for (let pin = 0; pin < this.pins; pin++) {
      if (fieldGet(F_VECTOR, this.#low[pin]) === vector) h.ack(pin);
    }
  }

  /**
   * A local APIC EOI'd edge-triggered (TMR clear) `vector` that
   * {@link Ioapic.wantsEdgeEoi} asked for (KVM `kvm_ioapic_update_eoi` with
   * an edge trigger mode): the RTC's coalescing window may end (`vcpuId`, the
   * EOIing vCPU, must be one the last tick reached), and the ack
   * notifiers of every pin whose entry has that vector run, whatever the
   * entry's trigger mode, so a resampling irqfd on an edge pin de-asserts
   * its GSI and signals its resamplefd. Remote IRR is left alone (only a
   * level EOI clears it) and nothing is re-delivered.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.edgeEoi(0x28); // ends X86-33's coalescing window for vector 0x28
   * ```
   */
  edgeEoi(vector: number, vcpuId?: number): void {
    this.#version.bump();
    this.#rtcEoi(vector, vcpuId);
    const h = this.#host;
    if (!h.ack) return;
    for (let pin = 0; pin < this.pins; pin++) {
      if (fieldGet(F_VECTOR, this.#low[pin]) === vector) h.ack(pin);
    }
  }

  /**
   * Whether a LAPIC must forward the EOI of edge-triggered `vector` (via
   * {@link Ioapic.edgeEoi}): KVM's `ioapic_handled_vectors`
   * (`kvm_ioapic_scan_entry`): the vector of the last RTC tick while it
   * awaits EOI, and the vector of every entry that is level-triggered, is
   * the RTC's pin, or has an ack notifier ({@link IoapicHost.hasAckNotifier}).
   * This is the I/O APIC's side, for every vCPU at once; KVM keeps a vector
   * only for a vCPU the entry's destination names or that had it pending at
   * its last scan, which `lib/x86/ioapic_handled_vectors.ts` asks first.
   * With AMD AVIC: never (the EOI does not exit).
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic, v: number;
   * if (ioapic.wantsEdgeEoi(v)) ioapic.edgeEoi(v);
   * ```
   */
  wantsEdgeEoi(vector: number): boolean {
    if (this.#avic) return false;
    if (this.#rtcPendingEoi > 0 && vector === this.#rtcVector) return true;
    if (((this.#rteVectors[vector >>> 5] >>> (vector & 31)) & 1) === 0) return false;
    const h = this.#host;
    for (let pin = 0; pin < this.pins; pin++) {
      const low = this.#low[pin];
      if (fieldGet(F_VECTOR, low) !== vector) continue;
      if (fieldGet(F_TRIGGER, low) === 1 || pin === RTC_PIN || h.hasAckNotifier?.(pin)) {
        return true;
      }
    }
    return false;
  }

  // ---- State inspection -------------------------------------------------

  /**
   * Remote IRR of `pin` (RTE bit 14).
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.remoteIrr(14); // 1 while a level interrupt awaits EOI
   * ```
   */
  remoteIrr(pin: number): number {
    this.#checkPin(pin);
    return fieldGet(F_RIRR, this.#low[pin]);
  }

  /**
   * Input line level of `pin`.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.line(14); // 0 or 1
   * ```
   */
  line(pin: number): number {
    this.#checkPin(pin);
    return this.#line[pin];
  }

  /**
   * Redirection entry `pin` as its two dwords.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * decodeRte(ioapic.rte(14).low, ioapic.rte(14).high).vector;
   * ```
   */
  rte(pin: number): RegWords {
    this.#checkPin(pin);
    return { low: this.#low[pin], high: this.#high[pin] };
  }

  /**
   * The low word of entry `pin` (bits 31:0), with no check and no object
   * made: for scans over every pin, which {@link Ioapic.rte} serves otherwise.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.rteLow(14) & 0xff; // the vector
   * ```
   */
  rteLow(pin: number): number {
    return this.#low[pin];
  }

  /**
   * The high word of entry `pin` (bits 63:32: the destination), as
   * {@link Ioapic.rteLow}.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.rteHigh(14) >>> 24; // the destination
   * ```
   */
  rteHigh(pin: number): number {
    return this.#high[pin];
  }

  /**
   * CPUs that took the last RTC tick and have not EOI'd it (KVM `pending_eoi`).
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.rtcPendingEoi; // 0 when the next tick will be delivered
   * ```
   */
  get rtcPendingEoi(): number {
    return this.#rtcPendingEoi;
  }

  /**
   * The last RTC tick's vector while vCPU `vcpuId` is one of the
   * destinations still to EOI it (KVM `rtc_status.dest_map`), else -1.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.rtcAwaitedVector(0); // -1 when vCPU 0 owes no RTC EOI
   * ```
   */
  rtcAwaitedVector(vcpuId: number): number {
    return this.#rtcPendingEoi > 0 && this.#rtcDest.includes(vcpuId) ? this.#rtcVector : -1;
  }

  // ---- KVM_GET/SET_IRQCHIP ----------------------------------------------

  /**
   * The `irr` KVM_GET_IRQCHIP reports (`kvm_get_ioapic`: `irr &
   * ~irr_delivered`): a level pin's bit while its line is high, an edge
   * pin's while its line is high and the edge met a masked entry.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.kvmIrr(); // 0 when no line is high
   * ```
   */
  kvmIrr(): number {
    let irr = 0;
    for (let pin = 0; pin < this.pins && pin < 32; pin++) {
      const level = fieldGet(F_TRIGGER, this.#low[pin]) === 1;
      if (this.#line[pin] === 1 && (level || this.#edgeUndelivered[pin] === 1)) irr |= 1 << pin;
    }
    return irr >>> 0;
  }

  /** KVM's `id` field: the 4-bit ID as IOAPICID bits 27:24 hold it. */
  get id(): number {
    return this.#id;
  }

  /** IOREGSEL as last written. */
  get ioregsel(): number {
    return this.#ioregsel;
  }

  /**
   * KVM_SET_IRQCHIP of the I/O APIC (`kvm_set_ioapic`): ID, IOREGSEL and
   * every redirection entry are copied in raw (remote IRR and delivery
   * status included), `irr` is cleared, and each pin whose bit the caller's
   * `irr` sets is raised again as `ioapic_set_irq` would
   * (`kvm_ioapic_inject_all`): an unmasked edge entry sends at once, a
   * level one unless remote IRR is set. Pins not in `irr` end with their
   * line low. RTC EOI tracking starts again from nothing.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.setKvmState({ id: 0, ioregsel: 0, irr: 0, redirtbl: [] });
   * ```
   */
  setKvmState(s: { id: number; ioregsel: number; irr: number; redirtbl: readonly bigint[] }): void {
    this.#version.bump();
    const h = this.#host, t = h.trace;
    // Raw, as memcpy leaves them: reads mask what the guest sees.
    this.#id = s.id >>> 0;
    this.#ioregsel = s.ioregsel >>> 0;
    for (let pin = 0; pin < this.pins && pin < s.redirtbl.length; pin++) {
      this.#low[pin] = Number(s.redirtbl[pin] & 0xffff_ffffn);
      this.#high[pin] = Number((s.redirtbl[pin] >> 32n) & 0xffff_ffffn);
    }
    this.#rescanVectors();
    this.#line.fill(0);
    this.#edgeUndelivered.fill(0);
    this.#rtcPendingEoi = 0;
    this.#rtcVector = -1;
    this.#rtcDest = [];
    const id = t.enabled
      ? t.emit(h.name, "set_irqchip", `KVM_SET_IRQCHIP: irr ${hex(s.irr >>> 0, 8)} raised again`)
      : 0;
    t.open(id);
    try {
      for (let pin = 0; pin < this.pins && pin < 32; pin++) {
        if ((s.irr >>> pin) & 1) this.setLine(pin, 1, true);
      }
      // kvm_rtc_eoi_tracking_restore_all: every vCPU the RTC entry names
      // that has its vector pending awaits an EOI, re-injected or not.
      if (h.rtcDestinations && RTC_PIN < this.pins) {
        const low = this.#low[RTC_PIN], high = this.#high[RTC_PIN];
        const vector = fieldGet(F_VECTOR, low);
        this.#rtcDest = [
          ...h.rtcDestinations(
            msiAddressLow(fieldGet(F_DEST, low, high), fieldGet(F_DESTMODE, low) === 1, false),
            msiDataWord(vector, fieldGet(F_DM, low), fieldGet(F_TRIGGER, low) === 1),
          ),
        ];
        this.#rtcPendingEoi = this.#rtcDest.length;
        this.#rtcVector = vector;
      }
      h.stateRestored?.();
    } finally {
      t.close(id);
    }
  }

  // ---- Internals --------------------------------------------------------

  #pinOf(index: number): number {
    // Indices below 0x10 wrap to huge values in KVM's unsigned arithmetic.
    return redirectionPin(index, this.pins);
  }

  #checkPin(pin: number): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= this.pins) {
      throw new RangeError(`${this.#host.name}: no pin ${pin} (${this.pins} pins)`);
    }
  }

  /** Rebuilds the set of vectors the entries hold, after one changed. */
  #rescanVectors(): void {
    this.#rteVectors.fill(0);
    for (let pin = 0; pin < this.pins; pin++) {
      const v = fieldGet(F_VECTOR, this.#low[pin]);
      this.#rteVectors[v >>> 5] |= 1 << (v & 31);
    }
  }

  /** KVM `rtc_irq_eoi`: `vcpuId`'s EOI of the last tick's vector, if it was a destination. */
  /**
   * KVM `ioapic_lazy_update_eoi`, for AVIC's unseen edge EOIs: the first vCPU
   * edge pin `pin`'s entry names without its vector pending counts as having
   * EOI'd it, if the RTC's tick reached it; the vCPUs after it are not looked
   * at, so an RTC tick that reached two vCPUs is never uncoalesced this way.
   */
  #lazyRtcEoi(pin: number): void {
    const find = this.#host.vcpusWithoutPendingEoi;
    if (!find || this.#rtcPendingEoi === 0) return;
    const low = this.#low[pin], high = this.#high[pin];
    const vector = fieldGet(F_VECTOR, low);
    const vcpus = find(
      msiAddressLow(fieldGet(F_DEST, low, high), fieldGet(F_DESTMODE, low) === 1, false),
      msiDataWord(vector, fieldGet(F_DM, low), false),
    );
    if (vcpus.length > 0) this.#rtcEoi(vector, vcpus[0]);
  }

  /**
   * KVM_SET_LAPIC of vCPU `vcpuId` (KVM `kvm_rtc_eoi_tracking_restore_one`):
   * if the RTC entry names it, whether it awaits the RTC's EOI follows
   * whether its restored IRR or ISR holds the entry's vector, and the
   * pending count with it.
   *
   * @example
   * ```ts
   * declare const ioapic: Ioapic;
   * ioapic.rtcRestoreOne(0);
   * ```
   */
  rtcRestoreOne(vcpuId: number): void {
    this.#version.bump();
    const h = this.#host;
    if (!h.rtcDestinations || !h.vcpusWithoutPendingEoi || RTC_PIN >= this.pins) return;
    const low = this.#low[RTC_PIN], high = this.#high[RTC_PIN];
    const vector = fieldGet(F_VECTOR, low);
    const addressLo = msiAddressLow(
      fieldGet(F_DEST, low, high),
      fieldGet(F_DESTMODE, low) === 1,
      false,
    );
    const data = msiDataWord(vector, fieldGet(F_DM, low), false);
    const i = this.#rtcDest.indexOf(vcpuId);
    if (i < 0 && h.rtcDestinations(addressLo, data).includes(vcpuId)) {
      this.#rtcDest.push(vcpuId);
      this.#rtcPendingEoi++;
      this.#rtcVector = vector;
    } else if (i >= 0 && h.vcpusWithoutPendingEoi(addressLo, data).includes(vcpuId)) {
      this.#rtcDest.splice(i, 1);
      if (this.#rtcPendingEoi > 0) this.#rtcPendingEoi--;
    }
  }

  #rtcEoi(vector: number, vcpuId: number | undefined): void {
    if (this.#rtcPendingEoi > 0 && vector === this.#rtcVector) {
      if (this.#host.rtcDestinations && vcpuId !== undefined) {
        const i = this.#rtcDest.indexOf(vcpuId);
        if (i < 0) return;
        this.#rtcDest.splice(i, 1);
      }
      this.#rtcPendingEoi--;
      const t = this.#host.trace;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "rtc.eoi",
          `vector ${hex(vector)}, ${this.#rtcPendingEoi} CPU(s) left`,
        );
      }
    }
  }

  #armStormTimer(): void {
    if (this.#stormArmed || !this.#host.schedule) return;
    this.#stormArmed = true;
    this.#host.schedule(EOI_STORM_DELAY_NS, () => {
      this.#version.bump();
      this.#stormArmed = false;
      // kvm_ioapic_eoi_inject_work: retry every level pin left pending.
      for (let pin = 0; pin < this.pins; pin++) {
        const low = this.#low[pin];
        if (
          fieldGet(F_TRIGGER, low) === 1 && this.#line[pin] === 1 && fieldGet(F_RIRR, low) === 0
        ) this.#service(pin, false);
      }
    });
  }

  /** KVM `ioapic_service`: send the entry's message if it may be sent. */
  #service(pin: number, lineStatus: boolean): number {
    const h = this.#host, t = h.trace;
    const low = this.#low[pin], high = this.#high[pin];
    const level = fieldGet(F_TRIGGER, low) === 1;
    if (fieldGet(F_MASK, low) === 1) {
      if (t.enabled) t.emit(h.name, "masked", `pin ${pin} vector ${hex(fieldGet(F_VECTOR, low))}`);
      return -1;
    }
    if (level && fieldGet(F_RIRR, low) === 1) {
      if (t.enabled) {
        t.emit(h.name, "remote_irr.pending", `pin ${pin} vector ${hex(fieldGet(F_VECTOR, low))}`);
      }
      return -1;
    }
    const vector = fieldGet(F_VECTOR, low);
    const dm = fieldGet(F_DM, low);
    let ret: number;
    if (dm === EXTINT) {
      // KVM's LAPIC accepts ExtINT only from LVT0; an ExtINT message from
      // the I/O APIC is accepted by nobody (__apic_accept_irq returns 0), so
      // the status is 0 and a level entry does not latch remote IRR. QEMU
      // would instead run an INTA cycle on the PIC.
      if (t.enabled) t.emit(h.name, "extint.dropped", `pin ${pin}: ExtINT RTE`);
      ret = 0;
    } else {
      const logical = fieldGet(F_DESTMODE, low) === 1;
      const dest = fieldGet(F_DEST, low, high);
      const addressLo = msiAddressLow(dest, logical, false), data = msiDataWord(vector, dm, level);
      ret = this.#msi.writeMsi(addressLo, 0, data, "ioapic");
      if (pin === RTC_PIN && lineStatus && h.rtcDestinations) {
        this.#rtcDest = ret > 0 ? [...h.rtcDestinations(addressLo, data)] : [];
      }
      if (t.enabled) {
        t.emit(
          h.name,
          "send",
          `pin ${pin} vector ${hex(vector)} ${fieldValueName(F_DM, dm) ?? dm} ${
            logical ? "logical" : "physical"
          } dest ${hex(dest)} ${level ? "level" : "edge"} -> ${ret}`,
        );
      }
    }
    if (pin === RTC_PIN && lineStatus) {
      if (ret <= 0) this.#rtcDest = [];
      this.#rtcPendingEoi = ret < 0 ? 0 : ret;
      this.#rtcVector = vector;
    }
    // ioapic_service latches remote IRR for any non-zero result, so -1 (no
    // APIC matched) latches it too; only 0 (matched, nobody accepted, e.g.
    // all targets software-disabled) leaves it clear for a later retry.
    if (ret !== 0 && level) {
      this.#low[pin] = fieldSet(F_RIRR, this.#low[pin], 1);
      if (t.enabled) t.emit(h.name, "remote_irr.set", `pin ${pin} vector ${hex(vector)}`);
    }
    return ret;
  }
}
