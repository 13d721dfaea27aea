/**
 * Plain-text reports: one line per scenario, the details of every failure
 * with the trace events that led to it and the command that replays it, and
 * the final `N passed, M failed` line.
 *
 * Output is a list of lines with optional styles, so the command line can
 * colour them on a terminal (`%c`) and tests can compare plain text.
 *
 * @module
 */
import { formatEvent, formatTime, type TraceEvent } from "../core/trace.ts";
import { MAX_VALUE_CHARS, visible } from "../core/visible.ts";
import { formatDiagnostic } from "../core/diagnostic.ts";
import { type Outcome, summarize } from "./outcome.ts";
import type { ScenarioResult } from "../engine/run.ts";
import { timeline, timelineText } from "./timeline.ts";

export { formatTime };

/** A line of output: text, and a CSS style for terminals (empty for none). */
export interface Line {
  /** The line, without styling. */
  text: string;
  /** CSS for `%c` on a terminal; empty for none. */
  style: string;
}

const STYLES = {
  pass: "color: green",
  fail: "color: red; font-weight: bold",
  xfail: "color: yellow",
  xpass: "color: red; font-weight: bold",
  skip: "color: gray",
  error: "color: red; font-weight: bold",
  dim: "color: gray",
};

/** Options for {@link textReport}. */
export interface TextOptions {
  /** Print every scenario's full trace. */
  trace: boolean;
  /** How to replay one file, for failure messages. */
  replay: (file: string) => string;
  /** Draw the timeline (`timeline.ts`) of each failing scenario, or of every one. */
  timeline?: "failed" | "all";
}

/**
 * Renders outcomes as lines.
 *
 * @example
 * ```ts
 * textReport([], { trace: false, replay: (f) => f }).at(-1)!.text; // "0 passed, 0 failed"
 * ```
 */
export function textReport(outcomes: readonly Outcome[], options: TextOptions): Line[] {
  const out: Line[] = [];
  for (const o of outcomes) {
    if (o.kind === "input-error") {
      out.push({ text: `ERROR ${o.file}`, style: STYLES.error });
      for (const d of o.diagnostics) {
        for (const l of formatDiagnostic(d, (s) => o.sources.get(s)).split("\n")) {
          out.push({ text: `  ${l}`, style: "" });
        }
      }
      continue;
    }
    if (o.kind === "internal-error") {
      out.push({ text: `ERROR ${o.file}: internal error: ${o.message}`, style: STYLES.error });
      out.push({
        /** The line, without styling. */
        text: "  this is a bug in irqlab: please report it with the scenario",
        /** CSS for `%c` on a terminal; empty for none. */
        style: "",
      });
      continue;
    }
    if (o.kind === "checked") {
      out.push({ text: `CHECKED ${o.file}  ${o.title}`, style: STYLES.dim });
      continue;
    }
    const r = o.result;
    const label = r.status.toUpperCase().padEnd(5);
    out.push({
      text: `${label} ${r.file}  ${visible(r.title, MAX_VALUE_CHARS)}`,
      style: STYLES[r.status],
    });
    if (r.status === "skip") out.push({ text: `      ${r.skipReason}`, style: STYLES.dim });
    if (r.status === "xfail") {
      out.push({ text: `      expected failure: ${r.expectFailure}`, style: STYLES.dim });
    }
    if (r.status === "xpass") {
      out.push({
        /** The line, without styling. */
        text: `      marked 'expect failure "${r.expectFailure}"' but that expectation held`,
        /** CSS for `%c` on a terminal; empty for none. */
        style: "",
      });
      out.push({
        text: "      if the bug is fixed, write it as a plain 'expect'",
        style: "",
      });
    }
    // Plain loops: a runaway trace can hold more lines than a spread may pass.
    if (r.status === "fail" && r.expectFailure !== null && !r.tags.includes("known-race")) {
      out.push({
        text: `      only the expectation marked 'expect failure "${r.expectFailure}"' may fail`,
        style: STYLES.dim,
      });
    }
    if (r.status === "fail") { for (const l of failureLines(r, options)) out.push(l); }
    if (options.trace) { for (const l of traceLines(r.trace)) out.push(l); }
    const failed = r.status === "fail" || r.status === "xfail";
    if (options.timeline === "all" || (options.timeline === "failed" && failed)) {
      for (const text of timelineText(timeline(r))) out.push({ text, style: "" });
    }
  }
  const s = summarize(outcomes);
  const checked = outcomes.filter((o) => o.kind === "checked").length;
  if (checked > 0 && checked + s.errors === outcomes.length) {
    // scn check: nothing ran, so nothing passed.
    out.push({
      text: `${checked} checked, ${s.errors} with errors`,
      style: s.errors ? STYLES.fail : STYLES.dim,
    });
    return out;
  }
  if (outcomes.length > 1 || s.xfail || s.xpass || s.errors) {
    out.push({
      /** The line, without styling. */
      text: `(${s.xfail} expected failures, ${s.xpass} unexpected passes, ${s.errors} errors)`,
      /** CSS for `%c` on a terminal; empty for none. */
      style: STYLES.dim,
    });
  }
  out.push({
    /** The line, without styling. */
    // An input error is not a failed expectation: it is counted on its own.
    text: `${s.passed} passed, ${s.failed - s.errors} failed` +
      (s.errors ? `, ${s.errors} ${s.errors === 1 ? "error" : "errors"}` : "") +
      (s.skipped ? `, ${s.skipped} skipped` : ""),
    /** CSS for `%c` on a terminal; empty for none. */
    style: s.failed ? STYLES.fail : STYLES.pass,
  });
  // Whatever a scenario put in a title, a file name or a trace reaches the terminal escaped.
  for (const l of out) l.text = visible(l.text);
  return out;
}

function failureLines(r: ScenarioResult, options: TextOptions): Line[] {
  const out: Line[] = [];
  for (const f of r.failures) {
    const where = `${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}`;
    out.push({ text: `  ${where}: ${f.kind} ${visible(f.text, MAX_VALUE_CHARS)}`, style: "" });
    out.push({ text: `    expected: ${visible(f.expected, MAX_VALUE_CHARS)}`, style: "" });
    out.push({ text: `    actual:   ${visible(f.actual, MAX_VALUE_CHARS)}`, style: "" });
    if (f.events.length) {
      out.push({ text: "    trace:", style: "" });
      for (const e of f.events) out.push({ text: `      ${formatEvent(e)}`, style: STYLES.dim });
    }
  }
  out.push({ text: `  replay: ${options.replay(r.file)}`, style: STYLES.dim });
  return out;
}

/** The trace as lines, each with its cause. */
export function traceLines(events: readonly TraceEvent[]): Line[] {
  return events.map((e) => ({ text: `  ${formatEvent(e)}`, style: "" }));
}

export { formatEvent };
