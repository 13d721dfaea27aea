/**
 * Seeded mutation of `.scn` text for the fuzzer, drawing from the project's
 * one seeded generator (`lib/core/prng.ts`), with mutators at three levels:
 *
 * - bytes: flip (replace) a character, insert one, delete one or a short run;
 * - tokens: swap a number for a boundary value (huge, negative, 0x100, ...),
 *   put a number or variable inside an expression (`(x + 1)`, `~x`, `{0..3, x}`),
 *   swap an identifier or variable for another seen in the corpus, duplicate,
 *   drop or transpose tokens;
 * - lines: delete, duplicate, swap two, move a line into a block, wrap a
 *   line in `repeat`/`for`/`parallel`/`if`, splice in a line of another file.
 *
 * Every mutant is a pure function of (seed, index, corpus), so a crash can be
 * replayed from `seed:index` alone.
 *
 * @module
 */
import { deriveSeed, Prng } from "../../lib/core/prng.ts";

/**
 * The PRNG of mutant `index` of a run seeded with `seed`: independent of the
 * other mutants, so one can be regenerated without the ones before it.
 *
 * @example
 * ```ts
 * mutantRng(1, 0).below(10);
 * ```
 */
export function mutantRng(seed: number, index: number): Prng {
  return new Prng(deriveSeed(seed, index));
}

/** Kinds of token the token-level mutators distinguish. */
export type TokenKind =
  | "space"
  | "newline"
  | "comment"
  | "string"
  | "number"
  | "var"
  | "ident"
  | "punct";

/** One token; concatenating a text's tokens gives the text back. */
export interface Token {
  kind: TokenKind;
  text: string;
}

const TOKEN_RE =
  /([ \t]+)|(\r\n|\n|\r)|(#[^\n\r]*)|("(?:[^"\\\n\r]|\\.)*"?)|(0[xX][0-9a-fA-F_]*|0[bB][01_]*|[0-9][0-9_]*(?:ns|us|ms|s)?)|(\$[A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_-]*)|(\.\.|->|==|!=|<=|>=|[\s\S])/g;

const KINDS: TokenKind[] = [
  "space",
  "newline",
  "comment",
  "string",
  "number",
  "var",
  "ident",
  "punct",
];

/** Splits text into tokens (a loose lexer: it never fails). */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  TOKEN_RE.lastIndex = 0;
  for (let m = TOKEN_RE.exec(text); m !== null; m = TOKEN_RE.exec(text)) {
    const g = m.findIndex((x, i) => i > 0 && x !== undefined);
    out.push({ kind: KINDS[g - 1], text: m[0] });
  }
  return out;
}

/** Boundary and odd numbers to swap in for a number token. */
export const INTERESTING_NUMBERS: readonly string[] = [
  "0",
  "1",
  "-1",
  "2",
  "3",
  "15",
  "16",
  "0x0f",
  "0x10",
  "0x7f",
  "0x80",
  "0xff",
  "0x100",
  "0x1ff",
  "0xffff",
  "0x10000",
  "0x7fffffff",
  "0x80000000",
  "0xffffffff",
  "0x100000000",
  "0xfee00000",
  "0xfee01000",
  "0xfeeff000",
  "0xfef00000",
  "0xffffffffffffffff",
  "0x10000000000000000",
  "9007199254740991",
  "9007199254740993",
  "-9007199254740993",
  "2147483648",
  "-2147483649",
  "4294967296",
  "99999999999999999999999999999999",
  "-0",
  "-0x100",
  "0b1",
  "0b100000000",
  "1_000_000",
  "1_000_000_000",
  "254",
  "255",
  "256",
  "1000",
  "100000",
  "0ns",
  "1ns",
  "250ns",
  "10us",
  "5ms",
  "1s",
  "4294967296s",
  "999999999999999999999s",
  "0..0",
  "0..3",
  "3..0",
  "0..255",
  "0..100000",
  "0..100001",
  "0..9007199254740993",
  "$r",
];

/** Words to splice in: syntax bits that push the parser and checker into odd corners. */
const FRAGMENTS: readonly string[] = [
  "{",
  "}",
  "{}",
  "[",
  "]",
  "[]",
  "(",
  ")",
  "->",
  "-> $r",
  "=",
  "==",
  "..",
  ",",
  ";",
  ":",
  "\\\n",
  "#",
  '"',
  '""',
  "$",
  "$x",
  "-",
  ".",
  "[0]",
  "[99999]",
  "[-1]",
  " once",
  " twice",
  " 3 times",
  " in order",
  " and ",
  " or ",
  " not ",
  " took ",
  " else { nop }",
  " + ",
  " - ",
  "-",
  " * ",
  "/",
  " % ",
  " << ",
  ">>",
  " & ",
  " | ",
  "^",
  "~",
  "(1 + ",
  "0..3, ",
  "g.",
  "vcpu0: ",
  "device d: ",
  "run vcpu0 { nop }",
  "run vcpu0 {",
  "(1 == ",
  " ($x >= 0) ",
];

/** Ways to put a value inside an expression; `#` stands for the value. */
const EXPRESSIONS: readonly string[] = [
  "(# + 1)",
  "# - 1",
  "#-1",
  "# -1",
  "# * 0x100000000",
  "# / 0",
  "# % 3",
  "# << 60",
  "# >> 1",
  "# & 0xff",
  "(# | 1) ^ 2",
  "~#",
  "~(#)",
  "((#))",
  "{0..3, #}",
  "[#, # + 1]",
  "#..# + 3",
  "(# == 1)",
  "(# > 2 and # < 9) + 1",
  "(not # == 0)",
  "{0xffffffffffffff00..#}",
];

/** What the token mutators draw from: identifiers, variables and lines of the corpus. */
export interface Pool {
  idents: string[];
  vars: string[];
  lines: string[];
}

/** Collects the identifiers, variables and non-blank lines of a corpus (sorted, for determinism). */
export function buildPool(texts: readonly string[]): Pool {
  const idents = new Set<string>(), vars = new Set<string>(), lines = new Set<string>();
  for (const t of texts) {
    for (const tok of tokenize(t)) {
      if (tok.kind === "ident") idents.add(tok.text);
      else if (tok.kind === "var") vars.add(tok.text);
    }
    for (const l of t.split(/\r\n|\n|\r/)) if (l.trim() !== "") lines.add(l);
  }
  vars.add("$undefined_var");
  return { idents: [...idents].sort(), vars: [...vars].sort(), lines: [...lines].sort() };
}

/** A mutator: a name for reports and the function. */
export interface Mutator {
  name: string;
  apply(text: string, rng: Prng, pool: Pool): string;
}

const PRINTABLE = ' \t\n{}[]()$=,;.:#"\\-_0123456789xabcdefvmlpnrst\r\u0000\u00e9\u{1F600}';

function randomChar(rng: Prng): string {
  if (rng.chance(0.1)) return String.fromCharCode(rng.below(0x80));
  return [...PRINTABLE][rng.below([...PRINTABLE].length)];
}

function splitLines(text: string): string[] {
  return text.split("\n");
}

function indexWhere(tokens: Token[], rng: Prng, pred: (t: Token) => boolean): number {
  const idx: number[] = [];
  tokens.forEach((t, i) => pred(t) && idx.push(i));
  return idx.length === 0 ? -1 : rng.pick(idx);
}

function onTokens(
  text: string,
  rng: Prng,
  pred: (t: Token) => boolean,
  f: (tokens: Token[], i: number) => void,
): string {
  const tokens = tokenize(text);
  const i = indexWhere(tokens, rng, pred);
  if (i < 0) return text;
  f(tokens, i);
  return tokens.map((t) => t.text).join("");
}

const solid = (t: Token): boolean => t.kind !== "space" && t.kind !== "newline";

/** Every mutator, in a fixed order. */
export const MUTATORS: readonly Mutator[] = [
  // ---- bytes -------------------------------------------------------------------
  {
    name: "byte-flip",
    apply(text, rng) {
      if (text.length === 0) return text;
      const i = rng.below(text.length);
      return text.slice(0, i) + randomChar(rng) + text.slice(i + 1);
    },
  },
  {
    name: "byte-insert",
    apply(text, rng) {
      const i = rng.below(text.length + 1);
      const s = rng.chance(0.3) ? rng.pick(FRAGMENTS) : randomChar(rng);
      return text.slice(0, i) + s + text.slice(i);
    },
  },
  {
    name: "byte-delete",
    apply(text, rng) {
      if (text.length === 0) return text;
      const i = rng.below(text.length);
      const n = rng.chance(0.7) ? 1 : 1 + rng.below(16);
      return text.slice(0, i) + text.slice(i + n);
    },
  },
  // ---- tokens ------------------------------------------------------------------
  {
    name: "token-number",
    apply(text, rng) {
      return onTokens(text, rng, (t) => t.kind === "number", (ts, i) => {
        ts[i] = { kind: "number", text: rng.pick(INTERESTING_NUMBERS) };
      });
    },
  },
  {
    name: "token-ident",
    apply(text, rng, pool) {
      return onTokens(text, rng, (t) => t.kind === "ident", (ts, i) => {
        ts[i] = { kind: "ident", text: rng.pick(pool.idents) };
      });
    },
  },
  {
    name: "token-var",
    apply(text, rng, pool) {
      return onTokens(
        text,
        rng,
        (t) => t.kind === "var" || t.kind === "number" || t.kind === "ident",
        (ts, i) => {
          ts[i] = { kind: "var", text: rng.pick(pool.vars) };
        },
      );
    },
  },
  {
    name: "token-expression",
    apply(text, rng) {
      return onTokens(
        text,
        rng,
        (t) => t.kind === "var" || t.kind === "number",
        (ts, i) => {
          ts[i] = { kind: "punct", text: rng.pick(EXPRESSIONS).replaceAll("#", ts[i].text) };
        },
      );
    },
  },
  {
    name: "token-duplicate",
    apply(text, rng) {
      return onTokens(text, rng, solid, (ts, i) => {
        ts.splice(i, 0, ts[i], { kind: "space", text: rng.chance(0.5) ? " " : "" });
      });
    },
  },
  {
    name: "token-drop",
    apply(text, rng) {
      return onTokens(text, rng, solid, (ts, i) => {
        ts.splice(i, 1);
      });
    },
  },
  {
    name: "token-swap",
    apply(text, rng) {
      const tokens = tokenize(text);
      const idx: number[] = [];
      tokens.forEach((t, i) => solid(t) && idx.push(i));
      if (idx.length < 2) return text;
      const k = rng.below(idx.length - 1);
      const a = idx[k], b = idx[k + 1];
      [tokens[a], tokens[b]] = [tokens[b], tokens[a]];
      return tokens.map((t) => t.text).join("");
    },
  },
  {
    name: "token-fragment",
    apply(text, rng) {
      return onTokens(text, rng, solid, (ts, i) => {
        const f = { kind: "punct" as const, text: rng.pick(FRAGMENTS) };
        if (rng.chance(0.5)) ts[i] = f;
        else ts.splice(i + 1, 0, f);
      });
    },
  },
  // ---- lines -------------------------------------------------------------------
  {
    name: "line-delete",
    apply(text, rng) {
      const lines = splitLines(text);
      lines.splice(rng.below(lines.length), 1);
      return lines.join("\n");
    },
  },
  {
    name: "line-duplicate",
    apply(text, rng) {
      const lines = splitLines(text);
      const i = rng.below(lines.length);
      lines.splice(i, 0, lines[i]);
      return lines.join("\n");
    },
  },
  {
    name: "line-swap",
    apply(text, rng) {
      const lines = splitLines(text);
      const a = rng.below(lines.length), b = rng.below(lines.length);
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return lines.join("\n");
    },
  },
  {
    name: "line-into-block",
    apply(text, rng) {
      const lines = splitLines(text);
      const opens: number[] = [];
      lines.forEach((l, i) => /\{\s*(#.*)?$/.test(l) && opens.push(i));
      if (opens.length === 0) return text;
      const from = rng.below(lines.length);
      const [moved] = lines.splice(from, 1);
      const at = rng.pick(opens);
      const to = at >= from ? at : at + 1;
      lines.splice(Math.min(to, lines.length), 0, "  " + moved.trimStart());
      return lines.join("\n");
    },
  },
  {
    name: "line-wrap",
    apply(text, rng) {
      const lines = splitLines(text);
      const i = rng.below(lines.length);
      const head = rng.pick([
        `repeat ${rng.pick(["0", "1", "3", "100000", "0x7fffffff", "-1", "$r"])}`,
        `for $i in ${rng.pick(["0..3", "0..100000", "[1, 2]", "{0x41}", "5", "$r"])}`,
        "parallel",
        `if ${rng.pick(["1", "0", "$r == 1", "vcpu0.if == 1", "not 1"])}`,
        `on vcpu${rng.pick(["0", "1", "9"])} vector ${rng.pick(["0x41", "0x30..0x4f", "{0x41}"])}`,
        "on vcpu0 nmi",
      ]);
      lines.splice(i, 1, `${head} {`, `  ${lines[i]}`, "}");
      return lines.join("\n");
    },
  },
  {
    name: "line-splice",
    apply(text, rng, pool) {
      if (pool.lines.length === 0) return text;
      const lines = splitLines(text);
      lines.splice(rng.below(lines.length + 1), 0, rng.pick(pool.lines));
      return lines.join("\n");
    },
  },
];

/** One mutant: the text, and which mutators made it (in order). */
export interface Mutant {
  text: string;
  ops: string[];
}

/**
 * Makes a mutant of one of the corpus texts: picks a base text and applies
 * 1 to 4 mutators in a row.
 *
 * @example
 * ```ts
 * const corpus = [{ name: "a.scn", text: "vcpu0: sti\nrun\n" }];
 * const m = makeMutant(corpus, buildPool(corpus.map((c) => c.text)), mutantRng(1, 0));
 * m.base; // "a.scn"
 * ```
 */
export function makeMutant(
  corpus: readonly { name: string; text: string }[],
  pool: Pool,
  rng: Prng,
): Mutant & { base: string } {
  const base = rng.pick(corpus);
  let text = base.text;
  const ops: string[] = [];
  const n = 1 + (rng.chance(0.5) ? 0 : rng.below(4));
  for (let k = 0; k < n; k++) {
    const m = rng.pick(MUTATORS);
    text = m.apply(text, rng, pool);
    ops.push(m.name);
  }
  return { text, ops, base: base.name };
}

/** The largest loop count {@link capLoops} leaves in place. */
export const LOOP_CAP = 100;

function literalValue(text: string): bigint | undefined {
  const t = text.replace(/_/g, "");
  if (!/^(0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)$/.test(t)) return undefined;
  return BigInt(t);
}

/**
 * Hang guard: shrinks literal `repeat` counts and `a..b` range spans above
 * {@link LOOP_CAP}. Needed because `run` restarts the step budget, so
 * `repeat 0x7fffffff { run }` is never stopped by it (see the fuzz report).
 * Returns the text unchanged when nothing is too large.
 *
 * @example
 * ```ts
 * capLoops("repeat 0x7fffffff { run }"); // "repeat 100 { run }"
 * ```
 */
export function capLoops(text: string): string {
  const tokens = tokenize(text);
  let changed = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "number") continue;
    const v = literalValue(t.text);
    if (v === undefined) continue;
    const prev = (k: number) => tokens.slice(0, k).filter(solid).at(-1);
    const next = tokens[i + 1];
    const before = prev(i);
    if (before?.kind === "ident" && before.text === "repeat" && v > BigInt(LOOP_CAP)) {
      tokens[i] = { kind: "number", text: String(LOOP_CAP) };
      changed = true;
    } else if (next?.text === ".." && tokens[i + 2]?.kind === "number") {
      const to = literalValue(tokens[i + 2].text);
      if (to !== undefined && to - v > BigInt(LOOP_CAP)) {
        tokens[i + 2] = { kind: "number", text: String(v + BigInt(LOOP_CAP)) };
        changed = true;
      }
    }
  }
  return changed ? tokens.map((t) => t.text).join("") : text;
}
