/**
 * The scenario library and one small scenario through `scn run` as a
 * person runs them: a fresh `deno run` process each time, start-up, module
 * loading and a cold JIT included (an in-process loop would measure a warm
 * one). Goals (issue 14): the library under 1 s, one scenario under 80 ms.
 *
 * ```sh
 * deno bench --allow-read --allow-run bench/library_bench.ts
 * ```
 *
 * `deno bench` times wall clock, which a busy machine stretches; the CPU
 * time the project reports is the same command under `/usr/bin/time -f "%U %S"`.
 * The `--jobs 2` case runs the library on two workers (the same report):
 * less wall time on two free cores, more CPU in all. Without `--allow-run`
 * (`deno task bench`) these benches are skipped.
 *
 * @module
 */

const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";

function scn(...args: string[]): void {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "lib/cli/main.ts", "run", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

Deno.bench({
  name: "scn run scenarios (fresh process; goal < 1 s)",
  group: "library",
  baseline: true,
  ignore: !canRun,
  n: 5,
  warmup: 1,
  fn: () => scn("scenarios"),
});

Deno.bench({
  name: "scn run --jobs 2 scenarios (fresh process)",
  group: "library",
  ignore: !canRun,
  n: 5,
  warmup: 1,
  fn: () => scn("--jobs", "2", "scenarios"),
});

Deno.bench({
  name: "scn run of one small scenario (fresh process; goal < 80 ms)",
  ignore: !canRun,
  n: 20,
  warmup: 2,
  fn: () => scn("scenarios/x86/readme_level_redelivery.scn"),
});
