/**
 * The KVM userspace ABI irqlab's `/dev/kvm` backend uses on x86_64: ioctl
 * request numbers, capability and exit-reason numbers, and the layout of
 * every structure passed through an ioctl, with encoders and decoders over
 * `DataView`.
 *
 * Every number here is a fact of Linux's `include/uapi/linux/kvm.h` and
 * `arch/x86/include/uapi/asm/kvm.h` (field names are theirs); `abi_test.ts`
 * restates the sizes and offsets from the headers. Nothing else in
 * `lib/kvm` states an offset.
 *
 * @module
 */
import { KVM_PIC_STATE_FIELDS, type KvmPicState as X86KvmPicState } from "../x86/i8259.ts";

// ---- ioctl numbers -----------------------------------------------------------------

/**
 * KVMIO, the ioctl type byte of every KVM ioctl.
 *
 * @example
 * ```ts
 * ioc(0, KVMIO, 0x80, 0); // KVM_RUN
 * ```
 */
export const KVMIO = 0xae;

const IOC_NONE = 0, IOC_WRITE = 1, IOC_READ = 2;

/**
 * Linux's `_IOC(dir, type, nr, size)` on x86 (dir in bits 31:30, size in
 * 29:16, type in 15:8, nr in 7:0), as an unsigned number.
 *
 * @example
 * ```ts
 * ioc(0, KVMIO, 0x80, 0); // KVM_RUN, 0xae80
 * ```
 */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
const io = (nr: number) => ioc(IOC_NONE, KVMIO, nr, 0);
const iow = (nr: number, size: number) => ioc(IOC_WRITE, KVMIO, nr, size);
const ior = (nr: number, size: number) => ioc(IOC_READ, KVMIO, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, KVMIO, nr, size);

// ---- structure sizes ---------------------------------------------------------------

/**
 * Sizes in bytes of the structures, as `sizeof` gives them on x86_64.
 *
 * @example
 * ```ts
 * struct(SIZEOF.kvm_lapic_state).bytes.length; // 1024
 * ```
 */
export const SIZEOF = {
  kvm_userspace_memory_region: 32,
  kvm_regs: 144,
  kvm_segment: 24,
  kvm_dtable: 16,
  kvm_sregs: 312,
  kvm_lapic_state: 1024,
  kvm_pic_state: 16,
  kvm_ioapic_state: 216,
  kvm_irqchip: 520,
  kvm_irq_level: 8,
  kvm_irq_routing: 8,
  kvm_irq_routing_entry: 48,
  kvm_msi: 32,
  kvm_vcpu_events: 64,
  kvm_msrs: 8,
  kvm_msr_entry: 16,
  kvm_cpuid2: 8,
  kvm_cpuid_entry2: 40,
  kvm_enable_cap: 104,
  kvm_irqfd: 32,
  kvm_mp_state: 4,
  kvm_interrupt: 4,
  /** The fixed part of `struct kvm_run` up to and including its exit union. */
  kvm_run_head: 288,
} as const;

/**
 * The ioctl request numbers used, by their uapi names.
 *
 * @example
 * ```ts
 * KVM.RUN === 0xae80;
 * ```
 */
export const KVM = {
  // system ioctls
  GET_API_VERSION: io(0x00),
  CREATE_VM: io(0x01),
  CHECK_EXTENSION: io(0x03),
  GET_VCPU_MMAP_SIZE: io(0x04),
  GET_SUPPORTED_CPUID: iowr(0x05, SIZEOF.kvm_cpuid2),
  // vm ioctls
  CREATE_VCPU: io(0x41),
  SET_USER_MEMORY_REGION: iow(0x46, SIZEOF.kvm_userspace_memory_region),
  SET_TSS_ADDR: io(0x47),
  SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  CREATE_IRQCHIP: io(0x60),
  SET_BOOT_CPU_ID: io(0x78),
  IRQ_LINE: iow(0x61, SIZEOF.kvm_irq_level),
  GET_IRQCHIP: iowr(0x62, SIZEOF.kvm_irqchip),
  SET_IRQCHIP: ior(0x63, SIZEOF.kvm_irqchip),
  IRQ_LINE_STATUS: iowr(0x67, SIZEOF.kvm_irq_level),
  SET_GSI_ROUTING: iow(0x6a, SIZEOF.kvm_irq_routing),
  ENABLE_CAP: iow(0xa3, SIZEOF.kvm_enable_cap),
  SIGNAL_MSI: iow(0xa5, SIZEOF.kvm_msi),
  IRQFD: iow(0x76, SIZEOF.kvm_irqfd),
  // vcpu ioctls
  RUN: io(0x80),
  GET_REGS: ior(0x81, SIZEOF.kvm_regs),
  SET_REGS: iow(0x82, SIZEOF.kvm_regs),
  GET_SREGS: ior(0x83, SIZEOF.kvm_sregs),
  SET_SREGS: iow(0x84, SIZEOF.kvm_sregs),
  INTERRUPT: iow(0x86, SIZEOF.kvm_interrupt),
  GET_MSRS: iowr(0x88, SIZEOF.kvm_msrs),
  SET_MSRS: iow(0x89, SIZEOF.kvm_msrs),
  GET_LAPIC: ior(0x8e, SIZEOF.kvm_lapic_state),
  SET_LAPIC: iow(0x8f, SIZEOF.kvm_lapic_state),
  SET_CPUID2: iow(0x90, SIZEOF.kvm_cpuid2),
  GET_MP_STATE: ior(0x98, SIZEOF.kvm_mp_state),
  SET_MP_STATE: iow(0x99, SIZEOF.kvm_mp_state),
  NMI: io(0x9a),
  GET_VCPU_EVENTS: ior(0x9f, SIZEOF.kvm_vcpu_events),
  SET_VCPU_EVENTS: iow(0xa0, SIZEOF.kvm_vcpu_events),
} as const;

/**
 * KVM_API_VERSION: the only version KVM_GET_API_VERSION has ever returned.
 *
 * @example
 * ```ts
 * import { ioctlInt } from "./libc.ts";
 * declare const kvmFd: number;
 * ioctlInt(kvmFd, KVM.GET_API_VERSION, 0, "KVM_GET_API_VERSION") === KVM_API_VERSION;
 * ```
 */
export const KVM_API_VERSION = 12;

/**
 * Capabilities asked with KVM_CHECK_EXTENSION or set with KVM_ENABLE_CAP.
 *
 * @example
 * ```ts
 * import { KvmSystem } from "./kvm.ts";
 * declare const system: KvmSystem;
 * system.checkExtension(KVM_CAP.SPLIT_IRQCHIP);
 * ```
 */
export const KVM_CAP = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  IRQ_ROUTING: 25,
  IRQ_INJECT_STATUS: 26,
  SIGNAL_MSI: 77,
  SPLIT_IRQCHIP: 121,
  HYPERV_SYNIC: 123,
  X2APIC_API: 129,
  IMMEDIATE_EXIT: 136,
} as const;

/**
 * kvm_run.exit_reason values.
 *
 * @example
 * ```ts
 * declare const runView: DataView;
 * runView.getUint32(KVM_RUN.exit_reason, true) === KVM_EXIT.IO;
 * ```
 */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  INTERNAL_ERROR: 17,
  IOAPIC_EOI: 26,
} as const;

/**
 * kvm_run.io.direction.
 *
 * @example
 * ```ts
 * declare const runView: DataView;
 * runView.getUint8(KVM_RUN.io_direction) === KVM_EXIT_IO_OUT;
 * ```
 */
export const KVM_EXIT_IO_IN = 0, KVM_EXIT_IO_OUT = 1;

/**
 * kvm_irqchip.chip_id.
 *
 * @example
 * ```ts
 * irqchipRequest(KVM_IRQCHIP.IOAPIC);
 * ```
 */
export const KVM_IRQCHIP = { PIC_MASTER: 0, PIC_SLAVE: 1, IOAPIC: 2 } as const;

/**
 * kvm_irq_routing_entry.type.
 *
 * @example
 * ```ts
 * KVM_IRQ_ROUTING.MSI; // 2
 * ```
 */
export const KVM_IRQ_ROUTING = { IRQCHIP: 1, MSI: 2 } as const;

/**
 * kvm_mp_state.mp_state.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const vcpu: KvmVcpu;
 * vcpu.setMpState(KVM_MP_STATE.RUNNABLE);
 * ```
 */
export const KVM_MP_STATE = {
  RUNNABLE: 0,
  UNINITIALIZED: 1,
  INIT_RECEIVED: 2,
  HALTED: 3,
  SIPI_RECEIVED: 4,
} as const;

/**
 * KVM_IOAPIC_NUM_PINS: the in-kernel IOAPIC's pins.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * decodeIoapicState(view).redirtbl.length === KVM_IOAPIC_NUM_PINS;
 * ```
 */
export const KVM_IOAPIC_NUM_PINS = 24;

// ---- helpers -----------------------------------------------------------------------

/**
 * A zeroed buffer of `size` bytes and a little-endian view on it.
 *
 * @example
 * ```ts
 * const s: Struct = struct(8);
 * ```
 */
export interface Struct {
  bytes: Uint8Array<ArrayBuffer>;
  view: DataView;
}

/**
 * Allocates a zeroed structure buffer.
 *
 * @example
 * ```ts
 * const s = struct(SIZEOF.kvm_msi);
 * s.view.setUint32(0, 0xfee00000, true);
 * ```
 */
export function struct(size: number): Struct {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

const LE = true;

// ---- kvm_userspace_memory_region ----------------------------------------------------

/**
 * `struct kvm_userspace_memory_region`.
 *
 * @example
 * ```ts
 * const r: KvmUserspaceMemoryRegion = { slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 4096n, userspace_addr: 0n };
 * ```
 */
export interface KvmUserspaceMemoryRegion {
  slot: number;
  flags: number;
  guest_phys_addr: bigint;
  memory_size: bigint;
  userspace_addr: bigint;
}

/**
 * Field offsets of `struct kvm_userspace_memory_region`.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * view.getUint32(MEMORY_REGION.slot, true);
 * ```
 */
export const MEMORY_REGION = {
  slot: 0,
  flags: 4,
  guest_phys_addr: 8,
  memory_size: 16,
  userspace_addr: 24,
} as const;

/**
 * Encodes a memory region for KVM_SET_USER_MEMORY_REGION.
 *
 * @example
 * ```ts
 * encodeMemoryRegion({ slot: 0, flags: 0, guest_phys_addr: 0n, memory_size: 0x100000n, userspace_addr: 0x7f0000000000n });
 * ```
 */
export function encodeMemoryRegion(r: KvmUserspaceMemoryRegion): Struct {
  const s = struct(SIZEOF.kvm_userspace_memory_region);
  s.view.setUint32(MEMORY_REGION.slot, r.slot, LE);
  s.view.setUint32(MEMORY_REGION.flags, r.flags, LE);
  s.view.setBigUint64(MEMORY_REGION.guest_phys_addr, r.guest_phys_addr, LE);
  s.view.setBigUint64(MEMORY_REGION.memory_size, r.memory_size, LE);
  s.view.setBigUint64(MEMORY_REGION.userspace_addr, r.userspace_addr, LE);
  return s;
}

// ---- kvm_run -----------------------------------------------------------------------

/**
 * Field offsets of `struct kvm_run` (the exit union starts at 32).
 *
 * @example
 * ```ts
 * declare const runView: DataView;
 * runView.getUint16(KVM_RUN.io_port, true);
 * ```
 */
export const KVM_RUN = {
  request_interrupt_window: 0,
  immediate_exit: 1,
  exit_reason: 8,
  ready_for_interrupt_injection: 12,
  if_flag: 13,
  flags: 14,
  cr8: 16,
  apic_base: 24,
  /** KVM_EXIT_IO: `io.direction` (u8). */
  io_direction: 32,
  /** `io.size` (u8): bytes per access. */
  io_size: 33,
  /** `io.port` (u16). */
  io_port: 34,
  /** `io.count` (u32). */
  io_count: 36,
  /** `io.data_offset` (u64): where in the kvm_run mapping the data is. */
  io_data_offset: 40,
  /** KVM_EXIT_MMIO: `mmio.phys_addr` (u64). */
  mmio_phys_addr: 32,
  /** `mmio.data[8]`. */
  mmio_data: 40,
  /** `mmio.len` (u32). */
  mmio_len: 48,
  /** `mmio.is_write` (u8). */
  mmio_is_write: 52,
  /** KVM_EXIT_IOAPIC_EOI: `eoi.vector` (u8). */
  eoi_vector: 32,
  /** KVM_EXIT_FAIL_ENTRY: `fail_entry.hardware_entry_failure_reason` (u64). */
  fail_entry_reason: 32,
  /** KVM_EXIT_INTERNAL_ERROR: `internal.suberror` (u32). */
  internal_suberror: 32,
} as const;

/**
 * The part of a KVM_EXIT_IO exit irqlab reads.
 *
 * @example
 * ```ts
 * declare const runView: DataView;
 * const io: KvmRunIo = decodeRunIo(runView);
 * ```
 */
export interface KvmRunIo {
  direction: number;
  size: number;
  port: number;
  count: number;
  data_offset: number;
}

/**
 * Decodes kvm_run.io from the mapped kvm_run.
 *
 * @example
 * ```ts
 * const io = decodeRunIo(new DataView(new ArrayBuffer(4096)));
 * ```
 */
export function decodeRunIo(v: DataView): KvmRunIo {
  return {
    direction: v.getUint8(KVM_RUN.io_direction),
    size: v.getUint8(KVM_RUN.io_size),
    port: v.getUint16(KVM_RUN.io_port, LE),
    count: v.getUint32(KVM_RUN.io_count, LE),
    data_offset: Number(v.getBigUint64(KVM_RUN.io_data_offset, LE)),
  };
}

// ---- kvm_regs ----------------------------------------------------------------------

/**
 * The registers of `struct kvm_regs`, in order.
 *
 * @example
 * ```ts
 * REG_NAMES.indexOf("rip"); // 16
 * ```
 */
export const REG_NAMES = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const;

/**
 * `struct kvm_regs`: general registers, RIP and RFLAGS.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const vcpu: KvmVcpu;
 * const r: KvmRegs = vcpu.getRegs();
 * ```
 */
export type KvmRegs = Record<(typeof REG_NAMES)[number], bigint>;

/**
 * Decodes `struct kvm_regs`.
 *
 * @example
 * ```ts
 * decodeRegs(struct(SIZEOF.kvm_regs).view).rip; // 0n
 * ```
 */
export function decodeRegs(v: DataView): KvmRegs {
  const out = {} as KvmRegs;
  REG_NAMES.forEach((n, i) => (out[n] = v.getBigUint64(i * 8, LE)));
  return out;
}

/**
 * Encodes `struct kvm_regs`.
 *
 * @example
 * ```ts
 * encodeRegs({ ...decodeRegs(struct(SIZEOF.kvm_regs).view), rflags: 2n });
 * ```
 */
export function encodeRegs(r: KvmRegs): Struct {
  const s = struct(SIZEOF.kvm_regs);
  REG_NAMES.forEach((n, i) => s.view.setBigUint64(i * 8, r[n], LE));
  return s;
}

// ---- kvm_sregs, kvm_segment, kvm_dtable --------------------------------------------

/**
 * `struct kvm_segment`.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const vcpu: KvmVcpu;
 * const cs: KvmSegment = vcpu.getSregs().cs;
 * ```
 */
export interface KvmSegment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/**
 * Field offsets of `struct kvm_segment`.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * view.getUint16(SREGS.cs + SEGMENT.selector, true);
 * ```
 */
export const SEGMENT = {
  base: 0,
  limit: 8,
  selector: 12,
  type: 14,
  present: 15,
  dpl: 16,
  db: 17,
  s: 18,
  l: 19,
  g: 20,
  avl: 21,
  unusable: 22,
  padding: 23,
} as const;

/**
 * `struct kvm_dtable` (GDTR, IDTR).
 *
 * @example
 * ```ts
 * const idt: KvmDtable = { base: 0n, limit: 0x3ff };
 * ```
 */
export interface KvmDtable {
  base: bigint;
  limit: number;
}

/**
 * `struct kvm_sregs`.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const vcpu: KvmVcpu;
 * const s: KvmSregs = vcpu.getSregs();
 * ```
 */
export interface KvmSregs {
  cs: KvmSegment;
  ds: KvmSegment;
  es: KvmSegment;
  fs: KvmSegment;
  gs: KvmSegment;
  ss: KvmSegment;
  tr: KvmSegment;
  ldt: KvmSegment;
  gdt: KvmDtable;
  idt: KvmDtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apic_base: bigint;
  /** Bit n set: vector n is queued for injection (KVM_INTERRUPT's userspace-irqchip path). */
  interrupt_bitmap: [bigint, bigint, bigint, bigint];
}

const SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;

/**
 * Field offsets of `struct kvm_sregs`.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * view.getBigUint64(SREGS.cr0, true);
 * ```
 */
export const SREGS = {
  cs: 0,
  ds: 24,
  es: 48,
  fs: 72,
  gs: 96,
  ss: 120,
  tr: 144,
  ldt: 168,
  gdt: 192,
  idt: 208,
  cr0: 224,
  cr2: 232,
  cr3: 240,
  cr4: 248,
  cr8: 256,
  efer: 264,
  apic_base: 272,
  interrupt_bitmap: 280,
} as const;

function decodeSegment(v: DataView, at: number): KvmSegment {
  const u8 = (k: keyof typeof SEGMENT) => v.getUint8(at + SEGMENT[k]);
  return {
    base: v.getBigUint64(at + SEGMENT.base, LE),
    limit: v.getUint32(at + SEGMENT.limit, LE),
    selector: v.getUint16(at + SEGMENT.selector, LE),
    type: u8("type"),
    present: u8("present"),
    dpl: u8("dpl"),
    db: u8("db"),
    s: u8("s"),
    l: u8("l"),
    g: u8("g"),
    avl: u8("avl"),
    unusable: u8("unusable"),
  };
}

function encodeSegment(v: DataView, at: number, g: KvmSegment): void {
  v.setBigUint64(at + SEGMENT.base, g.base, LE);
  v.setUint32(at + SEGMENT.limit, g.limit, LE);
  v.setUint16(at + SEGMENT.selector, g.selector, LE);
  for (const k of ["type", "present", "dpl", "db", "s", "l", "g", "avl", "unusable"] as const) {
    v.setUint8(at + SEGMENT[k], g[k]);
  }
}

/**
 * Decodes `struct kvm_sregs`.
 *
 * @example
 * ```ts
 * decodeSregs(struct(SIZEOF.kvm_sregs).view).cr0; // 0n
 * ```
 */
export function decodeSregs(v: DataView): KvmSregs {
  const out: Partial<KvmSregs> = {};
  for (const n of SEGMENTS) out[n] = decodeSegment(v, SREGS[n]);
  for (const n of ["gdt", "idt"] as const) {
    out[n] = {
      base: v.getBigUint64(SREGS[n], LE),
      limit: v.getUint16(SREGS[n] + 8, LE),
    };
  }
  for (const n of ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base"] as const) {
    out[n] = v.getBigUint64(SREGS[n], LE);
  }
  const b = SREGS.interrupt_bitmap;
  out.interrupt_bitmap = [0, 1, 2, 3].map((i) => v.getBigUint64(b + 8 * i, LE)) as [
    bigint,
    bigint,
    bigint,
    bigint,
  ];
  return out as KvmSregs;
}

/**
 * Encodes `struct kvm_sregs`.
 *
 * @example
 * ```ts
 * encodeSregs(decodeSregs(struct(SIZEOF.kvm_sregs).view));
 * ```
 */
export function encodeSregs(r: KvmSregs): Struct {
  const s = struct(SIZEOF.kvm_sregs);
  const v = s.view;
  for (const n of SEGMENTS) encodeSegment(v, SREGS[n], r[n]);
  for (const n of ["gdt", "idt"] as const) {
    v.setBigUint64(SREGS[n], r[n].base, LE);
    v.setUint16(SREGS[n] + 8, r[n].limit, LE);
  }
  for (const n of ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apic_base"] as const) {
    v.setBigUint64(SREGS[n], r[n], LE);
  }
  r.interrupt_bitmap.forEach((w, i) => v.setBigUint64(SREGS.interrupt_bitmap + 8 * i, w, LE));
  return s;
}

// ---- kvm_lapic_state ---------------------------------------------------------------

/**
 * `struct kvm_lapic_state` is the APIC register page's first KiB: register
 * at MMIO offset o is the u32 at o (IRR, ISR, TMR are 8 u32 at 16-byte
 * strides).
 *
 * @example
 * ```ts
 * lapicRegister(new Uint8Array(1024), 0x80); // TPR
 * ```
 */
export function lapicRegister(regs: Uint8Array, offset: number): number {
  return new DataView(regs.buffer, regs.byteOffset, regs.byteLength).getUint32(offset, LE);
}

/**
 * Sets one u32 of a `struct kvm_lapic_state`.
 *
 * @example
 * ```ts
 * setLapicRegister(new Uint8Array(1024), 0xf0, 0x1ff); // SVR
 * ```
 */
export function setLapicRegister(regs: Uint8Array, offset: number, value: number): void {
  new DataView(regs.buffer, regs.byteOffset, regs.byteLength).setUint32(offset, value >>> 0, LE);
}

/**
 * The vectors set in a 256-bit LAPIC register (IRR 0x200, ISR 0x100, TMR
 * 0x180), ascending.
 *
 * @example
 * ```ts
 * lapicVectors(new Uint8Array(1024), 0x100); // []
 * ```
 */
export function lapicVectors(regs: Uint8Array, base: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8; i++) {
    const w = lapicRegister(regs, base + 16 * i);
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(32 * i + b);
  }
  return out;
}

// ---- kvm_irqchip -------------------------------------------------------------------

/**
 * Field offsets of `struct kvm_irqchip`; `chip` is the union.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * view.getUint32(IRQCHIP.chip_id, true);
 * ```
 */
export const IRQCHIP = { chip_id: 0, pad: 4, chip: 8 } as const;

/**
 * `struct kvm_pic_state`, every field a u8 in this order.
 *
 * @example
 * ```ts
 * PIC_STATE_FIELDS.indexOf("imr"); // 2
 * ```
 */
export const PIC_STATE_FIELDS: typeof KVM_PIC_STATE_FIELDS = KVM_PIC_STATE_FIELDS;

/**
 * `struct kvm_pic_state`.
 *
 * @example
 * ```ts
 * import { KvmVm } from "./kvm.ts";
 * declare const vm: KvmVm;
 * const pic: KvmPicState = vm.getPic(0);
 * ```
 */
export type KvmPicState = X86KvmPicState;

/**
 * Field offsets of `struct kvm_ioapic_state`.
 *
 * @example
 * ```ts
 * IOAPIC_STATE.redirtbl; // 24
 * ```
 */
export const IOAPIC_STATE = {
  base_address: 0,
  ioregsel: 8,
  id: 12,
  irr: 16,
  pad: 20,
  redirtbl: 24,
} as const;

/**
 * `struct kvm_ioapic_state`: the redirection table as 64-bit words.
 *
 * @example
 * ```ts
 * import { KvmVm } from "./kvm.ts";
 * declare const vm: KvmVm;
 * const io: KvmIoapicState = vm.getIoapic();
 * ```
 */
export interface KvmIoapicState {
  base_address: bigint;
  ioregsel: number;
  id: number;
  /** Bit n: pin n's line is high (KVM's `irr`). */
  irr: number;
  redirtbl: bigint[];
}

/**
 * A `struct kvm_irqchip` for KVM_GET_IRQCHIP of `chip_id`.
 *
 * @example
 * ```ts
 * irqchipRequest(KVM_IRQCHIP.IOAPIC);
 * ```
 */
export function irqchipRequest(chipId: number): Struct {
  const s = struct(SIZEOF.kvm_irqchip);
  s.view.setUint32(IRQCHIP.chip_id, chipId, LE);
  return s;
}

/**
 * Decodes the PIC variant of a `struct kvm_irqchip`.
 *
 * @example
 * ```ts
 * decodePicState(irqchipRequest(0).view).imr; // 0
 * ```
 */
export function decodePicState(v: DataView): KvmPicState {
  const out = {} as KvmPicState;
  PIC_STATE_FIELDS.forEach((n, i) => (out[n] = v.getUint8(IRQCHIP.chip + i)));
  return out;
}

/**
 * Decodes the IOAPIC variant of a `struct kvm_irqchip`.
 *
 * @example
 * ```ts
 * decodeIoapicState(irqchipRequest(2).view).redirtbl.length; // 24
 * ```
 */
export function decodeIoapicState(v: DataView): KvmIoapicState {
  const at = IRQCHIP.chip;
  const redirtbl: bigint[] = [];
  for (let i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
    redirtbl.push(v.getBigUint64(at + IOAPIC_STATE.redirtbl + 8 * i, LE));
  }
  return {
    base_address: v.getBigUint64(at + IOAPIC_STATE.base_address, LE),
    ioregsel: v.getUint32(at + IOAPIC_STATE.ioregsel, LE),
    id: v.getUint32(at + IOAPIC_STATE.id, LE),
    irr: v.getUint32(at + IOAPIC_STATE.irr, LE),
    redirtbl,
  };
}

/**
 * Writes an IOAPIC state into a `struct kvm_irqchip` (chip_id IOAPIC) for KVM_SET_IRQCHIP.
 *
 * @example
 * ```ts
 * const s = irqchipRequest(2);
 * encodeIoapicState(s.view, decodeIoapicState(s.view));
 * ```
 */
export function encodeIoapicState(v: DataView, st: KvmIoapicState): void {
  const at = IRQCHIP.chip;
  v.setUint32(IRQCHIP.chip_id, KVM_IRQCHIP.IOAPIC, LE);
  v.setBigUint64(at + IOAPIC_STATE.base_address, st.base_address, LE);
  v.setUint32(at + IOAPIC_STATE.ioregsel, st.ioregsel, LE);
  v.setUint32(at + IOAPIC_STATE.id, st.id, LE);
  v.setUint32(at + IOAPIC_STATE.irr, st.irr, LE);
  st.redirtbl.forEach((w, i) => v.setBigUint64(at + IOAPIC_STATE.redirtbl + 8 * i, w, LE));
}

// ---- kvm_irq_level -----------------------------------------------------------------

/**
 * `struct kvm_irq_level` for KVM_IRQ_LINE(_STATUS): `irq` (the GSI) in, and
 * for the _STATUS form `status` out in the same word.
 *
 * @example
 * ```ts
 * encodeIrqLevel(20, 1).view.getUint32(4, true); // 1
 * ```
 */
export function encodeIrqLevel(irq: number, level: number): Struct {
  const s = struct(SIZEOF.kvm_irq_level);
  s.view.setUint32(0, irq, LE);
  s.view.setUint32(4, level, LE);
  return s;
}

/**
 * KVM_IRQ_LINE_STATUS's result: `status`, a signed int over `irq`.
 *
 * @example
 * ```ts
 * irqLevelStatus(encodeIrqLevel(0, 1).view); // 0
 * ```
 */
export function irqLevelStatus(v: DataView): number {
  return v.getInt32(0, LE);
}

// ---- kvm_irq_routing ---------------------------------------------------------------

/**
 * One GSI routing entry: to an irqchip pin, or an MSI.
 *
 * @example
 * ```ts
 * const e: KvmIrqRoutingEntry = { gsi: 5, type: "irqchip", irqchip: 2, pin: 5 };
 * ```
 */
export type KvmIrqRoutingEntry =
  | { gsi: number; type: "irqchip"; irqchip: number; pin: number }
  | {
    gsi: number;
    type: "msi";
    address_lo: number;
    address_hi: number;
    data: number;
  };

/**
 * Field offsets of `struct kvm_irq_routing_entry`; `u` is the union.
 *
 * @example
 * ```ts
 * ROUTING_ENTRY.u; // 16, where the union starts
 * ```
 */
export const ROUTING_ENTRY = { gsi: 0, type: 4, flags: 8, pad: 12, u: 16 } as const;

/**
 * Encodes `struct kvm_irq_routing` with its entries for KVM_SET_GSI_ROUTING.
 *
 * @example
 * ```ts
 * encodeIrqRouting([{ gsi: 0, type: "irqchip", irqchip: 2, pin: 2 }]).bytes.length; // 56
 * ```
 */
export function encodeIrqRouting(entries: readonly KvmIrqRoutingEntry[], flags = 0): Struct {
  const s = struct(SIZEOF.kvm_irq_routing + entries.length * SIZEOF.kvm_irq_routing_entry);
  const v = s.view;
  v.setUint32(0, entries.length, LE);
  v.setUint32(4, flags >>> 0, LE);
  entries.forEach((e, i) => {
    const at = SIZEOF.kvm_irq_routing + i * SIZEOF.kvm_irq_routing_entry;
    v.setUint32(at + ROUTING_ENTRY.gsi, e.gsi, LE);
    const u = at + ROUTING_ENTRY.u;
    if (e.type === "irqchip") {
      v.setUint32(at + ROUTING_ENTRY.type, KVM_IRQ_ROUTING.IRQCHIP, LE);
      v.setUint32(u, e.irqchip, LE);
      v.setUint32(u + 4, e.pin, LE);
    } else {
      v.setUint32(at + ROUTING_ENTRY.type, KVM_IRQ_ROUTING.MSI, LE);
      v.setUint32(u, e.address_lo, LE);
      v.setUint32(u + 4, e.address_hi, LE);
      v.setUint32(u + 8, e.data, LE);
    }
  });
  return s;
}

// ---- kvm_msi -----------------------------------------------------------------------

/**
 * Encodes `struct kvm_msi` for KVM_SIGNAL_MSI (flags 0, no devid).
 *
 * @example
 * ```ts
 * encodeMsi(0xfee00000, 0, 0x41);
 * ```
 */
export function encodeMsi(addressLo: number, addressHi: number, data: number): Struct {
  const s = struct(SIZEOF.kvm_msi);
  s.view.setUint32(0, addressLo >>> 0, LE); // address_lo
  s.view.setUint32(4, addressHi >>> 0, LE); // address_hi
  s.view.setUint32(8, data >>> 0, LE); // data
  return s;
}

// ---- kvm_vcpu_events ---------------------------------------------------------------

/**
 * Field offsets of `struct kvm_vcpu_events`.
 *
 * @example
 * ```ts
 * declare const view: DataView;
 * view.getUint8(VCPU_EVENTS.nmi_pending);
 * ```
 */
export const VCPU_EVENTS = {
  exception_injected: 0,
  exception_nr: 1,
  exception_has_error_code: 2,
  exception_pending: 3,
  exception_error_code: 4,
  interrupt_injected: 8,
  interrupt_nr: 9,
  interrupt_soft: 10,
  interrupt_shadow: 11,
  nmi_injected: 12,
  nmi_pending: 13,
  nmi_masked: 14,
  sipi_vector: 16,
  flags: 20,
  smi_smm: 24,
  smi_pending: 25,
  smi_smm_inside_nmi: 26,
  smi_latched_init: 27,
  triple_fault_pending: 28,
  exception_has_payload: 55,
  exception_payload: 56,
} as const;

/**
 * What irqlab reads of `struct kvm_vcpu_events`.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const vcpu: KvmVcpu;
 * const e: KvmVcpuEvents = vcpu.getEvents();
 * ```
 */
export interface KvmVcpuEvents {
  interrupt: { injected: number; nr: number; soft: number; shadow: number };
  nmi: { injected: number; pending: number; masked: number };
  sipi_vector: number;
  flags: number;
}

/**
 * Decodes `struct kvm_vcpu_events`.
 *
 * @example
 * ```ts
 * decodeVcpuEvents(struct(SIZEOF.kvm_vcpu_events).view).nmi.pending; // 0
 * ```
 */
export function decodeVcpuEvents(v: DataView): KvmVcpuEvents {
  const u8 = (k: keyof typeof VCPU_EVENTS) => v.getUint8(VCPU_EVENTS[k]);
  return {
    interrupt: {
      injected: u8("interrupt_injected"),
      nr: u8("interrupt_nr"),
      soft: u8("interrupt_soft"),
      shadow: u8("interrupt_shadow"),
    },
    nmi: { injected: u8("nmi_injected"), pending: u8("nmi_pending"), masked: u8("nmi_masked") },
    sipi_vector: v.getUint32(VCPU_EVENTS.sipi_vector, LE),
    flags: v.getUint32(VCPU_EVENTS.flags, LE),
  };
}

// ---- kvm_msrs ----------------------------------------------------------------------

/**
 * `struct kvm_msr_entry`.
 *
 * @example
 * ```ts
 * const e: KvmMsrEntry = { index: 0x1b, data: 0n };
 * ```
 */
export interface KvmMsrEntry {
  index: number;
  data: bigint;
}

/**
 * Encodes `struct kvm_msrs` with its entries (KVM_GET_MSRS fills `data`).
 *
 * @example
 * ```ts
 * encodeMsrs([{ index: 0x1b, data: 0n }]).bytes.length; // 24
 * ```
 */
export function encodeMsrs(entries: readonly KvmMsrEntry[]): Struct {
  const s = struct(SIZEOF.kvm_msrs + entries.length * SIZEOF.kvm_msr_entry);
  s.view.setUint32(0, entries.length, LE); // nmsrs
  entries.forEach((e, i) => {
    const at = SIZEOF.kvm_msrs + i * SIZEOF.kvm_msr_entry;
    s.view.setUint32(at, e.index, LE); // index
    s.view.setBigUint64(at + 8, e.data, LE); // data, after u32 reserved
  });
  return s;
}

/**
 * Decodes the entries of a `struct kvm_msrs`.
 *
 * @example
 * ```ts
 * decodeMsrs(encodeMsrs([{ index: 0x1b, data: 5n }]).view)[0].data; // 5n
 * ```
 */
export function decodeMsrs(v: DataView): KvmMsrEntry[] {
  const n = v.getUint32(0, LE);
  const out: KvmMsrEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = SIZEOF.kvm_msrs + i * SIZEOF.kvm_msr_entry;
    out.push({ index: v.getUint32(at, LE), data: v.getBigUint64(at + 8, LE) });
  }
  return out;
}

// ---- kvm_cpuid2 --------------------------------------------------------------------

/**
 * `struct kvm_cpuid_entry2`.
 *
 * @example
 * ```ts
 * import { KvmSystem } from "./kvm.ts";
 * declare const system: KvmSystem;
 * const leaf1: KvmCpuidEntry2 | undefined = system.supportedCpuid().find((e) => e.function === 1);
 * ```
 */
export interface KvmCpuidEntry2 {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

const CPUID_FIELDS = ["function", "index", "flags", "eax", "ebx", "ecx", "edx"] as const;

/**
 * A `struct kvm_cpuid2` with room for `nent` entries (KVM_GET_SUPPORTED_CPUID fills it).
 *
 * @example
 * ```ts
 * cpuidBuffer(100).view.getUint32(0, true); // 100
 * ```
 */
export function cpuidBuffer(nent: number): Struct {
  const s = struct(SIZEOF.kvm_cpuid2 + nent * SIZEOF.kvm_cpuid_entry2);
  s.view.setUint32(0, nent, LE);
  return s;
}

/**
 * Decodes the entries of a `struct kvm_cpuid2`.
 *
 * @example
 * ```ts
 * decodeCpuid2(cpuidBuffer(1).view).length; // 1
 * ```
 */
export function decodeCpuid2(v: DataView): KvmCpuidEntry2[] {
  const n = v.getUint32(0, LE);
  const out: KvmCpuidEntry2[] = [];
  for (let i = 0; i < n; i++) {
    const at = SIZEOF.kvm_cpuid2 + i * SIZEOF.kvm_cpuid_entry2;
    const e = {} as KvmCpuidEntry2;
    CPUID_FIELDS.forEach((f, k) => (e[f] = v.getUint32(at + 4 * k, LE)));
    out.push(e);
  }
  return out;
}

/**
 * Encodes a `struct kvm_cpuid2` for KVM_SET_CPUID2.
 *
 * @example
 * ```ts
 * encodeCpuid2([]).bytes.length; // 8
 * ```
 */
export function encodeCpuid2(entries: readonly KvmCpuidEntry2[]): Struct {
  const s = cpuidBuffer(entries.length);
  entries.forEach((e, i) => {
    const at = SIZEOF.kvm_cpuid2 + i * SIZEOF.kvm_cpuid_entry2;
    CPUID_FIELDS.forEach((f, k) => s.view.setUint32(at + 4 * k, e[f] >>> 0, LE));
  });
  return s;
}

// ---- kvm_enable_cap, kvm_mp_state, kvm_interrupt ------------------------------------

/**
 * Encodes `struct kvm_enable_cap` (cap, flags, args[4]).
 *
 * @example
 * ```ts
 * encodeEnableCap(KVM_CAP.SPLIT_IRQCHIP, [24n]);
 * ```
 */
export function encodeEnableCap(cap: number, args: readonly bigint[] = [], flags = 0): Struct {
  const s = struct(SIZEOF.kvm_enable_cap);
  s.view.setUint32(0, cap, LE); // cap
  s.view.setUint32(4, flags >>> 0, LE); // flags
  args.forEach((a, i) => s.view.setBigUint64(8 + 8 * i, a, LE)); // args[], after u32 flags
  return s;
}

/**
 * Encodes `struct kvm_irqfd` (fd, gsi, flags, resamplefd, 16 bytes of padding).
 *
 * @example
 * ```ts
 * encodeIrqfd(5, 10, 2, 6).view.getUint32(12, true); // 6
 * ```
 */
export function encodeIrqfd(fd: number, gsi: number, flags: number, resamplefd: number): Struct {
  const s = struct(SIZEOF.kvm_irqfd);
  s.view.setUint32(0, fd >>> 0, LE);
  s.view.setUint32(4, gsi >>> 0, LE);
  s.view.setUint32(8, flags >>> 0, LE);
  s.view.setUint32(12, resamplefd >>> 0, LE);
  return s;
}

/**
 * Encodes a u32 structure: `struct kvm_mp_state` or `struct kvm_interrupt`.
 *
 * @example
 * ```ts
 * encodeU32(KVM_MP_STATE.HALTED);
 * ```
 */
export function encodeU32(value: number): Struct {
  const s = struct(4);
  s.view.setUint32(0, value >>> 0, LE);
  return s;
}
