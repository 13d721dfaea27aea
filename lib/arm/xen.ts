/**
 * Xen on arm64: the command and state tables of `lib/xen/platform.ts`,
 * bound to {@link ArmVm}, with what does not exist for an Arm guest refused
 * by the checker (a located error naming why) rather than modelled wrongly.
 *
 * What differs from x86 is the upcall: Xen on Arm has no
 * HVM_PARAM_CALLBACK_IRQ methods and no per-vCPU LAPIC vector. Every
 * vCPU's upcall is the PPI GUEST_EVTCHN_PPI (31), which
 * `vcpu_mark_events_pending` (xen/arch/arm/domain.c) makes pending through
 * `vgic_inject_irq` on the 0→1 change of evtchn_upcall_pending; the guest
 * takes it through its GIC like any PPI. The layouts are `arch-arm.h`'s
 * ({@link LAYOUT_ARM}).
 *
 * Sources: Xen `xen/include/public/arch-arm.h` (`GUEST_EVTCHN_PPI`,
 * `xen_ulong_t`, `XEN_LEGACY_MAX_VCPUS`, empty `arch_vcpu_info` and
 * `arch_shared_info`), `xen/arch/arm/domain.c` (`vcpu_mark_events_pending`,
 * `do_arm_vcpu_op`: only VCPUOP_register_vcpu_info and
 * VCPUOP_register_runstate_memory_area), `xen/arch/arm/hvm.c` (`do_hvm_op`:
 * parameters are stored, nothing is a callback), `xen/arch/arm/traps.c`
 * (hypercalls are HVC #0xEA1: no hypercall page, no MSR).
 *
 * @module
 */
import type { CommandSpec, Requirement, StateSpec, Val } from "../core/table.ts";
import { xenCommands, xenState } from "../xen/platform.ts";
import { LAYOUT_ARM } from "../xen/layout.ts";
import type { ArmVm } from "./vm.ts";

const needXen: Requirement = (s) =>
  s.hypervisor === "xen" ? undefined : "needs a Xen guest: add 'hypervisor xen' to the vm block";

const NO_KVM_XEN = "belongs to KVM's Xen emulation, which exists only on x86";
const X86_UPCALL =
  "is x86 only: Xen on Arm has no callback GSI, INTx or vector; every upcall is PPI 31 (GUEST_EVTCHN_PPI, arch-arm.h)";

/** Commands an Arm Xen guest does not have, and why. */
const REFUSED: Readonly<Record<string, string>> = {
  "xen set_callback_irq": X86_UPCALL,
  "xen set_evtchn_upcall_vector": X86_UPCALL,
  "xen set_param":
    "is x86 only: on Arm, HVM_PARAM_CALLBACK_IRQ selects nothing (Xen's Arm do_hvm_op only stores it); every upcall is PPI 31",
  "xen hypercall_page":
    "is x86 only: an Arm guest calls Xen with HVC #0xEA1 and has no hypercall page",
  "xen cpu_mode": "is x86 only: on Arm the shared_info layout does not depend on the guest's width",
  "xen hypercall": NO_KVM_XEN,
  "xen copy_vcpu_info": NO_KVM_XEN,
  "evtchn bind_pirq": "is x86 only here: PIRQs on Arm are not modelled",
  pirq: "is x86 only here: PIRQs on Arm are not modelled",
  "xen set_timer": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen set_timer_op": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen set_singleshot_timer": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen stop_singleshot_timer": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen set_periodic_timer": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen stop_periodic_timer": "is not modelled on Arm yet (Xen timers read the x86 TSC model)",
  "xen sched_block": "is not modelled on Arm yet (blocking needs WFI-style wake-ups)",
  "xen sched_poll": "is not modelled on Arm yet (blocking needs WFI-style wake-ups)",
};

function refusal(name: string): string | undefined {
  if (name.startsWith("kvm xen_")) return NO_KVM_XEN;
  return REFUSED[name];
}

/** Arm lays out no such field (arch-arm.h): the x86 PV words and cr2. */
const ARM_FIELDS = new Set([
  ...LAYOUT_ARM.sharedInfo.map((f) => `shared.${f.name}`),
  ...LAYOUT_ARM.vcpuInfo.map((f) => `vcpu#.info.${f.name}`),
  ...LAYOUT_ARM.vcpuInfo.map((f) => `shared.vcpu_info[#].${f.name}`),
]);

function stateRefusal(pattern: string): string | undefined {
  const base = pattern.replace(/\[#\]$/, "");
  if (base.startsWith("shared.") || base.startsWith("vcpu#.info.")) {
    return ARM_FIELDS.has(base) ? undefined : "is not in the Arm layout (arch-arm.h)";
  }
  if (
    pattern === "vcpu#.xen.upcall_vector" || pattern === "vcpu#.xen.global_vector" ||
    pattern.startsWith("xen.callback")
  ) {
    return X86_UPCALL;
  }
  if (pattern.startsWith("vcpu#.regs.") || pattern.startsWith("vcpu#.exit.")) {
    return "is x86 only: the hypercall registers and exits of the x86 ABI";
  }
  if (pattern.startsWith("kvm.")) return NO_KVM_XEN;
  if (
    pattern === "vcpu#.xen.blocked" || pattern === "vcpu#.xen.polling" ||
    pattern === "vcpu#.xen.woke_by"
  ) {
    return "is not modelled on Arm yet (blocking hypercalls)";
  }
  return undefined;
}

function requirement(why: string | undefined): Requirement {
  if (why === undefined) return needXen;
  return (s: Readonly<Record<string, Val>>) =>
    s.hypervisor === "xen" ? `${why} (arch arm64)` : needXen(s);
}

/**
 * The Xen commands for arm64 VMs: every command of `lib/xen/platform.ts`,
 * each requiring `hypervisor xen`, and the x86-only ones refused with the
 * reason.
 *
 * @example
 * ```ts
 * const c = ARM_XEN_COMMANDS.find((c) => c.name === "xen set_callback_irq")!;
 * c.requires!({ hypervisor: "xen" }); // "is x86 only: ... (arch arm64)"
 * ```
 */
export const ARM_XEN_COMMANDS: readonly CommandSpec<ArmVm>[] = xenCommands<ArmVm>((vm) => vm.xen)
  .map((c) => {
    const why = refusal(c.name);
    // `scn help` shows the doc: a refused command says so there too.
    const doc = why === undefined ? c.doc : `refused on arm64: '${c.name}' ${why}`;
    return { ...c, doc, backend: "xen", requires: requirement(why) };
  });

/**
 * The Xen state paths for arm64 VMs, with those of x86 fields and x86
 * mechanisms refused.
 *
 * @example
 * ```ts
 * ARM_XEN_STATE.find((p) => p.pattern === "vcpu#.xen.upcall_pending")!.requires!({ hypervisor: "xen" }); // undefined
 * ```
 */
export const ARM_XEN_STATE: readonly StateSpec<ArmVm>[] = xenState<ArmVm>((vm) => vm.xen).map((
  p,
) => ({
  ...p,
  doc: stateRefusal(p.pattern) === undefined
    ? p.doc
    : `refused on arm64: '${p.pattern}' ${stateRefusal(p.pattern)}`,
  requires: requirement(stateRefusal(p.pattern)),
  bounds: p.bounds ?? (p.pattern.startsWith("vcpu#") ? (vm: ArmVm) => [vm.cpus.length] : undefined),
}));
