/**
 * The CPU side of x86 interrupt delivery for one vCPU: RFLAGS.IF, the
 * one-instruction STI / MOV SS shadow, HLT and its wake-up rules, NMI
 * blocking until IRET, and the order in which KVM looks for something to
 * inject (NMI, then a Xen guest's global callback vector, then the PIC
 * through LINT0, then the local APIC).
 *
 * Sources: Intel SDM vol. 3, "Interrupt and Exception Handling" (masking
 * maskable interrupts, the STI and MOV SS shadows, NMI handling, HLT);
 * Linux `arch/x86/kvm/x86.c` (`kvm_check_and_inject_events`,
 * `kvm_vcpu_has_events`) and `irq.c` (`kvm_cpu_has_extint`,
 * `kvm_cpu_get_extint`: `kvm_xen_has_interrupt` comes before the PIC); Xen
 * `xen/arch/x86/hvm/irq.c` (`hvm_vcpu_has_pending_irq`: NMI, MCE, then the
 * callback vector while evtchn_upcall_pending is set, then vPIC, then
 * vLAPIC) and `hvm.c` (`hvm_interrupt_blocked`: only IF and the STI / MOV SS
 * shadow gate that vector; TPR applies to LAPIC sources only).
 *
 * @module
 */
import type { CpuModel, Taken } from "../interp/platform.ts";
import type { Trace } from "../core/trace.ts";
import type { Lapic } from "./lapic.ts";

/** Where a vCPU's ExtINT (PIC) interrupts come from. */
export interface ExtIntSource {
  /** INTR is asserted. */
  intr(): boolean;
  /** The INTA cycle: returns the vector. */
  acknowledge(): number;
}

/**
 * What a hypervisor model adds to a vCPU (`lib/xen` for Xen guests): a
 * vector source that bypasses the LAPIC, wake-ups and VM exits.
 *
 * @example
 * ```ts
 * cpu.hv = { globalVector: (n) => domain.globalVector(n), woken: () => {}, vmExit: () => {} };
 * ```
 */
export interface HypervisorHooks {
  /** The vector offered to vCPU `n` at its next entry with no IRR/ISR bit, or -1. */
  globalVector(n: number): number;
  /** vCPU `n` was halted (HLT or a blocking hypercall) and takes an interrupt. */
  woken(n: number): void;
  /** vCPU `n` leaves guest mode: a trapping instruction, before its effect. */
  vmExit(n: number): void;
}

/** The one-instruction interrupt shadow a vCPU may be in. */
export type Shadow = "none" | "sti" | "mov_ss";

const FRAME_IF = 1;
const FRAME_NMI = 2;

/**
 * One x86 vCPU as the interrupt logic sees it.
 *
 * @example
 * ```ts
 * const cpu = new X86Cpu(0, lapic, null, trace);
 * cpu.sti();
 * cpu.retire();        // the instruction after STI ends the shadow
 * if (cpu.canTake()) cpu.take();
 * ```
 */
export class X86Cpu implements CpuModel {
  readonly name: string;
  /** RFLAGS.IF. Reset clears it (RFLAGS = 0x2). */
  interruptFlag = false;
  shadow: Shadow = "none";
  halted = false;
  /** An NMI handler is running: further NMIs wait for its IRET. */
  nmiBlocked = false;
  /** Frames of interrupts being handled, innermost last: saved IF and whether it was an NMI. */
  readonly #frames: number[] = [];
  /** The shadow was set by the instruction retiring now, so it still covers the next one. */
  #shadowFresh = false;
  /** Set for Xen guests (`hypervisor xen` or `kvm-xen`); null under plain KVM. */
  hv: HypervisorHooks | null = null;

  constructor(
    readonly index: number,
    readonly lapic: Lapic,
    /** The PIC (kernel irqchip) or the vector queued by KVM_INTERRUPT (split); null when none. */
    public extint: ExtIntSource | null,
    readonly trace: Trace,
  ) {
    this.name = `vcpu${index}`;
  }

  /** How deeply interrupt handlers are nested right now. */
  get depth(): number {
    return this.#frames.length;
  }

  /** STI: sets IF; if IF was clear, the next instruction runs in the STI shadow. */
  sti(): void {
    if (!this.interruptFlag) {
      this.shadow = "sti";
      this.#shadowFresh = true;
    }
    this.interruptFlag = true;
    this.#emit(
      "sti",
      this.shadow === "sti"
        ? "IF=1 (interrupts blocked for one instruction)"
        : "IF=1 (already set)",
    );
  }

  /** CLI: clears IF. */
  cli(): void {
    this.interruptFlag = false;
    this.#emit("cli", "IF=0");
  }

  /** HLT: sleeps until {@link X86Cpu.canTake} (IF=0: only an NMI; SMI and INIT are not modelled). */
  hlt(): void {
    this.halted = true;
    this.#emit(
      "hlt",
      this.interruptFlag ? "halted, IF=1" : "halted with IF=0: only NMI, SMI or INIT wake it",
    );
  }

  /** An NMI is waiting and not blocked (by a running NMI handler or, under KVM, an STI shadow). */
  nmiReady(): boolean {
    return this.lapic.nmiPending > 0 && !this.nmiBlocked && this.shadow === "none";
  }

  /** The PIC's INTR reaches the core through LINT0. */
  extIntReady(): boolean {
    return this.extint !== null && this.lapic.acceptsExtInt() && this.extint.intr();
  }

  /** The Xen global callback vector waiting for this vCPU, or -1. */
  globalVector(): number {
    return this.hv === null ? -1 : this.hv.globalVector(this.index);
  }

  /** A maskable interrupt would be taken if IF allowed it. */
  maskableReady(): boolean {
    return this.globalVector() >= 0 || this.extIntReady() || this.lapic.pendingVector() >= 0;
  }

  /**
   * The vCPU exits to the hypervisor for the instruction it is executing
   * (I/O, an APIC access, HLT, a hypercall): Xen checks whether the
   * callback GSI can drop at the start of every exit
   * (`hvm_maybe_deassert_evtchn_irq` in `vmx_vmexit_handler` /
   * `svm_vmexit_handler`).
   */
  vmExit(): void {
    this.hv?.vmExit(this.index);
  }

  canTake(): boolean {
    if (this.nmiReady()) return true;
    if (!this.interruptFlag || this.shadow !== "none") return false;
    return this.maskableReady();
  }

  take(): Taken {
    const t = this.trace;
    if (this.halted) {
      this.halted = false;
      // A blocking hypercall ends with the wake-up, as HLT does.
      this.hv?.woken(this.index);
    }
    let kind: string, vector: number, cause = 0;
    let gv: number;
    if (this.nmiReady()) {
      this.lapic.nmiPending--;
      this.nmiBlocked = true;
      kind = "nmi";
      vector = 2;
    } else if ((gv = this.globalVector()) >= 0) {
      // Xen's callback vector: injected directly, no IRR, ISR or EOI.
      kind = "vector";
      vector = gv;
    } else if (this.extIntReady()) {
      kind = "extint";
      vector = this.extint!.acknowledge();
    } else {
      kind = "vector";
      const pending = this.lapic.pendingVector();
      cause = pending >= 0 ? this.lapic.irrCause[pending] : 0;
      // The acknowledge and the take both follow from the request that set IRR.
      t.open(cause);
      vector = this.lapic.acknowledge();
      t.close(cause);
    }
    this.#frames.push((this.interruptFlag ? FRAME_IF : 0) | (kind === "nmi" ? FRAME_NMI : 0));
    this.interruptFlag = false;
    t.open(cause);
    const event = t.enabled ? t.emit(this.name, "took", describe(kind, vector)) : 0;
    t.close(cause);
    return { kind, vector, cause, event };
  }

  /** An instruction retired: a shadow set by an earlier instruction ends here. */
  retire(): boolean {
    if (this.#shadowFresh) {
      this.#shadowFresh = false;
      return true;
    }
    if (this.shadow === "none") return false;
    this.shadow = "none";
    return true;
  }

  returnFromInterrupt(): void {
    const f = this.#frames.pop();
    if (f === undefined) {
      this.#emit("iret", "IRET with no interrupt frame: ignored");
      return;
    }
    this.interruptFlag = (f & FRAME_IF) !== 0;
    if (f & FRAME_NMI) this.nmiBlocked = false;
    this.#emit("iret", `IRET, IF=${this.interruptFlag ? 1 : 0}`);
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }
}

function describe(kind: string, vector: number): string {
  const hex = `0x${vector.toString(16)}`;
  if (kind === "nmi") return "NMI";
  if (kind === "extint") return `${hex} (ExtINT)`;
  return hex;
}
