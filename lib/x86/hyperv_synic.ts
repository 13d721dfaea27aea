/**
 * Hyper-V's synthetic interrupt controller (SynIC) as KVM emulates it, as
 * far as interrupt delivery sees it: the sixteen SINTx MSRs and the one
 * auto-EOI a KVM local APIC has. A SINT whose AutoEOI bit is set makes
 * every interrupt of its vector, whatever sent it, skip ISR when the vCPU
 * takes it (`kvm_apic_ack_interrupt` -> `kvm_hv_synic_auto_eoi_set`): no
 * EOI is expected, none reaches the I/O APIC, and PPR never rises.
 *
 * The SynIC exists once the VMM enabled KVM_CAP_HYPERV_SYNIC (or SYNIC2) on
 * the vCPU (`kvm_hv_activate_synic`, which masks every SINT); until then
 * the guest's SynIC MSR accesses #GP (`synic_set_msr`, `synic_get_msr`).
 * Messages, event flags, SCONTROL and the synthetic timers are not
 * modelled: their MSRs #GP here like any unknown MSR.
 *
 * Sources: Linux arch/x86/kvm/hyperv.c (`synic_set_sint`: a vector below
 * HV_SYNIC_FIRST_VALID_VECTOR (16) unmasked is #GP for the guest;
 * `synic_update_vector`, `synic_has_vector_auto_eoi`: a masked SINT names
 * no vector; `kvm_hv_activate_synic`), arch/x86/kvm/lapic.c
 * (`kvm_apic_ack_interrupt`), include/hyperv/hvgdk_mini.h
 * (HV_X64_MSR_SINT0 0x40000090, HV_SYNIC_SINT_MASKED bit 16,
 * HV_SYNIC_SINT_AUTO_EOI bit 17, HV_SYNIC_SINT_VECTOR_MASK 0xff).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { clearVector, setVector } from "../core/vector_set.ts";

/** HV_X64_MSR_SINT0: SINTx is at this plus x. */
export const HV_X64_MSR_SINT0 = 0x4000_0090;
/** The SINTs: HV_SYNIC_SINT_COUNT. */
export const HV_SYNIC_SINT_COUNT = 16;
/** HV_SYNIC_FIRST_VALID_VECTOR: an unmasked SINT needs a vector at or above it. */
export const HV_SYNIC_FIRST_VALID_VECTOR = 16;

/**
 * The fields of a SINTx MSR (hvgdk_mini.h `union hv_synic_sint`).
 *
 * @example
 * ```ts
 * SINT.AutoEoi | 0xb0; // vector 0xb0, unmasked, auto-EOI
 * ```
 */
export const SINT = {
  VectorMask: 0xff,
  Masked: 1 << 16,
  AutoEoi: 1 << 17,
  Polling: 1 << 18,
} as const;

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
  /** `synic->active`: KVM_CAP_HYPERV_SYNIC was enabled on the vCPU. */
  active = false;
  /** SINT0..15 as the guest wrote them (masked at activation). */
  readonly sint: bigint[] = new Array<bigint>(HV_SYNIC_SINT_COUNT).fill(0n);
  /**
   * `synic->auto_eoi_bitmap`: the vectors of unmasked AutoEOI SINTs, as the
   * LAPIC's 8 x 32-bit vector words (the LAPIC reads this array).
   */
  readonly autoEoi: Uint32Array = new Uint32Array(8);

  /** Feeds `h` the SynIC's state, for `scn explore`. */
  hashFields(h: StateHash): void {
    h.bool(this.active);
    for (const v of this.sint) h.big(v);
    h.words(this.autoEoi);
  }

  /** `kvm_hv_activate_synic`: the SynIC exists, every SINT masked. */
  activate(): void {
    this.active = true;
    for (let i = 0; i < HV_SYNIC_SINT_COUNT; i++) this.sint[i] = BigInt(SINT.Masked);
    this.autoEoi.fill(0);
  }

  /** Whether `msr` is one of the SINTs. */
  static isSint(msr: number): boolean {
    return msr >= HV_X64_MSR_SINT0 && msr < HV_X64_MSR_SINT0 + HV_SYNIC_SINT_COUNT;
  }

  /** A guest RDMSR of SINTx: the value, or why KVM injects #GP. */
  rdmsr(msr: number): bigint | string {
    if (!this.active) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    return this.sint[msr - HV_X64_MSR_SINT0];
  }

  /** A guest WRMSR of SINTx (`synic_set_sint`): null, or why KVM injects #GP. */
  wrmsr(msr: number, value: bigint): string | null {
    if (!this.active) return "SynIC not activated (KVM_CAP_HYPERV_SYNIC)";
    const v = Number(value & 0xffn), masked = (value & BigInt(SINT.Masked)) !== 0n;
    if (v < HV_SYNIC_FIRST_VALID_VECTOR && !masked) {
      return `SINT vector ${v} is below ${HV_SYNIC_FIRST_VALID_VECTOR}`;
    }
    const i = msr - HV_X64_MSR_SINT0;
    const old = Number(this.sint[i] & 0xffn);
    this.sint[i] = value;
    this.#update(old);
    this.#update(v);
    return null;
  }

  /** `synic_update_vector`: whether an unmasked AutoEOI SINT names `vector` now. */
  #update(vector: number): void {
    if (vector < HV_SYNIC_FIRST_VALID_VECTOR) return;
    let auto = false;
    for (const s of this.sint) {
      const unmasked = (s & BigInt(SINT.Masked)) === 0n;
      if (unmasked && Number(s & 0xffn) === vector && (s & BigInt(SINT.AutoEoi)) !== 0n) {
        auto = true;
      }
    }
    if (auto) setVector(this.autoEoi, vector);
    else clearVector(this.autoEoi, vector);
  }
}
