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

/**
 * Delivery mode names (snake_case of the SDM's) for the register field
 * tables, by encoding: every mode an ICR or LVT can name. `remote_read` is
 * reserved in the ICR of integrated APICs.
 *
 * @example
 * ```ts
 * DELIVERY_MODE_VALUES.extint === DeliveryMode.ExtINT; // true
 * ```
 */
export const DELIVERY_MODE_VALUES = {
  fixed: DeliveryMode.Fixed,
  lowest: DeliveryMode.LowestPriority,
  smi: DeliveryMode.SMI,
  remote_read: DeliveryMode.RemoteRead,
  nmi: DeliveryMode.NMI,
  init: DeliveryMode.INIT,
  startup: DeliveryMode.StartUp,
  extint: DeliveryMode.ExtINT,
} as const;

/**
 * The delivery modes an I/O APIC redirection entry or an MSI can carry
 * (82093AA datasheet, SDM "Message Data Register Format"): 0b011 and 0b110
 * are reserved there.
 *
 * @example
 * ```ts
 * "startup" in MESSAGE_DELIVERY_MODE_VALUES; // false
 * ```
 */
export const MESSAGE_DELIVERY_MODE_VALUES = {
  fixed: DeliveryMode.Fixed,
  lowest: DeliveryMode.LowestPriority,
  smi: DeliveryMode.SMI,
  nmi: DeliveryMode.NMI,
  init: DeliveryMode.INIT,
  extint: DeliveryMode.ExtINT,
} as const;

/**
 * Trigger mode names (ICR, LVT, RTE bit 15; MSI data bit 15).
 *
 * @example
 * ```ts
 * TRIGGER_VALUES.level; // 1
 * ```
 */
export const TRIGGER_VALUES = { edge: 0, level: 1 } as const;

/**
 * Destination mode names (ICR and RTE bit 11, MSI address bit 2).
 *
 * @example
 * ```ts
 * DEST_MODE_VALUES.logical; // 1
 * ```
 */
export const DEST_MODE_VALUES = { physical: 0, logical: 1 } as const;

/** Destination shorthand, ICR bits 19:18. */
export const Shorthand = {
  None: 0b00,
  Self: 0b01,
  AllIncludingSelf: 0b10,
  AllExcludingSelf: 0b11,
} as const;
export type Shorthand = typeof Shorthand[keyof typeof Shorthand];

/**
 * Who sent a message, for matching rules that differ by source (KVM's x2APIC
 * broadcast quirk applies to everything but IPIs). `local` is an LVT
 * interrupt (timer, LINT, error) that never leaves its local APIC.
 */
export type MessageSource = "ipi" | "ioapic" | "msi" | "local";

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
  /**
   * A local APIC EOI'd `vector` whose TMR bit was set (level-triggered).
   * `vcpuId` (every EOI argument of that name) is the EOIing LAPIC's vCPU
   * ID, its initial x2APIC ID: KVM's RTC tracking counts only its own
   * destinations' EOIs.
   */
  eoi(vector: number, vcpuId?: number): void;
  /**
   * Whether the EOI of edge-triggered (TMR clear) `vector` must reach
   * {@link EoiListener.edgeEoi}: KVM intercepts only the vectors in its
   * `ioapic_handled_vectors` (the RTC's, while a tick awaits EOI). Absent:
   * no edge EOI is wanted.
   */
  wantsEdgeEoi?(vector: number): boolean;
  /** A local APIC EOI'd edge-triggered `vector` that {@link EoiListener.wantsEdgeEoi} asked for. */
  edgeEoi?(vector: number, vcpuId?: number): void;
  /**
   * KVM's split irqchip: whether the EOI of `vector` exits to userspace
   * (`KVM_EXIT_IOAPIC_EOI`), i.e. `vector` is in the vCPU's
   * `ioapic_handled_vectors` (level MSI routes of the reserved I/O APIC
   * GSIs that target it). KVM decides this before it looks at TMR or SVR
   * bit 12 (`kvm_ioapic_send_eoi`), so when this says yes
   * {@link EoiListener.exitEoi} is called and `eoi` / `edgeEoi` are not.
   * Absent: no EOI exits (in-kernel I/O APIC).
   */
  exitsOnEoi?(vector: number): boolean;
  /** The EOI of `vector` exits to userspace ({@link EoiListener.exitsOnEoi} said yes). */
  exitEoi?(vector: number): void;
  /**
   * A local APIC EOI'd level-triggered `vector` with SVR bit 12 suppressing
   * the broadcast. KVM's I/O APIC still runs its ack notifiers for the pins
   * with that vector and leaves remote IRR alone (`kvm_ioapic_update_eoi_one`
   * checks the bit after notifying). Absent: nothing hears it.
   */
  suppressedEoi?(vector: number, vcpuId?: number): void;
}
