import assert from "node:assert/strict";
import type { ApicMessage, ApicSink } from "./apic_message.ts";
import { Trace } from "../core/trace.ts";
import { encodeRte, Ioapic } from "./ioapic.ts";
import { encodeMsi } from "./msi.ts";
import {
  GsiRouting,
  type GsiRoutingOptions,
  type PicLines,
  type RoutingEntry,
} from "./kvm_routing.ts";

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

class FakePic implements PicLines {
  readonly calls: [number, number, number][] = [];
  result = 1;
  setIrq(irqchip: 0 | 1, pin: number, level: 0 | 1): number {
    this.calls.push([irqchip, pin, level]);
    return this.result;
  }
}

function rig(opts: Partial<GsiRoutingOptions> & { noPic?: boolean } = {}) {
  const sink = new FakeSink();
  const trace = new Trace(() => 0);
  const ioapic = new Ioapic({ sink, trace, name: "ioapic" });
  const pic = new FakePic();
  const routing = new GsiRouting({
    pic: opts.noPic ? undefined : pic,
    ioapic,
    sink,
    trace,
    mode: "kernel",
    ...opts,
  });
  return { sink, trace, ioapic, pic, routing };
}

function unmask(io: Ioapic, pin: number, vector: number, trigger: "edge" | "level" = "edge") {
  const w = encodeRte({ vector, trigger });
  io.writeIndirect(0x10 + 2 * pin + 1, w.high);
  io.writeIndirect(0x10 + 2 * pin, w.low);
}

const ioapicRoute = (gsi: number, pin: number): RoutingEntry => ({
  gsi,
  type: "irqchip",
  irqchip: 2,
  pin,
});
const msiRoute = (gsi: number, vector = 0x41): RoutingEntry => ({
  gsi,
  type: "msi",
  ...encodeMsi({ dest: 0, vector }),
});

Deno.test("GsiRouting starts with KVM's default table in kernel mode", () => {
  const { routing } = rig();
  assert.equal(routing.entries().length, 40);
  assert.deepEqual(GsiRouting.kvmDefault(), routing.entries());
  assert.deepEqual(routing.routesOf(0), [
    { gsi: 0, type: "irqchip", irqchip: 2, pin: 0 },
    { gsi: 0, type: "irqchip", irqchip: 0, pin: 0 },
  ]);
  assert.deepEqual(routing.routesOf(9), [
    { gsi: 9, type: "irqchip", irqchip: 2, pin: 9 },
    { gsi: 9, type: "irqchip", irqchip: 1, pin: 1 },
  ]);
  assert.deepEqual(routing.routesOf(16), [{ gsi: 16, type: "irqchip", irqchip: 2, pin: 16 }]);
  assert.deepEqual(routing.routesOf(24), []);
});

Deno.test("GsiRouting starts empty in split mode", () => {
  const { routing } = rig({ mode: "split" });
  assert.deepEqual(routing.entries(), []);
  assert.equal(routing.irqLine(0, 1), -1);
});

Deno.test("GsiRouting.irqLine() on a GSI with no route returns -1", () => {
  const { routing, sink, pic } = rig();
  assert.equal(routing.irqLine(24, 1), -1);
  assert.equal(routing.irqLine(4095, 1), -1);
  assert.equal(sink.msgs.length, 0);
  assert.equal(pic.calls.length, 0);
});

Deno.test("GsiRouting.irqLine() drives the PIC and the IOAPIC of a default GSI", () => {
  const { routing, ioapic, pic, sink } = rig();
  unmask(ioapic, 12, 0x3c);
  assert.equal(routing.irqLine(12, 1), 2); // PIC 1 + IOAPIC 1
  assert.deepEqual(pic.calls, [[1, 4, 1]]);
  assert.deepEqual(sink.vectors, [0x3c]);
  assert.equal(routing.irqLine(12, 0), 2); // both report 1 on deassert
});

Deno.test("GsiRouting.irqLine() skips negative statuses and sums the rest", () => {
  const { routing, ioapic, pic } = rig();
  // IOAPIC pin 5 masked: -1; PIC says 0 (coalesced) -> 0.
  pic.result = 0;
  assert.equal(routing.irqLine(5, 1), 0);
  // PIC ignored, IOAPIC delivers.
  pic.result = -1;
  unmask(ioapic, 6, 0x36);
  assert.equal(routing.irqLine(6, 1), 1);
  // Both negative.
  assert.equal(routing.irqLine(7, 1), -1);
});

Deno.test("GsiRouting without a PIC counts PIC routes as not delivered", () => {
  const { routing, ioapic } = rig({ noPic: true });
  assert.equal(routing.irqLine(3, 1), -1);
  unmask(ioapic, 4, 0x34);
  assert.equal(routing.irqLine(4, 1), 1);
});

Deno.test("GsiRouting routes ISA IRQ0 to IOAPIC pin 2 with QEMU's table (X86-25)", () => {
  const { routing, ioapic, pic, sink } = rig();
  pic.result = 0; // masked PIC: IRR latched, no INTR
  assert.equal(routing.setRouting(GsiRouting.qemuDefault()), 0);
  unmask(ioapic, 2, 0x30);
  unmask(ioapic, 0, 0x31);
  assert.equal(routing.irqLine(0, 1), 1);
  assert.equal(routing.irqLine(0, 0), 1);
  assert.deepEqual(sink.vectors, [0x30]);
  assert.deepEqual(pic.calls, [[0, 0, 1], [0, 0, 0]]);
  assert.equal(routing.irqLine(2, 1), -1);
  assert.equal(routing.irqLine(2, 0), -1);
  assert.deepEqual(sink.vectors, [0x30]);
});

Deno.test("GsiRouting gives each VM its own table when the default is shared", () => {
  const a = rig();
  const b = rig();
  // The second VM's default came from the shared compiled table; replacing
  // the first VM's table must leave it alone, and it still routes.
  assert.equal(a.routing.setRouting([msiRoute(5)]), 0);
  assert.equal(a.routing.entries().length, 1);
  assert.equal(b.routing.entries().length, 40);
  unmask(b.ioapic, 5, 0x35);
  assert.equal(b.routing.irqLine(5, 1), 2); // PIC master pin 5 and I/O APIC pin 5
  assert.deepEqual(b.sink.vectors, [0x35]);
});

Deno.test("GsiRouting records the default table in the trace for every VM", () => {
  for (let i = 0; i < 2; i++) {
    const { trace } = rig();
    assert.ok(
      trace.events.some((e) => e.kind === "routing.set" && e.text.endsWith("40 entries")),
      `VM ${i}`,
    );
  }
});

Deno.test("GsiRouting.setRouting() rejects bad tables with -EINVAL and keeps the old one (X86-27)", () => {
  const cases: [string, RoutingEntry[], "kernel" | "split"][] = [
    ["two IOAPIC routes on one GSI", [ioapicRoute(5, 5), ioapicRoute(5, 6)], "kernel"],
    ["MSI after an irqchip route", [ioapicRoute(5, 5), msiRoute(5)], "kernel"],
    ["irqchip route after an MSI", [msiRoute(5), ioapicRoute(5, 5)], "kernel"],
    ["two MSI routes on one GSI", [msiRoute(30), msiRoute(30, 0x42)], "kernel"],
    ["PIC master pin 8", [{ gsi: 8, type: "irqchip", irqchip: 0, pin: 8 }], "kernel"],
    ["PIC slave pin 8", [{ gsi: 8, type: "irqchip", irqchip: 1, pin: 8 }], "kernel"],
    ["IOAPIC pin 24", [ioapicRoute(24, 24)], "kernel"],
    ["gsi 4096", [msiRoute(4096)], "kernel"],
    ["unknown irqchip", [{ gsi: 1, type: "irqchip", irqchip: 3, pin: 1 }], "kernel"],
    ["flags on an irqchip route", [{ ...ioapicRoute(1, 1), flags: 1 } as RoutingEntry], "kernel"],
    ["MSI flag other than VALID_DEVID", [{ ...msiRoute(40), flags: 2 } as RoutingEntry], "kernel"],
    ["IRQCHIP route in split mode", [ioapicRoute(1, 1)], "split"],
  ];
  for (const [what, table, mode] of cases) {
    const { routing } = rig({ mode });
    routing.setRouting([msiRoute(100, 0x64)]);
    const before = routing.entries();
    assert.equal(routing.setRouting(table), -22, what);
    assert.deepEqual(routing.entries(), before, what);
    assert.notEqual(routing.lastError, "", what);
  }
});

Deno.test("GsiRouting.setRouting() accepts PIC master + slave + IOAPIC on one GSI", () => {
  const { routing, pic, ioapic, sink } = rig();
  const table: RoutingEntry[] = [
    { gsi: 7, type: "irqchip", irqchip: 0, pin: 7 },
    { gsi: 7, type: "irqchip", irqchip: 1, pin: 7 },
    ioapicRoute(7, 7),
  ];
  assert.equal(routing.setRouting(table), 0);
  assert.equal(routing.lastError, "");
  assert.deepEqual(routing.entries(), table);
  unmask(ioapic, 7, 0x37);
  assert.equal(routing.irqLine(7, 1), 3);
  assert.deepEqual(pic.calls, [[0, 7, 1], [1, 7, 1]]);
  assert.deepEqual(sink.vectors, [0x37]);
  assert.equal(routing.irqLine(3, 1), -1); // old default routes gone
});

Deno.test("GsiRouting MSI routes fire on assert only", () => {
  const { routing, sink } = rig({ mode: "split" });
  assert.equal(routing.setRouting([msiRoute(5, 0xa2)]), 0);
  assert.equal(routing.irqLine(5, 1), 1);
  assert.equal(routing.irqLine(5, 0), -1);
  assert.equal(routing.irqLine(5, 1), 1);
  assert.deepEqual(sink.vectors, [0xa2, 0xa2]);
  assert.equal(sink.msgs[0].source, "msi");
});

Deno.test("GsiRouting.signalMsi() returns the delivery count or an error", () => {
  const { routing, sink } = rig();
  const w = encodeMsi({ dest: 1, vector: 0x41, level: true });
  assert.equal(routing.signalMsi(w.addressLo, w.addressHi, w.data), 1);
  assert.equal(sink.msgs[0].dest, 1);
  assert.equal(sink.msgs[0].level, true);
  sink.result = 0;
  assert.equal(routing.signalMsi(w.addressLo, w.addressHi, w.data), 0);
  sink.result = 3;
  assert.equal(routing.signalMsi(w.addressLo, w.addressHi, w.data, 1), 3);
  assert.equal(routing.signalMsi(w.addressLo, w.addressHi, w.data, 2), -22);
  assert.equal(sink.msgs.length, 3);
});

Deno.test("GsiRouting.signalMsi() ignores the 0xFEE base like KVM unless strict", () => {
  const kvm = rig();
  assert.equal(kvm.routing.signalMsi(0xfed01000, 0, 0x41), 1);
  assert.equal(kvm.sink.msgs[0].dest, 1);
  const strict = rig({ strictMsiAddress: true });
  assert.equal(strict.routing.signalMsi(0xfed01000, 0, 0x41), -22);
  assert.equal(strict.sink.msgs.length, 0);
});

Deno.test("GsiRouting in x2APIC format widens dest and rejects address-high bits 7:0", () => {
  const { routing, sink } = rig({ x2apicFormat: true });
  assert.equal(routing.signalMsi(0xfee01000, 0x00000200, 0x41), 1);
  assert.equal(sink.msgs[0].dest, 0x201);
  assert.equal(routing.signalMsi(0xfee01000, 0x00000001, 0x41), -22);
  const before = routing.entries();
  assert.equal(
    routing.setRouting([{ gsi: 30, type: "msi", addressLo: 0xfee00000, addressHi: 1, data: 0x41 }]),
    -22,
  );
  assert.deepEqual(routing.entries(), before);
});

Deno.test("GsiRouting passes KVM_IRQ_LINE_STATUS to the IOAPIC's RTC tracking", () => {
  const { routing, ioapic, pic } = rig();
  pic.result = -1;
  unmask(ioapic, 8, 0x28);
  assert.equal(routing.irqLine(8, 1), 1);
  routing.irqLine(8, 0);
  assert.equal(routing.irqLine(8, 1), 0); // coalesced until EOI
  routing.irqLine(8, 0);
  assert.equal(routing.irqLine(8, 1, false), 1); // KVM_IRQ_LINE: not tracked
});
