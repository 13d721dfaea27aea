// `deno task test` type-checks every module a test imports before it runs
// any, so one static `npm:` import anywhere in that graph makes the whole
// suite need the registry. Test tools from npm are loaded at run time through
// tests/optional_npm.ts instead; this test keeps it that way.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * The one file allowed to import npm packages statically: CodeMirror's
 * entry, bundled ahead of time into the committed playground/dist/codemirror.js
 * (`deno task playground-build --vendor`); nothing that runs or tests imports it.
 */
const BUNDLED_AHEAD = "playground/src/codemirror.ts";

/** Repository-relative paths of the TypeScript and JavaScript sources. */
function sources(dir = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(ROOT + dir)) {
    const path = dir + e.name;
    if (e.isDirectory) {
      if (e.name.startsWith(".") || path === "playground/dist") continue;
      out.push(...sources(path + "/"));
    } else if (/\.(ts|js)$/.test(e.name)) out.push(path);
  }
  return out.sort();
}

/** The npm packages `text` imports statically (`import … from "npm:…"`, `export … from`). */
function staticNpmImports(text: string): string[] {
  return [...text.matchAll(/(?:\bfrom|^\s*import)\s*["'](npm:[^"']+)["']/gm)].map((m) => m[1]);
}

Deno.test("staticNpmImports() finds static imports and re-exports, not dynamic imports", () => {
  assert.deepEqual(
    staticNpmImports(
      'import a from "npm:a@1";\nimport {\n  b,\n} from \'npm:b@2\';\nimport "npm:c@3";\n' +
        'export { d } from "npm:d@4";\nconst e = await import("npm:e@5");\n',
    ),
    ["npm:a@1", "npm:b@2", "npm:c@3", "npm:d@4"],
  );
});

Deno.test("no source imports an npm package statically, so the tests type-check and run offline", () => {
  // This file is left out: its samples are the very imports it looks for.
  const others = sources().filter((path) => path !== "tests/offline_test.ts");
  const found = others.flatMap((path) =>
    staticNpmImports(Deno.readTextFileSync(ROOT + path)).map((spec) => `${path}: ${spec}`)
  );
  assert.ok(found.some((f) => f.startsWith(BUNDLED_AHEAD)), "the scan sees CodeMirror's imports");
  assert.deepEqual(found.filter((f) => !f.startsWith(BUNDLED_AHEAD)), []);
});

Deno.test("nothing imports the CodeMirror entry except as types", () => {
  const importers = sources().filter((path) =>
    /^\s*import\s+(?!type\b)[^;]*["'][./]*[^"']*src\/codemirror\.ts["']|^\s*import\s+(?!type\b)[^;]*["']\.\/codemirror\.ts["']/m
      .test(Deno.readTextFileSync(ROOT + path))
  );
  assert.deepEqual(importers, []);
});
