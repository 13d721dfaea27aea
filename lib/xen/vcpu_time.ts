/**
 * The `struct vcpu_time_info` record inside each vcpu_info: how a guest
 * turns its TSC into system time (`system_time + ((tsc - tsc_timestamp)
 * << tsc_shift) * tsc_to_system_mul >> 32`).
 *
 * The model's TSC counts virtual nanoseconds from 0 (1 GHz), so the scale
 * is the one both hypervisors compute for 1 GHz: Xen `set_time_scale` and
 * Linux `kvm_get_time_scale` give shift 1 and multiplier 2^31. `flags` is
 * 0 unless the caller says the clock is TSC-stable: Xen sets
 * XEN_PVCLOCK_TSC_STABLE_BIT only with `clocksource=tsc` (not modelled), KVM
 * sets PVCLOCK_TSC_STABLE_BIT only with its master clock (the x86 setting
 * `kvm_master_clock`).
 *
 * Each update is bracketed by version writes, odd while in progress and
 * even after (Xen `version_update_begin`/`_end`, KVM the same), so a
 * completed update adds 2.
 *
 * Sources: Xen `xen/arch/x86/time.c` (`__update_vcpu_system_time`,
 * `force_update_vcpu_system_time`, `set_time_scale`), `xen/common/domain.c`
 * (`map_guest_area` callers); `xen/include/public/xen.h` (`struct
 * vcpu_time_info`); Linux `arch/x86/kvm/x86.c` (`kvm_guest_time_update`,
 * `kvm_setup_guest_pvclock`), `arch/x86/kvm/xen.c` (KVM_REQ_CLOCK_UPDATE
 * after KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO).
 *
 * @module
 */
import type { GuestMemory } from "../core/guest_memory.ts";
import { field, type XenLayout } from "./layout.ts";
import { TSC_SHIFT_1GHZ, TSC_TO_SYSTEM_MUL_1GHZ } from "./abi.ts";
export { PVCLOCK_TSC_STABLE_BIT, TSC_SHIFT_1GHZ, TSC_TO_SYSTEM_MUL_1GHZ } from "./abi.ts";

/** `sizeof(struct vcpu_time_info)` (`xen.h`), in a vcpu_info or standing alone. */
export const VCPU_TIME_INFO_SIZE = 32;

/**
 * Rewrites the time record of the vcpu_info at `addr` for virtual time
 * `nowNs` with `flags`, bumping `version` twice (odd during the update, even after).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * import { layoutFor } from "./layout.ts";
 * declare const mem: GuestMemory;
 * updateVcpuTime(mem, 0x20000, layoutFor(64), 5_000); // time.version 0 -> 2
 * ```
 */
export function updateVcpuTime(
  mem: GuestMemory,
  addr: number,
  layout: XenLayout,
  nowNs: number,
  flags = 0,
): void {
  writeTimeRecord(mem, addr + field(layout.vcpuInfo, "time.version").offset, layout, nowNs, flags);
}

/**
 * Writes a `struct vcpu_time_info` that stands alone at `at` (KVM's
 * KVM_XEN_VCPU_ATTR_TYPE_VCPU_TIME_INFO area, or the one inside a
 * vcpu_info), as {@link updateVcpuTime} describes.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * import { layoutFor } from "./layout.ts";
 * declare const mem: GuestMemory;
 * writeTimeRecord(mem, 0x30000, layoutFor(64), 5_000, 0); // version 0 -> 2 at 0x30000
 * ```
 */
export function writeTimeRecord(
  mem: GuestMemory,
  at: number,
  layout: XenLayout,
  nowNs: number,
  flags: number,
): void {
  const base = field(layout.vcpuInfo, "time.version").offset;
  const f = (name: string) => at + field(layout.vcpuInfo, `time.${name}`).offset - base;
  const version = Number(mem.read(f("version"), 32));
  mem.write(f("version"), 32, (version + 1) | 1);
  mem.write(f("tsc_timestamp"), 64, BigInt(nowNs));
  mem.write(f("system_time"), 64, BigInt(nowNs));
  mem.write(f("tsc_to_system_mul"), 32, TSC_TO_SYSTEM_MUL_1GHZ);
  mem.write(f("tsc_shift"), 8, TSC_SHIFT_1GHZ);
  mem.write(f("flags"), 8, flags);
  mem.write(f("version"), 32, ((version + 1) | 1) + 1);
}
