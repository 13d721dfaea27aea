import assert from "node:assert/strict";

/**
 * Tests write only below the system's temporary folder (TMPDIR), which
 * `deno task test` grants; a test that names /tmp fails where TMPDIR is
 * elsewhere.
 */
Deno.test("no test names /tmp as the folder to write in: Deno.makeTempDir*() without dir uses TMPDIR", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "fixtures" && !e.name.startsWith(".")) walk(path);
      else if (e.isFile && e.name.endsWith("_test.ts")) {
        const text = Deno.readTextFileSync(path);
        if (/makeTemp(Dir|File)(Sync)?\(\{[^}]*dir:\s*["'`]\/tmp/.test(text)) offenders.push(path);
      }
    }
  };
  for (const top of ["lib", "dsl", "tests"]) walk(top);
  assert.deepEqual(offenders, []);
});
