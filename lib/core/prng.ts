/**
 * The one seeded pseudo-random generator of irqlab, for everything that
 * chooses at random: difftest's scenario generator, the fuzzer's mutants,
 * shuffled test orders and random schedules. The same seed gives the same
 * sequence on every machine, so whatever it chose is named by its seed
 * (and an index) and can be replayed. Never `Math.random`, never the clock.
 *
 * @module
 */

/**
 * mulberry32: 32 bits of state, period 2^32, plenty for choosing
 * statements and mutations.
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

  /** A number in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** A whole number in `lo..hi`, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** A whole number in `0..n-1`; 0 when `n` is 0. Draws one value whatever `n` is. */
  below(n: number): number {
    return this.int(0, Math.max(0, n - 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
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

  /** A shuffled copy of `items` (Fisher-Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/**
 * The seed of item `index` of a run seeded `seed` (a difftest case, a
 * fuzz mutant): each item gets its own generator, so item 41 can be
 * regenerated without generating 0..40.
 *
 * @example
 * ```ts
 * new Prng(deriveSeed(1, 41)); // case 41 of `difftest --seed 1`
 * ```
 */
export function deriveSeed(seed: number, index: number): number {
  // Two mixes of splitmix-like constants keep neighbouring pairs far apart.
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
