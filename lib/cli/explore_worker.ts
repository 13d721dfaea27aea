/**
 * A worker of `scn explore --workers N`: it checks the scenario itself (a
 * checked program holds functions and cannot be posted), keeps a copy of
 * the seen set, and runs the work items of a round it is given, replying
 * with each item's events in order. The main thread merges them
 * ({@link Search.merge}), so the answer does not depend on the workers.
 *
 * Needs read permission only, to read the scenario and its includes.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { loadOne } from "../load/load.ts";
import {
  type ExploreOptions,
  runItems,
  SearchContext,
  type SearchEvent,
  SeenSet,
  type WorkItem,
} from "../engine/explore.ts";
import { plainLoc } from "../core/loc.ts";

/** Messages a worker takes. */
export type WorkerRequest =
  | { type: "init"; file: string; options: ExploreOptions }
  | { type: "work"; items: WorkItem[]; fresh: [string, number[]][] };

// The parser's locations find their lines in their text, which a message
// does not carry: an error's locations cross as plain objects.
function postable(e: SearchEvent): SearchEvent {
  if (e.e !== "error") return e;
  return {
    ...e,
    diagnostics: e.diagnostics.map((d) => ({
      ...d,
      loc: plainLoc(d.loc),
      ...(d.related ? { related: d.related.map((r) => ({ ...r, loc: plainLoc(r.loc) })) } : {}),
    })),
  };
}

let ctx: SearchContext | null = null;
const seen = new SeenSet();

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      // The same way in as the main thread: `bug.md:12` is a scenario in a host file.
      const loaded = loadOne(m.file);
      if (loaded.kind === "error") throw new Error(`cannot load '${m.file}' in a worker`);
      const program = loaded.program;
      ctx = new SearchContext(program, m.options);
      self.postMessage({ type: "ready" });
      return;
    }
    for (const [k, z] of m.fresh) seen.add(k, z);
    const c = ctx!;
    const results = runItems(m.items, c, (k, z) => seen.covers(k, z));
    self.postMessage({ type: "done", results: results.map((events) => events.map(postable)) });
  } catch (err) {
    self.postMessage({ type: "error", message: err instanceof Error ? err.message : String(err) });
  }
};
