/**
 * Hyper-V's synthetic timers as KVM emulates them: four per vCPU
 * (HV_SYNIC_STIMER_COUNT), each a CONFIG and a COUNT MSR, counting in the
 * partition reference time (100 ns units: KVM's kvmclock / 100 while no
 * reference TSC page is set up, `get_time_ref_counter`). A one-shot timer
 * expires when the reference time reaches COUNT (at once if it already
 * has); a periodic one every COUNT units from its start. On expiry a timer
 * in message mode writes an HVMSG_TIMER_EXPIRED message into its SINT's
 * slot of the SynIC message page and raises the SINT; one in direct mode
 * (config bit 12) sends its own APIC vector to the LAPIC instead.
 *
 * A message that finds its slot busy sets the slot's msg_pending and waits:
 * a one-shot timer stays enabled with `msg_pending` until the guest acks
 * the SINT (EOM, or the EOI of the SINT's vector), then delivers; a
 * periodic one drops that tick ("lazy" lost ticks, `no_retry`) and goes on.
 *
 * KVM services an expired timer at the vCPU's next entry
 * (KVM_REQ_HV_STIMER, `kvm_hv_process_stimers`); the model services it at
 * the moment it is raised, the same virtual time: a guest cannot tell,
 * since the entry comes before any instruction it could run.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`stimer_set_config`,
 * `stimer_set_count`, `stimer_start`, `stimer_mark_pending`,
 * `stimer_cleanup`, `stimer_expiration`, `stimer_send_msg`,
 * `stimer_notify_direct`, `kvm_hv_process_stimers`, `stimer_prepare_msg`,
 * `get_time_ref_counter`), include/hyperv/hvgdk_mini.h (`union
 * hv_stimer_config`, `struct hv_timer_message_payload`,
 * HV_X64_MSR_STIMER0_CONFIG 0x400000b0).
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import type { StateHash } from "../core/platform.ts";
import type { TimerHandle } from "./lapic_timer.ts";
import { type HvMessage, HVMSG_TIMER_EXPIRED } from "./hyperv_synic.ts";
import { getField, indexFields } from "../core/bitfield.ts";
import { STIMER_CONFIG_FIELDS } from "./hyperv_abi.ts";
export { HV_SYNIC_STIMER_COUNT, isStimerMsr, STIMER_CONFIG_FIELDS } from "./hyperv_abi.ts";

const F = indexFields(STIMER_CONFIG_FIELDS);

/**
 * STIMERn_CONFIG's masks and shifts, from {@link STIMER_CONFIG_FIELDS}.
 *
 * @example
 * ```ts
 * STIMER_CONFIG.Enable | STIMER_CONFIG.Periodic | (2 << STIMER_CONFIG.SintxShift); // periodic, SINT2
 * ```
 */
export const STIMER_CONFIG: {
  readonly Enable: number;
  readonly Periodic: number;
  readonly AutoEnable: number;
  readonly DirectMode: number;
  readonly ApicVectorShift: number;
  readonly SintxShift: number;
} = {
  Enable: 1 << F.enable.lsb,
  Periodic: 1 << F.periodic.lsb,
  AutoEnable: 1 << F.auto_enable.lsb,
  DirectMode: 1 << F.direct_mode.lsb,
  ApicVectorShift: F.apic_vector.lsb,
  SintxShift: F.sintx.lsb,
};

/** Bytes of `struct hv_timer_message_payload`: timer_index u32, reserved u32, expiration_time u64, delivery_time u64. */
export const HV_TIMER_PAYLOAD_BYTES = 24;

/** What a vCPU's timers reach outside themselves. */
export interface HvStimerHost {
  /** The partition reference time, in 100 ns units (`get_time_ref_counter`). */
  refTime(): bigint;
  /** Virtual time in ns. */
  nowNs(): number;
  /** Calls `fire` at virtual time `atNs`. */
  schedule(atNs: number, fire: () => void): TimerHandle;
  /** `synic_deliver_msg` on the vCPU's SynIC. */
  deliverMessage(sint: number, msg: HvMessage, noRetry: boolean): number;
  /** `kvm_apic_set_irq` of a fixed `vector` to the vCPU's LAPIC: whether it was accepted. */
  interrupt(vector: number): boolean;
  /** Whether KVM_CAP_HYPERV_SYNIC was enabled (a guest may not arm a timer otherwise). */
  synicActive(): boolean;
  /** Records what happened, or nothing. */
  emit?(kind: string, detail: string): void;
  /**
   * Whether {@link HvStimerHost.emit} records anything now (a trace is
   * on): the detail is built only then. Absent: whenever there is an `emit`.
   */
  tracing?(): boolean;
}

/** One synthetic timer (`struct kvm_vcpu_hv_stimer`). */
export class HvStimer {
  #config = 0n;
  /**
   * {@link config}'s low 32 bits, which hold every field the model reads
   * (`sintx` ends at bit 19): kept by its setter, so that an expiry tests
   * bits with no bigint built.
   */
  #bits = 0;
  /** STIMERn_COUNT. */
  count = 0n;
  /** `exp_time`: the reference time of the next expiry, 0 when none. */
  expTime = 0n;
  /** `msg_pending`: the last expiry is not delivered yet. */
  msgPending = false;
  #handle: TimerHandle | null = null;
  readonly #host: HvStimerHost;
  readonly #onFire = (): void => {
    this.#handle = null;
    if (this.#tracing()) this.#host.emit!("stimer.fire", `stimer${this.index} expired`);
    this.process();
  };
  /**
   * The message an expiry sends, built once and written afresh each time:
   * `synic_deliver_msg` copies the payload into the slot and keeps nothing.
   */
  readonly #payload = arenaU8(HV_TIMER_PAYLOAD_BYTES);
  readonly #view = new DataView(
    this.#payload.buffer,
    this.#payload.byteOffset,
    HV_TIMER_PAYLOAD_BYTES,
  );
  readonly #message: HvMessage = { type: HVMSG_TIMER_EXPIRED, payload: this.#payload };

  /** Timer `index` of a vCPU. */
  constructor(readonly index: number, host: HvStimerHost) {
    this.#host = host;
  }

  /** Feeds `h` the timer's state. */
  hashFields(h: StateHash): void {
    h.n(this.index);
    h.big(this.config);
    h.big(this.count);
    h.big(this.expTime);
    h.bool(this.msgPending);
  }

  /** STIMERn_CONFIG. */
  get config(): bigint {
    return this.#config;
  }

  set config(value: bigint) {
    this.#config = value;
    this.#bits = Number(BigInt.asUintN(32, value));
  }

  /** Whether a CONFIG bit (below bit 32) is set. */
  #has(bit: number): boolean {
    return (this.#bits & bit) !== 0;
  }

  #set(bit: number, on: boolean): void {
    this.config = on ? this.#config | BigInt(bit) : this.#config & ~BigInt(bit);
  }

  /** Whether the host's `emit` records anything now. */
  #tracing(): boolean {
    const h = this.#host;
    return h.emit !== undefined && (h.tracing === undefined || h.tracing());
  }

  /** `sintx`. */
  get sint(): number {
    return getField(F.sintx, this.#bits);
  }

  /** `stimer_cleanup`: no expiry scheduled, nothing pending. */
  #cleanup(): void {
    if (this.#handle !== null) this.#handle.cancelled = true;
    this.#handle = null;
    this.msgPending = false;
    this.expTime = 0n;
  }

  /**
   * A guest WRMSR of CONFIG (`stimer_set_config`): null, or why KVM injects
   * #GP. Without an active SynIC every guest write #GPs, 0 too (only the
   * VMM may write 0 then).
   */
  setConfig(value: bigint): string | null {
    if (!this.#host.synicActive()) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    const old = this.config;
    this.#cleanup();
    let v = value;
    // A message-mode timer that was enabled and now names SINT0 stops.
    if (
      getField(F.enable, old) === 1 && getField(F.direct_mode, v) === 0 &&
      getField(F.sintx, v) === 0
    ) {
      v &= ~BigInt(STIMER_CONFIG.Enable);
    }
    this.config = v;
    if (this.#has(STIMER_CONFIG.Enable)) this.process();
    return null;
  }

  /** A guest WRMSR of COUNT (`stimer_set_count`): null, or why KVM injects #GP (as for CONFIG). */
  setCount(value: bigint): string | null {
    if (!this.#host.synicActive()) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    this.#cleanup();
    this.count = value;
    if (this.count === 0n) this.#set(STIMER_CONFIG.Enable, false);
    else if (this.#has(STIMER_CONFIG.AutoEnable)) this.#set(STIMER_CONFIG.Enable, true);
    if (this.#has(STIMER_CONFIG.Enable)) this.process();
    return null;
  }

  /**
   * `kvm_hv_process_stimers` for this timer (it was marked pending): expire
   * it if its time has come, then start it again or clean it up.
   */
  process(): void {
    if (!this.#has(STIMER_CONFIG.Enable)) return;
    if (this.expTime !== 0n && this.#host.refTime() >= this.expTime) this.#expire();
    if (this.#has(STIMER_CONFIG.Enable) && this.count !== 0n) {
      if (!this.msgPending) this.#start();
    } else {
      this.#cleanup();
    }
  }

  /** `stimer_start`: the next expiry, scheduled (or marked at once for a one-shot in the past). */
  #start(): void {
    const now = this.#host.refTime();
    if (this.#has(STIMER_CONFIG.Periodic)) {
      if (this.expTime === 0n) this.expTime = now + this.count;
      else if (now >= this.expTime) {
        this.expTime = now + (this.count - (now - this.expTime) % this.count);
      }
    } else {
      this.expTime = this.count;
      if (now >= this.count) {
        // TLFS: a one-shot whose count is in the past expires immediately.
        this.process();
        return;
      }
    }
    if (this.#handle !== null) this.#handle.cancelled = true;
    const at = this.#host.nowNs() + Number(this.expTime - now) * 100;
    this.#handle = this.#host.schedule(at, this.#onFire);
  }

  /** `stimer_expiration`. */
  #expire(): void {
    this.msgPending = true;
    let r: number;
    if (!this.#has(STIMER_CONFIG.DirectMode)) {
      // stimer_send_msg: periodic ticks are not retried. The reserved word stays 0.
      const view = this.#view;
      view.setUint32(0, this.index, true);
      view.setBigUint64(8, this.expTime, true);
      view.setBigUint64(16, this.#host.refTime(), true);
      r = this.#host.deliverMessage(
        this.sint,
        this.#message,
        this.#has(STIMER_CONFIG.Periodic),
      );
    } else {
      const vector = getField(F.apic_vector, this.#bits);
      r = this.#host.interrupt(vector) ? 0 : 1;
    }
    if (this.#tracing()) this.#host.emit!("stimer.expire", `stimer${this.index} -> ${r}`);
    if (r === 0) {
      this.msgPending = false;
      if (!this.#has(STIMER_CONFIG.Periodic)) this.#set(STIMER_CONFIG.Enable, false);
    }
  }

  /** `kvm_hv_notify_acked_sint`: a message waiting on `sint` retries. */
  acked(sint: number): void {
    if (
      this.msgPending && this.#has(STIMER_CONFIG.Enable) &&
      !this.#has(STIMER_CONFIG.DirectMode) && this.sint === sint
    ) {
      this.process();
    }
  }
}
