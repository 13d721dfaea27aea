/**
 * The delivery history a run keeps: what `took` expectations and invariants
 * can ask, in memory that does not grow with the run.
 *
 * A `took` condition asks how many times a vCPU took a vector (or a kind:
 * `nmi`), whether it took anything, and for `in order`, whether the takes of
 * the listed values came in exactly that sequence. So the history keeps, per
 * vCPU, a count per vector and per kind, and for each `in order` condition
 * of the program a matcher that follows that sequence as takes come: a
 * position in the list and whether every take so far was the one expected
 * there. Both are O(1) in the number of takes. Only an `in order` list whose
 * values are not literals (a variable) makes the history keep that vCPU's
 * takes, as kind and vector, since which takes matter is known only when the
 * condition is evaluated.
 *
 * With `full`, every take is also kept as a {@link TookRecord} with its
 * trace event: the JSON report, `scn diff` and explaining a failure read
 * them.
 *
 * @module
 */
import type { Cond, Expr, Program } from "../../dsl/program.ts";
import type { Val } from "../core/table.ts";
import { formatVal, valEquals } from "../core/values.ts";

/** One interrupt taken by a vCPU. */
export interface TookRecord {
  /** The VM's name. */
  vm: string;
  /** The vCPU's name: `vcpu1`. */
  cpu: string;
  /** What it was: `vector`, `nmi`, `extint`. */
  kind: string;
  /** The vector or INTID taken (negative for takes without one, as an NMI). */
  vector: number;
  /** Virtual time in ns. */
  time: number;
  /** The trace event of the take (0 without a trace). */
  event: number;
}

/** A 32-bit mix of a (vector, count) pair. */
/** {@link History.digest}'s order-free sum of a vCPU's counts by vector, as {@link addVector} adds them. */
let vectorSum = 0;
function addVector(k: Counter, vector: number): void {
  vectorSum = (vectorSum + mix(vector, k.n)) | 0;
}

/** What {@link History.digest} feeds a kind's count to, for {@link feedKind}. */
let digestN: (x: number) => void = () => {};
let digestStr: (s: string) => void = () => {};
function feedKind(k: Counter, kind: string): void {
  digestStr(kind);
  digestN(k.n);
}

function mix(vector: number, count: number): number {
  let x = Math.imul(vector ^ 0x5bd1e995, 0xcc9e2d51) ^ Math.imul(count, 0x1b873593);
  x ^= x >>> 15;
  x = Math.imul(x, 0x85ebca6b);
  return x ^ (x >>> 13);
}

/** A `took` condition. */
export type TookCond = Extract<Cond, { c: "took" }>;

/** A count that a map holds by reference, so that counting one more sets nothing in the map. */
interface Counter {
  n: number;
}

/** What one vCPU took, counted. */
class CpuHistory {
  total = 0;
  readonly byVector = new Map<number, Counter>();
  readonly byKind = new Map<string, Counter>();
  /** The last take's vector and kind with their counters: a storm takes the same one again. */
  lastVector = NaN;
  lastVectorCount: Counter = { n: 0 };
  lastKind = "";
  lastKindCount: Counter = { n: 0 };
  /**
   * Whether `lastVectorCount` and `lastKindCount` are in `byVector` and `byKind`: not while
   * they are a guess's ({@link History.guess}) that has counted nothing yet.
   */
  vectorListed = true;
  kindListed = true;
  /** Kinds and vectors in order, kept only when a non-literal `in order` list needs them. */
  sequence: { kind: string; vector: number }[] | null = null;
}

/** Follows one `in order` list (of literal values) through the takes of its vCPU. */
class OrderMatcher {
  /** Takes seen that match some value of the list. */
  seen = 0;
  /** Whether each of them matched the list's value at its position. */
  inPlace = true;
  constructor(readonly wanted: readonly Val[]) {}

  see(kind: string, vector: number): void {
    let any = false;
    for (const w of this.wanted) if (matches(kind, vector, w)) any = true;
    if (!any) return;
    if (this.seen >= this.wanted.length || !matches(kind, vector, this.wanted[this.seen])) {
      this.inPlace = false;
    }
    // Past the list's end the answer is settled; stopping there keeps the state finite.
    if (this.seen <= this.wanted.length) this.seen++;
  }

  holds(): boolean {
    return this.inPlace && this.seen === this.wanted.length;
  }
}

/**
 * Whether a take is what a `took` value names: a number is a vector (or
 * INTID), a string is a kind (`nmi`), which the checker lowers from a
 * handler event that takes no value.
 */
function matches(kind: string, vector: number, wanted: Val): boolean {
  return typeof wanted === "string" ? kind === wanted : valEquals(vector, wanted);
}

const IN_ORDER = new WeakMap<Program, TookCond[]>();
const NO_CONDS: readonly TookCond[] = [];

/**
 * Every `took ... in order` condition in the program, wherever it stands
 * (timeline, handler bodies, nested blocks, conditions inside conditions).
 * A walk over the plain data of the checked program rather than over named
 * op kinds, so a new statement kind cannot hide one; the model tables it
 * points to (`spec`, `platform`, `param`, `field`) are not program data.
 */
function inOrderConds(program: Program): readonly TookCond[] {
  // Most programs have none, and the checker says so: no walk over all their data.
  if (program.tookInOrder === false) return NO_CONDS;
  // `scn explore` runs one program many times; its conditions are found once.
  const known = IN_ORDER.get(program);
  if (known !== undefined) return known;
  const out: TookCond[] = [];
  IN_ORDER.set(program, out);
  const seen = new Set<object>();
  const skip = new Set(["spec", "platform", "param", "field", "file", "loc", "sources"]);
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== "object" || seen.has(x)) return;
    seen.add(x);
    if (Array.isArray(x)) {
      for (const y of x) walk(y);
      return;
    }
    const o = x as Record<string, unknown>;
    if (o.c === "took" && o.inOrder === true) out.push(o as unknown as TookCond);
    for (const k in o) if (!skip.has(k)) walk(o[k]);
  };
  walk(program.body);
  walk(program.handlers);
  return out;
}

function literal(e: Expr): e is Extract<Expr, { e: "lit" }> {
  return e.e === "lit";
}

/**
 * The delivery history of one run.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * declare const program: Program;
 * const h = new History(program, [["vcpu0"]], false);
 * h.record(0, 0, "vector", 0x41, 0, 0);
 * h.count(0, 0, 0x41); // 1
 * ```
 */
export class History {
  /** Every take, in order; empty unless the history is `full`. */
  readonly records: TookRecord[] = [];
  readonly #cpus: CpuHistory[][];
  /** Matchers of literal `in order` lists, by vm and vCPU. */
  readonly #matchers: OrderMatcher[][][];
  readonly #byCond = new Map<TookCond, OrderMatcher>();
  /** Whether the program has an `in order` condition: a sequence or a matcher to feed. */
  readonly #ordered: boolean;
  /** The names a full history's records carry: the program's VMs', and per VM its vCPUs'. */
  readonly #vmNames: readonly string[];
  readonly #cpuNames: readonly (readonly string[])[];

  /**
   * An empty history for one run of `program`.
   *
   * @param program the program whose `in order` conditions are followed (and whose VMs' names
   *   the records carry)
   * @param cpuNames per VM, the names of its vCPUs
   * @param full keep every take as a {@link TookRecord} too
   */
  constructor(
    program: Program,
    cpuNames: readonly (readonly string[])[],
    readonly full: boolean,
  ) {
    this.#vmNames = program.vms.map((vm) => vm.name);
    this.#cpuNames = cpuNames;
    this.#cpus = cpuNames.map((names) => names.map(() => new CpuHistory()));
    this.#matchers = cpuNames.map((names) => names.map(() => []));
    const ordered = inOrderConds(program);
    this.#ordered = ordered.length !== 0;
    for (const c of ordered) {
      const cpu = this.#cpus[c.vm]?.[c.cpu];
      if (cpu === undefined) continue;
      if (c.values.every(literal)) {
        const m = new OrderMatcher(c.values.map((v) => v.value));
        this.#byCond.set(c, m);
        this.#matchers[c.vm][c.cpu].push(m);
      } else cpu.sequence ??= [];
    }
  }

  /** Records a take by vCPU `c` of VM `v` (its names, for a full history, from the constructor's). */
  record(v: number, c: number, kind: string, vector: number, time: number, event: number): void {
    const h = this.#cpus[v][c];
    h.total++;
    // What a take other than the last one's kind and vector needs is apart, so that the common
    // record stays small enough for V8 to inline.
    if (vector !== h.lastVector || kind !== h.lastKind) this.#switchCounts(h, kind, vector);
    h.lastVectorCount.n++;
    h.lastKindCount.n++;
    // What only `in order` conditions and a full history need, apart (see above).
    if (this.#ordered || this.full) this.#keep(h, v, c, kind, vector, time, event);
  }

  /**
   * Points vCPU `c` of VM `v`'s last counts at `kind` and `vector` before its first take, so
   * that a first take of them is counted as a take of the last one's is. The first take of a
   * run comes before V8 collects type feedback for the functions it passes through, so the
   * next run taking the other way threw away the optimized code of the take. A wrong guess
   * costs what none did; the counts are the same either way (the guess's counters join the
   * maps when they first count, before anything reads them).
   */
  guess(v: number, c: number, kind: string, vector: number): void {
    const h = this.#cpus[v][c];
    if (h.total !== 0) return;
    this.#list(h);
    h.lastVector = vector;
    h.lastVectorCount = { n: 0 };
    h.vectorListed = false;
    h.lastKind = kind;
    h.lastKindCount = { n: 0 };
    h.kindListed = false;
  }

  /** Puts a guess's counters that have counted into the maps (see {@link History.guess}). */
  #list(h: CpuHistory): void {
    if (!h.vectorListed && h.lastVectorCount.n !== 0) {
      h.byVector.set(h.lastVector, h.lastVectorCount);
      h.vectorListed = true;
    }
    if (!h.kindListed && h.lastKindCount.n !== 0) {
      h.byKind.set(h.lastKind, h.lastKindCount);
      h.kindListed = true;
    }
  }

  /** Points `h`'s last counts at `kind`'s and `vector`'s (see {@link History.record}). */
  #switchCounts(h: CpuHistory, kind: string, vector: number): void {
    this.#list(h);
    if (vector !== h.lastVector) {
      let k = h.byVector.get(vector);
      if (k === undefined) h.byVector.set(vector, k = { n: 0 });
      h.lastVector = vector;
      h.lastVectorCount = k;
      h.vectorListed = true;
    }
    if (kind !== h.lastKind) {
      let k = h.byKind.get(kind);
      if (k === undefined) h.byKind.set(kind, k = { n: 0 });
      h.lastKind = kind;
      h.lastKindCount = k;
      h.kindListed = true;
    }
  }

  /** {@link History.record} of what `in order` conditions and a full history keep. */
  #keep(
    h: CpuHistory,
    v: number,
    c: number,
    kind: string,
    vector: number,
    time: number,
    event: number,
  ): void {
    if (h.sequence !== null) h.sequence.push({ kind, vector });
    const matchers = this.#matchers[v][c];
    for (let i = 0; i < matchers.length; i++) matchers[i].see(kind, vector);
    if (this.full) {
      const vm = this.#vmNames[v], cpu = this.#cpuNames[v][c];
      this.records.push({ vm, cpu, kind, vector, time, event });
    }
  }

  /**
   * For `scn explore`'s snapshots: a function that puts the history back
   * as it is now (counts, sequences, `in order` matchers, records), as
   * often as called. Fixed for the run: full, #byCond, #ordered, #vmNames, #cpuNames.
   */
  snapshot(): () => void {
    const records = this.records.length;
    for (const vm of this.#cpus) for (const h of vm) this.#list(h);
    const cpus = this.#cpus.map((vm) =>
      vm.map((h) => ({
        total: h.total,
        byVector: [...h.byVector].map(([v, k]) => [v, k.n] as const),
        byKind: [...h.byKind].map(([kind, k]) => [kind, k.n] as const),
        sequence: h.sequence === null ? null : [...h.sequence],
      }))
    );
    const matchers = this.#matchers.map((vm) =>
      vm.map((cpu) => cpu.map((m) => ({ seen: m.seen, inPlace: m.inPlace })))
    );
    return () => {
      // Every change goes through record(), which counts a take: with no
      // count moved since, there is nothing to put back.
      let moved = false;
      for (let v = 0; v < cpus.length && !moved; v++) {
        for (let c = 0; c < cpus[v].length; c++) {
          if (this.#cpus[v][c].total !== cpus[v][c].total) moved = true;
        }
      }
      if (!moved) return;
      this.records.length = records;
      for (let v = 0; v < cpus.length; v++) {
        for (let c = 0; c < cpus[v].length; c++) {
          const h = this.#cpus[v][c], saved = cpus[v][c];
          h.total = saved.total;
          h.byVector.clear();
          for (const [vector, n] of saved.byVector) h.byVector.set(vector, { n });
          h.byKind.clear();
          for (const [kind, n] of saved.byKind) h.byKind.set(kind, { n });
          // The last-entry caches pointed into the maps just rebuilt.
          h.lastVector = NaN;
          h.lastVectorCount = { n: 0 };
          h.lastKind = "";
          h.lastKindCount = { n: 0 };
          h.vectorListed = h.kindListed = true;
          if (saved.sequence !== null) h.sequence = [...saved.sequence];
          const ms = this.#matchers[v][c];
          for (let i = 0; i < ms.length; i++) {
            ms[i].seen = matchers[v][c][i].seen;
            ms[i].inPlace = matchers[v][c][i].inPlace;
          }
        }
      }
    };
  }

  /** How many takes vCPU `c` of VM `v` has had. */
  total(v: number, c: number): number {
    return this.#cpus[v][c].total;
  }

  /** How many takes of vCPU `c` of VM `v` match `wanted` (a vector, or a kind such as `nmi`). */
  count(v: number, c: number, wanted: Val): number {
    const h = this.#cpus[v][c];
    this.#list(h);
    if (typeof wanted === "string") return h.byKind.get(wanted)?.n ?? 0;
    let n = 0;
    // Vectors are few per vCPU; valEquals keeps `took` comparing as values do elsewhere.
    for (const [vector, k] of h.byVector) if (valEquals(vector, wanted)) n += k.n;
    return n;
  }

  /**
   * Whether the takes of `cond`'s vCPU that match any of `wanted` are
   * exactly `wanted`, in order.
   */
  inOrder(cond: TookCond, wanted: readonly Val[]): boolean {
    const m = this.#byCond.get(cond);
    if (m !== undefined) return m.holds();
    const seq = this.#cpus[cond.vm][cond.cpu].sequence;
    if (seq === null) {
      throw new Error(`'in order' condition at line ${cond.loc.start.line} has no history`);
    }
    let i = 0;
    for (const t of seq) {
      if (!wanted.some((w) => matches(t.kind, t.vector, w))) continue;
      if (i >= wanted.length || !matches(t.kind, t.vector, wanted[i])) return false;
      i++;
    }
    return i === wanted.length;
  }

  /**
   * What vCPU `c` of VM `v` took, counted, for a failure explained without
   * a full history: `0x41 (3 times), nmi (once)`, or `nothing`. A full
   * history lists the takes in order instead.
   */
  summary(v: number, c: number): string {
    const h = this.#cpus[v][c];
    if (h.total === 0) return "nothing";
    this.#list(h);
    const times = (k: number) => (k === 1 ? "once" : k === 2 ? "twice" : `${k} times`);
    const parts = [...h.byVector].filter(([vector]) => vector >= 0).sort((a, b) => a[0] - b[0])
      .map(([vector, k]) => `${formatVal(vector)} (${times(k.n)})`);
    for (const [kind, k] of [...h.byKind].sort((a, b) => a[0] < b[0] ? -1 : 1)) {
      if (kind !== "vector") parts.push(`${kind} (${times(k.n)})`);
    }
    return parts.join(", ");
  }

  /** Feeds what expectations can observe of the history to a hash, for `scn explore`. */
  digest(n: (x: number) => void, str: (s: string) => void): void {
    // Indexed loops and forEach with module functions: for-of over the maps
    // made an iterator and an entry array per vCPU at every state.
    const cpus = this.#cpus;
    for (let v = 0; v < cpus.length; v++) {
      const vm = cpus[v];
      for (let c = 0; c < vm.length; c++) {
        const h = vm[c];
        this.#list(h);
        n(h.total);
        // Order-free sums, so that the same counts reached in another order hash alike.
        vectorSum = 0;
        h.byVector.forEach(addVector);
        n(h.byVector.size);
        n(vectorSum);
        n(h.byKind.size);
        // By kind's name, whatever order they came in (no copy to sort for one).
        if (h.byKind.size === 1) {
          digestN = n;
          digestStr = str;
          h.byKind.forEach(feedKind);
        } else if (h.byKind.size > 1) {
          for (const kind of [...h.byKind.keys()].sort()) (str(kind), n(h.byKind.get(kind)!.n));
        }
        if (h.sequence) { for (const t of h.sequence) (str(t.kind), n(t.vector)); }
      }
    }
    const matchers = this.#matchers;
    for (let v = 0; v < matchers.length; v++) {
      const vm = matchers[v];
      for (let c = 0; c < vm.length; c++) {
        const cpu = vm[c];
        for (let i = 0; i < cpu.length; i++) (n(cpu[i].seen), n(cpu[i].inPlace ? 1 : 0));
      }
    }
  }
}
