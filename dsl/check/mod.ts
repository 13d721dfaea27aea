/**
 * The checker: runs the passes in order and returns a {@link Program} the
 * interpreter can execute, or throws a located {@link ScnError}.
 *
 * 1. `includes`: expand `include` statements (cycles and missing files are errors);
 * 2. `metadata`: title, tags, links, `expect failure`, language version;
 * 3. `vms`: vm blocks against each platform's settings table;
 * 4. `lower`: timeline statements into operations, resolved against the
 *    platform's command and state tables;
 * 5. `availability`: commands and paths that only some VMs of a platform
 *    have (the Xen commands need a Xen VM), and combinations of settings.
 *
 * @module
 */
import type { ScnFile } from "../ast.ts";
import type { Program } from "../program.ts";
import type { PlatformEntry } from "../../lib/core/platform.ts";
import { expandIncludes } from "./includes.ts";
import { collectMetadata } from "./metadata.ts";
import { checkVms } from "./vms.ts";
import { lowerStatements } from "./lower.ts";
import { checkAvailability } from "./availability.ts";
import type { Loader } from "./context.ts";

export type { Loader } from "./context.ts";

/** Options for {@link check}. */
export interface CheckOptions {
  /** The platforms `arch` can name. */
  platforms: readonly PlatformEntry[];
  /** Reads included files; without it, any include is an error. */
  load?: Loader;
  /** The text of the file, for quoting in diagnostics. */
  text?: string;
}

/**
 * Checks a parsed scenario.
 *
 * @throws {ScnError} on the first problem found, located in its source.
 *
 * @example
 * ```ts
 * const text = 'scenario "x"\nvm g { arch x86_64 }\nvcpu0: sti\n';
 * const program = check(parse(text, "x.scn"), { platforms: [x86Platform], text });
 * program.body.length; // 1
 * ```
 */
export function check(file: ScnFile, options: CheckOptions): Program {
  const source = file.loc.source;
  const sources = new Map<string, string>();
  if (options.text !== undefined) sources.set(source, options.text);
  const ctx = { sources, load: options.load ?? (() => undefined) };
  const meta = collectMetadata(file.body, false, file.loc);
  const body = expandIncludes(file.body, source, ctx);
  const vms = checkVms(body, options.platforms);
  const lowered = lowerStatements(body, vms, ctx);
  checkAvailability(lowered.body, lowered.handlers, vms);
  return {
    file: source,
    title: meta.title,
    tags: meta.tags,
    links: meta.links,
    expectFailure: meta.expectFailure,
    vms,
    handlers: lowered.handlers,
    body: lowered.body,
    sources,
  };
}
