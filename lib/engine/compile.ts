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

/** One compiled statement, run on a machine (the run's interpreter). */
export type Step = (m: Machine) => void;

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
  /** The handler for a take, searched in declaration order. */
  findHandler(v: number, c: number, taken: Taken): HandlerDecl | undefined;
}

/** Op kinds the compiler turns into closures of their own. */
export const COMPILED_OPS: readonly Op["op"][] = ["do", "run"];

/**
 * Op kinds that run through the interpreter's `exec`. Bodies that it runs
 * as blocks (a `repeat`'s, an `if`'s branches) are compiled blocks again,
 * so a loop of commands still runs compiled commands; a `window`'s body runs
 * statement by statement through `exec`, between instruction boundaries.
 */
export const INTERPRETED_OPS: readonly Op["op"][] = [
  "if",
  "expect",
  "always",
  "let",
  "repeat",
  "for",
  "parallel",
  "window",
];

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
 * for (const step of compiled.block(program.body)) step(interpreter);
 * ```
 */
export class Compiled {
  readonly #blocks = new Map<readonly Op[], Step[]>();
  /** Per VM and vCPU: handler by take kind, then by vector (null: none). */
  readonly #handlers: Map<string, Map<number, HandlerDecl | null>>[][];

  constructor(program: Pick<Program, "vms">) {
    this.#handlers = program.vms.map((vm) => Array.from({ length: vm.vcpus }, () => new Map()));
  }

  /** The steps of a block of statements, one per op. */
  block(ops: readonly Op[]): Step[] {
    let steps = this.#blocks.get(ops);
    if (steps === undefined) {
      steps = ops.map((op) => this.step(op));
      this.#blocks.set(ops, steps);
    }
    return steps;
  }

  /** One statement's step. */
  step(op: Op): Step {
    switch (op.op) {
      case "do": {
        const c = op.call;
        const bind = op.bind;
        // Literal arguments evaluate to the same object every time: build it once, when first
        // run (so an error in it comes when it did). Registers and entry blocks hand the model
        // structures it may keep; those are built afresh.
        const constant = c.register === undefined && c.entries === undefined &&
          c.args.every((a) => a.expr.e === "lit");
        let args: Args | null = null;
        return (m) => {
          const a = constant ? (args ??= m.args(c)) : m.args(c);
          const result = m.callWith(c, a);
          if (bind !== null) m.env.set(bind, result ?? 0);
          m.afterStep();
        };
      }
      case "run":
        if (op.duration === null) {
          const loc = op.loc;
          return (m) => m.runFor(0, loc);
        }
        return (m) => m.exec(op);
      default:
        return (m) => m.exec(op);
    }
  }

  /**
   * The handler for a take. Platforms choose handlers by the take's kind and
   * vector (`handlerMatches` of `vector`, `nmi`, `irq` events), so the first
   * answer for a kind and vector is the answer for good.
   */
  handlerFor(m: Machine, v: number, c: number, taken: Taken): HandlerDecl | undefined {
    const byKind = this.#handlers[v][c];
    let byVector = byKind.get(taken.kind);
    if (byVector === undefined) byKind.set(taken.kind, byVector = new Map());
    let h = byVector.get(taken.vector);
    if (h === undefined) {
      h = m.findHandler(v, c, taken) ?? null;
      byVector.set(taken.vector, h);
    }
    return h ?? undefined;
  }
}

const COMPILED = new WeakMap<Program, Compiled>();

/** The compiled form of `program`, made on first use and kept with it. */
export function compiledProgram(program: Program): Compiled {
  let c = COMPILED.get(program);
  if (c === undefined) COMPILED.set(program, c = new Compiled(program));
  return c;
}
