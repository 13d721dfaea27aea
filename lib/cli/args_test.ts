import assert from "node:assert/strict";
import { parseArgs as nodeParseArgs } from "node:util";
import { parseArgs } from "./args.ts";

/** The options `scn run` declares, and one short option that takes a value. */
const OPTIONS = {
  trace: { type: "boolean", default: false },
  timeline: { type: "string" },
  "max-steps": { type: "string" },
  "no-color": { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  out: { type: "string", short: "o" },
} as const;

/** Every form an argument takes: each option long, short, grouped, with values inline or not. */
const WORDS = [
  "a.scn",
  "-",
  "--",
  "-5",
  "",
  "--trace",
  "--trace=1",
  "--timeline",
  "--timeline=all",
  "--max-steps=",
  "--no-color",
  "--help=x",
  "-h",
  "-hh",
  "-ho",
  "-hofile",
  "-oh",
  "-o",
  "-x",
  "-h=1",
  "--nope",
  "--nope=1",
  "--=a",
  "---x",
  "--Trace",
];

function outcome(f: () => { values: object; positionals: string[] }): unknown {
  try {
    const { values, positionals } = f();
    return { values: { ...values }, positionals };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

Deno.test("parseArgs() reads every command line of up to three words as node:util's does", () => {
  let lines = 0;
  const check = (args: string[]) => {
    lines++;
    assert.deepEqual(
      outcome(() => parseArgs(args, OPTIONS)),
      outcome(() => nodeParseArgs({ args, options: OPTIONS, allowPositionals: true })),
      JSON.stringify(args),
    );
  };
  check([]);
  for (const a of WORDS) {
    check([a]);
    for (const b of WORDS) {
      check([a, b]);
      for (const c of WORDS) check([a, b, c]);
    }
  }
  assert.equal(lines, 1 + 25 + 25 ** 2 + 25 ** 3);
});

Deno.test("parseArgs() keeps the last of an option given twice and fills in defaults", () => {
  const { values, positionals } = parseArgs(["--timeline=a", "x", "--timeline", "b"], OPTIONS);
  assert.deepEqual({ ...values }, { timeline: "b", trace: false, "no-color": false, help: false });
  assert.deepEqual(positionals, ["x"]);
});
