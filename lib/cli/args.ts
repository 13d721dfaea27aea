/**
 * Command-line options as `parseArgs` of `node:util` reads them in its
 * strict mode with positionals allowed: the same values, the same
 * positionals, the same error messages (args_test.ts compares the two over
 * every short command line of the options `scn` has). `scn run` and
 * `scn check` parse with this one: loading Node's compatibility layer for
 * `node:util` costs a run of one small scenario some 6 ms, a tenth of it.
 *
 * What it reads: `--name`, `--name=value` and `--name value` (a value taken
 * from the next argument even when it starts with a dash, which is then an
 * error, as the option is probably missing its value), `-x` for an option's
 * one-letter `short`, `-xyz` as `-x -y -z` (`-fVALUE` when `f` takes a
 * value), `--` ending the options; anything else is a positional. The last
 * of an option given twice wins; options not given take their `default`.
 *
 * @module
 */

/** One option, as `parseArgs` of `node:util` declares it. */
export interface OptionSpec {
  /** A flag, or an option that takes a value. */
  readonly type: "boolean" | "string";
  /** Its one-letter form, `h` for `-h`. */
  readonly short?: string;
  /** Its value when it is not given. */
  readonly default?: boolean | string;
}

/** The values {@link parseArgs} reads for `O`, typed as `node:util`'s are. */
export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]["type"] extends "boolean"
    ? O[K] extends { default: boolean } ? boolean : boolean | undefined
    : O[K] extends { default: string } ? string
    : string | undefined;
};

/**
 * Reads `args` against `options`; throws an `Error` with `node:util`'s
 * message for an unknown option, a value missing, a flag given a value or
 * a value that starts with a dash.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseArgs(["--trace", "a.scn", "--max-steps=9"], {
 *   trace: { type: "boolean", default: false },
 *   "max-steps": { type: "string" },
 * });
 * values["max-steps"]; // "9"
 * positionals; // ["a.scn"]
 * ```
 */
export function parseArgs<const O extends Record<string, OptionSpec>>(
  args: readonly string[],
  options: O,
): { values: OptionValues<O>; positionals: string[] } {
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  const longOf = (short: string) =>
    Object.keys(options).find((k) => options[k].short === short) ?? short;
  const typeOf = (name: string) => Object.hasOwn(options, name) ? options[name].type : undefined;
  const store = (name: string, rawName: string, value: string | undefined, inline: boolean) => {
    if (!Object.hasOwn(options, name)) {
      throw new Error(
        `Unknown option '${rawName}'. To specify a positional argument starting with a '-', ` +
          `place it at the end of the command after '--', as in '-- ${JSON.stringify(rawName)}`,
      );
    }
    const short = options[name].short;
    const shortAndLong = `${short ? `-${short}, ` : ""}--${name}`;
    if (options[name].type === "string" && value === undefined) {
      throw new Error(`Option '${shortAndLong} <value>' argument missing`);
    }
    if (options[name].type === "boolean" && value !== undefined) {
      throw new Error(`Option '${shortAndLong}' does not take an argument`);
    }
    if (!inline && value !== undefined && value.length > 1 && value[0] === "-") {
      const example = rawName.startsWith("--")
        ? `'${rawName}=-XYZ'`
        : `'--${name}=-XYZ' or '${rawName}-XYZ'`;
      throw new Error(
        `Option '${rawName}' argument is ambiguous.\n` +
          `Did you forget to specify the option argument for '${rawName}'?\n` +
          `To specify an option argument starting with a dash use ${example}.`,
      );
    }
    values[name] = value ?? true;
  };
  const rest = [...args];
  while (rest.length > 0) {
    const arg = rest.shift()!;
    const short = arg.length > 1 && arg[0] === "-" && arg[1] !== "-";
    if (arg === "--") {
      positionals.push(...rest);
      break;
    } else if (short && arg.length === 2) {
      const name = longOf(arg[1]);
      const value = typeOf(name) === "string" ? rest.shift() : undefined;
      store(name, arg, value, false);
    } else if (arg.length > 2 && arg.startsWith("--") && !arg.includes("=", 3)) {
      const name = arg.slice(2);
      const value = typeOf(name) === "string" ? rest.shift() : undefined;
      store(name, arg, value, false);
    } else if (short && typeOf(longOf(arg[1])) !== "string") {
      // A group: `-xyz` is `-x -y -z`; a letter taking a value takes the rest (`-xfVALUE`).
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        if (typeOf(longOf(arg[i])) !== "string" || i === arg.length - 1) {
          expanded.push(`-${arg[i]}`);
        } else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      rest.unshift(...expanded);
    } else if (short) {
      store(longOf(arg[1]), `-${arg[1]}`, arg.slice(2), true);
    } else if (arg.length > 2 && arg.startsWith("--")) {
      const at = arg.indexOf("=");
      store(arg.slice(2, at), arg.slice(0, at), arg.slice(at + 1), true);
    } else {
      positionals.push(arg);
    }
  }
  for (const [name, spec] of Object.entries(options)) {
    if (spec.default !== undefined && values[name] === undefined) values[name] = spec.default;
  }
  return { values: values as OptionValues<O>, positionals };
}
