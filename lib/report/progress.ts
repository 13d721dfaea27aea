/**
 * A progress line for long work (`difftest`, `scn explore`, `deno task
 * fuzz`, runs on a real backend): done / total, rate, time left and
 * failures so far, redrawn in place on stderr.
 *
 * It is for a person watching a terminal, so it is shown only when the
 * sink is a terminal and the command is not writing a machine-readable
 * report (`--json`): a log or a pipe never sees it. The clock is read here
 * and nowhere near a model, so runs stay deterministic.
 *
 * @module
 */

/** Where the line goes: stderr in the command line, a buffer in tests. */
export interface ProgressSink {
  /** Whether a person is watching (stderr is a terminal). */
  isTerminal(): boolean;
  /** Writes text as is (the line, preceded by a carriage return). */
  write(text: string): void;
}

/** How a {@link Progress} line is made. */
export interface ProgressOptions {
  /** What is counted, first on the line: `difftest`. */
  label: string;
  /** How many units the work has. */
  total: number;
  /** What failures are called on the line: `disagree`, `failed`. */
  failures?: string;
  /** Where the line goes; stderr by default. */
  sink?: ProgressSink;
  /** Milliseconds since some fixed moment; `performance.now` by default. */
  clock?: () => number;
  /** The least time between two redraws, in ms (250 by default). */
  interval?: number;
  /** False turns the line off whatever the sink is (`--json`). */
  enabled?: boolean;
}

/** The real stderr. */
export const STDERR: ProgressSink = {
  isTerminal: () => Deno.stderr.isTerminal(),
  write: (text) => void Deno.stderr.writeSync(new TextEncoder().encode(text)),
};

/**
 * A progress line: call {@link Progress.update} as work completes and
 * {@link Progress.end} when it is over (it clears the line, so the report
 * that follows starts on a clean line). When it is off, every call is a
 * no-op.
 *
 * @example
 * ```ts
 * const p = new Progress({ label: "difftest", total: 10000, failures: "disagree" });
 * for (let i = 0; i < 10000; i++) p.update(i + 1, 0);
 * p.end();
 * ```
 */
export class Progress {
  readonly #o: Required<Omit<ProgressOptions, "enabled" | "failures">> & { failures: string };
  readonly #on: boolean;
  readonly #start: number;
  #last = -Infinity;
  #width = 0;

  constructor(options: ProgressOptions) {
    const sink = options.sink ?? STDERR;
    this.#o = {
      label: options.label,
      total: options.total,
      failures: options.failures ?? "failed",
      sink,
      clock: options.clock ?? (() => performance.now()),
      interval: options.interval ?? 250,
    };
    this.#on = (options.enabled ?? true) && sink.isTerminal();
    this.#start = this.#on ? this.#o.clock() : 0;
  }

  /** Whether the line is shown at all. */
  get shown(): boolean {
    return this.#on;
  }

  /**
   * `done` units are finished, `failures` of them failed. Redraws at most
   * once per interval, and always for the last unit.
   */
  update(done: number, failures: number): void {
    if (!this.#on) return;
    const now = this.#o.clock();
    if (now - this.#last < this.#o.interval && done < this.#o.total) return;
    this.#last = now;
    this.#draw(progressLine(this.#o, done, failures, now - this.#start));
  }

  /** Clears the line. */
  end(): void {
    if (!this.#on || this.#width === 0) return;
    this.#o.sink.write(`\r${" ".repeat(this.#width)}\r`);
    this.#width = 0;
  }

  #draw(line: string): void {
    // Pad over what a longer previous line left behind.
    const pad = Math.max(0, this.#width - line.length);
    this.#o.sink.write(`\r${line}${" ".repeat(pad)}`);
    this.#width = line.length;
  }
}

/**
 * The text of a progress line:
 * `difftest 1234/10000 (12%)  8.2/s  17m50s left  3 disagree`.
 *
 * @example
 * ```ts
 * progressLine({ label: "fuzz", total: 100, failures: "failed" }, 50, 1, 10_000);
 * // "fuzz 50/100 (50%)  5.0/s  10s left  1 failed"
 * ```
 */
export function progressLine(
  o: { label: string; total: number; failures: string },
  done: number,
  failures: number,
  elapsedMs: number,
): string {
  const pct = o.total > 0 ? Math.floor((100 * done) / o.total) : 100;
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const left = rate > 0 ? duration((o.total - done) / rate) : "?";
  const r = rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
  return `${o.label} ${done}/${o.total} (${pct}%)  ${r}/s  ${left} left  ${failures} ${o.failures}`;
}

/** Seconds as `1h02m`, `17m50s` or `9s`. */
function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad2(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
  return `${s}s`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}
