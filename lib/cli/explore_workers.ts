/**
 * `scn explore --workers N`: the rounds of the search are spread over Deno
 * workers. Every worker gets a contiguous slice of a round's work items and
 * the keys seen since the last round; the main thread merges the slices in
 * round order, cutting each run where one process would have stopped it, so
 * the verdict, the failing order and the counts are those of one worker.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import {
  explore,
  type ExploreOptions,
  type ExploreResult,
  finish,
  Search,
  SearchContext,
  type SearchEvent,
} from "../engine/explore.ts";
import type { WorkerRequest } from "./explore_worker.ts";

type Reply =
  | { type: "ready" }
  | { type: "done"; results: SearchEvent[][] }
  | { type: "error"; message: string };

class Pool {
  readonly #workers: Worker[];
  readonly #pending: ((r: Reply) => void)[] = [];

  constructor(n: number) {
    this.#workers = Array.from({ length: n }, (_, i) => {
      const w = new Worker(new URL("./explore_worker.ts", import.meta.url).href, {
        type: "module",
      });
      w.onmessage = (e: MessageEvent<Reply>) => this.#pending[i]?.(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#pending[i]?.({ type: "error", message: e.message });
      };
      return w;
    });
  }

  get size(): number {
    return this.#workers.length;
  }

  ask(i: number, m: WorkerRequest): Promise<Reply> {
    return new Promise((resolve) => {
      this.#pending[i] = resolve;
      this.#workers[i].postMessage(m);
    });
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
  }
}

function check(r: Reply): Reply {
  if (r.type === "error") throw new Error(`explore worker: ${r.message}`);
  return r;
}

/**
 * Explores `program` (checked from `file`) with `workers` workers. One
 * worker or fewer explores in this thread.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const r = await exploreWithWorkers(program, "race.scn", {}, 4);
 * r.counterexample?.token; // the same as explore(program).counterexample?.token
 * ```
 */
export async function exploreWithWorkers(
  program: Program,
  file: string,
  options: ExploreOptions,
  workers: number,
): Promise<ExploreResult> {
  if (workers <= 1) return explore(program, options);
  const pool = new Pool(workers);
  try {
    await Promise.all(
      Array.from({ length: pool.size }, (_, i) => pool.ask(i, { type: "init", file, options }))
        .map((p) => p.then(check)),
    );
    const search = new Search(new SearchContext(program, options));
    for (let d = 0; d < search.rounds.length; d++) {
      const round = search.rounds[d] ?? [];
      if (round.length === 0) continue;
      const fresh = search.takeFresh();
      const per = Math.ceil(round.length / pool.size);
      const replies = await Promise.all(
        Array.from(
          { length: pool.size },
          (_, i) =>
            pool.ask(i, { type: "work", items: round.slice(i * per, (i + 1) * per), fresh }).then(
              check,
            ),
        ),
      );
      for (const r of replies) {
        if (r.type !== "done") continue;
        for (const events of r.results) {
          const failed = search.merge(events);
          if (failed) return finish(search, failed);
        }
      }
      search.rounds[d] = [];
    }
    return finish(search, null);
  } finally {
    pool.close();
  }
}
