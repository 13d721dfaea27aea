/**
 * KVM's optimized APIC map: how KVM finds the destination of an interrupt
 * message without asking every vCPU, and where that answer differs from
 * asking every vCPU.
 *
 * Source: Linux `arch/x86/kvm/lapic.c`: `kvm_recalculate_apic_map`,
 * `kvm_recalculate_phys_map`, `kvm_recalculate_logical_map`,
 * `kvm_apic_map_get_logical_dest`, `kvm_apic_map_get_dest_lapic`,
 * `kvm_irq_delivery_to_apic_fast`, `kvm_vector_to_index`.
 *
 * The map holds, for present APICs (in-kernel and hardware-enabled):
 * - a physical table indexed by APIC ID, sized for every xAPIC ID (256)
 *   and every x2APIC ID in use. Without KVM_X2APIC_API_USE_32BIT_IDS an ID
 *   held by two APICs leaves KVM with no map at all, so every message goes
 *   the slow way (each vCPU matched in turn, -1 when none matches);
 * - one logical table in the mode every software-enabled APIC with a
 *   logical ID shares (xAPIC flat, xAPIC cluster, x2APIC, which reuses the
 *   physical table). Mixed modes, a logical ID with more than one bit, or
 *   two APICs on one bit disable it: logical messages then go the slow way.
 *
 * Answers that differ from the slow way, all visible to a VMM: a message
 * naming no APIC counts 0 ("handled, dropped") instead of -1; and a
 * lowest-priority logical message hashes its vector over the set bits of
 * the destination within its cluster, not over the vCPUs it reaches, and is
 * dropped when the chosen bit has no APIC.
 *
 * @module
 */
import { type Lapic, lastMapStamp } from "./lapic.ts";
import { arenaI32 } from "../core/arena.ts";
import { dfrModel } from "./lapic_registers.ts";

/** `enum kvm_apic_logical_mode`. */
export const LogicalMode = {
  /** No software-enabled APIC has a logical ID: every logical message reaches nobody. */
  SwDisabled: 0,
  XapicFlat: 1,
  XapicCluster: 2,
  X2apic: 3,
  /** Mixed modes or aliased logical IDs: logical messages go the slow way. */
  MapDisabled: 4,
} as const;

/** A {@link LogicalMode} value. */
export type LogicalMode = typeof LogicalMode[keyof typeof LogicalMode];

/** The physical table before the first recalculation. */
const NO_IDS = new Int32Array(0);

/**
 * KVM's APIC map of one VM, recomputed when an input changes.
 *
 * @example
 * ```ts
 * import { ApicBus } from "./apic_bus.ts";
 * declare const bus: ApicBus;
 * const map = new KvmApicMap(false);
 * map.update(bus.lapics);
 * map.logicalMode; // LogicalMode.XapicFlat once a vCPU set LDR in flat mode
 * ```
 */
export class KvmApicMap {
  /** False when KVM has no map (aliased physical IDs): every message goes the slow way. */
  valid = true;
  /** The highest ID the physical table covers (`max_apic_id`, at least 0xFF). */
  maxApicId = 0xff;
  // Tables hold vCPU index + 1, so a fresh (zeroed) table is empty: a VM is
  // built for every order `scn explore` tries, and filling with -1 cost.
  // The physical table (1 KiB) is made at the first recalculation: most of
  // those VMs stop at their first choice, before any message is delivered.
  #phys: Int32Array = NO_IDS;
  /** The logical table's mode. */
  logicalMode: LogicalMode = LogicalMode.SwDisabled;
  /** xAPIC flat: per logical ID bit 0..7. */
  readonly #flat: Int32Array = arenaI32(8);
  /** xAPIC cluster: per cluster (0..15) * 4 + bit. */
  readonly #cluster: Int32Array = arenaI32(16 * 4);
  /** Per APIC, the {@link Lapic.mapStamp} the map was computed from (0: none yet). */
  #seen: number[] = [];
  /** {@link lastMapStamp} and the list of APICs at the last look (-1, null: none yet). */
  #seenLast = -1;
  #seenList: readonly Lapic[] | null = null;
  /** Recalculations so far: a snapshot's restore keeps the map when there was none since. */
  #recalcs = 0;

  /**
   * KVM_X2APIC_API_USE_32BIT_IDS (`kvm->arch.x2apic_format`): the hotplug
   * rules of the physical table. Enabling it marks nothing dirty, so KVM
   * (and this map) applies it at the next recalculation.
   */
  constructor(public use32BitIds: boolean) {}

  /**
   * For `scn explore`'s snapshots (`VmModel.snapshot`): the map (valid,
   * maxApicId, #phys, logicalMode, #flat, #cluster) is derived from the
   * LAPICs, so it is not saved; the function puts use32BitIds back and,
   * when the map was recalculated since (#recalcs), forgets the stamps it
   * was computed from (#seen, #seenLast, #seenList), so that the next
   * update recalculates it from the LAPICs put back. Otherwise the map is
   * still the one computed from the stamps in #seen, which the LAPICs put
   * back with their registers ({@link Lapic.snapshot}): it is kept, and
   * only the last look is forgotten (a stamp can go back, so the look at
   * the newest stamp no longer proves that nothing changed).
   */
  snapshot(): () => void {
    const use32BitIds = this.use32BitIds, recalcs = this.#recalcs;
    return () => {
      this.use32BitIds = use32BitIds;
      this.#seenLast = -1;
      if (this.#recalcs === recalcs) return;
      // Zeros, which no stamp is, rather than an empty list: emptying frees the
      // list's store, which the next update then made again (a restore per order).
      this.#seen.fill(0);
      this.#seenList = null;
    };
  }

  /**
   * Recomputes the map if any APIC's ID, LDR, DFR, SVR enable or mode
   * changed since the last call (KVM recalculates on those writes);
   * allocation-free when nothing did.
   *
   * @example
   * ```ts
   * import { ApicBus } from "./apic_bus.ts";
   * declare const bus: ApicBus, map: KvmApicMap;
   * map.update(bus.lapics); // before every delivery
   * ```
   */
  update(lapics: readonly Lapic[]): void {
    // No LAPIC of the process took a stamp since the last look: one comparison per
    // delivery, here so that V8 inlines it into the bus.
    const last = lastMapStamp();
    if (
      last === this.#seenLast && lapics === this.#seenList && this.#seen.length === lapics.length
    ) {
      return;
    }
    if (this.#unchanged(lapics, last)) return;
    this.#recalculate(lapics);
  }

  /** Compares each APIC's stamp with the one seen (`last`: {@link lastMapStamp} now). */
  #unchanged(lapics: readonly Lapic[], last: number): boolean {
    const seen = this.#seen;
    this.#seenLast = last;
    this.#seenList = lapics;
    let same = seen.length === lapics.length;
    if (!same) {
      // A VM's vCPUs are all created before it runs: this happens once.
      while (seen.length > lapics.length) seen.pop();
      while (seen.length < lapics.length) seen.push(0);
    }
    for (let i = 0; i < lapics.length; i++) {
      const stamp = lapics[i].mapStamp;
      if (seen[i] !== stamp) {
        same = false;
        seen[i] = stamp;
      }
    }
    return same;
  }

  #recalculate(lapics: readonly Lapic[]): void {
    this.#recalcs++;
    let max = 0xff;
    for (const l of lapics) if (l.hardwareEnabled) max = Math.max(max, l.x2apicId);
    this.maxApicId = max;
    if (this.#phys.length !== max + 1) this.#phys = arenaI32(max + 1);
    else this.#phys.fill(0);
    this.#flat.fill(0);
    this.#cluster.fill(0);
    this.valid = true;
    this.logicalMode = LogicalMode.SwDisabled;
    for (let i = 0; i < lapics.length; i++) {
      const l = lapics[i];
      if (!l.hardwareEnabled) continue;
      if (!this.#physical(l, i)) {
        this.valid = false;
        return;
      }
      this.#logical(l, i);
    }
  }

  /** `kvm_recalculate_phys_map`; false where KVM gives up the whole map. */
  #physical(l: Lapic, i: number): boolean {
    const x2 = l.x2apicMode;
    const phys = this.#phys;
    if (this.use32BitIds) {
      if (x2 || l.x2apicId > 0xff) phys[l.x2apicId] = i + 1;
      if (!x2 && phys[l.xapicId] === 0) phys[l.xapicId] = i + 1;
      return true;
    }
    // A strict 1:1 mapping or none: an aliased ID disables the map.
    const id = x2 ? l.x2apicId : l.xapicId;
    if (phys[id] !== 0) return false;
    phys[id] = i + 1;
    return true;
  }

  /** `kvm_recalculate_logical_map`. */
  #logical(l: Lapic, i: number): void {
    if (this.logicalMode === LogicalMode.MapDisabled || !l.softwareEnabled) return;
    let ldr = l.ldr >>> 0;
    if (ldr === 0) return;
    let mode: LogicalMode;
    if (l.x2apicMode) mode = LogicalMode.X2apic;
    else {
      ldr >>>= 24;
      // KVM: flat if DFR is APIC_DFR_FLAT, anything else counts as cluster.
      mode = dfrModel(l.dfr) === "flat" ? LogicalMode.XapicFlat : LogicalMode.XapicCluster;
    }
    // All software-enabled APICs must share one mode.
    if (this.logicalMode === LogicalMode.SwDisabled) this.logicalMode = mode;
    else if (this.logicalMode !== mode) {
      this.logicalMode = LogicalMode.MapDisabled;
      return;
    }
    // x2APIC logical IDs derive from the x2APIC ID: the physical table serves.
    if (mode === LogicalMode.X2apic) return;
    const table = mode === LogicalMode.XapicFlat ? this.#flat : this.#cluster;
    const base = mode === LogicalMode.XapicFlat ? 0 : ((ldr >>> 4) & 0xf) * 4;
    const mask = mode === LogicalMode.XapicFlat ? ldr & 0xff : ldr & 0xf;
    if (mask === 0) return;
    const bit = 31 - Math.clz32(mask & -mask);
    if ((mask & (mask - 1)) !== 0 || table[base + bit] !== 0) {
      this.logicalMode = LogicalMode.MapDisabled;
      return;
    }
    table[base + bit] = i + 1;
  }

  /**
   * `kvm_apic_map_get_logical_dest` for a logical destination: the vCPU at
   * bit `b` of the destination's cluster is `at(b)` (-1 for none), for each
   * `b` set in the returned mask. Returns -1 when the logical table is
   * disabled (the slow way decides).
   *
   * @example
   * ```ts
   * declare const map: KvmApicMap;
   * const mask = map.logicalMask(0x03); // flat: bits 0 and 1
   * ```
   */
  logicalMask(dest: number): number {
    switch (this.logicalMode) {
      case LogicalMode.SwDisabled:
        return 0;
      case LogicalMode.X2apic: {
        const offset = (dest >>> 16) * 16;
        if (offset > this.maxApicId) return 0;
        const size = Math.min(this.maxApicId - offset + 1, 16);
        return dest & (0xffff >>> (16 - size));
      }
      case LogicalMode.XapicFlat:
        return dest & 0xff;
      case LogicalMode.XapicCluster:
        return dest & 0xf;
      default:
        return -1;
    }
  }

  /**
   * The vCPU at bit `bit` of the cluster that logical destination `dest`
   * names, or -1 (call after {@link KvmApicMap.logicalMask} said the table
   * is usable).
   *
   * @example
   * ```ts
   * declare const map: KvmApicMap;
   * map.logicalAt(0x03, 1); // the vCPU whose flat logical ID is 0x02
   * ```
   */
  logicalAt(dest: number, bit: number): number {
    switch (this.logicalMode) {
      case LogicalMode.X2apic:
        return this.physAt((dest >>> 16) * 16 + bit);
      case LogicalMode.XapicFlat:
        return this.#flat[bit] - 1;
      default:
        return this.#cluster[((dest >>> 4) & 0xf) * 4 + bit] - 1;
    }
  }

  /**
   * The vCPU with physical APIC ID `id` in KVM's table, or -1.
   *
   * @example
   * ```ts
   * declare const map: KvmApicMap;
   * map.physAt(1); // 1: vCPU 1 has APIC ID 1 after reset
   * ```
   */
  physAt(id: number): number {
    const phys = this.#phys;
    return id <= this.maxApicId && id < phys.length ? phys[id] - 1 : -1;
  }
}

/**
 * `kvm_vector_to_index`: the bit of `mask` a lowest-priority message with
 * `vector` picks, the (vector mod n)-th of its n set bits.
 *
 * @example
 * ```ts
 * vectorToIndex(0xb3, 0x30); // 5: 0xb3 mod 2 = 1, the second set bit
 * ```
 */
export function vectorToIndex(vector: number, mask: number): number {
  let k = (vector & 0xff) % popcount(mask);
  for (let b = 0; b < 32; b++) {
    if ((mask & (1 << b)) === 0) continue;
    if (k === 0) return b;
    k--;
  }
  return -1;
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}
