import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic } from "./gic.ts";
import { GicdOffset } from "./gicv3_distributor.ts";
import { BankOffset } from "./irq_state.ts";
import {
  GiccOffset,
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
