/**
 * KVM_CHECK_EXTENSION on x86, for the interrupt capabilities the model has:
 * what `kvm_vm_ioctl_check_extension_generic` and x86's
 * `kvm_vm_ioctl_check_extension` answer, on /dev/kvm (no VM) or on a VM's
 * fd, by Linux release. The release is the x86 setting `kvm_caps`; its
 * values are the releases at which one of these answers changed, so a
 * scenario names the kernel whose answers it expects instead of writing
 * numbers in. A capability the table does not list is an input error, not
 * 0: KVM would answer for it, and the model does not know what.
 *
 * @module
 */
import { KVM_MAX_IRQ_ROUTES } from "./kvm_routing.ts";
import { KVM_XEN_CAPS } from "../xen/abi.ts";
import { KVM_CLOCK, X2APIC_API_VALID_FLAGS, X2apicApi } from "./vm.ts";

/**
 * The releases the `kvm_caps` setting names, oldest first: `linux_6_10` (Linux 6.10, before
 * KVM_CAP_X86_APIC_BUS_CYCLES_NS), `linux_6_11` (6.11, which added it and answered
 * APIC_BUS_CYCLE_NS_DEFAULT on a VM's fd too), `newest` (the stored Linux
 * snapshot: a VM's fd gives the VM's own bus cycle, Sean Christopherson's fix
 * of May 2026, which `apic_bus_clock_test` asserts, and KVM_CAP_X2APIC_API
 * offers the suppress-EOI-broadcast flags as well, ENABLE only on /dev/kvm
 * or a VM with a split irqchip).
 *
 * @example
 * ```ts
 * KVM_CAPS_RELEASES.at(-1); // "newest"
 * ```
 */
// Evidence for the release names: KVM_CAP_X86_APIC_BUS_CYCLES_NS is 237 in
// include/uapi/linux/kvm.h (after KVM_CAP_PRE_FAULT_MEMORY 236), added by
// 6fef518594bc "KVM: x86: Add a capability to configure bus frequency for APIC
// timer" (kvm-x86, 2024-06-05), which reached Linus's tree in the 6.11 merge
// window after v6.10 (2024-07-14; kernel.org post-receive log of 2024-07-21
// with the kvm-6.11 merges). The VM-scoped answer is 86e2de10eb14 "KVM: x86:
// Return the VM's configured APIC bus frequency when queried" (2026-05-23),
// with d9c41dc531b0 extending apic_bus_clock_test; no release is named for it
// here, so it is `newest`.
export const KVM_CAPS_RELEASES = ["linux_6_10", "linux_6_11", "newest"] as const;

/** One of {@link KVM_CAPS_RELEASES}. */
export type KvmCapsRelease = typeof KVM_CAPS_RELEASES[number];

/** Where KVM_CHECK_EXTENSION is asked: /dev/kvm, or a VM's fd (KVM_CAP_CHECK_EXTENSION_VM). */
export type CapScope = "system" | "vm";

/** What an answer may depend on besides the release and the scope. */
export interface CapVm {
  /** KVM_CAP_X86_APIC_BUS_CYCLES_NS as the VMM enabled it (1, KVM's default, if not). */
  readonly apicBusCycleNs: number;
  /** Whether the VM's irqchip is split (KVM_CAP_SPLIT_IRQCHIP). */
  readonly irqchipSplit: boolean;
}

interface CapRow {
  readonly name: string;
  readonly cap: number;
  readonly answer: (release: KvmCapsRelease, scope: CapScope, vm: CapVm) => number;
}

const since = (release: KvmCapsRelease, first: KvmCapsRelease) =>
  KVM_CAPS_RELEASES.indexOf(release) >= KVM_CAPS_RELEASES.indexOf(first);

/** KVM_X2APIC_API_VALID_FLAGS before the two suppress-EOI-broadcast flags came. */
const X2APIC_API_FLAGS_BEFORE_EOI = X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk;

const one = () => 1;

/**
 * x86's KVM_MAX_VCPU_IDS (KVM_MAX_VCPUS 4096 times KVM_VCPU_ID_RATIO 4): the
 * highest vCPU ID KVM_SET_BOOT_CPU_ID takes, and KVM_CAP_MAX_VCPU_ID's answer.
 */
export const KVM_MAX_VCPU_IDS = 16384;

const ROWS: readonly CapRow[] = [
  { name: "KVM_CAP_IRQCHIP", cap: 0, answer: one },
  // kvm_vm_ioctl_check_extension_generic: the routing table's size, not 1.
  { name: "KVM_CAP_IRQ_ROUTING", cap: 25, answer: () => KVM_MAX_IRQ_ROUTES },
  { name: "KVM_CAP_IRQ_INJECT_STATUS", cap: 26, answer: one },
  { name: "KVM_CAP_IRQFD", cap: 32, answer: one },
  { name: "KVM_CAP_SET_BOOT_CPU_ID", cap: 34, answer: one },
  { name: "KVM_CAP_TSC_DEADLINE_TIMER", cap: 72, answer: one },
  { name: "KVM_CAP_SIGNAL_MSI", cap: 77, answer: one },
  { name: "KVM_CAP_IRQFD_RESAMPLE", cap: 82, answer: one },
  { name: "KVM_CAP_SPLIT_IRQCHIP", cap: 121, answer: one },
  // kvm_vm_ioctl_check_extension (CONFIG_KVM_XEN): the KVM_XEN_HVM_CONFIG_* flags KVM takes,
  // RUNSTATE and RUNSTATE_UPDATE_FLAG with sched_info_on() (the model's host has schedstats);
  // SHARED_INFO_HVA (6.9) and PVCLOCK_TSC_UNSTABLE predate every release named here.
  { name: "KVM_CAP_XEN_HVM", cap: 38, answer: () => KVM_XEN_CAPS },
  { name: "KVM_CAP_MAX_VCPU_ID", cap: 128, answer: () => KVM_MAX_VCPU_IDS },
  // KVM_CLOCK_VALID_FLAGS: the kvm_clock_data flags KVM_SET_CLOCK takes (Linux 5.16, before every
  // release named here).
  {
    name: "KVM_CAP_ADJUST_CLOCK",
    cap: 39,
    answer: () => KVM_CLOCK.TSC_STABLE | KVM_CLOCK.REALTIME | KVM_CLOCK.HOST_TSC,
  },
  // Linux 4.20, before every release named here.
  { name: "KVM_CAP_EXCEPTION_PAYLOAD", cap: 164, answer: one },
  // Linux 5.10 (vCPU-scoped: kvm_vcpu_ioctl_enable_cap), before every release named here.
  { name: "KVM_CAP_ENFORCE_PV_FEATURE_CPUID", cap: 190, answer: one },
  {
    name: "KVM_CAP_X2APIC_API",
    cap: 129,
    // On a VM whose irqchip is not split, ENABLE_SUPPRESS_EOI_BROADCAST is not
    // offered: only a userspace I/O APIC can take the directed EOIs it implies.
    answer: (r, scope, vm) =>
      !since(r, "newest")
        ? X2APIC_API_FLAGS_BEFORE_EOI
        : scope === "vm" && !vm.irqchipSplit
        ? X2APIC_API_VALID_FLAGS & ~X2apicApi.EnableSuppressEoiBroadcast
        : X2APIC_API_VALID_FLAGS,
  },
  {
    name: "KVM_CAP_X86_APIC_BUS_CYCLES_NS",
    cap: 237,
    // APIC_BUS_CYCLE_NS_DEFAULT is 1; only the fixed VM answer reads the VM's own.
    answer: (r, scope, vm) =>
      !since(r, "linux_6_11") ? 0 : scope === "vm" && since(r, "newest") ? vm.apicBusCycleNs : 1,
  },
];

const BY_CAP = new Map(ROWS.map((r) => [r.cap, r]));

/**
 * The capability names the table answers for, with their numbers, for the
 * language's named values (`cap=KVM_CAP_IRQFD`).
 *
 * @example
 * ```ts
 * KVM_CAP_NUMBERS.KVM_CAP_IRQFD; // 32
 * ```
 */
export const KVM_CAP_NUMBERS: Readonly<Record<string, number>> = Object.fromEntries(
  ROWS.map((r) => [r.name, r.cap]),
);

/**
 * KVM_CHECK_EXTENSION's answer for `cap` on `release`, or undefined when the
 * table does not list `cap` (the caller says so; 0 would claim KVM lacks it).
 *
 * @example
 * ```ts
 * checkExtension(237, "newest", "vm", { apicBusCycleNs: 40, irqchipSplit: false }); // 40
 * checkExtension(237, "newest", "system", { apicBusCycleNs: 40, irqchipSplit: false }); // 1
 * checkExtension(237, "linux_6_10", "system", { apicBusCycleNs: 1, irqchipSplit: false }); // 0
 * ```
 */
export function checkExtension(
  cap: number,
  release: KvmCapsRelease,
  scope: CapScope,
  vm: CapVm,
): number | undefined {
  return BY_CAP.get(cap)?.answer(release, scope, vm);
}

/**
 * The names of the listed capabilities with their numbers, for an error
 * that names what the table knows.
 *
 * @example
 * ```ts
 * knownCaps().startsWith("KVM_CAP_IRQCHIP (0)"); // true
 * ```
 */
export function knownCaps(): string {
  return ROWS.map((r) => `${r.name} (${r.cap})`).join(", ");
}
