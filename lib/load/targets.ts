/**
 * The one way in: a command-line target (a `.scn` path, a host file such as
 * `bug.md`, `reply.eml`, `list.mbox`, or `bug.md:12`) becomes checked
 * programs with the sources their diagnostics may quote, or located
 * diagnostics saying why not. Every command (run, check, explore and its
 * workers, report, minimize, diff, fmt, kvm run) comes through here, so
 * every command reads files the same way: confined includes, regular files
 * within budgets, strict UTF-8, permissions named, host-file locations.
 *
 * The platforms to check against are given: this module does not load the
 * models, so that `scn run` can load only those its scenarios name.
 * lib/load/load.ts is the same with irqlab's own platforms by default.
 *
 * @module
 */
import { parseToCheck } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import type { Program } from "../../dsl/program.ts";
import type { ScnFile, SkimmedFile } from "../../dsl/ast.ts";
import { type Loc, TextLoc } from "../core/loc.ts";
import { type Diagnostic, ScnError } from "../core/diagnostic.ts";
import type { PlatformEntry } from "../core/platform.ts";
import type { Outcome } from "../report/outcome.ts";
import { confinedLoader, type FileReads } from "./files.ts";
import { READ_LIMITS, type ReadLimits, readScenarioFile } from "./read.ts";
import {
  extractScenarios,
  type HostScenario,
  isHostFile,
  RECOGNISED,
  scenarioText,
  splitTarget,
  toHostLoc,
} from "./extract.ts";

/** An input error as the reports print it. */
export type InputError = Extract<Outcome, { kind: "input-error" }>;

/** An input error or a bug in irqlab. */
export type ErrorOutcome = Extract<Outcome, { kind: "input-error" | "internal-error" }>;

/** One scenario's text, read but not yet checked. */
export interface Source {
  /** How reports name it: `a.scn`, or `bug.md:12` for a scenario in a host file. */
  name: string;
  /** The name its locations carry: the `.scn` path or the host file's path. */
  path: string;
  /** What the parser reads (for a host file, padded so that lines are the host's). */
  text: string;
  /** The scenario on its own, quote prefixes removed: what `scn report` and `scn fmt` take. */
  body: string;
  /** The text diagnostics quote for {@link Source.path}: the file's or the host's. */
  quote: string;
  /** Where it sits in a host file, when it does. */
  hosted?: { scenario: HostScenario; hostText: string };
}

/** Options of {@link loadTarget}. */
export interface LoadOptions {
  /** Platforms to check against (lib/load/load.ts defaults them to irqlab's own). */
  platforms: readonly PlatformEntry[];
  /** Read budgets; {@link READ_LIMITS} by default. */
  limits?: ReadLimits;
  /** What this run has read already, shared by the scenarios of one run (a fresh one by default). */
  reads?: FileReads;
  /**
   * Check only (`scn check`): the program comes back without its timeline,
   * which a long file need not hold whole (see `CheckOptions.checkOnly`).
   */
  checkOnly?: boolean;
  /**
   * The target as read (and its scenarios as parsed) already, by a command
   * that looked into it first (lib/load/arches.ts): neither is done again.
   */
  read?: TargetRead;
}

/** A target read by {@link readTarget}, and those of its scenarios that parsed. */
export interface TargetRead {
  /** The target as named. */
  target: string;
  /** What {@link readTarget} gave for it. */
  result: { sources: Source[] } | { outcome: InputError };
  /** Each source's parse for checking (`parseToCheck`), where it parsed. */
  parsed: ReadonlyMap<Source, ScnFile | SkimmedFile>;
}

/** A checked scenario, or why there is none. */
export type Loaded =
  | {
    kind: "program";
    /** Its text and where it came from. */
    source: Source;
    program: Program;
    /** Every file read for it (the scenario or host, its includes): all a report may quote. */
    sources: ReadonlyMap<string, string>;
  }
  | { kind: "error"; source?: Source; outcome: ErrorOutcome };

/**
 * The scenarios a target names, read but not checked, or the input error
 * saying why there are none: a `.scn` file is one; a host file is every
 * scenario in it; `host:LINE` is the one whose block holds that line.
 *
 * @example
 * ```ts
 * const r = readTarget("tests/fixtures/hosts/two_fenced.md");
 * if ("sources" in r) r.sources.map((s) => s.name);
 * ```
 */
export function readTarget(
  target: string,
  limits: ReadLimits = READ_LIMITS,
): { sources: Source[] } | { outcome: InputError } {
  const { path, line } = splitTarget(target);
  const r = readScenarioFile(path, limits.fileBytes);
  if ("problem" in r) {
    const p = r.problem;
    const at = p.at ?? { offset: 0, line: 1, column: 1 };
    return {
      outcome: inputError(target, {
        kind: p.budget ? "budget" : "include",
        message: p.message,
        loc: { source: path, start: at, end: at },
        ...(p.hint ? { hint: p.hint } : {}),
      }, p.lossy === undefined ? undefined : new Map([[path, p.lossy]])),
    };
  }
  const text = r.text;
  if (!isHostFile(path)) {
    return { sources: [{ name: target, path, text, body: text, quote: text }] };
  }
  const found = extractScenarios(path, text);
  const at1 = { offset: 0, line: line ?? 1, column: 1 };
  const quoted = new Map([[path, text]]);
  if (found.scenarios.length === 0) {
    const unreadable = found.unreadable.map((u) => `the part at line ${u.line} ${u.why}`);
    const hint = `irqlab reads ${RECOGNISED}` +
      (unreadable.length
        ? `; ${
          unreadable.join(", ")
        }, which irqlab cannot read (it reads 7bit, 8bit and quoted-printable parts)`
        : "");
    return {
      outcome: inputError(target, {
        kind: "include",
        message: `no scenario found in '${path}'`,
        hint,
        loc: { source: path, start: at1, end: at1 },
      }, quoted),
    };
  }
  const picked = line === undefined
    ? found.scenarios
    : found.scenarios.filter((s) => s.span.first <= line && line <= s.span.last);
  if (picked.length === 0) {
    const lines = found.scenarios.map((s) => s.line).join(", ");
    return {
      outcome: inputError(target, {
        kind: "include",
        message: `no scenario at line ${line} of '${path}'`,
        hint: `its scenarios start at line${found.scenarios.length > 1 ? "s" : ""} ${lines}`,
        loc: { source: path, start: at1, end: at1 },
      }, quoted),
    };
  }
  return {
    sources: picked.map((s) => ({
      name: s.name,
      path,
      text: scenarioText(s),
      body: s.body,
      quote: text,
      hosted: { scenario: s, hostText: text },
    })),
  };
}

/**
 * Every scenario a target names, checked: the one function every command
 * uses to turn what it was given into programs. Errors are input errors
 * located in the file the person has (the host file for a quoted scenario)
 * whose quotes come only from files irqlab was allowed to read.
 *
 * @example
 * ```ts
 * import { PLATFORMS } from "../api/platforms.ts";
 * for (const l of loadTarget("scenarios/seeds/001_unmask_bug.scn", { platforms: PLATFORMS })) {
 *   if (l.kind === "program") l.program.title;
 * }
 * ```
 */
export function loadTarget(target: string, options: LoadOptions): Loaded[] {
  const r = options.read?.target === target
    ? options.read.result
    : readTarget(target, options.limits);
  if ("outcome" in r) return [{ kind: "error", outcome: r.outcome }];
  return r.sources.map((s) => checkSource(s, options));
}

/**
 * The first scenario a target names, checked; for commands that take one
 * scenario per target (`bug.md` alone means its first scenario).
 *
 * @example
 * ```ts
 * import { PLATFORMS } from "../api/platforms.ts";
 * const l = loadOne("tests/fixtures/hosts/two_fenced.md:12", { platforms: PLATFORMS });
 * ```
 */
export function loadOne(target: string, options: LoadOptions): Loaded {
  return loadTarget(target, options)[0];
}

/**
 * Checks a source read by {@link readTarget} (or built by a command, as
 * `scn report` does to rerun its block), its includes confined to its folder.
 *
 * @example
 * ```ts
 * const text = 'scenario "t"\nvm g { arch x86_64 }\n';
 * import { X86 } from "../api/x86.ts";
 * checkSource({ name: "t.scn", path: "t.scn", text, body: text, quote: text }, { platforms: [X86] });
 * ```
 */
export function checkSource(source: Source, options: LoadOptions): Loaded {
  const { load, read } = confinedLoader(options.limits, options.reads);
  const quotes = (): Map<string, string> => new Map([...read, [source.path, source.quote]]);
  try {
    const parsed = options.read?.parsed.get(source) ?? parseToCheck(source.text, source.path);
    const program = check(parsed, {
      platforms: options.platforms,
      load,
      text: source.text,
      checkOnly: options.checkOnly,
    });
    return { kind: "program", source, program, sources: quotes() };
  } catch (e) {
    return {
      kind: "error",
      source,
      outcome: inHost(source, errorOutcome(source.name, e, quotes())),
    };
  }
}

/**
 * The outcome of an exception while checking or running a scenario: a
 * {@link ScnError} is an input error quoting `sources` only; anything else
 * is a bug in irqlab.
 *
 * @example
 * ```ts
 * errorOutcome("a.scn", new Error("boom"), new Map()).kind; // "internal-error"
 * ```
 */
export function errorOutcome(
  name: string,
  e: unknown,
  sources: ReadonlyMap<string, string>,
): ErrorOutcome {
  if (e instanceof ScnError) {
    return { kind: "input-error", file: name, diagnostics: e.diagnostics, sources };
  }
  return {
    kind: "internal-error",
    file: name,
    message: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
  };
}

/**
 * The input error for a target that is not there.
 *
 * @example
 * ```ts
 * missingOutcome("nope.scn").diagnostics[0].message; // "no such file or directory 'nope.scn'"
 * ```
 */
export function missingOutcome(file: string): InputError {
  const at = { offset: 0, line: 1, column: 1 };
  return inputError(file, {
    kind: "include",
    message: `no such file or directory '${file}'`,
    loc: { source: file, start: at, end: at },
  });
}

/**
 * Puts anything holding locations (an outcome, a result, an explore result)
 * in the host file's terms when `source` is a scenario in one: it is named
 * `host:LINE`, decoded parts' locations map to the host, and a location at
 * the very start of the parse text (a diagnostic about the whole text) moves
 * to the scenario's first line. Values of `.scn` files pass unchanged.
 *
 * @example
 * ```ts
 * const r = readTarget("tests/fixtures/hosts/qp.eml");
 * if ("sources" in r) {
 *   const source = r.sources[0];
 *   const at = { offset: 0, line: 1, column: 1 };
 *   inHost(source, { source: source.path, start: at, end: at }); // moved to the scenario's line
 * }
 * ```
 */
export function inHost<T>(source: Source, value: T): T {
  const h = source.hosted;
  if (!h) return value;
  const s = h.scenario;
  const mapLoc = (l: Loc): Loc => {
    const mapped = toHostLoc(s, l, h.hostText);
    if (mapped.source !== s.host || mapped.start.offset !== 0 || s.line === 1) return mapped;
    const at = { offset: 0, line: s.line, column: 1 };
    return { source: mapped.source, start: at, end: at };
  };
  return mapLocs(value, mapLoc, s.name) as T;
}

/** Copies plain objects and arrays, mapping every location and naming the file `name`. */
function mapLocs(v: unknown, f: (l: Loc) => Loc, name: string): unknown {
  if (Array.isArray(v)) return v.map((x) => mapLocs(x, f, name));
  if (v instanceof TextLoc) return f(v);
  if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) {
    return v;
  }
  const o = v as Record<string, unknown>;
  if (isLoc(o)) return f(o as unknown as Loc);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    out[k] = k === "file" && typeof x === "string" ? name : mapLocs(x, f, name);
  }
  return out;
}

function isLoc(o: Record<string, unknown>): boolean {
  return typeof o.source === "string" && typeof o.start === "object" && o.start !== null &&
    typeof o.end === "object" && "line" in (o.start as object);
}

function inputError(
  file: string,
  d: Diagnostic,
  sources: ReadonlyMap<string, string> = new Map(),
): InputError {
  return { kind: "input-error", file, diagnostics: [d], sources };
}
