/**
 * `scn explore` throughput and time to the first counterexample.
 *
 * ```sh
 * deno task bench bench/explore_bench.ts
 * ```
 *
 * Reading the figures: each search bench is one whole search of the same
 * scenario (three vCPUs and a device, ten steps, 25200 orders); the line
 * printed before the benches gives the number of distinct states and of
 * states generated (choice points reached, duplicates included, as TLC
 * counts) of each search, so states per second = states / (time per
 * iteration); the line after it gives distinct states per second of the
 * dedup-only search in CPU and wall time, and the next one where that
 * search's time goes: restoring the snapshot taken at the block's first
 * choice (or running the scenario up to it) for every order, and
 * fingerprinting every state generated. The "first counterexample" benches are the time from a
 * checked program to the failing order, replayed with its trace, for the
 * seed-002 vcpu_info race (written in a passing order, so the search has
 * to find the losing one) and for an IOAPIC EOI race. The goals:
 * at least 100,000 states per second on one core, and the seed-002
 * counterexample in under a second.
 *
 * @module
 */
import { checkText } from "../lib/api/scenario.ts";
import { fileLoader } from "../lib/load/files.ts";
import { explore, type ExploreOptions } from "../lib/engine/explore.ts";
import { Fingerprinter } from "../lib/engine/explore_fingerprint.ts";
import { runProgram, type RunState } from "../lib/engine/run.ts";
import { X86Vm } from "../lib/x86/vm.ts";
import process from "node:process";

// The dedup-only figure's search: three vCPUs and a device interleave (bench/ab.ts runs it too).
const SEARCH = Deno.readTextFileSync(
  new URL("./scenarios/explore_interleave.scn", import.meta.url),
);

// One IOAPIC level race shared by the explore tests and bench: the EOI can come before the line drops.
const RACE = Deno.readTextFileSync(
  new URL("../tests/fixtures/explore/eoi_before_deassert.scn", import.meta.url),
);

/**
 * Seed 002 as the library writes it runs its parallel block in the losing
 * order (and expects the failure); here the send comes last as written, so
 * the written order passes and explore has to find the losing one.
 */
function seed002(): string | null {
  let text: string;
  try {
    text = Deno.readTextFileSync("scenarios/seeds/002_vcpu_info_race.scn");
  } catch {
    return null;
  }
  // `expect failure "why": COND` marks the expectation known to fail; here it is expected to hold.
  const lines = text.split("\n").map((l) => l.replace(/^expect failure "[^"]*":\s*/, "expect "));
  const send = lines.findIndex((l) => /^\s*xen: send/.test(l));
  const close = lines.findIndex((l, i) => i > send && /^\}/.test(l));
  if (send < 0 || close < 0) return null;
  const [s] = lines.splice(send, 1);
  lines.splice(close - 1, 0, s);
  return lines.join("\n");
}

const search = checkText(SEARCH, "bench_search.scn");
const race = checkText(RACE, "bench_race.scn");
const seedText = seed002();
const seed = seedText === null
  ? null
  : checkText(seedText, "scenarios/seeds/002_vcpu_info_race.scn", { load: fileLoader });

const MODES: [string, ExploreOptions][] = [
  ["full search (no reduction, no dedup)", { reduce: false, dedup: false }],
  ["reduction only", { dedup: false }],
  ["dedup only", { reduce: false }],
  ["reduction + dedup", {}],
];

// Check what the benches measure, and print the state counts to divide by.
{
  const counts = MODES.map(([name, o]) => {
    const r = explore(search, o);
    if (r.status !== "pass" || r.orders !== 25200n) throw new Error(`bench search broken: ${name}`);
    return `${name}: ${r.stats.states} states (${r.stats.generated} generated), ${r.stats.runs} runs`;
  });
  if (explore(race).counterexample?.token !== "8:2,3,0,1") throw new Error("bench race broken");
  if (seed && explore(seed).status !== "fail") {
    throw new Error("seed 002 variant has no failing order");
  }
  console.log(`explore bench, 25200 orders: ${counts.join("; ")}`);
}

// The figure, distinct states per second with deduplication, read
// straight off: the dedup-only search repeated for two seconds, in CPU time
// (which a loaded machine stretches less than the wall clock) and wall time.
{
  const options: ExploreOptions = { reduce: false };
  const states = explore(search, options).stats.states;
  for (let i = 0; i < 50; i++) explore(search, options);
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const c0 = cpuMs(), w0 = performance.now();
  let n = 0;
  while (performance.now() - w0 < 2000) (explore(search, options), n++);
  const cpu = cpuMs() - c0, wall = performance.now() - w0;
  const rate = (ms: number) => Math.round(states * n / ms * 1000);
  console.log(
    `dedup only: ${rate(cpu)} distinct states/s in CPU time, ${rate(wall)} wall ` +
      `(${n} searches of ${states} states; goal: 100000)`,
  );

  // Where that time goes, and so what a design can gain. Each order (a
  // run, in the counts) starts from a snapshot of the state at the block's
  // first choice, or by running the scenario up to there (the first order,
  // and those after an order that left the block); every state generated
  // is fingerprinted. Per search: restores × the first, fresh runs × the
  // second, generated × the third; the replayed choices and the scheduler
  // are the rest. The fingerprints bound the rate from above.
  const stats = explore(search, options).stats;
  let restores = 0;
  const saving = X86Vm.prototype.snapshot;
  X86Vm.prototype.snapshot = function (this: X86Vm) {
    const r = saving.call(this);
    return r && (() => (restores++, r()));
  };
  try {
    explore(search, options);
  } finally {
    X86Vm.prototype.snapshot = saving;
  }
  const stop = {};
  let first: RunState | null = null;
  let restore: (() => boolean) | null = null;
  const toFirstChoice = () => {
    try {
      runProgram(search, {
        scheduler: {
          next(_b, _d, s) {
            first = s;
            throw stop;
          },
        },
        trace: false,
        history: "counts",
      });
    } catch (e) {
      if (e !== stop) throw e;
    }
  };
  const perCall = (f: () => void) => {
    for (let i = 0; i < 500; i++) f();
    const c = cpuMs();
    for (let i = 0; i < 5000; i++) f();
    return (cpuMs() - c) / 5000 * 1000;
  };
  const setUpUs = perCall(toFirstChoice);
  restore = (first as RunState | null)?.snapshot?.() ?? null;
  if (restore === null) throw new Error("bench search: no snapshot at the first choice");
  const restoreUs = perCall(() => restore!());
  const fingerprinter = new Fingerprinter(search);
  const fingerprintUs = perCall(() => fingerprinter.of(first!, [0, 0]));
  const searchUs = cpu / n * 1000;
  const share = (us: number) => `${Math.round(100 * us / searchUs)}%`;
  const fresh = stats.runs - restores;
  console.log(
    `dedup only, per search (${Math.round(searchUs)} µs CPU): ${stats.runs} orders, ` +
      `${restores} from the snapshot × ${restoreUs.toFixed(1)} µs to restore it = ` +
      `${share(restores * restoreUs)}, ${fresh} by running the scenario × ` +
      `${setUpUs.toFixed(1)} µs to create the VM and reach the first choice = ` +
      `${share(fresh * setUpUs)}; ${stats.generated} states generated × ` +
      `${fingerprintUs.toFixed(1)} µs per fingerprint = ${
        share(stats.generated * fingerprintUs)
      }; fingerprints alone allow ${
        Math.round(states / (stats.generated * fingerprintUs) * 1e6)
      } distinct states/s`,
  );
}

for (const [name, options] of MODES) {
  Deno.bench({
    name: `search: ${name}`,
    group: "search",
    baseline: name.startsWith("full"),
    fn() {
      explore(search, options);
    },
  });
}

if (seed) {
  Deno.bench({
    name: "first counterexample: seed 002 vcpu_info race",
    group: "first",
    baseline: true,
    fn() {
      explore(seed);
    },
  });
}

Deno.bench({
  name: "first counterexample: IOAPIC EOI before the line drops (2 deviations)",
  group: "first",
  fn() {
    explore(race);
  },
});
