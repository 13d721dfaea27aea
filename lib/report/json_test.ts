import assert from "node:assert/strict";
import { jsonReport } from "./json.ts";
import type { Outcome } from "./outcome.ts";
import { runText } from "../api/scenario.ts";

function result(file: string): Outcome {
  return { kind: "result", file, result: runText(Deno.readTextFileSync(file), file) };
}

const FAIL = "tests/fixtures/cli/fail.scn";

Deno.test("jsonReport() of nothing has version, no scenarios and a zero summary", () => {
  assert.deepEqual(JSON.parse(jsonReport([])), {
    version: 1,
    scenarios: [],
    summary: { passed: 0, failed: 0, xfail: 0, xpass: 0, errors: 0, skipped: 0 },
  });
});

Deno.test("jsonReport() gives each result its file, title, tags, status and located failures", () => {
  const doc = JSON.parse(jsonReport([result("tests/fixtures/cli/pass.scn"), result(FAIL)]));
  assert.deepEqual(Object.keys(doc), ["version", "scenarios", "summary"]);
  const [pass, fail] = doc.scenarios;
  assert.deepEqual(Object.keys(pass), [
    "file",
    "title",
    "tags",
    "status",
    "expectFailure",
    "failures",
    "took",
    "steps",
    "time",
  ]);
  assert.deepEqual([pass.file, pass.title, pass.tags, pass.status, pass.failures], [
    "tests/fixtures/cli/pass.scn",
    "an IPI to self is taken once",
    ["fixture", "ipi"],
    "pass",
    [],
  ]);
  assert.deepEqual(pass.took.map((t: { cpu: string; vector: number }) => [t.cpu, t.vector]), [[
    "vcpu0",
    0x41,
  ]]);
  assert.equal(fail.status, "fail");
  assert.equal(fail.failures.length, 1);
  const f = fail.failures[0];
  assert.deepEqual(
    [f.kind, f.file, f.line, f.column, f.text, f.expected, f.actual, f.time],
    ["expect", FAIL, 8, 1, "vcpu0 took 0x42", "0x42", "0x41", 0],
  );
  assert.ok(f.events.length > 0);
  assert.deepEqual(Object.keys(f.events[0]), ["id", "time", "source", "kind", "text", "cause"]);
  assert.deepEqual(doc.summary, {
    passed: 1,
    failed: 1,
    xfail: 0,
    xpass: 0,
    errors: 0,
    skipped: 0,
  });
});

Deno.test("jsonReport() reports input errors with their formatted text and internal errors", () => {
  const at = (line: number, column: number, offset: number) => ({ offset, line, column });
  const outcomes: Outcome[] = [
    {
      kind: "input-error",
      file: "bad.scn",
      diagnostics: [{
        kind: "check",
        message: "unknown command 'eio' for vcpu0",
        loc: { source: "bad.scn", start: at(2, 8, 20), end: at(2, 11, 23) },
        hint: "did you mean 'eoi'?",
      }, {
        kind: "syntax",
        message: "second",
        loc: { source: "bad.scn", start: at(1, 1, 0), end: at(1, 1, 0) },
      }],
      sources: new Map([["bad.scn", 'scenario "x"\nvcpu0: eio\n']]),
    },
    { kind: "internal-error", file: "boom.scn", message: "TypeError: x" },
  ];
  const doc = JSON.parse(jsonReport(outcomes));
  assert.deepEqual(doc.scenarios, [
    {
      file: "bad.scn",
      status: "error",
      errors: [
        {
          kind: "check",
          file: "bad.scn",
          line: 2,
          column: 8,
          message: "unknown command 'eio' for vcpu0",
          hint: "did you mean 'eoi'?",
          text: "bad.scn:2:8: error: unknown command 'eio' for vcpu0\n" +
            "  2 | vcpu0: eio\n" +
            "    |        ^^^\n" +
            "  = did you mean 'eoi'?",
        },
        {
          kind: "syntax",
          file: "bad.scn",
          line: 1,
          column: 1,
          message: "second",
          hint: null,
          text: 'bad.scn:1:1: error: second\n  1 | scenario "x"\n    | ^',
        },
      ],
    },
    { file: "boom.scn", status: "internal-error", message: "TypeError: x" },
  ]);
  assert.deepEqual(doc.summary, {
    passed: 0,
    failed: 2,
    xfail: 0,
    xpass: 0,
    errors: 2,
    skipped: 0,
  });
});

Deno.test("jsonReport() is indented with two spaces and round-trips", () => {
  const text = jsonReport([]);
  assert.equal(text.split("\n")[1], '  "version": 1,');
  assert.equal(JSON.stringify(JSON.parse(text), null, 2), text);
});
