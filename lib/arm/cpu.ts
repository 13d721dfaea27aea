/**
 * The PE side of Arm interrupt delivery for one vCPU: PSTATE.I and PSTATE.F,
 * the IRQ and FIQ exceptions, WFI, and the return (ERET).
 *
 * - The GIC drives two lines into the PE: IRQ and FIQ. An IRQ is taken when
 *   PSTATE.I is clear, an FIQ when PSTATE.F is clear. Taking either to EL1
 *   saves PSTATE in SPSR_EL1 and sets D, A, I and F; ERET restores them.
 * - The first thing a GIC driver's exception handler does is acknowledge
 *   (ICC_IAR1_EL1 for an IRQ, ICC_IAR0_EL1 for an FIQ, GICC_IAR on GICv2);
 *   the model performs that read as part of taking the exception, so the
 *   record of what was taken carries the INTID and the handler can end it
 *   with `eoi`.
 * - WFI: the vCPU sleeps until KVM's wake-up test passes (something
 *   pending, enabled, not active and below PMR, or a GICv4 doorbell's
 *   pending_last), even with PSTATE.I set — WFI wakes on a masked
 *   interrupt; taking it is another matter. While blocked its vPE is not
 *   resident.
 * - Reset: PSTATE.DAIF all set, so a guest unmasks interrupts itself.
 * - Synchronous exceptions: an instruction that is UNDEFINED (an ICC_*
 *   system register without a GICv3 CPU interface, which KVM answers with
 *   `kvm_inject_undefined`) raises one, taken to EL1 at the next boundary
 *   whatever PSTATE.I/F say, with ESR_EL1.EC 0x00 (Unknown reason) and IL
 *   set. The handler returns past the instruction (ELR_EL1 + 4), as every
 *   UNDEF handler of the tests ported does (`guest_undef_handler` in the
 *   selftests); returning to the instruction itself is not modelled.
 *
 * Sources: Arm DDI 0487 (Arm ARM) D1.3 "Exceptions" (PSTATE.{D,A,I,F} on
 * exception entry), ESR_EL1 (EC, IL, ISS), C6.2 WFI and D1.6 "Mechanisms for entering a low-power
 * state" (wake-up events); Linux `arch/arm64/kvm/arm.c`
 * (`kvm_arch_vcpu_runnable`, `kvm_arch_vcpu_blocking`), `vgic/vgic.c`
 * (`kvm_vgic_vcpu_pending_irq`), `drivers/irqchip/irq-gic-v3.c`
 * (`gic_handle_irq` reads IAR first), `arch/arm64/kvm/inject_fault.c`
 * (`kvm_inject_undefined`: EC Unknown, IL set).
 *
 * @module
 */
import type { CpuModel, Taken } from "../core/platform.ts";
import type { Trace } from "../core/trace.ts";
import { type Ack, iarValue } from "./cpu_interface_v3.ts";
import { SPURIOUS } from "./irq_state.ts";
import type { StateHash } from "../core/platform.ts";

/**
 * What the CPU needs from the GIC.
 *
 * @example
 * ```ts
 * import { ArmVm } from "./vm.ts";
 * declare const vm: ArmVm;
 * const port: GicPort = vm; // ArmVm is the GicPort of its vCPUs
 * port.signal(0); // 0 nothing, 1 IRQ, 2 FIQ
 * ```
 */
export interface GicPort {
  /** 0 nothing, 1 IRQ, 2 FIQ asserted towards this vCPU (3: both). */
  signal(cpu: number): number;
  /** The handler's acknowledge for this exception; fills `out`. */
  acknowledgeFor(cpu: number, fiq: boolean, out: Ack): Ack;
  /** KVM's wake-up test. */
  wouldWake(cpu: number): boolean;
  /** The vCPU blocks in WFI (true) or runs again (false). */
  blocked(cpu: number, yes: boolean): void;
  /** A KVM_MP_STATE_SUSPENDED vCPU is looked at: KVM's WAKEUP exit once its wake-up test passes. */
  suspendedPoll?(cpu: number): void;
}

/**
 * ESR_ELx's layout (Arm ARM D24, ESR_EL1): EC in [31:26], IL (a 32-bit
 * instruction) in bit 25, ISS in [24:0].
 *
 * @example
 * ```ts
 * (EsrEc.UNKNOWN << Esr.EC_SHIFT) | Esr.IL; // 0x2000000: an UNDEF, as KVM injects it
 * ```
 */
export const Esr = { EC_SHIFT: 26, IL: 1 << 25 } as const;

/**
 * The exception classes (ESR_ELx.EC) the model raises: only UNDEF's
 * "Unknown reason" (0x00) so far.
 *
 * @example
 * ```ts
 * EsrEc.UNKNOWN; // 0
 * ```
 */
export const EsrEc = { UNKNOWN: 0x00 } as const;

/** KVM_MP_STATE_SUSPENDED. */
const MP_SUSPENDED = 9;

/** The `kind` of a synchronous exception's {@link Taken}, and its handler event. */
export const SYNC = "sync";

const FRAME_I = 1;
const FRAME_F = 2;
const FRAME_FIQ = 4;

/**
 * One arm64 vCPU.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * declare const port: GicPort, trace: Trace;
 * const cpu = new ArmCpu(0, port, trace);
 * cpu.unmask("irq");
 * if (cpu.canTake()) cpu.take().vector; // the INTID acknowledged
 * ```
 */
export class ArmCpu implements CpuModel {
  /** `vcpuN`, as scenarios name it. */
  readonly name: string;
  /**
   * `retire` changes nothing, ERET only this vCPU's PSTATE, and the WFI
   * wake-up inside `canTake` only this vCPU's vPE residency and Xen timers
   * (CpuModel).
   */
  get ownBoundaries(): boolean {
    return true;
  }
  /** PSTATE.I: IRQs masked. */
  maskI = true;
  /** PSTATE.F: FIQs masked. */
  maskF = true;
  #halted = false;
  /** Saved PSTATE bits per exception being handled, innermost last. */
  readonly #frames: number[] = [];
  /** The INTID each exception acknowledged, innermost last. */
  readonly #intids: number[] = [];
  readonly #ack: Ack = { intid: SPURIOUS, source: -1, group: 1, cause: 0 };
  /** ESR_EL1 of the synchronous exception waiting to be taken, or -1. */
  #sync = -1;
  /** The trace event that raised it. */
  #syncCause = 0;
  /** ESR_EL1: the syndrome of the last synchronous exception taken (0 at reset). */
  esr = 0;
  /** Synchronous exceptions taken. */
  syncTaken = 0;
  /**
   * KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE (0), KVM_MP_STATE_STOPPED
   * (5: PSCI CPU_OFF, a system event or the VMM's KVM_SET_MP_STATE) or
   * KVM_MP_STATE_SUSPENDED (9: the VMM's); a vCPU that is not runnable
   * neither executes nor takes an exception until CPU_ON or the VMM makes
   * it runnable again (lib/arm/psci.ts).
   */
  mpState = 0;

  /**
   * Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`);
   * the acknowledge record is scratch, filled anew by every take.
   */
  hashPrivate(h: StateHash): void {
    h.bool(this.#halted);
    h.n(this.#sync);
    h.n(this.esr);
    h.n(this.syncTaken);
    h.words(this.#frames);
    h.words(this.#intids);
  }
  /** GICC_IAR.CPUID of the last acknowledge: the sender of a GICv2 SGI, else -1. */
  lastAckSource: number = -1;

  /**
   * vCPU `index` (its vcpu_id), wired to the GIC through `gic`. It starts
   * as KVM resets it: PSTATE.I and F set, running.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * import { ArmVm } from "./vm.ts";
   * declare const trace: Trace, vm: ArmVm;
   * new ArmCpu(1, vm, trace).name; // "vcpu1"
   * ```
   */
  constructor(readonly index: number, readonly gic: GicPort, readonly trace: Trace) {
    this.name = `vcpu${index}`;
  }

  /** In WFI. */
  get halted(): boolean {
    return this.#halted;
  }

  /** How many exception handlers are running. */
  get depth(): number {
    return this.#frames.length;
  }

  /** The INTID the innermost handler acknowledged, or 1023. */
  get currentIntid(): number {
    const n = this.#intids.length;
    return n === 0 ? SPURIOUS : this.#intids[n - 1];
  }

  /** Whether the innermost handler is for an FIQ. */
  get inFiq(): boolean {
    const n = this.#frames.length;
    return n > 0 && (this.#frames[n - 1] & FRAME_FIQ) !== 0;
  }

  /**
   * KVM_ARM_VCPU_INIT again (`kvm_reset_vcpu`): PSTATE is EL1h with D, A, I
   * and F set (VCPU_RESET_PSTATE_EL1), the core registers are zeroed, so the
   * handlers that were running and a synchronous exception not yet taken
   * are gone, and a vCPU blocked in WFI runs again (the reset is made
   * outside KVM_RUN; the next one starts at the VMM's PC). ESR_EL1 goes back
   * to the model's reset value. Nothing of the GIC is touched here.
   */
  reset(): void {
    this.maskI = true;
    this.maskF = true;
    this.#frames.length = 0;
    this.#intids.length = 0;
    this.#sync = -1;
    this.esr = 0;
    if (this.#halted) {
      this.#halted = false;
      this.gic.blocked(this.index, false);
    }
    this.#emit("reset", "vCPU reset: PSTATE.DAIF set, no handler running, not in WFI");
  }

  /** MSR DAIFSet: mask IRQs or FIQs. */
  mask(which: "irq" | "fiq"): void {
    if (which === "irq") this.maskI = true;
    else this.maskF = true;
    this.#emit("daif", `PSTATE.${which === "irq" ? "I" : "F"}=1 (${which}s masked)`);
  }

  /** MSR DAIFClr: unmask IRQs or FIQs. */
  unmask(which: "irq" | "fiq"): void {
    if (which === "irq") this.maskI = false;
    else this.maskF = false;
    this.#emit("daif", `PSTATE.${which === "irq" ? "I" : "F"}=0 (${which}s unmasked)`);
  }

  /** WFI: returns at once if a wake-up event is already there, else sleeps. */
  wfi(): void {
    if (this.gic.wouldWake(this.index)) {
      this.#emit("wfi", "WFI: an interrupt is already pending, no sleep");
      return;
    }
    this.#halted = true;
    this.gic.blocked(this.index, true);
    this.#emit("wfi", "WFI: blocked (vPE not resident, doorbell enabled)");
  }

  /**
   * A blocking hypercall (Xen's SCHEDOP_block or SCHEDOP_poll) put the
   * vCPU to sleep: it waits as in WFI, until an interrupt for it wakes it
   * (Xen's `vgic_inject_irq` -> `vcpu_kick`) or the hypervisor resumes it.
   */
  sleep(why: string): void {
    this.#halted = true;
    this.gic.blocked(this.index, true);
    this.#emit("block", `blocked in ${why}`);
  }

  /** The hypervisor ended a blocking hypercall (a polled port, its timeout). */
  resume(why: string): void {
    if (!this.#halted) return;
    this.#halted = false;
    this.gic.blocked(this.index, false);
    this.#emit("wake", `resumed: ${why}`);
  }

  /** Ends a WFI whose wake-up condition holds. */
  #wake(): void {
    if (!this.#halted || !this.gic.wouldWake(this.index)) return;
    this.#halted = false;
    this.gic.blocked(this.index, false);
    this.#emit("wake", "woken from WFI");
  }

  /** A synchronous exception is waiting to be taken at the next boundary. */
  get syncPending(): boolean {
    return this.#sync >= 0;
  }

  /**
   * The instruction just executed is UNDEFINED (`why` says so in the
   * trace): a synchronous exception with EC Unknown is taken at the next
   * boundary.
   */
  undefined(why: string): void {
    this.#sync = (EsrEc.UNKNOWN << Esr.EC_SHIFT) | Esr.IL;
    this.#syncCause = this.trace.enabled ? this.trace.emit(this.name, "undef", `UNDEF: ${why}`) : 0;
  }

  /**
   * Wakes a WFI whose wake-up test passes, then: is a synchronous
   * exception waiting, or an unmasked IRQ or FIQ signalled?
   */
  canTake(): boolean {
    if (this.mpState !== 0) {
      if (this.mpState === MP_SUSPENDED) this.gic.suspendedPoll?.(this.index);
      return false;
    }
    if (this.#sync >= 0) return true;
    this.#wake();
    if (this.#halted) return false;
    // Both masked (a handler's body, as an exception entry leaves them): nothing to ask the
    // GIC, whose scan is the dearest thing a boundary does.
    if (this.maskI && this.maskF) return false;
    const s = this.gic.signal(this.index);
    return ((s & 2) !== 0 && !this.maskF) || ((s & 1) !== 0 && !this.maskI);
  }

  /** Takes the exception: saves and sets PSTATE.I/F, then acknowledges (IAR) as the handler's first read. */
  take(): Taken {
    const t = this.trace;
    if (this.#sync >= 0) return this.#takeSync();
    const fiq = (this.gic.signal(this.index) & 2) !== 0 && !this.maskF;
    this.#frames.push(
      (this.maskI ? FRAME_I : 0) | (this.maskF ? FRAME_F : 0) | (fiq ? FRAME_FIQ : 0),
    );
    this.maskI = true;
    this.maskF = true;
    const ack = this.gic.acknowledgeFor(this.index, fiq, this.#ack);
    this.#intids.push(ack.intid);
    this.lastAckSource = ack.source;
    const kind = fiq ? "fiq" : "irq";
    t.open(ack.cause);
    const event = t.enabled
      ? t.emit(
        this.name,
        "took",
        ack.intid < 0
          ? `${kind.toUpperCase()}: the VMM's line, no GIC to acknowledge`
          : `${kind.toUpperCase()}: ${ack.intid}${ack.source >= 0 ? ` from cpu${ack.source}` : ""}`,
      )
      : 0;
    t.close(ack.cause);
    return { kind, vector: ack.intid, ack: iarValue(ack), cause: ack.cause, event };
  }

  /** Takes the synchronous exception: ESR_EL1 set, PSTATE.I/F saved and set as for any exception to EL1. */
  #takeSync(): Taken {
    const t = this.trace;
    const esr = this.#sync;
    this.#sync = -1;
    this.esr = esr;
    this.syncTaken++;
    this.#frames.push((this.maskI ? FRAME_I : 0) | (this.maskF ? FRAME_F : 0));
    this.#intids.push(SPURIOUS);
    this.maskI = true;
    this.maskF = true;
    const cause = this.#syncCause;
    t.open(cause);
    const event = t.enabled
      ? t.emit(
        this.name,
        "took",
        `SYNC: EC 0x${(esr >>> Esr.EC_SHIFT).toString(16).padStart(2, "0")}, ESR_EL1 0x${
          esr.toString(16)
        }`,
      )
      : 0;
    t.close(cause);
    return { kind: SYNC, vector: -1, ack: esr, cause, event };
  }

  /** An instruction retired: nothing changes on Arm (no interrupt shadows). */
  retire(): boolean {
    return false;
  }

  /** ERET: restores the PSTATE.I/F saved on entry. */
  returnFromInterrupt(): void {
    const f = this.#frames.pop();
    this.#intids.pop();
    if (f === undefined) {
      this.#emit("eret", "ERET with no exception being handled: ignored");
      return;
    }
    this.maskI = (f & FRAME_I) !== 0;
    this.maskF = (f & FRAME_F) !== 0;
    this.#emit("eret", `ERET, PSTATE.I=${this.maskI ? 1 : 0} F=${this.maskF ? 1 : 0}`);
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }
}
