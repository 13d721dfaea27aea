import assert from "node:assert/strict";
import { collectFiles } from "../lib/load/files.ts";
import { processFile } from "../lib/cli/process.ts";
import { formatDiagnostic } from "../lib/core/diagnostic.ts";

// Every scenario in the library must pass, or fail as its 'expect failure' line says.
Deno.test("every scenario under scenarios/ passes or is an expected failure", async (t) => {
  const { files, missing } = collectFiles(["scenarios"]);
  assert.deepEqual(missing, []);
  assert.ok(files.length > 0, "scenarios/ holds no .scn files");
  for (const file of files) {
    await t.step(file, () => {
      const o = processFile(file, "run");
      if (o.kind === "input-error") {
        const text = o.diagnostics.map((d) => formatDiagnostic(d, (s) => o.sources.get(s))).join(
          "\n",
        );
        assert.fail(`${file} is not a valid scenario:\n${text}`);
      }
      if (o.kind === "internal-error") assert.fail(`${file}: internal error: ${o.message}`);
      if (o.kind === "checked") assert.fail(`${file}: checked, not run`);
      const r = o.result;
      const why = r.failures.map((f) =>
        `${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}: ${f.kind} ${f.text}: expected ${f.expected}, actual ${f.actual}`
      ).join("\n");
      assert.ok(
        r.status === "pass" || r.status === "xfail",
        `${file}: ${r.status}${
          r.status === "xpass" ? ` (expected failure: ${r.expectFailure})` : ""
        }\n${why}`,
      );
      assert.ok(r.title.length > 0, `${file} has an empty title`);
    });
  }
});
