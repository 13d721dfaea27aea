/**
 * Every `scn` command and report format beyond running or checking with the
 * text report, in one module that the command line's entry loads only when
 * it needs one of them (`scn run FILES` alone starts faster without them).
 *
 * @module
 */
export { KVM_TASK, kvmPermissionProblem, kvmRunCommand } from "./kvm_run_command.ts";
export { reportCommand } from "./report_command.ts";
export { helpSuggestions, helpText } from "./help.ts";
export { jsonReport } from "../report/json.ts";
export { junitReport } from "../report/junit.ts";
export { tapReport } from "../report/tap.ts";
export { type HtmlEntry, htmlReport } from "../report/html.ts";
export { splitTarget } from "../load/extract.ts";
export { parseSchedule } from "../engine/explore_schedule.ts";
export {
  exploreCommand,
  exploreCommandAsync,
  exploreMergeCommand,
  exploreOptions,
} from "./explore_command.ts";
export { fmtCommand } from "./fmt_command.ts";
export { minimizeCommand } from "./minimize_command.ts";
export { diffCommand } from "./diff_command.ts";
export { PLATFORMS } from "../api/platforms.ts";
