import { stateHashRecord } from "../core/state_hash_record.ts";
import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { KVM_XEN_HVM_CONFIG, KVM_XEN_INVALID, KVM_XEN_PRIO_2LEVEL, KvmXen } from "./kvm_xen.ts";
import { XEN_ERRNO } from "./errno.ts";

const cfg = { msr: 0x40000000, blobAddr32: 0n, blobAddr64: 0n, blobSize32: 0, blobSize64: 0 };

Deno.test("KVM_XEN_HVM_CONFIG accepts only the settable flags", () => {
  const kvm = new KvmXen(fakeDomain({ flavour: "kvm-xen" }).domain);
  assert.equal(kvm.hvmConfig({ ...cfg, flags: KVM_XEN_HVM_CONFIG.EVTCHN_SEND }), 0);
  assert.equal(kvm.hvmConfig({ ...cfg, flags: KVM_XEN_HVM_CONFIG.SHARED_INFO }), -XEN_ERRNO.EINVAL);
  assert.equal(
    kvm.hvmConfig({ ...cfg, flags: KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL, blobSize64: 1 }),
    -XEN_ERRNO.EINVAL,
  );
});

Deno.test("XEN-59: KVM_XEN_HVM_EVTCHN_SEND results", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const kvm = new KvmXen(domain);
  const P = KVM_XEN_PRIO_2LEVEL;
  assert.equal(kvm.evtchnSend({ port: 0, vcpu: 0, priority: P }), -XEN_ERRNO.EINVAL);
  assert.equal(kvm.evtchnSend({ port: 4096, vcpu: 0, priority: P }), -XEN_ERRNO.EINVAL);
  domain.mem.setBit(0x10a00, 5);
  assert.equal(kvm.evtchnSend({ port: 5, vcpu: 0, priority: P }), 0);
  assert.equal(domain.evtchn.isPending(5), true);
  assert.equal(domain.upcallPending(0), false);
  assert.equal(kvm.evtchnSend({ port: 6, vcpu: 0, priority: 0 }), -XEN_ERRNO.EINVAL);
  assert.equal(kvm.evtchnSend({ port: 6, vcpu: 7, priority: P }), -XEN_ERRNO.EINVAL);
  assert.equal(kvm.evtchnSend({ port: 66, vcpu: 1, priority: P }), 0);
  assert.equal(domain.mem.read(0x10808, 8), 0b100);
  assert.equal(domain.upcallPending(1), true);
  kvm.setLongMode(false);
  assert.equal(kvm.evtchnSend({ port: 1024, vcpu: 1, priority: P }), -XEN_ERRNO.EINVAL);
});

Deno.test("routing entries of type XEN_EVTCHN deliver {port, vcpu}", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const kvm = new KvmXen(domain);
  assert.equal(kvm.validateRoute({ port: 3, vcpu: 1, priority: 0 }), -XEN_ERRNO.EINVAL);
  // An unknown vCPU or an out-of-range port is accepted in the table and fails on delivery.
  assert.equal(kvm.validateRoute({ port: 3, vcpu: 2, priority: KVM_XEN_PRIO_2LEVEL }), 0);
  assert.equal(kvm.deliver({ port: 3, vcpu: 2, priority: KVM_XEN_PRIO_2LEVEL }), -22);
  assert.equal(kvm.deliver({ port: 5000, vcpu: 1, priority: KVM_XEN_PRIO_2LEVEL }), -22);
  kvm.setRoutes([{ gsi: 40, port: 3, vcpu: 1, priority: KVM_XEN_PRIO_2LEVEL }]);
  assert.equal(kvm.setVcpuUpcallVector(1, 0xf3), 0);
  assert.deepEqual(host.irr[1], []);
  assert.equal(kvm.irqLine(40, 1), 1);
  assert.deepEqual(host.irr[1], [0xf3]);
  assert.equal(kvm.irqLine(41, 1), undefined);
});

Deno.test("attributes: global vector, shared_info off and on", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen" });
  const kvm = new KvmXen(domain);
  assert.equal(kvm.setUpcallVector(0x0f), -XEN_ERRNO.EINVAL);
  assert.equal(kvm.setUpcallVector(0xf3), 0);
  assert.equal(domain.callback.via.type, "vector");
  assert.equal(kvm.setSharedInfo(KVM_XEN_INVALID), 0);
  assert.equal(domain.evtchn.raiseOn(3, 0), -XEN_ERRNO.EINVAL);
  assert.equal(kvm.setSharedInfo(0x30n), 0);
  assert.equal(domain.sharedInfo(), 0x30000);
  assert.equal(kvm.setVcpuInfo(3, 0n), -XEN_ERRNO.EINVAL);
});

Deno.test("KVM's Xen timer: raw VCPUOP_set_singleshot_timer reads its struct; off without a TIMER port", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const kvm = new KvmXen(domain);
  const vcpuOp = (cmd: bigint, target: bigint, arg: bigint, longmode = true) =>
    kvm.kernelHypercall(0, longmode, 24n, [cmd, target, arg, 0n, 0n, 0n]);
  // No port: kvm_xen_timer_enabled is false and the call exits (undefined).
  assert.equal(vcpuOp(8n, 0n, 0x2000n), undefined);
  assert.equal(kvm.kernelHypercall(0, true, 15n, [5n, 0n, 0n, 0n, 0n, 0n]), undefined);
  assert.equal(kvm.setTimer(0, 9, KVM_XEN_PRIO_2LEVEL, 0n), 0);
  domain.mem.write(0x2000, 64, 1_000_000n);
  assert.equal(vcpuOp(8n, 0n, 0x2000n), 0);
  assert.deepEqual(kvm.getTimer(0), { port: 9, expires: 1_000_000n });
  // Another vCPU, or a C int -1: -EINVAL before the struct is read.
  assert.equal(vcpuOp(8n, 1n, 0xffff_ffffn), -XEN_ERRNO.EINVAL);
  assert.equal(vcpuOp(9n, 0xffff_ffffn, 0n), -XEN_ERRNO.EINVAL);
  // The struct past the end of RAM: -EFAULT (12 bytes for a 32-bit caller).
  const end = BigInt(domain.mem.size);
  assert.equal(vcpuOp(8n, 0n, end - 12n, false), 0);
  assert.equal(vcpuOp(8n, 0n, end - 12n, true), -XEN_ERRNO.EFAULT);
  // Other VCPUOPs still exit; stop clears the deadline.
  assert.equal(vcpuOp(10n, 0n, 0n), undefined);
  assert.equal(vcpuOp(9n, 0n, 0n), 0);
  assert.equal(kvm.getTimer(0).expires, 0n);
  // 32-bit set_timer_op: the deadline's halves in two arguments.
  assert.equal(kvm.kernelHypercall(0, false, 15n, [0n, 1n, 0n, 0n, 0n, 0n]), 0);
  assert.equal(kvm.getTimer(0).expires, 1n << 32n);
});

Deno.test("KvmXen.leaveRun(): a userspace exit keeps the vCPU running and outside KVM_RUN until it returns", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen" });
  const kvm = new KvmXen(domain);
  assert.equal(kvm.hvmConfig({ ...cfg, flags: 0 }), 0);
  const r = domain.runstate;
  assert.equal(kvm.vcpuEntry(0), true); // the first KVM_RUN is a vcpu_load
  host.advance(1000);
  kvm.leaveRun(0, 500, 200, false);
  assert.equal(kvm.outside(0), true);
  assert.equal(r.vcpus[0].state, 0);
  assert.equal(r.runDelay[0], 0n); // the thread's delay is counted once it is back
  host.advance(1500);
  assert.equal(kvm.outside(0), false);
  assert.equal(r.runDelay[0], 200n);
  assert.equal(kvm.vcpuEntry(0), true);
  assert.deepEqual(r.vcpus[0].time, [1300n, 200n, 0n, 0n]);
  assert.equal(kvm.vcpuEntry(0), false); // serviced once per KVM_RUN
});

Deno.test("KvmXen.leaveRun(): a host preemption makes the vCPU runnable until its entry", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen" });
  const kvm = new KvmXen(domain);
  const r = domain.runstate;
  assert.equal(kvm.hvmConfig({ ...cfg, flags: 0 }), 0);
  assert.equal(kvm.vcpuEntry(0), true); // the first KVM_RUN is a vcpu_load
  // Without a hypercall MSR KVM keeps steal time instead: the runstate stays.
  assert.equal(kvm.hvmConfig({ ...cfg, msr: 0, flags: 0 }), 0);
  host.advance(100);
  kvm.leaveRun(0, 50, 50, true);
  assert.equal(r.vcpus[0].state, 0);
  host.advance(200);
  assert.equal(kvm.hvmConfig({ ...cfg, flags: 0 }), 0);
  kvm.leaveRun(0, 400, 400, true);
  assert.equal(r.vcpus[0].state, 1);
  assert.equal(kvm.outside(0), true);
  host.advance(600);
  assert.equal(kvm.outside(0), false);
  assert.equal(kvm.vcpuEntry(0), true);
  assert.equal(r.vcpus[0].state, 0);
  // running 0..200 less the first preemption's 50 (stolen), runnable 50 + 200..600.
  assert.deepEqual(r.vcpus[0].time, [150n, 450n, 0n, 0n]);
});

Deno.test("KvmXen.schedOut(): a halted vCPU is refused (its thread sleeps off the run queue), a running one is preempted", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const kvm = new KvmXen(domain);
  const r = domain.runstate;
  assert.equal(kvm.hvmConfig({ ...cfg, flags: 0 }), 0);
  host.blocked[1] = true;
  assert.throws(() => kvm.schedOut(1, 100), /halted/);
  assert.equal(r.vcpus[1].state, 0);
  assert.equal(kvm.outside(1), false);
  kvm.schedOut(0, 100);
  assert.equal(r.vcpus[0].state, 1);
});

Deno.test("KVM_EXIT_XEN: the VMM's KVM_RUN after it updates the runstate at the entry", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen" });
  const kvm = new KvmXen(domain);
  assert.equal(kvm.hvmConfig({ ...cfg, flags: KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL }), 0);
  host.advance(700);
  kvm.exitToVmm(0, true, 0, 17n, [0n, 0n, 0n, 0n, 0n, 0n]);
  assert.equal(kvm.vcpuEntry(0), true);
  assert.equal(domain.runstate.vcpus[0].entryTime, 700n);
});

Deno.test("scn explore's fingerprint tells a vCPU outside KVM_RUN, and its pending steal, apart", () => {
  const words = (d: ReturnType<typeof fakeDomain>["domain"]) =>
    stateHashRecord((h) => d.hashPrivate(h));
  const a = fakeDomain({ flavour: "kvm-xen" }), b = fakeDomain({ flavour: "kvm-xen" });
  assert.equal(words(a.domain), words(b.domain));
  b.domain.runstate.outsideUntil[0] = 500;
  assert.notEqual(words(a.domain), words(b.domain));
  a.domain.runstate.outsideUntil[0] = 500;
  a.domain.runstate.runDelay[0] = 40n;
  assert.notEqual(words(a.domain), words(b.domain));
});

Deno.test("QEMU's VCPUOP_register_vcpu_time_memory_area: -ENOENT, -EFAULT across a page, else KVM's VCPU_TIME_INFO and 0", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const kvm = new KvmXen(domain);
  assert.equal(kvm.qemuRegisterTimeArea(2, 0x7000), -XEN_ERRNO.ENOENT);
  assert.equal(kvm.qemuRegisterTimeArea(1, 0x7fe1), -XEN_ERRNO.EFAULT);
  assert.equal(kvm.getVcpuAttr("vcpu_time_info", 1), KVM_XEN_INVALID);
  assert.equal(kvm.qemuRegisterTimeArea(1, 0x7fe0), 0);
  assert.equal(kvm.getVcpuAttr("vcpu_time_info", 1), 0x7fe0n);
  // Past guest RAM KVM refuses the attribute; QEMU set it asynchronously and answered 0.
  assert.equal(kvm.qemuRegisterTimeArea(0, domain.mem.size), 0);
  assert.equal(kvm.getVcpuAttr("vcpu_time_info", 0), KVM_XEN_INVALID);
});

Deno.test("Xen's VCPUOP_register_vcpu_time_memory_area copies the vcpu_info time record, version included", () => {
  const { domain, host } = fakeDomain({ flavour: "xen", vcpus: 2 });
  host.advance(3000);
  assert.equal(domain.registerTimeArea(2, 0x7000), -XEN_ERRNO.ENOENT);
  assert.equal(domain.registerTimeArea(1, 0x7000), 0);
  const vi = domain.areas.ref(1)!;
  for (let i = 0; i < 32; i += 4) {
    assert.equal(domain.mem.read(0x7000 + i, 32), vi.mem.read(vi.addr + 0x20 + i, 32), `+${i}`);
  }
  assert.equal(domain.mem.readBig(0x7010, 64), 3000n);
  // Outside guest RAM: accepted, nothing written (the copies fail quietly for HVM).
  assert.equal(domain.registerTimeArea(0, domain.mem.size), 0);
});

Deno.test("Xen's deschedule: runnable until the scheduler picks the vCPU again; a blocked vCPU is refused", () => {
  const { domain, host } = fakeDomain({ flavour: "xen", vcpus: 2 });
  const r = domain.runstate;
  host.advance(1000);
  domain.deschedule(0, 300);
  assert.equal(r.vcpus[0].state, 1);
  assert.equal(r.outside(0, host.now()), true);
  assert.throws(() => domain.deschedule(0, 10), /not running/);
  host.advance(1300);
  assert.equal(r.vcpus[0].state, 0);
  assert.deepEqual(r.vcpus[0].time, [1000n, 300n, 0n, 0n]);
  r.change(1, 2, 1300n); // blocked
  assert.throws(() => domain.deschedule(1, 10), /not running/);
});
