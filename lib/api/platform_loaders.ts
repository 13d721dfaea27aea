/**
 * The platforms of `PLATFORMS` (lib/api/platforms.ts) as names and loaders, for a command
 * that loads only the models its scenarios name: the models are most of
 * the code `scn run` loads, and one x86 scenario's run is mostly start-up.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { X86_ARCH, X86_HYPERVISORS } from "../x86/arch.ts";
import { ARM_ARCH } from "../arm/arch.ts";

/** One platform of `PLATFORMS` (lib/api/platforms.ts): its `arch` names, and its entry once loaded. */
export interface PlatformLoader {
  /** The `arch` values it implements, as its `Platform.arch`. */
  readonly arch: readonly string[];
  /**
   * Loads its model; the same entry `PLATFORMS` (lib/api/platforms.ts)
   * holds. `hypervisors`, the `hypervisor` words of the scenarios' vms
   * (undefined for one that is not a name), tells which of the parts that
   * only some VMs are built with to load too: all of them when undefined.
   */
  load(hypervisors?: readonly (string | undefined)[]): Promise<PlatformEntry>;
}

/**
 * Whether a VM named by one of `hypervisors` may be an x86 VM with a Xen
 * domain: every x86 hypervisor but the default has one.
 */
function x86Xen(hypervisors: readonly (string | undefined)[] | undefined): boolean {
  return hypervisors === undefined || hypervisors.some((h) => h !== X86_HYPERVISORS[0]);
}

/** Every platform, in the order of `PLATFORMS` (lib/api/platforms.ts). */
export const PLATFORM_LOADERS: readonly PlatformLoader[] = [
  {
    arch: X86_ARCH,
    load: async (hypervisors) => {
      // The Xen model registers itself (lib/x86/xen_parts.ts) when loaded.
      const [{ X86 }] = await Promise.all([
        import("./x86.ts"),
        x86Xen(hypervisors) ? import("../x86/xen_build.ts") : undefined,
      ]);
      return X86;
    },
  },
  { arch: ARM_ARCH, load: async () => (await import("./arm.ts")).ARM },
];

/**
 * The platforms `arches` name, loaded, in the order of `PLATFORMS` (lib/api/platforms.ts),
 * with the parts of them that the `hypervisor` words of the scenarios' vms
 * need (every part when `hypervisors` is undefined).
 * An undefined or unknown name loads every platform, whole: a scenario whose
 * models cannot be told without checking it (a vm without `arch`, an
 * include) is checked against all of them, as it would be without this,
 * so that its diagnostics (which list the architectures) are the same.
 *
 * @example
 * ```ts
 * const [x86] = await loadPlatforms(["x86_64"], []);
 * x86.arch; // ["x86_64"]
 * ```
 */
export async function loadPlatforms(
  arches: readonly (string | undefined)[],
  hypervisors?: readonly (string | undefined)[],
): Promise<PlatformEntry[]> {
  const known = (a: string | undefined) => PLATFORM_LOADERS.some((l) => l.arch.includes(a!));
  const all = !arches.every(known);
  const wanted = PLATFORM_LOADERS.filter((l) => all || l.arch.some((a) => arches.includes(a)));
  return await Promise.all(wanted.map((l) => l.load(all ? undefined : hypervisors)));
}
