/**
 * Which models a target's scenarios name, read before any model is loaded:
 * the parse tree's `vm` blocks and their `arch` words (and those of the
 * settings that choose a model's parts, `hypervisor`), as the checker reads
 * them (dsl/check/vms.ts `archWord`). `scn run` of one scenario loads only
 * those models (lib/api/platform_loaders.ts), then checks the very trees
 * read here (lib/load/targets.ts `LoadOptions.read`).
 *
 * @module
 */
import type { ScnFile, SkimmedFile } from "../../dsl/ast.ts";
import { parseToCheck } from "../../dsl/parse.ts";
import { archWord, settingWord } from "../../dsl/check/vms.ts";
import type { ReadLimits } from "./read.ts";
import { readTarget, type Source, type TargetRead } from "./targets.ts";

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
  return readArches(target, limits).arches;
}

/**
 * {@link archesNamed}; the values the vm blocks give the settings `names`
 * (a vm without the word has none; undefined stands for a value that is
 * not a name), which tell which parts of a model a scenario needs
 * (`PART_WORDS` of lib/api/platform_loaders.ts); and the target as read
 * and parsed to find them, for loading it without reading or parsing it
 * again.
 *
 * @example
 * ```ts
 * const f = "scenarios/x86/readme_level_redelivery.scn";
 * const { arches, words, read } = readArches(f, undefined, ["hypervisor"]);
 * arches; // ["x86_64"]
 * words.get("hypervisor"); // []
 * read.parsed.size; // 1
 * ```
 */
export function readArches(
  target: string,
  limits?: ReadLimits,
  names: readonly string[] = [],
): {
  arches: (string | undefined)[];
  words: Map<string, (string | undefined)[]>;
  read: TargetRead;
} {
  const r = readTarget(target, limits);
  const parsed = new Map<Source, ScnFile | SkimmedFile>();
  const read = { target, result: r, parsed };
  const words = new Map<string, (string | undefined)[]>(names.map((n) => [n, []]));
  if (!("sources" in r)) return { arches: [undefined], words, read };
  const out: (string | undefined)[] = [];
  for (const source of r.sources) {
    let file;
    try {
      file = parseToCheck(source.text, source.path);
    } catch {
      out.push(undefined);
      continue;
    }
    parsed.set(source, file);
    let vms = 0;
    for (const s of file.body) {
      if (s.kind === "include" || s.kind === "skimmed") out.push(undefined);
      if (s.kind !== "vm") continue;
      vms++;
      const value = archWord(s.body)?.value;
      out.push(value?.kind === "ident" ? value.name : undefined);
      for (const [name, values] of words) {
        const word = settingWord(s.body, name);
        if (word) values.push(word.value?.kind === "ident" ? word.value.name : undefined);
      }
    }
    if (vms === 0) out.push(undefined);
  }
  return { arches: out, words, read };
}
