import assert from "node:assert/strict";
import {
  coerce,
  describeType,
  formatNumber,
  formatVal,
  truthy,
  valCompare,
  valEquals,
} from "./values.ts";
import type { ParamType } from "./table.ts";

const VECTOR: ParamType = { kind: "int", min: 0, max: 255, what: "a vector" };

Deno.test("coerce() range-checks ints and turns bigints into numbers", () => {
  assert.deepEqual(coerce(VECTOR, 0x41), { ok: true, value: 0x41 });
  assert.deepEqual(coerce(VECTOR, 255n), { ok: true, value: 255 });
  assert.deepEqual(coerce(VECTOR, 256), {
    ok: false,
    why: "0x100 is out of range for a vector (0..0xff)",
  });
  assert.deepEqual(coerce(VECTOR, -1), {
    ok: false,
    why: "-1 is out of range for a vector (0..0xff)",
  });
  assert.deepEqual(coerce(VECTOR, "x"), { ok: false, why: "expected a vector (0..0xff)" });
  assert.deepEqual(coerce({ kind: "int", min: 0, max: 3 }, [1]), {
    ok: false,
    why: "expected a number (0..3)",
  });
});

Deno.test("coerce() makes u64 values bigints and rejects what does not fit", () => {
  assert.deepEqual(coerce({ kind: "u64" }, 5), { ok: true, value: 5n });
  assert.deepEqual(coerce({ kind: "u64" }, 0xffff_ffff_ffff_ffffn), {
    ok: true,
    value: 0xffff_ffff_ffff_ffffn,
  });
  assert.deepEqual(coerce({ kind: "u64" }, 1n << 64n), {
    ok: false,
    why: "0x10000000000000000 does not fit in 64 bits",
  });
  assert.deepEqual(coerce({ kind: "u64" }, -1), { ok: false, why: "-1 does not fit in 64 bits" });
  assert.deepEqual(coerce({ kind: "u64" }, "a"), { ok: false, why: "expected a 64-bit number" });
});

Deno.test("coerce() handles bool, enum, duration, set and register types", () => {
  assert.deepEqual(coerce({ kind: "bool" }, 1n), { ok: true, value: 1 });
  assert.deepEqual(coerce({ kind: "bool" }, "false"), { ok: true, value: 0 });
  assert.deepEqual(coerce({ kind: "bool" }, 2), { ok: false, why: "expected 0 or 1" });
  const mode: ParamType = { kind: "enum", values: ["edge", "level"] };
  assert.deepEqual(coerce(mode, "level"), { ok: true, value: "level" });
  assert.deepEqual(coerce(mode, "pulse"), { ok: false, why: "expected one of: edge, level" });
  assert.deepEqual(coerce({ kind: "duration" }, 1000), { ok: true, value: 1000 });
  assert.deepEqual(coerce({ kind: "duration" }, -1), {
    ok: false,
    why: "expected a duration such as 10us",
  });
  assert.deepEqual(coerce({ kind: "duration" }, "5ms"), {
    ok: false,
    why: "expected a duration such as 10us",
  });
  const set: ParamType = { kind: "set", min: 16, max: 255 };
  assert.deepEqual(coerce(set, [16, 255]), { ok: true, value: [16, 255] });
  assert.deepEqual(coerce(set, [15]), { ok: false, why: "0xf is out of range 0x10..0xff" });
  assert.deepEqual(coerce(set, 16), { ok: false, why: "expected a set such as {0x31, 0x41}" });
  assert.deepEqual(coerce({ kind: "register", files: [] }, 1), {
    ok: false,
    why: "expected a register name",
  });
});

Deno.test("describeType() words every type", () => {
  assert.equal(describeType(VECTOR), "a vector (0..0xff)");
  assert.equal(describeType({ kind: "int", min: 1, max: 9 }), "a number (1..9)");
  assert.equal(describeType({ kind: "u64" }), "a 64-bit number");
  assert.equal(describeType({ kind: "bool" }), "0 or 1");
  assert.equal(describeType({ kind: "enum", values: ["a", "b"] }), "a | b");
  assert.equal(describeType({ kind: "duration" }), "a duration (ns, us, ms, s)");
  assert.equal(describeType({ kind: "set", min: 0, max: 255 }), "a set of numbers in 0..0xff");
  assert.equal(
    describeType({
      kind: "register",
      files: [{ prefix: "lapic", registers: [] }, { prefix: "ioapic", registers: [] }],
    }),
    "a register (lapic.<name> or ioapic.<name>)",
  );
});

Deno.test("valEquals() compares numbers with bigints and sets by members", () => {
  assert.equal(valEquals(5, 5n), true);
  assert.equal(valEquals(5, 6n), false);
  assert.equal(valEquals([3, 1], [1, 3]), true);
  assert.equal(valEquals([1, 3], [1, 3, 3]), false);
  assert.equal(valEquals([], []), true);
  assert.equal(valEquals([1], 1), false);
  assert.equal(valEquals("edge", "edge"), true);
  assert.equal(valEquals("edge", "level"), false);
  assert.equal(valEquals("1", 1), false);
});

Deno.test("valCompare() orders numbers and refuses anything else", () => {
  assert.equal(valCompare(1, 2n), -1);
  assert.equal(valCompare(2n, 2), 0);
  assert.equal(valCompare(3, 2), 1);
  assert.equal(valCompare(-22, 0), -1);
  assert.equal(valCompare([1], 1), undefined);
  assert.equal(valCompare("a", "b"), undefined);
});

Deno.test("truthy() is non-zero, non-empty", () => {
  assert.deepEqual(
    [1, 0, -1, 0n, 2n, [], [0], "", "x"].map((v) => truthy(v)),
    [true, false, true, false, true, false, true, false, true],
  );
});

Deno.test("formatVal() and formatNumber() print as scenarios write values", () => {
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(9), "9");
  assert.equal(formatNumber(10), "0xa");
  assert.equal(formatNumber(0x41), "0x41");
  assert.equal(formatNumber(-22), "-22");
  assert.equal(formatNumber(1n << 64n), "0x10000000000000000");
  assert.equal(formatVal([1, 0x41]), "{1, 0x41}");
  assert.equal(formatVal([]), "{}");
  assert.equal(formatVal("level"), "level");
  assert.equal(formatVal(255n), "0xff");
});
