/**
 * A faulting instruction (CpuModel.faulted) executes again after its
 * handler: in `run vcpuN { }` and in a handler body; at top level or in
 * a block it cannot, and says so.
 */
import assert from "node:assert/strict";
import type { ScenarioResult } from "./run.ts";
import { firstError, runScenario } from "./test_scenario.ts";

const X86 = 'scenario "f"\nvm g { arch x86_64  vcpus 1 }\n';

function run(lines: string): ScenarioResult {
  return runScenario(X86 + lines, "f.scn");
}

function errorOf(lines: string): string {
  return firstError(X86 + lines, "f.scn");
}

Deno.test("a DIV that faults in a window runs again after the handler, its arguments re-read", () => {
  const r = run([
    "let $d = 0",
    "let $runs = 0",
    "on vcpu0 vector DE_VECTOR { let $runs = $runs + 1; let $d = $runs - 1 }",
    "run vcpu0 { div dividend=12 divisor=$d -> $q }",
    "expect $runs == 2",
    "expect $q == 12",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("a DIV that faults in a handler body runs again after the nested #DE handler", () => {
  const r = run([
    "vcpu0: lapic enable",
    "let $d = 0",
    "on vcpu0 vector DE_VECTOR { let $d = 4 }",
    "on vcpu0 vector 0x41 {",
    "  div dividend=12 divisor=$d -> $q",
    "  let $after = vcpu0.depth",
    "  eoi",
    "}",
    "vcpu0: sti",
    "vcpu0: ipi vector=0x41 shorthand=self",
    "run",
    "expect $q == 3",
    "expect $after == 1",
    "expect vcpu0 took [0x41, DE_VECTOR] in order",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("a fault at top level is an input error at the instruction", () => {
  assert.match(
    errorOf("vcpu0: div dividend=1 divisor=0\n"),
    /^3:8 vcpu0's div raised a fault, after whose handler it executes again/,
  );
});

Deno.test("a fault inside an if block of a handler is an input error at the block", () => {
  assert.match(
    errorOf([
      "vcpu0: lapic enable",
      "on vcpu0 vector 0x41 {",
      "  if 1 == 1 {",
      "    div dividend=1 divisor=0",
      "  }",
      "}",
      "vcpu0: sti",
      "vcpu0: ipi vector=0x41 shorthand=self",
      "run",
      "",
    ].join("\n")),
    /^5:3 an instruction in this block raised a fault/,
  );
});
