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
      this.#heap.length = 0;
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
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
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
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
