import assert from "node:assert/strict";
import type { ApicMessage, ApicSink } from "./apic_message.ts";
import { Trace } from "../core/trace.ts";
import {
  decodeRte,
  encodeRte,
  EOI_STORM_DELAY_NS,
  EOI_STORM_LIMIT,
  formatRte,
  Ioapic,
  ioapicIdRead,
  ioapicIdWritten,
  type IoapicOptions,
  redirectionPin,
  type RteInit,
  rteLowWritten,
} from "./ioapic.ts";
import { writeRte } from "./test_vm.ts";

/** Records every message and answers with a configurable "CPUs reached". */
class FakeSink implements ApicSink {
  readonly msgs: ApicMessage[] = [];
  result = 1;
  deliver(msg: ApicMessage): number {
    this.msgs.push({ ...msg });
    return this.result;
  }
  get vectors(): number[] {
    return this.msgs.map((m) => m.vector);
  }
}

interface Rig {
  io: Ioapic;
  sink: FakeSink;
  trace: Trace;
  timers: { delay: number; fire: () => void }[];
}

function rig(options?: IoapicOptions): Rig {
  const sink = new FakeSink();
  const trace = new Trace(() => 0);
  const timers: { delay: number; fire: () => void }[] = [];
  const io = new Ioapic({
    sink,
    trace,
    name: "ioapic",
    schedule: (delay, fire) => timers.push({ delay, fire }),
  }, options);
  return { io, sink, trace, timers };
}

function kinds(trace: Trace): string[] {
  return trace.events.map((e) => e.kind);
}

Deno.test("Ioapic resets every redirection entry to masked", () => {
  const { io } = rig();
  for (let pin = 0; pin < 24; pin++) {
    assert.deepEqual(io.rte(pin), { low: 0x00010000, high: 0 });
    assert.equal(io.remoteIrr(pin), 0);
    assert.equal(io.line(pin), 0);
  }
});

Deno.test("Ioapic version register reads version | (pins-1) << 16", () => {
  const kvm = rig().io;
  kvm.write(0x00, 0x01);
  assert.equal(kvm.read(0x10), 0x00170011);
  assert.equal(rig({ version: 0x20 }).io.readIndirect(0x01), 0x00170020);
  assert.equal(rig({ pins: 16 }).io.readIndirect(0x01), 0x000f0011);
  kvm.writeIndirect(0x01, 0xffffffff);
  assert.equal(kvm.readIndirect(0x01), 0x00170011);
});

Deno.test("Ioapic ID keeps bits 27:24 and the arbitration register mirrors it", () => {
  const { io } = rig();
  io.writeIndirect(0x00, 0xffffffff);
  assert.equal(io.readIndirect(0x00), 0x0f000000);
  assert.equal(io.readIndirect(0x02), 0x0f000000);
  io.writeIndirect(0x02, 0);
  assert.equal(io.readIndirect(0x02), 0x0f000000);
});

Deno.test("Ioapic IOREGSEL keeps 8 bits and unknown MMIO offsets read 0", () => {
  const { io } = rig();
  io.write(0x00, 0x1ff);
  assert.equal(io.read(0x00), 0xff);
  assert.equal(io.read(0x20), 0);
  assert.equal(io.read(0x40), 0);
});

Deno.test("Ioapic xenRegisters: IOREGSEL keeps 32 bits, a select above 0xFF or of no register reads 0 and writes nothing (Xen vioapic)", () => {
  const { io } = rig({ pins: 48, xenRegisters: true });
  io.write(0x00, 0x12345678);
  assert.equal(io.read(0x00), 0x12345678, "the whole select");
  io.write(0x00, 0x110); // 0x10 with bit 8: not RTE0 in Xen
  io.write(0x10, 0x20);
  assert.equal(io.read(0x10), 0);
  assert.equal(io.readIndirect(0x10), 0x00010000, "RTE0 untouched");
  assert.equal(io.readIndirect(0x10 + 2 * 48), 0, "past the last of 48 pins");
  assert.equal(io.readIndirect(0x03), 0);
  assert.equal(io.readIndirect(0x01), 0x002f0011, "48 pins, version 0x11");
  io.write(0x00, 0);
  assert.equal(io.read(0x00), 0, "a byte write of 0 leaves nothing behind (XTF xsa-239)");
});

Deno.test("Ioapic reads all-ones past the last RTE and below 0x10", () => {
  const { io } = rig();
  assert.equal(io.readIndirect(0x10 + 2 * 24), 0xffffffff);
  assert.equal(io.readIndirect(0x10 + 2 * 24 + 1), 0xffffffff);
  assert.equal(io.readIndirect(0x03), 0xffffffff);
  assert.equal(io.readIndirect(0x0f), 0xffffffff);
  io.writeIndirect(0x10 + 2 * 24, 0);
  assert.equal(io.readIndirect(0x10 + 2 * 24), 0xffffffff);
  assert.equal(io.readIndirect(0x10 + 2 * 23), 0x00010000);
});

Deno.test("Ioapic RTE writes cannot set delivery status or remote IRR", () => {
  const { io } = rig();
  io.writeIndirect(0x10 + 2 * 5, 0x0001_7076); // bits 12, 13, 14 set, masked
  assert.deepEqual(io.rte(5), { low: 0x0001_2076, high: 0 }); // polarity (13) kept
  assert.equal(io.remoteIrr(5), 0);
  io.writeIndirect(0x10 + 2 * 5 + 1, 0xff000000);
  assert.equal(io.rte(5).high, 0xff000000);
  assert.equal(decodeRte(io.rte(5).low, io.rte(5).high).dest, 0xff);
});

Deno.test("Ioapic edge pin delivers once per rising edge (X86-13)", () => {
  const { io, sink } = rig();
  writeRte(io, 14, { vector: 0x76, trigger: "edge", dest: 0 });
  const statuses = [1, 1, 0, 1, 0].map((l) => io.setLine(14, l as 0 | 1));
  assert.deepEqual(statuses, [1, 0, 1, 1, 1]);
  assert.deepEqual(sink.vectors, [0x76, 0x76]);
  assert.deepEqual(sink.msgs[0], {
    vector: 0x76,
    deliveryMode: 0,
    logical: false,
    dest: 0,
    shorthand: 0,
    level: false,
    assert: true,
    sourceId: -1,
    source: "ioapic",
    redirectionHint: false,
  });
  assert.equal(io.remoteIrr(14), 0);
});

Deno.test("Ioapic loses an edge that arrives while masked", () => {
  const { io, sink } = rig();
  writeRte(io, 3, { vector: 0x33, mask: 1 });
  assert.equal(io.setLine(3, 1), -1);
  writeRte(io, 3, { vector: 0x33 });
  assert.equal(sink.msgs.length, 0);
  assert.equal(io.setLine(3, 1), 0); // still high: no new edge
  io.setLine(3, 0);
  assert.equal(io.setLine(3, 1), 1);
  assert.deepEqual(sink.vectors, [0x33]);
});

Deno.test("Ioapic.eoi() re-delivers a level pin whose line is still high (X86-15)", () => {
  const { io, sink, trace } = rig();
  writeRte(io, 14, { vector: 0x9a, trigger: "level", dest: 0 });
  assert.equal(io.setLine(14, 1), 1);
  assert.equal(io.remoteIrr(14), 1);
  assert.equal(sink.msgs[0].level, true);
  assert.equal(io.setLine(14, 1), -1); // waiting for EOI
  io.eoi(0x9a); // handler EOIs without deasserting
  assert.deepEqual(sink.vectors, [0x9a, 0x9a]);
  assert.equal(io.remoteIrr(14), 1);
  io.setLine(14, 0); // second time the handler deasserts first
  io.eoi(0x9a);
  assert.deepEqual(sink.vectors, [0x9a, 0x9a]);
  assert.equal(io.remoteIrr(14), 0);
  assert.ok(kinds(trace).includes("remote_irr.clear"));
});

Deno.test("Ioapic fires a masked level pin when it is unmasked (X86-17)", () => {
  const { io, sink } = rig();
  writeRte(io, 14, { vector: 0x82, trigger: "level", mask: 1 });
  assert.equal(io.setLine(14, 1), -1);
  assert.equal(io.remoteIrr(14), 0);
  assert.equal(sink.msgs.length, 0);
  writeRte(io, 14, { vector: 0x82, trigger: "level" });
  assert.deepEqual(sink.vectors, [0x82]);
  assert.equal(io.remoteIrr(14), 1);
});

Deno.test("Ioapic masked in handler, EOI, unmask re-delivers (X86-19)", () => {
  const { io, sink } = rig();
  writeRte(io, 14, { vector: 0x83, trigger: "level" });
  assert.equal(io.setLine(14, 1), 1);
  writeRte(io, 14, { vector: 0x83, trigger: "level", mask: 1 }); // handler masks
  assert.equal(io.remoteIrr(14), 1);
  io.eoi(0x83);
  assert.equal(io.remoteIrr(14), 0);
  assert.equal(sink.msgs.length, 1);
  writeRte(io, 14, { vector: 0x83, trigger: "level" }); // unmask
  assert.deepEqual(sink.vectors, [0x83, 0x83]);
  assert.equal(io.remoteIrr(14), 1);
});

Deno.test("Ioapic writing trigger=edge clears remote IRR", () => {
  const { io, sink } = rig();
  writeRte(io, 9, { vector: 0x49, trigger: "level", mask: 1 });
  writeRte(io, 9, { vector: 0x49, trigger: "level" });
  io.setLine(9, 1);
  assert.equal(io.remoteIrr(9), 1);
  writeRte(io, 9, { vector: 0x49, trigger: "edge", mask: 1 });
  assert.equal(io.remoteIrr(9), 0);
  assert.equal(sink.msgs.length, 1);
  // Back to level with the line still high: serviced again at once.
  writeRte(io, 9, { vector: 0x49, trigger: "level" });
  assert.equal(sink.msgs.length, 2);
  assert.equal(io.remoteIrr(9), 1);
});

Deno.test("Ioapic latches remote IRR unless the delivery returned 0", () => {
  const a = rig();
  a.sink.result = 0; // targets exist but none accepted
  writeRte(a.io, 4, { vector: 0x44, trigger: "level" });
  assert.equal(a.io.setLine(4, 1), 0);
  assert.equal(a.io.remoteIrr(4), 0);
  const b = rig();
  b.sink.result = -1; // no APIC matched
  writeRte(b.io, 4, { vector: 0x44, trigger: "level" });
  assert.equal(b.io.setLine(4, 1), -1);
  assert.equal(b.io.remoteIrr(4), 1);
});

Deno.test("Ioapic drops ExtINT redirection entries", () => {
  const { io, sink, trace } = rig();
  writeRte(io, 0, { vector: 0x20, delivery_mode: "extint", trigger: "level" });
  assert.equal(io.setLine(0, 1), 0);
  assert.equal(sink.msgs.length, 0);
  assert.equal(io.remoteIrr(0), 0);
  assert.ok(kinds(trace).includes("extint.dropped"));
});

Deno.test("Ioapic coalesces RTC ticks until EOI (X86-33)", () => {
  const { io, sink } = rig();
  writeRte(io, 8, { vector: 0x28 });
  const pulse = () => {
    const s = io.setLine(8, 1);
    io.setLine(8, 0);
    return s;
  };
  assert.equal(pulse(), 1);
  assert.equal(io.rtcPendingEoi, 1);
  assert.equal(io.wantsEdgeEoi(0x28), true);
  assert.equal(pulse(), 0);
  assert.equal(sink.msgs.length, 1);
  io.edgeEoi(0x27); // some other vector
  assert.equal(pulse(), 0);
  io.edgeEoi(0x28);
  assert.equal(io.rtcPendingEoi, 0);
  assert.equal(pulse(), 1);
  assert.deepEqual(sink.vectors, [0x28, 0x28]);
});

Deno.test("Ioapic intercepts an edge pin's EOI only while it has an ack notifier", () => {
  const sink = new FakeSink();
  const notified = new Set<number>(), acked: number[] = [];
  const io = new Ioapic({
    sink,
    trace: new Trace(() => 0),
    name: "ioapic",
    ack: (pin) => acked.push(pin),
    hasAckNotifier: (pin) => notified.has(pin),
  });
  writeRte(io, 10, { vector: 0x9a });
  writeRte(io, 11, { vector: 0x9b, trigger: "level" });
  writeRte(io, 12, { vector: 0x9a, trigger: "level" });
  assert.equal(io.wantsEdgeEoi(0x41), false); // no entry holds it
  assert.equal(io.wantsEdgeEoi(0x9b), true); // a level entry's vector
  // Pin 12's level entry already makes 0x9a wanted; the edge pin alone does not.
  writeRte(io, 12, { vector: 0x30, trigger: "level" });
  assert.equal(io.wantsEdgeEoi(0x9a), false);
  notified.add(10);
  assert.equal(io.wantsEdgeEoi(0x9a), true);
  io.setLine(10, 1);
  io.edgeEoi(0x9a);
  assert.deepEqual(acked, [10]);
  assert.equal(io.remoteIrr(10), 0);
  assert.equal(sink.msgs.length, 1); // nothing re-delivered
  // The RTC pin's vector is wanted with or without a tick pending.
  writeRte(io, 8, { vector: 0x28 });
  assert.equal(io.wantsEdgeEoi(0x28), true);
});

Deno.test("Ioapic's edge EOI acks a level pin with the vector but keeps its remote IRR", () => {
  const acked: number[] = [];
  const sink = new FakeSink();
  const io = new Ioapic({
    sink,
    trace: new Trace(() => 0),
    name: "ioapic",
    ack: (pin) => acked.push(pin),
  });
  writeRte(io, 14, { vector: 0x76, trigger: "level" });
  io.setLine(14, 1);
  io.edgeEoi(0x76);
  assert.deepEqual(acked, [14]);
  assert.equal(io.remoteIrr(14), 1);
  assert.equal(sink.msgs.length, 1);
});

Deno.test("Ioapic counts an RTC tick's EOIs only from the vCPUs it reached (dest_map)", () => {
  const sink = new FakeSink();
  sink.result = 2;
  let reached: number[] = [0, 1];
  const io = new Ioapic({
    sink,
    trace: new Trace(() => 0),
    name: "ioapic",
    rtcDestinations: () => reached,
  });
  writeRte(io, 8, { vector: 0x28 });
  assert.equal(io.setLine(8, 1), 2);
  io.setLine(8, 0);
  io.edgeEoi(0x28, 5); // not a destination
  io.edgeEoi(0x28, 0);
  io.edgeEoi(0x28, 0); // vcpu0 again: its bit is already clear
  assert.equal(io.rtcPendingEoi, 1);
  assert.equal(io.setLine(8, 1), 0);
  io.edgeEoi(0x28, 1);
  assert.equal(io.rtcPendingEoi, 0);
  // KVM_SET_IRQCHIP rebuilds the tracking from the vCPUs with the vector pending.
  reached = [1];
  io.setKvmState({ id: 0, ioregsel: 0, irr: 0, redirtbl: [] });
  assert.equal(io.rtcPendingEoi, 1);
});

Deno.test("Ioapic tracks the RTC only for KVM_IRQ_LINE_STATUS callers", () => {
  const { io, sink } = rig();
  writeRte(io, 8, { vector: 0x28 });
  assert.equal(io.setLine(8, 1, false), 1);
  io.setLine(8, 0, false);
  assert.equal(io.rtcPendingEoi, 0);
  assert.equal(io.setLine(8, 1, false), 1);
  assert.equal(sink.msgs.length, 2);
});

Deno.test("Ioapic EOI register works only on version 0x20", () => {
  for (const [version, expected] of [[0x11, 1], [0x20, 2]]) {
    const { io, sink } = rig({ version });
    writeRte(io, 10, { vector: 0x5a, trigger: "level" });
    io.setLine(10, 1);
    io.write(0x40, 0x5a);
    assert.equal(sink.msgs.length, expected, `version ${version}`);
    assert.equal(io.remoteIrr(10), 1);
  }
});

Deno.test("Ioapic.eoi() re-delivers an edge pin sharing the vector, as KVM does", () => {
  const { io, sink } = rig();
  writeRte(io, 1, { vector: 0x61, trigger: "edge" });
  writeRte(io, 2, { vector: 0x61, trigger: "level" });
  io.setLine(1, 1);
  io.setLine(2, 1);
  io.setLine(2, 0);
  io.eoi(0x61);
  assert.deepEqual(sink.vectors, [0x61, 0x61, 0x61]);
});

Deno.test("Ioapic delays the 10000th back-to-back EOI re-delivery by 10 ms", () => {
  const { io, sink, trace, timers } = rig();
  trace.enabled = false;
  writeRte(io, 14, { vector: 0x9a, trigger: "level" });
  io.setLine(14, 1);
  for (let i = 0; i < EOI_STORM_LIMIT; i++) io.eoi(0x9a);
  assert.equal(sink.msgs.length, EOI_STORM_LIMIT); // 1 + 9999
  assert.equal(io.remoteIrr(14), 0);
  assert.equal(timers.length, 1);
  assert.equal(timers[0].delay, EOI_STORM_DELAY_NS);
  timers[0].fire();
  assert.equal(sink.msgs.length, EOI_STORM_LIMIT + 1);
  assert.equal(io.remoteIrr(14), 1);
  assert.equal(trace.events.length, 0);
});

Deno.test("Ioapic.reset() masks every entry and keeps the other bits", () => {
  const { io } = rig();
  writeRte(io, 6, { vector: 0x66, trigger: "level", dest: 3 });
  io.setLine(6, 1);
  io.reset();
  assert.deepEqual(io.rte(6), { low: 0x0001_c066, high: 0x03000000 });
  assert.equal(io.line(6), 0);
});

Deno.test("Ioapic trace links the send to the line change that caused it", () => {
  const { io, trace } = rig();
  writeRte(io, 14, { vector: 0x76, trigger: "level" });
  io.setLine(14, 1);
  const last = trace.events[trace.events.length - 1];
  assert.equal(last.kind, "remote_irr.set");
  assert.deepEqual(trace.chain(last.id).map((e) => e.kind), ["line", "remote_irr.set"]);
  const send = trace.events.find((e) => e.kind === "send")!;
  assert.equal(send.text, "pin 14 vector 0x76 fixed physical dest 0x00 level -> 1");
  assert.equal(trace.get(send.cause)!.kind, "line");
});

Deno.test("Ioapic.setLine() rejects a pin it does not have", () => {
  const { io } = rig({ pins: 8 });
  assert.throws(() => io.setLine(8, 1), RangeError);
});

Deno.test("encodeRte and decodeRte round-trip every field", () => {
  const words = encodeRte({
    vector: 0xa5,
    delivery_mode: "nmi",
    dest_mode: "logical",
    polarity: "low",
    trigger: "level",
    mask: 1,
    dest: 0xc3,
  });
  assert.deepEqual(words, { low: 0x0001_aca5, high: 0xc3000000 });
  assert.deepEqual(decodeRte(words.low, words.high), {
    vector: 0xa5,
    delivery_mode: 4,
    dest_mode: 1,
    delivery_status: 0,
    polarity: 1,
    remote_irr: 0,
    trigger: 1,
    mask: 1,
    dest: 0xc3,
  });
  assert.deepEqual(encodeRte({ delivery_mode: 7, dest_mode: 0 }), { low: 0x700, high: 0 });
  assert.equal(
    formatRte(words.low, words.high),
    "vector=0xa5 delivery_mode=nmi dest_mode=logical delivery_status=0 polarity=low " +
      "remote_irr=0 trigger=level mask=1 dest=0xc3",
  );
});

Deno.test("encodeRte rejects unknown names and values that do not fit", () => {
  assert.throws(() => encodeRte({ vector: 0x100 }), RangeError);
  assert.throws(() => encodeRte({ trigger: "rising" as "edge" }), RangeError);
  assert.throws(() => encodeRte({ delivery_mode: "startup" as "fixed" }), RangeError);
  assert.throws(() => encodeRte({ bogus: 1 } as RteInit), RangeError);
});

Deno.test("redirectionPin: two dwords per entry from 0x10, none below it or past the last pin", () => {
  assert.deepEqual(
    [0x00, 0x02, 0x0f, 0x10, 0x11, 0x12, 0x3f, 0x40].map((i) => redirectionPin(i, 24)),
    [-1, -1, -1, 0, 0, 1, 23, -1],
  );
  assert.equal(redirectionPin(0x40, 32), 24);
  assert.equal(redirectionPin(0x40, 48), 24);
});

Deno.test("rteLowWritten: a write keeps delivery status and remote IRR, takes every other bit", () => {
  const ro = (1 << 12) | (1 << 14);
  assert.equal(rteLowWritten(ro, 0), ro);
  assert.equal(rteLowWritten(0, ro), 0);
  assert.equal(rteLowWritten(1 << 14, 0x1_a031), 0x1_e031 & ~(1 << 12));
  assert.equal(rteLowWritten(0xffff_ffff, 0) >>> 0, ro);
});

Deno.test("IOAPICID: a write keeps bits 27:24, a read gives them back there and nothing else", () => {
  assert.equal(ioapicIdWritten(0xffff_ffff), 0xf);
  assert.equal(ioapicIdWritten(0x0200_0000), 2);
  assert.equal(ioapicIdWritten(0x00ff_ffff), 0);
  assert.equal(ioapicIdWritten(0x1000_0000), 0);
  assert.equal(ioapicIdRead(0xf), 0x0f00_0000);
  assert.equal(ioapicIdRead(ioapicIdWritten(0xabcd_ef01)), 0x0b00_0000);
});
