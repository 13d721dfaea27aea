/**
 * Xen event channels with the 2-level ABI: the per-domain port table, the
 * EVTCHNOP operations with Xen's error codes, and the raise / unmask rules on
 * the `evtchn_pending`, `evtchn_mask` and `evtchn_pending_sel` bits in guest
 * memory.
 *
 * Sources: Xen `xen/include/public/event_channel.h` (operations, structures,
 * EVTCHNSTAT_*), `xen/include/public/xen.h` (VIRQ numbers, DOMID_SELF),
 * `xen/common/event_channel.c` (`get_free_port`, `evtchn_allocate_port`,
 * `evtchn_alloc_unbound`, `evtchn_bind_interdomain`, `evtchn_bind_virq`,
 * `evtchn_bind_ipi`, `evtchn_bind_pirq`, `evtchn_close`, `evtchn_send`,
 * `evtchn_status`, `evtchn_bind_vcpu`, `evtchn_unmask`, `evtchn_reset`,
 * `evtchn_init`), `xen/common/event_2l.c` (`evtchn_2l_set_pending`,
 * `evtchn_2l_unmask`), `xen/include/xen/event.h` (`port_is_valid`,
 * `evtchn_port_poll`, `max_evtchns`). The `kvm-xen` flavour follows Linux
 * `arch/x86/kvm/xen.c` (`kvm_xen_set_evtchn_fast`) for delivery and QEMU
 * `hw/i386/kvm/xen_evtchn.c` (the VMM that implements EVTCHNOP there) where
 * they differ from Xen; each difference is marked `kvm-xen:` below.
 *
 * @module
 */
import { arenaI32, arrayOf } from "../core/arena.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import type { VcpuInfoRef } from "./vcpu_info.ts";
import { field, portWord, type XenLayout } from "./layout.ts";
import { XEN_ERRNO } from "./errno.ts";
import type { Trace } from "../core/trace.ts";
import { FIFO, FifoEvents } from "./fifo.ts";
import { drain } from "../core/table.ts";
import type { StateHash } from "../core/platform.ts";
import { DOMID_SELF, EVTCHNSTAT, NR_VIRQS } from "./abi.ts";
export { DOMID_SELF, EVTCHNSTAT, NR_VIRQS, RAISE_STEPS, VIRQ } from "./abi.ts";

/**
 * Which hypervisor's behaviour a domain follows.
 *
 * @example
 * ```ts
 * const f: Flavour = "kvm-xen";
 * ```
 */
export type Flavour = "xen" | "kvm-xen";

/**
 * The kind of x86 Xen domain (`xl` `type=`), which decides what the guest
 * is given to take interrupts with (Xen `emulation_flags_ok` in
 * `xen/arch/x86/domain.c`):
 *
 * - `hvm`: the emulated vPIC, vIOAPIC and vLAPIC; the upcall by
 *   HVM_PARAM_CALLBACK_IRQ or a per-vCPU LAPIC vector.
 * - `pvh`: a vLAPIC only (X86_EMU_LAPIC for a domU): no vPIC, no vIOAPIC;
 *   the upcall by a LAPIC vector (`hvm_set_callback_via` ignores a GSI or
 *   PCI INTx callback on such a domain).
 * - `pv`: no emulated interrupt controller at all; the upcall is Xen's
 *   bounce to the guest's event callback, gated by evtchn_upcall_mask
 *   (x86_64 `entry.S` `test_guest_events`, `create_bounce_frame`), and the
 *   HVMOPs that configure HVM callbacks answer -EINVAL (`is_hvm_domain`).
 *
 * KVM's Xen emulation runs HVM guests only.
 *
 * @example
 * ```ts
 * const t: XenDomainType = "pvh";
 * ```
 */
export type XenDomainType = "hvm" | "pvh" | "pv";

/**
 * Domain 0. Under Xen it is the hardware (and control) domain, which every
 * host has although no scenario drives it: an operation naming it finds it
 * and is refused (-EPERM from XSM's default policy, or -EINVAL when no port
 * of it is offered to this domain). Under kvm-xen it is `DOMID_QEMU`, the
 * domain QEMU's own PV backends answer as (QEMU `hw/i386/kvm/xen_evtchn.c`).
 *
 * @example
 * ```ts
 * declare const evtchn: EventChannels;
 * evtchn.allocUnbound(DOM0, DOMID_SELF); // Xen: -EPERM (it exists, it is not us)
 * ```
 */
export const DOM0 = 0;

/**
 * Internal channel states (Xen's ECS_*). Port 0 is `reserved` for ever.
 *
 * @example
 * ```ts
 * declare const evtchn: EventChannels;
 * evtchn.channel(0)?.state; // "reserved"
 * ```
 */
export type ChannelState =
  | "free"
  | "reserved"
  | "unbound"
  | "interdomain"
  | "pirq"
  | "virq"
  | "ipi";

/**
 * Ports per allocation bucket. Xen grows `valid_evtchns` one bucket at a
 * time (`EVTCHNS_PER_BUCKET` = PAGE_SIZE / the 64-byte-aligned `struct
 * evtchn`), and `port_is_valid` only accepts ports below it, so a free port
 * in an unallocated bucket is -EINVAL where a free port in an allocated one
 * is just "closed". The 64 assumes a 64-byte `struct evtchn` (not verified
 * for every build configuration).
 *
 * @example
 * ```ts
 * EVTCHNS_PER_BUCKET; // 64
 * ```
 */
export const EVTCHNS_PER_BUCKET = 64;

/**
 * Whether a VIRQ is per-vCPU (`V` in the fact sheet): timer, debug,
 * xenoprof, xenpmu. Argo is per-domain; everything else, including the x86
 * arch VIRQs, is global (bound on vCPU 0, may be rebound).
 *
 * @example
 * ```ts
 * virqKind(VIRQ.timer); // "vcpu"
 * ```
 */
export function virqKind(virq: number): "vcpu" | "domain" | "global" {
  if (virq === 0 || virq === 1 || virq === 7 || virq === 13) return "vcpu";
  if (virq === 11) return "domain";
  return "global";
}

/**
 * One port's channel.
 *
 * @example
 * ```ts
 * declare const evtchn: EventChannels, p: number;
 * evtchn.channel(p)?.notifyVcpu; // 0
 * ```
 */
export type { VcpuInfoRef };

export interface Channel {
  state: ChannelState;
  /** vCPU that gets the notification (`notify_vcpu_id`). */
  notifyVcpu: number;
  /** unbound: the domain allowed to bind; interdomain: the peer domain. */
  remoteDom: number;
  /** interdomain: the peer's port. */
  remotePort: number;
  /** virq: the VIRQ; pirq: the PIRQ. */
  virq: number;
  pirq: number;
}

/**
 * What EVTCHNOP_status reports.
 *
 * @example
 * ```ts
 * declare const evtchn: EventChannels, p: number;
 * const s = evtchn.status(DOMID_SELF, p); // ChannelStatus or -errno
 * ```
 */
export interface ChannelStatus {
  status: number;
  vcpu: number;
  /** unbound.dom / interdomain.dom. */
  dom: number;
  /** interdomain.port. */
  port: number;
  /** virq or pirq number. */
  number: number;
}

/**
 * What the event-channel code needs from the domain around it: memory,
 * where shared_info and each vcpu_info are, and what to do when a vCPU
 * needs an upcall or a poller may wake.
 *
 * @example
 * ```ts
 * import { XenDomain } from "./domain.ts";
 * declare const domain: XenDomain;
 * new EventChannels(domain, 1023); // domain implements EvtchnDomain
 * ```
 */
export interface EvtchnDomain {
  readonly flavour: Flavour;
  /** HVM, PVH or PV (EVTCHNOP_bind_pirq asks a PV domain for IRQ access). */
  readonly type: XenDomainType;
  readonly domid: number;
  readonly vcpuCount: number;
  readonly mem: GuestMemory;
  readonly trace: Trace;
  /** Trace source name. */
  readonly name: string;
  /** The layout latched now (it can change at run time: XEN-33). */
  layout(): XenLayout;
  /** shared_info GPA, or -1 while KVM has none (KVM_XEN_ATTR_TYPE_SHARED_INFO unset). */
  sharedInfo(): number;
  /** Where the hypervisor writes vCPU n's selector and UP now, or null (kvm-xen: none yet). */
  vcpuInfo(n: number): VcpuInfoRef | null;
  /** Xen `vcpu_mark_events_pending`; kvm-xen: UP=1 and inject (see `raise`). */
  markEventsPending(n: number): void;
  /** kvm-xen: the vCPU has no vcpu_info: remember the selector bit in KVM's shadow. */
  shadowSelector(n: number, word: number): boolean;
  /** Xen `evtchn_check_pollers`: `port` was newly flagged for vCPU `n`. */
  checkPollers(port: number, n: number, masked: boolean): void;
  /** Another domain on the same hypervisor (interdomain channels), or undefined. */
  peer(domid: number): EventChannels | undefined;
}

/**
 * Xen `evtchn_usable` (xen/include/xen/event.h): a port bound to something
 * (state past ECS_RESERVED). Unmask, set_pending, set_priority and poll
 * act only on such a port.
 */
function usable(c: Readonly<Channel>): boolean {
  return c.state !== "free" && c.state !== "reserved";
}

function blank(): Channel {
  return { state: "free", notifyVcpu: 0, remoteDom: 0, remotePort: 0, virq: 0, pirq: 0 };
}

/**
 * A domain's event channels (2-level ABI).
 *
 * @example
 * ```ts
 * declare const evtchn: EventChannels;
 * const p = evtchn.bindIpi(0);   // a port, e.g. 1
 * evtchn.send(p);                // sets P[p], SEL bit, UP; upcall on vCPU 0
 * evtchn.close(p);               // 0
 * ```
 */
export class EventChannels {
  readonly #ports: Channel[] = [];
  /** `valid_evtchns`: ports below this have a bucket. */
  #valid = 0;
  /**
   * No port in 1 up to this one (excluded) can be allocated (free and, under
   * FIFO, not busy): where the search for the lowest free port starts, so
   * that allocating every port is not quadratic.
   */
  #lowFree = 1;
  /** Per vCPU, VIRQ → port (`virq_to_evtchn`). */
  readonly #virqs: Int32Array[];
  /** PIRQ → port (`pirq->evtchn`). */
  readonly #pirqs = new Map<number, number>();

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    h.value(this.#ports);
    h.n(this.#valid);
    h.value(this.#virqs);
    h.value(this.#pirqs);
    this.fifo.hashPrivate(h);
  }
  /** The FIFO ABI, active after the first successful EVTCHNOP_init_control (Xen only). */
  readonly fifo: FifoEvents;

  constructor(
    readonly dom: EvtchnDomain,
    /** The toolstack cap (`max_evtchn_port`, xl `max_event_channels`); Xen only. */
    public maxEvtchnPort: number,
    /** `nr_pirqs`. */
    readonly nrPirqs = 256,
  ) {
    this.#virqs = arrayOf(dom.vcpuCount, () => arenaI32(NR_VIRQS));
    this.fifo = new FifoEvents(dom);
    // evtchn_init: port 0 is allocated and reserved so that it is never handed out.
    this.#grow(0);
    this.#ports[0].state = "reserved";
  }

  /** `max_evtchns(d)`: 2^17 with FIFO, else bitsPerWord² (2-level). */
  get maxPorts(): number {
    return this.fifo.active ? FIFO.NR_CHANNELS : this.dom.layout().maxPorts2L;
  }

  /** `port_is_valid`: below the allocated buckets (and the ABI limit). */
  isValid(port: number): boolean {
    if (this.dom.flavour === "kvm-xen") {
      // kvm-xen: QEMU keeps a flat table sized by the ABI limit.
      return Number.isInteger(port) && port >= 0 && port < this.maxPorts;
    }
    return Number.isInteger(port) && port >= 0 && port < this.#valid && port < this.maxPorts;
  }

  /** The channel on `port`, or undefined when the port is not valid. */
  channel(port: number): Readonly<Channel> | undefined {
    return this.isValid(port) ? this.#ports[port] ?? blank() : undefined;
  }

  /** The port a VIRQ is bound to on vCPU `vcpu`, or 0. */
  virqPort(vcpu: number, virq: number): number {
    return this.#virqs[vcpu]?.[virq] ?? 0;
  }

  #grow(port: number): void {
    while (this.#valid <= port) {
      for (let i = 0; i < EVTCHNS_PER_BUCKET; i++) this.#ports.push(blank());
      this.#valid += EVTCHNS_PER_BUCKET;
    }
  }

  /**
   * `get_free_port`: the lowest free port, or -ENOSPC. Under FIFO a free
   * port whose event word is still LINKED is busy and skipped
   * (`evtchn_allocate_port` -EBUSY, {@link FifoEvents.isBusy}); the search
   * starts at it again next time, since the guest may unlink it meanwhile.
   */
  #freePort(): number {
    const limit = this.dom.flavour === "xen"
      ? Math.min(this.maxPorts - 1, this.maxEvtchnPort)
      : this.maxPorts - 1;
    const fifo = this.fifo.active;
    let busy = -1;
    for (let p = this.#lowFree; p <= limit; p++) {
      if (p >= this.#valid) this.#grow(p);
      if (this.#ports[p].state !== "free") continue;
      if (fifo && this.fifo.isBusy(p)) {
        if (busy < 0) busy = p;
        continue;
      }
      this.#lowFree = busy < 0 ? p : busy;
      return p;
    }
    if (busy >= 0) this.#lowFree = busy;
    return -XEN_ERRNO.ENOSPC;
  }

  #resolveDom(dom: number): number {
    return dom === DOMID_SELF ? this.dom.domid : dom;
  }

  /**
   * Xen's `rcu_lock_domain_by_any_id` found domain `d`, which is not this
   * one: a peer, or the hardware domain every Xen host has ({@link DOM0}).
   * kvm-xen: QEMU knows only its own guest, so never.
   */
  #exists(d: number): boolean {
    return this.dom.peer(d) !== undefined || (this.dom.flavour === "xen" && d === DOM0);
  }

  /**
   * An operation on another domain's ports: -EPERM when it exists (the XSM
   * default's XSM_TARGET lets only the control domain act for another, and
   * this domain is an unprivileged domU), -ESRCH when it does not.
   */
  #otherDomain(d: number): number {
    return this.#exists(d) ? -XEN_ERRNO.EPERM : -XEN_ERRNO.ESRCH;
  }

  #emit(kind: string, text: string): void {
    const t = this.dom.trace;
    if (t.enabled) t.emit(this.dom.name, kind, text);
  }

  /**
   * EVTCHNOP_alloc_unbound: a port that domain `remoteDom` may bind to.
   * -ESRCH for an unknown `dom`, -EPERM for another existing domain (XSM
   * default policy for an unprivileged caller; under Xen domain 0 always
   * exists), -ENOSPC when full. Xen keeps any `remoteDom`; kvm-xen: QEMU
   * (`xen_evtchn_alloc_unbound_op`) takes only itself ({@link DOM0}, its
   * backends) or the guest, else -EPERM.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.allocUnbound(DOMID_SELF, DOMID_SELF); // 1
   * ```
   */
  allocUnbound(dom: number, remoteDom: number): number {
    const d = this.#resolveDom(dom);
    if (d !== this.dom.domid) return this.#otherDomain(d);
    if (this.dom.flavour === "kvm-xen") {
      const r = this.#resolveDom(remoteDom);
      if (r !== DOM0 && r !== this.dom.domid) return -XEN_ERRNO.EPERM;
    }
    const port = this.#freePort();
    if (port < 0) return port;
    const c = this.#ports[port];
    c.state = "unbound";
    // DOMID_SELF is stored as the caller's real id: EVTCHNOP_status reveals it (XEN-37).
    c.remoteDom = this.#resolveDom(remoteDom);
    this.#emit("evtchn.alloc", `port ${port} unbound for dom${c.remoteDom}`);
    return port;
  }

  /**
   * EVTCHNOP_bind_interdomain: connects a new local port to `remotePort` of
   * `remoteDom`, which must be unbound and offered to this domain. The new
   * local port is always marked pending, since notifications sent to the
   * unbound remote end were dropped. -ESRCH for no such domain; -EINVAL
   * when the remote port is not unbound for this domain (so for every port
   * of domain 0, which offers none here). kvm-xen: QEMU's
   * `xen_evtchn_bind_interdomain_op` (see {@link #qemuBindInterdomain}).
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * const a = evtchn.allocUnbound(DOMID_SELF, DOMID_SELF);
   * const b = evtchn.bindInterdomain(DOMID_SELF, a); // P[b] is now set
   * ```
   */
  bindInterdomain(remoteDom: number, remotePort: number): number {
    const rd = this.#resolveDom(remoteDom);
    if (this.dom.flavour === "kvm-xen") return this.#qemuBindInterdomain(rd, remotePort);
    const remote = rd === this.dom.domid ? this : this.dom.peer(rd);
    if (!remote && !this.#exists(rd)) return -XEN_ERRNO.ESRCH;
    const lport = this.#freePort();
    if (lport < 0) return lport;
    const rchn = remote?.channel(remotePort);
    if (!remote || !rchn || rchn.state !== "unbound" || rchn.remoteDom !== this.dom.domid) {
      return -XEN_ERRNO.EINVAL;
    }
    const l = this.#ports[lport];
    l.state = "interdomain";
    l.remoteDom = rd;
    l.remotePort = remotePort;
    remote.#connect(remotePort, this.dom.domid, lport);
    this.#emit("evtchn.bind", `port ${lport} <-> dom${rd} port ${remotePort}`);
    this.raise(lport);
    return lport;
  }

  /**
   * kvm-xen: QEMU `xen_evtchn_bind_interdomain_op`. The remote domain must be
   * QEMU ({@link DOM0}) or the guest itself (-ESRCH) and the remote port
   * valid, 0 excluded (-EINVAL), before a local port is allocated. QEMU's
   * backends have no ports here, so binding to one is -ENOENT. A loopback
   * needs an unbound port not offered to QEMU (-EINVAL); unlike Xen, QEMU
   * does not mark the new local port pending.
   */
  #qemuBindInterdomain(rd: number, remotePort: number): number {
    if (rd !== DOM0 && rd !== this.dom.domid) return -XEN_ERRNO.ESRCH;
    if (remotePort === 0 || !this.isValid(remotePort)) return -XEN_ERRNO.EINVAL;
    const lport = this.#freePort();
    if (lport < 0) return lport;
    if (rd === DOM0) return -XEN_ERRNO.ENOENT;
    const r = this.#ports[remotePort];
    if (r === undefined || r.state !== "unbound" || r.remoteDom === DOM0) {
      return -XEN_ERRNO.EINVAL;
    }
    const l = this.#ports[lport];
    l.state = "interdomain";
    l.remoteDom = rd;
    l.remotePort = remotePort;
    this.#connect(remotePort, rd, lport);
    this.#emit(
      "evtchn.bind",
      `port ${lport} <-> dom${rd} port ${remotePort} (loopback, not pending)`,
    );
    return lport;
  }

  #connect(port: number, dom: number, remotePort: number): void {
    const c = this.#ports[port];
    c.state = "interdomain";
    c.remoteDom = dom;
    c.remotePort = remotePort;
  }

  #unbind(port: number, dom: number): void {
    const c = this.#ports[port];
    c.state = "unbound";
    c.remoteDom = dom;
    c.remotePort = 0;
  }

  /**
   * EVTCHNOP_bind_virq: -EINVAL for a bad VIRQ or a global VIRQ on a vCPU
   * other than 0, -ENOENT for a bad vCPU, -EEXIST if already bound there.
   * Xen: a global VIRQ belongs to the domain `get_global_virq_handler`
   * names, the hardware domain unless the toolstack chose another
   * (XEN_DOMCTL_set_virq_handler), so this domU gets -EBUSY. kvm-xen:
   * QEMU's `xen_evtchn_bind_virq_op` binds it.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.bindVirq(VIRQ.timer, 0); // a port
   * ```
   */
  bindVirq(virq: number, vcpu: number): number {
    if (!Number.isInteger(virq) || virq < 0 || virq >= NR_VIRQS) return -XEN_ERRNO.EINVAL;
    if (virqKind(virq) !== "vcpu" && vcpu !== 0) return -XEN_ERRNO.EINVAL;
    if (vcpu < 0 || vcpu >= this.dom.vcpuCount) return -XEN_ERRNO.ENOENT;
    if (this.dom.flavour === "xen" && virqKind(virq) === "global") return -XEN_ERRNO.EBUSY;
    if (this.#virqs[vcpu][virq] !== 0) return -XEN_ERRNO.EEXIST;
    const port = this.#freePort();
    if (port < 0) return port;
    const c = this.#ports[port];
    c.state = "virq";
    c.virq = virq;
    c.notifyVcpu = vcpu;
    this.#virqs[vcpu][virq] = port;
    this.#emit("evtchn.bind", `port ${port} = VIRQ ${virq} on vcpu${vcpu}`);
    return port;
  }

  /**
   * EVTCHNOP_bind_ipi: a port that notifies `vcpu` when sent; -ENOENT for a bad vCPU.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.bindIpi(1);
   * ```
   */
  bindIpi(vcpu: number): number {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.dom.vcpuCount) {
      return -XEN_ERRNO.ENOENT;
    }
    const port = this.#freePort();
    if (port < 0) return port;
    const c = this.#ports[port];
    c.state = "ipi";
    c.notifyVcpu = vcpu;
    this.#emit("evtchn.bind", `port ${port} = IPI to vcpu${vcpu}`);
    return port;
  }

  /**
   * EVTCHNOP_bind_pirq: -EINVAL for a PIRQ out of range, -EPERM in a PV
   * domain (`evtchn_bind_pirq`: no IRQ access for a domU without a
   * passed-through device), -EEXIST when it already has a port (kvm-xen:
   * QEMU answers -EBUSY there).
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.bindPirq(5);
   * ```
   */
  bindPirq(pirq: number): number {
    if (!Number.isInteger(pirq) || pirq < 0 || pirq >= this.nrPirqs) return -XEN_ERRNO.EINVAL;
    // A PV domain needs access to the PIRQ's IRQ (pirq_access_permitted): a
    // domU without a passed-through device has no PIRQ mapped, so none.
    if (this.dom.type === "pv") return -XEN_ERRNO.EPERM;
    if (this.#pirqs.has(pirq)) {
      // kvm-xen: QEMU xen_evtchn_bind_pirq_op returns -EBUSY for a bound PIRQ.
      return this.dom.flavour === "kvm-xen" ? -XEN_ERRNO.EBUSY : -XEN_ERRNO.EEXIST;
    }
    const port = this.#freePort();
    if (port < 0) return port;
    const c = this.#ports[port];
    c.state = "pirq";
    c.pirq = pirq;
    c.notifyVcpu = 0;
    this.#pirqs.set(pirq, port);
    this.#emit("evtchn.bind", `port ${port} = PIRQ ${pirq}`);
    return port;
  }

  /**
   * EVTCHNOP_close: frees the port (clearing its pending bit and binding it
   * back to vCPU 0); the peer of an interdomain channel becomes unbound.
   * -EINVAL for an invalid, free or reserved port. kvm-xen: QEMU
   * (`xen_evtchn_close_op`, `close_port`) answers -ENOENT for a free one.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.close(0); // -EINVAL: reserved
   * ```
   */
  close(port: number): number {
    const c = this.channel(port);
    if (!c || c.state === "reserved") return -XEN_ERRNO.EINVAL;
    if (c.state === "free") {
      return this.dom.flavour === "kvm-xen" ? -XEN_ERRNO.ENOENT : -XEN_ERRNO.EINVAL;
    }
    switch (c.state) {
      case "virq":
        for (const map of this.#virqs) if (map[c.virq] === port) map[c.virq] = 0;
        break;
      case "pirq":
        this.#pirqs.delete(c.pirq);
        break;
      case "interdomain": {
        const remote = c.remoteDom === this.dom.domid ? this : this.dom.peer(c.remoteDom);
        if (remote) remote.#unbind(c.remotePort, this.dom.domid);
        break;
      }
    }
    this.#free(port);
    this.#emit("evtchn.close", `port ${port} closed`);
    return 0;
  }

  #free(port: number): void {
    // free_evtchn: clear the pending bit so that a re-bind starts clean.
    if (this.fifo.active) {
      const a = this.fifo.wordAddr(port);
      if (a >= 0) this.dom.mem.clearBit(a, FIFO.PENDING);
      this.fifo.closed(port);
    } else {
      const si = this.dom.sharedInfo();
      if (si >= 0) this.dom.mem.clearBit(si + this.#pendingOffset(), port);
    }
    this.#ports[port] = blank();
    if (port < this.#lowFree) this.#lowFree = port;
  }

  /**
   * EVTCHNOP_send: interdomain → raises the peer's port; IPI → raises this
   * port; unbound → silently dropped; anything else -EINVAL.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels, p: number;
   * evtchn.send(p); // 0
   * ```
   */
  send(port: number): number {
    const c = this.channel(port);
    if (!c) return -XEN_ERRNO.EINVAL;
    switch (c.state) {
      case "interdomain": {
        const remote = c.remoteDom === this.dom.domid ? this : this.dom.peer(c.remoteDom);
        remote?.raise(c.remotePort);
        return 0;
      }
      case "ipi":
        this.raise(port);
        return 0;
      case "unbound":
        this.#emit("evtchn.drop", `send on unbound port ${port}: dropped`);
        return 0;
      default:
        return -XEN_ERRNO.EINVAL;
    }
  }

  /**
   * EVTCHNOP_status for this domain (`dom` DOMID_SELF or its own id):
   * -ESRCH for an unknown domain; for another one -EINVAL when the port is
   * not valid there, else -EPERM (Xen checks the port before XSM; domain 0's
   * table is not modelled, so every port of it is -EPERM); -EINVAL for an
   * invalid port. A free or reserved port is `closed`. kvm-xen: QEMU
   * (`xen_evtchn_status_op`) refuses port 0 as invalid.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.status(DOMID_SELF, 0); // { status: 0 (closed), ... }
   * ```
   */
  status(dom: number, port: number): ChannelStatus | number {
    const d = this.#resolveDom(dom);
    if (d !== this.dom.domid) {
      const peer = this.dom.peer(d);
      if (peer !== undefined && !peer.channel(port)) return -XEN_ERRNO.EINVAL;
      return this.#otherDomain(d);
    }
    const c = this.channel(port);
    if (!c || (port === 0 && this.dom.flavour === "kvm-xen")) return -XEN_ERRNO.EINVAL;
    const out: ChannelStatus = { status: 0, vcpu: c.notifyVcpu, dom: 0, port: 0, number: 0 };
    switch (c.state) {
      case "free":
      case "reserved":
        out.status = EVTCHNSTAT.closed;
        break;
      case "unbound":
        out.status = EVTCHNSTAT.unbound;
        out.dom = c.remoteDom;
        break;
      case "interdomain":
        out.status = EVTCHNSTAT.interdomain;
        out.dom = c.remoteDom;
        out.port = c.remotePort;
        break;
      case "pirq":
        out.status = EVTCHNSTAT.pirq;
        out.number = c.pirq;
        break;
      case "virq":
        out.status = EVTCHNSTAT.virq;
        out.number = c.virq;
        break;
      case "ipi":
        out.status = EVTCHNSTAT.ipi;
        break;
    }
    return out;
  }

  /**
   * EVTCHNOP_bind_vcpu: future notifications of `port` go to `vcpu`.
   * -ENOENT for a bad vCPU; -EINVAL for an invalid port, a per-vCPU VIRQ, an
   * IPI or a free port. Xen leaves an already flagged event where it is
   * (XEN-39); kvm-xen: QEMU re-raises a pending, unmasked port on the new vCPU.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels, p: number;
   * evtchn.bindVcpu(p, 1);
   * ```
   */
  bindVcpu(port: number, vcpu: number): number {
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.dom.vcpuCount) {
      return -XEN_ERRNO.ENOENT;
    }
    const c = this.channel(port);
    if (!c) return -XEN_ERRNO.EINVAL;
    switch (c.state) {
      case "virq":
        if (virqKind(c.virq) === "vcpu") return -XEN_ERRNO.EINVAL;
        break;
      case "unbound":
      case "interdomain":
      case "pirq":
        break;
      default:
        return -XEN_ERRNO.EINVAL;
    }
    this.#ports[port].notifyVcpu = vcpu;
    this.#emit("evtchn.bind_vcpu", `port ${port} now notifies vcpu${vcpu}`);
    if (this.dom.flavour === "kvm-xen" && this.isPending(port) && !this.isMasked(port)) {
      // kvm-xen: QEMU xen_evtchn_bind_vcpu_op re-delivers on the new vCPU.
      this.#flag(port, vcpu);
    }
    return 0;
  }

  /**
   * EVTCHNOP_unmask (2L): if the mask bit was set, clear it; if the port is
   * pending and the selector bit of its vCPU was clear, set it and mark
   * events pending. A port the guest unmasked itself is left alone.
   * -EINVAL for an invalid port. A valid port that is free or reserved is
   * left alone, its mask bit too, and the answer is 0 (Xen
   * `evtchn_port_unmask` acts only on an `evtchn_usable` port); kvm-xen:
   * QEMU (`unmask_port`) answers -EINVAL for it.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels, p: number;
   * evtchn.unmask(p); // 0
   * ```
   */
  unmask(port: number): number {
    const c = this.channel(port);
    if (!c) return -XEN_ERRNO.EINVAL;
    if (!usable(c)) return this.dom.flavour === "kvm-xen" ? -XEN_ERRNO.EINVAL : 0;
    if (this.fifo.active) return this.fifo.unmask(port, c.notifyVcpu);
    const si = this.dom.sharedInfo();
    if (si < 0) return 0;
    const mem = this.dom.mem;
    if (!mem.testAndClearBit(si + this.#maskOffset(), port)) return 0;
    this.#emit("evtchn.unmask", `port ${port} unmasked by hypercall`);
    if (!mem.testBit(si + this.#pendingOffset(), port)) return 0;
    this.#flag(port, c.notifyVcpu);
    return 0;
  }

  /**
   * EVTCHNOP_reset for this domain: closes every port and forgets VIRQ and
   * PIRQ bindings. -ESRCH / -EPERM as for status.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.reset(DOMID_SELF); // 0
   * ```
   */
  reset(dom: number): number {
    const d = this.#resolveDom(dom);
    if (d !== this.dom.domid) return this.#otherDomain(d);
    for (let p = 1; p < this.#valid; p++) {
      if (this.#ports[p].state !== "free") this.close(p);
    }
    // evtchn_reset ends in evtchn_fifo_destroy: the domain is 2-level again.
    this.fifo.reset();
    this.#emit("evtchn.reset", "all ports closed");
    return 0;
  }

  // ---- FIFO ABI --------------------------------------------------------------

  /**
   * EVTCHNOP_init_control (see {@link FifoEvents.initControl}); the first
   * success carries the ports pending under 2-level over (`setup_ports`).
   * kvm-xen: QEMU implements no FIFO operation: -ENOSYS.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.initControl(0x20, 0, 0); // 17 (link_bits) or -errno
   * ```
   */
  initControl(gfn: number, offset: number, vcpu: number): number {
    if (this.dom.flavour === "kvm-xen") return -XEN_ERRNO.ENOSYS;
    const pending: number[] = [];
    if (!this.fifo.active) {
      for (let p = 1; p < this.#valid && p < this.maxPorts; p++) {
        if (this.#ports[p].state !== "free" && this.isPending(p)) pending.push(p);
      }
    }
    const { rc, linkBits } = this.fifo.initControl(gfn, offset, vcpu, pending);
    return rc < 0 ? rc : linkBits;
  }

  /**
   * EVTCHNOP_expand_array (see {@link FifoEvents.expandArray}); kvm-xen: -ENOSYS.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.expandArray(0x21); // 0
   * ```
   */
  expandArray(gfn: number): number {
    if (this.dom.flavour === "kvm-xen") return -XEN_ERRNO.ENOSYS;
    return this.fifo.expandArray(gfn, (p) => this.channel(p)?.notifyVcpu ?? -1);
  }

  /**
   * EVTCHNOP_set_priority: -EINVAL for an invalid port, -ENOSYS under
   * 2-level (its port ops have no set_priority), -EACCES for a free or
   * reserved port (`evtchn_port_set_priority`: not `evtchn_usable`), -EINVAL
   * past 15.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels, p: number;
   * evtchn.setPriority(p, 0); // 0 with FIFO on
   * ```
   */
  setPriority(port: number, priority: number): number {
    const c = this.channel(port);
    if (!c) return -XEN_ERRNO.EINVAL;
    if (!this.fifo.active) return -XEN_ERRNO.ENOSYS;
    if (!usable(c)) return -XEN_ERRNO.EACCES;
    return this.fifo.setPriority(port, priority);
  }

  // ---- 2-level bits ------------------------------------------------------------

  #pendingOffset(): number {
    return field(this.dom.layout().sharedInfo, "evtchn_pending").offset;
  }

  #maskOffset(): number {
    return field(this.dom.layout().sharedInfo, "evtchn_mask").offset;
  }

  /** Whether P[port] is set in shared_info. */
  isPending(port: number): boolean {
    if (this.fifo.active) return ((this.fifo.word(port) >>> FIFO.PENDING) & 1) === 1;
    const si = this.dom.sharedInfo();
    return si >= 0 && port < this.maxPorts &&
      this.dom.mem.testBit(si + this.#pendingOffset(), port);
  }

  /** Whether M[port] is set in shared_info. */
  isMasked(port: number): boolean {
    if (this.fifo.active) return ((this.fifo.word(port) >>> FIFO.MASKED) & 1) === 1;
    const si = this.dom.sharedInfo();
    return si >= 0 && port < this.maxPorts && this.dom.mem.testBit(si + this.#maskOffset(), port);
  }

  /**
   * Sets the selector bit for `port` in vCPU `vcpu`'s vcpu_info and, if it
   * was newly set, marks events pending there.
   */
  #flag(port: number, vcpu: number): boolean {
    const fresh = this.#select(port, vcpu);
    if (fresh) this.dom.markEventsPending(vcpu);
    return fresh;
  }

  /**
   * Sets the selector bit for `port` in vCPU `vcpu`'s vcpu_info (or KVM's
   * shadow when there is none); whether it was newly set.
   */
  #select(port: number, vcpu: number): boolean {
    const { word } = portWord(this.dom.layout(), port);
    const vi = this.dom.vcpuInfo(vcpu);
    if (!vi) return this.dom.shadowSelector(vcpu, word);
    const sel = field(this.dom.layout().vcpuInfo, "evtchn_pending_sel").offset;
    return !vi.mem.testAndSetBit(vi.addr + sel, word);
  }

  /**
   * Raises `port` on its notify vCPU (`evtchn_port_set_pending` for 2L).
   *
   * Xen (`evtchn_2l_set_pending`): set P; if it was already set, stop. If
   * M is clear and the selector bit was newly set, mark events pending (UP
   * 0→1 upcalls). Then wake pollers of the port, masked or not.
   *
   * kvm-xen (`kvm_xen_set_evtchn_fast`): P already set → 0; masked → wake a
   * poller on that vCPU only and return -ENOTCONN; otherwise set the selector
   * (or KVM's shadow when there is no vcpu_info) and, if newly set, write
   * UP=1 and inject. The unmasked path checks no poller. Returns 1 when
   * delivered.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.raise(66); // P[66], SEL bit 1 (64-bit), UP
   * ```
   */
  raise(port: number): number {
    const c = this.channel(port);
    if (!c) {
      this.#emit("evtchn.drop", `raise of port ${port}: invalid port`);
      return -XEN_ERRNO.EINVAL;
    }
    return this.raiseOn(port, c.notifyVcpu);
  }

  /**
   * Raises `port` for an explicit vCPU, as a KVM routing entry or
   * KVM_XEN_HVM_EVTCHN_SEND does (KVM does not know the VMM's port table;
   * only the range is checked). Same rules as {@link EventChannels.raise}.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.raiseOn(66, 1);
   * ```
   */
  raiseOn(port: number, vcpu: number): number {
    return drain(this.raiseOnSteps(port, vcpu));
  }

  /**
   * {@link EventChannels.raiseOn} as the separate writes to guest memory
   * that a guest running meanwhile can see between ({@link RAISE_STEPS}):
   * it yields after setting P, and after testing M and setting the
   * selector bit, before UP. FIFO raises are one step.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * const steps = evtchn.raiseOnSteps(66, 1);
   * steps.next(); // P[66] set
   * ```
   */
  *raiseOnSteps(port: number, vcpu: number): Generator<void, number, void> {
    if (this.fifo.active) {
      if (!Number.isInteger(port) || port < 0 || port >= this.maxPorts) return -XEN_ERRNO.EINVAL;
      return this.fifo.raise(port, vcpu);
    }
    const si = this.dom.sharedInfo();
    if (si < 0 || !Number.isInteger(port) || port < 0 || port >= this.maxPorts) {
      this.#emit("evtchn.drop", `raise of port ${port}: no shared_info or port out of range`);
      return -XEN_ERRNO.EINVAL;
    }
    const mem = this.dom.mem;
    if (mem.testAndSetBit(si + this.#pendingOffset(), port)) {
      this.#emit("evtchn.coalesced", `port ${port} already pending`);
      return 0;
    }
    yield;
    const masked = mem.testBit(si + this.#maskOffset(), port);
    this.#emit(
      "evtchn.pending",
      `port ${port} pending${masked ? " (masked)" : ""} for vcpu${vcpu}`,
    );
    if (this.dom.flavour === "kvm-xen" && masked) {
      this.dom.checkPollers(port, vcpu, true);
      return -XEN_ERRNO.ENOTCONN;
    }
    const fresh = !masked && this.#select(port, vcpu);
    yield;
    if (fresh) this.dom.markEventsPending(vcpu);
    // KVM's unmasked path checks no poller.
    if (this.dom.flavour !== "kvm-xen") this.dom.checkPollers(port, vcpu, masked);
    return 1;
  }

  /**
   * {@link EventChannels.raise} in steps ({@link EventChannels.raiseOnSteps}).
   *
   * @example
   * ```ts
   * import { drain } from "../../mod.ts";
   * declare const evtchn: EventChannels;
   * drain(evtchn.raiseSteps(66)); // as evtchn.raise(66)
   * ```
   */
  *raiseSteps(port: number): Generator<void, number, void> {
    const c = this.channel(port);
    if (!c) {
      this.#emit("evtchn.drop", `raise of port ${port}: invalid port`);
      return -XEN_ERRNO.EINVAL;
    }
    return yield* this.raiseOnSteps(port, c.notifyVcpu);
  }

  /**
   * Raises a VIRQ on vCPU `vcpu` (`send_guest_vcpu_virq`) or, for a
   * global VIRQ, on the port bound on vCPU 0 (`send_guest_global_virq`).
   * Nothing happens when it is not bound.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.raiseVirq(VIRQ.timer, 0);
   * ```
   */
  raiseVirq(virq: number, vcpu: number): number {
    const owner = virqKind(virq) === "vcpu" ? vcpu : 0;
    const port = this.#virqs[owner]?.[virq] ?? 0;
    if (port === 0) {
      this.#emit("virq.unbound", `VIRQ ${virq} on vcpu${owner} has no port: dropped`);
      return 0;
    }
    return this.raise(port);
  }

  /**
   * Raises the port bound to a PIRQ (`send_guest_pirq`); nothing when unbound.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.raisePirq(5);
   * ```
   */
  raisePirq(pirq: number): number {
    const port = this.#pirqs.get(pirq) ?? 0;
    if (port === 0) {
      this.#emit("pirq.unbound", `PIRQ ${pirq} has no port: dropped`);
      return 0;
    }
    return this.raise(port);
  }

  /**
   * `evtchn_port_poll`: <0 for a port Xen does not accept (invalid, free or
   * reserved), else whether P is set.
   *
   * @example
   * ```ts
   * declare const evtchn: EventChannels;
   * evtchn.pollable(13); // 0 (not pending), 1 (pending) or -EINVAL
   * ```
   */
  pollable(port: number): number {
    if (this.dom.flavour === "kvm-xen") {
      // kvm-xen: kvm_xen_schedop_poll only range-checks, so port 0 is accepted.
      if (!Number.isInteger(port) || port < 0 || port >= this.maxPorts) return -XEN_ERRNO.EINVAL;
      return this.isPending(port) ? 1 : 0;
    }
    // evtchn_port_poll: a valid port must also be usable (`evtchn_usable`:
    // state above ECS_RESERVED), so a free or the reserved port 0 is -EINVAL.
    const c = this.channel(port);
    if (!c || c.state === "free" || c.state === "reserved") return -XEN_ERRNO.EINVAL;
    return this.isPending(port) ? 1 : 0;
  }

  /** Number of ports in a state other than free and reserved. */
  get used(): number {
    let n = 0;
    for (let p = 1; p < this.#valid; p++) {
      const s = this.#ports[p].state;
      if (s !== "free" && s !== "reserved") n++;
    }
    return n;
  }
}
