import assert from "node:assert/strict";
import { decodeFields, encodeFields, fieldByName, fieldValueName } from "../core/bitfield.ts";
import {
  APIC_BASE_FIELDS,
  dfrModel,
  ICR_LOW_FIELDS,
  LAPIC_REGISTERS,
  lapicRegisterByName,
  lapicRegisterByOffset,
  LVT_LINT_FIELDS,
  LVT_TIMER_FIELDS,
  SVR_FIELDS,
  timerDivisor,
} from "./lapic_registers.ts";

Deno.test("lapicRegisterByName() knows every DSL register name with its offset and MSR", () => {
  const expected: [string, number, number | null][] = [
    ["id", 0x20, 0x802],
    ["version", 0x30, 0x803],
    ["tpr", 0x80, 0x808],
    ["apr", 0x90, null],
    ["ppr", 0xa0, 0x80a],
    ["eoi", 0xb0, 0x80b],
    ["ldr", 0xd0, 0x80d],
    ["dfr", 0xe0, null],
    ["svr", 0xf0, 0x80f],
    ["isr", 0x100, 0x810],
    ["tmr", 0x180, 0x818],
    ["irr", 0x200, 0x820],
    ["esr", 0x280, 0x828],
    ["icr_low", 0x300, 0x830],
    ["icr_high", 0x310, null],
    ["lvt_timer", 0x320, 0x832],
    ["lvt_thermal", 0x330, 0x833],
    ["lvt_pmc", 0x340, 0x834],
    ["lvt0", 0x350, 0x835],
    ["lvt1", 0x360, 0x836],
    ["lvt_error", 0x370, 0x837],
    ["lvt_cmci", 0x2f0, 0x82f],
    ["timer_initial_count", 0x380, 0x838],
    ["timer_current_count", 0x390, 0x839],
    ["timer_divide", 0x3e0, 0x83e],
  ];
  for (const [name, offset, msr] of expected) {
    const r = lapicRegisterByName(name);
    assert.ok(r, name);
    assert.equal(r.offset, offset, name);
    assert.equal(r.msr, msr, name);
  }
  assert.equal(lapicRegisterByName("lvt2"), undefined);
  assert.equal(lapicRegisterByName("lvt0")!.specName, "LVT LINT0");
  assert.equal(lapicRegisterByName("svr")!.reset, 0xff);
  assert.equal(lapicRegisterByName("ppr")!.access, "ro");
  assert.equal(lapicRegisterByName("eoi")!.access, "wo");
});

Deno.test("lapicRegisterByOffset() covers all eight words of ISR, TMR and IRR", () => {
  assert.equal(lapicRegisterByOffset(0x170)!.name, "isr");
  assert.equal(lapicRegisterByOffset(0x1f0)!.name, "tmr");
  assert.equal(lapicRegisterByOffset(0x270)!.name, "irr");
  assert.equal(lapicRegisterByOffset(0x3f0), undefined);
  const offsets = LAPIC_REGISTERS.map((r) => r.offset);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), "table in offset order");
});

Deno.test("encodeFields() builds LVT values from names and enum names", () => {
  assert.equal(encodeFields(LVT_LINT_FIELDS, { mask: 0, delivery_mode: "extint" }), 0x700);
  assert.equal(encodeFields(LVT_LINT_FIELDS, { mask: "masked" }, 0x700), 0x10700);
  assert.equal(
    encodeFields(LVT_TIMER_FIELDS, { vector: 0xef, timer_mode: "tsc_deadline" }),
    0x000400ef,
  );
  assert.equal(
    encodeFields(ICR_LOW_FIELDS, { vector: 0xcf, shorthand: "all_but_self", level: "assert" }),
    0x000c40cf,
  );
  assert.equal(encodeFields(SVR_FIELDS, { apic_enable: 0 }, 0x1ff), 0xff);
});

Deno.test("encodeFields() rejects unknown fields, unknown names and values that do not fit", () => {
  assert.throws(() => encodeFields(LVT_LINT_FIELDS, { masked: 1 }), RangeError);
  assert.throws(() => encodeFields(LVT_LINT_FIELDS, { delivery_mode: "smii" }), RangeError);
  assert.throws(() => encodeFields(LVT_LINT_FIELDS, { vector: 0x100 }), RangeError);
  assert.throws(() => encodeFields(LVT_LINT_FIELDS, { vector: -1 }), RangeError);
});

Deno.test("decodeFields() and encodeFields() round-trip register values", () => {
  for (const value of [0x0001a7f1, 0x00000700, 0x0000e4ff]) {
    const fields = decodeFields(LVT_LINT_FIELDS, value);
    assert.equal(encodeFields(LVT_LINT_FIELDS, fields), value);
  }
  assert.deepEqual(decodeFields(ICR_LOW_FIELDS, 0x000c40cf), {
    vector: 0xcf,
    delivery_mode: 0,
    dest_mode: 0,
    delivery_status: 0,
    level: 1,
    trigger: 0,
    shorthand: 3,
  });
  const dm = fieldByName(LVT_LINT_FIELDS, "delivery_mode")!;
  assert.equal(fieldValueName(dm, 7), "extint");
  assert.equal(fieldValueName(dm, 4), "nmi");
  assert.equal(fieldValueName(fieldByName(LVT_LINT_FIELDS, "vector")!, 4), undefined);
});

Deno.test("IA32_APIC_BASE fields work above bit 31", () => {
  const v = encodeFields(APIC_BASE_FIELDS, { base: 0xfee00, enable: 1, bsp: 1 });
  assert.equal(v, 0xfee00900);
  const high = encodeFields(APIC_BASE_FIELDS, { base: 0x1_00000 });
  assert.equal(high, 2 ** 32);
  assert.deepEqual(decodeFields(APIC_BASE_FIELDS, 2 ** 32 + 0xc00), {
    bsp: 0,
    extd: 1,
    enable: 1,
    base: 0x100000,
  });
});

Deno.test("timerDivisor() decodes TDCR bits 3,1,0", () => {
  assert.deepEqual(
    [0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xb, 0x4].map(timerDivisor),
    [2, 4, 8, 16, 32, 64, 128, 1, 2],
  );
});

Deno.test("dfrModel() reads the model field: 0xF flat, 0x0 cluster, others undefined", () => {
  assert.equal(dfrModel(0xffffffff), "flat");
  assert.equal(dfrModel(0x0fffffff), "cluster");
  assert.equal(dfrModel(0x5fffffff), undefined);
});
