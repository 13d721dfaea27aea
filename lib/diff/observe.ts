/**
 * What `scn diff` compares between two platforms after each timeline step:
 * the observable state of a run, read through each platform's own state
 * table ({@link StateSpec}), so the same code reads the model and a real VM.
 *
 * A snapshot is a map from a key a person can read (`vcpu1.lapic.isr`,
 * `vcpu0 took`, `$r`, `expect at 12:1`) to the value printed as scenarios
 * write values. Keys are built the same way on both sides, so comparing two
 * snapshots is comparing two maps.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import type { StateSpec } from "../core/table.ts";
import type { VmModel } from "../core/platform.ts";
import type { RunState } from "../engine/run.ts";
import { formatVal } from "../core/values.ts";

/** A state read that failed: the key is then left out of the comparison. */
export const UNREADABLE = "unreadable: ";

/** The observable state after one step: key to printed value, in a fixed key order. */
export type Snapshot = Map<string, string>;

/**
 * Reads a run's observable state: per vCPU the state paths its platform
 * declares observable (`Platform.observables`: on x86 the LAPIC's IRR,
 * ISR, TMR, TPR and PPR, halted and IF) and what it took in order; then
 * the platform's other observable paths for every index (x86: each IOAPIC
 * pin's remote IRR and mask); every bound variable (`-> $r` results
 * included); and which expectations have failed so far. Paths a VM does
 * not have (the platform's `requires` refuses them, as for the LAPIC under
 * `irqchip userspace`) are left out; a read that throws gives an
 * {@link UNREADABLE} value instead of ending the run.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { runProgram } from "../../mod.ts";
 * declare const program: Program;
 * runProgram(program, { onStep: (_loc, state) => console.log(snapshot(program, state)) });
 * ```
 */
export function snapshot(program: Program, state: RunState): Snapshot {
  const out: Snapshot = new Map();
  const many = program.vms.length > 1;
  program.vms.forEach((decl, v) => {
    const vm = state.vms[v];
    const prefix = many ? `${decl.name}.` : "";
    const specs = (decl.platform.observables ?? []).flatMap((pattern) => {
      const spec = decl.platform.state.find((s) => s.pattern === pattern);
      return spec && spec.requires?.(decl.settings) === undefined ? [spec] : [];
    });
    const perCpu = specs.filter((s) => s.pattern.startsWith("vcpu#."));
    for (let c = 0; c < vm.cpus.length; c++) {
      for (const spec of perCpu) {
        out.set(prefix + spec.pattern.replace("#", String(c)), read(spec, vm, [c]));
      }
      const name = vm.cpus[c].name;
      const took = state.took.filter((t) => t.vm === vm.name && t.cpu === name);
      out.set(`${prefix}vcpu${c} took`, formatTook(took));
    }
    for (const spec of specs) {
      if (perCpu.includes(spec)) continue;
      if (!spec.pattern.includes("#")) {
        out.set(prefix + spec.pattern, read(spec, vm, []));
        continue;
      }
      const count = spec.bounds?.(vm)[0] ?? 0;
      for (let i = 0; i < count; i++) {
        out.set(prefix + spec.pattern.replace("#", String(i)), read(spec, vm, [i]));
      }
    }
  });
  for (const [name, value] of state.env) out.set(`$${name}`, formatVal(value));
  for (const f of state.failures) {
    const file = f.loc.source === program.file ? "" : `${f.loc.source}:`;
    out.set(`${f.kind} at ${file}${f.loc.start.line}:${f.loc.start.column}`, "failed");
  }
  return out;
}

function read(spec: StateSpec<VmModel>, vm: VmModel, indexes: number[]): string {
  try {
    return formatVal(spec.get(vm, indexes));
  } catch (e) {
    return UNREADABLE + (e instanceof Error ? e.message : String(e));
  }
}

/**
 * Takes as `took [...]` lists them: vectors, and `nmi` for what has none.
 * How a vector arrived (fixed, ExtINT) is left out: a real vCPU shows only
 * which vector's handler it entered.
 */
function formatTook(took: RunState["took"]): string {
  if (took.length === 0) return "nothing";
  return `[${took.map((t) => (t.vector < 0 ? t.kind : formatVal(t.vector))).join(", ")}]`;
}
