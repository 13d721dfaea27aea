import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { DOMID_SELF, EVTCHNSTAT, VIRQ } from "./evtchn.ts";
import { XEN_ERRNO } from "./errno.ts";

const SI = 0x10000;

function bindTo(domain: ReturnType<typeof fakeDomain>["domain"], port: number, vcpu = 0) {
  // Allocate IPI ports until `port` exists (ports are handed out lowest first).
  let p = 0;
  while (p < port) p = domain.evtchn.bindIpi(vcpu);
  assert.equal(p, port);
}

Deno.test("XEN-01: an unmasked raise sets P, the selector bit and UP once", () => {
  const { domain, host } = fakeDomain();
  bindTo(domain, 66);
  domain.callback.setUpcallVector(0, 0xf3);
  host.irr[0].length = 0;
  assert.equal(domain.evtchn.send(66), 0);
  assert.equal(domain.mem.read(SI + 0x808, 8), 0b100);
  assert.equal(domain.mem.read(SI + 8, 64), 0b10n);
  assert.equal(domain.upcallPending(0), true);
  assert.deepEqual(host.irr[0], [0xf3]);
});

Deno.test("XEN-03: a masked raise sets only P", () => {
  const { domain, host } = fakeDomain();
  bindTo(domain, 15);
  domain.mem.setBit(SI + 0xa00, 15);
  domain.evtchn.send(15);
  assert.equal(domain.evtchn.isPending(15), true);
  assert.equal(domain.mem.read(SI + 8, 64), 0n);
  assert.equal(domain.upcallPending(0), false);
  assert.equal(host.kicks.length, 0);
});

Deno.test("XEN-05: no new upcall while the selector or UP is already set", () => {
  const { domain, host } = fakeDomain();
  bindTo(domain, 70);
  domain.callback.setUpcallVector(0, 0xf3);
  host.irr[0].length = 0;
  domain.evtchn.send(3);
  assert.deepEqual(host.irr[0], [0xf3]);
  host.irr[0].length = 0;
  domain.evtchn.send(5);
  domain.evtchn.send(70);
  assert.deepEqual(host.irr[0], []);
  assert.equal(domain.mem.read(SI + 8, 64), 0b11n);
});

Deno.test("XEN-07: EVTCHNOP_unmask notifies the port's vCPU, not the caller", () => {
  const { domain } = fakeDomain({ vcpus: 2 });
  bindTo(domain, 9, 1);
  domain.mem.setBit(SI + 0xa00, 9);
  domain.evtchn.send(9);
  assert.equal(domain.upcallPending(1), false);
  assert.equal(domain.evtchn.unmask(9), 0);
  assert.equal(domain.evtchn.isMasked(9), false);
  assert.equal(domain.upcallPending(1), true);
  assert.equal(domain.upcallPending(0), false);
  assert.equal(domain.mem.read(SI + 64 + 8, 64), 1n);
});

Deno.test("unmask of a port the guest already unmasked does nothing (XEN-09)", () => {
  const { domain } = fakeDomain();
  bindTo(domain, 7);
  domain.mem.setBit(SI + 0xa00, 7);
  domain.evtchn.send(7);
  domain.mem.clearBit(SI + 0xa00, 7); // the guest clears M itself
  assert.equal(domain.evtchn.unmask(7), 0);
  assert.equal(domain.upcallPending(0), false); // must re-mask first
  domain.mem.setBit(SI + 0xa00, 7);
  domain.evtchn.unmask(7);
  assert.equal(domain.upcallPending(0), true);
});

Deno.test("XEN-35: interdomain loopback marks the new end pending at bind", () => {
  const { domain } = fakeDomain();
  const e = domain.evtchn;
  const a = e.allocUnbound(DOMID_SELF, DOMID_SELF);
  const b = e.bindInterdomain(DOMID_SELF, a);
  assert.deepEqual([a, b], [1, 2]);
  assert.equal(e.isPending(b), true);
  assert.equal(e.isPending(a), false);
  e.send(b);
  assert.equal(e.isPending(a), true);
  assert.deepEqual(e.status(DOMID_SELF, a), {
    status: EVTCHNSTAT.interdomain,
    vcpu: 0,
    dom: 1,
    port: b,
    number: 0,
  });
  assert.equal(e.close(b), 0);
  assert.equal((e.status(DOMID_SELF, a) as { status: number }).status, EVTCHNSTAT.unbound);
  assert.equal(e.bindInterdomain(DOMID_SELF, 99), -XEN_ERRNO.EINVAL);
  assert.equal(e.bindInterdomain(5, a), -XEN_ERRNO.ESRCH);
});

Deno.test("interdomain channel to a second domain", () => {
  const one = fakeDomain({ domid: 1 });
  const two = fakeDomain({ domid: 2 });
  one.domain.peers.set(2, two.domain);
  two.domain.peers.set(1, one.domain);
  const offered = two.domain.evtchn.allocUnbound(DOMID_SELF, 1);
  assert.equal(one.domain.evtchn.allocUnbound(2, 1), -XEN_ERRNO.EPERM);
  const local = one.domain.evtchn.bindInterdomain(2, offered);
  assert.equal(local, 1);
  one.domain.mem.clearBit(SI + 0x800, local);
  one.domain.evtchn.send(local);
  assert.equal(two.domain.evtchn.isPending(offered), true);
  two.domain.evtchn.close(offered);
  assert.equal(
    (one.domain.evtchn.status(DOMID_SELF, local) as { status: number }).status,
    EVTCHNSTAT.unbound,
  );
});

Deno.test("XEN-37: status reveals the real domid; bad port -EINVAL, free port closed", () => {
  const { domain } = fakeDomain({ domid: 7 });
  const e = domain.evtchn;
  const p = e.allocUnbound(DOMID_SELF, DOMID_SELF);
  assert.equal((e.status(DOMID_SELF, p) as { dom: number }).dom, 7);
  assert.equal((e.status(DOMID_SELF, 0) as { status: number }).status, EVTCHNSTAT.closed);
  assert.equal((e.status(DOMID_SELF, 40) as { status: number }).status, EVTCHNSTAT.closed);
  assert.equal(e.status(DOMID_SELF, 64), -XEN_ERRNO.EINVAL); // beyond the first bucket
  assert.equal(e.status(DOMID_SELF, 5000), -XEN_ERRNO.EINVAL);
  assert.equal(e.status(3, 1), -XEN_ERRNO.ESRCH);
});

Deno.test("XEN-31: 2L port limits per layout, then -ENOSPC", () => {
  for (const [width, last] of [[64, 4095], [32, 1023]] as const) {
    const { domain } = fakeDomain({ width, maxEvtchnPort: 1 << 20 });
    let p = 0, n = 0;
    for (let i = 0; i < 4100; i++) {
      const r = domain.evtchn.allocUnbound(DOMID_SELF, DOMID_SELF);
      if (r < 0) {
        assert.equal(r, -XEN_ERRNO.ENOSPC);
        break;
      }
      p = r;
      n++;
    }
    assert.equal(p, last);
    assert.equal(n, last);
  }
  const { domain } = fakeDomain(); // xl default cap: 1023
  for (let i = 0; i < 1023; i++) domain.evtchn.bindIpi(0);
  assert.equal(domain.evtchn.bindIpi(0), -XEN_ERRNO.ENOSPC);
});

Deno.test("bind_virq, bind_ipi, bind_pirq, close and send error codes", () => {
  const { domain } = fakeDomain({ vcpus: 2 });
  const e = domain.evtchn;
  assert.equal(e.bindVirq(24, 0), -XEN_ERRNO.EINVAL);
  assert.equal(e.bindVirq(VIRQ.console, 1), -XEN_ERRNO.EINVAL);
  assert.equal(e.bindVirq(VIRQ.timer, 2), -XEN_ERRNO.ENOENT);
  const t = e.bindVirq(VIRQ.timer, 1);
  assert.equal(t, 1);
  assert.equal(e.bindVirq(VIRQ.timer, 1), -XEN_ERRNO.EEXIST);
  assert.equal(e.bindIpi(2), -XEN_ERRNO.ENOENT);
  const q = e.bindPirq(5);
  assert.equal(e.bindPirq(5), -XEN_ERRNO.EEXIST);
  assert.equal(e.bindPirq(256), -XEN_ERRNO.EINVAL);
  assert.equal(e.send(t), -XEN_ERRNO.EINVAL); // a VIRQ port cannot be sent
  assert.equal(e.send(q), -XEN_ERRNO.EINVAL);
  assert.equal(e.send(0), -XEN_ERRNO.EINVAL);
  assert.equal(e.close(0), -XEN_ERRNO.EINVAL);
  assert.equal(e.close(30), -XEN_ERRNO.EINVAL);
  e.raisePirq(5);
  assert.equal(e.isPending(q), true);
  assert.equal(e.close(q), 0);
  assert.equal(e.isPending(q), false); // close clears P
  assert.equal(e.close(t), 0);
  assert.equal(e.virqPort(1, VIRQ.timer), 0);
  const u = e.allocUnbound(DOMID_SELF, DOMID_SELF);
  assert.equal(e.send(u), 0); // dropped silently
  assert.equal(e.isPending(u), false);
  assert.equal(e.reset(DOMID_SELF), 0);
  assert.equal(e.used, 0);
});

Deno.test("kvm-xen (QEMU) answers -EBUSY for a PIRQ bound twice", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen" });
  domain.evtchn.bindPirq(3);
  assert.equal(domain.evtchn.bindPirq(3), -XEN_ERRNO.EBUSY);
});

Deno.test("XEN-39: bind_vcpu moves future events only (Xen); QEMU re-raises", () => {
  for (const flavour of ["xen", "kvm-xen"] as const) {
    const { domain } = fakeDomain({ flavour, vcpus: 2 });
    const e = domain.evtchn;
    const p = e.allocUnbound(DOMID_SELF, DOMID_SELF);
    const peer = e.bindInterdomain(DOMID_SELF, p);
    e.send(peer); // raises p on vCPU 0
    assert.equal(domain.upcallPending(0), true);
    assert.equal(e.bindVcpu(p, 1), 0);
    assert.equal(domain.upcallPending(1), flavour === "kvm-xen");
    domain.mem.clearBit(SI + 0x800, p);
    e.send(peer);
    assert.equal(domain.upcallPending(1), true);
  }
  const { domain } = fakeDomain({ vcpus: 2 });
  const ipi = domain.evtchn.bindIpi(0);
  assert.equal(domain.evtchn.bindVcpu(ipi, 1), -XEN_ERRNO.EINVAL);
  assert.equal(domain.evtchn.bindVcpu(ipi, 5), -XEN_ERRNO.ENOENT);
  const t = domain.evtchn.bindVirq(VIRQ.timer, 0);
  assert.equal(domain.evtchn.bindVcpu(t, 1), -XEN_ERRNO.EINVAL);
});

Deno.test("kvm-xen raise: masked is -ENOTCONN, every new selector bit re-asserts", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen" });
  domain.callback.setUpcallVector(0, 0xf3);
  assert.deepEqual(host.irr[0], []); // the KVM attribute injects nothing
  domain.mem.setBit(SI + 0xa00, 15);
  assert.equal(domain.evtchn.raiseOn(15, 0), -XEN_ERRNO.ENOTCONN);
  assert.equal(domain.evtchn.raiseOn(3, 0), 1);
  assert.deepEqual(host.irr[0], [0xf3]);
  host.irr[0].length = 0;
  assert.equal(domain.evtchn.raiseOn(3, 0), 0); // already pending
  assert.equal(domain.evtchn.raiseOn(70, 0), 1); // new selector bit while UP=1
  assert.deepEqual(host.irr[0], [0xf3]);
});

Deno.test("get_free_port: after closes, the lowest free port is handed out again", () => {
  const { domain } = fakeDomain();
  bindTo(domain, 8);
  assert.equal(domain.evtchn.close(6), 0);
  assert.equal(domain.evtchn.close(3), 0);
  assert.equal(domain.evtchn.bindIpi(0), 3);
  assert.equal(domain.evtchn.bindIpi(0), 6);
  assert.equal(domain.evtchn.bindIpi(0), 9);
  assert.equal(domain.evtchn.reset(DOMID_SELF), 0);
  assert.equal(domain.evtchn.bindIpi(0), 1);
});
