import assert from "node:assert/strict";
import type { ScenarioResult } from "./run.ts";
import { firstError, runScenario } from "./test_scenario.ts";

const X86 = 'scenario "h"\nvm g { arch x86_64  vcpus 2 }\n';
const ARM_V2 = 'scenario "h"\nvm arm { arch arm64  vcpus 2  gic v2 }\n';

const run = (text: string): ScenarioResult => runScenario(text, "h.scn");
const errorOf = (text: string): string => firstError(text, "h.scn");

const passes = (r: ScenarioResult) =>
  assert.equal(r.status, "pass", r.failures.map((f) => `${f.text}: ${f.actual}`).join("; "));

Deno.test("a handler's let updates the scenario's variable: it counts what it handled", () => {
  passes(run(
    X86 + [
      "let $n = 0",
      "vcpu0: lapic enable",
      "vcpu0: sti",
      "on vcpu0 vector 0x40..0x4f { let $n = $n + 1; eoi }",
      "vcpu0: ipi vector=0x41 dest=0",
      "vcpu0: ipi vector=0x42 dest=0",
      "run",
      "expect $n == 2",
      "vcpu0: ipi vector=0x43 dest=0",
      "run",
      "expect $n == 3",
      "",
    ].join("\n"),
  ));
});

Deno.test("a handler runs other actors' actions in program order with its vCPU's instructions", () => {
  // Lower the line, then EOI: no re-delivery. The other order (EOI first)
  // re-delivers while the line is still high: the third take's EOI does too,
  // before its deassert, so a fourth follows.
  const scenario = (body: string) =>
    X86 + [
      "vcpu0: lapic enable",
      "vcpu0: sti",
      "vcpu0: write ioapic.redtbl[20] vector=0x9a trigger=level dest=0",
      "let $n = 0",
      `on vcpu0 vector 0x9a { ${body} }`,
      "device nic: assert gsi=20",
      "run",
      "",
    ].join("\n");
  const lowered = run(
    scenario("let $n = $n + 1; device nic: deassert gsi=20; eoi") +
      "expect vcpu0 took 0x9a once\nexpect $n == 1\n",
  );
  passes(lowered);
  const eoiFirst = run(
    scenario("let $n = $n + 1; eoi; if $n < 3 { } else { device nic: deassert gsi=20 }") +
      "expect vcpu0 took 0x9a 4 times\n",
  );
  passes(eoiFirst);
});

Deno.test("a handler's VMM action runs while the vCPU is stopped in it, as at a GUEST_SYNC exit", () => {
  passes(run(
    X86 + [
      "vcpu0: lapic enable",
      "vcpu0: sti",
      "on vcpu0 vector 0x41 {",
      "  vmm: kvm signal_msi address=0xfee00000 data=0x42",
      "  expect vcpu0.lapic.irr == {0x42}",
      "  eoi",
      "}",
      "on vcpu0 vector 0x42 { eoi }",
      "vcpu0: ipi vector=0x41 dest=0",
      "run",
      "expect vcpu0 took [0x41, 0x42] in order",
      "",
    ].join("\n"),
  ));
});

Deno.test("$vector is what the handler took; a nested handler's hides it until it returns", () => {
  passes(run(
    X86 + [
      "vcpu0: lapic enable",
      "vcpu0: sti",
      "let $seen = []",
      "let $outer = 0",
      "on vcpu0 vector 0x40 {",
      "  sti",
      "  vcpu0: ipi vector=0x80 dest=0",
      "  nop",
      "  let $outer = $vector",
      "  eoi",
      "}",
      "on vcpu0 vector 0x80 { let $inner = $vector; eoi }",
      "vcpu0: ipi vector=0x40 dest=0",
      "run",
      "expect vcpu0 took [0x40, 0x80] in order",
      "expect $inner == 0x80",
      "expect $outer == 0x40",
      "",
    ].join("\n"),
  ));
});

Deno.test("two vCPUs' handlers running interleaved each see their own $vector", () => {
  // Found by difftest (seed 20261207, case 1101): one run of bindings for
  // every vCPU let vcpu1's entry overwrite vcpu0's $vector, and the
  // interleaved returns left $vector bound after the run.
  passes(run(
    X86 + [
      "on vcpu0 vector 0x41 { eoi; let $seen0 = $vector }",
      "on vcpu1 vector 0x42 { eoi; let $seen1 = $vector }",
      "vcpu0: lapic enable",
      "vcpu1: lapic enable",
      "vcpu0: sti",
      "vcpu1: sti",
      "vmm: kvm signal_msi address=0xfee00000 data=0x41",
      "vmm: kvm signal_msi address=0xfee01000 data=0x42",
      "run",
      "expect vcpu0 took 0x41 once",
      "expect vcpu1 took 0x42 once",
      "expect $seen0 == 0x41",
      "expect $seen1 == 0x42",
      "",
    ].join("\n"),
  ));
});

Deno.test("on Arm a handler binds $intid and $iar, the IAR with a GICv2 SGI's source CPU", () => {
  passes(run(
    ARM_V2 + [
      "let $iar_seen = 0",
      "let $intid_seen = 0",
      "on vcpu1 irq { let $iar_seen = $iar; let $intid_seen = $intid; eoi $intid }",
      "vcpu1: gic enable",
      "vcpu1: write gicd.ipriorityr[0] 0xa0 byte=1",
      "vcpu1: unmask irqs",
      "vcpu1: write gicd.sgir targetlistfilter=2 sgiintid=1",
      "run",
      "expect vcpu1 took 1 once",
      "expect $iar_seen == 0x401",
      "expect $intid_seen == 1",
      "",
    ].join("\n"),
  ));
});

Deno.test("handler variables and actors: misuse is a located error that says what works", () => {
  assert.equal(
    errorOf(X86 + "let $x = $vector\n"),
    "3:10 '$vector' is bound only in a handler's body, to what the handler took",
  );
  assert.equal(
    errorOf(X86 + "on vcpu0 vector 0x41 { let $vector = 1 }\n"),
    "3:28 '$vector' is what the handler took: bind another name",
  );
  assert.equal(
    errorOf(X86 + "on vcpu0 vector 0x41 {\n  vcpu1: eoi\n}\n"),
    "4:3 this handler runs on vcpu0: vcpu1 cannot execute in it",
  );
  assert.equal(
    errorOf(X86 + "on vcpu0 vector 0x41 { run }\n"),
    "3:24 'run' cannot be used inside a handler: the handler already runs inside one",
  );
});

/** The example of issue 13, exactly as the issue writes it. */
const ISSUE_13_EXAMPLE = `scenario "expressions, counters and handlers that act"
vm guest { arch x86_64  vcpus 1 }
let \$x = (0x3 << 4) | 1
expect \$x == 0x31
expect (\$x & 0xf0) >> 4 == 3
let \$big = 0xffffffffffffffff
expect \$big - 1 == 0xfffffffffffffffe
expect {0..3, 8} == {0, 1, 2, 3, 8}
let \$n = 0
let \$last = 0
vcpu0: lapic enable
vcpu0: sti
vcpu0: write ioapic.redtbl[20] vector=0x9a trigger=level dest=0
on vcpu0 vector 0x9a {
  let \$n = \$n + 1
  device nic: deassert gsi=20
  eoi
}
device nic: assert gsi=20
run
expect vcpu0 took 0x9a once
expect \$n == 1
expect ioapic.pin[20].remote_irr == 0
on vcpu0 vector 0x40..0x43 {
  let \$last = \$vector
  eoi
}
for \$i in 0..3 {
  vmm: kvm signal_msi address=0xfee00000 data=0x40 + \$i
}
run
expect vcpu0 took [0x43, 0x42, 0x41, 0x40] in order
expect \$last == 0x40
`;

Deno.test("issue 13's example parses and passes as written, and is in the library verbatim", () => {
  passes(run(ISSUE_13_EXAMPLE));
  const path = new URL(
    "../../scenarios/language/expressions_counters_handlers.scn",
    import.meta.url,
  );
  assert.equal(Deno.readTextFileSync(path), ISSUE_13_EXAMPLE);
});
