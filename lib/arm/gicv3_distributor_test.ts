import assert from "node:assert/strict";
import { Distributor, GicdOffset } from "./gicv3_distributor.ts";
import { BankOffset } from "./irq_state.ts";

const resolve = (aff: number) => (aff < 4 ? aff : -1);

Deno.test("Distributor.write() IROUTER keeps Aff2.Aff1.Aff0 and drops IRM", () => {
  const d = new Distributor({ version: 3, nrIrqs: 64, vcpus: 4, resolve });
  d.write(GicdOffset.IROUTER + 8 * 40, 0x8000_0002, 4);
  assert.equal(d.read(GicdOffset.IROUTER + 8 * 40, 4), 2);
  assert.equal(d.targetVcpu[40], 2);
  d.write(GicdOffset.IROUTER + 8 * 40, 9, 4);
  assert.equal(d.targetVcpu[40], -1);
});

Deno.test("Distributor.write() ITARGETSR sends to the lowest target, vCPU0 when empty", () => {
  const d = new Distributor({ version: 2, nrIrqs: 64, vcpus: 4, resolve });
  d.write(BankOffset.ITARGETSR + 40, 0x0c, 1);
  assert.equal(d.targetVcpu[40], 2);
  d.write(BankOffset.ITARGETSR + 40, 0x30, 1);
  assert.equal(d.targets[40], 0);
  assert.equal(d.targetVcpu[40], 0);
});

Deno.test("Distributor.read() GICv3 CTLR reports ARE and DS, and SGI/PPI banks read as zero", () => {
  const d = new Distributor({ version: 3, nrIrqs: 64, vcpus: 1, resolve });
  d.write(GicdOffset.CTLR, 2, 4);
  assert.equal(d.read(GicdOffset.CTLR), 0x52);
  d.write(BankOffset.ISENABLER, 0xffffffff, 4);
  assert.equal(d.read(BankOffset.ISENABLER), 0);
  assert.equal(d.read(BankOffset.ICFGR + 8), 0xaaaaaaaa);
  assert.equal(d.spis.group[40], 1);
});
