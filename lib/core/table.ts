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
export type Val = number | bigint | readonly number[] | string;

/** A named bit field of a register, at its architectural position (see `bitfield.ts`). */
export type FieldSpec = BitField;

/** The type of a command parameter or of a value read from a state path. */
export type ParamType =
  /** `decimal`: print values in decimal in messages (indexes, pins, counts). */
  | { kind: "int"; min: number; max: number; what?: string; decimal?: boolean }
  | { kind: "u64" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "bool" }
  | { kind: "duration" }
  | { kind: "set"; min: number; max: number }
  /** A register name from one of the register files, with `field=value` words for its fields. */
  | { kind: "register"; files: readonly RegisterFile[] };

/** A parameter of a command. */
export interface ParamSpec {
  name: string;
  type: ParamType;
  doc: string;
  /** Taken by position as well as by `name=`; positional parameters come first. */
  positional?: boolean;
  /** Default when omitted; a parameter without one is required. */
  default?: Val;
}

/** Who can perform a command. */
export type ActorKind = "vcpu" | "vmm" | "device" | "hypervisor";

/** A register that guest code (or the VMM) can read and write by name. */
export interface RegisterSpec {
  /** The name used in scenarios: `lvt0`, `redtbl`. */
  name: string;
  /** The spec's name: "LVT LINT0 Register". */
  title: string;
  width: 32 | 64;
  fields: readonly FieldSpec[];
  /** Indexed registers (`redtbl[14]`) give their count for a VM. */
  count?: number;
  readonly?: boolean;
  writeonly?: boolean;
  doc: string;
}

/** A named set of registers under a prefix (`lapic.`, `ioapic.`). */
export interface RegisterFile {
  prefix: string;
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
  register: RegisterSpec;
  file: RegisterFile;
  index: number;
  /** A raw value written as a positional number, if given. */
  raw?: bigint;
  /** Field values given as `name=value`. */
  fields: ReadonlyArray<readonly [FieldSpec, number]>;
}

/**
 * A command of a model. `M` is the model's VM type; `actor` is the vCPU index
 * for vCPU commands and -1 otherwise.
 */
export interface CommandSpec<M = unknown> {
  actor: ActorKind;
  /** The words that name it: `lapic enable`, `kvm irq_line`. */
  name: string;
  doc: string;
  params: readonly ParamSpec[];
  /** What `-> $x` binds, if anything. */
  returns?: string;
  /**
   * A block of entries (`{ gsi=0 irqchip=ioapic pin=2  gsi=1 ... }`): each
   * entry starts at the `entry` parameter and takes `params` by name.
   */
  block?: { entry: string; params: readonly ParamSpec[] };
  /** Runs the command; the return value is what `-> $x` binds. */
  run(vm: M, actor: number, args: Args, source: string): Val | void;
}

/** A readable state path. Pattern segments: `vcpu#` (a vCPU), `[#]` (an index), or literal names. */
export interface StateSpec<M = unknown> {
  pattern: string;
  type: ParamType;
  doc: string;
  /** Reads the value; `indexes` are the numbers matched by `#` in order. */
  get(vm: M, indexes: readonly number[]): Val;
  /** Upper bounds (exclusive) of each `#` for a VM, for range checks. */
  bounds?(vm: M): readonly number[];
}

/** A setting of a `vm { }` block. */
export interface SettingSpec {
  name: string;
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
  name: string;
  doc: string;
  /** Whether it takes a value (a vector, a set or a range of them). */
  takesValue: boolean;
}
