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
import type { Platform } from "../lib/interp/platform.ts";

/** A VM declared with `vm name { ... }`. */
export interface VmDecl {
  name: string;
  platform: Platform;
  settings: Readonly<Record<string, Val>>;
  vcpus: number;
  loc: Loc;
}

/** An expression evaluated at run time. */
export type Expr =
  | { e: "lit"; value: Val; loc: Loc }
  | { e: "var"; name: string; loc: Loc }
  | { e: "neg"; operand: Expr; loc: Loc }
  | { e: "set"; items: Expr[]; loc: Loc }
  | { e: "list"; items: Expr[]; loc: Loc }
  | { e: "range"; from: Expr; to: Expr; loc: Loc }
  | { e: "state"; vm: number; spec: StateSpec; indexes: Expr[]; text: string; loc: Loc }
  | { e: "query"; call: Call; loc: Loc };

/** A resolved command with its argument expressions. */
export interface Call {
  vm: number;
  /** The vCPU index for vCPU actors, else -1. */
  cpu: number;
  /** How the actor is named in the trace: `vcpu0`, `vmm`, `device nic`. */
  source: string;
  spec: CommandSpec;
  args: ReadonlyArray<{ param: ParamSpec; expr: Expr }>;
  /** For commands with a block: the arguments of each entry. */
  entries?: ReadonlyArray<ReadonlyArray<{ param: ParamSpec; expr: Expr }>>;
  register?: {
    spec: RegisterSpec;
    file: RegisterFile;
    index: Expr | null;
    raw: Expr | null;
    fields: ReadonlyArray<{ field: FieldSpec; expr: Expr }>;
  };
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
    vm: number;
    cpu: number;
    cpuName: string;
    nothing: boolean;
    values: Expr[];
    count: Expr | null;
    inOrder: boolean;
    loc: Loc;
  };

/** One step of the timeline. */
export type Op =
  | { op: "do"; call: Call; bind: string | null; loc: Loc }
  | { op: "if"; cond: Cond; then: Op[]; else: Op[]; loc: Loc }
  | { op: "run"; duration: Expr | null; loc: Loc }
  | { op: "expect"; cond: Cond; text: string; loc: Loc }
  | { op: "always"; cond: Cond; text: string; loc: Loc }
  | { op: "let"; name: string; value: Expr; loc: Loc }
  | { op: "repeat"; count: Expr; body: Op[]; loc: Loc }
  | { op: "for"; name: string; items: Expr; body: Op[]; loc: Loc }
  | { op: "parallel"; body: Op[]; loc: Loc };

/** What a vCPU does when it takes an interrupt. */
export interface HandlerDecl {
  vm: number;
  cpu: number;
  event: string;
  /** The vectors it is for, or null for any. */
  values: readonly number[] | null;
  body: Op[];
  loc: Loc;
}

/** A checked scenario. */
export interface Program {
  /** The file it came from. */
  file: string;
  title: string;
  tags: string[];
  links: string[];
  expectFailure: { reason: string; loc: Loc } | null;
  vms: VmDecl[];
  handlers: HandlerDecl[];
  body: Op[];
  /** The text of every source read (the file and its includes), for quoting in messages. */
  sources: ReadonlyMap<string, string>;
}
