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
 * each advances GITS_CREADR by 32 bytes. A command that fails is silently
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
import { LPI_BASE } from "./irq_state.ts";
import type { Lpi, LpiTable } from "./lpi.ts";

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
 * ITS_BASE + GITS_TRANSLATER; // the MSI doorbell address
 * ```
 */
export const GITS_TRANSLATER = 0x10040;
/**
 * Bytes per command in the queue.
 *
 * @example
 * ```ts
 * its.command({ op: "SYNC", target: 0 });
 * its.cwriter; // advanced by ITS_COMMAND_BYTES
 * ```
 */
export const ITS_COMMAND_BYTES = 32;
/**
 * Linux's command queue size (ITS_CMD_QUEUE_SZ, 64 KB); CREADR wraps there.
 *
 * @example
 * ```ts
 * ITS_QUEUE_BYTES / ITS_COMMAND_BYTES; // 2048 commands before CREADR wraps
 * ```
 */
export const ITS_QUEUE_BYTES = 0x10000;
/** KVM's vITS: 16 EventID bits at most. */
const MAX_EVENTID_BITS = 16;
/** KVM's vITS: 16 DeviceID bits. */
const MAX_DEVICEID = 1 << 16;
/** The largest DeviceID and EventID the cache holds (`VITS_MAX_DEVID`, `VITS_MAX_EVENTID`). */
const MAX_CACHED_ID = 0xffff;

/** `vgic_its_cache_key`: DeviceID above the 16 EventID bits (exact: at most 2^32 * 2^16). */
function cacheKey(device: number, event: number): number {
  return device * 0x1_0000 + event;
}

/**
 * An interrupt translation entry.
 *
 * @example
 * ```ts
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
 * const dev: ItsDevice | undefined = its.devices.get(2);
 * dev?.itt.size; // how many events are mapped
 * ```
 */
export interface ItsDevice {
  /** The DeviceID. */
  readonly id: number;
  /** MAPD Size: EventID bits - 1. */
  readonly size: number;
  /** The interrupt translation table: EventID -> ITE. */
  readonly itt: Map<number, Ite>;
}

/**
 * One ITS command with its fields (those that do not apply are 0).
 *
 * @example
 * ```ts
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
  /** MAPD / MAPC V. */
  valid?: number;
}

/**
 * What the ITS needs from the rest of the GIC.
 *
 * @example
 * ```ts
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
}

/**
 * Outcome of a translation: the ITE, or why it missed (an E_ITS_* code or -EBUSY).
 *
 * @example
 * ```ts
 * const t: Translation = its.translate(2, 20);
 * if ("error" in t) errorName(t.error); else t.vcpu;
 * ```
 */
export type Translation = { ite: Ite; vcpu: number } | { error: number };

/**
 * -EBUSY as KVM returns it from `vgic_its_resolve_lpi`.
 *
 * @example
 * ```ts
 * its.translate(2, 20); // { error: -EBUSY } while the ITS is disabled
 * ```
 */
export const EBUSY = 16;

/**
 * The ITS.
 *
 * @example
 * ```ts
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
  /** The translation cache: `cacheKey(DeviceID, EventID)` → the LPI it translated to. */
  readonly cache: Map<number, Lpi> = new Map();
  readonly #queue: ItsCommand[] = [];

  /**
   * An empty, disabled ITS over `host`; `name` is its trace source.
   *
   * @example
   * ```ts
   * new Its(gic, trace).quiescent; // true: nothing queued
   * ```
   */
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
    while (this.#queue.length > 0) this.#process(this.#queue.shift()!);
  }

  /** GITS_CTLR.Quiescent: every written command has been read. */
  get quiescent(): boolean {
    return this.creadr === this.cwriter;
  }

  /**
   * Queues one command (GITS_CWRITER += 32) and runs it if the ITS is
   * enabled. Returns its code (0 or an E_ITS_* value, -EBUSY as a negative
   * number), or null while it waits for the ITS to be enabled.
   */
  command(cmd: ItsCommand): number | null {
    this.cwriter = (this.cwriter + ITS_COMMAND_BYTES) % ITS_QUEUE_BYTES;
    if (!this.#enabled) {
      this.#queue.push(cmd);
      this.#emit("queued", `${describe(cmd)} queued: the ITS is disabled`);
      return null;
    }
    return this.#process(cmd);
  }

  #process(cmd: ItsCommand): number {
    const code = this.#run(cmd);
    this.creadr = (this.creadr + ITS_COMMAND_BYTES) % ITS_QUEUE_BYTES;
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
        return this.mapd(dev, c.size ?? 0, c.valid ?? 1);
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

  /** MAPD: map (V=1) or unmap (V=0) a device; an existing mapping loses all its ITEs first. */
  mapd(device: number, size: number, valid: number): number {
    if (device >= MAX_DEVICEID) return ItsError.MAPD_DEVICE_OOR;
    if (valid && size + 1 > MAX_EVENTID_BITS) return ItsError.MAPD_ITTSIZE_OOR;
    const old = this.devices.get(device);
    if (old) {
      for (const ite of old.itt.values()) this.#freeIte(ite);
      this.invalidateCache(`MAPD of mapped device 0x${device.toString(16)}`);
      this.devices.delete(device);
    }
    if (valid) this.devices.set(device, { id: device, size, itt: new Map() });
    return 0;
  }

  /** MAPC: map a collection to a vCPU (V=1) or remove it, orphaning its ITEs (V=0). */
  mapc(icid: number, target: number, valid: number): number {
    if (target >= this.host.vcpus) return ItsError.MAPC_PROCNUM_OOR;
    if (!valid) {
      for (const d of this.devices.values()) {
        for (const ite of d.itt.values()) if (ite.icid === icid) ite.icid = -1;
      }
      this.collections.delete(icid);
      this.invalidateCache(`MAPC ICID ${icid} V=0`);
      return 0;
    }
    const existed = this.collections.has(icid);
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
    if (event >= 2 ** (dev.size + 1)) return ItsError.MAPTI_ID_OOR;
    if (pintid < LPI_BASE || pintid >= this.host.lpis.limit) return ItsError.MAPTI_PHYSICALID_OOR;
    if (dev.itt.has(event)) return 0;
    if (!this.collections.has(icid)) this.collections.set(icid, -1);
    const lpi = this.host.lpis.map(pintid);
    dev.itt.set(event, { event, lpi, icid });
    const target = this.collections.get(icid)!;
    if (target >= 0) this.host.retarget(lpi, target);
    return 0;
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
