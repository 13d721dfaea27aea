/**
 * The one way in (lib/load/targets.ts) with irqlab's own platforms by
 * default: what every command but `scn run` and `scn check` uses (those
 * load only the models their scenarios name).
 *
 * @module
 */
import { PLATFORMS } from "../api/platforms.ts";
import type { PlatformEntry } from "../core/platform.ts";
import * as targets from "./targets.ts";
import type { Loaded, Source } from "./targets.ts";

export {
  type ErrorOutcome,
  errorOutcome,
  inHost,
  type InputError,
  type Loaded,
  missingOutcome,
  readTarget,
  type Source,
} from "./targets.ts";

/** Options of {@link loadTarget}: those of lib/load/targets.ts, the platforms optional. */
export type LoadOptions = Omit<targets.LoadOptions, "platforms"> & {
  /** Platforms to check against; irqlab's own by default. */
  platforms?: readonly PlatformEntry[];
};

function withPlatforms(options: LoadOptions): targets.LoadOptions {
  return { ...options, platforms: options.platforms ?? PLATFORMS };
}

/**
 * Every scenario a target names, checked (lib/load/targets.ts `loadTarget`).
 *
 * @example
 * ```ts
 * for (const l of loadTarget("scenarios/seeds/001_unmask_bug.scn")) {
 *   if (l.kind === "program") l.program.title;
 * }
 * ```
 */
export function loadTarget(target: string, options: LoadOptions = {}): Loaded[] {
  return targets.loadTarget(target, withPlatforms(options));
}

/**
 * The first scenario a target names, checked (lib/load/targets.ts `loadOne`).
 *
 * @example
 * ```ts
 * const l = loadOne("tests/fixtures/hosts/two_fenced.md:12");
 * ```
 */
export function loadOne(target: string, options: LoadOptions = {}): Loaded {
  return targets.loadOne(target, withPlatforms(options));
}

/**
 * Checks a source read by `readTarget` (lib/load/targets.ts `checkSource`).
 *
 * @example
 * ```ts
 * const text = 'scenario "t"\nvm g { arch x86_64 }\n';
 * checkSource({ name: "t.scn", path: "t.scn", text, body: text, quote: text });
 * ```
 */
export function checkSource(source: Source, options: LoadOptions = {}): Loaded {
  return targets.checkSource(source, withPlatforms(options));
}
