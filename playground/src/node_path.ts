/**
 * The part of `node:path`'s `posix` that the engine and checker use (include
 * paths, replay tokens), for the browser, which has no `node:` modules. The
 * playground's bundle maps `node:path` here (`playground/bundle.json`).
 *
 * @module
 */

function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
    } else out.push(part);
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined || ".";
}

function dirname(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function basename(path: string): string {
  const p = path.replace(/\/+$/, "");
  return p.slice(p.lastIndexOf("/") + 1);
}

function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/"));
}

function relative(from: string, to: string): string {
  const a = normalize(from).split("/").filter((p) => p && p !== ".");
  const b = normalize(to).split("/").filter((p) => p && p !== ".");
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => ".."), ...b.slice(i)].join("/");
}

/**
 * POSIX path operations on `/`-separated strings.
 *
 * @example
 * ```ts
 * posix.join(posix.dirname("scenarios/arm/a.scn"), "_its_setup1.scn"); // "scenarios/arm/_its_setup1.scn"
 * ```
 */
export const posix = {
  normalize,
  dirname,
  basename,
  join,
  relative,
  isAbsolute: (path: string): boolean => path.startsWith("/"),
  sep: "/",
};
