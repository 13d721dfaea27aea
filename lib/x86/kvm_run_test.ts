import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { vectorsOf } from "../core/vector_set.ts";
import { ApicBus } from "./apic_bus.ts";
import { KvmExit, KvmRun, SplitEoiExits } from "./kvm_run.ts";
import type { RoutingEntry } from "./kvm_routing.ts";
import { Lapic } from "./lapic.ts";
import { fixedMessage } from "./apic_message.ts";

function bus(n: number): ApicBus {
  const trace = new Trace(() => 0);
  const b = new ApicBus(trace);
  for (let i = 0; i < n; i++) {
    const l = new Lapic(i, {
      sink: b,
      eoiListener: { eoi() {} },
      trace,
      name: `lapic${i}`,
      bsp: i === 0,
    });
    l.write(0xf0, 0x1ff);
    b.attach(l);
  }
  return b;
}

const msi = (gsi: number, addressLo: number, data: number, addressHi = 0): RoutingEntry => ({
  gsi,
  type: "msi",
  addressLo,
  addressHi,
  data,
});

Deno.test("KvmRun records exits, counts them by reason and resets", () => {
  const trace = new Trace(() => 0);
  const run = new KvmRun("vcpu0", trace);
  run.exit(KvmExit.Hlt, "HLT");
  run.exit(KvmExit.IrqWindowOpen, "window");
  run.ioapicEoi(0xa2);
  run.ioapicEoi(0xa2);
  assert.deepEqual(
    [run.exitReason, run.eoiVector, run.ioapicEoiExits, run.hltExits, run.irqWindowExits],
    [26, 0xa2, 2, 1, 1],
  );
  assert.deepEqual(vectorsOf(run.ioapicEoiVectors), [0xa2]);
  assert.equal(trace.events.at(-1)!.text, "exit_reason 26: KVM_EXIT_IOAPIC_EOI eoi.vector 0xa2");
  run.reset();
  assert.deepEqual([run.exitReason, run.eoiVector, run.ioapicEoiExits], [0, -1, 0]);
  assert.deepEqual(vectorsOf(run.ioapicEoiVectors), []);
});

Deno.test("SplitEoiExits: level MSI routes of reserved GSIs whose destination names the vCPU (kvm_scan_ioapic_routes)", () => {
  const b = bus(3);
  b.lapics[1].write(0xd0, 0x02000000); // logical ID 0x02 (flat)
  b.lapics[2].write(0xd0, 0x04000000);
  let routes: RoutingEntry[] = [
    msi(1, 0xfee00000, 0x80a1), // level, physical vCPU0
    msi(2, 0xfee00000, 0x00a2), // edge
    msi(3, 0xfee06004, 0x80a3), // level, logical 0x06: vCPU1 and vCPU2
    msi(24, 0xfee00000, 0x80a4), // level but not below the reserved pins
    msi(4, 0xfee0f000, 0x80a5), // level, physical 0xF0: nobody
    { gsi: 5, type: "irqchip", irqchip: 2, pin: 5 },
  ];
  const eois = new SplitEoiExits({
    routes: () => routes,
    bus: b,
    reservedPins: 24,
    x2apicFormat: false,
  });
  const handled = (cpu: number) =>
    [0xa1, 0xa2, 0xa3, 0xa4, 0xa5].filter((v) => eois.handles(cpu, v));
  assert.deepEqual(handled(0), [0xa1]);
  assert.deepEqual(handled(1), [0xa3]);
  assert.deepEqual(handled(2), [0xa3]);
  assert.equal(eois.handles(7, 0xa1), false, "no such vCPU");
  routes = [];
  assert.deepEqual(handled(0), [], "read at EOI time: a new table applies at once");
});

Deno.test("SplitEoiExits: the x2APIC broadcast quirk and 32-bit IDs apply as for delivery", () => {
  const b = bus(2);
  for (const l of b.lapics) l.wrmsr(0x1b, BigInt((l.apicBase | 0x400) >>> 0));
  const eois = new SplitEoiExits({
    routes: () => [msi(1, 0xfeeff000, 0x80b1), msi(2, 0xfee01000, 0x80b2, 0x100)],
    bus: b,
    reservedPins: 24,
    x2apicFormat: true,
  });
  assert.equal(eois.handles(1, 0xb1), true, "dest 0xFF from an MSI: x2APIC broadcast (quirk)");
  assert.equal(eois.handles(1, 0xb2), false, "address-high makes it 0x101");
});

Deno.test("SplitEoiExits.listener() turns intercepted EOIs into KVM_EXIT_IOAPIC_EOI", () => {
  const b = bus(1);
  const run = new KvmRun("vcpu0", new Trace(() => 0));
  const eois = new SplitEoiExits({
    routes: () => [msi(1, 0xfee00000, 0x80a1)],
    bus: b,
    reservedPins: 24,
    x2apicFormat: false,
  });
  const l = eois.listener(0, run);
  assert.equal(l.exitsOnEoi!(0xa1), true);
  assert.equal(l.exitsOnEoi!(0xa2), false);
  l.exitEoi!(0xa1);
  assert.deepEqual([run.exitReason, run.eoiVector], [KvmExit.IoapicEoi, 0xa1]);
});

Deno.test("SplitEoiExits: a blocked vCPU's scan waits for its entry, which sees what reached it meanwhile", () => {
  const b = bus(2);
  let routes: RoutingEntry[] = [msi(5, 0xfee01000, 0x80a2)]; // level, to vCPU 1
  let blocked = true;
  const eois = new SplitEoiExits({
    routes: () => routes,
    bus: b,
    reservedPins: 24,
    x2apicFormat: false,
    blocked: (cpu) => cpu === 1 && blocked,
  });
  routes = [msi(5, 0xfee00000, 0x80a2)]; // now to vCPU 0
  eois.rescan();
  assert.deepEqual(eois.vectors(1), [], "not scanned yet");
  // 0xa2 reaches vCPU 1's IRR while it sleeps; it wakes and enters.
  b.lapics[1].accept(fixedMessage(0xa2, 1, "local"));
  blocked = false;
  eois.entered(1);
  assert.deepEqual(eois.vectors(1), [0xa2], "pending from the old routing");
  eois.entered(1);
  assert.deepEqual(eois.vectors(1), [0xa2], "one scan per request");
});
