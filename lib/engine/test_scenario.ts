/**
 * What the engine's tests share: a scenario's text run end to end, and the
 * located error a run stops with, as `line:column message` (the first
 * diagnostic's), so a test pins where and why in one string.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ScnError } from "../core/diagnostic.ts";
import { runText } from "../api/scenario.ts";
import type { ScenarioResult } from "./run.ts";

/**
 * Parses, checks and runs `text`, named `name` in locations.
 *
 * @example
 * ```ts
 * runScenario('scenario "t"\nvm g { arch x86_64 }\nrun\n').status; // "pass"
 * ```
 */
export function runScenario(text: string, name = "t.scn"): ScenarioResult {
  return runText(text, name);
}

/**
 * The first diagnostic of the error running `text` stops with, as
 * `line:column message`; a run that ends without one fails the test.
 *
 * @example
 * ```ts
 * firstError('scenario "t"\nvm g { arch x86_64 }\nrepeat 0 - 1 { }\n'); // "3:8 ..."
 * ```
 */
export function firstError(text: string, name = "t.scn"): string {
  try {
    runScenario(text, name);
  } catch (e) {
    assert.ok(e instanceof ScnError, `not a located error: ${e}`);
    const d = e.diagnostics[0];
    return `${d.loc.start.line}:${d.loc.start.column} ${d.message}`;
  }
  throw new Error("the run ended without an error");
}
