/**
 * GIC priority arithmetic: implemented priority bits, group priority under a
 * binary point, the active priority (APR) bits and the running priority.
 *
 * A priority is 8 bits and lower is more urgent. KVM's virtual CPU interface
 * implements 5 bits (ICH_VTR_EL2.PRIbits = 4), so priorities are multiples
 * of 8, there are 32 preemption levels, and one 32-bit APR register per
 * group (AP0R0 / AP1R0) covers them all.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 4.8 "Interrupt prioritization" (4.8.3
 * "Preemption", 4.8.4 "Priority grouping", Table 4-7 and 4-8), 12.2
 * ICC_BPR0_EL1 / ICC_BPR1_EL1 / ICC_AP1R<n>_EL1; Arm IHI 0048B (GICv2) 3.3
 * "Interrupt prioritization" and GICC_BPR / GICC_ABPR; Linux
 * `arch/arm64/kvm/vgic/vgic.h` (VGIC_PRI_BITS).
 *
 * @module
 */

/**
 * Priority bits KVM implements (VGIC_PRI_BITS).
 *
 * @example
 * ```ts
 * 0x100 >> PRIORITY_BITS; // 8: priorities are multiples of 8
 * ```
 */
export const PRIORITY_BITS = 5;
/**
 * Preemption bits: all 5 (ICH_VTR_EL2.PREbits + 1).
 *
 * @example
 * ```ts
 * 7 - PREEMPTION_BITS; // 2: the smallest BPR0
 * ```
 */
export const PREEMPTION_BITS = 5;
/**
 * The smallest BPR0: 7 - PREbits = 2, which gives 5 group-priority bits.
 *
 * @example
 * ```ts
 * clampBpr(0, 0) === MIN_BPR0; // true
 * ```
 */
export const MIN_BPR0 = 7 - PREEMPTION_BITS;
/**
 * The smallest BPR1 is one more than the smallest BPR0.
 *
 * @example
 * ```ts
 * clampBpr(0, 1) === MIN_BPR1; // true
 * ```
 */
export const MIN_BPR1: number = MIN_BPR0 + 1;
/**
 * The running priority when nothing is active.
 *
 * @example
 * ```ts
 * runningPriority(0, 0) === IDLE_PRIORITY; // true: nothing active
 * ```
 */
export const IDLE_PRIORITY = 0xff;

/**
 * The group priority of `priority` under binary point `bpr`: for Group 0
 * (BPR0, and the GICv2 BPR) bits [7:bpr+1]; for Group 1 under BPR1 (and
 * the GICv2 ABPR) bits [7:bpr], one more bit than BPR0 for the same value.
 *
 * @example
 * ```ts
 * groupPriority(0xa8, 2, 0); // 0xa8: BPR0=2 keeps bits [7:3]
 * groupPriority(0xa8, 4, 1); // 0xa0: BPR1=4 keeps bits [7:4]
 * ```
 */
export function groupPriority(priority: number, bpr: number, group: number): number {
  const shift = group === 0 ? bpr + 1 : bpr;
  return shift >= 8 ? 0 : priority & ((0xff << shift) & 0xff);
}

/**
 * The APR bit an acknowledged interrupt of this group priority sets:
 * the group priority with the bits below the preemption field dropped.
 *
 * @example
 * ```ts
 * aprBit(0x80); // 16
 * ```
 */
export function aprBit(gprio: number): number {
  return gprio >> (MIN_BPR0 + 1);
}

/**
 * The running priority shown by the APR bits of both groups: the priority
 * of the lowest set bit, or 0xFF when none is set.
 *
 * @example
 * ```ts
 * runningPriority(0, 1 << 16); // 0x80
 * runningPriority(0, 0);       // 0xff
 * ```
 */
export function runningPriority(ap0: number, ap1: number): number {
  const both = (ap0 | ap1) >>> 0;
  if (both === 0) return IDLE_PRIORITY;
  const bit = 31 - Math.clz32(both & -both);
  return bit << (MIN_BPR0 + 1);
}

/**
 * Clamps a BPR write to the implemented minimum, as the spec requires
 * (writes below the minimum set the minimum).
 *
 * @example
 * ```ts
 * clampBpr(0, 1); // 3: BPR1 cannot go below MIN_BPR1
 * ```
 */
export function clampBpr(value: number, group: number): number {
  const v = value & 7;
  const min = group === 0 ? MIN_BPR0 : MIN_BPR1;
  return v < min ? min : v;
}
