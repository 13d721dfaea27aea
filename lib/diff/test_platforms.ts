/**
 * Platforms for testing the diff engine: the x86 model with one planted
 * deviation, so a test can prove `diff` and `difftest` find and locate a
 * disagreement without a real VM. Test-only: no command line offers these.
 *
 * @module
 */
import type { CommandSpec } from "../core/table.ts";
import type { Platform, VmModel } from "../core/platform.ts";
import { x86Platform } from "../x86/platform.ts";

/**
 * The x86 model, except that each vCPU's first EOI that has something to
 * clear (a non-empty ISR) is dropped, as a backend losing one EOI write would.
 * Its state is kept per VM, so every run starts clean.
 *
 * @example
 * ```ts
 * diffText(text, "a.scn", [x86Platform, droppedEoiPlatform()]);
 * ```
 */
export function droppedEoiPlatform(): Platform {
  const base = x86Platform as unknown as Platform;
  const isr = base.state.find((s) => s.pattern === "vcpu#.lapic.isr")!;
  const dropped = new WeakMap<VmModel, Set<number>>();
  const commands = base.commands.map((c): CommandSpec<VmModel> =>
    c.actor !== "vcpu" || c.name !== "eoi" ? c : {
      ...c,
      run(vm, actor, args, source) {
        const done = dropped.get(vm) ?? new Set<number>();
        dropped.set(vm, done);
        const pending = isr.get(vm, [actor]) as readonly number[];
        if (!done.has(actor) && pending.length > 0) {
          done.add(actor);
          return;
        }
        return c.run(vm, actor, args, source);
      },
    }
  );
  return { ...base, commands };
}
