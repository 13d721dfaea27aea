/**
 * One vCPU's PMUv3 as KVM emulates it (`arch/arm64/kvm/pmu-emul.c`,
 * `sys_regs.c`): PMCR_EL0, the counter enables (PMCNTENSET/CLR_EL0), the
 * interrupt enables (PMINTENSET/CLR_EL1), the overflow flags
 * (PMOVSSET/CLR_EL0), PMSWINC_EL0, the event counters with their types
 * (PMEVTYPER<n>_EL0, PMEVCNTR<n>_EL0, and through PMSELR_EL0 PMXEVTYPER_EL0
 * and PMXEVCNTR_EL0), the cycle counter (PMCCNTR_EL0, PMCCFILTR_EL0, index
 * 31) and the common-event bitmaps (PMCEID0/1_EL0).
 *
 * - A counter counts its event while PMCR_EL0.E and its PMCNTENSET bit are
 *   set (`kvm_pmu_counter_increment`). The events that count here are
 *   SW_INCR (0x00, a PMSWINC_EL0 write), INST_RETIRED (0x08) and CPU_CYCLES
 *   (0x11) (the model's vCPU retires each vCPU statement as one instruction
 *   in one cycle, `nop N` as N: CPI 1, as QEMU's `-icount shift=0`; on a
 *   host the perf counter counts the real ones), MEM_ACCESS (0x13, each
 *   guest memory access the scenario makes) and CHAIN (0x1e, on an odd
 *   counter: its even neighbour overflowed at 32 bits,
 *   `kvm_pmu_counter_can_chain`). STALL_FRONTEND (0x23) and STALL_BACKEND
 *   (0x24), which PMUv3p1 requires, are advertised and never count (the
 *   model's vCPU does not stall); other events do not move.
 * - The events the host's perf counters count (all but SW_INCR and CHAIN,
 *   which KVM counts itself by type alone) are not counted at EL1, where
 *   the guest runs, while the counter's PMEVTYPER / PMCCFILTR P bit (31) is
 *   set (perf's `exclude_kernel`, `kvm_pmu_create_perf_event`).
 * - The counters are 64 bits wide (a PMUv3p5 host: ID_AA64DFR0_EL1.PMUVer
 *   6, `kvm_pmc_is_64bit`); an event counter overflows when its low 32
 *   bits wrap unless PMCR_EL0.LP is set, the cycle counter at 64 bits
 *   (PMCR_EL0.LC, RES1 here) (`kvm_pmc_has_64bit_overflow`), and each
 *   counts on in its high bits either way. An overflow sets the counter's
 *   PMOVSSET bit (31 for the cycle counter).
 * - The VMM's event filter (KVM_ARM_VCPU_PMU_V3_FILTER, one map for the VM,
 *   set before the first run): the first range decides the default (an
 *   ALLOW range starts from all denied, a DENY range from all allowed), each
 *   range then sets or clears its events. A filtered-out event has no perf
 *   event behind its counters, so they do not count (the cycle counter is
 *   CPU_CYCLES'), SW_INCR and CHAIN count whatever the filter says, and the
 *   guest's PMCEID0/1_EL0 show only the allowed events (`kvm_pmu_get_pmceid`).
 * - The overflow interrupt is a level on the VM's PMU PPI (the VMM's
 *   KVM_ARM_VCPU_PMU_V3_IRQ): high while PMCR_EL0.E is set and a counter
 *   has both its overflow flag and its interrupt enable
 *   (`kvm_pmu_overflow_status`; PMCNTENSET does not matter since Linux
 *   6.13's fix for the SBSA test, `kvm_pmu_update_state`).
 * - PMCR_EL0: N is the VM's number of event counters (the host's 6 until
 *   the VMM sets fewer with KVM_SET_ONE_REG before the first run,
 *   `set_pmcr`), IMP (0x41, Arm) read-only; P resets the event counters and
 *   C the cycle counter, both read 0; LC reads 1, as on a host without
 *   AArch32 at EL0 (`kvm_pmu_handle_pmcr`, `access_pmcr`). D (the cycle
 *   counter's divide-by-64) is kept and, as in KVM, divides nothing: the
 *   cycle counter's perf event counts CPU_CYCLES whatever D says
 *   (`kvm_pmu_create_perf_event`).
 * - The bit masks keep only the counters that exist, bits 0..N-1 and 31
 *   (`kvm_pmu_valid_counter_mask`); an event counter's PMEVCNTR / PMEVTYPER
 *   (directly or through PMSELR_EL0.SEL) at N or above UNDEFs
 *   (`pmu_counter_idx_valid`); PMSELR_EL0 keeps SEL [4:0] (`access_pmselr`);
 *   PMEVTYPER keeps P, U and evtCount [15:0] (`kvm_pmu_evtyper_mask`, no
 *   EL2 or EL3 in the guest); PMXEVTYPER with SEL 31 is PMCCFILTR_EL0
 *   (`access_pmu_evtyper`), which keeps P and U.
 *
 * Sources: Arm DDI 0487 D13 "The Performance Monitors Extension" (PMCR_EL0,
 * PMOVSSET_EL0, PMINTENSET_EL1, PMSWINC_EL0, PMSELR_EL0, PMCCNTR_EL0,
 * PMCCFILTR_EL0, PMCEID0/1_EL0, the common events); Linux
 * `arch/arm64/kvm/pmu-emul.c` (`kvm_pmu_counter_increment`,
 * `kvm_pmu_software_increment`, `kvm_pmu_handle_pmcr`,
 * `kvm_pmu_overflow_status`, `kvm_pmu_update_state`, `kvm_pmu_get_pmceid`,
 * `kvm_pmu_valid_counter_mask`, `kvm_pmu_create_perf_event`,
 * `kvm_arm_pmu_v3_set_attr`), `arch/arm64/kvm/sys_regs.c`
 * (`access_pmcr`, `set_pmcr`, `access_pmselr`, `access_pmceid`,
 * `pmu_counter_idx_valid`, `access_pmu_evcntr`, `access_pmu_evtyper`,
 * `access_pmcnten`, `access_pminten`, `access_pmovs`, `access_pmswinc`,
 * `get_pmreg` / `set_pmreg`).
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
  N_MASK: 0x1f,
  IMP_SHIFT: 24,
} as const;

/** The event counters the model's host has (its PMCR_EL0.N; KVM gives the guest the host's number by default). */
export const PMU_PMCR_N = 6;
/**
 * The perf PMU type of the model's one host PMU (`arm_pmu->pmu.type`, what
 * /sys/bus/event_source/devices/armv8_pmuv3_0/type reads; perf hands out
 * dynamic types from PERF_TYPE_MAX, 6, in registration order, so a real
 * host's number depends on which PMUs registered first): the id
 * KVM_ARM_VCPU_PMU_V3_SET_PMU takes.
 */
export const PMU_HOST_TYPE = 8;
/** PMCR_EL0.IMP: Arm Limited (0x41), the implementer the model's host has. */
export const PMU_PMCR_IMP = 0x41;
/** The cycle counter's index in the bit-mask registers and PMSELR_EL0.SEL (ARMV8_PMU_CYCLE_IDX). */
export const PMU_CYCLE_IDX = 31;
/** ID_AA64DFR0_EL1.PMUVer [11:8] of a vCPU with a vPMU: 6, FEAT_PMUv3p5 (64-bit event counters, PMCR_EL0.LP). */
export const ID_AA64DFR0_PMUVER_V3P5 = 6;
/** ID_AA64DFR0_EL1.PMUVer's position. */
export const ID_AA64DFR0_PMUVER_SHIFT = 8;

/**
 * The architectural events the model counts or advertises
 * (PMEVTYPER<n>_EL0.evtCount; Arm DDI 0487 D17 "common events").
 *
 * @example
 * ```ts
 * PmuEvent.MEM_ACCESS; // 0x13
 * ```
 */
export const PmuEvent = {
  SW_INCR: 0x00,
  INST_RETIRED: 0x08,
  CPU_CYCLES: 0x11,
  MEM_ACCESS: 0x13,
  CHAIN: 0x1e,
  STALL_FRONTEND: 0x23,
  STALL_BACKEND: 0x24,
} as const;

/**
 * PMCEID0_EL0 / PMCEID1_EL0 as the guest reads them (`kvm_pmu_get_pmceid`:
 * bit n of the low word of PMCEID0 is common event n, of PMCEID1 event
 * 32 + n; the high words, events 0x4000 on, are 0): the events of
 * {@link PmuEvent}.
 */
export const PMCEID: readonly [number, number] = (() => {
  const w = [0, 0];
  for (const e of Object.values(PmuEvent)) w[e >> 5] |= 1 << (e & 31);
  return [w[0] >>> 0, w[1] >>> 0];
})();

/**
 * The events KVM_ARM_VCPU_PMU_V3_FILTER ranges over: evtCount's 16 bits on
 * the model's PMUv3p5 host (`__kvm_pmu_event_mask` + 1).
 *
 * @example
 * ```ts
 * PMU_NR_EVENTS; // 0x10000
 * ```
 */
export const PMU_NR_EVENTS = 0x1_0000;

/**
 * `struct kvm_pmu_event_filter`'s actions (`arch/arm64/include/uapi/asm/kvm.h`).
 *
 * @example
 * ```ts
 * PmuFilterAction.DENY; // 1
 * ```
 */
export const PmuFilterAction = { ALLOW: 0, DENY: 1 } as const;

/** PMEVTYPER / PMCCFILTR's P bit: not counted at EL1. */
export const PMEVTYPER_P = 0x8000_0000;
/** PMEVTYPER / PMCCFILTR's U bit: not counted at EL0. */
export const PMEVTYPER_U = 0x4000_0000;
/** PMEVTYPER<n>_EL0.evtCount: bits [15:0] (PMUv3p1 and later). */
const EVT_COUNT_MASK = 0xffff;
/** What PMEVTYPER keeps (`kvm_pmu_evtyper_mask` for a guest without EL2 or EL3). */
const EVTYPER_MASK = (PMEVTYPER_P | PMEVTYPER_U | EVT_COUNT_MASK) >>> 0;
/** What PMCCFILTR keeps: its filter bits (evtCount is RES0 there). */
const CCFILTR_MASK = (PMEVTYPER_P | PMEVTYPER_U) >>> 0;
/** PMSELR_EL0.SEL [4:0]. */
const SEL_MASK = 0x1f;
/** The bits PMCR_EL0 writes keep (E, D, X, DP, LC, LP); P and C act and read 0. */
const PMCR_WRITABLE = PmcrBits.E | PmcrBits.D | PmcrBits.X | PmcrBits.DP | PmcrBits.LP;
const CYCLE_BIT = 0x8000_0000;
const U32 = 0xffff_ffffn;
const U64 = (1n << 64n) - 1n;

/**
 * What KVM's `reset_unknown` writes into a system register whose reset value
 * the architecture leaves UNKNOWN (`arch/arm64/kvm/sys_regs.h`); the PMU's
 * reset hooks then mask it to the register's fields.
 *
 * @example
 * ```ts
 * KVM_RESET_UNKNOWN & 0xffff_ffffn; // 0xdbadc0den: PMEVCNTR<n>_EL0 after a vCPU reset
 * ```
 */
export const KVM_RESET_UNKNOWN = 0x1de7_ec7e_dbad_c0den;

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
  /** PMCR_EL0.N: the event counters the VM has (KVM's `nr_pmu_counters`). */
  #nr = PMU_PMCR_N;
  /** PMCNTENSET_EL0. */
  cnten = 0;
  /** PMINTENSET_EL1. */
  inten = 0;
  /** PMOVSSET_EL0. */
  ovs = 0;
  /** PMSELR_EL0.SEL. */
  pmselr = 0;
  /** PMEVTYPER<n>_EL0 (the host's counters; the VM's are the first N). */
  readonly evtyper: number[] = new Array(PMU_PMCR_N).fill(0);
  /** PMEVCNTR<n>_EL0, 64 bits. */
  readonly counter: bigint[] = new Array(PMU_PMCR_N).fill(0n);
  /** PMCCNTR_EL0, 64 bits. */
  ccntr = 0n;
  /** PMCCFILTR_EL0. */
  ccfiltr = 0;
  /** The level last given to `output`. */
  line = false;
  /** The overflow PPI the VMM gave (KVM's `pmu.irq_num`, KVM_ARM_VCPU_PMU_V3_IRQ), or -1. */
  irq: number = -1;
  /** KVM_ARM_VCPU_PMU_V3_INIT done (`pmu.created`): the PPI is the PMU's and its level is driven. */
  created = false;
  /**
   * The VM's event filter (`kvm->arch.pmu_filter`, shared by every vCPU's
   * PMU): bit e of the {@link PMU_NR_EVENTS}-bit map lets event e count;
   * null (no KVM_ARM_VCPU_PMU_V3_FILTER yet) lets every event count.
   */
  filter: Uint8Array | null = null;

  /** A vPMU whose overflow interrupt drives `output`. */
  constructor(readonly output: (level: boolean) => void) {}

  /**
   * The registers as `kvm_reset_vcpu` leaves them (`kvm_reset_sys_regs` with
   * sys_regs.c's reset hooks; the first KVM_ARM_VCPU_INIT and every later
   * one): PMCR_EL0 LC alone (`reset_pmcr`; N is the VM's and stays);
   * PMCNTENSET, PMINTENSET and PMOVSSET {@link KVM_RESET_UNKNOWN} masked to
   * the counters that exist (`reset_pmu_reg`), so counters 1-4 and the cycle
   * counter come up enabled, flagged and interrupt-enabled with N 6; each
   * PMEVCNTR its low 32 bits (`reset_pmevcntr`); each PMEVTYPER it masked to
   * P, U and evtCount (`reset_pmevtyper`: event 0xc0de, not counted at EL0 or
   * EL1); PMSELR.SEL 0x1e (`reset_pmselr`); PMCCNTR all 64 bits
   * (`reset_unknown`); PMCCFILTR 0 (`reset_val`). With E clear nothing counts
   * and the overflow line is low until the guest sets E.
   */
  reset(): void {
    const u = Number(KVM_RESET_UNKNOWN & U32);
    this.#pmcr = PmcrBits.LC;
    const m = this.validMask;
    this.cnten = (u & m) >>> 0;
    this.inten = (u & m) >>> 0;
    this.ovs = (u & m) >>> 0;
    this.pmselr = u & SEL_MASK;
    this.evtyper.fill((u & EVTYPER_MASK) >>> 0);
    this.counter.fill(BigInt(u));
    this.ccntr = KVM_RESET_UNKNOWN;
    this.ccfiltr = 0;
    this.#update();
  }

  /** Feeds `h` the state, for `scn explore`. */
  hashPrivate(h: StateHash): void {
    h.n(this.#pmcr);
    h.n(this.#nr);
    h.n(this.cnten);
    h.n(this.inten);
    h.n(this.ovs);
    h.n(this.pmselr);
    h.n(this.ccfiltr);
    h.n(this.irq);
    h.bool(this.created);
    h.words(this.evtyper);
    for (const c of this.counter) (h.n(Number(c & U32)), h.n(Number(c >> 32n)));
    h.n(Number(this.ccntr & U32));
    h.n(Number(this.ccntr >> 32n));
  }

  /** PMCR_EL0.N: the event counters the guest has. */
  get nr(): number {
    return this.#nr;
  }

  /**
   * Sets PMCR_EL0.N (KVM's VM-wide `nr_pmu_counters`); the bit masks drop
   * the counters that are gone.
   */
  set nr(n: number) {
    this.#nr = n;
    const m = this.validMask;
    this.cnten = (this.cnten & m) >>> 0;
    this.inten = (this.inten & m) >>> 0;
    this.ovs = (this.ovs & m) >>> 0;
    this.#update();
  }

  /** The counters that exist: bits 0..N-1 and the cycle counter's 31 (`kvm_pmu_valid_counter_mask`). */
  get validMask(): number {
    return (((1 << this.#nr) - 1) | CYCLE_BIT) >>> 0;
  }

  /** Whether counter `idx` exists (an event counter below N, or the cycle counter): `pmu_counter_idx_valid`. */
  counterValid(idx: number): boolean {
    return idx < this.#nr || idx === PMU_CYCLE_IDX;
  }

  /** PMCR_EL0 as read. */
  get pmcr(): number {
    return (this.#pmcr | (this.#nr << PmcrBits.N_SHIFT) |
      (PMU_PMCR_IMP << PmcrBits.IMP_SHIFT)) >>>
      0;
  }

  /** Reads one of the 32-bit registers addressed by name. */
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
      case "pmselr":
        return this.pmselr;
      case "pmccfiltr":
        return this.ccfiltr;
      case "pmceid0":
        return (PMCEID[0] & this.#filterWord(0)) >>> 0;
      case "pmceid1":
        return (PMCEID[1] & this.#filterWord(32)) >>> 0;
      case "pmswinc":
        return 0;
    }
  }

  /** Writes one of the 32-bit registers addressed by name (the guest's MSR). */
  write(name: PmuRegisterName, value: number): void {
    const v = (value & this.validMask) >>> 0;
    switch (name) {
      case "pmcr":
        this.#pmcr = (value & PMCR_WRITABLE) | PmcrBits.LC;
        if ((value & PmcrBits.P) !== 0) this.counter.fill(0n);
        if ((value & PmcrBits.C) !== 0) this.ccntr = 0n;
        break;
      case "pmcntenset":
        this.cnten = (this.cnten | v) >>> 0;
        break;
      case "pmcntenclr":
        this.cnten = (this.cnten & ~v) >>> 0;
        break;
      case "pmintenset":
        this.inten = (this.inten | v) >>> 0;
        break;
      case "pmintenclr":
        this.inten = (this.inten & ~v) >>> 0;
        break;
      case "pmovsset":
        this.ovs = (this.ovs | v) >>> 0;
        break;
      case "pmovsclr":
        this.ovs = (this.ovs & ~v) >>> 0;
        break;
      case "pmselr":
        this.pmselr = value & SEL_MASK;
        break;
      case "pmccfiltr":
        this.ccfiltr = (value & CCFILTR_MASK) >>> 0;
        break;
      case "pmswinc":
        this.count(v, PmuEvent.SW_INCR);
        break;
      case "pmceid0":
      case "pmceid1":
        break;
    }
    this.#update();
  }

  /**
   * The VMM's KVM_SET_ONE_REG of PMCR_EL0 (`set_pmcr`): N becomes the VM's
   * when `nOk` (KVM: before the VM first runs and no more than the host
   * has; otherwise the N written is ignored and the call still succeeds);
   * E, D, X, DP and LP are kept (P and C do nothing from userspace).
   */
  setPmcrUser(value: number, nOk: boolean): void {
    const n = (value >>> PmcrBits.N_SHIFT) & PmcrBits.N_MASK;
    if (nOk && n <= PMU_PMCR_N) this.nr = n;
    this.#pmcr = (value & PMCR_WRITABLE) | PmcrBits.LC;
    this.#update();
  }

  /** The VMM's KVM_SET_ONE_REG of a SET bit-mask register (`set_pmreg`): only the counters that exist are kept. */
  setMaskUser(name: "pmcntenset" | "pmintenset" | "pmovsset", value: number): void {
    const v = (value & this.validMask) >>> 0;
    if (name === "pmcntenset") this.cnten = v;
    else if (name === "pmintenset") this.inten = v;
    else this.ovs = v;
    this.#update();
  }

  /** PMEVTYPER<idx>_EL0, or PMCCFILTR_EL0 for 31. */
  readEvtyper(idx: number): number {
    return idx === PMU_CYCLE_IDX ? this.ccfiltr : this.evtyper[idx];
  }

  /** PMEVTYPER<n>_EL0 write (PMCCFILTR_EL0 for 31), as KVM masks it. */
  writeEvtyper(n: number, value: number): void {
    if (n === PMU_CYCLE_IDX) this.ccfiltr = (value & CCFILTR_MASK) >>> 0;
    else this.evtyper[n] = (value & EVTYPER_MASK) >>> 0;
  }

  /** PMEVCNTR<idx>_EL0, or PMCCNTR_EL0 for 31 (64 bits). */
  readCounter(idx: number): bigint {
    return idx === PMU_CYCLE_IDX ? this.ccntr : this.counter[idx];
  }

  /** PMEVCNTR<n>_EL0 write, or PMCCNTR_EL0 for 31 (64 bits). */
  writeCounter(n: number, value: bigint): void {
    if (n === PMU_CYCLE_IDX) this.ccntr = value & U64;
    else this.counter[n] = value & U64;
  }

  /**
   * `k` occurrences of `event` on the event counters of `mask`
   * (`kvm_pmu_counter_increment` for SW_INCR and CHAIN, the perf counters
   * for the others): nothing unless PMCR_EL0.E; each enabled counter of
   * that event type counts, an overflow sets its PMOVSSET bit, and an even
   * counter's 32-bit overflow counts a CHAIN on its odd neighbour.
   */
  count(mask: number, event: number, k = 1): void {
    if ((this.#pmcr & PmcrBits.E) === 0) return;
    mask &= this.cnten;
    const byPerf = event !== PmuEvent.SW_INCR && event !== PmuEvent.CHAIN;
    // kvm_pmu_create_perf_event installs no perf event for a filtered-out event.
    if (byPerf && !this.allowed(event)) return;
    const wide = (this.#pmcr & PmcrBits.LP) !== 0;
    for (let i = 0; i < this.#nr; i++) {
      if ((mask & (1 << i)) === 0 || (this.evtyper[i] & EVT_COUNT_MASK) !== event) continue;
      if (byPerf && (this.evtyper[i] & PMEVTYPER_P) !== 0) continue;
      if (!this.#add(i, k, wide)) continue;
      this.ovs = (this.ovs | (1 << i)) >>> 0;
      if (!wide && (i & 1) === 0 && i + 1 < this.#nr) this.count(1 << (i + 1), PmuEvent.CHAIN);
    }
    this.#update();
  }

  /**
   * The vCPU retired `k` instructions in `k` cycles: INST_RETIRED and
   * CPU_CYCLES on the event counters, and the cycle counter (PMCNTENSET
   * bit 31, not filtered out at EL1 by PMCCFILTR_EL0.P; 64-bit overflow).
   */
  retire(k: number): void {
    if ((this.#pmcr & PmcrBits.E) === 0) return;
    this.count(this.validMask, PmuEvent.INST_RETIRED, k);
    this.count(this.validMask, PmuEvent.CPU_CYCLES, k);
    if ((this.cnten & CYCLE_BIT) === 0 || (this.ccfiltr & PMEVTYPER_P) !== 0) return;
    if (!this.allowed(PmuEvent.CPU_CYCLES)) return; // the cycle counter's perf event is CPU_CYCLES
    // As #add: in doubles while exact, where a 64-bit overflow cannot happen.
    const c = Number(this.ccntr);
    if (c + k <= Number.MAX_SAFE_INTEGER) {
      this.ccntr = BigInt(c + k);
      return;
    }
    const sum = this.ccntr + BigInt(k);
    this.ccntr = sum & U64;
    if (sum > U64) {
      this.ovs = (this.ovs | CYCLE_BIT) >>> 0;
      this.#update();
    }
  }

  /** Whether the VM's event filter lets `event` count (no filter: every event). */
  allowed(event: number): boolean {
    const f = this.filter;
    return f === null || (f[event >> 3] & (1 << (event & 7))) !== 0;
  }

  /**
   * The filter's bits for the 32 common events from `base`, which mask the
   * PMCEID word the guest reads (`kvm_pmu_get_pmceid`; the words' high
   * halves, events 0x4000 on, are 0 here anyway).
   */
  #filterWord(base: number): number {
    const f = this.filter;
    if (f === null) return -1;
    const i = base >> 3;
    return (f[i] | (f[i + 1] << 8) | (f[i + 2] << 16) | (f[i + 3] << 24)) >>> 0;
  }

  /** Adds `k` to event counter `i`; whether it overflowed (at 64 bits if `wide`, else 32). */
  #add(i: number, k: number, wide: boolean): boolean {
    const old = this.counter[i];
    // Every retired instruction counts: in doubles while exact (below 2^53, as the event
    // counters' reset value and most a guest writes are), one BigInt made, not five.
    const o = Number(old);
    if (o + k <= Number.MAX_SAFE_INTEGER) {
      this.counter[i] = BigInt(o + k);
      return !wide && (o % 0x1_0000_0000) + k > 0xffff_ffff;
    }
    const kk = BigInt(k);
    this.counter[i] = (old + kk) & U64;
    const m = wide ? U64 : U32;
    return (old & m) + kk > m;
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

/** The 32-bit PMU registers addressed by name. */
export type PmuRegisterName =
  | "pmcr"
  | "pmcntenset"
  | "pmcntenclr"
  | "pmintenset"
  | "pmintenclr"
  | "pmovsset"
  | "pmovsclr"
  | "pmswinc"
  | "pmselr"
  | "pmccfiltr"
  | "pmceid0"
  | "pmceid1";

/**
 * The 32-bit PMU registers a guest names, with their system register names
 * and access.
 *
 * @example
 * ```ts
 * PMU_REGISTERS.find((r) => r.name === "pmswinc")!.access; // "wo"
 * ```
 */
export const PMU_REGISTERS: ReadonlyArray<
  { name: PmuRegisterName; title: string; access: "rw" | "wo" | "ro"; doc: string }
> = [
  {
    name: "pmcr",
    title: "PMCR_EL0",
    access: "rw",
    doc:
      "control: E [0] enables, P [1] resets the event counters, C [2] the cycle counter, LP [7] 64-bit overflow; N [15:11] and IMP [31:24] read-only",
  },
  {
    name: "pmcntenset",
    title: "PMCNTENSET_EL0",
    access: "rw",
    doc: "counter enables (bit 31: the cycle counter): 1 sets",
  },
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
  {
    name: "pmselr",
    title: "PMSELR_EL0",
    access: "rw",
    doc: "SEL [4:0]: the counter PMXEVTYPER_EL0 and PMXEVCNTR_EL0 reach (31: the cycle counter)",
  },
  {
    name: "pmccfiltr",
    title: "PMCCFILTR_EL0",
    access: "rw",
    doc: "the cycle counter's filter: P [31] not at EL1, U [30] not at EL0",
  },
  {
    name: "pmceid0",
    title: "PMCEID0_EL0",
    access: "ro",
    doc: "common events 0x00-0x1f implemented (bit n: event n)",
  },
  {
    name: "pmceid1",
    title: "PMCEID1_EL0",
    access: "ro",
    doc: "common events 0x20-0x3f implemented (bit n: event 0x20 + n)",
  },
];
