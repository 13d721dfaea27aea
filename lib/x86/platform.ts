/**
 * The x86 platform as the language sees it: the `vm` settings, the commands
 * each actor can issue, the readable state paths and the handler events.
 *
 * Everything here is a binding from a name to the model; the facts (register
 * offsets, bit positions, value names) come from the model modules' own
 * tables, so a field added to `lapic_registers.ts` or `RTE_FIELDS` is
 * writable and readable from scenarios without touching this file.
 *
 * The Xen tables of `lib/xen/platform.ts` are merged in for every VM, and
 * each entry carries a `requires` that the checker applies per VM: on a
 * `hypervisor kvm` VM a Xen command or path is a located check error naming
 * the setting to change. One merged table (rather than a table per
 * hypervisor) keeps `scn help` complete and lets "did you mean" draw on
 * every name.
 *
 * @module
 */
import { X86_ARCH, X86_HYPERVISORS } from "./arch.ts";
import { toInt } from "../core/values.ts";
import type {
  Args,
  FieldSpec,
  HandlerEventSpec,
  ParamSpec,
  RegisterFile,
  RegisterSpec,
  SettingSpec,
  StateSpec,
  Val,
} from "../core/table.ts";
import { OWN_FLAGS } from "../core/table.ts";
import { PLUMBING_UNLESS_XEN, type X86Command } from "./command.ts";
import { decodeMsr, decodeX86Msi, literal } from "./explain.ts";

import type { Platform } from "../core/platform.ts";
import { vectorsOf } from "../core/vector_set.ts";
import {
  type IrqchipMode,
  X2APIC_API_VALID_FLAGS,
  x2apicApiRefusal,
  X86Vm,
  XEN_VIOAPIC_PINS,
} from "./vm.ts";
import { GP_FAULT, UD_FAULT } from "./cpu.ts";
import type { PicSpecialMaskPolicy } from "./i8259.ts";
import { EXCEPTION_CONSTANTS } from "./exceptions.ts";
import { KVM_SYSTEM_EVENT, KvmExit, MpState } from "./kvm_run.ts";
import { ApicBaseBit, X2APIC_MSR_BASE } from "./lapic_registers.ts";
import {
  ICR_HIGH_FIELDS,
  ICR_LOW_FIELDS,
  LAPIC_REGISTERS,
  type LapicRegister,
  lapicRegisterByName,
} from "./lapic_registers.ts";
import { type Ioapic, IoapicIndex, IoapicMmio, RTE_FIELDS } from "./ioapic.ts";
import { QEMU_IOAPIC_PINS, QEMU_IRQ0_PIN, type QemuIoapic } from "./qemu_ioapic.ts";
import { HOST_TSC_KHZ, MAX_GUEST_TSC_KHZ, TSC_TOLERANCE_PPM } from "./guest_tsc.ts";
import {
  type BitField,
  decodeField,
  indexFields,
  joinWords,
  setField,
  splitWords,
} from "../core/bitfield.ts";
import { EBUSY, EEXIST, EINVAL, ENXIO } from "./errno.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { KVM_IOAPIC_NUM_PINS, KVM_MAX_IRQ_ROUTES, type RoutingEntry } from "./kvm_routing.ts";
import { kvmXenOnlyPath, XEN_CONSTANTS, xenCommands, xenState } from "../xen/platform.ts";
import { KVM_XEN_PRIO_2LEVEL } from "../xen/abi.ts";
import { ACCESS_SIZES, guestMemoryCommands, guestMemoryState } from "../core/guest_memory.ts";
import { mmioRead, mmioTarget, mmioWrite, userspaceMmio } from "./guest_mmio.ts";
import { VMM_IOCTL_COMMANDS, VMM_IOCTL_CONSTANTS, VMM_IOCTL_STATE } from "./vmm_ioctls.ts";
import { MCE_COMMANDS, MCE_CONSTANTS } from "./mce_commands.ts";
import { CPUID_COMMANDS } from "./cpuid.ts";
import {
  checkExtension,
  KVM_CAP_NUMBERS,
  KVM_CAPS_RELEASES,
  KVM_MAX_VCPU_IDS,
  type KvmCapsRelease,
} from "./kvm_caps.ts";
import { HYPERV_COMMANDS, HYPERV_CONSTANTS, HYPERV_STATE } from "./hyperv_commands.ts";
import { KVM_HYPERCALL_COMMANDS, KVM_HYPERCALL_CONSTANTS } from "./kvm_hypercall.ts";
import { type HostCpu, KVM_QUIRK_CONSTANTS } from "./kvm_quirks.ts";
import { TSC_CONSTANTS } from "./tsc.ts";
import { MSR_KVM_PV_EOI_EN } from "./kvm_pv_eoi.ts";

type Cmd = X86Command;
type State = StateSpec<X86Vm>;

const VECTOR = { kind: "int", min: 0, max: 255, what: "a vector" } as const;
const U32 = { kind: "int", min: 0, max: 0xffff_ffff, what: "a 32-bit value" } as const;
const GSI = { kind: "int", min: 0, max: 0xffff_ffff, what: "a GSI" } as const;
const LEVEL = { kind: "int", min: 0, max: 1, what: "a line level" } as const;
/**
 * The most IOAPIC pins any VM has: Xen's 48-pin vIOAPIC. The checker uses
 * the VM's own count (`countFor`); a variable index past it is refused
 * when the access runs.
 */
const IOAPIC_PINS = XEN_VIOAPIC_PINS;

// ---- register files ---------------------------------------------------------

/** LAPIC registers by name (`lapic.lvt0`), straight from the LAPIC register table. */
export const LAPIC_FILE: RegisterFile = {
  prefix: "lapic",
  registers: LAPIC_REGISTERS.filter((r) => r.width === 32).map((r): RegisterSpec => ({
    name: r.name,
    title: r.specName,
    width: 32,
    fields: r.fields ?? [],
    readonly: r.access === "ro",
    writeonly: r.access === "wo",
    doc: r.doc,
  })),
};

/**
 * IOAPIC registers by name: the indirect ones (`ioapic.id`, `ioapic.arb`,
 * `ioapic.redtbl[14]`), reached through IOREGSEL/IOWIN, and the MMIO ones
 * themselves (`ioapic.ioregsel`, `ioapic.iowin`, `ioapic.eoi`), for raw
 * access to any index, past the last pin included.
 */
export const IOAPIC_FILE: RegisterFile = {
  prefix: "ioapic",
  registers: [
    {
      name: "id",
      title: "IOAPICID",
      width: 32,
      fields: [{ name: "apic_id", lsb: 24, width: 4, doc: "I/O APIC ID" }],
      doc: "I/O APIC identification (bits 27:24)",
    },
    {
      name: "version",
      title: "IOAPICVER",
      width: 32,
      fields: [
        { name: "version", lsb: 0, width: 8, doc: "0x11 (KVM) or 0x20 (with the EOI register)" },
        { name: "max_redirection_entry", lsb: 16, width: 8, doc: "number of pins minus 1" },
      ],
      readonly: true,
      doc: "I/O APIC version",
    },
    {
      name: "arb",
      title: "IOAPICARB",
      width: 32,
      fields: [{ name: "arbitration_id", lsb: 24, width: 4, doc: "bus arbitration ID" }],
      readonly: true,
      doc: "I/O APIC arbitration (KVM's ioapic_read_indirect answers the ID here)",
    },
    {
      name: "ioregsel",
      title: "IOREGSEL",
      width: 32,
      fields: [{ name: "index", lsb: 0, width: 8, doc: "the indirect register IOWIN reaches" }],
      doc: "MMIO +0x00: selects the register IOWIN reads and writes (8 bits kept)",
    },
    {
      name: "iowin",
      title: "IOWIN",
      width: 32,
      fields: [],
      doc: "MMIO +0x10: the selected register; an index past the last pin reads 0xffffffff (KVM)",
    },
    {
      name: "eoi",
      title: "EOI",
      width: 32,
      fields: [{ name: "vector", lsb: 0, width: 8, doc: "the vector EOI'd" }],
      writeonly: true,
      doc: "MMIO +0x40: on a version 0x20 I/O APIC, clears remote IRR of the entries with this " +
        "vector; ignored by KVM's 0x11",
    },
    {
      name: "redtbl",
      title: "IOREDTBL",
      width: 64,
      count: IOAPIC_PINS,
      countFor: (s) => (s.hypervisor === "xen" ? XEN_VIOAPIC_PINS : KVM_IOAPIC_NUM_PINS),
      fields: RTE_FIELDS,
      doc: "redirection table entry of a pin (written high dword first, then low)",
    },
  ],
};

const INDIRECT_INDEX: Record<string, number> = {
  id: IoapicIndex.IOAPICID,
  version: IoapicIndex.IOAPICVER,
  arb: IoapicIndex.IOAPICARB,
};

/** The IOAPIC registers that are MMIO registers themselves, by their offset from the base. */
const IOAPIC_MMIO_OFFSET: Record<string, number> = {
  ioregsel: IoapicMmio.IOREGSEL,
  iowin: IoapicMmio.IOWIN,
  eoi: IoapicMmio.EOI,
};

function lapicRegister(name: string): LapicRegister {
  // By map, not by `find`: every EOI command comes here.
  return lapicRegisterByName(name)!;
}

/**
 * Builds a register value from a raw value or from fields (unnamed fields
 * are 0). The checker range-checks literal field values; a variable's value
 * is truncated to the field's width, as a hardware write would.
 */
function composeValue(args: Args): bigint {
  const a = args.$register!;
  if (a.raw !== undefined) return a.raw;
  let v = 0n;
  for (const [f, n] of a.fields) v = setField(f, v, Number(BigInt.asUintN(f.width, BigInt(n))));
  return v;
}

function writeRegister(vm: X86Vm, cpu: number, args: Args): void {
  const a = args.$register!;
  const value = composeValue(args);
  const trace = vm.trace;
  const source = `vcpu${cpu}`;
  if (trace.enabled) {
    trace.emit(
      source,
      "write",
      `${describeAccess(a.register, a.index)} <- 0x${value.toString(16)}`,
    );
  }
  const id = trace.events.length;
  trace.open(id);
  try {
    if (LAPIC_FILE.registers.includes(a.register)) {
      needKernelLapic(vm);
      vm.cpus[cpu].lapic.write(lapicRegister(a.register.name).offset, Number(value & 0xffff_ffffn));
      return;
    }
    noPvIoapic(vm);
    const io = ioapicOf(vm, cpu);
    if (!io) {
      if (trace.enabled) {
        trace.emit(
          source,
          "write.ignored",
          vm.config.xenDomain === "pvh"
            ? "a PVH domain has no vIOAPIC: Xen's null handler drops the write"
            : "no in-kernel IOAPIC in this irqchip mode",
        );
      }
      return;
    }
    if (a.register.name === "redtbl") {
      checkPin(io.pins, a.index);
      const w = splitWords(value);
      io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index + 1);
      io.write(IoapicMmio.IOWIN, w.high);
      io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index);
      io.write(IoapicMmio.IOWIN, w.low);
      return;
    }
    const mmio = IOAPIC_MMIO_OFFSET[a.register.name];
    if (mmio !== undefined) {
      io.write(mmio, Number(value & 0xffff_ffffn));
      return;
    }
    io.write(IoapicMmio.IOREGSEL, INDIRECT_INDEX[a.register.name]);
    io.write(IoapicMmio.IOWIN, Number(value & 0xffff_ffffn));
  } finally {
    trace.close(id);
  }
}

/**
 * Writes a LAPIC register the way the guest's mode allows: MMIO in xAPIC
 * mode, WRMSR of 0x800 + offset/16 in x2APIC mode (where MMIO is a hole).
 * A #GP is traced by the vCPU.
 */
function lapicWrite(vm: X86Vm, cpu: number, name: string, value: number): void {
  lapicWriteAt(vm, cpu, lapicRegister(name), value);
}

/** {@link lapicWrite} of a register already looked up. */
function lapicWriteAt(vm: X86Vm, cpu: number, reg: LapicRegister, value: number): void {
  const c = vm.cpus[cpu];
  const offset = reg.offset;
  if (c.lapic.x2apicMode) c.wrmsr(X2APIC_MSR_BASE + (offset >> 4), BigInt(value));
  else c.lapic.write(offset, value);
}

/** The `size` parameter of an arithmetic instruction; {@link operandSize} refuses the rest. */
const OPERAND_SIZE: ParamSpec = {
  name: "size",
  type: { kind: "int", min: 8, max: 64, what: "an operand size (8, 16, 32, 64)" },
  doc: "operand size in bits",
  default: 32,
};

/**
 * Without an in-kernel irqchip a LAPIC access is an MMIO exit to a
 * userspace APIC, which irqlab does not model: refused as bad input.
 */
function needKernelLapic(vm: X86Vm): void {
  if (vm.config.xenDomain === "pv") throw new CommandInputError(`this register ${NO_PV_LAPIC}`);
  if (!vm.irqchipInKernel) {
    throw new CommandInputError(
      "this vm has no in-kernel LAPIC ('irqchip userspace'): its registers are userspace's",
    );
  }
}

function checkPin(pins: number, pin: number): void {
  if (pin >= pins) {
    throw new CommandInputError(`this vm's IOAPIC has ${pins} pins: there is no redtbl[${pin}]`);
  }
}

function readRegister(vm: X86Vm, cpu: number, args: Args): Val {
  const a = args.$register!;
  if (LAPIC_FILE.registers.includes(a.register)) {
    needKernelLapic(vm);
    return vm.cpus[cpu].lapic.read(lapicRegister(a.register.name).offset);
  }
  noPvIoapic(vm);
  const io = ioapicOf(vm, cpu);
  // Nothing answers (a Xen PVH domain's null handler; no in-kernel IOAPIC):
  // every 32-bit read is all ones, and an IOREDTBL entry takes two.
  if (!io) return a.register.name === "redtbl" ? joinWords(0xffff_ffff, 0xffff_ffff) : 0xffff_ffff;
  if (a.register.name === "redtbl") {
    checkPin(io.pins, a.index);
    io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index + 1);
    const hi = io.read(IoapicMmio.IOWIN);
    io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index);
    const lo = io.read(IoapicMmio.IOWIN);
    return joinWords(lo, hi);
  }
  const mmio = IOAPIC_MMIO_OFFSET[a.register.name];
  if (mmio !== undefined) return io.read(mmio);
  io.write(IoapicMmio.IOREGSEL, INDIRECT_INDEX[a.register.name]);
  return io.read(IoapicMmio.IOWIN);
}

/**
 * The I/O APIC a vCPU's access at 0xfec00000 reaches: KVM's in-kernel one,
 * or QEMU's under a split irqchip, which each access reaches through a
 * KVM_EXIT_MMIO (recorded here; QEMU answers before the next KVM_RUN).
 */
function ioapicOf(vm: X86Vm, cpu: number): Ioapic | QemuIoapic | null {
  if (vm.ioapic !== null) return vm.ioapic;
  const q = vm.qemuIoapic;
  if (q !== null) vm.cpus[cpu].run.exit(KvmExit.Mmio, "KVM_EXIT_MMIO at the I/O APIC: QEMU's");
  return q;
}

function describeAccess(r: RegisterSpec, index: number): string {
  const file = LAPIC_FILE.registers.includes(r) ? LAPIC_FILE.prefix : IOAPIC_FILE.prefix;
  return r.count !== undefined ? `${file}.${r.name}[${index}]` : `${file}.${r.name}`;
}

// ---- commands -----------------------------------------------------------------

const REGISTER: ParamSpec = {
  name: "register",
  type: { kind: "register", files: [LAPIC_FILE, IOAPIC_FILE] },
  doc: "lapic.<name> or ioapic.<name>[n]",
};

function emit(vm: X86Vm, source: string, kind: string, text: string): void {
  if (vm.trace.enabled) vm.trace.emit(source, kind, text);
}

/**
 * Runs `fn` with a root trace event for the action as the cause of what
 * follows. A `text` function is called only when the trace is on, so an
 * untraced run builds no text.
 */
function acting<T>(
  vm: X86Vm,
  source: string,
  kind: string,
  text: string | (() => string),
  fn: () => T,
): T {
  if (!vm.trace.enabled) return fn();
  const id = vm.trace.emit(source, kind, typeof text === "string" ? text : text());
  return vm.trace.within(id, fn);
}

/**
 * {@link acting} for the commands a round trip runs (an MSI, an EOI): `fn`
 * and `text` take the command's VM, vCPU and arguments instead of closing
 * over them, so that an untraced run creates no closure per command.
 */
function actingOn<T>(
  vm: X86Vm,
  cpu: number,
  a: Args,
  source: string,
  kind: string,
  text: string | ((a: Args) => string),
  fn: (vm: X86Vm, cpu: number, a: Args) => T,
): T {
  if (!vm.trace.enabled) return fn(vm, cpu, a);
  const id = vm.trace.emit(source, kind, typeof text === "string" ? text : text(a));
  return vm.trace.within(id, () => fn(vm, cpu, a));
}

const signalMsiText = (a: Args) => `KVM_SIGNAL_MSI address ${hex(a.address)} data ${hex(a.data)}`;
// As 32-bit ints (`| 0`: the same bits, and the decoding reads only bits), so that an
// address above 2^31 is not boxed into a new heap number at each call V8 does not inline.
const signalMsi = (vm: X86Vm, _cpu: number, a: Args) =>
  vm.signalMsi((a.address as number) | 0, (a.address_hi as number) | 0, (a.data as number) | 0);
// A device's MSI: functions of the arguments, not closures made per command (`scn explore`
// runs a device's step once per order).
const deviceMsiText = (a: Args) => `MSI address ${hex(a.address)} data ${hex(a.data)}`;
const deviceMsi = (vm: X86Vm, _cpu: number, a: Args) =>
  vm.signalMsi(a.address as number, a.address_hi as number, a.data as number);
/** EOI's x2APIC MSR. */
const EOI_MSR = X2APIC_MSR_BASE + (lapicRegister("eoi").offset >> 4);
/** {@link lapicWrite} of 0 to EOI, apart from other registers' writes (see Lapic.writeEoi). */
const writeEoi = (vm: X86Vm, cpu: number) => {
  const c = vm.cpus[cpu];
  if (c.lapic.x2apicMode) c.wrmsr(EOI_MSR, 0n);
  else c.lapic.writeEoi();
};

/** ICR_LOW's fields, looked up once: `ipi` runs at every step of a search that sends one. */
const ICR = indexFields(ICR_LOW_FIELDS);
const ICR_DEST = indexFields(ICR_HIGH_FIELDS).dest;
/** ICR_DEST's place and range, read once (see {@link icrHighDest}). */
const ICR_DEST_SCALE = 2 ** ICR_DEST.lsb, ICR_DEST_LIMIT = 2 ** ICR_DEST.width;

/**
 * ICR_HIGH with `dest` in its destination field, as `setField(ICR_DEST, 0, dest)`
 * gives it: an integer in range by a multiplication (setField reads the
 * field's descriptor, which sees every table's, at every IPI), anything else
 * by setField, for its error.
 */
function icrHighDest(dest: number): number {
  return Number.isInteger(dest) && dest >= 0 && dest < ICR_DEST_LIMIT
    ? 0 + dest * ICR_DEST_SCALE // "0 +" as setField sums: -0 gives 0 there too
    : setField(ICR_DEST, 0, dest);
}
const ICR_LOW = lapicRegister("icr_low"), ICR_HIGH = lapicRegister("icr_high");

/**
 * The `ipi` command's ICR_LOW, field by field in the order its parameters
 * are listed (which names the first bad one), building no object.
 */
function icrLow(a: Args): number {
  // A step's constant arguments are one object, which every run of it
  // passes again (Args are read-only): the last few are remembered by
  // identity, in slots rather than a WeakMap, whose entries a step with
  // variable arguments would make one of per execution.
  for (let i = 0; i < ICR_SLOTS; i++) if (icrArgs[i] === a) return icrLows[i];
  // Arguments made afresh (a destination in a variable) mostly carry the fields of the last
  // encoding again: only the destination, which is not in ICR_LOW, changed.
  const low = icrLast.vector === a.vector && icrLast.delivery_mode === a.delivery_mode &&
      icrLast.dest_mode === a.dest_mode && icrLast.level === a.level &&
      icrLast.trigger === a.trigger && icrLast.shorthand === a.shorthand
    ? icrLast.low
    : encodeIcrLastLow(a);
  icrArgs[icrNext] = a;
  icrLows[icrNext] = low;
  icrNext = (icrNext + 1) % ICR_SLOTS;
  return low;
}

/** {@link icrLow}'s remembered encodings: an `ipi` step per vCPU of a small scenario. */
const ICR_SLOTS = 4;
const icrArgs: (Args | null)[] = new Array(ICR_SLOTS).fill(null);
const icrLows = new Int32Array(ICR_SLOTS);
let icrNext = 0;

/** The fields of the last ICR_LOW {@link encodeIcrLastLow} encoded, and its value (none yet: NaN). */
const icrLast: {
  vector: Val | undefined;
  delivery_mode: Val | undefined;
  dest_mode: Val | undefined;
  level: Val | undefined;
  trigger: Val | undefined;
  shorthand: Val | undefined;
  low: number;
} = {
  vector: NaN,
  delivery_mode: NaN,
  dest_mode: NaN,
  level: NaN,
  trigger: NaN,
  shorthand: NaN,
  low: 0,
};

/** {@link encodeIcrLow}, remembered in {@link icrLast} once it succeeded. */
function encodeIcrLastLow(a: Args): number {
  const low = encodeIcrLow(a);
  icrLast.vector = a.vector;
  icrLast.delivery_mode = a.delivery_mode;
  icrLast.dest_mode = a.dest_mode;
  icrLast.level = a.level;
  icrLast.trigger = a.trigger;
  icrLast.shorthand = a.shorthand;
  icrLast.low = low;
  return low;
}

function encodeIcrLow(a: Args): number {
  let low = icrField(0, ICR.vector, a.vector);
  low = icrField(low, ICR.delivery_mode, a.delivery_mode);
  low = icrField(low, ICR.dest_mode, a.dest_mode);
  low = icrField(low, ICR.level, a.level);
  low = icrField(low, ICR.trigger, a.trigger);
  return icrField(low, ICR.shorthand, a.shorthand);
}

/** `low` with field `f` set to `v` (a number or one of the field's names); absent: left as is. */
const icrField = (low: number, f: BitField, v: Val | undefined): number =>
  v === undefined ? low : setField(f, low, v as number | string);

/**
 * The ICR_LOW `ipi` is sending, which the functions below read rather
 * than encode again or close over (no closure made per command).
 */
let ipiLow = 0;
const ipiMsrIcr = (a: Args) => (BigInt(a.dest as number) << 32n) | BigInt(ipiLow);
const ipiMsrText = (a: Args) => `wrmsr 0x830 <- ${hex(ipiMsrIcr(a))}`;
// One 64-bit WRMSR: the destination is ICR[63:32], a 32-bit x2APIC ID.
const ipiMsr = (vm: X86Vm, cpu: number, a: Args) => void vm.cpus[cpu].wrmsr(0x830, ipiMsrIcr(a));
const ipiMmioText = (a: Args) =>
  `lapic.icr_high <- ${hex(setField(ICR_DEST, 0, a.dest as number))}, lapic.icr_low <- ${
    hex(ipiLow)
  }`;
// ICR_HIGH first: the write to ICR_LOW sends.
const ipiMmio = (vm: X86Vm, cpu: number, a: Args) => {
  const lapic = vm.cpus[cpu].lapic;
  lapic.write(ICR_HIGH.offset, icrHighDest(a.dest as number));
  lapic.write(ICR_LOW.offset, ipiLow);
};

const hex = (n: Val) =>
  typeof n === "number" || typeof n === "bigint" ? `0x${n.toString(16)}` : String(n);

/** Commands that act on the in-kernel LAPIC, which `irqchip userspace` does not have. */
const needKernelLapicSetting = (s: Readonly<Record<string, Val>>) =>
  s.irqchip === "userspace"
    ? "needs an in-kernel LAPIC: use 'irqchip kernel' or 'irqchip split' (with 'irqchip " +
      "userspace' the LAPIC belongs to the VMM)"
    : s["hypervisor.domain"] === "pv"
    ? NO_PV_LAPIC
    : undefined;

/** A PV guest cannot map an IOAPIC: Xen emulates none for it and grants it no such page. */
function noPvIoapic(vm: X86Vm): void {
  if (vm.config.xenDomain === "pv") {
    throw new CommandInputError(
      "a Xen PV guest has no IOAPIC to reach (Xen emulates none for it, and its page tables " +
        "cannot map one): use 'domain hvm', or 'pvh' for Xen's null handler",
    );
  }
}

/** Why a Xen PV guest has no LAPIC command or path. */
const NO_PV_LAPIC = "needs a LAPIC, which a Xen PV guest does not have (Xen emulates none " +
  "for it, emulation_flags_ok): its events come through the event callback ('on vcpuN " +
  "event_callback'), or use 'domain hvm' or 'pvh'";

/**
 * RFLAGS.IF and HLT are not a PV guest's to use: its kernel runs
 * deprivileged and masks events in vcpu_info.
 */
const needHardwareIf = (s: Readonly<Record<string, Val>>) =>
  s["hypervisor.domain"] === "pv"
    ? "is not how a Xen PV guest masks events or waits: it runs deprivileged, Xen ignores " +
      "its RFLAGS.IF for the upcall, and it masks with 'store vcpuN.info.evtchn_upcall_mask' " +
      "and waits with 'xen sched_block'"
    : undefined;

const needKernelPic = (s: Readonly<Record<string, Val>>) =>
  s.irqchip !== "kernel" ? "needs the in-kernel PIC: use 'irqchip kernel'" : needEmulatedChips(s);

/**
 * What drives or reads the vPIC and vIOAPIC (GSI lines, their state), which
 * a Xen PVH domain does not have.
 */
const needEmulatedChips = (s: Readonly<Record<string, Val>>) =>
  s["hypervisor.domain"] === "pvh"
    ? "needs the vPIC and vIOAPIC, which a PVH domain does not have (Xen's " +
      "emulation_flags_ok gives a PVH domU X86_EMU_LAPIC only, so a GSI reaches nothing): " +
      "deliver through an event channel or an MSI, or use 'domain hvm'"
    : s["hypervisor.domain"] === "pv"
    ? "needs the vPIC and vIOAPIC, which a PV domain does not have (Xen emulates no " +
      "interrupt controller for it): deliver through an event channel, or use 'domain hvm'"
    : undefined;

/**
 * A vCPU waiting for INIT / SIPI executes nothing, so a scenario that has it
 * act is refused (at run time: the MP state is only known then).
 */
function started(c: Cmd): Cmd {
  const run = c.run;
  return {
    ...c,
    // The check comes first; a command's own steps would skip it.
    steps: undefined,
    run: (vm, cpu, a, source) => {
      mustHaveStarted(vm, cpu);
      return run(vm, cpu, a, source);
    },
  };
}

/** The check {@link started} adds: refused while the vCPU waits for INIT / SIPI. */
function mustHaveStarted(vm: X86Vm, cpu: number): void {
  const c = vm.cpus[cpu];
  if (c.waitsForSipi) notStarted(cpu, c.mpState);
}

/** {@link mustHaveStarted}'s refusal, apart so that the check stays small enough to inline. */
function notStarted(cpu: number, state: MpState): never {
  throw new CommandInputError(
    `vcpu${cpu} executes nothing: it waits for ${
      state === MpState.Uninitialized ? "INIT and SIPI" : "a SIPI"
    } (mp_state ${state})`,
  );
}

/** Makes a trapping command report its VM exit to the vCPU first (its `exits` trait). */
function exiting(c: Cmd): Cmd {
  if (!c.exits) return c;
  const run = c.run;
  return {
    ...c,
    // The exit is recorded in the vCPU's kvm_run: more than the command
    // touches; and the exit comes first, so the steps cannot be taken apart.
    touches: undefined,
    steps: undefined,
    run: (vm, cpu, a, source) => {
      vm.cpus[cpu].vmExit();
      return run(vm, cpu, a, source);
    },
  };
}

/**
 * The EOI, once per interrupt: its run makes the checks of {@link started} and
 * {@link exiting} itself, in their order, and writes the register directly when
 * the trace is off. Through the two wrappers it cost 2-3x the register write:
 * each wrapper is one closure shape for every command, a call V8 cannot inline.
 * Its fields are the wrappers' (no `touches`, no `steps`).
 */
const EOI_COMMAND: Cmd = {
  actor: "vcpu",
  name: "eoi",
  exits: true,
  requires: needKernelLapicSetting,
  backend: "lapic eoi",
  doc: "write the local APIC EOI register: clears the highest ISR bit (x2APIC mode: WRMSR 0x80b)",
  params: [],
  run: (vm, cpu, a, source) => {
    mustHaveStarted(vm, cpu);
    vm.cpus[cpu].vmExit();
    // The actor's name comes from the call (`source`).
    if (vm.trace.enabled) return actingOn(vm, cpu, a, source, "write", "lapic.eoi <- 0", writeEoi);
    writeEoi(vm, cpu);
  },
  touches: undefined,
  steps: undefined,
};

/**
 * The EOI of a guest that enabled PV EOI: the flag first, the register
 * only when the flag was clear (so the exit is conditional, made here).
 */
const PV_EOI_COMMAND: Cmd = {
  actor: "vcpu",
  name: "pv_eoi",
  requires: needKernelLapicSetting,
  backend: "pv eoi",
  doc: "the EOI of a guest using KVM's PV EOI (Linux kvm_guest_apic_eoi_write; Hyper-V's " +
    "hv_apic_eoi_write through the VP assist page's apic_assist): test-and-clear bit 0 of the " +
    "flag at the PV EOI address (MSR_KVM_PV_EOI_EN); if it was set that is the EOI, no exit " +
    "(KVM does it at the vCPU's next exit), else (or without PV EOI) the EOI register write",
  params: [],
  returns: "1 when the flag took the EOI (no exit), 0 when the EOI register was written",
  run: (vm, cpu, a, source) => {
    mustHaveStarted(vm, cpu);
    const c = vm.cpus[cpu];
    if (c.pvEoiTaken()) return 1;
    c.vmExit();
    if (vm.trace.enabled) actingOn(vm, cpu, a, source, "write", "lapic.eoi <- 0", writeEoi);
    else writeEoi(vm, cpu);
    return 0;
  },
  touches: undefined,
  steps: undefined,
};

const VCPU_COMMANDS: Cmd[] = [
  {
    actor: "vcpu",
    name: "sti",
    requires: needHardwareIf,
    backend: "sti",
    doc: "STI: set RFLAGS.IF; the next instruction still runs with interrupts blocked (STI shadow)",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].sti(),
  },
  {
    actor: "vcpu",
    name: "cli",
    requires: needHardwareIf,
    backend: "cli",
    doc: "CLI: clear RFLAGS.IF",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].cli(),
  },
  {
    actor: "vcpu",
    name: "hlt",
    requires: needHardwareIf,
    exits: true,
    backend: "hlt",
    doc: "HLT: halt until an interrupt that can be taken (or NMI/SMI/INIT) arrives",
    params: [],
    run: (vm, cpu) => vm.cpus[cpu].hlt(),
  },
  {
    actor: "vcpu",
    name: "nop",
    backend: "nop",
    doc: "an instruction that does nothing (ends an STI shadow)",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].nop(),
  },
  {
    actor: "vcpu",
    name: "mov ss",
    backend: "mov ss",
    doc:
      "MOV SS: load SS; the next instruction runs with interrupts and NMIs blocked (MOV SS shadow)",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].movSs(),
  },
  {
    actor: "vcpu",
    name: "int",
    backend: "int n",
    doc: "INT n: a software interrupt through IDT entry n, taken whatever IF says; no IRR/ISR/EOI",
    params: [{ name: "vector", type: VECTOR, doc: "the IDT entry", positional: true }],
    touches: OWN_FLAGS,
    run: (vm, cpu, a) => vm.cpus[cpu].softwareInterrupt(a.vector as number),
  },
  {
    actor: "vcpu",
    name: "div",
    backend: "div",
    doc: "DIV: unsigned dividend (RDX:RAX, twice 'size' bits) / divisor ('size' bits); a zero " +
      "divisor or a quotient wider than 'size' bits raises #DE, a fault: the DIV executes " +
      "again, arguments re-read, once the handler returns (write it in 'run vcpuN { }' or a " +
      "handler)",
    params: [
      { name: "dividend", type: { kind: "u64" }, doc: "RDX:RAX (EDX:EAX for size 32)" },
      { name: "divisor", type: { kind: "u64" }, doc: "the r/m operand" },
      OPERAND_SIZE,
    ],
    returns: "the quotient (RAX)",
    touches: OWN_FLAGS,
    run: (vm, cpu, a) => {
      const size = operandSize(a.size as number);
      const dividend = BigInt(a.dividend as bigint), divisor = BigInt(a.divisor as bigint);
      if (size < 64 && (divisor >> BigInt(size) !== 0n || dividend >> BigInt(2 * size) !== 0n)) {
        throw new CommandInputError(
          `a ${size}-bit DIV takes a ${2 * size}-bit dividend and a ${size}-bit divisor`,
        );
      }
      const q = vm.cpus[cpu].div(dividend, divisor, size);
      return q === undefined ? undefined : toInt(q);
    },
  },
  {
    actor: "vcpu",
    name: "add",
    backend: "add",
    doc: "ADD: a + b in 'size' bits, setting RFLAGS.OF on signed overflow (the flag INTO " +
      "reads; the model keeps no other arithmetic flag)",
    params: [
      { name: "a", type: { kind: "u64" }, doc: "the destination operand", positional: true },
      { name: "b", type: { kind: "u64" }, doc: "the source operand" },
      OPERAND_SIZE,
    ],
    returns: "the sum, truncated to 'size' bits",
    touches: OWN_FLAGS,
    run: (vm, cpu, a) => {
      const size = operandSize(a.size as number);
      const x = BigInt(a.a as bigint), y = BigInt(a.b as bigint);
      if (x >> BigInt(size) !== 0n || y >> BigInt(size) !== 0n) {
        throw new CommandInputError(`a ${size}-bit ADD takes ${size}-bit operands`);
      }
      const r = vm.cpus[cpu].add(x, y, size);
      return toInt(r);
    },
  },
  {
    actor: "vcpu",
    name: "into",
    backend: "into",
    doc: "INTO: with RFLAGS.OF set, #OF, a trap: the handler returns past the INTO; invalid " +
      "in 64-bit mode (#UD, a fault: 'cpu_mode protected' for a 32-bit guest)",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].into(),
  },
  {
    actor: "vcpu",
    name: "iret",
    backend: "iret",
    doc: "IRET through a frame the handler built itself (PUSHF, CS, the next instruction, as " +
      "kvm-unit-tests' do_iret): RFLAGS unchanged, execution goes on, and NMIs are unblocked " +
      "(any IRET ends NMI blocking); the handler's own frame is returned through at its end",
    params: [],
    touches: OWN_FLAGS,
    run: (vm, cpu) => vm.cpus[cpu].iret(),
  },
  {
    actor: "vcpu",
    name: "idt",
    backend: "idt gate",
    doc: "the guest writes IDT gate n's P bit: an exception or interrupt delivered through a " +
      "not-present gate raises #NP(n*8+2, EXT bit 0 unless INT n); #NP on #NP is #DF, a fault " +
      "delivering #DF a triple fault (KVM_EXIT_SHUTDOWN)",
    params: [
      { name: "vector", type: VECTOR, doc: "the IDT entry", positional: true },
      { name: "present", type: { kind: "bool" }, doc: "the gate's P bit" },
    ],
    touches: OWN_FLAGS,
    run: (vm, cpu, a) => vm.cpus[cpu].setGatePresent(a.vector as number, a.present !== 0),
  },
  EOI_COMMAND,
  PV_EOI_COMMAND,
  {
    actor: "vcpu",
    name: "lapic enable",
    exits: true,
    requires: needKernelLapicSetting,
    backend: "lapic svr enable",
    doc: "software-enable the local APIC: SVR = 0x100 | spurious",
    params: [{
      name: "spurious",
      type: VECTOR,
      doc: "the spurious-interrupt vector",
      default: 0xff,
    }],
    run: (vm, cpu, a) =>
      acting(
        vm,
        `vcpu${cpu}`,
        "write",
        `lapic.svr <- ${hex(0x100 | (a.spurious as number))}`,
        () => {
          lapicWrite(vm, cpu, "svr", 0x100 | (a.spurious as number));
        },
      ),
  },
  {
    actor: "vcpu",
    name: "lapic disable",
    exits: true,
    requires: needKernelLapicSetting,
    backend: "lapic svr disable",
    doc: "software-disable the local APIC: clear SVR bit 8 (masks every LVT entry)",
    params: [{
      name: "spurious",
      type: VECTOR,
      doc: "the spurious-interrupt vector",
      default: 0xff,
    }],
    run: (vm, cpu, a) =>
      acting(vm, `vcpu${cpu}`, "write", `lapic.svr <- ${hex(a.spurious)}`, () => {
        lapicWrite(vm, cpu, "svr", a.spurious as number);
      }),
  },
  {
    actor: "vcpu",
    name: "write",
    exits: true,
    backend: "register write",
    doc:
      "write a LAPIC or IOAPIC register, whole (write lapic.tpr 0x50) or by fields (unnamed fields are 0)",
    params: [REGISTER],
    run: (vm, cpu, a) => writeRegister(vm, cpu, a),
  },
  {
    actor: "vcpu",
    name: "read",
    exits: true,
    backend: "register read",
    doc: "read a LAPIC or IOAPIC register as the guest would",
    params: [REGISTER],
    returns: "the register value",
    run: (vm, cpu, a) => readRegister(vm, cpu, a),
  },
  {
    actor: "vcpu",
    name: "ipi",
    exits: true,
    requires: needKernelLapicSetting,
    backend: "lapic icr",
    doc: "send an IPI as a guest does: ICR high (destination) then ICR low by MMIO, or in " +
      "x2APIC mode one WRMSR of the 64-bit ICR (0x830)",
    params: [
      { name: "vector", type: VECTOR, doc: "the vector", default: 0 },
      {
        name: "dest",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "an APIC ID" },
        doc: "destination: ICR high 31:24 (xAPIC, 0-255), or ICR 63:32 (x2APIC)",
        default: 0,
      },
      {
        name: "delivery_mode",
        type: { kind: "enum", values: ["fixed", "lowest", "smi", "nmi", "init", "startup"] },
        doc: "delivery mode",
        default: "fixed",
      },
      {
        name: "dest_mode",
        type: { kind: "enum", values: ["physical", "logical"] },
        doc: "destination mode",
        default: "physical",
      },
      {
        name: "shorthand",
        type: { kind: "enum", values: ["none", "self", "all", "all_but_self"] },
        doc: "destination shorthand",
        default: "none",
      },
      {
        name: "trigger",
        type: { kind: "enum", values: ["edge", "level"] },
        doc: "trigger mode",
        default: "edge",
      },
      { name: "level", type: LEVEL, doc: "level (1 assert, 0 de-assert)", default: 1 },
    ],
    run: (vm, cpu, a) => {
      // The fields first: a bad value is refused before the mode or destination is looked at.
      ipiLow = icrLow(a);
      if (vm.cpus[cpu].lapic.x2apicMode) {
        actingOn(vm, cpu, a, `vcpu${cpu}`, "wrmsr", ipiMsrText, ipiMsr);
        return;
      }
      const dest = a.dest as number;
      if (dest > 0xff) {
        throw new CommandInputError(
          `an xAPIC destination is 8 bits, not ${hex(dest)}: enter x2APIC mode for 32-bit IDs`,
        );
      }
      actingOn(vm, cpu, a, `vcpu${cpu}`, "write", ipiMmioText, ipiMmio);
    },
  },
  {
    actor: "vcpu",
    name: "out",
    exits: true,
    backend: "port out",
    doc: "OUT to an I/O port (the 8259A at 0x20/0x21/0xa0/0xa1, ELCR at 0x4d0/0x4d1)",
    params: [
      {
        name: "port",
        type: { kind: "int", min: 0, max: 0xffff, what: "a port" },
        doc: "the port",
        positional: true,
      },
      {
        name: "value",
        type: { kind: "int", min: 0, max: 0xff, what: "a byte" },
        doc: "the byte written",
        positional: true,
      },
    ],
    run: (vm, cpu, a) =>
      acting(vm, `vcpu${cpu}`, "out", `out ${hex(a.port)}, ${hex(a.value)}`, () => {
        if (!vm.pic || !isPicPort(a.port as number)) {
          emit(vm, `vcpu${cpu}`, "out.ignored", `no device at port ${hex(a.port)}`);
          return;
        }
        vm.pic.ioWrite(a.port as number, a.value as number);
      }),
  },
  {
    actor: "vcpu",
    name: "in",
    exits: true,
    backend: "port in",
    doc: "IN from an I/O port",
    params: [{
      name: "port",
      type: { kind: "int", min: 0, max: 0xffff, what: "a port" },
      doc: "the port",
      positional: true,
    }],
    returns: "the byte read (0xff where nothing answers)",
    run: (
      vm,
      _cpu,
      a,
    ) => (vm.pic && isPicPort(a.port as number) ? vm.pic.ioRead(a.port as number) : 0xff),
  },
  {
    actor: "vcpu",
    name: "inta",
    requires: needKernelLapicSetting,
    backend: "lapic inta probe",
    doc:
      "model probe: run the LAPIC acknowledge cycle now (returns the spurious vector if nothing is above PPR)",
    params: [],
    returns: "the vector acknowledged",
    run: (vm, cpu) => vm.cpus[cpu].lapic.acknowledge(),
  },
  {
    actor: "vcpu",
    name: "pic inta",
    requires: needKernelPic,
    backend: "pic inta probe",
    doc: "model probe: run the 8259A pair's INTA cycle now, as the CPU would after seeing " +
      "INTR (returns base+7 of the master, a spurious IRQ7, if nothing is requested)",
    params: [],
    returns: "the vector the PIC put on the bus",
    run: (vm, cpu) => {
      if (!vm.pic) throw new CommandInputError("this vm has no in-kernel PIC ('irqchip kernel')");
      return acting(vm, `vcpu${cpu}`, "inta", "PIC INTA cycle", () => vm.pic!.acknowledge());
    },
  },
  {
    actor: "vcpu",
    name: "rdmsr",
    exits: true,
    backend: "rdmsr",
    explainResult: (a, value) => {
      const msr = literal(a.msr);
      return msr === undefined ? undefined : decodeMsr(Number(msr), value);
    },
    doc: "RDMSR: IA32_APIC_BASE (0x1b), IA32_TSC (0x10), IA32_TSC_DEADLINE (0x6e0), the " +
      "x2APIC registers (0x800-0x8ff), with Hyper-V's CPUID ('hyperv_cpuid', 'hyperv_synic') " +
      "the Hyper-V MSRs (GUEST_OS_ID, HYPERCALL, VP_INDEX, TIME_REF_COUNT, the synthetic APIC " +
      "MSRs ICR 0x40000071 and TPR 0x40000072, the SynIC's 0x40000080-0x4000009f, the timers' " +
      "0x400000b0-0x400000b7), the machine-check MSRs (MCG_CAP 0x179, MCG_STATUS 0x17a, MCG_CTL " +
      "0x17b, MCi_CTL2 0x280+i, MCi_CTL/STATUS/ADDR/MISC 0x400+4i); a #GP returns GP and is delivered to the guest (#GP(0) through " +
      "IDT vector 13; the handler returns past the instruction)",
    params: [{ name: "msr", type: U32, doc: "the MSR index (ECX)" }],
    returns:
      "the 64-bit value, or GP (-13) if the instruction raised #GP (delivered at the next boundary)",
    run: (vm, cpu, a) =>
      acting(vm, `vcpu${cpu}`, "rdmsr", `rdmsr ${hex(a.msr)}`, () => {
        const r = vm.cpus[cpu].rdmsr(a.msr as number);
        if (typeof r === "bigint") emit(vm, `vcpu${cpu}`, "rdmsr.value", `-> ${hex(r)}`);
        return r;
      }),
  },
  {
    actor: "vcpu",
    name: "wrmsr",
    exits: true,
    backend: "wrmsr",
    explain: (a) => {
      const msr = literal(a.msr), value = literal(a.value);
      return msr === undefined || value === undefined ? undefined : decodeMsr(Number(msr), value);
    },
    doc: "WRMSR: IA32_APIC_BASE transitions, x2APIC registers (0x830 is the whole 64-bit ICR, " +
      "0x83f SELF IPI), IA32_TSC_DEADLINE, with Hyper-V's CPUID the Hyper-V MSRs " +
      "(SCONTROL, SIEFP, SIMP, EOM, SINT0-15: vector, masked bit 16, AutoEOI bit 17; " +
      "STIMERn_CONFIG and _COUNT; GUEST_OS_ID, HYPERCALL; the synthetic APIC MSRs EOI " +
      "0x40000070, ICR 0x40000071 (all 64 bits, in either APIC mode) and TPR 0x40000072); a #GP " +
      "returns GP and is delivered to the guest (#GP(0) through IDT vector 13; the handler " +
      "returns past the instruction)",
    params: [
      { name: "msr", type: U32, doc: "the MSR index (ECX)" },
      { name: "value", type: { kind: "u64" }, doc: "EDX:EAX" },
    ],
    returns: "0, or GP (-13) if the instruction raised #GP",
    run: (vm, cpu, a) =>
      acting(
        vm,
        `vcpu${cpu}`,
        "wrmsr",
        `wrmsr ${hex(a.msr)} <- ${hex(a.value)}`,
        () => vm.cpus[cpu].wrmsr(a.msr as number, BigInt(a.value as bigint)),
      ),
  },
  {
    actor: "vcpu",
    name: "mov cr8",
    backend: "mov cr8",
    doc:
      "MOV to CR8: TPR = value << 4 (value 0-15; larger values return GP and deliver #GP(0) to the guest, whose handler returns past the instruction)",
    params: [{ name: "value", type: { kind: "u64" }, doc: "the new CR8" }],
    returns: "0, or GP (-13) if the instruction raised #GP",
    run: (vm, cpu, a) => vm.cpus[cpu].movToCr8(BigInt(a.value as bigint)),
  },
  {
    actor: "vcpu",
    name: "mov cr4",
    backend: "mov cr4",
    doc: "MOV to CR4 of CR4.MCE (0x40), the one CR4 bit the model has (0 at reset and INIT): " +
      "with it clear, KVM_X86_SET_MCE's #MC shuts the vCPU down instead (any other bit is an " +
      "input error)",
    params: [{ name: "value", type: { kind: "u64" }, doc: "the new CR4: 0 or 0x40" }],
    returns: "0",
    run: (vm, cpu, a) => vm.cpus[cpu].movToCr4(BigInt(a.value as bigint)),
  },
  {
    actor: "vcpu",
    name: "lapic x2apic",
    exits: true,
    requires: needKernelLapicSetting,
    backend: "apic base x2apic",
    doc: "enter x2APIC mode: WRMSR IA32_APIC_BASE with EN and EXTD set (the BSP bit kept); " +
      "#GP from a disabled APIC, which must become xAPIC first",
    params: [],
    returns: "0, or GP (-13) if the WRMSR raised #GP",
    run: (vm, cpu) => {
      const c = vm.cpus[cpu];
      const base = BigInt(c.lapic.apicBase) | BigInt(ApicBaseBit.EN | ApicBaseBit.EXTD);
      return acting(
        vm,
        `vcpu${cpu}`,
        "wrmsr",
        `wrmsr IA32_APIC_BASE <- ${hex(base)}`,
        () => c.wrmsr(0x1b, base),
      );
    },
  },
];

/** An instruction's operand size in bits, refused unless 8, 16, 32 or 64. */
function operandSize(size: number): number {
  if (size !== 8 && size !== 16 && size !== 32 && size !== 64) {
    throw new CommandInputError(`an operand size is 8, 16, 32 or 64 bits, not ${size}`);
  }
  return size;
}

function isPicPort(p: number): boolean {
  return p === 0x20 || p === 0x21 || p === 0xa0 || p === 0xa1 || p === 0x4d0 || p === 0x4d1;
}

const ROUTE_PARAMS: readonly ParamSpec[] = [
  { name: "gsi", type: GSI, doc: "the GSI this entry routes" },
  {
    name: "type",
    type: { kind: "enum", values: ["irqchip", "msi", "xen_evtchn", "hv_sint"] },
    doc: "the entry type; by default irqchip if irqchip= is given, xen_evtchn if port= is, " +
      "hv_sint if sint= is, else msi",
    default: "",
  },
  {
    name: "irqchip",
    type: { kind: "enum", values: ["pic_master", "pic_slave", "ioapic"] },
    doc: "KVM_IRQ_ROUTING_IRQCHIP: the chip",
    default: "",
  },
  {
    name: "pin",
    type: { kind: "int", min: 0, max: 255, what: "a pin" },
    doc: "KVM_IRQ_ROUTING_IRQCHIP: the pin",
    default: -1,
  },
  { name: "address_lo", type: U32, doc: "KVM_IRQ_ROUTING_MSI: address bits 31:0", default: -1 },
  { name: "address_hi", type: U32, doc: "KVM_IRQ_ROUTING_MSI: address bits 63:32", default: 0 },
  { name: "data", type: U32, doc: "KVM_IRQ_ROUTING_MSI: data", default: 0 },
  {
    name: "port",
    type: U32,
    doc: "KVM_IRQ_ROUTING_XEN_EVTCHN: the event-channel port (kvm-xen VMs)",
    default: -1,
  },
  {
    name: "vcpu",
    type: U32,
    doc: "KVM_IRQ_ROUTING_XEN_EVTCHN: the KVM vcpu_id (APIC ID) to notify; " +
      "KVM_IRQ_ROUTING_HV_SINT: the VP index (the vCPU index)",
    default: 0,
  },
  {
    name: "sint",
    type: U32,
    doc: "KVM_IRQ_ROUTING_HV_SINT: the SynIC SINT the GSI raises",
    default: -1,
  },
  {
    name: "priority",
    type: U32,
    doc: "KVM_IRQ_ROUTING_XEN_EVTCHN: must be 0xffffffff (2-level)",
    default: KVM_XEN_PRIO_2LEVEL,
  },
];

/**
 * A `kvm set_gsi_routing` entry as written in a scenario, as the routing
 * entry it stands for (the type from `type=`, else from which fields are
 * given). Shared with backends that pass the table to a real KVM.
 *
 * @example
 * ```ts
 * toRoutingEntry({ gsi: 5, type: "", irqchip: "ioapic", pin: 5, port: -1 });
 * // { gsi: 5, type: "irqchip", irqchip: 2, pin: 5 }
 * ```
 */
export function toRoutingEntry(e: Readonly<Record<string, Val>>): RoutingEntry {
  const type = e.type !== ""
    ? e.type
    : e.irqchip !== ""
    ? "irqchip"
    : (e.port as number) >= 0
    ? "xen_evtchn"
    : (e.sint as number) >= 0
    ? "hv_sint"
    : "msi";
  if (type === "hv_sint") {
    return {
      gsi: e.gsi as number,
      type: "hv_sint",
      vcpu: e.vcpu as number,
      sint: Math.max(e.sint as number, 0),
    };
  }
  if (type === "xen_evtchn") {
    return {
      gsi: e.gsi as number,
      type: "xen_evtchn",
      port: Math.max(e.port as number, 0),
      vcpu: e.vcpu as number,
      priority: e.priority as number,
    };
  }
  if (type === "irqchip") {
    return {
      gsi: e.gsi as number,
      type: "irqchip",
      irqchip: ["pic_master", "pic_slave", "ioapic"].indexOf(e.irqchip as string),
      pin: e.pin as number,
    };
  }
  return {
    gsi: e.gsi as number,
    type: "msi",
    addressLo: e.address_lo as number,
    addressHi: e.address_hi as number,
    data: e.data as number,
  };
}

const VCPU_PARAM: ParamSpec = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 254, what: "a vCPU index", decimal: true, vcpu: true },
  doc: "the vCPU",
};

const VMM_COMMANDS: Cmd[] = [
  {
    actor: "vmm",
    name: "kvm irq_line",
    requires: needEmulatedChips,
    backend: "KVM_IRQ_LINE_STATUS",
    doc: "KVM_IRQ_LINE_STATUS: set a GSI's level on every route of it",
    params: [
      { name: "gsi", type: GSI, doc: "the GSI" },
      { name: "level", type: LEVEL, doc: "1 assert, 0 de-assert" },
    ],
    returns: "status: <0 masked or no route, 0 coalesced, >0 CPUs reached",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_IRQ_LINE gsi ${a.gsi} level ${a.level}`,
        () => vm.irqLine(a.gsi as number, a.level as 0 | 1),
      ),
  },
  {
    actor: "vmm",
    name: "kvm signal_msi",
    backend: "KVM_SIGNAL_MSI",
    explain: (a) => decodeX86Msi(literal(a.address), literal(a.data)),
    doc: "KVM_SIGNAL_MSI: inject one MSI",
    params: [
      { name: "address", type: U32, doc: "address bits 31:0 (0xfee.....)" },
      { name: "data", type: U32, doc: "data (vector, delivery mode, trigger)" },
      { name: "address_hi", type: U32, doc: "address bits 63:32", default: 0 },
    ],
    returns: ">0 delivered, 0 blocked by the guest, <0 error",
    touches: PLUMBING_UNLESS_XEN,
    // Untraced, the MSI directly: one call fewer for each of a storm's messages.
    run: (vm, c, a, source) =>
      vm.trace.enabled
        ? actingOn(vm, c, a, source, "ioctl", signalMsiText, signalMsi)
        : signalMsi(vm, c, a),
  },
  {
    actor: "vmm",
    name: "kvm set_gsi_routing",
    backend: "KVM_SET_GSI_ROUTING",
    doc: "KVM_SET_GSI_ROUTING: replace the whole routing table with the entries in the block " +
      "(kvm_vm_ioctl: -EINVAL without an in-kernel irqchip, for flags != 0, or for an entry " +
      "kvm_set_irq_routing refuses)",
    params: [{
      name: "flags",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "struct kvm_irq_routing flags" },
      doc: "must be 0",
      default: 0,
    }],
    block: { entry: "gsi", params: ROUTE_PARAMS },
    explainEntry: (e) => {
      const address = literal(e.address_lo), data = literal(e.data);
      // An MSI entry: its address and data, decoded as the device's MSI would be.
      const chip = typeof e.irqchip === "string" && e.irqchip !== "";
      const port = literal(e.port);
      return !chip && (port === undefined || port < 0n) && address !== undefined && address >= 0n
        ? `GSI ${e.gsi} route: ${decodeX86Msi(address, data)}`
        : undefined;
    },
    returns: "0, or -EINVAL (and the old table stays)",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_GSI_ROUTING (${a.$entries!.length} entries)`,
        () => vm.setGsiRouting(a.$entries!.map(toRoutingEntry), a.flags as number),
      ),
  },
  {
    actor: "vmm",
    name: "kvm interrupt",
    backend: "KVM_INTERRUPT",
    doc: "KVM_INTERRUPT: queue an external (PIC) vector for a vCPU; -ENXIO with the in-kernel PIC",
    params: [
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 254, what: "a vCPU index", decimal: true, vcpu: true },
        doc: "the vCPU",
      },
      { name: "vector", type: VECTOR, doc: "the vector" },
    ],
    returns: "0, -ENXIO (kernel irqchip) or -EEXIST (one already queued)",
    run: (vm, _c, a) => vm.kvmInterrupt(a.vcpu as number, a.vector as number),
  },
  {
    actor: "vmm",
    name: "kvm nmi",
    backend: "KVM_NMI",
    doc: "KVM_NMI: queue an NMI for a vCPU (any irqchip mode); a vCPU keeps at most 2, " +
      "1 while an NMI handler runs",
    params: [VCPU_PARAM],
    returns: "0",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_NMI vcpu${a.vcpu}`, () => vm.kvmNmi(a.vcpu as number)),
  },
  {
    actor: "vmm",
    name: "kvm request_interrupt_window",
    backend: "request_interrupt_window",
    doc: "set kvm_run.request_interrupt_window: without an in-kernel PIC (split, userspace) " +
      "the vCPU then exits with KVM_EXIT_IRQ_WINDOW_OPEN once it can take an interrupt",
    params: [VCPU_PARAM, { name: "value", type: LEVEL, doc: "1 request, 0 withdraw", default: 1 }],
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "kvm_run",
        `vcpu${a.vcpu}: request_interrupt_window = ${a.value}`,
        () => vm.cpus[a.vcpu as number].requestInterruptWindow(a.value === 1),
      ),
  },
];

const DEVICE_COMMANDS: Cmd[] = [
  ...(["assert", "deassert"] as const).map((name): Cmd => ({
    actor: "device",
    name,
    requires: needEmulatedChips,
    backend: name === "assert" ? "line high" : "line low",
    doc:
      `${name} the device's interrupt line: KVM_IRQ_LINE_STATUS on its GSI with level ${
        name === "assert" ? 1 : 0
      }; with 'split_ioapic qemu' a GSI below ${QEMU_IOAPIC_PINS} is an input of QEMU's I/O APIC ` +
      `(ioapic_set_irq; GSI 0 is pin ${QEMU_IRQ0_PIN}), which makes the KVM_IRQ_LINE itself`,
    params: [{ name: "gsi", type: GSI, doc: "the GSI the line is wired to" }],
    returns: "the KVM_IRQ_LINE_STATUS result (with QEMU's I/O APIC: its KVM_IRQ_LINE's for " +
      "the pin, 0 while a level pin awaits its EOI, -1 when it made none)",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        name,
        `gsi ${a.gsi} ${name === "assert" ? "high" : "low"}`,
        () => vm.deviceLine(a.gsi as number, name === "assert" ? 1 : 0),
      ),
  })),
  {
    actor: "device",
    name: "pulse",
    requires: needEmulatedChips,
    backend: "line pulse",
    doc: "raise then lower the line (an edge): two KVM_IRQ_LINE calls",
    params: [{ name: "gsi", type: GSI, doc: "the GSI the line is wired to" }],
    returns: "the status of the raise",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, _c, a, source) =>
      acting(vm, source, "pulse", `gsi ${a.gsi} pulse`, () => {
        const r = vm.deviceLine(a.gsi as number, 1);
        vm.deviceLine(a.gsi as number, 0);
        return r;
      }),
  },
  {
    actor: "device",
    name: "msi",
    backend: "KVM_SIGNAL_MSI",
    explain: (a) => decodeX86Msi(literal(a.address), literal(a.data)),
    doc: "the device writes an MSI (delivered with KVM_SIGNAL_MSI)",
    params: [
      { name: "address", type: U32, doc: "address bits 31:0" },
      { name: "data", type: U32, doc: "data" },
      { name: "address_hi", type: U32, doc: "address bits 63:32", default: 0 },
    ],
    returns: "the KVM_SIGNAL_MSI result",
    touches: PLUMBING_UNLESS_XEN,
    run: (vm, c, a, source) => actingOn(vm, c, a, source, "msi", deviceMsiText, deviceMsi),
  },
];

// ---- state ----------------------------------------------------------------------

const VECTOR_SET = { kind: "set", min: 0, max: 255 } as const;
const vcpuBound = (vm: X86Vm) => [vm.cpus.length];

function fieldType(f: FieldSpec): StateSpec["type"] {
  return f.values
    ? { kind: "enum", values: Object.keys(f.values) }
    : { kind: "int", min: 0, max: 2 ** f.width - 1 };
}

function lapicState(): State[] {
  const out: State[] = [];
  for (const name of ["irr", "isr", "tmr"] as const) {
    out.push({
      pattern: `vcpu#.lapic.${name}`,
      type: VECTOR_SET,
      doc: `${name.toUpperCase()}: the set vectors`,
      get: (vm, [c]) => vectorsOf(vm.cpus[c].lapic[name]),
      bounds: vcpuBound,
      // Cpu.lapic.irr/isr/tmr are public arrays: the fingerprint walks them.
      derived: true,
    });
    out.push({
      pattern: `vcpu#.lapic.${name}_word[#]`,
      type: { kind: "int", min: 0, max: 0xffff_ffff },
      doc: `${name.toUpperCase()} as the guest reads it: word n holds vectors 32n..32n+31 ` +
        "(the register at its base + 0x10 * n)",
      get: (vm, [c, w]) => vm.cpus[c].lapic[name][w] >>> 0,
      bounds: (vm) => [vm.cpus.length, 8],
      derived: true,
    });
  }
  for (const r of LAPIC_REGISTERS) {
    if (r.width !== 32 || r.access === "wo") continue;
    // The model's register, not a guest read: no MMIO hole in x2APIC or disabled mode.
    const read = (vm: X86Vm, c: number) =>
      r.name === "ppr" ? vm.cpus[c].lapic.ppr : vm.cpus[c].lapic.peek(r.offset);
    out.push({
      pattern: `vcpu#.lapic.${r.name}`,
      type: { kind: "int", min: 0, max: 0xffff_ffff },
      doc: `${r.specName}: ${r.doc}`,
      layout: r.fields ? { title: r.specName, fields: r.fields } : undefined,
      get: (vm, [c]) => read(vm, c),
      bounds: vcpuBound,
    });
    for (const f of r.fields ?? []) {
      out.push({
        pattern: `vcpu#.lapic.${r.name}.${f.name}`,
        type: fieldType(f),
        doc: `${r.specName} ${f.name}: ${f.doc}`,
        get: (vm, [c]) => decodeField(f, read(vm, c)),
        bounds: vcpuBound,
      });
    }
  }
  return out;
}

function cpuState(): State[] {
  const flag = (
    name: string,
    doc: string,
    get: (vm: X86Vm, c: number) => boolean | number,
    max = 0xffff,
  ): State => ({
    pattern: `vcpu#.${name}`,
    type: { kind: "int", min: 0, max },
    doc,
    get: (vm, [c]) => Number(get(vm, c)),
    bounds: vcpuBound,
  });
  const U32_MAX = 0xffff_ffff;
  return [
    flag("if", "RFLAGS.IF", (vm, c) => vm.cpus[c].interruptFlag),
    flag("of", "RFLAGS.OF, as the last add left it", (vm, c) => vm.cpus[c].overflowFlag),
    flag("halted", "1 while halted by HLT", (vm, c) => vm.cpus[c].hltHalted),
    flag(
      "nmi_pending",
      "NMIs pending as KVM_GET_VCPU_EVENTS reports them: it runs process_nmi first, which " +
        "keeps at most 2 (1 while an NMI handler runs) of those queued",
      (vm, c) => vm.cpus[c].nmiPendingReported,
    ),
    flag("nmi_blocked", "1 from taking an NMI until its IRET", (vm, c) => vm.cpus[c].nmiBlocked),
    flag("depth", "how many interrupt handlers are running (nested)", (vm, c) => vm.cpus[c].depth),
    {
      pattern: "vcpu#.error_code",
      type: { kind: "int", min: -1, max: U32_MAX },
      doc: "the error code on the innermost handler's frame (what its r->error_code reads), " +
        "-1 when that frame has none",
      get: (vm, [c]) => vm.cpus[c].frameErrorCode,
      bounds: vcpuBound,
    },
    {
      pattern: "vcpu#.exception",
      type: { kind: "int", min: -1, max: 31 },
      doc: "the exception queued for delivery at the next boundary (KVM's " +
        "vcpu->arch.exception), -1 when none",
      get: (vm, [c]) => vm.cpus[c].exceptionVector,
      bounds: vcpuBound,
    },
    flag(
      "shutdown",
      "1 after a triple fault (KVM_EXIT_SHUTDOWN): the vCPU executes nothing until INIT",
      (vm, c) => vm.cpus[c].shutdown,
    ),
    flag(
      "apic_base",
      "IA32_APIC_BASE (low 32 bits)",
      (vm, c) => vm.cpus[c].lapic.apicBase,
      U32_MAX,
    ),
    flag(
      "mp_state",
      "KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE 0, UNINITIALIZED 1, INIT_RECEIVED 2, HALTED 3",
      (vm, c) => vm.cpus[c].mpState,
      MpState.SipiReceived,
    ),
    flag(
      "cs_selector",
      "CS.selector: 0xf000 after reset, SIPI vector << 8 after a SIPI",
      (vm, c) => vm.cpus[c].csSelector,
    ),
    flag(
      "cs_base",
      "CS.base: 0xffff0000 after reset, SIPI vector << 12 after a SIPI",
      (vm, c) => vm.cpus[c].csBase,
      U32_MAX,
    ),
    flag(
      "rip",
      "RIP: 0xfff0 after reset, 0 after a SIPI (the model runs no code)",
      (vm, c) => vm.cpus[c].rip,
    ),
    flag("cr8", "CR8 (TPR[7:4] with an in-kernel LAPIC)", (vm, c) => vm.cpus[c].cr8),
    {
      pattern: "vcpu#.pv_eoi.msr",
      type: { kind: "u64" },
      doc: "MSR_KVM_PV_EOI_EN as KVM holds it (pv_eoi.msr_val: the flag's GPA | enable; the VP " +
        "assist page's GPA | 1 after HV_X64_MSR_VP_ASSIST_PAGE enabled it); 0 under Xen",
      get: (vm, [c]) => toInt(vm.cpus[c].pvEoi?.msrVal ?? 0n),
      bounds: vcpuBound,
    },
    flag(
      "pv_eoi.pending",
      "1 while KVM_APIC_PV_EOI_PENDING: KVM set the guest's PV EOI flag at the last entry and " +
        "has not yet looked at it (at the vCPU's next exit)",
      (vm, c) => vm.cpus[c].pvEoi?.pending ?? false,
      1,
    ),
    flag(
      "gp_faults",
      "how many #GP faults the vCPU's instructions raised",
      (vm, c) => vm.cpus[c].gpFaults,
      U32_MAX,
    ),
    flag(
      "exit_reason",
      "kvm_run.exit_reason of the last exit to userspace: KVM_EXIT_HLT 5, " +
        "KVM_EXIT_IRQ_WINDOW_OPEN 7, KVM_EXIT_SHUTDOWN 8, KVM_EXIT_HYPERV 22, " +
        "KVM_EXIT_SYSTEM_EVENT 24, KVM_EXIT_IOAPIC_EOI 26; 0 before any",
      (vm, c) => vm.cpus[c].run.exitReason,
      255,
    ),
    flag(
      "system_event_type",
      "kvm_run.system_event.type of the last KVM_EXIT_SYSTEM_EVENT: KVM_SYSTEM_EVENT_RESET 2 " +
        "(HV_X64_MSR_RESET), KVM_SYSTEM_EVENT_CRASH 3 (HV_X64_MSR_CRASH_CTL); 0 before any",
      (vm, c) => vm.cpus[c].run.systemEventType,
      255,
    ),
    flag("eoi_exit_vector", "kvm_run.eoi.vector of the last KVM_EXIT_IOAPIC_EOI (0 before any)", (
      vm,
      c,
    ) => Math.max(vm.cpus[c].run.eoiVector, 0), 255),
    flag(
      "eoi_exits",
      "how many KVM_EXIT_IOAPIC_EOI exits (split irqchip)",
      (vm, c) => vm.cpus[c].run.ioapicEoiExits,
      U32_MAX,
    ),
    {
      pattern: "vcpu#.eoi_exit_vectors",
      type: VECTOR_SET,
      doc: "the vectors whose EOI exited with KVM_EXIT_IOAPIC_EOI",
      get: (vm, [c]) => vectorsOf(vm.cpus[c].run.ioapicEoiVectors),
      bounds: vcpuBound,
    },
    {
      pattern: "vcpu#.ioapic_handled_vectors",
      type: VECTOR_SET,
      doc: "KVM's ioapic_handled_vectors: the vectors whose EOI on this vCPU reaches the I/O " +
        "APIC (in-kernel: level, RTC and ack-notified entries naming the vCPU, and those pending " +
        "on it at the last scan; split: the level MSI routes of the reserved pins likewise); " +
        "empty under Xen and without an irqchip",
      get: (vm, [c]) => vm.ioapicHandledVectors(c),
      bounds: vcpuBound,
    },
    flag(
      "irq_window_exits",
      "how many KVM_EXIT_IRQ_WINDOW_OPEN exits",
      (vm, c) => vm.cpus[c].run.irqWindowExits,
      U32_MAX,
    ),
    flag(
      "hlt_exits",
      "how many KVM_EXIT_HLT exits (userspace irqchip)",
      (vm, c) => vm.cpus[c].run.hltExits,
      U32_MAX,
    ),
    flag(
      "halt_exits_stat",
      "KVM's statistic halt_exits (KVM_GET_STATS_FD): every HLT the guest executed, since each " +
        "exits to KVM (__kvm_emulate_halt); AMD's Idle HLT is not modelled",
      (vm, c) => vm.cpus[c].run.haltExitsStat,
      U32_MAX,
    ),
    flag(
      "ready_for_interrupt_injection",
      "kvm_run.ready_for_interrupt_injection: IF=1, no shadow, nothing injected (and with a " +
        "split irqchip LVT0 accepting ExtINT, no KVM_INTERRUPT vector waiting)",
      (vm, c) => vm.cpus[c].readyForInjection(),
    ),
    flag("request_interrupt_window", "kvm_run.request_interrupt_window as the VMM set it", (
      vm,
      c,
    ) => vm.cpus[c].run.requestInterruptWindow),
    {
      pattern: "vcpu#.tsc_deadline",
      type: { kind: "u64" },
      doc: "IA32_TSC_DEADLINE as RDMSR would read it (0 unless armed in TSC-deadline mode)",
      get: (vm, [c]) => {
        const r = vm.cpus[c].lapic.rdmsr(0x6e0);
        return typeof r === "bigint" ? r : 0n;
      },
      bounds: vcpuBound,
    },
  ];
}

function ioapicState(): State[] {
  const pinBound = (vm: X86Vm) => [vm.ioapic?.pins ?? vm.qemuIoapic?.pins ?? 0];
  const rte = (vm: X86Vm, pin: number) => {
    const w = (vm.ioapic ?? vm.qemuIoapic)!.rte(pin);
    return joinWords(w.low, w.high);
  };
  const out: State[] = [
    {
      pattern: "ioapic.redtbl[#]",
      type: { kind: "u64" },
      doc: "IOREDTBL[n] as a 64-bit value",
      layout: { title: "IOREDTBL", fields: RTE_FIELDS },
      get: (vm, [p]) => rte(vm, p),
      bounds: pinBound,
    },
    {
      pattern: "ioapic.pin[#].line",
      type: { kind: "int", min: 0, max: 1 },
      doc: "the level of the pin's input line (QEMU's I/O APIC: its irr bit, the line of a " +
        "level pin, an edge pin's request until sent)",
      get: (vm, [p]) => (vm.ioapic ?? vm.qemuIoapic)!.line(p),
      bounds: pinBound,
    },
    {
      pattern: "ioapic.rtc_pending_eoi",
      type: { kind: "int", min: 0, max: 4096 },
      doc: "KVM's rtc_status.pending_eoi: the vCPUs the last RTC tick (pin 8 raised through " +
        "KVM_IRQ_LINE_STATUS) reached that have not EOI'd it; another vCPU's EOI does not " +
        "count, and a tick while it is not 0 is coalesced (status 0); 0 without an in-kernel I/O APIC",
      get: (vm) => vm.ioapic?.rtcPendingEoi ?? 0,
    },
  ];
  for (const f of RTE_FIELDS) {
    out.push({
      pattern: `ioapic.pin[#].${f.name}`,
      type: fieldType(f),
      doc: `IOREDTBL ${f.name}`,
      get: (vm, [p]) => decodeField(f, rte(vm, p)),
      bounds: pinBound,
      derived: true,
    });
  }
  return out;
}

function picState(): State[] {
  const out: State[] = [];
  for (const chip of ["master", "slave"] as const) {
    for (const reg of ["irr", "isr", "imr", "elcr"] as const) {
      out.push({
        pattern: `pic.${chip}.${reg}`,
        type: { kind: "int", min: 0, max: 0xff },
        doc: `8259A ${chip} ${reg.toUpperCase()}`,
        get: (vm) => vm.pic?.[chip][reg] ?? 0,
      });
    }
  }
  return out;
}

// ---- the platform ----------------------------------------------------------------

const SETTINGS: SettingSpec[] = [
  {
    name: "arch",
    doc: "the architecture",
    value: { kind: "enum", values: ["x86_64"], default: "x86_64" },
  },
  {
    name: "hypervisor",
    doc: "whose behaviour to model: KVM; Xen (an HVM domain with a 48-pin vIOAPIC, a PVH " +
      "or a PV one); or KVM's Xen emulation with a VMM (kvm-xen). Xen and kvm-xen differ where Xen " +
      "and Linux/QEMU differ; block: { guest 64|32  max_evtchn_port N  domain hvm|pvh|pv  " +
      "kvm_runstate copy_on_set|next_update  kvm_wallclock N  vpt_align 0|1 }",
    value: { kind: "enum", values: X86_HYPERVISORS, default: X86_HYPERVISORS[0] },
    // Xen-only knobs live in the hypervisor's block: `hypervisor xen { guest 32 }`.
    block: [
      {
        name: "guest",
        doc: "Xen guests: 64 or 32, the word size the shared_info layout starts latched to",
        value: { kind: "int", min: 32, max: 64, default: 64 },
      },
      {
        name: "max_evtchn_port",
        doc: "hypervisor xen: the toolstack's port cap (xl max_event_channels, default 1023); " +
          "kvm-xen has no cap below the 2-level limit",
        value: { kind: "int", min: 1, max: 131071, default: 1023 },
      },
      {
        name: "domain",
        doc: "hypervisor xen: the domain type (xl type=): hvm (default; vPIC, vIOAPIC, vLAPIC) " +
          "or pvh (a vLAPIC only, Xen emulation_flags_ok: the upcall is a LAPIC vector; a " +
          "GSI or PCI INTx callback is ignored, hvm_set_callback_via; I/O APIC and PIC " +
          "accesses reach Xen's null handler, reads all ones, hvmemul_do_io) or pv (no " +
          "LAPIC, PIC or IOAPIC: the upcall is the event callback, taken when " +
          "evtchn_upcall_pending is set and evtchn_upcall_mask clear, whatever RFLAGS.IF " +
          "says; Xen sets the mask on entry and HYPERVISOR_iret restores it; HVMOPs -EINVAL)",
        value: { kind: "enum", values: ["hvm", "pvh", "pv"], default: "hvm" },
      },
      {
        name: "kvm_runstate",
        doc: "hypervisor kvm-xen: how KVM_XEN_VCPU_SET_ATTR(RUNSTATE_ADDR) takes an area, by " +
          "kernel version: copy_on_set (default; current KVM, two gfn_to_pfn_caches: the area " +
          "may cross a page and kvm_xen_update_runstate_guest copies it at once) or " +
          "next_update (older KVM, one cache: an area crossing a page is -EINVAL and nothing " +
          "is copied before the next runstate update, at the latest the vCPU's next entry)",
        value: { kind: "enum", values: ["copy_on_set", "next_update"], default: "copy_on_set" },
      },
      {
        name: "kvm_wallclock",
        doc: "hypervisor kvm-xen: the VMM host's wall time at the VM's kvmclock 0, in seconds " +
          "since 1970 (kvm_get_wall_clock_epoch: realtime minus kvmclock), which " +
          "KVM_XEN_ATTR_TYPE_SHARED_INFO writes into shared_info's wc (wc_sec, wc_sec_hi; " +
          "wc_nsec 0) with wc_version made odd, then even (kvm_xen_shared_info_init). A value " +
          "of the scenario's, since the model reads no clock",
        value: { kind: "int", min: 0, max: 2 ** 40, default: 0 },
      },
      {
        name: "vpt_align",
        doc: "hypervisor xen: HVM_PARAM_VPT_ALIGN (xl vpt_align): 1 (xl's default) puts a " +
          "periodic vLAPIC timer's first tick on a multiple of its period in Xen's time " +
          "(align_timer; Xen's time is the guest's here), 0 puts it off by half the delay " +
          "asked for (create_periodic_time: the LAPIC's ticks offset from the other timers')",
        value: { kind: "int", min: 0, max: 1, default: 1 },
      },
    ],
  },
  {
    name: "vcpus",
    doc: "number of vCPUs (APIC IDs 0..n-1)",
    value: { kind: "int", min: 1, max: 255, default: 1 },
  },
  {
    name: "cpu_mode",
    doc: "the guest's operating mode: long (64-bit, as an x86_64 OS or kvm-unit-tests' " +
      "x86_64 build runs) or protected (32-bit protected mode, the i386 build); INTO is " +
      "invalid in 64-bit mode (#UD)",
    value: { kind: "enum", values: ["long", "protected"], default: "long" },
  },
  {
    name: "irqchip",
    doc: "KVM irqchip mode: kernel (KVM_CREATE_IRQCHIP), split (KVM_CAP_SPLIT_IRQCHIP, 24 " +
      "reserved I/O APIC pins) or userspace (no in-kernel LAPIC, PIC or I/O APIC)",
    value: { kind: "enum", values: ["kernel", "split", "userspace"], default: "kernel" },
  },
  {
    name: "lapic",
    doc: "local APIC mode every vCPU starts in: xapic, or x2apic (IA32_APIC_BASE EN|EXTD, " +
      "32-bit IDs, MSR access only)",
    value: { kind: "enum", values: ["xapic", "x2apic"], default: "xapic" },
  },
  {
    name: "x2apic_api",
    doc: "KVM_CAP_X2APIC_API flags, enabled before the vCPUs: 1 KVM_X2APIC_API_USE_32BIT_IDS, " +
      "2 KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK, 4 KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST " +
      "(split irqchip only: directed EOI offered, and SVR bit 12 stops the EOI exit), " +
      "8 KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST (directed EOI neither offered nor " +
      "honoured), or a sum; 0 (default) the capability unused, KVM's quirked legacy: a split " +
      "irqchip offers directed EOI yet every EOI of a routed level vector exits, the in-kernel " +
      "I/O APIC is offered none (Linux 6.19 lapic.c kvm_lapic_advertise_suppress_eoi_broadcast, " +
      "kvm_lapic_suppress_eoi_broadcast)",
    value: { kind: "int", min: 0, max: X2APIC_API_VALID_FLAGS, default: 0 },
  },
  {
    name: "hyperv_synic",
    doc: "the VMM set Hyper-V's CPUID leaves and enabled on every vCPU 1: KVM_CAP_HYPERV_SYNIC, " +
      "or 2: KVM_CAP_HYPERV_SYNIC2 (kvm_hv_activate_synic): the guest has the SynIC MSRs " +
      "(SCONTROL 0x40000080, SVERSION, SIEFP, SIMP, EOM 0x40000084, SINT0-15 " +
      "0x40000090-0x4000009f, every SINT masked at first; an unmasked vector below 16 #GPs) " +
      "and the synthetic timers (STIMER0_CONFIG 0x400000b0..); a vector of an unmasked SINT " +
      "with AutoEOI (bit 17) is taken without entering ISR, whoever sent it " +
      "(kvm_apic_ack_interrupt). The two differ where a guest write enables SIMP or SIEFP: " +
      "SYNIC zeroes the page, SYNIC2 leaves it as it is. 0 (default): no SynIC, its MSRs #GP",
    value: { kind: "int", min: 0, max: 2, default: 0 },
  },
  {
    name: "hyperv_cpuid",
    doc: "1: the VMM set Hyper-V's CPUID leaves with KVM_SET_CPUID2 (vcpu->arch.hyperv_enabled): " +
      "the guest has HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL (the hypercall page), " +
      "HV_X64_MSR_TIME_REF_COUNT and VP_INDEX, and Hyper-V hypercalls ('hyperv hypercall'); " +
      "'hyperv_synic' implies it. 0 (default): every Hyper-V MSR #GPs",
    value: { kind: "int", min: 0, max: 1, default: 0 },
  },
  {
    name: "split_pins",
    doc: "irqchip split: KVM_CAP_SPLIT_IRQCHIP args[0], the GSIs below it belong to " +
      "userspace's I/O APIC (their level MSI routes' EOIs exit); current KVM refuses more " +
      "than KVM_MAX_IRQ_ROUTES (4096) with -EINVAL (older kernels: more than " +
      "MAX_NR_RESERVED_IOAPIC_PINS, 48); QEMU passes 24",
    value: { kind: "int", min: 0, max: KVM_MAX_IRQ_ROUTES, default: 24 },
  },
  {
    name: "tsc_khz",
    doc: "KVM_SET_TSC_KHZ on the VM before its vCPUs (KVM_CAP_VM_TSC_CONTROL, default_tsc_khz; " +
      "QEMU's -cpu tsc-frequency= sets it per vCPU at creation): every vCPU's TSC rate in kHz. " +
      `0 (default): the host's ${HOST_TSC_KHZ} kHz, the model's ns. The guest's TSC counts from ` +
      "0 at the VM's creation at this rate, scaled by a 16.48 ratio (an Intel host), unless " +
      `within ${TSC_TOLERANCE_PPM} ppm of the host's rate, where KVM does not scale and the TSC ` +
      "runs at the host's; KVM_GET_TSC_KHZ, HV_X64_MSR_TSC_FREQUENCY and the TSC-deadline " +
      "timer's conversion take the rate as set, the Hyper-V reference page's scale the scaled " +
      `rate. ${MAX_GUEST_TSC_KHZ} and up is KVM's -EINVAL. Not for Xen guests (their time ` +
      "records keep the 1 GHz TSC)",
    value: { kind: "int", min: 0, max: 0xffff_ffff, default: 0 },
  },
  {
    name: "split_ioapic",
    doc: "irqchip split: whose I/O APIC userspace has. none (default): the scenario is the VMM " +
      "and plays it with KVM's ioctls (KVM_SET_GSI_ROUTING, KVM_IRQ_LINE, KVM_SIGNAL_MSI, the " +
      "KVM_EXIT_IOAPIC_EOI exits); qemu: QEMU's hw/intc/ioapic.c, version 0x20 with the EOI " +
      `register, ${QEMU_IOAPIC_PINS} pins: ${QEMU_IOAPIC_PINS} MSI routes (GSI = pin) reserved ` +
      "at creation (kvm_arch_init_irq_routing), a guest access at 0xfec00000 is a " +
      "KVM_EXIT_MMIO it answers, each entry write updates the route of every unmasked entry " +
      "(a masked one keeps its old route) and commits the whole table (KVM_SET_GSI_ROUTING), " +
      "a device's line on its pins is ioapic_set_irq (GSI 0 is pin 2), which sends with " +
      "KVM_IRQ_LINE (edge: 1 then 0; level: 1 and remote IRR set, accepted or not), and each " +
      "KVM_EXIT_IOAPIC_EOI, like a write of its EOI register, is ioapic_eoi_broadcast (level " +
      "entries of the vector only: remote IRR cleared, sent again while the line is high). An " +
      "ExtINT entry (vector from QEMU's 8259) is an input error; block: { version 0x20|0x11 }",
    value: { kind: "enum", values: ["none", "qemu"], default: "none" },
    block: [
      {
        name: "version",
        doc: "split_ioapic qemu: the device's version property (-global ioapic.version=): " +
          "0x20 (default) or 0x11 (machine types up to pc-*-2.7, hw_compat_2_7), which " +
          "IOAPICVER reads and which has no EOI register (a write of +0x40 does nothing)",
        value: { kind: "int", min: 0x11, max: 0x20, default: 0x20 },
      },
    ],
  },
  {
    name: "ioapic_version",
    doc: "IOAPICVER bits 7:0 of the in-kernel I/O APIC: 0x11 (KVM's 82093AA, no EOI register) " +
      "or 0x20 (QEMU's userspace I/O APIC and the ICH's, with the EOI register at +0x40)",
    value: { kind: "int", min: 0x11, max: 0x20, default: 0x11 },
  },
  {
    name: "pic_special_mask",
    doc: "whether the PIC applies OCW3 special mask mode: architectural (default; the 8259A " +
      "datasheet, QEMU's pic_get_irq: an in-service level that is also masked stops blocking " +
      "lower levels) or kvm (KVM's in-kernel PIC: pic_get_irq in arch/x86/kvm/i8259.c keeps " +
      "the OCW3 bit and reports it in KVM_GET_IRQCHIP, but every in-service level still blocks)",
    value: { kind: "enum", values: ["architectural", "kvm"], default: "architectural" },
  },
  {
    name: "boot_cpu",
    doc: "KVM_SET_BOOT_CPU_ID made before the vCPUs (kvm_arch_vm_ioctl): the vCPU ID of the " +
      "BSP (IA32_APIC_BASE.BSP, LINT0 ExtINT, the one vCPU 'aps wait-for-sipi' leaves " +
      "running); an ID no vCPU has leaves none. KVM refuses more than KVM_MAX_VCPU_IDS " +
      "(16384) with -EINVAL. After the vCPUs, `kvm set_boot_cpu_id` is -EBUSY",
    value: { kind: "int", min: 0, max: KVM_MAX_VCPU_IDS, default: 0 },
  },
  {
    name: "aps",
    doc: "how vCPUs 1.. start: running (default: as if firmware had started them) or " +
      "wait-for-sipi (KVM_MP_STATE_UNINITIALIZED until INIT and SIPI, as KVM creates them)",
    value: { kind: "enum", values: ["running", "wait-for-sipi"], default: "running" },
  },
  {
    name: "lowest_priority",
    doc:
      "how lowest-priority messages pick a target: KVM's vector hashing, or QEMU TCG's first match",
    value: { kind: "enum", values: ["kvm-vector-hashing", "first"], default: "kvm-vector-hashing" },
  },
  {
    name: "routing",
    doc: "initial GSI routing: KVM's default, or QEMU's (ISA IRQ0 on IOAPIC pin 2)",
    value: { kind: "enum", values: ["kvm", "qemu"], default: "kvm" },
  },
  {
    name: "apic_bus_cycle_ns",
    doc: "KVM_ENABLE_CAP(KVM_CAP_X86_APIC_BUS_CYCLES_NS) made before the vCPUs " +
      "(kvm_vm_ioctl_enable_cap): the APIC bus cycle in ns, which clocks the LAPIC timer " +
      "(default 1, KVM's 1 GHz APIC_BUS_CYCLE_NS_DEFAULT); at most 2^25, beyond which " +
      "U32_MAX * 128 cycles overflow 64 bits of ns (-EINVAL); needs an in-kernel irqchip " +
      "(-ENXIO). After the vCPUs, `kvm enable_cap` is -EINVAL",
    value: { kind: "int", min: 1, max: 2 ** 25, default: 1 },
  },
  {
    name: "irqfd_eventfd",
    doc: "whom KVM_IRQFD's irqfd excludes from its eventfd, by kernel version: exclusive " +
      "(default; Linux 6.17 on: the irqfd is the eventfd's one priority waiter in all of the " +
      "host, kvm_irqfd_register -> add_wait_queue_priority_exclusive, so an eventfd another " +
      "VM's irqfd holds is -EBUSY; the scenario's fd numbers name one VMM process's eventfds) " +
      "or per_vm (older kernels: only the VM's own irqfds are checked). Either way a `signal` " +
      "reaches the irqfds of the VM it is written in",
    value: { kind: "enum", values: ["exclusive", "per_vm"], default: "exclusive" },
  },
  {
    name: "apicv",
    doc: "hardware APIC virtualization KVM uses: none (default: KVM emulates every xAPIC " +
      "access, as Intel's APICv looks to the guest) or amd_avic (AMD AVIC active: xAPIC writes " +
      "land in the AVIC backing page, which keeps all of ICR2 where KVM keeps only bits 31:24; " +
      "the EOI of an edge vector does not exit, so no edge I/O APIC pin is acked at EOI and an " +
      "RTC tick counts as EOI'd only when an edge pin is next raised (ioapic_lazy_update_eoi); " +
      "KVM's AVIC inhibits, such as x2APIC in a vCPU's CPUID without x2AVIC, are not modelled: " +
      "the setting says AVIC is on)",
    value: { kind: "enum", values: ["none", "amd_avic"], default: "none" },
  },
  {
    name: "host_cpu",
    doc: "the host CPU's vendor, which KVM's vendor module follows: intel (default; kvm_intel, " +
      "VMX: VMCALL 0f 01 c1 is the native hypercall) or amd (kvm_amd, SVM: VMMCALL 0f 01 d9). " +
      "The other vendor's hypercall raises #UD, which KVM intercepts and emulates " +
      "(vcpu's `vmcall at=`: KVM_X86_QUIRK_FIX_HYPERCALL_INSN); KVM's Hyper-V hypercall " +
      "page and Xen's and kvm-xen's hypercall pages hold the host's instruction, and " +
      "KVM_X86_GET_MCE_CAP_SUPPORTED's answer (no MCG_LMCE_P or MCG_CMCI_P on amd) follows it " +
      "too; 'apicv amd_avic' needs amd",
    value: { kind: "enum", values: ["intel", "amd"], default: "intel" },
  },
  {
    name: "kvm_master_clock",
    doc: "1: the host's clocksource is a stable TSC, so KVM keeps its master clock " +
      "(use_master_clock): KVM_GET_CLOCK reports KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | " +
      "KVM_CLOCK_HOST_TSC with the host's realtime, and kvm-xen time records carry " +
      "PVCLOCK_TSC_STABLE_BIT (unless KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE); 0 (default): " +
      "no master clock, KVM_GET_CLOCK flags 0 and no realtime, time records' flags 0",
    value: { kind: "int", min: 0, max: 1, default: 0 },
  },
  {
    name: "kvm_caps",
    doc: "the Linux release whose KVM_CHECK_EXTENSION answers `kvm check_extension` gives " +
      "(lib/x86/kvm_caps.ts): newest (default; the stored Linux snapshot), linux_6_11 (6.11: added " +
      "KVM_CAP_X86_APIC_BUS_CYCLES_NS, answering 1 on a VM's fd too; KVM_CAP_X2APIC_API " +
      "without the suppress-EOI-broadcast flags) or linux_6_10 (6.10: no KVM_CAP_X86_APIC_BUS_CYCLES_NS). " +
      "KVM_ENABLE_CAP and the apic_bus_cycle_ns and x2apic_api settings keep to what it offers",
    value: { kind: "enum", values: [...KVM_CAPS_RELEASES], default: "newest" },
  },
];

/**
 * Named values of x86 results and state: `GP`, what an instruction that
 * raised #GP returns; KVM's MP states and exit reasons by their uapi names.
 */
const X86_CONSTANTS: Record<string, number> = {
  GP: GP_FAULT,
  UD: UD_FAULT,
  MSR_KVM_PV_EOI_EN,
  KVM_MP_STATE_RUNNABLE: MpState.Runnable,
  KVM_MP_STATE_UNINITIALIZED: MpState.Uninitialized,
  KVM_MP_STATE_INIT_RECEIVED: MpState.InitReceived,
  KVM_MP_STATE_HALTED: MpState.Halted,
  KVM_MP_STATE_SIPI_RECEIVED: MpState.SipiReceived,
  KVM_EXIT_HLT: KvmExit.Hlt,
  KVM_EXIT_MMIO: KvmExit.Mmio,
  KVM_EXIT_IRQ_WINDOW_OPEN: KvmExit.IrqWindowOpen,
  KVM_EXIT_SHUTDOWN: KvmExit.Shutdown,
  ...EXCEPTION_CONSTANTS,
  KVM_EXIT_IOAPIC_EOI: KvmExit.IoapicEoi,
  KVM_EXIT_HYPERV: KvmExit.Hyperv,
  KVM_EXIT_SYSTEM_EVENT: KvmExit.SystemEvent,
  KVM_SYSTEM_EVENT_RESET: KVM_SYSTEM_EVENT.RESET,
  KVM_SYSTEM_EVENT_CRASH: KVM_SYSTEM_EVENT.CRASH,
};

const HANDLER_EVENTS: HandlerEventSpec[] = [
  {
    name: "vector",
    doc: "a maskable interrupt with this vector (from the LAPIC or, as ExtINT, the PIC), an " +
      "INT n, or an exception (0-31; vcpuN.error_code reads its error code)",
    takesValue: true,
    binds: [{ name: "vector", doc: "the vector taken", from: "vector" }],
  },
  { name: "nmi", doc: "a non-maskable interrupt", takesValue: false },
  {
    name: "event_callback",
    doc: "a Xen PV guest's upcall: Xen's bounce to its event callback (entry.S " +
      "test_guest_events, create_bounce_frame), which sets evtchn_upcall_mask; the " +
      "handler's return is HYPERVISOR_iret, which restores it",
    takesValue: false,
  },
];

// ---- Xen -------------------------------------------------------------------------

const needXen = (s: Readonly<Record<string, Val>>) =>
  s.hypervisor === "kvm"
    ? "needs a Xen guest: add 'hypervisor xen' or 'hypervisor kvm-xen' to the vm block"
    : undefined;

/**
 * KVM's Xen ioctls, the VMM's vcpu_info copy and answer to a hypercall exit,
 * and the raw hypercall (its point is the exit), exist only where KVM
 * emulates Xen.
 */
const KVM_XEN_ONLY = new Set([
  "kvm xen_evtchn_send",
  "kvm xen_hvm_config",
  "kvm xen_set_attr",
  "kvm xen_vcpu_set_attr",
  "kvm xen_get_attr",
  "kvm xen_vcpu_get_attr",
  "kvm xen_vcpu_set_timer",
  "kvm xen_evtchn_attr",
  "kvm xen_hcall_result",
  "kvm xen_vcpu_set_runstate",
  "kvm xen_vcpu_get_runstate",
  "kvm userspace_exit",
  "kvm sched_out",
  "xen copy_vcpu_info",
  "xen hypercall",
]);

const needKvmXen = (s: Readonly<Record<string, Val>>) =>
  s.hypervisor === "kvm-xen"
    ? undefined
    : s.hypervisor === "xen"
    ? "belongs to KVM's Xen emulation, and Xen has no KVM: use 'hypervisor kvm-xen'"
    : "needs KVM's Xen emulation: add 'hypervisor kvm-xen' to the vm block";

const XEN_COMMANDS: Cmd[] = xenCommands<X86Vm>().map((c) => ({
  ...c,
  backend: "xen",
  requires: KVM_XEN_ONLY.has(c.name) ? needKvmXen : needXen,
}));

const XEN_STATE: State[] = xenState<X86Vm>().map((p) => ({
  ...p,
  requires: kvmXenOnlyPath(p.pattern) ? needKvmXen : needXen,
  bounds: p.bounds ?? (p.pattern.startsWith("vcpu#") ? vcpuBound : undefined),
}));

/**
 * Xen has no KVM: under `hypervisor xen` a KVM ioctl (a `kvm ...` VMM
 * command other than KVM's Xen ones, which say so themselves) is refused
 * where it is written. Xen's device model drives an HVM domain's interrupts
 * through Xen (XEN_DMOP_set_isa_irq_level, _set_pci_intx_level,
 * _inject_msi): the `device` commands.
 */
function notUnderXen(c: X86Command): X86Command {
  if (!c.name.startsWith("kvm ") || KVM_XEN_ONLY.has(c.name)) return c;
  const own = c.requires;
  return {
    ...c,
    requires: (s) =>
      s.hypervisor === "xen"
        ? "is a KVM ioctl, and Xen has no KVM (its device model drives interrupts through " +
          "Xen's XEN_DMOP_* calls): use a 'device' command, or 'hypervisor kvm-xen'"
        : own?.(s),
  };
}

/**
 * A vCPU's `mem read` / `mem write` that also reaches its LAPIC page and the
 * I/O APIC window outside RAM (`lib/x86/guest_mmio.ts`), with the VM exit
 * such an access is. Either may be reached, so the footprint is everything.
 */
function reachingMmio(c: Cmd): Cmd {
  const ram = c.run;
  const doc = c.name === "mem read"
    ? "; outside RAM, the vCPU's xAPIC page at IA32_APIC_BASE and the I/O APIC at 0xfec00000 " +
      "answer as KVM's apic_mmio_read / ioapic_mmio_read do"
    : "; outside RAM, reaches the vCPU's xAPIC page at IA32_APIC_BASE (aligned u32 only, " +
      "apic_mmio_write) and the I/O APIC at 0xfec00000 (ioapic_mmio_write)";
  return {
    ...c,
    doc: c.doc + doc,
    touches: undefined,
    run: (vm, cpu, a, source) => {
      const addr = a.addr as number;
      // Guest RAM (a memslot) wins over any device: mmioTarget and userspaceMmio say null there.
      if (addr < vm.memorySize) return ram(vm, cpu, a, source);
      const w = ACCESS_SIZES[a.size as string];
      const target = mmioTarget(vm, cpu, addr);
      if (target === null) {
        const why = userspaceMmio(vm, cpu, addr);
        if (why !== null) throw new CommandInputError(why);
        return ram(vm, cpu, a, source);
      }
      vm.cpus[cpu].vmExit();
      if (c.name === "mem read") {
        const v = mmioRead(vm, cpu, target, addr, w);
        // Values travel as numbers below 2^53, as guest RAM's do.
        return typeof v === "bigint" ? toInt(v) : v;
      }
      mmioWrite(vm, cpu, target, addr, w, BigInt(a.value as bigint));
    },
  };
}

/**
 * Every x86 command, each with its traits: whether it exits to the
 * hypervisor, what VMs have it, how a real-VM backend runs it.
 *
 * @example
 * ```ts
 * X86_COMMANDS.filter((c) => c.exits).map((c) => c.name); // ["hlt", "eoi", ...]
 * ```
 */
export const X86_COMMANDS: readonly X86Command[] = [
  ...VCPU_COMMANDS.map((c) => c === EOI_COMMAND || c === PV_EOI_COMMAND ? c : started(exiting(c))),
  ...VMM_COMMANDS,
  ...VMM_IOCTL_COMMANDS,
  ...MCE_COMMANDS,
  ...CPUID_COMMANDS.map(exiting).map(started),
  ...KVM_HYPERCALL_COMMANDS.map(exiting).map(started),
  ...HYPERV_COMMANDS.map((c) => c.actor === "vcpu" ? started(exiting(c)) : c),
  ...DEVICE_COMMANDS,
  ...XEN_COMMANDS,
  ...guestMemoryCommands<X86Vm>((vm) => vm.memory()).map((c): Cmd => {
    const entry: Cmd = { ...c, backend: "guest memory" };
    return c.actor === "vcpu" ? started(reachingMmio(entry)) : entry;
  }),
].map(notUnderXen);

/**
 * The x86 platform.
 *
 * @example
 * ```ts
 * x86Platform.commands.find((c) => c.name === "eoi")!.doc;
 * ```
 */
export const x86Platform: Platform<X86Vm> = {
  arch: X86_ARCH,
  settings: SETTINGS,
  commands: X86_COMMANDS,
  state: [
    ...cpuState(),
    ...lapicState().map((p) => ({ ...p, requires: needKernelLapicSetting })),
    ...ioapicState().map((p) => ({ ...p, requires: needEmulatedChips })),
    ...picState().map((p) => ({ ...p, requires: needEmulatedChips })),
    ...XEN_STATE,
    ...VMM_IOCTL_STATE,
    ...HYPERV_STATE,
    ...guestMemoryState<X86Vm>((vm) => vm.memory(), (vm) => vm.memorySize),
  ],
  // The LAPIC's vector registers and priorities, the vCPU's flags, the
  // IOAPIC's per-pin state: what KVM_GET_LAPIC, the vCPU's own state and
  // KVM_GET_IRQCHIP report, so the model and a real VM compare.
  observables: [
    "vcpu#.lapic.irr",
    "vcpu#.lapic.isr",
    "vcpu#.lapic.tmr",
    "vcpu#.lapic.tpr",
    "vcpu#.lapic.ppr",
    "vcpu#.halted",
    "vcpu#.if",
    "ioapic.pin[#].remote_irr",
    "ioapic.pin[#].mask",
  ],
  handlerEvents: HANDLER_EVENTS,
  // Constants are names, not features: the Xen errno names are usable anywhere.
  constants: {
    EINVAL,
    ENXIO,
    EEXIST,
    EBUSY,
    ...XEN_CONSTANTS,
    ...X86_CONSTANTS,
    ...VMM_IOCTL_CONSTANTS,
    ...MCE_CONSTANTS,
    ...KVM_CAP_NUMBERS,
    ...KVM_HYPERCALL_CONSTANTS,
    ...KVM_QUIRK_CONSTANTS,
    ...HYPERV_CONSTANTS,
    ...TSC_CONSTANTS,
  },
  // `xen` is the hypervisor itself (a peer domain's send, a VIRQ, a PIRQ).
  actors: ["vmm", "xen"],
  vcpuCount: (s) => s.vcpus as number,
  checkSettings: (s) => {
    const guest = s["hypervisor.guest"];
    const cap = s["hypervisor.max_evtchn_port"];
    if (guest !== 64 && guest !== 32) return `'guest' is 64 or 32, not ${guest}`;
    // A knob that does nothing for the chosen hypervisor is refused, not ignored.
    if (s.hypervisor === "kvm" && (guest !== 64 || cap !== 1023)) {
      return "'guest' and 'max_evtchn_port' describe a Xen guest: use 'hypervisor xen' or 'kvm-xen'";
    }
    if (s.hypervisor === "kvm-xen" && cap !== 1023) {
      return "'max_evtchn_port' is Xen's toolstack cap; KVM's Xen emulation has none " +
        "(ports go up to the 2-level limit): use 'hypervisor xen'";
    }
    if (s.hypervisor === "kvm-xen" && s.irqchip === "userspace") {
      return "KVM's Xen emulation delivers through the in-kernel LAPIC: use 'irqchip kernel' " +
        "or 'irqchip split' with 'hypervisor kvm-xen'";
    }
    if (s.irqchip === "userspace" && (s.lapic !== "xapic" || s.aps !== "running")) {
      return "'irqchip userspace' has no in-kernel LAPIC: 'lapic x2apic' and " +
        "'aps wait-for-sipi' need 'irqchip kernel' or 'split'";
    }
    if (s.irqchip === "userspace" && s.apic_bus_cycle_ns !== 1) {
      return "'apic_bus_cycle_ns' sets the in-kernel LAPIC's bus cycle: KVM answers -ENXIO " +
        "without an in-kernel irqchip ('irqchip kernel' or 'split')";
    }
    const release = s.kvm_caps as KvmCapsRelease;
    const CAP_BUS_CYCLES = KVM_CAP_NUMBERS.KVM_CAP_X86_APIC_BUS_CYCLES_NS;
    const CAP_X2APIC_API = KVM_CAP_NUMBERS.KVM_CAP_X2APIC_API;
    const BUS1 = { apicBusCycleNs: 1, irqchipSplit: s.irqchip === "split" };
    if (s.apic_bus_cycle_ns !== 1 && !checkExtension(CAP_BUS_CYCLES, release, "system", BUS1)) {
      return `'apic_bus_cycle_ns' is KVM_CAP_X86_APIC_BUS_CYCLES_NS, which ${release} ` +
        "does not have ('kvm_caps linux_6_11' or newer)";
    }
    const api = x2apicApiRefusal(s.x2apic_api as number, s.irqchip as IrqchipMode);
    if (api !== undefined) {
      return `'x2apic_api ${s.x2apic_api}': KVM_CAP_X2APIC_API refuses ${api} with -EINVAL ` +
        "(send 'kvm enable_cap' to see the error)";
    }
    const offered = checkExtension(CAP_X2APIC_API, release, "vm", BUS1)!;
    if (((s.x2apic_api as number) & ~offered) !== 0) {
      return `'x2apic_api ${s.x2apic_api}': ${release} offers KVM_CAP_X2APIC_API flags ` +
        `${offered} only (KVM_CHECK_EXTENSION)`;
    }
    if (s.apicv === "amd_avic" && (s.hypervisor !== "kvm" || s.irqchip === "userspace")) {
      return "'apicv amd_avic' is KVM's use of AMD AVIC, which needs KVM's in-kernel LAPIC: " +
        "use 'hypervisor kvm' with 'irqchip kernel' or 'split'";
    }
    if (s.apicv === "amd_avic" && s.host_cpu !== "amd") {
      return "'apicv amd_avic' is AMD's AVIC: it needs 'host_cpu amd'";
    }
    if (s.kvm_master_clock === 1 && s.hypervisor === "xen") {
      return "'kvm_master_clock' is KVM's clock: use 'hypervisor kvm' or 'kvm-xen'";
    }
    if (s.hyperv_synic !== 0 && (s.hypervisor === "xen" || s.irqchip === "userspace")) {
      return "'hyperv_synic' is KVM's Hyper-V SynIC, which needs KVM's in-kernel LAPIC: use " +
        "'hypervisor kvm' or 'kvm-xen' with 'irqchip kernel' or 'split'";
    }
    if (s.hyperv_cpuid === 1 && s.hypervisor === "xen") {
      return "'hyperv_cpuid' is KVM's Hyper-V emulation: use 'hypervisor kvm' or 'kvm-xen'";
    }
    if (s.irqchip !== "split" && s.split_pins !== 24) {
      return "'split_pins' is KVM_CAP_SPLIT_IRQCHIP's argument: it needs 'irqchip split'";
    }
    if ((s.tsc_khz as number) >= MAX_GUEST_TSC_KHZ) {
      return `'tsc_khz ${s.tsc_khz}': KVM_SET_TSC_KHZ is -EINVAL from ${MAX_GUEST_TSC_KHZ} ` +
        "(max_guest_tsc_khz) up";
    }
    if (s.tsc_khz !== 0 && s.hypervisor !== "kvm") {
      return "'tsc_khz' is not modelled for Xen guests (their time records keep the 1 GHz " +
        "TSC): use 'hypervisor kvm'";
    }
    if (s.split_ioapic !== "none" && (s.irqchip !== "split" || s.hypervisor !== "kvm")) {
      return "'split_ioapic' is the userspace I/O APIC of a split irqchip: it needs " +
        "'irqchip split' and 'hypervisor kvm'";
    }
    const qemuVersion = s["split_ioapic.version"];
    if (qemuVersion !== 0x20 && (s.split_ioapic !== "qemu" || qemuVersion !== 0x11)) {
      return s.split_ioapic !== "qemu"
        ? "'version' is a property of QEMU's I/O APIC: it needs 'split_ioapic qemu'"
        : `QEMU's I/O APIC is version 0x11 or 0x20 (ioapic_realize), not 0x${
          (qemuVersion as number).toString(16)
        }`;
    }
    if (s.split_ioapic === "qemu" && s.ioapic_version !== 0x11) {
      return "'ioapic_version' is the in-kernel I/O APIC's; QEMU's under 'split_ioapic qemu' " +
        "is 0x20 unless its block says 'version 0x11'";
    }
    if (s.ioapic_version !== 0x11 && s.ioapic_version !== 0x20) {
      return `'ioapic_version' is 0x11 or 0x20, not 0x${(s.ioapic_version as number).toString(16)}`;
    }
    if (s.hypervisor !== "kvm-xen" && s["hypervisor.kvm_runstate"] !== "copy_on_set") {
      return "'kvm_runstate' chooses a KVM version's handling of KVM_XEN_VCPU_SET_ATTR: use " +
        "'hypervisor kvm-xen'";
    }
    if (s.hypervisor !== "kvm-xen" && s["hypervisor.kvm_wallclock"] !== 0) {
      return "'kvm_wallclock' is the wall time KVM's Xen emulation writes into shared_info: " +
        "use 'hypervisor kvm-xen'";
    }
    if (s.hypervisor !== "xen" && s["hypervisor.vpt_align"] !== 1) {
      return "'vpt_align' places the ticks of Xen's periodic vLAPIC timer: use 'hypervisor xen'";
    }
    if (s.hypervisor !== "xen" && s["hypervisor.domain"] !== "hvm") {
      return "'domain' chooses the type of a Xen domain, and KVM's Xen emulation runs HVM " +
        "guests only: use 'hypervisor xen'";
    }
    if (s["hypervisor.domain"] === "pv" && (s.lapic !== "xapic" || s.aps !== "running")) {
      return "a Xen PV guest has no LAPIC: 'lapic x2apic' and 'aps wait-for-sipi' need " +
        "'domain hvm' or 'pvh'";
    }
    if (s.hypervisor === "xen" && s.irqchip !== "kernel") {
      return "'hypervisor xen' always has the emulated vPIC and vIOAPIC: leave out 'irqchip split'";
    }
    return undefined;
  },
  create: (name, s, env) =>
    new X86Vm(name, {
      vcpus: s.vcpus as number,
      irqchip: s.irqchip as IrqchipMode,
      lapicMode: s.lapic as "xapic" | "x2apic",
      x2apicApi: s.x2apic_api as number,
      aps: s.aps as "running" | "wait-for-sipi",
      bootCpu: s.boot_cpu as number,
      lowestPriority: s.lowest_priority as "kvm-vector-hashing" | "first",
      routing: s.routing as "kvm" | "qemu",
      ioapicVersion: s.ioapic_version as number,
      picSpecialMask: s.pic_special_mask as PicSpecialMaskPolicy,
      splitPins: s.split_pins as number,
      splitIoapic: s.split_ioapic as "none" | "qemu",
      qemuIoapicVersion: s["split_ioapic.version"] as number,
      tscKhz: s.tsc_khz as number,
      hypervisor: s.hypervisor as "kvm" | "xen" | "kvm-xen",
      guestWidth: s["hypervisor.guest"] === 32 ? 32 : 64,
      maxEvtchnPort: s["hypervisor.max_evtchn_port"] as number,
      xenDomain: s["hypervisor.domain"] as "hvm" | "pvh" | "pv",
      kvmRunstateArea: s["hypervisor.kvm_runstate"] as "copy_on_set" | "next_update",
      kvmWallclockSec: s["hypervisor.kvm_wallclock"] as number,
      xenVptAlign: s["hypervisor.vpt_align"] !== 0,
      irqfdEventfd: s.irqfd_eventfd as "exclusive" | "per_vm",
      apicBusCycleNs: s.apic_bus_cycle_ns as number,
      hypervSynic: s.hyperv_synic as 0 | 1 | 2,
      hypervCpuid: s.hyperv_cpuid === 1,
      kvmCaps: s.kvm_caps as KvmCapsRelease,
      kvmMasterClock: s.kvm_master_clock === 1,
      amdAvic: s.apicv === "amd_avic",
      hostCpu: s.host_cpu as HostCpu,
      longMode: s.cpu_mode !== "protected",
    }, env),
  handlerMatches: (event, values, taken) => {
    if (event === "nmi" || event === "event_callback") return taken.kind === event;
    // A triple fault takes nothing: no handler runs.
    if (taken.kind === "nmi" || taken.kind === "event_callback" || taken.kind === "shutdown") {
      return false;
    }
    return values === null || values.includes(taken.vector);
  },
};
