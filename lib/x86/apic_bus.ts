/**
 * The APIC bus of one VM: takes interrupt messages (IPIs from an ICR, IOAPIC
 * redirection entries, MSIs), finds the local APICs the destination names,
 * and hands the message to them.
 *
 * Sources: Intel SDM vol. 3, "Advanced Programmable Interrupt Controller
 * (APIC)" chapter: "Determining IPI Destination" (physical, logical flat and
 * cluster models, broadcast), "Destination Shorthands", "Lowest Priority
 * Delivery Mode". Lowest-priority arbitration is a named policy because
 * emulators differ: Linux KVM hashes the vector over the candidates
 * (`arch/x86/kvm/lapic.c`, vector hashing, on by default), QEMU TCG takes the
 * first APIC in the destination mask (`hw/intc/apic.c`).
 *
 * xAPIC matching only; x2APIC destinations (32-bit IDs, derived LDR) come
 * with x2APIC support in the LAPIC.
 *
 * @module
 */

import type { Trace } from "../core/trace.ts";
import { type ApicMessage, DeliveryMode, Shorthand } from "./apic_message.ts";
import { Accept, type IpiSink, type Lapic } from "./lapic.ts";

/** How one lowest-priority message picks its single target. */
export type LowestPriorityPolicy = "kvm-vector-hashing" | "first";

/** Bus options. */
export interface ApicBusOptions {
  /** Default `"kvm-vector-hashing"`. */
  lowestPriority?: LowestPriorityPolicy;
  /** Trace source name, default `apicbus`. */
  name?: string;
}

function hex(v: number): string {
  return "0x" + (v >>> 0).toString(16);
}

/**
 * The local APICs of one VM and the destination logic between them.
 * vCPU index = position in {@link ApicBus.lapics}.
 *
 * @example
 * ```ts
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
  /** The lowest-priority arbitration in use. */
  readonly lowestPriority: LowestPriorityPolicy;
  readonly #trace: Trace;
  readonly #name: string;
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
   * const bus = new ApicBus(trace, { lowestPriority: "first" });
   * ```
   */
  constructor(trace: Trace, options: ApicBusOptions = {}) {
    this.#trace = trace;
    this.lowestPriority = options.lowestPriority ?? "kvm-vector-hashing";
    this.#name = options.name ?? "apicbus";
  }

  /**
   * Adds the next vCPU's APIC; returns its vCPU index.
   *
   * @example
   * ```ts
   * bus.attach(new Lapic(0, host)); // 0
   * ```
   */
  attach(lapic: Lapic): number {
    this.lapics.push(lapic);
    return this.lapics.length - 1;
  }

  /**
   * Delivers a message from a device (IOAPIC, MSI). Shorthands resolve "self"
   * through `msg.sourceId` (the sender's APIC ID). Returns KVM's count: how
   * many accepted; a destination naming no APIC gives 0, except for broadcasts
   * and the all / all-but-self shorthands, which give -1 (KVM's slow path).
   *
   * @example
   * ```ts
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
   * bus.deliverFrom(bus.lapics[0], ipi);
   * ```
   */
  deliverFrom(sender: Lapic, msg: ApicMessage): number {
    return this.#deliver(sender, msg);
  }

  /**
   * Whether `lapic` is named by `msg`'s destination (shorthand, physical, or
   * logical flat/cluster); `sender` identifies "self" (null: by `msg.sourceId`).
   *
   * @example
   * ```ts
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
    const mda = msg.dest & 0xff;
    // 0xFF is broadcast in both physical and logical xAPIC destinations.
    if (mda === 0xff) return true;
    if (!msg.logical) return lapic.id === mda;
    const logicalId = lapic.ldr >>> 24;
    switch (lapic.dfr >>> 28) {
      case 0xf:
        return (logicalId & mda) !== 0;
      case 0x0:
        return (logicalId >>> 4) === (mda >>> 4) && (logicalId & mda & 0xf) !== 0;
      default:
        // Other DFR models are undefined; nothing matches (KVM).
        return false;
    }
  }

  #deliver(sender: Lapic | null, original: ApicMessage): number {
    const t = this.#trace;
    let msg = original;
    let lowest = msg.deliveryMode === DeliveryMode.LowestPriority || msg.redirectionHint;
    if (
      lowest && this.lowestPriority === "kvm-vector-hashing" && !msg.logical &&
      msg.shorthand === Shorthand.None && (msg.dest & 0xff) === 0xff
    ) {
      // KVM turns a physical-broadcast lowest-priority message into a fixed
      // one. The redirection hint survives, so an RH MSI stays lowest-priority.
      msg = Object.assign(this.#scratch, original);
      msg.deliveryMode = DeliveryMode.Fixed;
      lowest = msg.redirectionHint;
      if (t.enabled) t.emit(this.#name, "lowest.broadcast", "physical broadcast made fixed");
    }
    const apics = this.lapics;
    // KVM answers from its APIC map when it can (kvm_irq_delivery_to_apic_fast):
    // a destination that names no vCPU then counts 0, "dropped". Broadcasts and
    // the all / all-but-self shorthands take the slow path, where matching
    // nobody leaves the result at -1.
    const broadcast = (msg.dest & 0xff) === 0xff ||
      (msg.shorthand !== Shorthand.None && msg.shorthand !== Shorthand.Self);
    let result = broadcast ? -1 : 0;
    if (!lowest) {
      for (let i = 0; i < apics.length; i++) {
        const l = apics[i];
        // A hardware-disabled APIC is off the bus.
        if (!l.hardwareEnabled || !this.matches(l, msg, sender)) continue;
        if (result < 0) result = 0;
        if (l.accept(msg) !== Accept.Dropped) result++;
      }
    } else {
      const target = this.#pickLowest(msg, sender);
      if (target >= 0) {
        const l = apics[target];
        if (t.enabled) {
          t.emit(
            this.#name,
            "lowest",
            `${hex(msg.vector)} -> vcpu${target} (${this.lowestPriority})`,
          );
        }
        result = l.accept(msg) !== Accept.Dropped ? 1 : 0;
      }
    }
    if (result <= 0 && t.enabled && !this.#anyMatch(msg, sender)) {
      t.emit(
        this.#name,
        "nomatch",
        `${hex(msg.vector)} ${msg.logical ? "logical" : "physical"} dest ${hex(msg.dest)}: no APIC`,
      );
    }
    return result;
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
