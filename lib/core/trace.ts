/**
 * The event trace: every state change that matters, in order, each with the
 * event that caused it, so that a failed expectation can show the chain from
 * a device raise through routing and a controller to the vCPU that took it.
 *
 * Models call {@link Trace.emit} inside {@link Trace.cause} scopes; the trace
 * fills in the cause from the innermost open scope. Recording can be turned
 * off (`enabled = false`) for benchmarks: models test `trace.enabled` before
 * building an event's text so that the hot path allocates nothing.
 *
 * @module
 */

/** One recorded event. */
export interface TraceEvent {
  /** Position in the trace, from 1. */
  readonly id: number;
  /** Virtual time in nanoseconds when it happened. */
  readonly time: number;
  /** Who did it or where it happened: `vcpu0`, `vmm`, `ioapic`, `lapic1`. */
  readonly source: string;
  /** A short machine-readable kind: `irr.set`, `took`, `eoi`, `route`. */
  readonly kind: string;
  /** One human line describing it. */
  readonly text: string;
  /** The id of the event that caused this one, or 0 for a root cause. */
  readonly cause: number;
}

/**
 * An append-only trace with a stack of open causes.
 *
 * @example
 * ```ts
 * const t = new Trace(() => 0);
 * const raise = t.emit("vmm", "irq_line", "gsi 14 level 1");
 * t.within(raise, () => t.emit("ioapic", "send", "pin 14 vector 0x76"));
 * t.chain(2).map((e) => e.id); // [1, 2]
 * ```
 */
export class Trace {
  /** Whether events are recorded at all. */
  enabled = true;
  /** Every event, in order; `events[id - 1]` has that id. */
  readonly events: TraceEvent[] = [];
  #causes: number[] = [];

  /** A trace that stamps events with `now()`, the engine's virtual time. */
  constructor(private readonly now: () => number) {}

  /** The id of the innermost open cause, or 0. */
  get currentCause(): number {
    const c = this.#causes;
    return c.length === 0 ? 0 : c[c.length - 1];
  }

  /** Records an event caused by the innermost open cause; returns its id (0 when disabled). */
  emit(source: string, kind: string, text: string): number {
    if (!this.enabled) return 0;
    const id = this.events.length + 1;
    this.events.push({ id, time: this.now(), source, kind, text, cause: this.currentCause });
    return id;
  }

  /** Runs `fn` with `cause` as the cause of every event it emits. */
  within<T>(cause: number, fn: () => T): T {
    if (!this.enabled || cause === 0) return fn();
    this.#causes.push(cause);
    try {
      return fn();
    } finally {
      this.#causes.pop();
    }
  }

  /** Opens a cause scope; pair with {@link Trace.close}. Cheaper than `within` in hot paths. */
  open(cause: number): void {
    if (this.enabled && cause !== 0) this.#causes.push(cause);
  }

  /** Closes the scope opened by the matching {@link Trace.open}. */
  close(cause: number): void {
    if (this.enabled && cause !== 0) this.#causes.pop();
  }

  /** The event with this id. */
  get(id: number): TraceEvent | undefined {
    return this.events[id - 1];
  }

  /** The cause chain that ends at `id`, root first. */
  chain(id: number): TraceEvent[] {
    const out: TraceEvent[] = [];
    for (let e = this.get(id); e; e = e.cause ? this.get(e.cause) : undefined) out.push(e);
    return out.reverse();
  }
}

/**
 * Nanoseconds in the largest unit that keeps them whole, as scenarios write
 * durations.
 *
 * @example
 * ```ts
 * formatTime(5_000_000); // "5ms"
 * ```
 */
export function formatTime(ns: number): string {
  if (ns !== 0 && ns % 1_000_000_000 === 0) return `${ns / 1_000_000_000}s`;
  if (ns !== 0 && ns % 1_000_000 === 0) return `${ns / 1_000_000}ms`;
  if (ns !== 0 && ns % 1000 === 0) return `${ns / 1000}us`;
  return `${ns}ns`;
}

/**
 * One trace event: `#9 @0ns lapic1 irr.set: 0x41 edge  <- #8`.
 *
 * @example
 * ```ts
 * formatEvent({ id: 2, time: 0, source: "lapic0", kind: "ack", text: "0x41", cause: 1 });
 * ```
 */
export function formatEvent(e: TraceEvent): string {
  const cause = e.cause ? `  <- #${e.cause}` : "";
  return `#${e.id} @${formatTime(e.time)} ${e.source} ${e.kind}: ${e.text}${cause}`;
}

/**
 * Feeds `h` a model's trace field, for `scn explore`'s fingerprint:
 * nothing while it is a {@link Trace}, which the fingerprint skips (history,
 * not state), so that a hook meeting one at every state makes no call; the
 * value otherwise, so that the hook still feeds the field (`HashesFields`).
 *
 * @example
 * ```ts
 * import type { StateHash } from "./platform.ts";
 * declare const h: StateHash, trace: Trace;
 * hashTrace(h, trace); // feeds nothing
 * ```
 */
export function hashTrace(h: { value(v: unknown): void }, t: Trace): void {
  // `h` is a StateHash (platform.ts), named by its one method used here:
  // platform.ts imports this module, and the layers allow no cycle.
  if (!(t instanceof Trace)) h.value(t);
}
