/**
 * The arithmetic of scenario expressions, stated the plain way for property
 * tests to check `lib/core/u64.ts` against: unbounded bigint arithmetic, and
 * a result outside 0..2^64-1 (or a division by zero) is no result.
 *
 * @module
 */
import { type ExprOp, U64_MAX } from "../lib/core/u64.ts";

/**
 * `a op b` exactly, or undefined where expressions refuse it. Each operator
 * is stated without the implementation's shortcuts, so the two can disagree:
 * shifts as multiplication and division by a power of two, the bitwise
 * operators bit by bit.
 *
 * @example
 * ```ts
 * exactU64("-", 3n, 4n); // undefined
 * ```
 */
export function exactU64(op: Exclude<ExprOp, "~">, a: bigint, b: bigint): bigint | undefined {
  let r: bigint;
  switch (op) {
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
      if (b === 0n) return undefined;
      r = op === "/" ? a / b : a % b;
      break;
    case "<<":
      // a * 2^b; past 2^128 any nonzero a is out of range anyway.
      r = a === 0n ? 0n : b >= 128n ? U64_MAX + 1n : a * 2n ** b;
      break;
    case ">>":
      r = b >= 128n ? 0n : a / 2n ** b;
      break;
    case "&":
    case "|":
    case "^":
      r = bitwise(op, a, b);
      break;
  }
  return r < 0n || r > U64_MAX ? undefined : r;
}

/** Bit by bit over 64 bits, from the definition of each operator. */
function bitwise(op: "&" | "|" | "^", a: bigint, b: bigint): bigint {
  let r = 0n;
  for (let i = 0n; i < 64n; i++) {
    const x = (a / 2n ** i) % 2n === 1n, y = (b / 2n ** i) % 2n === 1n;
    const bit = op === "&" ? x && y : op === "|" ? x || y : x !== y;
    if (bit) r += 2n ** i;
  }
  return r;
}
