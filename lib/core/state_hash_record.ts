/**
 * A {@link StateHash} that writes down what it is fed, for tests that ask
 * whether `scn explore`'s fingerprint tells two model states apart. Each
 * value is kept as the real hash keeps it (`n` and array elements as 32-bit
 * words), so a field the hash would truncate reads truncated here too.
 *
 * @module
 */

import type { StateHash } from "./platform.ts";

/**
 * Everything `feed` gives a state hash, as text, in order: equal texts are
 * one state to `scn explore`, different texts two.
 *
 * @example
 * ```ts
 * import { stateHashRecord } from "./state_hash_record.ts";
 * stateHashRecord((h) => h.n(0x1_0000_0001)); // "n1": n keeps the low 32 bits
 * ```
 */
export function stateHashRecord(feed: (h: StateHash) => void): string {
  const out: string[] = [];
  const h: StateHash = {
    n: (x) => out.push(`n${x | 0}`),
    num: (x) => out.push(`f${x}`),
    big: (x) => out.push(`b${x}`),
    bool: (x) => out.push(`${x}`),
    words: (a) => out.push(`w${Array.from(a, (x) => x | 0).join(",")}`),
    block: (w, count) => out.push(`w${w.subarray(0, count).join(",")}`),
    value: (v) => out.push(`v${JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `${x}n` : x)}`),
    fixed: (o, f) => f(h, o),
    versioned: (_v, o, f) => f(h, o),
  };
  feed(h);
  return out.join(" ");
}
