import assert from "node:assert/strict";
import { explore } from "../engine/explore.ts";
import { checkText } from "../api/scenario.ts";
import { type Io, main } from "./main.ts";
import { mergeExploreReports } from "../report/explore_merge.ts";

function scn(args: string[]): { code: number; out: string; err: string } {
  const out: string[] = [], err: string[] = [];
  const io: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    color: false,
    writeFile: () => {},
  };
  const code = main(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const RACES = "scenarios/races";

function shardsJson(n: number, paths: string[]): string[] {
  return Array.from({ length: n }, (_, i) => {
    const r = scn(["explore", "--json", "--shard", `${i + 1}/${n}`, ...paths]);
    assert.ok(r.code === 0 || r.code === 1, r.err);
    return r.out;
  });
}

Deno.test("explore --shard: merged shards give the unsharded verdicts and fewest deviations", () => {
  const whole = JSON.parse(scn(["explore", "--json", RACES]).out);
  for (const n of [1, 2, 3, 5]) {
    const merged = mergeExploreReports(shardsJson(n, [RACES]));
    assert.ok("json" in merged, JSON.stringify(merged));
    const m = JSON.parse(merged.json);
    assert.deepEqual(m.summary, whole.summary, `${n} shards`);
    assert.equal(merged.code, 0);
    for (const [i, e] of m.explored.entries()) {
      const w = whole.explored[i];
      assert.equal(e.status, w.status, `${n} shards: ${e.file}`);
      assert.equal(
        e.counterexample?.deviations ?? null,
        w.counterexample?.deviations ?? null,
        `${n} shards: ${e.file}`,
      );
    }
  }
});

Deno.test("explore --shard: merging is a pure function of the shards' JSON (any order, same bytes)", () => {
  const docs = shardsJson(3, [RACES]);
  const first = mergeExploreReports(docs);
  for (const order of [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
    assert.deepEqual(mergeExploreReports(order.map((i) => docs[i])), first);
  }
});

Deno.test("explore --shard: the shards split the orders, each searched by one shard", () => {
  // Without reduction and deduplication every order is run to its end once;
  // every shard also runs the written order, which finds the first deviations.
  const file = "tests/fixtures/explore/eoi_before_deassert.scn";
  const text = Deno.readTextFileSync(file).replace(/^expect .*$/gm, "");
  const program = checkText(text, file);
  const all = explore(program, { reduce: false, dedup: false });
  assert.equal(all.status, "pass");
  for (const count of [2, 3, 4]) {
    let complete = 0;
    for (let index = 0; index < count; index++) {
      complete += explore(program, { reduce: false, dedup: false, shard: { index, count } }).stats
        .complete;
    }
    assert.equal(complete - (count - 1), all.stats.complete, `${count} shards`);
  }
  assert.equal(BigInt(all.stats.complete), all.orders);
});

Deno.test("explore merge: refuses incomplete, repeated or foreign inputs", () => {
  const docs = shardsJson(2, [`${RACES}/its_movi_vs_msi.scn`]);
  const err = (texts: string[]) => {
    const r = mergeExploreReports(texts);
    return "error" in r ? r.error : "";
  };
  assert.match(err([docs[0]]), /missing shard 2 of 2/);
  assert.match(err([docs[0], docs[0]]), /given twice/);
  assert.match(err([docs[0], "{"]), /not JSON/);
  assert.match(err([scn(["explore", "--json", RACES]).out]), /--shard I\/N --json/);
  const other = shardsJson(3, [`${RACES}/its_movi_vs_msi.scn`]);
  assert.match(err([docs[0], other[1]]), /different runs/);
});

Deno.test("explore --shard: bad values are input errors", () => {
  for (const v of ["0/2", "3/2", "1", "a/b", "1/0"]) {
    const r = scn(["explore", "--shard", v, RACES]);
    assert.equal(r.code, 2, v);
    assert.match(r.err, /--shard needs I\/N/);
  }
  assert.equal(scn(["run", "--shard", "1/2", RACES]).code, 2);
});

Deno.test("scn explore merge FILES: prints the merged report with the whole run's exit code", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const docs = shardsJson(2, [RACES]);
    const paths = docs.map((d, i) => {
      const p = `${dir}/shard${i + 1}.json`;
      Deno.writeTextFileSync(p, d);
      return p;
    });
    const r = scn(["explore", "merge", ...paths]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, (mergeExploreReports(docs) as { json: string }).json);
    const missing = scn(["explore", "merge", paths[0], `${dir}/none.json`]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
