import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { type I8259Options, I8259Pair } from "./i8259.ts";

interface Rig {
  pic: I8259Pair;
  trace: Trace;
  intrLog: boolean[];
}

function rig(options: I8259Options = {}): Rig {
  const trace = new Trace(() => 0);
  const intrLog: boolean[] = [];
  const pic = new I8259Pair({ trace, name: "pic", onIntr: (l) => intrLog.push(l) }, options);
  return { pic, trace, intrLog };
}

/**
 * The default init of the behaviours file, through the real ports: ICW1 0x11
 * (cascade, ICW4 follows), ICW2 base, ICW3 wiring, ICW4.
 */
function init(pic: I8259Pair, icw4 = 0x01, masterIcw4 = icw4): void {
  pic.ioWrite(0x20, 0x11);
  pic.ioWrite(0x21, 0x08);
  pic.ioWrite(0x21, 0x04);
  pic.ioWrite(0x21, masterIcw4);
  pic.ioWrite(0xa0, 0x11);
  pic.ioWrite(0xa1, 0x70);
  pic.ioWrite(0xa1, 0x02);
  pic.ioWrite(0xa1, icw4);
}

function initRig(icw4 = 0x01, options: I8259Options = {}): Rig {
  const r = rig(options);
  init(r.pic, icw4);
  return r;
}

/** Reads ISR of the chip whose command port is `cmd` through OCW3, then restores IRR select. */
function readIsr(pic: I8259Pair, cmd: 0x20 | 0xa0): number {
  pic.ioWrite(cmd, 0x0b);
  const v = pic.ioRead(cmd);
  pic.ioWrite(cmd, 0x0a);
  return v;
}

const NON_SPECIFIC_EOI = 0x20;

Deno.test("I8259Pair default init through the ports sets vector bases and leaves all unmasked", () => {
  const { pic } = initRig();
  assert.equal(pic.master.vectorBase, 0x08);
  assert.equal(pic.slave.vectorBase, 0x70);
  assert.equal(pic.master.expecting, 0);
  assert.equal(pic.slave.expecting, 0);
  assert.equal(pic.ioRead(0x21), 0x00);
  assert.equal(pic.ioRead(0xa1), 0x00);
  assert.equal(pic.master.aeoi, false);
  assert.equal(pic.intr(), false);
});

Deno.test("I8259Pair ICW1 clears IMR and pending edges but keeps level requests (X86-01)", () => {
  const { pic } = initRig();
  pic.ioWrite(0x21, 0xff);
  pic.ioWrite(0x20, 0xc3); // OCW2 set priority: IR3 lowest, so IR4 highest
  assert.equal(pic.master.priorityBase, 4);
  pic.setIsaIrq(3, 1);
  pic.ioWrite(0x4d0, 0x20);
  pic.setIsaIrq(5, 1);
  assert.equal(pic.ioRead(0x20), 0x28);

  pic.ioWrite(0x20, 0x11);
  pic.ioWrite(0x21, 0x20);
  pic.ioWrite(0x21, 0x04);
  pic.ioWrite(0x21, 0x01);

  assert.equal(pic.ioRead(0x21), 0x00);
  const irr = pic.ioRead(0x20);
  assert.equal(irr & 0x08, 0, "edge request IRQ3 dropped");
  assert.equal(irr & 0x20, 0x20, "level request IRQ5 kept");
  assert.equal(pic.master.vectorBase, 0x20);
  assert.equal(pic.master.priorityBase, 0);
  // The kept level request is deliverable right away at the new base.
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x25);
});

Deno.test("I8259Pair ICW1 resets special mask and read select; without IC4 it clears AEOI and SFNM", () => {
  const { pic } = initRig(0x13);
  assert.equal(pic.slave.aeoi, true);
  assert.equal(pic.slave.sfnm, true);
  pic.ioWrite(0xa0, 0x6b); // OCW3: ESMM+SMM, RR+RIS
  assert.equal(pic.slave.specialMask, true);
  assert.equal(pic.slave.readIsr, true);
  pic.ioWrite(0xa0, 0x10); // ICW1 without IC4 (and cascade, so ICW3 follows)
  assert.equal(pic.slave.specialMask, false);
  assert.equal(pic.slave.readIsr, false);
  assert.equal(pic.slave.aeoi, false);
  assert.equal(pic.slave.sfnm, false);
  assert.equal(pic.slave.expecting, 2);
  pic.ioWrite(0xa1, 0x70);
  assert.equal(pic.slave.expecting, 3);
  pic.ioWrite(0xa1, 0x02);
  assert.equal(pic.slave.expecting, 0, "no ICW4 expected");
  pic.ioWrite(0xa1, 0x5a);
  assert.equal(pic.ioRead(0xa1), 0x5a, "next data write is OCW1");
});

Deno.test("I8259Pair ICW1 with IC4 keeps AEOI until ICW4 rewrites it; SNGL skips ICW3", () => {
  const { pic } = initRig(0x03);
  pic.ioWrite(0x20, 0x13); // ICW1: IC4 + SNGL
  assert.equal(pic.master.aeoi, true);
  pic.ioWrite(0x21, 0x08);
  assert.equal(pic.master.expecting, 4);
  pic.ioWrite(0x21, 0x01);
  assert.equal(pic.master.aeoi, false);
  assert.equal(pic.master.expecting, 0);
});

Deno.test("I8259Pair ICW2 keeps only bits 7:3 of the vector base", () => {
  const { pic } = rig();
  pic.ioWrite(0x20, 0x11);
  pic.ioWrite(0x21, 0x2f);
  pic.ioWrite(0x21, 0x04);
  pic.ioWrite(0x21, 0x01);
  assert.equal(pic.master.vectorBase, 0x28);
  pic.setIsaIrq(1, 1);
  assert.equal(pic.acknowledge(), 0x29);
});

Deno.test("I8259Pair power-on state is all zero and unmasked, as KVM creates it", () => {
  const { pic } = rig();
  for (const c of [pic.master, pic.slave]) {
    assert.deepEqual(
      [c.irr, c.isr, c.imr, c.elcr, c.vectorBase, c.priorityBase],
      [0, 0, 0, 0, 0, 0],
    );
    assert.equal(c.expecting, 0);
  }
  assert.equal(pic.master.elcrMask, 0xf8);
  assert.equal(pic.slave.elcrMask, 0xde);
  assert.equal(pic.poll, "architectural");
});

Deno.test("I8259Pair edge IRR sets on rising edges only and survives the line dropping", () => {
  const { pic } = initRig();
  pic.ioWrite(0x21, 0xff);
  pic.setIsaIrq(4, 1);
  assert.equal(pic.master.irr, 0x10);
  pic.ioWrite(0x21, 0x00);
  assert.equal(pic.acknowledge(), 0x0c);
  assert.equal(pic.master.irr, 0);
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  pic.setIsaIrq(4, 1); // still high: no edge
  assert.equal(pic.master.irr, 0);
  assert.equal(pic.intr(), false);
  pic.setIsaIrq(4, 0);
  pic.setIsaIrq(4, 1);
  pic.setIsaIrq(4, 0);
  assert.equal(pic.master.irr, 0x10, "latched edge survives the falling line");
  assert.equal(pic.intr(), true);
});

Deno.test("I8259Pair level IRR follows the line and is kept over INTA", () => {
  const { pic } = initRig();
  pic.ioWrite(0x4d1, 0x08); // IRQ11 level
  pic.setIsaIrq(11, 1);
  assert.equal(pic.slave.irr, 0x08);
  assert.equal(pic.acknowledge(), 0x73);
  assert.equal(pic.slave.irr, 0x08, "level request stays in IRR");
  assert.equal(pic.intr(), false, "blocked by its own ISR bit");
  pic.ioWrite(0xa0, NON_SPECIFIC_EOI);
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  assert.equal(pic.intr(), true, "line still high: requests again after EOI");
  pic.setIsaIrq(11, 0);
  assert.equal(pic.slave.irr, 0, "level IRR dropped with the line");
  // Master IR2 is edge-only, so its latched cascade request outlives the slave's.
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x77);
});

Deno.test("I8259Pair setIrq returns KVM's status: -1 masked, 0 coalesced, 1 otherwise", () => {
  const { pic } = initRig();
  assert.equal(pic.setIsaIrq(3, 1), 1);
  assert.equal(pic.setIsaIrq(3, 1), 1, "held high: no edge, not coalesced");
  assert.equal(pic.setIsaIrq(3, 0), 1);
  assert.equal(pic.setIsaIrq(3, 1), 0, "new edge while IRR still set");
  pic.ioWrite(0x21, 0x08);
  assert.equal(pic.setIsaIrq(3, 0), -1);
  assert.equal(pic.setIsaIrq(3, 1), -1);
  pic.ioWrite(0x4d1, 0x40);
  assert.equal(pic.setIrq(1, 6, 1), 1);
  assert.equal(pic.setIrq(1, 6, 1), 0, "level already requesting");
  pic.ioWrite(0xa1, 0x40);
  assert.equal(pic.setIrq(1, 6, 0), -1);
  assert.throws(() => pic.setIrq(0, 8, 1), RangeError);
  assert.throws(() => pic.setIsaIrq(16, 1), RangeError);
});

Deno.test("I8259Pair AEOI leaves ISR of both chips empty (X86-03)", () => {
  const { pic } = initRig(0x03);
  pic.setIsaIrq(12, 1);
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x74);
  assert.equal(readIsr(pic, 0x20), 0);
  assert.equal(readIsr(pic, 0xa0), 0);
  assert.equal(pic.ioRead(0x20), 0, "master IRR");
  assert.equal(pic.ioRead(0xa0), 0, "slave IRR");
  assert.equal(pic.intr(), false);
});

Deno.test("I8259Pair rotate on non-specific EOI makes the serviced level lowest (X86-05)", () => {
  const { pic } = initRig();
  pic.setIsaIrq(5, 1);
  assert.equal(pic.acknowledge(), 0x0d);
  pic.setIsaIrq(5, 0);
  assert.equal(readIsr(pic, 0x20), 0x20);
  pic.ioWrite(0x20, 0xa0);
  assert.equal(readIsr(pic, 0x20), 0);
  assert.equal(pic.master.priorityBase, 6);
  pic.setIsaIrq(0, 1);
  pic.setIsaIrq(6, 1);
  assert.equal(pic.acknowledge(), 0x0e);
  assert.equal(pic.intr(), false, "IRQ0 now ranks below IRQ6 in service");
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  assert.equal(pic.acknowledge(), 0x08);
});

Deno.test("I8259Pair specific EOI, rotate on specific EOI and set priority", () => {
  const { pic } = initRig();
  pic.setIsaIrq(3, 1);
  pic.acknowledge();
  pic.setIsaIrq(1, 1);
  pic.acknowledge();
  assert.equal(pic.master.isr, 0x0a);
  pic.ioWrite(0x20, 0x63); // specific EOI IR3: not the highest in service
  assert.equal(pic.master.isr, 0x02);
  assert.equal(pic.master.priorityBase, 0);
  pic.ioWrite(0x20, 0xe1); // rotate on specific EOI IR1
  assert.equal(pic.master.isr, 0);
  assert.equal(pic.master.priorityBase, 2);
  pic.ioWrite(0x20, 0xc6); // set priority: IR6 lowest
  assert.equal(pic.master.priorityBase, 7);
  pic.ioWrite(0x20, 0x40); // OCW2 no-op
  assert.equal(pic.master.priorityBase, 7);
  pic.setIsaIrq(0, 1);
  pic.setIsaIrq(7, 1);
  assert.equal(pic.acknowledge(), 0x0f, "IR7 is highest after set priority");
});

Deno.test("I8259Pair rotate in AEOI moves the priority base at INTA", () => {
  const { pic } = initRig(0x03);
  pic.ioWrite(0x20, 0x80);
  assert.equal(pic.master.rotateInAeoi, true);
  pic.setIsaIrq(3, 1);
  assert.equal(pic.acknowledge(), 0x0b);
  assert.equal(pic.master.priorityBase, 4);
  assert.equal(pic.master.isr, 0);
  pic.ioWrite(0x20, 0x00);
  assert.equal(pic.master.rotateInAeoi, false);
  pic.setIsaIrq(1, 1);
  pic.acknowledge();
  assert.equal(pic.master.priorityBase, 4, "plain AEOI does not rotate");
});

Deno.test("I8259Pair non-specific EOI clears only the highest in-service level of that chip", () => {
  const { pic } = initRig();
  pic.setIsaIrq(6, 1);
  pic.acknowledge();
  pic.setIsaIrq(2 + 8, 1); // IRQ10 via the cascade nests above IRQ6
  assert.equal(pic.acknowledge(), 0x72);
  assert.equal(pic.master.isr, 0x44);
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  assert.equal(pic.master.isr, 0x40, "IR2 was highest");
  assert.equal(pic.slave.isr, 0x04, "slave needs its own EOI");
});

Deno.test("I8259Pair masking the pending IRQ drops INTR and INTA gives spurious IRQ7 (X86-07)", () => {
  const { pic, trace, intrLog } = initRig();
  pic.setIsaIrq(3, 1);
  assert.equal(pic.intr(), true);
  pic.ioWrite(0x21, 0x08);
  assert.equal(pic.intr(), false, "masking a raised line withdraws INTR");
  assert.deepEqual(intrLog, [true, false]);
  assert.equal(pic.acknowledge(), 0x0f);
  assert.equal(readIsr(pic, 0x20), 0, "no ISR bit 7");
  assert.equal(pic.ioRead(0x20) & 0x08, 0x08, "IRR bit 3 still set");
  assert.ok(trace.events.some((e) => e.kind === "spurious" && e.text.includes("0x0f")));
});

Deno.test("I8259Pair special fully nested mode lets a higher slave IRQ nest (X86-09 A)", () => {
  const { pic } = initRig(0x11);
  assert.equal(pic.master.sfnm, true);
  pic.setIsaIrq(12, 1);
  assert.equal(pic.acknowledge(), 0x74);
  pic.setIsaIrq(8, 1);
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x70);
  assert.equal(readIsr(pic, 0xa0), 0x11);
  assert.equal(readIsr(pic, 0x20), 0x04);
});

Deno.test("I8259Pair without SFNM a slave IRQ waits for both EOIs (X86-09 B)", () => {
  const { pic } = initRig(0x01);
  pic.setIsaIrq(12, 1);
  assert.equal(pic.acknowledge(), 0x74);
  pic.setIsaIrq(8, 1);
  assert.equal(pic.intr(), false);
  pic.ioWrite(0xa0, NON_SPECIFIC_EOI);
  assert.equal(pic.intr(), false, "master still has IR2 in service");
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x70);
});

Deno.test("I8259Pair cascade mask on master IR2 gates the slave; masking withdraws INTR (X86-11)", () => {
  const { pic } = initRig(0x03);
  pic.ioWrite(0x21, 0xff);
  pic.ioWrite(0xa1, 0xff);
  pic.setIsaIrq(14, 1);
  pic.setIsaIrq(4, 1);
  pic.setIsaIrq(12, 1);
  assert.equal(pic.intr(), false);
  pic.ioWrite(0xa1, 0x00);
  assert.equal(pic.intr(), false, "master IR2 still masked");
  pic.ioWrite(0x21, 0xfb);
  assert.equal(pic.intr(), true);
  assert.equal(pic.acknowledge(), 0x74);
  assert.equal(pic.intr(), true, "IRQ14 re-requests through IR2");
  assert.equal(pic.acknowledge(), 0x76);
  assert.equal(pic.intr(), false, "IRQ4 still masked");
  pic.ioWrite(0x21, 0x00);
  assert.equal(pic.acknowledge(), 0x0c);
  assert.equal(pic.intr(), false);
});

Deno.test("I8259Pair slave request withdrawn before INTA becomes spurious IRQ15 (Bochs #11)", () => {
  const { pic, trace } = initRig();
  pic.ioWrite(0x4d1, 0x04); // IRQ10 level
  pic.setIsaIrq(10, 1);
  assert.equal(pic.intr(), true);
  pic.setIsaIrq(10, 0);
  assert.equal(pic.slave.irr, 0);
  assert.equal(pic.intr(), true, "master IR2 is edge-latched");
  assert.equal(pic.acknowledge(), 0x77);
  assert.equal(pic.slave.isr, 0, "no slave ISR bit for a spurious IRQ15");
  assert.equal(pic.master.isr, 0x04, "master must still be EOI'd");
  assert.ok(trace.events.some((e) => e.kind === "spurious" && e.text.includes("IRQ15")));
});

Deno.test("I8259Pair slave IMR withdrawing an edge request also yields spurious IRQ15", () => {
  const { pic } = initRig();
  pic.setIsaIrq(9, 1);
  pic.ioWrite(0xa1, 0x02);
  assert.equal(pic.slave.irr, 0x02, "edge request stays latched");
  assert.equal(pic.acknowledge(), 0x77);
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  pic.ioWrite(0xa1, 0x00);
  assert.equal(pic.acknowledge(), 0x71, "unmasking delivers it for real");
});

Deno.test("I8259Pair with no request at all answers spurious IRQ7 without touching ISR", () => {
  const { pic } = initRig();
  assert.equal(pic.acknowledge(), 0x0f);
  assert.equal(pic.master.isr, 0);
  assert.equal(pic.slave.isr, 0);
});

Deno.test("I8259Pair architectural poll returns 0x80|level, acknowledges, lasts one read", () => {
  const { pic } = initRig();
  pic.setIsaIrq(3, 1);
  pic.ioWrite(0x20, 0x0c);
  assert.equal(pic.master.pollPending, true);
  assert.equal(pic.ioRead(0x20), 0x83);
  assert.equal(pic.master.isr, 0x08, "poll is an acknowledge");
  assert.equal(pic.master.irr, 0);
  assert.equal(pic.ioRead(0x20), 0x00, "second read is IRR again");
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  pic.ioWrite(0x20, 0x0c);
  assert.equal(pic.ioRead(0x21), 0x00, "idle poll via the data port");
  assert.equal(pic.ioRead(0x21), 0x00, "then IMR");
});

Deno.test("I8259Pair KVM-legacy poll returns the bare level and 7 when idle", () => {
  const { pic } = initRig(0x01, { poll: "kvm-legacy" });
  pic.setIsaIrq(5, 1);
  pic.ioWrite(0x20, 0x0c);
  assert.equal(pic.ioRead(0x20), 0x05);
  assert.equal(pic.master.isr, 0, "pre-fix KVM drops the level instead of setting ISR");
  assert.equal(pic.master.irr, 0);
  pic.ioWrite(0x20, 0x0c);
  assert.equal(pic.ioRead(0x20), 0x07);
  pic.poll = "architectural";
  pic.ioWrite(0x20, 0x0c);
  assert.equal(pic.ioRead(0x20), 0x00);
});

Deno.test("I8259Pair KVM-legacy slave poll also drops the master's cascade request", () => {
  const { pic } = initRig(0x01, { poll: "kvm-legacy" });
  pic.setIsaIrq(13, 1);
  assert.equal(pic.master.irr, 0x04);
  pic.ioWrite(0xa0, 0x0c);
  assert.equal(pic.ioRead(0xa0), 0x05);
  assert.equal(pic.master.irr, 0);
  assert.equal(pic.intr(), false);
});

Deno.test("I8259Pair OCW3 applies RIS only with RR and SMM only with ESMM", () => {
  const { pic } = initRig();
  pic.setIsaIrq(3, 1);
  pic.acknowledge();
  pic.setIsaIrq(5, 1);
  pic.ioWrite(0x20, 0x0b); // RR=1 RIS=1
  assert.equal(pic.ioRead(0x20), 0x08, "ISR");
  pic.ioWrite(0x20, 0x08); // RR=0: RIS ignored
  assert.equal(pic.ioRead(0x20), 0x08, "still ISR");
  pic.ioWrite(0x20, 0x0a);
  assert.equal(pic.ioRead(0x20), 0x20, "IRR");

  pic.ioWrite(0x21, 0x08); // handler masks its own level
  assert.equal(pic.intr(), false, "IRQ5 blocked by IRQ3 in service");
  pic.ioWrite(0x20, 0x28); // SMM=1 but ESMM=0: ignored
  assert.equal(pic.master.specialMask, false);
  assert.equal(pic.intr(), false);
  pic.ioWrite(0x20, 0x68); // ESMM=1 SMM=1
  assert.equal(pic.master.specialMask, true);
  assert.equal(pic.intr(), true, "special mask mode lets a lower level through");
  assert.equal(pic.acknowledge(), 0x0d);
  pic.ioWrite(0x20, 0x48); // ESMM=1 SMM=0
  assert.equal(pic.master.specialMask, false);
});

Deno.test("I8259Pair ELCR keeps only the chipset's level-capable bits and replaces on write", () => {
  const { pic } = initRig();
  pic.ioWrite(0x4d0, 0xff);
  assert.equal(pic.ioRead(0x4d0), 0xf8);
  pic.ioWrite(0x4d1, 0xff);
  assert.equal(pic.ioRead(0x4d1), 0xde);
  pic.ioWrite(0x4d0, 0x07);
  assert.equal(pic.ioRead(0x4d0), 0x00, "IRQ0-2 cannot be made level");
  pic.ioWrite(0x4d0, 0x20);
  pic.ioWrite(0x4d0, 0x28);
  assert.equal(
    pic.ioRead(0x4d0),
    0x28,
    "overlapping rewrite keeps both bits (not crosvm's value & !old)",
  );
  pic.ioWrite(0x4d1, 0x21);
  assert.equal(pic.ioRead(0x4d1), 0x00, "IRQ8 and IRQ13 are edge only");
});

Deno.test("I8259Pair switching a high line to level makes IRR follow it", () => {
  const { pic } = initRig();
  pic.ioWrite(0x21, 0xff);
  pic.setIsaIrq(6, 1);
  pic.setIsaIrq(7, 1);
  pic.setIsaIrq(7, 0);
  assert.equal(pic.master.irr, 0xc0);
  pic.ioWrite(0x4d0, 0xc0);
  assert.equal(pic.master.irr, 0x40, "IRQ7's line is low, IRQ6's is high");
});

Deno.test("I8259Pair rejects non-PIC ports", () => {
  const { pic } = rig();
  assert.throws(() => pic.ioWrite(0x22, 0), RangeError);
  assert.throws(() => pic.ioRead(0x4d2), RangeError);
});

Deno.test("I8259Pair traces the chain from a raise to INTR and INTA with hex values", () => {
  const { pic, trace } = initRig();
  const before = trace.events.length;
  pic.setIsaIrq(12, 1);
  const intr = trace.events.findLast((e) => e.kind === "intr");
  assert.ok(intr);
  const chain = trace.chain(intr.id).map((e) => e.kind);
  assert.deepEqual(chain.slice(0, 1), ["irr.set"]);
  assert.ok(chain.includes("intr"));
  pic.acknowledge();
  const inta = trace.events.findLast((e) => e.kind === "inta");
  assert.ok(inta && inta.text.includes("0x74") && inta.text.includes("IRQ12"));
  assert.ok(trace.events.length > before);
  assert.ok(trace.events.every((e) => e.source === "pic"));
});

Deno.test("I8259Pair records nothing while the trace is disabled", () => {
  const { pic, trace } = rig();
  trace.enabled = false;
  init(pic);
  pic.setIsaIrq(1, 1);
  pic.acknowledge();
  pic.ioWrite(0x20, NON_SPECIFIC_EOI);
  assert.equal(trace.events.length, 0);
  assert.equal(pic.master.isr, 0);
});

Deno.test("I8259Pair reset returns to power-on state and drops INTR", () => {
  const { pic, intrLog } = initRig();
  pic.ioWrite(0x4d1, 0x02);
  pic.setIsaIrq(9, 1);
  assert.equal(pic.intr(), true);
  pic.reset();
  assert.equal(pic.intr(), false);
  assert.equal(pic.slave.elcr, 0);
  assert.equal(pic.slave.irr, 0);
  assert.equal(pic.master.vectorBase, 0);
  assert.deepEqual(intrLog, [true, false]);
});

Deno.test("I8259Pair.setIrq() coalesces a master IR2 raise with a slave request (KVM pulses IR2)", () => {
  const { pic } = rig();
  assert.equal(pic.setIrq(1, 1, 1), 1, "slave IR1 requests");
  assert.equal(pic.master.irr & 0x04, 0x04, "the pulse latched master IR2");
  // The pulse left master IR2 low: a raise is a rising edge on a set IRR bit.
  assert.equal(pic.setIrq(0, 2, 1), 0);
  // Without a slave request, the same raise is new.
  const fresh = rig().pic;
  assert.equal(fresh.setIrq(0, 2, 1), 1);
});

Deno.test("I8259Pair ICW1: KVM acks each dropped edge request when a vCPU takes INTR (kvm_pic_reset)", () => {
  for (const accepts of [true, false]) {
    const trace = new Trace(() => 0);
    const acked: number[] = [];
    const pic = new I8259Pair({
      trace,
      name: "pic",
      ack: (irq) => acked.push(irq),
      acceptsIntr: () => accepts,
    });
    init(pic);
    pic.ioWrite(0x4d1, 0x02); // ELCR: slave IR1 (IRQ9) level-triggered
    pic.setIsaIrq(3, 1); // master IR3, edge
    pic.setIsaIrq(12, 1); // slave IR4, edge
    pic.setIsaIrq(9, 1); // slave IR1, level
    pic.ioWrite(0x21, 0xff);
    pic.ioWrite(0xa1, 0xff);
    pic.ioWrite(0xa0, 0x11); // ICW1 on the slave only
    assert.deepEqual(acked, accepts ? [12] : [], "the slave's dropped edge, not its level request");
    assert.equal(pic.kvmState(1).irr, 0x02, "the level request stays");
    const m = pic.kvmState(0);
    const edges = [0, 1, 2, 3, 4, 5, 6, 7].filter((i) => (m.irr & ~m.elcr & (1 << i)) !== 0);
    assert.ok(edges.includes(3));
    pic.ioWrite(0x20, 0x11);
    assert.deepEqual(acked, accepts ? [12, ...edges] : []);
  }
});

Deno.test("I8259Pair special mask mode: the datasheet lets a lower level past a masked in-service one; KVM's policy stores SMM and ignores it", () => {
  for (const specialMask of ["architectural", "kvm"] as const) {
    const { pic } = initRig(0x01, { specialMask });
    pic.setIsaIrq(3, 1);
    assert.equal(pic.acknowledge(), 0x0b);
    pic.ioWrite(0x21, 0x08); // mask IR3, in service
    pic.ioWrite(0x20, 0x68); // OCW3: ESMM + SMM
    assert.equal(pic.master.specialMask, true, `${specialMask}: the bit is stored`);
    pic.setIsaIrq(5, 1);
    assert.equal(pic.intr(), specialMask === "architectural", specialMask);
    if (specialMask === "kvm") {
      pic.ioWrite(0x20, NON_SPECIFIC_EOI); // ends IR3
      assert.equal(pic.intr(), true);
    }
    assert.equal(pic.acknowledge(), 0x0d);
  }
});
