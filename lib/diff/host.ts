/**
 * Behaviours of the host a backend runs on that are neither the
 * architecture nor mainline KVM, found by probing the host with scenarios,
 * so that `scn diff` and `difftest` can say which disagreements the host
 * explains instead of counting them against the model.
 *
 * A quirk is a probe (a scenario that passes on the model, which follows
 * the architecture and mainline KVM, and fails on a host with the quirk)
 * and a rule for which disagreements it can explain. The rules are
 * necessary conditions: a disagreement is put down to the host only when
 * the quirk could have caused it, and the report still prints it.
 *
 * @module
 */
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import type { Platform } from "../core/platform.ts";
import { runProgram } from "../engine/run.ts";
import type { DiffResult } from "./diff.ts";

/** A host behaviour a probe can detect. */
export interface HostQuirk {
  /** A short name for reports: `isr-not-tracked`. */
  readonly id: string;
  /** What the host does, in one line. */
  readonly summary: string;
  /** A scenario that passes on the model and fails on a host with the quirk. */
  readonly probe: string;
  /** Whether the quirk can explain a disagreement (a necessary condition). */
  explains(r: DiffResult): boolean;
}

/**
 * An interrupt the vCPU accepted never shows in ISR and counts as EOI'd at
 * once (PPR stays at TPR; a level-triggered EOI reaches the IOAPIC at
 * entry). Seen on KVM's out-of-tree PVM provider; mainline KVM sets the
 * ISR bit in `kvm_apic_ack_interrupt` (arch/x86/kvm/lapic.c). Everything
 * after the first accepted interrupt can differ, so the rule is: the model
 * had taken an interrupt (other than an NMI) by the first divergence.
 */
export const ISR_NOT_TRACKED: HostQuirk = {
  id: "isr-not-tracked",
  summary: "an accepted interrupt never shows in ISR and counts as EOI'd at once " +
    "(mainline KVM sets ISR in kvm_apic_ack_interrupt)",
  probe: `scenario "probe: an accepted interrupt is in service until EOI"
vm probe { arch x86_64  vcpus 1 }
vcpu0: lapic enable
vcpu0: sti
vmm: kvm signal_msi address=0xfee00000 data=0x41
run
expect vcpu0 took 0x41 once
expect vcpu0.lapic.isr == {0x41}
`,
  explains(r) {
    const first = r.divergences[0];
    if (!first || !r.reference) return false;
    for (let i = 0; i <= first.step && i < r.reference.steps.length; i++) {
      for (const [key, value] of r.reference.steps[i].state) {
        if (key.endsWith(" took") && /0x[0-9a-f]+|\d/.test(value.replace(/nmi/g, ""))) {
          return true;
        }
      }
    }
    return false;
  },
};

/** Every quirk irqlab knows how to probe for. */
export const HOST_QUIRKS: readonly HostQuirk[] = [ISR_NOT_TRACKED];

/**
 * The quirks of the host `platform` runs on: those whose probe fails
 * there. A probe the platform cannot run (it refuses a statement) finds
 * nothing.
 *
 * @example
 * ```ts
 * probeHost(kvmPlatform()).map((q) => q.id); // ["isr-not-tracked"] on a PVM host
 * ```
 */
export function probeHost(
  platform: Platform,
  quirks: readonly HostQuirk[] = HOST_QUIRKS,
): HostQuirk[] {
  return quirks.filter((q) => {
    try {
      const program = check(parse(q.probe, `probe:${q.id}`), { platforms: [platform] });
      return runProgram(program, { trace: false }).failures.length > 0;
    } catch (e) {
      if (e instanceof Error && e.name === "KvmUnavailable") throw e;
      return false;
    }
  });
}

/**
 * The first of `quirks` that explains a disagreement, or undefined.
 *
 * @example
 * ```ts
 * explainedBy(result, hostQuirks)?.id; // "isr-not-tracked"
 * ```
 */
export function explainedBy(
  r: DiffResult,
  quirks: readonly HostQuirk[],
): HostQuirk | undefined {
  return quirks.find((q) => q.explains(r));
}
