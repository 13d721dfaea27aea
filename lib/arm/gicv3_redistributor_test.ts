import assert from "node:assert/strict";
import { GicrOffset, kvmMpidr, Redistributor } from "./gicv3_redistributor.ts";

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
