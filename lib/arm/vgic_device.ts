/**
 * The VMM's side of KVM's vGIC device (KVM_DEV_TYPE_ARM_VGIC_V2 / _V3):
 * where the VMM places the GIC's frames (KVM_DEV_ARM_VGIC_GRP_ADDR, the
 * legacy single redistributor region and the REDIST_REGION API), the
 * NR_IRQS attribute, and what KVM_RUN answers until the vGIC is ready
 * (`kvm_vgic_map_resources`).
 *
 * The rules, in KVM's order. Setting an address (`vgic_check_iorange`): one
 * already set is -EEXIST; a base or size not aligned (4 KB for GICv2's
 * frames, 64 KB for GICv3's) or a range that wraps is -EINVAL; a range past
 * the IPA space is -E2BIG. An address type of the other GIC version is
 * -ENXIO (`vgic_check_type`'s -ENODEV, turned into -ENXIO by
 * `vgic_set_common_attr`). Redistributor regions
 * (`vgic_v3_alloc_redist_region`): the first must have index 0, later ones
 * the next index (-EINVAL); the legacy region (count 0, sized by the vCPUs
 * created so far) cannot follow another region (-EINVAL if the last one is
 * a counted region, -EEXIST otherwise); a legacy region overlapping the
 * distributor, or any region overlapping another, is -EINVAL; the
 * REDIST_REGION attribute needs a non-zero count and zero flags (-EINVAL).
 * The distributor's overlap with the redistributors is only checked at the
 * first KVM_RUN (`vgic_v3_check_base`).
 *
 * KVM_RUN (`vgic_v3_map_resources`, `vgic_v2_map_resources`): a GICv3 needs
 * its distributor address and a redistributor for every vCPU (-ENXIO),
 * frames that do not overlap (-EINVAL), and KVM_DEV_ARM_VGIC_CTRL_INIT done
 * (-EBUSY); a GICv2 needs both its addresses (-ENXIO), frames that do not
 * overlap (-EINVAL), and initialises itself. Once ready, KVM_RUN runs.
 *
 * The guest's own statements are not gated by any of this: a scenario
 * states what the guest does, and `kvm run` answers what KVM_RUN would.
 *
 * Sources: Linux `arch/arm64/kvm/vgic/vgic-kvm-device.c` (`kvm_vgic_addr`,
 * `vgic_check_iorange`, `vgic_set_common_attr`), `vgic-mmio-v3.c`
 * (`vgic_v3_alloc_redist_region`, `vgic_v3_set_redist_base`), `vgic-v3.c`
 * (`vgic_v3_check_base`, `vgic_v3_map_resources`, `vgic_v3_rdist_overlap`),
 * `vgic-v2.c` (`vgic_v2_map_resources`), `vgic-init.c`
 * (`kvm_vgic_map_resources`); `Documentation/virt/kvm/devices/arm-vgic-v3.rst`
 * and `arm-vgic.rst` (KVM_DEV_ARM_VGIC_GRP_ADDR, NR_IRQS); selftest
 * `tools/testing/selftests/kvm/arm64/vgic_init.c`.
 *
 * @module
 */
import { E2BIG, EBUSY, EEXIST, EINVAL, ENODEV, ENOENT, ENXIO } from "./errno.ts";

/**
 * The address types of KVM_DEV_ARM_VGIC_GRP_ADDR, by their attribute value.
 *
 * @example
 * ```ts
 * VgicAddrType.V3_REDIST_REGION; // 5
 * ```
 */
export const VgicAddrType = {
  V2_DIST: 0,
  V2_CPU: 1,
  V3_DIST: 2,
  V3_REDIST: 3,
  V3_REDIST_REGION: 5,
} as const;

/**
 * KVM's VGIC_V2_MAX_CPUS and VGIC_V3_MAX_CPUS: what `kvm_vgic_create` sets
 * as max_vcpus.
 *
 * @example
 * ```ts
 * VGIC_MAX_CPUS[2]; // 8: a GICv2 CPU target list has 8 bits
 * ```
 */
export const VGIC_MAX_CPUS = { 2: 8, 3: 512 } as const;

/**
 * KVM_MAX_VCPU_IDS on arm64 (KVM_MAX_VCPUS), and max_vcpus until a vGIC
 * exists.
 *
 * @example
 * ```ts
 * KVM_MAX_VCPU_IDS; // 512
 * ```
 */
export const KVM_MAX_VCPU_IDS = 512;

/** Frame sizes: KVM_VGIC_V2_DIST_SIZE, _V2_CPU_SIZE, _V3_DIST_SIZE, _V3_REDIST_SIZE. */
const V2_DIST_SIZE = 0x1000, V2_CPU_SIZE = 0x2000, V3_DIST_SIZE = 0x1_0000;
const V3_REDIST_SIZE = 0x2_0000;
/** KVM_VGIC_V3_ITS_SIZE: the ITS's control and translation frames. */
const V3_ITS_SIZE = 0x2_0000;
/** The IPA space KVM gives a VM by default (40 bits: `kvm_phys_size`). */
const IPA_SIZE = 1n << 40n;

/**
 * Errnos the vGIC device returns beyond gic.ts's.
 *
 * @example
 * ```ts
 * const dev = new VgicDevice(3, 1);
 * dev.setAddr(VgicAddrType.V3_DIST, 0x1000n) === -VgicErrno.EINVAL; // not 64 KB aligned
 * ```
 */
export const VgicErrno = { EINVAL, ENXIO, EEXIST, E2BIG, EBUSY, ENOENT, ENODEV } as const;

/**
 * One redistributor region (KVM's `struct vgic_redist_region`).
 *
 * @example
 * ```ts
 * const r: RedistRegion = { index: 0, base: 0x80a_0000n, count: 0 }; // the legacy region
 * ```
 */
export interface RedistRegion {
  /** The region's index (KVM_VGIC_V3_RDIST_INDEX). */
  index: number;
  /** Its guest-physical base. */
  base: bigint;
  /** Redistributors it holds; 0 for the legacy region sized by the vCPUs. */
  count: number;
}

/**
 * The VMM-visible state of one vGIC device.
 *
 * @example
 * ```ts
 * const dev = new VgicDevice(3, 4);
 * dev.setAddr(VgicAddrType.V3_DIST, 0x0800_0000n);   // 0
 * dev.setAddr(VgicAddrType.V3_REDIST, 0x080a_0000n); // 0
 * dev.run(true);                                      // 0 once CTRL_INIT was done
 * ```
 */
export class VgicDevice {
  /** The distributor's base, or undefined until set. */
  distBase: bigint | undefined;
  /** GICv2's CPU interface base. */
  cpuBase: bigint | undefined;
  /** The ITS frames' base (KVM_VGIC_ITS_ADDR_TYPE on the ITS device), or undefined until set. */
  itsBase: bigint | undefined;
  /** GICv3's redistributor regions, by index. */
  readonly regions: RedistRegion[] = [];
  /** KVM_RUN succeeded once: the vGIC is ready (`vgic_ready`). */
  ready = false;
  /**
   * KVM_CREATE_DEVICE made the vGIC (`irqchip_in_kernel`). True from the
   * start unless the scenario creates it itself (`gic v3 { deferred }`).
   */
  created = true;
  /** A vCPU has run once (`vcpu_has_run_once`): KVM_RUN while no vGIC existed. */
  vcpuRan = false;
  /**
   * The host can emulate a GICv2 (`kvm_vgic_global_state.can_emulate_gicv2`:
   * a GICv2 host, or a GICv3 host with the GICv2 compatibility interface).
   */
  canEmulateV2 = true;
  /**
   * The host's GIC is a GICv3, so KVM registered the vgic_v3 and ITS
   * device types (`kvm_register_vgic_device`); a GICv2 host registers only
   * vgic_v2.
   */
  hostV3 = true;
  /**
   * The host's GIC is a GICv5 with FEAT_GCIE_LEGACY (`gic { gicv5_host }`):
   * the vgic_v3 device is still there, and the host's ID_AA64PFR2_EL1.GCIE
   * is 1.
   */
  hostV5 = false;

  /**
   * The device of a VM whose GIC is `version` and which has `vcpus` vCPUs.
   *
   * @example
   * ```ts
   * new VgicDevice(2, 1).ready; // false
   * ```
   */
  constructor(readonly version: 2 | 3, public vcpus: number) {}

  /**
   * KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V2 / _V3), as `kvm_vgic_create`
   * checks it, in its order: a vGIC already there is -EEXIST; a GICv2 the
   * host cannot emulate is -ENODEV; a vCPU that has already run is -EBUSY;
   * more vCPUs than the model's max_vcpus (8 for GICv2, 512 for GICv3) is
   * -E2BIG. The device's own version is the one that gets created: asking
   * for the other is the caller's business.
   *
   * @example
   * ```ts
   * const dev = new VgicDevice(3, 2);
   * dev.created = false;
   * dev.create(); // 0
   * dev.create(); // -17 (-EEXIST)
   * ```
   */
  create(): number {
    const r = this.createResult(this.version);
    if (r === 0) this.created = true;
    return r;
  }

  /**
   * What `kvm_vgic_create` would answer for a vGIC of `version` on this
   * VM, creating nothing (a VM may get either version until one exists).
   *
   * @example
   * ```ts
   * const dev = new VgicDevice(3, 9);
   * dev.created = false;
   * dev.createResult(3); // 0
   * dev.createResult(2); // -7 (-E2BIG): 9 vCPUs
   * ```
   */
  createResult(version: 2 | 3): number {
    if (this.created) return -EEXIST;
    if (version === 2 && !this.canEmulateV2) return -ENODEV;
    if (this.vcpuRan) return -EBUSY;
    if (this.vcpus > VGIC_MAX_CPUS[version]) return -E2BIG;
    return 0;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR). For V3_REDIST_REGION,
   * `value` packs [63:52] count, [51:16] base, [15:12] flags, [11:0] index
   * (KVM_VGIC_V3_RDIST_*). Returns 0 or a negative errno.
   */
  setAddr(type: number, value: bigint): number {
    const T = VgicAddrType;
    switch (type) {
      case T.V2_DIST:
      case T.V2_CPU: {
        if (this.version !== 2) return -ENXIO;
        const dist = type === T.V2_DIST;
        const r = checkIorange(
          dist ? this.distBase : this.cpuBase,
          value,
          0x1000n,
          BigInt(dist ? V2_DIST_SIZE : V2_CPU_SIZE),
        );
        if (r === 0) {
          if (dist) this.distBase = value;
          else this.cpuBase = value;
        }
        return r;
      }
      case T.V3_DIST: {
        if (this.version !== 3) return -ENXIO;
        const r = checkIorange(this.distBase, value, 0x1_0000n, BigInt(V3_DIST_SIZE));
        if (r === 0) this.distBase = value;
        return r;
      }
      case T.V3_REDIST:
        if (this.version !== 3) return -ENXIO;
        return this.#allocRegion(0, value, 0);
      case T.V3_REDIST_REGION: {
        if (this.version !== 3) return -ENXIO;
        const count = Number(value >> 52n), flags = Number((value >> 12n) & 0xfn);
        if (count === 0 || flags !== 0) return -EINVAL;
        return this.#allocRegion(Number(value & 0xfffn), value & 0x000f_ffff_ffff_0000n, count);
      }
    }
    return -ENXIO;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE)
   * on the ITS device (`vgic_its_set_attr`): `vgic_check_iorange` over the
   * ITS's two 64 KB frames (KVM_VGIC_V3_ITS_SIZE): -EEXIST once set, -EINVAL
   * unless 64 KB aligned, -E2BIG past the IPA space. Returns 0 or the errno.
   *
   * @example
   * ```ts
   * const dev = new VgicDevice(3, 1);
   * dev.setItsAddr(0x40_1000n); // -22 (-EINVAL): not 64 KB aligned
   * dev.setItsAddr(0x40_0000n); // 0
   * dev.setItsAddr(0x30_0000n); // -17 (-EEXIST)
   * ```
   */
  setItsAddr(value: bigint): number {
    const r = checkIorange(this.itsBase, value, 0x1_0000n, BigInt(V3_ITS_SIZE));
    if (r === 0) this.itsBase = value;
    return r;
  }

  /**
   * KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR): the address (all ones
   * while unset: VGIC_ADDR_UNDEF); for V3_REDIST_REGION the packed region
   * whose index `value` gives, or -ENOENT.
   */
  getAddr(type: number, value = 0n): bigint | number {
    const T = VgicAddrType;
    const undef = (1n << 64n) - 1n;
    switch (type) {
      case T.V2_DIST:
      case T.V2_CPU:
        if (this.version !== 2) return -ENXIO;
        return (type === T.V2_DIST ? this.distBase : this.cpuBase) ?? undef;
      case T.V3_DIST:
        return this.version !== 3 ? -ENXIO : this.distBase ?? undef;
      case T.V3_REDIST:
        return this.version !== 3 ? -ENXIO : this.regions[0]?.base ?? undef;
      case T.V3_REDIST_REGION: {
        if (this.version !== 3) return -ENXIO;
        const index = Number(value & 0xfffn);
        const r = this.regions.find((g) => g.index === index);
        if (!r) return -ENOENT;
        return (BigInt(r.count) << 52n) | r.base | BigInt(index);
      }
    }
    return -ENXIO;
  }

  /**
   * Where each vCPU's redistributor sits once regions came through
   * KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION, by creation position (KVM's vCPU
   * index): its slot in its region and GICR_TYPER.Last as
   * `vgic_mmio_vcpu_rdist_is_last` decides it. Undefined while no counted
   * region exists (the legacy region keeps Last for the vCPU created last).
   *
   * KVM gives the vCPUs without a redistributor, in creation order, the next
   * free slot of the first region not full (`vgic_register_redist_iodev`,
   * `vgic_v3_rdist_free_slot`), as each region arrives; with every vCPU
   * created first that is the order below. Last is clear for a vCPU with no
   * region, and for one below its region's highest used slot; the last slot
   * of a full counted region is Last unless a used region starts right after
   * it (the redistributors then continue).
   *
   * @example
   * ```ts
   * const dev = new VgicDevice(3, 4);
   * dev.setAddr(VgicAddrType.V3_REDIST_REGION, (2n << 52n) | 0x20_0000n); // index 0, 2 slots
   * dev.redistPlacement()?.map((p) => p.last); // [false, true, false, false]
   * ```
   */
  redistPlacement(): { slot: number; last: boolean }[] | undefined {
    const regions = this.regions;
    if (!regions.some((r) => r.count > 0)) return undefined;
    const used = regions.map(() => 0);
    const home: number[] = [];
    for (let p = 0; p < this.vcpus; p++) {
      const k = regions.findIndex((r, i) => r.count === 0 || used[i] < r.count);
      home.push(k);
      if (k >= 0) used[k]++;
    }
    const seen = regions.map(() => 0);
    return home.map((k) => {
      if (k < 0) return { slot: -1, last: false };
      const r = regions[k], slot = seen[k]++;
      if (slot < used[k] - 1) return { slot, last: false };
      if (r.count > 0 && slot === r.count - 1) {
        const end = r.base + BigInt(r.count * V3_REDIST_SIZE);
        if (regions.some((o, i) => o.base === end && used[i] > 0)) return { slot, last: false };
      }
      return { slot, last: true };
    });
  }

  /** The bytes a region covers (`vgic_v3_rd_region_size`). */
  #regionSize(r: RedistRegion): bigint {
    return BigInt((r.count || this.vcpus) * V3_REDIST_SIZE);
  }

  /** `vgic_v3_alloc_redist_region`. */
  #allocRegion(index: number, base: bigint, count: number): number {
    const size = BigInt((count || this.vcpus) * V3_REDIST_SIZE);
    if (base + size >= 1n << 64n) return -EINVAL;
    const last = this.regions[this.regions.length - 1];
    if (!last) {
      if (index !== 0) return -EINVAL;
    } else {
      if (!count && last.count) return -EINVAL;
      if (!count) return -EEXIST;
      if (index !== last.index + 1) return -EINVAL;
    }
    if (
      !count && this.distBase !== undefined &&
      overlaps(base, size, this.distBase, BigInt(V3_DIST_SIZE))
    ) {
      return -EINVAL;
    }
    if (this.regions.some((r) => overlaps(base, size, r.base, this.#regionSize(r)))) return -EINVAL;
    const r = checkIorange(undefined, base, 0x1_0000n, size);
    if (r !== 0) return r;
    const slotsBefore = this.#slots();
    this.regions.push({ index, base, count });
    // vgic_v3_set_redist_base registers the vCPUs still without a
    // redistributor in the new region, and vgic_register_redist_iodev
    // checks every frame then (vgic_v3_check_base): a failure frees the region.
    if (slotsBefore < this.vcpus && !this.#checkBase()) {
      this.regions.pop();
      return -EINVAL;
    }
    return 0;
  }

  /**
   * What KVM_RUN returns (`kvm_vgic_map_resources`) given whether
   * KVM_DEV_ARM_VGIC_CTRL_INIT was done; a GICv2 initialises itself here.
   * Returns 0 (the vCPU runs) or a negative errno.
   */
  run(initialized: boolean): number {
    if (!this.created) {
      // No in-kernel irqchip: kvm_vgic_map_resources has nothing to map and
      // the vCPU runs, which closes the door on kvm_vgic_create (-EBUSY).
      this.vcpuRan = true;
      return 0;
    }
    if (this.ready) return 0;
    if (this.version === 2) {
      if (this.distBase === undefined || this.cpuBase === undefined) return -ENXIO;
      if (overlaps(this.distBase, BigInt(V2_DIST_SIZE), this.cpuBase, BigInt(V2_CPU_SIZE))) {
        return -EINVAL;
      }
    } else {
      if (this.#slots() < this.vcpus) return -ENXIO; // a vCPU without a redistributor
      if (this.distBase === undefined) return -ENXIO;
      if (!this.#checkBase()) return -EINVAL;
      if (!initialized) return -EBUSY;
    }
    this.ready = true;
    return 0;
  }

  /**
   * Whether a vCPU created now may take a redistributor
   * (`vgic_register_redist_iodev` at KVM_CREATE_VCPU): when a region has a
   * free slot, the frames must pass `vgic_v3_check_base`, with the legacy
   * region still sized by the vCPUs created before this one; with no free
   * slot nothing is checked (the vCPU waits for a region).
   *
   * @example
   * ```ts
   * const dev = new VgicDevice(3, 1);
   * dev.newRedistFits(); // true: no region, nothing to check
   * ```
   */
  newRedistFits(): boolean {
    const free = this.regions.some((r) => r.count === 0) || this.#slots() > this.vcpus;
    return !free || this.#checkBase();
  }

  /** Redistributor slots in the regions so far. */
  #slots(): number {
    return this.regions.reduce((n, r) => n + (r.count || this.vcpus), 0);
  }

  /** `vgic_v3_check_base`: every region a valid range, none overlapping the distributor. */
  #checkBase(): boolean {
    for (const r of this.regions) {
      if (checkIorange(undefined, r.base, 0x1_0000n, this.#regionSize(r)) !== 0) return false;
    }
    const dist = this.distBase;
    if (dist === undefined) return true;
    return !this.regions.some((r) =>
      overlaps(r.base, this.#regionSize(r), dist, BigInt(V3_DIST_SIZE))
    );
  }
}

/** `vgic_check_iorange`. */
function checkIorange(
  current: bigint | undefined,
  addr: bigint,
  align: bigint,
  size: bigint,
): number {
  if (current !== undefined) return -EEXIST;
  if (addr % align !== 0n || size % align !== 0n) return -EINVAL;
  if (addr + size >= 1n << 64n) return -EINVAL;
  if (addr >= IPA_SIZE || addr + size > IPA_SIZE) return -E2BIG;
  return 0;
}

function overlaps(a: bigint, alen: bigint, b: bigint, blen: bigint): boolean {
  return a < b + blen && b < a + alen;
}
