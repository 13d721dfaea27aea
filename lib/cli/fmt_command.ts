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
import {
  type Diagnostic,
  formatDiagnostic,
  ScnError,
  type SourceLookup,
} from "../core/diagnostic.ts";
import { inHost, readTarget, type Source } from "../load/load.ts";
import { ExitCode } from "../report/outcome.ts";
import { collectFiles } from "../load/files.ts";
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
  let rewritten = 0, checked = 0, errors = 0;
  const printDiagnostics = (diagnostics: readonly Diagnostic[], lookup: SourceLookup) => {
    for (const d of diagnostics) {
      for (const l of formatDiagnostic(d, lookup).split("\n")) io.err(l);
    }
  };
  for (const file of files) {
    // The one way in: a host file is its scenarios, each located in the host.
    const read = readTarget(file);
    if ("outcome" in read) {
      const o = read.outcome;
      printDiagnostics(o.diagnostics, (s) => o.sources.get(s));
      code = ExitCode.InputError;
      errors++;
      continue;
    }
    const text = read.sources[0].quote;
    // The host's lines, rewritten scenario by scenario; a `.scn` file is one scenario.
    const lines = splitLines(text);
    let changed = false;
    let whole: string | undefined;
    for (const source of read.sources) {
      const place = source.hosted ? inPlace(source, lines) : { first: 0, count: 0, eol: "\n" };
      if (typeof place === "string") {
        io.err(`scn fmt: ${source.name}: ${place}`);
        code = ExitCode.InputError;
        errors++;
        continue;
      }
      let formatted: string;
      try {
        formatted = formatText(source.text, source.path);
      } catch (e) {
        if (!(e instanceof ScnError)) throw e;
        printDiagnostics(
          inHost(source, e.diagnostics),
          (s) => (s === source.path ? text : undefined),
        );
        code = ExitCode.InputError;
        errors++;
        continue;
      }
      checked++;
      const body = source.hosted ? source.body : text;
      if (formatted === body) continue;
      if (values.check) unformatted.push(source.name);
      else if (values.write) {
        if (!source.hosted) whole = formatted;
        else {
          const replaced = formatted.replace(/\n$/, "").split("\n");
          lines.splice(
            place.first,
            place.count,
            ...replaced.map((t) => ({ text: t, eol: place.eol })),
          );
        }
        changed = true;
      }
    }
    if (values.write && changed) {
      const problem = write(io, file, whole ?? lines.map((l) => l.text + l.eol).join(""));
      if (problem) {
        io.err(problem);
        return ExitCode.InputError;
      }
      rewritten++;
    } else if (!values.write && !values.check) {
      for (const s of read.sources) {
        let formatted: string;
        try {
          formatted = formatText(s.text, s.path);
        } catch {
          continue;
        }
        if (files.length > 1 || read.sources.length > 1) io.out(`# ---- ${s.name}`);
        for (const l of formatted.replace(/\n$/, "").split("\n")) io.out(l);
      }
    }
  }
  const errorText = errors ? `, ${errors} ${errors === 1 ? "error" : "errors"}` : "";
  if (values.check) {
    for (const f of unformatted) io.out(`not formatted: ${f}`);
    io.out(
      `${checked - unformatted.length} formatted, ${unformatted.length} not${errorText}` +
        (unformatted.length ? " (scn fmt --write rewrites them)" : ""),
    );
    if (unformatted.length) code = Math.max(code, ExitCode.ExpectationFailed);
  }
  if (values.write) io.out(`${rewritten} of ${files.length} file(s) rewritten${errorText}`);
  return code;
}

interface HostLine {
  text: string;
  /** The line break after it, kept as the host wrote it. */
  eol: string;
}

function splitLines(text: string): HostLine[] {
  const out: HostLine[] = [];
  const re = /\r\n|\n|\r/g;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ text: text.slice(at, m.index), eol: m[0] });
    at = m.index + m[0].length;
  }
  if (at < text.length) out.push({ text: text.slice(at), eol: "" });
  return out;
}

/**
 * Where a hosted scenario's lines are in the host, when they stand there as
 * written (a fenced block, not quoted, not encoded), so formatting can
 * replace them; otherwise why it cannot.
 */
function inPlace(
  s: Source,
  lines: readonly HostLine[],
): { first: number; count: number; eol: string } | string {
  const h = s.hosted!;
  const body = s.body.replace(/\n$/, "").split("\n");
  const first = h.scenario.line - 1;
  const same = !h.scenario.offsets &&
    body.every((b, i) => lines[first + i]?.text === b);
  if (!same) {
    return "a scenario quoted in a reply or encoded in a message is not formatted in place; " +
      "copy it into a .scn file and format that";
  }
  return { first, count: body.length, eol: lines[first]?.eol || "\n" };
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
