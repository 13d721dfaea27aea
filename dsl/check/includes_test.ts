import assert from "node:assert/strict";
import { posix } from "node:path";
import { expandIncludes, MAX_INCLUDE_DEPTH } from "./includes.ts";
import { check, type Loader } from "./mod.ts";
import type { CheckContext } from "./context.ts";
import { parse } from "../parse.ts";
import { type Diagnostic, formatDiagnostic, ScnError } from "../../lib/core/diagnostic.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";
import { fileLoader } from "../../lib/load/files.ts";

/** A loader over in-memory files, resolving like the real one. */
function memoryLoader(files: Record<string, string>): Loader {
  return (path, from) => {
    const name = posix.normalize(posix.join(posix.dirname(from), path));
    return name in files ? { name, text: files[name] } : undefined;
  };
}

function ctxOf(files: Record<string, string>): CheckContext {
  return { sources: new Map(), load: memoryLoader(files) };
}

function includeError(files: Record<string, string>, main: string): Diagnostic {
  const text = files[main];
  let err: unknown;
  try {
    check(parse(text, main), { platforms: PLATFORMS, load: memoryLoader(files), text });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, "expected a ScnError");
  assert.equal(err.diagnostics.length, 1);
  return err.diagnostics[0];
}

const VM = "vm g { arch x86_64 }\n";

Deno.test("expandIncludes() splices an included file's statements in place and records its text", () => {
  const files = { "dir/_b.scn": "vcpu0: nop\nvcpu0: sti\n" };
  const ctx = ctxOf(files);
  const body = parse('run\ninclude "_b.scn"\nrun\n', "dir/a.scn").body;
  const out = expandIncludes(body, "dir/a.scn", ctx);
  assert.deepEqual(out.map((s) => s.kind), ["run", "action", "action", "run"]);
  assert.equal(out[1].loc.source, "dir/_b.scn");
  assert.equal(out[1].loc.start.line, 1);
  assert.equal(out[2].loc.start.line, 2);
  assert.deepEqual([...ctx.sources], [["dir/_b.scn", "vcpu0: nop\nvcpu0: sti\n"]]);
});

Deno.test("expandIncludes() expands includes nested in blocks, actions and both arms of if", () => {
  const ctx = ctxOf({ "_n.scn": "vcpu0: nop\n" });
  const text = [
    'repeat 2 { include "_n.scn" }',
    'for $i in 0..1 { include "_n.scn" }',
    'parallel { include "_n.scn" }',
    'on vcpu0 vector 0x41 { include "_n.scn" }',
    'if 1 { include "_n.scn" } else { include "_n.scn" }',
    "",
  ].join("\n");
  const out = expandIncludes(parse(text, "m.scn").body, "m.scn", ctx);
  const kinds = (xs: { kind: string }[]) => xs.map((s) => s.kind);
  for (const s of out.slice(0, 4)) {
    assert.ok("body" in s && Array.isArray(s.body));
    assert.deepEqual(kinds(s.body as { kind: string }[]), ["action"]);
  }
  const iff = out[4];
  assert.equal(iff.kind, "if");
  if (iff.kind !== "if") return;
  assert.deepEqual(kinds(iff.then), ["action"]);
  assert.deepEqual(kinds(iff.else ?? []), ["action"]);
});

Deno.test("check() runs a scenario assembled from fragments on disk", () => {
  const file = "tests/fixtures/include/main.scn";
  const text = Deno.readTextFileSync(file);
  const program = check(parse(text, file), { platforms: PLATFORMS, load: fileLoader, text });
  assert.equal(program.title, "a scenario built from fragments");
  assert.deepEqual(program.vms.map((v) => v.name), ["guest"]);
  assert.deepEqual(program.body.map((o) => o.op), ["do", "do", "do", "run", "expect"]);
  assert.deepEqual([...program.sources.keys()].sort(), [
    "tests/fixtures/include/_enable.scn",
    "tests/fixtures/include/_vm.scn",
    file,
  ]);
});

Deno.test("an include cycle is an error at the include that closes it, with a note for each step", async (t) => {
  const files = {
    "s/main.scn": `scenario "c"\n${VM}include "_a.scn"\n`,
    "s/_a.scn": '# a\ninclude "_b.scn"\n',
    "s/_b.scn": 'include "_a.scn"\n',
  };
  const d = includeError(files, "s/main.scn");
  assert.equal(d.kind, "include");
  assert.equal(d.message, "include cycle: 's/_a.scn' includes itself");
  assert.deepEqual([d.loc.source, d.loc.start.line, d.loc.start.column], ["s/_b.scn", 1, 9]);
  assert.deepEqual(
    (d.related ?? []).map((r) => [r.loc.source, r.loc.start.line, r.message]),
    [
      ["s/main.scn", 3, "'s/_a.scn' is included here"],
      ["s/_a.scn", 2, "'s/_b.scn' is included here"],
    ],
  );
  await t.assertSnapshot(formatDiagnostic(d, (s) => files[s as keyof typeof files]));
});

Deno.test("a file that includes itself is a cycle", () => {
  const files = { "self.scn": `scenario "s"\n${VM}include "self.scn"\n` };
  const d = includeError(files, "self.scn");
  assert.equal(d.kind, "include");
  assert.equal(d.message, "include cycle: 'self.scn' includes itself");
  assert.deepEqual([d.loc.start.line, d.loc.start.column, d.loc.end.column], [3, 9, 19]);
  assert.deepEqual(d.related, []);
});

Deno.test("including the same fragment twice, not nested, is no cycle", () => {
  const files = {
    "m.scn": `scenario "m"\n${VM}include "_n.scn"\ninclude "_n.scn"\n`,
    "_n.scn": "vcpu0: nop\n",
  };
  const text = files["m.scn"];
  const p = check(parse(text, "m.scn"), { platforms: PLATFORMS, load: memoryLoader(files), text });
  assert.equal(p.body.length, 2);
});

Deno.test("a missing include file is an error pointing at its path", async (t) => {
  const files = { "m.scn": `scenario "m"\n${VM}include "_gone.scn"\n` };
  const d = includeError(files, "m.scn");
  assert.equal(d.kind, "include");
  assert.equal(d.message, "cannot read included file '_gone.scn'");
  assert.deepEqual([d.loc.start.line, d.loc.start.column, d.loc.end.column], [3, 9, 20]);
  await t.assertSnapshot(formatDiagnostic(d, (s) => files[s as keyof typeof files]));
});

Deno.test("without a loader, every include is missing", () => {
  const text = `scenario "m"\n${VM}include "_x.scn"\n`;
  assert.throws(
    () => check(parse(text, "m.scn"), { platforms: PLATFORMS, text }),
    (e: unknown) =>
      e instanceof ScnError && e.diagnostics[0].message === "cannot read included file '_x.scn'",
  );
});

Deno.test("a syntax error in an included file is located in that file", () => {
  const files = {
    "m.scn": `scenario "m"\n${VM}include "_bad.scn"\n`,
    "_bad.scn": "\nvcpu0: nop )\n",
  };
  const d = includeError(files, "m.scn");
  assert.equal(d.kind, "syntax");
  assert.deepEqual([d.loc.source, d.loc.start.line, d.loc.start.column], ["_bad.scn", 2, 12]);
});

Deno.test(`includes nested deeper than ${MAX_INCLUDE_DEPTH} are an error`, () => {
  const files: Record<string, string> = { "m.scn": `scenario "m"\n${VM}include "_0.scn"\n` };
  for (let i = 0; i <= MAX_INCLUDE_DEPTH + 1; i++) files[`_${i}.scn`] = `include "_${i + 1}.scn"\n`;
  const d = includeError(files, "m.scn");
  assert.equal(d.kind, "include");
  assert.equal(d.message, `includes nested deeper than ${MAX_INCLUDE_DEPTH}`);
  assert.equal(d.loc.source, `_${MAX_INCLUDE_DEPTH - 1}.scn`);
});

Deno.test("an included fragment carrying a title or tags is an error pointing at both files", () => {
  const d = includeError({
    "a.scn": 'scenario "main"\ninclude "b.scn"\n',
    "b.scn": "tags x86\nvm g { arch x86_64 }\n",
  }, "a.scn");
  assert.equal(d.kind, "include");
  assert.match(d.message, /cannot carry scenario metadata/);
  assert.deepEqual([d.loc.source, d.loc.start.line], ["b.scn", 1]);
  assert.deepEqual(d.related?.map((r) => [r.loc.source, r.loc.start.line]), [["a.scn", 2]]);
});
