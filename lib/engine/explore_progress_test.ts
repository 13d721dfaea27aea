import assert from "node:assert/strict";
import { checkText } from "../api/scenario.ts";
import { explore, type ExploreStats } from "./explore.ts";

const RACE = "scenarios/races/ioapic_level_eoi_vs_reassert.scn";

Deno.test("explore() reports its counts after every run, and the answer does not depend on it", () => {
  const program = () => checkText(Deno.readTextFileSync(RACE), RACE);
  const seen: ExploreStats[] = [];
  const watched = explore(program(), { progress: (s) => void seen.push({ ...s }) });
  const plain = explore(program());
  assert.deepEqual(watched, plain);
  assert.equal(seen.length, plain.stats.runs);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].runs === seen[i - 1].runs + 1);
    assert.ok(seen[i].states >= seen[i - 1].states);
  }
});
