/**
 * Pass: expand `include "path.scn"` in place, anywhere in the tree.
 *
 * Included files are parsed as fragments (no `scenario` line needed). A file
 * that includes itself, directly or through others, is an error that points
 * at every include on the cycle.
 *
 * @module
 */
import type { ScnFile, Statement, TopLevel } from "../ast.ts";
import { parse, SKIM_FROM_CHARS } from "../parse.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";
import type { CheckContext } from "./context.ts";

/** Maximum include depth, a guard against pathological but acyclic chains. */
export const MAX_INCLUDE_DEPTH = 32;

/** The includes being expanded, outermost first: each file and the statement that included it. */
type IncludeStack = { name: string; stmt: Statement & { kind: "include" } }[];

/**
 * Returns `body` with every include replaced by the statements of the file it names.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * const ctx = { sources: new Map(), load: () => ({ name: "b.scn", text: "run\n" }) };
 * expandIncludes(parse('include "b.scn"\n', "a.scn").body, "a.scn", ctx); // [run]
 * ```
 */
export function expandIncludes(
  body: readonly Statement[],
  source: string,
  ctx: CheckContext,
  stack?: IncludeStack,
): Statement[];
/** Expands the includes of a skimmed file's top level; its skimmed runs stay as they are. */
export function expandIncludes(
  body: readonly TopLevel[],
  source: string,
  ctx: CheckContext,
  stack?: IncludeStack,
): TopLevel[];
export function expandIncludes(
  body: readonly TopLevel[],
  source: string,
  ctx: CheckContext,
  stack: IncludeStack = [],
): TopLevel[] {
  const out: TopLevel[] = [];
  for (const s of body) {
    if (s.kind === "include") {
      const file = ctx.load(s.path.value, source);
      if (!file || "refused" in file) {
        // Located at the include: nothing of a refused file is read or quoted.
        throw new ScnError({
          kind: file?.budget ? "budget" : "include",
          message: file ? file.refused : `cannot read included file '${s.path.value}'`,
          loc: s.path.loc,
          ...(file?.hint ? { hint: file.hint } : {}),
        });
      }
      const cycleAt = stack.findIndex((f) => f.name === file.name);
      if (file.name === source || cycleAt >= 0) {
        throw new ScnError({
          kind: "include",
          message: `include cycle: '${file.name}' includes itself`,
          loc: s.path.loc,
          related: stack.slice(Math.max(0, cycleAt)).map((f) => ({
            loc: f.stmt.path.loc,
            message: `'${f.name}' is included here`,
          })),
        });
      }
      if (stack.length >= MAX_INCLUDE_DEPTH) {
        throw new ScnError({
          kind: "include",
          message: `includes nested deeper than ${MAX_INCLUDE_DEPTH}`,
          loc: s.path.loc,
        });
      }
      ctx.sources.set(file.name, file.text);
      const parsed = parseFragment(file.name, file.text);
      const meta = parsed.body.find((x) =>
        x.kind === "scenario" || x.kind === "tags" || x.kind === "link" ||
        x.kind === "expect_failure" || (x.kind === "expect" && x.failure !== undefined) ||
        x.kind === "version"
      );
      if (meta) {
        // Silently dropping an included title or tag would mislead; say so instead.
        throw new ScnError({
          kind: "include",
          message:
            "an included fragment cannot carry scenario metadata (title, tags, links, expect failure)",
          loc: meta.loc,
          related: [{ loc: s.path.loc, message: "included from here" }],
        });
      }
      out.push(
        ...expandIncludes(parsed.body, file.name, ctx, [...stack, { name: file.name, stmt: s }]),
      );
      continue;
    }
    out.push(s.kind === "skimmed" ? s : expandNested(s, source, ctx, stack));
  }
  return out;
}

// A fragment included many times (the selftest ports include theirs once per
// case, nested, and many scenarios of a folder share one) is parsed once: a
// parse depends only on the name and the text, and its trees are only read
// from here on. The memo holds the last few short fragments, so a long or
// many-fragment run keeps no more than that alive.
const FRAGMENTS_KEPT = 64;
const fragments = new Map<string, { text: string; file: ScnFile }>();

function parseFragment(name: string, text: string): ScnFile {
  const known = fragments.get(name);
  if (known && known.text === text) return known.file;
  const file = parse(text, name);
  if (text.length < SKIM_FROM_CHARS) {
    fragments.delete(name);
    if (fragments.size >= FRAGMENTS_KEPT) fragments.delete(fragments.keys().next().value!);
    fragments.set(name, { text, file });
  }
  return file;
}

function expandNested(
  s: Statement,
  source: string,
  ctx: CheckContext,
  stack: IncludeStack,
): Statement {
  // A statement with no include inside is kept as it is, not copied: trees are only read.
  const sub = (b: Statement[]) => {
    const out = expandIncludes(b, source, ctx, stack);
    return out.length === b.length && out.every((x, i) => x === b[i]) ? b : out;
  };
  switch (s.kind) {
    case "repeat":
    case "for":
    case "parallel":
    case "handler":
    case "window": {
      const body = sub(s.body);
      return body === s.body ? s : { ...s, body };
    }
    case "if": {
      const then = sub(s.then), otherwise = s.else ? sub(s.else) : undefined;
      return then === s.then && otherwise === s.else ? s : { ...s, then, else: otherwise };
    }
    case "action": {
      const body = expandNested(s.body, source, ctx, stack);
      return body === s.body ? s : { ...s, body };
    }
    default:
      return s;
  }
}
