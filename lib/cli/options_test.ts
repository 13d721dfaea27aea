import assert from "node:assert/strict";
import { joinNegativeValues, MAX_COUNT, wholeNumber } from "./options.ts";
import { type Io, main } from "./main.ts";

function scn(args: string[]): { code: number; err: string[] } {
  const err: string[] = [];
  const io: Io = {
    out: () => {},
    err: (l) => err.push(l),
    color: false,
    writeFile: () => {
      throw new Error("no writes expected");
    },
  };
  return { code: main(args, io), err };
}

Deno.test("wholeNumber() takes decimal digits within range and names the option otherwise", () => {
  assert.equal(wholeNumber("25", "max-steps", 1), 25);
  assert.equal(wholeNumber("0", "events", 0), 0);
  assert.equal(wholeNumber(undefined, "max-steps", 1), undefined);
  for (const bad of ["-1", "1e99", "0x10", "2.5", "", " 3", "Infinity"]) {
    assert.equal(
      wholeNumber(bad, "max-steps", 1),
      `--max-steps needs a positive whole number, not '${bad}'`,
    );
  }
  assert.match(String(wholeNumber(String(MAX_COUNT + 1), "max-runs", 1)), /at most/);
});

Deno.test("joinNegativeValues() gives a negative value to its option instead of parseArgs' 'ambiguous'", () => {
  assert.deepEqual(joinNegativeValues(["--max-steps", "-1", "x"], ["max-steps"]), [
    "--max-steps=-1",
    "x",
  ]);
  assert.deepEqual(joinNegativeValues(["--trace", "-h"], ["max-steps"]), ["--trace", "-h"]);
});

Deno.test("every command refuses -1 and 1e99 for a numeric option, naming it, exit 2", () => {
  const cases = [
    ["run", "--max-steps"],
    ["check", "--max-steps"],
    ["explore", "--max-states"],
    ["explore", "--max-depth"],
    ["minimize", "--max-runs"],
    ["report", "--events"],
  ];
  for (const [command, option] of cases) {
    for (const value of ["-1", "1e99"]) {
      const c = scn([command, option, value, "tests/fixtures/cli/pass.scn"]);
      assert.equal(c.code, 2, `${command} ${option} ${value}`);
      assert.match(c.err.join("\n"), new RegExp(`${option} needs a .*whole number.*'${value}'`));
    }
  }
});
