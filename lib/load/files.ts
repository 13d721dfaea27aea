/**
 * Finding scenario files and reading them (and what they include).
 *
 * Files whose name starts with `_` are fragments for `include`: a directory
 * walk skips them, naming them on the command line runs them.
 *
 * @module
 */
import { posix } from "node:path";
import type { Loader } from "../../dsl/check/mod.ts";
import { splitTarget } from "./extract.ts";

/**
 * Expands directories into the `.scn` files below them, sorted, so that a
 * run's order never depends on the file system. Host files (`bug.md`) are
 * taken only when named, as is `bug.md:12`, one scenario of one.
 *
 * @example
 * ```ts
 * collectFiles(["scenarios"]); // ["scenarios/seeds/000.scn", ...]
 * ```
 */
export function collectFiles(
  paths: readonly string[],
  options: { fragments?: boolean } = {},
): { files: string[]; missing: string[] } {
  const fragments = options.fragments ?? false;
  const files: string[] = [];
  const missing: string[] = [];
  for (const p of paths) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(p);
    } catch {
      // `bug.md:12` names one scenario of a host file (lib/cli/hosts.ts).
      const { path, line } = splitTarget(p);
      if (line !== undefined && isFile(path)) files.push(p);
      else missing.push(p);
      continue;
    }
    if (info.isDirectory) files.push(...walk(p, fragments));
    else files.push(p);
  }
  return { files, missing };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The `.scn` files below `dir`, sorted; `_` fragments only with `fragments`. */
function walk(dir: string, fragments: boolean): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(dir)].sort((
    a,
    b,
  ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = posix.join(dir, e.name);
    if (e.isDirectory) out.push(...walk(path, fragments));
    else if (e.isFile && e.name.endsWith(".scn") && (fragments || !e.name.startsWith("_"))) {
      out.push(path);
    }
  }
  return out;
}

/** Reads a text file, or undefined when it cannot be read. */
export function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** Resolves includes against the directory of the including file. */
export const fileLoader: Loader = (path, from) => {
  const name = posix.normalize(
    posix.isAbsolute(path) ? path : posix.join(posix.dirname(from), path),
  );
  const text = readText(name);
  return text === undefined ? undefined : { name, text };
};
