/**
 * The canonical layout of a `.scn` file, as `scn fmt` prints it.
 *
 * Fixed by the printer: one statement per line, one space between words,
 * `key=value` without spaces, `{a, b}` and `[a, b]` with a space after each
 * comma, blocks indented by two spaces with `}` on its own line, one blank
 * line where the author had one or more (none just inside a block), comments
 * on their own lines at the indentation of what follows them, and trailing
 * comments aligned two spaces after the longest line of their group
 * (consecutive lines of one indentation).
 *
 * Kept as the author wrote it: statement order, every comment, the base and
 * underscores of numbers (`0x2a` stays hex), durations, and the choices that
 * the grammar cannot judge: whether a one-statement block sits on one line
 * (`on vcpu0 vector 0x41 { eoi }`), the line breaks of a word block
 * (`vm` bodies, routing tables), and whether two words of a word block are
 * set apart by two spaces (`arch x86_64  vcpus 2`: the grammar does not know
 * which words make one setting, so the author's pairing stays) or by none
 * (where a space would change what the text parses to).
 *
 * @module
 */
import type {
  Actor,
  Arg,
  Command,
  Comment,
  Condition,
  Operand,
  ScnFile,
  Statement,
  TookSpec,
  Value,
  WordBlock,
  WordItem,
} from "./ast.ts";
import { parse } from "./parse.ts";

/**
 * Formats a parsed file. `text` is the source it was parsed from: blank lines
 * and the position of comments are read from it through the tree's locations.
 *
 * The tree may be an edited copy of the parsed one (`scn minimize` drops
 * statements and comments): every location must still point into `text`.
 *
 * @example
 * ```ts
 * import { parse } from "./parse.ts";
 * const text = 'scenario "x"\nvm g {  arch x86_64 }\nvcpu0:sti   # go\n';
 * format(parse(text, "x.scn"), text);
 * // 'scenario "x"\nvm g { arch x86_64 }\nvcpu0: sti  # go\n'
 * ```
 */
export function format(file: ScnFile, text: string): string {
  const index = new LineIndex(text);
  const p = new Printer(text, index);
  p.statements(file.body, 0);
  return render(p.lines, file.comments, index);
}

/**
 * Parses `text` and formats it.
 *
 * @throws {ScnError} with a located `syntax` diagnostic when the text does not parse.
 *
 * @example
 * ```ts
 * formatText("run   5ms\n", "a.scn"); // "run 5ms\n"
 * ```
 */
export function formatText(text: string, source = "<input>"): string {
  return format(parse(text, source), text);
}

// ---- lines -----------------------------------------------------------------------

/** One line of output, with where it came from. */
interface Line {
  indent: number;
  code: string;
  /** Source offset of its first token: comments written before it go before it. */
  at: number;
  /** Source line of its last token: a comment after it on that line trails it. */
  lastLine: number;
  /** Ends with `{`: no blank line after it. */
  opens: boolean;
  /** Starts with `}`: comments just before it are inside the block. */
  closes: boolean;
}

/** A statement kind that carries a block of statements. */
const BLOCK_KINDS = new Set(["repeat", "for", "parallel", "handler", "if", "window"]);

function isBlockStatement(s: Statement): boolean {
  return BLOCK_KINDS.has(s.kind) || (s.kind === "action" && s.body.kind === "if");
}

class Printer {
  readonly lines: Line[] = [];
  constructor(readonly text: string, readonly index: LineIndex) {}

  statements(list: readonly Statement[], indent: number): void {
    for (const s of list) this.statement(s, indent, "");
  }

  /** Emits one statement; `prefix` is an actor (`vcpu0: `) written before it. */
  statement(s: Statement, indent: number, prefix: string): void {
    switch (s.kind) {
      case "action":
        return this.statement(s.body, indent, `${prefix}${actor(s.actor)}: `);
      case "vm":
        return this.words(`${prefix}vm ${s.name.name} `, s.body, "", s.loc.start.offset, indent);
      case "do":
        return this.command(prefix, s.command, s.loc.start.offset, indent);
      case "repeat":
        return this.block(prefix + `repeat ${value(s.count)}`, s, s.count.loc.end.line, indent);
      case "for":
        return this.block(
          prefix + `for $${s.name.name} in ${value(s.iterable)}`,
          s,
          s.iterable.loc.end.line,
          indent,
        );
      case "parallel":
        return this.block(prefix + "parallel", s, s.loc.start.line, indent);
      case "window":
        return this.block(`${prefix}run ${actor(s.actor)}`, s, s.actor.loc.end.line, indent);
      case "handler": {
        const last = s.event.length ? s.event[s.event.length - 1].loc : s.actor.loc;
        const head = ["on", actor(s.actor), ...s.event.map(arg)].join(" ");
        return this.block(prefix + head, s, last.end.line, indent);
      }
      case "if":
        return this.ifStatement(prefix, s, indent);
      default:
        this.line(indent, prefix + simple(s), s.loc.start.offset, s.loc.end.line);
    }
  }

  line(indent: number, code: string, at: number, lastLine: number, closes = false): void {
    this.lines.push({ indent, code, at, lastLine, opens: code.endsWith("{"), closes });
  }

  /** `head { body }`, on one line when the author wrote it so and it can be. */
  block(
    head: string,
    s: Statement & { body: Statement[] },
    headLine: number,
    indent: number,
  ): void {
    if (oneLine(s, [s.body])) {
      const inner = s.body.length ? ` ${inlineStatement(s.body[0])} ` : " ";
      this.line(indent, `${head} {${inner}}`, s.loc.start.offset, s.loc.end.line);
      return;
    }
    this.line(indent, `${head} {`, s.loc.start.offset, headLine);
    this.statements(s.body, indent + 1);
    this.line(indent, "}", s.loc.end.offset - 1, s.loc.end.line, true);
  }

  ifStatement(prefix: string, s: Statement & { kind: "if" }, indent: number): void {
    const head = `${prefix}if ${condition(s.condition, 0)}`;
    if (oneLine(s, s.else ? [s.then, s.else] : [s.then])) {
      const body = (b: Statement[]) => (b.length ? ` ${inlineStatement(b[0])} ` : " ");
      const otherwise = s.else ? ` else {${body(s.else)}}` : "";
      this.line(
        indent,
        `${head} {${body(s.then)}}${otherwise}`,
        s.loc.start.offset,
        s.loc.end.line,
      );
      return;
    }
    this.line(indent, `${head} {`, s.loc.start.offset, s.condition.loc.end.line);
    this.statements(s.then, indent + 1);
    if (s.else) {
      const at = this.closingBraceOfThen(s);
      this.line(indent, "} else {", at, this.index.lineOf(at), true);
      this.statements(s.else, indent + 1);
    }
    this.line(indent, "}", s.loc.end.offset - 1, s.loc.end.line, true);
  }

  /**
   * The offset of the `}` before `else`: the tree does not keep it, so read
   * forward over blank space and comments from the last thing before it.
   * Comments between it and `else` then stay in the block they were written in.
   */
  closingBraceOfThen(s: Statement & { kind: "if" }): number {
    const t = this.text;
    const last = s.then.length ? s.then[s.then.length - 1].loc.end.offset : undefined;
    let i = last ?? s.condition.loc.end.offset;
    if (last === undefined) {
      i = skipBlank(t, i);
      if (t[i] === "{") i++;
    }
    i = skipBlank(t, i);
    if (t[i] === "}") return i;
    // An edited tree whose text no longer matches: put the line before the else body.
    return s.else?.length ? s.else[0].loc.start.offset : s.loc.end.offset - 1;
  }

  command(prefix: string, c: Command, at: number, indent: number): void {
    const head = prefix + c.args.map(arg).join(" ");
    const bind = c.bind ? ` -> $${c.bind.name}` : "";
    if (!c.block) {
      this.line(indent, head + bind, at, c.loc.end.line);
      return;
    }
    // `{20}` or `{}` after a space would read as a set argument: such a block
    // can only have been written right after the last word, so it stays there.
    const glued = c.block.loc.start.line === c.block.loc.end.line && readsAsSet(c.block);
    this.words(glued ? head : `${head} `, c.block, bind, at, indent);
  }

  /** `head{ words }tail`; a word block the author wrote over several lines keeps its lines. */
  words(head: string, b: WordBlock, tail: string, at: number, indent: number): void {
    if (b.loc.start.line === b.loc.end.line) {
      this.line(indent, head + inlineWords(b) + tail, at, b.loc.end.line);
      return;
    }
    this.line(indent, `${head}{`, at, b.loc.start.line);
    this.wordLines(b.items, indent + 1);
    this.line(indent, `}${tail}`, b.loc.end.offset - 1, b.loc.end.line, true);
  }

  /** The items of a multi-line word block, one output line per source line. */
  wordLines(items: readonly WordItem[], indent: number): void {
    let current: Line | undefined;
    let prev: WordItem | undefined;
    for (const item of items) {
      const sameLine = current !== undefined && prev !== undefined &&
        item.loc.start.line === prev.loc.end.line;
      if (item.kind === "words" && item.loc.start.line !== item.loc.end.line) {
        const code = (sameLine ? current!.code + gap(prev!, item) : "") + "{";
        if (sameLine) this.lines.pop();
        this.line(
          indent,
          code,
          sameLine ? current!.at : item.loc.start.offset,
          item.loc.start.line,
        );
        this.wordLines(item.items, indent + 1);
        this.line(indent, "}", item.loc.end.offset - 1, item.loc.end.line, true);
      } else if (sameLine) {
        current!.code += gap(prev!, item) + wordItem(item);
        current!.lastLine = item.loc.end.line;
      } else {
        this.line(indent, wordItem(item), item.loc.start.offset, item.loc.end.line);
      }
      current = this.lines[this.lines.length - 1];
      prev = item;
    }
  }
}

/** Whether a block statement was written on one line and can be printed so. */
function oneLine(s: Statement, bodies: readonly Statement[][]): boolean {
  return s.loc.start.line === s.loc.end.line &&
    bodies.every((b) => b.length === 0 || (b.length === 1 && !isBlockStatement(b[0])));
}

/** A statement without a block of statements, on one line. */
function inlineStatement(s: Statement): string {
  if (s.kind === "action") return `${actor(s.actor)}: ${inlineStatement(s.body)}`;
  if (s.kind === "vm") return `vm ${s.name.name} ${inlineWords(s.body)}`;
  if (s.kind === "do") return command(s.command);
  return simple(s);
}

function command(c: Command): string {
  let text = c.args.map(arg).join(" ");
  if (c.block) text += (readsAsSet(c.block) ? "" : " ") + inlineWords(c.block);
  if (c.bind) text += ` -> $${c.bind.name}`;
  return text;
}

/** Whether a one-line word block would parse as a set if a space came before it. */
function readsAsSet(b: WordBlock): boolean {
  return b.items.length === 0 || (b.items.length === 1 && b.items[0].kind !== "kv" &&
    b.items[0].kind !== "words");
}

/** A statement that is one line whatever the author did. */
function simple(s: Statement): string {
  switch (s.kind) {
    case "scenario":
      return `scenario ${string(s.title.value)}`;
    case "version":
      return `irqlab ${s.version.text}`;
    case "tags":
      return `tags ${s.tags.map((t) => t.name).join(", ")}`;
    case "link":
      return `link ${string(s.url.value)}`;
    case "expect_failure":
      return `expect failure ${string(s.reason.value)}`;
    case "let":
      return `let $${s.name.name} = ${value(s.value)}`;
    case "include":
      return `include ${string(s.path.value)}`;
    case "run":
      return s.duration ? `run ${value(s.duration)}` : "run";
    case "expect":
      return s.failure
        ? `expect failure ${string(s.failure.value)}: ${condition(s.condition, 0)}`
        : `expect ${condition(s.condition, 0)}`;
    case "always":
      return `always ${condition(s.condition, 0)}`;
    default:
      return inlineStatement(s);
  }
}

// ---- words and values --------------------------------------------------------------

function inlineWords(b: WordBlock): string {
  if (b.items.length === 0) return "{ }";
  let out = "{ ";
  b.items.forEach((item, i) => {
    if (i > 0) out += gap(b.items[i - 1], item);
    out += wordItem(item);
  });
  return `${out} }`;
}

/**
 * Two spaces where the author set two words apart with more than one, else
 * one; none where they wrote none (`v[1]cpu1` is two words in a word block,
 * and spaced out it could read as something else).
 */
function gap(prev: WordItem, next: WordItem): string {
  if (next.loc.start.offset === prev.loc.end.offset) return "";
  const apart = next.loc.start.line === prev.loc.end.line &&
    next.loc.start.column - prev.loc.end.column >= 2;
  return apart ? "  " : " ";
}

function wordItem(item: WordItem): string {
  return item.kind === "words" ? inlineWords(item) : arg(item);
}

function arg(a: Arg): string {
  return a.kind === "kv" ? `${a.key}=${value(a.value)}` : value(a);
}

function value(v: Value): string {
  switch (v.kind) {
    case "number":
    case "duration":
      return v.text;
    case "string":
      return string(v.value);
    case "var":
      return `$${v.name}`;
    case "ident":
      return v.name;
    case "path":
      return v.segments.map((seg, i) =>
        seg.kind === "index" ? `[${value(seg.index)}]` : i === 0 ? seg.name : `.${seg.name}`
      ).join("");
    case "set":
      return `{${v.items.map(value).join(", ")}}`;
    case "list":
      return `[${v.items.map(value).join(", ")}]`;
    case "range":
      return `${value(v.from)}..${value(v.to)}`;
    case "neg":
      return `-${value(v.operand)}`;
    case "unary":
      return `~${value(v.operand)}`;
    case "paren":
      return `(${value(v.expr)})`;
    case "condition":
      return `(${condition(v.condition, 0)})`;
    case "binary": {
      // Walk the left spine in a loop: the parser folds a chain of thousands
      // of operators into a tree that deep, which recursion would not survive.
      const rights: string[] = [];
      let left: Value = v;
      while (left.kind === "binary") {
        rights.push(` ${left.op} ${value(left.right)}`);
        left = left.left;
      }
      return value(left) + rights.reverse().join("");
    }
  }
}

function string(s: string): string {
  const escaped = s.replace(
    /[\\"\n\t]/g,
    (c) => c === "\n" ? "\\n" : c === "\t" ? "\\t" : `\\${c}`,
  );
  return `"${escaped}"`;
}

function actor(a: Actor): string {
  if (a.device !== undefined) return a.vm ? `${a.vm}.device ${a.device}` : `device ${a.device}`;
  const name = a.index === undefined ? a.name : `${a.name}[${value(a.index)}]`;
  return a.vm ? `${a.vm}.${name}` : name;
}

// ---- conditions --------------------------------------------------------------------

const PRECEDENCE = { or: 1, and: 2, not: 3 } as const;

/**
 * A condition with the parentheses its tree needs and no others. The parser
 * folds `a or b or c` to the left, so a right operand of the same operator
 * keeps its parentheses: the printed text parses back to the same tree.
 */
function condition(c: Condition, min: number): string {
  let text: string, own: number;
  switch (c.kind) {
    case "or":
    case "and": {
      own = PRECEDENCE[c.kind];
      // Walk the left spine in a loop: a chain of thousands of `or`s is one
      // level deep to the parser and must not be thousands deep here.
      const rights: Condition[] = [];
      let left: Condition = c;
      while (left.kind === c.kind) {
        rights.push(left.right);
        left = left.left;
      }
      const parts = [condition(left, own), ...rights.reverse().map((r) => condition(r, own + 1))];
      text = parts.join(` ${c.kind} `);
      break;
    }
    case "not":
      own = PRECEDENCE.not;
      text = `not ${condition(c.operand, own)}`;
      break;
    case "compare":
      return `${operand(c.left)} ${c.op} ${operand(c.right)}`;
    case "truthy":
      return operand(c.operand);
    case "took":
      return `${actor(c.actor)} took ${took(c.spec)}`;
  }
  return own < min ? `(${text})` : text;
}

function operand(o: Operand): string {
  return o.kind === "value" ? value(o.value) : o.args.map(arg).join(" ");
}

function took(t: TookSpec): string {
  if (t.nothing) return "nothing";
  // One value reads bare; an order is a list even of one.
  const values = t.values.length === 1 && !t.inOrder
    ? value(t.values[0])
    : `[${t.values.map(value).join(", ")}]`;
  const words = [values];
  if (t.count) {
    const v = t.count.value;
    const text = value(v);
    // `once` and `twice` read as 1 and 2; written that way they read best.
    words.push(text === "1" ? "once" : text === "2" ? "twice" : `${text} times`);
  }
  if (t.inOrder) words.push("in order");
  return words.join(" ");
}

// ---- comments, blank lines and alignment -------------------------------------------------

/** Line numbers of offsets, and whether a source line is blank. */
class LineIndex {
  readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\r" && text[i + 1] === "\n") continue;
      if (c === "\n" || c === "\r") this.starts.push(i + 1);
    }
  }
  /** The 1-based line of an offset. */
  lineOf(offset: number): number {
    let lo = 0, hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
  /** Whether 1-based line `n` holds nothing but spaces and semicolons. */
  blank(n: number): boolean {
    const from = this.starts[n - 1];
    const to = n < this.starts.length ? this.starts[n] : this.text.length;
    return from !== undefined && /^[ \t;\r\n]*$/.test(this.text.slice(from, to));
  }
  /** Whether a blank line lies strictly between lines `a` and `b`. */
  blankBetween(a: number, b: number): boolean {
    for (let n = a + 1; n < b; n++) if (this.blank(n)) return true;
    return false;
  }
}

interface Row {
  indent: number;
  code: string;
  comment?: string;
  /** Source lines it spans, for blank-line decisions. */
  firstLine: number;
  lastLine: number;
  opens: boolean;
  closes: boolean;
  blankBefore: boolean;
}

function render(lines: readonly Line[], comments: readonly Comment[], index: LineIndex): string {
  const rows: Row[] = [];
  let ci = 0;
  const push = (row: Omit<Row, "blankBefore">) => {
    const prev = rows[rows.length - 1];
    const blankBefore = prev !== undefined && !prev.opens && !row.closes &&
      index.blankBetween(prev.lastLine, row.firstLine);
    rows.push({ ...row, blankBefore });
  };
  const flush = (before: number, indent: number) => {
    while (ci < comments.length && comments[ci].loc.start.offset < before) {
      const c = comments[ci++];
      const text = c.text.trimEnd();
      const prev = rows[rows.length - 1];
      const line = c.loc.start.line;
      if (prev && prev.code !== "" && prev.comment === undefined && prev.lastLine === line) {
        prev.comment = text;
      } else {
        push({
          indent,
          code: "",
          comment: text,
          firstLine: line,
          lastLine: line,
          opens: false,
          closes: false,
        });
      }
    }
  };
  for (const l of lines) {
    flush(l.at, l.closes ? l.indent + 1 : l.indent);
    push({
      indent: l.indent,
      code: l.code,
      firstLine: index.lineOf(l.at),
      lastLine: l.lastLine,
      opens: l.opens,
      closes: l.closes,
    });
  }
  flush(Infinity, 0);
  return rows.length ? align(rows).join("\n") + "\n" : "";
}

/** Rows as text, trailing comments of one group in one column. */
function align(rows: readonly Row[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < rows.length) {
    // A group: consecutive code rows of one indentation, no blank line between.
    let j = i + 1;
    if (rows[i].code !== "") {
      while (
        j < rows.length && rows[j].code !== "" && !rows[j].blankBefore &&
        rows[j].indent === rows[i].indent
      ) j++;
    }
    const group = rows.slice(i, j);
    const width = Math.max(0, ...group.filter((r) => r.comment).map((r) => r.code.length));
    for (const r of group) {
      if (r.blankBefore) out.push("");
      const pad = "  ".repeat(r.indent);
      if (r.code === "") out.push(pad + r.comment);
      else if (r.comment === undefined) out.push(pad + r.code);
      else out.push(`${pad}${r.code.padEnd(width)}  ${r.comment}`);
    }
    i = j;
  }
  return out;
}

/** Skips what the grammar's `Blank` allows: spaces, newlines, `;`, comments, continuations. */
function skipBlank(t: string, i: number): number {
  while (i < t.length) {
    const c = t[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === ";") i++;
    else if (c === "\\" && (t[i + 1] === "\n" || t[i + 1] === "\r")) i += 2;
    else if (c === "#") {
      while (i < t.length && t[i] !== "\n" && t[i] !== "\r") i++;
    } else break;
  }
  return i;
}
