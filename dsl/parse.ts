/**
 * Parsing `.scn` text into a syntax tree, with syntax errors turned into
 * located diagnostics.
 *
 * @module
 */
import { parse as peggyParse, type SyntaxError as PeggySyntaxError } from "./scn_parser.js";
import type { ScnFile, SkimmedFile, SkimmedRun, Statement } from "./ast.ts";
import { ScnError } from "../lib/core/diagnostic.ts";
import { headerVersion, newerVersionError } from "./version.ts";
import { lazyStatements } from "./lazy.ts";

/**
 * Parses one `.scn` text. `source` names it in locations (usually its path).
 *
 * A text of {@link SKIM_FROM_CHARS} characters or more gets a `body` whose
 * statements are parsed again when read (see dsl/lazy.ts): the same trees,
 * but only those of one short run alive at a time, so the parse keeps a few
 * bytes per input byte rather than 20-40. That body is read-only, and a
 * statement read again may be a new, equal object: to find statements
 * again by identity (`scn minimize`'s edits), copy it first (`[...body]`).
 *
 * @throws {ScnError} with a `syntax` diagnostic when the text is malformed.
 *
 * @example
 * ```ts
 * const file = parse('scenario "demo"\nvcpu0: sti\n', "demo.scn");
 * file.body.length; // 2
 * ```
 */
export function parse(text: string, source = "<input>"): ScnFile {
  if (text.length < SKIM_FROM_CHARS) return parseWith(text, source, "whole") as ScnFile;
  // A long text's trees would be some 20-40 bytes per input byte if all
  // were kept: its top-level statements are parsed when read instead.
  const file = parseWith(text, source, "lazy") as ScnFile & { body: SkimmedRun[] };
  return {
    kind: "file",
    body: lazyStatements(file.body, (run) => parseRun(run, true)),
    comments: file.comments,
    loc: file.loc,
  };
}

/**
 * Parses one `.scn` text as {@link parse} does, except that runs of
 * top-level timeline statements (`vcpu0: nop`, `run`, `expect`, handlers)
 * keep no syntax tree: each run is its span and count, and {@link unskim}
 * parses it again when it is needed. What the checker reads before lowering
 * (metadata, vm blocks, includes, `expect failure`) is kept, and each run
 * lists the variables it binds;
 * comments, which only a formatter needs, are not. The checker lowers such a run and lets its trees go, so a long
 * file's trees are never all alive at once.
 *
 * @throws {ScnError} with a `syntax` diagnostic when the text is malformed.
 *
 * @example
 * ```ts
 * const file = skim('scenario "demo"\nvm g { arch x86_64 }\nvcpu0: sti\nrun\n', "demo.scn");
 * file.body.map((s) => s.kind); // ["scenario", "vm", "skimmed"]
 * ```
 */
export function skim(text: string, source = "<input>"): SkimmedFile {
  return parseWith(text, source, "skim") as SkimmedFile;
}

/**
 * The statements of a skimmed run, parsed again: the trees {@link parse}
 * gives them.
 *
 * @example
 * ```ts
 * const [run] = skim("vcpu0: sti\nvcpu0: nop\n").body;
 * if (run.kind === "skimmed") unskim(run).length; // 2
 * ```
 */
export function unskim(run: SkimmedRun): Statement[] {
  return parseRun(run, false);
}

// A lazy body's runs are read by callers that may keep their trees (`scn
// minimize` copies the body): those intern their names, as a whole parse does.
function parseRun(run: SkimmedRun, keep: boolean): Statement[] {
  const lines = run.from;
  const r = peggyParse(lines.text, {
    grammarSource: lines.source,
    startRule: "StatementRun",
    peg$currPos: run.start,
    peg$library: true,
    stopAt: run.end,
    lines,
    comments: false,
    intern: keep,
    // The first parse matched this run: nothing here fails, so no
    // expectations are recorded for a message (see parseWith).
    peg$silentFails: 1,
  }) as unknown as { peg$result: unknown };
  const body = r.peg$result as Statement[];
  // The first parse matched these very statements here; anything else is a bug.
  if (!Array.isArray(body) || body.length !== run.count) {
    throw new Error(
      `unskim: ${lines.source}@${run.start} gave back ${String(body?.length)} statements`,
    );
  }
  return body;
}

function parseWith(
  text: string,
  source: string,
  how: "whole" | "check" | "skim" | "lazy",
): ScnFile | SkimmedFile {
  // The generated parser recurses once per nesting level; a stranger's input
  // is stopped where it passes the budget, before it can exhaust the stack.
  const deep = nestingPastBudget(text, source);
  if (deep) throw deep;
  const options = {
    grammarSource: source,
    skim: how === "skim",
    lazy: how === "lazy",
    // A tree read once, by the checker, keeps no comments (a formatter's) and
    // need not share one string per name (dsl/scn.peggy `intern`), which is
    // for trees kept and costs a lookup per name.
    comments: how !== "skim" && how !== "check",
    ...(how === "check" ? { intern: false } : {}),
  };
  try {
    // Peggy records what it expected at the farthest position it failed,
    // a call and often an array per token, for the message of a parse that
    // fails. Most parses succeed: they go without, and a failed one is
    // parsed again keeping them. The two take the same path through the text.
    return peggyParse(text, { ...options, peg$silentFails: 1 });
  } catch {
    // Parsed again below with the expectations kept: the error it throws
    // (or, for a grammar's own error() or a stack too deep, the same one).
  }
  try {
    return peggyParse(text, options);
  } catch (e) {
    if (isPeggyError(e)) {
      // A scenario for a newer language may not parse here; its header says why.
      const header = headerVersion(text, source);
      const newer = header && newerVersionError(header.version, header.loc);
      if (newer) throw newer;
      // Messages raised by the grammar's own error() calls are already worded for people.
      const custom = e.expected === null;
      throw new ScnError({
        kind: "syntax",
        message: custom ? e.message : describe(e, text),
        loc: { source, start: e.location.start, end: e.location.end },
      });
    }
    if (e instanceof RangeError) throw tooDeep(text, source);
    throw e;
  }
}

function isPeggyError(e: unknown): e is PeggySyntaxError {
  return e instanceof Error && e.name === "SyntaxError" && "location" in e && "expected" in e;
}

// Peggy's own message lists every alternative; people want the few that make
// sense at that spot, by the names the grammar gives its rules.
function describe(e: PeggySyntaxError, text: string): string {
  const found = e.found == null
    ? "end of file"
    : describeFound(e.found, text, e.location.start.offset);
  const names = new Set<string>();
  for (const x of e.expected ?? []) {
    if (x.type === "end") names.add("end of file");
    else if (x.type === "other") names.add(x.description);
    else if (x.type === "literal") names.add(JSON.stringify(x.text));
  }
  // Spacing and line continuations fit almost anywhere; listing them helps nobody.
  names.delete("space");
  names.delete(JSON.stringify("\\"));
  const list = [...names].sort();
  if (list.length === 0) return `unexpected ${found}`;
  const shown = list.length > 6 ? [...list.slice(0, 6), "..."] : list;
  return `unexpected ${found}; expected ${shown.join(", ")}`;
}

function describeFound(found: string, text: string, offset: number): string {
  if (found === "\n" || found === "\r") return "end of line";
  const word = /^[A-Za-z0-9_$.-]+/.exec(text.slice(offset));
  return word ? `'${word[0]}'` : JSON.stringify(found);
}

// The parser recurses once per nesting level; past the engine's stack that is
// a property of the input, so say where the nesting starts.
function tooDeep(text: string, source: string): ScnError {
  const m = /[({[]{64,}/.exec(text);
  const offset = m ? m.index : 0;
  const before = text.slice(0, offset);
  const line = before.split(/\r\n|\n|\r/).length;
  const column = offset - Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\r"));
  const start = { offset, line, column };
  return new ScnError({
    kind: "syntax",
    message: "nested too deeply to parse",
    loc: { source, start, end: { offset: offset + 1, line, column: column + 1 } },
    hint: "brackets, braces and blocks may nest a few hundred levels deep",
  });
}

/** Brackets, braces and blocks nested deeper than this are an input error. */
export const MAX_NESTING = 200;

/**
 * The located error for the first bracket that opens past
 * {@link MAX_NESTING} levels, outside strings and comments; undefined when
 * the text nests no deeper.
 */
function nestingPastBudget(text: string, source: string): ScnError | undefined {
  // The depth never exceeds the number of opening brackets: most texts have
  // fewer than the budget allows, counted without a loop over every character.
  if (!opensMoreThan(text, MAX_NESTING)) return undefined;
  let depth = 0, line = 1, lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    } else if (c === 35 /* # */) {
      while (i + 1 < text.length && text[i + 1] !== "\n" && text[i + 1] !== "\r") i++;
    } else if (c === 34 /* " */) {
      // A string ends at its quote or, unterminated, at the end of its line.
      while (
        i + 1 < text.length && text[i + 1] !== '"' && text[i + 1] !== "\n" && text[i + 1] !== "\r"
      ) {
        i += text[i + 1] === "\\" ? 2 : 1;
      }
      if (text[i + 1] === '"') i++;
    } else if (c === 40 || c === 91 || c === 123 /* ( [ { */) {
      if (++depth > MAX_NESTING) {
        const column = i - lineStart + 1;
        return new ScnError({
          kind: "budget",
          message: `nested more than ${MAX_NESTING} levels deep`,
          loc: {
            source,
            start: { offset: i, line, column },
            end: { offset: i + 1, line, column: column + 1 },
          },
          hint: `brackets, braces and blocks may nest up to ${MAX_NESTING} levels`,
        });
      }
    } else if (c === 41 || c === 93 || c === 125 /* ) ] } */) {
      if (depth > 0) depth--;
    }
  }
  return undefined;
}

/** Whether `text` holds more than `n` of `(`, `[` and `{` in all. */
function opensMoreThan(text: string, n: number): boolean {
  let count = 0;
  for (const open of "([{") {
    for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) {
      if (++count > n) return true;
    }
  }
  return false;
}

/**
 * Below this many characters a text is parsed whole for checking: its trees
 * are small, and skimming would parse each timeline statement twice.
 */
export const SKIM_FROM_CHARS = 64 * 1024;

/**
 * Parses a text for the checker: whole ({@link parse}, but without its
 * comments) when it is shorter than {@link SKIM_FROM_CHARS}, else skimmed
 * ({@link skim}) so that a long file's trees are never all alive at once.
 * The checker gives the same program and the same diagnostics either way.
 *
 * @throws {ScnError} with a `syntax` diagnostic when the text is malformed.
 *
 * @example
 * ```ts
 * parseToCheck('scenario "demo"\nvcpu0: sti\n', "demo.scn").body.length; // 2
 * ```
 */
export function parseToCheck(text: string, source = "<input>"): ScnFile | SkimmedFile {
  return text.length < SKIM_FROM_CHARS ? parseWith(text, source, "check") : skim(text, source);
}
