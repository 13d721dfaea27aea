/**
 * A stand-in for the x86 machine around a {@link XenDomain}, for unit tests
 * of the Xen model without a VM: it records IRR bits, kicks, GSI levels and
 * blocking, and owns a virtual clock and event queue.
 *
 * @module
 */
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { XEN_DEFAULTS, XenDomain, type XenDomainConfig, type XenHost } from "./domain.ts";

/**
 * A recording {@link XenHost}.
 *
 * @example
 * ```ts
 * const { domain, host } = fakeDomain({ vcpus: 2 });
 * domain.callback.setUpcallVector(1, 0xf2);
 * host.irr[1]; // [0xf2]: the registration-time spurious event
 * ```
 */
export class FakeHost implements XenHost {
  time = 0;
  readonly queue = new EventQueue();
  readonly irr: number[][];
  readonly kicks: number[] = [];
  readonly gsi = new Map<number, 0 | 1>();
  readonly enabled: boolean[];
  readonly interruptible: boolean[];
  readonly blocked: boolean[];
  /** The host's hypercall instruction the page's stubs get: VMCALL (an Intel host) unless set. */
  insn: readonly number[] = [0x0f, 0x01, 0xc1];

  constructor(vcpus: number) {
    this.irr = Array.from({ length: vcpus }, () => []);
    this.enabled = Array.from({ length: vcpus }, () => true);
    this.interruptible = Array.from({ length: vcpus }, () => false);
    this.blocked = Array.from({ length: vcpus }, () => false);
  }

  now(): number {
    return this.time;
  }
  halted(n: number): boolean {
    return this.blocked[n];
  }
  lapicEnabled(n: number): boolean {
    return this.enabled[n];
  }
  lapicSetIrr(n: number, vector: number): void {
    if (this.enabled[n] && !this.irr[n].includes(vector)) this.irr[n].push(vector);
  }
  kick(n: number): void {
    this.kicks.push(n);
  }
  setGsiLevel(gsi: number, level: 0 | 1): void {
    this.gsi.set(gsi, level);
  }
  interruptDeliverable(n: number): boolean {
    return this.interruptible[n];
  }
  setBlocked(n: number, b: boolean): void {
    this.blocked[n] = b;
  }
  /** The bytes of {@link insn}. */
  hypercallInsn(): readonly number[] {
    return this.insn;
  }

  /** Advances the clock to `t`, firing due events. */
  advance(t: number): void {
    for (;;) {
      const e = this.queue.peek();
      if (!e || e.time > t) break;
      this.queue.pop();
      this.time = e.time;
      e.fire();
    }
    this.time = t;
  }
}

/**
 * A domain on a {@link FakeHost}.
 *
 * @example
 * ```ts
 * const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
 * ```
 */
export function fakeDomain(
  config: Partial<XenDomainConfig> = {},
): { domain: XenDomain; host: FakeHost; trace: Trace } {
  const c = { ...XEN_DEFAULTS, ...config };
  const host = new FakeHost(c.vcpus);
  const trace = new Trace(() => host.time);
  return { domain: new XenDomain("xen", c, host, trace), host, trace };
}
