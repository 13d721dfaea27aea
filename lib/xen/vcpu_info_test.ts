import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { XEN_ERRNO } from "./errno.ts";
import { VIRQ } from "./evtchn.ts";

Deno.test("XEN-25: vCPUs >= 32 have no default slot; P still changes", () => {
  const { domain } = fakeDomain({ vcpus: 40 });
  assert.equal(domain.areas.gpa(31), 0x10000 + 31 * 64);
  assert.equal(domain.areas.gpa(35), -1);
  const p = domain.evtchn.bindIpi(35);
  domain.evtchn.send(p);
  assert.equal(domain.evtchn.isPending(p), true);
  assert.equal(domain.areas.dummy.read(0, 8), 1); // UP went to the private dummy
});

Deno.test("XEN-27: registering from the dummy zeroes, sets UM, SEL all-ones, UP", () => {
  const { domain, host } = fakeDomain({ vcpus: 40 });
  domain.callback.setUpcallVector(35, 0xf2);
  host.irr[35].length = 0;
  domain.mem.fill(0x20000, 64, 0xaa);
  assert.equal(domain.registerVcpuInfo(35, 0x20, 0), 0);
  assert.equal(domain.mem.read(0x20000, 8), 1); // UP
  assert.equal(domain.mem.read(0x20001, 8), 1); // UM
  assert.equal(domain.mem.read(0x20008, 64), 0xffff_ffff_ffff_ffffn);
  assert.equal(domain.mem.read(0x20010, 64), 0n); // zeroed
  assert.deepEqual(host.irr[35], [0xf2]);
  assert.equal(domain.registerVcpuInfo(35, 0x21, 0), -XEN_ERRNO.EBUSY);
});

Deno.test("XEN-29: after a move only the new location is written", () => {
  const { domain } = fakeDomain({ vcpus: 2 });
  domain.mem.write(0x10000 + 64 + 1, 8, 0); // UM=0 in the old slot, to see the copy
  // Something in arch.cr2: the time record is rewritten after the copy.
  domain.mem.write(0x10000 + 64 + 16, 32, 0x1234);
  assert.equal(domain.registerVcpuInfo(1, 0x20, 0x40), 0);
  assert.equal(domain.mem.read(0x20040 + 16, 32), 0x1234); // copied
  assert.equal(domain.mem.read(0x20040 + 32, 32), 2); // time.version: one forced update
  domain.mem.write(0x20040, 8, 0);
  domain.mem.write(0x20048, 64, 0n);
  const oldUp = domain.mem.read(0x10040, 8);
  domain.evtchn.send(domain.evtchn.bindIpi(1));
  assert.equal(domain.mem.read(0x20040, 8), 1);
  assert.equal(domain.mem.read(0x10040, 8), oldUp);
});

Deno.test("register_vcpu_info errors: alignment, page crossing, offset", () => {
  const { domain } = fakeDomain({ vcpus: 2 });
  assert.equal(domain.registerVcpuInfo(1, 0x20, 4), -XEN_ERRNO.ENXIO); // 64-bit: 8-aligned
  assert.equal(domain.registerVcpuInfo(1, 0x20, 4064), -XEN_ERRNO.ENXIO);
  assert.equal(domain.registerVcpuInfo(1, 0x20, 4096), -XEN_ERRNO.EINVAL);
  const compat = fakeDomain({ vcpus: 2, width: 32 }).domain;
  assert.equal(compat.registerVcpuInfo(1, 0x20, 4), 0); // compat: 4-aligned is enough
});

Deno.test("an old UP=1 is copied, so the move raises no new upcall", () => {
  const { domain, host } = fakeDomain();
  domain.callback.setUpcallVector(0, 0xf3);
  domain.evtchn.send(domain.evtchn.bindIpi(0));
  host.irr[0].length = 0;
  domain.registerVcpuInfo(0, 0x20, 0);
  assert.deepEqual(host.irr[0], []);
});

Deno.test("seed 002: kvm-xen copy then attribute; an event in between is lost", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 2 });
  const p = domain.evtchn.bindVirq(VIRQ.timer, 1);
  assert.equal(domain.areas.vmmCopy(1, 0x20000), 0);
  domain.evtchn.raise(p); // lands in the old slot
  assert.equal(domain.kvmSetVcpuInfo(1, 0x20000n), 0);
  assert.equal(domain.mem.read(0x20000, 8), 0);
  assert.equal(domain.upcallPending(1), false);
  assert.equal(domain.evtchn.isPending(p), true);
  assert.equal(domain.kvmSetVcpuInfo(1, 0x20ff0n), -XEN_ERRNO.EINVAL);
});

Deno.test("kvm-xen: vCPUs >= 32 have nothing until the attribute; the shadow merges", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen", vcpus: 33 });
  const p = domain.evtchn.bindIpi(32);
  domain.evtchn.send(p);
  assert.equal(domain.upcallPending(32), false);
  assert.equal(domain.areas.shadowSel[32], 1n);
  domain.kvmSetVcpuInfo(32, 0x20000n);
  assert.equal(domain.upcallPending(32), true);
  assert.equal(domain.mem.read(0x20008, 64), 1n);
});
