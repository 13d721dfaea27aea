/**
 * The Linux errno values KVM's arm64 vGIC, ITS, timer and routing code
 * returns (negated), from `include/uapi/asm-generic/errno-base.h`, in one
 * place for the Arm model.
 *
 * @example
 * ```ts
 * import { EINVAL } from "./errno.ts";
 * const r = -EINVAL; // -22: a misaligned vGIC base address, say
 * ```
 *
 * @module
 */

/**
 * "No such file or directory": a redistributor region index with no region.
 *
 * @example
 * ```ts
 * -ENOENT; // -2
 * ```
 */
export const ENOENT = 2;

/**
 * "No such device or address": an attribute group or address type the device does not have.
 *
 * @example
 * ```ts
 * -ENXIO; // -6
 * ```
 */
export const ENXIO = 6;

/**
 * "Argument list too long": an address past the IPA space, a GICv2 with more than 8 vCPUs.
 *
 * @example
 * ```ts
 * -E2BIG; // -7
 * ```
 */
export const E2BIG = 7;

/**
 * "Permission denied": KVM cannot save a forwarded vLPI's state (GICv4.0).
 *
 * @example
 * ```ts
 * -EACCES; // -13
 * ```
 */
export const EACCES = 13;

/**
 * "Bad address": a device attribute whose user pointer KVM cannot read (`get_user` on NULL).
 *
 * @example
 * ```ts
 * -EFAULT; // -14
 * ```
 */
export const EFAULT = 14;

/**
 * "Device or resource busy": before CTRL_INIT, an ITS disabled or a target without EnableLPIs.
 *
 * @example
 * ```ts
 * -EBUSY; // -16
 * ```
 */
export const EBUSY = 16;

/**
 * "File exists": an address set twice, a vCPU id in use, an ICID restored twice.
 *
 * @example
 * ```ts
 * -EEXIST; // -17
 * ```
 */
export const EEXIST = 17;

/**
 * "No such device": KVM_SIGNAL_MSI without an ITS.
 *
 * @example
 * ```ts
 * -ENODEV; // -19
 * ```
 */
export const ENODEV = 19;

/**
 * "Invalid argument".
 *
 * @example
 * ```ts
 * -EINVAL; // -22
 * ```
 */
export const EINVAL = 22;
