/**
 * The `scn` command line: `run`, `check`, `explore` and `help`.
 *
 * Running scenarios needs only `--allow-read`; writing a JUnit file needs
 * write permission for that file, and the message says so when it is missing.
 *
 * @module
 */
import { visible } from "../core/visible.ts";
import { joinNegativeValues, wholeNumber } from "./options.ts";
import { parseArgs } from "./args.ts";

/** Options of run, check and explore that take a number. */
const VALUED = ["max-steps", "workers", "max-states", "max-depth", "max-input-bytes", "jobs"];
import { loadPlatforms, PART_WORDS } from "../api/platform_loaders.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { readArches } from "../load/arches.ts";
import type { TargetRead } from "../load/targets.ts";
import { collectFiles, FileReads, readText } from "../load/files.ts";
import { missingOutcome } from "../load/targets.ts";
import { readLimits } from "../load/read.ts";
import { ExitCode, exitCodeOf, type Outcome } from "../report/outcome.ts";
import { type Line, textReport } from "../report/text.ts";
import { Progress, STDERR } from "../report/progress.ts";
import { LineBuffer } from "./stdout.ts";

export type { Io } from "./io.ts";
import type { Io } from "./io.ts";
import { type RunMode, runTarget } from "./run_target.ts";
import type * as Commands from "./commands.ts";

/**
 * Whether a command line only runs or checks scenarios with the text
 * report, so that the other commands and report formats (a fifth of the
 * code `scn` loads) need not be loaded, nor the models its scenarios do not
 * name: a small scenario's run is mostly start-up. Any option not listed
 * here loads them all.
 */
function onlyRunsOrChecks(args: readonly string[]): boolean {
  if (args[0] !== "run" && args[0] !== "check") return false;
  return args.every((a) =>
    !a.startsWith("-") ||
    /^--(trace|no-color|timeline|timeline=.*|(max-steps|max-input-bytes|jobs)(=.*)?)$/.test(a)
  );
}

// Loaded before `main` can be called, so that it stays synchronous for its
// callers (tests, tools); only the command line's own entry, running or
// checking, goes without.
const commands: typeof Commands | null = import.meta.main && onlyRunsOrChecks(Deno.args)
  ? null
  : await import("./commands.ts");

/** The commands and formats beyond running with the text report ({@link onlyRunsOrChecks}). */
function more(): typeof Commands {
  if (commands === null) throw new Error("scn: a command needed what it was started without");
  return commands;
}

/**
 * Runs the command line with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * const code = main(["help"], consoleIo()); // 0
 * ```
 */
export function main(args: string[], io: Io): number {
  return dispatch(args, io, false) as number;
}

/**
 * {@link main}, and also `scn explore --workers N`, which waits for its
 * workers; the command line's entry point.
 *
 * @example
 * ```ts
 * const code = await mainAsync(["explore", "--workers", "4", "scenarios/races"], consoleIo());
 * ```
 */
export function mainAsync(args: string[], io: Io): Promise<number> {
  return Promise.resolve(dispatch(args, io, true));
}

/** The command line; returns a promise only for `explore` when `wait` allows workers. */
function dispatch(args: string[], io: Io, wait: boolean): number | Promise<number> {
  // `fmt` and `minimize` have options of their own (--write, --check, --max-runs).
  if (args[0] === "fmt") return more().fmtCommand(args.slice(1), io);
  if (args[0] === "minimize") return more().minimizeCommand(args.slice(1), io);
  // `diff` parses its own options and loads its backend asynchronously.
  if (args[0] === "diff" && wait) return more().diffCommand(args.slice(1), io);
  if (args[0] === "report") return more().reportCommand(args.slice(1), io);
  // `--backend kvm` loads lib/kvm (FFI) lazily, then runs the rest as usual.
  const backend = args.findIndex((a) => a === "--backend" || a.startsWith("--backend="));
  if (backend >= 0) {
    const value = args[backend].includes("=") ? args[backend].split("=")[1] : args[backend + 1];
    const rest = args.filter((_, i) =>
      i !== backend && (i !== backend + 1 || value === undefined || args[backend].includes("="))
    );
    if (value === "model") return dispatch(rest, io, wait);
    if (value !== "kvm" || args[0] !== "run") {
      io.err(`scn: --backend is 'model' or 'kvm', for 'scn run' ('${value ?? ""}' given)`);
      return ExitCode.InputError;
    }
    const { kvmPermissionProblem, KVM_TASK, kvmRunCommand } = more();
    const problem = kvmPermissionProblem();
    if (problem || !wait) {
      io.err(problem ?? `scn run --backend kvm: run it as '${KVM_TASK}'`);
      return ExitCode.InputError;
    }
    return kvmRunCommand(rest, io, (a, i) => dispatch(a, i, false) as number);
  }
  let parsed;
  try {
    parsed = parseArgs(
      // `--timeline` alone draws the failing scenarios; `--timeline=all` every one.
      joinNegativeValues(args.map((a) => (a === "--timeline" ? "--timeline=failed" : a)), VALUED),
      {
        trace: { type: "boolean", default: false },
        timeline: { type: "string" },
        html: { type: "string" },
        tap: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        junit: { type: "string" },
        "max-steps": { type: "string" },
        "max-input-bytes": { type: "string" },
        jobs: { type: "string" },
        "no-color": { type: "boolean", default: false },
        schedule: { type: "string" },
        out: { type: "string" },
        workers: { type: "string" },
        "max-states": { type: "string" },
        "max-depth": { type: "string" },
        "no-reduce": { type: "boolean", default: false },
        "no-dedup": { type: "boolean", default: false },
        shard: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    );
  } catch (e) {
    io.err(`scn: ${e instanceof Error ? e.message : String(e)}`);
    io.err("try 'scn help'");
    return ExitCode.InputError;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === "help") {
    const topic = command === "help" ? rest.join(" ") || undefined : undefined;
    const { helpSuggestions, helpText } = more();
    const { PLATFORMS } = more();
    const text = helpText(io.platforms ?? PLATFORMS, topic);
    if (text === undefined) {
      const near = helpSuggestions(io.platforms ?? PLATFORMS, topic ?? "");
      io.err(
        `scn help: no topic '${topic}'` +
          (near.length ? `; did you mean ${near.map((n) => `'scn help ${n}'`).join(", ")}?` : "") +
          "; try 'scn help'",
      );
      return ExitCode.InputError;
    }
    for (const l of text.split("\n")) io.out(l);
    return ExitCode.Ok;
  }
  if (command !== "run" && command !== "check" && command !== "explore") {
    io.err(
      `scn: unknown command '${command}'; expected run, check, explore, fmt, minimize, report, diff or help`,
    );
    return ExitCode.InputError;
  }
  if (rest.length === 0) {
    io.err(`scn ${command}: name scenario files or directories, e.g. 'scn ${command} scenarios'`);
    return ExitCode.InputError;
  }
  const steps = wholeNumber(values["max-steps"], "max-steps", 1);
  if (typeof steps === "string") {
    io.err(`scn: ${steps}`);
    return ExitCode.InputError;
  }
  const maxSteps = steps;
  const inputBytes = wholeNumber(values["max-input-bytes"], "max-input-bytes", 1);
  if (typeof inputBytes === "string") {
    io.err(`scn: ${inputBytes}`);
    return ExitCode.InputError;
  }
  // A stranger's scenario keeps the default budgets; the user raises them for one they trust.
  const limits = inputBytes === undefined ? undefined : readLimits(inputBytes);
  // At most one worker per core-ish job a person would ask for; more only adds start-up.
  const jobs = wholeNumber(values.jobs, "jobs", 1, 256);
  if (typeof jobs === "string") {
    io.err(`scn: ${jobs}`);
    return ExitCode.InputError;
  }
  if (command === "explore" && jobs !== undefined) {
    io.err("scn explore: --jobs is an option of 'scn run' and 'scn check' (explore has --workers)");
    return ExitCode.InputError;
  }
  if (command === "explore" && limits) {
    io.err("scn explore: --max-input-bytes is an option of 'scn run' and 'scn check'");
    return ExitCode.InputError;
  }
  if (command === "explore" && rest[0] === "merge") {
    return more().exploreMergeCommand(rest.slice(1), io);
  }
  if (command === "explore") {
    if (values.junit !== undefined) {
      io.err("scn explore: --junit is an option of 'scn run'");
      return ExitCode.InputError;
    }
    if (values.html !== undefined) {
      io.err("scn explore: --html is an option of 'scn run'");
      return ExitCode.InputError;
    }
    const { exploreCommand, exploreCommandAsync, exploreOptions } = more();
    const o = exploreOptions(values, maxSteps, {
      json: values.json,
      tap: values.tap,
      // Only a failing order has a trace to draw, so `--timeline=all` draws the same.
      timeline: values.timeline !== undefined,
      trace: values.trace,
      noColor: values["no-color"],
    });
    if (typeof o === "string") {
      io.err(`scn explore: ${o}`);
      return ExitCode.InputError;
    }
    return wait ? exploreCommandAsync(rest, o, io) : exploreCommand(rest, o, io);
  }
  const onlyExplore =
    (["out", "workers", "max-states", "max-depth", "no-reduce", "no-dedup", "shard"] as const)
      .find((k) => values[k] !== undefined && values[k] !== false);
  if (onlyExplore) {
    io.err(`scn ${command}: --${onlyExplore} is an option of 'scn explore'`);
    return ExitCode.InputError;
  }
  if (values.schedule !== undefined) {
    const p = command === "run"
      ? more().parseSchedule(values.schedule, "-")
      : "it is for 'run' and 'explore'";
    if (typeof p === "string") {
      io.err(`scn ${command}: --schedule: ${p}`);
      return ExitCode.InputError;
    }
  }
  if (values.timeline !== undefined && values.timeline !== "failed" && values.timeline !== "all") {
    io.err(
      `scn ${command}: --timeline draws the failing scenarios, --timeline=all every one ('${values.timeline}' given)`,
    );
    return ExitCode.InputError;
  }
  const formats = (["json", "tap"] as const).filter((k) => values[k]);
  if (formats.length > 1 || (formats.length && values.html === "-")) {
    io.err(`scn ${command}: --json, --tap and --html - each print the whole report: choose one`);
    return ExitCode.InputError;
  }
  const { files, missing } = collectFiles(rest);
  if (values.schedule !== undefined && files.length + missing.length !== 1) {
    io.err(`scn ${command}: --schedule replays one scenario: name one file`);
    return ExitCode.InputError;
  }
  const outcomes: Outcome[] = missing.map(missingOutcome);
  const runFiles = (
    platforms: readonly PlatformEntry[],
    read?: TargetRead,
  ): number | Promise<number> => {
    // Only a report that shows the whole trace or every take needs them kept; a
    // backend other than the model (the real VM) runs once, as it ran.
    // A timeline of every scenario, or a page, draws passing ones' traces too.
    const lean = !values.trace && !values.json && values.timeline !== "all" &&
      values.html === undefined && io.platforms === undefined;
    // Real VMs are slow: a progress line over the files, on a terminal, for a person.
    const progress = new Progress({
      label: `${command}`,
      total: files.length,
      failures: "failed",
      sink: io.progress,
      enabled: io.runProgress === true && io.progress !== undefined && !values.json &&
        !values.tap && values.html !== "-",
    });
    let failedSoFar = 0, filesDone = 0;
    // An XFAIL's details are shown by TAP (its failures) and timelines only.
    const explainExpected = values.tap || values.timeline !== undefined;
    const how: RunMode = {
      mode: command,
      maxSteps,
      schedule: values.schedule,
      lean,
      explainExpected,
    };
    const finished = (done: readonly Outcome[]) => {
      failedSoFar += done.filter((o) => exitCodeOf([o]) !== ExitCode.Ok).length;
      progress.update(++filesDone, failedSoFar);
    };
    // Workers need the CLI's own entry (`mainAsync`) and irqlab's own platforms
    // (a test's cannot be posted); the report is the same either way.
    const reads = new FileReads();
    if (jobs !== undefined && jobs > 1 && wait && io.platforms === undefined && files.length > 1) {
      const here = (f: string) => runTarget(f, how, platforms, limits, reads);
      return import("./run_workers.ts").then(({ runInWorkers }) =>
        runInWorkers(files, how, inputBytes, jobs, here, finished)
      ).then((lists) => {
        for (const done of lists) outcomes.push(...done);
        progress.end();
        return report(outcomes, values, io);
      });
    }
    for (const f of files) {
      const done = runTarget(f, how, platforms, limits, reads, read);
      outcomes.push(...done);
      finished(done);
    }
    progress.end();
    return report(outcomes, values, io);
  };
  const platforms = io.platforms ?? commands?.PLATFORMS;
  if (platforms === undefined) {
    // The command line's own entry, running or checking: only the models the
    // scenarios name are loaded. Several files (the library) name every model
    // in practice, and parsing each twice to find out would cost more than
    // loading them. One file's trees, parsed to tell, are the ones checked.
    if (files.length !== 1) return loadPlatforms([undefined]).then((p) => runFiles(p));
    const { arches, words, read } = readArches(files[0], limits, PART_WORDS);
    return loadPlatforms(arches, words).then((p) => runFiles(p, read));
  }
  return runFiles(platforms);
}

/** The options of `scn run` and `scn check` that choose and shape the report. */
interface ReportOptions {
  json: boolean;
  tap: boolean;
  html?: string;
  junit?: string;
  trace: boolean;
  timeline?: string;
  schedule?: string;
  "no-color": boolean;
}

/** Prints (and writes) the report of a run's outcomes; returns the exit code. */
function report(outcomes: Outcome[], values: ReportOptions, io: Io): number {
  if (values.json) {
    io.out(more().jsonReport(outcomes));
  } else if (values.tap) {
    io.out(more().tapReport(outcomes).replace(/\n$/, ""));
  } else if (values.html === "-") {
    io.out(more().htmlReport(outcomes.map(htmlEntry)).replace(/\n$/, ""));
  } else {
    const lines: Line[] = textReport(outcomes, {
      trace: values.trace,
      timeline: values.timeline as "failed" | "all" | undefined,
      replay: (f) =>
        `${io.runCommand ?? "deno task scn run"} ${f}${
          values.schedule === undefined ? "" : ` --schedule ${values.schedule}`
        } --trace`,
    });
    for (const l of lines) io.out(l.text, io.color && !values["no-color"] ? l.style : "");
  }
  if (values.junit !== undefined) {
    const xml = more().junitReport(outcomes);
    if (values.junit === "-") io.out(xml);
    else if (!writeReport(io, values.junit, xml)) return ExitCode.InputError;
  }
  if (values.html !== undefined && values.html !== "-") {
    if (!writeReport(io, values.html, more().htmlReport(outcomes.map(htmlEntry)))) {
      return ExitCode.InputError;
    }
  }
  return exitCodeOf(outcomes);
}

/** Writes a report file (`--junit FILE`, `--html FILE`); false, having said why, if it cannot. */
function writeReport(io: Io, path: string, text: string): boolean {
  try {
    io.writeFile(path, text);
    return true;
  } catch (e) {
    io.err(
      e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
        ? `scn: writing '${path}' needs write permission: run with --allow-write=${path}`
        : `scn: cannot write '${path}': ${e instanceof Error ? e.message : String(e)}`,
    );
    return false;
  }
}

/** An outcome with the text its locations point into, for the HTML page's source view. */
function htmlEntry(outcome: Outcome): Commands.HtmlEntry {
  const failure = outcome.kind === "result" ? outcome.result.failures[0] : undefined;
  const path = failure?.loc.source ?? more().splitTarget(outcome.file).path;
  const text = readText(path);
  return text === undefined ? { outcome } : { outcome, source: { path, text } };
}

/** Each line of `text` made visible ({@link visible}); line breaks stay. */
function visibleLines(text: string): string {
  return text.split("\n").map((l) => visible(l)).join("\n");
}

/**
 * The real console: `%c` colour and a line at a time when stdout is a
 * terminal; plain lines written in blocks to a file or a pipe
 * ({@link LineBuffer}).
 */
export function consoleIo(): Io {
  // visibleLines on every line is the last guard: nothing a scenario wrote reaches the
  // terminal as a control sequence.
  const common = {
    writeFile: (path: string, text: string) => Deno.writeTextFileSync(path, text),
    progress: STDERR,
  };
  if (Deno.stdout.isTerminal()) {
    return {
      ...common,
      out: (line, style) =>
        style ? console.log(`%c${visibleLines(line)}`, style) : console.log(visibleLines(line)),
      err: (line) => console.error(visibleLines(line)),
      color: true,
    };
  }
  const block = new LineBuffer((bytes) => Deno.stdout.writeSync(bytes));
  return {
    ...common,
    out: (line) => block.line(visibleLines(line)),
    err: (line) => {
      block.flush();
      console.error(visibleLines(line));
    },
    color: false,
    flush: () => block.flush(),
  };
}

if (import.meta.main) {
  let code: number;
  const io = consoleIo();
  try {
    code = await mainAsync(Deno.args, io);
  } catch (e) {
    io.flush?.();
    console.error(`scn: internal error: ${e instanceof Error ? e.message : String(e)}`);
    code = ExitCode.InternalError;
  }
  io.flush?.();
  Deno.exit(code);
}
