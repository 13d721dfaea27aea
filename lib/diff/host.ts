/**
 * Behaviours of the host a backend runs on that are neither the
 * architecture nor mainline KVM, found by probing the host with scenarios,
 * so that `scn diff` and `difftest` can say which disagreements the host
 * explains instead of counting them against the model.
 *
 * A quirk is a probe (a scenario that passes on the model and fails on a
 * host with the quirk) and a variant of the model: the x86 model changed
 * to behave as such a host does. The rule is sound by construction: a
 * disagreement is put down to the host only when the model variant with
 * the host's quirks agrees with the host over the whole case, every
 * observable at every step and how the run ended. A bug anywhere else in
 * the model or the backend still shows as a disagreement between the
 * variant and the host, and is reported.
 *
 * @module
 */
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { type Platform, type PlatformEntry, platformEntry, type Taken } from "../core/platform.ts";
import { testVector } from "../core/vector_set.ts";
import { runProgram } from "../engine/run.ts";
import type { X86Vm } from "../x86/vm.ts";
import { x86Platform } from "../x86/platform.ts";
// x86Platform builds VMs with a Xen domain or Hyper-V too (lib/xen/parts.ts, lib/x86/hyperv_parts.ts).
import "../xen/build.ts";
import "../x86/hyperv_build.ts";
import { compare, type DiffOptions, type DiffResult, type Divergence, record } from "./diff.ts";

/** A host behaviour a probe can detect, and the model variant that has it. */
export interface HostQuirk {
  /** A short name for reports: `isr-not-tracked`. */
  readonly id: string;
  /** What the host does, in one line. */
  readonly summary: string;
  /** A scenario that passes on the model and fails on a host with the quirk. */
  readonly probe: string;
  /**
   * Changes a freshly created VM of the x86 model to behave as a host with
   * the quirk does. Quirks compose: each changes a different behaviour.
   */
  apply(vm: X86Vm): void;
}

/**
 * An interrupt the vCPU accepts never shows in ISR and counts as EOI'd at
 * once: PPR stays at TPR, and a level-triggered vector's EOI reaches the
 * IOAPIC at the acknowledge (with `irqchip split`, as a KVM_EXIT_IOAPIC_EOI
 * at the next entry). Seen on KVM's out-of-tree PVM provider; mainline KVM
 * sets the ISR bit in `kvm_apic_ack_interrupt` (arch/x86/kvm/lapic.c). The
 * variant acknowledges as the model does (IRR to ISR, TMR set for a level
 * vector) and then ends the interrupt at once, as an EOI would.
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
  apply(vm) {
    for (const cpu of vm.cpus) {
      const taken = (t: Taken) => {
        // Only an acknowledge through the LAPIC sets ISR (not an NMI, an
        // ExtINT, a KVM_INTERRUPT injection or Xen's callback vector); with
        // the quirk ISR is always empty before, so the bit is this take's.
        if (t.kind === "vector" && testVector(cpu.lapic.isr, t.vector)) cpu.lapic.eoi();
        return t;
      };
      // The engine takes through `boundary`, others may call `take`.
      const take = cpu.take.bind(cpu), boundary = cpu.boundary.bind(cpu);
      cpu.take = () => taken(take());
      cpu.boundary = () => {
        const b = boundary();
        return typeof b === "number" ? b : taken(b);
      };
    }
  },
};

/**
 * The IRET that ends an NMI handler leaves NMIs blocked when the guest is
 * in real mode (the KVM backend's guest always is): a second NMI stays
 * pending and `nmi_blocked` reads 1 after the handler returned. The SDM
 * (6.7.1, "Handling Multiple NMIs") has any IRET end the blocking, and so
 * does hardware-executed IRET under mainline KVM; on the PVM provider the
 * guest's IRET is emulated (`em_iret`, arch/x86/kvm/emulate.c), which in
 * real mode restores IP, CS and FLAGS only. The variant keeps the blocking
 * across an IRET.
 */
export const IRET_KEEPS_NMI_BLOCKED: HostQuirk = {
  id: "iret-keeps-nmi-blocked",
  summary: "the real-mode IRET from an NMI handler leaves NMIs blocked " +
    "(the SDM and hardware IRET under mainline KVM unblock them)",
  probe: `scenario "probe: the IRET from an NMI handler unblocks NMIs"
vm probe { arch x86_64  vcpus 1 }
on vcpu0 nmi { }
vcpu0: lapic enable
vmm: kvm nmi vcpu=0
run
expect vcpu0 took nmi once
expect vcpu0.nmi_blocked == 0
`,
  apply(vm) {
    for (const cpu of vm.cpus) {
      const iret = cpu.returnFromInterrupt.bind(cpu);
      cpu.returnFromInterrupt = () => {
        const blocked = cpu.nmiBlocked;
        iret();
        cpu.nmiBlocked = blocked;
      };
    }
  },
};

/** Every quirk irqlab knows how to probe for. */
export const HOST_QUIRKS: readonly HostQuirk[] = [ISR_NOT_TRACKED, IRET_KEEPS_NMI_BLOCKED];

/**
 * The x86 model with `quirks`: each VM it creates behaves as a host with
 * them would. The tables are the model's, so a scenario checks the same.
 *
 * @example
 * ```ts
 * const pvm = modelWith([ISR_NOT_TRACKED]);
 * ```
 */
export function modelWith(quirks: readonly HostQuirk[]): Platform<X86Vm> {
  return {
    ...x86Platform,
    create(name, settings, env) {
      const vm = x86Platform.create(name, settings, env);
      for (const q of quirks) q.apply(vm);
      return vm;
    },
  };
}

/**
 * The quirks of the host `platform` runs on: those whose probe fails
 * there. A probe the platform cannot run (it refuses a statement) finds
 * nothing.
 *
 * @example
 * ```ts
 * import { X86 } from "../api/platforms.ts";
 * probeHost(X86).map((q) => q.id); // [] on the model
 * ```
 */
export function probeHost(
  platform: PlatformEntry,
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

/** What the host's quirks make of a disagreement. */
export interface HostVerdict {
  /**
   * The fewest of the host's quirks whose model variant agrees with the
   * host over the whole case, or undefined when no set of them does.
   */
  quirks: readonly HostQuirk[] | undefined;
  /**
   * When no variant agrees: the divergences between the model with every
   * quirk of the host and the host, which is what the host's quirks leave
   * unexplained (the model's own divergences when the host has none).
   */
  residual: Divergence[];
}

/**
 * Whether the host's quirks explain a disagreement `r` of `text`: the
 * scenario is run again on the model variant with each quirk alone, then
 * with all of them, and compared with the host's run over the whole case.
 *
 * @example
 * ```ts
 * import { diffText } from "./diff.ts";
 * import { X86 } from "../api/platforms.ts";
 * import type { PlatformEntry } from "../core/platform.ts";
 * declare const kvm: PlatformEntry, text: string;
 * const r = diffText(text, "a.scn", [X86, kvm]);
 * hostVerdict(text, "a.scn", r, probeHost(kvm)).quirks?.map((q) => q.id); // ["isr-not-tracked"]
 * ```
 */
export function hostVerdict(
  text: string,
  file: string,
  r: DiffResult,
  quirks: readonly HostQuirk[],
  options: DiffOptions = {},
): HostVerdict {
  const host = r.other;
  if (r.status !== "disagree" || !host) return { quirks: undefined, residual: r.divergences };
  const sets = quirks.length > 1 ? [...quirks.map((q) => [q]), quirks] : [quirks];
  let residual = r.divergences;
  for (const set of sets) {
    if (set.length === 0) break;
    const program = check(parse(text, file), {
      platforms: [platformEntry(modelWith(set))],
      load: options.load,
      text,
    });
    const d = compare(program, record(program, options.maxSteps), host);
    if (d.length === 0) return { quirks: set, residual: [] };
    if (set.length === quirks.length) residual = d;
  }
  return { quirks: undefined, residual };
}

/**
 * A verdict as reports and `--json` print it: `agree`, `skipped`,
 * `host: isr-not-tracked` (quirks joined with `+`), `disagree`.
 *
 * @example
 * ```ts
 * verdictText("disagree", [ISR_NOT_TRACKED]); // "host: isr-not-tracked"
 * ```
 */
export function verdictText(
  status: DiffResult["status"],
  quirks: readonly HostQuirk[] | undefined,
): string {
  if (status !== "disagree") return status;
  return quirks ? `host: ${quirks.map((q) => q.id).join("+")}` : "disagree";
}
