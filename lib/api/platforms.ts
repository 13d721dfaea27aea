/**
 * The architectures irqlab models, in the order `scn help` lists them.
 *
 * @module
 */
import { type PlatformEntry, platformEntry } from "../core/platform.ts";
import { x86Platform } from "../x86/platform.ts";
import { armPlatform } from "../arm/platform.ts";

/** The x86 model (`arch x86_64`), as the registry holds it. */
export const X86: PlatformEntry = platformEntry(x86Platform);

/** The Arm model (`arch arm64`), as the registry holds it. */
export const ARM: PlatformEntry = platformEntry(armPlatform);

/** Every platform a scenario's `arch` can name. */
export const PLATFORMS: readonly PlatformEntry[] = [X86, ARM];
