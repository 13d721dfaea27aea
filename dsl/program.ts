/**
 * The checked form of a scenario: every name resolved against the model
 * tables, every include expanded, every literal range-checked. The
 * interpreter runs this, never the raw syntax tree.
 *
 * @module
 */
import type { Loc } from "./ast.ts";
import type {
  CommandSpec,
  FieldSpec,
  ParamSpec,
  RegisterFile,
  RegisterSpec,
  StateSpec,
  Val,
} from "../lib/core/table.ts";
import type { PlatformEntry, VmModel } from "../lib/core/platform.ts";
import type { ExprOp } from "../lib/core/u64.ts";
import type { Timeline } from "./timeline.ts";

/** A VM declared with `vm name { ... }`. */
export interface VmDecl {
  /** Its name. */
  name: string;
  /** The platform its `arch` names. */
  platform: PlatformEntry;
  /** Every setting, defaults filled in; nested ones as `gic.its`. */
  settings: Readonly<Record<string, Val>>;
  /** How many vCPUs it has. */
  vcpus: number;
  /** Where it is in the source. */
  loc: Loc;
}

/** An expression evaluated at run time. */
export type Expr =
  | { e: "lit"; value: Val; loc: Loc }
  | { e: "var"; name: string; loc: Loc }
  | { e: "neg"; operand: Expr; loc: Loc }
  /** An operator on unsigned 64-bit numbers: two operands, or one for `~`. */
  | { e: "op"; op: ExprOp; args: Expr[]; loc: Loc }
  | { e: "set"; items: Expr[]; loc: Loc }
  | { e: "list"; items: Expr[]; loc: Loc }
  | { e: "range"; from: Expr; to: Expr; loc: Loc }
  | { e: "state"; vm: number; spec: StateSpec<VmModel>; indexes: Expr[]; text: string; loc: Loc }
  | { e: "query"; call: Call; loc: Loc }
  /** `($a == 1)`: 1 when the condition holds, else 0. */
  | { e: "cond"; cond: Cond; loc: Loc };

/** A resolved command with its argument expressions. */
export interface Call {
  /** Index of the VM in `Program.vms`. */
  vm: number;
  /** The vCPU index for vCPU actors, else -1. */
  cpu: number;
  /** How the actor is named in the trace: `vcpu0`, `vmm`, `device nic`. */
  source: string;
  /** The command as its table declares it (its platform's entry: any VM of that platform). */
  spec: CommandSpec<VmModel>;
  /** Each parameter with the expression giving its value. */
  args: ReadonlyArray<{ param: ParamSpec; expr: Expr }>;
  /** For commands with a block: the arguments of each entry. */
  entries?: ReadonlyArray<ReadonlyArray<{ param: ParamSpec; expr: Expr }>>;
  /** For register parameters: which register, element and fields. */
  register?: {
    /** The command as its table declares it. */
    spec: RegisterSpec;
    file: RegisterFile;
    index: Expr | null;
    raw: Expr | null;
    fields: ReadonlyArray<{ field: FieldSpec; expr: Expr }>;
    /** The vCPU number matched by a `vcpu#` in the file's prefix (`vcpu1.info`). */
    fileIndex?: number;
    /** For `vcpu[$i].info`: the expression numbering that vCPU, evaluated when the call runs. */
    fileIndexExpr?: Expr;
  };
  /** Where it is in the source. */
  loc: Loc;
}

/** A condition of `expect`, `always` or `if`. */
export type Cond =
  | { c: "cmp"; op: "==" | "!=" | "<" | "<=" | ">" | ">="; left: Expr; right: Expr; loc: Loc }
  | { c: "truthy"; expr: Expr; loc: Loc }
  | { c: "and" | "or"; left: Cond; right: Cond; loc: Loc }
  | { c: "not"; operand: Cond; loc: Loc }
  | {
    c: "took";
    /** Index of the VM in `Program.vms`. */
    vm: number;
    /** The vCPU index, or -1. */
    cpu: number;
    cpuName: string;
    nothing: boolean;
    values: Expr[];
    count: Expr | null;
    inOrder: boolean;
    /** Where it is in the source. */
    loc: Loc;
  }
  /**
   * `vcpu[$i] took ...`: the vCPU numbered when the condition is evaluated;
   * `variants[n]` is the condition written for vCPU n.
   */
  | { c: "select"; vm: number; index: Expr; variants: readonly Cond[]; text: string; loc: Loc };

/** One step of the timeline. */
export type Op =
  | { op: "do"; call: Call; bind: string | null; loc: Loc }
  | { op: "if"; cond: Cond; then: Op[]; else: Op[]; loc: Loc }
  | { op: "run"; duration: Expr | null; loc: Loc }
  /** `run vcpu0 { ... }`: the body, with an instruction boundary before each of the vCPU's instructions and after the last statement. */
  | { op: "window"; vm: number; cpu: number; body: Op[]; loc: Loc }
  | { op: "expect"; cond: Cond; text: string; loc: Loc }
  | { op: "always"; cond: Cond; text: string; loc: Loc }
  | { op: "let"; name: string; value: Expr; loc: Loc }
  | { op: "repeat"; count: Expr; body: Op[]; loc: Loc }
  | { op: "for"; name: string; items: Expr; body: Op[]; loc: Loc }
  | { op: "parallel"; body: Op[]; loc: Loc }
  /**
   * `vcpu[$i]: ...` or `run vcpu[$i] { }`: the statement of the vCPU the
   * index numbers when it runs; `variants[n]` is the statement written for
   * vCPU n (a constant index is folded to that statement by the checker).
   * `text` is the index as written, for messages.
   */
  | { op: "select"; vm: number; index: Expr; variants: readonly Op[]; text: string; loc: Loc }
  /**
   * Top-level statements of a long file kept as data (dsl/timeline.ts): runs
   * as its ops (`timeline.op(i)`) one after another would, each a step.
   */
  | { op: "timeline"; timeline: Timeline<Op>; loc: Loc };

/** What a vCPU does when it takes an interrupt. */
export interface HandlerDecl {
  /** Index of the VM in `Program.vms`. */
  vm: number;
  /** The vCPU index, or -1. */
  cpu: number;
  /** What it handles: `vector`, `nmi`, `irq`. */
  event: string;
  /** The vectors it is for, or null for any. */
  values: readonly number[] | null;
  /** Variables bound in its body to what was taken (`$vector`), from the event's table entry. */
  binds: readonly { name: string; from: "vector" | "ack" }[];
  /** The statements, in order. */
  body: Op[];
  /** Where it is in the source. */
  loc: Loc;
}

/**
 * A tag saying the scenario documents a race: its marked expectation holds in
 * the written order and `scn explore` must find an order where it fails.
 */
export const KNOWN_RACE_TAG = "known-race";

/**
 * The one expectation a scenario says is known to fail. A run is XFAIL only
 * when every failure is this expectation's; any other failure makes it FAIL,
 * and this one holding makes it XPASS.
 */
export interface ExpectedFailure {
  /** Why it fails: the bug or race it reproduces. */
  reason: string;
  /** The marked `expect` statement; failures there are the expected ones. */
  loc: Loc;
  /**
   * Tagged `known-race`: the expectation holds in the written order (`scn run`
   * checks it like any other) and fails in some order `scn explore` finds.
   */
  race: boolean;
}

/** A checked scenario. */
export interface Program {
  /** The file it came from. */
  file: string;
  /** The scenario's title. */
  title: string;
  /** Its tags, catalogue IDs included. */
  tags: string[];
  /** Its links. */
  links: string[];
  /** The expectation marked `expect failure "why": COND`, if any. */
  expectFailure: ExpectedFailure | null;
  /** The VMs, in declaration order. */
  vms: VmDecl[];
  /** Every handler, in declaration order. */
  handlers: HandlerDecl[];
  /** The statements, in order. */
  body: Op[];
  /** The text of every source read (the file and its includes), for quoting in messages. */
  sources: ReadonlyMap<string, string>;
  /**
   * Whether the checker lowered a `took ... in order` condition into it.
   * False lets a run skip looking for them (lib/engine/history.ts); a
   * program the checker did not make leaves it out and is searched.
   */
  tookInOrder?: boolean;
}

/** A `parallel` block: the ops whose interleavings `scn explore` searches. */
export type ParallelOp = Extract<Op, { op: "parallel" }>;
