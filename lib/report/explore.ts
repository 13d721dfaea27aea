/**
 * Reports of `scn explore`: plain text (one line per scenario, then for a
 * failing order its replay token, the broken expectations with their trace,
 * and the order as a plain scenario) and one JSON document.
 *
 * @module
 */
import { formatDiagnostic, where } from "../core/diagnostic.ts";
import { MAX_VALUE_CHARS, safeJson, visible } from "../core/visible.ts";
import type { Outcome } from "./outcome.ts";
import { errorJson, failureJson } from "./json.ts";
import { formatEvent, type Line, traceLines } from "./text.ts";
import type { ExploreResult } from "../engine/explore.ts";
import { timeline, timelineText } from "./timeline.ts";

/** What happened to one file under `scn explore`. */
export type ExploreOutcome =
  | { kind: "explored"; file: string; result: ExploreResult }
  | Exclude<Outcome, { kind: "result" | "checked" }>;

const STYLES = {
  pass: "color: green",
  fail: "color: red; font-weight: bold",
  xfail: "color: yellow",
  xpass: "color: red; font-weight: bold",
  error: "color: red; font-weight: bold",
  dim: "color: gray",
};

/**
 * Counts for the summary line: an expected failing order counts as passed.
 *
 * @example
 * ```ts
 * summarizeExplore([]); // { passed: 0, failed: 0, xfail: 0, xpass: 0, errors: 0 }
 * ```
 */
export function summarizeExplore(outcomes: readonly ExploreOutcome[]): {
  passed: number;
  failed: number;
  xfail: number;
  xpass: number;
  errors: number;
} {
  const s = { passed: 0, failed: 0, xfail: 0, xpass: 0, errors: 0 };
  for (const o of outcomes) {
    if (o.kind !== "explored") {
      s.errors++;
      s.failed++;
      continue;
    }
    const st = o.result.status;
    if (st === "pass" || st === "xfail") s.passed++;
    else s.failed++;
    if (st === "xfail") s.xfail++;
    if (st === "xpass") s.xpass++;
  }
  return s;
}

/**
 * The exit code: 3 internal error, 2 bad input or a budget, 1 a failing order, else 0.
 *
 * @example
 * ```ts
 * exploreExitCode([]); // 0
 * ```
 */
export function exploreExitCode(outcomes: readonly ExploreOutcome[]): number {
  let code = 0;
  for (const o of outcomes) {
    const c = o.kind === "internal-error"
      ? 3
      : o.kind === "input-error"
      ? 2
      : o.result.status === "fail" || o.result.status === "xpass"
      ? 1
      : 0;
    code = Math.max(code, c);
  }
  return code;
}

function plural(n: number | bigint, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 || n === 1n ? one : many}`;
}

/**
 * The counts of a search, for the report.
 *
 * @example
 * ```ts
 * import type { ExploreResult } from "../engine/explore.ts";
import { timeline, timelineText } from "./timeline.ts";
 * declare const result: ExploreResult;
 * statsLine(result); // "1 parallel block run; 5 states, 3 runs"
 * ```
 */
export function statsLine(r: ExploreResult): string {
  const s = r.stats;
  const extra = [
    plural(s.states, "state"),
    plural(s.runs, "run"),
    s.deduped ? `${s.deduped} reached a state already seen` : "",
    s.pruned ? `${s.pruned} cut by the reduction` : "",
  ].filter(Boolean).join(", ");
  return `${plural(r.blocks, "parallel block run")}; ${extra}`;
}

/** Options for {@link exploreTextReport}. */
export interface ExploreTextOptions {
  /** Print the failing order's whole trace. */
  trace: boolean;
  /** Draw the failing order's timeline (`timeline.ts`). */
  timeline?: boolean;
}

/**
 * Renders explore outcomes as lines.
 *
 * @example
 * ```ts
 * exploreTextReport([], { trace: false }).at(-1)!.text; // "0 passed, 0 failed"
 * ```
 */
export function exploreTextReport(
  outcomes: readonly ExploreOutcome[],
  options: ExploreTextOptions,
): Line[] {
  const out: Line[] = [];
  const line = (text: string, style = "") => out.push({ text, style });
  for (const o of outcomes) {
    if (o.kind === "input-error") {
      line(`ERROR ${o.file}`, STYLES.error);
      for (const d of o.diagnostics) {
        for (const l of formatDiagnostic(d, (s) => o.sources.get(s)).split("\n")) line(`  ${l}`);
      }
      continue;
    }
    if (o.kind === "internal-error") {
      line(`ERROR ${o.file}: internal error: ${o.message}`, STYLES.error);
      line("  this is a bug in irqlab: please report it with the scenario");
      continue;
    }
    const r = o.result;
    line(
      `${r.status.toUpperCase().padEnd(5)} ${r.file}  ${visible(r.title, MAX_VALUE_CHARS)}`,
      STYLES[r.status],
    );
    const counts = statsLine(r);
    if (r.status === "pass") {
      line(
        r.blocks === 0
          ? "      no parallel block: the one order passes"
          : `      ${
            r.orders === null
              ? "every order passes"
              : `${plural(r.orders, "interleaving")}, all pass`
          } (${counts})`,
        STYLES.dim,
      );
    }
    if (r.status === "xpass") {
      line(
        `      expected a failing order (${r.expectFailure}), but ${
          r.orders === null ? "every order passes" : `all ${plural(r.orders, "interleaving")} pass`
        } (${counts})`,
      );
    }
    const cx = r.counterexample;
    if (!cx) continue;
    if (r.status === "xfail") line(`      expected: ${r.expectFailure}`, STYLES.dim);
    line(
      `  failing order: ${cx.token ? `--schedule ${cx.token}` : "the written order"} (${
        plural(cx.deviations, "step")
      } out of written order; ${counts})`,
    );
    for (const f of cx.result.failures) {
      line(`  ${where(f.loc)}: ${f.kind} ${visible(f.text, MAX_VALUE_CHARS)}`);
      line(`    expected: ${visible(f.expected, MAX_VALUE_CHARS)}`);
      line(`    actual:   ${visible(f.actual, MAX_VALUE_CHARS)}`);
      if (f.events.length) {
        line("    trace:");
        for (const e of f.events) line(`      ${formatEvent(e)}`, STYLES.dim);
      }
    }
    line(
      `  replay: deno task scn run ${r.file}${cx.token ? ` --schedule ${cx.token}` : ""} --trace`,
      STYLES.dim,
    );
    // When the written order fails, the scenario itself is the plain scenario.
    if (cx.token && "text" in cx.linear) {
      line("  as a plain scenario ('scn run' fails on it; --out FILE writes it):");
      for (const l of cx.linear.text.replace(/\n$/, "").split("\n")) line(`    | ${l}`);
    } else if (cx.token && "why" in cx.linear) {
      line(`  no plain scenario: ${cx.linear.why}; the replay token reproduces the order`);
    }
    if (options.trace) out.push(...traceLines(cx.result.trace));
    if (options.timeline) {
      line("  the failing order's timeline:");
      for (const l of timelineText(timeline(cx.result))) line(l);
    }
  }
  const s = summarizeExplore(outcomes);
  if (outcomes.length > 1 || s.xfail || s.xpass || s.errors) {
    line(
      `(${s.xfail} expected failures, ${s.xpass} unexpected passes, ${s.errors} errors)`,
      STYLES.dim,
    );
  }
  // An input error is not a failed expectation: it is counted on its own.
  line(
    `${s.passed} passed, ${s.failed - s.errors} failed` +
      (s.errors ? `, ${s.errors} ${s.errors === 1 ? "error" : "errors"}` : ""),
    s.failed ? STYLES.fail : STYLES.pass,
  );
  // Whatever a scenario put in a title, a file name or a trace reaches the terminal escaped.
  for (const l of out) l.text = visible(l.text);
  return out;
}

/**
 * Renders explore outcomes as one JSON document.
 *
 * @example
 * ```ts
 * JSON.parse(exploreJsonReport([])).summary.passed; // 0
 * ```
 */
export function exploreJsonReport(
  outcomes: readonly ExploreOutcome[],
  shard?: { index: number; count: number },
): string {
  const explored = outcomes.map((o) => {
    if (o.kind === "explored") {
      const r = o.result;
      const cx = r.counterexample;
      return {
        file: r.file,
        title: r.title,
        tags: r.tags,
        status: r.status,
        expectFailure: r.expectFailure,
        orders: r.orders === null ? null : r.orders.toString(),
        blocks: r.blocks,
        stats: r.stats,
        counterexample: cx && {
          schedule: cx.token,
          deviations: cx.deviations,
          orders: cx.runs.map((b) => ({
            file: b.block.loc.source,
            line: b.block.loc.start.line,
            run: b.occurrence,
            order: b.order,
          })),
          failures: cx.result.failures.map(failureJson),
          linear: "text" in cx.linear ? cx.linear.text : null,
          linearWhy: "why" in cx.linear ? cx.linear.why : null,
        },
      };
    }
    return errorJson(o);
  });
  // A shard says which it is (from 1), so `scn explore merge` can check it has them all.
  const which = shard ? { shard: { index: shard.index + 1, count: shard.count } } : {};
  return safeJson(JSON.stringify(
    { version: 1, ...which, explored, summary: summarizeExplore(outcomes) },
    null,
    2,
  ));
}
