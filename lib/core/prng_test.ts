import assert from "node:assert/strict";
import { deriveSeed, Prng } from "./prng.ts";

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

Deno.test("deriveSeed() differs between neighbouring indexes and seeds", () => {
  const seeds = new Set<number>();
  for (let s = 0; s < 20; s++) for (let i = 0; i < 50; i++) seeds.add(deriveSeed(s, i));
  assert.equal(seeds.size, 1000);
});

Deno.test("Prng.below(), pick() and shuffled() stay within their list", () => {
  const r = new Prng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(r.below(5));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  assert.equal(r.below(0), 0);
  const xs = [1, 2, 3, 4, 5, 6, 7, 8];
  const s = r.shuffled(xs);
  assert.deepEqual([...s].sort(), xs);
  assert.deepEqual(new Prng(9).shuffled(xs), new Prng(9).shuffled(xs));
});
