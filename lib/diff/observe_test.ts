import assert from "node:assert/strict";
import { platformEntry } from "../core/platform.ts";
import { runProgram } from "../engine/run.ts";
import { checkText } from "../api/scenario.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { x86Platform } from "../x86/platform.ts";
import { type Snapshot, snapshot } from "./observe.ts";

const TEXT = `scenario "t"
vm g { arch x86_64  vcpus 2 }
vcpu0: lapic enable
vcpu0: sti
vmm: kvm signal_msi address=0xfee00000 data=0x41 -> $r
run
`;

function lastSnapshot(text: string, platforms = PLATFORMS): Snapshot {
  const program = checkText(text, "t.scn", { platforms });
  let last: Snapshot = new Map();
  runProgram(program, { onStep: (_loc, state) => last = snapshot(program, state) });
  return last;
}

Deno.test("every platform's observables are state paths of its own table", () => {
  for (const p of PLATFORMS) {
    assert.ok((p.observables ?? []).length > 0, `${p.arch} declares no observables`);
    for (const o of p.observables ?? []) {
      assert.ok(p.state.some((s) => s.pattern === o), `${p.arch}: '${o}' is no state path`);
    }
  }
});

Deno.test("snapshot() reads the paths the platform declares, per vCPU and per pin", () => {
  const keys = [...lastSnapshot(TEXT).keys()];
  assert.deepEqual(keys.slice(0, 8), [
    "vcpu0.lapic.irr",
    "vcpu0.lapic.isr",
    "vcpu0.lapic.tmr",
    "vcpu0.lapic.tpr",
    "vcpu0.lapic.ppr",
    "vcpu0.halted",
    "vcpu0.if",
    "vcpu0 took",
  ]);
  assert.ok(keys.includes("ioapic.pin[23].mask"));
  assert.equal(lastSnapshot(TEXT).get("vcpu0.lapic.isr"), "{0x41}");
});

Deno.test("snapshot() follows a platform's own declaration, not a list of x86 paths", () => {
  const isrOnly = platformEntry({ ...x86Platform, observables: ["vcpu#.lapic.isr"] });
  const s = lastSnapshot(TEXT, [isrOnly]);
  assert.deepEqual([...s.keys()], [
    "vcpu0.lapic.isr",
    "vcpu0 took",
    "vcpu1.lapic.isr",
    "vcpu1 took",
    "$r",
  ]);
});

Deno.test("snapshot() reads an Arm VM through the Arm table", () => {
  const s = lastSnapshot(`scenario "a"
vm g { arch arm64 }
run
`);
  assert.deepEqual([...s.keys()].slice(0, 3), [
    "vcpu0.gic.pending",
    "vcpu0.gic.active",
    "vcpu0.icc.pmr",
  ]);
});
