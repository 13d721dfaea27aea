// A vCPU numbered by an expression (`vcpu[$i]`): parsed, checked, run,
// formatted and explored like the `vcpu0` forms it stands for.
import assert from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { formatText } from "../../dsl/format.ts";
import type { Op, Program } from "../../dsl/program.ts";
import { checkText, runText } from "../api/scenario.ts";
import { type Diagnostic, ScnError } from "../core/diagnostic.ts";
import { runProgram, type ScenarioResult } from "./run.ts";
import { explore } from "./explore.ts";
import { parallelBlocks } from "./explore_schedule.ts";
import { stepFootprint } from "./explore_footprint.ts";

const HEAD = 'scenario "t"\nvm g { arch x86_64  vcpus 4 }\n';

function program(lines: string, head = HEAD): Program {
  return checkText(head + lines, "v.scn");
}

function error(lines: string, head = HEAD): Diagnostic {
  let err: unknown;
  try {
    runText(head + lines, "v.scn");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, `expected an input error for ${JSON.stringify(lines)}`);
  return err.diagnostics[0];
}

/** [line, column, text under the caret] of a diagnostic. */
function where(d: Diagnostic, lines: string, head = HEAD): [number, number, string] {
  const text = head + lines;
  return [d.loc.start.line, d.loc.start.column, text.slice(d.loc.start.offset, d.loc.end.offset)];
}

/** Drops locations, so that two lowerings of different texts compare. */
function shape(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(shape);
  if (x === null || typeof x !== "object") return x;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) {
    // Table entries are compared by identity.
    if (k === "spec" || k === "param" || k === "field" || k === "file") out[k] = v;
    else if (k !== "loc" && k !== "text") out[k] = shape(v);
  }
  return out;
}

Deno.test("vcpu[E] parses as an actor of actions, runs, handlers and took, and as a path", () => {
  const f = parse(
    "vcpu[$i]: nop\ng.vcpu[$i + 1]: sti\nrun vcpu[$i] { nop }\non vcpu[0..3] vector 0x30 { eoi }\n" +
      "expect vcpu[$i] took 0x30 once\nexpect vcpu[$i].lapic.isr == {}\n",
    "p.scn",
  );
  const [a, b, w, h, t, s] = f.body;
  assert.ok(a.kind === "action" && a.actor.name === "vcpu" && a.actor.index?.kind === "var");
  assert.ok(b.kind === "action" && b.actor.vm === "g" && b.actor.index?.kind === "binary");
  assert.ok(w.kind === "window" && w.actor.index?.kind === "var");
  assert.ok(h.kind === "handler" && h.actor.index?.kind === "range");
  assert.ok(t.kind === "expect" && t.condition.kind === "took" && t.condition.actor.index);
  assert.ok(s.kind === "expect" && s.condition.kind === "compare");
  const left = s.condition.left;
  assert.ok(left.kind === "value" && left.value.kind === "path");
});

Deno.test("a constant index is the vcpuN form: the same program", () => {
  const written = "vcpu[2]: ipi 0x30 dest=1\nexpect vcpu[1 + 1] took nothing\n" +
    "expect vcpu[2].lapic.isr == {}\nrun vcpu[2] { nop }\n";
  const plain = "vcpu2: ipi 0x30 dest=1\nexpect vcpu2 took nothing\n" +
    "expect vcpu2.lapic.isr == {}\nrun vcpu2 { nop }\n";
  assert.deepEqual(shape(program(written).body), shape(program(plain).body));
  assert.ok(program(written).body.every((op) => op.op !== "select"));
});

Deno.test("a run-time index lowers to one statement per vCPU, picked when it runs", () => {
  const p = program("let $i = 1\nvcpu[$i]: sti\n");
  const op = p.body[1];
  assert.equal(op.op, "select");
  if (op.op !== "select") return;
  assert.equal(op.text, "vcpu[$i]");
  assert.deepEqual(
    op.variants.map((v: Op) => v.op === "do" ? [v.call.cpu, v.call.source] : null),
    [[0, "vcpu0"], [1, "vcpu1"], [2, "vcpu2"], [3, "vcpu3"]],
  );
});

Deno.test("the checker locates what it can know: a constant index past the vm, a range, a variable handler", async (t) => {
  const cases: [string, string, [number, number, string]][] = [
    ["vcpu[4]: nop\n", "unknown vCPU 'vcpu[4]': vm 'g' has 4 vCPUs (vcpu0..vcpu3)", [3, 6, "4"]],
    ["expect vcpu[2 + 2] took nothing\n", "unknown vCPU 'vcpu[4]'", [3, 13, "2 + 2"]],
    ["expect vcpu[4].lapic.isr == {}\n", "vm 'g' has no vcpu4 (it has 4)", [3, 13, "4"]],
    ["on vcpu[2..4] vector 0x30 { eoi }\n", "unknown vCPU 'vcpu4'", [3, 9, "2..4"]],
    ["vcpu[0..1]: nop\n", "a statement runs on one vCPU", [3, 6, "0..1"]],
    [
      "let $i = 1\non vcpu[$i] vector 0x30 { eoi }\n",
      "a handler is declared before anything runs",
      [4, 9, "$i"],
    ],
    ["let $i = 1\nvcpu[$i]: frobnicate\n", "unknown command 'frobnicate'", [4, 11, "frobnicate"]],
    ["let $i = 1\nexpect vcpu[$i].lapic.nosuch == 0\n", "unknown state path", [
      4,
      8,
      "vcpu[$i].lapic.nosuch",
    ]],
    [
      "let $i = 1\non vcpu0 vector 0x30 { vcpu[$i]: nop }\n",
      "this handler runs on vcpu0",
      [4, 24, "vcpu[$i]"],
    ],
    [
      "let $i = 1\nrun vcpu[$i] { vcpu[$i]: nop }\n",
      "this block runs on vcpu0",
      [4, 16, "vcpu[$i]"],
    ],
    ["let $i = 1\nvcpu[$i] nop\n", "missing ':' after the actor 'vcpu[$i]'", [4, 1, "vcpu[$i]"]],
    [
      "let $i = 1\nparallel {\n  vcpu[$i]: sti\n  let $i = 2\n}\n",
      "'$i' numbers a vCPU in this parallel block: the block cannot rebind it",
      [6, 3, "let $i = 2"],
    ],
    [
      "parallel {\n  vcpu[vcpu0.lapic.id >> 24]: sti\n}\n",
      "in a parallel block a vCPU index reads variables only",
      [4, 8, "vcpu0.lapic.id >> 24"],
    ],
  ];
  for (const [lines, message, at] of cases) {
    await t.step(lines.trim(), () => {
      const d = error(lines);
      assert.equal(d.kind, "check");
      assert.ok(d.message.includes(message), d.message);
      assert.deepEqual(where(d, lines), at);
    });
  }
});

Deno.test("an index past the vm at run time is a located input error, not a crash", async (t) => {
  const cases: [string, string, [number, number, string]][] = [
    ["let $i = 4\nvcpu[$i]: nop\n", "'vcpu[$i]' is vcpu4 here, but vm 'g' has 4 vCPUs", [
      4,
      6,
      "$i",
    ]],
    ["let $i = 9\nrun vcpu[$i] { nop }\n", "'vcpu[$i]' is vcpu9 here", [4, 10, "$i"]],
    ["let $i = 4\nexpect vcpu[$i] took nothing\n", "'vcpu[$i]' is vcpu4 here", [4, 13, "$i"]],
    [
      "let $i = 0\nparallel {\n  vcpu0: nop\n  vcpu[$i]: sti\n}\n",
      "'vcpu[$i]' is vcpu0 here, which the step of line 5 in this parallel block also is",
      [6, 8, "$i"],
    ],
    [
      "let $i = 2\nlet $j = 2\nparallel {\n  vcpu[$i]: sti\n  vcpu[$j]: nop\n}\n",
      "'vcpu[$j]' is vcpu2 here, which the step of line 6 in this parallel block also is",
      [7, 8, "$j"],
    ],
    [
      "let $i = 4\nexpect vcpu[$i].lapic.isr == {}\n",
      "index 4 is out of range 0..3 in 'vcpu[$i].lapic.isr'",
      [4, 8, "vcpu[$i].lapic.isr"],
    ],
  ];
  for (const [lines, message, at] of cases) {
    await t.step(lines.trim(), () => {
      for (const compile of [true, false]) {
        let err: unknown;
        try {
          runProgram(program(lines), { compile });
        } catch (e) {
          err = e;
        }
        assert.ok(err instanceof ScnError, "expected an input error");
        const d = err.diagnostics[0];
        assert.ok(d.message.includes(message), d.message);
        assert.deepEqual(where(d, lines), at);
      }
    });
  }
});

/** An SMP IPI round written with loops, and the same written out vCPU by vCPU. */
const LOOPED = `on vcpu[0..3] vector 0x30 { eoi }
for $i in 0..3 {
  vcpu[$i]: lapic enable
  vcpu[$i]: sti
}
for $i in 1..3 {
  vcpu0: ipi 0x30 dest=$i
  run
  expect vcpu[$i] took 0x30 once
  expect vcpu[$i].lapic.isr == {}
}
let $k = 2
run vcpu[$k] { cli; nop }
expect vcpu[$k].if == 0
expect vcpu0 took nothing
`;
const WRITTEN_OUT = `on vcpu0 vector 0x30 { eoi }
on vcpu1 vector 0x30 { eoi }
on vcpu2 vector 0x30 { eoi }
on vcpu3 vector 0x30 { eoi }
vcpu0: lapic enable
vcpu0: sti
vcpu1: lapic enable
vcpu1: sti
vcpu2: lapic enable
vcpu2: sti
vcpu3: lapic enable
vcpu3: sti
vcpu0: ipi 0x30 dest=1
run
expect vcpu1 took 0x30 once
expect vcpu1.lapic.isr == {}
vcpu0: ipi 0x30 dest=2
run
expect vcpu2 took 0x30 once
expect vcpu2.lapic.isr == {}
vcpu0: ipi 0x30 dest=3
run
expect vcpu3 took 0x30 once
expect vcpu3.lapic.isr == {}
run vcpu2 { cli; nop }
expect vcpu2.if == 0
expect vcpu0 took nothing
`;

function outcome(r: ScenarioResult) {
  return {
    status: r.status,
    took: r.took.map((t) => [t.cpu, t.kind, t.vector]),
    trace: r.trace.map((e) => `${e.source} ${e.kind} ${e.text}`),
  };
}

Deno.test("a loop over vCPUs runs as the statements written out, compiled or not", () => {
  const looped = program(LOOPED), plain = program(WRITTEN_OUT);
  const want = outcome(runProgram(plain));
  assert.equal(want.status, "pass");
  assert.equal(want.took.length, 3);
  assert.deepEqual(outcome(runProgram(looped)), want);
  assert.deepEqual(outcome(runProgram(looped, { compile: false })), want);
});

Deno.test("a failed took of vcpu[$i] says which vCPU it read", () => {
  const r = runText(HEAD + "let $i = 3\nexpect vcpu[$i] took 0x30 once\n", "v.scn");
  assert.equal(r.status, "fail");
  assert.equal(r.failures[0].actual, "nothing");
  const and = runText(HEAD + "let $i = 3\nexpect $i == 3 and vcpu[$i] took 0x30\n", "v.scn");
  assert.ok(and.failures[0].actual.includes("(vcpu3 took nothing)"), and.failures[0].actual);
});

Deno.test("Xen: vcpu[$i].info in a state path and in a command's structure path", () => {
  const head = 'scenario "t"\nvm guest { arch x86_64  hypervisor xen  vcpus 2 }\n';
  const r = runText(
    head + `let $c = 1
vcpu[$c]: xen register_vcpu_info gpa=0x20000 offset=0x40 -> $r
expect $r == 0
vcpu[$c]: xchg vcpu[$c].info.evtchn_pending_sel 0
vcpu[$c]: store vcpu[$c].info.evtchn_upcall_pending 0
vcpu0: evtchn bind_ipi vcpu=$c -> $p
xen: send $p
expect vcpu[$c].info.evtchn_upcall_pending == 1
expect vcpu1.info.evtchn_pending_sel == 1
`,
    "x.scn",
  );
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
  const lines = "let $c = 2\nvcpu0: store vcpu[$c].info.evtchn_upcall_pending 0\n";
  const d = error(lines, head);
  assert.equal(d.message, "vm 'guest' has no vcpu2 (it has 2)");
  assert.deepEqual(where(d, lines, head), [4, 19, "$c"]);
});

Deno.test("Arm: a loop enables and unmasks each vCPU and reads each one's history", () => {
  const head = 'scenario "t"\nvm arm { arch arm64  vcpus 4  gic v3 }\n';
  const r = runText(
    head + `on vcpu[0..3] irq { eoi }
for $i in 0..3 {
  vcpu[$i]: gic enable
  vcpu[$i]: unmask irqs
}
vcpu1: write icc_sgi1r 0x10001000000
run
for $i in [0, 2, 3] { expect vcpu[$i] took 1 once }
expect vcpu1 took nothing
`,
    "a.scn",
  );
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("scn fmt prints vcpu[E] as written and reads it back the same", () => {
  const text = HEAD +
    "on vcpu[ 0..3 ] vector 0x30 { eoi }\nfor $i in 0..3 {\n  vcpu[$i]:   lapic enable\n" +
    "  g.vcpu[$i+1-1]: if vcpu[$i].lapic.ppr == 0 { nop }\n  run vcpu[$i] { sti; nop }\n}\n" +
    "expect vcpu[{1}] took nothing\n";
  const once = formatText(text, "f.scn");
  assert.equal(formatText(once, "f.scn"), once);
  assert.ok(once.includes("on vcpu[0..3] vector 0x30 { eoi }"), once);
  assert.ok(once.includes("  vcpu[$i]: lapic enable\n"), once);
  assert.ok(once.includes("  g.vcpu[$i + 1 - 1]: if vcpu[$i].lapic.ppr == 0 { nop }"), once);
  assert.ok(once.includes("  run vcpu[$i] {\n"), once);
  assert.ok(once.includes("expect vcpu[{1}] took nothing"), once);
  const strip = (f: unknown): unknown =>
    JSON.parse(
      JSON.stringify(f, (k, v) =>
        k === "loc" || k === "keyLoc" ? undefined : typeof v === "bigint" ? `${v}n` : v),
    );
  assert.deepEqual(
    strip(parse(once, "f.scn").body),
    strip(parse(text, "f.scn").body),
  );
});

Deno.test("scn explore: a step on a run-time vCPU touches what it would on any vCPU", () => {
  const p = program(
    "let $i = 1\nparallel {\n  vcpu[$i]: sti\n  vcpu[$i]: cli\n  device nic: assert gsi=4\n}\n",
  );
  const [b] = parallelBlocks(p);
  assert.deepEqual([...stepFootprint(b.body[0], p)!].sort(), [
    "$i",
    "0:cpu:0",
    "0:cpu:1",
    "0:cpu:2",
    "0:cpu:3",
  ]);
});

Deno.test("scn explore finds the same verdict and orders for vcpu[$i] as for the vCPU it numbers", () => {
  // A race: the IPI lands before or after vcpu1 masks interrupts.
  const race = (who: string) =>
    HEAD + `let $i = 1
on vcpu1 vector 0x30 { eoi }
vcpu1: lapic enable
vcpu0: lapic enable
vcpu1: sti
vcpu1: nop
parallel {
  ${who}: cli
  vcpu0: ipi 0x30 dest=1
}
run
expect vcpu1 took 0x30 once
`;
  const indexed = explore(program(race("vcpu[$i]"), ""));
  const plain = explore(program(race("vcpu1"), ""));
  assert.equal(indexed.status, plain.status);
  assert.equal(indexed.orders, plain.orders);
  const full = { reduce: false, dedup: false };
  assert.equal(
    explore(program(race("vcpu[$i]"), ""), full).stats.complete,
    explore(program(race("vcpu1"), ""), full).stats.complete,
  );
});

Deno.test("in a handler on several vCPUs, $vcpu is the number of the one running it", () => {
  const r = runText(
    HEAD + `let $sum = 0
on vcpu[1..3] vector 0x20 {
  if vcpu[$vcpu].lapic.id == $vcpu << 24 { let $sum = $sum + $vcpu }
  eoi
}
for $i in 0..3 { vcpu[$i]: lapic enable }
for $i in 1..3 { vcpu[$i]: sti }
for $i in 1..3 {
  vcpu0: ipi vector=0x20 dest=$i
  run
}
expect $sum == 1 + 2 + 3
`,
    "v.scn",
  );
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
  let d = error("on vcpu[1..3] vector 0x20 { let $vcpu = 1 }\n");
  assert.equal(d.message, "'$vcpu' is the number of the handler's vCPU: bind another name");
  d = error("expect $vcpu == 0\n");
  assert.equal(d.message, "'$vcpu' is bound only in a handler's body, to the number of its vCPU");
});
