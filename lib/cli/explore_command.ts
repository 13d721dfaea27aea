/**
 * The `scn explore` command: options, loading files, running the search
 * (in this thread or over workers), reporting, and `--out FILE`.
 * `lib/cli/main.ts` dispatches here.
 *
 * @module
 */
import { tapExploreReport } from "../report/tap.ts";
import { wholeNumber } from "./options.ts";
import { Progress, type ProgressSink } from "../report/progress.ts";
import type { Program } from "../../dsl/program.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { collectFiles, readText } from "../load/files.ts";
import { errorOutcome, inHost, type Loaded, loadTarget, missingOutcome } from "../load/load.ts";
import {
  DEFAULT_MAX_STATES,
  explore,
  type ExploreOptions,
  type ExploreResult,
  exploreSchedule,
} from "../engine/explore.ts";
import { exploreWithWorkers } from "./explore_workers.ts";
import {
  exploreExitCode,
  exploreJsonReport,
  type ExploreOutcome,
  exploreTextReport,
} from "../report/explore.ts";
import { parseSchedule, type ScheduleEntry } from "../engine/explore_schedule.ts";
import { mergeExploreReports } from "../report/explore_merge.ts";

/** Where `scn explore` writes (the same shape as the command line's `Io`). */
export interface ExploreIo {
  out(line: string, style?: string): void;
  err(line: string): void;
  color: boolean;
  writeFile(path: string, text: string): void;
  platforms?: readonly PlatformEntry[];
  /** Where a progress line over a long search goes (stderr); none when absent. */
  progress?: ProgressSink;
}

/** The options of `scn explore`, as parsed from the command line. */
export interface ExploreCliOptions {
  explore: ExploreOptions;
  workers: number;
  /** Run only this order. */
  schedule?: string;
  /** Write the failing order as a plain scenario here. */
  out?: string;
  json: boolean;
  /** TAP 14 instead of text (`lib/report/tap.ts`). */
  tap?: boolean;
  /** Draw the failing order's timeline. */
  timeline?: boolean;
  trace: boolean;
  noColor: boolean;
}

/** Raw option values as `parseArgs` gives them. */
export interface RawExploreOptions {
  "max-states"?: string;
  "max-depth"?: string;
  workers?: string;
  "no-reduce"?: boolean;
  "no-dedup"?: boolean;
  schedule?: string;
  out?: string;
  shard?: string;
}

/**
 * Checks the explore options; returns a message for the first bad one.
 *
 * @example
 * ```ts
 * exploreOptions({ "max-states": "10" }, 100, { json: false, trace: false, noColor: true });
 * ```
 */
export function exploreOptions(
  raw: RawExploreOptions,
  maxSteps: number | undefined,
  base: { json: boolean; tap?: boolean; timeline?: boolean; trace: boolean; noColor: boolean },
): ExploreCliOptions | string {
  const count = (name: keyof RawExploreOptions): number | string | undefined => {
    const v = raw[name];
    return wholeNumber(typeof v === "string" ? v : undefined, name, 1);
  };
  const maxStates = count("max-states"), maxDepth = count("max-depth"), workers = count("workers");
  for (const v of [maxStates, maxDepth, workers]) if (typeof v === "string") return v;
  if (raw.schedule !== undefined) {
    const p = parseSchedule(raw.schedule, "-");
    if (typeof p === "string") return `--schedule: ${p}`;
  }
  let shard: { index: number; count: number } | undefined;
  if (raw.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(raw.shard);
    const i = m ? Number(m[1]) : 0, n = m ? Number(m[2]) : 0;
    if (!m || n < 1 || i < 1 || i > n) {
      return `--shard needs I/N with 1 <= I <= N (shard I of N), not '${raw.shard}'`;
    }
    if (raw.schedule !== undefined) return "--shard searches; --schedule runs one order: not both";
    shard = { index: i - 1, count: n };
  }
  return {
    explore: {
      maxSteps,
      maxStates: maxStates as number | undefined,
      maxDepth: maxDepth as number | undefined,
      reduce: !raw["no-reduce"],
      dedup: !raw["no-dedup"],
      ...(shard ? { shard } : {}),
    },
    workers: (workers as number | undefined) ?? 1,
    schedule: raw.schedule,
    out: raw.out,
    ...base,
  };
}

type Runner = (program: Program, file: string) => ExploreResult | Promise<ExploreResult>;

/**
 * The progress line of a search in this thread: one file at a time, the
 * states explored against the `--max-states` budget, and the files that
 * failed so far. Only on a terminal, and never with `--json` or `--tap`.
 */
class SearchProgress {
  #line: Progress | undefined;
  #failed = 0;
  readonly #on: boolean;

  constructor(
    private readonly o: ExploreCliOptions,
    private readonly sink: ProgressSink | undefined,
    private readonly files: number,
  ) {
    this.#on = sink !== undefined && !o.json && !o.tap && o.workers <= 1 &&
      o.schedule === undefined;
  }

  /** A search of the `index`-th file (from 1) starts. */
  start(index: number, file: string): void {
    if (!this.#on) return;
    this.#line = new Progress({
      label: `explore ${index}/${this.files} ${file}: states`,
      total: this.o.explore.maxStates ?? DEFAULT_MAX_STATES,
      failures: "failed",
      sink: this.sink,
    });
  }

  /** For {@link ExploreOptions.progress}. */
  readonly update = (stats: { states: number }): void => {
    this.#line?.update(stats.states, this.#failed);
  };

  /** The search ended with `outcome`. */
  end(outcome: ExploreOutcome): void {
    const r = outcome.kind === "explored" ? outcome.result.status : "error";
    if (r === "fail" || r === "xpass" || r === "error") this.#failed++;
    this.#line?.end();
    this.#line = undefined;
  }
}

function runner(o: ExploreCliOptions, progress?: SearchProgress): Runner {
  if (o.schedule !== undefined) {
    const token = o.schedule;
    return (program) =>
      exploreSchedule(program, parseSchedule(token, program.file) as ScheduleEntry[], o.explore);
  }
  if (o.workers > 1) {
    return (program, file) => exploreWithWorkers(program, file, o.explore, o.workers);
  }
  return (program) => explore(program, { ...o.explore, progress: progress?.update });
}

/**
 * `scn explore merge A.json B.json ...`: the JSON reports of every shard of
 * one `scn explore --shard I/N --json` run, merged into the JSON report of
 * the whole search ({@link mergeExploreReports}); exit code as `scn explore`.
 *
 * @example
 * ```ts
 * import { type Io } from "./io.ts";
 * declare const io: Io;
 * exploreMergeCommand(["shard1.json", "shard2.json"], io);
 * ```
 */
export function exploreMergeCommand(paths: string[], io: ExploreIo): number {
  const texts: string[] = [];
  for (const p of paths) {
    const t = readText(p);
    if (t === undefined) {
      io.err(`scn explore merge: cannot read '${p}'`);
      return 2;
    }
    texts.push(t);
  }
  const r = mergeExploreReports(texts);
  if ("error" in r) {
    io.err(`scn explore merge: ${r.error}`);
    return 2;
  }
  io.out(r.json);
  return r.code;
}

/**
 * `scn explore` in this thread. With `--workers` above 1 use
 * {@link exploreCommandAsync}.
 *
 * @example
 * ```ts
 * declare const io: ExploreIo, options: ExploreCliOptions;
 * exploreCommand(["scenarios/races"], options, io); // 0 when every race is as its scenario says
 * ```
 */
export function exploreCommand(paths: string[], o: ExploreCliOptions, io: ExploreIo): number {
  if (o.workers > 1) {
    io.err("scn explore: --workers needs the asynchronous entry point (mainAsync)");
    return 2;
  }
  const pre = precheck(paths, o, io);
  if (typeof pre === "number") return pre;
  const progress = new SearchProgress(o, io.progress, pre.loaded.length);
  const run = runner(o, progress);
  const outcomes: ExploreOutcome[] = pre.missing.map(missingOutcome);
  for (const [i, l] of pre.loaded.entries()) {
    if (l.kind === "error") outcomes.push(l.outcome);
    else {
      const f = l.source.name;
      progress.start(i + 1, f);
      outcomes.push(
        inHost(l.source, guard(f, l, () => ({ ...(run(l.program, f) as ExploreResult), file: f }))),
      );
      progress.end(outcomes[outcomes.length - 1]);
    }
  }
  return report(outcomes, o, io);
}

/**
 * `scn explore`, with workers when `--workers` is above 1.
 *
 * @example
 * ```ts
 * declare const io: ExploreIo, options: ExploreCliOptions;
 * await exploreCommandAsync(["race.scn"], { ...options, workers: 4 }, io);
 * ```
 */
export async function exploreCommandAsync(
  paths: string[],
  o: ExploreCliOptions,
  io: ExploreIo,
): Promise<number> {
  if (o.workers > 1 && io.platforms) {
    io.err("scn explore: --workers checks scenarios against irqlab's own platforms only");
    return 2;
  }
  const pre = precheck(paths, o, io);
  if (typeof pre === "number") return pre;
  const progress = new SearchProgress(o, io.progress, pre.loaded.length);
  const run = runner(o, progress);
  const outcomes: ExploreOutcome[] = pre.missing.map(missingOutcome);
  for (const [i, l] of pre.loaded.entries()) {
    if (l.kind === "error") {
      outcomes.push(l.outcome);
      continue;
    }
    // A host file's scenarios are named `bug.md:LINE` (the workers load them by that name).
    const f = l.source.name;
    progress.start(i + 1, f);
    try {
      const result = await run(l.program, f);
      outcomes.push(
        inHost(l.source, { kind: "explored", file: f, result: { ...result, file: f } }),
      );
    } catch (e) {
      outcomes.push(inHost(l.source, errorOutcome(f, e, l.sources)));
    }
    progress.end(outcomes[outcomes.length - 1]);
  }
  return report(outcomes, o, io);
}

function guard(file: string, l: Loaded, fn: () => ExploreResult): ExploreOutcome {
  try {
    return { kind: "explored", file, result: fn() };
  } catch (e) {
    return errorOutcome(file, e, l.kind === "program" ? l.sources : new Map());
  }
}

function precheck(
  paths: string[],
  o: ExploreCliOptions,
  io: ExploreIo,
): { loaded: Loaded[]; missing: string[] } | number {
  if (paths.length === 0) {
    io.err("scn explore: name scenario files or directories, e.g. 'scn explore scenarios/races'");
    return 2;
  }
  const collected = collectFiles(paths);
  const missing = collected.missing;
  const loaded = collected.files.flatMap((f) => loadTarget(f, { platforms: io.platforms }));
  if ((o.out !== undefined || o.schedule !== undefined) && loaded.length + missing.length !== 1) {
    io.err(
      `scn explore: ${
        o.out !== undefined ? "--out" : "--schedule"
      } is for one scenario: name one file`,
    );
    return 2;
  }
  return { loaded, missing };
}

function report(outcomes: ExploreOutcome[], o: ExploreCliOptions, io: ExploreIo): number {
  if (o.json) io.out(exploreJsonReport(outcomes, o.explore.shard));
  else if (o.tap) io.out(tapExploreReport(outcomes).replace(/\n$/, ""));
  else {
    for (const l of exploreTextReport(outcomes, { trace: o.trace, timeline: o.timeline })) {
      io.out(l.text, io.color && !o.noColor ? l.style : "");
    }
  }
  // One shard cannot tell that a known race has no failing order (another may
  // hold it): an expected failure it did not find is for the merge to judge.
  const code = exploreExitCode(
    o.explore.shard
      ? outcomes.filter((x) => x.kind !== "explored" || x.result.status !== "xpass")
      : outcomes,
  );
  if (o.out === undefined) return code;
  const found = outcomes.find((x) => x.kind === "explored" && x.result.counterexample);
  const cx = found?.kind === "explored" ? found.result.counterexample : null;
  if (!cx) {
    io.err(`scn explore: nothing written to '${o.out}': no failing order`);
    return code;
  }
  if ("why" in cx.linear) {
    io.err(
      `scn explore: nothing written to '${o.out}': ${cx.linear.why}; replay with --schedule ${cx.token}`,
    );
    return Math.max(code, 2);
  }
  try {
    io.writeFile(o.out, cx.linear.text);
  } catch (e) {
    io.err(
      e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
        ? `scn: writing '${o.out}' needs write permission: run with --allow-write=${o.out}`
        : `scn: cannot write '${o.out}': ${e instanceof Error ? e.message : String(e)}`,
    );
    return 2;
  }
  return code;
}
