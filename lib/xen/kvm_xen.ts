/**
 * Linux KVM's Xen API, as a VMM uses it to run a `kvm-xen` domain:
 * KVM_XEN_HVM_CONFIG, the VM and vCPU attributes, routing entries of type
 * KVM_IRQ_ROUTING_XEN_EVTCHN, KVM_XEN_HVM_EVTCHN_SEND, the EVTCHNOP_send
 * interception table (KVM_XEN_ATTR_TYPE_EVTCHN) with its eventfds, and the
 * hypercalls KVM answers in the kernel or leaves to the VMM with
 * KVM_EXIT_XEN.
 *
 * The VMM of the model is the scenario's `vmm:` actor for what it does
 * itself (ioctls, answering a raw hypercall's exit), and QEMU's Xen
 * emulation for the named hypercall commands it answers at once (see
 * `hypercall_path.ts`). It starts configured as QEMU configures KVM
 * (`kvm_xen_init`): KVM_XEN_HVM_CONFIG with INTERCEPT_HCALL and
 * EVTCHN_SEND and the hypercall MSR 0x40000000; a `kvm xen_hvm_config`
 * replaces that.
 *
 * Sources: Linux `include/uapi/linux/kvm.h` (KVM_XEN_HVM_CONFIG_* flags,
 * `struct kvm_xen_hvm_config`, KVM_XEN_ATTR_TYPE_*, KVM_XEN_VCPU_ATTR_TYPE_*,
 * `struct kvm_irq_routing_xen_evtchn`, KVM_IRQ_ROUTING_XEN_EVTCHN = 5,
 * KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL), `arch/x86/kvm/xen.c`
 * (`kvm_xen_hvm_config`, `kvm_xen_hvm_set_attr`, `kvm_xen_vcpu_set_attr`,
 * `kvm_xen_setup_evtchn`, `kvm_xen_hvm_evtchn_send`,
 * `kvm_xen_set_evtchn_fast`, `kvm_xen_setattr_evtchn`,
 * `kvm_xen_eventfd_assign`, `kvm_xen_eventfd_update`,
 * `kvm_xen_eventfd_deassign`, `kvm_xen_eventfd_reset`,
 * `kvm_xen_hcall_evtchn_send`, `kvm_xen_hypercall`,
 * `kvm_xen_hcall_sched_op`, `kvm_xen_schedop_poll`,
 * `kvm_xen_hypercall_complete_userspace`), `Documentation/virt/kvm/api.rst`
 * (KVM_XEN_ATTR_TYPE_EVTCHN, KVM_XEN_ATTR_TYPE_XEN_VERSION, KVM_EXIT_XEN);
 * QEMU `target/i386/kvm/xen-emu.c` (`kvm_xen_init`: the flags QEMU sets);
 * selftests `xen_shinfo_test.c` (TEST_EVTCHN_HCALL, TEST_EVTCHN_HCALL_EVENTFD)
 * and `xen_vmcall_test.c`.
 *
 * @module
 */
import { stubInput, writeHypercallPage } from "./hypercall_page.ts";
import { arrayOf } from "../core/arena.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { XenDomain } from "./domain.ts";
import type { Scheduled } from "../core/event_queue.ts";
import { XEN_ERRNO } from "./errno.ts";
import { EVTCHNSTAT } from "./evtchn.ts";
import { toU64, XenExit } from "./hypercall.ts";
import { field } from "./layout.ts";
import { RUNSTATE } from "./runstate.ts";
import { VCPU_TIME_INFO_SIZE } from "./vcpu_time.ts";
import { POLL_MAX_PORTS, TIMER_FALLBACK_NS } from "./timers.ts";
import { KVM_XEN_EVTCHN, KVM_XEN_HVM_CONFIG, KVM_XEN_INVALID, KVM_XEN_PRIO_2LEVEL } from "./abi.ts";
export {
  KVM_XEN_CAPS,
  KVM_XEN_EVTCHN,
  KVM_XEN_HVM_CONFIG,
  KVM_XEN_INVALID,
  KVM_XEN_PRIO_2LEVEL,
} from "./abi.ts";

/**
 * The range a KVM_XEN_HVM_CONFIG hypercall MSR must lie in
 * (`KVM_XEN_MSR_MIN_INDEX`, uapi `asm/kvm.h`): the MSRs unofficially
 * reserved for hypervisors.
 *
 * @example
 * ```ts
 * KVM_XEN_MSR_MIN_INDEX; // 0x40000000
 * ```
 */
export const KVM_XEN_MSR_MIN_INDEX = 0x4000_0000;

/**
 * The last MSR a KVM_XEN_HVM_CONFIG hypercall MSR may be
 * (`KVM_XEN_MSR_MAX_INDEX`).
 *
 * @example
 * ```ts
 * KVM_XEN_MSR_MAX_INDEX; // 0x4fffffff
 * ```
 */
export const KVM_XEN_MSR_MAX_INDEX = 0x4fff_ffff;

/**
 * What KVM_XEN_VCPU_GET_ATTR reads ({@link KvmXen.getVcpuAttr}): the
 * attribute, or one field of TIMER.
 *
 * @example
 * ```ts
 * const a: KvmXenVcpuAttr = "timer_expires";
 * ```
 */
export type KvmXenVcpuAttr =
  | "vcpu_info"
  | "vcpu_time_info"
  | "vcpu_id"
  | "upcall_vector"
  | "timer_port"
  | "timer_expires"
  | "timer_priority";

/**
 * KVM_MAX_VCPUS on x86: CONFIG_KVM_MAX_NR_VCPUS of a CONFIG_MAXSMP build, as
 * distributions ship (the Kconfig default without MAXSMP is 1024). A Xen
 * vcpu_id (KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID) must be below it.
 *
 * @example
 * ```ts
 * declare const kvm: KvmXen;
 * kvm.setVcpuId(0, BigInt(KVM_MAX_VCPUS)); // -EINVAL
 * ```
 */
export const KVM_MAX_VCPUS = 4096;

/**
 * `struct kvm_irq_routing_xen_evtchn` (and KVM_XEN_HVM_EVTCHN_SEND's argument).
 *
 * @example
 * ```ts
 * declare const kvm: KvmXen;
 * kvm.evtchnSend({ port: 66, vcpu: 0, priority: KVM_XEN_PRIO_2LEVEL });
 * ```
 */
export interface XenEvtchnRoute {
  port: number;
  /** KVM vcpu_id (the APIC ID), not the Xen vCPU number. */
  vcpu: number;
  priority: number;
}

/**
 * `struct kvm_xen_hvm_config`.
 *
 * @example
 * ```ts
 * declare const kvm: KvmXen;
 * kvm.hvmConfig({ flags: 0, msr: 0x40000000, blobAddr32: 0n, blobAddr64: 0n, blobSize32: 0, blobSize64: 0 });
 * ```
 */
export interface KvmXenHvmConfig {
  flags: number;
  msr: number;
  blobAddr32: bigint;
  blobAddr64: bigint;
  blobSize32: number;
  blobSize64: number;
}

/**
 * The configuration QEMU gives KVM for a Xen guest (`kvm_xen_init`):
 * INTERCEPT_HCALL, EVTCHN_SEND (KVM reports it), hypercall MSR 0x40000000,
 * no blobs. The model's kvm-xen VMs start with it.
 *
 * @example
 * ```ts
 * (QEMU_HVM_CONFIG.flags & KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL) !== 0; // true
 * ```
 */
export const QEMU_HVM_CONFIG: Readonly<KvmXenHvmConfig> = {
  flags: KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL | KVM_XEN_HVM_CONFIG.EVTCHN_SEND,
  msr: 0x40000000,
  blobAddr32: 0n,
  blobAddr64: 0n,
  blobSize32: 0,
  blobSize64: 0,
};

/**
 * `struct kvm_xen_hvm_attr` `u.evtchn`: intercept the guest's EVTCHNOP_send on
 * `sendPort` and deliver to a local `{port, vcpu, priority}` or, with
 * `deliverPort` 0, signal eventfd `eventfd`.
 *
 * @example
 * ```ts
 * import { EVTCHNSTAT } from "./evtchn.ts";
 * declare const kvm: KvmXen;
 * kvm.setEvtchnAttr({ sendPort: 127, type: EVTCHNSTAT.interdomain, flags: 0,
 *   deliverPort: 15, vcpu: 0, priority: KVM_XEN_PRIO_2LEVEL, eventfd: -1 }); // 0
 * ```
 */
export interface KvmXenEvtchnAttr {
  sendPort: number;
  /** EVTCHNSTAT_*: only interdomain and ipi are accepted. */
  type: number;
  /** 0 (assign) or one of {@link KVM_XEN_EVTCHN}. */
  flags: number;
  /** `deliver.port.port`; 0 selects the eventfd. */
  deliverPort: number;
  /** `deliver.port.vcpu`: the KVM vcpu_id (APIC ID). */
  vcpu: number;
  /** `deliver.port.priority`: must be 2-level. */
  priority: number;
  /** `deliver.eventfd.fd`: the model takes any fd >= 0 as an eventfd the VMM made. */
  eventfd: number;
}

/**
 * One intercepted send port (KVM's `struct evtchnfd`).
 *
 * @example
 * ```ts
 * declare const kvm: KvmXen;
 * kvm.evtchnPorts.get(127)?.port; // 15
 * ```
 */
export interface EvtchnIntercept {
  sendPort: number;
  type: number;
  /** Local delivery port, or 0 for the eventfd. */
  port: number;
  vcpu: number;
  priority: number;
  /** The eventfd, or -1 for local delivery. */
  eventfd: number;
}

/**
 * The KVM side of a kvm-xen domain.
 *
 * @example
 * ```ts
 * import { XenDomain } from "./domain.ts";
 * declare const domain: XenDomain;
 * const kvm = new KvmXen(domain);
 * kvm.hvmConfig({ flags: KVM_XEN_HVM_CONFIG.EVTCHN_SEND, msr: 0x40000000, blobAddr32: 0n, blobAddr64: 0n, blobSize32: 0, blobSize64: 0 }); // 0
 * kvm.evtchnSend({ port: 0, vcpu: 0, priority: KVM_XEN_PRIO_2LEVEL }); // -EINVAL
 * ```
 */
export class KvmXen {
  /** KVM_XEN_HVM_CONFIG as last set; QEMU's configuration until the scenario sets one. */
  config: KvmXenHvmConfig = { ...QEMU_HVM_CONFIG };
  /** GSI → Xen event-channel routes from KVM_SET_GSI_ROUTING. */
  readonly routes: Map<number, XenEvtchnRoute[]> = new Map();
  /** KVM_XEN_ATTR_TYPE_EVTCHN: intercepted send port → its target (KVM's `evtchn_ports`). */
  readonly evtchnPorts: Map<number, EvtchnIntercept> = new Map();
  /** Signals counted per eventfd (fd → count) by intercepted sends. */
  readonly eventfds: Map<number, number> = new Map();
  /** KVM_XEN_ATTR_TYPE_XEN_VERSION: what XENVER_version answers in the kernel; 0 = unset. */
  xenVersion = 0;
  /** The last KVM_EXIT_XEN of each vCPU. */
  readonly exits: XenExit[];
  /**
   * KVM_XEN_VCPU_ATTR_TYPE_TIMER per vCPU: the port KVM raises on expiry
   * (`timer_virq`, 0 = KVM's timer off) and the armed deadline in ns
   * (`timer_expires`, 0 = none).
   */
  readonly timers: { port: number; expires: bigint; scheduled: Scheduled | null }[];
  /** KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO per vCPU: the GPA of its second time record, or -1. */
  readonly timeInfo: number[];
  /**
   * KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID per vCPU: its Xen vCPU number, which the
   * timer vcpu_ops compare with their target. `kvm_xen_init_vcpu` starts it
   * at the vCPU index (QEMU sets the same, its cpu_index).
   */
  readonly vcpuIds: number[];
  /**
   * QEMU's `evtchn_in_kernel` (hw/i386/kvm/xen_evtchn.c): KVM delivers the
   * events and serves the guest's IPI sends itself. Decided each time the
   * guest sets HVM_PARAM_CALLBACK_IRQ ({@link qemuCallbackParam}).
   */
  qemuInKernel = false;

  constructor(readonly domain: XenDomain) {
    domain.pvclockTscUnstable = () =>
      (this.config.flags & KVM_XEN_HVM_CONFIG.PVCLOCK_TSC_UNSTABLE) !== 0;
    this.exits = arrayOf(domain.vcpuCount, () => new XenExit());
    this.timeInfo = arrayOf(domain.vcpuCount, () => -1);
    this.vcpuIds = arrayOf(domain.vcpuCount, (i) => i);
    this.timers = arrayOf(
      domain.vcpuCount,
      () => ({ port: 0, expires: 0n, scheduled: null }),
    );
  }

  /**
   * KVM_XEN_VCPU_SET_ATTR(TIMER) (`kvm_xen_vcpu_set_attr`): -EINVAL for a
   * port with a priority other than 2-level; the running timer stops; with
   * a port and a deadline it is armed again (`kvm_xen_start_timer`), and a
   * deadline already past fires at once. Expiry raises the port on the
   * vCPU as KVM_XEN_HVM_EVTCHN_SEND would and clears `expires`.
   */
  setTimer(vcpu: number, port: number, priority: number, expires: bigint): number {
    const d = this.domain;
    if (vcpu < 0 || vcpu >= d.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (port !== 0 && priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    this.#stopTimer(vcpu);
    this.timers[vcpu].port = port;
    this.#emit(
      "xen.timer",
      `KVM_XEN_VCPU_SET_ATTR TIMER vcpu${vcpu}: port ${port}, expires ${expires}`,
    );
    if (port !== 0 && expires !== 0n) this.#startTimer(vcpu, expires);
    return 0;
  }

  /**
   * `kvm_xen_timer_enabled`: the VMM has given vCPU `vcpu` a timer port, so
   * KVM serves the guest's timer hypercalls in the kernel.
   */
  timerInKernel(vcpu: number): boolean {
    return this.timers[vcpu].port !== 0;
  }

  /**
   * `kvm_xen_start_timer`: arms vCPU `vcpu`'s timer for the absolute
   * deadline; one not in the future fires now, inside the caller
   * (`xen_timer_callback` runs synchronously), and clears `expires`.
   */
  #startTimer(vcpu: number, deadline: bigint): void {
    const t = this.timers[vcpu];
    if (t.scheduled) t.scheduled.cancelled = true;
    t.scheduled = null;
    t.expires = deadline;
    const now = this.domain.host.now();
    // KVM takes the distance as an s64: a u64 deadline at or above 2^63 is in the past.
    const delta = BigInt.asIntN(64, toU64(deadline) - BigInt(now));
    if (delta <= 0n) {
      this.#timerFired(vcpu);
      return;
    }
    t.scheduled = this.domain.host.queue.schedule(now + Number(delta), () => {
      t.scheduled = null;
      this.#timerFired(vcpu);
    });
  }

  /** `xen_timer_callback` on the fast path: the port is raised and `expires` cleared. */
  #timerFired(vcpu: number): void {
    const t = this.timers[vcpu];
    t.expires = 0n;
    this.#emit("xen.timer", `vcpu${vcpu}: KVM's Xen timer fired: port ${t.port}`);
    this.deliver({ port: t.port, vcpu, priority: KVM_XEN_PRIO_2LEVEL });
  }

  /** `kvm_xen_stop_timer`: cancelled, `expires` 0. */
  #stopTimer(vcpu: number): void {
    const t = this.timers[vcpu];
    if (t.scheduled) t.scheduled.cancelled = true;
    t.scheduled = null;
    t.expires = 0n;
  }

  /**
   * `kvm_xen_hcall_set_timer_op` from vCPU `vcpu`, or undefined when KVM's
   * timer is off for it and the call exits to the VMM. 0 stops the timer;
   * Xen's "Linux workaround" is kept: a negative deadline, or one 2^50 ns
   * or more ahead, becomes now + 100 ms. Returns 0.
   */
  hcallSetTimerOp(vcpu: number, deadline: bigint): number | undefined {
    if (!this.timerInKernel(vcpu)) return undefined;
    if (deadline === 0n) {
      this.#stopTimer(vcpu);
      return 0;
    }
    const now = BigInt(this.domain.host.now());
    const delta = BigInt.asIntN(64, deadline - now);
    const t = BigInt.asIntN(64, deadline) < 0n || (delta > 0n && (delta >> 50n) !== 0n)
      ? now + BigInt(TIMER_FALLBACK_NS)
      : deadline;
    this.#startTimer(vcpu, t);
    return 0;
  }

  /**
   * `kvm_xen_hcall_vcpu_op` for VCPUOP_set_singleshot_timer (`deadline`
   * given) or VCPUOP_stop_singleshot_timer (`deadline` null) from vCPU
   * `vcpu` naming vCPU `target`, or undefined when KVM's timer is off for
   * the caller and the call exits. KVM compares `target` with the caller's
   * Xen vcpu_id only ({@link vcpuIds}: its index unless the VMM set
   * KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID): any other, even one the VM lacks, is
   * -EINVAL, where Xen says -ENOENT for a vCPU the domain lacks. The deadline
   * is taken as is, flags ignored; one already past fires at once.
   */
  hcallSingleshot(vcpu: number, target: number, deadline: bigint | null): number | undefined {
    if (!this.timerInKernel(vcpu)) return undefined;
    if (target !== this.vcpuIds[vcpu]) return -XEN_ERRNO.EINVAL;
    if (deadline === null) this.#stopTimer(vcpu);
    else this.#startTimer(vcpu, deadline);
    return 0;
  }

  /** KVM_XEN_VCPU_GET_ATTR(TIMER): the port, and the deadline still armed (0 after expiry). */
  getTimer(vcpu: number): { port: number; expires: bigint } {
    const t = this.timers[vcpu];
    return { port: t.port, expires: t.expires };
  }

  /**
   * KVM_XEN_HVM_CONFIG: only INTERCEPT_HCALL, EVTCHN_SEND and
   * PVCLOCK_TSC_UNSTABLE may be set; INTERCEPT_HCALL with any blob field is
   * -EINVAL; so is a hypercall MSR outside KVM_XEN_MSR_MIN_INDEX ..
   * KVM_XEN_MSR_MAX_INDEX (Linux 5c17848134ab, "KVM: x86/xen: Restrict
   * hypercall MSR to unofficial synthetic range"; 0 still means none).
   */
  hvmConfig(c: KvmXenHvmConfig): number {
    const allowed = KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL | KVM_XEN_HVM_CONFIG.EVTCHN_SEND |
      KVM_XEN_HVM_CONFIG.PVCLOCK_TSC_UNSTABLE;
    if ((c.flags & ~allowed) !== 0) return -XEN_ERRNO.EINVAL;
    const blob = c.blobAddr32 !== 0n || c.blobAddr64 !== 0n || c.blobSize32 !== 0 ||
      c.blobSize64 !== 0;
    if ((c.flags & KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL) !== 0 && blob) return -XEN_ERRNO.EINVAL;
    if (c.msr !== 0 && (c.msr < KVM_XEN_MSR_MIN_INDEX || c.msr > KVM_XEN_MSR_MAX_INDEX)) {
      return -XEN_ERRNO.EINVAL;
    }
    this.config = { ...c };
    return 0;
  }

  /**
   * A guest WRMSR to the MSR KVM_XEN_HVM_CONFIG named
   * (`kvm_xen_write_hypercall_page`): latches the layout to vCPU `n`'s mode
   * and fills the hypercall page ({@link writeHypercallPage}). Returns null
   * on success, the reason for a #GP, or undefined when `msr` is not the
   * configured one (0 configures none).
   */
  writeHypercallMsr(n: number, msr: number, value: bigint): string | null | undefined {
    if (this.config.msr === 0 || msr !== this.config.msr) return undefined;
    this.domain.setWidth(this.domain.cpuMode[n]);
    if ((this.config.flags & KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL) === 0) {
      throw new CommandInputError(
        "without KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL KVM copies the hypercall page from the " +
          "VMM's blob, whose contents the model does not hold",
      );
    }
    return writeHypercallPage(this.domain.mem, "kvm-xen", value, this.#insn());
  }

  /**
   * A call of stub `nr` of the hypercall page at `page` ({@link stubInput}):
   * the EAX it loads before the host's hypercall instruction, or why it is
   * no such stub.
   */
  pageCall(page: number, nr: number): bigint | string {
    return stubInput(this.domain.mem, page, nr, this.#insn());
  }

  /** The host's hypercall instruction; KVM's Xen emulation is x86's, whose host has one. */
  #insn(): readonly number[] {
    return this.domain.host.hypercallInsn!();
  }

  /**
   * A VMM ioctl on vCPU `n` (vcpu_load: KVM_REQ_STEAL_UPDATE). The vCPU is
   * out of KVM_RUN for it, and its next entry updates its runstate
   * ({@link vcpuEntry}).
   */
  vcpuIoctl(n: number): void {
    this.domain.runstate.entryUpdate[n] = true;
  }

  /**
   * vCPU `n`'s thread leaves KVM_RUN now and calls it again `ns` later: a
   * userspace exit the VMM takes `ns` to handle (`sched: true`: the host
   * scheduler preempts the thread inside KVM_RUN instead, `kvm_sched_out`
   * with `vcpu->preempted`, and `kvm_sched_in` brings it back). Of that
   * time the thread waited `runDelay` ns on a host run queue
   * (`sched_info.run_delay`; all of it when scheduled out). Until then the
   * vCPU executes and takes nothing ({@link outside}); the re-entry is a new
   * vcpu_load, so it makes the runstate update ({@link vcpuEntry}).
   *
   * A preempted vCPU is runnable meanwhile (`kvm_arch_vcpu_put` ->
   * `kvm_xen_runstate_set_preempted`, with a hypercall MSR configured); a
   * userspace exit leaves it running, as KVM counts the VMM's work for the
   * vCPU as the vCPU's ("accounted as still RUNSTATE_running").
   */
  leaveRun(n: number, ns: number, runDelay: number, sched: boolean): void {
    const d = this.domain, r = d.runstate, now = d.host.now();
    r.entryUpdate[n] = true;
    if (sched && this.config.msr !== 0) r.kvmChange(n, RUNSTATE.runnable, BigInt(now));
    // The delay is the thread's by the time it is back (sched_info_arrive at its next run).
    const delay = BigInt(sched ? ns : runDelay);
    if (ns <= 0) {
      r.runDelay[n] += delay;
      return;
    }
    const until = now + ns;
    if (until > r.outsideUntil[n]) r.outsideUntil[n] = until;
    // The re-entry is a moment of its own, at which the vCPUs settle.
    d.host.queue.schedule(until, () => {
      r.runDelay[n] += delay;
    });
  }

  /**
   * The host scheduler preempts vCPU `n`'s thread inside KVM_RUN for `ns`
   * (`kvm sched_out`): {@link leaveRun} with all of it on the run queue.
   * A halted vCPU is refused: its thread sleeps in `kvm_vcpu_block`, off
   * any run queue, so there is nothing to preempt, and were it switched
   * out, `kvm_sched_out` would see `!current->on_rq`, leave
   * `vcpu->preempted` false, and `kvm_arch_vcpu_put` would not mark it
   * runnable (a halted vCPU stays running in its runstate under KVM).
   */
  schedOut(n: number, ns: number): void {
    if (this.domain.host.halted?.(n)) {
      throw new CommandInputError(
        `vcpu${n} is halted: its thread sleeps in kvm_vcpu_block, off the run queue, so the host has nothing to preempt (kvm_sched_out leaves vcpu->preempted false and the runstate running); let it wake first, or give the VMM time with 'kvm userspace_exit'`,
      );
    }
    this.leaveRun(n, ns, ns, true);
  }

  /** vCPU `n`'s thread is outside KVM_RUN now ({@link leaveRun}). */
  outside(n: number): boolean {
    return this.domain.runstate.outside(n, this.domain.host.now());
  }

  /**
   * vCPU `n` enters the guest: `record_steal_time` services a pending
   * KVM_REQ_STEAL_UPDATE with `kvm_xen_runstate_set_running` when
   * KVM_XEN_HVM_CONFIG names a hypercall MSR (`kvm_xen_msr_enabled`; with
   * none, KVM's steal-time path runs instead and the runstate stays).
   * Returns whether the runstate changed.
   */
  vcpuEntry(n: number): boolean {
    const r = this.domain.runstate;
    if (!r.entryUpdate[n]) return false;
    if (this.config.msr === 0) {
      r.entryUpdate[n] = false;
      return false;
    }
    return r.kvmEnter(n, BigInt(this.domain.host.now()));
  }

  /**
   * KVM_XEN_HVM_SET_ATTR(RUNSTATE_UPDATE_FLAG): later runstate copies set
   * XEN_RUNSTATE_UPDATE while they write (`kvm_xen_update_runstate_guest`).
   * Returns 0 (the model's host has schedstats, so never -EOPNOTSUPP).
   */
  setRunstateUpdateFlag(on: boolean): number {
    this.domain.runstate.updateFlag = on;
    return 0;
  }

  /**
   * KVM_XEN_HVM_GET_ATTR (`kvm_xen_hvm_get_attr`): long_mode 0/1; the
   * shared_info GFN, or KVM_XEN_INVALID when none; the global upcall vector
   * (0 when none); the xen_version KVM answers (0 when unset).
   */
  getAttr(
    type: "long_mode" | "shared_info" | "upcall_vector" | "xen_version" | "runstate_update_flag",
  ): bigint {
    const d = this.domain;
    switch (type) {
      case "long_mode":
        return d.layout().wordBytes === 8 ? 1n : 0n;
      case "shared_info":
        return d.sharedInfo() < 0 ? KVM_XEN_INVALID : BigInt(d.sharedInfo() / 4096);
      case "upcall_vector": {
        const via = d.callback.via;
        return via.type === "vector" ? BigInt(via.vector) : 0n;
      }
      case "xen_version":
        return BigInt(this.xenVersion);
      case "runstate_update_flag":
        return d.runstate.updateFlag ? 1n : 0n;
    }
  }

  /**
   * KVM_XEN_VCPU_GET_ATTR (`kvm_xen_vcpu_get_attr`): the vcpu_info GPA, or
   * KVM_XEN_INVALID when KVM has none; the per-vCPU upcall vector (0 when
   * none); TIMER's port, deadline and priority (always 2-level: KVM keeps
   * no priority, since setting any other is -EINVAL); the VCPU_TIME_INFO
   * GPA (KVM_XEN_INVALID when off); the Xen vcpu_id. -EINVAL (as a negative
   * number) for a vCPU the VM does not have.
   */
  getVcpuAttr(type: KvmXenVcpuAttr, vcpu: number): bigint {
    const d = this.domain;
    if (vcpu < 0 || vcpu >= d.vcpuCount) return BigInt(-XEN_ERRNO.EINVAL);
    if (type === "vcpu_id") return BigInt(this.vcpuIds[vcpu]);
    if (type === "vcpu_time_info") {
      const t = this.timeInfo[vcpu];
      return t < 0 ? KVM_XEN_INVALID : BigInt(t);
    }
    if (type === "upcall_vector") return BigInt(d.callback.perVcpu[vcpu]);
    if (type === "timer_port") return BigInt(this.timers[vcpu].port);
    if (type === "timer_expires") return this.timers[vcpu].expires;
    if (type === "timer_priority") return BigInt(KVM_XEN_PRIO_2LEVEL);
    const gpa = d.areas.gpa(vcpu);
    return gpa < 0 ? KVM_XEN_INVALID : BigInt(gpa);
  }

  /**
   * KVM_XEN_ATTR_TYPE_LONG_MODE. A change of width with shared_info set
   * writes the wallclock again, at the new layout's offsets
   * (`kvm_xen_hvm_set_attr` -> `kvm_xen_shared_info_init`).
   */
  setLongMode(on: boolean): number {
    const d = this.domain;
    const width = on ? 64 : 32;
    if (d.layout().width === width) return 0;
    d.setWidth(width);
    if (d.sharedInfo() >= 0) this.#writeWallclock();
    return 0;
  }

  /**
   * KVM_XEN_ATTR_TYPE_SHARED_INFO (a GFN; all-ones = off). Setting it writes
   * the wallclock into the page (`kvm_xen_shared_info_init`). A frame no
   * memslot holds (outside the model's guest RAM) is -EFAULT
   * (`kvm_gpc_activate` -> `__kvm_gpc_refresh`: no HVA for the GFN). KVM then
   * keeps that address active and unusable; the model keeps the old one.
   */
  setSharedInfo(gfn: bigint): number {
    if (gfn === KVM_XEN_INVALID) {
      this.domain.setSharedInfo(-1);
      return 0;
    }
    const gpa = Number(gfn) * 4096;
    if (!this.domain.mem.contains(gpa, 4096)) return -XEN_ERRNO.EFAULT;
    this.domain.setSharedInfo(gpa);
    this.#writeWallclock();
    return 0;
  }

  /**
   * `kvm_xen_shared_info_init`: shared_info's `wc` gets the wall time at the
   * VM's kvmclock 0 (`kvm_get_wall_clock_epoch`, here the scenario's
   * `kvm_wallclock` seconds, since the model has no host clock) under the
   * guest's seqcount: the version goes odd (`(v + 1) | 1`), the time is
   * written, then it goes even. The page's own version is the start, so a
   * second write moves it on rather than back.
   */
  #writeWallclock(): void {
    const d = this.domain;
    const base = d.sharedInfo();
    const fields = d.layout().sharedInfo;
    const at = (name: string) => base + field(fields, name).offset;
    const sec = d.config.kvmWallclockSec ?? 0;
    const odd = ((Number(d.mem.read(at("wc_version"), 32)) + 1) | 1) >>> 0;
    d.mem.write(at("wc_version"), 32, odd);
    d.mem.write(at("wc_nsec"), 32, 0);
    d.mem.write(at("wc_sec"), 32, sec % 2 ** 32);
    d.mem.write(at("wc_sec_hi"), 32, Math.floor(sec / 2 ** 32));
    d.mem.write(at("wc_version"), 32, (odd + 1) >>> 0);
    this.#emit("xen.wallclock", `shared_info wc: version ${odd + 1}, sec ${sec}, nsec 0`);
  }

  /** KVM_XEN_ATTR_TYPE_UPCALL_VECTOR (the global vector): 0 off, 1..15 -EINVAL. */
  setUpcallVector(vector: number): number {
    if (vector !== 0 && vector < 0x10) return -XEN_ERRNO.EINVAL;
    return this.domain.callback.setParam(vector === 0 ? 0n : (2n << 56n) | BigInt(vector));
  }

  /** KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR: per-vCPU LAPIC vector; injects nothing. */
  setVcpuUpcallVector(vcpu: number, vector: number): number {
    if (vector !== 0 && vector < 0x10) return -XEN_ERRNO.EINVAL;
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (vector === 0) {
      this.domain.callback.perVcpu[vcpu] = 0;
      return 0;
    }
    return this.domain.callback.setUpcallVector(vcpu, vector);
  }

  /**
   * QEMU `xen_evtchn_set_callback_param`, after the parameter was accepted:
   * `evtchn_in_kernel` is on for a vector (type 2; KVM took it as
   * KVM_XEN_ATTR_TYPE_UPCALL_VECTOR) and for a GSI or INTx line that vCPU 0's
   * per-vCPU vector overrides (QEMU 18e83f28bf), both only when
   * KVM_XEN_HVM_CONFIG has EVTCHN_SEND; off for anything else.
   */
  qemuCallbackParam(value: bigint): void {
    const type = value >> 56n;
    const send = (this.config.flags & KVM_XEN_HVM_CONFIG.EVTCHN_SEND) !== 0;
    const line = (type === 0n && (value & 0xffff_ffffn) !== 0n) || type === 1n;
    this.qemuInKernel = send &&
      (type === 2n || (line && this.domain.callback.perVcpu[0] !== 0));
  }

  /**
   * QEMU `xen_evtchn_bind_ipi_op` -> `assign_kernel_port`: in kernel mode a
   * new IPI port is handed to KVM (KVM_XEN_ATTR_TYPE_EVTCHN, type ipi,
   * delivering to itself on the target vCPU), so the guest's EVTCHNOP_send
   * on it no longer exits. QEMU ignores a failure (userspace still works).
   */
  qemuIpiBound(port: number, vcpu: number): void {
    if (!this.qemuInKernel) return;
    this.setEvtchnAttr({
      sendPort: port,
      type: 5, // EVTCHNSTAT_ipi
      flags: 0,
      deliverPort: port,
      vcpu,
      priority: KVM_XEN_PRIO_2LEVEL,
      eventfd: -1,
    });
  }

  /** QEMU `close_port` of an IPI port in kernel mode: `deassign_kernel_port`. */
  qemuIpiClosed(port: number): void {
    if (!this.qemuInKernel) return;
    this.setEvtchnAttr({
      sendPort: port,
      type: 5,
      flags: KVM_XEN_EVTCHN.DEASSIGN,
      deliverPort: 0,
      vcpu: 0,
      priority: KVM_XEN_PRIO_2LEVEL,
      eventfd: -1,
    });
  }

  /**
   * KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID (`kvm_xen_vcpu_set_attr`): vCPU `vcpu`'s
   * Xen vCPU number; one at or past KVM_MAX_VCPUS is -EINVAL. The model's
   * KVM is a distribution build, CONFIG_MAXSMP (CONFIG_KVM_MAX_NR_VCPUS
   * 4096; 1024 without it).
   */
  setVcpuId(vcpu: number, id: bigint): number {
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (id >= BigInt(KVM_MAX_VCPUS)) return -XEN_ERRNO.EINVAL;
    this.vcpuIds[vcpu] = Number(id);
    this.#emit("xen.vcpu_id", `KVM_XEN_VCPU_SET_ATTR VCPU_ID vcpu${vcpu}: Xen vCPU ${id}`);
    return 0;
  }

  /**
   * KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO (`kvm_xen_vcpu_set_attr`): a
   * second time record for the vCPU at `gpa`, which KVM keeps up to date
   * with the one in vcpu_info; all-ones turns it off; a record crossing a
   * page is -EINVAL (`kvm_gpc_activate`'s length check), one no memslot
   * holds -EFAULT (as for VCPU_INFO and SHARED_INFO). The record is written
   * at once (KVM_REQ_CLOCK_UPDATE).
   */
  setVcpuTimeInfo(vcpu: number, gpa: bigint): number {
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (gpa === KVM_XEN_INVALID) {
      this.timeInfo[vcpu] = -1;
      return 0;
    }
    const g = Number(gpa);
    if ((g % 4096) + VCPU_TIME_INFO_SIZE > 4096) return -XEN_ERRNO.EINVAL;
    if (!this.domain.mem.contains(g, VCPU_TIME_INFO_SIZE)) return -XEN_ERRNO.EFAULT;
    this.timeInfo[vcpu] = g;
    this.domain.kvmWriteTimeInfo(vcpu, g);
    return 0;
  }

  /**
   * QEMU's VCPUOP_register_vcpu_time_memory_area
   * (`vcpuop_register_vcpu_time_info`, target/i386/kvm/xen-emu.c): -ENOENT
   * for a vCPU it lacks; -EFAULT when the 32-byte record would cross a page
   * (`kvm_gva_to_gpa`'s length; with paging off every address translates);
   * else KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO is set to the address on the
   * target's thread (`async_run_on_cpu`), whose answer the guest never sees:
   * 0.
   */
  qemuRegisterTimeArea(target: number, gpa: number): number {
    if (target < 0 || target >= this.domain.vcpuCount) return -XEN_ERRNO.ENOENT;
    if ((gpa % 4096) + VCPU_TIME_INFO_SIZE > 4096) return -XEN_ERRNO.EFAULT;
    this.setVcpuTimeInfo(target, BigInt(gpa));
    return 0;
  }

  /** KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO. */
  setVcpuInfo(vcpu: number, gpa: bigint): number {
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    return this.domain.kvmSetVcpuInfo(vcpu, gpa);
  }

  /**
   * `kvm_xen_setup_evtchn`: validates one routing entry. Only the priority
   * is checked (it must be 2-level): since Linux "KVM: x86/xen: Allow 'out
   * of range' event channel ports in IRQ routing table" neither the port
   * range nor the vCPU is checked when the table is set, so that a VMM can
   * restore routing before creating vCPUs or setting long_mode; a bad target
   * fails at delivery instead ({@link KvmXen.deliver}). Returns 0 or -EINVAL.
   */
  validateRoute(r: XenEvtchnRoute): number {
    if (r.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    return 0;
  }

  /** Replaces the Xen event-channel routes (after the whole table validated). */
  setRoutes(entries: ReadonlyArray<{ gsi: number } & XenEvtchnRoute>): void {
    this.routes.clear();
    for (const e of entries) {
      const list = this.routes.get(e.gsi) ?? [];
      list.push({ port: e.port, vcpu: e.vcpu, priority: e.priority });
      this.routes.set(e.gsi, list);
    }
  }

  /**
   * Delivery of one {port, vcpu}: `kvm_xen_set_evtchn_fast`. Port range is
   * checked here (it follows long_mode, which can change after routing is
   * set): -EINVAL. Returns 1 delivered, 0 already pending, -ENOTCONN masked.
   */
  deliver(r: XenEvtchnRoute): number {
    const d = this.domain;
    if (r.vcpu < 0 || r.vcpu >= d.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (r.port >= d.layout().maxPorts2L || d.sharedInfo() < 0) return -XEN_ERRNO.EINVAL;
    // A route names its vCPU itself; the port's own binding does not matter here.
    return d.evtchn.raiseOn(r.port, r.vcpu);
  }

  /**
   * KVM_XEN_HVM_EVTCHN_SEND: port 0 or out of range, a priority other than
   * 2-level, or an unknown vCPU → -EINVAL; a masked port counts as success.
   */
  evtchnSend(r: XenEvtchnRoute): number {
    const d = this.domain;
    if (r.port === 0 || r.port >= d.layout().maxPorts2L) return -XEN_ERRNO.EINVAL;
    if (r.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    const rc = this.deliver(r);
    if (rc === -XEN_ERRNO.ENOTCONN) return 0;
    return rc < 0 ? rc : 0;
  }

  /** KVM_XEN_ATTR_TYPE_XEN_VERSION (any 32-bit value; 0 = not answered in the kernel). */
  setXenVersion(v: number): number {
    this.xenVersion = v >>> 0;
    return 0;
  }

  /** Xen hypercalls trap to {@link KvmXen.hypercall} (INTERCEPT_HCALL is set). */
  interceptsHypercalls(): boolean {
    return (this.config.flags & KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL) !== 0;
  }

  #emit(kind: string, text: string): void {
    const t = this.domain.trace;
    if (t.enabled) t.emit("kvm", kind, text);
  }

  /**
   * KVM_XEN_ATTR_TYPE_EVTCHN (`kvm_xen_setattr_evtchn`). RESET drops every
   * entry (whatever the port). Otherwise the send port must be 1..max-1
   * (-EINVAL); DEASSIGN and UPDATE need an entry (-ENOENT); UPDATE may
   * change only the vCPU and priority (another type, another deliver port,
   * or an eventfd entry: -EINVAL); any other flag value is -EINVAL. Assign:
   * an IPI must deliver to its own send port, an interdomain port below the
   * limit, or with deliver port 0 to an eventfd (a bad fd: -EBADF); other
   * types -EINVAL; the priority must be 2-level; a send port already
   * intercepted is -EEXIST.
   */
  setEvtchnAttr(a: KvmXenEvtchnAttr): number {
    if (a.flags === KVM_XEN_EVTCHN.RESET) {
      this.evtchnPorts.clear();
      this.#emit("kvm.evtchn", "EVTCHN attr: every intercepted send port dropped");
      return 0;
    }
    const max = this.domain.layout().maxPorts2L;
    if (a.sendPort === 0 || a.sendPort >= max) return -XEN_ERRNO.EINVAL;
    const old = this.evtchnPorts.get(a.sendPort);
    if (a.flags === KVM_XEN_EVTCHN.DEASSIGN) {
      if (!old) return -XEN_ERRNO.ENOENT;
      this.evtchnPorts.delete(a.sendPort);
      this.#emit("kvm.evtchn", `EVTCHNOP_send on port ${a.sendPort} no longer intercepted`);
      return 0;
    }
    if (a.flags === KVM_XEN_EVTCHN.UPDATE) {
      if (!old) return -XEN_ERRNO.ENOENT;
      if (old.type !== a.type) return -XEN_ERRNO.EINVAL;
      // An eventfd entry (port 0) cannot be updated, nor the deliver port changed.
      if (old.port === 0 || old.port !== a.deliverPort) return -XEN_ERRNO.EINVAL;
      if (a.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
      old.priority = a.priority;
      old.vcpu = a.vcpu;
      this.#emit("kvm.evtchn", `send port ${a.sendPort} now delivers to vcpu ${a.vcpu}`);
      return 0;
    }
    if (a.flags !== 0) return -XEN_ERRNO.EINVAL;
    let eventfd = -1;
    if (a.type === EVTCHNSTAT.ipi) {
      if (a.deliverPort !== a.sendPort) return -XEN_ERRNO.EINVAL;
    } else if (a.type === EVTCHNSTAT.interdomain) {
      if (a.deliverPort !== 0) {
        if (a.deliverPort >= max) return -XEN_ERRNO.EINVAL;
      } else {
        if (!Number.isInteger(a.eventfd) || a.eventfd < 0) return -XEN_ERRNO.EBADF;
        eventfd = a.eventfd;
      }
    } else {
      return -XEN_ERRNO.EINVAL;
    }
    if (eventfd < 0 && a.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    if (old) return -XEN_ERRNO.EEXIST;
    this.evtchnPorts.set(a.sendPort, {
      sendPort: a.sendPort,
      type: a.type,
      port: eventfd < 0 ? a.deliverPort : 0,
      vcpu: eventfd < 0 ? a.vcpu : 0,
      priority: eventfd < 0 ? a.priority : 0,
      eventfd,
    });
    this.#emit(
      "kvm.evtchn",
      `EVTCHNOP_send on port ${a.sendPort} intercepted: ` +
        (eventfd < 0
          ? `raise port ${a.deliverPort} on vcpu ${a.vcpu}`
          : `signal eventfd ${eventfd}`),
    );
    return 0;
  }

  /**
   * `kvm_xen_hcall_evtchn_send`: a guest EVTCHNOP_send on `port`. Returns
   * the hypercall's result (0) when KVM handled it in the kernel, or
   * undefined when it goes to the VMM: the port is not intercepted, or the
   * local delivery failed other than by a mask (no such vCPU, no
   * shared_info, port past the limit).
   */
  hcallEvtchnSend(port: number): number | undefined {
    const e = this.evtchnPorts.get(port);
    if (!e) return undefined;
    if (e.port !== 0) {
      const rc = this.deliver({ port: e.port, vcpu: e.vcpu, priority: e.priority });
      if (rc < 0 && rc !== -XEN_ERRNO.ENOTCONN) return undefined;
      return 0;
    }
    this.eventfds.set(e.eventfd, (this.eventfds.get(e.eventfd) ?? 0) + 1);
    this.#emit("kvm.eventfd", `send port ${port}: eventfd ${e.eventfd} signalled`);
    // eventfd_signal: an irqfd bound to the same eventfd fires (xen_shinfo_test's
    // TEST_EVTCHN_HCALL_EVENTFD sends to one of the guest's own irqfds).
    this.domain.host.signalEventfd?.(e.eventfd);
    return 0;
  }

  /**
   * What KVM answers in the kernel for a Xen hypercall from CPL 0
   * (`kvm_xen_hypercall`), or undefined when it exits to the VMM:
   * xen_version(XENVER_version) once the XEN_VERSION attribute is set;
   * EVTCHNOP_send on an intercepted port (the port is read from the guest at
   * the second argument: -EFAULT if that is not RAM); SCHEDOP_poll (with
   * EVTCHN_SEND: KVM's poll, reading `struct sched_poll` and its ports;
   * without it, like SCHEDOP_yield) and SCHEDOP_yield (0); set_timer_op and
   * VCPUOP_{set,stop}_singleshot_timer once the VMM has given the vCPU a
   * timer port (KVM_XEN_VCPU_ATTR_TYPE_TIMER; {@link hcallSetTimerOp},
   * {@link hcallSingleshot}; the singleshot struct is read from the guest at
   * the third argument: -EFAULT if that is not RAM).
   */
  kernelHypercall(
    vcpu: number,
    longmode: boolean,
    input: bigint,
    params: readonly bigint[],
  ): number | undefined {
    const mem = this.domain.mem;
    const readable = (gva: bigint, n: number) => gva + BigInt(n) <= BigInt(mem.size);
    switch (input) {
      case 17n: // __HYPERVISOR_xen_version
        return params[0] === 0n && this.xenVersion !== 0 ? this.xenVersion : undefined;
      case 32n: // __HYPERVISOR_event_channel_op
        if (params[0] !== 4n) return undefined; // EVTCHNOP_send only
        if (!readable(params[1], 4)) return -XEN_ERRNO.EFAULT;
        return this.hcallEvtchnSend(Number(mem.readBig(Number(params[1]), 32)));
      case 15n: // __HYPERVISOR_set_timer_op; 32-bit callers pass the halves in two registers
        return this.hcallSetTimerOp(vcpu, longmode ? params[0] : params[0] | (params[1] << 32n));
      case 24n: { // __HYPERVISOR_vcpu_op(cmd, vcpuid, arg), both C ints
        const cmd = Number(BigInt.asIntN(32, params[0]));
        if (!this.timerInKernel(vcpu) || (cmd !== 8 && cmd !== 9)) return undefined;
        const target = Number(BigInt.asIntN(32, params[1]));
        if (cmd === 9 || target !== this.vcpuIds[vcpu]) {
          return this.hcallSingleshot(vcpu, target, null);
        }
        // struct vcpu_set_singleshot_timer: 16 bytes, 12 packed for a 32-bit caller.
        if (!readable(params[2], longmode ? 16 : 12)) return -XEN_ERRNO.EFAULT;
        return this.hcallSingleshot(vcpu, target, mem.readBig(Number(params[2]), 64));
      }
      case 29n: { // __HYPERVISOR_sched_op; the command is a C int
        const cmd = Number(BigInt.asIntN(32, params[0]));
        if (cmd === 3 && this.#pollInKernel()) return this.#poll(vcpu, longmode, params[1]);
        // SCHEDOP_poll without EVTCHN_SEND falls through to SCHEDOP_yield.
        return cmd === 3 || cmd === 0 ? 0 : undefined;
      }
      default:
        return undefined;
    }
  }

  /** `kvm_xen_schedop_poll` is used: EVTCHN_SEND promised (the LAPIC is always in the kernel here). */
  #pollInKernel(): boolean {
    return (this.config.flags & KVM_XEN_HVM_CONFIG.EVTCHN_SEND) !== 0;
  }

  /** Whether a named SCHEDOP_poll runs as KVM's poll (else as SCHEDOP_yield, returning 0). */
  pollInKernel(): boolean {
    return this.#pollInKernel();
  }

  /** SCHEDOP_poll from guest memory: `struct sched_poll` (24 or 16 bytes), then its ports. */
  #poll(vcpu: number, longmode: boolean, arg: bigint): number {
    const mem = this.domain.mem;
    const size = longmode ? 24 : 16;
    if (arg + BigInt(size) > BigInt(mem.size)) return -XEN_ERRNO.EFAULT;
    const a = Number(arg);
    const ptr = longmode ? mem.readBig(a, 64) : mem.readBig(a, 32);
    const nr = Number(mem.readBig(a + (longmode ? 8 : 4), 32));
    const timeout = mem.readBig(a + (longmode ? 16 : 8), 64);
    if (nr > POLL_MAX_PORTS) return -XEN_ERRNO.EINVAL;
    if (ptr + BigInt(4 * nr) > BigInt(mem.size)) return -XEN_ERRNO.EFAULT;
    const ports = arrayOf(
      nr,
      (i) => Number(mem.readBig(Number(ptr) + 4 * i, 32)),
    );
    return this.domain.timers.poll(vcpu, ports, timeout);
  }

  /**
   * KVM_EXIT_XEN / KVM_EXIT_XEN_HCALL on vCPU `vcpu`: records longmode,
   * CPL, input and the six parameters for the VMM.
   */
  exitToVmm(
    vcpu: number,
    longmode: boolean,
    cpl: number,
    input: bigint,
    params: readonly bigint[],
  ): XenExit {
    const e = this.exits[vcpu];
    // The VMM's KVM_RUN that resumes the vCPU is a vcpu_load: its entry updates the runstate.
    this.domain.runstate.entryUpdate[vcpu] = true;
    e.reason = "xen_hcall";
    e.count++;
    e.longmode = longmode ? 1 : 0;
    e.cpl = cpl;
    e.input = input;
    params.forEach((p, i) => e.params[i] = p);
    this.#emit(
      "kvm.exit",
      `vcpu${vcpu}: KVM_EXIT_XEN hcall input ${input} cpl ${cpl} longmode ${e.longmode} ` +
        `params [${params.map((p) => "0x" + p.toString(16)).join(", ")}]`,
    );
    return e;
  }

  /**
   * The VMM writes `u.hcall.result` and runs the vCPU again
   * (`kvm_xen_hypercall_complete_userspace`): a waiting call completes with
   * the result in RAX. Returns 1 if a call was waiting, 0 if not (KVM then
   * ignores the field).
   */
  completeHypercall(vcpu: number, result: bigint): number {
    const e = this.exits[vcpu];
    e.result = toU64(result);
    if (!e.waiting) return 0;
    e.waiting = false;
    this.domain.regs[vcpu].set("rax", e.result);
    this.#emit(
      "kvm.hcall_result",
      `vcpu${vcpu}: RAX = 0x${e.result.toString(16)} (the VMM's result)`,
    );
    return 1;
  }

  /**
   * The vCPU runs again (it makes another hypercall) while its last exit
   * still waits: KVM_RUN completes it with whatever `u.hcall.result` holds.
   */
  reenter(vcpu: number): void {
    const e = this.exits[vcpu];
    if (!e.waiting) return;
    e.waiting = false;
    this.domain.regs[vcpu].set("rax", e.result);
    this.#emit(
      "kvm.hcall_result",
      `vcpu${vcpu}: run again unanswered: RAX = 0x${
        e.result.toString(16)
      } (the stale result field)`,
    );
  }

  /** KVM_IRQ_LINE / irqfd on a GSI with Xen routes: delivers each; returns the last status. */
  irqLine(gsi: number, level: 0 | 1): number | undefined {
    const list = this.routes.get(gsi);
    if (!list) return undefined;
    if (level === 0) return 0;
    let rc = 0;
    for (const r of list) rc = this.deliver(r);
    return rc;
  }
}
