/**
 * `scn run --html`: one self-contained HTML page for a run. For each
 * scenario: its outcome, the failed expectations with expected and actual
 * values, the SVG timeline (`svg.ts`), the source with the failing lines
 * marked, and the magic numbers decoded from the models' field tables.
 *
 * The page loads nothing: styles are inline, there is no script, and a
 * Content-Security-Policy of `default-src 'none'` makes a browser refuse
 * anything that slipped in, so the page can be attached to a bug report and
 * opened offline.
 *
 * @module
 */
import { formatDiagnostic } from "../core/diagnostic.ts";
import type { ScenarioResult } from "../engine/run.ts";
import { decodeMagic } from "./decode.ts";
import { type Outcome, summarize } from "./outcome.ts";
import { escapeXml, timelineSvg } from "./svg.ts";
import { timeline } from "./timeline.ts";

/** A scenario's outcome and the file its locations point into. */
export interface HtmlEntry {
  /** What happened. */
  outcome: Outcome;
  /** The text its failure locations point into, and that file's name; absent if unreadable. */
  source?: { path: string; text: string };
}

const esc = escapeXml;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:2em;border-top:1px solid #ccd;padding-top:.8em}
h3{font-size:1em;margin:1.2em 0 .4em}
.status{display:inline-block;min-width:3.5em;padding:0 .4em;border-radius:3px;color:#fff;
text-align:center;font-family:monospace}
.pass,.xfail{background:#1a7f37}.fail,.xpass,.error{background:#cf222e}.skip{background:#6e7781}
.failure{background:#fff1f1;border-left:4px solid #cf222e;padding:.3em .6em;margin:.4em 0;
font-family:monospace;white-space:pre-wrap}
.figure{overflow:auto;border:1px solid #dde;max-height:80vh}
pre.source{background:#f6f8fa;padding:.5em 0;overflow:auto}
pre.source span{display:block;padding:0 .6em}
pre.source .n{display:inline;color:#8c959f;user-select:none;padding:0}
pre.source .failed{background:#ffd7d5;font-weight:bold}
pre.source .failed .n::after{content:" !"}
pre.source .decoded{background:#eef6ff}
ul.decoded{font-family:monospace}
`;

/**
 * The page for a run.
 *
 * @example
 * ```ts
 * import { processFile } from "../cli/process.ts";
 * const page = htmlReport([{ outcome: processFile("a.scn", "run") }]);
 * page.startsWith("<!doctype html>"); // true
 * ```
 */
export function htmlReport(entries: readonly HtmlEntry[]): string {
  const s = summarize(entries.map((e) => e.outcome));
  const title = entries.length === 1
    ? `irqlab: ${entries[0].outcome.file}`
    : `irqlab: ${entries.length} scenarios`;
  const body = entries.map((e, i) => section(e, i)).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p>${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}</p>
${body}
</body>
</html>
`;
}

function section(entry: HtmlEntry, index: number): string {
  const o = entry.outcome;
  if (o.kind === "internal-error") {
    return `<section><h2><span class="status error">ERROR</span> ${esc(o.file)}</h2>` +
      `<div class="failure">internal error: ${esc(o.message)}\n` +
      `this is a bug in irqlab: please report it with the scenario</div></section>`;
  }
  if (o.kind === "input-error") {
    const text = o.diagnostics.map((d) => formatDiagnostic(d, (p) => o.sources.get(p)));
    return `<section><h2><span class="status error">ERROR</span> ${esc(o.file)}</h2>` +
      text.map((t) => `<div class="failure">${esc(t)}</div>`).join("") + `</section>`;
  }
  if (o.kind === "checked") {
    return `<section><h2><span class="status checked">CHECKED</span> ${esc(o.file)} ` +
      `<small>${esc(o.title)}</small></h2></section>`;
  }
  const r = o.result;
  const parts = [
    `<section id="s${index}"><h2><span class="status ${r.status}">${r.status.toUpperCase()}</span> ` +
    `${esc(r.file)} <small>${esc(r.title)}</small></h2>`,
  ];
  if (r.expectFailure !== null) {
    parts.push(`<p>expect failure: ${esc(r.expectFailure)}</p>`);
  }
  if (r.skipReason) parts.push(`<p>skipped: ${esc(r.skipReason)}</p>`);
  for (const f of r.failures) {
    parts.push(
      `<div class="failure">${esc(`${f.loc.source}:${f.loc.start.line}:${f.loc.start.column}`)}: ${
        esc(`${f.kind} ${f.text}`)
      }\n  expected: ${esc(f.expected)}\n  actual:   ${esc(f.actual)}</div>`,
    );
  }
  if (r.trace.length) {
    parts.push(
      `<h3>Timeline</h3><div class="figure">${timelineSvg(timeline(r), `tl${index}`)}</div>`,
    );
  }
  if (entry.source) parts.push(sourceView(r, entry.source));
  parts.push("</section>");
  return parts.join("\n");
}

function sourceView(r: ScenarioResult, source: { path: string; text: string }): string {
  const failed = new Map<number, string>();
  for (const f of r.failures) {
    if (f.loc.source !== source.path) continue;
    const line = f.loc.start.line;
    const why = `${f.kind} ${f.text}: expected ${f.expected}; actual ${f.actual}`;
    failed.set(line, failed.has(line) ? `${failed.get(line)}\n${why}` : why);
  }
  const decoded = decodeMagic(source.text);
  const decodedAt = new Map<number, string>();
  for (const d of decoded) {
    decodedAt.set(d.line, decodedAt.has(d.line) ? `${decodedAt.get(d.line)}\n${d.text}` : d.text);
  }
  const lines = source.text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  const width = String(lines.length).length;
  const shown = lines.map((l, i) => {
    const n = i + 1;
    const why = failed.get(n);
    const dec = decodedAt.get(n);
    const cls = why ? "failed" : dec ? "decoded" : "";
    const title = [why, dec].filter((x) => x !== undefined).join("\n");
    return `<span data-line="${n}"${cls ? ` class="${cls}"` : ""}${
      title ? ` title="${esc(title)}"` : ""
    }><span class="n">${String(n).padStart(width)}</span>  ${esc(l)}</span>`;
  });
  const parts = [
    `<h3>Source: ${esc(source.path)}</h3>`,
    `<pre class="source"><code>${shown.join("")}</code></pre>`,
  ];
  if (decoded.length) {
    parts.push(
      `<h3>Decoded numbers</h3><ul class="decoded">${
        decoded.map((d) => `<li>line ${d.line}: ${esc(d.text)}</li>`).join("")
      }</ul>`,
    );
  }
  return parts.join("\n");
}
