/**
 * The interrupt message that travels on the (virtual) APIC bus: what an IPI
 * from the ICR, an IOAPIC redirection entry and an MSI all decode to before
 * local APICs match the destination.
 *
 * Field encodings are the architectural ones (Intel SDM vol. 3, "Advanced
 * Programmable Interrupt Controller": ICR, I/O APIC redirection table, MSI
 * data register), so a message can be built straight from register bits.
 *
 * @module
 */

/** Delivery mode, bits 10:8 of the ICR, an LVT, a redirection entry or MSI data. */
export const DeliveryMode = {
  Fixed: 0b000,
  LowestPriority: 0b001,
  SMI: 0b010,
  /** Reserved in the ICR ("remote read" on the 82489DX); KVM uses it as a PV kick. */
  RemoteRead: 0b011,
  NMI: 0b100,
  INIT: 0b101,
  StartUp: 0b110,
  ExtINT: 0b111,
} as const;
export type DeliveryMode = typeof DeliveryMode[keyof typeof DeliveryMode];

/** Destination shorthand, ICR bits 19:18. */
export const Shorthand = {
  None: 0b00,
  Self: 0b01,
  AllIncludingSelf: 0b10,
  AllExcludingSelf: 0b11,
} as const;
export type Shorthand = typeof Shorthand[keyof typeof Shorthand];

/** Who sent a message, for matching rules that differ by source (KVM's x2APIC broadcast quirk). */
export type MessageSource = "ipi" | "ioapic" | "msi";

/** One interrupt message on the APIC bus. */
export interface ApicMessage {
  vector: number;
  deliveryMode: DeliveryMode;
  /** false = physical, true = logical (ICR bit 11, RTE bit 11, MSI address bit 2). */
  logical: boolean;
  /** Destination: 8-bit in xAPIC format, 32-bit in x2APIC format. */
  dest: number;
  shorthand: Shorthand;
  /** true = level-triggered (ICR bit 15, RTE bit 15, MSI data bit 15). */
  level: boolean;
  /** ICR bit 14 (assert); only meaningful for INIT level de-assert. */
  assert: boolean;
  /** APIC ID of the sender for IPIs (for self and all-excluding-self), else -1. */
  sourceId: number;
  source: MessageSource;
  /** MSI address bit 3 (redirection hint): makes the message lowest-priority in KVM. */
  redirectionHint: boolean;
}

/**
 * A blank fixed, physical, edge message to `dest` with `vector`.
 *
 * @example
 * ```ts
 * const m = fixedMessage(0x41, 1, "msi");
 * m.deliveryMode === DeliveryMode.Fixed; // true
 * ```
 */
export function fixedMessage(vector: number, dest: number, source: MessageSource): ApicMessage {
  return {
    vector,
    deliveryMode: DeliveryMode.Fixed,
    logical: false,
    dest,
    shorthand: Shorthand.None,
    level: false,
    assert: true,
    sourceId: -1,
    source,
    redirectionHint: false,
  };
}

/**
 * What the local APICs on a VM's bus offer to message senders (IOAPIC, MSI,
 * ICR). Implemented by the VM's APIC bus; the IOAPIC and MSI code depend only
 * on this.
 */
export interface ApicSink {
  /**
   * Delivers `msg` to every matching local APIC.
   * Returns how many accepted it (KVM's "CPUs reached"), or -1 if no APIC
   * matched at all.
   */
  deliver(msg: ApicMessage): number;
}

/** What receives an EOI broadcast from a local APIC (the IOAPICs, or userspace in split mode). */
export interface EoiListener {
  /** A local APIC EOI'd `vector` whose TMR bit was set (level-triggered). */
  eoi(vector: number): void;
}
