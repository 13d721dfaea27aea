/**
 * What a vCPU shows userspace through KVM: its MP state (KVM_GET_MP_STATE)
 * and the exits of KVM_RUN that the interrupt model produces
 * (`struct kvm_run`: `exit_reason`, `eoi.vector`, `request_interrupt_window`,
 * `ready_for_interrupt_injection`), and the split irqchip's EOI exits.
 *
 * Sources: Linux `include/uapi/linux/kvm.h` (exit reasons, MP states),
 * `Documentation/virt/kvm/api.rst` (KVM_RUN, KVM_GET_MP_STATE,
 * KVM_CAP_SPLIT_IRQCHIP), `arch/x86/kvm/x86.c` (`vcpu_run`,
 * `dm_request_for_irq_injection`, `kvm_vcpu_ready_for_interrupt_injection`,
 * `__kvm_emulate_halt`), `arch/x86/kvm/irq.c` (`kvm_scan_ioapic_routes`) and
 * `arch/x86/kvm/lapic.c` (`kvm_ioapic_send_eoi`).
 *
 * @module
 */
import { hashTrace, type Trace } from "../core/trace.ts";
import {
  clearAllVectors,
  copyVectors,
  newVectorSet,
  setVector,
  testVector,
  type VectorSet,
} from "../core/vector_set.ts";
import { type ApicMessage, type EoiListener, fixedMessage } from "./apic_message.ts";
import type { ApicBus } from "./apic_bus.ts";
import type { RoutingEntry } from "./kvm_routing.ts";
import { decodeMsiInto, MsiStatus } from "./msi.ts";
import type { StateHash } from "../core/platform.ts";
import { maskedWords, maskedWordsSize } from "../core/state_words.ts";

/**
 * `kvm_run.system_event.type` values KVM_EXIT_SYSTEM_EVENT carries (uapi
 * `kvm.h` KVM_SYSTEM_EVENT_*), those the model raises.
 *
 * @example
 * ```ts
 * KVM_SYSTEM_EVENT.RESET; // 2
 * ```
 */
export const KVM_SYSTEM_EVENT = { RESET: 2, CRASH: 3 } as const;

/**
 * `kvm_run.exit_reason` values the interrupt model produces (uapi `kvm.h`).
 *
 * @example
 * ```ts
 * KvmExit.IoapicEoi; // 26
 * ```
 */
export const KvmExit = {
  /** No exit to userspace yet. */
  None: 0,
  /** KVM_EXIT_HLT: HLT without an in-kernel LAPIC. */
  Hlt: 5,
  /** KVM_EXIT_MMIO: an access no in-kernel device answers (userspace's I/O APIC). */
  Mmio: 6,
  /** KVM_EXIT_IRQ_WINDOW_OPEN: userspace asked for an interrupt window and it opened. */
  IrqWindowOpen: 7,
  /** KVM_EXIT_SHUTDOWN: a triple fault (KVM_REQ_TRIPLE_FAULT) shut the vCPU down. */
  Shutdown: 8,
  /** KVM_EXIT_HYPERV: a SynIC MSR write or a Hyper-V hypercall for userspace (`struct kvm_hyperv_exit`). */
  Hyperv: 22,
  /** KVM_EXIT_SYSTEM_EVENT: the guest asked for a reset or reported a crash (Hyper-V's MSRs). */
  SystemEvent: 24,
  /** KVM_EXIT_IOAPIC_EOI: split irqchip, the EOI of a vector userspace's I/O APIC owns. */
  IoapicEoi: 26,
} as const;
/** One of the {@link KvmExit} reasons. */
export type KvmExit = typeof KvmExit[keyof typeof KvmExit];

/**
 * KVM_GET_MP_STATE values (uapi `kvm.h`, x86 meanings in api.rst).
 *
 * @example
 * ```ts
 * MpState.InitReceived; // 2: an AP waiting for its SIPI
 * ```
 */
export const MpState = {
  /** KVM_MP_STATE_RUNNABLE: running (the BSP after reset, an AP after SIPI). */
  Runnable: 0,
  /** KVM_MP_STATE_UNINITIALIZED: an AP that has not received INIT yet. */
  Uninitialized: 1,
  /** KVM_MP_STATE_INIT_RECEIVED: INIT processed, waiting for a SIPI. */
  InitReceived: 2,
  /** KVM_MP_STATE_HALTED: executed HLT (in-kernel LAPIC only). */
  Halted: 3,
  /** KVM_MP_STATE_SIPI_RECEIVED: only settable by userspace; KVM's own INIT/SIPI path never shows it. */
  SipiReceived: 4,
} as const;
/** One of the {@link MpState} values. */
export type MpState = typeof MpState[keyof typeof MpState];

function hex(v: number): string {
  return "0x" + v.toString(16);
}

/** `kvm_run.hyperv` as {@link KvmRun.hyperv} keeps it. */
export interface HypervExit {
  type: number;
  msr: number;
  control: bigint;
  evtPage: bigint;
  msgPage: bigint;
  input: bigint;
  params: [bigint, bigint];
  result: bigint;
}

/** The record before any KVM_EXIT_HYPERV (and after a reset): every field 0. */
function noHypervExit(): HypervExit {
  return {
    type: 0,
    msr: 0,
    control: 0n,
    evtPage: 0n,
    msgPage: 0n,
    input: 0n,
    params: [0n, 0n],
    result: 0n,
  };
}

/**
 * Where the hook for `scn explore` writes a kvm_run's numbers to feed them
 * in one call (`StateHash.block`).
 */
const HASHED = new Int32Array(7 + maskedWordsSize(8));

/**
 * One vCPU's `struct kvm_run` as far as interrupts go: the last exit to
 * userspace, how many of each interesting exit happened, and the interrupt
 * window handshake of a VM without an in-kernel irqchip.
 *
 * The model does not stop a vCPU at an exit: the scenario's timeline is the
 * VMM, and its next statement acts as if KVM_RUN had returned. Each exit is
 * recorded once, when it happens.
 *
 * @example
 * ```ts
 * import { Trace } from "../../mod.ts";
 * declare const trace: Trace;
 * const run = new KvmRun("vcpu0", trace);
 * run.exit(KvmExit.Hlt, "HLT");
 * run.exitReason; // 5
 * ```
 */
export class KvmRun {
  /** `exit_reason` of the last exit to userspace ({@link KvmExit}), 0 before any. */
  exitReason: number = KvmExit.None;
  /** `eoi.vector` of the last KVM_EXIT_IOAPIC_EOI, or -1. */
  eoiVector = -1;
  /** How many KVM_EXIT_IOAPIC_EOI exits there were. */
  ioapicEoiExits = 0;
  /** The vectors that made KVM_EXIT_IOAPIC_EOI exits. */
  readonly ioapicEoiVectors: VectorSet = newVectorSet();
  /** How many KVM_EXIT_IRQ_WINDOW_OPEN exits there were. */
  irqWindowExits = 0;
  /** How many KVM_EXIT_HLT exits there were. */
  hltExits = 0;
  /**
   * KVM's per-vCPU statistic `halt_exits` (KVM_GET_STATS_FD): every HLT the
   * guest executed exits to KVM (`__kvm_emulate_halt` counts it, in-kernel
   * LAPIC or not). AMD's Idle HLT, which skips the exit while an unmasked
   * interrupt is pending, is not modelled.
   */
  haltExitsStat = 0;
  /** `kvm_run.request_interrupt_window`, as userspace last set it. */
  requestInterruptWindow = false;
  /**
   * `kvm_run.hyperv` of the last KVM_EXIT_HYPERV: `type` (1 SYNIC, 2
   * HCALL, 0 before any); for SYNIC the MSR written and SCONTROL, SIEFP,
   * SIMP after it; for HCALL the input (RCX) and params (RDX, R8), and the
   * result userspace gave back.
   */
  readonly hyperv: HypervExit = noHypervExit();
  /** How many KVM_EXIT_HYPERV exits there were. */
  hypervExits = 0;

  readonly #name: string;

  /**
   * Called at every exit to userspace, for a hypervisor model with work at
   * the re-entry (kvm-xen: the next KVM_RUN's vcpu_load updates the
   * runstate). Null: nothing to do. Set once, at the VM's creation.
   */
  onExit: (() => void) | null = null;
  /**
   * `system_event.type` of the last KVM_EXIT_SYSTEM_EVENT ({@link KVM_SYSTEM_EVENT}),
   * 0 before any. Declared last: the fields the exits use keep their slots.
   */
  systemEventType = 0;

  /** Makes an empty record; `name` is the vCPU's trace source. */
  constructor(name: string, readonly trace: Trace) {
    this.#name = name;
  }

  /**
   * The vCPU's trace source. Fixed at creation: an accessor rather than a
   * field, so that `scn explore`'s fingerprint need not hash the string at
   * every state.
   */
  get name(): string {
    return this.#name;
  }

  /**
   * Saves the exit record and returns a function that puts it back, for
   * `scn explore` (`VmModel.snapshot`). Fixed at creation: #name, trace, onExit.
   */
  snapshot(): () => void {
    const { exitReason, eoiVector, ioapicEoiExits, irqWindowExits, hltExits } = this;
    const { requestInterruptWindow, haltExitsStat } = this;
    const ioapicEoiVectors = this.ioapicEoiVectors.slice();
    const { type, msr, control, evtPage, msgPage, input, result } = this.hyperv;
    const [param0, param1] = this.hyperv.params;
    const { hypervExits, systemEventType } = this;
    return () => {
      // Field by field: Object.assign cost more than the rest of the restore.
      const hv = this.hyperv;
      hv.type = type;
      hv.msr = msr;
      hv.control = control;
      hv.evtPage = evtPage;
      hv.msgPage = msgPage;
      hv.input = input;
      if (hv.params[0] !== param0 || hv.params[1] !== param1) hv.params = [param0, param1];
      hv.result = result;
      this.hypervExits = hypervExits;
      this.systemEventType = systemEventType;
      this.exitReason = exitReason;
      this.eoiVector = eoiVector;
      this.ioapicEoiExits = ioapicEoiExits;
      copyVectors(this.ioapicEoiVectors, ioapicEoiVectors);
      this.irqWindowExits = irqWindowExits;
      this.hltExits = hltExits;
      this.haltExitsStat = haltExitsStat;
      this.requestInterruptWindow = requestInterruptWindow;
    };
  }

  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    hashTrace(h, this.trace);
    const hv = this.hyperv;
    // No KVM_EXIT_HYPERV so far (every vCPU outside Hyper-V scenarios): the
    // record is the empty one, a bit instead of ten words at every state.
    // (`!x` for a bigint x === 0n: a test of the value, cheaper than a comparison.)
    const hvEmpty = this.hypervExits === 0 && hv.type === 0 && hv.msr === 0 &&
      !hv.control && !hv.evtPage && !hv.msgPage && !hv.input && !hv.params[0] &&
      !hv.params[1] && !hv.result;
    // The numbers in one block (see HASHED).
    const w = HASHED;
    w[0] = this.exitReason;
    w[1] = this.eoiVector;
    w[2] = this.ioapicEoiExits;
    w[3] = this.irqWindowExits;
    w[4] = this.hltExits;
    w[5] = this.haltExitsStat;
    w[6] = (this.requestInterruptWindow ? 1 : 0) | (hvEmpty ? 0 : 2) |
      (this.onExit !== null ? 4 : 0) | (this.systemEventType << 3);
    // The vectors' bitmap in the same block.
    h.block(w, maskedWords(w, 7, this.ioapicEoiVectors));
    if (hvEmpty) return;
    h.n(hv.type);
    h.n(hv.msr);
    h.big(hv.control);
    h.big(hv.evtPage);
    h.big(hv.msgPage);
    h.big(hv.input);
    h.big(hv.params[0]);
    h.big(hv.params[1]);
    h.big(hv.result);
    h.n(this.hypervExits);
  }

  /**
   * Records an exit to userspace with `reason`; `text` says why in the trace.
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.exit(KvmExit.IrqWindowOpen, "IF=1, no shadow");
   * ```
   */
  exit(reason: KvmExit, text: string): void {
    this.exitReason = reason;
    if (this.onExit !== null) this.onExit();
    if (reason === KvmExit.IrqWindowOpen) this.irqWindowExits++;
    else if (reason === KvmExit.Hlt) this.hltExits++;
    if (this.trace.enabled) {
      this.trace.emit(this.name, "kvm.exit", `exit_reason ${reason}: ${text}`);
    }
  }

  /**
   * Records KVM_EXIT_SYSTEM_EVENT of `type` ({@link KVM_SYSTEM_EVENT}),
   * made at the vCPU's next entry after the request (KVM_REQ_HV_RESET,
   * KVM_REQ_HV_CRASH), at once here.
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.systemEvent(KVM_SYSTEM_EVENT.RESET, "HV_X64_MSR_RESET");
   * ```
   */
  systemEvent(type: number, text: string): void {
    this.systemEventType = type;
    this.exit(KvmExit.SystemEvent, `KVM_EXIT_SYSTEM_EVENT type ${type}: ${text}`);
  }

  /**
   * Records KVM_EXIT_IOAPIC_EOI for `vector`.
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.ioapicEoi(0xa2); // exitReason 26, eoiVector 0xa2
   * ```
   */
  ioapicEoi(vector: number): void {
    this.eoiVector = vector;
    this.ioapicEoiExits++;
    setVector(this.ioapicEoiVectors, vector);
    this.exit(KvmExit.IoapicEoi, `KVM_EXIT_IOAPIC_EOI eoi.vector ${hex(vector)}`);
  }

  /**
   * Records KVM_EXIT_HYPERV of type KVM_EXIT_HYPERV_SYNIC (`synic_exit`):
   * the guest wrote SCONTROL, SIEFP or SIMP, and userspace learns the three.
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.hypervSynicExit(0x40000083, 1n, 0n, 0x3001n);
   * ```
   */
  hypervSynicExit(msr: number, control: bigint, evtPage: bigint, msgPage: bigint): void {
    const h = this.hyperv;
    h.type = 1;
    h.msr = msr;
    h.control = control;
    h.evtPage = evtPage;
    h.msgPage = msgPage;
    this.hypervExits++;
    this.exit(KvmExit.Hyperv, `KVM_EXIT_HYPERV_SYNIC msr 0x${msr.toString(16)}`);
  }

  /**
   * Records KVM_EXIT_HYPERV of type KVM_EXIT_HYPERV_HCALL: a hypercall KVM
   * leaves to userspace, with its input and parameters.
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.hypervHcallExit(0x5cn, 0x3000n, 0n);
   * ```
   */
  hypervHcallExit(input: bigint, ingpa: bigint, outgpa: bigint): void {
    const h = this.hyperv;
    h.type = 2;
    h.input = input;
    h.params = [ingpa, outgpa];
    this.hypervExits++;
    this.exit(KvmExit.Hyperv, `KVM_EXIT_HYPERV_HCALL input 0x${input.toString(16)}`);
  }

  /**
   * Back to the state of a new vCPU (KVM_CREATE_VCPU).
   *
   * @example
   * ```ts
   * declare const run: KvmRun;
   * run.reset();
   * ```
   */
  reset(): void {
    this.exitReason = KvmExit.None;
    this.eoiVector = -1;
    this.ioapicEoiExits = 0;
    this.irqWindowExits = 0;
    this.hltExits = 0;
    this.haltExitsStat = 0;
    this.requestInterruptWindow = false;
    clearAllVectors(this.ioapicEoiVectors);
    Object.assign(this.hyperv, noHypervExit());
    this.hypervExits = 0;
    this.systemEventType = 0;
  }
}

/**
 * What {@link SplitEoiExits} reads: the routing table and the APIC bus's matching.
 *
 * @example
 * ```ts
 * import { ApicBus } from "./apic_bus.ts";
 * import { GsiRouting } from "./kvm_routing.ts";
 * declare const bus: ApicBus, routing: GsiRouting;
 * const host: SplitEoiHost = { routes: () => routing.view(), bus, reservedPins: 24, x2apicFormat: false };
 * ```
 */
export interface SplitEoiHost {
  /** The current GSI routing table (KVM_SET_GSI_ROUTING's entries). */
  routes(): readonly RoutingEntry[];
  /** The APIC bus, for `kvm_apic_match_dest`. */
  bus: ApicBus;
  /** KVM_CAP_SPLIT_IRQCHIP args[0]: GSIs below it belong to userspace's I/O APIC. */
  reservedPins: number;
  /** KVM_X2APIC_API_USE_32BIT_IDS: MSI address-high carries destination bits 31:8. */
  x2apicFormat: boolean;
  /**
   * vCPU `cpu` is blocked in the kernel (HLT, or waiting for INIT / SIPI):
   * a scan request waits for its next entry ({@link SplitEoiExits.entered}).
   * Absent: no vCPU ever is.
   */
  blocked?(cpu: number): boolean;
  /** Where deferred scans are recorded; absent, nowhere. */
  trace?: Trace;
  /**
   * Userspace's I/O APIC handles each KVM_EXIT_IOAPIC_EOI before the next
   * KVM_RUN (QEMU: `ioapic_eoi_broadcast`); absent, the scenario does.
   */
  userspaceEoi?: (vector: number) => void;
}

/**
 * KVM's EOI interception for a split irqchip. A vCPU's
 * `ioapic_handled_vectors` holds the vector of every MSI route of a GSI
 * below the reserved I/O APIC pins whose data says level-triggered and
 * whose destination names the vCPU (`kvm_scan_ioapic_routes`); the EOI of
 * such a vector exits with KVM_EXIT_IOAPIC_EOI so userspace's I/O APIC can
 * clear remote IRR. Edge routes, GSIs at or above the reserved pins, and
 * other vCPUs' routes cause no exit.
 *
 * The current routes are read at EOI time. KVM also keeps intercepting a
 * vector that was pending (IRR or ISR) on a vCPU when the routes were last
 * scanned, though no route sends it there any more (`kvm_scan_ioapic_irq`,
 * commit fceb3a36c29a: the in-flight level interrupt of the old routing
 * must still reach userspace's I/O APIC); the EOI of the highest such
 * vector rescans. {@link SplitEoiExits.rescan} is that scan, which the VM
 * requests after each KVM_SET_GSI_ROUTING, and after an APIC map change or a
 * KVM_SET_LAPIC (`X86Vm.requestIoapicScan`). KVM scans at the vCPU's next
 * entry (KVM_REQ_SCAN_IOAPIC, `vcpu_enter_guest`, before any injection):
 * for a running vCPU (the request's kick) that is at once, but a vCPU
 * blocked in the kernel is not woken by it (KVM_REQUEST_NO_WAKEUP) and
 * scans as it next enters, so a vector that reached it meanwhile (in IRR
 * as it wakes) is kept as pending from the old routing. The routes' own
 * vectors are the same either way: a blocked vCPU EOIs nothing before it
 * enters, so reading them at the EOI is the scan's answer.
 *
 * @example
 * ```ts
 * import { Lapic, type LapicHost } from "./lapic.ts";
 * declare const host: SplitEoiHost, lapicHost: LapicHost, kvmRun: KvmRun;
 * const eois = new SplitEoiExits(host);
 * new Lapic(0, { ...lapicHost, eoiListener: eois.listener(0, kvmRun) });
 * ```
 */
export class SplitEoiExits {
  readonly #host: SplitEoiHost;
  /** Reused for decoding routes: EOIs allocate no messages. */
  readonly #msg: ApicMessage = fixedMessage(0, 0, "msi");

  /** Per vCPU: vectors kept from the last scan although no current route targets the vCPU. */
  readonly #stale: VectorSet[] = [];
  /** Per vCPU: `highest_stale_pending_ioapic_eoi`, or -1. */
  readonly #highestStale: number[] = [];
  /** Per vCPU: KVM_REQ_SCAN_IOAPIC waits for its next entry (1), or not (0). */
  readonly #requested: number[] = [];

  /** Feeds `h` the private state, for `scn explore` (`VmModel.hashPrivate`). */
  hashPrivate(h: StateHash): void {
    h.n(this.#stale.length);
    for (const s of this.#stale) h.words(s);
    h.words(this.#highestStale);
    h.words(this.#requested);
  }

  /** Wires the interception to a routing table and a bus. */
  constructor(host: SplitEoiHost) {
    this.#host = host;
  }

  /**
   * `kvm_scan_ioapic_routes` for every vCPU (or just `only`): remembers the
   * vectors of level MSI routes below the reserved pins that do not target
   * a vCPU but are pending in its IRR or ISR now.
   *
   * @example
   * ```ts
   * import { type RoutingEntry } from "./kvm_routing.ts";
   * import { X86Vm } from "./vm.ts";
   * declare const newTable: RoutingEntry[], vm: X86Vm;
   * vm.setGsiRouting(newTable); // then: eois.rescan()
   * ```
   */
  rescan(only = -1): void {
    const h = this.#host;
    h.bus.lapics.forEach((_lapic, cpu) => {
      if (only >= 0 && cpu !== only) return;
      if (h.blocked?.(cpu)) {
        if (this.#requested[cpu] !== 1 && h.trace?.enabled) {
          h.trace.emit(
            `lapic${cpu}`,
            "scan.deferred",
            `KVM_REQ_SCAN_IOAPIC: vCPU ${cpu} is blocked, it scans at its next entry`,
          );
        }
        this.#requested[cpu] = 1;
        return;
      }
      this.#requested[cpu] = 0;
      this.#scanOne(cpu);
    });
  }

  /**
   * vCPU `cpu` enters the guest after being blocked (`vcpu_enter_guest`):
   * a scan request that waited is serviced, before any injection.
   *
   * @example
   * ```ts
   * declare const eois: SplitEoiExits;
   * eois.entered(1);
   * ```
   */
  entered(cpu: number): void {
    if (this.#requested[cpu] !== 1) return;
    this.#requested[cpu] = 0;
    this.#scanOne(cpu);
  }

  /** `kvm_scan_ioapic_routes` for vCPU `cpu`: the stale vectors, as of now. */
  #scanOne(cpu: number): void {
    const h = this.#host;
    const m = this.#msg;
    const lapic = h.bus.lapics[cpu];
    {
      const stale = this.#stale[cpu] ??= newVectorSet();
      clearAllVectors(stale);
      let highest = -1;
      for (const e of h.routes()) {
        if (e.type !== "msi" || e.gsi >= h.reservedPins) continue;
        const s = decodeMsiInto(m, e.addressLo, e.addressHi, e.data, {
          x2apicFormat: h.x2apicFormat,
          checkBase: false,
        });
        if (s !== MsiStatus.Ok || !m.level || h.bus.matches(lapic, m, null)) continue;
        const v = m.vector;
        if (testVector(lapic.irr, v) || testVector(lapic.isr, v)) {
          setVector(stale, v);
          highest = Math.max(highest, v);
        }
      }
      this.#highestStale[cpu] = highest;
    }
  }

  /**
   * Whether vCPU `cpu`'s EOI of `vector` exits to userspace.
   *
   * @example
   * ```ts
   * declare const eois: SplitEoiExits;
   * eois.handles(0, 0xa2); // true for a level MSI route of GSI 5 to vCPU 0
   * ```
   */
  handles(cpu: number, vector: number): boolean {
    const h = this.#host;
    const lapic = h.bus.lapics[cpu];
    if (!lapic) return false;
    const m = this.#msg;
    for (const e of h.routes()) {
      if (e.type !== "msi" || e.gsi >= h.reservedPins) continue;
      const s = decodeMsiInto(m, e.addressLo, e.addressHi, e.data, {
        x2apicFormat: h.x2apicFormat,
        checkBase: false,
      });
      if (s !== MsiStatus.Ok || !m.level || m.vector !== vector) continue;
      if (h.bus.matches(lapic, m, null)) return true;
    }
    return false;
  }

  /**
   * The vectors vCPU `cpu`'s EOI of which exits now, lowest first: those
   * {@link SplitEoiExits.handles} says, and those kept from the last scan.
   *
   * @example
   * ```ts
   * declare const eois: SplitEoiExits;
   * eois.vectors(0); // [0xa2]
   * ```
   */
  vectors(cpu: number): number[] {
    const out: number[] = [], stale = this.#stale[cpu];
    for (let v = 0; v < 256; v++) {
      if (this.handles(cpu, v) || (stale !== undefined && testVector(stale, v))) out.push(v);
    }
    return out;
  }

  /**
   * The EOI listener of vCPU `cpu`'s LAPIC: intercepted EOIs become
   * KVM_EXIT_IOAPIC_EOI in `run`; no other EOI goes anywhere (there is no
   * in-kernel I/O APIC).
   *
   * @example
   * ```ts
   * declare const eois: SplitEoiExits, vcpu1Run: KvmRun;
   * const listener = eois.listener(1, vcpu1Run);
   * ```
   */
  listener(cpu: number, run: KvmRun): EoiListener {
    return {
      eoi: () => {},
      exitsOnEoi: (v) => {
        const stale = this.#stale[cpu];
        const exits = this.handles(cpu, v) || (stale !== undefined && testVector(stale, v));
        // KVM_REQ_SCAN_IOAPIC when the highest stale vector is EOI'd.
        if (v === this.#highestStale[cpu]) this.rescan(cpu);
        return exits;
      },
      exitEoi: (v) => {
        run.ioapicEoi(v);
        this.#host.userspaceEoi?.(v);
      },
    };
  }
}
