/**
 * 256-bit sets of interrupt vectors, stored the way the LAPIC stores IRR, ISR
 * and TMR: eight 32-bit words, vector `v` in word `v >> 5`, bit `v & 31`.
 *
 * These are free functions over a `Uint32Array(8)` rather than a class so the
 * LAPIC can keep its registers in plain typed arrays and the hot path (accept,
 * acknowledge, EOI) allocates nothing.
 *
 * @module
 */
import { arenaU32 } from "./arena.ts";

/** A 256-bit vector set: eight 32-bit words, low vectors in word 0. */
export type VectorSet = Uint32Array;

/**
 * Makes an empty 256-bit vector set.
 *
 * @example
 * ```ts
 * const irr = newVectorSet();
 * setVector(irr, 0x41);
 * ```
 */
export function newVectorSet(): VectorSet {
  return arenaU32(8);
}

/** Sets bit `v`. */
export function setVector(s: VectorSet, v: number): void {
  s[v >>> 5] |= 1 << (v & 31);
}

/** Clears bit `v`. */
export function clearVector(s: VectorSet, v: number): void {
  s[v >>> 5] &= ~(1 << (v & 31));
}

/** Whether bit `v` is set. */
export function testVector(s: VectorSet, v: number): boolean {
  return (s[v >>> 5] & (1 << (v & 31))) !== 0;
}

/**
 * The highest set vector, or -1 when the set is empty.
 *
 * @example
 * ```ts
 * const isr = newVectorSet();
 * setVector(isr, 0x30); setVector(isr, 0x40);
 * highestVector(isr); // 0x40
 * ```
 */
export function highestVector(s: VectorSet): number {
  for (let w = 7; w >= 0; w--) {
    const word = s[w];
    if (word !== 0) return (w << 5) + 31 - Math.clz32(word);
  }
  return -1;
}

/** Whether no bit is set. */
export function isEmptyVectorSet(s: VectorSet): boolean {
  for (let w = 0; w < 8; w++) if (s[w] !== 0) return false;
  return true;
}

/** The set vectors in ascending order (allocates: for reporting, not hot paths). */
export function vectorsOf(s: VectorSet): number[] {
  const out: number[] = [];
  for (let v = 0; v < 256; v++) if (testVector(s, v)) out.push(v);
  return out;
}

/**
 * Clears every bit. Eight stores rather than `fill`: every LAPIC reset clears
 * three sets, `scn explore` builds a VM per order it tries, and the builtin
 * call costs more than the stores.
 */
export function clearAllVectors(s: VectorSet): void {
  for (let w = 0; w < 8; w++) s[w] = 0;
}

/**
 * Copies every bit of `from` into `to`. Eight loads and stores rather than
 * `set`, for the same reason as {@link clearAllVectors}: `scn explore`
 * puts a LAPIC's three sets back for every order it tries.
 *
 * @example
 * ```ts
 * const a = newVectorSet(), b = newVectorSet();
 * setVector(a, 0x41);
 * copyVectors(b, a);
 * testVector(b, 0x41); // true
 * ```
 */
export function copyVectors(to: VectorSet, from: VectorSet): void {
  for (let w = 0; w < 8; w++) to[w] = from[w];
}
