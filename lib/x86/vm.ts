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
 * With `hypervisor xen` or `kvm-xen` the VM also carries a Xen domain
 * (`lib/xen`): event channels, shared_info and vcpu_info in guest memory,
 * the upcall, timers and blocking hypercalls. The glue here
 * ({@link XenHost}) is how that model reaches the vCPUs: a per-vCPU upcall
 * vector sets IRR (Xen: `vlapic_set_irq`; KVM: a fixed MSI to the vCPU's
 * APIC ID), a GSI callback drives the line through the routing table, a
 * kick wakes a blocked vCPU, and the global callback vector is offered by
 * the vCPU itself ({@link X86Cpu.globalVector}). `xen` models Xen's vIOAPIC
 * with 48 pins (Xen `VIOAPIC_NUM_PINS`); `kvm-xen` keeps KVM's 24 and adds
 * Xen event-channel routing entries.
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
import { GsiRouting, KVM_IOAPIC_NUM_PINS, type XenRouteTarget } from "./kvm_routing.ts";
import { type ExtIntSource, type HypervisorHooks, X86Cpu } from "./cpu.ts";
import { EEXIST, ENXIO } from "./errno.ts";
import { type ApicMessage, type EoiListener, fixedMessage } from "./apic_message.ts";
import type { EventQueue } from "../core/event_queue.ts";
import { XEN_DEFAULTS, XenDomain, type XenHost } from "../xen/domain.ts";
import { KvmXen } from "../xen/kvm_xen.ts";
import type { XenMachine } from "../xen/platform.ts";
import type { GuestWidth } from "../xen/layout.ts";

/** KVM's irqchip modes. */
export type IrqchipMode = "kernel" | "split";

/**
 * Whose hypervisor runs the guest: plain KVM, Xen, or KVM's Xen emulation
 * (Linux `arch/x86/kvm/xen.c` with a VMM such as QEMU).
 *
 * @example
 * ```ts
 * const h: Hypervisor = "kvm-xen";
 * ```
 */
export type Hypervisor = "kvm" | "xen" | "kvm-xen";

/**
 * Pins of Xen's vIOAPIC for an HVM guest (`VIOAPIC_NUM_PINS`: 16 ISA IRQs
 * and 32 PCI INTx GSIs).
 *
 * @example
 * ```ts
 * XEN_VIOAPIC_PINS; // 48
 * ```
 */
export const XEN_VIOAPIC_PINS = 48;

/** How a VM is built. */
export interface X86VmConfig {
  vcpus: number;
  irqchip: IrqchipMode;
  lowestPriority: LowestPriorityPolicy;
  /** Initial GSI routing in kernel mode: KVM's default or QEMU's (IRQ0 on IOAPIC pin 2). */
  routing: "kvm" | "qemu";
  /** Default `kvm`: no Xen domain. */
  hypervisor?: Hypervisor;
  /** Xen guests: the word size the shared_info layout starts latched to. Default 64. */
  guestWidth?: GuestWidth;
  /** Xen: the toolstack's event-channel port cap (xl `max_event_channels`). Default 1023. */
  maxEvtchnPort?: number;
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
  /** The Xen domain and KVM's Xen API, with `hypervisor xen` or `kvm-xen`; else undefined. */
  readonly xen: XenMachine | undefined;
  readonly #userspace: UserspaceExtInt[] = [];

  constructor(readonly name: string, readonly config: X86VmConfig, env: ModelEnv) {
    const trace = env.trace;
    this.trace = trace;
    const hypervisor = config.hypervisor ?? "kvm";
    const pins = hypervisor === "xen" ? XEN_VIOAPIC_PINS : KVM_IOAPIC_NUM_PINS;
    this.bus = new ApicBus(trace, { lowestPriority: config.lowestPriority, name: "apicbus" });
    const kernel = config.irqchip === "kernel";
    this.ioapic = kernel
      ? new Ioapic({
        sink: this.bus,
        trace,
        name: "ioapic",
        schedule: (delay, fire) => env.queue.schedule(env.now() + delay, fire),
      }, { version: IoapicVersion.KVM, pins })
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
        softwareEnabled: hypervisor === "kvm"
          ? undefined
          : () => this.xen!.domain.callback.lapicEnabled(i),
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
    if (hypervisor === "kvm") {
      this.xen = undefined;
    } else {
      const glue = new XenGlue(this, env.queue, env.now);
      const domain = new XenDomain(
        "xen",
        {
          ...XEN_DEFAULTS,
          flavour: hypervisor,
          vcpus: config.vcpus,
          width: config.guestWidth ?? XEN_DEFAULTS.width,
          maxEvtchnPort: config.maxEvtchnPort ?? XEN_DEFAULTS.maxEvtchnPort,
        },
        glue,
        trace,
      );
      this.xen = { domain, kvm: new KvmXen(domain) };
      for (const cpu of this.cpus) cpu.hv = glue;
    }
    const kvmXen = hypervisor === "kvm-xen" ? this.xen!.kvm : undefined;
    // Only KVM has routing entries of Xen type; Xen itself has no KVM table.
    const xenRoutes: XenRouteTarget | undefined = kvmXen && {
      validateRoute: (r) => kvmXen.validateRoute(r),
      deliver: (r) => kvmXen.deliver(r),
      setRoutes: (entries) => kvmXen.setRoutes(entries),
    };
    this.routing = new GsiRouting({
      pic: this.pic ?? undefined,
      ioapic: this.ioapic ?? undefined,
      sink: this.bus,
      trace,
      mode: config.irqchip,
      name: "kvm",
      xen: xenRoutes,
      ioapicPins: pins,
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

/**
 * The x86 side of a Xen domain: what {@link XenDomain} asks of the machine
 * ({@link XenHost}) and what a vCPU asks of the hypervisor
 * ({@link HypervisorHooks}). One per VM; nothing here allocates per call.
 */
class XenGlue implements XenHost, HypervisorHooks {
  /** Reused for every upcall-vector IRR request. */
  readonly #msg: ApicMessage = fixedMessage(0, 0, "msi");

  constructor(
    readonly vm: X86Vm,
    readonly queue: EventQueue,
    readonly now: () => number,
  ) {}

  #domain(): XenDomain {
    return this.vm.xen!.domain;
  }

  lapicEnabled(n: number): boolean {
    const l = this.vm.cpus[n].lapic;
    return l.hardwareEnabled && l.softwareEnabled;
  }

  /**
   * Xen: `vlapic_set_irq(vlapic, vector, 0)` straight into vCPU `n`'s
   * vLAPIC. kvm-xen: `kvm_xen_inject_vcpu_vector` sends a fixed, physical,
   * edge MSI to APIC ID = the vCPU's vcpu_id, which the bus routes like any
   * other (a guest that changed its xAPIC ID no longer receives it).
   */
  lapicSetIrr(n: number, vector: number): void {
    const m = this.#msg;
    m.vector = vector;
    m.dest = n;
    if (this.#domain().flavour === "xen") this.vm.cpus[n].lapic.accept(m);
    else this.vm.bus.deliver(m);
  }

  /**
   * `vcpu_kick` / `kvm_vcpu_kick`: ends SCHEDOP_block or SCHEDOP_poll. Xen
   * also ends a HLT with IF=1, since `hvm_hlt` is SCHEDOP_block and any kick
   * unblocks it; under KVM a halted vCPU re-checks for an interrupt it can
   * take ({@link X86Cpu.canTake}) and otherwise stays halted.
   */
  kick(n: number): void {
    const d = this.#domain();
    d.timers.kick(n);
    const cpu = this.vm.cpus[n];
    if (d.flavour === "xen" && cpu.halted && cpu.interruptFlag) {
      cpu.halted = false;
      const t = this.vm.trace;
      if (t.enabled) t.emit(cpu.name, "wake", "HLT ended by vcpu_kick");
    }
  }

  /** The callback GSI (or PCI INTx GSI) line, through the VM's GSI routing. */
  setGsiLevel(gsi: number, level: 0 | 1): void {
    this.vm.routing.irqLine(gsi, level);
  }

  /** `local_events_need_delivery` (HVM): an interrupt could be injected now. */
  interruptDeliverable(n: number): boolean {
    return this.vm.cpus[n].canTake();
  }

  /** A blocking hypercall halts the vCPU until it ends. */
  setBlocked(n: number, blocked: boolean): void {
    this.vm.cpus[n].halted = blocked;
  }

  globalVector(n: number): number {
    return this.#domain().globalVector(n);
  }

  woken(n: number): void {
    this.#domain().timers.kick(n);
  }

  vmExit(_n: number): void {
    this.#domain().vmExit();
  }
}
