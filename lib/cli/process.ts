/**
 * Running or checking one scenario file, with every kind of failure turned
 * into an {@link Outcome} the reports print.
 *
 * @module
 */
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { ScnError } from "../core/diagnostic.ts";
import { PLATFORMS } from "../api/platforms.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { runProgram, type ScenarioResult } from "../engine/run.ts";
import { runExplained } from "../engine/explained.ts";
import { fileLoader, readText } from "../load/files.ts";
import type { ScenarioSource } from "../load/hosts.ts";
import type { Outcome } from "../report/outcome.ts";
import { parseSchedule, ReplayScheduler, type ScheduleEntry } from "../engine/explore_schedule.ts";

/**
 * Runs or checks one file, turning every kind of failure into an outcome.
 * `platforms` defaults to irqlab's own; tests pass others. `schedule` is a
 * replay token (`scn explore`) fixing the order of parallel blocks.
 * `source` gives the text of a scenario found in a host file (`hosts.ts`)
 * instead of reading `file`. `lean` runs without a trace and with a
 * counted history, replaying with both only when an expectation fails
 * ({@link runExplained}): what `scn run` does unless a report needs the
 * whole trace or the list of takes (`--trace`, `--json`).
 */
export function processFile(
  file: string,
  mode: "run" | "check",
  maxSteps?: number,
  platforms: readonly PlatformEntry[] = PLATFORMS,
  schedule?: string,
  source?: ScenarioSource,
  lean = false,
): Outcome {
  const text = source ? source.text : readText(file);
  const path = source ? source.path : file;
  const sources = new Map<string, string>();
  if (text === undefined) {
    const at = { offset: 0, line: 1, column: 1 };
    return {
      kind: "input-error",
      file,
      diagnostics: [{
        kind: "include",
        message: `cannot read '${file}'`,
        loc: { source: file, start: at, end: at },
      }],
      sources,
    };
  }
  sources.set(path, source ? source.quote : text);
  let program: ReturnType<typeof check> | undefined;
  try {
    program = check(parse(text, path), { platforms, load: fileLoader, text });
    for (const [k, v] of program.sources) sources.set(k, v);
    if (source) sources.set(path, source.quote);
    const checked = program;
    let replay: ReplayScheduler | undefined;
    const options = () => {
      replay = schedule === undefined
        ? undefined
        : new ReplayScheduler(parseSchedule(schedule, path) as ScheduleEntry[], checked);
      return { maxSteps, scheduler: replay };
    };
    // Checking runs nothing, so it is never reported as a pass.
    if (mode !== "run") return { kind: "checked", file, title: program.title, tags: program.tags };
    const result = lean ? runExplained(program, options) : runProgram(program, options());
    replay?.finish();
    return { kind: "result", file, result };
  } catch (e) {
    if (e instanceof ScnError) {
      // Included files are read during checking; quote them too.
      for (const d of e.diagnostics) {
        for (const s of [d.loc.source, ...(d.related ?? []).map((r) => r.loc.source)]) {
          if (!sources.has(s)) {
            const t = readText(s);
            if (t !== undefined) sources.set(s, t);
          }
        }
      }
      return { kind: "input-error", file, diagnostics: e.diagnostics, sources };
    }
    // A backend (lib/kvm, known by name so this module never imports it) that cannot express it.
    if (e instanceof Error && e.name === "BackendUnsupported" && program) {
      return { kind: "result", file, result: skipped(file, program, e.message) };
    }
    return {
      kind: "internal-error",
      file,
      message: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    };
  }
}

/** The result of a scenario the backend could not run. */
function skipped(file: string, p: ReturnType<typeof check>, reason: string): ScenarioResult {
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
