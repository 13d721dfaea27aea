/**
 * One call from text to result: parse, check, run. What the command line,
 * the tests and the fuzzer use.
 *
 * @module
 */
import { parseToCheck } from "../../dsl/parse.ts";
import { check, type Loader } from "../../dsl/check/mod.ts";
import type { Program } from "../../dsl/program.ts";
import { PLATFORMS } from "./platforms.ts";
import { type RunOptions, runProgram, type ScenarioResult } from "../engine/run.ts";
import type { PlatformEntry } from "../core/platform.ts";

/** Options for {@link checkText} and {@link runText}. */
export interface ScenarioOptions extends RunOptions {
  /** Reads included files (relative to the including file); none by default. */
  load?: Loader;
  /** Platforms to check against; all of irqlab's by default. */
  platforms?: readonly PlatformEntry[];
}

/**
 * Parses and checks a scenario's text.
 *
 * @throws {ScnError} located at the first problem.
 *
 * @example
 * ```ts
 * checkText('scenario "t"\nvm g { arch x86_64 }\n', "t.scn").title; // "t"
 * ```
 */
export function checkText(text: string, name: string, options: ScenarioOptions = {}): Program {
  return check(parseToCheck(text, name), {
    platforms: options.platforms ?? PLATFORMS,
    load: options.load,
    text,
  });
}

/**
 * Parses, checks and runs a scenario's text.
 *
 * @example
 * ```ts
 * const r = runText('scenario "t"\nvm g { arch x86_64 }\nvcpu0: sti\nrun\nexpect vcpu0 took nothing\n', "t.scn");
 * r.status; // "pass"
 * ```
 */
export function runText(text: string, name: string, options: ScenarioOptions = {}): ScenarioResult {
  return runProgram(checkText(text, name, options), options);
}
