/**
 * Shrinking a failing case: drop units (statements, handler declarations)
 * while a predicate still holds, first in large chunks, then one by one, so
 * what is left is a scenario from which no single statement can be dropped.
 *
 * @module
 */

/** The most predicate calls one shrink may make; each is two scenario runs. */
export const DEFAULT_SHRINK_BUDGET = 2000;

/**
 * The smallest list found by dropping chunks of `units` (halving the chunk
 * size down to one) while `keep` still holds. `keep(units)` itself is
 * assumed to hold. Deterministic: the same input and predicate give the
 * same result.
 *
 * @example
 * ```ts
 * shrinkUnits(["a", "b", "c", "d"], (u) => u.includes("c")); // ["c"]
 * ```
 */
export function shrinkUnits(
  units: readonly string[],
  keep: (units: readonly string[]) => boolean,
  budget = DEFAULT_SHRINK_BUDGET,
): string[] {
  let current = [...units];
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  let calls = 0;
  while (chunk >= 1 && calls < budget) {
    let changed = false;
    for (let i = 0; i < current.length && calls < budget;) {
      const candidate = [...current.slice(0, i), ...current.slice(i + chunk)];
      calls++;
      if (keep(candidate)) {
        current = candidate;
        changed = true;
      } else {
        i += chunk;
      }
    }
    // A pass that dropped something may have made other drops possible: go again.
    if (!changed) chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2);
  }
  return current;
}
