import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic } from "./gic.ts";
import { EBUSY, ItsError } from "./its.ts";

function setup(vcpus = 2): Gic {
  const g = new Gic({ version: 3, vcpus, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  g.lpis.idBits = 16;
  for (const rd of g.rds) rd.enableLpis = true;
  g.its!.enabled = true;
  return g;
}

Deno.test("Its.movi() moves a pending LPI to the new collection's redistributor", () => {
  const g = setup(), its = g.its!;
  its.command({ op: "MAPD", device: 0x10, size: 3, valid: 1 });
  its.command({ op: "MAPC", collection: 0, target: 0, valid: 1 });
  its.command({ op: "MAPC", collection: 1, target: 1, valid: 1 });
  its.command({ op: "MAPTI", device: 0x10, event: 3, lpi: 8192, collection: 0 });
  assert.equal(its.translater(0x10, 3), 0);
  assert.deepEqual(g.pendingOf(0), [8192]);
  assert.equal(its.command({ op: "MOVI", device: 0x10, event: 3, collection: 1 }), 0);
  assert.deepEqual(g.pendingOf(0), []);
  assert.deepEqual(g.pendingOf(1), [8192]);
});

Deno.test("Its.mapti() returns KVM's codes for a missing device, EventID and pINTID range", () => {
  const g = setup(), its = g.its!;
  g.lpis.idBits = 14;
  its.command({ op: "MAPD", device: 5, size: 3, valid: 1 });
  assert.equal(its.mapti(6, 0, 8300, 0), ItsError.MAPTI_UNMAPPED_DEVICE);
  assert.equal(its.mapti(5, 16, 8300, 0), ItsError.MAPTI_ID_OOR);
  assert.equal(its.mapti(5, 15, 8191, 0), ItsError.MAPTI_PHYSICALID_OOR);
  assert.equal(its.mapti(5, 15, 16384, 0), ItsError.MAPTI_PHYSICALID_OOR);
  assert.equal(its.mapti(5, 15, 8300, 0), 0);
  assert.equal(its.collectionTarget(0), -1);
});

Deno.test("Its.mapc() with V=0 orphans ITEs so a new MAPC does not revive them", () => {
  const g = setup(), its = g.its!;
  its.mapd(1, 3, 1);
  its.mapc(0, 1, 1);
  its.mapti(1, 0, 8192, 0);
  its.mapc(0, 0, 0);
  its.mapc(0, 1, 1);
  assert.equal(its.findIte(1, 0)!.icid, -1);
  assert.deepEqual(its.translate(1, 0), { error: ItsError.INT_UNMAPPED_INTERRUPT });
});

Deno.test("Its.command() queues while disabled and runs on enable, advancing CREADR by 32", () => {
  const g = setup(), its = g.its!;
  its.enabled = false;
  assert.equal(its.command({ op: "MAPD", device: 1, size: 0, valid: 1 }), null);
  assert.equal(its.creadr, 0);
  assert.equal(its.cwriter, 32);
  assert.equal(its.quiescent, false);
  its.enabled = true;
  assert.equal(its.creadr, 32);
  assert.equal(its.devices.has(1), true);
});

Deno.test("Its.translate() reports -EBUSY when the target's LPIs are disabled", () => {
  const g = setup(), its = g.its!;
  its.mapd(1, 3, 1);
  its.mapc(0, 1, 1);
  its.mapti(1, 0, 8192, 0);
  g.rds[1].enableLpis = false;
  assert.deepEqual(its.translate(1, 0), { error: -EBUSY });
});

Deno.test("Its.discard() clears pending and needs a mapped collection", () => {
  const g = setup(), its = g.its!;
  its.mapd(2, 7, 1);
  its.mapc(3, 1, 1);
  its.mapti(2, 20, 8195, 3);
  its.mapti(2, 21, 8197, 5);
  its.int(2, 20);
  assert.equal(its.discard(2, 20), 0);
  assert.equal(g.lpis.lpis.has(8195), false);
  assert.equal(its.discard(2, 20), ItsError.DISCARD_UNMAPPED_INTERRUPT);
  assert.equal(its.discard(2, 21), ItsError.DISCARD_UNMAPPED_INTERRUPT);
});
