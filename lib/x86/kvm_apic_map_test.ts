import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { fixedMessage } from "./apic_message.ts";
import { ApicBus } from "./apic_bus.ts";
import { Lapic } from "./lapic.ts";
import { KvmApicMap, LogicalMode, vectorToIndex } from "./kvm_apic_map.ts";

const LDR = 0xd0, DFR = 0xe0, ID = 0x20, SVR = 0xf0;

function apics(n: number, use32BitIds = false): { bus: ApicBus; lapics: Lapic[] } {
  const trace = new Trace(() => 0);
  const bus = new ApicBus(trace, { x2apicApi: { use32BitIds } });
  for (let i = 0; i < n; i++) {
    const l = new Lapic(i, {
      sink: bus,
      eoiListener: { eoi() {} },
      trace,
      name: `lapic${i}`,
      bsp: !i,
    });
    l.write(SVR, 0x1ff);
    bus.attach(l);
  }
  return { bus, lapics: bus.lapics };
}

function mapOf(lapics: Lapic[], use32BitIds = false): KvmApicMap {
  const m = new KvmApicMap(use32BitIds);
  m.update(lapics);
  return m;
}

Deno.test("KvmApicMap puts one-bit flat logical IDs in the flat table", () => {
  const { lapics } = apics(2);
  lapics[0].write(LDR, 0x01000000);
  lapics[1].write(LDR, 0x04000000);
  const m = mapOf(lapics);
  assert.equal(m.logicalMode, LogicalMode.XapicFlat);
  assert.deepEqual([0, 1, 2, 3].map((b) => m.logicalAt(0xff, b)), [0, -1, 1, -1]);
  assert.equal(m.logicalMask(0x05), 0x05);
  assert.equal(m.logicalAt(0x05, 2), 1);
});

Deno.test("KvmApicMap disables the logical table for aliased bits, multi-bit IDs and mixed models", () => {
  {
    const { lapics } = apics(2);
    lapics[0].write(LDR, 0x10000000);
    lapics[1].write(LDR, 0x10000000);
    assert.equal(mapOf(lapics).logicalMode, LogicalMode.MapDisabled, "two APICs on bit 4");
  }
  {
    const { lapics } = apics(1);
    lapics[0].write(LDR, 0x03000000);
    assert.equal(mapOf(lapics).logicalMode, LogicalMode.MapDisabled, "bits 0 and 1");
  }
  {
    const { lapics } = apics(2);
    lapics[0].write(LDR, 0x01000000);
    lapics[1].write(DFR, 0x0fffffff); // cluster model
    lapics[1].write(LDR, 0x11000000);
    assert.equal(mapOf(lapics).logicalMode, LogicalMode.MapDisabled, "flat beside cluster");
  }
});

Deno.test("KvmApicMap leaves software-disabled APICs out of the logical table", () => {
  const { lapics } = apics(2);
  lapics[0].write(LDR, 0x10000000);
  lapics[1].write(LDR, 0x10000000);
  lapics[1].write(SVR, 0xff); // software-disabled: no alias any more
  const m = mapOf(lapics);
  assert.equal(m.logicalMode, LogicalMode.XapicFlat);
  assert.equal(m.logicalAt(0x10, 4), 0);
});

Deno.test("KvmApicMap gives up the whole map for an aliased physical ID, unless IDs are 32-bit", () => {
  const { lapics } = apics(2);
  lapics[1].write(ID, 0x00000000); // vCPU1 takes xAPIC ID 0 too
  assert.equal(mapOf(lapics).valid, false);
  const m = mapOf(lapics, true);
  assert.equal(m.valid, true);
  assert.equal(m.physAt(0), 0, "the lowest-numbered xAPIC owner");
});

Deno.test("KvmApicMap covers every xAPIC ID and the x2APIC IDs in use", () => {
  const { lapics } = apics(2);
  const m = mapOf(lapics);
  assert.equal(m.maxApicId, 0xff);
  assert.equal(m.physAt(1), 1);
  assert.equal(m.physAt(7), -1);
  assert.equal(m.physAt(0x100), -1);
});

Deno.test("KvmApicMap.update() follows an LDR written after the last update", () => {
  const { lapics } = apics(1);
  const m = mapOf(lapics);
  assert.equal(m.logicalMode, LogicalMode.SwDisabled);
  lapics[0].write(LDR, 0x02000000);
  m.update(lapics);
  assert.equal(m.logicalAt(0x02, 1), 0);
});

Deno.test("vectorToIndex() picks the (vector mod n)-th set bit", () => {
  assert.equal(vectorToIndex(0xb3, 0x30), 5);
  assert.equal(vectorToIndex(0xb2, 0x30), 4);
  assert.equal(vectorToIndex(0x41, 0x70), 6);
});

Deno.test("ApicBus counts an MSI to nobody 0 with KVM's map, -1 once aliased IDs removed it", () => {
  const { bus, lapics } = apics(2);
  assert.equal(bus.deliver(fixedMessage(0x41, 5, "msi")), 0, "the map: handled, dropped");
  lapics[1].write(ID, 0x00000000);
  assert.equal(bus.deliver(fixedMessage(0x42, 5, "msi")), -1, "the slow path: nobody matched");
  assert.equal(bus.deliver(fixedMessage(0x43, 0, "msi")), 2, "both holders of ID 0 take it");
});
