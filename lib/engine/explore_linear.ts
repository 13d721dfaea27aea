/**
 * Writes one order of a scenario's parallel blocks as a plain scenario: the
 * same file, with each `parallel { }` block replaced by its steps in the
 * order they ran, so that `scn run` of the result takes exactly that order.
 * Everything else (title, tags, vm blocks, handlers, expectations, comments)
 * is kept as written.
 *
 * The rewrite is textual, so it keeps the author's layout. It needs each
 * block to run in one order every time it runs, to live in the scenario
 * file itself (not in an include), and to run each interruptible command's
 * steps back to back; otherwise it says why, and the replay token is the
 * way to reproduce the order.
 *
 * @module
 */
import type { Program } from "../../dsl/program.ts";
import type { BlockRun } from "./explore_schedule.ts";
import { parallelBlocks } from "./explore_schedule.ts";
import type { ParallelOp } from "./run.ts";
import { blockSteps } from "./steps.ts";

/**
 * The scenario text with every parallel block of the scenario file written
 * out in the order it ran (blocks that did not run: in written order).
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { type Counterexample } from "./explore.ts";
 * declare const counterexample: Counterexample, program: Program;
 * const r = linearize(program, counterexample.runs, "12:1,0");
 * if ("text" in r) Deno.writeTextFileSync("order.scn", r.text);
 * ```
 */
export function linearize(
  program: Program,
  runs: readonly BlockRun[],
  token: string,
): { text: string } | { why: string } {
  const text = program.sources.get(program.file);
  if (text === undefined) return { why: `the text of ${program.file} is not at hand` };
  const orders = new Map<ParallelOp, number[]>();
  for (const r of runs) {
    const written = r.order.every((c, i) => c === i);
    const prev = orders.get(r.block);
    if (prev && prev.join() !== r.order.join()) {
      return {
        why:
          `the parallel block at line ${r.block.loc.start.line} runs more than once, in different orders`,
      };
    }
    if (r.block.loc.source !== program.file && !written) {
      return {
        why:
          `the parallel block at ${r.block.loc.source}:${r.block.loc.start.line} is in an included file`,
      };
    }
    const children = childOrder(r.block, r.order);
    if ("why" in children) return children;
    orders.set(r.block, children.order);
  }
  const blocks = parallelBlocks(program).filter((b) => b.loc.source === program.file).sort((
    a,
    b,
  ) => b.loc.start.offset - a.loc.start.offset);
  let out = text;
  for (const b of blocks) {
    const order = orders.get(b) ?? b.body.map((_, i) => i);
    const r = rewriteBlock(out, b, order);
    if (typeof r !== "string") return r;
    out = r;
  }
  const header = [
    `# One order of the parallel blocks of ${program.file}, written out by 'scn explore'`,
    token === ""
      ? "# (the written order); 'scn run' takes it as written."
      : `# (--schedule ${token}); 'scn run' takes it as written.`,
  ].join("\n");
  return { text: `${header}\n${standalone(out)}` };
}

/**
 * A scenario from a bug report is padded to its host file's lines and
 * columns (a `> ` quote becomes spaces): in a file of its own it starts at
 * its first line and column.
 */
function standalone(text: string): string {
  const lines = text.replace(/^(?:[ \t]*\r?\n)+/, "").split("\n");
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length);
  const cut = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(Math.min(cut, /^[ \t]*/.exec(l)![0].length))).join("\n");
}

/**
 * A block's order of steps as an order of its children, when every
 * interruptible command ran its steps back to back; otherwise why not.
 */
function childOrder(
  block: ParallelOp,
  steps: readonly number[],
): { order: number[] } | { why: string } {
  const s = blockSteps(block);
  const order: number[] = [];
  for (let k = 0; k < steps.length; k++) {
    const c = s.childOf[steps[k]];
    if (s.partOf[steps[k]] > 0) {
      if (s.childOf[steps[k - 1]] === c) continue;
      const op = block.body[c];
      return {
        why: `the order runs another step between the steps of '${
          op.op === "do" ? op.call.spec.name : "?"
        }' (line ${op.loc.start.line}), which a scenario without 'parallel' cannot write`,
      };
    }
    order.push(c);
  }
  return { order };
}

function rewriteBlock(
  text: string,
  b: ParallelOp,
  order: readonly number[],
): string | { why: string } {
  const start = b.loc.start.offset;
  const open = text.indexOf("{", start);
  const close = b.loc.end.offset - 1;
  if (open < 0 || open > close || text[close] !== "}") {
    return { why: `cannot find the braces of the parallel block at line ${b.loc.start.line}` };
  }
  if (b.body.some((c) => c.loc.source !== b.loc.source)) {
    return { why: `the parallel block at line ${b.loc.start.line} includes another file` };
  }
  // Each child owns the text from the end of the line before it (comments above
  // it included) to the end of its own last line.
  const chunks: string[][] = [];
  let from = open + 1;
  for (let i = 0; i < b.body.length; i++) {
    let end = text.indexOf("\n", b.body[i].loc.end.offset);
    if (end < 0 || end > close) end = close;
    chunks.push(lines(text.slice(from, end), i === 0));
    from = end;
  }
  const trailing = lines(text.slice(from, close), false);
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const before = text.slice(lineStart, start);
  const indent = /^[ \t]*$/.test(before) ? before : "";
  const body = [
    `# parallel block (line ${b.loc.start.line}) in the order ${order.join(", ")}${
      order.every((c, i) => c === i) ? " (as written)" : ""
    }`,
    ...order.flatMap((i) => chunks[i]),
    ...trailing,
  ];
  return text.slice(0, start) + body.join(`\n${indent}`) + text.slice(close + 1);
}

/** The non-blank lines of a chunk, with their common indentation removed. */
function lines(chunk: string, onBraceLine: boolean): string[] {
  const ls = chunk.split("\n");
  // Text right after `{` on the block's own line carries no indentation of its own.
  if (onBraceLine && ls.length) ls[0] = ls[0].trimStart();
  const kept = ls.map((l) => l.replace(/\s+$/, "")).filter((l) => l.trim() !== "");
  const indents = kept.filter((l, i) => !(onBraceLine && i === 0 && ls[0] === l)).map((l) =>
    /^[ \t]*/.exec(l)![0].length
  );
  const cut = indents.length ? Math.min(...indents) : 0;
  return kept.map((l) => (/^[ \t]*/.exec(l)![0].length >= cut ? l.slice(cut) : l.trimStart()));
}
