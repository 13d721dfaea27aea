/**
 * The x86 model's registry entry with Xen's implementation loaded
 * (lib/xen/parts.ts), for a command whose scenarios have Xen VMs: one
 * dynamic import of the two instead of two side by side, which cost a
 * `scn run` of one Xen scenario about 2 ms more CPU
 * (lib/api/platform_loaders.ts).
 *
 * @module
 */
import "../xen/build.ts";

export { X86 } from "./x86.ts";
