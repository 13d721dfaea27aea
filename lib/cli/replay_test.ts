/**
 * Failure reports pinned byte for byte. `scn run` runs without a trace and,
 * when an expectation fails, replays the scenario with the trace on to
 * explain it; these snapshots were taken before that change, when every
 * run kept its whole trace, so they prove the reports did not move.
 */
import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";
import { PLATFORMS } from "../api/platforms.ts";

const REPLAY = "tests/fixtures/replay";

function scn(args: string[], platforms?: Io["platforms"]): { code: number; out: string } {
  const out: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => out.push(`stderr: ${line}`),
    color: false,
    writeFile: () => {},
    // Platforms of the caller's own run every scenario with its whole trace, never lean.
    platforms,
  };
  const code = main(args, io);
  return { code, out: out.join("\n") };
}

Deno.test("failure reports: text, each failure's cause chain as a full trace gives it", async (t) => {
  await t.assertSnapshot(scn(["run", REPLAY, "tests/fixtures/cli/fail.scn"]));
});

Deno.test("failure reports: --json, failures' events and the took list", async (t) => {
  await t.assertSnapshot(scn(["run", "--json", REPLAY]));
});

Deno.test("failure reports: --trace prints the whole trace", async (t) => {
  await t.assertSnapshot(scn(["run", "--trace", "tests/fixtures/cli/fail.scn"]));
});

Deno.test("failure reports: expected failures of the library, as JSON", async (t) => {
  await t.assertSnapshot(
    scn([
      "run",
      "--json",
      "scenarios/seeds/001_unmask_bug.scn",
      "scenarios/seeds/002_vcpu_info_race.scn",
    ]),
  );
});

Deno.test("expected failures are not replayed for the text report, which is a traced run's byte for byte", () => {
  const xfails = [
    "tests/fixtures/cli/xfail.scn",
    "scenarios/seeds/001_unmask_bug.scn",
    "scenarios/seeds/002_vcpu_info_race.scn",
  ];
  for (const args of [["run"], ["run", "--junit", "-"], ["run", "--tap"], ["run", "--timeline"]]) {
    const lean = scn([...args, ...xfails]);
    if (args.length === 1) assert.match(lean.out, /\(3 expected failures/);
    assert.deepEqual(lean, scn([...args, ...xfails], PLATFORMS), args.join(" "));
  }
});
