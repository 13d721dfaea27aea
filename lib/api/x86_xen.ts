/**
 * The x86 model's registry entry with Xen's implementation loaded
 * (lib/x86/xen_parts.ts), for a command whose scenarios have Xen VMs: one
 * dynamic import of the two instead of two side by side, which cost a
 * `scn run` of one Xen scenario about 2 ms more CPU
 * (lib/api/platform_loaders.ts).
 *
 * @module
 */
import "../x86/xen_build.ts";

export { X86 } from "./x86.ts";
