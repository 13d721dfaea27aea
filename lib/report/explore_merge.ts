/**
 * `scn explore merge`: the shards' JSON reports (`scn explore --shard I/N
 * --json`) joined into the report one unsharded run gives, as a pure
 * function of their text: the same documents in any order give the same
 * bytes.
 *
 * Per scenario: an error in any shard is the scenario's (the lowest
 * shard's, when several); otherwise the failing order is the one of fewest
 * deviations over all shards, ties broken by the replay token (so the
 * choice does not depend on which shard found it); a scenario passes when
 * no shard found a failing order. `stats` are summed: a state two shards
 * both reached counts twice, as both searched it.
 *
 * @module
 */

/** One scenario in an explore JSON report, as `exploreJsonReport` writes it. */
interface Entry {
  file: string;
  status: string;
  expectFailure?: string | null;
  orders?: string | null;
  blocks?: number;
  stats?: Record<string, number>;
  counterexample?: { schedule: string; deviations: number } | null;
  [key: string]: unknown;
}

/** An explore JSON report of one shard. */
interface ShardReport {
  version: number;
  shard?: { index: number; count: number };
  explored: Entry[];
}

/** What {@link mergeExploreReports} gives: the merged report and its exit code, or why not. */
export type MergeResult = { json: string; code: number } | { error: string };

/**
 * Merges the JSON reports of all N shards of one `scn explore --shard I/N`
 * run.
 *
 * @example
 * ```ts
 * declare const shard1Json: string, shard2Json: string;
 * const r = mergeExploreReports([shard1Json, shard2Json]);
 * if ("json" in r) console.log(r.json);
 * ```
 */
export function mergeExploreReports(texts: readonly string[]): MergeResult {
  const shards: ShardReport[] = [];
  for (const [i, t] of texts.entries()) {
    let doc: ShardReport;
    try {
      doc = JSON.parse(t);
    } catch (e) {
      return { error: `input ${i + 1} is not JSON: ${e instanceof Error ? e.message : e}` };
    }
    if (doc?.version !== 1 || !Array.isArray(doc.explored) || !doc.shard) {
      return {
        error: `input ${i + 1} is not the JSON of 'scn explore --shard I/N --json'`,
      };
    }
    shards.push(doc);
  }
  if (shards.length === 0) return { error: "name the shards' JSON files" };
  const count = shards[0].shard!.count;
  const have = new Set<number>();
  for (const s of shards) {
    if (s.shard!.count !== count) {
      return { error: `shards of different runs: /${count} and /${s.shard!.count}` };
    }
    if (have.has(s.shard!.index)) return { error: `shard ${s.shard!.index}/${count} given twice` };
    have.add(s.shard!.index);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !have.has(i));
  if (missing.length) {
    return {
      error: `missing shard${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of ${count}`,
    };
  }
  shards.sort((a, b) => a.shard!.index - b.shard!.index);
  const files = shards[0].explored.map((e) => e.file);
  for (const s of shards) {
    if (s.explored.length !== files.length || s.explored.some((e, i) => e.file !== files[i])) {
      return { error: `shard ${s.shard!.index}/${count} explored other files than shard 1` };
    }
  }
  const explored = files.map((_, i) => mergeEntry(shards.map((s) => s.explored[i])));
  const summary = { passed: 0, failed: 0, xfail: 0, xpass: 0, errors: 0 };
  let code = 0;
  for (const e of explored) {
    const st = e.status;
    if (st === "error" || st === "internal-error") {
      summary.errors++;
      summary.failed++;
      code = Math.max(code, st === "error" ? 2 : 3);
      continue;
    }
    if (st === "pass" || st === "xfail") summary.passed++;
    else (summary.failed++, code = Math.max(code, 1));
    if (st === "xfail") summary.xfail++;
    if (st === "xpass") summary.xpass++;
  }
  return { json: JSON.stringify({ version: 1, explored, summary }, null, 2), code };
}

/** One scenario's entries, shard 1 first. */
function mergeEntry(entries: Entry[]): Entry {
  const error = entries.find((e) => e.status === "error" || e.status === "internal-error");
  if (error) return error;
  const found = entries.filter((e) => e.counterexample)
    .sort((a, b) =>
      a.counterexample!.deviations - b.counterexample!.deviations ||
      (a.counterexample!.schedule < b.counterexample!.schedule
        ? -1
        : a.counterexample!.schedule > b.counterexample!.schedule
        ? 1
        : 0)
    );
  const base = found[0] ?? entries[0];
  const stats: Record<string, number> = {};
  for (const e of entries) {
    for (const [k, v] of Object.entries(e.stats ?? {})) stats[k] = (stats[k] ?? 0) + v;
  }
  const expected = base.expectFailure != null;
  const status = expected ? (found.length ? "xfail" : "xpass") : found.length ? "fail" : "pass";
  return { ...base, status, stats };
}
