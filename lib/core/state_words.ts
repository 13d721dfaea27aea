/**
 * What the models' `scn explore` hooks share:
 *
 * - scratch words: a hook writes what it holds into one array and feeds it
 *   with one `StateHash.block` call, rather than a call per number (a call
 *   cost more than hashing its word, at every state);
 * - {@link restoreVersioned}: the restore of an object whose writes bump
 *   a `StateVersion` (state_version.ts), skipped while the version stands.
 *
 * @module
 */
import type { StateHash } from "./platform.ts";
import { stateHashRecord } from "./state_hash_record.ts";
import { type StateVersion, versionChecks } from "./state_version.ts";

/**
 * Writes `a`'s elements into `w` from index `k`, 32 at a time: a mask of
 * those that are not 0, then those, as the fingerprint feeds register
 * pages. Each element is taken as a 32-bit word. Returns the index after
 * the last word written; `w` must have room for `maskedWordsSize(a.length)`.
 * For 32-bit words only, so that it stays monomorphic (one function for
 * all element types was a sixth of a fingerprint): bytes go as words of
 * four, through a view.
 *
 * @example
 * ```ts
 * const w = new Int32Array(8);
 * maskedWords(w, 0, Uint32Array.of(0, 7, 0)); // 2: w holds 0b10, 7
 * ```
 */
export function maskedWords(w: Int32Array, k: number, a: Uint32Array): number {
  const len = a.length;
  for (let base = 0; base < len; base += 32) {
    const end = base + 32 < len ? base + 32 : len;
    const at = k++;
    let mask = 0;
    let i = base;
    // Registers are mostly 0: four words tested at once.
    for (; i + 4 <= end; i += 4) {
      if ((a[i] | a[i + 1] | a[i + 2] | a[i + 3]) === 0) continue;
      for (let j = i; j < i + 4; j++) {
        const x = a[j];
        if (x !== 0) (mask |= 1 << (j - base), w[k++] = x);
      }
    }
    for (; i < end; i++) {
      const x = a[i];
      if (x !== 0) (mask |= 1 << (i - base), w[k++] = x);
    }
    w[at] = mask;
  }
  return k;
}

/**
 * The most words {@link maskedWords} writes for `length` elements.
 *
 * @example
 * ```ts
 * maskedWordsSize(24); // 25: one mask and 24 words
 * ```
 */
export function maskedWordsSize(length: number): number {
  return length + Math.ceil(length / 32);
}

/**
 * A snapshot's restore of an object whose writes bump `version`: `put`
 * (which puts the state saved at version `saved` back) runs only when the
 * version moved since, since otherwise the state is still the saved one.
 * Under {@link versionChecks} it always runs, and throws when it changed
 * what `feed` feeds of `o` while the version stood (a write that did not
 * bump). Then sets the version back to `saved`.
 *
 * @example
 * ```ts
 * import { StateVersion } from "./state_version.ts";
 * const v = new StateVersion(), saved = v.value;
 * let x = 1;
 * restoreVersioned(v, saved, {}, (h) => h.n(x), () => (x = 1)); // nothing written: put not run
 * ```
 */
export function restoreVersioned<T extends object>(
  version: StateVersion,
  saved: number,
  o: T,
  feed: (h: StateHash, o: T) => void,
  put: () => void,
): void {
  if (version.value === saved) {
    if (!versionChecks) return;
    const before = stateHashRecord((h) => feed(h, o));
    put();
    if (stateHashRecord((h) => feed(h, o)) !== before) {
      throw new Error(
        `${o.constructor.name}: a restore changed state written with no new version (a write that does not bump its StateVersion)`,
      );
    }
    return;
  }
  put();
  version.value = saved;
}
