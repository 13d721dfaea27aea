/**
 * What the KVM tests share: whether they can run here, and why not.
 *
 * @module
 */
import { closeFd, closeLibc, ffiPermitted, KvmUnavailable, openDevice } from "./libc.ts";

/**
 * Why KVM tests cannot run on this machine, or undefined when they can.
 *
 * @example
 * ```ts
 * Deno.test({ name: "...", ignore: kvmUnavailableReason() !== undefined, fn() {} });
 * ```
 */
export function kvmUnavailableReason(): string | undefined {
  if (!ffiPermitted()) return "no FFI permission (run the tests with --allow-ffi)";
  // Deno refuses stat of device files without --allow-all, so ask open(2) instead.
  try {
    closeFd(openDevice("/dev/kvm"));
  } catch (e) {
    return e instanceof KvmUnavailable ? e.message : `cannot open /dev/kvm: ${e}`;
  } finally {
    closeLibc();
  }
  return undefined;
}

/**
 * Prints, once per test file, why its KVM tests are skipped; returns whether they run.
 *
 * @example
 * ```ts
 * const available = kvmTestsAvailable("guest_test.ts");
 * ```
 */
export function kvmTestsAvailable(file: string): boolean {
  const why = kvmUnavailableReason();
  if (why) console.log(`${file}: KVM tests skipped: ${why}`);
  return why === undefined;
}
