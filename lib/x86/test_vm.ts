/**
 * Test helpers for the x86 models: guest-side register accesses that
 * several unit tests make the same way.
 *
 * @module
 */
import { encodeRte, IoapicIndex, IoapicMmio } from "./ioapic.ts";
import type { ExtIntSource } from "./cpu.ts";
import type { X86Vm } from "./vm.ts";

/**
 * Programs IOREDTBL[pin] through IOREGSEL/IOWIN, high dword first, as a
 * guest does (the entry is live once its low dword is written).
 *
 * @example
 * ```ts
 * import { X86Vm } from "./vm.ts";
 * declare const vm: X86Vm;
 * programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 1 });
 * ```
 */
export function programRte(vm: X86Vm, pin: number, init: Parameters<typeof encodeRte>[0]): void {
  const io = vm.ioapic!;
  const { low, high } = encodeRte(init);
  io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * pin + 1);
  io.write(IoapicMmio.IOWIN, high);
  io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * pin);
  io.write(IoapicMmio.IOWIN, low);
}

/**
 * A PIC stand-in for a vCPU's ExtINT source: INTR while `vector` is set;
 * INTA hands it out once.
 *
 * @example
 * ```ts
 * const pic = new FakePic();
 * pic.vector = 0x20;
 * pic.acknowledge(); // 0x20, and INTR is down
 * ```
 */
export class FakePic implements ExtIntSource {
  /** The vector INTA returns, or -1: INTR is low. */
  vector = -1;
  /** Whether INTR is up. */
  intr(): boolean {
    return this.vector >= 0;
  }
  /** INTA: the vector, once. */
  acknowledge(): number {
    const v = this.vector;
    this.vector = -1;
    return v;
  }
}
