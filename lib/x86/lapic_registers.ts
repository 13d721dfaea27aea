/**
 * The local APIC register map and the bit fields of its registers: the one
 * place in irqlab where offsets, x2APIC MSR numbers, widths, reset values,
 * writable bits and field layouts of the LAPIC live. The LAPIC model, the DSL
 * checker (`write lapic.lvt0 mask=0 delivery_mode=extint`) and `scn help` all
 * read these tables.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller (APIC)"
 * chapter: "Local APIC Register Address Map" table, "Local Vector Table",
 * "Interrupt Command Register (ICR)", "Task and Processor Priorities",
 * "Logical Destination Mode", "Spurious-Interrupt Vector Register", "Error
 * Handling", "APIC Timer", "Local APIC Status and Location" (IA32_APIC_BASE)
 * and the x2APIC "Register Address Space" table. Writable-bit masks are the
 * ones Linux KVM applies (`arch/x86/kvm/lapic.c`), since that is what a guest
 * observes under KVM; where KVM lets a guest write a bit the SDM calls
 * read-only, the field's doc says so.
 *
 * Field names are lowercase snake_case forms of the SDM names. The tables are
 * {@link FieldTable}s: encode, decode and print them with the helpers of
 * `../core/bitfield.ts`. Delivery-mode, trigger and destination-mode names
 * come from `apic_message.ts`.
 *
 * @module
 */

import type { BitField, FieldTable } from "../core/bitfield.ts";
import { fieldGet } from "../core/bitfield.ts";
import { DELIVERY_MODE_VALUES, DEST_MODE_VALUES, TRIGGER_VALUES } from "./apic_message.ts";

/** Who may access a register: read-only, read-write, write-only. */
export type RegisterAccess = "ro" | "rw" | "wo";

/** One local APIC register. */
export interface LapicRegister {
  /** Lookup name used by the DSL and state paths: `lvt0`, `icr_low`. */
  readonly name: string;
  /** The SDM's name: `LVT LINT0`, `ICR[31:0]`. */
  readonly specName: string;
  /** xAPIC MMIO offset from the APIC base (the first of the eight for ISR/TMR/IRR). */
  readonly offset: number;
  /** x2APIC MSR number, or null where the register has no x2APIC form. */
  readonly msr: number | null;
  /** Guest access in xAPIC mode. */
  readonly access: RegisterAccess;
  /** Width in bits: 32, or 256 for ISR/TMR/IRR (eight consecutive 32-bit registers). */
  readonly width: 32 | 256;
  /** Value after reset (KVM's reset), per 32-bit word. ID and Version depend on the vCPU. */
  readonly reset: number;
  /** Bits a guest write stores in xAPIC mode (KVM); 0 for read-only registers. */
  readonly writeMask: number;
  /** Field layout, or null for plain numbers and bitmaps. */
  readonly fields: FieldTable | null;
  /** One line. */
  readonly doc: string;
}

/** The architectural default IA32_APIC_BASE physical base (SDM: 0xFEE00000). */
export const APIC_DEFAULT_BASE = 0xfee00000;
/** The IA32_APIC_BASE MSR number. */
export const IA32_APIC_BASE_MSR = 0x1b;
/** x2APIC MSR of a register: 0x800 + (offset >> 4) (SDM x2APIC register address space). */
export const X2APIC_MSR_BASE = 0x800;
/** The last MSR of the x2APIC range (0x800-0x8FF); KVM sends all of them to the LAPIC. */
export const X2APIC_MSR_LAST = 0x8ff;
/** IA32_TSC_DEADLINE (SDM "TSC-Deadline Mode"). */
export const IA32_TSC_DEADLINE_MSR = 0x6e0;
/** IA32_TSC (SDM "Time-Stamp Counter"). */
export const IA32_TSC_MSR = 0x10;
/**
 * The xAPIC MMIO offsets of the local APIC's registers (SDM Vol. 3A, table
 * "Local APIC Register Address Map"), by the SDM's names. The x2APIC MSR of
 * each is 0x800 + offset / 16. Stated here once: the register table, the LAPIC's
 * MMIO decode and the KVM backend read them by name.
 *
 * @example
 * ```ts
 * LapicOffset.EOI; // 0xb0
 * ```
 */
export const LapicOffset = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR: 0x100,
  TMR: 0x180,
  IRR: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PMC: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL_COUNT: 0x380,
  TIMER_CURRENT_COUNT: 0x390,
  TIMER_DIVIDE: 0x3e0,
  SELF_IPI: 0x3f0,
} as const;

/**
 * SELF IPI register offset: x2APIC only (MSR 0x83F), write-only, bits 7:0 =
 * vector. It has no xAPIC MMIO form, so it is not in {@link LAPIC_REGISTERS}.
 */
export const SELF_IPI_OFFSET = LapicOffset.SELF_IPI;

/** IA32_APIC_BASE flag bits (SDM "Local APIC Status and Location"). */
export const ApicBaseBit = {
  /** Bit 8: bootstrap processor. */
  BSP: 1 << 8,
  /** Bit 10: x2APIC mode (EXTD). */
  EXTD: 1 << 10,
  /** Bit 11: APIC global enable (EN). */
  EN: 1 << 11,
} as const;

const MASK_VALUES = { unmasked: 0, masked: 1 } as const;
const STATUS_VALUES = { idle: 0, send_pending: 1 } as const;

const vector: BitField = { name: "vector", lsb: 0, width: 8, doc: "interrupt vector" };
const deliveryMode: BitField = {
  name: "delivery_mode",
  lsb: 8,
  width: 3,
  values: DELIVERY_MODE_VALUES,
  doc: "delivery mode",
};
const deliveryStatus: BitField = {
  name: "delivery_status",
  lsb: 12,
  width: 1,
  readOnly: true,
  values: STATUS_VALUES,
  doc: "1 while a message is pending (read-only in the SDM; KVM stores guest writes to LVTs)",
};
const mask: BitField = {
  name: "mask",
  lsb: 16,
  width: 1,
  values: MASK_VALUES,
  doc: "1 inhibits delivery",
};

/** LVT Timer: vector, delivery status, mask, timer mode (SDM "Local Vector Table"). */
export const LVT_TIMER_FIELDS: FieldTable = [
  vector,
  deliveryStatus,
  mask,
  {
    name: "timer_mode",
    lsb: 17,
    width: 2,
    values: { oneshot: 0, periodic: 1, tsc_deadline: 2 },
    doc: "one-shot, periodic, or TSC-deadline (needs CPUID.1:ECX[24]); 3 is reserved",
  },
];

/** LVT LINT0 / LINT1: the full LVT skeleton. */
export const LVT_LINT_FIELDS: FieldTable = [
  vector,
  { ...deliveryMode, doc: "fixed, smi, nmi, init or extint (LINT1: not extint)" },
  deliveryStatus,
  {
    name: "polarity",
    lsb: 13,
    width: 1,
    values: { active_high: 0, active_low: 1 },
    doc: "interrupt input pin polarity",
  },
  {
    name: "remote_irr",
    lsb: 14,
    width: 1,
    readOnly: true,
    doc: "level-triggered fixed interrupt accepted, cleared by EOI (read-only; KVM stores writes)",
  },
  {
    name: "trigger",
    lsb: 15,
    width: 1,
    values: TRIGGER_VALUES,
    doc: "trigger mode for fixed delivery (LINT1 is always edge architecturally)",
  },
  mask,
];

/** LVT Thermal, LVT Performance Counter, LVT CMCI: vector, delivery mode, status, mask. */
export const LVT_DM_FIELDS: FieldTable = [
  vector,
  { ...deliveryMode, doc: "fixed, smi or nmi" },
  deliveryStatus,
  mask,
];

/** LVT Error: vector, status, mask (fixed delivery only). */
export const LVT_ERROR_FIELDS: FieldTable = [vector, deliveryStatus, mask];

/** Spurious-Interrupt Vector Register. */
export const SVR_FIELDS: FieldTable = [
  { ...vector, doc: "spurious vector, handed out when an INTA finds nothing above PPR" },
  {
    name: "apic_enable",
    lsb: 8,
    width: 1,
    doc: "APIC software enable; 0 masks every LVT and (KVM) drops fixed/lowest messages",
  },
  {
    name: "focus_disable",
    lsb: 9,
    width: 1,
    doc: "focus processor checking disabled (reserved on Pentium 4 and later)",
  },
  {
    name: "suppress_eoi_broadcast",
    lsb: 12,
    width: 1,
    doc: "EOI does not broadcast to IOAPICs; writable only if Version bit 24 is set",
  },
];

/** ICR[31:0]. */
export const ICR_LOW_FIELDS: FieldTable = [
  vector,
  deliveryMode,
  {
    name: "dest_mode",
    lsb: 11,
    width: 1,
    values: DEST_MODE_VALUES,
    doc: "destination mode",
  },
  { ...deliveryStatus, doc: "send pending (always reads 0 under KVM: delivery is immediate)" },
  {
    name: "level",
    lsb: 14,
    width: 1,
    values: { deassert: 0, assert: 1 },
    doc: "0 only for INIT level de-assert",
  },
  { name: "trigger", lsb: 15, width: 1, values: TRIGGER_VALUES, doc: "trigger mode" },
  {
    name: "shorthand",
    lsb: 18,
    width: 2,
    values: { none: 0, self: 1, all: 2, all_but_self: 3 },
    doc: "destination shorthand; when not none the dest field is ignored",
  },
];

/** ICR[63:32] in xAPIC mode. */
export const ICR_HIGH_FIELDS: FieldTable = [
  { name: "dest", lsb: 24, width: 8, doc: "destination APIC ID or logical MDA" },
];

/** TPR, and the same layout for APR and PPR. */
export const PRIORITY_FIELDS: FieldTable = [
  { name: "subclass", lsb: 0, width: 4, doc: "priority sub-class" },
  { name: "class", lsb: 4, width: 4, doc: "priority class, compared with vector[7:4]" },
];

/** Destination Format Register. */
export const DFR_FIELDS: FieldTable = [
  {
    name: "model",
    lsb: 28,
    width: 4,
    values: { cluster: 0x0, flat: 0xf },
    doc: "logical destination model; bits 27:0 read as 1s",
  },
];

/**
 * The logical destination model a DFR value selects: `flat`, `cluster`, or
 * undefined for the other encodings, which the SDM leaves undefined.
 *
 * @example
 * ```ts
 * dfrModel(0xffffffff); // "flat"
 * dfrModel(0x0fffffff); // "cluster"
 * ```
 */
export function dfrModel(dfr: number): "flat" | "cluster" | undefined {
  const f = DFR_FIELDS[0];
  const v = fieldGet(f, dfr);
  const values = f.values!;
  return v === values.flat ? "flat" : v === values.cluster ? "cluster" : undefined;
}

/** Logical Destination Register (xAPIC). */
export const LDR_FIELDS: FieldTable = [
  { name: "logical_id", lsb: 24, width: 8, doc: "logical APIC ID; bits 23:0 reserved" },
];

/** Local APIC ID register (xAPIC). */
export const ID_FIELDS: FieldTable = [
  { name: "apic_id", lsb: 24, width: 8, doc: "xAPIC ID (writable under KVM and QEMU)" },
];

/** Local APIC Version register. */
export const VERSION_FIELDS: FieldTable = [
  { name: "version", lsb: 0, width: 8, doc: "0x10-0x15 for integrated APICs (KVM: 0x14)" },
  { name: "max_lvt", lsb: 16, width: 8, doc: "number of LVT entries minus 1" },
  {
    name: "eoi_broadcast_suppression",
    lsb: 24,
    width: 1,
    doc: "SVR bit 12 is supported",
  },
];

/** Error Status Register. */
export const ESR_FIELDS: FieldTable = [
  { name: "send_checksum", lsb: 0, width: 1, doc: "send checksum error (P6/Pentium only)" },
  { name: "receive_checksum", lsb: 1, width: 1, doc: "receive checksum error (P6/Pentium only)" },
  { name: "send_accept", lsb: 2, width: 1, doc: "send accept error (P6/Pentium only)" },
  { name: "receive_accept", lsb: 3, width: 1, doc: "receive accept error (P6/Pentium only)" },
  { name: "redirectable_ipi", lsb: 4, width: 1, doc: "lowest-priority IPI not supported" },
  { name: "send_illegal_vector", lsb: 5, width: 1, doc: "sent a vector 0-15" },
  { name: "receive_illegal_vector", lsb: 6, width: 1, doc: "received a vector 0-15" },
  { name: "illegal_register_address", lsb: 7, width: 1, doc: "accessed an unimplemented register" },
];

/** Divide Configuration Register: bits 3, 1, 0 form the divisor code; bit 2 is reserved. */
export const TIMER_DIVIDE_FIELDS: FieldTable = [
  { name: "divide_low", lsb: 0, width: 2, doc: "divisor code bits 1:0" },
  { name: "divide_high", lsb: 3, width: 1, doc: "divisor code bit 2 (register bit 3)" },
];

/** IA32_APIC_BASE (MSR 0x1B). Values exceed 32 bits: numbers work up to bit 52 (see `bitfield.ts`). */
export const APIC_BASE_FIELDS: FieldTable = [
  { name: "bsp", lsb: 8, width: 1, doc: "this processor is the bootstrap processor" },
  { name: "extd", lsb: 10, width: 1, doc: "x2APIC mode enable" },
  { name: "enable", lsb: 11, width: 1, doc: "APIC global enable (hardware enable)" },
  { name: "base", lsb: 12, width: 40, doc: "APIC base physical page (bits up to MAXPHYADDR-1)" },
];

/** LVT writable bits under KVM (vector, delivery status, mask). */
const LVT_BASE_MASK = 0x000110ff;
/** KVM's LVT Timer mask assumes TSC-deadline support (both timer mode bits). */
const LVT_TIMER_MASK = LVT_BASE_MASK | 0x00060000;
const LVT_DM_MASK = LVT_BASE_MASK | 0x00000700;
const LVT_LINT_MASK = LVT_DM_MASK | 0x0000e000;
const LVT_RESET = 0x00010000;

function reg(
  name: string,
  specName: string,
  offset: number,
  msr: number | null,
  access: RegisterAccess,
  reset: number,
  writeMask: number,
  fields: FieldTable | null,
  doc: string,
  width: 32 | 256 = 32,
): LapicRegister {
  return { name, specName, offset, msr, access, width, reset, writeMask, fields, doc };
}

const msrOf = (offset: number): number => X2APIC_MSR_BASE + (offset >> 4);

/**
 * Every xAPIC register, in offset order.
 *
 * @example
 * ```ts
 * LAPIC_REGISTERS.find((r) => r.offset === 0xf0)!.specName; // "SVR"
 * ```
 */
export const LAPIC_REGISTERS: readonly LapicRegister[] = [
  reg(
    "id",
    "ID",
    LapicOffset.ID,
    msrOf(LapicOffset.ID),
    "rw",
    0,
    0xff000000,
    ID_FIELDS,
    "local APIC ID",
  ),
  reg(
    "version",
    "Version",
    LapicOffset.VERSION,
    msrOf(LapicOffset.VERSION),
    "ro",
    0,
    0,
    VERSION_FIELDS,
    "APIC version",
  ),
  reg(
    "tpr",
    "TPR",
    LapicOffset.TPR,
    msrOf(LapicOffset.TPR),
    "rw",
    0,
    0xff,
    PRIORITY_FIELDS,
    "task priority",
  ),
  reg(
    "apr",
    "APR",
    LapicOffset.APR,
    null,
    "ro",
    0,
    0,
    PRIORITY_FIELDS,
    "arbitration priority (KVM: 0)",
  ),
  reg(
    "ppr",
    "PPR",
    LapicOffset.PPR,
    msrOf(LapicOffset.PPR),
    "ro",
    0,
    0,
    PRIORITY_FIELDS,
    "processor priority",
  ),
  reg(
    "eoi",
    "EOI",
    LapicOffset.EOI,
    msrOf(LapicOffset.EOI),
    "wo",
    0,
    0,
    null,
    "end of interrupt: pops ISR",
  ),
  reg("rrd", "RRD", LapicOffset.RRD, null, "ro", 0, 0, null, "remote read (obsolete; KVM: absent)"),
  reg(
    "ldr",
    "LDR",
    LapicOffset.LDR,
    msrOf(LapicOffset.LDR),
    "rw",
    0,
    0xff000000,
    LDR_FIELDS,
    "logical destination",
  ),
  reg(
    "dfr",
    "DFR",
    LapicOffset.DFR,
    null,
    "rw",
    0xffffffff,
    0xf0000000,
    DFR_FIELDS,
    "destination format",
  ),
  reg(
    "svr",
    "SVR",
    LapicOffset.SVR,
    msrOf(LapicOffset.SVR),
    "rw",
    0xff,
    0x000013ff,
    SVR_FIELDS,
    "spurious vector and software enable (bit 12 writable only with Version bit 24)",
  ),
  reg(
    "isr",
    "ISR",
    LapicOffset.ISR,
    msrOf(LapicOffset.ISR),
    "ro",
    0,
    0,
    null,
    "in-service vectors",
    256,
  ),
  reg(
    "tmr",
    "TMR",
    LapicOffset.TMR,
    msrOf(LapicOffset.TMR),
    "ro",
    0,
    0,
    null,
    "level-triggered vectors",
    256,
  ),
  reg(
    "irr",
    "IRR",
    LapicOffset.IRR,
    msrOf(LapicOffset.IRR),
    "ro",
    0,
    0,
    null,
    "requested vectors",
    256,
  ),
  reg(
    "esr",
    "ESR",
    LapicOffset.ESR,
    msrOf(LapicOffset.ESR),
    "rw",
    0,
    0,
    ESR_FIELDS,
    "error status (write latches)",
  ),
  reg(
    "lvt_cmci",
    "LVT CMCI",
    LapicOffset.LVT_CMCI,
    msrOf(LapicOffset.LVT_CMCI),
    "rw",
    LVT_RESET,
    LVT_DM_MASK,
    LVT_DM_FIELDS,
    "corrected machine-check interrupt (only with MCG_CMCI_P)",
  ),
  reg(
    "icr_low",
    "ICR[31:0]",
    LapicOffset.ICR_LOW,
    msrOf(LapicOffset.ICR_LOW),
    "rw",
    0,
    0xffffefff,
    ICR_LOW_FIELDS,
    "interrupt command; writing it sends an IPI",
  ),
  reg(
    "icr_high",
    "ICR[63:32]",
    LapicOffset.ICR_HIGH,
    null,
    "rw",
    0,
    0xff000000,
    ICR_HIGH_FIELDS,
    "IPI destination",
  ),
  reg(
    "lvt_timer",
    "LVT Timer",
    LapicOffset.LVT_TIMER,
    msrOf(LapicOffset.LVT_TIMER),
    "rw",
    LVT_RESET,
    LVT_TIMER_MASK,
    LVT_TIMER_FIELDS,
    "APIC timer",
  ),
  reg(
    "lvt_thermal",
    "LVT Thermal Sensor",
    LapicOffset.LVT_THERMAL,
    msrOf(LapicOffset.LVT_THERMAL),
    "rw",
    LVT_RESET,
    LVT_DM_MASK,
    LVT_DM_FIELDS,
    "thermal sensor",
  ),
  reg(
    "lvt_pmc",
    "LVT Performance Monitoring Counters",
    LapicOffset.LVT_PMC,
    msrOf(LapicOffset.LVT_PMC),
    "rw",
    LVT_RESET,
    LVT_DM_MASK,
    LVT_DM_FIELDS,
    "performance counter overflow",
  ),
  reg(
    "lvt0",
    "LVT LINT0",
    LapicOffset.LVT_LINT0,
    msrOf(LapicOffset.LVT_LINT0),
    "rw",
    LVT_RESET,
    LVT_LINT_MASK,
    LVT_LINT_FIELDS,
    "LINT0 pin (the PIC's INTR via ExtINT)",
  ),
  reg(
    "lvt1",
    "LVT LINT1",
    LapicOffset.LVT_LINT1,
    msrOf(LapicOffset.LVT_LINT1),
    "rw",
    LVT_RESET,
    LVT_LINT_MASK,
    LVT_LINT_FIELDS,
    "LINT1 pin (usually NMI)",
  ),
  reg(
    "lvt_error",
    "LVT Error",
    LapicOffset.LVT_ERROR,
    msrOf(LapicOffset.LVT_ERROR),
    "rw",
    LVT_RESET,
    LVT_BASE_MASK,
    LVT_ERROR_FIELDS,
    "APIC error interrupt",
  ),
  reg(
    "timer_initial_count",
    "Initial Count",
    LapicOffset.TIMER_INITIAL_COUNT,
    msrOf(LapicOffset.TIMER_INITIAL_COUNT),
    "rw",
    0,
    0xffffffff,
    null,
    "timer initial count (TMICT)",
  ),
  reg(
    "timer_current_count",
    "Current Count",
    LapicOffset.TIMER_CURRENT_COUNT,
    msrOf(LapicOffset.TIMER_CURRENT_COUNT),
    "ro",
    0,
    0,
    null,
    "timer current count (TMCCT)",
  ),
  reg(
    "timer_divide",
    "Divide Configuration",
    LapicOffset.TIMER_DIVIDE,
    msrOf(LapicOffset.TIMER_DIVIDE),
    "rw",
    0,
    0x0b,
    TIMER_DIVIDE_FIELDS,
    "timer divisor (bits 3,1,0)",
  ),
];

const BY_NAME = new Map(LAPIC_REGISTERS.map((r) => [r.name, r]));
/** By offset / 16 over the 4 KiB page: an array, since every MMIO access (an EOI per interrupt) looks one up. */
const BY_OFFSET: (LapicRegister | undefined)[] = new Array(0x1000 >> 4).fill(undefined);
for (const r of LAPIC_REGISTERS) {
  const n = r.width === 256 ? 8 : 1;
  for (let i = 0; i < n; i++) BY_OFFSET[(r.offset >> 4) + i] = r;
}

/**
 * The register called `name` (`"lvt0"`, `"icr_low"`, `"svr"`), or undefined.
 *
 * @example
 * ```ts
 * lapicRegisterByName("lvt0")?.offset; // 0x350
 * ```
 */
export function lapicRegisterByName(name: string): LapicRegister | undefined {
  return BY_NAME.get(name);
}

/**
 * The register at xAPIC MMIO `offset` (any of the eight for ISR/TMR/IRR), or undefined.
 *
 * @example
 * ```ts
 * lapicRegisterByOffset(0x210)?.name; // "irr"
 * ```
 */
export function lapicRegisterByOffset(offset: number): LapicRegister | undefined {
  return (offset & 0xf) === 0 && offset >= 0 && offset < 0x1000
    ? BY_OFFSET[offset >> 4]
    : undefined;
}

/**
 * Whether KVM's `kvm_lapic_reg_read` answers a read of the xAPIC register
 * at 16-byte-aligned `offset` (`kvm_lapic_readable_reg_mask`): every
 * register of the table but EOI (write-only) and RRD (KVM keeps none), LVT
 * CMCI only when implemented (`cmci`). Anything else leaves the emulator's
 * buffer as it was.
 *
 * @example
 * ```ts
 * kvmReadsLapicRegister(0x30, false); // true: Version
 * kvmReadsLapicRegister(0xc0, false); // false: RRD
 * ```
 */
export function kvmReadsLapicRegister(offset: number, cmci: boolean): boolean {
  const reg = lapicRegisterByOffset(offset);
  if (reg === undefined || reg.access === "wo" || reg.name === "rrd") return false;
  return reg.name !== "lvt_cmci" || cmci;
}

/**
 * The timer divisor a Divide Configuration value selects (SDM "APIC Timer").
 *
 * @example
 * ```ts
 * timerDivisor(0xb); // 1
 * timerDivisor(0x3); // 16
 * ```
 */
export function timerDivisor(tdcr: number): number {
  const code = (tdcr & 3) | ((tdcr >> 1) & 4);
  return code === 7 ? 1 : 2 << code;
}
