import assert from "node:assert/strict";
import { GuestMemory } from "../core/guest_memory.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import {
  disableQuirks,
  enterHypercall,
  HYPERCALL_INSN,
  hypercallAt,
  KVM_X86_QUIRK,
  nativeHypercall,
} from "./kvm_quirks.ts";

/** RAM with `insn`'s bytes at 0x100. */
function withInsn(insn: readonly number[]): GuestMemory {
  const mem = new GuestMemory(0x1000);
  insn.forEach((b, i) => mem.write(0x100 + i, 8, b));
  return mem;
}

const bytesAt = (mem: GuestMemory) => [0, 1, 2].map((i) => Number(mem.read(0x100 + i, 8)));

Deno.test("the quirk bits are uapi kvm.h's: FIX_HYPERCALL_INSN is bit 5", () => {
  assert.equal(KVM_X86_QUIRK.LINT0_REENABLED, 1);
  assert.equal(KVM_X86_QUIRK.LAPIC_MMIO_HOLE, 4);
  assert.equal(KVM_X86_QUIRK.FIX_HYPERCALL_INSN, 0x20);
  assert.equal(KVM_X86_QUIRK.IGNORE_GUEST_PAT, 0x200);
});

Deno.test("VMCALL is Intel's hypercall, VMMCALL AMD's", () => {
  assert.deepEqual(HYPERCALL_INSN.vmcall, [0x0f, 0x01, 0xc1]);
  assert.deepEqual(HYPERCALL_INSN.vmmcall, [0x0f, 0x01, 0xd9]);
  assert.equal(nativeHypercall("intel"), "vmcall");
  assert.equal(nativeHypercall("amd"), "vmmcall");
});

Deno.test("the host's own instruction runs as it is", () => {
  const mem = withInsn(HYPERCALL_INSN.vmcall);
  assert.equal(enterHypercall(mem, 0x100, "intel", 0), "native");
  assert.deepEqual(bytesAt(mem), [0x0f, 0x01, 0xc1]);
});

Deno.test("with the quirk on, the other vendor's instruction is patched to the host's", () => {
  const intel = withInsn(HYPERCALL_INSN.vmmcall);
  assert.equal(enterHypercall(intel, 0x100, "intel", 0), "patched");
  assert.deepEqual(bytesAt(intel), [0x0f, 0x01, 0xc1]);
  // Patched once, it is native the next time.
  assert.equal(enterHypercall(intel, 0x100, "intel", 0), "native");
  const amd = withInsn(HYPERCALL_INSN.vmcall);
  assert.equal(enterHypercall(amd, 0x100, "amd", 0), "patched");
  assert.deepEqual(bytesAt(amd), [0x0f, 0x01, 0xd9]);
});

Deno.test("with the quirk off, the other vendor's instruction is #UD and its bytes stay", () => {
  const mem = withInsn(HYPERCALL_INSN.vmcall);
  assert.equal(enterHypercall(mem, 0x100, "amd", KVM_X86_QUIRK.FIX_HYPERCALL_INSN), "ud");
  assert.deepEqual(bytesAt(mem), [0x0f, 0x01, 0xc1]);
});

Deno.test("bytes that are no hypercall instruction are an input error naming them", () => {
  const mem = withInsn([0x0f, 0x01, 0xd8]); // VMRUN
  assert.throws(() => hypercallAt(mem, 0x100), (e: Error) => {
    assert.ok(e instanceof CommandInputError);
    assert.match(e.message, /0f 01 d8/);
    return true;
  });
});

Deno.test("DISABLE_QUIRKS2 adds FIX_HYPERCALL_INSN; other quirks are not modelled", () => {
  assert.equal(disableQuirks(0, 0x20n, true), 0x20);
  assert.equal(disableQuirks(0x20, 0x20n, false), 0x20);
  assert.equal(disableQuirks(0, 0n, true), 0);
  assert.throws(
    () => disableQuirks(0, 0x24n, true),
    /KVM_X86_QUIRK_LAPIC_MMIO_HOLE is not modelled/,
  );
  assert.throws(() => disableQuirks(0, 1n << 20n, true), /depends on the host \(-EINVAL if not\)/);
});
