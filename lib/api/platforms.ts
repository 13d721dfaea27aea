/**
 * The architectures irqlab models, in the order `scn help` lists them.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { X86 } from "./x86.ts";
import { ARM } from "./arm.ts";
// Whole models: x86 VMs with a Xen domain or Hyper-V too (lib/xen/parts.ts, lib/x86/hyperv_parts.ts).
import "../xen/build.ts";
import "../x86/hyperv_build.ts";

export { ARM, X86 };

/** Every platform a scenario's `arch` can name. */
export const PLATFORMS: readonly PlatformEntry[] = [X86, ARM];
