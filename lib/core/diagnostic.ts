/**
 * Diagnostics: what went wrong, where, and what else is relevant, formatted
 * for people (file:line:col, the source line, a caret under the spot).
 *
 * Every kind of bad input ends as a {@link ScnError} carrying one of these,
 * never as a raw exception, and the command line maps its {@link ErrorKind}
 * to an exit code.
 *
 * @module
 */
import type { Loc } from "./loc.ts";
import { MAX_VALUE_CHARS, quoteLine, visible } from "./visible.ts";

/** What class of problem a diagnostic reports; each has its own exit code. */
export type ErrorKind = "syntax" | "check" | "include" | "budget" | "version";

/** A related location mentioned by a diagnostic ("first defined here"). */
export interface Related {
  /** Where it is. */
  loc: Loc;
  /** What is wrong, in one sentence. */
  message: string;
}

/** One problem in a scenario. */
export interface Diagnostic {
  /** The class of problem; decides the exit code. */
  kind: ErrorKind;
  /** What is wrong, in one sentence. */
  message: string;
  /** Where it is. */
  loc: Loc;
  /** Extra advice: "did you mean 'eoi'?", the list of valid names. */
  hint?: string;
  /** Other places that explain it. */
  related?: Related[];
  /** Lines that show how it came about (a budget error's last trace events), after the hint. */
  notes?: string[];
}

/**
 * An error about the input, carrying its diagnostics.
 *
 * @example
 * ```ts
 * const loc = { source: "a.scn", start: { offset: 0, line: 1, column: 1 },
 *               end: { offset: 3, line: 1, column: 4 } };
 * throw new ScnError({ kind: "check", message: "unknown actor 'vcpu9'", loc });
 * ```
 */
export class ScnError extends Error {
  /** The problems, the first one first. */
  readonly diagnostics: Diagnostic[];
  /** An error carrying `first` and any further diagnostics. */
  constructor(first: Diagnostic, ...rest: Diagnostic[]) {
    super(first.message);
    this.name = "ScnError";
    this.diagnostics = [first, ...rest];
  }
}

/**
 * Thrown by a model command that cannot do what the scenario asked, for a
 * reason of the scenario's making (a guest structure that is not mapped
 * yet), not a bug in irqlab. The interpreter reports it as a located input
 * error at the statement that ran the command.
 *
 * @example
 * ```ts
 * throw new CommandInputError("vcpu35 has no vcpu_info the guest can reach");
 * ```
 */
export class CommandInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandInputError";
  }
}

/** Where to find the text of a source for quoting. */
export type SourceLookup = (source: string) => string | undefined;

/**
 * Formats a diagnostic as people read them:
 *
 * ```text
 * a.scn:3:8: error: unknown command 'eio'
 *   3 | vcpu0: eio
 *     |        ^^^
 *   = did you mean 'eoi'?
 * ```
 */
export function formatDiagnostic(d: Diagnostic, lookup: SourceLookup): string {
  const lines = [`${where(d.loc)}: error: ${visible(d.message, MAX_VALUE_CHARS)}`];
  lines.push(...quote(d.loc, lookup));
  if (d.hint) lines.push(`  = ${visible(d.hint)}`);
  for (const n of d.notes ?? []) lines.push(`  ${visible(n)}`);
  for (const r of d.related ?? []) {
    lines.push(`${where(r.loc)}: note: ${visible(r.message, MAX_VALUE_CHARS)}`);
    lines.push(...quote(r.loc, lookup));
  }
  return lines.join("\n");
}

/** `file:line:col` of a location. */
export function where(loc: Loc): string {
  return `${visible(loc.source)}:${loc.start.line}:${loc.start.column}`;
}

function quote(loc: Loc, lookup: SourceLookup): string[] {
  const text = lookup(loc.source);
  if (text === undefined) return [];
  const lineText = text.split(/\r\n|\n|\r/)[loc.start.line - 1];
  if (lineText === undefined) return [];
  const n = String(loc.start.line);
  const pad = " ".repeat(n.length);
  const from = loc.start.column - 1;
  const to = loc.end.line === loc.start.line ? loc.end.column - 1 : lineText.length;
  // A stranger's line may hold escape sequences or run for kilobytes.
  const q = quoteLine(lineText, from, to);
  return [
    `  ${n} | ${q.shown}`,
    `  ${pad} | ${" ".repeat(q.caret)}${"^".repeat(q.width)}`,
  ];
}

/**
 * The closest candidate to `word` by edit distance, when it is close enough
 * to be a plausible typo.
 *
 * @example
 * ```ts
 * didYouMean("eio", ["eoi", "sti", "cli"]); // "eoi"
 * ```
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance || (d === bestDistance && best !== undefined && c < best)) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3) + 1);
  return bestDistance <= limit ? best : undefined;
}

/** Damerau-Levenshtein (optimal string alignment) distance: a swap counts once. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1, cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  for (let i = 0; i < rows; i++) d[i][0] = i;
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[rows - 1][cols - 1];
}
