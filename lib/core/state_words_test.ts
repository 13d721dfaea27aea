import assert from "node:assert/strict";
import { maskedWords, maskedWordsSize } from "./state_words.ts";

Deno.test("maskedWords writes a mask per 32 elements, then the elements that are not 0", () => {
  const a = new Uint32Array(40);
  a[0] = 5;
  a[31] = 0xffffffff;
  a[39] = 9;
  const w = new Int32Array(maskedWordsSize(a.length));
  const k = maskedWords(w, 0, a);
  assert.deepEqual([...w.subarray(0, k)], [(1 << 0) | (1 << 31), 5, -1, 1 << 7, 9]);
  // Every element counts: one changed, the words change.
  a[39] = 8;
  const v = new Int32Array(w.length);
  assert.notDeepEqual([...v.subarray(0, maskedWords(v, 0, a))], [...w.subarray(0, k)]);
  assert.equal(maskedWords(w, 3, new Uint32Array(0)), 3);
});
