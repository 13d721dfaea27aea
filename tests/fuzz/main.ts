/**
 * The seeded `.scn` fuzzer.
 *
 * ```sh
 * deno task fuzz --count 10000 --seed 1     # mutate the corpus, run every mutant
 * deno task fuzz --replay 1:4711            # re-run one mutant, print it and its stack
 * ```
 *
 * The corpus is every `.scn` under `scenarios/` plus a few built-in seeds that
 * use the rest of the language (handlers, loops, timers, routing tables, two
 * VMs, includes). Each mutant goes through parse, check and run with a small
 * step budget, then through the text and JSON reports, and ends as one of:
 *
 * - result: it ran (pass, fail, xfail or xpass);
 * - located error: a `ScnError` whose diagnostics (and related notes) all have
 *   a location with line >= 1 and column >= 1;
 * - CRASH: anything else thrown (or an unlocated `ScnError`). Crashes are
 *   printed with their replay token `seed:index`, the mutant text and the
 *   stack, and make the exit code 1.
 *
 * Hang guard: runs are bounded by `--max-steps`; mutants slower than
 * `--slow-ms` are listed at the end with their replay tokens, since a slow
 * mutant is a hang risk at the default budget.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, relative } from "node:path";
import { runText } from "../../lib/api/scenario.ts";
import { type Diagnostic, formatDiagnostic, ScnError } from "../../lib/core/diagnostic.ts";
import { processTarget } from "../../lib/cli/process.ts";
import type { Outcome } from "../../lib/report/outcome.ts";
import { textReport } from "../../lib/report/text.ts";
import { jsonReport } from "../../lib/report/json.ts";
import { Progress } from "../../lib/report/progress.ts";
import { buildPool, capLoops, makeMutant, type Mutant, mutantRng, type Pool } from "./mutate.ts";

/** One file the mutants are made from. */
export interface CorpusFile {
  name: string;
  text: string;
}

/** Seeds that reach what the library's scenarios may not (yet). */
export const BUILTIN_SEEDS: readonly CorpusFile[] = [
  {
    name: "builtin/ioapic_loops.scn",
    text: `scenario "IOAPIC interrupt with handlers, loops and invariants"
tags x86, ioapic, fuzz-seed
link "https://example.invalid/x"
irqlab 1

vm guest {
  arch x86_64
  vcpus 2
  irqchip kernel
  lowest_priority first
  routing qemu
}

on vcpu0 vector 0x30..0x3f {
  eoi; nop
}
on vcpu1 nmi {
  nop; nop
}

let $v = 0x31
vcpu0: lapic enable spurious=0xff
vcpu1: lapic enable
vcpu0: write ioapic.redtbl[4] vector=0x31 trigger=level mask=0
vcpu0: write lapic.tpr 0x20
vcpu0: sti
always vcpu0.lapic.ppr <= 0xff
repeat 3 {
  device uart: pulse gsi=4 -> $s
  run
  device uart: deassert gsi=4 -> $d
}
for $p in 0..3 {
  vcpu1: ipi vector=0x41 dest=$p shorthand=none
}
parallel {
  vmm: kvm irq_line gsi=4 level=1
  vmm: kvm signal_msi address=0xfee00000 data=0x32 -> $r
}
run 5ms
vcpu0: if vcpu0.if == 1 { nop } else { cli }
expect vcpu0 took [0x31, 0x32] in order
expect vcpu0 took 0x31 3 times
expect vcpu0.lapic.isr == {} and not vcpu1.halted
expect ($r > 0 or $r == -22) and $s >= 0
expect vcpu0.lapic.svr.vector == 0xff
expect ioapic.pin[4].remote_irr == 0
vcpu0: read lapic.ppr -> $x
vcpu1: hlt
run 1ms
`,
  },
  {
    name: "builtin/split_routing.scn",
    text: `scenario "split irqchip with a routing table, KVM_INTERRUPT and a timer"
tags x86, split
expect failure "seed: may fail"

vm g {
  arch x86_64
  vcpus 3
  irqchip split
}
vmm: kvm set_gsi_routing {
  gsi=5 address_lo=0xfee00000 data=0x45
  gsi=6 address_lo=0xfee02000 address_hi=0 data=0x46
} -> $rc
expect $rc == 0
vcpu0: lapic enable
vcpu1: lapic enable
vcpu2: lapic enable
vcpu0: write lapic.lvt0 vector=0 delivery_mode=extint mask=unmasked
vmm: kvm interrupt vcpu=0 vector=0x20 -> $q
vcpu0: sti
vcpu0: nop
run
expect vcpu0 took 0x20 once
vmm: kvm irq_line gsi=5 level=1
vmm: kvm irq_line gsi=6 level=1
vcpu2: sti
run 250ns
expect vcpu2 took 0x46 once
expect vcpu1 took nothing
vcpu1: sti
vcpu1: write lapic.lvt_timer vector=0x50 timer_mode=periodic
vcpu1: write lapic.timer_divide 0xb
vcpu1: write lapic.timer_initial_count 1000
run 10us
expect vcpu1 took 0x50 10 times
vcpu0: in port=0x21 -> $b
vcpu0: out port=0x20 value=0x11
vcpu0: inta -> $i
expect vcpu1.lapic.timer_current_count <= 1000
run 10us
`,
  },
  {
    name: "builtin/pic_extint.scn",
    text: `scenario "kernel PIC ExtINT"
vm guest { arch x86_64 vcpus 1 }
on vcpu0 vector 0x20 { eoi; out port=0x20 value=0x20 }
vcpu0: out port=0x20 value=0x11
vcpu0: out port=0x21 value=0x20
vcpu0: out port=0x21 value=0x04
vcpu0: out port=0x21 value=0x01
vcpu0: out port=0x21 value=0x00
vcpu0: lapic enable
vcpu0: write lapic.lvt0 delivery_mode=extint
vcpu0: sti
device pit: pulse gsi=0
run
expect vcpu0 took 0x20 once
expect vcpu0.depth == 0
`,
  },
  {
    name: "builtin/two_vms.scn",
    text: `scenario "two VMs, IPIs, NMI and an include"
include "builtin/common.scn"
vm b { arch x86_64 vcpus 2 lapic xapic hypervisor kvm }
on a.vcpu1 vector 0x60 { eoi; nop }
a.vcpu1: lapic enable
b.vcpu0: lapic enable
a.vcpu1: sti
a.vcpu0: ipi vector=0x60 dest=1
a.vcpu0: ipi delivery_mode=nmi dest=1
b.vcpu1: ipi vector=0x61 shorthand=all_but_self trigger=level level=1
a.vcpu0: write lapic.ldr logical_id=0x1
a.vcpu0: write lapic.dfr model=flat
b.vcpu0: ipi vector=0x62 dest=0x3 dest_mode=logical delivery_mode=lowest
run
expect a.vcpu1 took 0x60 once
expect b.vcpu0.lapic.irr != {0x62} or b.vcpu0.lapic.ppr >= 0
`,
  },
  {
    name: "builtin/common.scn",
    text: `# a fragment for include
vm a {
  arch x86_64
  vcpus 2
}
let $common = 1
`,
  },
];

const PROBE_HEADER = 'scenario "probe"\nvm g { arch x86_64 vcpus 1 }\n';
const STORM = `on vcpu0 vector 0x31 { eoi; nop }
vcpu0: lapic enable
vcpu0: write ioapic.redtbl[4] vector=0x31 trigger=level mask=0
vcpu0: sti
`;

/**
 * Hand-written inputs for the risks mutation rarely reaches: deep nesting,
 * long chains, large ranges evaluated in loops, interrupt storms with
 * long histories. Run with `--probes` (at the command line's default budget).
 */
export const PROBES: readonly CorpusFile[] = [
  {
    name: "probe/deep_blocks",
    text: PROBE_HEADER + "repeat 1 {\n".repeat(3000) + "}\n".repeat(3000),
  },
  {
    name: "probe/deep_parens",
    text: PROBE_HEADER + "expect " + "(".repeat(3000) + "1" + ")".repeat(3000) + "\n",
  },
  { name: "probe/deep_not", text: PROBE_HEADER + "expect " + "not ".repeat(10000) + "1\n" },
  {
    name: "probe/long_or",
    text: PROBE_HEADER + "expect " + Array(20000).fill("0").join(" or ") + "\n",
  },
  {
    name: "probe/deep_word_block",
    text: PROBE_HEADER + "vm h " + "{ ".repeat(8000) + "}".repeat(8000) + "\n",
  },
  {
    name: "probe/storm_report",
    text: PROBE_HEADER + STORM +
      "repeat 3 {\n  vmm: kvm irq_line gsi=4 level=1\n  run\n  vmm: kvm irq_line gsi=4 level=0\n}\n" +
      "expect vcpu0 took 0x31 once\n",
  },
  {
    name: "probe/storm_always_took",
    text: PROBE_HEADER + STORM +
      "always vcpu0 took 0x31 once or 1\nvmm: kvm irq_line gsi=4 level=1\nrun\n",
  },
  {
    // \`run\` restarts the step budget, so the loop around it is never stopped
    // (with 0x7fffffff instead of 300000 this runs for hours).
    name: "probe/repeat_run_resets_budget",
    text: PROBE_HEADER + "repeat 300000 {\n  run\n}\n",
  },
  {
    name: "probe/let_range_in_repeat",
    text: PROBE_HEADER + "repeat 20000 { let $x = 0..100000 }\n",
  },
  {
    name: "probe/expect_range_in_repeat",
    text: PROBE_HEADER + "let $y = 0..100000\nrepeat 5000 { expect $y == 0..100000 }\n",
  },
  {
    name: "probe/always_range",
    text: PROBE_HEADER + "always 0..100000 != 5\nrepeat 5000 { vcpu0: nop }\n",
  },
  { name: "probe/many_statements", text: PROBE_HEADER + "vcpu0: nop\n".repeat(100000) },
  { name: "probe/long_identifier", text: PROBE_HEADER + "vcpu0: " + "x".repeat(100000) + "\n" },
  {
    name: "probe/huge_duration",
    text: PROBE_HEADER + "run 99999999999999999999999999s\nrun 1ns\n",
  },
];

/** A short hash of the corpus (FNV-1a), printed so a replay can tell it uses the same corpus. */
export function fingerprint(corpus: readonly CorpusFile[]): string {
  let h = 0x811c9dc5;
  for (const f of corpus) {
    for (const ch of f.name + "\0" + f.text + "\0") {
      h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, "0");
}

/** Reads every `.scn` under `dir`, sorted by path. */
export function loadCorpus(dir = "scenarios"): CorpusFile[] {
  const out: CorpusFile[] = [];
  const walk = (d: string) => {
    const entries = [...Deno.readDirSync(d)].sort((a, b) => a.name < b.name ? -1 : 1);
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else if (e.isFile && e.name.endsWith(".scn")) {
        out.push({ name: p, text: Deno.readTextFileSync(p) });
      }
    }
  };
  walk(dir);
  return out;
}

/** How one mutant ended. */
export type Verdict =
  | { kind: "result"; status: string }
  | { kind: "error"; errorKind: string }
  | { kind: "crash"; error: unknown; stage: string };

/** Options for {@link runOne} and {@link fuzz}. */
export interface FuzzOptions {
  /** Step budget of one `run` (small, so runaway mutants end quickly). */
  maxSteps: number;
  /** Also render the text and JSON reports, as the command line would. */
  reports: boolean;
  /**
   * A folder to write each mutant into, then run it through the one way in
   * (`lib/load/load.ts`, as `scn run` does): as a `.scn` that includes a
   * fragment of itself, inside a Markdown ```scn block, and quoted in an
   * email reply. The same few files are overwritten each time.
   */
  frontDoor?: string;
}

const DEFAULT_OPTIONS: FuzzOptions = { maxSteps: 20_000, reports: true };

function located(e: ScnError): boolean {
  const ok = (l: unknown) => {
    const loc = l as { source?: unknown; start?: { line?: unknown; column?: unknown } } | undefined;
    return typeof loc?.source === "string" && typeof loc.start?.line === "number" &&
      typeof loc.start.column === "number" && loc.start.line >= 1 && loc.start.column >= 1;
  };
  return e.diagnostics.length > 0 &&
    e.diagnostics.every((d) => ok(d.loc) && (d.related ?? []).every((r) => ok(r.loc)));
}

/** Makes includes resolve to corpus files, by path or by base name. */
export function corpusLoader(corpus: readonly CorpusFile[]) {
  return (path: string): { name: string; text: string } | undefined =>
    corpus.find((f) => f.name === path || f.name.endsWith("/" + path));
}

/** Runs one text through parse, check, run (and the reports); never throws. */
export function runOne(
  text: string,
  name: string,
  corpus: readonly CorpusFile[],
  options: FuzzOptions = DEFAULT_OPTIONS,
): Verdict {
  let outcome: Outcome;
  let verdict: Verdict;
  try {
    const result = runText(text, name, { maxSteps: options.maxSteps, load: corpusLoader(corpus) });
    outcome = { kind: "result", file: name, result };
    verdict = { kind: "result", status: result.status };
  } catch (e) {
    if (!(e instanceof ScnError)) return { kind: "crash", error: e, stage: "parse/check/run" };
    if (!located(e)) {
      return { kind: "crash", error: e, stage: "unlocated ScnError" };
    }
    const sources = new Map<string, string>([
      [name, text],
      ...corpus.map((f) => [f.name, f.text] as [string, string]),
    ]);
    outcome = { kind: "input-error", file: name, diagnostics: e.diagnostics, sources };
    verdict = { kind: "error", errorKind: e.diagnostics[0].kind };
  }
  if (options.frontDoor !== undefined) {
    const crash = frontDoor(text, options.frontDoor, options.maxSteps);
    if (crash) return crash;
  }
  if (options.reports) {
    try {
      textReport([outcome], { trace: false, replay: (f) => `deno task scn run ${f} --trace` });
      jsonReport([outcome]);
      if (outcome.kind === "input-error") {
        const src = outcome.sources;
        for (const d of outcome.diagnostics) formatDiagnostic(d, (s) => src.get(s));
      }
    } catch (e) {
      return { kind: "crash", error: e, stage: "report" };
    }
  }
  return verdict;
}

/**
 * Runs `text` through the file loader as the command line would, written
 * into `dir` three ways; a crash when an outcome is an internal error or a
 * diagnostic without a location, or a report throws.
 */
function frontDoor(text: string, dir: string, maxSteps: number): Verdict | undefined {
  const lines = text.split("\n");
  // The second half as a fragment the first half includes (metadata stays in the main file).
  const cut = Math.floor(lines.length / 2);
  const fragment = lines.slice(cut).filter((l) =>
    !/^\s*(scenario|tags|link|irqlab|expect failure)\b/.test(l)
  );
  Deno.writeTextFileSync(`${dir}/_frag.scn`, fragment.join("\n") + "\n");
  Deno.writeTextFileSync(
    `${dir}/main.scn`,
    [...lines.slice(0, cut), 'include "_frag.scn"'].join("\n") + "\n",
  );
  Deno.writeTextFileSync(`${dir}/bug.md`, `# Report\n\n\`\`\`scn\n${text}\n\`\`\`\n\nThanks.\n`);
  Deno.writeTextFileSync(
    `${dir}/reply.eml`,
    `From: a@example.org\nSubject: Re: bug\n\nB wrote:\n${
      text.split("\n").map((l) => `> ${l}`).join("\n")
    }\n\nAny idea?\n`,
  );
  for (const target of ["main.scn", "bug.md", "reply.eml"]) {
    let outcomes: Outcome[];
    try {
      outcomes = processTarget(`${dir}/${target}`, { mode: "run", maxSteps });
      textReport(outcomes, { trace: false, replay: (f) => f });
    } catch (e) {
      return { kind: "crash", error: e, stage: `front door (${target})` };
    }
    for (const o of outcomes) {
      if (o.kind === "internal-error") {
        return { kind: "crash", error: new Error(o.message), stage: `front door (${target})` };
      }
      if (o.kind === "input-error" && !located(new ScnError(...o.diagnostics as [Diagnostic]))) {
        return { kind: "crash", error: new Error("unlocated"), stage: `front door (${target})` };
      }
    }
  }
  return undefined;
}

/** One crash: how to replay it and what it threw. */
export interface Crash {
  token: string;
  index: number;
  mutant: Mutant & { base: string; capped: boolean };
  stage: string;
  error: unknown;
}

/** Totals of a fuzzing run. */
export interface FuzzSummary {
  count: number;
  results: number;
  statuses: Record<string, number>;
  errors: number;
  errorKinds: Record<string, number>;
  /** Mutants whose loop counts were capped (hang guard). */
  capped: number;
  crashes: Crash[];
  /** Mutants slower than the threshold: replay token and milliseconds. */
  slow: { token: string; ms: number; verdict: string }[];
  ms: number;
}

/**
 * Regenerates mutant `index` of seed `seed`, with loop counts capped
 * ({@link capLoops}; `capped` says whether that changed it).
 */
export function mutantOf(
  corpus: readonly CorpusFile[],
  pool: Pool,
  seed: number,
  index: number,
): Mutant & { base: string; capped: boolean } {
  const m = makeMutant(corpus, pool, mutantRng(seed, index));
  const text = capLoops(m.text);
  return { ...m, text, capped: text !== m.text };
}

/** Runs `count` mutants from `start`; `progress` is called now and then. */
export function fuzz(
  corpus: readonly CorpusFile[],
  seed: number,
  count: number,
  options: FuzzOptions & {
    start?: number;
    slowMs?: number;
    progress?: (done: number, s: FuzzSummary) => void;
    /** Called after every mutant with the count done and the crashes so far (a progress line). */
    tick?: (done: number, crashes: number) => void;
    /** Called before each mutant runs (for finding a hang). */
    before?: (index: number) => void;
    onCrash?: (c: Crash) => void;
    /** Called when a mutant took longer than `slowMs`, with its text. */
    onSlow?: (token: string, ms: number, verdict: string, text: string) => void;
  } = DEFAULT_OPTIONS,
): FuzzSummary {
  const pool = buildPool(corpus.map((f) => f.text));
  const s: FuzzSummary = {
    count: 0,
    results: 0,
    statuses: {},
    errors: 0,
    errorKinds: {},
    capped: 0,
    crashes: [],
    slow: [],
    ms: 0,
  };
  const t0 = performance.now();
  const start = options.start ?? 0;
  const every = Math.max(1, Math.floor(count / 20));
  for (let i = start; i < start + count; i++) {
    const m = mutantOf(corpus, pool, seed, i);
    options.before?.(i);
    const t = performance.now();
    const v = runOne(m.text, m.base, corpus, options);
    const dt = performance.now() - t;
    s.count++;
    if (m.capped) s.capped++;
    if (v.kind === "result") {
      s.results++;
      s.statuses[v.status] = (s.statuses[v.status] ?? 0) + 1;
    } else if (v.kind === "error") {
      s.errors++;
      s.errorKinds[v.errorKind] = (s.errorKinds[v.errorKind] ?? 0) + 1;
    } else {
      const c: Crash = {
        token: `${seed}:${i}`,
        index: i,
        mutant: m,
        stage: v.stage,
        error: v.error,
      };
      s.crashes.push(c);
      options.onCrash?.(c);
    }
    if (dt > (options.slowMs ?? 1000)) {
      const slow = {
        token: `${seed}:${i}`,
        ms: Math.round(dt),
        verdict: v.kind === "result" ? v.status : v.kind === "error" ? v.errorKind : "crash",
      };
      s.slow.push(slow);
      options.onSlow?.(slow.token, slow.ms, slow.verdict, m.text);
    }
    options.tick?.(i - start + 1, s.crashes.length);
    if ((i - start + 1) % every === 0) {
      s.ms = performance.now() - t0;
      options.progress?.(i - start + 1, s);
    }
  }
  s.ms = performance.now() - t0;
  return s;
}

function describeError(e: unknown): string {
  if (e instanceof ScnError) {
    return `${e.stack}\ndiagnostics: ${JSON.stringify(e.diagnostics, null, 2)}`;
  }
  return e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
}

function printCrash(c: Crash): void {
  console.log(
    `CRASH ${c.token} (${c.stage}) base=${c.mutant.base} mutators=${c.mutant.ops.join(",")}`,
  );
  console.log(`  replay: deno task fuzz --replay ${c.token}`);
  console.log("----- mutant -----");
  console.log(c.mutant.text);
  console.log("----- stack -----");
  console.log(describeError(c.error));
  console.log("------------------");
}

function counts(r: Record<string, number>): string {
  return Object.entries(r).sort().map(([k, v]) => `${k}=${v}`).join(" ");
}

function summaryLine(s: FuzzSummary): string {
  const rate = s.ms > 0 ? Math.round(s.count / (s.ms / 1000)) : 0;
  return `${s.count} mutants: ${s.results} results (${counts(s.statuses)}), ` +
    `${s.errors} located errors (${counts(s.errorKinds)}), ${s.crashes.length} crashes; ` +
    `${s.capped} loop-capped; ` +
    `${(s.ms / 1000).toFixed(1)}s, ${rate}/s`;
}

const USAGE =
  `usage: deno task fuzz [--count N] [--seed S] [--start I] [--max-steps N] [--slow-ms MS]
                       [--dir scenarios] [--no-builtin] [--no-reports] [--show-crashes N]
                       [--front-door DIR]  (also through the file loader, in DIR: --allow-write=DIR)
       deno task fuzz --replay S:I
       deno task fuzz --probes [--max-steps N]`;

function int(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`--${name} needs a whole number >= 0, not '${v}'`);
  }
  return n;
}

/** The command line; returns the exit code. */
export function main(args: string[]): number {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        count: { type: "string" },
        seed: { type: "string" },
        start: { type: "string" },
        "max-steps": { type: "string" },
        "slow-ms": { type: "string" },
        dir: { type: "string", default: "scenarios" },
        "no-builtin": { type: "boolean", default: false },
        "no-reports": { type: "boolean", default: false },
        "show-crashes": { type: "string" },
        "front-door": { type: "string" },
        replay: { type: "string" },
        probes: { type: "boolean", default: false },
        "log-index": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`fuzz: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let count, seed, start, maxSteps, slowMs, showCrashes;
  try {
    count = int("count", values.count, 1000);
    seed = int("seed", values.seed, 1);
    start = int("start", values.start, 0);
    maxSteps = int("max-steps", values["max-steps"], 20_000);
    slowMs = int("slow-ms", values["slow-ms"], 1000);
    showCrashes = int("show-crashes", values["show-crashes"], 10);
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const corpus = [
    ...loadCorpus(values.dir).map((f) => ({ ...f, name: relative(".", f.name) })),
    ...(values["no-builtin"] ? [] : BUILTIN_SEEDS),
  ];
  if (corpus.length === 0) {
    console.error(`fuzz: no .scn files under '${values.dir}'`);
    return 2;
  }
  const options = { maxSteps, reports: !values["no-reports"], slowMs };

  if (values.probes) {
    const budget = values["max-steps"] === undefined ? 100_000 : maxSteps;
    let crashes = 0;
    for (const p of PROBES) {
      const t = performance.now();
      const v = runOne(p.text, p.name, corpus, { ...options, maxSteps: budget });
      const ms = Math.round(performance.now() - t);
      if (v.kind === "crash") {
        crashes++;
        const stack = describeError(v.error).split("\n").slice(0, 6).join("\n    ");
        console.log(`CRASH ${p.name} (${v.stage}) ${ms}ms\n    ${stack}`);
      } else {
        const what = v.kind === "result" ? `result ${v.status}` : `located error ${v.errorKind}`;
        console.log(`${ms > slowMs ? "SLOW " : "ok   "} ${p.name}: ${what} in ${ms}ms`);
      }
    }
    console.log(`probes: ${PROBES.length} run at max-steps ${budget}, ${crashes} crashes`);
    return crashes > 0 ? 1 : 0;
  }

  if (values.replay !== undefined) {
    const m = /^(\d+):(\d+)$/.exec(values.replay);
    if (!m) {
      console.error(`fuzz: --replay takes SEED:INDEX, not '${values.replay}'`);
      return 2;
    }
    const [s, i] = [Number(m[1]), Number(m[2])];
    const pool = buildPool(corpus.map((f) => f.text));
    const mutant = mutantOf(corpus, pool, s, i);
    console.log(
      `mutant ${s}:${i} base=${mutant.base} mutators=${mutant.ops.join(",")} ` +
        `corpus=${fingerprint(corpus)}${mutant.capped ? " (loop counts capped)" : ""}`,
    );
    console.log("----- mutant -----");
    console.log(mutant.text);
    console.log("------------------");
    const t = performance.now();
    const v = runOne(mutant.text, mutant.base, corpus, options);
    const ms = (performance.now() - t).toFixed(1);
    if (v.kind === "crash") {
      console.log(`CRASH (${v.stage}) in ${ms}ms`);
      console.log(describeError(v.error));
      return 1;
    }
    console.log(
      v.kind === "result"
        ? `result: ${v.status} in ${ms}ms`
        : `located error: ${v.errorKind} in ${ms}ms`,
    );
    return 0;
  }

  console.log(
    `fuzzing ${corpus.length} corpus files (${BUILTIN_SEEDS.length} built in; ` +
      `fingerprint ${fingerprint(corpus)}); ` +
      `seed ${seed}, mutants ${start}..${start + count - 1}, max-steps ${maxSteps}`,
  );
  let shown = 0;
  // On a terminal, one line on stderr redrawn in place; in a log, a line now and then.
  const line = new Progress({
    label: "fuzz",
    total: count,
    failures: "crashes",
    enabled: !values["log-index"],
  });
  const summary = fuzz(corpus, seed, count, {
    ...options,
    frontDoor: values["front-door"],
    start,
    before: values["log-index"] ? (i) => console.error(`> ${seed}:${i}`) : undefined,
    tick: (done, crashes) => line.update(done, crashes),
    progress: line.shown
      ? undefined
      : (done, s) => console.log(`  ${done}/${count}  ${summaryLine(s)}`),
    onCrash: (c) => {
      line.end();
      if (shown++ < showCrashes) printCrash(c);
      else console.log(`CRASH ${c.token} (${c.stage}): ${String(c.error).split("\n")[0]}`);
    },
    onSlow: (token, ms, verdict, text) => {
      line.end();
      console.log(`SLOW ${token} ${ms}ms (${verdict}); the mutant, in case the code changes:`);
      console.log(text.split("\n").map((l) => `  | ${l}`).join("\n"));
    },
  });
  line.end();
  if (summary.slow.length > 0) {
    const top = [...summary.slow].sort((a, b) => b.ms - a.ms).slice(0, 20);
    console.log(`slow mutants (> ${slowMs}ms; hang risks), slowest first:`);
    for (const x of top) console.log(`  ${x.token}  ${x.ms}ms  ${x.verdict}`);
  }
  if (summary.crashes.length > 0) {
    console.log(`crash replay tokens: ${summary.crashes.map((c) => c.token).join(" ")}`);
  }
  console.log(`summary: ${summaryLine(summary)}`);
  return summary.crashes.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
