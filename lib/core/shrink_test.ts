import assert from "node:assert/strict";
import { shrinkList } from "./shrink.ts";

Deno.test("shrinkList() keeps only what the predicate needs when one item matters", () => {
  const units = Array.from({ length: 40 }, (_, i) => `s${i}`);
  assert.deepEqual(shrinkList(units, (u) => u.includes("s17")), ["s17"]);
});

Deno.test("shrinkList() keeps every item of a pair that only fails together, in order", () => {
  const units = Array.from({ length: 25 }, (_, i) => `s${i}`);
  const keep = (u: readonly string[]) => u.includes("s3") && u.includes("s21");
  assert.deepEqual(shrinkList(units, keep), ["s3", "s21"]);
});

Deno.test("shrinkList() respects an order-dependent predicate (a before b)", () => {
  const units = ["x", "a", "y", "b", "a", "z"];
  const keep = (u: readonly string[]) => {
    const i = u.indexOf("a");
    return i >= 0 && u.indexOf("b", i) > i;
  };
  assert.deepEqual(shrinkList(units, keep), ["a", "b"]);
});

Deno.test("shrinkList() never drops an item that is not removable, nor asks about it", () => {
  const asked: string[][] = [];
  const out = shrinkList(["meta", "a", "b", "meta2"], (u) => {
    asked.push([...u]);
    return true;
  }, { removable: (x) => !x.startsWith("meta") });
  assert.deepEqual(out, ["meta", "meta2"]);
  for (const u of asked) assert.ok(u.includes("meta") && u.includes("meta2"), u.join(" "));
});

Deno.test("shrinkList() is 1-minimal: no single item of its result can be dropped", () => {
  // Holds when at least three of the multiples of 7 are kept.
  const items = Array.from({ length: 60 }, (_, i) => i);
  const keep = (u: readonly number[]) => u.filter((x) => x % 7 === 0).length >= 3;
  const out = shrinkList(items, keep);
  assert.equal(out.length, 3);
  for (let i = 0; i < out.length; i++) assert.equal(keep(out.filter((_, j) => j !== i)), false);
});

Deno.test("shrinkList() stops after its budget of predicate calls", () => {
  let calls = 0;
  shrinkList(Array.from({ length: 100 }, (_, i) => `s${i}`), () => {
    calls++;
    return false;
  }, { budget: 10 });
  assert.equal(calls, 10);
});
