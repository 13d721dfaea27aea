/**
 * Running or checking the scenarios of one command-line target, with every
 * kind of failure turned into an {@link Outcome} the reports print. Files
 * come in through `lib/load/targets.ts`, the one way in, checked against the
 * platforms given: `scn run` loads only the models its scenarios name.
 * lib/cli/process.ts is the same with irqlab's own platforms by default.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { runProgram, type ScenarioResult } from "../engine/run.ts";
import { runExplained } from "../engine/explained.ts";
import { errorOutcome, inHost, type Loaded, loadTarget, type TargetRead } from "../load/targets.ts";
import type { ReadLimits } from "../load/read.ts";
import type { FileReads } from "../load/files.ts";
import type { Outcome } from "../report/outcome.ts";
import { parseSchedule, ReplayScheduler, type ScheduleEntry } from "../engine/explore_schedule.ts";

/** How {@link runLoaded} runs a checked scenario. */
export interface RunMode {
  /** `check` stops after checking. */
  mode: "run" | "check";
  /** The step budget (`--max-steps`). */
  maxSteps?: number;
  /** A replay token (`scn explore`) fixing the order of parallel blocks. */
  schedule?: string;
  /**
   * Run without a trace and with a counted history, replaying with both
   * only when an expectation fails ({@link runExplained}): what `scn run`
   * does unless a report needs the whole trace or the list of takes.
   */
  lean?: boolean;
  /**
   * With `lean`: whether an expected failure (XFAIL) is replayed too, for a
   * report that shows its failures (TAP) or its timeline. The text report
   * shows only that it failed as marked, so it can do without (default: true).
   */
  explainExpected?: boolean;
}

/**
 * Runs or checks a scenario the one way in loaded, turning every kind of
 * failure into an outcome located where the person has the scenario.
 *
 * @example
 * ```ts
 * import { loadTarget } from "../load/load.ts";
 * const outcomes = loadTarget("tests/fixtures/hosts/two_fenced.md").map((l) =>
 *   runLoaded(l, { mode: "run" })
 * );
 * ```
 */
export function runLoaded(loaded: Loaded, how: RunMode): Outcome {
  if (loaded.kind === "error") return loaded.outcome;
  const { source, program, sources } = loaded;
  const file = source.name;
  try {
    let replay: ReplayScheduler | undefined;
    const options = () => {
      replay = how.schedule === undefined
        ? undefined
        : new ReplayScheduler(parseSchedule(how.schedule, source.path) as ScheduleEntry[], program);
      return { maxSteps: how.maxSteps, scheduler: replay };
    };
    // Checking runs nothing, so it is never reported as a pass.
    if (how.mode !== "run") {
      return { kind: "checked", file, title: program.title, tags: program.tags };
    }
    const result = how.lean
      ? runExplained(program, options, how.explainExpected ?? true)
      : runProgram(program, options());
    replay?.finish();
    return inHost(source, { kind: "result", file, result: { ...result, file } });
  } catch (e) {
    // A backend (lib/kvm, known by name so this module never imports it) that cannot express it.
    if (e instanceof Error && e.name === "BackendUnsupported") {
      return { kind: "result", file, result: skipped(file, program, e.message) };
    }
    return inHost(source, errorOutcome(file, e, sources));
  }
}

/**
 * Runs or checks every scenario a target names (a `.scn` file, a host file,
 * `bug.md:12`), one outcome each, checked against `platforms`; `limits` are
 * the read budgets (for a stranger's scenario by default), `reads` what the
 * run has read already (its includes), shared by its targets, and `read`
 * the target itself, read and parsed already (lib/load/arches.ts).
 *
 * @example
 * ```ts
 * import { X86 } from "../api/x86.ts";
 * runTarget("scenarios/x86/readme_level_redelivery.scn", { mode: "run" }, [X86])[0].kind; // "result"
 * ```
 */
export function runTarget(
  target: string,
  how: RunMode,
  platforms: readonly PlatformEntry[],
  limits?: ReadLimits,
  reads?: FileReads,
  read?: TargetRead,
): Outcome[] {
  const checkOnly = how.mode === "check";
  return loadTarget(target, { platforms, limits, checkOnly, reads, read }).map((l) =>
    runLoaded(l, how)
  );
}

/** The result of a scenario the backend could not run. */
function skipped(file: string, p: Program, reason: string): ScenarioResult {
  return {
    file,
    title: p.title,
    tags: p.tags,
    status: "skip",
    skipReason: reason,
    expectFailure: p.expectFailure?.reason ?? null,
    failures: [],
    trace: [],
    took: [],
    steps: 0,
    time: 0,
  };
}
