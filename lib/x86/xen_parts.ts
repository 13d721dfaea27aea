/**
 * An x86 VM's Xen domain, from the VM's configuration, built by the Xen
 * model (lib/xen/parts.ts), which is loaded only for scenarios whose vms
 * say `hypervisor xen` or `kvm-xen`.
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import type { XenHost } from "../xen/domain.ts";
import type { XenDomainType } from "../xen/evtchn.ts";
import type { GuestWidth } from "../xen/layout.ts";
import type { KvmRunstateArea } from "../xen/runstate.ts";
import type { XenMachine } from "../xen/platform.ts";
import { xenParts } from "../xen/parts.ts";

/** What of an x86 VM's configuration (`X86VmConfig` of ./vm.ts) its Xen domain is built from. */
export interface XenVmConfig {
  /** `xen` or `kvm-xen`: whose behaviour the domain follows. */
  readonly hypervisor?: string;
  /** The VM's vCPUs. */
  readonly vcpus: number;
  /** The word size the shared_info layout starts latched to. Default 64. */
  readonly guestWidth?: GuestWidth;
  /** The toolstack's event-channel port cap (Xen). Default 1023. */
  readonly maxEvtchnPort?: number;
  /** The domain type (Xen). Default `hvm`. */
  readonly xenDomain?: XenDomainType;
  /** When KVM copies a runstate area it is given (kvm-xen). Default `copy_on_set`. */
  readonly kvmRunstateArea?: KvmRunstateArea;
  /** The wall time KVM writes into shared_info, in seconds (kvm-xen). Default 0. */
  readonly kvmWallclockSec?: number;
  /** KVM keeps its master clock (kvm-xen). Default false. */
  readonly kvmMasterClock?: boolean;
}

/**
 * The VM's Xen domain and KVM's Xen emulation over it, as `config` (whose
 * `hypervisor` is `xen` or `kvm-xen`) says: built by the Xen model
 * (lib/xen/parts.ts), which must be loaded.
 *
 * @example
 * ```ts
 * import type { Trace } from "../core/trace.ts";
 * import type { XenHost } from "../xen/domain.ts";
 * await import("../xen/build.ts");
 * declare const host: XenHost, trace: Trace;
 * xenMachine({ hypervisor: "kvm-xen", vcpus: 1 }, host, trace).domain.flavour; // "kvm-xen"
 * ```
 */
export function xenMachine(config: XenVmConfig, host: XenHost, trace: Trace): XenMachine {
  const parts = xenParts(), d = parts.defaults;
  return parts.machine(
    {
      ...d,
      flavour: config.hypervisor === "kvm-xen" ? "kvm-xen" : "xen",
      vcpus: config.vcpus,
      width: config.guestWidth ?? d.width,
      maxEvtchnPort: config.maxEvtchnPort ?? d.maxEvtchnPort,
      type: config.xenDomain ?? "hvm",
      kvmRunstateArea: config.kvmRunstateArea ?? "copy_on_set",
      kvmWallclockSec: config.kvmWallclockSec ?? 0,
      kvmMasterClock: config.kvmMasterClock ?? false,
    },
    host,
    trace,
  );
}
