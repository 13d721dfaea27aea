/**
 * Schedules of `parallel { }` blocks: who each step belongs to, which steps
 * may run next, the one-line replay token (`--schedule 12:1,0`) and a
 * {@link Scheduler} that replays a token.
 *
 * A parallel block's children are its steps, each atomic. Steps of one actor
 * keep their written order (program order); steps of different actors
 * interleave. An `expect` or `let` inside a block belongs to the actor of the
 * action written before it (the first action's actor when it comes first),
 * because that is how it reads: "after this, check that".
 *
 * Token grammar, one entry per execution of a block that did not run in
 * written order, in the order they ran, joined by `+` (no character a
 * shell treats specially):
 *
 * ```text
 * token := entry ('+' entry)*
 * entry := [FILE '@'] LINE ['#' N] ':' I (',' I)*
 * ```
 *
 * LINE is the line where the block starts (FILE, relative to the
 * scenario's directory, only for blocks in an included file), N counts
 * executions of that block from 1 (default 1), and
 * the I are step indexes (0 = the first child as written) in the order they
 * ran. A step is a child, except that an interruptible command (`scn help
 * explore`) has one step per step of its own, numbered in turn
 * ({@link blockSteps}). Executions not named run in written order.
 *
 * @module
 */
import * as posix from "../core/posix_path.ts";
import type { Loc } from "../../dsl/ast.ts";
import type { Call, Cond, Expr, Op, Program } from "../../dsl/program.ts";
import { ScnError } from "../core/diagnostic.ts";
import type { ParallelOp, RunState, Scheduler } from "./run.ts";
import { blockSteps } from "./steps.ts";

/** One execution of a parallel block and the order its children ran in. */
export interface ScheduleEntry {
  /** The source the block is written in. */
  source: string;
  /** The line the block starts on. */
  line: number;
  /** Which execution of that block, from 1. */
  occurrence: number;
  /** Child indexes in the order they ran. */
  order: number[];
}

/** What explore and replay need to know about one parallel block, computed once. */
export interface BlockPlan {
  readonly block: ParallelOp;
  /** Per step ({@link blockSteps}): the index of its actor in {@link BlockPlan.actors}. */
  readonly actorOf: readonly number[];
  /** Actor keys (`0:vcpu0`, `0:device nic`), in order of first appearance. */
  readonly actors: readonly string[];
  /** Per actor: how many steps it has in this block. */
  readonly chainSizes: readonly number[];
}

const plans = new WeakMap<ParallelOp, BlockPlan>();

/**
 * The plan of a block: which actor each child belongs to.
 *
 * @example
 * ```ts
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp;
 * const plan = blockPlan(block);
 * plan.actors; // ["0:vcpu0", "0:device nic"]
 * ```
 */
export function blockPlan(block: ParallelOp): BlockPlan {
  let plan = plans.get(block);
  if (plan) return plan;
  // Per step: an interruptible command's steps all belong to its actor.
  const steps = blockSteps(block);
  const keys: (string | null)[] = steps.childOf.map((c) => actorKey(block.body[c]));
  // expect/let take the actor of the action before them, or of the first action.
  let last = keys.find((k) => k !== null) ?? `timeline@${block.loc.start.offset}`;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === null) keys[i] = last;
    else last = keys[i]!;
  }
  const actors: string[] = [];
  const actorOf = keys.map((k) => {
    let a = actors.indexOf(k!);
    if (a < 0) a = actors.push(k!) - 1;
    return a;
  });
  const chainSizes = actors.map((_, a) => actorOf.filter((x) => x === a).length);
  plan = { block, actorOf, actors, chainSizes };
  plans.set(block, plan);
  return plan;
}

/** The actor of a child op, or null for steps that have none of their own. */
function actorKey(op: Op): string | null {
  if (op.op === "do") return `${op.call.vm}:${op.call.source}`;
  // `vcpu[$i]: ...`: one actor for each index written; the checker lets a block
  // name its vCPUs no other way, so it is no other step's vCPU.
  if (op.op === "select") return `${op.vm}:${op.text}`;
  if (op.op === "if") {
    const call = firstCall(op);
    // A `vcpu0: if` with no command inside cannot be placed: give it its own actor.
    return call ? `${call.vm}:${call.source}` : `if@${op.loc.start.offset}`;
  }
  return null;
}

function firstCall(op: Op): Call | null {
  switch (op.op) {
    case "do":
      return op.call;
    case "if": {
      const c = condCall(op.cond);
      if (c) return c;
      for (const o of [...op.then, ...op.else]) {
        const x = firstCall(o);
        if (x) return x;
      }
      return null;
    }
    default:
      return null;
  }
}

function condCall(c: Cond): Call | null {
  switch (c.c) {
    case "and":
    case "or":
      return condCall(c.left) ?? condCall(c.right);
    case "not":
      return condCall(c.operand);
    case "cmp":
      return exprCall(c.left) ?? exprCall(c.right);
    case "truthy":
      return exprCall(c.expr);
    case "took":
    case "select":
      return null;
  }
}

function exprCall(e: Expr): Call | null {
  return e.e === "query" ? e.call : null;
}

/**
 * The children that may run next: the first not yet run of each actor,
 * ascending, written into `out` (a new array when not given). The first of
 * them is the written order's choice.
 *
 * @example
 * ```ts
 * declare const plan: BlockPlan;
 * enabledSteps(plan, [true, false, false]); // [1, 2] when 1 and 2 belong to different actors
 * ```
 */
export function enabledSteps(
  plan: BlockPlan,
  done: readonly boolean[],
  out: number[] = [],
): number[] {
  // Each actor's first step not done, in step order, written over `out` by
  // index (emptying an array frees its store, which the next push makes again).
  const actorOf = plan.actorOf;
  let n = 0;
  if (plan.actors.length <= 31) {
    // The actors already out as the bits of a word (most blocks have a few).
    let taken = 0;
    for (let i = 0; i < done.length; i++) {
      if (done[i]) continue;
      const bit = 1 << actorOf[i];
      if ((taken & bit) !== 0) continue;
      taken |= bit;
      out[n++] = i;
    }
  } else {
    // Many actors: a scan of what is already out costs less than a set.
    next: for (let i = 0; i < done.length; i++) {
      if (done[i]) continue;
      const a = actorOf[i];
      for (let k = 0; k < n; k++) if (actorOf[out[k]] === a) continue next;
      out[n++] = i;
    }
  }
  // Never longer than n is needed here (the stores above run from 0 up), and
  // shorter by pops: setting `length` is a runtime call at every choice.
  while (out.length > n) out.pop();
  return out;
}

/**
 * Why `order` is not an order of the block (each child once, each actor's
 * steps in written order), or null when it is one.
 *
 * @example
 * ```ts
 * declare const plan: BlockPlan;
 * orderProblem(plan, [1, 0]); // null for two actors; a message for one
 * ```
 */
export function orderProblem(plan: BlockPlan, order: readonly number[]): string | null {
  const n = plan.actorOf.length;
  if (order.length !== n) {
    return `the block has ${n} steps but the schedule orders ${order.length}`;
  }
  const done = new Array<boolean>(n).fill(false);
  for (const i of order) {
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      return `there is no step ${i} (steps are 0..${n - 1})`;
    }
    if (done[i]) return `step ${i} is named twice`;
    if (!enabledSteps(plan, done).includes(i)) {
      return `step ${i} runs before an earlier step of the same actor (${
        plan.actors[plan.actorOf[i]].replace(/^\d+:/, "")
      }); an actor's steps keep their written order`;
    }
    done[i] = true;
  }
  return null;
}

/**
 * The token for a list of entries: `12:1,0`, `12#2:1,0+30:2,0,1`.
 *
 * @example
 * ```ts
 * formatSchedule([{ source: "a.scn", line: 12, occurrence: 1, order: [1, 0] }], "a.scn"); // "12:1,0"
 * ```
 */
export function formatSchedule(entries: readonly ScheduleEntry[], mainFile: string): string {
  return entries.map((e) =>
    `${
      e.source === mainFile ? "" : `${posix.relative(posix.dirname(mainFile), e.source)}@`
    }${e.line}${e.occurrence === 1 ? "" : `#${e.occurrence}`}:${e.order.join(",")}`
  ).join("+");
}

/**
 * Reads a token; the source of an entry without `FILE@` is `mainFile`.
 * Returns a message instead when the token is malformed.
 *
 * @example
 * ```ts
 * parseSchedule("12:1,0", "a.scn"); // [{ source: "a.scn", line: 12, occurrence: 1, order: [1, 0] }]
 * ```
 */
export function parseSchedule(token: string, mainFile: string): ScheduleEntry[] | string {
  const entries: ScheduleEntry[] = [];
  if (token.trim() === "") return "the schedule is empty";
  for (const part of token.trim().split("+")) {
    const m = /^(?:(.+)@)?(\d+)(?:#(\d+))?:(\d+(?:,\d+)*)$/.exec(part);
    if (!m) {
      return `'${part}' is not a schedule entry: write LINE:ORDER as in 12:1,0 (block at line 12 ran child 1, then child 0), LINE#N:ORDER for its Nth run`;
    }
    const occurrence = m[3] === undefined ? 1 : Number(m[3]);
    if (occurrence < 1) return `'${part}': runs of a block count from 1`;
    const key = (e: ScheduleEntry) => `${e.source}@${e.line}#${e.occurrence}`;
    const entry = {
      source: m[1] === undefined ? mainFile : posix.join(posix.dirname(mainFile), m[1]),
      line: Number(m[2]),
      occurrence,
      order: m[4].split(",").map(Number),
    };
    if (entries.some((e) => key(e) === key(entry))) return `'${part}' names a block run twice`;
    entries.push(entry);
  }
  return entries;
}

/**
 * Every parallel block of a program, in written order (handlers cannot hold one).
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * parallelBlocks(program).map((b) => b.loc.start.line); // [12, 30]
 * ```
 */
export function parallelBlocks(program: Program): ParallelOp[] {
  const out: ParallelOp[] = [];
  const walk = (ops: readonly Op[]) => {
    for (const op of ops) {
      if (op.op === "parallel") out.push(op);
      else if (op.op === "if") {
        walk(op.then);
        walk(op.else);
      } else if (op.op === "repeat" || op.op === "for") walk(op.body);
    }
  };
  walk(program.body);
  return out;
}

/** One execution of a block as it ran. */
export interface BlockRun {
  /** The `parallel` block. */
  block: ParallelOp;
  /** Which execution of this block, from 1. */
  occurrence: number;
  /** The order its children's steps ran in, as indexes into `block.body`. */
  order: number[];
}

/**
 * Replays a schedule: named executions run in the given order, the others
 * in written order. It records every execution, so a report can show the
 * full orders. A bad token is a located {@link ScnError}.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { runProgram } from "./run.ts";
 * declare const program: Program;
 * const replay = new ReplayScheduler(parseSchedule("12:1,0", program.file) as ScheduleEntry[], program);
 * const result = runProgram(program, { scheduler: replay });
 * replay.finish(); // throws when an entry named a block run that never happened
 * ```
 */
export class ReplayScheduler implements Scheduler {
  /** Every block execution so far, in the order they started. */
  readonly runs: BlockRun[] = [];
  readonly #entries: readonly ScheduleEntry[];
  readonly #used = new Set<ScheduleEntry>();
  readonly #counts = new Map<ParallelOp, number>();
  #current: { run: BlockRun; order: number[] | null } | null = null;

  /** Replays `entries` (from {@link parseSchedule}) in runs of `program`. */
  constructor(entries: readonly ScheduleEntry[], readonly program: Program) {
    this.#entries = entries;
  }

  next(block: ParallelOp, done: readonly boolean[], _state: RunState): number {
    if (!done.includes(true)) {
      const occurrence = (this.#counts.get(block) ?? 0) + 1;
      this.#counts.set(block, occurrence);
      const entry = this.#entries.find((e) =>
        e.source === block.loc.source && e.line === block.loc.start.line &&
        e.occurrence === occurrence
      );
      let order: number[] | null = null;
      if (entry) {
        const problem = orderProblem(blockPlan(block), entry.order);
        if (problem) {
          throw new ScnError({
            kind: "check",
            message: `the schedule's order ${entry.order.join(",")} for this block: ${problem}`,
            loc: headOf(block.loc),
          });
        }
        this.#used.add(entry);
        order = entry.order;
      }
      const run = { block, occurrence, order: [] };
      this.runs.push(run);
      this.#current = { run, order };
    }
    const cur = this.#current!;
    const k = cur.run.order.length;
    const i = cur.order ? cur.order[k] : done.indexOf(false);
    cur.run.order.push(i);
    return i;
  }

  /** Throws when an entry named a block execution that did not happen. */
  finish(): void {
    for (const e of this.#entries) {
      if (this.#used.has(e)) continue;
      const block = parallelBlocks(this.program).find((b) =>
        b.loc.source === e.source && b.loc.start.line === e.line
      );
      const at = { offset: 0, line: e.line, column: 1 };
      throw new ScnError({
        kind: "check",
        message: block
          ? `the schedule names run ${e.occurrence} of this parallel block, but it ran ${
            this.#counts.get(block) ?? 0
          } time(s)`
          : `the schedule names a parallel block at line ${e.line}, but none starts there`,
        loc: block ? headOf(block.loc) : { source: e.source, start: at, end: at },
        hint: block
          ? undefined
          : `parallel blocks start at line(s) ${
            parallelBlocks(this.program).filter((b) => b.loc.source === e.source).map((b) =>
              b.loc.start.line
            ).join(", ") || "(none)"
          }`,
      });
    }
  }
}

/**
 * The start of a block's location, so that a diagnostic underlines `parallel` only.
 *
 * @example
 * ```ts
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp;
 * headOf(block.loc).end.column - headOf(block.loc).start.column; // 8
 * ```
 */
export function headOf(loc: Loc): Loc {
  return {
    source: loc.source,
    start: loc.start,
    end: { offset: loc.start.offset + 8, line: loc.start.line, column: loc.start.column + 8 },
  };
}
