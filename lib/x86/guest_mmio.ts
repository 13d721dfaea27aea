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
 *   that stay inside the first 4 bytes of a register KVM reads (not EOI,
 *   RRD or an unknown offset) read it shifted; anything else (8 bytes,
 *   crossing byte 4) is not answered, though reported handled: the guest
 *   gets what the vCPU's last emulated load left in the emulator's read
 *   cache ({@link X86Vm.mmioReadCache}; zero before any).
 *   Disabled or x2APIC mode: all ones (KVM_X86_QUIRK_LAPIC_MMIO_HOLE, on by
 *   default).
 * - LAPIC write (`apic_mmio_write`): only a 4-byte store at a 16-byte-aligned
 *   offset reaches `kvm_lapic_reg_write`; any other is dropped. Disabled or
 *   x2APIC mode: dropped.
 * - I/O APIC (`ioapic_mmio_read` / `ioapic_mmio_write`): the offset is taken
 *   modulo 0x100 with no alignment check; a read answers IOREGSEL or IOWIN
 *   (else 0) truncated to the width (8 bytes: zero-extended); a write takes
 *   the low 1, 2 or 4 bytes (8: the low 4). KVM_SET_IRQCHIP may move the
 *   I/O APIC's `base_address`, but its device stays registered at
 *   0xfec00000: only the part of that window at or above the new base still
 *   answers (`ioapic_mmio_in_range`), the rest exits to the VMM.
 *
 * Under Xen (an HVM domain's vIOAPIC) the I/O APIC window answers the same
 * way, Xen's `vioapic_read` / `vioapic_write` also switching on the offset
 * modulo 0x100, except that IOREGSEL keeps all 32 bits written; the LAPIC
 * page there is refused as not modelled.
 *
 * Sources: Linux arch/x86/kvm/lapic.c (`apic_mmio_in_range`,
 * `apic_mmio_read`, `kvm_lapic_reg_read`, `apic_mmio_write`,
 * `__kvm_lapic_set_base`), arch/x86/kvm/ioapic.c (`ioapic_mmio_in_range`,
 * `ioapic_mmio_read`, `ioapic_mmio_write`), arch/x86/kvm/x86.c
 * (`vcpu_mmio_read`, `vcpu_mmio_write`); Xen xen/arch/x86/hvm/vioapic.c
 * (`vioapic_read`, `vioapic_write`, `vioapic_range`); Intel SDM vol. 3 "Local APIC
 * Register Address Map" (32-bit accesses to 16-byte-aligned registers).
 *
 * @module
 */
import { CommandInputError } from "../core/diagnostic.ts";
import type { AccessWidth } from "../core/guest_memory.ts";
import { type Ioapic, IOAPIC_MMIO_BASE } from "./ioapic.ts";
import { kvmReadsLapicRegister } from "./lapic_registers.ts";
import type { X86Vm } from "./vm.ts";

export { IOAPIC_MMIO_BASE };

/** `LAPIC_MMIO_LENGTH`: the xAPIC register page. */
export const LAPIC_MMIO_LENGTH = 0x1000;
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
    return vm.ioapic && ioapicInRange(vm.ioapic, addr) ? "ioapic" : null;
  }
  return null;
}

const DEFAULT_BASE = BigInt(IOAPIC_MMIO_BASE);

/**
 * `ioapic_mmio_in_range`: whether `addr` is in the window at the I/O APIC's
 * `base_address`, which KVM_SET_IRQCHIP may have moved away from where its
 * MMIO device is registered.
 */
function ioapicInRange(io: Ioapic, addr: number): boolean {
  const base = io.baseAddress;
  if (base === DEFAULT_BASE) return true; // the caller checked the registered window
  const a = BigInt(addr);
  return a >= base && a < base + BigInt(IOAPIC_MEM_LENGTH);
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
  const window = addr >= IOAPIC_MMIO_BASE && addr < IOAPIC_MMIO_BASE + IOAPIC_MEM_LENGTH;
  const io = vm.ioapic;
  if (!io && window) {
    return `0x${addr.toString(16)} is in the I/O APIC window, which this irqchip leaves to the ` +
      `VMM (KVM_EXIT_MMIO): not modelled` + (vm.qemuIoapic
        ? " as a raw access; QEMU's I/O APIC ('split_ioapic qemu') answers 'read' and 'write' " +
          "of its registers (ioapic.<name>)"
        : "");
  }
  if (io && window && !ioapicInRange(io, addr)) {
    return `0x${addr.toString(16)} is in the I/O APIC window, but KVM_SET_IRQCHIP moved its ` +
      `base_address to 0x${io.baseAddress.toString(16)}: ioapic_mmio_in_range refuses it and ` +
      `the access exits to the VMM (KVM_EXIT_MMIO): not modelled`;
  }
  if (io && !window && ioapicInRange(io, addr)) {
    return `0x${addr.toString(16)} is at the I/O APIC's base_address, but KVM's MMIO device ` +
      `stays where kvm_ioapic_init registered it (0x${IOAPIC_MMIO_BASE.toString(16)}): the ` +
      `access exits to the VMM (KVM_EXIT_MMIO): not modelled`;
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
  // Xen's vioapic_read / vioapic_write answer the window as KVM's handlers
  // do, but for IOREGSEL's width (the Ioapic's xenRegisters); its
  // vlapic_mmio_read / vlapic_mmio_write differ from KVM's on widths and
  // alignment in ways not modelled.
  if (vm.xen && target === "lapic") {
    throw new CommandInputError(
      `MMIO at 0x${addr.toString(16)} (the LAPIC page) under Xen is not modelled (Xen's ` +
        `vlapic_mmio_read/vlapic_mmio_write): use 'read'/'write' of the named register`,
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
    // The offset is the address's low byte: the window is where KVM registered it.
    const v = vm.ioapic!.read(addr - IOAPIC_MMIO_BASE) >>> 0;
    return answer(vm, cpu, width, v);
  }
  const lapic = vm.cpus[cpu].lapic;
  const offset = addr - lapicPage(vm, cpu);
  if (!lapic.hardwareEnabled || lapic.x2apicMode) {
    // KVM_X86_QUIRK_LAPIC_MMIO_HOLE: every byte reads 0xff.
    return answer(vm, cpu, width, width === 64 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffff);
  }
  // kvm_lapic_reg_read answers only inside the first four bytes of a register
  // its readable mask holds; apic_mmio_read reports the access handled anyway.
  const cmci = ((lapic.version >>> 16) & 0xff) === 6;
  if (
    width === 64 || (offset & 0xf) + width / 8 > 4 ||
    !kvmReadsLapicRegister(offset & ~0xf, cmci)
  ) {
    return stale(vm, cpu, width);
  }
  return answer(vm, cpu, width, lapic.read(offset));
}

/**
 * A device's answer to a load: its low `width` bits go into the vCPU's
 * emulator read cache ({@link X86Vm.mmioReadCache}) and on to the guest.
 */
function answer(
  vm: X86Vm,
  cpu: number,
  width: AccessWidth,
  value: number | bigint,
): number | bigint {
  const cache = vm.mmioReadCache, at = 8 * cpu;
  let v = BigInt.asUintN(width, BigInt(value));
  for (let i = 0; i < width / 8; i++, v >>= 8n) cache[at + i] = Number(v & 0xffn);
  return stale(vm, cpu, width);
}

/** What a load nobody answered returns: the first `width` bits of the read cache, as they were. */
function stale(vm: X86Vm, cpu: number, width: AccessWidth): number | bigint {
  const cache = vm.mmioReadCache, at = 8 * cpu;
  let v = 0n;
  for (let i = width / 8 - 1; i >= 0; i--) v = (v << 8n) | BigInt(cache[at + i]);
  return width === 64 ? v : Number(v);
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
