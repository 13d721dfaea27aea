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

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`): it has none. */
  hashFields(_h: StateHash): void {}

  /**
   * Saves the timer's registers and returns a function that puts them
   * back, for `scn explore` (`VmModel.snapshot`); null while armed (its
   * expiry is a queued event, which no snapshot copies). Fixed at
   * creation, not saved: #host, #busNs, #minPeriodNs, #onFire.
   */
  snapshot(): (() => void) | null {
    if (this.#handle !== null) return null;
    const mode = this.#mode, tmict = this.#tmict, tdcr = this.#tdcr, divisor = this.#divisor;
    const periodNs = this.#periodNs, targetNs = this.#targetNs, deadline = this.#deadline;
    return () => {
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
      this.#handle === null
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
    this.#busNs = options.busCycleNs ?? 1;
    this.#minPeriodNs = options.minPeriodicNs ?? KVM_MIN_PERIODIC_NS;
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
}

const MODE_NAMES = ["one-shot", "periodic", "TSC-deadline", "reserved"] as const;
