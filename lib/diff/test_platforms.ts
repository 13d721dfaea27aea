/**
 * Platforms for testing the diff engine: the x86 model with one planted
 * bug, so a test can prove `diff` and `difftest` find, locate and never
 * excuse a disagreement without a real VM. Test-only: no command line
 * offers these.
 *
 * @module
 */
import type { Args, CommandSpec } from "../core/table.ts";
import type { PlatformEntry, VmModel } from "../core/platform.ts";
import { X86 } from "../api/platforms.ts";

/**
 * The model with one command replaced: `plant(original)` gives the
 * buggy `run` for the commands `which` selects.
 */
function planted(
  base: PlatformEntry,
  which: (c: CommandSpec<VmModel>) => boolean,
  plant: (original: CommandSpec<VmModel>["run"]) => CommandSpec<VmModel>["run"],
): PlatformEntry {
  const commands = base.commands.map((c): CommandSpec<VmModel> =>
    which(c) ? { ...c, run: plant(c.run.bind(c)) } : c
  );
  return { ...base, commands };
}

/**
 * The x86 model, except that each vCPU's first EOI that has something to
 * clear (a non-empty ISR) is dropped, as a backend losing one EOI write would.
 * Its state is kept per VM, so every run starts clean.
 *
 * @example
 * ```ts
 * import { diffText } from "./diff.ts";
 * import { X86 } from "../../mod.ts";
 * declare const text: string;
 * diffText(text, "a.scn", [X86, droppedEoiPlatform()]);
 * ```
 */
export function droppedEoiPlatform(base: PlatformEntry = X86): PlatformEntry {
  const isr = base.state.find((s) => s.pattern === "vcpu#.lapic.isr")!;
  const dropped = new WeakMap<VmModel, Set<number>>();
  return planted(
    base,
    (c) => c.actor === "vcpu" && c.name === "eoi",
    (run) => (vm, actor, args, source) => {
      const done = dropped.get(vm) ?? new Set<number>();
      dropped.set(vm, done);
      const pending = isr.get(vm, [actor]) as readonly number[];
      if (!done.has(actor) && pending.length > 0) {
        done.add(actor);
        return;
      }
      return run(vm, actor, args, source);
    },
  );
}

/**
 * The x86 model, except that CLI does nothing: IF stays as it was.
 *
 * @example
 * ```ts
 * import { diffText } from "./diff.ts";
 * import { X86 } from "../../mod.ts";
 * declare const text: string;
 * diffText(text, "a.scn", [X86, cliIgnoredPlatform()]);
 * ```
 */
export function cliIgnoredPlatform(base: PlatformEntry = X86): PlatformEntry {
  return planted(base, (c) => c.actor === "vcpu" && c.name === "cli", () => () => undefined);
}

/**
 * The x86 model, except that KVM_IRQ_LINE with level 0 does nothing and
 * returns what a deassert returns: the line stays high.
 *
 * @example
 * ```ts
 * import { diffText } from "./diff.ts";
 * import { X86 } from "../../mod.ts";
 * declare const text: string;
 * diffText(text, "a.scn", [X86, deassertIgnoredPlatform()]);
 * ```
 */
export function deassertIgnoredPlatform(base: PlatformEntry = X86): PlatformEntry {
  return planted(base, (c) => c.name === "kvm irq_line", (run) => (vm, actor, args, source) => {
    if (args.level !== 0) return run(vm, actor, args, source);
    // Read the status a real deassert would give, on a VM this run never sees again.
    return 1;
  });
}

/**
 * The x86 model, except that KVM_SIGNAL_MSI delivers the vector one above
 * the message's (data bits 7:0, wrapping at 0xff).
 *
 * @example
 * ```ts
 * import { diffText } from "./diff.ts";
 * import { X86 } from "../../mod.ts";
 * declare const text: string;
 * diffText(text, "a.scn", [X86, msiVectorPlusOnePlatform()]);
 * ```
 */
export function msiVectorPlusOnePlatform(base: PlatformEntry = X86): PlatformEntry {
  return planted(base, (c) => c.name === "kvm signal_msi", (run) => (vm, actor, args, source) => {
    const data = Number(args.data);
    const plus: Args = Object.assign({}, args, { data: (data & ~0xff) | ((data + 1) & 0xff) });
    return run(vm, actor, plus, source);
  });
}

/** Every planted bug, by name, for tests that check none is excused. */
export const PLANTED_BUGS: Readonly<Record<string, (base?: PlatformEntry) => PlatformEntry>> = {
  "dropped EOI": droppedEoiPlatform,
  "CLI ignored": cliIgnoredPlatform,
  "irq_line deassert ignored": deassertIgnoredPlatform,
  "MSI vector + 1": msiVectorPlusOnePlatform,
};
