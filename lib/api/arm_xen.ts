/**
 * The Arm model's registry entry with Xen's implementation loaded
 * (lib/xen/parts.ts), for a command whose scenarios have Arm VMs with
 * `hypervisor xen`: one dynamic import of the two, as lib/api/x86_xen.ts
 * for x86 (lib/api/platform_loaders.ts).
 *
 * @module
 */
import "../xen/build.ts";

export { ARM } from "./arm.ts";
