/**
 * Virtual time as scenarios write it, for every report.
 *
 * @module
 */

/**
 * Nanoseconds in the largest unit that keeps them whole.
 *
 * @example
 * ```ts
 * formatTime(5_000_000); // "5ms"
 * ```
 */
export function formatTime(ns: number): string {
  if (ns !== 0 && ns % 1_000_000_000 === 0) return `${ns / 1_000_000_000}s`;
  if (ns !== 0 && ns % 1_000_000 === 0) return `${ns / 1_000_000}ms`;
  if (ns !== 0 && ns % 1000 === 0) return `${ns / 1000}us`;
  return `${ns}ns`;
}
