/**
 * KVM's per-vCPU ioapic_handled_vectors (lib/x86/ioapic_handled_vectors.ts)
 * as the in-kernel I/O APIC's VM wires it: what a scan takes, which vCPUs
 * an entry write asks to scan, stale vectors, APIC map changes.
 */
import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { encodeRte } from "./ioapic.ts";
import { programRte } from "./test_vm.ts";
import { X86Vm, type X86VmConfig } from "./vm.ts";
// The Xen model its Xen VMs are built with (lib/xen/parts.ts).
import "../xen/build.ts";

function makeVm(opts: Partial<X86VmConfig> = {}): X86Vm {
  return new X86Vm("guest", {
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    irqchip: "kernel",
    ...opts,
    vcpus: opts.vcpus ?? 2,
  }, { trace: new Trace(() => 0), queue: new EventQueue(), now: () => 0 });
}

function boot(vm: X86Vm): void {
  for (const cpu of vm.cpus) cpu.lapic.write(0xf0, 0x1ff);
}

/** The vectors above 0: vector 0 is the RTC's pin as reset leaves it. */
function handled(vm: X86Vm, cpu: number): number[] {
  return vm.ioapicHandledVectors(cpu).filter((v) => v !== 0);
}

Deno.test("ioapic_handled_vectors: level entries naming the vCPU, masked too; edge ones only with a notifier", () => {
  const vm = makeVm();
  boot(vm);
  assert.deepEqual(vm.ioapicHandledVectors(0), [0], "the RTC's pin, vector 0, dest 0");
  assert.deepEqual(vm.ioapicHandledVectors(1), []);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 1, mask: 1 });
  programRte(vm, 10, { vector: 0x8a, dest: 1 });
  assert.deepEqual(handled(vm, 1), [0x9a], "a masked level entry counts, a plain edge one not");
  assert.deepEqual(handled(vm, 0), []);
  assert.equal(vm.irqfds.assign(3, 10, 2, 4), 0);
  assert.deepEqual(handled(vm, 1), [0x8a, 0x9a], "the resampler's notifier makes pin 10 count");
});

Deno.test("ioapic_handled_vectors: an EOI outside the set leaves remote IRR, inside clears it", () => {
  const vm = makeVm();
  boot(vm);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
  vm.ioapic!.setLine(20, 1);
  assert.equal(vm.ioapic!.remoteIrr(20), 1);
  // vCPU 1 gets 0x9a level-triggered from an MSI and EOIs it.
  assert.equal(vm.signalMsi(0xfee01000, 0, 0x809a), 1);
  const l1 = vm.cpus[1].lapic;
  l1.acknowledge();
  assert.equal(l1.eoi(), 0x9a);
  assert.equal(vm.ioapic!.remoteIrr(20), 1);
  vm.cpus[0].lapic.acknowledge();
  assert.equal(vm.cpus[0].lapic.eoi(), 0x9a);
  assert.equal(vm.ioapic!.remoteIrr(20), 1, "cleared and, the line high, set by the re-delivery");
  assert.equal(vm.cpus[0].lapic.pendingVector(), 0x9a);
});

Deno.test("ioapic_handled_vectors: a retarget scans the old and new destinations; the stale vector goes after its EOI", () => {
  const vm = makeVm({ vcpus: 3 });
  boot(vm);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
  vm.ioapic!.setLine(20, 1);
  vm.cpus[0].lapic.acknowledge();
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 1 });
  assert.deepEqual(handled(vm, 0), [0x9a], "in service on vCPU 0: kept as stale");
  assert.deepEqual(handled(vm, 1), [0x9a]);
  assert.deepEqual(handled(vm, 2), []);
  vm.cpus[0].lapic.eoi();
  assert.deepEqual(handled(vm, 0), [], "the stale vector's EOI rescans");
  assert.deepEqual(vm.cpus[1].lapic.pendingVector(), 0x9a, "re-delivered to the new destination");
});

Deno.test("ioapic_handled_vectors: KVM reads the old destination ID in the new destination mode", () => {
  const vm = makeVm({ vcpus: 3 });
  boot(vm);
  // Flat logical IDs: vCPU 1 has LDR bit 1 (0x02), vCPU 2 bit 2 (0x04).
  vm.cpus[1].lapic.write(0xd0, 0x02000000);
  vm.cpus[2].lapic.write(0xd0, 0x04000000);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 2, dest_mode: "physical" });
  assert.deepEqual(handled(vm, 2), [0x9a]);
  // Now logical 0x02 (vCPU 1). The old ID 2 read as logical also names vCPU 1, not vCPU 2:
  // vCPU 2 is not asked to scan and keeps the vector it no longer receives.
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0x02, dest_mode: "logical" });
  assert.deepEqual(handled(vm, 1), [0x9a]);
  assert.deepEqual(handled(vm, 2), [0x9a], "not rescanned (ioapic_write_indirect's old dest_mode)");
  // Any APIC map change makes every vCPU scan.
  vm.cpus[0].lapic.write(0xd0, 0x01000000);
  assert.deepEqual(handled(vm, 2), []);
});

Deno.test("ioapic_handled_vectors: an APIC ID change moves the vector; KVM_SET_IRQCHIP rescans", () => {
  const vm = makeVm();
  boot(vm);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 5 });
  assert.deepEqual(handled(vm, 1), []);
  vm.cpus[1].lapic.write(0x20, 5 << 24);
  assert.deepEqual(handled(vm, 1), [0x9a], "kvm_recalculate_apic_map asks every vCPU to scan");
  const { low, high } = encodeRte({ vector: 0x7b, trigger: "level", dest: 0 });
  vm.ioapic!.setKvmState({
    id: 0,
    ioregsel: 0,
    irr: 0,
    redirtbl: [...Array(24).keys()].map((p) =>
      p === 3 ? (BigInt(high) << 32n) | BigInt(low) : 0x10000n
    ),
  });
  assert.deepEqual(handled(vm, 0), [0x7b]);
  assert.deepEqual(handled(vm, 1), []);
});

Deno.test("ioapic_handled_vectors: none under Xen, whose vIOAPIC hears every vCPU's level EOI", () => {
  const xen = makeVm({ hypervisor: "xen" });
  boot(xen);
  programRte(xen, 20, { vector: 0x9a, trigger: "level", dest: 0 });
  assert.deepEqual(xen.ioapicHandledVectors(0), []);
  xen.ioapic!.setLine(20, 1);
  assert.equal(xen.ioapic!.remoteIrr(20), 1);
  assert.equal(xen.signalMsi(0xfee02000, 0, 0x809a), 1, "APIC ID 2: Xen's vCPU 1");
  const l1 = xen.cpus[1].lapic;
  l1.acknowledge();
  l1.eoi();
  assert.equal(
    xen.ioapic!.remoteIrr(20),
    1,
    "cleared by vCPU 1's EOI, set again by the re-delivery",
  );
  assert.equal(xen.cpus[0].lapic.irr[0x9a >>> 5] >>> (0x9a & 31) & 1, 1, "vCPU 0 got it again");
});

Deno.test("ioapic_handled_vectors: a halted vCPU scans at its next entry, with what reached it meanwhile", () => {
  const vm = makeVm();
  boot(vm);
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
  const cpu1 = vm.cpus[1];
  cpu1.interruptFlag = true;
  cpu1.hlt();
  assert.ok(cpu1.halted);
  // An APIC map change asks every vCPU; vCPU 1 sleeps through it.
  vm.cpus[0].lapic.write(0xd0, 0x0100_0000);
  assert.deepEqual(handled(vm, 1), []);
  assert.equal(vm.signalMsi(0xfee01000, 0, 0x809a), 1);
  assert.deepEqual(handled(vm, 1), [], "still asleep: no scan yet");
  assert.ok(cpu1.canTake());
  assert.equal(cpu1.take().vector, 0x9a);
  assert.deepEqual(handled(vm, 1), [0x9a], "scanned as it entered, 0x9a then in IRR");
  // Awake, a request scans at once: 0x9a is still in ISR, so it stays.
  vm.cpus[0].lapic.write(0xd0, 0x0200_0000);
  assert.deepEqual(handled(vm, 1), [0x9a]);
  vm.ioapic!.setLine(20, 1);
  vm.cpus[0].lapic.acknowledge();
  vm.ioapic!.setLine(20, 0);
  cpu1.lapic.eoi();
  assert.equal(vm.ioapic!.remoteIrr(20), 0, "vCPU 1's EOI reached the I/O APIC");
});
