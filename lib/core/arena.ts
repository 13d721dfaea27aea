/**
 * Zeroed typed arrays for model registers, carved out of shared slabs.
 *
 * Why: `scn explore` re-creates every VM for each order it tries, and a
 * fresh typed array costs an ArrayBuffer of its own (about 300 ns in V8,
 * against about 15 ns for a view on an existing buffer). A LAPIC alone has
 * five. Handing out views of a large zeroed buffer makes building a VM
 * several times cheaper without changing what a model sees: each view is
 * zero-filled, never shared, and as long as asked for.
 *
 * A slab lives while any view into it does; views are never returned, so
 * there is no reuse and no aliasing. Large requests get their own buffer.
 *
 * @module
 */

/** Bytes per slab. */
const SLAB_BYTES = 64 * 1024;
/** Requests above this get a buffer of their own, so slabs are not wasted on them. */
const OWN_BUFFER_BYTES = 4 * 1024;

let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** Reserves `bytes` zeroed bytes, 8-byte aligned; returns [buffer, offset]. */
function reserve(bytes: number): [ArrayBuffer, number] {
  if (bytes > OWN_BUFFER_BYTES) return [new ArrayBuffer(bytes), 0];
  const size = (bytes + 7) & ~7;
  if (used + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += size;
  return [slab, at];
}

/**
 * A zeroed `Uint32Array` of `length` elements.
 *
 * @example
 * ```ts
 * const lvt = arenaU32(7); // Uint32Array [0, 0, 0, 0, 0, 0, 0]
 * ```
 */
export function arenaU32(length: number): Uint32Array {
  const [b, at] = reserve(length * 4);
  return new Uint32Array(b, at, length);
}

/**
 * A zeroed `Int32Array` of `length` elements.
 *
 * @example
 * ```ts
 * const cause = arenaI32(256);
 * ```
 */
export function arenaI32(length: number): Int32Array {
  const [b, at] = reserve(length * 4);
  return new Int32Array(b, at, length);
}

/**
 * A zeroed `Uint8Array` of `length` elements.
 *
 * @example
 * ```ts
 * const lines = arenaU8(24);
 * ```
 */
export function arenaU8(length: number): Uint8Array {
  const [b, at] = reserve(length);
  return new Uint8Array(b, at, length);
}

/**
 * An array of `length` elements, element `i` being `make(i)`: what
 * `Array.from({ length }, (_, i) => make(i))` builds, without its generic
 * array-like walk (about 15 times slower in V8), for the per-vCPU tables a
 * VM builds once each.
 *
 * @example
 * ```ts
 * const ids = arrayOf(3, (i) => i); // [0, 1, 2]
 * ```
 */
export function arrayOf<T>(length: number, make: (i: number) => T): T[] {
  const a: T[] = [];
  for (let i = 0; i < length; i++) a.push(make(i));
  return a;
}
