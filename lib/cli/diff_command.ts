/**
 * `scn diff FILES...`: runs each scenario on the x86 model and on a real
 * backend (`--against kvm`, the only one) and prints every disagreement in
 * observable state, with the statement where it first appears.
 *
 * The backend is loaded with a dynamic import only here, so `scn run` never
 * touches FFI; it needs `--allow-ffi` (`deno task diff`), and a missing
 * permission or `/dev/kvm` is a one-line message with the input-error code.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatDiagnostic, ScnError } from "../core/diagnostic.ts";
import type { PlatformEntry } from "../core/platform.ts";
import { ExitCode } from "../report/outcome.ts";
import { X86 } from "../api/platforms.ts";
import type { Program } from "../../dsl/program.ts";
import { diffText, formatDivergence } from "../diff/diff.ts";
import { type HostQuirk, hostVerdict, probeHost, verdictText } from "../diff/host.ts";
import { collectFiles, fileLoader } from "../load/files.ts";
import { inHost, loadTarget } from "../load/load.ts";
import type { Io } from "./io.ts";
import { joinNegativeValues, wholeNumber } from "./options.ts";
import {
  asUnavailable,
  type BackendLoader,
  BACKENDS,
  BackendUnavailable,
  loadBackend,
} from "../diff/backend.ts";

/**
 * Runs `scn diff` with `args` (after the word `diff`); returns the exit
 * code: 0 every scenario agreed (or was skipped), 1 some disagreed, 2 bad
 * input or no backend. `load` is injectable for tests.
 *
 * @example
 * ```ts
 * import { consoleIo } from "./main.ts";
 * const code = await diffCommand(["scenarios/x86"], consoleIo());
 * ```
 */
export async function diffCommand(
  args: string[],
  io: Io,
  load: BackendLoader = loadBackend,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(args, ["max-steps"]),
      allowPositionals: true,
      options: {
        against: { type: "string", default: "kvm" },
        "max-steps": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    io.err(`scn diff: ${errorText(e)}`);
    return ExitCode.InputError;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    for (const l of DIFF_USAGE) io.out(l);
    return ExitCode.Ok;
  }
  if (!(BACKENDS as readonly string[]).includes(values.against)) {
    io.err(`scn diff: --against takes ${BACKENDS.join(", ")}, not '${values.against}'`);
    return ExitCode.InputError;
  }
  if (positionals.length === 0) {
    io.err("scn diff: name scenario files or directories, e.g. 'scn diff scenarios/x86'");
    return ExitCode.InputError;
  }
  const steps = wholeNumber(values["max-steps"], "max-steps", 1);
  if (typeof steps === "string") {
    io.err(`scn diff: ${steps}`);
    return ExitCode.InputError;
  }
  const maxSteps = steps;
  let backend: PlatformEntry;
  try {
    backend = await load(values.against);
  } catch (e) {
    const u = e instanceof BackendUnavailable ? e : asUnavailable(e);
    if (!u) throw e;
    io.err(unavailableLine(values.against, u));
    return ExitCode.InputError;
  }

  const names = ["model", values.against] as const;
  const platforms = [X86, backend] as const;
  let quirks: HostQuirk[];
  try {
    quirks = probeHost(backend);
  } catch (e) {
    const u = asUnavailable(e);
    if (!u) throw e;
    io.err(unavailableLine(values.against, u));
    return ExitCode.InputError;
  }
  for (const q of quirks) io.out(`host: ${q.id}: ${q.summary}`);
  const { files, missing } = collectFiles(positionals);
  let code: number = ExitCode.Ok;
  const count = { agree: 0, disagree: 0, host: 0, skipped: 0, error: 0 };
  for (const file of missing) {
    io.err(`${file}: error: no such file or directory`);
    count.error++;
    code = Math.max(code, ExitCode.InputError);
  }
  const loaded = files.flatMap((f) => loadTarget(f));
  for (const l of loaded) {
    if (l.kind === "error") {
      count.error++;
      code = Math.max(code, ExitCode.InputError);
      const o = l.outcome;
      if (o.kind === "input-error") {
        for (const d of o.diagnostics) io.err(formatDiagnostic(d, (s) => o.sources.get(s)));
      } else io.err(`${o.file}: internal error: ${o.message}`);
      continue;
    }
    const { source, program } = l;
    const file = source.name;
    const text = source.text;
    try {
      const arch = otherArch(program);
      if (arch !== undefined) {
        count.skipped++;
        io.out(`SKIPPED   ${file}  'arch ${arch}': the ${values.against} backend runs x86 only`);
        continue;
      }
      const r = diffText(text, source.path, platforms, { load: fileLoader, maxSteps });
      if (r.status === "agree") {
        count.agree++;
        io.out(`AGREE     ${file}  (${r.steps} steps)`);
      } else if (r.status === "skipped") {
        count.skipped++;
        io.out(`SKIPPED   ${file}  ${r.reason}`);
      } else {
        count.disagree++;
        // The host's only when the model with its quirks agrees over the whole case.
        const v = hostVerdict(text, source.path, r, quirks, { load: fileLoader, maxSteps });
        if (v.quirks) count.host++;
        else code = Math.max(code, ExitCode.ExpectationFailed);
        io.out(
          `DISAGREE  ${file}  ${r.title}${
            v.quirks ? `  (${verdictText(r.status, v.quirks)})` : ""
          }`,
        );
        for (const d of inHost(source, r.divergences)) {
          for (const line of formatDivergence(d, names)) io.out(`  ${line}`);
        }
        if (!v.quirks && quirks.length > 0) {
          // What the host's quirks leave unexplained is what to look at.
          const ids = quirks.map((q) => q.id).join("+");
          io.out(`  not explained by the host: with ${ids}, the model still disagrees:`);
          for (const d of inHost(source, v.residual)) {
            for (const line of formatDivergence(d, [`model+${ids}`, values.against])) {
              io.out(`    ${line}`);
            }
          }
        }
      }
    } catch (e) {
      const u = asUnavailable(e);
      if (u) {
        io.err(unavailableLine(values.against, u));
        return ExitCode.InputError;
      }
      if (!(e instanceof ScnError)) throw e;
      count.error++;
      code = Math.max(code, ExitCode.InputError);
      for (const d of inHost(source, e.diagnostics)) {
        io.err(formatDiagnostic(d, (s) => l.sources.get(s)));
      }
    }
  }
  io.out(
    `${count.agree} agree, ${count.disagree} disagree` +
      (count.host ? ` (${count.host} explained by the host)` : "") +
      `, ${count.skipped} skipped` + (count.error ? `, ${count.error} input errors` : ""),
  );
  return code;
}

/** What `scn help diff` and `--help` print. */
export const DIFF_USAGE: readonly string[] = [
  "scn diff [--against kvm] [--max-steps N] FILES...",
  "  runs each scenario on the x86 model and on the backend, and prints every",
  "  disagreement in observable state with the statement where it first appears.",
  "  The backend's host is probed first for known quirks (lib/diff/host.ts); a",
  "  disagreement is the host's, marked (host: ID) and not failing the run, only when",
  "  the model with those quirks agrees with the host over the whole scenario.",
  "  Exit codes: 0 agree (or skipped, or explained by the host), 1 disagree, 2 bad input",
  "  or no backend.",
  "  The kvm backend needs --allow-ffi: deno task diff FILES...",
];

/** The architecture of a scenario for another platform than x86, or undefined. */
function otherArch(program: Program): string | undefined {
  const vm = program.vms.find((d) => d.platform !== X86);
  return vm ? String(vm.settings.arch) : undefined;
}

function unavailableLine(backend: string, u: BackendUnavailable): string {
  return u.needsFfi
    ? `scn diff: the ${backend} backend needs --allow-ffi: run 'deno task diff FILES...'`
    : `scn diff: the ${backend} backend is not available: ${u.message}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
