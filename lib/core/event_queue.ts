/**
 * A binary min-heap of timed events for the discrete-event engine, ordered by
 * (time, insertion sequence) so that two events due at the same instant fire
 * in the order they were scheduled, which keeps runs deterministic.
 *
 * @module
 */

/** A scheduled callback. */
export interface Scheduled {
  /** Virtual time to fire at, in ns. */
  readonly time: number;
  /** Order of scheduling: breaks ties between events at one time, deterministically. */
  readonly seq: number;
  /** What happens then. */
  readonly fire: () => void;
  /** Set by cancelling: the event stays queued and is skipped when it comes up. */
  cancelled: boolean;
}

/**
 * The engine's event queue.
 *
 * @example
 * ```ts
 * const q = new EventQueue();
 * const out: string[] = [];
 * q.schedule(20, () => out.push("b"));
 * q.schedule(10, () => out.push("a"));
 * q.pop()!.fire(); q.pop()!.fire(); // out = ["a", "b"]
 * ```
 */
export class EventQueue {
  #heap: Scheduled[] = [];
  #seq = 0;

  /**
   * For `scn explore`'s snapshots: a function that empties the queue and
   * puts back its sequence counter as it is now, or null when entries are
   * queued (their callbacks hold model objects, which no snapshot copies).
   */
  snapshot(): (() => void) | null {
    if (this.#heap.length > 0) return null;
    const seq = this.#seq;
    return () => {
      // Mostly empty already (a restore per order): setting the length costs even then.
      if (this.#heap.length > 0) this.#heap.length = 0;
      this.#seq = seq;
    };
  }

  /** Number of entries, cancelled ones included. */
  get size(): number {
    return this.#heap.length;
  }

  /** Schedules `fire` at absolute virtual time `time` (ns); returns a handle to cancel it. */
  schedule(time: number, fire: () => void): Scheduled {
    const e: Scheduled = { time, seq: this.#seq++, fire, cancelled: false };
    const h = this.#heap;
    // Sifted up through a hole, not by swaps: a swap's destructuring builds two
    // arrays where the code runs unoptimized (a short run's timers all do).
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(e, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = e;
    return e;
  }

  /** The earliest live entry without removing it. */
  peek(): Scheduled | undefined {
    this.#dropCancelled();
    // Checked, not `heap[0]` of an empty heap: `run` peeks once per call, mostly with nothing queued.
    return this.#heap.length === 0 ? undefined : this.#heap[0];
  }

  /** Removes and returns the earliest live entry. */
  pop(): Scheduled | undefined {
    this.#dropCancelled();
    return this.#removeTop();
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0].cancelled) this.#removeTop();
  }

  #removeTop(): Scheduled | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    const n = h.length;
    if (n > 0) {
      // `last` sifted down through a hole (see `schedule`): the same moves as swaps.
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = last, at = i;
        if (l < n && before(h[l], m)) m = h[at = l];
        if (r < n && before(h[r], m)) m = h[at = r];
        if (at === i) break;
        h[i] = m;
        i = at;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
