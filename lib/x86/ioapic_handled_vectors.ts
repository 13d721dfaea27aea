/**
 * @module
 * KVM's per-vCPU `ioapic_handled_vectors` for the in-kernel I/O APIC: the
 * vectors whose EOI on that vCPU KVM forwards to the I/O APIC (clearing
 * remote IRR, running ack notifiers, ending the RTC's coalescing window).
 * Any other EOI stays in the LAPIC; with APICv it never even exits (the
 * set is the VMCS EOI-exit bitmap).
 *
 * Source, Linux `arch/x86/kvm`: `ioapic.c` `kvm_ioapic_scan_entry` (every
 * entry that is level-triggered, has an ack notifier or is the RTC's pin),
 * `ioapic_write_indirect` (which vCPUs an entry write asks to scan),
 * `kvm_arch_post_irq_ack_notifier_list_update`, `kvm_set_ioapic`; `irq.c`
 * `kvm_scan_ioapic_irq` (a vCPU the entry's destination names, or one that
 * has the vector in IRR or ISR at the scan, which also becomes the highest
 * stale vector); `x86.c` `vcpu_scan_ioapic` (no scan while the APIC is
 * hardware-disabled), `vcpu_enter_guest`, arch/x86/include/asm/kvm_host.h
 * (KVM_REQ_SCAN_IOAPIC: KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP), virt/kvm/
 * kvm_main.c (`kvm_make_vcpu_request`: no wake-up for such a request);
 * `lapic.c` `kvm_ioapic_send_eoi` (the test, and the
 * rescan after the highest stale vector's EOI), `kvm_recalculate_apic_map`
 * (every vCPU scans after the map changed).
 *
 * KVM scans at the vCPU's next entry after the request (KVM_REQ_SCAN_IOAPIC,
 * serviced in `vcpu_enter_guest` before any injection). For the vCPU that
 * made the request, and for one in the guest (the request's kick brings it
 * out at once), that is the same instant here. A vCPU blocked in the
 * kernel (HLT, waiting for INIT or SIPI) is not woken by the request
 * (KVM_REQUEST_NO_WAKEUP): it keeps its old set and scans when it next
 * enters, so a vector that reached it meanwhile (in IRR as it wakes) is in
 * the new set. Xen's vIOAPIC has no such set (`vioapic_update_EOI` hears
 * every level EOI), so a `hypervisor xen` VM does not use it.
 */
import { fieldGet } from "../core/bitfield.ts";
import type { StateHash } from "../core/platform.ts";
import { maskedWords, maskedWordsSize, restoreVersioned } from "../core/state_words.ts";
import { StateVersion } from "../core/state_version.ts";
import type { Trace } from "../core/trace.ts";
import {
  clearAllVectors,
  newVectorSet,
  setVector,
  testVector,
  type VectorSet,
} from "../core/vector_set.ts";
import type { EoiListener } from "./apic_message.ts";
import { type Ioapic, RTC_PIN, RTE } from "./ioapic.ts";
import type { Lapic } from "./lapic.ts";

/** RTE.trigger set: a level-triggered entry. */
const RTE_LEVEL = 1 << RTE.trigger.lsb;

/** What the scan reads: the I/O APIC's entries, the LAPICs, the ack notifiers. */
export interface HandledVectorsHost {
  /** The in-kernel I/O APIC. */
  ioapic: Ioapic;
  /** The vCPUs' LAPICs, by vCPU index. */
  lapics: readonly Lapic[];
  /**
   * KVM `kvm_apic_match_dest(vcpu, NULL, APIC_DEST_NOSHORT, dest, mode)`
   * for an I/O APIC message: whether `dest` in physical or logical mode
   * names `lapic`.
   */
  names(lapic: Lapic, dest: number, logical: boolean): boolean;
  /** KVM `kvm_irq_has_notifier` for the pin (a resampling irqfd on its GSI). */
  hasAckNotifier(pin: number): boolean;
  /**
   * Whether {@link HandledVectorsHost.hasAckNotifier} may hold for any pin
   * (false: it holds for none, and a scan need not ask it pin by pin).
   * Absent: it may.
   */
  mayHaveAckNotifiers?(): boolean;
  /**
   * vCPU `cpu` is blocked in the kernel (HLT, or waiting for INIT / SIPI):
   * a scan request waits for its next entry ({@link IoapicHandledVectors.entered}).
   * Absent: no vCPU ever is.
   */
  blocked?(cpu: number): boolean;
  /** Where scans and withheld EOIs are recorded. */
  trace: Trace;
}

/** Where {@link IoapicHandledVectors.hashPrivate} writes its words, grown for more vCPUs. */
let HASHED = new Int32Array(64);

/**
 * Every vCPU's `ioapic_handled_vectors`, and the EOI listener that gates the
 * I/O APIC with it.
 *
 * @example
 * ```ts
 * declare const host: HandledVectorsHost;
 * const handled = new IoapicHandledVectors(host);
 * handled.scanAll();
 * handled.handles(0, 0x9a); // true when an entry with 0x9a is level and names vCPU 0
 * ```
 */
export class IoapicHandledVectors {
  readonly #host: HandledVectorsHost;
  readonly #handled: VectorSet[] = [];
  /** Per vCPU: `highest_stale_pending_ioapic_eoi`, or -1. */
  readonly #highestStale: number[] = [];
  /** Per vCPU: KVM_REQ_SCAN_IOAPIC waits for its next entry (1), or not (0). */
  readonly #requested: number[] = [];
  /** How many vCPUs have a request waiting: 0 (the rule) makes hashing and saving them free. */
  #requestedCount = 0;
  /**
   * No scan yet since creation: the entries are as reset left them, and
   * the only vector a scan could take is the RTC pin's 0, which no EOI can
   * name (vectors 0-15 are never accepted). The first request scans every
   * vCPU, as KVM did at creation; building a VM scans nothing.
   */
  #fresh = true;
  /**
   * Bumped by every method that may write the fields above (scanAll,
   * entryWritten, listener, entered, and the scans #request and #scanOne
   * that the rest call), for `scn explore`'s digest of
   * {@link IoapicHandledVectors.hashPrivate}.
   */
  readonly #version = new StateVersion();

  /** Wires the scan to an I/O APIC and the LAPICs. */
  constructor(host: HandledVectorsHost) {
    this.#host = host;
  }

  /**
   * Whether vCPU `cpu`'s EOI of `vector` reaches the I/O APIC.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.handles(1, 0x9a);
   * ```
   */
  handles(cpu: number, vector: number): boolean {
    const s = this.#handled[cpu];
    return s !== undefined && testVector(s, vector);
  }

  /**
   * The vectors vCPU `cpu` handles, lowest first (`vcpuN.ioapic_handled_vectors`).
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.vectors(0); // [0x9a]
   * ```
   */
  vectors(cpu: number): number[] {
    this.#ensureScanned();
    const s = this.#handled[cpu], out: number[] = [];
    if (s === undefined) return out;
    for (let v = 0; v < 256; v++) if (testVector(s, v)) out.push(v);
    return out;
  }

  /**
   * `vcpu_scan_ioapic` with `kvm_ioapic_scan_entry` for vCPU `cpu`.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.scan(0);
   * ```
   */
  scan(cpu: number): void {
    this.#ensureScanned();
    this.#request(cpu, this.#scannedPins());
  }

  /**
   * KVM_REQ_SCAN_IOAPIC for vCPU `cpu` (`count` pins found): a scan now,
   * or at its next entry while it is blocked.
   */
  #request(cpu: number, count: number): void {
    this.#version.bump();
    if (this.#host.blocked?.(cpu)) {
      if (this.#requested[cpu] !== 1) {
        this.#requested[cpu] = 1;
        this.#requestedCount++;
        const t = this.#host.trace;
        if (t.enabled) {
          t.emit(
            `lapic${cpu}`,
            "scan.deferred",
            `KVM_REQ_SCAN_IOAPIC: vCPU ${cpu} is blocked, it scans at its next entry`,
          );
        }
      }
      return;
    }
    if (this.#requested[cpu] === 1) {
      this.#requested[cpu] = 0;
      this.#requestedCount--;
    }
    this.#scanOne(cpu, count);
  }

  /**
   * vCPU `cpu` enters the guest after being blocked (`vcpu_enter_guest`):
   * a scan request that waited is serviced, before any injection.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.entered(1);
   * ```
   */
  entered(cpu: number): void {
    if (this.#requested[cpu] !== 1) return;
    this.#version.bump();
    this.#requested[cpu] = 0;
    this.#requestedCount--;
    this.#scanOne(cpu, this.#scannedPins());
  }

  /** Every vCPU's first scan, at the first request. */
  #ensureScanned(): void {
    if (!this.#fresh) return;
    this.scanAll();
  }

  /**
   * The pins `kvm_ioapic_scan_entry` looks at now: level-triggered entries,
   * the RTC's pin, pins with an ack notifier (in {@link #pins}, their count
   * returned), found once for all the vCPUs a request scans.
   */
  #scannedPins(): number {
    const h = this.#host, ioapic = h.ioapic, pins = this.#pins;
    // Every LDR write scans (kvm_recalculate_apic_map): most VMs have no ack notifier to ask about.
    const notifiers = h.mayHaveAckNotifiers === undefined || h.mayHaveAckNotifiers();
    let n = 0;
    for (let pin = 0, count = ioapic.pins; pin < count; pin++) {
      if (
        (ioapic.rteLow(pin) & RTE_LEVEL) !== 0 || pin === RTC_PIN ||
        (notifiers && h.hasAckNotifier(pin))
      ) {
        pins[n++] = pin;
      }
    }
    return n;
  }

  /** Scratch for {@link #scannedPins}. */
  readonly #pins: number[] = [];

  #scanOne(cpu: number, count: number): void {
    this.#version.bump();
    const h = this.#host, lapic = h.lapics[cpu];
    if (lapic === undefined || !lapic.hardwareEnabled) return;
    const set = this.#handled[cpu] ??= newVectorSet();
    clearAllVectors(set);
    let stale = -1;
    const ioapic = h.ioapic;
    // Make sure a missing RTC EOI is seen: the tick's vector, while it awaits this vCPU's.
    const rtc = ioapic.rtcAwaitedVector(lapic.x2apicId);
    if (rtc >= 0) setVector(set, rtc);
    for (let i = 0; i < count; i++) {
      const pin = this.#pins[i], low = ioapic.rteLow(pin);
      const vector = fieldGet(RTE.vector, low);
      const logical = fieldGet(RTE.dest_mode, low) === 1;
      const dest = fieldGet(RTE.dest, low, ioapic.rteHigh(pin));
      if (h.names(lapic, dest, logical)) setVector(set, vector);
      else if (testVector(lapic.irr, vector) || testVector(lapic.isr, vector)) {
        // In flight from an earlier destination: its EOI must still reach the I/O APIC.
        setVector(set, vector);
        if (vector > stale) stale = vector;
      }
    }
    this.#highestStale[cpu] = stale;
  }

  /**
   * Every vCPU scans (`kvm_make_scan_ioapic_request`): after the APIC map
   * changed, an ack notifier came or went, KVM_SET_IRQCHIP, an entry whose
   * delivery mode is not fixed was written.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.scanAll();
   * ```
   */
  scanAll(): void {
    this.#version.bump();
    this.#fresh = false;
    const count = this.#scannedPins();
    for (let cpu = 0; cpu < this.#host.lapics.length; cpu++) this.#request(cpu, count);
  }

  /**
   * `ioapic_write_indirect` wrote entry `pin` (its words were `oldLow`,
   * `oldHigh`): with fixed delivery, the vCPUs its destination names scan,
   * and, if the destination changed, those the old destination ID names,
   * read in the new destination mode as KVM reads it; otherwise every
   * vCPU.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * handled.entryWritten(20, 0x1a09a, 0);
   * ```
   */
  entryWritten(pin: number, oldLow: number, oldHigh: number): void {
    this.#version.bump();
    const h = this.#host;
    if (this.#fresh) {
      // The creation-time scan saw every entry as reset leaves it: only the RTC
      // pin counts, masked with vector 0 and physical destination 0.
      this.#fresh = false;
      for (let cpu = 0; cpu < h.lapics.length; cpu++) {
        const set = this.#handled[cpu] ??= newVectorSet();
        clearAllVectors(set);
        if (h.names(h.lapics[cpu], 0, false)) setVector(set, 0);
        this.#highestStale[cpu] = -1;
      }
    }
    const { low, high } = h.ioapic.rte(pin);
    if (fieldGet(RTE.delivery_mode, low) !== 0) {
      this.scanAll();
      return;
    }
    const logical = fieldGet(RTE.dest_mode, low) === 1;
    const dest = fieldGet(RTE.dest, low, high), oldDest = fieldGet(RTE.dest, oldLow, oldHigh);
    const count = this.#scannedPins();
    const moved = oldDest !== dest ||
      fieldGet(RTE.dest_mode, oldLow) !== fieldGet(RTE.dest_mode, low);
    for (let cpu = 0; cpu < h.lapics.length; cpu++) {
      const l = h.lapics[cpu];
      if (h.names(l, dest, logical) || (moved && h.names(l, oldDest, logical))) {
        this.#request(cpu, count);
      }
    }
  }

  /**
   * The EOI listener of vCPU `cpu`'s LAPIC (`kvm_ioapic_send_eoi`): an EOI
   * of a vector outside the vCPU's set goes nowhere; one inside reaches the
   * I/O APIC as before, and the EOI of the highest stale vector scans again.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * const listener = handled.listener(0);
   * ```
   */
  listener(cpu: number): EoiListener {
    this.#version.bump();
    this.#handled[cpu] ??= newVectorSet();
    this.#highestStale[cpu] ??= -1;
    this.#requested[cpu] ??= 0;
    return new HandledEoiListener(this, cpu, this.#handled[cpu], this.#host.ioapic);
  }

  /** Whether vCPU `cpu`'s level EOI of `v` goes on; traces one withheld. */
  gate(cpu: number, v: number): boolean {
    return this.#gate(cpu, v);
  }

  /** After vCPU `cpu`'s EOI of `v` reached the I/O APIC: the rescan of a stale vector. */
  afterEoi(cpu: number, v: number): void {
    this.#afterEoi(cpu, v);
  }

  /** Whether the level EOI goes on; traces one withheld. */
  #gate(cpu: number, v: number): boolean {
    if (testVector(this.#handled[cpu], v)) return true;
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        `lapic${cpu}`,
        "eoi.not_handled",
        `0x${
          v.toString(16)
        } is not in vCPU ${cpu}'s ioapic_handled_vectors: the I/O APIC does not hear it`,
      );
    }
    return false;
  }

  /** KVM_REQ_SCAN_IOAPIC after the EOI of the highest stale vector. */
  #afterEoi(cpu: number, v: number): void {
    if (v === this.#highestStale[cpu]) this.#scanOne(cpu, this.#scannedPins());
  }

  /**
   * Saves the sets and returns a function that puts them back, for `scn
   * explore` (`VmModel.snapshot`). Fixed at creation, not saved: #host;
   * scratch: #pins (refilled by each scan); #version is put back with the
   * state it names.
   *
   * @example
   * ```ts
   * declare const handled: IoapicHandledVectors;
   * const restore = handled.snapshot();
   * restore();
   * ```
   */
  snapshot(): () => void {
    const sets = this.#handled.map((s) => s.slice()), stale = [...this.#highestStale];
    const fresh = this.#fresh, requestedCount = this.#requestedCount;
    const requested = requestedCount === 0 ? null : [...this.#requested];
    const version = this.#version.value;
    const put = () => {
      this.#fresh = fresh;
      if (requested !== null) {
        this.#requested.length = 0;
        this.#requested.push(...requested);
      } else if (this.#requestedCount !== 0) this.#requested.fill(0);
      this.#requestedCount = requestedCount;
      // Loops, no closure, and the list rewritten in place: emptying an array
      // frees its store, and a restore per order made a new one each time.
      const handled = this.#handled;
      for (let i = 0; i < sets.length; i++) if (sets[i] !== undefined) handled[i].set(sets[i]);
      const highest = this.#highestStale;
      if (highest.length !== stale.length) highest.length = stale.length;
      for (let i = 0; i < stale.length; i++) highest[i] = stale[i];
    };
    // Nothing to put back while the version stands (most orders of a search).
    return () => restoreVersioned(this.#version, version, this, IoapicHandledVectors.#words, put);
  }

  /** Feeds `h` the sets, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    // Unchanged in most states of a search: the digest kept with the version.
    h.versioned(this.#version, this, IoapicHandledVectors.#words);
  }

  static #words(h: StateHash, o: IoapicHandledVectors): void {
    const handled = o.#handled, stale = o.#highestStale, requested = o.#requested;
    let need = 4 + stale.length + requested.length;
    for (let i = 0; i < handled.length; i++) need += maskedWordsSize(handled[i].length);
    if (HASHED.length < need) HASHED = new Int32Array(need);
    const w = HASHED;
    // The waiting requests' count shares the word (0, the rule, adds nothing).
    w[0] = (o.#fresh ? 1 : 0) | (o.#requestedCount << 1);
    w[1] = handled.length;
    let k = 2;
    for (let i = 0; i < handled.length; i++) k = maskedWords(w, k, handled[i]);
    w[k++] = stale.length;
    for (let i = 0; i < stale.length; i++) w[k++] = stale[i];
    if (o.#requestedCount !== 0) {
      w[k++] = requested.length;
      for (let i = 0; i < requested.length; i++) w[k++] = requested[i];
    }
    // All in one call (see state_words.ts).
    h.block(w, k);
  }
}

/**
 * vCPU `cpu`'s LAPIC EOI listener: a class, so that the LAPIC's common EOI
 * calls one shape's methods (`wantsEdgeEoi` first: one bitmap test).
 */
class HandledEoiListener implements EoiListener {
  constructor(
    readonly owner: IoapicHandledVectors,
    readonly cpu: number,
    readonly set: VectorSet,
    readonly ioapic: Ioapic,
  ) {}

  eoi(v: number, vcpuId?: number): void {
    if (!this.owner.gate(this.cpu, v)) return;
    this.ioapic.eoi(v, vcpuId);
    this.owner.afterEoi(this.cpu, v);
  }

  wantsEdgeEoi(v: number): boolean {
    return ((this.set[v >>> 5] >>> (v & 31)) & 1) !== 0 && this.ioapic.wantsEdgeEoi(v);
  }

  edgeEoi(v: number, vcpuId?: number): void {
    this.ioapic.edgeEoi(v, vcpuId);
    this.owner.afterEoi(this.cpu, v);
  }

  suppressedEoi(v: number, vcpuId?: number): void {
    if (!this.owner.gate(this.cpu, v)) return;
    this.ioapic.suppressedEoi(v, vcpuId);
    this.owner.afterEoi(this.cpu, v);
  }
}
