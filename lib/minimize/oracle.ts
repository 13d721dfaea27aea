/**
 * The question `scn minimize` asks of every candidate: does it still check,
 * and does the same expectation still fail in the same way?
 *
 * "The same expectation" is the one written at the same place in the
 * original file: candidates are edited trees that keep the original
 * locations (see `edits.ts`). "In the same way" is the same failure report:
 * the same kind (`expect` or `always`), the same expected and seen values.
 * The trace around it is not part of the way it fails, so a statement that
 * changes nothing the expectation sees (a `bit clear` of a clear bit) goes,
 * and the result is 1-minimal: no single statement, argument or block can be
 * removed with the same expectation failing with the same values.
 *
 * With `keepCauses` the events the failure gives as its reason must come
 * again too (by source, kind and text; ids and times may differ). An
 * interrupt that never arrives is easiest reproduced by never raising it, so
 * an expectation that only says "taken once" may shrink to a scenario that
 * raises nothing; keeping the events keeps the actions that explain the
 * failure, at the price of statements whose events are only context.
 *
 * @module
 */
import type { ScnFile } from "../../dsl/ast.ts";
import { check } from "../../dsl/check/mod.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { type Failure, runProgram, type ScenarioResult } from "../engine/run.ts";
import { ScnError } from "../core/diagnostic.ts";

/** The failure a minimization keeps. */
export interface Target {
  /** The failure as the original scenario reports it. */
  failure: Failure;
  /** {@link failureShape} of it. */
  shape: string;
  /** {@link eventKeys} of it, each to be given again; none unless causes are kept. */
  events: readonly string[];
}

/**
 * The target for a failure of the original scenario.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { runProgram } from "../../mod.ts";
 * declare const program: Program;
 * const target = targetOf(runProgram(program).failures[0]);
 * ```
 */
export function targetOf(failure: Failure, keepCauses = false): Target {
  const events = keepCauses ? [...eventKeys(failure)] : [];
  return { failure, shape: failureShape(failure), events };
}

/**
 * The events a failure gives as its reason, by source, kind and text.
 *
 * @example
 * ```ts
 * import { type Failure } from "../../mod.ts";
 * declare const failure: Failure;
 * eventKeys(failure); // Set { "vcpu0 took: 0x9a", ... }
 * ```
 */
export function eventKeys(f: Failure): Set<string> {
  return new Set(f.events.map((e) => `${e.source} ${e.kind}: ${e.text}`));
}

/**
 * A failure reduced to what must stay the same but for its events: its kind,
 * the expectation as written, what was expected and what was seen.
 *
 * @example
 * ```ts
 * import { type Failure } from "../engine/run.ts";
 * declare const rest: Pick<Failure, "loc" | "time" | "after">;
 * failureShape({ kind: "expect", text: "vcpu0 took 0x41", expected: "0x41", actual: "nothing", events: [], ...rest });
 * // "expect|vcpu0took0x41|0x41|nothing"
 * ```
 */
export function failureShape(f: Failure): string {
  // The expectation's text is its source slice: compare it without layout.
  return [f.kind, f.text.replace(/[\s()]/g, ""), f.expected, f.actual].join("|");
}

/** Runs candidates and counts the runs against a budget. */
export class Oracle {
  /** Candidates run so far. */
  runs = 0;

  /**
   * @example
   * ```ts
   * import { fileLoader } from "../load/files.ts";
   * import { PLATFORMS } from "../../mod.ts";
   * declare const text: string;
   * const oracle = new Oracle({ text, platforms: PLATFORMS, load: fileLoader, maxRuns: 1000 });
   * ```
   */
  constructor(
    readonly options: {
      /** The original text, for quoting. */
      text: string;
      platforms: readonly PlatformEntry[];
      load: Loader;
      /** How many candidates may be run; past it {@link BudgetReached} is thrown. */
      maxRuns: number;
      /** The step budget of each run. */
      maxSteps?: number;
    },
  ) {}

  /**
   * Checks and runs a tree. Input errors (the candidate no longer checks, or
   * fails at run time) come back as the {@link ScnError}.
   */
  run(file: ScnFile): ScenarioResult | ScnError {
    if (this.runs >= this.options.maxRuns) throw new BudgetReached(this.runs);
    this.runs++;
    try {
      const program = check(file, {
        platforms: this.options.platforms,
        load: this.options.load,
        text: this.options.text,
      });
      return runProgram(program, { maxSteps: this.options.maxSteps });
    } catch (e) {
      if (e instanceof ScnError) return e;
      throw e;
    }
  }

  /** Whether the candidate fails at the target's place in the target's way. */
  reproduces(file: ScnFile, target: Target): boolean {
    let r: ScenarioResult | ScnError;
    try {
      r = this.run(file);
    } catch (e) {
      // A candidate that crashes the model shows a different bug; not this one.
      if (e instanceof BudgetReached) throw e;
      return false;
    }
    return !(r instanceof ScnError) && findSame(r, target, true) !== undefined;
  }
}

/**
 * The failure of `result` that is the target's: at the same place when
 * `samePlace` (candidates keep the original's locations; a printed result
 * does not), of the same shape, giving the same reasons.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { runProgram } from "../../mod.ts";
 * declare const program: Program, target: Target;
 * findSame(runProgram(program), target, true)?.actual;
 * ```
 */
export function findSame(
  result: ScenarioResult,
  target: Target,
  samePlace: boolean,
): Failure | undefined {
  const at = target.failure.loc;
  return result.failures.find((f) => {
    if (samePlace && (f.loc.source !== at.source || f.loc.start.offset !== at.start.offset)) {
      return false;
    }
    if (failureShape(f) !== target.shape) return false;
    // Masking numbers in the events would let the cause drift (an LPI
    // enabled that is not the LPI mapped): the events stay as they were.
    const given = eventKeys(f);
    return target.events.every((e) => given.has(e));
  });
}

/** Thrown when the run budget is spent; the minimizer keeps what it has. */
export class BudgetReached extends Error {
  /**
   * @example
   * ```ts
   * throw new BudgetReached(1000);
   * ```
   */
  constructor(readonly runs: number) {
    super(`run budget reached after ${runs} runs`);
    this.name = "BudgetReached";
  }
}
