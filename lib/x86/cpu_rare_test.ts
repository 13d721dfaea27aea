/**
 * X86Cpu.boundary answers from two summary words (X86Cpu.#rare and
 * Lapic.latched) kept by the setters of the rare sources' fields. Each test
 * sets one source the way its writer does, on two identical vCPUs, and
 * checks that the fast boundary answers as the reference order
 * (core/platform's boundaryOf) does, and what that answer is: a source
 * whose setter forgot its bit would be missed by the fast boundary.
 */
import assert from "node:assert/strict";
import { BOUNDARY_HALTED, BOUNDARY_RUNNING, boundaryOf, type Taken } from "../core/platform.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { DeliveryMode, fixedMessage } from "./apic_message.ts";
import type { HypervisorHooks, X86CpuOptions } from "./cpu.ts";
import { type CpuRig, cpuRig } from "./test_vm.ts";
import { KvmPvEoi } from "./kvm_pv_eoi.ts";
import { MpState } from "./kvm_run.ts";

/** A running vCPU with IF=1, no shadow, a software-enabled LAPIC and nothing pending. */
function rig(opts: X86CpuOptions & { bsp?: boolean } = {}): CpuRig {
  const r = cpuRig(opts);
  r.cpu.sti();
  r.cpu.retire();
  r.cpu.retire();
  return r;
}

/** What a boundary answered, comparable across vCPUs (a Taken is reused by its vCPU). */
function answer(b: Taken | number): unknown {
  if (typeof b === "number") return b;
  return { kind: b.kind, vector: b.vector, ack: b.ack };
}

/**
 * Sets a source on two identical vCPUs with `act`; the fast boundary of one
 * and the reference order on the other must agree, vCPU state included.
 * Returns the answer.
 */
function both(make: () => CpuRig, act: (r: CpuRig) => void): unknown {
  const fast = make(), ref = make();
  act(fast);
  act(ref);
  const a = answer(fast.cpu.boundary()), b = answer(boundaryOf(ref.cpu));
  assert.deepEqual(a, b, "the fast boundary answers as boundaryOf");
  assert.equal(fast.cpu.mpState, ref.cpu.mpState);
  assert.equal(fast.cpu.interruptFlag, ref.cpu.interruptFlag);
  assert.equal(fast.cpu.depth, ref.cpu.depth);
  assert.equal(fast.lapic.nmiPending, ref.lapic.nmiPending);
  return a;
}

function message(mode: DeliveryMode, vector = 0) {
  const m = fixedMessage(vector, 0, "ipi");
  m.deliveryMode = mode;
  return m;
}

Deno.test("rare word: with nothing rare the fast boundary runs on, and takes a LAPIC vector", () => {
  assert.equal(both(rig, () => {}), BOUNDARY_RUNNING);
  const taken = both(rig, (r) => r.lapic.accept(fixedMessage(0x41, 0, "msi")));
  assert.deepEqual(taken, { kind: "vector", vector: 0x41, ack: undefined });
});

Deno.test("rare word: an NMI accepted by the LAPIC (Lapic.nmiPending++) is taken", () => {
  const a = both(rig, (r) => r.lapic.accept(message(DeliveryMode.NMI)));
  assert.equal((a as { kind: string }).kind, "nmi");
});

Deno.test("rare word: an NMI written by KVM_SET_VCPU_EVENTS (nmiPending =) is taken; 0 clears it", () => {
  const a = both(rig, (r) => (r.lapic.nmiPending = 1));
  assert.equal((a as { kind: string }).kind, "nmi");
  const fast = rig();
  fast.lapic.nmiPending = 1;
  fast.lapic.nmiPending = 0;
  assert.equal(fast.lapic.latched, 0);
  assert.equal(fast.cpu.boundary(), BOUNDARY_RUNNING);
});

Deno.test("rare word: a latched INIT resets the vCPU (2)", () => {
  assert.equal(both(rig, (r) => r.lapic.accept(message(DeliveryMode.INIT))), 2);
  // KVM_SET_VCPU_EVENTS' smi.latched_init writes the field.
  assert.equal(both(rig, (r) => (r.lapic.initPending = true)), 2);
});

Deno.test("rare word: a SIPI latched on a running vCPU is serviced (ignored, state changed: 1)", () => {
  assert.equal(both(rig, (r) => r.lapic.accept(message(DeliveryMode.StartUp, 0x9a))), 1);
  assert.equal(both(rig, (r) => (r.lapic.sipiVector = 0x9a)), 1);
});

Deno.test("rare word: a vCPU not RUNNABLE takes nothing (waiting for SIPI, KVM_SET_MP_STATE)", () => {
  const waiting = () => rig({ waitForSipi: true });
  assert.notEqual(
    both(waiting, (r) => r.lapic.accept(fixedMessage(0x41, 0, "msi"))),
    BOUNDARY_RUNNING,
  );
  const a = both(rig, (r) => {
    r.cpu.setMpState(MpState.InitReceived);
    r.lapic.accept(fixedMessage(0x41, 0, "msi"));
  });
  assert.equal(typeof a, "number", "nothing taken");
});

Deno.test("rare word: INT n is taken at the next boundary", () => {
  const a = both(rig, (r) => r.cpu.softwareInterrupt(0x80));
  assert.deepEqual(a, { kind: "int", vector: 0x80, ack: undefined });
});

Deno.test("rare word: KVM_INTERRUPT (queueInterrupt, or injected = as KVM_SET_VCPU_EVENTS) is injected", () => {
  const split = () => rig({ lapicInKernel: false });
  const a = both(split, (r) => r.cpu.queueInterrupt(0x30));
  assert.equal((a as { vector: number }).vector, 0x30);
  const b = both(split, (r) => (r.cpu.injected = 0x31));
  assert.equal((b as { vector: number }).vector, 0x31);
});

Deno.test("rare word: a queued exception (raise, setException) is delivered first", () => {
  const a = both(rig, (r) => r.cpu.raise(13, 0, "test"));
  assert.deepEqual(a, { kind: "exception", vector: 13, ack: undefined });
  const b = both(rig, (r) => r.cpu.setException(6, -1, false));
  assert.deepEqual(b, { kind: "exception", vector: 6, ack: undefined });
});

Deno.test("rare word: a hypervisor's hooks (cpu.hv =) are asked, and detaching them clears the bit", () => {
  const hooks: HypervisorHooks = { globalVector: () => 0xf3, woken() {}, vmExit() {} };
  const a = both(rig, (r) => (r.cpu.hv = hooks));
  assert.equal((a as { vector: number }).vector, 0xf3);
  assert.equal(both(rig, (r) => ((r.cpu.hv = hooks), (r.cpu.hv = null))), BOUNDARY_RUNNING);
});

Deno.test("rare word: an absent IDT gate turns the vector's take into #NP", () => {
  const a = both(rig, (r) => {
    r.cpu.setGatePresent(0x41, false);
    r.lapic.accept(fixedMessage(0x41, 0, "msi"));
  });
  assert.equal((a as { kind: string }).kind, "exception");
});

Deno.test("rare word: PV EOI on arms the flag at the injection", () => {
  const mem = new GuestMemory(0x10000);
  const make = () => {
    const pvEoi = new KvmPvEoi({
      mem: () => mem,
      memorySize: () => mem.size,
      cachesHighestIsr: true,
      ioapicHandles: () => false,
    });
    return rig({ pvEoi });
  };
  const fast = make(), ref = make();
  for (const r of [fast, ref]) {
    r.cpu.setPvEoiMsr(0x3001n);
    r.lapic.accept(fixedMessage(0x41, 0, "msi"));
  }
  assert.deepEqual(answer(fast.cpu.boundary()), answer(boundaryOf(ref.cpu)));
  assert.ok(ref.cpu.pvEoi!.pending, "the reference order arms it");
  assert.ok(fast.cpu.pvEoi!.pending, "so does the fast boundary");
});

Deno.test("rare word: the STI and MOV SS shadows hold a pending vector back for one instruction", () => {
  for (const open of ["sti", "movSs"] as const) {
    const a = both(rig, (r) => {
      if (open === "sti") {
        r.cpu.cli();
        r.cpu.sti();
      } else r.cpu.movSs();
      r.lapic.accept(fixedMessage(0x41, 0, "msi"));
    });
    assert.equal(a, BOUNDARY_RUNNING, open);
  }
});

Deno.test("rare word: ExtINT from the PIC (LINT0 ExtINT on the BSP) is taken before the LAPIC", () => {
  const bsp = () => rig({ bsp: true });
  const a = both(bsp, (r) => {
    r.pic.vector = 0x20;
    r.lapic.accept(fixedMessage(0x41, 0, "msi"));
  });
  assert.deepEqual(a, { kind: "extint", vector: 0x20, ack: undefined });
  assert.notEqual(both(bsp, (r) => (r.pic.vector = 0x21)), BOUNDARY_HALTED);
});
