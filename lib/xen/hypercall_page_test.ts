import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import {
  HYPERCALL_STUB_SIZE,
  HYPERVISOR_IRET,
  stubInput,
  writeHypercallPage,
} from "./hypercall_page.ts";
import { fakeDomain } from "./testing.ts";
import { KVM_XEN_HVM_CONFIG, KvmXen } from "./kvm_xen.ts";

// The vendors' instructions as the SDM and APM spell them; lib/x86/kvm_quirks.ts holds the model's.
const VMCALL = [0x0f, 0x01, 0xc1];
const VMMCALL = [0x0f, 0x01, 0xd9];
const PAGE = 0x3000;

const stubBytes = (mem: GuestMemory, nr: number) =>
  Array.from({ length: 9 }, (_, k) => mem.byte(PAGE + nr * HYPERCALL_STUB_SIZE + k));

Deno.test("hypercall page: both flavours write the instruction they are given (VMMCALL: an AMD host)", () => {
  for (const flavour of ["xen", "kvm-xen"] as const) {
    const mem = new GuestMemory(0x10000);
    assert.equal(writeHypercallPage(mem, flavour, BigInt(PAGE), VMMCALL), null);
    // mov $17, %eax; vmmcall; ret
    assert.deepEqual(stubBytes(mem, 17), [0xb8, 17, 0, 0, 0, 0x0f, 0x01, 0xd9, 0xc3]);
    assert.deepEqual(stubBytes(mem, 127).slice(5, 8), VMMCALL);
  }
});

Deno.test("hypercall page: Xen's stub 23 stays UD2 whatever the vendor", () => {
  const mem = new GuestMemory(0x10000);
  writeHypercallPage(mem, "xen", BigInt(PAGE), VMMCALL);
  assert.deepEqual(stubBytes(mem, HYPERVISOR_IRET).slice(0, 3), [0x0f, 0x0b, 0xcc]);
});

Deno.test("hypercall page: a call through a stub holding the host's instruction loads its imm32", () => {
  const mem = new GuestMemory(0x10000);
  writeHypercallPage(mem, "kvm-xen", BigInt(PAGE), VMMCALL);
  assert.equal(stubInput(mem, PAGE, 17, VMMCALL), 17n);
  assert.equal(stubInput(mem, PAGE, HYPERVISOR_IRET, VMMCALL), 23n);
});

Deno.test("hypercall page: a stub with the other vendor's instruction, Xen's UD2 or nothing is no hypercall", () => {
  const mem = new GuestMemory(0x10000);
  writeHypercallPage(mem, "xen", BigInt(PAGE), VMCALL);
  assert.match(stubInput(mem, PAGE, 17, VMMCALL) as string, /0f 01 d9/);
  assert.equal(typeof stubInput(mem, PAGE, HYPERVISOR_IRET, VMCALL), "string");
  assert.equal(typeof stubInput(mem, 0x8000, 1, VMCALL), "string"); // never written
  assert.equal(typeof stubInput(mem, PAGE, 128, VMCALL), "string"); // past the page's stubs
});

Deno.test("kvm-xen: the MSR write and a call through the page use the host's instruction", () => {
  const { domain, host } = fakeDomain({ flavour: "kvm-xen", vcpus: 1 });
  host.insn = VMMCALL;
  const kvm = new KvmXen(domain);
  assert.equal(
    kvm.hvmConfig({ ...kvm.config, flags: KVM_XEN_HVM_CONFIG.INTERCEPT_HCALL, msr: 0x40000000 }),
    0,
  );
  assert.equal(kvm.writeHypercallMsr(0, 0x40000000, BigInt(PAGE)), null);
  assert.deepEqual(stubBytes(domain.mem, 5).slice(5, 8), VMMCALL);
  assert.equal(kvm.pageCall(PAGE, 5), 5n);
  host.insn = VMCALL; // the page was written for AMD: an Intel host's call through it is refused
  assert.equal(typeof kvm.pageCall(PAGE, 5), "string");
});
