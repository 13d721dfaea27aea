import assert from "node:assert/strict";
import { field, LAYOUT_64, LAYOUT_ARM, layoutFor } from "./layout.ts";

// arch-arm.h: xen_ulong_t is uint64_t, XEN_LEGACY_MAX_VCPUS is 1, and
// arch_vcpu_info / arch_shared_info are empty structs.
Deno.test("Arm shared_info: one 48-byte vcpu_info, then 64-bit bitmaps and the wallclock", () => {
  const s = LAYOUT_ARM.sharedInfo;
  assert.equal(field(s, "vcpu_info").size, 48);
  assert.equal(field(s, "evtchn_pending").offset, 0x30);
  assert.equal(field(s, "evtchn_pending").bits, 4096);
  assert.equal(field(s, "evtchn_mask").offset, 0x230);
  assert.equal(field(s, "wc_version").offset, 0x430);
  assert.equal(field(s, "wc_sec_hi").offset, 0x43c);
  assert.equal(LAYOUT_ARM.sharedInfoSize, 0x440);
  assert.ok(!s.some((f) => f.name.startsWith("arch.")), "arch_shared_info is empty on Arm");
});

Deno.test("Arm vcpu_info: selector at 8, time right after it at 16, 48 bytes in all", () => {
  const v = LAYOUT_ARM.vcpuInfo;
  assert.equal(field(v, "evtchn_pending_sel").offset, 8);
  assert.equal(field(v, "evtchn_pending_sel").size, 8);
  assert.equal(field(v, "time.version").offset, 16);
  assert.equal(field(v, "time.system_time").offset, 32);
  assert.equal(LAYOUT_ARM.vcpuInfoSize, 48);
  assert.equal(LAYOUT_ARM.legacyVcpus, 1);
  assert.throws(() => field(v, "arch.cr2"));
  // x86-64 keeps cr2 at 16 and time at 32.
  assert.equal(field(LAYOUT_64.vcpuInfo, "time.version").offset, 32);
});

Deno.test("the Arm layout does not depend on the guest's width", () => {
  assert.equal(layoutFor(32, "arm"), LAYOUT_ARM);
  assert.equal(layoutFor(64, "arm"), LAYOUT_ARM);
  assert.equal(layoutFor(32).maxPorts2L, 1024);
});
