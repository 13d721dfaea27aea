import assert from "node:assert/strict";
import { type PlatformEntry, platformEntry } from "../core/platform.ts";
import { X86 } from "../api/platforms.ts";
import { diffText } from "./diff.ts";
import {
  HOST_QUIRKS,
  hostVerdict,
  IRET_KEEPS_NMI_BLOCKED,
  ISR_NOT_TRACKED,
  modelWith,
  probeHost,
  verdictText,
} from "./host.ts";
import { cliIgnoredPlatform } from "./test_platforms.ts";

const host = (...q: typeof HOST_QUIRKS) => platformEntry(modelWith(q));

/** The model with ISR reading empty, and nothing else changed (PPR still follows ISR). */
function isrHidden(): PlatformEntry {
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

/** vCPU0 takes an interrupt, vCPU1 an NMI whose handler returns: both quirks show. */
const BOTH = `scenario "t"
vm g { arch x86_64  vcpus 2 }
on vcpu1 nmi { }
vcpu0: lapic enable
vcpu1: lapic enable
vcpu0: sti
vmm: kvm signal_msi address=0xfee00000 data=0x41
vmm: kvm nmi vcpu=1
run
expect vcpu1.nmi_blocked == 0
`;

Deno.test("probeHost() finds no quirk on the model and each quirk on its variant", () => {
  assert.deepEqual(probeHost(X86), []);
  assert.deepEqual(probeHost(host(ISR_NOT_TRACKED)), [ISR_NOT_TRACKED]);
  assert.deepEqual(probeHost(host(IRET_KEEPS_NMI_BLOCKED)), [IRET_KEEPS_NMI_BLOCKED]);
  assert.deepEqual(probeHost(host(...HOST_QUIRKS)), HOST_QUIRKS);
});

Deno.test("the isr-not-tracked variant takes the interrupt with ISR empty and PPR at TPR", () => {
  const r = diffText(TAKE, "t.scn", [X86, host(ISR_NOT_TRACKED)]);
  const last = r.other!.steps.at(-1)!.state;
  assert.deepEqual(
    [last.get("vcpu0 took"), last.get("vcpu0.lapic.isr"), last.get("vcpu0.lapic.ppr")],
    ["[0x41]", "{}", "0"],
  );
  assert.equal(
    verdictText(r.status, hostVerdict(TAKE, "t.scn", r, [ISR_NOT_TRACKED]).quirks),
    "host: isr-not-tracked",
  );
});

Deno.test("hostVerdict() explains a case only when a variant agrees with the host all through", () => {
  // ISR reads empty but PPR still says 0x40: no real host with the quirk does that.
  const hidden = diffText(TAKE, "t.scn", [X86, isrHidden()]);
  assert.equal(hidden.status, "disagree");
  const v = hostVerdict(TAKE, "t.scn", hidden, HOST_QUIRKS);
  assert.equal(v.quirks, undefined);
  assert.deepEqual(v.residual.map((d) => [d.key, d.a, d.b]), [["vcpu0.lapic.ppr", "0", "0x40"]]);
});

Deno.test("hostVerdict() needs every quirk a case shows, and names them all", () => {
  const r = diffText(BOTH, "t.scn", [X86, host(...HOST_QUIRKS)]);
  assert.equal(r.status, "disagree");
  assert.equal(hostVerdict(BOTH, "t.scn", r, [ISR_NOT_TRACKED]).quirks, undefined);
  assert.equal(hostVerdict(BOTH, "t.scn", r, [IRET_KEEPS_NMI_BLOCKED]).quirks, undefined);
  const v = hostVerdict(BOTH, "t.scn", r, HOST_QUIRKS);
  assert.equal(verdictText(r.status, v.quirks), "host: isr-not-tracked+iret-keeps-nmi-blocked");
});

Deno.test("hostVerdict() does not excuse a bug that follows a quirk's disagreement", () => {
  // The quirk shows first (ISR after the take); the bug (CLI ignored) after it.
  const text = TAKE + "vcpu0: cli\n";
  const r = diffText(text, "t.scn", [X86, cliIgnoredPlatform(host(ISR_NOT_TRACKED))]);
  assert.equal(r.divergences[0].key, "vcpu0.lapic.isr");
  const v = hostVerdict(text, "t.scn", r, HOST_QUIRKS);
  assert.equal(v.quirks, undefined);
  assert.deepEqual(v.residual.map((d) => [d.key, d.a, d.b]), [["vcpu0.if", "0", "1"]]);
});
