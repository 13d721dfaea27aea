/**
 * How an HVM guest is told that events are pending ("the upcall"):
 * HVM_PARAM_CALLBACK_IRQ (a GSI, a PCI INTx line, or the global callback
 * vector) and the per-vCPU LAPIC vector of HVMOP_set_evtchn_upcall_vector,
 * with Xen's precedence between them.
 *
 * Sources: Xen `xen/include/public/hvm/params.h` (HVM_PARAM_CALLBACK_IRQ
 * encoding, HVM_PARAM_CALLBACK_TYPE_*), `xen/include/public/hvm/hvm_op.h`
 * (HVMOP_set_evtchn_upcall_vector), `xen/arch/x86/hvm/irq.c`
 * (`hvm_assert_evtchn_irq`, `hvm_set_callback_irq_level`,
 * `hvm_maybe_deassert_evtchn_irq`, `hvm_set_callback_via`,
 * `hvm_vcpu_has_pending_irq`), `xen/arch/x86/hvm/hvm.c`
 * (`hvmop_set_evtchn_upcall_vector`), `xen/arch/x86/hvm/vlapic.c` (SVR
 * enable re-asserts the vector; Xen f5d0279839), `xen/include/xen/hvm/irq.h`
 * (`hvm_pci_intx_gsi`). kvm-xen: Linux `arch/x86/kvm/xen.c`
 * (`kvm_xen_inject_vcpu_vector`, `kvm_xen_has_interrupt`,
 * `kvm_xen_sw_enable_lapic`, KVM_XEN_ATTR_TYPE_UPCALL_VECTOR,
 * KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR) and `arch/x86/kvm/irq.c`
 * (`kvm_cpu_has_extint`: the global vector is checked before LVT0).
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import type { Trace } from "../core/trace.ts";
import type { Flavour, XenDomainType } from "./evtchn.ts";
import { XEN_ERRNO } from "./errno.ts";
import { NR_HVM_DOMU_IRQS } from "./abi.ts";
export { NR_HVM_DOMU_IRQS } from "./abi.ts";

/**
 * The decoded HVM_PARAM_CALLBACK_IRQ.
 *
 * @example
 * ```ts
 * const via: CallbackVia = { type: "gsi", gsi: 20 };
 * ```
 */
export type CallbackVia =
  | { type: "none" }
  | { type: "gsi"; gsi: number }
  | { type: "pci_intx"; device: number; pin: number; gsi: number }
  | { type: "vector"; vector: number };

/**
 * HVM_PARAM_CALLBACK_IRQ (param index 0).
 *
 * @example
 * ```ts
 * HVM_PARAM_CALLBACK_IRQ; // 0
 * ```
 */
export const HVM_PARAM_CALLBACK_IRQ = 0;

/**
 * The GSI that Xen's virtual PCI host bridge wires device `dev`, pin `intx`
 * (0 = INTA) to: 16 + ((dev·4 + dev/8 + intx) mod 32).
 *
 * @example
 * ```ts
 * pciIntxGsi(3, 1); // 29
 * ```
 */
export function pciIntxGsi(dev: number, intx: number): number {
  return (((dev << 2) + (dev >> 3) + intx) & 31) + 16;
}

/**
 * kvm-xen: the GSIs QEMU can drive as the callback (`nr_callback_gsis`, its
 * I/O APIC's `IOAPIC_NUM_PINS`). `xen_evtchn_set_callback_param` keeps the
 * GSI as a 32-bit number without checking it, and
 * `xen_evtchn_set_callback_level` raises nothing for GSI 0 or one at or
 * past this.
 *
 * @example
 * ```ts
 * QEMU_CALLBACK_GSIS; // 24
 * ```
 */
export const QEMU_CALLBACK_GSIS = 24;

/**
 * Decodes a HVM_PARAM_CALLBACK_IRQ value: type in bits 63:56; GSI in the
 * low bits (Xen keeps 8); PCI INTx device in bits 15:11 and pin in 1:0
 * (domain, bus and function are ignored); vector in 7:0. Any other type is
 * "none", and setting it still succeeds.
 *
 * @example
 * ```ts
 * decodeCallbackVia((2n << 56n) | 0xf3n); // { type: "vector", vector: 0xf3 }
 * decodeCallbackVia((1n << 56n) | (3n << 11n) | 1n); // PCI device 3 INTB
 * ```
 */
export function decodeCallbackVia(value: bigint): CallbackVia {
  if (value === 0n) return { type: "none" };
  const type = Number((value >> 56n) & 0xffn);
  switch (type) {
    case 0:
      return { type: "gsi", gsi: Number(value & 0xffn) };
    case 1: {
      const device = Number((value >> 11n) & 0x1fn);
      const pin = Number(value & 3n);
      return { type: "pci_intx", device, pin, gsi: pciIntxGsi(device, pin) };
    }
    case 2:
      return { type: "vector", vector: Number(value & 0xffn) };
    default:
      return { type: "none" };
  }
}

/**
 * Encodes a callback method back into the parameter value.
 *
 * @example
 * ```ts
 * encodeCallbackVia({ type: "vector", vector: 0xf3 }); // 0x02000000000000f3n
 * ```
 */
export function encodeCallbackVia(via: CallbackVia): bigint {
  switch (via.type) {
    case "none":
      return 0n;
    case "gsi":
      return BigInt(via.gsi);
    case "pci_intx":
      return (1n << 56n) | (BigInt(via.device) << 11n) | BigInt(via.pin);
    case "vector":
      return (2n << 56n) | BigInt(via.vector);
  }
}

/**
 * What the callback logic drives on the x86 side.
 *
 * @example
 * ```ts
 * declare const host: UpcallHost;
 * host.lapicSetIrr(1, 0xf2); // what a per-vCPU upcall does
 * ```
 */
export interface UpcallHost {
  /** The vLAPIC of `vcpu` is software-enabled (SVR bit 8). */
  lapicEnabled(vcpu: number): boolean;
  /**
   * Xen `vlapic_set_irq(vlapic, vector, 0)`: an edge-triggered IRR bit.
   * kvm-xen: a fixed, physical, edge MSI to APIC ID = the vCPU's id.
   */
  lapicSetIrr(vcpu: number, vector: number): void;
  /** Wake the vCPU (from HLT, SCHEDOP_block or SCHEDOP_poll) so it re-checks. */
  kick(vcpu: number): void;
  /** Drive a GSI's level (vIOAPIC, and the vPIC for GSI < 16). */
  setGsiLevel(gsi: number, level: 0 | 1): void;
  /**
   * The architecture's own upcall, where it has one: on Arm, Xen's
   * `vcpu_mark_events_pending` ends in `vgic_inject_irq(d, v,
   * d->arch.evtchn_irq, true)`, the PPI GUEST_EVTCHN_PPI (31) made pending
   * on vCPU `vcpu`'s redistributor. A host that has it gets every upcall
   * this way; HVM_PARAM_CALLBACK_IRQ and per-vCPU vectors are x86 only.
   */
  injectEvtchnIrq?(vcpu: number): void;
}

/**
 * The domain's callback configuration and the assert/deassert rules.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const host: UpcallHost, trace: Trace, up: boolean[];
 * const cb = new Callback("xen", 2, host, (n) => up[n], trace, "xen");
 * cb.setParam((2n << 56n) | 0xf3n);
 * cb.assert(0);            // kick: the vector is offered at the next entry
 * cb.globalVector(0);      // 0xf3 while vCPU 0's UP is 1
 * ```
 */
export class Callback {
  via: CallbackVia = { type: "none" };
  /** Per-vCPU upcall vector, 0 = none (`v->arch.hvm.evtchn_upcall_vector`). */
  readonly perVcpu: Uint8Array;
  /** `callback_via_asserted`: the GSI/INTx line is high. */
  lineAsserted = false;

  constructor(
    readonly flavour: Flavour,
    readonly vcpus: number,
    readonly host: UpcallHost,
    /** vCPU n's evtchn_upcall_pending as the hypervisor reads it. */
    readonly upcallPending: (n: number) => boolean,
    readonly trace: Trace,
    readonly name: string,
    /** Xen's domain type: a PVH domain has no vPIC or vIOAPIC for a callback line. */
    readonly domainType: XenDomainType = "hvm",
  ) {
    this.perVcpu = arenaU8(vcpus);
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }

  /**
   * `is_hvm_pv_evtchn_domain`: the global vector is configured, or vCPU 0
   * has a per-vCPU vector.
   */
  get vectorDelivery(): boolean {
    return this.via.type === "vector" || this.perVcpu[0] !== 0;
  }

  /**
   * `hvm_assert_evtchn_irq(v)`, first match wins: (1) a per-vCPU vector sets
   * IRR if the vLAPIC is enabled; (2) vector delivery kicks the vCPU (the
   * global vector is offered at entry while UP=1); (3) vCPU 0 drives the
   * GSI/INTx line to its UP; (4) anything else is silent.
   *
   * kvm-xen: KVM injects the per-vCPU vector as an MSI (dropped by a
   * disabled LAPIC), kicks for the global vector, and has no GSI/INTx
   * callback of its own: the VMM (QEMU) drives the line from vCPU 0's UP,
   * which is modelled with Xen's rule.
   */
  assert(vcpu: number): void {
    if (this.domainType === "pv") {
      // vcpu_mark_events_pending: a PV vCPU is only kicked; the callback runs on its way back.
      this.#emit("upcall.pv", `vcpu${vcpu}: kicked: the event callback is due while unmasked`);
      this.host.kick(vcpu);
      return;
    }
    if (this.host.injectEvtchnIrq) {
      this.#emit("upcall.ppi", `vcpu${vcpu}: event-channel PPI injected`);
      this.host.injectEvtchnIrq(vcpu);
      this.host.kick(vcpu);
      return;
    }
    const vec = this.perVcpu[vcpu];
    if (vec !== 0) {
      if (this.flavour === "kvm-xen" || this.host.lapicEnabled(vcpu)) {
        this.#emit("upcall.vector", `vcpu${vcpu}: per-vCPU vector 0x${vec.toString(16)} -> IRR`);
        this.host.lapicSetIrr(vcpu, vec);
      } else {
        this.#emit("upcall.deferred", `vcpu${vcpu}: vLAPIC disabled, vector set on SVR enable`);
      }
      this.host.kick(vcpu);
      return;
    }
    if (this.vectorDelivery) {
      this.#emit(
        "upcall.kick",
        this.via.type === "vector"
          ? `vcpu${vcpu}: global vector 0x${this.via.vector.toString(16)} offered while UP=1`
          : `vcpu${vcpu}: kicked (vector delivery, but no vector for this vCPU)`,
      );
      this.host.kick(vcpu);
      return;
    }
    if (vcpu === 0) {
      this.updateLine();
      this.host.kick(vcpu);
      return;
    }
    this.#emit("upcall.none", `vcpu${vcpu}: no callback for vCPUs other than 0 in this mode`);
  }

  /** `hvm_set_callback_irq_level(vcpu0)`: the line follows vCPU 0's UP. */
  updateLine(): void {
    if (this.via.type !== "gsi" && this.via.type !== "pci_intx") return;
    const asserted = this.upcallPending(0);
    if (asserted === this.lineAsserted) return;
    this.lineAsserted = asserted;
    this.#emit(
      asserted ? "upcall.line" : "upcall.line_low",
      `callback GSI ${this.via.gsi} ${asserted ? "asserted" : "deasserted"}`,
    );
    this.host.setGsiLevel(this.via.gsi, asserted ? 1 : 0);
  }

  /**
   * `hvm_maybe_deassert_evtchn_irq`, run at every VM exit: the line drops
   * once vCPU 0's UP is seen clear.
   */
  vmExit(): void {
    if (this.lineAsserted && !this.upcallPending(0)) this.updateLine();
  }

  /**
   * The vector the global callback offers vCPU `vcpu` at its next entry, or
   * -1: only with a type-2 parameter and only while the vCPU's UP is set.
   * It needs no IRR/ISR bit and no EOI; TPR does not block it.
   */
  globalVector(vcpu: number): number {
    if (this.via.type !== "vector" || !this.upcallPending(vcpu)) return -1;
    return this.via.vector;
  }

  /**
   * HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ): decode, drop a line asserted by
   * the old method, then re-run the assert for every vCPU (Xen
   * `hvm_set_callback_via`). Returns 0, also for an unknown type.
   *
   * kvm-xen: a vector is KVM_XEN_ATTR_TYPE_UPCALL_VECTOR (1..15 rejected
   * with -EINVAL); nothing is re-asserted when it is set. A GSI is QEMU's
   * 32-bit one: 0 or one at or past {@link QEMU_CALLBACK_GSIS} drives
   * nothing (`xen_evtchn_set_callback_level`), and the call still answers 0.
   *
   * PV: -EINVAL (`hvmop_set_param` sets only an HVM domain's parameters).
   *
   * PVH: anything but a vector (a GSI, a PCI INTx line, or 0 = none) is
   * ignored and still answered 0 (`hvm_set_callback_via` returns early
   * without a vPIC and vIOAPIC; `hvm_set_param` succeeds), so a vector
   * callback once set stays.
   */
  setParam(value: bigint): number {
    // hvmop_set_param: the parameters are an HVM domain's.
    if (this.domainType === "pv") return -XEN_ERRNO.EINVAL;
    const via = decodeCallbackVia(value);
    if (this.flavour === "kvm-xen" && via.type === "vector" && via.vector < 0x10) {
      return -XEN_ERRNO.EINVAL;
    }
    if (this.domainType === "pvh" && via.type !== "vector") {
      this.#emit(
        "callback.ignored",
        `HVM_PARAM_CALLBACK_IRQ = 0x${value.toString(16)} (${via.type}): ` +
          "a PVH domain has no vPIC/vIOAPIC, callback unchanged",
      );
      return 0;
    }
    if (this.lineAsserted && (this.via.type === "gsi" || this.via.type === "pci_intx")) {
      this.host.setGsiLevel(this.via.gsi, 0);
      this.lineAsserted = false;
    }
    // hvm_set_callback_via keeps the GSI's low 8 bits; GSI 0 and one past
    // the domain's GSIs leave no callback (the parameter is still stored).
    // kvm-xen: QEMU keeps 32 bits and drives only GSIs 1..23.
    const gsi = this.flavour === "xen"
      ? via.type === "gsi" ? via.gsi : 0
      : Number(value & 0xffff_ffffn);
    const gsis = this.flavour === "xen" ? NR_HVM_DOMU_IRQS : QEMU_CALLBACK_GSIS;
    this.via = via.type === "gsi" && (gsi === 0 || gsi >= gsis) ? { type: "none" } : via;
    this.#emit(
      "callback.via",
      `HVM_PARAM_CALLBACK_IRQ = 0x${value.toString(16)} (${this.via.type})`,
    );
    if (this.flavour === "xen") {
      for (let v = 0; v < this.vcpus; v++) this.assert(v);
    }
    return 0;
  }

  /**
   * HVMOP_set_evtchn_upcall_vector: -EINVAL for a vector below 0x10,
   * -ENOENT for a bad vCPU (-EINVAL first on a PV domain). Xen then asserts at once, a deliberate spurious
   * event (7b5b8ca7df), unless the vLAPIC is disabled (f5d0279839).
   * kvm-xen: the VMM sets KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR, which
   * injects nothing.
   */
  setUpcallVector(vcpu: number, vector: number): number {
    if (this.domainType === "pv") return -XEN_ERRNO.EINVAL; // !is_hvm_domain, checked first
    if (!Number.isInteger(vector) || vector < 0x10 || vector > 0xff) return -XEN_ERRNO.EINVAL;
    if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= this.vcpus) return -XEN_ERRNO.ENOENT;
    this.perVcpu[vcpu] = vector;
    this.#emit("callback.vector", `vcpu${vcpu}: upcall vector 0x${vector.toString(16)}`);
    if (this.flavour === "xen") this.assert(vcpu);
    return 0;
  }

  /**
   * The vLAPIC of `vcpu` was software-enabled by an SVR write: with a
   * per-vCPU vector and UP set, set IRR now (Xen vlapic.c; KVM
   * `kvm_xen_sw_enable_lapic`).
   */
  lapicEnabled(vcpu: number): void {
    const vec = this.perVcpu[vcpu];
    if (vec !== 0 && this.upcallPending(vcpu)) {
      this.#emit("upcall.vector", `vcpu${vcpu}: SVR enable with UP=1 -> IRR 0x${vec.toString(16)}`);
      this.host.lapicSetIrr(vcpu, vec);
    }
  }
}
