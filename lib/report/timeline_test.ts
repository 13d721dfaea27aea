import assert from "node:assert/strict";
import { runText } from "../api/scenario.ts";
import type { TraceEvent } from "../core/trace.ts";
import type { Failure } from "../engine/run.ts";
import { timeline, timelineText } from "./timeline.ts";
import { textReport } from "./text.ts";
import type { Outcome } from "./outcome.ts";

const FIXTURE = "tests/fixtures/pictures/redelivery_two_cpus.scn";
const PASS = "tests/fixtures/cli/pass.scn";

function run(file: string) {
  return runText(Deno.readTextFileSync(file), file);
}

Deno.test("timeline() puts lanes in the order an interrupt travels: device, hypervisor, chip, CPU", () => {
  const t = timeline(run(FIXTURE));
  assert.deepEqual(t.lanes, ["device nic", "kvm", "ioapic", "lapic0", "vcpu0", "lapic1"]);
});

Deno.test("timeline() shows every event once, in trace order, with its cause's lane", () => {
  const r = run(FIXTURE);
  const t = timeline(r);
  const rows = t.rows.filter((x) => x.kind === "event");
  assert.deepEqual(rows.map((x) => x.event.id), r.trace.map((e) => e.id));
  for (const row of rows) {
    const cause = r.trace[row.event.cause - 1];
    assert.equal(row.causeLane, cause ? t.lanes.indexOf(cause.source) : -1);
    assert.equal(t.lanes[row.lane], row.event.source);
  }
});

Deno.test("timeline() puts each failed expectation right after the last event before its check", () => {
  const r = run(FIXTURE);
  const t = timeline(r);
  assert.equal(r.failures.length, 2);
  for (const f of r.failures) {
    const i = t.rows.findIndex((x) => x.kind === "failure" && x.failure === f);
    const before = t.rows[i - 1];
    assert.ok(before.kind === "event" || before.kind === "failure");
    if (before.kind === "event") assert.equal(before.event.id, f.after);
    const next = t.rows.slice(i + 1).find((x) => x.kind === "event");
    if (next?.kind === "event") assert.ok(next.event.id > f.after);
  }
  // The second `run` re-delivered 0x9a: both failures come after the second take.
  const tookRows = t.rows.flatMap((
    x,
    i,
  ) => (x.kind === "event" && x.event.kind === "took" ? [i] : []));
  const failRows = t.rows.flatMap((x, i) => (x.kind === "failure" ? [i] : []));
  assert.equal(tookRows.length, 2);
  assert.ok(failRows.every((i) => i > tookRows[1]));
});

Deno.test("timelineText() draws lanes, cause arrows and the failure as plain ASCII", async (t) => {
  const lines = timelineText(timeline(run(FIXTURE)));
  for (const l of lines) assert.match(l, /^[\x20-\x7e]*$/, `not plain ASCII: ${l}`);
  // The take: an arrow from lapic0's lane to vcpu0's, and its cause named.
  const took = lines.find((l) => l.includes("took: 0x9a"))!;
  assert.match(took, /\+-+>\*/);
  assert.match(took, /<- #\d+$/);
  const failed = lines.filter((l) => l.includes("FAILED"));
  assert.equal(failed.length, 2);
  assert.match(failed[0], /^\s+!!\s+=*X/);
  assert.ok(failed[0].includes(`${FIXTURE}:15: expect vcpu0 took 0x9a once`));
  await t.assertSnapshot(lines.join("\n"));
});

function syntheticTrace(n: number): TraceEvent[] {
  // A chain every 10 events, so that cause chains are long and sparse.
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    time: i * 1000,
    source: i % 2 ? "vcpu0" : "device d",
    kind: "k",
    text: `event ${i + 1}`,
    cause: i >= 10 ? i + 1 - 10 : 0,
  }));
}

Deno.test("timeline() cuts a long trace to the failure's cause chain and what came just before it", () => {
  const trace = syntheticTrace(1000);
  const at = { offset: 0, line: 3, column: 1 };
  const failure: Failure = {
    kind: "expect",
    loc: { source: "x.scn", start: at, end: at },
    text: "x",
    expected: "a",
    actual: "b",
    events: [trace[499]],
    time: 0,
    after: 600,
  };
  const t = timeline({ trace, failures: [failure] }, { maxEvents: 100 });
  const shown = t.rows.flatMap((x) => (x.kind === "event" ? [x.event.id] : []));
  assert.ok(shown.length <= 100);
  for (let id = 500; id > 0; id -= 10) assert.ok(shown.includes(id), `chain event #${id} kept`);
  for (let id = 600; id > 590; id--) assert.ok(shown.includes(id), `context #${id} kept`);
  const gaps = t.rows.flatMap((x) => (x.kind === "gap" ? [x.count] : []));
  assert.equal(gaps.reduce((a, b) => a + b, 0) + shown.length, 1000);
  assert.ok(timelineText(t).some((l) => /\.\.\. \d+ events not shown/.test(l)));
});

Deno.test("textReport() draws timelines of failing scenarios, or of all with 'all'", () => {
  const outcomes: Outcome[] = [PASS, FIXTURE].map((file) => ({
    kind: "result",
    file,
    result: run(file),
  }));
  const opts = (timeline?: "failed" | "all") => ({
    trace: false,
    replay: (f: string) => f,
    timeline,
  });
  const count = (o: ReturnType<typeof opts>) =>
    textReport(outcomes, o).filter((l) => /^\s+time\s+step\s/.test(l.text)).length;
  assert.equal(count(opts()), 0);
  assert.equal(count(opts("failed")), 1);
  assert.equal(count(opts("all")), 2);
});
