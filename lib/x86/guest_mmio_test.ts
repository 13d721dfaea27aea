import assert from "node:assert/strict";
import { CommandInputError } from "../core/diagnostic.ts";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { mmioRead, mmioTarget, mmioWrite, userspaceMmio } from "./guest_mmio.ts";
import { x86Platform } from "./platform.ts";
import { type IrqchipMode, X86Vm } from "./vm.ts";

function makeVm(irqchip: IrqchipMode, vcpus = 2): X86Vm {
  return new X86Vm("guest", {
    vcpus,
    irqchip,
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
  }, { trace: new Trace(() => 0), queue: new EventQueue(), now: () => 0 });
}

const memRead = x86Platform.commands.find((c) => c.actor === "vcpu" && c.name === "mem read")!;

Deno.test("a vCPU's access reaches its own LAPIC page, then the I/O APIC window; RAM wins", () => {
  const vm = makeVm("kernel");
  assert.equal(mmioTarget(vm, 0, 0xfee00030), "lapic");
  assert.equal(mmioTarget(vm, 0, 0xfec000ff), "ioapic");
  assert.equal(mmioTarget(vm, 0, 0xfec00100), null);
  vm.cpus[1].lapic.setApicBase(0xfee00000);
  vm.cpus[1].lapic.setApicBase(0x100800); // inside RAM
  assert.equal(mmioTarget(vm, 1, 0x100080), null);
  assert.equal(mmioTarget(vm, 1, 0xfee00080), null, "vCPU1's page moved");
  assert.equal(mmioTarget(vm, 0, 0xfee00080), "lapic", "vCPU0's did not");
});

Deno.test("LAPIC MMIO answers KVM's widths: shifted bytes, no answer past byte 4, aligned u32 stores only", () => {
  const vm = makeVm("kernel");
  vm.cpus[0].lapic.write(0xf0, 0x1ff);
  const lvr = vm.cpus[0].lapic.read(0x30);
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee00031, 8), (lvr >>> 8) & 0xff);
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee00033, 16), 0, "crosses byte 4");
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee00030, 64), 0n);
  mmioWrite(vm, 0, "lapic", 0xfee00080, 32, 0x1_0000_0030n);
  assert.equal(vm.cpus[0].lapic.read(0x80), 0x30, "a u32 store of the low 32 bits");
  mmioWrite(vm, 0, "lapic", 0xfee00080, 64, 0x40n);
  mmioWrite(vm, 0, "lapic", 0xfee00081, 32, 0x40n);
  assert.equal(vm.cpus[0].lapic.read(0x80), 0x30, "u64 and unaligned stores are dropped");
  assert.throws(() => mmioRead(vm, 0, "lapic", 0xfee00ffe, 32), CommandInputError);
});

Deno.test("a split irqchip's I/O APIC window is userspace's: an input error saying so", () => {
  const vm = makeVm("split", 1);
  assert.equal(mmioTarget(vm, 0, 0xfec00010), null);
  assert.match(userspaceMmio(vm, 0, 0xfec00010) ?? "", /I\/O APIC window.*KVM_EXIT_MMIO/);
  assert.equal(mmioTarget(vm, 0, 0xfee00030), "lapic", "the LAPIC is still KVM's");
  assert.throws(
    () => memRead.run(vm, 0, { addr: 0xfec00010, size: "u32" }, "vcpu0"),
    (e) => e instanceof CommandInputError && /KVM_EXIT_MMIO/.test(e.message),
  );
});

Deno.test("a LAPIC load KVM does not answer returns the vCPU's emulator read cache as its last load left it", () => {
  const vm = makeVm("kernel");
  vm.cpus[0].lapic.write(0xf0, 0x1ff);
  assert.equal(
    mmioRead(vm, 0, "lapic", 0xfee00030, 64),
    0n,
    "nothing read yet: the cache is zeroed",
  );
  assert.equal(mmioRead(vm, 1, "lapic", 0xfee00030, 32), 0x00050014, "vCPU1's LVR");
  assert.equal(mmioRead(vm, 0, "ioapic", 0xfec00000, 32), 0, "IOREGSEL 0 refills vCPU0's cache");
  mmioWrite(vm, 0, "ioapic", 0xfec00000, 32, 1n);
  assert.equal(mmioRead(vm, 0, "ioapic", 0xfec00010, 64), 0x00170011n, "u64: zero-extended");
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee000b0, 32), 0x00170011, "EOI is write-only");
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee000c0, 16), 0x0011, "RRD: KVM keeps none");
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee002f0, 32), 0x00170011, "LVT CMCI without MCG_CMCI_P");
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee00033, 16), 0x0011, "crosses byte 4");
  assert.equal(mmioRead(vm, 1, "lapic", 0xfee00020, 64), 0x00050014n, "vCPU1 has its own cache");
  vm.cpus[0].lapic.setApicBase(0xfee00000); // disabled: the MMIO hole answers all ones
  assert.equal(mmioRead(vm, 0, "lapic", 0xfee00030, 8), 0xff);
  assert.equal(mmioRead(vm, 0, "ioapic", 0xfec00020, 64) as bigint, 0n);
});

Deno.test("KVM_SET_IRQCHIP's base_address: the window stays at 0xfec00000 and answers from the new base up", () => {
  const vm = makeVm("kernel");
  vm.ioapic!.baseAddress = 0xfec00080n;
  assert.equal(mmioTarget(vm, 0, 0xfec0007f), null);
  assert.match(userspaceMmio(vm, 0, 0xfec00000)!, /moved its base_address to 0xfec00080/);
  assert.equal(mmioTarget(vm, 0, 0xfec00080), "ioapic");
  assert.equal(mmioTarget(vm, 0, 0xfec000ff), "ioapic");
  assert.equal(mmioTarget(vm, 0, 0xfec00100), null);
  assert.match(userspaceMmio(vm, 0, 0xfec00100)!, /stays where kvm_ioapic_init registered it/);
  assert.equal(userspaceMmio(vm, 0, 0xfec00180), null, "past the moved window: nobody's");
  vm.ioapic!.baseAddress = 0x1_0000_0000_0000n;
  assert.equal(mmioTarget(vm, 0, 0xfec00010), null);
  assert.match(userspaceMmio(vm, 0, 0xfec00010)!, /KVM_EXIT_MMIO/);
});
