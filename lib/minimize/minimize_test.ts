import assert from "node:assert/strict";
import { minimize, type MinimizeResult } from "./minimize.ts";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { fileLoader } from "../load/files.ts";
import { runProgram, type ScenarioResult } from "../engine/run.ts";
import { explore } from "../engine/explore.ts";
import { minimizeCommand } from "../cli/minimize_command.ts";
import type { Io } from "../cli/main.ts";
import { ScnError } from "../core/diagnostic.ts";

const NOISY = `scenario "a level-triggered vector is taken twice"
tags x86, ioapic
# The claim is wrong on purpose: without an EOI the vector is taken once.

vm guest { arch x86_64  vcpus 2 }

vcpu1: lapic enable                 # noise
vcpu0: lapic enable
vcpu0: sti
vcpu0: write ioapic.redtbl[20] vector=0x9a trigger=level dest=0
vcpu0: write ioapic.redtbl[21] vector=0x9b trigger=edge dest=1
repeat 2 {
  vcpu1: sti
}
on vcpu1 vector 0x9b { eoi }
device nic: assert gsi=20
run 5ms
expect vcpu0.lapic.isr == {0x9a}
expect vcpu0 took 0x9a twice        # the failing one
expect vcpu1 took nothing
`;

function run(text: string, file: string): ScenarioResult {
  return runProgram(check(parse(text, file), { platforms: PLATFORMS, load: fileLoader, text }));
}

function minimized(r: MinimizeResult): Extract<MinimizeResult, { kind: "minimized" }> {
  assert.equal(r.kind, "minimized");
  return r as Extract<MinimizeResult, { kind: "minimized" }>;
}

/** The statement lines of a scenario: no comments, no blank lines. */
function statements(text: string): string[] {
  return text.split("\n").map((l) => l.replace(/\s+#.*$/, "")).filter((l) =>
    l.trim() !== "" && !l.startsWith("#")
  );
}

Deno.test("minimize() shrinks a failing scenario with noise to the essential statements, failing at the same expectation", () => {
  const r = minimized(minimize(NOISY, "noisy.scn"));
  assert.equal(r.target.text, "vcpu0 took 0x9a twice");
  assert.deepEqual([r.target.loc.start.line, r.target.loc.start.column], [19, 1]);
  assert.deepEqual(statements(r.text), [
    'scenario "a level-triggered vector is taken twice"',
    "tags x86, ioapic",
    "vm guest { arch x86_64  vcpus 1 }",
    "vcpu0: lapic enable",
    "vcpu0: sti",
    // dest=0 goes (0 is what an unnamed field is), and so does trigger=level: an edge
    // vector is taken once too, the same values ("twice" expected, 0x9a seen once).
    "vcpu0: write ioapic.redtbl[20] vector=0x9a",
    "device nic: assert gsi=20",
    "run",
    "expect vcpu0 took 0x9a twice",
  ]);
  // The comments of what remains stay; those of what went, go.
  assert.match(r.text, /^# The claim is wrong on purpose/m);
  assert.match(r.text, /expect vcpu0 took 0x9a twice {2}# the failing one/);
  assert.doesNotMatch(r.text, /noise/);
  assert.deepEqual(r.statements, { before: 17, after: 9 });

  const again = run(r.text, "small.scn");
  assert.equal(again.status, "fail");
  assert.equal(again.failures.length, 1);
  assert.equal(again.failures[0].text, "vcpu0 took 0x9a twice");
  assert.equal(again.failures[0].actual, r.target.actual);
  assert.equal(r.final.actual, "0x9a");
});

Deno.test("minimize() gives the same result and run count every time", () => {
  const a = minimized(minimize(NOISY, "noisy.scn"));
  const b = minimized(minimize(NOISY, "noisy.scn"));
  assert.equal(a.text, b.text);
  assert.equal(a.runs, b.runs);
});

Deno.test("minimize() keeps the failing expectation's values, and with keepCauses its reasons", () => {
  // Dropping the assert makes `took 0x9a twice` fail too, seeing nothing:
  // not the same failure as seeing 0x9a once, so the assert must stay.
  assert.ok(minimized(minimize(NOISY, "noisy.scn")).text.includes("device nic: assert gsi=20"));
  // With the causes kept, the level trigger that re-delivers 0x9a stays too.
  const r = minimized(minimize(NOISY, "noisy.scn", { keepCauses: true }));
  assert.ok(r.text.includes("device nic: assert gsi=20"));
  assert.ok(r.text.includes("vector=0x9a trigger=level"));
  assert.equal(r.final.actual, r.target.actual);
  assert.deepEqual(
    r.final.events.map((e) => `${e.source} ${e.kind}: ${e.text}`),
    r.target.events.map((e) => `${e.source} ${e.kind}: ${e.text}`),
  );
});

Deno.test("minimize() says a passing scenario passes; scn minimize exits 2 with 'nothing to minimize'", () => {
  const passing = NOISY.replace("took 0x9a twice", "took 0x9a once");
  assert.deepEqual(minimize(passing, "pass.scn"), { kind: "passes", status: "pass" });

  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  Deno.writeTextFileSync(`${dir}/pass.scn`, passing);
  const c = cli([`${dir}/pass.scn`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out, []);
  assert.deepEqual(c.err, ["scn minimize: nothing to minimize: the scenario passes"]);
  Deno.removeSync(dir, { recursive: true });
});

for (const seed of ["001_unmask_bug", "002_vcpu_info_race"]) {
  Deno.test(`minimize() of seed ${seed} (XFAIL) gives a smaller scenario that still fails the same way`, () => {
    const file = `scenarios/seeds/${seed}.scn`;
    const text = Deno.readTextFileSync(new URL(`../../${file}`, import.meta.url));
    const r = minimized(minimize(text, file));
    assert.ok(r.statements.after < r.statements.before, JSON.stringify(r.statements));
    assert.equal(r.budgetReached, false);
    // Metadata stays, `expect failure` included: the result is XFAIL as the seed is.
    assert.match(r.text, /^expect failure "/m);
    const again = run(r.text, file);
    assert.equal(again.status, "xfail");
    const same = again.failures.find((f) => f.text === r.target.text);
    assert.ok(same, `no failure of '${r.target.text}' in the result`);
    assert.equal(same.expected, r.target.expected);
    assert.equal(same.actual, r.target.actual);
  });
}

Deno.test("minimize() drops a statement that changes nothing the expectation sees (1-minimal by values)", () => {
  // Seed 001 with a no-op added: clearing a pending bit that is already clear.
  const file = "scenarios/seeds/001_unmask_bug.scn";
  const text = Deno.readTextFileSync(new URL(`../../${file}`, import.meta.url)).replace(
    "vcpu0: evtchn bind_ipi -> $p\n",
    "vcpu0: evtchn bind_ipi -> $p\nvcpu0: bit clear shared.evtchn_pending[$p]\n",
  );
  assert.ok(text.includes("bit clear shared.evtchn_pending"));
  const r = minimized(minimize(text, file));
  assert.ok(!r.text.includes("bit clear shared.evtchn_pending"), r.text);
  // Only the expectation says how it fails, so it fails the same way with nothing else.
  assert.deepEqual(statements(r.text).filter((l) => /:/.test(l) && !/^(scenario|tags)/.test(l)), [
    'expect failure "the event raised while masked is never delivered": vcpu0 took 0xf3 once',
  ]);
  assert.equal(r.final.actual, r.target.actual);
});

Deno.test("minimize() of seed 001 with keepCauses keeps the masked send and the guest's own mask clear", () => {
  const file = "scenarios/seeds/001_unmask_bug.scn";
  const text = Deno.readTextFileSync(new URL(`../../${file}`, import.meta.url));
  const kept = statements(minimized(minimize(text, file, { keepCauses: true })).text);
  for (
    const s of ["vcpu0: evtchn mask $p", "xen: send $p", "vcpu0: bit clear shared.evtchn_mask[$p]"]
  ) {
    assert.ok(kept.includes(s), `'${s}' was dropped: ${kept.join(" / ")}`);
  }
});

Deno.test("minimize() shrinks an explore counterexample (a linear scenario) and it still fails", () => {
  const file = "scenarios/races/its_msi_before_mapti.scn";
  const text = Deno.readTextFileSync(new URL(`../../${file}`, import.meta.url));
  const program = check(parse(text, file), { platforms: PLATFORMS, load: fileLoader, text });
  const linear = explore(program).counterexample?.linear;
  assert.ok(linear && "text" in linear, "explore found no linear counterexample");
  const r = minimized(minimize(linear.text, "its_linear.scn"));
  assert.ok(r.statements.after < r.statements.before);
  assert.ok(statements(r.text).every((l) => !l.startsWith("parallel")));
  const again = run(r.text, "its_linear.scn");
  assert.ok(again.failures.some((f) => f.text === r.target.text && f.actual === r.target.actual));
});

Deno.test("minimize() stops at the run budget with what it has, which still fails the same way", () => {
  const r = minimized(minimize(NOISY, "noisy.scn", { maxRuns: 3 }));
  assert.equal(r.budgetReached, true);
  assert.ok(r.runs <= 4, `${r.runs} runs`);
  const again = run(r.text, "noisy.scn");
  assert.ok(again.failures.some((f) => f.text === r.target.text && f.actual === r.target.actual));
});

Deno.test("minimize() replaces a repeat by its body when one pass shows the failure", () => {
  const text = `scenario "repeats"
vm guest { arch x86_64  vcpus 1 }
vcpu0: lapic enable
repeat 2 {
  vcpu0: write lapic.tpr 0x10
}
repeat 3 {
  vcpu0: write lapic.tpr 0x10
}
always vcpu0.lapic.tpr == 0
`;
  const r = minimized(minimize(text, "repeats.scn"));
  // What the invariant saw (0x10) is part of the failure: it does not shrink.
  assert.deepEqual(statements(r.text), [
    'scenario "repeats"',
    "vm guest { arch x86_64  vcpus 1 }",
    "vcpu0: write lapic.tpr 0x10",
    "always vcpu0.lapic.tpr == 0",
  ]);
});

Deno.test("minimize() throws the located input error of a scenario that does not check", () => {
  assert.throws(
    () => minimize('scenario "x"\nvm g { arch x86_64 }\nvcpu0: eio\n', "bad.scn"),
    (e) => {
      assert.ok(e instanceof ScnError);
      assert.equal(e.diagnostics[0].loc.start.line, 3);
      return true;
    },
  );
});

// ---- the command line ------------------------------------------------------------------

interface Captured {
  code: number;
  out: string[];
  err: string[];
  files: Map<string, string>;
}

function cli(args: string[], writeFile?: Io["writeFile"]): Captured {
  const c: Captured = { code: -1, out: [], err: [], files: new Map() };
  c.code = minimizeCommand(args, {
    out: (l) => c.out.push(l),
    err: (l) => c.err.push(l),
    color: false,
    writeFile: writeFile ?? ((p, t) => c.files.set(p, t)),
  });
  return c;
}

Deno.test("scn minimize FILE prints the scenario and says what it kept, removed and ran", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  Deno.writeTextFileSync(`${dir}/noisy.scn`, NOISY);
  const c = cli([`${dir}/noisy.scn`]);
  assert.equal(c.code, 0);
  assert.equal(c.out[0], 'scenario "a level-triggered vector is taken twice"');
  assert.equal(
    c.err[0],
    `kept: ${dir}/noisy.scn:19:1: expect vcpu0 took 0x9a twice (expected 0x9a 2 time(s), got 0x9a)`,
  );
  assert.match(c.err[1], /^removed 8 of 17 statements in \d+ runs; 9 remain$/);

  const o = cli([`${dir}/noisy.scn`, "--out", `${dir}/small.scn`]);
  assert.equal(o.code, 0);
  assert.equal(o.files.get(`${dir}/small.scn`), c.out.join("\n") + "\n");
  assert.equal(o.out.at(-1), `wrote ${dir}/small.scn`);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn minimize --max-runs says when the budget stopped it", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  Deno.writeTextFileSync(`${dir}/noisy.scn`, NOISY);
  const c = cli([`${dir}/noisy.scn`, "--max-runs", "3"]);
  assert.equal(c.code, 0);
  assert.match(c.err.at(-1)!, /^stopped at the run budget \(--max-runs 3\)/);
  assert.equal(cli([`${dir}/noisy.scn`, "--max-runs", "0"]).code, 2);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn minimize --out without write permission says how to grant it, exit 2", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  Deno.writeTextFileSync(`${dir}/noisy.scn`, NOISY);
  const c = cli([`${dir}/noisy.scn`, "--out", "small.scn"], () => {
    throw new Deno.errors.NotCapable("Requires write access");
  });
  assert.equal(c.code, 2);
  assert.deepEqual(c.err, [
    "scn minimize: writing 'small.scn' needs write permission: run with --allow-write=small.scn",
  ]);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn minimize on a syntax error prints the located diagnostic, exit 2", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  Deno.writeTextFileSync(`${dir}/bad.scn`, 'scenario "bad"\nexpect vcpu0 took\n');
  const c = cli([`${dir}/bad.scn`]);
  assert.equal(c.code, 2);
  assert.equal(c.err[0], `${dir}/bad.scn:2:18: error: unexpected end of line`);
  assert.ok(c.err.some((l) => /^\s*\|\s*\^/.test(l)), "a caret marks the spot");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("scn minimize HOST.md minimizes the scenario of a bug report, located in the host file", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scn_min_" });
  const host = `${dir}/bug.md`;
  Deno.writeTextFileSync(host, "# Bug\n\nThe scenario:\n\n```scn\n" + NOISY + "```\n");
  const c = cli([host]);
  assert.equal(c.code, 0);
  assert.equal(c.out[0], 'scenario "a level-triggered vector is taken twice"');
  // NOISY's line 19 is line 24 of the host: the fence opens at line 5.
  assert.match(c.err[0], new RegExp(`^kept: ${host}:24:1: expect vcpu0 took 0x9a twice`));
  const none = cli([`${host}:3`]);
  assert.equal(none.code, 2);
  assert.equal(none.err[0], `${host}:3:1: error: no scenario at line 3 of '${host}'`);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("minimize() reaches a fixpoint: minimizing its result removes no statement or argument", () => {
  const r = minimized(minimize(NOISY, "noisy.scn"));
  const again = minimized(minimize(r.text, "small.scn"));
  assert.equal(again.text, r.text);
  assert.equal(again.statements.after, again.statements.before);
});
