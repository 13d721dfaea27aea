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
import type { PlatformEntry } from "../core/platform.ts";
import { ExitCode } from "../report/outcome.ts";
import { X86 } from "../api/platforms.ts";
import { type BackendLoader, BACKENDS, BackendUnavailable, loadBackend } from "./backend.ts";
import { clip, type DiffResult, diffText, type Divergence, formatDivergence } from "./diff.ts";
import { caseText, generateCase, type GeneratedCase } from "./generate.ts";
import { shrinkList } from "../core/shrink.ts";
import { type HostQuirk, hostVerdict, probeHost, verdictText } from "./host.ts";
import { Progress, type ProgressSink, STDERR } from "../report/progress.ts";

/** Where disagreements are written by default. */
export const DEFAULT_OUT = "scenarios/kvm-diff";

/** Which part of the cases a run takes: case `index` goes to shard `index % of + 1`. */
export interface Shard {
  /** 1-based: `--shard 2/4` is shard 2. */
  index: number;
  /** How many shards there are. */
  of: number;
}

/** What {@link difftest} runs. */
export interface DifftestOptions {
  /** The run's seed. */
  seed: number;
  /** How many cases, from index `first`. */
  count: number;
  /** The first case's index (`--index`), 0 by default. */
  first?: number;
  /** Run only this shard's cases (`--shard i/n`); all of them by default. */
  shard?: Shard;
  /** The directory disagreements are written to. */
  outDir: string;
  /** The reference (the model) and the platform under test. */
  platforms: readonly [PlatformEntry, PlatformEntry];
  /** Their names in messages: `["model", "kvm"]`. */
  names: readonly [string, string];
  /** Print each case's text before its result (`--index`). */
  show?: boolean;
  /** Step budget of each `run`. */
  maxSteps?: number;
  /** Shrink and write every disagreeing case, not one per kind (`--every-case`). */
  everyCase?: boolean;
  /**
   * Shrink and write nothing, only list (`--no-shrink`): for many small
   * shards, whose kinds are known only after the merge.
   */
  noShrink?: boolean;
  /**
   * Quirks of the host under test ({@link probeHost}): a disagreement that
   * the model variant with them reproduces over the whole case is counted
   * and listed as the host's, not shrunk or written, and does not fail.
   */
  hostQuirks?: readonly HostQuirk[];
  /** Print one JSON object ({@link DifftestReport}) instead of lines, and no progress. */
  json?: boolean;
}

/** Where difftest writes; injectable for tests. */
export interface DifftestIo {
  out(line: string): void;
  err(line: string): void;
  /** Writes a file, creating its directory. */
  writeFile(path: string, text: string): void;
  /** Where the progress line goes (stderr); none by default. */
  progress?: ProgressSink;
}

/** One divergence as `--json` gives it. */
export interface DivergenceJson {
  key: string;
  /** The timeline statement's line in the case's text. */
  line: number;
  statement: string;
  /** The value on the reference (the model, with the host's quirks when it has any). */
  a: string;
  /** The value on the platform under test. */
  b: string;
}

/** One case's result in a {@link DifftestReport}. */
export interface CaseJson {
  index: number;
  /** `agree`, `skipped`, `host: ID[+ID]` or `disagree`. */
  verdict: string;
  /** Why the backend skipped it. */
  reason?: string;
  /** A disagreement's kind ({@link disagreementClass}), for grouping. */
  kind?: string;
  /** The shrunk scenario written for it, when it was the first of its kind here. */
  file?: string;
  /** What differs (for `disagree`, what the host's quirks leave unexplained). */
  divergences?: DivergenceJson[];
}

/** One kind of disagreement in a summary. */
export interface KindJson {
  kind: string;
  /** The shrunk scenario of its first case. */
  file?: string;
  /** Its cases, in index order. */
  cases: number[];
}

/** What `difftest --json` prints, and `difftest merge` reads and prints. */
export interface DifftestReport {
  tool: "difftest";
  seed: number;
  /** The whole run's first index and count, whichever shard this is. */
  first: number;
  count: number;
  /** The shards this report holds (every one after a complete merge). */
  shards: Shard[];
  /** The host's quirks the probes found. */
  host: string[];
  cases: CaseJson[];
  summary: {
    cases: number;
    agree: number;
    skipped: number;
    /** Disagreements the host's quirks reproduce, by verdict (`host: isr-not-tracked`). */
    host: Record<string, number>;
    /** Disagreements no quirk variant reproduces. */
    disagree: number;
    kinds: KindJson[];
  };
}

/**
 * The indexes a run takes: `count` from `first`, and of those the ones
 * of `shard`.
 *
 * @example
 * ```ts
 * caseIndexes(0, 10, { index: 2, of: 3 }); // [1, 4, 7]
 * ```
 */
export function caseIndexes(first: number, count: number, shard?: Shard): number[] {
  const out: number[] = [];
  for (let i = first; i < first + count; i++) {
    if (!shard || i % shard.of === shard.index - 1) out.push(i);
  }
  return out;
}

/**
 * Runs the cases; returns the exit code: 0 no disagreement the host does
 * not explain, 1 some, 2 a file could not be written, 3 a generated case
 * did not check (a bug in the generator).
 *
 * @example
 * ```ts
 * import { type Io } from "../cli/io.ts";
 * import { type PlatformEntry } from "../../mod.ts";
 * declare const io: Io, kvm: PlatformEntry, x86: PlatformEntry;
 * difftest({ seed: 1, count: 200, outDir: DEFAULT_OUT, platforms: [x86, kvm],
 *            names: ["model", "kvm"] }, io);
 * ```
 */
export function difftest(o: DifftestOptions, io: DifftestIo): number {
  const first = o.first ?? 0;
  const line = o.json ? () => {} : (l: string) => io.out(l);
  const cases: CaseJson[] = [];
  const written = new Map<string, string>();
  const indexes = caseIndexes(first, o.count, o.shard);
  const progress = new Progress({
    label: "difftest",
    total: indexes.length,
    failures: "disagree",
    enabled: !o.json && !o.show && io.progress !== undefined,
    sink: io.progress ?? { isTerminal: () => false, write() {} },
  });
  let unexplained = 0;
  for (const index of indexes) {
    progress.update(cases.length, unexplained);
    const c = generateCase(o.seed, index);
    const file = `${o.outDir}/seed${o.seed}_case${index}.scn`;
    if (o.show) { for (const l of caseText(c).trimEnd().split("\n")) line(l); }
    let judged: Judged;
    try {
      judged = judge(caseText(c), file, o);
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      progress.end();
      io.err(
        `difftest: case ${o.seed}:${index} is not a valid scenario (a generator bug): ${e.message}`,
      );
      return ExitCode.InternalError;
    }
    const { result: r, verdict } = judged;
    if (r.status === "agree") {
      cases.push({ index, verdict });
      if (o.show) line(`AGREE     case ${o.seed}:${index}  (${r.steps} steps)`);
      continue;
    }
    if (r.status === "skipped") {
      cases.push({ index, verdict, reason: r.reason ?? "" });
      if (o.show) line(`SKIPPED   case ${o.seed}:${index}  ${r.reason ?? ""}`);
      continue;
    }
    if (verdict !== "disagree") {
      cases.push({ index, verdict });
      if (o.show) line(`DISAGREE  case ${o.seed}:${index}  (${verdict})`);
      continue;
    }
    unexplained++;
    // One file per kind of disagreement: the hundredth case of a known one
    // would add nothing to read, and shrinking it costs hundreds of runs.
    const kind = disagreementClass(judged.residual);
    const entry: CaseJson = { index, verdict, kind, divergences: judged.residual.map(toJson) };
    cases.push(entry);
    const seen = written.get(kind);
    if (o.noShrink) {
      line(`DISAGREE  case ${o.seed}:${index}  ${kind}`);
      continue;
    }
    if (seen !== undefined && !o.everyCase) {
      line(`DISAGREE  case ${o.seed}:${index}  like ${seen}`);
      continue;
    }
    const { text, result, from, to } = minimise(c, judged, file, o);
    written.set(kind, file);
    entry.file = file;
    try {
      io.writeFile(file, text);
    } catch (e) {
      progress.end();
      io.err(
        e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
          ? `difftest: writing '${file}' needs --allow-write=${o.outDir}`
          : `difftest: cannot write '${file}': ${e instanceof Error ? e.message : String(e)}`,
      );
      return ExitCode.InputError;
    }
    line(
      `DISAGREE  case ${o.seed}:${index}  -> ${file}  (shrunk from ${from} to ${to} statements)`,
    );
    for (const d of result) {
      for (const l of formatDivergence(d, referenceNames(o))) line(`  ${l}`);
    }
  }
  progress.update(cases.length, unexplained);
  progress.end();
  const report: DifftestReport = {
    tool: "difftest",
    seed: o.seed,
    first,
    count: o.count,
    shards: [o.shard ?? { index: 1, of: 1 }],
    host: (o.hostQuirks ?? []).map((q) => q.id),
    cases,
    summary: summarizeCases(cases),
  };
  if (o.json) io.out(JSON.stringify(report));
  else for (const l of summaryLines(report)) io.out(l);
  return report.summary.disagree > 0 ? ExitCode.ExpectationFailed : ExitCode.Ok;
}

/**
 * The summary of a list of case results: a pure function, so a merge of
 * shards sums to what one run over every case gives.
 */
export function summarizeCases(cases: readonly CaseJson[]): DifftestReport["summary"] {
  const s: DifftestReport["summary"] = {
    cases: cases.length,
    agree: 0,
    skipped: 0,
    host: {},
    disagree: 0,
    kinds: [],
  };
  const kinds = new Map<string, KindJson>();
  for (const c of [...cases].sort((a, b) => a.index - b.index)) {
    if (c.verdict === "agree") s.agree++;
    else if (c.verdict === "skipped") s.skipped++;
    else if (c.verdict.startsWith("host: ")) s.host[c.verdict] = (s.host[c.verdict] ?? 0) + 1;
    else {
      s.disagree++;
      const k = kinds.get(c.kind ?? "") ?? { kind: c.kind ?? "", cases: [] };
      kinds.set(k.kind, k);
      k.cases.push(c.index);
      if (k.file === undefined && c.file !== undefined) k.file = c.file;
    }
  }
  s.kinds = [...kinds.values()];
  return s;
}

/** The text summary of a report: the count line, then host, kinds and skip reasons. */
export function summaryLines(r: DifftestReport): string[] {
  const s = r.summary;
  const host = Object.values(s.host).reduce((n, k) => n + k, 0);
  const disagree = host + s.disagree;
  const files = s.kinds.filter((k) => k.file !== undefined).length;
  const shard = r.shards.length === 1 && r.shards[0].of > 1
    ? `, shard ${r.shards[0].index}/${r.shards[0].of}`
    : "";
  const out = [
    `${s.cases} cases (seed ${r.seed}${shard}): ${s.agree} agree, ${disagree} disagree` +
    (host > 0 ? ` (${host} explained by the host, ${s.disagree} not)` : "") +
    (s.kinds.length > 0 ? ` (${s.kinds.length} kinds, ${files} files)` : "") +
    `, ${s.skipped} skipped`,
  ];
  for (const [verdict, n] of Object.entries(s.host)) {
    const cases = r.cases.filter((c) => c.verdict === verdict).map((c) => c.index);
    const shown = cases.slice(0, 12).join(", ") + (cases.length > 12 ? ", ..." : "");
    out.push(`  ${n} explained by the host (${verdict.slice(6)}): cases ${shown}`);
  }
  for (const k of s.kinds) out.push(`  ${k.cases.length} like ${k.file ?? `case ${k.cases[0]}`}`);
  const skipReasons = new Map<string, number>();
  for (const c of r.cases) {
    if (c.verdict === "skipped") {
      skipReasons.set(c.reason ?? "", (skipReasons.get(c.reason ?? "") ?? 0) + 1);
    }
  }
  for (const [why, n] of [...skipReasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    out.push(`  skipped ${n}: ${why}`);
  }
  return out;
}

/** A disagreement with what the host's quirks make of it. */
interface Judged {
  result: DiffResult;
  verdict: string;
  /** What no quirk variant reproduces: the divergences from the model with the host's quirks. */
  residual: Divergence[];
}

/** Diffs one case and, when it disagrees, asks the host's quirk variants. */
function judge(text: string, file: string, o: DifftestOptions): Judged {
  const result = diffText(text, file, o.platforms, { maxSteps: o.maxSteps });
  if (result.status !== "disagree") {
    return { result, verdict: result.status, residual: [] };
  }
  const v = hostVerdict(text, file, result, o.hostQuirks ?? [], { maxSteps: o.maxSteps });
  return { result, verdict: verdictText(result.status, v.quirks), residual: v.residual };
}

/** The names divergences are printed with: the reference carries the host's quirks. */
function referenceNames(o: DifftestOptions): readonly [string, string] {
  const q = o.hostQuirks ?? [];
  return q.length === 0 ? o.names : [`${o.names[0]}+${q.map((x) => x.id).join("+")}`, o.names[1]];
}

function toJson(d: Divergence): DivergenceJson {
  // Values as the text report cuts them: a storm's took list is 60 kB.
  return { key: d.key, line: d.loc.start.line, statement: d.statement, a: clip(d.a), b: clip(d.b) };
}

/**
 * The kind of a disagreement, for grouping: its first divergence with vCPU
 * numbers, pins, variables and values blanked (a non-empty list or set of
 * values counts as one), and the statement's command without its arguments
 * (`run`, `kvm signal_msi`, `ipi`).
 *
 * @example
 * ```ts
 * import type { DiffResult } from "./diff.ts";
 * declare const result: DiffResult;
 * disagreementClass(result.divergences); // "vcpuN.lapic.isr|{N}|{}|kvm signal_msi"
 * ```
 */
export function disagreementClass(divergences: readonly Divergence[]): string {
  const d = divergences[0];
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

/** What identifies a disagreement while shrinking: its first unexplained divergence. */
function signature(divergences: readonly Divergence[]): string {
  const d = divergences[0];
  return d ? `${d.key}\n${d.statement}` : "";
}

/**
 * Shrinks a disagreeing case to the fewest statements that keep the same
 * first divergence that the host's quirks do not explain (the same value
 * differing after the same statement), and gives the file text with a
 * header that regenerates the whole case.
 */
function minimise(
  c: GeneratedCase,
  found: Judged,
  file: string,
  o: DifftestOptions,
): { text: string; result: Divergence[]; from: number; to: number } {
  const wanted = signature(found.residual);
  const still = (text: string): Divergence[] | undefined => {
    const j = judge(text, file, o);
    return j.verdict === "disagree" && signature(j.residual) === wanted ? j.residual : undefined;
  };
  const units = shrinkList(c.units, (u) => {
    try {
      return still(caseText(c, u)) !== undefined;
    } catch (e) {
      // A shrink step that breaks the scenario (a runaway run) is just not kept.
      if (e instanceof ScnError) return false;
      throw e;
    }
  });
  // The header quotes the shrunk case's own first divergence (its values can
  // differ from the whole case's); comments move no statement, so diffing it
  // with a header of the same length gives the lines of the final file.
  const names = referenceNames(o);
  const quirks = o.hostQuirks ?? [];
  const headerFor = (d: Divergence) => {
    const title = `${o.names[0]} and ${o.names[1]} disagree on ${d.key} after '${d.statement}'`;
    return [
      `scenario "${title.replaceAll('"', "'")}"`,
      "tags x86, kvm-diff",
      `# Found by difftest, seed ${c.seed}, case ${c.index}; the whole case:`,
      `#   deno task difftest --seed ${c.seed} --index ${c.index}`,
      `# Shrunk from ${c.units.length} to ${units.length} statements keeping the first divergence` +
      (quirks.length > 0 ? " that no host quirk explains" : "") + ":",
      `#   ${d.key}: ${names[0]} ${d.a} | ${names[1]} ${d.b}, after '${d.statement}'`,
      `# Replay: deno task diff ${file}`,
      c.header[c.header.length - 1],
    ];
  };
  const draft = caseText({ ...c, header: headerFor(found.residual[0]) }, units);
  const result = still(draft) ?? found.residual;
  const text = caseText({ ...c, header: headerFor(result[0]) }, units);
  return { text, result, from: c.units.length, to: units.length };
}

/** Options of the command line. */
const USAGE = [
  "deno task difftest [--count N] [--seed S] [--index I] [--shard I/N] [--out DIR]",
  "                   [--every-case] [--no-shrink] [--json]",
  "  generates N random x86 scenarios (default 100, seed 1), diffs each on the model",
  "  and the backend, and writes each disagreement, shrunk, to DIR (scenarios/kvm-diff).",
  "  The host is probed for known quirks first; a disagreement is the host's only when",
  "  the model with those quirks agrees with the host over the whole case.",
  "  --index I diffs case I of the seed alone and prints it.",
  "  --shard I/N runs the cases whose index is I-1 modulo N; 'difftest merge' joins the",
  "  shards' --json outputs into the report one run over every case gives.",
  "  --json prints one JSON object: each case's index and verdict, and a summary.",
  "  One file per kind of disagreement (first divergence, values blanked); --every-case",
  "  shrinks and writes every disagreeing case; --no-shrink writes none (shards of a",
  "  long run: shrink the kinds of the merged report with --index afterwards).",
  "  Exit codes: 0 no disagreement, 1 some, 2 bad input or no backend, 3 a generator bug.",
  "deno task difftest merge A.json B.json ...",
  "  prints the merged JSON report of shards of one run (same seed and count).",
];

/**
 * The command line: parses `args`, loads the backend and runs
 * {@link difftest}, or merges shards' reports (`merge FILES`). `load` is
 * injectable for tests.
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
  if (args[0] === "merge") return mergeMain(args.slice(1), io);
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        count: { type: "string", default: "100" },
        seed: { type: "string", default: "1" },
        index: { type: "string" },
        shard: { type: "string" },
        out: { type: "string", default: DEFAULT_OUT },
        against: { type: "string", default: "kvm" },
        "max-steps": { type: "string" },
        "every-case": { type: "boolean", default: false },
        "no-shrink": { type: "boolean", default: false },
        json: { type: "boolean", default: false },
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
  let shard: Shard | undefined;
  if (values.shard !== undefined) {
    shard = parseShard(values.shard);
    if (!shard) {
      io.err(`difftest: --shard takes I/N with 1 <= I <= N, not '${values.shard}'`);
      return ExitCode.InputError;
    }
  }
  if (!(BACKENDS as readonly string[]).includes(values.against)) {
    io.err(`difftest: --against takes ${BACKENDS.join(", ")}, not '${values.against}'`);
    return ExitCode.InputError;
  }
  let backend: PlatformEntry;
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
  if (!values.json) { for (const q of hostQuirks) io.out(`host: ${q.id}: ${q.summary}`); }
  return difftest({
    seed: numbers.seed,
    count: single ? 1 : numbers.count,
    first: numbers.index ?? 0,
    shard,
    outDir: values.out.replace(/\/+$/, ""),
    platforms: [X86, backend],
    names: ["model", values.against],
    show: single && !values.json,
    maxSteps: numbers["max-steps"],
    everyCase: values["every-case"],
    noShrink: values["no-shrink"],
    hostQuirks,
    json: values.json,
  }, io);
}

/** `I/N` with 1 <= I <= N, or undefined. */
function parseShard(text: string): Shard | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]), of = Number(m[2]);
  return index >= 1 && index <= of && Number.isSafeInteger(of) ? { index, of } : undefined;
}

/**
 * Joins shards' reports of one run into the report one run over all their
 * cases gives: a pure function of its inputs. Throws an `Error` saying what
 * does not fit when the reports are of different runs, or hold a case twice.
 *
 * @example
 * ```ts
 * declare const shard1: DifftestReport, shard2: DifftestReport;
 * const all = mergeReports([shard1, shard2]);
 * all.summary.disagree;
 * ```
 */
export function mergeReports(reports: readonly DifftestReport[]): DifftestReport {
  if (reports.length === 0) throw new Error("no reports to merge");
  const [r0] = reports;
  const cases = new Map<number, CaseJson>();
  const shards: Shard[] = [];
  for (const r of reports) {
    for (const k of ["seed", "first", "count"] as const) {
      if (r[k] !== r0[k]) {
        throw new Error(`the reports are of different runs (${k} ${r0[k]} and ${r[k]})`);
      }
    }
    if (r.host.join("+") !== r0.host.join("+")) {
      throw new Error(
        `the reports probed different hosts (${r0.host.join("+") || "no quirk"} and ${
          r.host.join("+") || "no quirk"
        })`,
      );
    }
    for (const c of r.cases) {
      if (cases.has(c.index)) throw new Error(`case ${c.index} is in two reports`);
      cases.set(c.index, c);
    }
    shards.push(...r.shards);
  }
  const all = [...cases.values()].sort((a, b) => a.index - b.index);
  shards.sort((a, b) => a.of - b.of || a.index - b.index);
  return { ...r0, shards, cases: all, summary: summarizeCases(all) };
}

/** `difftest merge FILES`: prints the merged JSON and a summary on stderr. */
function mergeMain(files: string[], io: DifftestIo): number {
  if (files.length === 0) {
    io.err("difftest merge: name the shards' --json outputs, e.g. 'difftest merge a.json b.json'");
    return ExitCode.InputError;
  }
  const reports: DifftestReport[] = [];
  for (const f of files) {
    let r: unknown;
    try {
      r = JSON.parse(Deno.readTextFileSync(f));
    } catch (e) {
      io.err(`difftest merge: cannot read '${f}': ${e instanceof Error ? e.message : String(e)}`);
      return ExitCode.InputError;
    }
    if (!isReport(r)) {
      io.err(`difftest merge: '${f}' is not the output of 'difftest --json'`);
      return ExitCode.InputError;
    }
    reports.push(r);
  }
  let merged: DifftestReport;
  try {
    merged = mergeReports(reports);
  } catch (e) {
    io.err(`difftest merge: ${e instanceof Error ? e.message : String(e)}`);
    return ExitCode.InputError;
  }
  const want = caseIndexes(merged.first, merged.count);
  const missing = want.filter((i) => !merged.cases.some((c) => c.index === i)).length;
  io.out(JSON.stringify(merged));
  for (const l of summaryLines(merged)) io.err(l);
  if (missing > 0) io.err(`difftest merge: ${missing} of ${want.length} cases are in no report`);
  return merged.summary.disagree > 0 ? ExitCode.ExpectationFailed : ExitCode.Ok;
}

function isReport(r: unknown): r is DifftestReport {
  const o = r as DifftestReport;
  return typeof o === "object" && o !== null && o.tool === "difftest" && Array.isArray(o.cases) &&
    Array.isArray(o.shards) && Array.isArray(o.host) && typeof o.seed === "number";
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
    progress: STDERR,
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
