import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { FIFO } from "./fifo.ts";
import { XEN_ERRNO } from "./errno.ts";

const CB = 0x20; // control block frame: GPA 0x20000
const ARRAY = 0x21; // first event-array page: GPA 0x21000
const bit = (w: number, b: number) => (w >>> b) & 1;

/** A domain switched to FIFO (vCPU 0's control block at CB) with one event-array page. */
function fifoDomain(opts?: Parameters<typeof fakeDomain>[0]) {
  const { domain } = fakeDomain(opts);
  const e = domain.evtchn;
  e.initControl(CB, 0, 0);
  e.expandArray(ARRAY);
  return { domain, e };
}

Deno.test("XEN-49: EVTCHNOP_init_control checks, and FIFO stays off after a failure", () => {
  const { domain } = fakeDomain({ vcpus: 2 });
  const e = domain.evtchn;
  assert.equal(e.initControl(0x10_0000, 0, 0), -XEN_ERRNO.EINVAL, "a frame outside memory");
  assert.equal(e.fifo.active, false);
  assert.equal(e.expandArray(ARRAY), -XEN_ERRNO.EOPNOTSUPP);
  assert.equal(e.initControl(CB, 4030, 0), -XEN_ERRNO.EINVAL, "past 4096 - 72");
  assert.equal(e.initControl(CB, 12, 0), -XEN_ERRNO.EINVAL, "not 8-byte aligned");
  assert.equal(e.initControl(CB, 0, 99), -XEN_ERRNO.ENOENT);
  assert.equal(e.initControl(CB, 4024, 0), FIFO.LINK_BITS, "the last offset that fits");
  assert.equal(e.fifo.active, true);
  assert.equal(e.initControl(CB, 0, 0), -XEN_ERRNO.EINVAL, "twice for one vCPU");
  assert.equal(e.initControl(CB, 0x100, 1), FIFO.LINK_BITS);
  assert.equal(e.maxPorts, FIFO.NR_CHANNELS);
  assert.equal(e.setPriority(e.bindIpi(0), 16), -XEN_ERRNO.EINVAL);
  assert.equal(e.setPriority(0, 3), -XEN_ERRNO.EACCES, "the reserved port is not usable");
  assert.equal(fakeDomain({ flavour: "kvm-xen" }).domain.evtchn.initControl(CB, 0, 0), -38);
});

Deno.test("FIFO raise: PENDING and LINKED, HEAD, READY, one upcall; the next links to the tail", () => {
  const { domain, host } = fakeDomain();
  const e = domain.evtchn;
  domain.callback.setUpcallVector(0, 0xf3);
  host.irr[0].length = 0;
  domain.mem.write(0x10000, 8, 0);
  assert.equal(e.initControl(CB, 0, 0), 17);
  assert.equal(e.expandArray(ARRAY), 0);
  const a = e.bindIpi(0), b = e.bindIpi(0);
  e.send(a);
  let w = e.fifo.word(a);
  assert.deepEqual([bit(w, FIFO.PENDING), bit(w, FIFO.LINKED), w & FIFO.LINK_MASK], [1, 1, 0]);
  assert.equal(e.fifo.head(0, FIFO.PRIORITY_DEFAULT), a);
  assert.equal(e.fifo.ready(0), 1 << FIFO.PRIORITY_DEFAULT);
  assert.equal(domain.upcallPending(0), true);
  assert.deepEqual(host.irr[0], [0xf3]);
  e.send(b);
  w = e.fifo.word(a);
  assert.equal(w & FIFO.LINK_MASK, b, "appended through the tail's LINK");
  assert.equal(e.fifo.head(0, FIFO.PRIORITY_DEFAULT), a);
  // Another priority gets its own queue and READY bit.
  const c = e.bindIpi(0);
  assert.equal(e.setPriority(c, 2), 0);
  e.send(c);
  assert.equal(e.fifo.head(0, 2), c);
  assert.equal(e.fifo.ready(0), (1 << 7) | (1 << 2));
});

Deno.test("XEN-51: a masked event is only PENDING; the guest unmask then the hypercall links it", () => {
  const { domain, e } = fifoDomain();
  let p = 0;
  while (p < 10) p = e.bindIpi(0);
  const word = e.fifo.wordAddr(10);
  domain.mem.setBit(word, FIFO.MASKED);
  e.send(10);
  let w = e.fifo.word(10);
  assert.deepEqual([bit(w, FIFO.PENDING), bit(w, FIFO.LINKED)], [1, 0]);
  assert.equal(e.fifo.ready(0), 0);
  assert.equal(domain.upcallPending(0), false);
  // Linux clear_masked (BUSY is clear), then EVTCHNOP_unmask because PENDING is set.
  domain.mem.clearBit(word, FIFO.MASKED);
  assert.equal(e.unmask(10), 0);
  w = e.fifo.word(10);
  assert.equal(bit(w, FIFO.LINKED), 1);
  assert.equal(e.fifo.head(0, 7), 10);
  assert.equal(e.fifo.ready(0), 1 << 7);
  assert.equal(domain.upcallPending(0), true);
});

Deno.test("XEN-53: an event past the array is kept and linked when its page arrives", () => {
  const { domain } = fakeDomain({ maxEvtchnPort: 4096 });
  const e = domain.evtchn;
  e.initControl(CB, 0, 0);
  assert.equal(e.expandArray(ARRAY), 0);
  let p = 0;
  while (p < 1500) p = e.allocUnbound(0x7ff0, 0x7ff0);
  e.send(1500); // unbound: dropped
  assert.equal(domain.evtchn.raise(1500), 1);
  assert.equal(e.fifo.word(1500), 0, "no page for ports 1024..2047 yet");
  assert.equal(e.fifo.ready(0), 0);
  // Zeroed words are unmasked: the new page links 1500 at once.
  assert.equal(e.expandArray(0x22), 0);
  assert.equal(bit(e.fifo.word(1500), FIFO.LINKED), 1);
  assert.equal(e.fifo.head(0, 7), 1500);
  assert.equal(domain.upcallPending(0), true);
});

Deno.test("XEN-53: switching from 2-level carries pending ports over; reset goes back", () => {
  const { domain } = fakeDomain();
  const e = domain.evtchn;
  const p = e.bindIpi(0);
  e.send(p);
  assert.equal(domain.mem.testBit(0x10800, p), true);
  domain.mem.write(0x10000, 8, 0); // the 2-level upcall was consumed
  assert.equal(e.initControl(CB, 0, 0), 17);
  assert.equal(e.isPending(p), false, "no event array yet");
  e.expandArray(ARRAY);
  assert.equal(e.isPending(p), true);
  assert.equal(e.fifo.head(0, 7), p);
  assert.equal(domain.upcallPending(0), true);
  assert.equal(e.reset(0x7ff0), 0);
  assert.equal(e.fifo.active, false);
  assert.equal(e.maxPorts, 4096);
  assert.equal(e.setPriority(e.bindIpi(0), 1), -XEN_ERRNO.ENOSYS);
});

Deno.test("a consumed head (LINKED cleared) makes the next event a new HEAD", () => {
  const { domain, e } = fifoDomain();
  const a = e.bindIpi(0), b = e.bindIpi(0);
  e.send(a);
  // The guest's consume_one_event: clear LINKED and LINK of the head, drop READY.
  const wa = e.fifo.wordAddr(a);
  domain.mem.write(wa, 32, (1 << FIFO.PENDING) >>> 0);
  domain.mem.write(0x20000, 32, 0);
  e.send(b);
  assert.equal(e.fifo.word(a) & FIFO.LINK_MASK, 0);
  assert.equal(e.fifo.head(0, 7), b);
  assert.equal(e.fifo.ready(0), 1 << 7);
});

Deno.test("an event relinked on another queue is no longer its old queue's tail (fifo_lastq)", () => {
  const { domain, e } = fifoDomain();
  const a = e.bindIpi(0), b = e.bindIpi(0);
  e.send(a);
  // Consumed: READY taken, the word cleared; then a moves to queue 3.
  domain.mem.write(0x20000, 32, 0);
  domain.mem.write(e.fifo.wordAddr(a), 32, 0);
  assert.equal(e.setPriority(a, 3), 0);
  e.send(a);
  assert.equal(e.fifo.head(0, 3), a);
  e.send(b);
  assert.equal(e.fifo.word(a) & FIFO.LINK_MASK, 0, "b is not linked behind a on queue 3");
  assert.equal(e.fifo.head(0, 7), b);
  assert.equal(e.fifo.ready(0), (1 << 7) | (1 << 3));
});

Deno.test("an event for a vCPU without a control block is dropped: no PENDING, no upcall", () => {
  const { domain, e } = fifoDomain({ vcpus: 2 });
  const p = e.bindIpi(1);
  e.send(p);
  assert.equal(e.fifo.word(p), 0);
  assert.equal(domain.upcallPending(1), false);
  assert.equal(e.initControl(0x22, 0, 1), FIFO.LINK_BITS);
  e.send(p);
  assert.equal(bit(e.fifo.word(p), FIFO.PENDING), 1);
  assert.equal(e.fifo.head(1, 7), p);
});

Deno.test("EVTCHNOP_unmask clears MASKED itself, then links a PENDING event", () => {
  const { domain, e } = fifoDomain();
  const p = e.bindIpi(0);
  const wa = e.fifo.wordAddr(p);
  domain.mem.write(wa, 32, (1 << FIFO.MASKED) >>> 0);
  e.send(p);
  assert.equal(bit(e.fifo.word(p), FIFO.LINKED), 0);
  assert.equal(e.unmask(p), 0);
  const w = e.fifo.word(p);
  assert.deepEqual([bit(w, FIFO.MASKED), bit(w, FIFO.PENDING), bit(w, FIFO.LINKED)], [0, 1, 1]);
  assert.equal(e.fifo.head(0, 7), p);
});

Deno.test("a closed port still LINKED is busy: get_free_port skips it until the guest unlinks it", () => {
  const { domain, e } = fifoDomain();
  const p = e.bindIpi(0);
  e.send(p);
  assert.equal(e.close(p), 0);
  assert.equal(e.fifo.isBusy(p), true);
  const q = e.bindIpi(0);
  assert.equal(q, p + 1);
  domain.mem.write(e.fifo.wordAddr(p), 32, 0); // the guest consumed it
  assert.equal(e.fifo.isBusy(p), false);
  assert.equal(e.bindIpi(0), p);
});
