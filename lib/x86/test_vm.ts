/**
 * Test helpers for the x86 models: guest-side register accesses that
 * several unit tests make the same way.
 *
 * @module
 */
import { encodeRte, IoapicIndex, IoapicMmio } from "./ioapic.ts";
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
