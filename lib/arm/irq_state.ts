/**
 * The per-INTID interrupt state machine shared by every GIC part that holds
 * SGIs, PPIs and SPIs: the GICv3 distributor (SPIs), each redistributor
 * (SGIs and PPIs) and the GICv2 distributor.
 *
 * States are Inactive, Pending, Active and Active+Pending. Pending is the
 * OR of the pending latch and, for a level-sensitive interrupt, the input
 * line: an acknowledge clears only the latch, so a level line still high
 * leaves the interrupt Active+Pending and it re-pends the moment it is
 * deactivated. The enable bit only gates forwarding; pending and active
 * still change while an interrupt is disabled.
 *
 * Also here: the register view of a bank (GICD_/GICR_ IGROUPR, ISENABLER,
 * ICENABLER, ISPENDR, ICPENDR, ISACTIVER, ICACTIVER, IPRIORITYR, ICFGR),
 * which has the same layout in the GICv2 distributor, the GICv3 distributor
 * and the GICv3 redistributor's SGI_base frame.
 *
 * Sources: Arm IHI 0048B (GICv2) 3.2 "General handling of interrupts" and
 * 4.3 "Distributor register descriptions"; Arm IHI 0069 (GICv3/v4) 4.1
 * "Interrupt lifecycle" and 12.9 "GICD register descriptions"; Linux
 * `arch/arm64/kvm/vgic/vgic.c` (`kvm_vgic_inject_irq`,
 * `vgic_validate_injection`, `irq_is_pending`) and `vgic-mmio.c`
 * (`vgic_mmio_write_spending`, `vgic_mmio_write_config`,
 * `vgic_mmio_write_priority`).
 *
 * @module
 */
import { arenaI32, arenaU8 } from "../core/arena.ts";

/**
 * SGIs are INTIDs 0-15.
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * for (let i = 0; i < SGI_COUNT; i++) bank.edge[i]; // SGIs are always edge
 * ```
 */
export const SGI_COUNT = 16;
/**
 * SGIs and PPIs: the INTIDs private to each PE.
 *
 * @example
 * ```ts
 * const bank = new IrqBank(0, PRIVATE_COUNT); // one vCPU's SGIs and PPIs
 * ```
 */
export const PRIVATE_COUNT = 32;
/**
 * What IAR returns when nothing can be acknowledged.
 *
 * @example
 * ```ts
 * import { CpuInterface } from "./cpu_interface_v3.ts";
 * declare const cif: CpuInterface;
 * cif.read("iar1") === SPURIOUS; // nothing could be acknowledged
 * ```
 */
export const SPURIOUS = 1023;
/**
 * The first LPI.
 *
 * @example
 * ```ts
 * import { LpiTable } from "./lpi.ts";
 * new LpiTable().inRange(LPI_BASE); // true
 * ```
 */
export const LPI_BASE = 8192;
/**
 * KVM keeps 5 priority bits (VGIC_PRI_BITS): priorities are multiples of 8.
 *
 * @example
 * ```ts
 * 0xa7 & PRIORITY_MASK; // 0xa0
 * ```
 */
export const PRIORITY_MASK = 0xf8;

/**
 * `owner` value of an interrupt that only its in-kernel device may drive.
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * bank.owner[20] === OWNER_NONE; // KVM_IRQ_LINE may drive PPI 20
 * ```
 */
export const OWNER_NONE = 0;
/**
 * Owned by the architected timer.
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * bank.owner[27] = OWNER_TIMER; // only the arch timer drives PPI 27
 * ```
 */
export const OWNER_TIMER = 1;
/**
 * Owned by the vPMU (its overflow interrupt, KVM_ARM_VCPU_PMU_V3_IRQ).
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * bank.owner[23] = OWNER_PMU; // only the PMU drives PPI 23
 * ```
 */
export const OWNER_PMU = 2;

/**
 * The four states of an SGI, PPI or SPI.
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * const s: IrqStateName = bank.state(40); // "inactive" | "pending" | "active" | "active_pending"
 * ```
 */
export type IrqStateName = "inactive" | "pending" | "active" | "active_pending";

/**
 * Frame offsets of the per-INTID register banks (GICD_* and GICR_* in the
 * SGI_base frame share them).
 *
 * @example
 * ```ts
 * BankOffset.ISENABLER + 4 * 1; // GICD_ISENABLER1 (INTIDs 32-63)
 * ```
 */
export const BankOffset = {
  IGROUPR: 0x080,
  ISENABLER: 0x100,
  ICENABLER: 0x180,
  ISPENDR: 0x200,
  ICPENDR: 0x280,
  ISACTIVER: 0x300,
  ICACTIVER: 0x380,
  IPRIORITYR: 0x400,
  ITARGETSR: 0x800,
  ICFGR: 0xc00,
} as const;

/**
 * A bank of interrupts indexed by INTID, stored column-wise in typed arrays
 * so that scanning for the highest pending one allocates nothing.
 *
 * `first..limit-1` are the INTIDs the bank implements; the others read as
 * zero and ignore writes (RAZ/WI), as the GICv3 distributor does for the
 * SGI/PPI range once ARE=1.
 *
 * @example
 * ```ts
 * const spis = new IrqBank(32, 64);
 * spis.edge[40] = 0;           // level-sensitive
 * spis.inject(40, true);       // the line goes high
 * spis.acknowledge(40);
 * spis.state(40);              // "active_pending": the line is still high
 * ```
 */
export class IrqBank {
  /** The pending latch: set by an edge, an ISPENDR write or an SGI. */
  readonly latch: Uint8Array;
  /** The input line of a level-sensitive interrupt. */
  readonly line: Uint8Array;
  /** The active state (ISACTIVER). */
  readonly active: Uint8Array;
  /**
   * The enable bit (ISENABLER): it gates forwarding only. Written through
   * {@link IrqBank.setEnabled} only, which keeps {@link IrqBank.enabledCount}.
   */
  readonly enabled: Uint8Array;
  /**
   * How many INTIDs of {@link enabled} are set, kept by
   * {@link IrqBank.setEnabled}: `Gic.highest`, at every boundary, passes
   * over a bank with none without reading it.
   */
  enabledCount = 0;
  /**
   * {@link enabled} read four INTIDs at a time (a view of the same bytes,
   * whole words only), so a scan for a deliverable interrupt can pass over
   * four disabled ones with one load: `Gic.highest` runs at every exit.
   */
  readonly enabledWords: Int32Array;
  /**
   * {@link latch} and {@link line} read four INTIDs at a time, as
   * {@link enabledWords}: four INTIDs with no latch set and no line high
   * hold nothing pending (bar a GICv2 SGI's sources), so the scan passes
   * over them with two loads. Views, not summaries: nothing to keep up to date.
   */
  readonly latchWords: Int32Array;
  /** See {@link latchWords}. */
  readonly lineWords: Int32Array;
  /** 8-bit priority as written, already masked to the implemented bits. */
  readonly priority: Uint8Array;
  /** 1 = Group 1. */
  readonly group: Uint8Array;
  /** 1 = edge-triggered (ICFGR bit 2n+1), 0 = level-sensitive. */
  readonly edge: Uint8Array;
  /** Who may drive the line (KVM's `irq->owner`): {@link OWNER_NONE} or a device. */
  readonly owner: Uint8Array;
  /** The trace event that last made each one pending. */
  readonly cause: Int32Array;
  /**
   * GICv2 SGIs: one pending bit per source CPU (bit n = CPU n), kept per
   * target. Null for GICv3, where an SGI has one pending bit and no source.
   */
  sgiSources: Uint8Array | null = null;

  /**
   * A bank implementing INTIDs `first..limit-1`, all inactive, disabled,
   * level, Group 0, priority 0.
   *
   * @example
   * ```ts
   * new IrqBank(0, 32).has(31); // true: SGIs and PPIs
   * ```
   */
  constructor(readonly first: number, readonly limit: number) {
    this.latch = arenaU8(limit);
    this.line = arenaU8(limit);
    this.active = arenaU8(limit);
    this.enabled = arenaU8(limit);
    // arena views start 8-byte aligned, so a word view of the same bytes fits.
    this.enabledWords = new Int32Array(
      this.enabled.buffer,
      this.enabled.byteOffset,
      limit >>> 2,
    );
    this.latchWords = new Int32Array(this.latch.buffer, this.latch.byteOffset, limit >>> 2);
    this.lineWords = new Int32Array(this.line.buffer, this.line.byteOffset, limit >>> 2);
    this.priority = arenaU8(limit);
    this.group = arenaU8(limit);
    this.edge = arenaU8(limit);
    this.owner = arenaU8(limit);
    this.cause = arenaI32(limit);
  }

  /** Sets or clears INTID `i`'s enable bit (ISENABLER / ICENABLER, a reset). */
  setEnabled(i: number, on: boolean): void {
    const v = on ? 1 : 0;
    if (this.enabled[i] === v) return;
    this.enabled[i] = v;
    this.enabledCount += on ? 1 : -1;
  }

  /** Whether this bank implements `intid`. */
  has(intid: number): boolean {
    return intid >= this.first && intid < this.limit;
  }

  /** Pending = latch, or the line for a level-sensitive interrupt, or (GICv2 SGI) any source. */
  isPending(i: number): boolean {
    if (this.latch[i] !== 0) return true;
    if (this.edge[i] === 0 && this.line[i] !== 0) return true;
    const s = this.sgiSources;
    return s !== null && i < SGI_COUNT && s[i] !== 0;
  }

  /** The state as the spec names it. */
  state(i: number): IrqStateName {
    const p = this.isPending(i), a = this.active[i] !== 0;
    return a ? (p ? "active_pending" : "active") : p ? "pending" : "inactive";
  }

  /**
   * A device or KVM_IRQ_LINE drives the input, as `kvm_vgic_inject_irq` does:
   * for a level interrupt the line follows `level` (and nothing happens when
   * it does not change); for an edge interrupt every `level = 1` is an edge
   * that sets the latch and `level = 0` does nothing. Returns whether the
   * interrupt changed.
   */
  inject(i: number, level: boolean, cause = 0): boolean {
    if (this.edge[i] === 0) {
      const l = level ? 1 : 0;
      if (this.line[i] === l) return false;
      this.line[i] = l;
      if (l) this.cause[i] = cause;
      return true;
    }
    if (!level) return false;
    this.latch[i] = 1;
    this.cause[i] = cause;
    return true;
  }

  /** Sets the pending latch (ISPENDR, an SGI, an edge). */
  setPending(i: number, cause = 0): void {
    this.latch[i] = 1;
    this.cause[i] = cause;
  }

  /**
   * The acknowledge: Pending becomes Active and the latch clears. A level
   * line that is still high keeps it pending (Active+Pending). For a GICv2
   * SGI only the lowest source is consumed; the source is returned (-1 otherwise).
   */
  acknowledge(i: number): number {
    this.active[i] = 1;
    const s = this.sgiSources;
    if (s !== null && i < SGI_COUNT && s[i] !== 0) {
      const src = 31 - Math.clz32(s[i] & -s[i]);
      s[i] &= ~(1 << src);
      return src;
    }
    this.latch[i] = 0;
    return -1;
  }

  /** Deactivation (EOIR with EOImode=0, DIR, ICACTIVER). */
  deactivate(i: number): void {
    this.active[i] = 0;
  }
}

// ---- the register view of a bank --------------------------------------------

/** Reads one 32-bit word of a bit-per-INTID register (IGROUPR, IS/ICxxxR). */
function readBits(bank: IrqBank, base: number, get: (i: number) => boolean): number {
  let v = 0;
  for (let b = 0; b < 32; b++) {
    const i = base + b;
    if (bank.has(i) && get(i)) v |= 1 << b;
  }
  return v >>> 0;
}

/** Applies `set` to each INTID whose bit is 1 in `value`. */
function writeBits(bank: IrqBank, base: number, value: number, set: (i: number) => void): void {
  for (let b = 0; b < 32; b++) {
    if ((value & (1 << b)) !== 0 && bank.has(base + b)) set(base + b);
  }
}

/**
 * Options for the register view of a bank.
 *
 * @example
 * ```ts
 * declare const bank: IrqBank;
 * const options: BankAccessOptions = { v2Sgis: true };
 * bankWrite(bank, BankOffset.ISPENDR, 1 << 5, 4, options); // ignored: SGI 5 on GICv2
 * ```
 */
export interface BankAccessOptions {
  /** GICv2: ISPENDR/ICPENDR bits of SGIs are ignored (SPENDSGIR/CPENDSGIR own them). */
  v2Sgis?: boolean;
  /** The trace event of the access, recorded as the cause of what it makes pending. */
  cause?: number;
}

/**
 * Reads a per-INTID register at `offset` in a distributor or SGI_base frame.
 * `size` is 4, or 1 for the byte-accessible IPRIORITYR. Returns null when
 * `offset` is not one of the bank registers.
 *
 * @example
 * ```ts
 * const bank = new IrqBank(32, 64);
 * bank.setEnabled(33, true);
 * bankRead(bank, BankOffset.ISENABLER + 4, 4); // 0x2
 * ```
 */
export function bankRead(bank: IrqBank, offset: number, size: 1 | 4): number | null {
  const O = BankOffset;
  if (offset >= O.IPRIORITYR && offset < O.IPRIORITYR + 0x400) {
    const i = offset - O.IPRIORITYR;
    if (size === 1) return bank.has(i) ? bank.priority[i] : 0;
    let v = 0;
    for (let k = 0; k < 4; k++) if (bank.has(i + k)) v |= bank.priority[i + k] << (8 * k);
    return v >>> 0;
  }
  if (size !== 4) return null;
  if (offset >= O.ICFGR && offset < O.ICFGR + 0x100) {
    const base = ((offset - O.ICFGR) >> 2) * 16;
    let v = 0;
    for (let k = 0; k < 16; k++) {
      if (bank.has(base + k) && bank.edge[base + k]) v |= 2 << (2 * k);
    }
    return v >>> 0;
  }
  if (offset < O.IGROUPR || offset >= O.IPRIORITYR) return null;
  const reg = offset & ~0x7f;
  const base = ((offset & 0x7f) >> 2) * 32;
  switch (reg) {
    case O.IGROUPR:
      return readBits(bank, base, (i) => bank.group[i] !== 0);
    case O.ISENABLER:
    case O.ICENABLER:
      return readBits(bank, base, (i) => bank.enabled[i] !== 0);
    case O.ISPENDR:
    case O.ICPENDR:
      return readBits(bank, base, (i) => bank.isPending(i));
    case O.ISACTIVER:
    case O.ICACTIVER:
      return readBits(bank, base, (i) => bank.active[i] !== 0);
  }
  return null;
}

/**
 * Writes a per-INTID register. Set/clear registers act on 1 bits only;
 * ISPENDR sets and ICPENDR clears only the latch (a high level line keeps a
 * level interrupt pending); IPRIORITYR keeps the implemented bits (0xF8);
 * ICFGR changes only SPIs, and only bit 2n+1 (SGIs stay edge, PPIs stay
 * level, as KVM has it). Returns false when `offset` is not a bank register.
 *
 * @example
 * ```ts
 * const bank = new IrqBank(32, 64);
 * bankWrite(bank, BankOffset.IPRIORITYR + 32, 0xff7fbf3f, 4);
 * bankRead(bank, BankOffset.IPRIORITYR + 32, 4); // 0xf878b838
 * ```
 */
export function bankWrite(
  bank: IrqBank,
  offset: number,
  value: number,
  size: 1 | 4,
  options: BankAccessOptions = {},
): boolean {
  const O = BankOffset;
  if (offset >= O.IPRIORITYR && offset < O.IPRIORITYR + 0x400) {
    const i = offset - O.IPRIORITYR;
    const n = size === 1 ? 1 : 4;
    for (let k = 0; k < n; k++) {
      if (bank.has(i + k)) bank.priority[i + k] = (value >>> (8 * k)) & PRIORITY_MASK;
    }
    return true;
  }
  if (size !== 4) return false;
  if (offset >= O.ICFGR && offset < O.ICFGR + 0x100) {
    const base = ((offset - O.ICFGR) >> 2) * 16;
    for (let k = 0; k < 16; k++) {
      const i = base + k;
      // KVM: SGIs are always edge and PPIs always level; only SPIs change.
      if (i < PRIVATE_COUNT || !bank.has(i)) continue;
      bank.edge[i] = (value >>> (2 * k + 1)) & 1;
    }
    return true;
  }
  if (offset < O.IGROUPR || offset >= O.IPRIORITYR) return false;
  const reg = offset & ~0x7f;
  const base = ((offset & 0x7f) >> 2) * 32;
  const cause = options.cause ?? 0;
  const skipSgi = options.v2Sgis === true;
  switch (reg) {
    case O.IGROUPR:
      for (let b = 0; b < 32; b++) {
        if (bank.has(base + b)) bank.group[base + b] = (value >>> b) & 1;
      }
      return true;
    case O.ISENABLER:
      writeBits(bank, base, value, (i) => bank.setEnabled(i, true));
      return true;
    case O.ICENABLER:
      writeBits(bank, base, value, (i) => bank.setEnabled(i, false));
      return true;
    case O.ISPENDR:
      writeBits(bank, base, value, (i) => {
        if (!(skipSgi && i < SGI_COUNT)) bank.setPending(i, cause);
      });
      return true;
    case O.ICPENDR:
      writeBits(bank, base, value, (i) => {
        if (!(skipSgi && i < SGI_COUNT)) bank.latch[i] = 0;
      });
      return true;
    case O.ISACTIVER:
      writeBits(bank, base, value, (i) => (bank.active[i] = 1));
      return true;
    case O.ICACTIVER:
      writeBits(bank, base, value, (i) => (bank.active[i] = 0));
      return true;
  }
  return false;
}
