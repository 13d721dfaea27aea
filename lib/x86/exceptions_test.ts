/**
 * The exception table and the double-fault rule against the SDM's tables
 * (vol. 3A 6-1, 6-4, 6-5) and KVM's `kvm_multiple_exception`, and the
 * vCPU's delivery: gates, merging, shutdown.
 */
import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { EventQueue } from "../core/event_queue.ts";
import {
  DE_VECTOR,
  DF_VECTOR,
  EXCEPTION_CONSTANTS,
  exceptionSpec,
  GP_VECTOR,
  idtErrorCode,
  isSoftException,
  mergeExceptions,
  NP_VECTOR,
  OF_VECTOR,
  UD_VECTOR,
} from "./exceptions.ts";
import { KvmExit, MpState } from "./kvm_run.ts";
import { GP_FAULT } from "./cpu.ts";
import { X86Vm } from "./vm.ts";

function cpu(longMode = true) {
  const trace = new Trace(() => 0);
  const vm = new X86Vm("g", {
    vcpus: 1,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    longMode,
  }, { trace, queue: new EventQueue(), now: () => 0 });
  return vm.cpus[0];
}

Deno.test("exception classes: #DE, #TS, #NP, #SS, #GP contributory, #PF its own, the rest benign", () => {
  const contributory = [...Array(32).keys()].filter((v) =>
    exceptionSpec(v).class === "contributory"
  );
  assert.deepEqual(contributory, [0, 10, 11, 12, 13]);
  assert.equal(exceptionSpec(14).class, "page_fault");
  assert.equal(exceptionSpec(9).class, "benign", "reserved vectors answer as KVM: benign");
});

Deno.test("error codes: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP push one", () => {
  const pushers = [...Array(32).keys()].filter((v) => exceptionSpec(v).errorCode);
  assert.deepEqual(pushers, [8, 10, 11, 12, 13, 14, 17, 21]);
});

Deno.test("mergeExceptions follows SDM table 6-5 and kvm_multiple_exception", () => {
  assert.equal(mergeExceptions(DE_VECTOR, NP_VECTOR), "double");
  assert.equal(mergeExceptions(GP_VECTOR, GP_VECTOR), "double");
  assert.equal(mergeExceptions(14, 14), "double", "#PF then #PF");
  assert.equal(mergeExceptions(14, GP_VECTOR), "double", "#PF then contributory");
  assert.equal(mergeExceptions(14, UD_VECTOR), "replace", "#PF then benign");
  assert.equal(mergeExceptions(GP_VECTOR, 14), "replace", "contributory then #PF: serially");
  assert.equal(mergeExceptions(UD_VECTOR, NP_VECTOR), "replace");
  assert.equal(mergeExceptions(DF_VECTOR, UD_VECTOR), "triple", "anything after #DF");
});

Deno.test("idtErrorCode: index in 15:3, IDT bit 1, EXT bit 0", () => {
  assert.equal(idtErrorCode(0x21, false), 0x10a);
  assert.equal(idtErrorCode(0x21, true), 0x10b);
  assert.equal(idtErrorCode(0, true), 3);
});

Deno.test("constants and soft exceptions", () => {
  assert.equal(EXCEPTION_CONSTANTS.NP_VECTOR, 11);
  assert.equal(EXCEPTION_CONSTANTS.DF_VECTOR, 8);
  assert.equal(EXCEPTION_CONSTANTS.NMI_VECTOR, undefined, "NMI is no exception here");
  assert.deepEqual([...Array(32).keys()].filter(isSoftException), [3, 4]);
});

Deno.test("X86Cpu: DIV by zero queues #DE as a fault, delivered before a pending interrupt", () => {
  const c = cpu();
  assert.equal(c.div(100n, 0n, 32), undefined);
  assert.equal(c.faulted, true);
  assert.equal(c.exceptionVector, DE_VECTOR);
  assert.equal(c.canTake(), true, "IF=0 does not hold an exception back");
  const t = c.take();
  assert.deepEqual([t.kind, t.vector], ["exception", DE_VECTOR]);
  assert.equal(c.frameErrorCode, -1, "#DE pushes no error code");
  assert.equal(c.exceptionVector, -1);
  c.returnFromInterrupt();
  assert.equal(c.div(100n, 7n, 32), 14n);
  assert.equal(c.div(0x1_0000_0000n, 1n, 32), undefined, "a quotient wider than 32 bits");
});

Deno.test("X86Cpu: INT n through a not-present gate faults with #NP(n*8+2), EXT clear", () => {
  const c = cpu();
  c.setGatePresent(0x21, false);
  c.softwareInterrupt(0x21);
  assert.equal(c.faulted, true);
  const t = c.take();
  assert.deepEqual([t.kind, t.vector], ["exception", NP_VECTOR]);
  assert.equal(c.frameErrorCode, 0x10a);
});

Deno.test("X86Cpu: #DE, #NP on its gate, #DF, then a fault on #DF's gate: triple fault", () => {
  const c = cpu();
  c.setGatePresent(DE_VECTOR, false);
  c.div(1n, 0n, 32);
  assert.equal(c.exceptionVector, DF_VECTOR);
  assert.equal(c.exceptionErrorCode, 0);
  c.setGatePresent(DF_VECTOR, false);
  // The gate changed after the fault: the boundary's delivery finds it.
  const t = c.take();
  assert.equal(t.kind, "shutdown");
  assert.equal(c.shutdown, true);
  assert.equal(c.halted, true);
  assert.equal(c.canTake(), false);
  assert.equal(c.run.exitReason, KvmExit.Shutdown);
  assert.equal(c.mpState, MpState.Runnable, "KVM leaves mp_state alone");
  c.returnFromInterrupt(); // what the engine does for a take no handler matches: nothing
  assert.equal(c.depth, 0);
});

Deno.test("X86Cpu: a triple fault raised by the instruction itself leaves nothing to re-execute", () => {
  const c = cpu();
  c.setGatePresent(DE_VECTOR, false);
  c.setGatePresent(DF_VECTOR, false);
  c.div(1n, 0n, 32);
  assert.equal(c.shutdown, true);
  assert.equal(c.faulted, false);
});

Deno.test("X86Cpu: KVM_SET_VCPU_EVENTS' exception is delivered with its error code", () => {
  const c = cpu();
  c.setException(GP_VECTOR, 0x18, true);
  assert.equal(c.exceptionInjected, true);
  const t = c.take();
  assert.deepEqual([t.kind, t.vector], ["exception", GP_VECTOR]);
  assert.equal(c.frameErrorCode, 0x18);
  assert.equal(c.faulted, false, "an injected exception names no instruction");
});

Deno.test("X86Cpu: INTO is #UD (a fault) in 64-bit mode, #OF (a trap) with OF set in 32-bit mode", () => {
  const long = cpu();
  long.add(0x7fn, 1n, 8);
  assert.equal(long.overflowFlag, true);
  long.into();
  assert.deepEqual([long.exceptionVector, long.faulted], [UD_VECTOR, true]);
  const prot = cpu(false);
  prot.into();
  assert.equal(prot.exceptionVector, -1, "OF clear: nothing");
  assert.equal(prot.add(0x7fn, 1n, 8), 0x80n);
  prot.into();
  assert.deepEqual([prot.exceptionVector, prot.faulted], [OF_VECTOR, false]);
  assert.equal(prot.add(0xffn, 1n, 8), 0n);
  assert.equal(prot.overflowFlag, false, "unsigned carry is no signed overflow");
});

Deno.test("X86Cpu: a fault delivering INTO's #OF leaves EXT clear (the program raised it)", () => {
  const c = cpu(false);
  c.setGatePresent(OF_VECTOR, false);
  c.add(0x7fn, 1n, 8);
  c.into();
  assert.equal(c.exceptionVector, NP_VECTOR, "#OF is benign: the #NP replaces it");
  assert.equal(c.exceptionErrorCode, idtErrorCode(OF_VECTOR, false));
});

Deno.test("X86Cpu: a #GP from RDMSR, WRMSR or MOV to CR8 is delivered as #GP(0), and the instruction completes", () => {
  const c = cpu();
  assert.equal(c.rdmsr(0x808), GP_FAULT, "an x2APIC MSR in xAPIC mode");
  assert.equal(c.faulted, false, "the handler returns past it: nothing to execute again");
  assert.equal(c.exceptionVector, GP_VECTOR);
  assert.equal(c.exceptionErrorCode, 0);
  let t = c.take();
  assert.deepEqual([t.kind, t.vector], ["exception", GP_VECTOR]);
  assert.equal(c.frameErrorCode, 0);
  c.returnFromInterrupt();
  assert.equal(c.movToCr8(16), GP_FAULT);
  t = c.take();
  assert.deepEqual([t.kind, t.vector], ["exception", GP_VECTOR]);
  c.returnFromInterrupt();
  assert.equal(c.wrmsr(0x830, 0x41n), GP_FAULT);
  assert.equal(c.exceptionVector, GP_VECTOR);
  assert.equal(c.gpFaults, 3);
});

Deno.test("X86Cpu: #GPs of instructions with no boundary between them are delivered one after the other, not merged", () => {
  const c = cpu();
  c.rdmsr(0x808);
  c.rdmsr(0x830);
  c.wrmsr(0x802, 1n);
  assert.equal(c.exceptionVector, GP_VECTOR, "no #DF: the instructions completed one by one");
  for (let i = 0; i < 3; i++) {
    const t = c.take();
    assert.deepEqual([t.kind, t.vector], ["exception", GP_VECTOR], `#GP ${i + 1}`);
    assert.equal(c.frameErrorCode, 0);
    assert.equal(c.canTake(), false, "the next waits for this handler's IRET");
    c.returnFromInterrupt();
  }
  assert.equal(c.exceptionVector, -1);
  assert.equal(c.canTake(), false);
});

Deno.test("X86Cpu: the last exception's vector and error code stay reported after delivery (KVM_GET_VCPU_EVENTS)", () => {
  const c = cpu();
  assert.deepEqual(c.reportedException, { nr: 0, hasErrorCode: false, errorCode: 0 });
  c.setGatePresent(0x21, false);
  c.softwareInterrupt(0x21);
  c.take();
  c.returnFromInterrupt();
  assert.equal(c.exceptionVector, -1, "delivered: nothing queued");
  assert.deepEqual(c.reportedException, { nr: NP_VECTOR, hasErrorCode: true, errorCode: 0x10a });
  c.div(1n, 0n, 32);
  assert.deepEqual(c.reportedException, { nr: DE_VECTOR, hasErrorCode: false, errorCode: 0 });
  c.setReportedException(UD_VECTOR, false, 7);
  assert.deepEqual(c.reportedException, { nr: UD_VECTOR, hasErrorCode: false, errorCode: 7 });
});
