/**
 * What every x86 command entry says about itself beyond the core table's
 * fields: how a backend running a real VM performs it ({@link X86BackendOp}),
 * and the footprint shared by KVM's line and MSI ioctls. Apart from
 * `platform.ts` so that the other x86 command tables (`vmm_ioctls.ts`) use
 * the same types without importing the platform.
 *
 * @module
 */
import type { CommandSpec, Val } from "../core/table.ts";
import { PLUMBING } from "../core/table.ts";
import type { X86Vm } from "./vm.ts";

/**
 * How a backend running a real VM performs each x86 command (the
 * `backend` trait of every entry): `lib/kvm` keeps one binding per key, an
 * ioctl or guest instruction sequence, or a refusal with its reason.
 *
 * @example
 * ```ts
 * const op: X86BackendOp = "KVM_SIGNAL_MSI";
 * ```
 */
export type X86BackendOp =
  | "sti"
  | "cli"
  | "hlt"
  | "nop"
  | "mov ss"
  | "int n"
  | "pv eoi"
  | "div"
  | "add"
  | "into"
  | "iret"
  | "idt gate"
  | "lapic eoi"
  | "lapic svr enable"
  | "lapic svr disable"
  | "register write"
  | "register read"
  | "lapic icr"
  | "port out"
  | "port in"
  | "lapic inta probe"
  | "pic inta probe"
  | "rdmsr"
  | "wrmsr"
  | "mov cr8"
  | "mov cr4"
  | "apic base x2apic"
  | "KVM_IRQ_LINE_STATUS"
  | "KVM_SIGNAL_MSI"
  | "KVM_SET_GSI_ROUTING"
  | "KVM_INTERRUPT"
  | "KVM_NMI"
  | "request_interrupt_window"
  | "line high"
  | "line low"
  | "line pulse"
  | "xen"
  | "KVM_IRQFD"
  | "KVM_GET_LAPIC"
  | "KVM_SET_LAPIC"
  | "KVM_GET_MSRS"
  | "KVM_SET_MSRS"
  | "KVM_SET_CPUID2"
  | "KVM_SET_MP_STATE"
  | "KVM_SET_VCPU_EVENTS"
  | "KVM_GET_VCPU_EVENTS"
  | "KVM_ENABLE_CAP"
  | "KVM_ENABLE_CAP vcpu"
  | "KVM_CHECK_EXTENSION"
  | "KVM_GET_CLOCK"
  | "KVM_SET_CLOCK"
  | "KVM_SET_TSC_KHZ"
  | "KVM_GET_TSC_KHZ"
  | "KVM_TSC_ATTR"
  | "host rdtsc"
  | "qemu irqfd_notifier"
  | "KVM_X86_SETUP_MCE"
  | "KVM_X86_SET_MCE"
  | "KVM_X86_GET_MCE_CAP_SUPPORTED"
  | "KVM_CREATE_IRQCHIP"
  | "KVM_SET_BOOT_CPU_ID"
  | "KVM_CHECK_EXTENSION"
  | "KVM_GET_IRQCHIP"
  | "KVM_SET_IRQCHIP"
  | "cpuid"
  | "vmcall"
  | "hyperv hypercall"
  | "KVM_HYPERV_EVENTFD"
  | "eventfd signal"
  | "guest memory";

/**
 * An x86 command: every entry says how a real-VM backend runs it.
 *
 * @example
 * ```ts
 * const nop: X86Command = { actor: "vcpu", name: "nop", backend: "nop", doc: "", params: [], run: () => {} };
 * ```
 */
export type X86Command = CommandSpec<X86Vm> & { readonly backend: X86BackendOp };

/**
 * The footprint of what KVM's line and MSI ioctls (and the devices that use
 * them) do: the plumbing only. Not so under Xen (`hypervisor xen` or
 * `kvm-xen`), where an event-channel kick ends a HLT and reads IF: there
 * they touch everything.
 *
 * @example
 * ```ts
 * PLUMBING_UNLESS_XEN({ hypervisor: "kvm" }); // ["plumbing"]
 * ```
 */
export const PLUMBING_UNLESS_XEN = (
  settings: Readonly<Record<string, Val>>,
): readonly string[] | undefined =>
  settings.hypervisor === undefined || settings.hypervisor === "kvm" ? [PLUMBING] : undefined;
