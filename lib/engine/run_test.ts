import assert from "node:assert/strict";
import { DEFAULT_MAX_STEPS, runProgram, type ScenarioResult } from "./run.ts";
import { checkText, runText } from "../api/scenario.ts";
import { ScnError } from "../core/diagnostic.ts";

const HEAD = 'scenario "t"\nvm g { arch x86_64 vcpus 2 }\n';
/** vcpu0 ready to take interrupts (the nop ends the STI shadow). */
const READY = "vcpu0: lapic enable\nvcpu0: sti\nvcpu0: nop\n";

function run(lines: string, maxSteps?: number): ScenarioResult {
  return runText(HEAD + lines, "r.scn", { maxSteps });
}

function runError(lines: string, maxSteps?: number): ScnError {
  let err: unknown;
  try {
    run(lines, maxSteps);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, "expected a ScnError");
  return err;
}

/** Failures as [line, kind, text, expected, actual]. */
function failures(r: ScenarioResult) {
  return r.failures.map((f) => [f.loc.start.line, f.kind, f.text, f.expected, f.actual]);
}

Deno.test("nothing is delivered to a vCPU before 'run'", () => {
  const r = run(
    READY + [
      "vcpu0: ipi vector=0x41 shorthand=self",
      "expect vcpu0 took nothing",
      "expect vcpu0.lapic.irr == {0x41}",
      "expect vcpu0.lapic.isr == {}",
      "run",
      "expect vcpu0 took 0x41 once",
      "expect vcpu0.lapic.irr == {}",
      "expect vcpu0.lapic.isr == {0x41}",
      "",
    ].join("\n"),
  );
  assert.deepEqual(failures(r), []);
  assert.equal(r.status, "pass");
  assert.deepEqual(
    r.took.map((t) => [t.vm, t.cpu, t.kind, t.vector, t.time]),
    [["g", "vcpu0", "vector", 0x41, 0]],
  );
  assert.equal(r.trace[r.took[0].event - 1].kind, "took");
});

Deno.test("runProgram() reports file, title, tags and status of a passing scenario", () => {
  const text = 'scenario "named"\ntags a, b\nvm g { arch x86_64 }\nexpect vcpu0 took nothing\n';
  const r = runProgram(checkText(text, "n.scn"));
  assert.deepEqual(
    [r.file, r.title, r.tags, r.status, r.expectFailure, r.failures, r.took, r.time],
    ["n.scn", "named", ["a", "b"], "pass", null, [], [], 0],
  );
});

Deno.test("a handler runs when its vector is taken, and only then", async (t) => {
  await t.step("with a handler that EOIs, ISR is clear after run", () => {
    const r = run(
      "on vcpu0 vector 0x41 { eoi }\n" + READY +
        "vcpu0: ipi vector=0x41 shorthand=self\nrun\nexpect vcpu0.lapic.isr == {}\nexpect vcpu0.depth == 0\n",
    );
    assert.deepEqual(failures(r), []);
  });
  await t.step("without one, the vector stays in service", () => {
    const r = run(
      READY + "vcpu0: ipi vector=0x41 shorthand=self\nrun\nexpect vcpu0.lapic.isr == {}\n",
    );
    assert.deepEqual(failures(r), [[8, "expect", "vcpu0.lapic.isr == {}", "== {}", "{0x41}"]]);
  });
  await t.step("a handler's own IPI is taken after it returns, in order", () => {
    const r = run(
      "on vcpu0 vector 0x41 { ipi vector=0x42 shorthand=self; eoi }\non vcpu0 vector 0x42 { eoi }\n" +
        READY + "vcpu0: ipi vector=0x41 shorthand=self\nrun\n" +
        "expect vcpu0 took [0x41, 0x42] in order\nexpect vcpu0 took [0x42, 0x41] in order\n",
    );
    assert.deepEqual(failures(r), [[
      11,
      "expect",
      "vcpu0 took [0x42, 0x41] in order",
      "0x42, 0x41 in order",
      "0x41, 0x42",
    ]]);
  });
  await t.step("a handler for another vCPU does not run", () => {
    const r = run(
      "on vcpu1 vector 0x41 { eoi }\n" + READY +
        "vcpu0: ipi vector=0x41 shorthand=self\nrun\nexpect vcpu0.lapic.isr == {0x41}\n",
    );
    assert.deepEqual(failures(r), []);
  });
});

Deno.test("'-> $x' binds a command's result", () => {
  const r = run(
    "vcpu1: lapic enable\nvmm: kvm signal_msi address=0xfee01000 data=0x41 -> $r\n" +
      "vcpu0: in 0x80 -> $b\nexpect $r == 1\nexpect $b == 0xff\nexpect $r == 2\n",
  );
  assert.deepEqual(failures(r), [[8, "expect", "$r == 2", "== 2", "1"]]);
});

Deno.test("a failed 'always' is recorded once, where it is declared", () => {
  const r = run(
    READY + [
      "always vcpu0.lapic.isr == {}",
      "vcpu0: ipi vector=0x41 shorthand=self",
      "run",
      "vcpu0: ipi vector=0x51 shorthand=self",
      "run",
      "",
    ].join("\n"),
  );
  assert.equal(r.status, "fail");
  assert.deepEqual(failures(r), [[6, "always", "vcpu0.lapic.isr == {}", "== {}", "{0x41}"]]);
  const f = r.failures[0];
  assert.deepEqual([f.loc.source, f.loc.start.column], ["r.scn", 1]);
  assert.ok(f.events.some((e) => e.kind === "took"), "the trace shows the take");
});

Deno.test("an 'always' that holds from its declaration on is no failure", () => {
  const r = run(
    "on vcpu0 vector 0x41 { eoi }\n" + READY +
      "always vcpu0.lapic.ppr <= 0x40\nvcpu0: ipi vector=0x41 shorthand=self\nrun\n",
  );
  assert.deepEqual(failures(r), []);
});

Deno.test("an 'always' already false when declared fails at once", () => {
  const r = run("always vcpu0.if == 1\nvcpu0: sti\n");
  assert.deepEqual(failures(r), [[3, "always", "vcpu0.if == 1", "== 1", "0"]]);
});

Deno.test("repeat, for, let and if run as written", async (t) => {
  await t.step("repeat", () => {
    const r = run(
      "on vcpu0 vector 0x41 { eoi }\n" + READY +
        "repeat 3 {\n  vcpu0: ipi vector=0x41 shorthand=self\n  run\n}\nexpect vcpu0 took 0x41 3 times\n",
    );
    assert.deepEqual(failures(r), []);
    assert.equal(r.took.length, 3);
  });
  await t.step("repeat 0 does nothing", () => {
    const r = run(
      READY +
        "repeat 0 { vcpu0: ipi vector=0x41 shorthand=self }\nrun\nexpect vcpu0 took nothing\n",
    );
    assert.deepEqual(failures(r), []);
  });
  await t.step("for over a list, a range and a let-bound set", () => {
    const r = run(
      "on vcpu0 vector 0x30..0x6f { eoi }\n" + READY + [
        "let $vs = {0x61, 0x51}",
        "for $v in [0x41, 0x31] { vcpu0: ipi vector=$v shorthand=self }",
        "for $v in $vs { vcpu0: ipi vector=$v shorthand=self }",
        "for $v in 0x43..0x44 { vcpu0: ipi vector=$v shorthand=self }",
        "run",
        "expect vcpu0 took [0x61, 0x51, 0x44, 0x43, 0x41, 0x31] in order",
        "",
      ].join("\n"),
    );
    assert.deepEqual(failures(r), []);
  });
  await t.step("if and else", () => {
    const r = run(
      READY + [
        "let $x = 2",
        "if $x == 2 { vcpu0: ipi vector=0x41 shorthand=self } else { vcpu0: ipi vector=0x42 shorthand=self }",
        "if $x != 2 { vcpu0: ipi vector=0x43 shorthand=self } else { vcpu0: ipi vector=0x44 shorthand=self }",
        "vcpu0: if vcpu0.if == 1 { ipi vector=0x45 shorthand=self }",
        "expect vcpu0.lapic.irr == {0x41, 0x44, 0x45}",
        "",
      ].join("\n"),
    );
    assert.deepEqual(failures(r), []);
  });
});

Deno.test("comparisons: '<' is less-than (regression), and and/or/not combine", () => {
  const r = run(
    [
      "expect 1 < 2",
      "expect 2 < 1",
      "expect 2 <= 2 and 3 >= 2 and 3 > 2 and 1 != 2",
      "expect not 1 == 1 or 2 == 3",
      "expect -EINVAL == -22",
      "",
    ].join("\n"),
  );
  assert.deepEqual(failures(r), [
    [4, "expect", "2 < 1", "< 1", "2"],
    // Each operand with what it read, not only the first.
    [
      6,
      "expect",
      "not 1 == 1 or 2 == 3",
      "at least one operand to hold",
      "not 1 == 1 fails (not: 1 == 1 holds (1 is 1)); 2 == 3 fails (2 is 2)",
    ],
  ]);
});

Deno.test("'took' counts and order are checked exactly", () => {
  const r = run(
    "on vcpu0 vector 0x41 { eoi }\n" + READY + [
      "vcpu0: ipi vector=0x41 shorthand=self",
      "run",
      "vcpu0: ipi vector=0x41 shorthand=self",
      "run",
      "expect vcpu0 took 0x41 twice",
      "expect vcpu0 took 0x41",
      "expect vcpu0 took 0x41 once",
      "expect vcpu0 took nothing",
      "expect vcpu1 took nothing",
      "",
    ].join("\n"),
  );
  assert.deepEqual(failures(r), [
    [13, "expect", "vcpu0 took 0x41 once", "0x41 1 time(s)", "0x41, 0x41"],
    [14, "expect", "vcpu0 took nothing", "nothing", "0x41, 0x41"],
  ]);
});

Deno.test("parallel runs its actions in written order", () => {
  const r = run(
    "vcpu0: lapic enable\nvcpu1: lapic enable\n" +
      "parallel {\n  vcpu1: ipi vector=0x41 dest=0\n  vcpu0: ipi vector=0x42 dest=1\n}\n",
  );
  const writes = r.trace.filter((e) => e.kind === "write" && e.cause === 0).map((e) => e.source);
  assert.deepEqual(writes, ["vcpu0", "vcpu1", "vcpu1", "vcpu0"]);
});

Deno.test("'run 5ms' advances virtual time", () => {
  const r = run("run 5ms\nrun 250ns\nexpect 1 == 2\n");
  assert.equal(r.time, 5_000_250);
  assert.equal(r.failures[0].time, 5_000_250);
});

Deno.test("a run that never settles throws a 'budget' error located at the run", () => {
  const text = Deno.readTextFileSync("tests/fixtures/cli/storm.scn");
  let err: unknown;
  try {
    runText(text, "storm.scn", { maxSteps: 50 });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError);
  const d = err.diagnostics[0];
  assert.equal(d.kind, "budget");
  assert.equal(d.message, "step budget exhausted: this 'run' did not settle within 50 steps");
  assert.deepEqual([d.loc.source, d.loc.start.line, d.loc.start.column], ["storm.scn", 8, 1]);
  assert.match(d.hint ?? "", /--max-steps/);
});

Deno.test("the step budget is per run and defaults to 100000", () => {
  assert.equal(DEFAULT_MAX_STEPS, 100_000);
  const r = run(
    "on vcpu0 vector 0x41 { eoi }\n" + READY +
      "repeat 4 {\n  vcpu0: ipi vector=0x41 shorthand=self\n  run\n}\n",
    12,
  );
  assert.equal(r.status, "pass");
  assert.ok(r.steps > 12, `steps ${r.steps}`);
});

Deno.test("a variable out of a parameter's range is a runtime ScnError at the variable", () => {
  const err = runError(
    READY + "for $v in [0x41, 0x100] {\n  vcpu0: ipi vector=$v shorthand=self\n}\n",
  );
  const d = err.diagnostics[0];
  assert.equal(d.kind, "check");
  assert.equal(d.message, "0x100 is out of range for a vector (0..0xff)");
  assert.deepEqual([d.loc.start.line, d.loc.start.column, d.loc.end.column], [7, 21, 23]);
});

Deno.test("runtime type errors are ScnErrors", async (t) => {
  await t.step("run with a variable that is not a duration (regression)", () => {
    const d = runError('let $d = "soon"\nrun $d\n').diagnostics[0];
    assert.equal(d.message, "expected a duration such as 10us");
    assert.deepEqual([d.loc.start.line, d.loc.start.column], [4, 5]);
  });
  await t.step("repeat with a negative count", () => {
    const d = runError("repeat -1 { vcpu0: nop }\n").diagnostics[0];
    assert.equal(d.message, "repeat needs a count >= 0, not -1");
  });
  await t.step("ordering a set", () => {
    const d = runError("expect vcpu0.lapic.isr < 3\n").diagnostics[0];
    assert.equal(d.message, "'<' compares numbers, not {} and 3");
  });
  await t.step("IOAPIC state of a vm without one (regression: said 'out of range 0..-1')", () => {
    const err = (() => {
      try {
        runText(
          'scenario "t"\nvm g { arch x86_64 irqchip split }\nexpect ioapic.pin[0].line == 0\n',
          "s.scn",
        );
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ScnError);
    assert.equal(err.diagnostics[0].message, "'ioapic.pin[0].line' does not exist in vm 'g'");
  });
});

Deno.test("'expect failure' turns a failure into XFAIL and a pass into XPASS", () => {
  const xfail = run('expect failure "bug 1": 1 == 2\n');
  assert.deepEqual([xfail.status, xfail.expectFailure, xfail.failures.length], [
    "xfail",
    "bug 1",
    1,
  ]);
  const xpass = run('expect failure "bug 1": 1 == 1\n');
  assert.deepEqual([xpass.status, xpass.expectFailure, xpass.failures.length], [
    "xpass",
    "bug 1",
    0,
  ]);
});

Deno.test("'expect failure' is XFAIL only when the marked expectation is all that failed", () => {
  // Another expectation failing beside the marked one: FAIL, not XFAIL.
  const both = run('expect failure "bug 1": 1 == 2\nexpect 2 == 3\n');
  assert.deepEqual([both.status, both.failures.map((f) => f.loc.start.line)], ["fail", [3, 4]]);
  // The mark holding while another fails: FAIL, not XPASS or XFAIL.
  const other = run('expect failure "bug 1": 1 == 1\nexpect 2 == 3\n');
  assert.deepEqual([other.status, other.failures.map((f) => f.loc.start.line)], ["fail", [4]]);
  // The marked expectation failing on every pass of a loop is still the one failure.
  const loop = run('repeat 3 {\n  expect failure "bug 1": 1 == 2\n}\n');
  assert.deepEqual([loop.status, loop.failures.length], ["xfail", 3]);
});

Deno.test("the fixed guest of seed 001 with an unrelated false expectation is FAIL, not XFAIL", () => {
  const text =
    Deno.readTextFileSync(new URL("../../scenarios/seeds/001_unmask_bug.scn", import.meta.url))
      .replace("if bit test shared.evtchn_mask[$p]", "if bit test shared.evtchn_pending[$p]") +
    "expect vcpu0.lapic.tpr == 0x10\n";
  const r = runText(text, "fixed.scn");
  assert.equal(r.status, "fail");
  assert.deepEqual(r.failures.map((f) => f.text), ["vcpu0.lapic.tpr == 0x10"]);
});

Deno.test("a known race's marked expectation is an ordinary one in a single run", () => {
  const text =
    'scenario "t"\ntags known-race\nvm g { arch x86_64 }\nexpect failure "race": 1 == 1\n';
  const pass = runText(text, "race.scn");
  assert.equal(pass.status, "pass");
});

Deno.test("a failure shows the trace events that led to it", () => {
  const r = run(
    READY + "vmm: kvm signal_msi address=0xfee00000 data=0x41\nrun\nexpect vcpu0 took 0x42\n",
  );
  assert.deepEqual(failures(r), [[8, "expect", "vcpu0 took 0x42", "0x42", "0x41"]]);
  const kinds = r.failures[0].events.map((e) => `${e.source} ${e.kind}`);
  assert.deepEqual(kinds, [
    "vmm ioctl",
    "kvm signal_msi",
    "lapic0 irr.set",
    "vcpu0 took",
  ]);
});

Deno.test("a loop around run is stopped by the work budget, which run does not reset", () => {
  const e = runError("repeat 1000 { run }\n", 50);
  assert.equal(e.diagnostics[0].kind, "budget");
  assert.match(e.diagnostics[0].message, /^work budget exhausted/);
  assert.deepEqual([e.diagnostics[0].loc.start.line], [3]);
});

Deno.test("a vCPU number in a variable beyond the vm is a located error", () => {
  const e = runError(
    "let $v = 2\nvmm: kvm signal_msi address=0xfee00000 data=0x41\n" +
      "vmm: kvm interrupt vcpu=$v vector=0x31\n",
  );
  assert.equal(e.diagnostics[0].message, "vm 'g' has no vCPU 2");
  assert.deepEqual([e.diagnostics[0].loc.start.line, e.diagnostics[0].loc.start.column], [5, 25]);
});

Deno.test("a failed took expectation in a storm explains only the last takes", () => {
  const r = run(
    READY + "vcpu0: write ioapic.redtbl[20] vector=0x31 trigger=level\n" +
      "on vcpu0 vector 0x31 { eoi }\nvmm: kvm irq_line gsi=20 level=1\n" +
      // KVM's storm guard defers the 10000th back-to-back re-delivery, so this settles.
      "run\nexpect vcpu0 took 0x31 once\n",
  );
  assert.equal(r.status, "fail");
  const took = r.failures[0];
  assert.ok(took.actual.length < 500, "the took list is clipped");
  assert.ok(took.events.length < 40, `events: ${took.events.length}`);
});

Deno.test("'took nmi' names the NMI by kind; 'took 2' is a vector-2 interrupt and never an NMI", () => {
  const r = run(
    READY + [
      "vmm: kvm nmi vcpu=0",
      "run",
      "expect vcpu0 took nmi once",
      "expect vcpu0 took 2 0 times",
      "expect vcpu0 took 2", // fails: no vector 2 was taken
      "expect vcpu1 took nmi", // fails: vcpu1 took nothing
      "vcpu0: ipi vector=0x41 shorthand=self",
      "run",
      "expect vcpu0 took [nmi, 0x41] in order",
      "expect vcpu0 took [0x41, nmi] in order", // fails
    ].join("\n") + "\n",
  );
  assert.deepEqual(failures(r), [
    [10, "expect", "vcpu0 took 2", "2", "nmi"],
    [11, "expect", "vcpu1 took nmi", "nmi", "nothing"],
    [15, "expect", "vcpu0 took [0x41, nmi] in order", "0x41, nmi in order", "nmi, 0x41"],
  ]);
  assert.deepEqual(r.took.map((t) => [t.kind, t.vector]), [["nmi", -1], ["vector", 0x41]]);
});

Deno.test("a vCPU reset by INIT leaves the handler it was in (CpuModel.service)", () => {
  const r = runText(
    'scenario "t"\nvm g { arch x86_64 vcpus 2 }\n' +
      "on vcpu1 vector 0x41 {\n  hlt\n  eoi\n}\n" +
      "vcpu1: lapic enable\nvcpu1: sti\nvcpu1: nop\n" +
      "vcpu0: ipi vector=0x41 dest=1\n" +
      "run\n" +
      "expect vcpu1.depth == 1\n" +
      "expect vcpu1.halted == 1\n" +
      "vcpu0: ipi dest=1 delivery_mode=init\n" +
      "run\n" +
      "expect vcpu1.mp_state == KVM_MP_STATE_INIT_RECEIVED\n" +
      "expect vcpu1.depth == 0\n" +
      "expect vcpu1.lapic.isr == {}\n" +
      "vcpu0: ipi vector=0x9a dest=1 delivery_mode=startup\n" +
      "run\n" +
      "expect vcpu1.mp_state == KVM_MP_STATE_RUNNABLE\n" +
      "expect vcpu1.cs_selector == 0x9a00\n" +
      "expect vcpu1.lapic.isr == {}\n", // the abandoned handler's EOI never runs
    "r.scn",
  );
  assert.deepEqual(failures(r), []);
  assert.ok(r.trace.some((e) => e.kind === "init" && e.source === "vcpu1"));
});

Deno.test("a vCPU waiting for INIT / SIPI executing a command is a located input error", () => {
  let err: unknown;
  try {
    runText(
      'scenario "t"\nvm g { arch x86_64 vcpus 2 aps wait-for-sipi }\nvcpu1: lapic enable\n',
      "r.scn",
    );
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError);
  assert.equal(
    err.diagnostics[0].message,
    "vcpu1 executes nothing: it waits for INIT and SIPI (mp_state 1)",
  );
  assert.equal(err.diagnostics[0].loc.start.line, 3);
});

Deno.test("runProgram() calls onStep after each timeline statement, never for handler statements", () => {
  const text = HEAD + "on vcpu0 vector 0x41 { eoi }\n" + READY + [
    "vcpu0: ipi vector=0x41 shorthand=self",
    "repeat 2 { vcpu0: nop }",
    "run",
    "",
  ].join("\n");
  const seen: [number, number][] = [];
  runProgram(checkText(text, "s.scn"), {
    onStep: (loc, state) => seen.push([loc.start.line, state.took.length]),
  });
  // Lines 4-6 are READY, 7 the IPI, 8 the repeat (its body twice, then the
  // repeat itself), 9 the run; the handler's eoi (line 3) is not a step.
  assert.deepEqual(seen, [[4, 0], [5, 0], [6, 0], [7, 0], [8, 0], [8, 0], [8, 0], [9, 1]]);
});

Deno.test("set and list elements and range ends are exact u64 values past 2^53", () => {
  const r = run(
    "let $top = 0xffffffffffffffff\n" +
      "let $s = {$top, 1, ($top - 2)..($top - 1)}\n" +
      "expect $s == {1, 0xfffffffffffffffd, 0xfffffffffffffffe, 0xffffffffffffffff}\n" +
      "expect [0x20000000000000, 0x1fffffffffffff + 2] == [0x20000000000000, 0x20000000000001]\n" +
      "expect [0x20000000000000] != [0x20000000000001]\n",
  );
  assert.deepEqual([r.status, r.failures], ["pass", []]);
  // The range's elements, as the run built them: bigints past 2^53, numbers below.
  const big = run("let $s = {0x1ffffffffffffe..0x20000000000001}\nexpect $s == {}\n");
  assert.equal(
    big.failures[0].actual,
    "{0x1ffffffffffffe, 0x1fffffffffffff, 0x20000000000000, 0x20000000000001}",
  );
});

Deno.test("a parenthesised condition is a value: 1 when it holds, 0 when not", () => {
  const r = run(
    "let $a = 5\nlet $ok = ($a == 5)\nlet $no = (not $a == 5)\n" +
      "expect $ok == 1 and $no == 0\nexpect ($a & 1 == 1) + ($a >= 5) == 2\n",
  );
  assert.deepEqual([r.status, r.failures], ["pass", []]);
  // A parenthesised condition with nothing after it is still a condition: a failed
  // `or` inside it reports its operands.
  const f = run("let $a = 5\nexpect ($a == 1 or $a == 2)\n");
  assert.equal(f.status, "fail");
  assert.match(f.failures[0].actual, /\$a == 1/);
});
