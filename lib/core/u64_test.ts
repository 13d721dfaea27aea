import assert from "node:assert/strict";
import { applyBinaryOp, applyOp, type ExprOp, normalize, U64_MAX } from "./u64.ts";
import { Prng } from "./prng.ts";
import { exactU64 } from "../../tests/u64_oracle.ts";

Deno.test("applyOp() is exact over the whole 64-bit range", () => {
  assert.equal(applyOp("-", [U64_MAX, 1]), 0xffff_ffff_ffff_fffen);
  assert.equal(applyOp("~", [0]), U64_MAX);
  assert.equal(applyOp("~", [U64_MAX]), 0);
  assert.equal(applyOp("|", [1n << 63n, 1]), 0x8000_0000_0000_0001n);
  assert.equal(applyOp(">>", [U64_MAX, 63]), 1);
  assert.equal(applyOp("*", [0xffff_ffff, 0x1_0000_0001]), U64_MAX);
  // 2^53 + 1 is where a double stops being exact.
  assert.equal(applyOp("+", [2 ** 53, 1]), 2n ** 53n + 1n);
});

Deno.test("applyOp() refuses overflow, underflow, division by zero and non-numbers, saying which", () => {
  assert.match(applyOp("+", [U64_MAX, 1]) as string, /overflows 64 bits/);
  assert.match(applyOp("-", [3, 4]) as string, /^3 - 4 is below 0/);
  assert.match(applyOp("<<", [1, 64]) as string, /^1 << 64 overflows/);
  assert.match(applyOp("<<", [2, 63]) as string, /overflows/);
  assert.equal(applyOp("<<", [0, 200]), 0);
  assert.equal(applyOp(">>", [5, 200]), 0);
  assert.match(applyOp("/", [1, 0]) as string, /divides by zero/);
  assert.match(applyOp("%", [1, 0]) as string, /divides by zero/);
  assert.match(applyOp("+", [-22, 1]) as string, /unsigned 64-bit numbers, and -22/);
  assert.match(applyOp("&", [[1, 2], 1]) as string, /not on a set or list/);
  assert.match(applyOp("+", ["fixed", 1]) as string, /not on 'fixed'/);
});

Deno.test("normalize() keeps safe integers as numbers and larger values as bigints", () => {
  assert.equal(normalize(9007199254740991n), 9007199254740991);
  assert.equal(normalize(9007199254740992n), 9007199254740992n);
});

Deno.test("applyOp() agrees with bigint arithmetic masked to 64 bits wherever it answers (seeded)", () => {
  const rng = new Prng(13);
  const ops: Exclude<ExprOp, "~">[] = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"];
  const edges = [
    0n,
    1n,
    2n,
    63n,
    64n,
    0xffn,
    2n ** 32n,
    2n ** 53n,
    2n ** 63n,
    U64_MAX - 1n,
    U64_MAX,
  ];
  const pick = () =>
    rng.chance(0.5)
      ? rng.pick(edges)
      : (BigInt(rng.next()) << 32n | BigInt(rng.next())) >> BigInt(rng.below(64));
  for (let i = 0; i < 5000; i++) {
    const op = rng.pick(ops);
    const a = pick(), b = pick();
    const got = applyOp(op, [normalize(a), normalize(b)]);
    const exact = exactU64(op, a, b);
    if (exact === undefined) {
      assert.equal(typeof got, "string", `${a} ${op} ${b} should be refused`);
    } else {
      assert.equal(BigInt(got), exact, `${a} ${op} ${b}`);
    }
  }
});

Deno.test("applyBinaryOp on safe integers above 2^32 answers as on BigInts, and leaves an unsafe result to them", () => {
  const cases: [ExprOp, number, number][] = [
    ["&", 2 ** 52 + 0xff00ff, 2 ** 40 + 0xf0f0f0f],
    ["|", 2 ** 52 + 1, 2 ** 33 + 0x8000_0000],
    ["^", Number.MAX_SAFE_INTEGER, 2 ** 32 + 0xffff_ffff],
    [">>", 2 ** 52 + 2 ** 31, 31],
    [">>", 2 ** 45, 70],
    ["+", 2 ** 52, 2 ** 52 - 1],
    ["+", 2 ** 52, 2 ** 52], // 2^53: past the safe integers, a BigInt
    ["-", 2 ** 40, 2 ** 41],
    ["*", 2 ** 33, 2 ** 20],
    ["*", 2 ** 33, 2 ** 21],
    ["<<", 2 ** 33, 19],
    ["<<", 2 ** 33, 40],
    ["/", 2 ** 53 - 1, 3],
    ["%", 2 ** 53 - 1, 2 ** 33 + 1],
  ];
  for (const [op, a, b] of cases) {
    const x = BigInt(a), y = BigInt(b);
    const big = op === "&"
      ? x & y
      : op === "|"
      ? x | y
      : op === "^"
      ? x ^ y
      : op === ">>"
      ? (y >= 64n ? 0n : x >> y)
      : op === "+"
      ? x + y
      : op === "-"
      ? x - y
      : op === "*"
      ? x * y
      : op === "<<"
      ? x << y
      : op === "/"
      ? x / y
      : x % y;
    const want = big < 0n || big > U64_MAX
      ? "error"
      : big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
    const got = applyBinaryOp(op, a, b);
    assert.deepEqual(typeof got === "string" ? "error" : got, want, `${a} ${op} ${b}`);
    assert.deepEqual(applyOp(op, [a, b]), got);
  }
});
