/**
 * A GICv3 redistributor as KVM emulates it, one per vCPU: the RD_base frame
 * (GICR_CTLR.EnableLPIs, GICR_TYPER, GICR_WAKER, GICR_PROPBASER,
 * GICR_PENDBASER, GICR_INVLPIR/INVALLR/SYNCR) and the SGI_base frame at
 * +64 KB holding the vCPU's SGIs and PPIs (IGROUPR0, ISENABLER0 ...,
 * IPRIORITYR0-7, ICFGR0/1). The LPIs pending at this redistributor are the
 * mapped LPIs whose target is this vCPU (see `lpi.ts`).
 *
 * KVM: SGIs are edge and PPIs level, and ICFGR0/1 ignore writes;
 * Processor_Number is the vcpu_id and the affinity is the MPIDR KVM derives
 * from it; the redistributors sit in the (legacy, single) redistributor
 * region in vCPU creation order, not vcpu_id order, and Last is set on the
 * one created last; PROPBASER and PENDBASER ignore writes while
 * EnableLPIs=1; WAKER is RAZ/WI; KVM resets private interrupts to Group 1
 * for GICv3.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 12.10-12.11 (GICR_CTLR 12.11.2,
 * GICR_TYPER 12.11.37, GICR_PROPBASER 12.11.31, GICR_INVLPIR 12.11.14),
 * 9.8 "Redistributor memory map"; Linux `arch/arm64/kvm/vgic/vgic-mmio-v3.c`
 * (`vgic_mmio_read_v3r_typer`, `vgic_mmio_read_v3r_ctlr`, `vgic_mmio_write_v3r_ctlr`,
 * `vgic_mmio_read_v3r_iidr`,
 * `vgic_mmio_write_propbase`, `vgic_mmio_write_invlpi`, `vgic_mmio_write_invall`,
 * `vgic_mmio_vcpu_rdist_is_last`), `vgic-init.c` and `vgic-v3.c`
 * (`vgic_register_redist_iodev`: each vCPU takes the region's next free
 * slot, in `kvm_for_each_vcpu` order); the selftest
 * `tools/testing/selftests/kvm/arm64/vgic_init.c`
 * (`test_v3_last_bit_single_rdist`).
 *
 * @module
 */
import { bankRead, bankWrite, IrqBank, PRIVATE_COUNT, SGI_COUNT } from "./irq_state.ts";

/**
 * Offsets in the two 64 KB frames of a redistributor.
 *
 * @example
 * ```ts
 * declare const rd: Redistributor;
 * rd.read(GicrOffset.TYPER, 8); // the whole 64-bit GICR_TYPER
 * rd.read(GicrOffset.SGI_BASE + 0x100); // GICR_ISENABLER0
 * ```
 */
export const GicrOffset = {
  CTLR: 0x0000,
  IIDR: 0x0004,
  TYPER: 0x0008,
  WAKER: 0x0014,
  PROPBASER: 0x0070,
  PENDBASER: 0x0078,
  INVLPIR: 0x00a0,
  INVALLR: 0x00b0,
  SYNCR: 0x00c0,
  /** The SGI_base frame; the per-INTID banks sit at their GICD offsets within it. */
  SGI_BASE: 0x10000,
} as const;

/**
 * GICR_TYPER.Last (bit 4): the last redistributor of a contiguous region.
 *
 * @example
 * ```ts
 * GICR_TYPER_LAST; // 0x10
 * ```
 */
export const GICR_TYPER_LAST = 1 << 4;

/**
 * GICR_CTLR.EnableLPIs.
 *
 * @example
 * ```ts
 * declare const rd: Redistributor;
 * rd.write(GicrOffset.CTLR, GICR_CTLR_ENABLE_LPIS, 4); // true when the VM has an ITS
 * ```
 */
export const GICR_CTLR_ENABLE_LPIS = 1;

/**
 * GICR_CTLR bits KVM reports as set from vGIC implementation revision 3
 * (`vgic_mmio_read_v3r_ctlr`): CES (bit 1, clearing EnableLPIs is
 * supported) and IR (bit 2, LPI invalidation registers implemented).
 *
 * @example
 * ```ts
 * declare const rd: Redistributor;
 * (rd.read(GicrOffset.CTLR) as number) & GICR_CTLR_CES_IR; // 0x6
 * ```
 */
export const GICR_CTLR_CES_IR = (1 << 1) | (1 << 2);

/**
 * KVM's GICR_IIDR: ProductID 0x4b and Implementer Arm, with no revision
 * field (`vgic_mmio_read_v3r_iidr`), unlike GICD_IIDR.
 *
 * @example
 * ```ts
 * declare const rd: Redistributor;
 * rd.read(GicrOffset.IIDR) === KVM_GICR_IIDR; // true
 * ```
 */
export const KVM_GICR_IIDR = 0x4b00043b;

/**
 * The MPIDR affinity KVM gives vCPU `n` (Aff0 = n[3:0], Aff1 = n[11:4],
 * Aff2 = n[19:12]), so that 16 vCPUs share each Aff1 value and any SGI
 * target set fits one 16-bit TargetList.
 *
 * @example
 * ```ts
 * kvmMpidr(18).toString(16); // "102": Aff1 = 1, Aff0 = 2
 * ```
 */
export function kvmMpidr(n: number): number {
  return (n & 0xf) | (((n >> 4) & 0xff) << 8) | (((n >> 12) & 0xff) << 16);
}

/** GICR_PENDBASER.PTZ: the pending table is zero (write-only). */
const PTZ = 1n << 62n;

/**
 * What a redistributor asks of the rest of the GIC when the guest invalidates LPIs.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic, rd: Redistributor;
 * const inv: LpiInvalidator = gic; // the Gic re-reads LPI configuration for its redistributors
 * rd.invalidator = inv;
 * ```
 */
export interface LpiInvalidator {
  /** GICR_INVLPIR: re-read one LPI's configuration. */
  invalidate(intid: number): void;
  /** GICR_INVALLR: re-read every LPI that targets this vCPU. */
  invalidateAll(vcpu: number): void;
  /** EnableLPIs went from 1 to 0: forget the LPIs pending at this vCPU. */
  lpisDisabled(vcpu: number): void;
  /** EnableLPIs went from 0 to 1: read the pending table unless PTZ. */
  lpisEnabledNow(vcpu: number): void;
}

/**
 * How a redistributor is built.
 *
 * @example
 * ```ts
 * const options: RedistributorOptions = { last: true, lpis: true, regionIndex: 5 };
 * new Redistributor(2, options).typer; // 0x200000211n
 * ```
 */
export interface RedistributorOptions {
  /** The last redistributor of its region (GICR_TYPER.Last). */
  last: boolean;
  /** An ITS exists, so LPIs are supported (GICR_TYPER.PLPIS, GICR_CTLR.EnableLPIs). */
  lpis: boolean;
  /** The GIC version; GICv2 resets private interrupts to Group 0. Default 3. */
  version?: 2 | 3;
  /** Its slot in the redistributor region (KVM's `rdreg_index`): the vCPU's creation index. Default: the vcpu_id. */
  regionIndex?: number;
}

/**
 * One redistributor.
 *
 * @example
 * ```ts
 * const rd = new Redistributor(0, { last: true, lpis: true });
 * rd.write(GicrOffset.SGI_BASE + 0x100, 1 << 27, 4); // ISENABLER0: PPI 27
 * rd.bank.enabled[27]; // 1
 * ```
 */
export class Redistributor {
  /** SGIs (edge) and PPIs (level) of this vCPU. */
  readonly bank: IrqBank = new IrqBank(0, PRIVATE_COUNT);
  /** GICR_CTLR.EnableLPIs. */
  enableLpis = false;
  /** GICR_PROPBASER as written (while EnableLPIs=0). */
  propbaser = 0n;
  /** GICR_PENDBASER as written, PTZ included (it reads as 0). */
  pendbaser = 0n;
  /** GICR_TYPER.Last: the last redistributor of the region (redistributor regions may move it). */
  last: boolean;
  /** GICR_TYPER.PLPIS: LPIs are supported (the VM has an ITS). */
  lpis: boolean;
  /**
   * The slot in its redistributor region: the vCPU's creation index in the
   * legacy region; -1 while the counted regions have no slot for it.
   */
  regionIndex: number;
  /** Where GICR_INVLPIR/INVALLR and EnableLPIs 1 -> 0 are forwarded. */
  invalidator: LpiInvalidator | null = null;

  /**
   * Builds the redistributor of the vCPU whose vcpu_id is `vcpu`.
   *
   * @example
   * ```ts
   * new Redistributor(2, { last: true, lpis: false, regionIndex: 5 }).typer; // 0x200000210n
   * ```
   */
  constructor(
    readonly vcpu: number,
    options: RedistributorOptions,
  ) {
    this.last = options.last;
    this.lpis = options.lpis;
    this.regionIndex = options.regionIndex ?? vcpu;
    const group = (options.version ?? 3) === 3 ? 1 : 0;
    for (let i = 0; i < PRIVATE_COUNT; i++) {
      // KVM: SGIs are edge and reset enabled; PPIs are level and reset disabled.
      this.bank.edge[i] = i < SGI_COUNT ? 1 : 0;
      this.bank.setEnabled(i, i < SGI_COUNT);
      this.bank.group[i] = group;
    }
  }

  /** GICR_TYPER: PLPIS, Last, Processor_Number = vcpu_id, affinity in [63:32]. */
  get typer(): bigint {
    let low = (this.vcpu & 0xffff) << 8;
    if (this.lpis) low |= 1;
    if (this.last) low |= GICR_TYPER_LAST;
    return (BigInt(kvmMpidr(this.vcpu)) << 32n) | BigInt(low >>> 0);
  }

  /** Reads a register of either frame; unknown offsets read as zero. */
  read(offset: number, size: 1 | 4 | 8 = 4): number | bigint {
    const O = GicrOffset;
    if (offset >= O.SGI_BASE) {
      if (size === 8) return 0n;
      return bankRead(this.bank, offset - O.SGI_BASE, size) ?? 0;
    }
    switch (offset) {
      case O.CTLR:
        // The model's vGIC answers as revision 3 (KVM_VGIC_IMP_REV_3).
        return (this.enableLpis ? GICR_CTLR_ENABLE_LPIS : 0) | GICR_CTLR_CES_IR;
      case O.IIDR:
        return KVM_GICR_IIDR;
      case O.TYPER:
        return size === 8 ? this.typer : Number(this.typer & 0xffff_ffffn);
      case O.TYPER + 4:
        return Number(this.typer >> 32n);
      case O.PROPBASER:
        return size === 8 ? this.propbaser : Number(this.propbaser & 0xffff_ffffn);
      case O.PROPBASER + 4:
        return Number(this.propbaser >> 32n);
      case O.PENDBASER:
        // PTZ (bit 62) always reads as zero.
        return size === 8 ? this.pendbaser & ~PTZ : Number(this.pendbaser & 0xffff_ffffn);
      case O.PENDBASER + 4:
        return Number((this.pendbaser & ~PTZ) >> 32n);
    }
    return size === 8 ? 0n : 0;
  }

  /** Writes a register of either frame; returns false where nothing is writable. */
  write(offset: number, value: number | bigint, size: 1 | 4 | 8 = 4, cause = 0): boolean {
    const O = GicrOffset;
    const big = BigInt(value);
    if (offset >= O.SGI_BASE) {
      if (size === 8) return false;
      return bankWrite(this.bank, offset - O.SGI_BASE, Number(big & 0xffff_ffffn), size, {
        cause,
      });
    }
    switch (offset) {
      case O.CTLR:
        if (!this.lpis) return false;
        if (this.enableLpis && (big & 1n) === 0n) {
          // KVM drops the LPIs queued for this vCPU when EnableLPIs goes 1 -> 0.
          this.enableLpis = false;
          this.invalidator?.lpisDisabled(this.vcpu);
          return true;
        }
        if (!this.enableLpis && (big & 1n) !== 0n) {
          this.enableLpis = true;
          this.invalidator?.lpisEnabledNow(this.vcpu);
        }
        return true;
      case O.PROPBASER:
        if (this.enableLpis) return false;
        this.propbaser = big;
        return true;
      case O.PENDBASER:
        if (this.enableLpis) return false;
        this.pendbaser = big;
        return true;
      // vgic_mmio_write_invlpi / _invall: dropped unless this
      // redistributor has EnableLPIs; only the low word's INTID counts (the
      // GICv4.1 V and vPEID fields above it, and a write to the upper word
      // alone, are ignored: KVM offers no vPEs to its guests).
      case O.INVLPIR:
        if (!this.enableLpis) return false;
        this.invalidator?.invalidate(Number(big & 0xffff_ffffn));
        return true;
      case O.INVALLR:
        if (!this.enableLpis) return false;
        this.invalidator?.invalidateAll(this.vcpu);
        return true;
      case O.SYNCR:
        return true;
    }
    return false;
  }
}
