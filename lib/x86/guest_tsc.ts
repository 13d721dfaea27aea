/**
 * A vCPU's TSC frequency as KVM_SET_TSC_KHZ sets it, on a host whose TSC
 * runs at the model's 1 GHz ({@link HOST_TSC_KHZ}) with Intel VMX's TSC
 * scaling (`tsc_scaling_ratio_frac_bits` 48).
 *
 * KVM keeps two numbers (Linux arch/x86/kvm/x86.c `kvm_set_tsc_khz`,
 * `set_tsc_khz`): `virtual_tsc_khz`, what the VMM asked for, which
 * KVM_GET_TSC_KHZ, HV_X64_MSR_TSC_FREQUENCY and the TSC-deadline timer's
 * conversion (lapic.c `start_sw_tscdeadline`) read; and the scaling ratio
 * the CPU applies, `mul_u64_u32_div(1 << 48, khz, tsc_khz)`, left at 1.0
 * when the request is within `tsc_tolerance_ppm` (250) of the host's rate
 * (`adjust_tsc_khz`): then the guest's TSC runs at the host's rate while
 * reporting the requested one. The guest reads `(host_tsc * ratio) >> 48`
 * (`kvm_scale_tsc`, `kvm_read_l1_tsc`), from 0 at the VM's creation, where
 * KVM's `kvm_synchronize_tsc` put the offset; KVM_SET_TSC_KHZ later changes
 * the ratio, not the offset, so the TSC jumps. The pvclock parameters
 * (and the Hyper-V reference page's scale) follow the scaled host rate
 * (`kvm_guest_time_update`: `kvm_scale_tsc(tsc_khz)`, `kvm_get_time_scale`).
 *
 * @module
 */
import { EINVAL } from "./errno.ts";

/**
 * The model host's TSC rate in kHz (`tsc_khz`): 1 GHz, so host TSC cycles
 * are the model's nanoseconds.
 *
 * @example
 * ```ts
 * HOST_TSC_KHZ; // 1000000
 * ```
 */
export const HOST_TSC_KHZ = 1_000_000;

/**
 * `tsc_tolerance_ppm`'s default: a requested rate this close to the host's
 * is not scaled.
 *
 * @example
 * ```ts
 * TSC_TOLERANCE_PPM; // 250
 * ```
 */
export const TSC_TOLERANCE_PPM = 250;

/**
 * `kvm_caps.tsc_scaling_ratio_frac_bits` on Intel VMX: the ratio is a
 * 16.48 fixed-point number.
 *
 * @example
 * ```ts
 * TSC_RATIO_FRAC_BITS; // 48
 * ```
 */
export const TSC_RATIO_FRAC_BITS = 48;

/**
 * `kvm_caps.max_guest_tsc_khz` with VMX's ratio limit: `min(0x7fffffff,
 * scaled maximum)`, the scaled maximum being far above it; KVM_SET_TSC_KHZ
 * of this or more is -EINVAL.
 *
 * @example
 * ```ts
 * MAX_GUEST_TSC_KHZ; // 0x7fffffff
 * ```
 */
export const MAX_GUEST_TSC_KHZ = 0x7fff_ffff;

const FRAC = BigInt(TSC_RATIO_FRAC_BITS);
const DEFAULT_RATIO = 1n << FRAC;

/**
 * `adjust_tsc_khz`: `khz` moved by `ppm` parts per million, truncated.
 *
 * @example
 * ```ts
 * adjustTscKhz(1_000_000, -250); // 999750
 * ```
 */
export function adjustTscKhz(khz: number, ppm: number): number {
  return Number((BigInt(khz) * BigInt(1_000_000 + ppm)) / 1_000_000n);
}

/**
 * `kvm_get_time_scale(scaled_hz, base_hz)`: the shift and 32-bit multiplier
 * with which `((ticks << shift) * mul) >> 32` (a negative shift shifts
 * right) turns ticks at `baseHz` into ticks at `scaledHz`.
 *
 * @example
 * ```ts
 * kvmGetTimeScale(1_000_000_000n, 1_000_000_000n); // { shift: 1, mul: 0x80000000 }
 * ```
 */
export function kvmGetTimeScale(scaledHz: bigint, baseHz: bigint): { shift: number; mul: number } {
  const HIGH = 0xffff_ffff_0000_0000n;
  let scaled = scaledHz, base = baseHz, shift = 0;
  while (base > scaled * 2n || (base & HIGH) !== 0n) {
    base >>= 1n;
    shift--;
  }
  let base32 = base & 0xffff_ffffn;
  while (base32 <= scaled || (scaled & HIGH) !== 0n) {
    if ((scaled & HIGH) !== 0n || (base32 & 0x8000_0000n) !== 0n) scaled >>= 1n;
    else base32 = (base32 << 1n) & 0xffff_ffffn;
    shift++;
  }
  // div_frac: (dividend << 32) / divisor, 32 bits kept.
  const mul = Number(((scaled << 32n) / base32) & 0xffff_ffffn);
  return { shift, mul };
}

/**
 * One vCPU's TSC rate (`virtual_tsc_khz`) and scaling ratio.
 *
 * @example
 * ```ts
 * const tsc = new GuestTsc();
 * tsc.set(2_000_000); // 0: the guest's TSC now runs at 2 GHz
 * tsc.read(1000);     // 2000n
 * ```
 */
export class GuestTsc {
  /** `virtual_tsc_khz`. */
  #khz = HOST_TSC_KHZ;
  /** `tsc_scaling_ratio`, a 16.48 fixed-point number. */
  #ratio = DEFAULT_RATIO;

  /** `virtual_tsc_khz`: the rate the VMM set (KVM_GET_TSC_KHZ). */
  get khz(): number {
    return this.#khz;
  }

  /** The ratio the CPU scales the host TSC by, as a 16.48 fixed-point number. */
  get ratio(): bigint {
    return this.#ratio;
  }

  /** Whether the rate and ratio are still the host's (nothing to save or hash). */
  get isDefault(): boolean {
    return this.#khz === HOST_TSC_KHZ && this.#ratio === DEFAULT_RATIO;
  }

  /**
   * KVM_SET_TSC_KHZ (`kvm_arch_vcpu_ioctl`, `kvm_set_tsc_khz`,
   * `set_tsc_khz`): -EINVAL at or above {@link MAX_GUEST_TSC_KHZ}; 0 means
   * the host's rate; within the tolerance the ratio stays 1.0. Returns 0.
   *
   * @example
   * ```ts
   * declare const tsc: GuestTsc;
   * tsc.set(1_000_100); // 0: reported as asked, run at the host's rate
   * ```
   */
  set(userKhz: number): number {
    if (userKhz >= MAX_GUEST_TSC_KHZ) return -EINVAL;
    const khz = userKhz === 0 ? HOST_TSC_KHZ : userKhz;
    this.#khz = khz;
    const lo = adjustTscKhz(HOST_TSC_KHZ, -TSC_TOLERANCE_PPM);
    const hi = adjustTscKhz(HOST_TSC_KHZ, TSC_TOLERANCE_PPM);
    this.#ratio = khz < lo || khz > hi
      ? (DEFAULT_RATIO * BigInt(khz)) / BigInt(HOST_TSC_KHZ)
      : DEFAULT_RATIO;
    return 0;
  }

  /** Puts a saved rate and ratio back (`scn explore`'s restore). */
  restore(khz: number, ratio: bigint): void {
    this.#khz = khz;
    this.#ratio = ratio;
  }

  /**
   * The guest's TSC at host time `ns` (`kvm_read_l1_tsc`: the host TSC,
   * the model's ns, scaled; the offset 0 from creation).
   *
   * @example
   * ```ts
   * declare const tsc: GuestTsc;
   * tsc.read(5000); // 5000n at the host's rate
   * ```
   */
  read(ns: number): bigint {
    const host = BigInt(Math.floor(ns));
    return this.#ratio === DEFAULT_RATIO ? host : (host * this.#ratio) >> FRAC;
  }

  /**
   * The first host ns at which {@link GuestTsc.read} is at least `tsc`:
   * when a TSC deadline is reached.
   *
   * @example
   * ```ts
   * declare const tsc: GuestTsc;
   * tsc.nsWhenReaches(2000n); // 1000n at 2 GHz
   * ```
   */
  nsWhenReaches(tsc: bigint): bigint {
    if (this.#ratio === DEFAULT_RATIO) return tsc;
    // ceil((tsc << 48) / ratio): the smallest host count whose scaled value reaches tsc.
    return ((tsc << FRAC) + this.#ratio - 1n) / this.#ratio;
  }

  /**
   * The rate `kvm_guest_time_update` builds the pvclock parameters from:
   * the host's `tsc_khz` scaled by the ratio (`kvm_scale_tsc`).
   *
   * @example
   * ```ts
   * declare const tsc: GuestTsc;
   * tsc.pvclockKhz(); // 1000000 unscaled
   * ```
   */
  pvclockKhz(): number {
    return Number((BigInt(HOST_TSC_KHZ) * this.#ratio) >> FRAC);
  }

  /**
   * `kvm_get_time_scale(NSEC_PER_SEC, pvclock rate)`: the pvclock's
   * `tsc_shift` and `tsc_to_system_mul`.
   *
   * @example
   * ```ts
   * declare const tsc: GuestTsc;
   * tsc.pvclockScale(); // { shift: 1, mul: 0x80000000 } at 1 GHz
   * ```
   */
  pvclockScale(): { shift: number; mul: number } {
    return kvmGetTimeScale(1_000_000_000n, BigInt(this.pvclockKhz()) * 1000n);
  }
}
