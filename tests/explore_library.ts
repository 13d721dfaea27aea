/**
 * The scenarios `scn explore`'s soundness tests run: the library's
 * scenarios with parallel blocks (x86, Arm and Xen races, the explore
 * fixtures), and every other library scenario with its first run of two to
 * six consecutive actions made a parallel block (those that still check):
 * about 250 scenarios over every model, most of a few states.
 *
 * @module
 */
import type { Program } from "../dsl/program.ts";
import { ScnError } from "../lib/core/diagnostic.ts";
import { checkText } from "../lib/api/scenario.ts";
import { collectFiles, fileLoader } from "../lib/load/files.ts";

let library: { file: string; program: Program }[] | undefined;

/** The scenarios, checked once per process (run from the repository's root). */
export function exploreLibrary(): { file: string; program: Program }[] {
  if (library !== undefined) return library;
  const out: { file: string; program: Program }[] = [];
  for (const file of collectFiles(["scenarios", "tests/fixtures/explore"]).files) {
    const text = Deno.readTextFileSync(file);
    const t = /^\s*parallel\s*\{/m.test(text) ? text : parallelized(text);
    if (t === null) continue;
    try {
      out.push({ file, program: checkText(t, file, { load: fileLoader }) });
    } catch (e) {
      // Actions that cannot share a block (a binding used by the next line).
      if (!(e instanceof ScnError)) throw e;
    }
  }
  return library = out;
}

const ACTION = /^(vcpu\d+|device [\w.]+|vmm|xen|\w+\.(vcpu\d+|vmm|device \w+))\s*:\s*\S/;

function parallelized(text: string): string | null {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let j = i;
    while (j < lines.length && j - i < 6 && ACTION.test(lines[j])) j++;
    if (j - i >= 2) {
      lines.splice(i, j - i, "parallel {", ...lines.slice(i, j).map((l) => `  ${l}`), "}");
      return lines.join("\n");
    }
  }
  return null;
}
