import assert from "node:assert/strict";
import { quoteLine, safeJson, visible } from "./visible.ts";
import { formatDiagnostic } from "./diagnostic.ts";

Deno.test("visible() shows control, bidirectional and invisible characters as escapes, tabs kept", () => {
  assert.equal(visible("\x1b[2K\rPASS\x07"), "\\x1b[2K\\rPASS\\x07");
  assert.equal(visible("a\nb\tc\x7f\x9b"), "a\\nb\tc\\x7f\\x9b");
  assert.equal(visible("x\u202ey\u2066z\u200b\ufeff"), "x\\u{202e}y\\u{2066}z\\u{200b}\\u{feff}");
  assert.equal(visible("café ✓ 😀"), "café ✓ 😀");
});

Deno.test("visible() cuts long text with an ellipsis, never inside a surrogate pair", () => {
  assert.equal(visible("abcdef", 4), "abc…");
  assert.equal(visible("abcdef", 6), "abcdef");
  assert.equal(visible("ab😀cd", 4), "ab…");
});

Deno.test("safeJson() escapes what JSON.stringify leaves raw and stays the same document", () => {
  const doc = { t: "\x1b\u009b\u202e\x7f ok" };
  const json = safeJson(JSON.stringify(doc, null, 2));
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(json, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  assert.deepEqual(JSON.parse(json), doc);
});

Deno.test("quoteLine() cuts a long line around the spot and keeps the caret under it", () => {
  const line = "x".repeat(20_000) + "BAD" + "y".repeat(20_000);
  const q = quoteLine(line, 20_000, 20_003, 80);
  assert.ok(q.shown.length <= 80, `${q.shown.length}`);
  assert.equal(q.shown.slice(q.caret, q.caret + q.width), "BAD");
  assert.ok(q.shown.startsWith("…") && q.shown.endsWith("…"));
  const esc = quoteLine("a\x1bb", 2, 3);
  assert.equal(esc.shown, "a\\x1bb");
  assert.equal(esc.shown.slice(esc.caret, esc.caret + esc.width), "b");
});

Deno.test("formatDiagnostic() quotes a line with escapes visible and the caret on the spot", () => {
  const text = "vcpu0: \x1b]0;title\x07 bad\n";
  const loc = {
    source: "a.scn",
    start: { offset: 18, line: 1, column: 19 },
    end: { offset: 21, line: 1, column: 22 },
  };
  const out = formatDiagnostic({ kind: "check", message: "unknown \x1b[31m", loc }, () => text);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(out, /[\x00-\x09\x0b-\x1f]/);
  const [, quoted, caret] = out.split("\n");
  assert.equal(quoted, "  1 | vcpu0: \\x1b]0;title\\x07 bad");
  assert.equal(quoted.indexOf("bad"), caret.indexOf("^"));
  assert.match(out, /unknown \\x1b\[31m/);
});
