import assert from "node:assert/strict";
import { parse } from "./parse.ts";
import type { Condition, ScnFile, Statement, Value } from "./ast.ts";
import { formatDiagnostic, ScnError } from "../lib/core/diagnostic.ts";
import { plainLoc } from "../lib/core/loc.ts";

/** Drops every location so trees can be compared by shape. */
function shape<T>(x: T): T {
  if (Array.isArray(x)) return x.map(shape) as T;
  if (x !== null && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) {
      if (k !== "loc" && k !== "keyLoc" && v !== undefined) out[k] = shape(v);
    }
    return out as T;
  }
  return x;
}

function body(text: string): Statement[] {
  return shape(parse(text, "t.scn").body);
}

/** Compares shapes, so `x: undefined` in an expectation means "absent". */
function same(actual: unknown, expected: unknown): void {
  assert.deepEqual(shape(actual), shape(expected));
}

/** The value of `let $v = <text>`. */
function value(text: string): Value {
  const [s] = body(`let $v = ${text}\n`);
  assert.equal(s.kind, "let");
  return (s as Statement & { kind: "let" }).value;
}

/** The condition of `expect <text>`. */
function condition(text: string): Condition {
  const [s] = body(`expect ${text}\n`);
  assert.equal(s.kind, "expect");
  return (s as Statement & { kind: "expect" }).condition;
}

const num = (value: bigint, text: string) => ({ kind: "number", value, text });
const ident = (name: string) => ({ kind: "ident", name });
const v = (name: string) => ({ kind: "var", name });
const action = (actor: Record<string, unknown>, args: unknown[], extra = {}) => ({
  kind: "action",
  actor: { kind: "actor", ...actor },
  body: { kind: "do", command: { kind: "command", args, ...extra } },
});

/** Parses `text` expecting a syntax error; returns it and its formatted form. */
function syntaxError(text: string) {
  let err: unknown;
  try {
    parse(text, "bad.scn");
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, `expected a ScnError for ${JSON.stringify(text)}`);
  assert.equal(err.diagnostics.length, 1);
  const d = err.diagnostics[0];
  assert.equal(d.kind, "syntax");
  assert.equal(d.loc.source, "bad.scn");
  return { d, formatted: formatDiagnostic(d, (s) => (s === "bad.scn" ? text : undefined)) };
}

Deno.test("parse() accepts an empty file and a file of comments and blank lines", () => {
  same(body(""), []);
  same(body("\n\n# only a comment\n   \n;;\n"), []);
  const file: ScnFile = parse("", "empty.scn");
  assert.equal(file.kind, "file");
  assert.equal(file.loc.source, "empty.scn");
});

Deno.test("parse() reads the metadata statements", () => {
  const text = [
    "irqlab 1",
    'scenario "EOI clears \\"remote IRR\\""',
    "tags x86, ioapic ,X86-15, a.b_c",
    'link "https://example.org/x"',
    'links "https://example.org/y"',
    'expect failure "KVM bug 123"',
    "",
  ].join("\n");
  same(body(text), [
    { kind: "version", version: num(1n, "1") },
    { kind: "scenario", title: { kind: "string", value: 'EOI clears "remote IRR"' } },
    {
      kind: "tags",
      tags: [{ name: "x86" }, { name: "ioapic" }, { name: "X86-15" }, { name: "a.b_c" }],
    },
    { kind: "link", url: { kind: "string", value: "https://example.org/x" } },
    { kind: "link", url: { kind: "string", value: "https://example.org/y" } },
    { kind: "expect_failure", reason: { kind: "string", value: "KVM bug 123" } },
  ]);
});

Deno.test("parse() reads a vm block as words, name=value pairs and nested blocks", () => {
  const text =
    "vm guest {\n  arch x86_64  vcpus 2\n  lowest_priority=kvm-vector-hashing\n  gic v3 { its }\n}\n";
  same(body(text), [{
    kind: "vm",
    name: ident("guest"),
    body: {
      kind: "words",
      items: [
        ident("arch"),
        ident("x86_64"),
        ident("vcpus"),
        num(2n, "2"),
        { kind: "kv", key: "lowest_priority", value: ident("kvm-vector-hashing") },
        ident("gic"),
        ident("v3"),
        { kind: "words", items: [ident("its")] },
      ],
    },
  }]);
});

Deno.test("parse() reads number literals: decimal, hex, binary, with underscores", async (t) => {
  const cases: [string, bigint][] = [
    ["0", 0n],
    ["42", 42n],
    ["1_000", 1000n],
    ["0x2a", 42n],
    ["0X2A", 42n],
    ["0xffff_ffff", 0xffff_ffffn],
    ["0b101010", 42n],
    ["0B1_0", 2n],
    ["0xffff_ffff_ffff_ffff", 0xffff_ffff_ffff_ffffn],
    ["0x1_0000_0000_0000_0000", 1n << 64n],
  ];
  for (const [text, n] of cases) {
    await t.step(text, () => same(value(text), num(n, text)));
  }
});

Deno.test("parse() reads durations in ns, us, ms and s", async (t) => {
  const cases: [string, number][] = [
    ["250ns", 250],
    ["10us", 10_000],
    ["5ms", 5_000_000],
    ["1s", 1_000_000_000],
    ["1_500us", 1_500_000],
    ["0ms", 0],
  ];
  for (const [text, ns] of cases) {
    await t.step(text, () => same(value(text), { kind: "duration", ns, text }));
  }
  await t.step("a unit glued to more letters is not a duration", () => {
    assert.equal(syntaxError("let $v = 5msx\n").d.loc.start.column, 10);
  });
});

Deno.test("parse() reads sets, lists and ranges", () => {
  same(value("{0x31, 0x41}"), {
    kind: "set",
    items: [num(0x31n, "0x31"), num(0x41n, "0x41")],
  });
  same(value("{}"), { kind: "set", items: [] });
  same(value("{ 1, 2, }"), {
    kind: "set",
    items: [num(1n, "1"), num(2n, "2")],
  });
  same(value("[ ]"), { kind: "list", items: [] });
  same(value("[0x40, $x, 1..2]"), {
    kind: "list",
    items: [num(0x40n, "0x40"), v("x"), {
      kind: "range",
      from: num(1n, "1"),
      to: num(2n, "2"),
    }],
  });
  same(value("0..3"), { kind: "range", from: num(0n, "0"), to: num(3n, "3") });
  same(value("$lo..0x10"), {
    kind: "range",
    from: v("lo"),
    to: num(16n, "0x10"),
  });
});

Deno.test("parse() reads negative numbers, variables and constants", () => {
  same(value("-22"), { kind: "neg", operand: num(22n, "22") });
  same(value("-$r"), { kind: "neg", operand: v("r") });
  same(value("-EINVAL"), { kind: "neg", operand: ident("EINVAL") });
});

Deno.test("parse() reads strings with escapes", () => {
  const text = String.raw`"a\"b\\c\nd\te"`;
  same(value(text), { kind: "string", value: 'a"b\\c\nd\te' });
  same(value('""'), { kind: "string", value: "" });
});

Deno.test("parse() reads identifiers and paths with fields and indexes", () => {
  same(value("kvm-vector-hashing"), ident("kvm-vector-hashing"));
  same(value("vcpu0.lapic.isr"), {
    kind: "path",
    segments: [
      { kind: "field", name: "vcpu0" },
      { kind: "field", name: "lapic" },
      { kind: "field", name: "isr" },
    ],
  });
  same(value("ioapic.pin[ $p ].remote_irr"), {
    kind: "path",
    segments: [
      { kind: "field", name: "ioapic" },
      { kind: "field", name: "pin" },
      { kind: "index", index: v("p") },
      { kind: "field", name: "remote_irr" },
    ],
  });
  same(value("ioapic.redtbl[0xe]"), {
    kind: "path",
    segments: [
      { kind: "field", name: "ioapic" },
      { kind: "field", name: "redtbl" },
      { kind: "index", index: num(14n, "0xe") },
    ],
  });
});

Deno.test("parse() reads commands of every actor form, key=value words and '-> $x'", () => {
  const text = [
    "vcpu0: lapic enable spurious=0xff",
    "vmm: kvm irq_line gsi=14 level=1 -> $r",
    "device nic: assert gsi = 5",
    "device 3: pulse gsi=4",
    "guest.vcpu1: write lapic.tpr 0x50",
    "",
  ].join("\n");
  same(body(text), [
    action({ name: "vcpu0" }, [ident("lapic"), ident("enable"), {
      kind: "kv",
      key: "spurious",
      value: num(0xffn, "0xff"),
    }]),
    action(
      { name: "vmm" },
      [
        ident("kvm"),
        ident("irq_line"),
        { kind: "kv", key: "gsi", value: num(14n, "14") },
        { kind: "kv", key: "level", value: num(1n, "1") },
      ],
      { bind: v("r") },
    ),
    action({ name: "device", device: "nic" }, [ident("assert"), {
      kind: "kv",
      key: "gsi",
      value: num(5n, "5"),
    }]),
    action({ name: "device", device: "3" }, [ident("pulse"), {
      kind: "kv",
      key: "gsi",
      value: num(4n, "4"),
    }]),
    action({ name: "vcpu1", vm: "guest" }, [
      ident("write"),
      {
        kind: "path",
        segments: [{ kind: "field", name: "lapic" }, { kind: "field", name: "tpr" }],
      },
      num(0x50n, "0x50"),
    ]),
  ]);
});

Deno.test("parse() reads a command's block of entries", () => {
  const text = "vmm: kvm set_gsi_routing {\n  gsi=0 irqchip=ioapic pin=2\n  gsi=1 data=0x41\n}\n";
  same(body(text), [
    action({ name: "vmm" }, [ident("kvm"), ident("set_gsi_routing")], {
      block: {
        kind: "words",
        items: [
          { kind: "kv", key: "gsi", value: num(0n, "0") },
          { kind: "kv", key: "irqchip", value: ident("ioapic") },
          { kind: "kv", key: "pin", value: num(2n, "2") },
          { kind: "kv", key: "gsi", value: num(1n, "1") },
          { kind: "kv", key: "data", value: num(0x41n, "0x41") },
        ],
      },
    }),
  ]);
});

Deno.test("parse() reads a handler whose body is one bare word (regression: it was read as a set)", () => {
  const eoi = { kind: "do", command: { kind: "command", args: [ident("eoi")] } };
  const handler = (event: unknown[]) => ({
    kind: "handler",
    actor: { kind: "actor", name: "vcpu0" },
    event,
    body: [eoi],
  });
  same(body("on vcpu0 vector 0x41 { eoi }\n"), [
    handler([ident("vector"), num(0x41n, "0x41")]),
  ]);
  same(body("on vcpu0 vector 0x41 {\n  eoi\n}"), [
    handler([ident("vector"), num(0x41n, "0x41")]),
  ]);
  same(body("on vcpu0 vector {0x41, 0x42} { eoi }"), [
    handler([ident("vector"), { kind: "set", items: [num(0x41n, "0x41"), num(0x42n, "0x42")] }]),
  ]);
  same(body("on vcpu0 nmi { eoi } # done\n"), [handler([ident("nmi")])]);
  same(body("on vcpu0 vector 0x30..0x3f { nop; eoi }\n")[0], {
    ...handler([ident("vector"), {
      kind: "range",
      from: num(0x30n, "0x30"),
      to: num(0x3fn, "0x3f"),
    }]),
    body: [
      { kind: "do", command: { kind: "command", args: [ident("nop")] } },
      eoi,
    ],
  });
});

Deno.test("parse() reads run with and without a duration", () => {
  same(body("run\nrun 5ms\nrun $d # later\n"), [
    { kind: "run", duration: undefined },
    { kind: "run", duration: { kind: "duration", ns: 5_000_000, text: "5ms" } },
    { kind: "run", duration: v("d") },
  ]);
  // Words after the duration make it a command, which the checker then rejects.
  same(body("run 5ms now\n"), [{
    kind: "do",
    command: {
      kind: "command",
      args: [ident("run"), { kind: "duration", ns: 5_000_000, text: "5ms" }, ident("now")],
    },
  }]);
});

Deno.test("parse() reads every comparison operator", async (t) => {
  for (const op of ["==", "!=", "<", "<=", ">", ">="]) {
    await t.step(op, () => {
      same(condition(`$a ${op} 1`), {
        kind: "compare",
        op,
        left: { kind: "value", value: v("a") },
        right: { kind: "value", value: num(1n, "1") },
      });
    });
  }
  await t.step("'<' is a string, not a sequence (regression)", () => {
    const c = condition("$a<1");
    assert.equal(c.kind === "compare" && c.op, "<");
  });
});

Deno.test("parse() reads truthy values, queries and sets as operands", () => {
  same(condition("$ok"), { kind: "truthy", operand: { kind: "value", value: v("ok") } });
  same(condition("vcpu0.lapic.isr == {0x41}"), {
    kind: "compare",
    op: "==",
    left: {
      kind: "value",
      value: {
        kind: "path",
        segments: [
          { kind: "field", name: "vcpu0" },
          { kind: "field", name: "lapic" },
          { kind: "field", name: "isr" },
        ],
      },
    },
    right: { kind: "value", value: { kind: "set", items: [num(0x41n, "0x41")] } },
  });
  same(condition("in 0x21 == 0xff"), {
    kind: "compare",
    op: "==",
    left: { kind: "query", args: [ident("in"), num(0x21n, "0x21")] },
    right: { kind: "value", value: num(0xffn, "0xff") },
  });
});

Deno.test("parse() reads every form of 'took'", async (t) => {
  const actor = { kind: "actor", name: "vcpu0" };
  const took = (spec: Record<string, unknown>) => ({ kind: "took", actor, spec });
  const one = (n: bigint, text: string) => ({ value: num(n, text) });
  const cases: [string, Record<string, unknown>][] = [
    ["nothing", { nothing: true, values: [], inOrder: false }],
    ["0x41", { nothing: false, values: [num(0x41n, "0x41")], count: undefined, inOrder: false }],
    ["0x41 once", {
      nothing: false,
      values: [num(0x41n, "0x41")],
      count: one(1n, "1"),
      inOrder: false,
    }],
    ["0x41 twice", {
      nothing: false,
      values: [num(0x41n, "0x41")],
      count: one(2n, "2"),
      inOrder: false,
    }],
    ["0x41 3 times", {
      nothing: false,
      values: [num(0x41n, "0x41")],
      count: one(3n, "3"),
      inOrder: false,
    }],
    ["0x41, 0x42 $n times", {
      nothing: false,
      values: [num(0x41n, "0x41"), num(0x42n, "0x42")],
      count: { value: v("n") },
      inOrder: false,
    }],
    ["[0x40, 0x30] in order", {
      nothing: false,
      values: [num(0x40n, "0x40"), num(0x30n, "0x30")],
      count: undefined,
      inOrder: true,
    }],
    ["0x40, 0x30 once in order", {
      nothing: false,
      values: [num(0x40n, "0x40"), num(0x30n, "0x30")],
      count: one(1n, "1"),
      inOrder: true,
    }],
  ];
  for (const [text, spec] of cases) {
    await t.step(text, () => same(condition(`vcpu0 took ${text}`), took(spec)));
  }
});

Deno.test("parse() gives 'not' over 'and' over 'or', and parentheses group", () => {
  const t = (name: string) => ({ kind: "truthy", operand: { kind: "value", value: v(name) } });
  same(condition("not $a and $b or $c"), {
    kind: "or",
    left: { kind: "and", left: { kind: "not", operand: t("a") }, right: t("b") },
    right: t("c"),
  });
  same(condition("$a and ($b or $c)"), {
    kind: "and",
    left: t("a"),
    right: { kind: "or", left: t("b"), right: t("c") },
  });
  same(condition("$a or $b or $c"), {
    kind: "or",
    left: { kind: "or", left: t("a"), right: t("b") },
    right: t("c"),
  });
});

Deno.test("parse() reads if/else, repeat, for, parallel, let, include and always", () => {
  const nop = { kind: "do", command: { kind: "command", args: [ident("nop")] } };
  const text = [
    "vcpu0: if $x == 0 { nop }",
    "if $x {",
    "  vcpu0: nop",
    "}",
    "else { vcpu0: nop }",
    "repeat 3 { vcpu0: nop }",
    "for $p in 0..2 { vcpu0: nop }",
    "parallel {",
    "  vcpu0: nop",
    "  vcpu1: nop",
    "}",
    'include "_common.scn"',
    "always vcpu0.lapic.ppr <= 0x40",
    "",
  ].join("\n");
  const vnop = (n: string) => action({ name: n }, [ident("nop")]);
  same(body(text), [
    {
      kind: "action",
      actor: { kind: "actor", name: "vcpu0" },
      body: {
        kind: "if",
        condition: {
          kind: "compare",
          op: "==",
          left: { kind: "value", value: v("x") },
          right: { kind: "value", value: num(0n, "0") },
        },
        then: [nop],
        else: undefined,
      },
    },
    {
      kind: "if",
      condition: { kind: "truthy", operand: { kind: "value", value: v("x") } },
      then: [vnop("vcpu0")],
      else: [vnop("vcpu0")],
    },
    { kind: "repeat", count: num(3n, "3"), body: [vnop("vcpu0")] },
    {
      kind: "for",
      name: v("p"),
      iterable: { kind: "range", from: num(0n, "0"), to: num(2n, "2") },
      body: [vnop("vcpu0")],
    },
    { kind: "parallel", body: [vnop("vcpu0"), vnop("vcpu1")] },
    { kind: "include", path: { kind: "string", value: "_common.scn" } },
    {
      kind: "always",
      condition: {
        kind: "compare",
        op: "<=",
        left: {
          kind: "value",
          value: {
            kind: "path",
            segments: [
              { kind: "field", name: "vcpu0" },
              { kind: "field", name: "lapic" },
              { kind: "field", name: "ppr" },
            ],
          },
        },
        right: { kind: "value", value: num(0x40n, "0x40") },
      },
    },
  ]);
});

Deno.test("parse() separates statements by newlines, ';' and '}' and skips comments", () => {
  const nop = (n: string) => action({ name: n }, [ident("nop")]);
  same(body("vcpu0: nop; vcpu1: nop # trailing\n# whole line\r\nvcpu2: nop\rvcpu3: nop"), [
    nop("vcpu0"),
    nop("vcpu1"),
    nop("vcpu2"),
    nop("vcpu3"),
  ]);
  same(body("repeat 2 { vcpu0: nop; vcpu1: nop }"), [
    { kind: "repeat", count: num(2n, "2"), body: [nop("vcpu0"), nop("vcpu1")] },
  ]);
});

Deno.test("parse() joins a line ending in a backslash with the next", () => {
  same(body("vmm: kvm irq_line \\\n    gsi=14 \\\n    level=1\n"), [
    action({ name: "vmm" }, [
      ident("kvm"),
      ident("irq_line"),
      { kind: "kv", key: "gsi", value: num(14n, "14") },
      { kind: "kv", key: "level", value: num(1n, "1") },
    ]),
  ]);
});

Deno.test("parse() locates statements and words by source, line and column", () => {
  const file = parse('scenario "x"\n\n  vcpu0: ipi vector=0x41\n', "loc.scn");
  const s = file.body[1] as Statement & { kind: "action" };
  // Its plain form: the parser's locations find their lines when asked.
  assert.deepEqual(plainLoc(s.loc), {
    source: "loc.scn",
    start: { offset: 16, line: 3, column: 3 },
    end: { offset: 38, line: 3, column: 25 },
  });
  const cmd = (s.body as Statement & { kind: "do" }).command;
  const kv = cmd.args[1];
  assert.equal(kv.kind, "kv");
  if (kv.kind !== "kv") return;
  assert.deepEqual([kv.keyLoc.start.line, kv.keyLoc.start.column], [3, 14]);
  assert.deepEqual([kv.value.loc.start.column, kv.value.loc.end.column], [21, 25]);
});

Deno.test("parse() reports the line and column of an unclosed block", async (t) => {
  const { d, formatted } = syntaxError('scenario "x"\nrepeat 2 {\n  vcpu0: nop\n');
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [4, 1]);
  assert.match(d.message, /^unexpected end of file; expected /);
  await t.assertSnapshot(formatted);
});

Deno.test("parse() reports syntax errors with file:line:col, the line and a caret", async (t) => {
  const cases: [string, string, [number, number]][] = [
    ["unterminated string", 'scenario "x\nvm g { arch x86_64 }\n', [1, 10]],
    ["missing value after '='", "vcpu0: ipi vector=\n", [1, 19]],
    ["stray closing brace", "vcpu0: nop\n}\n", [2, 1]],
    ["hex prefix without digits", "let $v = 0x\n", [1, 10]],
    ["decimal point", "run 1.5ms\n", [1, 6]],
    ["unknown escape in a string", 'scenario "a\\qb"\n', [1, 12]],
    ["comparison without a right side", "expect $a ==\n", [1, 13]],
    ["tab-indented error", "repeat 2 {\n\tvcpu0: nop )\n}\n", [2, 13]],
  ];
  for (const [name, text, [line, column]] of cases) {
    await t.step(name, async (t) => {
      const { d, formatted } = syntaxError(text);
      assert.deepEqual([d.loc.start.line, d.loc.start.column], [line, column]);
      assert.ok(formatted.startsWith(`bad.scn:${line}:${column}: error: `), formatted);
      await t.assertSnapshot(formatted);
    });
  }
});

Deno.test("parse() names what it found and lists at most six expectations", () => {
  const { d } = syntaxError("vcpu0: nop nop2 )\n");
  assert.ok(d.message.startsWith('unexpected ")"; expected '), d.message);
  const listed = d.message.slice(d.message.indexOf("expected ") + 9).split(", ");
  assert.ok(listed.length <= 7, d.message);
  assert.ok(!listed.includes('"space"') && !listed.includes("space"), d.message);
});
