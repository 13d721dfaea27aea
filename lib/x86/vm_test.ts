import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { EEXIST, EINVAL, ENXIO } from "./errno.ts";
import { RTC_PIN } from "./ioapic.ts";
import { KvmIrqchip } from "./kvm_routing.ts";
import { programRte } from "./test_vm.ts";
import { type IrqchipMode, KVM_CLOCK, X2apicApi, X86Vm, type X86VmConfig } from "./vm.ts";
import { KvmExit, MpState } from "./kvm_run.ts";
import { vectorsOf } from "../core/vector_set.ts";

function makeVm(
  irqchip: IrqchipMode,
  opts: Partial<X86VmConfig> & { queue?: EventQueue; now?: () => number } = {},
): X86Vm {
  const trace = new Trace(() => 0);
  return new X86Vm("guest", {
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    ...opts,
    vcpus: opts.vcpus ?? 1,
    irqchip,
  }, { trace, queue: opts.queue ?? new EventQueue(), now: opts.now ?? (() => 0) });
}

/** Takes what vCPU `n` can take and EOIs it, as a handler that EOIs would. */
function takeAndEoi(vm: X86Vm, n: number): number {
  const cpu = vm.cpus[n];
  assert.equal(cpu.canTake(), true);
  const v = cpu.take().vector;
  cpu.lapic.eoi();
  cpu.returnFromInterrupt();
  return v;
}

/** Software-enables every LAPIC and sets IF past the STI shadow. */
function boot(vm: X86Vm): void {
  for (const cpu of vm.cpus) {
    cpu.lapic.write(0xf0, 0x1ff);
    cpu.sti();
    cpu.retire();
    cpu.retire();
  }
}

Deno.test("X86Vm kernel mode has a PIC pair, an IOAPIC and KVM's default routing", () => {
  const vm = makeVm("kernel", { vcpus: 2 });
  assert.ok(vm.pic);
  assert.ok(vm.ioapic);
  assert.equal(vm.ioapic.pins, 24);
  assert.equal(vm.cpus.length, 2);
  assert.equal(vm.routing.entries().length, 40);
  assert.deepEqual(
    vm.routing.routesOf(14).filter((r) => r.type === "irqchip" && r.irqchip === KvmIrqchip.Ioapic),
    [{ gsi: 14, type: "irqchip", irqchip: KvmIrqchip.Ioapic, pin: 14 }],
  );
  // And it works: GSI 14 raises IOAPIC pin 14, which delivers its RTE.
  boot(vm);
  programRte(vm, 14, { vector: 0x76, trigger: "level", dest: 1 });
  assert.ok(vm.routing.irqLine(14, 1) >= 1);
  assert.equal(vm.ioapic.line(14), 1);
  assert.equal(vm.cpus[1].lapic.pendingVector(), 0x76);
  assert.equal(vm.cpus[0].lapic.pendingVector(), -1);
});

Deno.test("X86Vm split mode has neither PIC nor IOAPIC, and no irqchip routes", () => {
  const vm = makeVm("split");
  assert.equal(vm.pic, null);
  assert.equal(vm.ioapic, null);
  assert.deepEqual(vm.routing.entries(), []);
  assert.equal(vm.routing.irqLine(14, 1), -1);
  // MSIs still reach the in-kernel LAPICs.
  boot(vm);
  assert.equal(vm.routing.signalMsi(0xfee00000, 0, 0x41), 1);
  assert.equal(vm.cpus[0].lapic.pendingVector(), 0x41);
});

Deno.test("X86Vm KVM_INTERRUPT queues one vector in split mode and takes it as ExtINT", () => {
  const vm = makeVm("split");
  boot(vm);
  const cpu = vm.cpus[0];
  assert.equal(vm.kvmInterrupt(0, 0x30), 0);
  assert.equal(vm.kvmInterrupt(0, 0x31), -EEXIST, "one vector may wait");
  // The BSP's LVT0 is ExtINT at reset (KVM_X86_QUIRK_LINT0_REENABLED).
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.deepEqual([t.kind, t.vector], ["extint", 0x30]);
  cpu.returnFromInterrupt();
  assert.equal(cpu.canTake(), false);
  assert.equal(vm.kvmInterrupt(0, 0x31), 0, "the slot is free again after the take");
});

Deno.test("X86Vm KVM_INTERRUPT waits while LVT0 does not accept ExtINT", () => {
  const vm = makeVm("split");
  boot(vm);
  const cpu = vm.cpus[0];
  cpu.lapic.write(0x350, 0x10700); // LVT0 masked
  assert.equal(vm.kvmInterrupt(0, 0x30), 0);
  assert.equal(cpu.canTake(), false);
  cpu.lapic.write(0x350, 0x700);
  assert.equal(cpu.take().vector, 0x30);
});

Deno.test("X86Vm KVM_INTERRUPT is -ENXIO with the in-kernel PIC", () => {
  const vm = makeVm("kernel");
  assert.equal(vm.kvmInterrupt(0, 0x30), -ENXIO);
  assert.equal(vm.cpus[0].extIntReady(), false);
});

Deno.test("X86Vm routing: 'qemu' puts ISA IRQ0 on IOAPIC pin 2", () => {
  const vm = makeVm("kernel", { routing: "qemu" });
  const io = vm.ioapic!;
  assert.deepEqual(
    vm.routing.routesOf(0).filter((r) => r.type === "irqchip" && r.irqchip === KvmIrqchip.Ioapic),
    [{ gsi: 0, type: "irqchip", irqchip: KvmIrqchip.Ioapic, pin: 2 }],
  );
  assert.deepEqual(vm.routing.routesOf(2), []);
  vm.routing.irqLine(0, 1);
  assert.equal(io.line(2), 1);
  assert.equal(io.line(0), 0);
  // KVM's default keeps GSI 0 on pin 0.
  const kvm = makeVm("kernel");
  kvm.routing.irqLine(0, 1);
  assert.equal(kvm.ioapic!.line(0), 1);
  assert.equal(kvm.ioapic!.line(2), 0);
});

Deno.test("X86Vm RTC GSI 8 statuses are 1, 0, then 1 after the guest's EOI (X86-33)", () => {
  const vm = makeVm("kernel");
  boot(vm);
  const cpu = vm.cpus[0];
  // Only the IOAPIC answers for GSI 8: mask IRQ8 at the slave PIC (OCW1).
  vm.pic!.ioWrite(0xa1, 0x01);
  programRte(vm, RTC_PIN, { vector: 0x28 });
  const tick = () => {
    const s = vm.routing.irqLine(8, 1);
    vm.routing.irqLine(8, 0);
    return s;
  };
  assert.equal(tick(), 1, "delivered to one CPU");
  assert.equal(cpu.take().vector, 0x28);
  assert.equal(tick(), 0, "coalesced: the guest has not EOI'd the last tick");
  assert.equal(vm.cpus[0].lapic.pendingVector(), -1, "the coalesced tick was dropped");
  cpu.lapic.write(0xb0, 0); // the guest's EOI: vector 0x28 is edge (TMR clear)
  assert.equal(vm.ioapic!.rtcPendingEoi, 0);
  assert.ok(vm.trace.events.some((e) => e.kind === "rtc.eoi"));
  assert.equal(tick(), 1, "the EOI ended the coalescing window");
});

Deno.test("X86Vm edge EOIs of other vectors leave the RTC window open", () => {
  const vm = makeVm("kernel");
  boot(vm);
  const cpu = vm.cpus[0];
  vm.pic!.ioWrite(0xa1, 0x01);
  programRte(vm, RTC_PIN, { vector: 0x28 });
  assert.equal(vm.routing.irqLine(8, 1), 1);
  vm.routing.irqLine(8, 0);
  assert.equal(vm.routing.signalMsi(0xfee00000, 0, 0x41), 1);
  assert.equal(cpu.take().vector, 0x41);
  cpu.lapic.write(0xb0, 0); // EOIs 0x41, not the RTC's vector
  assert.equal(vm.ioapic!.rtcPendingEoi, 1);
  assert.equal(vm.routing.irqLine(8, 1), 0);
});

Deno.test("X86Vm LAPIC timers run on the engine's event queue", () => {
  const queue = new EventQueue();
  let now = 0;
  const vm = makeVm("kernel", { queue, now: () => now });
  boot(vm);
  const lapic = vm.cpus[0].lapic;
  lapic.write(0x3e0, 0xb); // divide by 1
  lapic.write(0x320, 0xec);
  lapic.write(0x380, 5000);
  const e = queue.pop()!;
  assert.equal(e.time, 5000, "one bus cycle is 1 ns (KVM)");
  now = e.time;
  e.fire();
  assert.deepEqual(vectorsOf(lapic.irr), [0xec]);
});

Deno.test("X86Vm split irqchip: the EOI of a level MSI route of GSI < 24 exits with KVM_EXIT_IOAPIC_EOI (X86-31)", () => {
  const vm = makeVm("split", { vcpus: 2 });
  boot(vm);
  assert.equal(
    vm.setGsiRouting([
      { gsi: 5, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x80a2 }, // level
      { gsi: 6, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x00a3 }, // edge
      { gsi: 30, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x80a4 }, // level, not I/O APIC
      { gsi: 7, type: "msi", addressLo: 0xfee01000, addressHi: 0, data: 0x80a5 }, // level, vCPU1
    ]),
    0,
  );
  for (const gsi of [5, 6, 30]) assert.equal(vm.irqLine(gsi, 1), 1);
  const run = vm.cpus[0].run;
  assert.deepEqual([takeAndEoi(vm, 0), run.ioapicEoiExits, run.eoiVector], [0xa4, 0, -1]);
  assert.deepEqual([takeAndEoi(vm, 0), run.ioapicEoiExits], [0xa3, 0]);
  assert.equal(takeAndEoi(vm, 0), 0xa2);
  assert.deepEqual([run.exitReason, run.eoiVector, run.ioapicEoiExits], [
    KvmExit.IoapicEoi,
    0xa2,
    1,
  ]);
  assert.deepEqual(vectorsOf(run.ioapicEoiVectors), [0xa2]);
  // vCPU0 EOIs 0xA5 from an IPI: the route names vCPU1, so no exit here.
  vm.cpus[0].lapic.write(0x300, 0x0004c0a5); // self, level, assert
  assert.equal(takeAndEoi(vm, 0), 0xa5);
  assert.equal(run.ioapicEoiExits, 1);
  assert.equal(vm.irqLine(7, 1), 1);
  assert.equal(takeAndEoi(vm, 1), 0xa5);
  assert.equal(vm.cpus[1].run.eoiVector, 0xa5);
});

Deno.test("X86Vm split irqchip: SVR bit 12 does not stop the EOI exit (KVM checks the route first)", () => {
  const vm = makeVm("split");
  boot(vm);
  vm.setGsiRouting([{ gsi: 5, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x80a2 }]);
  // KVM's LAPIC advertises no EOI-broadcast suppression here; force SVR.12 through the model.
  vm.cpus[0].lapic.write(0xf0, 0x11ff);
  vm.irqLine(5, 1);
  takeAndEoi(vm, 0);
  assert.equal(vm.cpus[0].run.ioapicEoiExits, 1);
});

Deno.test("X86Vm split irqchip, ENABLE_SUPPRESS_EOI_BROADCAST: SVR bit 12 stops the EOI exit", () => {
  const vm = makeVm("split", { x2apicApi: X2apicApi.EnableSuppressEoiBroadcast });
  boot(vm);
  assert.equal(vm.cpus[0].lapic.version >>> 24, 1, "directed EOI offered");
  vm.setGsiRouting([{ gsi: 5, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x80a2 }]);
  vm.irqLine(5, 1);
  takeAndEoi(vm, 0);
  assert.equal(vm.cpus[0].run.ioapicEoiExits, 1, "bit 12 clear: the EOI exits");
  vm.cpus[0].lapic.write(0xf0, 0x11ff);
  vm.irqLine(5, 0);
  vm.irqLine(5, 1);
  takeAndEoi(vm, 0);
  assert.equal(vm.cpus[0].run.ioapicEoiExits, 1, "bit 12 set: suppressed");
  vm.eoiBroadcastMode = "quirked";
  vm.irqLine(5, 0);
  vm.irqLine(5, 1);
  takeAndEoi(vm, 0);
  assert.equal(vm.cpus[0].run.ioapicEoiExits, 2, "quirked again: the bit is ignored");
});

Deno.test("X86Vm DISABLE_SUPPRESS_EOI_BROADCAST: Version bit 24 goes at the next INIT or KVM_SET_CPUID2", () => {
  const vm = makeVm("split", { vcpus: 2 });
  assert.equal(vm.offersDirectedEoi, true, "quirked split irqchip offers it");
  vm.eoiBroadcastMode = "disabled";
  assert.equal(vm.cpus[0].lapic.version >>> 24, 1, "not recomputed by the mode change");
  vm.cpus[0].lapic.reset(true);
  assert.equal(vm.cpus[0].lapic.version >>> 24, 0, "kvm_lapic_reset -> kvm_apic_set_version");
  assert.equal(vm.setCpuid(1, { x2apic: true, tscDeadline: true }), 0);
  assert.equal(vm.cpus[1].lapic.version >>> 24, 0, "KVM_SET_CPUID2 -> kvm_apic_set_version");
  vm.eoiBroadcastMode = "enabled";
  assert.equal(vm.setCpuid(1, { x2apic: false, tscDeadline: true }), 0);
  assert.equal(vm.cpus[1].lapic.version >>> 24, 0, "never without CPUID x2APIC");
});

Deno.test("X86Vm in-kernel I/O APIC: a suppressed EOI runs the ack notifiers and keeps remote IRR", () => {
  const vm = makeVm("kernel");
  boot(vm);
  vm.cpus[0].lapic.write(0x350, 0x10700); // LVT0 masked: the PIC's copy of GSI 14 stays out
  programRte(vm, 14, { vector: 0x9a, trigger: "level", dest: 0 });
  assert.equal(vm.irqfds.assign(3, 14, 2, 4), 0, "resampling irqfd on GSI 14");
  vm.irqfds.signal(3);
  vm.cpus[0].lapic.restoreWord(0xf0, 0x11ff); // KVM_SET_LAPIC: the only way to set bit 12 here
  assert.equal(takeAndEoi(vm, 0), 0x9a);
  assert.equal(vm.eventfds.get(4), 1, "kvm_notify_acked_irq ran before the SVR check");
  assert.equal(vm.ioapic!.remoteIrr(14), 1, "remote IRR left set");
});

Deno.test("X86Vm irqchip userspace: no in-kernel devices; the irqchip ioctls are refused", () => {
  const vm = makeVm("userspace", { vcpus: 2 });
  assert.equal(vm.pic, null);
  assert.equal(vm.ioapic, null);
  assert.equal(vm.irqLine(4, 1), -ENXIO);
  assert.equal(vm.signalMsi(0xfee00000, 0, 0x41), -EINVAL);
  assert.equal(vm.setGsiRouting([]), -EINVAL);
  assert.equal(vm.cpus[1].mpState, MpState.Runnable, "every vCPU starts RUNNABLE");
  assert.equal(vm.kvmInterrupt(1, 0x30), 0);
  assert.equal(vm.kvmInterrupt(1, 0x31), 0, "a second KVM_INTERRUPT replaces the first");
  const t = vm.cpus[1].take();
  assert.deepEqual([t.kind, t.vector], ["vector", 0x31]);
  assert.equal(vm.kvmNmi(0), 0);
  assert.equal(vm.cpus[0].take().kind, "nmi");
});

Deno.test("X86Vm 'lapic x2apic' starts every LAPIC in x2APIC mode; x2apic_api reaches bus and routing", () => {
  const vm = makeVm("kernel", { vcpus: 2, lapicMode: "x2apic", x2apicApi: 3 });
  assert.deepEqual(vm.cpus.map((c) => c.lapic.apicBase), [0xfee00d00, 0xfee00c00]);
  assert.equal(vm.cpus[1].lapic.rdmsr(0x802), 1n);
  assert.equal(vm.bus.use32BitIds, true);
  assert.equal(vm.bus.broadcastQuirkDisabled, true);
  assert.equal(vm.signalMsi(0xfee00000, 0x100, 0x41), 0, "dest 0x100 names nobody");
  assert.equal(vm.signalMsi(0xfee00000, 0x1, 0x41), -EINVAL, "address-high bits 7:0 set");
});

Deno.test("X86Vm.enableX2apicApi after the vCPUs: bus, MSI decoding, routes and split EOIs see it", () => {
  const vm = makeVm("split", { vcpus: 2, lapicMode: "x2apic" });
  assert.notEqual(vm.signalMsi(0xfee00000, 0x1, 0x41), -EINVAL, "address-high ignored before");
  vm.enableX2apicApi(X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk);
  assert.equal(vm.x2apicApi, 3);
  assert.equal(vm.bus.use32BitIds, true);
  assert.equal(vm.bus.broadcastQuirkDisabled, true);
  assert.equal(vm.signalMsi(0xfee00000, 0x1, 0x41), -EINVAL, "address-high bits 7:0 set");
  assert.equal(
    vm.setGsiRouting([{ gsi: 5, type: "msi", addressLo: 0xfee00000, addressHi: 0x1, data: 0x42 }]),
    -EINVAL,
  );
  vm.enableX2apicApi(0);
  assert.equal(vm.x2apicApi, 3, "flags are never cleared");
});

Deno.test("X86Vm 'aps wait-for-sipi': the BSP runs, APs are UNINITIALIZED", () => {
  const vm = makeVm("kernel", { vcpus: 3, aps: "wait-for-sipi" });
  assert.deepEqual(vm.cpus.map((c) => c.mpState), [
    MpState.Runnable,
    MpState.Uninitialized,
    MpState.Uninitialized,
  ]);
});

Deno.test("X86Vm.setClock: the kvmclock reads the value set from then on, the TSC does not move; REALTIME never steps back", () => {
  let now = 1_000_000;
  const vm = makeVm("kernel", { now: () => now });
  assert.equal(vm.setClock(5n, 0x1, 0n), -EINVAL, "bit 0 is no KVM_CLOCK_* flag");
  assert.equal(vm.kvmclockNs(), 1_000_000);
  assert.equal(vm.setClock(5n, KVM_CLOCK.TSC_STABLE, 0n), 0);
  now += 10;
  assert.equal(vm.kvmclockNs(), 15);
  assert.equal(vm.guestTsc(), 1_000_010n);
  // Host realtime 1000010: 1000 ns past the one given are added.
  assert.equal(vm.setClock(0n, KVM_CLOCK.REALTIME, 999_010n), 0);
  assert.equal(vm.kvmclockNs(), 1_000);
  assert.equal(vm.setClock(0n, KVM_CLOCK.REALTIME, 5_000_000n), 0);
  assert.equal(vm.kvmclockNs(), 0);
  assert.equal(vm.hostRealtimeNs(), 1_000_010n, "the host's realtime does not move");
});
