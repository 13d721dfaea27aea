/**
 * `scn run --jobs N` and `scn check --jobs N`: the targets are handed to N
 * Deno workers, the next one to whichever worker is free, and their
 * outcomes are put back in the order the targets were named, so the report
 * is the one a single thread prints. Each scenario still runs alone in one
 * thread, from the same code: only which thread runs it changes.
 *
 * More jobs cost more CPU in all (every worker loads and warms up the
 * model on its own) for less wall time.
 *
 * @module
 */
import type { Outcome } from "../report/outcome.ts";
import type { RunMode } from "./process.ts";
import type { RunReply, RunRequest } from "./run_worker.ts";

/**
 * Runs or checks `targets` on `jobs` workers; one outcome list per target,
 * in the targets' order. `done` hears of each target as it finishes (in
 * any order), for a progress line.
 *
 * @example
 * ```ts
 * const lists = await runInWorkers(["scenarios/x86"], { mode: "run", lean: true }, undefined, 2);
 * lists.flat().length; // the scenarios of scenarios/x86
 * ```
 */
export function runInWorkers(
  targets: readonly string[],
  how: RunMode,
  inputBytes: number | undefined,
  jobs: number,
  done?: (outcomes: readonly Outcome[]) => void,
): Promise<Outcome[][]> {
  const results: Outcome[][] = new Array(targets.length);
  const n = Math.max(1, Math.min(jobs, targets.length));
  const workers: Worker[] = [];
  let next = 0, finished = 0;
  return new Promise<Outcome[][]>((resolve, reject) => {
    if (targets.length === 0) return resolve(results);
    const stop = (e?: Error) => {
      for (const w of workers) w.terminate();
      if (e) reject(e);
      else resolve(results);
    };
    const send = (w: Worker) => {
      if (next >= targets.length) return;
      const request: RunRequest = { index: next, target: targets[next], how, inputBytes };
      next++;
      w.postMessage(request);
    };
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./run_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (e: MessageEvent<RunReply>) => {
        const r = e.data;
        if ("error" in r) return stop(new Error(`run worker: ${targets[r.index]}: ${r.error}`));
        results[r.index] = r.outcomes;
        done?.(r.outcomes);
        if (++finished === targets.length) return stop();
        send(w);
      };
      w.onerror = (e) => {
        e.preventDefault();
        stop(new Error(`run worker: ${e.message}`));
      };
      workers.push(w);
      send(w);
    }
  });
}
