import assert from "node:assert/strict";
import { check } from "../../dsl/check/mod.ts";
import { parse } from "../../dsl/parse.ts";
import { formatText } from "../../dsl/format.ts";
import { ScnError } from "../core/diagnostic.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { runProgram, type ScenarioResult } from "./run.ts";
import { firstError, runScenario } from "./test_scenario.ts";

const X86 = 'scenario "w"\nvm g { arch x86_64  vcpus 2 }\n';

function run(lines: string): ScenarioResult {
  return runScenario(X86 + lines, "w.scn");
}

function errorOf(lines: string): string {
  return firstError(X86 + lines, "w.scn");
}

/** The trace as `source kind` words, from the first event of `from` on. */
function kinds(r: ScenarioResult, from: string): string[] {
  const all = r.trace.map((e) => `${e.source} ${e.kind}`);
  return all.slice(all.indexOf(from));
}

Deno.test("run vcpu0 { }: a take waits for the instruction after STI, and every instruction is traced", () => {
  const r = run([
    "vcpu0: lapic enable",
    "on vcpu0 vector 0x41 { eoi }",
    "vcpu0: ipi vector=0x41 dest=0",
    "run vcpu0 { sti; nop; nop }",
    "",
  ].join("\n"));
  assert.deepEqual(kinds(r, "vcpu0 sti"), [
    "vcpu0 sti",
    "vcpu0 nop",
    "lapic0 ack",
    "vcpu0 took",
    "vcpu0 write",
    "lapic0 eoi",
    "vcpu0 iret",
    "vcpu0 nop",
  ]);
});

Deno.test("outside a window the timeline delivers nothing: 'sti; nop; cli; run' takes nothing", () => {
  const r = run([
    "vcpu0: lapic enable",
    "vcpu0: ipi vector=0x41 dest=0",
    "vcpu0: sti",
    "vcpu0: nop",
    "vcpu0: cli",
    "run",
    "expect vcpu0 took nothing",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass");
});

Deno.test("run vcpu0 { }: other vCPUs and timers go on as in 'run' at each boundary", () => {
  const r = run([
    "vcpu1: lapic enable",
    "vcpu1: sti",
    "on vcpu1 vector 0x51 { eoi }",
    "run vcpu0 {",
    "  ipi vector=0x51 dest=1",
    "  expect vcpu1 took nothing   # the IPI is sent; vcpu1 takes it at the next boundary",
    "  nop",
    "  expect vcpu1 took 0x51 once",
    "}",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures.map((f) => f.text)));
});

Deno.test("run vcpu0 { }: a halted vCPU cannot execute the rest, a located error", () => {
  assert.equal(
    errorOf("run vcpu0 {\n  hlt\n  nop\n}\n"),
    "5:3 vcpu0 is halted here and nothing woke it, so it cannot execute this",
  );
});

Deno.test("run vcpu0 { }: misuse is a located error", () => {
  assert.match(errorOf("run vmm { nop }\n"), /^3:5 'run \.\.\. \{ \}' runs a vCPU's instructions/);
  assert.match(errorOf("on vcpu0 vector 0x41 { run vcpu0 { nop } }\n"), /^3:24 a handler's/);
  assert.match(errorOf("run vcpu0 { vcpu1: nop }\n"), /^3:13 this block runs on vcpu0/);
  assert.match(errorOf("run vcpu0 { run }\n"), /^3:13 'run' is a timeline step/);
});

Deno.test("scn fmt prints run vcpu0 { } canonically and round-trips it", () => {
  const text = X86 + "run   vcpu0 {sti;nop}\nrun vcpu0 {\n  sti\n    nop\n}\n";
  const once = formatText(text);
  assert.equal(
    once.slice(X86.length),
    "run vcpu0 {\n  sti\n  nop\n}\nrun vcpu0 {\n  sti\n  nop\n}\n",
  );
  assert.equal(formatText(once), once);
});

Deno.test("every vCPU instruction leaves a trace event (those that need no arguments, on every platform)", () => {
  const vms: Record<string, string> = {
    x86_64: "vm g { arch x86_64  hypervisor xen  vcpus 1 }",
    arm64: "vm g { arch arm64  vcpus 1  gic v3 { its } }",
  };
  let checked = 0;
  for (const p of PLATFORMS) {
    const head = `scenario "t"\n${vms[p.arch[0]]}\n`;
    const events = (line: string) => {
      const text = head + line;
      return runProgram(check(parse(text, "t.scn"), { platforms: PLATFORMS, text })).trace.length;
    };
    const before = events("");
    for (const c of p.commands) {
      if (c.actor !== "vcpu" || c.params.some((x) => x.default === undefined)) continue;
      let after: number;
      try {
        after = events(`vcpu0: ${c.name}\n`);
      } catch (e) {
        // Refused in this VM (a located input error): nothing executed to trace.
        if (e instanceof ScnError) continue;
        throw e;
      }
      assert.ok(after > before, `${p.arch[0]}: '${c.name}' left no trace event`);
      checked++;
    }
  }
  assert.ok(checked > 40, `only ${checked} instructions checked`);
});

Deno.test("a budget error names the statement that spent it and shows the last trace events", () => {
  const storm = "vcpu0: lapic enable\non vcpu0 vector 0x41 { ipi 0x41; eoi }\nvcpu0: ipi 0x41\n";
  const budget = (lines: string) => {
    try {
      run(lines);
    } catch (e) {
      assert.ok(e instanceof ScnError);
      return e.diagnostics[0];
    }
    throw new Error("no error");
  };
  const w = budget(storm + "run vcpu0 {\n  sti\n  nop\n}\n");
  assert.equal(w.kind, "budget");
  assert.match(w.message, /this 'run vcpu0 \{ \}' did not settle within 100000 steps/);
  assert.match(w.notes?.[0] ?? "", /^the last 12 of \d+ trace events:$/);
  assert.ok(w.notes!.slice(1).some((n) => n.includes("vcpu0 took: 0x41")));
  const r = budget(storm + "vcpu0: sti\nrun\n");
  assert.match(r.message, /this 'run' did not settle/);
  assert.match(r.hint ?? "", /re-triggers forever/);
  const loop = budget("repeat 200000 { vcpu0: nop }\n");
  assert.match(loop.message, /this 'repeat' went past 100000 steps since the last 'run'/);
  assert.doesNotMatch(loop.hint ?? "", /level line/);
});
