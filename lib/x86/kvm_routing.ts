/**
 * KVM's GSI routing: the table behind KVM_SET_GSI_ROUTING, KVM_IRQ_LINE(_STATUS)
 * and KVM_SIGNAL_MSI, with the semantics of Linux `virt/kvm/irqchip.c`
 * (`kvm_set_irq_routing`, `setup_routing_entry`, `kvm_set_irq`,
 * `kvm_send_userspace_msi`) and the x86 parts in `arch/x86/kvm/irq.c`
 * (formerly `irq_comm.c`: `kvm_set_routing_entry`, `kvm_set_msi`, the default
 * table), as documented in `Documentation/virt/kvm/api.rst`.
 *
 * The IRQCHIP, MSI, Xen event-channel (`KVM_IRQ_ROUTING_XEN_EVTCHN`,
 * Linux `arch/x86/kvm/xen.c` `kvm_xen_setup_evtchn`, `evtchn_set_fn`) and
 * Hyper-V SINT (`KVM_IRQ_ROUTING_HV_SINT`, `arch/x86/kvm/hyperv.c`
 * `kvm_hv_set_sint`: a raise is `kvm_hv_synic_set_irq` of the route's VP
 * index and SINT, a de-assert does nothing) entry types are modelled; s390
 * adapter routes are not.
 *
 * @module
 */

import type { ApicSink } from "./apic_message.ts";
import type { Trace } from "../core/trace.ts";
import { EINVAL } from "./errno.ts";
import type { Ioapic } from "./ioapic.ts";
import { MsiDecoder, MsiStatus } from "./msi.ts";
import type { StateHash } from "../core/platform.ts";
import { restoreVersioned } from "../core/state_words.ts";
import { StateVersion } from "../core/state_version.ts";

/**
 * `kvm_irq_routing_irqchip.irqchip` values.
 *
 * @example
 * ```ts
 * ({ gsi: 4, type: "irqchip", irqchip: KvmIrqchip.Ioapic, pin: 4 });
 * ```
 */
export const KvmIrqchip = {
  PicMaster: 0,
  PicSlave: 1,
  Ioapic: 2,
} as const;
/** One of the {@link KvmIrqchip} numbers. */
export type KvmIrqchip = typeof KvmIrqchip[keyof typeof KvmIrqchip];

/**
 * Highest GSI + 1 a routing table may use (x86 `KVM_MAX_IRQ_ROUTES`).
 *
 * @example
 * ```ts
 * KVM_MAX_IRQ_ROUTES; // 4096
 * ```
 */
export const KVM_MAX_IRQ_ROUTES = 4096;

/**
 * Pins of KVM's in-kernel I/O APIC (`KVM_IOAPIC_NUM_PINS`).
 *
 * @example
 * ```ts
 * KVM_IOAPIC_NUM_PINS; // 24
 * ```
 */
export const KVM_IOAPIC_NUM_PINS = 24;

/**
 * Pins of one 8259A (half of KVM's `PIC_NUM_PINS`).
 *
 * @example
 * ```ts
 * PIC_CHIP_PINS; // 8
 * ```
 */
export const PIC_CHIP_PINS = 8;

/**
 * The only flag an MSI route or KVM_SIGNAL_MSI may carry (`KVM_MSI_VALID_DEVID`).
 *
 * @example
 * ```ts
 * declare const data: number, lo: number, routing: GsiRouting;
 * routing.signalMsi(lo, 0, data, KVM_MSI_VALID_DEVID);
 * ```
 */
export const KVM_MSI_VALID_DEVID = 1;

/** A route from a GSI to an interrupt controller input (`KVM_IRQ_ROUTING_IRQCHIP`). */
export interface IrqchipRoute {
  /** The GSI this route belongs to, < {@link KVM_MAX_IRQ_ROUTES}. */
  gsi: number;
  /** `KVM_IRQ_ROUTING_IRQCHIP`. */
  type: "irqchip";
  /** {@link KvmIrqchip}: 0 PIC master, 1 PIC slave, 2 I/O APIC. */
  irqchip: number;
  /** Input of that chip: 0..7 on a PIC, 0..23 on the I/O APIC. */
  pin: number;
  /** Must be 0. */
  flags?: number;
}

/** A route from a GSI to an MSI (`KVM_IRQ_ROUTING_MSI`). */
export interface MsiRoute {
  /** The GSI this route belongs to, < {@link KVM_MAX_IRQ_ROUTES}. */
  gsi: number;
  /** `KVM_IRQ_ROUTING_MSI`. */
  type: "msi";
  /** Message address bits 31:0. */
  addressLo: number;
  /** Message address bits 63:32 (destination bits 31:8 in x2APIC format). */
  addressHi: number;
  /** Message data. */
  data: number;
  /** 0 or {@link KVM_MSI_VALID_DEVID}. */
  flags?: number;
  /** Requester ID, meaningful with KVM_MSI_VALID_DEVID (unused on x86). */
  devid?: number;
}

/**
 * A route from a GSI to a Xen event channel (`KVM_IRQ_ROUTING_XEN_EVTCHN`,
 * `struct kvm_irq_routing_xen_evtchn`): raising the GSI sets `port`
 * pending for `vcpu`, as the design of seed 000 proposed.
 *
 * @example
 * ```ts
 * const e: XenEvtchnRouteEntry = { gsi: 40, type: "xen_evtchn", port: 3, vcpu: 1, priority: 0xffffffff };
 * ```
 */
export interface XenEvtchnRouteEntry {
  /** The GSI this route belongs to, < {@link KVM_MAX_IRQ_ROUTES}. */
  gsi: number;
  /** `KVM_IRQ_ROUTING_XEN_EVTCHN`. */
  type: "xen_evtchn";
  /** The event-channel port. */
  port: number;
  /** The KVM vcpu_id (APIC ID) to notify, not the Xen vCPU number. */
  vcpu: number;
  /** Must be `KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL` (0xffffffff). */
  priority: number;
  /** Must be 0. */
  flags?: number;
}

/**
 * A route from a GSI to a Hyper-V SynIC's SINT (`KVM_IRQ_ROUTING_HV_SINT`,
 * `struct kvm_irq_routing_hv_sint`): raising the GSI raises SINT `sint` of
 * the vCPU whose VP index is `vcpu`. Nothing is checked when the table is
 * set; a VP index without an active SynIC fails at delivery (-EINVAL).
 *
 * @example
 * ```ts
 * const e: HvSintRouteEntry = { gsi: 32, type: "hv_sint", vcpu: 1, sint: 2 };
 * ```
 */
export interface HvSintRouteEntry {
  /** The GSI this route belongs to, < {@link KVM_MAX_IRQ_ROUTES}. */
  gsi: number;
  /** `KVM_IRQ_ROUTING_HV_SINT`. */
  type: "hv_sint";
  /** The VP index (`u.hv_sint.vcpu`). */
  vcpu: number;
  /** The SINT (`u.hv_sint.sint`). */
  sint: number;
  /** Must be 0. */
  flags?: number;
}

/**
 * Where Hyper-V SINT routes go: the VM's SynICs.
 *
 * @example
 * ```ts
 * const target: HvSintTarget = { setIrq: () => 1 };
 * ```
 */
export interface HvSintTarget {
  /** `kvm_hv_synic_set_irq`: >0 delivered, 0 not accepted, <0 an error (-EINVAL: no such SynIC). */
  setIrq(vpIndex: number, sint: number): number;
}

/**
 * One `kvm_irq_routing_entry`.
 *
 * @example
 * ```ts
 * const e: RoutingEntry = { gsi: 24, type: "msi", addressLo: 0xfee00000, addressHi: 0, data: 0x41 };
 * ```
 */
export type RoutingEntry = IrqchipRoute | MsiRoute | XenEvtchnRouteEntry | HvSintRouteEntry;

/**
 * Where Xen event-channel routes go: KVM's Xen emulation of a `kvm-xen`
 * VM (`lib/xen/kvm_xen.ts`). Without one, such routes are rejected, as
 * KVM built without CONFIG_KVM_XEN does.
 *
 * @example
 * ```ts
 * const target: XenRouteTarget = { validateRoute: () => 0, deliver: () => 1, setRoutes: () => {} };
 * ```
 */
export interface XenRouteTarget {
  /** `kvm_xen_setup_evtchn`: 0, or -errno for an entry KVM refuses. */
  validateRoute(r: { port: number; vcpu: number; priority: number }): number;
  /** `kvm_xen_set_evtchn`: 1 delivered, 0 already pending, <0 not delivered. */
  deliver(r: { port: number; vcpu: number; priority: number }): number;
  /** The table was replaced: the Xen routes it now holds, in order. */
  setRoutes(entries: ReadonlyArray<XenEvtchnRouteEntry>): void;
}

/**
 * What the routing layer needs from the 8259A pair (`kvm_pic_set_irq`):
 * set input `pin` (0..7) of `irqchip` (0 master, 1 slave) and return a
 * KVM_IRQ_LINE_STATUS-style status.
 */
export interface PicLines {
  /** `kvm_pic_set_irq`: status <0 ignored, 0 coalesced, >0 delivered. */
  setIrq(irqchip: 0 | 1, pin: number, level: 0 | 1): number;
}

/** What {@link GsiRouting} is wired to. */
export interface GsiRoutingOptions {
  /** The in-kernel PIC pair; without it PIC routes report -1 (not delivered). */
  pic?: PicLines;
  /** The in-kernel I/O APIC; without it I/O APIC routes report -1. */
  ioapic?: Ioapic;
  /** The APIC bus. */
  sink: ApicSink;
  /**
   * The way MSI writes reach `sink`, shared with the I/O APIC's messages;
   * its decode options govern then. Default: an {@link MsiDecoder} onto
   * `sink` with `x2apicFormat` and `strictMsiAddress`.
   */
  msi?: MsiDecoder;
  /** Where routing decisions are recorded. */
  trace: Trace;
  /**
   * `kernel`: KVM_CREATE_IRQCHIP (starts with {@link GsiRouting.kvmDefault}).
   * `split`: KVM_CAP_SPLIT_IRQCHIP (starts empty; IRQCHIP routes rejected).
   */
  mode: "kernel" | "split";
  /** KVM_X2APIC_API_USE_32BIT_IDS: MSI address-high carries destination bits 31:8. */
  x2apicFormat?: boolean;
  /**
   * Reject MSIs whose address bits 31:20 are not 0xFEE with -EINVAL. KVM does
   * not check (default false); turn on for an architectural model.
   */
  strictMsiAddress?: boolean;
  /** Trace source name; default `kvm`. */
  name?: string;
  /** Where Xen event-channel routes deliver; without it they are -EINVAL. */
  xen?: XenRouteTarget;
  /** Where Hyper-V SINT routes deliver; without it a raise is -EINVAL (no SynIC). */
  hyperv?: HvSintTarget;
  /**
   * I/O APIC pins a route may name and the default table covers: KVM's 24
   * (`KVM_IOAPIC_NUM_PINS`) unless a Xen VM models Xen's 48-pin vIOAPIC.
   */
  ioapicPins?: number;
}

const KIND_PIC = 0, KIND_IOAPIC = 1, KIND_MSI = 2, KIND_XEN = 3, KIND_HV_SINT = 4;

interface CompiledRoute {
  readonly kind: number;
  readonly entry: Readonly<RoutingEntry>;
  readonly chip: 0 | 1;
  /** IRQCHIP: the pin. Xen: the port. HV_SINT: the SINT. */
  readonly pin: number;
  /** MSI: address low. Xen: the vcpu_id. HV_SINT: the VP index. */
  readonly lo: number;
  /** MSI: address high. Xen: the priority. */
  readonly hi: number;
  readonly data: number;
}

/** KVM's default table, compiled, by I/O APIC pin count; shared by every VM (see #installDefault). */
const DEFAULT_TABLES = new Map<
  number,
  { table: Map<number, CompiledRoute[]>; entries: Readonly<RoutingEntry>[]; key: string }
>();

/**
 * A routing table as one string, equal for equal tables: what `scn
 * explore`'s fingerprint hashes, made once per table instead of walking
 * its entries at every state.
 */
function tableKey(entries: readonly Readonly<RoutingEntry>[]): string {
  return entries.map((e) => Object.entries(e).map(([k, v]) => `${k}=${String(v)}`).join(","))
    .join(";");
}

/**
 * A VM's GSI routing table and the ioctls that use it.
 *
 * @example
 * ```ts
 * import { ApicBus } from "./apic_bus.ts";
 * import { Ioapic } from "./ioapic.ts";
 * import { encodeMsi } from "./msi.ts";
 * import { Trace } from "../../mod.ts";
 * declare const bus: ApicBus, ioapic: Ioapic, trace: Trace;
 * const routing = new GsiRouting({ ioapic, sink: bus, trace, mode: "kernel" });
 * routing.irqLine(14, 1); // KVM_IRQ_LINE_STATUS: drives PIC slave pin 6 and I/O APIC pin 14
 * routing.setRouting([{ gsi: 24, type: "msi", ...encodeMsi({ dest: 0, vector: 0x41 }) }]); // 0
 * routing.irqLine(24, 1); // 1: the MSI reached one CPU
 * ```
 */
export class GsiRouting {
  /**
   * The irqchip mode the VM was created with. Fixed at creation: an accessor
   * rather than a field, so that `scn explore`'s fingerprint need not hash it
   * at every state.
   */
  get mode(): "kernel" | "split" {
    return this.#mode;
  }
  readonly #mode: "kernel" | "split";
  readonly #opts: GsiRoutingOptions;
  /**
   * The options' trace, held here: every MSI reads it, and a field of the
   * options (an object literal, whose field types V8 loosens when a later
   * run of the process builds it again) threw away their optimized code.
   */
  readonly #trace: Trace;
  /** KVM_X2APIC_API_USE_32BIT_IDS (`kvm_msi_route_invalid`, `kvm_set_msi`). */
  #x2apicFormat: boolean;
  readonly #name: string;
  #table = new Map<number, CompiledRoute[]>();
  #entries: Readonly<RoutingEntry>[] = [];
  /** {@link tableKey} of `#entries`, made when first hashed. */
  #entriesKey: string | undefined = undefined;
  #lastError = "";
  readonly #msi: MsiDecoder;
  /** Reused for every Xen event-channel delivery. */
  readonly #xenRoute = { port: 0, vcpu: 0, priority: 0 };
  /**
   * Bumped by the writers of the table, the last error and the x2APIC
   * format (setRouting, useX2apicFormat), for `scn explore`'s digest of
   * {@link GsiRouting.hashPrivate}.
   */
  readonly #version = new StateVersion();

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(_h: StateHash): void {
    // None: the mode is fixed at creation (an accessor), the rest private (hashPrivate).
  }

  /**
   * Saves the routing table and returns a function that puts it back, for
   * `scn explore` (`VmModel.snapshot`). Tables are replaced whole, never
   * changed, so they are kept by reference. Fixed at creation, not saved:
   * #mode, #opts, #trace, #name; scratch: #xenRoute, #msi (the decoder's status and
   * message are the last write's, set before they are read); #version is put
   * back with the state it names.
   */
  snapshot(): () => void {
    const table = this.#table, entries = this.#entries, entriesKey = this.#entriesKey;
    const lastError = this.#lastError, x2apicFormat = this.#x2apicFormat;
    const version = this.#version.value;
    const put = () => {
      this.#x2apicFormat = x2apicFormat;
      this.#table = table;
      this.#entries = entries;
      this.#entriesKey = entriesKey;
      this.#lastError = lastError;
    };
    // Nothing to put back while the version stands (most orders of a search).
    return () => restoreVersioned(this.#version, version, this, GsiRouting.#words, put);
  }

  /**
   * Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`):
   * the entries as set (the compiled table follows from them).
   */
  hashPrivate(h: StateHash): void {
    // Set once in most runs: the digest kept with the version.
    h.versioned(this.#version, this, GsiRouting.#words);
  }

  static #words(h: StateHash, r: GsiRouting): void {
    h.value(r.#entriesKey ??= tableKey(r.#entries));
    // No error (the rule): a word, not the empty string hashed.
    if (r.#lastError === "") h.n(0);
    else h.value(r.#lastError);
    h.bool(r.#x2apicFormat);
  }

  /**
   * KVM_X2APIC_API_USE_32BIT_IDS enabled after the table was built: from now
   * on an MSI or MSI route with address-high bits 7:0 set is -EINVAL.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.useX2apicFormat();
   * ```
   */
  useX2apicFormat(): void {
    this.#version.bump();
    this.#x2apicFormat = true;
  }

  /** Wires the routing layer; in kernel mode installs KVM's default table. */
  constructor(opts: GsiRoutingOptions) {
    this.#opts = opts;
    this.#trace = opts.trace;
    this.#x2apicFormat = opts.x2apicFormat ?? false;
    this.#msi = opts.msi ?? new MsiDecoder(opts.sink, {
      x2apicFormat: opts.x2apicFormat ?? false,
      checkBase: opts.strictMsiAddress ?? false,
    });
    this.#mode = opts.mode;
    this.#name = opts.name ?? "kvm";
    // KVM_CREATE_IRQCHIP installs the default table; enabling the split
    // irqchip installs an empty one (kvm_setup_empty_irq_routing).
    if (opts.mode === "kernel") this.#installDefault(opts.ioapicPins ?? KVM_IOAPIC_NUM_PINS);
  }

  /**
   * Installs KVM's default table. Compiled tables are never changed once
   * installed (KVM_SET_GSI_ROUTING replaces them whole), so every VM with
   * the same pin count shares one: building a VM is on `scn explore`'s hot
   * path, and compiling 40 routes was a fifth of it.
   */
  #installDefault(pins: number): void {
    const cached = DEFAULT_TABLES.get(pins);
    if (cached === undefined) {
      if (this.setRouting(GsiRouting.kvmDefault(pins)) !== 0) {
        throw new Error(`kvm routing: default table rejected: ${this.#lastError}`);
      }
      DEFAULT_TABLES.set(pins, {
        table: this.#table,
        entries: this.#entries,
        key: tableKey(this.#entries),
      });
      return;
    }
    this.#table = cached.table;
    this.#entries = cached.entries;
    this.#entriesKey = cached.key;
    // What setRouting would have done besides compiling.
    this.#opts.xen?.setRoutes([]);
    const t = this.#trace;
    if (t.enabled) {
      t.emit(this.#name, "routing.set", `KVM_SET_GSI_ROUTING: ${cached.entries.length} entries`);
    }
  }

  /**
   * KVM's default table (`default_routing`): GSI 0..15 to the I/O APIC pin of
   * the same number and to PIC master (0..7) or slave (8..15) pin gsi % 8;
   * GSI 16..23 to the I/O APIC only. `pins` widens the I/O APIC part for a
   * Xen VM, whose vIOAPIC has 48 pins wired one to one to GSIs 0..47 (Xen
   * `VIOAPIC_NUM_PINS`, `hvm_pci_intx_gsi`).
   *
   * @example
   * ```ts
   * GsiRouting.kvmDefault().length; // 40
   * GsiRouting.kvmDefault(48).length; // 64
   * ```
   */
  static kvmDefault(pins: number = KVM_IOAPIC_NUM_PINS): RoutingEntry[] {
    const out: RoutingEntry[] = [];
    for (let gsi = 0; gsi < pins; gsi++) {
      out.push({ gsi, type: "irqchip", irqchip: KvmIrqchip.Ioapic, pin: gsi });
      if (gsi < 2 * PIC_CHIP_PINS) {
        const irqchip = gsi < PIC_CHIP_PINS ? KvmIrqchip.PicMaster : KvmIrqchip.PicSlave;
        out.push({ gsi, type: "irqchip", irqchip, pin: gsi % PIC_CHIP_PINS });
      }
    }
    return out;
  }

  /**
   * The table QEMU installs for a PC (`kvm_pc_setup_irq_routing`): the ISA
   * IRQ0 override sends GSI 0 to I/O APIC pin 2, so GSI 2 has no route; GSI
   * 1 and 3..15 go to the PIC and the I/O APIC pin of the same number; GSI
   * 16..23 to the I/O APIC.
   *
   * @example
   * ```ts
   * GsiRouting.qemuDefault().filter((e) => e.gsi === 0).length; // 2
   * ```
   */
  static qemuDefault(): RoutingEntry[] {
    const out: RoutingEntry[] = [];
    for (let irq = 0; irq < 2 * PIC_CHIP_PINS; irq++) {
      if (irq === 2) continue;
      const irqchip = irq < PIC_CHIP_PINS ? KvmIrqchip.PicMaster : KvmIrqchip.PicSlave;
      out.push({ gsi: irq, type: "irqchip", irqchip, pin: irq % PIC_CHIP_PINS });
    }
    for (let gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
      if (gsi === 2) continue;
      out.push({ gsi, type: "irqchip", irqchip: KvmIrqchip.Ioapic, pin: gsi === 0 ? 2 : gsi });
    }
    return out;
  }

  /**
   * KVM_SET_GSI_ROUTING: replaces the whole table, or returns -EINVAL and
   * keeps the old one. Rejected: more than {@link KVM_MAX_IRQ_ROUTES}
   * entries; a GSI >= KVM_MAX_IRQ_ROUTES; flags other than
   * KVM_MSI_VALID_DEVID on an MSI route (any flag elsewhere); a GSI routed
   * twice to one irqchip; an MSI route sharing its GSI with anything; an
   * irqchip other than 0..2; a PIC pin >= 8; an I/O APIC pin >= 24; an
   * IRQCHIP route in split mode; in x2APIC format, an MSI address-high with
   * bits 7:0 set. PIC master + PIC slave + I/O APIC on one GSI is fine.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.setRouting([
   *   { gsi: 5, type: "irqchip", irqchip: 2, pin: 5 },
   *   { gsi: 5, type: "irqchip", irqchip: 2, pin: 6 },
   * ]); // -22: GSI 5 routed to the I/O APIC twice
   * ```
   */
  setRouting(entries: readonly RoutingEntry[]): number {
    this.#version.bump();
    const t = this.#trace;
    const reject = (why: string): number => {
      this.#lastError = why;
      if (t.enabled) t.emit(this.#name, "routing.rejected", `KVM_SET_GSI_ROUTING: ${why}`);
      return -EINVAL;
    };
    if (entries.length > KVM_MAX_IRQ_ROUTES) {
      return reject(`${entries.length} entries > ${KVM_MAX_IRQ_ROUTES}`);
    }
    // The GSI range check covers the whole table before any entry is parsed.
    for (const e of entries) {
      if (!Number.isInteger(e.gsi) || e.gsi < 0 || e.gsi >= KVM_MAX_IRQ_ROUTES) {
        return reject(`gsi ${e.gsi} >= KVM_MAX_IRQ_ROUTES (${KVM_MAX_IRQ_ROUTES})`);
      }
    }
    const table = new Map<number, CompiledRoute[]>();
    const kept: Readonly<RoutingEntry>[] = [];
    for (const e of entries) {
      const flags = e.flags ?? 0;
      if (e.type === "msi" ? (flags & ~KVM_MSI_VALID_DEVID) !== 0 : flags !== 0) {
        return reject(`gsi ${e.gsi}: flags ${flags}`);
      }
      const list = table.get(e.gsi) ?? [];
      for (const other of list) {
        // One route per irqchip per GSI; any non-irqchip route stands alone.
        if (other.entry.type !== "irqchip" || e.type !== "irqchip") {
          return reject(`gsi ${e.gsi}: an MSI, Xen or Hyper-V route must be the GSI's only route`);
        }
        if ((other.entry as IrqchipRoute).irqchip === e.irqchip) {
          return reject(`gsi ${e.gsi}: irqchip ${e.irqchip} routed twice`);
        }
      }
      const r = this.#compile(e);
      if (typeof r === "string") return reject(`gsi ${e.gsi}: ${r}`);
      list.push(r);
      table.set(e.gsi, list);
      kept.push(r.entry);
    }
    this.#table = table;
    this.#entries = kept;
    this.#entriesKey = undefined;
    this.#lastError = "";
    this.#opts.xen?.setRoutes(
      kept.filter((e): e is XenEvtchnRouteEntry => e.type === "xen_evtchn"),
    );
    if (t.enabled) {
      t.emit(this.#name, "routing.set", `KVM_SET_GSI_ROUTING: ${kept.length} entries`);
    }
    return 0;
  }

  /**
   * Why the last {@link GsiRouting.setRouting} failed ("" after a success).
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting, t: RoutingEntry[];
   * if (routing.setRouting(t) < 0) console.log(routing.lastError);
   * ```
   */
  get lastError(): string {
    return this.#lastError;
  }

  /**
   * A copy of the installed table, in the order it was given.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.entries().length; // 40 after construction in kernel mode
   * ```
   */
  entries(): RoutingEntry[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /**
   * The installed table itself, without copying: for readers on a hot path
   * (the split irqchip's EOI interception). KVM_SET_GSI_ROUTING replaces
   * the array, never changes it, so a reader may keep it for a while.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.view().filter((e) => e.type === "msi").length;
   * ```
   */
  view(): readonly Readonly<RoutingEntry>[] {
    return this.#entries;
  }

  /**
   * A copy of the routes of one GSI.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.routesOf(2); // [] with the QEMU table
   * ```
   */
  routesOf(gsi: number): RoutingEntry[] {
    return (this.#table.get(gsi) ?? []).map((r) => ({ ...r.entry }));
  }

  /**
   * KVM_IRQ_LINE_STATUS: sets `level` on every route of `gsi` in table order
   * and combines the statuses like `kvm_set_irq`: negative ones are skipped,
   * the others summed; -1 if every route (or the GSI's absence) said so.
   * An MSI route fires on level 1 only (level 0 reports -1). `lineStatus`
   * false models KVM_IRQ_LINE / irqfd, which turns off RTC coalescing.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.irqLine(4, 1); // PIC and I/O APIC statuses summed
   * routing.irqLine(99, 1); // -1: no route
   * ```
   */
  irqLine(gsi: number, level: 0 | 1, lineStatus = true): number {
    const o = this.#opts, t = this.#trace;
    const id = t.enabled ? t.emit(this.#name, "irq_line", `gsi ${gsi} level ${level}`) : 0;
    t.open(id);
    let ret = -1;
    try {
      const routes = this.#table.get(gsi);
      if (routes !== undefined) {
        for (let i = 0; i < routes.length; i++) {
          const r = routes[i];
          let s: number;
          if (r.kind === KIND_IOAPIC) {
            s = o.ioapic && r.pin < o.ioapic.pins ? o.ioapic.setLine(r.pin, level, lineStatus) : -1;
          } else if (r.kind === KIND_PIC) {
            s = o.pic ? o.pic.setIrq(r.chip, r.pin, level) : -1;
          } else if (r.kind === KIND_XEN) {
            // evtchn_set_fn: a de-assert is -EINVAL, which kvm_set_irq skips.
            s = level === 0 || !o.xen ? -1 : this.#setXen(r);
          } else if (r.kind === KIND_HV_SINT) {
            // kvm_hv_set_sint: a de-assert is -1.
            s = level === 0 ? -1 : this.#setHvSint(r);
          } else {
            s = this.#setMsi(r.lo, r.hi, r.data, level);
          }
          if (s < 0) continue;
          ret = s + (ret < 0 ? 0 : ret);
        }
      }
      if (t.enabled) {
        t.emit(
          this.#name,
          "irq_line.status",
          routes === undefined ? `gsi ${gsi}: no route -> -1` : `gsi ${gsi} -> ${ret}`,
        );
      }
    } finally {
      t.close(id);
    }
    return ret;
  }

  /**
   * KVM_SIGNAL_MSI: one MSI, always asserted. Returns >0 CPUs reached, 0 if
   * the targets exist but none accepted (blocked by the guest), -1 if no APIC
   * matched, -EINVAL for flags other than KVM_MSI_VALID_DEVID, for a
   * non-zero address-high low byte in x2APIC format, or (only with
   * `strictMsiAddress`) an address outside 0xFEExxxxx.
   *
   * @example
   * ```ts
   * declare const routing: GsiRouting;
   * routing.signalMsi(0xfee01000, 0, 0x41); // 1: vector 0x41 to APIC 1
   * ```
   */
  signalMsi(addressLo: number, addressHi: number, data: number, flags = 0): number {
    const t = this.#trace;
    if (!t.enabled) {
      // Untraced, there is no scope to open and close: one MSI per round trip.
      return (flags & ~KVM_MSI_VALID_DEVID) !== 0
        ? -EINVAL
        : this.#setMsi(addressLo, addressHi, data, 1);
    }
    return this.#signalMsiTraced(addressLo, addressHi, data, flags);
  }

  /** {@link GsiRouting.signalMsi} with the trace on: the ioctl is the cause of what follows. */
  #signalMsiTraced(addressLo: number, addressHi: number, data: number, flags: number): number {
    const t = this.#trace;
    const id = t.emit(
      this.#name,
      "signal_msi",
      `address ${hex8(addressLo)}:${hex8(addressHi)} data ${hex8(data)}`,
    );
    t.open(id);
    try {
      if ((flags & ~KVM_MSI_VALID_DEVID) !== 0) {
        if (t.enabled) t.emit(this.#name, "msi.invalid", `flags ${flags}`);
        return -EINVAL;
      }
      return this.#setMsi(addressLo, addressHi, data, 1);
    } finally {
      t.close(id);
    }
  }

  /** KVM `kvm_xen_set_evtchn` through the route's {port, vcpu, priority}. */
  #setXen(r: CompiledRoute): number {
    const o = this.#opts, t = this.#trace;
    const x = this.#xenRoute;
    x.port = r.pin;
    x.vcpu = r.lo;
    x.priority = r.hi;
    const ret = o.xen!.deliver(x);
    if (t.enabled) {
      t.emit(this.#name, "xen_evtchn", `port ${r.pin} vcpu ${r.lo} -> ${ret}`);
    }
    return ret;
  }

  /** KVM `kvm_hv_set_sint` for a raise. */
  #setHvSint(r: CompiledRoute): number {
    const o = this.#opts, t = this.#trace;
    const ret = o.hyperv ? o.hyperv.setIrq(r.lo, r.pin) : -EINVAL;
    if (t.enabled) t.emit(this.#name, "hv_sint", `vp ${r.lo} SINT${r.pin} -> ${ret}`);
    return ret;
  }

  /** KVM `kvm_set_msi`. */
  #setMsi(lo: number, hi: number, data: number, level: 0 | 1): number {
    // Untraced and valid, small enough for V8 to inline.
    if (!this.#trace.enabled && !(this.#x2apicFormat && (hi & 0xff) !== 0)) {
      // Edge semantics: a message is sent on assert only.
      if (level === 0) return -1;
      const ret = this.#msi.writeMsi(lo, hi, data, "msi");
      return this.#msi.status !== MsiStatus.Ok ? -EINVAL : ret;
    }
    return this.#setMsiAny(lo, hi, data, level);
  }

  /** {@link GsiRouting.#setMsi}, traced or refused. */
  #setMsiAny(lo: number, hi: number, data: number, level: 0 | 1): number {
    const t = this.#trace;
    if (this.#x2apicFormat && (hi & 0xff) !== 0) {
      if (t.enabled) t.emit(this.#name, "msi.invalid", `address-high ${hex8(hi)}: bits 7:0 set`);
      return -EINVAL;
    }
    // Edge semantics: a message is sent on assert only.
    if (level === 0) return -1;
    const ret = this.#msi.writeMsi(lo, hi, data, "msi");
    if (this.#msi.status !== MsiStatus.Ok) {
      if (t.enabled) t.emit(this.#name, "msi.invalid", `address ${hex8(lo)}: not 0xfeexxxxx`);
      return -EINVAL;
    }
    const m = this.#msi.message;
    if (t.enabled) {
      t.emit(
        this.#name,
        "msi.send",
        `vector 0x${m.vector.toString(16).padStart(2, "0")} dest 0x${m.dest.toString(16)}${
          m.logical ? " logical" : ""
        }${m.level ? " level" : ""}${m.redirectionHint ? " rh" : ""} -> ${ret}`,
      );
    }
    return ret;
  }

  /** KVM `kvm_set_routing_entry`: a compiled route or why the entry is invalid. */
  #compile(e: RoutingEntry): CompiledRoute | string {
    if (e.type === "msi") {
      if (this.#x2apicFormat && (e.addressHi & 0xff) !== 0) {
        return `MSI address-high ${hex8(e.addressHi)} has bits 7:0 set`;
      }
      const entry: MsiRoute = {
        gsi: e.gsi,
        type: "msi",
        addressLo: e.addressLo >>> 0,
        addressHi: e.addressHi >>> 0,
        data: e.data >>> 0,
      };
      if (e.flags !== undefined) entry.flags = e.flags;
      if (e.devid !== undefined) entry.devid = e.devid;
      return {
        kind: KIND_MSI,
        entry: Object.freeze(entry),
        chip: 0,
        pin: 0,
        lo: entry.addressLo,
        hi: entry.addressHi,
        data: entry.data,
      };
    }
    if (e.type === "xen_evtchn") {
      // kvm_xen_setup_evtchn checks only the priority: the port range and
      // the vCPU are checked at delivery, so a table can be restored before
      // the vCPUs exist or long_mode is set (Linux "KVM: x86/xen: Allow
      // 'out of range' event channel ports in IRQ routing table").
      const xen = this.#opts.xen;
      if (!xen) return "Xen event-channel routes need a kvm-xen VM";
      if (xen.validateRoute(e) < 0) {
        return `Xen route priority 0x${(e.priority >>> 0).toString(16)} is not 2-level`;
      }
      const entry: XenEvtchnRouteEntry = {
        gsi: e.gsi,
        type: "xen_evtchn",
        port: e.port >>> 0,
        vcpu: e.vcpu >>> 0,
        priority: e.priority >>> 0,
      };
      return {
        kind: KIND_XEN,
        entry: Object.freeze(entry),
        chip: 0,
        pin: entry.port,
        lo: entry.vcpu,
        hi: entry.priority,
        data: 0,
      };
    }
    if (e.type === "hv_sint") {
      // kvm_set_routing_entry copies the VP index and SINT unchecked.
      const entry: HvSintRouteEntry = {
        gsi: e.gsi,
        type: "hv_sint",
        vcpu: e.vcpu >>> 0,
        sint: e.sint >>> 0,
      };
      return {
        kind: KIND_HV_SINT,
        entry: Object.freeze(entry),
        chip: 0,
        pin: entry.sint,
        lo: entry.vcpu,
        hi: 0,
        data: 0,
      };
    }
    if (e.type !== "irqchip") return `unknown route type ${(e as { type: unknown }).type}`;
    if (this.mode === "split") return "IRQCHIP routes are not allowed with a split irqchip";
    const entry: IrqchipRoute = { gsi: e.gsi, type: "irqchip", irqchip: e.irqchip, pin: e.pin };
    const pinOk = (max: number) => Number.isInteger(e.pin) && e.pin >= 0 && e.pin < max;
    switch (e.irqchip) {
      case KvmIrqchip.PicMaster:
      case KvmIrqchip.PicSlave:
        if (!pinOk(PIC_CHIP_PINS)) return `PIC pin ${e.pin} >= ${PIC_CHIP_PINS}`;
        return {
          kind: KIND_PIC,
          entry: Object.freeze(entry),
          chip: e.irqchip,
          pin: e.pin,
          lo: 0,
          hi: 0,
          data: 0,
        };
      case KvmIrqchip.Ioapic: {
        const pins = this.#opts.ioapicPins ?? KVM_IOAPIC_NUM_PINS;
        if (!pinOk(pins)) return `IOAPIC pin ${e.pin} >= ${pins}`;
        return {
          kind: KIND_IOAPIC,
          entry: Object.freeze(entry),
          chip: 0,
          pin: e.pin,
          lo: 0,
          hi: 0,
          data: 0,
        };
      }
      default:
        return `unknown irqchip ${e.irqchip}`;
    }
  }
}

function hex8(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}
