import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic } from "./gic.ts";

function setup(): Gic {
  const g = new Gic({ version: 3, vcpus: 3, nrIrqs: 64, its: true, v4: true }, new Trace(() => 0));
  g.lpis.idBits = 16;
  g.dist.ctlr = 2;
  for (const rd of g.rds) rd.enableLpis = true;
  const its = g.its!;
  its.enabled = true;
  its.mapd(0x10, 3, 1);
  its.mapc(1, 1, 1);
  its.mapc(2, 2, 1);
  g.lpis.writeConfig(8200, 0xa3);
  its.mapti(0x10, 3, 8200, 1);
  g.v4!.forward(0x10, 3, g.lpis.lpis.get(8200)!);
  return g;
}

Deno.test("Gicv4.pend() injects directly into a resident vPE", () => {
  const g = setup();
  g.its!.translater(0x10, 3);
  const lpi = g.lpis.lpis.get(8200)!;
  assert.equal(lpi.path, "direct");
  assert.equal(g.v4!.vpes[1].pendingLast, false);
});

Deno.test("Gicv4.pend() rings the doorbell of a blocked vPE, and the vLPI is hidden until it is resident", () => {
  const g = setup(), v4 = g.v4!;
  g.cifs[1].pmr = 0xf0;
  g.cifs[1].igrpen1 = 1;
  v4.block(1);
  g.its!.translater(0x10, 3);
  assert.equal(g.lpis.lpis.get(8200)!.path, "doorbell");
  assert.equal(v4.vpes[1].pendingLast, true);
  assert.equal(g.cifs[1].wouldWake(), false);
  assert.equal(g.wouldWake(1), true);
  v4.unblock(1);
  assert.equal(g.cifs[1].read("iar1"), 8200);
});

Deno.test("Gicv4.retarget() follows MOVI, and DISCARD then MAPTI leaves the LPI on software injection", () => {
  const g = setup(), v4 = g.v4!, its = g.its!;
  its.movi(0x10, 3, 2);
  assert.equal(v4.vpes[1].vlpis, 0);
  assert.equal(v4.vpes[2].vlpis, 1);
  its.discard(0x10, 3);
  assert.equal(v4.vpes[2].vlpis, 0);
  its.mapti(0x10, 3, 8200, 2);
  its.translater(0x10, 3);
  const lpi = g.lpis.lpis.get(8200)!;
  assert.equal(lpi.forwarded, false);
  assert.equal(lpi.path, "software");
});

Deno.test("GICv4.1 vSGIs: acknowledged without becoming active, hidden while the vPE is not resident, and the doorbell wakes the vCPU", () => {
  const g = new Gic(
    { version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false, v41: true },
    new Trace(() => 0),
  );
  g.writeDist(0, 0x102, 4); // EnableGrp1 | nASSGIreq from disabled
  assert.equal(g.vsgis, true);
  const bank = g.rds[1].bank, cif = g.cifs[1];
  bank.setEnabled(2, true);
  cif.pmr = 0xf0;
  cif.igrpen1 = 1;
  g.v4!.block(1);
  g.sgi(0, 2n | (2n << 24n), false); // SGI 2, TargetList bit 1: vcpu1
  assert.equal(g.v4!.vpes[1].pendingLast, true);
  assert.equal(cif.hppir(1), 1023); // not resident: not presented
  assert.equal(g.wouldWake(1), true);
  g.v4!.unblock(1);
  assert.equal(cif.read("iar1"), 2);
  assert.equal(bank.active[2], 0);
  assert.equal(bank.latch[2], 0);
  assert.equal(cif.rpr, 0); // the running priority is set all the same
  cif.write("eoir1", 2);
  assert.equal(cif.rpr, 0xff);
});

Deno.test("A GICv4.0 vLPI is gated by ICC_IGRPEN1_EL1 only, not by the emulated GICD_CTLR", () => {
  const g = setup();
  const cif = g.cifs[1];
  cif.pmr = 0xf0;
  cif.igrpen1 = 1;
  g.dist.ctlr = 0;
  g.its!.translater(0x10, 3);
  assert.equal(cif.hppir(1), 8200);
  cif.igrpen1 = 0;
  assert.equal(cif.hppir(1), 1023);
  cif.igrpen1 = 1;
  assert.equal(cif.read("iar1"), 8200);
});

Deno.test("A GICv4.1 vLPI waits for GICD_CTLR.EnableGrp1 (the vPE's vGrp1En)", () => {
  const g = setup();
  g.v4!.v41 = true;
  const cif = g.cifs[1];
  cif.pmr = 0xf0;
  cif.igrpen1 = 1;
  g.dist.ctlr = 0;
  g.its!.translater(0x10, 3);
  assert.equal(cif.hppir(1), 1023);
  g.dist.ctlr = 2;
  assert.equal(cif.read("iar1"), 8200);
});
