/**
 * The GICv3 CPU interface of one vCPU, as its system registers show it
 * (ICC_*_EL1, which KVM backs with the virtual interface ICV_*): acknowledge
 * (ICC_IAR0/1), priority drop and deactivation (ICC_EOIR0/1, ICC_DIR,
 * ICC_CTLR_EL1.EOImode), the priority mask (ICC_PMR), binary points
 * (ICC_BPR0/1, ICC_CTLR_EL1.CBPR), active priorities (ICC_AP0R0/AP1R0),
 * running priority (ICC_RPR), the highest pending interrupt (ICC_HPPIR0/1)
 * and the group enables (ICC_IGRPEN0/1). SGI generation (ICC_SGI1R) needs
 * every vCPU and lives in `gic.ts`. The GICv2 CPU interface (`gicv2.ts`)
 * reuses this logic behind its GICC_* registers.
 *
 * Rules: a pending interrupt is signalled when its group is enabled at the
 * distributor and here, it is enabled and not active, its priority is
 * strictly below PMR and its group priority strictly below the running
 * priority. Among candidates the lowest priority value wins, then the
 * lowest INTID. IAR returns 1023 when the highest pending interrupt cannot
 * be signalled or belongs to the other group; HPPIR ignores PMR and the
 * running priority. EOIR drops the running priority by clearing the lowest
 * set APR bit (handling is assumed properly nested) and, with EOImode=0,
 * deactivates; with EOImode=1 only DIR deactivates. EOIR of 1020-1023 is
 * ignored.
 *
 * Sources: Arm IHI 0069 (GICv3/v4) 4.8 "Interrupt prioritization", 12.2
 * "AArch64 System register descriptions of the CPU interface" (ICC_IAR1_EL1
 * 12.2.14, ICC_EOIR1_EL1 12.2.10, ICC_DIR_EL1 12.2.8, ICC_CTLR_EL1 12.2.6,
 * ICC_HPPIR1_EL1 12.2.12, ICC_RPR_EL1 12.2.20); QEMU
 * `hw/intc/arm_gicv3_cpuif.c` (`icc_hppi_can_preempt`, `icc_drop_prio`,
 * `icc_highest_active_prio`) for the points the spec leaves open; Linux
 * `arch/arm64/kvm/vgic/vgic.c` (`kvm_vgic_vcpu_pending_irq`).
 *
 * @module
 */
import { aprBit, clampBpr, groupPriority, MIN_BPR0, runningPriority } from "./priority.ts";
import { PRIORITY_MASK, SPURIOUS } from "./irq_state.ts";

/**
 * The best pending interrupt found by a scan (one reusable object: scans allocate nothing).
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * const c: Candidate = newCandidate();
 * if (gic.highest(0, 2, c)) c.intid; // vCPU0's best pending Group 1 interrupt
 * ```
 */
export interface Candidate {
  /** The INTID, -1 when none was found. */
  intid: number;
  /** Priority as compared (implemented bits only). */
  priority: number;
  /** 0 or 1. */
  group: number;
  /** Trace event that made it pending. */
  cause: number;
}

/**
 * Makes an empty candidate record.
 *
 * @example
 * ```ts
 * const c = newCandidate(); // { intid: -1, priority: 0xff, group: 1, cause: 0 }
 * ```
 */
export function newCandidate(): Candidate {
  return { intid: -1, priority: 0xff, group: 1, cause: 0 };
}

/**
 * What the CPU interface needs from the rest of the GIC.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * const view: PendingView = gic; // the Gic answers for every vCPU
 * const cif = new CpuInterface(0, view);
 * ```
 */
export interface PendingView {
  /**
   * Finds the highest-priority interrupt for `cpu` that is pending, enabled
   * and not active, in a group whose bit is set in `groups`; fills `out`.
   */
  highest(cpu: number, groups: number, out: Candidate): boolean;
  /** Pending → active (LPIs: pending cleared). Returns the GICv2 SGI source, else -1. */
  acknowledge(cpu: number, intid: number): number;
  /** Active → inactive. */
  deactivate(cpu: number, intid: number): void;
  /** Whether the distributor enables group `g`. */
  distGroupEnabled(g: number): boolean;
}

/**
 * ICC_CTLR_EL1 bits.
 *
 * @example
 * ```ts
 * declare const cif: CpuInterface;
 * cif.write("ctlr", IccCtlr.EOImode); // split priority drop and deactivation
 * (cif.ctlr >> IccCtlr.PRIbitsShift) & 7; // 4: five priority bits
 * ```
 */
export const IccCtlr = {
  CBPR: 1 << 0,
  EOImode: 1 << 1,
  /** [10:8] PRIbits: priority bits - 1 (read-only): 4 for KVM's 5 bits. */
  PRIbitsShift: 8,
} as const;

/**
 * A bit of the group mask {@link PendingView.highest} takes beside bits 0
 * and 1: Group 1 is enabled at the CPU interface (ICC_IGRPEN1_EL1, the
 * vCPU's ICH_VMCR_EL2.VENG1), with or without the distributor's enable.
 *
 * @example
 * ```ts
 * declare const cif: CpuInterface;
 * (cif.enabledGroups() & CPU_GROUP1) !== 0; // ICC_IGRPEN1_EL1.Enable
 * ```
 */
export const CPU_GROUP1 = 4;

/**
 * An ICC system register the guest can name.
 *
 * @example
 * ```ts
 * const pmr: IccRegister = ICC_REGISTERS.find((r) => r.name === "pmr")!;
 * pmr.access; // "rw"
 * ```
 */
export interface IccRegister {
  /** `iar1` for ICC_IAR1_EL1. */
  name: string;
  /** The spec's name. */
  title: string;
  /** Read-only, write-only or read-write (MRS / MSR). */
  access: "ro" | "wo" | "rw";
  /** Register width in bits. */
  width: 32 | 64;
  /** Fields by spec name, for `write icc_ctlr eoimode=1`. */
  fields: ReadonlyArray<{ name: string; lsb: number; width: number; doc: string }>;
  /** One line for `scn help`. */
  doc: string;
  /**
   * Why an access UNDEFs even with a GICv3 vGIC, when it always does
   * (AP<n>R1-3: KVM's five priority bits need only AP<n>R0).
   */
  undef?: string;
}

/** ICC_SRE_EL1 as KVM gives a GICv3 guest (`vgic_sre`): SRE | DFB | DIB; writes are ignored. */
export const ICC_SRE_KVM = 0x7;

/** The SGI registers' fields (ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1 share them). */
function sgiFields(rsDoc: string): IccRegister["fields"] {
  return [
    { name: "targetlist", lsb: 0, width: 16, doc: "bit i: the target with Aff0 i" },
    { name: "aff1", lsb: 16, width: 8, doc: "Aff1 of the targets" },
    { name: "intid", lsb: 24, width: 4, doc: "the SGI" },
    { name: "aff2", lsb: 32, width: 8, doc: "Aff2 of the targets" },
    { name: "irm", lsb: 40, width: 1, doc: "1: every PE but the sender" },
    { name: "rs", lsb: 44, width: 4, doc: rsDoc },
    { name: "aff3", lsb: 48, width: 8, doc: "Aff3 of the targets" },
  ];
}

/** AP<g>R1..3, which KVM's vGIC does not have (`vgic_v3_max_apr_idx` is 0 with five priority bits). */
function extraAprs(group: 0 | 1): IccRegister[] {
  return [1, 2, 3].map((n) => ({
    name: `ap${group}r${n}`,
    title: `ICC_AP${group}R${n}_EL1`,
    access: "rw",
    width: 32,
    fields: [],
    doc: `Group ${group} active priorities ${n * 32}-${
      n * 32 + 31
    } (UNDEF: needs 6 or more priority bits)`,
    undef:
      "KVM's vGIC has 5 priority bits, so only AP<n>R0 exists (vgic_v3_max_apr_idx; Arm IHI 0069 ICC_AP1R<n>_EL1)",
  }));
}

/**
 * The CPU interface registers a scenario can read or write, with their
 * AArch64 names and fields.
 *
 * @example
 * ```ts
 * ICC_REGISTERS.find((r) => r.name === "pmr")!.title; // "ICC_PMR_EL1"
 * ```
 */
export const ICC_REGISTERS: readonly IccRegister[] = [
  {
    name: "iar0",
    title: "ICC_IAR0_EL1",
    access: "ro",
    width: 32,
    fields: [],
    doc: "acknowledge the highest pending Group 0 interrupt (1023: none)",
  },
  {
    name: "iar1",
    title: "ICC_IAR1_EL1",
    access: "ro",
    width: 32,
    fields: [],
    doc: "acknowledge the highest pending Group 1 interrupt (1023: none)",
  },
  {
    name: "eoir0",
    title: "ICC_EOIR0_EL1",
    access: "wo",
    width: 32,
    fields: [],
    doc: "end of Group 0 interrupt: priority drop (+ deactivate if EOImode=0)",
  },
  {
    name: "eoir1",
    title: "ICC_EOIR1_EL1",
    access: "wo",
    width: 32,
    fields: [],
    doc: "end of Group 1 interrupt: priority drop (+ deactivate if EOImode=0)",
  },
  {
    name: "dir",
    title: "ICC_DIR_EL1",
    access: "wo",
    width: 32,
    fields: [],
    doc: "deactivate an interrupt (EOImode=1 only)",
  },
  {
    name: "hppir0",
    title: "ICC_HPPIR0_EL1",
    access: "ro",
    width: 32,
    fields: [],
    doc: "highest pending Group 0 interrupt, PMR and RPR not applied",
  },
  {
    name: "hppir1",
    title: "ICC_HPPIR1_EL1",
    access: "ro",
    width: 32,
    fields: [],
    doc: "highest pending Group 1 interrupt, PMR and RPR not applied",
  },
  {
    name: "pmr",
    title: "ICC_PMR_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc: "priority mask: only priorities strictly below it are signalled (5 bits kept)",
  },
  {
    name: "rpr",
    title: "ICC_RPR_EL1",
    access: "ro",
    width: 32,
    fields: [],
    doc: "running priority (0xff when idle)",
  },
  {
    name: "bpr0",
    title: "ICC_BPR0_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc: "Group 0 binary point (minimum 2)",
  },
  {
    name: "bpr1",
    title: "ICC_BPR1_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc: "Group 1 binary point (minimum 3; with CBPR=1 reads BPR0+1, writes ignored)",
  },
  {
    name: "ap0r0",
    title: "ICC_AP0R0_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc: "Group 0 active priorities (bit = priority >> 3)",
  },
  {
    name: "ap1r0",
    title: "ICC_AP1R0_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc: "Group 1 active priorities (bit = priority >> 3)",
  },
  {
    name: "ctlr",
    title: "ICC_CTLR_EL1",
    access: "rw",
    width: 32,
    fields: [
      { name: "cbpr", lsb: 0, width: 1, doc: "Group 1 uses BPR0" },
      { name: "eoimode", lsb: 1, width: 1, doc: "1: EOIR only drops priority, DIR deactivates" },
    ],
    doc: "CPU interface control (PRIbits [10:8] reads 4: 5 priority bits)",
  },
  {
    name: "igrpen0",
    title: "ICC_IGRPEN0_EL1",
    access: "rw",
    width: 32,
    fields: [{ name: "enable", lsb: 0, width: 1, doc: "Group 0 enabled" }],
    doc: "Group 0 enable",
  },
  {
    name: "igrpen1",
    title: "ICC_IGRPEN1_EL1",
    access: "rw",
    width: 32,
    fields: [{ name: "enable", lsb: 0, width: 1, doc: "Group 1 enabled" }],
    doc: "Group 1 enable",
  },
  {
    name: "sgi1r",
    title: "ICC_SGI1R_EL1",
    access: "wo",
    width: 64,
    fields: sgiFields("range selector: RES0 with ICC_CTLR_EL1.RSS=0, and KVM ignores it"),
    doc: "generate a Group 1 SGI (KVM raises SGIs of either group)",
  },
  {
    name: "sgi0r",
    title: "ICC_SGI0R_EL1",
    access: "wo",
    width: 64,
    fields: sgiFields("range selector (ignored by KVM)"),
    doc: "generate a Group 0 SGI (only Group 0 SGIs become pending)",
  },
  {
    name: "asgi1r",
    title: "ICC_ASGI1R_EL1",
    access: "wo",
    width: 64,
    fields: sgiFields("range selector (ignored by KVM)"),
    doc:
      "generate a Group 1 SGI for the other Security state: with one Security state KVM treats it as ICC_SGI0R_EL1 (access_gic_sgi)",
  },
  {
    name: "sre",
    title: "ICC_SRE_EL1",
    access: "rw",
    width: 32,
    fields: [],
    doc:
      "system register enable: KVM's GICv3 reads 0x7 (SRE, DFB, DIB) and ignores writes (access_gic_sre)",
  },
  ...extraAprs(0),
  ...extraAprs(1),
];

/**
 * What an acknowledge returned: the INTID (1023 when none) and, for GICv2 SGIs, the source.
 *
 * @example
 * ```ts
 * declare const cif: CpuInterface;
 * const ack: Ack = cif.acknowledge(1);
 * if (ack.intid !== 1023) cif.eoi(1, ack.intid);
 * ```
 */
export interface Ack {
  /** The acknowledged INTID, 1023 when nothing could be. */
  intid: number;
  /** GICv2 SGIs: the source CPU (GICC_IAR[12:10]); -1 otherwise. */
  source: number;
  /** The interrupt's group. */
  group: number;
  /** Trace event that made it pending. */
  cause: number;
}

/**
 * The value an acknowledge read returns: the INTID, with a GICv2 SGI's
 * source CPU in bits 12:10 (GICC_IAR.CPUID; IHI 0048B 4.4.4).
 *
 * @example
 * ```ts
 * iarValue({ intid: 1, source: 1, group: 1, cause: 0 }); // 0x401
 * ```
 */
export function iarValue(ack: Ack): number {
  return ack.source >= 0 ? ack.intid | (ack.source << 10) : ack.intid;
}

/**
 * One vCPU's CPU interface.
 *
 * @example
 * ```ts
 * declare const view: PendingView;
 * const cif = new CpuInterface(0, view);
 * cif.pmr = 0xf0; cif.igrpen1 = 1;
 * const ack = cif.acknowledge(1); // ack.intid: the INTID, or 1023
 * cif.eoi(1, ack.intid);
 * ```
 */
export class CpuInterface {
  /** ICC_PMR_EL1 (KVM resets it to 0: everything masked). */
  pmr = 0;
  /** ICC_BPR0_EL1. */
  bpr0: number = MIN_BPR0;
  /** ICC_BPR1_EL1 as stored (reads differ when CBPR=1). */
  bpr1Stored: number = MIN_BPR0 + 1;
  /** ICC_CTLR_EL1.CBPR: Group 1 uses BPR0. */
  cbpr = 0;
  /** ICC_CTLR_EL1.EOImode: 1 = EOIR only drops priority, DIR deactivates. */
  eoiMode = 0;
  /** ICC_IGRPEN0_EL1.Enable. */
  igrpen0 = 0;
  /** ICC_IGRPEN1_EL1.Enable. */
  igrpen1 = 0;
  /** ICC_AP0R0_EL1: one bit per active Group 0 group priority. */
  ap0 = 0;
  /** ICC_AP1R0_EL1: one bit per active Group 1 group priority. */
  ap1 = 0;
  readonly #scratch = newCandidate();

  /**
   * The CPU interface of vCPU `cpu`, looking at interrupts through `view`.
   *
   * @example
   * ```ts
   * import { Gic } from "./gic.ts";
   * declare const gic: Gic;
   * const cif = new CpuInterface(1, gic); // gic: a PendingView
   * cif.read("rpr"); // 0xff: idle
   * ```
   */
  constructor(readonly cpu: number, readonly view: PendingView) {}

  /** The binary point Group 1 uses (BPR0 when CBPR=1). */
  get bpr1(): number {
    return this.cbpr ? Math.min(this.bpr0 + 1, 7) : this.bpr1Stored;
  }

  /** ICC_RPR_EL1. */
  get rpr(): number {
    return runningPriority(this.ap0, this.ap1);
  }

  /**
   * ICC_CTLR_EL1.PRIbits + 1 as userspace last restored it (KVM's
   * `num_pri_bits`, read back through CPU_SYSREGS); the model keeps five.
   */
  uaccessPriBits = 5;

  /** ICC_CTLR_EL1 as read. */
  get ctlr(): number {
    return this.cbpr | (this.eoiMode << 1) | (4 << IccCtlr.PRIbitsShift);
  }

  /**
   * Groups enabled both here and at the distributor (bit g = group g), and
   * {@link CPU_GROUP1} when ICC_IGRPEN1_EL1 is set whatever the distributor
   * says: what gates a GICv4.0 vLPI, which the hardware delivers without
   * the emulated GICD_CTLR.
   */
  enabledGroups(): number {
    let g = 0;
    if (this.igrpen0 && this.view.distGroupEnabled(0)) g |= 1;
    if (this.igrpen1) g |= this.view.distGroupEnabled(1) ? 2 | CPU_GROUP1 : CPU_GROUP1;
    return g;
  }

  /** The group priority of `priority` in `group` under the current binary points. */
  groupPriority(priority: number, group: number): number {
    return group === 0 || this.cbpr
      ? groupPriority(priority, this.bpr0, 0)
      : groupPriority(priority, this.bpr1, 1);
  }

  /**
   * The interrupt this interface signals now (passes PMR and preempts the
   * running priority), filled into `out`; false when none.
   */
  signalled(out: Candidate): boolean {
    if (!this.view.highest(this.cpu, this.enabledGroups(), out)) return false;
    return this.canPreempt(out);
  }

  /** Priority strictly below PMR and group priority strictly below RPR. */
  canPreempt(c: Candidate): boolean {
    if (c.priority >= (this.pmr & PRIORITY_MASK)) return false;
    return this.groupPriority(c.priority, c.group) < this.rpr;
  }

  /** ICC_HPPIRn_EL1: the highest pending interrupt if it is of `group`; PMR and RPR not applied. */
  hppir(group: number): number {
    const c = this.#scratch;
    if (!this.view.highest(this.cpu, this.enabledGroups(), c)) return SPURIOUS;
    return group < 0 || c.group === group ? c.intid : SPURIOUS;
  }

  /**
   * ICC_IARn_EL1 (`group` 0 or 1; -1 acknowledges either, as GICv2's
   * GICC_IAR does here). Sets the APR bit of the interrupt's group priority.
   */
  acknowledge(group: number, out: Ack = { intid: SPURIOUS, source: -1, group: 1, cause: 0 }): Ack {
    const c = this.#scratch;
    out.intid = SPURIOUS;
    out.source = -1;
    out.cause = 0;
    if (!this.signalled(c) || (group >= 0 && c.group !== group)) return out;
    out.source = this.view.acknowledge(this.cpu, c.intid);
    out.intid = c.intid;
    out.group = c.group;
    out.cause = c.cause;
    const bit = 1 << aprBit(this.groupPriority(c.priority, c.group));
    if (c.group === 0) this.ap0 = (this.ap0 | bit) >>> 0;
    else this.ap1 = (this.ap1 | bit) >>> 0;
    return out;
  }

  /**
   * ICC_EOIRn_EL1: drop the running priority (clear the lowest set APR bit
   * of either group) and, with EOImode=0, deactivate. INTIDs 1020-1023 are
   * ignored. Returns whether it did anything.
   */
  eoi(_group: number, intid: number): boolean {
    if (intid >= 1020 && intid <= 1023) return false;
    this.dropPriority();
    if (this.eoiMode === 0) this.view.deactivate(this.cpu, intid);
    return true;
  }

  /** Clears the lowest set bit over AP0R0 | AP1R0 (Group 0 first on a tie). */
  dropPriority(): void {
    const both = (this.ap0 | this.ap1) >>> 0;
    if (both === 0) return;
    const bit = both & -both;
    if (this.ap0 & bit) this.ap0 = (this.ap0 & ~bit) >>> 0;
    else this.ap1 = (this.ap1 & ~bit) >>> 0;
  }

  /** ICC_DIR_EL1: deactivates with EOImode=1; ignored otherwise (UNPREDICTABLE, as QEMU does). */
  dir(intid: number): boolean {
    if (this.eoiMode === 0 || (intid >= 1020 && intid <= 1023)) return false;
    this.view.deactivate(this.cpu, intid);
    return true;
  }

  /** Reads a register by its {@link ICC_REGISTERS} name (IAR has side effects). */
  read(name: string): number {
    switch (name) {
      case "iar0":
        return this.acknowledge(0).intid;
      case "iar1":
        return this.acknowledge(1).intid;
      case "hppir0":
        return this.hppir(0);
      case "hppir1":
        return this.hppir(1);
      case "pmr":
        return this.pmr;
      case "rpr":
        return this.rpr;
      case "bpr0":
        return this.bpr0;
      case "bpr1":
        return this.bpr1;
      case "ap0r0":
        return this.ap0;
      case "ap1r0":
        return this.ap1;
      case "ctlr":
        return this.ctlr;
      case "igrpen0":
        return this.igrpen0;
      case "igrpen1":
        return this.igrpen1;
      case "sre":
        return ICC_SRE_KVM;
    }
    return 0;
  }

  /** Writes a register by name (SGI registers are handled by the GIC). Returns whether it took effect. */
  write(name: string, value: number): boolean {
    switch (name) {
      case "eoir0":
        return this.eoi(0, value & 0xff_ffff);
      case "eoir1":
        return this.eoi(1, value & 0xff_ffff);
      case "dir":
        return this.dir(value & 0xff_ffff);
      case "pmr":
        this.pmr = value & PRIORITY_MASK;
        return true;
      case "bpr0":
        this.bpr0 = clampBpr(value, 0);
        return true;
      case "bpr1":
        if (this.cbpr) return false;
        this.bpr1Stored = clampBpr(value, 1);
        return true;
      case "ap0r0":
        this.ap0 = value >>> 0;
        return true;
      case "ap1r0":
        this.ap1 = value >>> 0;
        return true;
      case "ctlr":
        this.cbpr = value & 1;
        this.eoiMode = (value >> 1) & 1;
        return true;
      case "igrpen0":
        this.igrpen0 = value & 1;
        return true;
      case "igrpen1":
        this.igrpen1 = value & 1;
        return true;
    }
    return false;
  }

  /**
   * KVM's WFI wake-up test (`kvm_vgic_vcpu_pending_irq`): something is
   * pending, enabled, not active, with priority below PMR. Group enables,
   * the running priority and PSTATE do not matter.
   */
  wouldWake(): boolean {
    // KVM forwards nothing while the distributor is disabled (vgic_target_oracle).
    if (!this.view.distGroupEnabled(0) && !this.view.distGroupEnabled(1)) return false;
    const c = this.#scratch;
    if (!this.view.highest(this.cpu, 3, c)) return false;
    return c.priority < (this.pmr & PRIORITY_MASK);
  }
}
