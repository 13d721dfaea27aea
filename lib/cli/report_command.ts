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
import { PLATFORMS } from "../api/platforms.ts";
import type { ScenarioResult } from "../engine/run.ts";
import { ExitCode, exitCodeOf, type Outcome } from "../report/outcome.ts";
import { textReport } from "../report/text.ts";
import { fileLoader, readText } from "../load/files.ts";
import { resolveTarget, type ScenarioSource, toHost } from "../load/hosts.ts";
import { scenarioText } from "../load/extract.ts";
import type { Io } from "./io.ts";
import { processFile } from "./process.ts";
import {
  blockBody,
  type BlockOptions,
  DEFAULT_BLOCK_OPTIONS,
  fenceBlock,
  reportComments,
} from "../report/block.ts";
import { REPORT_HELP } from "../report/block_help.ts";

interface Scenario {
  /** How reports name it. */
  name: string;
  /** The path includes resolve against and locations carry. */
  path: string;
  /** The scenario as written. */
  text: string;
  /** Its outcome, run where it lives. */
  outcome: Outcome;
}

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
      args,
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
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isInteger(n) && n >= min
      ? n
      : `--${name} needs a whole number of at least ${min}, not '${v}'`;
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
  const platforms = io.platforms ?? PLATFORMS;
  const run = (name: string, source?: ScenarioSource) =>
    processFile(name, "run", maxSteps as number | undefined, platforms, undefined, source);

  const found = scenarios(positionals[0], run);
  if ("error" in found) return printErrors([found.error], io);
  const errors = found.filter((s) => s.outcome.kind === "input-error").map((s) => s.outcome);
  if (errors.length) return printErrors(errors, io);

  const blocks: string[] = [];
  for (const s of found) {
    const body = blockBody(s.text, s.path, fileLoader);
    const again = run(s.name, { path: s.path, text: body, quote: body });
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
  return exitCodeOf(found.map((s) => s.outcome));
}

/** The scenarios a target names, each with its outcome where it lives. */
function scenarios(
  target: string,
  run: (name: string, source?: ScenarioSource) => Outcome,
): Scenario[] | { error: Outcome } {
  const r = resolveTarget(target);
  if (r.kind === "error") return { error: r.outcome };
  if (r.kind === "scn") {
    const text = readText(r.path);
    const outcome = run(r.path);
    // Unreadable: the outcome says so.
    if (text === undefined) return { error: outcome };
    return [{ name: r.path, path: r.path, text, outcome }];
  }
  return r.scenarios.map((s) => ({
    name: s.name,
    path: s.host,
    text: s.body,
    outcome: toHost(
      run(s.name, { path: s.host, text: scenarioText(s), quote: r.hostText }),
      s,
      r.hostText,
    ),
  }));
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
