/**
 * The divergence observer: runs one scenario on two platforms (the model
 * and a real VM, or two models) and reports every observable value on which
 * they disagree, at the timeline statement where it first differs.
 *
 * The two runs are separate and recorded: after every timeline statement
 * (see `RunOptions.onStep`) a {@link Snapshot} is taken, and the two
 * recordings are compared step by step afterwards. Both platforms check the
 * same text, so step i of one run is step i of the other until a condition
 * (`if`) sends them down different statements; that is reported as a
 * divergence of its own and ends the comparison.
 *
 * @module
 */
import type { Loc } from "../../dsl/ast.ts";
import { parse } from "../../dsl/parse.ts";
import { check, type Loader } from "../../dsl/check/mod.ts";
import type { Program } from "../../dsl/program.ts";
import { ScnError } from "../core/diagnostic.ts";
import type { PlatformEntry, VmModel } from "../core/platform.ts";
import { runProgram } from "../engine/run.ts";
import { type Snapshot, snapshot, UNREADABLE } from "./observe.ts";

/** One timeline step of a recorded run. */
export interface Step {
  /** The statement just executed. */
  loc: Loc;
  /** The observable state after it. */
  state: Snapshot;
}

/** How a recorded run ended. */
export type RunEnd =
  | { kind: "done"; status: string }
  /** The backend cannot express a statement (`BackendUnsupported`): the scenario is skipped. */
  | { kind: "unsupported"; reason: string }
  /** A located input error at run time (a step budget, a value out of range). */
  | { kind: "input-error"; error: ScnError }
  | { kind: "internal-error"; message: string };

/** A run on one platform, step by step. */
export interface Recording {
  steps: Step[];
  end: RunEnd;
}

/** One observable value on which the two platforms disagree. */
export interface Divergence {
  /** What differs: `vcpu0.lapic.isr`, `vcpu1 took`, `$r`, `expect at 9:1`, `statement`, `end`. */
  key: string;
  /** The timeline statement after which it first differed. */
  loc: Loc;
  /** That statement's source line, trimmed. */
  statement: string;
  /** The index of that step in the recordings. */
  step: number;
  /** The value on the first platform. */
  a: string;
  /** The value on the second platform. */
  b: string;
}

/** What diffing one scenario found. */
export interface DiffResult {
  /** The scenario file. */
  file: string;
  /** Its title. */
  title: string;
  /**
   * agree; disagree (see `divergences`); skipped (the second platform cannot
   * express a statement before any disagreement: see `reason`).
   */
  status: "agree" | "disagree" | "skipped";
  /** Every disagreement, ordered by step, then by key order. */
  divergences: Divergence[];
  /** Why the scenario was skipped. */
  reason?: string;
  /** Steps compared. */
  steps: number;
  /** The run on the first platform (the model). */
  reference?: Recording;
  /** The run on the second platform, which model variants are compared with (lib/diff/host.ts). */
  other?: Recording;
}

/**
 * Whether `e` is a backend's refusal of a statement it cannot express.
 * Matched by name, so this module never loads a backend (and its FFI).
 */
export function isBackendUnsupported(e: unknown): e is Error {
  return e instanceof Error &&
    (e.name === "BackendUnsupported" || e.constructor.name === "BackendUnsupported");
}

/**
 * Runs a checked program, recording the observable state after every
 * timeline statement. A backend's refusal, an input error or a crash ends
 * the recording rather than escaping, so the steps before it still count;
 * only a backend that cannot run at all (`KvmUnavailable`) is rethrown.
 *
 * @example
 * ```ts
 * import { checkText } from "../../mod.ts";
 * declare const text: string;
 * const rec = record(checkText(text, "a.scn"));
 * rec.steps.at(-1)?.state.get("vcpu0.lapic.isr"); // "{0x41}"
 * ```
 */
export function record(program: Program, maxSteps?: number): Recording {
  const steps: Step[] = [];
  let end: RunEnd;
  // A backend's VMs hold kernel resources: release each one this run made,
  // however the run ends (a disposed VM ignores a second dispose).
  const created: VmModel[] = [];
  const tracked: Program = {
    ...program,
    vms: program.vms.map((d) => ({
      ...d,
      platform: {
        ...d.platform,
        create: (name, settings, env) => {
          const vm = d.platform.create(name, settings, env);
          created.push(vm);
          return vm;
        },
      },
    })),
  };
  try {
    const r = runProgram(tracked, {
      maxSteps,
      trace: false,
      onStep: (loc, state) => steps.push({ loc, state: snapshot(program, state) }),
    });
    end = { kind: "done", status: r.status };
  } catch (e) {
    // A backend that cannot run at all is not a result of this scenario.
    if (e instanceof Error && e.name === "KvmUnavailable") throw e;
    if (isBackendUnsupported(e)) end = { kind: "unsupported", reason: e.message };
    else if (e instanceof ScnError) end = { kind: "input-error", error: e };
    else end = { kind: "internal-error", message: e instanceof Error ? e.message : String(e) };
  } finally {
    for (const vm of created) (vm as { dispose?: () => void }).dispose?.();
  }
  return { steps, end };
}

/**
 * Compares two recordings of the same program. For each key, the first step
 * at which the two values differ is reported once; a key only one side has
 * at a step (a variable bound on one side only) counts as a difference,
 * except that a failed expectation is compared with `held`. Reads that
 * failed on either side are not compared.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const otherProgram: Program, program: Program;
 * const d = compare(program, record(program), record(otherProgram));
 * d.map((x) => `${x.loc.start.line}: ${x.key}: ${x.a} vs ${x.b}`);
 * ```
 */
export function compare(program: Program, a: Recording, b: Recording): Divergence[] {
  const out: Divergence[] = [];
  const seen = new Set<string>();
  const n = Math.min(a.steps.length, b.steps.length);
  for (let i = 0; i < n; i++) {
    const sa = a.steps[i], sb = b.steps[i];
    if (!sameLoc(sa.loc, sb.loc)) {
      out.push({
        key: "statement",
        loc: sa.loc,
        statement: lineOf(program, sa.loc),
        step: i,
        a: where(program, sa.loc),
        b: where(program, sb.loc),
      });
      return out;
    }
    for (const key of new Set([...sa.state.keys(), ...sb.state.keys()])) {
      if (seen.has(key)) continue;
      const va = valueOf(sa.state, key), vb = valueOf(sb.state, key);
      if (va === vb || va.startsWith(UNREADABLE) || vb.startsWith(UNREADABLE)) continue;
      seen.add(key);
      out.push({ key, loc: sa.loc, statement: lineOf(program, sa.loc), step: i, a: va, b: vb });
    }
  }
  // One run stopped early or ended differently: that is a disagreement too,
  // unless the second platform only refused a statement it cannot express.
  if (b.end.kind === "unsupported") return out;
  const ea = endText(a.end), eb = endText(b.end);
  if (ea !== eb || a.steps.length !== b.steps.length) {
    const last = a.steps[n - 1] ?? b.steps[n - 1];
    const loc = stoppedAt(a.end) ?? stoppedAt(b.end) ?? last?.loc ?? startOf(program.file);
    out.push({
      key: "end",
      loc,
      statement: lineOf(program, loc),
      step: n,
      a: `${ea} after ${a.steps.length} steps`,
      b: `${eb} after ${b.steps.length} steps`,
    });
  }
  return out;
}

/** Options for {@link diffText}. */
export interface DiffOptions {
  /** Reads included files; none by default. */
  load?: Loader;
  /** Step budget of each `run`. */
  maxSteps?: number;
}

/**
 * Checks `text` against each platform and diffs the two runs. The first
 * platform is the reference (the model); a `BackendUnsupported` refusal from
 * the second skips the scenario unless they disagreed before it.
 *
 * @throws {ScnError} when the text does not check (against either platform),
 * or the reference run ends in an input error: the scenario itself is bad.
 *
 * @example
 * ```ts
 * import { kvmPlatform } from "../kvm/platform.ts";
 * import { X86 } from "../api/platforms.ts";
 * import { platformEntry } from "../core/platform.ts";
 * declare const text: string;
 * const r = diffText(text, "a.scn", [X86, platformEntry(kvmPlatform())]);
 * r.status; // "agree"
 * ```
 */
export function diffText(
  text: string,
  file: string,
  platforms: readonly [PlatformEntry, PlatformEntry],
  options: DiffOptions = {},
): DiffResult {
  const programs = platforms.map((p) =>
    check(parse(text, file), { platforms: [p], load: options.load, text })
  );
  const ra = record(programs[0], options.maxSteps);
  if (ra.end.kind === "input-error") throw ra.end.error;
  const rb = record(programs[1], options.maxSteps);
  const divergences = compare(programs[0], ra, rb);
  const base = {
    file,
    title: programs[0].title,
    steps: Math.min(ra.steps.length, rb.steps.length),
    reference: ra,
    other: rb,
  };
  if (divergences.length > 0) return { ...base, status: "disagree", divergences };
  if (rb.end.kind === "unsupported") {
    return { ...base, status: "skipped", divergences, reason: rb.end.reason };
  }
  return { ...base, status: "agree", divergences };
}

/**
 * A divergence as one line: `a.scn:12:1: vcpu0.lapic.isr: model {} | kvm {0x41}`,
 * followed by the statement.
 *
 * @example
 * ```ts
 * declare const d: Divergence;
 * formatDivergence(d, ["model", "kvm"]);
 * ```
 */
export function formatDivergence(d: Divergence, names: readonly [string, string]): string[] {
  const at = `${d.loc.source}:${d.loc.start.line}:${d.loc.start.column}`;
  return [
    `${at}: ${d.key}: ${names[0]} ${clip(d.a)} | ${names[1]} ${clip(d.b)}`,
    `    after: ${d.statement}`,
  ];
}

/**
 * A storm's took list would bury a report: long values are cut, saying how much.
 *
 * @example
 * ```ts
 * clip("[0x41, 0x41, ...]", 10); // "[0x41, 0x4... (7 more characters)"
 * ```
 */
export function clip(text: string, max = 160): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

function startOf(source: string): Loc {
  const at = { offset: 0, line: 1, column: 1 };
  return { source, start: at, end: at };
}

function valueOf(state: Snapshot, key: string): string {
  const v = state.get(key);
  if (v !== undefined) return v;
  return key.startsWith("expect ") || key.startsWith("always ") ? "held" : "(none)";
}

function sameLoc(x: Loc, y: Loc): boolean {
  return x.source === y.source && x.start.offset === y.start.offset;
}

function where(program: Program, loc: Loc): string {
  return `line ${loc.start.line} (${lineOf(program, loc)})`;
}

function lineOf(program: Program, loc: Loc): string {
  const text = program.sources.get(loc.source);
  return text?.split("\n")[loc.start.line - 1]?.trim() ?? "";
}

function endText(end: RunEnd): string {
  switch (end.kind) {
    case "done":
      return end.status;
    case "unsupported":
      return `unsupported (${end.reason})`;
    case "input-error":
      return `input error (${end.error.message})`;
    case "internal-error":
      return `internal error (${end.message})`;
  }
}

function stoppedAt(end: RunEnd): Loc | undefined {
  return end.kind === "input-error" ? end.error.diagnostics[0].loc : undefined;
}
