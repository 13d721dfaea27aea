/**
 * `scn explore`: runs a scenario over every order in which the steps of its
 * `parallel { }` blocks can interleave, checking every `expect` and `always`
 * on every path, and returns the first failing order found, which has the
 * fewest steps out of written order.
 *
 * How the search goes:
 *
 * - A *choice* is which step of a parallel block runs next. Each child is
 *   one atomic step, except an interruptible command, which is one step per
 *   step its table entry names (`steps`: Xen's event-channel send, a VMM's
 *   vcpu_info copy); an actor's steps keep their written order.
 * - A work item is a list of choices to replay, after which the run
 *   carries on in written order to the end, queueing every other choice it
 *   passes as a new item. One run thus explores a whole chain of states.
 *   Each item starts from the state at the first parallel block's first
 *   choice, which every order reaches the same way: a snapshot of it
 *   ({@link RunState.snapshot}, the models' `VmModel.snapshot` hooks) is put
 *   back for the next item when one ends inside that block execution, or
 *   at the scenario's end when the block is a statement of its top level
 *   (the program then goes on from that block, {@link RunState.resume}).
 *   Otherwise (no hook, or a VM that cannot save its state there) the
 *   scenario is run again from the start (stateless search, as in VeriSoft
 *   or CHESS).
 * - Items are processed in rounds by *cost*, the number of choices that
 *   differ from written order (the next child as written): all orders with
 *   no deviation, then one, then two. The first failing order found is
 *   therefore one of the fewest deviations (breadth-first over deviations;
 *   with the reduction on, the fewest among the orders it keeps).
 * - Deduplication: at every choice point the state is fingerprinted ({@link Fingerprinter}); a run that reaches
 *   a state already explored stops there.
 * - Reduction: sleep sets (Godefroid). After the steps a and b of
 *   independent footprints ({@link blockIndependence}) were explored in one
 *   order, the other order is not tried. Sleep sets alone still reach every
 *   reachable state, so `always` invariants see every state; combined with
 *   deduplication the sleep set is part of the state's key, which keeps the
 *   pair sound.
 * - Budgets: a state budget (distinct states) and a depth budget (choices in
 *   one order). Reaching either is a located {@link ScnError} of kind
 *   `budget` at the parallel block where it happened.
 *
 * Execution is here; `explore_report.ts` renders results. Workers
 * (`explore_worker.ts`) run the items of a round in parallel and the rounds
 * are merged in the same order as one process would, so the answer
 * (verdict, order, counts) is the same for any number of workers.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import { type Diagnostic, ScnError } from "../core/diagnostic.ts";
import {
  onlyMarkedFailed,
  type ParallelOp,
  RESTART_BLOCK,
  runProgram,
  type RunState,
  type ScenarioResult,
  type Scheduler,
} from "./run.ts";
import { Fingerprinter } from "./explore_fingerprint.ts";
import { type BlockIndependence, blockIndependence } from "./explore_footprint.ts";
import {
  blockPlan,
  type BlockRun,
  enabledSteps,
  formatSchedule,
  headOf,
  parallelBlocks,
  ReplayScheduler,
  type ScheduleEntry,
} from "./explore_schedule.ts";
import { linearize } from "./explore_linear.ts";
import { type BlockSteps, blockSteps, inFlight } from "./steps.ts";

/** Options for {@link explore}. */
export interface ExploreOptions {
  /** Step budget of one `run` statement, as for `scn run`. */
  maxSteps?: number;
  /** Distinct states explored before giving up (default {@link DEFAULT_MAX_STATES}). */
  maxStates?: number;
  /**
   * Choices (points where more than one step could run next) in one order
   * before giving up (default {@link DEFAULT_MAX_DEPTH}).
   */
  maxDepth?: number;
  /** The partial-order reduction (default on). */
  reduce?: boolean;
  /** Deduplication of states by fingerprint (default on). */
  dedup?: boolean;
  /**
   * Start each order from a snapshot of the state at the first parallel
   * block's first choice ({@link RunState.snapshot}) rather than running
   * the scenario again from its start (default on; the answer is the
   * same, which the tests check by turning it off).
   */
  restore?: boolean;
  /**
   * Search only this shard's part of the orders (`scn explore --shard I/N`):
   * `index` from 0 to `count - 1`. See {@link shardOf}.
   */
  shard?: { index: number; count: number };
  /**
   * Called after each run of an order with the search's counts so far, for a
   * progress line; the search does not depend on it.
   */
  progress?: (stats: Readonly<ExploreStats>) => void;
}

/**
 * Which shard searches a work item of the first round. Every order that
 * leaves written order does so first at one choice of the written order's
 * run; the k-th such first deviation (in the order that run meets them),
 * with every order below it, belongs to shard k mod N. The written order
 * itself is run by every shard, since it is what finds those choices. Each
 * shard deduplicates on its own, so a state reached below two shards' first
 * deviations is explored by both: more work, never a missed order.
 *
 * @example
 * ```ts
 * shardOf(5, { index: 1, count: 4 }); // true: the 6th first deviation goes to the 2nd shard
 * ```
 */
export function shardOf(k: number, shard: { index: number; count: number }): boolean {
  return k % shard.count === shard.index;
}

/** The default state budget. */
export const DEFAULT_MAX_STATES = 100_000;
/** The default depth budget: choices in one order. */
export const DEFAULT_MAX_DEPTH = 1_000;
export { KNOWN_RACE_TAG } from "../../dsl/program.ts";

/** Counts of one search. */
export interface ExploreStats {
  /** Distinct states at choice points. */
  states: number;
  /**
   * States reached at choice points past each run's replayed prefix,
   * those found already explored included (TLC's "states generated");
   * `states` counts the distinct ones.
   */
  generated: number;
  /** Runs of the scenario (one per queued order). */
  runs: number;
  /** Runs that went to the end of the scenario. */
  complete: number;
  /** Runs stopped because they reached a state already explored. */
  deduped: number;
  /** Runs stopped by the reduction: their orders are equivalent to explored ones. */
  pruned: number;
}

/** A failing order. */
export interface Counterexample {
  /** Every choice, in order, up to where the failure was seen (written order after that). */
  path: number[];
  /** The block executions that did not run in written order. */
  schedule: ScheduleEntry[];
  /** The replay token: `12:1,0`. */
  token: string;
  /** Steps out of written order. */
  deviations: number;
  /** The failing run, traced. */
  result: ScenarioResult;
  /** Every block execution of the failing run. */
  runs: BlockRun[];
  /** The order as a scenario without `parallel`, or why it cannot be written as one. */
  linear: { text: string } | { why: string };
}

/** What exploring one scenario found. */
export interface ExploreResult {
  /** The scenario file. */
  file: string;
  /** Its title. */
  title: string;
  /** Its tags. */
  tags: string[];
  /**
   * pass: every order passes; fail: some order fails; xfail/xpass: the
   * scenario expects a failing order (`expect failure`, or the tag
   * `known-race`) and one was / was not found.
   */
  status: "pass" | "fail" | "xfail" | "xpass";
  /** Why a failing order is expected, or null. */
  expectFailure: string | null;
  /** Parallel block executions in the written order's run. */
  blocks: number;
  /** Orders there are in all (product over those executions), when the search finished. */
  orders: bigint | null;
  /** What the search did. */
  stats: ExploreStats;
  /** The first failing order found, or null when every order passes. */
  counterexample: Counterexample | null;
}

/** A queued order: choices to replay, the sleep set after them, and their deviations. */
export interface WorkItem {
  choices: number[];
  sleep: number[];
  cost: number;
}

/** What one run reports, in order; serialisable so workers can send it. */
export type SearchEvent =
  | { e: "node"; key: string; sleep: number[]; block: number }
  | { e: "push"; item: WorkItem }
  | { e: "pruned" }
  | { e: "defer" }
  | { e: "fail"; path: number[] }
  | { e: "error"; diagnostics: Diagnostic[]; path: number[] }
  | { e: "end"; sizes: (readonly number[])[] };

/** Thrown by the scheduler to end a run early; never escapes {@link runItem}. */
const STOP = Symbol("stop");

/**
 * What every run of one search shares: the program, its parallel blocks by
 * index, the fingerprinter and the options with their defaults.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const ctx = new SearchContext(program, { maxStates: 1000 });
 * ctx.blocks.length; // the parallel blocks of the program, in written order
 * ```
 */
export class SearchContext {
  readonly blocks: ParallelOp[];
  readonly blockIndex = new Map<ParallelOp, number>();
  readonly fingerprinter: Fingerprinter;
  readonly maxStates: number;
  readonly maxDepth: number;
  readonly reduce: boolean;
  readonly dedup: boolean;
  readonly maxSteps: number | undefined;
  readonly shard: { index: number; count: number } | undefined;
  readonly restore: boolean;
  /** The parallel blocks that are statements of the program's top level ({@link RunState.resume}). */
  readonly topLevel: ReadonlySet<ParallelOp>;
  /** Per block, what every choice in it asks (one lookup instead of four). */
  readonly #info = new Map<ParallelOp, BlockInfo>();

  constructor(readonly program: Program, options: ExploreOptions) {
    this.shard = options.shard;
    this.blocks = parallelBlocks(program);
    this.blocks.forEach((b, i) => this.blockIndex.set(b, i));
    this.topLevel = new Set(this.blocks.filter((b) => program.body.includes(b)));
    this.fingerprinter = new Fingerprinter(program);
    this.maxStates = options.maxStates ?? DEFAULT_MAX_STATES;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.reduce = options.reduce ?? true;
    this.dedup = options.dedup ?? true;
    this.maxSteps = options.maxSteps;
    this.restore = options.restore ?? true;
  }

  /** The block's plan, independence, steps and index, computed once. */
  info(block: ParallelOp): BlockInfo {
    let i = this.#info.get(block);
    if (i === undefined) {
      const ind = blockIndependence(block, this.program);
      i = { ind, steps: blockSteps(block), index: this.blockIndex.get(block) ?? -1 };
      this.#info.set(block, i);
    }
    return i;
  }
}

/** What {@link SearchContext.info} keeps per block. */
interface BlockInfo {
  ind: BlockIndependence;
  steps: BlockSteps;
  index: number;
}

/**
 * The empty sleep set, shared: sleep sets are never changed in place (an
 * item's serves the run that replays it, and the seen set keeps them as given).
 */
const NO_SLEEP: number[] = [];

/**
 * Where a run hands the events of an item it finished and asks for the
 * next one, so that it can go on from its snapshot ({@link ItemScheduler}).
 */
interface ItemSource {
  /** Takes an item's events; the next item to run, or null when the search is over. */
  take(events: SearchEvent[]): WorkItem | null;
  /** Whether a run should take a snapshot at the first block's first choice. */
  wantSnapshot(): boolean;
}

class ItemScheduler implements Scheduler {
  /** {@link position}'s words, reused at every state. */
  readonly #position: number[] = [];
  /** {@link enabledSteps}'s list, reused at every choice. */
  readonly #enabled: number[] = [];
  k = 0;
  /** Choices made so far where more than one step could run. */
  depth = 0;
  path: number[] = [];
  sleep: number[] = [];
  sizes: (readonly number[])[] = [];
  /** Block executions begun in this run. */
  #entries = 0;
  /** The block of the last choice and its {@link SearchContext.info} (one map lookup per block). */
  #block: ParallelOp | null = null;
  #info: BlockInfo | null = null;
  /** Puts the run back to the first block execution's first choice; null when unavailable. */
  #restore: (() => boolean) | null = null;
  /** That block and the run's state, for a run that goes to its end ({@link ItemScheduler.resumed}). */
  #restoreBlock: ParallelOp | null = null;
  #state: RunState | null = null;
  /**
   * Whether the events of the item that ended the run were given to the
   * source already; `following` is then the item to run next (null: none).
   */
  handedOver = false;
  following: WorkItem | null = null;
  /** Orders this run started from its snapshot. */
  restores = 0;

  /** Whether this run took a snapshot. */
  get saved(): boolean {
    return this.#restore !== null;
  }

  constructor(
    public item: WorkItem,
    readonly ctx: SearchContext,
    readonly seen: Covered,
    public events: SearchEvent[],
    readonly source: ItemSource | null = null,
  ) {}

  /**
   * Ends the current item: with a snapshot of this block execution, hands
   * its events over and restarts the block for the next item; otherwise
   * ends the run.
   */
  #end(): number {
    if (this.#restore === null || this.#entries !== 1 || !this.#handOver()) throw STOP;
    return RESTART_BLOCK;
  }

  /**
   * For a run that went to its end, with a snapshot taken at a block of the
   * program's top level: hands the item's events over and runs the next
   * item from that block's first choice ({@link RunState.resume}), rather
   * than the scenario being run again from its start. Null when the run is
   * over instead (`handedOver` says whether the events were given).
   */
  resumed(): ScenarioResult | null {
    const state = this.#state, block = this.#restoreBlock;
    if (state === null || block === null || state.resume === undefined) return null;
    if (!this.ctx.topLevel.has(block) || !this.#handOver()) return null;
    const result = state.resume(block);
    if (result === null) throw new Error("explore: a top-level block was not found to resume at");
    return result;
  }

  /**
   * Hands the item's events over and puts the run back to its snapshot for
   * the next item; false when there is none, or the snapshot could not be
   * put back (then `following` is the item, for a run from the start).
   */
  #handOver(): boolean {
    this.handedOver = true;
    const next = this.source!.take(this.events);
    this.following = next;
    if (next === null || !this.#restore!()) return false;
    this.restores++;
    this.handedOver = false;
    this.following = null;
    this.item = next;
    this.events = [];
    this.k = 0;
    this.depth = 0;
    this.path = [];
    this.sleep = NO_SLEEP;
    this.sizes = [];
    this.#entries = 0;
    return true;
  }

  next(block: ParallelOp, done: readonly boolean[], state: RunState): number {
    const ctx = this.ctx;
    let info = this.#info;
    if (info === null || this.#block !== block) {
      info = this.#info = ctx.info(block);
      this.#block = block;
    }
    const ind = info.ind;
    const { choices } = this.item;
    // Most choices of a run are replayed ones (the item's prefix): whether
    // the choice is enabled, and whether there was a choice, without the
    // list of enabled steps.
    if (this.k < choices.length && done.includes(true)) {
      const c = choices[this.k++];
      if (replayable(ind.plan.actorOf, done, c, this)) {
        this.path.push(c);
        if (this.k === choices.length) this.sleep = this.item.sleep;
        return c;
      }
      this.k--;
    }
    if (!done.includes(true)) {
      // Every order reaches the first block execution the same way, with no
      // choice made: a snapshot there serves all the items this run takes.
      if (
        ++this.#entries === 1 && this.source !== null && this.#restore === null &&
        this.source.wantSnapshot()
      ) {
        this.#restore = state.snapshot?.() ?? null;
        if (this.#restore !== null) (this.#restoreBlock = block, this.#state = state);
      }
      this.sleep = NO_SLEEP;
      // Never changed: the plan's own array serves (one less per order).
      this.sizes.push(ind.plan.chainSizes);
    }
    // Not kept past this call (the items and sleep sets copy): one array per run.
    const enabled = enabledSteps(ind.plan, done, this.#enabled);
    if (enabled.length > 1) this.depth++;
    if (this.k < choices.length) {
      const c = choices[this.k++];
      if (!enabled.includes(c)) {
        throw new Error(
          "explore: replaying an order went another way: the run is not deterministic",
        );
      }
      this.path.push(c);
      if (this.k === choices.length) this.sleep = this.item.sleep;
      return c;
    }
    const ev = this.events;
    // A failure is for good (failures are never taken back), so this order is a counterexample.
    if (state.failures.length > 0) {
      ev.push({ e: "fail", path: this.path.slice() });
      return this.#end();
    }
    if (this.depth > ctx.maxDepth) {
      ev.push({
        e: "error",
        path: this.path.slice(),
        diagnostics: [{
          kind: "budget",
          message:
            `explore depth budget exhausted: one order makes more than ${ctx.maxDepth} choices between steps of parallel blocks`,
          loc: headOf(block.loc),
          hint:
            "raise it with --max-depth N; a parallel block inside a long loop multiplies the choices",
        }],
      });
      return this.#end();
    }
    const sleep = this.sleep;
    // A state where there is a choice, or before the last step of a block:
    // orders that converge there share the rest of the scenario.
    if (enabled.length > 1 || done.indexOf(false) === done.lastIndexOf(false)) {
      // Between the steps of an interruptible command, its progress (the
      // model's generator) is state no fingerprint sees: no deduplication there.
      const key = ctx.dedup && !inFlight(info.steps, done)
        ? ctx.fingerprinter.of(state, position(this.#position, info.index, done))
        : "";
      // Sleep sets are replaced, never changed in place: the event can share this one.
      ev.push({ e: "node", key, sleep, block: info.index });
      if (key !== "" && this.seen(key, sleep)) return this.#end();
    }
    const cands = sleep.length ? enabled.filter((i) => !sleep.includes(i)) : enabled;
    if (cands.length === 0) {
      ev.push({ e: "pruned" });
      return this.#end();
    }
    // When the written order's step sleeps, every remaining choice is a deviation: queue them all.
    const deviates = cands[0] !== enabled[0];
    for (let j = deviates ? 0 : 1; j < cands.length; j++) {
      ev.push({
        e: "push",
        item: {
          choices: [...this.path, cands[j]],
          sleep: ctx.reduce ? sleepFor(sleep, cands, j, ind) : NO_SLEEP,
          cost: this.item.cost + 1,
        },
      });
    }
    if (deviates) {
      ev.push({ e: "defer" });
      return this.#end();
    }
    this.sleep = ctx.reduce ? sleepFor(sleep, cands, 0, ind) : NO_SLEEP;
    this.path.push(cands[0]);
    this.k++;
    return cands[0];
  }
}

/**
 * The sleep set after choosing `cands[j]` at a state with sleep set
 * `sleep`: the steps asleep there and the candidates explored before it
 * that are independent of it. A function rather than a closure made at
 * every state (most searches never call it: no reduction, or one choice).
 */
function sleepFor(
  sleep: readonly number[],
  cands: readonly number[],
  j: number,
  ind: BlockIndependence,
): number[] {
  return [...sleep, ...cands.slice(0, j)].filter((t) => ind.independent[t][cands[j]]).sort((
    a,
    b,
  ) => a - b);
}

/**
 * For a replayed choice `c`: whether it is enabled (not done, and every
 * earlier step of its actor done), counting the choice in `s.depth` when
 * more than one step was enabled, as {@link enabledSteps} would tell.
 * False (and no count) when `c` is not enabled, for the caller's error.
 */
function replayable(
  actorOf: readonly number[],
  done: readonly boolean[],
  c: number,
  s: { depth: number },
): boolean {
  if (c < 0 || c >= done.length || done[c]) return false;
  const a = actorOf[c];
  let other = false;
  for (let i = 0; i < done.length; i++) {
    if (done[i]) continue;
    if (actorOf[i] !== a) other = true;
    else if (i < c) return false;
  }
  if (other) s.depth++;
  return true;
}

/**
 * Where in the program a choice is made: the block and which of its steps
 * already ran, written into `out`.
 */
function position(out: number[], blockIndex: number, done: readonly boolean[]): number[] {
  // By index: the same block's words are as many each time, and setting an
  // array's length costs more than the rest.
  let k = 0, word = 0, bit = 0;
  out[k++] = blockIndex;
  for (let i = 0; i < done.length; i++) {
    if (done[i]) word |= 1 << bit;
    if (++bit === 30) (out[k++] = word, word = 0, bit = 0);
  }
  out[k++] = word;
  if (out.length !== k) out.length = k;
  return out;
}

/**
 * Runs one work item: replays its choices, then goes on in written order,
 * queueing the other choices it passes, until the end, a failure, a state
 * already seen, or the reduction stops it.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const events = runItem({ choices: [], sleep: [], cost: 0 }, new SearchContext(program, {}), () => false);
 * events.at(-1)!.e; // "end" when the written order passes
 * ```
 */
export function runItem(
  item: WorkItem,
  ctx: SearchContext,
  seen: Covered,
): SearchEvent[] {
  const s = new ItemScheduler(item, ctx, seen, []);
  runScheduled(s);
  return s.events;
}

/**
 * Runs several items, in order, as {@link runItem} would run each (the
 * same events), going on from a snapshot where it can: what a worker of
 * `scn explore --workers N` runs of a round.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program, items: WorkItem[];
 * const events = runItems(items, new SearchContext(program, {}), () => false);
 * events.length === items.length; // true
 * ```
 */
export function runItems(
  items: readonly WorkItem[],
  ctx: SearchContext,
  seen: Covered,
): SearchEvent[][] {
  const list = new ItemList(items);
  let item = list.next();
  while (item !== null) {
    const s = new ItemScheduler(item, ctx, seen, [], ctx.restore ? list : null);
    runScheduled(s);
    list.ended(s);
    item = s.handedOver ? s.following : list.take(s.events);
  }
  return list.events;
}

/** Runs the program under `s`, adding how its last item ended to that item's events. */
function runScheduled(s: ItemScheduler): void {
  const ctx = s.ctx;
  try {
    let result: ScenarioResult | null = runProgram(ctx.program, {
      scheduler: s,
      trace: false,
      history: "counts",
      maxSteps: ctx.maxSteps,
    });
    // Each item that goes to the end, the next one from the snapshot where it can.
    while (result !== null) {
      s.events.push(
        result.failures.length > 0
          ? { e: "fail", path: s.path.slice() }
          : { e: "end", sizes: s.sizes },
      );
      result = s.resumed();
    }
  } catch (e) {
    if (e === STOP) return;
    if (e instanceof ScnError) {
      s.events.push({ e: "error", diagnostics: e.diagnostics, path: s.path.slice() });
      return;
    }
    throw e;
  }
}

/**
 * When a run takes a snapshot. One costs about a run's set-up and pays
 * only when orders end inside the block (deduplicated, pruned, deferred):
 * when two runs in a row did not use theirs (every order ran to the end,
 * as without deduplication or reduction), only one run in 64 tries again.
 */
class SnapshotPolicy {
  /** Runs so far, and how many in a row took a snapshot they never used. */
  #runs = 0;
  #unused = 0;

  wantSnapshot(): boolean {
    return this.#unused < 2 || this.#runs % 64 === 0;
  }

  /** Notes how a run went. */
  ended(s: ItemScheduler): void {
    this.#runs++;
    if (s.saved) this.#unused = s.restores > 0 ? 0 : this.#unused + 1;
  }
}

/** Items given in a list, and the events of each as it ends ({@link runItems}). */
class ItemList extends SnapshotPolicy implements ItemSource {
  readonly events: SearchEvent[][] = [];
  #i = 0;

  constructor(readonly items: readonly WorkItem[]) {
    super();
  }

  next(): WorkItem | null {
    return this.#i < this.items.length ? this.items[this.#i++] : null;
  }

  take(events: SearchEvent[]): WorkItem | null {
    this.events.push(events);
    return this.next();
  }
}

/**
 * The items of a search in round order, and the merge of each one's
 * events as it ends: what {@link explore} runs in this thread, one run
 * going on to the next item from its snapshot where it can.
 */
class ItemQueue extends SnapshotPolicy implements ItemSource {
  /** The failing path found, if any. */
  failed: number[] | null = null;
  /** A budget or an error the merge raised, rethrown once the run is left. */
  error: ScnError | null = null;
  #d = 0;
  #i = 0;

  constructor(
    readonly search: Search,
    readonly progress: ExploreOptions["progress"],
  ) {
    super();
  }

  /** The next item in round order, or null when there is none. */
  next(): WorkItem | null {
    const rounds = this.search.rounds;
    while (this.#d < rounds.length) {
      const round = rounds[this.#d] ?? [];
      if (this.#i < round.length) return round[this.#i++];
      rounds[this.#d++] = [];
      this.#i = 0;
    }
    return null;
  }

  take(events: SearchEvent[]): WorkItem | null {
    try {
      this.failed = this.search.merge(events);
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      this.error = e;
      return null;
    }
    this.progress?.(this.search.stats);
    return this.failed ? null : this.next();
  }
}

/** Whether a state key with a sleep set is covered by what was explored already. */
export type Covered = (key: string, sleep: readonly number[]) => boolean;

/**
 * States explored, each with the sleep sets it was explored with. A state
 * explored with sleep set Z covers a visit with any superset of Z: that
 * visit would explore a subset of the same orders.
 *
 * The fingerprints ({@link Fingerprinter}) are five characters: they are
 * kept as three numbers (two characters, two, one) in an open-addressing
 * table of typed arrays, compared whole, as the map by string did (a fresh
 * string as a map key cost some hundred nanoseconds to hash and look up,
 * twice per state). Keys of any other length (tests) go to a map.
 *
 * @example
 * ```ts
 * const s = new SeenSet();
 * s.add("k", [1]);
 * s.covers("k", [1, 2]); // true
 * s.covers("k", []);     // false
 * ```
 */
export class SeenSet {
  #x = new Int32Array(256);
  #y = new Int32Array(256);
  #z = new Int32Array(256);
  /** Per slot, the sleep sets its state was explored with; undefined: an empty slot. */
  #sleeps: ((readonly number[])[] | undefined)[] = new Array(256).fill(undefined);
  #size = 0;
  /** Keys that are not five characters long. */
  readonly #other = new Map<string, (readonly number[])[]>();

  covers(key: string, sleep: readonly number[]): boolean {
    const list = key.length === 5 ? this.#sleeps[this.#slot(key)] : this.#other.get(key);
    if (list === undefined) return false;
    // Loops rather than some/every: two closures per state looked up.
    next: for (let i = 0; i < list.length; i++) {
      const z = list[i];
      for (let j = 0; j < z.length; j++) if (!sleep.includes(z[j])) continue next;
      return true;
    }
    return false;
  }

  /** Notes `key` explored with `sleep`, which is kept as given (sleep sets are never changed). */
  add(key: string, sleep: readonly number[]): void {
    if (key.length !== 5) {
      const list = this.#other.get(key);
      if (list) list.push(sleep);
      else this.#other.set(key, [sleep]);
      return;
    }
    const i = this.#slot(key);
    const list = this.#sleeps[i];
    if (list !== undefined) {
      list.push(sleep);
      return;
    }
    this.#x[i] = key.charCodeAt(0) | (key.charCodeAt(1) << 16);
    this.#y[i] = key.charCodeAt(2) | (key.charCodeAt(3) << 16);
    this.#z[i] = key.charCodeAt(4);
    this.#sleeps[i] = [sleep];
    // At most half full, so that a probe ends soon.
    if (++this.#size * 2 > this.#sleeps.length) this.#grow();
  }

  /** The slot that holds `key` (five characters), or the empty one where it would go. */
  #slot(key: string): number {
    const x = key.charCodeAt(0) | (key.charCodeAt(1) << 16);
    const y = key.charCodeAt(2) | (key.charCodeAt(3) << 16);
    const z = key.charCodeAt(4);
    return this.#find(x, y, z);
  }

  #find(x: number, y: number, z: number): number {
    const mask = this.#sleeps.length - 1;
    // The characters are hash bits already: a multiply spreads them over the slots.
    const h = Math.imul(x ^ Math.imul(y, 0x9e3779b1) ^ z, 0x85ebca6b);
    let i = (h ^ (h >>> 15)) & mask;
    while (
      this.#sleeps[i] !== undefined && (this.#x[i] !== x || this.#y[i] !== y || this.#z[i] !== z)
    ) i = (i + 1) & mask;
    return i;
  }

  #grow(): void {
    const x = this.#x, y = this.#y, z = this.#z, sleeps = this.#sleeps;
    const n = 2 * sleeps.length;
    this.#x = new Int32Array(n);
    this.#y = new Int32Array(n);
    this.#z = new Int32Array(n);
    this.#sleeps = new Array(n).fill(undefined);
    for (let i = 0; i < sleeps.length; i++) {
      const list = sleeps[i];
      if (list === undefined) continue;
      const j = this.#find(x[i], y[i], z[i]);
      this.#x[j] = x[i];
      this.#y[j] = y[i];
      this.#z[j] = z[i];
      this.#sleeps[j] = list;
    }
  }
}

/**
 * The merge side of the search: the seen set, the rounds of work items,
 * the counts. Feeding it the events of the items in round order gives the
 * same answer however the runs were spread.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const search = new Search(new SearchContext(program, {}));
 * const failed = search.merge(runItem(search.rounds[0][0], search.ctx, () => false));
 * const result = finish(search, failed);
 * ```
 */
export class Search {
  readonly seen = new SeenSet();
  /**
   * States added since {@link Search.takeFresh} was last called, kept once
   * it was called (workers' copies of the seen set): a search in one thread
   * never asks.
   */
  #fresh: [string, number[]][] | null = null;
  readonly rounds: WorkItem[][] = [[{ choices: [], sleep: [], cost: 0 }]];
  readonly stats: ExploreStats = {
    states: 0,
    generated: 0,
    runs: 0,
    complete: 0,
    deduped: 0,
    pruned: 0,
  };
  firstSizes: (readonly number[])[] | null = null;
  /** First deviations met so far (items of cost 1), for {@link shardOf}. */
  #firsts = 0;

  constructor(readonly ctx: SearchContext) {}

  /**
   * Takes one run's events; returns the failing path when the run found one.
   *
   * @throws {ScnError} when a budget runs out or the scenario errs in this order.
   */
  merge(events: readonly SearchEvent[]): number[] | null {
    const st = this.stats;
    st.runs++;
    for (const ev of events) {
      switch (ev.e) {
        case "node":
          st.generated++;
          if (ev.key !== "" && this.seen.covers(ev.key, ev.sleep)) {
            st.deduped++;
            return null;
          }
          if (ev.key !== "") {
            this.seen.add(ev.key, ev.sleep);
            this.#fresh?.push([ev.key, ev.sleep]);
          }
          if (++st.states > this.ctx.maxStates) {
            const block = this.ctx.blocks[ev.block];
            throw new ScnError({
              kind: "budget",
              message:
                `explore state budget exhausted: more than ${this.ctx.maxStates} states without a verdict`,
              loc: headOf(block.loc),
              hint:
                "raise it with --max-states N; fewer steps in a parallel block, or two smaller blocks, shrink the search",
            });
          }
          break;
        case "push": {
          // A shard keeps only its first deviations (shardOf); what is below them is its own.
          const shard = this.ctx.shard;
          if (shard !== undefined && ev.item.cost === 1 && !shardOf(this.#firsts++, shard)) break;
          (this.rounds[ev.item.cost] ??= []).push(ev.item);
          break;
        }
        case "pruned":
          st.pruned++;
          return null;
        case "defer":
          return null;
        case "fail":
          return ev.path;
        case "error": {
          const [first, ...rest] = withOrder(ev.diagnostics, this.ctx, ev.path);
          throw new ScnError(first, ...rest);
        }
        case "end":
          st.complete++;
          this.firstSizes ??= ev.sizes;
          return null;
      }
    }
    return null;
  }

  /** The states added since the last call, for workers' copies of the seen set. */
  takeFresh(): [string, number[]][] {
    const f = this.#fresh ?? [];
    this.#fresh = [];
    return f;
  }
}

/** Adds to a run-time error the order it happened in, when that is not the written one. */
function withOrder(ds: readonly Diagnostic[], ctx: SearchContext, path: number[]): Diagnostic[] {
  const { schedule } = replayPath(ctx.program, path, ctx.maxSteps, false);
  if (schedule.length === 0) return [...ds];
  const token = formatSchedule(schedule, ctx.program.file);
  return ds.map((d, i) =>
    i === 0 ? { ...d, hint: `${d.hint ? `${d.hint}; ` : ""}in the order --schedule ${token}` } : d
  );
}

/** Replays a flat list of choices (then written order), recording every block execution. */
class PathScheduler implements Scheduler {
  readonly runs: BlockRun[] = [];
  deviations = 0;
  #k = 0;
  readonly #counts = new Map<ParallelOp, number>();

  constructor(readonly path: readonly number[]) {}

  next(block: ParallelOp, done: readonly boolean[]): number {
    if (!done.includes(true)) {
      const occurrence = (this.#counts.get(block) ?? 0) + 1;
      this.#counts.set(block, occurrence);
      this.runs.push({ block, occurrence, order: [] });
    }
    const enabled = enabledSteps(blockPlan(block), done);
    const c = this.#k < this.path.length ? this.path[this.#k] : enabled[0];
    this.#k++;
    if (c !== enabled[0]) this.deviations++;
    this.runs[this.runs.length - 1].order.push(c);
    return c;
  }
}

/**
 * Runs a path with the trace on and says which block executions left
 * written order.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * replayPath(program, [1, 0]).schedule; // [{ line: 12, occurrence: 1, order: [1, 0], ... }]
 * ```
 */
export function replayPath(
  program: Program,
  path: readonly number[],
  maxSteps?: number,
  trace = true,
): {
  result: ScenarioResult | null;
  runs: BlockRun[];
  schedule: ScheduleEntry[];
  deviations: number;
} {
  const s = new PathScheduler(path);
  let result: ScenarioResult | null = null;
  try {
    result = runProgram(program, { scheduler: s, maxSteps, trace });
  } catch (e) {
    if (!(e instanceof ScnError)) throw e;
  }
  // A run cut short by an error carries on in written order, as a replay would.
  for (const r of s.runs) completeOrder(r);
  const schedule = s.runs.filter((r) => r.order.some((c, i) => c !== i)).map((r) => ({
    source: r.block.loc.source,
    line: r.block.loc.start.line,
    occurrence: r.occurrence,
    order: r.order,
  }));
  return { result, runs: s.runs, schedule, deviations: s.deviations };
}

/** Completes the order of a block run that stopped early with the written order's choices. */
function completeOrder(r: BlockRun): void {
  const plan = blockPlan(r.block);
  const done = r.block.body.map(() => false);
  for (const c of r.order) done[c] = true;
  while (r.order.length < done.length) {
    const c = enabledSteps(plan, done)[0];
    done[c] = true;
    r.order.push(c);
  }
}

/** n! / (k1! k2! ...): the orders of one block execution whose actors have k1, k2, ... steps. */
function multinomial(sizes: readonly number[]): bigint {
  let out = 1n, n = 0n;
  for (const k of sizes) {
    for (let i = 1n; i <= BigInt(k); i++) {
      n++;
      out = out * n / i;
    }
  }
  return out;
}

/**
 * Explores a scenario in this thread.
 *
 * @throws {ScnError} for a budget reached or an input error met in some order.
 *
 * @example
 * ```ts
 * import { checkText } from "../../mod.ts";
 * declare const text: string;
 * const r = explore(checkText(text, "race.scn"));
 * r.status;                      // "fail"
 * r.counterexample!.token;       // "12:1,0"
 * ```
 */
export function explore(program: Program, options: ExploreOptions = {}): ExploreResult {
  const search = new Search(new SearchContext(program, options));
  return finish(search, runSearch(search, options.progress));
}

/**
 * Runs a search's items in round order in this thread, merging each
 * item's events as it ends, until an order fails or none is left; returns
 * the failing path, or null. With {@link ExploreOptions.restore} one run
 * of the scenario goes on to the next item from its snapshot for as long
 * as each item ends inside the first block execution.
 *
 * @throws {ScnError} when a budget runs out or the scenario errs in some order.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const search = new Search(new SearchContext(program, {}));
 * const result = finish(search, runSearch(search));
 * ```
 */
export function runSearch(
  search: Search,
  progress?: ExploreOptions["progress"],
): number[] | null {
  const seen: Covered = (k, z) => search.seen.covers(k, z);
  const queue = new ItemQueue(search, progress);
  const source = search.ctx.restore ? queue : null;
  let item = queue.next();
  while (item !== null) {
    const s = new ItemScheduler(item, search.ctx, seen, [], source);
    runScheduled(s);
    queue.ended(s);
    item = s.handedOver ? s.following : queue.take(s.events);
  }
  if (queue.error) throw queue.error;
  return queue.failed;
}

/**
 * Builds the result once the search is over: the failing path, if any, is
 * replayed with the trace on to give the report its failures and events.
 *
 * @example
 * ```ts
 * declare const search: Search;
 * finish(search, null).status; // "pass" (or "xpass" for a known race)
 * ```
 */
export function finish(search: Search, failed: number[] | null): ExploreResult {
  const { program, maxSteps } = search.ctx;
  let counterexample: Counterexample | null = null;
  if (failed) {
    const r = replayPath(program, failed, maxSteps, true);
    if (!r.result || r.result.failures.length === 0) {
      throw new Error("explore: the failing order passed when replayed with the trace on");
    }
    counterexample = makeCounterexample(program, failed, r.result, r.runs);
  }
  return makeResult(program, search.stats, search.firstSizes, counterexample);
}

function makeCounterexample(
  program: Program,
  path: number[],
  result: ScenarioResult,
  runs: BlockRun[],
): Counterexample {
  const schedule = runs.filter((r) => r.order.some((c, i) => c !== i)).map((r) => ({
    source: r.block.loc.source,
    line: r.block.loc.start.line,
    occurrence: r.occurrence,
    order: r.order,
  }));
  const token = formatSchedule(schedule, program.file);
  return {
    path,
    schedule,
    token,
    deviations: deviationsOf(runs),
    result,
    runs,
    linear: linearize(program, runs, token),
  };
}

/**
 * Steps that did not take the next child as written, over some block executions.
 *
 * @example
 * ```ts
 * import { type ParallelOp } from "./run.ts";
 * declare const block: ParallelOp;
 * deviationsOf([{ block, occurrence: 1, order: [2, 3, 0, 1] }]); // 2 (steps 2 and 3 jumped ahead)
 * ```
 */
export function deviationsOf(runs: readonly BlockRun[]): number {
  let n = 0;
  for (const r of runs) {
    const plan = blockPlan(r.block);
    const done = r.block.body.map(() => false);
    for (const c of r.order) {
      if (c !== enabledSteps(plan, done)[0]) n++;
      done[c] = true;
    }
  }
  return n;
}

function makeResult(
  program: Program,
  stats: ExploreStats,
  sizes: (readonly number[])[] | null,
  counterexample: Counterexample | null,
): ExploreResult {
  const expectFailure = program.expectFailure?.reason ?? null;
  const found = counterexample !== null;
  // An order is the known failure only when the marked expectation is all that broke.
  const status = !found
    ? (expectFailure !== null ? "xpass" : "pass")
    : onlyMarkedFailed(program, counterexample.result.failures)
    ? "xfail"
    : "fail";
  return {
    file: program.file,
    title: program.title,
    tags: program.tags,
    status,
    expectFailure,
    blocks: sizes?.length ?? counterexample?.runs.length ?? 0,
    orders: !found && sizes ? sizes.reduce((acc, s) => acc * multinomial(s), 1n) : null,
    stats: { ...stats },
    counterexample,
  };
}

/**
 * Runs the one order a replay token names (written order elsewhere) and
 * reports it as {@link explore} would: `scn explore --schedule`.
 *
 * @throws {ScnError} when the token does not fit the scenario.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { type ScheduleEntry, parseSchedule } from "./explore_schedule.ts";
 * declare const program: Program;
 * exploreSchedule(program, parseSchedule("23:1,0", program.file) as ScheduleEntry[]).status; // "fail"
 * ```
 */
export function exploreSchedule(
  program: Program,
  entries: readonly ScheduleEntry[],
  options: ExploreOptions = {},
): ExploreResult {
  const replay = new ReplayScheduler(entries, program);
  const result = runProgram(program, { scheduler: replay, maxSteps: options.maxSteps });
  replay.finish();
  const stats = { states: 0, generated: 0, runs: 1, complete: 1, deduped: 0, pruned: 0 };
  const cx = result.failures.length > 0
    ? makeCounterexample(program, replay.runs.flatMap((r) => r.order), result, replay.runs)
    : null;
  const r = makeResult(program, stats, null, cx);
  return { ...r, blocks: replay.runs.length, orders: cx ? null : 1n };
}
