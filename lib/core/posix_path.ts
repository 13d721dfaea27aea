/**
 * The POSIX path functions irqlab uses, giving what `posix` of `node:path`
 * gives for every input (posix_path_test.ts compares them over every short
 * path of the parts that matter: names, `.`, `..`, empty parts, leading and
 * trailing slashes). Loading Node's compatibility layer for `node:path`
 * costs a run of one small scenario some 6 ms, a tenth of it.
 *
 * @module
 */

/** The parts of `path` with `.` and empty ones dropped and `..` applied; `..` kept where nothing is left to go up from, unless `rooted`. */
function parts(path: string, rooted: boolean): string[] {
  const out: string[] = [];
  for (const p of path.split("/")) {
    if (p === "" || p === ".") continue;
    if (p !== "..") out.push(p);
    else if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (!rooted) out.push("..");
  }
  return out;
}

/**
 * Whether `path` starts at the root.
 *
 * @example
 * ```ts
 * isAbsolute("/etc/passwd"); // true
 * ```
 */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/**
 * `path` with `.`, `..` and repeated slashes resolved as far as the text
 * allows; a trailing slash is kept, an empty path is `.`.
 *
 * @example
 * ```ts
 * normalize("a/./b/../c//"); // "a/c/"
 * ```
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const rooted = isAbsolute(path);
  const trailing = path.endsWith("/");
  let out = parts(path, rooted).join("/");
  if (out === "" && !rooted) out = ".";
  if (trailing && out !== "" && out !== ".") out += "/";
  else if (trailing && out === ".") out = "./";
  return rooted ? `/${out}` : out;
}

/**
 * The paths joined with `/` and normalized; empty ones are skipped.
 *
 * @example
 * ```ts
 * join("scenarios", "x86", "../arm"); // "scenarios/arm"
 * ```
 */
export function join(...paths: string[]): string {
  const joined = paths.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/**
 * `path` without its last part (trailing slashes ignored): `.` when it has
 * one part, `/` at the root.
 *
 * @example
 * ```ts
 * dirname("scenarios/x86/a.scn"); // "scenarios/x86"
 * ```
 */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = isAbsolute(path);
  let end = -1;
  let sawName = false;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] !== "/") sawName = true;
    else if (sawName) {
      end = i;
      break;
    }
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/**
 * The last part of `path` (trailing slashes ignored).
 *
 * @example
 * ```ts
 * basename("scenarios/x86/a.scn"); // "a.scn"
 * ```
 */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

/**
 * The path from `from` to `to`, both taken from the working directory when
 * relative; `""` when they are the same place.
 *
 * @example
 * ```ts
 * relative("scenarios/x86", "scenarios/arm/a.scn"); // "../arm/a.scn"
 * ```
 */
export function relative(from: string, to: string): string {
  if (from === to) return "";
  let a = parts(from, isAbsolute(from));
  let b = parts(to, isAbsolute(to));
  // Two relative paths below the working directory share it: it cancels out.
  if (isAbsolute(from) || isAbsolute(to) || a[0] === ".." || b[0] === "..") {
    const cwd = Deno.cwd();
    a = parts(isAbsolute(from) ? from : `${cwd}/${from}`, true);
    b = parts(isAbsolute(to) ? to : `${cwd}/${to}`, true);
  }
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return [...a.slice(common).map(() => ".."), ...b.slice(common)].join("/");
}
