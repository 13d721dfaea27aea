/**
 * The checked program compiled to closures, so that what a scenario runs a
 * million times (a command in a `repeat`, a handler's `eoi`, the choice of
 * handler for a take) costs a call, not a walk of the tree: no switch on the
 * op's kind, no arguments object built again when every argument is a
 * literal, no search of the handler list for a vector already seen.
 *
 * The interpreter stays the reference. What is compiled calls back into it
 * for everything that has meaning (performing a command, settling, checking
 * an expectation), so both run the same code where it matters; an op kind
 * the compiler does not know runs through `exec` as before
 * ({@link INTERPRETED_OPS} lists them, and a test holds the list to what
 * {@link Compiled} does). `compile: false` in `RunOptions` runs the tree
 * alone; the tests run the scenario library and fuzzed programs both ways
 * and require the same results, trace and history included.
 *
 * @module
 */
import type { Call, HandlerDecl, Op, Program } from "../../dsl/program.ts";
import type { Args, Val } from "../core/table.ts";
import type { Taken, VmModel } from "../core/platform.ts";
import type { Loc } from "../../dsl/ast.ts";

/** One compiled statement as a function of the machine (see {@link perform} for the hot paths). */
export type Step = (m: Machine) => void;

/** How {@link perform} runs a {@link CompiledOp}. */
const DO = 0, SETTLE = 1, REPEAT = 2, EXEC = 3;

/**
 * One compiled statement, as data: what {@link perform} needs to run it.
 * Data rather than a closure per statement so that the loops running
 * statements (a block, a `repeat`'s body, a handler's frame) call the
 * machine's methods from one site each, which V8 sees monomorphic and
 * inlines; one call site over many different closures is megamorphic.
 */
export class CompiledOp {
  /**
   * The arguments when every one is a literal: they evaluate to the same
   * object every time, built when first run (so that an error in one comes
   * when it did). Registers and entry blocks hand the model structures it
   * may keep; those are built afresh.
   */
  args: Args | null = null;
  /** A `repeat`'s body, compiled when first run. */
  body: CompiledOp[] | null = null;
  /** {@link DO}, {@link SETTLE}, {@link REPEAT} or {@link EXEC}. */
  readonly kind: number;
  /** For `do`: whether its arguments are all literals (see `args`). */
  readonly constant: boolean;

  constructor(readonly op: Op, readonly owner: Compiled) {
    switch (op.op) {
      case "do": {
        const c = op.call;
        this.kind = DO;
        this.constant = c.register === undefined && c.entries === undefined &&
          c.args.every((a) => a.expr.e === "lit");
        return;
      }
      case "run":
        this.kind = op.duration === null ? SETTLE : EXEC;
        break;
      case "repeat":
        this.kind = REPEAT;
        break;
      default:
        this.kind = EXEC;
    }
    this.constant = false;
  }
}

/** Runs one compiled statement on a machine. */
export function perform(m: Machine, s: CompiledOp): void {
  const op = s.op;
  switch (s.kind) {
    case DO: {
      const c = (op as Extract<Op, { op: "do" }>).call;
      const a = s.constant ? (s.args ??= m.args(c)) : m.args(c);
      const result = m.callWith(c, a);
      const bind = (op as Extract<Op, { op: "do" }>).bind;
      if (bind !== null) m.env.set(bind, result ?? 0);
      m.afterStep();
      return;
    }
    case SETTLE:
      m.runFor(0, op.loc);
      return;
    case REPEAT: {
      const r = op as Extract<Op, { op: "repeat" }>;
      m.repeat(r, s.body ??= s.owner.block(r.body));
      return;
    }
    default:
      m.exec(op);
  }
}

/** What compiled code calls back into: the interpreter. */
export interface Machine {
  readonly vms: readonly VmModel[];
  readonly env: Map<string, Val>;
  /** Runs one statement as the tree walker does (the fallback). */
  exec(op: Op): void;
  /** The arguments of a call, evaluated now. */
  args(c: Call): Args;
  /** Performs a command with these arguments; vCPU commands retire. */
  callWith(c: Call, args: Args): Val | void;
  /** Checks the invariants after a step. */
  afterStep(): void;
  /** `run` / `run DURATION`. */
  runFor(duration: number, loc: Loc): void;
  /** `repeat N { }` with its body compiled. */
  repeat(op: Extract<Op, { op: "repeat" }>, body: readonly CompiledOp[]): void;
  /** The handler for a take, searched in declaration order. */
  findHandler(v: number, c: number, taken: Taken): HandlerDecl | undefined;
}

/** Op kinds the compiler runs without the interpreter's `exec`. */
export const COMPILED_OPS: readonly Op["op"][] = ["do", "run", "repeat"];

/**
 * Op kinds that run through the interpreter's `exec`. Bodies that it runs
 * as blocks (an `if`'s branches, a `for`'s body) are compiled blocks again,
 * so a loop of commands still runs compiled commands; a `window`'s body runs
 * statement by statement through `exec`, between instruction boundaries.
 */
export const INTERPRETED_OPS: readonly Op["op"][] = [
  "if",
  "expect",
  "always",
  "let",
  "for",
  "parallel",
  "window",
];

/**
 * A handler as a compiled run enters it: its declaration, its body's steps,
 * and whether a step of its body needs the handler's variables bound
 * ({@link Compiled.handlerFor}).
 */
export interface CompiledHandler {
  /** The declaration. */
  readonly decl: HandlerDecl;
  /** Its body's steps, one per op. */
  readonly steps: readonly CompiledOp[];
  /**
   * Whether a step of the body can read a variable or write one (a
   * variable, `let`, `for`, binding `do`, `parallel` or `window` in it). When
   * not, the run binds the handler variables (`$vector`) around a step only
   * if an `always` declared so far names a variable (invariants are checked
   * inside the step): otherwise the binding would have no effect anyone
   * could see.
   */
  readonly binds: boolean;
}

/** The handler choice of one vCPU: the last take's answer, then by kind and vector. */
interface HandlerChoice {
  kind: string;
  vector: number;
  handler: CompiledHandler | null;
  readonly byKind: Map<string, Map<number, CompiledHandler | null>>;
}

/**
 * The compiled form of a program, built lazily block by block (a block
 * never reached costs nothing) and shared by every run of the program
 * (`scn explore` runs one program thousands of times): steps take the run's
 * machine as their argument.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const interpreter: Machine, program: Program;
 * const compiled = compiledProgram(program);
 * for (const s of compiled.block(program.body)) perform(interpreter, s);
 * ```
 */
export class Compiled {
  readonly #blocks = new Map<readonly Op[], CompiledOp[]>();
  /** The block asked for last and its steps: a loop's body is asked for once per iteration. */
  #lastOps: readonly Op[] | null = null;
  #lastSteps: CompiledOp[] = [];
  /** Per VM and vCPU: which handler a take runs. */
  readonly #handlers: HandlerChoice[][];
  readonly #compiledHandlers = new Map<HandlerDecl, CompiledHandler>();

  constructor(program: Pick<Program, "vms">) {
    this.#handlers = program.vms.map((vm) =>
      Array.from({ length: vm.vcpus }, () => ({
        kind: "",
        vector: NaN,
        handler: null,
        byKind: new Map(),
      }))
    );
  }

  /** The steps of a block of statements, one per op. */
  block(ops: readonly Op[]): CompiledOp[] {
    if (ops === this.#lastOps) return this.#lastSteps;
    let steps = this.#blocks.get(ops);
    if (steps === undefined) {
      steps = ops.map((op) => new CompiledOp(op, this));
      this.#blocks.set(ops, steps);
    }
    this.#lastOps = ops;
    this.#lastSteps = steps;
    return steps;
  }

  /** One statement's step, as a function. */
  step(op: Op): Step {
    const s = new CompiledOp(op, this);
    return (m) => perform(m, s);
  }

  /**
   * The handler for a take, or null. Platforms choose handlers by the
   * take's kind and vector (`handlerMatches` of `vector`, `nmi`, `irq`
   * events), so the first answer for a kind and vector is the answer for
   * good; a vCPU taking what it took last costs two comparisons.
   */
  handlerFor(m: Machine, v: number, c: number, taken: Taken): CompiledHandler | null {
    const choice = this.#handlers[v][c];
    const kind = taken.kind, vector = taken.vector;
    if (kind === choice.kind && vector === choice.vector) return choice.handler;
    let byVector = choice.byKind.get(kind);
    if (byVector === undefined) choice.byKind.set(kind, byVector = new Map());
    let h = byVector.get(vector);
    if (h === undefined) {
      const decl = m.findHandler(v, c, taken);
      h = decl === undefined ? null : this.#compiledHandler(decl);
      byVector.set(vector, h);
    }
    choice.kind = kind;
    choice.vector = vector;
    choice.handler = h;
    return h;
  }

  #compiledHandler(decl: HandlerDecl): CompiledHandler {
    let h = this.#compiledHandlers.get(decl);
    if (h === undefined) {
      const binds = decl.binds.length !== 0 && readsVariables(decl.body);
      h = { decl, steps: this.block(decl.body), binds };
      this.#compiledHandlers.set(decl, h);
    }
    return h;
  }
}

/** Fields of program data that point into model tables or sources, not at more program. */
const NOT_PROGRAM = new Set(["spec", "platform", "param", "field", "file", "loc", "sources"]);

/**
 * Whether statements (or any program data) can read or write a variable:
 * a variable expression, a `let`, a `for`, a `do` binding its result, or a
 * `parallel` or `window` block (whose scheduler and statements see the
 * variables) anywhere inside. A walk over plain data, so that a new
 * statement or expression kind holding a variable is found without being
 * named here.
 *
 * @example
 * ```ts
 * import { type Op } from "../../dsl/program.ts";
 * declare const body: Op[];
 * readsVariables(body); // false for `{ eoi }`
 * ```
 */
export function readsVariables(x: unknown, seen: Set<object> = new Set()): boolean {
  if (x === null || typeof x !== "object" || seen.has(x)) return false;
  seen.add(x);
  if (Array.isArray(x)) return x.some((y) => readsVariables(y, seen));
  const o = x as Record<string, unknown>;
  if (o.e === "var") return true;
  if (o.op === "let" || o.op === "for" || o.op === "parallel" || o.op === "window") return true;
  if (o.op === "do" && o.bind !== null) return true;
  for (const k in o) if (!NOT_PROGRAM.has(k) && readsVariables(o[k], seen)) return true;
  return false;
}

const COMPILED = new WeakMap<Program, Compiled>();

/** The compiled form of `program`, made on first use and kept with it. */
export function compiledProgram(program: Program): Compiled {
  let c = COMPILED.get(program);
  if (c === undefined) COMPILED.set(program, c = new Compiled(program));
  return c;
}
