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
import type { StateVersion } from "./state_version.ts";

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
  /**
   * Takes it (the acknowledge cycle), entering the handler context. The
   * answer may be an object the model refills at its next take (no
   * allocation per interrupt): read it before then.
   */
  take(): Taken;
  /** One instruction retired: ends STI/MOV-SS shadows. Returns whether that changed anything. */
  retire(): boolean;
  /** The handler for the last taken interrupt returned (IRET / ERET). */
  returnFromInterrupt(): void;
  /**
   * Set by the model when the instruction just executed raised a fault: it
   * did not complete (it does not retire), and its statement executes again
   * once the handler the next boundary enters has returned, as a fault's
   * return address is the faulting instruction. The engine clears it once
   * it has arranged that (in a `run vcpuN { }` block or a handler body; a
   * top-level statement cannot be executed again and is an input error).
   * Optional: a model without faults leaves it undefined.
   */
  faulted?: boolean;
  /**
   * Handles, at an instruction boundary and before {@link CpuModel.canTake},
   * what runs no handler (x86: INIT and SIPI, dropping NMIs beyond those the
   * CPU can latch). Returns 0 if nothing happened, 1 if state changed,
   * {@link BOUNDARY_RESET} if the vCPU was reset: the engine then drops the
   * handler bodies it was running for it, which the reset abandoned. Optional.
   */
  service?(): number;
  /**
   * True when what the vCPU does at its own boundaries gives no other vCPU
   * anything to do: its `service`, `retire` and `returnFromInterrupt`, and a
   * boundary where nothing happened, change nothing another vCPU's
   * `service` or `canTake` reads (a take or a handler statement may). The
   * engine then does not visit a vCPU that had nothing to do again within a
   * `run` until a take or a handler statement somewhere may have given it
   * something, instead of asking every vCPU at every boundary of another.
   * Absent: visited at every pass.
   */
  readonly ownBoundaries?: boolean;
  /**
   * One instruction boundary in one call, as the engine asks it: `service`;
   * if that did nothing, `take` if {@link CpuModel.canTake}; else whether the
   * vCPU is halted. Returns what was taken (as `take` returns it), or
   * `service`'s 1 or {@link BOUNDARY_RESET}, or {@link BOUNDARY_HALTED}, or
   * {@link BOUNDARY_RUNNING} (nothing happened: the vCPU executes its next
   * instruction). A model answers exactly as {@link boundaryOf} would; its
   * own version may share what the questions have in common (the pending
   * vector, the checks that no rarer source is waiting). Optional: the
   * engine uses {@link boundaryOf} without it.
   */
  boundary?(): Taken | number;
}

/** {@link CpuModel.boundary}: nothing happened, and the vCPU is not halted. */
export const BOUNDARY_RUNNING = 0;
/**
 * {@link CpuModel.service} and {@link CpuModel.boundary}: the vCPU was reset
 * (x86 INIT), so the handler bodies the engine was running for it are gone.
 */
export const BOUNDARY_RESET = 2;
/** {@link CpuModel.boundary}: nothing happened, and the vCPU is halted. */
export const BOUNDARY_HALTED = 3;

/**
 * {@link CpuModel.boundary} from a model's other methods, in the order the
 * engine asks them; what a model without its own `boundary` answers.
 *
 * @example
 * ```ts
 * import { boundaryOf, type CpuModel } from "./platform.ts";
 * declare const cpu: CpuModel;
 * const b = boundaryOf(cpu);
 * if (typeof b !== "number") console.log(`took ${b.kind} ${b.vector}`);
 * ```
 */
export function boundaryOf(cpu: CpuModel): Taken | number {
  const serviced = cpu.service ? cpu.service() : 0;
  if (serviced !== 0) return serviced;
  if (cpu.canTake()) return cpu.take();
  return cpu.halted ? BOUNDARY_HALTED : BOUNDARY_RUNNING;
}

/**
 * A running hash that models feed their state to, for `scn explore`'s
 * deduplication: two states fed the same words are taken as one. Feeding
 * allocates nothing.
 */
export interface StateHash {
  /** One 32-bit word (a number truncated to its low 32 bits). */
  n(x: number): void;
  /** Any number: an integer as a word, others by their bits. */
  num(x: number): void;
  /** A bigint of any width (64-bit registers). */
  big(x: bigint): void;
  /** A boolean. */
  bool(x: boolean): void;
  /** The length and elements of an array of numbers or a typed array. */
  words(a: ArrayLike<number>): void;
  /**
   * The first `count` words of `w`, exactly as `n` would feed each: for a
   * hook's scalars, written into a scratch array of its own and fed in one
   * call (a call per word cost more than hashing it, at every state).
   */
  block(w: Int32Array, count: number): void;
  /**
   * Any value as the engine's walk sees public fields: primitives by
   * value, arrays, maps, sets and objects by their contents, an object met
   * twice in one fingerprint by reference.
   */
  value(v: unknown): void;
  /**
   * What `feed` feeds of `o`, an object never changed once made (a VM's
   * configuration): the hash may keep what it fed by the object's identity
   * and feed that again, so that constant settings cost one lookup per state.
   */
  fixed<T extends object>(o: T, feed: (h: StateHash, o: T) => void): void;
  /**
   * What `feed` feeds of `o`, an object whose every write bumps `version`
   * (its snapshot's restore puts the saved version back): the hash may keep
   * what it fed with the version and feed that again while the version
   * stands, so that an object unchanged since the last state costs a
   * comparison. `feed` may call `n`, `num`, `big`, `bool`, `words` and
   * `block` only: an object fed by `value` may be fed as a reference to
   * its first place in the walk, which a kept digest cannot follow.
   */
  versioned<T extends object>(
    version: StateVersion,
    o: T,
    feed: (h: StateHash, o: T) => void,
  ): void;
}

/**
 * A model object that hashes its own public fields (`hashFields`), which
 * `scn explore`'s fingerprint then calls instead of enumerating them: for
 * the objects met at every state (a vCPU, its LAPIC), where walking the
 * fields one by one is most of a fingerprint. It must feed every
 * enumerable own field (a test flips each and requires the fingerprint to
 * change); objects by `h.value`, so that shared ones are seen once.
 */
export interface HashesFields {
  /** Feeds `h` every public field of the object. */
  hashFields(h: StateHash): void;
}

/** The engine's view of a VM. */
export interface VmModel {
  /** The VM's name in the scenario. */
  readonly name: string;
  /** Its vCPUs, by index. */
  readonly cpus: readonly CpuModel[];
  /** Releases what the VM holds outside JavaScript (a real VM's fds); called when a run ends. */
  dispose?(): void;
  /**
   * Feeds `h` the VM's state that its public fields do not show (its
   * models' `#private` fields), whole: register pages, redirection
   * entries, chip state. The engine walks the public fields itself. It
   * must feed everything private that the guest, a state path, an
   * expectation or a later step could tell apart (configuration fixed at
   * creation and derived caches may be left out), in an order fixed by the
   * state's shape, never by history. Optional: without it `scn explore`
   * reads every published state path instead, which is many times slower.
   */
  hashPrivate?(h: StateHash): void;
  /**
   * For `scn explore`: saves the VM's whole state (public and private, all
   * its models') and returns a function that puts it back into these same
   * objects, as often as called, so that another order of a parallel block
   * starts from the block's first choice instead of from a new VM. Null
   * when the VM cannot save its state as it is (explore then runs the
   * scenario again, as without the hook). The function returns false when
   * the run since went where it cannot be undone (then too). Optional.
   */
  snapshot?(): (() => boolean) | null;
}

/**
 * An architecture: its tables and a factory for its VMs. `M` is its VM type:
 * its commands and state paths take that type and no other, so the compiler
 * refuses an Arm command given an x86 VM. The engine and the checker hold
 * platforms of several types at once through {@link PlatformEntry}.
 */
export interface Platform<M extends VmModel> {
  /** The `arch` values it implements (`x86_64`). */
  readonly arch: readonly string[];
  /** The `vm` settings it understands. */
  readonly settings: readonly SettingSpec[];
  /** Every command, for every actor. */
  readonly commands: readonly CommandSpec<M>[];
  /** Every readable state path. */
  readonly state: readonly StateSpec<M>[];
  /**
   * The state paths `scn diff` compares between two runs of a scenario,
   * in the order reports list them: paths under `vcpu#` are read for every
   * vCPU, other `#` indexes up to the path's bounds. Each must be in
   * {@link Platform.state}. What the guest can see and a real VM can
   * report back; none means the platform is compared on what vCPUs took,
   * variables and expectations only.
   */
  readonly observables?: readonly string[];
  /**
   * What a vector or INTID a scenario names (`took 27`, a handler's
   * `vector 27`) is, for `scn report`: the Arm INTID classes; undefined
   * when a number says all.
   */
  explainTaken?: (vector: number) => string | undefined;
  /** What `on vcpuN ...` can handle. */
  readonly handlerEvents: readonly HandlerEventSpec[];
  /** Named constants usable as values (`EINVAL`). */
  readonly constants: Readonly<Record<string, number>>;
  /** Actor names besides `vcpuN` and `device X` (`vmm`). */
  readonly actors: readonly string[];
  /** The number of vCPUs a VM with these settings has. */
  vcpuCount(settings: Readonly<Record<string, Val>>): number;
  /** Builds a VM. */
  create: (name: string, settings: Readonly<Record<string, Val>>, env: ModelEnv) => M;
  /** Whether a handler declared for `event`/`values` matches what was taken. */
  handlerMatches: (event: string, values: readonly number[] | null, taken: Taken) => boolean;
  /**
   * What is wrong with a combination of settings that each passed their own
   * range check (`guest 48`), or undefined. The checker reports it at the vm.
   */
  checkSettings?(settings: Readonly<Record<string, Val>>): string | undefined;
}

/**
 * A platform with its VM type erased, as the registry, the checker and the
 * engine hold it: its commands and state paths take any {@link VmModel}.
 * Only {@link platformEntry} makes one from a typed {@link Platform}, and
 * the commands it makes accept only the VMs its own `create` built (anything
 * else is an internal error, never a call into the wrong model), so erasing
 * the type loses nothing the compiler checked.
 */
export interface PlatformEntry extends Platform<VmModel> {
  /** Brands the type: a plain `Platform<VmModel>` is not an entry. */
  readonly erased: true;
  /** Whether this entry's `create` built `vm`: the VMs its commands and state paths accept. */
  owns(vm: VmModel): boolean;
  /**
   * The platform's own `run` of `command`, one of this entry's commands,
   * taking its VM unchecked; null for any other command (a test's
   * replacement of one). Only for a caller that passes VMs
   * {@link PlatformEntry.owns} accepted, as the engine does (it checks each
   * VM of a run once, when it builds it). The erased command checks its VM
   * at every call through a wrapper that every command shares, and V8 sees
   * that wrapper's call of the command's `run` megamorphic: some 4-6% of
   * `scn run`'s time in the 1M-MSI bench.
   */
  uncheckedRun(command: CommandSpec<VmModel>): CommandSpec<VmModel>["run"] | null;
}

/**
 * A constructor that returns the object it is given instead of a new one,
 * so that a subclass's private fields are added to that object: the way to
 * mark objects another module built without a WeakMap.
 */
class Stamp {
  constructor(o: object) {
    return o;
  }
}

/**
 * Erases a platform's VM type, keeping it sound: the entry remembers every
 * VM it creates and hands its commands and state paths only those, typed as
 * the platform's own. An existential in the type system's terms: `M` is
 * captured here and nowhere else.
 *
 * @example
 * ```ts
 * import { x86Platform } from "../x86/platform.ts";
 * const X86: PlatformEntry = platformEntry(x86Platform);
 * ```
 */
export function platformEntry<M extends VmModel>(platform: Platform<M>): PlatformEntry {
  // Each VM this entry creates carries a private field naming it as the
  // entry's own: a property lookup on the hot path (explore's fingerprint
  // reads every state path), where a WeakMap made every VM an ephemeron,
  // which cost creation 7x and left the collector most of the time.
  class Made extends Stamp {
    readonly #own: M;
    constructor(vm: M) {
      super(vm);
      this.#own = vm;
    }
    static own(vm: VmModel): M {
      // One lookup, not `#own in vm` and then another: a VM not made here throws.
      try {
        return (vm as unknown as Made).#own;
      } catch {
        // Reported below.
      }
      throw new Error(
        `internal error: VM '${vm.name}' was not created by the ${
          platform.arch.join("/")
        } platform`,
      );
    }
    static owns(vm: VmModel): boolean {
      return #own in vm;
    }
  }
  const own = Made.own;
  // The existential's one opening: each command's typed `run`, given out only as
  // `uncheckedRun` says (for VMs `owns` accepted, which are M's).
  const unchecked = new Map<CommandSpec<VmModel>, CommandSpec<VmModel>["run"]>();
  return {
    ...platform,
    erased: true,
    commands: platform.commands.map((c): CommandSpec<VmModel> => {
      // The command's functions, not `c.run` read at each call: commands are objects of many
      // shapes, and a read of one through the wrapper every command shares was a map check that
      // failed (code thrown away) whenever a run brought a command the last one had not.
      const run = c.run, steps = c.steps;
      const erased: CommandSpec<VmModel> = {
        ...c,
        run: (vm, actor, args, source) => run(own(vm), actor, args, source),
        steps: steps && {
          names: steps.names,
          run: (vm, actor, args, source) => steps.run(own(vm), actor, args, source),
        },
      };
      unchecked.set(erased, run as unknown as CommandSpec<VmModel>["run"]);
      return erased;
    }),
    owns: Made.owns,
    uncheckedRun: (command) => unchecked.get(command) ?? null,
    state: platform.state.map((p): StateSpec<VmModel> => {
      const bounds = p.bounds;
      return {
        ...p,
        get: (vm, indexes) => p.get(own(vm), indexes),
        bounds: bounds && ((vm) => bounds(own(vm))),
      };
    }),
    create: (name, settings, env) => {
      const vm = platform.create(name, settings, env);
      new Made(vm);
      return vm;
    },
  };
}
