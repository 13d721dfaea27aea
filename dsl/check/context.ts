/**
 * State shared by the checker's passes: the sources read so far and helpers
 * that turn a problem into a located diagnostic.
 *
 * @module
 */
import type { Loc } from "../ast.ts";
import { type Diagnostic, didYouMean, ScnError } from "../../lib/core/diagnostic.ts";
import { TextLoc } from "../../lib/core/loc.ts";

/**
 * Reads an included file: `path` as written, resolved against the including
 * source. `refused` says why a file is not read (outside the including
 * file's folder, not a regular file, over a budget); `budget` marks the
 * last kind. Undefined: it cannot be read.
 */
export type Loader = (
  path: string,
  from: string,
) =>
  | { name: string; text: string }
  | { refused: string; hint?: string; budget?: boolean }
  | undefined;

/** What every pass can use. */
export interface CheckContext {
  /** Source name → text, for every file read. */
  sources: Map<string, string>;
  load: Loader;
  /**
   * Problems found so far. A pass records a problem and goes on with the next
   * statement ({@link recover}), so one run reports every mistake it can.
   * Absent for callers that want the first problem thrown.
   */
  problems?: Diagnostic[];
  /** Set once a `took ... in order` condition is lowered (see `Program.tookInOrder`). */
  tookInOrder?: boolean;
}

/** After this many problems the checker stops: the rest are likely echoes. */
export const MAX_PROBLEMS = 50;

/**
 * Runs one step of a pass (a statement, a vm block). A problem it throws is
 * recorded in `ctx.problems` and `undefined` returned, so the pass can carry
 * on with the next step; without `ctx.problems` the problem is thrown.
 *
 * @example
 * ```ts
 * import { type Loc } from "../ast.ts";
 * declare const loc: Loc;
 * const ctx: CheckContext = { sources: new Map(), load: () => undefined, problems: [] };
 * recover(ctx, () => fail(loc, "first"));
 * recover(ctx, () => fail(loc, "second"));
 * ctx.problems?.length; // 2
 * ```
 */
export function recover<T>(ctx: Pick<CheckContext, "problems">, step: () => T): T | undefined {
  if (!ctx.problems) return step();
  try {
    return step();
  } catch (e) {
    if (!(e instanceof ScnError) || e instanceof TooManyProblems) throw e;
    ctx.problems.push(...e.diagnostics);
    if (ctx.problems.length >= MAX_PROBLEMS) {
      throw new TooManyProblems(ctx.problems[0], ...ctx.problems.slice(1));
    }
    return undefined;
  }
}

/** The checker gave up after {@link MAX_PROBLEMS}; it carries them all. */
export class TooManyProblems extends ScnError {}

/** Throws a `check` error at `loc`. */
export function fail(
  loc: Loc,
  message: string,
  hint?: string,
  related?: Diagnostic["related"],
): never {
  throw new ScnError({ kind: "check", message, loc, hint, related });
}

/** A "did you mean" hint for `word` among `names`, or a list of what is valid when short. */
export function suggest(word: string, names: Iterable<string>): string | undefined {
  const list = [...names];
  const close = didYouMean(word, list);
  if (close) return `did you mean '${close}'?`;
  if (list.length > 0 && list.length <= 8) return `expected one of: ${list.join(", ")}`;
  return undefined;
}

/** The text a location covers. */
export function sliceOf(ctx: CheckContext, loc: Loc): string {
  const text = ctx.sources.get(loc.source);
  if (text === undefined) return "";
  // A parsed location has its offsets: its line and column are not worked out for this.
  return loc instanceof TextLoc
    ? text.slice(loc.from, loc.to)
    : text.slice(loc.start.offset, loc.end.offset);
}
