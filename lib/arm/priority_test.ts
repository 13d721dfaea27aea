import assert from "node:assert/strict";
import { aprBit, clampBpr, groupPriority, runningPriority } from "./priority.ts";

Deno.test("groupPriority() gives BPR1 one more bit than BPR0 for the same value", () => {
  assert.equal(groupPriority(0xa8, 2, 0), 0xa8);
  assert.equal(groupPriority(0xa8, 3, 0), 0xa0);
  assert.equal(groupPriority(0xa8, 3, 1), 0xa8);
  assert.equal(groupPriority(0xa8, 4, 1), 0xa0);
  assert.equal(groupPriority(0xff, 7, 0), 0);
});

Deno.test("runningPriority() is the lowest set APR bit of either group, 0xff when idle", () => {
  assert.equal(runningPriority(0, 0), 0xff);
  assert.equal(runningPriority(0, (1 << 16) | (1 << 8)), 0x40);
  assert.equal(runningPriority(1 << 2, 1 << 16), 0x10);
  assert.equal(aprBit(0x80), 16);
});

Deno.test("clampBpr() raises writes below the minimum (BPR0 2, BPR1 3)", () => {
  assert.equal(clampBpr(0, 0), 2);
  assert.equal(clampBpr(0, 1), 3);
  assert.equal(clampBpr(5, 1), 5);
});
