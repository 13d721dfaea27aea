import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic } from "./gic.ts";
import { GicdOffset } from "./gicv3_distributor.ts";
import { BankOffset } from "./irq_state.ts";
import {
  GiccOffset,
  gicv2CpuUaccess,
  gicv2DistUaccess,
  gicv2ReadCpu,
  gicv2ReadDist,
  gicv2WriteCpu,
  gicv2WriteDist,
  gicv2WriteSgir,
} from "./gicv2.ts";

function gic2(vcpus: number): Gic {
  const g = new Gic({ version: 2, vcpus, nrIrqs: 64, its: false, v4: false }, new Trace(() => 0));
  for (let c = 0; c < vcpus; c++) {
    gicv2WriteDist(g, c, GicdOffset.CTLR, 1, 4);
    gicv2WriteCpu(g, c, GiccOffset.CTLR, 1);
    gicv2WriteCpu(g, c, GiccOffset.PMR, 0xf0);
  }
  return g;
}

Deno.test("gicv2WriteSgir() to self is acknowledged with the source in GICC_IAR[12:10]", () => {
  const g = gic2(2);
  assert.deepEqual(gicv2WriteSgir(g, 1, (2 << 24) | 1), [1]);
  assert.equal(gicv2ReadCpu(g, 1, GiccOffset.IAR), 0x401);
  assert.equal(gicv2ReadCpu(g, 0, GiccOffset.IAR), 1023);
});

Deno.test("gicv2WriteSgir() masks the target list to online vCPUs and drops filter 3", () => {
  const g = gic2(3);
  assert.deepEqual(gicv2WriteSgir(g, 0, (0x0a << 16) | 5), [1]);
  assert.deepEqual(gicv2WriteSgir(g, 0, (3 << 24) | (0xff << 16) | 5), []);
  assert.deepEqual(gicv2WriteSgir(g, 0, (1 << 24) | 6), [1, 2]);
});

Deno.test("gicv2WriteDist() SPENDSGIR/CPENDSGIR set and clear per-source pending", () => {
  const g = gic2(1);
  gicv2WriteDist(g, 0, GicdOffset.SPENDSGIR + 5, 0x05, 1);
  gicv2WriteDist(g, 0, GicdOffset.CPENDSGIR + 5, 0x01, 1);
  assert.equal(gicv2ReadDist(g, 0, GicdOffset.SPENDSGIR + 4, 4), 0x0400);
  gicv2WriteDist(g, 0, GicdOffset.CPENDSGIR + 5, 0x04, 1);
  assert.equal(g.rds[0].bank.isPending(5), false);
});

Deno.test("gicv2ReadDist() ITARGETSR bytes below 32 read as the accessing CPU", () => {
  const g = gic2(2);
  assert.equal(gicv2ReadDist(g, 1, BankOffset.ITARGETSR, 4), 0x02020202);
  assert.equal(gicv2WriteDist(g, 1, BankOffset.ITARGETSR, 0xff, 1), false);
});

Deno.test("gicv2DistUaccess(): ISPENDR restores an SPI's latch and an SGI with the accessing vCPU as source; ICPENDR undoes both", () => {
  const g = gic2(2);
  assert.equal(gicv2DistUaccess(g, 1, BankOffset.ISPENDR, 1 << 5), 0);
  assert.equal(gicv2ReadDist(g, 1, GicdOffset.SPENDSGIR + 4, 4) & 0xff00, 0x0200); // SGI5 from CPU1
  assert.equal(gicv2DistUaccess(g, 0, BankOffset.ISPENDR + 4, 1 << 8), 0); // SPI 40
  assert.equal(g.dist.spis.latch[40], 1);
  assert.equal(gicv2DistUaccess(g, 0, BankOffset.ISPENDR + 4, 0), 0); // a clear bit leaves it
  assert.equal(g.dist.spis.latch[40], 1);
  assert.equal(gicv2DistUaccess(g, 0, BankOffset.ICPENDR + 4, 1 << 8), 0);
  assert.equal(g.dist.spis.latch[40], 0);
  assert.equal(gicv2DistUaccess(g, 1, BankOffset.ICPENDR, 1 << 5), 0);
  assert.equal(gicv2ReadDist(g, 1, GicdOffset.SPENDSGIR + 4, 4), 0);
});

Deno.test("gicv2DistUaccess(): -EINVAL for a vCPU that does not exist, -ENXIO unaligned or past nr_irqs, TYPER writes ignored", () => {
  const g = gic2(2);
  assert.equal(gicv2DistUaccess(g, 2, GicdOffset.CTLR), -22);
  assert.equal(gicv2DistUaccess(g, 0, 0x102), -6);
  assert.equal(gicv2DistUaccess(g, 0, BankOffset.ISENABLER + 8), -6); // INTIDs 64..95 of 64
  assert.equal(gicv2DistUaccess(g, 0, BankOffset.ICFGR + 0x10), -6); // ICFGR4: INTIDs 64..79
  assert.equal(gicv2DistUaccess(g, 0, 0x10), -6); // no register there
  const typer = gicv2DistUaccess(g, 0, GicdOffset.TYPER);
  assert.equal(gicv2DistUaccess(g, 0, GicdOffset.TYPER, 0), 0);
  assert.equal(gicv2DistUaccess(g, 0, GicdOffset.TYPER), typer);
});

Deno.test("gicv2CpuUaccess(): PMR as VMPriMask both ways, APR0 is the active-priority word, IAR and EOIR are not in the group", () => {
  const g = gic2(1);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.PMR), 0x1e); // gic2() set priority 0xf0
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.PMR, 0x10), 0);
  assert.equal(gicv2ReadCpu(g, 0, GiccOffset.PMR), 0x80);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.APR0, 1 << 4), 0);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.APR0), 1 << 4);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.APR0 + 4, 1), 0);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.APR0 + 4), 0);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.IAR), -6);
  assert.equal(gicv2CpuUaccess(g, 0, GiccOffset.EOIR, 0), -6);
  assert.equal(gicv2CpuUaccess(g, 1, GiccOffset.CTLR), -22);
});
