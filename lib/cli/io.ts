/**
 * The command line's window on the world: where it writes, which platforms
 * it offers. Injectable so tests capture output instead of printing.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import type { ProgressSink } from "../report/progress.ts";

/** Where the command line writes; injectable so tests can capture it. */
export interface Io {
  out(line: string, style?: string): void;
  err(line: string): void;
  color: boolean;
  writeFile(path: string, text: string): void;
  /** The platforms scenarios may use; irqlab's own when absent. */
  platforms?: readonly PlatformEntry[];
  /** The command a failure's replay line names; `deno task scn run` when absent. */
  runCommand?: string;
  /** Where progress lines over long work go (stderr); none when absent. */
  progress?: ProgressSink;
  /** Draw a progress line over `scn run`'s files too: the KVM backend's real VMs are slow. */
  runProgress?: boolean;
  /** Writes what `out` has kept back (a block for a file or a pipe); called before exit. */
  flush?(): void;
}
