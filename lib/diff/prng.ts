/**
 * A small seeded pseudo-random generator (mulberry32) for the scenario
 * generator: the same seed gives the same sequence on every machine, so a
 * generated case is named by its seed and index. Never `Math.random`.
 *
 * @module
 */

/**
 * mulberry32: 32 bits of state, period 2^32, plenty for choosing statements.
 *
 * @example
 * ```ts
 * const rng = new Prng(1);
 * rng.int(0, 3); // the same number for seed 1 on every run
 * ```
 */
export class Prng {
  #state: number;

  /** A generator whose whole future is fixed by `seed` (any integer). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit unsigned value. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A whole number in `lo..hi`, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.next() / 0x1_0000_0000) * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = this.int(0, total - 1);
    for (const [w, v] of choices) {
      if (r < w) return v;
      r -= w;
    }
    return choices[choices.length - 1][1];
  }
}

/**
 * The seed of case `index` of a run seeded `seed`: each case gets its own
 * generator, so case 41 can be regenerated without generating 0..40.
 *
 * @example
 * ```ts
 * new Prng(caseSeed(1, 41)); // case 41 of `difftest --seed 1`
 * ```
 */
export function caseSeed(seed: number, index: number): number {
  // Two mixes of splitmix-like constants keep neighbouring pairs far apart.
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
