import assert from "node:assert/strict";
import { posix } from "node:path";
import { format, formatText } from "./format.ts";
import { parse } from "./parse.ts";
import { check } from "./check/mod.ts";
import type { ScnFile } from "./ast.ts";
import { ScnError } from "../lib/core/diagnostic.ts";
import { PLATFORMS } from "../lib/api/platforms.ts";
import type { Loader } from "./check/context.ts";
import { buildPool, makeMutant, mutantRng } from "../tests/fuzz/mutate.ts";
import { loadCorpus } from "../tests/fuzz/main.ts";

/** The tree without locations; comments by their text. */
function shape(file: ScnFile): unknown {
  return {
    body: strip(file.body, NONE),
    comments: file.comments.map((c) => c.text.trimEnd()),
  };
}

const NONE = new Set<string>();
// In a checked program, table entries (platforms, command and register specs)
// are shared objects: compare them by identity rather than walking the model.
const TABLE_ENTRIES = new Set(["platform", "spec", "param", "field", "file"]);

/**
 * Drops locations and the quoted sources; expression texts without spacing.
 * Values under the keys in `identity` are compared as they are.
 */
function strip(x: unknown, identity: ReadonlySet<string>, key = ""): unknown {
  if (Array.isArray(x)) return x.map((v) => strip(v, identity));
  if (x === null || typeof x !== "object" || identity.has(key)) {
    // Expression texts are slices of the source: compare them without layout.
    return key === "text" && typeof x === "string" ? x.replace(/[\s()]/g, "") : x;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) {
    if (k !== "loc" && k !== "keyLoc" && k !== "sources" && v !== undefined) {
      out[k] = strip(v, identity, k);
    }
  }
  return out;
}

/** Asserts fmt(fmt(x)) == fmt(x) and that fmt(x) parses to the tree of x. */
function roundTrip(text: string, source = "t.scn"): string {
  const once = formatText(text, source);
  assert.equal(formatText(once, source), once, "formatting twice changes the text");
  assert.deepEqual(shape(parse(once, source)), shape(parse(text, source)));
  return once;
}

Deno.test("formatText() fixes spacing, one statement per line, and keeps the statement order", () => {
  const text = [
    'scenario   "spacing"',
    "vm g {  arch x86_64 vcpus 2 }",
    "vcpu0:lapic   enable ;vcpu0:  sti",
    "vmm:kvm irq_line gsi=14   level=1->$r",
    "expect $r==1",
    "",
  ].join("\n");
  assert.equal(
    roundTrip(text),
    [
      'scenario "spacing"',
      "vm g { arch x86_64 vcpus 2 }",
      "vcpu0: lapic enable",
      "vcpu0: sti",
      "vmm: kvm irq_line gsi=14 level=1 -> $r",
      "expect $r == 1",
      "",
    ].join("\n"),
  );
});

Deno.test("formatText() keeps numbers in the base and with the underscores the author wrote", () => {
  const out = roundTrip("let $a = 0x2A\nlet $b = 0b1010\nlet $c = 1_000\nrun 250ns\n");
  assert.equal(out, "let $a = 0x2A\nlet $b = 0b1010\nlet $c = 1_000\nrun 250ns\n");
});

Deno.test("formatText() keeps one blank line where the author had several, none just inside a block", () => {
  const text = "vcpu0: sti\n\n\n\nrepeat 2 {\n\n  run\n\n\n  run\n\n}\nrun\n";
  assert.equal(roundTrip(text), "vcpu0: sti\n\nrepeat 2 {\n  run\n\n  run\n}\nrun\n");
});

Deno.test("formatText() indents blocks by two spaces with '}' on its own line", () => {
  const text = "on vcpu0 vector 0x41 {\neoi\n    run }\nfor $i in 0..3 {\n" +
    "if $i == 1 {\nvcpu0: sti } else {\n vcpu0: cli\n}}\n";
  assert.equal(
    roundTrip(text),
    [
      "on vcpu0 vector 0x41 {",
      "  eoi",
      "  run",
      "}",
      "for $i in 0..3 {",
      "  if $i == 1 {",
      "    vcpu0: sti",
      "  } else {",
      "    vcpu0: cli",
      "  }",
      "}",
      "",
    ].join("\n"),
  );
});

Deno.test("formatText() keeps a one-statement block on one line when the author wrote it so", () => {
  const text = "on vcpu0 vector 0x41 {eoi}\non vcpu1 vector 0x42 {   }\nrepeat 2 { run }\n";
  assert.equal(
    roundTrip(text),
    "on vcpu0 vector 0x41 { eoi }\non vcpu1 vector 0x42 { }\nrepeat 2 { run }\n",
  );
});

Deno.test("formatText() keeps comments where they stand: alone, trailing, in blocks and word blocks", () => {
  const text = [
    "# header",
    'scenario "c"',
    "vm g {",
    "  arch x86_64   # the arch",
    "  # the count",
    "  vcpus 1",
    "}",
    "on vcpu0 vector 0x41 {    # handler",
    "  # first",
    "  eoi",
    "  # last",
    "}",
    "vcpu0: if bit test x {",
    "  sti",
    "  # end of then",
    "} else {",
    "  # start of else",
    "  cli",
    "}",
    "run # go",
    "# trailer",
    "",
  ].join("\n");
  assert.equal(
    roundTrip(text),
    [
      "# header",
      'scenario "c"',
      "vm g {",
      "  arch x86_64  # the arch",
      "  # the count",
      "  vcpus 1",
      "}",
      "on vcpu0 vector 0x41 {  # handler",
      "  # first",
      "  eoi",
      "  # last",
      "}",
      "vcpu0: if bit test x {",
      "  sti",
      "  # end of then",
      "} else {",
      "  # start of else",
      "  cli",
      "}",
      "run  # go",
      "# trailer",
      "",
    ].join("\n"),
  );
});

Deno.test("formatText() aligns the trailing comments of consecutive lines two spaces past the longest", () => {
  const text = "vcpu0: sti # a\nrun      # b\n\nvcpu0: lapic enable #c\n";
  assert.equal(
    roundTrip(text),
    "vcpu0: sti  # a\nrun         # b\n\nvcpu0: lapic enable  #c\n",
  );
});

Deno.test("formatText() keeps the line breaks of a word block and puts each of its lines alone", () => {
  const text = "vmm: kvm set_gsi_routing { gsi=5 irqchip=ioapic pin=6\n" +
    "   gsi=6   irqchip=ioapic pin=7 } -> $r\nvm g { arch x86_64  hypervisor xen {guest 32} }\n";
  assert.equal(
    roundTrip(text),
    [
      "vmm: kvm set_gsi_routing {",
      "  gsi=5 irqchip=ioapic pin=6",
      "  gsi=6  irqchip=ioapic pin=7",
      "} -> $r",
      "vm g { arch x86_64  hypervisor xen { guest 32 } }",
      "",
    ].join("\n"),
  );
});

Deno.test("formatText() writes parentheses only where the tree needs them", () => {
  const text = "expect ((a == 1) and (b or c)) or (d and e)\n" +
    "expect not (a and b)\nexpect a or (b or c)\nexpect (a or b) or c\n";
  assert.equal(
    roundTrip(text),
    "expect a == 1 and (b or c) or d and e\nexpect not (a and b)\nexpect a or (b or c)\n" +
      "expect a or b or c\n",
  );
});

Deno.test("formatText() writes took counts as words, an order as a list, and strings escaped", () => {
  const text = "expect vcpu0 took 0x41 1 times\nexpect vcpu0 took 0x41, 0x42 twice\n" +
    "expect vcpu0 took 0x41 in order\nexpect vcpu0 took 3 0x3 times\n" +
    'scenario "a \\"quoted\\"\\ttab \\\\ back"\n';
  assert.equal(
    roundTrip(text),
    "expect vcpu0 took 0x41 once\nexpect vcpu0 took [0x41, 0x42] twice\n" +
      "expect vcpu0 took [0x41] in order\nexpect vcpu0 took 3 0x3 times\n" +
      'scenario "a \\"quoted\\"\\ttab \\\\ back"\n',
  );
});

Deno.test("formatText() joins continuation lines and drops semicolons", () => {
  assert.equal(
    roundTrip("vcpu0: write \\\n  ioapic.redtbl[2] vector=0x30;;run\n"),
    [
      "vcpu0: write ioapic.redtbl[2] vector=0x30",
      "run",
      "",
    ].join("\n"),
  );
});

Deno.test("formatText() throws a located syntax error for text that does not parse", () => {
  assert.throws(
    () => formatText('scenario "x"\nexpect vcpu0 took\n', "bad.scn"),
    (e: unknown) => {
      assert.ok(e instanceof ScnError);
      const d = e.diagnostics[0];
      assert.equal(d.kind, "syntax");
      assert.equal(d.loc.source, "bad.scn");
      assert.deepEqual([d.loc.start.line, d.loc.start.column], [2, 18]);
      return true;
    },
  );
});

Deno.test("format() prints an edited tree whose locations still point into the text", () => {
  const text = "# about a\nvcpu0: sti  # a\n\nrun\nexpect x == 1\n";
  const file = parse(text, "t.scn");
  // Drop the first statement and its comments, as `scn minimize` does.
  const edited = { ...file, body: file.body.slice(1), comments: [] };
  assert.equal(format(edited, text), "run\nexpect x == 1\n");
});

Deno.test("formatText() keeps words the author wrote together together, where spacing would change the parse", () => {
  // A command's block of one bare word reads as a set argument after a space.
  assert.equal(
    roundTrip("vcpu0: xen sched_poll ports{20} -> $r\n"),
    "vcpu0: xen sched_poll ports{ 20 } -> $r\n",
  );
  // In a word block, `v[1]cpu1` is two words; spaced out the block reads as a handler.
  const text = "on vcpu1 vector 0xf3 {\n  bit clear v[1]cpu1.info.x\n}\n";
  assert.equal(roundTrip(text), text);
  // `device :x` is an actor named `device`, not a device.
  assert.equal(roundTrip("device :rtc pulse gsi=8\n"), "device: rtc pulse gsi=8\n");
});

Deno.test("formatText() prints a chain of 20000 'or's without running out of stack", () => {
  const text = `expect ${Array(20_000).fill("0").join(" or ")}\n`;
  assert.equal(formatText(text, "t.scn"), text);
});

// ---- the whole library --------------------------------------------------------------

function scnFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = posix.join(dir, e.name);
    if (e.isDirectory) out.push(...scnFiles(path));
    else if (e.name.endsWith(".scn")) out.push(path);
  }
  return out;
}

const load: Loader = (path, from) => {
  const name = posix.normalize(posix.join(posix.dirname(from), path));
  try {
    return { name, text: Deno.readTextFileSync(name) };
  } catch {
    return undefined;
  }
};

Deno.test("formatText() round-trips every .scn of the library, fragments too: same tree, same program, idempotent", () => {
  const root = new URL("../scenarios", import.meta.url).pathname;
  const files = scnFiles(root);
  assert.ok(files.length > 100, `only ${files.length} scenario files found`);
  let programs = 0;
  for (const path of files) {
    const text = Deno.readTextFileSync(path);
    const once = roundTrip(text, path);
    if (posix.basename(path).startsWith("_")) continue;
    const before = check(parse(text, path), { platforms: PLATFORMS, load, text });
    const after = check(parse(once, path), { platforms: PLATFORMS, load, text: once });
    assert.deepEqual(
      strip(after, TABLE_ENTRIES),
      strip(before, TABLE_ENTRIES),
      `${path}: the checked program differs`,
    );
    programs++;
  }
  assert.ok(programs > 100);
});

Deno.test("formatText() round-trips 600 seeded mutants of the library (those that parse)", () => {
  const corpus = loadCorpus(new URL("../scenarios", import.meta.url).pathname);
  const pool = buildPool(corpus.map((c) => c.text));
  let parsed = 0;
  for (let i = 0; i < 600; i++) {
    const m = makeMutant(corpus, pool, mutantRng(20261122, i));
    try {
      parse(m.text, "m.scn");
    } catch {
      continue;
    }
    parsed++;
    try {
      roundTrip(m.text, "m.scn");
    } catch (e) {
      throw new Error(`mutant ${i} of ${m.base} (${m.ops.join(", ")}): ${e}`);
    }
  }
  assert.ok(parsed > 200, `only ${parsed} mutants parsed`);
});
