import assert from "node:assert/strict";
import { EINVAL } from "./errno.ts";
import {
  adjustTscKhz,
  GuestTsc,
  HOST_TSC_KHZ,
  kvmGetTimeScale,
  MAX_GUEST_TSC_KHZ,
  TSC_TOLERANCE_PPM,
} from "./guest_tsc.ts";

Deno.test("kvm_get_time_scale: 1 GHz to ns is shift 1, mul 2^31; a faster base shifts right", () => {
  assert.deepEqual(kvmGetTimeScale(1_000_000_000n, 1_000_000_000n), { shift: 1, mul: 0x8000_0000 });
  assert.deepEqual(kvmGetTimeScale(1_000_000_000n, 2_345_677_000n), { shift: -1, mul: 3662027888 });
  // ns to ticks at 2 GHz (kvm_set_tsc_khz's virtual_tsc_mult): the multiplier stays below 2^32.
  const s = kvmGetTimeScale(2_000_000_000n, 1_000_000_000n);
  assert.ok(s.mul < 2 ** 32 && s.mul >= 2 ** 31);
});

Deno.test("adjust_tsc_khz: the tolerance band around the host's rate", () => {
  assert.equal(adjustTscKhz(HOST_TSC_KHZ, -TSC_TOLERANCE_PPM), 999_750);
  assert.equal(adjustTscKhz(HOST_TSC_KHZ, TSC_TOLERANCE_PPM), 1_000_250);
});

Deno.test("KVM_SET_TSC_KHZ: -EINVAL from max_guest_tsc_khz, 0 is the host's rate", () => {
  const t = new GuestTsc();
  assert.equal(t.set(MAX_GUEST_TSC_KHZ), -EINVAL);
  assert.equal(t.khz, HOST_TSC_KHZ);
  assert.equal(t.set(MAX_GUEST_TSC_KHZ - 1), 0);
  assert.equal(t.set(0), 0);
  assert.equal(t.khz, HOST_TSC_KHZ);
  assert.ok(t.isDefault);
});

Deno.test("a scaled TSC rounds the ratio down; inside the tolerance nothing is scaled", () => {
  const t = new GuestTsc();
  t.set(2_345_678);
  assert.equal(t.read(1_000_000), 2_345_677n);
  assert.equal(t.pvclockKhz(), 2_345_677);
  t.set(1_000_250);
  assert.equal(t.khz, 1_000_250);
  assert.equal(t.read(1_000_000), 1_000_000n);
  t.set(1_000_251);
  assert.equal(t.read(1_000_000), 1_000_250n);
});

Deno.test("nsWhenReaches: the first ns at which the TSC reaches a value", () => {
  const t = new GuestTsc();
  t.set(2_345_678);
  for (const target of [1n, 2_345_678n, 4_691_355n, 123_456_789n]) {
    const ns = t.nsWhenReaches(target);
    assert.ok(t.read(Number(ns)) >= target, `${target}`);
    assert.ok(t.read(Number(ns) - 1) < target, `${target} - 1 ns`);
  }
  const host = new GuestTsc();
  assert.equal(host.nsWhenReaches(5000n), 5000n);
});
