import assert from "node:assert/strict";
import { PmcrBits, Pmu, PmuEvent } from "./pmu.ts";

function pmu() {
  const levels: boolean[] = [];
  return { p: new Pmu((l) => levels.push(l)), levels };
}

Deno.test("Pmu: SW_INCR counts only with PMCR_EL0.E and PMCNTENSET, and a 32-bit wrap sets PMOVSSET and chains", () => {
  const { p } = pmu();
  p.writeEvtyper(0, PmuEvent.SW_INCR);
  p.writeEvtyper(1, PmuEvent.CHAIN);
  p.writeCounter(0, 0xffff_ffffn);
  p.write("pmswinc", 1);
  assert.equal(p.counter[0], 0xffff_ffffn); // PMCR_EL0.E clear
  p.write("pmcr", PmcrBits.E);
  p.write("pmswinc", 1);
  assert.equal(p.counter[0], 0xffff_ffffn); // PMCNTENSET clear
  p.write("pmcntenset", 0b11);
  p.write("pmswinc", 1);
  assert.equal(p.counter[0], 0x1_0000_0000n);
  assert.equal(p.ovs, 1);
  assert.equal(p.counter[1], 1n);
});

Deno.test("Pmu: the overflow interrupt is PMCR_EL0.E && PMOVSSET & PMINTENSET", () => {
  const { p, levels } = pmu();
  p.write("pmovsset", 0b10);
  p.write("pmintenset", 0b10);
  assert.deepEqual(levels, []);
  p.write("pmcr", PmcrBits.E);
  assert.deepEqual(levels, [true]);
  p.write("pmovsclr", 0xffff_ffff);
  assert.deepEqual(levels, [true, false]);
  assert.equal(p.read("pmovsset"), 0);
});

Deno.test("Pmu: PMCR_EL0.LP moves the overflow to 64 bits and stops CHAIN", () => {
  const { p } = pmu();
  p.writeEvtyper(0, PmuEvent.MEM_ACCESS);
  p.writeEvtyper(1, PmuEvent.CHAIN);
  p.write("pmcntenset", 0b11);
  p.write("pmcr", PmcrBits.E | PmcrBits.LP);
  p.writeCounter(0, 0xffff_ffffn);
  p.count(0b11, PmuEvent.MEM_ACCESS);
  assert.equal(p.ovs, 0);
  assert.equal(p.counter[1], 0n);
  p.writeCounter(0, (1n << 64n) - 1n);
  p.count(0b11, PmuEvent.MEM_ACCESS);
  assert.equal(p.counter[0], 0n);
  assert.equal(p.ovs, 1);
  assert.equal(p.read("pmcr") & 0xff, PmcrBits.E | PmcrBits.LC | PmcrBits.LP);
});
