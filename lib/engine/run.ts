/**
 * The interpreter: executes a checked {@link Program} on fresh models, in
 * virtual time, and reports what happened. Execution and reporting are
 * separate: this module returns a {@link ScenarioResult}; `lib/report`
 * turns it into text, JSON or JUnit.
 *
 * Semantics, in brief:
 * - Timeline statements run in order, each at the current virtual time.
 *   Actions change state; nothing is delivered to a vCPU until `run`.
 * - `run` settles the machine at the current instant: each vCPU in turn, at
 *   each instruction boundary, takes what it can take and steps through the
 *   handler it has, until nothing changes. `run 5ms` also advances the clock,
 *   firing timers on the way and settling after each.
 * - A vCPU's statements are instructions: each one retires, which is what
 *   ends an STI shadow.
 * - `always` invariants are checked after every step from where they are
 *   declared; `expect` is checked where it stands. A failure is recorded and
 *   the scenario goes on, so one run reports every broken expectation.
 *
 * @module
 */
import type { Loc } from "../../dsl/ast.ts";
import type { Call, Cond, Expr, HandlerDecl, Op, ParallelOp, Program } from "../../dsl/program.ts";
import type { Timeline } from "../../dsl/timeline.ts";
import type { Args, CommandSpec, RegisterAccess, Val } from "../core/table.ts";
import { EventQueue } from "../core/event_queue.ts";
import { formatEvent, Trace, type TraceEvent } from "../core/trace.ts";
import { CommandInputError, ScnError } from "../core/diagnostic.ts";
import {
  BOUNDARY_HALTED,
  BOUNDARY_RESET,
  BOUNDARY_RUNNING,
  boundaryOf,
  type CpuModel,
  type Taken,
  type VmModel,
} from "../core/platform.ts";
import {
  coerce,
  compareInts,
  formatVal,
  type Int,
  toInt,
  truthy,
  valCompare,
  valEquals,
} from "../core/values.ts";
import { blockSteps } from "./steps.ts";
import { History, type TookRecord } from "./history.ts";
import { type RepeatLoop, repeatLoop, runsOf, type SettleLoop, settleLoop } from "./codegen.ts";
import {
  type Compiled,
  type CompiledOp,
  compiledProgram,
  type Evaluator,
  perform,
  readsVariables,
} from "./compile.ts";

export type { TookRecord };
import { applyBinaryOp, applyOp } from "../core/u64.ts";

/** A `do` statement of a checked program. */
type DoOp = Extract<Op, { op: "do" }>;

/** An interruptible command between its steps. */
interface InFlight {
  gen: Generator<void, Val | void, void>;
  result: Val | void;
  finished: boolean;
}

/** Options for {@link runProgram}. */
export interface RunOptions {
  /** Steps allowed in one `run` before the scenario is declared runaway. */
  maxSteps?: number;
  /**
   * Picks the order of the steps of each `parallel` block; without one they
   * run in written order. `scn explore` and `--schedule` supply one.
   */
  scheduler?: Scheduler;
  /** Record the event trace (default true); exploring turns it off for speed. */
  trace?: boolean;
  /**
   * `full` (the default) keeps every take as a {@link TookRecord};
   * `counts` keeps only what `took` conditions can ask (counts per vCPU and
   * vector, `in order` matchers), so memory does not grow with the run.
   */
  history?: "full" | "counts";
  /**
   * Run the program compiled to closures ({@link Compiled}; default true).
   * `false` walks the tree alone: the reference the compiled run is tested
   * against.
   */
  compile?: boolean;
  /**
   * Called after every timeline statement (a `run` included, and the
   * statements inside `if`, `repeat` and `for` bodies), never for handler
   * statements. `scn diff` compares two platforms' observable state here.
   *
   * @example
   * ```ts
   * import { type Program } from "../../dsl/program.ts";
   * declare const program: Program;
   * runProgram(program, { onStep: (loc, state) => console.log(loc.start.line, state.took.length) });
   * ```
   */
  onStep?: (loc: Loc, state: RunState) => void;
}

/** A `parallel { }` block of a checked program. */
export type { ParallelOp };

/**
 * A read-only view of a run in progress, handed to a {@link Scheduler} so it
 * can fingerprint the state it is deciding in.
 */
export interface RunState {
  /** The program being run. */
  readonly program: Program;
  /** The models, one per `vm`, in declaration order. */
  readonly vms: readonly VmModel[];
  /** Virtual time in ns. */
  readonly now: number;
  /** Events the models scheduled (timers, deferred deliveries). */
  readonly queue: EventQueue;
  /** Variables bound so far. */
  readonly env: ReadonlyMap<string, Val>;
  /** Every take, in order; empty when the run keeps only counts. */
  readonly took: readonly TookRecord[];
  /** What `took` conditions can ask of the history. */
  readonly history: History;
  /** Every broken expectation so far. */
  readonly failures: readonly Failure[];
  /** The `always` invariants declared so far. */
  readonly invariants: readonly unknown[];
  /** Per VM, per vCPU: the handler bodies being run, innermost last, with the next op. */
  readonly frames: readonly (readonly (readonly { ops: readonly Op[]; pc: number }[])[])[];
  /** For each enclosing `repeat`/`for` of the timeline, outermost first: iteration, count. */
  readonly loops: readonly number[];
  /**
   * Saves the whole state of the run (its own and every VM's, through
   * {@link VmModel.snapshot}) and returns a function that puts it back, as
   * often as called, or null when some part cannot be saved (the trace is
   * on, events are queued, a VM has no hook or refuses). Taken by a
   * scheduler at a parallel block's first choice, it lets the scheduler
   * answer {@link RESTART_BLOCK} instead of the scenario being run again.
   * The function returns false when it could not put everything back:
   * then the run must be abandoned.
   */
  snapshot?(): (() => boolean) | null;
  /**
   * For a run that went to its end and was then put back (with a function
   * {@link RunState.snapshot} gave at the first choice of `block`, a
   * statement of the program's top level): runs the program from `block`
   * to its end again and gives the result, as {@link runProgram} would
   * have. `scn explore` starts its next order so rather than building the
   * VMs again. Null, running nothing, when `block` is not at the top level.
   * (Runs with a snapshot have nothing for `VmModel.dispose` to do.)
   */
  resume?(block: ParallelOp): ScenarioResult | null;
}

/**
 * What {@link Scheduler.next} may return to run the parallel block it is
 * asked about again from its first step, after putting the run back
 * (with the function {@link RunState.snapshot} gave at that block's first
 * choice of this execution) to the state it had there.
 */
export const RESTART_BLOCK = -1;

/**
 * Chooses the order of a `parallel` block's steps, one step at a time.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * // Reverse written order.
 * const reverse: Scheduler = { next: (_b, done) => done.lastIndexOf(false) };
 * runProgram(program, { scheduler: reverse });
 * ```
 */
export interface Scheduler {
  /**
   * The step to run next: an index into {@link blockSteps} of the block,
   * which is the index in `block.body` unless an earlier child is an
   * interruptible command (one step per step of its own). `done[i]` says
   * whether step i already ran in this execution of the block. Or
   * {@link RESTART_BLOCK}.
   */
  next(block: ParallelOp, done: readonly boolean[], state: RunState): number;
}

/** The default step budget of one `run`. */
export const DEFAULT_MAX_STEPS = 100_000;

/** Loops and ranges may do this many times the step budget of work in all. */
const WORK_FACTOR = 10;

/** The generated loop of each compiled `repeat` body (lib/engine/codegen.ts), null for none. */
const generatedRepeats = new WeakMap<
  readonly CompiledOp[],
  { loop: RepeatLoop; runs: ReturnType<typeof runsOf> } | null
>();

/** A broken expectation or invariant. */
export interface Failure {
  /** What it was: `vector`, `nmi`, `extint` for takes; `expect` or `always` for failures. */
  kind: "expect" | "always";
  /** Where the expectation is written. */
  loc: Loc;
  /** The expectation as written. */
  text: string;
  /** What should have held, as scenarios write values. */
  expected: string;
  /** What the model showed instead. */
  actual: string;
  /** Trace events that led to it, oldest first. */
  events: TraceEvent[];
  /** Virtual time when it was seen. */
  time: number;
  /** The id of the last trace event before it was checked (0: none), where a timeline shows it. */
  after: number;
}

/** What running one scenario produced. */
export interface ScenarioResult {
  /** The scenario file. */
  file: string;
  /** Its title. */
  title: string;
  /** Its tags. */
  tags: string[];
  /**
   * pass; fail; xfail (expected to fail, and did); xpass (expected to fail, but passed);
   * skip (a backend could not express it: `skipReason` says why).
   */
  status: "pass" | "fail" | "xfail" | "xpass" | "skip";
  /** Why a skipped scenario was not run. */
  skipReason?: string;
  /** The reason given with `expect failure`, or null. */
  expectFailure: string | null;
  /** Every broken expectation, in the order seen. */
  failures: Failure[];
  /** Every event, in order. */
  trace: TraceEvent[];
  /** Every interrupt taken, in order. */
  took: TookRecord[];
  /** Engine steps taken in all runs. */
  steps: number;
  /** Virtual time at the end, in ns. */
  time: number;
}

/**
 * A handler body being run. Frames are reused (a vCPU's spares, see
 * {@link Interpreter.enter}), so a take allocates nothing.
 */
interface Frame {
  /** The body's statements. */
  ops: readonly Op[];
  /** The compiled `ops`, when the run is compiled. */
  steps: readonly CompiledOp[] | null;
  /** The next statement's index in `ops`. */
  pc: number;
  /** The handler's bindings (`$vector`), bound to `vector` or `ack` for each step that needs them. */
  binds: HandlerDecl["binds"];
  /** What was taken: its vector, and what its acknowledge returned ({@link Taken.ack}). */
  vector: number;
  ack: number;
  /** Whether a step of this body needs the handler variables bound ({@link CompiledHandler.binds}). */
  bindsNeeded: boolean;
}

/**
 * An empty stack of frames whose elements are objects from the start. An
 * empty `[]` holds small integers until its first push, so frame stacks
 * came in two maps (before and after a vCPU's first take, and again for
 * every later run in the process): the JIT's code for `stepCpu`, `enter`
 * and `leave` then checked for both, or was thrown away when a run brought
 * the other. One map: ~15 ns less per round trip of the 1M-MSI bench.
 */
function frameStack(): Frame[] {
  const stack: Frame[] = [NO_FRAME];
  stack.pop();
  return stack;
}

/**
 * A vCPU's first spares: one frame made now, so that a take in a handler
 * nested no deeper than one finds a frame to reuse. Then `enter` never
 * builds one in the middle of a run: a path taken only at each run's
 * first take has no type feedback in a later run (V8 collects none in a
 * function's first calls), and taking it there threw away the optimized
 * code that had inlined `enter`.
 */
function spareFrameStack(): Frame[] {
  const stack = frameStack();
  stack.push({ ...NO_FRAME });
  return stack;
}

const NO_FRAME: Frame = {
  ops: [],
  steps: null,
  pc: 0,
  binds: [],
  vector: 0,
  ack: 0,
  bindsNeeded: false,
};

interface Invariant {
  op: Op & { op: "always" };
  failed: boolean;
}

/**
 * Runs a checked program.
 *
 * @throws {ScnError} for input errors found only at run time: a variable
 * with a value out of a parameter's range, a `run` that does not settle
 * within the step budget.
 *
 * @example
 * ```ts
 * import { check, parse, PLATFORMS } from "../../mod.ts";
 * declare const text: string;
 * const result = runProgram(check(parse(text, "a.scn"), { platforms: PLATFORMS }));
 * result.status; // "pass"
 * ```
 */
export function runProgram(program: Program, options: RunOptions = {}): ScenarioResult {
  const interpreter = new Interpreter(program, options);
  try {
    return interpreter.run();
  } finally {
    // Backends that hold OS resources (lib/kvm's VM and vCPU fds) release them here.
    for (const vm of interpreter.vms) vm.dispose?.();
  }
}

/**
 * PASS, FAIL, XFAIL or XPASS for `failures` of one run of `program`. With an
 * expectation marked `expect failure`, XFAIL needs every failure to be that
 * expectation's: another failure is a FAIL, and the mark holding an XPASS.
 * A known race's mark is an ordinary expectation in one run (the written
 * order, or a replayed one): only `scn explore` looks for the order that
 * breaks it.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * outcomeOf(program, []); // "pass", or "xpass" when an expectation is marked
 * ```
 */
export function outcomeOf(
  program: Program,
  failures: readonly Failure[],
): "pass" | "fail" | "xfail" | "xpass" {
  const mark = program.expectFailure;
  if (!mark || mark.race) return failures.length > 0 ? "fail" : "pass";
  if (failures.some((f) => !sameLoc(f.loc, mark.loc))) return "fail";
  return failures.length > 0 ? "xfail" : "xpass";
}

/**
 * Whether every failure is at the marked expectation (and there is one):
 * what makes a failing order the known race rather than another bug.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * onlyMarkedFailed(program, []); // false
 * ```
 */
export function onlyMarkedFailed(program: Program, failures: readonly Failure[]): boolean {
  const mark = program.expectFailure;
  return mark !== null && failures.length > 0 && failures.every((f) => sameLoc(f.loc, mark.loc));
}

function sameLoc(a: Loc, b: Loc): boolean {
  return a.source === b.source && a.start.offset === b.start.offset;
}

class Interpreter {
  now = 0;
  steps = 0;
  readonly queue = new EventQueue();
  readonly trace = new Trace(() => this.now);
  readonly vms: VmModel[];
  readonly frames: Frame[][][];
  /**
   * Per VM, per vCPU: had nothing to do at its last boundary, and nothing
   * since could have given it something ({@link CpuModel.ownBoundaries}), so
   * `settle` passes it by. Compiled runs only: the tree walker visits every
   * vCPU at every pass, the reference the tests compare with.
   */
  readonly idle: boolean[][];
  /**
   * Whether an `always` declared so far names a variable: invariants are
   * checked inside handler steps, so then every step binds its handler's
   * variables ({@link CompiledHandler.binds}).
   */
  invariantsReadVariables = false;
  /** Whether the last step of `stepCpu` was a take or a handler statement (see `idle`). */
  stepMayWakeOthers = false;
  /** Per VM, per vCPU: frames that ended, to be reused by the next take. */
  readonly spareFrames: Frame[][][];
  /**
   * What handler steps' bindings hid, a stack of names and values
   * `hiddenDepth` deep: a step's entries lie above the depth
   * {@link Interpreter.bind} returned. The arrays are never popped: V8 gives
   * an emptied array's store back, and a handler's every step bound and
   * unbound, so each made two new stores (7 MB in vgic_lpi_stress).
   */
  readonly hiddenNames: string[] = [];
  readonly hiddenValues: (Val | undefined)[] = [];
  hiddenDepth = 0;
  readonly env = new Map<string, Val>();
  readonly history: History;
  /** Every broken expectation, in the order seen. */
  readonly failures: Failure[] = [];
  readonly invariants: Invariant[] = [];
  readonly maxSteps: number;
  budgetStart = 0;
  readonly scheduler: Scheduler | undefined;
  /** See {@link RunState.loops}. */
  readonly loops: number[] = [];
  readonly onStep: RunOptions["onStep"];
  /** The vCPU executing a `run vcpuN { }` block, or -1. */
  windowVm = -1;
  windowCpu = -1;
  /**
   * The vCPU whose faulting instruction can execute again: the one of the
   * `run vcpuN { }` block or the handler body executing a statement now
   * (see {@link CpuModel.faulted}); null at top level.
   */
  restartable: CpuModel | null = null;
  readonly compiled: Compiled | null;
  /** A compiled run of one VM with one vCPU: `settle` is {@link Interpreter.settleOne}. */
  readonly settlesOne: boolean;

  constructor(readonly program: Program, options: RunOptions) {
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.scheduler = options.scheduler;
    this.onStep = options.onStep;
    if (options.trace === false) this.trace.enabled = false;
    const env = { trace: this.trace, queue: this.queue, now: () => this.now };
    this.vms = program.vms.map((d) => d.platform.create(d.name, d.settings, env));
    // Compiled calls perform commands without checking their VM (Compiled.runOf): checked here.
    for (let v = 0; v < this.vms.length; v++) {
      if (!program.vms[v].platform.owns(this.vms[v])) {
        throw new Error(
          `internal error: VM '${this.vms[v].name}' was not created by the ${
            program.vms[v].platform.arch.join("/")
          } platform`,
        );
      }
    }
    this.frames = this.vms.map((vm) => vm.cpus.map(frameStack));
    this.spareFrames = this.vms.map((vm) => vm.cpus.map(spareFrameStack));
    this.idle = this.vms.map((vm) => vm.cpus.map(() => false));
    const names = this.vms.map((vm) => vm.cpus.map((c) => c.name));
    this.history = new History(program, names, options.history !== "counts");
    this.compiled = options.compile === false ? null : compiledProgram(program);
    this.settlesOne = this.vms.length === 1 && this.vms[0].cpus.length === 1 &&
      this.compiled !== null;
    this.guessFirstTakes();
  }

  /**
   * Points each vCPU's take counters ({@link History.guess}) and, compiled, its handler
   * choice ({@link Compiled.handlerFor}) at the first vector its first handler names, before
   * the run: a first take of it then costs what every later one does. A run's first take
   * comes before V8 has type feedback for the take's code, so taking the first-take way in a
   * later run of the process threw that code away; here that way is taken from the
   * constructor instead. The guess changes nothing anyone sees: the choice is the one the
   * take would make (the same search), and the counts are the same.
   */
  guessFirstTakes(): void {
    const handlers = this.program.handlers;
    const done = this.vms.map((vm) => vm.cpus.map(() => false));
    for (let i = 0; i < handlers.length; i++) {
      const h = handlers[i];
      if (h.values === null || h.values.length === 0 || done[h.vm]?.[h.cpu] !== false) continue;
      done[h.vm][h.cpu] = true;
      const taken: Taken = { kind: h.event, vector: h.values[0], cause: 0, event: 0 };
      if (!this.program.vms[h.vm].platform.handlerMatches(h.event, h.values, taken)) continue;
      this.history.guess(h.vm, h.cpu, taken.kind, taken.vector);
      if (this.compiled !== null) this.compiled.handlerFor(this, h.vm, h.cpu, taken);
    }
  }

  /** Every interrupt taken, in order (a full history only). */
  get took(): readonly TookRecord[] {
    return this.history.records;
  }

  /**
   * See {@link RunState.snapshot}. Fixed for the run, not saved: program,
   * vms (saved by their own hooks), trace, queue (emptied), maxSteps,
   * scheduler, onStep, compiled, settlesOne, settleLoop, settleHandlers,
   * settleRuns; spareFrames is a pool of frames to reuse,
   * whatever they held; hiddenNames, hiddenValues (hiddenDepth 0), windowVm,
   * windowCpu and restartable are empty or unset wherever a snapshot is taken.
   */
  snapshot(): (() => boolean) | null {
    // Trace events carry ids the models keep as causes; handler bindings
    // and a `run vcpuN { }` window live on the JavaScript stack.
    if (this.trace.enabled || this.hiddenDepth > 0 || this.windowVm >= 0) return null;
    const queue = this.queue.snapshot();
    if (queue === null) return null;
    const vms: (() => boolean)[] = [];
    for (const vm of this.vms) {
      const r = vm.snapshot?.() ?? null;
      if (r === null) return null;
      vms.push(r);
    }
    const history = this.history.snapshot();
    const { now, steps, budgetStart, work, invariantsReadVariables, stepMayWakeOthers } = this;
    const env = [...this.env];
    const failures = this.failures.length;
    const invariants = this.invariants.map((i) => i.failed);
    const loops = [...this.loops];
    // A frame's fields are numbers and the program's own (shared, never changed) arrays.
    const copyFrame = (f: Frame): Frame => ({ ...f });
    const frames = this.frames.map((vm) => vm.map((cpu) => cpu.map(copyFrame)));
    const idle = this.idle.map((vm) => [...vm]);
    return () => {
      for (const r of vms) if (!r()) return false;
      queue();
      history();
      this.now = now;
      this.steps = steps;
      this.budgetStart = budgetStart;
      this.work = work;
      this.invariantsReadVariables = invariantsReadVariables;
      this.stepMayWakeOthers = stepMayWakeOthers;
      // What is mostly empty before and after is left alone then (a restore per order).
      if (this.env.size > 0 || env.length > 0) {
        this.env.clear();
        for (const [k, v] of env) this.env.set(k, v);
      }
      // Setting an array's length costs even when it does not change it.
      if (this.failures.length !== failures) this.failures.length = failures;
      if (this.invariants.length !== invariants.length) this.invariants.length = invariants.length;
      for (let i = 0; i < invariants.length; i++) this.invariants[i].failed = invariants[i];
      if (this.loops.length > 0 || loops.length > 0) {
        this.loops.length = 0;
        this.loops.push(...loops);
      }
      for (let v = 0; v < frames.length; v++) {
        for (let c = 0; c < frames[v].length; c++) {
          const live = this.frames[v][c], saved = frames[v][c];
          if (live.length > 0 || saved.length > 0) {
            live.length = 0;
            for (const f of saved) live.push(copyFrame(f));
          }
          this.idle[v][c] = idle[v][c];
        }
      }
      return true;
    };
  }

  run(): ScenarioResult {
    this.block(this.program.body);
    return this.result();
  }

  /** See {@link RunState.resume}. */
  resume(block: ParallelOp): ScenarioResult | null {
    const body = this.program.body;
    const from = body.indexOf(block);
    if (from < 0) return null;
    this.block(body, from);
    return this.result();
  }

  /** The result of the run, once its last statement ran. */
  result(): ScenarioResult {
    const p = this.program;
    const status = outcomeOf(p, this.failures);
    return {
      /** The scenario file. */
      file: p.file,
      /** Its title. */
      title: p.title,
      /** Its tags. */
      tags: p.tags,
      status,
      /** The reason given with `expect failure`, or null. */
      expectFailure: p.expectFailure?.reason ?? null,
      /** Every broken expectation, in the order seen. */
      failures: this.failures,
      /** Every event, in order. */
      trace: this.trace.events,
      /** Every interrupt taken, in order. */
      took: this.history.records,
      steps: this.steps,
      /** Virtual time in ns. */
      time: this.now,
    };
  }

  // ---- statements ------------------------------------------------------------

  /** Runs `ops` from the `from`-th on (a resumed run, {@link RunState.resume}: not the first). */
  block(ops: readonly Op[], from = 0): void {
    // Handler statements run through stepCpu, not here: only the timeline is observed.
    const onStep = this.onStep;
    if (this.compiled !== null) {
      const steps = this.compiled.block(ops);
      for (let i = from; i < steps.length; i++) {
        perform(this, steps[i]);
        // A timeline's steps are its statements (see `timeline`).
        if (onStep !== undefined && ops[i].op !== "timeline") onStep(ops[i].loc, this);
      }
      return;
    }
    for (let i = from; i < ops.length; i++) {
      const op = ops[i];
      this.exec(op);
      if (onStep !== undefined && op.op !== "timeline") onStep(op.loc, this);
    }
  }

  /**
   * The statements of a timeline (a long file's top level kept as data,
   * dsl/timeline.ts), each a step as in a block; each op is built when its
   * turn comes and dropped after, so the run keeps none.
   */
  timeline(t: Timeline<Op>): void {
    const onStep = this.onStep;
    for (let i = 0; i < t.length; i++) {
      const op = t.op(i);
      this.exec(op);
      if (onStep !== undefined) onStep(op.loc, this);
    }
  }

  exec(op: Op): void {
    switch (op.op) {
      case "do": {
        const result = this.call(op.call);
        if (op.bind !== null) this.env.set(op.bind, result ?? 0);
        this.afterStep();
        return;
      }
      case "if":
        this.block(this.cond(op.cond) ? op.then : op.else);
        return;
      case "run":
        this.runFor(
          op.duration ? this.typed(op.duration, { kind: "duration" }) as number : 0,
          op.loc,
        );
        return;
      case "expect":
        this.expect(op.cond, op.text, op.loc, "expect");
        return;
      case "always": {
        if (!this.invariantsReadVariables && alwaysReadsVariables(op)) {
          this.invariantsReadVariables = true;
        }
        const inv: Invariant = { op, failed: false };
        this.invariants.push(inv);
        this.checkInvariant(inv);
        return;
      }
      case "let":
        this.env.set(op.name, this.eval(op.value));
        return;
      case "repeat":
        this.repeat(op);
        return;
      case "for":
        this.forEach(op);
        return;
      case "parallel":
        // Written order unless a scheduler decides; `scn explore` tries the others.
        if (hasSelect(op)) this.distinctActors(op);
        if (this.scheduler) this.parallel(op, this.scheduler);
        else this.block(op.body);
        return;
      case "window":
        this.window(op);
        return;
      case "timeline":
        this.timeline(op.timeline);
        return;
      case "select":
        this.exec(op.variants[this.vcpuIndex(op)]);
        return;
    }
  }

  /**
   * The vCPU a `vcpu[$i]` statement or `took` names now: its index,
   * evaluated, checked against its VM's vCPUs (the checker could not).
   */
  vcpuIndex(s: Extract<Op, { op: "select" }> | Extract<Cond, { c: "select" }>): number {
    const n = this.eval(s.index);
    const count = s.variants.length;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= count) {
      this.inputError(
        s.index.loc,
        `'${s.text}' is vcpu${formatVal(n)} here, but vm '${
          this.vms[s.vm].name
        }' has ${count} vCPU${count === 1 ? "" : "s"} (vcpu0..vcpu${count - 1})`,
      );
    }
    return n;
  }

  /**
   * `repeat N { }`, its body compiled (`body`) or walked. A method of its
   * own, not a case of {@link Interpreter.exec}: a million iterations then
   * run in a small function the JIT optimizes whole, not in an on-stack
   * replacement of the large `exec`; a compiled body runs here, with no
   * block lookup per iteration.
   */
  repeat(op: Extract<Op, { op: "repeat" }>, body?: readonly CompiledOp[]): void {
    const n = this.repeatCount(op);
    if (body === undefined) {
      this.repeatWalked(op, n);
      return;
    }
    if (!this.trace.enabled && this.onStep === undefined) {
      let gen = generatedRepeats.get(body);
      if (gen === undefined) {
        const loop = repeatLoop(body);
        generatedRepeats.set(body, gen = loop === null ? null : { loop, runs: runsOf(body) });
      }
      if (gen !== null) {
        gen.loop(this, body, gen.runs, n, this.maxSteps * WORK_FACTOR, op.loc);
        if (n > 0) this.leaveLoop();
        return;
      }
    }
    const onStep = this.onStep, ops = op.body, loops = this.loops;
    // The loop's entry stays on `loops` from its first iteration to its end, its iteration
    // rewritten in place: between two iterations only the budgets are charged, which read no
    // loop, so observers see what a push and two pops per iteration showed them.
    const at = loops.length, loc = op.loc, traced = this.trace.enabled;
    const workLimit = this.maxSteps * WORK_FACTOR;
    for (let i = 0; i < n; i++) {
      // charge(), without its call where the work budget holds.
      if (++this.work > workLimit) this.workExhausted(loc, "repeat");
      // tick(), without its call where nothing is traced and the budget holds (as settleOne).
      if (traced || this.steps + 1 - this.budgetStart > this.maxSteps) this.tick(loc, "repeat");
      else this.steps++;
      if (i === 0) loops.push(0, n);
      else loops[at] = i;
      for (let k = 0; k < body.length; k++) {
        perform(this, body[k]);
        if (onStep !== undefined) onStep(ops[k].loc, this);
      }
    }
    if (n > 0) this.leaveLoop();
  }

  /** A `repeat`'s count, refused unless a number >= 0. */
  repeatCount(op: Extract<Op, { op: "repeat" }>): number {
    const n = this.eval(op.count);
    if (typeof n !== "number" || n < 0) {
      this.inputError(op.count.loc, `repeat needs a count >= 0, not ${formatVal(n)}`);
    }
    return n;
  }

  /** {@link Interpreter.repeat} of a body walked, not compiled. */
  repeatWalked(op: Extract<Op, { op: "repeat" }>, n: number): void {
    for (let i = 0; i < n; i++) {
      this.charge(op.loc, 1, "repeat");
      this.tick(op.loc, "repeat");
      this.loops.push(i, n);
      this.block(op.body);
      this.leaveLoop();
    }
  }

  /**
   * `for $x in ITEMS { }`, its body compiled (`body`) or walked: a method of
   * its own for the reasons {@link Interpreter.repeat} is, and a compiled
   * body runs with no block lookup per iteration.
   */
  forEach(
    op: Extract<Op, { op: "for" }>,
    body?: readonly CompiledOp[],
    compiled?: Evaluator,
  ): void {
    const items = compiled === undefined ? this.eval(op.items) : compiled(this);
    const list = Array.isArray(items) ? items : [items];
    const onStep = this.onStep, ops = op.body, loops = this.loops, env = this.env;
    for (let i = 0; i < list.length; i++) {
      this.charge(op.loc, 1, "for");
      this.tick(op.loc, "for");
      env.set(op.name, list[i]);
      loops.push(i, list.length);
      if (body === undefined) this.block(ops);
      else {
        for (let k = 0; k < body.length; k++) {
          perform(this, body[k]);
          if (onStep !== undefined) onStep(ops[k].loc, this);
        }
      }
      this.leaveLoop();
    }
  }

  /**
   * `run vcpuN { ... }`: the body's statements in order, with an instruction
   * boundary before each of the vCPU's instructions and after the last
   * statement, at which the machine settles as in `run`. Other statements
   * (another actor's action, `expect`, `let`) happen between two
   * boundaries. The vCPU executes only the body meanwhile: at a boundary it
   * takes what it can and runs the handler, and retires no other
   * instruction, so a shadow lasts exactly one body instruction.
   */
  window(op: Extract<Op, { op: "window" }>): void {
    this.budgetStart = this.steps;
    this.windowVm = op.vm;
    this.windowCpu = op.cpu;
    try {
      this.windowBlock(op.body, op.vm, op.cpu);
      this.settle(op.loc);
    } finally {
      this.windowVm = -1;
      this.windowCpu = -1;
    }
  }

  /**
   * The statements of a window's block: a boundary before each of the
   * vCPU's instructions wherever it stands, so an instruction in a `repeat`,
   * `for` or `if` of the window has its boundary as one written out does (a guest's loop takes an interrupt between two of
   * its iterations, not after the loop).
   */
  windowBlock(ops: readonly Op[], vm: number, c: number): void {
    const cpu = this.vms[vm].cpus[c];
    const onStep = this.onStep;
    for (let i = 0; i < ops.length; i++) {
      const inner = ops[i];
      if (isInstructionOf(inner, vm, c)) {
        this.boundaryBefore(inner, cpu);
        if (inner.op === "if" && holdsInstructionOf(inner, vm, c)) {
          // The test is the instruction (`if bit ...` reads memory); its block's own have theirs.
          const taken = this.cond(inner.cond);
          if (onStep !== undefined) onStep(inner.loc, this);
          this.windowBlock(taken ? inner.then : inner.else, vm, c);
          continue;
        }
        this.restartable = cpu;
        try {
          this.exec(inner);
        } finally {
          this.restartable = null;
        }
        if (onStep !== undefined) onStep(inner.loc, this);
        // A fault: the instruction runs again once the settling has run its handler.
        if (cpu.faulted === true) {
          cpu.faulted = false;
          i--;
        }
      } else if (holdsInstructionOf(inner, vm, c)) {
        this.windowControl(inner, vm, c);
      } else {
        this.exec(inner);
        if (onStep !== undefined) onStep(inner.loc, this);
      }
    }
  }

  /** Settles the machine at the boundary before a window's instruction `op`. */
  boundaryBefore(op: Op, cpu: CpuModel): void {
    this.settle(op.loc);
    if (cpu.halted) {
      this.inputError(
        op.loc,
        `${cpu.name} is halted here and nothing woke it, so it cannot execute this`,
      );
    }
  }

  /**
   * A `repeat`, `for` or `if` in a window that holds an
   * instruction of the window's vCPU: its control as {@link Interpreter.exec}
   * runs it (the same budgets, loop positions and variables), its blocks
   * through {@link Interpreter.windowBlock}.
   */
  windowControl(op: Op, vm: number, c: number): void {
    switch (op.op) {
      case "repeat": {
        const n = this.eval(op.count);
        if (typeof n !== "number" || n < 0) {
          this.inputError(op.count.loc, `repeat needs a count >= 0, not ${formatVal(n)}`);
        }
        for (let i = 0; i < n; i++) {
          this.charge(op.loc, 1, "repeat");
          this.tick(op.loc, "repeat");
          this.loops.push(i, n);
          this.windowBlock(op.body, vm, c);
          this.leaveLoop();
        }
        return;
      }
      case "for": {
        const items = this.eval(op.items);
        const list = Array.isArray(items) ? items : [items];
        for (let i = 0; i < list.length; i++) {
          this.charge(op.loc, 1, "for");
          this.tick(op.loc, "for");
          this.env.set(op.name, list[i]);
          this.loops.push(i, list.length);
          this.windowBlock(op.body, vm, c);
          this.leaveLoop();
        }
        return;
      }
      case "if":
        this.windowBlock(this.cond(op.cond) ? op.then : op.else, vm, c);
        return;
      default:
        this.exec(op);
    }
  }

  /**
   * Runs each step of a parallel block once, in the order the scheduler
   * picks: a child is one step, an interruptible command one per step of
   * its own ({@link blockSteps}).
   */
  parallel(op: ParallelOp, scheduler: Scheduler): void {
    const s = blockSteps(op);
    // A child that is one step runs compiled where the run is (`scn explore` runs each
    // block once per order: a command's arguments are then not built again each time).
    const compiled = this.compiled === null ? null : this.compiled.block(op.body);
    const done = s.childOf.map(() => false);
    // Interruptible commands between their steps, by child.
    const flying = new Map<number, InFlight>();
    for (let k = 0; k < done.length; k++) {
      const i = scheduler.next(op, done, this);
      if (i === RESTART_BLOCK) {
        // The scheduler put the state back as it was before the first step.
        // By a loop (`fill` on an array of booleans took the builtin's slow
        // path), and the map cleared only when not empty: once per order.
        for (let j = 0; j < done.length; j++) done[j] = false;
        if (flying.size > 0) flying.clear();
        k = -1;
        continue;
      }
      if (
        !Number.isInteger(i) || i < 0 || i >= done.length || done[i] ||
        (s.partOf[i] > 0 && !done[i - 1])
      ) {
        throw new Error(
          `scheduler picked step ${i} of a parallel block that has no such step left`,
        );
      }
      done[i] = true;
      const c = s.childOf[i];
      if (s.parts[c] === 1) {
        if (compiled !== null) perform(this, compiled[c]);
        else this.exec(op.body[c]);
      } else this.part(op.body[c] as DoOp, s.partOf[i], flying, c);
    }
  }

  /**
   * A block's actors are told apart before it runs (`blockPlan`), a
   * `vcpu[$i]` by its index as written: one that is another step's vCPU
   * here would have its order with that step broken, so it is refused. The
   * checker keeps the block from rebinding what an index reads.
   */
  distinctActors(op: ParallelOp): void {
    // The first step seen on each vCPU (`vm:cpu`).
    const first = new Map<string, Op>();
    for (const child of op.body) {
      const vcpu = child.op === "select"
        ? `${child.vm}:${this.vcpuIndex(child)}`
        : vcpuOfChild(child);
      if (vcpu === null) continue;
      const prev = first.get(vcpu);
      if (prev === undefined) {
        first.set(vcpu, child);
        continue;
      }
      // One actor as the plan sees it: its steps keep their order already.
      const actorOf = (o: Op) => o.op === "select" ? o.text : "";
      if (actorOf(prev) === actorOf(child)) continue;
      const sel = (child.op === "select" ? child : prev) as Extract<Op, { op: "select" }>;
      const step = sel === child ? prev : child;
      const [vm, cpu] = vcpu.split(":").map(Number);
      this.inputError(
        sel.index.loc,
        `'${sel.text}' is ${this.vms[vm].cpus[cpu].name} here, which the step of line ` +
          `${step.loc.start.line} in this parallel block also is: explore would not keep their ` +
          "written order",
      );
    }
  }

  /** One step of an interruptible command; the last binds its result and retires it. */
  part(op: DoOp, part: number, flying: Map<number, InFlight>, child: number): void {
    const c = op.call;
    const steps = c.spec.steps!;
    const last = part === steps.names.length - 1;
    const vm = this.vms[c.vm];
    let f = flying.get(child);
    if (f === undefined) {
      f = { gen: steps.run(vm, c.cpu, this.args(c), c.source), result: undefined, finished: false };
      flying.set(child, f);
    }
    const t = this.trace;
    const id = t.enabled
      ? t.emit(
        c.source,
        "step",
        `${c.spec.name}: step ${part + 1} of ${steps.names.length}, ${steps.names[part]}${
          f.finished ? " (nothing left to do)" : ""
        }`,
      )
      : 0;
    t.open(id);
    try {
      if (!f.finished) {
        const r = f.gen.next();
        if (r.done) (f.finished = true, f.result = r.value);
        else if (last) {
          throw new Error(`${c.spec.name} has more steps than its ${steps.names.length} names`);
        }
      }
    } catch (e) {
      if (e instanceof CommandInputError) this.inputError(c.loc, e.message);
      throw e;
    } finally {
      t.close(id);
    }
    if (last) {
      flying.delete(child);
      if (c.cpu >= 0) vm.cpus[c.cpu].retire();
      if (op.bind !== null) this.env.set(op.bind, f.result ?? 0);
    }
    this.afterStep();
  }

  /** Performs a command; vCPU commands are instructions, so they retire. */
  call(c: Call): Val | void {
    return this.callWith(c, this.args(c), c.spec.run);
  }

  /**
   * {@link Interpreter.call} with its arguments evaluated already and its command's `run`
   * given (see {@link CompiledOp.run}).
   */
  callWith(c: Call, args: Args, run: CommandSpec<VmModel>["run"]): Val | void {
    const vm = this.vms[c.vm];
    // A traced run, a model's refusal and a fault are apart, so that this stays small enough
    // for V8 to inline where a round trip's commands are performed.
    if (c.cpu >= 0 && this.trace.enabled) return this.callTraced(c, args);
    let result: Val | void;
    try {
      result = run(vm, c.cpu, args, c.source);
    } catch (e) {
      this.commandThrew(c, e);
    }
    if (c.cpu >= 0) {
      const cpu = vm.cpus[c.cpu];
      if (cpu.faulted !== true) cpu.retire();
      else this.faultedAt(c, cpu);
    }
    return result;
  }

  /** {@link Interpreter.callWith} of a vCPU's command while the trace is on. */
  callTraced(c: Call, args: Args): Val | void {
    const vm = this.vms[c.vm];
    const t = this.trace;
    const before = t.events.length;
    let result: Val | void;
    try {
      result = c.spec.run(vm, c.cpu, args, c.source);
    } catch (e) {
      this.commandThrew(c, e);
    }
    // Every instruction leaves an event, so a trace shows where each one fell
    // (a take between two of them); one its model did not trace gets this one.
    if (t.events.length === before) {
      t.emit(
        c.source,
        c.spec.name.replaceAll(" ", "."),
        result === undefined ? "executed" : `-> ${formatVal(result)}`,
      );
    }
    const cpu = vm.cpus[c.cpu];
    if (cpu.faulted !== true) cpu.retire();
    else this.faultedAt(c, cpu);
    return result;
  }

  /** A command threw: a model refusing what the scenario asked is bad input, not a bug. */
  commandThrew(c: Call, e: unknown): never {
    if (e instanceof CommandInputError) this.inputError(c.loc, e.message);
    throw e;
  }

  /** A vCPU's command faulted: only a restartable instruction may (see {@link CpuModel.faulted}). */
  faultedAt(c: Call, cpu: CpuModel): void {
    if (cpu === this.restartable) return;
    cpu.faulted = false;
    this.inputError(
      c.loc,
      `${cpu.name}'s ${c.spec.name} raised a fault, after whose handler it executes again: ` +
        `only an instruction in 'run ${cpu.name} { }' or in a handler can`,
    );
  }

  args(c: Call): Args {
    const out: Record<string, Val> & {
      $register?: RegisterAccess;
      $entries?: Record<string, Val>[];
    } = {};
    for (const { param, expr } of c.args) {
      const v = this.typed(expr, param.type);
      const t = param.type;
      // A vCPU number held in a variable is checked here; literals were checked already.
      if (t.kind === "int" && t.vcpu && typeof v === "number" && v >= this.vms[c.vm].cpus.length) {
        this.inputError(expr.loc, `vm '${this.vms[c.vm].name}' has no vCPU ${v}`);
      }
      out[param.name] = v;
    }
    if (c.register) {
      const r = c.register;
      const index = r.index ? this.eval(r.index) as number : 0;
      out.$register = {
        register: r.spec,
        /** The scenario file. */
        file: r.file,
        index,
        raw: r.raw ? BigInt(this.typed(r.raw, { kind: "u64" }) as bigint) : undefined,
        fields: r.fields.map((f) => [f.field, Number(this.eval(f.expr))] as const),
        fileIndex: r.fileIndexExpr === undefined ? r.fileIndex : this.fileIndex(c, r.fileIndexExpr),
      };
    }
    if (c.entries) {
      out.$entries = c.entries.map((e) => {
        const rec: Record<string, Val> = {};
        for (const { param, expr } of e) rec[param.name] = this.typed(expr, param.type);
        return rec;
      });
    }
    return out;
  }

  /** The vCPU a register path numbers at run time (`vcpu[$i].info`), checked against its VM. */
  fileIndex(c: Call, e: Expr): number {
    const n = this.eval(e);
    const count = this.vms[c.vm].cpus.length;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= count) {
      this.inputError(
        e.loc,
        `vm '${this.vms[c.vm].name}' has no vcpu${formatVal(n)} (it has ${count})`,
      );
    }
    return n;
  }

  typed(expr: Expr, type: Parameters<typeof coerce>[0]): Val {
    const v = this.eval(expr);
    if (expr.e === "lit") return v;
    const r = coerce(type, v);
    if (!r.ok) this.inputError(expr.loc, r.why);
    return r.value;
  }

  // ---- time and delivery --------------------------------------------------------

  runFor(duration: number, loc: Loc): void {
    // The budget is per `run`, so a long scenario of many short runs is fine.
    this.budgetStart = this.steps;
    const end = this.now + duration;
    this.settle(loc);
    for (;;) {
      const next = this.queue.peek();
      if (!next || next.time > end) break;
      this.queue.pop();
      this.now = next.time;
      next.fire();
      this.tick(loc);
      this.settle(loc);
    }
    this.now = end;
  }

  /** Lets every vCPU act until none can. */
  settle(loc: Loc): void {
    if (this.settlesOne) {
      // One vCPU in the run: every pass below would be one boundary of it, and the first
      // boundary where nothing happens would end the settling, so a plain loop is the same.
      // Compiled runs only, as `idle`: the tree walker keeps the passes, and the tests that
      // compare the two hold this loop to them.
      if (this.trace.enabled) this.settleOne(loc);
      else {
        if (this.settleLoop === undefined) this.settleLoop = this.generatedSettle();
        if (this.settleLoop === null) this.settleOne(loc);
        else {
          this.settleLoop(
            this,
            loc,
            this.vms[0].cpus[0],
            this.frames[0][0],
            this.spareFrames[0][0],
            this.settleHandlers,
            this.settleRuns,
          );
        }
      }
      return;
    }
    this.settlePasses(loc);
  }

  /**
   * {@link Interpreter.settleOne} generated for the program's handlers (lib/engine/codegen.ts),
   * with the compiled bodies of its handlers and their commands' runs: made at the first
   * untraced settling; null when no handler body is one the generated loop runs.
   */
  settleLoop: SettleLoop | null | undefined = undefined;
  settleHandlers: (readonly CompiledOp[])[] = [];
  settleRuns: ReturnType<typeof runsOf>[] = [];

  /** {@link Interpreter.settleLoop} for this run's program (one VM, one vCPU, compiled). */
  generatedSettle(): SettleLoop | null {
    const compiled = this.compiled!;
    // A platform whose vCPUs have no boundary method of their own (boundaryOf) settles as before.
    if (this.vms[0].cpus[0].boundary === undefined) return null;
    const handlers = this.program.handlers.filter((h) => h.vm === 0 && h.cpu === 0);
    this.settleHandlers = handlers.map((h) => compiled.block(h.body));
    this.settleRuns = this.settleHandlers.map(runsOf);
    return settleLoop(this.settleHandlers);
  }

  /**
   * {@link Interpreter.settle} in passes over every vCPU: apart, so that
   * `settle` stays small enough for V8 to inline where the one-vCPU loop runs.
   */
  settlePasses(loc: Loc): void {
    const vms = this.vms;
    // Anything may have happened since the last settling (statements, timers): every vCPU is
    // visited at least once.
    this.wakeAll();
    const skipIdle = this.compiled !== null;
    for (;;) {
      let progressed = false;
      for (let v = 0; v < vms.length; v++) {
        const cpus = vms[v].cpus, frames = this.frames[v], idle = this.idle[v];
        for (let c = 0; c < cpus.length; c++) {
          if (idle[c]) continue;
          const cpu = cpus[c];
          this.stepMayWakeOthers = false;
          if (this.stepCpu(v, c, cpu, frames[c])) {
            progressed = true;
            if (this.stepMayWakeOthers) this.wakeAll();
            this.tick(loc);
            this.afterStep();
          } else if (skipIdle && cpu.ownBoundaries === true) {
            // Asked again, it would answer the same until a take or a handler statement.
            idle[c] = true;
          }
        }
      }
      if (!progressed) return;
    }
  }

  /** Every vCPU is to be visited at the next pass (see {@link Interpreter.idle}). */
  wakeAll(): void {
    const idle = this.idle;
    for (let v = 0; v < idle.length; v++) {
      const cpus = idle[v];
      for (let c = 0; c < cpus.length; c++) cpus[c] = false;
    }
  }

  /** One instruction boundary of one vCPU; returns whether anything happened. */
  stepCpu(v: number, c: number, cpu: CpuModel, frames: Frame[]): boolean {
    const b = cpu.boundary !== undefined ? cpu.boundary() : boundaryOf(cpu);
    if (typeof b !== "number") {
      // An acknowledge may change what others see (the 8259's INTR after an ExtINT).
      this.stepMayWakeOthers = true;
      this.take(v, c, cpu, frames, b);
      return true;
    }
    if (b !== BOUNDARY_RUNNING) {
      // A reset (x86 INIT) abandons the handlers the vCPU was in.
      if (b === BOUNDARY_RESET) {
        while (frames.length) this.leave(frames, this.spareFrames[v][c]);
      }
      // A halted vCPU executes nothing, handler code included, until something wakes it.
      return b !== BOUNDARY_HALTED;
    }
    // Not `frames[frames.length - 1]`: index -1 of an empty array is a named-property lookup
    // through the prototype chain, the slowest thing an idle boundary would do.
    if (frames.length !== 0) {
      // A handler statement may act on anything (an IPI, a port of the 8259, a hypercall).
      if (this.handlerStep(cpu, frames, this.spareFrames[v][c])) this.stepMayWakeOthers = true;
      return true;
    }
    // Inside `run vcpuN { }` the vCPU executes the block's instructions only.
    if (v === this.windowVm && c === this.windowCpu) return false;
    // The vCPU is running guest code we do not model: one instruction retires.
    return cpu.retire();
  }

  /**
   * The take `taken` of vCPU `c` of VM `v`, at one of its boundaries: recorded,
   * and its handler entered (or, with none, returned from at once).
   */
  take(v: number, c: number, cpu: CpuModel, frames: Frame[], taken: Taken): void {
    this.history.record(v, c, taken.kind, taken.vector, this.now, taken.event);
    if (this.compiled === null) {
      this.takeWalked(v, c, cpu, frames, taken);
      return;
    }
    const handler = this.compiled.handlerFor(this, v, c, taken);
    if (handler !== null) {
      this.enter(frames, this.spareFrames[v][c], handler.decl, taken, handler.steps, handler.binds);
    } else cpu.returnFromInterrupt();
  }

  /** {@link Interpreter.take}'s handler, found by walking the program's handlers. */
  takeWalked(v: number, c: number, cpu: CpuModel, frames: Frame[], taken: Taken): void {
    const handler = this.findHandler(v, c, taken);
    if (handler) this.enter(frames, this.spareFrames[v][c], handler, taken, null, true);
    else cpu.returnFromInterrupt();
  }

  /**
   * One boundary of a vCPU inside a handler (`frames` not empty): the next
   * statement of the innermost body, or its end (IRET). Returns whether a
   * statement ran.
   */
  handlerStep(cpu: CpuModel, frames: Frame[], spare: Frame[]): boolean {
    const top = frames[frames.length - 1];
    if (top.pc >= top.ops.length) {
      this.leave(frames, spare);
      cpu.returnFromInterrupt();
      cpu.retire();
      return false;
    }
    this.restartable = cpu;
    if (top.bindsNeeded || this.invariantsReadVariables) this.boundStep(frames, top);
    else if (top.steps !== null) perform(this, top.steps[top.pc++]);
    else this.exec(top.ops[top.pc++]);
    this.restartable = null;
    if (cpu.faulted === true) this.restartAfterFault(cpu, top);
    return true;
  }

  /**
   * {@link Interpreter.handlerStep}'s statement with the handler variables
   * bound around it; apart, so that the common step stays small enough to inline.
   */
  boundStep(frames: Frame[], top: Frame): void {
    const hid = this.bind(frames);
    try {
      if (top.steps !== null) perform(this, top.steps[top.pc++]);
      else this.exec(top.ops[top.pc++]);
    } finally {
      this.unbind(hid);
    }
  }

  /**
   * The handler statement just executed faulted ({@link CpuModel.faulted}):
   * it runs again when the handler the next boundary enters returns. An
   * `if` or loop runs whole in one step, so executing it again would redo
   * what came before the fault: that is an input error.
   */
  restartAfterFault(cpu: CpuModel, top: Frame): void {
    cpu.faulted = false;
    const op = top.ops[--top.pc];
    if (op.op !== "do") {
      this.inputError(
        op.loc,
        "an instruction in this block raised a fault, after whose handler it executes " +
          "again: write it directly in the handler, not in a block",
      );
    }
  }

  /**
   * {@link Interpreter.settle} of a compiled run with one vCPU: its
   * boundaries one after another until one where nothing happens, each
   * followed by the budget and the invariants as {@link Interpreter.tick}
   * and {@link Interpreter.afterStep} check them. {@link Interpreter.stepCpu}
   * and the passes are the same with one vCPU; this is them fused into one
   * loop the JIT compiles whole (the 1M-MSI bench's settling is most of its
   * engine time).
   */
  settleOne(loc: Loc): void {
    const cpu = this.vms[0].cpus[0], frames = this.frames[0][0], spare = this.spareFrames[0][0];
    const traced = this.trace.enabled, own = cpu.boundary !== undefined;
    for (;;) {
      const b = own ? cpu.boundary!() : boundaryOf(cpu);
      if (typeof b !== "number") this.take(0, 0, cpu, frames, b);
      else if (b !== BOUNDARY_RUNNING) {
        // A reset (x86 INIT) abandons the handlers the vCPU was in.
        if (b === BOUNDARY_RESET) { while (frames.length) this.leave(frames, spare); }
        if (b === BOUNDARY_HALTED) return;
      } else if (frames.length !== 0) this.handlerStep(cpu, frames, spare);
      // Inside `run vcpuN { }` the vCPU executes the block's instructions only.
      else if (this.windowVm >= 0 || !cpu.retire()) return;
      // tick(), without its call where nothing is traced and the budget holds.
      if (traced || this.steps + 1 - this.budgetStart > this.maxSteps) this.tick(loc);
      else this.steps++;
      if (this.invariants.length !== 0) this.afterStep();
    }
  }

  /**
   * Starts a handler body on a vCPU's `frames`, binding what was taken
   * (`$vector`). The values live in the frame, not in the run's variables:
   * two vCPUs' handlers run interleaved, and each body must see its own. The
   * frame is one of the vCPU's `spare` ones, that ended before, when there
   * is one. The vCPU's arrays are passed, not looked up by index here: two
   * lookups fewer per take (~3% of a round trip).
   */
  enter(
    frames: Frame[],
    spare: Frame[],
    h: HandlerDecl,
    taken: Taken,
    steps: readonly CompiledOp[] | null,
    bindsNeeded: boolean,
  ): void {
    const vector = taken.vector, ack = taken.ack ?? vector;
    const f = spare.pop() ??
      { ops: h.body, steps, pc: 0, binds: h.binds, vector, ack, bindsNeeded };
    f.ops = h.body;
    f.steps = steps;
    f.pc = 0;
    f.binds = h.binds;
    f.vector = vector;
    f.ack = ack;
    f.bindsNeeded = bindsNeeded;
    frames.push(f);
  }

  /** Ends the innermost handler body on a vCPU's `frames`, keeping the frame in its `spare`. */
  leave(frames: Frame[], spare: Frame[]): void {
    const f = frames.pop();
    if (f !== undefined) spare.push(f);
  }

  /**
   * Binds the handler variables of one vCPU's handler stack (a nested
   * handler's hide the outer one's) for one step of its innermost body;
   * returns the depth of the hidden stack to restore to, for
   * {@link Interpreter.unbind}.
   */
  bind(frames: readonly Frame[]): number {
    const depth = this.hiddenDepth, names = this.hiddenNames, values = this.hiddenValues;
    let d = depth;
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      for (let i = 0; i < f.binds.length; i++) {
        const name = f.binds[i].name;
        names[d] = name;
        values[d++] = this.env.get(name);
        this.env.set(name, f.binds[i].from === "ack" ? f.ack : f.vector);
      }
    }
    this.hiddenDepth = d;
    return depth;
  }

  /** Restores what {@link Interpreter.bind} hid, innermost first, down to `depth`. */
  unbind(depth: number): void {
    const names = this.hiddenNames, values = this.hiddenValues;
    for (let d = this.hiddenDepth - 1; d >= depth; d--) {
      const v = values[d];
      // Nothing kept alive above the depth.
      values[d] = undefined;
      if (v === undefined) this.env.delete(names[d]);
      else this.env.set(names[d], v);
    }
    this.hiddenDepth = depth;
  }

  /** The first handler declared for what was taken. */
  findHandler(v: number, c: number, taken: Taken): HandlerDecl | undefined {
    const platform = this.program.vms[v].platform;
    return this.program.handlers.find((h) =>
      h.vm === v && h.cpu === c && platform.handlerMatches(h.event, h.values, taken)
    );
  }

  /**
   * Loop iterations and range elements, never reset: `run` restarts the
   * settling budget, so a loop around `run` needs a budget of its own.
   */
  work = 0;

  /** `what` names the statement at `loc` that spends it: `repeat`, `for` or `range`. */
  charge(loc: Loc, amount: number, what: "repeat" | "for" | "range"): void {
    this.work += amount;
    if (this.work > this.maxSteps * WORK_FACTOR) this.workExhausted(loc, what);
  }

  /** {@link Interpreter.charge}'s error, apart so that `charge` stays small enough to inline. */
  workExhausted(loc: Loc, what: "repeat" | "for" | "range"): never {
    throw new ScnError({
      kind: "budget",
      message: `work budget exhausted at this ${what === "range" ? "range" : `'${what}'`}: ` +
        `loops and ranges went past ${this.maxSteps * WORK_FACTOR} iterations in all`,
      loc,
      hint: `a ${what} this large is probably a mistake; --max-steps raises every budget`,
      notes: this.lastEvents(),
    });
  }

  /**
   * One step against the budget of the statement at `loc`: a `run` (or
   * `run vcpuN { }`) settling, or an iteration of a `repeat` or `for` since
   * the last `run`.
   */
  tick(loc: Loc, what: "run" | "repeat" | "for" = "run"): void {
    // A traced run keeps every event; a large --max-steps must not let it take the machine's memory.
    // The errors are built apart, so that this stays small enough for V8 to inline.
    if (this.trace.events.length > MAX_TRACE_EVENTS) this.traceExhausted(loc);
    if (++this.steps - this.budgetStart > this.maxSteps) this.stepsExhausted(loc, what);
  }

  /** {@link Interpreter.tick}'s error when the trace holds too many events. */
  traceExhausted(loc: Loc): never {
    throw new ScnError({
      kind: "budget",
      message: `trace budget exhausted: more than ${MAX_TRACE_EVENTS} events recorded`,
      loc,
      hint: "every event of a traced run is kept (--trace, --json, --timeline=all, and the " +
        "replay that explains a failure): lower --max-steps",
    });
  }

  /** {@link Interpreter.tick}'s error when the step budget is spent. */
  stepsExhausted(loc: Loc, what: "run" | "repeat" | "for"): never {
    const settling = what === "run";
    const run = this.windowVm < 0
      ? "run"
      : `run ${this.vms[this.windowVm].cpus[this.windowCpu].name} { }`;
    throw new ScnError({
      kind: "budget",
      message: settling
        ? `step budget exhausted: this '${run}' did not settle within ${this.maxSteps} steps`
        : `step budget exhausted: this '${what}' went past ${this.maxSteps} steps since the last 'run'`,
      loc,
      hint: settling
        ? "something re-triggers forever (a level line never lowered, a handler that re-raises; the last events show which); --max-steps raises the budget if it is meant to run this long"
        : `a ${what} this long is probably a mistake; --max-steps raises the budget`,
      notes: this.lastEvents(),
    });
  }

  /** The last trace events, as lines for a budget error (none when the trace is off). */
  lastEvents(): string[] | undefined {
    const events = this.trace.events;
    if (!this.trace.enabled || events.length === 0) return undefined;
    const last = events.slice(-BUDGET_EVENTS);
    return [
      `the last ${last.length} of ${events.length} trace events:`,
      ...last.map((e) => `  ${formatEvent(e)}`),
    ];
  }

  /**
   * Ends an iteration of a `repeat` or `for` (pushed as two numbers). Two
   * pops, not `length -= 2`: V8 gives an array's storage back when its
   * length is set lower, so the next iteration's push would allocate again.
   */
  leaveLoop(): void {
    this.loops.pop();
    this.loops.pop();
  }

  afterStep(): void {
    const invariants = this.invariants;
    for (let i = 0; i < invariants.length; i++) {
      if (!invariants[i].failed) this.checkInvariant(invariants[i]);
    }
  }

  // ---- expectations ---------------------------------------------------------------

  checkInvariant(inv: Invariant): void {
    if (!this.expect(inv.op.cond, inv.op.text, inv.op.loc, "always")) inv.failed = true;
  }

  expect(cond: Cond, text: string, loc: Loc, kind: "expect" | "always"): boolean {
    if (this.cond(cond)) return true;
    const { expected, actual, events } = this.explain(cond);
    const after = this.trace.events.length;
    this.failures.push({ kind, loc, text, expected, actual, events, time: this.now, after });
    return false;
  }

  cond(c: Cond): boolean {
    switch (c.c) {
      case "and":
        return this.cond(c.left) && this.cond(c.right);
      case "or":
        return this.cond(c.left) || this.cond(c.right);
      case "not":
        return !this.cond(c.operand);
      case "truthy":
        return truthy(this.eval(c.expr));
      case "cmp": {
        const l = this.eval(c.left), r = this.eval(c.right);
        if (c.op === "==") return valEquals(l, r);
        if (c.op === "!=") return !valEquals(l, r);
        const o = valCompare(l, r);
        if (o === undefined) {
          this.inputError(
            c.loc,
            `'${c.op}' compares numbers, not ${formatVal(l)} and ${formatVal(r)}`,
          );
        }
        return c.op === "<" ? o < 0 : c.op === "<=" ? o <= 0 : c.op === ">" ? o > 0 : o >= 0;
      }
      case "took":
        return this.tookHolds(c);
      case "select":
        return this.cond(c.variants[this.vcpuIndex(c)]);
    }
  }

  tookBy(c: Cond & { c: "took" }): TookRecord[] {
    const vm = this.vms[c.vm].name;
    return this.history.records.filter((t) => t.vm === vm && t.cpu === c.cpuName);
  }

  tookHolds(c: Cond & { c: "took" }): boolean {
    const h = this.history;
    if (c.nothing) return h.total(c.vm, c.cpu) === 0;
    const wanted = c.values.map((v) => this.eval(v));
    const count = c.count ? this.eval(c.count) : null;
    for (const w of wanted) {
      const n = h.count(c.vm, c.cpu, w);
      if (count === null ? n === 0 : !valEquals(n, count)) return false;
    }
    return c.inOrder ? h.inOrder(c, wanted) : true;
  }

  explain(c: Cond): { expected: string; actual: string; events: TraceEvent[] } {
    switch (c.c) {
      case "cmp": {
        const l = this.eval(c.left);
        const r = this.eval(c.right);
        return {
          /** What should have held, as scenarios write values. */
          expected: `${c.op} ${formatVal(r)}`,
          /** What the model showed instead. */
          actual: formatVal(l),
          events: this.recentFor(c.left),
        };
      }
      case "truthy":
        return {
          /** What should have held, as scenarios write values. */
          expected: "true (non-zero)",
          /** What the model showed instead. */
          actual: formatVal(this.eval(c.expr)),
          events: this.recentFor(c.expr),
        };
      case "took": {
        const records = this.tookBy(c);
        const expected = c.nothing ? "nothing" : [
          c.values.map((v) => {
            const w = this.eval(v);
            return typeof w === "string" ? w : formatVal(w);
          }).join(", "),
          c.count ? `${formatVal(this.eval(c.count))} time(s)` : "",
          c.inOrder ? "in order" : "",
        ].filter(Boolean).join(" ");
        const actual = !this.history.full
          ? this.history.summary(c.vm, c.cpu)
          : records.length === 0
          ? "nothing"
          : records.map((r) =>
            r.kind === "vector"
              ? formatVal(r.vector)
              : r.vector < 0
              ? r.kind
              : `${formatVal(r.vector)} (${r.kind})`
          ).join(", ");
        // The chains of the last few takes say why; a storm's whole history would not.
        const events = records.length
          ? records.slice(-MAX_EXPLAINED_TAKES).flatMap((r) => this.trace.chain(r.event))
          : this.trace.events.slice(-6);
        return { expected, actual: clip(actual), events: dedupe(events) };
      }
      case "and":
      case "or":
      case "not": {
        // Each operand with what it read, and the events of those that broke it.
        const parts: string[] = [];
        const events: TraceEvent[] = [];
        this.operands(c, parts, events);
        const expected = c.c === "and"
          ? "every operand to hold"
          : c.c === "or"
          ? "at least one operand to hold"
          : "the operand not to hold";
        return { expected, actual: clip(parts.join("; ")), events: dedupe(events) };
      }
      case "select":
        return this.explain(c.variants[this.vcpuIndex(c)]);
    }
  }

  /**
   * The operands of a failed `and`/`or`/`not`, each as `text: holds|fails
   * (what it read)`; a chain of one operator is one list. Adds the events
   * of the operands that made the whole fail.
   */
  operands(c: Cond, parts: string[], events: TraceEvent[]): void {
    if (c.c === "not") {
      const inner = this.cond(c.operand);
      parts.push(`not: ${this.operandText(c.operand, inner)}`);
      if (inner) events.push(...this.explain(c.operand).events);
      return;
    }
    if (c.c !== "and" && c.c !== "or") return;
    const leaves: Cond[] = [];
    const stack: Cond[] = [c];
    while (stack.length) {
      const x = stack.pop()!;
      if (x.c === c.c) stack.push(x.right, x.left);
      else leaves.push(x);
    }
    for (const leaf of leaves) {
      const holds = this.cond(leaf);
      parts.push(this.operandText(leaf, holds));
      if (!holds) events.push(...this.explain(leaf).events);
    }
  }

  /** One operand as it reads in a report: `$x == 1 fails ($x is 5)`. */
  operandText(c: Cond, holds: boolean): string {
    const verdict = `${this.sourceOf(c.loc)} ${holds ? "holds" : "fails"}`;
    switch (c.c) {
      case "cmp": {
        const shown = [`${this.sourceOf(c.left.loc)} is ${formatVal(this.eval(c.left))}`];
        if (!isConstant(c.right)) {
          shown.push(`${this.sourceOf(c.right.loc)} is ${formatVal(this.eval(c.right))}`);
        }
        return `${verdict} (${shown.join(", ")})`;
      }
      case "truthy":
        return `${verdict} (${formatVal(this.eval(c.expr))})`;
      case "took":
        return `${verdict} (${c.cpuName} took ${this.explain(c).actual})`;
      case "select":
        return this.operandText(c.variants[this.vcpuIndex(c)], holds);
      default: {
        const inner: string[] = [];
        this.operands(c, inner, []);
        return `${verdict} (${inner.join("; ")})`;
      }
    }
  }

  /** The source text of a location, as the author wrote it. */
  sourceOf(loc: Loc): string {
    const text = this.program.sources.get(loc.source);
    return text === undefined ? "?" : text.slice(loc.start.offset, loc.end.offset);
  }

  /**
   * The last few trace events about what an expression reads: events of
   * its device (`vcpu0`, `lapic0`, `ioapic`) or naming its field
   * (`evtchn_upcall_pending`, written by Xen), with the cause chain of the
   * latest, which is usually the write that left the value.
   */
  recentFor(e: Expr): TraceEvent[] {
    const events = this.trace.events;
    if (e.e !== "state") return events.slice(-6);
    const segments = e.spec.pattern.split(".");
    const head = segments[0];
    // A vCPU numbered at run time (`vcpu[$i]`) was read just now: its index reads the same.
    const idx = e.indexes[0] === undefined
      ? undefined
      : e.indexes[0].e === "lit"
      ? e.indexes[0].value
      : this.eval(e.indexes[0]);
    const sources = head === "vcpu#" ? [`vcpu${idx}`, `lapic${idx}`] : [head];
    // Field names short enough to be common words (`if`, `isr`) would match too much.
    const leaf = segments[segments.length - 1].replace(/\[#\]$/, "");
    const named = leaf.length >= 8 ? leaf : null;
    const related = events.filter((ev) =>
      sources.includes(ev.source) || (named !== null && ev.text.includes(named))
    );
    if (!related.length) return events.slice(-6);
    const last = related.slice(-6);
    return dedupe([...last, ...this.trace.chain(last[last.length - 1].id)]);
  }

  // ---- values ------------------------------------------------------------------------

  eval(e: Expr): Val {
    switch (e.e) {
      case "lit":
        return e.value;
      case "var": {
        const v = this.env.get(e.name);
        if (v === undefined) this.inputError(e.loc, `'$${e.name}' has no value yet at this point`);
        return v;
      }
      case "neg": {
        const v = this.eval(e.operand);
        if (typeof v === "number") return -v;
        if (typeof v === "bigint") return -v;
        this.inputError(e.loc, `cannot negate ${formatVal(v)}`);
        break;
      }
      case "op": {
        const args = e.args;
        const r = args.length === 2
          ? applyBinaryOp(e.op, this.eval(args[0]), this.eval(args[1]))
          : applyOp(e.op, args.map((x) => this.eval(x)));
        if (typeof r === "string") this.inputError(e.loc, r);
        return r;
      }
      case "set":
        return [...new Set(this.items(e.items))].sort(compareInts);
      case "list":
        return this.items(e.items);
      case "range": {
        const a = this.element(e.from), b = this.element(e.to);
        const n = BigInt(b) - BigInt(a) + 1n;
        if (n > 100_001n) this.inputError(e.loc, "range too large (more than 100000 values)");
        if (n > 0n) this.charge(e.loc, Number(n), "range");
        const out: Int[] = [];
        // Ends past 2^53 count in bigints; each element is stored in its canonical form.
        if (typeof a === "number" && typeof b === "number") {
          for (let i = a; i <= b; i++) out.push(i);
        } else for (let i = BigInt(a); i <= BigInt(b); i++) out.push(toInt(i));
        return out;
      }
      case "state": {
        const vm = this.vms[e.vm];
        const indexes = e.indexes.map((x) => this.int(x));
        const bounds = e.spec.bounds?.(vm) ?? [];
        indexes.forEach((n, i) => {
          if (bounds[i] === 0) {
            this.inputError(e.loc, `'${e.text}' does not exist in vm '${vm.name}'`);
          }
          if (bounds[i] !== undefined && (n < 0 || n >= bounds[i])) {
            this.inputError(e.loc, `index ${n} is out of range 0..${bounds[i] - 1} in '${e.text}'`);
          }
        });
        return e.spec.get(vm, indexes);
      }
      case "query":
        return this.call(e.call) ?? 0;
      case "cond":
        return this.cond(e.cond) ? 1 : 0;
    }
    return 0;
  }

  /** The elements of a set or list; a range among them stands for its elements. */
  items(exprs: readonly Expr[]): Int[] {
    const out: Int[] = [];
    for (const x of exprs) {
      if (x.e === "range") out.push(...(this.eval(x) as readonly Int[]));
      else out.push(this.element(x));
    }
    return out;
  }

  /** A set or list element or a range end: any integer, exact past 2^53. */
  element(e: Expr): Int {
    const v = this.eval(e);
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (typeof v === "bigint") return toInt(v);
    this.inputError(e.loc, `expected a number here, not ${formatVal(v)}`);
  }

  int(e: Expr): number {
    const v = this.eval(e);
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (
      typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) &&
      v >= BigInt(Number.MIN_SAFE_INTEGER)
    ) return Number(v);
    if (typeof v === "bigint") {
      // Indexes and counts: no table or loop reaches 2^53 entries.
      this.inputError(
        e.loc,
        `${formatVal(v)} is too large here: indexes and counts go up to 2^53 - 1`,
      );
    }
    this.inputError(e.loc, `expected a number here, not ${formatVal(v)}`);
  }

  inputError(loc: Loc, message: string): never {
    throw new ScnError({ kind: "check", message, loc });
  }
}

/** Whether a parallel block has a step on a vCPU numbered at run time (`vcpu[$i]: ...`). */
function hasSelect(op: ParallelOp): boolean {
  for (const child of op.body) if (child.op === "select") return true;
  return false;
}

/** The vCPU (`vm:cpu`) a parallel block's step is an instruction of, or null. */
function vcpuOfChild(op: Op): string | null {
  if (op.op === "do") return op.call.cpu >= 0 ? `${op.call.vm}:${op.call.cpu}` : null;
  if (op.op === "if") {
    for (const o of [...op.then, ...op.else]) {
      const v = vcpuOfChild(o);
      if (v !== null) return v;
    }
  }
  return null;
}

/**
 * Whether a window's statement holds an instruction of vCPU `cpu` of VM
 * `vm` inside it: a `repeat`, `for` or `if` whose blocks do. (A `vcpu[$i]`
 * statement cannot stand in a window: the checker refuses it.)
 */
function holdsInstructionOf(op: Op, vm: number, cpu: number): boolean {
  switch (op.op) {
    case "repeat":
    case "for":
      return blockHoldsInstructionOf(op.body, vm, cpu);
    case "if":
      return blockHoldsInstructionOf(op.then, vm, cpu) || blockHoldsInstructionOf(op.else, vm, cpu);
    default:
      return false;
  }
}

function blockHoldsInstructionOf(ops: readonly Op[], vm: number, cpu: number): boolean {
  for (const o of ops) {
    if (isInstructionOf(o, vm, cpu) || holdsInstructionOf(o, vm, cpu)) return true;
  }
  return false;
}

/**
 * Whether an op is an instruction of vCPU `cpu` of VM `vm`: a command of its
 * own, or an `if` that tests a query it makes (`if bit ...` reads memory).
 */
function isInstructionOf(op: Op, vm: number, cpu: number): boolean {
  if (op.op === "do") return op.call.vm === vm && op.call.cpu === cpu;
  return op.op === "if" && queriesOf(op.cond, vm, cpu);
}

function queriesOf(c: Cond, vm: number, cpu: number): boolean {
  switch (c.c) {
    case "and":
    case "or":
      return queriesOf(c.left, vm, cpu) || queriesOf(c.right, vm, cpu);
    case "not":
      return queriesOf(c.operand, vm, cpu);
    case "truthy":
      return isQueryOf(c.expr, vm, cpu);
    case "cmp":
      return isQueryOf(c.left, vm, cpu) || isQueryOf(c.right, vm, cpu);
    case "took":
    case "select":
      return false;
  }
}

function isQueryOf(e: Expr, vm: number, cpu: number): boolean {
  return e.e === "query" && e.call.vm === vm && e.call.cpu === cpu;
}

/** Whether an expression is written with literals only (`{}`, `0x41 + 1`): nothing to show. */
function isConstant(e: Expr): boolean {
  switch (e.e) {
    case "lit":
      return true;
    case "neg":
      return isConstant(e.operand);
    case "op":
      return e.args.every(isConstant);
    case "set":
    case "list":
      return e.items.every(isConstant);
    case "range":
      return isConstant(e.from) && isConstant(e.to);
    default:
      return false;
  }
}

const ALWAYS_READS_VARIABLES = new WeakMap<Op, boolean>();

/** Whether an `always` names a variable (found once per statement, for every run of it). */
function alwaysReadsVariables(op: Op): boolean {
  let r = ALWAYS_READS_VARIABLES.get(op);
  if (r === undefined) ALWAYS_READS_VARIABLES.set(op, r = readsVariables(op));
  return r;
}

/** How many trace events a budget error shows. */
const BUDGET_EVENTS = 12;

/** Events a traced run may keep (about 2 KB of memory each at most, strings included). */
export const MAX_TRACE_EVENTS = 2_000_000;

/** How many takes a failed `took` expectation shows the cause chains of. */
const MAX_EXPLAINED_TAKES = 4;

/** Long actual values (a storm's took list) are cut, saying how much was left out. */
function clip(text: string, max = 400): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

function dedupe(events: TraceEvent[]): TraceEvent[] {
  const seen = new Set<number>();
  return events.filter((e) => !seen.has(e.id) && seen.add(e.id)).sort((a, b) => a.id - b.id);
}
