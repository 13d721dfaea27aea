/**
 * The VMM's x86 ioctls beyond raising interrupts, as scenario commands and
 * state paths: KVM_IRQFD with its resampler (and the device's eventfd
 * write that drives it), KVM_GET/SET_LAPIC one register-page word at a
 * time, host-initiated KVM_GET/SET_MSRS, KVM_SET_CPUID2's interrupt bits,
 * KVM_SET_MP_STATE and KVM_SET_VCPU_EVENTS' NMI fields. Each command
 * returns what the ioctl returns, as the kernel gives it.
 *
 * The facts live in the model modules (`irqfd.ts`, `lapic.ts`, `cpu.ts`);
 * this file binds names to them, like `platform.ts`, which merges these
 * tables in.
 *
 * @module
 */
import type { ParamSpec, StateSpec } from "../core/table.ts";
import { PLUMBING_UNLESS_XEN, type X86Command } from "./command.ts";
import type { X86Vm } from "./vm.ts";
import { KVM_IRQFD_FLAG } from "./irqfd.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { x2apicLdr } from "./lapic.ts";
import { IA32_APIC_BASE_MSR } from "./lapic_registers.ts";
import { isGpFault } from "./lapic.ts";
import { X2apicApi } from "./vm.ts";
import { EINVAL } from "./errno.ts";

const VCPU: ParamSpec = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 254, what: "a vCPU index", decimal: true, vcpu: true },
  doc: "the vCPU whose ioctl it is",
};

const PAGE_OFFSET: ParamSpec = {
  name: "offset",
  type: { kind: "int", min: 0, max: 0x3f0, what: "a register-page offset" },
  doc: "the register's offset in the 1 KiB page (the xAPIC MMIO offset: 0x20 ID, 0x300 ICR)",
};

function checkOffset(offset: number): void {
  if (offset % 16 !== 0) {
    throw new CommandInputError(
      `offset 0x${offset.toString(16)}: registers sit at multiples of 0x10`,
    );
  }
}

/**
 * KVM_GET_LAPIC's word at `offset` (`kvm_apic_get_state` then
 * `kvm_apic_state_fixup`): in x2APIC mode the ID is the x2APIC ID, shifted
 * to bits 31:24 unless KVM_X2APIC_API_USE_32BIT_IDS is on.
 */
function getLapicWord(vm: X86Vm, cpu: number, offset: number): number {
  const l = vm.cpus[cpu].lapic;
  if (offset === 0x20 && l.x2apicMode) {
    const use32 = ((vm.config.x2apicApi ?? 0) & X2apicApi.Use32BitIds) !== 0;
    return use32 ? l.x2apicId : (l.x2apicId << 24) >>> 0;
  }
  return l.peek(offset);
}

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

function needLapic(vm: X86Vm): void {
  if (!vm.irqchipInKernel) {
    throw new CommandInputError(
      "KVM_GET/SET_LAPIC need an in-kernel LAPIC ('irqchip userspace' has none)",
    );
  }
}

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
export const VMM_IOCTL_COMMANDS: readonly X86Command[] = [
  {
    actor: "vmm",
    name: "kvm irqfd",
    backend: "KVM_IRQFD",
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
    actor: "vmm",
    name: "kvm get_lapic",
    backend: "KVM_GET_LAPIC",
    doc: "KVM_GET_LAPIC: one 32-bit word of the register page (x2APIC mode: the ID in the " +
      "format KVM_CAP_X2APIC_API selects; TMCCT the count left now)",
    params: [VCPU, PAGE_OFFSET],
    returns: "the word",
    run: (vm, _c, a, source) => {
      checkOffset(a.offset as number);
      needLapic(vm);
      const v = getLapicWord(vm, a.vcpu as number, a.offset as number);
      emit(
        vm,
        source,
        `KVM_GET_LAPIC vcpu${a.vcpu} [0x${(a.offset as number).toString(16)}] = 0x${
          v.toString(16)
        }`,
      );
      return v;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_lapic",
    backend: "KVM_SET_LAPIC",
    doc: "KVM_GET_LAPIC, one word changed, KVM_SET_LAPIC: the page is copied in without write " +
      "masks or side effects; in x2APIC mode with KVM_X2APIC_API_USE_32BIT_IDS an ID other than " +
      "the x2APIC ID is -EINVAL (without it the ID is ignored) and LDR is recomputed",
    params: [VCPU, PAGE_OFFSET, {
      name: "value",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a 32-bit value" },
      doc: "the new word",
    }],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      const offset = a.offset as number, value = a.value as number;
      checkOffset(offset);
      needLapic(vm);
      const l = vm.cpus[a.vcpu as number].lapic;
      const id = emit(
        vm,
        source,
        `KVM_SET_LAPIC vcpu${a.vcpu} [0x${offset.toString(16)}] <- 0x${value.toString(16)}`,
      );
      return vm.trace.within(id, () => {
        if (l.x2apicMode) {
          const use32 = ((vm.config.x2apicApi ?? 0) & X2apicApi.Use32BitIds) !== 0;
          // kvm_apic_state_fixup(set): the page's ID is checked or ignored, LDR follows it.
          if (offset === 0x20) return use32 && value !== l.x2apicId ? -EINVAL : 0;
          if (offset === 0xd0) return l.restoreWord(0xd0, x2apicLdr(l.x2apicId)), 0;
        }
        l.restoreWord(offset, value);
        return 0;
      });
    },
  },
  {
    actor: "vmm",
    name: "kvm get_msr",
    backend: "KVM_GET_MSRS",
    doc: "KVM_GET_MSRS of one MSR, host-initiated: IA32_APIC_BASE, IA32_TSC_DEADLINE, the " +
      "x2APIC MSRs (x2APIC mode only)",
    params: [VCPU, {
      name: "msr",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "an MSR index" },
      doc: "the MSR index",
    }],
    returns: "the value, or -1 when KVM_GET_MSRS processes no entry",
    run: (vm, _c, a) => {
      const r = vm.cpus[a.vcpu as number].lapic.rdmsr(a.msr as number);
      if (isGpFault(r)) return -1;
      return r <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r) : r;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_msr",
    backend: "KVM_SET_MSRS",
    doc: "KVM_SET_MSRS of one MSR, host-initiated: IA32_APIC_BASE may make the transitions a " +
      "guest WRMSR may not (x2APIC -> xAPIC, disabled -> x2APIC); invalid states and reserved " +
      "bits still fail",
    params: [VCPU, {
      name: "msr",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "an MSR index" },
      doc: "the MSR index",
    }, { name: "value", type: { kind: "u64" }, doc: "the value" }],
    returns: "1 (the MSR was set) or 0 (KVM_SET_MSRS stopped at it)",
    run: (vm, _c, a, source) => {
      const l = vm.cpus[a.vcpu as number].lapic;
      const msr = a.msr as number, value = a.value as bigint;
      const id = emit(
        vm,
        source,
        `KVM_SET_MSRS vcpu${a.vcpu} 0x${msr.toString(16)} <- 0x${value.toString(16)}`,
      );
      return vm.trace.within(id, () => {
        if (msr === IA32_APIC_BASE_MSR) return l.setApicBase(value, true) ? 1 : 0;
        return l.wrmsr(msr, value) === null ? 1 : 0;
      });
    },
  },
  {
    actor: "vmm",
    name: "kvm set_cpuid2",
    backend: "KVM_SET_CPUID2",
    doc: "KVM_SET_CPUID2's interrupt bits: CPUID.1:ECX.x2APIC (IA32_APIC_BASE.EXTD settable; " +
      "directed EOI offered when the I/O APIC is not in the kernel) and TSC_DEADLINE (LVT " +
      "timer mode 2 writable); both 1 until set",
    params: [
      VCPU,
      { name: "x2apic", type: { kind: "bool" }, doc: "CPUID.1:ECX[21]", default: 1 },
      { name: "tsc_deadline", type: { kind: "bool" }, doc: "CPUID.1:ECX[24]", default: 1 },
    ],
    returns: "0",
    run: (vm, _c, a) =>
      vm.setCpuid(a.vcpu as number, { x2apic: a.x2apic === 1, tscDeadline: a.tsc_deadline === 1 }),
  },
  {
    actor: "vmm",
    name: "kvm set_mp_state",
    backend: "KVM_SET_MP_STATE",
    doc: "KVM_SET_MP_STATE: RUNNABLE, UNINITIALIZED, INIT_RECEIVED, HALTED or SIPI_RECEIVED " +
      "(which becomes INIT_RECEIVED with a SIPI pending); without an in-kernel LAPIC only " +
      "RUNNABLE",
    params: [VCPU, {
      name: "state",
      type: { kind: "int", min: 0, max: 255, what: "an MP state" },
      doc: "KVM_MP_STATE_*",
    }],
    returns: "0 or -EINVAL",
    run: (vm, _c, a) => vm.cpus[a.vcpu as number].setMpState(a.state as number),
  },
  {
    actor: "vmm",
    name: "kvm set_vcpu_events",
    backend: "KVM_SET_VCPU_EVENTS",
    doc: "KVM_SET_VCPU_EVENTS with KVM_VCPUEVENT_VALID_NMI_PENDING: nmi.pending (queued, of " +
      "which the vCPU keeps what it can latch) and nmi.masked",
    params: [
      VCPU,
      { name: "nmi_pending", type: { kind: "int", min: 0, max: 255 }, doc: "NMIs pending" },
      { name: "nmi_masked", type: { kind: "bool" }, doc: "NMIs blocked", default: 0 },
    ],
    returns: "0",
    run: (vm, _c, a) => {
      const c = vm.cpus[a.vcpu as number];
      c.lapic.nmiPending = a.nmi_pending as number;
      c.nmiBlocked = a.nmi_masked === 1;
      return 0;
    },
  },
  {
    actor: "device",
    name: "signal",
    backend: "eventfd signal",
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
