import assert from "node:assert/strict";
import { arenaI32, arenaU32, arenaU8, arrayOf } from "./arena.ts";

Deno.test("arenaU32() hands out zeroed arrays that never overlap", () => {
  const a = arenaU32(8);
  const b = arenaU32(8);
  a.fill(0xffff_ffff);
  assert.deepEqual([...b], new Array(8).fill(0));
  b[7] = 1;
  assert.equal(a[7], 0xffff_ffff);
});

Deno.test("arenaU8() keeps later views 8-byte aligned after an odd length", () => {
  arenaU8(3);
  const w = arenaU32(2);
  assert.equal(w.byteOffset % 8, 0);
  assert.equal(w.length, 2);
});

Deno.test("arenaI32() starts a new slab when one is full, still zeroed", () => {
  // 20 requests of 4 KiB are more than one 64 KiB slab.
  const views = Array.from({ length: 20 }, () => arenaI32(1024));
  assert.ok(new Set(views.map((v) => v.buffer)).size > 1);
  for (const v of views) assert.ok(v.every((x) => x === 0));
});

Deno.test("arenaU32() gives a request above 4 KiB a buffer of its own", () => {
  const big = arenaU32(2048);
  assert.equal(big.byteOffset, 0);
  assert.equal(big.buffer.byteLength, 8192);
});

Deno.test("arrayOf builds what Array.from builds, element i being make(i)", () => {
  const made = arrayOf(4, (i) => ({ i }));
  assert.deepEqual(made, Array.from({ length: 4 }, (_, i) => ({ i })));
  assert.deepEqual(arrayOf(0, () => 1), []);
  // Each element is its own object, not one shared.
  assert.notEqual(made[0], made[1]);
});
