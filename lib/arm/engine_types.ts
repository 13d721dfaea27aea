/**
 * The engine and table types that the Arm models' public signatures use
 * (`ArmVm implements VmModel`, `armPlatform: Platform<ArmVm>`, a `Trace`
 * in every model), re-exported so that the documentation of `lib/arm` is
 * complete on its own: `deno doc lib/arm/*.ts` links them instead of
 * reporting private types. They are defined in `lib/core` and
 * `lib/engine`, and nothing here adds to them.
 *
 * @example
 * ```ts
 * import type { ModelEnv, Trace } from "./engine_types.ts";
 * function traceOf(env: ModelEnv): Trace {
 *   return env.trace;
 * }
 * ```
 *
 * @module
 */
export type { Trace, TraceEvent } from "../core/trace.ts";
export type { CpuModel, ModelEnv, Platform, Taken, VmModel } from "../core/platform.ts";
export type {
  ActorKind,
  Args,
  CommandSpec,
  FieldSpec,
  HandlerEventSpec,
  ParamSpec,
  ParamType,
  RegisterAccess,
  RegisterFile,
  RegisterSpec,
  Requirement,
  SettingSpec,
  StateSpec,
  Val,
} from "../core/table.ts";
export type { EventQueue, Scheduled } from "../core/event_queue.ts";
