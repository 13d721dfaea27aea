/**
 * `scn report FILE`: prints a block ready to paste into a bug report, one
 * per scenario of FILE (a `.scn` file, a host file, or `host.md:LINE`). See
 * `report_block.ts` for what the block holds.
 *
 * The block is run as printed and its outcome compared with the scenario's
 * own, so what the report says is what `scn run` of the block gives.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { ScenarioResult } from "../engine/run.ts";
import { ExitCode, exitCodeOf, type Outcome } from "../report/outcome.ts";
import { textReport } from "../report/text.ts";
import { fileLoader } from "../load/files.ts";
import { checkSource, inHost, type LoadOptions, readTarget, type Source } from "../load/load.ts";
import { escapeChar } from "../core/visible.ts";
import type { Io } from "./io.ts";
import { joinNegativeValues, wholeNumber } from "./options.ts";
import { runLoaded } from "./process.ts";
import {
  blockBody,
  type BlockOptions,
  DEFAULT_BLOCK_OPTIONS,
  fenceBlock,
  reportComments,
} from "../report/block.ts";
import { REPORT_HELP } from "../report/block_help.ts";

/**
 * Runs `scn report` with its arguments (after the word `report`); returns
 * the exit code.
 *
 * @example
 * ```ts
 * import { consoleIo } from "./main.ts";
 * reportCommand(["scenarios/seeds/001_unmask_bug.scn"], consoleIo()); // 0: XFAIL
 * ```
 */
export function reportCommand(args: string[], io: Io): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, ["events", "max-steps"]),
      allowPositionals: true,
      options: {
        events: { type: "string" },
        "max-steps": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    io.err(`scn report: ${e instanceof Error ? e.message : String(e)}`);
    io.err("try 'scn report --help'");
    return ExitCode.InputError;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    for (const l of REPORT_HELP.split("\n")) io.out(l);
    return ExitCode.Ok;
  }
  if (positionals.length !== 1) {
    io.err(
      "scn report: name one scenario file, e.g. 'scn report bug.scn' or 'scn report bug.md:12'",
    );
    return ExitCode.InputError;
  }
  const count = (name: "events" | "max-steps", min: number): number | undefined | string => {
    const v = values[name];
    return wholeNumber(typeof v === "string" ? v : undefined, name, min);
  };
  const events = count("events", 0), maxSteps = count("max-steps", 1);
  for (const v of [events, maxSteps]) {
    if (typeof v === "string") {
      io.err(`scn report: ${v}`);
      return ExitCode.InputError;
    }
  }
  const options: BlockOptions = {
    ...DEFAULT_BLOCK_OPTIONS,
    lastEvents: (events as number | undefined) ?? DEFAULT_BLOCK_OPTIONS.lastEvents,
  };
  const load: LoadOptions = { platforms: io.platforms };
  const how = { mode: "run" as const, maxSteps: maxSteps as number | undefined };
  const run = (source: Source) => runLoaded(checkSource(source, load), how);

  const found = readTarget(positionals[0]);
  if ("outcome" in found) return printErrors([found.outcome], io);
  // A block is pasted into mail and web pages and must run as printed: a raw
  // control character could not be printed as it is, nor written as an escape.
  const raw = found.sources.map(controlCharacter).find((o) => o !== undefined);
  if (raw) return printErrors([raw], io);
  const ran = found.sources.map((s) => ({ ...s, outcome: run(s) }));
  const errors = ran.filter((s) => s.outcome.kind === "input-error").map((s) => s.outcome);
  if (errors.length) return printErrors(errors, io);

  const blocks: string[] = [];
  for (const s of ran) {
    const body = blockBody(s.body, s.path, fileLoader);
    const again = run({ name: s.name, path: s.path, text: body, body, quote: body });
    const differs = difference(s.outcome, again);
    if (differs) {
      io.err(
        `scn report: internal error: the block of ${s.name} does not reproduce its outcome: ${differs}`,
      );
      io.err("  this is a bug in irqlab: please report it with the scenario");
      return ExitCode.InternalError;
    }
    blocks.push(fenceBlock(body, reportComments(body, s.path, again, options)));
  }
  blocks.forEach((b, i) => {
    if (i > 0) io.out("");
    for (const l of b.replace(/\n$/, "").split("\n")) io.out(l);
  });
  return exitCodeOf(ran.map((s) => s.outcome));
}

/** The input error for the first control character (not tab) in a scenario's text. */
function controlCharacter(s: Source): Outcome | undefined {
  // deno-lint-ignore no-control-regex
  const m = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069]/
    .exec(s.text);
  if (!m) return undefined;
  const before = s.text.slice(0, m.index);
  const line = before.split(/\r\n|\n|\r/).length;
  const column = m.index - Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\r"));
  const at = { offset: m.index, line, column };
  const loc = inHost(s, {
    source: s.path,
    start: at,
    end: { ...at, offset: at.offset + 1, column: column + 1 },
  });
  return {
    kind: "input-error",
    file: s.name,
    diagnostics: [{
      kind: "syntax",
      message: `control character ${
        escapeChar(m[0])
      } in the scenario: scn report will not copy it into a block`,
      loc,
      hint: "remove it, or write \\n or \\t inside a string",
    }],
    sources: new Map([[s.path, s.quote]]),
  };
}

function printErrors(outcomes: Outcome[], io: Io): number {
  for (const l of textReport(outcomes, { trace: false, replay: (f) => `deno task scn run ${f}` })) {
    io.err(l.text);
  }
  return exitCodeOf(outcomes);
}

/**
 * What differs between two outcomes of one scenario, ignoring where it is
 * written (the block's lines are not the file's); undefined when they agree.
 */
export function difference(a: Outcome, b: Outcome): string | undefined {
  if (a.kind !== b.kind) return `${a.kind} became ${b.kind}`;
  if (a.kind === "internal-error" && b.kind === "internal-error") {
    return a.message === b.message ? undefined : "another internal error";
  }
  if (a.kind !== "result" || b.kind !== "result") return undefined;
  const key = (r: ScenarioResult) =>
    JSON.stringify({
      status: r.status,
      title: r.title,
      expectFailure: r.expectFailure,
      failures: r.failures.map((f) => [f.kind, f.text, f.expected, f.actual, f.time, f.events]),
      took: r.took,
      trace: r.trace,
      steps: r.steps,
      time: r.time,
    });
  if (a.result.status !== b.result.status) return `${a.result.status} became ${b.result.status}`;
  return key(a.result) === key(b.result) ? undefined : "the trace or the failures differ";
}
