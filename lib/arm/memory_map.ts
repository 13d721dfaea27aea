/**
 * Where the Arm model puts the GIC's tables in guest RAM when it brings the
 * GIC up as Linux does (`gic enable`, `its enable`), and how large that RAM
 * is. Linux allocates these pages at run time; the model fixes them so a
 * scenario can name them (`expect mem.u64[0x110010] == ...`). A scenario that
 * programs GICR_PROPBASER, GICR_PENDBASER, GITS_BASER<n> or GITS_CBASER itself
 * may put its tables anywhere in RAM.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 5.1.1 "LPI Configuration tables" (one byte
 * per LPI from INTID 8192), 5.1.2 "LPI Pending tables" (one bit per INTID
 * from 0: 8 KB for 16 ID bits, 64 KB aligned), 12.19.1 GITS_BASER<n> (64 KB
 * pages); Linux `drivers/irqchip/irq-gic-v3-its.c` (`its_alloc_lpi_prop_table`,
 * `its_allocate_pending_table`, `its_alloc_tables`, `ITS_CMD_QUEUE_SZ`).
 *
 * @module
 */

/**
 * The model's placement of the GIC's tables in guest-physical memory.
 *
 * @example
 * ```ts
 * ArmMemoryMap.ITS_DEVICE_TABLE.toString(16); // "110000"
 * ```
 */
export const ArmMemoryMap = {
  /** The LPI configuration table (GICR_PROPBASER): 56 KB for 16 ID bits. */
  LPI_CONFIG: 0x10_0000,
  /** The ITS device table (GITS_BASER0): one 64 KB page, 8192 DeviceIDs. */
  ITS_DEVICE_TABLE: 0x11_0000,
  /** The ITS collection table (GITS_BASER1): one 64 KB page. */
  ITS_COLLECTION_TABLE: 0x12_0000,
  /** The ITS command queue (GITS_CBASER): 64 KB. */
  ITS_COMMAND_QUEUE: 0x13_0000,
  /** vCPU n's LPI pending table (GICR_PENDBASER) is at this + n * PENDING_TABLE_STRIDE. */
  PENDING_TABLES: 0x20_0000,
  /** PENDBASER's address is 64 KB aligned. */
  PENDING_TABLE_STRIDE: 0x1_0000,
} as const;

/**
 * Guest RAM of an Arm VM with `vcpus` vCPUs: 2 MB for the guest's own data
 * and the GIC's tables, then one 64 KB pending table per vCPU.
 *
 * @example
 * ```ts
 * armRamSize(4).toString(16); // "240000"
 * ```
 */
export function armRamSize(vcpus: number): number {
  return ArmMemoryMap.PENDING_TABLES + vcpus * ArmMemoryMap.PENDING_TABLE_STRIDE;
}
