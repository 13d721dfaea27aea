import assert from "node:assert/strict";
import { testVector } from "../core/vector_set.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { HV_MESSAGE, HV_MSR, HV_X64_MSR_SINT0, HvSynic, SINT } from "./hyperv_synic.ts";

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

/** A SynIC over 64 KiB of RAM, recording its interrupts and exits. */
function withHost(dontZero = false) {
  const mem = new GuestMemory(0x10000);
  const irqs: number[] = [], acked: number[] = [], exits: number[] = [];
  const s = new HvSynic({
    mem: () => mem,
    interrupt: (v) => (irqs.push(v), 1),
    ackedGsi: (gsi) => acked.push(gsi),
    ackedSint: () => {},
    exit: (msr) => exits.push(msr),
  });
  s.activate(dontZero);
  return { mem, s, irqs, acked, exits };
}

Deno.test("HvSynic: enabling SIMP zeroes its page under SYNIC, not under SYNIC2, and exits", () => {
  for (const dontZero of [false, true]) {
    const { mem, s, exits } = withHost(dontZero);
    mem.write(0x3010, 32, 0xdead);
    assert.equal(s.wrmsr(HV_MSR.SIMP, 0x3001n), null);
    assert.equal(mem.read(0x3010, 32), dontZero ? 0xdead : 0);
    assert.deepEqual(exits, [HV_MSR.SIMP]);
    // A page outside RAM: SYNIC's kvm_clear_guest fails (#GP); SYNIC2 clears nothing.
    const far = s.wrmsr(HV_MSR.SIEFP, 0x20001n);
    if (dontZero) assert.equal(far, null);
    else {
      assert.match(far!, /outside guest RAM/);
      assert.equal(s.rdmsr(HV_MSR.SIEFP), 0n, "a failed write leaves SIEFP");
    }
  }
});

Deno.test("HvSynic: a message lands in its SINT's 256-byte slot; a busy slot gets msg_pending", () => {
  const { mem, s, irqs } = withHost();
  const msg = { type: 0x1234, payload: new Uint8Array([1, 2, 3]) };
  assert.equal(s.deliverMessage(5, msg, false), -2, "SIMP not enabled: -ENOENT");
  s.wrmsr(HV_MSR.SIMP, 0x4001n);
  s.wrmsr(HV_MSR.SINT0 + 5, 0x55n);
  assert.equal(s.deliverMessage(5, msg, false), 0);
  const slot = 0x4000 + 5 * HV_MESSAGE.Size;
  assert.equal(mem.read(slot + HV_MESSAGE.Type, 32), 0x1234);
  assert.equal(mem.read(slot + HV_MESSAGE.PayloadSize, 8), 3);
  assert.equal(mem.read(slot + HV_MESSAGE.Payload + 2, 8), 3);
  assert.deepEqual(irqs, [0x55]);
  assert.equal(s.deliverMessage(5, msg, true), 0, "no_retry: dropped quietly");
  assert.equal(mem.read(slot + HV_MESSAGE.Flags, 8), 0);
  assert.equal(s.deliverMessage(5, msg, false), -11, "busy: -EAGAIN");
  assert.equal(mem.read(slot + HV_MESSAGE.Flags, 8), HV_MESSAGE.MsgPending);
  assert.deepEqual(irqs, [0x55]);
});

Deno.test("HvSynic: the EOI of a SINT's vector and EOM ack the GSI routed to it", () => {
  const { s, acked } = withHost();
  s.wrmsr(HV_MSR.SINT0 + 1, 0x61n);
  s.sintToGsi[1] = 40;
  assert.equal(s.hasVector(0x61), true);
  s.sendEoi(0x61);
  assert.deepEqual(acked, [40]);
  s.wrmsr(HV_MSR.EOM, 0n);
  assert.deepEqual(acked, [40, 40]);
  s.wrmsr(HV_MSR.SINT0 + 1, 0x10061n);
  assert.equal(s.hasVector(0x61), false, "masked: its EOIs are no acks");
  assert.equal(s.setIrq(1), -2);
});

Deno.test("HvSynic.sintVector follows every SINT write and the activation, as the SINT MSRs decode", () => {
  const { s } = withHost();
  const decoded = (i: number) => {
    const v = s.sint[i];
    return (v & BigInt(SINT.Masked)) !== 0n ? -1 : Number(v & 0xffn);
  };
  const all = () => Array.from({ length: 16 }, (_, i) => s.sintVector(i));
  const expected = () => Array.from({ length: 16 }, (_, i) => decoded(i));
  assert.deepEqual(all(), expected());
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 2, 0xf1n), null);
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 3, 0x200f2n), null);
  assert.equal(s.sintVector(2), 0xf1);
  assert.equal(s.sintVector(3), 0xf2);
  assert.deepEqual(all(), expected());
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 2, 0x100f1n), null, "masked");
  assert.equal(s.sintVector(2), -1);
  assert.equal(s.wrmsr(HV_X64_MSR_SINT0 + 3, 0x20f3n), null, "another vector");
  assert.equal(s.sintVector(3), 0xf3);
  assert.deepEqual(all(), expected());
  s.activate();
  assert.equal(s.sintVector(3), -1, "activation masks every SINT");
  assert.deepEqual(all(), expected());
});
