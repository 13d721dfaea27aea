import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic, ITS_DOORBELL } from "./gic.ts";

Deno.test("Gic.sgi() matches Aff1 and RS*16 + TargetList bits, ignoring bits with no vCPU", () => {
  const g = new Gic(
    { version: 3, vcpus: 20, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  const v = 0b1000_0101n | (1n << 16n) | (1n << 24n);
  assert.deepEqual(g.sgi(0, v, false), [16, 18]);
  assert.deepEqual(g.sgi(3, (2n << 24n) | (1n << 40n), false).length, 19);
});

Deno.test("Gic.sgi() from ICC_SGI0R_EL1 raises only Group 0 SGIs", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.deepEqual(g.sgi(0, 1n | (3n << 24n), true), []);
  g.rds[0].bank.group[3] = 0;
  assert.deepEqual(g.sgi(0, 1n | (3n << 24n), true), [0]);
});

Deno.test("Gic.signalMsi() returns 1, 0 on a translation miss, -EINVAL without a DeviceID", () => {
  const g = new Gic({ version: 3, vcpus: 1, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  g.lpis.idBits = 16;
  g.rds[0].enableLpis = true;
  const its = g.its!;
  its.enabled = true;
  its.mapd(2, 7, 1);
  its.mapc(0, 0, 1);
  its.mapti(2, 20, 8195, 0);
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 1, 2), 1);
  assert.equal(g.signalMsi(ITS_DOORBELL, 21, 1, 2), 0);
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 0, 2), -22);
  assert.equal(g.signalMsi(0xfee00000, 20, 1, 2), -22);
});
