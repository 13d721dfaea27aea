/**
 * The compiled program against the tree-walking interpreter (metamorphic):
 * the same results, trace, history and errors over the scenario library,
 * the test fixtures and fuzzed programs; and which op kinds are compiled.
 */
import assert from "node:assert/strict";
import { collectFiles, fileLoader } from "../lib/load/files.ts";
import { checkText } from "../lib/api/scenario.ts";
import { runProgram } from "../lib/engine/run.ts";
import type { Program } from "../dsl/program.ts";
import type { Op } from "../dsl/program.ts";
import {
  Compiled,
  COMPILED_OPS,
  INTERPRETED_OPS,
  type Machine,
  usesNames,
} from "../lib/engine/compile.ts";
import { BUILTIN_SEEDS, corpusLoader, loadCorpus, mutantOf } from "./fuzz/main.ts";
import { buildPool } from "./fuzz/mutate.ts";

/** Runs a program both ways; the outcome as comparable data (a result, or the error). */
function bothWays(program: Program, maxSteps?: number): [unknown, unknown] {
  const one = (compile: boolean) => {
    try {
      return runProgram(program, { compile, maxSteps });
    } catch (e) {
      return { threw: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
  };
  return [one(true), one(false)];
}

Deno.test("compiled runs give what the interpreter gives, over the library and fixtures", () => {
  const files = collectFiles([
    "scenarios",
    "tests/fixtures/replay",
    "tests/fixtures/cli",
    "tests/fixtures/compile",
  ]).files;
  assert.ok(files.length > 150);
  for (const file of files) {
    let program: Program;
    try {
      program = checkText(Deno.readTextFileSync(file), file, { load: fileLoader });
    } catch {
      continue; // the fixtures of input errors
    }
    const [compiled, interpreted] = bothWays(program);
    assert.deepEqual(compiled, interpreted, file);
  }
});

Deno.test("compiled runs give what the interpreter gives, over 300 fuzzed programs", () => {
  const corpus = [
    ...loadCorpus(new URL("../scenarios", import.meta.url).pathname),
    ...BUILTIN_SEEDS,
  ];
  const pool = buildPool(corpus.map((f) => f.text));
  let ran = 0;
  for (let i = 0; i < 300; i++) {
    const m = mutantOf(corpus, pool, 14, i);
    let program: Program;
    try {
      program = checkText(m.text, m.base, { load: corpusLoader(corpus) });
    } catch {
      continue; // a mutant the checker refuses has nothing to run
    }
    ran++;
    const [compiled, interpreted] = bothWays(program, 5000);
    assert.deepEqual(compiled, interpreted, `mutant 14:${i} of ${m.base}`);
  }
  assert.ok(ran > 50, `only ${ran} mutants checked`);
});

Deno.test("the compiler compiles 'do', 'let', 'if', 'for', 'repeat', 'expect' and argument-less 'run'; the other op kinds go to exec", () => {
  // Every op kind, so that a new one fails to type-check here until it is placed.
  const ALL: Record<Op["op"], true> = {
    do: true,
    if: true,
    run: true,
    expect: true,
    always: true,
    let: true,
    repeat: true,
    for: true,
    parallel: true,
    window: true,
    timeline: true,
    select: true,
  };
  assert.deepEqual(
    [...COMPILED_OPS, ...INTERPRETED_OPS].sort(),
    Object.keys(ALL).sort(),
  );
  const calls: string[] = [];
  const m: Machine = {
    vms: [],
    env: new Map(),
    exec: (op) => calls.push(`exec ${op.op}`),
    args: () => ({}),
    eval: () => 0,
    cond: () => true,
    block: () => calls.push("block"),
    inputError: (_, message) => {
      throw new Error(message);
    },
    callWith: () => (calls.push("call"), 0),
    afterStep: () => {},
    runFor: () => calls.push("runFor"),
    repeat: () => calls.push("repeat"),
    forEach: () => calls.push("forEach"),
    charge: () => {},
    findHandler: () => undefined,
  };
  // One VM, whose platform has no command of its own to give (the call's `run` is used).
  const vms = [{ platform: { uncheckedRun: () => null } }] as unknown as Program["vms"];
  const compiled = new Compiled({ vms, handlers: [] });
  const loc = {
    source: "t",
    start: { offset: 0, line: 1, column: 1 },
    end: { offset: 0, line: 1, column: 1 },
  };
  for (const kind of Object.keys(ALL) as Op["op"][]) {
    calls.length = 0;
    const op = kind === "do"
      ? { op: "do", call: { vm: 0, args: [], loc, spec: { run: () => 0 } }, bind: null, loc }
      : kind === "run"
      ? { op: "run", duration: null, loc }
      : kind === "repeat"
      ? { op: kind, body: [], loc }
      : kind === "for"
      ? { op: kind, name: "x", items: { e: "lit", value: 1, loc }, body: [], loc }
      : kind === "if" || kind === "expect"
      ? {
        op: kind,
        cond: { c: "truthy", expr: { e: "lit", value: 1, loc }, loc },
        then: [],
        else: [],
        loc,
      }
      : kind === "let"
      ? { op: "let", name: "x", value: { e: "lit", value: 1, loc }, loc }
      : { op: kind, loc };
    compiled.step(op as unknown as Op)(m);
    assert.equal(
      calls.includes(`exec ${kind}`),
      INTERPRETED_OPS.includes(kind),
      `${kind}: ${calls.join(", ")}`,
    );
  }
});

Deno.test("usesNames: a handler body needs its variables bound only where it reads or writes one, or might", () => {
  const body = (text: string) =>
    checkText(
      `scenario "t"\nvm guest { arch x86_64 }\nlet $count = 0\nlet $last = 0\non vcpu0 vector 0x41 {\n${text}\n}\n`,
      "t.scn",
    ).handlers[0].body;
  const bound = new Set(["vector"]);
  assert.equal(usesNames(body("let $count = $count + 1\neoi"), bound), false);
  assert.equal(usesNames(body("let $last = $vector\neoi"), bound), true);
  assert.equal(usesNames(body("if $count == 0 { expect $vector == 0x41 }\neoi"), bound), true);
  assert.equal(usesNames(body("for $vector in [1] { let $count = 1 }"), bound), true);
  assert.equal(usesNames(body("for $i in [1] { let $count = $i }"), bound), false);
  assert.equal(usesNames(body("let $count = 1"), new Set(["count"])), true);
});
