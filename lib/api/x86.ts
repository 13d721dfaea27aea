/**
 * The x86 model's registry entry on its own, so that a command can load it
 * without the Arm model (lib/api/platform_loaders.ts).
 *
 * @module
 */
import { type PlatformEntry, platformEntry } from "../core/platform.ts";
import { x86Platform } from "../x86/platform.ts";

/** The x86 model (`arch x86_64`), as the registry holds it. */
export const X86: PlatformEntry = platformEntry(x86Platform);
