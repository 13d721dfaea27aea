import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { decodeCallbackVia, encodeCallbackVia, pciIntxGsi } from "./callback.ts";
import { XEN_ERRNO } from "./errno.ts";

Deno.test("XEN-23: HVM_PARAM_CALLBACK_IRQ encodings", () => {
  assert.deepEqual(decodeCallbackVia(0n), { type: "none" });
  assert.deepEqual(decodeCallbackVia(28n), { type: "gsi", gsi: 28 });
  assert.deepEqual(decodeCallbackVia((1n << 56n) | (0xffn << 32n) | (3n << 11n) | 1n), {
    type: "pci_intx",
    device: 3,
    pin: 1,
    gsi: pciIntxGsi(3, 1),
  });
  assert.deepEqual(decodeCallbackVia((2n << 56n) | 0xf3n), { type: "vector", vector: 0xf3 });
  assert.deepEqual(decodeCallbackVia((3n << 56n) | 5n), { type: "none" });
  assert.equal(encodeCallbackVia({ type: "vector", vector: 0xf3 }), (2n << 56n) | 0xf3n);
  const { domain } = fakeDomain();
  assert.equal(domain.setParam(0, 0, (3n << 56n) | 5n), 0);
  assert.equal(domain.callback.via.type, "none");
});

Deno.test("XEN-15: the global vector is offered while UP=1, with no IRR", () => {
  const { domain, host } = fakeDomain();
  domain.setParam(0, 0, (2n << 56n) | 0xf3n);
  const p = domain.evtchn.bindIpi(0);
  assert.equal(domain.globalVector(0), -1);
  domain.evtchn.send(p);
  assert.equal(domain.globalVector(0), 0xf3);
  assert.deepEqual(host.irr[0], []);
  domain.mem.write(0x10000, 8, 0); // the handler clears UP
  assert.equal(domain.globalVector(0), -1);
});

Deno.test("XEN-17/19: per-vCPU vector sets IRR on registration and on UP 0->1", () => {
  const { domain, host } = fakeDomain({ vcpus: 2 });
  assert.equal(domain.callback.setUpcallVector(1, 0x0f), -XEN_ERRNO.EINVAL);
  assert.equal(domain.callback.setUpcallVector(2, 0xf2), -XEN_ERRNO.ENOENT);
  assert.equal(domain.callback.setUpcallVector(1, 0xf2), 0);
  assert.deepEqual(host.irr[1], [0xf2]); // spurious by design (a)
  host.irr[1].length = 0;
  const p = domain.evtchn.bindIpi(1);
  domain.evtchn.send(p);
  assert.deepEqual(host.irr[1], [0xf2]);
  assert.deepEqual(host.irr[0], []);
});

Deno.test("XEN-19b: a disabled vLAPIC defers the vector to the SVR enable", () => {
  const { domain, host } = fakeDomain({ vcpus: 2 });
  host.enabled[1] = false;
  domain.callback.setUpcallVector(1, 0xf2);
  const p = domain.evtchn.bindIpi(1);
  domain.evtchn.send(p);
  assert.deepEqual(host.irr[1], []);
  host.enabled[1] = true;
  domain.callback.lapicEnabled(1);
  assert.deepEqual(host.irr[1], [0xf2]);
});

Deno.test("XEN-21: the GSI line follows vCPU 0's UP and drops at a VM exit", () => {
  const { domain, host } = fakeDomain({ vcpus: 2 });
  domain.setParam(0, 0, 20n);
  const p = domain.evtchn.bindIpi(0);
  const q = domain.evtchn.bindIpi(1);
  domain.evtchn.send(q);
  assert.equal(host.gsi.get(20), undefined); // vCPU 1: silent
  domain.evtchn.send(p);
  assert.equal(host.gsi.get(20), 1);
  domain.mem.write(0x10000, 8, 0);
  assert.equal(host.gsi.get(20), 1);
  domain.vmExit();
  assert.equal(host.gsi.get(20), 0);
});

Deno.test("precedence: a per-vCPU vector wins over the global vector", () => {
  const { domain, host } = fakeDomain();
  domain.setParam(0, 0, (2n << 56n) | 0xf3n);
  domain.callback.setUpcallVector(0, 0xf2);
  host.irr[0].length = 0;
  domain.evtchn.send(domain.evtchn.bindIpi(0));
  assert.deepEqual(host.irr[0], [0xf2]);
  // The global vector is still offered while UP=1 (both are live in Xen).
  assert.equal(domain.globalVector(0), 0xf3);
});

Deno.test("kvm-xen: a global vector of 1..15 is -EINVAL", () => {
  const { domain } = fakeDomain({ flavour: "kvm-xen" });
  assert.equal(domain.setParam(0, 0, (2n << 56n) | 5n), -XEN_ERRNO.EINVAL);
});

Deno.test("PVH ignores a GSI, INTx or none callback (and answers 0); PV refuses the HVMOPs", () => {
  // With vCPU 0's UP set, an HVM domain's GSI callback drives the line at once.
  const withUp = (type: "hvm" | "pvh") => {
    const f = fakeDomain({ type });
    f.domain.evtchn.send(f.domain.evtchn.bindIpi(0));
    return f;
  };
  const hvm = withUp("hvm");
  assert.equal(hvm.domain.callback.setParam(20n), 0);
  assert.equal(hvm.host.gsi.get(20), 1);
  const { domain: pvhDomain, host } = withUp("pvh");
  const pvh = pvhDomain.callback;
  assert.equal(pvh.setParam((2n << 56n) | 0xf3n), 0);
  assert.equal(pvh.setParam(20n), 0); // GSI 20: ignored
  assert.equal(pvh.setParam((1n << 56n) | (3n << 11n)), 0); // PCI INTx: ignored
  assert.equal(pvh.setParam(0n), 0); // none: ignored too
  assert.deepEqual(pvh.via, { type: "vector", vector: 0xf3 });
  assert.equal(host.gsi.size, 0); // no line was driven
  const pv = fakeDomain({ type: "pv" }).domain.callback;
  assert.equal(pv.setParam((2n << 56n) | 0xf3n), -XEN_ERRNO.EINVAL);
  assert.equal(pv.setUpcallVector(0, 0xf3), -XEN_ERRNO.EINVAL);
  assert.deepEqual(pv.via, { type: "none" });
});

Deno.test("a callback GSI keeps 8 bits; GSI 0 or one of 48 and up leaves no callback", () => {
  const { domain } = fakeDomain();
  const via = () => domain.callback.via as { type: string; gsi?: number };
  assert.equal(domain.setParam(0, 0, 0x11cn), 0);
  assert.deepEqual(via(), { type: "gsi", gsi: 28 });
  assert.equal(domain.setParam(0, 0, 48n), 0);
  assert.equal(via().type, "none");
  assert.equal(domain.setParam(0, 0, 0x100n), 0);
  assert.equal(via().type, "none");
  assert.equal(domain.setParam(0, 0, 47n), 0);
  assert.deepEqual(via(), { type: "gsi", gsi: 47 });
});
