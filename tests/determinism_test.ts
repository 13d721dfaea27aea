import assert from "node:assert/strict";
import { type Io, main } from "../lib/cli/main.ts";
import { collectFiles } from "../lib/load/files.ts";
import { Prng } from "../lib/core/prng.ts";

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

// The library, plus fixtures of every status so that the order has something to disturb.
const FIXTURES = ["pass", "fail", "xfail", "xpass"].map((n) => `tests/fixtures/cli/${n}.scn`);
const library =
  () => [...collectFiles(["scenarios"]).files, ...FIXTURES, "tests/fixtures/include/main.scn"];

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
      const order = new Prng(seed).shuffled(files);
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
