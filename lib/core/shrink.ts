/**
 * The one list shrinker of irqlab: drops items (statements, handler
 * declarations, scenario units) while a predicate still holds, first in
 * large chunks, then one by one, so that what is left is 1-minimal: no
 * single removable item can be dropped. difftest shrinks generated cases
 * with it and `scn minimize` the statement lists of a scenario.
 *
 * @module
 */

/** The most predicate calls one shrink may make by default. */
export const DEFAULT_SHRINK_BUDGET = 2000;

/** How {@link shrinkList} may shrink. */
export interface ShrinkOptions<T> {
  /** The most predicate calls ({@link DEFAULT_SHRINK_BUDGET} by default). */
  budget?: number;
  /** Items that may be dropped; the rest always stay (all may, by default). */
  removable?: (item: T) => boolean;
}

/**
 * The smallest list found by dropping chunks of `items` (halving the
 * chunk size down to one, and going again after a pass that dropped
 * something) while `keep` holds. `keep(items)` itself is assumed to hold;
 * a candidate `keep` accepts becomes the current list, so `keep` may
 * record it. Deterministic: the same input and predicate give the same
 * result. Order is kept.
 *
 * @example
 * ```ts
 * shrinkList(["a", "b", "c", "d"], (u) => u.includes("c")); // ["c"]
 * ```
 */
export function shrinkList<T>(
  items: readonly T[],
  keep: (items: readonly T[]) => boolean,
  options: ShrinkOptions<T> = {},
): T[] {
  const budget = options.budget ?? DEFAULT_SHRINK_BUDGET;
  const removable = options.removable ?? (() => true);
  let current = [...items];
  let chunk = Math.max(1, Math.ceil(current.length / 2));
  let calls = 0;
  while (chunk >= 1 && calls < budget) {
    let changed = false;
    for (let i = 0; i < current.length && calls < budget;) {
      const candidate = current.filter((x, j) => j < i || j >= i + chunk || !removable(x));
      if (candidate.length === current.length) {
        i += chunk;
        continue;
      }
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
