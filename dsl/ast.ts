/**
 * The syntax tree of a `.scn` file, as the generated parser builds it.
 *
 * The tree is deliberately device-blind: a command is a list of words, a `vm`
 * body is a stream of words and nested blocks. Meaning comes later, in the
 * checker, from the tables the model modules publish.
 *
 * @module
 */

/** A point in a source text (1-based line and column, 0-based offset). */
export interface Position {
  offset: number;
  line: number;
  column: number;
}

/** A range of a source text, with the name of the text it belongs to. */
export interface Loc {
  source: string;
  start: Position;
  end: Position;
}

/** A number literal; kept as bigint so 64-bit register values survive. */
export interface NumberLit {
  kind: "number";
  value: bigint;
  /** The literal as written (`0xf3`, `0b101`, `1_000`). */
  text: string;
  loc: Loc;
}
/** A duration literal, in nanoseconds. */
export interface DurationLit {
  kind: "duration";
  ns: number;
  text: string;
  loc: Loc;
}
/** A double-quoted string. */
export interface StringLit {
  kind: "string";
  value: string;
  loc: Loc;
}
/** `$name`. */
export interface VarRef {
  kind: "var";
  name: string;
  loc: Loc;
}
/** A bare identifier (`extint`, `EINVAL`, `kvm-xen`). */
export interface Ident {
  kind: "ident";
  name: string;
  loc: Loc;
}
/** A dotted path with optional indexes: `vcpu0.lapic.isr`, `ioapic.pin[14].remote_irr`. */
export interface PathExpr {
  kind: "path";
  segments: PathSegment[];
  loc: Loc;
}
/** One step of a path: a name, or an index in brackets. */
export type PathSegment =
  | { kind: "field"; name: string; loc: Loc }
  | { kind: "index"; index: Value; loc: Loc };
/** `{a, b}`. */
export interface SetLit {
  kind: "set";
  items: Value[];
  loc: Loc;
}
/** `[a, b]`. */
export interface ListLit {
  kind: "list";
  items: Value[];
  loc: Loc;
}
/** `lo..hi`, inclusive. */
export interface RangeLit {
  kind: "range";
  from: Value;
  to: Value;
  loc: Loc;
}
/** `-x` where x is a number, variable or constant name. */
export interface NegLit {
  kind: "neg";
  operand: Value;
  loc: Loc;
}

/** Any value that can appear as an argument or operand. */
export type Value =
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
  kind: "kv";
  key: string;
  keyLoc: Loc;
  value: Value;
  loc: Loc;
}

/** A word of a command: a positional value or a named argument. */
export type Arg = Value | KeyValue;

/** `{ ... }` holding words rather than statements (vm bodies, routing tables). */
export interface WordBlock {
  kind: "words";
  items: WordItem[];
  loc: Loc;
}
/** A word inside a {@link WordBlock}. */
export type WordItem = Arg | WordBlock;

/** Who performs an action: `vcpu0`, `vmm`, `xen`, `device nic`, `guest.vcpu1`. */
export interface Actor {
  kind: "actor";
  /** `vcpu`, `vmm`, `hypervisor name`, or `device`. */
  name: string;
  /** For `device X`, the device's name or number as written. */
  device?: string;
  /** The VM the actor belongs to when written `vm.actor`. */
  vm?: string;
  loc: Loc;
}

/** A command: its words, an optional block argument, an optional result binding. */
export interface Command {
  kind: "command";
  args: Arg[];
  block?: WordBlock;
  bind?: VarRef;
  loc: Loc;
}

/** The `took` part of `expect vcpu0 took ...`. */
export interface TookSpec {
  /** `nothing`, or the values that must have been taken. */
  nothing: boolean;
  values: Value[];
  /** `once` = 1, `twice` = 2, `N times` = N; absent = at least once each. */
  count?: { value: Value; loc: Loc };
  inOrder: boolean;
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
  kind: "query";
  args: Arg[];
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
  | { kind: "expect"; condition: Condition; loc: Loc }
  | { kind: "always"; condition: Condition; loc: Loc }
  | { kind: "action"; actor: Actor; body: Statement; loc: Loc }
  | { kind: "if"; condition: Condition; then: Statement[]; else?: Statement[]; loc: Loc }
  | { kind: "do"; command: Command; loc: Loc };

/** A parsed file. */
export interface ScnFile {
  kind: "file";
  body: Statement[];
  loc: Loc;
}
