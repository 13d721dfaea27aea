import assert from "node:assert/strict";
import { checkText } from "../api/scenario.ts";
import { parallelBlocks } from "./explore_schedule.ts";
import { blockIndependence, stepFootprint } from "./explore_footprint.ts";

function block(vm: string, steps: string) {
  const p = checkText(`scenario "t"\nvm g { ${vm} }\nparallel {\n${steps}\n}\n`, "t.scn");
  const b = parallelBlocks(p)[0];
  return { p, b };
}

Deno.test("stepFootprint() reads an instruction's own-flags footprint from the table", () => {
  const { p, b } = block("arch x86_64  vcpus 2", "vcpu0: sti\nvcpu1: cli");
  assert.deepEqual([...stepFootprint(b.body[0], p)!], ["0:cpu:0"]);
  assert.deepEqual([...stepFootprint(b.body[1], p)!], ["0:cpu:1"]);
  assert.equal(blockIndependence(b, p).independent[0][1], true);
});

Deno.test("stepFootprint() gives a KVM line write the plumbing, apart from vCPU flags", () => {
  const { p, b } = block(
    "arch x86_64  vcpus 1",
    "device nic: assert gsi=4\nvcpu0: sti\nvmm: kvm signal_msi address=0xfee00000 data=0x41",
  );
  assert.deepEqual([...stepFootprint(b.body[0], p)!], ["0:plumbing"]);
  const ind = blockIndependence(b, p).independent;
  assert.equal(ind[0][1], true, "a line write commutes with STI");
  assert.equal(ind[0][2], false, "two plumbing writes do not commute");
});

Deno.test("stepFootprint() takes a KVM line write as touching everything under Xen", () => {
  const { p, b } = block("arch x86_64  hypervisor kvm-xen  vcpus 1", "device nic: assert gsi=4");
  assert.equal(stepFootprint(b.body[0], p), null);
});

Deno.test("stepFootprint() does not give a trapping instruction's footprint to its VM exit", () => {
  // HLT exits to KVM: its table entry declares nothing, so it touches everything.
  const { p, b } = block("arch x86_64  vcpus 1", "vcpu0: hlt");
  assert.equal(stepFootprint(b.body[0], p), null);
});

Deno.test("stepFootprint() reads Arm's DAIF and line footprints from the table", () => {
  const { p, b } = block(
    "arch arm64  vcpus 1",
    "vcpu0: unmask irqs\ndevice uart: assert spi=40",
  );
  assert.deepEqual([...stepFootprint(b.body[0], p)!], ["0:cpu:0"]);
  assert.deepEqual([...stepFootprint(b.body[1], p)!], ["0:plumbing"]);
  assert.equal(blockIndependence(b, p).independent[0][1], true);
});
