import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { EOI_STORM_DELAY_NS, EOI_STORM_LIMIT, type RteInit } from "./ioapic.ts";
import { QEMU_IOAPIC_PINS, QemuIoapic, type QemuIoapicRoute } from "./qemu_ioapic.ts";
import { EventQueue } from "../core/event_queue.ts";
import { X86Vm } from "./vm.ts";
import { writeRte } from "./test_vm.ts";

/** QEMU's I/O APIC on a recording host: each KVM_IRQ_LINE and each route commit. */
function rig(status = 1, version?: number) {
  const lines: [number, number][] = [];
  const signalled: number[] = [];
  const commits: QemuIoapicRoute[][] = [];
  const timers: { delay: number; fire: () => void }[] = [];
  const io = new QemuIoapic({
    setIrq: (gsi, level) => (lines.push([gsi, level]), level === 1 ? status : 1),
    updateRoutes: (routes) => commits.push(routes.map((r) => ({ ...r }))),
    schedule: (delay, fire) => timers.push({ delay, fire }),
    signal: (fd) => signalled.push(fd),
    trace: new Trace(() => 0),
    name: "ioapic",
  }, version);
  return { io, lines, commits, timers, signalled };
}

Deno.test("QEMU I/O APIC: IOAPICVER 0x00170020, an index that is no register reads 0", () => {
  const { io } = rig();
  assert.equal(io.readIndirect(0x01), 0x00170020);
  assert.equal(io.readIndirect(0x03), 0);
  assert.equal(io.readIndirect(0x10 + 2 * QEMU_IOAPIC_PINS), 0);
  io.writeIndirect(0x00, 0x0f000000);
  assert.equal(io.readIndirect(0x00), 0x0f000000);
  assert.equal(io.readIndirect(0x02), 0x0f000000); // ARB answers the ID
  assert.equal(io.rte(7).low, 0x10000); // masked at reset
});

Deno.test("QEMU I/O APIC version=0x11: IOAPICVER 0x00170011 and no EOI register; 0x11 or 0x20 only", () => {
  const { io, lines } = rig(1, 0x11);
  assert.equal(io.readIndirect(0x01), 0x00170011);
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  io.setIrq(5, 1);
  assert.equal(io.rte(5).low & 0x4000, 0x4000);
  io.write(0x40, 0x45); // the EOI register of version 0x20: nothing here
  assert.equal(io.rte(5).low & 0x4000, 0x4000);
  assert.equal(lines.length, 1);
  io.eoiBroadcast(0x45); // a KVM_EXIT_IOAPIC_EOI still reaches it
  assert.equal(io.rte(5).low & 0x4000, 0x4000); // the line is high: sent again
  assert.equal(lines.length, 2);
  assert.equal(rig(1, 0x20).io.version, 0x20);
  assert.throws(() => rig(1, 0x21), RangeError);
});

Deno.test("QEMU I/O APIC: an entry write commits the route of every unmasked entry, masked ones left out", () => {
  const { io, commits } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level", dest: 3, dest_mode: "logical" });
  const last = commits.at(-1)!;
  assert.deepEqual(last, [{ gsi: 5, addressLo: 0xfee03004, data: 0x8045 }]);
  writeRte(io, 5, { vector: 0x45, trigger: "level", dest: 3, mask: 1 });
  assert.deepEqual(commits.at(-1), []); // the old route is not withdrawn
  // RTE bits 55:48 go to address bits 11:4 whole (QEMU's dest_idx).
  io.writeIndirect(0x10 + 2 * 6 + 1, 0x01fe0000);
  io.writeIndirect(0x10 + 2 * 6, 0x31);
  assert.deepEqual(commits.at(-1), [{ gsi: 6, addressLo: 0xfee01fe0, data: 0x31 }]);
});

Deno.test("QEMU I/O APIC: an edge is KVM_IRQ_LINE 1 then 0; on a masked pin it is dropped; GSI 0 is pin 2", () => {
  const { io, lines } = rig();
  writeRte(io, 2, { vector: 0x30, mask: 1 });
  assert.equal(io.setIrq(0, 1), -1);
  assert.equal(io.line(2), 0);
  writeRte(io, 2, { vector: 0x30 });
  assert.deepEqual(lines, []);
  assert.equal(io.setIrq(0, 1), 1);
  assert.deepEqual(lines, [[2, 1], [2, 0]]);
  assert.equal(io.line(2), 0);
  assert.equal(io.setIrq(QEMU_IOAPIC_PINS, 1), -1);
});

Deno.test("QEMU I/O APIC: a level send sets remote IRR even when nobody took it", () => {
  const { io, lines } = rig(0);
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  assert.equal(io.setIrq(5, 1), 0);
  assert.equal(io.rte(5).low & 0x4000, 0x4000);
  // Written again with the line high: remote IRR holds it back.
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  assert.deepEqual(lines, [[5, 1]]);
  assert.equal(io.setIrq(5, 1), 0); // coalesced: no KVM_IRQ_LINE
  assert.deepEqual(lines, [[5, 1]]);
});

Deno.test("QEMU I/O APIC: the EOI broadcast clears level entries of the vector and sends again while the line is high", () => {
  const { io, lines } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  writeRte(io, 6, { vector: 0x45 }); // an edge entry sharing the vector
  io.setIrq(5, 1);
  io.setIrq(6, 1);
  lines.length = 0;
  io.eoiBroadcast(0x45);
  assert.deepEqual(lines, [[5, 1]]); // the edge entry is not sent again
  io.setIrq(5, 0);
  io.write(0x40, 0x45); // the EOI register
  assert.equal(io.rte(5).low & 0x4000, 0);
  assert.deepEqual(lines, [[5, 1]]);
});

Deno.test("QEMU I/O APIC: a flip to edge clears remote IRR, which the guest cannot write", () => {
  const { io } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  io.setIrq(5, 1);
  writeRte(io, 5, { vector: 0x45, trigger: "level", remote_irr: 0 } as RteInit);
  assert.equal(io.rte(5).low & 0x4000, 0x4000);
  writeRte(io, 5, { vector: 0x45 });
  assert.equal(io.rte(5).low & 0x4000, 0);
});

Deno.test("QEMU I/O APIC: the storm guard delays the 10000th back-to-back send by 10 ms", () => {
  const { io, lines, timers } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  io.setIrq(5, 1);
  for (let i = 1; i < EOI_STORM_LIMIT; i++) io.eoiBroadcast(0x45);
  const sent = lines.length;
  io.eoiBroadcast(0x45);
  assert.equal(lines.length, sent);
  assert.equal(timers.length, 1);
  assert.equal(timers[0].delay, EOI_STORM_DELAY_NS);
  timers[0].fire();
  assert.equal(lines.length, sent + 1);
});

Deno.test("QEMU I/O APIC: an unmasked ExtINT entry is an input error (no userspace 8259 here)", () => {
  const { io } = rig();
  assert.throws(() => writeRte(io, 0, { delivery_mode: "extint" }), CommandInputError);
});

Deno.test("QEMU I/O APIC: snapshot puts entries, requests and selector back", () => {
  const { io } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  io.setIrq(5, 1);
  const back = io.snapshot();
  io.setIrq(5, 0);
  io.eoiBroadcast(0x45);
  io.write(0x00, 0x22);
  back();
  assert.equal(io.line(5), 1);
  assert.equal(io.rte(5).low & 0x4000, 0x4000);
  assert.equal(io.read(0x00), 0x10 + 2 * 5);
});

Deno.test("X86Vm with split_ioapic qemu: 24 MSI routes reserved, the EOI exit reaches QEMU's broadcast", () => {
  const queue = new EventQueue();
  const vm = new X86Vm("g", {
    vcpus: 1,
    irqchip: "split",
    splitIoapic: "qemu",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
  }, { trace: new Trace(() => 0), queue, now: () => 0 });
  const routes = vm.routing.entries();
  assert.equal(routes.length, QEMU_IOAPIC_PINS);
  assert.ok(routes.every((e, i) => e.type === "msi" && e.gsi === i && e.addressLo === 0));
  assert.equal(vm.ioapic, null);
  const io = vm.qemuIoapic!;
  const lapic = vm.cpus[0].lapic;
  lapic.write(0xf0, 0x1ff);
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  assert.deepEqual(vm.ioapicHandledVectors(0), [0x45]);
  assert.equal(vm.deviceLine(5, 1), 1);
  assert.equal(lapic.acknowledge(), 0x45);
  vm.deviceLine(5, 0);
  lapic.eoi();
  assert.equal(vm.cpus[0].run.ioapicEoiExits, 1);
  assert.equal(io.rte(5).low & 0x4000, 0);
});

Deno.test("QEMU I/O APIC: an emulated resamplefd is signalled at every EOI broadcast of its pin's level vector", () => {
  const { io, signalled } = rig();
  writeRte(io, 5, { vector: 0x45, trigger: "level" });
  writeRte(io, 6, { vector: 0x45 }); // edge: no resample
  assert.equal(io.setResamplefd(5, 7), true);
  assert.equal(io.setResamplefd(6, 8), true);
  assert.equal(io.setResamplefd(24, 9), false); // not a pin
  io.eoiBroadcast(0x45); // remote IRR clear: notified all the same
  io.eoiBroadcast(0x46);
  assert.deepEqual(signalled, [7]);
  io.setResamplefd(5, -1);
  io.eoiBroadcast(0x45);
  assert.deepEqual(signalled, [7]);
});
