import assert from "node:assert/strict";
import { findByVpIndex, HvVcpu, KVM_MAX_VCPUS } from "./hyperv_vcpu.ts";
import type { HvSynic } from "./hyperv_synic.ts";
import type { HvPartition } from "./hyperv_hypercall.ts";

/** Bare vCPUs: findByVpIndex and setVpIndex read nothing else. */
function vcpus(n: number): HvVcpu[] {
  return Array.from(
    { length: n },
    (_, i) => new HvVcpu(i, {} as HvSynic, [], {} as HvPartition),
  );
}

Deno.test("HvVcpu.setVpIndex: the VMM sets any index below KVM_MAX_VCPUS", () => {
  const [v] = vcpus(1);
  assert.equal(v.setVpIndex(BigInt(KVM_MAX_VCPUS)), false);
  assert.equal(v.vpIndex, 0);
  assert.equal(v.setVpIndex(BigInt(KVM_MAX_VCPUS - 1)), true);
  assert.equal(v.vpIndex, KVM_MAX_VCPUS - 1);
});

Deno.test("findByVpIndex: the vCPU of that index if its VP index matches, else the first", () => {
  const vs = vcpus(3);
  assert.equal(findByVpIndex(vs, 1), vs[1]);
  vs[0].setVpIndex(65n);
  assert.equal(findByVpIndex(vs, 65), vs[0]);
  assert.equal(findByVpIndex(vs, 0), undefined, "nobody has VP index 0 now");
  vs[2].setVpIndex(1n);
  assert.equal(findByVpIndex(vs, 1), vs[1], "two have VP index 1: vCPU 1 is asked first");
  vs[1].setVpIndex(9n);
  assert.equal(findByVpIndex(vs, 1), vs[2]);
  assert.equal(findByVpIndex(vs, KVM_MAX_VCPUS), undefined);
});
