/**
 * Standard output as C's stdio keeps it: a line at a time to a terminal,
 * in blocks to a file or a pipe. A library run writes one line per
 * scenario, and `console.log` costs 10-20 µs a line on a pipe (a run of
 * the 720-scenario library spent 12-20 ms on it); one write of the block
 * costs well under a millisecond.
 *
 * The block is written when it reaches {@link BLOCK_BYTES}, at the end of
 * the synchronous stretch that filled it (a microtask: an asynchronous
 * command's lines go out at each of its waits, a synchronous run's when it
 * returns), before anything goes to stderr (so `2>&1` keeps the order), and
 * at exit ({@link LineBuffer.flush}).
 *
 * @module
 */

/** The size at which a block is written without waiting for its stretch to end. */
export const BLOCK_BYTES = 1 << 16;

/** Writes some of `bytes` and says how many, as `Deno.stdout.writeSync` does. */
export type WriteSync = (bytes: Uint8Array) => number;

/**
 * Lines kept until a block is worth writing.
 *
 * @example
 * ```ts
 * const out = new LineBuffer((b) => Deno.stdout.writeSync(b));
 * out.line("PASS a.scn");
 * out.flush(); // before exit
 * ```
 */
export class LineBuffer {
  readonly #write: WriteSync;
  readonly #encoder = new TextEncoder();
  #lines: string[] = [];
  /** UTF-16 units kept: a cheap bound on the block's bytes (at most 3 per unit). */
  #units = 0;
  #flushQueued = false;
  readonly #flushLater = () => {
    this.#flushQueued = false;
    this.flush();
  };

  /** `write` takes the bytes; a partial write is continued until all are out. */
  constructor(write: WriteSync) {
    this.#write = write;
  }

  /** Keeps `text` and a line break. */
  line(text: string): void {
    this.#lines.push(text);
    this.#units += text.length + 1;
    if (this.#units >= BLOCK_BYTES) this.flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushLater);
    }
  }

  /** Writes every kept line now. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const bytes = this.#encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#units = 0;
    for (let at = 0; at < bytes.length;) at += this.#write(bytes.subarray(at));
  }
}
