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
 * value is nanoseconds of virtual time less an offset, in 64 bits:
 * CNTVCT = now - voffset and CNTPCT = now - poffset, modulo 2^64. KVM keeps
 * the two offsets per VM (`kvm->arch.timer_data`): it starts the virtual
 * counter at 0 when the vCPU is created (`kvm_timer_vcpu_init`), and the VMM
 * moves them with KVM_SET_ONE_REG of KVM_REG_ARM_TIMER_CNT / PTIMER_CNT
 * (offset = host counter - value) or with KVM_ARM_SET_COUNTER_OFFSET (one
 * offset for both, after which the CNT registers are accepted and ignored).
 * CVAL is a 64-bit compare value; TVAL is CVAL - counter as a signed 32-bit
 * value, and writing it sets CVAL = counter + TVAL (sign-extended).
 *
 * Sources: Arm DDI 0487 (Arm ARM) D11 "The Generic Timer in AArch64
 * state" (D11.2.4 timer conditions, CNTV_CTL_EL0 ENABLE/IMASK/ISTATUS);
 * D11.2.4 "The timer TimerValue view" (TVAL); SBSA (PPI assignments 27, 30,
 * 26, 28); Linux `arch/arm64/kvm/arch_timer.c` (`kvm_timer_should_fire`,
 * `kvm_timer_update_irq`, `timer_irqs_are_valid`, `kvm_arm_timer_set_reg`,
 * `kvm_arm_timer_read` for TIMER_REG_TVAL, `read_timer_ctl`,
 * `kvm_vm_ioctl_set_counter_offset`).
 *
 * @module
 */
import type { Scheduled } from "../core/event_queue.ts";
import type { ModelEnv } from "../core/platform.ts";
import type { StateHash } from "../core/platform.ts";
import { EBUSY, EINVAL, ENXIO } from "./errno.ts";

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
 * Timer PPIs as KVM assigns them by default (`default_ppi` in
 * `kvm_timer_init_vm`); the VMM may renumber them (see
 * {@link TimerIrqAttr}).
 *
 * @example
 * ```ts
 * import { ArmVm } from "./vm.ts";
 * declare const vm: ArmVm;
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
 * The attributes of KVM_ARM_VCPU_TIMER_CTRL (group 1 of a vCPU's device
 * attributes, `arch/arm64/include/uapi/asm/kvm.h`): which PPI each timer
 * drives. The numbers are KVM's `TIMER_VTIMER`... indexes as well.
 *
 * @example
 * ```ts
 * TimerIrqAttr.PTIMER; // 1: KVM_ARM_VCPU_TIMER_IRQ_PTIMER
 * ```
 */
export const TimerIrqAttr = { VTIMER: 0, PTIMER: 1, HVTIMER: 2, HPTIMER: 3 } as const;

/** KVM_ARM_VCPU_TIMER_CTRL: the vCPU attribute group of the timer PPIs. */
export const KVM_ARM_VCPU_TIMER_CTRL = 1;

/**
 * The VM's timer PPIs (KVM's `kvm->arch.timer_data.ppi[]`, one table for
 * every vCPU), indexed by {@link TimerIrqAttr}, and whether they can still
 * change (KVM_ARCH_FLAG_TIMER_PPIS_IMMUTABLE).
 *
 * @example
 * ```ts
 * const t = new TimerPpis();
 * t.set(TimerIrqAttr.VTIMER, 20); // 0
 * t.ppi[TimerIrqAttr.VTIMER]; // 20
 * t.set(TimerIrqAttr.VTIMER, 40); // -22 (-EINVAL): not a PPI
 * ```
 */
export class TimerPpis {
  /** The PPI of each timer, by {@link TimerIrqAttr}. */
  readonly ppi: number[] = [TimerPpi.VIRT, TimerPpi.PHYS, TimerPpi.HVIRT, TimerPpi.HPHYS];
  /** Frozen by the first KVM_RUN that validated them. */
  immutable = false;

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_TIMER_CTRL, `attr`) of `irq`, as
   * `kvm_arm_timer_set_attr` checks it once an in-kernel irqchip exists:
   * -EINVAL for an INTID that is not a PPI (16-31), -EBUSY once frozen,
   * -ENXIO for an unknown attribute; otherwise the VM's table takes it at
   * face value (duplicates are found at the first KVM_RUN).
   */
  set(attr: number, irq: number): number {
    if (irq < 16 || irq > 31) return -EINVAL;
    if (this.immutable) return -EBUSY;
    if (attr < 0 || attr >= this.ppi.length) return -ENXIO;
    this.ppi[attr] = irq;
    return 0;
  }

  /**
   * `timer_irqs_are_valid` at a vCPU's first KVM_RUN: each of the
   * vCPU's `count` timers (2, the EL1 ones, without nested
   * virtualization) must own a PPI of its own (`kvm_vgic_set_owner`
   * refuses a PPI another timer owns). Valid: frozen from then on.
   */
  validate(count: number): boolean {
    let bits = 0;
    for (let i = 0; i < count; i++) {
      const bit = 1 << this.ppi[i];
      if ((bits & bit) !== 0) return false;
      bits |= bit;
    }
    this.immutable = true;
    return true;
  }
}

/**
 * CNTx_CTL_EL0 bits.
 *
 * @example
 * ```ts
 * declare const timer: ArchTimer;
 * timer.writeCtl(TimerCtl.ENABLE | TimerCtl.IMASK); // running, output masked
 * ```
 */
export const TimerCtl = { ENABLE: 1, IMASK: 2, ISTATUS: 4 } as const;

/**
 * The VM's counter offsets (KVM's `kvm->arch.timer_data.voffset` and
 * `poffset`), shared by every vCPU's timers.
 *
 * @example
 * ```ts
 * import { type ModelEnv } from "./engine_types.ts";
 * declare const env: ModelEnv;
 * const offsets: CounterOffsets = { virt: 0n, phys: 0n, vmWide: false };
 * new ArchTimer("virt", 27, env, () => {}, offsets).counter; // now - offsets.virt
 * ```
 */
export interface CounterOffsets {
  /** Subtracted from the host counter for CNTVCT. */
  virt: bigint;
  /** Subtracted from the host counter for CNTPCT. */
  phys: bigint;
  /** KVM_ARM_SET_COUNTER_OFFSET was used (KVM_ARCH_FLAG_VM_COUNTER_OFFSET). */
  vmWide: boolean;
}

/**
 * A fresh VM's offsets: both counters read as virtual time.
 *
 * @example
 * ```ts
 * newCounterOffsets().virt; // 0n
 * ```
 */
export function newCounterOffsets(): CounterOffsets {
  return { virt: 0n, phys: 0n, vmWide: false };
}

/** How far ahead (in ns) a deadline may be and still be scheduled: exact in a double. */
const MAX_DEADLINE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Where a timer's output goes: the PPI line of its vCPU.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * import { OWNER_TIMER } from "./irq_state.ts";
 * declare const gic: Gic;
 * const out: TimerLine = (level) => gic.setPrivateLine(0, TimerPpi.VIRT, level, OWNER_TIMER);
 * ```
 */
export type TimerLine = (level: boolean) => void;

/**
 * One timer (virtual or physical) of one vCPU.
 *
 * @example
 * ```ts
 * import { type ModelEnv } from "./engine_types.ts";
 * import { Gic } from "./gic.ts";
 * import { OWNER_TIMER } from "./irq_state.ts";
 * declare const env: ModelEnv, gic: Gic;
 * const t = new ArchTimer("virt", 27, env, (level) => gic.setPrivateLine(0, 27, level, OWNER_TIMER));
 * t.writeCval(env.now() + 1_000_000); // 1 ms from now
 * t.writeCtl(TimerCtl.ENABLE);        // the line rises when the deadline passes
 * ```
 */
export class ArchTimer {
  /** ENABLE and IMASK as written (ISTATUS is computed). */
  #ctl = 0;
  /** CNTx_CVAL_EL0: the 64-bit compare value, in counter ticks. */
  cval = 0n;
  /** The level last driven onto the PPI. */
  line = false;
  #deadline: Scheduled | null = null;

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    h.n(this.#ctl);
    // When it fires, not its place in the queue (which depends on history).
    h.num(this.#deadline === null ? -1 : this.#deadline.time);
  }

  /**
   * A disabled timer that drives PPI `ppi` through `output`, reading the
   * engine's clock from `env`.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * new ArchTimer("phys", 30, env, () => {}).line; // false
   * ```
   */
  constructor(
    readonly name: "virt" | "phys",
    /** The PPI it drives: the VM's (see {@link TimerPpis}), kept here by the VM. */
    public ppi: number,
    readonly env: ModelEnv,
    readonly output: TimerLine,
    readonly offsets: CounterOffsets = newCounterOffsets(),
  ) {}

  /** CNTVCT_EL0 / CNTPCT_EL0: the 64-bit counter now (1 tick per ns, less the VM's offset). */
  get counter(): bigint {
    const off = this.name === "virt" ? this.offsets.virt : this.offsets.phys;
    return BigInt.asUintN(64, BigInt(Math.floor(this.env.now())) - off);
  }

  /** CNTx_TVAL_EL0 as read: CVAL - counter, as a signed 32-bit value. */
  get tval(): number {
    return Number(BigInt.asIntN(32, this.cval - this.counter));
  }

  /** CNTx_CTL_EL0.ISTATUS: enabled and the counter has reached CVAL (unsigned 64-bit). */
  get istatus(): boolean {
    return (this.#ctl & TimerCtl.ENABLE) !== 0 && this.counter >= this.cval;
  }

  /** CNTx_CTL_EL0 as read. */
  get ctl(): number {
    return this.#ctl | (this.istatus ? TimerCtl.ISTATUS : 0);
  }

  /**
   * CNTx_CTL_EL0 as KVM reports it to userspace (KVM_GET_ONE_REG) and to
   * trapped reads: `read_timer_ctl` sets ISTATUS whenever the counter has
   * reached CVAL, ENABLE or not, since the architecture leaves ISTATUS
   * UNKNOWN while ENABLE is 0.
   */
  get kvmCtl(): number {
    return this.#ctl | (this.counter >= this.cval ? TimerCtl.ISTATUS : 0);
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

  /** Writes CNTx_CVAL_EL0 (64 bits). */
  writeCval(value: bigint | number): void {
    this.cval = BigInt.asUintN(64, BigInt(value));
    this.update();
  }

  /** Writes CNTx_TVAL_EL0: CVAL = counter + TVAL sign-extended from 32 bits. */
  writeTval(value: bigint | number): void {
    this.writeCval(this.counter + BigInt.asIntN(32, BigInt(value)));
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
    if ((this.#ctl & TimerCtl.ENABLE) === 0) return;
    // Not met yet: the counter reaches CVAL after CVAL - counter ticks of
    // 1 ns. Met: it holds until the counter wraps past 2^64 to below CVAL
    // (the condition is compared again as the counter moves, Arm DDI 0487
    // D11.2.4), unless CVAL is 0. A deadline past what a double holds
    // exactly never comes.
    const counter = this.counter;
    let ahead: bigint;
    if (!this.istatus) ahead = this.cval - counter;
    else if (this.cval === 0n) return;
    else ahead = (1n << 64n) - counter;
    const now = Math.floor(this.env.now());
    if (ahead > MAX_DEADLINE - BigInt(now)) return;
    this.#deadline = this.env.queue.schedule(now + Number(ahead), () => {
      this.#deadline = null;
      this.update();
    });
  }
}
