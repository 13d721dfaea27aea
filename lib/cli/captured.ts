/**
 * `scn` run in process with its output captured: what the tests of the
 * loader and of host files use to see exactly what a person would see.
 *
 * @module
 */
import { type Io, main, mainAsync } from "./main.ts";

/** What one `scn` command gave: its exit code and every line, stdout and stderr in order. */
export interface Captured {
  readonly code: number;
  readonly out: string[];
}

/** An Io that appends stdout and stderr lines to `out`, without colour, and writes no file. */
export function captureIo(out: string[]): Io {
  return {
    out: (line) => out.push(line),
    err: (line) => out.push(line),
    color: false,
    writeFile: () => {
      throw new Error("no writes expected");
    },
  };
}

/**
 * Runs `scn args` through the CLI's own `main`.
 *
 * @example
 * ```ts
 * const { code, out } = scn(["help", "run"]);
 * ```
 */
export function scn(args: string[]): Captured {
  const out: string[] = [];
  return { code: main(args, captureIo(out)), out };
}

/** {@link scn} through `mainAsync`, for commands that may use workers (`explore --workers`). */
export async function scnAsync(args: string[]): Promise<Captured> {
  const out: string[] = [];
  return { code: await mainAsync(args, captureIo(out)), out };
}
