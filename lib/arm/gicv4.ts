/**
 * GICv4 direct injection as KVM uses it: one vPE per vCPU, LPIs forwarded
 * from a passthrough device as vLPIs, and the two ways a vLPI reaches the
 * guest — directly when the vPE is resident, or through the VPT and a
 * doorbell when it is not.
 *
 * - `forward` is `kvm_vgic_v4_set_forwarding`: VFIO's irq-bypass producer met
 *   KVM's MSI route, so the (DeviceID, EventID) the guest mapped through its
 *   vITS becomes a vLPI (`its_map_vlpi`, KVM's `irq->hw`), and any pending
 *   state moves to the hardware. `unforward` reverses it.
 * - A vPE is resident while its vCPU runs (`vgic_v4_load`); blocking in WFI
 *   makes it non-resident with the doorbell enabled (`vgic_v4_put`). A vLPI
 *   for a resident vPE shows up at the guest's CPU interface with no exit;
 *   one for a non-resident vPE is recorded in the VPT, the doorbell fires,
 *   KVM sets `pending_last` and wakes the vCPU, which loads the vPE and
 *   then sees the vLPI.
 * - The vITS commands follow the vLPI: INV/INVALL update its properties,
 *   INT/CLEAR set/clear the hardware pending bit, MOVI/MOVALL remap it to the
 *   new vPE (VMOVI), and DISCARD unmaps it. A later MAPTI of the same event
 *   is not forwarded again — VFIO gives KVM no callback — so that LPI is
 *   delivered by software injection.
 *
 * GICv4.1 (the host setting `gic { v4_1 }`) adds direct vSGIs. KVM gives a
 * GICv3 VM GICD_TYPER2.nASSGIcap when the host has them
 * (`kvm_vgic_create`: `system_supports_direct_sgis`), and once the guest
 * sets GICD_CTLR.nASSGIreq it turns every vCPU's SGIs into vSGIs
 * (`vgic_v4_configure_vsgis` -> `vgic_v4_enable_vsgis`: `irq->hw`, the
 * enable, group and priority copied into the vPE's SGI configuration, the
 * pending state moved to the hardware); clearing it moves them back
 * (`vgic_v4_disable_vsgis`, the pending state read back). A vSGI has no
 * active state: the acknowledge only takes it out of pending and sets the
 * running priority, so EOI only drops the priority and a deactivation
 * (EOImode=1's DIR, GICR_ICACTIVER0) finds nothing to do, and
 * GICR_ISACTIVER0 cannot make it active (`vgic_mmio_change_active`). Its
 * priority keeps four bits ({@link VSGI_PRIORITY_MASK}). Like a
 * vLPI it reaches the CPU interface only while its vPE is resident, and one
 * made pending while the vCPU blocks in WFI rings the vPE's doorbell. The
 * doorbell stays enabled on GICv4.1 (`vgic_v4_init` leaves IRQ_NOAUTOEN
 * off) and is requested per non-residency, in WFI only (`vgic_v4_put`);
 * the model's `block`/`unblock` stand for both.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) chapter 5.4 "Virtual LPI support" and
 * 6 "Virtual interrupt handling" (vPE residency, doorbells, VPENDBASER);
 * Linux `arch/arm64/kvm/vgic/vgic-v4.c` (the "How KVM uses GICv4" comment,
 * `kvm_vgic_v4_set_forwarding`, `vgic_v4_load`, `vgic_v4_put`,
 * `vgic_v4_doorbell_handler`, `vgic_v4_configure_vsgis`,
 * `vgic_v4_enable_vsgis`, `vgic_v4_disable_vsgis`, `vgic_v4_sync_sgi_config`),
 * `vgic-its.c` (`update_affinity`, `its_free_ite`), `vgic-mmio.c`
 * (`vgic_mmio_write_spending`, `vgic_mmio_change_active`: a vSGI's pending
 * state is the hardware's, its active state is always clear), `vgic-mmio-v3.c`
 * (`vgic_v3_queue_sgi`: an SGI to a vSGI is made pending in the hardware,
 * `vgic_mmio_write_v3_misc`), `drivers/irqchip/irq-gic-v3-its.c`
 * (`its_build_vsgi_cmd`: the VSGI command's vPE, SGI, priority, group,
 * clear and enable fields); Arm IHI 0069
 * 12.9.4 GICD_CTLR.nASSGIreq and 12.9.39 GICD_TYPER2.nASSGIcap; seed 003
 * (the 2017 "Theory of operations" thread).
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import type { Lpi, LpiPath } from "./lpi.ts";

/**
 * The priority bits a GICv4.1 vSGI keeps: the ITS VSGI command that
 * configures it carries Priority[7:4] in its bits [23:20]
 * (`its_encode_sgi_priority` shifts KVM's priority right by 4), so the
 * vSGI is presented with the low four bits clear, whatever the guest wrote
 * to GICR_IPRIORITYR (which still reads back as written).
 *
 * @example
 * ```ts
 * 0xa8 & VSGI_PRIORITY_MASK; // 0xa0: the priority the vSGI runs at
 * ```
 */
export const VSGI_PRIORITY_MASK = 0xf0;

/**
 * One vPE.
 *
 * @example
 * ```ts
 * const vpe = new Vpe(1);
 * vpe.resident; // true: the vCPU is running
 * ```
 */
export class Vpe {
  /** VPENDBASER.Valid: scheduled on a physical redistributor. */
  resident = true;
  /** GICv4.0: doorbells are enabled only while the vCPU is blocked. */
  doorbell = false;
  /** Set by the doorbell handler: a vLPI is pending in the VPT. */
  pendingLast = false;
  /** How many vLPIs target this vPE (KVM's `vlpi_count`). */
  vlpis = 0;

  /**
   * The vPE of vCPU `vcpu`, resident (the vCPU is running).
   *
   * @example
   * ```ts
   * new Vpe(2).doorbell; // false: GICv4.0 enables it only while blocked
   * ```
   */
  constructor(readonly vcpu: number) {}
}

/**
 * A forwarding set up by VFIO through the irq-bypass manager.
 *
 * @example
 * ```ts
 * declare const v4: Gicv4;
 * const f: Forwarding | undefined = v4.forwarding(0x10, 3);
 * f?.lpi?.intid; // the vLPI, while it is forwarded
 * ```
 */
export interface Forwarding {
  /** The DeviceID of the passthrough device. */
  readonly device: number;
  /** The EventID (MSI data). */
  readonly event: number;
  /** The LPI upgraded to a vLPI, or null once DISCARD (or MAPD) unmapped it. */
  lpi: Lpi | null;
}

/**
 * The GICv4 layer of a VM.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * import { Lpi } from "./lpi.ts";
 * declare const lpi: Lpi, trace: Trace;
 * const v4 = new Gicv4(2, trace);
 * v4.forward(0x10, 3, lpi);      // lpi.forwarded === true
 * v4.block(1);                   // vCPU1 enters WFI: vPE non-resident
 * v4.pend(lpi, "MSI");           // recorded in the VPT, doorbell: vpes[1].pendingLast
 * ```
 */
export class Gicv4 {
  /** One vPE per vCPU, indexed by vcpu_id. */
  readonly vpes: Vpe[] = [];
  /** Forwardings by `device * 65536 + event`. */
  readonly forwardings: Map<number, Forwarding> = new Map();
  /** The host's GIC is a GICv4.1 (KVM's `has_gicv4_1`). */
  v41 = false;
  /**
   * GICv4.1: every vCPU's SGIs are vSGIs, tied to the vPE (KVM's
   * `irq->hw` for INTIDs 0-15), because the VM asked for nASSGIreq.
   */
  vsgis = false;

  /**
   * The GICv4 layer for `vcpus` vCPUs, every vPE resident; `name` is its
   * trace source.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * new Gicv4(4, trace).vpes.length; // 4
   * ```
   */
  constructor(vcpus: number, readonly trace: Trace, readonly name = "gicv4") {
    for (let i = 0; i < vcpus; i++) this.vpes.push(new Vpe(i));
  }

  /** The forwarding of (device, event), if any. */
  forwarding(device: number, event: number): Forwarding | undefined {
    return this.forwardings.get(device * 0x10000 + event);
  }

  /**
   * `kvm_vgic_v4_set_forwarding`: upgrade the LPI the guest mapped for
   * (device, event) to a vLPI. `lpi` is null when the vITS has no mapping
   * (KVM then leaves the route on the software path).
   */
  forward(device: number, event: number, lpi: Lpi | null): void {
    this.forwardings.set(device * 0x10000 + event, { device, event, lpi });
    if (!lpi) {
      this.#emit(
        "forward",
        `device 0x${
          device.toString(16)
        } event ${event}: no vITS mapping, stays on software injection`,
      );
      return;
    }
    lpi.forwarded = true;
    if (lpi.target >= 0) this.vpes[lpi.target].vlpis++;
    this.#emit(
      "forward",
      `device 0x${device.toString(16)} event ${event} -> vLPI ${lpi.intid} on vPE ${lpi.target}${
        lpi.pending ? " (pending state moved to the hardware)" : ""
      }`,
    );
  }

  /** `kvm_vgic_v4_unset_forwarding`: the vLPI goes back to a software LPI. */
  unforward(device: number, event: number): void {
    const key = device * 0x10000 + event;
    const f = this.forwardings.get(key);
    this.forwardings.delete(key);
    if (!f || !f.lpi || !f.lpi.forwarded) return;
    this.#unmap(f.lpi, "unforwarded");
  }

  /** DISCARD or MAPD freed the ITE of a forwarded LPI: its_unmap_vlpi. */
  iteFreed(lpi: Lpi): void {
    if (!lpi.forwarded) return;
    for (const f of this.forwardings.values()) if (f.lpi === lpi) f.lpi = null;
    this.#unmap(lpi, "ITE freed");
  }

  #unmap(lpi: Lpi, why: string): void {
    lpi.forwarded = false;
    if (lpi.target >= 0) this.vpes[lpi.target].vlpis--;
    this.#emit("unmap", `vLPI ${lpi.intid} unmapped (${why}): back to software injection`);
  }

  /**
   * The hardware makes a forwarded vLPI pending (the device's MSI, or INT /
   * KVM_SIGNAL_MSI through `irq_set_irqchip_state`). Returns the path.
   */
  pend(lpi: Lpi, why: string): LpiPath {
    const vpe = this.vpes[lpi.target];
    lpi.pending = true;
    if (vpe.resident) {
      lpi.path = "direct";
      if (!this.trace.enabled) return "direct";
      this.#emit(
        "direct",
        `${why}: vLPI ${lpi.intid} injected directly into resident vPE ${vpe.vcpu}`,
      );
      return "direct";
    }
    lpi.path = "doorbell";
    if (vpe.doorbell && lpi.enabled) {
      vpe.pendingLast = true;
      if (!this.trace.enabled) return "doorbell";
      this.#emit(
        "doorbell",
        `${why}: vLPI ${lpi.intid} recorded in vPE ${vpe.vcpu}'s VPT; doorbell fires, pending_last set`,
      );
    } else if (this.trace.enabled) {
      this.#emit("vpt", `${why}: vLPI ${lpi.intid} recorded in vPE ${vpe.vcpu}'s VPT`);
    }
    return "doorbell";
  }

  /** VMOVI: the vLPI follows its LPI to another vPE. */
  retarget(lpi: Lpi, from: number, to: number): void {
    if (!lpi.forwarded || from === to) return;
    if (from >= 0) this.vpes[from].vlpis--;
    this.vpes[to].vlpis++;
    this.#emit("vmovi", `VMOVI vLPI ${lpi.intid}: vPE ${from} -> vPE ${to}`);
    // A pending vLPI moved to a non-resident vPE rings its doorbell there.
    const vpe = this.vpes[to];
    if (lpi.pending && !vpe.resident && vpe.doorbell && lpi.enabled) vpe.pendingLast = true;
  }

  /**
   * `vgic_v4_configure_vsgis`: the SGIs of every vCPU become vSGIs (`on`)
   * or software SGIs again, their pending state carried across.
   */
  configureVsgis(on: boolean): void {
    if (this.vsgis === on) return;
    this.vsgis = on;
    this.#emit(
      "vsgi",
      on
        ? "nASSGIreq: every vCPU's SGIs become vSGIs (vgic_v4_enable_vsgis), without an active state"
        : "nASSGIreq cleared: the SGIs go back to software injection (vgic_v4_disable_vsgis)",
    );
  }

  /**
   * A vSGI of vCPU `vcpu` became pending in the hardware: a non-resident
   * vPE whose doorbell is requested gets it rung when the vSGI is enabled.
   */
  sgiPended(vcpu: number, intid: number, enabled: boolean): void {
    const vpe = this.vpes[vcpu];
    if (vpe.resident) {
      this.#emit("direct", `vSGI ${intid} injected directly into resident vPE ${vcpu}`);
      return;
    }
    if (vpe.doorbell && enabled) {
      vpe.pendingLast = true;
      this.#emit(
        "doorbell",
        `vSGI ${intid} pending for vPE ${vcpu}: doorbell fires, pending_last set`,
      );
    } else {
      this.#emit("vpt", `vSGI ${intid} pending for non-resident vPE ${vcpu}`);
    }
  }

  /** The vCPU blocks (WFI): vgic_v4_put with the doorbell enabled. */
  block(vcpu: number): void {
    const vpe = this.vpes[vcpu];
    vpe.resident = false;
    vpe.doorbell = true;
  }

  /** The vCPU runs again: vgic_v4_load makes the vPE resident, the doorbell goes quiet. */
  unblock(vcpu: number): void {
    const vpe = this.vpes[vcpu];
    vpe.resident = true;
    vpe.doorbell = false;
    vpe.pendingLast = false;
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }
}
