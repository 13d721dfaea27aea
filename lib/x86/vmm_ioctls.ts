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
import {
  HOST_TSC_KHZ,
  MAX_GUEST_TSC_KHZ,
  TSC_RATIO_FRAC_BITS,
  TSC_TOLERANCE_PPM,
} from "./guest_tsc.ts";
import { MSR_KVM_PV_EOI_EN } from "./kvm_pv_eoi.ts";
import { KVM_CAP_ENFORCE_PV_FEATURE_CPUID, pvMsr, pvMsrRefusal } from "./kvm_pv_features.ts";
import { toInt } from "../core/values.ts";
import type { ParamSpec, StateSpec } from "../core/table.ts";
import { PLUMBING_UNLESS_XEN, type X86Command } from "./command.ts";
import type { X86Vm } from "./vm.ts";
import { KVM_IRQFD_FLAG } from "./irqfd.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { x2apicLdr } from "./lapic.ts";
import { IA32_APIC_BASE_MSR, IA32_TSC_MSR } from "./lapic_registers.ts";
import { IA32_TSC_ADJUST_MSR, KVM_VCPU_TSC_OFFSET, type KvmTsc } from "./tsc.ts";
import { MSR_KVM_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW } from "./kvmclock.ts";
import { disableQuirks } from "./kvm_quirks.ts";
import { isGpFault } from "./lapic.ts";
import { eoiBroadcastModeAfter, KVM_CLOCK, X2apicApi, x2apicApiRefusal } from "./vm.ts";
import { EBUSY, EEXIST, EINVAL, ENXIO } from "./errno.ts";
import { describeException, EXCEPTIONS, exceptionSpec, isSoftException } from "./exceptions.ts";
import { KVM_PIC_STATE_FIELDS, type KvmPicState } from "./i8259.ts";
import { KVM_IOAPIC_NUM_PINS, KVM_MAX_IRQ_ROUTES } from "./kvm_routing.ts";
import { type CapScope, checkExtension, knownCaps } from "./kvm_caps.ts";
import type { HvVcpu } from "./hyperv_vcpu.ts";
import { type HvCpuidCache, KVM_CAP_HYPERV_ENFORCE_CPUID } from "./hyperv_cpuid.ts";
import { HV_MSR, isFrequencyMsr, isHypervMsr, isPartitionMsr } from "./hyperv_abi.ts";
import { isMceMsr } from "./mce.ts";

/** The exceptions that push an error code, from the one table of them (`#DF, #TS, ...`). */
const ERROR_CODE_VECTORS = EXCEPTIONS.filter((e) => e.errorCode).map((e) => `#${e.mnemonic}`)
  .join(", ");

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
    const use32 = (vm.x2apicApi & X2apicApi.Use32BitIds) !== 0;
    return use32 ? l.x2apicId : (l.x2apicId << 24) >>> 0;
  }
  return l.peek(offset);
}

/** KVM_SET_CPUID2's Hyper-V leaves as far as KVM's `cpuid_cache` keeps them; -1 keeps a register. */
const HV_CPUID_PARAMS: readonly ParamSpec[] = ([
  ["hv_features_eax", "HYPERV_CPUID_FEATURES (0x40000003) EAX: the MSR privileges"],
  ["hv_features_ebx", "HYPERV_CPUID_FEATURES EBX: the hypercall privileges"],
  ["hv_features_edx", "HYPERV_CPUID_FEATURES EDX"],
  ["hv_enlightenments_eax", "HYPERV_CPUID_ENLIGHTMENT_INFO (0x40000004) EAX"],
  ["hv_enlightenments_ebx", "HYPERV_CPUID_ENLIGHTMENT_INFO EBX: the spinlock retry count"],
  ["hv_syndbg_eax", "HYPERV_CPUID_SYNDBG_PLATFORM_CAPABILITIES (0x40000082) EAX"],
] as const).map(([name, what]) => ({
  name,
  type: { kind: "int", min: -1, max: 0xffff_ffff, what: "a CPUID register" },
  doc: `${what}; -1 (the default) keeps the vCPU's, which start as ` +
    "KVM_GET_SUPPORTED_HV_CPUID's (lib/x86/hyperv_cpuid.ts)",
  default: -1,
}));

const TSC_ATTR: ParamSpec = {
  name: "attr",
  type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a KVM_VCPU_TSC_CTRL attribute" },
  doc: "the attribute (KVM_VCPU_TSC_OFFSET)",
};

/** The vCPU's TSC model, or an input error where the model has none (Xen, Hyper-V). */
function tscOf(vm: X86Vm, vcpu: number): KvmTsc {
  const tsc = vm.cpus[vcpu].tscRegs;
  if (tsc === null) {
    throw new CommandInputError(
      "KVM_VCPU_TSC_CTRL on a Xen or Hyper-V VM is not modelled (its time pages would not " +
        "follow the TSC)",
    );
  }
  return tsc;
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
  KVM_CAP_DISABLE_QUIRKS: 116,
  KVM_CAP_SPLIT_IRQCHIP: 121,
  KVM_CAP_DISABLE_QUIRKS2: 213,
  KVM_CAP_X2APIC_API: 129,
  KVM_CAP_EXCEPTION_PAYLOAD: 164,
  KVM_CAP_X86_APIC_BUS_CYCLES_NS: 237,
  KVM_CLOCK_TSC_STABLE: KVM_CLOCK.TSC_STABLE,
  KVM_CLOCK_REALTIME: KVM_CLOCK.REALTIME,
  KVM_CLOCK_HOST_TSC: KVM_CLOCK.HOST_TSC,
  KVM_VCPUEVENT_VALID_NMI_PENDING: 0x1,
  KVM_VCPUEVENT_VALID_SIPI_VECTOR: 0x2,
  KVM_VCPUEVENT_VALID_SHADOW: 0x4,
  KVM_VCPUEVENT_VALID_SMM: 0x8,
  KVM_VCPUEVENT_VALID_PAYLOAD: 0x10,
  KVM_VCPUEVENT_VALID_TRIPLE_FAULT: 0x20,
  KVM_X86_SHADOW_INT_MOV_SS: 0x1,
  KVM_X86_SHADOW_INT_STI: 0x2,
};

const C = VMM_IOCTL_CONSTANTS;

/**
 * A KVM PV MSR that KVM_GET/SET_MSRS would take (not refused under
 * enforcement) and the model does not have (all but MSR_KVM_PV_EOI_EN):
 * an input error, as for the guest's RDMSR/WRMSR, never a made-up answer.
 */
function unmodelledPvMsr(msr: number): void {
  const m = pvMsr(msr);
  if (m === undefined || msr === MSR_KVM_PV_EOI_EN) return;
  throw new CommandInputError(
    `${m.name} (0x${msr.toString(16)}): KVM_GET/SET_MSRS would take it, and the model does not ` +
      "have it",
  );
}

/**
 * KVM_ENABLE_CAP on the VM (`kvm_vm_ioctl_enable_cap`, current Linux, as
 * the development host's kernel answers) for the interrupt capabilities.
 * KVM_CAP_X86_APIC_BUS_CYCLES_NS is -EINVAL for 0 or an overflowing cycle,
 * -ENXIO without an in-kernel irqchip, and -EINVAL once vCPUs exist (here
 * always). The model's VM already has its vCPUs (and its irqchip,
 * unless `irqchip userspace`), so KVM_CAP_SPLIT_IRQCHIP can only fail:
 * -EINVAL above KVM_MAX_IRQ_ROUTES pins (older kernels: above
 * MAX_NR_RESERVED_IOAPIC_PINS, 48), else -EEXIST. KVM_CAP_X2APIC_API takes
 * flags at any time ({@link x2apicApiRefusal} says when it is -EINVAL);
 * either EOI-broadcast suppression flag sets the VM's mode, which the next
 * EOI obeys and the next KVM_SET_CPUID2 or INIT shows in Version; flags 1
 * and 2 are set for good ({@link X86Vm.enableX2apicApi}).
 */
function enableCap(vm: X86Vm, cap: number, arg: bigint, flags: number): number {
  if (
    cap !== C.KVM_CAP_SPLIT_IRQCHIP && cap !== C.KVM_CAP_X2APIC_API &&
    cap !== C.KVM_CAP_X86_APIC_BUS_CYCLES_NS && cap !== C.KVM_CAP_EXCEPTION_PAYLOAD &&
    cap !== C.KVM_CAP_DISABLE_QUIRKS && cap !== C.KVM_CAP_DISABLE_QUIRKS2
  ) {
    throw new CommandInputError(
      `KVM_ENABLE_CAP ${cap}: the model knows KVM_CAP_DISABLE_QUIRKS (116), ` +
        "KVM_CAP_SPLIT_IRQCHIP (121), KVM_CAP_X2APIC_API (129), KVM_CAP_EXCEPTION_PAYLOAD " +
        "(164), KVM_CAP_DISABLE_QUIRKS2 (213) and KVM_CAP_X86_APIC_BUS_CYCLES_NS (237)",
    );
  }
  if (flags !== 0) return -EINVAL;
  if (cap === C.KVM_CAP_DISABLE_QUIRKS || cap === C.KVM_CAP_DISABLE_QUIRKS2) {
    // kvm_vm_ioctl_enable_cap: at any time; the bits add to the VM's set (lib/x86/kvm_quirks.ts).
    vm.disabledQuirks = disableQuirks(vm.disabledQuirks, arg, cap === C.KVM_CAP_DISABLE_QUIRKS2);
    return 0;
  }
  if (cap === C.KVM_CAP_EXCEPTION_PAYLOAD) {
    // kvm_vm_ioctl_enable_cap: args[0] is the switch, at any time.
    vm.exceptionPayloadEnabled = arg !== 0n;
    return 0;
  }
  // A capability the release does not have is -EINVAL, as any unknown one is.
  const offered = capAnswer(vm, cap, "vm");
  if (offered === 0) return -EINVAL;
  if (cap === C.KVM_CAP_X86_APIC_BUS_CYCLES_NS) {
    // 0, or a cycle that would overflow tmict_to_ns (U32_MAX * 128 * ns), is -EINVAL;
    // then no in-kernel irqchip is -ENXIO and a created vCPU -EINVAL.
    if (arg === 0n || BigInt(0xffff_ffff) * 128n * arg >= 1n << 64n) return -EINVAL;
    return vm.irqchipInKernel ? -EINVAL : -ENXIO;
  }
  if (cap === C.KVM_CAP_SPLIT_IRQCHIP) {
    // The pin count is checked first; then an irqchip or any created vCPU is -EEXIST.
    return arg > BigInt(KVM_MAX_IRQ_ROUTES) ? -EINVAL : -EEXIST;
  }
  if (x2apicApiRefusal(arg, vm.config.irqchip) !== undefined) return -EINVAL;
  if ((arg & ~BigInt(offered)) !== 0n) return -EINVAL;
  const bits = Number(arg);
  vm.enableX2apicApi(bits);
  vm.eoiBroadcastMode = eoiBroadcastModeAfter(vm.eoiBroadcastMode, bits);
  return 0;
}

/** KVM_CHECK_EXTENSION's answer for `cap` on `vm`'s release (`kvm_caps`); unlisted caps are input errors. */
function capAnswer(vm: X86Vm, cap: number, scope: CapScope): number {
  const r = checkExtension(cap, vm.config.kvmCaps ?? "newest", scope, {
    apicBusCycleNs: vm.config.apicBusCycleNs ?? 1,
    irqchipSplit: vm.config.irqchip === "split",
  });
  if (r === undefined) {
    throw new CommandInputError(
      `KVM_CHECK_EXTENSION ${cap}: the model's capability table (lib/x86/kvm_caps.ts) knows ` +
        knownCaps(),
    );
  }
  return r;
}

/**
 * The field names KVM_GET/SET_IRQCHIP reach: `struct kvm_pic_state`'s, then the I/O APIC's
 * (`irr`, which both have, listed once; the chip says whose it is).
 */
const IOAPIC_STATE_FIELDS = ["base_address", "ioregsel", "id", "irr", "redirtbl"] as const;
const IRQCHIP_FIELDS: readonly string[] = [
  ...new Set<string>([...KVM_PIC_STATE_FIELDS, ...IOAPIC_STATE_FIELDS]),
];

const CHIPS = ["pic_master", "pic_slave", "ioapic"] as const;

/** The parameters that name one field of KVM_GET/SET_IRQCHIP's state: chip, field, entry. */
const IRQCHIP_SELECTOR: readonly ParamSpec[] = [
  { name: "chip", type: { kind: "enum", values: [...CHIPS] }, doc: "chip_id" },
  { name: "field", type: { kind: "enum", values: IRQCHIP_FIELDS }, doc: "the field" },
  {
    name: "index",
    type: { kind: "int", min: 0, max: 255, what: "a redirtbl index", decimal: true },
    doc: "the redirtbl entry",
    default: 0,
  },
];

/**
 * Checks a KVM_GET/SET_IRQCHIP field against its chip: an input error for
 * a PIC field asked of the I/O APIC (or the reverse), an index given to
 * anything but `redirtbl`, or an entry past the last of `pins`.
 *
 * @example
 * ```ts
 * checkIrqchipField("ioapic", "redirtbl", 3, 24); // fine
 * ```
 */
export function checkIrqchipField(chip: string, field: string, index: number, pins: number): void {
  if (chip === "ioapic") {
    if (!(IOAPIC_STATE_FIELDS as readonly string[]).includes(field)) {
      throw new CommandInputError(
        `'${field}' is a field of struct kvm_pic_state; the I/O APIC's are ${
          IOAPIC_STATE_FIELDS.join(", ")
        }`,
      );
    }
  } else if (!(KVM_PIC_STATE_FIELDS as readonly string[]).includes(field)) {
    throw new CommandInputError(
      `'${field}' is a field of struct kvm_ioapic_state; a PIC's are ${
        KVM_PIC_STATE_FIELDS.join(", ")
      }`,
    );
  }
  if (field === "redirtbl" ? index >= pins : index !== 0) {
    throw new CommandInputError(
      field === "redirtbl"
        ? `redirtbl has ${pins} entries: there is no index ${index}`
        : `index= is for redirtbl only`,
    );
  }
}

/** KVM_GET/SET_IRQCHIP need the in-kernel PICs and I/O APIC (`irqchip_kernel`), else -ENXIO. */
function irqchipField(vm: X86Vm, chip: string, field: string, index: number): number {
  checkIrqchipField(chip, field, index, vm.ioapic?.pins ?? KVM_IOAPIC_NUM_PINS);
  return vm.config.irqchip === "kernel" ? 0 : -ENXIO;
}

function ioapicState(vm: X86Vm) {
  const io = vm.ioapic!;
  const redirtbl: bigint[] = [];
  for (let p = 0; p < io.pins; p++) {
    const w = io.rte(p);
    redirtbl.push((BigInt(w.high >>> 0) << 32n) | BigInt(w.low >>> 0));
  }
  return { id: io.id, ioregsel: io.ioregsel, irr: io.kvmIrr(), redirtbl };
}

/**
 * The `struct kvm_vcpu_events` fields `kvm get_vcpu_events` reads, by their
 * uapi names with `.` as `_`.
 *
 * @example
 * ```ts
 * VCPU_EVENT_FIELDS.includes("nmi_pending"); // true
 * ```
 */
export const VCPU_EVENT_FIELDS = [
  "exception_injected",
  "exception_nr",
  "exception_has_error_code",
  "exception_pending",
  "exception_error_code",
  "exception_has_payload",
  "exception_payload",
  "interrupt_injected",
  "interrupt_nr",
  "interrupt_soft",
  "interrupt_shadow",
  "nmi_injected",
  "nmi_pending",
  "nmi_masked",
  "sipi_vector",
  "flags",
  "smi_smm",
  "smi_pending",
  "smi_smm_inside_nmi",
  "smi_latched_init",
] as const;

/**
 * KVM_GET_VCPU_EVENTS (`kvm_vcpu_ioctl_x86_get_vcpu_events`), the fields
 * the model has: `exception` is the one queued for the next boundary, its
 * `injected` set for a pending one too unless KVM_CAP_EXCEPTION_PAYLOAD
 * is enabled (KVM conflates them for ABI compatibility), both clear for #BP and #OF (`kvm_exception_is_soft`: INT3 and
 * INTO raise them again), `nr`, `has_error_code` and `error_code` those of
 * the last exception queued or set, long delivered as it may be (KVM
 * clears only pending and injected), no
 * payload (the model raises no #PF or #DB); `interrupt` is the vector KVM would re-inject at the next entry
 * (KVM_INTERRUPT's, or one KVM_SET_VCPU_EVENTS put there); `nmi_pending`
 * after `process_nmi`; `sipi_vector` always 0 ("never valid when
 * reporting"); `flags` NMI_PENDING | SHADOW | SMM, and PAYLOAD with the
 * capability.
 */
function getEvent(vm: X86Vm, cpu: number, field: string): number {
  const c = vm.cpus[cpu];
  const ex = c.exceptionVector;
  switch (field) {
    case "exception_injected":
      // Without KVM_CAP_EXCEPTION_PAYLOAD a pending exception is reported injected too.
      return +(ex >= 0 && !isSoftException(ex) &&
        (c.exceptionInjected || !vm.exceptionPayloadEnabled));
    case "exception_pending":
      return +(ex >= 0 && !isSoftException(ex) && !c.exceptionInjected);
    case "exception_nr":
      return c.reportedException.nr;
    case "exception_has_error_code":
      return +c.reportedException.hasErrorCode;
    case "exception_error_code":
      return c.reportedException.errorCode;
    case "interrupt_injected":
      return c.injected >= 0 ? 1 : 0;
    case "interrupt_nr":
      return c.injected >= 0 ? c.injected : 0;
    case "interrupt_shadow":
      return c.shadow === "sti"
        ? C.KVM_X86_SHADOW_INT_STI
        : c.shadow === "mov_ss"
        ? C.KVM_X86_SHADOW_INT_MOV_SS
        : 0;
    case "nmi_pending":
      return c.nmiPendingReported;
    case "nmi_masked":
      return +c.nmiBlocked;
    case "smi_pending":
      return +c.lapic.smiPending;
    case "smi_latched_init":
      return +(c.lapicInKernel && c.lapic.initPending);
    case "flags":
      return C.KVM_VCPUEVENT_VALID_NMI_PENDING | C.KVM_VCPUEVENT_VALID_SHADOW |
        C.KVM_VCPUEVENT_VALID_SMM |
        (vm.exceptionPayloadEnabled ? C.KVM_VCPUEVENT_VALID_PAYLOAD : 0);
    default:
      return 0;
  }
}

/**
 * KVM_SET_VCPU_EVENTS (`kvm_vcpu_ioctl_x86_set_vcpu_events`), in KVM's
 * order. -EINVAL: unknown flags; VALID_PAYLOAD without
 * KVM_CAP_EXCEPTION_PAYLOAD, VALID_TRIPLE_FAULT (its capability,
 * KVM_CAP_X86_TRIPLE_FAULT_EVENT, is never enabled here); an exception
 * injected or pending with a vector above 31 or NMI's 2. Without
 * VALID_PAYLOAD `exception.pending` is ignored; with it a pending
 * exception clears `injected`. The interrupt fields, nmi.injected and
 * nmi.masked are always applied; the shadow, the NMI count, the SIPI vector
 * and the SMM fields only under their flags.
 */
function setEvents(vm: X86Vm, cpu: number, a: Readonly<Record<string, unknown>>): number {
  const n = (k: string) => a[k] as number;
  const flags = n("flags");
  const known = C.KVM_VCPUEVENT_VALID_NMI_PENDING | C.KVM_VCPUEVENT_VALID_SIPI_VECTOR |
    C.KVM_VCPUEVENT_VALID_SHADOW | C.KVM_VCPUEVENT_VALID_SMM | C.KVM_VCPUEVENT_VALID_PAYLOAD |
    C.KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
  if ((flags & ~known) !== 0) return -EINVAL;
  // Without VALID_PAYLOAD, exception.pending and the payload are ignored; with it (which needs
  // KVM_CAP_EXCEPTION_PAYLOAD) a pending exception is not injected.
  let pending = false, injected = n("exception_injected") !== 0;
  if (flags & C.KVM_VCPUEVENT_VALID_PAYLOAD) {
    if (!vm.exceptionPayloadEnabled) return -EINVAL;
    pending = n("exception_pending") !== 0;
    if (pending) injected = false;
    if (pending && n("exception_has_payload") !== 0) {
      throw new CommandInputError(
        "an exception payload (CR2 of a #PF, DR6 of a #DB): the model has no paging or debug " +
          "registers to deliver it to",
      );
    }
  }
  const exception = injected || pending;
  const nr = n("exception_nr");
  if (exception && (nr > 31 || nr === 2)) return -EINVAL;
  const hasErrorCode = n("exception_has_error_code") !== 0;
  if (exception && hasErrorCode !== exceptionSpec(nr).errorCode) {
    // vmx_inject_exception sets deliver-error-code as told; VM entry checks it against the
    // vector (SDM vol. 3C 27.2.1.3) and fails: KVM_EXIT_FAIL_ENTRY, which the model has not.
    throw new CommandInputError(
      `${describeException(nr, -1)} ${hasErrorCode ? "pushes no" : "pushes an"} error code: ` +
        "VM entry would fail (KVM_EXIT_FAIL_ENTRY), which the model does not have",
    );
  }
  const smm = (flags & C.KVM_VCPUEVENT_VALID_SMM) !== 0;
  if (smm && (n("smi_smm") !== 0 || n("smi_pending") !== 0 || n("smi_smm_inside_nmi") !== 0)) {
    throw new CommandInputError("SMM and SMIs are not modelled: smi_smm, smi_pending stay 0");
  }
  if (n("interrupt_injected") !== 0 && n("interrupt_soft") !== 0) {
    throw new CommandInputError(
      "a soft interrupt (INT n) being injected: KVM re-executes the INT, which the model " +
        "cannot point the vCPU back to",
    );
  }
  if (n("nmi_injected") !== 0) {
    throw new CommandInputError(
      "nmi.injected: an NMI half-delivered at the last exit, which the model never has",
    );
  }
  // TRIPLE_FAULT is refused only after the other fields are applied (KVM's order).
  const c = vm.cpus[cpu];
  c.setException(exception ? nr : -1, hasErrorCode ? n("exception_error_code") : -1, injected);
  c.setReportedException(nr, hasErrorCode, n("exception_error_code"));
  c.injected = n("interrupt_injected") !== 0 ? n("interrupt_nr") : -1;
  if (flags & C.KVM_VCPUEVENT_VALID_SHADOW) {
    const sh = n("interrupt_shadow");
    c.shadow = sh & C.KVM_X86_SHADOW_INT_MOV_SS
      ? "mov_ss"
      : sh & C.KVM_X86_SHADOW_INT_STI
      ? "sti"
      : "none";
  }
  if (flags & C.KVM_VCPUEVENT_VALID_NMI_PENDING) c.lapic.nmiPending = n("nmi_pending");
  c.nmiBlocked = n("nmi_masked") !== 0;
  if ((flags & C.KVM_VCPUEVENT_VALID_SIPI_VECTOR) && c.lapicInKernel) {
    c.lapic.lastSipiVector = n("sipi_vector");
  }
  if (smm && c.lapicInKernel) c.lapic.initPending = n("smi_latched_init") !== 0;
  if (flags & C.KVM_VCPUEVENT_VALID_TRIPLE_FAULT) return -EINVAL;
  return 0;
}

const U8 = { kind: "int", min: 0, max: 255 } as const;

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
export const VMM_IOCTL_COMMANDS: readonly X86Command[] = outOfGuest([
  {
    actor: "vmm",
    name: "kvm irqfd",
    backend: "KVM_IRQFD",
    doc: "KVM_IRQFD (virt/kvm/eventfd.c): eventfd fd raises gsi; with " +
      "flags=KVM_IRQFD_FLAG_RESAMPLE the GSI stays high until the guest's EOI, which lowers it " +
      "and signals resamplefd (eventfd[N] counts), at the I/O APIC's or an 8259's EOI (an " +
      "edge pin's too: the resampler makes KVM intercept its vector's EOI, and the EOI of " +
      "that vector acks it on a vCPU whose ioapic_handled_vectors holds it, " +
      "ioapic.c kvm_ioapic_scan_entry); an " +
      "eventfd already signalled injects once at assignment; flags=KVM_IRQFD_FLAG_DEASSIGN " +
      "removes it and reads the count away",
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
    name: "qemu irqfd_notifier",
    backend: "qemu irqfd_notifier",
    doc: "QEMU's kvm_irqchip_add_irqfd_notifier_gsi (vfio's INTx, say) under 'split_ioapic " +
      "qemu': KVM takes no resampling irqfd with a split irqchip, so QEMU registers a plain " +
      "KVM_IRQFD of fd on gsi and keeps resamplefd itself (kvm_resample_fd_insert), which " +
      "each EOI broadcast of its I/O APIC for that pin's level vector signals " +
      "(kvm_resample_fd_notify; eventfd[N] counts); flags=KVM_IRQFD_FLAG_DEASSIGN removes " +
      "both (kvm_irqchip_remove_irqfd_notifier_gsi)",
    params: [
      FD,
      { name: "gsi", type: { kind: "int", min: 0, max: 4095, what: "a GSI" }, doc: "the GSI" },
      { ...FD, name: "resamplefd", doc: "the eventfd QEMU signals at the pin's EOI" },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 1, what: "0 or KVM_IRQFD_FLAG_DEASSIGN" },
        doc: "KVM_IRQFD_FLAG_DEASSIGN 1 to remove",
        default: 0,
      },
    ],
    returns: "KVM_IRQFD's 0, -EINVAL or -EBUSY",
    run: (vm, _c, a, source) => {
      const io = vm.qemuIoapic;
      if (io === null) {
        throw new CommandInputError(
          "this is QEMU's emulated resamplefd of a split irqchip: it needs 'split_ioapic " +
            "qemu' (with KVM's whole irqchip use kvm irqfd flags=KVM_IRQFD_FLAG_RESAMPLE)",
        );
      }
      const gsi = a.gsi as number, deassign = (a.flags as number) !== 0;
      // kvm_irqchip_assign_irqfd: the list first, then the plain KVM_IRQFD.
      io.setResamplefd(gsi, deassign ? -1 : a.resamplefd as number);
      const id = emit(vm, source, `KVM_IRQFD fd ${a.fd} gsi ${gsi} flags ${a.flags} (QEMU)`);
      return vm.trace.within(
        id,
        () => vm.irqfds.assign(a.fd as number, gsi, deassign ? KVM_IRQFD_FLAG.DEASSIGN : 0, 0),
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
      "masks or side effects but the RTC's EOI recount (kvm_rtc_eoi_tracking_restore_one: a vCPU " +
      "the RTC entry names awaits its EOI iff IRR or ISR holds its vector); in x2APIC mode with KVM_X2APIC_API_USE_32BIT_IDS an ID other than " +
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
      const set = (): number => {
        if (l.x2apicMode) {
          const use32 = (vm.x2apicApi & X2apicApi.Use32BitIds) !== 0;
          // kvm_apic_state_fixup(set): the page's ID is checked or ignored, LDR follows it.
          if (offset === 0x20) return use32 && value !== l.x2apicId ? -EINVAL : 0;
          if (offset === 0xd0) return l.restoreWord(0xd0, x2apicLdr(l.x2apicId)), 0;
        }
        l.restoreWord(offset, value);
        return 0;
      };
      return vm.trace.within(id, () => {
        const r = set();
        // kvm_apic_set_state ends by recounting this vCPU's RTC EOI; it marked the APIC
        // map dirty, and the recalculation asks every vCPU to scan ioapic_handled_vectors.
        if (r === 0) {
          vm.ioapic?.rtcRestoreOne(l.x2apicId);
          vm.requestIoapicScan();
          vm.cpus[a.vcpu as number].lapicRestored();
        }
        return r;
      });
    },
  },
  {
    actor: "vmm",
    name: "kvm get_msr",
    backend: "KVM_GET_MSRS",
    doc: "KVM_GET_MSRS of one MSR, host-initiated: IA32_TSC (the guest's), IA32_TSC_ADJUST " +
      "(lib/x86/tsc.ts), MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_SYSTEM_TIME (lib/x86/kvmclock.ts), " +
      "IA32_APIC_BASE, " +
      "IA32_TSC_DEADLINE, the " +
      "x2APIC MSRs (x2APIC mode only), the machine-check MSRs (MCG_CTL and MCi_CTL2 even " +
      "without MCG_CTL_P / MCG_CMCI_P), MSR_KVM_PV_EOI_EN, and a Hyper-V vCPU's Hyper-V MSRs " +
      "(HV_X64_MSR_VP_INDEX...)",
    params: [VCPU, {
      name: "msr",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "an MSR index" },
      doc: "the MSR index",
    }],
    returns: "the value, or -1 when KVM_GET_MSRS processes no entry",
    run: (vm, _c, a) => {
      const pv = vm.cpus[a.vcpu as number].pvEoi;
      // kvm_get_msr_common's guest_pv_has holds for the VMM's reads too.
      if (pv !== null && pvMsrRefusal(vm.cpuidBits(a.vcpu as number), a.msr as number) !== null) {
        return -1;
      }
      const kvmclock = vm.cpus[a.vcpu as number].kvmclock;
      if (
        (a.msr === MSR_KVM_SYSTEM_TIME_NEW || a.msr === MSR_KVM_SYSTEM_TIME) && kvmclock !== null
      ) {
        return toInt(kvmclock.msrVal);
      }
      if (pv !== null) unmodelledPvMsr(a.msr as number);
      if (a.msr === MSR_KVM_PV_EOI_EN && pv !== null) return toInt(pv.msrVal);
      // The guest's TSC (kvm_get_msr_common: host-initiated, the L1 TSC).
      if (a.msr === IA32_TSC_MSR) return toInt(vm.guestTscOf(a.vcpu as number));
      const regs = vm.cpus[a.vcpu as number].tscRegs;
      if (a.msr === IA32_TSC_ADJUST_MSR && regs !== null) return toInt(regs.adjust);
      if (isHypervMsr(a.msr as number)) {
        const v = hypervVcpu(vm, a.vcpu as number).rdmsr(a.msr as number, true);
        return typeof v === "bigint" ? toInt(v) : -1;
      }
      if (isMceMsr(a.msr as number)) {
        const v = vm.cpus[a.vcpu as number].mce.rdmsr(a.msr as number, true);
        return v === null ? -1 : toInt(v);
      }
      const r = vm.cpus[a.vcpu as number].lapic.rdmsr(a.msr as number);
      if (isGpFault(r)) return -1;
      return toInt(r);
    },
  },
  {
    actor: "vmm",
    name: "kvm set_msr",
    backend: "KVM_SET_MSRS",
    doc: "KVM_SET_MSRS of one MSR, host-initiated: IA32_TSC synchronizes the TSC " +
      "(kvm_synchronize_tsc: 0, or within a second of the last write's course, takes the " +
      "generation's offset, else the TSC reads the value), IA32_TSC_ADJUST sets the register " +
      "only (lib/x86/tsc.ts; not under Xen or Hyper-V); MSR_KVM_SYSTEM_TIME_NEW and " +
      "MSR_KVM_SYSTEM_TIME as the guest's write, except that neither tells KVM which MSR the " +
      "boot vCPU runs (lib/x86/kvmclock.ts); IA32_APIC_BASE may make the transitions a " +
      "guest WRMSR may not (x2APIC -> xAPIC, disabled -> x2APIC); invalid states and reserved " +
      "bits still fail; MSR_KVM_PV_EOI_EN as the guest's write (0 where it #GPs); " +
      "the Hyper-V partition-wide MSRs and HV_X64_MSR_VP_ASSIST_PAGE as the guest's writes " +
      "(HV_X64_MSR_TIME_REF_COUNT and the frequency MSRs ignored, HV_X64_MSR_REFERENCE_TSC " +
      "marked HOST_CHANGED); " +
      "HV_X64_MSR_VP_INDEX (0x40000002) sets a Hyper-V vCPU's VP index, below " +
      "KVM_MAX_VCPUS (4096)",
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
        const pv = vm.cpus[a.vcpu as number].pvEoi;
        // kvm_set_msr_common's guest_pv_has holds for host-initiated writes too.
        if (pv !== null && pvMsrRefusal(vm.cpuidBits(a.vcpu as number), msr) !== null) return 0;
        const cpu = vm.cpus[a.vcpu as number];
        if (
          (msr === MSR_KVM_SYSTEM_TIME_NEW || msr === MSR_KVM_SYSTEM_TIME) && cpu.kvmclock !== null
        ) {
          // Host-initiated: the boot vCPU's choice of MSR stays as the guest left it.
          cpu.kvmclock.write(value, msr === MSR_KVM_SYSTEM_TIME, false);
          return 1;
        }
        if (pv !== null) unmodelledPvMsr(msr);
        if (msr === MSR_KVM_PV_EOI_EN && pv !== null) {
          return vm.cpus[a.vcpu as number].setPvEoiMsr(value) ? 1 : 0;
        }
        const tsc = cpu.tscRegs;
        if (msr === IA32_TSC_MSR && tsc !== null) {
          cpu.refuseTscChangeUnderKvmclock();
          // KVM_X86_QUIRK_TSC_HOST_ACCESS: kvm_synchronize_tsc, not the guest's rule.
          const matched = vm.tscSync.hostWriteTsc(
            tsc,
            cpu.hostScaledTsc(),
            vm.now(),
            vm.tscKhz(a.vcpu as number),
            value,
          );
          emit(
            vm,
            source,
            `kvm_synchronize_tsc: ${
              matched ? "matched the current generation" : "a new generation"
            }, offset 0x${tsc.offset.toString(16)}`,
          );
          return 1;
        }
        if (msr === IA32_TSC_ADJUST_MSR && tsc !== null) {
          // Host-initiated: the register only, the TSC does not move.
          tsc.adjust = BigInt.asUintN(64, value);
          return 1;
        }
        if (msr === HV_MSR.VP_INDEX) {
          return hypervVcpu(vm, a.vcpu as number).setVpIndex(value) ? 1 : 0;
        }
        if (
          isPartitionMsr(msr) || msr === HV_MSR.VP_ASSIST_PAGE || isFrequencyMsr(msr) ||
          msr === HV_MSR.VP_RUNTIME
        ) {
          hypervVcpu(vm, a.vcpu as number);
          return vm.cpus[a.vcpu as number].hypervHostWrmsr(msr, value) ? 1 : 0;
        }
        if (isHypervMsr(msr)) {
          throw new CommandInputError(
            `a VMM write of Hyper-V MSR 0x${msr.toString(16)} is not modelled (only ` +
              "HV_X64_MSR_VP_INDEX, the partition-wide ones, the VP assist page and the " +
              "frequency MSRs are)",
          );
        }
        if (isMceMsr(msr)) {
          return vm.cpus[a.vcpu as number].mce.wrmsr(msr, value, true) === null ? 1 : 0;
        }
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
      {
        name: "kvm_features",
        type: { kind: "int", min: -1, max: 0xffff_ffff, what: "KVM_CPUID_FEATURES.EAX" },
        doc: "KVM_CPUID_FEATURES (0x40000001) EAX, the KVM_FEATURE_* bits (pv_cpuid.features, " +
          "kvm_update_pv_runtime); -1 (the default) keeps the vCPU's, which start as " +
          "KVM_GET_SUPPORTED_CPUID's KVM_SUPPORTED_PV_FEATURES; 0 is the selftests' " +
          "vcpu_clear_cpuid_entry",
        default: -1,
      },
      ...HV_CPUID_PARAMS,
    ],
    returns: "0, or -EINVAL for a change after the vCPU ran",
    run: (vm, _c, a) => {
      const cpu = a.vcpu as number;
      const hv: Partial<HvCpuidCache> = {};
      for (const p of HV_CPUID_PARAMS) {
        const v = a[p.name] as number;
        if (v !== -1) hv[p.name.slice(3) as keyof HvCpuidCache] = v >>> 0;
      }
      const hvVcpu = Object.keys(hv).length > 0 ? hypervVcpu(vm, cpu) : null;
      // kvm_cpuid_check_equal: after KVM_RUN the Hyper-V leaves may not change either.
      if (
        hvVcpu !== null && vm.cpus[cpu].hasRun &&
        Object.entries(hv).some(([k, v]) => hvVcpu.cpuidCache[k as keyof HvCpuidCache] !== v)
      ) return -EINVAL;
      const r = vm.setCpuid(cpu, {
        x2apic: a.x2apic === 1,
        tscDeadline: a.tsc_deadline === 1,
        kvmFeatures: a.kvm_features === -1 ? undefined : a.kvm_features as number,
      });
      // kvm_hv_set_cpuid: the cache follows the leaves.
      if (r === 0 && hvVcpu !== null) Object.assign(hvVcpu.cpuidCache, hv);
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm enable_vcpu_cap",
    backend: "KVM_ENABLE_CAP vcpu",
    doc: "KVM_ENABLE_CAP on a vCPU's fd (kvm_vcpu_ioctl_enable_cap): " +
      "KVM_CAP_ENFORCE_PV_FEATURE_CPUID (190) sets pv_cpuid.enforce to arg != 0 at any time: " +
      "then each KVM PV MSR #GPs (and KVM_GET/SET_MSRS stop at it) and KVM_HC_KICK_CPU, " +
      "KVM_HC_SEND_IPI and KVM_HC_SCHED_YIELD return -KVM_ENOSYS unless the vCPU's " +
      "KVM_CPUID_FEATURES has the feature bit; KVM_CAP_HYPERV_ENFORCE_CPUID (199) sets the " +
      "Hyper-V vCPU's enforce_cpuid: then each Hyper-V MSR #GPs for the guest and each " +
      "hypercall is HV_STATUS_ACCESS_DENIED unless the vCPU's Hyper-V CPUID (kvm set_cpuid2 " +
      "hv_*) has its bit; flags != 0 is -EINVAL",
    params: [
      VCPU,
      {
        name: "cap",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a KVM_CAP_* number" },
        doc: "KVM_CAP_ENFORCE_PV_FEATURE_CPUID (190)",
      },
      { name: "arg", type: { kind: "u64" }, doc: "args[0]", default: 0 },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "struct kvm_enable_cap flags" },
        doc: "must be 0",
        default: 0,
      },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      if (a.cap !== KVM_CAP_ENFORCE_PV_FEATURE_CPUID && a.cap !== KVM_CAP_HYPERV_ENFORCE_CPUID) {
        throw new CommandInputError(
          `KVM_ENABLE_CAP ${a.cap} on a vCPU: the model knows KVM_CAP_ENFORCE_PV_FEATURE_CPUID ` +
            `(${KVM_CAP_ENFORCE_PV_FEATURE_CPUID}) and KVM_CAP_HYPERV_ENFORCE_CPUID ` +
            `(${KVM_CAP_HYPERV_ENFORCE_CPUID})`,
        );
      }
      // kvm_vcpu_ioctl_enable_cap: flags are refused before any capability is looked at.
      if (a.flags !== 0) return -EINVAL;
      const on = BigInt(a.arg as bigint) !== 0n;
      if (a.cap === KVM_CAP_HYPERV_ENFORCE_CPUID) {
        // kvm_hv_set_enforce_cpuid: the vCPU's Hyper-V state holds the flag.
        hypervVcpu(vm, a.vcpu as number).enforceCpuid = on;
      } else vm.setPvEnforce(a.vcpu as number, on);
      emit(vm, source, `KVM_ENABLE_CAP vcpu${a.vcpu} ${a.cap} args[0] ${a.arg}: 0`);
      return 0;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_tsc_khz",
    backend: "KVM_SET_TSC_KHZ",
    doc: "KVM_SET_TSC_KHZ on a vCPU (kvm_arch_vcpu_ioctl, kvm_set_tsc_khz, set_tsc_khz; an " +
      `Intel host with TSC scaling and a ${HOST_TSC_KHZ} kHz TSC): -EINVAL from ` +
      `${MAX_GUEST_TSC_KHZ} (max_guest_tsc_khz) up; 0 is the host's rate. KVM_GET_TSC_KHZ, ` +
      "HV_X64_MSR_TSC_FREQUENCY and the TSC-deadline timer take the rate as asked; the TSC " +
      `itself is scaled (a 16.${TSC_RATIO_FRAC_BITS} ratio) unless the rate is within ` +
      `${TSC_TOLERANCE_PPM} ppm of the host's (then it runs at the host's). KVM changes the ratio, ` +
      "not the TSC offset: the TSC jumps to the new rate's reading. The vm setting tsc_khz is " +
      "the VM-wide call made before the vCPUs",
    params: [
      VCPU,
      {
        name: "khz",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a rate in kHz" },
        doc: "the TSC rate in kHz",
      },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a) => vm.setTscKhz(a.vcpu as number, a.khz as number),
  },
  {
    actor: "vmm",
    name: "kvm get_tsc_khz",
    backend: "KVM_GET_TSC_KHZ",
    doc: "KVM_GET_TSC_KHZ on a vCPU: its virtual_tsc_khz, the rate KVM_SET_TSC_KHZ or the vm " +
      `setting tsc_khz gave (${HOST_TSC_KHZ}, the host's, unless set)`,
    params: [VCPU],
    returns: "the rate in kHz",
    run: (vm, _c, a) => vm.tscKhz(a.vcpu as number),
  },
  {
    actor: "vmm",
    name: "kvm set_mp_state",
    backend: "KVM_SET_MP_STATE",
    doc: "KVM_SET_MP_STATE: RUNNABLE, UNINITIALIZED, INIT_RECEIVED, HALTED or SIPI_RECEIVED " +
      "(which becomes INIT_RECEIVED with a SIPI pending, at the vector of the last SIPI or of " +
      "KVM_SET_VCPU_EVENTS' sipi_vector); without an in-kernel LAPIC only " +
      "RUNNABLE",
    params: [VCPU, {
      name: "state",
      type: { kind: "int", min: 0, max: 255, what: "an MP state" },
      doc: "KVM_MP_STATE_*",
    }],
    returns: "0 or -EINVAL",
    run: (vm, _c, a) => {
      const c = vm.cpus[a.vcpu as number];
      // SIPI_RECEIVED starts the vCPU at apic->sipi_vector: the last SIPI's, or KVM_SET_VCPU_EVENTS'.
      const r = c.setMpState(a.state as number, c.lapic.lastSipiVector);
      // kvm_arch_vcpu_ioctl_set_mpstate ends with KVM_REQ_EVENT.
      if (r === 0) c.eventRequested();
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_vcpu_events",
    backend: "KVM_SET_VCPU_EVENTS",
    doc: "KVM_SET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_set_vcpu_events): interrupt_injected/nr " +
      "(re-injected at the next entry whatever IF says), interrupt_shadow under " +
      "KVM_VCPUEVENT_VALID_SHADOW, nmi_pending under VALID_NMI_PENDING (the default flags), " +
      "nmi_masked always, sipi_vector under VALID_SIPI_VECTOR (what SIPI_RECEIVED starts at), " +
      "smi_latched_init under VALID_SMM, exception_injected/nr/has_error_code/error_code " +
      "(delivered at the next entry, through the IDT gate like any exception: a vcpuN handler " +
      "for the vector runs), exception_pending under VALID_PAYLOAD; -EINVAL for unknown flags, " +
      "VALID_PAYLOAD without KVM_CAP_EXCEPTION_PAYLOAD, VALID_TRIPLE_FAULT (capability not " +
      "enabled), an exception vector > 31 or 2",
    params: [
      VCPU,
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "KVM_VCPUEVENT_VALID_* flags" },
        doc: "KVM_VCPUEVENT_VALID_NMI_PENDING 1, SIPI_VECTOR 2, SHADOW 4, SMM 8, PAYLOAD 16, " +
          "TRIPLE_FAULT 32",
        default: 1,
      },
      { name: "nmi_pending", type: U8, doc: "NMIs pending (VALID_NMI_PENDING)", default: 0 },
      { name: "nmi_masked", type: { kind: "bool" }, doc: "NMIs blocked", default: 0 },
      { name: "nmi_injected", type: { kind: "bool" }, doc: "an NMI mid-injection", default: 0 },
      {
        name: "interrupt_injected",
        type: { kind: "bool" },
        doc: "a vector mid-injection",
        default: 0,
      },
      { name: "interrupt_nr", type: U8, doc: "its vector", default: 0 },
      { name: "interrupt_soft", type: { kind: "bool" }, doc: "it is an INT n", default: 0 },
      {
        name: "interrupt_shadow",
        type: { kind: "int", min: 0, max: 3, what: "KVM_X86_SHADOW_INT_* bits" },
        doc: "KVM_X86_SHADOW_INT_MOV_SS 1, KVM_X86_SHADOW_INT_STI 2 (VALID_SHADOW)",
        default: 0,
      },
      {
        name: "exception_injected",
        type: { kind: "bool" },
        doc: "an exception, delivered at the next entry before anything else",
        default: 0,
      },
      { name: "exception_nr", type: U8, doc: "its vector", default: 0 },
      {
        name: "exception_has_error_code",
        type: { kind: "bool" },
        doc: `it pushes an error code (as the vector must: ${ERROR_CODE_VECTORS})`,
        default: 0,
      },
      {
        name: "exception_error_code",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "an error code" },
        doc: "the error code",
        default: 0,
      },
      {
        name: "exception_pending",
        type: { kind: "bool" },
        doc: "pending, not injected (read only under VALID_PAYLOAD)",
        default: 0,
      },
      {
        name: "exception_has_payload",
        type: { kind: "bool" },
        doc: "a payload (CR2, DR6) comes with it (VALID_PAYLOAD; refused: not modelled)",
        default: 0,
      },
      { name: "sipi_vector", type: U8, doc: "the SIPI vector (VALID_SIPI_VECTOR)", default: 0 },
      { name: "smi_smm", type: { kind: "bool" }, doc: "in SMM (VALID_SMM)", default: 0 },
      {
        name: "smi_pending",
        type: { kind: "bool" },
        doc: "an SMI pending (VALID_SMM)",
        default: 0,
      },
      {
        name: "smi_smm_inside_nmi",
        type: { kind: "bool" },
        doc: "SMM entered from an NMI handler (VALID_SMM)",
        default: 0,
      },
      {
        name: "smi_latched_init",
        type: { kind: "bool" },
        doc: "an INIT latched (VALID_SMM): KVM_APIC_INIT set or cleared",
        default: 0,
      },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      const id = emit(
        vm,
        source,
        `KVM_SET_VCPU_EVENTS vcpu${a.vcpu} flags 0x${(a.flags as number).toString(16)}`,
      );
      return vm.trace.within(id, () => {
        const r = setEvents(vm, a.vcpu as number, a);
        // kvm_vcpu_ioctl_x86_set_vcpu_events ends with KVM_REQ_EVENT.
        if (r === 0) vm.cpus[a.vcpu as number].eventRequested();
        return r;
      });
    },
  },
  {
    actor: "vmm",
    name: "kvm get_vcpu_events",
    backend: "KVM_GET_VCPU_EVENTS",
    doc: "KVM_GET_VCPU_EVENTS (kvm_vcpu_ioctl_x86_get_vcpu_events): one field of struct " +
      "kvm_vcpu_events; nmi_pending after process_nmi, interrupt_shadow as VMX reports it, " +
      "sipi_vector 0 (never reported), flags NMI_PENDING|SHADOW|SMM",
    params: [VCPU, {
      name: "field",
      type: { kind: "enum", values: [...VCPU_EVENT_FIELDS] },
      doc: "the struct kvm_vcpu_events field (exception_*, interrupt_*, nmi_*, smi_*, flags)",
    }],
    returns: "the field's value",
    run: (vm, _c, a) => getEvent(vm, a.vcpu as number, a.field as string),
  },
  {
    actor: "vmm",
    name: "kvm enable_cap",
    backend: "KVM_ENABLE_CAP",
    doc: "KVM_ENABLE_CAP on the VM (kvm_vm_ioctl_enable_cap), after the vm's vCPUs exist: " +
      "KVM_CAP_DISABLE_QUIRKS2 / KVM_CAP_DISABLE_QUIRKS turn KVM_X86_QUIRK_FIX_HYPERCALL_INSN " +
      "off for good (lib/x86/kvm_quirks.ts; the other quirks are not modelled); " +
      "KVM_CAP_X86_APIC_BUS_CYCLES_NS is -EINVAL (-ENXIO without an in-kernel irqchip); " +
      "KVM_CAP_SPLIT_IRQCHIP is -EINVAL above 4096 pins, else -EEXIST (an irqchip or vCPUs " +
      "exist: use 'irqchip split' and 'split_pins'); KVM_CAP_X2APIC_API is -EINVAL for unknown " +
      "flags (beyond 0xf), for suppress-EOI-broadcast ENABLE|DISABLE (4|8) or ENABLE without " +
      "a split irqchip; 4 or 8 sets the suppress-EOI-broadcast mode (the next EOI obeys it, " +
      "Version bit 24 follows at the next KVM_SET_CPUID2 or INIT: kvm_apic_set_version); 1 and 2 " +
      "stay set for good (KVM's APIC map takes 32-bit IDs at its next recalculation); " +
      "flags != 0 is -EINVAL",
    params: [
      {
        name: "cap",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a KVM_CAP_* number" },
        doc: "KVM_CAP_SPLIT_IRQCHIP (121), KVM_CAP_X2APIC_API (129), " +
          "KVM_CAP_X86_APIC_BUS_CYCLES_NS (237), KVM_CAP_DISABLE_QUIRKS2 (213), ...",
      },
      {
        name: "arg",
        type: { kind: "u64" },
        doc: "args[0]: the pin count, the flags, or the quirks",
        default: 0,
      },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "struct kvm_enable_cap flags" },
        doc: "must be 0",
        default: 0,
      },
    ],
    returns: "0, -EINVAL, -EEXIST or -ENXIO",
    run: (vm, _c, a, source) => {
      const r = enableCap(vm, a.cap as number, BigInt(a.arg as bigint), a.flags as number);
      emit(vm, source, `KVM_ENABLE_CAP ${a.cap} args[0] ${a.arg}: ${r}`);
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm check_extension",
    backend: "KVM_CHECK_EXTENSION",
    doc: "KVM_CHECK_EXTENSION (kvm_vm_ioctl_check_extension_generic, then x86's " +
      "kvm_vm_ioctl_check_extension) on /dev/kvm (scope=system) or on the vm's fd (scope=vm): " +
      "0 if the release the 'kvm_caps' setting names lacks the capability, else its value " +
      "(KVM_CAP_IRQ_ROUTING the routing table's size, KVM_CAP_X2APIC_API the flags offered, " +
      "KVM_CAP_X86_APIC_BUS_CYCLES_NS 1 on /dev/kvm and, newest, the vm's bus cycle on its fd); " +
      "only the interrupt capabilities the model has are listed",
    params: [
      {
        name: "cap",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a KVM_CAP_* number" },
        doc: "the capability (KVM_CAP_IRQFD, KVM_CAP_X2APIC_API, ...)",
      },
      {
        name: "scope",
        type: { kind: "enum", values: ["vm", "system"] },
        doc: "system: the ioctl on /dev/kvm; vm: on the vm's fd (KVM_CAP_CHECK_EXTENSION_VM)",
        default: "vm",
      },
    ],
    returns: "the capability's value, 0 if absent",
    run: (vm, _c, a, source) => {
      const r = capAnswer(vm, a.cap as number, a.scope as CapScope);
      emit(vm, source, `KVM_CHECK_EXTENSION ${a.cap} on ${a.scope}: ${r}`);
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm get_clock",
    backend: "KVM_GET_CLOCK",
    doc: "KVM_GET_CLOCK (kvm_vm_ioctl_get_clock -> __get_kvmclock): one field of struct " +
      "kvm_clock_data. clock: the VM's kvmclock in ns (the model's time since the VM was " +
      "built). With 'kvm_master_clock 1', flags KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | " +
      "KVM_CLOCK_HOST_TSC and realtime the host's CLOCK_REALTIME in ns, which in the model is " +
      "the wall time at the VM's creation (the kvm-xen setting kvm_wallclock, else 0) plus " +
      "the time since (KVM_SET_CLOCK moves the clock, not it); " +
      "without the master clock (or while vCPU 0 runs the old kvmclock, MSR_KVM_SYSTEM_TIME), " +
      "flags 0 and realtime 0 (not filled)",
    params: [{
      name: "field",
      type: { kind: "enum", values: ["clock", "flags", "realtime"] },
      doc: "the struct kvm_clock_data field (host_tsc is not modelled)",
    }],
    returns: "the field's value",
    run: (vm, _c, a) => {
      const clock = vm.kvmclockNs();
      if (a.field === "clock") return clock;
      const master = vm.masterClock();
      if (a.field === "flags") {
        return master ? C.KVM_CLOCK_TSC_STABLE | C.KVM_CLOCK_REALTIME | C.KVM_CLOCK_HOST_TSC : 0;
      }
      if (!master) return 0;
      return toInt(vm.hostRealtimeNs());
    },
  },
  {
    actor: "vmm",
    name: "rdtsc",
    backend: "host rdtsc",
    doc: "RDTSC in the VMM process: the host's TSC, the model's time since the VM was made at " +
      "1 GHz, which each vCPU's TSC scales and offsets (lib/x86/tsc.ts)",
    params: [],
    returns: "the host's TSC",
    run: (vm) => toInt(BigInt(Math.floor(vm.now()))),
  },
  {
    actor: "vmm",
    name: "kvm tsc_has_attr",
    backend: "KVM_TSC_ATTR",
    doc: "KVM_HAS_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, attr) on a vCPU (kvm_arch_tsc_has_attr): 0 for " +
      "KVM_VCPU_TSC_OFFSET, -ENXIO for others (KVM_VCPU_TSC_SCALE, with TSC scaling, is not " +
      "modelled)",
    params: [VCPU, TSC_ATTR],
    returns: "0 or -ENXIO",
    run: (vm, _c, a) => {
      tscOf(vm, a.vcpu as number);
      return a.attr === KVM_VCPU_TSC_OFFSET ? 0 : -ENXIO;
    },
  },
  {
    actor: "vmm",
    name: "kvm tsc_get_attr",
    backend: "KVM_TSC_ATTR",
    doc: "KVM_GET_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, attr) on a vCPU (kvm_arch_tsc_get_attr): " +
      "KVM_VCPU_TSC_OFFSET gives the vCPU's TSC offset (l1_tsc_offset, a u64); -ENXIO for others",
    params: [VCPU, TSC_ATTR],
    returns: "the offset, or -ENXIO",
    run: (vm, _c, a) => {
      const tsc = tscOf(vm, a.vcpu as number);
      return a.attr === KVM_VCPU_TSC_OFFSET ? toInt(tsc.offset) : -ENXIO;
    },
  },
  {
    actor: "vmm",
    name: "kvm tsc_set_attr",
    backend: "KVM_TSC_ATTR",
    doc: "KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, attr) on a vCPU (kvm_arch_tsc_set_attr): " +
      "KVM_VCPU_TSC_OFFSET sets the vCPU's TSC offset, its TSC reads the host's (scaled at " +
      "its KVM_SET_TSC_KHZ rate) plus it " +
      "(__kvm_synchronize_tsc; the same offset as the last one set matches the generation); " +
      "-ENXIO for others",
    params: [VCPU, TSC_ATTR, { name: "value", type: { kind: "u64" }, doc: "the offset" }],
    returns: "0 or -ENXIO",
    run: (vm, _c, a, source) => {
      const tsc = tscOf(vm, a.vcpu as number);
      if (a.attr !== KVM_VCPU_TSC_OFFSET) return -ENXIO;
      vm.cpus[a.vcpu as number].refuseTscChangeUnderKvmclock();
      const cpu = vm.cpus[a.vcpu as number];
      const matched = vm.tscSync.setOffset(
        tsc,
        cpu.hostScaledTsc(),
        vm.now(),
        vm.tscKhz(a.vcpu as number),
        a.value as bigint,
      );
      emit(
        vm,
        source,
        `KVM_SET_DEVICE_ATTR vcpu${a.vcpu} KVM_VCPU_TSC_OFFSET 0x${tsc.offset.toString(16)}` +
          (matched ? " (matched the generation)" : ""),
      );
      return 0;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_clock",
    backend: "KVM_SET_CLOCK",
    doc: "KVM_SET_CLOCK (kvm_vm_ioctl_set_clock): the VM's kvmclock reads `clock` ns from now " +
      "on (kvmclock_offset; the TSC does not move); with KVM_CLOCK_REALTIME in flags the host's " +
      "realtime past `realtime` is added first (never stepping back); a flag outside " +
      "KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC is -EINVAL. A SET Hyper-V " +
      "reference TSC page becomes HOST_CHANGED (kvm_hv_request_tsc_page_update) and is filled " +
      "again at the vCPUs' clock update, at once here, unless the guest turned TSC emulation on " +
      "(HV_X64_MSR_TSC_EMULATION_CONTROL, tsc_page_update_unsafe); HV_X64_MSR_TIME_REF_COUNT " +
      "follows the kvmclock while no page is SET. Not for a kvm-xen VM (its time records are " +
      "not moved)",
    params: [
      { name: "clock", type: { kind: "u64" }, doc: "struct kvm_clock_data.clock, ns" },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "KVM_CLOCK_* flags" },
        doc: "struct kvm_clock_data.flags",
        default: 0,
      },
      {
        name: "realtime",
        type: { kind: "u64" },
        doc: "struct kvm_clock_data.realtime, ns (read with KVM_CLOCK_REALTIME)",
        default: 0,
      },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      if (vm.xen !== undefined) {
        throw new CommandInputError(
          "KVM_SET_CLOCK on a Xen VM is not modelled (the Xen time records would not follow it)",
        );
      }
      const r = vm.setClock(a.clock as bigint, a.flags as number, a.realtime as bigint);
      emit(
        vm,
        source,
        `KVM_SET_CLOCK clock=${a.clock} flags=0x${(a.flags as number).toString(16)}: ${r}`,
      );
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_boot_cpu_id",
    backend: "KVM_SET_BOOT_CPU_ID",
    doc: "KVM_SET_BOOT_CPU_ID (kvm_arch_vm_ioctl) after the vm is built: -EBUSY, as KVM " +
      "answers once a vCPU exists (kvm->created_vcpus), before it looks at the ID; the " +
      "boot_cpu setting is this ioctl made before the vCPUs",
    params: [{
      name: "id",
      type: { kind: "u64" },
      doc: "the vCPU ID (the ioctl's argument, an unsigned long)",
    }],
    returns: "-EBUSY",
    run: (vm, _c, a, source) => {
      emit(vm, source, `KVM_SET_BOOT_CPU_ID ${a.id}: -EBUSY (vCPUs exist)`);
      return -EBUSY;
    },
  },
  {
    actor: "vmm",
    name: "kvm create_irqchip",
    backend: "KVM_CREATE_IRQCHIP",
    doc: "KVM_CREATE_IRQCHIP (kvm_arch_vm_ioctl) after the vm is built: -EEXIST with an " +
      "irqchip in the kernel (kernel or split), else -EINVAL (vCPUs exist): the irqchip " +
      "setting is this ioctl made before the vCPUs",
    params: [],
    returns: "-EEXIST or -EINVAL",
    run: (vm, _c, _a, source) => {
      const r = vm.irqchipInKernel ? -EEXIST : -EINVAL;
      emit(vm, source, `KVM_CREATE_IRQCHIP: ${r}`);
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm get_irqchip",
    backend: "KVM_GET_IRQCHIP",
    doc: "KVM_GET_IRQCHIP (kvm_vm_ioctl_get_irqchip): one field of struct kvm_pic_state " +
      "(chip pic_master/pic_slave) or kvm_ioapic_state (chip ioapic: irr is irr & " +
      "~irr_delivered, redirtbl[index] the raw 64-bit entry); -ENXIO unless 'irqchip kernel'",
    params: [
      ...IRQCHIP_SELECTOR,
    ],
    returns: "the field's value, or -ENXIO",
    run: (vm, _c, a) => {
      const field = a.field as string, chip = a.chip as string;
      const r = irqchipField(vm, chip, field, a.index as number);
      if (r < 0) return r;
      if (chip !== "ioapic") {
        return vm.pic!.kvmState(chip === "pic_master" ? 0 : 1)[field as keyof KvmPicState];
      }
      if (field === "base_address") {
        const b = vm.ioapic!.baseAddress;
        return toInt(b);
      }
      const st = ioapicState(vm);
      if (field !== "redirtbl") return st[field as "id" | "ioregsel" | "irr"];
      const v = st.redirtbl[a.index as number];
      return toInt(v);
    },
  },
  {
    actor: "vmm",
    name: "kvm set_irqchip",
    backend: "KVM_SET_IRQCHIP",
    doc: "KVM_GET_IRQCHIP, one field changed, KVM_SET_IRQCHIP (kvm_vm_ioctl_set_irqchip): a " +
      "PIC's state is copied in unchecked and INTR recomputed (kvm_pic_update_irq); the I/O " +
      "APIC's (kvm_set_ioapic) too, then every irr pin is raised again (an unmasked edge " +
      "entry sends at once); base_address takes any u64, but the MMIO device stays at " +
      "0xfec00000 (kvm_ioapic_init), so only that window's part at or above the new base " +
      "answers (ioapic_mmio_in_range); -ENXIO unless 'irqchip kernel'",
    params: [
      ...IRQCHIP_SELECTOR,
      { name: "value", type: { kind: "u64" }, doc: "the new value" },
    ],
    returns: "0 or -ENXIO",
    run: (vm, _c, a, source) => {
      const field = a.field as string, chip = a.chip as string;
      const r = irqchipField(vm, chip, field, a.index as number);
      const value = BigInt(a.value as bigint);
      const id = emit(
        vm,
        source,
        `KVM_SET_IRQCHIP ${chip} ${field}${field === "redirtbl" ? `[${a.index}]` : ""} <- 0x${
          value.toString(16)
        }: ${r}`,
      );
      if (r < 0) return r;
      return vm.trace.within(id, () => {
        if (chip !== "ioapic") {
          const n = chip === "pic_master" ? 0 : 1;
          if (value > 0xffn) throw new CommandInputError(`kvm_pic_state.${field} is a byte`);
          const st = vm.pic!.kvmState(n);
          st[field as keyof KvmPicState] = Number(value);
          if (field === "init_state" && value > 3n) {
            throw new CommandInputError("init_state is 0..3 (the ICW KVM expects next)");
          }
          if (field === "priority_add" && value > 7n) {
            throw new CommandInputError("priority_add is 0..7 (an IR level)");
          }
          vm.pic!.setKvmState(n, st);
          return 0;
        }
        const st = ioapicState(vm);
        // kvm_set_ioapic copies base_address in with the rest; the MMIO
        // device stays where kvm_ioapic_init registered it.
        if (field === "base_address") vm.ioapic!.baseAddress = BigInt.asUintN(64, value);
        else if (field === "redirtbl") st.redirtbl[a.index as number] = BigInt.asUintN(64, value);
        else if (value > 0xffff_ffffn) {
          throw new CommandInputError(`kvm_ioapic_state.${field} is 32 bits`);
        } else st[field as "id" | "ioregsel" | "irr"] = Number(value);
        vm.ioapic!.setKvmState(st);
        return 0;
      });
    },
  },
  {
    actor: "device",
    name: "signal",
    backend: "eventfd signal",
    doc: "write 1 to an eventfd, as vhost or VFIO does: the irqfds on it raise their GSIs " +
      "(irqfd_wakeup); with none, the count stays for the next KVM_IRQFD on it",
    params: [{ ...FD, positional: true }],
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) => {
      const id = vm.trace.enabled
        ? vm.trace.emit(source, "eventfd", `eventfd ${a.fd} signalled`)
        : 0;
      vm.trace.within(id, () => vm.irqfds.signal(a.fd as number));
    },
  },
]);

/**
 * A vCPU ioctl finds its vCPU outside the guest: it exited, and KVM's work
 * at that exit (`kvm_lapic_sync_from_vapic`: an armed PV EOI) is done
 * before the ioctl looks ({@link X86Cpu.syncFromGuest}).
 */
function outOfGuest(cmds: X86Command[]): X86Command[] {
  return cmds.map((c) => {
    if (!c.params.includes(VCPU)) return c;
    const run = c.run;
    return {
      ...c,
      run: (vm, cpu, a, source) => {
        vm.cpus[a.vcpu as number]?.syncFromGuest();
        return run(vm, cpu, a, source);
      },
    };
  });
}

/**
 * The state paths: `eventfd[N]`.
 *
 * @example
 * ```ts
 * VMM_IOCTL_STATE.map((s) => s.pattern); // ["eventfd[#]", "ioapic.irr"]
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
  {
    pattern: "ioapic.irr",
    type: { kind: "int", min: 0, max: 0xffff_ffff },
    doc: "the in-kernel I/O APIC's irr as KVM_GET_IRQCHIP gives it (kvm_get_ioapic: irr & " +
      "~irr_delivered): bit n while pin n's line is high on a level entry, or high after an " +
      "edge a masked entry held; 0 without one",
    get: (vm) => vm.ioapic?.kvmIrr() ?? 0,
  },
];

/** vCPU `n`'s Hyper-V state, which only a VM with the Hyper-V CPUID has. */
function hypervVcpu(vm: X86Vm, n: number): HvVcpu {
  const hv = vm.hyperv[n];
  if (hv === undefined) {
    throw new CommandInputError(
      "this vm has no Hyper-V state: give it 'hyperv_cpuid 1' (or 'hyperv_synic')",
    );
  }
  return hv;
}
