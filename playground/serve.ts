/**
 * `deno task playground [--port N]`: builds the page from the working tree
 * (`build.ts`, local files only) and serves `playground/` as static files on
 * 127.0.0.1. Nothing else is served and nothing is fetched: the page runs
 * irqlab in the browser, and also works opened straight from
 * `playground/index.html`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildPlayground } from "./build.ts";

/** What is served: this folder. */
const ROOT = new URL("./", import.meta.url).pathname;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".png": "image/png",
};

/**
 * The response for a request path: a file under `root` (`playground/`;
 * never above it), `index.html` for `/`.
 *
 * @example
 * ```ts
 * (await staticResponse("/")).status; // 200
 * ```
 */
export async function staticResponse(pathname: string, root = ROOT): Promise<Response> {
  const rel = decodeURIComponent(pathname).replace(/^\/+/, "") || "index.html";
  if (rel.split("/").some((p) => p === ".." || p.startsWith(".")) || rel.includes("\\")) {
    return new Response("not found\n", { status: 404 });
  }
  const ext = rel.slice(rel.lastIndexOf("."));
  const type = TYPES[ext];
  if (!type) return new Response("not found\n", { status: 404 });
  try {
    const body = await Deno.readFile(root + rel);
    return new Response(body, {
      headers: { "content-type": type, "cache-control": "no-cache" },
    });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
}

/**
 * Serves the playground (`root`, a folder path ending in `/`: this one by
 * default) on 127.0.0.1:`port` (0: any free port); returns the server.
 *
 * @example
 * ```ts
 * const server = servePlayground(0);
 * await server.shutdown();
 * ```
 */
export function servePlayground(
  port: number,
  onListen?: (url: string) => void,
  root = ROOT,
): Deno.HttpServer {
  return Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => onListen?.(`http://127.0.0.1:${port}/`),
  }, (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405 });
    }
    return staticResponse(new URL(req.url).pathname, root);
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8123" }, "no-build": { type: "boolean" } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`playground: --port needs a port number, not '${values.port}'`);
    Deno.exit(2);
  }
  if (!values["no-build"]) await buildPlayground();
  servePlayground(port, (url) => console.log(`irqlab playground: ${url}`));
}
