/**
 * Text from a scenario made safe to print: a stranger's title, comment or
 * file name must not reach a terminal as an escape sequence (repainting a
 * FAIL line as PASS, retitling or clearing the window), nor reorder what is
 * shown with bidirectional controls. Control characters are shown as
 * visible escapes, and long text is cut with an ellipsis.
 *
 * @module
 */

/** Longest value (an expected or actual set, a title) shown whole. */
export const MAX_VALUE_CHARS = 1000;

/** Longest quoted source line shown whole; longer ones are cut around the spot. */
export const MAX_QUOTE_CHARS = 160;

/**
 * C0 controls but tab, DEL, C1 controls, and the invisible characters that
 * change how a line reads: zero-width, bidirectional embeddings, overrides
 * and isolates, the line and paragraph separators, the byte-order mark.
 */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** What {@link UNSAFE} holds that `JSON.stringify` leaves raw inside strings. */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/**
 * One unsafe character as a visible escape: `\n`, `\r`, `\x1b`, `\u{202e}`.
 *
 * @example
 * ```ts
 * escapeChar("\x1b"); // "\\x1b"
 * ```
 */
export function escapeChar(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  const code = c.codePointAt(0)!;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every control character shown as an escape (tabs stay), and
 * cut to `max` characters with an ellipsis.
 *
 * @example
 * ```ts
 * visible("\x1b[2J PASS"); // "\\x1b[2J PASS"
 * visible("a".repeat(10), 5); // "aaaa…"
 * ```
 */
export function visible(text: string, max = Infinity): string {
  const shown = text.replace(UNSAFE, escapeChar);
  return shown.length > max ? cut(shown, max) : shown;
}

/**
 * Whether `text` holds a character {@link visible} would escape.
 *
 * @example
 * ```ts
 * hasUnsafe("ok"); // false
 * ```
 */
export function hasUnsafe(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}

/** The first `max - 1` characters and an ellipsis, not splitting a surrogate pair. */
function cut(text: string, max: number): string {
  let end = Math.max(0, max - 1);
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * A source line for quoting, made visible and cut around `[from, to)` (0-based
 * columns into `line`) when long; with the caret's column and width in the
 * shown text, so that `^` still points at the spot.
 *
 * @example
 * ```ts
 * quoteLine("a\x07b", 2, 3); // { shown: "a\\x07b", caret: 5, width: 1 }
 * ```
 */
export function quoteLine(
  line: string,
  from: number,
  to: number,
  max = MAX_QUOTE_CHARS,
): { shown: string; caret: number; width: number } {
  const esc = (s: string) => s.replace(/\t/g, " ").replace(UNSAFE, escapeChar);
  const start = Math.min(Math.max(0, from), line.length);
  const end = Math.min(Math.max(start + 1, to), Math.max(line.length, start + 1));
  let before = esc(line.slice(0, start));
  let spot = esc(line.slice(start, end));
  let after = esc(line.slice(end));
  if (spot.length > max / 2) spot = cut(spot, Math.floor(max / 2));
  const room = Math.max(0, max - spot.length);
  if (before.length + after.length > room) {
    const keepBefore = Math.min(before.length, Math.ceil(room / 2));
    const keepAfter = Math.min(after.length, room - keepBefore);
    if (before.length > keepBefore) before = "…" + before.slice(before.length - keepBefore + 1);
    if (after.length > keepAfter) after = after.slice(0, Math.max(0, keepAfter - 1)) + "…";
  }
  return { shown: before + spot + after, caret: before.length, width: Math.max(1, spot.length) };
}

/**
 * JSON text with the characters `JSON.stringify` leaves raw but a terminal
 * acts on (DEL, C1 controls, bidirectional and invisible formatting) written
 * as `\u` escapes: the same document, safe to print.
 *
 * @example
 * ```ts
 * safeJson(JSON.stringify("\u009b2J")); // '"\\u009b2J"'
 * ```
 */
export function safeJson(json: string): string {
  return json.replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
