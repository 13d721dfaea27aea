/**
 * Which models a target's scenarios name, read before any model is loaded:
 * the parse tree's `vm` blocks and their `arch` words, as the checker reads
 * them (dsl/check/vms.ts `archWord`). `scn run` of one scenario loads only
 * those models (lib/api/platform_loaders.ts).
 *
 * @module
 */
import { parseToCheck } from "../../dsl/parse.ts";
import { archWord } from "../../dsl/check/vms.ts";
import type { ReadLimits } from "./read.ts";
import { readTarget } from "./targets.ts";

/**
 * The `arch` names of the vm blocks of every scenario `target` names;
 * undefined stands for one that cannot be told without checking: a vm
 * without an `arch` name, an `include` (whose file may declare vms), a
 * scenario without vms, a long file's skimmed statements, a target that
 * cannot be read or parsed. Every such scenario is checked against all the
 * platforms, so that its diagnostics are those it always had.
 *
 * @example
 * ```ts
 * archesNamed("scenarios/x86/readme_level_redelivery.scn"); // ["x86_64"]
 * ```
 */
export function archesNamed(target: string, limits?: ReadLimits): (string | undefined)[] {
  const r = readTarget(target, limits);
  if (!("sources" in r)) return [undefined];
  const out: (string | undefined)[] = [];
  for (const source of r.sources) {
    let body;
    try {
      body = parseToCheck(source.text, source.path).body;
    } catch {
      out.push(undefined);
      continue;
    }
    let vms = 0;
    for (const s of body) {
      if (s.kind === "include" || s.kind === "skimmed") out.push(undefined);
      if (s.kind !== "vm") continue;
      vms++;
      const value = archWord(s.body)?.value;
      out.push(value?.kind === "ident" ? value.name : undefined);
    }
    if (vms === 0) out.push(undefined);
  }
  return out;
}
