/**
 * `scn run --jobs N` and `scn check --jobs N`: the targets are shared by
 * this thread and N - 1 Deno workers, the next one to whoever is free, and
 * their outcomes are put back in the order the targets were named, so the
 * report is the one a single thread prints. Each scenario still runs alone
 * in one thread, from the same code: only which thread runs it changes.
 *
 * More jobs cost more CPU in all (every worker loads and warms up the model
 * on its own) for less wall time. This thread is one of the jobs, so that
 * `--jobs 2` pays for one more copy of the model, not two.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Outcome } from "../report/outcome.ts";
import type { RunMode } from "./process.ts";
import type { RunReply, RunRequest } from "./run_worker.ts";

/**
 * Runs or checks `targets` on `jobs` threads: this one, through `here`
 * (what the command runs without workers), and `jobs - 1` workers. One
 * outcome list per target, in the targets' order. `done` hears of each
 * target as it finishes (in any order), for a progress line.
 *
 * @example
 * ```ts
 * import { processTarget } from "./process.ts";
 * const how = { mode: "run", lean: true } as const;
 * const lists = await runInWorkers(["scenarios/x86"], how, undefined, 2, (t) => processTarget(t, how));
 * lists.flat().length; // the scenarios of scenarios/x86
 * ```
 */
export async function runInWorkers(
  targets: readonly string[],
  how: RunMode,
  inputBytes: number | undefined,
  jobs: number,
  here: (target: string) => Outcome[],
  done?: (outcomes: readonly Outcome[]) => void,
): Promise<Outcome[][]> {
  const results: Outcome[][] = new Array(targets.length);
  const workers: Worker[] = [];
  let finished = 0, failure: Error | null = null;
  // Settled when every target has its outcomes or a worker failed.
  let settle = () => {};
  const over = new Promise<void>((resolve) => settle = resolve);
  const finish = (index: number, outcomes: Outcome[]) => {
    results[index] = outcomes;
    done?.(outcomes);
    if (++finished === targets.length) settle();
  };
  const fail = (e: Error) => {
    failure ??= e;
    settle();
  };
  // Every thread takes the next target nobody has taken (see RunRequest).
  const next = new Int32Array(new SharedArrayBuffer(4));
  const request: RunRequest = { targets, how, inputBytes, next: next.buffer as SharedArrayBuffer };
  try {
    for (let i = 1; i < Math.min(jobs, targets.length); i++) {
      const w = new Worker(new URL("./run_worker.ts", import.meta.url).href, { type: "module" });
      w.onmessage = (e: MessageEvent<RunReply>) => {
        const r = e.data;
        if ("error" in r) return fail(new Error(`run worker: ${targets[r.index]}: ${r.error}`));
        finish(r.index, r.outcomes);
      };
      w.onerror = (e) => {
        e.preventDefault();
        fail(new Error(`run worker: ${e.message}`));
      };
      workers.push(w);
      w.postMessage(request);
    }
    // Between two targets this thread lets the workers' replies in, for the
    // progress line and to stop early when one failed. (A task boundary that
    // is not a timer: nested zero timeouts are clamped to 4 ms each.)
    while (failure === null) {
      const index = Atomics.add(next, 0, 1);
      if (index >= targets.length) break;
      finish(index, here(targets[index]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (finished < targets.length) await over;
    if (failure !== null) throw failure;
    return results;
  } finally {
    for (const w of workers) w.terminate();
  }
}
