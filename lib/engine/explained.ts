/**
 * Running lean and explaining by replay. A run that keeps its trace and its
 * whole delivery history spends most of its time and memory on them, and
 * needs them only when an expectation fails. So the run goes first with
 * neither; when something failed, the same program runs again from the
 * start with both, and that second result is the one reported. The model is
 * deterministic and never reads the trace, so the replay takes the same
 * path and its report is the one a traced run gives, byte for byte.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import { type RunOptions, runProgram, type ScenarioResult } from "./run.ts";
import { ScnError } from "../core/diagnostic.ts";

/**
 * Runs `program` without a trace and with a counted history; if an
 * expectation failed, runs it again with both and returns that result.
 * `options` is called once per run, so a stateful scheduler (a replayed
 * schedule) starts afresh; its `trace` and `history` are overridden.
 * `explainExpected: false` keeps the lean result of an expected failure
 * (XFAIL) for a report that shows of it only that it failed as marked:
 * its status and counts are the replay's, its failures' details not.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const result = runExplained(program, () => ({ maxSteps: 1000 }));
 * result.failures[0]?.events; // the cause chain, as a traced run gives it
 * ```
 */
export function runExplained(
  program: Program,
  options: () => RunOptions,
  explainExpected = true,
): ScenarioResult {
  let lean: ScenarioResult;
  try {
    lean = runProgram(program, { ...options(), trace: false, history: "counts" });
  } catch (e) {
    // A budget error shows the events that spent the budget: replay to record them
    // (the replay throws the same error, now with its last events).
    if (e instanceof ScnError && e.diagnostics[0].kind === "budget") {
      return runProgram(program, { ...options(), trace: true, history: "full" });
    }
    throw e;
  }
  if (lean.failures.length === 0) return lean;
  if (!explainExpected && lean.status === "xfail") return lean;
  return runProgram(program, { ...options(), trace: true, history: "full" });
}
