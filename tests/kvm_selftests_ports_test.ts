import assert from "node:assert/strict";
import { collectFiles } from "../lib/load/files.ts";
import { processFile } from "../lib/cli/process.ts";

// scenarios/peers/kvm-selftests/README.md lists every check of the KVM selftests it covers, each
// ported by named scenarios or said to be unwritable, and sums them per file. The list is the
// product's gap list, so this test keeps it true: the counts add up, every ported check names
// scenarios that say (in their `# ports:` line) that they port it and no scenario claims a check
// the README does not list as ported, and "passing" counts what passes when run.
// scenarios/peers/xtf/README.md (XTF's event-channel tests) is held to the same rules.

interface Check {
  readonly file: string;
  readonly id: string;
  readonly scenarios: readonly string[]; // empty: cannot be written
}

interface SummaryRow {
  readonly file: string;
  readonly checks: number;
  readonly ported: number;
  readonly passing: number;
  readonly cannot: number;
}

function cells(line: string): string[] {
  return line.slice(1, line.endsWith("|") ? -1 : undefined).split("|").map((c) => c.trim());
}

function parseReadme(text: string): { summary: SummaryRow[]; total: SummaryRow; checks: Check[] } {
  const lines = text.split("\n");
  const summary: SummaryRow[] = [];
  let total: SummaryRow | undefined;
  const checks: Check[] = [];
  let section: string | undefined;
  for (const line of lines) {
    const heading = /^### `([^`]+)`/.exec(line);
    if (heading) {
      section = heading[1];
      continue;
    }
    if (/^#{1,2} /.test(line)) section = undefined;
    if (!line.startsWith("|") || /^\|\s*-/.test(line)) continue;
    const c = cells(line);
    if (section === undefined) {
      const name = /^`([^`]+)`$/.exec(c[0]);
      const nums = c.slice(1).map((x) => Number(x.replaceAll("*", "")));
      if (c.length !== 5 || nums.some((n) => !Number.isInteger(n))) continue;
      const [checks_, ported, passing, cannot] = nums;
      const row = { file: name?.[1] ?? "", checks: checks_, ported, passing, cannot };
      if (c[0] === "**total**") total = row;
      else if (name) summary.push(row);
      continue;
    }
    const id = /^`([^`]+)`$/.exec(c[0]);
    if (!id || c.length !== 3) continue;
    const status = c[2];
    if (status.startsWith("ported:")) {
      const names = [...status.matchAll(/`([^`]+\.scn)`/g)].map((m) => m[1]);
      assert.ok(names.length > 0, `${section} ${id[1]}: 'ported:' names no scenario`);
      checks.push({ file: section, id: id[1], scenarios: names });
    } else {
      assert.match(
        status,
        /^cannot: \S/,
        `${section} ${id[1]}: status must be 'ported:' or 'cannot:'`,
      );
      checks.push({ file: section, id: id[1], scenarios: [] });
    }
  }
  assert.ok(total, "README has no **total** row");
  return { summary, total, checks };
}

/** The `# ports: <file>: a, b` line of each scenario, keyed by its path under DIR. */
function portsLines(
  DIR: string,
  files: readonly string[],
): Map<string, { file: string; ids: string[] }> {
  const out = new Map<string, { file: string; ids: string[] }>();
  for (const path of files) {
    const m = /^# ports: ([^:]+): (.+)$/m.exec(Deno.readTextFileSync(path));
    assert.ok(m, `${path} has no '# ports: <file>: <check>, ...' line`);
    out.set(path.slice(DIR.length + 1), { file: m[1], ids: m[2].split(",").map((s) => s.trim()) });
  }
  return out;
}

function checkPortsReadme(DIR: string): void {
  const { summary, total, checks } = parseReadme(Deno.readTextFileSync(`${DIR}/README.md`));
  const { files } = collectFiles([DIR]);
  const scenarios = files.filter((f) => !f.split("/").at(-1)!.startsWith("_"));
  const ports = portsLines(DIR, scenarios);

  // Both directions between the README's ported rows and the scenarios' '# ports:' lines.
  const claimed = new Set<string>();
  for (const [scn, { file, ids }] of ports) {
    for (const id of ids) claimed.add(`${file} ${id} ${scn}`);
  }
  const listed = new Set<string>();
  for (const c of checks) for (const s of c.scenarios) listed.add(`${c.file} ${c.id} ${s}`);
  assert.deepEqual(
    [...listed].filter((x) => !claimed.has(x)),
    [],
    "README rows whose scenario does not say it ports them",
  );
  assert.deepEqual(
    [...claimed].filter((x) => !listed.has(x)),
    [],
    "'# ports:' claims the README does not list",
  );
  const ids = checks.map((c) => `${c.file} ${c.id}`);
  assert.equal(new Set(ids).size, ids.length, "a check is listed twice");

  const status = new Map<string, string>();
  for (const path of scenarios) {
    const o = processFile(path, "run");
    status.set(path.slice(DIR.length + 1), o.kind === "result" ? o.result.status : o.kind);
  }

  const files_ = [...new Set(checks.map((c) => c.file))];
  assert.deepEqual(
    summary.map((r) => r.file).sort(),
    files_.sort(),
    "the summary's files are the sections'",
  );
  for (const row of summary) {
    const mine = checks.filter((c) => c.file === row.file);
    const ported = mine.filter((c) => c.scenarios.length > 0);
    const passing = ported.filter((c) => c.scenarios.every((s) => status.get(s) === "pass"));
    assert.deepEqual(
      { checks: row.checks, ported: row.ported, passing: row.passing, cannot: row.cannot },
      {
        checks: mine.length,
        ported: ported.length,
        passing: passing.length,
        cannot: mine.length - ported.length,
      },
      `summary row for ${row.file}`,
    );
  }
  const sum = (k: keyof Omit<SummaryRow, "file">) => summary.reduce((a, r) => a + r[k], 0);
  assert.deepEqual(
    [total.checks, total.ported, total.passing, total.cannot],
    [sum("checks"), sum("ported"), sum("passing"), sum("cannot")],
    "the total row",
  );
}

Deno.test("the kvm-selftests README's check lists and counts match the scenarios", () => {
  checkPortsReadme("scenarios/peers/kvm-selftests");
});

Deno.test("the XTF README's check lists and counts match the scenarios", () => {
  checkPortsReadme("scenarios/peers/xtf");
});
