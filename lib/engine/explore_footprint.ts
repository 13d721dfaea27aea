/**
 * Which steps of a parallel block are independent, for the partial-order
 * reduction of `scn explore`: two steps are independent when they belong
 * to different actors and their footprints share nothing, so running them
 * in either order gives the same state; explore then tries only one order.
 *
 * A footprint is a set of names of state a step may read or write. It is
 * deliberately conservative: a step is taken to touch everything unless
 * its command declares less (`touches` in its table entry; the models say
 * what their commands touch, so this module knows no command), and any step that reads model state in an
 * argument, binds or reads variables, or is an `expect` or an `if` is
 * treated accordingly (variables by name; state reads, expects and ifs as
 * everything). Interrupts are delivered only during `run`, never between
 * the steps of a block, so a command's footprint is what the command itself
 * does, not what a later delivery does with it.
 *
 * `lib/engine/explore_test.ts` checks the reduction against the full search
 * (the same verdicts and the same set of reachable states) so that a wrong
 * footprint shows up as a failing test rather than a missed bug.
 *
 * @module
 */
import type { Call, Expr, Op, Program } from "../../dsl/program.ts";
import { PLUMBING } from "../core/table.ts";
import { type BlockPlan, blockPlan } from "./explore_schedule.ts";
import type { ParallelOp } from "./run.ts";
import { blockSteps } from "./steps.ts";

/** The state names a step may touch, or null for everything. */
export type Footprint = ReadonlySet<string> | null;

/**
 * The footprint of one child of a parallel block. Names carry their VM:
 * `0:cpu:1` (vcpu1's flags), `0:plumbing`, `0:ioapic`; variables are `$x`.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp, program: Program;
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
    case "select": {
      // `vcpu[$i]: ...` may be any vCPU's statement: what each would touch, and the index's reads.
      const out = new Set<string>();
      if (!exprReads(op.index, out)) return null;
      for (const v of op.variants) {
        const fp = stepFootprint(v, program);
        if (fp === null) return null;
        for (const x of fp) out.add(x);
      }
      return out;
    }
    default:
      // expect reads anything; an if may do anything its branches do.
      return null;
  }
}

function callFootprint(c: Call, program: Program): Set<string> | null {
  const touches = c.spec.touches;
  const declared = typeof touches === "function"
    ? touches(program.vms[c.vm]?.settings ?? {})
    : touches;
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
    for (const e of [r.index, r.raw, r.fileIndexExpr, ...r.fields.map((f) => f.expr)]) {
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
    case "op":
      return e.args.every((x) => exprReads(x, out));
    case "set":
    case "list":
      return e.items.every((x) => exprReads(x, out));
    case "range":
      return exprReads(e.from, out) && exprReads(e.to, out);
    case "state":
    case "query":
    case "cond":
      // A condition may read anything a state path or query reads.
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
 * import { type Program } from "../../dsl/program.ts";
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp, program: Program;
 * blockIndependence(block, program).independent[0][1]; // true for `vcpu0: sti` and `vcpu1: sti`
 * ```
 */
export function blockIndependence(block: ParallelOp, program: Program): BlockIndependence {
  let m = matrices.get(block);
  if (m) return m;
  const plan = blockPlan(block);
  // A child's footprint covers every step of an interruptible command.
  const { childOf } = blockSteps(block);
  const fps = block.body.map((op) => stepFootprint(op, program));
  const independent = childOf.map((ci, i) =>
    childOf.map((cj, j) => {
      if (i === j || plan.actorOf[i] === plan.actorOf[j]) return false;
      const a = fps[ci], b = fps[cj];
      if (a === null || b === null) return false;
      for (const x of a) for (const y of b) if (overlap(x, y)) return false;
      return true;
    })
  );
  m = { plan, independent };
  matrices.set(block, m);
  return m;
}
