/**
 * Error numbers that Xen hypercalls and KVM's Xen ioctls return (negated).
 * Xen's public `xen/include/public/errno.h` uses the same values as Linux on
 * x86 for everything the event-channel paths return, so one table serves
 * both hypervisor models.
 *
 * Sources: Xen `xen/include/public/errno.h` (XEN_EPERM ... XEN_ENOSYS);
 * Linux `include/uapi/asm-generic/errno-base.h` and `errno.h` (ENOTCONN,
 * EOPNOTSUPP; EBADF for a bad eventfd given to KVM_XEN_ATTR_TYPE_EVTCHN).
 *
 * @example
 * ```ts
 * import { XEN_ERRNO } from "./errno.ts";
 * -XEN_ERRNO.ENOSPC; // -28: no free event-channel port
 * ```
 *
 * @module
 */

/**
 * The errno values the Xen model uses, by name.
 *
 * @example
 * ```ts
 * XEN_ERRNO.EINVAL; // 22
 * ```
 */
export const XEN_ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  ENXIO: 6,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  ETIME: 62,
  EOPNOTSUPP: 95,
  ENOTCONN: 107,
} as const;

/**
 * One of the names in {@link XEN_ERRNO}.
 *
 * @example
 * ```ts
 * const n: XenErrnoName = "ENOSPC";
 * ```
 */
export type XenErrnoName = keyof typeof XEN_ERRNO;

/**
 * The name of a negative return value, for traces (`-22` → `-EINVAL`).
 *
 * @example
 * ```ts
 * errnoName(-28); // "-ENOSPC"
 * errnoName(5);   // "5"
 * ```
 */
export function errnoName(rc: number): string {
  if (rc >= 0) return String(rc);
  const e = Object.entries(XEN_ERRNO).find(([, v]) => v === -rc);
  return e ? `-${e[0]}` : String(rc);
}
