import assert from "node:assert/strict";
import { stateHashRecord } from "./state_hash_record.ts";

Deno.test("stateHashRecord keeps what the hash keeps: n's low 32 bits, every value in order", () => {
  assert.equal(stateHashRecord((h) => h.n(0x1_0000_0001)), stateHashRecord((h) => h.n(1)));
  assert.notEqual(stateHashRecord((h) => h.big(1n << 40n)), stateHashRecord((h) => h.big(0n)));
  assert.notEqual(
    stateHashRecord((h) => h.block(Int32Array.of(1, 2, 3), 2)),
    stateHashRecord((h) => h.block(Int32Array.of(1, 2, 4), 3)),
  );
  assert.equal(
    stateHashRecord((h) => h.fixed({ a: 5 }, (g, o) => g.n(o.a))),
    stateHashRecord((h) => h.n(5)),
  );
  assert.notEqual(
    stateHashRecord((h) => h.value({ x: 1n })),
    stateHashRecord((h) => h.value({ x: 1 })),
  );
});
