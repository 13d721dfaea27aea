import assert from "node:assert/strict";
import { eagerParser, generate, PEGGY, peggyArgs } from "./generate.ts";
import { SKIPPED_NO_REGISTRY } from "../tests/optional_npm.ts";

const dir = new URL(".", import.meta.url);
const grammar = new URL("scn.peggy", dir).pathname;

/**
 * Whether the pinned Peggy can be run: from Deno's cache, or fetched from
 * the npm registry. Offline with an empty cache it cannot, and the tests
 * that regenerate the parser say they were skipped rather than fail.
 */
async function peggyReachable(): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", PEGGY, "--version"],
    stdout: "null",
    stderr: "null",
  }).output();
  return code === 0;
}

const reachable = await peggyReachable();
if (!reachable) {
  console.log(`generate: SKIPPED: ${PEGGY} cannot be fetched (no npm registry, empty cache)`);
}

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
  assert.equal(args[args.indexOf("--allowed-start-rules") + 1], "File,StatementRun");
  assert.deepEqual(JSON.parse(args[args.indexOf("--return-types") + 1]), {
    File: 'import("./ast.ts").ScnFile',
    StatementRun: '(import("./ast.ts").Statement | import("./ast.ts").SkimmedRun)[]',
  });
});

Deno.test({
  name: "generate() reproduces the committed scn_parser.js and scn_parser.d.ts byte for byte" +
    (reachable ? "" : SKIPPED_NO_REGISTRY),
  ignore: !reachable,
}, async () => {
  const tmp = await Deno.makeTempDir({ prefix: "irqlab_gen_" });
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

Deno.test({
  name: "generate() throws Peggy's message for a broken grammar" +
    (reachable ? "" : SKIPPED_NO_REGISTRY),
  ignore: !reachable,
}, async () => {
  const tmp = await Deno.makeTempDir({ prefix: "irqlab_gen_" });
  try {
    // The start rules are there; a rule they use is not.
    await Deno.writeTextFile(`${tmp}/bad.peggy`, "File = 'a' Missing\nStatementRun = 'b'\n");
    await assert.rejects(
      () => generate(`${tmp}/bad.peggy`, `${tmp}/bad.js`),
      (e: Error) => /Missing/.test(e.message),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the committed parser's rules and actions are parenthesized, compiled with the module", async () => {
  const js = await Deno.readTextFile(new URL("scn_parser.js", dir));
  assert.doesNotMatch(js, /^ {0,2}function peg\$(parse|f\d)/m);
  assert.match(js, /^const peg\$parse = \(function peg\$parse\(input, options\) \{$/m);
  assert.match(js, /^ {2}const peg\$parseFile = \(function peg\$parseFile\(\) \{$/m);
  assert.match(js, /^ {2}const peg\$f0 = \(function peg\$f0\(/m);
});

Deno.test("eagerParser() rewrites Peggy's declarations and moves the start rule after them", () => {
  const peggy = [
    "function peg$parse(input, options) {",
    "  const peg$startRuleFunctions = {",
    "    File: peg$parseFile,",
    "  };",
    "  let peg$startRuleFunction = peg$parseFile;",
    "  if (options.startRule) {",
    "    peg$startRuleFunction = peg$startRuleFunctions[options.startRule];",
    "  }",
    "  function peg$f0(a) {    return a;  }",
    "  function peg$parseFile() {",
    "    return peg$f0(1);",
    "  }",
    "  function text() {",
    "    return input;",
    "  }",
    "  peg$result = peg$startRuleFunction();",
    "}",
    "export {",
    "  peg$parse as parse,",
    "};",
  ].join("\n");
  assert.equal(
    eagerParser(peggy),
    [
      "const peg$parse = (function peg$parse(input, options) {",
      "  const peg$f0 = (function peg$f0(a) {    return a;  });",
      "  const peg$parseFile = (function peg$parseFile() {",
      "    return peg$f0(1);",
      "  });",
      "  function text() {",
      "    return input;",
      "  }",
      "  const peg$startRuleFunctions = {",
      "    File: peg$parseFile,",
      "  };",
      "  let peg$startRuleFunction = peg$parseFile;",
      "  if (options.startRule) {",
      "    peg$startRuleFunction = peg$startRuleFunctions[options.startRule];",
      "  }",
      "  peg$result = peg$startRuleFunction();",
      "});",
      "export {",
      "  peg$parse as parse,",
      "};",
    ].join("\n"),
  );
  // Not Peggy's shape (here: already rewritten): refused, not half done.
  assert.throws(() => eagerParser(eagerParser(peggy)), /eagerParser/);
});

Deno.test("the parser still refuses a start rule it does not allow", async () => {
  const { parse } = await import("./scn_parser.js");
  assert.throws(
    // A caller without the .d.ts's types can ask for any rule.
    () => parse("", { startRule: "Expression" as "File" }),
    /Can't start parsing from rule "Expression"/,
  );
  assert.equal(parse('scenario "t"\n', { startRule: "File" }).kind, "file");
});
