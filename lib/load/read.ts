/**
 * Reading a file a stranger's scenario names, safely: regular files only (a
 * FIFO would hang the reader, `/dev/zero` would never end), up to a size
 * budget, strict UTF-8 (a bad byte is a located error, not a silent U+FFFD),
 * and a missing permission named as such with the flag that grants it.
 *
 * @module
 */
import * as posix from "../core/posix_path.ts";
import type { Position } from "../core/loc.ts";

/** What a scenario may make irqlab read. */
export interface ReadLimits {
  /** Bytes in one file: the scenario, a host file or an include. */
  fileBytes: number;
  /** Bytes read for one scenario over all its includes, each include counted each time. */
  totalBytes: number;
  /** `include` statements expanded for one scenario, nested ones included. */
  includes: number;
}

/**
 * The budgets: a scenario is a page or two, a bug report's mbox a few
 * hundred kilobytes; these leave room for far more and still stop a file
 * that grows without end or an include tree that fans out.
 */
export const READ_LIMITS: ReadLimits = {
  fileBytes: 4 * 1024 * 1024,
  totalBytes: 16 * 1024 * 1024,
  includes: 10_000,
};

/**
 * The budgets with one file allowed `fileBytes` (`--max-input-bytes`, for a
 * scenario the user trusts): one scenario may read four times that over its
 * includes, as the defaults allow.
 *
 * @example
 * ```ts
 * readLimits(60_000_000).totalBytes; // 240000000
 * ```
 */
export function readLimits(fileBytes: number): ReadLimits {
  return { ...READ_LIMITS, fileBytes, totalBytes: 4 * fileBytes };
}

/** Why a file could not be read, said for people; `at` locates a bad byte. */
export interface ReadProblem {
  /** "'x.scn' is not a regular file", in one sentence. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /** The budget was exceeded (vs. a missing or unreadable file). */
  budget?: boolean;
  /** Where in the file the problem is (invalid UTF-8). */
  at?: Position;
  /** The file decoded with U+FFFD for bad bytes, to quote the line of {@link ReadProblem.at}. */
  lossy?: string;
}

/** A file's text, or why there is none. */
export type ReadResult = { text: string } | { problem: ReadProblem };

/**
 * Reads `path` as a scenario or host file: a regular file, at most
 * `limit` bytes, valid UTF-8.
 *
 * @example
 * ```ts
 * const r = readScenarioFile("scenarios/seeds/001_unmask_bug.scn");
 * if ("text" in r) r.text.startsWith("scenario");
 * ```
 */
export function readScenarioFile(path: string, limit = READ_LIMITS.fileBytes): ReadResult {
  let info: Deno.FileInfo;
  try {
    // Follows symbolic links: it is the target whose kind matters.
    info = Deno.statSync(path);
  } catch (e) {
    return { problem: osProblem(path, e) };
  }
  if (!info.isFile) {
    return {
      problem: {
        message: `'${path}' is ${info.isDirectory ? "a directory" : "not a regular file"}`,
        hint: "scenarios, host files and includes are read from regular files only",
      },
    };
  }
  if (info.size > limit) return { problem: tooBig(path, limit) };
  let bytes: Uint8Array;
  try {
    using file = Deno.openSync(path);
    // Read at most one byte past the budget: the file may have grown since stat.
    bytes = new Uint8Array(Math.min(info.size, limit) + 1);
    let n = 0;
    for (;;) {
      const got = file.readSync(bytes.subarray(n));
      if (got === null || got === 0) break;
      n += got;
      if (n === bytes.length) break;
    }
    if (n > limit) return { problem: tooBig(path, limit) };
    bytes = bytes.subarray(0, n);
  } catch (e) {
    return { problem: osProblem(path, e) };
  }
  return decodeUtf8(bytes, path);
}

// One decoder for every file: without `stream` a decode keeps no state.
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes UTF-8 strictly; the first invalid byte is a problem located at
 * its line and column.
 *
 * @example
 * ```ts
 * decodeUtf8(new Uint8Array([0x61, 0xff]), "a.scn"); // { problem: { at: { line: 1, column: 2, ... } } }
 * ```
 */
export function decodeUtf8(bytes: Uint8Array, path: string): ReadResult {
  try {
    return { text: STRICT_UTF8.decode(bytes) };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = new TextDecoder().decode(bytes.subarray(0, bad));
    const lineStart = Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\r")) + 1;
    const line = before.split(/\r\n|\n|\r/).length;
    const at = { offset: before.length, line, column: before.length - lineStart + 1 };
    const hex = bytes[bad].toString(16).padStart(2, "0");
    return {
      problem: {
        message: `'${path}' is not valid UTF-8: byte 0x${hex} at offset ${bad}`,
        hint: "save the scenario as UTF-8",
        at,
        lossy: new TextDecoder().decode(bytes),
      },
    };
  }
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const need = c < 0x80
      ? 0
      : c >= 0xc2 && c <= 0xdf
      ? 1
      : c >= 0xe0 && c <= 0xef
      ? 2
      : c >= 0xf0 && c <= 0xf4
      ? 3
      : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      // Overlong forms, surrogates and code points past U+10FFFF.
      if (
        k === 1 && ((c === 0xe0 && x < 0xa0) || (c === 0xed && x > 0x9f) ||
          (c === 0xf0 && x < 0x90) || (c === 0xf4 && x > 0x8f))
      ) return i;
    }
    i += need + 1;
  }
  return b.length;
}

function tooBig(path: string, limit: number): ReadProblem {
  return {
    message: `'${path}' is larger than ${limit} bytes, the budget for one file`,
    hint: "a scenario, a host file or an include may hold at most that much; " +
      "for a scenario you trust, raise it with --max-input-bytes N",
    budget: true,
  };
}

/**
 * An operating-system error reading `path` in words: a missing permission
 * says which flag grants it rather than "no such file".
 *
 * @example
 * ```ts
 * osProblem("a.scn", new Deno.errors.NotFound("x")).message; // "no such file 'a.scn'"
 * ```
 */
export function osProblem(path: string, e: unknown): ReadProblem {
  if (e instanceof Deno.errors.NotCapable) {
    return {
      message: `reading '${path}' needs read permission`,
      hint: `run with --allow-read=${grantFor(path)}`,
    };
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return {
      message: `'${path}' cannot be read: the operating system denies permission`,
      hint: "check the file's mode and owner",
    };
  }
  if (e instanceof Deno.errors.NotFound) return { message: `no such file '${path}'` };
  if (e instanceof Deno.errors.IsADirectory) return { message: `'${path}' is a directory` };
  return { message: `cannot read '${path}': ${e instanceof Error ? e.message : String(e)}` };
}

/**
 * What to grant: a file's folder, so that its includes are readable too; a
 * path without a file ending is taken for a folder (a walk's), granted whole.
 */
function grantFor(path: string): string {
  if (!/\.[A-Za-z0-9]+$/.test(posix.basename(path))) return path;
  const dir = posix.dirname(path);
  return dir === "" ? "." : dir;
}
