/**
 * Which steps of a parallel block are independent, for the partial-order
 * reduction of `scn explore`: two steps are independent when they belong
 * to different actors and their footprints share nothing, so running them
 * in either order gives the same state; explore then tries only one order.
 *
 * A footprint is a set of names of state a step may read or write. It is
 * deliberately conservative: a step is taken to touch everything unless
 * its command declares less (`touches` in its {@link CommandSpec}) or is in
 * {@link KNOWN_FOOTPRINTS}, and any step that reads model state in an
 * argument, binds or reads variables, or is an `expect` or an `if` is
 * treated accordingly (variables by name; state reads, expects and ifs as
 * everything). Interrupts are delivered only during `run`, never between
 * the steps of a block, so a command's footprint is what the command itself
 * does, not what a later delivery does with it.
 *
 * `lib/interp/explore_test.ts` checks the reduction against the full search
 * (the same verdicts and the same set of reachable states) so that a wrong
 * footprint shows up as a failing test rather than a missed bug.
 *
 * @module
 */
import type { Call, Expr, Op, Program } from "../../dsl/program.ts";
import type { CommandSpec } from "../core/table.ts";
import { x86Platform } from "../x86/platform.ts";
import { armPlatform } from "../arm/platform.ts";
import { type BlockPlan, blockPlan } from "./explore_schedule.ts";
import type { ParallelOp } from "./run.ts";

/** The state names a step may touch, or null for everything. */
export type Footprint = ReadonlySet<string> | null;

/** The footprint name for all of a VM's state except its vCPUs' instruction flags. */
export const PLUMBING = "plumbing";

/** A footprint entry for the commands of a platform whose table declares none. */
interface Known {
  touches: readonly string[];
  /** Holds only for VMs whose `hypervisor` setting is `kvm` (or absent). */
  kvmOnly: boolean;
}

/**
 * Footprints of commands whose tables do not declare one yet, checked
 * against the model code (lib/x86, lib/arm):
 *
 * - STI, CLI, NOP and the Arm DAIF writes change only the acting vCPU's own
 *   flags (and retire an instruction, ending its STI shadow).
 * - The device lines and MSIs and the listed KVM ioctls change and read the
 *   interrupt plumbing (controllers, routing, ITS, pending NMIs) but never a
 *   vCPU's instruction flags (IF, STI shadow, PSTATE.I/F, halted): only the
 *   vCPU's own instructions and the engine's delivery during `run` do. Not
 *   so with Xen (`hypervisor xen` or `kvm-xen`): an event channel kick ends
 *   a HLT and reads IF, so there they touch everything. Commands added to
 *   the tables later are not listed until someone checks them.
 *
 * Keyed by the table entry itself, so a platform that wraps a command with
 * more behaviour (a VM exit) does not inherit the entry. To be moved into
 * the tables as `touches`.
 */
export const KNOWN_FOOTPRINTS: ReadonlyMap<CommandSpec<unknown>, Known> = (() => {
  const m = new Map<CommandSpec<unknown>, Known>();
  const add = (
    cmds: readonly CommandSpec<never>[],
    local: readonly string[],
    plumbing: readonly string[],
  ) => {
    for (const c of cmds) {
      const spec = c as unknown as CommandSpec<unknown>;
      const name = `${c.actor}: ${c.name}`;
      if (local.includes(name)) m.set(spec, { touches: ["cpu@self"], kvmOnly: false });
      else if (plumbing.includes(name)) m.set(spec, { touches: [PLUMBING], kvmOnly: true });
    }
  };
  const devices = ["device: assert", "device: deassert", "device: pulse", "device: msi"];
  add(
    x86Platform.commands,
    ["vcpu: sti", "vcpu: cli", "vcpu: nop"],
    // Not `kvm interrupt` or `kvm request_interrupt_window`: with a userspace
    // irqchip they act on the vCPU itself.
    [
      "vmm: kvm irq_line",
      "vmm: kvm signal_msi",
      "vmm: kvm set_gsi_routing",
      "vmm: kvm nmi",
      ...devices,
    ],
  );
  add(
    armPlatform.commands,
    ["vcpu: mask irqs", "vcpu: unmask irqs", "vcpu: mask fiqs", "vcpu: unmask fiqs", "vcpu: nop"],
    [
      "vmm: kvm irq_line",
      "vmm: kvm signal_msi",
      "vmm: kvm forward",
      "vmm: kvm unforward",
      ...devices,
    ],
  );
  return m;
})();

/**
 * The footprint of one child of a parallel block. Names carry their VM:
 * `0:cpu:1` (vcpu1's flags), `0:plumbing`, `0:ioapic`; variables are `$x`.
 *
 * @example
 * ```ts
 * stepFootprint(block.body[0], program); // Set {"0:cpu:0"} for `vcpu0: sti`, null for `vcpu0: eoi`
 * ```
 */
export function stepFootprint(op: Op, program: Program): Footprint {
  switch (op.op) {
    case "do": {
      const out = callFootprint(op.call, program);
      if (out === null) return null;
      if (op.bind !== null) out.add(`$${op.bind}`);
      return out;
    }
    case "let": {
      const out = new Set<string>([`$${op.name}`]);
      return exprReads(op.value, out) ? out : null;
    }
    default:
      // expect reads anything; an if may do anything its branches do.
      return null;
  }
}

function callFootprint(c: Call, program: Program): Set<string> | null {
  let declared = c.spec.touches;
  if (!declared) {
    const known = KNOWN_FOOTPRINTS.get(c.spec as CommandSpec<unknown>);
    const hv = program.vms[c.vm]?.settings.hypervisor;
    if (known && (!known.kvmOnly || hv === undefined || hv === "kvm")) declared = known.touches;
  }
  if (!declared || declared.includes("*")) return null;
  const out = new Set<string>();
  for (const t of declared) {
    out.add(t.endsWith("@self") ? `${c.vm}:${t.slice(0, -5)}:${c.cpu}` : `${c.vm}:${t}`);
  }
  // Every vCPU command retires an instruction on its vCPU.
  if (c.cpu >= 0) out.add(`${c.vm}:cpu:${c.cpu}`);
  for (const { expr } of c.args) if (!exprReads(expr, out)) return null;
  for (const entry of c.entries ?? []) {
    for (const { expr } of entry) if (!exprReads(expr, out)) return null;
  }
  if (c.register) {
    const r = c.register;
    for (const e of [r.index, r.raw, ...r.fields.map((f) => f.expr)]) {
      if (e && !exprReads(e, out)) return null;
    }
  }
  return out;
}

/** Whether two footprint names may refer to the same state. */
function overlap(x: string, y: string): boolean {
  if (x === y) return true;
  if (x.startsWith("$") || y.startsWith("$")) return false;
  const [vx, fx] = x.split(":"), [vy, fy] = y.split(":");
  if (vx !== vy) return false;
  // The plumbing is everything of its VM but the vCPUs' flags.
  return (fx === PLUMBING && fy !== "cpu") || (fy === PLUMBING && fx !== "cpu");
}

/** Adds the variables an expression reads; false when it reads model state (everything). */
function exprReads(e: Expr, out: Set<string>): boolean {
  switch (e.e) {
    case "lit":
      return true;
    case "var":
      out.add(`$${e.name}`);
      return true;
    case "neg":
      return exprReads(e.operand, out);
    case "set":
    case "list":
      return e.items.every((x) => exprReads(x, out));
    case "range":
      return exprReads(e.from, out) && exprReads(e.to, out);
    case "state":
    case "query":
      return false;
  }
}

/** Independence of the steps of one block, as a matrix. */
export interface BlockIndependence {
  readonly plan: BlockPlan;
  /** `independent[i][j]`: steps i and j commute. */
  readonly independent: readonly (readonly boolean[])[];
}

const matrices = new WeakMap<ParallelOp, BlockIndependence>();

/**
 * Which pairs of a block's steps are independent: different actors and
 * disjoint footprints, neither touching everything.
 *
 * @example
 * ```ts
 * blockIndependence(block, program).independent[0][1]; // true for `vcpu0: sti` and `vcpu1: sti`
 * ```
 */
export function blockIndependence(block: ParallelOp, program: Program): BlockIndependence {
  let m = matrices.get(block);
  if (m) return m;
  const plan = blockPlan(block);
  const fps = block.body.map((op) => stepFootprint(op, program));
  const independent = block.body.map((_, i) =>
    block.body.map((_, j) => {
      if (i === j || plan.actorOf[i] === plan.actorOf[j]) return false;
      const a = fps[i], b = fps[j];
      if (a === null || b === null) return false;
      for (const x of a) for (const y of b) if (overlap(x, y)) return false;
      return true;
    })
  );
  m = { plan, independent };
  matrices.set(block, m);
  return m;
}
