/**
 * `scn run --backend kvm FILES...`: the x86 scenarios on a real VM through
 * `lib/kvm`, which is imported only here and only then, so `scn` without
 * `--backend kvm` never touches FFI.
 *
 * @module
 */
import type { PlatformEntry } from "../core/platform.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { ExitCode } from "../report/outcome.ts";
import type { Io } from "./io.ts";

/**
 * The command that runs the KVM backend with the permission it needs.
 *
 * @example
 * ```ts
 * console.error(`run it as ${KVM_TASK}`);
 * ```
 */
export const KVM_TASK = "deno task scn-kvm run --backend kvm FILES...";

/**
 * Why the KVM backend cannot run in this process, as one line, or undefined.
 *
 * @example
 * ```ts
 * kvmPermissionProblem(); // "... needs FFI permission: run 'deno task scn-kvm ...'"
 * ```
 */
export function kvmPermissionProblem(): string | undefined {
  return Deno.permissions.querySync({ name: "ffi" }).state === "granted"
    ? undefined
    : `scn run --backend kvm needs FFI permission (--allow-ffi): run '${KVM_TASK}'`;
}

/**
 * Runs `scn run` (its arguments without `--backend kvm`) on KVM: x86 VMs
 * are real VMs; VMs of other architectures are skipped. `rerun` is the
 * plain command line, given the KVM platforms through `io.platforms`.
 *
 * @example
 * ```ts
 * import { consoleIo, main } from "./main.ts";
 * await kvmRunCommand(["run", "scenarios/x86"], consoleIo(), main);
 * ```
 */
export async function kvmRunCommand(
  args: string[],
  io: Io,
  rerun: (args: string[], io: Io) => number,
): Promise<number> {
  const problem = kvmPermissionProblem();
  if (problem) {
    io.err(problem);
    return ExitCode.InputError;
  }
  const kvm = await import("../kvm/platform.ts");
  const libc = await import("../kvm/libc.ts");
  try {
    kvm.probeKvm();
  } catch (e) {
    if (e instanceof libc.KvmUnavailable) {
      io.err(`scn run --backend kvm: ${e.message}`);
      return ExitCode.InputError;
    }
    throw e;
  }
  const x86 = kvm.kvmPlatform();
  const platforms = (io.platforms ?? PLATFORMS).map((p): PlatformEntry =>
    p.arch.includes("x86_64") ? x86 : {
      ...p,
      create: () => {
        throw new kvm.BackendUnsupported(
          `arch ${p.arch.join("/")}: the KVM backend runs x86_64 VMs only`,
        );
      },
    }
  );
  return rerun(args, {
    ...io,
    platforms,
    runCommand: "deno task scn-kvm run --backend kvm",
    runProgress: true,
  });
}
