/**
 * Pass: collect the scenario's metadata (title, tags, links, `expect
 * failure`) and reject duplicates, pointing at the first occurrence.
 *
 * @module
 */
import type { Loc, Statement } from "../ast.ts";
import { fail } from "./context.ts";
import { newerVersionError } from "../version.ts";

/** The metadata of a scenario. */
export interface Metadata {
  title: string;
  titleLoc: Loc | null;
  tags: string[];
  links: string[];
  expectFailure: { reason: string; loc: Loc } | null;
  version: number | null;
}

export { LANGUAGE_VERSION } from "../version.ts";

/**
 * Reads metadata statements. A file without `scenario "..."` is an error
 * unless `fragment` is set (included files).
 *
 * @example
 * ```ts
 * collectMetadata(parse('scenario "x"\ntags a, b\n').body, false).tags; // ["a", "b"]
 * ```
 */
export function collectMetadata(
  body: readonly Statement[],
  fragment: boolean,
  fileLoc?: Loc,
): Metadata {
  const m: Metadata = {
    title: "",
    titleLoc: null,
    tags: [],
    links: [],
    expectFailure: null,
    version: null,
  };
  const seenTags = new Map<string, Loc>();
  for (const s of body) {
    switch (s.kind) {
      case "scenario":
        if (m.titleLoc) {
          fail(s.loc, "a file holds one scenario; this is a second title", undefined, [
            { loc: m.titleLoc, message: "the first title is here" },
          ]);
        }
        m.title = s.title.value;
        m.titleLoc = s.loc;
        break;
      case "version": {
        const v = Number(s.version.value);
        const newer = newerVersionError(v, s.version.loc);
        if (newer) throw newer;
        m.version = v;
        break;
      }
      case "tags":
        for (const t of s.tags) {
          const prev = seenTags.get(t.name);
          if (prev) {
            fail(t.loc, `tag '${t.name}' given twice`, undefined, [{
              loc: prev,
              message: "first here",
            }]);
          }
          seenTags.set(t.name, t.loc);
          m.tags.push(t.name);
        }
        break;
      case "link":
        m.links.push(s.url.value);
        break;
      case "expect_failure":
        if (m.expectFailure) {
          fail(s.loc, "'expect failure' given twice", undefined, [
            { loc: m.expectFailure.loc, message: "first here" },
          ]);
        }
        m.expectFailure = { reason: s.reason.value, loc: s.loc };
        break;
    }
  }
  if (!fragment && !m.titleLoc && fileLoc) {
    fail(
      { ...fileLoc, end: fileLoc.start },
      "missing the scenario's title",
      'start the file with a line like: scenario "EOI of a level vector clears remote IRR"',
    );
  }
  return m;
}
