// A long file's top-level statements lower to timelines (dsl/timeline.ts):
// the same ops, kept as data. These hold a program with timelines to the
// program without, over the library (every file skimmed, so that its runs
// of statements become timelines), as checked and as run.
import assert from "node:assert/strict";
import { collectFiles } from "../lib/load/files.ts";
import { parse, skim } from "../dsl/parse.ts";
import { check } from "../dsl/check/mod.ts";
import type { Op, Program } from "../dsl/program.ts";
import { PLATFORMS } from "../lib/api/platforms.ts";
import { runProgram } from "../lib/engine/run.ts";
import { ScnError } from "../lib/core/diagnostic.ts";
import { plainLoc } from "../lib/core/loc.ts";
import type { Loc } from "../dsl/ast.ts";

const { files } = collectFiles(["scenarios"]);

function programs(text: string, f: string): [Program, Program] | null {
  try {
    return [
      check(skim(text, f), { platforms: PLATFORMS, text }),
      check(parse(text, f), { platforms: PLATFORMS, text }),
    ];
  } catch (e) {
    if (e instanceof ScnError) return null;
    throw e;
  }
}

function expanded(body: readonly Op[]): Op[] {
  return body.flatMap((op) => op.op === "timeline" ? [...op.timeline.ops()] : op);
}

Deno.test("a timeline stands for the ops of its statements, and runs as they do, over the library", () => {
  let timelines = 0;
  for (const f of files) {
    const text = Deno.readTextFileSync(f);
    // Included files come whole, never as timelines; a fragment does not check alone.
    if (text.includes("include")) continue;
    const both = programs(text, f);
    if (both === null) continue;
    const [withTimelines, plain] = both;
    timelines += withTimelines.body.filter((op) => op.op === "timeline").length;
    assert.deepEqual(expanded(withTimelines.body), plain.body, f);
    // Each statement a step, as the plain program's.
    const steps = (p: Program) => {
      const seen: Loc[] = [];
      const r = runProgram(p, { onStep: (loc) => seen.push(plainLoc(loc)), maxSteps: 200_000 });
      return {
        r: JSON.parse(JSON.stringify(r, (_, v) => typeof v === "bigint" ? `${v}n` : v)),
        seen,
      };
    };
    assert.deepEqual(steps(withTimelines), steps(plain), f);
  }
  assert.ok(timelines > 20, `only ${timelines} timelines`);
});

Deno.test("statements written alike share one op; each is told apart by its location", () => {
  const text = 'scenario "n"\nvm g { arch x86_64 }\n' + "vcpu0: nop\nrun\n".repeat(100) +
    "vcpu0: frob\n";
  assert.throws(
    () => check(skim(text, "n.scn"), { platforms: PLATFORMS, text }),
    /unknown command 'frob'/,
  );
  const ok = text.replace("vcpu0: frob\n", "expect vcpu0.lapic.irr == {}\n");
  const p = check(skim(ok, "n.scn"), { platforms: PLATFORMS, text: ok });
  assert.deepEqual(p.body.map((op) => op.op), ["timeline"]);
  const t = (p.body[0] as Extract<Op, { op: "timeline" }>).timeline;
  assert.equal(t.length, 201);
  assert.equal(t.templateOf(0), t.templateOf(198));
  assert.equal(t.op(198).loc.start.line, 2 + 199);
  assert.equal(t.op(200).op, "expect");
});

Deno.test("a statement written like one that failed is checked again, and each is reported", () => {
  const text = 'scenario "n"\nvm g { arch x86_64 }\n' + "vcpu0: nop\nrun\n".repeat(20) +
    "vcpu0: eoi\nlet $x = $v\n".repeat(20) + "let $v = 1\n" + "let $x = $v\n".repeat(20) +
    "vcpu0: nopp\n".repeat(3);
  const messages = (how: typeof parse | typeof skim, checkOnly: boolean) => {
    try {
      check(how(text, "n.scn"), { platforms: PLATFORMS, text, checkOnly });
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      return e.diagnostics.map((d) => `${d.loc.start.line}:${d.loc.start.column} ${d.message}`);
    }
    return [];
  };
  const whole = messages(parse, false);
  assert.equal(whole.length, 23);
  assert.deepEqual(messages(skim, false), whole);
  assert.deepEqual(messages(skim, true), whole);
});

Deno.test("a command a VM does not offer is reported at each statement written alike", () => {
  const text = 'scenario "n"\nvm g { arch x86_64  hypervisor xen { domain pv }  vcpus 1 }\n' +
    "vcpu0: nop\nvcpu0: sti\n".repeat(20);
  const lines = (how: typeof parse | typeof skim, checkOnly: boolean) => {
    try {
      check(how(text, "n.scn"), { platforms: PLATFORMS, text, checkOnly });
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
      return e.diagnostics.map((d) => d.loc.start.line);
    }
    return [];
  };
  const whole = lines(parse, false);
  assert.equal(whole.length, 20);
  assert.deepEqual(lines(skim, false), whole);
  assert.deepEqual(lines(skim, true), whole);
});
