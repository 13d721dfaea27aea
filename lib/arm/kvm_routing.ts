/**
 * KVM's GSI routing on arm64 and the irqfds that use it: KVM_SET_GSI_ROUTING
 * with irqchip entries (pin n is SPI n + 32 of the one vGIC) and MSI entries
 * (to the ITS, with a DeviceID when KVM_MSI_VALID_DEVID is set), the default
 * table KVM installs at vGIC init (GSI n to pin n for every SPI), and what a
 * write to an irqfd's eventfd does.
 *
 * KVM_IRQ_LINE does not use this table on arm64 (`kvm_vm_ioctl_irq_line`
 * decodes its own irq field); irqfds do. An irqfd's injection first tries
 * the atomic path (`kvm_arch_set_irq_inatomic`): an irqchip entry raises its
 * SPI's line once the vGIC is initialised (and never lowers it: a level SPI
 * fed by an irqfd needs a resamplefd), an MSI entry is delivered only from
 * the ITS translation cache; otherwise the injection runs from a work item
 * (`irqfd_inject`: `kvm_set_irq` at level 1 then 0), where an MSI goes
 * through `kvm_set_msi` and `vgic_its_inject_msi`.
 *
 * Sources: Linux `virt/kvm/irqchip.c` (`kvm_set_irq_routing`,
 * `setup_routing_entry`), `virt/kvm/eventfd.c` (`irqfd_wakeup`,
 * `irqfd_inject`), `arch/arm64/kvm/vgic/vgic-irqfd.c`
 * (`kvm_set_routing_entry`, `vgic_irqfd_set_irq`, `kvm_set_msi`,
 * `kvm_arch_set_irq_inatomic`, `kvm_vgic_setup_default_irq_routing`),
 * `arch/arm64/include/asm/kvm_host.h` (KVM_IRQCHIP_NUM_PINS);
 * `Documentation/virt/kvm/api.rst` 4.52 KVM_SET_GSI_ROUTING, 4.75 KVM_IRQFD.
 *
 * @module
 */

import { EINVAL } from "./errno.ts";

/** KVM_MAX_IRQ_ROUTES. */
const MAX_ROUTES = 4096;
/** KVM_IRQCHIP_NUM_PINS on arm64: one pin per possible SPI. */
const NUM_PINS = 1020 - 32;
/** KVM_NR_IRQCHIPS on arm64. */
const NR_IRQCHIPS = 1;

/**
 * One routing entry as the VMM gives it (`struct kvm_irq_routing_entry`).
 *
 * @example
 * ```ts
 * const spi: ArmRoute = { gsi: 3, type: "irqchip", irqchip: 0, pin: 3, addressLo: 0, addressHi: 0, data: 0, flags: 0, devid: 0 };
 * ```
 */
export interface ArmRoute {
  /** The GSI it routes. */
  gsi: number;
  /** KVM_IRQ_ROUTING_IRQCHIP or KVM_IRQ_ROUTING_MSI. */
  type: "irqchip" | "msi";
  /** The irqchip (only 0 exists). */
  irqchip: number;
  /** The pin: SPI pin + 32. */
  pin: number;
  /** MSI address, bits 31:0. */
  addressLo: number;
  /** MSI address, bits 63:32. */
  addressHi: number;
  /** MSI data: the EventID. */
  data: number;
  /** The entry's flags: KVM_MSI_VALID_DEVID for MSI entries, else 0. */
  flags: number;
  /** MSI DeviceID. */
  devid: number;
}

/** The default tables (`setDefault`), by SPI count; shared, never changed. */
const DEFAULTS = new Map<number, { table: Map<number, ArmRoute[]>; pinGsi: Map<number, number> }>();

/**
 * The routing table of one arm64 VM.
 *
 * @example
 * ```ts
 * const r = new ArmGsiRouting();
 * r.setDefault(224);        // GSI n -> SPI n + 32, as vgic_init installs it
 * r.routes(5)[0].pin;       // 5
 * ```
 */
export class ArmGsiRouting {
  /** GSI -> its entries (public, so that explore's fingerprint sees the table). */
  table: Map<number, ArmRoute[]> = new Map();
  /**
   * Irqchip 0's pin -> the GSI of the last entry routing to it (KVM's
   * `chip[irqchip][pin]`, filled by `setup_routing_entry` in table order):
   * what `kvm_notify_acked_irq` finds when the guest EOIs that SPI.
   */
  pinGsi: Map<number, number> = new Map();

  /**
   * The GSI whose ack notifiers run when SPI `pin + 32` is EOIed
   * (`kvm_irq_map_chip_pin`), or undefined when no entry routes to it.
   *
   * @example
   * ```ts
   * const r = new ArmGsiRouting();
   * r.setDefault(32);
   * r.gsiOfPin(8); // 8
   * ```
   */
  gsiOfPin(pin: number): number | undefined {
    return this.pinGsi.get(pin);
  }

  /** The entries of a GSI (none: the irqfd injects nothing). */
  routes(gsi: number): readonly ArmRoute[] {
    return this.table.get(gsi) ?? [];
  }

  /** `kvm_vgic_setup_default_irq_routing`: GSI n to irqchip 0 pin n for each SPI. */
  setDefault(nrSpis: number): void {
    // Every VM of a size installs the same table, and a table is never
    // changed in place (`set` replaces it): they share one, built once.
    let d = DEFAULTS.get(nrSpis);
    if (d === undefined) {
      d = { table: new Map(), pinGsi: new Map() };
      for (let i = 0; i < nrSpis; i++) {
        d.pinGsi.set(i, i);
        d.table.set(i, [{
          gsi: i,
          type: "irqchip",
          irqchip: 0,
          pin: i,
          addressLo: 0,
          addressHi: 0,
          data: 0,
          flags: 0,
          devid: 0,
        }]);
      }
      DEFAULTS.set(nrSpis, d);
    }
    this.table = d.table;
    this.pinGsi = d.pinGsi;
  }

  /**
   * KVM_SET_GSI_ROUTING: replaces the table, or leaves it and returns
   * -EINVAL for too many entries, a GSI past KVM_MAX_IRQ_ROUTES, flags other
   * than KVM_MSI_VALID_DEVID on an MSI entry (any on an irqchip entry), a
   * second entry for a GSI unless both are irqchip entries of different
   * irqchips, or an irqchip entry outside the one vGIC's pins.
   */
  set(entries: readonly ArmRoute[]): number {
    if (entries.length > MAX_ROUTES) return -EINVAL;
    const next = new Map<number, ArmRoute[]>();
    const pins = new Map<number, number>();
    for (const e of entries) {
      if (e.gsi >= MAX_ROUTES) return -EINVAL;
      if (e.type === "msi" ? (e.flags & ~1) !== 0 : e.flags !== 0) return -EINVAL;
      const same = next.get(e.gsi) ?? [];
      for (const old of same) {
        if (old.type !== "irqchip" || e.type !== "irqchip" || old.irqchip === e.irqchip) {
          return -EINVAL;
        }
      }
      if (e.type === "irqchip" && (e.pin >= NUM_PINS || e.irqchip >= NR_IRQCHIPS)) return -EINVAL;
      next.set(e.gsi, [...same, e]);
      if (e.type === "irqchip") pins.set(e.pin, e.gsi);
    }
    this.table = next;
    this.pinGsi = pins;
    return 0;
  }
}
