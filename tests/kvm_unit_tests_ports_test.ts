import assert from "node:assert/strict";
import { collectFiles } from "../lib/load/files.ts";
import { processFile } from "../lib/cli/process.ts";

// scenarios/peers/kvm-unit-tests/{x86,arm}/README.md count, per test file or function, the
// checks found upstream, how many are ported and how many pass; the top-level README quotes
// the totals. This test keeps those numbers true: rows add up to the total, no row claims more
// passing than ported or ported than found, every scenario of the folder is run and "passing"
// may only equal "ported" when all of them pass, the Arm rows' scenarios exist and cover the
// folder, and the top-level README says the same totals.

const ROOT = "scenarios/peers/kvm-unit-tests";

interface Row {
  /** The row's first cell, to name it in messages. */
  readonly label: string;
  readonly found: number;
  readonly ported: number;
  readonly passing: number;
  /** The scenario names of the row's last cell, braces expanded (Arm only). */
  readonly scenarios: readonly string[];
}

function cells(line: string): string[] {
  return line.slice(1, line.endsWith("|") ? -1 : undefined).split("|").map((c) => c.trim());
}

/** `a_{x,y}_b.scn` → `a_x_b.scn`, `a_y_b.scn` (each brace group in turn). */
function expandBraces(name: string): string[] {
  const m = /\{([^{}]*)\}/.exec(name);
  if (!m) return [name];
  return m[1].split(",").flatMap((alt) =>
    expandBraces(name.slice(0, m.index) + alt + name.slice(m.index + m[0].length))
  );
}

/** The count table: the header names the columns; `**total**` is the last row. */
function parseTable(text: string): { rows: Row[]; total: Row } {
  const lines = text.split("\n").filter((l) => l.startsWith("|") && !/^\|\s*-/.test(l));
  const header = cells(lines[0]);
  const col = (re: RegExp) => header.findIndex((h) => re.test(h));
  const [found, ported, passing] = [col(/found|sites/), col(/^ported$/), col(/^passing$/)];
  const scn = col(/^scenarios$/);
  assert.ok(found > 0 && ported > 0 && passing > 0, `count columns in: ${lines[0]}`);
  const num = (c: string) => Number(c.replaceAll("*", ""));
  const rows = lines.slice(1).map((l): Row => {
    const c = cells(l);
    return {
      label: c.slice(0, found).join(" ").trim(),
      found: num(c[found]),
      ported: num(c[ported]),
      passing: num(c[passing]),
      scenarios: scn < 0
        ? []
        : [...c[scn].matchAll(/`([^`]+\.scn)`/g)].flatMap((m) => expandBraces(m[1])),
    };
  });
  const total = rows.pop()!;
  assert.match(total.label, /\*\*total\*\*/, "the table ends with its **total** row");
  return { rows, total };
}

Deno.test("expandBraces() expands each brace group", () => {
  assert.deepEqual(expandBraces("gic_ipi_{self,broadcast}_gicv{2,3}.scn"), [
    "gic_ipi_self_gicv2.scn",
    "gic_ipi_self_gicv3.scn",
    "gic_ipi_broadcast_gicv2.scn",
    "gic_ipi_broadcast_gicv3.scn",
  ]);
  assert.deepEqual(expandBraces("its_trigger.scn"), ["its_trigger.scn"]);
});

for (const arch of ["x86", "arm"]) {
  Deno.test(`the kvm-unit-tests ${arch} README's counts add up and match its scenarios`, () => {
    const dir = `${ROOT}/${arch}`;
    const { rows, total } = parseTable(Deno.readTextFileSync(`${dir}/README.md`));
    for (const r of rows) {
      assert.ok(r.passing <= r.ported && r.ported <= r.found, `row ${r.label}`);
    }
    const sum = (k: "found" | "ported" | "passing") => rows.reduce((a, r) => a + r[k], 0);
    assert.deepEqual(
      [total.found, total.ported, total.passing],
      [sum("found"), sum("ported"), sum("passing")],
      "the total row",
    );

    const { files } = collectFiles([dir]);
    const scenarios = files.filter((f) => !f.split("/").at(-1)!.startsWith("_"));
    assert.ok(scenarios.length > 0);
    const failing = scenarios.filter((path) => {
      const o = processFile(path, "run");
      return !(o.kind === "result" && o.result.status === "pass");
    });
    if (total.passing === total.ported) {
      assert.deepEqual(failing, [], "every ported check is said to pass, so every scenario must");
    } else {
      assert.ok(failing.length > 0, "some ported check is said to fail, yet every scenario passes");
    }

    if (rows.some((r) => r.scenarios.length > 0)) {
      const named = new Set(rows.flatMap((r) => r.scenarios));
      const present = new Set(scenarios.map((p) => p.slice(dir.length + 1)));
      assert.deepEqual([...named].filter((n) => !present.has(n)), [], "rows naming no file");
      assert.deepEqual([...present].filter((n) => !named.has(n)), [], "scenarios no row names");
    }
  });
}

Deno.test("the top-level README quotes the kvm-unit-tests x86 totals", () => {
  const { total } = parseTable(Deno.readTextFileSync(`${ROOT}/x86/README.md`));
  const readme = Deno.readTextFileSync("README.md").replace(/\s+/g, " ");
  assert.ok(
    readme.includes(`${total.ported} of their ${total.found} \`report()\` checks`),
    `README.md should say "${total.ported} of their ${total.found} \`report()\` checks"`,
  );
});
