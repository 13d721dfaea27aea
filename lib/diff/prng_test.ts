import assert from "node:assert/strict";
import { caseSeed, Prng } from "./prng.ts";

Deno.test("Prng gives the same sequence for the same seed and another for another seed", () => {
  const a = new Prng(7), b = new Prng(7), c = new Prng(8);
  const sa = Array.from({ length: 8 }, () => a.next());
  assert.deepEqual(sa, Array.from({ length: 8 }, () => b.next()));
  assert.notDeepEqual(sa, Array.from({ length: 8 }, () => c.next()));
});

Deno.test("Prng.int() stays within its bounds and reaches both ends", () => {
  const r = new Prng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = r.int(3, 6);
    assert.ok(v >= 3 && v <= 6, `${v} out of 3..6`);
    seen.add(v);
  }
  assert.deepEqual([...seen].sort(), [3, 4, 5, 6]);
});

Deno.test("Prng.weighted() never picks a zero-weight choice", () => {
  const r = new Prng(2);
  for (let i = 0; i < 500; i++) assert.notEqual(r.weighted([[0, "no"], [1, "a"], [3, "b"]]), "no");
});

Deno.test("caseSeed() differs between neighbouring indexes and seeds", () => {
  const seeds = new Set<number>();
  for (let s = 0; s < 20; s++) for (let i = 0; i < 50; i++) seeds.add(caseSeed(s, i));
  assert.equal(seeds.size, 1000);
});
