/**
 * State shared by the checker's passes: the sources read so far and helpers
 * that turn a problem into a located diagnostic.
 *
 * @module
 */
import type { Loc } from "../ast.ts";
import { type Diagnostic, didYouMean, ScnError } from "../../lib/core/diagnostic.ts";

/** Reads an included file: `path` as written, resolved against the including source. */
export type Loader = (path: string, from: string) => { name: string; text: string } | undefined;

/** What every pass can use. */
export interface CheckContext {
  /** Source name → text, for every file read. */
  sources: Map<string, string>;
  load: Loader;
}

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
  return text === undefined ? "" : text.slice(loc.start.offset, loc.end.offset);
}
