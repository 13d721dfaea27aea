import assert from "node:assert/strict";
import { headerVersion, LANGUAGE_VERSION, newerVersionError, versionHeader } from "./version.ts";
import { parse } from "./parse.ts";
import { ScnError } from "../lib/core/diagnostic.ts";

Deno.test("versionHeader() names the one LANGUAGE_VERSION", () => {
  assert.equal(versionHeader(), `irqlab ${LANGUAGE_VERSION}`);
});

Deno.test("headerVersion() reads the first statement after comments and blanks, and nothing later", () => {
  const h = headerVersion('# repro\n\n  irqlab 0x2 # future\nscenario "x"\n', "a.scn");
  assert.equal(h?.version, 2);
  assert.deepEqual(
    [h?.loc.start.line, h?.loc.start.column, h?.loc.end.column],
    [3, 10, 13],
  );
  assert.equal(headerVersion('scenario "x"\nirqlab 2\n', "a.scn"), undefined);
  assert.equal(headerVersion("irqlabs 2\n", "a.scn"), undefined);
});

Deno.test("newerVersionError() is undefined for this version and older, a 'version' error for newer", () => {
  const at = { offset: 0, line: 1, column: 1 };
  const loc = { source: "a.scn", start: at, end: at };
  assert.equal(newerVersionError(LANGUAGE_VERSION, loc), undefined);
  const e = newerVersionError(LANGUAGE_VERSION + 1, loc);
  assert.equal(e?.diagnostics[0].kind, "version");
});

function parseError(text: string): ScnError {
  try {
    parse(text, "f.scn");
  } catch (e) {
    if (e instanceof ScnError) return e;
    throw e;
  }
  assert.fail("expected an error");
}

Deno.test("parse() of a newer-language scenario that does not parse gives the version error, not a syntax error", () => {
  const newer = LANGUAGE_VERSION + 1;
  const text = `irqlab ${newer}\nscenario "future"\nvcpu0: frobnicate @@ widget\n`;
  const d = parseError(text).diagnostics[0];
  assert.equal(d.kind, "version");
  assert.equal(
    d.message,
    `this scenario is written for irqlab language ${newer}; this runner implements version ${LANGUAGE_VERSION}`,
  );
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [1, 8]);
  // Without the header the same text is a syntax error.
  assert.equal(parseError(text.replace(/^irqlab \d+\n/, "")).diagnostics[0].kind, "syntax");
});
