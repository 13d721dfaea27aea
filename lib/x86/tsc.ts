/**
 * A KVM vCPU's TSC as the guest and the VMM see it: IA32_TSC (0x10) and
 * IA32_TSC_ADJUST (0x3b). The model's host TSC is its virtual time in ns
 * (1 GHz, so a TSC cycle is a ns); a vCPU's TSC reads the host's, scaled at
 * the vCPU's rate (`kvm_scale_tsc`, guest_tsc.ts), plus the vCPU's offset
 * (KVM's `l1_tsc_offset`), mod 2^64. The guest's CPUID has
 * TSC_ADJUST (CPUID.(EAX=7,ECX=0):EBX[1]), as KVM_GET_SUPPORTED_CPUID offers
 * it and the VMMs (and the selftests' `vm_create_with_one_vcpu`) set it.
 *
 * KVM's rules (KVM_X86_QUIRK_TSC_HOST_ACCESS on, its default):
 * - a guest WRMSR of IA32_TSC moves the offset so that the TSC reads the
 *   value, and adds the same step to IA32_TSC_ADJUST (SDM: "writes to the
 *   TSC ... the same change to IA32_TSC_ADJUST");
 * - a guest WRMSR of IA32_TSC_ADJUST moves the offset by the change of the
 *   register and sets it;
 * - the VMM's KVM_SET_MSRS of IA32_TSC synchronizes the TSC
 *   (`kvm_synchronize_tsc`): a write of 0, or (once the VMM has written a
 *   TSC) a value within one second's cycles of where the last write would
 *   have got to by now, takes the VM's current offset (a stable host TSC:
 *   every vCPU of the generation reads the same TSC); any other value sets
 *   the offset so that the TSC reads it, and starts a generation. The
 *   adjust register does not move;
 * - the VMM's KVM_SET_MSRS of IA32_TSC_ADJUST sets the register only, the
 *   TSC does not move;
 * - the VMM's KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET)
 *   sets the offset itself (`kvm_arch_tsc_set_attr`): it matches the
 *   current generation when it equals the last offset set, and
 *   KVM_GET_DEVICE_ATTR reads it back;
 * - reads, the guest's and the VMM's, give the TSC and the register.
 *
 * A TSC-deadline write compares with the vCPU's TSC, offset included; a
 * deadline armed before the offset moves keeps its expiry in host time
 * (KVM converts the deadline when it is written, `start_sw_tscdeadline`).
 *
 * Sources: Linux arch/x86/kvm/x86.c (`kvm_set_msr_common` and
 * `kvm_get_msr_common` for MSR_IA32_TSC and MSR_IA32_TSC_ADJUST,
 * `adjust_tsc_offset_guest`, `kvm_compute_l1_tsc_offset`,
 * `kvm_synchronize_tsc`, `__kvm_synchronize_tsc`, `kvm_arch_tsc_has_attr`,
 * `kvm_arch_tsc_get_attr`, `kvm_arch_tsc_set_attr`,
 * `kvm_arch_vcpu_postcreate`), arch/x86/include/asm/msr-index.h; Intel SDM
 * vol. 3B "Time-Stamp Counter Adjustment".
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";
import { IA32_TSC_MSR } from "./lapic_registers.ts";

/** IA32_TSC_ADJUST (SDM "Time-Stamp Counter Adjustment"; msr-index.h MSR_IA32_TSC_ADJUST). */
export const IA32_TSC_ADJUST_MSR = 0x3b;

/**
 * KVM_VCPU_TSC_OFFSET (arch/x86/include/uapi/asm/kvm.h): the one attribute
 * of a vCPU's KVM_VCPU_TSC_CTRL group (0) the model has; KVM_VCPU_TSC_SCALE
 * (1, with TSC scaling) is not.
 */
export const KVM_VCPU_TSC_OFFSET = 0;

/** KVM_VCPU_TSC_CTRL: the vCPU device-attribute group of the TSC (kvm.h). */
export const KVM_VCPU_TSC_CTRL = 0;

/**
 * The MSRs' and attributes' names for scenarios (`msr=IA32_TSC_ADJUST`).
 *
 * @example
 * ```ts
 * TSC_CONSTANTS.IA32_TSC_ADJUST; // 0x3b
 * ```
 */
export const TSC_CONSTANTS: Readonly<Record<string, number>> = {
  IA32_TSC: IA32_TSC_MSR,
  IA32_TSC_ADJUST: IA32_TSC_ADJUST_MSR,
  KVM_VCPU_TSC_CTRL,
  KVM_VCPU_TSC_OFFSET,
};

/**
 * Cycles per second of the model's host TSC (1 GHz): `kvm_synchronize_tsc`'s
 * window, `virtual_tsc_khz * 1000`, at the host's rate.
 */
export const TSC_HZ = 1_000_000_000n;

const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/**
 * One vCPU's TSC offset and IA32_TSC_ADJUST.
 *
 * @example
 * ```ts
 * const t = new KvmTsc();
 * t.guestWriteTsc(100n, 4096n); // the scaled host TSC reads 100
 * t.read(100n); // 4096n
 * t.adjust;     // 3996n: the step the write made
 * ```
 */
export class KvmTsc {
  /** `l1_tsc_offset`: the TSC reads the scaled host TSC plus it, mod 2^64. */
  offset = 0n;
  /** `ia32_tsc_adjust_msr`. */
  adjust = 0n;

  /** The TSC the guest reads when the scaled host TSC reads `scaled` (`kvm_read_l1_tsc`). */
  read(scaled: bigint): bigint {
    return u64(scaled + this.offset);
  }

  /** A guest WRMSR of IA32_TSC: the TSC reads `value`, IA32_TSC_ADJUST takes the same step. */
  guestWriteTsc(scaled: bigint, value: bigint): void {
    const step = u64(u64(value - scaled) - this.offset);
    this.offset = u64(this.offset + step);
    this.adjust = u64(this.adjust + step);
  }

  /** A guest WRMSR of IA32_TSC_ADJUST: the TSC moves by the register's change. */
  guestWriteAdjust(value: bigint): void {
    this.offset = u64(this.offset + u64(value - this.adjust));
    this.adjust = u64(value);
  }

  /** Neither register moved since the vCPU was made. */
  get untouched(): boolean {
    return this.offset === 0n && this.adjust === 0n;
  }

  /** Feeds `h` both registers, for `scn explore`. */
  hashInto(h: StateHash): void {
    h.big(this.offset);
    h.big(this.adjust);
  }
}

/**
 * The VM's TSC synchronization state (`kvm->arch.last_tsc_write`,
 * `last_tsc_nsec`, `user_set_tsc`, `cur_tsc_offset`), which the VMM's
 * IA32_TSC writes read and set. At creation every vCPU synchronized at
 * TSC 0, host time 0.
 *
 * @example
 * ```ts
 * const sync = new KvmTscSync(), t = new KvmTsc();
 * sync.hostWriteTsc(t, 50n, 50, 1_000_000, 5_000_000_000n); // far from the course: a new offset
 * t.read(50n); // 5000000000n
 * ```
 */
export class KvmTscSync {
  /** `last_tsc_write`: the value of the last synchronization. */
  lastWrite = 0n;
  /** `last_tsc_nsec`: the host time of it, ns. */
  lastNsec = 0;
  /** `user_set_tsc`: the VMM has written a TSC. */
  userSet = false;
  /** `last_tsc_khz`: the rate of the vCPU that synchronized last (at creation, the VM's). */
  lastKhz = 1_000_000;
  #createdKhz = 1_000_000;

  /** The vCPUs were made at `khz` (`kvm_arch_vcpu_postcreate` synchronized each at TSC 0). */
  created(khz: number): void {
    this.#createdKhz = khz;
    this.lastKhz = khz;
  }
  /** `cur_tsc_offset`: the offset of the current generation. */
  curOffset = 0n;
  /** `last_tsc_offset`: the offset the last synchronization set. */
  lastOffset = 0n;

  /**
   * The VMM's KVM_SET_MSRS of `vcpu`'s IA32_TSC (`kvm_synchronize_tsc` on a
   * stable host TSC) when the scaled host TSC reads `scaled` at host time
   * `now` (ns) and the vCPU runs at `khz` (`virtual_tsc_khz`; the elapsed
   * cycles are ns × kHz / 10^6, where KVM's fixed-point product may differ
   * by a cycle). Returns whether it matched the current generation.
   */
  hostWriteTsc(vcpu: KvmTsc, scaled: bigint, now: number, khz: number, value: bigint): boolean {
    const data = u64(value);
    let synchronizing = false;
    if (data === 0n) synchronizing = true;
    else if (this.userSet) {
      const elapsed = BigInt(Math.max(0, Math.floor(now - this.lastNsec)));
      const expected = u64(this.lastWrite + elapsed * BigInt(khz) / 1_000_000n);
      const hz = BigInt(khz) * 1000n;
      synchronizing = data < u64(expected + hz) && u64(data + hz) > expected;
    }
    this.userSet = true;
    const matched = synchronizing && khz === this.lastKhz;
    const offset = matched ? this.curOffset : u64(data - scaled);
    this.#synchronize(vcpu, now, khz, data, offset, matched);
    return matched;
  }

  /**
   * The VMM's KVM_SET_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET)
   * of `vcpu` (`kvm_arch_tsc_set_attr`), as {@link hostWriteTsc} takes its
   * arguments. Returns whether it matched the current generation (the
   * same rate and the last offset set).
   */
  setOffset(vcpu: KvmTsc, scaled: bigint, now: number, khz: number, offset: bigint): boolean {
    const o = u64(offset);
    const matched = khz === this.lastKhz && o === this.lastOffset;
    this.userSet = true;
    this.#synchronize(vcpu, now, khz, u64(scaled + o), o, matched);
    return matched;
  }

  /** `__kvm_synchronize_tsc`. */
  #synchronize(
    vcpu: KvmTsc,
    now: number,
    khz: number,
    tsc: bigint,
    offset: bigint,
    matched: boolean,
  ): void {
    this.lastNsec = now;
    this.lastKhz = khz;
    this.lastWrite = tsc;
    this.lastOffset = offset;
    if (!matched) this.curOffset = offset;
    vcpu.offset = offset;
  }

  /** Nothing written since the VM was made. */
  get untouched(): boolean {
    return !this.userSet;
  }

  /** Feeds `h` the state, for `scn explore`. */
  hashInto(h: StateHash): void {
    h.big(this.lastWrite);
    h.num(this.lastNsec);
    h.bool(this.userSet);
    h.big(this.curOffset);
    h.big(this.lastOffset);
    h.n(this.lastKhz);
  }

  /** Back to the state at the VM's creation. */
  reset(): void {
    this.lastWrite = 0n;
    this.lastNsec = 0;
    this.userSet = false;
    this.curOffset = 0n;
    this.lastOffset = 0n;
    this.lastKhz = this.#createdKhz;
  }

  /** Saves the state and returns a function that puts it back. */
  snapshot(): () => void {
    const { lastWrite, lastNsec, userSet, curOffset, lastOffset, lastKhz } = this;
    return () => {
      this.lastKhz = lastKhz;
      this.lastWrite = lastWrite;
      this.lastNsec = lastNsec;
      this.userSet = userSet;
      this.curOffset = curOffset;
      this.lastOffset = lastOffset;
    };
  }
}
