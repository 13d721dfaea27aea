/**
 * QEMU's userspace I/O APIC as a split-irqchip VM has it
 * (`vm { irqchip split  split_ioapic qemu }`): the guest's accesses to
 * 0xfec00000 exit to QEMU (KVM_EXIT_MMIO), each unmasked redirection entry
 * is an MSI route of GSI = pin in KVM's table, a request is sent with
 * KVM_IRQ_LINE on that GSI, and the EOI of a level vector comes back as
 * KVM_EXIT_IOAPIC_EOI.
 *
 * Followed, for facts only: QEMU `hw/intc/ioapic.c` (`ioapic_entry_parse`,
 * `ioapic_service`, `ioapic_set_irq`, `ioapic_update_kvm_routes`,
 * `ioapic_eoi_broadcast`, `ioapic_mem_read`, `ioapic_mem_write`,
 * `ioapic_fix_edge_remote_irr`, `delayed_ioapic_service_cb`, the
 * `version` property's default 0x20), `hw/intc/ioapic_internal.h`
 * (IOAPIC_RO_BITS: remote IRR and delivery status), `target/i386/kvm/kvm.c`
 * (`kvm_arch_init_irq_routing`: 24 MSI routes reserved at creation) and
 * `accel/kvm/kvm-all.c` (`kvm_irqchip_update_msi_route`,
 * `kvm_irqchip_commit_routes`: the whole table, every time).
 *
 * Where it differs from KVM's in-kernel I/O APIC (`ioapic.ts`), which is
 * what a scenario chooses between with `split_ioapic`:
 * - remote IRR is set whenever a level entry is sent, whether a LAPIC
 *   accepted the message or not (KVM leaves it clear when nobody did, so a
 *   later write or EOI retries; here it stays set until an EOI);
 * - an EOI clears remote IRR of level entries only, and re-sends only those
 *   (KVM re-sends an edge entry of the same vector whose line is high);
 * - a masked entry keeps its MSI route (`ioapic_update_kvm_routes` skips
 *   masked pins), so an irqfd on that GSI still interrupts the guest;
 * - an index past the last pin reads 0 (KVM: all ones);
 * - GSI 0 (ISA IRQ 0) is pin 2 (`ioapic_set_irq`);
 * - every send walks all pins with a request latched, not just one.
 *
 * The `version` property (`ioapic_properties`, `ioapic_realize`: 0x11 or
 * 0x20, default 0x20; machine types up to pc-*-2.7 set 0x11 through
 * `hw_compat_2_7`) is the IOAPICVER value, and only 0x20 has the EOI
 * register: at 0x11 a write of +0x40 does nothing (`ioapic_mem_write`).
 *
 * KVM refuses a resampling irqfd under a split irqchip (only the full
 * in-kernel one can lower a line at EOI), so QEMU emulates it
 * (`kvm_irqchip_assign_irqfd`: a plain irqfd, and the resamplefd kept in
 * its list, `kvm_resample_fd_insert`): every EOI broadcast for a level
 * entry with the vector signals that pin's resamplefd
 * (`kvm_resample_fd_notify`), before and whatever remote IRR says (an
 * irqfd's message never set it: it reaches the LAPIC on the pin's MSI
 * route, bypassing the I/O APIC).
 *
 * Not modelled: an ExtINT entry (QEMU reads its vector from the userspace
 * 8259, which a split-irqchip VM here does not have: an input error),
 * interrupt remapping.
 *
 * @module
 */
import { fieldGet, fieldSet, type RegWords } from "../core/bitfield.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { StateHash } from "../core/platform.ts";
import type { Trace } from "../core/trace.ts";
import {
  EOI_STORM_DELAY_NS,
  EOI_STORM_LIMIT,
  ioapicIdRead,
  ioapicIdWritten,
  IoapicIndex,
  IoapicMmio,
  IoapicVersion,
  IoapicWriteTrace,
  redirectionPin,
  RTE,
  rteLowWritten,
} from "./ioapic.ts";
import { MSI_ADDRESS, MSI_ADDRESS_BASE, MSI_DATA } from "./msi.ts";

/**
 * QEMU's `IOAPIC_NUM_PINS`: the pins of its I/O APIC, and the GSIs below
 * which KVM_CAP_SPLIT_IRQCHIP reserves routes for it.
 *
 * @example
 * ```ts
 * QEMU_IOAPIC_PINS; // 24
 * ```
 */
export const QEMU_IOAPIC_PINS = 24;

/**
 * The ISA IRQ QEMU's `ioapic_set_irq` moves, and the pin it moves it to:
 * IRQ 0 (the PIT) is pin 2, as the MP table and ACPI MADT say.
 *
 * @example
 * ```ts
 * QEMU_IRQ0_PIN; // 2
 * ```
 */
export const QEMU_IRQ0_PIN = 2;

/**
 * QEMU's `dest_idx` (RTE bits 63:48, `IOAPIC_LVT_DEST_IDX_SHIFT`), which
 * `ioapic_entry_parse` puts into MSI address bits 19:4 whole: the
 * destination (RTE 63:56) lands on the MSI's destination field and RTE
 * 55:48 on address bits 11:4 (Linux's extended destination ID in 11:5).
 * Its low bit is this many bits below the RTE's destination field.
 */
const DEST_IDX_BELOW_DEST = 8;
/** Width of QEMU's `dest_idx`. */
const DEST_IDX_WIDTH = 16;

const F_VECTOR = RTE.vector;
const F_DM = RTE.delivery_mode;
const F_DESTMODE = RTE.dest_mode;
const F_RIRR = RTE.remote_irr;
const F_TRIGGER = RTE.trigger;
const F_MASK = RTE.mask;
const EXTINT = 0b111;
/** An entry after `ioapic_reset_common`: masked, every other bit 0. */
const RTE_LOW_AT_RESET = fieldSet(F_MASK, 0, 1);

/**
 * One MSI route QEMU's I/O APIC asks KVM for (`kvm_irqchip_update_msi_route`
 * of GSI `gsi`).
 *
 * @example
 * ```ts
 * const r: QemuIoapicRoute = { gsi: 5, addressLo: 0xfee00000, data: 0x8045 };
 * ```
 */
export interface QemuIoapicRoute {
  /** The GSI: the pin. */
  gsi: number;
  /** MSI address bits 31:0 (`info.addr`). */
  addressLo: number;
  /** MSI data (`info.data`). */
  data: number;
}

/**
 * What QEMU's I/O APIC reaches in KVM.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const trace: Trace;
 * const host: QemuIoapicHost = {
 *   setIrq: () => 1,
 *   updateRoutes: () => {},
 *   trace,
 *   name: "ioapic",
 * };
 * ```
 */
export interface QemuIoapicHost {
  /** `kvm_set_irq`: KVM_IRQ_LINE_STATUS on `gsi`; its status. */
  setIrq(gsi: number, level: 0 | 1): number;
  /**
   * `kvm_irqchip_update_msi_route` of each route, then
   * `kvm_irqchip_commit_routes` (KVM_SET_GSI_ROUTING of QEMU's whole table).
   */
  updateRoutes(routes: readonly QemuIoapicRoute[]): void;
  /** Runs `fire` after `delayNs` (QEMU_CLOCK_VIRTUAL); without it the storm guard is off. */
  schedule?: (delayNs: number, fire: () => void) => void;
  /** `event_notifier_set` of a resamplefd ({@link QemuIoapic.setResamplefd}). */
  signal?: (fd: number) => void;
  /** Where state changes are recorded. */
  trace: Trace;
  /** Trace source name. */
  name: string;
}

function hex(v: number, digits = 2): string {
  return "0x" + v.toString(16).padStart(digits, "0");
}

/**
 * QEMU's userspace I/O APIC (`TYPE_IOAPIC`, version 0x20 or 0x11) under a
 * split irqchip.
 *
 * @example
 * ```ts
 * declare const host: QemuIoapicHost;
 * const io = new QemuIoapic(host);
 * io.write(0x00, 0x10 + 2 * 5);
 * io.write(0x10, 0x8045);  // level, vector 0x45, unmasked: route GSI 5 updated
 * io.setIrq(5, 1);         // KVM_IRQ_LINE GSI 5; remote IRR 1
 * io.eoiBroadcast(0x45);   // remote IRR 0; the line is high: sent again
 * ```
 */
export class QemuIoapic {
  readonly #host: QemuIoapicHost;
  readonly #low = new Uint32Array(QEMU_IOAPIC_PINS);
  readonly #high = new Uint32Array(QEMU_IOAPIC_PINS);
  /** `s->irr`: a level pin's line, or an edge request not yet sent. */
  #irr = 0;
  #ioregsel = 0;
  #id = 0;
  /** `s->irq_eoi`: back-to-back EOI re-sends per pin, for the storm guard. */
  readonly #irqEoi = new Uint32Array(QEMU_IOAPIC_PINS);
  /** `delayed_ioapic_service_timer` is armed. */
  #stormArmed = false;
  /** Reused by {@link QemuIoapic.updateRoutes}: an RTE write allocates one array. */
  readonly #routes: QemuIoapicRoute[] = [];

  readonly #version: number;
  /** QEMU's `kvm_resample_fd_list` by GSI (= pin): the resamplefd, or -1. */
  readonly #resamplefd = new Int32Array(QEMU_IOAPIC_PINS).fill(-1);

  /**
   * Wires the I/O APIC to KVM; every entry starts masked. `version` is the
   * device's `version` property, {@link IoapicVersion.ICH} (0x20, QEMU's
   * default) or {@link IoapicVersion.KVM} (0x11, no EOI register).
   */
  constructor(host: QemuIoapicHost, version: number = IoapicVersion.ICH) {
    if (version !== IoapicVersion.ICH && version !== IoapicVersion.KVM) {
      throw new RangeError(`QEMU's I/O APIC is version 0x11 or 0x20, not ${hex(version)}`);
    }
    this.#host = host;
    this.#version = version;
    this.#low.fill(RTE_LOW_AT_RESET);
  }

  /** Number of pins (`IOAPIC_NUM_PINS`). */
  get pins(): number {
    return QEMU_IOAPIC_PINS;
  }

  /** IOAPICVER bits 7:0: the `version` property (0x20, with the EOI register, or 0x11). */
  get version(): number {
    return this.#version;
  }

  /** Feeds `h` the public state, for `scn explore` (`HashesFields`): none but the kind and version. */
  hashFields(h: StateHash): void {
    h.n(QEMU_IOAPIC_PINS | (this.#version << 8));
  }

  /** Feeds `h` the entries, requests, selector, ID and storm state. */
  hashPrivate(h: StateHash): void {
    h.words(this.#low);
    h.words(this.#high);
    h.words(this.#irqEoi);
    h.n(this.#irr);
    h.n(this.#ioregsel | (this.#id << 8) | (this.#stormArmed ? 1 << 12 : 0));
    h.words(this.#resamplefd);
  }

  /**
   * Saves the state and returns a function that puts it back. Fixed at
   * creation: #host, #version; scratch: #routes.
   */
  snapshot(): () => void {
    const low = this.#low.slice(), high = this.#high.slice(), irqEoi = this.#irqEoi.slice();
    const irr = this.#irr, ioregsel = this.#ioregsel, id = this.#id, storm = this.#stormArmed;
    const resamplefd = this.#resamplefd.slice();
    return () => {
      this.#resamplefd.set(resamplefd);
      this.#low.set(low);
      this.#high.set(high);
      this.#irqEoi.set(irqEoi);
      this.#irr = irr;
      this.#ioregsel = ioregsel;
      this.#id = id;
      this.#stormArmed = storm;
    };
  }

  // ---- MMIO (ioapic_mem_read / ioapic_mem_write, 4-byte accesses) ----------

  /**
   * `ioapic_mem_read`: IOREGSEL, or IOWIN's selected register; an index
   * that is no register (past the last pin, 0x03..0x0f) reads 0.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.write(0x00, 0x01);
   * io.read(0x10); // 0x00170020
   * ```
   */
  read(offset: number): number {
    switch (offset & 0xff) {
      case IoapicMmio.IOREGSEL:
        return this.#ioregsel;
      case IoapicMmio.IOWIN:
        return this.readIndirect(this.#ioregsel);
      default:
        return 0;
    }
  }

  /**
   * `ioapic_mem_read`'s IOWIN part for index `index`.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.readIndirect(0x40); // 0: no such register
   * ```
   */
  readIndirect(index: number): number {
    switch (index & 0xff) {
      case IoapicIndex.IOAPICID:
      case IoapicIndex.IOAPICARB:
        return ioapicIdRead(this.#id);
      case IoapicIndex.IOAPICVER:
        return (this.version | ((QEMU_IOAPIC_PINS - 1) << 16)) >>> 0;
    }
    const pin = this.#pinOf(index);
    if (pin < 0) return 0;
    return index & 1 ? this.#high[pin] : this.#low[pin];
  }

  /**
   * `ioapic_mem_write`: IOREGSEL keeps 8 bits; IOWIN writes the ID (bits
   * 27:24) or an entry half; the EOI register (version 0x20 only)
   * broadcasts the EOI of bits 7:0 (`ioapic_eoi_broadcast`).
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.write(0x40, 0x45); // as a KVM_EXIT_IOAPIC_EOI of 0x45 would
   * ```
   */
  write(offset: number, value: number): void {
    switch (offset & 0xff) {
      case IoapicMmio.IOREGSEL:
        this.#ioregsel = value & 0xff;
        return;
      case IoapicMmio.IOWIN:
        this.writeIndirect(this.#ioregsel, value);
        return;
      case IoapicMmio.EOI:
        // Only version 0x20 has the EOI register.
        if (this.#version !== IoapicVersion.ICH) break;
        this.eoiBroadcast(value & 0xff);
        return;
    }
    const t = this.#host.trace;
    if (t.enabled) {
      t.emit(
        this.#host.name,
        "write.ignored",
        `mmio +${hex(offset & 0xff)} <- ${hex(value >>> 0, 8)}`,
      );
    }
  }

  /**
   * `ioapic_mem_write`'s IOWIN part: an entry half is written with remote
   * IRR and delivery status kept, an edge entry's remote IRR cleared
   * (`ioapic_fix_edge_remote_irr`), the pin's storm count reset, then every
   * unmasked entry's route updated and committed and every latched request
   * serviced.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.writeIndirect(0x10 + 2 * 5 + 1, 0x01000000); // RTE 5 dest = 1
   * ```
   */
  writeIndirect(index: number, value: number): void {
    index &= 0xff;
    value >>>= 0;
    const h = this.#host, t = h.trace;
    if (index === IoapicIndex.IOAPICID) {
      this.#id = ioapicIdWritten(value);
      return IoapicWriteTrace.id(h, value, this.#id);
    }
    const pin = this.#pinOf(index);
    if (pin < 0) return IoapicWriteTrace.ignored(h, index, value);
    const old = this.#low[pin];
    let low = old;
    if (index & 1) this.#high[pin] = value;
    else low = rteLowWritten(old, value);
    this.#irqEoi[pin] = 0;
    if (fieldGet(F_TRIGGER, low) === 0) low = fieldSet(F_RIRR, low, 0);
    this.#low[pin] = low;
    const id = IoapicWriteTrace.entry(h, pin, index, value, low, this.#high[pin]);
    t.open(id);
    try {
      if (fieldGet(F_RIRR, old) === 1 && fieldGet(F_RIRR, low) === 0) {
        IoapicWriteTrace.remoteIrrCleared(h, pin);
      }
      this.updateRoutes();
      this.#service(-1);
    } finally {
      t.close(id);
    }
  }

  // ---- Requests ---------------------------------------------------------

  /**
   * `ioapic_set_irq` of input `irq` (a GSI; 0 is pin 2): a level pin's
   * request follows the line and is sent unless remote IRR is set; an edge
   * pin latches a rising request unless masked, and sends it. Returns what
   * QEMU's KVM_IRQ_LINE for this pin answered (>0 CPUs reached, 0 nobody
   * accepted), -1 when QEMU made none (masked, or an edge request on a
   * masked pin), 0 when a level request waits for the EOI of the last one
   * (remote IRR: QEMU's `coalesce`). Lowering a line returns 1 and sends
   * nothing. An input at or past the pins is ignored (-1).
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.setIrq(0, 1); // pin 2
   * ```
   */
  setIrq(irq: number, level: 0 | 1): number {
    const pin = irq === 0 ? QEMU_IRQ0_PIN : irq;
    if (pin >= QEMU_IOAPIC_PINS) return -1;
    const h = this.#host, t = h.trace, bit = 1 << pin;
    const id = t.enabled ? t.emit(h.name, "line", `pin ${pin} level ${level}`) : 0;
    t.open(id);
    try {
      const low = this.#low[pin];
      if (fieldGet(F_TRIGGER, low) === 1) {
        if (level === 0) {
          this.#irr &= ~bit;
          return 1;
        }
        this.#irr |= bit;
        if (fieldGet(F_RIRR, low) === 1) {
          if (t.enabled) t.emit(h.name, "remote_irr.pending", `pin ${pin}: not sent`);
          return 0;
        }
        return this.#service(pin);
      }
      if (level === 0) return 1;
      // 82093AA: an edge request on a masked pin is ignored.
      if (fieldGet(F_MASK, low) === 1) {
        if (t.enabled) t.emit(h.name, "masked", `pin ${pin}: edge request ignored`);
        return -1;
      }
      this.#irr |= bit;
      return this.#service(pin);
    } finally {
      t.close(id);
    }
  }

  /**
   * QEMU's emulated resampling irqfd on `gsi` (`kvm_resample_fd_insert`;
   * -1: `kvm_resample_fd_remove`): the EOI broadcasts of the pin signal
   * `fd`. Returns whether the GSI is one of the I/O APIC's pins.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.setResamplefd(5, 6); // EOIs of pin 5's level vector signal eventfd 6
   * ```
   */
  setResamplefd(gsi: number, fd: number): boolean {
    if (gsi < 0 || gsi >= QEMU_IOAPIC_PINS) return false;
    this.#resamplefd[gsi] = fd;
    return true;
  }

  /**
   * `ioapic_eoi_broadcast`: for each level entry with `vector`, its
   * resamplefd (if any) is signalled; where remote IRR is set, it is cleared, and an unmasked one with its request
   * still latched is sent again, or, at the {@link EOI_STORM_LIMIT}th
   * back-to-back time, 10 ms later (`delayed_ioapic_service_cb`, which
   * services every pin). Edge entries are left alone.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.eoiBroadcast(0x45);
   * ```
   */
  eoiBroadcast(vector: number): void {
    const h = this.#host, t = h.trace;
    const id = t.enabled ? t.emit(h.name, "eoi", `vector ${hex(vector)}`) : 0;
    t.open(id);
    try {
      for (let pin = 0; pin < QEMU_IOAPIC_PINS; pin++) {
        const low = this.#low[pin];
        if (fieldGet(F_VECTOR, low) !== vector || fieldGet(F_TRIGGER, low) !== 1) continue;
        const rfd = this.#resamplefd[pin];
        if (rfd >= 0 && h.signal) {
          if (t.enabled) t.emit(h.name, "resample", `pin ${pin}: resamplefd ${rfd} signalled`);
          h.signal(rfd);
        }
        if (fieldGet(F_RIRR, low) === 0) continue;
        this.#low[pin] = fieldSet(F_RIRR, low, 0);
        if (t.enabled) t.emit(h.name, "remote_irr.clear", `pin ${pin} vector ${hex(vector)}`);
        if (fieldGet(F_MASK, low) === 0 && (this.#irr & (1 << pin)) !== 0) {
          if (++this.#irqEoi[pin] >= EOI_STORM_LIMIT && h.schedule) {
            this.#irqEoi[pin] = 0;
            if (t.enabled) {
              t.emit(h.name, "storm", `pin ${pin}: ${EOI_STORM_LIMIT} EOI re-sends, next in 10 ms`);
            }
            if (!this.#stormArmed) {
              this.#stormArmed = true;
              h.schedule(EOI_STORM_DELAY_NS, () => {
                this.#stormArmed = false;
                this.#service(-1);
              });
            }
          } else {
            this.#service(-1);
          }
        } else {
          this.#irqEoi[pin] = 0;
        }
      }
    } finally {
      t.close(id);
    }
  }

  /**
   * `ioapic_update_kvm_routes`: the MSI route of every unmasked entry
   * (masked entries' routes stay as they were), committed at once.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.updateRoutes(); // as QEMU's post_load does after a migration
   * ```
   */
  updateRoutes(): void {
    const out = this.#routes;
    out.length = 0;
    for (let pin = 0; pin < QEMU_IOAPIC_PINS; pin++) {
      const low = this.#low[pin];
      if (fieldGet(F_MASK, low) === 1) continue;
      out.push({ gsi: pin, addressLo: this.#address(pin), data: this.#data(pin) });
    }
    this.#host.updateRoutes(out);
  }

  // ---- State inspection -------------------------------------------------

  /**
   * Entry `pin` as two words.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.rte(5).low; // 0x10000 at reset
   * ```
   */
  rte(pin: number): RegWords {
    return { low: this.#low[pin], high: this.#high[pin] };
  }

  /**
   * `s->irr` bit of `pin`: a level pin's line, or an edge request latched
   * and not yet sent.
   *
   * @example
   * ```ts
   * declare const io: QemuIoapic;
   * io.line(5); // 1 while a level device holds GSI 5 high
   * ```
   */
  line(pin: number): number {
    return (this.#irr >>> pin) & 1;
  }

  // ---- Internals ----------------------------------------------------------

  #pinOf(index: number): number {
    return redirectionPin(index, QEMU_IOAPIC_PINS);
  }

  /** `info.addr`: 0xfee00000 | dest_idx in bits 19:4 | dest mode. */
  #address(pin: number): number {
    const destIdx = (this.#high[pin] >>> (32 - DEST_IDX_WIDTH)) & ((1 << DEST_IDX_WIDTH) - 1);
    let a = fieldSet(MSI_ADDRESS.base, 0, MSI_ADDRESS_BASE);
    a = (a | (destIdx << (MSI_ADDRESS.dest.lsb - DEST_IDX_BELOW_DEST))) >>> 0;
    return fieldSet(MSI_ADDRESS.dest_mode, a, fieldGet(F_DESTMODE, this.#low[pin]));
  }

  /** `info.data`: vector, delivery mode and trigger (no level-assert bit). */
  #data(pin: number): number {
    const low = this.#low[pin];
    const dm = fieldGet(F_DM, low);
    if (dm === EXTINT) {
      throw new CommandInputError(
        `QEMU's I/O APIC pin ${pin} is ExtINT: QEMU reads its vector from the userspace 8259 ` +
          "(pic_read_irq), which this split-irqchip VM does not model",
      );
    }
    let d = fieldSet(MSI_DATA.vector, 0, fieldGet(F_VECTOR, low));
    d = fieldSet(MSI_DATA.delivery_mode, d, dm);
    return fieldSet(MSI_DATA.trigger, d, fieldGet(F_TRIGGER, low));
  }

  /**
   * `ioapic_service`: every unmasked pin with a request latched is sent
   * (an edge one's request cleared, a level one's remote IRR set, skipped
   * if it was set already): KVM_IRQ_LINE 1 then 0 for edge, 1 for level.
   * Returns the raise's status for pin `report` (-1 if it made none).
   */
  #service(report: number): number {
    const h = this.#host, t = h.trace;
    let ret = -1;
    for (let pin = 0; pin < QEMU_IOAPIC_PINS; pin++) {
      const bit = 1 << pin;
      if ((this.#irr & bit) === 0) continue;
      const low = this.#low[pin];
      if (fieldGet(F_MASK, low) === 1) {
        if (pin === report && t.enabled) {
          t.emit(h.name, "masked", `pin ${pin} vector ${hex(fieldGet(F_VECTOR, low))}`);
        }
        continue;
      }
      const level = fieldGet(F_TRIGGER, low) === 1;
      if (level) {
        if (fieldGet(F_RIRR, low) === 1) {
          if (pin === report) ret = 0;
          continue;
        }
        this.#low[pin] = fieldSet(F_RIRR, low, 1);
        if (t.enabled) {
          t.emit(h.name, "remote_irr.set", `pin ${pin} vector ${hex(fieldGet(F_VECTOR, low))}`);
        }
      } else {
        this.#irr &= ~bit;
      }
      if (fieldGet(F_DM, low) === EXTINT) this.#data(pin); // refused: see #data
      if (t.enabled) {
        t.emit(h.name, "send", `pin ${pin}: KVM_IRQ_LINE gsi ${pin} (${level ? "level" : "edge"})`);
      }
      const s = h.setIrq(pin, 1);
      if (!level) h.setIrq(pin, 0);
      if (pin === report) ret = s;
    }
    return ret;
  }
}
