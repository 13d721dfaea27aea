import assert from "node:assert/strict";
import { ArchTimer, TimerCtl } from "./timer.ts";
import { testEnv } from "./test_env.ts";

Deno.test("ArchTimer raises its line at CVAL and drops it when masked or disabled", () => {
  const env = testEnv();
  const levels: boolean[] = [];
  const t = new ArchTimer("virt", 27, env, (l) => levels.push(l));
  t.writeCval(1_000);
  t.writeCtl(TimerCtl.ENABLE);
  env.advance(999);
  assert.deepEqual(levels, []);
  env.advance(1_000);
  assert.deepEqual(levels, [true]);
  assert.equal(t.ctl, TimerCtl.ENABLE | TimerCtl.ISTATUS);
  t.writeCtl(TimerCtl.ENABLE | TimerCtl.IMASK);
  assert.deepEqual(levels, [true, false]);
  assert.equal(t.istatus, true);
  t.writeCtl(0);
  assert.equal(t.ctl, 0);
});

Deno.test("ArchTimer drops its line when CVAL moves into the future", () => {
  const env = testEnv();
  const levels: boolean[] = [];
  const t = new ArchTimer("phys", 30, env, (l) => levels.push(l));
  t.writeCtl(TimerCtl.ENABLE);
  assert.deepEqual(levels, [true]);
  t.writeTval(500);
  assert.deepEqual(levels, [true, false]);
  env.advance(500);
  assert.deepEqual(levels, [true, false, true]);
});
