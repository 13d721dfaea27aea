/**
 * Runtime values: coercion to a parameter's type with range checks, equality,
 * and the way values are printed in messages and traces.
 *
 * The checker uses the same {@link coerce} on literals that the interpreter
 * uses on variables, so a value is accepted or refused by one rule.
 *
 * @module
 */
import type { ParamType, Val } from "../core/table.ts";

/** Coerces `v` to `type`; returns the value or a message saying why not. */
export function coerce(
  type: ParamType,
  v: Val,
): { ok: true; value: Val } | { ok: false; why: string } {
  switch (type.kind) {
    case "int": {
      if (typeof v !== "number" && typeof v !== "bigint") {
        return { ok: false, why: `expected ${describeType(type)}` };
      }
      if (v < type.min || v > type.max) {
        const shown = type.decimal ? String(v) : formatVal(v);
        return { ok: false, why: `${shown} is out of range for ${describeType(type)}` };
      }
      return { ok: true, value: Number(v) };
    }
    case "u64": {
      if (typeof v !== "number" && typeof v !== "bigint") {
        return { ok: false, why: "expected a 64-bit number" };
      }
      const b = BigInt(v);
      if (b < 0n || b > 0xffff_ffff_ffff_ffffn) {
        return { ok: false, why: `${formatVal(v)} does not fit in 64 bits` };
      }
      return { ok: true, value: b };
    }
    case "bool":
      if (v === 0 || v === 1 || v === 0n || v === 1n) return { ok: true, value: Number(v) };
      if (v === "true" || v === "false") return { ok: true, value: v === "true" ? 1 : 0 };
      return { ok: false, why: "expected 0 or 1" };
    case "enum":
      if (typeof v === "string" && type.values.includes(v)) return { ok: true, value: v };
      return { ok: false, why: `expected one of: ${type.values.join(", ")}` };
    case "duration":
      if (typeof v === "number" && v >= 0) return { ok: true, value: v };
      return { ok: false, why: "expected a duration such as 10us" };
    case "set": {
      if (!Array.isArray(v)) return { ok: false, why: "expected a set such as {0x31, 0x41}" };
      for (const x of v) {
        if (x < type.min || x > type.max) {
          return {
            ok: false,
            why: `${formatVal(x)} is out of range ${formatNumber(type.min)}..${
              formatNumber(type.max)
            }`,
          };
        }
      }
      return { ok: true, value: v };
    }
    case "register":
      return { ok: false, why: "expected a register name" };
  }
}

/** A one-phrase description of a type for messages and `scn help`. */
export function describeType(type: ParamType): string {
  switch (type.kind) {
    case "int":
      return type.decimal
        ? `${type.what ?? "a number"} (${type.min}..${type.max})`
        : `${type.what ?? "a number"} (${formatNumber(type.min)}..${formatNumber(type.max)})`;
    case "u64":
      return "a 64-bit number";
    case "bool":
      return "0 or 1";
    case "enum":
      return type.values.join(" | ");
    case "duration":
      return "a duration (ns, us, ms, s)";
    case "set":
      return `a set of numbers in ${formatNumber(type.min)}..${formatNumber(type.max)}`;
    case "register":
      return `a register (${type.files.map((f) => `${f.prefix}.<name>`).join(" or ")})`;
  }
}

/**
 * An integer as values carry it: a number up to 2^53, a bigint past it, so
 * each value has one representation and `===` and `Set` work on them.
 */
export type Int = number | bigint;

/**
 * The canonical form of an integer: a number when it is exact as one.
 *
 * @example
 * ```ts
 * toInt(5n); // 5
 * toInt(0xffff_ffff_ffff_ffffn); // 18446744073709551615n
 * ```
 */
export function toInt(v: bigint): Int {
  return v <= MAX_EXACT && v >= -MAX_EXACT ? Number(v) : v;
}
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Orders integers whatever their representation (`a - b` throws on a mix).
 *
 * @example
 * ```ts
 * [2n ** 60n, 3].sort(compareInts); // [3, 1152921504606846976n]
 * ```
 */
export function compareInts(a: Int, b: Int): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Structural equality; numbers and bigints compare by value, sets by members. */
export function valEquals(a: Val, b: Val): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    const x = [...a].sort(compareInts), y = [...b].sort(compareInts);
    return x.every((v, i) => v === y[i]);
  }
  // Two exact numbers compare as they are; converting to bigints would allocate on every `expect`.
  if (
    typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a) &&
    Number.isSafeInteger(b)
  ) {
    return a === b;
  }
  if (
    (typeof a === "number" || typeof a === "bigint") &&
    (typeof b === "number" || typeof b === "bigint")
  ) {
    return BigInt(a) === BigInt(b);
  }
  return a === b;
}

/** Ordering for `<` and friends; undefined when the values are not both numbers. */
export function valCompare(a: Val, b: Val): number | undefined {
  if (
    (typeof a === "number" || typeof a === "bigint") &&
    (typeof b === "number" || typeof b === "bigint")
  ) {
    if (
      typeof a === "number" && typeof b === "number" && Number.isSafeInteger(a) &&
      Number.isSafeInteger(b)
    ) {
      return a < b ? -1 : a > b ? 1 : 0;
    }
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return undefined;
}

/** Whether a value counts as true in `if` and bare `expect`. */
export function truthy(v: Val): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "string") return v.length > 0;
  return BigInt(v as number | bigint) !== 0n;
}

/** Prints a value the way scenarios write it: hex for numbers from 10 up, sets in braces. */
export function formatVal(v: Val): string {
  if (Array.isArray(v)) return `{${v.map((x) => formatNumber(x)).join(", ")}}`;
  if (typeof v === "number" || typeof v === "bigint") return formatNumber(v);
  return String(v);
}

/** Decimal below 10, hex (0x..) from 10 up; negative numbers in decimal (errno values). */
export function formatNumber(n: number | bigint): string {
  if (n < 0) return String(n);
  if (n < 10) return String(n);
  return `0x${n.toString(16)}`;
}
