/**
 * KVM's kvmclock of one vCPU: MSR_KVM_SYSTEM_TIME_NEW (0x4b564d01) holds
 * the guest-physical address of a `struct pvclock_vcpu_time_info` with bit
 * 0 the enable bit, and KVM keeps that record current (`kvm_guest_time_update`,
 * `kvm_setup_guest_pvclock`) so that the guest reads the VM's kvmclock as
 * `system_time + (((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32)`
 * (`__pvclock_read_cycles`).
 *
 * KVM takes any value (`kvm_write_system_time`: no reserved bits, no #GP),
 * the guest's write or the VMM's KVM_SET_MSRS, and reads give it back; a
 * write asks every vCPU for a clock update (KVM_REQ_GLOBAL_CLOCK_UPDATE),
 * as KVM_SET_CLOCK does. An update bumps `version` to odd, writes the
 * record and bumps it to even; an address outside guest RAM is not written
 * (KVM's cache activation fails quietly). The model's record is taken at
 * the update, at once (KVM updates at the vCPU's next entry, and requests
 * made while it is out come to one update): `tsc_timestamp` the vCPU's TSC
 * then, `system_time` the VM's kvmclock then (KVM with its master clock
 * takes both at the clock's last snapshot: the time the guest computes is
 * the same, up to the scale's rounding), the scale of the vCPU's TSC rate
 * (`kvm_get_time_scale`: shift 1, multiplier 2^31 at the host's 1 GHz) and
 * `flags` PVCLOCK_TSC_STABLE_BIT
 * with the master clock (`vm { kvm_master_clock 1 }`).
 *
 * The legacy MSR_KVM_SYSTEM_TIME (0x12, KVM_FEATURE_CLOCKSOURCE) is the
 * same register (`vcpu->arch.time`: either MSR reads what either wrote)
 * with the same record; what differs is vCPU 0's guest write
 * (`kvm_write_system_time` with `old_msr`, not host-initiated): it records
 * whether the boot vCPU runs the old kvmclock
 * (`ka->boot_vcpu_runs_old_kvmclock`), and a change asks for a master
 * clock update. While it does, KVM keeps no master clock
 * (`pvclock_update_vm_gtod_copy`: `use_master_clock` needs it false), so
 * the records lose PVCLOCK_TSC_STABLE_BIT and KVM_GET_CLOCK its flags,
 * until vCPU 0 writes MSR_KVM_SYSTEM_TIME_NEW again. The VMM's
 * KVM_SET_MSRS of either leaves that flag alone.
 *
 * Not modelled: a TSC change while the kvmclock is on (KVM updates the
 * record at some of them only); PVCLOCK_GUEST_STOPPED_BIT
 * (KVM_KVMCLOCK_CTRL); the old kvmclock turning the master clock off in a
 * VM with Hyper-V's reference TSC page. Those are input errors.
 *
 * Sources: Linux arch/x86/kvm/x86.c (`kvm_set_msr_common` /
 * `kvm_get_msr_common` for MSR_KVM_SYSTEM_TIME_NEW, `kvm_write_system_time`,
 * `kvm_guest_time_update`, `kvm_setup_guest_pvclock`, `kvm_get_time_scale`,
 * `kvm_vm_ioctl_set_clock` -> `kvm_end_pvclock_update`),
 * `pvclock_update_vm_gtod_copy`), arch/x86/include/uapi/asm/kvm_para.h
 * (MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_SYSTEM_TIME),
 * arch/x86/include/asm/pvclock-abi.h (`struct pvclock_vcpu_time_info`).
 *
 * @module
 */
import type { GuestMemory } from "../core/guest_memory.ts";
import type { StateHash } from "../core/platform.ts";
import { PVCLOCK_TSC_STABLE_BIT } from "../xen/abi.ts";

/** MSR_KVM_SYSTEM_TIME_NEW (kvm_para.h). */
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;

/** MSR_KVM_SYSTEM_TIME (kvm_para.h): the legacy kvmclock MSR. */
export const MSR_KVM_SYSTEM_TIME = 0x12;

/**
 * `struct pvclock_vcpu_time_info` (pvclock-abi.h): each field's byte
 * offset and width in bits; 32 bytes in all.
 *
 * @example
 * ```ts
 * PVCLOCK_VCPU_TIME_INFO.system_time.offset; // 16
 * ```
 */
export const PVCLOCK_VCPU_TIME_INFO = {
  version: { offset: 0, bits: 32 },
  tsc_timestamp: { offset: 8, bits: 64 },
  system_time: { offset: 16, bits: 64 },
  tsc_to_system_mul: { offset: 24, bits: 32 },
  tsc_shift: { offset: 28, bits: 8 },
  flags: { offset: 29, bits: 8 },
} as const;

/** `sizeof(struct pvclock_vcpu_time_info)`. */
export const PVCLOCK_VCPU_TIME_INFO_SIZE = 32;

/** What a vCPU's kvmclock reads from its VM and vCPU. */
export interface KvmClockHost {
  /** Guest memory (made on first use). */
  mem(): GuestMemory;
  /** Bytes of guest RAM. */
  memorySize(): number;
  /** The VM's kvmclock now, ns. */
  kvmclockNs(): number;
  /** The vCPU's TSC now. */
  tsc(): bigint;
  /** The pvclock scale of the vCPU's TSC rate (`kvm_get_time_scale`, guest_tsc.ts). */
  scale(): { shift: number; mul: number };
  /** KVM keeps its master clock: the record's flags carry PVCLOCK_TSC_STABLE_BIT. */
  stable(): boolean;
  /** Traces a line. */
  emit(text: string): void;
  /** KVM_REQ_GLOBAL_CLOCK_UPDATE: every vCPU's clock update. */
  updateAll(): void;
  /**
   * The guest wrote the MSR (`legacy`: MSR_KVM_SYSTEM_TIME): on vCPU 0,
   * whether the boot vCPU runs the old kvmclock.
   */
  guestWrote?(legacy: boolean): void;
}

/**
 * One vCPU's MSR_KVM_SYSTEM_TIME_NEW and the record it points at.
 *
 * @example
 * ```ts
 * declare const clock: KvmClock;
 * clock.write(0x5000n | 1n); // on: the record at 0x5000 is written
 * clock.enabled;             // true
 * ```
 */
export class KvmClock {
  readonly #host: KvmClockHost;
  /** `vcpu->arch.time`: the MSR's value. */
  msrVal = 0n;

  /** A vCPU's kvmclock, off. */
  constructor(host: KvmClockHost) {
    this.#host = host;
  }

  /** Bit 0 of the MSR: KVM keeps the record. */
  get enabled(): boolean {
    return (this.msrVal & 1n) !== 0n;
  }

  /**
   * A write of MSR_KVM_SYSTEM_TIME_NEW or (`legacy`) MSR_KVM_SYSTEM_TIME,
   * the guest's (`guest`) or the VMM's (`kvm_write_system_time`): the
   * guest's tells vCPU 0's choice of MSR to the VM; then every vCPU's clock
   * is updated.
   */
  write(value: bigint, legacy = false, guest = false): void {
    if (guest) this.#host.guestWrote?.(legacy);
    this.msrVal = BigInt.asUintN(64, value);
    this.#host.updateAll();
  }

  /**
   * The clock update (`kvm_guest_time_update`): rewrites the record if the
   * kvmclock is on and the record lies in guest RAM. Returns whether it wrote.
   */
  update(): boolean {
    if (!this.enabled) return false;
    const h = this.#host;
    const gpa = this.msrVal & ~1n;
    if (gpa + BigInt(PVCLOCK_VCPU_TIME_INFO_SIZE) > BigInt(h.memorySize())) return false;
    const at = Number(gpa), mem = h.mem(), F = PVCLOCK_VCPU_TIME_INFO;
    const version = Number(mem.read(at + F.version.offset, 32));
    const odd = ((version + 1) | 1) >>> 0;
    const tsc = h.tsc(), ns = BigInt(Math.floor(h.kvmclockNs()));
    const flags = h.stable() ? PVCLOCK_TSC_STABLE_BIT : 0;
    mem.write(at + F.version.offset, 32, odd);
    mem.write(at + F.tsc_timestamp.offset, 64, tsc);
    mem.write(at + F.system_time.offset, 64, BigInt.asUintN(64, ns));
    const { shift, mul } = h.scale();
    mem.write(at + F.tsc_to_system_mul.offset, 32, mul);
    mem.write(at + F.tsc_shift.offset, 8, shift & 0xff);
    mem.write(at + F.flags.offset, 8, flags);
    mem.write(at + F.version.offset, 32, (odd + 1) >>> 0);
    h.emit(
      `kvmclock record at 0x${at.toString(16)}: version ${odd + 1}, tsc_timestamp ${tsc}, ` +
        `system_time ${ns}, flags ${flags}`,
    );
    return true;
  }

  /** Feeds `h` the MSR, for `scn explore`. */
  hashInto(h: StateHash): void {
    h.big(this.msrVal);
  }
}
