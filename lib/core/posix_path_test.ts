import assert from "node:assert/strict";
import { posix } from "node:path";
import { basename, dirname, isAbsolute, join, normalize, relative } from "./posix_path.ts";

/** Every path of up to four of these parts, with and without a leading slash. */
function paths(): string[] {
  const bits = ["a", "b", ".", "..", "", "c.scn"];
  const out = new Set<string>(["", "/", "//", "///"]);
  const grow = (prefix: string[], depth: number) => {
    if (prefix.length) {
      out.add(prefix.join("/"));
      out.add("/" + prefix.join("/"));
      out.add(prefix.join("/") + "/");
    }
    if (depth === 0) return;
    for (const b of bits) grow([...prefix, b], depth - 1);
  };
  grow([], 4);
  return [...out];
}

const PATHS = paths();

Deno.test("isAbsolute, normalize, dirname and basename give node:path's posix answers", () => {
  for (const p of PATHS) {
    assert.equal(isAbsolute(p), posix.isAbsolute(p), p);
    assert.equal(normalize(p), posix.normalize(p), p);
    assert.equal(dirname(p), posix.dirname(p), p);
    assert.equal(basename(p), posix.basename(p), p);
  }
});

Deno.test("join and relative give node:path's posix answers for every pair of short paths", () => {
  const short = PATHS.filter((p) => p.length <= 6);
  for (const a of short) {
    for (const b of short) {
      assert.equal(join(a, b), posix.join(a, b), `join ${a} ${b}`);
      assert.equal(relative(a, b), posix.relative(a, b), `relative ${a} ${b}`);
    }
  }
  assert.equal(join(), posix.join());
  assert.equal(join("a", "", "b"), posix.join("a", "", "b"));
});
