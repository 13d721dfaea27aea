/**
 * Running the scenarios of host files (`bug.md`, `reply.eml`, `list.mbox`):
 * a command-line target becomes one outcome per scenario it holds, each
 * named `file:LINE` and located in the host file. Plain `.scn` files pass
 * through untouched.
 *
 * @module
 */
import type { Loc } from "../../dsl/ast.ts";
import type { Diagnostic } from "../core/diagnostic.ts";
import type { Outcome } from "../report/outcome.ts";
import { readText } from "./files.ts";
import {
  extractScenarios,
  type HostScenario,
  isHostFile,
  RECOGNISED,
  scenarioText,
  splitTarget,
  toHostLoc,
} from "./extract.ts";

/**
 * A scenario's text for the checker, in place of reading a file: `text` is
 * parsed under the name `path` and `quote` is what diagnostics quote.
 */
export interface ScenarioSource {
  /** The name locations carry: the host file's path. */
  path: string;
  /** What the parser reads. */
  text: string;
  /** The host file's own text, for quoting lines. */
  quote: string;
}

/** Processes one scenario: `name` names it in reports, `source` is absent for a `.scn` file. */
export type ProcessOne = (name: string, source?: ScenarioSource) => Outcome;

/** The scenarios a target names, or the outcome saying why there are none. */
export type Resolved =
  | { kind: "scn"; path: string }
  | { kind: "hosted"; host: string; hostText: string; scenarios: HostScenario[] }
  | { kind: "error"; outcome: Outcome };

/**
 * Resolves a target: a `.scn` path, a host file (every scenario in it), or
 * `host:LINE` (the scenario whose block holds that line).
 *
 * @example
 * ```ts
 * const r = resolveTarget("tests/fixtures/hosts/two_fenced.md");
 * if (r.kind === "hosted") r.scenarios.map((s) => s.name);
 * ```
 */
export function resolveTarget(target: string): Resolved {
  const { path, line } = splitTarget(target);
  if (!isHostFile(path)) return { kind: "scn", path };
  const hostText = readText(path);
  if (hostText === undefined) {
    return { kind: "error", outcome: inputError(target, path, 1, `cannot read '${path}'`) };
  }
  const found = extractScenarios(path, hostText);
  if (found.scenarios.length === 0) {
    const unreadable = found.unreadable.map((u) => `the part at line ${u.line} ${u.why}`);
    const hint = `irqlab reads ${RECOGNISED}` +
      (unreadable.length
        ? `; ${
          unreadable.join(", ")
        }, which irqlab cannot read (it reads 7bit, 8bit and quoted-printable parts)`
        : "");
    return {
      kind: "error",
      outcome: inputError(target, path, 1, `no scenario found in '${path}'`, hint, hostText),
    };
  }
  if (line === undefined) {
    return { kind: "hosted", host: path, hostText, scenarios: found.scenarios };
  }
  const picked = found.scenarios.filter((s) => s.span.first <= line && line <= s.span.last);
  if (picked.length === 0) {
    const lines = found.scenarios.map((s) => s.line).join(", ");
    return {
      kind: "error",
      outcome: inputError(
        target,
        path,
        line,
        `no scenario at line ${line} of '${path}'`,
        `its scenarios start at line${found.scenarios.length > 1 ? "s" : ""} ${lines}`,
        hostText,
      ),
    };
  }
  return { kind: "hosted", host: path, hostText, scenarios: picked };
}

/**
 * Processes every scenario a target names with `run`, one outcome each,
 * named `host:LINE` and located in the host file.
 *
 * @example
 * ```ts
 * import { processFile } from "../cli/main.ts";
 * import { PLATFORMS } from "../../mod.ts";
 * processTarget("bug.md", (name, source) => processFile(name, "run", undefined, PLATFORMS, undefined, source));
 * ```
 */
export function processTarget(target: string, run: ProcessOne): Outcome[] {
  const r = resolveTarget(target);
  if (r.kind === "scn") return [run(target)];
  if (r.kind === "error") return [r.outcome];
  return r.scenarios.map((s) =>
    toHost(run(s.name, { path: s.host, text: scenarioText(s), quote: r.hostText }), s, r.hostText)
  );
}

/**
 * Puts an outcome of a hosted scenario in host terms: its result is named
 * `host:LINE`, decoded parts' locations map to the host, and a diagnostic
 * about the whole text (which starts at the host's first character) moves
 * to the scenario's first line.
 *
 * @example
 * ```ts
 * import { processFile } from "../cli/main.ts";
 * import { type HostScenario } from "./extract.ts";
 * import { PLATFORMS } from "../../mod.ts";
 * declare const hostText: string, s: HostScenario, source: ScenarioSource;
 * const o = toHost(processFile(s.name, "run", undefined, PLATFORMS, undefined, source), s, hostText);
 * ```
 */
export function toHost(o: Outcome, s: HostScenario, hostText: string): Outcome {
  const loc = (l: Loc): Loc => {
    const mapped = toHostLoc(s, l, hostText);
    if (mapped.source !== s.host || mapped.start.offset !== 0 || s.line === 1) return mapped;
    const at = { offset: 0, line: s.line, column: 1 };
    return { ...mapped, start: at, end: at };
  };
  if (o.kind === "input-error") {
    const diagnostics: Diagnostic[] = o.diagnostics.map((d) => ({
      ...d,
      loc: loc(d.loc),
      ...(d.related ? { related: d.related.map((r) => ({ ...r, loc: loc(r.loc) })) } : {}),
    }));
    return { ...o, file: s.name, diagnostics };
  }
  if (o.kind === "result") {
    const failures = o.result.failures.map((f) => ({ ...f, loc: loc(f.loc) }));
    return { ...o, file: s.name, result: { ...o.result, file: s.name, failures } };
  }
  return { ...o, file: s.name };
}

function inputError(
  file: string,
  source: string,
  line: number,
  message: string,
  hint?: string,
  text?: string,
): Outcome {
  const at = { offset: 0, line, column: 1 };
  const d: Diagnostic = { kind: "include", message, loc: { source, start: at, end: at } };
  if (hint) d.hint = hint;
  const sources = new Map<string, string>();
  if (text !== undefined) sources.set(source, text);
  return { kind: "input-error", file, diagnostics: [d], sources };
}

/** One scenario of a host file, ready to check. */
export interface Hosted {
  /** Where it is in the host file. */
  scenario: HostScenario;
  /** The host file's text. */
  hostText: string;
  /** What to check in place of reading the file. */
  source: ScenarioSource;
}

/**
 * The scenario a host target names (`bug.md:12`, or the first of `bug.md`),
 * or the outcome saying why there is none; undefined for a `.scn` path.
 * For commands that take one scenario per target, after
 * {@link expandHostTargets}.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * const h = hostedScenario("bug.md:12");
 * if (h && "source" in h) parse(h.source.text, h.source.path);
 * ```
 */
export function hostedScenario(target: string): Hosted | { outcome: Outcome } | undefined {
  const r = resolveTarget(target);
  if (r.kind === "scn") return undefined;
  if (r.kind === "error") return { outcome: r.outcome };
  const s = r.scenarios[0];
  return {
    scenario: s,
    hostText: r.hostText,
    source: { path: s.host, text: scenarioText(s), quote: r.hostText },
  };
}

/**
 * Replaces each host file among `targets` by one `host:LINE` target per
 * scenario in it; `.scn` paths, `host:LINE` targets and host files without
 * scenarios (whose error the command reports) stay as they are.
 *
 * @example
 * ```ts
 * expandHostTargets(["a.scn", "bug.md"]); // ["a.scn", "bug.md:6", "bug.md:32"]
 * ```
 */
export function expandHostTargets(targets: readonly string[]): string[] {
  return targets.flatMap((t) => {
    if (!isHostFile(t)) return [t];
    const r = resolveTarget(t);
    return r.kind === "hosted" ? r.scenarios.map((s) => s.name) : [t];
  });
}
