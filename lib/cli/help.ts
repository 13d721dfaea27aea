/**
 * `scn help [TOPIC]`: the language summary and the reference of every
 * command, state path, setting and handler event, all read from the
 * platforms' tables.
 *
 * @module
 */
import type { Platform } from "../interp/platform.ts";
import { describeType } from "../interp/values.ts";
import type { CommandSpec, ParamSpec } from "../core/table.ts";

const OVERVIEW = `irqlab: a testbed for the interrupt plumbing of virtual machine monitors.

usage:
  scn run [options] FILES|DIRS...   run scenarios; exit 0 passed, 1 failed, 2 bad input, 3 internal error
  scn check FILES|DIRS...           parse and check without running
  scn help [TOPIC]                  this text, or one topic

run options:
  --trace           print each scenario's event trace with causes
  --json            print one JSON object (scenarios, summary)
  --junit FILE      also write JUnit XML to FILE (needs --allow-write for FILE; '-' prints it)
  --max-steps N     step budget of one 'run' (default 100000)
  --no-color        plain text even on a terminal

topics:
  language          the statements of a .scn file
  settings          what a vm block can set
  commands          every command, by actor (also: vcpu, vmm, device)
  state             every readable state path
  handlers          what 'on vcpuN ...' can handle
  <command>         one command, e.g. 'scn help write' or 'scn help kvm irq_line'`;

const LANGUAGE = `A .scn file, one statement per line ('#' starts a comment):

  scenario "EOI of a level vector clears remote IRR"   the title (one per file)
  tags x86, ioapic, X86-15                             tags (catalogue IDs too)
  link "https://..."                                   where the behaviour comes from
  expect failure "why"                                 a known bug: failing is XFAIL, passing is XPASS
  vm guest { arch x86_64  vcpus 2  irqchip kernel }    a VM and its settings ('scn help settings')
  on vcpu0 vector 0x41 { eoi }                         what a vCPU does when it takes an interrupt;
                                                       without a handler it is taken and nothing else
  vcpu0: lapic enable                                  an action by an actor: vcpuN, vmm, device NAME
  vmm: kvm irq_line gsi=14 level=1 -> $r               '-> $r' binds what the command returns
  vcpu0: if bit ... { ... } else { ... }               guest-side conditions
  run                                                  deliver until nothing more happens now
  run 5ms                                              advance virtual time, firing timers on the way
  expect vcpu0.lapic.isr == {0x41}                     state paths ('scn help state'), == != < <= > >=
  expect vcpu0 took 0x41 once                          history: took V [once|twice|N times], took nothing,
  expect vcpu0 took [0x40, 0x30] in order              took [..] in order
  expect $r == -EINVAL                                 results; and/or/not combine conditions
  always vcpu0.lapic.ppr <= 0x40                       checked after every step from here on
  let $v = 0x41   repeat 3 { ... }   for $p in 0..3 { ... }   include "_common.scn"
  parallel { ... }                                     actions in any order ('run' takes the written one)

Values: 42, 0x2a, 0b101010, 1_000; 250ns 10us 5ms 1s; "strings"; {sets}; [lists]; 0..3 ranges.
Timeline actions change state; interrupts are delivered only during 'run'.`;

function paramText(p: ParamSpec): string {
  const t = p.type.kind === "register"
    ? "<register> [field=value ...] | <register> <value>"
    : `${p.name}=${describeType(p.type)}`;
  const opt = p.default !== undefined ? ` (default ${String(p.default) || "none"})` : "";
  return `      ${t}${opt}: ${p.doc}`;
}

function commandText(c: CommandSpec): string[] {
  const lines = [
    `  ${
      c.actor === "device" ? "device X" : c.actor === "vcpu" ? "vcpuN" : c.actor
    }: ${c.name}  - ${c.doc}`,
  ];
  for (const p of c.params) lines.push(paramText(p));
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
 * helpText(PLATFORMS, "vcpu")!.includes("eoi"); // true
 * ```
 */
export function helpText(platforms: readonly Platform[], topic?: string): string | undefined {
  if (!topic) return OVERVIEW;
  if (topic === "language") return LANGUAGE;
  const out: string[] = [];
  for (const p of platforms) {
    const header = `[${p.arch.join(", ")}]`;
    switch (topic) {
      case "settings":
        out.push(header);
        for (const s of p.settings) {
          const v = s.value;
          const vals = v.kind === "list"
            ? `[${v.min}..${v.max}, ...] (default [${v.default.join(", ")}])`
            : v.kind === "enum"
            ? `${v.values.join(" | ")} (default ${v.default})`
            : v.kind === "int"
            ? `${v.min}..${v.max} (default ${v.default})`
            : "flag";
          out.push(`  ${s.name} ${vals}: ${s.doc}`);
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
        }
        break;
      default:
        for (const c of p.commands) if (c.name === topic) out.push(header, ...commandText(c));
    }
  }
  return out.length ? out.join("\n") : undefined;
}
