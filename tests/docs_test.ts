/**
 * The documentation is part of the code: every JSDoc example type-checks
 * (`deno check --doc`) and the public API from `mod.ts` passes `deno doc
 * --lint` (every export documented, no public type naming a private one).
 * Run here as well as in `.ci/run` (with formatting and lint), so a landing
 * that breaks an example or the style is caught by the same command as a
 * broken test.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** Production modules: what `mod.ts` and the tasks can reach, tests and tools aside. */
function productionFiles(): string[] {
  const out = ["mod.ts"];
  const walk = (dir: string) => {
    for (const e of [...Deno.readDirSync(ROOT + dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && !e.name.startsWith("__")) walk(path);
      else if (e.isFile && path.endsWith(".ts") && !/_test\.ts$|scn_parser/.test(path)) {
        out.push(path);
      }
    }
  };
  walk("lib");
  walk("dsl");
  return out;
}

function deno(args: string[]): { code: number; text: string } {
  const out = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("every JSDoc example type-checks (deno check --doc)", () => {
  const r = deno(["check", "--quiet", "--doc", ...productionFiles()]);
  assert.equal(r.code, 0, r.text);
});

Deno.test("the public API passes deno doc --lint mod.ts", () => {
  const r = deno(["doc", "--lint", "mod.ts"]);
  assert.equal(r.code, 0, r.text);
});

Deno.test("the tree is formatted (deno fmt --check) and lint-clean (deno lint)", () => {
  const fmt = deno(["fmt", "--check"]);
  assert.equal(fmt.code, 0, fmt.text);
  const lint = deno(["lint"]);
  assert.equal(lint.code, 0, lint.text);
});
