import assert from "node:assert/strict";
import { scnAsync } from "./captured.ts";
import { portable } from "./run_worker.ts";
import { SourceLines, TextLoc } from "../core/loc.ts";

// Passing, failing, XFAIL, input and internal errors, include errors and a missing file:
// every kind of outcome crosses from a worker.
const TARGETS = ["tests/fixtures/cli", "tests/fixtures/include", "missing.scn", "scenarios/seeds"];

Deno.test("scn run --jobs N prints, byte for byte, what one thread prints, in every report format", async (t) => {
  for (const format of [[], ["--json"], ["--tap"], ["--junit", "-"], ["--trace"], ["--timeline"]]) {
    await t.step(format.join(" ") || "text", async () => {
      const one = await scnAsync(["run", ...format, ...TARGETS]);
      const three = await scnAsync(["run", "--jobs", "3", ...format, ...TARGETS]);
      assert.equal(three.code, one.code);
      assert.equal(three.out.join("\n"), one.out.join("\n"));
      assert.ok(one.out.join("\n").length > 1000);
    });
  }
  await t.step("scn check", async () => {
    const one = await scnAsync(["check", ...TARGETS]);
    const two = await scnAsync(["check", "--jobs=2", ...TARGETS]);
    assert.equal(two.code, one.code);
    assert.deepEqual(two.out, one.out);
  });
});

Deno.test("--jobs takes a positive whole number, and is not an option of explore", async () => {
  for (const n of ["0", "-1", "two"]) {
    const c = await scnAsync(["run", "--jobs", n, "tests/fixtures/cli/pass.scn"]);
    assert.equal(c.code, 2, n);
    assert.deepEqual(c.out, [`scn: --jobs needs a positive whole number, not '${n}'`]);
  }
  const c = await scnAsync(["explore", "--jobs", "2", "scenarios/races"]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out, [
    "scn explore: --jobs is an option of 'scn run' and 'scn check' (explore has --workers)",
  ]);
});

Deno.test("portable() turns a location tied to its text into the plain one it stands for", () => {
  const loc = new TextLoc(new SourceLines("vcpu0: sti\nvcpu0: cli\n", "a.scn"), 18, 21);
  const copy = structuredClone(portable({ failures: [{ loc }], sources: new Map([["a", "b"]]) }));
  assert.deepEqual(copy, {
    failures: [{
      loc: {
        source: "a.scn",
        start: { offset: 18, line: 2, column: 8 },
        end: { offset: 21, line: 2, column: 11 },
      },
    }],
    sources: new Map([["a", "b"]]),
  });
});
