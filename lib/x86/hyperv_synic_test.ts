import assert from "node:assert/strict";
import { testVector } from "../core/vector_set.ts";
import { HV_X64_MSR_SINT0, HvSynic, SINT } from "./hyperv_synic.ts";

Deno.test("HvSynic: the SINT MSRs #GP until KVM_CAP_HYPERV_SYNIC, then start masked", () => {
  const s = new HvSynic();
  assert.match(s.wrmsr(HV_X64_MSR_SINT0, 0x200b0n)!, /not activated/);
  assert.equal(typeof s.rdmsr(HV_X64_MSR_SINT0), "string");
  s.activate();
  assert.equal(s.rdmsr(HV_X64_MSR_SINT0 + 15), BigInt(SINT.Masked));
  assert.equal(HvSynic.isSint(HV_X64_MSR_SINT0 + 16), false);
});

Deno.test("HvSynic: the AutoEOI bitmap follows the unmasked AutoEOI SINTs, shared vectors counted", () => {
  const s = new HvSynic();
  s.activate();
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 1, 0x200b0n), null);
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 2, 0x200b0n), null);
  assert.equal(testVector(s.autoEoi, 0xb0), true);
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 1, 0x300b0n), null, "SINT1 masked");
  assert.equal(testVector(s.autoEoi, 0xb0), true, "SINT2 still names 0xb0");
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 2, 0x000c0n), null, "SINT2 moves to 0xc0, no AutoEOI");
  assert.equal(testVector(s.autoEoi, 0xb0), false);
  assert.equal(testVector(s.autoEoi, 0xc0), false);
  assert.match(s.wrmsr(HV_X64_MSR_SINT0 + 3, 0x2000fn)!, /below 16/);
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 3, 0x3000fn), null, "masked: any vector");
  assert.equal(testVector(s.autoEoi, 0x0f), false);
});
