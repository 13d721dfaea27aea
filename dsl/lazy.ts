/**
 * The top-level statements of a long file as a read-only array whose
 * elements are parsed when read.
 *
 * A syntax tree costs some 40 bytes of heap per byte of `vcpu0: nop` text
 * (six nodes and three locations for eleven bytes). A long file's parse
 * keeps its top-level statements as runs (offsets and counts, see
 * `options.lazy` in dsl/scn.peggy); reading an element parses its run again
 * and keeps that run's trees until another run is read, so a walk in order
 * parses each statement once more and never holds more than one run.
 *
 * @module
 */
import type { SkimmedRun, Statement } from "./ast.ts";

/** Parses a run's statements again (`unskim` in dsl/parse.ts). */
export type Reparse = (run: SkimmedRun) => Statement[];

/**
 * A read-only `Statement[]` over `runs`: `length`, indexes, iteration and
 * every non-mutating array method behave as on a plain array; writes throw.
 * A statement read twice is the same object while its run is the one
 * kept, and an equal new one after; a caller that keeps statements to find
 * them again by identity copies the array first (`[...body]`).
 *
 * @example
 * ```ts
 * import { skim, unskim } from "./parse.ts";
 * const runs = skim("vcpu0: sti\nvcpu0: nop\n").body.filter((s) => s.kind === "skimmed");
 * const body = lazyStatements(runs, unskim);
 * body.length; // 2
 * body[1].kind; // "action"
 * ```
 */
export function lazyStatements(runs: readonly SkimmedRun[], reparse: Reparse): Statement[] {
  // firsts[i]: the index of run i's first statement; firsts[runs.length] the total.
  const firsts = new Float64Array(runs.length + 1);
  for (let i = 0; i < runs.length; i++) firsts[i + 1] = firsts[i] + runs[i].count;
  const total = firsts[runs.length];
  let keptRun = -1;
  let kept: Statement[] = [];

  const at = (index: number): Statement => {
    let lo = 0, hi = runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (firsts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    if (lo !== keptRun) {
      kept = reparse(runs[lo]);
      keptRun = lo;
    }
    return kept[index - firsts[lo]];
  };
  const indexOf = (key: string | symbol): number => {
    if (typeof key !== "string") return -1;
    const n = Number(key);
    return Number.isInteger(n) && n >= 0 && n < total && String(n) === key ? n : -1;
  };

  // The target's own `length` stays 0 (writable, so the proxy may report
  // another); Array.isArray sees an array, and array methods read through
  // the traps below.
  const target: Statement[] = [];
  return new Proxy(target, {
    get(t, key, receiver) {
      if (key === "length") return total;
      const i = indexOf(key);
      return i >= 0 ? at(i) : Reflect.get(t, key, receiver);
    },
    has(t, key) {
      return indexOf(key) >= 0 || Reflect.has(t, key);
    },
    ownKeys() {
      const keys: string[] = [];
      for (let i = 0; i < total; i++) keys.push(String(i));
      keys.push("length");
      return keys;
    },
    getOwnPropertyDescriptor(t, key) {
      if (key === "length") {
        return { value: total, writable: true, enumerable: false, configurable: false };
      }
      const i = indexOf(key);
      if (i >= 0) return { value: at(i), writable: false, enumerable: true, configurable: true };
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
    setPrototypeOf: () => false,
  });
}
