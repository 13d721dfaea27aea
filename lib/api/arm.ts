/**
 * The Arm model's registry entry on its own, so that a command can load it
 * without the x86 model (lib/api/platform_loaders.ts).
 *
 * @module
 */
import { type PlatformEntry, platformEntry } from "../core/platform.ts";
import { armPlatform } from "../arm/platform.ts";

/** The Arm model (`arch arm64`), as the registry holds it. */
export const ARM: PlatformEntry = platformEntry(armPlatform);
