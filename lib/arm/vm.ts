/**
 * One arm64 VM as KVM builds it: vCPUs, the in-kernel vGIC (GICv2 or GICv3,
 * optionally with an ITS and GICv4 direct injection underneath) and each
 * vCPU's arch timer wired to its PPIs.
 *
 * KVM/arm64 has no userspace interrupt controller for a GIC guest: the
 * irqchip is always in the kernel, the timer injects in-kernel, and
 * KVM_IRQ_LINE of type CPU (driving the vCPU's IRQ/FIQ lines directly) is
 * refused with -ENXIO.
 *
 * Sources: Linux `Documentation/virt/kvm/api.rst` (KVM_IRQ_LINE on arm64,
 * KVM_SIGNAL_MSI), `Documentation/virt/kvm/devices/arm-vgic-v3.rst`,
 * `arch/arm64/kvm/arm.c`, `arch/arm64/kvm/arch_timer.c`; seed 004 (the 2012
 * "irqchip in kernel" thread: the GIC drives the IRQ/FIQ lines, and
 * kernel_irqchip=off is meaningless on Arm).
 *
 * @module
 */
import type { ModelEnv, VmModel } from "../interp/platform.ts";
import type { Trace } from "../core/trace.ts";
import type { Ack } from "./cpu_interface_v3.ts";
import { ArmCpu, type GicPort } from "./cpu.ts";
import { Gic } from "./gic.ts";
import { OWNER_TIMER } from "./irq_state.ts";
import { ArchTimer, TimerPpi } from "./timer.ts";

/** How a VM is built. */
export interface ArmVmConfig {
  vcpus: number;
  gic: 2 | 3;
  its: boolean;
  v4: boolean;
  /** INTIDs below nrIrqs exist (SGIs and PPIs included). */
  nrIrqs: number;
}

/** One vCPU's two EL1 timers. */
export interface VcpuTimers {
  virt: ArchTimer;
  phys: ArchTimer;
}

/**
 * An arm64 VM.
 *
 * @example
 * ```ts
 * const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: true, v4: false, nrIrqs: 64 }, env);
 * vm.gic.kvmIrqLine(1, 0, 40, 1); // SPI 40
 * ```
 */
export class ArmVm implements VmModel, GicPort {
  readonly cpus: ArmCpu[] = [];
  readonly gic: Gic;
  readonly timers: VcpuTimers[] = [];
  readonly trace: Trace;

  constructor(readonly name: string, readonly config: ArmVmConfig, env: ModelEnv) {
    this.trace = env.trace;
    this.gic = new Gic({
      version: config.gic,
      vcpus: config.vcpus,
      nrIrqs: config.nrIrqs,
      its: config.its,
      v4: config.v4,
    }, env.trace);
    for (let i = 0; i < config.vcpus; i++) {
      this.cpus.push(new ArmCpu(i, this, env.trace));
      const bank = this.gic.rds[i].bank;
      // The timer owns its PPIs (kvm_vgic_set_owner): userspace cannot drive them.
      for (const p of [TimerPpi.VIRT, TimerPpi.PHYS, TimerPpi.HVIRT, TimerPpi.HPHYS]) {
        bank.owner[p] = OWNER_TIMER;
      }
      this.timers.push({
        virt: new ArchTimer("virt", TimerPpi.VIRT, env, this.#timerOutput(i, TimerPpi.VIRT)),
        phys: new ArchTimer("phys", TimerPpi.PHYS, env, this.#timerOutput(i, TimerPpi.PHYS)),
      });
    }
  }

  #timerOutput(cpu: number, ppi: number): (level: boolean) => void {
    return (level) => {
      const t = this.trace;
      const id = t.enabled
        ? t.emit(
          `timer${cpu}`,
          "line",
          `${ppi === TimerPpi.VIRT ? "CNTV" : "CNTP"} output ${
            level ? "high" : "low"
          } (PPI ${ppi})`,
        )
        : 0;
      t.open(id);
      this.gic.setPrivateLine(cpu, ppi, level, OWNER_TIMER, id);
      t.close(id);
    };
  }

  // ---- GicPort --------------------------------------------------------------

  /** @inheritdoc */
  signal(cpu: number): number {
    return this.gic.signal(cpu);
  }

  /** @inheritdoc */
  acknowledgeFor(cpu: number, fiq: boolean, out: Ack): Ack {
    const cif = this.gic.cifs[cpu];
    if (this.gic.version === 2) return cif.acknowledge(-1, out);
    return cif.acknowledge(fiq ? 0 : 1, out);
  }

  /** @inheritdoc */
  wouldWake(cpu: number): boolean {
    return this.gic.wouldWake(cpu);
  }

  /** @inheritdoc */
  blocked(cpu: number, yes: boolean): void {
    const v4 = this.gic.v4;
    if (!v4) return;
    if (yes) v4.block(cpu);
    else v4.unblock(cpu);
  }
}
