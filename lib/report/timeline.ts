/**
 * Timelines: a scenario's trace laid out as one lane per actor (device, VMM,
 * hypervisor, interrupt controller, vCPU), events down the page in the order
 * they happened, each joined to the event that caused it, and every failed
 * expectation at the point where it was checked.
 *
 * {@link timeline} builds the layout once; {@link timelineText} draws it in
 * plain ASCII that survives a plain-text email (`scn run --timeline`, the
 * comments of `scn report`), and `svg.ts` draws the same layout as a picture
 * (`scn run --html`, the playground).
 *
 * Lanes read left to right the way an interrupt travels: devices, the VMM,
 * the hypervisor, the chips shared by the VM (PIC, IOAPIC, ITS, distributor),
 * then each vCPU's own controller beside the vCPU.
 *
 * @module
 */
import type { TraceEvent } from "../core/trace.ts";
import type { Failure, ScenarioResult } from "../engine/run.ts";
import { formatTime } from "../core/trace.ts";

/** One row of a timeline. */
export type TimelineRow =
  | {
    /** A trace event in its lane. */
    kind: "event";
    /** The event. */
    event: TraceEvent;
    /** Index of its lane in {@link Timeline.lanes}. */
    lane: number;
    /** Index of its cause's lane, or -1 when it has no cause. */
    causeLane: number;
  }
  | {
    /** A failed expectation or invariant, after the last event before its check. */
    kind: "failure";
    /** The failure. */
    failure: Failure;
    /** Lanes of the events its explanation quotes (`Failure.events`). */
    lanes: number[];
  }
  | {
    /** Events left out of a long trace. */
    kind: "gap";
    /** How many. */
    count: number;
  };

/** A trace laid out in lanes. */
export interface Timeline {
  /** Lane names, left to right: trace sources (`device nic`, `ioapic`, `vcpu0`). */
  lanes: string[];
  /** Rows, top to bottom. */
  rows: TimelineRow[];
  /** Events in the whole trace, shown or not. */
  events: number;
}

/** Options for {@link timeline}. */
export interface TimelineOptions {
  /**
   * Most event rows to show. A longer trace keeps its first events, the cause
   * chains of its failures and the events just before each failure, and
   * names what it leaves out.
   */
  maxEvents: number;
}

/** The defaults: enough for any scenario in the library that fails. */
export const DEFAULT_TIMELINE_OPTIONS: TimelineOptions = { maxEvents: 400 };

/** Events kept before each failure, and at the start, when a trace is cut. */
const CONTEXT = 12;

/** Rank of a source's lane group; lower is further left. */
function group(source: string): { rank: number; cpu: number } {
  if (source.startsWith("device ")) return { rank: 0, cpu: -1 };
  if (source === "vmm") return { rank: 1, cpu: -1 };
  if (source === "kvm" || source === "xen") return { rank: 2, cpu: -1 };
  // Per-vCPU lanes: the vCPU's own controller and timer sit just left of it.
  const m = /^(lapic|gicr|timer|vcpu)(\d+)$/.exec(source);
  if (m) return { rank: 4, cpu: Number(m[2]) * 2 + (m[1] === "vcpu" ? 1 : 0) };
  return { rank: 3, cpu: -1 };
}

/**
 * Lays out a result's trace.
 *
 * @example
 * ```ts
 * import { runText } from "../api/scenario.ts";
 * const r = runText('scenario "t"\nvm g { arch x86_64 }\nvcpu0: sti\nrun\n', "t.scn");
 * timeline(r).lanes; // ["lapic0", "kvm", "vcpu0"] in lane order
 * ```
 */
export function timeline(
  result: Pick<ScenarioResult, "trace" | "failures">,
  options: TimelineOptions = DEFAULT_TIMELINE_OPTIONS,
): Timeline {
  const trace = result.trace;
  const keep = keptEvents(result, options.maxEvents);
  const first = new Map<string, number>();
  const note = (s: string) => {
    if (!first.has(s)) first.set(s, first.size);
  };
  for (const e of trace) {
    if (!keep || keep.has(e.id)) note(e.source);
  }
  const lanes = [...first.keys()].sort((a, b) => {
    const ga = group(a), gb = group(b);
    return ga.rank - gb.rank || ga.cpu - gb.cpu || first.get(a)! - first.get(b)!;
  });
  const laneOf = new Map(lanes.map((l, i) => [l, i]));
  const lane = (id: number) => {
    const e = trace[id - 1];
    return e === undefined ? -1 : laneOf.get(e.source) ?? -1;
  };

  // Failures in the order they were checked, each after the event it followed.
  const failures = [...result.failures].sort((a, b) => a.after - b.after);
  const rows: TimelineRow[] = [];
  let f = 0;
  let gap = 0;
  const flushGap = () => {
    if (gap) rows.push({ kind: "gap", count: gap });
    gap = 0;
  };
  const failuresUpTo = (id: number) => {
    for (; f < failures.length && failures[f].after <= id; f++) {
      flushGap();
      const about = new Set<number>();
      for (const e of failures[f].events) {
        const l = laneOf.get(e.source);
        if (l !== undefined) about.add(l);
      }
      rows.push({ kind: "failure", failure: failures[f], lanes: [...about].sort((a, b) => a - b) });
    }
  };
  failuresUpTo(0);
  for (const e of trace) {
    if (keep && !keep.has(e.id)) {
      gap++;
    } else {
      flushGap();
      rows.push({
        kind: "event",
        event: e,
        lane: laneOf.get(e.source)!,
        causeLane: e.cause ? lane(e.cause) : -1,
      });
    }
    failuresUpTo(e.id);
  }
  flushGap();
  failuresUpTo(Infinity);
  return { lanes, rows, events: trace.length };
}

/** The ids to show when the trace is longer than `max`; undefined to show all. */
function keptEvents(
  result: Pick<ScenarioResult, "trace" | "failures">,
  max: number,
): Set<number> | undefined {
  const trace = result.trace;
  if (trace.length <= max) return undefined;
  const keep = new Set<number>();
  // Most important first, so that what `max` cuts is the least telling.
  const wanted: number[] = [];
  for (const f of result.failures) {
    for (const e of f.events) {
      for (let x: TraceEvent | undefined = e; x; x = x.cause ? trace[x.cause - 1] : undefined) {
        wanted.push(x.id);
      }
    }
    for (let id = f.after; id > f.after - CONTEXT && id > 0; id--) wanted.push(id);
  }
  if (result.failures.length === 0) {
    for (let id = trace.length; id > trace.length - CONTEXT && id > 0; id--) wanted.push(id);
  }
  for (let id = 1; id <= CONTEXT && id <= trace.length; id++) wanted.push(id);
  // Then whatever the budget allows, back from the last failure (or the end).
  const last = result.failures.reduce((m, f) => Math.max(m, f.after), 0) || trace.length;
  for (let id = last; id > 0 && wanted.length < max * 4; id--) wanted.push(id);
  for (const id of wanted) {
    if (keep.size >= max) break;
    keep.add(id);
  }
  return keep;
}

/** Text column where each lane's line is drawn, and the width of the lanes block. */
function laneColumns(lanes: readonly string[]): { at: number[]; width: number } {
  const at: number[] = [];
  let x = 0;
  for (const l of lanes) {
    const w = Math.max(l.length, 3) + 2;
    at.push(x + Math.floor(w / 2));
    x += w;
  }
  return { at, width: x };
}

/**
 * Draws a timeline in plain ASCII, one line per row: the virtual time when it
 * changes, the event's number, the lanes (`*` the event, `+--->` from its
 * cause's lane, `X` the lanes of the events a failure quotes), then the event's
 * kind and text and `<- #N`, the event that caused it. `where` names a
 * failure's place (`file:line` by default).
 *
 * @example
 * ```ts
 * import { runText } from "../api/scenario.ts";
 * const r = runText('scenario "t"\nvm g { arch x86_64 }\nvcpu0: sti\nrun\n', "t.scn");
 * timelineText(timeline(r)).join("\n");
 * // "  time  step  lapic0   kvm   vcpu0\n  0ns     #1     *       |      |    reset: power-up reset\n..."
 * ```
 */
export function timelineText(
  t: Timeline,
  where: (f: Failure) => string = (f) => `${f.loc.source}:${f.loc.start.line}`,
): string[] {
  const { at, width } = laneColumns(t.lanes);
  const rowsTime = t.rows.map((r) => (r.kind === "event" ? formatTime(r.event.time) : ""));
  const timeWidth = Math.max(4, ...rowsTime.map((s) => s.length));
  const lastId = t.events;
  const stepWidth = Math.max(4, `#${lastId}`.length);

  const header = [..." ".repeat(width)];
  t.lanes.forEach((l, i) => {
    const start = at[i] - Math.floor(l.length / 2);
    for (let k = 0; k < l.length; k++) header[start + k] = l[k];
  });
  const out = [
    `  ${"time".padEnd(timeWidth)}  ${"step".padStart(stepWidth)}  ${header.join("").trimEnd()}`,
  ];
  const blank = () => {
    const cells = [..." ".repeat(width)];
    for (const x of at) cells[x] = "|";
    return cells;
  };
  let lastTime = "";
  for (const r of t.rows) {
    const cells = blank();
    let time = "";
    let step = "";
    let text = "";
    if (r.kind === "event") {
      const e = r.event;
      time = formatTime(e.time);
      if (time === lastTime) time = "";
      else lastTime = time;
      step = `#${e.id}`;
      const x = at[r.lane];
      if (r.causeLane >= 0 && r.causeLane !== r.lane) {
        const c = at[r.causeLane];
        const [lo, hi] = c < x ? [c, x] : [x, c];
        for (let k = lo + 1; k < hi; k++) cells[k] = "-";
        cells[c] = "+";
        cells[c < x ? x - 1 : x + 1] = c < x ? ">" : "<";
      }
      cells[x] = "*";
      text = `${e.kind}: ${e.text}${e.cause ? `  <- #${e.cause}` : ""}`;
    } else if (r.kind === "failure") {
      step = "!!";
      cells.fill("=");
      for (const l of r.lanes) cells[at[l]] = "X";
      const f = r.failure;
      text = `FAILED ${where(f)}: ${f.kind} ${f.text}` +
        `  (expected ${f.expected}; actual ${f.actual})`;
    } else {
      for (const x of at) cells[x] = ":";
      text = `... ${r.count} event${r.count === 1 ? "" : "s"} not shown`;
    }
    out.push(
      `  ${time.padEnd(timeWidth)}  ${step.padStart(stepWidth)}  ${cells.join("")}  ${
        oneLine(text)
      }`.trimEnd(),
    );
  }
  if (t.rows.length === 0) out.push("  (no events)");
  return out;
}

// A row is one line: values printed over lines must not break the lanes.
function oneLine(s: string): string {
  return s.replace(/\r\n|\n|\r/g, " ");
}
