import assert from "node:assert/strict";
import { collectFiles, fileLoader } from "../load/files.ts";
import { checkText } from "../api/scenario.ts";
import { runProgram } from "./run.ts";
import { runExplained } from "./explained.ts";
import { ScnError } from "../core/diagnostic.ts";

const FILES = [
  ...collectFiles(["scenarios", "tests/fixtures/replay"]).files,
  ...["pass", "fail", "xfail", "xpass"].map((n) => `tests/fixtures/cli/${n}.scn`),
];

Deno.test("lean runs explained by replay give what a traced run gives, over the library", () => {
  let failing = 0;
  for (const file of FILES) {
    const program = checkText(Deno.readTextFileSync(file), file, { load: fileLoader });
    let full;
    try {
      full = runProgram(program);
    } catch (e) {
      // A runaway scenario is an input error either way, and the same one.
      assert.ok(e instanceof ScnError, file);
      assert.throws(() => runExplained(program, () => ({})), (x) => String(x) === String(e));
      continue;
    }
    const leanOnly = runProgram(program, { trace: false, history: "counts" });
    // The lean run decides alike: status, which expectations failed, steps, time.
    assert.equal(leanOnly.status, full.status, file);
    assert.deepEqual(leanOnly.failures.map((f) => f.loc), full.failures.map((f) => f.loc), file);
    assert.equal(leanOnly.steps, full.steps, file);
    assert.equal(leanOnly.time, full.time, file);
    assert.equal(leanOnly.trace.length, 0, file);
    assert.equal(leanOnly.took.length, 0, file);
    const lean = runExplained(program, () => ({}));
    if (full.failures.length) failing++;
    assert.deepEqual(
      full.failures.length ? lean : { ...lean, trace: full.trace, took: full.took },
      full,
      file,
    );
  }
  assert.ok(failing >= 6, `the fixtures fail (${failing} failing scenarios)`);
});
