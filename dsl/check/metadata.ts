/**
 * Pass: collect the scenario's metadata (title, tags, links, `expect
 * failure`) and reject duplicates, pointing at the first occurrence.
 *
 * @module
 */
import type { Loc, Statement, TopLevel } from "../ast.ts";
import { KNOWN_RACE_TAG } from "../program.ts";
import { type CheckContext, fail, recover } from "./context.ts";
import { newerVersionError } from "../version.ts";

/** The metadata of a scenario. */
export interface Metadata {
  title: string;
  titleLoc: Loc | null;
  tags: string[];
  links: string[];
  /** The expectation marked `expect failure "why": COND`. */
  expectFailure: { reason: string; loc: Loc; race: boolean } | null;
  version: number | null;
}

export { LANGUAGE_VERSION } from "../version.ts";

/**
 * Reads metadata statements. A file without `scenario "..."` is an error
 * unless `fragment` is set (included files).
 *
 * @example
 * ```ts
 * import { parse } from "../../mod.ts";
 * collectMetadata(parse('scenario "x"\ntags a, b\n').body, false).tags; // ["a", "b"]
 * ```
 */
export function collectMetadata(
  body: readonly TopLevel[],
  fragment: boolean,
  fileLoc?: Loc,
  ctx: Pick<CheckContext, "problems"> = {},
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
    // Only these say anything here: no step (and no closure) for the rest.
    switch (s.kind) {
      case "scenario":
      case "version":
      case "tags":
      case "link":
      case "expect_failure":
        recover(ctx, () => read(s));
    }
  }
  function read(s: TopLevel): void {
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
        // Which expectation fails is the point: a bare mark would excuse any failure.
        fail(
          s.loc,
          "'expect failure' must name the expectation that is known to fail",
          `write it in place of that expectation: expect failure ${
            JSON.stringify(s.reason.value)
          }: vcpu0 took 0x41 once`,
        );
    }
  }
  for (const e of markedExpectations(body)) {
    recover(ctx, () => {
      if (m.expectFailure) {
        fail(e.loc, "a second expectation marked 'expect failure'", "mark the one that fails", [
          { loc: m.expectFailure.loc, message: "the first is here" },
        ]);
      }
      m.expectFailure = { reason: e.reason, loc: e.loc, race: false };
    });
  }
  if (m.expectFailure && m.tags.includes(KNOWN_RACE_TAG)) m.expectFailure.race = true;
  if (!fragment && !m.expectFailure && m.tags.includes(KNOWN_RACE_TAG)) {
    fail(
      seenTags.get(KNOWN_RACE_TAG)!,
      "a known-race scenario marks the expectation the race breaks",
      'write that expectation as: expect failure "why": CONDITION',
    );
  }
  if (!fragment && !m.titleLoc && fileLoc) {
    fail(
      { source: fileLoc.source, start: fileLoc.start, end: fileLoc.start },
      "missing the scenario's title",
      'start the file with a line like: scenario "EOI of a level vector clears remote IRR"',
    );
  }
  return m;
}

/** Every `expect failure "why": COND` in `body`, nested blocks included, in order. */
function markedExpectations(body: readonly TopLevel[]): { reason: string; loc: Loc }[] {
  const out: { reason: string; loc: Loc }[] = [];
  const visit = (s: Statement | TopLevel): void => {
    if (s.kind === "expect" && s.failure) out.push({ reason: s.failure.value, loc: s.loc });
    if (s.kind === "action") visit(s.body);
    if (s.kind === "if") {
      for (const x of s.then) visit(x);
      for (const x of s.else ?? []) visit(x);
    }
    if ("body" in s && Array.isArray(s.body)) { for (const x of s.body) visit(x); }
  };
  for (const s of body) visit(s);
  return out;
}
