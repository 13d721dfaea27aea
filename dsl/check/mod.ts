/**
 * The checker: its passes, listed in {@link PASSES}, turn a parsed scenario
 * into a {@link Program} the engine can execute, or throw one located
 * {@link ScnError} carrying every problem found.
 *
 * Each pass records a problem and goes on with the next statement, so a
 * user sees all their mistakes in one run. A pass whose input comes from a
 * pass that found problems is skipped.
 *
 * @module
 */
import type { ScnFile, SkimmedFile, TopLevel } from "../ast.ts";
import type { Program } from "../program.ts";
import type { PlatformEntry } from "../../lib/core/platform.ts";
import { expandIncludes } from "./includes.ts";
import { collectMetadata } from "./metadata.ts";
import { checkVms } from "./vms.ts";
import { lowerStatements } from "./lower.ts";
import { checkAvailability, topLevelAvailability } from "./availability.ts";
import { type CheckContext, type Loader, recover } from "./context.ts";
import type { Diagnostic } from "../../lib/core/diagnostic.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";
import type { Metadata } from "./metadata.ts";
import type { Lowered } from "./lower.ts";
import type { VmDecl } from "../program.ts";

export type { Loader } from "./context.ts";

/** Options for {@link check}. */
export interface CheckOptions {
  /** The platforms `arch` can name. */
  platforms: readonly PlatformEntry[];
  /** Reads included files; without it, any include is an error. */
  load?: Loader;
  /** The text of the file, for quoting in diagnostics. */
  text?: string;
  /**
   * Check only, for `scn check`, which runs nothing: each top-level statement
   * is lowered and checked, then let go, so the program comes back with an
   * empty body (metadata, VMs and handlers kept) and a long file's timeline
   * is never held whole. The diagnostics are those of a full check.
   */
  checkOnly?: boolean;
}

/** What the passes build up, each reading what earlier stages left. */
export interface CheckState {
  readonly file: ScnFile | SkimmedFile;
  readonly options: CheckOptions;
  readonly ctx: CheckContext & { problems: Diagnostic[] };
  meta?: Metadata;
  /** The statements with every include expanded. */
  body?: TopLevel[];
  vms?: VmDecl[];
  lowered?: Lowered;
}

/**
 * One pass: a name for messages and docs, what it checks, the passes whose
 * output it reads (it is skipped when one of them found a problem: checking
 * what a broken vm block would have declared only echoes that mistake), and
 * the work.
 */
export interface CheckPass {
  readonly name: string;
  readonly checks: string;
  readonly needs: readonly string[];
  run(state: CheckState): void;
}

/** The passes, in order. */
export const PASSES: readonly CheckPass[] = [
  {
    name: "metadata",
    checks: "title, tags, links, the expectation marked 'expect failure', language version",
    needs: [],
    run: (s) => s.meta = collectMetadata(s.file.body, false, s.file.loc, s.ctx),
  },
  {
    name: "includes",
    checks: "included fragments: found, inside the folder, no cycles, no metadata",
    needs: [],
    run: (s) => s.body = expandIncludes(s.file.body, s.file.loc.source, s.ctx),
  },
  {
    name: "vms",
    checks: "vm blocks against the settings table of the platform their 'arch' names",
    needs: ["includes"],
    run: (s) => s.vms = checkVms(s.body!, s.options.platforms, s.ctx),
  },
  {
    name: "lower",
    checks: "actors, commands, arguments, state paths and variables against the tables",
    needs: ["includes", "vms"],
    run: (s) =>
      s.lowered = lowerStatements(
        s.body!,
        s.vms!,
        s.ctx,
        s.options.checkOnly ? topLevelAvailability(s.vms!, s.ctx) : undefined,
      ),
  },
  {
    // Reads what lowering produced, even where some statements failed.
    name: "availability",
    checks: "commands and paths only some VMs of a platform offer; combinations of settings",
    needs: ["includes", "vms"],
    run: (s) => s.lowered && checkAvailability(s.lowered.body, s.lowered.handlers, s.vms!, s.ctx),
  },
];

/**
 * Checks a parsed scenario, parsed whole or skimmed (`skim` in `dsl/parse.ts`:
 * its skimmed runs are parsed again as they are lowered).
 *
 * @throws {ScnError} carrying every problem found, each located in its source.
 *
 * @example
 * ```ts
 * import { parse } from "../parse.ts";
 * import { PLATFORMS } from "../../lib/api/platforms.ts";
 * const text = 'scenario "x"\nvm g { arch x86_64 }\nvcpu0: sti\n';
 * const program = check(parse(text, "x.scn"), { platforms: PLATFORMS, text });
 * program.body.length; // 1
 * ```
 */
export function check(file: ScnFile | SkimmedFile, options: CheckOptions): Program {
  const source = file.loc.source;
  const sources = new Map<string, string>();
  if (options.text !== undefined) sources.set(source, options.text);
  const ctx: CheckState["ctx"] = { sources, load: options.load ?? (() => undefined), problems: [] };
  const state: CheckState = { file, options, ctx };
  const failed = new Set<string>();
  for (const pass of PASSES) {
    if (pass.needs.some((n) => failed.has(n))) {
      failed.add(pass.name);
      continue;
    }
    const before = ctx.problems.length;
    // A pass that cannot go on at all still leaves the problems it found.
    recover(ctx, () => pass.run(state));
    if (ctx.problems.length > before) failed.add(pass.name);
  }
  if (ctx.problems.length > 0) {
    // In reading order: the scenario's own lines first, then each include's.
    const rank = (d: Diagnostic) => d.loc.source === source ? "" : d.loc.source;
    const sorted = ctx.problems.map((d, i) => ({ d, i })).sort((x, y) =>
      // Code-unit order, not localeCompare: the same bytes out in every locale.
      (rank(x.d) < rank(y.d) ? -1 : rank(x.d) > rank(y.d) ? 1 : 0) ||
      x.d.loc.start.offset - y.d.loc.start.offset ||
      x.i - y.i
    ).map((x) => x.d);
    throw new ScnError(sorted[0], ...sorted.slice(1));
  }
  const { meta, vms, lowered } = state as Required<CheckState>;
  return {
    file: source,
    title: meta.title,
    tags: meta.tags,
    links: meta.links,
    expectFailure: meta.expectFailure,
    vms,
    handlers: lowered.handlers,
    body: lowered.body,
    sources,
    tookInOrder: ctx.tookInOrder === true,
  };
}
