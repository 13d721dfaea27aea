/**
 * Test helpers for the Arm models: a trace and an engine environment with a
 * settable clock, so unit tests can build models the way the interpreter does.
 *
 * @module
 */
import { Trace } from "../core/trace.ts";
import { EventQueue } from "../core/event_queue.ts";
import type { ModelEnv } from "../core/platform.ts";

/**
 * A model environment whose clock tests move by hand.
 *
 * @example
 * ```ts
 * const env: TestEnv = testEnv();
 * env.advance(500); // env.time === 500
 * ```
 */
export interface TestEnv extends ModelEnv {
  /** The clock, in ns; `now()` returns it. */
  time: number;
  /** Fires queued events up to `t` and sets the clock there. */
  advance(t: number): void;
}

/**
 * Makes a test environment.
 *
 * @example
 * ```ts
 * const env = testEnv();
 * env.advance(1_000); // fires what was due by 1 us
 * ```
 */
export function testEnv(): TestEnv {
  const env: TestEnv = {
    time: 0,
    queue: new EventQueue(),
    trace: new Trace(() => env.time),
    now: () => env.time,
    advance(t: number) {
      for (;;) {
        const next = env.queue.peek();
        if (!next || next.time > t) break;
        env.queue.pop();
        env.time = next.time;
        next.fire();
      }
      env.time = t;
    },
  };
  return env;
}
