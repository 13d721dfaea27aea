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
