/**
 * The x86 platform bound to a real VM on `/dev/kvm`: the same settings,
 * commands, state paths and handler events as `lib/x86/platform.ts` (so a
 * scenario checks identically), run by KVM instead of the model.
 *
 * - VMM and device actions are the real ioctls (KVM_IRQ_LINE_STATUS,
 *   KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_INTERRUPT).
 * - vCPU actions are real guest instructions run by the monitor of
 *   `guest.ts`: MMIO to the xAPIC page and the IOAPIC, RDMSR / WRMSR.
 * - Delivery is KVM's: {@link CpuModel.canTake} runs the guest over a probe
 *   (an instruction boundary with IF=1) and says whether KVM entered the
 *   guest's handler; `take()` reports that entry. Handler bodies then run
 *   inside the real handler, and `returnFromInterrupt()` executes its IRET.
 * - State is read back with KVM_GET_LAPIC, KVM_GET_IRQCHIP,
 *   KVM_GET_VCPU_EVENTS, KVM_GET_MSRS and KVM_GET_MP_STATE.
 *
 * What the guest's IF and HLT mean here: the guest waits in its monitor
 * with IF=0 so that nothing is delivered between scenario steps (the
 * model's rule: interrupts arrive only during `run`). The scenario's IF,
 * STI shadow and HLT are therefore kept by the backend, and each probe
 * runs the real `sti` for them; HLT is never executed for real, because
 * with an in-kernel LAPIC KVM_RUN would block until an interrupt came.
 * A halted vCPU wakes when a probe is taken, which is KVM's own condition
 * (`kvm_vcpu_has_events` with IF=1).
 *
 * NMIs are taken through the guest's own NMI entry once anything may have
 * sent one (KVM injects them whatever IF says); INIT and SIPI are followed
 * through KVM_GET_MP_STATE, and a vCPU a SIPI started enters the monitor
 * only when it has to execute something.
 *
 * What it cannot express throws {@link BackendUnsupported}; the command
 * line reports the scenario as skipped with the reason.
 *
 * Observed on the PVM provider of the development machines: an interrupt
 * the real-mode guest accepts never shows in ISR (KVM_GET_LAPIC, or the
 * guest's own MMIO read), PPR stays at TPR, and a level-triggered vector's
 * EOI reaches the IOAPIC at once (with `irqchip split` the
 * KVM_EXIT_IOAPIC_EOI comes at the next KVM_RUN, before any guest EOI).
 * Linux's `kvm_apic_ack_interrupt` (arch/x86/kvm/lapic.c) sets the ISR
 * bit, so scenarios about ISR, PPR and level re-delivery fail here for the
 * provider's sake, not the model's.
 *
 * @module
 */
import { toInt } from "../core/values.ts";
import type { Args, CommandSpec, StateSpec, Val } from "../core/table.ts";
import {
  type CpuModel,
  type ModelEnv,
  type Platform,
  type PlatformEntry,
  platformEntry,
  type Taken,
  type VmModel,
} from "../core/platform.ts";
import type { X86Vm } from "../x86/vm.ts";
import { toRoutingEntry, X86_COMMANDS, x86Platform } from "../x86/platform.ts";
// x86Platform builds VMs with a Xen domain or Hyper-V too (lib/xen/parts.ts, lib/x86/hyperv_parts.ts).
import "../xen/build.ts";
import "../x86/hyperv_build.ts";
import type { X86BackendOp, X86Command } from "../x86/command.ts";
import { GP_FAULT } from "../x86/cpu.ts";
import { EOI_STORM_LIMIT } from "../x86/ioapic.ts";

/** How long a signal waits for KVM's irqfd work to raise a resampled pin. */
const IRQFD_WAIT_MS = 200;
/** How long a signal lets KVM's irqfd work pulse a plain irqfd's irqchip pin. */
const IRQFD_SETTLE_MS = 5;

/** Blocks this thread for `ms` (the irqfd work runs on another CPU). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes of one vector in a row, with no command between, that make a storm (see `stormTakes`). */
const STORM_TAKES = 1000;
import {
  decodeField,
  encodeFields,
  fieldByName,
  fieldGet,
  fieldSet,
  joinWords,
  setField,
  splitWords,
} from "../core/bitfield.ts";
import {
  ApicBaseBit,
  IA32_APIC_BASE_MSR,
  IA32_TSC_DEADLINE_MSR,
  ICR_HIGH_FIELDS,
  ICR_LOW_FIELDS,
  LAPIC_REGISTERS,
  lapicRegisterByName,
  SVR_FIELDS,
  X2APIC_MSR_BASE,
} from "../x86/lapic_registers.ts";
import { IoapicIndex, IoapicMmio } from "../x86/ioapic.ts";
import { decodeMsiData } from "../x86/msi.ts";
import { DeliveryMode } from "../x86/apic_message.ts";
import { GsiRouting, KvmIrqchip, type RoutingEntry } from "../x86/kvm_routing.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import {
  IOAPIC_STATE,
  IRQCHIP,
  KVM_CAP,
  KVM_EXIT,
  KVM_IOAPIC_NUM_PINS,
  KVM_IRQCHIP,
  KVM_MP_STATE,
  type KvmIrqRoutingEntry,
  lapicRegister,
  lapicVectors,
  PIC_STATE_FIELDS,
  SIZEOF,
  struct,
  VCPU_EVENTS,
} from "./abi.ts";
import { type KvmSystem, KvmSystem as System, type KvmVcpu, type KvmVm } from "./kvm.ts";
import {
  closeFd,
  closeLibc,
  createEventfd,
  drainEventfd,
  KvmIoctlError,
  signalEventfd,
} from "./libc.ts";
import { ACCESS_SIZES, GuestMemory } from "../core/guest_memory.ts";
import { checkIrqchipField } from "../x86/vmm_ioctls.ts";
import { CPUID_FIELDS } from "../x86/cpuid.ts";
import { KVM_IRQFD_FLAG } from "../x86/irqfd.ts";
import {
  Action,
  enterMonitor,
  GUEST_MEMORY,
  type GuestImage,
  Layout,
  loadGuest,
  Port,
  post,
  result,
  runUntilStop,
  type Stop,
} from "./guest.ts";

/**
 * A command, state path or setting the KVM backend cannot run; the scenario is skipped.
 *
 * @example
 * ```ts
 * throw new BackendUnsupported("'mov cr8': no CR8 in real mode");
 * ```
 */
export class BackendUnsupported extends Error {
  /**
   * @example
   * ```ts
   * throw new BackendUnsupported("'kvm nmi': NMIs are not probed by the guest monitor");
   * ```
   */
  constructor(readonly reason: string) {
    super(reason);
    this.name = "BackendUnsupported";
  }
}

// Offsets, MSRs and bits from the x86 model's register tables, stated once there.
const offsetOf = (name: string) => lapicRegisterByName(name)!.offset;
const IA32_APIC_BASE = IA32_APIC_BASE_MSR;
const APIC_BASE_EXTD = BigInt(ApicBaseBit.EXTD), APIC_BASE_EN = BigInt(ApicBaseBit.EN);
const IOREGSEL = IoapicMmio.IOREGSEL, IOWIN = IoapicMmio.IOWIN, IOREDTBL = IoapicIndex.IOREDTBL;
const LAPIC_EOI = offsetOf("eoi"), LAPIC_SVR = offsetOf("svr");
const LAPIC_ICR_LOW = offsetOf("icr_low"), LAPIC_ICR_HIGH = offsetOf("icr_high");
const LAPIC_TIMER_INITIAL = offsetOf("timer_initial_count");
const IA32_TSC_DEADLINE = IA32_TSC_DEADLINE_MSR;
const IRR = offsetOf("irr"), ISR = offsetOf("isr"), TMR = offsetOf("tmr");
/** The x2APIC MSR of a LAPIC register (SDM: 0x800 + offset / 16). */
const x2apicMsr = (offset: number) => X2APIC_MSR_BASE + (offset >> 4);
const SVR_ENABLE = fieldSet(fieldByName(SVR_FIELDS, "apic_enable")!, 0, 1);
const ICR_DELIVERY_MODE = fieldByName(ICR_LOW_FIELDS, "delivery_mode")!;

/**
 * One vCPU of a {@link KvmBackedVm}, as the interpreter sees it.
 *
 * @example
 * ```ts
 * import { type Val } from "../arm/engine_types.ts";
 * import { type ModelEnv } from "../../mod.ts";
 * declare const env: ModelEnv, settings: Record<string, Val>;
 * const cpu = (kvmPlatform().create("g", settings, env) as KvmBackedVm).cpus[0];
 * cpu.canTake(); // runs a probe on the real vCPU
 * ```
 */
export class KvmBackedCpu implements CpuModel {
  /** The scenario's RFLAGS.IF (the guest itself waits with IF=0). */
  interruptFlag = false;
  #shadow = false;
  #shadowFresh = false;
  #halted = false;
  /** IF of each interrupt frame, innermost last. */
  readonly frames: boolean[] = [];
  /** A handler entry seen while doing something else, taken at the next boundary. */
  #pending: Stop | undefined;
  gpFaults = 0;
  /**
   * #GPs the monitor's own handler returned past (an action's fault is
   * fixed up at once), each still to be reported as a take of vector 13
   * at a boundary, as the model delivers it; its handler body runs at the
   * monitor.
   */
  #gpTakes = 0;
  /** `frames.length` at each frame of such a reported #GP, innermost last. */
  readonly #gpFrames: number[] = [];
  /** KVM_EXIT_IOAPIC_EOI exits seen, and their vectors. */
  eoiExits = 0;
  readonly eoiVectors = new Set<number>();
  /** The last exit that was no part of the monitor protocol (0 before any). */
  exitReason = 0;
  eoiVector = 0;

  /**
   * The vector this vCPU took last and how many times in a row with no command in
   * between: a level line re-delivered at every EOI. KVM's IOAPIC delays the
   * re-delivery after {@link EOI_STORM_LIMIT} of them by 10 ms of the host's
   * clock (`kvm_ioapic_eoi_inject_work`), which no scenario can pace: what
   * the guest sees after that depends on how long the host took, so the
   * backend refuses the run at {@link STORM_TAKES}. (A handler's own EOI is
   * a command: a storm EOI'd by its handler is not caught.)
   */
  stormVector = -1;
  stormTakes = 0;

  constructor(readonly vm: KvmBackedVm, readonly index: number, readonly kvm: KvmVcpu) {}

  get name(): string {
    return `vcpu${this.index}`;
  }

  /** See {@link ExitObserver}. */
  ioapicEoi(vector: number): void {
    this.eoiExits++;
    this.eoiVectors.add(vector);
    this.eoiVector = vector;
    this.exitReason = KVM_EXIT.IOAPIC_EOI;
  }

  get halted(): boolean {
    return this.#halted;
  }

  /**
   * Where the vCPU is when not in the monitor: `wait`, waiting for INIT
   * and SIPI (KVM_MP_STATE_UNINITIALIZED or INIT_RECEIVED); `started`,
   * reset by INIT (the BSP) or started by a SIPI, at the CS:IP KVM set,
   * and not run since. A started vCPU enters the monitor (its "firmware")
   * the first time it has to execute something, so until then its CS and
   * RIP read as KVM left them.
   */
  outside: "none" | "wait" | "started" = "none";

  /** Puts the vCPU in the monitor and runs it to the monitor's first exit. */
  enterMonitor(): void {
    enterMonitor(this.kvm, this.index, this.vm.image);
    const first = runUntilStop(this.kvm, this);
    if (first.at !== "monitor") throw new Error(`${this.name} did not reach its monitor`);
    this.outside = "none";
  }

  /** An ICR low word was written: an INIT or Start-up IPI resets or starts vCPUs. */
  noteIcr(low: number): void {
    const mode = fieldGet(ICR_DELIVERY_MODE, low);
    if (mode === DeliveryMode.INIT || mode === DeliveryMode.StartUp) this.vm.initSent = true;
  }

  /**
   * Lets KVM process a pending INIT or SIPI (KVM_GET_MP_STATE runs
   * kvm_apic_accept_events) and follows it: 2 if the vCPU was reset, 1 if
   * a SIPI started it, else 0.
   */
  service(): number {
    if (!this.vm.initSent) return 0;
    const mp = this.kvm.getMpState();
    if (this.outside === "wait") {
      if (mp !== KVM_MP_STATE.RUNNABLE) return 0;
      this.outside = "started";
      return 1;
    }
    // An INIT resets CS to 0xf000 (base 0xffff0000); the monitor's CS is 0.
    const cs = this.kvm.getSregs().cs;
    const reset = cs.selector === 0xf000 && cs.base === 0xffff_0000n;
    if (!reset || (this.outside === "started" && mp === KVM_MP_STATE.RUNNABLE)) return 0;
    this.outside = mp === KVM_MP_STATE.RUNNABLE ? "started" : "wait";
    this.interruptFlag = false;
    this.#shadow = this.#shadowFresh = false;
    this.#halted = false;
    this.#pending = undefined;
    this.frames.length = 0;
    this.#gpTakes = 0;
    this.#gpFrames.length = 0;
    return 2;
  }

  /** Before the guest runs: a waiting vCPU executes nothing, a started one enters the monitor. */
  #ready(): void {
    if (this.vm.initSent) this.service();
    if (this.outside === "started") this.enterMonitor();
    if (this.outside === "wait") {
      const mp = this.kvm.getMpState();
      throw new CommandInputError(
        `${this.name} executes nothing: it waits for ${
          mp === KVM_MP_STATE.UNINITIALIZED ? "INIT and SIPI" : "a SIPI"
        } (mp_state ${mp})`,
      );
    }
  }

  /** KVM_SET_VCPU_EVENTS put an interrupt in flight: the next probe runs whatever IF says. */
  injectedByVmm = false;

  /** Runs one monitor action. */
  act(action: number, ecx = 0, eax = 0, edx = 0): "done" | "gp" {
    this.#ready();
    // KVM injects a pending NMI whenever the guest runs; the model takes one only at `run`.
    if (this.#pending || (this.vm.nmiSent && this.nmiDeliverable())) {
      throw new BackendUnsupported(
        "an NMI (or an interrupt after IRET) is due while the guest has an action to run: " +
          "KVM would deliver it before the action, the model only at the next 'run'",
      );
    }
    post(this.vm.mem, this.index, action, ecx, eax, edx);
    const stop = runUntilStop(this.kvm, this);
    if (stop.at === "monitor") return "done";
    if (stop.at === "gp") {
      this.gpFaults++;
      post(this.vm.mem, this.index, Action.SkipFault);
      const back = runUntilStop(this.kvm, this);
      if (back.at !== "monitor") throw new Error("the #GP handler did not return to the monitor");
      this.#gpTakes++;
      return "gp";
    }
    throw new BackendUnsupported(
      `the guest entered a handler (${stop.at}) in the middle of an action, which the monitor ` +
        "cannot resume",
    );
  }

  /** KVM_GET_VCPU_EVENTS: an NMI is queued and the vCPU is not blocking NMIs. */
  nmiDeliverable(): boolean {
    const e = this.kvm.getEvents();
    return (e.nmi.pending !== 0 || e.nmi.injected !== 0) && e.nmi.masked === 0;
  }

  sti(): void {
    this.#ready();
    this.interruptFlag = true;
    this.#shadow = true;
    this.#shadowFresh = true;
  }

  cli(): void {
    this.#ready();
    this.interruptFlag = false;
  }

  hlt(): void {
    this.#ready();
    this.#halted = true;
  }

  canTake(): boolean {
    if (this.#pending || this.#gpTakes > 0) return true;
    // Waiting for SIPI, or started by one and running code irqlab does not model (IF=0).
    if (this.outside !== "none") return false;
    const nmi = this.vm.nmiSent && this.nmiDeliverable();
    // KVM_SET_VCPU_EVENTS' interrupt.injected is re-injected at the next entry, IF or not.
    const injected = this.injectedByVmm && this.kvm.getEvents().interrupt.injected !== 0;
    if (!injected) this.injectedByVmm = false;
    if (!nmi && !injected && (!this.interruptFlag || this.#shadow)) return false;
    // An NMI needs no open IF: one instruction boundary is enough.
    post(this.vm.mem, this.index, nmi || injected ? Action.Nop : Action.ProbeSti);
    const stop = runUntilStop(this.kvm, this);
    if (stop.at === "monitor") return false;
    this.#pending = this.#entered(stop);
    return true;
  }

  /**
   * What an entry into the guest's vector table was. Real mode shares slots:
   * 13 is #GP and vector 13 (STI, NOP, OUT and CLI raise nothing, so it is
   * the interrupt), 2 is the NMI and vector 2 (which only an 8259 with
   * vector base 0 sends: before anything could send an NMI, it is that).
   */
  #entered(stop: ReturnType<typeof runUntilStop>): ReturnType<typeof runUntilStop> {
    if (stop.at === "gp") return { at: "vector", vector: 13 };
    if (stop.at === "nmi" && !this.vm.nmiSent) return { at: "vector", vector: 2 };
    return stop;
  }

  take(): Taken {
    if (this.#pending === undefined && this.#gpTakes > 0) return this.#takeGp();
    const stop = this.#pending!;
    const v = stop.at === "vector" ? stop.vector : -1;
    // Per vCPU: two storms on two vCPUs interleave their takes.
    this.stormTakes = v === this.stormVector ? this.stormTakes + 1 : 1;
    this.stormVector = v;
    // With no command in between, only a level line re-delivered at every
    // EOI brings the same vector back; nothing in the scenario can end the
    // storm, so it will reach KVM's storm guard, whose timing is the host's.
    if (v >= 0 && this.stormTakes >= STORM_TAKES) {
      throw new BackendUnsupported(
        `vector 0x${v.toString(16)} taken ${STORM_TAKES} times in a row with no command in ` +
          `between: a level storm, which after ${EOI_STORM_LIMIT} EOIs KVM's IOAPIC delays by ` +
          "10 ms of the host's clock, which the scenario's virtual time cannot pace",
      );
    }
    this.#pending = undefined;
    this.#halted = false;
    this.frames.push(this.interruptFlag);
    this.interruptFlag = false;
    const trace = this.vm.trace;
    const kind = stop.at === "nmi" ? "nmi" : "vector";
    const vector = stop.at === "vector" ? stop.vector : -1;
    const what = kind === "nmi" ? "NMI" : `0x${vector.toString(16)}`;
    const event = trace.enabled
      ? trace.emit(this.name, "took", `${what} (guest handler entered)`)
      : 0;
    return { kind, vector, cause: 0, event };
  }

  retire(): boolean {
    if (this.#shadowFresh) {
      this.#shadowFresh = false;
      return true;
    }
    if (!this.#shadow) return false;
    this.#shadow = false;
    return true;
  }

  /** A #GP the monitor already returned past, reported as the model takes it. */
  #takeGp(): Taken {
    this.#gpTakes--;
    this.#halted = false;
    this.frames.push(this.interruptFlag);
    this.#gpFrames.push(this.frames.length);
    this.interruptFlag = false;
    const trace = this.vm.trace;
    const event = trace.enabled
      ? trace.emit(this.name, "took", "#GP (fixed up past the action by the guest's handler)")
      : 0;
    return { kind: "exception", vector: 13, cause: 0, event };
  }

  returnFromInterrupt(): void {
    if (this.frames.length === 0) return;
    if (this.#gpFrames.at(-1) === this.frames.length) {
      // The guest already left this handler: the monitor fixed the fault up.
      this.#gpFrames.pop();
      this.interruptFlag = this.frames.pop()!;
      return;
    }
    // The guest's IRET returns into the probe, which goes on to CLI and the monitor.
    this.interruptFlag = this.frames.pop()!;
    post(this.vm.mem, this.index, Action.Iret);
    const stop = runUntilStop(this.kvm, this);
    if (stop.at !== "monitor") this.#pending = this.#entered(stop);
  }

  /** KVM_GET_LAPIC. */
  lapic(): Uint8Array {
    return this.kvm.getLapic();
  }

  /** Whether the guest's LAPIC is in x2APIC mode (IA32_APIC_BASE.EXTD). */
  x2apic(): boolean {
    return ((this.kvm.getMsr(IA32_APIC_BASE) ?? 0n) & APIC_BASE_EXTD) !== 0n;
  }

  /** A LAPIC register write as the guest does it: MMIO, or WRMSR in x2APIC mode. */
  lapicWrite(offset: number, value: number): void {
    if (offset === LAPIC_TIMER_INITIAL) unsupportedTimer();
    // An ICR or LVT entry in NMI mode sends NMIs; from then on they are looked for.
    if (sendsNmi(offset, value)) this.vm.nmiSent = true;
    if (offset === LAPIC_ICR_LOW) this.noteIcr(value);
    if (this.x2apic()) this.act(Action.Wrmsr, x2apicMsr(offset), value, 0);
    else this.act(Action.LapicWrite, offset, value);
  }

  /** A LAPIC register read as the guest does it. */
  lapicRead(offset: number): number | bigint {
    if (this.x2apic()) {
      if (this.act(Action.Rdmsr, x2apicMsr(offset)) === "gp") return GP_FAULT;
      return result(this.vm.mem, this.index, "outEax");
    }
    this.act(Action.LapicRead, offset);
    return result(this.vm.mem, this.index, "outEax");
  }
}

function unsupportedTimer(): never {
  throw new BackendUnsupported(
    "the LAPIC timer: KVM's runs on the host clock, not the scenario's virtual time",
  );
}

/**
 * A scenario VM backed by a KVM VM.
 *
 * @example
 * ```ts
 * import { type Val } from "../arm/engine_types.ts";
 * import { type ModelEnv } from "../../mod.ts";
 * declare const env: ModelEnv, settings: Record<string, Val>;
 * const vm = kvmPlatform().create("g", settings, env);
 * vm.dispose?.();
 * ```
 */
export class KvmBackedVm implements VmModel {
  readonly cpus: KvmBackedCpu[] = [];
  readonly sys: KvmSystem;
  readonly vm: KvmVm;
  readonly mem: Uint8Array<ArrayBuffer>;
  readonly image: GuestImage;
  readonly irqchip: "kernel" | "split";
  readonly trace: ModelEnv["trace"];
  /**
   * Whether anything may have sent an NMI: until then the backend skips
   * the KVM_GET_VCPU_EVENTS that each step would otherwise cost.
   */
  nmiSent = false;
  /** Likewise for INIT and SIPI, which reset or start vCPUs behind the backend's back. */
  initSent = false;
  /**
   * The GSI routing table KVM holds (its default, QEMU's, or the last one
   * KVM_SET_GSI_ROUTING accepted) and the level this VMM last drove on
   * each GSI: KVM does not report an IOAPIC pin's input line (its `irr`
   * drops an edge once delivered), but the VMM knows what it drives.
   */
  routes: KvmIrqRoutingEntry[] = [];
  readonly levels = new Map<number, number>();
  /** Guest RAM as the model's mem commands see it (the monitor's own pages refused). */
  readonly ram: GuestMemory;
  /** The scenario's eventfd numbers and the real eventfds behind them, made on first use. */
  readonly #eventfds = new Map<number, number>();
  /** Signals read so far from each eventfd KVM signals (resamplefds). */
  readonly #signalled = new Map<number, number>();
  /** The irqfds KVM accepted, to know what a signal must wait for. */
  readonly #irqfds: { fd: number; gsi: number; resample: boolean }[] = [];
  /** The scenario fds KVM signals (resamplefds): only these are counted. */
  readonly #resamplefds = new Set<number>();
  /** Eventfds the device signalled while no irqfd listened (their count is still there). */
  readonly #unread = new Set<number>();

  constructor(readonly name: string, s: Readonly<Record<string, Val>>, env: ModelEnv) {
    refuseSettings(s);
    this.trace = env.trace;
    this.irqchip = s.irqchip as "kernel" | "split";
    this.sys = System.open();
    try {
      this.vm = this.sys.createVm();
      // Intel needs a TSS region for real mode; harmless elsewhere.
      this.vm.setTssAddr(0xfffb_d000);
      if (this.irqchip === "kernel") this.vm.createIrqchip();
      else this.vm.enableSplitIrqchip((s.split_pins as number | undefined) ?? KVM_IOAPIC_NUM_PINS);
      if ((s.x2apic_api as number) !== 0) {
        this.vm.enableCap(KVM_CAP.X2APIC_API, [BigInt(s.x2apic_api as number)]);
      }
      this.mem = this.vm.addMemory(0, 0n, GUEST_MEMORY);
      this.ram = new GuestMemory(GUEST_MEMORY, this.mem);
      this.image = loadGuest(this.mem);
      const cpuid = this.sys.supportedCpuid();
      if ((s.boot_cpu as number | undefined ?? 0) !== 0) {
        throw new BackendUnsupported(
          "'boot_cpu': the guest monitor starts from vCPU 0 as the BSP (no KVM_SET_BOOT_CPU_ID)",
        );
      }
      if ((s.hyperv_synic as number | undefined ?? 0) > 1 || s.hyperv_cpuid === 1) {
        throw new BackendUnsupported(
          "'hyperv_synic 2' and 'hyperv_cpuid 1': the backend sets no Hyper-V CPUID leaves",
        );
      }
      if (s.hyperv_synic === 1 && this.sys.checkExtension(KVM_CAP.HYPERV_SYNIC) <= 0) {
        throw new BackendUnsupported("'hyperv_synic 1': this KVM offers no KVM_CAP_HYPERV_SYNIC");
      }
      for (let n = 0; n < (s.vcpus as number); n++) {
        const kvm = this.vm.createVcpu(n);
        if (s.hyperv_synic === 1) kvm.enableCap(KVM_CAP.HYPERV_SYNIC);
        // KVM's supported CPUID offers x2APIC (leaf 1 ECX bit 21) with an in-kernel LAPIC.
        // The initial APIC IDs, as a VMM writes them: leaf 1 EBX[31:24], leaf 0xB EDX.
        kvm.setCpuid(
          cpuid.map((e) =>
            e.function === 1
              ? { ...e, ebx: (e.ebx & 0xffffff) | (n << 24) }
              : e.function === 0xb
              ? { ...e, edx: n }
              : e
          ),
        );
        if (s.lapic === "x2apic") {
          const base = kvm.getMsr(IA32_APIC_BASE)!;
          kvm.setMsr(IA32_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
        }
        const cpu = new KvmBackedCpu(this, n, kvm);
        this.cpus.push(cpu);
        // KVM creates APs UNINITIALIZED; left so, they wait for INIT and SIPI untouched.
        if (n > 0 && s.aps === "wait-for-sipi") cpu.outside = "wait";
        else {
          // APs start running, as the model's default (firmware brought them up).
          if (n > 0) kvm.setMpState(KVM_MP_STATE.RUNNABLE);
          cpu.enterMonitor();
        }
      }
      if (s.routing === "qemu") {
        this.routes = GsiRouting.qemuDefault().map(toKvmRoute);
        const r = this.vm.setGsiRouting(this.routes);
        if (r < 0) throw new Error(`KVM_SET_GSI_ROUTING (QEMU's table) failed: ${r}`);
      } else if (this.irqchip === "kernel") {
        this.routes = GsiRouting.kvmDefault().map(toKvmRoute);
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** KVM_IRQ_LINE_STATUS, remembering the level driven. */
  irqLine(gsi: number, level: number): number {
    this.levels.set(gsi, level);
    return this.vm.irqLineStatus(gsi, level);
  }

  /** KVM_SET_GSI_ROUTING, remembering the table KVM accepted. */
  setGsiRouting(entries: KvmIrqRoutingEntry[], flags = 0): number {
    const r = this.vm.setGsiRouting(entries, flags);
    if (r === 0) this.routes = entries;
    return r;
  }

  /**
   * The level of IOAPIC pin `pin`'s input: high while a GSI routed to it is
   * driven high by this VMM, or, for a level-triggered entry, while KVM's
   * `irr` has it (an irqfd's resampler keeps its own level there).
   */
  pinLine(pin: number): number {
    const driven = this.routes.some((e) =>
      e.type === "irqchip" && e.irqchip === KvmIrqchip.Ioapic && e.pin === pin &&
      this.levels.get(e.gsi) === 1
    );
    if (driven || this.#irqfds.length === 0) return Number(driven);
    const io = this.vm.getIoapic();
    const level = decodeField(x86RteField("trigger")!, io.redirtbl[pin]) === "level";
    return Number(level && ((io.irr >>> pin) & 1) === 1);
  }

  /**
   * Refuses a guest-memory access to the guest monitor's own pages (IVT,
   * mailboxes, code, handler stubs, the vCPUs' stacks): on KVM they hold
   * what runs the scenario; the rest of the 2 MiB is the scenario's.
   */
  checkScratch(addr: number, length: number): void {
    const stubsEnd = Layout.stubs + 256 * Layout.stubSize;
    const stacksEnd = Layout.stack + Layout.stackStride * this.cpus.length;
    const end = addr + length;
    if (addr >= GUEST_MEMORY) {
      // The model answers a vCPU's access here from the LAPIC page or the I/O APIC window.
      throw new BackendUnsupported(
        `guest access at 0x${addr.toString(16)}: outside the monitor's RAM, where an in-kernel ` +
          `APIC may answer; the guest monitor issues no MMIO loads or stores`,
      );
    }
    if (end > GUEST_MEMORY) {
      throw new CommandInputError(
        `a ${length}-byte access at 0x${addr.toString(16)} is outside guest RAM (0x0..0x${
          (GUEST_MEMORY - 1).toString(16)
        })`,
      );
    }
    if (addr < stubsEnd || (end > Layout.stack && addr < stacksEnd)) {
      throw new BackendUnsupported(
        `guest memory at 0x${addr.toString(16)}: the guest monitor's own pages ` +
          `(0x0-0x${(stubsEnd - 1).toString(16)} and 0x${Layout.stack.toString(16)}-0x${
            (stacksEnd - 1).toString(16)
          }); use other addresses on KVM`,
      );
    }
  }

  /** The real eventfd behind the scenario's fd number `n`. */
  #eventfd(n: number): number {
    let fd = this.#eventfds.get(n);
    if (fd === undefined) {
      fd = createEventfd();
      this.#eventfds.set(n, fd);
    }
    return fd;
  }

  /** KVM_IRQFD with the scenario's fd numbers mapped to real eventfds: 0 or -errno. */
  irqfd(fd: number, gsi: number, flags: number, resamplefd: number): number {
    const resample = (flags & KVM_IRQFD_FLAG.RESAMPLE) !== 0;
    const r = this.vm.irqfd(
      this.#eventfd(fd),
      gsi,
      flags,
      resample ? this.#eventfd(resamplefd) : 0,
    );
    if (r === 0) {
      if (flags & KVM_IRQFD_FLAG.DEASSIGN) {
        for (let i = this.#irqfds.length - 1; i >= 0; i--) {
          if (this.#irqfds[i].fd === fd && this.#irqfds[i].gsi === gsi) this.#irqfds.splice(i, 1);
        }
        // irqfd_shutdown read the count.
        this.#unread.delete(fd);
      } else {
        const q = { fd, gsi, resample };
        this.#irqfds.push(q);
        if (resample) this.#resamplefds.add(resamplefd);
        // kvm_irqfd_assign found the eventfd readable and scheduled irqfd_inject.
        if (this.#unread.has(fd)) this.#awaitInjection(q, true);
      }
    }
    return r;
  }

  /**
   * A device's write to eventfd `n`. KVM injects a plain irqfd on an MSI
   * route inside the write, but anything through an irqchip pin (and every
   * resampling irqfd) from a workqueue (`irqfd_inject`): a resampling
   * irqfd is waited for until its pin's input shows high, any other
   * irqchip-routed one for a fixed {@link IRQFD_SETTLE_MS}.
   */
  signal(n: number): void {
    signalEventfd(this.#eventfd(n));
    const mine = this.#irqfds.filter((q) => q.fd === n);
    if (mine.length === 0) this.#unread.add(n);
    else this.#unread.delete(n);
    for (const q of mine) this.#awaitInjection(q, false);
  }

  /**
   * Waits for KVM's `irqfd_inject` work for `q`: a resampled pin until its
   * input shows high, anything else through an irqchip pin (or any
   * injection scheduled at assignment, MSI included) for a fixed settle.
   */
  #awaitInjection(q: { gsi: number; resample: boolean }, atAssign: boolean): void {
    const routes = this.routes.filter((e) => e.gsi === q.gsi && e.type === "irqchip");
    if (!q.resample) {
      if (atAssign || routes.length > 0) sleepMs(IRQFD_SETTLE_MS);
      return;
    }
    const deadline = performance.now() + IRQFD_WAIT_MS;
    while (!routes.every((e) => this.#chipInputHigh(e))) {
      if (performance.now() > deadline) {
        throw new BackendUnsupported(
          `KVM's irqfd work for GSI ${q.gsi} did not run within ${IRQFD_WAIT_MS} ms`,
        );
      }
      sleepMs(1);
    }
  }

  /**
   * Whether the irqchip pin a route names sees its input high (PIC last_irr,
   * I/O APIC irr). An unmasked edge I/O APIC pin's delivered edge is hidden
   * from KVM_GET_IRQCHIP (`irr & ~irr_delivered`): its injection shows as
   * the entry's vector in some vCPU's LAPIC IRR instead (a vector already
   * there before the signal would pass the wait early).
   */
  #chipInputHigh(e: KvmIrqRoutingEntry): boolean {
    if (e.type !== "irqchip") return true;
    if (e.irqchip !== KvmIrqchip.Ioapic) {
      return ((this.vm.getPic(e.irqchip as 0 | 1).last_irr >> e.pin) & 1) === 1;
    }
    const io = this.vm.getIoapic();
    if (((io.irr >>> e.pin) & 1) === 1) return true;
    const rte = io.redirtbl[e.pin];
    if (decodeField(x86RteField("trigger")!, rte) === "level" || ((rte >> 16n) & 1n) === 1n) {
      return false;
    }
    const vector = Number(rte & 0xffn);
    return this.cpus.some((c) => {
      const irr = new DataView(c.lapic().buffer).getUint32(0x200 + 0x10 * (vector >> 5), true);
      return ((irr >>> (vector & 31)) & 1) === 1;
    });
  }

  /** How many times KVM has signalled eventfd `n` so far (a resamplefd's count). */
  signalled(n: number): number {
    const fd = this.#eventfds.get(n);
    const before = this.#signalled.get(n) ?? 0;
    if (fd === undefined || !this.#resamplefds.has(n)) return before;
    const now = before + drainEventfd(fd);
    this.#signalled.set(n, now);
    return now;
  }

  /** Closes the VM and /dev/kvm (the interpreter calls it when the scenario ends). */
  dispose(): void {
    for (const fd of this.#eventfds.values()) closeFd(fd);
    this.#eventfds.clear();
    this.vm?.close();
    this.sys.close();
    closeLibc();
  }
}

function refuseSettings(s: Readonly<Record<string, Val>>): void {
  const why = s.hypervisor !== "kvm"
    ? `'hypervisor ${s.hypervisor}': this KVM has no Xen support`
    : s.irqchip === "userspace"
    ? "'irqchip userspace': the guest monitor needs an in-kernel LAPIC"
    : s.lowest_priority !== "kvm-vector-hashing"
    ? "'lowest_priority first' is QEMU TCG's choice; KVM always does its own"
    : s.ioapic_version !== undefined && s.ioapic_version !== 0x11
    ? "'ioapic_version 0x20': KVM's in-kernel I/O APIC is version 0x11"
    : s.apicv === "amd_avic"
    ? "'apicv amd_avic': whether the host's KVM uses AVIC is the host's choice (kvm_amd's avic)"
    : s.host_cpu === "amd"
    ? "'host_cpu amd': the backend's guest runs on the host's own CPU"
    : s.split_ioapic !== undefined && s.split_ioapic !== "none"
    ? "'split_ioapic qemu': the backend plays no userspace I/O APIC"
    : s.tsc_khz !== undefined && s.tsc_khz !== 0
    ? "'tsc_khz': the backend's guest runs at the host's TSC rate, not the scenario's"
    : undefined;
  if (why) throw new BackendUnsupported(why);
}

function toKvmRoute(e: RoutingEntry): KvmIrqRoutingEntry {
  if (e.type === "irqchip") {
    return { gsi: e.gsi, type: "irqchip", irqchip: e.irqchip, pin: e.pin };
  }
  if (e.type === "msi") {
    return {
      gsi: e.gsi,
      type: "msi",
      address_lo: e.addressLo,
      address_hi: e.addressHi,
      data: e.data,
    };
  }
  throw new BackendUnsupported(`a '${e.type}' routing entry: this KVM has no Xen support`);
}

// ---- commands ----------------------------------------------------------------------

/** A command performed on a KVM-backed VM: `cpu` is the acting vCPU, or -1. */
export type Run = (vm: KvmBackedVm, cpu: number, a: Args) => Val | void;

function composeValue(a: Args): bigint {
  const r = a.$register!;
  if (r.raw !== undefined) return r.raw;
  let v = 0n;
  for (const [f, n] of r.fields) v = setField(f, v, Number(BigInt.asUintN(f.width, BigInt(n))));
  return v;
}

function isLapic(a: Args): boolean {
  return a.$register!.file.prefix === "lapic";
}

function ioapicPin(vm: KvmBackedVm, pin: number): void {
  if (pin >= KVM_IOAPIC_NUM_PINS) {
    throw new CommandInputError(
      `this vm's IOAPIC has ${KVM_IOAPIC_NUM_PINS} pins: there is no redtbl[${pin}]`,
    );
  }
  if (vm.irqchip !== "kernel") {
    throw new BackendUnsupported(
      "an IOAPIC access with 'irqchip split': the IOAPIC is the VMM's, which irqlab does not run",
    );
  }
}

const IOAPIC_INDEX: Record<string, number> = { id: 0x00, version: 0x01, arb: 0x02 };
/** The IOAPIC's own MMIO registers, by offset from its base (IOREGSEL, IOWIN, EOI). */
const IOAPIC_MMIO: Record<string, number> = { ioregsel: IOREGSEL, iowin: IOWIN, eoi: 0x40 };

/** A command KVM cannot be asked to perform, and why (the scenario is skipped). */
export interface Refusal {
  /** The reason, after the command's name in the skip message. */
  readonly refused: string;
}

/**
 * How each x86 command is performed on KVM, by its `backend` trait: a
 * record over every key, so a command the backend does not bind does not
 * compile.
 *
 * @example
 * ```ts
 * typeof KVM_OPS["KVM_SIGNAL_MSI"] === "function"; // true: an ioctl
 * ```
 */
export const KVM_OPS: Readonly<Record<X86BackendOp, Run | Refusal>> = {
  sti: (vm, c) => vm.cpus[c].sti(),
  cli: (vm, c) => vm.cpus[c].cli(),
  hlt: (vm, c) => vm.cpus[c].hlt(),
  nop: (vm, c) => void vm.cpus[c].act(Action.Nop),
  "lapic eoi": (vm, c) => vm.cpus[c].lapicWrite(LAPIC_EOI, 0),
  "lapic svr enable": (vm, c, a) =>
    vm.cpus[c].lapicWrite(LAPIC_SVR, SVR_ENABLE | (a.spurious as number)),
  "lapic svr disable": (vm, c, a) => vm.cpus[c].lapicWrite(LAPIC_SVR, a.spurious as number),
  "register write": (vm, c, a) => {
    const r = a.$register!;
    const value = composeValue(a);
    const cpu = vm.cpus[c];
    if (isLapic(a)) return cpu.lapicWrite(offsetOf(r.register.name), Number(value & 0xffff_ffffn));
    if (r.register.name === "redtbl") {
      ioapicPin(vm, r.index);
      const w = splitWords(value);
      // High dword first, so the entry is complete when the low dword (with the mask) lands.
      cpu.act(Action.IoapicWrite, IOREGSEL, IOREDTBL + 2 * r.index + 1);
      cpu.act(Action.IoapicWrite, IOWIN, w.high);
      cpu.act(Action.IoapicWrite, IOREGSEL, IOREDTBL + 2 * r.index);
      cpu.act(Action.IoapicWrite, IOWIN, w.low);
      return;
    }
    ioapicPin(vm, 0);
    const mmio = IOAPIC_MMIO[r.register.name];
    if (mmio !== undefined) {
      return void cpu.act(Action.IoapicWrite, mmio, Number(value & 0xffff_ffffn));
    }
    cpu.act(Action.IoapicWrite, IOREGSEL, IOAPIC_INDEX[r.register.name]);
    cpu.act(Action.IoapicWrite, IOWIN, Number(value & 0xffff_ffffn));
  },
  "register read": (vm, c, a) => {
    const r = a.$register!;
    const cpu = vm.cpus[c];
    if (isLapic(a)) return cpu.lapicRead(offsetOf(r.register.name));
    const word = (index: number) => {
      cpu.act(Action.IoapicWrite, IOREGSEL, index);
      cpu.act(Action.IoapicRead, IOWIN);
      return result(vm.mem, c, "outEax");
    };
    if (r.register.name === "redtbl") {
      ioapicPin(vm, r.index);
      const hi = word(IOREDTBL + 2 * r.index + 1);
      return joinWords(word(IOREDTBL + 2 * r.index), hi);
    }
    ioapicPin(vm, 0);
    const mmio = IOAPIC_MMIO[r.register.name];
    if (mmio !== undefined) {
      cpu.act(Action.IoapicRead, mmio);
      return result(vm.mem, c, "outEax");
    }
    return word(IOAPIC_INDEX[r.register.name]);
  },
  "lapic icr": (vm, c, a) => {
    const cpu = vm.cpus[c];
    if (a.delivery_mode === "smi") throw new BackendUnsupported("SMI IPIs: the guest has no SMM");
    if (a.delivery_mode === "nmi") vm.nmiSent = true;
    if (a.delivery_mode === "init" || a.delivery_mode === "startup") vm.initSent = true;
    const low = encodeFields(ICR_LOW_FIELDS, {
      vector: a.vector as number,
      delivery_mode: a.delivery_mode as string,
      dest_mode: a.dest_mode as string,
      level: a.level as number,
      trigger: a.trigger as string,
      shorthand: a.shorthand as string,
    });
    const dest = a.dest as number;
    if (cpu.x2apic()) {
      // One 64-bit WRMSR of the ICR (0x830): EDX is the destination.
      cpu.act(Action.Wrmsr, x2apicMsr(LAPIC_ICR_LOW), low, dest);
      return;
    }
    if (dest > 0xff) {
      throw new CommandInputError(
        `an xAPIC destination is 8 bits, not 0x${
          dest.toString(16)
        }: enter x2APIC mode for 32-bit IDs`,
      );
    }
    cpu.act(Action.LapicWrite, LAPIC_ICR_HIGH, encodeFields(ICR_HIGH_FIELDS, { dest }));
    cpu.act(Action.LapicWrite, LAPIC_ICR_LOW, low);
  },
  rdmsr: (vm, c, a) => {
    const cpu = vm.cpus[c];
    if (cpu.act(Action.Rdmsr, a.msr as number) === "gp") return GP_FAULT;
    return joinWords(result(vm.mem, c, "outEax"), result(vm.mem, c, "outEdx"));
  },
  wrmsr: (vm, c, a) => {
    const msr = a.msr as number;
    if (msr === IA32_TSC_DEADLINE || msr === x2apicMsr(LAPIC_TIMER_INITIAL)) {
      unsupportedTimer();
    }
    // The x2APIC ICR and LVTs in NMI mode send NMIs.
    const reg = LAPIC_REGISTERS.find((r) => r.msr === msr);
    if (reg && sendsNmi(reg.offset, Number(BigInt(a.value as bigint) & 0xffff_ffffn))) {
      vm.nmiSent = true;
    }
    if (msr === x2apicMsr(LAPIC_ICR_LOW)) {
      vm.cpus[c].noteIcr(Number(BigInt(a.value as bigint) & 0xffff_ffffn));
    }
    const w = splitWords(BigInt(a.value as bigint));
    return vm.cpus[c].act(Action.Wrmsr, msr, w.low, w.high) === "gp" ? GP_FAULT : 0;
  },
  "apic base x2apic": (vm, c) => {
    const cpu = vm.cpus[c];
    const base = cpu.kvm.getMsr(IA32_APIC_BASE)! | APIC_BASE_EN | APIC_BASE_EXTD;
    const w = splitWords(base);
    return cpu.act(Action.Wrmsr, IA32_APIC_BASE, w.low, w.high) === "gp" ? GP_FAULT : 0;
  },
  "port out": (vm, c, a) =>
    void vm.cpus[c].act(Action.Out, ownPort(a.port as number), a.value as number),
  "port in": (vm, c, a) => {
    vm.cpus[c].act(Action.In, ownPort(a.port as number));
    return result(vm.mem, c, "outEax");
  },
  "mov ss": { refused: "the guest monitor has no MOV SS action" },
  "int n": { refused: "the guest monitor has no INT n action (its IDT has no such entries)" },
  "pv eoi": {
    refused: "the guest monitor enables no PV EOI (MSR_KVM_PV_EOI_EN) and has no such action",
  },
  "KVM_TSC_ATTR": { refused: "the backend sets and reads no vCPU TSC offset (KVM_VCPU_TSC_CTRL)" },
  "host rdtsc": { refused: "the backend's TSC is the host's, not the model's time" },
  "qemu irqfd_notifier": {
    refused: "QEMU's emulated resamplefd belongs to its userspace I/O APIC, which the backend " +
      "does not play",
  },
  "div": { refused: "the guest monitor has no DIV action (and no #DE handler in its IDT)" },
  "add": { refused: "the guest monitor has no ADD action whose flags a scenario could use" },
  "into": { refused: "the guest monitor has no INTO action (and no #OF handler in its IDT)" },
  "iret": { refused: "the guest monitor has no IRET action of its own (it runs in real mode)" },
  "idt gate": { refused: "the guest monitor's IDT is its own; a scenario cannot edit its gates" },
  "mov cr8": { refused: "CR8 exists only in 64-bit mode, and the guest runs in real mode" },
  "mov cr4": { refused: "the guest monitor has no MOV to CR4 action" },
  "lapic inta probe": {
    refused: "a model probe: KVM runs the acknowledge cycle only when it injects",
  },
  "pic inta probe": { refused: "a model probe: KVM runs the INTA cycle only when it injects" },
  "KVM_IRQ_LINE_STATUS": (vm, _c, a) => vm.irqLine(a.gsi as number, a.level as number),
  "KVM_SIGNAL_MSI": (vm, _c, a) =>
    vm.vm.signalMsi(a.address as number, a.address_hi as number, msiData(vm, a.data as number)),
  "KVM_SET_GSI_ROUTING": (vm, _c, a) =>
    vm.setGsiRouting(a.$entries!.map(routeOf), a.flags as number),
  "KVM_INTERRUPT": (vm, _c, a) => vm.cpus[a.vcpu as number].kvm.interrupt(a.vector as number),
  "KVM_NMI": (vm, _c, a) => {
    vm.nmiSent = true;
    vm.cpus[a.vcpu as number].kvm.nmi();
    return 0;
  },
  "request_interrupt_window": {
    refused: "kvm_run.request_interrupt_window: the guest monitor does not follow IRQ-window exits",
  },
  "line high": (vm, _c, a) => vm.irqLine(a.gsi as number, 1),
  "line low": (vm, _c, a) => vm.irqLine(a.gsi as number, 0),
  "line pulse": (vm, _c, a) => {
    const r = vm.irqLine(a.gsi as number, 1);
    vm.irqLine(a.gsi as number, 0);
    return r;
  },
  "KVM_IRQFD": (vm, _c, a) =>
    vm.irqfd(a.fd as number, a.gsi as number, a.flags as number, a.resamplefd as number),
  "eventfd signal": (vm, _c, a) => vm.signal(a.fd as number),
  // The register page as KVM hands it over: no model fix-ups to mirror.
  "KVM_GET_LAPIC": (vm, _c, a) =>
    new DataView(vm.cpus[a.vcpu as number].kvm.getLapic().buffer).getUint32(
      a.offset as number,
      true,
    ),
  "KVM_SET_LAPIC": (vm, _c, a) => {
    const cpu = vm.cpus[a.vcpu as number].kvm;
    const page = cpu.getLapic();
    new DataView(page.buffer).setUint32(a.offset as number, a.value as number, true);
    return errnoOf(() => cpu.setLapic(page));
  },
  "KVM_GET_MSRS": (vm, _c, a) => {
    const v = vm.cpus[a.vcpu as number].kvm.getMsr(a.msr as number);
    return v === undefined ? -1 : toInt(v);
  },
  "KVM_SET_MSRS": (vm, _c, a) =>
    vm.cpus[a.vcpu as number].kvm.setMsr(a.msr as number, a.value as bigint) ? 1 : 0,
  "KVM_SET_CPUID2": {
    refused: "the guest monitor's CPUID is set before its first KVM_RUN, which a change " +
      "after it would fail",
  },
  "KVM_SET_MP_STATE": (vm, _c, a) =>
    errnoOf(() => vm.cpus[a.vcpu as number].kvm.setMpState(a.state as number)),
  "KVM_SET_VCPU_EVENTS": (vm, _c, a) => {
    const cpu = vm.cpus[a.vcpu as number];
    const ev = struct(SIZEOF.kvm_vcpu_events);
    for (const [k, off] of Object.entries(VCPU_EVENTS)) {
      const v = a[k];
      if (typeof v !== "number") continue;
      if (k === "exception_error_code" || k === "sipi_vector" || k === "flags") {
        ev.view.setUint32(off, v >>> 0, true);
      } else ev.view.setUint8(off, v);
    }
    // Flags and the NMI count, shadow and SMM fields as the scenario gave them.
    ev.view.setUint32(VCPU_EVENTS.flags, a.flags as number, true);
    if ((a.nmi_pending as number) > 0) vm.nmiSent = true;
    if (a.interrupt_injected === 1) cpu.injectedByVmm = true;
    return cpu.kvm.setEventsRaw(ev);
  },
  "KVM_GET_VCPU_EVENTS": (vm, _c, a) => {
    const v = vm.cpus[a.vcpu as number].kvm.getEventsRaw().view;
    const f = a.field as keyof typeof VCPU_EVENTS;
    const off = VCPU_EVENTS[f];
    return f === "exception_error_code" || f === "sipi_vector" || f === "flags"
      ? v.getUint32(off, true)
      : v.getUint8(off);
  },
  "KVM_ENABLE_CAP": (vm, _c, a) =>
    vm.vm.enableCapResult(a.cap as number, BigInt(a.arg as bigint), a.flags as number),
  "KVM_ENABLE_CAP vcpu": {
    refused: "the backend does not issue KVM_ENABLE_CAP on a vCPU fd yet",
  },
  "KVM_CHECK_EXTENSION": (vm, _c, a) =>
    a.scope === "system"
      ? vm.vm.system.checkExtension(a.cap as number)
      : vm.vm.checkExtension(a.cap as number),
  "KVM_GET_CLOCK": {
    refused: "the host's kvmclock and CLOCK_REALTIME are its own, not the scenario's virtual " +
      "time, so the model and /dev/kvm cannot agree on them",
  },
  "KVM_SET_CLOCK": {
    refused: "the host's kvmclock is its own, not the scenario's virtual time, so the model " +
      "and /dev/kvm cannot agree on it",
  },
  "KVM_SET_TSC_KHZ": {
    refused: "the backend's guest runs at the host's TSC rate, not the scenario's",
  },
  "KVM_GET_TSC_KHZ": {
    refused: "the host's TSC rate is its own, not the model's 1 GHz",
  },
  "KVM_X86_SETUP_MCE": {
    refused: "the backend does not issue the machine-check ioctls yet",
  },
  "KVM_X86_SET_MCE": {
    refused: "the backend does not issue the machine-check ioctls yet",
  },
  "KVM_X86_GET_MCE_CAP_SUPPORTED": {
    refused: "the backend does not issue the machine-check ioctls yet",
  },
  "KVM_CREATE_IRQCHIP": (vm) => vm.vm.createIrqchipResult(),
  "KVM_SET_BOOT_CPU_ID": (vm, _c, a) => vm.vm.setBootCpuIdResult(BigInt(a.id as bigint)),
  "KVM_GET_IRQCHIP": (vm, _c, a) => {
    const { chip, field, index } = irqchipArgs(a);
    const s = vm.vm.getIrqchip(chip);
    return typeof s === "number" ? s : irqchipRead(s.view, chip, field, index);
  },
  "KVM_SET_IRQCHIP": (vm, _c, a) => {
    const { chip, field, index } = irqchipArgs(a);
    const s = vm.vm.getIrqchip(chip);
    if (typeof s === "number") return s;
    irqchipWrite(s.view, chip, field, index, BigInt(a.value as bigint));
    return vm.vm.setIrqchip(s);
  },
  cpuid: (vm, c, a) => {
    const f = CPUID_FIELDS[a.field as string];
    vm.cpus[c].act(Action.Cpuid, f.leaf, 0);
    const out = { eax: "outEax", ebx: "outEbx", ecx: "outEcx", edx: "outEdx" } as const;
    return fieldGet(f.bits, result(vm.mem, c, out[f.reg]));
  },
  vmcall: {
    refused: "a real-mode VMCALL from the guest monitor never came back from KVM_RUN on the " +
      "development host (its PVM provider), so the backend does not issue one",
  },
  xen: { refused: "this KVM has no Xen support" },
  "hyperv hypercall": {
    refused: "the backend's guest monitor sets no Hyper-V CPUID and has no hypercall page",
  },
  KVM_HYPERV_EVENTFD: { refused: "the backend binds no Hyper-V connections" },
  "guest memory": (vm, _c, a) => {
    const w = ACCESS_SIZES[a.size as string];
    const addr = a.addr as number;
    vm.checkScratch(addr, w / 8);
    if (a.value === undefined) return toVal(vm.ram.readBig(addr, w));
    vm.ram.write(addr, w, BigInt(a.value as bigint));
  },
};

/** `kvm get_irqchip`'s and `set_irqchip`'s arguments as KVM numbers them, checked as the model checks them. */
function irqchipArgs(a: Args): { chip: number; field: string; index: number } {
  const name = a.chip as string, field = a.field as string, index = a.index as number;
  checkIrqchipField(name, field, index, KVM_IOAPIC_NUM_PINS);
  const chip = name === "pic_master"
    ? KVM_IRQCHIP.PIC_MASTER
    : name === "pic_slave"
    ? KVM_IRQCHIP.PIC_SLAVE
    : KVM_IRQCHIP.IOAPIC;
  return { chip, field, index };
}

/** Where a field of `struct kvm_irqchip`'s union is, and how wide. */
function irqchipSlot(chip: number, field: string, index: number): { at: number; bytes: number } {
  if (chip !== KVM_IRQCHIP.IOAPIC) {
    return { at: IRQCHIP.chip + PIC_STATE_FIELDS.indexOf(field as never), bytes: 1 };
  }
  const off = IOAPIC_STATE[field as keyof typeof IOAPIC_STATE];
  if (field === "redirtbl") return { at: IRQCHIP.chip + off + 8 * index, bytes: 8 };
  return { at: IRQCHIP.chip + off, bytes: field === "base_address" ? 8 : 4 };
}

function irqchipRead(v: DataView, chip: number, field: string, index: number): Val {
  const { at, bytes } = irqchipSlot(chip, field, index);
  if (bytes === 1) return v.getUint8(at);
  if (bytes === 4) return v.getUint32(at, true);
  return toVal(v.getBigUint64(at, true));
}

function irqchipWrite(v: DataView, chip: number, field: string, index: number, x: bigint): void {
  const { at, bytes } = irqchipSlot(chip, field, index);
  if (x >= 1n << BigInt(8 * bytes)) {
    throw new CommandInputError(`${field} is ${8 * bytes} bits: 0x${x.toString(16)} does not fit`);
  }
  if (bytes === 1) v.setUint8(at, Number(x));
  else if (bytes === 4) v.setUint32(at, Number(x), true);
  else v.setBigUint64(at, x, true);
}

function toVal(v: bigint): Val {
  return toInt(v);
}

/** An ioctl that fails with an errno the scenario may expect: 0, or -errno. */
function errnoOf(fn: () => void): number {
  try {
    fn();
    return 0;
  } catch (e) {
    if (e instanceof KvmIoctlError) return -e.errno;
    throw e;
  }
}

function ownPort(port: number): number {
  if (port >= Port.Monitor && port <= Port.Window) {
    throw new BackendUnsupported(
      `port 0x${port.toString(16)}: the guest monitor talks to the VMM through ports 0x10-0x14`,
    );
  }
  return port;
}

/** A scenario's routing entry as `struct kvm_irq_routing_entry` (fields are u32 there). */
function routeOf(e: Readonly<Record<string, Val>>): KvmIrqRoutingEntry {
  const r = toRoutingEntry(e);
  if (r.type === "irqchip") {
    return { gsi: r.gsi, type: "irqchip", irqchip: r.irqchip >>> 0, pin: r.pin >>> 0 };
  }
  if (r.type === "msi") {
    return {
      gsi: r.gsi,
      type: "msi",
      address_lo: r.addressLo >>> 0,
      address_hi: r.addressHi >>> 0,
      data: r.data >>> 0,
    };
  }
  if (r.type === "hv_sint") {
    throw new BackendUnsupported(
      "an 'hv_sint' routing entry: the backend sets up no Hyper-V SynIC",
    );
  }
  throw new BackendUnsupported("a 'xen_evtchn' routing entry: this KVM has no Xen support");
}

function msiData(vm: KvmBackedVm, data: number): number {
  // A delivery mode of NMI: from now on NMIs are looked for.
  if (decodeMsiData(data).delivery_mode === DeliveryMode.NMI) vm.nmiSent = true;
  return data;
}

/** The action as the trace shows it: its arguments and register, then what KVM answered. */
function describe(a: Args): string {
  const words = Object.entries(a).filter(([k]) => !k.startsWith("$")).map(([k, v]) =>
    `${k}=${typeof v === "number" || typeof v === "bigint" ? `0x${v.toString(16)}` : String(v)}`
  );
  const r = a.$register;
  if (r) {
    words.unshift(`${r.file.prefix}.${r.register.name}${r.register.count ? `[${r.index}]` : ""}`);
  }
  if (a.$entries) words.push(`(${a.$entries.length} entries)`);
  return words.join(" ");
}

function traced(spec: CommandSpec, run: Run): CommandSpec<KvmBackedVm>["run"] {
  return (vm, cpu, a, source) => {
    // A command between two takes ends a storm (see KvmBackedCpu.stormTakes).
    for (const c of vm.cpus) c.stormTakes = 0;
    const result = run(vm, cpu, a);
    if (vm.trace.enabled) {
      const answer = result === undefined
        ? ""
        : ` -> ${
          typeof result === "number" || typeof result === "bigint"
            ? (Number(result) < 0 ? String(result) : `0x${result.toString(16)}`)
            : String(result)
        }`;
      vm.trace.emit(
        source,
        spec.name,
        [describe(a) + answer, "(on KVM)"].filter(Boolean).join(" "),
      );
    }
    return result;
  };
}

function bindCommand(c: X86Command): CommandSpec<KvmBackedVm> {
  const op = KVM_OPS[c.backend];
  return {
    ...c,
    // KVM runs the command whole: there are no model steps to come between.
    steps: undefined,
    run: typeof op === "function" ? traced(c, op) : () => {
      throw new BackendUnsupported(`'${c.name}': ${op.refused}`);
    },
  };
}

// ---- state ---------------------------------------------------------------------------

type Get = (vm: KvmBackedVm, indexes: readonly number[]) => Val;

function lapicGetter(pattern: string): Get | undefined {
  const m = /^vcpu#\.lapic\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?$/.exec(pattern);
  if (!m) return undefined;
  const [, name, field] = m;
  if (name === "irr" || name === "isr" || name === "tmr") {
    const base = name === "irr" ? IRR : name === "isr" ? ISR : TMR;
    return (vm, [c]) => lapicVectors(vm.cpus[c].lapic(), base);
  }
  const reg = LAPIC_REGISTERS.find((r) => r.name === name);
  if (!reg || reg.width !== 32) return undefined;
  const read = (vm: KvmBackedVm, c: number) => lapicRegister(vm.cpus[c].lapic(), reg.offset);
  if (field === undefined) return (vm, [c]) => read(vm, c);
  const f = reg.fields?.find((x) => x.name === field);
  return f ? (vm, [c]) => decodeField(f, read(vm, c)) : undefined;
}

/**
 * Whether writing `value` to the LAPIC register at `offset` makes it send
 * NMIs: the ICR or an LVT entry whose delivery mode is NMI. Until something
 * can send one, an entry through IVT slot 2 is vector 2 (an 8259 with
 * vector base 0), so a guess here mislabels what the guest took: the timer
 * and error LVTs have no delivery mode, and a fixed-mode write sends none.
 */
function sendsNmi(offset: number, value: number): boolean {
  const reg = LAPIC_REGISTERS.find((r) => r.offset === offset && r.width === 32);
  const mode = reg?.fields?.find((f) => f.name === "delivery_mode");
  return mode !== undefined && decodeField(mode, value) === "nmi";
}

function ioapicGetter(pattern: string): Get | undefined {
  const rte = (vm: KvmBackedVm, p: number) => vm.vm.getIoapic().redirtbl[p];
  if (pattern === "ioapic.redtbl[#]") return (vm, [p]) => rte(vm, p);
  if (pattern === "ioapic.pin[#].line") return (vm, [p]) => vm.pinLine(p);
  if (pattern === "ioapic.irr") return (vm) => vm.irqchip === "kernel" ? vm.vm.getIoapic().irr : 0;
  const m = /^ioapic\.pin\[#\]\.([a-z_]+)$/.exec(pattern);
  if (!m) return undefined;
  const f = x86RteField(m[1]);
  return f ? (vm, [p]) => decodeField(f, rte(vm, p)) : undefined;
}

function x86RteField(name: string) {
  const reg = x86Platform.commands.find((c) => c.name === "write")!.params[0].type;
  if (reg.kind !== "register") return undefined;
  const redtbl = reg.files.flatMap((f) => f.registers).find((r) => r.name === "redtbl");
  return redtbl?.fields.find((f) => f.name === name);
}

const CPU_STATE: Record<string, Get> = {
  "vcpu#.if": (vm, [c]) => Number(vm.cpus[c].interruptFlag),
  "vcpu#.halted": (vm, [c]) => Number(vm.cpus[c].halted),
  "vcpu#.depth": (vm, [c]) => vm.cpus[c].frames.length,
  "vcpu#.gp_faults": (vm, [c]) => vm.cpus[c].gpFaults,
  "vcpu#.nmi_pending": (vm, [c]) => vm.cpus[c].kvm.getEvents().nmi.pending,
  "vcpu#.nmi_blocked": (vm, [c]) => vm.cpus[c].kvm.getEvents().nmi.masked,
  "vcpu#.eoi_exits": (vm, [c]) => vm.cpus[c].eoiExits,
  "vcpu#.eoi_exit_vector": (vm, [c]) => vm.cpus[c].eoiVector,
  "vcpu#.eoi_exit_vectors": (vm, [c]) => [...vm.cpus[c].eoiVectors].sort((a, b) => a - b),
  "vcpu#.exit_reason": (vm, [c]) => vm.cpus[c].exitReason,
  "vcpu#.cs_selector": (vm, [c]) => vm.cpus[c].kvm.getSregs().cs.selector,
  "vcpu#.cs_base": (vm, [c]) => Number(vm.cpus[c].kvm.getSregs().cs.base),
  "vcpu#.rip": (vm, [c]) => Number(vm.cpus[c].kvm.getRegs().rip),
  "vcpu#.mp_state": (vm, [c]) =>
    vm.cpus[c].halted ? KVM_MP_STATE.HALTED : vm.cpus[c].kvm.getMpState(),
  "vcpu#.cr8": (vm, [c]) => Number(vm.cpus[c].kvm.getSregs().cr8),
  "vcpu#.apic_base": (vm, [c]) =>
    Number((vm.cpus[c].kvm.getMsr(IA32_APIC_BASE) ?? 0n) & 0xffff_ffffn),
};

function picGetter(pattern: string): Get | undefined {
  const m = /^pic\.(master|slave)\.(irr|isr|imr|elcr)$/.exec(pattern);
  if (!m) return undefined;
  return (vm) => {
    if (vm.irqchip !== "kernel") return 0;
    return vm.vm.getPic(m[1] === "master" ? 0 : 1)[m[2] as "irr" | "isr" | "imr" | "elcr"];
  };
}

/** `mem.uN[addr]` from the VM's RAM, and `eventfd[N]` from the real eventfds. */
function vmmGetter(pattern: string): Get | undefined {
  if (pattern === "eventfd[#]") return (vm, [n]) => vm.signalled(n);
  const m = /^mem\.(u8|u16|u32|u64)\[#\]$/.exec(pattern);
  if (!m) return undefined;
  const w = ACCESS_SIZES[m[1]];
  return (vm, [addr]) => {
    vm.checkScratch(addr, w / 8);
    return toVal(vm.ram.readBig(addr, w));
  };
}

function bindState(s: StateSpec<X86Vm>): StateSpec<KvmBackedVm> {
  const get = CPU_STATE[s.pattern] ?? lapicGetter(s.pattern) ?? ioapicGetter(s.pattern) ??
    picGetter(s.pattern) ?? vmmGetter(s.pattern);
  const segments = s.pattern.split(".");
  return {
    ...s,
    get: get ?? (() => {
      throw new BackendUnsupported(`'${s.pattern}' is not read back from KVM yet`);
    }),
    bounds: vmmBounds(s.pattern) ??
      ((vm) =>
        segments.flatMap((seg) =>
          seg === "vcpu#" ? [vm.cpus.length] : seg.includes("[#]")
            ? [
              seg.startsWith("pin") || seg.startsWith("redtbl")
                ? (vm.irqchip === "kernel" ? KVM_IOAPIC_NUM_PINS : 0)
                : 256,
            ]
            : []
        )),
  };
}

/** `mem.uN[#]`: every address a whole access fits at; `eventfd[#]`: the model's 1024 names. */
function vmmBounds(pattern: string): (() => number[]) | undefined {
  const m = /^mem\.u(8|16|32|64)\[#\]$/.exec(pattern);
  if (m) return () => [GUEST_MEMORY - Number(m[1]) / 8 + 1];
  return pattern === "eventfd[#]" ? () => [1024] : undefined;
}

/**
 * Checks that `/dev/kvm` opens and speaks the KVM API; throws `KvmUnavailable` if not.
 *
 * @example
 * ```ts
 * probeKvm(); // before running anything on KVM
 * ```
 */
export function probeKvm(): void {
  try {
    System.open().close();
  } finally {
    closeLibc();
  }
}

/**
 * The x86 platform's tables run on a real KVM VM (creating a VM needs
 * `--allow-ffi` and `/dev/kvm`).
 *
 * @example
 * ```ts
 * kvmBackedPlatform.commands.find((c) => c.name === "eoi")!.doc;
 * ```
 */
export const kvmBackedPlatform: Platform<KvmBackedVm> = bindPlatform(x86Platform, X86_COMMANDS);

/**
 * {@link kvmBackedPlatform} as the registry holds it (what `scn run --backend
 * kvm` and `scn diff` check scenarios with).
 *
 * @example
 * ```ts
 * import { check, parse, runProgram } from "../../mod.ts";
 * declare const text: string;
 * const program = check(parse(text, "a.scn"), { platforms: [kvmPlatform()] });
 * runProgram(program); // each vm is a KVM VM, closed when the run ends
 * ```
 */
export function kvmPlatform(): PlatformEntry {
  return platformEntry(kvmBackedPlatform);
}

function bindPlatform(
  x86: Platform<X86Vm>,
  commands: readonly X86Command[],
): Platform<KvmBackedVm> {
  return {
    arch: x86.arch,
    settings: x86.settings,
    commands: commands.map(bindCommand),
    state: x86.state.map(bindState),
    observables: x86.observables,
    handlerEvents: x86.handlerEvents,
    constants: x86.constants,
    actors: x86.actors,
    vcpuCount: x86.vcpuCount,
    checkSettings: x86.checkSettings,
    handlerMatches: x86.handlerMatches,
    create: (name, settings, env) => new KvmBackedVm(name, settings, env),
  };
}
