import assert from "node:assert/strict";
import { collectMetadata, LANGUAGE_VERSION } from "./metadata.ts";
import { parse } from "../parse.ts";
import { check } from "./mod.ts";
import { type Diagnostic, formatDiagnostic, ScnError } from "../../lib/core/diagnostic.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";

function metaError(text: string, fragment = false): Diagnostic {
  const file = parse(text, "m.scn");
  let err: unknown;
  try {
    collectMetadata(file.body, fragment, file.loc);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, "expected a ScnError");
  return err.diagnostics[0];
}

const show = (d: Diagnostic, text: string) => formatDiagnostic(d, () => text);

Deno.test("collectMetadata() reads title, tags, links, expect failure and version", () => {
  const text = [
    "irqlab 1",
    'scenario "EOI clears remote IRR"',
    "tags x86, ioapic",
    "tags X86-15",
    'link "https://a.example/1"',
    'link "https://a.example/2"',
    'expect failure "KVM bug": 1 == 2',
    "",
  ].join("\n");
  const file = parse(text, "m.scn");
  const m = collectMetadata(file.body, false, file.loc);
  assert.equal(m.title, "EOI clears remote IRR");
  assert.deepEqual(m.titleLoc?.start, { offset: 9, line: 2, column: 1 });
  assert.deepEqual(m.tags, ["x86", "ioapic", "X86-15"]);
  assert.deepEqual(m.links, ["https://a.example/1", "https://a.example/2"]);
  assert.equal(m.expectFailure?.reason, "KVM bug");
  assert.equal(m.expectFailure?.loc.start.line, 7);
  assert.equal(m.version, 1);
});

Deno.test("collectMetadata() gives empty metadata for a fragment without a title", () => {
  const m = collectMetadata(parse("vcpu0: nop\n").body, true);
  assert.deepEqual(m, {
    title: "",
    titleLoc: null,
    tags: [],
    links: [],
    expectFailure: null,
    version: null,
  });
});

Deno.test("a missing title is an error at the start of the file with a hint", async (t) => {
  const text = "\nvm g { arch x86_64 }\n";
  const d = metaError(text);
  assert.equal(d.kind, "check");
  assert.equal(d.message, "missing the scenario's title");
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [1, 1]);
  assert.deepEqual(d.loc.start, d.loc.end);
  assert.equal(
    d.hint,
    'start the file with a line like: scenario "EOI of a level vector clears remote IRR"',
  );
  await t.assertSnapshot(show(d, text));
});

Deno.test("a second title is an error with the first one as a related location", async (t) => {
  const text = 'scenario "one"\nvcpu0: nop\nscenario "two"\n';
  const d = metaError(text);
  assert.equal(d.message, "a file holds one scenario; this is a second title");
  assert.equal(d.loc.start.line, 3);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line, r.loc.start.column]), [
    ["the first title is here", 1, 1],
  ]);
  await t.assertSnapshot(show(d, text));
});

Deno.test("a duplicate tag is an error at the second, pointing at the first", async (t) => {
  const text = 'scenario "t"\ntags x86, msi\ntags ioapic, msi\n';
  const d = metaError(text);
  assert.equal(d.message, "tag 'msi' given twice");
  assert.deepEqual([d.loc.start.line, d.loc.start.column, d.loc.end.column], [3, 14, 17]);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line, r.loc.start.column]), [
    ["first here", 2, 11],
  ]);
  await t.assertSnapshot(show(d, text));
});

Deno.test("a duplicate tag on one line is an error too", () => {
  const d = metaError('scenario "t"\ntags a, a\n');
  assert.equal(d.message, "tag 'a' given twice");
  assert.deepEqual([d.loc.start.column, d.related?.[0].loc.start.column], [9, 6]);
});

Deno.test("a second 'expect failure' is an error pointing at the first", () => {
  const d = metaError(
    'scenario "t"\nexpect failure "a": 1 == 2\nrepeat 2 {\n  expect failure "b": 1 == 3\n}\n',
  );
  assert.equal(d.message, "a second expectation marked 'expect failure'");
  assert.equal(d.loc.start.line, 4);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line]), [[
    "the first is here",
    2,
  ]]);
});

Deno.test("a bare 'expect failure' is refused: it must name the expectation that fails", () => {
  const d = metaError('scenario "t"\nexpect failure "a"\n');
  assert.equal(d.message, "'expect failure' must name the expectation that is known to fail");
  assert.equal(
    d.hint,
    'write it in place of that expectation: expect failure "a": vcpu0 took 0x41 once',
  );
  assert.equal(d.loc.start.line, 2);
});

Deno.test("a known-race scenario must mark the expectation the race breaks", () => {
  const d = metaError('scenario "t"\ntags x86, known-race\n');
  assert.equal(d.message, "a known-race scenario marks the expectation the race breaks");
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [2, 11]);
  const m = collectMetadata(
    parse('scenario "t"\ntags known-race\nexpect failure "r": 1 == 1\n').body,
    false,
  );
  assert.deepEqual([m.expectFailure?.reason, m.expectFailure?.race], ["r", true]);
});

Deno.test("version header 'irqlab 2' is a 'version' error naming both versions", async (t) => {
  assert.equal(LANGUAGE_VERSION, 1);
  const text = 'irqlab 2\nscenario "from the future"\n';
  const d = metaError(text);
  assert.equal(d.kind, "version");
  assert.equal(
    d.message,
    "this scenario is written for irqlab language 2; this runner implements version 1",
  );
  assert.equal(d.hint, "update irqlab to run it");
  assert.deepEqual([d.loc.start.line, d.loc.start.column, d.loc.end.column], [1, 8, 9]);
  await t.assertSnapshot(show(d, text));
});

Deno.test("check() carries the metadata into the program", () => {
  const text =
    'scenario "t"\ntags a, b\nlink "u"\nvm g { arch x86_64 }\nexpect failure "why": 1 == 2\n';
  const p = check(parse(text, "m.scn"), { platforms: PLATFORMS, text });
  assert.equal(p.file, "m.scn");
  assert.equal(p.title, "t");
  assert.deepEqual(p.tags, ["a", "b"]);
  assert.deepEqual(p.links, ["u"]);
  assert.deepEqual(p.expectFailure?.reason, "why");
  assert.deepEqual(p.expectFailure?.loc.start.line, 5);
  assert.deepEqual(p.body.map((o) => o.op), ["expect"]);
});

Deno.test("metadata inside a block is an error", () => {
  const text = 'scenario "t"\nvm g { arch x86_64 }\non vcpu0 vector 0x41 { tags x }\n';
  assert.throws(
    () => check(parse(text, "m.scn"), { platforms: PLATFORMS, text }),
    (e: unknown) =>
      e instanceof ScnError &&
      e.diagnostics[0].message === "'tags' belongs at the top of the file, not in a block",
  );
});
