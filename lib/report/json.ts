/**
 * The `--json` report: one object with a `scenarios` array and a `summary`.
 *
 * @module
 */
import { safeJson } from "../core/visible.ts";
import { type Outcome, summarize } from "./outcome.ts";
import { formatDiagnostic } from "../core/diagnostic.ts";
import type { Failure } from "../engine/run.ts";

/**
 * Renders outcomes as one JSON document (stable key order, two-space indent).
 *
 * @example
 * ```ts
 * JSON.parse(jsonReport([])).summary.passed; // 0
 * ```
 */
export function jsonReport(outcomes: readonly Outcome[]): string {
  const scenarios = outcomes.map((o) => {
    if (o.kind === "result") {
      const r = o.result;
      return {
        file: r.file,
        title: r.title,
        tags: r.tags,
        status: r.status,
        expectFailure: r.expectFailure,
        ...(r.status === "skip" ? { skipReason: r.skipReason } : {}),
        failures: r.failures.map((f) => ({
          ...failureJson(f),
          time: f.time,
          events: f.events.map((e) => ({ ...e })),
        })),
        took: r.took.map((t) => ({ ...t })),
        steps: r.steps,
        time: r.time,
      };
    }
    if (o.kind === "checked") {
      return { file: o.file, title: o.title, tags: o.tags, status: "checked" };
    }
    return errorJson(o);
  });
  return safeJson(JSON.stringify({ version: 1, scenarios, summary: summarize(outcomes) }, null, 2));
}

/**
 * A failed expectation as the JSON reports give it: where it is written,
 * what it says, what was expected and what was seen. `scn run --json` adds
 * its time and events; `scn explore --json` gives it as is.
 *
 * @example
 * ```ts
 * import type { Failure } from "../engine/run.ts";
 * declare const f: Failure;
 * failureJson(f).line; // the expectation's line
 * ```
 */
export function failureJson(f: Failure): {
  kind: Failure["kind"];
  file: string;
  line: number;
  column: number;
  text: string;
  expected: string;
  actual: string;
} {
  return {
    kind: f.kind,
    file: f.loc.source,
    line: f.loc.start.line,
    column: f.loc.start.column,
    text: f.text,
    expected: f.expected,
    actual: f.actual,
  };
}

/**
 * The JSON of an outcome that is not a result: an input error with its
 * located diagnostics (each also formatted as `scn` prints it), or an
 * internal error. Shared by `scn run --json` and `scn explore --json`.
 *
 * @example
 * ```ts
 * errorJson({ kind: "internal-error", file: "a.scn", message: "boom" });
 * // { file: "a.scn", status: "internal-error", message: "boom" }
 * ```
 */
export function errorJson(
  o: Exclude<Outcome, { kind: "result" | "checked" }>,
): Record<string, unknown> {
  if (o.kind === "input-error") {
    return {
      file: o.file,
      status: "error",
      errors: o.diagnostics.map((d) => ({
        kind: d.kind,
        file: d.loc.source,
        line: d.loc.start.line,
        column: d.loc.start.column,
        message: d.message,
        hint: d.hint ?? null,
        text: formatDiagnostic(d, (s) => o.sources.get(s)),
      })),
    };
  }
  return { file: o.file, status: "internal-error", message: o.message };
}
