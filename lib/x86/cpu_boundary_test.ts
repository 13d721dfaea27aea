import assert from "node:assert/strict";
import { collectFiles, fileLoader } from "../load/files.ts";
import { checkText } from "../api/scenario.ts";
import { runProgram } from "../engine/run.ts";
import { ScnError } from "../core/diagnostic.ts";
import { boundaryOf, type Taken } from "../core/platform.ts";
import { X86Cpu } from "./cpu.ts";

const FILES = collectFiles(["scenarios", "tests/fixtures/replay"]).files;

/** Runs `f` with X86Cpu's own boundary replaced by the contract's reference answer. */
function withReferenceBoundary<T>(f: () => T): T {
  const own = Object.getOwnPropertyDescriptor(X86Cpu.prototype, "boundary")!;
  Object.defineProperty(X86Cpu.prototype, "boundary", {
    ...own,
    value: function (this: X86Cpu): Taken | number {
      return boundaryOf(this);
    },
  });
  try {
    return f();
  } finally {
    Object.defineProperty(X86Cpu.prototype, "boundary", own);
  }
}

function outcome(run: () => unknown): unknown {
  try {
    return run();
  } catch (e) {
    // A runaway scenario is an input error either way, and must be the same one.
    assert.ok(e instanceof ScnError);
    return String(e);
  }
}

Deno.test("X86Cpu.boundary answers as boundaryOf (service, canTake, take, halted), over the library", () => {
  let x86 = 0;
  for (const file of FILES) {
    const program = checkText(Deno.readTextFileSync(file), file, { load: fileLoader });
    if (!program.vms.some((vm) => vm.platform.arch.includes("x86_64"))) continue;
    x86++;
    // Untraced runs take the fused fast path; traced ones its guards and the traced take.
    for (const trace of [false, true]) {
      const own = outcome(() => runProgram(program, { trace }));
      const reference = withReferenceBoundary(() => outcome(() => runProgram(program, { trace })));
      assert.deepEqual(own, reference, `${file} (trace ${trace})`);
    }
  }
  assert.ok(x86 >= 50, `the library's x86 scenarios (${x86})`);
});
