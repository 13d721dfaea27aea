/**
 * The generated loops (lib/engine/codegen.ts): their source is a function of
 * the program's shape only, whatever its names and literals; and, untraced,
 * runs that take them give what the tree walker gives (results, history,
 * steps, time, failures, errors) over the library and over random programs
 * whose handlers nest takes, fault, halt and run out of their budget.
 */
import assert from "node:assert/strict";
import { collectFiles, fileLoader } from "../lib/load/files.ts";
import { checkText } from "../lib/api/scenario.ts";
import { runProgram } from "../lib/engine/run.ts";
import type { Op, Program } from "../dsl/program.ts";
import { compiledProgram } from "../lib/engine/compile.ts";
import {
  repeatLoopSource,
  repeatShape,
  settleLoopSource,
  settleShape,
} from "../lib/engine/codegen.ts";
import { SKIPPED_NO_REGISTRY } from "./optional_npm.ts";
import { loadFastCheck } from "./fast_check.ts";

/** The outcome of an untraced run, compiled or walked, as comparable data. */
function untraced(program: Program, compile: boolean, maxSteps?: number): unknown {
  try {
    return runProgram(program, { compile, maxSteps, trace: false });
  } catch (e) {
    return { threw: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/** The `repeat` bodies of a block, nested ones too. */
function repeats(ops: readonly Op[]): Op[][] {
  return ops.flatMap((op) =>
    op.op === "repeat"
      ? [op.body, ...repeats(op.body)]
      : op.op === "if"
      ? [...repeats(op.then), ...repeats(op.else)]
      : op.op === "for"
      ? repeats(op.body)
      : []
  );
}

/** The generated sources a compiled run of `program` would use. */
function generatedSources(program: Program): string[] {
  const compiled = compiledProgram(program);
  const sources: string[] = [];
  for (const body of repeats(program.body)) {
    const kinds = repeatShape(compiled.block(body));
    if (kinds !== null) sources.push(repeatLoopSource(kinds));
  }
  if (program.vms.length === 1 && program.vms[0].vcpus === 1) {
    const handlers = program.handlers.filter((h) => h.vm === 0 && h.cpu === 0);
    const lengths = settleShape(handlers.map((h) => compiled.block(h.body)));
    if (lengths.some((n) => n >= 0)) sources.push(settleLoopSource(lengths));
  }
  return sources;
}

/** A scenario of one shape: names, literals and text are the parameters. */
function shaped(p: { title: string; vm: string; bind: string; data: number; comment: string }) {
  return `scenario "${p.title}"\n` +
    `# ${p.comment}\n` +
    `vm ${p.vm} { arch x86_64 }\n` +
    `on vcpu0 vector 0x${p.data.toString(16)} { eoi\n  nop }\n` +
    `on vcpu0 nmi { let $y = 1 }\n` +
    `vcpu0: lapic enable\nvcpu0: sti\n` +
    `repeat 3 {\n` +
    `  vmm: kvm signal_msi address=0xfee00000 data=0x${p.data.toString(16)} -> $${p.bind}\n` +
    `  run\n}\n`;
}

Deno.test("generated source is the same for programs of one shape, whatever their names and literals", () => {
  const plain = checkText(
    shaped({ title: "plain", vm: "g", bind: "r", data: 0x41, comment: "plain" }),
    "plain.scn",
  );
  const hostile = [
    'q\\"b`c */ ${x} \\\\n \u2028 \u2029 \u00e9 \u2603 \\" + alert(1) + \\"',
    "`${globalThis.x = 1}`",
    "*/ }); throw 1; /*",
  ];
  const expected = generatedSources(plain);
  assert.equal(expected.length, 2, "a repeat loop and a settling loop");
  for (const title of hostile) {
    const program = checkText(
      shaped({
        title,
        vm: "evil_name_",
        bind: "x_$1",
        data: 0xfe,
        comment: `${title} \u2028 */ \${`,
      }).replace("$x_$1", "$x_1"),
      "hostile.scn",
    );
    assert.ok(program.title.includes("*/") || program.title.includes("${"), program.title);
    const sources = generatedSources(program);
    assert.equal(sources.length, expected.length);
    for (let i = 0; i < sources.length; i++) {
      // Byte for byte: nothing of the scenario is in the text.
      assert.equal(sources[i], expected[i]);
    }
  }
  // The shape does change the text.
  const other = checkText(
    shaped({ title: "t", vm: "g", bind: "r", data: 0x41, comment: "c" }).replace(
      "eoi\n  nop",
      "eoi",
    ),
    "other.scn",
  );
  assert.notEqual(generatedSources(other)[1], expected[1]);
});

/** Whether a compiled run of `program` takes a generated loop. */
function generates(program: Program): boolean {
  return generatedSources(program).length !== 0;
}

Deno.test("untraced, generated loops give what the tree walker gives, over the library", () => {
  const files = collectFiles(["scenarios", "tests/fixtures/compile"]).files;
  let generated = 0;
  for (const file of files) {
    let program: Program;
    try {
      program = checkText(Deno.readTextFileSync(file), file, { load: fileLoader });
    } catch {
      continue;
    }
    if (!generates(program)) continue;
    generated++;
    assert.deepEqual(untraced(program, true), untraced(program, false), file);
  }
  assert.ok(generated > 40, `only ${generated} scenarios take a generated loop`);
});

const fastCheck = await loadFastCheck("codegen");

const VECTORS = [0x41, 0x51, 0x61] as const;
const hex = (n: number) => `0x${n.toString(16)}`;

Deno.test({
  name: "untraced, generated loops give what the tree walker gives, over random programs " +
    "(nested takes, faults, HLT, binds, budgets)" + (fastCheck ? "" : SKIPPED_NO_REGISTRY),
  ignore: !fastCheck,
  fn: () => {
    const fc = fastCheck!;
    // Handler instructions: each a literal-argument `do` but `let`, which leaves a body to
    // the closure compiler.
    const instruction = fc.constantFrom(
      "eoi",
      "eoi",
      "nop",
      "sti",
      "cli",
      "hlt",
      "div dividend=1 divisor=0",
      "div dividend=100 divisor=7 size=8 -> $q",
      ...VECTORS.map((v) => `ipi vector=${hex(v)} shorthand=self`),
      "let $x = 1",
    );
    const body = fc.array(instruction, { minLength: 0, maxLength: 5 });
    // A repeat body: MSIs, a `run`, and now and then what leaves it to the closure compiler.
    const step = fc.constantFrom(
      ...VECTORS.map((v) => `vmm: kvm signal_msi address=0xfee00000 data=${hex(v)}`),
      "vmm: kvm signal_msi address=0xfee00000 data=0x41 -> $n",
      "run",
      "run",
      "vmm: kvm signal_msi address=0xfed00000 data=0x41",
      "let $z = 2",
    );
    const scenario = fc.tuple(
      fc.array(body, { minLength: 4, maxLength: 4 }), // 0x41, 0x51, 0x61, #DE
      fc.array(step, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 30 }),
      // A budget smaller than a body runs out in the middle of it.
      fc.constantFrom(2, 3, 4, 5, 6, 8, 12, 50, 400),
      // An invariant that an MSI breaks until its take: checked after each statement.
      fc.constantFrom("", "always vcpu0.lapic.irr == {}\n"),
    );
    let generated = 0;
    fc.assert(
      fc.property(scenario, ([bodies, steps, rounds, maxSteps, always]) => {
        const handlers = bodies.map((b, i) =>
          `on vcpu0 vector ${i < VECTORS.length ? hex(VECTORS[i]) : "DE_VECTOR"} {\n` +
          b.map((s) => `  ${s}\n`).join("") + "}\n"
        ).join("");
        const text = `scenario "generated"\nvm g { arch x86_64 }\n${handlers}` +
          `let $n = 7\nlet $q = 7\n${always}vcpu0: lapic enable\nvcpu0: sti\n` +
          `repeat ${rounds} {\n` + steps.map((s) => `  ${s}\n`).join("") + "}\nrun\n" +
          "expect vcpu0.lapic.isr == {}\nexpect vcpu0.lapic.irr == {}\n" +
          "expect vcpu0.halted == 0\nexpect vcpu0.depth == 0\nexpect $n == 7\nexpect $q == 7\n";
        const program = checkText(text, "generated.scn");
        if (generates(program)) generated++;
        assert.deepEqual(
          untraced(program, true, maxSteps),
          untraced(program, false, maxSteps),
          text,
        );
      }),
      { numRuns: 300, seed: 20261208 },
    );
    assert.ok(generated > 200, `only ${generated} programs take a generated loop`);
  },
});
