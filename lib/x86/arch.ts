/**
 * The `arch` names the x86 model implements, in a module of their own: the
 * command line reads them to tell which models a scenario needs before it
 * loads any (lib/api/platform_loaders.ts).
 *
 * @module
 */

/** The `arch` values of the x86 model (`vm g { arch x86_64 }`). */
export const X86_ARCH: readonly string[] = ["x86_64"];

/**
 * The `hypervisor` values of an x86 vm (`vm g { hypervisor kvm-xen }`), the
 * default first. Every other one gives the VM a Xen domain, whose model is
 * loaded only for scenarios that name one (lib/xen/parts.ts).
 */
export const X86_HYPERVISORS: readonly string[] = ["kvm", "xen", "kvm-xen"];

/**
 * The `vm` settings that give an x86 VM KVM's Hyper-V emulation
 * (`hyperv_cpuid 1`, `hyperv_synic 2`), whose model is loaded only for
 * scenarios that name one of them (lib/x86/hyperv_parts.ts).
 */
export const X86_HYPERV_SETTINGS: readonly string[] = ["hyperv_cpuid", "hyperv_synic"];
