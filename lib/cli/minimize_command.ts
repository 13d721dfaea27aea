/**
 * `scn minimize FILE [--out FILE] [--max-runs N] [--max-steps N]`: shrinks a
 * failing scenario (`lib/minimize/`) and prints the smallest one found, or
 * writes it with `--out`; says which failure it kept, how many statements it
 * removed and how many runs it took.
 *
 * FILE may also name a scenario in a bug report (`bug.md:12`, see
 * `lib/load/load.ts`). The scenario goes to standard output and the account
 * to standard error, so `scn minimize bug.scn > small.scn` keeps only the
 * scenario.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatDiagnostic, ScnError, where } from "../core/diagnostic.ts";
import { ExitCode } from "../report/outcome.ts";
import { DEFAULT_MAX_RUNS, minimize, type MinimizeResult } from "../minimize/minimize.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import { fileLoader } from "../load/files.ts";
import { inHost, readTarget } from "../load/load.ts";
import type { Io } from "./io.ts";
import { joinNegativeValues, wholeNumber } from "./options.ts";

/** What `scn help minimize` and `--help` print. */
export const MINIMIZE_USAGE: readonly string[] = [
  "usage: scn minimize FILE|HOST:LINE [--out FILE] [--max-runs N] [--max-steps N] [--keep-causes]",
  "  shrink a failing scenario while the same expectation still fails with the same values",
  "  --keep-causes  also keep the events the failure gives as its reason (an expectation",
  "                 that only says 'taken once' may otherwise shrink to raising nothing)",
  "  --out FILE     write the result to FILE (needs --allow-write for FILE)",
  `  --max-runs N   candidates to run at most (default ${DEFAULT_MAX_RUNS})`,
  "  --max-steps N  step budget of one 'run' in each candidate",
];

/**
 * Runs `scn minimize` with the arguments after `minimize`; returns the exit
 * code: 0 minimized, 2 bad input (a scenario that passes, does not parse or
 * check; bad options), 3 internal error.
 *
 * @example
 * ```ts
 * import { consoleIo } from "./main.ts";
 * const code = minimizeCommand(["scenarios/seeds/001_unmask_bug.scn"], consoleIo());
 * ```
 */
export function minimizeCommand(args: string[], io: Io): number {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: joinNegativeValues(args, ["max-runs", "max-steps"]),
      allowPositionals: true,
      options: {
        out: { type: "string" },
        "max-runs": { type: "string" },
        "max-steps": { type: "string" },
        "keep-causes": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    io.err(`scn minimize: ${e instanceof Error ? e.message : String(e)}`);
    io.err("try 'scn minimize --help'");
    return ExitCode.InputError;
  }
  if (values.help) {
    for (const l of MINIMIZE_USAGE) io.out(l);
    return ExitCode.Ok;
  }
  if (positionals.length !== 1) {
    io.err("scn minimize: name one scenario file, e.g. 'scn minimize bug.scn'");
    return ExitCode.InputError;
  }
  const maxRuns = positive(values["max-runs"], "--max-runs", io);
  const maxSteps = positive(values["max-steps"], "--max-steps", io);
  if (maxRuns === null || maxSteps === null) return ExitCode.InputError;
  const [target] = positionals;
  // A scenario in a bug report (`bug.md:12`) is minimized from the host's text,
  // its lines and columns the host's.
  const found = readTarget(target);
  if ("outcome" in found) {
    const o = found.outcome;
    for (const d of o.diagnostics) {
      for (const l of formatDiagnostic(d, (s) => o.sources.get(s)).split("\n")) io.err(l);
    }
    return ExitCode.InputError;
  }
  const source = found.sources[0];
  const file = source.path;
  // Diagnostics quote the scenario and the includes the confined loader let in, nothing else.
  const read = new Map<string, string>([[file, source.quote]]);
  const load: Loader = (path, from) => {
    const r = fileLoader(path, from);
    if (r && "name" in r) read.set(r.name, r.text);
    return r;
  };

  let r: MinimizeResult;
  try {
    r = minimize(source.text, file, {
      maxRuns,
      maxSteps,
      platforms: io.platforms,
      load,
      keepCauses: values["keep-causes"],
    });
  } catch (e) {
    if (e instanceof ScnError) {
      for (const d of inHost(source, e.diagnostics)) {
        for (const l of formatDiagnostic(d, (s) => read.get(s)).split("\n")) io.err(l);
      }
      return ExitCode.InputError;
    }
    io.err(`scn minimize: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.InternalError;
  }
  if (r.kind === "passes") {
    io.err(
      "scn minimize: nothing to minimize: the scenario passes" +
        (r.status === "xpass" ? " (it says 'expect failure': an XPASS)" : ""),
    );
    return ExitCode.InputError;
  }

  const t = r.target;
  const report = [
    // Located where the person has it: a decoded message's lines are the host's.
    `kept: ${
      where(inHost(source, t.loc))
    }: ${t.kind} ${t.text} (expected ${t.expected}, got ${t.actual})`,
    `removed ${r.statements.before - r.statements.after} of ${r.statements.before} statements ` +
    `in ${r.runs} runs; ${r.statements.after} remain`,
  ];
  if (r.budgetReached) {
    report.push(
      `stopped at the run budget (--max-runs ${maxRuns ?? DEFAULT_MAX_RUNS}): ` +
        "the result still fails the same way but may shrink further",
    );
  }
  if (values.out !== undefined) {
    try {
      io.writeFile(values.out, r.text);
    } catch (e) {
      io.err(
        e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
          ? `scn minimize: writing '${values.out}' needs write permission: run with --allow-write=${values.out}`
          : `scn minimize: cannot write '${values.out}': ${
            e instanceof Error ? e.message : String(e)
          }`,
      );
      return ExitCode.InputError;
    }
    for (const l of report) io.out(l);
    io.out(`wrote ${values.out}`);
    return ExitCode.Ok;
  }
  for (const l of r.text.replace(/\n$/, "").split("\n")) io.out(l);
  for (const l of report) io.err(l);
  return ExitCode.Ok;
}

/** A positive whole number option; undefined when absent, null (said why) when bad. */
function positive(raw: string | undefined, name: string, io: Io): number | undefined | null {
  const n = wholeNumber(raw, name.replace(/^--/, ""), 1);
  if (typeof n !== "string") return n;
  io.err(`scn minimize: ${n}`);
  return null;
}
