/**
 * Peak memory of the user's path, one case per process, against the goals
 * of issue 14. `deno bench` shares one heap between benches, so peak
 * resident memory is measured here instead: each case runs in a child
 * process through the command line's own entry (`main`), which then reads
 * its own high-water mark (getrusage's maxrss, as `/usr/bin/time -v` shows).
 *
 * ```sh
 * deno run --allow-read --allow-run bench/peak_memory.ts          # every case
 * deno run --allow-read --allow-run bench/peak_memory.ts pulse    # one case
 * ```
 *
 * Each line gives the case, its peak in MiB, the goal, and whether it was
 * met; a case that dies (V8 out of memory) says so with its exit code. The
 * 50 MB case builds its scenario in memory (`vcpu0: nop` lines) and checks
 * it with `checkText`, the same parse and check `scn check` does.
 *
 * @module
 */
import { type Io, main } from "../lib/cli/main.ts";
import { checkText } from "../lib/api/scenario.ts";
import process from "node:process";

const HERE = new URL("./", import.meta.url).pathname;

interface Case {
  name: string;
  goalMiB: number;
  run: () => number;
}

function scn(args: string[]): number {
  const io: Io = { out: () => {}, err: (l) => console.error(l), color: false, writeFile: () => {} };
  return main(args, io);
}

function nops(megabytes: number): string {
  const line = "vcpu0: nop\n";
  return 'scenario "nops"\nvm guest { arch x86_64 }\n' +
    line.repeat(Math.floor(megabytes * 1e6 / line.length));
}

const CASES: Case[] = [
  {
    name: "1M MSI round trips (scn run)",
    goalMiB: 150,
    run: () => scn(["run", `${HERE}scenarios/msi_round_trips_1m.scn`]),
  },
  {
    name: "10M MSI round trips (scn run)",
    goalMiB: 150,
    run: () => scn(["run", "--max-steps", "1000000", `${HERE}scenarios/msi_round_trips_10m.scn`]),
  },
  {
    name: "999 x 999 pulses (scn run)",
    goalMiB: 300,
    run: () => scn(["run", `${HERE}scenarios/pulse_999x999.scn`]),
  },
  {
    name: "50 MB scenario (parse + check)",
    goalMiB: 1024,
    run: () => (checkText(nops(50), "nops.scn"), 0),
  },
];

/** The peak resident set of this process so far, in MiB (getrusage's ru_maxrss). */
function peakMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

if (Deno.args[0] === "--child") {
  const c = CASES.find((x) => x.name === Deno.args[1])!;
  const code = c.run();
  console.log(JSON.stringify({ code, peakMiB: peakMiB() }));
} else {
  const only = Deno.args[0];
  for (const c of CASES) {
    if (only && !c.name.toLowerCase().includes(only.toLowerCase())) continue;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", new URL(import.meta.url).pathname, "--child", c.name],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    let line: string;
    try {
      const r = JSON.parse(text) as { code: number; peakMiB: number };
      const met = r.peakMiB <= c.goalMiB ? "met" : "MISSED";
      line = `${r.peakMiB.toFixed(0)} MiB peak (goal <= ${c.goalMiB} MiB: ${met}), exit ${r.code}`;
    } catch {
      line = `died (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? ""
      }`;
    }
    console.log(`${c.name.padEnd(34)} ${line}`);
  }
}
