/**
 * What an architecture model offers the interpreter: its tables (for the
 * checker and `scn help`) and the engine-facing view of its VMs and vCPUs.
 *
 * The interpreter knows nothing of LAPICs or GICs: it asks a vCPU whether it
 * would take an interrupt at its next instruction boundary, tells it to take
 * it, and runs the scenario's handler for what it took.
 *
 * @module
 */
import type { CommandSpec, HandlerEventSpec, SettingSpec, StateSpec, Val } from "./table.ts";
import type { Trace } from "./trace.ts";
import type { EventQueue } from "./event_queue.ts";

/** Services the engine gives a model: the trace, the clock and the timer queue. */
export interface ModelEnv {
  /** Where models record events. */
  trace: Trace;
  /** Timed events (LAPIC timer, arch timer, storm guard). */
  queue: EventQueue;
  /** Virtual time in ns. */
  now(): number;
}

/** One interrupt or exception a vCPU took. */
export interface Taken {
  /** What it was: `vector` (a maskable interrupt), `nmi`, `extint`, `spurious`. */
  kind: string;
  /**
   * The vector or INTID, or -1 for what has none (an x86 NMI). `took N`
   * compares numbers with this; `took nmi` compares a handler event name
   * with `kind`.
   */
  vector: number;
  /** The trace event that made it pending, or 0. */
  cause: number;
  /**
   * What the acknowledge read returned, where that is more than the INTID
   * (GICv2's GICC_IAR carries an SGI's source CPU in bits 12:10). Absent
   * means the same as `vector`.
   */
  ack?: number;
  /** The trace event recording the take. */
  event: number;
}

/** The engine's view of a vCPU. */
export interface CpuModel {
  /** The VM's name in the scenario. */
  readonly name: string;
  /** Halted (HLT, WFI): executes nothing until woken. */
  readonly halted: boolean;
  /** Whether an interrupt would be taken at the next instruction boundary. */
  canTake(): boolean;
  /** Takes it (the acknowledge cycle), entering the handler context. */
  take(): Taken;
  /** One instruction retired: ends STI/MOV-SS shadows. Returns whether that changed anything. */
  retire(): boolean;
  /** The handler for the last taken interrupt returned (IRET / ERET). */
  returnFromInterrupt(): void;
  /**
   * Handles, at an instruction boundary and before {@link CpuModel.canTake},
   * what runs no handler (x86: INIT and SIPI, dropping NMIs beyond those the
   * CPU can latch). Returns 0 if nothing happened, 1 if state changed, 2 if
   * the vCPU was reset: the engine then drops the handler bodies it was
   * running for it, which the reset abandoned. Optional.
   */
  service?(): number;
}

/** The engine's view of a VM. */
export interface VmModel {
  /** The VM's name in the scenario. */
  readonly name: string;
  /** Its vCPUs, by index. */
  readonly cpus: readonly CpuModel[];
  /** Releases what the VM holds outside JavaScript (a real VM's fds); called when a run ends. */
  dispose?(): void;
}

/** An architecture: its tables and a factory for its VMs. */
export interface Platform<M extends VmModel = VmModel> {
  /** The `arch` values it implements (`x86_64`). */
  readonly arch: readonly string[];
  /** The `vm` settings it understands. */
  readonly settings: readonly SettingSpec[];
  /** Every command, for every actor. */
  readonly commands: readonly CommandSpec<M>[];
  /** Every readable state path. */
  readonly state: readonly StateSpec<M>[];
  /** What `on vcpuN ...` can handle. */
  readonly handlerEvents: readonly HandlerEventSpec[];
  /** Named constants usable as values (`EINVAL`). */
  readonly constants: Readonly<Record<string, number>>;
  /** Actor names besides `vcpuN` and `device X` (`vmm`). */
  readonly actors: readonly string[];
  /** The number of vCPUs a VM with these settings has. */
  vcpuCount(settings: Readonly<Record<string, Val>>): number;
  /** Builds a VM. */
  create(name: string, settings: Readonly<Record<string, Val>>, env: ModelEnv): M;
  /** Whether a handler declared for `event`/`values` matches what was taken. */
  handlerMatches(event: string, values: readonly number[] | null, taken: Taken): boolean;
  /**
   * What is wrong with a combination of settings that each passed their own
   * range check (`guest 48`), or undefined. The checker reports it at the vm.
   */
  checkSettings?(settings: Readonly<Record<string, Val>>): string | undefined;
}
