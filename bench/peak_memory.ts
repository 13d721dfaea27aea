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
 * deno run --allow-read --allow-run bench/peak_memory.ts "parse heap"
 * ```
 *
 * Each line gives the case, its peak in MiB, the goal, and whether it was
 * met; a case that dies (V8 out of memory) says so with its exit code. The
 * 50 MB cases build their scenario in memory (`vcpu0: nop` lines): one
 * checks it as `scn check --max-input-bytes 60000000` does once the file is
 * read (`checkSource`, check only: skimmed, no timeline kept), one runs it
 * as `scn run --max-input-bytes 60000000` does, and one checks it with
 * `checkText`, which keeps the whole checked program.
 *
 * Then the heap a parse keeps, per input byte (goal: at most 10), for 1 MB
 * of `vcpu0: nop` lines and for the library's text repeated to 1 MB, each
 * parsed whole (`parse`, what `scn fmt`, `scn diff` and the API use: a text
 * this long gets a lazy body, its statements parsed again when read), skimmed
 * (`skim`, what checking uses), and, for comparison, parsed whole with every
 * statement read and kept (`[...parse().body]`, what `scn minimize` holds). It is measured in a child run with
 * `--expose-gc`: heap used (and memory outside it, for typed arrays) after a
 * full collection, with the tree kept, minus before.
 *
 * @module
 */
import { type Io, main } from "../lib/cli/main.ts";
import { checkText } from "../lib/api/scenario.ts";
import { checkSource } from "../lib/load/load.ts";
import { readLimits } from "../lib/load/read.ts";
import { runLoaded } from "../lib/cli/process.ts";
import { exitCodeOf } from "../lib/report/outcome.ts";
import { parse, skim } from "../dsl/parse.ts";
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
    name: "50 MB scenario (scn check)",
    goalMiB: 1024,
    run: () => {
      const text = nops(50);
      const source = { name: "nops.scn", path: "nops.scn", text, body: text, quote: text };
      const loaded = checkSource(source, { checkOnly: true, limits: readLimits(60_000_000) });
      return exitCodeOf([runLoaded(loaded, { mode: "check" })]);
    },
  },
  {
    name: "50 MB scenario (scn run)",
    goalMiB: 1024,
    run: () => {
      const text = nops(50);
      const source = { name: "nops.scn", path: "nops.scn", text, body: text, quote: text };
      const loaded = checkSource(source, { limits: readLimits(60_000_000) });
      return exitCodeOf([runLoaded(loaded, { mode: "run", lean: true })]);
    },
  },
  {
    name: "50 MB scenario (checkText, kept)",
    goalMiB: 1024,
    run: () => (checkText(nops(50), "nops.scn"), 0),
  },
];

/** The library's scenarios, one after another, repeated to at least `bytes`. */
function library(bytes: number): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.name.endsWith(".scn")) texts.push(Deno.readTextFileSync(p).replace(/\n?$/, "\n"));
    }
  };
  walk(`${HERE}../scenarios`);
  const one = texts.join("\n");
  return one.repeat(Math.ceil(bytes / one.length));
}

// What the parse being measured keeps; dropped before the next is measured.
const kept: unknown[] = [];

// Typed arrays (the line table) live outside the heap proper: count them too.
function used(): number {
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  gc();
  return Deno.memoryUsage().heapUsed + Deno.memoryUsage().external;
}

// In a frame of its own, so that no register of the caller still holds the
// previous tree when the next one is measured.
function keptPerByte(f: (text: string, name: string) => unknown, text: string): number {
  kept.length = 0;
  const before = used();
  kept.push(f(text, "in.scn"));
  return (used() - before) / text.length;
}

/** Heap a parse keeps per input byte; needs `--expose-gc`. */
function parseHeap(): Record<string, number> {
  const out: Record<string, number> = {};
  const inputs = { "1 MB of vcpu0: nop": nops(1), "the library, 1 MB": library(1e6) };
  for (const [what, text] of Object.entries(inputs)) {
    const ways = [
      ["parse", parse],
      ["skim", skim],
      ["parse, every statement kept", (t: string, n: string) => [...parse(t, n).body]],
    ] as const;
    for (const [how, f] of ways) {
      out[`${how}, ${what}`] = keptPerByte(f, text);
    }
  }
  return out;
}

/** The peak resident set of this process so far, in MiB (getrusage's ru_maxrss). */
function peakMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

if (Deno.args[0] === "--parse-heap") {
  console.log(JSON.stringify(parseHeap()));
} else if (Deno.args[0] === "--child") {
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
  if (!only || "parse heap".includes(only.toLowerCase())) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        "--parse-heap",
      ],
      stdout: "piped",
    }).output();
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, number>;
    for (const [what, perByte] of Object.entries(r)) {
      // Keeping every tree is no parse's doing: shown to compare, no goal.
      const met = what.includes("kept")
        ? "no goal"
        : perByte <= 10
        ? "goal <= 10: met"
        : "goal <= 10: MISSED";
      console.log(
        `${`parse heap: ${what}`.padEnd(60)} ${perByte.toFixed(1)} bytes per input byte (${met})`,
      );
    }
  }
}
