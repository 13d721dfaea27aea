/**
 * Running or checking the scenarios of one command-line target
 * (lib/cli/run_target.ts) with irqlab's own platforms by default: what the
 * workers of `scn run --jobs N`, the tests and the fuzzer use.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { PLATFORMS } from "../api/platforms.ts";
import type { ReadLimits } from "../load/read.ts";
import type { FileReads } from "../load/files.ts";
import type { Outcome } from "../report/outcome.ts";
import { type RunMode, runTarget } from "./run_target.ts";

export { runLoaded, type RunMode } from "./run_target.ts";

/**
 * Runs or checks every scenario a target names (a `.scn` file, a host file,
 * `bug.md:12`), one outcome each. `platforms` defaults to irqlab's own,
 * `limits` to the read budgets for a stranger's scenario; `reads` is what the
 * run has read already (its includes), shared by its targets.
 *
 * @example
 * ```ts
 * processTarget("bug.md", { mode: "run" }); // one outcome per scenario, named bug.md:LINE
 * ```
 */
export function processTarget(
  target: string,
  how: RunMode,
  platforms?: readonly PlatformEntry[],
  limits?: ReadLimits,
  reads?: FileReads,
): Outcome[] {
  return runTarget(target, how, platforms ?? PLATFORMS, limits, reads);
}

/**
 * Runs or checks one target's first scenario; see {@link processTarget}.
 *
 * @example
 * ```ts
 * processFile("scenarios/seeds/001_unmask_bug.scn", "run").kind; // "result"
 * ```
 */
export function processFile(
  file: string,
  mode: "run" | "check",
  maxSteps?: number,
  platforms?: readonly PlatformEntry[],
  schedule?: string,
  lean = false,
): Outcome {
  return processTarget(file, { mode, maxSteps, schedule, lean }, platforms)[0];
}
