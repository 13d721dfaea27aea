/**
 * The GIC distributor as KVM emulates it: GICD_CTLR, GICD_TYPER, the
 * per-INTID banks for SPIs (IGROUPR, ISENABLER/ICENABLER, ISPENDR/ICPENDR,
 * ISACTIVER/ICACTIVER, IPRIORITYR, ICFGR) and SPI routing: GICD_IROUTER
 * for GICv3, GICD_ITARGETSR for GICv2 (whose SGI registers live in
 * `gicv2.ts`).
 *
 * GICv3 with ARE=1 and DS=1 (the only configuration KVM offers): the SGI
 * and PPI part of the banks is RAZ/WI here (it lives in each
 * redistributor), and IROUTER keeps only Aff2.Aff1.Aff0 — KVM drops IRM and
 * the upper word, and an affinity that matches no vCPU leaves the SPI
 * without a target. GICv2: an ITARGETSR byte with several bits goes to the
 * lowest one (vCPU0 when none), and bytes for INTIDs below 32 are read-only.
 * KVM resets every SPI to edge-triggered, Group 1 for GICv3 and Group 0 for
 * GICv2, targeting vCPU0. GICD_CTLR holds a single enable for both groups
 * (KVM's `dist->enabled`: EnableGrp1 on GICv3, bit 0 on GICv2); the other
 * group bit reads 0 and gates nothing.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 12.9 "The GICD register descriptions"
 * (GICD_CTLR 12.9.4, GICD_IROUTER<n> 12.9.22, GICD_TYPER 12.9.38); Arm IHI
 * 0048B (GICv2) 4.3 (GICD_ITARGETSRn 4.3.12); Linux
 * `arch/arm64/kvm/vgic/vgic-mmio-v3.c` (`vgic_mmio_write_irouter`,
 * `vgic_mmio_read_v3_misc`, `vgic_mmio_write_v3_misc`), `vgic-mmio-v2.c`
 * (`vgic_mmio_write_target`, `vgic_mmio_write_v2_misc`), `vgic.c`
 * (`vgic_target_oracle`),
 * `vgic-init.c` (`kvm_vgic_dist_init`).
 *
 * @module
 */
import {
  BankOffset,
  bankRead,
  bankWrite,
  IrqBank,
  PRIORITY_MASK,
  PRIVATE_COUNT,
} from "./irq_state.ts";

/**
 * GICD register offsets (those outside the per-INTID banks).
 *
 * @example
 * ```ts
 * declare const dist: Distributor;
 * dist.read(GicdOffset.TYPER); // ITLinesNumber, IDbits, LPIS
 * ```
 */
export const GicdOffset = {
  CTLR: 0x0000,
  TYPER: 0x0004,
  IIDR: 0x0008,
  TYPER2: 0x000c,
  /**
   * GICv3 GICD_STATUSR: KVM registers it read-as-ones, write-ignored
   * (`vgic_v3_dist_registers`: `vgic_mmio_read_rao`); a GICv2 has none.
   */
  STATUSR: 0x0010,
  /** GICv2 only. */
  SGIR: 0x0f00,
  /** GICv2 only: one byte per SGI, one bit per source CPU. */
  CPENDSGIR: 0x0f10,
  SPENDSGIR: 0x0f20,
  /** GICv3: IROUTER<n> at 0x6000 + 8n. */
  IROUTER: 0x6000,
  /** GICv3 PIDR2 ([7:4] architecture revision). */
  PIDR2: 0xffe8,
} as const;

/**
 * GICD_CTLR bits (DS=1 layout).
 *
 * @example
 * ```ts
 * declare const dist: Distributor;
 * dist.write(GicdOffset.CTLR, GicdCtlr.EnableGrp1, 4);
 * dist.read(GicdOffset.CTLR); // 0x52: EnableGrp1 | ARE | DS
 * ```
 */
export const GicdCtlr = {
  /** EnableGrp0; on GICv2 the one bit KVM keeps ("Enable", GICD_ENABLE). */
  EnableGrp0: 1 << 0,
  /** EnableGrp1 (EnableGrp1A with DS=1): the one bit KVM keeps on GICv3. */
  EnableGrp1: 1 << 1,
  ARE: 1 << 4,
  DS: 1 << 6,
  /**
   * nASSGIreq (GICv4.1): the guest asks for SGIs without an active state;
   * KVM keeps it only when the VM has nASSGIcap.
   */
  nASSGIreq: 1 << 8,
} as const;

/**
 * GICD_TYPER2 bits KVM reports (`vgic_mmio_read_v3_misc`).
 *
 * @example
 * ```ts
 * declare const dist: Distributor;
 * (dist.read(GicdOffset.TYPER2) as number) & GicdTyper2.nASSGIcap; // 0x100 on a GICv4.1 host
 * ```
 */
export const GicdTyper2 = {
  /** The VM may ask for SGIs without an active state (GICD_CTLR.nASSGIreq). */
  nASSGIcap: 1 << 8,
} as const;

/**
 * KVM's GICD_IIDR: ProductID 0x4b, Implementer 0x43b (Arm), revision 3.
 *
 * @example
 * ```ts
 * declare const dist: Distributor;
 * dist.read(GicdOffset.IIDR) === KVM_GICD_IIDR; // true
 * ```
 */
export const KVM_GICD_IIDR = 0x4b00343b;

/** GICD_TYPER.LPIS: the GIC supports LPIs (an ITS is present). */
const TYPER_LPIS = 1 << 17;

/**
 * How the distributor learns which vCPU an affinity names.
 *
 * @example
 * ```ts
 * const resolve: AffinityResolver = (aff) => (aff < 4 ? aff : -1); // 4 vCPUs, Aff0 only
 * ```
 */
export type AffinityResolver = (aff: number) => number;

/**
 * A distributor.
 *
 * @example
 * ```ts
 * const d = new Distributor({ version: 3, nrIrqs: 64, vcpus: 4, resolve: (a) => (a < 4 ? a : -1) });
 * d.write(GicdOffset.IROUTER + 8 * 40, 2, 4);
 * d.targetVcpu[40]; // 2
 * ```
 */
export class Distributor {
  /** 2 or 3. */
  readonly version: 2 | 3;
  /** Number of INTIDs (SGIs and PPIs included): 32 * (ITLinesNumber + 1). */
  readonly nrIrqs: number;
  /** The vCPUs created so far, KVM's online_vcpus (GICv2 ITARGETSR masks; GICD_TYPER.CPUNumber). */
  vcpus: number;
  /** The SPIs, indexed by INTID (32 .. nrIrqs-1). */
  readonly spis: IrqBank;
  /** GICv3 IROUTER as KVM keeps it: Aff2.Aff1.Aff0 (bits 23:0). */
  readonly router: Uint32Array;
  /** GICv2 ITARGETSR bytes, masked to the vCPUs that exist. */
  readonly targets: Uint8Array;
  /** The vCPU each SPI goes to (KVM's `irq->target_vcpu`), -1 for none. */
  readonly targetVcpu: Int16Array;
  /**
   * The enable bit KVM keeps (`dist->enabled`): GICv3 EnableGrp1 (bit 1),
   * GICv2 Enable (bit 0). The other group bit is dropped on write.
   */
  ctlr = 0;
  /** An ITS is present: TYPER.LPIS and 16 INTID bits. */
  lpis = false;
  /**
   * KVM's `dist->nassgicap`: GICD_TYPER2.nASSGIcap as the VM sees it. KVM
   * sets it when it creates a GICv3 on a host with direct vSGIs
   * (`kvm_vgic_create`: `system_supports_direct_sgis`); the VMM may change
   * it through DIST_REGS until CTRL_INIT.
   */
  nassgicap = false;
  /** KVM's `dist->nassgireq`: GICD_CTLR.nASSGIreq. */
  nassgireq = false;
  readonly #resolve: AffinityResolver;

  /**
   * A distributor with KVM's reset state: SPIs edge, Group 1 on GICv3
   * (Group 0 on GICv2), disabled, routed to vCPU0. `resolve` maps an
   * IROUTER affinity to a vCPU (-1: none).
   *
   * @example
   * ```ts
   * new Distributor({ version: 2, nrIrqs: 64, vcpus: 2, resolve: () => -1 }).typer; // 0x21
   * ```
   */
  constructor(
    options: { version: 2 | 3; nrIrqs: number; vcpus: number; resolve: AffinityResolver },
  ) {
    this.version = options.version;
    this.nrIrqs = options.nrIrqs;
    this.vcpus = options.vcpus;
    this.#resolve = options.resolve;
    this.spis = new IrqBank(PRIVATE_COUNT, this.nrIrqs);
    this.router = new Uint32Array(this.nrIrqs);
    this.targets = new Uint8Array(this.nrIrqs);
    this.targetVcpu = new Int16Array(this.nrIrqs);
    for (let i = PRIVATE_COUNT; i < this.nrIrqs; i++) {
      this.spis.edge[i] = 1;
      this.spis.group[i] = this.version === 3 ? 1 : 0;
      this.targetVcpu[i] = 0;
    }
  }

  /**
   * Group `g` (0 or 1) is enabled in GICD_CTLR. KVM has one distributor
   * enable for both groups (`vgic_target_oracle`, `kvm_vgic_vcpu_pending_irq`
   * test `dist->enabled`), so `g` does not matter: the groups are told apart
   * only at the CPU interface (IGRPEN0/1, GICC_CTLR).
   */
  groupEnabled(_g: number): boolean {
    return this.ctlr !== 0;
  }

  /** GICD_TYPER as KVM builds it. */
  get typer(): number {
    let v = (this.nrIrqs >> 5) - 1;
    if (this.version === 2) return (v | ((Math.min(this.vcpus, 8) - 1) << 5)) >>> 0;
    // IDbits: 16 INTID bits with LPIs, otherwise 10 (SPIs only).
    v |= (this.lpis ? 15 : 9) << 19;
    if (this.lpis) v |= TYPER_LPIS;
    return v >>> 0;
  }

  /**
   * Reads a distributor register (`size` 4, 8 for IROUTER, 1 for the
   * byte-accessible IPRIORITYR/ITARGETSR). Unknown offsets read as zero.
   */
  read(offset: number, size: 1 | 4 | 8 = 4): number | bigint {
    const O = GicdOffset;
    if (offset === O.CTLR) {
      if (this.version === 2) return this.ctlr;
      const req = this.nassgireq ? GicdCtlr.nASSGIreq : 0;
      return (this.ctlr | GicdCtlr.ARE | GicdCtlr.DS | req) >>> 0;
    }
    if (offset === O.TYPER) return this.typer;
    if (offset === O.TYPER2) {
      return this.version === 3 && this.nassgicap ? GicdTyper2.nASSGIcap : 0;
    }
    if (offset === O.IIDR) return KVM_GICD_IIDR;
    if (offset === O.STATUSR && this.version === 3) return 0xffff_ffff;
    if (offset === O.PIDR2 && this.version === 3) return 0x3b;
    if (this.version === 3 && offset >= O.IROUTER && offset < O.IROUTER + 8 * 1024) {
      const n = (offset - O.IROUTER) >> 3;
      if (n < PRIVATE_COUNT || n >= this.nrIrqs) return size === 8 ? 0n : 0;
      // The upper word (Aff3) and IRM are not kept: they read as zero.
      return size === 8 ? BigInt(this.router[n]) : (offset & 4) ? 0 : this.router[n];
    }
    if (
      this.version === 2 && offset >= BankOffset.ITARGETSR && offset < BankOffset.ITARGETSR + 0x400
    ) {
      const i = offset - BankOffset.ITARGETSR;
      const n = size === 1 ? 1 : 4;
      let v = 0;
      for (let k = 0; k < n; k++) {
        if (i + k >= PRIVATE_COUNT && i + k < this.nrIrqs) v |= this.targets[i + k] << (8 * k);
      }
      return v >>> 0;
    }
    if (size === 8) return 0n;
    return bankRead(this.spis, offset, size) ?? 0;
  }

  /**
   * Writes a distributor register. Returns false for offsets it does not
   * implement (reserved or read-only: the write is ignored).
   */
  write(offset: number, value: number | bigint, size: 1 | 4 | 8 = 4, cause = 0): boolean {
    const O = GicdOffset;
    const low = Number(BigInt(value) & 0xffff_ffffn);
    if (offset === O.CTLR) {
      // vgic_mmio_write_v3_misc keeps GICD_CTLR_ENABLE_SS_G1 only,
      // vgic_mmio_write_v2_misc GICD_ENABLE only.
      this.ctlr = low & (this.version === 3 ? GicdCtlr.EnableGrp1 : GicdCtlr.EnableGrp0);
      return true;
    }
    if (this.version === 3 && offset >= O.IROUTER && offset < O.IROUTER + 8 * 1024) {
      const n = (offset - O.IROUTER) >> 3;
      if (n < PRIVATE_COUNT || n >= this.nrIrqs) return false;
      if (offset & 4) return true; // the upper word (Aff3) is WI in KVM
      this.setRoute(n, low);
      return true;
    }
    if (
      this.version === 2 && offset >= BankOffset.ITARGETSR && offset < BankOffset.ITARGETSR + 0x400
    ) {
      const i = offset - BankOffset.ITARGETSR;
      const n = size === 1 ? 1 : 4;
      for (let k = 0; k < n; k++) {
        // Bytes for SGIs and PPIs are read-only.
        if (i + k < PRIVATE_COUNT || i + k >= this.nrIrqs) continue;
        this.setTargets(i + k, (low >>> (8 * k)) & 0xff);
      }
      return true;
    }
    if (size === 8) return false;
    return bankWrite(this.spis, offset, low, size, { cause });
  }

  /** GICv3 IROUTER write: keep Aff2.Aff1.Aff0, find the vCPU (or none). */
  setRoute(intid: number, value: number): void {
    const aff = value & 0x00ff_ffff;
    this.router[intid] = aff;
    this.targetVcpu[intid] = this.#resolve(aff);
  }

  /** GICv2 ITARGETSR byte: KVM sends to the lowest set bit, vCPU0 when none. */
  setTargets(intid: number, byte: number): void {
    const mask = byte & ((1 << Math.min(this.vcpus, 8)) - 1);
    this.targets[intid] = mask;
    this.targetVcpu[intid] = mask === 0 ? 0 : 31 - Math.clz32(mask & -mask);
  }

  /** The priority of an SPI as the CPU interface compares it. */
  priorityOf(intid: number): number {
    return this.spis.priority[intid] & PRIORITY_MASK;
  }
}
