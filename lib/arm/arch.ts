/**
 * The `arch` names the Arm model implements, in a module of their own: the
 * command line reads them to tell which models a scenario needs before it
 * loads any (lib/api/platform_loaders.ts).
 *
 * @module
 */

/** The `arch` values of the Arm model (`vm g { arch arm64 }`). */
export const ARM_ARCH: readonly string[] = ["arm64"];

/**
 * The `hypervisor` values of an Arm VM (`vm g { arch arm64  hypervisor xen }`),
 * default first. `xen` gives the VM a Xen domain, whose model is loaded
 * only for scenarios that name one (lib/xen/parts.ts).
 */
export const ARM_HYPERVISORS: readonly string[] = ["kvm", "xen"];
