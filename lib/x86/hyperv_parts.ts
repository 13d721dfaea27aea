/**
 * KVM's Hyper-V emulation (the partition's MSRs and hypercalls, each
 * vCPU's SynIC, synthetic timers and Hyper-V MSRs) as an x86 VM with
 * `hyperv_cpuid` or `hyperv_synic` is built with it, loaded only for
 * scenarios whose vms name those settings: most have none. The platform's
 * tables (./hyperv_commands.ts, which the checker and `scn help` read) and
 * the numbers other modules borrow (./hyperv_abi.ts) do not import it.
 *
 * ./hyperv_build.ts registers it here when imported ({@link provideHypervParts}):
 * a command imports it before it builds VMs when a scenario's vm names
 * `hyperv_cpuid` or `hyperv_synic` (lib/api/platform_loaders.ts), `PLATFORMS`
 * (lib/api/platforms.ts) always does, and so does a module that builds such
 * VMs itself (a test).
 *
 * @module
 */
import { ModelPart } from "../core/model_part.ts";
import type { HvPartition } from "./hyperv_hypercall.ts";
import type { HvSynic } from "./hyperv_synic.ts";
import type { HvStimer } from "./hyperv_stimer.ts";
import type { findByVpIndex, HvVcpu } from "./hyperv_vcpu.ts";

/** The classes of KVM's Hyper-V emulation an x86 VM builds its Hyper-V state from. */
export interface HypervParts {
  /** The partition: its MSRs, hypercalls and reference time (./hyperv_hypercall.ts). */
  readonly HvPartition: typeof HvPartition;
  /** A vCPU's SynIC (./hyperv_synic.ts). */
  readonly HvSynic: typeof HvSynic;
  /** A vCPU's synthetic timer (./hyperv_stimer.ts). */
  readonly HvStimer: typeof HvStimer;
  /** A vCPU's Hyper-V state (./hyperv_vcpu.ts). */
  readonly HvVcpu: typeof HvVcpu;
  /** The vCPU whose VP index is `vp` (./hyperv_vcpu.ts). */
  readonly findByVpIndex: typeof findByVpIndex;
}

const slot = new ModelPart<HypervParts>(
  "KVM's Hyper-V emulation (lib/x86/hyperv_build.ts; see lib/x86/hyperv_parts.ts)",
);

/**
 * Makes `p` the Hyper-V emulation x86 VMs are built with: ./hyperv_build.ts's,
 * when it is loaded.
 *
 * @example
 * ```ts
 * declare const p: HypervParts;
 * provideHypervParts(p);
 * hypervParts() === p; // true
 * ```
 */
export function provideHypervParts(p: HypervParts): void {
  slot.provide(p);
}

/**
 * The Hyper-V emulation, for building a VM with it; an internal error if
 * ./hyperv_build.ts was not loaded.
 *
 * @example
 * ```ts
 * await import("./hyperv_build.ts");
 * typeof hypervParts().HvVcpu; // "function"
 * ```
 */
export function hypervParts(): HypervParts {
  return slot.get();
}
