/**
 * KVM's Hyper-V emulation as x86 VMs are built with it ({@link HypervParts}),
 * made available by importing this module: lib/api/platform_loaders.ts
 * loads it for scenarios whose vms name `hyperv_cpuid` or `hyperv_synic`;
 * `PLATFORMS` and tests that build such VMs import it.
 *
 * @module
 */
import { HvPartition } from "./hyperv_hypercall.ts";
import { HvSynic } from "./hyperv_synic.ts";
import { HvStimer } from "./hyperv_stimer.ts";
import { findByVpIndex, HvVcpu } from "./hyperv_vcpu.ts";
import { type HypervParts, provideHypervParts } from "./hyperv_parts.ts";

/** The classes of ./hyperv_parts.ts. */
export const HYPERV_PARTS: HypervParts = {
  HvPartition,
  HvSynic,
  HvStimer,
  HvVcpu,
  findByVpIndex,
};

provideHypervParts(HYPERV_PARTS);
