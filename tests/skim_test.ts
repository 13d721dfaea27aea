// Skimming (dsl/parse.ts `skim`) and checking without a timeline (`checkOnly`)
// exist so that a long scenario's syntax trees and timeline are never held
// whole. Neither may change what a check finds: these hold them to parsing
// whole and checking in full, over the library and mutants of it.
import assert from "node:assert/strict";
import { collectFiles } from "../lib/load/files.ts";
import { checkSource, type Loaded, readTarget } from "../lib/load/load.ts";
import { parse, skim, unskim } from "../dsl/parse.ts";
import type { Statement } from "../dsl/ast.ts";
import { formatDiagnostic, ScnError } from "../lib/core/diagnostic.ts";
import { check } from "../dsl/check/mod.ts";
import { PLATFORMS } from "../lib/api/platforms.ts";

const { files } = collectFiles(["scenarios"]);

function unskimmed(text: string, name: string): Statement[] {
  return skim(text, name).body.flatMap((s) => s.kind === "skimmed" ? unskim(s) : [s]);
}

Deno.test("a skimmed file parsed again gives the trees of a whole parse, for every library scenario", () => {
  assert.ok(files.length > 100);
  let skimmed = 0;
  for (const f of files) {
    const text = Deno.readTextFileSync(f);
    const whole = parse(text, f);
    const file = skim(text, f);
    skimmed += file.body.filter((s) => s.kind === "skimmed").length;
    assert.deepEqual(file.comments, [], f);
    assert.deepEqual(file.loc, whole.loc, f);
    assert.deepEqual(unskimmed(text, f), whole.body, f);
  }
  // Most scenarios have runs of actions: the comparison above covers them.
  assert.ok(skimmed > files.length, `only ${skimmed} skimmed runs`);
});

Deno.test("a skimmed run holds at most 4096 statements, and long runs come back whole", () => {
  const text = 'scenario "n"\nvm g { arch x86_64 }\n' + "vcpu0: nop\n".repeat(10_000) + "run\n";
  const file = skim(text, "n.scn");
  assert.deepEqual(file.body.map((s) => s.kind === "skimmed" ? s.count : s.kind), [
    "scenario",
    "vm",
    4096,
    4096,
    1809,
  ]);
  assert.deepEqual(unskimmed(text, "n.scn"), parse(text, "n.scn").body);
});

Deno.test("skimming reports a syntax error as a whole parse does", () => {
  for (
    const text of [
      'scenario "x"\nvcpu0: nop\nvcpu0: ipi vector=\n',
      'scenario "x"\nvcpu0: nop\nvcpu0: nop\n}\n',
      'scenario "x\n',
      "vcpu0: nop\n".repeat(5) + "run 1.5ms\n",
    ]
  ) {
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof ScnError);
        return formatDiagnostic(e.diagnostics[0], () => text);
      }
      assert.fail("parsed");
    };
    assert.equal(message(() => skim(text, "bad.scn")), message(() => parse(text, "bad.scn")));
  }
});

function report(l: Loaded): string {
  if (l.kind === "program") return "program";
  const o = l.outcome;
  if (o.kind !== "input-error") return o.kind;
  return o.diagnostics.map((d) => formatDiagnostic(d, (s) => o.sources.get(s))).join("\n");
}

// Typical mistakes, so that most mutants fail somewhere in their timeline.
const MUTATIONS: [RegExp, string][] = [
  [/\bnop\b/g, "nopp"],
  [/\bvcpu0\b/g, "vcpu7"],
  [/0x41\b/g, "0x141"],
  [/\beoi\b/g, "eio"],
  [/\bgsi=/g, "gsi=9999 x="],
];

Deno.test("a skimmed run records the variables it binds, for handlers that read them earlier", () => {
  const text = 'scenario "s"\nvm g { arch x86_64 }\n' +
    "on vcpu0 vector 0x41 { vcpu0: ipi vector=$v; vcpu0: eoi }\n" +
    "vcpu0: nop\nlet $v = 0x42\nrepeat 2 { vcpu0: inta -> $w }\nfor $i in 1..2 { run }\n";
  const runs = skim(text, "s.scn").body.filter((s) => s.kind === "skimmed");
  assert.deepEqual(runs.map((r) => r.binds), [["v", "w", "i"]]);
  const program = checked(text, skim);
  assert.ok(typeof program !== "string", String(program));
  assert.deepEqual(program, checked(text, parse));
});

// A skimmed file's long runs of statements lower to timelines
// (dsl/timeline.ts): compared here as the ops they stand for.
function checked(text: string, how: typeof parse | typeof skim): unknown {
  try {
    const p = check(how(text, "s.scn"), { platforms: PLATFORMS, text });
    return {
      ...p,
      body: p.body.flatMap((op) => op.op === "timeline" ? [...op.timeline.ops()] : op),
    };
  } catch (e) {
    if (!(e instanceof ScnError)) throw e;
    return e.diagnostics.map((d) => formatDiagnostic(d, () => text)).join("\n");
  }
}

Deno.test("checking only finds what a full check finds, over the library and its mutants", () => {
  let errors = 0;
  for (const f of files) {
    const read = readTarget(f);
    if ("outcome" in read) assert.fail(`${f} cannot be read`);
    for (const source of read.sources) {
      const texts = [source.text, ...MUTATIONS.map(([re, to]) => source.text.replace(re, to))];
      for (const text of new Set(texts)) {
        const s = { ...source, text, quote: text };
        const full = checkSource(s);
        const only = checkSource(s, { checkOnly: true });
        // Skimmed or parsed whole: the same program, or the same errors.
        if (!s.text.includes("include")) {
          assert.deepEqual(checked(s.text, skim), checked(s.text, parse), f);
        }
        assert.equal(report(only), report(full), f);
        if (only.kind === "program" && full.kind === "program") {
          assert.equal(only.program.body.length, 0);
          assert.deepEqual({ ...only.program, body: full.program.body }, full.program, f);
        }
        if (full.kind === "error") errors++;
      }
    }
  }
  assert.ok(errors > files.length, `only ${errors} mutants had errors`);
});
