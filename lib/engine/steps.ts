/**
 * The steps of a `parallel { }` block: its children in written order, with
 * each interruptible command (one whose table entry has `steps`) split into
 * its steps. Schedules, replay tokens, footprints and `scn explore` all count
 * in these steps, so a search can put another actor's action between the
 * steps of, say, Xen's event-channel send.
 *
 * @module
 */
import type { CommandSpec } from "../core/table.ts";
import type { VmModel } from "../core/platform.ts";
import type { Op, ParallelOp } from "../../dsl/program.ts";

/** How a block's children map to its steps. */
export interface BlockSteps {
  /** Per step: the child it belongs to. */
  readonly childOf: readonly number[];
  /** Per step: which of its child's steps it is, from 0. */
  readonly partOf: readonly number[];
  /** Per child: how many steps it has (1 unless its command is interruptible). */
  readonly parts: readonly number[];
  /** Per child: its first step. */
  readonly firstStep: readonly number[];
}

const cache = new WeakMap<ParallelOp, BlockSteps>();

/**
 * The steps of a block, computed once per block.
 *
 * @example
 * ```ts
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp;
 * // parallel { vcpu0: sti   xen: send $p }, where send has 3 steps
 * blockSteps(block).childOf; // [0, 1, 1, 1]
 * ```
 */
export function blockSteps(block: ParallelOp): BlockSteps {
  let s = cache.get(block);
  if (s) return s;
  const childOf: number[] = [],
    partOf: number[] = [],
    parts: number[] = [],
    firstStep: number[] = [];
  block.body.forEach((op, c) => {
    const n = stepsOf(op)?.names.length ?? 1;
    parts.push(n);
    firstStep.push(childOf.length);
    for (let k = 0; k < n; k++) {
      childOf.push(c);
      partOf.push(k);
    }
  });
  s = { childOf, partOf, parts, firstStep };
  cache.set(block, s);
  return s;
}

/**
 * The steps of an interruptible command statement, or undefined for any
 * other statement (which is one atomic step).
 *
 * @example
 * ```ts
 * import { type Op } from "../../dsl/program.ts";
 * declare const op: Op;
 * stepsOf(op)?.names; // ["set pending", "test mask, set selector", "set upcall pending"]
 * ```
 */
export function stepsOf(op: Op): CommandSpec<VmModel>["steps"] | undefined {
  return op.op === "do" ? op.call.spec.steps : undefined;
}

/**
 * Whether some interruptible command of the block has run some but not all
 * of its steps (its own progress is then state no fingerprint sees).
 *
 * @example
 * ```ts
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp;
 * inFlight(blockSteps(block), [false, true, false, false]); // true: send ran step 1 of 3
 * ```
 */
export function inFlight(s: BlockSteps, done: readonly boolean[]): boolean {
  for (let i = 1; i < done.length; i++) {
    if (s.partOf[i] > 0 && !done[i] && done[i - 1]) return true;
  }
  return false;
}
