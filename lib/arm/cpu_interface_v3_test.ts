import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic, KvmIrqType } from "./gic.ts";

function gic3(): Gic {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  g.vgicInitialised(); // the VMM's CTRL_INIT: KVM_IRQ_LINE needs it
  g.dist.ctlr = 3;
  g.cifs[0].igrpen1 = 1;
  g.cifs[0].pmr = 0xf8;
  return g;
}

Deno.test("CpuInterface.acknowledge() needs priority strictly below PMR; hppir() ignores PMR", () => {
  const g = gic3(), cif = g.cifs[0];
  g.dist.spis.setEnabled(33, true);
  g.dist.spis.priority[33] = 0xa0;
  g.kvmIrqLine(KvmIrqType.SPI, 0, 33, 1);
  cif.write("pmr", 0xa0);
  assert.equal(cif.hppir(1), 33);
  assert.equal(cif.read("iar1"), 1023);
  cif.write("pmr", 0xa8);
  assert.equal(cif.read("iar1"), 33);
});

Deno.test("CpuInterface.eoi() drops the lowest APR bit, and deactivates only with EOImode=0", () => {
  const g = gic3(), cif = g.cifs[0];
  for (const [i, p] of [[40, 0x80], [41, 0x40]]) {
    g.dist.spis.setEnabled(i, true);
    g.dist.spis.priority[i] = p;
  }
  g.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cif.read("iar1"), 40);
  g.kvmIrqLine(KvmIrqType.SPI, 0, 41, 1);
  assert.equal(cif.read("iar1"), 41);
  assert.equal(cif.ap1, 0x10100);
  assert.equal(cif.rpr, 0x40);
  cif.write("ctlr", 2);
  cif.write("eoir1", 41);
  assert.equal(cif.rpr, 0x80);
  assert.equal(g.dist.spis.active[41], 1);
  cif.write("dir", 41);
  assert.equal(g.dist.spis.active[41], 0);
});

Deno.test("CpuInterface.acknowledge() returns 1023 when the highest pending is of the other group", () => {
  const g = gic3(), cif = g.cifs[0];
  cif.igrpen0 = 1;
  g.dist.spis.setEnabled(32, true);
  g.dist.spis.group[32] = 0;
  g.kvmIrqLine(KvmIrqType.SPI, 0, 32, 1);
  assert.equal(cif.read("iar1"), 1023);
  assert.equal(cif.read("iar0"), 32);
  assert.equal(cif.ap0, 1);
});

Deno.test("CpuInterface.write() BPR1 is clamped to 3 and ignored with CBPR=1", () => {
  const cif = gic3().cifs[0];
  cif.write("bpr1", 0);
  assert.equal(cif.bpr1, 3);
  cif.write("ctlr", 1);
  assert.equal(cif.write("bpr1", 6), false);
  assert.equal(cif.bpr1, 3);
  assert.equal(cif.ctlr, 0x401);
});

Deno.test("CpuInterface: EOIR of 1020-1023 and DIR with EOImode=0 are ignored", () => {
  const g = gic3(), cif = g.cifs[0];
  g.dist.spis.setEnabled(40, true);
  g.dist.spis.priority[40] = 0x80;
  g.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cif.read("iar1"), 40);
  assert.equal(cif.write("eoir1", 1023), false);
  assert.equal(cif.rpr, 0x80);
  assert.equal(cif.write("dir", 40), false);
  assert.equal(g.dist.spis.active[40], 1);
  assert.equal(cif.write("eoir1", 40), true);
  assert.equal(cif.rpr, 0xff);
  assert.equal(g.dist.spis.active[40], 0);
  assert.equal(cif.read("iar1"), 1023);
});

Deno.test("CpuInterface: a nested interrupt needs a group priority below RPR; HPPIR still shows it", () => {
  const g = gic3(), cif = g.cifs[0];
  for (const [i, p] of [[40, 0x80], [41, 0x80], [42, 0x40]]) {
    g.dist.spis.setEnabled(i, true);
    g.dist.spis.priority[i] = p;
  }
  g.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cif.read("iar1"), 40);
  g.kvmIrqLine(KvmIrqType.SPI, 0, 41, 1);
  assert.equal(cif.read("hppir1"), 41);
  assert.equal(cif.read("iar1"), 1023); // same priority: no preemption
  g.kvmIrqLine(KvmIrqType.SPI, 0, 42, 1);
  assert.equal(cif.read("iar1"), 42);
  assert.equal(cif.read("rpr"), 0x40);
});

Deno.test("CpuInterface.wouldWake() ignores group enables and RPR but needs priority below PMR", () => {
  const g = gic3(), cif = g.cifs[0];
  cif.igrpen1 = 0;
  g.dist.spis.setEnabled(40, true);
  g.dist.spis.priority[40] = 0xf8;
  g.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(cif.wouldWake(), false); // 0xf8 is not below PMR 0xf8
  cif.write("pmr", 0xff);
  assert.equal(cif.pmr, 0xf8); // 5 bits kept
  g.dist.spis.priority[40] = 0xf0;
  assert.equal(cif.wouldWake(), true);
  g.dist.ctlr = 0;
  assert.equal(cif.wouldWake(), false); // the distributor forwards nothing
});
