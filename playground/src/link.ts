/**
 * Playground links: `#scn=<base64url of the UTF-8 text>` (RFC 4648 section 5,
 * no padding), so that a scenario fits in a URL a bug report can carry and
 * nothing of it is sent to a server (a fragment never leaves the browser).
 *
 * @module
 */

/** The fragment key that holds a scenario. */
export const FRAGMENT_KEY = "scn";

/**
 * The scenario's text as base64url.
 *
 * @example
 * ```ts
 * encodeScenario("run\n"); // "cnVuCg"
 * ```
 */
export function encodeScenario(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The text of a base64url scenario, or undefined when it is not one
 * (a truncated or mangled link).
 *
 * @example
 * ```ts
 * decodeScenario("cnVuCg"); // "run\n"
 * ```
 */
export function decodeScenario(encoded: string): string | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) return undefined;
  const b64 = encoded.replace(/-/g, "+").replace(/_/g, "/");
  try {
    const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The scenario a URL's fragment holds (`#scn=...`), if any.
 *
 * @example
 * ```ts
 * scenarioFromHash("#scn=cnVuCg"); // "run\n"
 * ```
 */
export function scenarioFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const v = params.get(FRAGMENT_KEY);
  return v === null ? undefined : decodeScenario(v);
}

/**
 * A link to `base` (a page URL) that opens the scenario.
 *
 * @example
 * ```ts
 * scenarioLink("http://127.0.0.1:8123/#old", "run\n"); // "http://127.0.0.1:8123/#scn=cnVuCg"
 * ```
 */
export function scenarioLink(base: string, text: string): string {
  return `${base.replace(/#.*$/, "")}#${FRAGMENT_KEY}=${encodeScenario(text)}`;
}
