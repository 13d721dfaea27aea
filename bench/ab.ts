/**
 * Two checkouts of irqlab compared in one process, so that both see the
 * same load: on a shared machine two separate bench runs can differ by
 * more than the change being measured, while alternating the two in one
 * process leaves only the difference.
 *
 * ```sh
 * git worktree add --detach /tmp/old <commit>
 * deno run --allow-read bench/ab.ts /tmp/old .           # old against this checkout
 * deno run --allow-read bench/ab.ts /tmp/old . 12        # 12 rounds (default 8)
 * ```
 *
 * Each checkout's own modules are imported under their own URLs, warmed
 * up, then run alternately, the order swapped every round:
 *
 * - the user path: `scn run bench/scenarios/msi_round_trips_1m.scn` through
 *   each checkout's `main` (one million MSI round trips), CPU ms per run;
 * - explore: deduplicated searches of `bench/scenarios/explore_interleave.scn`
 *   for 400 ms of CPU at a time, distinct states per CPU second.
 *
 * It prints each side's median and the new/old ratio of medians (for the
 * user path below 1 is faster, for explore above 1 is faster). Both
 * checkouts must have `lib/cli/main.ts`, `lib/api/scenario.ts` and
 * `lib/engine/explore.ts` with today's exports.
 *
 * @module
 */
import process from "node:process";

const [oldRoot, newRoot, roundsArg] = Deno.args;
if (oldRoot === undefined || newRoot === undefined) {
  console.error("usage: deno run --allow-read bench/ab.ts OLD_ROOT NEW_ROOT [rounds]");
  Deno.exit(2);
}
const rounds = Number(roundsArg ?? 8);
const here = (path: string) => new URL(path, import.meta.url).pathname;
const SCENARIO = here("./scenarios/msi_round_trips_1m.scn");
const SEARCH = Deno.readTextFileSync(here("./scenarios/explore_interleave.scn"));

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const url = (root: string, path: string) =>
  new URL(path, `file://${Deno.realPathSync(root)}/`).href;
const io = {
  out: () => {},
  err: (l: string) => console.error(l),
  color: false,
  writeFile: () => {},
};

interface Side {
  readonly root: string;
  userPath(): number;
  exploreRate(): number;
  readonly user: number[];
  readonly explore: number[];
}

async function side(root: string): Promise<Side> {
  const { main } = await import(url(root, "lib/cli/main.ts"));
  const { checkText } = await import(url(root, "lib/api/scenario.ts"));
  const { explore } = await import(url(root, "lib/engine/explore.ts"));
  const search = checkText(SEARCH, "explore_interleave.scn");
  const opts = { reduce: false };
  const states: number = explore(search, opts).stats.states;
  return {
    root,
    user: [],
    explore: [],
    userPath() {
      const t = cpuMs();
      if (main(["run", SCENARIO], io) !== 0) throw new Error(`${root}: the scenario failed`);
      return cpuMs() - t;
    },
    exploreRate() {
      const t = cpuMs();
      let n = 0;
      while (cpuMs() - t < 400) (explore(search, opts), n++);
      return Math.round(states * n / (cpuMs() - t) * 1000);
    },
  };
}

const sides = [await side(oldRoot), await side(newRoot)];
for (const s of sides) {
  s.userPath();
  s.exploreRate();
}
for (let r = 0; r < rounds; r++) {
  for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
    s.user.push(s.userPath());
    s.explore.push(s.exploreRate());
  }
}
const [o, n] = sides;
console.log(
  `user path, CPU ms per 1M round trips: old ${median(o.user).toFixed(0)}, ` +
    `new ${median(n.user).toFixed(0)}, new/old ${(median(n.user) / median(o.user)).toFixed(3)}`,
);
console.log(
  `explore dedup only, distinct states per CPU second: old ${median(o.explore)}, ` +
    `new ${median(n.explore)}, new/old ${(median(n.explore) / median(o.explore)).toFixed(3)}`,
);
