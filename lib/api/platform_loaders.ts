/**
 * The platforms of `PLATFORMS` (lib/api/platforms.ts) as names and loaders, for a command
 * that loads only the models its scenarios name: the models are most of
 * the code `scn run` loads, and one x86 scenario's run is mostly start-up.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { X86_ARCH, X86_HYPERV_SETTINGS, X86_HYPERVISORS } from "../x86/arch.ts";
import { ARM_ARCH, ARM_HYPERVISORS } from "../arm/arch.ts";

/**
 * The `vm` settings whose words tell which parts of a model a scenario's
 * VMs are built with (lib/load/arches.ts reads them from the tree):
 * `hypervisor` (Xen, on x86 and Arm) and x86's Hyper-V settings.
 */
export const PART_WORDS: readonly string[] = ["hypervisor", ...X86_HYPERV_SETTINGS];

/**
 * The words of {@link PART_WORDS} the scenarios' vms give, by setting (a
 * value that is not a name is undefined); undefined when they cannot be
 * told, which loads every part.
 */
export type PartWords = ReadonlyMap<string, readonly (string | undefined)[]> | undefined;

/** One platform of `PLATFORMS` (lib/api/platforms.ts): its `arch` names, and its entry once loaded. */
export interface PlatformLoader {
  /** The `arch` values it implements, as its `Platform.arch`. */
  readonly arch: readonly string[];
  /**
   * Loads its model, with the parts of it that only some VMs are built with
   * when `words` name them (all of them when undefined); the same entry
   * `PLATFORMS` (lib/api/platforms.ts) holds.
   */
  load(words?: PartWords): Promise<PlatformEntry>;
}

/** The values `words` give `setting`: none when it is not named. */
const given = (words: PartWords, setting: string) => words?.get(setting) ?? [];

/**
 * Whether a VM may have a Xen domain: a `hypervisor` word other than the
 * default (`kvm`, the first of the architecture's `hypervisors`), or words
 * that cannot be told.
 */
function xen(words: PartWords, hypervisors: readonly string[]): boolean {
  return words === undefined || given(words, "hypervisor").some((h) => h !== hypervisors[0]);
}

/** Whether an x86 VM may have KVM's Hyper-V emulation: a Hyper-V setting named at all. */
function x86Hyperv(words: PartWords): boolean {
  return words === undefined || X86_HYPERV_SETTINGS.some((s) => given(words, s).length > 0);
}

/** Every platform, in the order of `PLATFORMS` (lib/api/platforms.ts). */
export const PLATFORM_LOADERS: readonly PlatformLoader[] = [
  {
    arch: X86_ARCH,
    load: async (words) => {
      // Each part registers itself (lib/xen/parts.ts, lib/x86/hyperv_parts.ts) when loaded, in one
      // dynamic import with the model where it can: a second import costs a run about 2 ms.
      const hyperv = x86Hyperv(words);
      if (!xen(words, X86_HYPERVISORS)) {
        return (await (hyperv ? import("./x86_hyperv.ts") : import("./x86.ts"))).X86;
      }
      const [{ X86 }] = await Promise.all([
        import("./x86_xen.ts"),
        hyperv ? import("../x86/hyperv_build.ts") : undefined,
      ]);
      return X86;
    },
  },
  {
    arch: ARM_ARCH,
    load: async (words) =>
      (await (xen(words, ARM_HYPERVISORS) ? import("./arm_xen.ts") : import("./arm.ts"))).ARM,
  },
];

/**
 * The platforms `arches` name, loaded, in the order of `PLATFORMS` (lib/api/platforms.ts),
 * with the parts of them that `words` (the scenarios' vms' words of
 * {@link PART_WORDS}) need: every part when `words` is undefined.
 * An undefined or unknown name loads every platform, whole: a scenario whose
 * models cannot be told without checking it (a vm without `arch`, an
 * include) is checked against all of them, as it would be without this,
 * so that its diagnostics (which list the architectures) are the same.
 *
 * @example
 * ```ts
 * const [x86] = await loadPlatforms(["x86_64"], new Map());
 * x86.arch; // ["x86_64"]
 * ```
 */
export async function loadPlatforms(
  arches: readonly (string | undefined)[],
  words?: PartWords,
): Promise<PlatformEntry[]> {
  const known = (a: string | undefined) => PLATFORM_LOADERS.some((l) => l.arch.includes(a!));
  const all = !arches.every(known);
  const wanted = PLATFORM_LOADERS.filter((l) => all || l.arch.some((a) => arches.includes(a)));
  return await Promise.all(wanted.map((l) => l.load(all ? undefined : words)));
}
