import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";
import { processTarget } from "./process.ts";
import { difference } from "./report_command.ts";
import { causeChain, fenceBlock } from "../report/block.ts";
import type { Outcome } from "../report/outcome.ts";

// Paths are relative to the repository root, where `deno task test` runs.
const PASS = "tests/fixtures/hosts/level.scn";
const FAIL = "tests/fixtures/hosts/fail.md";
const XFAIL = "scenarios/seeds/001_unmask_bug.scn";

function scn(args: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  const io: Io = {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    color: false,
    writeFile: () => {
      throw new Error("no writes expected");
    },
  };
  return { code: main(args, io), out, err };
}

function run(target: string): Outcome[] {
  return processTarget(target, { mode: "run" });
}

/** The block `scn report` prints, and its contents without the fences. */
function report(file: string): { code: number; block: string; inside: string } {
  const c = scn(["report", file]);
  assert.deepEqual(c.err, []);
  const block = c.out.join("\n") + "\n";
  const lines = c.out;
  assert.equal(lines[0], "```scn");
  assert.equal(lines.at(-1), "```");
  return { code: c.code, block, inside: lines.slice(1, -1).join("\n") + "\n" };
}

for (
  const [what, file, status, code] of [
    ["a passing scenario", PASS, "pass", 0],
    ["a failing hosted scenario", FAIL, "fail", 1],
    ["an XFAIL seed", XFAIL, "xfail", 0],
  ] as const
) {
  Deno.test(`scn report of ${what}: scn run of the block, as .md or as .scn, reproduces the outcome exactly`, async () => {
    const [original] = run(file);
    assert.equal(original.kind === "result" && original.result.status, status);
    const r = report(file);
    assert.equal(r.code, code);
    const dir = await Deno.makeTempDir({ prefix: "irqlab_report_" });
    try {
      await Deno.writeTextFile(`${dir}/bug.md`, `Pasted from scn report:\n\n${r.block}\nThanks.\n`);
      await Deno.writeTextFile(`${dir}/bug.scn`, r.inside);
      const fromMd = run(`${dir}/bug.md`);
      const fromScn = run(`${dir}/bug.scn`);
      assert.equal(fromMd.length, 1);
      for (const again of [fromMd[0], fromScn[0]]) {
        assert.equal(difference(original, again), undefined);
        assert.equal(again.kind === "result" && again.result.status, status);
      }
      const rerun = scn(["run", `${dir}/bug.md`, `${dir}/bug.scn`]);
      assert.equal(rerun.code, code);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("scn report puts the header line first, the scenario, then its outcome as comments", () => {
  const { inside } = report(PASS);
  const lines = inside.split("\n");
  assert.equal(lines[0], "irqlab 1");
  assert.equal(lines.slice(1, 22).join("\n") + "\n", Deno.readTextFileSync(PASS));
  assert.equal(lines[22], "# ---- scn report: what 'scn run' of this block gives (irqlab 1) ----");
  assert.equal(lines[23], "# outcome: PASS (exit 0)");
  assert.match(lines[24], /^# last 8 of \d+ events:$/);
  assert.match(lines[25], /^# {3}#\d+ @0ns /);
});

Deno.test("scn report of a failure gives the expectation at its block line and its cause chain to the root", () => {
  const { inside } = report(FAIL);
  const lines = inside.split("\n");
  assert.equal(lines[4], "expect vcpu0.lapic.irr == {0x51}");
  const at = lines.indexOf("# outcome: FAIL (exit 1)");
  assert.deepEqual(lines.slice(at + 1, at + 5), [
    "# line 5: expect vcpu0.lapic.irr == {0x51}",
    "#   expected: == {0x51}",
    "#   actual:   {}",
    "#   cause chain, root first:",
  ]);
  // The chain runs from the device's MSI through KVM to the LAPIC that dropped it.
  // Up to the timeline, whose rows are comments too.
  const end = lines.findIndex((l) => l.startsWith("# timeline"));
  assert.ok(end > at, "the block draws the timeline after the cause chain");
  const chain = lines.slice(at + 5, end).filter((l) => l.startsWith("#     "));
  assert.match(chain.at(-1)!, /lapic0 dropped: 0x51: APIC software-disabled {2}<- #(\d+)/);
  const cause = /<- #(\d+)$/.exec(chain.at(-1)!)![1];
  assert.ok(chain.some((l) => l.startsWith(`#     #${cause} `)), "the cause is in the chain");
  assert.ok(chain.some((l) => / device nvme msi: /.test(l)), "the root is the device's MSI");
  assert.ok(lines.includes("# decoded:"));
  assert.match(
    inside,
    /# {3}line 4: MSI address 0xfee00000: .*dest=0x00 .*; data 0x51: vector=0x51 /,
  );
});

Deno.test("scn report inlines includes so that the block stands alone", () => {
  const file = "scenarios/arm/arm39_its_unmapped_device.scn";
  assert.match(Deno.readTextFileSync(file), /^include "_its_setup1.scn"$/m);
  const { inside } = report(file);
  assert.doesNotMatch(inside, /^\s*include /m);
  assert.match(inside, /^# include "_its_setup1.scn": _its_setup1.scn inlined by scn report$/m);
  assert.match(inside, /^# outcome: PASS \(exit 0\)$/m);
});

Deno.test("scn report of a host file gives one block per scenario", () => {
  const c = scn(["report", "tests/fixtures/hosts/two_fenced.md"]);
  assert.equal(c.code, 0);
  assert.equal(c.out.filter((l) => l === "```scn").length, 2);
  assert.ok(c.out.includes(""), "blocks are separated by a blank line");
});

Deno.test("scn report of bad input prints the located error and exits 2, printing no block", () => {
  const c = scn(["report", "tests/fixtures/hosts/quoted_error.eml"]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out, []);
  assert.ok(
    c.err.includes(
      "  tests/fixtures/hosts/quoted_error.eml:9:14: error: unknown command 'eio' for vcpu0",
    ),
  );
});

Deno.test("scn report wants one file, known options, and has help", () => {
  assert.equal(scn(["report"]).code, 2);
  assert.equal(scn(["report", PASS, FAIL]).code, 2);
  assert.equal(scn(["report", "--events", "x", PASS]).code, 2);
  assert.equal(scn(["report", "--trace", PASS]).code, 2);
  const h = scn(["report", "--help"]);
  assert.equal(h.code, 0);
  assert.match(h.out[0], /^scn report \[options\] FILE/);
  assert.deepEqual(scn(["help", "report"]).out, h.out);
  const few = scn(["report", "--events", "2", PASS]);
  assert.ok(few.out.some((l) => /^# last 2 of \d+ events:$/.test(l)));
});

Deno.test("causeChain() follows every cause to its root, in trace order", () => {
  const e = (id: number, cause: number) => ({
    id,
    time: 0,
    source: "s",
    kind: "k",
    text: "",
    cause,
  });
  const trace = [e(1, 0), e(2, 0), e(3, 1), e(4, 3), e(5, 2)];
  assert.deepEqual(causeChain(trace, [trace[3]]).map((x) => x.id), [1, 3, 4]);
  assert.deepEqual(causeChain(trace, [trace[4], trace[3]]).map((x) => x.id), [1, 2, 3, 4, 5]);
});

Deno.test("fenceBlock() uses a fence longer than any backtick run inside", () => {
  assert.equal(fenceBlock("a\n", ["# ``` x"]), "````scn\na\n# ``` x\n````\n");
  assert.equal(fenceBlock("a\n", []), "```scn\na\n```\n");
});

Deno.test("difference() tells a changed status or trace from the same outcome", () => {
  const [a] = run(PASS);
  assert.equal(difference(a, a), undefined);
  if (a.kind !== "result") throw new Error("expected a result");
  const failed: Outcome = { ...a, result: { ...a.result, status: "fail" } };
  assert.equal(difference(a, failed), "pass became fail");
  const shorter: Outcome = { ...a, result: { ...a.result, trace: a.result.trace.slice(1) } };
  assert.equal(difference(a, shorter), "the trace or the failures differ");
});
