/**
 * KVM_IRQFD: an eventfd wired to a GSI, so that a device outside the VMM
 * (vhost, VFIO) raises the interrupt by writing the eventfd.
 *
 * - A plain irqfd pulses its GSI at each signal (`irqfd_inject`: level 1,
 *   then 0), which suits edge and MSI routes.
 * - With KVM_IRQFD_FLAG_RESAMPLE (VFIO's INTx) a signal only asserts the
 *   GSI; the guest's EOI of the interrupt, reaching the irqchip pin the GSI
 *   is routed to, lowers it again and signals the resamplefd
 *   (`irqfd_resampler_ack`), so the device side can check whether the
 *   device still wants the line and signal again. irqfds of one GSI share
 *   one resampler. KVM keeps the resampler's level as its own IRQ source
 *   (KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID) ORed with KVM_IRQ_LINE's; the model
 *   has one level per line, so KVM_IRQ_LINE on a resampled GSI shares it.
 *
 * What KVM refuses (`kvm_irqfd`, `kvm_irqfd_assign`,
 * `kvm_arch_irqfd_allowed`): unknown flags (-EINVAL); any irqfd without an
 * in-kernel irqchip, and a resampling one without the in-kernel I/O APIC
 * and PICs, i.e. with a split irqchip (-EINVAL); an eventfd already
 * assigned to the VM (-EBUSY). Since Linux 6.17 an irqfd is its eventfd's
 * one priority waiter in all of the host (`kvm_irqfd_register` ->
 * `add_wait_queue_priority_exclusive`), so an eventfd bound by another
 * VM's irqfd is -EBUSY too; older kernels checked the VM's own list only
 * ({@link IrqfdEventfd}). Deassign removes the irqfds of (fd, gsi) and
 * returns 0 even when there are none.
 *
 * An eventfd keeps its count while no irqfd listens: `kvm_irqfd_assign`
 * polls it and, finding it readable, injects once at assignment
 * (`schedule_work(&irqfd->inject)`); deassigning reads the count away
 * (`irqfd_shutdown`).
 *
 * Sources: Linux `virt/kvm/eventfd.c`, `arch/x86/kvm/irq.c`
 * (`kvm_arch_irqfd_allowed`), `Documentation/virt/kvm/api.rst` (KVM_IRQFD).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { hashTrace, type Trace } from "../core/trace.ts";
import { EBUSY, EINVAL } from "./errno.ts";

/**
 * KVM_IRQFD flags.
 *
 * @example
 * ```ts
 * KVM_IRQFD_FLAG.RESAMPLE; // 2
 * ```
 */
export const KVM_IRQFD_FLAG = {
  DEASSIGN: 1 << 0,
  RESAMPLE: 1 << 1,
} as const;

/**
 * Whom an eventfd's irqfd excludes, by kernel version: `exclusive` (Linux
 * 6.17 on: any other irqfd on the eventfd, whatever its VM) or `per_vm`
 * (older kernels: the same VM's only).
 */
export type IrqfdEventfd = "exclusive" | "per_vm";

/** One assigned irqfd. */
export interface Irqfd {
  fd: number;
  gsi: number;
  /** The resamplefd, or -1 for a plain irqfd. */
  resamplefd: number;
}

/** What irqfds drive: the VM's GSI lines, its irqchip mode, its eventfd counters. */
export interface IrqfdHost {
  /** `kvm_set_irq` on a GSI, as KVM_IRQ_LINE does. */
  setGsi(gsi: number, level: 0 | 1): void;
  /** `irqchip_in_kernel`: a LAPIC in the kernel (kernel or split). */
  irqchipInKernel(): boolean;
  /** `irqchip_kernel`: the PICs and I/O APIC in the kernel too. */
  irqchipKernel(): boolean;
  /** Counters of the eventfds KVM signalled, by fd. */
  eventfds: Map<number, number>;
  /**
   * With `exclusive`: another VM of the VMM process has an irqfd on eventfd
   * `fd` (the scenario's fd numbers name one process's eventfds).
   */
  boundElsewhere?(fd: number): boolean;
  /**
   * A GSI's resampler came or went: its first resampling irqfd registered
   * KVM's ack notifier, or its last one left (`kvm_register_irq_ack_notifier`,
   * `kvm_unregister_irq_ack_notifier`, then
   * `kvm_arch_post_irq_ack_notifier_list_update`). Absent: nobody listens.
   */
  ackNotifiersChanged?(): void;
  trace: Trace;
}

/**
 * A VM's irqfds.
 *
 * @example
 * ```ts
 * declare const irqfds: Irqfds;
 * irqfds.assign(3, 10, KVM_IRQFD_FLAG.RESAMPLE, 4); // 0
 * irqfds.signal(3);   // GSI 10 asserted
 * irqfds.acked(10);   // the guest's EOI: GSI 10 lowered, eventfd 4 signalled
 * ```
 */
export class Irqfds {
  /** The assigned irqfds, in assignment order. */
  readonly list: Irqfd[] = [];
  /** Eventfds signalled with no irqfd to read them: their count is still non-zero. */
  readonly unread: Set<number> = new Set();

  constructor(readonly host: IrqfdHost) {}

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    // The host field by field: its callbacks are fixed at creation, so
    // whether each is there is all a state can differ in (one word, not a
    // call per callback at every state), and the generic walk's key list cost.
    const host = this.host;
    h.n(
      (typeof host.setGsi === "function" ? 1 : 0) |
        (typeof host.irqchipInKernel === "function" ? 2 : 0) |
        (typeof host.irqchipKernel === "function" ? 4 : 0) |
        (typeof host.boundElsewhere === "function" ? 8 : 0) |
        (typeof host.ackNotifiersChanged === "function" ? 16 : 0),
    );
    // No eventfd signalled (the rule): a word, not an empty map walked.
    const eventfds = host.eventfds;
    if (eventfds.size === 0) h.n(0);
    else (h.n(1), h.value(eventfds));
    hashTrace(h, host.trace);
    // Mostly empty (no irqfd assigned): a word each rather than a walk.
    const list = this.list, unread = this.unread;
    if (list.length === 0 && unread.size === 0) h.n(0);
    else (h.n(1), h.value(list), h.value(unread));
  }

  #emit(kind: string, text: string): void {
    if (this.host.trace.enabled) this.host.trace.emit("kvm", kind, text);
  }

  /** KVM_IRQFD: 0 or -errno (see the module note). */
  assign(fd: number, gsi: number, flags: number, resamplefd: number): number {
    const h = this.host;
    if ((flags & ~(KVM_IRQFD_FLAG.DEASSIGN | KVM_IRQFD_FLAG.RESAMPLE)) !== 0) return -EINVAL;
    if ((flags & KVM_IRQFD_FLAG.DEASSIGN) !== 0) {
      let resampled = false;
      for (let i = this.list.length - 1; i >= 0; i--) {
        const q = this.list[i];
        if (q.fd === fd && q.gsi === gsi) {
          this.list.splice(i, 1);
          if (q.resamplefd >= 0) resampled = true;
        }
      }
      // irqfd_resampler_shutdown: the last resampler of the GSI takes its notifier away.
      if (resampled && !this.#resampled(gsi)) h.ackNotifiersChanged?.();
      // irqfd_shutdown reads the eventfd's count as it leaves the wait queue.
      this.unread.delete(fd);
      this.#emit("irqfd", `KVM_IRQFD deassign fd ${fd} gsi ${gsi}: 0`);
      return 0;
    }
    const resample = (flags & KVM_IRQFD_FLAG.RESAMPLE) !== 0;
    if (resample ? !h.irqchipKernel() : !h.irqchipInKernel()) {
      this.#emit(
        "irqfd",
        `KVM_IRQFD fd ${fd} gsi ${gsi}: -EINVAL (${
          resample ? "resampling needs the in-kernel I/O APIC and PICs" : "no in-kernel irqchip"
        })`,
      );
      return -EINVAL;
    }
    if (this.list.some((q) => q.fd === fd)) {
      this.#emit("irqfd", `KVM_IRQFD fd ${fd} gsi ${gsi}: -EBUSY (eventfd already assigned)`);
      return -EBUSY;
    }
    if (h.boundElsewhere?.(fd)) {
      this.#emit(
        "irqfd",
        `KVM_IRQFD fd ${fd} gsi ${gsi}: -EBUSY (another VM's irqfd is the eventfd's priority waiter)`,
      );
      return -EBUSY;
    }
    const q = { fd, gsi, resamplefd: resample ? resamplefd : -1 };
    // The GSI's first resampler registers its ack notifier (irqfd_resampler_get).
    const first = resample && !this.#resampled(gsi);
    this.list.push(q);
    if (first) h.ackNotifiersChanged?.();
    this.#emit(
      "irqfd",
      `KVM_IRQFD fd ${fd} -> gsi ${gsi}${resample ? `, resamplefd ${resamplefd}` : ""}: 0`,
    );
    // Already readable: kvm_irqfd_assign injects once (the count stays for the next wakeup).
    if (this.unread.has(fd)) this.#inject(q);
    return 0;
  }

  /** Whether a resampling irqfd listens on `gsi`. */
  #resampled(gsi: number): boolean {
    return this.list.some((q) => q.gsi === gsi && q.resamplefd >= 0);
  }

  /** `irqfd_inject`: a pulse, or for a resampler an assert held until the EOI. */
  #inject(q: Irqfd): void {
    this.#emit("irqfd.inject", `eventfd ${q.fd} -> gsi ${q.gsi}`);
    this.host.setGsi(q.gsi, 1);
    if (q.resamplefd < 0) this.host.setGsi(q.gsi, 0);
  }

  /** A write to eventfd `fd`: each irqfd on it raises its GSI. */
  signal(fd: number): void {
    let read = false;
    for (const q of this.list) {
      if (q.fd !== fd) continue;
      this.#inject(q);
      read = true;
    }
    // irqfd_wakeup reads the count; with nobody listening it stays.
    if (read) this.unread.delete(fd);
    else this.unread.add(fd);
  }

  /**
   * The irqchip pin GSI `gsi` is routed to was acked (`kvm_notify_acked_gsi`):
   * a resampled GSI is lowered and every resamplefd on it signalled.
   */
  acked(gsi: number): void {
    let lowered = false;
    for (const q of this.list) {
      if (q.gsi !== gsi || q.resamplefd < 0) continue;
      if (!lowered) {
        this.#emit("irqfd.resample", `gsi ${gsi} acked: de-asserted`);
        this.host.setGsi(gsi, 0);
        lowered = true;
      }
      const m = this.host.eventfds;
      m.set(q.resamplefd, (m.get(q.resamplefd) ?? 0) + 1);
      this.#emit("irqfd.resample", `resamplefd ${q.resamplefd} signalled`);
    }
  }
}
