/**
 * The GICv3 Interrupt Translation Service as KVM's vITS implements it: the
 * device table (DeviceID → ITT of EventID → ITE{pINTID, ICID}), the
 * collection table (ICID → target redistributor, a processor number since
 * GITS_TYPER.PTA=0), the commands MAPD, MAPC, MAPTI, MAPI, INT, CLEAR,
 * DISCARD, MOVI, MOVALL, INV, INVALL and SYNC with their fields, and
 * translation of a GITS_TRANSLATER write (EventID as data, DeviceID from
 * the bus).
 *
 * Commands run only while GITS_CTLR.Enabled=1 (queued ones run on enable);
 * each advances GITS_CREADR by 32 bytes, wrapping at the queue size that
 * GITS_CBASER.Size gives.
 *
 * The registers follow KVM (`vgic_mmio_read_its_*`, `vgic_mmio_write_its_*`):
 * GITS_CTLR reads Quiescent when CREADR equals CWRITER; setting Enabled is
 * ignored while BASER0, BASER1 or CBASER is not Valid, and clearing it
 * empties the translation cache; BASER<n> and CBASER writes are ignored
 * while Enabled; a BASER write keeps Type and Entry_Size (read-only),
 * forces 64 KB pages and a flat collection table, and a change to it
 * frees every device or collection (before the 2026 fix only clearing Valid
 * did: {@link ItsKvmRelease}); a CBASER write zeroes CREADR and
 * CWRITER; GITS_TYPER and GITS_IIDR are read-only. The VMM's ITS_REGS
 * attribute group adds its own rules (`vgic_its_attr_regs_access`:
 * alignment, -ENXIO for a hole, GITS_CREADR writable only while disabled).
 * The command queue is in guest memory at GITS_CBASER: `its <command>`
 * writes the command's 32 bytes there and advances GITS_CWRITER as Linux's
 * driver does, and a guest that writes commands itself and then CWRITER has
 * them read the same way (`vgic_its_process_commands`). A command that fails is silently
 * skipped: KVM computes an E_ITS_* code, never shows it to the guest, and
 * moves on — the code is returned here so a scenario can name the failure.
 * A translation miss drops the MSI.
 *
 * The translation cache (KVM's per-ITS `translation_cache`, keyed by
 * DeviceID and EventID): a successful translation of a software-injected
 * LPI is remembered (`vgic_its_resolve_lpi` → `vgic_its_cache_translation`;
 * a forwarded vLPI is never cached), and an MSI that hits it is made pending
 * without any of the ITS's checks (`vgic_its_inject_cached_translation`).
 * Everything that could make a cached answer wrong empties it
 * (`vgic_its_invalidate_cache`): DISCARD, MOVI, MOVALL, MAPD of a mapped
 * device (`vgic_its_free_device`), MAPC V=0, clearing GITS_CTLR.Enabled,
 * and clearing EnableLPIs at any redistributor
 * (`vgic_its_invalidate_all_caches`). INV, INVALL, INT and CLEAR leave it.
 *
 * KVM's quirks, kept on purpose: MAPTI of an existing (DeviceID, EventID)
 * is ignored; MAPTI may name a collection that is not mapped yet (it is
 * created unmapped); MAPC V=0 orphans every ITE of the collection, so a
 * later MAPC V=1 does not revive them; MAPD of a mapped device drops all
 * its ITEs first; DISCARD needs a mapped collection; INVALL re-reads the
 * configuration of every LPI that targets the collection's vCPU; MOVALL
 * moves every LPI on RD1; SYNC does nothing; KVM_SIGNAL_MSI to a
 * translation that misses returns 0.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) chapter 5.2 "The ITS", 5.3 "ITS
 * commands" (5.3.8 INT, 5.3.9 INV, 5.3.11 MAPC, 5.3.12 MAPD, 5.3.13 MAPI,
 * 5.3.14 MAPTI, 5.3.15 MOVALL, 5.3.16 MOVI, 5.3.17 SYNC, 5.3.4 CLEAR,
 * 5.3.5 DISCARD), 12.19 GITS_TYPER; Linux `arch/arm64/kvm/vgic/vgic-its.c`
 * (`vgic_its_cmd_handle_*`, `vgic_its_resolve_lpi`, `vgic_its_inject_msi`,
 * `update_affinity`, `vgic_its_free_collection`) and its E_ITS_* codes.
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import { EACCES, EBUSY, EEXIST, EINVAL, ENXIO } from "./errno.ts";

export { EACCES, EBUSY, EEXIST } from "./errno.ts";
import { LPI_BASE } from "./irq_state.ts";
import type { Lpi, LpiTable } from "./lpi.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import { ArmMemoryMap } from "./memory_map.ts";
import type { StateHash } from "../core/platform.ts";
import { joinWords, splitWords } from "../core/bitfield.ts";

/**
 * KVM's ITS command error codes (E_ITS_*), returned internally only.
 *
 * @example
 * ```ts
 * ItsError.MAPTI_UNMAPPED_DEVICE.toString(16); // "10a04"
 * ```
 */
export const ItsError = {
  MOVI_UNMAPPED_INTERRUPT: 0x010107,
  MOVI_UNMAPPED_COLLECTION: 0x010109,
  INT_UNMAPPED_INTERRUPT: 0x010307,
  CLEAR_UNMAPPED_INTERRUPT: 0x010507,
  MAPD_DEVICE_OOR: 0x010801,
  MAPD_ITTSIZE_OOR: 0x010802,
  MAPC_PROCNUM_OOR: 0x010902,
  MAPC_COLLECTION_OOR: 0x010903,
  MAPTI_UNMAPPED_DEVICE: 0x010a04,
  MAPTI_ID_OOR: 0x010a05,
  MAPTI_PHYSICALID_OOR: 0x010a06,
  INV_UNMAPPED_INTERRUPT: 0x010c07,
  INVALL_UNMAPPED_COLLECTION: 0x010d09,
  MOVALL_PROCNUM_OOR: 0x010e01,
  DISCARD_UNMAPPED_INTERRUPT: 0x010f07,
} as const;

/**
 * Command opcodes (DW0[7:0]).
 *
 * @example
 * ```ts
 * ItsOpcode.MAPTI; // 0x0a
 * ```
 */
export const ItsOpcode = {
  MOVI: 0x01,
  INT: 0x03,
  CLEAR: 0x04,
  SYNC: 0x05,
  MAPD: 0x08,
  MAPC: 0x09,
  MAPTI: 0x0a,
  MAPI: 0x0b,
  INV: 0x0c,
  INVALL: 0x0d,
  MOVALL: 0x0e,
  DISCARD: 0x0f,
} as const;

/** {@link ItsOpcode} the other way: a command's name by its DW0 [7:0] (the queue runs thousands). */
const OPCODE_NAMES: ReadonlyMap<number, keyof typeof ItsOpcode> = new Map(
  (Object.keys(ItsOpcode) as (keyof typeof ItsOpcode)[]).map((k) => [ItsOpcode[k], k]),
);

/**
 * GITS_TYPER as KVM reports it: 16 DeviceID bits, 16 EventID bits, 8-byte ITEs, PTA=0.
 *
 * @example
 * ```ts
 * ((KVM_GITS_TYPER >> 8) & 0x1f) + 1; // 16 EventID bits
 * ```
 */
export const KVM_GITS_TYPER = (1 << 0) | (7 << 4) | (15 << 8) | (15 << 13);
/**
 * GITS_TRANSLATER's offset from ITS_base (in the translation frame).
 *
 * @example
 * ```ts
 * import { ITS_BASE } from "./gic.ts";
 * ITS_BASE + GITS_TRANSLATER; // the MSI doorbell address
 * ```
 */
export const GITS_TRANSLATER = 0x10040;
/**
 * Bytes per command in the queue.
 *
 * @example
 * ```ts
 * declare const its: Its;
 * its.command({ op: "SYNC", target: 0 });
 * its.cwriter; // advanced by ITS_COMMAND_BYTES
 * ```
 */
export const ITS_COMMAND_BYTES = 32;
/**
 * Linux's command queue size (ITS_CMD_QUEUE_SZ, 64 KB), which `Its.linuxEnable`
 * programs in GITS_CBASER.Size; CREADR and CWRITER wrap at the queue's end.
 *
 * @example
 * ```ts
 * ITS_QUEUE_BYTES / ITS_COMMAND_BYTES; // 2048 commands before CREADR wraps
 * ```
 */
export const ITS_QUEUE_BYTES = 0x10000;
/** KVM's vITS: 16 EventID bits at most. */
const MAX_EVENTID_BITS = 16;
/** KVM's vITS: 16 DeviceID bits (`VITS_MAX_DEVID`). */
const MAX_DEVICEID = 0xffff;
/** Bytes per device, collection and interrupt table entry (KVM's ABI 0). */
const ESZ = 8;
/** The largest DeviceID and EventID the cache holds (`VITS_MAX_DEVID`, `VITS_MAX_EVENTID`). */
const MAX_CACHED_ID = 0xffff;

/**
 * A command's four doublewords as the ITS reads them (Arm IHI 0069 5.3;
 * KVM's `its_cmd_get_*`): DW0 [7:0] opcode, [63:32] DeviceID; DW1 [31:0]
 * EventID, [63:32] pINTID, [4:0] Size (MAPD); DW2 [15:0] ICID, [51:8]
 * ITT_addr (MAPD), [47:16] RDbase, [63] V; DW3 [47:16] RDbase2 (MOVALL).
 *
 * @example
 * ```ts
 * encodeCommand({ op: "SYNC", target: 2 })[2]; // 0x20000n
 * ```
 */
export function encodeCommand(c: ItsCommand): bigint[] {
  const w = new Uint32Array(ITS_COMMAND_WORDS);
  encodeCommandWords(c, w);
  return [0, 1, 2, 3].map((i) => joinWords(w[2 * i], w[2 * i + 1]));
}

/** 32-bit words in one command: the queue is read and written a word at a time, with no BigInt. */
const ITS_COMMAND_WORDS = ITS_COMMAND_BYTES / 4;

/**
 * {@link encodeCommand} as the command's eight 32-bit words, little-endian
 * order (`out[2n]` is DWn's low word), for fields in their ranges: IDs and
 * RDbases 32 bits, an ICID 16, ITT_addr below 2^52, V 0 or 1.
 */
function encodeCommandWords(c: ItsCommand, out: Uint32Array): void {
  out.fill(0);
  out[0] = ItsOpcode[c.op];
  const dev = c.device ?? 0, ev = c.event ?? 0, icid = c.collection ?? 0;
  // DW2 (and DW3) [47:16]: an RDbase across the word boundary.
  const rdLow = (n: number | undefined) => ((n ?? 0) << 16) >>> 0;
  const rdHigh = (n: number | undefined) => ((n ?? 0) >>> 16) & 0xffff;
  const v = ((c.valid ?? 1) & 1) << 31;
  switch (c.op) {
    case "MAPD": {
      const itt = c.ittAddr ?? 0;
      out[1] = dev;
      out[2] = (c.size ?? 0) & 0x1f;
      out[4] = (itt >>> 0) & 0xffff_ff00;
      out[5] = (Math.floor(itt / 0x1_0000_0000) & 0xf_ffff) | v;
      break;
    }
    case "MAPC":
      out[4] = icid | rdLow(c.target);
      out[5] = rdHigh(c.target) | v;
      break;
    case "MAPTI":
      out[1] = dev;
      out[2] = ev;
      out[3] = c.lpi ?? 0;
      out[4] = icid;
      break;
    case "MAPI":
    case "MOVI":
      out[1] = dev;
      out[2] = ev;
      out[4] = icid;
      break;
    case "INVALL":
      out[4] = icid;
      break;
    case "SYNC":
      out[4] = rdLow(c.target);
      out[5] = rdHigh(c.target);
      break;
    case "MOVALL":
      out[4] = rdLow(c.target);
      out[5] = rdHigh(c.target);
      out[6] = rdLow(c.target2);
      out[7] = rdHigh(c.target2);
      break;
    default:
      out[1] = dev;
      out[2] = ev;
  }
}

/**
 * The command in four doublewords read from the queue, or undefined for an
 * opcode KVM does not handle.
 *
 * @example
 * ```ts
 * decodeCommand(encodeCommand({ op: "INT", device: 2, event: 20 }))!.event; // 20
 * ```
 */
export function decodeCommand(dw: readonly bigint[]): ItsCommand | undefined {
  const w = new Uint32Array(ITS_COMMAND_WORDS);
  for (let i = 0; i < 4; i++) {
    const { low, high } = splitWords(dw[i]);
    w[2 * i] = low;
    w[2 * i + 1] = high;
  }
  return decodeCommandWords(w);
}

/** {@link decodeCommand} of the command's eight 32-bit words (see {@link encodeCommandWords}). */
function decodeCommandWords(w: Uint32Array): ItsCommand | undefined {
  const op = OPCODE_NAMES.get(w[0] & 0xff);
  if (!op) return undefined;
  return {
    op,
    device: w[1],
    event: w[2],
    lpi: w[3],
    size: w[2] & 0x1f,
    collection: w[4] & 0xffff,
    ittAddr: (w[5] & 0xf_ffff) * 0x1_0000_0000 + ((w[4] & 0xffff_ff00) >>> 0),
    target: ((w[4] >>> 16) | ((w[5] & 0xffff) << 16)) >>> 0,
    target2: ((w[6] >>> 16) | ((w[7] & 0xffff) << 16)) >>> 0,
    valid: w[5] >>> 31,
  };
}

/** Writes one little-endian table entry; false outside guest RAM (`vgic_its_write_entry_lock` fails). */
function writeEntry(mem: GuestMemory, at: number, val: bigint): boolean {
  if (!mem.contains(at, ESZ)) return false;
  mem.write(at, 64, val);
  return true;
}

/** `vgic_its_cache_key`: DeviceID above the 16 EventID bits (exact: at most 2^32 * 2^16). */
function cacheKey(device: number, event: number): number {
  return device * 0x1_0000 + event;
}

/**
 * GITS_* register offsets in the ITS control frame (ITS_base).
 *
 * @example
 * ```ts
 * declare const its: Its;
 * its.readRegister(GitsOffset.CTLR, 4); // Quiescent | Enabled
 * ```
 */
export const GitsOffset = {
  CTLR: 0x0,
  IIDR: 0x4,
  TYPER: 0x8,
  CBASER: 0x80,
  CWRITER: 0x88,
  CREADR: 0x90,
  BASER: 0x100,
  PIDR4: 0xffd0,
  PIDR2: 0xffe8,
} as const;

/**
 * GITS_CTLR bits.
 *
 * @example
 * ```ts
 * declare const its: Its;
 * (its.readRegister(GitsOffset.CTLR, 4) & GitsCtlr.QUIESCENT) !== 0n; // nothing queued
 * ```
 */
export const GitsCtlr = { ENABLED: 1n, QUIESCENT: 1n << 31n } as const;

/**
 * GITS_IIDR as KVM reports it (ABI revision 0): ProductID 0x4b ('K'), Implementer Arm.
 *
 * @example
 * ```ts
 * KVM_GITS_IIDR.toString(16); // "4b00043b"
 * ```
 */
export const KVM_GITS_IIDR = 0x4b00_043b;

/**
 * The KVM table handling an ITS follows, the vm setting `its_tables`, oldest
 * last. `newest` (the stored Linux snapshot, which has the two fixes the
 * selftest arm64/vgic_its_save.c checks; Linux 7.3 is the first release with
 * them): a GITS_BASER<n> write that changes the register frees its devices or
 * collections (`vgic_mmio_write_its_baser`), and KVM_DEV_ARM_ITS_SAVE_TABLES
 * leaves out a device the device table no longer addresses, linking the DTE
 * before it past it (`vgic_its_save_device_tables`,
 * `compute_next_devid_offset`). `linux_7_2` (Linux 7.2 and every release
 * before it): only clearing Valid frees, and such a device fails the save with
 * -EINVAL after the DTEs before it were written. Both fixes carry Fixes: tags,
 * so a stable kernel older than 7.3 may have them backported: choose by the
 * behaviour the kernel has, not by its version alone.
 *
 * @example
 * ```ts
 * ITS_KVM_RELEASES[0]; // "newest"
 * ```
 */
// Evidence for the release names (torvalds/linux history, read through the
// kernel.org post-receive logs and cgit): 8cd92f77ae4f "KVM: arm64: vgic-its:
// Free the caches when GITS_BASER changes", cc5d96036e01 "KVM: arm64:
// vgic-its: Skip unreachable devices instead of failing the save" and the
// selftest 6f182db39fb0 "KVM: arm64: selftests: Add ITS table save tests",
// all based on v7.3-rc3, came in tag kvmarm-fixes-7.3-1 ("KVM/arm64 changes
// for 7.3, take #2"), merged by Paolo Bonzini as ec2ee09cb943 on 2026-09-21
// and in Linus's tree by 2026-09-28 (akpm/mm refs/heads/linus), during the
// 7.3-rc cycle; kvmarm-fixes-7.4-1 (2026-10-28) is already 7.4's. So v7.3 is
// the first release with both, and v7.2 the last without.
export const ITS_KVM_RELEASES = ["newest", "linux_7_2"] as const;

/** One of {@link ITS_KVM_RELEASES}. */
export type ItsKvmRelease = typeof ITS_KVM_RELEASES[number];

/**
 * GITS_BASER<n> and GITS_CBASER fields (Arm IHI 0069 12.19.1, 12.19.2).
 *
 * @example
 * ```ts
 * declare const its: Its;
 * (its.baserDevice & GitsBaser.VALID) !== 0n; // the device table is valid
 * ```
 */
export const GitsBaser = {
  VALID: 1n << 63n,
  INDIRECT: 1n << 62n,
  INNER_CACHE_SHIFT: 59n,
  TYPE_SHIFT: 56n,
  OUTER_CACHE_SHIFT: 53n,
  ENTRY_SIZE_SHIFT: 48n,
  SHAREABILITY_SHIFT: 10n,
  PAGE_SIZE_SHIFT: 8n,
  /** Type: 1 devices, 4 collections. */
  TYPE_DEVICE: 1n,
  TYPE_COLLECTION: 4n,
  /** Page_Size 64 KB, the only one KVM supports. */
  PAGE_SIZE_64K: 2n,
} as const;

/** {@link GitsBaser.INDIRECT} and Type's shift in the register's high word; Type 1 as a number. */
const INDIRECT_HIGH = Number(GitsBaser.INDIRECT >> 32n),
  TYPE_SHIFT_HIGH = Number(GitsBaser.TYPE_SHIFT) - 32,
  TYPE_DEVICE = Number(GitsBaser.TYPE_DEVICE);
/** Entry_Size and Type are read-only (GITS_BASER_RO_MASK). */
const BASER_RO_MASK = (0x1fn << 48n) | (0x7n << 56n);
/** KVM's ABI 0: 8-byte device, collection and interrupt table entries. */
const ABI0_ENTRY_BYTES = 8n;
/** GIC_BASER_CACHE_RaWb and _RaWaWb: the cacheability encodings used here. */
const CACHE_RAWB = 3n, CACHE_RAWAWB = 7n;
/** INITIAL_BASER_VALUE: inner RaWb, outer same as inner, inner shareable, 64 KB pages. */
const INITIAL_BASER = (CACHE_RAWB << GitsBaser.INNER_CACHE_SHIFT) |
  (1n << GitsBaser.SHAREABILITY_SHIFT) | (GitsBaser.PAGE_SIZE_64K << GitsBaser.PAGE_SIZE_SHIFT);
/** What Linux's driver asks for its tables: inner RaWaWb, inner shareable. */
const LINUX_ATTRIBUTES = (CACHE_RAWAWB << GitsBaser.INNER_CACHE_SHIFT) |
  (1n << GitsBaser.SHAREABILITY_SHIFT);

function field(reg: bigint, shift: bigint, bits: bigint): bigint {
  return (reg >> shift) & ((1n << bits) - 1n);
}
function withField(reg: bigint, shift: bigint, bits: bigint, v: bigint): bigint {
  const mask = ((1n << bits) - 1n) << shift;
  return (reg & ~mask) | ((v << shift) & mask);
}

/**
 * KVM's sanitising of a BASER or CBASER write (`vgic_sanitise_field` with
 * `vgic_sanitise_shareability`, `_inner_cacheability`, `_outer_cacheability`):
 * outer shareable becomes inner shareable, inner non-cacheable becomes RaWb (3),
 * an outer attribute other than "same as inner" or non-cacheable becomes
 * non-cacheable.
 */
function sanitiseAttributes(reg: bigint): bigint {
  const sh = field(reg, GitsBaser.SHAREABILITY_SHIFT, 2n);
  reg = withField(reg, GitsBaser.SHAREABILITY_SHIFT, 2n, sh === 2n ? 1n : sh);
  const inner = field(reg, GitsBaser.INNER_CACHE_SHIFT, 3n);
  reg = withField(reg, GitsBaser.INNER_CACHE_SHIFT, 3n, inner <= 1n ? CACHE_RAWB : inner);
  const outer = field(reg, GitsBaser.OUTER_CACHE_SHIFT, 3n);
  return withField(reg, GitsBaser.OUTER_CACHE_SHIFT, 3n, outer <= 1n ? outer : 1n);
}

/** `update_64bit_reg`: a 4-byte access at `offset & 4` replaces one half, an 8-byte one all. */
function update64(old: bigint, offset: number, size: number, value: bigint): bigint {
  if (size === 8) return BigInt.asUintN(64, value);
  const shift = BigInt((offset & 4) * 8);
  const mask = 0xffff_ffffn << shift;
  return (old & ~mask) | ((BigInt.asUintN(32, value) << shift) & mask);
}

/** `extract_bytes`: the `size` bytes of `reg` at byte `offset & 7`. */
function extract(reg: bigint, offset: number, size: number): bigint {
  return BigInt.asUintN(size * 8, reg >> BigInt((offset & 7) * 8));
}

/**
 * An interrupt translation entry.
 *
 * @example
 * ```ts
 * declare const its: Its;
 * const ite: Ite | undefined = its.findIte(2, 20);
 * ite?.lpi.intid; // 8195 after MAPTI (2, 20) -> 8195
 * ```
 */
export interface Ite {
  /** The EventID it translates. */
  readonly event: number;
  /** The physical LPI (pINTID) it maps to. */
  readonly lpi: Lpi;
  /** The collection, or -1 once MAPC V=0 has orphaned it (KVM: `ite->collection = NULL`). */
  icid: number;
}

/**
 * A mapped device: its ITT.
 *
 * @example
 * ```ts
 * declare const its: Its;
 * const dev: ItsDevice | undefined = its.devices.get(2);
 * dev?.itt.size; // how many events are mapped
 * ```
 */
export interface ItsDevice {
  /** The DeviceID. */
  readonly id: number;
  /** MAPD Size: EventID bits - 1. */
  readonly size: number;
  /** MAPD ITT_addr: where the ITT lives in guest memory (256-byte aligned). */
  readonly ittAddr: number;
  /** The interrupt translation table: EventID -> ITE. */
  readonly itt: Map<number, Ite>;
}

/**
 * One ITS command with its fields (those that do not apply are 0).
 *
 * @example
 * ```ts
 * declare const its: Its;
 * const cmd: ItsCommand = { op: "MOVI", device: 2, event: 20, collection: 4 };
 * its.command(cmd); // 0, or an E_ITS_* code
 * ```
 */
export interface ItsCommand {
  /** The command, by its spec name. */
  op: keyof typeof ItsOpcode;
  /** DeviceID (MAPD, MAPTI, MAPI, INT, CLEAR, DISCARD, MOVI, INV). */
  device?: number;
  /** EventID (MAPTI, MAPI, INT, CLEAR, DISCARD, MOVI, INV). */
  event?: number;
  /** MAPTI pINTID. */
  lpi?: number;
  /** ICID (MAPC, MAPTI, MAPI, MOVI, INVALL). */
  collection?: number;
  /** MAPC / SYNC RDbase, MOVALL RDbase1 (processor numbers: PTA=0). */
  target?: number;
  /** MOVALL RDbase2. */
  target2?: number;
  /** MAPD Size (EventID bits - 1). */
  size?: number;
  /** MAPD ITT_addr: the ITT's guest-physical address (bits [51:8] kept). */
  ittAddr?: number;
  /** MAPD / MAPC V. */
  valid?: number;
}

/**
 * What the ITS needs from the rest of the GIC.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic, trace: Trace;
 * const host: ItsHost = gic; // the Gic hosts its ITS
 * new Its(host, trace);
 * ```
 */
export interface ItsHost {
  /** The number of vCPUs: RDbase (a processor number) must be below it. */
  readonly vcpus: number;
  /** The LPI configuration table and the mapped LPIs. */
  readonly lpis: LpiTable;
  /** GICR_CTLR.EnableLPIs of a vCPU's redistributor. */
  lpisEnabled(vcpu: number): boolean;
  /** Make the LPI pending at its target (software injection, or the vLPI when forwarded). */
  pend(lpi: Lpi, why: string): void;
  /** Clear the pending state (CLEAR). */
  unpend(lpi: Lpi): void;
  /** The LPI's target vCPU changes (MOVI, MOVALL, MAPC of a mapped collection). */
  retarget(lpi: Lpi, vcpu: number): void;
  /** The cached configuration was re-read (INV, INVALL): forwarded vLPIs get the new properties. */
  configChanged(lpi: Lpi): void;
  /** The ITE that maps `lpi` is going away (DISCARD, MAPD): a forwarded vLPI is unmapped. */
  iteFreed(lpi: Lpi): void;
  /** Guest RAM, where the ITS's tables live. */
  memory(): GuestMemory;
  /**
   * The host's GIC is a GICv4.1 (KVM's `has_gicv4_1`), whose vPE tables
   * KVM can read a vLPI's state from.
   */
  readonly hostV41: boolean;
  /** A new LPI takes its pending state from its target's pending table. */
  syncPendingStatus(lpi: Lpi): void;
}

/**
 * Outcome of a translation: the ITE, or why it missed (an E_ITS_* code or -EBUSY).
 *
 * @example
 * ```ts
 * declare const its: Its;
 * const t: Translation = its.translate(2, 20);
 * if ("error" in t) errorName(t.error); else t.vcpu;
 * ```
 */
export type Translation = { ite: Ite; vcpu: number } | { error: number };

/**
 * The ITS.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * declare const host: ItsHost, trace: Trace;
 * const its = new Its(host, trace);
 * its.enabled = true;
 * its.command({ op: "MAPD", device: 0x10, size: 3, valid: 1 });
 * its.command({ op: "MAPC", collection: 0, target: 1, valid: 1 });
 * its.command({ op: "MAPTI", device: 0x10, event: 3, lpi: 8192, collection: 0 });
 * its.translate(0x10, 3); // { ite, vcpu: 1 }
 * ```
 */
export class Its {
  /** GITS_CTLR.Enabled. */
  #enabled = false;

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    h.bool(this.#enabled);
  }
  /** The device table: DeviceID -> its ITT. */
  readonly devices: Map<number, ItsDevice> = new Map();
  /** The collection table: ICID → target vCPU, -1 for a collection that exists but is not mapped. */
  readonly collections: Map<number, number> = new Map();
  /** GITS_CREADR: the byte offset of the next command to read. */
  creadr = 0;
  /** GITS_CWRITER: the byte offset after the last command written. */
  cwriter = 0;
  /** The code of the last command processed (0 for success). */
  lastError = 0;
  /** GITS_BASER0: the device table (KVM resets it to INITIAL_BASER_VALUE, not Valid). */
  baserDevice: bigint = INITIAL_BASER | (ABI0_ENTRY_BYTES - 1n) << GitsBaser.ENTRY_SIZE_SHIFT |
    GitsBaser.TYPE_DEVICE << GitsBaser.TYPE_SHIFT;
  /** GITS_BASER1: the collection table. */
  baserCollection: bigint = INITIAL_BASER | (ABI0_ENTRY_BYTES - 1n) << GitsBaser.ENTRY_SIZE_SHIFT |
    GitsBaser.TYPE_COLLECTION << GitsBaser.TYPE_SHIFT;
  /** GITS_CBASER: the command queue (0 at reset: not Valid, one 4 KB page). */
  cbaser = 0n;
  /** The translation cache: `cacheKey(DeviceID, EventID)` → the LPI it translated to. */
  readonly cache: Map<number, Lpi> = new Map();

  /**
   * An empty, disabled ITS over `host`; `name` is its trace source.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * import { Gic } from "./gic.ts";
   * declare const gic: Gic, trace: Trace;
   * new Its(gic, trace).quiescent; // true: nothing queued
   * ```
   */
  /**
   * Which KVM's table handling this ITS follows ({@link ItsKvmRelease}):
   * the `its_tables` setting; `newest` unless the VM names another.
   */
  release: ItsKvmRelease = "newest";

  constructor(readonly host: ItsHost, readonly trace: Trace, readonly name = "its") {}

  /** GITS_CTLR.Enabled. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Writing GITS_CTLR.Enabled: turning it on runs the commands queued meanwhile. */
  set enabled(on: boolean) {
    this.#enabled = on;
    if (!on) {
      this.invalidateCache("GITS_CTLR.Enabled cleared");
      return;
    }
    this.#processQueue();
  }

  /** GITS_CTLR.Quiescent: every written command has been read. */
  get quiescent(): boolean {
    return this.creadr === this.cwriter;
  }

  /** The command queue's size from GITS_CBASER.Size (`ITS_CMD_BUFFER_SIZE`); 4 KB pages. */
  get queueBytes(): number {
    return (Number(this.cbaser & 0xffn) + 1) * 0x1000;
  }

  /**
   * A guest read of a GITS_* register (`vgic_mmio_read_its_*`): CTLR is
   * Quiescent (CREADR == CWRITER) and Enabled, BASER2..7 read 0, an offset
   * with no register reads 0.
   */
  readRegister(offset: number, size: 1 | 4 | 8): bigint {
    const O = GitsOffset;
    let reg: bigint;
    const at = offset & ~7;
    if (offset === O.CTLR) {
      reg = (this.quiescent ? GitsCtlr.QUIESCENT : 0n) | (this.#enabled ? GitsCtlr.ENABLED : 0n);
      return reg;
    }
    if (offset === O.IIDR) return BigInt(KVM_GITS_IIDR);
    if (offset === O.PIDR2) return 0x3bn;
    if (at === O.TYPER) reg = BigInt(KVM_GITS_TYPER);
    else if (at === O.CBASER) reg = this.cbaser;
    else if (at === O.CWRITER) reg = BigInt(this.cwriter);
    else if (at === O.CREADR) reg = BigInt(this.creadr);
    else if (at === O.BASER) reg = this.baserDevice;
    else if (at === O.BASER + 8) reg = this.baserCollection;
    else return 0n;
    return extract(reg, offset, size);
  }

  /**
   * A guest write of a GITS_* register (`vgic_mmio_write_its_*`). Returns
   * false when KVM ignores it: Enabled set while BASER0, BASER1 or CBASER
   * is not Valid; BASER and CBASER while Enabled; CWRITER past the queue;
   * the read-only and write-ignored registers.
   */
  writeRegister(offset: number, value: bigint, size: 1 | 4 | 8): boolean {
    const O = GitsOffset;
    const at = offset & ~7;
    if (offset === O.CTLR) return this.#writeCtlr(value);
    if (at === O.CBASER) {
      if (this.#enabled) return false;
      const reg = update64(this.cbaser, offset, size, value) & ~(0xfn << 12n);
      this.cbaser = sanitiseAttributes(reg);
      // vgic_mmio_write_its_cbaser: an empty queue at the new base.
      this.creadr = 0;
      this.cwriter = 0;
      return true;
    }
    if (at === O.BASER || at === O.BASER + 8) {
      return this.#writeBaser(at === O.BASER, offset, value, size);
    }
    if (at === O.CWRITER) {
      const next = Number(update64(BigInt(this.cwriter), offset, size, value) & 0xf_ffe0n);
      if (next >= this.queueBytes) return false;
      // vgic_mmio_write_its_cwriter: the commands up to the new CWRITER
      // are read from the queue in guest memory (while Enabled).
      this.cwriter = next;
      this.#processQueue();
      return true;
    }
    return false;
  }

  #writeCtlr(value: bigint): boolean {
    const on = (value & GitsCtlr.ENABLED) !== 0n;
    if (!this.#enabled && on && !this.tablesValid) {
      this.#emit(
        "ctlr",
        "GITS_CTLR.Enabled ignored: BASER0, BASER1 and CBASER must be Valid first (vgic_mmio_write_its_ctlr)",
      );
      return false;
    }
    this.enabled = on;
    return true;
  }

  /** GITS_BASER0 (devices), GITS_BASER1 (collections) and GITS_CBASER are all Valid. */
  get tablesValid(): boolean {
    const V = GitsBaser.VALID;
    return (this.baserDevice & V) !== 0n && (this.baserCollection & V) !== 0n &&
      (this.cbaser & V) !== 0n;
  }

  #writeBaser(device: boolean, offset: number, value: bigint, size: 1 | 4 | 8): boolean {
    if (this.#enabled) return false;
    const B = GitsBaser;
    let reg = update64(device ? this.baserDevice : this.baserCollection, offset, size, value);
    reg &= ~BASER_RO_MASK;
    if (!device) reg &= ~B.INDIRECT; // KVM's collection table is flat
    reg |= ((ABI0_ENTRY_BYTES - 1n) << B.ENTRY_SIZE_SHIFT) |
      ((device ? B.TYPE_DEVICE : B.TYPE_COLLECTION) << B.TYPE_SHIFT);
    reg = withField(sanitiseAttributes(reg), B.PAGE_SIZE_SHIFT, 2n, B.PAGE_SIZE_64K);
    const old = device ? this.baserDevice : this.baserCollection;
    if (device) this.baserDevice = reg;
    else this.baserCollection = reg;
    // vgic_its_free_device_list / vgic_its_free_collection_list. Since the
    // 2026 fix any change frees the table's list (what it described may no
    // longer fit it, and a save would write past it); an unchanged rewrite,
    // as Linux's ITS driver does on resume, keeps it. Before, only clearing
    // Valid did.
    const drop = this.release === "linux_7_2" ? (reg & B.VALID) === 0n : reg !== old;
    if (drop) {
      if (device) {
        for (const id of [...this.devices.keys()]) this.mapd(id, 0, 0);
      } else {
        for (const icid of [...this.collections.keys()]) this.mapc(icid, 0, 0);
      }
    }
    return true;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ITS_REGS) (`vgic_its_attr_regs_access`):
   * 64-bit registers need 8-byte aligned offsets, the rest 4 (-EINVAL); an
   * offset with no register is -ENXIO. GITS_IIDR takes only revision 0
   * (-EINVAL otherwise); GITS_CREADR is written only while the ITS is
   * disabled (-EBUSY) and inside the queue (-EINVAL). Every other register
   * is written as the guest would. Returns 0 or a negative errno.
   */
  setRegisterAttr(offset: number, value: bigint): number {
    const check = this.#attrCheck(offset);
    if (check !== 0) return check;
    const O = GitsOffset;
    if (offset === O.IIDR) return Number((value >> 12n) & 0xfn) === 0 ? 0 : -EINVAL;
    if (offset === O.CREADR) {
      if (this.#enabled) return -EBUSY;
      const at = Number(value & 0xf_ffe0n);
      if (at >= this.queueBytes) return -EINVAL;
      this.creadr = at;
      return 0;
    }
    this.writeRegister(offset, value, offset < O.TYPER || offset >= O.PIDR4 ? 4 : 8);
    return 0;
  }

  /** KVM_GET_DEVICE_ATTR(ITS_REGS): the register's value, or the -EINVAL / -ENXIO of `setRegisterAttr`. */
  getRegisterAttr(offset: number): bigint | number {
    const check = this.#attrCheck(offset);
    if (check !== 0) return check;
    return this.readRegister(
      offset,
      offset < GitsOffset.TYPER || offset >= GitsOffset.PIDR4 ? 4 : 8,
    );
  }

  #attrCheck(offset: number): number {
    const O = GitsOffset;
    const align = offset < O.TYPER || offset >= O.PIDR4 ? 3 : 7;
    if ((offset & align) !== 0) return -EINVAL;
    const regions: ReadonlyArray<readonly [number, number]> = [
      [O.CTLR, 4],
      [O.IIDR, 4],
      [O.TYPER, 8],
      [O.CBASER, 8],
      [O.CWRITER, 8],
      [O.CREADR, 8],
      [O.BASER, 0x40],
      [O.PIDR4, 0x30],
    ];
    return regions.some(([base, len]) => offset >= base && offset < base + len) ? 0 : -ENXIO;
  }

  // ---- KVM_DEV_ARM_VGIC_GRP_CTRL: reset, save and restore (KVM's ABI 0) --------------

  /**
   * KVM_DEV_ARM_ITS_CTRL_RESET (`vgic_its_reset`): BASER0/1 lose Valid,
   * CBASER, CREADR and CWRITER go to 0, the ITS is disabled, and every
   * device and collection is freed. A migration's destination starts so.
   */
  reset(): void {
    this.baserDevice &= ~GitsBaser.VALID;
    this.baserCollection &= ~GitsBaser.VALID;
    this.cbaser = 0n;
    this.creadr = 0;
    this.cwriter = 0;
    this.#enabled = false;
    for (const id of [...this.devices.keys()]) this.mapd(id, 0, 0);
    for (const icid of [...this.collections.keys()]) this.mapc(icid, 0, 0);
    this.invalidateCache("KVM_DEV_ARM_ITS_CTRL_RESET");
    this.#emit("reset", "KVM_DEV_ARM_ITS_CTRL_RESET: tables freed, BASERs not Valid");
  }

  /**
   * KVM_DEV_ARM_ITS_SAVE_TABLES (`vgic_its_save_tables_v0`): every device's
   * ITT (one 8-byte ITE per mapped EventID at ITT_addr + 8 * EventID:
   * [63:48] offset to the next EventID, [47:16] pINTID, [15:0] ICID), its
   * device table entry ([63] Valid, [62:49] offset to the next DeviceID,
   * [48:5] ITT_addr >> 8, [4:0] EventID bits - 1), then the collection table
   * from its start ([63] Valid, [47:16] RDbase, [15:0] ICID) with an
   * invalid entry after the last if it is not full. Returns 0, -EINVAL for
   * a DeviceID with no entry, or -EACCES for a forwarded vLPI unless the
   * host is a GICv4.1 (`vgic_its_save_itt`: without GICv4.1 KVM cannot
   * read the vLPI's state).
   */
  saveTables(): number {
    const mem = this.host.memory();
    if ((this.baserDevice & GitsBaser.VALID) !== 0n) {
      const all = [...this.devices.keys()].sort((a, b) => a - b);
      // Since the 2026 fix a device the table can no longer address (its
      // level-2 block dropped from an indirect table, by a plain store KVM
      // never sees) is left out, and so is it from the chain of next
      // offsets; before, it failed the save.
      const ids = this.release === "linux_7_2"
        ? all
        : all.filter((id) => this.#tableEntry(this.baserDevice, id) >= 0);
      for (let k = 0; k < ids.length; k++) {
        const dev = this.devices.get(ids[k])!;
        const at = this.#tableEntry(this.baserDevice, dev.id);
        if (at < 0) return -EINVAL;
        const events = [...dev.itt.keys()].sort((a, b) => a - b);
        for (let j = 0; j < events.length; j++) {
          const ite = dev.itt.get(events[j])!;
          if (ite.lpi.forwarded && !this.host.hostV41) return -EACCES;
          // An ITE MAPC V=0 orphaned has no ICID to save: it goes out as an
          // invalid (zero) entry, which the restore skips, and the offsets
          // of the ITEs before it lead past it (vgic_its_save_ite,
          // compute_next_eventid_offset). Linux before that fix dereferenced
          // the missing collection; the model saves as the newest does.
          let val = 0n;
          if (ite.icid >= 0) {
            let k = j + 1;
            while (k < events.length && dev.itt.get(events[k])!.icid < 0) k++;
            const next = k < events.length ? Math.min(events[k] - events[j], 0xffff) : 0;
            val = (BigInt(next) << 48n) | (BigInt(ite.lpi.intid) << 16n) | BigInt(ite.icid);
          }
          if (!writeEntry(mem, dev.ittAddr + ite.event * ESZ, val)) return -EINVAL;
        }
        const next = k + 1 < ids.length ? Math.min(ids[k + 1] - ids[k], 0x3fff) : 0;
        const dte = (1n << 63n) | (BigInt(next) << 49n) | ((BigInt(dev.ittAddr) >> 8n) << 5n) |
          BigInt(dev.size);
        if (!writeEntry(mem, at, dte)) return -EINVAL;
      }
    }
    if ((this.baserCollection & GitsBaser.VALID) !== 0n) {
      let at = Number(this.baserCollection & 0x0000_ffff_ffff_f000n);
      const end = at + (Number(this.baserCollection & 0xffn) + 1) * 0x1_0000;
      for (const [icid, target] of this.collections) {
        const rd = BigInt.asUintN(32, BigInt(target)); // -1: COLLECTION_NOT_MAPPED
        if (!writeEntry(mem, at, (1n << 63n) | (rd << 16n) | BigInt(icid))) return -EINVAL;
        at += ESZ;
      }
      if (at < end && !writeEntry(mem, at, 0n)) return -EINVAL;
    }
    this.#emit(
      "save",
      "KVM_DEV_ARM_ITS_SAVE_TABLES: device, interrupt and collection tables written",
    );
    return 0;
  }

  /**
   * KVM_DEV_ARM_ITS_RESTORE_TABLES (`vgic_its_restore_tables_v0`): the
   * collection table first (up to the first invalid entry; an RDbase naming
   * no vCPU or a repeated ICID is -EINVAL / -EEXIST), then the device table
   * and each device's ITT, following the offsets to the next entry; each
   * ITE's LPI reads its configuration and its pending bit
   * (`vgic_add_lpi`). On an error what was restored is freed.
   */
  restoreTables(): number {
    const mem = this.host.memory();
    if ((this.baserCollection & GitsBaser.VALID) !== 0n) {
      let at = Number(this.baserCollection & 0x0000_ffff_ffff_f000n);
      const end = at + (Number(this.baserCollection & 0xffn) + 1) * 0x1_0000;
      for (; at < end; at += ESZ) {
        if (!mem.contains(at, ESZ)) return this.#restoreFailed(-EINVAL, false);
        const val = mem.readBig(at, 64);
        if ((val & (1n << 63n)) === 0n) break;
        const target = Number((val >> 16n) & 0xffff_ffffn), icid = Number(val & 0xffffn);
        if (target !== 0xffff_ffff && target >= this.host.vcpus) {
          return this.#restoreFailed(-EINVAL, false);
        }
        if (this.collections.has(icid)) return this.#restoreFailed(-EEXIST, false);
        if (this.#tableEntry(this.baserCollection, icid) < 0) {
          return this.#restoreFailed(-EINVAL, false);
        }
        this.collections.set(icid, target === 0xffff_ffff ? -1 : target);
      }
    }
    if ((this.baserDevice & GitsBaser.VALID) !== 0n) {
      const r = this.#restoreDevices(mem);
      if (r < 0) return this.#restoreFailed(r, true);
    }
    this.#emit("restore", "KVM_DEV_ARM_ITS_RESTORE_TABLES: tables read back");
    return 0;
  }

  #restoreFailed(code: number, devices: boolean): number {
    if (devices) { for (const id of [...this.devices.keys()]) this.mapd(id, 0, 0); }
    for (const icid of [...this.collections.keys()]) this.collections.delete(icid);
    this.#emit("restore", `KVM_DEV_ARM_ITS_RESTORE_TABLES failed: ${code}`);
    return code;
  }

  /** The device table walk (`scan_its_table` with `vgic_its_restore_dte`). */
  #restoreDevices(mem: GuestMemory): number {
    const baser = this.baserDevice;
    const base = Number(baser & 0x0000_ffff_ffff_f000n);
    const bytes = (Number(baser & 0xffn) + 1) * 0x1_0000;
    if ((baser & GitsBaser.INDIRECT) === 0n) return this.#scanDtes(mem, base, bytes, 0);
    for (let i = 0; i * 8 < bytes; i++) {
      if (!mem.contains(base + i * 8, 8)) return -EINVAL;
      const l1 = mem.readBig(base + i * 8, 64);
      if ((l1 & (1n << 63n)) === 0n) continue;
      const r = this.#scanDtes(
        mem,
        Number(l1 & 0x000f_ffff_ffff_0000n),
        0x1_0000,
        i * (0x1_0000 / ESZ),
      );
      if (r <= 0) return r;
    }
    return 0;
  }

  /** Scans device table entries from `id`; 0 once the last was found, 1 when the table ended, < 0 on error. */
  #scanDtes(mem: GuestMemory, at: number, bytes: number, id: number): number {
    for (let left = bytes;;) {
      if (!mem.contains(at, ESZ)) return -EINVAL;
      const e = mem.readBig(at, 64);
      let next = 1;
      if ((e >> 63n) !== 0n) {
        next = Number((e >> 49n) & 0x3fffn);
        if (this.#tableEntry(this.baserDevice, id) < 0) return -EINVAL;
        const dev: ItsDevice = {
          id,
          size: Number(e & 0x1fn),
          ittAddr: Number(((e >> 5n) & 0xfff_ffff_ffffn) << 8n),
          itt: new Map(),
        };
        this.devices.set(id, dev);
        const r = this.#restoreItt(mem, dev);
        if (r < 0) {
          this.mapd(id, 0, 0);
          return r;
        }
        if (next === 0) return 0;
      }
      if (next * ESZ >= left) return 1;
      id += next;
      at += next * ESZ;
      left -= next * ESZ;
    }
  }

  /** One device's ITT (`vgic_its_restore_itt`, `vgic_its_restore_ite`). */
  #restoreItt(mem: GuestMemory, dev: ItsDevice): number {
    const events = 2 ** (dev.size + 1);
    for (let event = 0; event < events;) {
      const at = dev.ittAddr + event * ESZ;
      if (!mem.contains(at, ESZ)) return -EINVAL;
      const val = mem.readBig(at, 64);
      const lpi = Number((val >> 16n) & 0xffff_ffffn), icid = Number(val & 0xffffn);
      if (lpi === 0) {
        event++;
        continue;
      }
      if (lpi < LPI_BASE) return -EINVAL;
      const next = Number(val >> 48n);
      if (event + next >= events) return -EINVAL;
      if (!this.collections.has(icid) || !this.#eventFits(dev, event)) return -EINVAL;
      this.#addIte(dev, event, lpi, icid);
      if (next === 0) return 0;
      event += next;
    }
    return 0;
  }

  /**
   * What Linux's ITS driver does before enabling (`its_alloc_tables`,
   * `its_alloc_collections`, the CBASER write in `its_probe_one`): a flat
   * one-page device table in BASER0 and collection table in BASER1, a 64 KB
   * command queue in CBASER, each Valid, at the model's fixed addresses
   * (`ArmMemoryMap`), then GITS_CTLR.Enabled. Registers already Valid are
   * left as they are.
   */
  linuxEnable(): void {
    const V = GitsBaser.VALID, M = ArmMemoryMap;
    if (!this.#enabled) {
      if ((this.baserDevice & V) === 0n) {
        this.writeRegister(GitsOffset.BASER, V | LINUX_ATTRIBUTES | BigInt(M.ITS_DEVICE_TABLE), 8);
      }
      if ((this.baserCollection & V) === 0n) {
        this.writeRegister(
          GitsOffset.BASER + 8,
          V | LINUX_ATTRIBUTES | BigInt(M.ITS_COLLECTION_TABLE),
          8,
        );
      }
      if ((this.cbaser & V) === 0n) {
        this.writeRegister(
          GitsOffset.CBASER,
          V | LINUX_ATTRIBUTES | BigInt(M.ITS_COMMAND_QUEUE) | 0xfn,
          8,
        );
      }
    }
    this.#writeCtlr(GitsCtlr.ENABLED);
  }

  /** A command's words on their way to or from the queue (scratch, rewritten before each read). */
  readonly #words: Uint32Array = new Uint32Array(ITS_COMMAND_WORDS);
  /** The same command as the queue holds it, little-endian, for one store (scratch). */
  readonly #commandBytes: Uint8Array = new Uint8Array(ITS_COMMAND_BYTES);
  readonly #bytes: DataView = new DataView(this.#commandBytes.buffer);

  /**
   * What Linux's `its_send_single_command` does: writes the command's 32
   * bytes at GITS_CBASER + GITS_CWRITER in guest memory, advances CWRITER,
   * and (when Enabled) lets the ITS read the queue. Returns the command's
   * code (0 or an E_ITS_* value, -EBUSY as a negative number), or null while
   * it waits for the ITS to be enabled.
   */
  command(cmd: ItsCommand): number | null {
    const at = this.#queueAddress(this.cwriter);
    const mem = this.host.memory();
    if (mem.contains(at, ITS_COMMAND_BYTES)) {
      const w = this.#words, bytes = this.#bytes;
      encodeCommandWords(cmd, w);
      for (let i = 0; i < ITS_COMMAND_WORDS; i++) bytes.setUint32(4 * i, w[i], true);
      mem.store(at, this.#commandBytes);
    }
    this.cwriter = (this.cwriter + ITS_COMMAND_BYTES) % this.queueBytes;
    if (!this.#enabled) {
      this.#emit("queued", `${describe(cmd)} queued: the ITS is disabled`);
      return null;
    }
    return this.#processQueue();
  }

  /** The guest-physical address of the queue entry at byte offset `offset`. */
  #queueAddress(offset: number): number {
    return Number(this.cbaser & 0x000f_ffff_ffff_0000n) + offset;
  }

  /**
   * `vgic_its_process_commands`: while Enabled, reads and runs each command
   * from CREADR up to CWRITER in guest memory (a command outside RAM is
   * skipped, as KVM skips one it cannot read), CREADR wrapping at the
   * queue's end. Returns the last command's code, or null if none ran.
   */
  #processQueue(): number | null {
    if (!this.#enabled) return null;
    const mem = this.host.memory();
    let code: number | null = null;
    while (this.creadr !== this.cwriter) {
      const at = this.#queueAddress(this.creadr);
      if (mem.contains(at, ITS_COMMAND_BYTES)) {
        const w = this.#words;
        for (let i = 0; i < ITS_COMMAND_WORDS; i++) w[i] = mem.read(at + 4 * i, 32) as number;
        const cmd = decodeCommandWords(w);
        code = cmd ? this.#process(cmd) : this.#skip(w[0] & 0xff);
      } else {
        code = this.#skip(-1);
      }
    }
    return code;
  }

  /** A command KVM does not know (or cannot read): CREADR moves past it. */
  #skip(opcode: number): number {
    this.creadr = (this.creadr + ITS_COMMAND_BYTES) % this.queueBytes;
    this.#emit(
      "command",
      opcode < 0
        ? "command outside guest RAM: skipped, CREADR advances"
        : `opcode 0x${opcode.toString(16)}: not a command KVM handles, CREADR advances`,
    );
    return 0;
  }

  #process(cmd: ItsCommand): number {
    const code = this.#run(cmd);
    this.creadr = (this.creadr + ITS_COMMAND_BYTES) % this.queueBytes;
    this.lastError = code;
    if (this.trace.enabled) {
      this.trace.emit(
        this.name,
        "command",
        code === 0
          ? describe(cmd)
          : `${describe(cmd)}: ${errorName(code)} (ignored, CREADR advances)`,
      );
    }
    return code;
  }

  #run(c: ItsCommand): number {
    const dev = c.device ?? 0, ev = c.event ?? 0, icid = c.collection ?? 0;
    switch (c.op) {
      case "MAPD":
        return this.mapd(dev, c.size ?? 0, c.valid ?? 1, c.ittAddr ?? 0);
      case "MAPC":
        return this.mapc(icid, c.target ?? 0, c.valid ?? 1);
      case "MAPTI":
        return this.mapti(dev, ev, c.lpi ?? 0, icid);
      case "MAPI":
        return this.mapti(dev, ev, ev, icid);
      case "INT":
        return this.int(dev, ev);
      case "CLEAR":
        return this.clear(dev, ev);
      case "DISCARD":
        return this.discard(dev, ev);
      case "MOVI":
        return this.movi(dev, ev, icid);
      case "MOVALL":
        return this.movall(c.target ?? 0, c.target2 ?? 0);
      case "INV":
        return this.inv(dev, ev);
      case "INVALL":
        return this.invall(icid);
      case "SYNC":
        return 0;
    }
  }

  /** Whether a collection exists and is mapped to a vCPU (`its_is_collection_mapped`). */
  collectionTarget(icid: number): number {
    return icid < 0 ? -1 : this.collections.get(icid) ?? -1;
  }

  /** The ITE for (DeviceID, EventID), if mapped. */
  findIte(device: number, event: number): Ite | undefined {
    return this.devices.get(device)?.itt.get(event);
  }

  /**
   * MAPD: map (V=1) or unmap (V=0) a device whose ITT is at `itt`; an
   * existing mapping loses all its ITEs first. The DeviceID must have an
   * entry in the device table that GITS_BASER0 describes, in guest RAM
   * (`vgic_its_check_id`).
   */
  mapd(device: number, size: number, valid: number, itt = 0): number {
    if (this.#tableEntry(this.baserDevice, device) < 0) return ItsError.MAPD_DEVICE_OOR;
    if (valid && size + 1 > MAX_EVENTID_BITS) return ItsError.MAPD_ITTSIZE_OOR;
    const old = this.devices.get(device);
    if (old) {
      for (const ite of old.itt.values()) this.#freeIte(ite);
      this.invalidateCache(`MAPD of mapped device 0x${device.toString(16)}`);
      this.devices.delete(device);
    }
    if (valid) this.devices.set(device, { id: device, size, itt: new Map(), ittAddr: itt });
    return 0;
  }

  /**
   * MAPC: map a collection to a vCPU (V=1) or remove it, orphaning its ITEs
   * (V=0, where RDbase is not looked at). A new collection needs an entry in
   * the collection table GITS_BASER1 describes.
   */
  mapc(icid: number, target: number, valid: number): number {
    if (!valid) {
      for (const d of this.devices.values()) {
        for (const ite of d.itt.values()) if (ite.icid === icid) ite.icid = -1;
      }
      this.collections.delete(icid);
      this.invalidateCache(`MAPC ICID ${icid} V=0`);
      return 0;
    }
    if (target >= this.host.vcpus) return ItsError.MAPC_PROCNUM_OOR;
    const existed = this.collections.has(icid);
    if (!existed && this.#tableEntry(this.baserCollection, icid) < 0) {
      return ItsError.MAPC_COLLECTION_OOR;
    }
    this.collections.set(icid, target);
    if (existed) {
      for (const d of this.devices.values()) {
        for (const ite of d.itt.values()) {
          if (ite.icid === icid) this.host.retarget(ite.lpi, target);
        }
      }
    }
    return 0;
  }

  /** MAPTI / MAPI: create an ITE; KVM ignores a second mapping of the same event. */
  mapti(device: number, event: number, pintid: number, icid: number): number {
    const dev = this.devices.get(device);
    if (!dev) return ItsError.MAPTI_UNMAPPED_DEVICE;
    if (!this.#eventFits(dev, event)) return ItsError.MAPTI_ID_OOR;
    if (pintid < LPI_BASE || pintid >= this.host.lpis.limit) return ItsError.MAPTI_PHYSICALID_OOR;
    if (dev.itt.has(event)) return 0;
    if (!this.collections.has(icid)) {
      if (this.#tableEntry(this.baserCollection, icid) < 0) return ItsError.MAPC_COLLECTION_OOR;
      this.collections.set(icid, -1);
    }
    this.#addIte(dev, event, pintid, icid);
    return 0;
  }

  /** `vgic_its_alloc_ite` + `vgic_add_lpi`: a new LPI reads its configuration and pending bit. */
  #addIte(dev: ItsDevice, event: number, pintid: number, icid: number): void {
    const lpi = this.host.lpis.map(pintid);
    dev.itt.set(event, { event, lpi, icid });
    const target = this.collections.get(icid) ?? -1;
    if (target >= 0) this.host.retarget(lpi, target);
    if (lpi.refs === 1) this.host.syncPendingStatus(lpi);
  }

  /** `vgic_its_check_event_id`: the EventID fits the device's size and its ITE is in RAM. */
  #eventFits(dev: ItsDevice, event: number): boolean {
    return event < 2 ** (dev.size + 1) && this.host.memory().contains(dev.ittAddr + event * ESZ, 1);
  }

  /**
   * `vgic_its_check_id`: the guest-physical address of `id`'s entry in the
   * device (Type 1) or collection (Type 4) table a GITS_BASER describes, or
   * -1 when the table has no entry for it or the entry is not in guest RAM.
   * A flat table holds (Size + 1) * 64 KB / 8 entries; an indirect one has
   * 8-byte level-1 entries (Valid bit 63, the level-2 page in [51:16]).
   */
  #tableEntry(baser: bigint, id: number): number {
    // The register as two words (MAPC and MAPD ask for every command): no BigInt per field.
    const lo = Number(BigInt.asUintN(32, baser)), hi = Number(BigInt.asUintN(32, baser >> 32n));
    const type = (hi >>> TYPE_SHIFT_HIGH) & 7;
    if (type === TYPE_DEVICE ? id > MAX_DEVICEID : id >= 0x1_0000) return -1;
    const tableBytes = ((lo & 0xff) + 1) * 0x1_0000;
    // Physical_Address [47:12].
    const base = (hi & 0xffff) * 0x1_0000_0000 + ((lo & 0xffff_f000) >>> 0);
    const mem = this.host.memory();
    let addr: number;
    if ((hi & INDIRECT_HIGH) === 0) {
      if (id >= tableBytes / ESZ) return -1;
      addr = base + id * ESZ;
    } else {
      const index = Math.floor(id / (0x1_0000 / ESZ));
      if (index >= tableBytes / 8 || !mem.contains(base + index * 8, 8)) return -1;
      const l1 = mem.readBig(base + index * 8, 64);
      if ((l1 & (1n << 63n)) === 0n) return -1;
      addr = Number(l1 & 0x000f_ffff_ffff_0000n) + (id % (0x1_0000 / ESZ)) * ESZ;
    }
    return mem.contains(addr, 1) ? addr : -1;
  }

  /**
   * Translates (DeviceID, EventID) as `vgic_its_resolve_lpi` does: the ITS
   * must be enabled (-EBUSY), the ITE must exist with a mapped collection
   * (INT_UNMAPPED_INTERRUPT), and the target must have LPIs enabled (-EBUSY).
   */
  translate(device: number, event: number): Translation {
    if (!this.#enabled) return { error: -EBUSY };
    const ite = this.findIte(device, event);
    const vcpu = ite ? this.collectionTarget(ite.icid) : -1;
    if (!ite || vcpu < 0) return { error: ItsError.INT_UNMAPPED_INTERRUPT };
    if (!this.host.lpisEnabled(vcpu)) return { error: -EBUSY };
    if (!ite.lpi.forwarded) this.cache.set(cacheKey(device, event), ite.lpi);
    return { ite, vcpu };
  }

  /**
   * `vgic_its_check_cache`: the LPI a cached translation of (DeviceID,
   * EventID) gives, or undefined. IDs beyond the vITS's 16 bits are never
   * cached.
   */
  cached(device: number, event: number): Lpi | undefined {
    if (device > MAX_CACHED_ID || event > MAX_CACHED_ID) return undefined;
    return this.cache.get(cacheKey(device, event));
  }

  /** `vgic_its_invalidate_cache`: forget every cached translation. */
  invalidateCache(why: string): void {
    if (this.cache.size === 0) return;
    this.cache.clear();
    this.#emit("cache", `translation cache invalidated (${why})`);
  }

  /**
   * A write of `event` to GITS_TRANSLATER from `device`. Returns 0 when the
   * LPI was made pending, otherwise the reason it was dropped.
   */
  translater(device: number, event: number, why = "MSI"): number {
    const t = this.translate(device, event);
    if ("error" in t) {
      if (this.trace.enabled) {
        this.trace.emit(
          this.name,
          "drop",
          `${why} device 0x${device.toString(16)} event ${event} dropped: ${errorName(t.error)}`,
        );
      }
      return t.error;
    }
    this.host.pend(t.ite.lpi, `${why} device 0x${device.toString(16)} event ${event}`);
    return 0;
  }

  /** INT: as if the device had written the event. */
  int(device: number, event: number): number {
    return this.translater(device, event, "INT");
  }

  /** CLEAR: the LPI stops being pending. */
  clear(device: number, event: number): number {
    const ite = this.findIte(device, event);
    if (!ite) return ItsError.CLEAR_UNMAPPED_INTERRUPT;
    this.host.unpend(ite.lpi);
    return 0;
  }

  /** DISCARD: drop the ITE and the LPI's pending state; needs a mapped collection. */
  discard(device: number, event: number): number {
    const ite = this.findIte(device, event);
    if (!ite || this.collectionTarget(ite.icid) < 0) return ItsError.DISCARD_UNMAPPED_INTERRUPT;
    this.invalidateCache("DISCARD");
    this.devices.get(device)!.itt.delete(event);
    this.#freeIte(ite);
    return 0;
  }

  /** MOVI: move the event to another collection; the LPI's pending state follows. */
  movi(device: number, event: number, icid: number): number {
    const ite = this.findIte(device, event);
    if (!ite) return ItsError.MOVI_UNMAPPED_INTERRUPT;
    if (this.collectionTarget(ite.icid) < 0) return ItsError.MOVI_UNMAPPED_COLLECTION;
    const target = this.collectionTarget(icid);
    if (target < 0) return ItsError.MOVI_UNMAPPED_COLLECTION;
    ite.icid = icid;
    this.invalidateCache("MOVI");
    this.host.retarget(ite.lpi, target);
    return 0;
  }

  /** MOVALL: every LPI on RD1 moves to RD2. */
  movall(from: number, to: number): number {
    if (from >= this.host.vcpus || to >= this.host.vcpus) return ItsError.MOVALL_PROCNUM_OOR;
    if (from === to) return 0;
    for (const lpi of this.host.lpis.list) if (lpi.target === from) this.host.retarget(lpi, to);
    this.invalidateCache("MOVALL");
    return 0;
  }

  /** INV: re-read one LPI's configuration byte. */
  inv(device: number, event: number): number {
    const ite = this.findIte(device, event);
    if (!ite) return ItsError.INV_UNMAPPED_INTERRUPT;
    this.host.lpis.sync(ite.lpi);
    this.host.configChanged(ite.lpi);
    return 0;
  }

  /** INVALL: re-read the configuration of every LPI targeting the collection's vCPU. */
  invall(icid: number): number {
    const vcpu = this.collectionTarget(icid);
    if (vcpu < 0) return ItsError.INVALL_UNMAPPED_COLLECTION;
    for (const lpi of this.host.lpis.list) {
      if (lpi.target !== vcpu) continue;
      this.host.lpis.sync(lpi);
      this.host.configChanged(lpi);
    }
    return 0;
  }

  #freeIte(ite: Ite): void {
    this.host.iteFreed(ite.lpi);
    this.host.lpis.unmap(ite.lpi);
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }
}

/**
 * The name of an ITS result code, for traces.
 *
 * @example
 * ```ts
 * errorName(0x010a04); // "E_ITS_MAPTI_UNMAPPED_DEVICE (0x10a04)"
 * ```
 */
export function errorName(code: number): string {
  if (code === 0) return "ok";
  if (code === -EBUSY) return "-EBUSY";
  const name = Object.entries(ItsError).find(([, v]) => v === code)?.[0];
  return name ? `E_ITS_${name} (0x${code.toString(16)})` : `error ${code}`;
}

function describe(c: ItsCommand): string {
  const h = (n: number | undefined) => `0x${(n ?? 0).toString(16)}`;
  switch (c.op) {
    case "MAPD":
      return `MAPD device ${h(c.device)} size ${c.size ?? 0} V=${c.valid ?? 1}`;
    case "MAPC":
      return `MAPC ICID ${c.collection ?? 0} RDbase ${c.target ?? 0} V=${c.valid ?? 1}`;
    case "MAPTI":
      return `MAPTI device ${h(c.device)} event ${c.event ?? 0} pINTID ${c.lpi ?? 0} ICID ${
        c.collection ?? 0
      }`;
    case "MAPI":
      return `MAPI device ${h(c.device)} event ${c.event ?? 0} ICID ${c.collection ?? 0}`;
    case "MOVI":
      return `MOVI device ${h(c.device)} event ${c.event ?? 0} ICID ${c.collection ?? 0}`;
    case "MOVALL":
      return `MOVALL RDbase1 ${c.target ?? 0} RDbase2 ${c.target2 ?? 0}`;
    case "INVALL":
      return `INVALL ICID ${c.collection ?? 0}`;
    case "SYNC":
      return `SYNC RDbase ${c.target ?? 0}`;
    default:
      return `${c.op} device ${h(c.device)} event ${c.event ?? 0}`;
  }
}
