/**
 * One vCPU's PMUv3 as KVM emulates it (`arch/arm64/kvm/pmu-emul.c`), as
 * far as its overflow interrupt goes: PMCR_EL0, the counter enables
 * (PMCNTENSET/CLR_EL0), the interrupt enables (PMINTENSET/CLR_EL1), the
 * overflow flags (PMOVSSET/CLR_EL0), PMSWINC_EL0 and the event counters
 * with their types (PMEVTYPER<n>_EL0, PMEVCNTR<n>_EL0).
 *
 * - A counter counts its event while PMCR_EL0.E and its PMCNTENSET bit are
 *   set (`kvm_pmu_counter_increment`). The events that count here are
 *   SW_INCR (0x00, a PMSWINC_EL0 write), MEM_ACCESS (0x13, each guest
 *   memory access the scenario makes: on a host the perf counter counts the
 *   guest's loads and stores) and CHAIN (0x1e, on an odd counter: its even
 *   neighbour overflowed at 32 bits, `kvm_pmu_counter_can_chain`). Other
 *   events do not move.
 * - The counters are 64 bits wide (a PMUv3p5 host, `kvm_pmc_is_64bit`);
 *   an event counter overflows when its low 32 bits wrap unless
 *   PMCR_EL0.LP is set (`kvm_pmc_has_64bit_overflow`), and counts on in
 *   its high bits either way. An overflow sets the counter's PMOVSSET bit.
 * - The overflow interrupt is a level on the VM's PMU PPI (the VMM's
 *   KVM_ARM_VCPU_PMU_V3_IRQ): high while PMCR_EL0.E is set and a counter
 *   has both its overflow flag and its interrupt enable
 *   (`kvm_pmu_overflow_status`; PMCNTENSET does not matter since Linux
 *   6.13's fix for the SBSA test, `kvm_pmu_update_state`).
 * - PMCR_EL0: N (6 counters here; KVM gives the host's), IMP (0x41, Arm)
 *   read-only; P resets the event counters and reads 0; C resets the cycle
 *   counter (not modelled) and reads 0; LC reads 1, as on a host without
 *   AArch32 at EL0 (`kvm_pmu_handle_pmcr`).
 *
 * The cycle counter (PMCCNTR_EL0, index 31) and the perf events behind the
 * architectural events other than these three are not modelled.
 *
 * Sources: Arm DDI 0487 D13 "The Performance Monitors Extension" (PMCR_EL0,
 * PMOVSSET_EL0, PMINTENSET_EL1, PMSWINC_EL0, the CHAIN event); Linux
 * `arch/arm64/kvm/pmu-emul.c` (`kvm_pmu_counter_increment`,
 * `kvm_pmu_software_increment`, `kvm_pmu_handle_pmcr`,
 * `kvm_pmu_overflow_status`, `kvm_pmu_update_state`),
 * `arch/arm64/kvm/sys_regs.c` (`access_pmcr`, `access_pmcnten`,
 * `access_pminten`, `access_pmovs`, `access_pmswinc`).
 *
 * @module
 */
import type { StateHash } from "../core/platform.ts";

/**
 * PMCR_EL0's bits (Arm DDI 0487 D13, PMCR_EL0).
 *
 * @example
 * ```ts
 * (PMU_PMCR_N << PmcrBits.N_SHIFT) | PmcrBits.E; // 6 counters, enabled
 * ```
 */
export const PmcrBits = {
  E: 1 << 0,
  P: 1 << 1,
  C: 1 << 2,
  D: 1 << 3,
  X: 1 << 4,
  DP: 1 << 5,
  LC: 1 << 6,
  LP: 1 << 7,
  N_SHIFT: 11,
  IMP_SHIFT: 24,
} as const;

/** The event counters the model's vPMU has (PMCR_EL0.N; KVM gives the host's number). */
export const PMU_PMCR_N = 6;
/** PMCR_EL0.IMP: Arm Limited (0x41), the implementer the model's host has. */
export const PMU_PMCR_IMP = 0x41;

/**
 * The architectural events the model counts (PMEVTYPER<n>_EL0.evtCount).
 *
 * @example
 * ```ts
 * PmuEvent.MEM_ACCESS; // 0x13
 * ```
 */
export const PmuEvent = { SW_INCR: 0x00, MEM_ACCESS: 0x13, CHAIN: 0x1e } as const;

/** PMEVTYPER<n>_EL0.evtCount: bits [15:0] (PMUv3p1 and later). */
const EVT_COUNT_MASK = 0xffff;
/** The bits PMCR_EL0 writes keep (E, D, X, DP, LC, LP); P and C act and read 0. */
const PMCR_WRITABLE = PmcrBits.E | PmcrBits.D | PmcrBits.X | PmcrBits.DP | PmcrBits.LP;
const U32 = 0xffff_ffffn;
const U64 = (1n << 64n) - 1n;

/**
 * One vCPU's vPMU; `output` gets the overflow interrupt's level whenever it
 * may have changed.
 *
 * @example
 * ```ts
 * const levels: boolean[] = [];
 * const pmu = new Pmu((l) => levels.push(l));
 * pmu.writeEvtyper(0, PmuEvent.SW_INCR);
 * pmu.writeCounter(0, 0xffff_ffffn);
 * pmu.write("pmcntenset", 1);
 * pmu.write("pmintenset", 1);
 * pmu.write("pmcr", PmcrBits.E);
 * pmu.write("pmswinc", 1); // counter 0 wraps: PMOVSSET bit 0, the line rises
 * levels.at(-1); // true
 * ```
 */
export class Pmu {
  /** PMCR_EL0's writable bits. */
  #pmcr = PmcrBits.LC;
  /** PMCNTENSET_EL0. */
  cnten = 0;
  /** PMINTENSET_EL1. */
  inten = 0;
  /** PMOVSSET_EL0. */
  ovs = 0;
  /** PMEVTYPER<n>_EL0. */
  readonly evtyper: number[] = new Array(PMU_PMCR_N).fill(0);
  /** PMEVCNTR<n>_EL0, 64 bits. */
  readonly counter: bigint[] = new Array(PMU_PMCR_N).fill(0n);
  /** The level last given to `output`. */
  line = false;
  /** The overflow PPI the VMM gave (KVM's `pmu.irq_num`, KVM_ARM_VCPU_PMU_V3_IRQ), or -1. */
  irq = -1;
  /** KVM_ARM_VCPU_PMU_V3_INIT done (`pmu.created`): the PPI is the PMU's and its level is driven. */
  created = false;

  /** A vPMU whose overflow interrupt drives `output`. */
  constructor(readonly output: (level: boolean) => void) {}

  /** Feeds `h` the state, for `scn explore`. */
  hashPrivate(h: StateHash): void {
    h.n(this.#pmcr);
    h.n(this.cnten);
    h.n(this.inten);
    h.n(this.ovs);
    h.n(this.irq);
    h.bool(this.created);
    h.words(this.evtyper);
    for (const c of this.counter) (h.n(Number(c & U32)), h.n(Number(c >> 32n)));
  }

  /** The counters that exist: bits 0..N-1 (the cycle counter's bit 31 is not modelled). */
  get validMask(): number {
    return (1 << PMU_PMCR_N) - 1;
  }

  /** PMCR_EL0 as read. */
  get pmcr(): number {
    return (this.#pmcr | (PMU_PMCR_N << PmcrBits.N_SHIFT) |
      (PMU_PMCR_IMP << PmcrBits.IMP_SHIFT)) >>>
      0;
  }

  /** Reads one of the bit-mask registers or PMCR by its name. */
  read(name: PmuRegisterName): number {
    switch (name) {
      case "pmcr":
        return this.pmcr;
      case "pmcntenset":
      case "pmcntenclr":
        return this.cnten;
      case "pmintenset":
      case "pmintenclr":
        return this.inten;
      case "pmovsset":
      case "pmovsclr":
        return this.ovs;
      case "pmswinc":
        return 0;
    }
  }

  /** Writes one of the bit-mask registers, PMCR or PMSWINC by its name. */
  write(name: PmuRegisterName, value: number): void {
    const v = value & this.validMask;
    switch (name) {
      case "pmcr":
        this.#pmcr = (value & PMCR_WRITABLE) | PmcrBits.LC;
        if ((value & PmcrBits.P) !== 0) this.counter.fill(0n);
        break;
      case "pmcntenset":
        this.cnten |= v;
        break;
      case "pmcntenclr":
        this.cnten &= ~v;
        break;
      case "pmintenset":
        this.inten |= v;
        break;
      case "pmintenclr":
        this.inten &= ~v;
        break;
      case "pmovsset":
        this.ovs |= v;
        break;
      case "pmovsclr":
        this.ovs &= ~v;
        break;
      case "pmswinc":
        this.count(v, PmuEvent.SW_INCR);
        break;
    }
    this.#update();
  }

  /** PMEVTYPER<n>_EL0 write. */
  writeEvtyper(n: number, value: number): void {
    this.evtyper[n] = value >>> 0;
  }

  /** PMEVCNTR<n>_EL0 write (64 bits). */
  writeCounter(n: number, value: bigint): void {
    this.counter[n] = value & U64;
  }

  /**
   * One `event` on the counters of `mask` (`kvm_pmu_counter_increment`):
   * nothing unless PMCR_EL0.E; each enabled counter of that event type
   * counts, an overflow sets its PMOVSSET bit, and an even counter's 32-bit
   * overflow counts a CHAIN on its odd neighbour.
   */
  count(mask: number, event: number): void {
    if ((this.#pmcr & PmcrBits.E) === 0) return;
    mask &= this.cnten;
    for (let i = 0; i < PMU_PMCR_N; i++) {
      if ((mask & (1 << i)) === 0 || (this.evtyper[i] & EVT_COUNT_MASK) !== event) continue;
      const wide = (this.#pmcr & PmcrBits.LP) !== 0;
      const reg = (this.counter[i] + 1n) & U64;
      this.counter[i] = reg;
      if ((wide ? reg : reg & U32) !== 0n) continue;
      this.ovs |= 1 << i;
      if (!wide && (i & 1) === 0 && i + 1 < PMU_PMCR_N) this.count(1 << (i + 1), PmuEvent.CHAIN);
    }
    this.#update();
  }

  /** The overflow interrupt's level (`kvm_pmu_overflow_status`). */
  get overflow(): boolean {
    return (this.#pmcr & PmcrBits.E) !== 0 && (this.ovs & this.inten) !== 0;
  }

  #update(): void {
    const level = this.overflow;
    if (level === this.line) return;
    this.line = level;
    this.output(level);
  }
}

/** The PMU registers addressed by name (the bit masks, PMCR and PMSWINC). */
export type PmuRegisterName =
  | "pmcr"
  | "pmcntenset"
  | "pmcntenclr"
  | "pmintenset"
  | "pmintenclr"
  | "pmovsset"
  | "pmovsclr"
  | "pmswinc";

/**
 * The PMU registers a guest names, with their system register names and
 * access.
 *
 * @example
 * ```ts
 * PMU_REGISTERS.find((r) => r.name === "pmswinc")!.access; // "wo"
 * ```
 */
export const PMU_REGISTERS: ReadonlyArray<
  { name: PmuRegisterName; title: string; access: "rw" | "wo"; doc: string }
> = [
  {
    name: "pmcr",
    title: "PMCR_EL0",
    access: "rw",
    doc:
      "control: E [0] enables, P [1] resets the event counters, LP [7] 64-bit overflow; N [15:11] and IMP [31:24] read-only",
  },
  { name: "pmcntenset", title: "PMCNTENSET_EL0", access: "rw", doc: "counter enables: 1 sets" },
  { name: "pmcntenclr", title: "PMCNTENCLR_EL0", access: "rw", doc: "counter enables: 1 clears" },
  {
    name: "pmintenset",
    title: "PMINTENSET_EL1",
    access: "rw",
    doc: "overflow interrupt enables: 1 sets",
  },
  {
    name: "pmintenclr",
    title: "PMINTENCLR_EL1",
    access: "rw",
    doc: "overflow interrupt enables: 1 clears",
  },
  { name: "pmovsset", title: "PMOVSSET_EL0", access: "rw", doc: "overflow flags: 1 sets" },
  { name: "pmovsclr", title: "PMOVSCLR_EL0", access: "rw", doc: "overflow flags: 1 clears" },
  {
    name: "pmswinc",
    title: "PMSWINC_EL0",
    access: "wo",
    doc: "software increment: each bit counts one SW_INCR on that counter",
  },
];
