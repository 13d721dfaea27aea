/**
 * The Xen model x86 VMs are built with ({@link XenParts}), made available
 * by importing this module: lib/x86/xen_parts.ts loads it for scenarios
 * whose vms say `hypervisor xen` or `kvm-xen`, `PLATFORMS` and tests that
 * build Xen VMs import it.
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import { XEN_DEFAULTS, XenDomain, type XenHost } from "../xen/domain.ts";
import { KvmXen } from "../xen/kvm_xen.ts";
import type { XenMachine } from "../xen/platform.ts";
import { writeHypercallPage } from "../xen/hypercall_page.ts";
import { provideXenParts, type XenParts, type XenVmConfig } from "./xen_parts.ts";

/** lib/xen's domain and KVM's Xen emulation, as an x86 VM holds them. */
export const XEN_PARTS: XenParts = {
  machine(config: XenVmConfig, host: XenHost, trace: Trace): XenMachine {
    const domain = new XenDomain(
      "xen",
      {
        ...XEN_DEFAULTS,
        flavour: config.hypervisor === "kvm-xen" ? "kvm-xen" : "xen",
        vcpus: config.vcpus,
        width: config.guestWidth ?? XEN_DEFAULTS.width,
        maxEvtchnPort: config.maxEvtchnPort ?? XEN_DEFAULTS.maxEvtchnPort,
        type: config.xenDomain ?? "hvm",
        kvmRunstateArea: config.kvmRunstateArea ?? "copy_on_set",
        kvmWallclockSec: config.kvmWallclockSec ?? 0,
        kvmMasterClock: config.kvmMasterClock ?? false,
      },
      host,
      trace,
    );
    return { domain, kvm: new KvmXen(domain) };
  },
  writeHypercallPage: (mem: GuestMemory, value: bigint) => writeHypercallPage(mem, "xen", value),
};

provideXenParts(XEN_PARTS);
