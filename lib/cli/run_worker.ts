/**
 * A worker of `scn run --jobs N`: it takes the run's targets one at a time,
 * the next one no thread has taken, runs or checks each through the same
 * {@link processTarget} as the main thread, and replies with its outcomes
 * in a form that crosses to the main thread unchanged ({@link portable}).
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

/**
 * A run's targets, sent once to each worker. Every thread takes the next
 * target by counting `next` up (Atomics), so none waits for another to be
 * handed work: a main thread busy with a scenario does not see a worker's
 * messages until it is done with it, and a worker fed by message sat idle
 * for most of the run.
 */
export interface RunRequest {
  /** The targets: `.scn` files, host files, `bug.md:12`; a target's index places its outcomes in the report. */
  targets: readonly string[];
  /** Run or check, the step budget, lean or not. */
  how: RunMode;
  /** `--max-input-bytes`, if given. */
  inputBytes?: number;
  /** One Int32, shared by all the threads: the index of the next target nobody has taken. */
  next: SharedArrayBuffer;
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
  const next = new Int32Array(r.next);
  const limits = r.inputBytes === undefined ? undefined : readLimits(r.inputBytes);
  for (;;) {
    const index = Atomics.add(next, 0, 1);
    if (index >= r.targets.length) return;
    let reply: RunReply;
    try {
      const outcomes = processTarget(r.targets[index], r.how, undefined, limits, reads);
      reply = { index, outcomes: portable(outcomes) as Outcome[] };
    } catch (err) {
      reply = { index, error: err instanceof Error ? err.message : String(err) };
    }
    self.postMessage(reply);
  }
};
