/**
 * Finding scenarios in the files bug reports live in: Markdown and plain
 * text (fenced blocks marked `scn`, or a scenario quoted with `> ` at any
 * depth), one email message (`.eml`) or many (`.mbox`, split on `From `
 * lines), with quoted-printable bodies decoded.
 *
 * Each scenario found becomes a text for the parser that starts with as
 * many line breaks as the host has lines before it, and has its quote
 * prefixes blanked to spaces. The parser then reports the lines and columns
 * of the host file itself, so diagnostics quote the host's own line with no
 * mapping (offsets differ: nothing reads them against the host). Only a
 * decoded (quoted-printable) part cannot keep the host's columns; such a
 * scenario carries the host offset of each character
 * ({@link HostScenario.offsets}) and {@link toHostLoc} maps locations back.
 *
 * @module
 */
import type { Loc, Position } from "../../dsl/ast.ts";

/**
 * File name endings read as host files; everything else is a `.scn` file.
 *
 * @example
 * ```ts
 * HOST_EXTENSIONS.includes(".eml"); // true
 * ```
 */
export const HOST_EXTENSIONS: readonly string[] = [".md", ".markdown", ".txt", ".eml", ".mbox"];

/**
 * What a host file may hold, for "none found" messages.
 *
 * @example
 * ```ts
 * `irqlab reads ${RECOGNISED}`;
 * ```
 */
export const RECOGNISED: string =
  "fenced blocks marked ```scn or ~~~scn, and '> '-quoted runs (any depth) that start with a " +
  "'scenario' or 'irqlab' line";

/** One scenario found in a host file. */
export interface HostScenario {
  /** How reports name it: the host path and its first line, `bug.md:12`. */
  name: string;
  /** The host file's path; diagnostics are located in it. */
  host: string;
  /** Host line of the scenario's first line. */
  line: number;
  /** Host lines the block spans, fences included; `bug.md:N` picks the block holding line N. */
  span: { first: number; last: number };
  /**
   * Line breaks before {@link HostScenario.content} in the text to parse
   * ({@link scenarioText}), so that its lines are the host's.
   */
  lead: number;
  /**
   * The scenario's lines, each at its host column (quote prefixes blanked);
   * for a decoded part, the decoded lines.
   */
  content: string;
  /**
   * For a decoded part: the host offset of each character of `content`,
   * and one more for its end. Absent when lines and columns are the host's.
   */
  offsets?: readonly number[];
  /** The scenario on its own, quote prefixes removed: what `scn report` quotes. */
  body: string;
}

/** A part of a message that could not be searched, and why. */
export interface Unreadable {
  /** Host line of the part's headers. */
  line: number;
  /** Why, in a phrase: "is base64-encoded". */
  why: string;
}

/** What a host file holds. */
export interface Extraction {
  /** The scenarios, in the order of the file. */
  scenarios: HostScenario[];
  /** Text parts irqlab could not read (base64 and unknown encodings). */
  unreadable: Unreadable[];
}

/**
 * Whether a path names a host file (by its ending) rather than a `.scn` file.
 *
 * @example
 * ```ts
 * isHostFile("bug.md"); // true
 * isHostFile("a.scn"); // false
 * ```
 */
export function isHostFile(path: string): boolean {
  const lower = path.toLowerCase();
  return HOST_EXTENSIONS.some((e) => lower.endsWith(e));
}

/**
 * Splits `bug.md:12` into the host path and the line that picks one of its
 * scenarios; a path without `:LINE` (or not a host file) is returned whole.
 *
 * @example
 * ```ts
 * splitTarget("bug.md:12"); // { path: "bug.md", line: 12 }
 * splitTarget("a.scn"); // { path: "a.scn" }
 * ```
 */
export function splitTarget(target: string): { path: string; line?: number } {
  const m = /^(.*):([1-9][0-9]*)$/.exec(target);
  if (m && isHostFile(m[1])) return { path: m[1], line: Number(m[2]) };
  return { path: target };
}

/**
 * Finds the scenarios in the text of host file `path`; the kind of file
 * (email or not) follows from its name.
 *
 * @example
 * ```ts
 * const fence = "\x60\x60\x60"; // three backticks would end this example
 * const md = `Steps:\n\n${fence}scn\nscenario "x"\n${fence}\n`;
 * const [s] = extractScenarios("bug.md", md).scenarios;
 * s.name; // "bug.md:4"
 * scenarioText(s).split("\n")[3]; // 'scenario "x"', on the host's line 4
 * ```
 */
export function extractScenarios(path: string, text: string): Extraction {
  const lower = path.toLowerCase();
  const host = new HostText(path, text);
  const out: Extraction = { scenarios: [], unreadable: [] };
  if (lower.endsWith(".mbox")) {
    for (const [start, end] of mboxMessages(text)) readMessage(host, start, end, out);
  } else if (lower.endsWith(".eml")) {
    readMessage(host, 0, text.length, out);
  } else {
    scan(host, { text, start: 0, end: text.length }, out);
  }
  return out;
}

/**
 * Maps a location in a scenario's parse text to the host file. Aligned
 * texts need nothing; decoded parts go through {@link HostScenario.offsets}.
 *
 * @example
 * ```ts
 * import { type Failure } from "../../mod.ts";
 * declare const failure: Failure, hostText: string, scenario: HostScenario;
 * const loc = toHostLoc(scenario, failure.loc, hostText);
 * ```
 */
export function toHostLoc(s: HostScenario, loc: Loc, hostText: string): Loc {
  if (s.offsets === undefined || loc.source !== s.host) return loc;
  const lines = lineStarts(hostText);
  const at = (p: Position): Position => {
    const offset = s.offsets![Math.min(Math.max(p.offset, 0), s.offsets!.length - 1)];
    return positionOf(lines, offset);
  };
  return { source: loc.source, start: at(loc.start), end: at(loc.end) };
}

/**
 * The text to parse for a scenario: built when needed, as its padding is
 * as long as the host is before it.
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * declare const s: HostScenario;
 * parse(scenarioText(s), s.host); // locations are host lines and columns
 * ```
 */
export function scenarioText(s: HostScenario): string {
  return "\n".repeat(s.lead) + s.content;
}

// ---------------------------------------------------------------------------
// Lines and positions

/** Offsets where each line starts (a line ends at \n, \r\n or \r). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) starts.push(i + 1);
  }
  return starts;
}

function positionOf(starts: readonly number[], offset: number): Position {
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { offset, line: lo + 1, column: offset - starts[lo] + 1 };
}

class HostText {
  readonly starts: number[];
  constructor(readonly path: string, readonly text: string) {
    this.starts = lineStarts(text);
  }
  lineOf(offset: number): number {
    return positionOf(this.starts, offset).line;
  }
}

/** A stretch of text to search: the host itself, or a decoded part with its offsets. */
interface Region {
  text: string;
  start: number;
  end: number;
  offsets?: number[];
}

interface RegionLine {
  /** Offset of the line's first character in the region's text. */
  start: number;
  /** Offset of its end, before the line break. */
  end: number;
  /** How many `>` quote it. */
  depth: number;
  /** Offset after the quote prefix. */
  body: number;
}

function regionLines(r: Region): RegionLine[] {
  const out: RegionLine[] = [];
  let i = r.start;
  while (i < r.end) {
    let e = i;
    while (e < r.end && r.text[e] !== "\n" && r.text[e] !== "\r") e++;
    const { depth, body } = quotePrefix(r.text, i, e);
    out.push({ start: i, end: e, depth, body });
    if (e >= r.end) break;
    i = r.text[e] === "\r" && r.text[e + 1] === "\n" ? e + 2 : e + 1;
  }
  return out;
}

// Mail clients quote as "> > ", ">> " or "> >"; spaces may separate the marks.
function quotePrefix(text: string, start: number, end: number): { depth: number; body: number } {
  let depth = 0, pos = start;
  for (;;) {
    let j = pos;
    while (j < end && (text[j] === " " || text[j] === "\t") && j - pos < 4) j++;
    if (j < end && text[j] === ">") {
      depth++;
      pos = j + 1;
    } else break;
  }
  if (depth > 0 && text[pos] === " ") pos++;
  return { depth, body: depth > 0 ? pos : start };
}

// ---------------------------------------------------------------------------
// Finding scenarios in a region

// Info strings are matched without regard to case, as CommonMark renderers do: ```SCN is a scenario.
const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})[ \t]*scn(?![A-Za-z0-9_-])[^`]*$/i;
const SCENARIO_START = /^[ \t]*(scenario|irqlab)(?![A-Za-z0-9_])/;

function scan(host: HostText, r: Region, out: Extraction): void {
  const lines = regionLines(r);
  let i = 0;
  while (i < lines.length) {
    const l = lines[i];
    const content = r.text.slice(l.body, l.end);
    const open = FENCE_OPEN.exec(content);
    if (open) {
      const mark = open[1];
      let j = i + 1;
      let closed = false;
      while (j < lines.length && lines[j].depth === l.depth) {
        if (isFenceClose(r.text.slice(lines[j].body, lines[j].end), mark)) {
          closed = true;
          break;
        }
        j++;
      }
      emit(host, r, lines, i, i + 1, j, closed ? j : j - 1, out);
      i = closed ? j + 1 : j;
      continue;
    }
    if (l.depth > 0 && SCENARIO_START.test(content)) {
      const last = lastStatementLine(r, lines, i);
      emit(host, r, lines, i, i, last + 1, last, out);
      i = last + 1;
      continue;
    }
    i++;
  }
}

/**
 * The last line of a quoted scenario starting at line `i`: the quote at its
 * depth may go on with the reply's prose ("> Any idea?"), which is not part
 * of it. Outside braces every statement starts with a lowercase word, `$`,
 * `#` or a brace; a line that starts otherwise (and does not continue the
 * line before with `\`) ends the scenario, and the blank lines before it go
 * with the prose.
 */
function lastStatementLine(r: Region, lines: readonly RegionLine[], i: number): number {
  let depth = 0, last = i, continued = false;
  for (let j = i; j < lines.length && lines[j].depth === lines[i].depth; j++) {
    const c = r.text.slice(lines[j].body, lines[j].end);
    if (c.trim() === "") continue;
    if (j > i && depth <= 0 && !continued && !/^[ \t]*[a-z_$#{}]/.test(c)) break;
    depth += braceDelta(c);
    continued = /\\[ \t]*$/.test(c);
    last = j;
  }
  return last;
}

/** Opening minus closing braces on a line, outside strings and comments. */
function braceDelta(line: string): number {
  let d = 0, inString = false;
  for (let k = 0; k < line.length; k++) {
    const ch = line[k];
    if (inString) {
      if (ch === "\\") k++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === "#") break;
    else if (ch === "{") d++;
    else if (ch === "}") d--;
  }
  return d;
}

function isFenceClose(content: string, mark: string): boolean {
  const m = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(content);
  return m !== null && m[1][0] === mark[0] && m[1].length >= mark.length;
}

/** Records the scenario on lines [from, to) of a block spanning lines first..last. */
function emit(
  host: HostText,
  r: Region,
  lines: readonly RegionLine[],
  first: number,
  from: number,
  to: number,
  last: number,
  out: Extraction,
): void {
  const hostLine = (k: number) => {
    const l = lines[Math.min(k, lines.length - 1)];
    return host.lineOf(r.offsets ? r.offsets[l.start] : l.start);
  };
  const line = hostLine(from < to ? from : first);
  const body: string[] = [];
  for (let k = from; k < to; k++) body.push(r.text.slice(lines[k].body, lines[k].end));
  const scenario = {
    name: `${host.path}:${line}`,
    host: host.path,
    line,
    span: { first: hostLine(first), last: hostLine(Math.max(first, last)) },
    body: body.join("\n") + "\n",
  };
  if (!r.offsets) {
    // Quote prefixes become spaces, so each character keeps its host column.
    const content = body.map((b, i) =>
      " ".repeat(lines[from + i].body - lines[from + i].start) + b
    );
    out.scenarios.push({ ...scenario, lead: line - 1, content: content.join("\n") + "\n" });
    return;
  }
  // A decoded part: the scenario's own characters, each with its host offset.
  const offsets: number[] = [];
  for (let k = from; k < to; k++) {
    for (let o = lines[k].body; o <= lines[k].end; o++) offsets.push(r.offsets[o]);
  }
  offsets.push(offsets.at(-1) ?? r.offsets[lines[first].start]);
  out.scenarios.push({ ...scenario, lead: 0, content: scenario.body, offsets });
}

// ---------------------------------------------------------------------------
// Email

/** [start, end) of each message of an mbox: a message starts at a "From " line. */
function mboxMessages(text: string): [number, number][] {
  const starts: number[] = [];
  const re = /^From /gm;
  for (let m = re.exec(text); m; m = re.exec(text)) starts.push(m.index);
  if (starts.length === 0 || starts[0] !== 0) starts.unshift(0);
  return starts.map((s, i) => [s, i + 1 < starts.length ? starts[i + 1] : text.length]);
}

interface Headers {
  /** Lower-case names, unfolded values. */
  fields: Map<string, string>;
  /** Where the body starts. */
  bodyStart: number;
}

function readHeaders(text: string, start: number, end: number): Headers {
  const fields = new Map<string, string>();
  let i = start;
  let last = "";
  // An mbox message starts with its "From " separator, which is no header.
  if (text.startsWith("From ", i)) i = nextLine(text, i, end);
  while (i < end) {
    const e = lineEnd(text, i, end);
    const line = text.slice(i, e);
    if (line.trim() === "") return { fields, bodyStart: nextLine(text, i, end) };
    if (/^[ \t]/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    else {
      const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
      if (!m) return { fields, bodyStart: i }; // no header block: all body
      last = m[1].toLowerCase();
      fields.set(last, m[2].trim());
    }
    i = nextLine(text, i, end);
  }
  return { fields, bodyStart: end };
}

function lineEnd(text: string, i: number, end: number): number {
  while (i < end && text[i] !== "\n" && text[i] !== "\r") i++;
  return i;
}

function nextLine(text: string, i: number, end: number): number {
  const e = lineEnd(text, i, end);
  return text[e] === "\r" && text[e + 1] === "\n" ? e + 2 : Math.min(e + 1, end);
}

/** `text/plain; charset="utf-8"` as its type and parameters. */
function contentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (value === undefined) return { type: "text/plain", params };
  const [type, ...rest] = value.split(";");
  for (const p of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*(?:"([^"]*)"|(\S*))/.exec(p);
    if (m) params.set(m[1].toLowerCase(), m[2] ?? m[3]);
  }
  return { type: type.trim().toLowerCase(), params };
}

function readMessage(host: HostText, start: number, end: number, out: Extraction): void {
  const text = host.text;
  const h = readHeaders(text, start, end);
  const ct = contentType(h.fields.get("content-type"));
  if (ct.type.startsWith("multipart/")) {
    const boundary = ct.params.get("boundary");
    if (boundary === undefined) {
      scan(host, { text, start: h.bodyStart, end }, out);
      return;
    }
    for (const [s, e] of multipartParts(text, h.bodyStart, end, boundary)) {
      readMessage(host, s, e, out);
    }
    return;
  }
  if (ct.type === "message/rfc822") {
    readMessage(host, h.bodyStart, end, out);
    return;
  }
  if (!ct.type.startsWith("text/")) return; // attachments: images, patches as binaries
  const encoding = (h.fields.get("content-transfer-encoding") ?? "7bit").toLowerCase();
  if (encoding === "7bit" || encoding === "8bit" || encoding === "binary") {
    scan(host, { text, start: h.bodyStart, end }, out);
  } else if (encoding === "quoted-printable") {
    scan(host, decodeQuotedPrintable(text, h.bodyStart, end), out);
  } else {
    out.unreadable.push({
      line: host.lineOf(start),
      why: encoding === "base64" ? "is base64-encoded" : `has transfer encoding '${encoding}'`,
    });
  }
}

/** [start, end) of each part between `--boundary` lines. */
function multipartParts(
  text: string,
  start: number,
  end: number,
  boundary: string,
): [number, number][] {
  const parts: [number, number][] = [];
  let partStart = -1;
  for (let i = start; i < end; i = nextLine(text, i, end)) {
    const line = text.slice(i, lineEnd(text, i, end)).trimEnd();
    if (line === `--${boundary}` || line === `--${boundary}--`) {
      if (partStart >= 0) parts.push([partStart, i]);
      if (line === `--${boundary}--`) return parts;
      partStart = nextLine(text, i, end);
    }
    if (nextLine(text, i, end) === i) break;
  }
  if (partStart >= 0) parts.push([partStart, end]);
  return parts;
}

/**
 * Decodes a quoted-printable body (RFC 2045 6.7): `=XX` is a byte, `=` at a
 * line's end joins it to the next. Keeps the host offset of each character.
 */
function decodeQuotedPrintable(text: string, start: number, end: number): Region {
  const bytes: number[] = [];
  const byteAt: number[] = [];
  const encoder = new TextEncoder();
  let i = start;
  while (i < end) {
    const c = text[i];
    if (c === "=") {
      const soft = /^=[ \t]*(\r\n|\n|\r)/.exec(text.slice(i, Math.min(end, i + 80)));
      if (soft) {
        i += soft[0].length;
        continue;
      }
      const hex = text.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        byteAt.push(i);
        i += 3;
        continue;
      }
    }
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    for (const b of encoder.encode(text.slice(i, i + width))) {
      bytes.push(b);
      byteAt.push(i);
    }
    i += width;
  }
  let decoded: string;
  const offsets: number[] = [];
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
    let b = 0;
    for (const ch of decoded) {
      const n = encoder.encode(ch).length;
      for (let u = 0; u < ch.length; u++) offsets.push(byteAt[b]);
      b += n;
    }
  } catch {
    // Not UTF-8: read it as Latin-1, one character per byte.
    decoded = bytes.map((b) => String.fromCharCode(b)).join("");
    for (const at of byteAt) offsets.push(at);
  }
  offsets.push(end);
  return { text: decoded, start: 0, end: decoded.length, offsets };
}
