/**
 * The local APIC timer of one vCPU: one-shot, periodic and TSC-deadline
 * modes, the divide configuration, and the current-count register, in
 * virtual time.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller
 * (APIC)" chapter, "APIC Timer" (divide configuration, one-shot and periodic
 * modes, TSC-deadline mode, IA32_TSC_DEADLINE); Linux KVM
 * `arch/x86/kvm/lapic.c` (`apic_update_lvtt`, `start_apic_timer`,
 * `set_target_expiration`, `update_target_expiration`, `apic_get_tmcct`,
 * `apic_timer_fn`, `kvm_set_lapic_tscdeadline_msr`,
 * `limit_periodic_timer_frequency`) and `arch/x86/kvm/x86.c`
 * (`min_timer_period_us`, 200 by default). Where the SDM leaves the time base
 * open, the model takes KVM's: one APIC bus cycle is 1 ns by default
 * (`KVM_CAP_X86_APIC_BUS_CYCLES_NS` can change it), and periodic periods are
 * clamped to 200 µs.
 *
 * Time: the model's clock is virtual nanoseconds. The guest TSC runs at
 * 1 GHz from 0 at VM creation unless the VMM set another rate
 * (`KVM_SET_TSC_KHZ`, `GuestTsc` in guest_tsc.ts), so by default a TSC
 * value is a virtual time in ns: KVM starts a new VM's TSC at 0, and 1 GHz
 * makes deadlines readable in scenarios. A deadline is reached at the first
 * ns the vCPU's TSC reads it.
 *
 * Xen's vLAPIC timer (`xenVpt`, a Xen HVM domain's) is Xen's instead: its
 * APIC bus cycle is 10 ns (APIC_BUS_CYCLE_NS), and the timer is one of
 * Xen's virtual platform timers (`vpt.c`): a periodic period is at least
 * 100 µs (`create_periodic_time`), its first tick is aligned to a multiple
 * of the period in Xen's time with HVM_PARAM_VPT_ALIGN (xl's default
 * `vpt_align=1`, `align_timer`) or put off by half the delay without it;
 * an expiry counts a pending tick and does not re-arm the timer
 * (`pt_timer_fn`); a pending tick sets the LVTT vector in IRR when the LVT
 * is unmasked and the APIC enabled, else the timer is suspended
 * (`pt_update_irq`); taking that vector is the tick's delivery
 * (`pt_intr_post` -> `pt_irq_fired`), which, in the default timer mode
 * (no_delay_for_missed_ticks), counts the ticks missed meanwhile and
 * delivers them one per injection before the timer runs again
 * (`pt_process_missed_ticks`); TMCCT counts from the last delivered tick
 * (`vlapic_get_tmcct`, `vlapic_pt_cb`); LVTT and TDCR writes recreate the
 * timer with the time left (`vlapic_update_timer`); IA32_TSC_DEADLINE
 * reads back until the expiry is delivered (`vlapic_tdt_pt_cb`). Xen's
 * system time is taken as the guest's (the domain made at Xen's time 0),
 * the next VM entry's re-raise of a pending tick happens at the injection
 * itself, the other timer modes (HVM_PARAM_TIMER_MODE) and `pt_resume`
 * (which only a masked LVT's suspended timer could use, and every LVTT
 * write recreates it) are not modelled. Sources: Xen
 * `xen/arch/x86/hvm/vlapic.c` (`vlapic_update_timer`, `vlapic_get_tmcct`,
 * `vlapic_reg_write` APIC_LVTT / APIC_TMICT / APIC_TDCR,
 * `vlapic_tdt_msr_set`, `vlapic_pt_cb`, `vlapic_tdt_pt_cb`),
 * `xen/arch/x86/hvm/vpt.c` (`create_periodic_time`, `pt_timer_fn`,
 * `pt_update_irq`, `pt_intr_post`, `pt_irq_fired`,
 * `pt_process_missed_ticks`), `xen/common/timer.c` (`align_timer`),
 * `tools/libs/light/libxl_create.c` (vpt_align and timer_mode defaults).
 *
 * Deliberately not modelled: KVM's `lapic_timer_advance` (the host arms its
 * hrtimer early and spins until the deadline, so the guest still sees the
 * interrupt at the deadline), the hv-timer / preemption-timer paths (same
 * guest-visible behaviour), and the "pending" counter that coalesces an
 * expiry the vCPU has not yet consumed (here an expiry sets IRR at once, and
 * IRR merges repeats).
 *
 * @module
 */

import type { Trace } from "../core/trace.ts";
import { timerDivisor } from "./lapic_registers.ts";
import type { StateHash } from "../core/platform.ts";

/** A scheduled expiry the timer can cancel ({@link ../core/event_queue.ts}'s `Scheduled` is one). */
export interface TimerHandle {
  cancelled: boolean;
}

/** The clock a timer runs on: virtual time and one-shot callbacks. */
export interface TimerClock {
  /** Current virtual time, ns. */
  now(): number;
  /** Runs `fire` at absolute virtual time `atNs`; the handle cancels it. */
  schedule(atNs: number, fire: () => void): TimerHandle;
}

/** LVT Timer bits 18:17 (SDM "LVT Timer Register"). */
export const TimerMode = {
  OneShot: 0,
  Periodic: 1,
  TscDeadline: 2,
  /** Reserved encoding: KVM stores it and then runs no timer at all. */
  Reserved: 3,
} as const;
/** A timer mode. */
export type TimerMode = typeof TimerMode[keyof typeof TimerMode];

/** Options that are host or capability choices. */
export interface LapicTimerOptions {
  /** Length of one APIC bus cycle in ns (KVM_CAP_X86_APIC_BUS_CYCLES_NS). Default 1. */
  busCycleNs?: number;
  /** Shortest periodic period the host allows, ns (KVM: min_timer_period_us × 1000). Default 200000. */
  minPeriodicNs?: number;
  /** Run as Xen's vpt (a Xen HVM domain's vLAPIC): see the module note. Absent: KVM's timer. */
  xenVpt?: XenVptOptions;
}

/** Xen's vpt choices for a domain. */
export interface XenVptOptions {
  /** HVM_PARAM_VPT_ALIGN: a periodic timer's first tick on a multiple of its period (xl's default). */
  align: boolean;
}

/** Xen's APIC_BUS_CYCLE_NS (`asm/hvm/vlapic.h`): a 100 MHz APIC bus. */
export const XEN_APIC_BUS_CYCLE_NS = 10;
/** `create_periodic_time`'s floor for a periodic period: 0.1 ms. */
export const XEN_VPT_MIN_PERIOD_NS = 100_000;

/** Xen's `align_timer`: `firsttick` rounded up to a multiple of `period`. */
function alignTimer(firsttick: number, period: number): number {
  return firsttick + (period - 1) - ((firsttick - 1) % period);
}

/** The callback a vpt runs at a tick's delivery: none (one-shot), `vlapic_pt_cb`, `vlapic_tdt_pt_cb`. */
const CB_NONE = 0, CB_PERIODIC = 1, CB_TDT = 2;

/**
 * One vLAPIC's `struct periodic_time` and `timer_last_update`, as Xen keeps
 * them (vpt.c): what the Xen timer adds to the registers.
 */
class XenVpt {
  /** HVM_PARAM_VPT_ALIGN. */
  readonly align: boolean;
  /** `pt->vcpu` set: made by `create_periodic_time` and not destroyed since. */
  created = false;
  /** `pt->on_list`: not suspended by a masked LVT. */
  onList = false;
  /** `pt->pending_intr_nr`: ticks counted and not yet delivered. */
  pending = 0;
  /** `pt->irq_issued`: the vector was raised for a pending tick. */
  issued = false;
  /** `pt->period` in ns; 0 for a one-shot. */
  period = 0;
  /** `pt->scheduled`: Xen's time of the next tick. */
  scheduled = 0;
  /** `pt->last_plt_gtime`. */
  lastPlt = 0;
  /** `pt->cb`: CB_NONE, CB_PERIODIC or CB_TDT. */
  cb = CB_NONE;
  /** `vlapic->timer_last_update`, or -1 for Xen's 0 (none: TMCCT reads 0). */
  tlu = -1;

  constructor(options: XenVptOptions) {
    this.align = options.align;
  }

  /** The fields, for a snapshot. */
  save(): number[] {
    return [
      +this.created,
      +this.onList,
      this.pending,
      +this.issued,
      this.period,
      this.scheduled,
      this.lastPlt,
      this.cb,
      this.tlu,
    ];
  }

  /** Puts back what {@link XenVpt.save} returned. */
  load(w: readonly number[]): void {
    this.created = w[0] === 1;
    this.onList = w[1] === 1;
    this.pending = w[2];
    this.issued = w[3] === 1;
    this.period = w[4];
    this.scheduled = w[5];
    this.lastPlt = w[6];
    this.cb = w[7];
    this.tlu = w[8];
  }
}

/** What a timer reports to. */
export interface LapicTimerHost {
  clock: TimerClock;
  trace: Trace;
  /** Trace source, e.g. `lapic0`. */
  name: string;
  /** The timer expired: deliver LVTT (if unmasked). */
  expire(): void;
  /**
   * The vCPU's TSC (KVM_SET_TSC_KHZ's rate). Absent: the host's 1 GHz TSC,
   * the model's ns.
   */
  tsc?: TscView;
  /**
   * Xen's `pt_irq_masked` for the vLAPIC: the LVT Timer masked or the APIC
   * disabled. Needed with `xenVpt` only.
   */
  masked?(): boolean;
  /** The LVT Timer's vector (`vlapic->pt.irq`). Needed with `xenVpt` only. */
  timerVector?(): number;
}

/**
 * The vCPU's TSC as the TSC-deadline timer reads it
 * (`GuestTsc` in guest_tsc.ts).
 *
 * @example
 * ```ts
 * const view: TscView = { read: (ns) => BigInt(ns), nsWhenReaches: (tsc) => tsc };
 * ```
 */
export interface TscView {
  /** The guest TSC at host time `ns`. */
  read(ns: number): bigint;
  /** The first host ns at which the guest TSC is at least `tsc`. */
  nsWhenReaches(tsc: bigint): bigint;
}

/** KVM's `min_timer_period_us` default (x86.c), in ns. */
export const KVM_MIN_PERIODIC_NS = 200_000;

/** A clock that stands at 0 and never fires: for an APIC nobody gave time to. */
export const STOPPED_CLOCK: TimerClock = {
  now: () => 0,
  schedule: () => ({ cancelled: false }),
};

function hex(v: number | bigint): string {
  return "0x" + (typeof v === "bigint" ? v.toString(16) : (v >>> 0).toString(16));
}

/**
 * One LAPIC timer. The LAPIC owns the LVT Timer register and tells the timer
 * its mode; the timer owns TMICT, TDCR, the running count and
 * IA32_TSC_DEADLINE.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const clock: TimerClock, trace: Trace;
 * let fired = 0;
 * const t = new LapicTimer({ clock, trace, name: "lapic0", expire: () => fired++ });
 * t.writeDivide(0xb);           // divide by 1
 * t.writeInitialCount(1000);    // one-shot, expires 1000 ns from now
 * t.currentCount();             // 1000, counting down
 * ```
 */
export class LapicTimer {
  readonly #host: LapicTimerHost;
  readonly #busNs: number;
  readonly #minPeriodNs: number;
  #mode: TimerMode = TimerMode.OneShot;
  #tmict = 0;
  #tdcr = 0;
  #divisor = 2;
  /** TMICT × divisor × bus cycle (clamped when periodic); 0 = stopped. */
  #periodNs = 0;
  /** Absolute expiry for one-shot/periodic; 0 once a one-shot has fired (KVM). */
  #targetNs = 0;
  /** IA32_TSC_DEADLINE; 0 = disarmed. */
  #deadline = 0n;
  #handle: TimerHandle | null = null;
  readonly #onFire = (): void => this.#fire();
  /** Xen's vpt, for a Xen domain's vLAPIC; null: KVM's timer. */
  readonly #xen: XenVpt | null;

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`): it has none. */
  hashFields(_h: StateHash): void {}

  /**
   * Saves the timer's registers and returns a function that puts them
   * back, for `scn explore` (`VmModel.snapshot`); null while armed (its
   * expiry is a queued event, which no snapshot copies). Fixed at
   * creation, not saved: #host, #busNs, #minPeriodNs, #onFire, Xen's align.
   */
  snapshot(): (() => void) | null {
    if (this.#handle !== null) return null;
    const mode = this.#mode, tmict = this.#tmict, tdcr = this.#tdcr, divisor = this.#divisor;
    const periodNs = this.#periodNs, targetNs = this.#targetNs, deadline = this.#deadline;
    const xen = this.#xen?.save();
    return () => {
      if (xen !== undefined) this.#xen!.load(xen);
      // An expiry armed since is dropped with the queue's entries.
      this.#handle = null;
      this.#mode = mode;
      this.#tmict = tmict;
      this.#tdcr = tdcr;
      this.#divisor = divisor;
      this.#periodNs = periodNs;
      this.#targetNs = targetNs;
      this.#deadline = deadline;
    };
  }

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    // Stopped at its reset values (every LAPIC whose guest never touched its
    // timer): one word instead of eight at every state. The divisor follows
    // from TDCR.
    if (
      this.#mode === TimerMode.OneShot && this.#tmict === 0 && this.#tdcr === 0 &&
      this.#periodNs === 0 && this.#targetNs === 0 && !this.#deadline &&
      this.#handle === null && (this.#xen === null || !this.#xen.created && this.#xen.tlu < 0)
    ) {
      h.n(0);
      return;
    }
    h.n(1);
    h.n(this.#mode);
    h.n(this.#tmict);
    h.n(this.#tdcr);
    h.n(this.#divisor);
    h.num(this.#periodNs);
    h.num(this.#targetNs);
    h.big(this.#deadline);
    h.bool(this.#handle !== null);
    const x = this.#xen;
    if (x !== null) {
      h.bool(x.created);
      h.bool(x.onList);
      h.n(x.pending);
      h.bool(x.issued);
      h.num(x.period);
      h.num(x.scheduled);
      h.num(x.lastPlt);
      h.n(x.cb);
      h.num(x.tlu);
    }
  }

  /**
   * Makes a stopped timer in one-shot mode with TDCR = 0 (divide by 2).
   *
   * @example
   * ```ts
   * declare const host: LapicTimerHost;
   * const t = new LapicTimer(host, { busCycleNs: 10 });
   * ```
   */
  constructor(host: LapicTimerHost, options: LapicTimerOptions = {}) {
    this.#host = host;
    this.#xen = options.xenVpt === undefined ? null : new XenVpt(options.xenVpt);
    this.#busNs = this.#xen !== null ? XEN_APIC_BUS_CYCLE_NS : options.busCycleNs ?? 1;
    this.#minPeriodNs = this.#xen !== null
      ? XEN_VPT_MIN_PERIOD_NS
      : options.minPeriodicNs ?? KVM_MIN_PERIODIC_NS;
  }

  /** Xen's vpt: ticks counted and not yet delivered (`pending_intr_nr`); 0 for KVM's timer. */
  get xenPendingTicks(): number {
    return this.#xen?.pending ?? 0;
  }

  /** The mode last set from LVT Timer. */
  get mode(): TimerMode {
    return this.#mode;
  }
  /** TMICT. */
  get initialCount(): number {
    return this.#tmict;
  }
  /** TDCR as stored (bits 3, 1, 0). */
  get divide(): number {
    return this.#tdcr;
  }
  /** The divisor TDCR selects. */
  get divisor(): number {
    return this.#divisor;
  }
  /** The period (or one-shot length) in ns, after clamping; 0 when stopped. */
  get periodNs(): number {
    return this.#periodNs;
  }
  /** Whether an expiry is scheduled. */
  get armed(): boolean {
    return this.#handle !== null;
  }

  /**
   * TMCCT, KVM's way: 0 in TSC-deadline mode or with TMICT or the period 0;
   * else the time to the target, modulo the period, in divided bus cycles,
   * rounded down. An expired one-shot reads 0. At the instant of arming
   * (time to target = period) it reads the full count: KVM's formula gives 0
   * there only because its clock has moved on before the read.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.writeInitialCount(0x999999);
   * t.currentCount(); // 0x999999, then less as time passes
   * ```
   */
  currentCount(): number {
    if (this.#xen !== null) return this.#xenTmcct(this.#xen);
    if (this.#mode === TimerMode.TscDeadline || this.#tmict === 0 || this.#periodNs === 0) return 0;
    let remaining = this.#targetNs - this.#host.clock.now();
    if (remaining < 0) remaining = 0;
    if (remaining > this.#periodNs) remaining %= this.#periodNs;
    return Math.floor(remaining / (this.#busNs * this.#divisor));
  }

  /**
   * IA32_TSC_DEADLINE as RDMSR sees it: the armed deadline in TSC-deadline
   * mode (0 once it fired), 0 in the other modes.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.readTscDeadline(); // 0n
   * ```
   */
  readTscDeadline(): bigint {
    return this.#mode === TimerMode.TscDeadline ? this.#deadline : 0n;
  }

  /**
   * LVT Timer was written: KVM's `apic_update_lvtt`. Moving into or out of
   * TSC-deadline mode stops the timer and zeroes TMICT and the deadline;
   * one-shot ↔ periodic keeps the running count (a one-shot that becomes
   * periodic reloads when it reaches 0; an expired one-shot stays expired).
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.setMode(TimerMode.Periodic);
   * ```
   */
  setMode(mode: TimerMode): void {
    if (this.#xen !== null) {
      this.#xenLvtt(this.#xen, mode);
      return;
    }
    if (mode === this.#mode) return;
    const t = this.#host.trace;
    if ((this.#mode === TimerMode.TscDeadline) !== (mode === TimerMode.TscDeadline)) {
      const was = this.#handle !== null;
      this.#cancel();
      this.#tmict = 0;
      this.#periodNs = 0;
      this.#deadline = 0n;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "timer.stop",
          `mode ${
            mode === TimerMode.TscDeadline ? "into" : "out of"
          } TSC-deadline: TMICT and deadline cleared${was ? ", timer disarmed" : ""}`,
        );
      }
    }
    this.#mode = mode;
    this.#clampPeriod();
    if (t.enabled) t.emit(this.#host.name, "timer.mode", `timer mode ${MODE_NAMES[mode]}`);
  }

  /**
   * A TMICT write. Ignored in TSC-deadline mode (returns false). Otherwise
   * stops the timer, stores the count and, in one-shot or periodic mode,
   * starts counting from it (0 leaves the timer stopped).
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.writeInitialCount(0x10000); // true
   * ```
   */
  writeInitialCount(count: number): boolean {
    if (this.#mode === TimerMode.TscDeadline) return false;
    if (this.#xen !== null) {
      // Xen stores TMICT only in one-shot and periodic mode.
      if (this.#mode !== TimerMode.OneShot && this.#mode !== TimerMode.Periodic) return true;
      this.#tmict = count >>> 0;
      this.#xenUpdate(this.#xen, this.#mode, this.#mode, true, this.#divisor);
      return true;
    }
    this.#cancel();
    this.#tmict = count >>> 0;
    if (this.#mode !== TimerMode.OneShot && this.#mode !== TimerMode.Periodic) {
      // KVM starts no timer in the reserved mode.
      this.#periodNs = 0;
      return true;
    }
    this.#periodNs = this.#tmict * this.#divisor * this.#busNs;
    const t = this.#host.trace;
    if (this.#periodNs === 0) {
      if (t.enabled) t.emit(this.#host.name, "timer.stop", "TMICT = 0: timer stopped");
      return true;
    }
    this.#clampPeriod();
    this.#targetNs = this.#host.clock.now() + this.#periodNs;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "timer.arm",
        `${MODE_NAMES[this.#mode]} TMICT ${
          hex(this.#tmict)
        } /${this.#divisor}: expires at ${this.#targetNs} ns`,
      );
    }
    this.#startPeriod();
    return true;
  }

  /**
   * A TDCR write: keeps bits 3, 1, 0. If the divisor changes while a period
   * is set, the period is recomputed and the time left is rescaled by
   * new/old divisor (KVM `update_target_expiration`). KVM quirk kept: an
   * expired one-shot has no time left, so the restart finds the target
   * already passed and fires once more.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.writeDivide(0xb); // divide by 1
   * ```
   */
  writeDivide(value: number): void {
    const old = this.#divisor;
    this.#tdcr = value & 0xb;
    this.#divisor = timerDivisor(this.#tdcr);
    if (this.#xen !== null) {
      this.#xenUpdate(this.#xen, this.#mode, this.#mode, false, old);
      return;
    }
    if (this.#divisor === old || this.#periodNs === 0) return;
    this.#cancel();
    const now = this.#host.clock.now();
    this.#periodNs = this.#tmict * this.#divisor * this.#busNs;
    this.#clampPeriod();
    let left = this.#targetNs - now;
    if (left < 0) left = 0;
    this.#targetNs = now + Math.floor(left * this.#divisor / old);
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "timer.rescale",
        `divisor ${old} -> ${this.#divisor}: expires at ${this.#targetNs} ns`,
      );
    }
    if (this.#mode === TimerMode.OneShot || this.#mode === TimerMode.Periodic) this.#startPeriod();
  }

  /**
   * An IA32_TSC_DEADLINE write. Ignored outside TSC-deadline mode (returns
   * false; no #GP). 0 disarms; a deadline at or before the current TSC
   * expires at once; a later one expires when the TSC reaches it. A deadline
   * further away than 2^53 ns stays armed and never fires in a scenario.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.writeTscDeadline(5000n); // expires at 5000 ns
   * ```
   */
  writeTscDeadline(value: bigint): boolean {
    if (this.#mode !== TimerMode.TscDeadline) return false;
    if (this.#xen !== null) {
      this.#xenTdt(this.#xen, BigInt.asUintN(64, value));
      return true;
    }
    this.#cancel();
    this.#deadline = BigInt.asUintN(64, value);
    const t = this.#host.trace;
    if (this.#deadline === 0n) {
      if (t.enabled) t.emit(this.#host.name, "timer.stop", "TSC deadline 0: disarmed");
      return true;
    }
    const now = this.#host.clock.now();
    const view = this.#host.tsc;
    const tsc = view === undefined ? BigInt(now) : view.read(now);
    if (this.#deadline <= tsc) {
      if (t.enabled) {
        t.emit(this.#host.name, "timer.arm", `TSC deadline ${hex(this.#deadline)} already passed`);
      }
      this.#fire();
      return true;
    }
    // KVM's start_sw_tscdeadline converts the ticks left with virtual_tsc_khz and
    // kvm_wait_lapic_expire holds the entry until the guest TSC reaches the
    // deadline: the guest sees the interrupt at the first ns its TSC does.
    const delta = (view === undefined ? this.#deadline : view.nsWhenReaches(this.#deadline)) -
      BigInt(now);
    if (t.enabled) {
      t.emit(this.#host.name, "timer.arm", `TSC deadline ${hex(this.#deadline)}`);
    }
    if (delta <= BigInt(Number.MAX_SAFE_INTEGER - now)) {
      this.#handle = this.#host.clock.schedule(now + Number(delta), this.#onFire);
    }
    return true;
  }

  /**
   * Power-up reset or INIT: stops the timer, TMICT = 0, TDCR = 0. The LAPIC
   * sets the mode from its (masked, one-shot) LVT Timer before this.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.reset();
   * t.armed; // false
   * ```
   */
  reset(): void {
    this.#cancel();
    if (this.#xen !== null) this.#xenDestroy(this.#xen), this.#xen.tlu = -1;
    this.#tmict = 0;
    this.#tdcr = 0;
    this.#divisor = timerDivisor(0);
    this.#periodNs = 0;
    this.#targetNs = 0;
    this.#deadline = 0n;
  }

  #clampPeriod(): void {
    if (this.#mode !== TimerMode.Periodic || this.#periodNs === 0) return;
    if (this.#periodNs < this.#minPeriodNs) {
      const t = this.#host.trace;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "timer.clamp",
          `periodic period ${this.#periodNs} ns raised to the host minimum ${this.#minPeriodNs} ns`,
        );
      }
      this.#periodNs = this.#minPeriodNs;
    }
  }

  /** KVM `start_sw_period`: a target already reached expires now. */
  #startPeriod(): void {
    if (this.#periodNs === 0) return;
    const now = this.#host.clock.now();
    if (this.#targetNs <= now) {
      this.#fire();
      return;
    }
    this.#handle = this.#host.clock.schedule(this.#targetNs, this.#onFire);
  }

  #cancel(): void {
    if (this.#handle !== null) {
      this.#handle.cancelled = true;
      this.#handle = null;
    }
  }

  /** Expiry: deliver, then reload (periodic) or clear (one-shot target, deadline). */
  #fire(): void {
    this.#handle = null;
    if (this.#xen !== null) {
      this.#xenTimerFn(this.#xen);
      return;
    }
    const mode = this.#mode;
    if (mode === TimerMode.TscDeadline) this.#deadline = 0n;
    else if (mode === TimerMode.OneShot) this.#targetNs = 0;
    this.#host.expire();
    if (mode === TimerMode.Periodic && this.#periodNs > 0 && this.#mode === TimerMode.Periodic) {
      // No catch-up: a target already in the past restarts from now (KVM).
      const now = this.#host.clock.now();
      this.#targetNs += this.#periodNs;
      if (this.#targetNs < now) this.#targetNs = now;
      if (this.#handle === null) {
        this.#handle = this.#host.clock.schedule(this.#targetNs, this.#onFire);
      }
    }
  }

  /**
   * The vCPU took vector `vector` (Xen's `pt_intr_post`): when it is the
   * tick the vpt raised, that tick is delivered (`pt_irq_fired`) and the
   * next pending one, if any, raised. Nothing for KVM's timer.
   *
   * @example
   * ```ts
   * declare const t: LapicTimer;
   * t.xenInjected(0xec);
   * ```
   */
  xenInjected(vector: number): void {
    const x = this.#xen;
    if (x === null || !x.issued || x.pending === 0 || vector !== this.#vector()) return;
    const now = this.#host.clock.now();
    x.issued = false;
    if (x.period === 0) {
      x.onList = false;
      x.pending = 0;
    } else {
      // no_delay_for_missed_ticks, xl's default timer_mode.
      x.lastPlt += x.period;
      if (--x.pending === 0) {
        this.#xenMissedTicks(x, now);
        if (x.pending === 0) this.#arm(x.scheduled);
      }
    }
    if (x.cb === CB_PERIODIC) x.tlu = now;
    else if (x.cb === CB_TDT) (x.tlu = now, this.#deadline = 0n);
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "vpt.delivered",
        `tick delivered (pt_irq_fired): ${x.pending} pending, next at ${x.scheduled} ns`,
      );
    }
    this.#xenUpdateIrq(x);
  }

  /** The LVT Timer vector, which Xen's vpt raises (`vlapic->pt.irq`). */
  #vector(): number {
    return this.#host.timerVector?.() ?? -1;
  }

  /** `vlapic_get_tmcct`: counted from the last delivered tick, 0 without one. */
  #xenTmcct(x: XenVpt): number {
    const tmict = this.#tmict;
    if (tmict === 0 || x.tlu < 0) return 0;
    let passed = Math.floor((this.#host.clock.now() - x.tlu) / (this.#busNs * this.#divisor));
    if (this.#mode === TimerMode.Periodic) passed %= tmict;
    return passed < tmict ? tmict - passed : 0;
  }

  /** `vlapic_reg_write(APIC_LVTT)`'s timer part. */
  #xenLvtt(x: XenVpt, mode: TimerMode): void {
    const old = this.#mode;
    if ((old === TimerMode.TscDeadline) !== (mode === TimerMode.TscDeadline)) {
      this.#tmict = 0;
      this.#deadline = 0n;
    }
    this.#xenUpdate(x, old, mode, false, this.#divisor);
    this.#mode = mode;
  }

  /**
   * `vlapic_update_timer`: the delay left (all of TMICT when it was just
   * written; else what remains since the last tick, by the old mode), in
   * the new mode, rescaled to a changed divisor; none stops the timer.
   */
  #xenUpdate(
    x: XenVpt,
    oldMode: TimerMode,
    mode: TimerMode,
    tmictUpdated: boolean,
    oldDivisor: number,
  ): void {
    const now = this.#host.clock.now();
    let period = this.#tmict * this.#busNs * oldDivisor;
    let delta = 0;
    if (tmictUpdated) delta = period;
    else if (period !== 0 && x.tlu >= 0) {
      let passed = now - x.tlu;
      if (oldMode === TimerMode.Periodic) passed %= period;
      if (passed < period) delta = period - passed;
    }
    if (delta !== 0 && (mode === TimerMode.OneShot || mode === TimerMode.Periodic)) {
      if (this.#divisor !== oldDivisor) {
        period = this.#tmict * this.#busNs * this.#divisor;
        delta = Math.floor(delta * this.#divisor / oldDivisor);
      }
      const periodic = mode === TimerMode.Periodic;
      this.#xenCreate(x, delta, periodic ? period : 0, periodic ? CB_PERIODIC : CB_NONE, now);
      x.tlu = x.lastPlt;
      if (!tmictUpdated) x.tlu -= period - delta;
    } else {
      this.#xenDestroy(x);
      this.#periodNs = 0;
      x.tlu = -1;
    }
  }

  /** `vlapic_tdt_msr_set` in TSC-deadline mode. */
  #xenTdt(x: XenVpt, value: bigint): void {
    const now = this.#host.clock.now();
    const view = this.#host.tsc;
    const tsc = view === undefined ? BigInt(now) : view.read(now);
    if (value > tsc) {
      const at = view === undefined ? value : view.nsWhenReaches(value);
      this.#deadline = value;
      const delta = at - BigInt(now);
      if (delta > BigInt(Number.MAX_SAFE_INTEGER - now)) {
        // Beyond any scenario: armed, never due.
        this.#xenDestroy(x);
        return;
      }
      this.#xenCreate(x, Number(delta), 0, CB_TDT, now);
      x.tlu = x.lastPlt;
    } else {
      this.#deadline = 0n;
      if (value > 0n) {
        this.#xenCreate(x, 0, 0, CB_TDT, now);
        x.tlu = x.lastPlt;
      } else this.#xenDestroy(x);
    }
  }

  /** `create_periodic_time` for the vLAPIC (PTSRC_lapic). */
  #xenCreate(x: XenVpt, delta: number, period: number, cb: number, now: number): void {
    this.#xenDestroy(x);
    x.pending = 0;
    x.issued = false;
    if (period !== 0 && period < this.#minPeriodNs) {
      const t = this.#host.trace;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "timer.clamp",
          `periodic period ${period} ns raised to Xen's minimum ${this.#minPeriodNs} ns`,
        );
      }
      period = this.#minPeriodNs;
    }
    x.period = period;
    x.lastPlt = now;
    x.cb = cb;
    let first = now + delta;
    if (period !== 0) {
      // HVM_PARAM_VPT_ALIGN, else the LAPIC's ticks offset from the other timers'.
      first = x.align ? alignTimer(first, period) : first + Math.floor(delta / 2);
    }
    x.scheduled = first;
    x.created = true;
    x.onList = true;
    this.#periodNs = period !== 0 ? period : delta;
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "timer.arm",
        `${period !== 0 ? `periodic, period ${period} ns` : "one-shot"}: first tick at ${first} ns`,
      );
    }
    this.#arm(first);
  }

  /** `destroy_periodic_time`. */
  #xenDestroy(x: XenVpt): void {
    if (!x.created) return;
    x.onList = false;
    x.pending = 0;
    this.#cancel();
  }

  /** Xen's `set_timer`: a time already reached fires now. */
  #arm(at: number): void {
    this.#cancel();
    if (at <= this.#host.clock.now()) {
      this.#fire();
      return;
    }
    this.#handle = this.#host.clock.schedule(at, this.#onFire);
  }

  /** `pt_timer_fn`: one more pending tick; the timer is not re-armed until delivery. */
  #xenTimerFn(x: XenVpt): void {
    x.pending++;
    x.scheduled += x.period;
    const t = this.#host.trace;
    if (t.enabled) t.emit(this.#host.name, "timer.fire", `vpt tick: ${x.pending} pending`);
    this.#xenUpdateIrq(x);
  }

  /** `pt_update_irq` at the vCPU's entry: raise the vector, or suspend while masked. */
  #xenUpdateIrq(x: XenVpt): void {
    if (x.pending === 0 || !x.onList) return;
    if (this.#host.masked?.() ?? false) {
      x.onList = false;
      const t = this.#host.trace;
      if (t.enabled) {
        t.emit(
          this.#host.name,
          "vpt.suspend",
          "LVT Timer masked or APIC disabled: timer suspended",
        );
      }
      return;
    }
    x.issued = true;
    this.#host.expire();
  }

  /** `pt_process_missed_ticks`: the ticks whose time passed, counted pending. */
  #xenMissedTicks(x: XenVpt, now: number): void {
    if (x.period === 0) return;
    const late = now - x.scheduled;
    if (late <= 0) return;
    const missed = Math.floor(late / x.period) + 1;
    x.pending += missed;
    x.scheduled += missed * x.period;
  }
}

const MODE_NAMES = ["one-shot", "periodic", "TSC-deadline", "reserved"] as const;
