import assert from "node:assert/strict";
import { VgicAddrType, VgicDevice, VgicErrno } from "./vgic_device.ts";

const T = VgicAddrType, E = VgicErrno;

Deno.test("VgicDevice.setAddr() checks alignment, the IPA space and a second set, in KVM's order", () => {
  const d = new VgicDevice(3, 4);
  assert.equal(d.setAddr(T.V3_DIST, 0x1000n), -E.EINVAL);
  assert.equal(d.setAddr(T.V3_DIST, 1n << 40n), -E.E2BIG);
  assert.equal(d.setAddr(T.V3_DIST, 0x80_0000n), 0);
  assert.equal(d.setAddr(T.V3_DIST, 0x90_0000n), -E.EEXIST);
  assert.equal(d.setAddr(T.V2_CPU, 0n), -E.ENXIO);
  assert.equal(d.getAddr(T.V3_REDIST), (1n << 64n) - 1n);
});

Deno.test("VgicDevice: a region that would take a vCPU and overlaps the distributor is refused and freed", () => {
  const d = new VgicDevice(3, 2);
  assert.equal(d.setAddr(T.V3_DIST, 0x20_0000n), 0);
  const region = (count: number, base: bigint, index: number) =>
    (BigInt(count) << 52n) | base | BigInt(index);
  assert.equal(d.setAddr(T.V3_REDIST_REGION, region(2, 0x1f_0000n, 0)), -E.EINVAL);
  assert.equal(d.regions.length, 0);
  assert.equal(d.setAddr(T.V3_REDIST_REGION, region(2, 0x30_0000n, 0)), 0);
  assert.equal(d.run(false), -E.EBUSY);
  assert.equal(d.run(true), 0);
  assert.equal(d.ready, true);
});

Deno.test("VgicDevice.run() on a GICv2 needs both frames and no overlap", () => {
  const d = new VgicDevice(2, 1);
  assert.equal(d.setAddr(T.V2_DIST, 0x1000n), 0);
  assert.equal(d.run(false), -E.ENXIO);
  assert.equal(d.setAddr(T.V2_CPU, 0n), 0);
  assert.equal(d.run(false), -E.EINVAL);
});

Deno.test("VgicDevice.create() answers as kvm_vgic_create: -EEXIST, then -ENODEV, -EBUSY, -E2BIG in that order", () => {
  const made = new VgicDevice(3, 2);
  assert.equal(made.create(), -E.EEXIST);
  const v2 = new VgicDevice(2, 9);
  v2.created = false;
  v2.canEmulateV2 = false;
  v2.vcpuRan = true;
  assert.equal(v2.create(), -E.ENODEV);
  v2.canEmulateV2 = true;
  assert.equal(v2.create(), -E.EBUSY);
  v2.vcpuRan = false;
  assert.equal(v2.create(), -E.E2BIG);
  const v3 = new VgicDevice(3, 9);
  v3.created = false;
  assert.equal(v3.run(false), 0); // no irqchip: the vCPU runs
  assert.equal(v3.vcpuRan, true);
  assert.equal(v3.create(), -E.EBUSY);
});

/** KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION's value: count, base, index. */
function region(count: number, base: bigint, index: number): bigint {
  return (BigInt(count) << 52n) | base | BigInt(index);
}

Deno.test("VgicDevice.redistPlacement() is undefined until a counted region exists", () => {
  const dev = new VgicDevice(3, 2);
  assert.equal(dev.redistPlacement(), undefined);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST, 0x20_0000n), 0);
  assert.equal(dev.redistPlacement(), undefined); // the legacy region
});

Deno.test("VgicDevice.redistPlacement(): Last for the last slot of each region unless a used region follows it (vgic_init.c test_v3_last_bit_redist_regions)", () => {
  const dev = new VgicDevice(3, 6);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(2, 0x10_0000n, 0)), 0);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(2, 0x24_0000n, 1)), 0);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(2, 0x20_0000n, 2)), 0);
  assert.deepEqual(dev.redistPlacement(), [
    { slot: 0, last: false },
    { slot: 1, last: true },
    { slot: 0, last: false },
    { slot: 1, last: true },
    { slot: 0, last: false },
    { slot: 1, last: false }, // region 1 starts at its end and is used
  ]);
});

Deno.test("VgicDevice.redistPlacement(): a region not full is Last at its highest used slot; vCPUs with no slot are not Last", () => {
  const dev = new VgicDevice(3, 4);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(1, 0x20_0000n, 0)), 0);
  assert.deepEqual(dev.redistPlacement()?.map((p) => p.last), [true, false, false, false]);
  assert.deepEqual(dev.redistPlacement()?.map((p) => p.slot), [0, -1, -1, -1]);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(10, 0x40_0000n, 1)), 0);
  assert.deepEqual(dev.redistPlacement()?.map((p) => p.last), [true, false, false, true]);
});

Deno.test("VgicDevice.redistPlacement(): an unused region right after a full one does not clear Last", () => {
  const dev = new VgicDevice(3, 2);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(2, 0x20_0000n, 0)), 0);
  assert.equal(dev.setAddr(VgicAddrType.V3_REDIST_REGION, region(1, 0x24_0000n, 1)), 0);
  assert.deepEqual(dev.redistPlacement()?.map((p) => p.last), [false, true]);
});
