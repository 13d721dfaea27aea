/**
 * The CPU side of x86 interrupt delivery for one vCPU: RFLAGS.IF, the
 * one-instruction STI / MOV SS shadow, HLT and its wake-up rules, NMI
 * latching and blocking until IRET, INIT and SIPI with KVM's MP states,
 * CR8, the MSRs the interrupt model owns (RDMSR / WRMSR with #GP), and the
 * order in which KVM looks for something to inject (NMI, then a Xen guest's
 * global callback vector, then the PIC through LINT0, then the local APIC).
 * Without an in-kernel irqchip (`irqchip userspace`) the vCPU takes what
 * KVM_INTERRUPT injected, reports interrupt windows and HLT as exits to
 * userspace, and has no LAPIC of its own.
 *
 * Sources: Intel SDM vol. 3, "Interrupt and Exception Handling" (masking
 * maskable interrupts, the STI and MOV SS shadows, NMI handling, HLT);
 * Linux `arch/x86/kvm/x86.c` (`kvm_check_and_inject_events`,
 * `kvm_vcpu_has_events`) and `irq.c` (`kvm_cpu_has_extint`,
 * `kvm_cpu_get_extint`: `kvm_xen_has_interrupt` comes before the PIC); Xen
 * `xen/arch/x86/hvm/irq.c` (`hvm_vcpu_has_pending_irq`: NMI, MCE, then the
 * callback vector while evtchn_upcall_pending is set, then vPIC, then
 * vLAPIC) and `hvm.c` (`hvm_interrupt_blocked`: only IF and the STI / MOV SS
 * shadow gate that vector; TPR applies to LAPIC sources only). INIT / SIPI:
 * SDM "MP Initialization Protocol" and "Wait-for-SIPI"; KVM `lapic.c`
 * (`kvm_apic_accept_events`), `x86.c` (`kvm_vcpu_reset`, `process_nmi`,
 * `kvm_arch_vcpu_create`: APs start UNINITIALIZED, the BSP RUNNABLE; every
 * vCPU RUNNABLE without an in-kernel irqchip), `vmx.c`
 * (`vmx_vcpu_deliver_sipi_vector`). CR8: `kvm_set_cr8` (bits 63:4
 * reserved, #GP). Userspace irqchip: `kvm_vcpu_ioctl_interrupt`
 * (`kvm_queue_interrupt`: injected whatever IF says),
 * `kvm_vcpu_ready_for_interrupt_injection`, `dm_request_for_irq_injection`,
 * `__kvm_emulate_halt`.
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import {
  BOUNDARY_HALTED,
  BOUNDARY_RESET,
  BOUNDARY_RUNNING,
  boundaryOf,
  type CpuModel,
  type Taken,
} from "../core/platform.ts";
import { hashTrace, type Trace } from "../core/trace.ts";
import { type GpFault, isGpFault, type Lapic } from "./lapic.ts";
import type { GuestTsc } from "./guest_tsc.ts";
import { ApicBaseBit, IA32_TSC_MSR, X2APIC_MSR_BASE, X2APIC_MSR_LAST } from "./lapic_registers.ts";
import { KvmExit, KvmRun, MpState } from "./kvm_run.ts";
import type { HvVcpu } from "./hyperv_vcpu.ts";
import { type KvmPvEoi, MSR_KVM_PV_EOI_EN } from "./kvm_pv_eoi.ts";
import { maybePvMsr, type PvCpuid, pvMsr, pvMsrRefusal } from "./kvm_pv_features.ts";
import { isMceMsr, McBanks, MCE_BITS } from "./mce.ts";
import { IA32_TSC_ADJUST_MSR, type KvmTsc } from "./tsc.ts";
import { type KvmClock, MSR_KVM_SYSTEM_TIME, MSR_KVM_SYSTEM_TIME_NEW } from "./kvmclock.ts";
import type { StateHash } from "../core/platform.ts";
import { testVector } from "../core/vector_set.ts";
import {
  DE_VECTOR,
  describeException,
  DF_VECTOR,
  exceptionSpec,
  GP_VECTOR,
  idtErrorCode,
  MC_VECTOR,
  mergeExceptions,
  NP_VECTOR,
  OF_VECTOR,
  UD_VECTOR,
} from "./exceptions.ts";

/** Where a vCPU's ExtINT (PIC) interrupts come from. */
export interface ExtIntSource {
  /** INTR is asserted. */
  intr(): boolean;
  /** The INTA cycle: returns the vector. */
  acknowledge(): number;
}

/**
 * An ExtINT source holding one vector until an INTA takes it: the vector
 * KVM_INTERRUPT queues for a vCPU of a split irqchip (KVM holds one and
 * injects it as ExtINT when LVT0 accepts ExtINT), and a PIC stand-in in
 * tests.
 *
 * @example
 * ```ts
 * const held = new HeldExtInt();
 * held.vector = 0x20;
 * held.acknowledge(); // 0x20, and INTR is down
 * ```
 */
export class HeldExtInt implements ExtIntSource {
  /** The vector INTA returns, or -1: INTR is low. */
  vector = -1;
  /** Whether INTR is up. */
  intr(): boolean {
    return this.vector >= 0;
  }
  /** INTA: the vector, once. */
  acknowledge(): number {
    const v = this.vector;
    this.vector = -1;
    return v;
  }
}

/**
 * What a hypervisor model adds to a vCPU (`lib/xen` for Xen guests): a
 * vector source that bypasses the LAPIC, wake-ups and VM exits.
 *
 * @example
 * ```ts
 * import { XenDomain } from "../xen/domain.ts";
 * declare const cpu: X86Cpu, domain: XenDomain;
 * cpu.hv = { globalVector: (n) => domain.globalVector(n), woken: () => {}, vmExit: () => {} };
 * ```
 */
export interface HypervisorHooks {
  /** The vector offered to vCPU `n` at its next entry with no IRR/ISR bit, or -1. */
  globalVector(n: number): number;
  /** vCPU `n` was halted (HLT or a blocking hypercall) and takes an interrupt. */
  woken(n: number): void;
  /** vCPU `n` leaves guest mode: a trapping instruction, before its effect. */
  vmExit(n: number): void;
  /**
   * A WRMSR the hypervisor owns (the hypercall-page MSR): null when done,
   * the reason for a #GP, or undefined when the MSR is not the hypervisor's.
   */
  wrmsr?(n: number, msr: number, value: bigint): string | null | undefined;
  /**
   * A Xen PV guest's upcall is due on vCPU `n`: Xen bounces it to its event
   * callback whatever RFLAGS.IF says (the guest masks events in vcpu_info).
   */
  pvUpcallDue?(n: number): boolean;
  /** The bounce is made: returns the saved evtchn_upcall_mask, which Xen then sets. */
  pvEnterCallback?(n: number): number;
  /** HYPERVISOR_iret from the callback: the mask from the frame's RFLAGS.IF. */
  pvIret?(n: number, rflagsIf: boolean): void;
  /**
   * vCPU `n`, not halted, is at an instruction boundary: work the
   * hypervisor does before entering the guest (KVM's requests, serviced in
   * `vcpu_enter_guest`). Returns whether anything changed.
   */
  enter?(n: number): boolean;
  /**
   * vCPU `n`'s thread is outside KVM_RUN (kvm-xen's `kvm userspace_exit` /
   * `kvm sched_out`): it executes and takes nothing, and KVM's requests
   * wait for its entry.
   */
  outside?(n: number): boolean;
}

/** The one-instruction interrupt shadow a vCPU may be in. */
export type Shadow = "none" | "sti" | "mov_ss";

/** The shadows by their code in X86Cpu's shadow state (the model's own, not KVM's bits). */
const SHADOWS: readonly Shadow[] = ["none", "sti", "mov_ss"];
/** The shadow state's kind bits, and its two kinds. */
const SHADOW_KIND = 3, SHADOW_STI = 1, SHADOW_MOV_SS = 2;
/** The shadow state's bit for a shadow set by the instruction retiring now (its top bit). */
const SHADOW_FRESH = 4;

/**
 * How a vCPU is built: capability and VM-level choices.
 *
 * @example
 * ```ts
 * import { I8259Pair } from "./i8259.ts";
 * import { Lapic } from "./lapic.ts";
 * import { Trace } from "../../mod.ts";
 * declare const lapic: Lapic, pic: I8259Pair, trace: Trace;
 * const ap = new X86Cpu(1, lapic, pic, trace, { waitForSipi: true }); // KVM_MP_STATE_UNINITIALIZED
 * ```
 */
export interface X86CpuOptions {
  /**
   * The vCPU's TSC rate (KVM_SET_TSC_KHZ): RDMSR of IA32_TSC reads it.
   * Absent: the host's 1 GHz, the model's ns.
   */
  tsc?: GuestTsc;
  /**
   * KVM has a LAPIC for this vCPU (irqchip kernel or split). False for
   * `irqchip userspace`: then only KVM_INTERRUPT and KVM_NMI reach the vCPU,
   * interrupt windows and HLT exit to userspace, and LAPIC MSRs #GP.
   * Default true.
   */
  lapicInKernel?: boolean;
  /**
   * KVM has the PIC (irqchip kernel). Without it (split, userspace) KVM
   * honours `request_interrupt_window`. Default: `lapicInKernel`.
   */
  picInKernel?: boolean;
  /**
   * Start in KVM_MP_STATE_UNINITIALIZED, waiting for INIT and SIPI (KVM's
   * state for an AP of a VM with an in-kernel irqchip). Default false:
   * RUNNABLE, as if firmware had already started it.
   */
  waitForSipi?: boolean;
  /** Virtual time in ns, which is the TSC (1 GHz). Absent: the TSC reads 0. */
  now?: () => number;
  /** The `struct kvm_run` to report exits in (the VM shares it with the split EOI listener). */
  run?: KvmRun;
  /** The guest runs in 64-bit mode (INTO is #UD there); false: 32-bit protected mode. Default true. */
  longMode?: boolean;
  /**
   * KVM's Hyper-V state of this vCPU (the VMM set the Hyper-V CPUID), whose
   * MSRs it then has. Default none.
   */
  hyperv?: HvVcpu;
  /**
   * KVM's PV EOI state of this vCPU (MSR_KVM_PV_EOI_EN, which Hyper-V's VP
   * assist page shares). Default none: the MSR #GPs (Xen has no such MSR).
   */
  pvEoi?: KvmPvEoi;
  /**
   * The vCPU enters the guest after it was blocked in the kernel (HLT,
   * INIT / SIPI): KVM services the requests that did not wake it
   * (KVM_REQ_SCAN_IOAPIC) before any injection. Default: nothing to do.
   */
  entered?: (n: number) => void;
  /**
   * KVM's `vcpu->arch.pv_cpuid` of this vCPU, read at each PV MSR access
   * (KVM_CAP_ENFORCE_PV_FEATURE_CPUID). Default none: no KVM PV MSRs (Xen).
   */
  pvCpuid?: () => PvCpuid;
  /**
   * KVM's TSC offset and IA32_TSC_ADJUST of this vCPU (lib/x86/tsc.ts).
   * Default none: the TSC reads the virtual time, IA32_TSC writes and
   * IA32_TSC_ADJUST are not modelled (Xen; a VM with Hyper-V or Xen time
   * pages, which would not follow the TSC).
   */
  tscRegs?: KvmTsc;
  /** KVM's kvmclock of this vCPU (MSR_KVM_SYSTEM_TIME_NEW, lib/x86/kvmclock.ts). Default none (Xen). */
  kvmclock?: KvmClock;
}

/**
 * Where the hooks for `scn explore` write a vCPU's numbers to feed them in
 * one call (`StateHash.block`), each hook before it calls another's.
 */
const HASHED = new Int32Array(16);

/** CR4.MCE (bit 6): machine-check exceptions enabled. */
const CR4_MCE = 1n << 6n;

/**
 * What a vCPU command returns for an instruction that raised #GP: -13
 * (#GP is exception vector 13). MSR values are unsigned and CR8 writes
 * return 0, so it cannot be mistaken for a result. Scenarios write it `GP`.
 * The #GP(0) itself is delivered to the guest too (vector 13 at the next
 * boundary), whose handler returns past the instruction.
 *
 * @example
 * ```ts
 * declare const cpu: X86Cpu;
 * const r = cpu.wrmsr(0x830, 1n << 13n); // GP_FAULT: ICR bit 13 is reserved
 * ```
 */
export const GP_FAULT = -13;

/**
 * What a vCPU command returns for an instruction that raised #UD and that
 * the test suites step past (an exception fixup, KVM_ASM_SAFE): -6 (#UD
 * is vector 6). Scenarios write it `UD`; the #UD is delivered too.
 *
 * @example
 * ```ts
 * UD_FAULT; // -6
 * ```
 */
export const UD_FAULT = -6;

/** KVM_MP_STATE values a vCPU holds itself; HALTED is derived from HLT. */
/** KVM_MP_STATE_AP_RESET_HOLD: valid for KVM_SET_MP_STATE on x86, not modelled. */
const MP_STATE_AP_RESET_HOLD = 9;
/**
 * Shut down by a triple fault: KVM leaves mp_state RUNNABLE and exits with
 * KVM_EXIT_SHUTDOWN; the vCPU executes nothing more until INIT.
 */
const MP_SHUTDOWN = -1;

type OwnMpState =
  | typeof MpState.Runnable
  | typeof MpState.Uninitialized
  | typeof MpState.InitReceived
  | typeof MP_SHUTDOWN;

/** {@link Shadow} as the two bits X86Cpu.hashFields feeds: 0 for no value of the type. */
function shadowBits(s: Shadow): number {
  return s === "none" ? 1 : s === "sti" ? 2 : s === "mov_ss" ? 3 : 0;
}

/** Real-mode reset state of CS and RIP (SDM "Processor State After Reset"; KVM `kvm_vcpu_reset`). */
const RESET_CS_SELECTOR = 0xf000;
const RESET_CS_BASE = 0xffff0000;
const RESET_RIP = 0xfff0;

const FRAME_IF = 1;
/**
 * X86Cpu.#rare's bits, one per rare source of an instruction boundary, each
 * kept by its field's setter (RARE_ODD by the gates and PV EOI).
 */
const RARE_ODD = 1, RARE_MP = 2, RARE_INT = 4, RARE_INJECTED = 8, RARE_EXCEPTION = 16;
const RARE_HV = 32;
const FRAME_NMI = 2;
/** A Xen PV event-callback frame; with FRAME_EVENTS_ON its saved mask was clear. */
const FRAME_EVENT = 4;
const FRAME_EVENTS_ON = 8;
/** The handler's frame holds an error code, in the bits from FRAME_CODE_SHIFT up. */
const FRAME_ERROR = 16;
/** Multiplier, not a shift: an error code is 32 bits and the word a double (2^53). */
const FRAME_CODE_SHIFT = 32;

/**
 * One x86 vCPU as the interrupt logic sees it.
 *
 * @example
 * ```ts
 * import { Lapic } from "./lapic.ts";
 * import { Trace } from "../../mod.ts";
 * declare const lapic: Lapic, trace: Trace;
 * const cpu = new X86Cpu(0, lapic, null, trace);
 * cpu.sti();
 * cpu.retire();        // the instruction after STI ends the shadow
 * if (cpu.canTake()) cpu.take();
 * ```
 */
export class X86Cpu implements CpuModel {
  /** Declared first, where the public field was: the fields the fast paths read keep their places. */
  readonly #name: string;
  /**
   * `vcpuN`, N its index. Fixed at creation: an accessor rather than a
   * field, so that `scn explore`'s fingerprint need not hash it at every state.
   */
  get name(): string {
    return this.#name;
  }
  /**
   * INIT, SIPI and NMI latching (`service`), the end of a shadow or an
   * interrupt window (`retire`) and IRET touch only this vCPU, its LAPIC
   * and its kvm_run (CpuModel).
   */
  get ownBoundaries(): boolean {
    return true;
  }
  /** RFLAGS.IF. Reset clears it (RFLAGS = 0x2). */
  interruptFlag = false;
  /** The interrupt shadow the vCPU is in (STI or MOV SS), or "none". */
  get shadow(): Shadow {
    return SHADOWS[this.#shadowState & SHADOW_KIND];
  }
  /**
   * Sets the shadow's kind; whether the instruction retiring now set it stays as it was, and
   * "none" ends the shadow whoever set it (no shadow is always the state 0).
   */
  set shadow(s: Shadow) {
    this.#shadowState = s === "none" ? 0 : (this.#shadowState & SHADOW_FRESH) | SHADOWS.indexOf(s);
  }
  /** An NMI handler is running: further NMIs wait for its IRET. */
  nmiBlocked = false;
  /** CS.selector: the reset value, or what the last SIPI set (the model runs no code). */
  csSelector = RESET_CS_SELECTOR;
  /** CS.base: the reset value, or what the last SIPI set. */
  csBase = RESET_CS_BASE;
  /** RIP: the reset value, or 0 after a SIPI (the model does not advance it). */
  rip = RESET_RIP;
  #injected = -1;
  /**
   * Without an in-kernel LAPIC: the vector KVM_INTERRUPT queued
   * (`kvm_queue_interrupt`), injected at the next entry whatever IF says; -1
   * when none.
   */
  get injected(): number {
    return this.#injected;
  }
  set injected(v: number) {
    this.#injected = v;
    this.#rare = v >= 0 ? this.#rare | RARE_INJECTED : this.#rare & ~RARE_INJECTED;
  }
  /** How many #GP faults this vCPU's instructions raised. */
  gpFaults = 0;
  /**
   * The instruction just executed raised a fault (CpuModel): it did not
   * complete, and executes again once the exception's handler returns.
   * The engine clears it when it has arranged that.
   */
  faulted = false;
  /** RFLAGS.OF, as the last `add` left it. */
  overflowFlag = false;
  /** 64-bit mode; false: 32-bit protected mode (see {@link X86CpuOptions.longMode}). */
  readonly longMode: boolean;
  /** The vCPU's `struct kvm_run`: exits to userspace. */
  readonly run: KvmRun;
  /** KVM has a LAPIC for this vCPU (see {@link X86CpuOptions.lapicInKernel}). */
  readonly lapicInKernel: boolean;
  /** KVM has the PIC (see {@link X86CpuOptions.picInKernel}). */
  readonly picInKernel: boolean;
  /** Frames of interrupts being handled, innermost last: saved IF and whether it was an NMI. */
  readonly #frames: number[] = [];
  /**
   * What {@link X86Cpu.take} returns, refilled by every take: the engine reads it before
   * the next one, and a round trip allocates nothing.
   */
  readonly #taken: Taken = { kind: "vector", vector: -1, cause: 0, event: 0 };
  /**
   * The shadow as one small integer: its kind ({@link SHADOWS}' index) in the low bits, and
   * {@link SHADOW_FRESH} when the instruction retiring now set it, so that it still covers the
   * next one. One integer, so that `retire` moves it on with one store and no branch: a branch
   * taken only at a run's start (STI's retire, the shadow's end) has no type feedback (V8
   * collects none in a function's first calls), and the next run taking it threw away the
   * optimized code that had inlined `retire` (the settling loop's, the command call's).
   */
  #shadowState = 0;
  #intVector = -1;
  /** The vector of an INT n being executed, taken at the next boundary; -1 when none. */
  get #softwareVector(): number {
    return this.#intVector;
  }
  set #softwareVector(v: number) {
    this.#intVector = v;
    this.#rare = v >= 0 ? this.#rare | RARE_INT : this.#rare & ~RARE_INT;
  }
  /** Halted by HLT (or a blocking hypercall). */
  #halted = false;
  #mpOwn: OwnMpState = MpState.Runnable;
  get #mp(): OwnMpState {
    return this.#mpOwn;
  }
  set #mp(state: OwnMpState) {
    this.#mpOwn = state;
    this.#rare = state !== MpState.Runnable ? this.#rare | RARE_MP : this.#rare & ~RARE_MP;
  }
  /** CR8 without an in-kernel LAPIC (KVM keeps it in `vcpu->arch.cr8`). */
  #cr8 = 0;
  /**
   * The exception to deliver at the next boundary, before anything else
   * (KVM's `vcpu->arch.exception`), or -1.
   */
  #exPending = -1;
  get #exVector(): number {
    return this.#exPending;
  }
  set #exVector(v: number) {
    this.#exPending = v;
    this.#rare = v >= 0 ? this.#rare | RARE_EXCEPTION : this.#rare & ~RARE_EXCEPTION;
  }
  /** Its error code, or -1 when it pushes none. */
  #exErrorCode = -1;
  /** KVM's `exception.injected` (KVM_SET_VCPU_EVENTS put it there) rather than `pending`. */
  #exInjected = false;
  /** Not raised by INT n: a fault while delivering it sets the error code's EXT bit. */
  #exExternal = true;
  /**
   * #GPs of instructions that completed while an earlier exception still
   * waited for a boundary (statements outside `run`), queued one by one
   * as each handler returns (see `#deliverGp`).
   */
  #gpHeld = 0;
  /**
   * KVM's `vcpu->arch.exception` vector, has_error_code and error_code:
   * the last exception queued or set by KVM_SET_VCPU_EVENTS. Delivery
   * clears only pending and injected (`kvm_clear_exception_queue`), so
   * KVM_GET_VCPU_EVENTS goes on reporting them. 0 at creation.
   */
  #lastExVector = 0;
  #lastExHasCode = false;
  #lastExCode = 0;
  /** 1 for each IDT gate whose P bit the guest cleared. */
  readonly #gateAbsent = arenaU8(256);
  /** How many gates are not present: 0 keeps every take on the fast path. */
  #gatesAbsent = 0;
  /**
   * The rare sources of an instruction boundary, a bit each (RARE_*): not 0
   * while the vCPU is not RUNNABLE, an INT n, a KVM_INTERRUPT vector or an
   * exception waits, a hypervisor is attached, or a gate is absent or PV EOI
   * is on ({@link X86Cpu.#pvEoiOn}). The fast take and boundary leave these to
   * the slow ones with one test. Each bit is kept by its field's setter, so
   * no writer can forget it (lib/x86/cpu_rare_test.ts).
   */
  #rare = 0;
  /** The interrupt window already exited for this opening (one exit per window). */
  #windowReported = false;
  readonly #now: () => number;
  /** The vCPU's Hyper-V MSRs, or null. */
  readonly #hyperv: HvVcpu | null;
  #mce: McBanks | null = null;
  /** KVM's PV EOI state (MSR_KVM_PV_EOI_EN), or null (Xen). */
  readonly pvEoi: KvmPvEoi | null;
  readonly #tscRegs: KvmTsc | null;
  readonly #kvmclock: KvmClock | null;
  /** {@link X86CpuOptions.kvmclock}, or null. An accessor: hashPrivate feeds its MSR. */
  get kvmclock(): KvmClock | null {
    return this.#kvmclock;
  }
  /**
   * KVM's TSC offset and IA32_TSC_ADJUST, or null (not modelled: see
   * {@link X86CpuOptions.tscRegs}). An accessor: hashPrivate feeds its registers.
   */
  get tscRegs(): KvmTsc | null {
    return this.#tscRegs;
  }
  /**
   * PV EOI is enabled or armed: takes and boundaries go the slow way, which
   * arms it at an injection and syncs it at a kick. One flag for the fast paths.
   */
  #pvEoiOn = false;
  /** CR4.MCE, the one CR4 bit the model has (KVM's CR4 is 0 at reset; INIT clears it). */
  cr4Mce = false;

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    h.value(this.lapic);
    h.value(this.extint);
    hashTrace(h, this.trace);
    // The numbers in one block (see HASHED); each fits 32 bits: CS and RIP
    // hold their reset values or what a SIPI set.
    const w = HASHED;
    w[0] = this.index;
    w[1] = this.csSelector;
    w[2] = this.csBase;
    w[3] = this.rip;
    w[4] = this.#injected;
    w[5] = this.gpFaults;
    // The flags as the bits of one word: fewer words at every state.
    w[6] = (this.interruptFlag ? 1 : 0) | (this.nmiBlocked ? 2 : 0) | (this.faulted ? 4 : 0) |
      (this.overflowFlag ? 8 : 0) | (this.longMode ? 16 : 0) | (this.lapicInKernel ? 32 : 0) |
      (this.picInKernel ? 64 : 0) | (this.hasRun ? 128 : 0) | (this.cr4Mce ? 256 : 0) |
      (this.#pvEoiWritten ? 512 : 0) | (this.#pvUnhalted ? 1024 : 0) |
      // The shadow as two bits, not a string hashed at every state.
      (shadowBits(this.shadow) << 11) |
      // No hypervisor hooks (the rule): a bit, not a null fed by a call.
      (this.#hooks !== null ? 1 << 13 : 0);
    h.block(w, 7);
    this.run.hashFields(h);
    if (this.#hooks !== null) h.value(this.#hooks);
    // PV EOI never written (the rule): a bit of the flags word, no bigint.
    if (this.#pvEoiWritten) this.pvEoi!.hashFields(h);
  }

  /** PV EOI's MSR is not 0, its flag is armed or an injection is cached: its state is hashed. */
  get #pvEoiWritten(): boolean {
    const pv = this.pvEoi;
    return pv !== null && (pv.pending || pv.msrVal !== 0n || pv.isrCache !== -1);
  }

  /**
   * Saves the vCPU's state (its LAPIC's and kvm_run's too) and returns a
   * function that puts it back, for `scn explore` (`VmModel.snapshot`);
   * null when the LAPIC cannot be saved or the machine-check registers
   * were set (KVM_X86_SETUP_MCE, SET_MCE, a WRMSR). Fixed at creation, not saved:
   * index, #name, trace, lapicInKernel, picInKernel, longMode, #now, #tsc (the VM saves its rate), #entered,
   * #kvmclock and #tscRegs (the objects; their registers are saved), #pvCpuid (a
   * reader of the VM's CPUID records, which the VM saves), hv, #hyperv (the VM's, which a VM with
   * a SynIC does not save); scratch: #taken (the last
   * take, copied out by the engine at once). #injected, #intVector, #mpOwn and
   * #exPending are saved through their accessors, #hooks is hv's; their setters
   * keep #rare's bits.
   */
  snapshot(): (() => void) | null {
    // The machine-check registers are not saved: a vCPU whose MCE state was set cannot be.
    if (this.#mce?.touched) return null;
    const lapic = this.lapic.snapshot();
    if (lapic === null) return null;
    const run = this.run.snapshot();
    const { interruptFlag, nmiBlocked, csSelector, csBase, rip } = this;
    const { injected, gpFaults, hasRun, extint, faulted, overflowFlag, cr4Mce } = this;
    const frames = [...this.#frames];
    const exVector = this.#exPending, exErrorCode = this.#exErrorCode;
    const exInjected = this.#exInjected, exExternal = this.#exExternal;
    const gpHeld = this.#gpHeld;
    // No gate absent (the rule): nothing to copy, the page is all zero.
    const gatesAbsent = this.#gatesAbsent;
    const gateAbsent = gatesAbsent === 0 ? null : this.#gateAbsent.slice();
    const lastExVector = this.#lastExVector, lastExHasCode = this.#lastExHasCode;
    const lastExCode = this.#lastExCode;
    const shadowState = this.#shadowState, softwareVector = this.#intVector;
    const halted = this.#halted, mp = this.#mpOwn, cr8 = this.#cr8;
    const windowReported = this.#windowReported;
    // Two scalars, no closure: a snapshot per state allocates nothing more for PV EOI.
    const pvMsr = this.pvEoi?.msrVal ?? 0n, pvPending = this.pvEoi?.pending ?? false;
    const pvCache = this.pvEoi?.isrCache ?? -1;
    const pvEoiOn = this.#pvEoiOn, pvUnhalted = this.#pvUnhalted;
    const tscOffset = this.#tscRegs?.offset ?? 0n, tscAdjust = this.#tscRegs?.adjust ?? 0n;
    const kvmclockMsr = this.#kvmclock?.msrVal ?? 0n;
    return () => {
      if (this.#kvmclock !== null) this.#kvmclock.msrVal = kvmclockMsr;
      lapic();
      run();
      const regs = this.#tscRegs;
      if (regs !== null) {
        regs.offset = tscOffset;
        regs.adjust = tscAdjust;
      }
      const pv = this.pvEoi;
      if (pv !== null) {
        pv.msrVal = pvMsr;
        pv.pending = pvPending;
        pv.isrCache = pvCache;
      }
      this.#pvEoiOn = pvEoiOn;
      this.#pvUnhalted = pvUnhalted;
      this.interruptFlag = interruptFlag;
      this.nmiBlocked = nmiBlocked;
      this.csSelector = csSelector;
      this.csBase = csBase;
      this.rip = rip;
      this.injected = injected;
      this.gpFaults = gpFaults;
      this.faulted = faulted;
      this.overflowFlag = overflowFlag;
      this.cr4Mce = cr4Mce;
      // Untouched when saved (else no snapshot): banks a later order set go back to reset.
      if (this.#mce !== null && this.#mce.touched) this.#mce = null;
      this.#exVector = exVector;
      this.#exErrorCode = exErrorCode;
      this.#exInjected = exInjected;
      this.#exExternal = exExternal;
      this.#gpHeld = gpHeld;
      this.#lastExVector = lastExVector;
      this.#lastExHasCode = lastExHasCode;
      this.#lastExCode = lastExCode;
      if (gateAbsent !== null) this.#gateAbsent.set(gateAbsent);
      else if (this.#gatesAbsent !== 0) this.#gateAbsent.fill(0);
      this.#gatesAbsent = gatesAbsent;
      this.#rare = (this.#rare & ~RARE_ODD) | (gatesAbsent !== 0 || pvEoiOn ? RARE_ODD : 0);
      this.hasRun = hasRun;
      this.extint = extint;
      // Mostly empty before and after (a restore per order).
      if (this.#frames.length > 0 || frames.length > 0) {
        this.#frames.length = 0;
        this.#frames.push(...frames);
      }
      this.#shadowState = shadowState;
      this.#softwareVector = softwareVector;
      this.#halted = halted;
      this.#mp = mp;
      this.#cr8 = cr8;
      this.#windowReported = windowReported;
    };
  }

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    const frames = this.#frames;
    const w = HASHED;
    w[0] = this.#intVector;
    w[1] = this.#mpOwn;
    w[2] = this.#cr8;
    w[3] = this.#exPending;
    w[4] = this.#exErrorCode;
    // A TSC never moved (the rule): a bit of the flags word, no bigint.
    const tscMoved = this.#tscRegs !== null && !this.#tscRegs.untouched;
    const kvmclockSet = this.#kvmclock !== null && this.#kvmclock.msrVal !== 0n;
    w[5] = ((this.#shadowState & SHADOW_FRESH) !== 0 ? 1 : 0) | (this.#halted ? 2 : 0) |
      (this.#windowReported ? 4 : 0) |
      (this.#exInjected ? 8 : 0) | (this.#exExternal ? 16 : 0) | (this.#lastExHasCode ? 32 : 0) |
      (tscMoved ? 64 : 0) | (kvmclockSet ? 128 : 0);
    w[6] = this.#gpHeld;
    w[7] = this.#lastExVector;
    w[8] = this.#lastExCode;
    w[9] = this.#gatesAbsent;
    w[10] = frames.length;
    h.block(w, 11);
    // A frame holds an error code above bit 31 (FRAME_CODE_SHIFT): by value, not as words.
    for (let i = 0; i < frames.length; i++) h.num(frames[i]);
    if (this.#gatesAbsent !== 0) h.value(this.#gateAbsent.join());
    if (tscMoved) this.#tscRegs!.hashInto(h);
    if (kvmclockSet) this.#kvmclock!.hashInto(h);
    // Untouched machine-check registers are the same in every state: one flag test.
    if (this.#mce !== null && this.#mce.touched) this.#mce.hashInto(h);
    this.lapic.hashPrivate(h);
  }
  #hooks: HypervisorHooks | null = null;
  /** Set for Xen guests (`hypervisor xen` or `kvm-xen`); null under plain KVM. */
  get hv(): HypervisorHooks | null {
    return this.#hooks;
  }
  set hv(hooks: HypervisorHooks | null) {
    this.#hooks = hooks;
    this.#rare = hooks !== null ? this.#rare | RARE_HV : this.#rare & ~RARE_HV;
  }

  constructor(
    readonly index: number,
    readonly lapic: Lapic,
    /** The PIC (kernel irqchip) or the vector queued by KVM_INTERRUPT (split); null when none. */
    public extint: ExtIntSource | null,
    readonly trace: Trace,
    options: X86CpuOptions = {},
  ) {
    this.#name = `vcpu${index}`;
    this.lapicInKernel = options.lapicInKernel ?? true;
    this.picInKernel = this.lapicInKernel && (options.picInKernel ?? true);
    // KVM: without an in-kernel irqchip every vCPU is RUNNABLE; with one, only the BSP.
    this.#mp = options.waitForSipi && this.lapicInKernel ? MpState.Uninitialized : MpState.Runnable;
    this.#now = options.now ?? (() => 0);
    this.#tsc = options.tsc ?? null;
    this.longMode = options.longMode ?? true;
    this.run = options.run ?? new KvmRun(this.name, trace);
    this.#hyperv = options.hyperv ?? null;
    this.pvEoi = options.pvEoi ?? null;
    this.#entered = options.entered ?? null;
    this.#pvCpuid = options.pvCpuid ?? null;
    this.#tscRegs = options.tscRegs ?? null;
    this.#kvmclock = options.kvmclock ?? null;
  }

  /**
   * Why KVM refuses this PV MSR access, or null: enforcement on and the
   * MSR's feature bit clear (`guest_pv_has`), or a PV MSR KVM takes that the
   * model does not have (an input error, thrown: no made-up value).
   */
  #pvMsrRefusal(msr: number): string | null {
    if (!maybePvMsr(msr) || this.#pvCpuid === null) return null;
    const m = pvMsr(msr);
    if (m === undefined) return null;
    const why = pvMsrRefusal(this.#pvCpuid!(), msr);
    if (
      why !== null || (msr === MSR_KVM_PV_EOI_EN && this.pvEoi !== null) ||
      ((msr === MSR_KVM_SYSTEM_TIME_NEW || msr === MSR_KVM_SYSTEM_TIME) && this.#kvmclock !== null)
    ) return why;
    throw new CommandInputError(
      `${m.name} (0x${msr.toString(16)}): KVM takes it (KVM_FEATURE_${m.feature} offered or not ` +
        "enforced), and the model does not have it",
    );
  }

  /** {@link X86CpuOptions.entered}, or null. */
  readonly #entered: ((n: number) => void) | null;

  // Declared last: fields the fast paths read keep their places in the object.
  /** {@link X86CpuOptions.pvCpuid}, or null. */
  readonly #pvCpuid: (() => PvCpuid) | null;
  /**
   * KVM's `vcpu->arch.pv.pv_unhalted`: a KVM_HC_KICK_CPU (APIC_DM_REMRD)
   * reached the vCPU while it was not halted; its next HLT does not halt.
   */
  #pvUnhalted = false;
  /** {@link X86CpuOptions.tsc}, or null (the host's 1 GHz). */
  readonly #tsc: GuestTsc | null;

  /** The vCPU left a blocked state: if it runs now, its entry services what waited. */
  #unblocked(): void {
    if (this.#entered !== null && !this.halted) this.#entered(this.index);
  }

  /**
   * MSR_KVM_PV_EOI_EN written, by the guest or the VMM (`kvm_set_msr_common`
   * -> `kvm_lapic_set_pv_eoi`): false where KVM fails the write (not 4-byte
   * aligned, or outside guest RAM), true otherwise; false without PV EOI (Xen).
   */
  setPvEoiMsr(value: bigint): boolean {
    if (this.pvEoi === null) return false;
    const ok = this.pvEoi.setMsr(value);
    this.#pvEoiChanged();
    return ok;
  }

  /**
   * The VMM's KVM_SET_MSRS of a Hyper-V MSR this vCPU has (host-initiated
   * `kvm_hv_set_msr_common`): true when set, false when KVM refuses it.
   */
  hypervHostWrmsr(msr: number, value: bigint): boolean {
    const r = this.#hyperv?.wrmsr(msr, value, true);
    // The VP assist page may have set or cleared PV EOI.
    this.#pvEoiChanged();
    return r === null;
  }

  /** Recomputes {@link X86Cpu.#pvEoiOn} after the PV EOI state changed. */
  #pvEoiChanged(): void {
    const p = this.pvEoi;
    this.#pvEoiOn = p !== null && (p.enabled || p.pending);
    this.#rare = (this.#rare & ~RARE_ODD) |
      (this.#gatesAbsent !== 0 || this.#pvEoiOn ? RARE_ODD : 0);
  }

  /**
   * KVM's work at this vCPU's exit (`kvm_lapic_sync_from_vapic`), for an
   * exit the guest makes ({@link X86Cpu.vmExit}), a kick, or a VMM ioctl
   * on the vCPU (which finds it outside the guest): an armed PV EOI the
   * guest took is the EOI now (`apic_set_eoi`); one it did not is disarmed.
   */
  syncFromGuest(): void {
    const p = this.pvEoi;
    if (p === null || !p.pending) return;
    if (p.syncAtExit()) this.lapic.eoi();
    this.#pvEoiChanged();
  }

  /**
   * A VMM ioctl made KVM_REQ_EVENT for this vCPU (KVM_SET_VCPU_EVENTS,
   * KVM_SET_MP_STATE, KVM_NMI through `process_nmi`): the
   * vCPU is outside the guest (its exit's PV EOI work done), and the entry
   * after the ioctl runs `kvm_lapic_sync_to_vapic`, which arms PV EOI again
   * for the vector still in KVM's highest-ISR cache (an NMI that NMI
   * blocking holds back included). A halted vCPU does not enter: nothing
   * then.
   */
  eventRequested(): void {
    if (!this.#pvEoiOn || this.halted) return;
    this.syncFromGuest();
    this.#pvEoiRearm();
  }

  /**
   * KVM_SET_LAPIC replaced the register page: `kvm_apic_update_apicv`
   * empties KVM's highest-ISR cache, so no later KVM_REQ_EVENT entry arms
   * PV EOI for a vector in service until an injection fills it again.
   */
  lapicRestored(): void {
    const p = this.pvEoi;
    if (p !== null) p.isrCache = -1;
  }

  /**
   * The guest's EOI with PV EOI (Linux `kvm_guest_apic_eoi_write`,
   * Hyper-V's `hv_apic_eoi_write`): test-and-clear bit 0 of the flag at
   * the PV EOI address; set, that was the EOI and nothing exits (returns
   * true); clear (or PV EOI off), the caller writes the EOI register.
   */
  pvEoiTaken(): boolean {
    const p = this.pvEoi;
    if (p === null || !p.enabled) return false;
    const mem = p.memory();
    const took = mem.testAndClearBit(p.address, 0);
    this.#emit(
      "pv_eoi",
      took ? "PV EOI flag was set: cleared, no exit" : "PV EOI flag clear: EOI register",
    );
    return took;
  }

  /**
   * The vCPU's machine-check registers (KVM's `vcpu->arch.mcg_cap`,
   * `mce_banks`, `mci_ctl2_banks`), made at first use.
   */
  get mce(): McBanks {
    return this.#mce ??= new McBanks();
  }

  /**
   * KVM_X86_SETUP_MCE: sets the vCPU's MCG_CAP ({@link McBanks.setup}) and,
   * with an in-kernel LAPIC, adds or removes LVT CMCI to follow MCG_CMCI_P
   * (`kvm_apic_after_set_mcg_cap`). Returns 0 or -EINVAL.
   */
  setupMce(mcgCap: bigint, supported?: bigint): number {
    const r = this.mce.setup(mcgCap, supported);
    if (r === 0 && this.lapicInKernel) this.lapic.setMcgCmci(this.mce.cmciP);
    return r;
  }

  /**
   * KVM_X86_SET_MCE ({@link McBanks.setMce}) with this vCPU's CR4.MCE: a
   * UCNA the bank signals goes through the in-kernel LAPIC's LVT CMCI; a
   * #MC is queued like any exception (`kvm_queue_exception(MC_VECTOR)`),
   * delivered through IDT vector 18 at the next boundary; a #MC while MCIP
   * is set or CR4.MCE is clear shuts the vCPU down (KVM_REQ_TRIPLE_FAULT).
   * Returns 0 or -EINVAL.
   */
  setMce(bank: number, status: bigint, addr: bigint, misc: bigint, mcgStatus: bigint): number {
    const r = this.mce.setMce(bank, status, addr, misc, mcgStatus, this.cr4Mce);
    if (r.signal === "cmci" && this.lapicInKernel) this.lapic.deliverCmci();
    else if (r.signal === "mc") {
      this.#emit("exception", `${describeException(MC_VECTOR, -1)}: KVM_X86_SET_MCE bank ${bank}`);
      this.#queueException(MC_VECTOR, -1, true);
      this.#resolveGates();
      // kvm_queue_exception makes KVM_REQ_EVENT: the entry injecting #MC re-arms PV EOI.
      if (this.#pvEoiOn) this.#pvEoiRearm();
    } else if (r.signal === "shutdown") {
      this.#tripleFault(
        MC_VECTOR,
        (this.mce.mcgStatus & MCE_BITS.MCG_STATUS_MCIP) !== 0n
          ? "#MC while MCG_STATUS.MCIP is set: triple fault, shutdown"
          : "#MC with CR4.MCE clear: triple fault, shutdown",
      );
    }
    return r.result;
  }

  /**
   * MOV to CR4 of the one bit the model has, MCE (bit 6, 0 at reset): it
   * decides whether KVM_X86_SET_MCE's #MC is delivered or shuts the vCPU
   * down. Any other bit is an input error.
   */
  movToCr4(value: bigint): number {
    if ((value & ~CR4_MCE) !== 0n) {
      throw new CommandInputError(
        `CR4 0x${value.toString(16)}: the model has only CR4.MCE (0x40) of CR4`,
      );
    }
    this.cr4Mce = value !== 0n;
    this.#emit("cr4", `CR4.MCE <- ${this.cr4Mce ? 1 : 0}`);
    return 0;
  }

  /** How deeply interrupt handlers are nested right now. */
  get depth(): number {
    return this.#frames.length;
  }

  /**
   * Executes nothing (CpuModel): halted by HLT, or not started (waiting for
   * INIT or SIPI). Setting it sets or clears the HLT state only.
   */
  get halted(): boolean {
    return this.#halted || this.#mpOwn !== MpState.Runnable;
  }
  set halted(value: boolean) {
    this.#halted = value;
  }

  /**
   * KVM_SET_MP_STATE (`kvm_arch_vcpu_ioctl_set_mpstate`): 0, or -EINVAL
   * (returned as -22) for a state other than RUNNABLE without an in-kernel
   * LAPIC, or one KVM does not know. SIPI_RECEIVED becomes INIT_RECEIVED
   * with a SIPI of `sipiVector` pending, as KVM sets KVM_APIC_SIPI.
   */
  setMpState(state: number, sipiVector = 0): number {
    // KVM accepts AP_RESET_HOLD too (SEV-ES); the model has no such state.
    if (state === MP_STATE_AP_RESET_HOLD) {
      throw new CommandInputError(
        "KVM_MP_STATE_AP_RESET_HOLD (9) is SEV-ES's AP reset hold, which the model does not have",
      );
    }
    const known = state === MpState.Runnable || state === MpState.Uninitialized ||
      state === MpState.InitReceived || state === MpState.Halted || state === MpState.SipiReceived;
    if (!known || (state !== MpState.Runnable && !this.lapicInKernel)) return -22;
    this.#halted = state === MpState.Halted;
    // kvm_set_mp_state: RUNNABLE clears pv_unhalted.
    if (state === MpState.Runnable) this.#pvUnhalted = false;
    if (state === MpState.SipiReceived) {
      this.#mp = MpState.InitReceived;
      this.lapic.sipiVector = sipiVector;
    } else {
      this.#mp = state === MpState.Halted ? MpState.Runnable : state as OwnMpState;
    }
    this.#emit("mp_state", `KVM_SET_MP_STATE ${state}: now ${this.mpState}`);
    // Runnable now: its next KVM_RUN enters.
    this.#unblocked();
    return 0;
  }

  /**
   * The vCPU has executed something, i.e. KVM_RUN has been called on it
   * (`kvm_vcpu_has_run`): KVM_SET_CPUID2 may no longer change its CPUID.
   */
  hasRun = false;

  /** Halted by HLT (or a blocking hypercall), whatever the MP state. */
  get hltHalted(): boolean {
    return this.#halted;
  }

  /**
   * Waits for INIT and SIPI or for a SIPI ({@link X86Cpu.mpState} UNINITIALIZED or
   * INIT_RECEIVED): the vCPU executes nothing. One read for every guest command's check.
   */
  get waitsForSipi(): boolean {
    const mp = this.#mpOwn;
    return mp === MpState.Uninitialized || mp === MpState.InitReceived;
  }

  /**
   * KVM_GET_MP_STATE: UNINITIALIZED or INIT_RECEIVED while the vCPU waits
   * for INIT / SIPI; HALTED after HLT with an in-kernel LAPIC (without one
   * HLT exits to userspace and the state stays RUNNABLE); else RUNNABLE.
   */
  get mpState(): MpState {
    if (this.#mpOwn === MP_SHUTDOWN) return MpState.Runnable;
    if (this.#mpOwn !== MpState.Runnable) return this.#mpOwn;
    return this.#halted && this.lapicInKernel ? MpState.Halted : MpState.Runnable;
  }

  /** CR8: TPR[7:4] of the in-kernel LAPIC, or the register itself without one. */
  get cr8(): number {
    return this.lapicInKernel ? this.lapic.cr8 : this.#cr8;
  }

  /** STI: sets IF; if IF was clear, the next instruction runs in the STI shadow. */
  sti(): void {
    if (!this.interruptFlag) this.#shadowState = SHADOW_FRESH | SHADOW_STI;
    this.interruptFlag = true;
    this.#emit(
      "sti",
      this.shadow === "sti"
        ? "IF=1 (interrupts blocked for one instruction)"
        : "IF=1 (already set)",
    );
  }

  /**
   * MOV SS (or POP SS): inhibits interrupts until the boundary after the
   * next instruction, whatever IF is (SDM Vol. 3A 6.8.3). Only the first of
   * consecutive SS loads is guaranteed a shadow, so one already running is
   * not extended.
   */
  movSs(): void {
    if (this.#shadowState === 0) this.#shadowState = SHADOW_FRESH | SHADOW_MOV_SS;
    this.#emit(
      "mov_ss",
      `SS loaded${this.shadow === "mov_ss" ? ": interrupts blocked for one instruction" : ""}`,
    );
  }

  /**
   * INT n: a software interrupt, taken through IDT entry `vector` at the
   * end of this instruction whatever IF and the shadows say; maskable
   * interrupts are not involved, so there is no IRR, ISR or EOI (SDM Vol.
   * 2A "INT n", Vol. 3A 6.4.2).
   */
  softwareInterrupt(vector: number): void {
    this.#emit("int", `INT 0x${vector.toString(16)}`);
    if (this.#gateAbsent[vector] !== 0) {
      // SDM "INT n" operation: a not-present trap or interrupt gate is #NP(vector*8+2), with
      // EXT clear as a software interrupt is no external event; the INT faults and runs again.
      this.raise(NP_VECTOR, idtErrorCode(vector, false), `IDT gate ${vector} not present`);
      return;
    }
    this.#softwareVector = vector;
  }

  /**
   * The instruction being executed raises exception `vector` with
   * `errorCode` (-1: none pushed): queued as KVM's pending exception,
   * merged with one already queued ({@link mergeExceptions}), and its IDT
   * gate checked at once (a not-present gate is #NP; #NP on #NP a double
   * fault, any fault delivering #DF a triple fault: KVM_EXIT_SHUTDOWN). A
   * fault leaves {@link X86Cpu.faulted} set: the instruction did not
   * complete and executes again after the handler; a trap completes.
   */
  raise(vector: number, errorCode: number, why: string, external = true): void {
    this.#emit("exception", `${describeException(vector, errorCode)}: ${why}`);
    this.#queueException(vector, errorCode, external);
    this.#resolveGates();
    if (exceptionSpec(vector).type === "fault" && this.#mpOwn !== MP_SHUTDOWN) this.faulted = true;
  }

  /**
   * The instruction being executed raises exception `vector` (no error
   * code) and the guest's fixup steps past it, as the test suites'
   * `KVM_ASM_SAFE` does: queued like {@link X86Cpu.raise}, but the
   * instruction counts as done, so it does not run again.
   */
  raiseSkipped(vector: number, why: string): void {
    this.#emit("exception", `${describeException(vector, -1)}: ${why}`);
    this.#queueException(vector, -1, true);
    this.#resolveGates();
    if (this.#pvEoiOn) this.#pvEoiRearm();
  }

  /**
   * DIV: the unsigned `dividend` (RDX:RAX, twice `size` bits) divided by
   * `divisor` (`size` bits). A zero divisor or a quotient wider than `size`
   * bits raises #DE, a fault (SDM vol. 2A "DIV"); then it returns undefined.
   * Otherwise the quotient (RAX).
   */
  div(dividend: bigint, divisor: bigint, size: number): bigint | undefined {
    if (divisor === 0n) {
      this.raise(DE_VECTOR, -1, "DIV by zero");
      return undefined;
    }
    const q = dividend / divisor;
    if (q >> BigInt(size) !== 0n) {
      this.raise(DE_VECTOR, -1, `DIV quotient 0x${q.toString(16)} wider than ${size} bits`);
      return undefined;
    }
    this.#emit(
      "div",
      `DIV 0x${dividend.toString(16)} / 0x${divisor.toString(16)} = 0x${q.toString(16)}`,
    );
    return q;
  }

  /**
   * ADD of two `size`-bit operands: the sum truncated to `size` bits, and
   * RFLAGS.OF set when both operands have one sign and the sum the other.
   */
  add(a: bigint, b: bigint, size: number): bigint {
    const bits = BigInt(size), sign = 1n << (bits - 1n);
    const r = (a + b) & ((1n << bits) - 1n);
    this.overflowFlag = (a & sign) === (b & sign) && (r & sign) !== (a & sign);
    this.#emit("add", `ADD -> 0x${r.toString(16)}, OF=${this.overflowFlag ? 1 : 0}`);
    return r;
  }

  /**
   * INTO: with RFLAGS.OF set, #OF, a trap (the INTO completes, the handler
   * returns past it), raised by the program itself, so a fault delivering
   * it leaves EXT clear; invalid in 64-bit mode, where it raises #UD, a
   * fault (SDM vol. 2A "INTn/INTO/INT3/INT1").
   */
  into(): void {
    if (this.longMode) {
      this.raise(UD_VECTOR, -1, "INTO is invalid in 64-bit mode");
      return;
    }
    if (!this.overflowFlag) {
      this.#emit("into", "INTO, OF=0: nothing");
      return;
    }
    this.raise(OF_VECTOR, -1, "INTO with OF=1", false);
  }

  /**
   * IRET through a frame the code built itself (PUSHF, CS, the address of
   * the next instruction, as kvm-unit-tests' `do_iret` does): RFLAGS come
   * back as they were, execution goes on with the next instruction, and
   * NMIs are no longer blocked, since any IRET ends the blocking an NMI
   * began (SDM vol. 3A 6.7.1). The handler's own frame stays for its end.
   */
  iret(): void {
    const was = this.nmiBlocked;
    this.nmiBlocked = false;
    this.#emit("iret", `IRET to the next instruction${was ? ": NMIs unblocked" : ""}`);
  }

  /**
   * The guest writes IDT entry `vector`'s P bit (a store to its IDT; the
   * model keeps no other gate field). Every gate starts present.
   */
  setGatePresent(vector: number, present: boolean): void {
    const absent = present ? 0 : 1;
    if (this.#gateAbsent[vector] === absent) return;
    this.#gateAbsent[vector] = absent;
    this.#gatesAbsent += present ? -1 : 1;
    this.#rare = (this.#rare & ~RARE_ODD) |
      (this.#gatesAbsent !== 0 || this.#pvEoiOn ? RARE_ODD : 0);
    this.#emit("idt", `IDT gate ${vector}: P=${present ? 1 : 0}`);
  }

  /** Whether IDT entry `vector` is present. */
  gatePresent(vector: number): boolean {
    return this.#gateAbsent[vector] === 0;
  }

  /** Shut down by a triple fault (KVM_EXIT_SHUTDOWN); INIT brings it back. */
  get shutdown(): boolean {
    return this.#mpOwn === MP_SHUTDOWN;
  }

  /** The exception queued for delivery (KVM's `vcpu->arch.exception.vector`), or -1. */
  get exceptionVector(): number {
    return this.#exPending;
  }

  /** Its error code, or -1 when it has none. */
  get exceptionErrorCode(): number {
    return this.#exErrorCode;
  }

  /**
   * What KVM_GET_VCPU_EVENTS reports in `exception.nr`, `has_error_code`
   * and `error_code`: the exception queued now, else the last one queued
   * or set, long delivered (KVM clears only pending and injected).
   */
  get reportedException(): { nr: number; hasErrorCode: boolean; errorCode: number } {
    return {
      nr: this.#lastExVector,
      hasErrorCode: this.#lastExHasCode,
      errorCode: this.#lastExCode,
    };
  }

  /**
   * KVM_SET_VCPU_EVENTS copies `exception.nr`, `has_error_code` and
   * `error_code` in whether or not it injects anything.
   */
  setReportedException(nr: number, hasErrorCode: boolean, errorCode: number): void {
    this.#lastExVector = nr;
    this.#lastExHasCode = hasErrorCode;
    this.#lastExCode = errorCode >>> 0;
  }

  /** It is `injected` (delivery begun, KVM_SET_VCPU_EVENTS) rather than `pending`. */
  get exceptionInjected(): boolean {
    return this.#exInjected;
  }

  /**
   * KVM_SET_VCPU_EVENTS' exception: `vector` injected (or pending, under
   * KVM_CAP_EXCEPTION_PAYLOAD) with `errorCode` (-1: none), delivered at
   * the next entry before anything else; -1 clears the queue.
   */
  setException(vector: number, errorCode: number, injected: boolean): void {
    this.#exVector = vector;
    this.#exErrorCode = vector >= 0 ? errorCode : -1;
    this.#exInjected = vector >= 0 && injected;
    this.#exExternal = true;
  }

  /**
   * KVM `kvm_multiple_exception`: queues `vector`, or, with one queued
   * already, a double fault or a triple fault in its place
   * ({@link mergeExceptions}). `external`: not INT n's own fault.
   */
  #queueException(vector: number, errorCode: number, external: boolean): void {
    if (this.#exPending >= 0) {
      const merged = mergeExceptions(this.#exPending, vector);
      if (merged === "triple") {
        this.#tripleFault(vector);
        return;
      }
      if (merged === "double") {
        this.#emit(
          "exception",
          `${describeException(vector, errorCode)} while delivering ` +
            `${describeException(this.#exPending, this.#exErrorCode)}: #DF(0)`,
        );
        vector = DF_VECTOR;
        errorCode = 0;
      }
    }
    this.#exVector = vector;
    this.#exErrorCode = exceptionSpec(vector).errorCode ? errorCode : -1;
    this.#exInjected = false;
    this.#exExternal = external;
    this.#lastExVector = vector;
    this.#lastExHasCode = this.#exErrorCode >= 0;
    this.#lastExCode = Math.max(this.#exErrorCode, 0);
  }

  /**
   * The queued exception's IDT gate is checked: a not-present one raises
   * #NP(vector*8+2, EXT) in its place, merged as a second exception, until
   * a present gate or a triple fault. Returns false after a triple fault.
   */
  #resolveGates(): boolean {
    while (this.#exPending >= 0 && this.#gateAbsent[this.#exPending] !== 0) {
      const v = this.#exPending;
      const code = idtErrorCode(v, this.#exExternal);
      this.#emit(
        "exception",
        `delivering ${describeException(v, this.#exErrorCode)}: IDT gate ${v} not present`,
      );
      this.#queueException(NP_VECTOR, code, true);
    }
    return this.#mpOwn !== MP_SHUTDOWN;
  }

  /** KVM_REQ_TRIPLE_FAULT: the vCPU shuts down and KVM_RUN returns KVM_EXIT_SHUTDOWN. */
  #tripleFault(vector: number, why?: string): void {
    this.#emit(
      "exception",
      why ?? `${describeException(vector, -1)} while delivering #DF: triple fault, shutdown`,
    );
    this.#exVector = -1;
    this.#exErrorCode = -1;
    this.#exInjected = false;
    this.#gpHeld = 0;
    this.#softwareVector = -1;
    this.#frames.length = 0;
    this.#halted = false;
    this.faulted = false;
    this.#mp = MP_SHUTDOWN;
    this.run.exit(KvmExit.Shutdown, "triple fault");
  }

  /** An instruction that changes nothing but is traced, so a shadow's end can be seen. */
  nop(): void {
    this.#emit("nop", "NOP");
  }

  /**
   * A KVM_HC_KICK_CPU reaching this vCPU (`kvm_pv_kick_cpu_op`: an
   * APIC_DM_REMRD message, which `__apic_accept_irq` takes by setting
   * `pv_unhalted` and kicking): a vCPU halted in HLT becomes RUNNABLE
   * (`vcpu_block` -> `kvm_set_mp_state`, which clears the flag) and goes on
   * after its HLT, taking nothing; otherwise the flag waits for its next HLT,
   * which then does not halt. A vCPU waiting for INIT or SIPI stays waiting.
   *
   * @example
   * ```ts
   * declare const cpu: X86Cpu;
   * cpu.hlt();
   * cpu.pvKick(); // cpu.halted is false again
   * ```
   */
  pvKick(): void {
    if (this.#halted && this.#mp === MpState.Runnable) {
      this.#halted = false;
      this.hv?.woken(this.index);
      this.#unblocked();
      this.#emit("pv_unhalt", "KVM_HC_KICK_CPU: woken from HLT, RUNNABLE (pv_unhalted cleared)");
      return;
    }
    this.#pvUnhalted = true;
    this.#emit("pv_unhalt", "KVM_HC_KICK_CPU: pv_unhalted set (the next HLT does not halt)");
  }

  /** CLI: clears IF. */
  cli(): void {
    this.interruptFlag = false;
    this.#emit("cli", "IF=0");
  }

  /**
   * HLT: sleeps until {@link X86Cpu.canTake} (IF=0: only an NMI or INIT; SMI
   * is not modelled). Without an in-kernel LAPIC, KVM cannot tell when to
   * wake the vCPU, so HLT also exits to userspace with KVM_EXIT_HLT.
   */
  hlt(): void {
    this.run.haltExitsStat++;
    if (this.#pvUnhalted && this.lapicInKernel) {
      // __kvm_emulate_halt: kvm_vcpu_has_events (pv_unhalted) makes the state RUNNABLE,
      // which kvm_set_mp_state takes as clearing the flag.
      this.#pvUnhalted = false;
      this.#emit("hlt", "not halted: pv_unhalted (a KVM_HC_KICK_CPU came first), RUNNABLE");
      return;
    }
    this.#halted = true;
    this.#emit(
      "hlt",
      this.interruptFlag ? "halted, IF=1" : "halted with IF=0: only NMI, SMI or INIT wake it",
    );
    if (!this.lapicInKernel) this.run.exit(KvmExit.Hlt, "HLT with no in-kernel LAPIC");
  }

  /** An NMI is waiting and not blocked (by a running NMI handler or, under KVM, an STI shadow). */
  nmiReady(): boolean {
    return this.lapic.nmiPending > 0 && !this.nmiBlocked && this.#shadowState === 0;
  }

  /**
   * `kvm_vcpu_ready_for_interrupt_injection`, which
   * `kvm_run.ready_for_interrupt_injection` reports: IF=1, no STI / MOV SS
   * shadow, nothing injected and not yet taken, and (`kvm_cpu_accept_dm_intr`)
   * with an in-kernel LAPIC no KVM_INTERRUPT vector waiting and LVT0
   * accepting ExtINT.
   */
  readyForInjection(): boolean {
    if (!this.interruptFlag || this.#shadowState !== 0 || this.#injected >= 0) {
      return false;
    }
    if (!this.lapicInKernel) return true;
    return !(this.extint?.intr() ?? false) && this.lapic.acceptsExtInt();
  }

  /**
   * `kvm_run.request_interrupt_window` as userspace sets it. Without an
   * in-kernel PIC (split or userspace irqchip), KVM then exits with
   * KVM_EXIT_IRQ_WINDOW_OPEN as soon as {@link X86Cpu.readyForInjection}
   * holds; with one it ignores the request (`dm_request_for_irq_injection`).
   * Setting it checks the window at once, as the next KVM_RUN would.
   */
  requestInterruptWindow(on: boolean): void {
    this.run.requestInterruptWindow = on;
    this.#windowReported = false;
    this.#checkWindow();
  }

  /** Exits once per opening of a requested interrupt window. */
  #checkWindow(): void {
    if (this.picInKernel || !this.run.requestInterruptWindow) return;
    if (!this.readyForInjection()) {
      this.#windowReported = false;
      return;
    }
    if (this.#windowReported || this.#mpOwn !== MpState.Runnable) return;
    this.#windowReported = true;
    this.run.exit(KvmExit.IrqWindowOpen, "interrupt window open: IF=1, no shadow");
  }

  /**
   * KVM_INTERRUPT without an in-kernel irqchip (`kvm_queue_interrupt`): the
   * vector is injected at the next entry, whatever IF and the shadow say;
   * a second call before that replaces it. Returns 0.
   */
  queueInterrupt(vector: number): number {
    this.injected = vector & 0xff;
    this.#emit("kvm.interrupt", `KVM_INTERRUPT 0x${this.#injected.toString(16)} injected`);
    this.#checkWindow();
    return 0;
  }

  /**
   * The NMIs KVM_GET_VCPU_EVENTS reports pending: it calls `process_nmi`
   * first, so NMIs queued beyond the limit {@link X86Cpu.service} keeps
   * never show (KVM's API cannot report 3). Reading drops nothing here;
   * the next instruction boundary does.
   */
  get nmiPendingReported(): number {
    return Math.min(this.lapic.nmiPending, this.#nmiLimit());
  }

  /** How many NMIs KVM keeps pending: 1 while NMIs are blocked, else 2. */
  #nmiLimit(): number {
    return this.nmiBlocked ? 1 : 2;
  }

  /**
   * Events that run no handler, at an instruction boundary (CpuModel):
   * KVM's `process_nmi` (NMIs queued beyond what the CPU keeps are dropped:
   * 1 while NMIs are blocked, else 2) and `kvm_apic_accept_events` (INIT,
   * then SIPI), then the hypervisor's work before entry
   * ({@link HypervisorHooks.enter}). Returns 0 if nothing happened, 1 if
   * state changed, {@link BOUNDARY_RESET} if INIT reset the vCPU (the
   * handlers it was running are gone), {@link BOUNDARY_HALTED} while the
   * vCPU is outside KVM_RUN ({@link HypervisorHooks.outside}).
   */
  service(): number {
    const l = this.lapic;
    // Nothing latched and no hypervisor: every boundary of a plain KVM guest but a few.
    // The rest is apart so that this stays small enough for V8 to inline.
    if (
      l.nmiPending <= 1 && !l.initPending && l.sipiVector < 0 && this.#hooks === null &&
      !this.#pvEoiOn
    ) return 0;
    return this.#serviceLatched();
  }

  /** {@link X86Cpu.service} when something may be latched. */
  #serviceLatched(): number {
    const hv = this.#hooks;
    // Out of KVM_RUN nothing is serviced or taken; what is latched waits for the entry.
    if (hv !== null && hv.outside !== undefined && hv.outside(this.index)) return BOUNDARY_HALTED;
    const l = this.lapic;
    let r = 0;
    const limit = this.#nmiLimit();
    if (l.nmiPending > limit) {
      this.#emit("nmi.dropped", `${l.nmiPending - limit} NMI(s) dropped: ${limit} can be latched`);
      l.nmiPending = limit;
      r = 1;
    }
    if (l.initPending) {
      this.#init();
      r = BOUNDARY_RESET;
    }
    if (l.sipiVector >= 0) {
      const v = l.sipiVector;
      l.sipiVector = -1;
      if (this.#mpOwn === MpState.InitReceived) {
        this.csSelector = v << 8;
        this.csBase = v << 12;
        this.rip = 0;
        this.#mp = MpState.Runnable;
        this.#pvUnhalted = false; // kvm_set_mp_state(RUNNABLE)
        this.#unblocked();
        this.#emit(
          "sipi",
          `SIPI 0x${v.toString(16)}: RUNNABLE at CS 0x${this.csSelector.toString(16)}, RIP 0`,
        );
      } else {
        this.#emit(
          "sipi.ignored",
          `SIPI 0x${v.toString(16)} ignored: not waiting for SIPI (MP state ${this.mpState})`,
        );
      }
      if (r === 0) r = 1;
    }
    if (hv !== null && hv.enter !== undefined && !this.halted && hv.enter(this.index) && r === 0) {
      r = 1;
    }
    // An armed PV EOI and something new for the vCPU: the kick made it exit.
    if (this.pvEoi?.pending && (l.nmiPending > 0 || anyVector(l.irr))) {
      this.syncFromGuest();
      if (r === 0) r = 1;
    }
    return r;
  }

  /** KVM `kvm_vcpu_reset(vcpu, init_event=true)` and the MP state that follows. */
  #init(): void {
    const l = this.lapic;
    l.initPending = false;
    l.nmiPending = 0;
    l.smiPending = false;
    l.reset(true);
    this.interruptFlag = false;
    this.#shadowState = 0;
    this.#halted = false;
    this.nmiBlocked = false;
    this.#frames.length = 0;
    this.injected = -1;
    this.cr4Mce = false; // kvm_vcpu_reset: CR4 is 0 after INIT too
    // kvm_lapic_reset: pv_eoi.msr_val and apic_attention are 0.
    this.pvEoi?.reset();
    this.#pvEoiChanged();
    // kvm_vcpu_reset: the exception queue goes (kvm_clear_exception_queue); the IDT's
    // contents are guest memory, which INIT leaves alone.
    this.#exVector = -1;
    this.#exInjected = false;
    this.#gpHeld = 0;
    this.faulted = false;
    this.csSelector = RESET_CS_SELECTOR;
    this.csBase = RESET_CS_BASE;
    this.rip = RESET_RIP;
    // KVM decides by IA32_APIC_BASE.BSP as it is now (kvm_vcpu_is_bsp).
    const bsp = (l.apicBase & ApicBaseBit.BSP) !== 0;
    this.#mp = bsp ? MpState.Runnable : MpState.InitReceived;
    if (bsp) this.#pvUnhalted = false; // kvm_set_mp_state(RUNNABLE)
    this.#unblocked();
    this.#emit(
      "init",
      bsp ? "INIT: reset, the BSP stays RUNNABLE" : "INIT: reset, INIT_RECEIVED (wait for SIPI)",
    );
  }

  /**
   * MOV to CR8: bits 63:4 are reserved (#GP, returns {@link GP_FAULT});
   * otherwise TPR = value << 4 in the in-kernel LAPIC (`kvm_set_cr8`).
   * Returns 0 on success.
   */
  movToCr8(value: number | bigint): number {
    const v = BigInt(value);
    if (v < 0n || v > 0xfn) return this.#gp(`CR8 <- 0x${v.toString(16)}: bits 63:4 are reserved`);
    if (this.lapicInKernel) this.lapic.setCr8(Number(v));
    else {
      this.#cr8 = Number(v);
      this.#emit("cr8", `CR8 <- ${this.#cr8}`);
    }
    return 0;
  }

  /**
   * RDMSR: IA32_TSC (virtual ns plus the vCPU's offset), IA32_TSC_ADJUST, and the MSRs of the in-kernel LAPIC
   * (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800-0x8FF, see
   * {@link Lapic.rdmsr}), the machine-check MSRs ({@link McBanks.rdmsr}).
   * Any other MSR #GPs, as KVM does for an MSR it does
   * not know (`ignore_msrs` off); so do the x2APIC MSRs without an
   * in-kernel LAPIC. Returns the value, or {@link GP_FAULT}.
   */
  rdmsr(msr: number): bigint | number {
    if (msr === IA32_TSC_MSR) return this.guestTsc();
    if (msr === IA32_TSC_ADJUST_MSR && this.#tscRegs !== null) return this.#tscRegs.adjust;
    const pv = this.#pvMsrRefusal(msr);
    if (pv !== null) return this.#gp(`RDMSR 0x${msr.toString(16)}: ${pv}`);
    if (msr === MSR_KVM_PV_EOI_EN && this.pvEoi !== null) return this.pvEoi.msrVal;
    if (
      (msr === MSR_KVM_SYSTEM_TIME_NEW || msr === MSR_KVM_SYSTEM_TIME) && this.#kvmclock !== null
    ) {
      return this.#kvmclock.msrVal;
    }
    const hv = this.#hyperv?.rdmsr(msr);
    if (hv !== undefined) {
      return typeof hv === "bigint" ? hv : this.#gp(`RDMSR 0x${msr.toString(16)}: ${hv}`);
    }
    if (isMceMsr(msr)) {
      const v = this.mce.rdmsr(msr, false);
      return v ?? this.#gp(`RDMSR 0x${msr.toString(16)}: refused by get_msr_mce`);
    }
    const why = this.#msrOwner(msr);
    if (why !== null) return this.#gp(`RDMSR 0x${msr.toString(16)}: ${why}`);
    const r = this.lapic.rdmsr(msr);
    return isGpFault(r) ? this.#gpFrom(r) : r;
  }

  /**
   * WRMSR: the in-kernel LAPIC's MSRs ({@link Lapic.wrmsr}: IA32_APIC_BASE
   * transitions, x2APIC registers, the 64-bit ICR, SELF IPI,
   * IA32_TSC_DEADLINE); IA32_TSC and IA32_TSC_ADJUST by KVM's rules
   * ({@link KvmTsc}) where the vCPU has them, else IA32_TSC writes are not
   * modelled and #GP, as do unknown MSRs. Returns 0, or {@link GP_FAULT}.
   */
  wrmsr(msr: number, value: bigint): number {
    const regs = this.#tscRegs;
    if (regs !== null && (msr === IA32_TSC_MSR || msr === IA32_TSC_ADJUST_MSR)) {
      this.refuseTscChangeUnderKvmclock();
      const was = this.guestTsc();
      if (msr === IA32_TSC_MSR) regs.guestWriteTsc(this.hostScaledTsc(), value);
      else regs.guestWriteAdjust(value);
      if (!this.trace.enabled) return 0;
      this.#emit(
        "tsc",
        `${msr === IA32_TSC_MSR ? "IA32_TSC" : "IA32_TSC_ADJUST"} <- 0x${value.toString(16)}: ` +
          `TSC 0x${was.toString(16)} -> 0x${this.guestTsc().toString(16)}, ` +
          `IA32_TSC_ADJUST 0x${regs.adjust.toString(16)}`,
      );
      return 0;
    }
    const hv = this.#hooks?.wrmsr?.(this.index, msr, value);
    if (hv !== undefined) return hv === null ? 0 : this.#gp(`WRMSR 0x${msr.toString(16)}: ${hv}`);
    const pv = this.#pvMsrRefusal(msr);
    if (pv !== null) return this.#gp(`WRMSR 0x${msr.toString(16)}: ${pv}`);
    if (
      (msr === MSR_KVM_SYSTEM_TIME_NEW || msr === MSR_KVM_SYSTEM_TIME) && this.#kvmclock !== null
    ) {
      this.#kvmclock.write(value, msr === MSR_KVM_SYSTEM_TIME, true);
      return 0;
    }
    if (msr === MSR_KVM_PV_EOI_EN && this.pvEoi !== null) {
      return this.setPvEoiMsr(value) ? 0 : this.#gp(
        `WRMSR 0x${msr.toString(16)}: kvm_lapic_set_pv_eoi refuses 0x${value.toString(16)} ` +
          "(not 4-byte aligned, or outside guest RAM)",
      );
    }
    const hvr = this.#hyperv?.wrmsr(msr, value);
    // The VP assist page may have set or cleared PV EOI.
    if (this.pvEoi !== null) this.#pvEoiChanged();
    if (hvr !== undefined) {
      return hvr === null ? 0 : this.#gp(`WRMSR 0x${msr.toString(16)}: ${hvr}`);
    }
    if (isMceMsr(msr)) {
      const refused = this.mce.wrmsr(msr, value, false);
      return refused === null ? 0 : this.#gp(`WRMSR 0x${msr.toString(16)}: ${refused}`);
    }
    const why = msr === IA32_TSC_MSR ? "writing the TSC is not modelled" : this.#msrOwner(msr);
    if (why !== null) return this.#gp(`WRMSR 0x${msr.toString(16)}: ${why}`);
    const r = this.lapic.wrmsr(msr, value);
    return r === null ? 0 : this.#gpFrom(r);
  }

  /**
   * The host's TSC scaled at this vCPU's rate (`kvm_scale_tsc`,
   * {@link GuestTsc}): the model's ns at 1 GHz unless KVM_SET_TSC_KHZ set one.
   */
  hostScaledTsc(): bigint {
    const now = this.#now();
    return this.#tsc === null ? BigInt(Math.floor(now)) : this.#tsc.read(now);
  }

  /** The vCPU's TSC (`kvm_read_l1_tsc`): the scaled host TSC plus its offset. */
  guestTsc(): bigint {
    const scaled = this.hostScaledTsc();
    return this.#tscRegs === null ? scaled : this.#tscRegs.read(scaled);
  }

  /**
   * A TSC change while the kvmclock is on is an input error: KVM updates
   * the kvmclock record at some TSC changes and not at others, which the
   * model does not follow (lib/x86/kvmclock.ts).
   */
  refuseTscChangeUnderKvmclock(): void {
    if (this.#kvmclock?.enabled) {
      throw new CommandInputError(
        `${this.name}: moving the TSC while its kvmclock is on (MSR_KVM_SYSTEM_TIME_NEW bit 0) ` +
          "is not modelled",
      );
    }
  }

  /** Why the LAPIC cannot take this MSR, or null. */
  #msrOwner(msr: number): string | null {
    const x2 = msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_LAST;
    if (x2 && !this.lapicInKernel) return "no in-kernel LAPIC (irqchip userspace)";
    if (x2 || msr === 0x1b || msr === 0x6e0) return null;
    return "not an MSR this model has (KVM injects #GP for unknown MSRs)";
  }

  #gpFrom(f: GpFault): number {
    // The LAPIC traced the reason; the fault itself is the CPU's.
    this.gpFaults++;
    this.#emit("gp", `#GP(0) from MSR 0x${f.msr.toString(16)}`);
    this.#deliverGp();
    return GP_FAULT;
  }

  #gp(reason: string): number {
    this.gpFaults++;
    this.#emit("gp", `#GP(0): ${reason}`);
    this.#deliverGp();
    return GP_FAULT;
  }

  /**
   * The #GP(0) an RDMSR, WRMSR or MOV to CR8 raised goes to the guest:
   * queued like any exception, taken through IDT vector 13 at the next
   * boundary (a not-present gate 13 is #NP, and so on). The instruction
   * is the test suites' `rdmsr_safe` / `wrmsr_safe` (kvm-unit-tests'
   * exception fixup, the selftests' KVM_ASM_SAFE): the handler returns
   * past it, so it completes, returning {@link GP_FAULT}, and is not
   * executed again. Statements outside `run` have no boundary between
   * them, so a #GP while an earlier instruction's exception still waits
   * for one is held until that exception's handler has returned: each
   * such instruction's #GP is delivered, one after the other, never
   * merged into #DF.
   */
  #deliverGp(): void {
    if (this.#exPending >= 0) {
      this.#gpHeld++;
      return;
    }
    this.#queueException(GP_VECTOR, 0, true);
    this.#resolveGates();
    if (this.#pvEoiOn) this.#pvEoiRearm();
  }

  /**
   * The entry that injects an NMI or an exception KVM queued (both make
   * KVM_REQ_EVENT): `kvm_lapic_sync_to_vapic` arms PV EOI again for the
   * vector still in service, if the last exit disarmed it.
   */
  #pvEoiRearm(): void {
    const l = this.lapic;
    if (this.pvEoi!.rearm((v) => testVector(l.isr, v), anyVector(l.irr))) this.#pvEoiChanged();
  }

  /**
   * The PIC's INTR reaches the core through LINT0. INTR first: both are pure
   * reads, and INTR is low at nearly every boundary that asks (the BSP's LVT0
   * accepts ExtINT from reset under KVM), so most answers cost one field.
   */
  extIntReady(): boolean {
    return this.extint !== null && this.extint.intr() && this.lapic.acceptsExtInt();
  }

  /** The Xen global callback vector waiting for this vCPU, or -1. */
  globalVector(): number {
    return this.#hooks === null ? -1 : this.#hooks.globalVector(this.index);
  }

  /** A maskable interrupt would be taken if IF allowed it. */
  maskableReady(): boolean {
    // Three pure questions: the LAPIC's, the one a take most often answers yes to, first.
    return this.lapic.pendingVector() >= 0 || this.globalVector() >= 0 || this.extIntReady();
  }

  /**
   * The vCPU exits to the hypervisor for the instruction it is executing
   * (I/O, an APIC access, HLT, a hypercall): Xen checks whether the
   * callback GSI can drop at the start of every exit
   * (`hvm_maybe_deassert_evtchn_irq` in `vmx_vmexit_handler` /
   * `svm_vmexit_handler`).
   */
  vmExit(): void {
    if (this.#pvEoiOn) this.syncFromGuest();
    this.#hooks?.vmExit(this.index);
  }

  canTake(): boolean {
    // A running vCPU whose only sources are maskable ones (no INT n, KVM_INTERRUPT, NMI
    // or hypervisor), small enough for V8 to inline; #canTakeAny asks in KVM's order.
    // Not RUNNABLE, INT n, KVM_INTERRUPT, an exception, a hypervisor: #rare but its odd bit.
    if ((this.#rare & ~RARE_ODD) !== 0 || this.lapic.nmiPending !== 0) return this.#canTakeAny();
    if (!this.interruptFlag || this.#shadowState !== 0) return false;
    return this.lapicInKernel && this.maskableReady();
  }

  /** {@link X86Cpu.canTake} whatever the sources. */
  #canTakeAny(): boolean {
    // Waiting for INIT / SIPI: nothing is delivered (KVM does not enter the guest).
    if (this.#mpOwn !== MpState.Runnable) return false;
    // An exception is delivered before any event, whatever IF and the shadows say
    // (kvm_check_and_inject_events: an injected or pending exception comes first).
    if (this.#exPending >= 0) return true;
    // INT n completes by entering its handler, before any event at the boundary.
    if (this.#intVector >= 0) return true;
    // A KVM_INTERRUPT injection is re-injected before any new event, IF or not.
    if (this.#injected >= 0) return true;
    if (this.nmiReady()) return true;
    if (this.#hooks?.pvUpcallDue?.(this.index)) return true;
    if (!this.interruptFlag || this.#shadowState !== 0) return false;
    return this.lapicInKernel && this.maskableReady();
  }

  take(): Taken {
    // The common take, small enough for V8 to inline: untraced, from the
    // LAPIC, no other source ahead of it (see #takeAny for their order).
    const l = this.lapic;
    // #rare but RARE_MP: INT n, KVM_INTERRUPT, an exception, a hypervisor, a gate, PV EOI.
    if (
      this.trace.enabled || this.#halted || (this.#rare & ~RARE_MP) !== 0 || l.nmiPending !== 0 ||
      this.extIntReady()
    ) {
      return this.#takeAny();
    }
    return this.#takeLapic(l.pendingVector());
  }

  /** {@link X86Cpu.take}'s common case: `pending`, the LAPIC's pending vector. */
  #takeLapic(pending: number): Taken {
    const l = this.lapic;
    const cause = pending >= 0 ? l.irrCause(pending) : 0;
    const vector = l.acknowledge(pending);
    this.#frames.push(this.interruptFlag ? FRAME_IF : 0);
    this.interruptFlag = false;
    const taken = this.#taken;
    taken.kind = "vector";
    taken.vector = vector;
    taken.cause = cause;
    taken.event = 0;
    return taken;
  }

  /**
   * One instruction boundary (CpuModel): {@link X86Cpu.service}, then
   * {@link X86Cpu.take} if {@link X86Cpu.canTake}, else whether halted,
   * answering as {@link boundaryOf}. The common case, a running vCPU of a
   * plain KVM guest with nothing latched and no rarer source, asks each
   * question once and finds the LAPIC's pending vector once; it is small
   * enough for V8 to inline, the rest is {@link boundaryOf}'s order. A new source
   * or latch belongs in X86Cpu.#rare or {@link Lapic.latched}, kept by its field's
   * setter (lib/x86/cpu_boundary_test.ts and cpu_rare_test.ts fail without it).
   */
  boundary(): Taken | number {
    // One test for the rare sources and latches: their setters keep the two words.
    if ((this.#rare | this.lapic.latched) !== 0) return boundaryOf(this);
    // service() has nothing to do; canTake() asks only IF, the shadow and the maskable sources.
    if (this.interruptFlag && this.#shadowState === 0 && this.lapicInKernel) {
      return this.#boundaryOpen();
    }
    return this.#halted ? BOUNDARY_HALTED : BOUNDARY_RUNNING;
  }

  /** {@link X86Cpu.boundary} with nothing rare and interrupts open: the maskable sources. */
  #boundaryOpen(): Taken | number {
    const pending = this.lapic.pendingVector();
    if (pending >= 0) {
      if (this.trace.enabled || this.#halted || this.extIntReady()) return this.#takeAny();
      return this.#takeLapic(pending);
    }
    if (this.extIntReady()) return this.#takeAny();
    return this.#halted ? BOUNDARY_HALTED : BOUNDARY_RUNNING;
  }

  /** {@link X86Cpu.take} from any source, traced or not. */
  #takeAny(): Taken {
    const t = this.trace;
    if (this.#halted) {
      this.#halted = false;
      // A blocking hypercall ends with the wake-up, as HLT does.
      this.#hooks?.woken(this.index);
      // The entry after the wake-up, before the injection.
      this.#unblocked();
    }
    let kind: string, vector: number, cause = 0;
    let gv: number;
    let pvFrame = 0;
    let errorCode = -1;
    if (this.#exPending >= 0 && !this.#resolveGates()) return this.#takeShutdown();
    if (this.#exPending >= 0) {
      kind = "exception";
      vector = this.#exPending;
      errorCode = this.#exErrorCode;
      this.#exVector = -1;
      this.#exErrorCode = -1;
      this.#exInjected = false;
    } else if (this.#intVector >= 0) {
      kind = "int";
      vector = this.#intVector;
      this.#softwareVector = -1;
    } else if (this.#injected >= 0) {
      kind = "vector";
      vector = this.#injected;
      this.injected = -1;
    } else if (this.nmiReady()) {
      this.lapic.nmiPending--;
      this.nmiBlocked = true;
      // -1, not 2: an NMI is no vector-2 interrupt (`took nmi` names it).
      kind = "nmi";
      vector = -1;
      if (this.#pvEoiOn) this.#pvEoiRearm();
    } else if (this.#hooks?.pvUpcallDue?.(this.index)) {
      kind = "event_callback";
      vector = -1;
      pvFrame = FRAME_EVENT |
        (this.#hooks.pvEnterCallback!(this.index) === 0 ? FRAME_EVENTS_ON : 0);
    } else if ((gv = this.globalVector()) >= 0) {
      // Xen's callback vector: injected directly, no IRR, ISR or EOI.
      kind = "vector";
      vector = gv;
    } else if (this.extIntReady()) {
      kind = "extint";
      vector = this.extint!.acknowledge();
    } else {
      kind = "vector";
      const pending = this.lapic.pendingVector();
      cause = pending >= 0 ? this.lapic.irrCause(pending) : 0;
      // The acknowledge and the take both follow from the request that set IRR.
      t.open(cause);
      vector = this.lapic.acknowledge(pending);
      // The entry that injects it: KVM's highest-ISR cache is this vector.
      if (this.#pvEoiOn && pending >= 0 && testVector(this.lapic.isr, vector)) {
        this.pvEoi!.isrCache = vector;
        this.pvEoi!.armAtEntry(vector, anyVector(this.lapic.irr));
        this.#pvEoiChanged();
      }
      t.close(cause);
    }
    if (this.#gatesAbsent !== 0 && pvFrame === 0 && kind !== "exception") {
      const gate = kind === "nmi" ? 2 : vector;
      if (this.#gateAbsent[gate] !== 0) {
        // The event is consumed (acknowledged, NMIs blocked) and its delivery faults:
        // #NP(gate*8+2), EXT set unless it was INT n, delivered in its place.
        this.#emit(
          "exception",
          `delivering ${describe(kind, vector)}: IDT gate ${gate} not present`,
        );
        this.#queueException(NP_VECTOR, idtErrorCode(gate, kind !== "int"), true);
        if (!this.#resolveGates()) return this.#takeShutdown();
        kind = "exception";
        vector = this.#exPending;
        errorCode = this.#exErrorCode;
        this.#exVector = -1;
        this.#exErrorCode = -1;
      }
    }
    this.#frames.push(
      ((this.interruptFlag ? FRAME_IF : 0) | (kind === "nmi" ? FRAME_NMI : 0) | pvFrame) +
        (errorCode >= 0 ? FRAME_ERROR + errorCode * FRAME_CODE_SHIFT : 0),
    );
    this.interruptFlag = false;
    t.open(cause);
    const event = t.enabled
      ? t.emit(
        this.name,
        "took",
        kind === "exception" ? describeException(vector, errorCode) : describe(kind, vector),
      )
      : 0;
    t.close(cause);
    const taken = this.#taken;
    taken.kind = kind;
    taken.vector = vector;
    taken.cause = cause;
    taken.event = event;
    return taken;
  }

  /**
   * What {@link X86Cpu.take} returns when delivering an exception ended in
   * a triple fault: nothing was taken, and no handler runs (the platform's
   * handlers match no `shutdown`).
   */
  #takeShutdown(): Taken {
    const taken = this.#taken;
    taken.kind = "shutdown";
    taken.vector = -1;
    taken.cause = 0;
    taken.event = 0;
    return taken;
  }

  /**
   * The error code on the innermost handler's frame (what the handler
   * reads off its stack), or -1 when that frame has none.
   */
  get frameErrorCode(): number {
    const f = this.#frames.at(-1);
    return f === undefined || (f & FRAME_ERROR) === 0 ? -1 : Math.floor(f / FRAME_CODE_SHIFT);
  }

  /**
   * An instruction retired: a shadow set by an earlier instruction ends
   * here. Without an in-kernel irqchip, a requested interrupt window that
   * opens now exits to userspace.
   */
  retire(): boolean {
    // Stored at every retire, not once behind a test: a branch taken only at a vCPU's first
    // instruction has no type feedback (V8 collects none in a function's first calls), so
    // the next run's first retire threw away the optimized code that had inlined this.
    this.hasRun = true;
    // A fresh shadow stays (the STI's own retire); one set earlier ends here. No branch (see
    // #shadowState): with SHADOW_FRESH (the top bit, so s >> 2 is 1) the kind is kept, without
    // it the state becomes 0.
    const s = this.#shadowState;
    this.#shadowState = s & SHADOW_KIND & -(s >> 2);
    // An interrupt window exits only without an in-kernel PIC (see #checkWindow); it is
    // looked for at a retire that ends a shadow or finds none, not at the one that set it.
    if (s < SHADOW_FRESH && !this.picInKernel && this.run.requestInterruptWindow) {
      this.#checkWindow();
    }
    return s !== 0;
  }

  returnFromInterrupt(): void {
    const frames = this.#frames;
    // The common IRET, small enough for V8 to inline: from a plain interrupt, untraced.
    if (
      frames.length !== 0 && (frames[frames.length - 1] & ~FRAME_IF) === 0 &&
      !this.trace.enabled && this.picInKernel && !this.nmiBlocked
    ) {
      this.interruptFlag = frames.pop() === FRAME_IF;
      return;
    }
    this.#returnAny();
  }

  /** {@link X86Cpu.returnFromInterrupt} for any frame, traced or not. */
  #returnAny(): void {
    const f = this.#frames.pop();
    if (f === undefined) {
      // A triple fault dropped the frames; the take that found it ran no handler.
      if (this.#mpOwn !== MP_SHUTDOWN) this.#emit("iret", "IRET with no interrupt frame: ignored");
      return;
    }
    this.interruptFlag = (f & FRAME_IF) !== 0;
    if (this.#gpHeld > 0 && this.#exPending < 0) {
      // The next held #GP: its instruction came after the one whose handler ends here.
      this.#gpHeld--;
      this.#queueException(GP_VECTOR, 0, true);
      this.#resolveGates();
    }
    // Any IRET ends NMI blocking, not only the NMI handler's (SDM vol. 3A 6.7.1); a Xen PV
    // event callback returns through HYPERVISOR_iret instead.
    if ((f & FRAME_EVENT) === 0) this.nmiBlocked = false;
    if (f & FRAME_EVENT) this.#hooks?.pvIret?.(this.index, (f & FRAME_EVENTS_ON) !== 0);
    if (this.trace.enabled) this.#emit("iret", `IRET, IF=${this.interruptFlag ? 1 : 0}`);
    this.#checkWindow();
  }

  #emit(kind: string, text: string): void {
    if (this.trace.enabled) this.trace.emit(this.name, kind, text);
  }
}

function describe(kind: string, vector: number): string {
  if (kind === "nmi") return "NMI";
  if (kind === "exception") return describeException(vector, -1);
  if (kind === "event_callback") return "event callback";
  const hex = `0x${vector.toString(16)}`;
  if (kind === "extint") return `${hex} (ExtINT)`;
  if (kind === "int") return `${hex} (INT n)`;
  return hex;
}

/** Whether any bit of a 256-bit vector set is set (KVM's `irr_pending`). */
function anyVector(set: Uint32Array): boolean {
  for (let i = 0; i < set.length; i++) if (set[i] !== 0) return true;
  return false;
}
