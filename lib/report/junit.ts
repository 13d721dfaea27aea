/**
 * JUnit XML, for CI systems that collect test results.
 *
 * @module
 */
import { type Outcome, summarize } from "./outcome.ts";
import { formatDiagnostic } from "../core/diagnostic.ts";

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  )
    // XML 1.0 cannot carry most control characters, even escaped.
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "?");
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
    const open = `  <testcase classname="${esc(o.file)}" name="${esc(name)}">`;
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
      `${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}: ${f.text}\n  expected: ${f.expected}\n  actual: ${f.actual}`
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
