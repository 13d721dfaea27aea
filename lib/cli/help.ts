/**
 * `scn help [TOPIC]`: the language summary and the reference of every
 * command, state path, setting and handler event, all read from the
 * platforms' tables.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { describeType } from "../core/values.ts";
import { type CommandSpec, mainParams, type ParamSpec, type SettingSpec } from "../core/table.ts";
import { REPORT_HELP } from "../report/block_help.ts";
import { didYouMean } from "../core/diagnostic.ts";
import { FMT_USAGE } from "./fmt_command.ts";
import { MINIMIZE_USAGE } from "./minimize_command.ts";
import { DIFF_USAGE } from "./diff_command.ts";

const OVERVIEW = `irqlab: a testbed for the interrupt plumbing of virtual machine monitors.

usage:
  scn run [options] FILES|DIRS...   run scenarios; exit 0 passed, 1 failed, 2 bad input, 3 internal error
  scn check FILES|DIRS...           parse and check without running
  scn report FILE                   print a block to paste into a bug report ('scn help report')
  scn explore [options] FILES|DIRS...
                                    run scenarios in every order of their parallel blocks;
                                    exit 1 when an order fails ('scn help explore')
  scn diff [--against kvm] FILES|DIRS...
                                    run scenarios on the model and on KVM and print every
                                    disagreement; exit 1 on one (needs --allow-ffi: deno task diff)
  scn fmt [--write | --check] FILES|DIRS...
                                    print scenarios in the canonical layout; --check exits 1
                                    listing the others, --write rewrites them (deno task scn-fmt)
  scn minimize FILE [--out FILE] [--max-runs N]
                                    shrink a failing scenario while the same expectation fails
                                    the same way; print (or write) the smallest found
  scn help [TOPIC]                  this text, or one topic

  FILES are .scn files, or .md, .txt, .eml and .mbox files holding \`\`\`scn blocks or
  '> '-quoted scenarios, named file:LINE ('scn run bug.md:12' runs the one holding line 12);
  directories give their .scn files only.

run options:
  --trace           print each scenario's event trace with causes
  --json            print one JSON object (scenarios, summary)
  --junit FILE      also write JUnit XML to FILE (needs --allow-write for FILE; '-' prints it)
  --timeline        draw each failing scenario's events in lanes (devices, hypervisor, chips,
                    vCPUs), time down the page, with causes; --timeline=all draws every one
  --html FILE       also write one self-contained HTML page: SVG timeline, source with the
                    failing lines marked, decoded numbers ('-' prints only the page)
  --tap             print TAP 14 instead of text
  --max-steps N     step budget of one 'run' (default 100000)
  --max-input-bytes N
                    bytes one scenario file may hold (default 4194304, for a stranger's
                    scenario); its includes may add up to 4 N. Raise it for one you trust
  --jobs N          run the files N at a time (this thread and N - 1 workers): the same
                    report, less wall time, more CPU in all (a worker warms up on its own)
  --schedule TOKEN  run parallel blocks in the order of a token from 'scn explore' (one file)
  --no-color        plain text even on a terminal
  --backend kvm     run on a real VM through /dev/kvm (x86 only; needs --allow-ffi:
                    'deno task scn-kvm run --backend kvm FILES...'); default: model

explore options (also --trace, --timeline, --json, --tap, --max-steps, --no-color):
  --schedule TOKEN  run only this order
  --out FILE        write the failing order as a plain scenario (needs --allow-write for FILE)
  --max-states N    distinct states before giving up (default 100000)
  --max-depth N     choices of steps in one order before giving up (default 1000)
  --workers N       spread the search over N workers; the same answer as one
  --no-reduce       try independent steps in both orders too
  --no-dedup        explore states already seen again
  --shard I/N       search shard I of N (with --json, for 'scn explore merge'); each shard
                    takes every N-th first deviation from written order and all below it
  scn explore merge A.json B.json ...
                    join the --json reports of all N shards into the report of one run

topics:
  language          the statements of a .scn file
  settings          what a vm block can set
  commands          every command, by actor (also: vcpu, vmm, device)
  state             every readable state path
  handlers          what 'on vcpuN ...' can handle
  explore           how 'scn explore' searches, its replay tokens, its limits
  <command>         one command, e.g. 'scn help write' or 'scn help kvm irq_line'`;

const EXPLORE = `scn explore FILES: run each scenario in every order of its 'parallel { }' blocks.

  Each child of a parallel block is one atomic step, except an interruptible
  command (listed below), which is one step per step of its own: explore puts
  other actors' steps between them, as the guest can run between the writes
  of Xen's event-channel send. An actor's steps keep their
  written order, different actors' steps interleave. An 'expect' or 'let' in a
  block belongs to the actor of the action before it. Interrupts are delivered
  only at 'run', never between the steps of a block. Every 'expect' and 'always'
  is checked on every path.

  The search goes by the number of steps out of written order (0, then 1, ...),
  so the first failing order it reports is one of the fewest (exactly the fewest
  with --no-reduce; with the reduction, the fewest of the orders it keeps); it reruns the
  scenario for each order, skips states it has seen (a fingerprint of every
  state path and every public field of the models), and tries steps of
  independent footprints in one order only (sleep sets; see 'touches' in the
  command tables). --no-dedup and --no-reduce turn these off.

  A failing order is shown with its replay token, e.g.
    --schedule 12:1,0         the block at line 12 ran step 1, then step 0
                              (steps count children, an interruptible command
                              once per step of its own)
    --schedule 12#2:0,2,1     the second run of that block (in a loop)
    --schedule 12:1,0+30:2,0,1  two blocks (a block in an include: _f.scn@3:1,0)
  and as a plain scenario without 'parallel' that fails under 'scn run' (--out
  FILE writes it). 'scn run --schedule TOKEN FILE' and 'scn explore --schedule'
  replay it. Blocks not named run in written order.

  Verdicts: PASS every order passes; FAIL an order fails; a scenario tagged
  'known-race' (or with 'expect failure') must have an order that breaks its
  marked expectation and nothing else: XFAIL when found, FAIL when the order
  found breaks another expectation too, XPASS when every order passes. Reaching --max-states or --max-depth is
  an input error (exit 2) at the parallel block.

  Limits: timer callbacks queued are fingerprinted by their number only (the
  models' deadlines are seen; two states differing only there count as one:
  use --no-dedup when in doubt), nor is the progress of an interruptible command between its
  steps (no state there is deduplicated); a command without a declared
  footprint touches everything; an order that splits an interruptible command
  has no plain scenario, only its replay token.`;

/** The interruptible commands of every platform and their steps, from the tables. */
function interruptible(platforms: readonly PlatformEntry[]): string {
  const lines: string[] = [];
  for (const p of platforms) {
    for (const c of p.commands) {
      if (!c.steps) continue;
      const actor = c.actor === "vcpu" ? "vcpuN" : c.actor === "device" ? "device NAME" : c.actor;
      lines.push(`  ${actor}: ${c.name} [${p.arch.join(", ")}]`);
      c.steps.names.forEach((n, i) => lines.push(`    ${i + 1}. ${n}`));
    }
  }
  return `\n\nInterruptible commands:\n${lines.join("\n")}`;
}

const LANGUAGE = `A .scn file, one statement per line ('#' starts a comment):

  scenario "EOI of a level vector clears remote IRR"   the title (one per file)
  tags x86, ioapic, X86-15                             tags (catalogue IDs too)
  link "https://..."                                   where the behaviour comes from
  expect failure "why": vcpu0 took 0x41 once           the one expectation known to fail: XFAIL when it
                                                       alone fails, FAIL when another does, XPASS if
                                                       it holds; tag known-race: fails in some order
  vm guest { arch x86_64  vcpus 2  irqchip kernel }    a VM and its settings ('scn help settings')
  on vcpu0 vector 0x41 { eoi }                         what a vCPU does when it takes an interrupt;
                                                       without a handler it is taken and nothing else.
                                                       The body is the vCPU's instructions and, in
                                                       program order, other actors' actions
                                                       ('device nic: deassert gsi=20', 'vmm: ...' as
                                                       at a GUEST_SYNC exit); '$vector' (Arm: '$intid',
                                                       '$iar') is what it took
  vcpu0: lapic enable                                  an action by an actor: vcpuN, vmm, device NAME
  g.vcpu0: sti   g.device d4: ...   g.vmm: ...         with several vms, any actor or path names its vm
  for $i in 1..3 { vcpu[$i]: sti }                     vcpu[EXPR]: the vCPU an expression numbers, when
                                                       the statement runs: actions, 'run vcpu[$i] { }',
                                                       'vcpu[$i] took ...', vcpu[$i].lapic.isr;
                                                       on vcpu[0..3] ...: one handler on each of them,
                                                       in whose body '$vcpu' is its vCPU's number
  vmm: kvm irq_line gsi=14 level=1 -> $r               '-> $r' binds what the command returns
  vmm: kvm irq_line 14 level=1                         the main argument may be positional, every
                                                       one named ('scn help COMMAND' shows both)
  vcpu0: if bit ... { ... } else { ... }               guest-side conditions
  run                                                  deliver until nothing more happens now
  run 5ms                                              advance virtual time, firing timers on the way
  run vcpu0 { sti; nop; cli }                          these instructions, with delivery possible at the
                                                       boundary before each and after the last: shadows
                                                       (STI, MOV SS) and 'int n' can be seen
  expect vcpu0.lapic.isr == {0x41}                     state paths ('scn help state'), == != < <= > >=
  expect vcpu0 took 0x41 once                          history: took V [once|twice|N times], took nothing,
  expect vcpu0 took [0x40, 0x30] in order              took [..] in order; took nmi (the NMI, not vector 2)
  expect $r == -EINVAL                                 results; and/or/not combine conditions
  always vcpu0.lapic.ppr <= 0x40                       checked after every step from here on
  let $v = 0x41   repeat 3 { ... }   for $p in 0..3 { ... }   include "_common.scn"
  parallel { ... }                                     actions in any order ('run' takes the written one,
                                                       'scn explore' tries them all)

Values: 42, 0x2a, 0b101010, 1_000; 250ns 10us 5ms 1s; "strings"; {sets}; [lists]; 0..3 ranges.
Expressions go wherever a value goes: + - * / % << >> & | ^ ~ and ( ), on unsigned
64-bit numbers, exact from 0 to 0xffffffffffffffff; a result outside that range is an
error, never a wrap. Loosest first: | ^ & (<< >>) (+ -) (* / %), then ~ and -.
A condition in parentheses is a value, 1 or 0: let $even = ($i % 2 == 0).
'a - b' and 'a-b' subtract; 'a -b' is two words. Sets and lists hold ranges and
expressions: {0..3, 8}, [$i, $i + 1]. -EINVAL is an errno, for comparing results.
Variables: one set per scenario. 'let' binds or rebinds; in a handler it changes the
scenario's variable, so 'let $n = $n + 1' counts, and the new value is seen after the
'run' that ran the handler. What a handler took ('$vector') is bound in its body only.
Timeline actions change state; interrupts are delivered only during 'run'.`;

function paramText(p: ParamSpec): string {
  const t = p.type.kind === "register"
    ? "<register> [field=value ...] | <register> <value>"
    : `${p.name}=${describeType(p.type)}`;
  const opt = p.default !== undefined ? ` (default ${String(p.default) || "none"})` : "";
  return `      ${t}${opt}: ${p.doc}`;
}

/** The positional and the all-named form of a command: every command has both. */
function usageLines(c: CommandSpec): string[] {
  const main = mainParams(c);
  const opt = (p: ParamSpec, text: string) => p.default === undefined ? text : `[${text}]`;
  const named = (p: ParamSpec) => opt(p, `${p.name}=<${p.name}>`);
  const reg = c.params.find((p) => p.type.kind === "register");
  const rest = c.params.filter((p) => p !== reg && !main.includes(p)).map(named);
  const form = (...words: string[]) => [c.name, ...words, ...rest].join(" ");
  if (reg) {
    const r = reg.name;
    return [
      `      usage: ${form(`<${r}> [field=value ...]`)}  |  ${form(`<${r}> <value>`)}`,
      `         or: ${form(`${r}=<${r}> [field=value ...]`)}  |  ${
        form(`${r}=<${r}> value=<value>`)
      }`,
    ];
  }
  if (c.params.length === 0) return [];
  if (main.length === 0) return [`      usage: ${form()}`];
  return [
    `      usage: ${form(...main.map((p) => opt(p, `<${p.name}>`)))}`,
    `         or: ${form(...main.map(named))}`,
  ];
}

function commandText(c: CommandSpec): string[] {
  const lines = [
    `  ${
      c.actor === "device" ? "device X" : c.actor === "vcpu" ? "vcpuN" : c.actor
    }: ${c.name}  - ${c.doc}`,
  ];
  lines.push(...usageLines(c));
  for (const p of c.params) {
    lines.push(paramText(p));
    // The names a register parameter takes, from the model's own register files.
    if (p.type.kind === "register") {
      for (const f of p.type.files) {
        lines.push(
          wrap(`        ${f.prefix}.`, f.registers.map((r) => r.name + (r.count ? "[n]" : ""))),
        );
      }
    }
  }
  if (c.block) {
    lines.push(`      { ${c.block.entry}=... } entries, each with:`);
    for (const p of c.block.params) lines.push(`  ${paramText(p)}`);
  }
  if (c.returns) lines.push(`      -> ${c.returns}`);
  return lines;
}

/**
 * The help text for a topic (or the overview), or undefined for an unknown topic.
 *
 * @example
 * ```ts
 * import { PLATFORMS } from "../../mod.ts";
 * helpText(PLATFORMS, "vcpu")!.includes("eoi"); // true
 * ```
 */
export function helpText(platforms: readonly PlatformEntry[], topic?: string): string | undefined {
  if (!topic) return OVERVIEW;
  const command = COMMAND_HELP[topic];
  if (command) return command();
  if (topic === "language") return LANGUAGE;
  if (topic === "explore") return EXPLORE + interruptible(platforms);
  if (topic === "report") return REPORT_HELP;
  const out: string[] = [];
  for (const p of platforms) {
    const header = `[${p.arch.join(", ")}]`;
    switch (topic) {
      case "settings":
        out.push(header);
        for (const s of p.settings) {
          out.push(`  ${s.name} ${settingValues(s)}: ${s.doc}`);
          // Block settings, written `hypervisor xen { domain pvh }`.
          for (const b of s.block ?? []) {
            out.push(`    ${s.name} { ${b.name} ${settingValues(b)} }: ${b.doc}`);
          }
        }
        break;
      case "commands":
      case "vcpu":
      case "vmm":
      case "device":
        out.push(header);
        for (const c of p.commands) {
          if (topic === "commands" || c.actor === topic) out.push(...commandText(c));
        }
        break;
      case "state":
        out.push(header);
        for (const s of p.state) {
          out.push(
            `  ${s.pattern.replace("vcpu#", "vcpuN").replace("[#]", "[n]")}  ${
              describeType(s.type)
            }: ${s.doc}`,
          );
        }
        break;
      case "handlers":
        out.push(header);
        for (const h of p.handlerEvents) {
          out.push(
            `  on vcpuN ${h.name}${h.takesValue ? " <vector|set|range>" : ""} { ... }: ${h.doc}`,
          );
          for (const b of h.binds ?? []) out.push(`      $${b.name} in the body: ${b.doc}`);
        }
        break;
      default:
        for (const c of p.commands) if (c.name === topic) out.push(header, ...commandText(c));
    }
  }
  return out.length ? out.join("\n") : undefined;
}

/** A list of names after `head`, wrapped at 100 columns. */
function wrap(head: string, names: readonly string[]): string {
  const lines: string[] = [];
  let line = head;
  for (const n of names) {
    if (line.length + n.length + 1 > 100 && line !== head) {
      lines.push(line);
      line = " ".repeat(head.length);
    }
    line += ` ${n}`;
  }
  lines.push(line);
  return lines.join("\n");
}

/** The lines of the overview from the one starting `from` up to the one starting `to`. */
function section(from: string, to: string): string {
  const lines = OVERVIEW.split("\n");
  const a = lines.findIndex((l) => l.startsWith(from));
  const b = lines.findIndex((l, i) => i > a && l.startsWith(to));
  return lines.slice(a, b < 0 ? undefined : b).join("\n").replace(/\n+$/, "");
}

/** The overview's line for `scn NAME`, with the lines that continue it. */
function usage(name: string): string {
  const lines = OVERVIEW.split("\n");
  const a = lines.findIndex((l) => l.startsWith(`  scn ${name} `));
  let b = a + 1;
  while (b < lines.length && lines[b].startsWith("        ")) b++;
  return lines.slice(a, b).join("\n");
}

/** `scn help run` and the others: each command's usage and options. */
const COMMAND_HELP: Readonly<Record<string, () => string>> = {
  run: () => `${usage("run")}\n\n${section("run options:", "explore options")}`,
  check: () =>
    `${
      usage("check")
    }\n\n  checks without running: CHECKED or the located errors; exit 2 on an error\n\n${
      section("  --max-input-bytes", "  --schedule")
    }`,
  fmt: () => FMT_USAGE.join("\n"),
  minimize: () => MINIMIZE_USAGE.join("\n"),
  diff: () => DIFF_USAGE.join("\n"),
};

/**
 * What to say for an unknown help topic: the topics and command names that
 * contain it, end with it or are one typo away.
 *
 * @example
 * ```ts
 * import { PLATFORMS } from "../../mod.ts";
 * helpSuggestions(PLATFORMS, "irq_lin"); // ["kvm irq_line", ...]
 * ```
 */
export function helpSuggestions(platforms: readonly PlatformEntry[], topic: string): string[] {
  const names = new Set<string>([
    ...Object.keys(COMMAND_HELP),
    "language",
    "explore",
    "report",
    "settings",
    "commands",
    "state",
    "handlers",
    "vcpu",
    "vmm",
    "device",
  ]);
  for (const p of platforms) for (const c of p.commands) names.add(c.name);
  const t = topic.toLowerCase();
  const words = (n: string) => n.toLowerCase().split(/[\s_.]+/);
  const hits = [...names].filter((n) => {
    const l = n.toLowerCase();
    return l.includes(t) || t.includes(l.split(" ").at(-1)!) && l.split(" ").at(-1)!.length > 3 ||
      words(t).every((w) => w.length > 2 && l.includes(w));
  });
  const close = didYouMean(topic, names);
  if (close && !hits.includes(close)) hits.unshift(close);
  return hits.sort((a, b) => a.length - b.length).slice(0, 8);
}

/** A setting's values and default, as `scn help settings` shows them. */
function settingValues(s: SettingSpec): string {
  const v = s.value;
  return v.kind === "list"
    ? `[${v.min}..${v.max}, ...] (default [${v.default.join(", ")}])`
    : v.kind === "enum"
    ? `${v.values.join(" | ")} (default ${v.default})`
    : v.kind === "int"
    ? `${v.min}..${v.max} (default ${v.default})`
    : "flag";
}
