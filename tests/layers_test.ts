/**
 * One-way layers: production code imports only its own layer or lower ones,
 * and no two folders or files import each other, directly or round a loop.
 *
 * The import graph is Deno's own (`deno info --json`) from every entry point:
 * `mod.ts`, each `.ts` file a `deno.json` task runs, and any production file
 * no entry reaches (a worker or a backend loaded by a computed URL), so no
 * file escapes the check. The README's "Layout" section shows the same table.
 */
import assert from "node:assert/strict";
import { dirname, relative } from "node:path";

/** Lowest first. A folder may import its own rank and lower ranks only. */
export const LAYERS: readonly (readonly string[])[] = [
  ["lib/core"], //                                   locations, values, diagnostics, tables, platform contract
  ["dsl", "dsl/check"], //                           text → checked program
  ["lib/engine"], //                                 run, explore, schedules: no files, no printing
  ["lib/xen"], //                                    Xen, reached through its host interface
  ["lib/x86", "lib/arm"], //                         the architectures, each hosting Xen
  ["lib/api"], //                                    every platform registered; text in, result out
  ["lib/report"], //                                 text, JSON, JUnit, report blocks
  ["lib/load"], //                                   the one way in: files, includes, host files
  ["lib/kvm", "lib/diff", "lib/minimize"], //        backends and tools
  ["playground", "playground/src"], //               the browser page: build, serve, the page itself
  ["lib/cli"], //                                    commands and their arguments
  ["."], //                                          mod.ts, the public API
];

/** Development tools, not shipped code: never entries, never checked. */
const NOT_PRODUCTION = [/_test\.ts$/, /^tests\//, /^bench\//, /^dsl\/generate\.ts$/, /test_/];

const ROOT = new URL("../", import.meta.url).pathname;

function rankOf(dir: string): number {
  const r = LAYERS.findIndex((l) => l.includes(dir));
  return r;
}

function production(file: string): boolean {
  return !NOT_PRODUCTION.some((p) => p.test(file));
}

function productionFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(ROOT + dir)) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== "scenarios") walk(path);
      else if (e.isFile && /\.ts$/.test(e.name) && production(path)) out.push(path);
    }
  };
  walk("");
  return out.sort();
}

function taskEntries(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(ROOT + "deno.json"));
  const out = new Set<string>(["mod.ts"]);
  for (const task of Object.values(config.tasks as Record<string, string>)) {
    for (const word of task.split(/\s+/)) {
      if (/\.ts$/.test(word) && production(word)) out.add(word);
    }
  }
  return [...out];
}

/** File → the local files it imports, statically or by a literal dynamic import. */
function graphFrom(entry: string, edges: Map<string, Set<string>>): void {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).outputSync();
  assert.equal(out.code, 0, `deno info ${entry}: ${new TextDecoder().decode(out.stderr)}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const m of info.modules ?? []) {
    if (!m.specifier?.startsWith("file://")) continue;
    const from = relative(ROOT, new URL(m.specifier).pathname);
    const set = edges.get(from) ?? new Set<string>();
    edges.set(from, set);
    for (const d of m.dependencies ?? []) {
      for (const k of ["code", "type"]) {
        const s: string | undefined = d[k]?.specifier;
        if (s?.startsWith("file://")) set.add(relative(ROOT, new URL(s).pathname));
      }
    }
  }
}

function importGraph(): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const e of taskEntries()) graphFrom(e, edges);
  for (const f of productionFiles()) if (!edges.has(f)) graphFrom(f, edges);
  // Keep production edges only: a test may import anything.
  const prod = new Map<string, Set<string>>();
  for (const [a, bs] of edges) {
    if (production(a)) prod.set(a, new Set([...bs].filter(production)));
  }
  return prod;
}

/** Strongly connected components of size > 1 (Tarjan), each sorted. */
function cycles(g: Map<string, Set<string>>): string[][] {
  let n = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, n), low.set(v, n), n++, stack.push(v), on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      for (let w = ""; w !== v;) w = stack.pop()!, on.delete(w), c.push(w);
      if (c.length > 1) found.push(c.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

const graph = importGraph();

Deno.test("every production folder has a layer", () => {
  const missing = [...new Set(productionFiles().map((f) => dirname(f)))]
    .filter((d) => rankOf(d) < 0);
  assert.deepEqual(missing, [], "add these folders to LAYERS (and to the README's layout)");
});

Deno.test("no production file imports a higher layer", () => {
  const upward: string[] = [];
  for (const [a, bs] of graph) {
    for (const b of bs) {
      const ra = rankOf(dirname(a)), rb = rankOf(dirname(b));
      if (rb > ra) upward.push(`${a} -> ${b}`);
    }
  }
  assert.deepEqual(upward, []);
});

Deno.test("no import cycle between production files", () => {
  assert.deepEqual(cycles(graph), []);
});

Deno.test("no import cycle between production folders", () => {
  const dirs = new Map<string, Set<string>>();
  for (const [a, bs] of graph) {
    const da = dirname(a);
    const set = dirs.get(da) ?? new Set<string>();
    dirs.set(da, set);
    for (const b of bs) if (dirname(b) !== da) set.add(dirname(b));
  }
  assert.deepEqual(cycles(dirs), []);
});

Deno.test("the cycle finder finds a planted cycle", () => {
  const g = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]);
  assert.deepEqual(cycles(g), [["a", "b", "c"]]);
});
