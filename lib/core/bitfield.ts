/**
 * Bit fields of hardware registers: one descriptor type ({@link BitField})
 * and one set of helpers to read, write, encode, decode, name and print
 * fields. Every register layout in irqlab (LAPIC registers, I/O APIC
 * redirection entries, MSI address/data, ...) is a table of
 * {@link BitField}s defined once in its model module and read through these
 * helpers; the language's `FieldSpec` is the same type.
 *
 * ## How register values are represented
 *
 * - The general helpers ({@link getField}, {@link setField},
 *   {@link encodeFields}, {@link decodeFields}, {@link decodeField},
 *   {@link formatFields}) take a {@link RegValue}: a `number` for registers
 *   of up to 32 bits (any non-negative safe integer is accepted, so a
 *   `number` also works for fields below bit 53), or a `bigint` for 64-bit
 *   registers with fields above that (IOREDTBL's `dest` at bit 56). The
 *   result of {@link encodeFields} has the representation of its `base`
 *   argument. They may allocate and are meant for cold paths: the language,
 *   tests, trace text.
 * - The fast accessors {@link fieldGet} and {@link fieldSet} work on 32-bit
 *   words with plain bitwise operations and never allocate: hot paths
 *   (I/O APIC send, MSI decode) use them. A 64-bit register kept as two
 *   words ({@link RegWords}) is read by passing both words; a field never
 *   straddles bit 32 there. {@link joinWords} and {@link splitWords} convert
 *   between two words and a `bigint`.
 *
 * Field values themselves are always `number`s (no field is wider than 53
 * bits).
 *
 * @example
 * ```ts
 * const LVT = [
 *   { name: "vector", lsb: 0, width: 8 },
 *   { name: "delivery_mode", lsb: 8, width: 3, values: { fixed: 0, nmi: 4, extint: 7 } },
 *   { name: "mask", lsb: 16, width: 1 },
 * ] as const satisfies FieldTable;
 * encodeFields(LVT, { delivery_mode: "extint" }); // 0x700
 * formatFields(LVT, 0x10741); // "vector=0x41 delivery_mode=extint mask=1"
 * ```
 *
 * @module
 */

/**
 * One bit field of a register, at its architectural position.
 *
 * @example
 * ```ts
 * const trigger: BitField = { name: "trigger", lsb: 15, width: 1, values: { edge: 0, level: 1 } };
 * ```
 */
export interface BitField {
  /** snake_case of the spec's name, as written in scenarios: `vector`, `delivery_mode`. */
  readonly name: string;
  /** Least significant bit, counted from bit 0 of the whole register (0..63). */
  readonly lsb: number;
  /** Width in bits (1..53). */
  readonly width: number;
  /** Names of the encodings the spec names, value by name; unnamed values are reserved or plain numbers. */
  readonly values?: Readonly<Record<string, number>>;
  /** Owned by the hardware: software writes do not change it (or, where a model deviates, its doc says so). */
  readonly readOnly?: boolean;
  /** One line. */
  readonly doc?: string;
}

/**
 * The fields of one register, low bits first.
 *
 * @example
 * ```ts
 * const PRIORITY: FieldTable = [
 *   { name: "subclass", lsb: 0, width: 4 },
 *   { name: "class", lsb: 4, width: 4 },
 * ];
 * ```
 */
export type FieldTable = readonly BitField[];

/**
 * A register value: a `number` (32-bit registers; exact up to 53 bits) or a
 * `bigint` (64-bit registers).
 *
 * @example
 * ```ts
 * const lvt: RegValue = 0x10700;
 * const rte: RegValue = 0x0100_0000_0000_8076n;
 * ```
 */
export type RegValue = number | bigint;

/**
 * A 64-bit register as two unsigned 32-bit words, the way hot paths store it.
 *
 * @example
 * ```ts
 * const w: RegWords = { low: 0x8076, high: 0x01000000 };
 * ```
 */
export interface RegWords {
  /** Bits 31:0. */
  low: number;
  /** Bits 63:32. */
  high: number;
}

/**
 * What a field takes when encoding: a number, or one of its value names
 * (checked at compile time for `as const` tables).
 *
 * @example
 * ```ts
 * const t: FieldInput<{ name: "trigger"; lsb: 15; width: 1; values: { edge: 0; level: 1 } }> =
 *   "level";
 * ```
 */
export type FieldInput<F> = F extends { readonly values: infer V } ? (keyof V & string) | number
  : "values" extends keyof F ? string | number
  : number;

/**
 * Field values by name for {@link encodeFields}; omitted fields keep the base value.
 *
 * @example
 * ```ts
 * const init: FieldInit<FieldTable> = { vector: 0x41, delivery_mode: "fixed" };
 * ```
 */
export type FieldInit<T extends FieldTable> = {
  [F in T[number] as F["name"]]?: FieldInput<F>;
};

/**
 * Every field of a register as a number, by name (what {@link decodeFields} returns).
 *
 * @example
 * ```ts
 * const d: FieldValues<FieldTable> = decodeFields([{ name: "mask", lsb: 16, width: 1 }], 0x10000);
 * d.mask; // 1
 * ```
 */
export type FieldValues<T extends FieldTable> = {
  [F in T[number] as F["name"]]: number;
};

/**
 * A table's fields by name (what {@link indexFields} returns).
 *
 * @example
 * ```ts
 * const byName: FieldIndex<FieldTable> = indexFields([{ name: "vector", lsb: 0, width: 8 }]);
 * ```
 */
export type FieldIndex<T extends FieldTable> = { [F in T[number] as F["name"]]: F };

// ---------------------------------------------------------------------------
// Lookup

/**
 * The field called `name` in `table`, or undefined.
 *
 * @example
 * ```ts
 * fieldByName([{ name: "mask", lsb: 16, width: 1 }], "mask")?.lsb; // 16
 * ```
 */
export function fieldByName<T extends FieldTable>(
  table: T,
  name: string,
): T[number] | undefined {
  for (const f of table) if (f.name === name) return f;
  return undefined;
}

/**
 * A table's index by field name, for hot paths that resolve their fields once.
 *
 * @example
 * ```ts
 * import { RTE_FIELDS } from "../x86/ioapic.ts";
 * const RTE = indexFields(RTE_FIELDS);
 * RTE.remote_irr.lsb; // 14
 * ```
 */
export function indexFields<T extends FieldTable>(table: T): FieldIndex<T> {
  const out: Record<string, BitField> = {};
  for (const f of table) out[f.name] = f;
  return out as FieldIndex<T>;
}

/**
 * The name of encoding `value` of field `f`, or undefined where the field
 * does not name it. Does not allocate.
 *
 * @example
 * ```ts
 * fieldValueName({ name: "trigger", lsb: 15, width: 1, values: { edge: 0, level: 1 } }, 1); // "level"
 * ```
 */
export function fieldValueName(f: BitField, value: number): string | undefined {
  const values = f.values;
  if (!values) return undefined;
  for (const name in values) if (values[name] === value) return name;
  return undefined;
}

/**
 * The number for `value` in field `f`: a value name is looked up, a number
 * is range-checked.
 *
 * @throws {RangeError} for a name the field does not have, or a number that
 * is not an integer in 0..2^width-1.
 * @example
 * ```ts
 * encodeFieldValue({ name: "trigger", lsb: 15, width: 1, values: { edge: 0, level: 1 } }, "level"); // 1
 * ```
 */
export function encodeFieldValue(f: BitField, value: number | string): number {
  let n: number;
  if (typeof value === "string") {
    const e = f.values?.[value];
    if (e === undefined) {
      const names = f.values ? Object.keys(f.values).join(", ") : "none (a number)";
      throw new RangeError(`unknown value '${value}' for field '${f.name}'; names: ${names}`);
    }
    n = e;
  } else {
    n = value;
  }
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** f.width) {
    throw new RangeError(`value ${value} does not fit field '${f.name}' (${f.width} bits)`);
  }
  return n;
}

// ---------------------------------------------------------------------------
// Fast 32-bit word accessors (no allocation)

function wordMask(f: BitField): number {
  return f.width >= 32 ? 0xffffffff : (1 << f.width) - 1;
}

/**
 * Reads field `f` from a register given as 32-bit words: `low` holds bits
 * 31:0, `high` bits 63:32 (for fields at bit 32 and up). The field must lie
 * within one word. Plain bitwise operations, no allocation.
 *
 * @example
 * ```ts
 * fieldGet({ name: "trigger", lsb: 15, width: 1 }, 0x8076); // 1
 * fieldGet({ name: "dest", lsb: 56, width: 8 }, 0x8076, 0x01000000); // 1
 * ```
 */
export function fieldGet(f: BitField, low: number, high = 0): number {
  const word = f.lsb >= 32 ? high : low;
  return ((word >>> (f.lsb & 31)) & wordMask(f)) >>> 0;
}

/**
 * Returns `word` with field `f` replaced by the low bits of `value` (no
 * range check). `word` is the low word for fields below bit 32 and the high
 * word for the others. No allocation.
 *
 * @example
 * ```ts
 * fieldSet({ name: "mask", lsb: 16, width: 1 }, 0x76, 1); // 0x10076
 * ```
 */
export function fieldSet(f: BitField, word: number, value: number): number {
  const shift = f.lsb & 31;
  const m = wordMask(f);
  return ((word & ~(m << shift)) | ((value & m) << shift)) >>> 0;
}

/**
 * A 64-bit value from its two 32-bit words.
 *
 * @example
 * ```ts
 * joinWords(0x8076, 0x01000000); // 0x0100000000008076n
 * ```
 */
export function joinWords(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

/**
 * The two 32-bit words of a 64-bit value (bits above 63 are dropped).
 *
 * @example
 * ```ts
 * splitWords(0x0100000000008076n); // { low: 0x8076, high: 0x01000000 }
 * ```
 */
export function splitWords(value: bigint): RegWords {
  return {
    low: Number(value & 0xffff_ffffn),
    high: Number((value >> 32n) & 0xffff_ffffn),
  };
}

// ---------------------------------------------------------------------------
// General helpers (number or bigint registers)

function checkNumberField(f: BitField): void {
  if (f.lsb + f.width > 53) {
    throw new RangeError(
      `field '${f.name}' (bits ${f.lsb + f.width - 1}:${f.lsb}) needs a bigint register value`,
    );
  }
}

/**
 * Reads field `f` from a register value of either representation.
 *
 * @throws {RangeError} if `value` is a number and the field lies above bit 52.
 * @example
 * ```ts
 * getField({ name: "vector", lsb: 0, width: 8 }, 0x10741); // 0x41
 * getField({ name: "dest", lsb: 56, width: 8 }, 0x0300_0000_0000_0000n); // 3
 * ```
 */
export function getField(f: BitField, value: RegValue): number {
  if (typeof value === "bigint") {
    // A field in the low word needs one bigint operation, not five.
    if (f.lsb + f.width <= 32) return fieldGet(f, Number(BigInt.asUintN(32, value)));
    return Number((value >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n));
  }
  if (f.lsb + f.width <= 32) return fieldGet(f, value);
  checkNumberField(f);
  // Arithmetic rather than bitwise: exact for safe integers above bit 31.
  return Math.floor(value / 2 ** f.lsb) % 2 ** f.width;
}

/**
 * Returns `value` with field `f` set to `n` (a number or a value name), in
 * the representation of `value`.
 *
 * @throws {RangeError} for an unknown value name, a value that does not fit,
 * or a field above bit 52 of a number register.
 * @example
 * ```ts
 * setField({ name: "mask", lsb: 16, width: 1 }, 0x700, 1); // 0x10700
 * setField({ name: "dest", lsb: 56, width: 8 }, 0x8076n, 1); // 0x0100000000008076n
 * ```
 */
export function setField<V extends RegValue>(f: BitField, value: V, n: number | string): V {
  const v = encodeFieldValue(f, n);
  if (typeof value === "bigint") {
    const lsb = BigInt(f.lsb);
    const m = ((1n << BigInt(f.width)) - 1n) << lsb;
    return ((value & ~m) | (BigInt(v) << lsb)) as V;
  }
  checkNumberField(f);
  const num: number = value;
  return (num + (v - getField(f, num)) * 2 ** f.lsb) as V;
}

/**
 * Builds a register value from named fields, starting from `base` so that
 * omitted fields keep its bits (default 0). Each value is a number or one of
 * the field's value names. The result has the representation of `base`:
 * pass `0n` (or a bigint) for registers with fields above bit 52.
 *
 * @throws {RangeError} for an unknown field or value name, or a value that does not fit.
 * @example
 * ```ts
 * import { RTE_FIELDS } from "../x86/ioapic.ts";
 * import { LVT_LINT_FIELDS } from "../x86/lapic_registers.ts";
 * encodeFields(LVT_LINT_FIELDS, { mask: 0, delivery_mode: "extint" }); // 0x700
 * encodeFields(LVT_LINT_FIELDS, { mask: 1 }, 0x700); // 0x10700
 * encodeFields(RTE_FIELDS, { vector: 0x76, trigger: "level", dest: 1 }, 0n); // 0x0100000000008076n
 * ```
 */
export function encodeFields<T extends FieldTable>(
  table: T,
  init: FieldInit<T>,
  base?: number,
): number;
export function encodeFields<T extends FieldTable>(
  table: T,
  init: FieldInit<T>,
  base: bigint,
): bigint;
export function encodeFields<T extends FieldTable>(
  table: T,
  init: FieldInit<T>,
  base: RegValue = 0,
): RegValue {
  let out = base;
  for (const name in init) {
    const v = (init as Record<string, number | string | undefined>)[name];
    if (v === undefined) continue;
    const f = fieldByName(table, name);
    if (!f) {
      throw new RangeError(
        `unknown field '${name}'; fields are ${table.map((x) => x.name).join(", ")}`,
      );
    }
    out = setField(f, out, v);
  }
  return out;
}

/**
 * Splits a register value into every field of `table`, as numbers (see
 * {@link fieldValueName} for names).
 *
 * @example
 * ```ts
 * import { RTE_FIELDS } from "../x86/ioapic.ts";
 * import { LVT_LINT_FIELDS } from "../x86/lapic_registers.ts";
 * decodeFields(LVT_LINT_FIELDS, 0x10700).delivery_mode; // 7
 * decodeFields(RTE_FIELDS, 0x0100000000008076n).dest; // 1
 * ```
 */
export function decodeFields<T extends FieldTable>(table: T, value: RegValue): FieldValues<T> {
  const out: Record<string, number> = {};
  for (const f of table) out[f.name] = getField(f, value);
  return out as FieldValues<T>;
}

/**
 * Field `f` of `value` as its value name where the field names that
 * encoding, otherwise as a number.
 *
 * @example
 * ```ts
 * decodeField({ name: "trigger", lsb: 15, width: 1, values: { edge: 0, level: 1 } }, 0x8000); // "level"
 * decodeField({ name: "vector", lsb: 0, width: 8 }, 0x8041); // 0x41
 * ```
 */
export function decodeField(f: BitField, value: RegValue): string | number {
  const n = getField(f, value);
  return fieldValueName(f, n) ?? n;
}

/**
 * One line of text for a register: `name=value` for every field, low bits
 * first; value names where the field has them, single-bit fields as 0/1,
 * others in hex padded to the field's width.
 *
 * @example
 * ```ts
 * import { MSI_DATA_FIELDS } from "../x86/msi.ts";
 * formatFields(MSI_DATA_FIELDS, 0x8041);
 * // "vector=0x41 delivery_mode=fixed level=deassert trigger=level"
 * ```
 */
export function formatFields(table: FieldTable, value: RegValue): string {
  const parts: string[] = [];
  for (const f of table) {
    const n = getField(f, value);
    const name = fieldValueName(f, n);
    const text = name ??
      (f.width === 1 ? String(n) : "0x" + n.toString(16).padStart(Math.ceil(f.width / 4), "0"));
    parts.push(`${f.name}=${text}`);
  }
  return parts.join(" ");
}
