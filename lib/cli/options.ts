/**
 * Numeric command-line options, checked the same way by every command: a
 * whole number written in decimal digits, within the option's range. `1e99`,
 * `0x10`, `2.5` and `-1` are refused with a message naming the option, and a
 * negative value (`--max-steps -1`) is taken as the option's value, so that it
 * is refused as a number rather than mistaken for another option.
 *
 * @module
 */

/** The largest count any option accepts; past it a budget is no budget. */
export const MAX_COUNT = 1_000_000_000;

/**
 * `args` with `--name -1` written as `--name=-1` for every option that takes
 * a value, so that `parseArgs` hands the value to the check instead of
 * calling it ambiguous.
 *
 * @example
 * ```ts
 * joinNegativeValues(["--max-steps", "-1", "a.scn"], ["max-steps"]); // ["--max-steps=-1", "a.scn"]
 * ```
 */
export function joinNegativeValues(args: readonly string[], valued: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const next = args[i + 1];
    if (
      a.startsWith("--") && valued.includes(a.slice(2)) && next !== undefined &&
      /^-[0-9.]/.test(next)
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * A whole-number option's value, or the message saying why not; undefined
 * when the option is absent.
 *
 * @example
 * ```ts
 * wholeNumber("1e99", "max-steps", 1); // "--max-steps needs a positive whole number, not '1e99'"
 * wholeNumber("25", "max-steps", 1); // 25
 * ```
 */
export function wholeNumber(
  raw: string | undefined,
  name: string,
  min: number,
  max: number = MAX_COUNT,
): number | string | undefined {
  if (raw === undefined) return undefined;
  const n = /^[0-9]{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  if (Number.isInteger(n) && n > max) {
    return `--${name} needs a whole number of at most ${max}, not '${raw}'`;
  }
  return min === 1
    ? `--${name} needs a positive whole number, not '${raw}'`
    : `--${name} needs a whole number of at least ${min}, not '${raw}'`;
}
