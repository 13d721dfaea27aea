/**
 * The arithmetic of scenario expressions, stated the plain way for property
 * tests to check `lib/core/u64.ts` against: unbounded bigint arithmetic, and
 * a result outside 0..2^64-1 (or a division by zero) is no result.
 *
 * @module
 */
import { type ExprOp, U64_MAX } from "../lib/core/u64.ts";

/**
 * `a op b` exactly, or undefined where expressions refuse it.
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
      // Shifting a bit out of 64 is an overflow, as multiplying by 2^b would be.
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
  return r < 0n || r > U64_MAX ? undefined : r;
}
