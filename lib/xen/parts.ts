/**
 * The Xen model (lib/xen's domain, event channels, timers, KVM's Xen
 * emulation) as an x86 or Arm VM with a Xen domain is built with it,
 * loaded only for such VMs: most scenarios have none, and the model is
 * 180 KB of source (10 modules). The platform's tables (the Xen commands
 * and state paths the checker and `scn help` read, ./platform.ts) do not
 * import it.
 *
 * ./build.ts is the model, and registers itself here when imported
 * ({@link provideXenParts}): a command imports it before it builds VMs when
 * a scenario's vm names a hypervisor other than KVM
 * (lib/api/platform_loaders.ts), `PLATFORMS` (lib/api/platforms.ts) always
 * does, and so does a module that builds Xen VMs itself (a test).
 *
 * @module
 */
import { ModelPart } from "../core/model_part.ts";
import type { Trace } from "../core/trace.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import type { XenDomainConfig, XenHost } from "./domain.ts";
import type { XenMachine } from "./platform.ts";

/** What a VM needs of the Xen model: made by ./build.ts. */
export interface XenParts {
  /** `XEN_DEFAULTS` of ./domain.ts: what a VM's configuration leaves unsaid. */
  readonly defaults: XenDomainConfig;
  /** The VM's Xen domain (`XenDomain`) and KVM's Xen emulation over it (`KvmXen`). */
  machine(config: XenDomainConfig, host: XenHost, trace: Trace): XenMachine;
  /**
   * Xen's hypercall page, written at an x86 guest's write of the hypercall
   * MSR (`writeHypercallPage` of ./hypercall_page.ts), its stubs holding
   * `insn`, the host's hypercall instruction: why it was refused, or null.
   */
  writeHypercallPage(mem: GuestMemory, value: bigint, insn: readonly number[]): string | null;
}

const slot = new ModelPart<XenParts>(
  "the Xen model (lib/xen/build.ts; see lib/xen/parts.ts)",
);

/**
 * Makes `p` the Xen model VMs are built with: ./build.ts's, when it is
 * loaded.
 *
 * @example
 * ```ts
 * declare const p: XenParts;
 * provideXenParts(p);
 * xenParts() === p; // true
 * ```
 */
export function provideXenParts(p: XenParts): void {
  slot.provide(p);
}

/**
 * The Xen model, for building a VM with one; an internal error if
 * ./build.ts was not loaded.
 *
 * @example
 * ```ts
 * await import("./build.ts");
 * typeof xenParts().machine; // "function"
 * ```
 */
export function xenParts(): XenParts {
  return slot.get();
}
