/**
 * The usage text of `scn report`, shown by `scn report --help` and
 * `scn help report`.
 *
 * @module
 */
import { DEFAULT_BLOCK_OPTIONS } from "./block.ts";

/**
 * Usage of `scn report`.
 *
 * @example
 * ```ts
 * REPORT_HELP.split("\n")[0]; // "scn report [options] FILE: print a block to paste into a bug report."
 * ```
 */
export const REPORT_HELP = `scn report [options] FILE: print a block to paste into a bug report.

  FILE is a .scn file, a host file (.md, .txt, .eml, .mbox: a block per
  scenario in it) or one scenario of one, 'bug.md:LINE'. The block is a
  Markdown \`\`\`scn fence holding the language header line, the scenario with its
  includes inlined, and '#' comments: its outcome, the cause chain of the first
  failed expectation (or the last events when it passes), the timeline as
  'scn run --timeline' draws it (at most ${DEFAULT_BLOCK_OPTIONS.timelineEvents} events) and the magic
  numbers decoded (MSI address/data, ICR and other LAPIC registers,
  IA32_APIC_BASE, IOAPIC RTEs, ITS commands and results, GIC INTID classes).
  'scn run' of the block, saved as .md or its contents as .scn, gives the
  same outcome. Exits as 'scn run' of FILE would.

options:
  --events N        trace events shown for a passing scenario (default ${DEFAULT_BLOCK_OPTIONS.lastEvents})
  --max-steps N     step budget of one 'run' (default 100000)`;
