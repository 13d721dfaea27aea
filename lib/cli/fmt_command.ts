/**
 * `scn fmt FILES|DIRS...`: prints scenarios in the canonical layout of
 * `dsl/format.ts`; `--write` rewrites the files that are not in it, `--check`
 * lists them and exits 1.
 *
 * Directories are walked for every `.scn` file, fragments (`_name.scn`)
 * included: they are formatted like any scenario. Rewriting needs write
 * permission, which `deno task scn` does not grant; `deno task scn-fmt`
 * does, for `scenarios/`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatText } from "../../dsl/format.ts";
import { formatDiagnostic, ScnError } from "../core/diagnostic.ts";
import { ExitCode } from "../report/outcome.ts";
import { collectFiles, readText } from "../load/files.ts";
import type { Io } from "./io.ts";

/** What `scn help fmt` and `--help` print. */
export const FMT_USAGE: readonly string[] = [
  "usage: scn fmt [--write | --check] FILES|DIRS...",
  "  (no option)  print each scenario in the canonical layout",
  "  --write      rewrite the files that are not in it (needs write permission:",
  "               deno task scn-fmt FILES, which may write under scenarios/)",
  "  --check      list the files that are not in it; exit 1 if there are any",
];

/**
 * Runs `scn fmt` with the arguments after `fmt`; returns the exit code: 0, 1
 * when `--check` finds files to format, 2 for bad input (a syntax error, a
 * missing file, writing not permitted).
 *
 * @example
 * ```ts
 * import { consoleIo } from "./main.ts";
 * const code = fmtCommand(["--check", "scenarios"], consoleIo()); // 0 or 1
 * ```
 */
export function fmtCommand(args: string[], io: Io): number {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        write: { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    io.err(`scn fmt: ${e instanceof Error ? e.message : String(e)}`);
    io.err("try 'scn fmt --help'");
    return ExitCode.InputError;
  }
  if (values.help) {
    for (const l of FMT_USAGE) io.out(l);
    return ExitCode.Ok;
  }
  if (values.write && values.check) {
    io.err("scn fmt: --write and --check exclude each other: --check only reports");
    return ExitCode.InputError;
  }
  if (positionals.length === 0) {
    io.err("scn fmt: name scenario files or directories, e.g. 'scn fmt scenarios/x86'");
    return ExitCode.InputError;
  }

  let code: number = ExitCode.Ok;
  // Fragments are scenarios too, for the formatter.
  const { files, missing } = collectFiles(positionals, { fragments: true });
  for (const m of missing) {
    io.err(`scn fmt: no such file or directory '${m}'`);
    code = ExitCode.InputError;
  }
  const unformatted: string[] = [];
  let rewritten = 0;
  for (const file of files) {
    const text = readText(file);
    if (text === undefined) {
      io.err(`scn fmt: cannot read '${file}'`);
      code = ExitCode.InputError;
      continue;
    }
    let formatted: string;
    try {
      formatted = formatText(text, file);
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      for (const d of e.diagnostics) {
        for (const l of formatDiagnostic(d, (s) => (s === file ? text : undefined)).split("\n")) {
          io.err(l);
        }
      }
      code = ExitCode.InputError;
      continue;
    }
    if (values.check) {
      if (formatted !== text) unformatted.push(file);
    } else if (values.write) {
      if (formatted === text) continue;
      const problem = write(io, file, formatted);
      if (problem) {
        io.err(problem);
        return ExitCode.InputError;
      }
      rewritten++;
    } else {
      if (files.length > 1) io.out(`# ---- ${file}`);
      for (const l of formatted.replace(/\n$/, "").split("\n")) io.out(l);
    }
  }
  if (values.check) {
    for (const f of unformatted) io.out(`not formatted: ${f}`);
    io.out(
      `${files.length - unformatted.length} formatted, ${unformatted.length} not` +
        (unformatted.length ? " (scn fmt --write rewrites them)" : ""),
    );
    if (unformatted.length) code = Math.max(code, ExitCode.ExpectationFailed);
  }
  if (values.write) io.out(`${rewritten} of ${files.length} file(s) rewritten`);
  return code;
}

/** Writes one file; the reason in one line when it cannot. */
function write(io: Io, file: string, text: string): string | undefined {
  try {
    io.writeFile(file, text);
    return undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      return `scn fmt --write: writing '${file}' needs write permission: run ` +
        `'deno task scn-fmt FILES' (scenarios/ only) or 'deno run --allow-read ` +
        `--allow-write=${file} lib/cli/main.ts fmt --write ${file}'`;
    }
    return `scn fmt: cannot write '${file}': ${e instanceof Error ? e.message : String(e)}`;
  }
}
