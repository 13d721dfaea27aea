import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { HV_MSR } from "./hyperv_synic.ts";
import { HV_HYPERCALL, HV_STATUS, HVCALL, HvPartition } from "./hyperv_hypercall.ts";

function partition(xen = false) {
  const mem = new GuestMemory(0x10000);
  const signalled: number[] = [];
  const p = new HvPartition({
    mem: () => mem,
    kvmclockNs: () => 12_345,
    xenHypercalls: () => xen,
    signal: (fd) => signalled.push(fd),
    synicActive: () => true,
  });
  return { mem, p, signalled };
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
