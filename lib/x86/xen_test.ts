import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { type Hypervisor, X86Vm, XEN_VIOAPIC_PINS } from "./vm.ts";
import { KVM_IOAPIC_NUM_PINS } from "./kvm_routing.ts";
import { EINVAL } from "./errno.ts";
// The Xen model its Xen VMs are built with (lib/xen/parts.ts).
import "../xen/build.ts";

function makeVm(hypervisor: Hypervisor, vcpus = 1): X86Vm {
  const trace = new Trace(() => 0);
  return new X86Vm("guest", {
    vcpus,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    hypervisor,
  }, { trace, queue: new EventQueue(), now: () => 0 });
}

/** STI and the instruction that ends its shadow. */
function enable(vm: X86Vm, n: number): void {
  const cpu = vm.cpus[n];
  cpu.sti();
  cpu.retire();
  cpu.retire();
}

Deno.test("a kvm VM has no Xen domain; xen has a 48-pin vIOAPIC, kvm-xen KVM's 24", () => {
  assert.equal(makeVm("kvm").xen, undefined);
  assert.equal(makeVm("kvm").cpus[0].hv, null);
  const xen = makeVm("xen");
  assert.equal(xen.xen!.domain.flavour, "xen");
  assert.equal(xen.ioapic!.pins, XEN_VIOAPIC_PINS);
  assert.equal(xen.routing.routesOf(40).length, 1);
  assert.equal(makeVm("kvm-xen").ioapic!.pins, KVM_IOAPIC_NUM_PINS);
});

Deno.test("Xen's vLAPICs: vCPU n has APIC ID 2n, LVT0 masked and Xen's error model; kvm-xen keeps KVM's", () => {
  const xen = makeVm("xen", 3);
  assert.deepEqual(xen.cpus.map((c) => c.lapic.x2apicId), [0, 2, 4]);
  assert.equal(xen.cpus[1].lapic.read(0x20), 0x02000000);
  assert.equal(xen.cpus[0].lapic.read(0x350), 0x10000, "LVT0 masked, no LINT0 quirk");
  xen.cpus[0].lapic.write(0xf0, 0x1ff);
  xen.cpus[0].lapic.write(0x300, 0x0f); // an illegal vector: Send Illegal Vector
  xen.cpus[0].lapic.write(0x280, 0);
  assert.equal(xen.cpus[0].lapic.read(0x280), 0x20);
  const kvmXen = makeVm("kvm-xen", 3);
  assert.deepEqual(kvmXen.cpus.map((c) => c.lapic.x2apicId), [0, 1, 2]);
  assert.equal(kvmXen.cpus[0].lapic.read(0x350), 0x700);
  kvmXen.cpus[0].lapic.write(0xf0, 0x1ff);
  kvmXen.cpus[0].lapic.write(0x300, 0x0f);
  kvmXen.cpus[0].lapic.write(0x280, 0);
  assert.equal(kvmXen.cpus[0].lapic.read(0x280), 0, "KVM sets no ESR bit");
});

Deno.test("the global callback vector comes after NMI and before the LAPIC, with no IRR/ISR", () => {
  const vm = makeVm("xen");
  const { domain } = vm.xen!;
  const cpu = vm.cpus[0];
  cpu.lapic.write(0xf0, 0x1ff);
  domain.setParam(0, 0, (2n << 56n) | 0xf3n);
  const p = domain.evtchn.bindIpi(0);
  assert.equal(vm.routing.signalMsi(0xfee00000, 0, 0x41), 1);
  cpu.lapic.write(0x80, 0xf0); // TPR blocks 0x41, not the callback vector
  domain.evtchn.send(p);
  assert.equal(cpu.canTake(), false, "IF=0 gates it");
  enable(vm, 0);
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.deepEqual([t.kind, t.vector], ["vector", 0xf3]);
  assert.equal(cpu.lapic.isr.every((w) => w === 0), true);
  cpu.returnFromInterrupt();
  // UP is still 1: offered again until the guest clears it.
  assert.equal(cpu.take().vector, 0xf3);
  domain.mem.write(0x10000, 8, 0);
  cpu.returnFromInterrupt();
  assert.equal(cpu.canTake(), false);
  cpu.lapic.write(0x80, 0);
  assert.equal(cpu.take().vector, 0x41);
});

Deno.test("the per-vCPU vector: Xen sets IRR directly, kvm-xen sends an MSI to the APIC ID", () => {
  for (const h of ["xen", "kvm-xen"] as const) {
    const vm = makeVm(h, 2);
    const cpu = vm.cpus[1];
    cpu.lapic.write(0xf0, 0x1ff);
    // A guest that moved its xAPIC ID no longer matches KVM's MSI.
    cpu.lapic.write(0x20, 5 << 24);
    vm.xen!.domain.callback.perVcpu[1] = 0xf2;
    vm.xen!.domain.callback.assert(1);
    assert.equal(cpu.lapic.pendingVector(), h === "xen" ? 0xf2 : -1, h);
  }
});

Deno.test("SCHEDOP_block halts the vCPU; the upcall's kick ends it", () => {
  const vm = makeVm("xen");
  const { domain } = vm.xen!;
  const p = domain.evtchn.bindIpi(0);
  domain.hypercall(0, "sched_block", () => domain.timers.block(0));
  assert.equal(vm.cpus[0].halted, true);
  domain.setParam(0, 0, (2n << 56n) | 0xf3n);
  domain.evtchn.send(p);
  assert.equal(vm.cpus[0].halted, false);
  assert.equal(domain.timers.vcpus[0].wokeBy, "kick");
});

Deno.test("Xen's kick ends HLT with IF=1; under kvm-xen only a takeable interrupt does", () => {
  for (const h of ["xen", "kvm-xen"] as const) {
    const vm = makeVm(h);
    const cpu = vm.cpus[0];
    enable(vm, 0);
    cpu.hlt();
    vm.xen!.domain.callback.perVcpu[0] = 0; // GSI mode: vCPU0 drives the line, kicks
    vm.xen!.domain.callback.setParam(20n);
    vm.xen!.domain.evtchn.send(vm.xen!.domain.evtchn.bindIpi(0));
    assert.equal(cpu.halted, h === "kvm-xen", h);
  }
});

Deno.test("the GSI callback drops at the next VM exit of any vCPU once vCPU0's UP is clear", () => {
  const vm = makeVm("xen", 2);
  const { domain } = vm.xen!;
  domain.setParam(0, 0, 28n);
  domain.evtchn.send(domain.evtchn.bindIpi(0));
  assert.equal(vm.ioapic!.line(28), 1);
  domain.mem.write(0x10000, 8, 0);
  assert.equal(vm.ioapic!.line(28), 1);
  vm.cpus[1].vmExit();
  assert.equal(vm.ioapic!.line(28), 0);
});

Deno.test("Xen event-channel routing entries: kvm-xen only, 2-level priority, the GSI alone", () => {
  const kvm = makeVm("kvm");
  assert.equal(
    kvm.routing.setRouting([{ gsi: 40, type: "xen_evtchn", port: 3, vcpu: 0, priority: -1 >>> 0 }]),
    -EINVAL,
  );
  const vm = makeVm("kvm-xen", 2);
  const r = vm.routing;
  const P = 0xffff_ffff;
  assert.equal(
    r.setRouting([{ gsi: 40, type: "xen_evtchn", port: 3, vcpu: 1, priority: 0 }]),
    -EINVAL,
  );
  assert.equal(
    r.setRouting([
      { gsi: 40, type: "xen_evtchn", port: 3, vcpu: 1, priority: P },
      { gsi: 40, type: "irqchip", irqchip: 2, pin: 0 },
    ]),
    -EINVAL,
  );
  assert.equal(r.setRouting([{ gsi: 40, type: "xen_evtchn", port: 3, vcpu: 1, priority: P }]), 0);
  assert.equal(vm.xen!.kvm.routes.get(40)?.[0].port, 3);
  assert.equal(r.irqLine(40, 0), -1);
  assert.equal(r.irqLine(40, 1), 1);
  assert.equal(vm.xen!.domain.evtchn.isPending(3), true);
  assert.equal(vm.xen!.domain.upcallPending(1), true);
  assert.equal(r.irqLine(40, 1), 0, "already pending");
});
