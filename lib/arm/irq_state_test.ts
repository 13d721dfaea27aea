import assert from "node:assert/strict";
import { BankOffset, bankRead, bankWrite, IrqBank } from "./irq_state.ts";

Deno.test("IrqBank.acknowledge() of a level interrupt with its line high leaves it active_pending", () => {
  const b = new IrqBank(32, 64);
  b.edge[40] = 0;
  assert.equal(b.inject(40, true), true);
  assert.equal(b.state(40), "pending");
  b.acknowledge(40);
  assert.equal(b.state(40), "active_pending");
  b.deactivate(40);
  assert.equal(b.state(40), "pending");
  b.inject(40, false);
  assert.equal(b.state(40), "inactive");
});

Deno.test("IrqBank.inject() merges edges while pending and pends again while active", () => {
  const b = new IrqBank(32, 64);
  b.edge[36] = 1;
  b.inject(36, true);
  b.inject(36, true);
  assert.equal(b.inject(36, false), false);
  assert.equal(b.state(36), "pending");
  b.acknowledge(36);
  assert.equal(b.state(36), "active");
  b.inject(36, true);
  assert.equal(b.state(36), "active_pending");
});

Deno.test("IrqBank.acknowledge() of a GICv2 SGI consumes the lowest source first", () => {
  const b = new IrqBank(0, 32);
  b.sgiSources = new Uint8Array(16);
  b.sgiSources[5] = 0b0110;
  assert.equal(b.acknowledge(5), 1);
  assert.equal(b.state(5), "active_pending");
  assert.equal(b.acknowledge(5), 2);
  assert.equal(b.state(5), "active");
});

Deno.test("bankWrite() keeps 5 priority bits and byte writes touch one INTID", () => {
  const b = new IrqBank(32, 64);
  bankWrite(b, BankOffset.IPRIORITYR + 32, 0xff7fbf3f, 4);
  assert.equal(bankRead(b, BankOffset.IPRIORITYR + 32, 4), 0xf878b838);
  bankWrite(b, BankOffset.IPRIORITYR + 34, 0x1f, 1);
  assert.equal(bankRead(b, BankOffset.IPRIORITYR + 32, 4), 0xf818b838);
  bankWrite(b, BankOffset.IPRIORITYR + 64, 0xffffffff, 4);
  assert.equal(bankRead(b, BankOffset.IPRIORITYR + 64, 4), 0);
});

Deno.test("bankWrite() ICFGR changes only SPIs, following bit 2n+1", () => {
  const b = new IrqBank(0, 64);
  for (let i = 32; i < 64; i++) b.edge[i] = 1;
  bankWrite(b, BankOffset.ICFGR + 8, 0x55555555, 4);
  assert.equal(bankRead(b, BankOffset.ICFGR + 8, 4), 0);
  bankWrite(b, BankOffset.ICFGR + 8, 0xaaaaaaaa, 4);
  assert.equal(bankRead(b, BankOffset.ICFGR + 8, 4), 0xaaaaaaaa);
  bankWrite(b, BankOffset.ICFGR, 0xffffffff, 4);
  assert.equal(bankRead(b, BankOffset.ICFGR, 4), 0);
});

Deno.test("bankWrite() ICPENDR clears only the latch of a level interrupt", () => {
  const b = new IrqBank(32, 64);
  b.edge[33] = 0;
  b.inject(33, true);
  bankWrite(b, BankOffset.ISPENDR + 4, 0x2, 4);
  bankWrite(b, BankOffset.ICPENDR + 4, 0x2, 4);
  assert.equal(b.latch[33], 0);
  assert.equal(bankRead(b, BankOffset.ISPENDR + 4, 4), 0x2);
});

Deno.test("bankWrite() with v2Sgis ignores ISPENDR bits of SGIs", () => {
  const b = new IrqBank(0, 32);
  b.sgiSources = new Uint8Array(16);
  bankWrite(b, BankOffset.ISPENDR, 0x20, 4, { v2Sgis: true });
  assert.equal(b.isPending(5), false);
});

Deno.test("IrqBank.enabledWords sees every enable bit written through setEnabled, four INTIDs a word", () => {
  // Two banks from the arena side by side: a word of one never shows the other's bytes.
  const a = new IrqBank(32, 64), b = new IrqBank(32, 64);
  for (let i = 32; i < 64; i++) {
    a.setEnabled(i, true);
    assert.notEqual(a.enabledWords[i >>> 2], 0, `INTID ${i}`);
    assert.equal(b.enabledWords[i >>> 2], 0);
    a.setEnabled(i, false);
    assert.equal(a.enabledWords[i >>> 2], 0);
  }
  assert.equal(a.enabledWords.length, 16);
});

Deno.test("IrqBank.enabledCount follows ISENABLER, ICENABLER and setEnabled, repeated writes included", () => {
  const bank = new IrqBank(32, 96);
  const recount = () => bank.enabled.reduce((n, e) => n + (e !== 0 ? 1 : 0), 0);
  assert.equal(bankWrite(bank, BankOffset.ISENABLER + 4, 0x8000_0011, 4), true);
  assert.equal(bank.enabledCount, 3);
  bankWrite(bank, BankOffset.ISENABLER + 4, 0x11, 4); // already set: no change
  assert.equal(bank.enabledCount, 3);
  bankWrite(bank, BankOffset.ISENABLER + 8, 0xf, 4);
  assert.equal(bank.enabledCount, 7);
  bankWrite(bank, BankOffset.ICENABLER + 4, 0x8000_0001, 4);
  bankWrite(bank, BankOffset.ICENABLER + 4, 0x8000_0001, 4);
  assert.equal(bank.enabledCount, 5);
  bank.setEnabled(40, true);
  bank.setEnabled(40, false);
  bank.setEnabled(40, false);
  assert.equal(bank.enabledCount, recount());
  assert.equal(bank.enabledCount, 5);
});
