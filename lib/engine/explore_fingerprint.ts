/**
 * A deterministic fingerprint of the whole state of a run, so that `scn
 * explore` does not explore the same state twice.
 *
 * What it reads:
 *
 * 1. every public field reachable from each VM object (arrays, typed
 *    arrays, maps, sets, nested objects, shared references by identity),
 *    which reaches most of the models' state (IRR/ISR/TMR pages, pending
 *    LPIs, ITS tables, guest memory, lowest-priority cursors);
 * 2. what the models keep in JavaScript private fields, through the VM's
 *    {@link VmModel.hashPrivate} (LAPIC registers and timers, I/O APIC
 *    entries, the 8259s, vCPU interrupt frames, Xen channels); objects
 *    whose writes bump a version (`StateVersion`) as a 64-bit digest kept
 *    with it ({@link StateHash.versioned}). A VM
 *    without that hook is read through every state path its platform
 *    publishes (`scn help state`), for every index its bounds allow (up to
 *    {@link MAX_INSTANCES} per path): many times slower, and blind to
 *    private state no path shows. Tests compare the hooks with those
 *    paths, word for word, over the library's scenarios;
 * 3. the interpreter's own state: virtual time, variables, the took
 *    history, handler frames, invariants declared, enclosing loop
 *    counters, and the number of queued timer events.
 *
 * Limits (documented in `scn help explore`): timer callbacks in the event
 * queue are seen only by their number (the models' own deadlines are
 * seen), so two states differing only there are taken as one. The trace
 * must be off while exploring: models keep trace event ids (causes) in
 * their state, and those differ between orders that reach the same state.
 * `--no-dedup` turns deduplication off when in doubt; the tests compare
 * verdicts with and without it over the scenario library.
 *
 * @module
 */
import type { Op, Program } from "../../dsl/program.ts";
import type { StateSpec } from "../core/table.ts";
import { Trace } from "../core/trace.ts";
import { EventQueue } from "../core/event_queue.ts";
import type { HashesFields, StateHash, VmModel } from "../core/platform.ts";
import { type StateVersion, versionChecks } from "../core/state_version.ts";
import type { RunState } from "./run.ts";

/** The first lane's start: FNV-1a's offset basis (its multiplier is 0x01000193). */
const LANE_A_SEED = 0x811c9dc5 | 0;
/** The second lane's start, murmur3's seed as the hasher uses it. */
const LANE_B_SEED = 0x9747b28c | 0;

/** Slots of the {@link Hasher}'s string cache (a power of two). */
const STRING_SLOTS = 256;

/** Objects met first in a fingerprint whose class {@link Hasher} remembers by position. */
const MEMO = 256;

/** Objects of one fingerprint kept in a list before a map takes the rest. */
const SEEN_LIST = 64;

/** State paths with more instances than this (LPI and SPI tables) are left to the field walk. */
export const MAX_INSTANCES = 64;

const T_UNDEF = 0x5f3759df,
  T_NULL = 0x1b873593,
  T_TRUE = 0x2545f491,
  T_FALSE = 0x61c88647,
  T_NUM = 0x7feb352d,
  T_STR = 0x68e31da4,
  T_BIG = 0x3c6ef372,
  T_REF = 0x27d4eb2f,
  T_ARR = 0x165667b1,
  T_TA = 0x85ebca6b,
  T_MAP = 0xc2b2ae35,
  T_SET = 0x9e3779b9,
  T_OBJ = 0x6a09e667,
  T_FN = 0x510e527f,
  T_FIXED = 0x9b05688c,
  T_VERSIONED = 0x1f83d9ab;

const f64 = new Float64Array(1);
const f64w = new Uint32Array(f64.buffer);

/**
 * Two independent 32-bit lanes (FNV-1a and a murmur3-style mix): 64 bits,
 * so that a search of a million states has a collision chance near 1e-8.
 * {@link ExactHasher} keeps every word instead, for the tests; this class
 * is the one `scn explore` uses, so its `n` tests for no log.
 */
class Hasher implements StateHash {
  a = LANE_A_SEED;
  b = LANE_B_SEED;
  /**
   * Objects met in this fingerprint, by order of meeting: the first
   * {@link SEEN_LIST} in a list (a scan of a few dozen beats a map, which
   * would be rebuilt for every fingerprint), the rest in a map. The list
   * keeps its length, with #listed entries in use: emptying an array frees
   * its store, and pushing made a new one at every fingerprint.
   */
  readonly #seenList: (object | null)[] = new Array(SEEN_LIST).fill(null);
  #listed = 0;
  readonly #seen = new Map<object, number>();
  /** Objects met in this fingerprint so far, all kinds. */
  #met = 0;
  /** The k-th object met by the last fingerprint that met one there, and its class. */
  readonly #objAt: (object | null)[] = new Array(MEMO).fill(null);
  readonly #infoAt: (ClassInfo | null)[] = new Array(MEMO).fill(null);
  /** Whether the k-th object met last time had been met before it (its id), or not (-1). */
  readonly #refAt = new Int32Array(MEMO).fill(-1);
  /** Whether every object met so far in this fingerprint was met at the same place last time. */
  #same = true;
  /** Objects the last fingerprint met. */
  #lastMet = 0;
  /** {@link Hasher.fixed}'s digests, by object. */
  readonly #fixed = new Map<object, [number, number]>();
  /** What {@link Hasher.fixed} collects words with. */
  #exact: ExactHasher | undefined = undefined;
  /** What {@link Hasher.versioned} folds words with. */
  #words: WordHasher | undefined = undefined;
  readonly #strKeys: (string | null)[] = new Array(STRING_SLOTS).fill(null);
  readonly #strHashes = new Int32Array(STRING_SLOTS);
  /**
   * Per constructor met by the walk: what kind of object it makes, its
   * name's hash and its `hashFields` (found once per class, not per object).
   */
  readonly #classes: Map<object | null, ClassInfo>;
  /** Per constructor, the last key list seen and its hash (instances of a class share one). */
  readonly #shapes = new Map<unknown, { keys: string[]; hash: number }>();

  constructor(readonly hooks: boolean) {
    this.#classes = CLASSES[hooks ? 1 : 0];
  }

  reset(): void {
    this.a = LANE_A_SEED;
    this.b = LANE_B_SEED;
    this.#listed = 0;
    this.#lastMet = this.#met;
    this.#met = 0;
    this.#same = true;
    if (this.#seen.size > 0) this.#seen.clear();
  }

  n(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x01000193);
    let k = Math.imul(x, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    let b = this.b ^ k;
    b = (b << 13) | (b >>> 19);
    this.b = (Math.imul(b, 5) + 0xe6546b64) | 0;
  }

  block(w: Int32Array, count: number): void {
    // n's two lanes, with the lanes in locals for the loop.
    let a = this.a, b = this.b;
    for (let i = 0; i < count; i++) {
      const x = w[i];
      a = Math.imul(a ^ x, 0x01000193);
      let k = Math.imul(x, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      b ^= k;
      b = (b << 13) | (b >>> 19);
      b = (Math.imul(b, 5) + 0xe6546b64) | 0;
    }
    this.a = a;
    this.b = b;
  }

  str(s: string): void {
    this.n(T_STR);
    this.n(this.strHash(s));
  }

  strHash(s: string): number {
    // A direct-mapped cache by length and first and last character: the
    // same few names and modes come back at every state, and comparing one
    // string (by reference, mostly) beats a map's lookup.
    const len = s.length;
    const slot = len === 0
      ? 0
      : ((len * 31 + s.charCodeAt(0) * 7 + s.charCodeAt(len - 1)) & (STRING_SLOTS - 1));
    if (this.#strKeys[slot] === s) return this.#strHashes[slot];
    let h = STRINGS.get(s);
    if (h === undefined) {
      h = LANE_A_SEED;
      for (let i = 0; i < len; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
      h ^= len;
      if (STRINGS.size < 100_000) STRINGS.set(s, h);
    }
    this.#strKeys[slot] = s;
    this.#strHashes[slot] = h;
    return h;
  }

  bool(x: boolean): void {
    this.n(x ? T_TRUE : T_FALSE);
  }

  words(a: ArrayLike<number>): void {
    // Register pages by the typed-array loops (length, then the words
    // that are not zero); arrays of numbers element by element. The
    // models' registers first: the words `bytes` gives them, without its tests.
    if (a instanceof Uint32Array) {
      this.n(T_TA);
      this.n(a.byteLength);
      return this.#uint32(a);
    }
    if (ArrayBuffer.isView(a)) return this.bytes(a);
    this.n(T_ARR);
    const len = a.length;
    this.n(len);
    for (let i = 0; i < len; i++) this.num(a[i]);
  }

  num(x: number): void {
    if ((x | 0) === x) {
      this.n(x);
      return;
    }
    f64[0] = x;
    this.n(T_NUM);
    this.n(f64w[0]);
    this.n(f64w[1]);
  }

  /** A bigint 32 bits at a time (64-bit registers, mostly): no string built. */
  big(v: bigint): void {
    this.n(T_BIG);
    if (v === 0n) return;
    // Below 2^53 by numbers: the same words as the loop below, nothing allocated.
    if (v >= 0n && v <= 0x1fffffffffffffn) {
      const x = Number(v);
      if (x === 0) return;
      const lo = x % 0x100000000, hi = (x - lo) / 0x100000000;
      this.n(lo);
      if (hi !== 0) this.n(hi);
      return;
    }
    if (v < 0n) {
      this.n(T_NULL);
      v = -v;
    }
    while (v !== 0n) {
      this.n(Number(BigInt.asUintN(32, v)));
      v >>= 32n;
    }
  }

  fixed<T extends object>(o: T, feed: (h: StateHash, o: T) => void): void {
    let d = this.#fixed.get(o);
    if (d === undefined) {
      // The words `feed` gives, folded into two (their lanes as FNV-1a
      // and murmur3 would make them): a 64-bit digest of the object.
      const w = this.#exact ??= new ExactHasher(this.hooks);
      w.reset();
      feed(w, o);
      // Folded by `block` from fresh lanes; this fingerprint's own lanes wait meanwhile.
      const a = this.a, b = this.b;
      this.a = LANE_A_SEED;
      this.b = LANE_B_SEED;
      this.block(Int32Array.from(w.log), w.log.length);
      d = [this.a, this.b];
      this.a = a;
      this.b = b;
      if (this.#fixed.size >= 1024) this.#fixed.clear();
      this.#fixed.set(o, d);
    }
    this.#three(T_FIXED, d[0], d[1]);
  }

  versioned<T extends object>(
    version: StateVersion,
    o: T,
    feed: (h: StateHash, o: T) => void,
  ): void {
    if (version.at !== version.value || versionChecks) {
      // The words `feed` gives, folded from fresh lanes by a hasher that
      // refuses objects (their ids would be this walk's): a 64-bit digest.
      const w = this.#words ??= new WordHasher(this.hooks);
      w.a = LANE_A_SEED;
      w.b = LANE_B_SEED;
      feed(w, o);
      if (version.at === version.value && (w.a !== version.a || w.b !== version.b)) {
        throw new Error(
          `explore: ${o.constructor.name}'s state changed with no new version (a write that does not bump its StateVersion)`,
        );
      }
      version.at = version.value;
      version.a = w.a;
      version.b = w.b;
    }
    this.#three(T_VERSIONED, version.a, version.b);
  }

  /** `n` of three words, in one call: a kept digest, fed at every state. */
  #three(x: number, y: number, z: number): void {
    let a = this.a, b = this.b;
    a = Math.imul(a ^ x, 0x01000193);
    a = Math.imul(a ^ y, 0x01000193);
    a = Math.imul(a ^ z, 0x01000193);
    let k = Math.imul(x, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    b ^= Math.imul(k, 0x1b873593);
    b = (b << 13) | (b >>> 19);
    b = (Math.imul(b, 5) + 0xe6546b64) | 0;
    k = Math.imul(y, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    b ^= Math.imul(k, 0x1b873593);
    b = (b << 13) | (b >>> 19);
    b = (Math.imul(b, 5) + 0xe6546b64) | 0;
    k = Math.imul(z, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    b ^= Math.imul(k, 0x1b873593);
    b = (b << 13) | (b >>> 19);
    this.a = a;
    this.b = (Math.imul(b, 5) + 0xe6546b64) | 0;
  }

  /** Any value: primitives by value, objects by their contents, shared objects once. */
  value(v: unknown): void {
    // typeof tested case by case (a switch over its string calls a builtin).
    if (typeof v === "object") {
      if (v === null) this.n(T_NULL);
      else this.object(v);
    } else if (typeof v === "number") this.num(v);
    else if (typeof v === "string") this.str(v);
    else if (typeof v === "boolean") this.n(v ? T_TRUE : T_FALSE);
    else if (v === undefined) this.n(T_UNDEF);
    else if (typeof v === "bigint") this.big(v);
    else this.n(T_FN);
  }

  object(o: object): void {
    // Runs of one search meet the same objects in the same order (a
    // snapshot puts the state back into them): the k-th object met last
    // time, if this is it again, has its class known without a lookup.
    const k = this.#met++;
    let c: ClassInfo;
    // While every object met so far is the one the last fingerprint met
    // there, so is the answer to whether this one was met before (past the
    // last fingerprint's end, the entries are older ones').
    let id = -2;
    if (k < MEMO && this.#objAt[k] === o) {
      c = this.#infoAt[k]!;
      if (this.#same && k < this.#lastMet) id = this.#refAt[k];
    } else {
      this.#same = false;
      c = this.#classes.get(Object.getPrototypeOf(o)) ?? this.#classOf(o);
      if (k < MEMO) (this.#objAt[k] = o, this.#infoAt[k] = c);
    }
    // The trace is history, not state (and is off while exploring); the
    // queue's entries are private, so only their number can be seen.
    if (c.kind === K_TRACE) return;
    if (c.kind === K_QUEUE) {
      this.n((o as EventQueue).size);
      return;
    }
    const list = this.#seenList, listed = this.#listed;
    if (id === -2) {
      id = -1;
      for (let i = 0; i < listed; i++) {
        if (list[i] === o) {
          id = i;
          break;
        }
      }
      if (id < 0 && listed === SEEN_LIST) id = this.#seen.get(o) ?? -1;
      if (k < MEMO) this.#refAt[k] = id;
    }
    if (id >= 0) {
      this.n(T_REF);
      this.n(id);
      return;
    }
    if (listed < SEEN_LIST) list[this.#listed++] = o;
    else this.#seen.set(o, SEEN_LIST + this.#seen.size);
    switch (c.kind) {
      // The models' hot objects: they say what they hold.
      case K_HOOK:
        if (this.exactKeys) (this.n(T_OBJ), this.str(o.constructor.name));
        else this.n(c.tag);
        c.hashFields!.call(o, this);
        return;
      case K_VIEW:
        this.bytes(o as ArrayBufferView);
        return;
      case K_ARRAY: {
        const a = o as unknown[];
        this.n(T_ARR);
        this.n(a.length);
        for (let i = 0; i < a.length; i++) this.value(a[i]);
        return;
      }
      case K_MAP:
        this.n(T_MAP);
        this.n((o as Map<unknown, unknown>).size);
        for (const [k, v] of o as Map<unknown, unknown>) {
          this.value(k);
          this.value(v);
        }
        return;
      case K_SET:
        this.n(T_SET);
        this.n((o as Set<unknown>).size);
        for (const v of o as Set<unknown>) this.value(v);
        return;
      case K_BUFFER:
        this.bytes(new Uint8Array(o as ArrayBuffer));
        return;
    }
    this.n(T_OBJ);
    const keys = Object.keys(o);
    this.n(keys.length);
    const rec = o as Record<string, unknown>;
    if (this.exactKeys) {
      for (const k of keys) (this.str(k), this.value(rec[k]));
      return;
    }
    // The key names once per shape: instances of one class list the same
    // keys (the same strings), so a comparison by identity replaces a
    // string-hash lookup per key.
    this.n(this.#shapeHash(o.constructor, keys));
    for (let i = 0; i < keys.length; i++) this.value(rec[keys[i]]);
  }

  #shapeHash(ctor: unknown, keys: string[]): number {
    const shape = this.#shapes.get(ctor);
    if (shape !== undefined && shape.keys.length === keys.length) {
      let same = true;
      for (let i = 0; i < keys.length && same; i++) same = shape.keys[i] === keys[i];
      if (same) return shape.hash;
    }
    let h = 0x6a09e667 | 0;
    for (const k of keys) h = Math.imul(h ^ this.strHash(k), 0x01000193);
    this.#shapes.set(ctor, { keys, hash: h });
    return h;
  }

  /** Typed arrays by their bytes, a 32-bit word at a time, skipping zero words. */
  bytes(view: ArrayBufferView): void {
    this.n(T_TA);
    const len = view.byteLength;
    this.n(len);
    // The models' registers: a word at a time, with no view made over them.
    if (view instanceof Uint32Array) return this.#uint32(view);
    if (view instanceof Int32Array) return this.#int32(view);
    // Small byte arrays (line levels) by byte; guest memory below, by word.
    if (view instanceof Uint8Array && len <= 64) {
      for (let i = 0; i < view.length; i++) if (view[i] !== 0) (this.n(i), this.n(view[i]));
      return;
    }
    const off = view.byteOffset;
    const words = len >>> 2;
    if ((off & 3) === 0 && words > 0) {
      const w = new Uint32Array(view.buffer, off, words);
      for (let i = 0; i < words; i++) {
        const x = w[i];
        if (x !== 0) {
          this.n(i);
          this.n(x);
        }
      }
      const tail = new Uint8Array(view.buffer, off + words * 4, len - words * 4);
      for (let i = 0; i < tail.length; i++) this.n(tail[i]);
    } else {
      const u = new Uint8Array(view.buffer, off, len);
      for (let i = 0; i < len; i++) if (u[i] !== 0) (this.n(i), this.n(u[i]));
    }
  }

  // One loop per element type, so that each stays monomorphic; registers
  // are mostly zero, so four words are tested at once.
  #uint32(v: Uint32Array): void {
    const len = v.length;
    if (len <= 32) {
      // Up to 32 words (a register page, an LVT, redirection entries): which
      // are not zero as one word, then those words, not index and word each.
      let mask = 0;
      for (let i = 0; i < len; i++) if (v[i] !== 0) mask |= 1 << i;
      this.n(mask);
      for (let i = 0; mask !== 0; i++, mask >>>= 1) if ((mask & 1) !== 0) this.n(v[i]);
      return;
    }
    let i = 0;
    for (; i + 4 <= len; i += 4) {
      if ((v[i] | v[i + 1] | v[i + 2] | v[i + 3]) === 0) continue;
      for (let j = i; j < i + 4; j++) if (v[j] !== 0) (this.n(j), this.n(v[j]));
    }
    for (; i < len; i++) if (v[i] !== 0) (this.n(i), this.n(v[i]));
  }

  #int32(v: Int32Array): void {
    const len = v.length;
    if (len <= 32) {
      let mask = 0;
      for (let i = 0; i < len; i++) if (v[i] !== 0) mask |= 1 << i;
      this.n(mask);
      for (let i = 0; mask !== 0; i++, mask >>>= 1) if ((mask & 1) !== 0) this.n(v[i]);
      return;
    }
    let i = 0;
    for (; i + 4 <= len; i += 4) {
      if ((v[i] | v[i + 1] | v[i + 2] | v[i + 3]) === 0) continue;
      for (let j = i; j < i + 4; j++) if (v[j] !== 0) (this.n(j), this.n(v[j]));
    }
    for (; i < len; i++) if (v[i] !== 0) (this.n(i), this.n(v[i]));
  }

  /** Whether objects' key names are fed one by one (exact) rather than once per shape. */
  get exactKeys(): boolean {
    return false;
  }

  /**
   * What kind of object `o` is and, with hooks, its `hashFields`: the
   * tests a walk would make on every object, made once per class.
   */
  #classOf(o: object): ClassInfo {
    const own = this.hooks ? (o as Partial<HashesFields>).hashFields : undefined;
    const kind = typeof own === "function"
      ? K_HOOK
      : ArrayBuffer.isView(o)
      ? K_VIEW
      : Array.isArray(o)
      ? K_ARRAY
      : o instanceof Map
      ? K_MAP
      : o instanceof Set
      ? K_SET
      : o instanceof Trace
      ? K_TRACE
      : o instanceof EventQueue
      ? K_QUEUE
      : o instanceof ArrayBuffer
      ? K_BUFFER
      : K_OBJECT;
    const name = this.strHash(String(o.constructor?.name));
    const c: ClassInfo = {
      kind,
      name,
      tag: Math.imul(name ^ T_OBJ, 0x01000193),
      hashFields: typeof own === "function" ? own : null,
    };
    // An object's own `hashFields` (not its class's) is not cached: the
    // next instance may lack it.
    if (!Object.hasOwn(o, "hashFields")) this.#classes.set(Object.getPrototypeOf(o), c);
    return c;
  }

  /**
   * The 64 bits as five characters of 13 bits each, from U+3000 up: no
   * control character and no surrogate, made without a radix conversion
   * (two `toString(36)` cost more than a quarter of a small state's hash).
   */
  digest(): string {
    const a = this.a, b = this.b;
    return String.fromCharCode(
      0x3000 + (a & 0x1fff),
      0x3000 + ((a >>> 13) & 0x1fff),
      0x3000 + ((a >>> 26) | ((b & 0x7f) << 6)),
      0x3000 + ((b >>> 7) & 0x1fff),
      0x3000 + (b >>> 20),
    );
  }
}

/**
 * What {@link Hasher} learnt of each class (by prototype: without hooks,
 * with), and string hashes: the same for every search, so kept for the
 * process rather than found again by each search's hasher.
 */
const CLASSES = [new Map<object | null, ClassInfo>(), new Map<object | null, ClassInfo>()];
const STRINGS = new Map<string, number>();

/** Kinds of object, by how the walk feeds them ({@link ClassInfo}). */
const K_HOOK = 0,
  K_VIEW = 1,
  K_ARRAY = 2,
  K_MAP = 3,
  K_SET = 4,
  K_TRACE = 5,
  K_QUEUE = 6,
  K_BUFFER = 7,
  K_OBJECT = 8;

/** What {@link Hasher} keeps per class of object. */
interface ClassInfo {
  kind: number;
  /** The hash of the constructor's name. */
  name: number;
  /** What a hooked object of this class feeds first: its name's hash, tagged as an object's. */
  tag: number;
  hashFields: ((h: StateHash) => void) | null;
}

/**
 * A {@link Hasher} for {@link Hasher.versioned}'s digests: words only. An
 * object would be fed by its place among those this walk met, which a
 * digest kept for later walks must not depend on.
 */
class WordHasher extends Hasher {
  override value(v: unknown): void {
    if (typeof v === "object" && v !== null) {
      throw new Error("explore: an object fed to a versioned digest");
    }
    super.value(v);
  }

  override object(_o: object): void {
    throw new Error("explore: an object fed to a versioned digest");
  }

  override fixed<T extends object>(_o: T, _feed: (h: StateHash, o: T) => void): void {
    throw new Error("explore: a fixed object fed to a versioned digest");
  }

  override versioned<T extends object>(
    _version: StateVersion,
    _o: T,
    _feed: (h: StateHash, o: T) => void,
  ): void {
    throw new Error("explore: a versioned object fed to a versioned digest");
  }
}

/** A {@link Hasher} that gives every word fed, in order, and strings by their characters. */
class ExactHasher extends Hasher {
  readonly log: number[] = [];

  override reset(): void {
    super.reset();
    this.log.length = 0;
  }

  override n(x: number): void {
    this.log.push(x | 0);
  }

  override block(w: Int32Array, count: number): void {
    for (let i = 0; i < count; i++) this.n(w[i]);
  }

  override str(s: string): void {
    // Exact: the characters themselves, not their hash.
    this.n(T_STR);
    this.n(s.length);
    for (let i = 0; i < s.length; i++) this.n(s.charCodeAt(i));
  }

  override get exactKeys(): boolean {
    return true;
  }

  override fixed<T extends object>(o: T, feed: (h: StateHash, o: T) => void): void {
    // Exact: the words themselves.
    feed(this, o);
  }

  override versioned<T extends object>(
    _version: StateVersion,
    o: T,
    feed: (h: StateHash, o: T) => void,
  ): void {
    // Exact: the words themselves, whatever the version.
    feed(this, o);
  }

  override digest(): string {
    return this.log.join(",");
  }
}

/**
 * The {@link Hasher}s of the process, without hooks and with, shared by
 * every {@link Fingerprinter}: a hasher's tables (the objects met, the
 * string slots, its digests' hashers) cost more to make than a small
 * search's fingerprints, and a fingerprint starts with {@link Hasher.reset}.
 * What one keeps from the last fingerprint (where it met which object) is
 * tested against the objects it meets, whoever asked for the last.
 */
const HASHERS: (Hasher | undefined)[] = [undefined, undefined];

/** Options of a {@link Fingerprinter}. */
export interface FingerprintOptions {
  /**
   * Use the models' {@link VmModel.hashPrivate} and
   * {@link HashesFields.hashFields} where they have them (default true);
   * false reads every published state path and walks every field instead:
   * the reference the hooks are tested against.
   */
  hooks?: boolean;
  /**
   * Give every word fed, in order, as the fingerprint instead of a 64-bit
   * hash, and strings by their characters: no two different states share
   * one. For tests: slow and long.
   */
  exact?: boolean;
}

interface PathSet {
  spec: StateSpec<VmModel>;
  hashes: number;
}

/**
 * Fingerprints the states of runs of one program.
 *
 * @example
 * ```ts
 * import { type Program } from "../../dsl/program.ts";
 * import { type RunState } from "./run.ts";
 * declare const blockIndex: number, doneMask: number, program: Program, state: RunState;
 * const fp = new Fingerprinter(program);
 * fp.of(state, [blockIndex, doneMask]); // five characters: 64 bits of hash
 * ```
 */
export class Fingerprinter {
  readonly #h: Hasher;
  readonly #hooks: boolean;
  readonly #n = (x: number) => this.#h.n(x);
  readonly #str = (x: string) => this.#h.str(x);
  readonly #handlerIndex = new Map<readonly Op[], number>();
  /** Per VM, the state paths read when it has no hook; found when first needed. */
  #paths: PathSet[][] | null = null;

  constructor(readonly program: Program, options: FingerprintOptions = {}) {
    this.#hooks = options.hooks ?? true;
    this.#h = options.exact
      ? new ExactHasher(this.#hooks)
      : (HASHERS[this.#hooks ? 1 : 0] ??= new Hasher(this.#hooks));
    program.handlers.forEach((h, i) => this.#handlerIndex.set(h.body, i));
  }

  /**
   * The state paths of each VM's platform worth reading: made on first use
   * (a VM with {@link VmModel.hashPrivate} needs none), not per search.
   */
  #pathsOf(v: number): PathSet[] {
    this.#paths ??= this.program.vms.map((d) => {
      const specs = d.platform.state as readonly StateSpec<VmModel>[];
      const patterns = new Set(specs.map((s) => s.pattern));
      return specs.filter((spec) =>
        !spec.derived &&
        // Paths the VM does not have (Xen state in a KVM guest) would only throw;
        spec.requires?.(d.settings) === undefined &&
        // a path one field below another (vcpu#.lapic.lvt0.mask) is a field of
        // that register, already read whole.
        !patterns.has(spec.pattern.slice(0, Math.max(0, spec.pattern.lastIndexOf("."))))
      ).map((spec) => ({ spec, hashes: (spec.pattern.match(/#/g) ?? []).length }));
    });
    return this.#paths[v];
  }

  /** The fingerprint of the state of a run, with the caller's position words mixed in. */
  of(state: RunState, position: readonly number[]): string {
    const h = this.#h;
    h.reset();
    // Indexed loops here: for-of made an iterator per array at every state.
    for (let i = 0; i < position.length; i++) h.n(position[i]);
    h.num(state.now);
    h.n(state.queue.size);
    h.n(state.invariants.length);
    h.n(state.failures.length);
    const loops = state.loops;
    for (let i = 0; i < loops.length; i++) h.n(loops[i]);
    const env = state.env;
    h.n(env.size);
    // By name, whatever order they were bound in (no copy to sort for one).
    if (env.size === 1) { for (const [k, v] of env) (h.str(k), h.value(v)); }
    else if (env.size > 1) {
      for (const k of [...env.keys()].sort()) (h.str(k), h.value(env.get(k)));
    }
    // What `took` conditions can observe: counts and `in order` progress, not when.
    state.history.digest(this.#n, this.#str);
    const frames = state.frames;
    for (let v = 0; v < frames.length; v++) {
      const vm = frames[v];
      for (let c = 0; c < vm.length; c++) {
        const cpu = vm[c];
        h.n(cpu.length);
        for (let i = 0; i < cpu.length; i++) {
          h.n(this.#handlerIndex.get(cpu[i].ops) ?? -1);
          h.n(cpu[i].pc);
        }
      }
    }
    const vms = state.vms;
    for (let v = 0; v < vms.length; v++) {
      const vm = vms[v];
      // A model that hashes its private state whole needs no path read.
      if (this.#hooks && vm.hashPrivate !== undefined) {
        h.value(vm);
        vm.hashPrivate(h);
      } else {
        this.#publishedPaths(vm, this.#pathsOf(v));
        h.value(vm);
      }
    }
    return h.digest();
  }

  #publishedPaths(vm: VmModel, paths: PathSet[]): void {
    const h = this.#h;
    for (const { spec, hashes } of paths) {
      if (hashes === 0) {
        this.#read(spec, vm, []);
        continue;
      }
      const bounds = spec.bounds?.(vm);
      if (!bounds || bounds.length !== hashes) continue;
      let count = 1;
      for (const b of bounds) count *= b;
      if (count > MAX_INSTANCES) continue;
      h.n(count);
      const idx = new Array<number>(hashes).fill(0);
      for (let k = 0; k < count; k++) {
        let r = k;
        for (let d = hashes - 1; d >= 0; d--) {
          idx[d] = r % bounds[d];
          r = Math.floor(r / bounds[d]);
        }
        this.#read(spec, vm, idx);
      }
    }
  }

  #read(spec: StateSpec<VmModel>, vm: VmModel, idx: number[]): void {
    try {
      this.#h.value(spec.get(vm, idx));
    } catch {
      // A path that does not exist in this VM (no IOAPIC with split irqchip).
      this.#h.n(T_UNDEF);
    }
  }
}
