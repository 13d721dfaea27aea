import assert from "node:assert/strict";
import { generate, PEGGY, peggyArgs } from "./generate.ts";

const dir = new URL(".", import.meta.url);
const grammar = new URL("scn.peggy", dir).pathname;

Deno.test("peggyArgs() runs the pinned Peggy with --format es --dts", () => {
  assert.equal(PEGGY, "npm:peggy@5.1.0");
  const args = peggyArgs("g.peggy", "out.js");
  assert.deepEqual(args.slice(0, 5), [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    PEGGY,
  ]);
  assert.deepEqual(args.slice(-3), ["-o", "out.js", "g.peggy"]);
  assert.equal(args[args.indexOf("--format") + 1], "es");
  assert.ok(args.includes("--dts"));
  assert.deepEqual(JSON.parse(args[args.indexOf("--return-types") + 1]), {
    File: 'import("./ast.ts").ScnFile',
  });
});

Deno.test("generate() reproduces the committed scn_parser.js and scn_parser.d.ts byte for byte", async () => {
  const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "irqlab_gen_" });
  try {
    await generate(grammar, `${tmp}/scn_parser.js`);
    for (const name of ["scn_parser.js", "scn_parser.d.ts"]) {
      const fresh = await Deno.readFile(`${tmp}/${name}`);
      const committed = await Deno.readFile(new URL(name, dir));
      const same = fresh.length === committed.length && fresh.every((b, i) => b === committed[i]);
      assert.ok(
        same,
        `dsl/${name} is out of date with dsl/scn.peggy: run \`deno task gen\` and commit`,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("generate() throws Peggy's message for a broken grammar", async () => {
  const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "irqlab_gen_" });
  try {
    await Deno.writeTextFile(`${tmp}/bad.peggy`, "start = 'a' Missing\n");
    await assert.rejects(
      () => generate(`${tmp}/bad.peggy`, `${tmp}/bad.js`),
      (e: Error) => /Missing/.test(e.message),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
