/**
 * The APIC bus of one VM: takes interrupt messages (IPIs from an ICR, IOAPIC
 * redirection entries, MSIs), finds the local APICs the destination names,
 * and hands the message to them.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller
 * (APIC)" chapter: "Determining IPI Destination" (physical, logical flat and
 * cluster models, broadcast), "Destination Shorthands", "Lowest Priority
 * Delivery Mode", and for x2APIC "Logical Destination Mode in x2APIC Mode"
 * and "Interrupt Command Register (ICR)" (32-bit destination, broadcast
 * 0xFFFFFFFF). Lowest-priority arbitration is a named policy because
 * emulators differ: Linux KVM hashes the vector over the candidates
 * (`arch/x86/kvm/lapic.c`, vector hashing, on by default), QEMU TCG takes the
 * first APIC in the destination mask (`hw/intc/apic.c`).
 *
 * Matching follows KVM's `kvm_apic_match_dest` per target, so a VM may mix
 * xAPIC- and x2APIC-mode vCPUs. KVM_CAP_X2APIC_API choices are options:
 * - the x2APIC broadcast quirk (on unless DISABLE_BROADCAST_QUIRK): a
 *   non-IPI message (IOAPIC, MSI) to 0xFF reaches an x2APIC-mode target as
 *   the x2APIC broadcast 0xFFFFFFFF (`kvm_apic_mda`); an IPI never is;
 * - USE_32BIT_IDS: KVM's APIC map then keeps one vCPU per physical ID (the
 *   x2APIC-mode one, else the lowest-numbered xAPIC one), so aliased xAPIC
 *   IDs no longer all receive (`kvm_recalculate_phys_map`).
 *
 * With KVM's policy the bus answers as KVM does: from KVM's APIC map when
 * it has one ({@link KvmApicMap}: a message to nobody counts 0, logical
 * lowest priority hashes over the destination's bits), else by asking
 * every vCPU (-1 when none matches).
 *
 * @module
 */

import type { Trace } from "../core/trace.ts";
import { type ApicMessage, DeliveryMode, Shorthand } from "./apic_message.ts";
import { Accept, type IpiSink, type Lapic } from "./lapic.ts";
import { KvmApicMap, LogicalMode, vectorToIndex } from "./kvm_apic_map.ts";
import { dfrModel } from "./lapic_registers.ts";
import type { StateHash } from "../core/platform.ts";

/** {@link ApicBus}'s map declined: KVM asks every vCPU. */
const SLOW_PATH = -2;

/** How one lowest-priority message picks its single target. */
export type LowestPriorityPolicy = "kvm-vector-hashing" | "first";

/** Bus options. */
export interface ApicBusOptions {
  /** Default `"kvm-vector-hashing"`. */
  lowestPriority?: LowestPriorityPolicy;
  /** Trace source name, default `apicbus`. */
  name?: string;
  /** KVM_CAP_X2APIC_API flags (all off by default, as in KVM). */
  x2apicApi?: X2apicApiFlags;
}

/** KVM_ENABLE_CAP(KVM_CAP_X2APIC_API) flags (Documentation/virt/kvm/api.rst). */
export interface X2apicApiFlags {
  /** KVM_X2APIC_API_USE_32BIT_IDS (1): 32-bit x2APIC IDs in MSIs and one vCPU per physical ID. */
  use32BitIds?: boolean;
  /** KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK (2): 0xFF is an ordinary x2APIC ID for IOAPIC/MSI. */
  disableBroadcastQuirk?: boolean;
}

/** The xAPIC physical/logical broadcast destination. */
export const XAPIC_BROADCAST = 0xff;
/** The x2APIC broadcast destination. */
export const X2APIC_BROADCAST = 0xffffffff;

function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}

/**
 * The local APICs of one VM and the destination logic between them.
 * vCPU index = position in {@link ApicBus.lapics}.
 *
 * @example
 * ```ts
 * import { type EoiListener, fixedMessage } from "./apic_message.ts";
 * import { Lapic } from "./lapic.ts";
 * import { Trace } from "../../mod.ts";
 * declare const eoiListener: EoiListener, trace: Trace;
 * const bus = new ApicBus(trace);
 * const host = (i: number) => ({ sink: bus, eoiListener, trace, name: `lapic${i}`, bsp: i === 0 });
 * bus.attach(new Lapic(0, host(0)));
 * bus.attach(new Lapic(1, host(1)));
 * bus.deliver(fixedMessage(0x41, 1, "msi")); // 1 (if vCPU1 is software-enabled)
 * ```
 */
export class ApicBus implements IpiSink {
  /** The APICs, by vCPU index. */
  readonly lapics: Lapic[] = [];
  readonly #lowestPriority: LowestPriorityPolicy;
  /** KVM_X2APIC_API_USE_32BIT_IDS (set by {@link ApicBus.enableX2apicApi}). */
  use32BitIds: boolean;
  /** KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK (set by {@link ApicBus.enableX2apicApi}). */
  broadcastQuirkDisabled: boolean;

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    // The LAPICs themselves (each by `h.value`: the vCPUs share them), not
    // the array first: the array is the bus's own.
    const lapics = this.lapics;
    h.n(lapics.length);
    for (let i = 0; i < lapics.length; i++) h.value(lapics[i]);
    h.bool(this.use32BitIds);
    h.bool(this.broadcastQuirkDisabled);
  }
  /**
   * The lowest-priority arbitration in use. Fixed at creation: an accessor
   * rather than a field, so that `scn explore`'s fingerprint need not hash
   * it at every state.
   */
  get lowestPriority(): LowestPriorityPolicy {
    return this.#lowestPriority;
  }
  readonly #trace: Trace;
  readonly #name: string;
  /** `lowestPriority` is KVM's vector hashing: KVM's map decides (asked per delivery). */
  readonly #kvm: boolean;
  /** KVM's APIC map, brought up to date before each delivery. */
  readonly #map: KvmApicMap;
  /** Scratch copy so a rewritten message never changes the sender's object. */
  readonly #scratch: ApicMessage = {
    vector: 0,
    deliveryMode: DeliveryMode.Fixed,
    logical: false,
    dest: 0,
    shorthand: Shorthand.None,
    level: false,
    assert: true,
    sourceId: -1,
    source: "ipi",
    redirectionHint: false,
  };

  /**
   * Makes an empty bus.
   *
   * @example
   * ```ts
   * import { Trace } from "../../mod.ts";
   * declare const trace: Trace;
   * const bus = new ApicBus(trace, { lowestPriority: "first" });
   * ```
   */
  constructor(trace: Trace, options: ApicBusOptions = {}) {
    this.#trace = trace;
    this.#lowestPriority = options.lowestPriority ?? "kvm-vector-hashing";
    this.#kvm = this.#lowestPriority === "kvm-vector-hashing";
    this.#name = options.name ?? "apicbus";
    this.use32BitIds = options.x2apicApi?.use32BitIds ?? false;
    this.broadcastQuirkDisabled = options.x2apicApi?.disableBroadcastQuirk ?? false;
    this.#map = new KvmApicMap(this.use32BitIds);
  }

  /**
   * For `scn explore`'s snapshots (`VmModel.snapshot`): saves the x2APIC
   * API flags and returns a function that puts them back. Fixed at
   * creation: lapics (attached once), #lowestPriority, #kvm, #trace, #name;
   * #scratch is rewritten by every delivery; KVM's map (#map) is derived
   * from the LAPICs and the flags: its own snapshot keeps it, or makes it
   * recalculate when it changed since.
   */
  snapshot(): () => void {
    const use32BitIds = this.use32BitIds, broadcastQuirkDisabled = this.broadcastQuirkDisabled;
    // Brought up to date first (it is derived, and read only after an update):
    // a map still to recalculate here was recalculated, and so forgotten, in
    // every order started from the snapshot.
    this.#map.update(this.lapics);
    const map = this.#map.snapshot();
    return () => {
      this.use32BitIds = use32BitIds;
      this.broadcastQuirkDisabled = broadcastQuirkDisabled;
      map();
    };
  }

  /**
   * KVM_CAP_X2APIC_API made after the bus was built: a flag once set stays
   * set (x86.c only ever sets `x2apic_format` and
   * `x2apic_broadcast_quirk_disabled`). The broadcast rule applies from the
   * next message; 32-bit IDs reach the APIC map at its next recalculation.
   *
   * @example
   * ```ts
   * declare const bus: ApicBus;
   * bus.enableX2apicApi({ disableBroadcastQuirk: true });
   * ```
   */
  enableX2apicApi(flags: X2apicApiFlags): void {
    if (flags.use32BitIds) this.use32BitIds = this.#map.use32BitIds = true;
    if (flags.disableBroadcastQuirk) this.broadcastQuirkDisabled = true;
  }

  /**
   * Adds the next vCPU's APIC; returns its vCPU index.
   *
   * @example
   * ```ts
   * import { Lapic, type LapicHost } from "./lapic.ts";
   * declare const bus: ApicBus, host: LapicHost;
   * bus.attach(new Lapic(0, host)); // 0
   * ```
   */
  attach(lapic: Lapic): number {
    this.lapics.push(lapic);
    return this.lapics.length - 1;
  }

  /**
   * KVM's APIC map as it stands now (recalculated first, as KVM does after
   * an ID, LDR, DFR or mode change): what the PV IPI hypercall indexes.
   *
   * @example
   * ```ts
   * declare const bus: ApicBus;
   * bus.kvmMap().physAt(0); // 0: vCPU 0 has APIC ID 0 after reset
   * ```
   */
  kvmMap(): KvmApicMap {
    this.#map.update(this.lapics);
    return this.#map;
  }

  /**
   * Delivers a message from a device (IOAPIC, MSI). Shorthands resolve "self"
   * through `msg.sourceId` (the sender's APIC ID). Returns KVM's count: how
   * many accepted; a destination naming no APIC gives 0, except for
   * broadcasts (as `kvm_apic_is_broadcast_dest` decides) and the all /
   * all-but-self shorthands, which give -1 (KVM's slow path).
   *
   * @example
   * ```ts
   * import { fixedMessage } from "./apic_message.ts";
   * declare const bus: ApicBus;
   * bus.deliver(fixedMessage(0x41, 0xff, "ioapic")); // broadcast
   * ```
   */
  deliver(msg: ApicMessage): number {
    return this.#deliver(null, msg);
  }

  /**
   * Delivers an IPI from `sender`, so self / all-excluding-self are exact even
   * when xAPIC IDs alias. Same return value as {@link ApicBus.deliver}.
   *
   * @example
   * ```ts
   * import type { ApicMessage } from "./apic_message.ts";
   * declare const bus: ApicBus, ipi: ApicMessage;
   * bus.deliverFrom(bus.lapics[0], ipi);
   * ```
   */
  deliverFrom(sender: Lapic, msg: ApicMessage): number {
    return this.#deliver(sender, msg);
  }

  /**
   * Whether `lapic` is named by `msg`'s destination (shorthand, physical, or
   * logical: xAPIC flat/cluster, x2APIC cluster); `sender` identifies "self"
   * (null: by `msg.sourceId`). Per target, as KVM's `kvm_apic_match_dest`:
   * the broadcast ID is 0xFF for an xAPIC-mode target and 0xFFFFFFFF for an
   * x2APIC-mode one, after the broadcast quirk rewrote a non-IPI 0xFF.
   *
   * @example
   * ```ts
   * import { type ApicMessage } from "./apic_message.ts";
   * declare const bus: ApicBus, msg: ApicMessage;
   * bus.matches(bus.lapics[1], msg, null);
   * ```
   */
  matches(lapic: Lapic, msg: ApicMessage, sender: Lapic | null): boolean {
    switch (msg.shorthand) {
      case Shorthand.Self:
        return sender ? lapic === sender : lapic.id === msg.sourceId;
      case Shorthand.AllIncludingSelf:
        return true;
      case Shorthand.AllExcludingSelf:
        return sender ? lapic !== sender : lapic.id !== msg.sourceId;
    }
    const x2 = lapic.x2apicMode;
    let mda = msg.dest >>> 0;
    if (
      x2 && mda === XAPIC_BROADCAST && msg.source !== "ipi" && !this.broadcastQuirkDisabled
    ) {
      // Without interrupt remapping an IOAPIC/MSI cannot name the x2APIC broadcast.
      mda = X2APIC_BROADCAST;
    }
    if (mda === (x2 ? X2APIC_BROADCAST : XAPIC_BROADCAST)) return true;
    if (!msg.logical) {
      // KVM's hotplug rule: an ID no xAPIC can have is compared with the x2APIC ID.
      if (x2 || mda > 0xff) return mda === lapic.x2apicId;
      return mda === lapic.xapicId;
    }
    const ldr = lapic.ldr;
    if (x2) return (ldr >>> 16) === (mda >>> 16) && (ldr & mda & 0xffff) !== 0;
    const logicalId = ldr >>> 24;
    switch (dfrModel(lapic.dfr)) {
      case "flat":
        return (logicalId & mda) !== 0;
      case "cluster":
        return (logicalId >>> 4) === (mda >>> 4) && (logicalId & mda & 0xf) !== 0;
      default:
        // Other DFR models are undefined; nothing matches (KVM).
        return false;
    }
  }

  /**
   * KVM `kvm_apic_is_broadcast_dest`: whether a message goes to KVM's slow
   * path as a broadcast (then matching nobody counts -1, not 0). With the
   * quirk on: 0xFFFFFFFF for an IPI from an x2APIC-mode sender, else 0xFF.
   * With it off: 0xFFFFFFFF, or 0xFF unless every software-enabled APIC with
   * a logical ID is in x2APIC mode (KVM's logical map mode).
   *
   * @example
   * ```ts
   * import { fixedMessage } from "./apic_message.ts";
   * declare const bus: ApicBus;
   * bus.isBroadcastDest(fixedMessage(0x41, 0xff, "ioapic"), null); // true
   * ```
   */
  isBroadcastDest(msg: ApicMessage, sender: Lapic | null): boolean {
    const dest = msg.dest >>> 0;
    if (this.broadcastQuirkDisabled) {
      if (dest === X2APIC_BROADCAST) return true;
      this.#map.update(this.lapics);
      return dest === XAPIC_BROADCAST && this.#map.logicalMode !== LogicalMode.X2apic;
    }
    const x2ipi = msg.source === "ipi" && sender !== null && sender.x2apicMode;
    return dest === (x2ipi ? X2APIC_BROADCAST : XAPIC_BROADCAST);
  }

  #deliver(sender: Lapic | null, original: ApicMessage): number {
    const t = this.#trace;
    const kvm = this.#kvm;
    if (kvm) this.#map.update(this.lapics);
    let msg = original;
    let lowest = msg.deliveryMode === DeliveryMode.LowestPriority || msg.redirectionHint;
    const broadcastDest = msg.shorthand === Shorthand.None && this.isBroadcastDest(msg, sender);
    if (
      lowest && kvm && !msg.logical &&
      broadcastDest && msg.dest === XAPIC_BROADCAST
    ) {
      msg = this.#madeFixed(original);
      lowest = msg.redirectionHint;
    }
    let result: number;
    if (kvm) {
      // KVM answers from its APIC map when it can (kvm_irq_delivery_to_apic_fast),
      // else asks every vCPU (the slow path, where matching nobody gives -1).
      result = this.#fromMap(msg, sender, lowest, broadcastDest);
      if (result === SLOW_PATH) result = this.#slowPath(msg, sender, lowest);
    } else {
      result = this.#everyApic(msg, sender, lowest, broadcastDest);
    }
    if (result <= 0 && t.enabled) this.#traceNoMatch(msg, sender);
    return result;
  }

  /**
   * KVM turns a physical-broadcast lowest-priority message into a fixed one.
   * The redirection hint survives, so an RH MSI stays lowest-priority.
   */
  #madeFixed(original: ApicMessage): ApicMessage {
    const msg = Object.assign(this.#scratch, original);
    msg.deliveryMode = DeliveryMode.Fixed;
    const t = this.#trace;
    if (t.enabled) t.emit(this.#name, "lowest.broadcast", "physical broadcast made fixed");
    return msg;
  }

  #traceNoMatch(msg: ApicMessage, sender: Lapic | null): void {
    if (this.#anyMatch(msg, sender)) return;
    this.#trace.emit(
      this.#name,
      "nomatch",
      `${hex(msg.vector)} ${msg.logical ? "logical" : "physical"} dest ${hex(msg.dest)}: no APIC`,
    );
  }

  /**
   * `kvm_irq_delivery_to_apic_fast`: the answer of KVM's APIC map
   * ({@link KvmApicMap}), or {@link SLOW_PATH} where KVM has none (a
   * broadcast, a shorthand other than a sender's self, no map, a disabled
   * logical table).
   */
  #fromMap(
    msg: ApicMessage,
    sender: Lapic | null,
    lowest: boolean,
    broadcastDest: boolean,
  ): number {
    if (msg.shorthand === Shorthand.Self && sender !== null) {
      return sender.accept(msg) !== Accept.Dropped ? 1 : 0;
    }
    if (msg.shorthand !== Shorthand.None || broadcastDest) return SLOW_PATH;
    const map = this.#map;
    if (!map.valid) return SLOW_PATH;
    if (!msg.logical) {
      // One APIC per physical ID, lowest priority or not.
      const i = map.physAt(msg.dest >>> 0);
      return i >= 0 && this.lapics[i].accept(msg) !== Accept.Dropped ? 1 : 0;
    }
    return this.#fromLogicalMap(msg, lowest);
  }

  /** {@link ApicBus.#fromMap} for a logical destination. */
  #fromLogicalMap(msg: ApicMessage, lowest: boolean): number {
    const map = this.#map;
    const apics = this.lapics;
    const dest = msg.dest >>> 0;
    const mask = map.logicalMask(dest);
    if (mask < 0) return SLOW_PATH;
    if (lowest && mask !== 0) {
      // Vector hashing over the destination's bits, not over the vCPUs
      // behind them; no APIC at the chosen bit drops the message.
      const bit = vectorToIndex(msg.vector, mask);
      const i = map.logicalAt(dest, bit);
      if (this.#trace.enabled) {
        this.#trace.emit(
          this.#name,
          "lowest",
          `${hex(msg.vector)} -> logical bit ${bit}: ${
            i >= 0 ? `vcpu${i}` : "no APIC"
          } (${this.lowestPriority})`,
        );
      }
      return i >= 0 && apics[i].accept(msg) !== Accept.Dropped ? 1 : 0;
    }
    let result = 0;
    for (let b = 0; b < 16; b++) {
      if ((mask & (1 << b)) === 0) continue;
      const i = map.logicalAt(dest, b);
      if (i >= 0 && apics[i].accept(msg) !== Accept.Dropped) result++;
    }
    return result;
  }

  /**
   * KVM's slow path (`kvm_irq_delivery_to_apic` after the map declined):
   * every present APIC the destination names; lowest priority hashes the
   * vector over the software-enabled ones in vCPU order. -1 when none matched.
   */
  #slowPath(msg: ApicMessage, sender: Lapic | null, lowest: boolean): number {
    const apics = this.lapics;
    let result = -1;
    if (!lowest) {
      for (let i = 0; i < apics.length; i++) {
        const l = apics[i];
        if (!l.hardwareEnabled || !this.matches(l, msg, sender)) continue;
        if (result < 0) result = 0;
        if (l.accept(msg) !== Accept.Dropped) result++;
      }
      return result;
    }
    const target = this.#pickLowest(msg, sender);
    if (target < 0) return result;
    if (this.#trace.enabled) {
      this.#trace.emit(
        this.#name,
        "lowest",
        `${hex(msg.vector)} -> vcpu${target} (${this.lowestPriority})`,
      );
    }
    return apics[target].accept(msg) !== Accept.Dropped ? 1 : 0;
  }

  /**
   * Every APIC the destination names, without KVM's map (QEMU's APIC,
   * `lowest_priority first`): as the slow path, but a destination that
   * names nobody counts 0 unless it is a broadcast or all / all-but-self.
   */
  #everyApic(
    msg: ApicMessage,
    sender: Lapic | null,
    lowest: boolean,
    broadcastDest: boolean,
  ): number {
    const r = this.#slowPath(msg, sender, lowest);
    const broadcast = broadcastDest ||
      (msg.shorthand !== Shorthand.None && msg.shorthand !== Shorthand.Self);
    return r < 0 && !broadcast ? 0 : r;
  }

  #anyMatch(msg: ApicMessage, sender: Lapic | null): boolean {
    for (const l of this.lapics) if (l.hardwareEnabled && this.matches(l, msg, sender)) return true;
    return false;
  }

  /** The vCPU index a lowest-priority message goes to, or -1. Allocation-free. */
  #pickLowest(msg: ApicMessage, sender: Lapic | null): number {
    const apics = this.lapics;
    if (this.lowestPriority === "first") {
      for (let i = 0; i < apics.length; i++) {
        const l = apics[i];
        if (l.hardwareEnabled && this.matches(l, msg, sender)) return i;
      }
      return -1;
    }
    // KVM vector hashing: the (vector mod n)-th of the n software-enabled matches.
    let n = 0;
    for (let i = 0; i < apics.length; i++) {
      const l = apics[i];
      if (l.hardwareEnabled && l.softwareEnabled && this.matches(l, msg, sender)) n++;
    }
    if (n === 0) return -1;
    let k = (msg.vector & 0xff) % n;
    for (let i = 0; i < apics.length; i++) {
      const l = apics[i];
      if (l.hardwareEnabled && l.softwareEnabled && this.matches(l, msg, sender)) {
        if (k === 0) return i;
        k--;
      }
    }
    return -1;
  }
}
