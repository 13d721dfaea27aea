/**
 * Finding scenario files and reading them (and what they include).
 *
 * Files whose name starts with `_` are fragments for `include`: a directory
 * walk skips them, naming them on the command line runs them.
 *
 * @module
 */
import * as posix from "../core/posix_path.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import { splitTarget } from "./extract.ts";
import {
  osProblem,
  READ_LIMITS,
  type ReadLimits,
  type ReadResult,
  readScenarioFile,
} from "./read.ts";

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
    } catch (e) {
      // `bug.md:12` names one scenario of a host file (lib/load/load.ts).
      const { path, line } = splitTarget(p);
      if (line !== undefined && isFile(path)) files.push(p);
      // A path the permissions hide goes on, so that loading it says which flag to give.
      else if (e instanceof Deno.errors.NotFound) missing.push(p);
      else files.push(p);
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

/** Reads a text file (a regular file within the budget, valid UTF-8), or undefined. */
export function readText(path: string): string | undefined {
  const r = readScenarioFile(path);
  return "text" in r ? r.text : undefined;
}

/**
 * What the include loaders of one run have already asked the file system:
 * the scenarios of a folder include the same fragments (the selftest ports
 * up to fifteen times each), and reading one again (two `realPath`s, stat,
 * open, decode) is what a run of many scenarios would spend on it. Only
 * answers are kept (a file that could not be resolved or read is asked
 * again, to say why); the confinement checks and the budgets are still
 * made for every include. One run's: a file edited meanwhile is seen by the
 * next run.
 *
 * @example
 * ```ts
 * const reads = new FileReads();
 * const { load } = confinedLoader(undefined, reads);
 * load("_vm.scn", "tests/fixtures/include/main.scn"); // read from the disk
 * confinedLoader(undefined, reads).load("_vm.scn", "tests/fixtures/include/main.scn"); // not again
 * ```
 */
export class FileReads {
  readonly #real = new Map<string, string>();
  readonly #texts = new Map<string, string>();

  /** `Deno.realPathSync(path)`, which throws as it does when it cannot resolve `path`. */
  realPath(path: string): string {
    let real = this.#real.get(path);
    if (real === undefined) {
      real = Deno.realPathSync(path);
      this.#real.set(path, real);
    }
    return real;
  }

  /** {@link readScenarioFile}`(path, limit)`. */
  read(path: string, limit: number): ReadResult {
    const key = `${limit}:${path}`;
    const text = this.#texts.get(key);
    if (text !== undefined) return { text };
    const r = readScenarioFile(path, limit);
    if ("text" in r) this.#texts.set(key, r.text);
    return r;
  }
}

/**
 * An include loader that keeps a scenario inside its folder: `include
 * "p"` names a file in the including file's folder or below it, never an
 * absolute path, never out through `..` or a symbolic link (both sides
 * resolved with `realPath` and compared), a regular file only, within the
 * size and count budgets of {@link READ_LIMITS}. A refusal names the path as
 * written and nothing of the file. `read` gathers every file it read, the
 * only ones a diagnostic may quote. `reads` lets the loaders of one run
 * share what they read ({@link FileReads}).
 *
 * @example
 * ```ts
 * const { load, read } = confinedLoader();
 * load("_vm.scn", "tests/fixtures/include/main.scn"); // { name: "tests/fixtures/include/_vm.scn", text: ... }
 * load("/etc/passwd", "tests/fixtures/include/main.scn"); // { refused: "..." }
 * read.size; // 1
 * ```
 */
export function confinedLoader(
  limits: ReadLimits = READ_LIMITS,
  reads: FileReads = new FileReads(),
): { load: Loader; read: Map<string, string> } {
  const read = new Map<string, string>();
  let bytes = 0, includes = 0;
  const load: Loader = (path, from) => {
    const dir = posix.dirname(from);
    const shown = `'${path}'`;
    const outside = (how: string) => ({
      refused: `include ${shown} is refused: ${how}`,
      hint: "an include names a file in the including file's folder or below it",
    });
    if (posix.isAbsolute(path) || /^[A-Za-z]:[\\/]/.test(path)) {
      return outside("it is an absolute path");
    }
    const name = posix.normalize(posix.join(dir, path));
    const rel = posix.relative(dir, name);
    if (rel === ".." || rel.startsWith("../") || posix.isAbsolute(rel)) {
      return outside("it leads out of the including file's folder");
    }
    let realDir: string, real: string;
    try {
      realDir = reads.realPath(dir === "" ? "." : dir);
      real = reads.realPath(name);
    } catch (e) {
      const p = osProblem(name, e);
      return { refused: `cannot read included file ${shown}: ${p.message}`, hint: p.hint };
    }
    if (!real.startsWith(realDir.endsWith("/") ? realDir : realDir + "/")) {
      return outside("a symbolic link leads out of the including file's folder");
    }
    if (++includes > limits.includes) {
      return {
        refused: `more than ${limits.includes} includes expanded for one scenario`,
        hint: "the include budget stops a tree of includes that fans out",
        budget: true,
      };
    }
    const r = reads.read(name, limits.fileBytes);
    if ("problem" in r) {
      return {
        refused: `included file ${shown}: ${r.problem.message}`,
        hint: r.problem.hint,
        budget: r.problem.budget,
      };
    }
    bytes += r.text.length;
    if (bytes > limits.totalBytes) {
      return {
        refused: `more than ${limits.totalBytes} bytes included for one scenario`,
        hint: "the include budget stops a tree of includes that fans out",
        budget: true,
      };
    }
    read.set(name, r.text);
    return { name, text: r.text };
  };
  return { load, read };
}

/**
 * An include loader confined as {@link confinedLoader} says, for callers
 * that need no record of what was read.
 */
export const fileLoader: Loader = (path, from) => confinedLoader().load(path, from);
