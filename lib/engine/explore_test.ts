import assert from "node:assert/strict";
import type { Program } from "../../dsl/program.ts";
import type { Val } from "../core/table.ts";
import { ScnError } from "../core/diagnostic.ts";
import { checkText } from "../api/scenario.ts";
import { collectFiles, fileLoader } from "../load/files.ts";
import { formatVal } from "../core/values.ts";
import { type ParallelOp, runProgram, type RunState, type Scheduler } from "./run.ts";
import {
  deviationsOf,
  explore,
  type ExploreOptions,
  type ExploreResult,
  exploreSchedule,
  SeenSet,
} from "./explore.ts";
import { exploreWithWorkers } from "../cli/explore_workers.ts";
import {
  blockPlan,
  enabledSteps,
  formatSchedule,
  orderProblem,
  parallelBlocks,
  parseSchedule,
  ReplayScheduler,
  type ScheduleEntry,
} from "./explore_schedule.ts";
import { blockIndependence, stepFootprint } from "./explore_footprint.ts";
import { Prng } from "../core/prng.ts";

const FULL: ExploreOptions = { reduce: false, dedup: false };
const MODES: [string, ExploreOptions][] = [
  ["reduce+dedup", {}],
  ["reduce", { dedup: false }],
  ["dedup", { reduce: false }],
  ["full", FULL],
];

function program(text: string, name = "t.scn"): Program {
  return checkText(text, name, { load: fileLoader });
}

function exploreError(p: Program, options: ExploreOptions): ScnError {
  try {
    explore(p, options);
  } catch (e) {
    if (e instanceof ScnError) return e;
    throw e;
  }
  assert.fail("expected a ScnError");
}

/** Every order of a block that keeps each actor's steps in written order. */
function allOrders(block: ParallelOp): number[][] {
  const plan = blockPlan(block);
  const out: number[][] = [];
  const done = block.body.map(() => false);
  const walk = (prefix: number[]) => {
    if (prefix.length === done.length) return void out.push(prefix);
    for (const i of enabledSteps(plan, done)) {
      done[i] = true;
      walk([...prefix, i]);
      done[i] = false;
    }
  };
  walk([]);
  return out;
}

/** Runs the first block in `order` (later blocks as written), watching the state at each step. */
function runOrder(
  p: Program,
  order: readonly number[],
  watch?: (state: RunState, block: ParallelOp) => void,
) {
  const first = parallelBlocks(p)[0];
  const s: Scheduler = {
    next(block, done, state) {
      watch?.(state, block);
      if (block !== first) return done.indexOf(false);
      return order[done.filter(Boolean).length];
    },
  };
  return runProgram(p, { scheduler: s, trace: false });
}

// One IOAPIC level race shared by the explore tests and bench: the EOI can come before the line drops.
const RACE = Deno.readTextFileSync(
  new URL("../../tests/fixtures/explore/eoi_before_deassert.scn", import.meta.url),
);

Deno.test("explore: the first counterexample has the fewest steps out of written order", () => {
  const p = program(RACE);
  const block = parallelBlocks(p)[0];
  // Brute force: the fewest deviations of any failing order.
  let best = Infinity;
  for (const order of allOrders(block)) {
    if (runOrder(p, order).failures.length === 0) continue;
    best = Math.min(best, deviationsOf([{ block, occurrence: 1, order }]));
  }
  assert.equal(best, 2);
  for (const [mode, options] of MODES) {
    const r = explore(p, options);
    assert.equal(r.status, "fail", mode);
    assert.equal(r.counterexample!.deviations, best, mode);
    assert.equal(r.counterexample!.token, "8:2,3,0,1", mode);
  }
});

Deno.test("explore: a passing scenario reports every order passing, and counts them", () => {
  const p = program(RACE.replace("expect vcpu0 took 0x9a once", "expect ioapic.pin[20].line == 0"));
  for (const [mode, options] of MODES) {
    const r = explore(p, options);
    assert.equal(r.status, "pass", mode);
    assert.equal(r.counterexample, null, mode);
    // 4 steps, actors of 1, 1 and 2 steps: 4! / 2! orders.
    assert.equal(r.orders, 12n, mode);
    assert.equal(r.blocks, 1, mode);
  }
  assert.equal(explore(p, FULL).stats.complete, 12);
});

Deno.test("explore: states already seen are not explored again", () => {
  // Four MSIs to four vCPUs commute: orders meet in the same states.
  const p = program(`scenario "t"
vm g { arch x86_64  vcpus 4 }
vcpu0: lapic enable
vcpu1: lapic enable
vcpu2: lapic enable
vcpu3: lapic enable
parallel {
  device a: msi address=0xfee00000 data=0x41
  device b: msi address=0xfee01000 data=0x42
  device c: msi address=0xfee02000 data=0x43
  device d: msi address=0xfee03000 data=0x44
}
expect vcpu0.lapic.irr == {0x41}
`);
  const full = explore(p, FULL);
  const dedup = explore(p, { reduce: false });
  assert.equal(full.status, "pass");
  assert.equal(dedup.status, "pass");
  assert.equal(full.stats.complete, 24);
  assert.ok(dedup.stats.deduped > 0);
  assert.ok(dedup.stats.complete < full.stats.complete);
  assert.ok(dedup.stats.runs < full.stats.runs);
});

Deno.test("SeenSet: a state seen with a smaller sleep set covers a larger one", () => {
  const s = new SeenSet();
  s.add("a", [1, 3]);
  assert.equal(s.covers("a", [1, 3]), true);
  assert.equal(s.covers("a", [0, 1, 3]), true);
  assert.equal(s.covers("a", [1]), false);
  assert.equal(s.covers("b", [1, 3]), false);
});

Deno.test("footprints: only declared or known steps are independent", () => {
  const p = program(`scenario "t"
vm g { arch x86_64  vcpus 2 }
parallel {
  vcpu0: sti
  vcpu1: cli
  device d: msi address=0xfee00000 data=0x41
  vcpu1: eoi
  vmm: kvm signal_msi address=0xfee00000 data=0x42 -> $r
  vcpu0: nop
}
`);
  const block = parallelBlocks(p)[0];
  assert.deepEqual(block.body.map((op) => stepFootprint(op, p) && [...stepFootprint(op, p)!]), [
    ["0:cpu:0"],
    ["0:cpu:1"],
    ["0:plumbing"],
    null,
    ["0:plumbing", "$r"],
    ["0:cpu:0"],
  ]);
  const ind = blockIndependence(block, p).independent;
  assert.equal(ind[0][1], true); // two vCPUs' own flags
  assert.equal(ind[0][2], true); // a device never touches a vCPU's flags
  assert.equal(ind[2][4], false); // two MSIs share the plumbing
  assert.equal(ind[1][3], false); // the same actor keeps its order
  assert.equal(ind[0][3], false); // EOI is not declared: everything
  assert.equal(ind[0][5], false); // the same vCPU
});

Deno.test("footprints: with Xen, device and VMM actions touch everything", () => {
  const p = program(`scenario "t"
vm g { arch x86_64  hypervisor xen  vcpus 1 }
parallel {
  vcpu0: sti
  device d: msi address=0xfee00000 data=0x41
}
`);
  const block = parallelBlocks(p)[0];
  assert.equal(stepFootprint(block.body[1], p), null);
  assert.equal(blockIndependence(block, p).independent[0][1], false);
});

// ---- the reduction never hides a failure the full search finds ----------------------

const X86_STEPS = [
  "vcpu0: sti",
  "vcpu0: cli",
  "vcpu0: nop",
  "vcpu1: sti",
  "vcpu1: nop",
  "vcpu0: eoi",
  "vcpu1: eoi",
  "vcpu0: write lapic.tpr 0x90",
  "vcpu1: write lapic.tpr 0x30",
  "device nic: deassert gsi=20",
  "device nic: assert gsi=20",
  "device d: msi address=0xfee00000 data=0x41",
  "device d: msi address=0xfee01000 data=0x42",
  "device e: msi address=0xfee01000 data=0x9a",
  "vmm: kvm signal_msi address=0xfee00000 data=0x43 -> $r",
  "vcpu1: write ioapic.redtbl[20] vector=0x9a trigger=level dest=1",
];

const X86_HEAD = `scenario "random"
vm g { arch x86_64  vcpus 2 }
vcpu0: lapic enable
vcpu1: lapic enable
vcpu0: sti
vcpu0: write ioapic.redtbl[20] vector=0x9a trigger=level dest=0
device nic: assert gsi=20
run
`;

const X86_PROBES = [
  "vcpu0.lapic.irr",
  "vcpu0.lapic.isr",
  "vcpu1.lapic.irr",
  "vcpu1.lapic.isr",
  "vcpu0.if",
  "vcpu1.if",
  "ioapic.pin[20].remote_irr",
  "ioapic.pin[20].line",
];

/** Reads a state path like `vcpu0.lapic.irr` or `ioapic.pin[20].line` from a run's state. */
function probe(p: Program, state: RunState, path: string): Val {
  const idx: number[] = [];
  const pattern = path.replace(/^vcpu(\d+)/, (_, n) => (idx.push(Number(n)), "vcpu#")).replace(
    /\[(\d+)\]/g,
    (_, n) => (idx.push(Number(n)), "[#]"),
  );
  const spec = p.vms[0].platform.state.find((s) => s.pattern === pattern)!;
  return spec.get(state.vms[0], idx);
}

function tuple(p: Program, state: RunState, probes: readonly string[]): string {
  return probes.map((x) => `${x} == ${formatVal(probe(p, state, x))}`).join(" and ");
}

/**
 * For a scenario with one parallel block then `run`, the full enumeration's
 * reachable states: at every step of the block and at the end.
 */
function reachable(text: string, probes: readonly string[]) {
  const p = program(`${text}parallel {\n  vcpu0: nop\n}\n`);
  const block = parallelBlocks(p)[0];
  const steps = new Set<string>(), ends = new Set<string>();
  for (const order of allOrders(block)) {
    runOrder(p, order, (state, b) => (b === block ? steps : ends).add(tuple(p, state, probes)));
  }
  return { steps, ends };
}

function verdicts(text: string): Record<string, ExploreResult["status"]> {
  const p = program(text);
  return Object.fromEntries(MODES.map(([m, o]) => [m, explore(p, o).status]));
}

Deno.test("the reduction and deduplication find every reachable state the full search finds", async (t) => {
  const rng = new Prng(20250601);
  for (let n = 0; n < 24; n++) {
    const k = 3 + rng.below(4);
    const steps: string[] = [];
    while (steps.length < k) {
      const s = rng.pick(X86_STEPS);
      if (!steps.includes(s)) steps.push(s);
    }
    const base = `${X86_HEAD}parallel {\n${steps.map((s) => `  ${s}\n`).join("")}}\nrun\n`;
    await t.step(`random block ${n}: ${steps.join(" | ")}`, () => {
      const { steps: mid, ends } = reachable(base, X86_PROBES);
      // Each reachable end state, forbidden: every mode must find the order that reaches it.
      for (const end of [...ends].slice(0, 5)) {
        const v = verdicts(`${base}expect not (${end})\n`);
        assert.deepEqual(
          v,
          { "reduce+dedup": "fail", reduce: "fail", dedup: "fail", full: "fail" },
          end,
        );
      }
      // Each state between steps, forbidden by an invariant: found too.
      for (const s of [...mid].slice(0, 4)) {
        const text = base.replace("parallel {", `always not (${s})\nparallel {`);
        const v = verdicts(text);
        assert.deepEqual(
          v,
          { "reduce+dedup": "fail", reduce: "fail", dedup: "fail", full: "fail" },
          s,
        );
      }
      // An end state no order reaches: every mode passes.
      const v = verdicts(`${base}expect not (vcpu0.lapic.irr == {0xee})\n`);
      assert.deepEqual(v, { "reduce+dedup": "pass", reduce: "pass", dedup: "pass", full: "pass" });
    });
  }
});

Deno.test("the reduction finds every end state of the ITS MOVI race", () => {
  const file = "scenarios/races/its_movi_vs_msi.scn";
  const text = Deno.readTextFileSync(file);
  const base = text.slice(0, text.indexOf("\nrun\n") + 5);
  const probes = ["vcpu0.gic.pending", "vcpu1.gic.pending", "lpi[8192].target", "vcpu1.maski"]
    .filter((x) => {
      try {
        program(`${base}expect ${x} == 0\n`, file);
        return true;
      } catch {
        return false;
      }
    });
  assert.ok(probes.length >= 3);
  const { ends } = reachable(base, probes);
  for (const end of ends) {
    const p = program(`${base}expect not (${end})\n`, file);
    assert.equal(explore(p, {}).status, "fail", end);
    assert.equal(explore(p, FULL).status, "fail", end);
  }
});

Deno.test("every scenario of the library with a parallel block: the same verdict in every mode", async (t) => {
  for (const file of collectFiles(["scenarios"]).files) {
    const text = Deno.readTextFileSync(file);
    if (!/^\s*parallel\s*\{/m.test(text)) continue;
    await t.step(file, () => {
      const p = program(text, file);
      const results = MODES.map(([, o]) => explore(p, o));
      for (const r of results) assert.equal(r.status, results[0].status);
      for (const r of results) assert.equal(r.orders, results[0].orders);
    });
  }
});

// ---- budgets ------------------------------------------------------------------------------

Deno.test("explore: the state budget stops the search at the parallel block", () => {
  const p = program(RACE.replace("expect vcpu0 took 0x9a once", "expect ioapic.pin[20].line == 0"));
  const e = exploreError(p, { maxStates: 3, reduce: false });
  const d = e.diagnostics[0];
  assert.equal(d.kind, "budget");
  assert.match(d.message, /state budget exhausted: more than 3 states/);
  assert.equal(d.loc.start.line, 8);
  assert.match(d.hint!, /--max-states/);
});

Deno.test("explore: the depth budget stops an order that makes too many choices", () => {
  const p = program(RACE);
  const d = exploreError(p, { maxDepth: 2 }).diagnostics[0];
  assert.equal(d.kind, "budget");
  assert.match(d.message, /depth budget exhausted: one order makes more than 2 choices/);
  assert.equal(d.loc.start.line, 8);
  assert.match(d.hint!, /--max-depth/);
});

Deno.test("explore: an input error met in one order names that order", () => {
  // $r is bound only when the vmm step runs first.
  const p = program(`scenario "t"
vm g { arch x86_64  vcpus 2 }
parallel {
  vmm: kvm signal_msi address=0xfee00000 data=0x41 -> $r
  vcpu1: write lapic.tpr $r
}
`);
  const d = exploreError(p, {}).diagnostics[0];
  assert.match(d.message, /'\$r' has no value yet/);
  assert.equal(d.loc.start.line, 5);
  assert.match(d.hint!, /in the order --schedule 3:1,0/);
});

// ---- the counterexample as a scenario, and the replay token -------------------------------

Deno.test("the plain scenario of a counterexample fails under run, with the same failures", () => {
  const cases: [string, string][] = [["race.scn", RACE]];
  for (const f of collectFiles(["scenarios/races"]).files) {
    cases.push([f, Deno.readTextFileSync(f)]);
  }
  let checked = 0;
  for (const [file, text] of cases) {
    const r = explore(program(text, file));
    const cx = r.counterexample;
    if (!cx) continue;
    if ("why" in cx.linear && /between the steps of/.test(cx.linear.why)) {
      // An order inside an interruptible command has only its token.
      const p = program(text, file);
      const replay = runProgram(p, {
        scheduler: new ReplayScheduler(parseSchedule(cx.token, file) as ScheduleEntry[], p),
      });
      assert.deepEqual(replay.failures.map((f) => f.text), cx.result.failures.map((f) => f.text));
      continue;
    }
    assert.ok("text" in cx.linear, file);
    const linear = (cx.linear as { text: string }).text;
    assert.doesNotMatch(linear.replace(/#.*$/gm, ""), /\bparallel\b/);
    const again = runProgram(program(linear, file));
    assert.equal(again.status, "fail", file);
    assert.deepEqual(
      again.failures.map((f) => [f.text, f.expected, f.actual]),
      cx.result.failures.map((f) => [f.text, f.expected, f.actual]),
    );
    checked++;
  }
  assert.ok(checked >= 3);
});

Deno.test("the plain scenario of a quoted one starts at its own first line and column", () => {
  // What lib/load/load.ts makes of a `> ` quote on lines 4.. of an email.
  const padded = "\n\n\n" + RACE.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n");
  const cx = explore(program(padded, "reply.eml")).counterexample!;
  const text = (cx.linear as { text: string }).text;
  const body = text.split("\n").filter((l) => !l.startsWith("#"));
  assert.equal(body[0], 'scenario "EOI before the device drops its line"');
  assert.equal(runProgram(program(text, "linear.scn")).status, "fail");
});

Deno.test("schedule tokens: format and parse round-trip; bad ones are explained", () => {
  const entries: ScheduleEntry[] = [
    { source: "a.scn", line: 12, occurrence: 1, order: [1, 0] },
    { source: "a.scn", line: 12, occurrence: 3, order: [0, 2, 1] },
    { source: "_inc.scn", line: 4, occurrence: 1, order: [1, 0] },
  ];
  const token = formatSchedule(entries, "a.scn");
  assert.equal(token, "12:1,0+12#3:0,2,1+_inc.scn@4:1,0");
  assert.deepEqual(parseSchedule(token, "a.scn"), entries);
  // Included files are named relative to the scenario's directory.
  const inc = [{ source: "/tmp/s/sub/_f.scn", line: 1, occurrence: 1, order: [1, 0] }];
  assert.equal(formatSchedule(inc, "/tmp/s/main.scn"), "sub/_f.scn@1:1,0");
  assert.deepEqual(parseSchedule("sub/_f.scn@1:1,0", "/tmp/s/main.scn"), inc);
  assert.match(parseSchedule("12-1,0", "a.scn") as string, /not a schedule entry/);
  assert.match(parseSchedule("", "a.scn") as string, /empty/);
  assert.match(parseSchedule("12:1,0+12#1:0,1", "a.scn") as string, /twice/);
  assert.match(parseSchedule("12#0:1,0", "a.scn") as string, /count from 1/);
});

Deno.test("the replay token reproduces the counterexample under run", () => {
  const p = program(RACE);
  const r = explore(p);
  const cx = r.counterexample!;
  const replay = new ReplayScheduler(parseSchedule(cx.token, p.file) as ScheduleEntry[], p);
  const again = runProgram(p, { scheduler: replay });
  replay.finish();
  assert.equal(again.status, "fail");
  assert.deepEqual(again.failures, cx.result.failures);
  assert.deepEqual(again.trace, cx.result.trace);
  // And explore --schedule reports the same order.
  const one = exploreSchedule(p, parseSchedule(cx.token, p.file) as ScheduleEntry[]);
  assert.equal(one.status, "fail");
  assert.equal(one.counterexample!.token, cx.token);
  assert.equal(one.counterexample!.deviations, cx.deviations);
});

Deno.test("replay: a token that does not fit the scenario is a located error", () => {
  const p = program(RACE);
  const bad = (token: string) => {
    const replay = new ReplayScheduler(parseSchedule(token, p.file) as ScheduleEntry[], p);
    try {
      runProgram(p, { scheduler: replay });
      replay.finish();
    } catch (e) {
      if (e instanceof ScnError) return e.diagnostics[0];
      throw e;
    }
    assert.fail(`token ${token} was accepted`);
  };
  let d = bad("8:3,2,0,1");
  assert.match(d.message, /step 3 runs before an earlier step of the same actor \(vcpu0\)/);
  assert.equal(d.loc.start.line, 8);
  d = bad("8:1,0");
  assert.match(d.message, /has 4 steps but the schedule orders 2/);
  d = bad("9:1,0");
  assert.match(d.message, /no parallel block at line 9|none starts there/);
  assert.equal(d.loc.start.line, 9);
  assert.match(d.hint!, /line\(s\) 8/);
  d = bad("8#2:1,0,2,3");
  assert.match(d.message, /run 2 of this parallel block, but it ran 1 time/);
});

Deno.test("blocks in a loop: the token names the run that left written order", () => {
  const p = program(`scenario "t"
vm g { arch x86_64  vcpus 1 }
vcpu0: lapic enable
vcpu0: sti
vcpu0: write ioapic.redtbl[20] vector=0x9a trigger=level dest=0
repeat 2 {
  device nic: assert gsi=20
  run
  parallel {
    device nic: deassert gsi=20
    vcpu0: eoi
  }
  run
}
expect vcpu0 took 0x9a twice
`);
  // Out of order in the first run, the EOI re-delivers while the line is high, but
  // the second run's assertion is then held by remote IRR: still two takes. Only
  // the second run out of order gives a third.
  const r = explore(p, { reduce: false });
  assert.equal(r.status, "fail");
  assert.equal(r.counterexample!.token, "9#2:1,0");
  assert.equal(r.orders, null);
  assert.equal(
    exploreSchedule(p, parseSchedule("9:1,0", p.file) as ScheduleEntry[]).status,
    "pass",
  );
  // Two runs of the block in different orders cannot be written as one scenario...
  assert.deepEqual(r.counterexample!.linear, {
    why: "the parallel block at line 9 runs more than once, in different orders",
  });
  // ...the same order in every run can.
  const same = exploreSchedule(p, parseSchedule("9:1,0+9#2:1,0", p.file) as ScheduleEntry[]);
  assert.equal(same.status, "fail");
  assert.ok("text" in same.counterexample!.linear);
  const linear = (same.counterexample!.linear as { text: string }).text;
  assert.equal(runProgram(program(linear)).status, "fail");
});

Deno.test("orderProblem() checks permutations and program order", () => {
  const p = program(RACE);
  const plan = blockPlan(parallelBlocks(p)[0]);
  assert.deepEqual(plan.actors, ["0:device nic", "0:device other", "0:vcpu0"]);
  assert.deepEqual(plan.chainSizes, [1, 1, 2]);
  assert.equal(orderProblem(plan, [2, 3, 0, 1]), null);
  assert.match(orderProblem(plan, [0, 0, 1, 2])!, /named twice/);
  assert.match(orderProblem(plan, [0, 1, 2, 7])!, /no step 7/);
});

Deno.test("an expect or let inside a parallel block follows the action before it", () => {
  const p = program(`scenario "t"
vm g { arch x86_64  vcpus 2 }
parallel {
  vcpu0: lapic enable
  expect vcpu0.lapic.svr == 0x1ff
  vcpu1: nop
  let $x = 1
}
`);
  const plan = blockPlan(parallelBlocks(p)[0]);
  assert.deepEqual(plan.actorOf, [0, 0, 1, 1]);
  assert.equal(explore(p).status, "pass");
  assert.equal(explore(p).orders, 6n);
});

Deno.test("explore over workers gives the answer of one thread", async () => {
  for (
    const file of [
      "scenarios/races/its_movi_vs_msi.scn",
      "scenarios/races/its_msi_before_mapti.scn",
    ]
  ) {
    const p = program(Deno.readTextFileSync(file), file);
    const one = explore(p);
    const three = await exploreWithWorkers(p, file, {}, 3);
    assert.equal(three.status, one.status);
    assert.deepEqual(three.stats, one.stats);
    assert.equal(three.orders, one.orders);
    assert.equal(three.counterexample?.token, one.counterexample?.token);
  }
});

Deno.test("a block in an included file: the token names the file, relative to the scenario", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn-explore-inc-" });
  Deno.writeTextFileSync(
    `${dir}/_frag.scn`,
    "parallel {\n  device nic: deassert gsi=20\n  vcpu0: if vcpu0.if == 1 {\n    eoi\n  }\n}\n",
  );
  const main = `${dir}/main.scn`;
  const text = RACE.replace(/parallel \{[^}]*\}\n/, 'include "_frag.scn"\n');
  Deno.writeTextFileSync(main, text);
  const p = program(text, main);
  // The `vcpu0: if` step is vcpu0's.
  assert.deepEqual(blockPlan(parallelBlocks(p)[0]).actors, ["0:device nic", "0:vcpu0"]);
  const r = explore(p);
  assert.equal(r.status, "fail");
  assert.equal(r.counterexample!.token, "_frag.scn@1:1,0");
  assert.deepEqual(r.counterexample!.linear, {
    why: `the parallel block at ${dir}/_frag.scn:1 is in an included file`,
  });
  const again = exploreSchedule(p, parseSchedule("_frag.scn@1:1,0", main) as ScheduleEntry[]);
  assert.deepEqual(again.counterexample!.result.failures, r.counterexample!.result.failures);
});

Deno.test("explore: a known race is XFAIL only when the marked expectation is all that broke", () => {
  const path = "scenarios/races/ioapic_level_eoi_before_quiesce.scn";
  const written = Deno.readTextFileSync(new URL(`../../${path}`, import.meta.url));
  const known = explore(checkText(written, path));
  assert.equal(known.status, "xfail");
  // Mark only the second interrupt: the racing order also leaves remote IRR set, an
  // expectation nobody said would fail, so the verdict is FAIL.
  const narrower = written.replace(
    "vcpu0 took 0x9a once and ioapic.pin[20].remote_irr == 0",
    "vcpu0 took 0x9a once\nexpect ioapic.pin[20].remote_irr == 0",
  );
  assert.notEqual(narrower, written);
  const r = explore(checkText(narrower, path));
  assert.equal(r.status, "fail");
  assert.deepEqual(r.counterexample?.result.failures.map((f) => f.text), [
    "vcpu0 took 0x9a once",
    "ioapic.pin[20].remote_irr == 0",
  ]);
});
