/**
 * The x86 model's registry entry with KVM's Hyper-V emulation loaded
 * (lib/x86/hyperv_parts.ts), for a command whose scenarios have Hyper-V VMs:
 * one dynamic import of the two, as lib/api/x86_xen.ts is for Xen.
 *
 * @module
 */
import "../x86/hyperv_build.ts";

export { X86 } from "./x86.ts";
