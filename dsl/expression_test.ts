import assert from "node:assert/strict";
import { parse } from "./parse.ts";
import { formatText } from "./format.ts";
import { check } from "./check/mod.ts";
import type { Statement, Value } from "./ast.ts";
import { ScnError } from "../lib/core/diagnostic.ts";
import { PLATFORMS } from "../lib/api/platforms.ts";
import { runProgram } from "../lib/engine/run.ts";
import { Prng } from "../lib/core/prng.ts";
import { U64_MAX } from "../lib/core/u64.ts";
import { exactU64 } from "../tests/u64_oracle.ts";

const HEAD = 'scenario "e"\nvm g { arch x86_64  vcpus 1 }\n';

/** The value of `let $x = <text>` as a fully parenthesised string. */
function tree(text: string): string {
  const s = parse(`let $x = ${text}\n`).body[0] as Statement & { kind: "let" };
  const show = (v: Value): string => {
    switch (v.kind) {
      case "binary":
        return `(${show(v.left)} ${v.op} ${show(v.right)})`;
      case "unary":
        return `~${show(v.operand)}`;
      case "neg":
        return `-${show(v.operand)}`;
      case "paren":
        return show(v.expr);
      case "number":
        return v.text;
      case "var":
        return `$${v.name}`;
      case "range":
        return `${show(v.from)}..${show(v.to)}`;
      default:
        return v.kind;
    }
  };
  return show(s.value);
}

function run(lines: string) {
  const text = HEAD + lines;
  return runProgram(check(parse(text, "e.scn"), { platforms: PLATFORMS, text }));
}

function errorOf(lines: string): string {
  const text = HEAD + lines;
  try {
    runProgram(check(parse(text, "e.scn"), { platforms: PLATFORMS, text }));
  } catch (e) {
    assert.ok(e instanceof ScnError);
    const d = e.diagnostics[0];
    return `${d.loc.start.line}:${d.loc.start.column} ${d.message}`;
  }
  throw new Error(`no error for ${lines}`);
}

Deno.test("expressions: precedence is | ^ & shifts + * prefixes, loosest first, folded left", () => {
  assert.equal(tree("1 | 2 ^ 3 & 4 << 5 + 6 * 7"), "(1 | (2 ^ (3 & (4 << (5 + (6 * 7))))))");
  assert.equal(tree("10 - 2 - 3"), "((10 - 2) - 3)");
  assert.equal(tree("(0x3 << 4) | 1"), "((0x3 << 4) | 1)");
  assert.equal(tree("~$a & 0xff"), "(~$a & 0xff)");
  assert.equal(tree("$a-1"), "($a - 1)");
  assert.equal(tree("0..$n - 1"), "0..($n - 1)");
});

Deno.test("expressions: in a command, 'a - b' subtracts and 'a -b' is two words", () => {
  const cmd = (t: string) => {
    const s = parse(`vcpu0: x ${t}\n`).body[0] as Statement & { kind: "action" };
    return (s.body as Statement & { kind: "do" }).command.args.map((a) => a.kind);
  };
  assert.deepEqual(cmd("data=0x40 + $i"), ["ident", "kv"]);
  assert.deepEqual(cmd("3 - 1"), ["ident", "binary"]);
  assert.deepEqual(cmd("3 -1"), ["ident", "number", "neg"]);
  assert.deepEqual(cmd("3 -> $r"), ["ident", "number"]);
});

Deno.test("expressions: a comparison may start with a parenthesised expression", () => {
  const r = run([
    "let $x = (0x3 << 4) | 1",
    "expect ($x & 0xf0) >> 4 == 3",
    "expect ($x == 0x31 or $x == 1) and not ($x > 0x31)",
    "expect $x % 16 == 1 and $x / 16 == 3 and $x ^ 1 == 0x30",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("expressions: values are exact up to 2^64 - 1 in let, expect, arguments and indexes", () => {
  const r = run([
    "let $big = 0xffffffffffffffff",
    "expect $big - 1 == 0xfffffffffffffffe",
    "expect ~$big == 0",
    "expect 0x20000000000001 - 1 == 0x20000000000000",
    "vcpu0: write ioapic.redtbl[4 * 5] vector=0x40 + 0x5a trigger=level dest=0",
    "expect ioapic.pin[20].vector == 0x9a",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("expressions: sets and lists hold ranges and expressions", () => {
  const r = run([
    "let $n = 2",
    "expect {0..3, 8} == {0, 1, 2, 3, 8}",
    "expect {$n..$n + 2, 1 << 4} == {2, 3, 4, 16}",
    "let $sum = 0",
    "for $i in [0..2, 10] { let $sum = $sum + $i }",
    "expect $sum == 13",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("expressions: out-of-range literals and results are located errors, at check or run time", () => {
  assert.equal(
    errorOf("let $x = 0x10000000000000000\n"),
    "3:10 0x10000000000000000 does not fit in 64 bits (the largest value is 0xffffffffffffffff)",
  );
  assert.equal(
    errorOf("expect 0xffffffffffffffff + 1 == 0\n"),
    "3:8 0xffffffffffffffff + 1 overflows 64 bits (the largest value is 0xffffffffffffffff)",
  );
  assert.equal(
    errorOf("let $a = 1\nlet $b = $a - 2\n"),
    "4:10 1 - 2 is below 0: expressions are on unsigned 64-bit numbers",
  );
  assert.equal(errorOf("let $a = 0\nlet $b = 1 % $a\n"), "4:10 1 % 0 divides by zero");
  assert.equal(
    errorOf("repeat 3us { }\n"),
    "3:8 'repeat' takes a count, not a duration",
  );
});

Deno.test("expressions: a chain of 5000 operators is refused with a location, not a stack overflow", () => {
  const e = errorOf(`let $x = ${Array(5000).fill("1").join(" + ")}\n`);
  assert.match(e, /^3:10 expression nested more than 256 deep/);
});

/** A random expression over literals, with its exact value (undefined when out of range). */
function randomExpr(rng: Prng, depth: number): { text: string; value: bigint | undefined } {
  if (depth === 0 || rng.chance(0.3)) {
    const v = rng.chance(0.3) ? U64_MAX - BigInt(rng.below(3)) : BigInt(rng.below(300));
    return { text: rng.chance(0.5) ? `0x${v.toString(16)}` : String(v), value: v };
  }
  if (rng.chance(0.15)) {
    const inner = randomExpr(rng, depth - 1);
    return {
      text: `~(${inner.text})`,
      value: inner.value === undefined ? undefined : U64_MAX ^ inner.value,
    };
  }
  const ops = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^"] as const;
  const op = rng.pick(ops);
  const a = randomExpr(rng, depth - 1), b = randomExpr(rng, depth - 1);
  const value = a.value !== undefined && b.value !== undefined
    ? exactU64(op, a.value, b.value)
    : undefined;
  return { text: `(${a.text} ${op} ${b.text})`, value };
}

Deno.test("expressions: random expressions evaluate exactly, fail where they leave 64 bits, and round-trip through scn fmt (seeded)", () => {
  const rng = new Prng(20261207);
  for (let i = 0; i < 300; i++) {
    const { text, value } = randomExpr(rng, 4);
    const line = value === undefined ? `let $x = ${text}\n` : `expect ${text} == ${value}\n`;
    const formatted = formatText(HEAD + line);
    assert.equal(formatText(formatted), formatted, `fmt is not idempotent on ${text}`);
    if (value === undefined) {
      assert.throws(() => run(line), ScnError, text);
    } else {
      assert.equal(run(line).status, "pass", text);
      assert.equal(run(formatted.slice(HEAD.length)).status, "pass", `formatted: ${text}`);
    }
  }
});
