/**
 * Generates `dsl/scn_parser.js` and `dsl/scn_parser.d.ts` from `dsl/scn.peggy`
 * with the Peggy command line (`--format es --dts`).
 *
 * Run `deno task gen` after editing the grammar and commit both outputs; the
 * test `dsl/generate_test.ts` regenerates them into a temporary directory and
 * fails when the committed files differ.
 *
 * @module
 */

/** The Peggy release the parser is generated with. */
export const PEGGY = "npm:peggy@5.1.0";

/** Peggy's arguments, apart from the output path. */
export function peggyArgs(grammar: string, output: string): string[] {
  return [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    PEGGY,
    "--format",
    "es",
    "--dts",
    "--allowed-start-rules",
    "File,StatementRun",
    "--return-types",
    JSON.stringify({
      File: 'import("./ast.ts").ScnFile',
      StatementRun: '(import("./ast.ts").Statement | import("./ast.ts").SkimmedRun)[]',
    }),
    "-o",
    output,
    grammar,
  ];
}

/**
 * Runs Peggy on `grammar`, writing `output` (made {@link eagerParser}, its
 * literals tested by {@link literalTests}) and its `.d.ts` beside it.
 */
export async function generate(grammar: string, output: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: peggyArgs(grammar, output),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  await Deno.writeTextFile(
    output,
    literalTests(eagerParser(await Deno.readTextFile(output))),
  );
}

/** Peggy's test of a literal at the current position: a copy of that many characters, compared. */
const SUBSTR_TEST = /input\.substr\(peg\$currPos, (\d+)\) === (peg\$c\d+)/g;
/** Peggy's string constants (`const peg$c2 = "scenario";`), JSON-quoted. */
const STRING_CONSTANT = /^ {2}const (peg\$c\d+) = ("(?:[^"\\]|\\.)*");$/gm;

/**
 * Peggy's parser with each literal tested by `input.startsWith(literal,
 * peg$currPos)` instead of `input.substr(peg$currPos, n) === literal`. A
 * statement is tried against every keyword (`scenario`, `vm`, `let`, ...)
 * before it is taken for an action, and each failed `substr` copied a new
 * string: the tests at a statement's start made most of the parser's garbage
 * and a fifth to a third of its time over the library. The two tests agree
 * wherever `n` is the literal's length, which is checked for each; a parser
 * not shaped as expected (another Peggy release) throws rather than be
 * half rewritten.
 *
 * @example
 * ```ts
 * const js = 'const peg$c0 = "vm";\nif (input.substr(peg$currPos, 2) === peg$c0) {}';
 * literalTests(js).endsWith("if (input.startsWith(peg$c0, peg$currPos)) {}"); // true
 * ```
 */
export function literalTests(js: string): string {
  const lengths = new Map<string, number>();
  for (const [, name, quoted] of js.matchAll(STRING_CONSTANT)) {
    lengths.set(name, (JSON.parse(quoted) as string).length);
  }
  let rewritten = 0;
  const out = js.replace(SUBSTR_TEST, (_, n: string, name: string) => {
    if (lengths.get(name) !== Number(n)) {
      throw new Error(`literalTests: ${name} is not a string of ${n} characters`);
    }
    rewritten++;
    return `input.startsWith(${name}, peg$currPos)`;
  });
  if (rewritten === 0) throw new Error("literalTests: no literal tests to rewrite");
  return out;
}

/** The start rule Peggy picks before its rule functions are defined, moved to where it is used. */
const START_RULE =
  /^ {2}const peg\$startRuleFunctions = \{\n[^]*?\n {2}let peg\$startRuleFunction = [\w$]+;\n/m;
const START_RULE_CHECK = /^ {2}if \(options\.startRule\) \{\n[^]*?\n {2}\}\n/m;
const PARSE = "  peg$result = peg$startRuleFunction();";

/**
 * Peggy's parser with `peg$parse` and its rule (`peg$parseX`) and action
 * (`peg$fN`) functions written as parenthesized function expressions, each
 * a constant, which V8 compiles with the module rather than at their first
 * call. Deno caches a module's code as V8 compiled it when compiling the
 * module, so the parser's functions, declared as Peggy writes them, were
 * compiled again in every process: parsing one small scenario first took
 * 6 to 12 ms, then 0.4 ms; compiled with the module it takes about 2.5 ms.
 * Since constants are not hoisted, the start rule's choice moves after the
 * rules, where the parse starts. Throws if Peggy's output is not shaped as
 * this expects (another Peggy release), rather than write a parser half
 * rewritten.
 *
 * @example
 * ```ts
 * const js = await Deno.readTextFile("dsl/scn_parser.js");
 * eagerParser(js); // throws: already rewritten
 * ```
 */
export function eagerParser(js: string): string {
  const lines = js.split("\n");
  const out: string[] = [];
  const top = lines.indexOf("function peg$parse(input, options) {");
  const end = lines.lastIndexOf("}", lines.findIndex((l) => l.startsWith("export {")));
  if (top < 0 || end < top) throw new Error("eagerParser: no function peg$parse(input, options)");
  let rewritten = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (i === top) out.push("const peg$parse = (function peg$parse(input, options) {");
    else if (i === end) out.push("});");
    else {
      const m = /^ {2}function (peg\$(?:parse[A-Z]\w*|f\d+))\((.*)\) \{(.*)$/.exec(l);
      if (!m) {
        out.push(l);
        continue;
      }
      const [, name, params, rest] = m;
      rewritten++;
      const head = `  const ${name} = (function ${name}(${params}) {`;
      // Peggy writes a one-line action as `{    body  }`, a longer one up to a line `  }`.
      if (rest.endsWith("  }")) {
        out.push(`${head}${rest});`);
        continue;
      }
      const close = lines.indexOf("  }", i + 1);
      if (close < 0 || close > end) throw new Error(`eagerParser: no end of ${name}`);
      out.push(head + rest, ...lines.slice(i + 1, close), "  });");
      i = close;
    }
  }
  if (rewritten === 0) throw new Error("eagerParser: no rule or action functions");
  let code = out.join("\n");
  const start = START_RULE.exec(code), check = START_RULE_CHECK.exec(code);
  if (!start || !check || code.split(PARSE).length !== 2) {
    throw new Error("eagerParser: Peggy's start rule is not where it was expected");
  }
  code = code.replace(start[0], "").replace(check[0], "");
  return code.replace(PARSE, start[0] + check[0] + PARSE);
}

if (import.meta.main) {
  await generate("dsl/scn.peggy", "dsl/scn_parser.js");
  console.log("wrote dsl/scn_parser.js and dsl/scn_parser.d.ts");
}
