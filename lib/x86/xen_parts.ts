/**
 * The Xen model (lib/xen's domain, event channels, timers, KVM's Xen
 * emulation) as an x86 VM with `hypervisor xen` or `kvm-xen` is built with
 * it, loaded only for such VMs: most x86 scenarios have none, and the model
 * is 180 KB of source (10 modules). The platform's tables (the Xen
 * commands and state paths the checker and `scn help` read,
 * lib/xen/platform.ts) do not import it.
 *
 * ./xen_build.ts is the model, and registers itself here when imported
 * ({@link provideXenParts}): a command imports it before it builds VMs when
 * a scenario's vm says `hypervisor xen` or `kvm-xen`
 * (lib/api/platform_loaders.ts), `PLATFORMS` (lib/api/platforms.ts) always
 * does, and so does a module that builds Xen VMs itself (a test).
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import type { XenHost } from "../xen/domain.ts";
import type { XenDomainType } from "../xen/evtchn.ts";
import type { GuestWidth } from "../xen/layout.ts";
import type { KvmRunstateArea } from "../xen/runstate.ts";
import type { XenMachine } from "../xen/platform.ts";

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

/** What an x86 VM needs of the Xen model: made by ./xen_build.ts. */
export interface XenParts {
  /**
   * The VM's Xen domain (`XenDomain`) and KVM's Xen emulation over it
   * (`KvmXen`), as `config` (whose `hypervisor` is `xen` or `kvm-xen`) says.
   */
  machine(config: XenVmConfig, host: XenHost, trace: Trace): XenMachine;
  /**
   * Xen's hypercall page, written at the guest's write of the hypercall MSR
   * (`writeHypercallPage` of lib/xen/hypercall_page.ts): why it was refused,
   * or null.
   */
  writeHypercallPage(mem: GuestMemory, value: bigint): string | null;
}

let parts: XenParts | undefined;

/**
 * Makes `p` the Xen model x86 VMs are built with: ./xen_build.ts's, when it
 * is loaded.
 *
 * @example
 * ```ts
 * declare const p: XenParts;
 * provideXenParts(p);
 * xenParts() === p; // true
 * ```
 */
export function provideXenParts(p: XenParts): void {
  parts = p;
}

/**
 * The Xen model, for building a VM with one; an internal error if
 * ./xen_build.ts was not loaded.
 *
 * @example
 * ```ts
 * await import("./xen_build.ts");
 * typeof xenParts().machine; // "function"
 * ```
 */
export function xenParts(): XenParts {
  if (parts === undefined) {
    throw new Error(
      "internal error: an x86 VM with a Xen domain was built before the Xen model was loaded " +
        "(lib/x86/xen_build.ts; see lib/x86/xen_parts.ts)",
    );
  }
  return parts;
}
