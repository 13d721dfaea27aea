/**
 * Linux KVM's Xen API, as a VMM uses it to run a `kvm-xen` domain:
 * KVM_XEN_HVM_CONFIG, the VM and vCPU attributes, routing entries of type
 * KVM_IRQ_ROUTING_XEN_EVTCHN, and KVM_XEN_HVM_EVTCHN_SEND.
 *
 * Sources: Linux `include/uapi/linux/kvm.h` (KVM_XEN_HVM_CONFIG_* flags,
 * `struct kvm_xen_hvm_config`, KVM_XEN_ATTR_TYPE_*, KVM_XEN_VCPU_ATTR_TYPE_*,
 * `struct kvm_irq_routing_xen_evtchn`, KVM_IRQ_ROUTING_XEN_EVTCHN = 5,
 * KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL), `arch/x86/kvm/xen.c`
 * (`kvm_xen_hvm_config`, `kvm_xen_hvm_set_attr`, `kvm_xen_vcpu_set_attr`,
 * `kvm_xen_setup_evtchn`, `kvm_xen_hvm_evtchn_send`,
 * `kvm_xen_set_evtchn_fast`), `Documentation/virt/kvm/api.rst`.
 *
 * @module
 */
import type { XenDomain } from "./domain.ts";
import { XEN_ERRNO } from "./errno.ts";

/**
 * KVM_XEN_HVM_CONFIG_* capability / config flags.
 *
 * @example
 * ```ts
 * KVM_XEN_HVM_CONFIG.EVTCHN_SEND; // 1 << 5
 * ```
 */
export const KVM_XEN_HVM_CONFIG = {
  HYPERCALL_MSR: 1 << 0,
  INTERCEPT_HCALL: 1 << 1,
  SHARED_INFO: 1 << 2,
  RUNSTATE: 1 << 3,
  EVTCHN_2LEVEL: 1 << 4,
  EVTCHN_SEND: 1 << 5,
  RUNSTATE_UPDATE_FLAG: 1 << 6,
  PVCLOCK_TSC_UNSTABLE: 1 << 7,
  SHARED_INFO_HVA: 1 << 8,
} as const;

/**
 * What KVM_CAP_XEN_HVM reports in this model (everything up to SHARED_INFO_HVA).
 *
 * @example
 * ```ts
 * (KVM_XEN_CAPS & KVM_XEN_HVM_CONFIG.EVTCHN_SEND) !== 0; // true
 * ```
 */
export const KVM_XEN_CAPS = 0x1ff;

/**
 * `KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL`: the only priority KVM accepts.
 *
 * @example
 * ```ts
 * KVM_XEN_PRIO_2LEVEL; // 0xffffffff
 * ```
 */
export const KVM_XEN_PRIO_2LEVEL = 0xffff_ffff;

/**
 * The all-ones GPA/GFN that switches an area off (`KVM_XEN_INVALID_GPA` / `_GFN`).
 *
 * @example
 * ```ts
 * kvm.setVcpuInfo(0, KVM_XEN_INVALID);
 * ```
 */
export const KVM_XEN_INVALID = 0xffff_ffff_ffff_ffffn;

/**
 * `struct kvm_irq_routing_xen_evtchn` (and KVM_XEN_HVM_EVTCHN_SEND's argument).
 *
 * @example
 * ```ts
 * kvm.evtchnSend({ port: 66, vcpu: 0, priority: KVM_XEN_PRIO_2LEVEL });
 * ```
 */
export interface XenEvtchnRoute {
  port: number;
  /** KVM vcpu_id (the APIC ID), not the Xen vCPU number. */
  vcpu: number;
  priority: number;
}

/**
 * `struct kvm_xen_hvm_config`.
 *
 * @example
 * ```ts
 * kvm.hvmConfig({ flags: 0, msr: 0x40000000, blobAddr32: 0n, blobAddr64: 0n, blobSize32: 0, blobSize64: 0 });
 * ```
 */
export interface KvmXenHvmConfig {
  flags: number;
  msr: number;
  blobAddr32: bigint;
  blobAddr64: bigint;
  blobSize32: number;
  blobSize64: number;
}

/**
 * The KVM side of a kvm-xen domain.
 *
 * @example
 * ```ts
 * const kvm = new KvmXen(domain);
 * kvm.hvmConfig({ flags: KVM_XEN_HVM_CONFIG.EVTCHN_SEND, msr: 0x40000000, blobAddr32: 0n, blobAddr64: 0n, blobSize32: 0, blobSize64: 0 }); // 0
 * kvm.evtchnSend({ port: 0, vcpu: 0, priority: KVM_XEN_PRIO_2LEVEL }); // -EINVAL
 * ```
 */
export class KvmXen {
  config: KvmXenHvmConfig | null = null;
  /** GSI → Xen event-channel routes from KVM_SET_GSI_ROUTING. */
  readonly routes: Map<number, XenEvtchnRoute[]> = new Map();

  constructor(readonly domain: XenDomain) {}

  /**
   * KVM_XEN_HVM_CONFIG: only INTERCEPT_HCALL, EVTCHN_SEND and
   * PVCLOCK_TSC_UNSTABLE may be set; INTERCEPT_HCALL with any blob field is
   * -EINVAL.
   */
  hvmConfig(c: KvmXenHvmConfig): number {
    const allowed = KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL | KVM_XEN_HVM_CONFIG.EVTCHN_SEND |
      KVM_XEN_HVM_CONFIG.PVCLOCK_TSC_UNSTABLE;
    if ((c.flags & ~allowed) !== 0) return -XEN_ERRNO.EINVAL;
    const blob = c.blobAddr32 !== 0n || c.blobAddr64 !== 0n || c.blobSize32 !== 0 ||
      c.blobSize64 !== 0;
    if ((c.flags & KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL) !== 0 && blob) return -XEN_ERRNO.EINVAL;
    this.config = { ...c };
    return 0;
  }

  /** KVM_XEN_ATTR_TYPE_LONG_MODE. */
  setLongMode(on: boolean): number {
    this.domain.setWidth(on ? 64 : 32);
    return 0;
  }

  /** KVM_XEN_ATTR_TYPE_SHARED_INFO (a GFN; all-ones = off). */
  setSharedInfo(gfn: bigint): number {
    if (gfn === KVM_XEN_INVALID) {
      this.domain.setSharedInfo(-1);
      return 0;
    }
    const gpa = Number(gfn) * 4096;
    if (!this.domain.mem.contains(gpa, 4096)) return -XEN_ERRNO.EINVAL;
    this.domain.setSharedInfo(gpa);
    return 0;
  }

  /** KVM_XEN_ATTR_TYPE_UPCALL_VECTOR (the global vector): 0 off, 1..15 -EINVAL. */
  setUpcallVector(vector: number): number {
    if (vector !== 0 && vector < 0x10) return -XEN_ERRNO.EINVAL;
    return this.domain.callback.setParam(vector === 0 ? 0n : (2n << 56n) | BigInt(vector));
  }

  /** KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR: per-vCPU LAPIC vector; injects nothing. */
  setVcpuUpcallVector(vcpu: number, vector: number): number {
    if (vector !== 0 && vector < 0x10) return -XEN_ERRNO.EINVAL;
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (vector === 0) {
      this.domain.callback.perVcpu[vcpu] = 0;
      return 0;
    }
    return this.domain.callback.setUpcallVector(vcpu, vector);
  }

  /** KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO. */
  setVcpuInfo(vcpu: number, gpa: bigint): number {
    if (vcpu < 0 || vcpu >= this.domain.vcpuCount) return -XEN_ERRNO.EINVAL;
    return this.domain.kvmSetVcpuInfo(vcpu, gpa);
  }

  /**
   * `kvm_xen_setup_evtchn`: validates one routing entry. Only the priority
   * is checked (it must be 2-level): since Linux "KVM: x86/xen: Allow 'out
   * of range' event channel ports in IRQ routing table" neither the port
   * range nor the vCPU is checked when the table is set, so that a VMM can
   * restore routing before creating vCPUs or setting long_mode; a bad target
   * fails at delivery instead ({@link KvmXen.deliver}). Returns 0 or -EINVAL.
   */
  validateRoute(r: XenEvtchnRoute): number {
    if (r.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    return 0;
  }

  /** Replaces the Xen event-channel routes (after the whole table validated). */
  setRoutes(entries: ReadonlyArray<{ gsi: number } & XenEvtchnRoute>): void {
    this.routes.clear();
    for (const e of entries) {
      const list = this.routes.get(e.gsi) ?? [];
      list.push({ port: e.port, vcpu: e.vcpu, priority: e.priority });
      this.routes.set(e.gsi, list);
    }
  }

  /**
   * Delivery of one {port, vcpu}: `kvm_xen_set_evtchn_fast`. Port range is
   * checked here (it follows long_mode, which can change after routing is
   * set): -EINVAL. Returns 1 delivered, 0 already pending, -ENOTCONN masked.
   */
  deliver(r: XenEvtchnRoute): number {
    const d = this.domain;
    if (r.vcpu < 0 || r.vcpu >= d.vcpuCount) return -XEN_ERRNO.EINVAL;
    if (r.port >= d.layout().maxPorts2L || d.sharedInfo() < 0) return -XEN_ERRNO.EINVAL;
    // A route names its vCPU itself; the port's own binding does not matter here.
    return d.evtchn.raiseOn(r.port, r.vcpu);
  }

  /**
   * KVM_XEN_HVM_EVTCHN_SEND: port 0 or out of range, a priority other than
   * 2-level, or an unknown vCPU → -EINVAL; a masked port counts as success.
   */
  evtchnSend(r: XenEvtchnRoute): number {
    const d = this.domain;
    if (r.port === 0 || r.port >= d.layout().maxPorts2L) return -XEN_ERRNO.EINVAL;
    if (r.priority !== KVM_XEN_PRIO_2LEVEL) return -XEN_ERRNO.EINVAL;
    const rc = this.deliver(r);
    if (rc === -XEN_ERRNO.ENOTCONN) return 0;
    return rc < 0 ? rc : 0;
  }

  /** KVM_IRQ_LINE / irqfd on a GSI with Xen routes: delivers each; returns the last status. */
  irqLine(gsi: number, level: 0 | 1): number | undefined {
    const list = this.routes.get(gsi);
    if (!list) return undefined;
    if (level === 0) return 0;
    let rc = 0;
    for (const r of list) rc = this.deliver(r);
    return rc;
  }
}
