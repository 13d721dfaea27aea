/**
 * The two loops a storm of interrupts spends its time in, generated as
 * JavaScript for the program's blocks: a `repeat` whose body is literal-argument
 * VMM commands and `run`s, and the settling of a one-vCPU run whose handlers are
 * literal-argument vCPU commands. Each statement then performs its command from
 * a call site of its own, which V8 sees monomorphic and inlines; in the closure
 * compiler ({@link perform}) every statement's command is called from one site,
 * which is megamorphic as soon as a scenario has two commands.
 *
 * The generated source is a function of the blocks' shape only: fixed template
 * text, the statement kinds, their count and integer indices. Every value of
 * the scenario (names, literals, the commands themselves) reaches the code
 * through the arrays it is called with, never through its text
 * (tests/codegen_test.ts holds this with adversarial names). Generating needs
 * no permission beyond what running needs. Anything else runs through the
 * closure compiler as before: these loops are only for untraced runs without
 * an `onStep` observer, and they call back into the interpreter for everything
 * with meaning (arguments, a command's refusal, faults, takes, budgets,
 * invariants), in the order the closure compiler does.
 *
 * @module
 */
import type { Loc } from "../../dsl/ast.ts";
import type { CommandSpec } from "../core/table.ts";
import {
  BOUNDARY_HALTED,
  BOUNDARY_RESET,
  BOUNDARY_RUNNING,
  type CpuModel,
  type VmModel,
} from "../core/platform.ts";
import type { CompiledOp } from "./compile.ts";

/** A command's `run`, as {@link CompiledOp.run} holds it. */
type Run = CommandSpec<VmModel>["run"];

/** The interpreter running the loop (run.ts's): the generated code reads and calls its members. */
type Interpreter = object;
/** A vCPU's handler frames (run.ts's `Frame`, not imported: run.ts imports this module). */
type Frame = object;

/** A generated `repeat` loop (see {@link repeatLoop}). */
export type RepeatLoop = (
  m: Interpreter,
  body: readonly CompiledOp[],
  runs: readonly (Run | null)[],
  n: number,
  workLimit: number,
  loc: Loc,
) => void;

/** A generated settling of one vCPU (see {@link settleLoop}). */
export type SettleLoop = (
  m: Interpreter,
  loc: Loc,
  cpu: CpuModel,
  frames: Frame[],
  spare: Frame[],
  handlers: readonly (readonly CompiledOp[])[],
  runs: readonly (readonly (Run | null)[])[],
) => void;

/** A `do` of literal arguments whose command the compiler found (and so a `run` of its own). */
function literalDo(s: CompiledOp, vcpu: boolean): boolean {
  return s.op.op === "do" && s.constant && s.run !== null && (s.op.call.cpu >= 0) === vcpu;
}

/** A `run` with no duration. */
function settles(s: CompiledOp): boolean {
  return s.op.op === "run" && s.op.duration === null;
}

/**
 * One `do` statement as {@link perform} and `Interpreter.callWith` run it
 * untraced: `S` names its {@link CompiledOp}, `R` its command's `run`.
 */
function doText(S: string, R: string, vcpu: boolean): string {
  return `{
        const s = ${S}, c = s.op.call;
        const a = s.args ?? (s.args = m.args(c));
        const vm = m.vms[c.vm];
        let r;
        try {
          r = ${R}(vm, c.cpu, a, c.source);
        } catch (e) {
          m.commandThrew(c, e);
        }` + (vcpu
    ? `
        const cp = vm.cpus[c.cpu];
        if (cp.faulted !== true) cp.retire();
        else m.faultedAt(c, cp);`
    : "") +
    `
        const bind = s.op.bind;
        if (bind !== null) m.env.set(bind, r ?? 0);
        m.afterStep();
      }`;
}

/** The source of the `repeat` loop for a body of these statement kinds. */
export function repeatLoopSource(kinds: readonly ("do" | "run")[]): string {
  const statements = kinds.map((k, i) =>
    k === "do" ? doText(`body[${i}]`, `runs[${i}]`, false) : `m.runFor(0, body[${i}].op.loc);`
  );
  // Interpreter.repeat's loop, untraced and unobserved.
  return `"use strict";
    return function repeatLoop(m, body, runs, n, workLimit, loc) {
      const loops = m.loops, at = loops.length;
      for (let i = 0; i < n; i++) {
        if (++m.work > workLimit) m.workExhausted(loc, "repeat");
        if (m.steps + 1 - m.budgetStart > m.maxSteps) m.tick(loc, "repeat");
        else m.steps++;
        if (i === 0) loops.push(0, n);
        else loops[at] = i;
      ${statements.join("\n      ")}
      }
    };`;
}

/** The source of the settling loop for handlers of these lengths (-1: not generated). */
export function settleLoopSource(lengths: readonly number[]): string {
  const generated = lengths.flatMap((len, h) => len < 0 ? [] : [h]);
  const owns = generated.map((h) => `steps === hs[${h}]`).join(" || ");
  const bodies = generated.map((h) => {
    const cases = Array.from(
      { length: lengths[h] },
      (_, k) =>
        `case ${k}: ${doText(`hs[${h}][${k}]`, `runs[${h}][${k}]`, true)}
              break;`,
    );
    return `if (steps === hs[${h}]) {
            switch (top.pc++) {
              ${cases.join("\n              ")}
            }
          }`;
  });
  // Interpreter.settleOne with its handlerStep, untraced.
  return `"use strict";
    return function settleLoop(m, loc, cpu, frames, spare, hs, runs) {
      for (;;) {
        const b = cpu.boundary();
        if (typeof b !== "number") m.take(0, 0, cpu, frames, b);
        else if (b !== ${BOUNDARY_RUNNING}) {
          if (b === ${BOUNDARY_RESET}) { while (frames.length) m.leave(frames, spare); }
          if (b === ${BOUNDARY_HALTED}) return;
        } else if (frames.length !== 0) {
          const top = frames[frames.length - 1];
          const steps = top.steps;
          if (top.pc >= top.ops.length) {
            m.leave(frames, spare);
            cpu.returnFromInterrupt();
            cpu.retire();
          } else if (top.bindsNeeded || m.invariantsReadVariables || !(${owns})) {
            m.handlerStep(cpu, frames, spare);
          } else {
            m.restartable = cpu;
          ${bodies.join(" else ")}
            m.restartable = null;
            if (cpu.faulted === true) m.restartAfterFault(cpu, top);
          }
        } else if (m.windowVm >= 0 || !cpu.retire()) return;
        if (m.steps + 1 - m.budgetStart > m.maxSteps) m.tick(loc);
        else m.steps++;
        if (m.invariants.length !== 0) m.afterStep();
      }
    };`;
}

/** Generated functions by source: one per shape in the process. */
const made = new Map<string, unknown>();

function make<T>(source: string): T {
  let f = made.get(source);
  if (f === undefined) {
    f = new Function(source)();
    made.set(source, f);
  }
  return f as T;
}

/** The kinds of a `repeat` body the generated loop runs, or null if it cannot. */
export function repeatShape(body: readonly CompiledOp[]): ("do" | "run")[] | null {
  if (body.length === 0) return null;
  const kinds: ("do" | "run")[] = [];
  for (const s of body) {
    if (literalDo(s, false)) kinds.push("do");
    else if (settles(s)) kinds.push("run");
    else return null;
  }
  return kinds;
}

/**
 * The generated loop of a compiled `repeat` body made only of literal-argument
 * VMM commands and `run`s, or null for any other body.
 */
export function repeatLoop(body: readonly CompiledOp[]): RepeatLoop | null {
  const kinds = repeatShape(body);
  return kinds === null ? null : make<RepeatLoop>(repeatLoopSource(kinds));
}

/** The lengths the settling loop is generated for: -1 for a handler it leaves to `handlerStep`. */
export function settleShape(handlers: readonly (readonly CompiledOp[])[]): number[] {
  return handlers.map((steps) =>
    steps.length > 0 && steps.every((s) => literalDo(s, true)) ? steps.length : -1
  );
}

/**
 * The generated settling of a one-vCPU run whose handlers' compiled bodies
 * are `handlers`, or null when none of them is made only of literal-argument
 * vCPU commands.
 */
export function settleLoop(handlers: readonly (readonly CompiledOp[])[]): SettleLoop | null {
  const lengths = settleShape(handlers);
  return lengths.every((n) => n < 0) ? null : make<SettleLoop>(settleLoopSource(lengths));
}

/** The `run` of each statement of a block (null for a statement that is not a `do`). */
export function runsOf(steps: readonly CompiledOp[]): (Run | null)[] {
  return steps.map((s) => s.run);
}
