/**
 * Edits of a scenario's syntax tree for `scn minimize`: every candidate is a
 * copy of the tree that shares all it did not change, so statements keep
 * their identity and their locations in the original text. That is how the
 * failing expectation is recognised in every candidate: by where it is
 * written in the original.
 *
 * @module
 */
import type { NumberLit, ScnFile, Statement } from "../../dsl/ast.ts";

/** Statements that say what the scenario is rather than what it does: never removed. */
const METADATA = new Set(["scenario", "version", "tags", "link", "expect_failure"]);

/**
 * Whether a statement is metadata (`scenario`, `tags`, `link`, `expect failure`,
 * the language version).
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * isMetadata(parse('scenario "x"\n').body[0]); // true
 * ```
 */
export function isMetadata(s: Statement): boolean {
  return METADATA.has(s.kind);
}

/**
 * The tree with `old` (found by identity) replaced by `neu`; every object on
 * the way is copied, everything else is shared.
 *
 * @example
 * ```ts
 * import { type ScnFile } from "../../dsl/ast.ts";
 * declare const file: ScnFile;
 * const smaller = replaceNode(file, file.body, file.body.slice(1));
 * ```
 */
export function replaceNode<T>(root: T, old: unknown, neu: unknown): T {
  return replaceIn(root, old, neu) as T;
}

function replaceIn(x: unknown, old: unknown, neu: unknown): unknown {
  if (x === old) return neu;
  if (Array.isArray(x)) {
    let out: unknown[] | undefined;
    x.forEach((v, i) => {
      const r = replaceIn(v, old, neu);
      if (r !== v) (out ??= x.slice())[i] = r;
    });
    return out ?? x;
  }
  if (x === null || typeof x !== "object") return x;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(x)) {
    // Locations hold no nodes.
    if (k === "loc" || k === "keyLoc") continue;
    const r = replaceIn(v, old, neu);
    if (r !== v) (out ??= { ...(x as Record<string, unknown>) })[k] = r;
  }
  return out ?? x;
}

/**
 * The statement lists of a block-carrying statement: the bodies of `repeat`,
 * `for`, `parallel` and handlers, both branches of an `if` (also after an actor).
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * childLists(parse("repeat 2 { run }\n").body[0]).length; // 1
 * ```
 */
export function childLists(s: Statement): Statement[][] {
  switch (s.kind) {
    case "repeat":
    case "for":
    case "parallel":
    case "handler":
    case "window":
      return [s.body];
    case "if":
      return s.else ? [s.then, s.else] : [s.then];
    case "action":
      return childLists(s.body);
    default:
      return [];
  }
}

/**
 * Every statement list of the file, outer before inner, in source order.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * statementLists(parse("run\nrepeat 2 { run }\n"))[1].length; // 1
 * ```
 */
export function statementLists(file: ScnFile): Statement[][] {
  const out: Statement[][] = [];
  const visit = (list: Statement[]) => {
    out.push(list);
    for (const s of list) for (const child of childLists(s)) visit(child);
  };
  visit(file.body);
  return out;
}

/**
 * Every statement, outer before inner, in source order.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * allStatements(parse("repeat 2 { run }\n")).length; // 2
 * ```
 */
export function allStatements(file: ScnFile): Statement[] {
  return statementLists(file).flat().sort((a, b) => a.loc.start.offset - b.loc.start.offset);
}

/**
 * Whether `inner` is `outer` or written inside it (by location).
 *
 * @example
 * ```ts
 * import { type Statement } from "../../dsl/ast.ts";
 * declare const repeatStatement: Extract<Statement, { kind: "repeat" }>;
 * contains(repeatStatement, repeatStatement.body[0]); // true
 * ```
 */
export function contains(outer: Statement, inner: Statement): boolean {
  return outer.loc.source === inner.loc.source &&
    outer.loc.start.offset <= inner.loc.start.offset &&
    inner.loc.end.offset <= outer.loc.end.offset;
}

/**
 * What a statement can be replaced by while keeping what it does, smallest
 * change last: a `repeat` or `parallel` by its body, an `if` by either
 * branch (an actor's `if` hands its actor to each command), `run 5ms` by
 * `run`. A `for` body names its variable and a handler runs only on
 * delivery, so they have none.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * simplerForms(parse("repeat 2 { run }\n").body[0]); // [[run]]
 * ```
 */
export function simplerForms(s: Statement): Statement[][] {
  switch (s.kind) {
    case "repeat":
    case "parallel":
      return [s.body];
    case "if":
      return s.else ? [s.then, s.else] : [s.then];
    case "run":
      return s.duration ? [[{ kind: "run", loc: s.loc }]] : [];
    case "action":
      if (s.body.kind !== "if") return [];
      return simplerForms(s.body).map((list) =>
        list.map((c) =>
          c.kind === "do" || c.kind === "if"
            ? { kind: "action", actor: s.actor, body: c, loc: c.loc }
            : c
        )
      );
    default:
      return [];
  }
}

/**
 * Two adjacent `repeat`s of the same body as one, their counts added; null
 * when they are not both plain-number repeats of equal bodies.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * const [a, b] = parse("repeat 2 { run }\nrepeat 3 { run }\n").body;
 * mergeRepeats(a, b); // repeat 5 { run }
 * ```
 */
export function mergeRepeats(a: Statement, b: Statement): Statement | null {
  if (a.kind !== "repeat" || b.kind !== "repeat") return null;
  if (a.count.kind !== "number" || b.count.kind !== "number") return null;
  if (shapeKey(a.body) !== shapeKey(b.body)) return null;
  const count = withValue(a.count, a.count.value + b.count.value);
  return {
    kind: "repeat",
    count,
    body: a.body,
    loc: { source: a.loc.source, start: a.loc.start, end: b.loc.end },
  };
}

/**
 * A key equal for trees equal but for their locations.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * const [a, b] = parse("run\nrun\n").body;
 * shapeKey(a) === shapeKey(b); // true
 * ```
 */
export function shapeKey(x: unknown): string {
  return JSON.stringify(
    x,
    (k, v) => k === "loc" || k === "keyLoc" ? undefined : typeof v === "bigint" ? `${v}n` : v,
  );
}

/**
 * The number literals of a statement (and of the statements inside it).
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * numbersIn(parse("vcpu0: write ioapic.redtbl[2] vector=0x30\n").body[0]).length; // 2
 * ```
 */
export function numbersIn(s: Statement): NumberLit[] {
  const out: NumberLit[] = [];
  const visit = (x: unknown) => {
    if (Array.isArray(x)) return x.forEach(visit);
    if (x === null || typeof x !== "object") return;
    const node = x as { kind?: string };
    if (node.kind === "number") out.push(x as NumberLit);
    for (const [k, v] of Object.entries(x)) if (k !== "loc" && k !== "keyLoc") visit(v);
  };
  visit(s);
  return out;
}

/**
 * Smaller values worth trying for a number, most ambitious first: 0, 1, half.
 *
 * @example
 * ```ts
 * smallerValues(0x30n); // [0n, 1n, 0x18n]
 * ```
 */
export function smallerValues(v: bigint): bigint[] {
  const out: bigint[] = [];
  for (const c of [0n, 1n, v / 2n]) if (c < v && !out.includes(c)) out.push(c);
  return out;
}

/**
 * A number literal with a new value, written in the base of the original
 * (`0x30` shrinks to `0x18`, never to `24`).
 *
 * @example
 * ```ts
 * import { type NumberLit } from "../../dsl/ast.ts";
 * declare const hexThirty: NumberLit;
 * withValue(hexThirty, 0x18n).text; // "0x18"
 * ```
 */
export function withValue(n: NumberLit, value: bigint): NumberLit {
  const prefix = n.text.slice(0, 2).toLowerCase();
  let text: string;
  if (prefix === "0x") {
    const digits = value.toString(16);
    text = n.text.slice(0, 2) + (/[A-F]/.test(n.text) ? digits.toUpperCase() : digits);
  } else if (prefix === "0b") text = n.text.slice(0, 2) + value.toString(2);
  else text = value.toString();
  return { ...n, value, text };
}
