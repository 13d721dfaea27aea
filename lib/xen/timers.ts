/**
 * Xen's per-vCPU timers and the blocking scheduler operations: the
 * single-shot timer of set_timer_op and VCPUOP_set_singleshot_timer, the
 * periodic timer of VCPUOP_set_periodic_timer (both raise VIRQ_TIMER), and
 * SCHEDOP_block / SCHEDOP_poll, on the engine's virtual clock.
 *
 * Sources: Xen `xen/common/sched/core.c` (`do_set_timer_op`: 0 cancels,
 * negative or more than 2^50 ns ahead becomes now + 100 ms; `do_poll`:
 * at most 128 ports, early return when an upcall is deliverable or a port
 * is pending, single-port pollers wait for that port only, absolute
 * timeout; `vcpu_block_enable_events`; `singleshot_timer_fn`,
 * `vcpu_periodic_timer_work`), `xen/common/domain.c` (`common_vcpu_op`
 * timer ops: the single-shot ones only on the calling vCPU, the periodic
 * ones on any; period ≥ 1 ms, SSHOTTMR_future ignored since 19c6cbd909),
 * `xen/common/event_channel.c` (`evtchn_check_pollers`), `xen/include/public/sched.h`,
 * `xen/include/public/vcpu.h`. kvm-xen: Linux `arch/x86/kvm/xen.c`
 * (`kvm_xen_hcall_set_timer_op` with the same rule, `kvm_xen_schedop_poll`:
 * relative timeout, `kvm_xen_check_poller`: only the target vCPU).
 *
 * @module
 */
import { arrayOf } from "../core/arena.ts";
import type { EventQueue, Scheduled } from "../core/event_queue.ts";
import type { Flavour } from "./evtchn.ts";
import { XEN_ERRNO } from "./errno.ts";

/**
 * 100 ms, the fallback of a huge or negative set_timer_op deadline.
 *
 * @example
 * ```ts
 * declare const timers: XenTimers;
 * timers.setTimerOp(0, -1n); // fires after TIMER_FALLBACK_NS
 * ```
 */
export const TIMER_FALLBACK_NS = 100_000_000;
/**
 * SCHEDOP_poll's port limit.
 *
 * @example
 * ```ts
 * declare const timers: XenTimers;
 * timers.poll(0, new Array(POLL_MAX_PORTS + 1).fill(1), 0); // -EINVAL
 * ```
 */
export const POLL_MAX_PORTS = 128;
/**
 * VCPUOP_set_periodic_timer's minimum period (1 ms).
 *
 * @example
 * ```ts
 * declare const timers: XenTimers;
 * timers.setPeriodic(0, 0, PERIODIC_MIN_NS); // 0
 * ```
 */
export const PERIODIC_MIN_NS = 1_000_000;
/**
 * VCPUOP_set_periodic_timer's maximum period: Xen's `STIME_DELTA_MAX`
 * (`xen/include/xen/time.h`, 2^62 - 1 ns), which QEMU's
 * `vcpuop_set_periodic_timer` copies for kvm-xen.
 *
 * @example
 * ```ts
 * declare const timers: XenTimers;
 * timers.setPeriodic(0, 0, 2 ** 62); // -EINVAL
 * ```
 */
export const STIME_DELTA_MAX = (1n << 62n) - 1n;

/**
 * What the timers drive.
 *
 * @example
 * ```ts
 * declare const host: TimerHost;
 * new XenTimers(host, 2); // host implements TimerHost
 * ```
 */
export interface TimerHost {
  readonly flavour: Flavour;
  readonly queue: EventQueue;
  now(): number;
  /** `send_timer_event`: raise VIRQ_TIMER on vCPU `n`. */
  timerEvent(n: number): void;
  /** Whether an upcall is deliverable to vCPU `n` now (`local_events_need_delivery`). */
  eventsNeedDelivery(n: number): boolean;
  /** `evtchn_port_poll`: <0 bad port, 0 idle, >0 pending. */
  pollPort(port: number): number;
  /** The vCPU blocked or stopped blocking (for the CPU model's halted flag and the trace). */
  blockedChanged(n: number, blocked: boolean, why: string): void;
  /** `local_event_delivery_enable`: clear vCPU `n`'s evtchn_upcall_mask. */
  enableEventDelivery(n: number): void;
}

/**
 * One vCPU's timer and blocking state.
 *
 * @example
 * ```ts
 * declare const timers: XenTimers;
 * timers.vcpus[0].wokeBy; // "timeout" after a poll timed out
 * ```
 */
export interface VcpuSched {
  singleshot: Scheduled | null;
  singleshotDeadline: number;
  periodic: Scheduled | null;
  periodNs: number;
  periodicLast: number;
  /** SCHEDOP_block or SCHEDOP_poll is waiting. */
  blocked: boolean;
  /** In the domain's poll mask. */
  polling: boolean;
  /** The single port polled, -1 for several (Xen `poll_evtchn`). */
  pollPort: number;
  pollTimer: Scheduled | null;
  /** Why the last block or poll ended: "event", "timeout", "kick", or "". */
  wokeBy: string;
}

/**
 * Timers, block and poll for every vCPU of a domain.
 *
 * @example
 * ```ts
 * declare const host: TimerHost;
 * const t = new XenTimers(host, 1);
 * t.setTimerOp(0, host.now() + 1_000_000); // VIRQ_TIMER in 1 ms
 * t.setTimerOp(0, 0);                      // cancelled
 * ```
 */
export class XenTimers {
  readonly vcpus: VcpuSched[];

  constructor(readonly host: TimerHost, count: number) {
    this.vcpus = arrayOf(count, () => ({
      singleshot: null,
      singleshotDeadline: 0,
      periodic: null,
      periodNs: 0,
      periodicLast: 0,
      blocked: false,
      polling: false,
      pollPort: 0,
      pollTimer: null,
      wokeBy: "",
    }));
  }

  #exists(n: number): boolean {
    return Number.isInteger(n) && n >= 0 && n < this.vcpus.length;
  }

  #arm(n: number, at: number): void {
    const s = this.vcpus[n];
    if (s.singleshot) s.singleshot.cancelled = true;
    s.singleshotDeadline = at;
    s.singleshot = this.host.queue.schedule(Math.max(at, this.host.now()), () => {
      s.singleshot = null;
      this.host.timerEvent(n);
    });
  }

  /** Stops vCPU `n`'s single-shot timer. */
  stopSingleshot(n: number): void {
    const s = this.vcpus[n];
    if (s.singleshot) s.singleshot.cancelled = true;
    s.singleshot = null;
  }

  /**
   * set_timer_op(deadline): 0 cancels; a past deadline fires at once;
   * negative or more than 2^50 ns ahead fires after 100 ms. Returns 0.
   */
  setTimerOp(n: number, deadline: bigint | number): number {
    const t = BigInt(deadline);
    const now = BigInt(this.host.now());
    if (t === 0n) {
      this.stopSingleshot(n);
      return 0;
    }
    const offset = t - now;
    if (t < 0n || (offset > 0n && (offset >> 50n) !== 0n)) {
      this.#arm(n, this.host.now() + TIMER_FALLBACK_NS);
      return 0;
    }
    this.#arm(n, Number(t));
    return 0;
  }

  /**
   * VCPUOP_set_singleshot_timer on vCPU `target` from vCPU `caller`:
   * -ENOENT for a vCPU the domain does not have (`do_vcpu_op`; QEMU's
   * `kvm_xen_hcall_vcpu_op` too), -EINVAL for another vCPU; the deadline is taken as is (no 2^50 rule;
   * VCPU_SSHOTTMR_future ignored).
   */
  setSingleshot(caller: number, target: number, deadline: bigint | number): number {
    if (!this.#exists(target)) return -XEN_ERRNO.ENOENT;
    if (caller !== target) return -XEN_ERRNO.EINVAL;
    this.#arm(target, Number(BigInt(deadline)));
    return 0;
  }

  /** VCPUOP_stop_singleshot_timer: -ENOENT for no such vCPU, -EINVAL for another vCPU. */
  stopSingleshotOp(caller: number, target: number): number {
    if (!this.#exists(target)) return -XEN_ERRNO.ENOENT;
    if (caller !== target) return -XEN_ERRNO.EINVAL;
    this.stopSingleshot(target);
    return 0;
  }

  /**
   * VCPUOP_set_periodic_timer: -ENOENT for no such vCPU, -EINVAL for a
   * period below 1 ms or past {@link STIME_DELTA_MAX}. Unlike the single-shot ops it may name any vCPU of
   * the domain (`common_vcpu_op` has no `v != current` check; QEMU's
   * `kvm_xen_hcall_vcpu_op` passes the target on too). Xen: the timer fires
   * at last tick + period, at once if that has passed
   * (`vcpu_set_periodic_timer`, `periodic_last_event` starting at 0).
   * kvm-xen: QEMU's `do_set_periodic_timer` arms now + period.
   */
  setPeriodic(_caller: number, target: number, periodNs: number): number {
    if (!this.#exists(target)) return -XEN_ERRNO.ENOENT;
    if (periodNs < PERIODIC_MIN_NS || BigInt(periodNs) > STIME_DELTA_MAX) {
      return -XEN_ERRNO.EINVAL;
    }
    const s = this.vcpus[target];
    s.periodNs = periodNs;
    if (this.host.flavour === "kvm-xen") s.periodicLast = this.host.now();
    this.#periodicNext(target);
    return 0;
  }

  /** VCPUOP_stop_periodic_timer: -ENOENT for no such vCPU; any vCPU of the domain. */
  stopPeriodic(_caller: number, target: number): number {
    if (!this.#exists(target)) return -XEN_ERRNO.ENOENT;
    const s = this.vcpus[target];
    s.periodNs = 0;
    if (s.periodic) s.periodic.cancelled = true;
    s.periodic = null;
    return 0;
  }

  #periodicNext(n: number): void {
    const s = this.vcpus[n];
    if (s.periodic) s.periodic.cancelled = true;
    const now = this.host.now();
    if (now >= s.periodicLast + s.periodNs) {
      this.host.timerEvent(n);
      s.periodicLast = now;
    }
    s.periodic = this.host.queue.schedule(s.periodicLast + s.periodNs, () => {
      s.periodic = null;
      if (s.periodNs > 0) this.#periodicNext(n);
    });
  }

  /**
   * SCHEDOP_block (Xen `vcpu_block_enable_events`): clears the vCPU's
   * evtchn_upcall_mask first, then returns at once if an upcall is
   * deliverable, otherwise the vCPU sleeps until kicked. Returns 0.
   */
  block(n: number): number {
    const s = this.vcpus[n];
    this.host.enableEventDelivery(n);
    if (this.host.eventsNeedDelivery(n)) {
      s.wokeBy = "event";
      return 0;
    }
    s.blocked = true;
    s.wokeBy = "";
    this.host.blockedChanged(n, true, "SCHEDOP_block");
    return 0;
  }

  /**
   * SCHEDOP_poll: -EINVAL for more than 128 ports or a bad port met before
   * a pending one (kvm-xen: a bad port anywhere in the list); 0 at once if an upcall is deliverable or a port is
   * pending; otherwise blocks until a polled port is raised, a kick, or the
   * timeout (Xen: absolute ns, 0 = none; kvm-xen: relative).
   */
  poll(n: number, ports: readonly number[], timeout: bigint | number): number {
    if (ports.length > POLL_MAX_PORTS) return -XEN_ERRNO.EINVAL;
    const s = this.vcpus[n];
    s.wokeBy = "";
    if (this.host.flavour === "xen" && this.host.eventsNeedDelivery(n)) {
      s.wokeBy = "event";
      return 0;
    }
    // kvm-xen: kvm_xen_schedop_poll range-checks every port before it looks at any.
    if (this.host.flavour === "kvm-xen" && ports.some((p) => this.host.pollPort(p) < 0)) {
      return -XEN_ERRNO.EINVAL;
    }
    for (const p of ports) {
      const r = this.host.pollPort(p);
      if (r < 0) return r;
      if (r > 0) {
        s.wokeBy = "event";
        return 0;
      }
    }
    s.blocked = true;
    s.polling = true;
    s.pollPort = ports.length === 1 ? ports[0] : -1;
    const t = Number(BigInt(timeout));
    if (t !== 0) {
      // kvm-xen: KVM arms the timeout relative to now (jiffies + timeout).
      const at = this.host.flavour === "xen" ? Math.max(t, this.host.now()) : this.host.now() + t;
      s.pollTimer = this.host.queue.schedule(at, () => {
        s.pollTimer = null;
        if (s.polling) this.#wake(n, "timeout");
      });
    }
    this.host.blockedChanged(n, true, `SCHEDOP_poll [${ports.join(", ")}]`);
    return 0;
  }

  #wake(n: number, why: string): void {
    const s = this.vcpus[n];
    if (!s.blocked) return;
    s.blocked = false;
    s.polling = false;
    s.pollPort = 0;
    if (s.pollTimer) s.pollTimer.cancelled = true;
    s.pollTimer = null;
    s.wokeBy = why;
    this.host.blockedChanged(n, false, why);
  }

  /** `vcpu_unblock` from a kick (an upcall was asserted for vCPU `n`). */
  kick(n: number): void {
    this.#wake(n, "kick");
  }

  /**
   * A port was newly flagged pending for vCPU `target`. Xen
   * (`evtchn_check_pollers`): every polling vCPU whose single port is this
   * one, or that polls several ports, wakes, masked or not. kvm-xen
   * (`kvm_xen_check_poller`): only the target vCPU, and the caller invokes
   * this only on the masked path.
   */
  checkPollers(port: number, target: number): void {
    for (let n = 0; n < this.vcpus.length; n++) {
      if (this.host.flavour === "kvm-xen" && n !== target) continue;
      const s = this.vcpus[n];
      if (s.polling && (s.pollPort <= 0 || s.pollPort === port)) this.#wake(n, "event");
    }
  }
}
