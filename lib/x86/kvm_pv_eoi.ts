/**
 * KVM's paravirtual EOI (KVM_FEATURE_PV_EOI): the guest names a flag in its
 * memory with MSR_KVM_PV_EOI_EN (0x4b564d04: bit 0 enable, bits 63:1 the
 * flag's GPA, 4-byte aligned), or Hyper-V's VP assist page does it for the
 * guest (HV_X64_MSR_VP_ASSIST_PAGE: the flag is bit 0 of `apic_assist`, the
 * page's first u32). When KVM injects a vector into ISR and nothing else is
 * waiting (IRR empty), the vector is the highest in service, and its EOI
 * need not reach the I/O APIC (not in the vCPU's `ioapic_handled_vectors`),
 * KVM sets bit 0 of the flag before entering (KVM_PV_EOI_ENABLED) and
 * notes it (KVM_APIC_PV_EOI_PENDING). The guest's EOI is then a
 * test-and-clear of that bit, no exit; KVM finds the bit clear at the
 * vCPU's next exit and does the EOI then (`apic_set_eoi`). If the bit is
 * still set at an exit, KVM clears it itself and the guest's later EOI is
 * an ordinary one. With APICv or AVIC KVM keeps no highest-ISR cache and
 * never arms the flag.
 *
 * KVM arms at any entry that processes KVM_REQ_EVENT while its cache is
 * valid: the entry that injects the vector, and later ones before its EOI
 * that inject an NMI or an exception KVM queued (#GP, #UD, #MC), or follow
 * a VMM vCPU ioctl that makes KVM_REQ_EVENT (KVM_SET_VCPU_EVENTS,
 * KVM_SET_MP_STATE, KVM_NMI even while NMIs are blocked). KVM_SET_LAPIC
 * empties the cache (`kvm_apic_update_apicv`), so nothing re-arms after it
 * until the next injection. An NMI from another vCPU or LINT1 while NMIs
 * are blocked re-arms here only once taken.
 *
 * Sources: Linux arch/x86/kvm/lapic.c (`kvm_lapic_set_pv_eoi`: the
 * alignment check even when disabling, the gfn_to_hva cache that fails
 * outside the memslots; `pv_eoi_enabled`, `pv_eoi_set_pending`,
 * `pv_eoi_test_and_clr_pending`, `apic_sync_pv_eoi_to_guest`,
 * `apic_sync_pv_eoi_from_guest`, `kvm_lapic_sync_to_vapic`,
 * `kvm_lapic_sync_from_vapic`, `apic_set_isr` / `apic_clear_isr`
 * (`highest_isr_cache`), `kvm_lapic_reset`: msr_val and apic_attention
 * 0), x86.c (`kvm_set_msr_common` / `kvm_get_msr_common`
 * MSR_KVM_PV_EOI_EN, `vcpu_enter_guest`), hyperv.c (`kvm_hv_set_msr`
 * HV_X64_MSR_VP_ASSIST_PAGE), include/uapi/asm/kvm_para.h (MSR_KVM_PV_EOI_EN,
 * KVM_PV_EOI_BIT, KVM_MSR_ENABLED); the guest side: Linux
 * arch/x86/kernel/kvm.c `kvm_guest_apic_eoi_write`, arch/x86/hyperv/hv_apic.c
 * `hv_apic_eoi_write`.
 *
 * @module
 */
import type { GuestMemory } from "../core/guest_memory.ts";
import type { StateHash } from "../core/platform.ts";

/** MSR_KVM_PV_EOI_EN. */
export const MSR_KVM_PV_EOI_EN = 0x4b56_4d04;
/** KVM_MSR_ENABLED: bit 0 of MSR_KVM_PV_EOI_EN. */
export const KVM_MSR_ENABLED = 1n;
/** KVM_PV_EOI_ENABLED (bit KVM_PV_EOI_BIT 0 of the flag byte): the EOI needs no exit. */
export const KVM_PV_EOI_ENABLED = 1;
/** The flag MSR_KVM_PV_EOI_EN names is one byte (`sizeof(u8)`). */
const PV_EOI_FLAG_BYTES = 1;

/** What the PV EOI state reaches outside itself. */
export interface PvEoiHost {
  /** Guest RAM (allocated on first use). */
  mem(): GuestMemory;
  /** Guest RAM's size, without allocating it. */
  memorySize(): number;
  /** KVM has a highest-ISR cache: no APICv / AVIC (`apic->apicv_active` false). */
  cachesHighestIsr: boolean;
  /** `kvm_ioapic_handles_vector`: the vector is in the vCPU's `ioapic_handled_vectors`. */
  ioapicHandles(vector: number): boolean;
  /** Records what happened, or nothing. */
  emit?(kind: string, detail: string): void;
}

/**
 * One vCPU's PV EOI state (`vcpu->arch.pv_eoi`, KVM_APIC_PV_EOI_PENDING).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * const mem = new GuestMemory(0x10000);
 * const pv = new KvmPvEoi({
 *   mem: () => mem,
 *   memorySize: () => mem.size,
 *   cachesHighestIsr: true,
 *   ioapicHandles: () => false,
 * });
 * pv.setMsr(0x3001n, 1); // true: enabled, the flag at 0x3000
 * pv.armAtEntry(0x41, false); // IRR empty: the flag's bit 0 is set
 * ```
 */
export class KvmPvEoi {
  /** MSR_KVM_PV_EOI_EN as KVM holds it (`pv_eoi.msr_val`). */
  msrVal = 0n;
  /** KVM_APIC_PV_EOI_PENDING: KVM set the guest's flag at the last entry. */
  pending = false;
  /**
   * KVM's `highest_isr_cache` as far as PV EOI reads it: the vector the
   * last injection put in ISR (-1 none). It stands while that vector is
   * still in ISR: any EOI since (`apic_clear_isr`) empties the cache, and
   * the vector then left ISR, as only the highest ISR bit is EOI'd.
   */
  isrCache = -1;
  readonly #host: PvEoiHost;

  /** The PV EOI state of a vCPU whose surroundings are `host`. */
  constructor(host: PvEoiHost) {
    this.#host = host;
  }

  /** Guest RAM, where the flag is. */
  memory(): GuestMemory {
    return this.#host.mem();
  }

  /** Guest RAM's size in bytes, without allocating it. */
  memorySize(): number {
    return this.#host.memorySize();
  }

  /** `pv_eoi_enabled`: MSR bit 0. */
  get enabled(): boolean {
    return (this.msrVal & KVM_MSR_ENABLED) !== 0n;
  }

  /** The flag's GPA. */
  get address(): number {
    return Number(this.msrVal & ~KVM_MSR_ENABLED);
  }

  /**
   * `kvm_lapic_set_pv_eoi(data, len)`: false where KVM fails the write (a
   * #GP for the guest): an address not 4-byte aligned (even when
   * disabling), or an enabled range `len` bytes long that leaves guest RAM.
   * `len` is 1 for MSR_KVM_PV_EOI_EN, the page for the VP assist page.
   */
  setMsr(data: bigint, len: number = PV_EOI_FLAG_BYTES): boolean {
    const addr = data & ~KVM_MSR_ENABLED;
    if ((addr & 3n) !== 0n) return false;
    if ((data & KVM_MSR_ENABLED) !== 0n && addr + BigInt(len) > BigInt(this.#host.memorySize())) {
      return false;
    }
    this.msrVal = data;
    return true;
  }

  /**
   * `apic_sync_pv_eoi_to_guest` at the entry that injected `vector` into
   * ISR (so it is KVM's highest-ISR cache): with PV EOI enabled, IRR empty
   * (`irrPending` false) and the vector not one the I/O APIC must hear,
   * sets the flag's bit 0 and the pending note. Returns whether it did.
   */
  armAtEntry(vector: number, irrPending: boolean): boolean {
    const h = this.#host;
    if (!this.enabled || irrPending || !h.cachesHighestIsr || h.ioapicHandles(vector)) return false;
    h.mem().write(this.address, 8, BigInt(KVM_PV_EOI_ENABLED));
    this.pending = true;
    h.emit?.("pv_eoi.armed", `0x${vector.toString(16)}: PV EOI flag set, its EOI needs no exit`);
    return true;
  }

  /**
   * `apic_sync_pv_eoi_to_guest` at a later entry that has KVM_REQ_EVENT
   * (an NMI or an exception KVM injects while the guest is in a handler):
   * with `isrCache` still in ISR (`isrHas`) KVM arms the flag again for
   * it, under {@link KvmPvEoi.armAtEntry}'s conditions.
   */
  rearm(isrHas: (vector: number) => boolean, irrPending: boolean): boolean {
    if (this.pending || this.isrCache < 0 || !isrHas(this.isrCache)) return false;
    return this.armAtEntry(this.isrCache, irrPending);
  }

  /**
   * `apic_sync_pv_eoi_from_guest` at an exit with the pending note:
   * true when the guest cleared the flag (it did the EOI: the caller now
   * runs `apic_set_eoi`); false when the flag was still set, which KVM
   * clears. The note goes either way.
   */
  syncAtExit(): boolean {
    const h = this.#host, mem = h.mem();
    const set = (mem.byte(this.address) & KVM_PV_EOI_ENABLED) !== 0;
    if (set) mem.write(this.address, 8, 0n);
    this.pending = false;
    h.emit?.(
      "pv_eoi.exit",
      set ? "PV EOI flag still set at the exit: cleared, no EOI" : "the guest's PV EOI: EOI now",
    );
    return !set;
  }

  /** `kvm_lapic_reset` (creation and INIT): msr_val 0, the note gone. */
  reset(): void {
    this.msrVal = 0n;
    this.pending = false;
    this.isrCache = -1;
  }

  /** Feeds `h` the state. */
  hashFields(h: StateHash): void {
    h.big(this.msrVal);
    h.bool(this.pending);
    h.n(this.isrCache);
  }
}
