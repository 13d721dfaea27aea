import assert from "node:assert/strict";
import { type Io, main, mainAsync } from "./main.ts";

interface Captured {
  code: number;
  out: string[];
  err: string[];
  files: Map<string, string>;
}

function io(c: Captured, writeFile?: Io["writeFile"]): Io {
  return {
    out: (line) => c.out.push(line),
    err: (line) => c.err.push(line),
    color: false,
    writeFile: writeFile ?? ((path, text) => c.files.set(path, text)),
  };
}

function scn(args: string[], writeFile?: Io["writeFile"]): Captured {
  const c: Captured = { code: -1, out: [], err: [], files: new Map() };
  c.code = main(args, io(c, writeFile));
  return c;
}

async function scnAsync(args: string[]): Promise<Captured> {
  const c: Captured = { code: -1, out: [], err: [], files: new Map() };
  c.code = await mainAsync(args, io(c));
  return c;
}

// One IOAPIC level race shared by the explore tests and bench: the EOI can come before the line drops.
const RACE = Deno.readTextFileSync(
  new URL("../../tests/fixtures/explore/eoi_before_deassert.scn", import.meta.url),
);

/** A scenario file in a fresh temporary directory. */
function tempScenario(text = RACE): string {
  const dir = Deno.makeTempDirSync({ prefix: "scn-explore-" });
  const file = `${dir}/race.scn`;
  Deno.writeTextFileSync(file, text);
  return file;
}

Deno.test("scn explore: the race library passes, known races found (XFAIL)", () => {
  const c = scn(["explore", "scenarios/races"]);
  assert.equal(c.code, 0, c.out.join("\n"));
  assert.deepEqual(c.err, []);
  const heads = c.out.filter((l) => /^(PASS|FAIL|XFAIL|XPASS|ERROR)/.test(l));
  assert.ok(heads.length >= 6);
  assert.ok(
    heads.some((l) => l.startsWith("XFAIL scenarios/races/ioapic_level_eoi_before_quiesce.scn")),
  );
  assert.ok(heads.some((l) => l.startsWith("PASS  scenarios/races/its_movi_vs_msi.scn")));
  // Counts depend on the models' state; the shape does not.
  assert.ok(
    c.out.some((l) =>
      /^ {6}6 interleavings, all pass \(1 parallel block run; \d+ states, \d+ runs(, \d+ reached a state already seen)?, \d+ cut by the reduction\)$/
        .test(l)
    ),
  );
  assert.match(c.out.at(-1)!, /^\d+ passed, 0 failed$/);
});

Deno.test("scn explore: a failing order exits 1 with its token, its failures and a plain scenario", () => {
  const file = tempScenario();
  const c = scn(["explore", file]);
  assert.equal(c.code, 1);
  assert.equal(c.out[0], `FAIL  ${file}  EOI before the device drops its line`);
  assert.match(
    c.out[1],
    /^ {2}failing order: --schedule 8:2,3,0,1 \(2 steps out of written order; 1 parallel block run; \d+ states, \d+ runs/,
  );
  assert.equal(c.out[2], `  ${file}:15:1: expect vcpu0 took 0x9a once`);
  assert.ok(c.out.includes(`  replay: deno task scn run ${file} --schedule 8:2,3,0,1 --trace`));
  const at = c.out.indexOf("  as a plain scenario ('scn run' fails on it; --out FILE writes it):");
  assert.ok(at > 0);
  const linear = c.out.slice(at + 1).filter((l) => l.startsWith("    | ")).map((l) => l.slice(6));
  assert.ok(linear.includes("# parallel block (line 8) in the order 2, 3, 0, 1"));
  assert.ok(linear.includes("vcpu0: eoi               # the handler's EOI"));
  assert.equal(c.out.at(-1), "0 passed, 1 failed");
  // --trace adds the failing order's whole trace.
  const t = scn(["explore", file, "--trace"]);
  assert.ok(t.out.length > c.out.length);
  assert.ok(t.out.some((l) => /^ {2}#1 @0ns /.test(l)));
});

Deno.test("scn explore --out writes the plain scenario, which fails under scn run", () => {
  const file = tempScenario();
  const out = file.replace(/race\.scn$/, "order.scn");
  const c = scn(["explore", file, "--out", out], (p, t) => Deno.writeTextFileSync(p, t));
  assert.equal(c.code, 1);
  assert.deepEqual(c.err, []);
  const text = Deno.readTextFileSync(out);
  assert.match(
    text,
    /^# One order of the parallel blocks of .*race\.scn, written out by 'scn explore'/,
  );
  assert.doesNotMatch(text.replace(/#.*$/gm, ""), /parallel/);
  const r = scn(["run", out]);
  assert.equal(r.code, 1);
  assert.equal(r.out[0], `FAIL  ${out}  EOI before the device drops its line`);
  // The written order of the original passes.
  assert.equal(scn(["run", file]).code, 0);
});

Deno.test("scn explore --out without write permission says how to grant it", () => {
  const file = tempScenario();
  const c = scn(["explore", file, "--out", "order.scn"], () => {
    throw new Deno.errors.NotCapable("Requires write access");
  });
  assert.equal(c.code, 2);
  assert.deepEqual(c.err, [
    "scn: writing 'order.scn' needs write permission: run with --allow-write=order.scn",
  ]);
});

Deno.test("scn explore --out when every order passes writes nothing and says so", () => {
  const c = scn(["explore", "scenarios/races/its_movi_vs_msi.scn", "--out", "x.scn"]);
  assert.equal(c.code, 0);
  assert.equal(c.files.size, 0);
  assert.deepEqual(c.err, ["scn explore: nothing written to 'x.scn': no failing order"]);
});

Deno.test("scn run --schedule replays the order; explore --schedule reports it", () => {
  const file = tempScenario();
  const r = scn(["run", file, "--schedule", "8:2,3,0,1"]);
  assert.equal(r.code, 1);
  assert.equal(r.out[1], `  ${file}:15:1: expect vcpu0 took 0x9a once`);
  assert.ok(r.out.includes(`  replay: deno task scn run ${file} --schedule 8:2,3,0,1 --trace`));
  assert.equal(scn(["run", file, "--schedule", "8:0,2,3,1"]).code, 0);
  const e = scn(["explore", file, "--schedule", "8:2,3,0,1"]);
  assert.equal(e.code, 1);
  assert.equal(
    e.out[1],
    "  failing order: --schedule 8:2,3,0,1 (2 steps out of written order; 1 parallel block run; 0 states, 1 run)",
  );
  const ok = scn(["explore", file, "--schedule", "8:1,0,2,3"]);
  assert.equal(ok.code, 0);
});

Deno.test("scn run --schedule: bad tokens and misplaced options are input errors", () => {
  const file = tempScenario();
  let c = scn(["run", file, "--schedule", "8:x"]);
  assert.equal(c.code, 2);
  assert.match(c.err[0], /^scn run: --schedule: '8:x' is not a schedule entry/);
  c = scn(["run", file, "--schedule", "9:1,0"]);
  assert.equal(c.code, 2);
  assert.equal(c.out[0], `ERROR ${file}`);
  assert.match(
    c.out[1],
    /:9:1: error: the schedule names a parallel block at line 9, but none starts there/,
  );
  c = scn(["run", file, "--schedule", "8:3,2,1,0"]);
  assert.equal(c.code, 2);
  assert.match(
    c.out[1],
    /:8:1: error: the schedule's order 3,2,1,0 for this block: step 3 runs before/,
  );
  c = scn(["run", file, file, "--schedule", "8:1,0,2,3"]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.err, ["scn run: --schedule replays one scenario: name one file"]);
  c = scn(["check", file, "--schedule", "8:1,0,2,3"]);
  assert.equal(c.code, 2);
  c = scn(["run", file, "--out", "x.scn"]);
  assert.deepEqual(c.err, ["scn run: --out is an option of 'scn explore'"]);
  c = scn(["explore", file, "--junit", "x.xml"]);
  assert.deepEqual(c.err, ["scn explore: --junit is an option of 'scn run'"]);
  c = scn(["explore", file, "--max-states", "0"]);
  assert.deepEqual(c.err, ["scn explore: --max-states needs a positive whole number, not '0'"]);
  c = scn(["explore"]);
  assert.equal(c.code, 2);
});

Deno.test("scn explore: a budget reached is an input error at the parallel block", () => {
  const file = tempScenario(RACE.replace("expect vcpu0 took 0x9a once", "expect vcpu0.if == 1"));
  const c = scn(["explore", file, "--max-states", "2", "--no-reduce"]);
  assert.equal(c.code, 2);
  assert.equal(c.out[0], `ERROR ${file}`);
  assert.equal(
    c.out[1],
    `  ${file}:8:1: error: explore state budget exhausted: more than 2 states without a verdict`,
  );
  assert.equal(c.out[2], "    8 | parallel {");
  assert.match(c.out.join("\n"), /= raise it with --max-states N/);
});

Deno.test("scn explore --json: one document with the order and the plain scenario", () => {
  const file = tempScenario();
  const c = scn(["explore", file, "--json"]);
  assert.equal(c.code, 1);
  const doc = JSON.parse(c.out.join("\n"));
  assert.equal(doc.version, 1);
  const [x] = doc.explored;
  assert.equal(x.status, "fail");
  assert.equal(x.counterexample.schedule, "8:2,3,0,1");
  assert.equal(x.counterexample.deviations, 2);
  assert.deepEqual(x.counterexample.orders, [{ file, line: 8, run: 1, order: [2, 3, 0, 1] }]);
  assert.equal(x.counterexample.failures[0].line, 15);
  assert.match(x.counterexample.linear, /# parallel block \(line 8\) in the order 2, 3, 0, 1/);
  assert.deepEqual(doc.summary, { passed: 0, failed: 1, xfail: 0, xpass: 0, errors: 0 });
});

Deno.test("scn explore --workers gives the output of one worker", async () => {
  const file = tempScenario();
  for (
    const args of [["explore", file], ["explore", "scenarios/races"], [
      "explore",
      file,
      "--no-dedup",
    ]]
  ) {
    const one = scn(args);
    const many = await scnAsync([...args, "--workers", "3"]);
    assert.equal(many.code, one.code);
    assert.deepEqual(many.out, one.out);
  }
  // Without the asynchronous entry point, workers are refused rather than ignored.
  const sync = scn(["explore", file, "--workers", "2"]);
  assert.equal(sync.code, 2);
});

Deno.test("scn help lists explore and its options", () => {
  const c = scn(["help"]);
  const text = c.out.join("\n");
  assert.match(text, /scn explore \[options\] FILES\|DIRS\.\.\./);
  assert.match(text, /--schedule TOKEN/);
  assert.match(text, /--workers N/);
  assert.match(scn(["help", "explore"]).out.join("\n"), /known-race/);
});
