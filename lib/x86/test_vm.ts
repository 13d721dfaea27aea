/**
 * Test helpers for the x86 models: a lone vCPU, and guest-side register
 * accesses that several unit tests make the same way.
 *
 * @module
 */
import type { GuestMemory } from "../core/guest_memory.ts";
import { Trace } from "../core/trace.ts";
import { HeldExtInt, X86Cpu, type X86CpuOptions } from "./cpu.ts";
import { HvPartition, type HvPartitionHost } from "./hyperv_hypercall.ts";
import type { RegWords } from "../core/bitfield.ts";
import { encodeRte, IoapicIndex, IoapicMmio, type RteInit } from "./ioapic.ts";
import { Lapic } from "./lapic.ts";
import type { X86Vm } from "./vm.ts";

/** What {@link writeRte} writes to: an I/O APIC's MMIO window, KVM's or QEMU's. */
export interface IoapicWindow {
  write(offset: number, value: number): void;
}

/**
 * Programs IOREDTBL[pin] through IOREGSEL/IOWIN, high dword first, as a
 * guest does (the entry is live once its low dword is written): from named
 * fields, or from the two dwords as they are.
 *
 * @example
 * ```ts
 * import { Ioapic } from "./ioapic.ts";
 * declare const io: Ioapic;
 * writeRte(io, 20, { vector: 0x9a, trigger: "level", dest: 1 });
 * writeRte(io, 21, { low: 0x10000, high: 0 });
 * ```
 */
export function writeRte(io: IoapicWindow, pin: number, entry: RteInit | RegWords): void {
  const { low, high } = "low" in entry ? entry : encodeRte(entry);
  io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * pin + 1);
  io.write(IoapicMmio.IOWIN, high);
  io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * pin);
  io.write(IoapicMmio.IOWIN, low);
}

/**
 * {@link writeRte} to a VM's in-kernel I/O APIC.
 *
 * @example
 * ```ts
 * import { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 1 });
 * ```
 */
export function programRte(vm: X86Vm, pin: number, init: RteInit): void {
  writeRte(vm.ioapic!, pin, init);
}

/** A lone vCPU of {@link cpuRig}: its LAPIC, its ExtINT source and their trace. */
export interface CpuRig {
  /** The vCPU (APIC ID 0). */
  cpu: X86Cpu;
  /** Its LAPIC, software-enabled (SVR 0x1ff). */
  lapic: Lapic;
  /** Its ExtINT source: set `vector` to raise INTR. */
  pic: HeldExtInt;
  /** The trace they share, at time 0. */
  trace: Trace;
}

/**
 * One vCPU with a software-enabled LAPIC that delivers nowhere and a held
 * ExtINT source; an AP unless `bsp`, so LVT0 starts masked unless `lvt0`
 * sets it.
 *
 * @example
 * ```ts
 * const { cpu, pic } = cpuRig({ lvt0: 0x700 });
 * pic.vector = 0x20; // INTR up, LVT0 in ExtINT mode
 * cpu.sti();
 * ```
 */
export function cpuRig(opts: { lvt0?: number; bsp?: boolean } & X86CpuOptions = {}): CpuRig {
  const trace = new Trace(() => 0);
  const lapic = new Lapic(0, {
    sink: { deliver: () => -1 },
    eoiListener: { eoi() {} },
    trace,
    name: "lapic0",
    bsp: opts.bsp ?? false,
  });
  lapic.write(0xf0, 0x1ff);
  if (opts.lvt0 !== undefined) lapic.write(0x350, opts.lvt0);
  const pic = new HeldExtInt();
  return { cpu: new X86Cpu(0, lapic, pic, trace, opts), lapic, pic, trace };
}

/**
 * A Hyper-V partition over `mem` whose host is a quiet KVM VM: kvmclock and
 * TSC at 0, no master clock, no Xen hypercalls, the SynIC active, the LAPIC
 * in the kernel, signals and IPIs dropped. `host` replaces any of these.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * const p = hvPartition(new GuestMemory(0x10000), { masterClock: () => true });
 * ```
 */
export function hvPartition(mem: GuestMemory, host: Partial<HvPartitionHost> = {}): HvPartition {
  return new HvPartition({
    mem: () => mem,
    kvmclockNs: () => 0,
    tsc: () => 0n,
    masterClock: () => false,
    xenHypercalls: () => false,
    signal: () => {},
    synicActive: () => true,
    lapicInKernel: () => true,
    sendIpi: () => {},
    ...host,
  });
}
