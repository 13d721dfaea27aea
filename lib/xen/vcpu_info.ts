/**
 * Where each vCPU's `vcpu_info` lives, and moving it: the 32 default slots
 * in shared_info, the hypervisor-private dummy of vCPUs ≥ 32, and
 * VCPUOP_register_vcpu_info (Xen) or KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO
 * (kvm-xen).
 *
 * Sources: Xen `xen/include/public/vcpu.h` (`struct vcpu_register_vcpu_info`,
 * VCPUOP_register_vcpu_info), `xen/common/domain.c` (`vcpu_info_reset`,
 * `dummy_vcpu_info`, `vcpu_info_populate`, `map_guest_area`,
 * `common_vcpu_op`: -EINVAL for an offset that leaves the frame, -EBUSY
 * when already registered, -ENXIO for a misaligned or page-crossing area;
 * after the switch the selector is written all-ones and events are marked
 * pending). kvm-xen: Linux `arch/x86/kvm/xen.c` (`get_vcpu_info_cache`:
 * vCPU ids < 32 default to the slot in shared_info once shared_info is set;
 * `kvm_xen_vcpu_set_attr` VCPU_INFO: -EINVAL if it crosses a page, all-ones
 * disables; the in-kernel `evtchn_pending_sel` shadow used while no
 * vcpu_info is reachable) and `Documentation/virt/kvm/api.rst` (the VMM
 * copies the old contents, and events delivered meanwhile may be lost:
 * seed 002).
 *
 * @module
 */
import { arrayOf } from "../core/arena.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { XEN_PAGE_SIZE } from "./layout.ts";
import { defaultVcpuInfoOffset, field, VCPU_INFO_SIZE, XEN_LEGACY_MAX_VCPUS } from "./layout.ts";
import type { XenLayout } from "./layout.ts";
import { XEN_ERRNO } from "./errno.ts";
import { drain } from "../core/table.ts";
export { VMM_COPY_STEPS } from "./abi.ts";

export { XEN_PAGE_SIZE };

/**
 * A vcpu_info the hypervisor writes to: which buffer and where.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * declare const mem: GuestMemory;
 * const r: VcpuInfoRef = { mem, addr: 0x10000 };
 * ```
 */
export interface VcpuInfoRef {
  mem: GuestMemory;
  addr: number;
}

/**
 * Where one vCPU's vcpu_info is.
 *
 * @example
 * ```ts
 * declare const areas: VcpuInfoAreas;
 * areas.places[35]; // { kind: "dummy" } in Xen
 * ```
 */
export type VcpuInfoPlace =
  | { kind: "shared" }
  | { kind: "guest"; gpa: number }
  | { kind: "dummy" }
  | { kind: "none" };

/**
 * Per-vCPU vcpu_info placement.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * import { LAYOUT_64 } from "./layout.ts";
 * declare const mem: GuestMemory;
 * const areas = new VcpuInfoAreas("xen", 40, mem, () => 0x10000, () => LAYOUT_64);
 * areas.ref(3);   // { mem, addr: 0x10000 + 0xc0 }
 * areas.ref(35);  // the private dummy
 * areas.register(35, 0x20, 0x40); // 0: now at 0x20040
 * ```
 */
export class VcpuInfoAreas {
  readonly places: VcpuInfoPlace[];
  /** Xen's dummy_vcpu_info: hypervisor memory the guest cannot see (one, shared by all vCPUs ≥ 32). */
  readonly dummy: GuestMemory = new GuestMemory(VCPU_INFO_SIZE);
  /** kvm-xen: KVM's in-kernel `evtchn_pending_sel` shadow per vCPU. */
  readonly shadowSel: bigint[];

  constructor(
    readonly flavour: "xen" | "kvm-xen",
    readonly vcpus: number,
    readonly mem: GuestMemory,
    readonly sharedInfo: () => number,
    readonly layout: () => XenLayout,
  ) {
    this.places = arrayOf(
      vcpus,
      (n): VcpuInfoPlace =>
        n < layout().legacyVcpus
          ? { kind: "shared" }
          : flavour === "xen"
          ? { kind: "dummy" }
          : { kind: "none" },
    );
    this.shadowSel = arrayOf(vcpus, () => 0n);
    // The dummy starts with UM=1, as in Xen's static initialiser.
    this.dummy.write(1, 8, 1);
  }

  /** Where the hypervisor writes vCPU `n`'s vcpu_info now, or null. */
  ref(n: number): VcpuInfoRef | null {
    const p = this.places[n];
    switch (p.kind) {
      case "shared": {
        const si = this.sharedInfo();
        return si < 0
          ? null
          : { mem: this.mem, addr: si + defaultVcpuInfoOffset(n, this.layout().vcpuInfoSize) };
      }
      case "guest":
        return { mem: this.mem, addr: p.gpa };
      case "dummy":
        return { mem: this.dummy, addr: 0 };
      case "none":
        return null;
    }
  }

  /** The guest-physical address of vCPU `n`'s vcpu_info, or -1 when the guest cannot see it. */
  gpa(n: number): number {
    const r = this.ref(n);
    return r && r.mem === this.mem ? r.addr : -1;
  }

  /** Reads one vcpu_info field of vCPU `n` (0 when it has none). */
  read(n: number, name: string): bigint {
    const r = this.ref(n);
    if (!r) return 0n;
    const f = field(this.layout().vcpuInfo, name);
    return r.mem.readBig(r.addr + f.offset, (f.size * 8) as 8 | 16 | 32 | 64);
  }

  /**
   * evtchn_upcall_pending of vCPU `n`. A vCPU checks this at every
   * instruction boundary while a global callback vector is set, so it reads
   * the byte directly (offset 0 in both layouts) and allocates nothing.
   */
  upcallPending(n: number): boolean {
    const p = this.places[n];
    switch (p.kind) {
      case "shared": {
        const si = this.sharedInfo();
        return si >= 0 &&
          this.mem.byte(si + defaultVcpuInfoOffset(n, this.layout().vcpuInfoSize)) !== 0;
      }
      case "guest":
        return this.mem.byte(p.gpa) !== 0;
      case "dummy":
        return this.dummy.byte(0) !== 0;
      case "none":
        return false;
    }
  }

  /**
   * Xen's check for a PV vCPU on its way back to the guest
   * (`test_guest_events`): the 16-bit word at offset 0 holds
   * evtchn_upcall_pending and evtchn_upcall_mask, and an upcall is due when
   * the first is set and the second clear. Reads bytes; allocates nothing.
   */
  upcallDue(n: number): boolean {
    const p = this.places[n];
    let mem: GuestMemory;
    let at: number;
    switch (p.kind) {
      case "shared": {
        const si = this.sharedInfo();
        if (si < 0) return false;
        mem = this.mem;
        at = si + defaultVcpuInfoOffset(n, this.layout().vcpuInfoSize);
        break;
      }
      case "guest":
        mem = this.mem;
        at = p.gpa;
        break;
      case "dummy":
        mem = this.dummy;
        at = 0;
        break;
      case "none":
        return false;
    }
    return mem.byte(at) !== 0 && mem.byte(at + 1) === 0;
  }

  /**
   * VCPUOP_register_vcpu_info checks and move (Xen). Returns 0 or -errno;
   * on success the caller writes the selector and marks events pending
   * ({@link VcpuInfoAreas.afterMove}).
   */
  register(n: number, gfn: number, offset: number): number {
    if (!Number.isInteger(offset) || offset < 0 || offset >= XEN_PAGE_SIZE) {
      // gaddr's frame is no longer `mfn`: common_vcpu_op says -EINVAL.
      return -XEN_ERRNO.EINVAL;
    }
    if (this.places[n].kind === "guest") return -XEN_ERRNO.EBUSY;
    const gpa = gfn * XEN_PAGE_SIZE + offset;
    const size = this.layout().vcpuInfoSize;
    if (offset + size > XEN_PAGE_SIZE) return -XEN_ERRNO.ENXIO;
    if (gpa % this.layout().wordBytes !== 0) return -XEN_ERRNO.ENXIO;
    if (!this.mem.contains(gpa, size)) return -XEN_ERRNO.EINVAL;
    this.#populate(n, gpa);
    this.places[n] = { kind: "guest", gpa };
    return 0;
  }

  /** `vcpu_info_populate`: zero + UM=1 when coming from the dummy, else copy. */
  #populate(n: number, gpa: number): void {
    const old = this.ref(n);
    const size = this.layout().vcpuInfoSize;
    if (this.places[n].kind === "dummy" || !old) {
      this.mem.fill(gpa, size, 0);
      this.mem.write(gpa + 1, 8, 1);
      return;
    }
    this.mem.store(gpa, old.mem.slice(old.addr, size));
  }

  /**
   * After a move Xen writes the selector as all-ones ("nothing gets lost;
   * the guest copes with a spurious scan").
   */
  afterMove(n: number): void {
    const r = this.ref(n)!;
    const f = field(this.layout().vcpuInfo, "evtchn_pending_sel");
    r.mem.write(r.addr + f.offset, (f.size * 8) as 32 | 64, -1n);
  }

  /**
   * kvm-xen: the VMM copies the current vcpu_info to `gpa` (what api.rst
   * asks of it before it sets the attribute). Returns 0, or -EINVAL for a
   * vCPU the VM does not have or a destination outside RAM.
   */
  vmmCopy(n: number, gpa: number): number {
    return drain(this.vmmCopySteps(n, gpa));
  }

  /**
   * {@link VcpuInfoAreas.vmmCopy} as the memcpy it is, in two steps
   * ({@link VMM_COPY_STEPS}): the bytes before evtchn_pending_sel (UP and
   * the mask), then the rest. An event KVM delivers to the old vcpu_info in
   * between is half in the copy: UP from before, the selector from after.
   *
   * @example
   * ```ts
   * declare const areas: VcpuInfoAreas;
   * const steps = areas.vmmCopySteps(1, 0x20000);
   * steps.next(); // UP and the mask copied
   * ```
   */
  *vmmCopySteps(n: number, gpa: number): Generator<void, number, void> {
    if (!Number.isInteger(n) || n < 0 || n >= this.vcpus) return -XEN_ERRNO.EINVAL;
    if (!this.mem.contains(gpa, VCPU_INFO_SIZE)) return -XEN_ERRNO.EINVAL;
    const old = this.ref(n);
    if (!old) return 0;
    const split = field(this.layout().vcpuInfo, "evtchn_pending_sel").offset;
    this.mem.store(gpa, old.mem.slice(old.addr, split));
    yield;
    this.mem.store(gpa + split, old.mem.slice(old.addr + split, VCPU_INFO_SIZE - split));
    return 0;
  }

  /**
   * kvm-xen: KVM_XEN_VCPU_SET_ATTR(VCPU_INFO, gpa). All-ones disables it
   * (back to the default slot for ids < 32); an area crossing a page is
   * -EINVAL (`kvm_gpc_activate`), one outside guest RAM (no memslot)
   * -EFAULT (`__kvm_gpc_refresh`), leaving the old place here where KVM
   * keeps the unreachable address. KVM copies nothing.
   */
  kvmSetAttr(n: number, gpa: bigint): number {
    if (gpa === 0xffff_ffff_ffff_ffffn) {
      this.places[n] = n < XEN_LEGACY_MAX_VCPUS ? { kind: "shared" } : { kind: "none" };
      return 0;
    }
    const g = Number(gpa);
    if ((g % XEN_PAGE_SIZE) + VCPU_INFO_SIZE > XEN_PAGE_SIZE) return -XEN_ERRNO.EINVAL;
    if (!this.mem.contains(g, VCPU_INFO_SIZE)) return -XEN_ERRNO.EFAULT;
    this.places[n] = { kind: "guest", gpa: g };
    return 0;
  }
}
