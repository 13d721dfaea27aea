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

/** Runs Peggy on `grammar`, writing `output` and its `.d.ts` beside it. */
export async function generate(grammar: string, output: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: peggyArgs(grammar, output),
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
}

if (import.meta.main) {
  await generate("dsl/scn.peggy", "dsl/scn_parser.js");
  console.log("wrote dsl/scn_parser.js and dsl/scn_parser.d.ts");
}
