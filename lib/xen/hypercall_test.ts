import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { KVM_XEN_HVM_CONFIG, KVM_XEN_PRIO_2LEVEL, KvmXen, QEMU_HVM_CONFIG } from "./kvm_xen.ts";
import {
  ARM_HYPERCALL_ARGS,
  ArmGuestRegs,
  GuestRegs,
  HYPERCALL,
  toU64,
  XEN_ARM_CLOBBER,
} from "./hypercall.ts";
import { namedHypercall, rawHypercall } from "./hypercall_path.ts";
import { EVTCHNSTAT } from "./evtchn.ts";
import { XEN_ERRNO } from "./errno.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { XenDomainConfig } from "./domain.ts";

function machine(config: Partial<XenDomainConfig> = {}) {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen", vcpus: 2, ...config });
  return { m: { domain, kvm: new KvmXen(domain) }, host };
}

const ARG = (n: number) => 0xdeadbeef5a5a0000n + BigInt(n);

Deno.test("the ABI argument order: RDI, RSI, RDX, R10, R8, R9; EBX, ECX, EDX, ESI, EDI, EBP", () => {
  const r = new GuestRegs();
  (["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const).forEach((n, i) => r.set(n, ARG(i + 1)));
  (["rbx", "rcx", "rbp"] as const).forEach((n, i) => r.set(n, 0x1_0000_0010n + BigInt(i)));
  r.set("rax", 0x1_0000_0011n);
  assert.deepEqual(r.args(true), [1, 2, 3, 4, 5, 6].map(ARG));
  assert.equal(r.input(true), 0x1_0000_0011n);
  // 32-bit: the low halves only, input EAX.
  assert.deepEqual(r.args(false), [0x10n, 0x11n, 0x5a5a0003n, 0x5a5a0002n, 0x5a5a0001n, 0x12n]);
  assert.equal(r.input(false), 0x11n);
  assert.equal(toU64(-22), 0xffff_ffff_ffff_ffean);
});

Deno.test("XEN-55: xen_vmcall_test: stub 17 exits with the six arguments; the VMM's result lands in RAX", () => {
  const { m } = machine();
  const loads = (["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const).map((r, i) =>
    [r, ARG(i + 1)] as const
  );
  assert.equal(rawHypercall(m, 0, 17n, loads, 0), 17);
  const e = m.kvm.exits[0];
  assert.deepEqual(
    [e.reason, e.count, e.longmode, e.cpl, e.input, e.waiting],
    ["xen_hcall", 1, 1, 0, 17n, true],
  );
  assert.deepEqual(e.params, [1, 2, 3, 4, 5, 6].map(ARG));
  assert.equal(m.kvm.completeHypercall(0, 0xcafef00dfbfbffffn), 1);
  assert.equal(m.domain.regs[0].get("rax"), 0xcafef00dfbfbffffn);
  assert.equal(e.waiting, false);
  assert.equal(m.kvm.completeHypercall(0, 1n), 0, "nothing waits any more");
  assert.equal(m.domain.regs[0].get("rax"), 0xcafef00dfbfbffffn);
});

Deno.test("a vCPU's next hypercall completes an unanswered one (KVM_RUN ran again)", () => {
  const { m } = machine();
  rawHypercall(m, 0, 18n, [], 0);
  m.kvm.completeHypercall(0, 7n);
  rawHypercall(m, 0, 18n, [], 0);
  assert.equal(m.kvm.exits[0].waiting, true);
  // The next hypercall means KVM_RUN ran again: the old one completed (with
  // the stale result field, 7), and this one exits in its turn.
  rawHypercall(m, 0, 17n, [["rdi", 0n]], 3);
  assert.equal(m.kvm.exits[0].count, 3);
  assert.equal(m.kvm.exits[0].result, 7n);
  assert.equal(m.kvm.exits[0].cpl, 3);
  assert.equal(m.domain.regs[0].get("rax"), 17n);
});

Deno.test("XEN-55: CPL 3 always exits; CPL 0 xen_version is answered in the kernel once set", () => {
  const { m } = machine();
  assert.equal(rawHypercall(m, 0, 17n, [["rdi", 0n]], 0), 17, "no XEN_VERSION attribute yet");
  m.kvm.completeHypercall(0, 0n);
  m.kvm.setXenVersion(0x4000a);
  assert.equal(rawHypercall(m, 0, 17n, [["rdi", 0n]], 0), 0x4000a);
  assert.equal(m.kvm.exits[0].count, 1);
  assert.equal(rawHypercall(m, 0, 17n, [["rdi", 0n]], 3), 17);
  assert.equal(m.kvm.exits[0].count, 2);
  // Another xen_version sub-command is the VMM's.
  m.kvm.completeHypercall(0, 0n);
  assert.equal(rawHypercall(m, 0, 17n, [["rdi", 1n]], 0), 17);
});

Deno.test("raw EVTCHNOP_send reads the port from guest memory; SCHEDOP_yield and poll stay in the kernel", () => {
  const { m, host } = machine();
  const { domain: d, kvm } = m;
  assert.equal(
    kvm.setEvtchnAttr({
      sendPort: 127,
      type: EVTCHNSTAT.interdomain,
      flags: 0,
      deliverPort: 15,
      vcpu: 1,
      priority: KVM_XEN_PRIO_2LEVEL,
      eventfd: -1,
    }),
    0,
  );
  d.mem.write(0x30000, 32, 127);
  assert.equal(rawHypercall(m, 0, 32n, [["rdi", 4n], ["rsi", 0x30000n]], 0), 0);
  assert.equal(d.evtchn.isPending(15), true);
  assert.equal(d.upcallPending(1), true);
  assert.equal(kvm.exits[0].count, 0);
  assert.equal(rawHypercall(m, 0, 29n, [["rdi", 0n]], 0), 0, "SCHEDOP_yield");
  // SCHEDOP_poll {ports = 0x30100, nr_ports = 1, timeout = 2 ms} on port 20: KVM's relative timeout.
  d.mem.write(0x30100, 32, 20);
  d.mem.write(0x30200, 64, 0x30100n);
  d.mem.write(0x30208, 32, 1);
  d.mem.write(0x30210, 64, 2_000_000n);
  assert.equal(rawHypercall(m, 0, 29n, [["rdi", 3n], ["rsi", 0x30200n]], 0), 0);
  assert.equal(host.blocked[0], true);
  host.advance(2_000_000);
  assert.equal(host.blocked[0], false);
  assert.equal(d.timers.vcpus[0].wokeBy, "timeout");
  // Without EVTCHN_SEND, SCHEDOP_poll is a yield: back at once.
  kvm.hvmConfig({ ...kvm.config, flags: KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL });
  assert.equal(rawHypercall(m, 0, 29n, [["rdi", 3n], ["rsi", 0x30200n]], 0), 0);
  assert.equal(host.blocked[0], false);
  // SCHEDOP_block is not KVM's.
  assert.equal(rawHypercall(m, 0, 29n, [["rdi", 1n]], 0), 29);
  assert.equal(kvm.exits[0].count, 1);
});

Deno.test("a 32-bit caller: compat sched_poll layout, and set_timer_op's deadline in two halves", () => {
  const { m, host } = machine();
  m.domain.cpuMode[0] = 32;
  const d = m.domain;
  // compat sched_poll: ports @0 (u32), nr_ports @4, timeout @8.
  d.mem.write(0x30100, 32, 20);
  d.mem.write(0x30200, 32, 0x30100);
  d.mem.write(0x30204, 32, 1);
  d.mem.write(0x30208, 64, 1_000_000n);
  assert.equal(rawHypercall(m, 0, 29n, [["rbx", 3n], ["rcx", 0x30200n]], 0), 0);
  assert.equal(host.blocked[0], true);
  host.advance(1_000_000);
  assert.equal(host.blocked[0], false);
  // A named set_timer_op from 32-bit code: EBX low, ECX high.
  namedHypercall(
    m,
    0,
    { name: "set_timer_op", input: 15, args: [0x89ab_cdefn, 0x1234n], cpl: 0 },
    () => 0,
  );
  const e = m.kvm.exits[0];
  assert.equal(e.longmode, 0);
  assert.deepEqual(e.params.slice(0, 2), [0x89ab_cdefn, 0x1234n]);
});

Deno.test("without INTERCEPT_HCALL a VMCALL is KVM's: -KVM_ENOSYS (32-bit: in EAX), and KVM's own numbers are refused", () => {
  const { m } = machine();
  m.kvm.hvmConfig({ ...QEMU_HVM_CONFIG, flags: 0 });
  assert.equal(rawHypercall(m, 0, 17n, [], 0), -1000);
  assert.equal(m.domain.regs[0].get("rax"), toU64(-1000));
  assert.equal(rawHypercall(m, 0, 17n, [], 3), -1);
  m.domain.cpuMode[0] = 32;
  assert.equal(namedHypercall(m, 0, { name: "x", input: 32, args: [4n], cpl: 0 }, () => 0), -1000);
  assert.equal(m.domain.regs[0].get("rax"), 0xffff_fc18n);
  assert.throws(() => rawHypercall(m, 0, 5n, [], 0), CommandInputError);
  assert.equal(m.kvm.exits[0].count, 0);
});

Deno.test("XEN-57: intercepted sends raise the deliver port or count an eventfd signal", () => {
  const { m } = machine();
  const { domain: d, kvm } = m;
  const base = {
    type: EVTCHNSTAT.interdomain,
    flags: 0,
    vcpu: 0,
    priority: KVM_XEN_PRIO_2LEVEL,
    eventfd: -1,
  };
  assert.equal(kvm.setEvtchnAttr({ ...base, sendPort: 197, deliverPort: 0, eventfd: 3 }), 0);
  const send = (port: number, cpl = 0) =>
    namedHypercall(
      m,
      0,
      { name: "send", input: 32, args: [4n], cpl },
      () => d.evtchn.send(port),
      () => kvm.hcallEvtchnSend(port),
    );
  assert.equal(send(197), 0);
  assert.equal(send(197), 0);
  assert.equal(kvm.eventfds.get(3), 2);
  assert.equal(kvm.exits[0].count, 0);
  // From CPL 3 the same send exits, and QEMU's -EPERM signals nothing.
  assert.equal(send(197, 3), -XEN_ERRNO.EPERM);
  assert.equal(kvm.eventfds.get(3), 2);
  assert.equal(kvm.exits[0].count, 1);
  // An IPI entry raises its own port on the vCPU named.
  assert.equal(
    kvm.setEvtchnAttr({ ...base, type: EVTCHNSTAT.ipi, sendPort: 9, deliverPort: 9, vcpu: 1 }),
    0,
  );
  assert.equal(send(9), 0);
  assert.equal(d.evtchn.isPending(9), true);
  assert.equal(d.upcallPending(1), true);
  // Reset drops them all; the next send on 197 exits.
  assert.equal(kvm.setEvtchnAttr({ ...base, sendPort: 0, deliverPort: 0, flags: 4 }), 0);
  assert.equal(kvm.evtchnPorts.size, 0);
  send(197);
  assert.equal(kvm.exits[0].count, 2);
});

Deno.test("Xen: no exit, -EPERM from CPL > 0, the result in RAX", () => {
  const { m } = machine({ flavour: "xen" });
  let ran = 0;
  const call = (cpl: number) =>
    namedHypercall(m, 1, { name: "x", input: 32, args: [7n], cpl }, () => ++ran);
  assert.equal(call(3), -XEN_ERRNO.EPERM);
  assert.equal(ran, 0);
  assert.equal(m.domain.regs[1].get("rax"), toU64(-XEN_ERRNO.EPERM));
  assert.equal(call(0), 1);
  assert.equal(m.domain.regs[1].get("rax"), 1n);
  assert.equal(m.domain.regs[1].get("rdi"), 7n);
  assert.equal(m.kvm.exits[1].count, 0);
});

Deno.test("ArmGuestRegs: x16 and x0..x4 in, x0 out; a debug build clobbers the used arguments but x0, and x16", () => {
  const r = new ArmGuestRegs();
  r.set("x3", 7n);
  assert.equal(r.call(HYPERCALL.vcpu_op, [6n, 1n], () => -22, "release"), -22);
  assert.deepEqual(r.values, { x0: toU64(-22), x1: 1n, x2: 0n, x3: 7n, x4: 0n, x16: 24n });
  r.call(HYPERCALL.vcpu_op, [6n, 1n], () => 0, "debug");
  assert.deepEqual(r.values, {
    x0: 0n,
    x1: XEN_ARM_CLOBBER,
    x2: XEN_ARM_CLOBBER,
    x3: 7n,
    x4: 0n,
    x16: XEN_ARM_CLOBBER,
  });
  r.call(HYPERCALL.set_timer_op, [5n], () => -XEN_ERRNO.ENOSYS, "debug");
  assert.equal(r.get("x16"), 15n, "-ENOSYS: nothing clobbered");
  assert.equal(r.get("x0"), toU64(-XEN_ERRNO.ENOSYS));
  assert.equal(ARM_HYPERCALL_ARGS[HYPERCALL.set_timer_op], undefined, "not in Arm's table");
});
