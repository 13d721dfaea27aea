/**
 * One arm64 VM as KVM builds it: vCPUs, the in-kernel vGIC (GICv2 or GICv3,
 * optionally with an ITS and GICv4 direct injection underneath) and each
 * vCPU's arch timer wired to its PPIs.
 *
 * KVM/arm64 has no userspace interrupt controller for a GIC guest: with a
 * vGIC the irqchip is in the kernel, the timer injects in-kernel, and
 * KVM_IRQ_LINE of type CPU (driving the vCPU's IRQ/FIQ lines directly) is
 * refused with -ENXIO. A VM never given a vGIC (`gic { deferred }` without
 * KVM_CREATE_DEVICE) is the exception: the VMM drives those lines itself
 * (HCR_EL2.VI / VF, `vcpu_interrupt_line`), and the guest's ICC accesses
 * UNDEF.
 *
 * Sources: Linux `Documentation/virt/kvm/api.rst` (KVM_IRQ_LINE on arm64,
 * KVM_SIGNAL_MSI), `Documentation/virt/kvm/devices/arm-vgic-v3.rst`,
 * `arch/arm64/kvm/arm.c`, `arch/arm64/kvm/arch_timer.c`; seed 004 (the 2012
 * "irqchip in kernel" thread: the GIC drives the IRQ/FIQ lines, and
 * kernel_irqchip=off is meaningless on Arm).
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import type { ModelEnv, VmModel } from "../core/platform.ts";
import type { Trace } from "../core/trace.ts";
import type { Ack } from "./cpu_interface_v3.ts";
import { ArmCpu, type GicPort } from "./cpu.ts";
import { Gic } from "./gic.ts";
import type { ItsKvmRelease } from "./its.ts";
import { OWNER_NONE, OWNER_PMU, OWNER_TIMER } from "./irq_state.ts";
import { PmcrBits, Pmu, PMU_HOST_TYPE, PMU_NR_EVENTS, PMU_PMCR_N, PmuFilterAction } from "./pmu.ts";
import { ID_AA64PFR2_GCIE_IMP } from "./gicv5_cpu_interface.ts";
import {
  ArchTimer,
  type CounterOffsets,
  newCounterOffsets,
  TimerIrqAttr,
  TimerPpi,
  TimerPpis,
} from "./timer.ts";
import { armRamSize } from "./memory_map.ts";
import { EBUSY, EINVAL, ENODEV, ENXIO } from "./errno.ts";
import type { EventQueue } from "../core/event_queue.ts";
import type { XenHost } from "../xen/domain.ts";
import { xenParts } from "../xen/parts.ts";
import type { XenMachine } from "../xen/platform.ts";
import type { XenBuild } from "../xen/hypercall.ts";
import type { StateHash } from "../core/platform.ts";
import { KVM_MP_STATE, Psci } from "./psci.ts";

/**
 * Xen on Arm's event-channel PPI (`GUEST_EVTCHN_PPI` in
 * `xen/include/public/arch-arm.h`): the upcall of every vCPU.
 *
 * @example
 * ```ts
 * GUEST_EVTCHN_PPI; // 31
 * ```
 */
export const GUEST_EVTCHN_PPI = 31;

/** The timers of a vCPU without nested virtualization (`nr_timers`): CNTV and CNTP. */
const EL1_TIMERS = 2;

/**
 * ID_AA64PFR0_EL1.GIC (Arm ARM D24, bits [27:24]): 0b0001, the GICv3/v4.0
 * system register interface, which is what KVM reports for a GICv3 vGIC
 * (`SYS_FIELD_PREP_ENUM(ID_AA64PFR0_EL1, GIC, IMP)`, even on a GICv4.1 host).
 *
 * @example
 * ```ts
 * ID_AA64PFR0_GIC_V3 << ID_AA64PFR0_GIC_SHIFT; // 0x1000000
 * ```
 */
export const ID_AA64PFR0_GIC_V3 = 1;
/** Where ID_AA64PFR0_EL1.GIC sits: bits [27:24]. */
export const ID_AA64PFR0_GIC_SHIFT = 24;

/**
 * How a VM is built.
 *
 * @example
 * ```ts
 * import { type ModelEnv } from "./engine_types.ts";
 * declare const env: ModelEnv;
 * const config: ArmVmConfig = { vcpus: 6, gic: 3, its: false, v4: false, nrIrqs: 64, vcpuIds: [0, 3, 5, 4, 1, 2] };
 * new ArmVm("arm", config, env);
 * ```
 */
export interface ArmVmConfig {
  /** vCPUs; vCPU n (`vcpuN` in scenarios) is the one whose vcpu_id is n. */
  vcpus: number;
  /** The vGIC: 2 or 3. */
  gic: 2 | 3;
  /** A vITS (GICv3 only). */
  its: boolean;
  /** GICv4 direct injection (needs the ITS). */
  v4: boolean;
  /** The host's GIC is a GICv4.1 with direct vSGIs (`gic { v4_1 }`); default false. */
  v41?: boolean;
  /** INTIDs below nrIrqs exist (SGIs and PPIs included). */
  nrIrqs: number;
  /**
   * The vcpu_ids in the order the VMM created them (KVM_CREATE_VCPU), a
   * permutation of 0..vcpus-1; default 0, 1, 2, ...
   */
  vcpuIds?: readonly number[];
  /**
   * How many of them exist at the start (KVM's online_vcpus), the first of
   * `vcpuIds`; the VMM creates the others later. Default: all.
   */
  created?: number;
  /**
   * Whose hypervisor: KVM (the default) or Xen, whose domain brings event
   * channels with shared_info and vcpu_info in the Arm layout and the
   * upcall PPI {@link GUEST_EVTCHN_PPI}.
   */
  hypervisor?: "kvm" | "xen";
  /** `hypervisor xen { build }`: a release (the default) or debug Xen. */
  xenBuild?: XenBuild;
  /** The KVM table handling the vITS follows (`its_tables`); default `newest`. */
  itsRelease?: ItsKvmRelease;
  /**
   * The PPI of every vCPU's vPMU overflow interrupt (the VMM's
   * KVM_ARM_VCPU_PMU_V3_IRQ and _INIT), or 0 (the default): no vPMU.
   */
  pmuIrq?: number;
  /**
   * Every vCPU has the PMU feature (KVM_ARM_VCPU_PMU_V3 at
   * KVM_ARM_VCPU_INIT) but the VMM sets its IRQ and initialises it itself;
   * ignored with {@link ArmVmConfig.pmuIrq}.
   */
  pmuFeature?: boolean;
}

/**
 * One vCPU's two EL1 timers.
 *
 * @example
 * ```ts
 * declare const vm: ArmVm;
 * const t: VcpuTimers = vm.timers[1];
 * t.virt.ppi; // 27
 * ```
 */
export interface VcpuTimers {
  /** The EL1 virtual timer (CNTV, PPI 27). */
  virt: ArchTimer;
  /** The EL1 physical timer (CNTP, PPI 30). */
  phys: ArchTimer;
}

/**
 * An arm64 VM.
 *
 * @example
 * ```ts
 * import { type ModelEnv } from "./engine_types.ts";
 * declare const env: ModelEnv;
 * const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: true, v4: false, nrIrqs: 64 }, env);
 * vm.gic.kvmIrqLine(1, 0, 40, 1); // SPI 40
 * ```
 */
export class ArmVm implements VmModel, GicPort {
  /** The vCPUs, indexed by vcpu_id. */
  readonly cpus: ArmCpu[] = [];
  /**
   * The in-kernel vGIC. Replaced once, when the VMM's KVM_CREATE_DEVICE
   * asks for the other version than the vm's `gic` setting before any
   * vGIC exists (see {@link ArmVm.createDevice}).
   */
  gic: Gic;
  /** Each vCPU's timers, indexed by vcpu_id. */
  readonly timers: VcpuTimers[] = [];
  readonly #env: ModelEnv;
  /**
   * Each vCPU's IRQ (bit 0) and FIQ (bit 1) lines as the VMM drives them
   * without a vGIC (KVM_IRQ_LINE type CPU: HCR_EL2.VI and VF).
   */
  readonly cpuLines: Uint8Array;
  /** The trace event that last raised each vCPU's line. */
  readonly #lineCause: number[];
  /** Each vCPU's vPMU, indexed by vcpu_id; empty without one (`pmu_irq 0`). */
  readonly pmus: Pmu[] = [];
  /** The VM's PMU event filter (`kvm->arch.pmu_filter`), or null: see {@link ArmVm.pmuSetFilter}. */
  pmuFilter: Uint8Array | null = null;
  /** The VM's timer PPIs (KVM_ARM_VCPU_TIMER_CTRL), which every vCPU's timers share. */
  readonly timerPpis: TimerPpis = new TimerPpis();
  /** The VM's counter offsets, which every vCPU's timers share. */
  readonly counterOffsets: CounterOffsets = newCounterOffsets();
  /** The scenario's trace. */
  readonly trace: Trace;
  /** The Xen domain, with `hypervisor xen`; else undefined. */
  readonly xen: XenMachine | undefined;
  /** KVM's SMCCC and PSCI state: the calls' registers, the filter, the exits (lib/arm/psci.ts). */
  readonly psci: Psci;

  /**
   * Builds VM `name` as a VMM does before running it: the vCPUs (in
   * `config.vcpuIds` order), the vGIC with its redistributor region, and
   * each vCPU's timers wired to their PPIs. The vGIC is not yet
   * initialised (KVM_DEV_ARM_VGIC_CTRL_INIT): see {@link Gic.vgicInit}.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64, vcpuIds: [1, 0] }, env);
   * vm.gic.rds[0].last; // true: vcpu_id 0 was created last
   * ```
   */
  constructor(readonly name: string, readonly config: ArmVmConfig, env: ModelEnv) {
    this.trace = env.trace;
    this.#env = env;
    this.gic = new Gic({
      version: config.gic,
      vcpus: config.vcpus,
      nrIrqs: config.nrIrqs,
      its: config.its,
      v4: config.v4,
      v41: config.v41,
      creationOrder: config.vcpuIds,
      created: config.created,
      itsRelease: config.itsRelease,
    }, env.trace);
    this.#ownTimerPpis();
    this.cpuLines = arenaU8(config.vcpus);
    this.#lineCause = new Array(config.vcpus).fill(0);
    for (let i = 0; i < config.vcpus; i++) {
      this.cpus.push(new ArmCpu(i, this, env.trace));
      if (config.pmuIrq || config.pmuFeature) {
        const pmu = new Pmu(this.#pmuOutput(i));
        // KVM_ARM_VCPU_INIT resets the vCPU (kvm_reset_vcpu), the PMU's registers with it.
        pmu.reset();
        if (config.pmuIrq) (pmu.irq = config.pmuIrq, pmu.created = true);
        this.pmus.push(pmu);
        // The VMM's KVM_ARM_VCPU_PMU_V3_INIT: the PMU owns its PPI.
        if (pmu.created) this.gic.rds[i].bank.owner[pmu.irq] = OWNER_PMU;
      }
      this.timers.push({
        virt: new ArchTimer(
          "virt",
          TimerPpi.VIRT,
          env,
          this.#timerOutput(i, "virt"),
          this.counterOffsets,
        ),
        phys: new ArchTimer(
          "phys",
          TimerPpi.PHYS,
          env,
          this.#timerOutput(i, "phys"),
          this.counterOffsets,
        ),
      });
    }
    this.psci = new Psci({
      vcpus: config.vcpus,
      vcpuExists: (n) => this.gic.vcpuExists(n),
      mpState: (n) => this.cpus[n].mpState,
      setMpState: (n, st) => this.setMpState(n, st),
      resetVcpu: (n) => this.vcpuInit(n, this.pmus.length > 0),
      resetPstate: (n) => this.cpus[n].reset(),
      wfi: (n) => this.cpus[n].wfi(),
      ranOnce: () => this.timerPpis.immutable,
      emit: (source, kind, text) => {
        if (this.trace.enabled) this.trace.emit(source, kind, text);
      },
    });
    this.xen = undefined;
    if (config.hypervisor === "xen") {
      // The Xen model is loaded only for VMs that have it (lib/xen/parts.ts).
      const parts = xenParts(), d = parts.defaults;
      this.xen = parts.machine(
        {
          ...d,
          vcpus: config.vcpus,
          arch: "arm",
          build: config.xenBuild ?? "release",
          memSize: Math.max(d.memSize, armRamSize(config.vcpus)),
        },
        new ArmXenGlue(this, env.queue, env.now),
        env.trace,
      );
      // One guest RAM: the LPI and ITS tables live beside shared_info.
      this.gic.ram = this.xen.domain.mem;
    }
  }

  /** The timer owns its PPIs (kvm_vgic_set_owner): userspace cannot drive them. */
  #ownTimerPpis(): void {
    const rds = this.gic.rds;
    for (let i = 0; i < rds.length; i++) {
      const owner = rds[i].bank.owner;
      for (const p of this.timerPpis.ppi) owner[p] = OWNER_TIMER;
      const pmu = this.pmus[i];
      if (pmu?.created) {
        if (pmu.irq < 32) owner[pmu.irq] = OWNER_PMU;
        else this.gic.dist.spis.owner[pmu.irq] = OWNER_PMU;
      }
    }
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ)
   * on vCPU `cpu` (`kvm_arm_pmu_v3_set_attr`): -ENODEV without the PMU
   * feature, -EBUSY once initialised, -EINVAL without an in-kernel vGIC,
   * for an INTID that is neither a PPI nor an SPI, or for a PPI another
   * vCPU's PMU does not share (`pmu_irq_is_valid`), -EBUSY when this
   * vCPU's is already set.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true }, env);
   * vm.pmuSetIrq(0, 23); // 0
   * ```
   */
  pmuSetIrq(cpu: number, irq: number): number {
    const pmu = this.pmus[cpu];
    if (pmu === undefined) return -ENODEV;
    if (pmu.created) return -EBUSY;
    if (!this.gic.device.created) return -EINVAL;
    if (irq < 16 || irq > 1019) return -EINVAL;
    // pmu_irq_is_valid: one PPI for every vCPU, or an SPI of its own for each.
    if (irq < 32 && this.pmus.some((p) => p.irq >= 0 && p.irq !== irq)) return -EINVAL;
    if (irq >= 32 && this.pmus.some((p) => p.irq === irq)) return -EINVAL;
    if (pmu.irq >= 0) return -EBUSY;
    pmu.irq = irq;
    return 0;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_INIT)
   * on vCPU `cpu` (`kvm_arm_pmu_v3_init`): -ENODEV without the feature,
   * -EBUSY once done; with the vGIC, -ENODEV before it is initialised and
   * -ENXIO without an IRQ; then the PMU owns its PPI (`kvm_vgic_set_owner`)
   * and drives it.
   */
  pmuInit(cpu: number): number {
    const pmu = this.pmus[cpu];
    if (pmu === undefined) return -ENODEV;
    if (pmu.created) return -EBUSY;
    if (this.gic.device.created) {
      if (!this.gic.initialized) return -ENODEV;
      if (pmu.irq < 0) return -ENXIO;
      // kvm_vgic_set_owner: an SPI the vGIC does not have is -EINVAL.
      if (pmu.irq >= 32 && pmu.irq >= this.gic.dist.nrIrqs) return -EINVAL;
    }
    pmu.created = true;
    this.#ownTimerPpis();
    return 0;
  }

  /**
   * The VMM's KVM_SET_ONE_REG of vCPU `cpu`'s PMCR_EL0 (`set_pmcr`): its
   * N is the VM's number of event counters (`kvm->arch.nr_pmu_counters`,
   * every vCPU's PMCR_EL0.N) when no vCPU has run yet (the model's first
   * `vmm: kvm run`) and N is at most the host's; otherwise that field is
   * ignored, and the call succeeds either way.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuIrq: 23 }, env);
   * vm.setPmcrUser(0, 2 << 11);
   * vm.pmus[0].nr; // 2
   * ```
   */
  setPmcrUser(cpu: number, value: number): void {
    const n = (value >>> PmcrBits.N_SHIFT) & PmcrBits.N_MASK;
    const nOk = !this.timerPpis.immutable && n <= PMU_PMCR_N;
    if (nOk) { for (const p of this.pmus) p.nr = n; }
    this.pmus[cpu].setPmcrUser(value, nOk);
  }

  /**
   * KVM_ARM_VCPU_PMU_V3_SET_NR_COUNTERS on vCPU `cpu`
   * (`kvm_arm_pmu_v3_set_attr` -> `kvm_arm_pmu_v3_set_nr_counters`):
   * -ENODEV without the PMU feature, -EBUSY once this vCPU's PMU is
   * initialised or a vCPU has run, -EINVAL for more counters than the
   * host's; else every vCPU's PMCR_EL0.N is `n`.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true }, env);
   * vm.pmuSetNrCounters(0, 7); // -EINVAL: the host has 6
   * ```
   */
  pmuSetNrCounters(cpu: number, n: number): number {
    const pmu = this.pmus[cpu];
    if (pmu === undefined) return -ENODEV;
    if (pmu.created || this.timerPpis.immutable) return -EBUSY;
    if (n > PMU_PMCR_N) return -EINVAL;
    for (const p of this.pmus) p.nr = n;
    return 0;
  }

  /**
   * KVM_ARM_VCPU_PMU_V3_SET_PMU on vCPU `cpu` (`kvm_arm_pmu_v3_set_attr` ->
   * `kvm_arm_pmu_v3_set_pmu`): -ENODEV without the PMU feature, -EBUSY once
   * this vCPU's PMU is initialised; then the host PMU whose perf type is
   * `id`: none, -ENXIO (whether or not a vCPU has run); the model's one
   * ({@link PMU_HOST_TYPE}): -EBUSY once a vCPU has run (an event filter
   * blocks only a change to another PMU, and the VM already has this one,
   * the default KVM took at KVM_ARM_VCPU_INIT), else `kvm_arm_set_pmu`,
   * which gives the VM that PMU's number of counters again: a
   * SET_NR_COUNTERS made before is undone.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * import { PMU_HOST_TYPE } from "./pmu.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true }, env);
   * vm.pmuSetNrCounters(0, 2); // 0
   * vm.pmuSetPmu(0, 3); // -ENXIO: no such host PMU
   * vm.pmuSetPmu(0, PMU_HOST_TYPE); // 0, and PMCR_EL0.N is 6 again
   * ```
   */
  pmuSetPmu(cpu: number, id: number): number {
    const pmu = this.pmus[cpu];
    if (pmu === undefined) return -ENODEV;
    if (pmu.created) return -EBUSY;
    if (id !== PMU_HOST_TYPE) return -ENXIO;
    if (this.timerPpis.immutable) return -EBUSY;
    for (const p of this.pmus) p.nr = PMU_PMCR_N;
    return 0;
  }

  /**
   * KVM_ARM_VCPU_INIT on vCPU `cpu` once more (`kvm_arch_vcpu_ioctl_vcpu_init`
   * -> `kvm_vcpu_set_target`): -EINVAL when the features differ from the
   * VM's (`kvm_vcpu_init_changed`; of the features, the model has
   * KVM_ARM_VCPU_PMU_V3, `pmu`); else `kvm_reset_vcpu`, which resets the
   * vPMU's registers ({@link Pmu.reset}: its IRQ, its INIT and the VM's N
   * stay), the core registers and PSTATE ({@link ArmCpu.reset}) and the
   * timers (`kvm_timer_vcpu_reset`: CTL 0 on both, CVAL kept, their lines
   * low and, the vGIC being in the kernel, their PPIs neither pending nor
   * active, `kvm_vgic_reset_mapped_irq`). The vGIC's state for the vCPU
   * is not reset, as KVM resets none of it: its redistributor's SGIs and
   * PPIs (enables, priorities, pending and active state), its LPIs and the
   * CPU interface's PMR, binary points, group enables and active priorities.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuIrq: 23 }, env);
   * vm.vcpuInit(0, false); // -EINVAL: the vCPU was made with the PMU feature
   * vm.vcpuInit(0, true); // 0
   * ```
   */
  vcpuInit(cpu: number, pmu: boolean): number {
    if (pmu !== this.pmus.length > 0) return -EINVAL;
    this.pmus[cpu]?.reset();
    this.cpus[cpu].reset();
    const bank = this.gic.rds[cpu].bank;
    for (const t of [this.timers[cpu].virt, this.timers[cpu].phys]) {
      t.writeCtl(0);
      if (this.gic.device.created) (bank.latch[t.ppi] = 0, bank.active[t.ppi] = 0);
    }
    return 0;
  }

  /**
   * KVM_SET_MP_STATE of vCPU `cpu` (`kvm_arch_vcpu_ioctl_set_mpstate`),
   * also PSCI's CPU_OFF, CPU_ON and system events: RUNNABLE (0), STOPPED
   * (5) or SUSPENDED (9).
   */
  setMpState(cpu: number, state: number): void {
    const c = this.cpus[cpu];
    // kvm_arm_vcpu_suspend: the WAKEUP exit is made once the wake-up test passes.
    this.psci.wakeArmed[cpu] = state === KVM_MP_STATE.SUSPENDED;
    if (c.mpState === state) return;
    c.mpState = state;
    if (this.trace.enabled) {
      this.trace.emit(
        c.name,
        "mp_state",
        state === 0
          ? "RUNNABLE"
          : state === KVM_MP_STATE.SUSPENDED
          ? "SUSPENDED"
          : "STOPPED (powered off)",
      );
    }
  }

  /**
   * A KVM_MP_STATE_SUSPENDED vCPU (`kvm_vcpu_suspend`): once something
   * would wake it from WFI, it exits with KVM_SYSTEM_EVENT_WAKEUP and stays
   * suspended until the VMM makes it runnable.
   */
  suspendedPoll(cpu: number): void {
    if (this.psci.wakeArmed[cpu] && this.wouldWake(cpu)) this.psci.wakeup(cpu);
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_FILTER)
   * on vCPU `cpu` (`kvm_arm_pmu_v3_set_attr`): -ENODEV without the PMU
   * feature, -EBUSY once this vCPU's PMU is initialised, -EINVAL for a range
   * past {@link PMU_NR_EVENTS} or an action other than ALLOW (0) and DENY
   * (1), -EBUSY once a vCPU has run; else the VM's filter (made by the
   * first call: all denied for an ALLOW, all allowed for a DENY) allows or
   * denies events `base` to `base + nevents - 1`, for every vCPU's PMU.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true }, env);
   * vm.pmuSetFilter(0, 0x11, 1, 0); // 0: only CPU_CYCLES counts
   * vm.pmus[0].allowed(0x08); // false
   * ```
   */
  pmuSetFilter(cpu: number, base: number, nevents: number, action: number): number {
    const pmu = this.pmus[cpu];
    if (pmu === undefined) return -ENODEV;
    if (pmu.created) return -EBUSY;
    if (base + nevents > PMU_NR_EVENTS) return -EINVAL;
    if (action !== PmuFilterAction.ALLOW && action !== PmuFilterAction.DENY) return -EINVAL;
    if (this.timerPpis.immutable) return -EBUSY;
    const allow = action === PmuFilterAction.ALLOW;
    let f = this.pmuFilter;
    if (f === null) {
      f = this.pmuFilter = new Uint8Array(PMU_NR_EVENTS >> 3).fill(allow ? 0 : 0xff);
      for (const p of this.pmus) p.filter = f;
    }
    for (let e = base; e < base + nevents; e++) {
      if (allow) f[e >> 3] |= 1 << (e & 7);
      else f[e >> 3] &= ~(1 << (e & 7));
    }
    return 0;
  }

  /** The vPMU of vCPU `cpu` drives its overflow PPI (`kvm_pmu_update_state`). */
  #pmuOutput(cpu: number): (level: boolean) => void {
    return (level) => {
      const pmu = this.pmus[cpu];
      // Before KVM_ARM_VCPU_PMU_V3_INIT the level goes nowhere (the vCPU cannot run then).
      if (!pmu.created || pmu.irq < 0) return;
      const t = this.trace, irq = pmu.irq, spi = irq >= 32;
      const id = t.enabled
        ? t.emit(
          `pmu${cpu}`,
          "line",
          `overflow interrupt ${level ? "high" : "low"} (${spi ? "SPI" : "PPI"} ${irq})`,
        )
        : 0;
      t.open(id);
      // kvm_pmu_update_state -> kvm_vgic_inject_irq(kvm, vcpu, irq_num, level, pmu)
      if (spi) this.gic.setSpiLine(irq, level, id, OWNER_PMU);
      else this.gic.setPrivateLine(cpu, irq, level, OWNER_PMU, id);
      t.close(id);
    };
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_TIMER_CTRL, `attr`) on any vCPU
   * (`kvm_arm_timer_set_attr`): -EINVAL without an in-kernel vGIC, then
   * {@link TimerPpis.set}'s answer. The table is the VM's, so every vCPU's
   * timer moves to the new PPI, and so does its ownership; a level the
   * timer holds high moves with it.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * import { TimerIrqAttr } from "./timer.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.setTimerIrq(TimerIrqAttr.VTIMER, 20); // 0
   * vm.timers[1].virt.ppi; // 20
   * ```
   */
  setTimerIrq(attr: number, irq: number): number {
    if (!this.gic.device.created) return -EINVAL;
    const t = this.timerPpis;
    const old = attr >= 0 && attr < t.ppi.length ? t.ppi[attr] : -1;
    const r = t.set(attr, irq);
    if (r !== 0 || old === irq) return r;
    for (const rd of this.gic.rds) rd.bank.owner[old] = OWNER_NONE;
    this.#ownTimerPpis();
    const which = attr === TimerIrqAttr.VTIMER
      ? "virt"
      : attr === TimerIrqAttr.PTIMER
      ? "phys"
      : null;
    if (which === null) return 0; // the EL2 timers are not modelled beyond their number
    for (let cpu = 0; cpu < this.timers.length; cpu++) {
      const timer = this.timers[cpu][which];
      if (timer.line) this.gic.setPrivateLine(cpu, old, false, OWNER_TIMER, 0);
      timer.ppi = irq;
      if (timer.line) this.gic.setPrivateLine(cpu, irq, true, OWNER_TIMER, 0);
    }
    return 0;
  }

  /**
   * KVM_IRQ_LINE (`kvm_vm_ioctl_irq_line`). Type CPU drives vCPU `vcpu`'s
   * IRQ (`num` 0) or FIQ (1) line directly, which only a VM without an
   * in-kernel vGIC may do (-ENXIO otherwise; -EINVAL for no such vCPU or a
   * `num` past FIQ): `vcpu_interrupt_line` sets or clears HCR_EL2.VI / VF
   * and kicks the vCPU, which takes the exception while the line is high
   * and PSTATE lets it (and wakes from WFI on it). The other types are the
   * vGIC's ({@link Gic.kvmIrqLine}).
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.gic.device.created = false;
   * vm.kvmIrqLine(0, 0, 0, 1); // 0: vCPU 0's IRQ line high
   * ```
   */
  kvmIrqLine(type: number, vcpu: number, num: number, level: number, cause = 0): number {
    if (type !== 0 || this.gic.device.created) {
      return this.gic.kvmIrqLine(type, vcpu, num, level, cause);
    }
    const t = this.trace;
    if (!this.gic.vcpuExists(vcpu) || num > 1) {
      if (t.enabled) t.emit("kvm", "irq_line", `KVM_IRQ_LINE CPU vcpu ${vcpu} num ${num}: -EINVAL`);
      return -EINVAL;
    }
    const bit = 1 << num, was = this.cpuLines[vcpu];
    this.cpuLines[vcpu] = level !== 0 ? was | bit : was & ~bit;
    if (level !== 0 && (was & bit) === 0) this.#lineCause[vcpu] = cause;
    if (t.enabled) {
      t.emit(
        `vcpu${vcpu}`,
        "line",
        `HCR_EL2.${num === 0 ? "VI" : "VF"} = ${level !== 0 ? 1 : 0} (${
          num === 0 ? "IRQ" : "FIQ"
        } line from the VMM${this.cpuLines[vcpu] === was ? ", unchanged" : ""})`,
      );
    }
    return 0;
  }

  /**
   * KVM_RUN of vCPU `cpu`: the vGIC's answer (`kvm_vgic_map_resources`,
   * {@link Gic.run}), then the timer's (`kvm_timer_enable`): with an
   * in-kernel vGIC, -EINVAL when the EL1 timers share a PPI
   * (`timer_irqs_are_valid`), else the PPIs are frozen; then the PMU's
   * (`kvm_arm_pmu_v3_enable`): -EINVAL while a vPMU is not initialised.
   */
  run(cpu: number): number {
    const r = this.gic.run(cpu);
    if (r !== 0) return r;
    if (this.gic.device.created && !this.timerPpis.validate(EL1_TIMERS)) {
      if (this.trace.enabled) {
        this.trace.emit(
          "kvm",
          "run",
          `KVM_RUN vcpu${cpu}: -22: the timers' PPIs ${
            this.timerPpis.ppi.slice(0, EL1_TIMERS).join(", ")
          } are not distinct (timer_irqs_are_valid)`,
        );
      }
      return -EINVAL;
    }
    // kvm_arm_pmu_v3_enable: a vCPU with the PMU feature runs only once it is initialised.
    if (this.pmus.length > 0 && !this.pmus[cpu].created) {
      if (this.trace.enabled) {
        this.trace.emit(
          "kvm",
          "run",
          `KVM_RUN vcpu${cpu}: -22: the vPMU is not initialised (kvm_arm_pmu_v3_enable)`,
        );
      }
      return -EINVAL;
    }
    return 0;
  }

  /**
   * KVM_CREATE_DEVICE of a vGIC or an ITS, as `kvm_ioctl_create_device`
   * and the device's create hook answer it: -ENODEV when the host
   * registered no such device type (a GICv2 host has no vgic_v3 and no
   * ITS; a GICv3 host without the GICv2 compatibility interface no
   * vgic_v2); with `test` (KVM_CREATE_DEVICE_TEST) 0 and nothing made;
   * then `kvm_vgic_create`'s -EEXIST (any vGIC exists), -EBUSY (a vCPU has
   * run), -E2BIG (more vCPUs than the version takes), or `vgic_its_create`.
   * A vGIC of the other version than the one built is built now: nothing
   * of a vGIC existed before (the VMM's routing table, irqfds and guest
   * RAM carry over). Returns 0 or the negative errno.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.gic.device.created = false;
   * vm.createDevice("vgic_v2"); // 0: the VM's vGIC is now a GICv2
   * vm.gic.version; // 2
   * ```
   */
  createDevice(type: "vgic_v2" | "vgic_v3" | "its", test = false): number {
    const dev = this.gic.device;
    if (!this.deviceRegistered(type)) return -ENODEV;
    if (test) return 0;
    if (type === "its") {
      this.gic.addIts();
      this.gic.itsCreated = true;
      return 0;
    }
    const version = type === "vgic_v2" ? 2 : 3;
    const r = dev.createResult(version);
    if (r !== 0) return r;
    if (version !== this.gic.version) this.#rebuildGic(version);
    return this.gic.device.create();
  }

  /**
   * Whether the host registered the device type (`kvm_register_vgic_device`):
   * vgic_v3 and its on a GICv3 host, vgic_v2 where a GICv2 can be emulated.
   */
  deviceRegistered(type: "vgic_v2" | "vgic_v3" | "its"): boolean {
    const dev = this.gic.device;
    return type === "vgic_v2" ? dev.canEmulateV2 : dev.hostV3;
  }

  /**
   * Why the guest's ICC_* system registers UNDEF, or undefined when it has
   * them: a GICv3 vGIC exists (`kvm_has_gicv3`). Without any vGIC KVM traps
   * them all (ICH_HCR_EL2.TALL0 | TALL1 | TC, `vcpu_set_ich_hcr`) and its
   * handlers inject an UNDEF (`undef_access`, `access_gic_sgi`,
   * `access_gic_sre`); a GICv2 guest has ICC_SRE_EL1.SRE clear, and on a
   * GICv2 host there is no system register interface at all.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.gic.device.created = false;
   * vm.iccUndefined(); // "no vGIC: ..."
   * ```
   */
  iccUndefined(): string | undefined {
    const dev = this.gic.device;
    if (!dev.hostV3) return "a GICv2 host has no GIC system register interface";
    if (!dev.created) {
      return "no vGIC: KVM traps the ICC registers (vcpu_set_ich_hcr) and injects an UNDEF (kvm_has_gicv3 false)";
    }
    if (this.gic.version !== 3) {
      return "a GICv2 vGIC: KVM traps the ICC registers (vcpu_set_ich_hcr) and injects an UNDEF (kvm_has_gicv3 false)";
    }
    return undefined;
  }

  /**
   * ID_AA64PFR0_EL1.GIC ([27:24]) as `who` reads it: 1 (GICv3 system
   * registers) or 0. KVM starts a VM with the host's (1 on a GICv3 host:
   * `sanitise_id_aa64pfr0_el1`), `kvm_vgic_create` sets it to the vGIC's
   * (1 for a GICv3, 0 for a GICv2), and a vCPU's first KVM_RUN without a
   * vGIC clears it (`kvm_finalize_sys_regs`), so a guest running without
   * one always reads 0 while the VMM's KVM_GET_ONE_REG before that run
   * still gives the host's.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.idAa64pfr0Gic("guest"); // 1
   * ```
   */
  idAa64pfr0Gic(who: "guest" | "vmm"): number {
    const dev = this.gic.device;
    if (dev.created) return this.gic.version === 3 ? ID_AA64PFR0_GIC_V3 : 0;
    if (who === "guest" || dev.vcpuRan) return 0;
    return dev.hostV3 ? ID_AA64PFR0_GIC_V3 : 0;
  }

  /**
   * ID_AA64PFR2_EL1.GCIE ([15:12]) as `who` reads it: KVM gives 1 only
   * with a vGICv5 (`sanitise_id_aa64pfr2_el1`), which the model never has;
   * a VM without any vGIC shows the VMM the host's before its first
   * KVM_RUN, which clears it (`kvm_finalize_sys_regs`), so the guest reads
   * 0 on every VM here.
   *
   * @example
   * ```ts
   * import { type ModelEnv } from "./engine_types.ts";
   * declare const env: ModelEnv;
   * const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
   * vm.idAa64pfr2Gcie("guest"); // 0
   * ```
   */
  idAa64pfr2Gcie(who: "guest" | "vmm"): number {
    const dev = this.gic.device;
    if (who === "guest" || dev.created || dev.vcpuRan) return 0;
    return dev.hostV5 ? ID_AA64PFR2_GCIE_IMP : 0;
  }

  /**
   * Why a GICv5 CPU interface instruction or register UNDEFs on this VM
   * (always: the model has no vGICv5), for the trace.
   */
  gicv5Undefined(): string {
    return this.gic.device.hostV5
      ? "no vGICv5: KVM keeps the GICv5 fine-grained traps (ICH_HFGITR_EL2, ICH_HFGRTR_EL2, ICH_HFGWTR_EL2) and injects an UNDEF (undef_access)"
      : "not a GICv5 host: FEAT_GCIE is not implemented, the encoding is UNDEFINED";
  }

  /** A not-yet-created vGIC of the other version, with the VM's own state carried over. */
  #rebuildGic(version: 2 | 3): void {
    const old = this.gic, c = this.config;
    const gic = new Gic({
      version,
      vcpus: c.vcpus,
      nrIrqs: c.nrIrqs,
      its: version === 3 && c.its,
      v4: version === 3 && c.v4,
      v41: c.v41,
      creationOrder: old.creationOrder,
      created: old.createdVcpus,
      itsRelease: c.itsRelease,
    }, this.trace);
    const dev = gic.device;
    dev.created = false;
    dev.vcpuRan = old.device.vcpuRan;
    dev.canEmulateV2 = old.device.canEmulateV2;
    dev.hostV3 = old.device.hostV3;
    dev.hostV5 = old.device.hostV5;
    gic.nrSpisSet = false;
    // KVM's ITS device (vgic_its_create) outlives the vGIC's choice of
    // version: hosted on a GICv3, inert on a GICv2 (vgic_has_its).
    gic.itsCreated = old.itsCreated;
    if (old.itsCreated && version === 3) gic.addIts();
    gic.ram = old.ram;
    gic.routing.table = old.routing.table;
    gic.routing.pinGsi = old.routing.pinGsi;
    for (const g of old.irqfds) gic.irqfds.add(g);
    for (const [g, n] of old.resamplefds) gic.resamplefds.set(g, n);
    this.gic = gic;
    this.#ownTimerPpis();
  }

  /** Virtual time now, in ns: the host counter the offsets apply to. */
  /**
   * Feeds `h` what the VM's models keep private: vCPU exception frames,
   * timer controls and deadlines, the ITS's enable and the Xen domain's
   * channels.
   */
  hashPrivate(h: StateHash): void {
    h.words(this.cpuLines);
    for (const cpu of this.cpus) cpu.hashPrivate(h);
    for (const pmu of this.pmus) pmu.hashPrivate(h);
    for (const t of this.timers) (t.virt.hashPrivate(h), t.phys.hashPrivate(h));
    this.gic.its?.hashPrivate(h);
    this.xen?.domain.hashPrivate(h);
  }

  now(): number {
    return this.#env.now();
  }

  #timerOutput(cpu: number, which: "virt" | "phys"): (level: boolean) => void {
    return (level) => {
      const t = this.trace;
      const ppi = this.timers[cpu][which].ppi;
      const id = t.enabled
        ? t.emit(
          `timer${cpu}`,
          "line",
          `${which === "virt" ? "CNTV" : "CNTP"} output ${level ? "high" : "low"} (PPI ${ppi})`,
        )
        : 0;
      t.open(id);
      this.gic.setPrivateLine(cpu, ppi, level, OWNER_TIMER, id);
      t.close(id);
    };
  }

  // ---- GicPort --------------------------------------------------------------

  /**
   * What is asserted towards vCPU `cpu`: 0 nothing, 1 IRQ, 2 FIQ (3: both,
   * only from the VMM's lines). The VMM's lines exist only without a vGIC,
   * which then asserts nothing.
   */
  signal(cpu: number): number {
    const lines = this.cpuLines[cpu];
    return lines !== 0 ? lines : this.gic.signal(cpu);
  }

  /**
   * The handler's acknowledge: GICC_IAR on GICv2, else ICC_IAR0_EL1 for an
   * FIQ or ICC_IAR1_EL1 for an IRQ. An exception the VMM's line raised has
   * no GIC to acknowledge it: INTID -1.
   */
  acknowledgeFor(cpu: number, fiq: boolean, out: Ack): Ack {
    if (this.cpuLines[cpu] !== 0) {
      out.intid = -1;
      out.source = -1;
      out.group = fiq ? 0 : 1;
      out.cause = this.#lineCause[cpu];
      return out;
    }
    const cif = this.gic.cifs[cpu];
    if (this.gic.version === 2) return cif.acknowledge(-1, out);
    return cif.acknowledge(fiq ? 0 : 1, out);
  }

  /** KVM's WFI wake-up test for vCPU `cpu` (`kvm_arch_vcpu_runnable`: HCR_EL2.VI/VF or the vGIC's). */
  wouldWake(cpu: number): boolean {
    if (this.cpuLines[cpu] !== 0) return true;
    return this.gic.wouldWake(cpu);
  }

  /** vCPU `cpu` blocks in WFI (its vPE goes non-resident, doorbell on) or runs again. */
  blocked(cpu: number, yes: boolean): void {
    const v4 = this.gic.v4;
    if (v4) {
      if (yes) v4.block(cpu);
      else v4.unblock(cpu);
    }
    // An interrupt woke a vCPU blocked in a Xen hypercall: vcpu_unblock.
    if (!yes) this.xen?.domain.timers.kick(cpu);
  }
}

/**
 * The Arm side of a Xen domain: the upcall is the event-channel PPI, made
 * pending on the target vCPU's redistributor as Xen's `vgic_inject_irq`
 * does (the pending latch, whatever the PPI's configuration); there is no
 * LAPIC and no callback GSI.
 */
class ArmXenGlue implements XenHost {
  constructor(
    readonly vm: ArmVm,
    readonly queue: EventQueue,
    readonly now: () => number,
  ) {}

  /** Xen `vgic_inject_irq(d, v, d->arch.evtchn_irq, true)` (arch/arm/domain.c `vcpu_mark_events_pending`). */
  injectEvtchnIrq(n: number): void {
    this.vm.gic.rds[n].bank.setPending(GUEST_EVTCHN_PPI);
  }

  /** No vLAPIC on Arm. */
  lapicEnabled(): boolean {
    return false;
  }

  /** Unreachable: {@link ArmXenGlue.injectEvtchnIrq} takes every upcall. */
  lapicSetIrr(): void {}

  /**
   * A WFI, or a SCHEDOP_block / poll, ends by itself once the PPI is
   * pending (the vCPU re-checks at its next step: {@link ArmVm.blocked}).
   */
  kick(): void {}

  /** Unreachable: Arm has no HVM callback GSI. */
  setGsiLevel(): void {}

  /** `local_events_need_delivery`: IRQs unmasked and the GIC signalling one. */
  interruptDeliverable(n: number): boolean {
    const cpu = this.vm.cpus[n];
    return !cpu.maskI && this.vm.gic.signal(n) === 1;
  }

  /** SCHEDOP_block or SCHEDOP_poll started (the vCPU sleeps as in WFI) or ended. */
  setBlocked(n: number, blocked: boolean): void {
    const cpu = this.vm.cpus[n];
    if (blocked) cpu.sleep("a Xen hypercall");
    else cpu.resume("the Xen hypercall returned");
  }

  /**
   * Xen on Arm's `local_event_delivery_enable` (asm/event.h): SCHEDOP_block
   * clears the guest's PSTATE.I, not evtchn_upcall_mask.
   */
  enableEventDelivery(n: number): void {
    const cpu = this.vm.cpus[n];
    if (!cpu.maskI) return;
    cpu.maskI = false;
    if (this.vm.trace.enabled) {
      this.vm.trace.emit(
        `vcpu${n}`,
        "daif",
        "PSTATE.I=0 (SCHEDOP_block: local_event_delivery_enable)",
      );
    }
  }
}
