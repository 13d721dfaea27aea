/**
 * The CPU side of x86 interrupt delivery for one vCPU: RFLAGS.IF, the
 * one-instruction STI / MOV SS shadow, HLT and its wake-up rules, NMI
 * blocking until IRET, and the order in which KVM looks for something to
 * inject (NMI, then the PIC through LINT0, then the local APIC).
 *
 * Sources: Intel SDM vol. 3, "Interrupt and Exception Handling" (masking
 * maskable interrupts, the STI and MOV SS shadows, NMI handling, HLT);
 * Linux `arch/x86/kvm/x86.c` (`kvm_check_and_inject_events`,
 * `kvm_vcpu_has_events`) and `irq.c` (`kvm_cpu_has_extint`).
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

  /** A maskable interrupt would be taken if IF allowed it. */
  maskableReady(): boolean {
    return this.extIntReady() || this.lapic.pendingVector() >= 0;
  }

  canTake(): boolean {
    if (this.nmiReady()) return true;
    if (!this.interruptFlag || this.shadow !== "none") return false;
    return this.maskableReady();
  }

  take(): Taken {
    const t = this.trace;
    this.halted = false;
    let kind: string, vector: number, cause = 0;
    if (this.nmiReady()) {
      this.lapic.nmiPending--;
      this.nmiBlocked = true;
      kind = "nmi";
      vector = 2;
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
