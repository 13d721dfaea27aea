import assert from "node:assert/strict";
import { BUILTIN_SEEDS, fuzz, loadCorpus, mutantOf, runOne } from "./main.ts";
import { buildPool, capLoops, makeMutant, mutantRng, tokenize } from "./mutate.ts";

const corpus = [
  ...loadCorpus(new URL("../../scenarios", import.meta.url).pathname),
  ...BUILTIN_SEEDS,
];

Deno.test("a mutant's generator is fixed by seed and index, and differs between them", () => {
  const draw = (seed: number, index: number) => {
    const r = mutantRng(seed, index);
    return Array.from({ length: 8 }, () => r.next());
  };
  assert.deepEqual(draw(42, 3), draw(42, 3));
  assert.notDeepEqual(draw(42, 3), draw(42, 4));
  assert.notDeepEqual(draw(42, 3), draw(43, 3));
});

Deno.test("tokenize gives the text back", () => {
  for (const f of corpus) assert.equal(tokenize(f.text).map((t) => t.text).join(""), f.text);
});

Deno.test("a mutant is a function of seed and index alone", () => {
  const pool = buildPool(corpus.map((f) => f.text));
  const a = mutantOf(corpus, pool, 7, 123);
  const b = makeMutant(corpus, pool, mutantRng(7, 123));
  assert.deepEqual({ ...a, text: a.capped ? b.text : a.text }, { ...b, capped: a.capped });
  assert.equal(a.text, capLoops(b.text));
  assert.notDeepEqual(mutantOf(corpus, pool, 7, 124).text, a.text);
});

Deno.test("capLoops shrinks large repeat counts and ranges only", () => {
  assert.equal(capLoops("repeat 0x7fffffff {\n  run\n}"), "repeat 100 {\n  run\n}");
  assert.equal(capLoops("for $i in 0..100000 { run }"), "for $i in 0..100 { run }");
  assert.equal(
    capLoops("repeat 3 { run }\nexpect $x == 0x7fffffff"),
    "repeat 3 { run }\nexpect $x == 0x7fffffff",
  );
});

Deno.test("every corpus file runs or ends in a located error", () => {
  for (const f of corpus) {
    const v = runOne(f.text, f.name, corpus);
    assert.notEqual(v.kind, "crash", `${f.name}: ${v.kind === "crash" ? String(v.error) : ""}`);
  }
});

Deno.test("3000 mutants of seed 20240601: no crashes; results and located errors both occur", () => {
  const s = fuzz(corpus, 20240601, 3000, { maxSteps: 20_000, reports: true });
  const crashes = s.crashes.map((c) =>
    `${c.token} (${c.stage}): ${c.error instanceof Error ? c.error.stack : String(c.error)}`
  );
  assert.deepEqual(crashes, [], "replay with: deno task fuzz --replay <token>");
  assert.equal(s.count, 3000);
  assert.equal(s.results + s.errors, 3000);
  assert.ok(s.results > 0, "no mutant ran to a result");
  assert.ok(s.errors > 0, "no mutant ended in a located error");
  assert.ok((s.errorKinds.syntax ?? 0) > 0 && (s.errorKinds.check ?? 0) > 0);
});

Deno.test("300 mutants through the front door (a .scn with an include, a Markdown block, an email quote): no crashes", () => {
  const dir = Deno.makeTempDirSync({ prefix: "irqlab_fuzz_" });
  try {
    const s = fuzz(corpus, 20240602, 300, { maxSteps: 5_000, reports: false, frontDoor: dir });
    const crashes = s.crashes.map((c) =>
      `${c.token} (${c.stage}): ${c.error instanceof Error ? c.error.message : String(c.error)}`
    );
    assert.deepEqual(crashes, [], "replay with: deno task fuzz --replay <token>");
    assert.equal(s.count, 300);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
