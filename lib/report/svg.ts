/**
 * A timeline (`timeline.ts`) drawn as SVG: lanes as vertical lines, events
 * down the page as dots in their lanes with the event's text on hover (a
 * `<title>`), an arrow from each event's cause, and every failed expectation
 * as a red band at the point where it was checked.
 *
 * The drawing uses no scripts, fonts or images, and refers to nothing outside
 * itself, so it can sit in an e-mailed HTML page (`scn run --html`) or the
 * playground. Classes (`ev`, `took`, `failure`) let a page style it; every
 * event's group carries `data-id` and `data-kind` for tests and tools.
 *
 * @module
 */
import type { Timeline } from "./timeline.ts";
import { formatEvent, formatTime } from "../core/trace.ts";

const ROW = 18;
const LANE = 84;
const HEAD = 34;
const LEFT = 92;
const LABEL = 520;
/** Characters of an event's text shown beside it; the rest is on hover. */
const LABEL_CHARS = 72;

/**
 * Escapes text for XML content and attribute values.
 *
 * @example
 * ```ts
 * escapeXml('a < "b"'); // "a &lt; &quot;b&quot;"
 * ```
 */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => XML_ENTITIES[c])
    // XML 1.0 has no place for most control characters, even escaped.
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, "\ufffd");
}

const XML_ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/**
 * Draws a timeline as one `<svg>` element. `id` makes the arrowhead marker's
 * id unique when a page holds several drawings.
 *
 * @example
 * ```ts
 * import { runText } from "../api/scenario.ts";
 * import { timeline } from "./timeline.ts";
 * const r = runText('scenario "t"\nvm g { arch x86_64 }\nvcpu0: sti\nrun\n', "t.scn");
 * timelineSvg(timeline(r)).startsWith("<svg"); // true
 * ```
 */
export function timelineSvg(t: Timeline, id = "tl"): string {
  const laneX = (i: number) => LEFT + LANE / 2 + i * LANE;
  const width = LEFT + t.lanes.length * LANE + LABEL;
  const height = HEAD + t.rows.length * ROW + ROW / 2;
  const rowY = (i: number) => HEAD + i * ROW + ROW / 2;
  const arrow = `${id}-arrow`;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="monospace" font-size="11">`,
    `<defs><marker id="${arrow}" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" ` +
    `markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#5b6b82"/>` +
    `</marker></defs>`,
    `<style>.ev:hover text{font-weight:bold}.ev:hover circle{stroke:#000;stroke-width:2}</style>`,
  ];
  // Lanes: a name above a line down the page.
  t.lanes.forEach((name, i) => {
    const x = laneX(i);
    out.push(
      `<g class="lane" data-lane="${escapeXml(name)}">` +
        `<text x="${x}" y="${HEAD - 14}" text-anchor="middle" font-weight="bold">${
          escapeXml(clip(name, 12))
        }<title>${escapeXml(name)}</title></text>` +
        `<line x1="${x}" y1="${HEAD - 6}" x2="${x}" y2="${height}" stroke="#c8ced8"/></g>`,
    );
  });
  out.push(
    `<text x="4" y="${HEAD - 14}" font-weight="bold">time</text>` +
      `<text x="${LEFT - 8}" y="${HEAD - 14}" text-anchor="end" font-weight="bold">step</text>`,
  );
  // Where each shown event is drawn, for its effects' arrows.
  const at = new Map<number, { x: number; y: number }>();
  let lastTime = "";
  t.rows.forEach((r, i) => {
    const y = rowY(i);
    const textX = LEFT + t.lanes.length * LANE + 8;
    if (r.kind === "gap") {
      out.push(
        `<g class="gap"><text x="${textX}" y="${y + 4}" fill="#777">… ${r.count} event${
          r.count === 1 ? "" : "s"
        } not shown</text></g>`,
      );
      return;
    }
    if (r.kind === "failure") {
      const f = r.failure;
      const where = `${f.loc.source}:${f.loc.start.line}`;
      const full = `${where}: ${f.kind} ${f.text}\nexpected: ${f.expected}\nactual: ${f.actual}`;
      out.push(
        `<g class="failure" data-line="${f.loc.start.line}"><title>${escapeXml(full)}</title>` +
          `<rect x="0" y="${y - ROW / 2 + 1}" width="${width}" height="${ROW - 2}" ` +
          `fill="#fde2e2" stroke="#d33"/>` +
          `<text x="${LEFT - 8}" y="${
            y + 4
          }" text-anchor="end" fill="#b00" font-weight="bold">!!</text>` +
          r.lanes.map((l) =>
            `<path d="M${laneX(l) - 5},${
              y - 5
            } l10,10 m0,-10 l-10,10" stroke="#b00" stroke-width="2"/>`
          ).join("") +
          `<text x="${textX}" y="${y + 4}" fill="#b00" font-weight="bold">${
            escapeXml(clip(`FAILED line ${f.loc.start.line}: ${f.kind} ${f.text}`, LABEL_CHARS))
          }</text></g>`,
      );
      return;
    }
    const e = r.event;
    const x = laneX(r.lane);
    at.set(e.id, { x, y });
    const time = formatTime(e.time);
    const parts = [
      `<g class="ev ${escapeXml(e.kind.replace(/[^a-z0-9_-]/gi, "-"))}" data-id="${e.id}" ` +
      `data-kind="${escapeXml(e.kind)}" data-lane="${escapeXml(t.lanes[r.lane])}">`,
      `<title>${escapeXml(formatEvent(e))}</title>`,
    ];
    if (time !== lastTime) {
      parts.push(`<text x="4" y="${y + 4}" fill="#555">${escapeXml(time)}</text>`);
      lastTime = time;
    }
    parts.push(`<text x="${LEFT - 8}" y="${y + 4}" text-anchor="end" fill="#777">#${e.id}</text>`);
    if (r.causeLane >= 0) {
      const from = at.get(e.cause) ?? { x: laneX(r.causeLane), y };
      if (from.x === x) {
        // Same lane: a bow to the right, so it does not hide the lane's own dots.
        const bow = Math.min(LANE / 2 - 6, 10 + (y - from.y) / 12);
        parts.push(
          `<path d="M${x + 4},${from.y} C${x + bow},${from.y} ${x + bow},${y} ${x + 5},${y}" ` +
            `fill="none" stroke="#5b6b82" marker-end="url(#${arrow})"/>`,
        );
      } else {
        const dir = from.x < x ? 1 : -1;
        parts.push(
          `<path d="M${from.x},${from.y} C${from.x},${y} ${from.x},${y} ${x - dir * 6},${y}" ` +
            `fill="none" stroke="#5b6b82" marker-end="url(#${arrow})"/>`,
        );
      }
    }
    const took = e.kind === "took";
    parts.push(
      `<circle cx="${x}" cy="${y}" r="${took ? 5 : 4}" fill="${took ? "#1f6feb" : "#fff"}" ` +
        `stroke="#1f3b63"/>`,
      `<text x="${textX}" y="${y + 4}"${took ? ` font-weight="bold" fill="#1f3b63"` : ""}>${
        escapeXml(clip(`${e.kind}: ${e.text}`, LABEL_CHARS))
      }</text></g>`,
    );
    out.push(parts.join(""));
  });
  out.push("</svg>");
  return out.join("\n");
}
