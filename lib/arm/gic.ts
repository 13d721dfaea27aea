/**
 * A VM's GIC put together: the distributor, one redistributor and CPU
 * interface per vCPU, the LPIs, the ITS and the GICv4 layer, and the paths
 * between them — which interrupts a vCPU's CPU interface can see, SGI
 * generation (ICC_SGI1R_EL1, GICD_SGIR), KVM's injection rules
 * (KVM_IRQ_LINE, KVM_SIGNAL_MSI, device ownership of PPIs), whether a
 * vCPU is signalled an IRQ or an FIQ, and the VMM's side of the vGIC
 * device: KVM_DEV_ARM_VGIC_CTRL_INIT and the redistributor registers as
 * KVM_DEV_ARM_VGIC_GRP_REDIST_REGS shows them.
 *
 * With GICv3 (DS=1, as KVM presents it) Group 0 is signalled as FIQ and
 * Group 1 as IRQ; with GICv2 Group 0 is FIQ only when GICC_CTLR.FIQEn=1.
 *
 * vCPU n is the vCPU whose vcpu_id is n; the order the VMM created them in
 * matters only for the redistributor region (GICR_TYPER.Last). The VMM's
 * register attributes check, in this order, that the MPIDR names a vCPU
 * (-EINVAL) and that the vGIC is initialised (-EBUSY); the guest's MMIO and
 * system-register paths are not gated by the initialisation.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 4.6 "Interrupt grouping" (Table 4-3),
 * 12.2.21 ICC_SGI1R_EL1; Arm IHI 0048B (GICv2) 3.6 and 4.3.15 GICD_SGIR;
 * Linux `arch/arm64/kvm/vgic/vgic.c` (`kvm_vgic_inject_irq`,
 * `vgic_validate_injection`), `vgic-mmio-v3.c` (`vgic_v3_dispatch_sgi`),
 * `vgic-its.c` (`vgic_its_inject_msi`, `vgic_msi_to_its`),
 * `arch/arm64/kvm/arm.c` (`kvm_vm_ioctl_irq_line`), `vgic-kvm-device.c`
 * (`vgic_v3_attr_regs_access`, `vgic_v3_parse_attr`), `vgic-mmio.c`
 * (`vgic_uaccess`: an offset with no register reads as zero),
 * `Documentation/virt/kvm/devices/arm-vgic-v3.rst` (REDIST_REGS, CTRL_INIT);
 * the selftest `tools/testing/selftests/kvm/arm64/vgic_init.c`
 * (`test_v3_typer_accesses`, `test_v3_last_bit_single_rdist`).
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import type { Trace } from "../core/trace.ts";
import { EBUSY, EEXIST, EINVAL, ENODEV, ENXIO } from "./errno.ts";

export { EINVAL, ENODEV, ENXIO } from "./errno.ts";
import {
  BankOffset,
  type IrqBank,
  LPI_BASE,
  OWNER_NONE,
  PRIORITY_MASK,
  PRIVATE_COUNT,
  SGI_COUNT,
} from "./irq_state.ts";
import { Distributor, GicdCtlr, GicdOffset, GicdTyper2 } from "./gicv3_distributor.ts";
import {
  GICR_TYPER_LAST,
  GicrOffset,
  kvmMpidr,
  type LpiInvalidator,
  Redistributor,
} from "./gicv3_redistributor.ts";
import {
  type Candidate,
  CPU_GROUP1,
  CpuInterface,
  ICC_SRE_KVM,
  newCandidate,
  type PendingView,
} from "./cpu_interface_v3.ts";
import { type Lpi, LpiTable } from "./lpi.ts";
import { GITS_TRANSLATER, Its, type ItsHost, type ItsKvmRelease } from "./its.ts";
import { Gicv4, VSGI_PRIORITY_MASK } from "./gicv4.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { armRamSize } from "./memory_map.ts";
import { KVM_MAX_VCPU_IDS, VGIC_MAX_CPUS, VgicAddrType, VgicDevice } from "./vgic_device.ts";

/** The GRP_ADDR attributes each vGIC version has (KVM_HAS_DEVICE_ATTR). */
const V3_ADDR_TYPES = [
  VgicAddrType.V3_DIST,
  VgicAddrType.V3_REDIST,
  VgicAddrType.V3_REDIST_REGION,
].map(BigInt);
const V2_ADDR_TYPES = [VgicAddrType.V2_DIST, VgicAddrType.V2_CPU].map(BigInt);
import { ArmGsiRouting } from "./kvm_routing.ts";

/**
 * The KVM_DEV_ARM_VGIC_GRP_* groups KVM_HAS_DEVICE_ATTR may name.
 *
 * @example
 * ```ts
 * const g: HasAttrGroup = "addr"; // KVM_DEV_ARM_VGIC_GRP_ADDR
 * ```
 */
export type HasAttrGroup =
  | "addr"
  | "dist_regs"
  | "cpu_regs"
  | "redist_regs"
  | "cpu_sysregs"
  | "nr_irqs"
  | "ctrl"
  | "level_info";

/** GICD_IIDR.Revision, bits [15:12]: what userspace may change (KVM_VGIC_IMP_REV_*). */
const GICD_IIDR_REVISION_MASK = 0xf000;

/** KVM's VGIC_MAX_RESERVED: the highest INTID below the LPIs (1020..1023 are special). */
const VGIC_MAX_RESERVED = 1023;

/**
 * Why KVM_DEV_ARM_VGIC_GRP_NR_IRQS refuses `nrIrqs` with -EINVAL, or
 * undefined when it takes it. `vgic_set_common_attr` wants a multiple of 32
 * (a whole GICD_TYPER.ITLinesNumber step) from VGIC_NR_PRIVATE_IRQS + 32
 * (at least one SPI register) to VGIC_MAX_RESERVED, and never rounds.
 *
 * @example
 * ```ts
 * nrIrqsProblem(992);  // undefined: the largest accepted
 * nrIrqsProblem(1024); // "1024 is above VGIC_MAX_RESERVED (1023): ..."
 * ```
 */
export function nrIrqsProblem(nrIrqs: number): string | undefined {
  if (nrIrqs < PRIVATE_COUNT + 32) {
    return `${nrIrqs} is below ${
      PRIVATE_COUNT + 32
    } (the 32 SGIs and PPIs and one register of SPIs)`;
  }
  if (nrIrqs > VGIC_MAX_RESERVED) {
    return `${nrIrqs} is above VGIC_MAX_RESERVED (${VGIC_MAX_RESERVED}): 992 is the largest KVM takes`;
  }
  if (nrIrqs % 32 !== 0) {
    return `${nrIrqs} is not a multiple of 32, and KVM does not round it: write ${
      nrIrqs - (nrIrqs % 32)
    }`;
  }
  return undefined;
}

/**
 * Where KVM users (QEMU's virt board) place the ITS; GITS_TRANSLATER is at +0x10040.
 *
 * @example
 * ```ts
 * ITS_BASE.toString(16); // "8080000"
 * ```
 */
export const ITS_BASE = 0x0808_0000;
/**
 * The MSI doorbell address of the ITS.
 *
 * @example
 * ```ts
 * declare const gic: Gic;
 * gic.signalMsi(ITS_DOORBELL, 20, KVM_MSI_VALID_DEVID, 2); // 1 when delivered
 * ```
 */
export const ITS_DOORBELL: number = ITS_BASE + GITS_TRANSLATER;
/**
 * The ITS's two 64 KB frames (KVM_VGIC_V3_ITS_SIZE): KVM finds the ITS of
 * an MSI by the MMIO device at its address, so any address in them names it.
 *
 * @example
 * ```ts
 * ITS_FRAMES_SIZE; // 0x20000
 * ```
 */
export const ITS_FRAMES_SIZE = 0x2_0000;

/**
 * KVM_IRQ_LINE irq types (KVM_ARM_IRQ_TYPE_*).
 *
 * @example
 * ```ts
 * declare const gic: Gic;
 * gic.kvmIrqLine(KvmIrqType.PPI, 1, 20, 1); // PPI 20 on vCPU1
 * ```
 */
export const KvmIrqType = { CPU: 0, SPI: 1, PPI: 2 } as const;
/**
 * KVM_MSI_VALID_DEVID.
 *
 * @example
 * ```ts
 * declare const gic: Gic;
 * gic.signalMsi(ITS_DOORBELL, 20, 0, 2); // -EINVAL: flags lack KVM_MSI_VALID_DEVID
 * ```
 */
export const KVM_MSI_VALID_DEVID = 1;

/**
 * How a GIC is built.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * declare const trace: Trace;
 * const config: GicConfig = { version: 3, vcpus: 6, nrIrqs: 64, its: true, v4: false, creationOrder: [0, 3, 5, 4, 1, 2] };
 * new Gic(config, trace).rds[2].last; // true
 * ```
 */
export interface GicConfig {
  /** 2: KVM_DEV_TYPE_ARM_VGIC_V2, 3: KVM_DEV_TYPE_ARM_VGIC_V3. */
  version: 2 | 3;
  /** vCPUs, whose vcpu_ids are 0..vcpus-1. */
  vcpus: number;
  /** INTIDs including SGIs and PPIs (KVM_DEV_ARM_VGIC_GRP_NR_IRQS), a multiple of 32. */
  nrIrqs: number;
  /** A vITS (GICv3 only). */
  its: boolean;
  /** GICv4 direct injection under the vITS. */
  v4: boolean;
  /**
   * The host's GIC is a GICv4.1 whose CPU interfaces take vSGIs (KVM's
   * `system_supports_direct_sgis`): a GICv3 VM starts with nASSGIcap and
   * gets vPEs (and vLPIs, with the ITS) unless the VMM clears it.
   */
  v41?: boolean;
  /**
   * The vcpu_ids in the order the VMM created the vCPUs (KVM_CREATE_VCPU),
   * a permutation of 0..vcpus-1; default 0, 1, 2, ... It decides each
   * redistributor's slot in the redistributor region, hence GICR_TYPER.Last.
   */
  creationOrder?: readonly number[];
  /**
   * How many of them exist when the scenario starts (KVM's online_vcpus):
   * the first `created` of the creation order; the rest come later with
   * {@link Gic.addVcpu}. Default: all.
   */
  created?: number;
  /** The KVM table handling the vITS follows (the `its_tables` setting); default `newest`. */
  itsRelease?: ItsKvmRelease;
}

/** KVM_DEV_ARM_VGIC_GRP_REDIST_REGS offsets whose device-attribute view differs from the guest's. */
const UACCESS_ISPENDR0 = GicrOffset.SGI_BASE + 0x200;
const UACCESS_ICPENDR0 = GicrOffset.SGI_BASE + 0x280;
/** The bank-register offsets (in GICD, or in GICR's SGI_base frame) whose userspace view is KVM's own. */
const UACCESS_ISPENDR = 0x200, UACCESS_ICPENDR = 0x280, UACCESS_ISACTIVER = 0x300;
const UACCESS_ICACTIVER = 0x380;

/**
 * What the GIC signals to a vCPU.
 *
 * @example
 * ```ts
 * declare const gic: Gic;
 * gic.signal(0) === Signal.FIQ; // a Group 0 interrupt is signalled (GICv3)
 * ```
 */
export const Signal = { NONE: 0, IRQ: 1, FIQ: 2 } as const;

/**
 * The GIC of one VM.
 *
 * @example
 * ```ts
 * import { type Trace } from "./engine_types.ts";
 * declare const trace: Trace;
 * const gic = new Gic({ version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false }, trace);
 * gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1); // 0: SPI 40 pending (edge)
 * ```
 */
export class Gic implements PendingView, LpiInvalidator, ItsHost {
  /** 2 or 3. */
  readonly version: 2 | 3;
  /**
   * The vCPUs the scenario declares, created or not; vCPU n has vcpu_id n.
   * KVM knows only the first {@link Gic.createdVcpus} of
   * {@link Gic.creationOrder}.
   */
  readonly vcpus: number;
  /**
   * KVM's online_vcpus: the first this many of {@link Gic.creationOrder}
   * exist (KVM_CREATE_VCPU); the others are not there for SGIs, affinity
   * routing, KVM_IRQ_LINE or the device attributes until created.
   */
  createdVcpus: number;
  /** Each vcpu_id's position in the creation order. */
  readonly #rank: Uint16Array;
  /**
   * The distributor (SPIs and their routing). Rebuilt once, by a deferred
   * vGIC's KVM_DEV_ARM_VGIC_GRP_NR_IRQS write, before anything uses it.
   */
  dist: Distributor;
  /**
   * KVM's `nr_spis` is non-zero: an NR_IRQS write or `vgic_init` decided the
   * SPI count. True from the start unless the vGIC is deferred (the `nr_irqs`
   * setting then stands for the VMM's write).
   */
  nrSpisSet = true;
  /** One redistributor per vCPU, indexed by vcpu_id (GICv2: just the private banks). */
  readonly rds: Redistributor[] = [];
  /** One CPU interface per vCPU, indexed by vcpu_id. */
  readonly cifs: CpuInterface[] = [];
  /** The LPI configuration table (in guest RAM) and the mapped LPIs. */
  readonly lpis: LpiTable = new LpiTable(() => this.memory());
  /**
   * Guest RAM once touched (public, so that explore's fingerprint sees it;
   * use {@link Gic.memory}).
   */
  ram: GuestMemory | undefined;
  /** The vITS, or null without one. */
  its: Its | null;
  /** The KVM table handling a vITS made now or later follows ({@link GicConfig.itsRelease}). */
  readonly itsRelease: ItsKvmRelease;
  /**
   * The GICv4 layer (KVM's vPEs), or null without direct injection. On a
   * GICv4.1 host it exists without an ITS too (for vSGIs), and `vgic_init`
   * drops it when the VMM cleared nASSGIcap.
   */
  v4: Gicv4 | null;
  /** The host's GIC is a GICv4.1 with direct vSGIs ({@link GicConfig.v41}). */
  readonly hostV41: boolean;
  /** GICv2 GICC_CTLR.FIQEn per vCPU. */
  readonly fiqEn: Uint8Array;
  /** GICv2 GICC_CTLR.AckCtl per vCPU (kept for read-back). */
  readonly ackCtl: Uint8Array;
  readonly #scratch: Candidate = newCandidate();
  /**
   * `vgic_init` has run (KVM_DEV_ARM_VGIC_CTRL_INIT, or a GICv2's lazy
   * init). The VMM's register attributes, KVM_RUN and injection
   * (KVM_IRQ_LINE, irqfds) check it; the guest's own paths do not, as no
   * guest runs before it.
   */
  initialized = false;
  /**
   * The vcpu_ids in creation order: the created ones first, in the order
   * they came; the rest in the order the vm's `vcpu_ids` expects them.
   */
  readonly creationOrder: number[];
  /** The VMM's side of the vGIC device: frame addresses and KVM_RUN's readiness. */
  readonly device: VgicDevice;
  /**
   * KVM_CREATE_DEVICE made an ITS: from the start for `gic v3 { its }`
   * unless the scenario creates it itself (`deferred`). KVM may hold one
   * the model does not host (`its` null): see `hasIts`.
   */
  itsCreated: boolean;

  /** GICv4.1: the SGIs are vSGIs now ({@link Gicv4.vsgis}). */
  get vsgis(): boolean {
    return this.v4 !== null && this.v4.vsgis;
  }

  /**
   * `vgic_has_its`: an ITS device exists and the vGIC is a created GICv3
   * (its vgic_model). KVM lets the VMM make the ITS first, or on a GICv2,
   * and it stays inert (MSIs -ENODEV) until then or for good.
   */
  get hasIts(): boolean {
    return this.its !== null && this.itsCreated && this.device.created && this.version === 3;
  }
  /**
   * GICv2: userspace may write GICD_IGROUPR (`v2_groups_user_writable`),
   * which it earns by writing GICD_IIDR back.
   */
  v2GroupsUserWritable = false;
  /** KVM's GSI routing table (irqfds use it; KVM_IRQ_LINE does not). */
  readonly routing: ArmGsiRouting = new ArmGsiRouting();
  /** The GSIs with an irqfd (KVM_IRQFD). */
  readonly irqfds: Set<number> = new Set();
  /**
   * The GSIs whose irqfd has a resamplefd (KVM_IRQFD_FLAG_RESAMPLE), each
   * with the times KVM signalled it (`irqfd_resampler_ack`).
   */
  readonly resamplefds: Map<number, number> = new Map();

  /**
   * Builds the GIC of a VM whose vCPUs exist already (KVM wants CTRL_INIT
   * after the last KVM_CREATE_VCPU), with the legacy redistributor region
   * holding one redistributor per vCPU in creation order.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 3, nrIrqs: 64, its: false, v4: false, creationOrder: [2, 0, 1] }, trace);
   * gic.rds[1].last; // true: vcpu_id 1 was created last
   * ```
   */
  constructor(config: GicConfig, readonly trace: Trace) {
    this.version = config.version;
    this.vcpus = config.vcpus;
    const order = config.creationOrder ?? Array.from({ length: config.vcpus }, (_, i) => i);
    if (!isPermutation(order, config.vcpus)) {
      throw new RangeError(
        `gic: creation order [${order.join(", ")}] is not a permutation of 0..${config.vcpus - 1}`,
      );
    }
    this.creationOrder = [...order];
    this.createdVcpus = Math.min(config.created ?? config.vcpus, config.vcpus);
    this.#rank = new Uint16Array(config.vcpus);
    order.forEach((id, p) => this.#rank[id] = p);
    this.device = new VgicDevice(config.version, this.createdVcpus);
    const hasIts = config.version === 3 && config.its;
    this.dist = this.#distributor(config.nrIrqs, hasIts);
    // KVM's PROPBASER resets to 0: IDbits 0 gives a range too small for any LPI.
    this.lpis.idBits = 1;
    for (let i = 0; i < config.vcpus; i++) {
      const rd = new Redistributor(i, {
        last: false,
        lpis: hasIts,
        version: config.version,
        regionIndex: -1,
      });
      rd.invalidator = this;
      if (config.version === 2) rd.bank.sgiSources = arenaU8(SGI_COUNT);
      this.rds.push(rd);
      this.cifs.push(new CpuInterface(i, this));
    }
    this.fiqEn = arenaU8(config.vcpus);
    this.ackCtl = arenaU8(config.vcpus);
    this.itsRelease = config.itsRelease ?? "newest";
    this.its = hasIts ? this.#newIts() : null;
    this.itsCreated = hasIts;
    this.hostV41 = config.version === 3 && config.v41 === true;
    // kvm_vgic_create: a GICv3 VM gets nASSGIcap when the host has vSGIs.
    this.dist.nassgicap = this.hostV41;
    this.v4 = (hasIts && config.v4) || this.hostV41 ? new Gicv4(config.vcpus, trace) : null;
    if (this.v4) this.v4.v41 = this.hostV41;
    this.#placeRedistributors();
  }

  /**
   * Whether vCPU `id` exists: declared, and created (KVM_CREATE_VCPU) by
   * now.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 4, nrIrqs: 64, its: false, v4: false, creationOrder: [0, 3, 1, 2], created: 2 }, trace);
   * gic.vcpuExists(3); // true
   * gic.vcpuExists(1); // false until gic.addVcpu()
   * ```
   */
  vcpuExists(id: number): boolean {
    return id >= 0 && id < this.vcpus && this.#rank[id] < this.createdVcpus;
  }

  /**
   * KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_ITS) on a GICv3 VM built
   * without one (`vgic_its_create`): from now on the distributor and every
   * redistributor advertise LPIs (GICR_TYPER.PLPIS follows `vgic_has_its`)
   * and the ITS answers at its frames. No GICv4 layer comes with it.
   */
  addIts(): void {
    if (this.its || this.version !== 3) return;
    this.its = this.#newIts();
    this.dist.lpis = true;
    for (const rd of this.rds) rd.lpis = true;
  }

  #newIts(): Its {
    const its = new Its(this, this.trace);
    its.release = this.itsRelease;
    return its;
  }

  /** The vcpu_id the creation order makes next, or undefined once all exist. */
  get nextVcpuId(): number | undefined {
    return this.creationOrder[this.createdVcpus];
  }

  /**
   * What KVM_CREATE_VCPU answers for `id` (`kvm_vm_ioctl_create_vcpu`), in
   * its order, without creating anything: -EINVAL for an id past
   * KVM_MAX_VCPU_IDS or a VM at max_vcpus (the vGIC's limit once
   * `kvm_vgic_create` has run, 8 for GICv2); -EBUSY once the vGIC is
   * initialised (`kvm_arch_vcpu_precreate`); -EINVAL when the new vCPU's
   * redistributor would get a slot while the frames are already invalid
   * (`kvm_vgic_vcpu_init` -> `vgic_register_redist_iodev` ->
   * `vgic_v3_check_base`); -EEXIST for an id in use (checked after the
   * vCPU was built). 0: KVM would create it.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 2, nrIrqs: 64, its: false, v4: false, created: 1 }, trace);
   * gic.createVcpuResult(0); // -EEXIST
   * gic.createVcpuResult(1); // 0
   * ```
   */
  createVcpuResult(id: number): number {
    // max_vcpus is the vGIC's only once kvm_vgic_create has run.
    const max = this.device.created ? VGIC_MAX_CPUS[this.version] : KVM_MAX_VCPU_IDS;
    if (id >= KVM_MAX_VCPU_IDS || this.createdVcpus >= max) return -EINVAL;
    if (this.device.created && this.initialized) return -EBUSY;
    if (this.version === 3 && this.device.created && !this.device.newRedistFits()) return -EINVAL;
    if (this.vcpuExists(id)) return -EEXIST;
    return 0;
  }

  /**
   * KVM_CREATE_VCPU of declared vCPU `id` (default {@link Gic.nextVcpuId})
   * once {@link Gic.createVcpuResult} said 0: the vCPU exists from now on,
   * next in the creation order, and with a GICv3 its redistributor takes
   * the next free slot (`vgic_register_redist_iodev`), which moves
   * GICR_TYPER.Last.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 3, nrIrqs: 64, its: false, v4: false, created: 1 }, trace);
   * gic.addVcpu(2); // created before vCPU 1
   * gic.creationOrder; // [0, 2, 1]
   * ```
   */
  addVcpu(id: number = this.creationOrder[this.createdVcpus]): void {
    const at = this.#rank[id], here = this.createdVcpus;
    if (at < here || id >= this.vcpus) throw new RangeError(`gic: vCPU ${id} cannot be created`);
    // Swap it into the next creation slot.
    const other = this.creationOrder[here];
    this.creationOrder[here] = id;
    this.creationOrder[at] = other;
    this.#rank[id] = here;
    this.#rank[other] = at;
    this.createdVcpus++;
    this.device.vcpus = this.createdVcpus;
    this.dist.vcpus = this.createdVcpus;
    this.#placeRedistributors();
  }

  /**
   * Each created vCPU's redistributor slot and GICR_TYPER.Last. Counted
   * regions (REDIST_REGION) decide them as `VgicDevice.redistPlacement`
   * does; otherwise the legacy region holds the vCPUs in creation order and
   * Last goes to the one created last. With no region set at all KVM has
   * given no vCPU a slot (Last reads clear through REDIST_REGS: see
   * {@link Gic.getRedistReg}); the guest, which cannot run before a region
   * exists, sees the legacy layout a VMM sets up.
   */
  #placeRedistributors(): void {
    const placement = this.device.redistPlacement();
    for (let i = 0; i < this.vcpus; i++) {
      const rd = this.rds[i], p = this.#rank[i];
      if (p >= this.createdVcpus) {
        rd.regionIndex = -1;
        rd.last = false;
      } else if (placement) {
        rd.regionIndex = placement[p].slot;
        rd.last = placement[p].last;
      } else {
        rd.regionIndex = p;
        rd.last = p === this.createdVcpus - 1;
      }
    }
  }

  #distributor(nrIrqs: number, lpis: boolean): Distributor {
    const d = new Distributor({
      version: this.version,
      nrIrqs,
      vcpus: this.createdVcpus,
      resolve: (aff) => this.vcpuOfAffinity(aff),
    });
    d.lpis = lpis;
    const old = this.dist as Distributor | undefined;
    if (old) {
      d.nassgicap = old.nassgicap;
      d.nassgireq = old.nassgireq;
    }
    return d;
  }

  /**
   * Guest RAM, allocated when something first touches it (the LPI
   * configuration and pending tables and the ITS's tables live there).
   */
  memory(): GuestMemory {
    return this.ram ??= new GuestMemory(armRamSize(this.vcpus));
  }

  /** The size guest RAM has (or will have once touched). */
  get memorySize(): number {
    return this.ram?.size ?? armRamSize(this.vcpus);
  }

  /** The vCPU whose KVM MPIDR has this Aff2.Aff1.Aff0, or -1. */
  vcpuOfAffinity(aff: number): number {
    for (let i = 0; i < this.vcpus; i++) {
      if (kvmMpidr(i) === (aff & 0xff_ffff) && this.vcpuExists(i)) return i;
    }
    return -1;
  }

  // ---- what a CPU interface sees -------------------------------------------------

  /** Whether GICD_CTLR enables group `g`. */
  distGroupEnabled(g: number): boolean {
    return this.dist.groupEnabled(g);
  }

  /** The highest-priority interrupt for `cpu` that is pending, enabled and not active in one of `groups` (bit g = group g): its SGIs and PPIs, the SPIs routed to it, and (Group 1, EnableLPIs) its LPIs, of which a vLPI counts only while its vPE is resident. Ties go to the lowest INTID. */
  highest(cpu: number, groups: number, out: Candidate): boolean {
    let best = -1, bestPrio = 0x100, bestGroup = 1, bestCause = 0;
    const bank = this.rds[cpu].bank;
    // vSGIs, like vLPIs, reach the CPU interface only while the vPE is
    // resident, and with the 4 priority bits the VSGI command carries.
    const vsgis = this.v4 !== null && this.v4.vsgis;
    const firstPrivate = vsgis && !this.v4!.vpes[cpu].resident ? SGI_COUNT : 0;
    const sgiMask = vsgis ? VSGI_PRIORITY_MASK : PRIORITY_MASK;
    // Most INTIDs are disabled or idle: four at a time are passed over when none of them is
    // enabled, or none has its latch set or its line high (a GICv2 SGI's sources aside).
    const sources = bank.sgiSources;
    let en = bank.enabledWords, latch = bank.latchWords, line = bank.lineWords;
    for (let i = firstPrivate; i < PRIVATE_COUNT; i++) {
      if ((i & 3) === 0) {
        const w = i >>> 2;
        if (
          en[w] === 0 ||
          ((latch[w] | line[w]) === 0 && (sources === null || i >= SGI_COUNT))
        ) {
          i += 3;
          continue;
        }
      }
      if (!ready(bank, i, groups)) continue;
      const p = bank.priority[i] & (i < SGI_COUNT ? sgiMask : PRIORITY_MASK);
      if (p < bestPrio) {
        best = i, bestPrio = p, bestGroup = bank.group[i], bestCause = bank.cause[i];
      }
    }
    const d = this.dist, spis = d.spis, n = d.nrIrqs;
    en = spis.enabledWords, latch = spis.latchWords, line = spis.lineWords;
    // SPIs sixteen at a time (four words) where all are disabled or idle, else four at a time.
    for (let i = spis.enabledCount === 0 ? n : PRIVATE_COUNT; i < n; i++) {
      if ((i & 3) === 0) {
        const w = i >>> 2;
        if ((i & 15) === 0 && i + 16 <= n && quiet16(en, latch, line, w)) {
          i += 15;
          continue;
        }
        if (i + 4 <= n && (en[w] === 0 || (latch[w] | line[w]) === 0)) {
          i += 3;
          continue;
        }
      }
      if (d.targetVcpu[i] !== cpu || !ready(spis, i, groups)) continue;
      const p = spis.priority[i] & PRIORITY_MASK;
      if (p < bestPrio) {
        best = i, bestPrio = p, bestGroup = spis.group[i], bestCause = spis.cause[i];
      }
    }
    // LPIs are Group 1 only, and need EnableLPIs at the target redistributor.
    // A GICv4.0 vLPI is delivered by the hardware, which knows nothing of the
    // emulated GICD_CTLR: only the vCPU's Group 1 enable (ICH_VMCR_EL2.VENG1)
    // gates it. GICv4.1 carries the distributor's enable to the vPE
    // (GICR_VPENDBASER.vGrp1En, its_vpe_4_1_make_resident).
    const g1 = (groups & 2) !== 0;
    const vg1 = g1 || ((groups & CPU_GROUP1) !== 0 && this.v4 !== null && !this.v4.v41);
    if (vg1 && this.lpis.pendingCount !== 0 && this.rds[cpu].enableLpis) {
      const list = this.lpis.list;
      const vpe = this.v4 ? this.v4.vpes[cpu] : null;
      for (let k = 0; k < list.length; k++) {
        const l = list[k];
        if (l.target !== cpu || !l.pending || !l.enabled) continue;
        // A vLPI reaches the CPU interface only while its vPE is resident.
        if (l.forwarded && vpe !== null) {
          if (!vpe.resident) continue;
        } else if (!g1) continue;
        const p = l.priority & PRIORITY_MASK;
        if (p < bestPrio || (p === bestPrio && l.intid < best)) {
          best = l.intid, bestPrio = p, bestGroup = 1, bestCause = l.cause;
        }
      }
    }
    if (best < 0) return false;
    out.intid = best;
    out.priority = bestPrio;
    out.group = bestGroup;
    out.cause = bestCause;
    return true;
  }

  /** Pending becomes active (an LPI or a GICv4.1 vSGI just stops being pending). Returns the GICv2 SGI source, else -1. */
  acknowledge(cpu: number, intid: number): number {
    if (intid < SGI_COUNT && this.vsgis) {
      this.rds[cpu].bank.latch[intid] = 0;
      return -1;
    }
    if (intid < PRIVATE_COUNT) return this.rds[cpu].bank.acknowledge(intid);
    if (intid < this.dist.nrIrqs) return this.dist.spis.acknowledge(intid);
    const lpi = this.lpis.lpis.get(intid);
    if (lpi) lpi.pending = false;
    return -1;
  }

  /**
   * Active becomes inactive through the CPU interface (EOIR with
   * EOImode=0, or DIR); LPIs have no active state. A level-triggered SPI
   * deactivated this way is the EOI maintenance KVM asked for
   * (`vgic_v3_populate_lr` sets ICH_LR_EOI on level interrupts, and
   * `vgic_v3_fold_lr_state` / `vgic_v2_fold_lr_state` see the list register
   * go invalid): its ack notifiers run. GICD_ICACTIVER does not come here:
   * KVM clears active there with the list registers folded while still
   * active, so no notifier runs.
   */
  deactivate(cpu: number, intid: number): void {
    if (intid < PRIVATE_COUNT) this.rds[cpu].bank.deactivate(intid);
    else if (intid < this.dist.nrIrqs) {
      const spis = this.dist.spis;
      const wasActive = spis.active[intid] !== 0;
      spis.deactivate(intid);
      // vgic_valid_spi: the SPI exists once nr_spis is set.
      if (wasActive && spis.edge[intid] === 0 && this.nrSpisSet) this.#ackedSpi(intid);
    }
  }

  /**
   * `kvm_notify_acked_irq(kvm, 0, intid - 32)`: the GSI routed to that pin
   * (`kvm_irq_map_chip_pin`) runs its ack notifiers; a resampling irqfd's
   * (`irqfd_resampler_ack`) lowers the GSI's lines (`kvm_set_irq` level 0
   * from KVM_IRQFD_RESAMPLE_IRQ_SOURCE_ID) and signals its resamplefd, so
   * the VMM re-checks the device and writes the eventfd again if the line
   * should still be high.
   */
  #ackedSpi(intid: number): void {
    const gsi = this.routing.gsiOfPin(intid - PRIVATE_COUNT);
    if (gsi === undefined) return;
    const signals = this.resamplefds.get(gsi);
    if (signals === undefined) return;
    this.#emit(
      "kvm",
      "resample",
      `EOI of level SPI ${intid}: GSI ${gsi}'s line lowered, resamplefd signalled (irqfd_resampler_ack)`,
    );
    this.#lowerGsi(gsi);
    this.resamplefds.set(gsi, signals + 1);
  }

  /** `kvm_set_irq(gsi, 0)`: each irqchip entry's SPI line goes low (MSI entries ignore level 0). */
  #lowerGsi(gsi: number): void {
    for (const e of this.routing.routes(gsi)) {
      const spi = e.pin + PRIVATE_COUNT;
      if (e.type === "irqchip" && spi < this.dist.nrIrqs) this.setSpiLine(spi, false);
    }
  }

  /**
   * KVM_IRQFD on `gsi`, with a resamplefd when `resample`
   * (`kvm_irqfd_assign`): -EBUSY when the GSI has an irqfd already (the
   * model gives each GSI one eventfd). Arm64 takes irqfds, resampling ones
   * too, whatever the vGIC's state (`kvm_arch_irqfd_allowed` is the
   * generic one).
   */
  assignIrqfd(gsi: number, resample: boolean): number {
    if (this.irqfds.has(gsi)) return -EBUSY;
    this.irqfds.add(gsi);
    if (resample) this.resamplefds.set(gsi, 0);
    return 0;
  }

  /**
   * KVM_IRQFD with KVM_IRQFD_FLAG_DEASSIGN: the irqfd goes; a resampler
   * left with no irqfd lowers its GSI's lines (`irqfd_resampler_shutdown`).
   */
  deassignIrqfd(gsi: number): number {
    this.irqfds.delete(gsi);
    if (this.resamplefds.delete(gsi)) this.#lowerGsi(gsi);
    return 0;
  }

  /** Whether the vCPU's CPU interface signals an IRQ, an FIQ or nothing. */
  signal(cpu: number, c: Candidate = this.#scratch): number {
    if (!this.cifs[cpu].signalled(c)) return Signal.NONE;
    if (c.group === 1) return Signal.IRQ;
    return this.version === 3 || this.fiqEn[cpu] ? Signal.FIQ : Signal.IRQ;
  }

  /** KVM's WFI wake-up test for a vCPU, GICv4's pending_last included. */
  wouldWake(cpu: number): boolean {
    if (this.v4 && this.v4.vpes[cpu].pendingLast) return true;
    return this.cifs[cpu].wouldWake();
  }

  // ---- injection ---------------------------------------------------------------

  /**
   * KVM_IRQ_LINE: `type` CPU (refused: the irqchip is in the kernel), SPI
   * (`vcpu` ignored) or PPI on `vcpu`. Returns 0 or a negative errno. A PPI
   * owned by an in-kernel device (the timer) is silently not injected.
   */
  kvmIrqLine(type: number, vcpu: number, intid: number, level: number, cause = 0): number {
    switch (type) {
      case KvmIrqType.CPU:
        this.#emit("kvm", "irq_line", "KVM_IRQ_LINE type CPU: -ENXIO (in-kernel irqchip)");
        return -ENXIO;
      case KvmIrqType.PPI:
        if (!this.device.created) return this.#noIrqchip("PPI");
        // kvm_vm_ioctl_irq_line: kvm_get_vcpu_by_id finds no such vCPU.
        if (!this.vcpuExists(vcpu) || intid < SGI_COUNT || intid >= PRIVATE_COUNT) {
          this.#emit("kvm", "irq_line", `KVM_IRQ_LINE PPI vcpu ${vcpu} intid ${intid}: -EINVAL`);
          return -EINVAL;
        }
        {
          const r = this.#injectionInit("KVM_IRQ_LINE");
          if (r !== 0) return r;
        }
        this.setPrivateLine(vcpu, intid, level !== 0, OWNER_NONE, cause);
        return 0;
      case KvmIrqType.SPI: {
        if (!this.device.created) return this.#noIrqchip("SPI");
        // kvm_vm_ioctl_irq_line refuses a private INTID itself; the SPI's
        // existence is only known to kvm_vgic_inject_irq, after vgic_lazy_init.
        if (intid >= PRIVATE_COUNT) {
          const r = this.#injectionInit("KVM_IRQ_LINE");
          if (r !== 0) return r;
        }
        if (intid < PRIVATE_COUNT || intid >= this.dist.nrIrqs) {
          this.#emit("kvm", "irq_line", `KVM_IRQ_LINE SPI ${intid}: -EINVAL`);
          return -EINVAL;
        }
        this.setSpiLine(intid, level !== 0, cause);
        return 0;
      }
    }
    return -EINVAL;
  }

  /**
   * `vgic_lazy_init`, which `kvm_vgic_inject_irq` runs before touching any
   * interrupt: nothing to do once the vGIC is initialised; a GICv2 is
   * initialised on the spot (the legacy VMMs never sent CTRL_INIT); any
   * other vGIC answers -EBUSY until KVM_DEV_ARM_VGIC_CTRL_INIT.
   */
  #injectionInit(why: string): number {
    if (this.initialized) return 0;
    if (this.version !== 2) {
      this.#emit(
        "kvm",
        "inject",
        `${why}: -EBUSY (vgic_lazy_init: a GICv3 waits for KVM_DEV_ARM_VGIC_CTRL_INIT)`,
      );
      return -EBUSY;
    }
    this.lazyInit(`vgic_lazy_init (${why})`);
    return 0;
  }

  /**
   * KVM_IRQ_LINE of a PPI or SPI before KVM_CREATE_DEVICE made the vGIC
   * (`kvm_vm_ioctl_irq_line`: no in-kernel irqchip, -ENXIO).
   */
  #noIrqchip(kind: string): number {
    this.#emit("kvm", "irq_line", `KVM_IRQ_LINE type ${kind}: -ENXIO (no vGIC created yet)`);
    return -ENXIO;
  }

  /** Drives a PPI line of one vCPU; `owner` must match the PPI's owner (vgic_validate_injection). */
  setPrivateLine(vcpu: number, intid: number, level: boolean, owner: number, cause = 0): boolean {
    const bank = this.rds[vcpu].bank;
    if (bank.owner[intid] !== owner) {
      this.#emit(
        `gicr${vcpu}`,
        "ignored",
        `PPI ${intid} is driven by an in-kernel device: injection ignored`,
      );
      return false;
    }
    const changed = bank.inject(intid, level, cause);
    if (changed && this.trace.enabled) {
      this.trace.emit(
        `gicr${vcpu}`,
        "line",
        `${kindOf(intid)} ${intid} ${describeInput(bank, intid, level)}`,
      );
      if (level) bank.cause[intid] = this.#last(cause);
    }
    return changed;
  }

  /**
   * Drives an SPI line; `owner` must match the SPI's owner, as for a PPI
   * (vgic_validate_injection: the VMM's injection of an SPI a vPMU owns
   * is ignored).
   */
  setSpiLine(intid: number, level: boolean, cause = 0, owner = OWNER_NONE): boolean {
    const spis = this.dist.spis;
    if (spis.owner[intid] !== owner) {
      this.#emit(
        "gicd",
        "ignored",
        `SPI ${intid} is driven by an in-kernel device: injection ignored`,
      );
      return false;
    }
    const changed = spis.inject(intid, level, cause);
    if (changed && this.trace.enabled) {
      this.trace.emit("gicd", "line", `SPI ${intid} ${describeInput(spis, intid, level)}`);
      if (level) spis.cause[intid] = this.#last(cause);
    }
    return changed;
  }

  /**
   * An ICC_SGI1R_EL1 (or, `group0Only`, ICC_SGI0R_EL1) write from `sender`:
   * IRM=1 targets every other vCPU, otherwise the vCPUs whose affinity
   * matches Aff3.Aff2.Aff1 and whose Aff0 is a set TargetList bit. KVM reads
   * no RS field (`vgic_v3_dispatch_sgi`: ICC_CTLR_EL1.RSS is 0, so RS is
   * RES0 and every Aff0 it gives a vCPU is below 16). Returns the targets
   * reached.
   */
  sgi(sender: number, value: bigint, group0Only: boolean): number[] {
    const v = value;
    const intid = Number((v >> 24n) & 0xfn);
    const targetList = Number(v & 0xffffn);
    const aff1 = Number((v >> 16n) & 0xffn), aff2 = Number((v >> 32n) & 0xffn);
    const irm = (v >> 40n) & 1n, aff3 = Number((v >> 48n) & 0xffn);
    const cause = this.trace.enabled ? this.trace.currentCause : 0;
    const reached: number[] = [];
    for (let c = 0; c < this.vcpus; c++) {
      if (!this.vcpuExists(c)) continue;
      if (irm) {
        if (c === sender) continue;
      } else {
        const mp = kvmMpidr(c);
        if (aff3 !== 0 || ((mp >> 16) & 0xff) !== aff2 || ((mp >> 8) & 0xff) !== aff1) continue;
        const aff0 = mp & 0xff;
        if ((targetList & (1 << aff0)) === 0) continue;
      }
      const bank = this.rds[c].bank;
      // KVM: SGI1R raises an SGI of either group; SGI0R only Group 0 ones.
      if (group0Only && bank.group[intid] !== 0) continue;
      bank.setPending(intid, cause);
      if (this.vsgis) this.v4!.sgiPended(c, intid, bank.enabled[intid] !== 0);
      reached.push(c);
    }
    this.#emit(
      `vcpu${sender}`,
      "sgi",
      `SGI ${intid} -> ${reached.length ? reached.map((c) => `vcpu${c}`).join(", ") : "nobody"}`,
    );
    return reached;
  }

  // ---- LPIs: the ITS host ------------------------------------------------------------

  /** GICR_CTLR.EnableLPIs of the vCPU's redistributor. */
  lpisEnabled(vcpu: number): boolean {
    return this.rds[vcpu].enableLpis;
  }

  /** Makes an LPI pending: software injection, or the GICv4 layer for a forwarded vLPI. */
  pend(lpi: Lpi, why: string): void {
    if (lpi.forwarded && this.v4) {
      this.v4.pend(lpi, why);
      lpi.cause = this.trace.enabled ? this.trace.events.length : 0;
      return;
    }
    lpi.pending = true;
    lpi.path = "software";
    if (this.trace.enabled) {
      lpi.cause = this.trace.emit(
        "its",
        "pend",
        `${why}: LPI ${lpi.intid} pending at vcpu${lpi.target} (software injection)`,
      );
    }
  }

  /** Clears an LPI's pending state (CLEAR). */
  unpend(lpi: Lpi): void {
    lpi.pending = false;
  }

  /** Moves an LPI to another vCPU (MOVI, MOVALL, MAPC); a vLPI follows (VMOVI). */
  retarget(lpi: Lpi, vcpu: number): void {
    const from = lpi.target;
    lpi.target = vcpu;
    if (from >= 0 && from !== vcpu) {
      this.#emit(
        "its",
        "move",
        `LPI ${lpi.intid}: vcpu${from} -> vcpu${vcpu}${lpi.pending ? " (pending)" : ""}`,
      );
    }
    this.v4?.retarget(lpi, from, vcpu);
  }

  /** The cached configuration was re-read; a forwarded vLPI gets the new properties. */
  configChanged(lpi: Lpi): void {
    if (lpi.forwarded) {
      this.#emit(
        "gicv4",
        "prop",
        `vLPI ${lpi.intid} properties updated: priority 0x${lpi.priority.toString(16)} ${
          lpi.enabled ? "enabled" : "disabled"
        }`,
      );
    }
  }

  /** The ITE mapping `lpi` goes away; a forwarded vLPI is unmapped. */
  iteFreed(lpi: Lpi): void {
    this.v4?.iteFreed(lpi);
  }

  /** GICR_INVLPIR: re-reads one LPI's configuration byte. */
  invalidate(intid: number): void {
    const lpi = this.lpis.lpis.get(intid);
    if (!lpi) return;
    this.lpis.sync(lpi);
    this.configChanged(lpi);
  }

  /** GICR_INVALLR: re-reads the configuration of every LPI that targets `vcpu`. */
  invalidateAll(vcpu: number): void {
    for (const lpi of this.lpis.list) {
      if (lpi.target === vcpu) {
        this.lpis.sync(lpi);
        this.configChanged(lpi);
      }
    }
  }

  /**
   * EnableLPIs went 1 -> 0: the vCPU's pending software LPIs are dropped
   * and every ITS's translation cache is emptied
   * (`vgic_mmio_write_v3r_ctlr` → `vgic_its_invalidate_all_caches`).
   */
  lpisDisabled(vcpu: number): void {
    for (const lpi of this.lpis.list) {
      if (lpi.target === vcpu && !lpi.forwarded) lpi.pending = false;
    }
    this.its?.invalidateCache(`EnableLPIs cleared at vcpu${vcpu}`);
  }

  /**
   * EnableLPIs went 0 -> 1 (`vgic_enable_lpis`): unless GICR_PENDBASER.PTZ
   * says the table is zero, the pending bit of every mapped LPI that targets
   * the vCPU is read from its pending table (`its_sync_lpi_pending_table`).
   */
  lpisEnabledNow(vcpu: number): void {
    const rd = this.rds[vcpu];
    if ((rd.pendbaser & GICR_PENDBASER_PTZ) !== 0n) return;
    const base = pendingTableAddress(rd.pendbaser), mem = this.memory();
    let n = 0;
    for (const lpi of this.lpis.list) {
      if (lpi.target !== vcpu || !mem.contains(base + (lpi.intid >> 3), 1)) continue;
      lpi.pending = (mem.byte(base + (lpi.intid >> 3)) & (1 << (lpi.intid & 7))) !== 0;
      if (lpi.pending) {
        lpi.path = "software";
        n++;
      }
    }
    this.#emit(
      `gicr${vcpu}`,
      "pending_table",
      `EnableLPIs: pending table at 0x${base.toString(16)} read, ${n} LPI${
        n === 1 ? "" : "s"
      } pending`,
    );
  }

  /**
   * A newly mapped LPI takes its pending state from its target's pending
   * table, and a set bit is consumed (`vgic_v3_lpi_sync_pending_status`,
   * called by `vgic_add_lpi`).
   */
  syncPendingStatus(lpi: Lpi): void {
    if (lpi.target < 0) return;
    const at = pendingTableAddress(this.rds[lpi.target].pendbaser) + (lpi.intid >> 3);
    const mem = this.memory(), bit = 1 << (lpi.intid & 7);
    if (!mem.contains(at, 1)) return;
    lpi.pending = (mem.byte(at) & bit) !== 0;
    if (lpi.pending) {
      lpi.path = "software";
      mem.clearBit(at, lpi.intid & 7);
      this.#emit("gicd", "pending_table", `LPI ${lpi.intid}: pending from the pending table`);
    }
  }

  /**
   * KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES (`vgic_v3_save_pending_tables`):
   * each mapped LPI's pending state is written to its target's pending
   * table, where it differs. A forwarded vLPI's state is the hardware's:
   * a GICv4.1 host lets KVM read it from the unmapped vPE's VPT
   * (`vgic_v4_get_vlpi_state`); on a GICv4.0 host KVM writes its own
   * pending latch, clear since the forwarding moved the state to the
   * hardware, so a pending vLPI is saved as not pending. Returns 0, or
   * -ENXIO on a GICv2.
   */
  savePendingTables(): number {
    if (this.version !== 3) return -ENXIO;
    const mem = this.memory();
    for (const lpi of this.lpis.list) {
      if (lpi.target < 0) continue;
      const at = pendingTableAddress(this.rds[lpi.target].pendbaser) + (lpi.intid >> 3);
      if (!mem.contains(at, 1)) continue;
      const pending = lpi.pending && (!lpi.forwarded || this.hostV41);
      if (pending) mem.setBit(at, lpi.intid & 7);
      else mem.clearBit(at, lpi.intid & 7);
    }
    this.#emit(
      "kvm",
      "save_pending",
      "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: LPI pending bits written",
    );
    return 0;
  }

  /**
   * KVM_SIGNAL_MSI as Linux runs it. `kvm_send_userspace_msi` refuses any
   * flag but KVM_MSI_VALID_DEVID (-EINVAL); `kvm_set_msi` needs an ITS
   * (-ENODEV); `vgic_its_inject_msi` then looks the translation cache up
   * by (DeviceID, EventID) for the ITS whose frames hold `address`, and a
   * hit is delivered at once — before `vgic_msi_to_its` checks
   * KVM_MSI_VALID_DEVID, so a cached translation delivers even with
   * flags=0. Otherwise: no KVM_MSI_VALID_DEVID or an address outside the
   * ITS is -EINVAL, and the ITS translates (`vgic_its_trigger_msi`): 1 when
   * delivered, 0 when the translation fails (the guest "blocked" it),
   * -EBUSY when the ITS or the target's LPIs are disabled.
   */
  signalMsi(address: number, data: number, flags: number, devid: number): number {
    if ((flags & ~KVM_MSI_VALID_DEVID) !== 0) {
      this.#emit(
        "kvm",
        "signal_msi",
        `flags 0x${flags.toString(16)}: -EINVAL (kvm_send_userspace_msi)`,
      );
      return -EINVAL;
    }
    if (!this.hasIts) {
      this.#emit(
        "kvm",
        "signal_msi",
        `${
          this.itsCreated ? "an ITS device, but no GICv3 vGIC" : "no ITS device"
        }: -ENODEV (kvm_set_msi: vgic_has_its)`,
      );
      return -ENODEV;
    }
    return this.injectMsi(address, data, flags, devid, "KVM_SIGNAL_MSI");
  }

  /**
   * `vgic_its_inject_msi`: the translation cache first (a hit is delivered,
   * whatever the flags), then `vgic_msi_to_its` (-EINVAL without
   * KVM_MSI_VALID_DEVID or for an address outside the ITS) and the ITS's
   * translation: 1 delivered, 0 dropped, -EBUSY. Needs an ITS.
   */
  injectMsi(address: number, data: number, flags: number, devid: number, why: string): number {
    const its = this.its!;
    // vgic_msi_to_its: the ITS whose frames hold the address (where the VMM put them).
    const base = this.device.itsBase === undefined ? ITS_BASE : Number(this.device.itsBase);
    const inIts = address >= base && address < base + ITS_FRAMES_SIZE;
    const hit = inIts ? its.cached(devid, data) : undefined;
    if (hit) {
      this.pend(hit, `${why}: cached translation of device 0x${devid.toString(16)} event ${data}`);
      return 1;
    }
    if ((flags & KVM_MSI_VALID_DEVID) === 0 || !inIts) {
      this.#emit(
        "kvm",
        "msi",
        (flags & KVM_MSI_VALID_DEVID) === 0
          ? `${why}: no KVM_MSI_VALID_DEVID and no cached translation: -EINVAL (vgic_msi_to_its)`
          : `${why}: address 0x${address.toString(16)} is not an ITS: -EINVAL`,
      );
      return -EINVAL;
    }
    const r = its.translater(devid, data, why);
    return r === 0 ? 1 : r < 0 ? r : 0;
  }

  // ---- irqfd --------------------------------------------------------------------------

  /**
   * A write to the eventfd of the irqfd on `gsi` (`irqfd_wakeup`): each
   * routing entry of the GSI is injected, on the atomic path when it can be
   * (`kvm_arch_set_irq_inatomic`: an SPI's line raised once the vGIC is
   * initialised; an MSI from the translation cache only), else as
   * `irqfd_inject` does (`kvm_set_irq` level 1, then 0; an MSI through
   * `kvm_set_msi`). Without an irqfd on the GSI the write does nothing.
   * Returns how many routing entries delivered something.
   */
  irqfdSignal(gsi: number): number {
    if (!this.irqfds.has(gsi)) {
      this.#emit("kvm", "irqfd", `eventfd of GSI ${gsi}: no irqfd, nothing injected`);
      return 0;
    }
    let delivered = 0;
    for (const e of this.routing.routes(gsi)) {
      if (e.type === "irqchip") {
        const spi = e.pin + PRIVATE_COUNT;
        // vgic_valid_spi reads nr_spis, still 0 on a deferred vGIC that
        // neither an NR_IRQS write nor vgic_init sized.
        if (!this.nrSpisSet || spi >= this.dist.nrIrqs) continue;
        // Not initialised: kvm_arch_set_irq_inatomic declines, and the
        // irqfd_inject work item's kvm_set_irq reaches kvm_vgic_inject_irq,
        // whose vgic_lazy_init error nobody sees: the edge is lost.
        const atomic = this.initialized;
        if (this.#injectionInit(`irqfd GSI ${gsi}`) !== 0) continue;
        this.#emit(
          "kvm",
          "irqfd",
          `irqfd GSI ${gsi}: SPI ${spi}${
            atomic
              ? ""
              : this.resamplefds.has(gsi)
              ? " (work item: level 1 until the EOI)"
              : " (work item: level 1 then 0)"
          }`,
        );
        this.setSpiLine(spi, true);
        // irqfd_inject: a resampling irqfd leaves the line high until the EOI.
        if (!atomic && !this.resamplefds.has(gsi)) this.setSpiLine(spi, false);
        delivered++;
      } else if (this.hasIts) {
        const address = e.addressLo + e.addressHi * 2 ** 32;
        const r = this.injectMsi(address, e.data, e.flags, e.devid, `irqfd GSI ${gsi}`);
        if (r === 1) delivered++;
      }
    }
    return delivered;
  }

  // ---- register access -----------------------------------------------------------------

  /**
   * A guest write to a GICv3 distributor register. GICD_CTLR as
   * `vgic_mmio_write_v3_misc` takes it: nASSGIreq is dropped unless the VM
   * has nASSGIcap, and it cannot change while Group 1 stays enabled (the
   * guest must disable the distributor, flip it, then enable); a change
   * switches every vCPU's SGIs (`vgic_v4_configure_vsgis`).
   */
  writeDist(offset: number, value: number | bigint, size: 1 | 4 | 8, cause = 0): boolean {
    const d = this.dist;
    if (offset !== GicdOffset.CTLR || this.version !== 3) {
      return d.write(offset, value, size, cause);
    }
    const low = Number(BigInt(value) & 0xffff_ffffn);
    const wasEnabled = d.groupEnabled(1), wasReq = d.nassgireq;
    d.write(offset, low, size, cause);
    let req = d.nassgicap && (low & GicdCtlr.nASSGIreq) !== 0;
    if (wasEnabled && d.groupEnabled(1)) req = wasReq;
    d.nassgireq = req;
    if (req !== wasReq) this.v4?.configureVsgis(req);
    return true;
  }

  /** Writes GICR_PROPBASER on any redistributor: KVM keeps one LPI range per VM. */
  writeGicr(
    cpu: number,
    offset: number,
    value: number | bigint,
    size: 1 | 4 | 8,
    cause = 0,
  ): boolean {
    const ok = this.rds[cpu].write(offset, value, size, cause);
    if (ok && this.vsgis) this.#vsgiBankWrite(cpu, offset, Number(BigInt(value) & 0xffffn), size);
    if (ok && offset === GicrOffset.PROPBASER) {
      const v = BigInt(value);
      this.lpis.idBits = Math.min((Number(v & 0x1fn)) + 1, 16);
      // GICR_PROPBASER_ADDRESS: bits [51:12].
      this.lpis.base = Number(v & 0x000f_ffff_ffff_f000n);
    }
    return ok;
  }

  /**
   * After a write to vCPU `cpu`'s SGI_base bank with vSGIs on: the active
   * state of a vSGI stays clear (`vgic_mmio_change_active`); one made
   * pending through GICR_ISPENDR0 goes to the hardware, which rings the
   * doorbell of a blocked vPE (`vgic_mmio_write_spending`); a change of
   * group, enable or priority reaches the vPE's SGI configuration through a
   * VSGI command (`vgic_update_vsgi` -> `its_prop_update_vsgi`,
   * `enable_irq`/`disable_irq_nosync`), traced with the fields it carries.
   * `sgiBits` is the written value's low 16 bits.
   */
  #vsgiBankWrite(cpu: number, offset: number, sgiBits: number, size: number): void {
    const bank = this.rds[cpu].bank;
    const reg = offset - GicrOffset.SGI_BASE;
    if (reg === BankOffset.ISACTIVER) {
      for (let i = 0; i < SGI_COUNT; i++) bank.active[i] = 0;
    } else if (reg === BankOffset.ISPENDR) {
      for (let i = 0; i < SGI_COUNT; i++) {
        if ((sgiBits >> i) & 1) this.v4!.sgiPended(cpu, i, bank.enabled[i] !== 0);
      }
    } else if (this.trace.enabled) {
      let first = 0, last = -1;
      if (
        reg === BankOffset.IGROUPR || reg === BankOffset.ISENABLER || reg === BankOffset.ICENABLER
      ) {
        last = SGI_COUNT - 1;
      } else if (reg >= BankOffset.IPRIORITYR && reg < BankOffset.IPRIORITYR + SGI_COUNT) {
        first = reg - BankOffset.IPRIORITYR;
        last = Math.min(first + size, SGI_COUNT) - 1;
      }
      for (let i = first; i <= last; i++) {
        this.#emit(
          "gicv4",
          "vsgi",
          `VSGI vPE ${cpu} SGI ${i}: priority 0x${
            (bank.priority[i] >> 4).toString(16)
          } (bits [7:4]), group ${bank.group[i]}, enable ${bank.enabled[i]}`,
        );
      }
    }
  }

  // ---- the VMM's device attributes (KVM_DEV_TYPE_ARM_VGIC_V3) ----------------------------

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT):
   * initialises the vGIC. Doing it again is harmless. Returns 0.
   */
  vgicInit(): number {
    if (this.initialized) {
      this.#emit("kvm", "vgic_init", "KVM_DEV_ARM_VGIC_CTRL_INIT: already initialised, 0");
      return 0;
    }
    this.#initialise();
    this.#emit("kvm", "vgic_init", "KVM_DEV_ARM_VGIC_CTRL_INIT: vGIC initialised");
    return 0;
  }

  /**
   * `vgic_init` where KVM calls it on the VMM's behalf (a GICv2's register
   * attributes): initialises the vGIC unless it already is.
   */
  lazyInit(by = "a register attribute"): void {
    if (this.initialized) return;
    this.#initialise();
    this.#emit("kvm", "vgic_init", `vgic_init: vGIC initialised by ${by}`);
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR) (see
   * `VgicDevice.setAddr`); once redistributor regions were set through
   * REDIST_REGION, they decide each redistributor's slot and GICR_TYPER.Last
   * (`VgicDevice.redistPlacement`). Returns 0 or a negative errno.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * import { VgicAddrType } from "./vgic_device.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 3, nrIrqs: 64, its: false, v4: false }, trace);
   * gic.setVgicAddr(VgicAddrType.V3_REDIST_REGION, (2n << 52n) | 0x20_0000n); // 0
   * gic.rds[1].last; // true: the last slot of a full region
   * ```
   */
  setVgicAddr(type: number, value: bigint): number {
    const r = this.device.setAddr(type, value);
    if (r === 0) this.#placeRedistributors();
    return r;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_NR_IRQS) as `vgic_set_common_attr`
   * takes it: `nrIrqs` counts SGIs and PPIs and must be a multiple of 32, at
   * least VGIC_NR_PRIVATE_IRQS + 32 and at most VGIC_MAX_RESERVED (so 992 is
   * the largest accepted), else -EINVAL; once `nr_spis` is set (an earlier
   * write, or `vgic_init` chose the default) it is -EBUSY. Otherwise the
   * distributor gets that many INTIDs. Returns 0 or the negative errno.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 1, nrIrqs: 256, its: false, v4: false }, trace);
   * gic.nrSpisSet = false; // a deferred vGIC
   * gic.setNrIrqs(96); // 0: INTIDs 32..95 are its SPIs
   * gic.setNrIrqs(128); // -EBUSY
   * ```
   */
  setNrIrqs(nrIrqs: number): number {
    let r = 0;
    if (nrIrqsProblem(nrIrqs) !== undefined) r = -EINVAL;
    else if (this.nrSpisSet) r = -EBUSY;
    else {
      this.dist = this.#distributor(nrIrqs, this.dist.lpis);
      this.nrSpisSet = true;
    }
    this.#emit("kvm", "nr_irqs", `KVM_DEV_ARM_VGIC_GRP_NR_IRQS ${nrIrqs}: ${r}`);
    return r;
  }

  /**
   * KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_NR_IRQS): `nr_spis` +
   * VGIC_NR_PRIVATE_IRQS, which is 32 while `nr_spis` is still 0.
   */
  getNrIrqs(): number {
    return this.nrSpisSet ? this.dist.nrIrqs : PRIVATE_COUNT;
  }

  /**
   * Starts the VM with its vGIC initialised: the VMM sent CTRL_INIT before
   * the scenario began (nothing is traced; no statement did it).
   */
  vgicInitialised(): void {
    if (!this.initialized) this.#initialise();
  }

  /** `vgic_init`: the vGIC is initialised and KVM installs its default GSI routing. */
  #initialise(): void {
    this.initialized = true;
    // vgic_init calls vgic_v4_init only when vgic_supports_direct_irqs: on a
    // GICv4.1 host a VM without nASSGIcap gets no vPEs, and so no vLPIs
    // either (vgic_supports_direct_msis conflates the two there).
    if (this.hostV41 && !this.dist.nassgicap && this.v4) {
      this.v4 = null;
      this.#emit(
        "kvm",
        "vgic_init",
        "nASSGIcap cleared on a GICv4.1 host: no vPEs, so no vSGIs and no vLPIs",
      );
    }
    // kvm_vgic_dist_init: with no NR_IRQS write, the default SPI count.
    this.nrSpisSet = true;
    this.routing.setDefault(this.dist.nrIrqs - PRIVATE_COUNT);
  }

  /**
   * KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS): reads the 32-bit
   * redistributor register at `offset` (RD_base, or SGI_base at +0x10000)
   * of the vCPU whose vcpu_id is `vcpuId` (the attribute names it by its
   * MPIDR, which KVM derives from the vcpu_id). Returns the value, or:
   * -ENXIO on a GICv2 (no such attribute group), -EINVAL when no vCPU has
   * that MPIDR, -EBUSY before CTRL_INIT. An offset with no register reads
   * as 0. As the device-attribute view defines it, ISPENDR0 reads the
   * pending latch only (level lines are saved through LEVEL_INFO) and
   * ICPENDR0 reads as 0.
   */
  getRedistReg(vcpuId: number, offset: number): number {
    // Built only for the trace: the vgic_irq ports read and write registers in loops.
    const what = () => `REDIST_REGS vcpu ${vcpuId} offset 0x${offset.toString(16)}`;
    if (this.version !== 3) {
      this.#emit("kvm", "get_attr", `${what()}: -ENXIO (a GICv2 has no redistributors)`);
      return -ENXIO;
    }
    if (!this.vcpuExists(vcpuId)) {
      this.#emit("kvm", "get_attr", `${what()}: -EINVAL (no vCPU has that MPIDR)`);
      return -EINVAL;
    }
    if (!this.initialized) {
      this.#emit("kvm", "get_attr", `${what()}: -EBUSY (before KVM_DEV_ARM_VGIC_CTRL_INIT)`);
      return -EBUSY;
    }
    const rd = this.rds[vcpuId];
    let v: number;
    if ((offset & 3) !== 0) v = 0;
    else if (offset === UACCESS_ISPENDR0) {
      v = 0;
      for (let i = 0; i < PRIVATE_COUNT; i++) if (rd.bank.latch[i]) v |= 1 << i;
    } else if (offset === UACCESS_ICPENDR0) v = 0;
    else v = Number(rd.read(offset, 4));
    // vgic_mmio_vcpu_rdist_is_last: a vCPU with no region (rdreg NULL) is
    // never Last; before any region is set none has one.
    if (offset === GicrOffset.TYPER && this.device.regions.length === 0) v &= ~GICR_TYPER_LAST;
    v >>>= 0;
    if (this.trace.enabled) this.#emit("kvm", "get_attr", `${what()} = 0x${v.toString(16)}`);
    return v;
  }

  /**
   * KVM_RUN of a vCPU: what `kvm_vgic_map_resources` answers (see
   * `VgicDevice.run`); a GICv2 is initialised by its first successful run.
   */
  run(vcpu: number): number {
    if (!this.device.created) {
      this.device.run(this.initialized);
      this.#emit("kvm", "run", `KVM_RUN vcpu${vcpu}: no in-kernel vGIC yet, the vCPU runs`);
      return 0;
    }
    const wasReady = this.device.ready;
    const r = this.device.run(this.initialized);
    if (r === 0 && !this.initialized) this.#initialise();
    // vgic_v3_map_resources: a restored nASSGIreq (set through DIST_REGS,
    // which does not switch the SGIs) takes effect at the first KVM_RUN.
    if (r === 0 && !wasReady && this.version === 3 && this.dist.nassgicap && this.v4) {
      this.v4.configureVsgis(this.dist.nassgireq);
    }
    this.#emit(
      "kvm",
      "run",
      r === 0
        ? `KVM_RUN vcpu${vcpu}: the vGIC is ready`
        : `KVM_RUN vcpu${vcpu}: ${r} (vGIC not ready)`,
    );
    return r;
  }

  /**
   * The checks every GICv3 register attribute makes first
   * (`vgic_v3_attr_regs_access`): -ENXIO on a GICv2, -EINVAL for a vCPU
   * that does not exist, -EBUSY before CTRL_INIT. 0 when the access may go on.
   */
  #attrCheck(vcpuId: number, what: () => string, allowedPreInit = false): number {
    if (this.version !== 3) {
      this.#emit("kvm", "attr", `${what()}: -ENXIO (a GICv2 has no such group)`);
      return -ENXIO;
    }
    if (!this.vcpuExists(vcpuId)) {
      this.#emit("kvm", "attr", `${what()}: -EINVAL (no vCPU has that MPIDR)`);
      return -EINVAL;
    }
    if (!this.initialized && !allowedPreInit) {
      this.#emit("kvm", "attr", `${what()}: -EBUSY (before KVM_DEV_ARM_VGIC_CTRL_INIT)`);
      return -EBUSY;
    }
    return 0;
  }

  /**
   * KVM_HAS_DEVICE_ATTR on the vGIC (`vgic_v3_has_attr`, `vgic_v2_has_attr`):
   * 0 when the device has the attribute, else -ENXIO. GRP_ADDR knows its
   * version's address types (GICv3: DIST, REDIST, REDIST_REGION; GICv2:
   * DIST, CPU); NR_IRQS always; CTRL knows INIT (and, on GICv3,
   * SAVE_PENDING_TABLES); LEVEL_INFO (GICv3) its line-level kind. The
   * register groups first find the vCPU the attribute names
   * (`vgic_v2_parse_attr`: CPUID in bits 39:32; `vgic_v3_parse_attr`: the
   * MPIDR in bits 63:32, vCPU 0 for DIST_REGS): -EINVAL when there is
   * none, then -ENXIO for an unaligned offset. Returns undefined where the
   * offset's register would decide (`vgic_get_mmio_region`), which the
   * model does not answer.
   *
   * @example
   * ```ts
   * import { type Trace } from "./engine_types.ts";
   * declare const trace: Trace;
   * const gic = new Gic({ version: 3, vcpus: 1, nrIrqs: 64, its: false, v4: false }, trace);
   * gic.hasAttr("addr", 3n);  // 0: KVM_VGIC_V3_ADDR_TYPE_REDIST
   * gic.hasAttr("addr", -1n); // -6 (-ENXIO)
   * ```
   */
  hasAttr(group: HasAttrGroup, attr: bigint): number | undefined {
    const a = BigInt.asUintN(64, attr);
    const v3 = this.version === 3;
    switch (group) {
      case "addr":
        return (v3 ? V3_ADDR_TYPES : V2_ADDR_TYPES).includes(a) ? 0 : -ENXIO;
      case "nr_irqs":
        return 0;
      case "ctrl":
        return a === 0n || (v3 && a === 3n) ? 0 : -ENXIO;
      case "level_info":
        // KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_MASK (bits 31:10) == VGIC_LEVEL_INFO_LINE_LEVEL (0).
        return v3 && ((a >> 10n) & 0x3f_ffffn) === 0n ? 0 : -ENXIO;
      case "cpu_regs":
      case "dist_regs":
      case "redist_regs":
      case "cpu_sysregs": {
        if (group === "cpu_regs" ? v3 : group !== "dist_regs" && !v3) return -ENXIO;
        const vcpu = !v3
          ? Number((a >> 32n) & 0xffn)
          : group === "dist_regs"
          ? 0
          : this.vcpuOfAffinity(Number((a >> 32n) & 0xff_ffffn));
        if (!this.vcpuExists(vcpu)) return -EINVAL;
        if (group !== "cpu_sysregs" && (a & 3n) !== 0n) return -ENXIO;
        return undefined;
      }
    }
  }

  /**
   * `vgic_mmio_uaccess_write_v3_misc` for GICD_TYPER2 and GICD_IIDR, which
   * `reg_allowed_pre_init` lets through before CTRL_INIT. GICD_TYPER2: the
   * value read back is taken as is; a changed value after init is -EBUSY
   * (vgic_init has acted on nASSGIcap), a change outside nASSGIcap is
   * -EINVAL, and setting nASSGIcap is -EINVAL unless the host has GICv4.1
   * direct SGIs (`system_supports_direct_sgis`, the `gic { v4_1 }`
   * setting); otherwise the VM's nASSGIcap follows the write. GICD_IIDR:
   * only the revision may differ, and only KVM_VGIC_IMP_REV_2 or _3 is
   * taken (the model keeps answering as revision 3). Returns 0 or the
   * negative errno.
   */
  #writeDistId(offset: number, value: number): number {
    const current = Number(this.dist.read(offset, 4)) >>> 0;
    value >>>= 0;
    if (offset === GicdOffset.TYPER2) {
      if (value === current) return 0;
      if (this.initialized) return -EBUSY;
      if (((value ^ current) & ~GicdTyper2.nASSGIcap) !== 0) return -EINVAL;
      if (!this.hostV41 && value !== 0) return -EINVAL;
      this.dist.nassgicap = (value & GicdTyper2.nASSGIcap) !== 0;
      // Without nASSGIcap GICD_CTLR.nASSGIreq reads as 0 (and cannot be set).
      if (!this.dist.nassgicap) this.dist.nassgireq = false;
      return 0;
    }
    if (((value ^ current) & ~GICD_IIDR_REVISION_MASK) !== 0) return -EINVAL;
    const rev = (value & GICD_IIDR_REVISION_MASK) >>> 12;
    return rev === 2 || rev === 3 ? 0 : -EINVAL;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_DIST_REGS or _REDIST_REGS): a
   * 32-bit write as a restore does it. The userspace view differs from the
   * guest's where KVM gives it its own handlers: GIC[DR]_ISPENDR<n> sets the
   * pending latch of each bit that is set and clears it for each bit that is
   * clear, whatever the trigger (`vgic_v3_uaccess_write_pending`); ICPENDR is
   * write-ignored (`vgic_mmio_uaccess_write_wi`); ISACTIVER / ICACTIVER set
   * and clear active without side effects. Everything else is written as the
   * guest writes it. Returns 0 or -ENXIO / -EINVAL / -EBUSY.
   */
  setRegAttr(group: "dist" | "redist", vcpuId: number, offset: number, value: number): number {
    const what = () =>
      `${group === "dist" ? "DIST" : "REDIST"}_REGS offset 0x${offset.toString(16)}`;
    const idReg = group === "dist" && (offset === GicdOffset.IIDR || offset === GicdOffset.TYPER2);
    const check = this.#attrCheck(group === "dist" ? 0 : vcpuId, what, idReg);
    if (check !== 0) return check;
    if (idReg) {
      const r = this.#writeDistId(offset, value);
      this.#emit("kvm", "set_attr", `${what()} <- 0x${(value >>> 0).toString(16)}: ${r}`);
      return r;
    }
    const bankOffset = group === "dist" ? offset : offset - GicrOffset.SGI_BASE;
    const bank = group === "dist" ? this.dist.spis : this.rds[vcpuId].bank;
    const firstOf = (regBase: number) => ((bankOffset - regBase) >> 2) * 32;
    const inRange = (regBase: number) =>
      (group === "redist"
        ? bankOffset === regBase
        : bankOffset >= regBase && bankOffset < regBase + 0x80) &&
      (offset & 3) === 0;
    const apply = (regBase: number, fn: (i: number, set: boolean) => void) => {
      const first = firstOf(regBase);
      for (let b = 0; b < 32; b++) {
        const i = first + b;
        if (group === "dist" ? i < PRIVATE_COUNT || i >= this.dist.nrIrqs : i >= PRIVATE_COUNT) {
          continue;
        }
        fn(i, ((value >>> b) & 1) !== 0);
      }
    };
    if (inRange(UACCESS_ISPENDR)) {
      apply(UACCESS_ISPENDR, (i, set) => {
        bank.latch[i] = set ? 1 : 0;
      });
    } else if (inRange(UACCESS_ICPENDR)) {
      // write-ignored from userspace
    } else if (inRange(UACCESS_ISACTIVER)) {
      apply(UACCESS_ISACTIVER, (i, set) => {
        // vgic_mmio_change_active: a vSGI has no active state to restore.
        if (set && !(group === "redist" && i < SGI_COUNT && this.vsgis)) bank.active[i] = 1;
      });
    } else if (inRange(UACCESS_ICACTIVER)) {
      apply(UACCESS_ICACTIVER, (i, set) => {
        if (set) bank.active[i] = 0;
      });
    } else if (group === "dist" && offset === GicdOffset.CTLR) {
      // vgic_mmio_uaccess_write_v3_misc: a restore sets the enable and
      // nASSGIreq (kept only with nASSGIcap) as saved, without switching the
      // SGIs; the first KVM_RUN does that (vgic_v3_map_resources).
      this.dist.write(offset, value >>> 0, 4);
      this.dist.nassgireq = this.dist.nassgicap && (value & GicdCtlr.nASSGIreq) !== 0;
    } else if (group === "dist") {
      this.dist.write(offset, value >>> 0, 4);
    } else {
      this.writeGicr(vcpuId, offset, value >>> 0, 4);
    }
    if (this.trace.enabled) {
      this.#emit("kvm", "set_attr", `${what()} <- 0x${(value >>> 0).toString(16)}`);
    }
    return 0;
  }

  /**
   * KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_DIST_REGS): a 32-bit
   * distributor register as userspace sees it: GICD_ISPENDR<n> gives the
   * pending latches only (line levels travel in LEVEL_INFO), GICD_ICPENDR<n>
   * reads 0, the rest as the guest reads them. Returns the value or -ENXIO /
   * -EBUSY.
   */
  getDistReg(offset: number): number {
    const what = () => `DIST_REGS offset 0x${offset.toString(16)}`;
    // reg_allowed_pre_init: GICD_IIDR and GICD_TYPER2 before CTRL_INIT too.
    const idReg = offset === GicdOffset.IIDR || offset === GicdOffset.TYPER2;
    const check = this.#attrCheck(0, what, idReg);
    if (check !== 0) return check;
    let v = 0;
    if ((offset & 3) !== 0) v = 0;
    else if (offset >= UACCESS_ISPENDR && offset < UACCESS_ISPENDR + 0x80) {
      const first = ((offset - UACCESS_ISPENDR) >> 2) * 32;
      for (let b = 0; b < 32; b++) {
        const i = first + b;
        if (i >= PRIVATE_COUNT && i < this.dist.nrIrqs && this.dist.spis.latch[i]) v |= 1 << b;
      }
    } else if (offset >= UACCESS_ICPENDR && offset < UACCESS_ICPENDR + 0x80) v = 0;
    else v = Number(this.dist.read(offset, 4));
    v >>>= 0;
    if (this.trace.enabled) this.#emit("kvm", "get_attr", `${what()} = 0x${v.toString(16)}`);
    return v;
  }

  /**
   * KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)
   * (`vgic_v3_cpu_sysregs_uaccess`, `gic_v3_icc_reg_descs`): the ICC
   * registers a VMM saves and restores, by name. Only PMR, BPR0, BPR1,
   * AP0R<n>, AP1R<n>, CTLR, SRE, IGRPEN0 and IGRPEN1 are there (-ENXIO for
   * the rest). Userspace rules: an ICC_CTLR_EL1 write is refused (-EINVAL)
   * when it claims more priority or ID bits than the vCPU has, or other
   * SEIS / A3V, and otherwise sets CBPR and EOImode (and the priority bits
   * read back); AP<n>R beyond the priority bits' registers is -EINVAL;
   * ICC_SRE_EL1 reads SRE | DFB | DIB and a write without SRE is -EINVAL;
   * BPR1 under CBPR reads BPR0 + 1 and ignores writes. Returns the value
   * read (as a bigint), 0 for a write, or a negative errno.
   */
  cpuSysreg(vcpuId: number, name: string, write?: bigint): bigint | number {
    const what = `CPU_SYSREGS ICC_${name.toUpperCase()}_EL1`;
    const check = this.#attrCheck(vcpuId, () => what);
    if (check !== 0) return check;
    const cif = this.cifs[vcpuId];
    const v = write === undefined ? 0 : Number(write & 0xffff_ffffn);
    let r: bigint | number;
    switch (name) {
      case "pmr":
      case "bpr0":
      case "bpr1":
      case "igrpen0":
      case "igrpen1":
      case "ap0r0":
      case "ap1r0":
        if (write === undefined) r = BigInt(cif.read(name));
        else {
          cif.write(name, v);
          r = 0;
        }
        break;
      case "ap0r1":
      case "ap0r2":
      case "ap0r3":
      case "ap1r1":
      case "ap1r2":
      case "ap1r3":
        // vgic_v3_max_apr_idx: five priority bits need only AP<n>R0.
        r = -EINVAL;
        break;
      case "sre":
        r = write === undefined ? BigInt(ICC_SRE_KVM) : (write & 1n) === 0n ? -EINVAL : 0;
        break;
      case "ctlr": {
        if (write === undefined) {
          r = BigInt((cif.ctlr & ~(7 << 8)) | ((cif.uaccessPriBits - 1) << 8));
          break;
        }
        const priBits = ((v >> 8) & 7) + 1, idBits = (v >> 11) & 7;
        const seis = (v >> 14) & 1, a3v = (v >> 15) & 1;
        if (priBits > cif.uaccessPriBits || idBits > 0 || seis !== 0 || a3v !== 0) {
          r = -EINVAL;
          break;
        }
        cif.uaccessPriBits = priBits;
        cif.write("ctlr", v & 3);
        r = 0;
        break;
      }
      default:
        r = -ENXIO;
    }
    this.#emit(
      "kvm",
      "sysreg",
      `${what}${write === undefined ? "" : ` <- 0x${write.toString(16)}`}: ${
        typeof r === "bigint" ? `0x${r.toString(16)}` : r
      }`,
    );
    return r;
  }

  /**
   * KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO)
   * (`vgic_v3_line_level_info_uaccess`): the input line levels of the 32
   * INTIDs from `intid` (a multiple of 32, else -EINVAL), as the vCPU
   * `vcpuId` sees them. Reading gives the level of each level-sensitive
   * INTID whose line is high; writing sets the line of each level-sensitive
   * INTID (`vgic_write_irq_line_level_info`) and leaves edge ones alone.
   */
  levelInfo(vcpuId: number, intid: number, write?: number): number {
    const what = `LEVEL_INFO intid ${intid}`;
    const check = this.#attrCheck(vcpuId, () => what);
    if (check !== 0) return check;
    // The attribute holds the INTID in bits 9:0 and the info type above
    // (KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT 10): an INTID past 1023 spills
    // into the type, which is then not VGIC_LEVEL_INFO_LINE_LEVEL
    // (vgic_v3_attr_regs_access; selftest vgic_irq.c kvm_irq_set_level_info_check).
    if (intid > 0x3ff) return -EINVAL;
    if (intid % 32 !== 0) return -EINVAL;
    let v = 0;
    for (let b = 0; b < 32; b++) {
      const i = intid + b;
      if (i >= this.dist.nrIrqs) break;
      const bank = this.bankOf(vcpuId, i);
      if (bank.edge[i]) continue;
      if (write === undefined) {
        if (bank.line[i]) v |= 1 << b;
      } else {
        bank.line[i] = (write >>> b) & 1;
      }
    }
    this.#emit(
      "kvm",
      "level_info",
      write === undefined
        ? `${what} = 0x${(v >>> 0).toString(16)}`
        : `${what} <- 0x${(write >>> 0).toString(16)}`,
    );
    return write === undefined ? v >>> 0 : 0;
  }

  // ---- state, for scenarios ------------------------------------------------------------

  /** INTIDs pending for a vCPU: its SGIs/PPIs, SPIs targeting it, its LPIs (vLPIs included). */
  pendingOf(cpu: number): number[] {
    const out: number[] = [];
    const bank = this.rds[cpu].bank;
    for (let i = 0; i < PRIVATE_COUNT; i++) if (bank.isPending(i)) out.push(i);
    const d = this.dist;
    for (let i = PRIVATE_COUNT; i < d.nrIrqs; i++) {
      if (d.targetVcpu[i] === cpu && d.spis.isPending(i)) out.push(i);
    }
    for (const l of this.lpis.list) if (l.target === cpu && l.pending) out.push(l.intid);
    return out.sort((a, b) => a - b);
  }

  /** INTIDs active on a vCPU (its SGIs/PPIs and the SPIs targeting it). */
  activeOf(cpu: number): number[] {
    const out: number[] = [];
    const bank = this.rds[cpu].bank;
    for (let i = 0; i < PRIVATE_COUNT; i++) if (bank.active[i]) out.push(i);
    const d = this.dist;
    for (let i = PRIVATE_COUNT; i < d.nrIrqs; i++) {
      if (d.targetVcpu[i] === cpu && d.spis.active[i]) out.push(i);
    }
    return out;
  }

  /** The bank holding `intid` as seen by `cpu`. */
  bankOf(cpu: number, intid: number): IrqBank {
    return intid < PRIVATE_COUNT ? this.rds[cpu].bank : this.dist.spis;
  }

  #last(cause: number): number {
    return this.trace.enabled && this.trace.events.length > 0 ? this.trace.events.length : cause;
  }

  #emit(source: string, kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(source, kind, text);
  }
}

/** GICR_PENDBASER.PTZ: the pending table is all zeros. */
const GICR_PENDBASER_PTZ = 1n << 62n;

/** GICR_PENDBASER_ADDRESS: bits [51:16]. */
function pendingTableAddress(pendbaser: bigint): number {
  return Number(pendbaser & 0x000f_ffff_ffff_0000n);
}

/** Whether `order` lists each of 0..n-1 exactly once. */
function isPermutation(order: readonly number[], n: number): boolean {
  if (order.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const id of order) {
    if (!Number.isInteger(id) || id < 0 || id >= n || seen[id]) return false;
    seen[id] = 1;
  }
  return true;
}

/**
 * Whether none of the sixteen INTIDs of words `w..w+3` can be ready: none
 * enabled, or none with its latch set or its line high.
 */
function quiet16(en: Int32Array, latch: Int32Array, line: Int32Array, w: number): boolean {
  return (en[w] | en[w + 1] | en[w + 2] | en[w + 3]) === 0 ||
    (latch[w] | line[w] | latch[w + 1] | line[w + 1] | latch[w + 2] | line[w + 2] |
        latch[w + 3] | line[w + 3]) === 0;
}

/** Pending, enabled, not active, and in an enabled group. */
function ready(bank: IrqBank, i: number, groups: number): boolean {
  return bank.enabled[i] !== 0 && bank.active[i] === 0 &&
    (groups & (1 << bank.group[i])) !== 0 && bank.isPending(i);
}

function kindOf(intid: number): string {
  return intid < SGI_COUNT
    ? "SGI"
    : intid < PRIVATE_COUNT
    ? "PPI"
    : intid < LPI_BASE
    ? "SPI"
    : "LPI";
}

function describeInput(bank: IrqBank, i: number, level: boolean): string {
  if (bank.edge[i]) return "edge: pending";
  return level ? "line high (level): pending" : "line low";
}
