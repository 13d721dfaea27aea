/**
 * JUnit XML, for CI systems that collect test results.
 *
 * @module
 */
import { type Outcome, summarize } from "./outcome.ts";
import { formatDiagnostic } from "../core/diagnostic.ts";
import { MAX_VALUE_CHARS, visible } from "../core/visible.ts";

// Control characters are shown as escapes (`\x1b`), which XML 1.0 can carry and a
// CI page or terminal shows as written; titles and values are cut when long.
function esc(s: string, max = Infinity): string {
  return s.split("\n").map((l) => visible(l, max)).join("\n").replace(/&/g, "&amp;").replace(
    /</g,
    "&lt;",
  ).replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

/**
 * Renders outcomes as a JUnit `<testsuite>`: a scenario is a test case,
 * failures and errors carry their messages.
 *
 * @example
 * ```ts
 * junitReport([]).startsWith("<?xml"); // true
 * ```
 */
export function junitReport(outcomes: readonly Outcome[]): string {
  const s = summarize(outcomes);
  const cases = outcomes.map((o) => {
    const name = o.kind === "result" ? o.result.title : o.kind === "checked" ? o.title : o.file;
    const open = `  <testcase classname="${esc(o.file)}" name="${esc(name, MAX_VALUE_CHARS)}">`;
    if (o.kind === "input-error") {
      const text = o.diagnostics.map((d) => formatDiagnostic(d, (x) => o.sources.get(x))).join(
        "\n",
      );
      return `${open}\n    <error message="${esc(o.diagnostics[0].message)}">${
        esc(text)
      }</error>\n  </testcase>`;
    }
    if (o.kind === "internal-error") {
      return `${open}\n    <error message="internal error">${
        esc(o.message)
      }</error>\n  </testcase>`;
    }
    if (o.kind === "checked") {
      return `${open}\n    <skipped message="checked, not run"/>\n  </testcase>`;
    }
    const r = o.result;
    if (r.status === "pass") return `${open}</testcase>`;
    if (r.status === "skip") {
      return `${open}\n    <skipped message="${esc(r.skipReason ?? "")}"/>\n  </testcase>`;
    }
    if (r.status === "xfail") {
      return `${open}\n    <skipped message="${
        esc(`expected failure: ${r.expectFailure}`)
      }"/>\n  </testcase>`;
    }
    if (r.status === "xpass") {
      return `${open}\n    <failure message="${
        esc(`expected failure did not happen: ${r.expectFailure}`)
      }"/>\n  </testcase>`;
    }
    const body = r.failures.map((f) =>
      `${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}: ${
        visible(f.text, MAX_VALUE_CHARS)
      }\n  expected: ${visible(f.expected, MAX_VALUE_CHARS)}\n  actual: ${
        visible(f.actual, MAX_VALUE_CHARS)
      }`
    ).join("\n");
    return `${open}\n    <failure message="${esc(r.failures[0]?.text ?? "failed")}">${
      esc(body)
    }</failure>\n  </testcase>`;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuite name="irqlab" tests="${outcomes.length}" failures="${
      s.failed - s.errors
    }" errors="${s.errors}" skipped="${s.xfail + s.skipped}">`,
    ...cases,
    `</testsuite>`,
    "",
  ].join("\n");
}
