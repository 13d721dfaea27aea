/**
 * Places in source text. Everything above the core (the parser, the checker,
 * the engine, the reports) points into scenario text with these.
 *
 * @module
 */

/** A point in a source text (1-based line and column, 0-based offset). */
export interface Position {
  /** 0-based character offset. */
  offset: number;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A range of a source text, with the name of the text it belongs to. */
export interface Loc {
  /** The name of the text: a file path, or `<input>`. */
  source: string;
  /** The first character. */
  start: Position;
  /** Just past the last character. */
  end: Position;
}

/**
 * The lines of one source text, found only as far as they are asked for:
 * turns offsets into lines and columns for the locations that point into
 * it. Only a line feed ends a line here, as in the parser's own counting.
 *
 * @example
 * ```ts
 * new SourceLines("a\nbc\n", "a.scn").position(3); // { offset: 3, line: 2, column: 2 }
 * ```
 */
export class SourceLines {
  #starts = new Int32Array(64);
  #count = 1;
  #scanned = 0;
  /** The text and its name. */
  constructor(readonly text: string, readonly source: string) {}

  /** The line and column of `offset`. */
  position(offset: number): Position {
    let starts = this.#starts;
    let count = this.#count;
    for (let i = this.#scanned; i < offset; i++) {
      if (this.text.charCodeAt(i) !== 10) continue;
      if (count === starts.length) {
        const grown = new Int32Array(starts.length * 2);
        grown.set(starts);
        starts = this.#starts = grown;
      }
      starts[count++] = i + 1;
    }
    if (offset > this.#scanned) {
      this.#scanned = offset;
      this.#count = count;
    }
    let lo = 0, hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, column: offset - starts[lo] + 1 };
  }
}

/**
 * A location that keeps only its two offsets: its line and column are found
 * when asked, from its text's {@link SourceLines}. The parser makes these,
 * so a syntax tree pays one small object per location instead of three.
 * Positions are made anew at each read; compare them by value. A copy must
 * name its fields (`{ source, start, end }`): spreading one copies only the
 * offsets.
 *
 * @example
 * ```ts
 * const lines = new SourceLines("scenario \"x\"\nvcpu0: sti\n", "a.scn");
 * const loc = new TextLoc(lines, 13, 18);
 * loc.start.line; // 2
 * JSON.stringify(loc); // as a plain { source, start, end }
 * ```
 */
export class TextLoc implements Loc {
  readonly #lines: SourceLines;
  /** A location from offset `from` to just before `to` in the text of `lines`. */
  constructor(lines: SourceLines, readonly from: number, readonly to: number) {
    this.#lines = lines;
  }
  /** The name of the text. */
  get source(): string {
    return this.#lines.source;
  }
  /** The first character. */
  get start(): Position {
    return this.#lines.position(this.from);
  }
  /** Just past the last character. */
  get end(): Position {
    return this.#lines.position(this.to);
  }
  /** The plain form, as JSON and other processes see it. */
  toJSON(): Loc {
    return plainLoc(this);
  }
}

/**
 * A location as a plain object, for a copy that must outlive its text or
 * cross to another process or worker (a {@link TextLoc} keeps its text).
 *
 * @example
 * ```ts
 * const loc = new TextLoc(new SourceLines("vcpu0: sti\n", "a.scn"), 7, 10);
 * plainLoc(loc).end.column; // 11
 * ```
 */
export function plainLoc(loc: Loc): Loc {
  return { source: loc.source, start: loc.start, end: loc.end };
}
