import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic, ITS_DOORBELL, KvmIrqType } from "./gic.ts";
import { EBUSY, EINVAL } from "./errno.ts";
import { VgicAddrType } from "./vgic_device.ts";

Deno.test("Gic.sgi() matches Aff1 and RS*16 + TargetList bits, ignoring bits with no vCPU", () => {
  const g = new Gic(
    { version: 3, vcpus: 20, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  const v = 0b1000_0101n | (1n << 16n) | (1n << 24n);
  assert.deepEqual(g.sgi(0, v, false), [16, 18]);
  assert.deepEqual(g.sgi(3, (2n << 24n) | (1n << 40n), false).length, 19);
});

Deno.test("Gic.sgi() from ICC_SGI0R_EL1 raises only Group 0 SGIs", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.deepEqual(g.sgi(0, 1n | (3n << 24n), true), []);
  g.rds[0].bank.group[3] = 0;
  assert.deepEqual(g.sgi(0, 1n | (3n << 24n), true), [0]);
});

function msiGic(): Gic {
  const g = new Gic({ version: 3, vcpus: 2, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  g.lpis.idBits = 16;
  g.rds[0].enableLpis = true;
  g.rds[1].enableLpis = true;
  const its = g.its!;
  its.enabled = true;
  its.mapd(2, 7, 1);
  its.mapc(0, 0, 1);
  its.mapc(1, 1, 1);
  its.mapti(2, 20, 8195, 0);
  return g;
}

Deno.test("Gic.signalMsi() returns 1, 0 on a translation miss, -EINVAL without a DeviceID", () => {
  const g = msiGic();
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 0, 2), -22); // nothing cached yet
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 1, 2), 1);
  assert.equal(g.signalMsi(ITS_DOORBELL, 21, 1, 2), 0);
  assert.equal(g.signalMsi(0xfee00000, 20, 1, 2), -22);
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 3, 2), -22); // kvm_send_userspace_msi: unknown flag
});

Deno.test("Gic.signalMsi() delivers a cached translation without KVM_MSI_VALID_DEVID", () => {
  const g = msiGic();
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 1, 2), 1); // fills the cache
  g.lpis.lpis.get(8195)!.pending = false;
  assert.equal(g.signalMsi(ITS_DOORBELL, 20, 0, 2), 1);
  assert.equal(g.lpis.lpis.get(8195)!.pending, true);
});

Deno.test("Gic: MOVI, DISCARD, MAPC V=0, ITS disable and EnableLPIs=0 empty the translation cache", () => {
  const cases: Array<[string, (g: Gic) => void]> = [
    ["MOVI", (g) => g.its!.movi(2, 20, 1)],
    ["DISCARD", (g) => g.its!.discard(2, 20)],
    ["MAPC V=0", (g) => g.its!.mapc(0, 0, 0)],
    ["MAPD", (g) => g.its!.mapd(2, 7, 1)],
    ["MOVALL", (g) => g.its!.movall(0, 1)],
    ["GITS_CTLR", (g) => (g.its!.enabled = false)],
    ["EnableLPIs", (g) => g.lpisDisabled(0)],
  ];
  for (const [what, act] of cases) {
    const g = msiGic();
    g.signalMsi(ITS_DOORBELL, 20, 1, 2);
    assert.equal(g.its!.cache.size, 1, what);
    act(g);
    assert.equal(g.its!.cache.size, 0, what);
  }
  const g = msiGic();
  g.signalMsi(ITS_DOORBELL, 20, 1, 2);
  g.its!.inv(2, 20);
  g.its!.invall(0);
  assert.equal(g.its!.cache.size, 1, "INV and INVALL keep it");
});

function redistGic(order?: number[], version: 2 | 3 = 3): Gic {
  return new Gic(
    { version, vcpus: 6, nrIrqs: 64, its: false, v4: false, creationOrder: order },
    new Trace(() => 0),
  );
}

Deno.test("Gic gives redistributor slots in creation order: Last goes to the vCPU created last", () => {
  const g = redistGic([0, 3, 5, 4, 1, 2]);
  assert.deepEqual(g.rds.map((rd) => rd.regionIndex), [0, 4, 5, 1, 3, 2]);
  assert.deepEqual(g.rds.map((rd) => rd.last), [false, false, true, false, false, false]);
  assert.deepEqual(redistGic().rds.map((rd) => rd.last), [false, false, false, false, false, true]);
  assert.throws(() => redistGic([0, 1, 1, 2, 3, 4]), RangeError);
  assert.throws(() => redistGic([0, 1, 2]), RangeError);
});

Deno.test("Gic.getRedistReg() reads GICR_TYPER's words per vcpu_id once the vGIC is initialised", () => {
  const g = redistGic([0, 3, 5, 4, 1, 2]);
  assert.equal(g.initialized, false);
  assert.equal(g.getRedistReg(6, 8), -22); // no vCPU has that MPIDR: checked before init
  assert.equal(g.getRedistReg(2, 8), -16);
  assert.equal(g.vgicInit(), 0);
  assert.equal(g.vgicInit(), 0);
  // No region yet: no vCPU has a slot, so none is Last (vgic_mmio_vcpu_rdist_is_last).
  assert.equal(g.getRedistReg(2, 8), 0x200);
  assert.equal(g.setVgicAddr(VgicAddrType.V3_REDIST, 0x1_0000n), 0);
  assert.deepEqual([0, 3, 5, 4, 1, 2].map((id) => g.getRedistReg(id, 8)), [
    0x000,
    0x300,
    0x500,
    0x400,
    0x100,
    0x210,
  ]);
  assert.equal(g.getRedistReg(5, 0xc), 5);
  assert.equal(g.getRedistReg(5, 0x9), 0); // no register there: RAZ
  assert.equal(redistGic(undefined, 2).getRedistReg(0, 8), -6);
});

Deno.test("Gic.getRedistReg() ISPENDR0 shows only the latch and ICPENDR0 reads as zero", () => {
  const g = redistGic();
  g.vgicInit();
  const bank = g.rds[1].bank;
  bank.setEnabled(20, true);
  g.kvmIrqLine(2, 1, 20, 1); // PPI 20: a level line, no latch
  bank.setPending(21);
  assert.equal(g.rds[1].read(0x10200), (1 << 20) | (1 << 21));
  assert.equal(g.getRedistReg(1, 0x10200), 1 << 21);
  assert.equal(g.getRedistReg(1, 0x10280), 0);
  assert.equal(g.getRedistReg(1, 0x10100), 0xffff | (1 << 20)); // ISENABLER0
});

Deno.test("Gic: the guest's own GICR_TYPER read does not wait for CTRL_INIT", () => {
  const g = redistGic([0, 3, 5, 4, 1, 2]);
  assert.equal(g.rds[2].read(8, 8), (2n << 32n) | 0x210n);
  assert.equal(g.initialized, false);
});

Deno.test("Gic.setNrIrqs() takes multiples of 32 from 64 to 992 once, as vgic_set_common_attr", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 256, its: false, v4: false },
    new Trace(() => 0),
  );
  g.nrSpisSet = false; // a deferred vGIC: no write yet
  assert.equal(g.getNrIrqs(), 32);
  for (const bad of [0, 32, 48, 65, 100, 1000, 1024, 2048]) assert.equal(g.setNrIrqs(bad), -EINVAL);
  assert.equal(g.setNrIrqs(992), 0);
  assert.equal(g.getNrIrqs(), 992);
  assert.equal(g.dist.nrIrqs, 992);
  assert.equal(Number(g.dist.read(0x4)) & 0x1f, 992 / 32 - 1); // GICD_TYPER.ITLinesNumber
  assert.equal(g.setNrIrqs(64), -EBUSY);
  assert.equal(g.dist.nrIrqs, 992);
});

Deno.test("Gic.setNrIrqs() is -EBUSY after vgic_init chose the default, and for a vGIC built from the setting", () => {
  const deferred = new Gic(
    { version: 2, vcpus: 1, nrIrqs: 256, its: false, v4: false },
    new Trace(() => 0),
  );
  deferred.nrSpisSet = false;
  deferred.vgicInit();
  assert.equal(deferred.setNrIrqs(128), -EBUSY);
  assert.equal(deferred.getNrIrqs(), 256);
  const built = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 128, its: true, v4: false },
    new Trace(() => 0),
  );
  assert.equal(built.setNrIrqs(64), -EBUSY);
  assert.equal(built.getNrIrqs(), 128);
});

Deno.test("Gic.setNrIrqs() keeps GICD_TYPER.LPIS of a vGIC with an ITS", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 256, its: true, v4: false },
    new Trace(() => 0),
  );
  g.nrSpisSet = false;
  assert.equal(g.setNrIrqs(96), 0);
  assert.equal(g.dist.lpis, true);
});

Deno.test("Gic.addVcpu() makes the next vCPU of the creation order exist and moves Last to it", () => {
  const g = new Gic(
    {
      version: 3,
      vcpus: 3,
      nrIrqs: 64,
      its: false,
      v4: false,
      creationOrder: [0, 2, 1],
      created: 1,
    },
    new Trace(() => 0),
  );
  assert.equal(g.vcpuOfAffinity(2), -1); // kvm_mpidr_to_vcpu finds no vCPU 2 yet
  assert.equal(g.kvmIrqLine(2, 2, 20, 1), -EINVAL);
  assert.equal(g.createVcpuResult(0), -17); // -EEXIST
  assert.equal(g.nextVcpuId, 2);
  assert.equal(g.createVcpuResult(2), 0);
  g.addVcpu();
  assert.equal(g.vcpuExists(2), true);
  assert.deepEqual([g.rds[0].last, g.rds[2].last, g.rds[1].last], [false, true, false]);
  assert.equal(g.vcpuOfAffinity(2), 2);
  assert.deepEqual(g.sgi(0, (1n << 40n) | (3n << 24n), false), [2]); // IRM=1: every other vCPU
  g.vgicInit();
  assert.equal(g.createVcpuResult(1), -EBUSY);
});

Deno.test("Gic: a GICv2 guest's EOI of a level SPI fed by a resampling irqfd lowers it and signals the resamplefd", () => {
  const g = new Gic(
    { version: 2, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  g.vgicInit(); // default routing: GSI 9 -> SPI 41
  g.dist.spis.edge[41] = 0;
  g.dist.spis.setEnabled(41, true);
  assert.equal(g.assignIrqfd(9, true), 0);
  assert.equal(g.assignIrqfd(9, false), -EBUSY);
  g.irqfdSignal(9);
  assert.equal(g.dist.spis.line[41], 1);
  g.acknowledge(0, 41);
  assert.equal(g.resamplefds.get(9), 0);
  g.deactivate(0, 41); // GICC_EOIR with EOImode=0
  assert.equal(g.resamplefds.get(9), 1);
  assert.equal(g.dist.spis.line[41], 0);
  g.deactivate(0, 41); // not active: no list register went invalid
  assert.equal(g.resamplefds.get(9), 1);
});

Deno.test("Gic: GICD_IIDR and GICD_TYPER2 pass DIST_REGS before CTRL_INIT (reg_allowed_pre_init), with vgic_mmio_uaccess_write_v3_misc's checks", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.equal(g.getDistReg(0x8), 0x4b00343b); // GICD_IIDR, revision 3
  assert.equal(g.getDistReg(0x4), -EBUSY); // GICD_TYPER still waits for init
  assert.equal(g.setRegAttr("dist", 0, 0x8, 0x4b00243b), 0); // revision 2
  assert.equal(g.setRegAttr("dist", 0, 0x8, 0x4b00443b), -EINVAL); // revision 4
  assert.equal(g.setRegAttr("dist", 0, 0x8, 0x4c00343b), -EINVAL); // ProductID
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0), 0); // GICD_TYPER2 as read back
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0x100), -EINVAL); // nASSGIcap: no GICv4.1
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0x1), -EINVAL);
  g.vgicInit();
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0x100), -EBUSY);
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0), 0);
});

Deno.test("Gic on a GICv4.1 host: nASSGIcap from kvm_vgic_create, the VMM may clear it before CTRL_INIT, and then vgic_init makes no vPEs", () => {
  const g = new Gic(
    { version: 3, vcpus: 2, nrIrqs: 64, its: true, v4: false, v41: true },
    new Trace(() => 0),
  );
  assert.equal(g.getDistReg(0xc), 0x100);
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0x101), -EINVAL); // a bit outside nASSGIcap
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0), 0);
  assert.equal(g.getDistReg(0xc), 0);
  assert.notEqual(g.v4, null);
  g.vgicInit();
  assert.equal(g.v4, null); // vgic_supports_direct_irqs: neither vSGIs nor vLPIs
  assert.equal(g.setRegAttr("dist", 0, 0xc, 0x100), -EBUSY);
});

Deno.test("Gic.writeDist(): GICD_CTLR.nASSGIreq is kept only with nASSGIcap and only changes while Group 1 is off", () => {
  const g = new Gic(
    { version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false, v41: true },
    new Trace(() => 0),
  );
  g.writeDist(0, 0x2, 4);
  g.writeDist(0, 0x102, 4); // stays enabled: read-only
  assert.equal(g.vsgis, false);
  g.writeDist(0, 0x100, 4); // disabling: taken
  assert.equal(g.vsgis, true);
  assert.equal(Number(g.dist.read(0)) & 0x100, 0x100);
  const plain = new Gic(
    { version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  plain.writeDist(0, 0x100, 4);
  assert.equal(Number(plain.dist.read(0)) & 0x100, 0); // no nASSGIcap: dropped
});

Deno.test("Gic.hasAttr() answers KVM_HAS_DEVICE_ATTR by group, and -EINVAL for a register attribute naming no vCPU", () => {
  const v2 = new Gic(
    { version: 2, vcpus: 2, nrIrqs: 64, its: false, v4: false, created: 1 },
    new Trace(() => 0),
  );
  assert.equal(v2.hasAttr("addr", 1n), 0); // KVM_VGIC_V2_ADDR_TYPE_CPU
  assert.equal(v2.hasAttr("addr", 2n), -6); // a GICv3 type: -ENXIO
  assert.equal(v2.hasAttr("ctrl", 3n), -6); // SAVE_PENDING_TABLES is GICv3's
  assert.equal(v2.hasAttr("cpu_regs", 1n << 32n), -EINVAL); // CPUID 1 not created
  assert.equal(v2.hasAttr("cpu_regs", 2n), -6); // unaligned
  assert.equal(v2.hasAttr("cpu_regs", 0n), undefined); // the offset decides: not modelled
  assert.equal(v2.hasAttr("redist_regs", 0n), -6);
  const v3 = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.equal(v3.hasAttr("addr", 5n), 0); // REDIST_REGION
  assert.equal(v3.hasAttr("ctrl", 3n), 0);
  assert.equal(v3.hasAttr("nr_irqs", 0n), 0);
  assert.equal(v3.hasAttr("level_info", 1n << 10n), -6);
  assert.equal(v3.hasAttr("redist_regs", 5n << 32n), -EINVAL); // no vCPU has Aff0 5
});

Deno.test("Gic.kvmIrqLine(): vgic_lazy_init answers -EBUSY on a GICv3 before CTRL_INIT and initialises a GICv2", () => {
  const g3 = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.equal(g3.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1), -EBUSY);
  assert.equal(g3.kvmIrqLine(KvmIrqType.SPI, 0, 20, 1), -EINVAL); // arm.c refuses it first
  assert.equal(g3.kvmIrqLine(KvmIrqType.SPI, 0, 100, 1), -EBUSY); // before vgic_get_irq
  assert.equal(g3.dist.spis.line[40], 0);
  g3.vgicInit();
  assert.equal(g3.kvmIrqLine(KvmIrqType.SPI, 0, 100, 1), -EINVAL);
  assert.equal(g3.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1), 0);
  const g2 = new Gic(
    { version: 2, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  assert.equal(g2.kvmIrqLine(KvmIrqType.PPI, 0, 20, 1), 0);
  assert.equal(g2.initialized, true);
});

Deno.test("Gic.irqfdSignal(): before CTRL_INIT a GICv3 drops the irqfd's SPI (the work item's -EBUSY)", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false },
    new Trace(() => 0),
  );
  g.routing.setDefault(32);
  g.assignIrqfd(1, false);
  assert.equal(g.irqfdSignal(1), 0);
  assert.equal(g.dist.spis.isPending(33), false);
  g.vgicInit();
  assert.equal(g.irqfdSignal(1), 1);
  assert.equal(g.dist.spis.isPending(33), true);
});
