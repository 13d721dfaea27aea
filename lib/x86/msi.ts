/**
 * x86 MSI address/data format without interrupt remapping (Intel SDM vol. 3,
 * "Message Signalled Interrupts": Message Address Register Format and
 * Message Data Register Format), decoded the way KVM does it
 * (`kvm_msi_to_lapic_irq`, formerly `kvm_set_msi_irq`, in
 * `arch/x86/kvm/irq.c` / `irq_comm.c`).
 *
 * {@link MSI_ADDRESS_FIELDS} and {@link MSI_DATA_FIELDS} are the only
 * statement of these bit positions; everything else reads through them.
 *
 * @module
 */

import {
  type ApicMessage,
  type ApicSink,
  type DeliveryMode,
  DEST_MODE_VALUES,
  fixedMessage,
  MESSAGE_DELIVERY_MODE_VALUES,
  type MessageSource,
  Shorthand,
  TRIGGER_VALUES,
} from "./apic_message.ts";
import { EINVAL } from "./errno.ts";
import {
  decodeFields,
  encodeFields,
  type FieldIndex,
  type FieldInit,
  fieldSet,
  type FieldTable,
  type FieldValues,
  indexFields,
} from "../core/bitfield.ts";

/**
 * Message address, low dword. Bits 1:0 and 4 are reserved.
 *
 * @example
 * ```ts
 * MSI_ADDRESS_FIELDS.find((f) => f.name === "dest")!.lsb; // 12
 * ```
 */
export const MSI_ADDRESS_FIELDS = [
  {
    name: "dest_mode",
    lsb: 2,
    width: 1,
    values: DEST_MODE_VALUES,
    doc: "destination mode: dest is an APIC ID or a logical mask",
  },
  {
    name: "redirection_hint",
    lsb: 3,
    width: 1,
    doc: "redirection hint: KVM then delivers as lowest priority",
  },
  {
    name: "ext_dest",
    lsb: 5,
    width: 7,
    doc: "Linux's paravirt extended destination ID (APIC ID bits 14:8); KVM ignores it",
  },
  { name: "dest", lsb: 12, width: 8, doc: "destination APIC ID or logical mask" },
  {
    name: "base",
    lsb: 20,
    width: 12,
    doc: "must read 0xFEE (MSI_ADDRESS_BASE) for the write to be an interrupt",
  },
] as const satisfies FieldTable;

/**
 * Message data. Bits 13:11 and 31:16 are reserved.
 *
 * @example
 * ```ts
 * MSI_DATA_FIELDS.find((f) => f.name === "trigger")!.lsb; // 15
 * ```
 */
export const MSI_DATA_FIELDS = [
  { name: "vector", lsb: 0, width: 8, doc: "interrupt vector" },
  {
    name: "delivery_mode",
    lsb: 8,
    width: 3,
    values: MESSAGE_DELIVERY_MODE_VALUES,
    doc: "delivery mode (0b011 and 0b110 reserved)",
  },
  {
    name: "level",
    lsb: 14,
    width: 1,
    values: { deassert: 0, assert: 1 },
    doc: "only meaningful for level-triggered messages; KVM ignores it and always asserts",
  },
  { name: "trigger", lsb: 15, width: 1, values: TRIGGER_VALUES, doc: "trigger mode" },
] as const satisfies FieldTable;

/**
 * {@link MSI_ADDRESS_FIELDS} by name.
 *
 * @example
 * ```ts
 * MSI_ADDRESS.dest.width; // 8
 * ```
 */
export const MSI_ADDRESS: FieldIndex<typeof MSI_ADDRESS_FIELDS> = indexFields(MSI_ADDRESS_FIELDS);

/**
 * {@link MSI_DATA_FIELDS} by name.
 *
 * @example
 * ```ts
 * MSI_DATA.vector.width; // 8
 * ```
 */
export const MSI_DATA: FieldIndex<typeof MSI_DATA_FIELDS> = indexFields(MSI_DATA_FIELDS);

/**
 * The value of address bits 31:20 that makes a write an interrupt message.
 *
 * @example
 * ```ts
 * MSI_ADDRESS_BASE; // 0xfee
 * ```
 */
export const MSI_ADDRESS_BASE = 0xfee;

/** Decoding options. */
export interface MsiDecodeOptions {
  /**
   * KVM_X2APIC_API_USE_32BIT_IDS: address-high bits 31:8 carry destination
   * bits 31:8, and address-high bits 7:0 must be 0. Default false, in which
   * case address-high is ignored.
   */
  x2apicFormat?: boolean;
  /**
   * Reject an address whose bits 31:20 are not 0xFEE (default true). KVM
   * never looks at those bits, so the KVM routing layer turns this off.
   */
  checkBase?: boolean;
}

/**
 * Why an MSI did not decode.
 *
 * @example
 * ```ts
 * const r = decodeMsi(0xfed00000, 0, 0x41);
 * if (isMsiError(r)) r.errno; // -22
 * ```
 */
export interface MsiError {
  /** `address-base`: bits 31:20 not 0xFEE; `address-high`: x2APIC format with address-high bits 7:0 set. */
  readonly error: "address-base" | "address-high";
  /** What KVM returns for it (-EINVAL). */
  readonly errno: number;
  /** Human explanation. */
  readonly message: string;
}

/**
 * Result codes of {@link decodeMsiInto}.
 *
 * @example
 * ```ts
 * import { type ApicMessage } from "./apic_message.ts";
 * declare const data: number, hi: number, lo: number, msg: ApicMessage;
 * decodeMsiInto(msg, lo, hi, data) === MsiStatus.Ok;
 * ```
 */
export const MsiStatus = {
  Ok: 0,
  BadBase: 1,
  BadAddressHigh: 2,
} as const;
/** One of the {@link MsiStatus} codes. */
export type MsiStatus = typeof MsiStatus[keyof typeof MsiStatus];

/**
 * A field's shift and mask as plain numbers, one object shape for all, so the loads in
 * {@link decodeMsiInto} (once per MSI) stay monomorphic; `fieldGet` on the tables'
 * descriptors sees every table's shapes.
 */
interface FieldBits {
  readonly shift: number;
  readonly mask: number;
}

function fieldBits(f: { lsb: number; width: number }): FieldBits {
  return { shift: f.lsb, mask: (1 << f.width) - 1 };
}

function bitsOf(b: FieldBits, word: number): number {
  return (word >>> b.shift) & b.mask;
}

const BASE = fieldBits(MSI_ADDRESS.base), DEST = fieldBits(MSI_ADDRESS.dest);
const DEST_MODE = fieldBits(MSI_ADDRESS.dest_mode);
const REDIRECTION_HINT = fieldBits(MSI_ADDRESS.redirection_hint);
const VECTOR = fieldBits(MSI_DATA.vector), DELIVERY_MODE = fieldBits(MSI_DATA.delivery_mode);
const TRIGGER = fieldBits(MSI_DATA.trigger);

/**
 * Decodes an MSI into an existing message (no allocation) and returns
 * {@link MsiStatus.Ok}, or why it is not a valid interrupt (then `out` is
 * left partly written). The message is marked `source: "msi"`, shorthand
 * none, assert always (KVM ignores data bit 14).
 *
 * @example
 * ```ts
 * import { fixedMessage } from "./apic_message.ts";
 * const m = fixedMessage(0, 0, "msi");
 * decodeMsiInto(m, 0xfee01000, 0, 0x4041); // MsiStatus.Ok; m.vector 0x41, m.dest 1
 * ```
 */
export function decodeMsiInto(
  out: ApicMessage,
  addressLo: number,
  addressHi: number,
  data: number,
  options: MsiDecodeOptions = {},
): MsiStatus {
  if ((options.checkBase ?? true) && bitsOf(BASE, addressLo) !== MSI_ADDRESS_BASE) {
    return MsiStatus.BadBase;
  }
  let dest = bitsOf(DEST, addressLo);
  if (options.x2apicFormat) {
    // KVM: with 32-bit IDs, address-high is destination bits 31:8 and its
    // low byte must be zero (kvm_msi_route_invalid).
    if ((addressHi & 0xff) !== 0) return MsiStatus.BadAddressHigh;
    dest = (dest | (addressHi & 0xffffff00)) >>> 0;
  }
  out.vector = bitsOf(VECTOR, data);
  out.deliveryMode = bitsOf(DELIVERY_MODE, data) as DeliveryMode;
  out.logical = bitsOf(DEST_MODE, addressLo) === 1;
  out.dest = dest;
  out.shorthand = Shorthand.None;
  out.level = bitsOf(TRIGGER, data) === 1;
  out.assert = true;
  out.sourceId = -1;
  out.source = "msi";
  out.redirectionHint = bitsOf(REDIRECTION_HINT, addressLo) === 1;
  return MsiStatus.Ok;
}

/**
 * Decodes an MSI write into the APIC-bus message it raises, or an
 * {@link MsiError}. Address bits 31:20 must be 0xFEE (unless
 * `checkBase: false`); destination is bits 19:12 (plus address-high 31:8 in
 * x2APIC format); redirection hint bit 3; destination mode bit 2; vector,
 * delivery mode and trigger from the data. Data bit 14 is ignored: KVM
 * always asserts.
 *
 * @example
 * ```ts
 * const m = decodeMsi(0xfee0100c, 0, 0x8141);
 * // lowest-priority, level, vector 0x41, logical dest 0x01, redirection hint
 * ```
 */
export function decodeMsi(
  addressLo: number,
  addressHi: number,
  data: number,
  options: MsiDecodeOptions = {},
): ApicMessage | MsiError {
  const m = fixedMessage(0, 0, "msi");
  const s = decodeMsiInto(m, addressLo, addressHi, data, options);
  if (s === MsiStatus.Ok) return m;
  return msiError(s, addressLo, addressHi);
}

/**
 * The {@link MsiError} for a failed {@link decodeMsiInto} status.
 *
 * @example
 * ```ts
 * msiError(MsiStatus.BadBase, 0xfed00000, 0).error; // "address-base"
 * ```
 */
export function msiError(status: MsiStatus, addressLo: number, addressHi: number): MsiError {
  if (status === MsiStatus.BadAddressHigh) {
    return {
      error: "address-high",
      errno: -EINVAL,
      message: `address-high ${hex8(addressHi)}: bits 7:0 must be 0 with 32-bit APIC IDs`,
    };
  }
  return {
    error: "address-base",
    errno: -EINVAL,
    message: `address ${hex8(addressLo)}: bits 31:20 are not 0xfee`,
  };
}

/**
 * Whether a {@link decodeMsi} result is an error.
 *
 * @example
 * ```ts
 * isMsiError(decodeMsi(0, 0, 0)); // true
 * ```
 */
export function isMsiError(r: ApicMessage | MsiError): r is MsiError {
  return "error" in r;
}

/** What {@link encodeMsi} takes. */
export interface MsiInit {
  /** Destination APIC ID or logical mask; above 0xFF needs `x2apicFormat`. */
  dest: number;
  /** Data bits 7:0. */
  vector: number;
  /** Default fixed. */
  deliveryMode?: DeliveryMode | FieldInit<typeof MSI_DATA_FIELDS>["delivery_mode"];
  /** Default false (physical). */
  logical?: boolean;
  /** Default false. */
  redirectionHint?: boolean;
  /** Level-triggered (data bit 15); default false. */
  level?: boolean;
  /** Data bit 14; default true. */
  assert?: boolean;
  /** Put destination bits 31:8 in address-high (KVM 32-bit-ID format). */
  x2apicFormat?: boolean;
}

/** An MSI as the three dwords a device writes. */
export interface MsiWords {
  /** Message address bits 31:0. */
  addressLo: number;
  /** Message address bits 63:32. */
  addressHi: number;
  /** Message data. */
  data: number;
}

/**
 * Encodes an MSI address/data triple. Throws RangeError if `dest` does not
 * fit (8 bits, or 32 with `x2apicFormat`) or `vector` exceeds 0xFF.
 *
 * @example
 * ```ts
 * encodeMsi({ dest: 1, vector: 0x41 });
 * // { addressLo: 0xfee01000, addressHi: 0, data: 0x4041 }
 * ```
 */
export function encodeMsi(init: MsiInit): MsiWords {
  const wide = init.x2apicFormat ?? false;
  if (!Number.isInteger(init.dest) || init.dest < 0 || init.dest > (wide ? 0xffffffff : 0xff)) {
    throw new RangeError(`msi: dest ${init.dest} does not fit`);
  }
  const addr = encodeFields(MSI_ADDRESS_FIELDS, {
    base: MSI_ADDRESS_BASE,
    dest: init.dest & 0xff,
    dest_mode: init.logical ? "logical" : "physical",
    redirection_hint: init.redirectionHint ? 1 : 0,
  });
  const data = encodeFields(MSI_DATA_FIELDS, {
    vector: init.vector,
    delivery_mode: init.deliveryMode ?? "fixed",
    level: (init.assert ?? true) ? "assert" : "deassert",
    trigger: init.level ? "level" : "edge",
  });
  return {
    addressLo: addr,
    addressHi: wide ? (init.dest & 0xffffff00) >>> 0 : 0,
    data,
  };
}

/**
 * Every field of an MSI address-low dword, by name.
 *
 * @example
 * ```ts
 * decodeMsiAddress(0xfee01000).dest; // 1
 * ```
 */
export function decodeMsiAddress(addressLo: number): FieldValues<typeof MSI_ADDRESS_FIELDS> {
  return decodeFields(MSI_ADDRESS_FIELDS, addressLo);
}

/**
 * Every field of an MSI data dword, by name.
 *
 * @example
 * ```ts
 * decodeMsiData(0x8041).trigger; // 1
 * ```
 */
export function decodeMsiData(data: number): FieldValues<typeof MSI_DATA_FIELDS> {
  return decodeFields(MSI_DATA_FIELDS, data);
}

function hex8(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * Where a write to the interrupt address range (0xFEExxxxx) goes: devices'
 * MSIs, KVM's MSI routes and the I/O APIC's redirection messages all take
 * this one way onto the APIC bus, so an interrupt-remapping unit would sit
 * here, in front of every source, without touching any of them.
 */
export interface MsiSink {
  /**
   * Delivers the MSI write `data` to `addressHi:addressLo` from `source`.
   * Returns what {@link ApicSink.deliver} returns (the CPUs that accepted
   * it, or -1 when no APIC matched), or -EINVAL when the write is no valid
   * interrupt message.
   */
  writeMsi(addressLo: number, addressHi: number, data: number, source: MessageSource): number;
}

/**
 * The APIC bus as an {@link MsiSink}, without interrupt remapping: each
 * write is decoded as KVM's `kvm_msi_to_lapic_irq` decodes it (into one
 * reused message: no allocation) and delivered.
 *
 * @example
 * ```ts
 * declare const bus: import("./apic_message.ts").ApicSink;
 * const msi = new MsiDecoder(bus);
 * msi.writeMsi(0xfee01000, 0, 0x41, "msi"); // vector 0x41 to APIC 1
 * ```
 */
export class MsiDecoder implements MsiSink {
  /** Why the last write did not decode, or {@link MsiStatus.Ok}. */
  status: MsiStatus = MsiStatus.Ok;
  /**
   * The last message decoded (reused by every write; a sink copies what it
   * keeps). For traces: what the write said.
   */
  readonly message: ApicMessage = fixedMessage(0, 0, "msi");

  /**
   * Whether `message` holds the decoding of the write below (its
   * address-low, address-high, data, and the x2APIC format as 1 or 0): a
   * storm writes one MSI again and again, and the decoding is a function of
   * these alone.
   */
  #decoded = false;
  #decodedLo = 0;
  #decodedHi = 0;
  #decodedData = 0;
  #decodedX2 = 0;

  /** A decoder onto `bus` with KVM's decoding `options` (the VM's x2APIC API). */
  constructor(readonly bus: ApicSink, readonly options: MsiDecodeOptions = {}) {}

  /** Decodes and delivers one write (see {@link MsiSink.writeMsi}). */
  writeMsi(addressLo: number, addressHi: number, data: number, source: MessageSource): number {
    const m = this.message;
    const x2 = this.options.x2apicFormat === true ? 1 : 0;
    if (
      !this.#decoded || addressLo !== this.#decodedLo || addressHi !== this.#decodedHi ||
      data !== this.#decodedData || x2 !== this.#decodedX2 || m.source !== source
    ) {
      if (!this.#decode(addressLo, addressHi, data, x2)) return -EINVAL;
      m.source = source;
    }
    return this.bus.deliver(m);
  }

  /** {@link MsiDecoder.writeMsi}'s decoding into `message`; whether it decoded. */
  #decode(addressLo: number, addressHi: number, data: number, x2: number): boolean {
    this.status = decodeMsiInto(this.message, addressLo, addressHi, data, this.options);
    if (this.status !== MsiStatus.Ok) {
      this.#decoded = false;
      return false;
    }
    this.#decoded = true;
    this.#decodedLo = addressLo;
    this.#decodedHi = addressHi;
    this.#decodedData = data;
    this.#decodedX2 = x2;
    return true;
  }
}

/**
 * The address-low dword of an interrupt message in the compatibility
 * format (address-high 0): {@link MSI_ADDRESS_FIELDS}' base, an 8-bit
 * destination, its mode and the redirection hint. Allocates nothing, for
 * the I/O APIC's every send.
 *
 * @example
 * ```ts
 * msiAddressLow(1, false, false).toString(16); // "fee01000"
 * ```
 */
export function msiAddressLow(dest: number, logical: boolean, redirectionHint: boolean): number {
  let a = fieldSet(MSI_ADDRESS.base, 0, MSI_ADDRESS_BASE);
  a = fieldSet(MSI_ADDRESS.dest, a, dest);
  a = fieldSet(MSI_ADDRESS.dest_mode, a, logical ? 1 : 0);
  return fieldSet(MSI_ADDRESS.redirection_hint, a, redirectionHint ? 1 : 0) >>> 0;
}

/**
 * The data dword of an interrupt message: vector, delivery mode, trigger,
 * and the level bit set (an assert, as every message but an INIT
 * de-assert IPI is). Allocates nothing.
 *
 * @example
 * ```ts
 * msiDataWord(0x41, 0, true).toString(16); // "c041"
 * ```
 */
export function msiDataWord(vector: number, deliveryMode: number, level: boolean): number {
  let d = fieldSet(MSI_DATA.vector, 0, vector);
  d = fieldSet(MSI_DATA.delivery_mode, d, deliveryMode);
  d = fieldSet(MSI_DATA.level, d, 1);
  return fieldSet(MSI_DATA.trigger, d, level ? 1 : 0) >>> 0;
}
