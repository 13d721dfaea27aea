/**
 * The language version: the one place its number is stated, the header
 * line that names it (`irqlab 1`), and the error for a scenario written for
 * a newer language than this runner reads.
 *
 * @module
 */
import type { Loc } from "./ast.ts";
import { ScnError } from "../lib/core/diagnostic.ts";

/**
 * The language version this runner implements.
 *
 * @example
 * ```ts
 * `irqlab ${LANGUAGE_VERSION}`; // the header line scenarios may start with
 * ```
 */
export const LANGUAGE_VERSION = 1;

/**
 * The header line naming this runner's language version.
 *
 * @example
 * ```ts
 * versionHeader(); // "irqlab 1"
 * ```
 */
export function versionHeader(): string {
  return `irqlab ${LANGUAGE_VERSION}`;
}

/**
 * The error for a scenario that asks for language `version`, located at the
 * number, when that is newer than this runner; undefined otherwise.
 *
 * @example
 * ```ts
 * import { type Loc } from "./ast.ts";
 * declare const loc: Loc;
 * const e = newerVersionError(2, loc); // "... written for irqlab language 2; this runner implements version 1"
 * if (e) throw e;
 * ```
 */
export function newerVersionError(version: number, loc: Loc): ScnError | undefined {
  if (!(version > LANGUAGE_VERSION)) return undefined;
  return new ScnError({
    kind: "version",
    message:
      `this scenario is written for irqlab language ${version}; this runner implements version ${LANGUAGE_VERSION}`,
    loc,
    hint: "update irqlab to run it",
  });
}

/**
 * Reads the header line without parsing the rest: the first statement, when
 * it is `irqlab N`. A scenario for a newer language may not parse at all,
 * and then this is what explains why.
 *
 * @example
 * ```ts
 * headerVersion("# repro\nirqlab 2\nscenario \"x\"\n", "a.scn")?.version; // 2
 * ```
 */
export function headerVersion(
  text: string,
  source: string,
): { version: number; loc: Loc } | undefined {
  // Blank lines, spaces and comments may come first (hosted scenarios are blanked to spaces).
  const m =
    /^(?:[ \t\r\n;]|#[^\r\n]*)*irqlab[ \t]+(0x[0-9a-fA-F_]+|0b[01_]+|[0-9_]+)(?![A-Za-z0-9_])/
      .exec(text);
  if (!m) return undefined;
  const offset = m.index + m[0].length - m[1].length;
  const before = text.slice(0, offset);
  const line = before.split(/\r\n|\n|\r/).length;
  const column = offset - Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\r"));
  const end = offset + m[1].length;
  return {
    version: Number(m[1].replace(/_/g, "")),
    loc: {
      source,
      start: { offset, line, column },
      end: { offset: end, line, column: column + m[1].length },
    },
  };
}
