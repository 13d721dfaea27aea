/**
 * `deno task difftest --count N --seed S`: generates N random x86
 * scenarios, diffs each on the model and a backend (KVM), and writes every
 * disagreement, shrunk to a minimal scenario, under `scenarios/kvm-diff/`,
 * with a header saying how to regenerate it. The same seed gives the same
 * cases, the same files and the same output.
 *
 * `--index I` regenerates and diffs case I alone, printing its text.
 * Disagreements are grouped by kind (the first divergence with its values
 * blanked): one shrunk file per kind, the other cases listed against it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { ScnError } from "../core/diagnostic.ts";
import type { Platform } from "../core/platform.ts";
import { ExitCode } from "../report/outcome.ts";
import { x86Platform } from "../x86/platform.ts";
import { type BackendLoader, BACKENDS, BackendUnavailable, loadBackend } from "./backend.ts";
import { type DiffResult, diffText, formatDivergence } from "./diff.ts";
import { caseText, generateCase, type GeneratedCase } from "./generate.ts";
import { shrinkUnits } from "./shrink.ts";
import { explainedBy, type HostQuirk, probeHost } from "./host.ts";

/** Where disagreements are written by default. */
export const DEFAULT_OUT = "scenarios/kvm-diff";

/** What {@link difftest} runs. */
export interface DifftestOptions {
  /** The run's seed. */
  seed: number;
  /** How many cases, from index `first`. */
  count: number;
  /** The first case's index (`--index`), 0 by default. */
  first?: number;
  /** The directory disagreements are written to. */
  outDir: string;
  /** The reference (the model) and the platform under test. */
  platforms: readonly [Platform, Platform];
  /** Their names in messages: `["model", "kvm"]`. */
  names: readonly [string, string];
  /** Print each case's text before its result (`--index`). */
  show?: boolean;
  /** Step budget of each `run`. */
  maxSteps?: number;
  /** Shrink and write every disagreeing case, not one per kind (`--every-case`). */
  everyCase?: boolean;
  /**
   * Quirks of the host under test ({@link probeHost}): disagreements they
   * explain are counted and listed, not shrunk or written, and do not fail.
   */
  hostQuirks?: readonly HostQuirk[];
}

/** Where difftest writes; injectable for tests. */
export interface DifftestIo {
  out(line: string): void;
  err(line: string): void;
  /** Writes a file, creating its directory. */
  writeFile(path: string, text: string): void;
}

/**
 * Runs the cases; returns the exit code: 0 no disagreement, 1 some, 2 a
 * file could not be written, 3 a generated case did not check (a bug in
 * the generator).
 *
 * @example
 * ```ts
 * difftest({ seed: 1, count: 200, outDir: DEFAULT_OUT, platforms: [x86, kvm],
 *            names: ["model", "kvm"] }, io);
 * ```
 */
export function difftest(o: DifftestOptions, io: DifftestIo): number {
  const count = { agree: 0, disagree: 0, skipped: 0 };
  const skipReasons = new Map<string, number>();
  const byHost = new Map<string, number[]>();
  const classes = new Map<string, { file: string; count: number }>();
  const first = o.first ?? 0;
  for (let index = first; index < first + o.count; index++) {
    const c = generateCase(o.seed, index);
    const file = `${o.outDir}/seed${o.seed}_case${index}.scn`;
    if (o.show) { for (const l of caseText(c).trimEnd().split("\n")) io.out(l); }
    let r: DiffResult;
    try {
      r = diffText(caseText(c), file, o.platforms, { maxSteps: o.maxSteps });
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      io.err(
        `difftest: case ${o.seed}:${index} is not a valid scenario (a generator bug): ${e.message}`,
      );
      return ExitCode.InternalError;
    }
    if (r.status === "agree") {
      count.agree++;
      if (o.show) io.out(`AGREE     case ${o.seed}:${index}  (${r.steps} steps)`);
      continue;
    }
    if (r.status === "skipped") {
      count.skipped++;
      const why = r.reason ?? "";
      skipReasons.set(why, (skipReasons.get(why) ?? 0) + 1);
      if (o.show) io.out(`SKIPPED   case ${o.seed}:${index}  ${why}`);
      continue;
    }
    count.disagree++;
    const host = explainedBy(r, o.hostQuirks ?? []);
    if (host) {
      byHost.set(host.id, [...(byHost.get(host.id) ?? []), index]);
      if (o.show) io.out(`DISAGREE  case ${o.seed}:${index}  (host: ${host.id})`);
      continue;
    }
    // One file per kind of disagreement: the hundredth case of a known one
    // would add nothing to read, and shrinking it costs hundreds of runs.
    const kind = disagreementClass(r);
    const seen = classes.get(kind);
    if (seen !== undefined && !o.everyCase) {
      seen.count++;
      io.out(`DISAGREE  case ${o.seed}:${index}  like ${seen.file}`);
      continue;
    }
    const { text, result, from, to } = minimise(c, r, file, o);
    classes.set(kind, { file, count: 1 });
    try {
      io.writeFile(file, text);
    } catch (e) {
      io.err(
        e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
          ? `difftest: writing '${file}' needs --allow-write=${o.outDir}`
          : `difftest: cannot write '${file}': ${e instanceof Error ? e.message : String(e)}`,
      );
      return ExitCode.InputError;
    }
    io.out(
      `DISAGREE  case ${o.seed}:${index}  -> ${file}  (shrunk from ${from} to ${to} statements)`,
    );
    for (const d of result.divergences) {
      for (const l of formatDivergence(d, o.names)) io.out(`  ${l}`);
    }
  }
  const explained = [...byHost.values()].reduce((n, l) => n + l.length, 0);
  const unexplained = count.disagree - explained;
  io.out(
    `${o.count} cases (seed ${o.seed}): ${count.agree} agree, ${count.disagree} disagree` +
      (explained > 0 ? ` (${explained} explained by the host, ${unexplained} not)` : "") +
      (classes.size > 0 ? ` (${classes.size} kinds, ${classes.size} files)` : "") +
      `, ${count.skipped} skipped`,
  );
  for (const [id, cases] of byHost) {
    const shown = cases.slice(0, 12).join(", ") + (cases.length > 12 ? ", ..." : "");
    io.out(`  ${cases.length} explained by the host (${id}): cases ${shown}`);
  }
  for (const { file, count } of classes.values()) io.out(`  ${count} like ${file}`);
  for (const [why, n] of [...skipReasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    io.out(`  skipped ${n}: ${why}`);
  }
  return unexplained > 0 ? ExitCode.ExpectationFailed : ExitCode.Ok;
}

/**
 * The kind of a disagreement, for grouping: its first divergence with vCPU
 * numbers, pins, variables and values blanked (a non-empty list or set of
 * values counts as one), and the statement's command without its arguments
 * (`run`, `kvm signal_msi`, `ipi`).
 */
export function disagreementClass(r: DiffResult): string {
  const d = r.divergences[0];
  if (!d) return "";
  // A list or set of values is one N however long: {0x41} and {0x41, 0x30}
  // are the same kind of disagreement, {} is another.
  const blank = (t: string) =>
    t.replace(/0x[0-9a-f]+|\b\d+\b/g, "N").replace(/N(, N)+/g, "N").replace(/vcpu\d+/g, "vcpuN")
      .replace(/\$[a-z_]\w*/g, "$v");
  const command = d.statement.replace(/^[^:]*:\s*/, "").replace(/\s+->.*$/, "")
    .split(/\s+/).filter((w) => !w.includes("=") && !/^[0-9{#]/.test(w)).join(" ");
  return [blank(d.key), blank(d.a), blank(d.b), command].join("|");
}

/** What identifies a disagreement while shrinking: its first divergence. */
function signature(r: DiffResult): string {
  const d = r.divergences[0];
  return d ? `${d.key}\n${d.statement}` : "";
}

/**
 * Shrinks a disagreeing case to the fewest statements that keep the same
 * first divergence (the same value differing after the same statement),
 * and gives the file text with a header that regenerates the whole case.
 */
function minimise(
  c: GeneratedCase,
  found: DiffResult,
  file: string,
  o: DifftestOptions,
): { text: string; result: DiffResult; from: number; to: number } {
  const wanted = signature(found);
  const units = shrinkUnits(c.units, (u) => {
    try {
      const r = diffText(caseText(c, u), file, o.platforms, { maxSteps: o.maxSteps });
      return r.status === "disagree" && signature(r) === wanted;
    } catch (e) {
      // A shrink step that breaks the scenario (a runaway run) is just not kept.
      if (e instanceof ScnError) return false;
      throw e;
    }
  });
  // The header quotes the shrunk case's own first divergence (its values can
  // differ from the whole case's); comments move no statement, so diffing it
  // with a header of the same length gives the lines of the final file.
  const headerFor = (d: DiffResult["divergences"][number]) => {
    const title = `${o.names[0]} and ${o.names[1]} disagree on ${d.key} after '${d.statement}'`;
    return [
      `scenario "${title.replaceAll('"', "'")}"`,
      "tags x86, kvm-diff",
      `# Found by difftest, seed ${c.seed}, case ${c.index}; the whole case:`,
      `#   deno task difftest --seed ${c.seed} --index ${c.index}`,
      `# Shrunk from ${c.units.length} to ${units.length} statements keeping the first divergence:`,
      `#   ${d.key}: ${o.names[0]} ${d.a} | ${o.names[1]} ${d.b}, after '${d.statement}'`,
      `# Replay: deno task diff ${file}`,
      c.header[c.header.length - 1],
    ];
  };
  const draft = caseText({ ...c, header: headerFor(found.divergences[0]) }, units);
  const result = diffText(draft, file, o.platforms, { maxSteps: o.maxSteps });
  const text = caseText(
    { ...c, header: headerFor(result.divergences[0] ?? found.divergences[0]) },
    units,
  );
  return { text, result, from: c.units.length, to: units.length };
}

/** Options of the command line. */
const USAGE = [
  "deno task difftest [--count N] [--seed S] [--index I] [--out DIR] [--every-case]",
  "  generates N random x86 scenarios (default 100, seed 1), diffs each on the model",
  "  and the backend, and writes each disagreement, shrunk, to DIR (scenarios/kvm-diff).",
  "  --index I diffs case I of the seed alone and prints it.",
  "  One file per kind of disagreement (first divergence, values blanked); --every-case",
  "  shrinks and writes every disagreeing case.",
  "  Exit codes: 0 no disagreement, 1 some, 2 bad input or no backend, 3 a generator bug.",
];

/**
 * The command line: parses `args`, loads the backend and runs
 * {@link difftest}. `load` is injectable for tests.
 *
 * @example
 * ```ts
 * const code = await difftestMain(["--count", "200", "--seed", "1"], consoleDifftestIo());
 * ```
 */
export async function difftestMain(
  args: string[],
  io: DifftestIo,
  load: BackendLoader = loadBackend,
): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        count: { type: "string", default: "100" },
        seed: { type: "string", default: "1" },
        index: { type: "string" },
        out: { type: "string", default: DEFAULT_OUT },
        against: { type: "string", default: "kvm" },
        "max-steps": { type: "string" },
        "every-case": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    io.err(`difftest: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.InputError;
  }
  if (values.help) {
    for (const l of USAGE) io.out(l);
    return ExitCode.Ok;
  }
  const numbers: Record<string, number> = {};
  for (const name of ["count", "seed", "index", "max-steps"] as const) {
    const raw = values[name];
    if (raw === undefined) continue;
    const n = Number(raw);
    const min = name === "count" || name === "max-steps" ? 1 : 0;
    if (!Number.isSafeInteger(n) || n < min) {
      io.err(`difftest: --${name} needs a whole number >= ${min}, not '${raw}'`);
      return ExitCode.InputError;
    }
    numbers[name] = n;
  }
  if (!(BACKENDS as readonly string[]).includes(values.against)) {
    io.err(`difftest: --against takes ${BACKENDS.join(", ")}, not '${values.against}'`);
    return ExitCode.InputError;
  }
  let backend: Platform;
  try {
    backend = await load(values.against);
  } catch (e) {
    if (!(e instanceof BackendUnavailable)) throw e;
    io.err(
      e.needsFfi
        ? `difftest: the ${values.against} backend needs --allow-ffi: run 'deno task difftest'`
        : `difftest: the ${values.against} backend is not available: ${e.message}`,
    );
    return ExitCode.InputError;
  }
  const single = numbers.index !== undefined;
  const hostQuirks = probeHost(backend);
  for (const q of hostQuirks) io.out(`host: ${q.id}: ${q.summary}`);
  return difftest({
    seed: numbers.seed,
    count: single ? 1 : numbers.count,
    first: numbers.index ?? 0,
    outDir: values.out.replace(/\/+$/, ""),
    platforms: [x86Platform as unknown as Platform, backend],
    names: ["model", values.against],
    show: single,
    maxSteps: numbers["max-steps"],
    everyCase: values["every-case"],
    hostQuirks,
  }, io);
}

/**
 * The real console and file system.
 *
 * @example
 * ```ts
 * consoleDifftestIo().out("hello");
 * ```
 */
export function consoleDifftestIo(): DifftestIo {
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    writeFile: (path, text) => {
      Deno.mkdirSync(dirname(path), { recursive: true });
      Deno.writeTextFileSync(path, text);
    },
  };
}

if (import.meta.main) {
  let code: number;
  try {
    code = await difftestMain(Deno.args, consoleDifftestIo());
  } catch (e) {
    const u = e instanceof Error && e.name === "KvmUnavailable";
    console.error(
      u
        ? `difftest: the kvm backend is not available: ${(e as Error).message}`
        : `difftest: internal error: ${e instanceof Error ? e.message : String(e)}`,
    );
    code = u ? ExitCode.InputError : ExitCode.InternalError;
  }
  Deno.exit(code);
}
