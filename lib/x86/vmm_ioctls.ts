/**
 * The VMM's x86 ioctls beyond raising interrupts, as scenario commands and
 * state paths: KVM_IRQFD with its resampler (and the device's eventfd
 * write that drives it). Each command returns what the ioctl returns: 0 or
 * -errno, as the kernel gives it.
 *
 * The facts live in the model modules (`irqfd.ts`, `lapic.ts`, `cpu.ts`);
 * this file binds names to them, like `platform.ts`, which merges these
 * tables in.
 *
 * @module
 */
import type { CommandSpec, ParamSpec, StateSpec } from "../core/table.ts";
import { PLUMBING_UNLESS_XEN } from "../core/table.ts";
import type { X86Vm } from "./vm.ts";
import { KVM_IRQFD_FLAG } from "./irqfd.ts";

const FD: ParamSpec = {
  name: "fd",
  type: { kind: "int", min: 0, max: 1023, what: "an eventfd number", decimal: true },
  doc: "the eventfd (any number the VMM's eventfd() returned)",
};

/**
 * Named values for the commands here (`flags=KVM_IRQFD_FLAG_RESAMPLE`).
 *
 * @example
 * ```ts
 * VMM_IOCTL_CONSTANTS.KVM_IRQFD_FLAG_RESAMPLE; // 2
 * ```
 */
export const VMM_IOCTL_CONSTANTS: Readonly<Record<string, number>> = {
  KVM_IRQFD_FLAG_DEASSIGN: KVM_IRQFD_FLAG.DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE: KVM_IRQFD_FLAG.RESAMPLE,
};

function emit(vm: X86Vm, source: string, text: string): number {
  return vm.trace.enabled ? vm.trace.emit(source, "ioctl", text) : 0;
}

/**
 * The commands: `vmm: kvm irqfd`, `device X: signal`.
 *
 * @example
 * ```ts
 * VMM_IOCTL_COMMANDS.map((c) => c.name); // ["kvm irqfd", "signal", ...]
 * ```
 */
export const VMM_IOCTL_COMMANDS: readonly CommandSpec<X86Vm>[] = [
  {
    actor: "vmm",
    name: "kvm irqfd",
    doc: "KVM_IRQFD (virt/kvm/eventfd.c): eventfd fd raises gsi; with " +
      "flags=KVM_IRQFD_FLAG_RESAMPLE the GSI stays high until the guest's EOI, which lowers it " +
      "and signals resamplefd (eventfd[N] counts); flags=KVM_IRQFD_FLAG_DEASSIGN removes it",
    params: [
      FD,
      { name: "gsi", type: { kind: "int", min: 0, max: 4095, what: "a GSI" }, doc: "the GSI" },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "KVM_IRQFD flags" },
        doc: "KVM_IRQFD_FLAG_DEASSIGN 1, KVM_IRQFD_FLAG_RESAMPLE 2",
        default: 0,
      },
      { ...FD, name: "resamplefd", doc: "the eventfd signalled at EOI (resampling)", default: 0 },
    ],
    returns: "0, -EINVAL (flags, irqchip mode) or -EBUSY (eventfd already assigned)",
    run: (vm, _c, a, source) => {
      const id = emit(vm, source, `KVM_IRQFD fd ${a.fd} gsi ${a.gsi} flags ${a.flags}`);
      return vm.trace.within(
        id,
        () =>
          vm.irqfds.assign(
            a.fd as number,
            a.gsi as number,
            a.flags as number,
            a.resamplefd as number,
          ),
      );
    },
  },
  {
    actor: "device",
    name: "signal",
    doc: "write 1 to an eventfd, as vhost or VFIO does: the irqfds on it raise their GSIs",
    params: [{ ...FD, positional: true }],
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) => {
      const id = vm.trace.enabled
        ? vm.trace.emit(source, "eventfd", `eventfd ${a.fd} signalled`)
        : 0;
      vm.trace.within(id, () => vm.irqfds.signal(a.fd as number));
    },
  },
];

/**
 * The state paths: `eventfd[N]`.
 *
 * @example
 * ```ts
 * VMM_IOCTL_STATE.map((s) => s.pattern); // ["eventfd[#]"]
 * ```
 */
export const VMM_IOCTL_STATE: readonly StateSpec<X86Vm>[] = [
  {
    pattern: "eventfd[#]",
    type: { kind: "int", min: 0, max: 0xffff_ffff },
    doc: "how many times KVM signalled eventfd N (an irqfd's resamplefd)",
    get: (vm, [fd]) => vm.eventfds.get(fd) ?? 0,
    bounds: () => [1024],
  },
];
