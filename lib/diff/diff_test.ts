import assert from "node:assert/strict";
import type { PlatformEntry } from "../core/platform.ts";
import { X86 } from "../api/platforms.ts";
import { checkText } from "../api/scenario.ts";
import { compare, diffText, formatDivergence, isBackendUnsupported, record } from "./diff.ts";
import { droppedEoiPlatform } from "./test_platforms.ts";

const TAKE_AND_EOI = `scenario "t"
vm g { arch x86_64  vcpus 2 }
vcpu0: lapic enable
vcpu0: sti
vcpu0: nop
vmm: kvm signal_msi address=0xfee00000 data=0x41 -> $r
run
vcpu0: eoi
expect vcpu0.lapic.isr == {}
vcpu0: ipi vector=0x42 shorthand=self
run
`;

/** How lib/kvm names its refusal; the diff engine knows it only by that name. */
class BackendUnsupported extends Error {}

/** The x86 model, refusing `nop` the way a backend refuses what it cannot express. */
function refusingNop(): PlatformEntry {
  return {
    ...X86,
    commands: X86.commands.map((c) =>
      c.name !== "nop" ? c : {
        ...c,
        run: () => {
          throw new BackendUnsupported("nop is not expressible");
        },
      }
    ),
  };
}

Deno.test("diffText() reports agreement when both platforms are the same model", () => {
  const r = diffText(TAKE_AND_EOI, "t.scn", [X86, X86]);
  assert.equal(r.status, "agree");
  assert.deepEqual(r.divergences, []);
  assert.equal(r.steps, 9);
});

Deno.test("diffText() locates a dropped EOI at the eoi statement, with both values", () => {
  const r = diffText(TAKE_AND_EOI, "t.scn", [X86, droppedEoiPlatform()]);
  assert.equal(r.status, "disagree");
  const first = r.divergences[0];
  assert.deepEqual(
    [first.key, first.loc.start.line, first.statement, first.a, first.b],
    ["vcpu0.lapic.isr", 8, "vcpu0: eoi", "{}", "{0x41}"],
  );
  // The expectation after it fails on one side only, and that is a disagreement too.
  const expect = r.divergences.find((d) => d.key.startsWith("expect "));
  assert.deepEqual(
    [expect?.key, expect?.loc.start.line, expect?.a, expect?.b],
    ["expect at 9:1", 9, "held", "failed"],
  );
  assert.deepEqual(formatDivergence(first, ["model", "bug"]), [
    "t.scn:8:8: vcpu0.lapic.isr: model {} | bug {0x41}",
    "    after: vcpu0: eoi",
  ]);
});

Deno.test("diffText() reports each key once, at the step where it first differs", () => {
  const r = diffText(TAKE_AND_EOI, "t.scn", [X86, droppedEoiPlatform()]);
  const keys = r.divergences.map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length);
  // PPR follows ISR: it differs from the same statement on.
  const ppr = r.divergences.find((d) => d.key === "vcpu0.lapic.ppr");
  assert.deepEqual([ppr?.loc.start.line, ppr?.a, ppr?.b], [8, "0", "0x40"]);
});

Deno.test("diffText() skips a scenario when the second platform refuses a statement", () => {
  const r = diffText(TAKE_AND_EOI, "t.scn", [X86, refusingNop()]);
  assert.equal(r.status, "skipped");
  assert.equal(r.reason, "nop is not expressible");
  assert.equal(r.steps, 2);
});

Deno.test("diffText() still reports a disagreement found before a refusal", () => {
  const bug = droppedEoiPlatform();
  const refusingHlt: PlatformEntry = {
    ...bug,
    commands: bug.commands.map((c) =>
      c.name !== "hlt" ? c : {
        ...c,
        run: () => {
          throw new BackendUnsupported("hlt is not expressible");
        },
      }
    ),
  };
  const r = diffText(TAKE_AND_EOI + "vcpu0: hlt\n", "t.scn", [X86, refusingHlt]);
  assert.equal(r.status, "disagree");
  assert.equal(r.divergences[0].key, "vcpu0.lapic.isr");
});

Deno.test("compare() reports a run that ends differently on one side as 'end'", () => {
  const text = `scenario "t"
vm g { arch x86_64 }
vcpu0: lapic enable
run
`;
  const program = checkText(text, "e.scn", { platforms: [X86] });
  const a = record(program);
  const b = {
    steps: a.steps.slice(0, 1),
    end: { kind: "internal-error" as const, message: "boom" },
  };
  const d = compare(program, a, b);
  assert.deepEqual(d.map((x) => [x.key, x.a, x.b]), [
    ["end", "pass after 2 steps", "internal error (boom) after 1 steps"],
  ]);
});

Deno.test("isBackendUnsupported() recognises the refusal by its class name only", () => {
  assert.equal(isBackendUnsupported(new BackendUnsupported("x")), true);
  assert.equal(isBackendUnsupported(new Error("x")), false);
  assert.equal(isBackendUnsupported("BackendUnsupported"), false);
});

Deno.test("formatDivergence() cuts a long value and says how much was left out", () => {
  const long = `[${Array(100).fill("0x9a").join(", ")}]`;
  const d = { key: "vcpu0 took", loc: startLoc(), statement: "run", step: 3, a: "[0x9a]", b: long };
  const [line] = formatDivergence(d, ["model", "kvm"]);
  assert.ok(line.length < 260, line);
  assert.match(line, /\.\.\. \(\d+ more characters\)$/);
});

function startLoc() {
  const at = { offset: 0, line: 1, column: 1 };
  return { source: "t.scn", start: at, end: at };
}
