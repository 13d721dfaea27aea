import { stateHashRecord } from "../core/state_hash_record.ts";
import assert from "node:assert/strict";
import {
  PMCEID,
  PmcrBits,
  PMEVTYPER_P,
  PMEVTYPER_U,
  Pmu,
  PMU_CYCLE_IDX,
  PMU_NR_EVENTS,
  PmuEvent,
} from "./pmu.ts";

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

Deno.test("Pmu: the cycle counter counts retired cycles with PMCNTENSET bit 31, C resets it, it overflows at 64 bits into PMOVSSET bit 31", () => {
  const { p, levels } = pmu();
  p.retire(5);
  assert.equal(p.ccntr, 0n); // PMCR_EL0.E clear
  p.write("pmcr", PmcrBits.E);
  p.retire(5);
  assert.equal(p.ccntr, 0n); // PMCNTENSET bit 31 clear
  p.write("pmcntenset", 0x8000_0000);
  assert.equal(p.cnten, 0x8000_0000);
  p.retire(5);
  assert.equal(p.ccntr, 5n);
  p.write("pmccfiltr", PMEVTYPER_P); // not at EL1, where the guest runs
  p.retire(5);
  assert.equal(p.ccntr, 5n);
  p.write("pmccfiltr", 0);
  p.writeCounter(PMU_CYCLE_IDX, 0xffff_ffffn);
  p.retire(1);
  assert.equal(p.ccntr, 0x1_0000_0000n); // LC: no 32-bit overflow
  assert.equal(p.ovs, 0);
  p.writeCounter(PMU_CYCLE_IDX, (1n << 64n) - 2n);
  p.write("pmintenset", 0x8000_0000);
  p.retire(3);
  assert.equal(p.ccntr, 1n);
  assert.equal(p.ovs, 0x8000_0000);
  assert.deepEqual(levels, [true]);
  p.write("pmcr", PmcrBits.E | PmcrBits.C);
  assert.equal(p.ccntr, 0n);
  assert.equal(p.read("pmcr") & (PmcrBits.C | PmcrBits.P), 0);
});

Deno.test("Pmu: INST_RETIRED and CPU_CYCLES count retired instructions unless PMEVTYPER.P excludes EL1; SW_INCR ignores the filter", () => {
  const { p } = pmu();
  p.writeEvtyper(0, PmuEvent.INST_RETIRED | PMEVTYPER_U);
  p.writeEvtyper(1, PmuEvent.CPU_CYCLES | PMEVTYPER_P);
  p.writeEvtyper(2, PmuEvent.SW_INCR | PMEVTYPER_P);
  p.write("pmcntenset", 0b111);
  p.write("pmcr", PmcrBits.E);
  p.retire(20);
  p.write("pmswinc", 0b100);
  assert.deepEqual(p.counter.slice(0, 3), [20n, 0n, 1n]);
});

Deno.test("Pmu: PMCR_EL0.N limits the bit masks to counters 0..N-1 and 31; PMSELR keeps SEL; PMEVTYPER keeps P, U and evtCount", () => {
  const { p } = pmu();
  p.write("pmintenset", 0xffff_ffff);
  assert.equal(p.inten, 0x8000_003f);
  p.nr = 2;
  assert.equal(p.inten, 0x8000_0003);
  assert.equal((p.read("pmcr") >>> PmcrBits.N_SHIFT) & PmcrBits.N_MASK, 2);
  assert.equal(p.counterValid(1), true);
  assert.equal(p.counterValid(2), false);
  assert.equal(p.counterValid(PMU_CYCLE_IDX), true);
  p.write("pmselr", 0xffff_ffe3);
  assert.equal(p.read("pmselr"), 3);
  p.writeEvtyper(0, 0xffff_ffff);
  assert.equal(p.readEvtyper(0), 0xc000_ffff);
  p.writeEvtyper(PMU_CYCLE_IDX, 0xffff_ffff);
  assert.equal(p.read("pmccfiltr"), 0xc000_0000);
  p.setMaskUser("pmovsset", 0xffff_ffff);
  assert.equal(p.ovs, 0x8000_0003);
});

Deno.test("Pmu: KVM_SET_ONE_REG of PMCR_EL0 takes N only when allowed and never more than the host's", () => {
  const { p } = pmu();
  p.setPmcrUser(3 << PmcrBits.N_SHIFT, true);
  assert.equal(p.nr, 3);
  p.setPmcrUser(9 << PmcrBits.N_SHIFT, true);
  assert.equal(p.nr, 3);
  p.setPmcrUser(1 << PmcrBits.N_SHIFT, false);
  assert.equal(p.nr, 3);
  assert.equal(PMCEID[0] & (1 << PmuEvent.CPU_CYCLES), 1 << PmuEvent.CPU_CYCLES);
  assert.equal(
    PMCEID[1],
    (1 << (PmuEvent.STALL_FRONTEND - 32)) | (1 << (PmuEvent.STALL_BACKEND - 32)),
  );
});

Deno.test("Pmu.hashPrivate tells apart states that differ only in N, PMSELR, PMCCFILTR or the cycle counter", () => {
  const hashOf = (p: Pmu) => stateHashRecord((h) => p.hashPrivate(h));
  const base = hashOf(pmu().p);
  const changed = [
    (p: Pmu) => (p.nr = 2),
    (p: Pmu) => p.write("pmselr", 3),
    (p: Pmu) => p.write("pmccfiltr", PMEVTYPER_P),
    (p: Pmu) => p.writeCounter(PMU_CYCLE_IDX, 1n << 40n),
  ].map((f) => {
    const { p } = pmu();
    f(p);
    return hashOf(p);
  });
  for (const h of changed) assert.notEqual(h, base);
  assert.equal(new Set(changed).size, changed.length);
});

Deno.test("Pmu.reset: KVM's reset values (reset_pmcr, reset_pmu_reg, reset_pmevcntr, reset_pmevtyper, reset_pmselr), N kept", () => {
  const { p, levels } = pmu();
  p.nr = 2;
  p.write("pmcr", PmcrBits.E);
  p.write("pmintenset", 1);
  p.write("pmovsset", 1);
  assert.deepEqual(levels, [true]);
  p.reset();
  assert.deepEqual(levels, [true, false]); // E clear: the line drops
  assert.equal(p.pmcr, 0x4100_1040); // IMP, N 2, LC
  assert.equal(p.read("pmcntenset"), 0x8000_0002); // 0xdbadc0de & 0x80000003
  assert.equal(p.read("pmintenset"), 0x8000_0002);
  assert.equal(p.read("pmovsset"), 0x8000_0002);
  assert.equal(p.readCounter(0), 0xdbad_c0den);
  assert.equal(p.readEvtyper(1), 0xc000_c0de);
  assert.equal(p.read("pmselr"), 0x1e);
  assert.equal(p.readCounter(PMU_CYCLE_IDX), 0x1de7_ec7e_dbad_c0den);
  assert.equal(p.read("pmccfiltr"), 0);
  assert.equal(p.nr, 2);
});

Deno.test("Pmu.filter: a denied event does not count (the cycle counter is CPU_CYCLES'), SW_INCR does, PMCEID hides it", () => {
  const { p } = pmu();
  const f = new Uint8Array(PMU_NR_EVENTS >> 3).fill(0xff);
  f[PmuEvent.INST_RETIRED >> 3] &= ~(1 << (PmuEvent.INST_RETIRED & 7));
  f[PmuEvent.CPU_CYCLES >> 3] &= ~(1 << (PmuEvent.CPU_CYCLES & 7));
  p.filter = f;
  p.writeEvtyper(0, PmuEvent.INST_RETIRED);
  p.writeEvtyper(1, PmuEvent.SW_INCR);
  p.writeEvtyper(2, PmuEvent.MEM_ACCESS);
  p.write("pmcntenset", 0x8000_0007);
  p.write("pmcr", PmcrBits.E);
  p.retire(5);
  p.count(0b100, PmuEvent.MEM_ACCESS);
  p.write("pmswinc", 0b10);
  assert.equal(p.counter[0], 0n);
  assert.equal(p.counter[1], 1n);
  assert.equal(p.counter[2], 1n);
  assert.equal(p.ccntr, 0n);
  assert.equal(p.read("pmceid0"), (PMCEID[0] & ~0x2_0100) >>> 0);
  assert.equal(p.read("pmceid1"), PMCEID[1]);
});
