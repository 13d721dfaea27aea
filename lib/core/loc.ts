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
