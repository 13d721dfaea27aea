/**
 * X86Cpu's PV EOI re-arming after a VMM vCPU ioctl (KVM_REQ_EVENT at the
 * next entry) and its loss at KVM_SET_LAPIC (KVM's highest-ISR cache emptied).
 */
import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { fixedMessage } from "./apic_message.ts";
import { KvmPvEoi } from "./kvm_pv_eoi.ts";
import { cpuRig } from "./test_vm.ts";

/** A vCPU with PV EOI at 0x3000 that took 0x41 (armed), then exited (disarmed). */
function armedThenExited() {
  const mem = new GuestMemory(0x10000);
  const pvEoi = new KvmPvEoi({
    mem: () => mem,
    memorySize: () => mem.size,
    cachesHighestIsr: true,
    ioapicHandles: () => false,
  });
  const r = cpuRig({ pvEoi });
  r.cpu.sti();
  r.cpu.retire();
  r.cpu.retire();
  r.cpu.setPvEoiMsr(0x3001n);
  r.lapic.accept(fixedMessage(0x41, 0, "msi"));
  r.cpu.boundary();
  assert.equal(mem.byte(0x3000), 1, "armed at the injection");
  r.cpu.syncFromGuest();
  assert.equal(mem.byte(0x3000), 0, "disarmed at the exit");
  return { ...r, mem };
}

Deno.test("PV EOI: a KVM_REQ_EVENT entry after a VMM ioctl arms the cached vector again", () => {
  const { cpu, mem } = armedThenExited();
  cpu.eventRequested();
  assert.equal(mem.byte(0x3000), 1);
  assert.equal(cpu.pvEoi!.pending, true);
});

Deno.test("PV EOI: after KVM_SET_LAPIC no KVM_REQ_EVENT entry arms it", () => {
  const { cpu, mem, lapic } = armedThenExited();
  cpu.lapicRestored();
  cpu.eventRequested();
  assert.equal(mem.byte(0x3000), 0);
  assert.equal(cpu.pvEoi!.pending, false);
  assert.equal(lapic.isr[0x41 >> 5] >>> (0x41 & 31) & 1, 1, "0x41 still in service");
});

Deno.test("PV EOI: a halted vCPU does not enter, so an ioctl's KVM_REQ_EVENT arms nothing", () => {
  const { cpu, mem } = armedThenExited();
  cpu.hlt();
  cpu.eventRequested();
  assert.equal(mem.byte(0x3000), 0);
});
