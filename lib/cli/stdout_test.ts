import assert from "node:assert/strict";
import { BLOCK_BYTES, LineBuffer } from "./stdout.ts";

/** A sink that takes at most `most` bytes per write, recording each write. */
function sink(most = Infinity) {
  const writes: Uint8Array[] = [];
  return {
    writes,
    text: () => new TextDecoder().decode(concat(writes)),
    write: (b: Uint8Array) => {
      const n = Math.min(most, b.length);
      writes.push(b.slice(0, n));
      return n;
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("LineBuffer writes its lines in order, in one write, when the synchronous stretch ends", async () => {
  const s = sink();
  const out = new LineBuffer(s.write);
  out.line("PASS a.scn");
  out.line("FAIL b.scn — ä");
  assert.equal(s.writes.length, 0, "nothing is written while the stretch runs");
  await Promise.resolve();
  assert.equal(s.writes.length, 1);
  assert.equal(s.text(), "PASS a.scn\nFAIL b.scn — ä\n");
  out.line("2 passed");
  await Promise.resolve();
  assert.equal(s.text(), "PASS a.scn\nFAIL b.scn — ä\n2 passed\n");
});

Deno.test("LineBuffer.flush writes at once, and a flush with nothing kept writes nothing", () => {
  const s = sink();
  const out = new LineBuffer(s.write);
  out.flush();
  assert.equal(s.writes.length, 0);
  out.line("x");
  out.flush();
  assert.equal(s.text(), "x\n");
  out.flush();
  assert.equal(s.writes.length, 1);
});

Deno.test("LineBuffer continues a partial write until every byte is out", () => {
  const s = sink(7);
  const out = new LineBuffer(s.write);
  out.line("a line longer than seven bytes");
  out.line("ünïcödé");
  out.flush();
  assert.ok(s.writes.length > 3);
  assert.equal(s.text(), "a line longer than seven bytes\nünïcödé\n");
});

Deno.test("LineBuffer writes a full block without waiting for the stretch to end", () => {
  const s = sink();
  const out = new LineBuffer(s.write);
  const line = "y".repeat(1023);
  for (let i = 0; i < BLOCK_BYTES / 1024; i++) out.line(line);
  assert.equal(s.writes.length, 1);
  assert.equal(s.text(), `${line}\n`.repeat(BLOCK_BYTES / 1024));
});
