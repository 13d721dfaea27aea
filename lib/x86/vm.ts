/**
 * One x86 VM as KVM builds it: vCPUs with local APICs on an APIC bus, and,
 * depending on the irqchip mode, the in-kernel 8259A pair and IOAPIC behind
 * KVM's GSI routing.
 *
 * - `kernel` (KVM_CREATE_IRQCHIP): PIC pair, IOAPIC (24 pins) and LAPICs in
 *   the kernel; KVM's default routing; KVM_INTERRUPT refused (-ENXIO).
 * - `split` (KVM_CAP_SPLIT_IRQCHIP): only the LAPICs are in the kernel; GSIs
 *   are MSI routes, PIC interrupts arrive through KVM_INTERRUPT, and EOIs of
 *   level-triggered vectors would exit to userspace.
 *
 * Source: Linux `Documentation/virt/kvm/api.rst` (KVM_CREATE_IRQCHIP,
 * KVM_CAP_SPLIT_IRQCHIP, KVM_INTERRUPT), `arch/x86/kvm/irq.c`.
 *
 * @module
 */
import type { ModelEnv, VmModel } from "../interp/platform.ts";
import type { Trace } from "../core/trace.ts";
import { ApicBus, type LowestPriorityPolicy } from "./apic_bus.ts";
import { Lapic } from "./lapic.ts";
import { Ioapic, IoapicVersion } from "./ioapic.ts";
import { I8259Pair } from "./i8259.ts";
import { GsiRouting } from "./kvm_routing.ts";
import { type ExtIntSource, X86Cpu } from "./cpu.ts";
import { EEXIST, ENXIO } from "./errno.ts";
import type { EoiListener } from "./apic_message.ts";

/** KVM's irqchip modes. */
export type IrqchipMode = "kernel" | "split";

/** How a VM is built. */
export interface X86VmConfig {
  vcpus: number;
  irqchip: IrqchipMode;
  lowestPriority: LowestPriorityPolicy;
  /** Initial GSI routing in kernel mode: KVM's default or QEMU's (IRQ0 on IOAPIC pin 2). */
  routing: "kvm" | "qemu";
}

/**
 * The vector queued by KVM_INTERRUPT in split-irqchip mode: KVM holds one
 * and injects it as ExtINT only when LVT0 accepts ExtINT.
 */
class UserspaceExtInt implements ExtIntSource {
  vector = -1;
  intr(): boolean {
    return this.vector >= 0;
  }
  acknowledge(): number {
    const v = this.vector;
    this.vector = -1;
    return v;
  }
}

/**
 * An x86 VM.
 *
 * @example
 * ```ts
 * const vm = new X86Vm("guest", { vcpus: 2, irqchip: "kernel", lowestPriority: "kvm-vector-hashing", routing: "kvm" }, env);
 * vm.routing.signalMsi(0xfee01000, 0, 0x41); // 1: vcpu1's IRR has 0x41
 * ```
 */
export class X86Vm implements VmModel {
  readonly bus: ApicBus;
  readonly cpus: X86Cpu[] = [];
  readonly pic: I8259Pair | null;
  readonly ioapic: Ioapic | null;
  readonly routing: GsiRouting;
  readonly trace: Trace;
  readonly #userspace: UserspaceExtInt[] = [];

  constructor(readonly name: string, readonly config: X86VmConfig, env: ModelEnv) {
    const trace = env.trace;
    this.trace = trace;
    this.bus = new ApicBus(trace, { lowestPriority: config.lowestPriority, name: "apicbus" });
    const kernel = config.irqchip === "kernel";
    this.ioapic = kernel
      ? new Ioapic({
        sink: this.bus,
        trace,
        name: "ioapic",
        schedule: (delay, fire) => env.queue.schedule(env.now() + delay, fire),
      }, { version: IoapicVersion.KVM })
      : null;
    this.pic = kernel ? new I8259Pair({ trace, name: "pic" }) : null;
    const eoi: EoiListener = this.ioapic ?? { eoi: () => {} };
    for (let i = 0; i < config.vcpus; i++) {
      const lapic = new Lapic(i, {
        sink: this.bus,
        eoiListener: eoi,
        trace,
        name: `lapic${i}`,
        bsp: i === 0,
      });
      this.bus.attach(lapic);
      let source: ExtIntSource | null = this.pic;
      if (!kernel) {
        const u = new UserspaceExtInt();
        this.#userspace.push(u);
        source = u;
      }
      this.cpus.push(new X86Cpu(i, lapic, source, trace));
    }
    this.routing = new GsiRouting({
      pic: this.pic ?? undefined,
      ioapic: this.ioapic ?? undefined,
      sink: this.bus,
      trace,
      mode: config.irqchip,
      name: "kvm",
    });
    if (kernel && config.routing === "qemu") this.routing.setRouting(GsiRouting.qemuDefault());
  }

  /**
   * KVM_INTERRUPT: queue an external interrupt vector for a vCPU. Refused
   * with -ENXIO when the PIC is in the kernel; in split mode one vector may
   * wait (a second gets -EEXIST) until LVT0 accepts ExtINT.
   */
  kvmInterrupt(cpu: number, vector: number): number {
    const t = this.trace;
    if (this.config.irqchip === "kernel") {
      if (t.enabled) {
        t.emit("kvm", "interrupt", `KVM_INTERRUPT vcpu${cpu}: -ENXIO (the PIC is in the kernel)`);
      }
      return -ENXIO;
    }
    const u = this.#userspace[cpu];
    if (u.vector >= 0) {
      if (t.enabled) {
        t.emit(
          "kvm",
          "interrupt",
          `KVM_INTERRUPT vcpu${cpu}: -EEXIST (0x${u.vector.toString(16)} still queued)`,
        );
      }
      return -EEXIST;
    }
    u.vector = vector;
    if (t.enabled) {
      t.emit(
        "kvm",
        "interrupt",
        `KVM_INTERRUPT vcpu${cpu} vector 0x${vector.toString(16)} queued as ExtINT`,
      );
    }
    return 0;
  }
}
