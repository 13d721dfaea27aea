/**
 * The guest that runs on a KVM vCPU: a few hundred bytes of hand-assembled
 * real-mode code, an IVT whose handlers report what they were entered for
 * through an I/O port exit, and a "monitor" loop through which the VMM
 * makes the guest execute one small action at a time.
 *
 * Why real mode: on this provider (KVM's PVM) guest kernel-mode code runs
 * through KVM's instruction emulator, which emulates IRET only in real mode
 * (`em_iret` in arch/x86/kvm/emulate.c) and delivers interrupts there with
 * `kvm_inject_realmode_interrupt`. The APIC pages are reached through
 * segment bases set with KVM_SET_SREGS (GS: the xAPIC page at 0xfee00000,
 * ES: the IOAPIC at 0xfec00000), which real mode keeps until a segment
 * register is loaded, and this code never loads one.
 *
 * Why a monitor and not a script: a scenario's vCPU statements are single
 * instructions interleaved with VMM actions, so the guest must stop after
 * each one. It does: every action ends back at `monitor`, whose first
 * instruction is an OUT to {@link Port.Monitor}, an exit to userspace. The
 * VMM then writes the next action into the vCPU's mailbox (guest memory
 * it has mapped) and re-enters.
 *
 * Interrupt flag: the guest sits in the monitor with FLAGS.IF=0, always,
 * so an interrupt is accepted only where the VMM asks for it: the
 * {@link Action.ProbeSti} action is `sti; nop; cli`, which opens exactly one
 * instruction boundary (after the NOP, which the STI shadow covers). An
 * interrupt KVM delivers there enters the IVT handler, which exits on
 * {@link Port.Vector} with the vector in AL; the guest then runs a nested
 * monitor inside the handler, on the interrupt frame, and
 * {@link Action.Iret} returns from it. The scenario's own IF is kept by the
 * VMM (see `platform.ts`).
 *
 * Memory map (one slot at GPA 0):
 * - 0x0000 IVT: 256 far pointers (offset, segment 0)
 * - 0x1000 mailboxes, 64 bytes per vCPU, reached through FS (FS.base = the vCPU's)
 * - 0x2000 the monitor, the actions and the jump table
 * - 0x3000 256 handler stubs, 8 bytes each
 * - 0x20000 + 0x1000 * n: vCPU n's stack segment (SP starts at 0x1000)
 *
 * @module
 */
import { KVM_EXIT, KVM_EXIT_IO_OUT, KVM_RUN, type KvmSegment } from "./abi.ts";
import { APIC_DEFAULT_BASE } from "../x86/lapic_registers.ts";
import { IOAPIC_MMIO_BASE } from "../x86/guest_mmio.ts";
import type { KvmVcpu } from "./kvm.ts";

/**
 * Guest memory size: 2 MiB, well clear of the APIC pages.
 *
 * @example
 * ```ts
 * import { KvmVm } from "./kvm.ts";
 * declare const vm: KvmVm;
 * const mem = vm.addMemory(0, 0n, GUEST_MEMORY);
 * ```
 */
export const GUEST_MEMORY = 0x20_0000;

/**
 * The xAPIC page and the IOAPIC's MMIO window.
 *
 * @example
 * ```ts
 * LAPIC_BASE + 0xb0; // the EOI register
 * ```
 */
export const LAPIC_BASE = APIC_DEFAULT_BASE, IOAPIC_BASE = IOAPIC_MMIO_BASE;

/**
 * Where things are in guest memory.
 *
 * @example
 * ```ts
 * declare const code: Uint8Array, mem: Uint8Array<ArrayBuffer>;
 * mem.set(code, Layout.code);
 * ```
 */
export const Layout = {
  ivt: 0x0000,
  mailbox: 0x1000,
  mailboxStride: 64,
  code: 0x2000,
  stubs: 0x3000,
  stubSize: 8,
  stack: 0x2_0000,
  stackStride: 0x1000,
} as const;

/**
 * Mailbox fields (offsets from FS.base).
 *
 * @example
 * ```ts
 * mailboxOf(0) + Mailbox.outEax;
 * ```
 */
export const Mailbox = {
  /** The action to run ({@link Action}). */
  op: 0,
  /** ECX for WRMSR/RDMSR; the register offset for MMIO. */
  ecx: 4,
  /** EAX for WRMSR; the value of an MMIO write. */
  eax: 8,
  /** EDX for WRMSR. */
  edx: 12,
  /** Results: EAX after RDMSR or the MMIO read. */
  outEax: 16,
  /** EDX after RDMSR. */
  outEdx: 20,
  /**
   * The action an IRET leaves in `op` for the code it returns to: a
   * handler entered at the monitor's own boundary (an NMI injected as the
   * guest re-enters) returns to the monitor, which reads `op` again.
   */
  next: 24,
  /** EBX after CPUID. */
  outEbx: 28,
  /** ECX after CPUID. */
  outEcx: 32,
} as const;

/**
 * I/O ports the guest writes to exit to the VMM.
 *
 * @example
 * ```ts
 * import { KVM_RUN } from "./abi.ts";
 * declare const runView: DataView;
 * runView.getUint16(KVM_RUN.io_port, true) === Port.Monitor;
 * ```
 */
export const Port = {
  /** At the monitor: the previous action is done. */
  Monitor: 0x10,
  /** An interrupt handler was entered; AL is the vector. */
  Vector: 0x11,
  /** #GP was raised by the action; the guest is back at the monitor. */
  GpFault: 0x12,
  /** The NMI handler was entered. */
  Nmi: 0x13,
  /** Inside a probe, IF=1: the VMM just re-enters, and KVM injects what it can. */
  Window: 0x14,
} as const;

/**
 * Actions of the monitor loop (the jump table's order).
 *
 * @example
 * ```ts
 * declare const mem: Uint8Array<ArrayBuffer>;
 * post(mem, 0, Action.ProbeSti);
 * ```
 */
export const Action = {
  /** `sti; nop; cli`: one boundary where an interrupt can be accepted. */
  ProbeSti: 0,
  /** `nop`: one instruction (a boundary where only an NMI can come in). */
  Nop: 1,
  /** `wrmsr` of ECX with EDX:EAX. */
  Wrmsr: 2,
  /** `rdmsr` of ECX into the mailbox. */
  Rdmsr: 3,
  /** `mov gs:[bx], eax`: a 32-bit write to the xAPIC page at offset BX. */
  LapicWrite: 4,
  /** `mov eax, gs:[bx]`: a 32-bit read of the xAPIC page. */
  LapicRead: 5,
  /** `iret`: return from the handler the guest is in. */
  Iret: 6,
  /** `mov es:[bx], eax`: a 32-bit write to the IOAPIC window (IOREGSEL 0x00, IOWIN 0x10). */
  IoapicWrite: 7,
  /** `mov eax, es:[bx]`: a 32-bit read of the IOAPIC window. */
  IoapicRead: 8,
  /** `out dx, al`: a byte to port DX (ECX), from AL (EAX). */
  Out: 9,
  /** `in al, dx`: a byte from port DX (ECX) into the mailbox. */
  In: 10,
  /**
   * In the #GP handler: return past the faulting action, to the monitor
   * (real mode pushes no error code; the saved IP is rewritten).
   */
  SkipFault: 11,
  /** `cpuid` of leaf ECX (sub-leaf EAX); EAX, EBX, ECX and EDX into the mailbox. */
  Cpuid: 12,
} as const;

/** A tiny 16-bit assembler: bytes, labels and rel16 / absolute fix-ups. */
class Asm {
  readonly bytes: number[] = [];
  readonly labels = new Map<string, number>();
  readonly fixups: { at: number; label: string; absolute: boolean }[] = [];
  constructor(readonly origin: number) {}
  get here(): number {
    return this.origin + this.bytes.length;
  }
  label(name: string): void {
    this.labels.set(name, this.here);
  }
  emit(...b: number[]): void {
    this.bytes.push(...b);
  }
  u16(v: number): void {
    this.emit(v & 0xff, (v >>> 8) & 0xff);
  }
  /** `jmp rel16` to a label: E9 cw. */
  jmp(label: string): void {
    this.emit(0xe9);
    this.fixups.push({ at: this.bytes.length, label, absolute: false });
    this.u16(0);
  }
  /** A 16-bit absolute offset of a label (a jump-table entry). */
  address(label: string): void {
    this.fixups.push({ at: this.bytes.length, label, absolute: true });
    this.u16(0);
  }
  link(): Uint8Array {
    const out = new Uint8Array(this.bytes);
    const view = new DataView(out.buffer);
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`guest code: no label '${f.label}'`);
      if (f.absolute) view.setUint16(f.at, target, true);
      else view.setInt16(f.at, target - (this.origin + f.at + 2), true);
    }
    return out;
  }
}

/**
 * The assembled guest: code, where the monitor starts, and the handler stubs.
 *
 * @example
 * ```ts
 * declare const mem: Uint8Array<ArrayBuffer>;
 * const img: GuestImage = loadGuest(mem);
 * ```
 */
export interface GuestImage {
  code: Uint8Array;
  monitor: number;
  stubs: Uint8Array;
  gpHandler: number;
  nmiHandler: number;
}

// 16-bit encodings used below (operand size 32 needs the 0x66 prefix, FS is 0x64,
// GS 0x65, ES 0x26; ModRM 00 reg 110 is [disp16], 00 reg 111 is [bx]).
const FS = 0x64, GS = 0x65, ES = 0x26, O32 = 0x66;

/**
 * Assembles the monitor, its actions and the handler stubs.
 *
 * @example
 * ```ts
 * const img = assembleGuest();
 * img.monitor; // 0x2000
 * ```
 */
export function assembleGuest(): GuestImage {
  const a = new Asm(Layout.code);
  const table = Layout.code + 0x400;
  a.label("monitor");
  a.emit(0xe6, Port.Monitor); // out imm8, al: exit to the VMM, "done, what next?"
  a.emit(FS, 0x8b, 0x1e); // mov bx, fs:[disp16]: the action number
  a.u16(Mailbox.op);
  a.emit(0xd1, 0xe3); // shl bx, 1: table entries are 2 bytes
  a.emit(0x2e, 0xff, 0xa7); // jmp cs:[bx + disp16]: FF /4, ModRM 10 100 111
  a.u16(table);

  a.label("probe_sti");
  a.emit(0xfb); // sti: IF=1, interrupts still blocked for one instruction
  a.emit(0x90); // nop: retires under the STI shadow; the boundary after it is open
  // out imm8, al: an exit with IF=1. KVM injects a pending interrupt when it
  // re-enters the guest (inject_pending_event); the emulator that runs this
  // code does not stop between instructions to look.
  a.emit(0xe6, Port.Window);
  a.emit(0xfa); // cli: IF=0 again
  a.jmp("monitor");

  a.label("nop");
  a.emit(0x90); // nop
  a.jmp("monitor");

  a.label("wrmsr");
  a.emit(O32, FS, 0x8b, 0x0e); // mov ecx, fs:[4]
  a.u16(Mailbox.ecx);
  a.emit(O32, FS, 0xa1); // mov eax, fs:[8]
  a.u16(Mailbox.eax);
  a.emit(O32, FS, 0x8b, 0x16); // mov edx, fs:[12]
  a.u16(Mailbox.edx);
  a.emit(0x0f, 0x30); // wrmsr
  a.jmp("monitor");

  a.label("rdmsr");
  a.emit(O32, FS, 0x8b, 0x0e); // mov ecx, fs:[4]
  a.u16(Mailbox.ecx);
  a.emit(0x0f, 0x32); // rdmsr: EDX:EAX = MSR[ECX]
  a.emit(O32, FS, 0xa3); // mov fs:[16], eax
  a.u16(Mailbox.outEax);
  a.emit(O32, FS, 0x89, 0x16); // mov fs:[20], edx
  a.u16(Mailbox.outEdx);
  a.jmp("monitor");

  for (const [name, seg] of [["lapic", GS], ["ioapic", ES]] as const) {
    a.label(`${name}_write`);
    a.emit(FS, 0x8b, 0x1e); // mov bx, fs:[4]: the register offset
    a.u16(Mailbox.ecx);
    a.emit(O32, FS, 0xa1); // mov eax, fs:[8]: the value
    a.u16(Mailbox.eax);
    a.emit(O32, seg, 0x89, 0x07); // mov seg:[bx], eax
    a.jmp("monitor");

    a.label(`${name}_read`);
    a.emit(FS, 0x8b, 0x1e); // mov bx, fs:[4]
    a.u16(Mailbox.ecx);
    a.emit(O32, seg, 0x8b, 0x07); // mov eax, seg:[bx]
    a.emit(O32, FS, 0xa3); // mov fs:[16], eax
    a.u16(Mailbox.outEax);
    a.jmp("monitor");
  }

  a.label("out");
  a.emit(FS, 0x8b, 0x16); // mov dx, fs:[4]: the port
  a.u16(Mailbox.ecx);
  a.emit(FS, 0xa0); // mov al, fs:[8]: the byte (A0: MOV AL, moffs8)
  a.u16(Mailbox.eax);
  a.emit(0xee); // out dx, al
  a.jmp("monitor");

  a.label("in");
  a.emit(FS, 0x8b, 0x16); // mov dx, fs:[4]
  a.u16(Mailbox.ecx);
  a.emit(0xec); // in al, dx
  a.emit(O32, 0x25); // and eax, imm32: keep the byte
  a.emit(0xff, 0, 0, 0);
  a.emit(O32, FS, 0xa3); // mov fs:[16], eax
  a.u16(Mailbox.outEax);
  a.jmp("monitor");

  a.label("iret");
  a.emit(FS, 0xa1); // mov ax, fs:[24]: what the interrupted monitor should do next
  a.u16(Mailbox.next);
  a.emit(FS, 0xa3); // mov fs:[0], ax
  a.u16(Mailbox.op);
  a.emit(0xcf); // iret: pops IP, CS, FLAGS of the frame the handler was entered with

  // Vector 13: #GP from an action, or an interrupt with vector 13; only the
  // VMM knows which, so the handler reports and waits in a nested monitor.
  a.label("gp");
  a.emit(0xe6, Port.GpFault); // out imm8, al
  a.jmp("monitor");

  a.label("skip_fault");
  a.emit(0x89, 0xe5); // mov bp, sp
  a.emit(0xc7, 0x46, 0x00); // mov word [bp+0], imm16: the saved IP := monitor
  a.u16(Layout.code);
  a.emit(0xcf); // iret

  a.label("cpuid");
  a.emit(O32, FS, 0xa1); // mov eax, fs:[4]: the leaf
  a.u16(Mailbox.ecx);
  a.emit(O32, FS, 0x8b, 0x0e); // mov ecx, fs:[8]: the sub-leaf
  a.u16(Mailbox.eax);
  a.emit(0x0f, 0xa2); // cpuid
  a.emit(O32, FS, 0xa3); // mov fs:[16], eax
  a.u16(Mailbox.outEax);
  a.emit(O32, FS, 0x89, 0x1e); // mov fs:[28], ebx
  a.u16(Mailbox.outEbx);
  a.emit(O32, FS, 0x89, 0x0e); // mov fs:[32], ecx
  a.u16(Mailbox.outEcx);
  a.emit(O32, FS, 0x89, 0x16); // mov fs:[20], edx
  a.u16(Mailbox.outEdx);
  a.jmp("monitor");

  a.label("nmi");
  a.emit(0xe6, Port.Nmi); // out imm8, al
  a.jmp("monitor"); // a nested monitor inside the NMI handler

  // The jump table, indexed by Action.
  while (a.here < table) a.emit(0xcc); // int3 padding
  for (
    const l of [
      "probe_sti",
      "nop",
      "wrmsr",
      "rdmsr",
      "lapic_write",
      "lapic_read",
      "iret",
      "ioapic_write",
      "ioapic_read",
      "out",
      "in",
      "skip_fault",
      "cpuid",
    ]
  ) a.address(l);
  const code = a.link();
  const monitor = a.labels.get("monitor")!;

  // One stub per vector: mov al, imm8 (B0 ib); out 0x11, al (E6 ib); jmp monitor (E9 cw).
  const stubs = new Uint8Array(256 * Layout.stubSize);
  const sv = new DataView(stubs.buffer);
  for (let v = 0; v < 256; v++) {
    const at = v * Layout.stubSize;
    stubs.set([0xb0, v, 0xe6, Port.Vector, 0xe9], at);
    sv.setInt16(at + 5, monitor - (Layout.stubs + at + 7), true);
  }
  return {
    code,
    monitor,
    stubs,
    gpHandler: a.labels.get("gp")!,
    nmiHandler: a.labels.get("nmi")!,
  };
}

/**
 * Writes the IVT and code into guest memory.
 *
 * @example
 * ```ts
 * import { KvmVm } from "./kvm.ts";
 * declare const vm: KvmVm;
 * const img = loadGuest(vm.addMemory(0, 0n, GUEST_MEMORY));
 * ```
 */
export function loadGuest(mem: Uint8Array<ArrayBuffer>): GuestImage {
  const img = assembleGuest();
  const view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  for (let v = 0; v < 256; v++) {
    const handler = v === 2
      ? img.nmiHandler
      : v === 13
      ? img.gpHandler
      : Layout.stubs + v * Layout.stubSize;
    view.setUint16(Layout.ivt + 4 * v, handler, true); // offset
    view.setUint16(Layout.ivt + 4 * v + 2, 0, true); // segment
  }
  mem.set(img.code, Layout.code);
  mem.set(img.stubs, Layout.stubs);
  return img;
}

function realSegment(base: number, type: number): KvmSegment {
  return {
    base: BigInt(base),
    limit: 0xffff,
    // Real mode's selector is base >> 4; the APIC bases do not fit, and are never reloaded.
    selector: base < 0x10_0000 ? base >>> 4 : 0,
    type,
    present: 1,
    dpl: 0,
    db: 0,
    s: 1,
    l: 0,
    g: 0,
    avl: 0,
    unusable: 0,
  };
}

/**
 * Puts vCPU `n` in real mode at the monitor, IF=0, with its own stack and
 * mailbox (FS.base), GS on the xAPIC page and ES on the IOAPIC.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const cpu: KvmVcpu, img: GuestImage;
 * enterMonitor(cpu, 0, img);
 * ```
 */
export function enterMonitor(cpu: KvmVcpu, n: number, img: GuestImage): void {
  const s = cpu.getSregs();
  s.cs = realSegment(0, 0xb); // execute/read, accessed
  s.ds = realSegment(0, 0x3); // read/write, accessed
  s.ss = realSegment(Layout.stack + n * Layout.stackStride, 0x3);
  s.fs = realSegment(mailboxOf(n), 0x3);
  s.gs = realSegment(LAPIC_BASE, 0x3);
  s.es = realSegment(IOAPIC_BASE, 0x3);
  s.idt = { base: BigInt(Layout.ivt), limit: 0x3ff };
  s.cr0 &= ~1n; // PE=0: real mode
  cpu.setSregs(s);
  const r = cpu.getRegs();
  r.rip = BigInt(img.monitor);
  r.rflags = 0x2n; // IF=0; bit 1 is always 1
  r.rsp = BigInt(Layout.stackStride);
  cpu.setRegs(r);
}

/**
 * Where vCPU `n`'s mailbox is (a multiple of 16, so real mode can name it).
 *
 * @example
 * ```ts
 * mailboxOf(1); // 0x1040
 * ```
 */
export function mailboxOf(n: number): number {
  return Layout.mailbox + n * Layout.mailboxStride;
}

/**
 * How one stretch of guest execution ended.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const cpu: KvmVcpu;
 * const stop: Stop = runUntilStop(cpu);
 * ```
 */
export type Stop =
  /** Back at the monitor: the action is done. */
  | { at: "monitor" }
  /** A handler was entered for `vector`; the guest now runs a nested monitor. */
  | { at: "vector"; vector: number }
  /** The NMI handler was entered. */
  | { at: "nmi" }
  /**
   * Vector 13 was entered: #GP raised by the action (then post
   * {@link Action.SkipFault}), or an interrupt with vector 13 (then it is
   * a handler like any other).
   */
  | { at: "gp" };

/**
 * The guest misbehaved: an exit the monitor protocol has no place for.
 *
 * @example
 * ```ts
 * throw new GuestError("unexpected exit KVM_EXIT_SHUTDOWN");
 * ```
 */
export class GuestError extends Error {
  /**
   * @example
   * ```ts
   * new GuestError("KVM_EXIT_SHUTDOWN (triple fault)");
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "GuestError";
  }
}

/**
 * Exits that are no part of the monitor protocol but that the VMM is told of.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const cpu: KvmVcpu;
 * runUntilStop(cpu, { ioapicEoi: (v) => console.log(`EOI exit for ${v}`) });
 * ```
 */
export interface ExitObserver {
  /** KVM_EXIT_IOAPIC_EOI (split irqchip): the guest EOI'd a vector the VMM's IOAPIC routes. */
  ioapicEoi?(vector: number): void;
}

/**
 * Runs the vCPU until its next OUT to one of the {@link Port}s. The very
 * first KVM_RUN stops at the monitor's own OUT.
 *
 * @example
 * ```ts
 * import { KvmVcpu } from "./kvm.ts";
 * declare const cpu: KvmVcpu;
 * const stop = runUntilStop(cpu); // { at: "monitor" }
 * ```
 */
export function runUntilStop(cpu: KvmVcpu, observer: ExitObserver = {}): Stop {
  // Other exits (an interrupt of the host, a signal) are resumed, a bounded number of times.
  for (let i = 0; i < 1000; i++) {
    cpu.run();
    const v = cpu.runView;
    const reason = v.getUint32(KVM_RUN.exit_reason, true);
    if (reason === KVM_EXIT.INTR) continue;
    if (reason === KVM_EXIT.IOAPIC_EOI) {
      // Nothing to do for a VMM without an IOAPIC of its own; the guest resumes after its EOI.
      observer.ioapicEoi?.(v.getUint8(KVM_RUN.eoi_vector));
      continue;
    }
    if (reason === KVM_EXIT.IO && v.getUint16(KVM_RUN.io_port, true) === Port.Window) continue;
    if (reason !== KVM_EXIT.IO) throw new GuestError(`unexpected exit ${exitName(reason)}`);
    const port = v.getUint16(KVM_RUN.io_port, true);
    const dataAt = Number(v.getBigUint64(KVM_RUN.io_data_offset, true));
    const isProtocol = port >= Port.Monitor && port <= Port.Window;
    if (!isProtocol) {
      // A port no in-kernel device claims: nothing answers (reads give all ones).
      if (v.getUint8(KVM_RUN.io_direction) !== KVM_EXIT_IO_OUT) cpu.runBytes[dataAt] = 0xff;
      continue;
    }
    if (v.getUint8(KVM_RUN.io_direction) !== KVM_EXIT_IO_OUT) {
      throw new GuestError(`unexpected IN from port 0x${port.toString(16)}`);
    }
    const data = cpu.runBytes[dataAt];
    switch (port) {
      case Port.Monitor:
        return { at: "monitor" };
      case Port.Vector:
        return { at: "vector", vector: data };
      case Port.Nmi:
        return { at: "nmi" };
      case Port.GpFault:
        return { at: "gp" };
    }
    throw new GuestError(`OUT to unexpected port 0x${port.toString(16)}`);
  }
  throw new GuestError("the vCPU kept exiting without reaching the monitor");
}

function exitName(reason: number): string {
  const name = Object.entries(KVM_EXIT).find(([, v]) => v === reason)?.[0];
  return name ? `KVM_EXIT_${name}` : `exit reason ${reason}`;
}

/**
 * Writes an action and its operands into vCPU `n`'s mailbox.
 *
 * @example
 * ```ts
 * declare const mem: Uint8Array<ArrayBuffer>;
 * post(mem, 0, Action.Wrmsr, 0x80b, 0, 0); // x2APIC EOI
 * ```
 */
export function post(
  mem: Uint8Array<ArrayBuffer>,
  n: number,
  action: number,
  ecx = 0,
  eax = 0,
  edx = 0,
): void {
  const view = new DataView(mem.buffer, mem.byteOffset);
  const at = mailboxOf(n);
  view.setUint32(at + Mailbox.op, action, true);
  view.setUint32(at + Mailbox.ecx, ecx >>> 0, true);
  view.setUint32(at + Mailbox.eax, eax >>> 0, true);
  view.setUint32(at + Mailbox.edx, edx >>> 0, true);
  // A monitor resumed by an IRET runs a NOP and reports, nothing else.
  view.setUint32(at + Mailbox.next, Action.Nop, true);
}

/**
 * Reads a result the last action left in vCPU `n`'s mailbox.
 *
 * @example
 * ```ts
 * declare const mem: Uint8Array<ArrayBuffer>;
 * result(mem, 0, "outEax");
 * ```
 */
export function result(
  mem: Uint8Array<ArrayBuffer>,
  n: number,
  field: "outEax" | "outEbx" | "outEcx" | "outEdx",
): number {
  return new DataView(mem.buffer, mem.byteOffset).getUint32(mailboxOf(n) + Mailbox[field], true);
}
