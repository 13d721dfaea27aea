/**
 * A long run of top-level statements of a checked program, as data: one
 * record per distinct statement text and, per statement, which record and
 * where it is written.
 *
 * Checking a long file lowers its statements one by one; a program keeping
 * each op costs some 280 bytes per `vcpu0: nop` (the op, its call, its
 * location, the engine's compiled step), 25 times the text. Statements
 * written alike (same text, at the top level) lower to the same op but for
 * their locations, so a {@link Timeline} keeps each distinct op once and
 * eight bytes per statement; {@link Timeline.op} gives the op a statement
 * lowers to, locations and all, built when asked.
 *
 * @module
 */
import { type SourceLines, TextLoc } from "../lib/core/loc.ts";

/** A distinct op and where its statement starts, that every copy is shifted from. */
export interface TimelineTemplate<T> {
  /** The op of the first statement written so. */
  readonly op: T;
  /** Where that statement starts. */
  readonly from: number;
  /** The text it is in. */
  readonly lines: SourceLines;
}

/**
 * The distinct ops of one program's timelines, by the text of the statement
 * they were lowered from.
 */
export class TimelineTemplates<T> {
  /** Every template, by index. */
  readonly list: TimelineTemplate<T>[] = [];
  /** Statement text to template index. */
  readonly byText: Map<string, number> = new Map();

  /** Adds `op`, lowered from a statement starting at `from` in `lines`; its index. */
  add(op: T, from: number, lines: SourceLines): number {
    this.list.push({ op, from, lines });
    return this.list.length - 1;
  }
}

/**
 * Statements of one text, in order, each the copy of a template op moved to
 * where the statement is written.
 *
 * @example
 * ```ts
 * import { SourceLines, TextLoc } from "../lib/core/loc.ts";
 * import type { Op } from "./program.ts";
 * const lines = new SourceLines("run\nrun\n", "a.scn");
 * const templates = new TimelineTemplates<Op>();
 * const t = new Timeline(templates);
 * const run: Op = { op: "run", duration: null, loc: new TextLoc(lines, 0, 3) };
 * t.push(templates.add(run, 0, lines), 0);
 * t.push(0, 4);
 * t.op(1).loc.start.line; // 2
 * ```
 */
export class Timeline<T extends object> {
  readonly #templates: TimelineTemplate<T>[];
  // Per statement: its template's index and the offset its text starts at.
  #ids = new Int32Array(64);
  #starts = new Int32Array(64);
  #length = 0;

  /**
   * An empty timeline; timelines of one program may share `templates` (a
   * statement after a statement not kept in a timeline finds its earlier likes).
   */
  constructor(templates: TimelineTemplates<T> = new TimelineTemplates()) {
    this.#templates = templates.list;
  }

  /** How many statements. */
  get length(): number {
    return this.#length;
  }

  /** Appends a statement starting at `start`, lowered to template `id` moved there. */
  push(id: number, start: number): void {
    if (this.#length === this.#ids.length) {
      const ids = new Int32Array(this.#length * 2), starts = new Int32Array(this.#length * 2);
      ids.set(this.#ids);
      starts.set(this.#starts);
      this.#ids = ids;
      this.#starts = starts;
    }
    this.#ids[this.#length] = id;
    this.#starts[this.#length++] = start;
  }

  /** Gives back the room grown for statements that never came (a closed timeline). */
  trim(): void {
    if (this.#ids.length === this.#length) return;
    this.#ids = this.#ids.slice(0, this.#length);
    this.#starts = this.#starts.slice(0, this.#length);
  }

  /** The template of statement `i`: the op of the first statement written alike. */
  templateOf(i: number): T {
    return this.#templates[this.#ids[i]].op;
  }

  /** The op statement `i` lowers to, a new copy at each call. */
  op(i: number): T {
    const t = this.#templates[this.#ids[i]];
    const shift = this.#starts[i] - t.from;
    return shift === 0 ? t.op : moved(t.op, shift, t.lines);
  }

  /** Every statement's op, in order. */
  *ops(): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.op(i);
  }
}

// Keys of program data that point into model tables, not at more program:
// shared by every copy. (The same list as the engine's walks of a program.)
const SHARED = new Set(["spec", "platform", "param", "field", "file", "sources"]);

/** A deep copy of program data with every location `shift` characters later. */
function moved<T>(x: T, shift: number, lines: SourceLines): T {
  if (x === null || typeof x !== "object") return x;
  if (x instanceof TextLoc) return new TextLoc(lines, x.from + shift, x.to + shift) as T;
  // Frozen data (a call's shared empty arguments) holds no location.
  if (Object.isFrozen(x)) return x;
  if (Array.isArray(x)) return x.map((y) => moved(y, shift, lines)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = SHARED.has(k) ? v : moved(v, shift, lines);
  return out as T;
}
