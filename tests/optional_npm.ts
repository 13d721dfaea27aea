/**
 * npm packages that only some tests need (a property-testing library, a
 * browser driver, VS Code's TextMate engine, a TAP parser). They are loaded
 * when the test module starts, not imported, so that every other test
 * type-checks and runs on a machine that has Deno and no registry; the tests
 * that need a missing package are registered as ignored, with the reason in
 * their name and on the console.
 *
 * Each caller states the narrow interface it uses, so its code stays typed
 * without the package's own type declarations.
 *
 * @module
 */

/**
 * The module `spec` (an `npm:` specifier), or `undefined` when it cannot be
 * fetched; says so on the console, naming `who` needs it.
 *
 * @example
 * ```ts ignore
 * interface Parser { parse(text: string): unknown }
 * const tap = await optionalNpm<{ Parser: new () => Parser }>("npm:tap-parser@18.3.4", "tap");
 * ```
 */
export async function optionalNpm<T>(spec: string, who: string): Promise<T | undefined> {
  try {
    return await import(spec) as T;
  } catch {
    console.log(`${who}: SKIPPED: ${spec} cannot be fetched (no npm registry, empty cache)`);
    return undefined;
  }
}

/** Why a test was not run, as its name shows it. */
export const SKIPPED_NO_REGISTRY = " (skipped: npm registry unreachable)";
