/**
 * Virtual time as scenarios write it, for every report.
 *
 * @module
 */

// Budget errors quote trace events from the engine, below the reports: the
// one statement of the format is in lib/core/trace.ts.
export { formatTime } from "../core/trace.ts";
