import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { VIRQ } from "./evtchn.ts";
import { XEN_ERRNO } from "./errno.ts";

const MS = 1_000_000;

Deno.test("XEN-41: set_timer_op deadlines", () => {
  const { domain, host } = fakeDomain();
  const t = domain.evtchn.bindVirq(VIRQ.timer, 0);
  const timers = domain.timers;
  timers.setTimerOp(0, host.now() + MS);
  host.advance(MS - 1);
  assert.equal(domain.evtchn.isPending(t), false);
  host.advance(MS);
  assert.equal(domain.evtchn.isPending(t), true);
  domain.mem.clearBit(0x10800, t);

  timers.setTimerOp(0, host.now() + MS);
  timers.setTimerOp(0, 0); // cancels
  host.advance(10 * MS);
  assert.equal(domain.evtchn.isPending(t), false);

  timers.setTimerOp(0, host.now() - 1); // past: at once
  host.advance(host.now());
  assert.equal(domain.evtchn.isPending(t), true);
  domain.mem.clearBit(0x10800, t);

  const start = host.now();
  timers.setTimerOp(0, BigInt(start) + (1n << 51n)); // too far: 100 ms
  host.advance(start + 100 * MS - 1);
  assert.equal(domain.evtchn.isPending(t), false);
  host.advance(start + 100 * MS);
  assert.equal(domain.evtchn.isPending(t), true);
  domain.mem.clearBit(0x10800, t);

  timers.setTimerOp(0, -5n); // negative: 100 ms too
  host.advance(host.now() + 100 * MS);
  assert.equal(domain.evtchn.isPending(t), true);
});

Deno.test("VCPUOP timers: only the calling vCPU; periodic needs >= 1 ms", () => {
  const { domain, host } = fakeDomain({ vcpus: 2 });
  const t = domain.evtchn.bindVirq(VIRQ.timer, 1);
  const timers = domain.timers;
  assert.equal(timers.setSingleshot(0, 1, MS), -XEN_ERRNO.EINVAL);
  assert.equal(timers.setPeriodic(1, 1, MS - 1), -XEN_ERRNO.EINVAL);
  assert.equal(timers.setPeriodic(1, 1, 2 * MS), 0);
  host.advance(2 * MS);
  assert.equal(domain.evtchn.isPending(t), true);
  domain.mem.clearBit(0x10800, t);
  host.advance(4 * MS);
  assert.equal(domain.evtchn.isPending(t), true);
  assert.equal(timers.stopPeriodic(1, 1), 0);
  domain.mem.clearBit(0x10800, t);
  host.advance(20 * MS);
  assert.equal(domain.evtchn.isPending(t), false);
  assert.equal(timers.setSingleshot(1, 1, 25 * MS), 0);
  host.advance(25 * MS);
  assert.equal(domain.evtchn.isPending(t), true);
});

Deno.test("XEN-43: poll on an already pending port returns at once", () => {
  const { domain, host } = fakeDomain();
  const p = domain.evtchn.bindIpi(0);
  domain.mem.setBit(0x10a00, p);
  domain.evtchn.send(p);
  assert.equal(domain.timers.poll(0, [p], 0), 0);
  assert.equal(host.blocked[0], false);
  assert.equal(domain.upcallPending(0), false);
});

Deno.test("XEN-45: poll timeout (absolute in Xen, relative in KVM) and errors", () => {
  for (const flavour of ["xen", "kvm-xen"] as const) {
    const { domain, host } = fakeDomain({ flavour });
    host.advance(5 * MS);
    const p = domain.evtchn.bindIpi(0);
    assert.equal(domain.timers.poll(0, [p], 8 * MS), 0);
    assert.equal(host.blocked[0], true);
    host.advance(8 * MS);
    assert.equal(host.blocked[0], flavour === "kvm-xen"); // KVM waits 5+8 ms
    host.advance(13 * MS);
    assert.equal(host.blocked[0], false);
    assert.equal(domain.timers.vcpus[0].wokeBy, "timeout");
    assert.equal(domain.timers.poll(0, new Array(129).fill(p), 0), -XEN_ERRNO.EINVAL);
    assert.equal(domain.timers.poll(0, [5000], 0), -XEN_ERRNO.EINVAL);
    // Port 0: reserved, so not usable in Xen (evtchn_port_poll); KVM only range-checks it.
    assert.equal(domain.timers.poll(0, [0], 0), flavour === "xen" ? -XEN_ERRNO.EINVAL : 0);
  }
  const { domain } = fakeDomain();
  assert.equal(domain.timers.poll(0, [64], 0), -XEN_ERRNO.EINVAL); // no bucket yet in Xen
  assert.equal(domain.timers.poll(0, [10], 0), -XEN_ERRNO.EINVAL); // valid but free
});

Deno.test("XEN-47: a masked raise wakes a poller on another vCPU only in Xen", () => {
  for (const flavour of ["xen", "kvm-xen"] as const) {
    const { domain, host } = fakeDomain({ flavour, vcpus: 2 });
    const p = domain.evtchn.bindIpi(1);
    domain.mem.setBit(0x10a00, p);
    domain.timers.poll(0, [p], 0);
    domain.evtchn.send(p);
    assert.equal(host.blocked[0], flavour === "kvm-xen");
  }
});

Deno.test("SCHEDOP_block returns at once when an upcall is deliverable, else waits for a kick", () => {
  const { domain, host } = fakeDomain();
  host.interruptible[0] = true;
  assert.equal(domain.timers.block(0), 0);
  assert.equal(host.blocked[0], false);
  host.interruptible[0] = false;
  domain.timers.block(0);
  assert.equal(host.blocked[0], true);
  domain.setParam(0, 0, (2n << 56n) | 0xf3n);
  domain.evtchn.send(domain.evtchn.bindIpi(0));
  assert.equal(host.blocked[0], false);
  assert.equal(domain.timers.vcpus[0].wokeBy, "kick");
});

Deno.test("VCPUOP periodic timer: any vCPU of the domain; due at once when a period has passed since the last tick", () => {
  const { domain, host } = fakeDomain({ vcpus: 2 });
  const t = domain.evtchn.bindVirq(VIRQ.timer, 1);
  const timers = domain.timers;
  host.advance(10 * MS);
  assert.equal(timers.setPeriodic(0, 1, 2 * MS), 0);
  assert.equal(domain.evtchn.isPending(t), true, "0 + 2 ms is already past");
  domain.mem.clearBit(0x10800, t);
  host.advance(12 * MS - 1);
  assert.equal(domain.evtchn.isPending(t), false);
  host.advance(12 * MS);
  assert.equal(domain.evtchn.isPending(t), true, "then every 2 ms from that tick");
  assert.equal(timers.stopPeriodic(0, 1), 0);
  domain.mem.clearBit(0x10800, t);
  host.advance(30 * MS);
  assert.equal(domain.evtchn.isPending(t), false);
});
