import assert from "node:assert/strict";
import { type Io, main } from "../lib/cli/main.ts";
import { collectFiles } from "../lib/load/files.ts";

function scn(args: string[]): { code: number; out: string[] } {
  const out: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => out.push(`stderr: ${line}`),
    color: false,
    writeFile: () => {
      throw new Error("no files in this test");
    },
  };
  return { code: main(args, io), out };
}

/** mulberry32: a small seeded PRNG, so a failing order can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  const rand = prng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

// The library, plus fixtures of every status so that the order has something to disturb.
const FIXTURES = ["pass", "fail", "xfail", "xpass"].map((n) => `tests/fixtures/cli/${n}.scn`);
const library =
  () => [...collectFiles(["scenarios"]).files, ...FIXTURES, "tests/fixtures/include/main.scn"];

Deno.test("prng() is deterministic per seed and shuffled() permutes", () => {
  const a = prng(7), b = prng(7);
  const xs = [a(), a(), a()];
  assert.deepEqual([b(), b(), b()], xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const s = shuffled([1, 2, 3, 4, 5, 6, 7, 8], 1);
  assert.deepEqual([...s].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(shuffled([1, 2, 3, 4, 5, 6, 7, 8], 1), s);
});

Deno.test("the same scenario run twice gives identical --trace output", async (t) => {
  for (const file of library()) {
    await t.step(file, () => {
      const first = scn(["run", "--trace", file]);
      const second = scn(["run", "--trace", file]);
      assert.ok(first.out.length > 2, first.out.join("\n"));
      assert.deepEqual(second, first);
    });
  }
});

Deno.test("running the library in shuffled order gives the same per-file results as sorted", async (t) => {
  const files = library();
  assert.ok(files.length >= 5);
  const resultsOf = (order: string[]) => {
    const { code, out } = scn(["run", "--json", ...order]);
    assert.equal(out.length, 1);
    const doc = JSON.parse(out[0]);
    const byFile = new Map<string, unknown>();
    for (const s of doc.scenarios) byFile.set(s.file, s);
    assert.equal(byFile.size, order.length);
    return { code, summary: doc.summary, byFile };
  };
  const sorted = resultsOf([...files].sort());
  for (const seed of [1, 2, 3, 0xdecafbad]) {
    await t.step(`seed ${seed}`, () => {
      const order = shuffled(files, seed);
      const got = resultsOf(order);
      assert.equal(got.code, sorted.code);
      assert.deepEqual(got.summary, sorted.summary);
      for (const file of files) {
        assert.deepEqual(
          got.byFile.get(file),
          sorted.byFile.get(file),
          `${file} (order: ${order.join(" ")})`,
        );
      }
    });
  }
});
