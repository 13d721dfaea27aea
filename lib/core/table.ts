/**
 * The shape of the tables that model modules publish so the language can use
 * them without knowing any device: commands (who may issue them, typed
 * parameters with ranges, one line of doc), readable state paths, and the
 * settings of a `vm` block.
 *
 * The checker resolves every command and path against these tables, `scn
 * help` prints them, and error messages draw their "did you mean" from them.
 *
 * @module
 */

import type { BitField } from "./bitfield.ts";

/** A runtime value: integers (bigint only past 2^53), vector sets as sorted arrays, names. */
export type Val = number | bigint | readonly (number | bigint)[] | string;

/** A named bit field of a register, at its architectural position (see `bitfield.ts`). */
export type FieldSpec = BitField;

/** The type of a command parameter or of a value read from a state path. */
export type ParamType =
  /** `decimal`: print values in decimal in messages (indexes, pins, counts). */
  /** `vcpu`: the value names a vCPU of the acting VM, so it must be below its vCPU count. */
  | { kind: "int"; min: number; max: number; what?: string; decimal?: boolean; vcpu?: boolean }
  | { kind: "u64" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "bool" }
  | { kind: "duration" }
  | { kind: "set"; min: number; max: number }
  /** A register name from one of the register files, with `field=value` words for its fields. */
  | { kind: "register"; files: readonly RegisterFile[] };

/** A parameter of a command. */
export interface ParamSpec {
  /** The name scenarios use. */
  name: string;
  /** Its type, with range. */
  type: ParamType;
  /** One line for `scn help` and messages. */
  doc: string;
  /** Taken by position as well as by `name=`; positional parameters come first. */
  positional?: boolean;
  /** Default when omitted; a parameter without one is required. */
  default?: Val;
}

/**
 * The parameters a command takes by position: those its table marks
 * `positional`, else its first one, the command's main argument (`evtchn
 * send 13`, `ipi 0x41`). Every parameter may also be given by name. A
 * register parameter has its own positional form (`write lapic.tpr 0x50`)
 * and is never in this list.
 *
 * @example
 * ```ts
 * mainParams({ params: [{ name: "gsi", type: { kind: "u64" }, doc: "" }] }).map((p) => p.name); // ["gsi"]
 * ```
 */
export function mainParams(spec: { params: readonly ParamSpec[] }): readonly ParamSpec[] {
  const marked = spec.params.filter((p) => p.positional);
  if (marked.length !== 0) return marked;
  if (spec.params.some((p) => p.type.kind === "register")) return [];
  return spec.params.slice(0, 1);
}

/** Who can perform a command. */
export type ActorKind = "vcpu" | "vmm" | "device" | "hypervisor";

/** A register that guest code (or the VMM) can read and write by name. */
export interface RegisterSpec {
  /** The name used in scenarios: `lvt0`, `redtbl`. */
  name: string;
  /** The spec's name: "LVT LINT0 Register". */
  title: string;
  /** Width in bits. */
  width: 32 | 64;
  /** Its bit fields, low bits first. */
  fields: readonly FieldSpec[];
  /** Indexed registers (`redtbl[14]`) give their count for a VM. */
  count?: number;
  /** The count for a VM with these settings, when it depends on them (Xen's 48-pin vIOAPIC). */
  countFor?(settings: Readonly<Record<string, Val>>): number;
  /**
   * The index may be left out (a bitmap word read or swapped whole, as
   * `xchg vcpu0.info.evtchn_pending_sel 0`); the access then has index 0.
   */
  indexOptional?: boolean;
  /** Writes are ignored. */
  readonly?: boolean;
  /** Reads give nothing meaningful (EOI). */
  writeonly?: boolean;
  /** One line for `scn help` and messages. */
  doc: string;
}

/** A named set of registers under a prefix (`lapic.`, `ioapic.`). */
export interface RegisterFile {
  /** The first path segment: `lapic`, `ioapic`. */
  prefix: string;
  /** The registers, in the spec's order. */
  registers: readonly RegisterSpec[];
}

/** Arguments after the checker has resolved and range-checked them. */
export type Args = Readonly<Record<string, Val>> & {
  /** For `register` parameters: the register, its file, its index, and the fields written. */
  readonly $register?: RegisterAccess;
  /** For commands with a block: one record per entry. */
  readonly $entries?: ReadonlyArray<Readonly<Record<string, Val>>>;
};

/** A resolved register access: which register, which element, and which fields or raw value. */
export interface RegisterAccess {
  /** The register written or read. */
  register: RegisterSpec;
  /** The register file it belongs to. */
  file: RegisterFile;
  /** The element of an indexed register, else 0. */
  index: number;
  /** A raw value written as a positional number, if given. */
  raw?: bigint;
  /** Field values given as `name=value`. */
  fields: ReadonlyArray<readonly [FieldSpec, number]>;
  /** For a file whose prefix holds `vcpu#` (`vcpu#.info`): the vCPU number written. */
  fileIndex?: number;
}

/**
 * Why a command or state path cannot be used on a VM with these settings,
 * worded to follow its name (`needs 'hypervisor xen' ...`), or undefined
 * when it can.
 * The checker reports it at the use, so one platform table can serve VMs
 * of different kinds.
 *
 * @example
 * ```ts
 * const needXen: Requirement = (s) => s.hypervisor === "kvm" ? "needs 'hypervisor xen'" : undefined;
 * ```
 */
export type Requirement = (settings: Readonly<Record<string, Val>>) => string | undefined;

/**
 * A command of a model. `M` is the model's VM type; `actor` is the vCPU index
 * for vCPU commands and -1 otherwise. Without `M` (that is, `never`) it is
 * the table entry to read (name, parameters, doc) that nothing can run: any
 * model's command is one.
 */
export interface CommandSpec<M = never> {
  /** Who may issue it. */
  actor: ActorKind;
  /** The words that name it: `lapic enable`, `kvm irq_line`. */
  name: string;
  /** One line for `scn help` and messages. */
  doc: string;
  /** Its parameters, positional ones first. */
  params: readonly ParamSpec[];
  /** What `-> $x` binds, if anything. */
  returns?: string;
  /**
   * A block of entries (`{ gsi=0 irqchip=ioapic pin=2  gsi=1 ... }`): each
   * entry starts at the `entry` parameter and takes `params` by name.
   */
  block?: { entry: string; params: readonly ParamSpec[] };
  /**
   * Runs the command; the return value is what `-> $x` binds. A property,
   * not a method, so that the parameter is checked contravariantly: a
   * command of one model's VMs is no command of another's.
   */
  run: (vm: M, actor: number, args: Args, source: string) => Val | void;
  /** Set when only some VMs of the platform have the command (see {@link Requirement}). */
  requires?: Requirement;
  /**
   * The instruction traps to the hypervisor (a VM exit: port I/O, APIC
   * MMIO, MSR accesses, HLT), where the rest of the guest's instructions do
   * not. A model records the exit (x86: in the vCPU's `kvm_run`) before the
   * command acts.
   */
  exits?: boolean;
  /**
   * How a backend that runs a real system performs the command: a key of
   * that backend's operation table (`lib/kvm` for x86), naming an ioctl, a
   * guest instruction or a refusal. Kept apart from `name` so that
   * renaming a command keeps its binding; a platform with such a backend
   * narrows the type to its own keys and requires it on every command, so
   * an unbound command does not compile.
   */
  backend?: string;
  /**
   * What the numbers of a use mean, for `scn report`: given the arguments
   * a scenario wrote as literals (others are absent), one line decoding
   * them by the model's field tables, or undefined when there is nothing
   * to say. Register arguments need none: their {@link RegisterSpec}
   * fields decode them.
   */
  explain?: (args: Readonly<Record<string, Val>>) => string | undefined;
  /**
   * What a number compared with the value `-> $v` bound means (`expect $v
   * == 0x...`), given the use's literal arguments, or undefined.
   */
  explainResult?: (args: Readonly<Record<string, Val>>, value: bigint) => string | undefined;
  /** What one entry of the command's block means (its literal fields), or undefined. */
  explainEntry?: (entry: Readonly<Record<string, Val>>) => string | undefined;
  /**
   * What state the command may read or write, for `scn explore`'s
   * partial-order reduction: two actions by different actors whose
   * footprints share nothing are not tried in both orders. Names are model
   * families (`ioapic`, `pic`, `its`, `gicd`) or, with `@self`, the acting
   * vCPU's own part (`cpu@self`, `lapic@self`); `*` is everything. Absent
   * means everything: only declare a footprint the model code bears out.
   * A function gives it per VM, from the VM's settings (undefined for
   * everything): a KVM line write never reads a vCPU's flags, a Xen event
   * channel kick ends a HLT.
   */
  touches?: Footprint;
  /**
   * The command as a sequence of steps that others may come between, for
   * `scn explore`: a model marks an action interruptible where the real
   * thing is (Xen's event-channel send is separate writes to guest memory
   * the guest can race; a VMM's copy of vcpu_info is a memcpy). `names`
   * are the steps, in order; `run` performs them, yielding after each but
   * the last, and may return early when the rest has nothing to do. Plain
   * `run` of a scenario performs all steps back to back, as {@link run}
   * does; inside `parallel`, explore interleaves other actors' steps
   * between them. Build such commands with {@link stepwise}.
   */
  steps?: {
    readonly names: readonly string[];
    run: (vm: M, actor: number, args: Args, source: string) => Generator<void, Val | void, void>;
  };
}

/**
 * Makes a command out of its steps: `run` performs them all at once.
 *
 * @example
 * ```ts
 * const send = stepwise({
 *   actor: "hypervisor",
 *   name: "send",
 *   doc: "raise a port",
 *   params: [],
 * }, ["set pending", "set selector"], function* (vm: { setPending(): void; setSelector(): void }) {
 *   vm.setPending();
 *   yield;
 *   vm.setSelector();
 * });
 * ```
 */
export function stepwise<M>(
  spec: Omit<CommandSpec<M>, "run" | "steps">,
  names: readonly string[],
  steps: (vm: M, actor: number, args: Args, source: string) => Generator<void, Val | void, void>,
): CommandSpec<M> {
  return {
    ...spec,
    steps: { names, run: steps },
    run: (vm, actor, args, source) => drain(steps(vm, actor, args, source)),
  };
}

/**
 * Runs the steps of a model action back to back and returns its result.
 *
 * @example
 * ```ts
 * import { EventChannels } from "../xen/evtchn.ts";
 * declare const evtchn: EventChannels;
 * drain(evtchn.raiseOnSteps(66, 1)); // as evtchn.raiseOn(66, 1)
 * ```
 */
export function drain<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The footprint name for all of a VM's interrupt plumbing (controllers,
 * routing, ITS, pending NMIs) but not its vCPUs' instruction flags (IF, STI
 * shadow, PSTATE.I/F, halted), which only a vCPU's own instructions and
 * delivery during `run` change.
 */
export const PLUMBING = "plumbing";

/** The footprint of an instruction that changes only the acting vCPU's own flags. */
export const OWN_FLAGS: readonly string[] = ["cpu@self"];

/**
 * A command's footprint for `scn explore` (see {@link CommandSpec.touches}):
 * state names, or a function of the VM's settings giving them.
 */
export type Footprint =
  | readonly string[]
  | ((settings: Readonly<Record<string, Val>>) => readonly string[] | undefined);

/**
 * A readable state path. Pattern segments: `vcpu#` (a vCPU), `[#]` (an
 * index), or literal names. As with {@link CommandSpec}, `StateSpec` without
 * `M` is any model's path, to read about but not to read.
 */
export interface StateSpec<M = never> {
  /** The path as written, with `#` for numbers: `vcpu#.lapic.isr`, `ioapic.pin[#].remote_irr`. */
  pattern: string;
  /** Its type, with range. */
  type: ParamType;
  /** One line for `scn help` and messages. */
  doc: string;
  /** Reads the value; `indexes` are the numbers matched by `#` in order. */
  get: (vm: M, indexes: readonly number[]) => Val;
  /** Upper bounds (exclusive) of each `#` for a VM, for range checks. */
  bounds?: (vm: M) => readonly number[];
  /** Set when only some VMs of the platform have the path (see {@link Requirement}). */
  requires?: Requirement;
  /**
   * A decoded view of state shown whole elsewhere: by another path (a field
   * of a register published as one number) or by a public field of the
   * model (the LAPIC's IRR array). `scn explore`'s fingerprint reads the
   * whole and skips this, which was most of its reading cost.
   */
  derived?: boolean;
  /**
   * The field layout of the value read, for `scn report` to decode a number
   * a scenario compares it with: the register's name as the spec writes it
   * (an indexed path's index follows it: `IOREDTBL20`) and its fields.
   */
  layout?: { readonly title: string; readonly fields: readonly FieldSpec[] };
  /** What the numbers matched by `#` name, for `scn report` (an INTID's class), or undefined. */
  explainIndexes?: (indexes: readonly number[]) => string | undefined;
}

/** A setting of a `vm { }` block. */
export interface SettingSpec {
  /** The name scenarios use. */
  name: string;
  /** One line for `scn help` and messages. */
  doc: string;
  /** The values it takes, or a number range; `flag` settings take none. */
  value:
    | { kind: "enum"; values: readonly string[]; default: string }
    | {
      kind: "int";
      min: number;
      max: number;
      default: number;
    }
    | { kind: "flag" }
    | {
      /** A list of numbers written `name=[a, b, c]` (vCPU ids in creation order). */
      kind: "list";
      min: number;
      max: number;
      default: readonly number[];
    };
  /**
   * Settings allowed in a block after it (`gic v3 { its }`). They are
   * stored flattened under `name.sub` (`gic.its`).
   */
  block?: readonly SettingSpec[];
  /**
   * Values a user may reasonably try that the modelled system refuses, each
   * with the reason (`irqchip userspace` on arm64: KVM has no such mode).
   */
  refused?: Readonly<Record<string, string>>;
}

/** Something a handler can be attached to: `vector 0xf3`, `nmi`. */
export interface HandlerEventSpec {
  /** The name scenarios use. */
  name: string;
  /** One line for `scn help` and messages. */
  doc: string;
  /** Whether it takes a value (a vector, a set or a range of them). */
  takesValue: boolean;
  /**
   * The variables a handler for it has in its body, and where each value
   * comes from in what was taken: `vector` is {@link Taken}'s vector or
   * INTID, `ack` the value the acknowledge read returned (Arm's IAR).
   */
  binds?: readonly { name: string; doc: string; from: "vector" | "ack" }[];
}
