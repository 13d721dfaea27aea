/**
 * Loading a real backend for `scn diff` and `difftest`: the platform module is
 * imported by a computed specifier, so neither type checking nor ordinary runs
 * load FFI code.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";

/** Backends `--against` can name. */
export const BACKENDS = ["kvm"] as const;

/** Loads a backend's platform by name; throws when it cannot run here. */
export type BackendLoader = (name: string) => Promise<PlatformEntry>;

/** Why a backend cannot run: thrown by a {@link BackendLoader}. */
export class BackendUnavailable extends Error {
  /**
   * @example
   * ```ts
   * throw new BackendUnavailable("/dev/kvm does not exist", false);
   * ```
   */
  constructor(message: string, readonly needsFfi: boolean) {
    super(message);
    this.name = "BackendUnavailable";
  }
}

/** Where the kvm backend's platform lives. */
export const KVM_PLATFORM_URL = new URL("../kvm/platform.ts", import.meta.url).href;

/**
 * The real loader: `lib/kvm/platform.ts` (or `url`) by a dynamic import
 * whose specifier is computed, so neither type checking nor ordinary runs
 * load it.
 *
 * @example
 * ```ts
 * const kvm = await loadBackend("kvm");
 * ```
 */
export async function loadBackend(name: string, url = KVM_PLATFORM_URL): Promise<PlatformEntry> {
  if (name !== "kvm") throw new BackendUnavailable(`no backend '${name}'`, false);
  let mod: { kvmPlatform?: () => PlatformEntry };
  try {
    mod = await import(url);
  } catch (e) {
    const missing = e instanceof TypeError && /Module not found|ERR_MODULE_NOT_FOUND/.test(
      `${e.message} ${(e as { code?: string }).code ?? ""}`,
    );
    throw new BackendUnavailable(
      missing ? `${relative(url)} is not part of this build yet` : errorText(e),
      false,
    );
  }
  if (typeof mod.kvmPlatform !== "function") {
    throw new BackendUnavailable(`${relative(url)} does not export kvmPlatform()`, false);
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    throw new BackendUnavailable("needs FFI permission", true);
  }
  try {
    return mod.kvmPlatform();
  } catch (e) {
    throw asUnavailable(e) ?? e;
  }
}

/** lib/kvm's own refusal to run (`KvmUnavailable`), known by name so nothing imports lib/kvm. */
/** A backend module's own "cannot run here" error, as a {@link BackendUnavailable}. */
export function asUnavailable(e: unknown): BackendUnavailable | undefined {
  if (!(e instanceof Error) || e.name !== "KvmUnavailable") return undefined;
  return new BackendUnavailable(e.message, (e as { reason?: string }).reason === "ffi");
}

/** `lib/kvm/platform.ts` for a module of this repository, else the URL. */
function relative(url: string): string {
  const root = new URL("../../", import.meta.url).href;
  return url.startsWith(root) ? url.slice(root.length) : url;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
