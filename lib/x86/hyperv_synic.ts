/**
 * Hyper-V's synthetic interrupt controller (SynIC) as KVM emulates it for
 * one vCPU: SCONTROL, SVERSION, SIEFP, SIMP, EOM and the sixteen SINTx
 * MSRs; the message page (one 256-byte `struct hv_message` slot per SINT)
 * and the event flags page (one 256-byte bitmap per SINT), both in guest
 * RAM where the guest and `mem read` see them; the SINT interrupt itself
 * (`synic_set_irq`: a fixed, edge interrupt of the SINT's vector to the
 * vCPU's own LAPIC); the ack path (an EOI of a SINT's vector, or a write of
 * EOM, retries pending timer messages and tells the GSI routed to that
 * SINT, whose resampling irqfd hears it); and the one auto-EOI a KVM LAPIC
 * has (`kvm_apic_ack_interrupt` -> `kvm_hv_synic_auto_eoi_set`: a vector
 * of an unmasked AutoEOI SINT skips ISR, whoever sent it).
 *
 * KVM writes into the message page only for its synthetic timers
 * ({@link ./hyperv_stimer.ts}, `synic_deliver_msg`): messages of
 * HVCALL_POST_MESSAGE and the flags of HVCALL_SIGNAL_EVENT are the VMM's
 * to write (QEMU's `hyperv_post_msg`, `hyperv_set_event_flag`), through its
 * mapping of guest RAM, before it raises the SINT through a
 * KVM_IRQ_ROUTING_HV_SINT route. KVM does not read the event flags page
 * at all; it only keeps SIEFP.
 *
 * Which KVM_ENABLE_CAP made the SynIC is a scenario choice (`hyperv_synic
 * 1` or `2`): KVM_CAP_HYPERV_SYNIC zeroes the page a guest write to SIMP
 * or SIEFP enables; KVM_CAP_HYPERV_SYNIC2 (`dont_zero_synic_pages`) leaves
 * it as it is. Either way a guest write to SCONTROL, SIEFP or SIMP exits to
 * userspace (KVM_EXIT_HYPERV_SYNIC, `synic_exit`) once KVM is done with it;
 * the model records that exit in `vcpuN.exit` and the vCPU goes on.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`synic_set_msr`, `synic_get_msr`,
 * `synic_set_sint`, `synic_update_vector`, `synic_set_irq`,
 * `kvm_hv_synic_set_irq`, `kvm_hv_synic_send_eoi`,
 * `kvm_hv_notify_acked_sint`, `kvm_hv_set_sint_gsi`,
 * `kvm_hv_irq_routing_update`, `synic_init`, `kvm_hv_activate_synic`,
 * `synic_deliver_msg`, `synic_exit`), arch/x86/kvm/lapic.c
 * (`kvm_apic_ack_interrupt`, `apic_set_eoi`), include/hyperv/hvgdk_mini.h
 * (MSR numbers, `union hv_synic_sint`, HV_SYNIC_SIMP_ENABLE,
 * `struct hv_message_header`, HV_MESSAGE_SIZE 256, HVMSG_NONE), QEMU
 * hw/hyperv/hyperv.c (the VMM side of messages and events).
 *
 * @module
 */
import { arenaU32 } from "../core/arena.ts";
import type { StateHash } from "../core/platform.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import { clearVector, setVector, testVector } from "../core/vector_set.ts";
import { getField, indexFields } from "../core/bitfield.ts";
import {
  HV_MSR,
  HV_PAGE_SIZE,
  HV_SYNIC_SINT_COUNT,
  isSintMsr,
  isSynicMsr,
  SINT_FIELDS,
} from "./hyperv_abi.ts";
export {
  HV_MSR,
  HV_PAGE_SIZE,
  HV_SYNIC_SINT_COUNT,
  HVMSG_TIMER_EXPIRED,
  SINT_FIELDS,
  SYNIC_PAGE_FIELDS,
} from "./hyperv_abi.ts";

/** HV_X64_MSR_SINT0: SINTx is at this plus x. */
export const HV_X64_MSR_SINT0: number = HV_MSR.SINT0;
/** HV_SYNIC_FIRST_VALID_VECTOR: an unmasked SINT needs a vector at or above it. */
export const HV_SYNIC_FIRST_VALID_VECTOR = 16;
/** HV_SYNIC_VERSION_1: what SVERSION reads (`synic_init`). */
export const HV_SYNIC_VERSION_1 = 1n;
/** Bit 0 of SCONTROL, SIMP and SIEFP: HV_SYNIC_CONTROL_ENABLE, HV_SYNIC_SIMP_ENABLE, HV_SYNIC_SIEFP_ENABLE. */
export const HV_SYNIC_ENABLE = 1n;

const SINT_F = indexFields(SINT_FIELDS);

/**
 * SINTx's masks, from {@link SINT_FIELDS}.
 *
 * @example
 * ```ts
 * SINT.AutoEoi | 0xb0; // vector 0xb0, unmasked, auto-EOI
 * ```
 */
export const SINT: { readonly Masked: number; readonly AutoEoi: number } = {
  Masked: 1 << SINT_F.masked.lsb,
  AutoEoi: 1 << SINT_F.auto_eoi.lsb,
};

/**
 * The layout of a message slot (`struct hv_message`, HV_MESSAGE_SIZE
 * bytes; slot x of the SIMP page is SINTx's): byte offsets of its header
 * fields and the payload.
 *
 * @example
 * ```ts
 * HV_MESSAGE.Size * 2 + HV_MESSAGE.Flags; // SINT2's message_flags byte in the page
 * ```
 */
export const HV_MESSAGE = {
  /** HV_MESSAGE_SIZE: one slot. */
  Size: 256,
  /** `header.message_type`, u32 (HVMSG_NONE 0: the slot is free). */
  Type: 0,
  /** `header.payload_size`, u8. */
  PayloadSize: 4,
  /** `header.message_flags`, u8: bit 0 msg_pending. */
  Flags: 5,
  /** `header.sender` / `port`, u64. */
  Sender: 8,
  /** `u.payload`: HV_MESSAGE_PAYLOAD_BYTE_COUNT (240) bytes. */
  Payload: 16,
  /** `message_flags.msg_pending`. */
  MsgPending: 1,
} as const;

/** HVMSG_NONE: an empty slot. */
export const HVMSG_NONE = 0;
/** Bytes of one SINT's event flags (HV_EVENT_FLAGS_COUNT / 8): slot x of the SIEFP page is SINTx's. */
export const HV_EVENT_FLAGS_BYTES = 256;

/** What a message to deliver is: its header fields and payload bytes. */
export interface HvMessage {
  /** `header.message_type`. */
  type: number;
  /** The payload (`header.payload_size` is its length, at most 240). */
  payload: Uint8Array;
}

/** What the SynIC reaches outside itself. */
export interface HvSynicHost {
  /** The VM's guest RAM. */
  mem(): GuestMemory;
  /**
   * A fixed, edge interrupt of `vector` to this vCPU's own LAPIC
   * (`kvm_irq_delivery_to_apic` with APIC_DEST_SELF): 1 accepted, 0 not.
   */
  interrupt(vector: number): number;
  /** `kvm_notify_acked_gsi`: the GSI's ack notifiers (resampling irqfds). */
  ackedGsi(gsi: number): void;
  /** `kvm_hv_notify_acked_sint`'s timer part: timers waiting on `sint` retry. */
  ackedSint(sint: number): void;
  /** KVM_EXIT_HYPERV_SYNIC after a guest write to SCONTROL, SIEFP or SIMP. */
  exit(msr: number, control: bigint, evtPage: bigint, msgPage: bigint): void;
  /** Records what happened, or nothing. */
  emit?(kind: string, detail: string): void;
  /**
   * Whether {@link HvSynicHost.emit} records anything now (a trace is on):
   * the detail is built only then. Absent: whenever there is an `emit`.
   */
  tracing?(): boolean;
}

/**
 * One vCPU's SynIC.
 *
 * @example
 * ```ts
 * const s = new HvSynic();
 * s.activate();
 * s.wrmsr(HV_X64_MSR_SINT0 + 2, BigInt(SINT.AutoEoi | 0xb0)); // null: done
 * s.autoEoi; // 0xb0 is in it
 * ```
 */
export class HvSynic {
  /** `synic->active`: KVM_CAP_HYPERV_SYNIC (or SYNIC2) was enabled on the vCPU. */
  active = false;
  /** `synic->dont_zero_synic_pages`: KVM_CAP_HYPERV_SYNIC2. */
  dontZeroPages = false;
  /** SCONTROL (`synic->control`). */
  control = 0n;
  /** SVERSION (`synic->version`). */
  version: bigint = HV_SYNIC_VERSION_1;
  /** SIEFP (`synic->evt_page`). */
  evtPage = 0n;
  /** SIMP (`synic->msg_page`). */
  msgPage = 0n;
  /** SINT0..15 as the guest wrote them (masked at activation). */
  readonly sint: bigint[] = new Array<bigint>(HV_SYNIC_SINT_COUNT).fill(BigInt(SINT.Masked));
  /** `synic->sint_to_gsi`: the GSI of the last HV_SINT route naming each SINT, or -1. */
  readonly sintToGsi: number[] = new Array<number>(HV_SYNIC_SINT_COUNT).fill(-1);
  /** `synic->vec_bitmap`: the vectors of unmasked SINTs (their EOIs are acks). */
  readonly vectors: Uint32Array = arenaU32(8);
  /**
   * `synic->auto_eoi_bitmap`: the vectors of unmasked AutoEOI SINTs, as the
   * LAPIC's 8 x 32-bit vector words (the LAPIC reads this array).
   */
  readonly autoEoi: Uint32Array = arenaU32(8);
  /**
   * The vector each SINT names, -1 while masked: {@link sint} decoded by
   * {@link HvSynic.activate} and the SINT writes, the only writers of it,
   * so that the EOI of a SINT's vector (`kvm_hv_synic_send_eoi`, at every
   * EOI of one) compares numbers.
   */
  readonly #vectorOf: Int16Array = new Int16Array(HV_SYNIC_SINT_COUNT).fill(-1);
  readonly #host: HvSynicHost | null;

  /** A SynIC of a vCPU whose VM is `host` (none: no memory, no interrupts; for unit tests). */
  constructor(host?: HvSynicHost) {
    this.#host = host ?? null;
  }

  /** Feeds `h` the SynIC's state, for `scn explore`. */
  hashFields(h: StateHash): void {
    h.bool(this.active);
    h.bool(this.dontZeroPages);
    h.big(this.control);
    h.big(this.version);
    h.big(this.evtPage);
    h.big(this.msgPage);
    for (const v of this.sint) h.big(v);
    for (const g of this.sintToGsi) h.n(g);
    h.words(this.vectors);
    h.words(this.autoEoi);
  }

  /**
   * `kvm_hv_activate_synic`: the SynIC exists, SCONTROL enabled, every SINT
   * masked (`synic_init`); `dontZeroPages` for KVM_CAP_HYPERV_SYNIC2.
   */
  activate(dontZeroPages = false): void {
    this.active = true;
    this.dontZeroPages = dontZeroPages;
    this.control = HV_SYNIC_ENABLE;
    for (let i = 0; i < HV_SYNIC_SINT_COUNT; i++) this.sint[i] = BigInt(SINT.Masked);
    this.#vectorOf.fill(-1);
    this.vectors.fill(0);
    this.autoEoi.fill(0);
  }

  /** Whether `msr` is one of the SINTs. */
  static isSint(msr: number): boolean {
    return isSintMsr(msr);
  }

  /** Whether `msr` is a SynIC MSR (SCONTROL..EOM, SINT0..15). */
  static owns(msr: number): boolean {
    return isSynicMsr(msr);
  }

  /** A guest RDMSR (`synic_get_msr`): the value, or why KVM injects #GP. */
  rdmsr(msr: number): bigint | string {
    if (!this.active) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    switch (msr) {
      case HV_MSR.SCONTROL:
        return this.control;
      case HV_MSR.SVERSION:
        return this.version;
      case HV_MSR.SIEFP:
        return this.evtPage;
      case HV_MSR.SIMP:
        return this.msgPage;
      case HV_MSR.EOM:
        return 0n;
    }
    return this.sint[msr - HV_MSR.SINT0];
  }

  /** A guest WRMSR (`synic_set_msr`, not host-initiated): null, or why KVM injects #GP. */
  wrmsr(msr: number, value: bigint): string | null {
    if (!this.active) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    switch (msr) {
      case HV_MSR.SCONTROL:
        this.control = value;
        this.#host?.exit(msr, this.control, this.evtPage, this.msgPage);
        return null;
      case HV_MSR.SVERSION:
        return "SVERSION is read-only to the guest";
      case HV_MSR.SIEFP:
      case HV_MSR.SIMP: {
        const why = this.#clearPage(value);
        if (why !== null) return why;
        if (msr === HV_MSR.SIEFP) this.evtPage = value;
        else this.msgPage = value;
        this.#host?.exit(msr, this.control, this.evtPage, this.msgPage);
        return null;
      }
      case HV_MSR.EOM:
        for (let i = 0; i < HV_SYNIC_SINT_COUNT; i++) this.ackedSint(i);
        return null;
    }
    return this.#setSint(msr - HV_MSR.SINT0, value);
  }

  /** `kvm_clear_guest` of the page a write enables, unless SYNIC2: null, or why it failed. */
  #clearPage(value: bigint): string | null {
    if ((value & HV_SYNIC_ENABLE) === 0n || this.dontZeroPages || this.#host === null) return null;
    const mem = this.#host.mem();
    const base = value & ~BigInt(HV_PAGE_SIZE - 1);
    if (base + BigInt(HV_PAGE_SIZE) > BigInt(mem.size)) {
      return `page 0x${base.toString(16)} is outside guest RAM (kvm_clear_guest fails)`;
    }
    mem.fill(Number(base), HV_PAGE_SIZE, 0);
    this.#host.emit?.("synic.clear", `page 0x${base.toString(16)} zeroed`);
    return null;
  }

  /** `synic_set_sint` (not host-initiated). */
  #setSint(i: number, value: bigint): string | null {
    const v = getField(SINT_F.vector, value), masked = getField(SINT_F.masked, value) === 1;
    if (v < HV_SYNIC_FIRST_VALID_VECTOR && !masked) {
      return `SINT vector ${v} is below ${HV_SYNIC_FIRST_VALID_VECTOR}`;
    }
    const old = getField(SINT_F.vector, this.sint[i]);
    this.sint[i] = value;
    this.#vectorOf[i] = masked ? -1 : v;
    this.#update(old);
    this.#update(v);
    return null;
  }

  /** `synic_update_vector`: whether an unmasked (AutoEOI) SINT names `vector` now. */
  #update(vector: number): void {
    if (vector < HV_SYNIC_FIRST_VALID_VECTOR) return;
    let connected = false, auto = false;
    for (const s of this.sint) {
      if (getField(SINT_F.masked, s) === 1 || getField(SINT_F.vector, s) !== vector) continue;
      connected = true;
      if (getField(SINT_F.auto_eoi, s) === 1) auto = true;
    }
    if (connected) setVector(this.vectors, vector);
    else clearVector(this.vectors, vector);
    if (auto) setVector(this.autoEoi, vector);
    else clearVector(this.autoEoi, vector);
  }

  /** The vector SINTx names, or -1 while it is masked (`synic_get_sint_vector`). */
  sintVector(sint: number): number {
    return this.#vectorOf[sint];
  }

  /** Whether the host's `emit` records anything now. */
  #tracing(): boolean {
    const h = this.#host;
    return h !== null && h.emit !== undefined && (h.tracing === undefined || h.tracing());
  }

  /**
   * `synic_set_irq`: SINTx's vector to the vCPU's own LAPIC. Returns how
   * many LAPICs accepted it (1 or 0), -ENOENT (-2) while the SINT is
   * masked, -EINVAL (-22) for a SINT past 15.
   */
  setIrq(sint: number): number {
    if (!Number.isInteger(sint) || sint < 0 || sint >= HV_SYNIC_SINT_COUNT) return -22;
    const vector = this.sintVector(sint);
    if (vector < 0) {
      if (this.#tracing()) {
        this.#host!.emit!("synic.masked", `SINT${sint} masked: no interrupt (-ENOENT)`);
      }
      return -2;
    }
    const r = this.#host === null ? 0 : this.#host.interrupt(vector);
    if (this.#tracing()) {
      this.#host!.emit!("synic.irq", `SINT${sint} -> vector 0x${vector.toString(16)} (${r})`);
    }
    return r;
  }

  /**
   * `kvm_hv_synic_send_eoi`: the guest EOIed `vector` (`apic_set_eoi`, for
   * a vector in {@link HvSynic.vectors}): every unmasked SINT naming it is acked.
   */
  sendEoi(vector: number): void {
    const vectorOf = this.#vectorOf;
    for (let i = 0; i < HV_SYNIC_SINT_COUNT; i++) {
      if (vectorOf[i] === vector) this.ackedSint(i);
    }
  }

  /**
   * `kvm_hv_notify_acked_sint`: timers whose message waits on this SINT
   * retry, and the GSI routed to it hears the ack.
   */
  ackedSint(sint: number): void {
    const host = this.#host;
    if (host === null) return;
    host.ackedSint(sint);
    const gsi = this.sintToGsi[sint];
    if (gsi !== -1) host.ackedGsi(gsi);
  }

  /**
   * `synic_deliver_msg`: writes `msg` into SINTx's slot of the message page
   * and raises the SINT. Returns 0 delivered; -ENOENT (-2) without an
   * enabled SIMP; -EAGAIN (-11) when the slot is busy (its message_type is
   * not HVMSG_NONE), after setting the slot's msg_pending (with `noRetry`,
   * periodic timers: 0, and nothing written); -EFAULT (-14) when no LAPIC
   * took the interrupt or the page is outside RAM; the SINT's own error.
   * Keeps nothing of `msg` (a timer sends the same object each time).
   */
  deliverMessage(sint: number, msg: HvMessage, noRetry: boolean): number {
    if ((this.msgPage & HV_SYNIC_ENABLE) === 0n || this.#host === null) return -2;
    const mem = this.#host.mem();
    const slot = Number(this.msgPage & ~BigInt(HV_PAGE_SIZE - 1)) + sint * HV_MESSAGE.Size;
    if (!mem.contains(slot, HV_MESSAGE.Size)) return -14;
    if (mem.read(slot + HV_MESSAGE.Type, 32) !== HVMSG_NONE) {
      if (noRetry) return 0;
      mem.write(slot + HV_MESSAGE.Flags, 8, HV_MESSAGE.MsgPending);
      if (this.#tracing()) {
        this.#host.emit!("synic.busy", `SINT${sint} slot busy: msg_pending set (-EAGAIN)`);
      }
      return -11;
    }
    // KVM copies the header (type, size, flags 0, sender 0) and the payload only.
    mem.write(slot + HV_MESSAGE.Type, 32, msg.type);
    mem.write(slot + HV_MESSAGE.PayloadSize, 8, msg.payload.length);
    mem.write(slot + HV_MESSAGE.Flags, 8, 0);
    mem.write(slot + 6, 16, 0);
    mem.write(slot + HV_MESSAGE.Sender, 64, 0n);
    mem.store(slot + HV_MESSAGE.Payload, msg.payload);
    if (this.#tracing()) {
      this.#host.emit!(
        "synic.msg",
        `SINT${sint} message type 0x${msg.type.toString(16)} (${msg.payload.length} bytes)`,
      );
    }
    const r = this.setIrq(sint);
    if (r < 0) return r;
    return r === 0 ? -14 : 0;
  }

  /** Whether the LAPIC's EOI of `vector` is an ack of some SINT (`vec_bitmap`). */
  hasVector(vector: number): boolean {
    return testVector(this.vectors, vector);
  }
}
