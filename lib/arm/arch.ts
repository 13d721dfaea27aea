/**
 * The `arch` names the Arm model implements, in a module of their own: the
 * command line reads them to tell which models a scenario needs before it
 * loads any (lib/api/platform_loaders.ts).
 *
 * @module
 */

/** The `arch` values of the Arm model (`vm g { arch arm64 }`). */
export const ARM_ARCH: readonly string[] = ["arm64"];
