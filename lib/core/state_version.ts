/**
 * The version of a model object's state, for `scn explore`: an object
 * whose every write bumps a {@link StateVersion} has its digest kept with
 * that version (`StateHash.versioned`) and its snapshot's restore skipped
 * while the version stands (`restoreVersioned`, state_words.ts). The chips
 * a search mostly leaves alone (the I/O APIC, the 8259s, KVM's routing, the
 * handled vectors) were half of a fingerprint. The risk is a write that
 * does not bump, which would merge two states: {@link versionChecks} makes
 * both paths compare with the words fed afresh, and the tests turn it on
 * over the scenario library.
 *
 * @module
 */

/** The last version {@link StateVersion.bump} handed out: versions are never reused. */
let lastVersion = 0;

/**
 * Whether `scn explore`'s fingerprint checks each digest it kept under a
 * {@link StateVersion} against the words fed afresh, and throws when they
 * differ (a write that did not bump). Off in searches; the tests turn it on
 * over the scenario library ({@link setVersionChecks}).
 */
export let versionChecks = false;

/**
 * Turns {@link versionChecks} on or off; returns what it was.
 *
 * @example
 * ```ts
 * const was = setVersionChecks(true);
 * // ... fingerprint states, restore snapshots ...
 * setVersionChecks(was);
 * ```
 */
export function setVersionChecks(on: boolean): boolean {
  const was = versionChecks;
  versionChecks = on;
  return was;
}

/**
 * The version of one model object's state, for `scn explore`: every write
 * to that state {@link StateVersion.bump}s it to a number never used
 * before, and a restore puts back the version saved with the state
 * ({@link StateVersion.value}), so that one version always names one
 * content. The fingerprint keeps the object's digest with the version it
 * was made at (`at`, `a`, `b`, the engine's) and feeds it again while the
 * version stands, rather than the object's words.
 *
 * @example
 * ```ts
 * const v = new StateVersion();
 * const saved = v.value;
 * v.bump(); // a write
 * v.value = saved; // the restore of the state saved with it
 * ```
 */
export class StateVersion {
  /** The current version. Set only to one saved with the state put back. */
  value: number = ++lastVersion;
  /** The version {@link StateVersion.a} and {@link StateVersion.b} were made at (-1: none). */
  at: number = -1;
  /** The digest's first lane, kept by the fingerprint. */
  a: number = 0;
  /** The digest's second lane. */
  b: number = 0;

  /** A write to the state: a version never used before. */
  bump(): void {
    this.value = ++lastVersion;
  }
}
