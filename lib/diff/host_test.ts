import assert from "node:assert/strict";
import type { Platform } from "../core/platform.ts";
import { x86Platform } from "../x86/platform.ts";
import { type DiffResult, diffText } from "./diff.ts";
import { explainedBy, HOST_QUIRKS, ISR_NOT_TRACKED, probeHost } from "./host.ts";

const X86 = x86Platform as unknown as Platform;

/** The model as a host with the quirk would show it: ISR always reads empty. */
function isrHidden(): Platform {
  const state = X86.state.map((s) =>
    s.pattern === "vcpu#.lapic.isr" ? { ...s, get: () => [] as number[] } : s
  );
  return { ...X86, state };
}

const TAKE = `scenario "t"
vm g { arch x86_64 }
vcpu0: lapic enable
vcpu0: sti
vmm: kvm signal_msi address=0xfee00000 data=0x41
run
`;

Deno.test("probeHost() finds no quirk on the model", () => {
  assert.deepEqual(probeHost(X86), []);
});

Deno.test("probeHost() finds isr-not-tracked on a platform whose ISR stays empty", () => {
  assert.deepEqual(probeHost(isrHidden()).map((q) => q.id), ["isr-not-tracked"]);
});

Deno.test("explainedBy() puts a disagreement after a taken interrupt down to isr-not-tracked", () => {
  const r = diffText(TAKE, "t.scn", [X86, isrHidden()]);
  assert.equal(r.status, "disagree");
  assert.equal(r.divergences[0].key, "vcpu0.lapic.isr");
  assert.equal(explainedBy(r, HOST_QUIRKS), ISR_NOT_TRACKED);
});

Deno.test("explainedBy() leaves a disagreement before any interrupt was taken unexplained", () => {
  const r = diffText(TAKE, "t.scn", [X86, isrHidden()]);
  // The same disagreement, as if it had come at the first statement, before the take.
  const early: DiffResult = { ...r, divergences: [{ ...r.divergences[0], step: 0 }] };
  assert.equal(early.reference!.steps[0].state.get("vcpu0 took"), "nothing");
  assert.equal(explainedBy(early, HOST_QUIRKS), undefined);
});
