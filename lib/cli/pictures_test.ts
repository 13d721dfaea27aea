// The command line's pictures and machine formats: --timeline, --html, --tap.
import assert from "node:assert/strict";
import { type Io, main, mainAsync } from "./main.ts";
import type { ProgressSink } from "../report/progress.ts";

const FIXTURE = "tests/fixtures/pictures/redelivery_two_cpus.scn";
const PASS = "tests/fixtures/cli/pass.scn";

function capture(extra: Partial<Io> = {}) {
  const c = {
    code: -1,
    out: [] as string[],
    err: [] as string[],
    files: new Map<string, string>(),
  };
  const io: Io = {
    out: (line) => c.out.push(line),
    err: (line) => c.err.push(line),
    color: false,
    writeFile: (path, text) => c.files.set(path, text),
    ...extra,
  };
  return { c, io };
}

function scn(args: string[], extra: Partial<Io> = {}) {
  const { c, io } = capture(extra);
  c.code = main(args, io);
  return c;
}

/** A stderr that says it is (or is not) a terminal, and keeps what is written. */
function terminal(isTerminal = true): ProgressSink & { written: string[] } {
  const written: string[] = [];
  return { isTerminal: () => isTerminal, write: (t) => void written.push(t), written };
}

const header = (l: string) => /^\s+time\s+step\s/.test(l);

Deno.test("scn run --timeline draws the failing scenarios; --timeline=all every one", () => {
  const failing = scn(["run", "--timeline", PASS, FIXTURE]);
  assert.equal(failing.code, 1);
  assert.equal(failing.out.filter(header).length, 1);
  const at = failing.out.findIndex(header);
  assert.ok(failing.out.slice(0, at).some((l) => l.startsWith("FAIL ")));
  assert.ok(failing.out.some((l) => /!!\s+=*X.*FAILED .*:15: expect vcpu0 took 0x9a once/.test(l)));
  const all = scn(["run", "--timeline=all", PASS, FIXTURE]).out;
  assert.equal(all.filter(header).length, 2);
  // A passing scenario's lanes hold its events too (its run keeps the trace).
  assert.ok(all.some((l) => /took: 0x\w+/.test(l)));
  assert.ok(!all.includes("  (no events)"));
  const bad = scn(["run", "--timeline=some", PASS]);
  assert.equal(bad.code, 2);
  assert.match(bad.err[0], /--timeline=all/);
});

Deno.test("scn run --html - prints one page; --html FILE writes it", () => {
  const printed = scn(["run", "--html", "-", FIXTURE]);
  assert.equal(printed.code, 1);
  const page = printed.out.join("\n");
  assert.ok(page.startsWith("<!doctype html>"));
  assert.ok(page.trimEnd().endsWith("</html>"));
  assert.ok(page.includes('<span data-line="15" class="failed"'));
  const written = scn(["run", "--html", "/tmp/x.html", FIXTURE]);
  assert.equal(written.files.get("/tmp/x.html"), page + "\n");
  assert.ok(written.out.at(-1)!.endsWith("1 failed"), "the text report still prints");
});

Deno.test("scn run --tap and scn explore --tap print TAP 14 and keep the exit code", () => {
  const run = scn(["run", "--tap", PASS, FIXTURE]);
  assert.equal(run.code, 1);
  assert.deepEqual(run.out.join("\n").split("\n").slice(0, 4), [
    "TAP version 14",
    "1..2",
    `ok 1 - ${PASS}  an IPI to self is taken once`,
    `not ok 2 - ${FIXTURE}  a level-triggered vector re-delivers to vcpu0 after EOI, never to vcpu1`,
  ]);
  const explore = scn(["explore", "--tap", "scenarios/races"]);
  const lines = explore.out.join("\n").split("\n");
  assert.equal(lines[0], "TAP version 14");
  assert.match(lines[1], /^1\.\.\d+$/);
  assert.ok(lines.some((l) => /^not ok \d+ - .* # TODO expected failure: /.test(l)));
  assert.equal(explore.code, 0);
});

Deno.test("scn run: --json, --tap and --html - cannot be asked for together", () => {
  const r = scn(["run", "--json", "--tap", PASS]);
  assert.equal(r.code, 2);
  assert.match(r.err[0], /choose one/);
  assert.equal(scn(["explore", "--html", "-", PASS]).code, 2);
});

const RACE = "scenarios/races/ioapic_level_eoi_vs_reassert.scn";

Deno.test("scn explore draws a progress line on a terminal, and clears it before the report", async () => {
  for (const run of [main, mainAsync]) {
    const tty = terminal();
    const { c, io } = capture({ progress: tty });
    c.code = await run(["explore", RACE], io);
    const text = tty.written.join("");
    assert.match(
      text,
      new RegExp(
        `\\rexplore 1/1 ${RACE}: states \\d+/100000 \\(\\d+%\\)  [\\d.]+/s  \\S+ left  0 failed`,
      ),
    );
    assert.match(tty.written.at(-1)!, /^\r {10,}\r$/, "the line is wiped at the end");
    assert.ok(!text.includes("\n"), "the line never scrolls");
  }
});

Deno.test("no progress line when stderr is not a terminal, or with --json or --tap", () => {
  for (
    const [args, tty] of [
      [["explore", RACE], terminal(false)],
      [["explore", "--json", RACE], terminal()],
      [["explore", "--tap", RACE], terminal()],
    ] as const
  ) {
    scn([...args], { progress: tty });
    assert.deepEqual(tty.written, [], args.join(" "));
  }
});

Deno.test("scn run draws a progress line only for the slow backend (runProgress), on a terminal", () => {
  const tty = terminal();
  scn(["run", PASS, FIXTURE], { progress: tty, runProgress: true });
  assert.match(tty.written.join(""), /\rrun 2\/2 \(100%\) {2}[\d.]+\/s {2}\S+ left {2}1 failed/);
  const quiet = terminal();
  scn(["run", PASS, FIXTURE], { progress: quiet });
  assert.deepEqual(quiet.written, []);
  const json = terminal();
  scn(["run", "--json", PASS], { progress: json, runProgress: true });
  assert.deepEqual(json.written, []);
});

Deno.test("scn explore --timeline draws the failing order, with the failure where it was checked", () => {
  const race = "scenarios/races/ioapic_level_eoi_before_quiesce.scn";
  const r = scn(["explore", "--timeline", race]);
  assert.equal(r.code, 0, "a known race: the failing order is expected");
  const at = r.out.indexOf("  the failing order's timeline:");
  assert.ok(at > 0);
  assert.match(r.out[at + 1], /^\s+time\s+step\s+device nic\s+kvm\s+ioapic\s+lapic0\s+vcpu0$/);
  const rows = r.out.slice(at + 2);
  const failed = rows.findIndex((l) => l.includes(`FAILED ${race}:`));
  // In this order the EOI re-delivers before the device lowers the line: two takes, then the check.
  const takes = rows.slice(0, failed).filter((l) => /took: 0x9a/.test(l));
  assert.equal(takes.length, 2);
  assert.ok(rows.slice(0, failed).some((l) => /deassert: gsi 20 low/.test(l)));
  // Without --timeline, no lanes.
  assert.ok(!scn(["explore", race]).out.some(header));
});
