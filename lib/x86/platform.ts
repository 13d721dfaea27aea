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
import type {
  Args,
  CommandSpec,
  FieldSpec,
  HandlerEventSpec,
  ParamSpec,
  RegisterFile,
  RegisterSpec,
  SettingSpec,
  StateSpec,
  Val,
} from "../core/table.ts";
import type { Platform } from "../interp/platform.ts";
import { vectorsOf } from "../core/vector_set.ts";
import { X86Vm, XEN_VIOAPIC_PINS } from "./vm.ts";
import {
  ICR_HIGH_FIELDS,
  ICR_LOW_FIELDS,
  LAPIC_REGISTERS,
  type LapicRegister,
} from "./lapic_registers.ts";
import { IoapicIndex, IoapicMmio, RTE_FIELDS } from "./ioapic.ts";
import { decodeField, encodeFields, joinWords, setField, splitWords } from "../core/bitfield.ts";
import { EEXIST, EINVAL, ENXIO } from "./errno.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { KVM_IOAPIC_NUM_PINS, type RoutingEntry } from "./kvm_routing.ts";
import { XEN_CONSTANTS, xenCommands, xenState } from "../xen/platform.ts";
import { KVM_XEN_PRIO_2LEVEL } from "../xen/kvm_xen.ts";

type Cmd = CommandSpec<X86Vm>;
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

/** IOAPIC registers by name (`ioapic.redtbl[14]`), reached through IOREGSEL/IOWIN. */
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
};

function lapicRegister(name: string): LapicRegister {
  return LAPIC_REGISTERS.find((r) => r.name === name)!;
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
      vm.cpus[cpu].lapic.write(lapicRegister(a.register.name).offset, Number(value & 0xffff_ffffn));
      return;
    }
    const io = vm.ioapic;
    if (!io) {
      if (trace.enabled) {
        trace.emit(source, "write.ignored", "no in-kernel IOAPIC in this irqchip mode");
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
    io.write(IoapicMmio.IOREGSEL, INDIRECT_INDEX[a.register.name]);
    io.write(IoapicMmio.IOWIN, Number(value & 0xffff_ffffn));
  } finally {
    trace.close(id);
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
    return vm.cpus[cpu].lapic.read(lapicRegister(a.register.name).offset);
  }
  const io = vm.ioapic;
  if (!io) return 0xffff_ffff;
  if (a.register.name === "redtbl") {
    checkPin(io.pins, a.index);
    io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index + 1);
    const hi = io.read(IoapicMmio.IOWIN);
    io.write(IoapicMmio.IOREGSEL, IoapicIndex.IOREDTBL + 2 * a.index);
    const lo = io.read(IoapicMmio.IOWIN);
    return joinWords(lo, hi);
  }
  io.write(IoapicMmio.IOREGSEL, INDIRECT_INDEX[a.register.name]);
  return io.read(IoapicMmio.IOWIN);
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

/** Runs `fn` with a root trace event for the action as the cause of what follows. */
function acting<T>(vm: X86Vm, source: string, kind: string, text: string, fn: () => T): T {
  const id = vm.trace.emit(source, kind, text);
  return vm.trace.within(id, fn);
}

const hex = (n: Val) =>
  typeof n === "number" || typeof n === "bigint" ? `0x${n.toString(16)}` : String(n);

/**
 * vCPU commands whose instruction exits to the hypervisor: I/O ports, APIC
 * MMIO (EOI included: no virtual-interrupt delivery is modelled) and HLT.
 * STI, CLI, NOP and guest-memory accesses stay in the guest; hypercalls
 * exit in `lib/xen`.
 */
const TRAPPING = new Set([
  "hlt",
  "eoi",
  "lapic enable",
  "lapic disable",
  "write",
  "read",
  "ipi",
  "out",
  "in",
]);

/** Makes a trapping command report its VM exit to the vCPU first (see {@link TRAPPING}). */
function exiting(c: Cmd): Cmd {
  if (!TRAPPING.has(c.name)) return c;
  const run = c.run;
  return {
    ...c,
    run: (vm, cpu, a, source) => {
      vm.cpus[cpu].vmExit();
      return run(vm, cpu, a, source);
    },
  };
}

const VCPU_COMMANDS: Cmd[] = [
  {
    actor: "vcpu",
    name: "sti",
    doc: "STI: set RFLAGS.IF; the next instruction still runs with interrupts blocked (STI shadow)",
    params: [],
    run: (vm, cpu) => vm.cpus[cpu].sti(),
  },
  {
    actor: "vcpu",
    name: "cli",
    doc: "CLI: clear RFLAGS.IF",
    params: [],
    run: (vm, cpu) => vm.cpus[cpu].cli(),
  },
  {
    actor: "vcpu",
    name: "hlt",
    doc: "HLT: halt until an interrupt that can be taken (or NMI/SMI/INIT) arrives",
    params: [],
    run: (vm, cpu) => vm.cpus[cpu].hlt(),
  },
  {
    actor: "vcpu",
    name: "nop",
    doc: "an instruction that does nothing (ends an STI shadow)",
    params: [],
    run: () => {},
  },
  {
    actor: "vcpu",
    name: "eoi",
    doc: "write the local APIC EOI register: clears the highest ISR bit",
    params: [],
    run: (vm, cpu) =>
      acting(vm, `vcpu${cpu}`, "write", "lapic.eoi <- 0", () => {
        vm.cpus[cpu].lapic.write(lapicRegister("eoi").offset, 0);
      }),
  },
  {
    actor: "vcpu",
    name: "lapic enable",
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
          vm.cpus[cpu].lapic.write(lapicRegister("svr").offset, 0x100 | (a.spurious as number));
        },
      ),
  },
  {
    actor: "vcpu",
    name: "lapic disable",
    doc: "software-disable the local APIC: clear SVR bit 8 (masks every LVT entry)",
    params: [{
      name: "spurious",
      type: VECTOR,
      doc: "the spurious-interrupt vector",
      default: 0xff,
    }],
    run: (vm, cpu, a) =>
      acting(vm, `vcpu${cpu}`, "write", `lapic.svr <- ${hex(a.spurious)}`, () => {
        vm.cpus[cpu].lapic.write(lapicRegister("svr").offset, a.spurious as number);
      }),
  },
  {
    actor: "vcpu",
    name: "write",
    doc:
      "write a LAPIC or IOAPIC register, whole (write lapic.tpr 0x50) or by fields (unnamed fields are 0)",
    params: [REGISTER],
    run: (vm, cpu, a) => writeRegister(vm, cpu, a),
  },
  {
    actor: "vcpu",
    name: "read",
    doc: "read a LAPIC or IOAPIC register as the guest would",
    params: [REGISTER],
    returns: "the register value",
    run: (vm, cpu, a) => readRegister(vm, cpu, a),
  },
  {
    actor: "vcpu",
    name: "ipi",
    doc: "send an IPI: write ICR high (destination) then ICR low, as a guest does",
    params: [
      { name: "vector", type: VECTOR, doc: "the vector", default: 0 },
      {
        name: "dest",
        type: { kind: "int", min: 0, max: 255, what: "an APIC ID" },
        doc: "destination (ICR high 31:24)",
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
      const lapic = vm.cpus[cpu].lapic;
      const high = encodeFields(ICR_HIGH_FIELDS, { dest: a.dest as number });
      const low = encodeFields(ICR_LOW_FIELDS, {
        vector: a.vector as number,
        delivery_mode: a.delivery_mode as string,
        dest_mode: a.dest_mode as string,
        level: a.level as number,
        trigger: a.trigger as string,
        shorthand: a.shorthand as string,
      });
      acting(
        vm,
        `vcpu${cpu}`,
        "write",
        `lapic.icr_high <- ${hex(high)}, lapic.icr_low <- ${hex(low)}`,
        () => {
          lapic.write(lapicRegister("icr_high").offset, high);
          lapic.write(lapicRegister("icr_low").offset, low);
        },
      );
    },
  },
  {
    actor: "vcpu",
    name: "out",
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
    doc:
      "model probe: run the LAPIC acknowledge cycle now (returns the spurious vector if nothing is above PPR)",
    params: [],
    returns: "the vector acknowledged",
    run: (vm, cpu) => vm.cpus[cpu].lapic.acknowledge(),
  },
];

function isPicPort(p: number): boolean {
  return p === 0x20 || p === 0x21 || p === 0xa0 || p === 0xa1 || p === 0x4d0 || p === 0x4d1;
}

const ROUTE_PARAMS: readonly ParamSpec[] = [
  { name: "gsi", type: GSI, doc: "the GSI this entry routes" },
  {
    name: "type",
    type: { kind: "enum", values: ["irqchip", "msi", "xen_evtchn"] },
    doc:
      "the entry type; by default irqchip if irqchip= is given, xen_evtchn if port= is, else msi",
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
    doc: "KVM_IRQ_ROUTING_XEN_EVTCHN: the KVM vcpu_id (APIC ID) to notify",
    default: 0,
  },
  {
    name: "priority",
    type: U32,
    doc: "KVM_IRQ_ROUTING_XEN_EVTCHN: must be 0xffffffff (2-level)",
    default: KVM_XEN_PRIO_2LEVEL,
  },
];

function toRoutingEntry(e: Readonly<Record<string, Val>>): RoutingEntry {
  const type = e.type !== ""
    ? e.type
    : e.irqchip !== ""
    ? "irqchip"
    : (e.port as number) >= 0
    ? "xen_evtchn"
    : "msi";
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

const VMM_COMMANDS: Cmd[] = [
  {
    actor: "vmm",
    name: "kvm irq_line",
    doc: "KVM_IRQ_LINE_STATUS: set a GSI's level on every route of it",
    params: [
      { name: "gsi", type: GSI, doc: "the GSI" },
      { name: "level", type: LEVEL, doc: "1 assert, 0 de-assert" },
    ],
    returns: "status: <0 masked or no route, 0 coalesced, >0 CPUs reached",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_IRQ_LINE gsi ${a.gsi} level ${a.level}`,
        () => vm.routing.irqLine(a.gsi as number, a.level as 0 | 1),
      ),
  },
  {
    actor: "vmm",
    name: "kvm signal_msi",
    doc: "KVM_SIGNAL_MSI: inject one MSI",
    params: [
      { name: "address", type: U32, doc: "address bits 31:0 (0xfee.....)" },
      { name: "data", type: U32, doc: "data (vector, delivery mode, trigger)" },
      { name: "address_hi", type: U32, doc: "address bits 63:32", default: 0 },
    ],
    returns: ">0 delivered, 0 blocked by the guest, <0 error",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SIGNAL_MSI address ${hex(a.address)} data ${hex(a.data)}`,
        () => vm.routing.signalMsi(a.address as number, a.address_hi as number, a.data as number),
      ),
  },
  {
    actor: "vmm",
    name: "kvm set_gsi_routing",
    doc: "KVM_SET_GSI_ROUTING: replace the whole routing table with the entries in the block",
    params: [],
    block: { entry: "gsi", params: ROUTE_PARAMS },
    returns: "0, or -EINVAL (and the old table stays)",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_GSI_ROUTING (${a.$entries!.length} entries)`,
        () => vm.routing.setRouting(a.$entries!.map(toRoutingEntry)),
      ),
  },
  {
    actor: "vmm",
    name: "kvm interrupt",
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
];

const DEVICE_COMMANDS: Cmd[] = [
  ...(["assert", "deassert"] as const).map((name): Cmd => ({
    actor: "device",
    name,
    doc: `${name} the device's interrupt line: KVM_IRQ_LINE_STATUS on its GSI with level ${
      name === "assert" ? 1 : 0
    }`,
    params: [{ name: "gsi", type: GSI, doc: "the GSI the line is wired to" }],
    returns: "the KVM_IRQ_LINE_STATUS result",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        name,
        `gsi ${a.gsi} ${name === "assert" ? "high" : "low"}`,
        () => vm.routing.irqLine(a.gsi as number, name === "assert" ? 1 : 0),
      ),
  })),
  {
    actor: "device",
    name: "pulse",
    doc: "raise then lower the line (an edge): two KVM_IRQ_LINE calls",
    params: [{ name: "gsi", type: GSI, doc: "the GSI the line is wired to" }],
    returns: "the status of the raise",
    run: (vm, _c, a, source) =>
      acting(vm, source, "pulse", `gsi ${a.gsi} pulse`, () => {
        const r = vm.routing.irqLine(a.gsi as number, 1);
        vm.routing.irqLine(a.gsi as number, 0);
        return r;
      }),
  },
  {
    actor: "device",
    name: "msi",
    doc: "the device writes an MSI (delivered with KVM_SIGNAL_MSI)",
    params: [
      { name: "address", type: U32, doc: "address bits 31:0" },
      { name: "data", type: U32, doc: "data" },
      { name: "address_hi", type: U32, doc: "address bits 63:32", default: 0 },
    ],
    returns: "the KVM_SIGNAL_MSI result",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "msi",
        `MSI address ${hex(a.address)} data ${hex(a.data)}`,
        () => vm.routing.signalMsi(a.address as number, a.address_hi as number, a.data as number),
      ),
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
    });
  }
  for (const r of LAPIC_REGISTERS) {
    if (r.width !== 32 || r.access === "wo") continue;
    const read = (vm: X86Vm, c: number) =>
      r.name === "ppr" ? vm.cpus[c].lapic.ppr : vm.cpus[c].lapic.read(r.offset);
    out.push({
      pattern: `vcpu#.lapic.${r.name}`,
      type: { kind: "int", min: 0, max: 0xffff_ffff },
      doc: `${r.specName}: ${r.doc}`,
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
  ): State => ({
    pattern: `vcpu#.${name}`,
    type: { kind: "int", min: 0, max: 0xffff },
    doc,
    get: (vm, [c]) => Number(get(vm, c)),
    bounds: vcpuBound,
  });
  return [
    flag("if", "RFLAGS.IF", (vm, c) => vm.cpus[c].interruptFlag),
    flag("halted", "1 while halted by HLT", (vm, c) => vm.cpus[c].halted),
    flag("nmi_pending", "NMIs latched and not yet taken", (vm, c) => vm.cpus[c].lapic.nmiPending),
    flag("nmi_blocked", "1 from taking an NMI until its IRET", (vm, c) => vm.cpus[c].nmiBlocked),
    flag("depth", "how many interrupt handlers are running (nested)", (vm, c) => vm.cpus[c].depth),
    flag("apic_base", "IA32_APIC_BASE (low 32 bits)", (vm, c) => vm.cpus[c].lapic.apicBase),
  ];
}

function ioapicState(): State[] {
  const pinBound = (vm: X86Vm) => [vm.ioapic?.pins ?? 0];
  const rte = (vm: X86Vm, pin: number) => {
    const w = vm.ioapic!.rte(pin);
    return joinWords(w.low, w.high);
  };
  const out: State[] = [
    {
      pattern: "ioapic.redtbl[#]",
      type: { kind: "u64" },
      doc: "IOREDTBL[n] as a 64-bit value",
      get: (vm, [p]) => rte(vm, p),
      bounds: pinBound,
    },
    {
      pattern: "ioapic.pin[#].line",
      type: { kind: "int", min: 0, max: 1 },
      doc: "the level of the pin's input line",
      get: (vm, [p]) => vm.ioapic!.line(p),
      bounds: pinBound,
    },
  ];
  for (const f of RTE_FIELDS) {
    out.push({
      pattern: `ioapic.pin[#].${f.name}`,
      type: fieldType(f),
      doc: `IOREDTBL ${f.name}`,
      get: (vm, [p]) => decodeField(f, rte(vm, p)),
      bounds: pinBound,
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
    doc: "whose behaviour to model: KVM; Xen (an HVM guest, 48-pin vIOAPIC); or KVM's Xen " +
      "emulation with a VMM (kvm-xen). Xen and kvm-xen differ where Xen and Linux/QEMU " +
      "differ; block: { guest 64|32  max_evtchn_port N }",
    value: { kind: "enum", values: ["kvm", "xen", "kvm-xen"], default: "kvm" },
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
    ],
  },
  {
    name: "vcpus",
    doc: "number of vCPUs (APIC IDs 0..n-1)",
    value: { kind: "int", min: 1, max: 255, default: 1 },
  },
  {
    name: "irqchip",
    doc: "KVM irqchip mode: kernel (KVM_CREATE_IRQCHIP) or split (KVM_CAP_SPLIT_IRQCHIP)",
    value: { kind: "enum", values: ["kernel", "split"], default: "kernel" },
  },
  {
    name: "lapic",
    doc: "local APIC mode at start",
    value: { kind: "enum", values: ["xapic"], default: "xapic" },
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
];

const HANDLER_EVENTS: HandlerEventSpec[] = [
  {
    name: "vector",
    doc: "a maskable interrupt with this vector (from the LAPIC or, as ExtINT, the PIC)",
    takesValue: true,
  },
  { name: "nmi", doc: "a non-maskable interrupt", takesValue: false },
];

// ---- Xen -------------------------------------------------------------------------

const needXen = (s: Readonly<Record<string, Val>>) =>
  s.hypervisor === "kvm"
    ? "needs a Xen guest: add 'hypervisor xen' or 'hypervisor kvm-xen' to the vm block"
    : undefined;

/** KVM's Xen ioctls, and the VMM's vcpu_info copy, exist only where KVM emulates Xen. */
const KVM_XEN_ONLY = new Set([
  "kvm xen_evtchn_send",
  "kvm xen_hvm_config",
  "kvm xen_set_attr",
  "kvm xen_vcpu_set_attr",
  "xen copy_vcpu_info",
]);

const needKvmXen = (s: Readonly<Record<string, Val>>) =>
  s.hypervisor === "kvm-xen"
    ? undefined
    : s.hypervisor === "xen"
    ? "belongs to KVM's Xen emulation, and Xen has no KVM: use 'hypervisor kvm-xen'"
    : "needs KVM's Xen emulation: add 'hypervisor kvm-xen' to the vm block";

const XEN_COMMANDS: Cmd[] = xenCommands<X86Vm>((vm) => vm.xen).map((c) => ({
  ...c,
  requires: KVM_XEN_ONLY.has(c.name) ? needKvmXen : needXen,
}));

const XEN_STATE: State[] = xenState<X86Vm>((vm) => vm.xen).map((p) => ({
  ...p,
  requires: needXen,
  bounds: p.bounds ?? (p.pattern.startsWith("vcpu#") ? vcpuBound : undefined),
}));

/**
 * The x86 platform.
 *
 * @example
 * ```ts
 * x86Platform.commands.find((c) => c.name === "eoi")!.doc;
 * ```
 */
export const x86Platform: Platform<X86Vm> = {
  arch: ["x86_64"],
  settings: SETTINGS,
  commands: [...VCPU_COMMANDS.map(exiting), ...VMM_COMMANDS, ...DEVICE_COMMANDS, ...XEN_COMMANDS],
  state: [...cpuState(), ...lapicState(), ...ioapicState(), ...picState(), ...XEN_STATE],
  handlerEvents: HANDLER_EVENTS,
  // Constants are names, not features: the Xen errno names are usable anywhere.
  constants: { EINVAL, ENXIO, EEXIST, ...XEN_CONSTANTS },
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
    if (s.hypervisor === "xen" && s.irqchip !== "kernel") {
      return "'hypervisor xen' always has the emulated vPIC and vIOAPIC: leave out 'irqchip split'";
    }
    return undefined;
  },
  create: (name, s, env) =>
    new X86Vm(name, {
      vcpus: s.vcpus as number,
      irqchip: s.irqchip as "kernel" | "split",
      lowestPriority: s.lowest_priority as "kvm-vector-hashing" | "first",
      routing: s.routing as "kvm" | "qemu",
      hypervisor: s.hypervisor as "kvm" | "xen" | "kvm-xen",
      guestWidth: s["hypervisor.guest"] === 32 ? 32 : 64,
      maxEvtchnPort: s["hypervisor.max_evtchn_port"] as number,
    }, env),
  handlerMatches: (event, values, taken) => {
    if (event === "nmi") return taken.kind === "nmi";
    if (taken.kind === "nmi") return false;
    return values === null || values.includes(taken.vector);
  },
};
