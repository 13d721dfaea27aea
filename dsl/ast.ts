/**
 * The syntax tree of a `.scn` file, as the generated parser builds it.
 *
 * The tree is deliberately device-blind: a command is a list of words, a `vm`
 * body is a stream of words and nested blocks. Meaning comes later, in the
 * checker, from the tables the model modules publish.
 *
 * @module
 */

export type { Loc, Position, SourceLines } from "../lib/core/loc.ts";
import type { Loc, SourceLines } from "../lib/core/loc.ts";

/** A number literal; kept as bigint so 64-bit register values survive. */
export interface NumberLit {
  /** The node type. */
  kind: "number";
  /** The value; bigint so that 64-bit register values survive. */
  value: bigint;
  /** The literal as written (`0xf3`, `0b101`, `1_000`). */
  text: string;
  /** Where it is in the source. */
  loc: Loc;
}
/** A duration literal, in nanoseconds. */
export interface DurationLit {
  /** The node type. */
  kind: "duration";
  /** The duration in nanoseconds. */
  ns: number;
  /** The literal as written. */
  text: string;
  /** Where it is in the source. */
  loc: Loc;
}
/** A double-quoted string. */
export interface StringLit {
  /** The node type. */
  kind: "string";
  /** The text between the quotes, escapes resolved. */
  value: string;
  /** Where it is in the source. */
  loc: Loc;
}
/** `$name`. */
export interface VarRef {
  /** The node type. */
  kind: "var";
  /** The name as written. */
  name: string;
  /** Where it is in the source. */
  loc: Loc;
}
/** A bare identifier (`extint`, `EINVAL`, `kvm-xen`). */
export interface Ident {
  /** The node type. */
  kind: "ident";
  /** The name as written. */
  name: string;
  /** Where it is in the source. */
  loc: Loc;
}
/** A dotted path with optional indexes: `vcpu0.lapic.isr`, `ioapic.pin[14].remote_irr`. */
export interface PathExpr {
  /** The node type. */
  kind: "path";
  /** The steps of the path. */
  segments: PathSegment[];
  /** Where it is in the source. */
  loc: Loc;
}
/** One step of a path: a name, or an index in brackets. */
export type PathSegment =
  | { kind: "field"; name: string; loc: Loc }
  | { kind: "index"; index: Value; loc: Loc };
/** `{a, b}`. */
export interface SetLit {
  /** The node type. */
  kind: "set";
  /** The elements, in written order. */
  items: Value[];
  /** Where it is in the source. */
  loc: Loc;
}
/** `[a, b]`. */
export interface ListLit {
  /** The node type. */
  kind: "list";
  /** The elements, in written order. */
  items: Value[];
  /** Where it is in the source. */
  loc: Loc;
}
/** `lo..hi`, inclusive. */
export interface RangeLit {
  /** The node type. */
  kind: "range";
  /** The first value. */
  from: Value;
  /** The last value, included. */
  to: Value;
  /** Where it is in the source. */
  loc: Loc;
}
/** `-x`: a negative number, as errno values are written (`-EINVAL`). */
export interface NegLit {
  /** The node type. */
  kind: "neg";
  /** The value negated. */
  operand: Value;
  /** Where it is in the source. */
  loc: Loc;
}

/** A binary operator of an expression, as written. */
export type BinaryOp = "+" | "-" | "*" | "/" | "%" | "<<" | ">>" | "&" | "|" | "^";

/** `a op b`: arithmetic and bit operations on unsigned 64-bit numbers. */
export interface BinaryExpr {
  /** The node type. */
  kind: "binary";
  /** The operator. */
  op: BinaryOp;
  /** The left operand. */
  left: Value;
  /** The right operand. */
  right: Value;
  /** Where it is in the source. */
  loc: Loc;
}
/** `~a`: the 64-bit complement. */
export interface UnaryExpr {
  /** The node type. */
  kind: "unary";
  /** The operator. */
  op: "~";
  /** The value complemented. */
  operand: Value;
  /** Where it is in the source. */
  loc: Loc;
}
/** `(a)`: kept so that `scn fmt` prints the parentheses the author wrote. */
export interface ParenExpr {
  /** The node type. */
  kind: "paren";
  /** The expression inside. */
  expr: Value;
  /** Where it is in the source. */
  loc: Loc;
}

/** `($a == 1)`: a condition used as a value, 1 when it holds and 0 when not. */
export interface ConditionValue {
  /** The node type. */
  kind: "condition";
  /** The condition inside the parentheses. */
  condition: Condition;
  /** Where it is in the source. */
  loc: Loc;
}

/** Any value that can appear as an argument or operand. */
export type Value =
  | ConditionValue
  | BinaryExpr
  | UnaryExpr
  | ParenExpr
  | NumberLit
  | DurationLit
  | StringLit
  | VarRef
  | Ident
  | PathExpr
  | SetLit
  | ListLit
  | RangeLit
  | NegLit;

/** `name=value` in a command or a block. */
export interface KeyValue {
  /** The node type. */
  kind: "kv";
  /** The name before `=`. */
  key: string;
  /** Where the name is. */
  keyLoc: Loc;
  /** The value after `=`. */
  value: Value;
  /** Where it is in the source. */
  loc: Loc;
}

/** A word of a command: a positional value or a named argument. */
export type Arg = Value | KeyValue;

/** `{ ... }` holding words rather than statements (vm bodies, routing tables). */
export interface WordBlock {
  /** The node type. */
  kind: "words";
  /** The elements, in written order. */
  items: WordItem[];
  /** Where it is in the source. */
  loc: Loc;
}
/** A word inside a {@link WordBlock}. */
export type WordItem = Arg | WordBlock;

/** Who performs an action: `vcpu0`, `vmm`, `xen`, `device nic`, `guest.vcpu1`. */
export interface Actor {
  /** The node type. */
  kind: "actor";
  /** `vcpu`, `vmm`, `hypervisor name`, or `device`. */
  name: string;
  /** For `device X`, the device's name or number as written. */
  device?: string;
  /** The VM the actor belongs to when written `vm.actor`. */
  vm?: string;
  /**
   * For `vcpu[$i]`: the expression numbering the vCPU (`name` is then
   * `vcpu`). A handler's may be a range or a set (`on vcpu[0..3]`).
   */
  index?: Value;
  /** Where it is in the source. */
  loc: Loc;
}

/** A command: its words, an optional block argument, an optional result binding. */
export interface Command {
  /** The node type. */
  kind: "command";
  /** The words, in order. */
  args: Arg[];
  /** A block of words after the arguments, if any. */
  block?: WordBlock;
  /** The variable `-> $x` binds, if any. */
  bind?: VarRef;
  /** Where it is in the source. */
  loc: Loc;
}

/** The `took` part of `expect vcpu0 took ...`. */
export interface TookSpec {
  /** `nothing`, or the values that must have been taken. */
  nothing: boolean;
  /** The values, in written order. */
  values: Value[];
  /** `once` = 1, `twice` = 2, `N times` = N; absent = at least once each. */
  count?: { value: Value; loc: Loc };
  /** `in order`: the values must have been taken in this order. */
  inOrder: boolean;
  /** Where it is in the source. */
  loc: Loc;
}

/** A condition in `expect`, `always` and `if`. */
export type Condition =
  | { kind: "compare"; op: CompareOp; left: Operand; right: Operand; loc: Loc }
  | { kind: "truthy"; operand: Operand; loc: Loc }
  | { kind: "and" | "or"; left: Condition; right: Condition; loc: Loc }
  | { kind: "not"; operand: Condition; loc: Loc }
  | { kind: "took"; actor: Actor; spec: TookSpec; loc: Loc };

/** A comparison operator. */
export type CompareOp = "==" | "!=" | "<" | "<=" | ">" | ">=";

/** One side of a comparison: a value, or a query written as words (`bit shared.x[$p]`). */
export type Operand = { kind: "value"; value: Value; loc: Loc } | {
  /** The node type. */
  kind: "query";
  /** The words, in order. */
  args: Arg[];
  /** Where it is in the source. */
  loc: Loc;
};

/** A statement. */
export type Statement =
  | { kind: "scenario"; title: StringLit; loc: Loc }
  | { kind: "version"; version: NumberLit; loc: Loc }
  | { kind: "tags"; tags: { name: string; loc: Loc }[]; loc: Loc }
  | { kind: "link"; url: StringLit; loc: Loc }
  | { kind: "expect_failure"; reason: StringLit; loc: Loc }
  | { kind: "vm"; name: Ident; body: WordBlock; loc: Loc }
  | { kind: "let"; name: VarRef; value: Value; loc: Loc }
  | { kind: "include"; path: StringLit; loc: Loc }
  | { kind: "repeat"; count: Value; body: Statement[]; loc: Loc }
  | { kind: "for"; name: VarRef; iterable: Value; body: Statement[]; loc: Loc }
  | { kind: "parallel"; body: Statement[]; loc: Loc }
  | { kind: "handler"; actor: Actor; event: Arg[]; body: Statement[]; loc: Loc }
  | { kind: "run"; duration?: Value; loc: Loc }
  | { kind: "window"; actor: Actor; body: Statement[]; loc: Loc }
  | {
    kind: "expect";
    condition: Condition;
    /** Set for `expect failure "why": COND`, the expectation known to fail. */
    failure?: StringLit;
    loc: Loc;
  }
  | { kind: "always"; condition: Condition; loc: Loc }
  | { kind: "action"; actor: Actor; body: Statement; loc: Loc }
  | { kind: "if"; condition: Condition; then: Statement[]; else?: Statement[]; loc: Loc }
  | { kind: "do"; command: Command; loc: Loc };

/**
 * A `#` comment. Not part of the program: kept so that `scn fmt` can put it
 * back where the author wrote it.
 */
export interface Comment {
  /** The comment as written, from `#` to the end of its line. */
  text: string;
  /** Where it is in the source. */
  loc: Loc;
}

/**
 * Consecutive top-level statements of a skimmed parse whose syntax trees were
 * not kept (timeline that holds no include, vm block, metadata or `expect
 * failure`): their span, count and the variables they bind, parsed again
 * when lowered (`unskim` in `dsl/parse.ts`).
 */
export interface SkimmedRun {
  /** The node type. */
  kind: "skimmed";
  /** Offset of the first statement. */
  start: number;
  /** Offset just past the last statement. */
  end: number;
  /** How many statements. */
  count: number;
  /** The variables they bind (`let`, `for`, `-> $x`), at any depth, each once. */
  binds: string[];
  /**
   * Each statement's start and end offsets, in pairs (`skim`); empty in the
   * runs of a lazy `parse`, which are read by index, never by statement.
   */
  spans: ArrayLike<number>;
  /** The text they are in, its name and its lines. */
  from: SourceLines;
}

/** A top-level entry of a skimmed file: a statement, or a run of skimmed ones. */
export type TopLevel = Statement | SkimmedRun;

/** A parsed file. */
export interface ScnFile {
  /** The node type. */
  kind: "file";
  /** The statements, in order. */
  body: Statement[];
  /** Every comment, in source order, wherever it stands. */
  comments: Comment[];
  /** Where it is in the source. */
  loc: Loc;
}

/** A file parsed with its top-level actions skimmed (`skim` in `dsl/parse.ts`). */
export interface SkimmedFile {
  /** The node type. */
  kind: "file";
  /** The statements and skimmed runs, in order. */
  body: TopLevel[];
  /** None: a skimmed file keeps no comments (only a formatter needs them). */
  comments: [];
  /** Where it is in the source. */
  loc: Loc;
}
