import assert from "node:assert/strict";
import { junitReport } from "./junit.ts";
import type { Outcome } from "./outcome.ts";
import { runText } from "../api/scenario.ts";

function result(file: string): Outcome {
  return { kind: "result", file, result: runText(Deno.readTextFileSync(file), file) };
}

const dir = "tests/fixtures/cli";

Deno.test("junitReport() of nothing is an empty test suite", () => {
  assert.equal(
    junitReport([]),
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<testsuite name="irqlab" tests="0" failures="0" errors="0" skipped="0">\n' +
      "</testsuite>\n",
  );
});

Deno.test("junitReport() maps pass, fail, xfail, xpass and errors to JUnit elements", () => {
  const at = { offset: 0, line: 1, column: 1 };
  const outcomes: Outcome[] = [
    result(`${dir}/pass.scn`),
    result(`${dir}/fail.scn`),
    result(`${dir}/xfail.scn`),
    result(`${dir}/xpass.scn`),
    {
      kind: "input-error",
      file: "bad<1>.scn",
      diagnostics: [{
        kind: "check",
        message: `'x' & "y"`,
        loc: { source: "bad<1>.scn", start: at, end: { offset: 3, line: 1, column: 4 } },
      }],
      sources: new Map([["bad<1>.scn", "a<b\n"]]),
    },
    { kind: "internal-error", file: "boom.scn", message: "RangeError: deep\u0001" },
  ];
  const lines = junitReport(outcomes).split("\n");
  assert.deepEqual(lines, [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<testsuite name="irqlab" tests="6" failures="2" errors="2" skipped="1">',
    `  <testcase classname="${dir}/pass.scn" name="an IPI to self is taken once"></testcase>`,
    `  <testcase classname="${dir}/fail.scn" name="expects the wrong vector">`,
    `    <failure message="vcpu0 took 0x42">${dir}/fail.scn:8:1: vcpu0 took 0x42`,
    "  expected: 0x42",
    "  actual: 0x41</failure>",
    "  </testcase>",
    `  <testcase classname="${dir}/xfail.scn" name="a known bug that still fails">`,
    '    <skipped message="expected failure: waiting for a fix"/>',
    "  </testcase>",
    `  <testcase classname="${dir}/xpass.scn" name="a known bug that no longer fails">`,
    '    <failure message="expected failure did not happen: waiting for a fix"/>',
    "  </testcase>",
    '  <testcase classname="bad&lt;1&gt;.scn" name="bad&lt;1&gt;.scn">',
    `    <error message="'x' &amp; &quot;y&quot;">bad&lt;1&gt;.scn:1:1: error: 'x' &amp; &quot;y&quot;`,
    "  1 | a&lt;b",
    "    | ^^^</error>",
    "  </testcase>",
    '  <testcase classname="boom.scn" name="boom.scn">',
    '    <error message="internal error">RangeError: deep\\x01</error>',
    "  </testcase>",
    "</testsuite>",
    "",
  ]);
});
