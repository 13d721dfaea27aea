/**
 * Catalogue coverage: every (dev) behaviour of the reference catalogues
 * (`scenarios/catalogue.json`, IDs only) is carried in the `tags` of some
 * scenario under `scenarios/`, and every catalogue-style tag a scenario
 * carries is a real ID.
 *
 * Scenario files are read with the language's own parser, so a tag counts
 * only where the language sees one (not in a comment or a title).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "../dsl/parse.ts";

/**
 * Catalogue IDs that no scenario carries yet, per catalogue. Work on x86 and
 * Xen is still in progress (other engineers are writing those scenarios).
 * The lists may only shrink: the test fails when an ID listed here has
 * gained a scenario (remove it from the list), and when an ID is missing
 * without being listed. The arm and x86 catalogues are complete and have no entry.
 */
const NOT_YET: Readonly<Record<string, readonly string[]>> = {};

/** Catalogues that must be covered in full. */
const COMPLETE = ["arm", "x86"];

const SCENARIOS = new URL("../scenarios", import.meta.url).pathname;

/** A tag shaped like a catalogue ID: `ARM-25`, and lowercase slips of a known prefix (`arm-25`). */
const ID_SHAPE = /^([A-Za-z][A-Za-z0-9]*)-(\d+)$/;

interface Catalogue {
  catalogues: Record<string, string[]>;
}

function loadCatalogue(): Record<string, string[]> {
  const raw = JSON.parse(Deno.readTextFileSync(join(SCENARIOS, "catalogue.json"))) as Catalogue;
  return raw.catalogues;
}

/** Every `.scn` file under `dir`, sorted; `_` fragments included. */
function scnFiles(dir: string): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(dir)].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...scnFiles(p));
    else if (e.isFile && e.name.endsWith(".scn")) out.push(p);
  }
  return out;
}

/** Tag → the files that carry it (scenarios only), and every tag with its file (fragments too). */
function readTags(): { scenarioTags: Map<string, string[]>; all: [string, string][] } {
  const scenarioTags = new Map<string, string[]>();
  const all: [string, string][] = [];
  for (const path of scnFiles(SCENARIOS)) {
    const name = path.slice(SCENARIOS.length + 1);
    const file = parse(Deno.readTextFileSync(path), name);
    const fragment = name.split("/").at(-1)!.startsWith("_");
    for (const s of file.body) {
      if (s.kind !== "tags") continue;
      for (const t of s.tags) {
        all.push([t.name, name]);
        if (fragment) continue;
        const files = scenarioTags.get(t.name) ?? [];
        files.push(name);
        scenarioTags.set(t.name, files);
      }
    }
  }
  return { scenarioTags, all };
}

/** The catalogue prefix of an ID (`ARM` for `ARM-25`). */
function prefixOf(id: string): string {
  return id.replace(/-\d+$/, "");
}

Deno.test("catalogue.json lists well-formed, unique IDs with one prefix per catalogue", () => {
  const cats = loadCatalogue();
  assert.deepEqual(Object.keys(cats).sort(), ["arm", "x86", "xen"]);
  const seen = new Set<string>();
  for (const [name, ids] of Object.entries(cats)) {
    assert.ok(ids.length > 0, `catalogue ${name} is empty`);
    const prefixes = new Set(ids.map(prefixOf));
    assert.equal(prefixes.size, 1, `catalogue ${name} mixes prefixes: ${[...prefixes]}`);
    for (const id of ids) {
      assert.match(id, /^[A-Z][A-Z0-9]*-\d{2,}$/, `catalogue ${name}: malformed ID '${id}'`);
      assert.ok(!seen.has(id), `${id} is listed twice`);
      seen.add(id);
    }
  }
  for (const [name, ids] of Object.entries(NOT_YET)) {
    assert.ok(name in cats, `NOT_YET names an unknown catalogue '${name}'`);
    assert.ok(!COMPLETE.includes(name), `the ${name} catalogue must be complete: no NOT_YET entry`);
    for (const id of ids) assert.ok(cats[name].includes(id), `NOT_YET.${name}: ${id} is not in it`);
    assert.equal(new Set(ids).size, ids.length, `NOT_YET.${name} lists an ID twice`);
  }
});

Deno.test("every catalogue behaviour is tagged by a scenario", async (t) => {
  const cats = loadCatalogue();
  const { scenarioTags, all } = readTags();
  for (const [name, ids] of Object.entries(cats)) {
    await t.step(name, () => {
      const problems: string[] = [];
      const notYet = NOT_YET[name] ?? [];
      const unlisted = ids.filter((id) => !scenarioTags.has(id) && !notYet.includes(id));
      if (unlisted.length > 0) {
        problems.push(
          `no scenario under scenarios/ tags ${unlisted.join(", ")}` +
            (COMPLETE.includes(name) ? "" : ` (and NOT_YET.${name} does not list them)`),
        );
      }
      for (const id of notYet.filter((id) => scenarioTags.has(id))) {
        problems.push(
          `${id} now has a scenario (${scenarioTags.get(id)!.join(", ")}): ` +
            `remove it from NOT_YET.${name} in tests/catalogue_test.ts`,
        );
      }
      // Typo guard: a tag with this catalogue's prefix must be one of its IDs.
      const prefix = prefixOf(ids[0]);
      for (const [tag, file] of all) {
        const m = ID_SHAPE.exec(tag);
        if (m !== null && m[1].toUpperCase() === prefix && !ids.includes(tag)) {
          problems.push(
            `${file} tags '${tag}', which is not one of the ${name} catalogue's (dev) IDs`,
          );
        }
      }
      assert.deepEqual(problems, []);
    });
  }
});

Deno.test("every catalogue-style tag names a known catalogue", () => {
  const cats = loadCatalogue();
  const prefixes = new Set(Object.values(cats).map((ids) => prefixOf(ids[0])));
  const { all } = readTags();
  const strays = all.filter(([tag]) => {
    const m = ID_SHAPE.exec(tag);
    // Uppercase prefixes are IDs by convention; lowercase words such as `seed-003` are plain tags.
    return m !== null && m[1] === m[1].toUpperCase() && !prefixes.has(m[1]);
  });
  assert.deepEqual(strays.map(([tag, file]) => `${file}: ${tag}`), []);
});
