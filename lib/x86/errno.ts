/**
 * Linux errno values that KVM's interrupt ioctls return (negated), as listed
 * in the kernel's `include/uapi/asm-generic/errno-base.h`. Models return
 * `-EINVAL` and friends exactly where KVM does so that a scenario can assert
 * the ioctl's result.
 *
 * @example
 * ```ts
 * import { EINVAL } from "./errno.ts";
 * const r = -EINVAL; // -22, what KVM_SET_GSI_ROUTING returns for a bad table
 * ```
 *
 * @module
 */

/**
 * "No such device or address": KVM_IRQ_LINE or KVM_INTERRUPT with the wrong irqchip mode.
 *
 * @example
 * ```ts
 * -ENXIO; // -6
 * ```
 */
export const ENXIO = 6;

/**
 * "File exists": KVM_INTERRUPT while an ExtINT vector is already pending (split irqchip).
 *
 * @example
 * ```ts
 * -EEXIST; // -17
 * ```
 */
export const EEXIST = 17;

/**
 * "Invalid argument": a rejected routing table or MSI.
 *
 * @example
 * ```ts
 * -EINVAL; // -22
 * ```
 */
export const EINVAL = 22;

/**
 * "Device or resource busy": KVM_IRQFD with an eventfd the VM already has.
 *
 * @example
 * ```ts
 * -EBUSY; // -16
 * ```
 */
export const EBUSY = 16;
