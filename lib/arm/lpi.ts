/**
 * LPIs: the LPI configuration table in guest memory (one byte per LPI at
 * the address GICR_PROPBASER gives + INTID - 8192: [7:2] priority, [1]
 * RES1, [0] enable) and the LPIs the ITS has mapped, with the copy of the
 * configuration that KVM caches. A byte outside guest RAM reads as 0 (KVM's
 * `kvm_read_guest` fails and the LPI keeps its cached state).
 *
 * KVM reads an LPI's configuration byte when MAPTI/MAPI creates it and again
 * only on INV, INVALL (or GICR_INVLPIR); a guest that changes the byte
 * without an invalidation keeps the old priority and enable. LPIs are
 * edge-triggered with no active state: an acknowledge clears pending, and a
 * new MSI during the handler pends it again.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 5.1 "LPIs", 5.1.1 "LPI Configuration
 * tables" (Table 5-1), 12.11 GICR_PROPBASER; Linux
 * `arch/arm64/kvm/vgic/vgic-its.c` (`vgic_add_lpi`, `update_lpi_config`,
 * `LPI_PROP_PRIORITY` masks with 0xfc), `vgic-mmio-v3.c`
 * (`vgic_mmio_write_invlpi`).
 *
 * @module
 */
import { GuestMemory } from "../core/guest_memory.ts";
import { LPI_BASE } from "./irq_state.ts";

/**
 * How the pending state of an LPI got there, for the trace and `lpi[n].path`.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * const path: LpiPath = gic.lpis.lpis.get(8200)!.path; // "direct" for a vLPI to a resident vPE
 * ```
 */
export type LpiPath = "none" | "software" | "direct" | "doorbell";

/**
 * The delivery paths, in the order `lpi[n].path` names them.
 *
 * @example
 * ```ts
 * LPI_PATHS.indexOf("doorbell"); // 3
 * ```
 */
export const LPI_PATHS: readonly LpiPath[] = ["none", "software", "direct", "doorbell"];

/**
 * One mapped LPI (KVM's `struct vgic_irq` for an LPI).
 *
 * @example
 * ```ts
 * const l = new Lpi(8192);
 * l.pending = true;
 * ```
 */
export class Lpi {
  /** Priority from the configuration byte (& 0xfc), as cached by KVM. */
  priority = 0;
  /** Enable bit from the configuration byte, as cached by KVM. */
  enabled = false;
  #pending = false;
  /** The vCPU whose redistributor it targets, or -1. */
  target: number = -1;
  /** Trace event that last made it pending. */
  cause = 0;
  /** GICv4: forwarded to the hardware as a vLPI (KVM's `irq->hw`). */
  forwarded = false;
  /** The path of the last delivery. */
  path: LpiPath = "none";
  /** How many ITEs map it (it goes away with the last one). */
  refs = 0;

  /**
   * LPI `intid`, not pending, with no target until a collection gives it one.
   *
   * @example
   * ```ts
   * new Lpi(8195).target; // -1
   * ```
   */
  constructor(readonly intid: number, table: LpiTable | null = null) {
    this.#table = table;
  }

  /** The table that mapped it, whose {@link LpiTable.pendingCount} it keeps; fixed at creation. */
  readonly #table: LpiTable | null;

  /** Pending at its target (edge-triggered: no active state). */
  get pending(): boolean {
    return this.#pending;
  }

  set pending(on: boolean) {
    if (on === this.#pending) return;
    this.#pending = on;
    if (this.#table !== null) this.#table.pendingCount += on ? 1 : -1;
  }
}

/**
 * The configuration table and the mapped LPIs of one VM.
 *
 * @example
 * ```ts
 * const t = new LpiTable();
 * t.writeConfig(8192, 0xa3);       // priority 0xa0, enabled
 * const lpi = t.map(8192);         // MAPTI reads the byte now
 * lpi.priority;                    // 0xa0
 * ```
 */
export class LpiTable {
  /**
   * GICR_PROPBASER.IDbits + 1: the LPI INTID range is 8192 .. 2^idBits - 1.
   * Linux programs 16 (ITS_MAX_LPI_NRBITS) and KVM caps it at 16 too.
   */
  idBits = 16;
  /** Guest-physical address of the configuration table (GICR_PROPBASER.PA). */
  base = 0;
  /** Mapped LPIs by INTID (KVM's `dist->lpi_xa`). */
  readonly lpis: Map<number, Lpi> = new Map();
  /** The same LPIs in mapping order, so that scans need no iterator objects. */
  readonly list: Lpi[] = [];
  /**
   * How many of {@link list} are pending, kept by {@link Lpi.pending}'s
   * setter (an LPI leaves the list only through {@link unmap}, which clears
   * pending first): `Gic.highest` runs at every boundary and need not scan
   * the list while it is 0.
   */
  pendingCount = 0;

  /**
   * A table in the guest RAM `memory` gives (by default a private 64 KB, for
   * unit tests), at address 0 until GICR_PROPBASER moves it.
   *
   * @example
   * ```ts
   * new LpiTable().readConfig(8192); // 0: disabled, priority 0
   * ```
   */
  constructor(readonly memory: () => GuestMemory = privateMemory()) {}

  /** One more than the largest LPI INTID the table covers. */
  get limit(): number {
    return 2 ** this.idBits;
  }

  /** Whether `intid` is an LPI the table covers. */
  inRange(intid: number): boolean {
    return intid >= LPI_BASE && intid < this.limit;
  }

  /** The guest writes a configuration byte (no invalidation: KVM keeps its cached copy). */
  writeConfig(intid: number, value: number): void {
    const mem = this.memory(), at = this.base + intid - LPI_BASE;
    if (intid >= LPI_BASE && mem.contains(at, 1)) mem.write(at, 8, value & 0xff);
  }

  /** The configuration byte in guest memory (0 outside RAM). */
  readConfig(intid: number): number {
    const mem = this.memory(), at = this.base + intid - LPI_BASE;
    return intid >= LPI_BASE && mem.contains(at, 1) ? mem.byte(at) : 0;
  }

  /** Re-reads the configuration byte into the cached copy (INV, INVALL, MAPTI). */
  sync(lpi: Lpi): void {
    const b = this.readConfig(lpi.intid);
    lpi.priority = b & 0xfc;
    lpi.enabled = (b & 1) !== 0;
  }

  /** Creates (or shares) the LPI for a new ITE, reading its configuration. */
  map(intid: number): Lpi {
    let lpi = this.lpis.get(intid);
    if (!lpi) {
      lpi = new Lpi(intid, this);
      this.lpis.set(intid, lpi);
      this.list.push(lpi);
      this.sync(lpi);
    }
    lpi.refs++;
    return lpi;
  }

  /** An ITE that mapped `lpi` went away; the last one drops the LPI and its pending state. */
  unmap(lpi: Lpi): void {
    if (--lpi.refs > 0) return;
    lpi.pending = false;
    lpi.forwarded = false;
    this.lpis.delete(lpi.intid);
    this.list.splice(this.list.indexOf(lpi), 1);
  }
}

/** A private 64 KB RAM for a table built without a VM (unit tests). */
function privateMemory(): () => GuestMemory {
  let mem: GuestMemory | undefined;
  return () => mem ??= new GuestMemory(0x1_0000);
}
