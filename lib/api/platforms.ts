/**
 * The architectures irqlab models, in the order `scn help` lists them.
 *
 * @module
 */
import type { Platform } from "../core/platform.ts";
import { x86Platform } from "../x86/platform.ts";
import { armPlatform } from "../arm/platform.ts";

/** Every platform a scenario's `arch` can name. */
export const PLATFORMS: readonly Platform[] = [
  x86Platform as unknown as Platform,
  armPlatform as unknown as Platform,
];
