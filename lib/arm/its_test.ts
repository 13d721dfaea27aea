import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { Gic } from "./gic.ts";
import {
  decodeCommand,
  EBUSY,
  encodeCommand,
  GitsBaser,
  GitsCtlr,
  GitsOffset,
  ItsError,
  KVM_GITS_IIDR,
} from "./its.ts";

function setup(vcpus = 2): Gic {
  const g = new Gic({ version: 3, vcpus, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  g.lpis.idBits = 16;
  for (const rd of g.rds) rd.enableLpis = true;
  // BASERs and a command queue apart from the LPI configuration table at 0.
  g.its!.linuxEnable();
  return g;
}

Deno.test("Its.movi() moves a pending LPI to the new collection's redistributor", () => {
  const g = setup(), its = g.its!;
  its.command({ op: "MAPD", device: 0x10, size: 3, valid: 1 });
  its.command({ op: "MAPC", collection: 0, target: 0, valid: 1 });
  its.command({ op: "MAPC", collection: 1, target: 1, valid: 1 });
  its.command({ op: "MAPTI", device: 0x10, event: 3, lpi: 8192, collection: 0 });
  assert.equal(its.translater(0x10, 3), 0);
  assert.deepEqual(g.pendingOf(0), [8192]);
  assert.equal(its.command({ op: "MOVI", device: 0x10, event: 3, collection: 1 }), 0);
  assert.deepEqual(g.pendingOf(0), []);
  assert.deepEqual(g.pendingOf(1), [8192]);
});

Deno.test("Its.mapti() returns KVM's codes for a missing device, EventID and pINTID range", () => {
  const g = setup(), its = g.its!;
  g.lpis.idBits = 14;
  its.command({ op: "MAPD", device: 5, size: 3, valid: 1 });
  assert.equal(its.mapti(6, 0, 8300, 0), ItsError.MAPTI_UNMAPPED_DEVICE);
  assert.equal(its.mapti(5, 16, 8300, 0), ItsError.MAPTI_ID_OOR);
  assert.equal(its.mapti(5, 15, 8191, 0), ItsError.MAPTI_PHYSICALID_OOR);
  assert.equal(its.mapti(5, 15, 16384, 0), ItsError.MAPTI_PHYSICALID_OOR);
  assert.equal(its.mapti(5, 15, 8300, 0), 0);
  assert.equal(its.collectionTarget(0), -1);
});

Deno.test("Its.mapc() with V=0 orphans ITEs so a new MAPC does not revive them", () => {
  const g = setup(), its = g.its!;
  its.mapd(1, 3, 1);
  its.mapc(0, 1, 1);
  its.mapti(1, 0, 8192, 0);
  its.mapc(0, 0, 0);
  its.mapc(0, 1, 1);
  assert.equal(its.findIte(1, 0)!.icid, -1);
  assert.deepEqual(its.translate(1, 0), { error: ItsError.INT_UNMAPPED_INTERRUPT });
});

Deno.test("Its.command() queues while disabled and runs on enable, advancing CREADR by 32", () => {
  const g = setup(), its = g.its!;
  its.enabled = false;
  assert.equal(its.command({ op: "MAPD", device: 1, size: 0, valid: 1 }), null);
  assert.equal(its.creadr, 0);
  assert.equal(its.cwriter, 32);
  assert.equal(its.quiescent, false);
  its.enabled = true;
  assert.equal(its.creadr, 32);
  assert.equal(its.devices.has(1), true);
});

Deno.test("Its.translate() reports -EBUSY when the target's LPIs are disabled", () => {
  const g = setup(), its = g.its!;
  its.mapd(1, 3, 1);
  its.mapc(0, 1, 1);
  its.mapti(1, 0, 8192, 0);
  g.rds[1].enableLpis = false;
  assert.deepEqual(its.translate(1, 0), { error: -EBUSY });
});

Deno.test("Its.discard() clears pending and needs a mapped collection", () => {
  const g = setup(), its = g.its!;
  its.mapd(2, 7, 1);
  its.mapc(3, 1, 1);
  its.mapti(2, 20, 8195, 3);
  its.mapti(2, 21, 8197, 5);
  its.int(2, 20);
  assert.equal(its.discard(2, 20), 0);
  assert.equal(g.lpis.lpis.has(8195), false);
  assert.equal(its.discard(2, 20), ItsError.DISCARD_UNMAPPED_INTERRUPT);
  assert.equal(its.discard(2, 21), ItsError.DISCARD_UNMAPPED_INTERRUPT);
});

// ---- each command's effect on the tables -----------------------------------------------
//
// `tables()` snapshots everything a command can change: the device table
// (DeviceID -> Size and ITT of EventID -> {pINTID, ICID}), the collection
// table (ICID -> target vCPU, -1 = exists unmapped), the LPIs KVM holds
// (target, pending, cached priority and enable) and CREADR. Each test runs
// commands through `command()`, as the guest's queue does, and compares the
// whole snapshot after each.

interface Tables {
  devices: Record<number, { size: number; itt: Record<number, { lpi: number; icid: number }> }>;
  collections: Record<number, number>;
  lpis: Record<number, { target: number; pending: boolean; priority: number; enabled: boolean }>;
  creadr: number;
}

function tables(g: Gic): Tables {
  const its = g.its!;
  const devices: Tables["devices"] = {};
  for (const [id, d] of its.devices) {
    const itt: Tables["devices"][number]["itt"] = {};
    for (const [ev, ite] of d.itt) itt[ev] = { lpi: ite.lpi.intid, icid: ite.icid };
    devices[id] = { size: d.size, itt };
  }
  const lpis: Tables["lpis"] = {};
  for (const l of g.lpis.list) {
    lpis[l.intid] = {
      target: l.target,
      pending: l.pending,
      priority: l.priority,
      enabled: l.enabled,
    };
  }
  return { devices, collections: Object.fromEntries(its.collections), lpis, creadr: its.creadr };
}

/** Two devices and two collections, with (2, 20) -> 8195 in ICID 3 on vCPU 1. */
function mapped(): Gic {
  const g = setup(3);
  g.lpis.writeConfig(8195, 0xa3);
  g.lpis.writeConfig(8196, 0xa3);
  const its = g.its!;
  its.command({ op: "MAPD", device: 2, size: 7, valid: 1 });
  its.command({ op: "MAPD", device: 7, size: 7, valid: 1 });
  its.command({ op: "MAPC", collection: 3, target: 1, valid: 1 });
  its.command({ op: "MAPC", collection: 4, target: 2, valid: 1 });
  its.command({ op: "MAPTI", device: 2, event: 20, lpi: 8195, collection: 3 });
  return g;
}

const LPI_8195 = { target: 1, pending: false, priority: 0xa0, enabled: true };

Deno.test("ITS MAPD adds a device with its Size, drops the ITEs of a remapped one, V=0 removes it", () => {
  const g = setup(), its = g.its!;
  assert.equal(its.command({ op: "MAPD", device: 0x10, size: 4, valid: 1 }), 0);
  assert.deepEqual(tables(g), {
    devices: { 0x10: { size: 4, itt: {} } },
    collections: {},
    lpis: {},
    creadr: 32,
  });
  its.command({ op: "MAPC", collection: 0, target: 0, valid: 1 });
  its.command({ op: "MAPTI", device: 0x10, event: 1, lpi: 8192, collection: 0 });
  assert.equal(its.command({ op: "MAPD", device: 0x10, size: 2, valid: 1 }), 0);
  assert.deepEqual(tables(g), {
    devices: { 0x10: { size: 2, itt: {} } },
    collections: { 0: 0 },
    lpis: {},
    creadr: 128,
  });
  assert.equal(its.command({ op: "MAPD", device: 0x10, size: 0, valid: 0 }), 0);
  assert.equal(its.command({ op: "MAPD", device: 0x11, size: 0, valid: 0 }), 0); // never mapped: fine
  assert.deepEqual(tables(g).devices, {});
  assert.equal(
    its.command({ op: "MAPD", device: 1 << 16, size: 0, valid: 1 }),
    ItsError.MAPD_DEVICE_OOR,
  );
  assert.equal(
    its.command({ op: "MAPD", device: 1, size: 16, valid: 1 }),
    ItsError.MAPD_ITTSIZE_OOR,
  );
  assert.deepEqual(tables(g), { devices: {}, collections: { 0: 0 }, lpis: {}, creadr: 256 });
});

Deno.test("ITS MAPC maps a collection, retargets its LPIs when remapped, V=0 removes it", () => {
  const g = mapped(), its = g.its!;
  assert.deepEqual(tables(g).collections, { 3: 1, 4: 2 });
  assert.equal(its.command({ op: "MAPC", collection: 3, target: 0, valid: 1 }), 0);
  assert.deepEqual(tables(g).collections, { 3: 0, 4: 2 });
  assert.deepEqual(tables(g).lpis, { 8195: { ...LPI_8195, target: 0 } });
  assert.equal(
    its.command({ op: "MAPC", collection: 4, target: 3, valid: 1 }),
    ItsError.MAPC_PROCNUM_OOR,
  );
  assert.deepEqual(tables(g).collections, { 3: 0, 4: 2 });
  assert.equal(its.command({ op: "MAPC", collection: 3, target: 0, valid: 0 }), 0);
  const t = tables(g);
  assert.deepEqual(t.collections, { 4: 2 });
  assert.deepEqual(t.devices[2].itt, { 20: { lpi: 8195, icid: -1 } }); // orphaned
  assert.equal(t.creadr, 32 * 8);
});

Deno.test("ITS MAPTI adds an ITE, reads the config byte, ignores a remap, creates an unmapped ICID", () => {
  const g = mapped(), its = g.its!;
  assert.deepEqual(tables(g), {
    devices: { 2: { size: 7, itt: { 20: { lpi: 8195, icid: 3 } } }, 7: { size: 7, itt: {} } },
    collections: { 3: 1, 4: 2 },
    lpis: { 8195: LPI_8195 },
    creadr: 160,
  });
  assert.equal(its.command({ op: "MAPTI", device: 2, event: 20, lpi: 8196, collection: 4 }), 0);
  assert.deepEqual(tables(g).devices[2].itt, { 20: { lpi: 8195, icid: 3 } }); // KVM ignores it
  assert.equal(its.command({ op: "MAPTI", device: 7, event: 255, lpi: 8196, collection: 9 }), 0);
  const t = tables(g);
  assert.deepEqual(t.devices[7].itt, { 255: { lpi: 8196, icid: 9 } });
  assert.deepEqual(t.collections, { 3: 1, 4: 2, 9: -1 });
  assert.deepEqual(t.lpis[8196], { target: -1, pending: false, priority: 0xa0, enabled: true });
  its.command({ op: "MAPC", collection: 9, target: 2, valid: 1 }); // MAPC fixes it up
  assert.equal(tables(g).lpis[8196].target, 2);
});

Deno.test("ITS MAPI maps the EventID as the pINTID", () => {
  const g = mapped(), its = g.its!;
  g.lpis.writeConfig(8200, 0x51);
  its.command({ op: "MAPD", device: 9, size: 13, valid: 1 });
  assert.equal(its.command({ op: "MAPI", device: 9, event: 8200, collection: 4 }), 0);
  const t = tables(g);
  assert.deepEqual(t.devices[9].itt, { 8200: { lpi: 8200, icid: 4 } });
  assert.deepEqual(t.lpis[8200], { target: 2, pending: false, priority: 0x50, enabled: true });
  assert.equal(
    its.command({ op: "MAPI", device: 9, event: 100, collection: 4 }),
    ItsError.MAPTI_PHYSICALID_OOR,
  );
  assert.equal(
    its.command({ op: "MAPI", device: 8, event: 8201, collection: 4 }),
    ItsError.MAPTI_UNMAPPED_DEVICE,
  );
  assert.deepEqual(Object.keys(tables(g).devices[9].itt), ["8200"]);
});

Deno.test("ITS INT sets the LPI pending at its target; an unmapped event changes nothing", () => {
  const g = mapped(), its = g.its!;
  assert.equal(its.command({ op: "INT", device: 2, event: 20 }), 0);
  assert.deepEqual(tables(g).lpis, { 8195: { ...LPI_8195, pending: true } });
  assert.deepEqual(g.pendingOf(1), [8195]);
  const before = tables(g);
  assert.equal(its.command({ op: "INT", device: 2, event: 21 }), ItsError.INT_UNMAPPED_INTERRUPT);
  assert.deepEqual(tables(g), { ...before, creadr: before.creadr + 32 });
});

Deno.test("ITS CLEAR clears the pending state and keeps the ITE", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "INT", device: 2, event: 20 });
  assert.equal(its.command({ op: "CLEAR", device: 2, event: 20 }), 0);
  const t = tables(g);
  assert.deepEqual(t.lpis, { 8195: LPI_8195 });
  assert.deepEqual(t.devices[2].itt, { 20: { lpi: 8195, icid: 3 } });
  assert.equal(
    its.command({ op: "CLEAR", device: 7, event: 1 }),
    ItsError.CLEAR_UNMAPPED_INTERRUPT,
  );
});

Deno.test("ITS DISCARD removes the ITE and the LPI with its pending state", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "INT", device: 2, event: 20 });
  assert.equal(its.command({ op: "DISCARD", device: 2, event: 20 }), 0);
  const t = tables(g);
  assert.deepEqual(t.devices, { 2: { size: 7, itt: {} }, 7: { size: 7, itt: {} } });
  assert.deepEqual(t.lpis, {});
  assert.deepEqual(t.collections, { 3: 1, 4: 2 });
  assert.deepEqual(g.pendingOf(1), []);
  assert.equal(
    its.command({ op: "DISCARD", device: 2, event: 20 }),
    ItsError.DISCARD_UNMAPPED_INTERRUPT,
  );
});

Deno.test("ITS MOVI rewrites the ITE's ICID and moves the LPI, pending state included", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "INT", device: 2, event: 20 });
  assert.equal(its.command({ op: "MOVI", device: 2, event: 20, collection: 4 }), 0);
  const t = tables(g);
  assert.deepEqual(t.devices[2].itt, { 20: { lpi: 8195, icid: 4 } });
  assert.deepEqual(t.lpis, { 8195: { ...LPI_8195, target: 2, pending: true } });
  assert.deepEqual(t.collections, { 3: 1, 4: 2 });
  assert.equal(
    its.command({ op: "MOVI", device: 2, event: 20, collection: 5 }),
    ItsError.MOVI_UNMAPPED_COLLECTION,
  );
  assert.equal(
    its.command({ op: "MOVI", device: 2, event: 21, collection: 3 }),
    ItsError.MOVI_UNMAPPED_INTERRUPT,
  );
  assert.deepEqual(tables(g).devices[2].itt, { 20: { lpi: 8195, icid: 4 } });
});

Deno.test("ITS MOVALL moves every LPI on RD1 to RD2 and leaves the collection table alone", () => {
  const g = mapped(), its = g.its!;
  g.lpis.writeConfig(8197, 0xa3);
  its.command({ op: "MAPTI", device: 7, event: 1, lpi: 8196, collection: 3 });
  its.command({ op: "MAPTI", device: 7, event: 2, lpi: 8197, collection: 4 });
  its.command({ op: "INT", device: 7, event: 1 });
  assert.equal(its.command({ op: "MOVALL", target: 1, target2: 0 }), 0);
  const t = tables(g);
  assert.deepEqual(
    Object.fromEntries(Object.entries(t.lpis).map(([i, l]) => [i, [l.target, l.pending]])),
    { 8195: [0, false], 8196: [0, true], 8197: [2, false] },
  );
  assert.deepEqual(t.collections, { 3: 1, 4: 2 });
  assert.deepEqual(t.devices[7].itt, { 1: { lpi: 8196, icid: 3 }, 2: { lpi: 8197, icid: 4 } });
  assert.equal(its.command({ op: "MOVALL", target: 0, target2: 3 }), ItsError.MOVALL_PROCNUM_OOR);
  assert.equal(tables(g).lpis[8196].target, 0);
});

Deno.test("ITS INV re-reads one LPI's configuration byte", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "MAPTI", device: 7, event: 1, lpi: 8196, collection: 3 });
  g.lpis.writeConfig(8195, 0x52);
  g.lpis.writeConfig(8196, 0x52);
  assert.deepEqual(tables(g).lpis[8195], LPI_8195); // cached until invalidated
  assert.equal(its.command({ op: "INV", device: 2, event: 20 }), 0);
  const t = tables(g);
  assert.deepEqual(t.lpis[8195], { ...LPI_8195, priority: 0x50, enabled: false });
  assert.deepEqual(t.lpis[8196], { ...LPI_8195 }); // the other one keeps its cached copy
  assert.equal(its.command({ op: "INV", device: 2, event: 21 }), ItsError.INV_UNMAPPED_INTERRUPT);
});

Deno.test("ITS INVALL re-reads every LPI on the collection's vCPU and no other", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "MAPTI", device: 7, event: 1, lpi: 8196, collection: 4 });
  g.lpis.writeConfig(8195, 0x11);
  g.lpis.writeConfig(8196, 0x11);
  assert.equal(its.command({ op: "INVALL", collection: 3 }), 0);
  const t = tables(g);
  assert.deepEqual(t.lpis[8195], { target: 1, pending: false, priority: 0x10, enabled: true });
  assert.deepEqual(t.lpis[8196], { target: 2, pending: false, priority: 0xa0, enabled: true });
  assert.equal(its.command({ op: "INVALL", collection: 5 }), ItsError.INVALL_UNMAPPED_COLLECTION);
});

Deno.test("ITS SYNC changes no table; CREADR advances", () => {
  const g = mapped(), its = g.its!;
  its.command({ op: "INT", device: 2, event: 20 });
  const before = tables(g);
  assert.equal(its.command({ op: "SYNC", target: 1 }), 0);
  assert.deepEqual(tables(g), { ...before, creadr: before.creadr + 32 });
  assert.equal(its.quiescent, true);
});

Deno.test("GITS_CTLR: Enabled is ignored until BASER0, BASER1 and CBASER are Valid; Quiescent tracks the queue", () => {
  const g = new Gic({ version: 3, vcpus: 1, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  const its = g.its!;
  assert.equal(its.readRegister(GitsOffset.CTLR, 4), GitsCtlr.QUIESCENT);
  assert.equal(its.writeRegister(GitsOffset.CTLR, 1n, 4), false);
  its.writeRegister(GitsOffset.BASER, GitsBaser.VALID, 8);
  its.writeRegister(GitsOffset.BASER + 8, GitsBaser.VALID, 8);
  assert.equal(its.writeRegister(GitsOffset.CTLR, 1n, 4), false);
  its.writeRegister(GitsOffset.CBASER, GitsBaser.VALID, 8);
  assert.equal(its.writeRegister(GitsOffset.CTLR, 1n, 4), true);
  assert.equal(its.readRegister(GitsOffset.CTLR, 4), GitsCtlr.QUIESCENT | GitsCtlr.ENABLED);
});

Deno.test("GITS_BASER and GITS_CBASER are read-only while enabled; a CBASER write empties the queue", () => {
  const g = new Gic({ version: 3, vcpus: 1, nrIrqs: 64, its: true, v4: false }, new Trace(() => 0));
  const its = g.its!;
  its.linuxEnable();
  its.writeRegister(GitsOffset.CTLR, 0n, 4);
  its.command({ op: "SYNC", target: 0 });
  assert.equal(its.quiescent, false);
  its.linuxEnable();
  assert.equal(its.quiescent, true, "re-enabling keeps the valid CBASER and runs its queue");
  assert.equal(its.creadr, 32);
  const before = its.baserDevice;
  assert.equal(its.writeRegister(GitsOffset.BASER, 0n, 8), false);
  assert.equal(its.baserDevice, before);
  its.writeRegister(GitsOffset.CTLR, 0n, 4);
  assert.equal(its.writeRegister(GitsOffset.CBASER, GitsBaser.VALID | 1n, 8), true);
  assert.equal(its.creadr, 0);
  assert.equal(its.cwriter, 0);
  assert.equal(its.queueBytes, 0x2000);
});

Deno.test("GITS_BASER keeps Type and Entry_Size, and reads the upper half with a 4-byte access", () => {
  const g = setup(), its = g.its!;
  its.enabled = false;
  its.writeRegister(GitsOffset.BASER + 8, 0xffff_ffff_ffff_ffffn, 8);
  const type = (its.baserCollection >> 56n) & 7n, esz = (its.baserCollection >> 48n) & 0x1fn;
  assert.equal(type, GitsBaser.TYPE_COLLECTION);
  assert.equal(esz, 7n);
  assert.equal(its.baserCollection & GitsBaser.INDIRECT, 0n);
  assert.equal(its.readRegister(GitsOffset.BASER + 12, 4), its.baserCollection >> 32n);
});

Deno.test("ITS_REGS: misaligned is -EINVAL, a hole -ENXIO, CREADR -EBUSY while enabled", () => {
  const g = setup(), its = g.its!;
  assert.equal(its.getRegisterAttr(GitsOffset.TYPER + 4), -22);
  assert.equal(its.getRegisterAttr(0x200), -6);
  assert.equal(its.setRegisterAttr(GitsOffset.CREADR, 0x20n), -EBUSY);
  assert.equal(its.getRegisterAttr(GitsOffset.IIDR), BigInt(KVM_GITS_IIDR));
});

Deno.test("Its.command() writes the command into the queue at GITS_CBASER, and a guest CWRITER write runs what it finds there", () => {
  const g = setup(), its = g.its!;
  const mem = g.memory();
  const base = Number(its.cbaser & 0x000f_ffff_ffff_0000n);
  its.command({ op: "MAPD", device: 9, size: 3, valid: 1, ittAddr: 0x150000 });
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => mem.readBig(base + 8 * i, 64)),
    encodeCommand({ op: "MAPD", device: 9, size: 3, valid: 1, ittAddr: 0x150000 }),
  );
  assert.equal(its.devices.get(9)!.ittAddr, 0x150000);
  // The guest writes MAPC ICID 6 -> RDbase 1 by hand, then CWRITER.
  const dw = encodeCommand({ op: "MAPC", collection: 6, target: 1, valid: 1 });
  for (let i = 0; i < 4; i++) mem.write(base + 32 + 8 * i, 64, dw[i]);
  assert.equal(its.writeRegister(GitsOffset.CWRITER, 64n, 8), true);
  assert.equal(its.creadr, 64);
  assert.equal(its.collectionTarget(6), 1);
  // An opcode KVM does not handle is skipped.
  mem.write(base + 64, 64, 0xffn);
  its.writeRegister(GitsOffset.CWRITER, 96n, 8);
  assert.equal(its.creadr, 96);
  assert.deepEqual(
    decodeCommand(encodeCommand({ op: "MOVALL", target: 2, target2: 3 }))!.target2,
    3,
  );
});

Deno.test("its_tables: a changed GITS_BASER<collections> with Valid kept frees the collections on newest, not on linux_7_2; an unchanged rewrite frees nothing", () => {
  for (const release of ["newest", "linux_7_2"] as const) {
    const g = new Gic(
      { version: 3, vcpus: 1, nrIrqs: 64, its: true, v4: false, itsRelease: release },
      new Trace(() => 0),
    );
    const its = g.its!;
    assert.equal(its.release, release);
    its.linuxEnable();
    its.command({ op: "MAPC", collection: 7, target: 0, valid: 1 });
    its.writeRegister(GitsOffset.CTLR, 0n, 4);
    const coll = its.baserCollection;
    its.writeRegister(GitsOffset.BASER + 8, coll, 8);
    assert.equal(its.collectionTarget(7), 0, `${release}: unchanged`);
    its.writeRegister(GitsOffset.BASER + 8, coll | 1n, 8);
    assert.equal(its.collectionTarget(7), release === "newest" ? -1 : 0, release);
    its.writeRegister(GitsOffset.BASER + 8, coll & ~GitsBaser.VALID, 8);
    assert.equal(its.collectionTarget(7), -1, `${release}: Valid clear`);
  }
});

Deno.test("its_tables: a vITS created later (KVM_CREATE_DEVICE) follows the VM's release", () => {
  const g = new Gic(
    { version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false, itsRelease: "linux_7_2" },
    new Trace(() => 0),
  );
  g.addIts();
  assert.equal(g.its!.release, "linux_7_2");
});

Deno.test("encodeCommand/decodeCommand: fields at the top of their ranges cross the 32-bit words intact", () => {
  const mapd = decodeCommand(
    encodeCommand({
      op: "MAPD",
      device: 0xffff_ffff,
      size: 31,
      valid: 1,
      ittAddr: 0xffff_ffff_ff00,
    }),
  )!;
  assert.deepEqual(
    [mapd.device, mapd.size, mapd.valid, mapd.ittAddr],
    [0xffff_ffff, 31, 1, 0xffff_ffff_ff00],
  );
  const dw = encodeCommand({ op: "MAPC", collection: 0xffff, target: 0xffff_ffff, valid: 1 });
  assert.equal(dw[2], (1n << 63n) | (0xffff_ffffn << 16n) | 0xffffn);
  const movall = decodeCommand(
    encodeCommand({ op: "MOVALL", target: 0x8001_0002, target2: 0xffff_0000 }),
  )!;
  assert.deepEqual([movall.target, movall.target2], [0x8001_0002, 0xffff_0000]);
});
