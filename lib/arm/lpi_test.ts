import assert from "node:assert/strict";
import { LpiTable } from "./lpi.ts";

Deno.test("LpiTable.map() reads the configuration byte once; changes need sync()", () => {
  const t = new LpiTable();
  t.writeConfig(8300, 0xa3);
  const lpi = t.map(8300);
  assert.equal(lpi.priority, 0xa0);
  assert.equal(lpi.enabled, true);
  t.writeConfig(8300, 0x57);
  assert.equal(lpi.priority, 0xa0);
  t.sync(lpi);
  assert.equal(lpi.priority, 0x54);
  assert.equal(lpi.enabled, true);
});

Deno.test("LpiTable.unmap() drops the LPI and its pending state with the last ITE", () => {
  const t = new LpiTable();
  const a = t.map(8192);
  t.map(8192);
  a.pending = true;
  t.unmap(a);
  assert.equal(t.lpis.has(8192), true);
  t.unmap(a);
  assert.equal(t.lpis.has(8192), false);
  assert.equal(a.pending, false);
  assert.deepEqual(t.list, []);
});

Deno.test("LpiTable.pendingCount follows every change of an LPI's pending state, unmap included", () => {
  const t = new LpiTable();
  const a = t.map(8192), b = t.map(8193);
  const recount = () => t.list.filter((l) => l.pending).length;
  assert.equal(t.pendingCount, 0);
  a.pending = true;
  assert.equal(t.pendingCount, 1);
  a.pending = true; // pending twice is pending once
  b.pending = true;
  assert.equal(t.pendingCount, 2);
  b.pending = false;
  b.pending = false;
  assert.equal(t.pendingCount, 1);
  assert.equal(t.pendingCount, recount());
  t.unmap(a); // the last ITE: the LPI and its pending state go
  assert.equal(t.pendingCount, 0);
  assert.equal(t.pendingCount, recount());
});
