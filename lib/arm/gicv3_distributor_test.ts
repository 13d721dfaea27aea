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

Deno.test("Distributor.typer: ITLinesNumber, IDbits and LPIS for GICv3; CPUNumber for GICv2", () => {
  const v3 = new Distributor({ version: 3, nrIrqs: 256, vcpus: 4, resolve });
  assert.equal(v3.read(GicdOffset.TYPER), 7 | (9 << 19));
  v3.lpis = true;
  assert.equal(v3.read(GicdOffset.TYPER), 7 | (15 << 19) | (1 << 17));
  const v2 = new Distributor({ version: 2, nrIrqs: 64, vcpus: 3, resolve });
  assert.equal(v2.read(GicdOffset.TYPER), 1 | (2 << 5));
  assert.equal(v3.read(GicdOffset.IIDR), 0x4b00343b);
  assert.equal(v3.read(GicdOffset.PIDR2), 0x3b);
});

Deno.test("Distributor SPI banks: set/clear pending and active, byte priorities, reset edge", () => {
  const d = new Distributor({ version: 3, nrIrqs: 64, vcpus: 1, resolve });
  d.write(BankOffset.ISPENDR + 4, 1 << 8, 4); // SPI 40
  d.write(BankOffset.ISACTIVER + 4, 1 << 9, 4); // SPI 41
  assert.equal(d.read(BankOffset.ICPENDR + 4), 1 << 8);
  assert.equal(d.spis.state(40), "pending");
  assert.equal(d.spis.state(41), "active");
  d.write(BankOffset.ICPENDR + 4, 1 << 8, 4);
  d.write(BankOffset.ICACTIVER + 4, 1 << 9, 4);
  assert.equal(d.read(BankOffset.ISPENDR + 4), 0);
  assert.equal(d.read(BankOffset.ISACTIVER + 4), 0);
  d.write(BankOffset.IPRIORITYR + 41, 0xa7, 1);
  assert.equal(d.read(BankOffset.IPRIORITYR + 40, 4), 0xa000);
  assert.equal(d.priorityOf(41), 0xa0);
  assert.equal(d.read(BankOffset.ICFGR + 8), 0xaaaaaaaa); // KVM resets SPIs to edge
  assert.equal(d.targetVcpu[40], 0);
});

Deno.test("Distributor IROUTER ignores the upper word and INTIDs below 32 or past nr_irqs", () => {
  const d = new Distributor({ version: 3, nrIrqs: 64, vcpus: 4, resolve });
  assert.equal(d.write(GicdOffset.IROUTER + 8 * 40 + 4, 0xff, 4), true);
  assert.equal(d.read(GicdOffset.IROUTER + 8 * 40 + 4, 4), 0);
  assert.equal(d.write(GicdOffset.IROUTER + 8 * 20, 1, 4), false);
  assert.equal(d.write(GicdOffset.IROUTER + 8 * 64, 1, 4), false);
  d.write(GicdOffset.IROUTER + 8 * 63, 0x1_0000_0003n, 8);
  assert.equal(d.read(GicdOffset.IROUTER + 8 * 63, 8), 3n);
  assert.equal(d.targetVcpu[63], 3);
});
