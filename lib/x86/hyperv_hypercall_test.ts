import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { HV_MSR } from "./hyperv_synic.ts";
import {
  HV_GENERIC_SET,
  HV_HYPERCALL,
  HV_STATUS,
  HV_TSC_PAGE,
  HVCALL,
  HvPartition,
  MS_HYPERV_TSC_PAGE,
  vpInSparseSet,
} from "./hyperv_hypercall.ts";
import { hvPartition } from "./test_vm.ts";

/** A partition whose VPs are `vps` (their VP indexes), every IPI it sends recorded as `vector@vp`. */
function partition(
  xen = false,
  vps: readonly number[] = [0, 2, 65],
  lapicInKernel = true,
  clock = { ns: 12_345, master: false },
) {
  const mem = new GuestMemory(0x10000);
  const signalled: number[] = [];
  const ipis: string[] = [];
  const p = hvPartition(mem, {
    kvmclockNs: () => clock.ns,
    tsc: () => BigInt(clock.ns),
    masterClock: () => clock.master,
    xenHypercalls: () => xen,
    signal: (fd) => signalled.push(fd),
    lapicInKernel: () => lapicInKernel,
    sendIpi: (vector, inSet) => {
      for (const vp of vps) if (inSet === null || inSet(vp)) ipis.push(`${vector}@${vp}`);
    },
  });
  return { mem, p, signalled, ipis };
}

Deno.test("HvPartition: the hypercall page needs a guest OS ID and holds KVM's stub", () => {
  for (const xen of [false, true]) {
    const { mem, p } = partition(xen);
    assert.equal(p.wrmsr(HV_MSR.HYPERCALL, 0x2001n), null);
    assert.equal(p.hypercall, 0n, "no guest OS ID: ignored");
    p.wrmsr(HV_MSR.GUEST_OS_ID, 0x5an);
    assert.equal(p.wrmsr(HV_MSR.HYPERCALL, 0x2001n), null);
    const stub = Array.from(mem.slice(0x2000, xen ? 9 : 4));
    assert.deepEqual(
      stub,
      xen ? [0x0d, 0, 0, 0, 0x80, 0x0f, 0x01, 0xc1, 0xc3] : [0x0f, 0x01, 0xc1, 0xc3],
    );
    assert.equal(p.pageEax(0n), xen ? 0x8000_0000n : 0n);
    p.wrmsr(HV_MSR.GUEST_OS_ID, 0n);
    assert.equal(p.hypercall, 0x2000n, "a zero guest OS ID disables the page");
  }
  assert.equal(partition().p.rdmsr(HV_MSR.TIME_REF_COUNT), 123n);
});

Deno.test("HvPartition: SIGNAL_EVENT checks alignment, the flag number and the connection", () => {
  const { mem, p, signalled } = partition();
  const call = (rcx: bigint, rdx: bigint) => p.hypercall64(0, rcx, rdx, 0n);
  const code = BigInt(HVCALL.SIGNAL_EVENT);
  assert.deepEqual(call(code, 0x5a5a5a5an), { status: HV_STATUS.INVALID_ALIGNMENT });
  assert.deepEqual(call(code, 0xff8n + 4n), { status: HV_STATUS.INVALID_ALIGNMENT });
  assert.equal(p.eventfd(0x21, 7, 0), 0);
  assert.equal(p.eventfd(0x21, 8, 0), -17);
  mem.write(0x100, 64, 0x21n);
  assert.deepEqual(call(code, 0x100n), { status: HV_STATUS.SUCCESS });
  assert.deepEqual(call(code | HV_HYPERCALL.Fast, 0x21n), { status: HV_STATUS.SUCCESS });
  assert.deepEqual(signalled, [7, 7]);
  assert.ok(
    "exit" in call(code | HV_HYPERCALL.Fast, 0x1_0000_0021n),
    "a flag number: KVM's lookup fails (INVALID_PORT_ID), and it asks the VMM",
  );
  assert.deepEqual(call(code | HV_HYPERCALL.Fast, 0x0100_0000n), {
    status: HV_STATUS.INVALID_HYPERCALL_INPUT,
  });
  assert.ok("exit" in call(code | HV_HYPERCALL.Fast, 0x22n), "unbound: maybe the VMM knows it");
  assert.deepEqual(call(code | (1n << 32n), 0n), { status: HV_STATUS.INVALID_HYPERCALL_INPUT });
  assert.deepEqual(call(0x99n, 0n), { status: HV_STATUS.INVALID_HYPERCALL_CODE });
  assert.deepEqual(call(code | (1n << 27n), 0n), { status: HV_STATUS.INVALID_HYPERCALL_INPUT });
  assert.equal(p.eventfd(0x21, 0, 1), 0);
  assert.equal(p.eventfd(0x21, 0, 1), -2);
  assert.equal(p.eventfd(0x100_0000, 3, 0), -22);
});

Deno.test("vpInSparseSet: a VP's bank must be valid, and its word is the valid banks' rank", () => {
  assert.equal(vpInSparseSet(2, 0b1n, [0b100n]), true);
  assert.equal(vpInSparseSet(3, 0b1n, [0b100n]), false);
  assert.equal(vpInSparseSet(65, 0b10n, [0b10n]), true, "bank 1 is the first word");
  assert.equal(vpInSparseSet(65, 0b11n, [0b10n, 0b100n]), false, "bank 1 is the second word");
  assert.equal(vpInSparseSet(65, 0b11n, [0b100n, 0b10n]), true);
  assert.equal(vpInSparseSet(1, 0b10n, [0b10n]), false, "bank 0 not valid");
});

Deno.test("HvPartition: SEND_IPI, slow and fast, reaches the VPs of its 64-bit mask", () => {
  const { mem, p, ipis } = partition();
  const code = BigInt(HVCALL.SEND_IPI);
  mem.write(0x100, 32, 0xfen);
  mem.write(0x108, 64, 0b101n);
  assert.deepEqual(p.hypercall64(0, code, 0x100n, 0n), { status: HV_STATUS.SUCCESS });
  assert.deepEqual(ipis.splice(0), ["254@0", "254@2"]);
  assert.deepEqual(p.hypercall64(0, code | HV_HYPERCALL.Fast, 0x41n, 0b100n), {
    status: HV_STATUS.SUCCESS,
  });
  assert.deepEqual(ipis.splice(0), ["65@2"]);
  const bad = { status: HV_STATUS.INVALID_HYPERCALL_INPUT };
  assert.deepEqual(p.hypercall64(0, code | HV_HYPERCALL.Fast, 0x1_0000_0041n, 1n), bad);
  assert.deepEqual(p.hypercall64(0, code | HV_HYPERCALL.Fast, 0x0fn, 1n), bad, "vector < 16");
  assert.deepEqual(p.hypercall64(0, code | (1n << 17n), 0x100n, 0n), bad, "a variable header");
  assert.deepEqual(p.hypercall64(0, code | (1n << 32n), 0x100n, 0n), bad, "a rep count");
  assert.deepEqual(p.hypercall64(0, code, 0xfff8n, 0n), bad, "the input past guest RAM");
  assert.deepEqual(ipis, []);
  assert.deepEqual(partition(false, [0], false).p.hypercall64(0, code, 0x100n, 0n), bad);
});

Deno.test("HvPartition: SEND_IPI_EX reads a VP set, sparse or ALL, from memory or XMM", () => {
  const { mem, p, ipis } = partition();
  const ex = BigInt(HVCALL.SEND_IPI_EX), fast = HV_HYPERCALL.Fast;
  const banks = (n: number) => BigInt(n) << 17n;
  const ok = { status: HV_STATUS.SUCCESS }, bad = { status: HV_STATUS.INVALID_HYPERCALL_INPUT };
  mem.write(0x100, 32, 0xfen);
  mem.write(0x108, 64, BigInt(HV_GENERIC_SET.SPARSE_4K));
  mem.write(0x110, 64, 0b11n);
  mem.write(0x118, 64, 0b100n);
  mem.write(0x120, 64, 0b10n);
  assert.deepEqual(p.hypercall64(0, ex | banks(2), 0x100n, 0n), ok);
  assert.deepEqual(ipis.splice(0), ["254@2", "254@65"]);
  assert.deepEqual(p.hypercall64(0, ex | banks(1), 0x100n, 0n), bad, "one bank for two bits");
  assert.deepEqual(
    p.hypercall64(0, ex | fast | banks(1), 0xfen, 0n, [0b10n, 0b10n]),
    ok,
    "XMM0 low the valid banks, the banks from XMM0 high",
  );
  assert.deepEqual(ipis.splice(0), ["254@65"]);
  assert.deepEqual(p.hypercall64(0, ex | fast, 0x05n, 0n, [0n]), ok, "no banks: nothing sent");
  assert.deepEqual(ipis, [], "and the vector is not checked");
  assert.deepEqual(p.hypercall64(0, ex | fast, 0xfen, BigInt(HV_GENERIC_SET.ALL)), ok);
  assert.deepEqual(ipis.splice(0), ["254@0", "254@2", "254@65"]);
  assert.deepEqual(p.hypercall64(0, ex | fast, 0x0fn, BigInt(HV_GENERIC_SET.ALL)), bad);
  assert.deepEqual(
    p.hypercall64(0, ex | fast | banks(1), 0xfen, BigInt(HV_GENERIC_SET.ALL), [0b1n]),
    ok,
    "ALL with banks: the count must still match, then every VP",
  );
  assert.deepEqual(ipis.splice(0), ["254@0", "254@2", "254@65"]);
  assert.deepEqual(
    p.hypercall64(0, ex | fast | banks(1), 0xfen, 7n, [0b1n, 0b1n]),
    ok,
    "a format other than ALL is sparse",
  );
  assert.deepEqual(ipis.splice(0), ["254@0"]);
  const twelve = (1n << 12n) - 1n;
  assert.deepEqual(
    p.hypercall64(0, ex | fast | banks(12), 0xfen, 0n, [twelve]),
    bad,
    "eleven XMM halves hold the banks",
  );
  assert.deepEqual(p.hypercall64(0, ex | (1n << 48n), 0x100n, 0n), bad, "a rep start");
});

Deno.test("HvPartition: the reference TSC page, filled from the master clock, sets TIME_REF_COUNT's formula", () => {
  const clock = { ns: 300, master: true };
  const { mem, p } = partition(false, [0], true, clock);
  const P = MS_HYPERV_TSC_PAGE;
  mem.write(0x3000 + P.tsc_sequence, 32, 41n);
  mem.write(0x3000 + 0x800, 64, 0xfeedn);
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x3001n), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.SET);
  assert.equal(p.rdmsr(HV_MSR.REFERENCE_TSC), 0x3001n);
  assert.equal(mem.read(0x3000 + P.tsc_sequence, 32), 42);
  assert.equal(mem.readBig(0x3000 + P.tsc_scale, 64), (1n << 64n) / 100n);
  // 300 / 100 - floor(300 * scale / 2^64) = 3 - 2: the scale rounds down.
  assert.equal(mem.readBig(0x3000 + P.tsc_offset, 64), 1n);
  assert.equal(mem.readBig(0x3000 + 0x800, 64), 0n, "the whole page is KVM's copy");
  clock.ns = 1_000_000;
  assert.equal(p.rdmsr(HV_MSR.TIME_REF_COUNT), 10_000n);
  // Between multiples of 100 the offset's 1 puts it ahead of kvmclock / 100 (10000).
  clock.ns = 1_000_050;
  assert.equal(p.refTime(), 10_001n);
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x3000n), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.UNSET);
  assert.equal(mem.read(0x3000 + P.tsc_sequence, 32), 42, "disabling leaves the page");
});

Deno.test("HvPartition: without a master clock or RAM the reference TSC page is BROKEN at sequence 0", () => {
  const clock = { ns: 5_000, master: false };
  const { mem, p } = partition(false, [0], true, clock);
  mem.write(0x3000, 32, 41n);
  mem.write(0x3008, 64, 0x77n);
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x3001n), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.BROKEN);
  assert.equal(mem.read(0x3000, 32), 0);
  assert.equal(mem.readBig(0x3008, 64), 0x77n, "only the sequence is written");
  assert.equal(p.refTime(), 50n);
  clock.master = true;
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x10001n), null, "past RAM: taken");
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.BROKEN);
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x3001n), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.SET);
  assert.equal(mem.read(0x3000, 32), 1, "0 + 1");
});

Deno.test("HvPartition: the VMM's writes: TIME_REF_COUNT ignored, REFERENCE_TSC filled via HOST_CHANGED", () => {
  const { mem, p } = partition(false, [0], true, { ns: 1000, master: true });
  assert.equal(p.wrmsr(HV_MSR.TIME_REF_COUNT, 5n), "HV_X64_MSR_TIME_REF_COUNT is read-only");
  assert.equal(p.wrmsr(HV_MSR.TIME_REF_COUNT, 5n, true), null);
  assert.equal(p.refTime(), 10n, "ignored");
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x3001n, true), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.SET);
  assert.equal(mem.read(0x3000, 32), 1);
});

Deno.test("HvPartition: a clock update refills a SET page, unless the guest turned TSC emulation on", () => {
  const mem = new GuestMemory(0x10000);
  let kvmclock = 1_000_000;
  const tsc = 1_000_000n;
  const p = hvPartition(mem, {
    kvmclockNs: () => kvmclock,
    tsc: () => tsc,
    masterClock: () => true,
  });
  p.wrmsr(HV_MSR.REFERENCE_TSC, 0x5001n);
  assert.equal(mem.read(0x5000, 32), 1);
  // KVM_SET_CLOCK(0): the kvmclock restarts, the TSC does not.
  kvmclock = 0;
  p.clockUpdate();
  assert.equal(mem.read(0x5000, 32), 2);
  assert.equal(p.refTime(), 0n);
  p.wrmsr(HV_MSR.TSC_EMULATION_CONTROL, 1n);
  kvmclock = 5_000_000;
  p.clockUpdate();
  assert.equal(mem.read(0x5000, 32), 2, "unsafe: the page stays");
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.SET);
  assert.equal(p.refTime(), 0n, "and KVM's copy with it");
  // Without TSC emulation the same update refills it.
  p.wrmsr(HV_MSR.TSC_EMULATION_CONTROL, 0n);
  p.clockUpdate();
  assert.equal(mem.read(0x5000, 32), 3);
  assert.equal(p.refTime(), 50_000n);
});

Deno.test("HvPartition: with TSC emulation on, a page the VMM restores is taken as the guest left it", () => {
  const { mem, p } = partition(false, [0], true, { ns: 400, master: true });
  p.wrmsr(HV_MSR.TSC_EMULATION_CONTROL, 1n);
  mem.write(0x6000 + MS_HYPERV_TSC_PAGE.tsc_sequence, 32, 9n);
  mem.write(0x6000 + MS_HYPERV_TSC_PAGE.tsc_scale, 64, 1n << 63n);
  mem.write(0x6000 + MS_HYPERV_TSC_PAGE.tsc_offset, 64, 7n);
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x6001n, true), null);
  assert.equal(p.tscPageStatus, HV_TSC_PAGE.SET);
  assert.equal(mem.read(0x6000, 32), 9);
  assert.equal(p.refTime(), 400n / 2n + 7n);
  // The guest's own write is never unsafe: KVM fills the page.
  assert.equal(p.wrmsr(HV_MSR.REFERENCE_TSC, 0x6001n), null);
  assert.equal(mem.read(0x6000, 32), 10);
});

Deno.test("HvPartition: the reenlightenment MSRs are stored; TSC_EMULATION_STATUS takes only 0 from the guest", () => {
  const { p } = partition();
  assert.equal(p.wrmsr(HV_MSR.REENLIGHTENMENT_CONTROL, 0x100ffn), null);
  assert.equal(p.rdmsr(HV_MSR.REENLIGHTENMENT_CONTROL), 0x100ffn);
  assert.match(p.wrmsr(HV_MSR.TSC_EMULATION_STATUS, 1n) ?? "", /only 0/);
  assert.equal(p.wrmsr(HV_MSR.TSC_EMULATION_STATUS, 1n, true), null);
  assert.equal(p.rdmsr(HV_MSR.TSC_EMULATION_STATUS), 1n);
  assert.ok(HvPartition.owns(HV_MSR.TSC_EMULATION_CONTROL));
  assert.ok(!HvPartition.owns(HV_MSR.TSC_FREQUENCY), "per vCPU in KVM");
});

Deno.test("HvPartition.hypercall64: access is checked before the reserved bits, the XMM #UD after them", () => {
  const { p } = partition();
  const denied = { allowed: () => false, xmmRefused: () => true, syndbg: () => false };
  const rsvd = 1n << 27n;
  assert.deepEqual(
    p.hypercall64(0, BigInt(HVCALL.SEND_IPI) | rsvd, 0n, 0n, [], denied),
    { status: HV_STATUS.ACCESS_DENIED },
  );
  const xmm = { allowed: () => true, xmmRefused: () => true, syndbg: () => false };
  assert.deepEqual(
    p.hypercall64(
      0,
      BigInt(HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE) | rsvd | HV_HYPERCALL.Fast,
      0n,
      0n,
      [],
      xmm,
    ),
    { status: HV_STATUS.INVALID_HYPERCALL_INPUT },
  );
  assert.ok(
    "ud" in p.hypercall64(0, BigInt(HVCALL.SEND_IPI_EX) | HV_HYPERCALL.Fast, 0n, 0n, [], xmm),
  );
  // SEND_IPI's fast form reads no XMM register: no #UD.
  assert.ok(
    !("ud" in p.hypercall64(0, BigInt(HVCALL.SEND_IPI) | HV_HYPERCALL.Fast, 0x20n, 0n, [], xmm)),
  );
});

Deno.test("HvPartition.hypercall64: the TLB flushes check their input and complete every rep", () => {
  const { p } = partition();
  const rep = (n: bigint) => n << 32n;
  const list = BigInt(HVCALL.FLUSH_VIRTUAL_ADDRESS_LIST),
    space = BigInt(HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE);
  assert.deepEqual(p.hypercall64(0, list | rep(3n), 0x1000n, 0n), { status: 3 * 2 ** 32 });
  assert.deepEqual(p.hypercall64(0, list, 0x1000n, 0n), {
    status: HV_STATUS.INVALID_HYPERCALL_INPUT,
  }, "no reps");
  assert.deepEqual(p.hypercall64(0, space | rep(1n), 0x1000n, 0n), {
    status: HV_STATUS.INVALID_HYPERCALL_INPUT,
  });
  assert.deepEqual(p.hypercall64(0, space, 0xfff0n, 0n), {
    status: HV_STATUS.INVALID_HYPERCALL_INPUT,
  }, "past RAM");
  // FLUSH_SPACE_EX: a sparse set whose var_cnt is not valid_bank_mask's weight.
  const { mem, p: q } = partition();
  mem.write(0x1018, 64, 0b11n);
  const spaceEx = BigInt(HVCALL.FLUSH_VIRTUAL_ADDRESS_SPACE_EX);
  assert.deepEqual(q.hypercall64(0, spaceEx | (1n << 17n), 0x1000n, 0n), {
    status: HV_STATUS.INVALID_HYPERCALL_INPUT,
  });
  assert.deepEqual(q.hypercall64(0, spaceEx | (2n << 17n), 0x1000n, 0n), {
    status: HV_STATUS.SUCCESS,
  });
});

Deno.test("HvPartition.hypercall64: debug calls need SynDBG, extended calls exit to the VMM unless fast", () => {
  const { p } = partition();
  const syndbg = { allowed: () => true, xmmRefused: () => false, syndbg: () => true };
  const reset = BigInt(HVCALL.RESET_DEBUG_SESSION);
  assert.deepEqual(p.hypercall64(0, reset, 0n, 0n), { status: HV_STATUS.INVALID_HYPERCALL_CODE });
  assert.deepEqual(p.hypercall64(0, reset, 0n, 0n, [], syndbg), {
    status: HV_STATUS.OPERATION_DENIED,
  });
  assert.deepEqual(
    p.hypercall64(0, BigInt(HVCALL.POST_DEBUG_DATA) | HV_HYPERCALL.Fast, 0n, 0n, [], syndbg),
    { status: HV_STATUS.INVALID_PARAMETER },
  );
  const ext = BigInt(HVCALL.EXT_CALL_QUERY_CAPABILITIES);
  assert.ok("exit" in p.hypercall64(0, ext, 0x1000n, 0x2000n));
  assert.deepEqual(p.hypercall64(0, ext | HV_HYPERCALL.Fast, 0n, 0n), {
    status: HV_STATUS.INVALID_PARAMETER,
  });
  assert.deepEqual(p.hypercall64(0, BigInt(HVCALL.NOTIFY_LONG_SPIN_WAIT), 0n, 0n), {
    status: HV_STATUS.SUCCESS,
  });
});
