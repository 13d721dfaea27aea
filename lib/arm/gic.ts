/**
 * A VM's GIC put together: the distributor, one redistributor and CPU
 * interface per vCPU, the LPIs, the ITS and the GICv4 layer, and the paths
 * between them — which interrupts a vCPU's CPU interface can see, SGI
 * generation (ICC_SGI1R_EL1, GICD_SGIR), KVM's injection rules
 * (KVM_IRQ_LINE, KVM_SIGNAL_MSI, device ownership of PPIs) and whether a
 * vCPU is signalled an IRQ or an FIQ.
 *
 * With GICv3 (DS=1, as KVM presents it) Group 0 is signalled as FIQ and
 * Group 1 as IRQ; with GICv2 Group 0 is FIQ only when GICC_CTLR.FIQEn=1.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 4.6 "Interrupt grouping" (Table 4-3),
 * 12.2.21 ICC_SGI1R_EL1; Arm IHI 0048B (GICv2) 3.6 and 4.3.15 GICD_SGIR;
 * Linux `arch/arm64/kvm/vgic/vgic.c` (`kvm_vgic_inject_irq`,
 * `vgic_validate_injection`), `vgic-mmio-v3.c` (`vgic_v3_dispatch_sgi`),
 * `vgic-its.c` (`vgic_its_inject_msi`, `vgic_msi_to_its`),
 * `arch/arm64/kvm/arm.c` (`kvm_vm_ioctl_irq_line`).
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import {
  type IrqBank,
  LPI_BASE,
  OWNER_NONE,
  PRIORITY_MASK,
  PRIVATE_COUNT,
  SGI_COUNT,
} from "./irq_state.ts";
import { Distributor } from "./gicv3_distributor.ts";
import { GicrOffset, kvmMpidr, type LpiInvalidator, Redistributor } from "./gicv3_redistributor.ts";
import {
  type Candidate,
  CpuInterface,
  newCandidate,
  type PendingView,
} from "./cpu_interface_v3.ts";
import { type Lpi, LpiTable } from "./lpi.ts";
import { EBUSY, GITS_TRANSLATER, Its, type ItsHost } from "./its.ts";
import { Gicv4 } from "./gicv4.ts";

/** Where KVM users (QEMU's virt board) place the ITS; GITS_TRANSLATER is at +0x10040. */
export const ITS_BASE = 0x0808_0000;
/** The MSI doorbell address of the ITS. */
export const ITS_DOORBELL = ITS_BASE + GITS_TRANSLATER;

/** "Invalid argument". */
export const EINVAL = 22;
/** "No such device or address": KVM_IRQ_LINE of the wrong type for the irqchip. */
export const ENXIO = 6;
/** "No such device": KVM_SIGNAL_MSI without an ITS. */
export const ENODEV = 19;
export { EBUSY };

/** KVM_IRQ_LINE irq types (KVM_ARM_IRQ_TYPE_*). */
export const KvmIrqType = { CPU: 0, SPI: 1, PPI: 2 } as const;
/** KVM_MSI_VALID_DEVID. */
export const KVM_MSI_VALID_DEVID = 1;

/** How a GIC is built. */
export interface GicConfig {
  version: 2 | 3;
  vcpus: number;
  /** INTIDs including SGIs and PPIs (KVM_DEV_ARM_VGIC_GRP_NR_IRQS), a multiple of 32. */
  nrIrqs: number;
  its: boolean;
  v4: boolean;
}

/** What the GIC signals to a vCPU. */
export const Signal = { NONE: 0, IRQ: 1, FIQ: 2 } as const;

/**
 * The GIC of one VM.
 *
 * @example
 * ```ts
 * const gic = new Gic({ version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false }, trace);
 * gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1); // 0: SPI 40 pending (edge)
 * ```
 */
export class Gic implements PendingView, LpiInvalidator, ItsHost {
  readonly version: 2 | 3;
  readonly vcpus: number;
  readonly dist: Distributor;
  readonly rds: Redistributor[] = [];
  readonly cifs: CpuInterface[] = [];
  readonly lpis = new LpiTable();
  readonly its: Its | null;
  readonly v4: Gicv4 | null;
  /** GICv2 GICC_CTLR.FIQEn per vCPU. */
  readonly fiqEn: Uint8Array;
  /** GICv2 GICC_CTLR.AckCtl per vCPU (kept for read-back). */
  readonly ackCtl: Uint8Array;
  readonly #scratch: Candidate = newCandidate();

  constructor(config: GicConfig, readonly trace: Trace) {
    this.version = config.version;
    this.vcpus = config.vcpus;
    const hasIts = config.version === 3 && config.its;
    this.dist = new Distributor({
      version: config.version,
      nrIrqs: config.nrIrqs,
      vcpus: config.vcpus,
      resolve: (aff) => this.vcpuOfAffinity(aff),
    });
    this.dist.lpis = hasIts;
    // KVM's PROPBASER resets to 0: IDbits 0 gives a range too small for any LPI.
    this.lpis.idBits = 1;
    for (let i = 0; i < config.vcpus; i++) {
      const rd = new Redistributor(i, {
        last: i === config.vcpus - 1,
        lpis: hasIts,
        version: config.version,
      });
      rd.invalidator = this;
      if (config.version === 2) rd.bank.sgiSources = new Uint8Array(SGI_COUNT);
      this.rds.push(rd);
      this.cifs.push(new CpuInterface(i, this));
    }
    this.fiqEn = new Uint8Array(config.vcpus);
    this.ackCtl = new Uint8Array(config.vcpus);
    this.its = hasIts ? new Its(this, trace) : null;
    this.v4 = hasIts && config.v4 ? new Gicv4(config.vcpus, trace) : null;
  }

  /** The vCPU whose KVM MPIDR has this Aff2.Aff1.Aff0, or -1. */
  vcpuOfAffinity(aff: number): number {
    for (let i = 0; i < this.vcpus; i++) if (kvmMpidr(i) === (aff & 0xff_ffff)) return i;
    return -1;
  }

  // ---- what a CPU interface sees -------------------------------------------------

  /** @inheritdoc */
  distGroupEnabled(g: number): boolean {
    return this.dist.groupEnabled(g);
  }

  /** @inheritdoc */
  highest(cpu: number, groups: number, out: Candidate): boolean {
    let best = -1, bestPrio = 0x100, bestGroup = 1, bestCause = 0;
    const bank = this.rds[cpu].bank;
    for (let i = 0; i < PRIVATE_COUNT; i++) {
      if (!ready(bank, i, groups)) continue;
      const p = bank.priority[i] & PRIORITY_MASK;
      if (p < bestPrio) {
        best = i, bestPrio = p, bestGroup = bank.group[i], bestCause = bank.cause[i];
      }
    }
    const d = this.dist, spis = d.spis;
    for (let i = PRIVATE_COUNT; i < d.nrIrqs; i++) {
      if (d.targetVcpu[i] !== cpu || !ready(spis, i, groups)) continue;
      const p = spis.priority[i] & PRIORITY_MASK;
      if (p < bestPrio) {
        best = i, bestPrio = p, bestGroup = spis.group[i], bestCause = spis.cause[i];
      }
    }
    // LPIs are Group 1 only, and need EnableLPIs at the target redistributor.
    if ((groups & 2) !== 0 && this.rds[cpu].enableLpis) {
      const list = this.lpis.list;
      const vpe = this.v4 ? this.v4.vpes[cpu] : null;
      for (let k = 0; k < list.length; k++) {
        const l = list[k];
        if (l.target !== cpu || !l.pending || !l.enabled) continue;
        // A vLPI reaches the CPU interface only while its vPE is resident.
        if (l.forwarded && vpe !== null && !vpe.resident) continue;
        const p = l.priority & PRIORITY_MASK;
        if (p < bestPrio || (p === bestPrio && l.intid < best)) {
          best = l.intid, bestPrio = p, bestGroup = 1, bestCause = l.cause;
        }
      }
    }
    if (best < 0) return false;
    out.intid = best;
    out.priority = bestPrio;
    out.group = bestGroup;
    out.cause = bestCause;
    return true;
  }

  /** @inheritdoc */
  acknowledge(cpu: number, intid: number): number {
    if (intid < PRIVATE_COUNT) return this.rds[cpu].bank.acknowledge(intid);
    if (intid < this.dist.nrIrqs) return this.dist.spis.acknowledge(intid);
    const lpi = this.lpis.lpis.get(intid);
    if (lpi) lpi.pending = false;
    return -1;
  }

  /** @inheritdoc */
  deactivate(cpu: number, intid: number): void {
    if (intid < PRIVATE_COUNT) this.rds[cpu].bank.deactivate(intid);
    else if (intid < this.dist.nrIrqs) this.dist.spis.deactivate(intid);
    // LPIs have no active state.
  }

  /** Whether the vCPU's CPU interface signals an IRQ, an FIQ or nothing. */
  signal(cpu: number, c: Candidate = this.#scratch): number {
    if (!this.cifs[cpu].signalled(c)) return Signal.NONE;
    if (c.group === 1) return Signal.IRQ;
    return this.version === 3 || this.fiqEn[cpu] ? Signal.FIQ : Signal.IRQ;
  }

  /** KVM's WFI wake-up test for a vCPU, GICv4's pending_last included. */
  wouldWake(cpu: number): boolean {
    if (this.v4 && this.v4.vpes[cpu].pendingLast) return true;
    return this.cifs[cpu].wouldWake();
  }

  // ---- injection ---------------------------------------------------------------

  /**
   * KVM_IRQ_LINE: `type` CPU (refused: the irqchip is in the kernel), SPI
   * (`vcpu` ignored) or PPI on `vcpu`. Returns 0 or a negative errno. A PPI
   * owned by an in-kernel device (the timer) is silently not injected.
   */
  kvmIrqLine(type: number, vcpu: number, intid: number, level: number, cause = 0): number {
    switch (type) {
      case KvmIrqType.CPU:
        this.#emit("kvm", "irq_line", "KVM_IRQ_LINE type CPU: -ENXIO (in-kernel irqchip)");
        return -ENXIO;
      case KvmIrqType.PPI:
        if (vcpu >= this.vcpus || intid < SGI_COUNT || intid >= PRIVATE_COUNT) {
          this.#emit("kvm", "irq_line", `KVM_IRQ_LINE PPI vcpu ${vcpu} intid ${intid}: -EINVAL`);
          return -EINVAL;
        }
        this.setPrivateLine(vcpu, intid, level !== 0, OWNER_NONE, cause);
        return 0;
      case KvmIrqType.SPI:
        if (intid < PRIVATE_COUNT || intid >= this.dist.nrIrqs) {
          this.#emit("kvm", "irq_line", `KVM_IRQ_LINE SPI ${intid}: -EINVAL`);
          return -EINVAL;
        }
        this.setSpiLine(intid, level !== 0, cause);
        return 0;
    }
    return -EINVAL;
  }

  /** Drives a PPI line of one vCPU; `owner` must match the PPI's owner (vgic_validate_injection). */
  setPrivateLine(vcpu: number, intid: number, level: boolean, owner: number, cause = 0): boolean {
    const bank = this.rds[vcpu].bank;
    if (bank.owner[intid] !== owner) {
      this.#emit(
        `gicr${vcpu}`,
        "ignored",
        `PPI ${intid} is driven by an in-kernel device: injection ignored`,
      );
      return false;
    }
    const changed = bank.inject(intid, level, cause);
    if (changed && this.trace.enabled) {
      this.trace.emit(
        `gicr${vcpu}`,
        "line",
        `${kindOf(intid)} ${intid} ${describeInput(bank, intid, level)}`,
      );
      if (level) bank.cause[intid] = this.#last(cause);
    }
    return changed;
  }

  /** Drives an SPI line. */
  setSpiLine(intid: number, level: boolean, cause = 0): boolean {
    const spis = this.dist.spis;
    const changed = spis.inject(intid, level, cause);
    if (changed && this.trace.enabled) {
      this.trace.emit("gicd", "line", `SPI ${intid} ${describeInput(spis, intid, level)}`);
      if (level) spis.cause[intid] = this.#last(cause);
    }
    return changed;
  }

  /**
   * An ICC_SGI1R_EL1 (or, `group0Only`, ICC_SGI0R_EL1) write from `sender`:
   * IRM=1 targets every other vCPU, otherwise the vCPUs whose affinity
   * matches Aff3.Aff2.Aff1 and whose Aff0 is RS*16 + a set TargetList bit.
   * Returns the targets reached.
   */
  sgi(sender: number, value: bigint, group0Only: boolean): number[] {
    const v = value;
    const intid = Number((v >> 24n) & 0xfn);
    const targetList = Number(v & 0xffffn);
    const aff1 = Number((v >> 16n) & 0xffn), aff2 = Number((v >> 32n) & 0xffn);
    const irm = (v >> 40n) & 1n, rs = Number((v >> 44n) & 0xfn), aff3 = Number((v >> 48n) & 0xffn);
    const cause = this.trace.enabled ? this.trace.currentCause : 0;
    const reached: number[] = [];
    for (let c = 0; c < this.vcpus; c++) {
      if (irm) {
        if (c === sender) continue;
      } else {
        const mp = kvmMpidr(c);
        if (aff3 !== 0 || ((mp >> 16) & 0xff) !== aff2 || ((mp >> 8) & 0xff) !== aff1) continue;
        const aff0 = mp & 0xff;
        if (aff0 >> 4 !== rs || (targetList & (1 << (aff0 & 0xf))) === 0) continue;
      }
      const bank = this.rds[c].bank;
      // KVM: SGI1R raises an SGI of either group; SGI0R only Group 0 ones.
      if (group0Only && bank.group[intid] !== 0) continue;
      bank.setPending(intid, cause);
      reached.push(c);
    }
    this.#emit(
      `vcpu${sender}`,
      "sgi",
      `SGI ${intid} -> ${reached.length ? reached.map((c) => `vcpu${c}`).join(", ") : "nobody"}`,
    );
    return reached;
  }

  // ---- LPIs: the ITS host ------------------------------------------------------------

  /** @inheritdoc */
  lpisEnabled(vcpu: number): boolean {
    return this.rds[vcpu].enableLpis;
  }

  /** @inheritdoc */
  pend(lpi: Lpi, why: string): void {
    if (lpi.forwarded && this.v4) {
      this.v4.pend(lpi, why);
      lpi.cause = this.trace.enabled ? this.trace.events.length : 0;
      return;
    }
    lpi.pending = true;
    lpi.path = "software";
    if (this.trace.enabled) {
      lpi.cause = this.trace.emit(
        "its",
        "pend",
        `${why}: LPI ${lpi.intid} pending at vcpu${lpi.target} (software injection)`,
      );
    }
  }

  /** @inheritdoc */
  unpend(lpi: Lpi): void {
    lpi.pending = false;
  }

  /** @inheritdoc */
  retarget(lpi: Lpi, vcpu: number): void {
    const from = lpi.target;
    lpi.target = vcpu;
    if (from >= 0 && from !== vcpu) {
      this.#emit(
        "its",
        "move",
        `LPI ${lpi.intid}: vcpu${from} -> vcpu${vcpu}${lpi.pending ? " (pending)" : ""}`,
      );
    }
    this.v4?.retarget(lpi, from, vcpu);
  }

  /** @inheritdoc */
  configChanged(lpi: Lpi): void {
    if (lpi.forwarded) {
      this.#emit(
        "gicv4",
        "prop",
        `vLPI ${lpi.intid} properties updated: priority 0x${lpi.priority.toString(16)} ${
          lpi.enabled ? "enabled" : "disabled"
        }`,
      );
    }
  }

  /** @inheritdoc */
  iteFreed(lpi: Lpi): void {
    this.v4?.iteFreed(lpi);
  }

  /** @inheritdoc */
  invalidate(intid: number): void {
    const lpi = this.lpis.lpis.get(intid);
    if (!lpi) return;
    this.lpis.sync(lpi);
    this.configChanged(lpi);
  }

  /** @inheritdoc */
  invalidateAll(vcpu: number): void {
    for (const lpi of this.lpis.list) {
      if (lpi.target === vcpu) {
        this.lpis.sync(lpi);
        this.configChanged(lpi);
      }
    }
  }

  /** @inheritdoc */
  lpisDisabled(vcpu: number): void {
    for (const lpi of this.lpis.list) {
      if (lpi.target === vcpu && !lpi.forwarded) lpi.pending = false;
    }
  }

  /**
   * KVM_SIGNAL_MSI: returns 1 when delivered, 0 when the translation fails
   * (the guest "blocked" it), -EINVAL without a DeviceID or for an address
   * that is not the ITS doorbell, -EBUSY when the ITS or the target's LPIs
   * are disabled, -ENODEV without an ITS.
   */
  signalMsi(address: number, data: number, flags: number, devid: number): number {
    if (!this.its) return -ENODEV;
    if ((flags & KVM_MSI_VALID_DEVID) === 0 || address !== ITS_DOORBELL) return -EINVAL;
    const r = this.its.translater(devid, data, "KVM_SIGNAL_MSI");
    return r === 0 ? 1 : r < 0 ? r : 0;
  }

  // ---- register access -----------------------------------------------------------------

  /** Writes GICR_PROPBASER on any redistributor: KVM keeps one LPI range per VM. */
  writeGicr(
    cpu: number,
    offset: number,
    value: number | bigint,
    size: 1 | 4 | 8,
    cause = 0,
  ): boolean {
    const ok = this.rds[cpu].write(offset, value, size, cause);
    if (ok && offset === GicrOffset.PROPBASER) {
      this.lpis.idBits = Math.min((Number(BigInt(value) & 0x1fn)) + 1, 16);
    }
    return ok;
  }

  // ---- state, for scenarios ------------------------------------------------------------

  /** INTIDs pending for a vCPU: its SGIs/PPIs, SPIs targeting it, its LPIs (vLPIs included). */
  pendingOf(cpu: number): number[] {
    const out: number[] = [];
    const bank = this.rds[cpu].bank;
    for (let i = 0; i < PRIVATE_COUNT; i++) if (bank.isPending(i)) out.push(i);
    const d = this.dist;
    for (let i = PRIVATE_COUNT; i < d.nrIrqs; i++) {
      if (d.targetVcpu[i] === cpu && d.spis.isPending(i)) out.push(i);
    }
    for (const l of this.lpis.list) if (l.target === cpu && l.pending) out.push(l.intid);
    return out.sort((a, b) => a - b);
  }

  /** INTIDs active on a vCPU (its SGIs/PPIs and the SPIs targeting it). */
  activeOf(cpu: number): number[] {
    const out: number[] = [];
    const bank = this.rds[cpu].bank;
    for (let i = 0; i < PRIVATE_COUNT; i++) if (bank.active[i]) out.push(i);
    const d = this.dist;
    for (let i = PRIVATE_COUNT; i < d.nrIrqs; i++) {
      if (d.targetVcpu[i] === cpu && d.spis.active[i]) out.push(i);
    }
    return out;
  }

  /** The bank holding `intid` as seen by `cpu`. */
  bankOf(cpu: number, intid: number): IrqBank {
    return intid < PRIVATE_COUNT ? this.rds[cpu].bank : this.dist.spis;
  }

  #last(cause: number): number {
    return this.trace.enabled && this.trace.events.length > 0 ? this.trace.events.length : cause;
  }

  #emit(source: string, kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(source, kind, text);
  }
}

/** Pending, enabled, not active, and in an enabled group. */
function ready(bank: IrqBank, i: number, groups: number): boolean {
  return bank.enabled[i] !== 0 && bank.active[i] === 0 &&
    (groups & (1 << bank.group[i])) !== 0 && bank.isPending(i);
}

function kindOf(intid: number): string {
  return intid < SGI_COUNT
    ? "SGI"
    : intid < PRIVATE_COUNT
    ? "PPI"
    : intid < LPI_BASE
    ? "SPI"
    : "LPI";
}

function describeInput(bank: IrqBank, i: number, level: boolean): string {
  if (bank.edge[i]) return "edge: pending";
  return level ? "line high (level): pending" : "line low";
}
