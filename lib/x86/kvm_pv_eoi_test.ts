import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { KVM_PV_EOI_ENABLED, KvmPvEoi } from "./kvm_pv_eoi.ts";

function pvEoi(opts: { caches?: boolean; handled?: number[] } = {}) {
  const mem = new GuestMemory(0x10000);
  const pv = new KvmPvEoi({
    mem: () => mem,
    memorySize: () => mem.size,
    cachesHighestIsr: opts.caches ?? true,
    ioapicHandles: (v) => (opts.handled ?? []).includes(v),
  });
  return { mem, pv };
}

Deno.test("KvmPvEoi: kvm_lapic_set_pv_eoi checks alignment always and RAM only when enabling", () => {
  const { pv } = pvEoi();
  assert.equal(pv.setMsr(0x3003n), false, "bit 1 set: not 4-byte aligned");
  assert.equal(pv.setMsr(0x3002n), false, "disabling is checked too");
  assert.equal(pv.setMsr(0x10001n), false, "the flag byte past RAM");
  assert.equal(pv.setMsr(0xfffdn), true, "the last byte of RAM, enabled");
  assert.equal(pv.setMsr(0xf001n, 4096), true, "the last page, whole");
  assert.equal(pv.setMsr(0xf805n, 4096), false, "4096 bytes from 0xf804 leave RAM");
  assert.equal(pv.setMsr(0x10000n), true, "disabled: no memslot needed");
  assert.equal(pv.msrVal, 0x10000n, "a refused write changes nothing");
});

Deno.test("KvmPvEoi: armed only with IRR empty, a highest-ISR cache and no I/O APIC interest", () => {
  const { mem, pv } = pvEoi({ handled: [0x9a] });
  assert.equal(pv.armAtEntry(0x41, false), false, "disabled");
  pv.setMsr(0x3001n);
  assert.equal(pv.armAtEntry(0x41, true), false, "IRR not empty");
  assert.equal(pv.armAtEntry(0x9a, false), false, "in ioapic_handled_vectors");
  assert.equal(mem.byte(0x3000), 0);
  assert.equal(pv.armAtEntry(0x41, false), true);
  assert.equal(mem.byte(0x3000), KVM_PV_EOI_ENABLED);
  assert.ok(pv.pending);
  const avic = pvEoi({ caches: false }).pv;
  avic.setMsr(0x3001n);
  assert.equal(avic.armAtEntry(0x41, false), false, "APICv/AVIC: no cache");
});

Deno.test("KvmPvEoi: at the exit a cleared flag is the guest's EOI, a set one is taken back", () => {
  const { mem, pv } = pvEoi();
  pv.setMsr(0x3001n);
  pv.armAtEntry(0x41, false);
  assert.ok(mem.testAndClearBit(0x3000, 0), "the guest's EOI");
  assert.equal(pv.syncAtExit(), true);
  assert.equal(pv.pending, false);
  pv.armAtEntry(0x42, false);
  assert.equal(pv.syncAtExit(), false, "no EOI yet");
  assert.equal(mem.byte(0x3000), 0, "KVM cleared the flag");
  pv.armAtEntry(0x43, false);
  pv.reset();
  assert.equal(pv.msrVal, 0n);
  assert.equal(pv.pending, false, "kvm_lapic_reset clears apic_attention");
});

Deno.test("KvmPvEoi.rearm: a later entry arms the cached vector while it is in ISR, IRR empty", () => {
  const { mem, pv } = pvEoi();
  pv.setMsr(0x3001n);
  let isr = new Set([0x41]);
  const has = (v: number) => isr.has(v);
  assert.equal(pv.rearm(has, false), false, "no injection cached");
  pv.isrCache = 0x41;
  assert.equal(pv.rearm(has, true), false, "IRR not empty");
  assert.equal(pv.rearm(has, false), true);
  assert.equal(mem.read(0x3000, 8), KVM_PV_EOI_ENABLED);
  assert.equal(pv.rearm(has, false), false, "already armed");
  pv.syncAtExit();
  isr = new Set();
  assert.equal(pv.rearm(has, false), false, "EOI'd since: the cache is gone");
  pv.reset();
  assert.equal(pv.isrCache, -1);
});
