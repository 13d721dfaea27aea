/**
 * One Xen HVM guest domain as seen by its vCPUs: guest memory holding
 * shared_info, the event channels, vcpu_info placement, the callback
 * method, timers and the blocking sched ops, with the hypercalls that reach
 * them and the hypervisor-side stimuli (a peer sending, a VIRQ, a PIRQ).
 * The x86 side is reached only through {@link XenHost}, so the model runs
 * without a VM (the unit tests) or inside `lib/x86/vm.ts`.
 *
 * `flavour` picks whose behaviour is modelled: `xen` (Xen itself) or
 * `kvm-xen` (Linux KVM's Xen emulation plus the VMM, QEMU, for what KVM
 * leaves to userspace). The differences are implemented in the component
 * that owns them and marked `kvm-xen:` there.
 *
 * Sources: Xen `xen/arch/x86/domain.c` (`vcpu_mark_events_pending`:
 * test-and-set of UP, then assert only on 0→1), `xen/arch/x86/hvm/hvm.c`
 * (`hvm_set_param`, `hvm_latch_shinfo_size`), `xen/include/public/hvm/
 * params.h`; Linux `arch/x86/kvm/xen.c` (`kvm_xen_set_evtchn_fast` writes
 * UP=1 and kicks whenever a selector bit is newly set). Component sources
 * are listed in each module.
 *
 * @module
 */
import { arrayOf } from "../core/arena.ts";
import type { Trace } from "../core/trace.ts";
import type { EventQueue } from "../core/event_queue.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import {
  PVCLOCK_TSC_STABLE_BIT,
  updateVcpuTime,
  VCPU_TIME_INFO_SIZE,
  writeTimeRecord,
} from "./vcpu_time.ts";
import { field, type GuestWidth, layoutFor, type XenArch, type XenLayout } from "./layout.ts";
import {
  EventChannels,
  type EvtchnDomain,
  type Flavour,
  type VcpuInfoRef,
  VIRQ,
  type XenDomainType,
} from "./evtchn.ts";
import { Callback, HVM_PARAM_CALLBACK_IRQ, type UpcallHost } from "./callback.ts";
import { VcpuInfoAreas, XEN_PAGE_SIZE } from "./vcpu_info.ts";
import { XenTimers } from "./timers.ts";
import { errnoName, XEN_ERRNO } from "./errno.ts";
import {
  ArmGuestRegs,
  CALLBACKF_MASK_EVENTS,
  GuestRegs,
  VMASST_TYPE,
  type XenBuild,
} from "./hypercall.ts";
import { type KvmRunstateArea, RUNSTATE, Runstates } from "./runstate.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { StateHash } from "../core/platform.ts";

/**
 * What the domain needs from the machine around it.
 *
 * @example
 * ```ts
 * import { FakeHost } from "./testing.ts";
 * import { Trace } from "../../mod.ts";
 * declare const trace: Trace;
 * new XenDomain("xen", XEN_DEFAULTS, new FakeHost(1), trace);
 * ```
 */
export interface XenHost extends UpcallHost {
  readonly queue: EventQueue;
  now(): number;
  /** An interrupt could be injected into vCPU `n` now (IF set, something pending). */
  interruptDeliverable(n: number): boolean;
  /** A blocking hypercall started or ended on vCPU `n`. */
  setBlocked(n: number, blocked: boolean): void;
  /**
   * vCPU `n` is halted (HLT, or a blocking hypercall): under KVM its thread
   * sleeps in `kvm_vcpu_block`. Absent where no KVM runs the domain.
   */
  halted?(n: number): boolean;
  /**
   * KVM signalled eventfd `fd` (an intercepted EVTCHNOP_send): the irqfds bound to that eventfd
   * fire, as `eventfd_signal` wakes them. Absent where the architecture has no irqfds here.
   */
  signalEventfd?(fd: number): void;
  /**
   * `local_event_delivery_enable` where the architecture does it its own
   * way (SCHEDOP_block): Xen on Arm clears the guest's PSTATE.I, not
   * evtchn_upcall_mask. Absent: the mask is cleared, as on x86.
   */
  enableEventDelivery?(n: number): void;
  /**
   * The host's hypercall instruction's bytes, which the hypercall page's
   * stubs hold (x86: VMCALL on Intel, VMMCALL on AMD). Absent where there
   * is no hypercall page (Arm's HVC).
   */
  hypercallInsn?(): readonly number[];
}

/**
 * How a domain is built.
 *
 * @example
 * ```ts
 * const c: XenDomainConfig = { ...XEN_DEFAULTS, flavour: "kvm-xen", vcpus: 2 };
 * ```
 */
export interface XenDomainConfig {
  flavour: Flavour;
  vcpus: number;
  /** The guest's word size: the layout it latches. */
  width: GuestWidth;
  domid: number;
  /** Bytes of guest RAM modelled (from GPA 0). */
  memSize: number;
  /** GPA of shared_info (a page), or -1 for none yet. */
  sharedInfoGpa: number;
  /** Toolstack cap on ports (xl `max_event_channels`; Xen only). */
  maxEvtchnPort: number;
  /** The x86 domain type (Xen only; kvm-xen guests are HVM). Default `hvm`. */
  type?: XenDomainType;
  /** kvm-xen: the KVM version's runstate-area copy ({@link KvmRunstateArea}). Default `copy_on_set`. */
  kvmRunstateArea?: KvmRunstateArea;
  /**
   * kvm-xen: the VMM host's wall time at the VM's kvmclock 0, in seconds
   * since 1970 (`kvm_get_wall_clock_epoch`), which KVM writes into
   * shared_info's `wc`. A scenario value: the model reads no clock. Default 0.
   */
  kvmWallclockSec?: number;
  /**
   * kvm-xen: KVM keeps its master clock (`use_master_clock`: the host's
   * clocksource is a stable TSC), so the time records it writes carry
   * PVCLOCK_TSC_STABLE_BIT unless the VMM set
   * KVM_XEN_HVM_CONFIG_PVCLOCK_TSC_UNSTABLE. Default false: no bit.
   */
  kvmMasterClock?: boolean;
  /**
   * Whose public headers lay out shared_info and vcpu_info: `x86` (the
   * default; the layout follows the latched width) or `arm` (one layout,
   * whatever the guest's width).
   */
  arch?: XenArch;
  /** Xen only: a release build (the default) or a debug one ({@link XenBuild}). */
  build?: XenBuild;
}

/**
 * Sensible defaults: 64-bit, domid 1, 2 MiB of RAM, shared_info at 0x10000,
 * xl's default cap of 1023 ports.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const host: XenHost, trace: Trace;
 * new XenDomain("xen", { ...XEN_DEFAULTS, vcpus: 2 }, host, trace);
 * ```
 */
export const XEN_DEFAULTS: XenDomainConfig = {
  flavour: "xen",
  vcpus: 1,
  width: 64,
  domid: 1,
  memSize: 0x200000,
  sharedInfoGpa: 0x10000,
  maxEvtchnPort: 1023,
};

/**
 * A Xen HVM domain.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const host: XenHost, trace: Trace;
 * const d = new XenDomain("xen", { ...XEN_DEFAULTS, vcpus: 1 }, host, trace);
 * d.callback.setUpcallVector(0, 0xf3);
 * const p = d.evtchn.bindIpi(0);
 * d.evtchn.send(p);           // P[p], SEL, UP 0->1, IRR 0xf3 on vCPU 0
 * d.upcallPending(0);         // true
 * ```
 */
export class XenDomain implements EvtchnDomain {
  readonly flavour: Flavour;
  /** HVM, PVH or PV (Xen); kvm-xen domains are HVM. */
  readonly type: XenDomainType;
  readonly domid: number;
  readonly vcpuCount: number;
  readonly mem: GuestMemory;
  readonly evtchn: EventChannels;
  readonly callback: Callback;
  readonly areas: VcpuInfoAreas;
  readonly timers: XenTimers;
  /** Each vCPU's `vcpu_runstate_info` and its guest copy (`runstate.ts`). */
  readonly runstate: Runstates;
  /** HVM params other than CALLBACK_IRQ, as stored. */
  readonly params: Map<number, bigint> = new Map();
  /** The CPU mode of each vCPU (what a latch would pick, and how its hypercalls pass arguments). */
  readonly cpuMode: GuestWidth[];
  /** Each vCPU's hypercall registers (RAX, the argument registers). */
  readonly regs: GuestRegs[];
  /** arm64: each vCPU's HVC registers (x0..x4, x16); empty on x86. */
  readonly armRegs: ArmGuestRegs[];
  #width: GuestWidth;
  #sharedInfo: number;
  /** Other domains on the same hypervisor, by id. */
  readonly peers: Map<number, XenDomain> = new Map();
  /**
   * PV, per vCPU: the callbacks registered with CALLBACKOP_register or
   * HYPERVISOR_set_callbacks (`arch.pv.event_callback_eip`,
   * `failsafe_callback_eip`, VGCF_failsafe_disables_events). 0: none.
   */
  readonly pvCallbacks: { event: bigint; failsafe: bigint; failsafeMasks: boolean }[];
  /**
   * Xen, per vCPU: the second time record's address the guest gave with
   * VCPUOP_register_vcpu_time_memory_area (`arch.time_info_guest`), 0 for
   * none.
   */
  readonly timeAreas: number[];
  /** Xen: the domain's `vm_assist` bits (HYPERVISOR_vm_assist). */
  vmAssistBits = 0n;
  /** Why Xen crashed the domain (`domain_crash`), or "" while it runs. */
  crashed = "";

  /**
   * Feeds `h` the private state of the domain and of its peers, for `scn
   * explore` (`VmModel.hashPrivate`).
   */
  hashPrivate(h: StateHash): void {
    this.#hashOwn(h);
    h.n(this.peers.size);
    for (const [id, peer] of this.peers) (h.n(id), peer.#hashOwn(h));
  }

  #hashOwn(h: StateHash): void {
    h.value(this.#width);
    h.n(this.#sharedInfo);
    const r = this.runstate;
    for (const b of r.entryUpdate) h.bool(b);
    for (const b of r.neverRun) h.bool(b);
    // kvm-xen: a vCPU outside KVM_RUN, and the steal its next update moves.
    for (let n = 0; n < this.vcpuCount; n++) {
      h.num(r.outsideUntil[n]);
      h.big(r.runDelay[n] - r.lastSteal[n]);
    }
    this.evtchn.hashPrivate(h);
  }

  /**
   * kvm-xen: whether the VMM's KVM_XEN_HVM_CONFIG has PVCLOCK_TSC_UNSTABLE.
   * {@link KvmXen} installs a view of its configuration at creation (the
   * configuration itself is KvmXen's state); without it, false.
   */
  pvclockTscUnstable: () => boolean = () => false;

  constructor(
    readonly name: string,
    readonly config: XenDomainConfig,
    readonly host: XenHost,
    readonly trace: Trace,
  ) {
    this.flavour = config.flavour;
    this.type = config.type ?? "hvm";
    this.domid = config.domid;
    this.vcpuCount = config.vcpus;
    this.mem = new GuestMemory(config.memSize);
    this.#width = config.width;
    this.cpuMode = arrayOf(config.vcpus, () => config.width);
    this.regs = arrayOf(config.vcpus, () => new GuestRegs());
    this.armRegs = config.arch === "arm" ? arrayOf(config.vcpus, () => new ArmGuestRegs()) : [];
    this.#sharedInfo = config.sharedInfoGpa;
    this.runstate = new Runstates(config.vcpus, this.mem, () => this.layout().width);
    this.timeAreas = arrayOf(config.vcpus, () => 0);
    this.pvCallbacks = arrayOf(
      config.vcpus,
      () => ({ event: 0n, failsafe: 0n, failsafeMasks: false }),
    );
    this.areas = new VcpuInfoAreas(
      config.flavour,
      config.vcpus,
      this.mem,
      () => this.#sharedInfo,
      () => this.layout(),
    );
    this.callback = new Callback(
      config.flavour,
      config.vcpus,
      host,
      (n) => this.upcallPending(n),
      trace,
      name,
      config.type ?? "hvm",
    );
    this.timers = new XenTimers({
      flavour: config.flavour,
      queue: host.queue,
      now: () => host.now(),
      timerEvent: (n) => this.#root("timer", `vcpu${n}: timer fired`, () => this.virq("timer", n)),
      eventsNeedDelivery: (n) => this.host.interruptDeliverable(n),
      pollPort: (p) => this.evtchn.pollable(p),
      blockedChanged: (n, b, why) => {
        this.#emit(b ? "block" : "wake", `vcpu${n}: ${b ? "blocked in" : "woken by"} ${why}`);
        this.host.setBlocked(n, b);
        // Xen's scheduler accounts a blocked vCPU as RUNSTATE_blocked. KVM does not: it
        // moves only running <-> runnable (kvm_xen_runstate_set_preempted at a preempted
        // vcpu_put), so a vCPU halted in a hypercall stays running unless the VMM sets it.
        if (config.flavour === "xen") {
          this.runstate.change(n, b ? RUNSTATE.blocked : RUNSTATE.running, BigInt(host.now()));
        }
      },
      enableEventDelivery: (n) => {
        if (this.host.enableEventDelivery) return this.host.enableEventDelivery(n);
        const vi = this.areas.ref(n);
        const um = this.layout().vcpuInfo.find((f) => f.name === "evtchn_upcall_mask")!;
        if (vi && vi.mem.read(vi.addr + um.offset, 8) !== 0) {
          vi.mem.write(vi.addr + um.offset, 8, 0);
          this.#emit("upcall_mask", `vcpu${n}: evtchn_upcall_mask 1 -> 0 (event delivery enabled)`);
        }
      },
    }, config.vcpus);
    this.evtchn = new EventChannels(this, config.maxEvtchnPort);
  }

  #emit(kind: string, text: string): number {
    return this.trace.enabled ? this.trace.emit(this.name, kind, text) : 0;
  }

  #root<T>(kind: string, text: string, fn: () => T): T {
    const id = this.#emit(kind, text);
    return this.trace.within(id, fn);
  }

  // ---- EvtchnDomain ----------------------------------------------------------------

  /** The layout latched now. */
  layout(): XenLayout {
    return layoutFor(this.#width, this.config.arch);
  }

  /** shared_info's GPA, or -1. */
  sharedInfo(): number {
    return this.#sharedInfo;
  }

  /** Where vCPU `n`'s vcpu_info is written now. */
  vcpuInfo(n: number): VcpuInfoRef | null {
    return this.areas.ref(n);
  }

  /**
   * `vcpu_mark_events_pending`. Xen: test-and-set UP; only a 0→1 change
   * asserts the callback. kvm-xen: called once per newly set selector bit;
   * UP is written 1 and the callback asserted every time (so the per-vCPU
   * vector is injected again even while UP was already 1).
   */
  markEventsPending(n: number): void {
    const vi = this.areas.ref(n);
    if (this.flavour === "xen") {
      if (!vi) return;
      if (vi.mem.testAndSetBit(vi.addr, 0)) return;
      this.#emit("upcall_pending", `vcpu${n}: evtchn_upcall_pending 0 -> 1`);
      this.callback.assert(n);
      this.timers.kick(n);
      return;
    }
    if (!vi) {
      // kvm_xen_set_evtchn_fast: with no vcpu_info the bit waits in KVM's
      // shadow selector and the vCPU is only kicked; no upcall vector is
      // injected until kvm_xen_inject_pending_events can reach a vcpu_info.
      this.#emit("upcall_pending", `vcpu${n}: no vcpu_info, selector bit kept in KVM's shadow`);
      this.timers.kick(n);
      return;
    }
    vi.mem.write(vi.addr, 8, 1);
    this.#emit("upcall_pending", `vcpu${n}: evtchn_upcall_pending = 1`);
    this.callback.assert(n);
    if (this.host.interruptDeliverable(n)) this.timers.kick(n);
  }

  /** kvm-xen: set a selector bit in KVM's shadow; returns whether it was newly set. */
  shadowSelector(n: number, word: number): boolean {
    const bit = 1n << BigInt(word);
    const old = this.areas.shadowSel[n];
    this.areas.shadowSel[n] = old | bit;
    return (old & bit) === 0n;
  }

  /** Pollers of `port`: see {@link XenTimers.checkPollers}. */
  checkPollers(port: number, n: number): void {
    this.timers.checkPollers(port, n);
  }

  /** The event channels of another domain, for interdomain channels. */
  peer(domid: number): EventChannels | undefined {
    return this.peers.get(domid)?.evtchn;
  }

  // ---- guest-visible state ----------------------------------------------------------

  /** vCPU `n`'s evtchn_upcall_pending (0 when it has no vcpu_info). */
  upcallPending(n: number): boolean {
    return this.areas.upcallPending(n);
  }

  /**
   * A PV domain's upcall is due on vCPU `n`: pending set, mask clear
   * (`test_guest_events`). Always false for HVM and PVH domains.
   */
  pvUpcallDue(n: number): boolean {
    if (this.type !== "pv" || this.crashed !== "" || !this.areas.upcallDue(n)) return false;
    if (this.pvCallbacks[n].event !== 0n) return true;
    // create_bounce_frame finds no address to bounce to.
    this.crash(n, "an event upcall is due and no event callback is registered");
    return false;
  }

  /**
   * Xen's `domain_crash` (here `asm_domain_crash_synchronous` from
   * `create_bounce_frame_bad_bounce_ip`): the domain shuts down with
   * SHUTDOWN_crash and none of its vCPUs runs again.
   */
  crash(n: number, why: string): void {
    if (this.crashed !== "") return;
    this.crashed = why;
    this.#emit("crash", `domain crashed by vcpu${n}: ${why}`);
    for (let i = 0; i < this.vcpuCount; i++) this.host.setBlocked(i, true);
  }

  /**
   * CALLBACKOP_register from vCPU `n` (Xen `xen/arch/x86/pv/callback.c`
   * `register_guest_callback`): a non-canonical address is -EINVAL; the
   * failsafe callback's CALLBACKF_mask_events sets or clears
   * VGCF_failsafe_disables_events. The call exists for PV guests only
   * (`hypercall-defs.c`); HVM and PVH guests get -ENOSYS, as QEMU answers a
   * kvm-xen guest (no handler: "Unimplemented Xen hypercall").
   */
  registerCallback(n: number, type: "event" | "failsafe", address: bigint, flags: number): number {
    if (this.type !== "pv") return -XEN_ERRNO.ENOSYS;
    if (!canonical(address)) return -XEN_ERRNO.EINVAL;
    const c = this.pvCallbacks[n];
    if (type === "event") c.event = address;
    else (c.failsafe = address, c.failsafeMasks = (flags & CALLBACKF_MASK_EVENTS) !== 0);
    this.#emit("callback", `vcpu${n}: ${type} callback at 0x${address.toString(16)}`);
    return 0;
  }

  /**
   * CALLBACKOP_unregister (`unregister_guest_callback`): the event and
   * failsafe callbacks cannot be unregistered, -EINVAL (PV; -ENOSYS
   * otherwise).
   */
  unregisterCallback(_n: number): number {
    return this.type !== "pv" ? -XEN_ERRNO.ENOSYS : -XEN_ERRNO.EINVAL;
  }

  /**
   * HYPERVISOR_vm_assist (Xen xen/common/domain.c `do_vm_assist`): a type
   * outside the domain's valid mask ({@link VMASST_TYPE}) is -EINVAL,
   * enable (0) and disable (1) set and clear its bit, another command is
   * -ENOSYS. VMASST_TYPE_runstate_update_flag makes runstate copies set
   * XEN_RUNSTATE_UPDATE (`update_runstate_area`). kvm-xen: QEMU has no
   * handler for the call, -ENOSYS (the VMM sets KVM's RUNSTATE_UPDATE_FLAG).
   */
  vmAssist(cmd: number, type: number): number {
    if (this.flavour === "kvm-xen") return -XEN_ERRNO.ENOSYS;
    const pv = BigInt(
      (1 << VMASST_TYPE["4gb_segments"]) | (1 << VMASST_TYPE["4gb_segments_notify"]) |
        (1 << VMASST_TYPE.writable_pagetables) | (1 << VMASST_TYPE.pae_extended_cr3) |
        (1 << VMASST_TYPE.architectural_iopl) | (1 << VMASST_TYPE.runstate_update_flag),
    ) | (1n << BigInt(VMASST_TYPE.m2p_strict));
    const valid = this.type === "pv" ? pv : 1n << BigInt(VMASST_TYPE.runstate_update_flag);
    if (type >= 64 || ((valid >> BigInt(type)) & 1n) === 0n) return -XEN_ERRNO.EINVAL;
    const bit = 1n << BigInt(type);
    if (cmd === 0) this.vmAssistBits |= bit;
    else if (cmd === 1) this.vmAssistBits &= ~bit;
    else return -XEN_ERRNO.ENOSYS;
    if (type === VMASST_TYPE.runstate_update_flag) this.runstate.updateFlag = cmd === 0;
    return 0;
  }

  /**
   * HYPERVISOR_set_callbacks (64-bit PV `do_set_callbacks`): registers the
   * event, failsafe (without CALLBACKF_mask_events) and syscall callbacks,
   * ignoring each one's result, and returns 0. -ENOSYS for HVM and PVH.
   */
  setCallbacks(n: number, event: bigint, failsafe: bigint): number {
    if (this.type !== "pv") return -XEN_ERRNO.ENOSYS;
    this.registerCallback(n, "event", event, 0);
    this.registerCallback(n, "failsafe", failsafe, 0);
    return 0;
  }

  /**
   * Xen bounces PV vCPU `n` to its event callback (`create_bounce_frame`
   * with TBF_INTERRUPT): the frame saves evtchn_upcall_mask (and shows
   * RFLAGS.IF as its inverse), then the mask is set. Returns the saved mask.
   */
  pvEnterCallback(n: number): number {
    const saved = Number(this.areas.read(n, "evtchn_upcall_mask"));
    this.#writeUpcallMask(n, 1);
    this.#emit(
      "upcall.callback",
      `vcpu${n}: event callback entered, evtchn_upcall_mask ${saved} -> 1`,
    );
    return saved;
  }

  /**
   * HYPERVISOR_iret from PV vCPU `n` (`do_iret`): evtchn_upcall_mask
   * becomes the inverse of the frame's RFLAGS.IF.
   */
  pvIret(n: number, rflagsIf: boolean): void {
    this.#writeUpcallMask(n, rflagsIf ? 0 : 1);
    this.#emit("iret", `vcpu${n}: HYPERVISOR_iret: evtchn_upcall_mask <- ${rflagsIf ? 0 : 1}`);
  }

  #writeUpcallMask(n: number, v: number): void {
    const vi = this.areas.ref(n);
    if (!vi) return;
    const um = this.layout().vcpuInfo.find((f) => f.name === "evtchn_upcall_mask")!;
    vi.mem.write(vi.addr + um.offset, 8, v);
  }

  /** The global callback vector offered to vCPU `n` now, or -1 (no IRR/ISR involved). */
  globalVector(n: number): number {
    return this.callback.globalVector(n);
  }

  /**
   * Latches the shared_info layout from vCPU `n`'s mode (Xen
   * `hvm_latch_shinfo_size`, KVM's long_mode). Bitmaps are not converted.
   */
  latch(n: number): void {
    const w = this.cpuMode[n];
    if (w !== this.#width) this.#emit("layout", `shared_info layout latched to ${w}-bit`);
    this.#width = w;
  }

  /** Forces the layout (KVM_XEN_ATTR_TYPE_LONG_MODE). */
  setWidth(w: GuestWidth): void {
    this.#width = w;
  }

  /** Moves shared_info (XENMEM_add_to_physmap / KVM_XEN_ATTR_TYPE_SHARED_INFO); -1 = none. */
  setSharedInfo(gpa: number): void {
    this.#sharedInfo = gpa;
    this.#emit(
      "shared_info",
      gpa < 0 ? "shared_info unmapped" : `shared_info at 0x${gpa.toString(16)}`,
    );
    if (gpa >= 0) this.#mergeShadows();
  }

  #mergeShadows(): void {
    // kvm-xen: selector bits remembered without a vcpu_info reach it once it exists.
    for (let n = 0; n < this.vcpuCount; n++) {
      const sh = this.areas.shadowSel[n];
      const vi = this.areas.ref(n);
      if (sh === 0n || !vi) continue;
      this.areas.shadowSel[n] = 0n;
      const sel = this.layout().vcpuInfo.find((f) => f.name === "evtchn_pending_sel")!;
      const w = (sel.size * 8) as 32 | 64;
      vi.mem.write(vi.addr + sel.offset, w, vi.mem.readBig(vi.addr + sel.offset, w) | sh);
      this.markEventsPending(n);
    }
  }

  // ---- hypercalls from vCPU `caller` ------------------------------------------------------

  /** Runs a hypercall body (after the VM exit it implies) with a root trace event naming it and its result. */
  hypercall(caller: number, what: string, fn: () => number): number {
    // A hypercall is a VM exit, and Xen's exit handlers check the callback
    // line first (`hvm_maybe_deassert_evtchn_irq`), before the call runs.
    this.callback.vmExit();
    const id = this.#emit("hypercall", `vcpu${caller}: ${what}`);
    const rc = this.trace.within(id, fn);
    if (this.trace.enabled) {
      this.trace.emit(this.name, "hypercall.ret", `${what} = ${errnoName(rc)}`);
    }
    return rc;
  }

  /**
   * HVMOP_set_param. CALLBACK_IRQ latches the layout (Xen) and sets the
   * callback method; other params are stored. Returns 0.
   */
  setParam(caller: number, index: number, value: bigint): number {
    if (index === HVM_PARAM_CALLBACK_IRQ) {
      if (this.flavour === "xen") this.latch(caller);
      return this.callback.setParam(value);
    }
    this.params.set(index, value);
    return 0;
  }

  /** HVMOP_get_param. */
  getParam(index: number): bigint {
    if (index === HVM_PARAM_CALLBACK_IRQ) {
      const via = this.callback.via;
      return via.type === "none"
        ? 0n
        : via.type === "vector"
        ? (2n << 56n) | BigInt(via.vector)
        : via.type === "gsi"
        ? BigInt(via.gsi)
        : (1n << 56n) | (BigInt(via.device) << 11n) | BigInt(via.pin);
    }
    return this.params.get(index) ?? 0n;
  }

  /**
   * VCPUOP_register_vcpu_info for vCPU `target`. Xen: checks, copy (or zero
   * with UM=1 from the dummy), switch, selector all-ones, mark events
   * pending. kvm-xen: the VMM copies and sets KVM's attribute in one step
   * here; {@link XenDomain.areas} `vmmCopy` / `kvmSetAttr` split it for
   * the race of seed 002.
   */
  registerVcpuInfo(target: number, gfn: number, offset: number): number {
    if (target < 0 || target >= this.vcpuCount) return -XEN_ERRNO.ENOENT;
    if (this.flavour === "kvm-xen") {
      const gpa = gfn * XEN_PAGE_SIZE + offset;
      const rc = this.areas.vmmCopy(target, gpa);
      return rc < 0 ? rc : this.kvmSetVcpuInfo(target, BigInt(gpa));
    }
    const rc = this.areas.register(target, gfn, offset);
    if (rc < 0) return rc;
    this.#emit(
      "vcpu_info",
      `vcpu${target}: vcpu_info moved to 0x${(gfn * XEN_PAGE_SIZE + offset).toString(16)}`,
    );
    this.areas.afterMove(target);
    this.markEventsPending(target);
    // map_guest_area -> force_update_vcpu_system_time: the new area gets a fresh time record.
    this.#updateTime(target);
    return 0;
  }

  /**
   * VCPUOP_register_runstate_memory_area from vCPU `caller` (Xen
   * `xen/common/domain.c`; QEMU turns it into KVM's RUNSTATE_ADDR attribute):
   * the area moves to `gpa` (0 unregisters, as a null handle does) and the
   * current runstate is copied there at once. The guest passes a virtual
   * address; the model's guest runs with paging off, so it is the GPA.
   */
  registerRunstateArea(caller: number, gpa: number): number {
    // kvm-xen: QEMU passes the address on as KVM's RUNSTATE_ADDR.
    const to = gpa === 0 ? -1 : gpa;
    const now = BigInt(this.host.now());
    const rc = this.flavour === "kvm-xen"
      ? this.runstate.kvmRegister(caller, to, now, this.kvmRunstateArea())
      : this.runstate.register(caller, to, now);
    if (rc === 0) this.#emit("runstate", `vcpu${caller}: runstate area at 0x${gpa.toString(16)}`);
    return rc;
  }

  /**
   * Xen's scheduler preempts running vCPU `n` now and runs it again `ns`
   * later (`sched_switch`: `vcpu_runstate_change` to runnable, then to
   * running when it is picked; `context_switch` copies each to the runstate
   * area, where other vCPUs see it preempted). Meanwhile it executes and
   * takes nothing. A blocked vCPU is not running: there is nothing to
   * preempt. kvm-xen's counterpart is the host's (`kvm sched_out`).
   */
  deschedule(n: number, ns: number): void {
    const r = this.runstate;
    if (r.vcpus[n].state !== RUNSTATE.running || r.outside(n, this.host.now())) {
      throw new CommandInputError(
        `vcpu${n} is not running (runstate ${r.vcpus[n].state}): Xen has nothing to preempt`,
      );
    }
    const now = this.host.now(), until = now + ns;
    r.change(n, RUNSTATE.runnable, BigInt(now));
    this.#emit("runstate", `vcpu${n}: descheduled until ${until} ns`);
    if (ns <= 0) {
      r.change(n, RUNSTATE.running, BigInt(now));
      return;
    }
    r.outsideUntil[n] = until;
    this.host.queue.schedule(until, () => {
      r.change(n, RUNSTATE.running, BigInt(until));
      this.#emit("runstate", `vcpu${n}: running again`);
    });
  }

  /**
   * VCPUOP_get_runstate_info from vCPU `caller` about vCPU `target` (Xen
   * `do_vcpu_op`, allowed to HVM guests by `hvm_vcpu_op`): -ENOENT for a
   * vCPU the domain lacks, else the record as {@link Runstates.copyInfo}
   * copies it, in the caller's layout. kvm-xen: KVM exits to the VMM and
   * QEMU's `kvm_xen_hcall_vcpu_op` has no case for it: -ENOENT for a vCPU it
   * lacks (checked first), else -ENOSYS.
   */
  getRunstateInfo(caller: number, target: number, gpa: number): number {
    if (target < 0 || target >= this.vcpuCount) return -XEN_ERRNO.ENOENT;
    if (this.flavour === "kvm-xen") return -XEN_ERRNO.ENOSYS;
    return this.runstate.copyInfo(target, gpa, this.cpuMode[caller], BigInt(this.host.now()));
  }

  /** How KVM_XEN_VCPU_SET_ATTR(RUNSTATE_ADDR) copies (Xen itself always copies at once). */
  kvmRunstateArea(): KvmRunstateArea {
    return this.flavour === "kvm-xen"
      ? this.config.kvmRunstateArea ?? "copy_on_set"
      : "copy_on_set";
  }

  /** The time record's flags: `kvm_guest_time_update` for kvm-xen, 0 for Xen (see `vcpu_time.ts`). */
  #timeFlags(): number {
    // PVCLOCK_TSC_STABLE_BIT with the master clock, which kvm_setup_guest_pvclock
    // drops for a Xen guest told the TSC is unstable.
    const stable = this.flavour === "kvm-xen" && this.config.kvmMasterClock === true &&
      !this.pvclockTscUnstable();
    return stable ? PVCLOCK_TSC_STABLE_BIT : 0;
  }

  /**
   * Writes vCPU `n`'s time record where its vcpu_info is now (see
   * `vcpu_time.ts`) and, under Xen, the same record (version included) at
   * its VCPUOP_register_vcpu_time_memory_area address
   * (`update_secondary_system_time`).
   * With no vcpu_info mapped neither is written (`__update_vcpu_system_time`
   * returns first); a second record outside guest RAM is not written
   * either (its copies fail, which an HVM guest does not hear of).
   */
  #updateTime(n: number): void {
    const vi = this.areas.ref(n);
    if (!vi) return;
    updateVcpuTime(vi.mem, vi.addr, this.layout(), this.host.now(), this.#timeFlags());
    this.#emit("vcpu_time", `vcpu${n}: vcpu_info time record updated`);
    const to = this.timeAreas[n];
    if (to === 0 || !this.mem.contains(to, VCPU_TIME_INFO_SIZE)) return;
    const from = vi.addr + field(this.layout().vcpuInfo, "time.version").offset;
    for (let i = 0; i < VCPU_TIME_INFO_SIZE; i += 4) {
      this.mem.write(to + i, 32, vi.mem.read(from + i, 32));
    }
    this.#emit("vcpu_time", `vcpu${n}: second time record at 0x${to.toString(16)} updated`);
  }

  /**
   * VCPUOP_register_vcpu_time_memory_area for vCPU `target` (Xen
   * `arch_do_vcpu_op`; compat: the handle must fit 32 bits, which a U32
   * address does): -ENOENT for a vCPU the domain lacks; otherwise the
   * address is kept (0: none; an HVM guest's handle is always
   * `guest_handle_okay`) and `force_update_vcpu_system_time` writes both
   * records now. kvm-xen: QEMU's `vcpuop_register_vcpu_time_info` (-ENOENT
   * first; -EFAULT when the 32-byte record would cross a page,
   * `kvm_gva_to_gpa`'s length) hands the address to KVM's VCPU_TIME_INFO
   * attribute on the target vCPU's thread and answers 0 whatever KVM says:
   * see `KvmXen.qemuRegisterTimeArea`.
   */
  registerTimeArea(target: number, gpa: number): number {
    if (target < 0 || target >= this.vcpuCount) return -XEN_ERRNO.ENOENT;
    this.timeAreas[target] = gpa;
    this.#updateTime(target);
    return 0;
  }

  /**
   * kvm-xen: KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO set to `gpa` for vCPU
   * `n`: KVM_REQ_CLOCK_UPDATE, so `kvm_guest_time_update` writes a
   * `struct vcpu_time_info` there (as in the vcpu_info) before the vCPU runs.
   */
  kvmWriteTimeInfo(n: number, gpa: number): void {
    writeTimeRecord(this.mem, gpa, this.layout(), this.host.now(), this.#timeFlags());
    this.#emit(
      "vcpu_time",
      `vcpu${n}: VCPU_TIME_INFO time record at 0x${gpa.toString(16)} updated`,
    );
  }

  /** kvm-xen: KVM_XEN_VCPU_SET_ATTR(VCPU_INFO); merges the shadow selector. */
  kvmSetVcpuInfo(target: number, gpa: bigint): number {
    const rc = this.areas.kvmSetAttr(target, gpa);
    if (rc === 0) {
      this.#emit("vcpu_info", `vcpu${target}: KVM vcpu_info attribute = 0x${gpa.toString(16)}`);
      this.#mergeShadows();
      // KVM_REQ_CLOCK_UPDATE: kvm_guest_time_update writes the pvclock there at the next entry.
      this.#updateTime(target);
    }
    return rc;
  }

  // ---- hypervisor-side stimuli ------------------------------------------------------------

  /**
   * Raises `port` as its remote end would (an interdomain peer's send, a
   * routed KVM event): sets it pending for its notify vCPU.
   */
  raise(port: number): number {
    return this.#root("raise", `port ${port} raised`, () => this.evtchn.raise(port));
  }

  /**
   * {@link XenDomain.raise} as the writes a running guest can come between
   * (`EventChannels.raiseOnSteps`); events are caused by whoever runs the
   * steps (the engine's step event).
   *
   * @example
   * ```ts
   * declare const domain: XenDomain;
   * const steps = domain.raiseSteps(5);
   * steps.next(); // P[5] set; the guest may run now
   * ```
   */
  *raiseSteps(port: number): Generator<void, number, void> {
    this.#emit("raise", `port ${port} raised`);
    return yield* this.evtchn.raiseSteps(port);
  }

  /** Raises VIRQ `name` (per-vCPU VIRQs on vCPU `n`). */
  virq(name: string, n: number): number {
    return this.evtchn.raiseVirq(VIRQ[name], n);
  }

  /** A VM exit happened (GSI callback deassert check). */
  vmExit(): void {
    this.callback.vmExit();
  }
}

/** An x86-64 canonical address (`is_canonical_address`: bits 63:47 all equal). */
function canonical(a: bigint): boolean {
  const top = BigInt.asUintN(64, a) >> 47n;
  return top === 0n || top === (1n << 17n) - 1n;
}
