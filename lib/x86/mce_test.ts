import { stateHashRecord } from "../core/state_hash_record.ts";
import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { testVector } from "../core/vector_set.ts";
import { Lapic } from "./lapic.ts";
import {
  isMceMsr,
  KVM_MAX_MCE_BANKS,
  KVM_MCE_CAP_SUPPORTED,
  kvmMceCapSupported,
  McBanks,
  MCE_BITS,
} from "./mce.ts";
import { EINVAL } from "./errno.ts";

const B = MCE_BITS;
const UCNA = B.MCI_STATUS_VAL | B.MCI_STATUS_UC | B.MCI_STATUS_EN | 0x10090n;
const ONES = (1n << 64n) - 1n;

Deno.test("MCE bit masks sit where the SDM puts them", () => {
  assert.equal(B.MCG_CTL_P, 0x100n);
  assert.equal(B.MCG_CMCI_P, 0x400n);
  assert.equal(B.MCG_SER_P, 1n << 24n);
  assert.equal(B.MCG_LMCE_P, 1n << 27n);
  assert.equal(B.MCI_STATUS_VAL, 1n << 63n);
  assert.equal(B.MCI_STATUS_UC, 1n << 61n);
  assert.equal(B.MCI_STATUS_PCC, 1n << 57n);
  assert.equal(B.MCI_CTL2_CMCI_EN, 1n << 30n);
  assert.equal(B.MCI_CTL2_CMCI_THRESHOLD_MASK, 0x7fffn);
  assert.equal(KVM_MCE_CAP_SUPPORTED, 0x9000500n);
});

Deno.test("isMceMsr covers MCG_*, 32 banks' CTL2 and CTL/STATUS/ADDR/MISC, nothing past", () => {
  for (const m of [0, 1, 0x179, 0x17a, 0x17b, 0x280, 0x29f, 0x400, 0x47f]) assert.ok(isMceMsr(m));
  for (const m of [2, 0x178, 0x17c, 0x2a0, 0x480, 0x1b]) {
    assert.ok(!isMceMsr(m), `0x${m.toString(16)}`);
  }
});

Deno.test("KVM_X86_SETUP_MCE refuses 0 or too many banks and unsupported bits, else resets the banks", () => {
  const m = new McBanks();
  assert.equal(m.mcgCap, BigInt(KVM_MAX_MCE_BANKS));
  assert.equal(m.setup(0n), -EINVAL);
  assert.equal(m.setup(33n), -EINVAL);
  assert.equal(m.setup(B.MCG_TES_P | 4n), -EINVAL);
  assert.equal(m.touched, false);
  assert.equal(m.setup(B.MCG_CTL_P | B.MCG_CMCI_P | 0x30000n | 4n), 0);
  assert.equal(m.rdmsr(0x17b, false), ONES);
  assert.equal(m.rdmsr(0x400 + 4 * 3, false), ONES);
  assert.equal(m.rdmsr(0x400 + 4 * 4, false), null);
  assert.equal(m.rdmsr(0x283, false), 0n);
  assert.equal(m.rdmsr(0x284, true), null);
});

Deno.test("MCi_CTL2 needs MCG_CMCI_P (host may read and write 0) and #GPs on reserved bits", () => {
  const m = new McBanks();
  m.setup(2n);
  assert.equal(m.rdmsr(0x281, false), null);
  assert.equal(m.rdmsr(0x281, true), 0n);
  assert.equal(m.wrmsr(0x281, 0n, true), null);
  assert.match(m.wrmsr(0x281, B.MCI_CTL2_CMCI_EN, true)!, /MCG_CMCI_P/);
  assert.match(m.wrmsr(0x281, 0n, false)!, /MCG_CMCI_P/);
  m.setup(B.MCG_CMCI_P | 2n);
  assert.match(m.wrmsr(0x281, 1n << 29n, false)!, /reserved/);
  assert.equal(m.wrmsr(0x281, B.MCI_CTL2_CMCI_EN | 5n, false), null);
  assert.equal(m.rdmsr(0x281, false), B.MCI_CTL2_CMCI_EN | 5n);
  assert.match(m.wrmsr(0x282, 0n, false)!, /2 banks/);
});

Deno.test("MCG_CTL, MCi_CTL and MCi_STATUS take only the values KVM's set_msr_mce allows", () => {
  const m = new McBanks();
  m.setup(B.MCG_CTL_P | 1n);
  assert.equal(m.wrmsr(0x17b, 0n, false), null);
  assert.notEqual(m.wrmsr(0x17b, 1n, false), null);
  assert.equal(m.wrmsr(0x400, ONES & ~(1n << 10n), false), null); // the K8 GART workaround
  assert.notEqual(m.wrmsr(0x400, 0xffn, false), null);
  assert.notEqual(m.wrmsr(0x401, 5n, false), null);
  assert.equal(m.wrmsr(0x401, 5n, true), null);
  assert.equal(m.wrmsr(0x401, 0n, false), null);
  assert.notEqual(m.wrmsr(0x179, 1n, false), null);
  assert.equal(m.wrmsr(0x17a, 7n, false), null);
  assert.equal(m.rdmsr(0x17a, false), 7n);
});

Deno.test("a UCNA is recorded whatever MCi_CTL says and asks for CMCI only with CMCI_P and CMCI_EN", () => {
  const m = new McBanks();
  m.setup(B.MCG_CMCI_P | 8n);
  assert.deepEqual(m.setMce(8, UCNA, 0n, 0n, 0n, true), { result: -EINVAL, signal: "none" });
  assert.deepEqual(m.setMce(1, UCNA & ~B.MCI_STATUS_VAL, 0n, 0n, 0n, true).result, -EINVAL);
  m.wrmsr(0x404, 0n, false); // bank 1's CTL off
  assert.deepEqual(m.setMce(1, UCNA, 0xdeadbeefn, 0x8cn, 0n, true), { result: 0, signal: "none" });
  assert.equal(m.rdmsr(0x406, false), 0xdeadbeefn);
  assert.equal(m.rdmsr(0x407, false), 0x8cn);
  m.wrmsr(0x281, B.MCI_CTL2_CMCI_EN, false);
  assert.deepEqual(m.setMce(1, UCNA, 1n, 0n, 0n, true), { result: 0, signal: "cmci" });
});

Deno.test("a non-UCNA uncorrected error is a #MC, dropped by MCi_CTL, a shutdown with MCIP or CR4.MCE clear", () => {
  const m = new McBanks();
  m.setup(B.MCG_CTL_P | 4n);
  const srar = UCNA | B.MCI_STATUS_S | B.MCI_STATUS_AR;
  const mcip = B.MCG_STATUS_MCIP | B.MCG_STATUS_RIPV;
  assert.equal(m.setMce(1, srar, 0x1000n, 0n, mcip, false).signal, "shutdown");
  assert.equal(m.rdmsr(0x406, false), 0n); // nothing recorded
  assert.equal(m.setMce(1, srar, 0x1000n, 0n, mcip, true).signal, "mc");
  assert.equal(m.rdmsr(0x406, false), 0x1000n);
  assert.equal(m.rdmsr(0x17a, false), mcip);
  assert.equal(m.setMce(1, srar, 0x2000n, 0n, mcip, true).signal, "shutdown"); // MCIP still set
  m.wrmsr(0x17a, 0n, false);
  assert.equal(m.setMce(1, srar, 0x2000n, 0n, mcip, true).signal, "mc");
  assert.equal(m.rdmsr(0x405, false), srar | B.MCI_STATUS_OVER);
  m.wrmsr(0x404, 0n, false);
  m.wrmsr(0x17a, 0n, false);
  assert.deepEqual(m.setMce(1, srar, 0x3000n, 0n, mcip, true), { result: 0, signal: "none" });
  assert.equal(m.rdmsr(0x406, false), 0x2000n);
});

Deno.test("LVT CMCI follows MCG_CMCI_P: a new entry starts masked, Version's Max LVT follows", () => {
  const trace = new Trace(() => 0);
  const apic = new Lapic(0, {
    sink: { deliver: () => 1 },
    eoiListener: { eoi: () => {} },
    trace,
    name: "lapic0",
    bsp: true,
  });
  apic.write(0xf0, 0x1ff);
  assert.equal((apic.version >>> 16) & 0xff, 5);
  assert.equal(apic.deliverCmci(), false);
  apic.setMcgCmci(true);
  assert.equal((apic.version >>> 16) & 0xff, 6);
  assert.equal(apic.read(0x2f0), 0x10000);
  assert.equal(apic.deliverCmci(), false); // masked
  apic.write(0x2f0, 0xa9);
  assert.equal(apic.deliverCmci(), true);
  assert.ok(testVector(apic.irr, 0xa9));
  apic.setMcgCmci(false);
  assert.equal(apic.read(0x2f0), 0);
  assert.equal((apic.version >>> 16) & 0xff, 5);
});

Deno.test("hashInto feeds every register: two vCPUs differing in one bank's ADDR hash apart", () => {
  const fed = (m: McBanks) => stateHashRecord((h) => m.hashInto(h));
  const a = new McBanks(), b = new McBanks();
  a.setup(4n);
  b.setup(4n);
  assert.equal(fed(a), fed(b));
  b.wrmsr(0x406, 1n, false);
  assert.notEqual(fed(a), fed(b));
  b.wrmsr(0x406, 0n, false);
  b.wrmsr(0x17a, 1n, false);
  assert.notEqual(fed(a), fed(b));
});

Deno.test("an AMD host's KVM offers MCG_CTL_P | MCG_SER_P only; SETUP_MCE refuses the rest", () => {
  assert.equal(kvmMceCapSupported("intel"), KVM_MCE_CAP_SUPPORTED);
  assert.equal(kvmMceCapSupported("amd"), 0x1000100n);
  const m = new McBanks();
  assert.equal(m.setup(MCE_BITS.MCG_CMCI_P | 4n, kvmMceCapSupported("amd")), -EINVAL);
  assert.equal(m.setup(MCE_BITS.MCG_CTL_P | 4n, kvmMceCapSupported("amd")), 0);
  assert.equal(m.cmciP, false);
});
