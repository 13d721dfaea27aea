/**
 * The checked program compiled to closures, so that what a scenario runs a
 * million times (a command in a `repeat`, a handler's `eoi`, the choice of
 * handler for a take, a loop's `let $a = 0x1000 + 8 * $i`) costs a call,
 * not a walk of the tree: no switch on the op's kind, no arguments object
 * built again when every argument is a literal (and one copied from a
 * template when some are not), expressions and conditions as closures, no
 * search of the handler list for a vector already seen.
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
import type { Call, Cond, Expr, HandlerDecl, Op, Program } from "../../dsl/program.ts";
import type { Args, CommandSpec, ParamType, RegisterAccess, Val } from "../core/table.ts";
import type { Taken, VmModel } from "../core/platform.ts";
import type { Loc } from "../../dsl/ast.ts";
import { applyBinaryOp, applyOp } from "../core/u64.ts";
import { coerce, formatVal, truthy, valCompare, valEquals } from "../core/values.ts";

/** One compiled statement as a function of the machine (see {@link perform} for the hot paths). */
export type Step = (m: Machine) => void;

/** How {@link perform} runs a {@link CompiledOp}. */
const DO = 0, SETTLE = 1, REPEAT = 2, EXEC = 3, LET = 4, IF = 5, EXPECT = 6, FOR = 7;

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
  /** {@link DO}, {@link SETTLE}, {@link REPEAT}, {@link FOR}, {@link LET}, {@link IF}, {@link EXPECT} or {@link EXEC}. */
  readonly kind: number;
  /** For `do`: whether its arguments are all literals (see `args`). */
  readonly constant: boolean;
  /**
   * For `do`: its command's `run`, read once here ({@link Compiled.runOf}). The calls' `spec`
   * objects have as many shapes as there are commands, so reading `c.spec.run` at every call
   * was a map check that failed (and threw the optimized code away) whenever a run performed a
   * command the code had not met; a field of this one class has one shape.
   */
  readonly run: CommandSpec<VmModel>["run"] | null = null;
  /** For a `do` whose arguments are not all literals: builds them. */
  readonly argsOf: ArgsBuilder | null = null;
  /** For `let`: its value; for `for`: its items. */
  readonly value: Evaluator | null = null;
  /** For `if` and `expect`: its condition. */
  readonly test: Test | null = null;

  constructor(readonly op: Op, readonly owner: Compiled) {
    switch (op.op) {
      case "do": {
        const c = op.call;
        // A register of a vCPU numbered at run time (`vcpu[$i].info`): the interpreter's args.
        if (c.register?.fileIndexExpr !== undefined) {
          this.kind = EXEC;
          break;
        }
        this.kind = DO;
        this.run = owner.runOf(c);
        this.constant = c.register === undefined && c.entries === undefined &&
          c.args.every((a) => a.expr.e === "lit");
        if (!this.constant) this.argsOf = compileArgs(c);
        return;
      }
      case "let":
        this.kind = LET;
        this.value = compileExpr(op.value);
        break;
      case "if":
        this.kind = IF;
        this.test = compileCond(op.cond);
        break;
      case "expect":
        // A broken expectation is recorded by the interpreter, which evaluates
        // the condition again: only a condition without a query (a command,
        // which may trace and retire) can be evaluated twice unseen.
        if (condMakesQuery(op.cond)) {
          this.kind = EXEC;
          break;
        }
        this.kind = EXPECT;
        this.test = compileCond(op.cond);
        break;
      case "run":
        this.kind = op.duration === null ? SETTLE : EXEC;
        break;
      case "repeat":
        this.kind = REPEAT;
        break;
      case "for":
        this.kind = FOR;
        this.value = compileExpr(op.items);
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
      const a = s.constant ? (s.args ??= m.args(c)) : s.argsOf!(m);
      const result = m.callWith(c, a, s.run!);
      const bind = (op as Extract<Op, { op: "do" }>).bind;
      if (bind !== null) m.env.set(bind, result ?? 0);
      m.afterStep();
      return;
    }
    case SETTLE:
      m.runFor(0, op.loc);
      return;
    default:
      performOther(m, s);
  }
}

/**
 * {@link perform} of the statements other than a `do` and a `run`, the ones
 * a round trip runs: apart, so that `perform` stays small enough for V8 to
 * inline into the loops that call it.
 */
function performOther(m: Machine, s: CompiledOp): void {
  const op = s.op;
  switch (s.kind) {
    case LET:
      m.env.set((op as Extract<Op, { op: "let" }>).name, s.value!(m));
      return;
    case IF: {
      const i = op as Extract<Op, { op: "if" }>;
      m.block(s.test!(m) ? i.then : i.else);
      return;
    }
    case EXPECT:
      if (!s.test!(m)) m.exec(op);
      return;
    case REPEAT: {
      const r = op as Extract<Op, { op: "repeat" }>;
      m.repeat(r, s.body ??= s.owner.block(r.body));
      return;
    }
    case FOR: {
      const f = op as Extract<Op, { op: "for" }>;
      m.forEach(f, s.body ??= s.owner.block(f.body), s.value!);
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
  /** An expression's value, evaluated now by walking it. */
  eval(e: Expr): Val;
  /** Whether a condition holds, evaluated now by walking it. */
  cond(c: Cond): boolean;
  /** Runs a block of statements (an `if`'s branch). */
  block(ops: readonly Op[]): void;
  /** Stops the run: the scenario asked for something it cannot have. */
  inputError(loc: Loc, message: string): never;
  /**
   * Performs a command with these arguments (`run` is `c.spec.run`, or {@link Compiled.runOf}
   * for a machine whose VMs their platforms own); vCPU commands retire.
   */
  callWith(c: Call, args: Args, run: CommandSpec<VmModel>["run"]): Val | void;
  /** Checks the invariants after a step. */
  afterStep(): void;
  /** `run` / `run DURATION`. */
  runFor(duration: number, loc: Loc): void;
  /** `repeat N { }` with its body compiled. */
  repeat(op: Extract<Op, { op: "repeat" }>, body: readonly CompiledOp[]): void;
  /** `for $x in ITEMS { }` with its body and its items compiled. */
  forEach(op: Extract<Op, { op: "for" }>, body: readonly CompiledOp[], items: Evaluator): void;
  /** Charges `amount` iterations of the statement at `loc` to the run's work budget. */
  charge(loc: Loc, amount: number, what: "repeat" | "for" | "range"): void;
  /** The handler for a take, searched in declaration order. */
  findHandler(v: number, c: number, taken: Taken): HandlerDecl | undefined;
}

/** Op kinds the compiler runs without the interpreter's `exec`. */
export const COMPILED_OPS: readonly Op["op"][] = [
  "do",
  "run",
  "repeat",
  "for",
  "let",
  "if",
  "expect",
];

/**
 * Op kinds that run through the interpreter's `exec`. A `parallel` block
 * run in written order is a compiled block again; a `window`'s body runs
 * statement by statement through `exec`, between instruction boundaries; a
 * `select` (`vcpu[$i]: ...`) is its variant for the vCPU numbered then.
 */
export const INTERPRETED_OPS: readonly Op["op"][] = [
  "always",
  "parallel",
  "window",
  "timeline",
  "select",
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
   * Whether a step of the body can read or write a name some handler binds
   * ({@link usesNames}). When not, the run binds the handler variables (`$vector`) around a step only
   * if an `always` declared so far names a variable (invariants are checked
   * inside the step): otherwise the binding would have no effect anyone
   * could see.
   */
  readonly binds: boolean;
}

/**
 * The handler choice of one vCPU: the last take's answer, then by kind and
 * vector. A class, as {@link HandlerEntry}, not an object literal: V8 gives
 * a literal's fields the types of the first object it builds, and building
 * it again in a later run of the process loosens them, which throws away the
 * optimized code that relied on them (a take's).
 */
class HandlerChoice {
  kind = "";
  vector = NaN;
  handler: CompiledHandler | null = null;
  readonly byKind = new Map<string, Map<number, CompiledHandler | null>>();
}

/** A {@link CompiledHandler} (a class for the reason {@link HandlerChoice} is). */
class HandlerEntry implements CompiledHandler {
  constructor(
    readonly decl: HandlerDecl,
    readonly steps: readonly CompiledOp[],
    readonly binds: boolean,
  ) {}
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
  /**
   * Every name a handler binds (`$vector`, `$intid`), of any handler: a step
   * runs in a stack of them, and an inner body may read an outer one's.
   */
  readonly #bindNames: ReadonlySet<string>;
  readonly #vms: Program["vms"];

  constructor(program: Pick<Program, "vms" | "handlers">) {
    this.#vms = program.vms;
    this.#bindNames = new Set(program.handlers.flatMap((h) => h.binds.map((b) => b.name)));
    this.#handlers = program.vms.map((vm) =>
      Array.from({ length: vm.vcpus }, () => new HandlerChoice())
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

  /**
   * The `run` a compiled call performs its command with: its platform's own
   * (`PlatformEntry.uncheckedRun`), without the erased command's check
   * of the VM at every call, which the run made once for each of its VMs
   * (`PlatformEntry.owns`); the command's `run` for a command its platform
   * did not make.
   */
  runOf(c: Call): CommandSpec<VmModel>["run"] {
    return this.#vms[c.vm].platform.uncheckedRun(c.spec) ?? c.spec.run;
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
    if (taken.kind === choice.kind && taken.vector === choice.vector) return choice.handler;
    return this.#choose(m, v, c, taken, choice);
  }

  /** {@link Compiled.handlerFor} of a take other than the vCPU's last one. */
  #choose(
    m: Machine,
    v: number,
    c: number,
    taken: Taken,
    choice: HandlerChoice,
  ): CompiledHandler | null {
    const kind = taken.kind, vector = taken.vector;
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
      const binds = decl.binds.length !== 0 && usesNames(decl.body, this.#bindNames);
      h = new HandlerEntry(decl, this.block(decl.body), binds);
      this.#compiledHandlers.set(decl, h);
    }
    return h;
  }
}

/** An expression compiled: its value on a machine, as the interpreter's `eval` gives it. */
export type Evaluator = (m: Machine) => Val;

/** A call's arguments compiled: what the interpreter's `args` gives. */
export type ArgsBuilder = (m: Machine) => Args;

/**
 * An expression as a closure, so that a loop's `let $a = 0x1000 + 8 * $i`
 * costs a few calls, not a walk of the tree with a switch per node.
 * Variables, negation and operators are compiled; the rest (sets, ranges,
 * state reads, queries, conditions) runs through the interpreter's `eval`,
 * which is what defines them. Errors carry the same locations and words.
 *
 * @example
 * ```ts
 * import { type Expr } from "../../dsl/program.ts";
 * declare const machine: Machine, e: Expr;
 * const value = compileExpr(e);
 * value(machine); // what machine.eval(e) gives
 * ```
 */
export function compileExpr(e: Expr): Evaluator {
  switch (e.e) {
    case "lit": {
      const v = e.value;
      return () => v;
    }
    case "var": {
      const name = e.name;
      return (m) => {
        const v = m.env.get(name);
        // The interpreter says what is wrong with a variable that has no value.
        return v !== undefined ? v : m.eval(e);
      };
    }
    case "neg": {
      const operand = compileExpr(e.operand);
      return (m) => {
        const v = operand(m);
        if (typeof v === "number") return -v;
        if (typeof v === "bigint") return -v;
        return m.inputError(e.loc, `cannot negate ${formatVal(v)}`);
      };
    }
    case "op": {
      const op = e.op;
      if (e.args.length === 2) {
        const a = compileExpr(e.args[0]), b = compileExpr(e.args[1]);
        return (m) => {
          const r = applyBinaryOp(op, a(m), b(m));
          if (typeof r === "string") m.inputError(e.loc, r);
          return r;
        };
      }
      const operands = e.args.map(compileExpr);
      return (m) => {
        const r = applyOp(op, operands.map((x) => x(m)));
        if (typeof r === "string") m.inputError(e.loc, r);
        return r;
      };
    }
    case "cond": {
      const test = compileCond(e.cond);
      return (m) => test(m) ? 1 : 0;
    }
    case "range":
      return compileRange(e);
    case "state":
      return compileState(e);
    default:
      return (m) => m.eval(e);
  }
}

/**
 * A range whose ends are small literals (`for $k in 0..15`): its elements
 * made once, at its first evaluation (so an error comes when it did), and
 * the same array given after, charged to the work budget each time as the
 * interpreter charges it. Values are never changed in place, so sharing
 * the array is safe. Other ranges are evaluated by the interpreter.
 */
function compileRange(e: Extract<Expr, { e: "range" }>): Evaluator {
  const from = e.from, to = e.to;
  if (
    from.e !== "lit" || to.e !== "lit" || typeof from.value !== "number" ||
    typeof to.value !== "number" || to.value - from.value >= 100_000
  ) {
    return (m) => m.eval(e);
  }
  let elements: Val | null = null;
  const n = to.value - from.value + 1;
  return (m) => {
    if (elements === null) return elements = m.eval(e);
    if (n > 0) m.charge(e.loc, n, "range");
    return elements;
  };
}

/**
 * A state path (`vcpu0.lapic.isr`, `ioapic.pin[$p].remote_irr`): its
 * indexes compiled, read with no array built but the one the model is
 * given. An index that is not a small integer, or out of the path's
 * bounds, goes to the interpreter, which says what is wrong.
 */
function compileState(e: Extract<Expr, { e: "state" }>): Evaluator {
  const spec = e.spec, vm = e.vm;
  const indexes = e.indexes.map(compileExpr);
  const n = indexes.length;
  return (m) => {
    const model = m.vms[vm];
    const at: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = indexes[i](m);
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) return m.eval(e);
      at[i] = v;
    }
    if (spec.bounds !== undefined) {
      const bounds = spec.bounds(model);
      for (let i = 0; i < n; i++) {
        if (bounds[i] !== undefined && at[i] >= bounds[i]) return m.eval(e);
      }
    }
    return spec.get(model, at);
  };
}

/** A condition compiled: whether it holds on a machine, as the interpreter's `cond` says. */
export type Test = (m: Machine) => boolean;

/**
 * A condition as a closure ({@link compileExpr}'s counterpart): comparisons
 * and the logic between them are compiled, `took` runs through the
 * interpreter's `cond`, which reads the run's history.
 *
 * @example
 * ```ts
 * import { type Cond } from "../../dsl/program.ts";
 * declare const machine: Machine, c: Cond;
 * compileCond(c)(machine); // what machine.cond(c) says
 * ```
 */
export function compileCond(c: Cond): Test {
  switch (c.c) {
    case "and": {
      const l = compileCond(c.left), r = compileCond(c.right);
      return (m) => l(m) && r(m);
    }
    case "or": {
      const l = compileCond(c.left), r = compileCond(c.right);
      return (m) => l(m) || r(m);
    }
    case "not": {
      const operand = compileCond(c.operand);
      return (m) => !operand(m);
    }
    case "truthy": {
      const e = compileExpr(c.expr);
      return (m) => truthy(e(m));
    }
    case "cmp": {
      const l = compileExpr(c.left), r = compileExpr(c.right), op = c.op;
      if (op === "==") return (m) => valEquals(l(m), r(m));
      if (op === "!=") return (m) => !valEquals(l(m), r(m));
      return (m) => {
        const a = l(m), b = r(m);
        const o = valCompare(a, b);
        if (o === undefined) {
          return m.inputError(
            c.loc,
            `'${op}' compares numbers, not ${formatVal(a)} and ${formatVal(b)}`,
          );
        }
        return op === "<" ? o < 0 : op === "<=" ? o <= 0 : op === ">" ? o > 0 : o >= 0;
      };
    }
    default:
      return (m) => m.cond(c);
  }
}

/**
 * An argument's value as a parameter of `type` takes it: a literal as the
 * checker coerced it, anything else coerced now. The common cases (a
 * number in an `int`'s range, a 64-bit number) skip building the
 * coercion's result.
 */
function compileTyped(expr: Expr, type: ParamType): Evaluator {
  const value = compileExpr(expr);
  if (expr.e === "lit") return value;
  const slow = (m: Machine, v: Val): Val => {
    const r = coerce(type, v);
    if (!r.ok) m.inputError(expr.loc, r.why);
    return r.value;
  };
  switch (type.kind) {
    case "int": {
      const min = type.min, max = type.max;
      return (m) => {
        const v = value(m);
        return typeof v === "number" && v >= min && v <= max ? v : slow(m, v);
      };
    }
    case "u64":
      return (m) => {
        const v = value(m);
        if (typeof v === "bigint" && v >= 0n && v <= 0xffff_ffff_ffff_ffffn) return v;
        if (typeof v === "number" && Number.isInteger(v) && v >= 0) return BigInt(v);
        return slow(m, v);
      };
    default:
      return (m) => slow(m, value(m));
  }
}

/**
 * A call's arguments as a closure. The object is a copy of one made with
 * every parameter in order (literals filled in), so each call's object has
 * the same shape and only the computed parameters are written. A register
 * access is built afresh each time (the model may keep it); calls with an
 * entry block build their arguments through the interpreter.
 */
function compileArgs(c: Call): ArgsBuilder {
  if (c.entries !== undefined) return (m) => m.args(c);
  const template: Record<string, Val> = {};
  const names: string[] = [];
  const values: Evaluator[] = [];
  const vcpus: boolean[] = [];
  const locs: Loc[] = [];
  for (const { param, expr } of c.args) {
    const t = param.type;
    const vcpu = t.kind === "int" && t.vcpu === true;
    template[param.name] = expr.e === "lit" ? expr.value : 0;
    if (expr.e === "lit" && !vcpu) continue;
    names.push(param.name);
    values.push(compileTyped(expr, t));
    vcpus.push(vcpu);
    locs.push(expr.loc);
  }
  const n = names.length;
  const register = c.register === undefined ? null : compileRegister(c.register);
  return (m) => {
    const out: Record<string, Val> & { $register?: RegisterAccess } = { ...template };
    for (let i = 0; i < n; i++) {
      const v = values[i](m);
      // A vCPU number held in a variable is checked here; literals were checked already.
      if (vcpus[i] && typeof v === "number" && v >= m.vms[c.vm].cpus.length) {
        m.inputError(locs[i], `vm '${m.vms[c.vm].name}' has no vCPU ${v}`);
      }
      out[names[i]] = v;
    }
    if (register !== null) out.$register = register(m);
    return out;
  };
}

/** A register parameter's access (`write lapic.ldr $ldr`), as the interpreter's `args` builds it. */
function compileRegister(
  r: NonNullable<Call["register"]>,
): (m: Machine) => RegisterAccess {
  const index = r.index === null ? null : compileExpr(r.index);
  const raw = r.raw === null ? null : compileTyped(r.raw, { kind: "u64" });
  const fields = r.fields.map((f) => ({ field: f.field, value: compileExpr(f.expr) }));
  return (m) => ({
    register: r.spec,
    file: r.file,
    index: index === null ? 0 : index(m) as number,
    raw: raw === null ? undefined : BigInt(raw(m) as bigint),
    fields: fields.map((f) => [f.field, Number(f.value(m))] as const),
    fileIndex: r.fileIndex,
  });
}

/** Whether a condition (or any program data) makes a query: performs a command to get a value. */
export function makesQuery(x: unknown, seen: Set<object> = new Set()): boolean {
  if (x === null || typeof x !== "object" || seen.has(x)) return false;
  seen.add(x);
  if (Array.isArray(x)) return x.some((y) => makesQuery(y, seen));
  const o = x as Record<string, unknown>;
  if (o.e === "query") return true;
  for (const k in o) if (!NOT_PROGRAM.has(k) && makesQuery(o[k], seen)) return true;
  return false;
}

/**
 * {@link makesQuery} of a condition, by its kinds: no set of objects seen and
 * no walk over every key, for every `expect` of every program compiled. A
 * kind not named here is walked as {@link makesQuery} walks it.
 *
 * @example
 * ```ts
 * import { type Cond } from "../../dsl/program.ts";
 * declare const c: Cond;
 * condMakesQuery(c) === makesQuery(c); // true
 * ```
 */
export function condMakesQuery(c: Cond): boolean {
  switch (c.c) {
    case "cmp":
      return exprMakesQuery(c.left) || exprMakesQuery(c.right);
    case "truthy":
      return exprMakesQuery(c.expr);
    case "and":
    case "or":
      return condMakesQuery(c.left) || condMakesQuery(c.right);
    case "not":
      return condMakesQuery(c.operand);
    case "took":
      return c.values.some(exprMakesQuery) || (c.count !== null && exprMakesQuery(c.count));
    case "select":
      return exprMakesQuery(c.index) || c.variants.some(condMakesQuery);
    default:
      return makesQuery(c);
  }
}

/** {@link condMakesQuery} of an expression. */
function exprMakesQuery(e: Expr): boolean {
  switch (e.e) {
    case "lit":
    case "var":
      return false;
    case "query":
      return true;
    case "neg":
      return exprMakesQuery(e.operand);
    case "op":
      return e.args.some(exprMakesQuery);
    case "set":
    case "list":
      return e.items.some(exprMakesQuery);
    case "range":
      return exprMakesQuery(e.from) || exprMakesQuery(e.to);
    case "state":
      return e.indexes.some(exprMakesQuery);
    case "cond":
      return condMakesQuery(e.cond);
    default:
      return makesQuery(e);
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

/**
 * {@link readsVariables} narrowed to `names`: whether statements can read
 * or write one of them (a variable expression, `let`, `for` or binding `do`
 * of one), or might (a `parallel`, `window` or `timeline` block, whose
 * statements are not all in sight). A handler body that uses none of the
 * handler variables runs the same with them bound or not.
 *
 * @example
 * ```ts
 * import { type Op } from "../../dsl/program.ts";
 * declare const body: Op[];
 * usesNames(body, new Set(["vector"])); // false for `{ let $count = $count + 1  eoi }`
 * ```
 */
export function usesNames(
  x: unknown,
  names: ReadonlySet<string>,
  seen: Set<object> = new Set(),
): boolean {
  if (x === null || typeof x !== "object" || seen.has(x)) return false;
  seen.add(x);
  if (Array.isArray(x)) return x.some((y) => usesNames(y, names, seen));
  const o = x as Record<string, unknown>;
  if (o.e === "var") return names.has(o.name as string);
  if ((o.op === "let" || o.op === "for") && names.has(o.name as string)) return true;
  if (o.op === "do" && typeof o.bind === "string" && names.has(o.bind)) return true;
  if (o.op === "parallel" || o.op === "window" || o.op === "timeline") return true;
  for (const k in o) if (!NOT_PROGRAM.has(k) && usesNames(o[k], names, seen)) return true;
  return false;
}

const COMPILED = new WeakMap<Program, Compiled>();

/** The compiled form of `program`, made on first use and kept with it. */
export function compiledProgram(program: Program): Compiled {
  let c = COMPILED.get(program);
  if (c === undefined) COMPILED.set(program, c = new Compiled(program));
  return c;
}
