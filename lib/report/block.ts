/**
 * The text of a `scn report` block: a Markdown ```scn fence holding the
 * language header, the scenario (includes inlined, so the block stands
 * alone), and `#` comment lines with its outcome, the decisive part of the
 * trace and the decoded magic numbers. Comments keep the block runnable:
 * `scn run` of it, saved as `.md` or its contents as `.scn`, gives the same
 * outcome.
 *
 * @module
 */
import * as posix from "../core/posix_path.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import type { Loc } from "../../dsl/ast.ts";
import { headerVersion, versionHeader } from "../../dsl/version.ts";
import type { TraceEvent } from "../core/trace.ts";
import type { Failure, ScenarioResult } from "../engine/run.ts";
import { ExitCode, type Outcome } from "./outcome.ts";
import { formatEvent } from "./text.ts";
import { decodeMagic } from "./decode.ts";
import { timeline, timelineText } from "./timeline.ts";

/** How much of the trace a block shows. */
export interface BlockOptions {
  /** Trace events shown for a passing scenario (its last ones). */
  lastEvents: number;
  /** At most this many events of a cause chain (its last ones). */
  chainEvents: number;
  /** At most this many events in the timeline (`timeline.ts`). */
  timelineEvents: number;
}

/**
 * The defaults of `scn report`.
 *
 * @example
 * ```ts
 * import { type Outcome } from "./outcome.ts";
 * declare const body: string, outcome: Outcome;
 * reportComments(body, "x.scn", outcome, { ...DEFAULT_BLOCK_OPTIONS, lastEvents: 3 });
 * ```
 */
export const DEFAULT_BLOCK_OPTIONS: BlockOptions = {
  lastEvents: 8,
  chainEvents: 24,
  timelineEvents: 48,
};

const INCLUDE = /^([ \t]*)include[ \t]+"((?:[^"\\]|\\.)*)"[ \t]*(?:#.*)?$/;
const MAX_INCLUDE_DEPTH = 16;

/**
 * The scenario as the block holds it: the header line first (unless it has
 * one), line breaks as `\n`, and each whole-line `include` replaced by the
 * fragment it names, so that the block needs no other file. An include that
 * cannot be read stays as written (running the block then says why).
 *
 * @example
 * ```ts
 * import { fileLoader } from "../load/files.ts";
 * blockBody('scenario "x"\n', "x.scn", fileLoader); // 'irqlab 1\nscenario "x"\n'
 * ```
 */
export function blockBody(scenario: string, path: string, load: Loader): string {
  const text = inline(scenario.replace(/\r\n?/g, "\n"), path, load, 0);
  const body = text.endsWith("\n") ? text : text + "\n";
  return headerVersion(body, path) ? body : `${versionHeader()}\n${body}`;
}

function inline(text: string, from: string, load: Loader, depth: number): string {
  if (depth >= MAX_INCLUDE_DEPTH) return text;
  return text.split("\n").map((line) => {
    const m = INCLUDE.exec(line);
    if (!m) return line;
    const file = load(JSON.parse(`"${m[2]}"`), from);
    if (!file || "refused" in file) return line;
    const inner = inline(file.text.replace(/\r\n?/g, "\n"), file.name, load, depth + 1)
      .replace(/\n$/, "");
    const name = posix.basename(file.name);
    return [
      `${m[1]}# include "${m[2]}": ${name} inlined by scn report`,
      ...inner.split("\n").map((l) => (l === "" ? l : m[1] + l)),
      `${m[1]}# end of ${name}`,
    ].join("\n");
  }).join("\n");
}

/**
 * The comment lines after the scenario: outcome, the trace that decides it,
 * decoded numbers. `source` is the name the block ran under; locations in
 * it are given as block lines.
 *
 * @example
 * ```ts
 * import type { Outcome } from "./outcome.ts";
 * declare const body: string, outcome: Outcome;
 * reportComments(body, "x.scn", outcome, DEFAULT_BLOCK_OPTIONS);
 * // ["# ---- scn report ...", "# outcome: PASS (exit 0)", ...]
 * ```
 */
export function reportComments(
  body: string,
  source: string,
  outcome: Outcome,
  options: BlockOptions = DEFAULT_BLOCK_OPTIONS,
): string[] {
  const out = [`# ---- scn report: what 'scn run' of this block gives (${versionHeader()}) ----`];
  if (outcome.kind === "internal-error") {
    out.push(
      `# outcome: INTERNAL ERROR (exit ${ExitCode.InternalError}): ${oneLine(outcome.message)}`,
    );
  } else if (outcome.kind === "input-error") {
    out.push(`# outcome: INPUT ERROR (exit ${ExitCode.InputError})`);
    for (const d of outcome.diagnostics) {
      out.push(`#   ${where(d.loc, source)}: ${oneLine(d.message)}`);
    }
  } else if (outcome.kind === "checked") {
    out.push(`# outcome: CHECKED (exit ${ExitCode.Ok}): not run`);
  } else {
    out.push(...resultLines(outcome.result, source, options));
    const r = outcome.result;
    if (r.trace.length) {
      out.push("# timeline (lanes left to right: devices, hypervisor, chips, each vCPU):");
      const t = timeline(r, { maxEvents: options.timelineEvents });
      for (const l of timelineText(t, (f) => where(f.loc, source))) out.push(`#${oneLine(l)}`);
    }
  }
  const decoded = decodeMagic(body);
  if (decoded.length) {
    out.push("# decoded:");
    for (const d of decoded) out.push(`#   line ${d.line}: ${d.text}`);
  }
  return out;
}

function resultLines(r: ScenarioResult, source: string, options: BlockOptions): string[] {
  const code = r.status === "fail" || r.status === "xpass" ? ExitCode.ExpectationFailed : 0;
  const out = [`# outcome: ${r.status.toUpperCase()} (exit ${code})`];
  if (r.expectFailure !== null) out.push(`#   expect failure: ${oneLine(r.expectFailure)}`);
  const [first, ...more] = r.failures;
  if (first) {
    out.push(...failureLines(first, r.trace, source, options));
    if (more.length) {
      const at = more.map((f) => where(f.loc, source)).join(", ");
      out.push(`# ${more.length} more failed: ${at}`);
    }
  } else {
    const last = r.trace.slice(-options.lastEvents);
    if (last.length) {
      out.push(`# last ${last.length} of ${r.trace.length} events:`);
      for (const e of last) out.push(`#   ${formatEvent(e)}`);
    }
  }
  return out;
}

function failureLines(
  f: Failure,
  trace: readonly TraceEvent[],
  source: string,
  options: BlockOptions,
): string[] {
  const out = [
    `# ${where(f.loc, source)}: ${f.kind} ${oneLine(f.text)}`,
    `#   expected: ${oneLine(f.expected)}`,
    `#   actual:   ${oneLine(f.actual)}`,
  ];
  const chain = causeChain(trace, f.events);
  if (chain.length === 0) {
    out.push("#   no trace event led to it");
    return out;
  }
  const shown = chain.slice(-options.chainEvents);
  out.push(
    `#   cause chain, root first${
      shown.length < chain.length ? `, last ${shown.length} of ${chain.length}` : ""
    }:`,
  );
  for (const e of shown) out.push(`#     ${formatEvent(e)}`);
  return out;
}

/**
 * The events that led to `events`, each with every cause up to its root,
 * in trace order.
 *
 * @example
 * ```ts
 * import type { ScenarioResult } from "../engine/run.ts";
 * declare const result: ScenarioResult;
 * causeChain(result.trace, result.failures[0].events).map((e) => e.id); // [1, 4, 5]
 * ```
 */
export function causeChain(
  trace: readonly TraceEvent[],
  events: readonly TraceEvent[],
): TraceEvent[] {
  // A failure's events are the trace's own, so `trace[id - 1]` is the event with that id.
  const byId = new Map<number, TraceEvent>();
  for (const e of events) {
    for (let x: TraceEvent | undefined = e; x && !byId.has(x.id); x = trace[x.cause - 1]) {
      byId.set(x.id, x);
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** `line N` in the block, or `file:N` for a location in another file. */
function where(loc: Loc, source: string): string {
  return loc.source === source ? `line ${loc.start.line}` : `${loc.source}:${loc.start.line}`;
}

// A comment ends at the line's end: a value printed over lines must not leave the comment.
function oneLine(s: string): string {
  return s.replace(/\r\n|\n|\r/g, " ");
}

/**
 * Wraps the block in a Markdown fence marked `scn`, longer than any run of
 * backticks inside it.
 *
 * @example
 * ```ts
 * fenceBlock("irqlab 1\nscenario \"x\"\n", ["# outcome: PASS (exit 0)"]);
 * // "```scn\nirqlab 1\nscenario \"x\"\n# outcome: PASS (exit 0)\n```\n"
 * ```
 */
export function fenceBlock(body: string, comments: readonly string[]): string {
  const inside = body + comments.map((c) => c + "\n").join("");
  const longest = Math.max(0, ...[...inside.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}scn\n${inside}${fence}\n`;
}
