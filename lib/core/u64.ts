/**
 * The arithmetic of scenario expressions: unsigned 64-bit integers, exact
 * over the whole range 0..2^64-1. A result outside that range is an error,
 * never a wrap: a scenario that computes `0 - 1` has a bug its author wants
 * to hear about, and a register value that silently wrapped would test the
 * wrong thing.
 *
 * The checker folds literal expressions with {@link applyOp}, the
 * interpreter evaluates the rest with it, so both refuse the same inputs
 * with the same words.
 *
 * @module
 */
import type { Val } from "./table.ts";
import { formatVal } from "./values.ts";

/** The largest value an expression may have: 2^64 - 1. */
export const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The operators of an expression: binary ones, and `~` with one operand. */
export type ExprOp = "+" | "-" | "*" | "/" | "%" | "<<" | ">>" | "&" | "|" | "^" | "~";

/**
 * A number as values carry it: a JS number while it is a safe integer, a
 * bigint above, so small values stay cheap and large ones stay exact.
 *
 * @example
 * ```ts
 * normalize(5n); // 5
 * normalize(2n ** 60n); // 1152921504606846976n
 * ```
 */
export function normalize(n: bigint): number | bigint {
  return n <= 9007199254740991n && n >= -9007199254740991n ? Number(n) : n;
}

/**
 * Applies `op` to unsigned 64-bit operands. Returns the result, or a
 * sentence saying why there is none (overflow, underflow, division by zero,
 * an operand that is not an unsigned 64-bit number).
 *
 * @example
 * ```ts
 * applyOp("<<", [3, 4]); // 48
 * applyOp("-", [0, 1]); // "0 - 1 is below 0: expressions are on unsigned 64-bit numbers"
 * ```
 */
export function applyOp(op: ExprOp, operands: readonly Val[]): number | bigint | string {
  if (operands.length === 2) return applyBinaryOp(op, operands[0], operands[1]);
  const xs: bigint[] = [];
  for (const v of operands) {
    const x = u64Operand(op, v);
    if (typeof x === "string") return x;
    xs.push(x);
  }
  return bigOp(op, xs[0], xs[1] ?? 0n);
}

/**
 * {@link applyOp} of a binary operator, for an evaluator that has the two
 * operands at hand: no operand array, and no BigInt where doubles are exact.
 *
 * @example
 * ```ts
 * applyBinaryOp("|", 0x40, 1); // 65
 * ```
 */
export function applyBinaryOp(op: ExprOp, a: Val, b: Val): number | bigint | string {
  if (isU32(a) && isU32(b)) {
    const r = u32Op(op, a, b);
    if (r !== undefined) return r;
  } else if (isSafeU(a) && isSafeU(b)) {
    const r = safeOp(op, a, b);
    if (r !== undefined) return r;
  }
  const x = u64Operand(op, a);
  if (typeof x === "string") return x;
  const y = u64Operand(op, b);
  if (typeof y === "string") return y;
  return bigOp(op, x, y);
}

/** An operand as a BigInt, or why it is not an unsigned 64-bit number. */
function u64Operand(op: ExprOp, v: Val): bigint | string {
  if (typeof v !== "number" && typeof v !== "bigint") {
    return `'${op}' works on numbers, not on ${show(v)}`;
  }
  if (typeof v === "number" && !Number.isInteger(v)) return `'${op}' works on whole numbers`;
  const b = BigInt(v);
  if (b < 0n || b > U64_MAX) {
    return `'${op}' works on unsigned 64-bit numbers, and ${show(v)} is not one`;
  }
  return b;
}

/** {@link applyOp} on checked operands (`b` unused by `~`). */
function bigOp(op: ExprOp, a: bigint, b: bigint): number | bigint | string {
  let r: bigint;
  switch (op) {
    case "~":
      return normalize(U64_MAX ^ a);
    case "+":
      r = a + b;
      break;
    case "-":
      r = a - b;
      break;
    case "*":
      r = a * b;
      break;
    case "/":
    case "%":
      if (b === 0n) return `${show(a)} ${op} 0 divides by zero`;
      r = op === "/" ? a / b : a % b;
      break;
    case "<<":
      // Any bit shifted out is an overflow, as for `*` by a power of two.
      r = b >= 64n ? (a === 0n ? 0n : U64_MAX + 1n) : a << b;
      break;
    case ">>":
      r = b >= 64n ? 0n : a >> b;
      break;
    case "&":
      r = a & b;
      break;
    case "|":
      r = a | b;
      break;
    case "^":
      r = a ^ b;
      break;
  }
  if (r < 0n) {
    return `${show(a)} ${op} ${show(b)} is below 0: expressions are on unsigned 64-bit numbers`;
  }
  if (r > U64_MAX) {
    // A shift count reads best in decimal, as it is usually written.
    const count = op === "<<" ? String(b) : show(b);
    return `${show(a)} ${op} ${count} overflows 64 bits (the largest value is 0xffffffffffffffff)`;
  }
  return normalize(r);
}

function isU32(v: Val): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/**
 * {@link applyOp} on two operands below 2^32, in doubles: what most
 * scenarios compute (a loop's vector, a field), without a BigInt per
 * operand. Answers only where doubles are exact (at most 2^53 - 1), the
 * same number {@link normalize} would give; undefined leaves the rest, and
 * every error, to the BigInt path.
 */
function u32Op(op: ExprOp, a: number, b: number): number | undefined {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a >= b ? a - b : undefined;
    case "*": {
      const r = a * b;
      return r <= Number.MAX_SAFE_INTEGER ? r : undefined;
    }
    case "/":
      // Below 2^32 the rounded quotient never crosses an integer.
      return b === 0 ? undefined : Math.floor(a / b);
    case "%":
      return b === 0 ? undefined : a % b;
    case "<<": {
      if (b >= 64) return undefined;
      const r = a * 2 ** b;
      return r <= Number.MAX_SAFE_INTEGER ? r : undefined;
    }
    case ">>":
      return b >= 32 ? 0 : a >>> b;
    case "&":
      return (a & b) >>> 0;
    case "|":
      return (a | b) >>> 0;
    case "^":
      return (a ^ b) >>> 0;
  }
  return undefined;
}

function isSafeU(v: Val): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** 2^32, the weight of a safe integer's high word. */
const TWO_32 = 0x1_0000_0000;

/**
 * {@link u32Op} for operands up to 2^53 - 1 (one at least 2^32): the
 * bitwise operators word by word and `>>` as a division by a power of two,
 * all exact in doubles; `+`, `-`, `*` and `<<` where the result is a safe
 * integer. Undefined leaves the rest (`/`, `%`, larger results, errors) to
 * the BigInt path.
 */
function safeOp(op: ExprOp, a: number, b: number): number | undefined {
  switch (op) {
    case "&":
    case "|":
    case "^": {
      const ah = Math.floor(a / TWO_32), bh = Math.floor(b / TWO_32);
      const al = a >>> 0, bl = b >>> 0;
      const h = op === "&" ? ah & bh : op === "|" ? ah | bh : ah ^ bh;
      const l = op === "&" ? al & bl : op === "|" ? al | bl : al ^ bl;
      return (h >>> 0) * TWO_32 + (l >>> 0);
    }
    case ">>":
      return b >= 64 ? 0 : Math.floor(a / 2 ** b);
    case "+": {
      const r = a + b;
      return r <= Number.MAX_SAFE_INTEGER ? r : undefined;
    }
    case "-":
      return a >= b ? a - b : undefined;
    case "*":
    case "<<": {
      if (op === "<<" && b >= 64) return undefined;
      const r = op === "*" ? a * b : a * 2 ** b;
      return r <= Number.MAX_SAFE_INTEGER ? r : undefined;
    }
  }
  return undefined;
}

function show(v: Val): string {
  return Array.isArray(v) ? "a set or list" : typeof v === "string" ? `'${v}'` : formatVal(v);
}
