/**
 * The Arm generic timer of one vCPU, as KVM emulates it with an in-kernel
 * GIC: the EL1 virtual timer (CNTV_CTL_EL0 / CNTV_CVAL_EL0, PPI 27) and the
 * EL1 physical timer (CNTP_CTL_EL0 / CNTP_CVAL_EL0, PPI 30), counting in the
 * engine's virtual time.
 *
 * The output is a level: ENABLE && ISTATUS && !IMASK, where ISTATUS says
 * the counter has reached CVAL. It drops when the timer is disabled or
 * masked or CVAL moves into the future. KVM drives the PPI itself (the
 * timer owns the line: KVM_IRQ_LINE cannot touch it) and re-evaluates the
 * level whenever the guest writes CTL or CVAL and when the deadline passes.
 * The counters run at 1 GHz (the frequency Armv8.6 requires), so a counter
 * value is nanoseconds of virtual time, and KVM's CNTVOFF makes the
 * virtual counter start at 0 with the VM.
 *
 * Sources: Arm DDI 0487 (Arm ARM) D11 "The Generic Timer in AArch64
 * state" (D11.2.4 timer conditions, CNTV_CTL_EL0 ENABLE/IMASK/ISTATUS);
 * SBSA (PPI assignments 27, 30, 26, 28); Linux `arch/arm64/kvm/arch_timer.c`
 * (`kvm_timer_should_fire`, `kvm_timer_update_irq`, `timer_irqs_are_valid`).
 *
 * @module
 */
import type { Scheduled } from "../core/event_queue.ts";
import type { ModelEnv } from "../core/platform.ts";

/**
 * Counter frequency (CNTFRQ_EL0): 1 GHz, one tick per nanosecond.
 *
 * @example
 * ```ts
 * CNTFRQ_HZ / 1_000_000_000; // 1 tick per ns
 * ```
 */
export const CNTFRQ_HZ = 1_000_000_000;

/**
 * Timer PPIs as KVM assigns them by default.
 *
 * @example
 * ```ts
 * vm.gic.rds[0].bank.line[TimerPpi.VIRT]; // the CNTV output of vCPU0
 * ```
 */
export const TimerPpi = {
  /** EL1 virtual timer (CNTV). */
  VIRT: 27,
  /** EL1 physical timer (CNTP). */
  PHYS: 30,
  /** EL2 virtual timer (CNTHV), nested virtualization. */
  HVIRT: 28,
  /** EL2 physical timer (CNTHP), nested virtualization. */
  HPHYS: 26,
} as const;

/**
 * CNTx_CTL_EL0 bits.
 *
 * @example
 * ```ts
 * timer.writeCtl(TimerCtl.ENABLE | TimerCtl.IMASK); // running, output masked
 * ```
 */
export const TimerCtl = { ENABLE: 1, IMASK: 2, ISTATUS: 4 } as const;

/**
 * Where a timer's output goes: the PPI line of its vCPU.
 *
 * @example
 * ```ts
 * const out: TimerLine = (level) => gic.setPrivateLine(0, TimerPpi.VIRT, level, OWNER_TIMER);
 * ```
 */
export type TimerLine = (level: boolean) => void;

/**
 * One timer (virtual or physical) of one vCPU.
 *
 * @example
 * ```ts
 * const t = new ArchTimer("virt", 27, env, (level) => gic.setPrivateLine(0, 27, level, OWNER_TIMER));
 * t.writeCval(env.now() + 1_000_000); // 1 ms from now
 * t.writeCtl(TimerCtl.ENABLE);        // the line rises when the deadline passes
 * ```
 */
export class ArchTimer {
  /** ENABLE and IMASK as written (ISTATUS is computed). */
  #ctl = 0;
  /** CNTx_CVAL_EL0: the compare value, in counter ticks. */
  cval = 0;
  /** The level last driven onto the PPI. */
  line = false;
  #deadline: Scheduled | null = null;

  /**
   * A disabled timer that drives PPI `ppi` through `output`, reading the
   * engine's clock from `env`.
   *
   * @example
   * ```ts
   * new ArchTimer("phys", 30, env, () => {}).line; // false
   * ```
   */
  constructor(
    readonly name: "virt" | "phys",
    readonly ppi: number,
    readonly env: ModelEnv,
    readonly output: TimerLine,
  ) {}

  /** CNTVCT_EL0 / CNTPCT_EL0: the counter now. */
  get counter(): number {
    return Math.floor(this.env.now() * (CNTFRQ_HZ / 1_000_000_000));
  }

  /** CNTx_CTL_EL0.ISTATUS: enabled and the counter has reached CVAL. */
  get istatus(): boolean {
    return (this.#ctl & TimerCtl.ENABLE) !== 0 && this.counter >= this.cval;
  }

  /** CNTx_CTL_EL0 as read. */
  get ctl(): number {
    return this.#ctl | (this.istatus ? TimerCtl.ISTATUS : 0);
  }

  /** The output condition: ENABLE && ISTATUS && !IMASK. */
  get shouldFire(): boolean {
    return this.istatus && (this.#ctl & TimerCtl.IMASK) === 0;
  }

  /** Writes CNTx_CTL_EL0 (ISTATUS is read-only). */
  writeCtl(value: number): void {
    this.#ctl = value & (TimerCtl.ENABLE | TimerCtl.IMASK);
    this.update();
  }

  /** Writes CNTx_CVAL_EL0. */
  writeCval(value: number): void {
    this.cval = value;
    this.update();
  }

  /** Writes CNTx_TVAL_EL0: CVAL = counter + signed 32-bit TVAL. */
  writeTval(value: number): void {
    this.writeCval(this.counter + (value | 0));
  }

  /** Re-evaluates the output and (re)arms the deadline event. */
  update(): void {
    const level = this.shouldFire;
    if (level !== this.line) {
      this.line = level;
      this.output(level);
    }
    if (this.#deadline) {
      this.#deadline.cancelled = true;
      this.#deadline = null;
    }
    if ((this.#ctl & TimerCtl.ENABLE) !== 0 && !this.istatus) {
      const at = Math.ceil(this.cval * (1_000_000_000 / CNTFRQ_HZ));
      this.#deadline = this.env.queue.schedule(at, () => {
        this.#deadline = null;
        this.update();
      });
    }
  }
}
