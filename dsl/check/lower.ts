/**
 * Pass: turn timeline statements into checked operations. Every actor,
 * command, parameter, state path and variable is resolved here against the
 * platform tables, and every literal is range-checked, so that the
 * interpreter only meets values it can use.
 *
 * @module
 */
import type {
  Actor,
  Arg,
  Condition,
  Loc,
  Operand,
  PathExpr,
  SkimmedRun,
  Statement,
  TopLevel,
  Value,
  WordBlock,
} from "../ast.ts";
import { unskim } from "../parse.ts";
import { Timeline, TimelineTemplates } from "../timeline.ts";
import { type SourceLines, TextLoc } from "../../lib/core/loc.ts";
import {
  type CommandSpec,
  type HandlerEventSpec,
  mainParams,
  type ParamSpec,
  type ParamType,
  type StateSpec,
  type Val,
} from "../../lib/core/table.ts";
import type { Call, Cond, Expr, HandlerDecl, Op, VmDecl } from "../program.ts";
import type { VmModel } from "../../lib/core/platform.ts";
import { coerce, compareInts, describeType, type Int, toInt } from "../../lib/core/values.ts";
import { applyOp, U64_MAX } from "../../lib/core/u64.ts";
import { type CheckContext, fail, recover, sliceOf, suggest, TooManyProblems } from "./context.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";

/** Who is acting in the statements being lowered. */
interface ActorRef {
  vm: number;
  kind: "vcpu" | "vmm" | "device" | "hypervisor";
  cpu: number;
  source: string;
}

interface Scope {
  ctx: CheckContext;
  vms: readonly VmDecl[];
  /** Variables that may be read: bound earlier, or anywhere for handler bodies. */
  vars: Set<string>;
  /** Set inside handler bodies and `vcpuN: if { }` blocks. */
  actor: ActorRef | null;
  inHandler: boolean;
  /** In a `run vcpuN { }` body. */
  inWindow?: boolean;
  /** In a handler body: the variables bound to what it took (`vector`), which it cannot rebind. */
  handlerBinds?: ReadonlySet<string>;
}

/** The lowered timeline and handlers. */
export interface Lowered {
  body: Op[];
  handlers: HandlerDecl[];
}

/**
 * Lowers the statements of a scenario (metadata and vm blocks are skipped:
 * other passes own them).
 *
 * @example
 * ```ts
 * import { type Statement } from "../ast.ts";
 * import { type CheckContext } from "./context.ts";
 * import { type VmDecl } from "../program.ts";
 * declare const ctx: CheckContext, stmts: Statement[], vms: VmDecl[];
 * const { body } = lowerStatements(stmts, vms, ctx);
 * body[0].op; // "do"
 * ```
 */
export function lowerStatements(
  stmts: readonly TopLevel[],
  vms: readonly VmDecl[],
  ctx: CheckContext,
  drop?: (op: Op) => void,
): Lowered {
  const allBound = new Set<string>();
  collectBindings(stmts, allBound);
  const scope: Scope = { ctx, vms, vars: new Set(), actor: null, inHandler: false };
  const handlers: HandlerDecl[] = [];
  const body = lowerBlock(stmts, scope, handlers, allBound, drop);
  return { body, handlers };
}

// A skimmed run's bindings were collected by the parser (`bindings` in dsl/scn.peggy).
function collectBindings(stmts: readonly TopLevel[], out: Set<string>): void {
  for (const s of stmts) collectBinding(s, out);
}

function collectBinding(s: TopLevel, out: Set<string>): void {
  if (s.kind === "skimmed") {
    for (const name of s.binds) out.add(name);
    return;
  }
  if (s.kind === "let") out.add(s.name.name);
  if (s.kind === "for") out.add(s.name.name);
  if (s.kind === "action" && s.body.kind === "do" && s.body.command.bind) {
    out.add(s.body.command.bind.name);
  }
  if (s.kind === "do" && s.command.bind) out.add(s.command.bind.name);
  if ("body" in s && Array.isArray(s.body)) collectBindings(s.body, out);
  if (s.kind === "action") collectBinding(s.body, out);
  if (s.kind === "if") {
    collectBindings(s.then, out);
    if (s.else) collectBindings(s.else, out);
  }
}

/**
 * Lowers a block, or the top level, where skimmed runs are parsed again and
 * lowered one statement at a time. `drop`, at the top level only, takes each
 * op instead of the block keeping it (a checker that runs nothing keeps no
 * timeline).
 */
function lowerBlock(
  stmts: readonly TopLevel[],
  scope: Scope,
  handlers: HandlerDecl[],
  allBound: Set<string>,
  drop?: (op: Op) => void,
): Op[] {
  const ops: Op[] = [];
  const lower = (s: Statement): Op | undefined => {
    const op = recover(scope.ctx, () => lowerStatement(s, scope, handlers, allBound));
    // A statement that failed still binds its variables, so later uses are not
    // reported again as unknown.
    if (op === undefined) collectBindings([s], scope.vars);
    return op ?? undefined;
  };
  // Skimmed runs go through Timelines, which keeps their ops as timelines or,
  // for a checker that keeps none (`drop`), skips statements already checked.
  const timelines = new Timelines(ops, scope.ctx, lower, drop);
  for (const s of stmts) {
    if (s.kind === "skimmed") {
      timelines.run(s);
      continue;
    }
    timelines.end();
    const op = lower(s);
    if (op && drop) drop(op);
    else if (op) ops.push(op);
  }
  timelines.end();
  return ops;
}

/** Below this many statements a timeline is kept as plain ops: it would save little. */
const TIMELINE_MIN = 16;
/** Longer statements are lowered each time, not looked up by their text. */
const TEMPLATE_MAX_CHARS = 256;

/**
 * The top-level statements of skimmed runs. At the top level a statement's
 * op depends on its text only: scope changes only by adding variables, which
 * turns no statement that lowered into an error or into another op. So a
 * statement written like an earlier one that lowered to a timeline op is
 * neither parsed nor lowered again: it is recorded as a copy of that op in a
 * timeline (dsl/timeline.ts), or, for a checker that keeps no timeline
 * (`drop`), skipped when the earlier one passed every check.
 */
class Timelines {
  readonly #templates = new TimelineTemplates<Op>();
  /** The text whose statements are looked up by their text: the first skimmed one. */
  #text: SourceLines | null = null;
  #open: Timeline<Op> | null = null;
  #start = 0;
  #end = 0;

  constructor(
    readonly ops: Op[],
    readonly ctx: CheckContext,
    readonly lower: (s: Statement) => Op | undefined,
    readonly drop?: (op: Op) => void,
  ) {}

  /** The statements of a skimmed run, in order. */
  run(r: SkimmedRun): void {
    const lines = r.from, spans = r.spans;
    this.#text ??= lines;
    if (lines !== this.#text || spans.length !== 2 * r.count) {
      for (const t of unskim(r)) this.statement(t, lines);
      return;
    }
    // Statements not seen before are parsed again together, as a run.
    let first = -1;
    const parseUpTo = (i: number) => {
      if (first < 0) return;
      const part = { ...r, start: spans[2 * first], end: spans[2 * i - 1], count: i - first };
      first = -1;
      for (const t of unskim(part)) this.statement(t, lines);
    };
    for (let i = 0; i < r.count; i++) {
      const from = spans[2 * i], to = spans[2 * i + 1];
      const known = to - from <= TEMPLATE_MAX_CHARS
        ? this.#templates.byText.get(lines.text.slice(from, to))
        : undefined;
      if (known === undefined) {
        if (first < 0) first = i;
        continue;
      }
      parseUpTo(i);
      if (!this.drop) this.#add(known, from, to);
    }
    parseUpTo(r.count);
  }

  /** Lowers statement `s` of `lines`, or records it as a copy of one written alike. */
  statement(s: Statement, lines: SourceLines): void {
    const loc = s.loc as TextLoc;
    const text = loc.to - loc.from <= TEMPLATE_MAX_CHARS && lines === this.#text
      ? lines.text.slice(loc.from, loc.to)
      : undefined;
    const known = text === undefined ? undefined : this.#templates.byText.get(text);
    if (known !== undefined) {
      if (!this.drop) this.#add(known, loc.from, loc.to);
      return;
    }
    const problems = this.ctx.problems?.length ?? 0;
    const op = this.lower(s);
    if (op === undefined) return;
    // Only a statement that passed every check stands for those written alike.
    const clean = () => text !== undefined && (this.ctx.problems?.length ?? 0) === problems;
    if (this.drop) {
      this.drop(op);
      if (timelineOp(op) && clean()) this.#templates.byText.set(text!, -1);
      return;
    }
    // A timeline holds statements of one text (skimmed runs are the file's own).
    if (!timelineOp(op) || lines !== this.#text) {
      this.end();
      this.ops.push(op);
      return;
    }
    const id = this.#templates.add(op, loc.from, lines);
    if (clean()) this.#templates.byText.set(text!, id);
    this.#add(id, loc.from, loc.to);
  }

  #add(id: number, from: number, to: number): void {
    if (this.#open === null) {
      this.#open = new Timeline(this.#templates);
      this.#start = from;
    }
    this.#open.push(id, from);
    this.#end = to;
  }

  /** Closes the open timeline: its statements go to `ops`, as one op or each alone. */
  end(): void {
    const t = this.#open;
    if (t === null) return;
    this.#open = null;
    if (t.length < TIMELINE_MIN) {
      for (const op of t.ops()) this.ops.push(op);
    } else {
      t.trim();
      this.ops.push({
        op: "timeline",
        timeline: t,
        loc: new TextLoc(this.#text!, this.#start, this.#end),
      });
    }
  }
}

/**
 * Whether an op may stand in a timeline: its copies are new objects at each
 * read, so nothing may find it by identity (the engine follows `in order`
 * conditions and compiles blocks by identity), and it holds no block.
 */
function timelineOp(op: Op): boolean {
  switch (op.op) {
    case "do":
    case "run":
    case "let":
    case "expect":
    case "always":
      return !holdsInOrder(op);
    default:
      return false;
  }
}

function holdsInOrder(x: unknown): boolean {
  if (x === null || typeof x !== "object") return false;
  if (Array.isArray(x)) return x.some(holdsInOrder);
  const o = x as Record<string, unknown>;
  if (o.c === "took" && o.inOrder === true) return true;
  for (const k in o) {
    if (k !== "spec" && k !== "param" && k !== "field" && k !== "file" && k !== "loc") {
      if (holdsInOrder(o[k])) return true;
    }
  }
  return false;
}

function lowerStatement(
  s: Statement,
  scope: Scope,
  handlers: HandlerDecl[],
  allBound: Set<string>,
): Op | null {
  switch (s.kind) {
    case "scenario":
    case "tags":
    case "link":
    case "expect_failure":
    case "version":
      if (scope.actor) {
        fail(s.loc, `'${s.kind.replace("_", " ")}' belongs at the top of the file, not in a block`);
      }
      return null;
    case "vm":
      if (scope.actor) fail(s.loc, "a vm is declared at the top level, not in a block");
      return null;
    case "include":
      // The includes pass has already expanded these.
      return null;
    case "let": {
      if (scope.handlerBinds?.has(s.name.name)) {
        fail(
          s.name.loc,
          s.name.name === HANDLER_VCPU
            ? `'$${HANDLER_VCPU}' is the number of the handler's vCPU: bind another name`
            : `'$${s.name.name}' is what the handler took: bind another name`,
          `write 'let $last = $${s.name.name}'`,
        );
      }
      const value = lowerValue(s.value, scope);
      scope.vars.add(s.name.name);
      return { op: "let", name: s.name.name, value, loc: s.loc };
    }
    case "repeat":
      if (s.count.kind === "duration") {
        fail(
          s.count.loc,
          "'repeat' takes a count, not a duration",
          "write 'repeat 3 { ... }'; to let time pass, use 'run 3us'",
        );
      }
      return {
        op: "repeat",
        count: lowerValue(s.count, scope),
        body: lowerBlock(s.body, scope, handlers, allBound),
        loc: s.loc,
      };
    case "for": {
      const items = lowerValue(s.iterable, scope);
      scope.vars.add(s.name.name);
      return {
        op: "for",
        name: s.name.name,
        items,
        body: lowerBlock(s.body, scope, handlers, allBound),
        loc: s.loc,
      };
    }
    case "parallel": {
      if (scope.actor) {
        fail(s.loc, "'parallel' groups actions of different actors; use it at the top level");
      }
      for (const b of s.body) {
        if (b.kind !== "action" && b.kind !== "expect" && b.kind !== "let") {
          fail(b.loc, "a parallel block holds actions (actor: command)");
        }
      }
      const body = lowerBlock(s.body, scope, handlers, allBound);
      sameVcpuOrder(body);
      return { op: "parallel", body, loc: s.loc };
    }
    case "handler": {
      if (scope.actor) fail(s.loc, "handlers are declared at the top level");
      // `on vcpu[0..3]`: the same handler on each, as a guest's shared IDT gives.
      for (const actor of handlerActors(s.actor, scope)) {
        lowerHandler(s, actor, scope, handlers, allBound);
      }
      return null;
    }
    case "window": {
      if (scope.inHandler) {
        fail(s.loc, "a handler's instructions already have a boundary after each one: drop 'run'");
      }
      if (scope.actor) fail(s.loc, "'run vcpuN { }' is a timeline step; write it at the top level");
      const chosen = runTimeVcpu(s.actor, scope);
      if (chosen !== null) {
        return selectOp(
          chosen,
          s.loc,
          scope,
          (actor) => lowerWindow(s, actor, scope, handlers, allBound),
        );
      }
      return lowerWindow(s, resolveActor(s.actor, scope), scope, handlers, allBound);
    }
    case "run":
      if (scope.inHandler) {
        fail(s.loc, "'run' cannot be used inside a handler: the handler already runs inside one");
      }
      if (scope.actor) fail(s.loc, "'run' is a timeline step, not something a vCPU does");
      return {
        op: "run",
        duration: s.duration ? lowerTyped(s.duration, { kind: "duration" }, scope) : null,
        loc: s.loc,
      };
    case "expect":
      return {
        op: "expect",
        cond: lowerCondition(s.condition, scope),
        text: sliceOf(scope.ctx, s.condition.loc),
        loc: s.loc,
      };
    case "always":
      if (scope.actor) fail(s.loc, "'always' invariants are declared at the top level");
      return {
        op: "always",
        cond: lowerCondition(s.condition, scope),
        text: sliceOf(scope.ctx, s.condition.loc),
        loc: s.loc,
      };
    case "if": {
      const cond = lowerCondition(s.condition, scope);
      return {
        op: "if",
        cond,
        then: lowerBlock(s.then, scope, handlers, allBound),
        else: s.else ? lowerBlock(s.else, scope, handlers, allBound) : [],
        loc: s.loc,
      };
    }
    case "action": {
      const chosen = runTimeVcpu(s.actor, scope);
      if (chosen !== null) {
        if (scope.inHandler || scope.inWindow) {
          fail(
            s.actor.loc,
            `this ${scope.inHandler ? "handler" : "block"} runs on ${
              scope.actor!.source
            }: its statements need no vCPU prefix`,
            `drop '${sliceOf(scope.ctx, s.actor.loc)}:'`,
          );
        }
        return selectOp(
          chosen,
          s.loc,
          scope,
          (actor) => lowerAction(s, actor, scope, handlers, allBound),
        );
      }
      return lowerAction(s, resolveActor(s.actor, scope), scope, handlers, allBound);
    }
    case "do": {
      if (!scope.actor) explainStray(s.command.args, scope);
      const call = lowerCall(s.command.args, s.command.block, scope.actor, scope, s.command.loc);
      const bind = s.command.bind?.name ?? null;
      if (bind !== null) {
        if (!call.spec.returns) {
          fail(s.command.bind!.loc, `'${call.spec.name}' returns nothing to bind`);
        }
        scope.vars.add(bind);
      }
      return { op: "do", call, bind, loc: s.loc };
    }
  }
}

function lowerHandler(
  s: Statement & { kind: "handler" },
  actor: ActorRef,
  scope: Scope,
  handlers: HandlerDecl[],
  allBound: Set<string>,
): void {
  const { event, values, binds } = resolveHandlerEvent(s, actor, scope);
  const prev = handlers.find((h) =>
    h.vm === actor.vm && h.cpu === actor.cpu && h.event === event &&
    (h.values === null || values === null || h.values.some((v) => values.includes(v)))
  );
  if (prev) {
    fail(s.loc, "a second handler for the same interrupt", undefined, [{
      loc: prev.loc,
      message: "the first one is here",
    }]);
  }
  // Variables are the scenario's: a handler reads and rebinds them (a
  // counter), and reads what it took (`$vector`) and its vCPU's number
  // (`$vcpu`), which are its own.
  const own = new Set([...binds.map((b) => b.name), HANDLER_VCPU]);
  const inner: Scope = {
    ...scope,
    vars: new Set([...allBound, ...own]),
    actor,
    inHandler: true,
    handlerBinds: own,
  };
  handlers.push({
    vm: actor.vm,
    cpu: actor.cpu,
    event,
    values,
    binds: binds.map(({ name, from }) => ({ name, from })),
    body: lowerBlock(s.body, inner, handlers, allBound),
    loc: s.loc,
  });
  // What a handler binds can be expected after a `run`; reading it before
  // the handler ran is a located error at run time.
  for (const v of inner.vars) if (!own.has(v)) scope.vars.add(v);
}

function lowerWindow(
  s: Statement & { kind: "window" },
  actor: ActorRef,
  scope: Scope,
  handlers: HandlerDecl[],
  allBound: Set<string>,
): Op {
  if (actor.kind !== "vcpu") {
    fail(
      s.actor.loc,
      "'run ... { }' runs a vCPU's instructions: name a vCPU, as in 'run vcpu0 { sti; nop }'",
    );
  }
  // The variables the body binds stay visible after it: `inner` shares the set.
  const inner: Scope = { ...scope, actor, inWindow: true };
  const body = lowerBlock(s.body, inner, handlers, allBound);
  return { op: "window", vm: actor.vm, cpu: actor.cpu, body, loc: s.loc };
}

function lowerAction(
  s: Statement & { kind: "action" },
  actor: ActorRef,
  scope: Scope,
  handlers: HandlerDecl[],
  allBound: Set<string>,
): Op | null {
  // A handler holds its vCPU's instructions and what other actors do
  // meanwhile (a device lowering its line, the VMM at a GUEST_SYNC exit),
  // but another vCPU's instructions run on that vCPU, not in this handler.
  const own = scope.actor;
  if (
    (scope.inHandler || scope.inWindow) && own && actor.kind === "vcpu" &&
    (actor.vm !== own.vm || actor.cpu !== own.cpu)
  ) {
    fail(
      s.actor.loc,
      `this ${scope.inHandler ? "handler" : "block"} runs on ${own.source}: ${
        s.actor.vm ? `${s.actor.vm}.` : ""
      }${s.actor.name} cannot execute in it`,
      `write it in a handler of ${s.actor.name}, or drop the prefix to run it on ${own.source}`,
    );
  }
  // `vcpu0: if` keeps its actor for the block; the variables it binds stay
  // visible after it, as `inner` shares this scope's set of them.
  return lowerStatement(s.body, { ...scope, actor }, handlers, allBound);
}

/**
 * An actor's steps in a parallel block keep their written order, and
 * `scn explore` tells actors apart before the block runs: `vcpu[$i]` is one
 * actor, named by its index as written. The engine refuses a block where it
 * turns out to be another step's vCPU; for that answer to hold for the whole
 * block, the block may not rebind what the index reads.
 */
function sameVcpuOrder(body: readonly Op[]): void {
  const read = new Map<string, Loc>();
  for (const op of body) {
    if (op.op !== "select") continue;
    const vars = variablesOf(op.index);
    if (vars === null) {
      fail(
        op.index.loc,
        "in a parallel block a vCPU index reads variables only: the state it read could change " +
          "while the block runs",
        "bind it first: 'let $i = ...' before the block",
      );
    }
    for (const v of vars) read.set(v, op.index.loc);
  }
  if (read.size === 0) return;
  for (const op of body) {
    const bound = op.op === "let" ? op.name : op.op === "do" ? op.bind : null;
    const at = bound === null ? undefined : read.get(bound);
    if (at !== undefined) {
      fail(
        op.loc,
        `'$${bound}' numbers a vCPU in this parallel block: the block cannot rebind it`,
        "bind it before the block",
        [{ loc: at, message: "it numbers this vCPU" }],
      );
    }
  }
}

/** The variables an index reads, or null when it reads model state. */
function variablesOf(e: Expr): string[] | null {
  switch (e.e) {
    case "var":
      return [e.name];
    case "lit":
      return [];
    case "neg":
      return variablesOf(e.operand);
    case "op": {
      const out: string[] = [];
      for (const a of e.args) {
        const v = variablesOf(a);
        if (v === null) return null;
        out.push(...v);
      }
      return out;
    }
    default:
      return null;
  }
}

/**
 * How statement keywords are written, for lines that begin with one but did
 * not parse as that statement (and so arrived here as a bare command).
 */
const KEYWORD_USAGE: Readonly<Record<string, string>> = {
  run: "'run' alone, or 'run' with one duration such as 'run 5ms'",
  expect: "'expect <path> == <value>', 'expect vcpu0 took 0x41 once' or 'expect failure \"why\"'",
  always: "'always <condition>', such as 'always vcpu0.lapic.ppr <= 0x40'",
  let: "'let $name = <value>'",
  repeat: "'repeat <count> { ... }'",
  for: "'for $x in <list, set or range> { ... }'",
  parallel: "'parallel { ... }'",
  on: "'on vcpu0 vector 0x41 { ... }'",
  if: "'if <condition> { ... } else { ... }'",
  include: "'include \"file.scn\"'",
  scenario: "'scenario \"title\"'",
  tags: "'tags a, b, X86-07'",
  link: "'link \"https://...\"'",
  vm: "'vm name { arch x86_64  vcpus 2 }'",
};

/** A command outside any actor: say what was probably meant. */
function explainStray(args: readonly Arg[], scope: Scope): never {
  const first = args[0];
  const word = first.kind === "ident" ? first.name : sliceOf(scope.ctx, first.loc);
  const usage = KEYWORD_USAGE[word];
  if (usage) fail(first.loc, `malformed '${word}' statement`, `write ${usage}`);
  const actors = new Set(scope.vms.flatMap((v) => v.platform.actors));
  if (/^vcpu(\d+|\[.*\])$/.test(word) || actors.has(word) || word === "device") {
    const rest = args.slice(word === "device" ? 2 : 1).map((a) => sliceOf(scope.ctx, a.loc)).join(
      " ",
    );
    const actor = word === "device"
      ? `device ${sliceOf(scope.ctx, args[1]?.loc ?? first.loc)}`
      : word;
    fail(first.loc, `missing ':' after the actor '${actor}'`, `write '${actor}: ${rest}'`);
  }
  fail(first.loc, `'${word}' needs an actor, as in 'vcpu0: ${word}' or 'vmm: ${word}'`);
}

// ---- actors ----------------------------------------------------------------

/**
 * The VM a name (the `g` of `g.vcpu0`) picks; without one, the only VM.
 * `written` is the actor or path as written, so that the error can show
 * the forms that work (`g.vmm`, `h.vmm`).
 */
function resolveVm(name: string | undefined, loc: Loc, scope: Scope, written: string): number {
  if (scope.vms.length === 0) {
    fail(loc, "no vm is declared", "declare one first: vm guest { arch x86_64 vcpus 1 }");
  }
  if (name === undefined) {
    if (scope.vms.length > 1) {
      const forms = scope.vms.map((v) => `'${v.name}.${written}'`);
      fail(
        loc,
        `several vms are declared: say which one '${written}' belongs to`,
        `write ${forms.slice(0, -1).join(", ")} or ${forms[forms.length - 1]}`,
        scope.vms.map((v) => ({ loc: v.loc, message: `vm '${v.name}'` })),
      );
    }
    return 0;
  }
  const i = scope.vms.findIndex((v) => v.name === name);
  if (i < 0) fail(loc, `unknown vm '${name}'`, suggest(name, scope.vms.map((v) => v.name)));
  return i;
}

// Every action names its vCPU: each one's name is made once, not for every statement.
const VCPU_SOURCES: string[] = [];

function vcpuSource(cpu: number): string {
  return VCPU_SOURCES[cpu] ??= `vcpu${cpu}`;
}

/** The vCPU of `vm` numbered `cpu`, checked to exist; `loc` is where the number is written. */
function vcpuRef(vm: number, cpu: number, loc: Loc, scope: Scope, written: string): ActorRef {
  const decl = scope.vms[vm];
  if (cpu >= decl.vcpus) {
    fail(
      loc,
      `unknown vCPU '${written}': vm '${decl.name}' has ${decl.vcpus} vCPU${
        decl.vcpus === 1 ? "" : "s"
      } (vcpu0..vcpu${decl.vcpus - 1})`,
      undefined,
      [{ loc: decl.loc, message: "the vm is declared here" }],
    );
  }
  return { vm, kind: "vcpu", cpu, source: vcpuSource(cpu) };
}

/** A vCPU numbered when its statement runs (`vcpu[$i]`): its VM and the index. */
interface ChosenVcpu {
  vm: number;
  index: Expr;
  /** The actor as written, for messages. */
  text: string;
}

/**
 * The vCPU an actor `vcpu[E]` names when E is not a constant, else null (a
 * constant index names one vCPU as `vcpuN` does; resolveActor takes it).
 */
function runTimeVcpu(a: Actor, scope: Scope): ChosenVcpu | null {
  if (a.index === undefined) return null;
  const vm = resolveVm(a.vm, a.loc, scope, sliceOf(scope.ctx, a.loc));
  const index = vcpuIndex(a.index, scope);
  if (index.e === "lit") return null;
  return { vm, index, text: sliceOf(scope.ctx, a.loc) };
}

/** A statement's vCPU index: one number, checked now when it is a literal. */
function vcpuIndex(v: Value, scope: Scope): Expr {
  if (v.kind === "set" || v.kind === "list" || v.kind === "range") {
    fail(
      v.loc,
      "a statement runs on one vCPU: index it with one number",
      "to act on several, loop: 'for $i in 0..3 { vcpu[$i]: ... }'",
    );
  }
  return lowerTyped(v, { kind: "int", min: 0, max: MAX_VCPU_INDEX, what: "vCPU index" }, scope);
}

/** In a handler's body, the number of the vCPU running it: `on vcpu[1..3] ... { ... vcpu[$vcpu] ... }`. */
export const HANDLER_VCPU = "vcpu";

/** Larger than any VM's vCPU count; the VM's own count is checked where the index is known. */
const MAX_VCPU_INDEX = Number.MAX_SAFE_INTEGER;

/**
 * A statement whose vCPU is numbered at run time: lowered once for each
 * vCPU of its VM, so that every variant is an ordinary statement of a known
 * vCPU (the engine, `scn explore` and the /dev/kvm backend run those) and a
 * problem of the statement is found now. The engine picks the variant when
 * the statement runs, and refuses an index past the last vCPU there.
 */
function selectOp(
  chosen: ChosenVcpu,
  loc: Loc,
  scope: Scope,
  lower: (actor: ActorRef) => Op | null,
): Op {
  const variants = forEachVcpu(chosen, scope, (actor) => {
    const op = lower(actor);
    if (op === null) throw new Error("unreachable: a vCPU statement that lowers to nothing");
    return op;
  });
  return { op: "select", vm: chosen.vm, index: chosen.index, variants, text: chosen.text, loc };
}

/** `lower` for every vCPU of the chosen one's VM; a problem says which vCPU it was found for. */
function forEachVcpu<T>(chosen: ChosenVcpu, scope: Scope, lower: (actor: ActorRef) => T): T[] {
  const out: T[] = [];
  for (let cpu = 0; cpu < scope.vms[chosen.vm].vcpus; cpu++) {
    const actor: ActorRef = { vm: chosen.vm, kind: "vcpu", cpu, source: vcpuSource(cpu) };
    try {
      out.push(lower(actor));
    } catch (e) {
      if (e instanceof ScnError && !(e instanceof TooManyProblems)) {
        const [first, ...rest] = e.diagnostics;
        const note = `found with '${chosen.text}' as vcpu${cpu}`;
        throw new ScnError({ ...first, notes: [...(first.notes ?? []), note] }, ...rest);
      }
      throw e;
    }
  }
  return out;
}

/** The vCPUs a handler is declared on: `on vcpu0`, or each of `on vcpu[0..3]`, `on vcpu[{0, 2}]`. */
function handlerActors(a: Actor, scope: Scope): ActorRef[] {
  if (a.index === undefined) {
    const actor = resolveActor(a, scope);
    if (actor.kind !== "vcpu") {
      fail(a.loc, "handlers belong to a vCPU (on vcpu0 vector 0x41 { ... })");
    }
    return [actor];
  }
  const vm = resolveVm(a.vm, a.loc, scope, sliceOf(scope.ctx, a.loc));
  const v = staticValue(lowerValue(a.index, scope));
  const cpus = typeof v === "number" ? [v] : Array.isArray(v) ? v : undefined;
  if (cpus === undefined || cpus.some((c) => typeof c !== "number")) {
    fail(
      a.index.loc,
      "a handler is declared before anything runs: number its vCPUs with constants",
      "write 'on vcpu[0..3] ...' or 'on vcpu[{0, 2}] ...'",
    );
  }
  const seen = new Set<number>();
  return (cpus as number[]).flatMap((cpu) => {
    if (seen.has(cpu)) return [];
    seen.add(cpu);
    return [vcpuRef(vm, cpu, a.index!.loc, scope, `vcpu${cpu}`)];
  });
}

function resolveActor(a: Actor, scope: Scope): ActorRef {
  const vm = resolveVm(
    a.vm,
    a.loc,
    scope,
    a.name === "device" ? `device ${a.device}` : a.name,
  );
  const decl = scope.vms[vm];
  if (a.name === "device") return { vm, kind: "device", cpu: -1, source: `device ${a.device}` };
  if (a.index !== undefined) {
    // A constant index: `vcpu[2]` is `vcpu2` (runTimeVcpu takes any other).
    const index = vcpuIndex(a.index, scope);
    if (index.e !== "lit" || typeof index.value !== "number") {
      throw new Error("unreachable: a run-time vCPU index reached resolveActor");
    }
    return vcpuRef(vm, index.value, a.index.loc, scope, `vcpu[${index.value}]`);
  }
  // `vcpu` and a decimal number: every action names its actor.
  if (a.name.startsWith("vcpu") && digitsFrom(a.name, 4)) {
    return vcpuRef(vm, Number(a.name.slice(4)), a.loc, scope, a.name);
  }
  if (decl.platform.actors.includes(a.name)) {
    return { vm, kind: a.name === "vmm" ? "vmm" : "hypervisor", cpu: -1, source: a.name };
  }
  const names = ["vcpu0", "device <name>", ...decl.platform.actors];
  fail(a.loc, `unknown actor '${a.name}'`, suggest(a.name, names));
}

function resolveHandlerEvent(
  s: Statement & { kind: "handler" },
  actor: ActorRef,
  scope: Scope,
): {
  event: string;
  values: number[] | null;
  binds: NonNullable<HandlerEventSpec["binds"]>;
} {
  const platform = scope.vms[actor.vm].platform;
  const [first, ...rest] = s.event;
  const names = platform.handlerEvents.map((e) => e.name);
  if (!first || first.kind !== "ident") {
    fail(first?.loc ?? s.loc, "say what the handler is for", suggest("", names));
  }
  const spec = platform.handlerEvents.find((e) => e.name === first.name);
  if (!spec) fail(first.loc, `unknown handler event '${first.name}'`, suggest(first.name, names));
  if (!spec.takesValue) {
    if (rest.length) fail(rest[0].loc, `'${spec.name}' takes no value`);
    return { event: spec.name, values: null, binds: spec.binds ?? [] };
  }
  if (rest.length !== 1 || rest[0].kind === "kv") {
    fail(rest[1]?.loc ?? first.loc, `'${spec.name}' takes one value: a number, a set or a range`);
  }
  const v = evalStatic(lowerValue(rest[0], scope));
  const values = Array.isArray(v) ? [...v] : typeof v === "number" ? [v] : null;
  if (!values) fail(rest[0].loc, `'${spec.name}' takes a number, a set or a range`);
  return { event: spec.name, values, binds: spec.binds ?? [] };
}

// ---- commands ----------------------------------------------------------------

// A scenario of a million statements looks commands up a million times: the
// per-actor lists and each name's words are worked out once per table.
const COMMANDS_BY_ACTOR = new WeakMap<object, Map<string, readonly CommandSpec<VmModel>[]>>();
const NAME_WORDS = new WeakMap<CommandSpec<VmModel>, readonly string[]>();

function commandsFor(actor: ActorRef, scope: Scope): readonly CommandSpec<VmModel>[] {
  const all = scope.vms[actor.vm].platform.commands;
  let byActor = COMMANDS_BY_ACTOR.get(all);
  if (byActor === undefined) COMMANDS_BY_ACTOR.set(all, byActor = new Map());
  let list = byActor.get(actor.kind);
  if (list === undefined) {
    byActor.set(actor.kind, list = all.filter((c) => c.actor === actor.kind));
  }
  return list;
}

function nameWords(spec: CommandSpec<VmModel>): readonly string[] {
  let words = NAME_WORDS.get(spec);
  if (words === undefined) NAME_WORDS.set(spec, words = spec.name.split(" "));
  return words;
}

/**
 * An actor's commands by their name's first word, then by their second
 * (`read icc_iar1`: the Arm vCPU has ninety `read ...` commands), each list
 * in table order; `one` holds the names of a single word.
 */
interface ByWords {
  one: readonly CommandSpec<VmModel>[];
  bySecond: Map<string, readonly CommandSpec<VmModel>[]>;
}

const BY_WORDS = new WeakMap<readonly CommandSpec<VmModel>[], Map<string, ByWords>>();

function byWords(commands: readonly CommandSpec<VmModel>[]): Map<string, ByWords> {
  let index = BY_WORDS.get(commands);
  if (index === undefined) {
    index = new Map();
    for (const spec of commands) {
      const [first, second] = nameWords(spec);
      let group = index.get(first);
      if (group === undefined) index.set(first, group = { one: [], bySecond: new Map() });
      if (second === undefined) (group.one as CommandSpec<VmModel>[]).push(spec);
      else {
        const list = group.bySecond.get(second) as CommandSpec<VmModel>[] | undefined;
        if (list === undefined) group.bySecond.set(second, [spec]);
        else list.push(spec);
      }
    }
    BY_WORDS.set(commands, index);
  }
  return index;
}

/**
 * Finds the command whose name words match the leading identifier words:
 * the longest match, the first in table order among equals. Only commands
 * whose name starts with the first two words are tried, then those of one
 * word (a platform has hundreds).
 */
function matchCommand(
  args: readonly Arg[],
  commands: readonly CommandSpec<VmModel>[],
): { spec: CommandSpec<VmModel>; used: number } | null {
  const head = args[0];
  if (head === undefined || head.kind !== "ident") return null;
  const group = byWords(commands).get(head.name);
  if (group === undefined) return null;
  const second = args[1];
  const longer = second?.kind === "ident" ? group.bySecond.get(second.name) : undefined;
  let best: { spec: CommandSpec<VmModel>; used: number } | null = null;
  if (longer !== undefined) {
    for (const spec of longer) {
      const words = nameWords(spec);
      if (words.length > args.length || (best !== null && words.length <= best.used)) continue;
      let i = 2;
      while (i < words.length) {
        const a = args[i];
        if (a.kind !== "ident" || a.name !== words[i]) break;
        i++;
      }
      if (i === words.length) best = { spec, used: words.length };
    }
  }
  // Names of two words or more are longer than any of one.
  if (best === null && group.one.length > 0) best = { spec: group.one[0], used: 1 };
  return best;
}

/** A command's positional parameters ({@link mainParams}) and its register parameter. */
interface CallParams {
  positional: readonly ParamSpec[];
  registerParam: ParamSpec | undefined;
}

// Worked out once per command, not at each of its calls.
const CALL_PARAMS = new WeakMap<CommandSpec<VmModel>, CallParams>();

function paramsOf(spec: CommandSpec<VmModel>): CallParams {
  let p = CALL_PARAMS.get(spec);
  if (p === undefined) {
    p = {
      positional: mainParams(spec),
      registerParam: spec.params.find((x) => x.type.kind === "register"),
    };
    CALL_PARAMS.set(spec, p);
  }
  return p;
}

// One for every call without arguments (`nop`, `eoi`): a long timeline need not hold one each.
const NO_ARGS: Call["args"] = Object.freeze([]);

function lowerCall(
  args: readonly Arg[],
  block: WordBlock | undefined,
  actor: ActorRef,
  scope: Scope,
  loc: Loc,
): Call {
  const commands = commandsFor(actor, scope);
  const found = matchCommand(args, commands);
  if (!found) {
    const words: string[] = [];
    for (const a of args) {
      if (a.kind !== "ident") break;
      words.push(a.name);
    }
    const tried = words.slice(0, 2).join(" ") || sliceOf(scope.ctx, args[0].loc);
    const names = commands.map((c) => c.name);
    const hint = suggest(tried, names) ?? suggest(
      words[0] ?? tried,
      names.map((n) => n.split(" ")[0]),
    ) ??
      `'scn help ${actor.kind}' lists what ${actor.source} can do`;
    const end = args[Math.max(0, Math.min(words.length, 2) - 1)];
    fail(
      { source: args[0].loc.source, start: args[0].loc.start, end: end.loc.end },
      `unknown command '${tried}' for ${actor.source}`,
      hint,
    );
  }
  const { spec, used } = found;
  if (block && !spec.block) fail(block.loc, `'${spec.name}' takes no block`);
  if (!block && spec.block) {
    fail(loc, `'${spec.name}' needs a block of entries: { ${spec.block.entry}=... }`);
  }
  const entries = block ? lowerEntries(block, spec, scope) : undefined;
  const bound: { param: ParamSpec; expr: Expr }[] = [];
  const given = new Map<string, Loc>();
  const { positional, registerParam } = paramsOf(spec);
  let register: Call["register"];
  let nextPositional = 0;
  const fieldArgs: { key: string; keyLoc: Loc; value: Value }[] = [];
  // By index from the first argument past the name: no copy, and no iterator
  // result per argument in code not yet optimized.
  for (let k = used; k < args.length; k++) {
    const a = args[k];
    if (a.kind === "kv" && registerParam && a.key === registerParam.name && !register) {
      // `register=lapic.tpr`: the register by name.
      if (a.value.kind !== "path" && a.value.kind !== "ident") {
        fail(a.value.loc, `'${registerParam.name}=' takes a register name`, usage(spec));
      }
      register = resolveRegister(a.value, registerParam.type, scope);
      given.set(registerParam.name, a.keyLoc);
      continue;
    }
    if (a.kind === "kv") {
      const param = spec.params.find((p) => p.name === a.key && p.type.kind !== "register");
      if (!param) {
        if (registerParam) {
          fieldArgs.push(a);
          continue;
        }
        fail(
          a.keyLoc,
          `'${spec.name}' has no parameter '${a.key}'`,
          suggest(a.key, spec.params.map((p) => p.name)),
        );
      }
      const prev = given.get(param.name);
      if (prev) {
        fail(a.keyLoc, `'${param.name}' given twice`, undefined, [{
          loc: prev,
          message: "first given here",
        }]);
      }
      given.set(param.name, a.keyLoc);
      bound.push({ param, expr: lowerTyped(a.value, param.type, scope) });
      continue;
    }
    if (registerParam && !register && (a.kind === "path" || a.kind === "ident")) {
      register = resolveRegister(a, registerParam.type, scope);
      given.set(registerParam.name, a.loc);
      continue;
    }
    if (register && !register.raw && (a.kind === "number" || a.kind === "var")) {
      register = { ...register, raw: lowerTyped(a, { kind: "u64" }, scope) };
      continue;
    }
    const param = positional[nextPositional++];
    if (!param || param.type.kind === "register") {
      fail(a.loc, `unexpected value for '${spec.name}'`, usage(spec));
    }
    given.set(param.name, a.loc);
    bound.push({ param, expr: lowerTyped(a, param.type, scope) });
  }
  if (registerParam) {
    if (!register) fail(loc, `'${spec.name}' needs a register`, usage(spec));
    // `value=` names the whole value, unless the register has a field of that name.
    const named = fieldArgs.findIndex((f) =>
      f.key === RAW_VALUE && !register!.spec.fields.some((x) => x.name === RAW_VALUE)
    );
    if (named >= 0) {
      const f = fieldArgs.splice(named, 1)[0];
      if (register.raw) {
        fail(f.keyLoc, `the value is given twice`, undefined, [{
          loc: register.raw.loc,
          message: "first given here",
        }]);
      }
      register = { ...register, raw: lowerTyped(f.value, { kind: "u64" }, scope) };
    }
    const fields = fieldArgs.map((f) => {
      const field = register!.spec.fields.find((x) => x.name === f.key);
      if (!field) {
        fail(
          f.keyLoc,
          `${register!.spec.title} has no field '${f.key}'`,
          suggest(f.key, register!.spec.fields.map((x) => x.name)),
        );
      }
      const max = field.width >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** field.width - 1;
      let expr: Expr;
      if (f.value.kind === "ident" && field.values) {
        const n = field.values[f.value.name];
        if (n === undefined) {
          // The value names, for the message only.
          const names = Object.keys(field.values);
          fail(
            f.value.loc,
            `'${f.key}' must be one of: ${names.join(", ")}`,
            suggest(f.value.name, names),
          );
        }
        expr = { e: "lit", value: n, loc: f.value.loc };
      } else {
        expr = lowerTyped(f.value, { kind: "int", min: 0, max, what: `field ${f.key}` }, scope);
      }
      return { field, expr };
    });
    if (register.raw && fields.length) {
      fail(fieldArgs[0].keyLoc, "give either a whole value or fields, not both");
    }
    register = { ...register, fields };
  }
  const vcpus = scope.vms[actor.vm].vcpus;
  for (let k = 0; k < bound.length; k++) {
    const b = bound[k];
    const t = b.param.type;
    if (
      t.kind === "int" && t.vcpu && b.expr.e === "lit" && typeof b.expr.value === "number" &&
      b.expr.value >= vcpus
    ) {
      fail(
        b.expr.loc,
        `vm '${scope.vms[actor.vm].name}' has no vCPU ${b.expr.value} (it has ${vcpus})`,
      );
    }
  }
  for (let k = 0; k < spec.params.length; k++) {
    const p = spec.params[k];
    if (p.type.kind === "register") continue;
    if (!given.has(p.name)) {
      if (p.default === undefined) {
        fail(loc, `'${spec.name}' needs '${p.name}=': ${p.doc}`, usage(spec));
      }
      bound.push({ param: p, expr: { e: "lit", value: p.default, loc } });
    }
  }
  return {
    vm: actor.vm,
    cpu: actor.cpu,
    source: actor.source,
    spec,
    args: bound.length > 0 ? bound : NO_ARGS,
    register,
    entries,
    loc,
  };
}

function resolveRegister(a: Value, type: ParamType, scope: Scope): NonNullable<Call["register"]> {
  if (type.kind !== "register") throw new Error("unreachable: not a register parameter");
  const segs: readonly Segment[] = a.kind === "path"
    ? segmentsOf(a.segments)
    : [{ kind: "field" as const, name: (a as { name: string }).name, loc: a.loc }];
  // Only a message needs them: a scenario names registers thousands of times.
  const names = () => type.files.flatMap((f) => f.registers.map((r) => `${f.prefix}.${r.name}`));
  // A prefix is one or more words; a `vcpu#` word matches `vcpu<n>` and
  // records n (`vcpu1.info` is vCPU 1's vcpu_info).
  let file: (typeof type.files)[number] | undefined;
  let fileIndex: number | undefined;
  let fileIndexExpr: Expr | undefined;
  let used = 0;
  for (const f of type.files) {
    const words = f.prefix.split(".");
    let n: number | undefined;
    let nExpr: Expr | undefined;
    const ok = words.every((w, i) => {
      const sg = segs[i];
      if (!sg || sg.kind !== "field") return false;
      if ("index" in sg) {
        // `vcpu[$i].info`: numbered when the command runs, unless a constant.
        if (!w.endsWith("#") || sg.name !== w.slice(0, -1)) return false;
        const e = vcpuIndex(sg.index, scope);
        if (e.e === "lit" && typeof e.value === "number") n = e.value;
        else nExpr = e;
        return true;
      }
      if (!w.endsWith("#")) return sg.name === w;
      const m = /^(\d+)$/.exec(sg.name.slice(w.length - 1));
      if (!sg.name.startsWith(w.slice(0, -1)) || !m) return false;
      n = Number(m[1]);
      return true;
    });
    if (ok) {
      file = f;
      fileIndex = n;
      fileIndexExpr = nExpr;
      used = words.length;
      break;
    }
  }
  if (!file || segs.length <= used || segs[used].kind !== "field") {
    fail(
      a.loc,
      `expected a register such as '${names()[0]}'`,
      suggest(sliceOf(scope.ctx, a.loc).replace(/vcpu\d+/, "vcpu#"), names()),
    );
  }
  const shown = fileIndexExpr !== undefined
    ? file.prefix.replace(/vcpu#/, `vcpu[${sliceOf(scope.ctx, fileIndexExpr.loc)}]`)
    : fileIndex === undefined
    ? file.prefix
    : file.prefix.replace(/vcpu#/, `vcpu${fileIndex}`);
  if (fileIndex !== undefined && scope.actor) {
    const vcpus = scope.vms[scope.actor.vm].vcpus;
    if (fileIndex >= vcpus) fail(segs[0].loc, `there is no vcpu${fileIndex} (the vm has ${vcpus})`);
  }
  // Register names may hold dots (`time.version`): take the longest that matches.
  let spec: (typeof file.registers)[number] | undefined;
  let end = used;
  for (let k = used, words: string[] = []; k < segs.length && segs[k].kind === "field"; k++) {
    words.push((segs[k] as { name: string }).name);
    const found = file.registers.find((r) => r.name === words.join("."));
    if (found) {
      spec = found;
      end = k + 1;
    }
  }
  let name = (segs[used] as { name: string }).name;
  if (!spec) {
    fail(
      segs[used].loc,
      `unknown register '${shown}.${name}'`,
      suggest(`${file.prefix}.${name}`, names()),
    );
  }
  name = spec.name;
  let index: Expr | null = null;
  const count = spec.countFor && scope.actor
    ? spec.countFor(scope.vms[scope.actor.vm].settings)
    : spec.count;
  if (count !== undefined && (segs[end]?.kind === "index" || !spec.indexOptional)) {
    const idx = segs[end];
    if (!idx || idx.kind !== "index") {
      fail(a.loc, `'${shown}.${name}' is indexed: write ${shown}.${name}[n]`);
    }
    index = lowerTyped(idx.index, {
      kind: "int",
      min: 0,
      max: count - 1,
      what: `${name} index`,
      decimal: true,
    }, scope);
    if (segs.length > end + 1) fail(segs[end + 1].loc, "unexpected path step after the register");
  } else if (segs.length > end) {
    fail(segs[end].loc, "unexpected path step after the register");
  }
  if (fileIndexExpr !== undefined) {
    return { spec, file, index, raw: null, fields: [], fileIndex: 0, fileIndexExpr };
  }
  return fileIndex === undefined
    ? { spec, file, index, raw: null, fields: [] }
    : { spec, file, index, raw: null, fields: [], fileIndex };
}

/** Splits a command's block into entries, each starting at the entry parameter. */
function lowerEntries(
  block: WordBlock,
  spec: CommandSpec,
  scope: Scope,
): Array<ReadonlyArray<{ param: ParamSpec; expr: Expr }>> {
  const b = spec.block!;
  const entries: Array<{ param: ParamSpec; expr: Expr }[]> = [];
  const given: Map<string, Loc>[] = [];
  for (const item of block.items) {
    if (item.kind !== "kv") {
      fail(item.loc, `entries of '${spec.name}' are written name=value, starting with ${b.entry}=`);
    }
    if (item.key === b.entry) {
      entries.push([]);
      given.push(new Map());
    }
    if (entries.length === 0) fail(item.keyLoc, `each entry starts with ${b.entry}=`);
    const param = b.params.find((p) => p.name === item.key);
    if (!param) {
      fail(
        item.keyLoc,
        `an entry has no field '${item.key}'`,
        suggest(item.key, b.params.map((p) => p.name)),
      );
    }
    const seen = given[given.length - 1];
    const prev = seen.get(item.key);
    if (prev) {
      fail(item.keyLoc, `'${item.key}' given twice in one entry`, undefined, [{
        loc: prev,
        message: "first given here",
      }]);
    }
    seen.set(item.key, item.keyLoc);
    entries[entries.length - 1].push({ param, expr: lowerTyped(item.value, param.type, scope) });
  }
  return entries.map((e) => {
    for (const p of b.params) {
      if (!e.some((x) => x.param === p)) {
        if (p.default === undefined) fail(block.loc, `an entry lacks '${p.name}='`);
        e.push({ param: p, expr: { e: "lit", value: p.default, loc: block.loc } });
      }
    }
    return e;
  });
}

/** The name of a register command's whole value: `write lapic.tpr value=0x50`. */
const RAW_VALUE = "value";

/** `[gsi=]<...>` marks a main argument, which may be written with or without its name. */
function usage(spec: CommandSpec): string {
  const main = mainParams(spec);
  const parts = spec.params.map((p) => {
    const body = p.type.kind === "register"
      ? `<register> [field=value ...]`
      : main.includes(p)
      ? `[${p.name}=]<${describeType(p.type)}>`
      : `${p.name}=<${describeType(p.type)}>`;
    return p.default === undefined ? body : `[${body}]`;
  });
  return `usage: ${spec.name} ${parts.join(" ")}`.trimEnd();
}

// ---- values --------------------------------------------------------------------

/** Lowers a value and, when it is a literal, checks it against `type` now. */
function lowerTyped(v: Value, type: ParamType, scope: Scope): Expr {
  if (type.kind === "enum" && v.kind === "ident") {
    if (!type.values.includes(v.name)) {
      fail(
        v.loc,
        `'${v.name}' is not one of: ${type.values.join(", ")}`,
        suggest(v.name, type.values),
      );
    }
    return { e: "lit", value: v.name, loc: v.loc };
  }
  if (type.kind === "bool" && v.kind === "ident" && (v.name === "true" || v.name === "false")) {
    return { e: "lit", value: v.name === "true" ? 1 : 0, loc: v.loc };
  }
  const expr = lowerValue(v, scope);
  const lit = staticValue(expr);
  if (lit !== undefined) {
    const r = coerce(type, lit);
    if (!r.ok) fail(v.loc, r.why);
    return { e: "lit", value: r.value, loc: v.loc };
  }
  return expr;
}

/** Expressions nest at most this deep (a chain `a + b + c` counts one level per operator). */
export const MAX_EXPRESSION_DEPTH = 256;

/** Measures nesting without recursion, so a pathological chain cannot overflow the stack. */
function expressionDepth(root: Value): number {
  let deepest = 0;
  const stack: Array<[Value, number]> = [[root, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    if (d > MAX_EXPRESSION_DEPTH) break;
    if (v.kind === "binary") stack.push([v.left, d + 1], [v.right, d + 1]);
    else if (v.kind === "unary" || v.kind === "neg") stack.push([v.operand, d + 1]);
    else if (v.kind === "paren") stack.push([v.expr, d + 1]);
    else if (v.kind === "range") stack.push([v.from, d + 1], [v.to, d + 1]);
  }
  return deepest;
}

function lowerValue(v: Value, scope: Scope): Expr {
  if (
    (v.kind === "binary" || v.kind === "paren" || v.kind === "unary") &&
    expressionDepth(v) > MAX_EXPRESSION_DEPTH
  ) {
    fail(
      v.loc,
      `expression nested more than ${MAX_EXPRESSION_DEPTH} deep`,
      "split it with 'let $part = ...'",
    );
  }
  return lowerValueTree(v, scope);
}

/**
 * An operator node; folded now when every operand is a literal, so that an
 * overflow in literals is reported by the checker, at the operator.
 */
function lowerOp(op: Expr & { e: "op" }): Expr {
  const values = op.args.map(staticValue);
  if (values.some((x) => x === undefined)) return op;
  const r = applyOp(op.op, values as Val[]);
  if (typeof r === "string") fail(op.loc, r);
  return { e: "lit", value: r, loc: op.loc };
}

// Made once: a BigInt is a new heap object each time `BigInt()` makes one.
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

function lowerValueTree(v: Value, scope: Scope): Expr {
  switch (v.kind) {
    case "binary":
      return lowerOp({
        e: "op",
        op: v.op,
        args: [lowerValueTree(v.left, scope), lowerValueTree(v.right, scope)],
        loc: v.loc,
      });
    case "unary":
      return lowerOp({ e: "op", op: v.op, args: [lowerValueTree(v.operand, scope)], loc: v.loc });
    case "paren": {
      const inner = lowerValueTree(v.expr, scope);
      return { ...inner, loc: v.loc };
    }
    case "condition":
      return { e: "cond", cond: lowerCondition(v.condition, scope), loc: v.loc };
    case "number":
      if (v.value > U64_MAX) {
        fail(v.loc, `${v.text} does not fit in 64 bits (the largest value is 0xffffffffffffffff)`);
      }
      return {
        e: "lit",
        value: v.value <= MAX_SAFE_BIG ? Number(v.value) : v.value,
        loc: v.loc,
      };
    case "duration":
      return { e: "lit", value: v.ns, loc: v.loc };
    case "string":
      return { e: "lit", value: v.value, loc: v.loc };
    case "var":
      // A handler is lowered once per vCPU it is declared on (`on vcpu[0..3]`): its own
      // number is a constant there, as smp_id() is to the guest's handler.
      if (v.name === HANDLER_VCPU && scope.inHandler && scope.actor !== null) {
        return { e: "lit", value: scope.actor.cpu, loc: v.loc };
      }
      if (!scope.vars.has(v.name)) {
        const handlerVar = scope.vms.some((vm) =>
          vm.platform.handlerEvents.some((h) => h.binds?.some((b) => b.name === v.name))
        );
        if (v.name === HANDLER_VCPU) {
          fail(
            v.loc,
            `'$${HANDLER_VCPU}' is bound only in a handler's body, to the number of its vCPU`,
            "outside a handler, name the vCPU: 'vcpu[$i]' in a loop 'for $i in 0..3'",
          );
        }
        if (handlerVar) {
          fail(
            v.loc,
            `'$${v.name}' is bound only in a handler's body, to what the handler took`,
            `copy it there to keep it: 'let $last = $${v.name}'`,
          );
        }
        fail(
          v.loc,
          `'$${v.name}' is used before it is bound`,
          suggest(v.name, scope.vars) ??
            "bind it with 'let $x = ...' or '-> $x' first",
        );
      }
      return { e: "var", name: v.name, loc: v.loc };
    case "neg":
      return { e: "neg", operand: lowerValueTree(v.operand, scope), loc: v.loc };
    case "set":
      return { e: "set", items: v.items.map((x) => lowerValue(x, scope)), loc: v.loc };
    case "list":
      return { e: "list", items: v.items.map((x) => lowerValue(x, scope)), loc: v.loc };
    case "range":
      return {
        e: "range",
        from: lowerValue(v.from, scope),
        to: lowerValue(v.to, scope),
        loc: v.loc,
      };
    case "ident":
      return lowerConstant(v.name, v.loc, scope);
    case "path":
      return lowerPath(v, scope);
  }
}

function lowerConstant(name: string, loc: Loc, scope: Scope): Expr {
  for (const vm of scope.vms) {
    const c = vm.platform.constants[name];
    if (c !== undefined) return { e: "lit", value: c, loc };
  }
  const stateNames = scope.vms.flatMap((vm) =>
    vm.platform.state.map((s) => s.pattern.split(".")[0])
  );
  if (stateNames.includes(name) || /^vcpu\d+$/.test(name)) {
    fail(loc, `'${name}' is not a value by itself`, "read a field of it, such as vcpu0.lapic.isr");
  }
  const constants = scope.vms.flatMap((vm) => Object.keys(vm.platform.constants));
  fail(
    loc,
    `unknown name '${name}'`,
    suggest(name, constants) ?? "names of values are constants such as EINVAL",
  );
}

/**
 * A path's steps with `vcpu[E]` as one step (a `vcpu` field holding its
 * index), as the tables' `vcpu#` token is one: `vcpu[$i].lapic.isr` is
 * matched as `vcpu0.lapic.isr` is.
 */
type Segment = PathExpr["segments"][number] | {
  kind: "field";
  name: string;
  loc: Loc;
  index: Value;
};

function segmentsOf(segs: PathExpr["segments"]): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i], next = segs[i + 1];
    if (s.kind === "field" && s.name === "vcpu" && next?.kind === "index") {
      out.push({ kind: "field", name: "vcpu", loc: s.loc, index: next.index });
      i++;
    } else out.push(s);
  }
  return out;
}

/** Matches a written path against the state table of the VM it names. */
function lowerPath(p: PathExpr, scope: Scope): Expr {
  let segs = segmentsOf(p.segments);
  let vm = -1;
  const first = segs[0];
  if (first.kind === "field" && scope.vms.some((v) => v.name === first.name) && segs.length > 1) {
    vm = scope.vms.findIndex((v) => v.name === first.name);
    segs = segs.slice(1);
  } else {
    vm = resolveVm(undefined, p.loc, scope, sliceOf(scope.ctx, p.loc));
  }
  const decl = scope.vms[vm];
  for (const spec of statesFor(decl.platform.state, segs)) {
    const m = matchPattern(spec.pattern, segs, scope);
    if (!m) continue;
    checkBounds(spec, m.indexes, decl);
    return {
      e: "state",
      vm,
      spec,
      indexes: m.indexes,
      text: sliceOf(scope.ctx, p.loc),
      loc: p.loc,
    };
  }
  const patterns = decl.platform.state.map((s) => s.pattern);
  // Suggest a path as it is written (`vcpu0.lapic.isr`), not the table's pattern (`vcpu#...`).
  const head = segs[0];
  const cpu = head.kind === "field" && "index" in head
    ? `vcpu[${sliceOf(scope.ctx, head.index.loc)}]`
    : head.kind === "field" && /^vcpu\d+$/.test(head.name)
    ? head.name
    : "vcpuN";
  fail(
    p.loc,
    `unknown state path '${sliceOf(scope.ctx, p.loc)}'`,
    suggest(shapeOf(segs), patterns)?.replaceAll("vcpu#", cpu).replaceAll("[#]", "[n]") ??
      "'scn help state' lists readable paths",
  );
}

function shapeOf(segs: readonly Segment[]): string {
  return segs.map((s, i) => {
    if (s.kind === "index") return "[#]";
    const name = /^vcpu\d+$/.test(s.name) || "index" in s ? "vcpu#" : s.name;
    return i === 0 ? name : `.${name}`;
  }).join("");
}

// Every path written is tried against each pattern of its platform's state
// table, so the patterns (a fixed set) are split into tokens once.
const patternTokens = new Map<string, readonly string[]>();

function tokensOf(pattern: string): readonly string[] {
  let tokens = patternTokens.get(pattern);
  if (tokens === undefined) {
    tokens = pattern.match(/[A-Za-z_][A-Za-z0-9_]*#?|\[#\]/g) ?? [];
    patternTokens.set(pattern, tokens);
  }
  return tokens;
}

/** Whether `name` from `start` on is one or more ASCII digits. */
function digitsFrom(name: string, start: number): boolean {
  if (start >= name.length) return false;
  for (let i = start; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// A platform has hundreds of state paths. Those a written path can match
// are found once per length and first segment: the others fail there (the
// length, or the first token), before matchPattern lowers anything.
const STATES_BY_START = new WeakMap<
  readonly StateSpec<VmModel>[],
  Map<string, readonly StateSpec<VmModel>[]>
>();

function statesFor(
  states: readonly StateSpec<VmModel>[],
  segs: readonly Segment[],
): readonly StateSpec<VmModel>[] {
  const s = segs[0];
  const key = s.kind === "index"
    ? `${segs.length}[`
    : `${segs.length}${"index" in s ? "[" : "."}${s.name}`;
  let byStart = STATES_BY_START.get(states);
  if (byStart === undefined) STATES_BY_START.set(states, byStart = new Map());
  let list = byStart.get(key);
  if (list === undefined) {
    list = states.filter((spec) => {
      const tokens = tokensOf(spec.pattern);
      return tokens.length === segs.length && firstTokenMatches(tokens[0], s);
    });
    byStart.set(key, list);
  }
  return list;
}

/** What {@link matchPattern} asks of the first segment, without lowering anything. */
function firstTokenMatches(t: string, s: Segment): boolean {
  if (t === "[#]") return s.kind === "index";
  if (t.endsWith("#")) {
    if (s.kind !== "field") return false;
    const stem = t.length - 1;
    if ("index" in s) return s.name.length === stem && t.startsWith(s.name);
    return s.name.startsWith(t.slice(0, stem)) && digitsFrom(s.name, stem);
  }
  return s.kind === "field" && s.name === t;
}

function matchPattern(
  pattern: string,
  segs: readonly Segment[],
  scope: Scope,
): { indexes: Expr[] } | null {
  const tokens = tokensOf(pattern);
  if (tokens.length !== segs.length) return null;
  // Most candidates (every `vcpu#.x.y` for `vcpu0.lapic.isr`) fail at a name: found
  // first, with nothing built, up to the first index to lower (an error there is
  // raised in token order, as below).
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i], s = segs[i];
    if (t === "[#]") {
      if (s.kind !== "index") return null;
      break;
    } else if (t.endsWith("#")) {
      if (s.kind !== "field") return null;
      const stem = t.length - 1;
      if ("index" in s) {
        if (s.name.length !== stem || !t.startsWith(s.name)) return null;
        break;
      }
      if (!s.name.startsWith(t.slice(0, stem)) || !digitsFrom(s.name, stem)) return null;
    } else if (s.kind !== "field" || s.name !== t) {
      return null;
    }
  }
  const indexes: Expr[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i], s = segs[i];
    if (t === "[#]") {
      if (s.kind !== "index") return null;
      indexes.push(lowerValue(s.index, scope));
    } else if (t.endsWith("#")) {
      if (s.kind !== "field") return null;
      const stem = t.length - 1;
      // `vcpu#` matches `vcpu[E]`, or `vcpu` and a decimal number.
      if ("index" in s) {
        if (s.name.length !== stem || !t.startsWith(s.name)) return null;
        indexes.push(vcpuIndex(s.index, scope));
        continue;
      }
      if (!s.name.startsWith(t.slice(0, stem)) || !digitsFrom(s.name, stem)) return null;
      indexes.push({ e: "lit", value: Number(s.name.slice(stem)), loc: s.loc });
    } else if (s.kind !== "field" || s.name !== t) {
      return null;
    }
  }
  return { indexes };
}

function checkBounds(spec: StateSpec, indexes: Expr[], decl: VmDecl): void {
  if (!spec.bounds) return;
  // Bounds need a VM; the checker has only its settings, so bound-check what
  // the settings fix (vCPU numbers) and leave the rest to run time.
  const vcpuSlot = spec.pattern.split(".").findIndex((t) => t === "vcpu#");
  if (vcpuSlot === 0) {
    const e = indexes[0];
    if (e.e === "lit" && typeof e.value === "number" && e.value >= decl.vcpus) {
      fail(e.loc, `vm '${decl.name}' has no vcpu${e.value} (it has ${decl.vcpus})`, undefined, [
        { loc: decl.loc, message: "the vm is declared here" },
      ]);
    }
  }
}

// ---- conditions ---------------------------------------------------------------

/** Conditions nest at most this deep (and/or chains count one level per operand). */
export const MAX_CONDITION_DEPTH = 256;

/** Measures nesting without recursion, so a pathological chain cannot overflow the stack. */
function conditionDepth(root: Condition): number {
  let deepest = 0;
  const stack: Array<[Condition, number]> = [[root, 1]];
  while (stack.length) {
    const [c, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    if (d > MAX_CONDITION_DEPTH) break;
    if (c.kind === "and" || c.kind === "or") stack.push([c.left, d + 1], [c.right, d + 1]);
    else if (c.kind === "not") stack.push([c.operand, d + 1]);
  }
  return deepest;
}

function lowerCondition(c: Condition, scope: Scope): Cond {
  if (conditionDepth(c) > MAX_CONDITION_DEPTH) {
    fail(
      c.loc,
      `condition nested more than ${MAX_CONDITION_DEPTH} deep`,
      "split it into several expectations",
    );
  }
  return lowerConditionTree(c, scope);
}

function lowerConditionTree(c: Condition, scope: Scope): Cond {
  switch (c.kind) {
    case "and":
    case "or":
      return {
        c: c.kind,
        left: lowerConditionTree(c.left, scope),
        right: lowerConditionTree(c.right, scope),
        loc: c.loc,
      };
    case "not":
      return { c: "not", operand: lowerConditionTree(c.operand, scope), loc: c.loc };
    case "truthy":
      return { c: "truthy", expr: lowerOperand(c.operand, scope, null), loc: c.loc };
    case "compare": {
      const left = lowerOperand(c.left, scope, null);
      const right = lowerOperand(c.right, scope, typeOf(left));
      return {
        c: "cmp",
        op: c.op,
        left: retype(left, c.left, scope, typeOf(right)),
        right,
        loc: c.loc,
      };
    }
    case "took": {
      const chosen = runTimeVcpu(c.actor, scope);
      if (chosen !== null) {
        return {
          c: "select",
          vm: chosen.vm,
          index: chosen.index,
          variants: forEachVcpu(chosen, scope, (actor) => lowerTook(c, actor, scope)),
          text: chosen.text,
          loc: c.loc,
        };
      }
      return lowerTook(c, resolveActor(c.actor, scope), scope);
    }
  }
}

function lowerTook(c: Condition & { kind: "took" }, actor: ActorRef, scope: Scope): Cond {
  if (actor.kind !== "vcpu") fail(c.actor.loc, "only vCPUs take interrupts");
  if (c.spec.inOrder) scope.ctx.tookInOrder = true;
  return {
    c: "took",
    vm: actor.vm,
    cpu: actor.cpu,
    cpuName: actor.source,
    nothing: c.spec.nothing,
    values: c.spec.values.map((v) => lowerTookValue(v, actor.vm, scope)),
    count: c.spec.count ? lowerValue(c.spec.count.value, scope) : null,
    inOrder: c.spec.inOrder,
    loc: c.loc,
  };
}

/**
 * A `took` value: a handler event that takes no value (`nmi`, `irq`) names
 * the kind of take, so `took nmi` cannot be confused with vector 2; anything
 * else is an ordinary value (a vector or INTID).
 */
function lowerTookValue(v: Value, vm: number, scope: Scope): Expr {
  if (v.kind === "ident") {
    const event = scope.vms[vm].platform.handlerEvents.find((e) => e.name === v.name);
    if (event && !event.takesValue) return { e: "lit", value: v.name, loc: v.loc };
  }
  return lowerValue(v, scope);
}

function typeOf(e: Expr): ParamType | null {
  return e.e === "state" ? e.spec.type : null;
}

/** Identifiers compared with an enum-typed path are that enum's names. */
function lowerOperand(o: Operand, scope: Scope, against: ParamType | null): Expr {
  if (o.kind === "query") {
    if (!scope.actor) {
      fail(o.loc, "a query needs a vCPU: write it inside 'vcpu0: if ...' or a handler");
    }
    const call = lowerCall(o.args, undefined, scope.actor, scope, o.loc);
    if (!call.spec.returns) fail(o.loc, `'${call.spec.name}' returns no value to test`);
    return { e: "query", call, loc: o.loc };
  }
  if (against?.kind === "enum" && o.value.kind === "ident") {
    return lowerTyped(o.value, against, scope);
  }
  return lowerValue(o.value, scope);
}

function retype(e: Expr, o: Operand, scope: Scope, against: ParamType | null): Expr {
  if (against?.kind === "enum" && o.kind === "value" && o.value.kind === "ident") {
    return lowerTyped(o.value, against, scope);
  }
  return e;
}

// ---- static evaluation ----------------------------------------------------------

/** The value of an expression made only of literals, or undefined. */
export function staticValue(e: Expr): Val | undefined {
  switch (e.e) {
    case "lit":
      return e.value;
    case "neg": {
      const v = staticValue(e.operand);
      return typeof v === "number" ? -v : typeof v === "bigint" ? -v : undefined;
    }
    case "set":
    case "list": {
      // A range among the items stands for its elements: {0..3, 8}.
      const items = e.items.flatMap((x) => {
        const v = staticValue(x);
        return x.e === "range" && Array.isArray(v) ? v : [v];
      });
      if (items.some((x) => typeof x !== "number" && typeof x !== "bigint")) return undefined;
      const ints = items as Int[];
      return e.e === "set" ? [...new Set(ints)].sort(compareInts) : ints;
    }
    case "op": {
      const values = e.args.map(staticValue);
      if (values.some((x) => x === undefined)) return undefined;
      const r = applyOp(e.op, values as Val[]);
      return typeof r === "string" ? undefined : r;
    }
    case "range": {
      const a = staticValue(e.from), b = staticValue(e.to);
      if (typeof a === "number" && typeof b === "number") {
        const out: number[] = [];
        for (let i = a; i <= b && out.length <= 4096; i++) out.push(i);
        return out;
      }
      if (
        (typeof a !== "number" && typeof a !== "bigint") ||
        (typeof b !== "number" && typeof b !== "bigint")
      ) {
        return undefined;
      }
      const out: Int[] = [];
      for (let i = BigInt(a); i <= BigInt(b) && out.length <= 4096; i++) out.push(toInt(i));
      return out;
    }
    default:
      return undefined;
  }
}

function evalStatic(e: Expr): Val {
  const v = staticValue(e);
  if (v === undefined) fail(e.loc, "this must be a literal value (no variables or state)");
  return v;
}
