/**
 * `scn minimize`: shrinks a failing scenario to a smaller one in which the
 * same expectation still fails in the same way (see `oracle.ts`).
 *
 * Delta debugging over the syntax tree, in passes repeated until none makes
 * progress or the run budget is spent:
 *
 * 1. remove statements, in halving chunks down to one at a time, from every
 *    statement list (the file, blocks, handler bodies, branches): timeline
 *    actions, expectations other than the target, handlers, whole `vm`s;
 * 2. replace a `repeat`, `parallel` or `if` by its body (a `repeat` of one),
 *    `run 5ms` by `run`;
 * 3. merge adjacent `repeat`s of the same body, adding their counts;
 * 4. shrink each number toward 0, 1 or its half, in the base it is written in
 *    (a `vcpus 2` that can be `vcpus 1` drops a vCPU).
 *
 * Metadata (`scenario`, `tags`, `link`, `expect failure`) and the failing
 * expectation are never touched. Every step is deterministic, so the same
 * input gives the same output. The result is printed with `dsl/format.ts`,
 * with the comments of the statements that remain, and is run once more
 * from its text to make sure it still fails the same way.
 *
 * @module
 */
import type { Command, Comment, ScnFile, Statement } from "../../dsl/ast.ts";
import { parse } from "../../dsl/parse.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import { format } from "../../dsl/format.ts";
import { ScnError } from "../core/diagnostic.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { shrinkList } from "../core/shrink.ts";
import { type Failure, runProgram } from "../engine/run.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { checkText } from "../api/scenario.ts";
import { fileLoader } from "../load/files.ts";
import {
  allStatements,
  contains,
  isMetadata,
  mergeRepeats,
  numbersIn,
  replaceNode,
  simplerForms,
  smallerValues,
  statementLists,
  withValue,
} from "./edits.ts";
import { BudgetReached, findSame, Oracle, type Target, targetOf } from "./oracle.ts";

/**
 * How many candidates `scn minimize` runs at most unless told otherwise.
 *
 * @example
 * ```ts
 * declare const text: string;
 * minimize(text, "bug.scn", { maxRuns: DEFAULT_MAX_RUNS / 4 });
 * ```
 */
export const DEFAULT_MAX_RUNS = 2000;

/** Options for {@link minimize}. */
export interface MinimizeOptions {
  /** The platforms scenarios may use; irqlab's own when absent. */
  platforms?: readonly PlatformEntry[];
  /** Reads included files; relative to the scenario's directory when absent. */
  load?: Loader;
  /** Candidates to run at most (default {@link DEFAULT_MAX_RUNS}). */
  maxRuns?: number;
  /** The step budget of each run. */
  maxSteps?: number;
  /**
   * Also keep the events the failure gives as its reason (`scn minimize
   * --keep-causes`); by default only the expectation and its values count.
   */
  keepCauses?: boolean;
}

/** What {@link minimize} found. */
export type MinimizeResult =
  | {
    kind: "minimized";
    /** The smallest scenario found, formatted. */
    text: string;
    /** The failure kept, as the original reported it. */
    target: Failure;
    /** The same failure, as the minimized text reports it. */
    final: Failure;
    /** Statements (at any depth) before and after. */
    statements: { before: number; after: number };
    /** Candidates run, the original and the final check included. */
    runs: number;
    /** Whether the run budget stopped the search before it was done. */
    budgetReached: boolean;
  }
  | {
    kind: "passes";
    /** `pass`, or `xpass` for an `expect failure` scenario that passes. */
    status: "pass" | "xpass";
  };

/**
 * Minimizes the scenario `text` (read from `file`).
 *
 * @throws {ScnError} when the original does not parse or check (an input error).
 * @throws {Error} when the minimized text does not fail as the original did
 * (a bug in the minimizer or the printer).
 *
 * @example
 * ```ts
 * const r = minimize(Deno.readTextFileSync("bug.scn"), "bug.scn");
 * if (r.kind === "minimized") console.log(r.text);
 * ```
 */
export function minimize(
  text: string,
  file: string,
  options: MinimizeOptions = {},
): MinimizeResult {
  const platforms = options.platforms ?? PLATFORMS;
  const load = options.load ?? fileLoader;
  const parsed = parse(text, file);
  // Edits find statements by identity: a long file's lazy body would parse
  // them anew, so the whole tree is kept while minimizing.
  const original = { ...parsed, body: [...parsed.body] };
  const oracle = new Oracle({
    text,
    platforms,
    load,
    maxRuns: Math.max(1, options.maxRuns ?? DEFAULT_MAX_RUNS),
    maxSteps: options.maxSteps,
  });
  const first = oracle.run(original);
  if (first instanceof ScnError) throw first;
  if (first.failures.length === 0) {
    return { kind: "passes", status: first.status === "xpass" ? "xpass" : "pass" };
  }
  const target = targetOf(first.failures[0], options.keepCauses ?? false);
  const shrinker = new Shrinker(original, target, oracle);
  let budgetReached = false;
  try {
    shrinker.shrink();
  } catch (e) {
    if (!(e instanceof BudgetReached)) throw e;
    budgetReached = true;
  }
  const smallest = {
    ...shrinker.current,
    comments: keptComments(original, shrinker.current, text),
  };
  const out = format(smallest, text);
  const final = rerun(out, file, target, { platforms, load, maxSteps: options.maxSteps });
  return {
    kind: "minimized",
    text: out,
    target: target.failure,
    final,
    statements: {
      before: allStatements(original).length,
      after: allStatements(shrinker.current).length,
    },
    runs: oracle.runs + 1,
    budgetReached,
  };
}

/** Runs the printed result; its failure, which must be the target's. */
function rerun(
  text: string,
  file: string,
  target: Target,
  o: { platforms: readonly PlatformEntry[]; load: Loader; maxSteps?: number },
): Failure {
  const program = checkText(text, file, { platforms: o.platforms, load: o.load });
  const result = runProgram(program, { maxSteps: o.maxSteps });
  const same = findSame(result, target, false);
  if (!same) {
    throw new Error(
      `the minimized scenario does not fail as the original did (${target.failure.text}); ` +
        "please report this with the scenario",
    );
  }
  return same;
}

/** Every command in the tree, in written order (actions, handlers, blocks). */
function commandsIn(root: unknown): Command[] {
  const out: Command[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") {
      if ((v as { kind?: string }).kind === "command") out.push(v as Command);
      for (const [k, x] of Object.entries(v)) if (k !== "loc") walk(x);
    }
  };
  walk(root);
  return out;
}

/** The passes, over a tree that only ever gets smaller. */
class Shrinker {
  current: ScnFile;
  /** The failing expectation's statement, when it is in this file (not in an include). */
  readonly targetStatement: Statement | undefined;

  constructor(original: ScnFile, readonly target: Target, readonly oracle: Oracle) {
    this.current = original;
    const at = target.failure.loc;
    this.targetStatement = allStatements(original).find((s) =>
      (s.kind === "expect" || s.kind === "always") && s.loc.source === at.source &&
      s.loc.start.offset === at.start.offset
    );
  }

  /** Statements that may not be removed: metadata, and what holds the target. */
  isProtected(s: Statement): boolean {
    if (isMetadata(s)) return true;
    // A target in an included fragment is kept by keeping every include.
    return this.targetStatement ? contains(s, this.targetStatement) : s.kind === "include";
  }

  shrink(): void {
    for (;;) {
      let changed = this.removeStatements();
      changed = this.simplify() || changed;
      changed = this.mergeRepeats() || changed;
      changed = this.removeArguments() || changed;
      changed = this.shrinkNumbers() || changed;
      if (!changed) return;
    }
  }

  attempt(candidate: ScnFile): boolean {
    if (!this.oracle.reproduces(candidate, this.target)) return false;
    this.current = candidate;
    return true;
  }

  /** Pass 1: chunks of each list, halving down to single statements (lib/core/shrink.ts). */
  removeStatements(): boolean {
    let changed = false;
    for (let li = 0; li < statementLists(this.current).length; li++) {
      let list = statementLists(this.current)[li];
      shrinkList(list, (next) => {
        if (!this.attempt(replaceNode(this.current, list, next))) return false;
        list = next as Statement[];
        changed = true;
        return true;
      }, { removable: (s) => !this.isProtected(s), budget: Infinity });
    }
    return changed;
  }

  /** Pass 2: a block replaced by its body (or by one branch), `run 5ms` by `run`. */
  simplify(): boolean {
    let changed = false;
    for (let li = 0; li < statementLists(this.current).length; li++) {
      let list = statementLists(this.current)[li];
      for (let i = 0; i < list.length; i++) {
        for (const body of simplerForms(list[i])) {
          const next = [...list.slice(0, i), ...body, ...list.slice(i + 1)];
          if (this.attempt(replaceNode(this.current, list, next))) {
            list = next;
            changed = true;
            i--;
            break;
          }
        }
      }
    }
    return changed;
  }

  /** Pass 3: adjacent repeats of one body as one repeat. */
  mergeRepeats(): boolean {
    let changed = false;
    for (let li = 0; li < statementLists(this.current).length; li++) {
      let list = statementLists(this.current)[li];
      for (let i = 0; i + 1 < list.length; i++) {
        const merged = mergeRepeats(list[i], list[i + 1]);
        if (!merged) continue;
        const next = [...list.slice(0, i), merged, ...list.slice(i + 2)];
        if (this.attempt(replaceNode(this.current, list, next))) {
          list = next;
          changed = true;
          i--;
        }
      }
    }
    return changed;
  }

  /** Pass 4: each `name=value` argument of a command, removed one at a time. */
  removeArguments(): boolean {
    let changed = false;
    for (let ci = 0; ci < commandsIn(this.current).length; ci++) {
      let command = commandsIn(this.current)[ci];
      for (let ai = 0; ai < command.args.length; ai++) {
        if (command.args[ai].kind !== "kv") continue;
        const fewer = { ...command, args: command.args.filter((_, k) => k !== ai) };
        if (this.attempt(replaceNode(this.current, command, fewer))) {
          command = fewer;
          changed = true;
          ai--;
        }
      }
    }
    return changed;
  }

  /** Pass 5: every number outside metadata and the target, toward 0, 1 or half. */
  shrinkNumbers(): boolean {
    const fixed = new Set(
      this.current.body.filter(isMetadata).flatMap(numbersIn).concat(
        this.targetStatement ? numbersIn(this.targetStatement) : [],
      ),
    );
    let changed = false;
    for (const start of this.current.body.flatMap(numbersIn)) {
      if (fixed.has(start)) continue;
      let n = start;
      let progress = true;
      while (progress) {
        progress = false;
        for (const v of smallerValues(n.value)) {
          const smaller = withValue(n, v);
          if (this.attempt(replaceNode(this.current, n, smaller))) {
            n = smaller;
            changed = progress = true;
            break;
          }
        }
      }
    }
    return changed;
  }
}

/**
 * The comments of the statements that remain: a comment trailing code goes
 * with the innermost statement on its line, a comment on its own line with
 * the statement after it.
 */
function keptComments(original: ScnFile, smallest: ScnFile, text: string): Comment[] {
  const statements = allStatements(original);
  const kept = new Set(allStatements(smallest).map((s) => s.loc.start.offset));
  return original.comments.filter((c) => {
    const at = c.loc.start.offset;
    const lineStart = Math.max(text.lastIndexOf("\n", at - 1), text.lastIndexOf("\r", at - 1)) + 1;
    const trailing = text.slice(lineStart, at).trim() !== "";
    const owner = trailing
      ? statements.filter((s) =>
        s.loc.start.offset < at && s.loc.start.line <= c.loc.start.line &&
        c.loc.start.line <= s.loc.end.line
      ).at(-1)
      : statements.find((s) => s.loc.start.offset > at);
    return owner !== undefined && kept.has(owner.loc.start.offset);
  });
}
