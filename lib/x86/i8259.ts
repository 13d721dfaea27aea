/**
 * The PC/AT pair of 8259A programmable interrupt controllers: a master on
 * ports 0x20/0x21 whose IR2 is wired to the INT output of a slave on ports
 * 0xA0/0xA1, plus the chipset's edge/level control registers (ELCR) at
 * 0x4D0/0x4D1.
 *
 * Register and command names follow the Intel 8259A datasheet (order number
 * 231468): ICW1..ICW4 initialisation words, OCW1 (IMR), OCW2 (EOI and
 * rotation), OCW3 (register read select, poll, special mask mode), and the
 * IRR / ISR / IMR registers. Where the datasheet leaves room, behaviour follows
 * the in-kernel KVM model (Linux `arch/x86/kvm/i8259.c`), which is what guests
 * under KVM actually see; divergences from QEMU (`hw/intc/i8259.c`) are
 * called out where they matter.
 *
 * The model is driven from two sides: devices call {@link I8259Pair.setIrq}
 * (or {@link I8259Pair.setIsaIrq}) with line levels, the guest does port I/O
 * through {@link I8259Pair.ioWrite} / {@link I8259Pair.ioRead}, and the CPU
 * samples {@link I8259Pair.intr} and runs the INTA cycle with
 * {@link I8259Pair.acknowledge}.
 *
 * @module
 */

import type { Trace } from "../core/trace.ts";
import type { StateHash } from "../core/platform.ts";
import { restoreVersioned } from "../core/state_words.ts";
import { StateVersion } from "../core/state_version.ts";

/**
 * How a poll-mode read (OCW3 P=1, then a read) is answered.
 *
 * - `"architectural"`: per the datasheet, the read is an interrupt
 *   acknowledge for that chip and returns `0x80 | level`, or `0` when nothing
 *   is requesting.
 * - `"kvm-legacy"`: KVM before the 2023 fix ("KVM: x86: Fix poll command",
 *   J. Zheng) returned the bare level (no bit 7) and `7` when idle, and cleared
 *   the winner's IRR and ISR bits instead of setting ISR.
 *
 * @example
 * ```ts
 * const policy: PicPollPolicy = "kvm-legacy";
 * ```
 */
export type PicPollPolicy = "architectural" | "kvm-legacy";

/**
 * Whether OCW3's special mask mode takes effect.
 *
 * - `"architectural"`: per the datasheet (and QEMU's `pic_get_irq`), while
 *   SMM is set an in-service level that is also masked stops blocking the
 *   levels below it, so a handler that masks its own IR lets lower ones in.
 * - `"kvm"`: KVM's in-kernel PIC (`pic_get_irq` in arch/x86/kvm/i8259.c)
 *   stores the OCW3 bit, reports it in KVM_GET_IRQCHIP, and never applies
 *   it: every in-service level blocks as in fully nested mode.
 *
 * @example
 * ```ts
 * const policy: PicSpecialMaskPolicy = "kvm";
 * ```
 */
export type PicSpecialMaskPolicy = "architectural" | "kvm";

/**
 * What the pair needs from its surroundings.
 *
 * @example
 * ```ts
 * import { Trace } from "../core/trace.ts";
 * const host: I8259Host = { trace: new Trace(() => 0), name: "pic", onIntr: (up) => {} };
 * ```
 */
export interface I8259Host {
  /** Where state changes are recorded. */
  trace: Trace;
  /** The trace source name, e.g. `pic`. */
  name: string;
  /** Called whenever the master's INT output (the CPU's INTR) changes level. */
  onIntr?: (level: boolean) => void;
  /**
   * An in-service bit was cleared by an EOI command or by automatic EOI:
   * `irq` is 0-7 on the master, 8-15 on the slave. KVM's `pic_clear_isr`
   * calls the ack notifiers here (`kvm_notify_acked_irq`), which is how a
   * resampling irqfd on a PIC pin hears the guest's EOI.
   */
  ack?: (irq: number) => void;
  /**
   * Whether some vCPU takes the PIC's INTR (KVM's `kvm_apic_accept_pic_intr`
   * for any vCPU: its APIC hardware-disabled, or LVT0 unmasked in ExtINT
   * mode). KVM's ICW1 acks the edge requests it drops only then. Absent: none
   * does, and ICW1 acks nothing.
   */
  acceptsIntr?: () => boolean;
}

/**
 * KVM's `struct kvm_pic_state`, field by field, as KVM_GET_IRQCHIP gives it
 * and KVM_SET_IRQCHIP copies it in (`kvm_vm_ioctl_get_irqchip`: a plain
 * memcpy of the chip's state, no checks).
 *
 * @example
 * ```ts
 * KVM_PIC_STATE_FIELDS[0]; // "last_irr"
 * ```
 */
export const KVM_PIC_STATE_FIELDS = [
  "last_irr",
  "irr",
  "imr",
  "isr",
  "priority_add",
  "irq_base",
  "read_reg_select",
  "poll",
  "special_mask",
  "init_state",
  "auto_eoi",
  "rotate_on_auto_eoi",
  "special_fully_nested_mode",
  "init4",
  "elcr",
  "elcr_mask",
] as const;

/**
 * One chip's state in KVM's layout (every field a byte).
 *
 * @example
 * ```ts
 * declare const pic: I8259Pair;
 * const s: KvmPicState = pic.kvmState(0);
 * ```
 */
export type KvmPicState = Record<(typeof KVM_PIC_STATE_FIELDS)[number], number>;

/**
 * Construction options.
 *
 * @example
 * ```ts
 * const opts: I8259Options = { poll: "kvm-legacy" };
 * ```
 */
export interface I8259Options {
  /** Poll-read behaviour; default `"architectural"`. */
  poll?: PicPollPolicy;
  /** Whether special mask mode takes effect; default `"architectural"`. */
  specialMask?: PicSpecialMaskPolicy;
}

/**
 * A read-only view of one 8259A, for inspection and expectations.
 *
 * @example
 * ```ts
 * import { Trace } from "../core/trace.ts";
 * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
 * const m: I8259ChipView = pic.master;
 * m.irr === 0; // true
 * ```
 */
export interface I8259ChipView {
  /** `"master"` or `"slave"`. */
  readonly role: "master" | "slave";
  /** Interrupt Request Register. */
  readonly irr: number;
  /** In-Service Register. */
  readonly isr: number;
  /** Interrupt Mask Register (OCW1). */
  readonly imr: number;
  /** Edge/Level Control Register (1 = level); always within {@link I8259ChipView.elcrMask}. */
  readonly elcr: number;
  /** The ELCR bits the chipset lets software set: 0xF8 master, 0xDE slave. */
  readonly elcrMask: number;
  /** The current IR input levels (for the master, IR2 is the slave's INT output). */
  readonly lines: number;
  /** ICW2 vector base (bits 7:3; the low three bits are the IR level at INTA). */
  readonly vectorBase: number;
  /** The IR level that currently has the highest priority (0 after ICW1; moved by rotation). */
  readonly priorityBase: number;
  /** ICW4 AEOI: the ISR bit is not kept after INTA. */
  readonly aeoi: boolean;
  /** ICW4 SFNM (special fully nested mode). */
  readonly sfnm: boolean;
  /** OCW3 special mask mode. */
  readonly specialMask: boolean;
  /** OCW2 rotate-in-automatic-EOI mode. */
  readonly rotateInAeoi: boolean;
  /** OCW3 RIS: a command-port read returns ISR (true) or IRR (false). */
  readonly readIsr: boolean;
  /** OCW3 P: the next read of this chip is a poll. */
  readonly pollPending: boolean;
  /** Which initialisation word the data port expects next: 0 none (OCW1), 2, 3 or 4. */
  readonly expecting: 0 | 2 | 3 | 4;
}

/** ELCR bits the PIIX-style chipset implements on the master: IRQ0-2 are edge only. */
const ELCR_MASK_MASTER = 0xf8;
/** ELCR bits on the slave: IRQ8 (RTC) and IRQ13 (FPU error) are edge only. */
const ELCR_MASK_SLAVE = 0xde;

/** The cascade input on the master. */
const CASCADE_PIN = 2;
const CASCADE_BIT = 1 << CASCADE_PIN;

/** Words {@link ChipState.wordsInto} writes. */
const CHIP_WORDS = 11;

/** Where the `scn explore` hooks write a pair's words to feed them in one call. */
const HASHED = new Int32Array(2 * CHIP_WORDS + 1);

/** Internal, mutable state of one chip; exposed outside only as {@link I8259ChipView}. */
class ChipState implements I8259ChipView {
  irr = 0;
  isr = 0;
  imr = 0;
  elcr = 0;
  lines = 0;
  vectorBase = 0;
  priorityBase = 0;
  aeoi = false;
  sfnm = false;
  specialMask = false;
  rotateInAeoi = false;
  readIsr = false;
  pollPending = false;
  expecting: 0 | 2 | 3 | 4 = 0;
  /** ICW1 IC4: an ICW4 follows. */
  ic4 = false;
  /** ICW1 SNGL: no slave wiring, so no ICW3 follows. */
  single = false;

  // Not readonly: KVM_SET_IRQCHIP copies elcr_mask in like any other field.
  constructor(
    readonly role: "master" | "slave",
    public elcrMask: number,
    /** Whether SMM unblocks masked in-service levels ({@link PicSpecialMaskPolicy}); fixed. */
    readonly smmApplies: boolean,
  ) {}

  /**
   * Copies every field of `o` into this chip, for `scn explore`'s
   * snapshots (`VmModel.snapshot`); role is fixed at creation.
   */
  copyFrom(o: ChipState): void {
    this.irr = o.irr;
    this.isr = o.isr;
    this.imr = o.imr;
    this.elcr = o.elcr;
    this.lines = o.lines;
    this.vectorBase = o.vectorBase;
    this.priorityBase = o.priorityBase;
    this.aeoi = o.aeoi;
    this.sfnm = o.sfnm;
    this.specialMask = o.specialMask;
    this.rotateInAeoi = o.rotateInAeoi;
    this.readIsr = o.readIsr;
    this.pollPending = o.pollPending;
    this.expecting = o.expecting;
    this.ic4 = o.ic4;
    this.single = o.single;
    this.elcrMask = o.elcrMask;
  }

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    h.block(HASHED, this.wordsInto(HASHED, 0));
  }

  /**
   * Writes the public fields into `w` from `k` ({@link CHIP_WORDS} words)
   * and returns the index after them: what {@link ChipState.hashFields} feeds.
   */
  wordsInto(w: Int32Array, k: number): number {
    w[k] = this.irr;
    w[k + 1] = this.isr;
    w[k + 2] = this.imr;
    w[k + 3] = this.elcr;
    w[k + 4] = this.lines;
    w[k + 5] = this.vectorBase;
    w[k + 6] = this.priorityBase;
    // The flags as the bits of one word: fewer words at every state.
    w[k + 7] = (this.aeoi ? 1 : 0) | (this.sfnm ? 2 : 0) | (this.specialMask ? 4 : 0) |
      (this.rotateInAeoi ? 8 : 0) | (this.readIsr ? 16 : 0) | (this.pollPending ? 32 : 0) |
      (this.ic4 ? 64 : 0) | (this.single ? 128 : 0);
    w[k + 8] = this.expecting;
    // The role as a word, not a string hashed at every state.
    w[k + 9] = this.role === "master" ? 1 : this.role === "slave" ? 2 : 0;
    w[k + 10] = this.elcrMask;
    return k + CHIP_WORDS;
  }

  /** Priority rank of IR `level` (0 = highest) under the current rotation. */
  rank(level: number): number {
    return (level - this.priorityBase) & 7;
  }

  /** The highest-priority IR level set in `mask`, or -1. */
  highest(mask: number): number {
    if ((mask & 0xff) === 0) return -1;
    for (let r = 0; r < 8; r++) {
      const level = (this.priorityBase + r) & 7;
      if (mask & (1 << level)) return level;
    }
    return -1;
  }

  /**
   * The IR level this chip would present at INTA now, or -1: the best
   * unmasked request, if it outranks everything in service that still
   * blocks it.
   */
  winner(): number {
    const req = this.highest(this.irr & ~this.imr);
    if (req < 0) return -1;
    let blocking = this.isr;
    // Special mask mode exists so a handler can mask its own level and let
    // everything else (lower levels too) through.
    if (this.specialMask && this.smmApplies) blocking &= ~this.imr;
    // SFNM lets a higher slave request nest inside a slave interrupt already
    // in service, which the master would otherwise block on its own IR2.
    if (this.sfnm && this.role === "master") blocking &= ~CASCADE_BIT;
    const cur = this.highest(blocking);
    return cur < 0 || this.rank(req) < this.rank(cur) ? req : -1;
  }

  /** Power-on state: everything zero (KVM allocates the state zeroed; QEMU resets it the same). */
  reset(): void {
    this.irr =
      this.isr =
      this.imr =
      this.elcr =
      this.lines =
        0;
    this.vectorBase = this.priorityBase = 0;
    this.aeoi =
      this.sfnm =
      this.specialMask =
      this.rotateInAeoi =
        false;
    this.readIsr = this.pollPending = false;
    this.expecting = 0;
    this.ic4 = this.single = false;
  }
}

function hex(v: number): string {
  return "0x" + v.toString(16).padStart(2, "0");
}

/**
 * The cascaded 8259A pair with its ELCR.
 *
 * @example
 * ```ts
 * import { Trace } from "../core/trace.ts";
 * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
 * // The usual BIOS programming: master at 0x08, slave at 0x70, 8086 mode.
 * for (const [p, v] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01]]) pic.ioWrite(p, v);
 * for (const [p, v] of [[0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01]]) pic.ioWrite(p, v);
 * pic.setIsaIrq(12, 1);
 * pic.intr(); // true
 * pic.acknowledge(); // 0x74
 * ```
 */
export class I8259Pair {
  /** Poll-read behaviour; may be changed at any time. */
  poll: PicPollPolicy;
  readonly #specialMask: PicSpecialMaskPolicy;
  readonly #m: ChipState;
  readonly #s: ChipState;
  readonly #host: I8259Host;
  /** The master's INT output as last computed. */
  #intr = false;
  /**
   * Bumped by every method that may write the chips or INT (each public
   * one but the readers: intr, kvmState, master, slave), for `scn
   * explore`'s digest of {@link I8259Pair.hashPrivate}.
   */
  readonly #version = new StateVersion();

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    // A word, not a string hashed at every state (0 for no value of the type).
    const p = this.poll;
    h.n(p === "architectural" ? 1 : p === "kvm-legacy" ? 2 : 0);
  }

  /**
   * Whether special mask mode takes effect. Fixed at creation: an accessor
   * rather than a field, so that `scn explore`'s fingerprint need not hash
   * it at every state.
   */
  get specialMask(): PicSpecialMaskPolicy {
    return this.#specialMask;
  }

  /**
   * Saves both chips and the INT output and returns a function that puts
   * them back, for `scn explore` (`VmModel.snapshot`). Fixed at creation,
   * not saved: poll, #specialMask, #host; #version is put back with the
   * state it names.
   */
  snapshot(): () => void {
    const m = new ChipState(this.#m.role, 0, this.#m.smmApplies);
    const s = new ChipState(this.#s.role, 0, this.#s.smmApplies);
    m.copyFrom(this.#m);
    s.copyFrom(this.#s);
    const intr = this.#intr, version = this.#version.value;
    const put = () => {
      this.#m.copyFrom(m);
      this.#s.copyFrom(s);
      this.#intr = intr;
    };
    // Nothing to put back while the version stands (most orders of a search).
    return () => restoreVersioned(this.#version, version, this, I8259Pair.#words, put);
  }

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    // Unchanged in most states of a search: the digest kept with the version.
    h.versioned(this.#version, this, I8259Pair.#words);
  }

  static #words(h: StateHash, pic: I8259Pair): void {
    // Directly, not by `h.value`: each chip is this pair's alone, never met
    // elsewhere. Both chips and INT in one block.
    const w = HASHED;
    const k = pic.#s.wordsInto(w, pic.#m.wordsInto(w, 0));
    w[k] = pic.#intr ? 1 : 0;
    h.block(w, k + 1);
  }

  constructor(host: I8259Host, options: I8259Options = {}) {
    this.#host = host;
    this.poll = options.poll ?? "architectural";
    this.#specialMask = options.specialMask ?? "architectural";
    const smm = this.#specialMask === "architectural";
    this.#m = new ChipState("master", ELCR_MASK_MASTER, smm);
    this.#s = new ChipState("slave", ELCR_MASK_SLAVE, smm);
  }

  /** The master chip (IRQ0-7). */
  get master(): I8259ChipView {
    return this.#m;
  }

  /** The slave chip (IRQ8-15), cascaded on master IR2. */
  get slave(): I8259ChipView {
    return this.#s;
  }

  /**
   * Returns both chips to power-on state (all registers 0, ELCR 0, not in an
   * initialisation sequence) and drops INTR.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.reset();
   * ```
   */
  reset(): void {
    this.#version.bump();
    this.#m.reset();
    this.#s.reset();
    this.#emit("reset", "both chips to power-on state");
    this.#update();
  }

  /**
   * Whether the master's INT output, the CPU's INTR line, is asserted.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.intr(); // false
   * ```
   */
  intr(): boolean {
    return this.#intr;
  }

  /**
   * Drives input `pin` of `chip` (0 master, 1 slave) to `level`.
   *
   * Returns KVM's status for the line change, as `kvm_pic_set_irq` in Linux
   * `arch/x86/kvm/i8259.c` computes it (the PIC's part of the
   * KVM_IRQ_LINE_STATUS result): -1 when the pin's IMR bit is set (whatever
   * the line did), 0 when an assertion found its IRR bit already set (the
   * request is coalesced with one still pending), otherwise 1 — including
   * deassertion and a held-high edge line. Like KVM, the master's IMR bit 2 is
   * not consulted for slave pins.
   *
   * Master pin 2 takes an external level like any pin (KVM routes GSI 2
   * there); the slave's requests pulse it on every update, which resets
   * that level (KVM's `pic_update_irq`).
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.setIrq(0, 3, 1); // 1
   * pic.setIrq(0, 3, 0); // 1
   * pic.setIrq(0, 3, 1); // 0: IRQ3 was never acknowledged
   * ```
   */
  setIrq(chip: 0 | 1, pin: number, level: 0 | 1): number {
    if ((chip !== 0 && chip !== 1) || !Number.isInteger(pin) || pin < 0 || pin > 7) {
      throw new RangeError(`i8259: no chip ${chip} pin ${pin}`);
    }
    if (level !== 0 && level !== 1) throw new RangeError(`i8259: bad level ${level}`);
    this.#version.bump();
    const c = chip === 0 ? this.#m : this.#s;
    const bit = 1 << pin;
    const { newRequest, cause } = this.#drive(c, pin, level);
    this.#host.trace.open(cause);
    this.#update();
    this.#host.trace.close(cause);
    if (c.imr & bit) return -1;
    return newRequest ? 1 : 0;
  }

  /**
   * {@link I8259Pair.setIrq} by ISA IRQ number: 0-7 on the master, 8-15 on
   * the slave.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.setIsaIrq(14, 1); // slave pin 6
   * ```
   */
  setIsaIrq(irq: number, level: 0 | 1): number {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15) {
      throw new RangeError(`i8259: no ISA IRQ ${irq}`);
    }
    return this.setIrq(irq < 8 ? 0 : 1, irq & 7, level);
  }

  /**
   * The CPU's interrupt acknowledge cycle: returns the vector and updates
   * ISR/IRR as the 8259A does on the INTA pulses.
   *
   * With no request at the master the chip answers with IR7's vector and
   * changes nothing (spurious IRQ7). If the master's winner is IR2 the slave
   * supplies the vector; a slave that no longer has a request answers with its
   * own IR7 vector (spurious IRQ15) while the master's ISR bit 2 is still set,
   * so software must EOI the master.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.acknowledge(); // 0x07: spurious IRQ7 with vector base 0
   * ```
   */
  acknowledge(): number {
    this.#version.bump();
    const m = this.#m, s = this.#s;
    const trace = this.#host.trace;
    const irq = m.winner();
    let vector: number;
    let id: number;
    if (irq < 0) {
      vector = m.vectorBase + 7;
      id = trace.enabled ? this.#emit("spurious", `IRQ7 on master, vector ${hex(vector)}`) : 0;
    } else {
      this.#intack(m, irq);
      if (irq === CASCADE_PIN) {
        // A slave that still has a request re-latches master IRR bit 2 with
        // the pulse of the update that ends the cycle.
        const irq2 = s.winner();
        if (irq2 >= 0) {
          this.#intack(s, irq2);
          vector = s.vectorBase + irq2;
          id = trace.enabled
            ? this.#emit("inta", `IRQ${irq2 + 8} vector ${hex(vector)} ${this.#regs()}`)
            : 0;
        } else {
          vector = s.vectorBase + 7;
          id = trace.enabled
            ? this.#emit(
              "spurious",
              `IRQ15 on slave (request withdrawn), vector ${hex(vector)} ${this.#regs()}`,
            )
            : 0;
        }
      } else {
        vector = m.vectorBase + irq;
        id = trace.enabled
          ? this.#emit("inta", `IRQ${irq} vector ${hex(vector)} ${this.#regs()}`)
          : 0;
      }
    }
    trace.open(id);
    this.#update();
    trace.close(id);
    return vector;
  }

  /**
   * A guest byte write to 0x20/0x21 (master), 0xA0/0xA1 (slave) or
   * 0x4D0/0x4D1 (ELCR). Throws RangeError for any other port.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.ioWrite(0x21, 0xfb); // OCW1: mask everything but the cascade
   * ```
   */
  ioWrite(port: number, value: number): void {
    this.#version.bump();
    value &= 0xff;
    switch (port) {
      case 0x20:
      case 0xa0:
        this.#writeCommand(port === 0x20 ? this.#m : this.#s, value);
        return;
      case 0x21:
      case 0xa1:
        this.#writeData(port === 0x21 ? this.#m : this.#s, value);
        return;
      case 0x4d0:
      case 0x4d1:
        this.#writeElcr(port === 0x4d0 ? this.#m : this.#s, value);
        return;
      default:
        throw new RangeError(`i8259: port ${hex(port)} is not a PIC port`);
    }
  }

  /**
   * A guest byte read: the command port returns IRR or ISR (OCW3 RIS), the
   * data port returns IMR, and after an OCW3 poll command either port returns
   * the poll byte once. Throws RangeError for non-PIC ports.
   *
   * @example
   * ```ts
   * import { Trace } from "../core/trace.ts";
   * const pic = new I8259Pair({ trace: new Trace(() => 0), name: "pic" });
   * pic.ioRead(0x4d1); // ELCR of the slave: 0
   * ```
   */
  ioRead(port: number): number {
    // A poll read ends the poll: a write too.
    this.#version.bump();
    switch (port) {
      case 0x20:
      case 0x21:
      case 0xa0:
      case 0xa1: {
        const c = port < 0x80 ? this.#m : this.#s;
        if (c.pollPending) {
          c.pollPending = false;
          return this.#pollRead(c);
        }
        if ((port & 1) === 1) return c.imr;
        return c.readIsr ? c.isr : c.irr;
      }
      case 0x4d0:
        return this.#m.elcr;
      case 0x4d1:
        return this.#s.elcr;
      default:
        throw new RangeError(`i8259: port ${hex(port)} is not a PIC port`);
    }
  }

  // --- request logic -------------------------------------------------------

  /** Applies a line level to one input; returns whether a new IRR bit appeared. */
  #drive(c: ChipState, pin: number, level: 0 | 1): { newRequest: boolean; cause: number } {
    const bit = 1 << pin;
    const was = (c.lines & bit) !== 0;
    const hadIrr = (c.irr & bit) !== 0;
    c.lines = level ? c.lines | bit : c.lines & ~bit;
    if (c.elcr & bit) {
      // Level mode: IRR is the line, nothing is latched.
      c.irr = level ? c.irr | bit : c.irr & ~bit;
    } else if (level && !was) {
      c.irr |= bit;
    }
    const hasIrr = (c.irr & bit) !== 0;
    let cause = 0;
    if (hasIrr !== hadIrr && this.#host.trace.enabled) {
      const irq = c.role === "master" ? pin : pin + 8;
      cause = this.#emit(
        hasIrr ? "irr.set" : "irr.clear",
        `IRQ${irq} (${c.role} IR${pin}) ${(c.elcr & bit) ? "level" : "edge"} irr=${hex(c.irr)}`,
      );
    }
    // KVM's notion of coalescing: only an assertion that would set IRR (any
    // level-mode assert, or a rising edge) and finds it already set.
    const asserting = level === 1 && ((c.elcr & bit) !== 0 || !was);
    return { newRequest: !(asserting && hadIrr), cause };
  }

  /**
   * Recomputes the cascade and INTR; call after anything that may change a
   * winner. As KVM's `pic_update_irq`, a slave with a request pulses master
   * IR2 (high, then low) on every update: the master latches a fresh edge
   * each time and keeps no level, so a GSI 2 raise on top of a slave
   * request finds IRR bit 2 set and is coalesced, and an external level on
   * IR2 is forgotten by the next pulse.
   */
  #update(): void {
    let cause = 0;
    if (this.#s.winner() >= 0) {
      cause = this.#drive(this.#m, CASCADE_PIN, 1).cause;
      this.#drive(this.#m, CASCADE_PIN, 0);
    }
    this.#host.trace.open(cause);
    const out = this.#m.winner() >= 0;
    if (out !== this.#intr) {
      this.#intr = out;
      if (this.#host.trace.enabled) {
        const w = this.#m.winner();
        this.#emit("intr", out ? `INTR 1 (master IR${w})` : "INTR 0");
      }
      this.#host.onIntr?.(out);
    }
    this.#host.trace.close(cause);
  }

  /** One chip's part of the INTA cycle for IR `irq`. */
  #intack(c: ChipState, irq: number): void {
    const bit = 1 << irq;
    // A level request stays in IRR for as long as the line is high.
    if (!(c.elcr & bit)) c.irr &= ~bit;
    if (c.aeoi) {
      if (c.rotateInAeoi) {
        c.priorityBase = (irq + 1) & 7;
        if (this.#host.trace.enabled) {
          this.#emit("rotate", `${c.role} AEOI rotation: IR${c.priorityBase} now highest`);
        }
      }
      // KVM sets the ISR bit and clears it at once through pic_clear_isr.
      this.#acked(c, irq);
    } else {
      c.isr |= bit;
    }
  }

  #pollRead(c: ChipState): number {
    const trace = this.#host.trace;
    const irq = c.winner();
    let result: number;
    let id = 0;
    if (this.poll === "architectural") {
      // Poll turns the read into this chip's INTA; the other chip is not
      // involved (no cascade addressing happens on a read).
      if (irq >= 0) {
        this.#intack(c, irq);
        result = 0x80 | irq;
      } else {
        result = 0;
      }
    } else {
      // Pre-2023 KVM: bare level, 7 when idle; the request and any in-service
      // bit of that level are dropped rather than moved to ISR, and a slave
      // poll also drops the master's cascade request and in-service bit.
      if (irq >= 0) {
        c.irr &= ~(1 << irq);
        c.isr &= ~(1 << irq);
        if (c.role === "slave") {
          this.#m.irr &= ~CASCADE_BIT;
          this.#m.isr &= ~CASCADE_BIT;
          // KVM re-pulses IR2 on its next update if the slave still requests.
        }
        result = irq;
      } else {
        result = 7;
      }
    }
    if (trace.enabled) {
      id = this.#emit(
        "poll",
        `${c.role} poll (${this.poll}) -> ${hex(result)} irr=${hex(c.irr)} isr=${hex(c.isr)}`,
      );
    }
    trace.open(id);
    this.#update();
    trace.close(id);
    return result;
  }

  // --- command decode ------------------------------------------------------

  #writeCommand(c: ChipState, v: number): void {
    if (v & 0x10) this.#icw1(c, v);
    else if (v & 0x08) this.#ocw3(c, v);
    else this.#ocw2(c, v);
  }

  #icw1(c: ChipState, v: number): void {
    c.ic4 = (v & 0x01) !== 0;
    c.single = (v & 0x02) !== 0;
    // ICW1 LTIM (bit 3) is ignored, as by KVM and QEMU: on a PC the ELCR
    // decides the trigger mode per pin. ADI (bit 2) only matters in 8080 mode.
    //
    // Datasheet ICW1 effects: the edge sense is reset, so an input that is
    // already high must go low and high again (its latched edge is dropped
    // here, and `lines` still records it high); level requests are the line
    // itself and stay.
    const edgeIrr = c.irr & ~c.elcr;
    c.irr &= c.elcr;
    c.imr = 0;
    c.priorityBase = 0;
    c.specialMask = false;
    c.readIsr = false;
    // ICW4 features default to off unless an ICW4 is coming to set them.
    if (!c.ic4) {
      c.aeoi = false;
      c.sfnm = false;
    }
    // ISR, the rotate-in-AEOI flag and a pending poll are left alone: the
    // datasheet lists no ICW1 effect on them, and KVM's reset keeps them too
    // (QEMU clears them).
    c.expecting = 2;
    const id = this.#host.trace.enabled
      ? this.#emit("icw1", `${c.role} ICW1 ${hex(v)} imr=0x00 irr=${hex(c.irr)} isr=${hex(c.isr)}`)
      : 0;
    this.#host.trace.open(id);
    // KVM's kvm_pic_reset then runs pic_clear_isr on each IR whose edge
    // request it dropped, if a vCPU takes INTR: that IR's ISR bit goes (set
    // or not) and its ack notifiers run, so a resampling irqfd on the pin
    // de-asserts and signals its resamplefd. QEMU and the datasheet do
    // neither.
    if (edgeIrr !== 0 && this.#host.acceptsIntr?.()) {
      for (let irq = 0; irq < 8; irq++) {
        if ((edgeIrr & (1 << irq)) === 0) continue;
        c.isr &= ~(1 << irq);
        if (this.#host.trace.enabled) {
          this.#emit("icw1.ack", `${c.role} IR${irq}: edge request dropped, acked`);
        }
        this.#acked(c, irq);
      }
    }
    this.#update();
    this.#host.trace.close(id);
  }

  #writeData(c: ChipState, v: number): void {
    switch (c.expecting) {
      case 2:
        c.vectorBase = v & 0xf8;
        c.expecting = c.single ? (c.ic4 ? 4 : 0) : 3;
        if (this.#host.trace.enabled) {
          this.#emit("icw2", `${c.role} ICW2 vector base ${hex(c.vectorBase)}`);
        }
        return;
      case 3:
        // ICW3 names the cascade wiring, which is fixed on a PC; KVM and QEMU
        // accept and ignore it the same way.
        c.expecting = c.ic4 ? 4 : 0;
        if (this.#host.trace.enabled) this.#emit("icw3", `${c.role} ICW3 ${hex(v)} (ignored)`);
        return;
      case 4:
        // µPM (bit 0), M/S and BUF are irrelevant to an x86 guest.
        c.aeoi = (v & 0x02) !== 0;
        c.sfnm = (v & 0x10) !== 0;
        c.expecting = 0;
        if (this.#host.trace.enabled) {
          this.#emit("icw4", `${c.role} ICW4 ${hex(v)} aeoi=${+c.aeoi} sfnm=${+c.sfnm}`);
        }
        return;
      default: {
        c.imr = v;
        const id = this.#host.trace.enabled ? this.#emit("imr", `${c.role} IMR ${hex(v)}`) : 0;
        this.#host.trace.open(id);
        this.#update();
        this.#host.trace.close(id);
      }
    }
  }

  #ocw2(c: ChipState, v: number): void {
    const trace = this.#host.trace;
    const level = v & 7;
    let id = 0;
    switch (v >> 5) {
      case 0b001: // non-specific EOI
      case 0b101: { // rotate on non-specific EOI
        const irq = c.highest(c.isr);
        if (irq < 0) {
          if (trace.enabled) this.#emit("eoi", `${c.role} non-specific EOI, ISR empty`);
          return;
        }
        c.isr &= ~(1 << irq);
        this.#acked(c, irq);
        if (v >> 5 === 0b101) c.priorityBase = (irq + 1) & 7;
        if (trace.enabled) {
          id = this.#emit(
            v >> 5 === 0b101 ? "rotate" : "eoi",
            `${c.role} ${v >> 5 === 0b101 ? "rotate on " : ""}non-specific EOI IR${irq}` +
              ` isr=${hex(c.isr)} highest=IR${c.priorityBase}`,
          );
        }
        break;
      }
      case 0b011: // specific EOI
      case 0b111: // rotate on specific EOI
        c.isr &= ~(1 << level);
        this.#acked(c, level);
        if (v >> 5 === 0b111) c.priorityBase = (level + 1) & 7;
        if (trace.enabled) {
          id = this.#emit(
            v >> 5 === 0b111 ? "rotate" : "eoi",
            `${c.role} ${v >> 5 === 0b111 ? "rotate on " : ""}specific EOI IR${level}` +
              ` isr=${hex(c.isr)} highest=IR${c.priorityBase}`,
          );
        }
        break;
      case 0b110: // set priority: the named level becomes the lowest
        c.priorityBase = (level + 1) & 7;
        if (trace.enabled) {
          id = this.#emit("rotate", `${c.role} set priority: IR${level} lowest`);
        }
        break;
      case 0b100:
      case 0b000:
        c.rotateInAeoi = v >> 5 === 0b100;
        if (trace.enabled) this.#emit("ocw2", `${c.role} rotate in AEOI ${+c.rotateInAeoi}`);
        return;
      default: // 0b010: no operation
        return;
    }
    trace.open(id);
    this.#update();
    trace.close(id);
  }

  #ocw3(c: ChipState, v: number): void {
    // Each field applies only when its enable bit is set (MAME PR #15580
    // fixed a model that applied them unconditionally).
    if (v & 0x02) c.readIsr = (v & 0x01) !== 0;
    if (v & 0x40) c.specialMask = (v & 0x20) !== 0;
    if (v & 0x04) c.pollPending = true;
    const id = this.#host.trace.enabled
      ? this.#emit(
        "ocw3",
        `${c.role} OCW3 ${hex(v)} read=${c.readIsr ? "ISR" : "IRR"} smm=${+c.specialMask}` +
          (c.pollPending ? " poll" : ""),
      )
      : 0;
    // Leaving special mask mode can unblock or block requests.
    this.#host.trace.open(id);
    this.#update();
    this.#host.trace.close(id);
  }

  #writeElcr(c: ChipState, v: number): void {
    // Architectural: bits outside the chipset's mask stay 0 and the write
    // replaces the register. (crosvm's pic_write_elcr stores `value & !old`
    // and ignores the mask, so overlapping rewrites lose bits and IRQ0-2 can
    // be made level; see fact sheet 13.11.)
    c.elcr = v & c.elcrMask;
    // A pin switched to level now has IRR equal to its line.
    c.irr = (c.irr & ~c.elcr) | (c.lines & c.elcr);
    const id = this.#host.trace.enabled
      ? this.#emit("elcr", `${c.role} ELCR ${hex(c.elcr)} irr=${hex(c.irr)}`)
      : 0;
    this.#host.trace.open(id);
    this.#update();
    this.#host.trace.close(id);
  }

  /** `pic_clear_isr`'s ack notification, with the pin numbered across both chips. */
  #acked(c: ChipState, irq: number): void {
    this.#host.ack?.(c === this.#m ? irq : irq + 8);
  }

  // --- KVM_GET/SET_IRQCHIP ---------------------------------------------------

  /**
   * Chip `chip`'s state (0 master, 1 slave) as KVM_GET_IRQCHIP reports it.
   * `init_state` counts the initialisation words still expected after ICW1
   * the way KVM does (1 ICW2, 2 ICW3, 3 ICW4, 0 none).
   *
   * @example
   * ```ts
   * declare const pic: I8259Pair;
   * pic.kvmState(0).imr; // the master's IMR
   * ```
   */
  kvmState(chip: 0 | 1): KvmPicState {
    const c = chip === 0 ? this.#m : this.#s;
    return {
      last_irr: c.lines,
      irr: c.irr,
      imr: c.imr,
      isr: c.isr,
      priority_add: c.priorityBase,
      irq_base: c.vectorBase,
      read_reg_select: +c.readIsr,
      poll: +c.pollPending,
      special_mask: +c.specialMask,
      init_state: c.expecting === 0 ? 0 : c.expecting - 1,
      auto_eoi: +c.aeoi,
      rotate_on_auto_eoi: +c.rotateInAeoi,
      special_fully_nested_mode: +c.sfnm,
      init4: +c.ic4,
      elcr: c.elcr,
      elcr_mask: c.elcrMask,
    };
  }

  /**
   * KVM_SET_IRQCHIP of chip `chip` (`kvm_vm_ioctl_set_irqchip`): every field
   * is copied in as given, unchecked, then `kvm_pic_update_irq` recomputes
   * INTR. Byte fields keep their low 8 bits; a flag is its value != 0, as
   * KVM's C tests them; `init_state` beyond 3 and `priority_add` beyond 7
   * are refused, since KVM would index past its own logic with them.
   *
   * @example
   * ```ts
   * declare const pic: I8259Pair;
   * pic.setKvmState(0, { ...pic.kvmState(0), imr: 0xfe });
   * ```
   */
  setKvmState(chip: 0 | 1, s: KvmPicState): void {
    if (s.init_state > 3 || s.priority_add > 7) {
      throw new RangeError(
        `kvm_pic_state: init_state ${s.init_state} (0..3) / priority_add ${s.priority_add} (0..7)`,
      );
    }
    this.#version.bump();
    const c = chip === 0 ? this.#m : this.#s;
    c.lines = s.last_irr & 0xff;
    c.irr = s.irr & 0xff;
    c.imr = s.imr & 0xff;
    c.isr = s.isr & 0xff;
    c.priorityBase = s.priority_add;
    c.vectorBase = s.irq_base & 0xff;
    c.readIsr = (s.read_reg_select & 0xff) !== 0;
    c.pollPending = (s.poll & 0xff) !== 0;
    c.specialMask = (s.special_mask & 0xff) !== 0;
    c.expecting = s.init_state === 0 ? 0 : (s.init_state + 1) as 2 | 3 | 4;
    c.aeoi = (s.auto_eoi & 0xff) !== 0;
    c.rotateInAeoi = (s.rotate_on_auto_eoi & 0xff) !== 0;
    c.sfnm = (s.special_fully_nested_mode & 0xff) !== 0;
    c.ic4 = (s.init4 & 0xff) !== 0;
    c.elcr = s.elcr & 0xff;
    c.elcrMask = s.elcr_mask & 0xff;
    const id = this.#host.trace.enabled
      ? this.#emit("set_irqchip", `KVM_SET_IRQCHIP ${c.role}: ${this.#regs()}`)
      : 0;
    this.#host.trace.open(id);
    this.#update();
    this.#host.trace.close(id);
  }

  // --- tracing ---------------------------------------------------------------

  #emit(kind: string, text: string): number {
    return this.#host.trace.emit(this.#host.name, kind, text);
  }

  #regs(): string {
    const m = this.#m, s = this.#s;
    return `master irr=${hex(m.irr)} isr=${hex(m.isr)} slave irr=${hex(s.irr)} isr=${hex(s.isr)}`;
  }
}
