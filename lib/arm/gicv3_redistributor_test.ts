import assert from "node:assert/strict";
import { GICR_CTLR_CES_IR, GicrOffset, kvmMpidr, Redistributor } from "./gicv3_redistributor.ts";

Deno.test("Redistributor.typer has Processor_Number = vcpu_id, Last, PLPIS and the affinity", () => {
  const rd = new Redistributor(18, { last: true, lpis: true });
  assert.equal(rd.typer, (0x102n << 32n) | 0x1211n);
  assert.equal(kvmMpidr(18), 0x102);
});

Deno.test("Redistributor.write() ignores PROPBASER once EnableLPIs is set", () => {
  const rd = new Redistributor(0, { last: true, lpis: true });
  assert.equal(rd.write(GicrOffset.PROPBASER, 15n, 8), true);
  rd.write(GicrOffset.CTLR, 1, 4);
  assert.equal(rd.write(GicrOffset.PROPBASER, 13n, 8), false);
  assert.equal(rd.propbaser, 15n);
});

Deno.test("Redistributor resets SGIs enabled and edge, PPIs disabled and level, all Group 1", () => {
  const rd = new Redistributor(0, { last: true, lpis: false });
  assert.equal(rd.read(GicrOffset.SGI_BASE + 0x100), 0xffff);
  assert.equal(rd.read(GicrOffset.SGI_BASE + 0xc00), 0xaaaaaaaa);
  assert.equal(rd.read(GicrOffset.SGI_BASE + 0xc04), 0);
  assert.equal(rd.read(GicrOffset.SGI_BASE + 0x80), 0xffffffff);
});

Deno.test("Redistributor.typer sets Last from the region slot, not from the vcpu_id", () => {
  const first = new Redistributor(5, { last: false, lpis: false, regionIndex: 2 });
  const last = new Redistributor(2, { last: true, lpis: false, regionIndex: 5 });
  assert.equal(first.typer, (5n << 32n) | 0x500n);
  assert.equal(last.typer, (2n << 32n) | 0x210n);
  assert.equal(last.read(GicrOffset.TYPER, 4), 0x210);
  assert.equal(last.read(GicrOffset.TYPER + 4, 4), 2);
  assert.equal(last.regionIndex, 5);
  assert.equal(new Redistributor(3, { last: false, lpis: true }).regionIndex, 3);
});

Deno.test("Redistributor.write() EnableLPIs 0 -> 1 reads the pending table, 1 -> 0 drops the vCPU's LPIs", () => {
  const rd = new Redistributor(1, { last: true, lpis: true });
  const calls: string[] = [];
  rd.invalidator = {
    invalidate: (i) => calls.push(`inv ${i}`),
    invalidateAll: (v) => calls.push(`invall ${v}`),
    lpisDisabled: (v) => calls.push(`off ${v}`),
    lpisEnabledNow: (v) => calls.push(`on ${v}`),
  };
  rd.write(GicrOffset.CTLR, 1, 4);
  rd.write(GicrOffset.CTLR, 1, 4);
  rd.write(GicrOffset.INVLPIR, 8195, 4);
  rd.write(GicrOffset.INVALLR, 0, 4);
  rd.write(GicrOffset.CTLR, 0, 4);
  assert.deepEqual(calls, ["on 1", "inv 8195", "invall 1", "off 1"]);
  assert.equal(rd.read(GicrOffset.CTLR), GICR_CTLR_CES_IR); // EnableLPIs clear, CES and IR set
});

Deno.test("Redistributor without an ITS ignores EnableLPIs; PENDBASER keeps PTZ but reads it as 0", () => {
  const rd = new Redistributor(0, { last: true, lpis: false });
  assert.equal(rd.write(GicrOffset.CTLR, 1, 4), false);
  assert.equal(rd.enableLpis, false);
  rd.write(GicrOffset.PENDBASER, (1n << 62n) | 0x1_0000n, 8);
  assert.equal(rd.read(GicrOffset.PENDBASER, 8), 0x1_0000n);
  assert.equal(rd.pendbaser, (1n << 62n) | 0x1_0000n);
  assert.equal(rd.read(GicrOffset.WAKER), 0);
  assert.equal(rd.read(GicrOffset.IIDR), 0x4b00043b); // no revision field, unlike GICD_IIDR
});

Deno.test("Redistributor.read() gives the upper words of PROPBASER and PENDBASER at +4", () => {
  const rd = new Redistributor(0, { last: true, lpis: true });
  rd.write(GicrOffset.PROPBASER, 0x12_3456_700fn, 8);
  rd.write(GicrOffset.PENDBASER, (1n << 62n) | 0x89_0000_0000n, 8);
  assert.equal(rd.read(GicrOffset.PROPBASER, 4), 0x3456_700f);
  assert.equal(rd.read(GicrOffset.PROPBASER + 4, 4), 0x12);
  assert.equal(rd.read(GicrOffset.PENDBASER + 4, 4), 0x89);
});
