/**
 * Xen's FIFO event-channel ABI: event words in guest pages added with
 * EVTCHNOP_expand_array, one control block per vCPU registered with
 * EVTCHNOP_init_control, and the hypervisor's raise, link and unmask rules.
 *
 * Layout (`xen/include/public/event_channel.h`): an event word is a u32 per
 * port, 1024 to a 4 KiB page, with PENDING (bit 31), MASKED (30), LINKED
 * (29), BUSY (28) and LINK (bits 16:0, the next port in the queue). A
 * control block is 72 bytes: READY (u32 at 0: bit q = queue q has a head),
 * a reserved u32, then HEAD[16] (u32 at 8 + 4q). Priority 0 is the highest
 * of the 16 queues, 7 the default.
 *
 * Sources: Xen `xen/common/event_fifo.c` (`evtchn_fifo_init_control`,
 * `map_control_block`, `evtchn_fifo_expand_array`,
 * `add_page_to_event_array`, `evtchn_fifo_set_pending`,
 * `evtchn_fifo_set_link`, `evtchn_fifo_unmask`, `evtchn_fifo_set_priority`,
 * `setup_ports`, `evtchn_fifo_destroy`), `xen/common/event_channel.c`
 * (EVTCHNOP_init_control copies link_bits back only on success, reset
 * reverts to 2-level); Linux `drivers/xen/events/events_fifo.c` (the guest
 * side: `consume_one_event`, `clear_masked`, `evtchn_fifo_unmask`,
 * `init_array_page` pre-filling MASKED). KVM implements no FIFO ABI.
 *
 * The model is single-threaded, so the tail-link race that makes Xen set
 * BUSY never happens here; BUSY is defined for guests that test it.
 *
 * @module
 */
import { arenaI32, arrayOf } from "../core/arena.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import type { Trace } from "../core/trace.ts";
import { XEN_ERRNO } from "./errno.ts";
import { XEN_PAGE_SIZE } from "./layout.ts";
import type { StateHash } from "../core/platform.ts";
import { FIFO } from "./abi.ts";
export { FIFO } from "./abi.ts";

/**
 * What the FIFO code needs from the domain around it.
 *
 * @example
 * ```ts
 * declare const host: FifoHost;
 * new FifoEvents(host); // host: memory, vCPUs, upcall and poller hooks, port table
 * ```
 */
export interface FifoHost {
  readonly mem: GuestMemory;
  readonly vcpuCount: number;
  readonly trace: Trace;
  /** Trace source name. */
  readonly name: string;
  /** `vcpu_mark_events_pending` for vCPU `n`. */
  markEventsPending(n: number): void;
  /** `evtchn_check_pollers`: `port` was newly flagged pending for vCPU `n`. */
  checkPollers(port: number, n: number, masked: boolean): void;
}

/** One vCPU's queues: the control block and each queue's tail (Xen keeps tails private). */
interface VcpuFifo {
  /** GPA of the control block, or -1. */
  control: number;
  readonly tail: Int32Array;
}

/**
 * The result of EVTCHNOP_init_control: rc, and link_bits (copied back only when rc is 0).
 *
 * @example
 * ```ts
 * declare const fifo: FifoEvents, gfn: number;
 * const { rc, linkBits } = fifo.initControl(gfn, 0, 0); // 0, 17
 * ```
 */
export interface InitControlResult {
  rc: number;
  linkBits: number;
}

/**
 * The FIFO ABI state of one domain. Inactive (the domain uses 2-level)
 * until the first successful {@link FifoEvents.initControl}.
 *
 * @example
 * ```ts
 * declare const host: FifoHost;
 * const fifo = new FifoEvents(host);
 * fifo.initControl(0x20, 0, 0);      // { rc: 0, linkBits: 17 }
 * fifo.expandArray(0x21, () => 0);   // 0: ports 0..1023 have words
 * fifo.raise(5, 0);                   // PENDING|LINKED, HEAD[7] = 5, READY bit 7, upcall
 * ```
 */
export class FifoEvents {
  #active = false;
  /** GPA of each event-array page, in slot order. */
  readonly pages: number[] = [];
  readonly #vcpus: VcpuFifo[];
  /** Per port: the queue priority (Xen's `evtchn->priority`). */
  readonly #priority = new Map<number, number>();
  /** Ports raised while their array page was missing (`evtchn->pending`). */
  readonly #parked = new Set<number>();
  /**
   * Per port: the queue it was last linked on, as vCPU * 16 + priority
   * (Xen's `evtchn->fifo_lastq`, zero until first linked: vCPU0's queue 0).
   */
  readonly #lastq = new Map<number, number>();

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    h.bool(this.#active);
    h.value(this.#vcpus);
    h.value(this.#priority);
    h.value(this.#parked);
    h.value(this.#lastq);
  }

  constructor(readonly host: FifoHost) {
    this.#vcpus = arrayOf(host.vcpuCount, () => ({
      control: -1,
      tail: arenaI32(FIFO.MAX_QUEUES),
    }));
  }

  /** The domain has switched to FIFO. */
  get active(): boolean {
    return this.#active;
  }

  #emit(kind: string, text: string): void {
    const t = this.host.trace;
    if (t.enabled) t.emit(this.host.name, kind, text);
  }

  /** The GPA of `port`'s event word, or -1 while its page is missing. */
  wordAddr(port: number): number {
    const slot = Math.floor(port / FIFO.WORDS_PER_PAGE);
    if (!this.#active || port < 0 || slot >= this.pages.length) return -1;
    return this.pages[slot] + (port % FIFO.WORDS_PER_PAGE) * 4;
  }

  /** `port`'s event word, 0 while its page is missing. */
  word(port: number): number {
    const a = this.wordAddr(port);
    return a < 0 ? 0 : Number(this.host.mem.read(a, 32));
  }

  /**
   * `evtchn_fifo_is_busy`: `port`'s event word is still LINKED (on a queue the
   * guest has not consumed yet), so `evtchn_allocate_port` will not hand the
   * port out again. A port without a word is never busy.
   */
  isBusy(port: number): boolean {
    return ((this.word(port) >>> FIFO.LINKED) & 1) === 1;
  }

  /** The GPA of vCPU `n`'s control block, or -1. */
  controlBlock(n: number): number {
    return this.#vcpus[n]?.control ?? -1;
  }

  /** vCPU `n`'s READY word (0 without a control block). */
  ready(n: number): number {
    const cb = this.controlBlock(n);
    return cb < 0 ? 0 : Number(this.host.mem.read(cb, 32));
  }

  /** HEAD[`q`] of vCPU `n` (0 without a control block). */
  head(n: number, q: number): number {
    const cb = this.controlBlock(n);
    return cb < 0 ? 0 : Number(this.host.mem.read(cb + 8 + 4 * q, 32));
  }

  /** The port's priority (7 unless set). */
  priority(port: number): number {
    return this.#priority.get(port) ?? FIFO.PRIORITY_DEFAULT;
  }

  /**
   * EVTCHNOP_init_control for vCPU `vcpu`'s control block at `gfn`:`offset`.
   * -ENOENT for a vCPU that does not exist; -EINVAL for an offset that
   * leaves no room for the 72-byte block (past 4096 - 72), one not 8-byte
   * aligned, a frame outside guest memory, or a vCPU that already has one.
   * The first success switches the domain to FIFO: the ports listed in
   * `pending2L` (pending under 2-level) are kept pending and raised once
   * their array page exists. A failure leaves the domain on 2-level.
   */
  initControl(
    gfn: number,
    offset: number,
    vcpu: number,
    pending2L: readonly number[] = [],
  ): InitControlResult {
    const linkBits = FIFO.LINK_BITS;
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.host.vcpuCount) {
      return { rc: -XEN_ERRNO.ENOENT, linkBits };
    }
    if (offset > XEN_PAGE_SIZE - FIFO.CONTROL_BLOCK_SIZE) {
      return { rc: -XEN_ERRNO.EINVAL, linkBits };
    }
    if ((offset & 7) !== 0) return { rc: -XEN_ERRNO.EINVAL, linkBits };
    const v = this.#vcpus[vcpu];
    if (v.control >= 0) return { rc: -XEN_ERRNO.EINVAL, linkBits };
    const gpa = gfn * XEN_PAGE_SIZE;
    if (!this.host.mem.contains(gpa, XEN_PAGE_SIZE)) return { rc: -XEN_ERRNO.EINVAL, linkBits };
    v.control = gpa + offset;
    // map_control_block: Xen clears nothing; the guest owns the page.
    if (!this.#active) {
      this.#active = true;
      for (const p of pending2L) this.#parked.add(p);
      this.#emit("fifo.on", "event channels switched to the FIFO ABI");
    }
    this.#emit("fifo.control", `vcpu${vcpu}: control block at 0x${v.control.toString(16)}`);
    return { rc: 0, linkBits };
  }

  /**
   * EVTCHNOP_expand_array: adds the next event-array page at `gfn`.
   * -EOPNOTSUPP before FIFO is on; -ENOSPC past 128 pages; -EINVAL for a
   * frame outside guest memory. Ports of the new page that were raised
   * while it was missing are raised now (`add_page_to_event_array`).
   */
  expandArray(gfn: number, notifyVcpu: (port: number) => number): number {
    if (!this.#active) return -XEN_ERRNO.EOPNOTSUPP;
    if (this.pages.length >= FIFO.MAX_ARRAY_PAGES) return -XEN_ERRNO.ENOSPC;
    const gpa = gfn * XEN_PAGE_SIZE;
    if (!this.host.mem.contains(gpa, XEN_PAGE_SIZE)) return -XEN_ERRNO.EINVAL;
    const slot = this.pages.length;
    this.pages.push(gpa);
    this.#emit("fifo.array", `event array page ${slot} at 0x${gpa.toString(16)}`);
    const first = slot * FIFO.WORDS_PER_PAGE;
    for (let p = first; p < first + FIFO.WORDS_PER_PAGE; p++) {
      if (!this.#parked.delete(p)) continue;
      const n = notifyVcpu(p);
      if (n >= 0) this.raise(p, n);
    }
    return 0;
  }

  /**
   * EVTCHNOP_set_priority: -EINVAL past priority 15. (Under 2-level the
   * caller answers -ENOSYS.) Takes effect at the port's next link.
   */
  setPriority(port: number, priority: number): number {
    if (!Number.isInteger(priority) || priority < 0 || priority > FIFO.PRIORITY_MIN) {
      return -XEN_ERRNO.EINVAL;
    }
    this.#priority.set(port, priority);
    return 0;
  }

  /**
   * `evtchn_fifo_set_pending` for `port` on vCPU `vcpu`: with no page, the
   * event is parked. A vCPU without a control block (the domain is FIFO
   * but EVTCHNOP_init_control was not made for it) drops the event: nothing
   * is set, not even PENDING, and no poller is woken. Otherwise set
   * PENDING; if MASKED and LINKED are clear, set LINKED and append it to
   * the queue of its priority: into the tail's LINK if the tail is still
   * linked, else as the new HEAD; a new HEAD sets the queue's READY bit, and
   * a READY bit going 0 to 1 marks events pending. Pollers are checked when
   * PENDING was newly set. Returns 1 when PENDING was newly set, else 0.
   */
  raise(port: number, vcpu: number): number {
    const mem = this.host.mem;
    const a = this.wordAddr(port);
    if (a < 0) {
      this.#parked.add(port);
      this.#emit("fifo.parked", `port ${port}: no event array page yet, kept pending`);
      return 1;
    }
    if (this.#vcpus[vcpu].control < 0) {
      this.#emit("fifo.dropped", `port ${port}: vcpu${vcpu} has no control block, event lost`);
      return 0;
    }
    const wasPending = mem.testAndSetBit(a, FIFO.PENDING);
    const masked = mem.testBit(a, FIFO.MASKED);
    if (!masked && !mem.testAndSetBit(a, FIFO.LINKED)) this.#link(port, vcpu);
    this.#emit(
      "fifo.pending",
      `port ${port} PENDING${masked ? " (masked)" : ""} for vcpu${vcpu}`,
    );
    if (!wasPending) this.host.checkPollers(port, vcpu, masked);
    return wasPending ? 0 : 1;
  }

  #link(port: number, vcpu: number): void {
    const v = this.#vcpus[vcpu];
    const mem = this.host.mem;
    const q = this.priority(port);
    // An event that was the tail of the queue it was last on (another
    // priority, or another vCPU's after EVTCHNOP_bind_vcpu) leaves that queue
    // empty-tailed, so a later event there becomes a new HEAD instead of
    // being linked behind this one on its new queue.
    const last = this.#lastq.get(port) ?? 0;
    const lastV = this.#vcpus[last >> 4];
    if (lastV.tail[last & 15] === port) lastV.tail[last & 15] = 0;
    const here = vcpu * FIFO.MAX_QUEUES + q;
    if (here !== last) this.#lastq.set(port, here);
    let linked = false;
    const tail = v.tail[q];
    if (tail !== 0) {
      const ta = this.wordAddr(tail);
      // evtchn_fifo_set_link: only a tail that is still LINKED takes a LINK.
      if (ta >= 0 && mem.testBit(ta, FIFO.LINKED)) {
        const w = Number(mem.read(ta, 32));
        mem.write(ta, 32, ((w & ~FIFO.LINK_MASK) | port) >>> 0);
        linked = true;
        this.#emit("fifo.link", `port ${tail} -> ${port} (queue ${q})`);
      }
    }
    v.tail[q] = port;
    if (linked) return;
    mem.write(v.control + 8 + 4 * q, 32, port);
    this.#emit("fifo.head", `vcpu${vcpu}: HEAD[${q}] = ${port}`);
    if (!mem.testAndSetBit(v.control, q)) {
      this.#emit("fifo.ready", `vcpu${vcpu}: READY bit ${q} 0 -> 1`);
      this.host.markEventsPending(vcpu);
    }
  }

  /**
   * `evtchn_fifo_unmask` (EVTCHNOP_unmask): Xen clears MASKED itself (a
   * guest such as Linux has usually cleared it already, with its cmpxchg
   * that waits out BUSY); if the event is PENDING, raise it again so that it
   * is linked.
   */
  unmask(port: number, vcpu: number): number {
    const a = this.wordAddr(port);
    if (a < 0) return 0;
    const mem = this.host.mem;
    if (mem.testAndClearBit(a, FIFO.MASKED)) {
      this.#emit("fifo.unmasked", `port ${port}: MASKED cleared by EVTCHNOP_unmask`);
    }
    if (mem.testBit(a, FIFO.PENDING)) this.raise(port, vcpu);
    return 0;
  }

  /** A port was closed: forget its priority and any parked event. */
  closed(port: number): void {
    this.#priority.delete(port);
    this.#parked.delete(port);
  }

  /** EVTCHNOP_reset (`evtchn_fifo_destroy`): back to 2-level, pages and blocks forgotten. */
  reset(): void {
    if (!this.#active) return;
    this.#active = false;
    this.pages.length = 0;
    this.#priority.clear();
    this.#parked.clear();
    this.#lastq.clear();
    for (const v of this.#vcpus) {
      v.control = -1;
      v.tail.fill(0);
    }
    this.#emit("fifo.off", "event channels back to the 2-level ABI");
  }
}
