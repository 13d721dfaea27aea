/**
 * The Xen model VMs are built with ({@link XenParts}), made available by
 * importing this module: lib/api/platform_loaders.ts loads it for
 * scenarios whose vms name a hypervisor other than KVM, `PLATFORMS` and
 * tests that build Xen VMs import it.
 *
 * @module
 */
import type { Trace } from "../core/trace.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import { XEN_DEFAULTS, XenDomain, type XenDomainConfig, type XenHost } from "./domain.ts";
import { KvmXen } from "./kvm_xen.ts";
import type { XenMachine } from "./platform.ts";
import { writeHypercallPage } from "./hypercall_page.ts";
import { provideXenParts, type XenParts } from "./parts.ts";

/** lib/xen's domain and KVM's Xen emulation, as a VM holds them. */
export const XEN_PARTS: XenParts = {
  defaults: XEN_DEFAULTS,
  machine(config: XenDomainConfig, host: XenHost, trace: Trace): XenMachine {
    const domain = new XenDomain("xen", config, host, trace);
    return { domain, kvm: new KvmXen(domain) };
  },
  writeHypercallPage: (mem: GuestMemory, value: bigint, insn: readonly number[]) =>
    writeHypercallPage(mem, "xen", value, insn),
};

provideXenParts(XEN_PARTS);
