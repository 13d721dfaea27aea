/**
 * Parse throughput of the `.scn` parser (dsl/parse.ts).
 *
 * ```sh
 * deno task bench bench/parse_bench.ts
 * ```
 *
 * The input is every scenario of the library concatenated, repeated until it
 * is at least 1 MiB (several `scenario` lines in one text still parse). The
 * size in bytes is in the bench's name and printed at load.
 *
 * Reading the figure: `deno bench` reports the average time of one iteration,
 * and one iteration parses the whole input once, so
 *
 *   MB/s = bytes / (avg seconds per iteration) / 1e6
 *
 * e.g. 1_048_576 bytes at 100 ms/iter is 10.5 MB/s. The goal is >= 5 MB/s,
 * i.e. at most about 210 ms/iter for 1 MiB. The second bench parses each
 * library file on its own (many small inputs; its name carries the total
 * bytes of one iteration) to show the per-parse overhead.
 *
 * @module
 */
import { join } from "node:path";
import { parse } from "../dsl/parse.ts";

function scenarioTexts(dir: string): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...scenarioTexts(p));
    else if (e.isFile && e.name.endsWith(".scn")) out.push(Deno.readTextFileSync(p));
  }
  return out;
}

const root = new URL("../scenarios", import.meta.url).pathname;
const files = scenarioTexts(root);
if (files.length === 0) throw new Error(`no .scn files under ${root}`);
const one = files.map((t) => (t.endsWith("\n") ? t : t + "\n")).join("\n");
const target = 1 << 20;
const big = one.repeat(Math.ceil(target / one.length));
const bigBytes = new TextEncoder().encode(big).length;
const oneBytes = new TextEncoder().encode(one).length;

// Check once that the input parses, so the bench measures success, not an error path.
const statements = parse(big, "big.scn").body.length;
console.log(
  `parse input: ${bigBytes} bytes (${files.length} files x ${Math.ceil(target / one.length)}), ` +
    `${statements} top-level statements; MB/s = ${bigBytes} / (ms per iter * 1000)`,
);

Deno.bench({
  name: `parse ${bigBytes} bytes (library x ${Math.ceil(target / one.length)})`,
  group: "parse",
  baseline: true,
  n: 30,
  warmup: 5,
  fn() {
    parse(big, "big.scn");
  },
});

Deno.bench({
  name: `parse each library file once (${oneBytes} bytes, ${files.length} files)`,
  group: "parse",
  warmup: 50,
  fn() {
    for (const t of files) parse(t, "one.scn");
  },
});
