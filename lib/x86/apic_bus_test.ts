import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { vectorsOf } from "../core/vector_set.ts";
import { type ApicMessage, DeliveryMode, fixedMessage } from "./apic_message.ts";
import { ApicBus, type LowestPriorityPolicy, type X2apicApiFlags } from "./apic_bus.ts";
import { Lapic } from "./lapic.ts";

function vm(n: number, policy?: LowestPriorityPolicy): { bus: ApicBus; trace: Trace } {
  const trace = new Trace(() => 0);
  const bus = new ApicBus(trace, { lowestPriority: policy });
  for (let i = 0; i < n; i++) {
    const apic = new Lapic(i, {
      sink: bus,
      eoiListener: { eoi() {} },
      trace,
      name: `lapic${i}`,
      bsp: i === 0,
    });
    apic.write(0xf0, 0x1ff);
    bus.attach(apic);
  }
  return { bus, trace };
}

/** Which vCPUs have `v` in IRR. */
function holders(bus: ApicBus, v: number): number[] {
  return bus.lapics.flatMap((l, i) => vectorsOf(l.irr).includes(v) ? [i] : []);
}

function logical(vector: number, dest: number, mode: DeliveryMode = DeliveryMode.Fixed) {
  const m: ApicMessage = fixedMessage(vector, dest, "ipi");
  m.logical = true;
  m.deliveryMode = mode;
  return m;
}

Deno.test("ApicBus ICR shorthands: self, all-but-self, all, physical broadcast (X86-43)", () => {
  const { bus } = vm(3);
  const vcpu0 = bus.lapics[0];
  vcpu0.write(0x300, 0x000400f1);
  assert.deepEqual(holders(bus, 0xf1), [0]);
  vcpu0.write(0x300, 0x000c00cf);
  assert.deepEqual(holders(bus, 0xcf), [1, 2]);
  // As KVM_SET_LAPIC would: IRR is written through the LAPIC, which keeps its summary.
  for (const l of bus.lapics) for (let w = 0; w < 8; w++) l.restoreWord(0x200 + 0x10 * w, 0);
  vcpu0.write(0x300, 0x000800cf);
  assert.deepEqual(holders(bus, 0xcf), [0, 1, 2]);
  vcpu0.write(0x310, 0xff000000);
  vcpu0.write(0x300, 0x000000d1);
  assert.deepEqual(holders(bus, 0xd1), [0, 1, 2]);
});

Deno.test("ApicBus shorthands ignore the destination field", () => {
  const { bus } = vm(3);
  bus.lapics[1].write(0x310, 0x00000000); // dest 0 would pick vCPU0
  bus.lapics[1].write(0x300, 0x000400e1);
  assert.deepEqual(holders(bus, 0xe1), [1]);
});

Deno.test("ApicBus.deliver() returns 0 when the destination names no APIC, -1 for an unmatched broadcast", () => {
  const { bus, trace } = vm(2);
  assert.equal(bus.deliver(fixedMessage(0x41, 7, "msi")), 0);
  assert.equal(trace.events.at(-1)!.kind, "nomatch");
  assert.equal(bus.deliver(fixedMessage(0x41, 1, "msi")), 1);
  assert.equal(bus.deliver(fixedMessage(0x42, 0xff, "ioapic")), 2);
  bus.lapics[1].write(0xf0, 0xff); // software-disable: matched but drops
  assert.equal(bus.deliver(fixedMessage(0x43, 1, "msi")), 0);
  bus.lapics[1].setApicBase(0xfee00000); // hardware-disabled APICs are off the bus
  assert.equal(bus.deliver(fixedMessage(0x44, 1, "msi")), 0);
  bus.lapics[0].setApicBase(0xfee00000);
  assert.equal(
    bus.deliver(fixedMessage(0x45, 0xff, "ioapic")),
    -1,
    "broadcast to nobody: slow path",
  );
});

Deno.test("ApicBus logical cluster matching (X86-45)", () => {
  const { bus } = vm(3);
  for (const l of bus.lapics) l.write(0xe0, 0x0fffffff);
  bus.lapics[1].write(0xd0, 0x32000000);
  assert.equal(bus.deliver(logical(0x61, 0x3a)), 1);
  assert.deepEqual(holders(bus, 0x61), [1]);
  assert.equal(bus.deliver(logical(0x62, 0x2a)), 0);
  assert.equal(bus.deliver(logical(0x63, 0x34)), 0);
  assert.deepEqual(holders(bus, 0x62), []);
  assert.deepEqual(holders(bus, 0x63), []);
  assert.equal(bus.deliver(logical(0x64, 0xff)), 3, "logical 0xFF is everyone");
});

Deno.test("ApicBus logical flat matching hits every APIC whose LDR bit is in the MDA", () => {
  const { bus } = vm(3);
  bus.lapics[0].write(0xd0, 0x01000000);
  bus.lapics[1].write(0xd0, 0x02000000);
  bus.lapics[2].write(0xd0, 0x04000000);
  assert.equal(bus.deliver(logical(0x51, 0x05)), 2);
  assert.deepEqual(holders(bus, 0x51), [0, 2]);
});

Deno.test("ApicBus lowest priority with KVM vector hashing picks (vector mod n) (X86-29)", () => {
  const { bus } = vm(2);
  bus.lapics[0].write(0xd0, 0x01000000);
  bus.lapics[1].write(0xd0, 0x02000000);
  const rh = (vector: number): ApicMessage => {
    const m = logical(vector, 0x03);
    m.source = "msi";
    m.redirectionHint = true;
    return m;
  };
  assert.equal(bus.deliver(rh(0x41)), 1);
  assert.deepEqual(holders(bus, 0x41), [1]);
  assert.equal(bus.deliver(rh(0x40)), 1);
  assert.deepEqual(holders(bus, 0x40), [0]);
  assert.equal(bus.deliver(logical(0x43, 0x03, DeliveryMode.LowestPriority)), 1);
  assert.deepEqual(holders(bus, 0x43), [1]);
});

Deno.test("ApicBus vector hashing skips software-disabled candidates", () => {
  const { bus } = vm(3);
  bus.lapics.forEach((l, i) => l.write(0xd0, (1 << (24 + i)) >>> 0));
  bus.lapics[1].write(0xf0, 0xff);
  // Candidates are vCPU0 and vCPU2: 0x41 mod 2 = 1 -> vCPU2.
  assert.equal(bus.deliver(logical(0x41, 0x07, DeliveryMode.LowestPriority)), 1);
  assert.deepEqual(holders(bus, 0x41), [2]);
  for (const l of bus.lapics) l.write(0xf0, 0xff);
  assert.equal(bus.deliver(logical(0x42, 0x07, DeliveryMode.LowestPriority)), 0);
});

Deno.test("ApicBus lowest priority with the QEMU 'first' policy takes the first APIC in the mask", () => {
  const { bus } = vm(3, "first");
  bus.lapics.forEach((l, i) => l.write(0xd0, (1 << (24 + i)) >>> 0));
  assert.equal(bus.deliver(logical(0x41, 0x06, DeliveryMode.LowestPriority)), 1);
  assert.deepEqual(holders(bus, 0x41), [1]);
});

Deno.test("ApicBus treats physical 0xFF lowest priority as a fixed broadcast (KVM)", () => {
  const { bus, trace } = vm(3);
  const m = fixedMessage(0x71, 0xff, "ioapic");
  m.deliveryMode = DeliveryMode.LowestPriority;
  assert.equal(bus.deliver(m), 3);
  assert.deepEqual(holders(bus, 0x71), [0, 1, 2]);
  assert.equal(m.deliveryMode, DeliveryMode.LowestPriority, "caller's message untouched");
  assert.ok(trace.events.some((e) => e.kind === "lowest.broadcast"));
});

Deno.test("ApicBus delivers to every APIC with an aliased xAPIC ID", () => {
  const { bus } = vm(3);
  bus.lapics[2].write(0x20, 0x01000000);
  assert.equal(bus.deliver(fixedMessage(0x55, 1, "msi")), 2);
  assert.deepEqual(holders(bus, 0x55), [1, 2]);
  // A self IPI still reaches only its sender, even with the alias.
  bus.lapics[2].write(0x300, 0x000400e5);
  assert.deepEqual(holders(bus, 0xe5), [2]);
});

Deno.test("ApicBus IPI events are caused by the sender's ICR write", () => {
  const { bus, trace } = vm(2);
  bus.lapics[0].write(0x310, 0x01000000);
  bus.lapics[0].write(0x300, 0x000000b1);
  const set = trace.events.find((e) => e.kind === "irr.set")!;
  assert.equal(set.source, "lapic1");
  assert.deepEqual(trace.chain(set.id).map((e) => e.kind), ["ipi", "irr.set"]);
});

// ---- x2APIC destinations -----------------------------------------------------

function x2vm(n: number, x2apicApi?: X2apicApiFlags): { bus: ApicBus; trace: Trace } {
  const trace = new Trace(() => 0);
  const bus = new ApicBus(trace, { x2apicApi });
  for (let i = 0; i < n; i++) {
    const apic = new Lapic(i, {
      sink: bus,
      eoiListener: { eoi() {} },
      trace,
      name: `lapic${i}`,
      bsp: i === 0,
    });
    apic.write(0xf0, 0x1ff);
    assert.equal(apic.wrmsr(0x1b, BigInt((0xfee00c00 | (i === 0 ? 0x100 : 0)) >>> 0)), null);
    bus.attach(apic);
  }
  return { bus, trace };
}

Deno.test("ApicBus x2APIC physical: 32-bit IDs, 0xFFFFFFFF broadcast, IPI to 0xFF is no broadcast (X86-43)", () => {
  const { bus } = x2vm(3);
  const vcpu0 = bus.lapics[0];
  assert.equal(vcpu0.wrmsr(0x830, 0x2_000000a1n), null);
  assert.deepEqual(holders(bus, 0xa1), [2]);
  vcpu0.wrmsr(0x830, 0xffffffff_000000a2n);
  assert.deepEqual(holders(bus, 0xa2), [0, 1, 2]);
  vcpu0.wrmsr(0x830, 0xff_000000a3n);
  assert.deepEqual(holders(bus, 0xa3), [], "0xFF is an ordinary x2APIC ID for an IPI");
});

Deno.test("ApicBus x2APIC logical: cluster in 31:16, member bitmap in 15:0", () => {
  const { bus } = x2vm(3);
  // LDRs: vCPU0 0x1, vCPU1 0x2, vCPU2 0x4, all cluster 0.
  const m = logical;
  assert.equal(bus.deliver(m(0x61, 0x00000006)), 2);
  assert.deepEqual(holders(bus, 0x61), [1, 2]);
  assert.equal(bus.deliver(m(0x62, 0x00010006)), 0, "cluster 1 has nobody");
  assert.equal(bus.deliverFrom(bus.lapics[0], m(0x63, 0xffffffff)), 3, "broadcast IPI");
  // Without a sender (a device) and with the quirk on, 0xFFFFFFFF is no
  // broadcast to KVM: its map looks for cluster 0xFFFF and finds nobody.
  assert.equal(bus.deliver(m(0x64, 0xffffffff)), 0);
});

Deno.test("ApicBus x2APIC broadcast quirk: IOAPIC/MSI dest 0xFF reaches x2APIC vCPUs unless disabled (X86-51)", () => {
  {
    const { bus } = x2vm(2);
    assert.equal(bus.deliver(fixedMessage(0x71, 0xff, "ioapic")), 2);
    assert.deepEqual(holders(bus, 0x71), [0, 1]);
    assert.equal(bus.deliver(fixedMessage(0x72, 0xff, "msi")), 2);
    const ipi = fixedMessage(0x73, 0xff, "ipi");
    assert.equal(bus.deliverFrom(bus.lapics[0], ipi), 0, "an IPI never gets the quirk");
  }
  {
    const { bus } = x2vm(2, { disableBroadcastQuirk: true });
    assert.equal(bus.isBroadcastDest(fixedMessage(0x71, 0xff, "ioapic"), null), false);
    assert.equal(bus.deliver(fixedMessage(0x71, 0xff, "ioapic")), 0, "0xFF names nobody");
    assert.deepEqual(holders(bus, 0x71), []);
    assert.equal(bus.deliver(fixedMessage(0x74, 0xffffffff, "msi")), 2);
  }
});

Deno.test("ApicBus mixed modes: an xAPIC broadcast skips x2APIC-mode vCPUs without the quirk", () => {
  const { bus } = vm(2);
  bus.lapics[1].wrmsr(0x1b, 0xfee00c00n);
  bus.lapics[0].write(0x310, 0xff000000);
  bus.lapics[0].write(0x300, 0x000000b5);
  assert.deepEqual(holders(bus, 0xb5), [0], "IPI: no quirk for the x2APIC target");
  assert.equal(bus.deliver(fixedMessage(0xb6, 0xff, "ioapic")), 2, "IOAPIC: quirk");
});

Deno.test("ApicBus KVM_X2APIC_API_USE_32BIT_IDS: an aliased xAPIC ID reaches only the first vCPU", () => {
  const trace = new Trace(() => 0);
  const bus = new ApicBus(trace, { x2apicApi: { use32BitIds: true } });
  for (let i = 0; i < 3; i++) {
    const apic = new Lapic(i, {
      sink: bus,
      eoiListener: { eoi() {} },
      trace,
      name: `l${i}`,
      bsp: !i,
    });
    apic.write(0xf0, 0x1ff);
    bus.attach(apic);
  }
  bus.lapics[2].write(0x20, 0x01000000);
  assert.equal(bus.deliver(fixedMessage(0x55, 1, "msi")), 1);
  assert.deepEqual(holders(bus, 0x55), [1]);
  bus.lapics[1].write(0x20, 0x07000000);
  assert.equal(bus.deliver(fixedMessage(0x56, 1, "msi")), 1);
  assert.deepEqual(holders(bus, 0x56), [2]);
  bus.lapics[2].wrmsr(0x1b, 0xfee00c00n); // x2APIC ID 2
  assert.equal(bus.deliver(fixedMessage(0x57, 2, "msi")), 1);
  assert.deepEqual(holders(bus, 0x57), [2]);
  assert.equal(bus.deliver(fixedMessage(0x58, 9, "msi")), 0);
});
