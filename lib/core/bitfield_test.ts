import assert from "node:assert/strict";
import {
  type BitField,
  decodeField,
  decodeFields,
  encodeFields,
  encodeFieldValue,
  fieldByName,
  fieldGet,
  fieldSet,
  type FieldTable,
  fieldValueName,
  formatFields,
  getField,
  indexFields,
  joinWords,
  setField,
  splitWords,
} from "./bitfield.ts";

/** A made-up 64-bit register with fields in both words, above bit 52, and an enum with a hole. */
const REG = [
  { name: "vector", lsb: 0, width: 8 },
  { name: "mode", lsb: 8, width: 3, values: { fixed: 0, nmi: 4, extint: 7 } },
  { name: "trigger", lsb: 15, width: 1, values: { edge: 0, level: 1 } },
  { name: "mask", lsb: 16, width: 1 },
  { name: "wide", lsb: 24, width: 16 },
  { name: "dest", lsb: 56, width: 8 },
] as const satisfies FieldTable;

/** A 32-bit register whose table is typed loosely, as the LAPIC tables are. */
const LOOSE: FieldTable = [
  { name: "vector", lsb: 0, width: 8, doc: "vector" },
  { name: "mode", lsb: 8, width: 3, values: { fixed: 0, extint: 7 } },
  { name: "top", lsb: 24, width: 8 },
];

Deno.test("fieldGet()/fieldSet() read and write fields of 32-bit words", () => {
  const R = indexFields(REG);
  assert.equal(fieldGet(R.vector, 0x8041), 0x41);
  assert.equal(fieldGet(R.trigger, 0x8041), 1);
  assert.equal(fieldGet(R.dest, 0x8041, 0xc3000000), 0xc3);
  assert.equal(fieldSet(R.mask, 0x41, 1), 0x10041);
  assert.equal(fieldSet(R.mask, 0x10041, 0), 0x41);
  // Results are unsigned even with bit 31 set.
  assert.equal(fieldSet(R.dest, 0, 0xff), 0xff000000);
  // fieldSet keeps only the field's width of the value.
  assert.equal(fieldSet(R.vector, 0, 0x141), 0x41);
  const full: BitField = { name: "all", lsb: 0, width: 32 };
  assert.equal(fieldGet(full, 0xffffffff), 0xffffffff);
  assert.equal(fieldSet(full, 0, 0xdeadbeef), 0xdeadbeef);
});

Deno.test("joinWords() and splitWords() convert between words and bigint", () => {
  assert.equal(joinWords(0x8041, 0xc3000000), 0xc300000000008041n);
  assert.deepEqual(splitWords(0xc300000000008041n), { low: 0x8041, high: 0xc3000000 });
  assert.deepEqual(splitWords(joinWords(0xffffffff, 0xffffffff)), {
    low: 0xffffffff,
    high: 0xffffffff,
  });
});

Deno.test("getField() agrees across number, bigint and words", () => {
  const low = 0xabcd8741, high = 0xc30000ef;
  const big = joinWords(low, high);
  for (const f of REG) {
    const expected = Number((big >> BigInt(f.lsb)) & ((1n << BigInt(f.width)) - 1n));
    assert.equal(getField(f, big), expected, f.name);
    if (f.lsb + f.width <= 32) {
      assert.equal(getField(f, low), expected, f.name);
      assert.equal(fieldGet(f, low, high), expected, f.name);
    }
  }
  // `wide` straddles bit 32: numbers handle it arithmetically below bit 53.
  assert.equal(getField(REG[4], 0xef_abcd_8741), 0xefab);
  assert.throws(() => getField(REG[5], 0x41), RangeError);
});

Deno.test("encodeFields() takes numbers or value names and keeps the base's other bits", () => {
  assert.equal(
    encodeFields(REG.slice(0, 4), { vector: 0x41, mode: "extint", trigger: "level" }),
    0x8741,
  );
  assert.equal(encodeFields(REG.slice(0, 4), { mask: 1 }, 0x8741), 0x18741);
  assert.equal(encodeFields(REG.slice(0, 4), { mode: 0 }, 0x18741), 0x18041);
  assert.equal(encodeFields(LOOSE, { mode: "extint", top: 0xff }), 0xff000700);
  assert.equal(encodeFields(REG, { vector: 0x41, dest: 0xc3 }, 0n), 0xc300000000000041n);
  assert.equal(encodeFields(REG, { dest: 1 }, 0xff00000000000041n), 0x0100000000000041n);
  assert.equal(encodeFields(REG, { wide: 0xffff }, 0), 0xff_ff00_0000);
  // Omitted and undefined fields are left alone.
  assert.equal(encodeFields(REG, { vector: undefined }, 0x1234), 0x1234);
});

Deno.test("encodeFields() rejects unknown fields and names and values that do not fit", () => {
  assert.throws(() => encodeFields(LOOSE, { bogus: 1 }), /unknown field 'bogus'/);
  assert.throws(() => encodeFields(LOOSE, { mode: "nmi" }), /unknown value 'nmi'.*fixed, extint/);
  assert.throws(() => encodeFields(LOOSE, { vector: "fixed" }), /unknown value 'fixed'/);
  assert.throws(() => encodeFields(LOOSE, { vector: 0x100 }), RangeError);
  assert.throws(() => encodeFields(LOOSE, { vector: -1 }), RangeError);
  assert.throws(() => encodeFields(LOOSE, { vector: 1.5 }), RangeError);
  // @ts-expect-error: `as const` tables check value names at compile time too.
  assert.throws(() => encodeFields(REG, { trigger: "rising" }, 0n), RangeError);
  // A field above bit 52 needs a bigint register value.
  assert.throws(() => encodeFields(REG, { dest: 1 }), /needs a bigint/);
});

Deno.test("decodeFields() returns every field as a number and round-trips encodeFields()", () => {
  const v = 0xc300_0000_ef01_8741n;
  const d = decodeFields(REG, v);
  assert.deepEqual(d, { vector: 0x41, mode: 7, trigger: 1, mask: 1, wide: 0x00ef, dest: 0xc3 });
  assert.equal(encodeFields(REG, d, 0n), v);
  assert.deepEqual(decodeFields(LOOSE, 0xff000741), { vector: 0x41, mode: 7, top: 0xff });
});

Deno.test("value names: fieldValueName(), decodeField(), encodeFieldValue()", () => {
  const R = indexFields(REG);
  assert.equal(fieldValueName(R.mode, 4), "nmi");
  assert.equal(fieldValueName(R.mode, 3), undefined, "reserved encoding");
  assert.equal(fieldValueName(R.vector, 0), undefined, "field without names");
  assert.equal(decodeField(R.trigger, 0x8000), "level");
  assert.equal(decodeField(R.mode, 0x300), 3);
  assert.equal(decodeField(R.vector, 0x8041n), 0x41);
  assert.equal(decodeField(R.dest, 0x0200000000000000n), 2);
  assert.equal(encodeFieldValue(R.trigger, "edge"), 0);
  assert.equal(encodeFieldValue(R.mode, 7), 7);
  assert.throws(() => encodeFieldValue(R.mode, 8), RangeError);
});

Deno.test("setField() keeps the representation and checks its value", () => {
  const R = indexFields(REG);
  assert.equal(setField(R.mask, 0x41, 1), 0x10041);
  assert.equal(setField(R.mask, 0x41n, 1), 0x10041n);
  assert.equal(setField(R.mode, 0xfee00000, "nmi"), 0xfee00400);
  assert.equal(setField(R.dest, 0n, 0xff), 0xff00000000000000n);
  assert.throws(() => setField(R.trigger, 0, "rising"), RangeError);
});

Deno.test("formatFields() names values, prints bits as 0/1 and others as padded hex", () => {
  assert.equal(
    formatFields(REG, 0x0100_0000_0001_8741n),
    "vector=0x41 mode=extint trigger=level mask=1 wide=0x0000 dest=0x01",
  );
  assert.equal(formatFields(LOOSE, 0x00000341), "vector=0x41 mode=0x3 top=0x00");
});

Deno.test("fieldByName() and indexFields() find fields by name", () => {
  assert.equal(fieldByName(LOOSE, "top")?.lsb, 24);
  assert.equal(fieldByName(LOOSE, "nope"), undefined);
  const byName = indexFields(REG);
  assert.equal(byName.dest.lsb, 56);
  assert.deepEqual(Object.keys(byName), REG.map((f) => f.name));
});
