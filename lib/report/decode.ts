/**
 * Decoding the magic numbers of a scenario for `scn report`: MSI
 * address/data pairs, x86 ICR values and other LAPIC registers, IA32_APIC_BASE,
 * IOAPIC redirection entries, ITS commands and their error codes, and the
 * class of a GIC INTID.
 *
 * The report walks the checked program, not its text: each literal is
 * decoded by the table entry the checker resolved it against. A command's
 * arguments by its `explain` (the platform's decoder: `lib/x86/explain.ts`,
 * `lib/arm/explain.ts`), a register written whole by the register's fields,
 * a state path compared with a number by the path's `layout`, a value a
 * command bound by its `explainResult`, a vector or INTID by the
 * platform's `explainTaken`. So a decode can never disagree with what the
 * model does, and a platform added later decodes its numbers by declaring
 * them in its own tables.
 *
 * @module
 */
import { formatFields } from "../core/bitfield.ts";
import type { FieldSpec, Val } from "../core/table.ts";
import type { Call, Cond, Expr, Op, Program } from "../../dsl/program.ts";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { PLATFORMS } from "../api/platforms.ts";

/** One decoded number: the line of the scenario it is on, and what it means. */
export interface Decoded {
  /** 1-based line in the text given to {@link decodeMagic}. */
  line: number;
  /** What it means, in one line. */
  text: string;
}

function hex(n: bigint | number): string {
  return "0x" + n.toString(16);
}

/**
 * A value by a field layout: `ICR[31:0] 0x4052: vector=0x52 ...`.
 *
 * @example
 * ```ts
 * import { RTE_FIELDS } from "../x86/ioapic.ts";
 * decodeLayout("IOREDTBL20", RTE_FIELDS, 0x1809an); // "IOREDTBL20 0x1809a: vector=0x9a ..."
 * ```
 */
export function decodeLayout(
  title: string,
  fields: readonly FieldSpec[],
  value: bigint,
): string {
  return `${title} ${hex(value)}: ${formatFields(fields, value)}`;
}

/** A literal number (negated literals included), or undefined. */
function literal(e: Expr | null | undefined): bigint | undefined {
  if (!e) return undefined;
  if (e.e === "lit") {
    return typeof e.value === "number" || typeof e.value === "bigint" ? BigInt(e.value) : undefined;
  }
  if (e.e === "neg") {
    const v = literal(e.operand);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}

/** The arguments of a call that the scenario wrote as literals. */
function literalArgs(call: Call): Readonly<Record<string, Val>> {
  const out: Record<string, Val> = {};
  for (const { param, expr } of call.args) {
    if (expr.e === "lit") out[param.name] = expr.value;
    else {
      const v = literal(expr);
      if (v !== undefined) out[param.name] = v;
    }
  }
  return out;
}

/**
 * Finds and decodes the magic numbers of a checked scenario, each distinct
 * decode once (at its first line).
 *
 * @example
 * ```ts
 * import { checkText } from "../api/scenario.ts";
 * decodeProgram(checkText('scenario "m"\nvm g { arch x86_64 }\ndevice nvme: msi address=0xfee01000 data=0x41\n', "m.scn"));
 * // [{ line: 3, text: "MSI address 0xfee01000: ...; data 0x41: vector=0x41 ..." }]
 * ```
 */
export function decodeProgram(program: Program): Decoded[] {
  const out: Decoded[] = [];
  const seen = new Set<string>();
  const add = (line: number, t: string | undefined) => {
    if (t === undefined || seen.has(t)) return;
    seen.add(t);
    out.push({ line, text: t });
  };
  /** What each `-> $v` was bound by, so that `expect $v == N` decodes. */
  const bound = new Map<string, { call: Call; args: Readonly<Record<string, Val>> }>();

  const explainResult = (name: string, value: bigint): string | undefined => {
    const b = bound.get(name);
    if (!b) return undefined;
    const r = b.call.register;
    if (r && r.spec.fields.length > 0) {
      const i = literal(r.index);
      return decodeLayout(
        `${r.spec.title}${r.spec.count ? String(i ?? "") : ""}`,
        r.spec.fields,
        value,
      );
    }
    return b.call.spec.explainResult?.(b.args, value);
  };

  const indexes = (e: Expr, line: number) => {
    if (e.e !== "state" || !e.spec.explainIndexes) return;
    const ix = e.indexes.map(literal);
    if (ix.every((i) => i !== undefined)) {
      add(line, e.spec.explainIndexes(ix.map(Number)));
    }
  };

  const compared = (e: Expr, value: bigint, line: number) => {
    if (e.e === "state" && e.spec.layout) {
      const i = e.indexes.length > 0 && !e.spec.pattern.startsWith("vcpu#")
        ? literal(e.indexes[e.indexes.length - 1])
        : undefined;
      add(line, decodeLayout(`${e.spec.layout.title}${i ?? ""}`, e.spec.layout.fields, value));
    } else if (e.e === "var") {
      add(line, explainResult(e.name, value));
    }
  };

  const cond = (c: Cond, vm: number) => {
    const line = c.loc.start.line;
    if (c.c === "cmp") {
      indexes(c.left, line);
      indexes(c.right, line);
      const l = literal(c.left), r = literal(c.right);
      if (r !== undefined) compared(c.left, r, line);
      if (l !== undefined) compared(c.right, l, line);
    } else if (c.c === "and" || c.c === "or") {
      cond(c.left, vm);
      cond(c.right, vm);
    } else if (c.c === "not") cond(c.operand, vm);
    else if (c.c === "truthy") indexes(c.expr, line);
    else if (c.c === "select") cond(c.variants[0], vm);
    else if (c.c === "took") {
      const explain = program.vms[c.vm]?.platform.explainTaken;
      for (const v of c.values) {
        const n = literal(v);
        if (n !== undefined && explain) add(line, explain(Number(n)));
      }
    }
  };

  const call = (c: Call, bind: string | null) => {
    const line = c.loc.start.line;
    const args = literalArgs(c);
    add(line, c.spec.explain?.(args));
    const r = c.register;
    const raw = literal(r?.raw);
    if (r && raw !== undefined && r.spec.fields.length > 0) {
      const i = literal(r.index);
      add(
        line,
        decodeLayout(`${r.spec.title}${r.spec.count ? String(i ?? "") : ""}`, r.spec.fields, raw),
      );
    }
    for (const entry of c.entries ?? []) {
      const fields: Record<string, Val> = {};
      for (const { param, expr } of entry) {
        const v = expr.e === "lit" ? expr.value : literal(expr);
        if (v !== undefined) fields[param.name] = v;
      }
      // An entry starts at its block's entry parameter (`gsi=24 ...`).
      const head = entry.find((a) => a.param.name === c.spec.block?.entry);
      const at = head?.expr.loc.start.line ?? line;
      add(at, c.spec.explainEntry?.(fields));
    }
    if (bind) bound.set(bind, { call: c, args });
  };

  const ops = (body: readonly Op[]) => {
    for (const op of body) {
      switch (op.op) {
        case "do":
          call(op.call, op.bind);
          break;
        case "expect":
        case "always":
          cond(op.cond, -1);
          break;
        case "if":
          cond(op.cond, -1);
          ops(op.then);
          ops(op.else);
          break;
        case "repeat":
        case "for":
        case "parallel":
        case "window":
          ops(op.body);
          break;
        case "timeline":
          for (const one of op.timeline.ops()) ops([one]);
          break;
        case "select":
          // Each variant explains the same text: the first says it.
          ops(op.variants.slice(0, 1));
          break;
      }
    }
  };

  for (const h of program.handlers) {
    const explain = program.vms[h.vm]?.platform.explainTaken;
    for (const v of h.values ?? []) if (explain) add(h.loc.start.line, explain(v));
  }
  ops(program.body);
  for (const h of program.handlers) ops(h.body);
  return out.sort((a, b) => a.line - b.line);
}

/**
 * Decodes the magic numbers of a scenario's text (a report block's body,
 * includes inlined): checks it against every platform and walks the
 * checked program ({@link decodeProgram}). A text that does not check has
 * nothing decoded: its errors are what the report shows.
 *
 * @example
 * ```ts
 * decodeMagic('scenario "m"\nvm g { arch x86_64 }\ndevice nvme: msi address=0xfee01000 data=0x41\n');
 * // [{ line: 3, text: "MSI address 0xfee01000: ...; data 0x41: vector=0x41 ..." }]
 * ```
 */
export function decodeMagic(text: string): Decoded[] {
  let program: Program;
  try {
    program = check(parse(text, "report.scn"), { platforms: PLATFORMS, text });
  } catch {
    return [];
  }
  return decodeProgram(program);
}
