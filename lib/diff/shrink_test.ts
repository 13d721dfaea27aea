import assert from "node:assert/strict";
import { shrinkUnits } from "./shrink.ts";

Deno.test("shrinkUnits() keeps only what the predicate needs when one unit matters", () => {
  const units = Array.from({ length: 40 }, (_, i) => `s${i}`);
  assert.deepEqual(shrinkUnits(units, (u) => u.includes("s17")), ["s17"]);
});

Deno.test("shrinkUnits() keeps every unit of a pair that only fails together, in order", () => {
  const units = Array.from({ length: 25 }, (_, i) => `s${i}`);
  const keep = (u: readonly string[]) => u.includes("s3") && u.includes("s21");
  assert.deepEqual(shrinkUnits(units, keep), ["s3", "s21"]);
});

Deno.test("shrinkUnits() respects an order-dependent predicate (a before b)", () => {
  const units = ["x", "a", "y", "b", "a", "z"];
  const keep = (u: readonly string[]) => {
    const i = u.indexOf("a");
    return i >= 0 && u.indexOf("b", i) > i;
  };
  assert.deepEqual(shrinkUnits(units, keep), ["a", "b"]);
});

Deno.test("shrinkUnits() stops after its budget of predicate calls", () => {
  let calls = 0;
  shrinkUnits(Array.from({ length: 100 }, (_, i) => `s${i}`), () => {
    calls++;
    return false;
  }, 10);
  assert.equal(calls, 10);
});
