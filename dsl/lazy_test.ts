import assert from "node:assert/strict";
import { parse as peggyParse } from "./scn_parser.js";
import { parse, SKIM_FROM_CHARS } from "./parse.ts";
import { format } from "./format.ts";
import type { ScnFile, Statement } from "./ast.ts";
import { ScnError } from "../lib/core/diagnostic.ts";

/** Every library scenario, one after another: long enough to be parsed lazily. */
function libraryText(): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".scn")) texts.push(Deno.readTextFileSync(p).replace(/\n?$/, "\n"));
    }
  };
  walk(new URL("../scenarios", import.meta.url).pathname);
  return texts.join("\n");
}

/** The tree with every statement built at once, as the parser gives it unasked. */
function wholeTree(text: string, source: string): ScnFile {
  return peggyParse(text, { grammarSource: source }) as ScnFile;
}

// Enough `vcpu0: nop` lines (11 characters each) to pass SKIM_FROM_CHARS.
const N = Math.ceil(SKIM_FROM_CHARS / 10);

function nops(count: number): string {
  return 'scenario "nops"\nvm g { arch x86_64 }\n' + "vcpu0: nop\n".repeat(count);
}

Deno.test("a long file's lazy body gives the trees of the whole parse, locations included", () => {
  const text = libraryText();
  assert.ok(text.length >= SKIM_FROM_CHARS);
  const lazy = parse(text, "lib.scn");
  const whole = wholeTree(text, "lib.scn");
  assert.equal(lazy.body.length, whole.body.length);
  // JSON spells out every location's line and column.
  const json = (x: unknown) =>
    JSON.stringify(x, (_, v) => typeof v === "bigint" ? `${v}n` : v as unknown);
  assert.equal(json(lazy), json(whole));
  assert.equal(format(lazy, text), format(whole, text));
});

Deno.test("a lazy body reads as an array: indexes, length, iteration, methods", () => {
  const text = nops(N);
  const body = parse(text, "n.scn").body;
  const count = N + 2;
  assert.ok(Array.isArray(body));
  assert.equal(body.length, count);
  assert.equal(body[0].kind, "scenario");
  assert.equal(body[count - 1].kind, "action");
  assert.equal(body[count], undefined);
  assert.equal(body.at(-1)?.loc.start.line, count);
  assert.equal([...body].length, count);
  let n = 0;
  for (const s of body) if (s.kind === "action") n++;
  assert.equal(n, count - 2);
  assert.deepEqual(body.slice(0, 2).map((s) => s.kind), ["scenario", "vm"]);
  assert.ok(1000 in body);
  assert.ok(!(count in body));
  assert.equal(Object.keys(body).length, count);
  // Read backwards: each read of another run parses that run again.
  for (let i = count - 1; i >= 0; i -= 997) assert.equal(body[i].loc.start.line, i + 1);
});

Deno.test("a lazy body is read-only, and a statement is one object while its run is kept", () => {
  const body = parse(nops(N), "n.scn").body;
  assert.equal(body[5], body[5]);
  assert.throws(() => (body as Statement[])[0] = body[1], TypeError);
  assert.throws(() => body.push(body[1]), TypeError);
  const copy = [...body];
  assert.equal(copy[5], copy[5]);
});

Deno.test("a syntax error at the end of a long file is located as in a short one", () => {
  const bad = "vcpu0: nop (\n";
  const at = (text: string) => {
    try {
      parse(text, "n.scn");
    } catch (e) {
      assert.ok(e instanceof ScnError);
      const d = e.diagnostics[0];
      return `${d.message} ${d.loc?.start.line === 0 ? "" : d.loc?.start.column}`;
    }
    assert.fail("parsed");
  };
  const long = nops(N) + bad;
  assert.ok(long.length >= SKIM_FROM_CHARS);
  assert.equal(at(long), at(nops(3) + bad));
});
