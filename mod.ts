/**
 * irqlab: a scriptable testbed for the interrupt plumbing of virtual machine
 * monitors. A `.scn` scenario describes VMs, vCPUs, interrupt controllers and
 * routing, a timeline of guest, host and device actions, and expectations;
 * irqlab runs it against a faithful, deterministic model.
 *
 * This module re-exports the public API; each export is documented where it
 * is defined.
 *
 * @example
 * ```ts
 * import { runText } from "./mod.ts";
 * const result = runText(`scenario "an MSI is taken"
 * vm g { arch x86_64 }
 * vcpu0: lapic enable
 * vcpu0: sti
 * vmm: kvm signal_msi address=0xfee00000 data=0x41
 * run
 * expect vcpu0 took 0x41 once
 * `, "demo.scn");
 * result.status; // "pass"
 * ```
 *
 * @module
 */
export { parse } from "./dsl/parse.ts";
export type * from "./dsl/ast.ts";
export { check, type CheckOptions, type Loader } from "./dsl/check/mod.ts";
export type * from "./dsl/program.ts";
export type { Timeline, TimelineTemplate, TimelineTemplates } from "./dsl/timeline.ts";
export { DEFAULT_MAX_STEPS, runProgram } from "./lib/engine/run.ts";
export type { Failure, RunOptions, ScenarioResult, TookRecord } from "./lib/engine/run.ts";
export { checkText, runText, type ScenarioOptions } from "./lib/api/scenario.ts";
export { ARM, PLATFORMS, X86 } from "./lib/api/platforms.ts";
export type {
  CpuModel,
  ModelEnv,
  Platform,
  PlatformEntry,
  StateHash,
  Taken,
  VmModel,
} from "./lib/core/platform.ts";
export { platformEntry } from "./lib/core/platform.ts";
export { StateVersion } from "./lib/core/state_version.ts";
export type * from "./lib/core/table.ts";
export { drain, OWN_FLAGS, PLUMBING, stepwise } from "./lib/core/table.ts";
export {
  type Counterexample,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_STATES,
  explore,
  type ExploreOptions,
  type ExploreResult,
  exploreSchedule,
  type ExploreStats,
  KNOWN_RACE_TAG,
} from "./lib/engine/explore.ts";
export {
  type BlockRun,
  formatSchedule,
  parseSchedule,
  ReplayScheduler,
  type ScheduleEntry,
} from "./lib/engine/explore_schedule.ts";
export { type BlockSteps, blockSteps } from "./lib/engine/steps.ts";
export type { ParallelOp, RunState, Scheduler } from "./lib/engine/run.ts";
export {
  type Diagnostic,
  type ErrorKind,
  formatDiagnostic,
  type Related,
  ScnError,
  type SourceLookup,
} from "./lib/core/diagnostic.ts";
export { EventQueue, type Scheduled } from "./lib/core/event_queue.ts";
export { Trace, type TraceEvent } from "./lib/core/trace.ts";
export type { Hypervisor, IrqchipMode, X86VmConfig } from "./lib/x86/vm.ts";
export type { LowestPriorityPolicy } from "./lib/x86/apic_bus.ts";
export type { PicSpecialMaskPolicy } from "./lib/x86/i8259.ts";
export type { HostCpu } from "./lib/x86/kvm_quirks.ts";
export type { GuestWidth } from "./lib/xen/layout.ts";
export type { XenDomainType } from "./lib/xen/evtchn.ts";
export type { KvmRunstateArea } from "./lib/xen/runstate.ts";
export {
  ExitCode,
  exitCodeOf,
  type Outcome,
  summarize,
  type Summary,
} from "./lib/report/outcome.ts";
export { type Line, type TextOptions, textReport } from "./lib/report/text.ts";
export { jsonReport } from "./lib/report/json.ts";
export { junitReport } from "./lib/report/junit.ts";
export type { ExprOp } from "./lib/core/u64.ts";
export type { History, TookCond } from "./lib/engine/history.ts";
