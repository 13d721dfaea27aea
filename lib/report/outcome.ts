/**
 * The outcome of one file on the command line: a result, an input error, or
 * an internal error; and the exit code a set of outcomes gives.
 *
 * @module
 */
import type { ScenarioResult } from "../engine/run.ts";
import type { Diagnostic } from "../core/diagnostic.ts";

/** What happened to one scenario file. */
export type Outcome =
  | { kind: "result"; file: string; result: ScenarioResult }
  | {
    kind: "input-error";
    file: string;
    diagnostics: Diagnostic[];
    sources: ReadonlyMap<string, string>;
  }
  | { kind: "internal-error"; file: string; message: string }
  /** `scn check`: read and checked, nothing run. */
  | { kind: "checked"; file: string; title: string; tags: string[] };

/** Exit codes of `scn`. */
export const ExitCode = {
  Ok: 0,
  ExpectationFailed: 1,
  InputError: 2,
  InternalError: 3,
} as const;

/** Counts for the summary line. */
export interface Summary {
  /** Passed, expected failures included. */
  passed: number;
  /** Failed, unexpected passes and errors included. */
  failed: number;
  /** Failed as `expect failure` said. */
  xfail: number;
  /** Passed although marked `expect failure`. */
  xpass: number;
  /** Input and internal errors. */
  errors: number;
  /** Not run: the backend (`--backend kvm`) cannot express them. */
  skipped: number;
}

/**
 * Tallies outcomes: an expected failure counts as passed, an unexpected pass
 * and an error count as failed.
 *
 * @example
 * ```ts
 * summarize([]).passed; // 0
 * ```
 */
export function summarize(outcomes: readonly Outcome[]): Summary {
  const s: Summary = { passed: 0, failed: 0, xfail: 0, xpass: 0, errors: 0, skipped: 0 };
  for (const o of outcomes) {
    // Checked without running (`scn check`): neither passed nor failed.
    if (o.kind === "checked") continue;
    if (o.kind !== "result") {
      s.errors++;
      s.failed++;
      continue;
    }
    const st = o.result.status;
    if (st === "skip") {
      s.skipped++;
      continue;
    }
    if (st === "pass" || st === "xfail") s.passed++;
    else s.failed++;
    if (st === "xfail") s.xfail++;
    if (st === "xpass") s.xpass++;
  }
  return s;
}

/** The exit code for a set of outcomes: the most severe wins. */
export function exitCodeOf(outcomes: readonly Outcome[]): number {
  let code: number = ExitCode.Ok;
  for (const o of outcomes) {
    const c = o.kind === "internal-error"
      ? ExitCode.InternalError
      : o.kind === "input-error"
      ? ExitCode.InputError
      : o.kind === "checked"
      ? ExitCode.Ok
      : o.result.status === "fail" || o.result.status === "xpass"
      ? ExitCode.ExpectationFailed
      : ExitCode.Ok;
    code = Math.max(code, c);
  }
  return code;
}
