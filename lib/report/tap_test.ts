import assert from "node:assert/strict";
import { processFile } from "../cli/process.ts";
import { tapReport } from "./tap.ts";
import type { Outcome } from "./outcome.ts";
import { optionalNpm, SKIPPED_NO_REGISTRY } from "../../tests/optional_npm.ts";

/** The part of tap-parser's `Parser` used here: it reads TAP text and reports each line. */
interface TapParser {
  on(event: "assert", handler: (result: never) => void): void;
  end(text: string): void;
}
const Parser = (await optionalNpm<
  { Parser: new (onComplete: (final: never) => void) => TapParser }
>("npm:tap-parser@18.3.4", "tap"))?.Parser;

/** A test that needs the TAP parser: ignored, saying why, where it cannot be fetched. */
function tapTest(name: string, fn: () => void): void {
  Deno.test({ name: Parser ? name : name + SKIPPED_NO_REGISTRY, ignore: !Parser, fn });
}

const FILES = ["pass", "fail", "xfail", "xpass"].map((n) => `tests/fixtures/cli/${n}.scn`);

/** What a TAP consumer makes of the text. */
function consume(tap: string) {
  const results: {
    ok: boolean;
    id: number;
    name: string;
    todo: unknown;
    skip: unknown;
    diag: unknown;
  }[] = [];
  let final:
    | { ok: boolean; count: number; pass: number; fail: number; todo: number; skip: number }
    | undefined;
  const p = new Parser!((r: typeof final) => (final = r));
  p.on("assert", (r: (typeof results)[number]) => results.push(r));
  p.end(tap);
  return { results, final: final! };
}

tapTest("tapReport() is TAP 14 that a TAP parser counts as scn does", () => {
  const outcomes: Outcome[] = FILES.map((f) => processFile(f, "run"));
  const tap = tapReport(outcomes);
  assert.ok(tap.startsWith("TAP version 14\n1..4\n"));
  const { results, final } = consume(tap);
  assert.deepEqual(results.map((r) => [r.id, r.ok]), [[1, true], [2, false], [3, false], [
    4,
    false,
  ]]);
  // XFAIL is a TODO, which TAP does not count against the run; XPASS fails it, as in scn.
  assert.ok(results[2].todo);
  assert.ok(!results[3].todo);
  assert.equal(final.ok, false);
  assert.equal(final.fail - final.todo, 2);
  assert.equal(final.pass, 1);
});

tapTest("tapReport() puts the failed expectation in the diagnostic block", () => {
  const { results } = consume(tapReport([processFile(FILES[1], "run")]));
  const diag = results[0].diag as { failures: Record<string, string>[]; severity: string };
  assert.equal(diag.severity, "fail");
  assert.deepEqual(diag.failures[0], {
    at: `${FILES[1]}:8:1`,
    kind: "expect",
    text: "vcpu0 took 0x42",
    expected: diag.failures[0].expected,
    actual: diag.failures[0].actual,
  });
  assert.match(diag.failures[0].actual, /0x41/);
});

tapTest(
  "tapReport() reports input errors as failures and keeps '#' in names out of directives",
  () => {
    const tap = tapReport([
      {
        kind: "internal-error",
        file: "a # TODO b.scn",
        message: "boom\nagain",
      },
    ]);
    const { results, final } = consume(tap);
    assert.equal(results[0].ok, false);
    assert.ok(!results[0].todo);
    assert.equal(final.fail, 1);
    assert.match((results[0].diag as { message: string }).message, /boom\nagain/);
  },
);

tapTest("tapReport() of nothing is an empty plan", () => {
  const { final } = consume(tapReport([]));
  assert.equal(final.count, 0);
  assert.equal(final.ok, true);
});
