/**
 * A worker of `scn run --jobs N`: it runs or checks the targets it is sent,
 * one at a time, through the same {@link processTarget} as the main thread,
 * and replies with their outcomes in a form that crosses to the main
 * thread unchanged ({@link portable}).
 *
 * Needs read permission only, to read the scenarios and their includes.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { processTarget, type RunMode } from "./process.ts";
import { readLimits } from "../load/read.ts";
import { FileReads } from "../load/files.ts";
import type { Outcome } from "../report/outcome.ts";

/** A target to run: its place in the command line's list, and how. */
export interface RunRequest {
  /** Where its outcomes go in the report. */
  index: number;
  /** The target: a `.scn` file, a host file, `bug.md:12`. */
  target: string;
  /** Run or check, the step budget, lean or not. */
  how: RunMode;
  /** `--max-input-bytes`, if given. */
  inputBytes?: number;
}

/** A worker's answer: the outcomes of one target, or why it could not give them. */
export type RunReply =
  | { index: number; outcomes: Outcome[] }
  | { index: number; error: string };

/**
 * A copy of `x` that a message carries without loss: a location tied to its
 * text (the parser's, which computes line and column from the text it
 * keeps) becomes the plain location it stands for, as its `toJSON` gives
 * it; plain data, arrays and maps are copied as they are.
 *
 * @example
 * ```ts
 * import { SourceLines, TextLoc } from "../core/loc.ts";
 * const loc = new TextLoc(new SourceLines("vcpu0: sti\n", "a.scn"), 7, 10);
 * (portable({ loc }) as { loc: { end: { column: number } } }).loc.end.column; // 11
 * ```
 */
export function portable(x: unknown): unknown {
  if (x === null || typeof x !== "object") return x;
  if (Array.isArray(x)) return x.map(portable);
  if (x instanceof Map) return new Map([...x].map(([k, v]) => [k, portable(v)]));
  const proto = Object.getPrototypeOf(x);
  const o = x as Record<string, unknown> & { toJSON?: () => unknown };
  if (proto !== Object.prototype && proto !== null && typeof o.toJSON === "function") {
    return portable(o.toJSON());
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = portable(o[k]);
  return out;
}

// A worker serves one run: what it read is shared by its targets, as on the main thread.
const reads = new FileReads();

self.onmessage = (e: MessageEvent<RunRequest>) => {
  const r = e.data;
  let reply: RunReply;
  try {
    const limits = r.inputBytes === undefined ? undefined : readLimits(r.inputBytes);
    const outcomes = processTarget(r.target, r.how, undefined, limits, reads);
    reply = { index: r.index, outcomes: portable(outcomes) as Outcome[] };
  } catch (err) {
    reply = { index: r.index, error: err instanceof Error ? err.message : String(err) };
  }
  self.postMessage(reply);
};
