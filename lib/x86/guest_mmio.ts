/**
 * A vCPU's guest-physical loads and stores that miss RAM and reach an
 * in-kernel device instead: its own local APIC's 4 KiB xAPIC page at
 * IA32_APIC_BASE, then the I/O APIC's 256-byte window at 0xfec00000. This is
 * what makes `vcpuN: mem read 0xfee00030 u32` read the LAPIC version
 * register, and what a relocated APIC base (WRMSR IA32_APIC_BASE) moves.
 *
 * KVM's order (`vcpu_mmio_read` / `vcpu_mmio_write`): a memslot wins (no
 * exit at all), then the vCPU's own LAPIC (`apic_mmio_in_range`: the page at
 * `apic->base_address`, which follows IA32_APIC_BASE whatever the mode), then
 * the KVM_MMIO_BUS devices (the I/O APIC's `ioapic_mmio_in_range`). In the
 * model RAM is 0..X86_RAM_SIZE, so a device page inside RAM is hidden by it.
 *
 * Width and alignment, as KVM answers them:
 * - LAPIC read (`apic_mmio_read` → `kvm_lapic_reg_read`): 1, 2 or 4 bytes
 *   that stay inside the first 4 bytes of a 16-byte slot read the register
 *   shifted; anything else (8 bytes, crossing byte 4) is not answered by
 *   KVM (the emulator's buffer is left as it was); the model reads 0 there.
 *   Disabled or x2APIC mode: all ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE, on by
 *   default).
 * - LAPIC write (`apic_mmio_write`): only a 4-byte store at a 16-byte-aligned
 *   offset reaches `kvm_lapic_reg_write`; any other is dropped. Disabled or
 *   x2APIC mode: dropped.
 * - I/O APIC (`ioapic_mmio_read` / `ioapic_mmio_write`): the offset is taken
 *   modulo 0x100 with no alignment check; a read answers IOREGSEL or IOWIN
 *   (else 0) truncated to the width (8 bytes: zero-extended); a write takes
 *   the low 1, 2 or 4 bytes (8: the low 4).
 *
 * Sources: Linux arch/x86/kvm/lapic.c (`apic_mmio_in_range`,
 * `apic_mmio_read`, `kvm_lapic_reg_read`, `apic_mmio_write`,
 * `__kvm_lapic_set_base`), arch/x86/kvm/ioapic.c (`ioapic_mmio_in_range`,
 * `ioapic_mmio_read`, `ioapic_mmio_write`), arch/x86/kvm/x86.c
 * (`vcpu_mmio_read`, `vcpu_mmio_write`); Intel SDM vol. 3 "Local APIC
 * Register Address Map" (32-bit accesses to 16-byte-aligned registers).
 *
 * @module
 */
import { CommandInputError } from "../core/diagnostic.ts";
import type { AccessWidth } from "../core/guest_memory.ts";
import type { X86Vm } from "./vm.ts";

/** `LAPIC_MMIO_LENGTH`: the xAPIC register page. */
export const LAPIC_MMIO_LENGTH = 0x1000;
/** `IOAPIC_DEFAULT_BASE_ADDRESS`: where KVM's in-kernel I/O APIC answers. */
export const IOAPIC_MMIO_BASE = 0xfec0_0000;
/** `IOAPIC_MEM_LENGTH`: the I/O APIC's MMIO window. */
export const IOAPIC_MEM_LENGTH = 0x100;

/** The device a vCPU's access at `addr` reaches, or null (RAM, or nothing). */
export type MmioTarget = "lapic" | "ioapic" | null;

/**
 * Which in-kernel device a load or store by `cpu` at `addr` reaches: null
 * inside RAM (a memslot wins) and where no in-kernel device answers.
 *
 * @example
 * ```ts
 * import type { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * mmioTarget(vm, 0, 0xfee00030); // "lapic" after reset
 * ```
 */
export function mmioTarget(vm: X86Vm, cpu: number, addr: number): MmioTarget {
  if (addr < vm.memorySize) return null;
  if (vm.irqchipInKernel && vm.config.xenDomain !== "pv") {
    const base = lapicPage(vm, cpu);
    if (addr >= base && addr < base + LAPIC_MMIO_LENGTH) return "lapic";
  }
  if (addr >= IOAPIC_MMIO_BASE && addr < IOAPIC_MMIO_BASE + IOAPIC_MEM_LENGTH) {
    return vm.ioapic ? "ioapic" : null;
  }
  return null;
}

/**
 * Why no in-kernel device answers at `addr` where one would with a kernel
 * irqchip (a split or userspace irqchip leaves the I/O APIC, or the LAPIC,
 * to userspace: KVM_EXIT_MMIO), or null.
 *
 * @example
 * ```ts
 * import type { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * userspaceMmio(vm, 0, 0xfec00000); // a reason under 'irqchip split'
 * ```
 */
export function userspaceMmio(vm: X86Vm, cpu: number, addr: number): string | null {
  if (addr < vm.memorySize || vm.xen) return null;
  const base = lapicPage(vm, cpu);
  if (!vm.irqchipInKernel && addr >= base && addr < base + LAPIC_MMIO_LENGTH) {
    return `0x${addr.toString(16)} is in vcpu${cpu}'s LAPIC page, which 'irqchip userspace' ` +
      `leaves to the VMM (KVM_EXIT_MMIO): not modelled`;
  }
  if (!vm.ioapic && addr >= IOAPIC_MMIO_BASE && addr < IOAPIC_MMIO_BASE + IOAPIC_MEM_LENGTH) {
    return `0x${addr.toString(16)} is in the I/O APIC window, which this irqchip leaves to the ` +
      `VMM (KVM_EXIT_MMIO): not modelled`;
  }
  return null;
}

/** `apic->base_address`: IA32_APIC_BASE without its flag bits. */
function lapicPage(vm: X86Vm, cpu: number): number {
  // Bits 51:12 (the rest are flags or reserved) exceed 32 bits, so no `&`.
  const base = vm.cpus[cpu].lapic.apicBase;
  return base - (base % LAPIC_MMIO_LENGTH);
}

/** Refuses what the model does not emulate rather than answering wrongly. */
function checkModelled(
  vm: X86Vm,
  cpu: number,
  target: "lapic" | "ioapic",
  addr: number,
  width: AccessWidth,
): void {
  if (vm.xen) {
    throw new CommandInputError(
      `MMIO at 0x${addr.toString(16)} under Xen is not modelled (Xen's vlapic/vioapic ` +
        `MMIO handlers): use 'read'/'write' of the named register`,
    );
  }
  const end = target === "lapic" ? LAPIC_MMIO_LENGTH : IOAPIC_MEM_LENGTH;
  const offset = addr - (target === "ioapic" ? IOAPIC_MMIO_BASE : lapicPage(vm, cpu));
  if (offset + width / 8 > end) {
    throw new CommandInputError(
      `a u${width} access at 0x${addr.toString(16)} crosses the end of the ${
        target === "lapic" ? "LAPIC page" : "I/O APIC window"
      } (KVM's emulator splits it; not modelled)`,
    );
  }
}

/**
 * A load by vCPU `cpu` that reached `target` (see {@link mmioTarget}).
 *
 * @example
 * ```ts
 * import type { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * mmioRead(vm, 0, "lapic", 0xfee00030, 32); // LVR: 0x50014 on KVM's model
 * ```
 */
export function mmioRead(
  vm: X86Vm,
  cpu: number,
  target: "lapic" | "ioapic",
  addr: number,
  width: AccessWidth,
): number | bigint {
  checkModelled(vm, cpu, target, addr, width);
  if (target === "ioapic") {
    const v = vm.ioapic!.read(addr - IOAPIC_MMIO_BASE) >>> 0;
    return width === 64 ? BigInt(v) : width === 32 ? v : v & (2 ** width - 1);
  }
  const lapic = vm.cpus[cpu].lapic;
  const offset = addr - lapicPage(vm, cpu);
  if (!lapic.hardwareEnabled || lapic.x2apicMode) {
    // KVM_X86_QUIRK_LAPIC_MMIO_HOLE: every byte reads 0xff.
    return width === 64 ? 0xffff_ffff_ffff_ffffn : 2 ** width - 1;
  }
  // kvm_lapic_reg_read answers only inside a register's first four bytes.
  if (width === 64 || (offset & 0xf) + width / 8 > 4) return width === 64 ? 0n : 0;
  const v = lapic.read(offset);
  return width === 32 ? v : v & (2 ** width - 1);
}

/**
 * A store by vCPU `cpu` that reached `target` (see {@link mmioTarget}).
 *
 * @example
 * ```ts
 * import type { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * mmioWrite(vm, 0, "lapic", 0xfee00080, 32, 0x20n); // TPR <- 0x20
 * ```
 */
export function mmioWrite(
  vm: X86Vm,
  cpu: number,
  target: "lapic" | "ioapic",
  addr: number,
  width: AccessWidth,
  value: bigint,
): void {
  checkModelled(vm, cpu, target, addr, width);
  const low = Number(BigInt.asUintN(Math.min(width, 32), value));
  if (target === "ioapic") {
    vm.ioapic!.write(addr - IOAPIC_MMIO_BASE, low);
    return;
  }
  const offset = addr - lapicPage(vm, cpu);
  // apic_mmio_write drops all but aligned 32-bit stores (SDM: registers are
  // reached by 32-bit accesses); Lapic.write drops them in the MMIO hole.
  if (width !== 32 || (offset & 0xf) !== 0) return;
  vm.cpus[cpu].lapic.write(offset, low);
}
