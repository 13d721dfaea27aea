import assert from "node:assert/strict";
import { DeliveryMode, fixedMessage } from "./apic_message.ts";
import { GP_FAULT, type X86Cpu } from "./cpu.ts";
import type { Lapic } from "./lapic.ts";
import { cpuRig } from "./test_vm.ts";
import { KvmExit, MpState } from "./kvm_run.ts";
import { vectorsOf } from "../core/vector_set.ts";

/** Makes an INIT or a SIPI pending in the LAPIC. */
function initOrSipi(lapic: Lapic, mode: "init" | "sipi", vector = 0): void {
  const m = fixedMessage(vector, 0, "ipi");
  m.deliveryMode = mode === "init" ? DeliveryMode.INIT : DeliveryMode.StartUp;
  lapic.accept(m);
}

/** Makes `vector` pending in the LAPIC as a fixed edge interrupt. */
function raise(lapic: Lapic, vector: number): void {
  lapic.accept(fixedMessage(vector, 0, "msi"));
}

/** Makes one NMI pending. */
function nmi(lapic: Lapic): void {
  const m = fixedMessage(0, 0, "msi");
  m.deliveryMode = DeliveryMode.NMI;
  lapic.accept(m);
}

/** STI followed by the instruction that ends its shadow: IF=1, nothing blocked. */
function enable(cpu: X86Cpu): void {
  cpu.sti();
  cpu.retire(); // the STI itself
  cpu.retire(); // the instruction in its shadow
}

Deno.test("X86Cpu: IF=0 holds a pending maskable interrupt back; IF=1 takes it", () => {
  const { cpu, lapic } = cpuRig();
  raise(lapic, 0x41);
  assert.equal(cpu.interruptFlag, false, "reset clears IF");
  assert.equal(cpu.maskableReady(), true);
  assert.equal(cpu.canTake(), false);
  enable(cpu);
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.equal(t.kind, "vector");
  assert.equal(t.vector, 0x41);
  assert.equal(cpu.interruptFlag, false, "entering the handler clears IF");
  assert.equal(cpu.depth, 1);
  raise(lapic, 0x51);
  assert.equal(cpu.canTake(), false, "IF=0 inside the handler");
  cpu.cli();
  cpu.returnFromInterrupt();
  assert.equal(cpu.interruptFlag, true, "IRET restores the saved IF");
  assert.equal(cpu.depth, 0);
  cpu.cli();
  assert.equal(cpu.canTake(), false, "CLI blocks again");
});

Deno.test("X86Cpu: the STI shadow lasts exactly one retired instruction", () => {
  const { cpu, lapic } = cpuRig();
  raise(lapic, 0x41);
  cpu.sti();
  assert.equal(cpu.interruptFlag, true);
  assert.equal(cpu.shadow, "sti");
  assert.equal(cpu.canTake(), false, "blocked right after STI");
  assert.equal(cpu.retire(), true, "STI retires; the shadow now covers the next instruction");
  assert.equal(cpu.shadow, "sti");
  assert.equal(cpu.canTake(), false, "still blocked before the next instruction");
  assert.equal(cpu.retire(), true, "the next instruction retires and ends the shadow");
  assert.equal(cpu.shadow, "none");
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.retire(), false, "later instructions change nothing");
});

Deno.test("X86Cpu: MOV SS shadows one instruction and a second SS load does not extend it; a shadow set from outside ends at the next retire", () => {
  const { cpu } = cpuRig();
  cpu.movSs();
  assert.equal(cpu.shadow, "mov_ss");
  assert.equal(cpu.retire(), true, "MOV SS retires; the shadow covers the next instruction");
  cpu.movSs();
  assert.equal(cpu.retire(), true, "the second SS load retires and ends the first's shadow");
  assert.equal(cpu.shadow, "none");
  assert.equal(cpu.retire(), false);
  // As KVM_SET_VCPU_EVENTS sets it, between instructions.
  cpu.shadow = "sti";
  assert.equal(cpu.retire(), true, "the next instruction ends it");
  assert.equal(cpu.shadow, "none");
  cpu.sti();
  cpu.shadow = "none";
  assert.equal(cpu.retire(), false, "none ends even a shadow the retiring instruction set");
});

Deno.test("X86Cpu: STI with IF already set opens no shadow", () => {
  const { cpu, lapic } = cpuRig();
  enable(cpu);
  raise(lapic, 0x41);
  cpu.sti();
  assert.equal(cpu.shadow, "none");
  assert.equal(cpu.canTake(), true);
});

Deno.test("X86Cpu: HLT with IF=0 is not woken by a fixed interrupt but is by an NMI", () => {
  const { cpu, lapic } = cpuRig();
  cpu.hlt();
  assert.equal(cpu.halted, true);
  raise(lapic, 0x41);
  assert.equal(cpu.canTake(), false, "a fixed interrupt cannot wake HLT with IF=0");
  assert.equal(cpu.halted, true);
  nmi(lapic);
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.equal(t.kind, "nmi");
  assert.equal(t.vector, -1, "an NMI has no vector: `took nmi`, never `took 2`");
  assert.equal(cpu.halted, false, "the NMI woke it");
});

Deno.test("X86Cpu: HLT with IF=1 is woken by a fixed interrupt", () => {
  const { cpu, lapic } = cpuRig();
  enable(cpu);
  cpu.hlt();
  raise(lapic, 0x41);
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.take().vector, 0x41);
  assert.equal(cpu.halted, false);
});

Deno.test("X86Cpu.nmiPendingReported shows queued NMIs capped as process_nmi caps them", () => {
  const { cpu, lapic } = cpuRig();
  for (let i = 0; i < 3; i++) nmi(lapic);
  assert.equal(lapic.nmiPending, 3, "queued");
  assert.equal(cpu.nmiPendingReported, 2, "KVM_GET_VCPU_EVENTS cannot report 3");
  assert.equal(lapic.nmiPending, 3, "reading drops nothing");
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(cpu.nmiPendingReported, 1, "1 while the NMI handler runs");
});

Deno.test("X86Cpu: a second NMI waits for the first one's IRET, whatever IF says", () => {
  const { cpu, lapic } = cpuRig();
  nmi(lapic);
  nmi(lapic);
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(cpu.nmiBlocked, true);
  assert.equal(lapic.nmiPending, 1);
  assert.equal(cpu.nmiReady(), false);
  assert.equal(cpu.canTake(), false);
  // Even with IF set inside the NMI handler only maskable interrupts get through.
  enable(cpu);
  raise(lapic, 0x41);
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.take().kind, "vector");
  cpu.returnFromInterrupt(); // the 0x41 handler, whose IRET also ends NMI blocking
  cpu.returnFromInterrupt(); // the NMI handler
  assert.equal(cpu.nmiBlocked, false);
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(lapic.nmiPending, 0);
});

Deno.test("X86Cpu: any IRET ends NMI blocking, a nested maskable handler's too (the NMI iret problem)", () => {
  const { cpu, lapic } = cpuRig();
  nmi(lapic);
  nmi(lapic);
  assert.equal(cpu.take().kind, "nmi");
  enable(cpu);
  raise(lapic, 0x41);
  assert.equal(cpu.take().kind, "vector");
  // SDM vol. 3A 6.7.1: blocked "until the next execution of the IRET instruction", whichever.
  cpu.returnFromInterrupt(); // the 0x41 handler
  assert.equal(cpu.nmiBlocked, false);
  assert.equal(cpu.canTake(), true, "the second NMI nests inside the first one's handler");
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(cpu.depth, 2);
});

Deno.test("X86Cpu: an IRET through a frame the handler built unblocks NMIs and keeps the frame", () => {
  const { cpu, lapic } = cpuRig();
  nmi(lapic);
  nmi(lapic);
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(cpu.canTake(), false);
  cpu.iret();
  assert.equal(cpu.nmiBlocked, false);
  assert.equal(cpu.depth, 1, "the NMI handler's own frame stays");
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(cpu.depth, 2);
});

Deno.test("X86Cpu: an NMI waits for the end of an STI shadow (KVM)", () => {
  const { cpu, lapic } = cpuRig();
  nmi(lapic);
  cpu.sti();
  assert.equal(cpu.canTake(), false);
  cpu.retire();
  cpu.retire();
  assert.equal(cpu.canTake(), true);
});

Deno.test("X86Cpu: ExtINT is taken only while LVT0 is unmasked ExtINT", () => {
  for (
    const [lvt0, ok] of [
      [0x10000, false], // reset value: masked, fixed
      [0x10700, false], // ExtINT but masked
      [0x00000, false], // unmasked but fixed
      [0x00400, false], // unmasked NMI
      [0x00700, true], // unmasked ExtINT
    ] as const
  ) {
    const { cpu, pic } = cpuRig({ lvt0 });
    enable(cpu);
    pic.vector = 0x20;
    assert.equal(cpu.extIntReady(), ok, `LVT0 ${lvt0.toString(16)}`);
    assert.equal(cpu.canTake(), ok, `LVT0 ${lvt0.toString(16)}`);
    if (ok) {
      const t = cpu.take();
      assert.deepEqual([t.kind, t.vector], ["extint", 0x20]);
      assert.equal(pic.vector, -1, "the INTA cycle ran");
    }
  }
});

Deno.test("X86Cpu: ExtINT is not taken with IF=0", () => {
  const { cpu, pic } = cpuRig({ lvt0: 0x700 });
  pic.vector = 0x20;
  assert.equal(cpu.extIntReady(), true);
  assert.equal(cpu.canTake(), false);
});

Deno.test("X86Cpu: take() picks NMI, then ExtINT, then the LAPIC", () => {
  const { cpu, lapic, pic } = cpuRig({ lvt0: 0x700 });
  enable(cpu);
  raise(lapic, 0xf1);
  pic.vector = 0x20;
  nmi(lapic);
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    assert.equal(cpu.canTake(), true);
    const t = cpu.take();
    order.push(`${t.kind}:${t.vector.toString(16)}`);
    cpu.returnFromInterrupt();
  }
  assert.deepEqual(order, ["nmi:-1", "extint:20", "vector:f1"]);
  assert.equal(cpu.canTake(), false);
});

Deno.test("X86Cpu: take()'s cause is the trace event that set the IRR bit", () => {
  const { cpu, lapic, trace } = cpuRig();
  enable(cpu);
  raise(lapic, 0x41);
  const irrSet = trace.events.find((e) => e.kind === "irr.set" && e.text.startsWith("0x41"))!;
  assert.ok(irrSet);
  raise(lapic, 0x31); // a later, lower request must not be blamed
  const t = cpu.take();
  assert.equal(t.vector, 0x41);
  assert.equal(t.cause, irrSet.id);
  const took = trace.get(t.event)!;
  assert.equal(took.kind, "took");
  assert.equal(took.cause, irrSet.id);
  const ack = trace.events.find((e) => e.kind === "ack")!;
  assert.equal(ack.cause, irrSet.id, "the INTA cycle follows from the same request");
});

Deno.test("X86Cpu: NMI and ExtINT takes have no IRR cause", () => {
  const { cpu, lapic, pic } = cpuRig({ lvt0: 0x700 });
  enable(cpu);
  nmi(lapic);
  assert.equal(cpu.take().cause, 0);
  cpu.returnFromInterrupt();
  pic.vector = 0x20;
  assert.equal(cpu.take().cause, 0);
});

Deno.test("X86Cpu: IRET with no frame is ignored", () => {
  const { cpu, trace } = cpuRig();
  enable(cpu);
  cpu.returnFromInterrupt();
  assert.equal(cpu.interruptFlag, true);
  assert.equal(trace.events.at(-1)!.kind, "iret");
});

Deno.test("X86Cpu: APs of a KVM irqchip VM start UNINITIALIZED; a SIPI first is ignored, INIT then SIPI starts them (X86-59)", () => {
  const { cpu, lapic, trace } = cpuRig({ waitForSipi: true });
  assert.equal(cpu.mpState, MpState.Uninitialized);
  assert.equal(cpu.halted, true, "executes nothing");
  assert.equal(cpu.hltHalted, false);
  raise(lapic, 0x41);
  enable(cpu);
  assert.equal(cpu.canTake(), false, "no delivery while waiting");
  initOrSipi(lapic, "sipi", 0x9a);
  assert.equal(cpu.service(), 1);
  assert.equal(cpu.mpState, MpState.Uninitialized);
  assert.equal(trace.events.at(-1)!.kind, "sipi.ignored");
  initOrSipi(lapic, "init");
  assert.equal(cpu.service(), 2, "INIT resets the vCPU");
  assert.equal(cpu.mpState, MpState.InitReceived);
  assert.deepEqual(vectorsOf(lapic.irr), [], "INIT cleared IRR");
  assert.equal(lapic.read(0xf0), 0xff, "and reset SVR");
  assert.equal(cpu.interruptFlag, false);
  assert.deepEqual([cpu.csSelector, cpu.csBase, cpu.rip], [0xf000, 0xffff0000, 0xfff0]);
  assert.equal(cpu.service(), 0, "nothing more to do");
  initOrSipi(lapic, "sipi", 0x9a);
  assert.equal(cpu.service(), 1);
  assert.equal(cpu.mpState, MpState.Runnable);
  assert.deepEqual([cpu.csSelector, cpu.csBase, cpu.rip], [0x9a00, 0x9a000, 0]);
  assert.equal(cpu.halted, false);
  initOrSipi(lapic, "sipi", 0x9b);
  cpu.service();
  assert.equal(cpu.csSelector, 0x9a00, "a SIPI to a running vCPU is discarded");
});

Deno.test("X86Cpu: INIT to the BSP resets it and leaves it RUNNABLE; it wakes a halted vCPU", () => {
  const { cpu, lapic } = cpuRig({ bsp: true });
  enable(cpu);
  cpu.hlt();
  nmi(lapic);
  initOrSipi(lapic, "init");
  assert.equal(cpu.service(), 2);
  assert.equal(cpu.mpState, MpState.Runnable);
  assert.equal(cpu.halted, false);
  assert.equal(lapic.nmiPending, 0, "INIT drops pending NMIs (kvm_vcpu_reset)");
  assert.equal(cpu.interruptFlag, false);
  assert.equal(lapic.apicBase, 0xfee00900, "INIT keeps IA32_APIC_BASE");
});

Deno.test("X86Cpu: INIT inside an NMI handler clears the NMI blocking and the frames", () => {
  const { cpu, lapic } = cpuRig({ bsp: true });
  nmi(lapic);
  cpu.take();
  assert.equal(cpu.nmiBlocked, true);
  initOrSipi(lapic, "init");
  cpu.service();
  assert.equal(cpu.nmiBlocked, false);
  assert.equal(cpu.depth, 0);
});

Deno.test("X86Cpu: NMIs beyond what can be latched are dropped: 2 while unblocked, 1 in the handler (KVM process_nmi)", () => {
  const { cpu, lapic } = cpuRig();
  for (let i = 0; i < 3; i++) nmi(lapic);
  assert.equal(cpu.service(), 1);
  assert.equal(lapic.nmiPending, 2);
  assert.equal(cpu.take().kind, "nmi");
  nmi(lapic);
  nmi(lapic);
  assert.equal(lapic.nmiPending, 3);
  cpu.service();
  assert.equal(lapic.nmiPending, 1, "one latched behind the running handler");
  assert.equal(cpu.canTake(), false);
  cpu.returnFromInterrupt();
  assert.equal(cpu.take().kind, "nmi");
  cpu.returnFromInterrupt();
  assert.equal(cpu.canTake(), false, "two NMIs taken in all");
});

Deno.test("X86Cpu: MOV to CR8 sets TPR[7:4]; bits 63:4 #GP (kvm_set_cr8)", () => {
  const { cpu, lapic, trace } = cpuRig();
  assert.equal(cpu.movToCr8(5), 0);
  assert.equal(lapic.tpr, 0x50);
  assert.equal(cpu.cr8, 5);
  assert.equal(cpu.movToCr8(0x10), GP_FAULT);
  assert.equal(cpu.gpFaults, 1);
  assert.equal(lapic.tpr, 0x50);
  assert.equal(trace.events.at(-1)!.kind, "gp");
  lapic.write(0x80, 0x3f);
  assert.equal(cpu.cr8, 3, "CR8 reads TPR[7:4]");
});

Deno.test("X86Cpu: RDMSR/WRMSR reach the LAPIC's MSRs; a #GP returns GP_FAULT and is counted", () => {
  const { cpu } = cpuRig({ now: () => 1234 });
  assert.equal(cpu.rdmsr(0x1b), 0xfee00800n);
  assert.equal(cpu.rdmsr(0x10), 1234n, "IA32_TSC is virtual ns");
  assert.equal(cpu.rdmsr(0x808), GP_FAULT, "x2APIC MSR in xAPIC mode");
  assert.equal(cpu.wrmsr(0x1b, 0xfee00c00n), 0);
  assert.equal(cpu.rdmsr(0x808), 0n);
  assert.equal(cpu.wrmsr(0x830, 1n << 13n), GP_FAULT);
  assert.equal(cpu.rdmsr(0xc0000080), GP_FAULT, "an MSR the model does not have");
  assert.equal(cpu.wrmsr(0x10, 0n), GP_FAULT);
  assert.equal(cpu.gpFaults, 4);
});

Deno.test("X86Cpu without an in-kernel LAPIC: KVM_INTERRUPT is injected whatever IF says; LAPIC sources are never looked at", () => {
  const { cpu, lapic } = cpuRig({ lapicInKernel: false });
  raise(lapic, 0x41);
  enable(cpu);
  assert.equal(cpu.canTake(), false, "no in-kernel LAPIC to take 0x41 from");
  cpu.cli();
  assert.equal(cpu.queueInterrupt(0x30), 0);
  assert.equal(cpu.readyForInjection(), false, "an interrupt is injected and not yet taken");
  assert.equal(cpu.canTake(), true, "injected with IF=0: userspace had to wait for the window");
  assert.deepEqual([cpu.take().kind, cpu.depth], ["vector", 1]);
  assert.equal(cpu.rdmsr(0x808), GP_FAULT, "no x2APIC MSRs");
  assert.equal(cpu.movToCr8(7), 0);
  assert.equal(cpu.cr8, 7);
  assert.equal(lapic.tpr, 0, "CR8 is the vCPU's own register");
});

Deno.test("X86Cpu without an in-kernel LAPIC: the requested interrupt window exits once, after STI and its shadow", () => {
  const { cpu } = cpuRig({ lapicInKernel: false });
  cpu.requestInterruptWindow(true);
  assert.equal(cpu.run.exitReason, KvmExit.None, "IF=0: the window is shut");
  cpu.sti();
  cpu.retire(); // STI
  assert.equal(cpu.readyForInjection(), false, "the STI shadow");
  assert.equal(cpu.run.exitReason, KvmExit.None);
  cpu.retire(); // the instruction in the shadow
  assert.equal(cpu.readyForInjection(), true);
  assert.equal(cpu.run.exitReason, KvmExit.IrqWindowOpen);
  cpu.retire();
  assert.equal(cpu.run.irqWindowExits, 1, "one exit per opening");
  cpu.queueInterrupt(0x30);
  cpu.take();
  cpu.returnFromInterrupt();
  assert.equal(cpu.run.irqWindowExits, 2, "open again after the handler's IRET");
  cpu.hlt();
  assert.equal(cpu.run.exitReason, KvmExit.Hlt);
  assert.equal(cpu.mpState, MpState.Runnable, "HLT exits to userspace: no HALTED state in KVM");
});

Deno.test("X86Cpu with an in-kernel LAPIC ignores request_interrupt_window; HLT is MP state HALTED", () => {
  const { cpu } = cpuRig();
  cpu.requestInterruptWindow(true);
  enable(cpu);
  assert.equal(cpu.run.exitReason, KvmExit.None);
  cpu.hlt();
  assert.equal(cpu.mpState, MpState.Halted);
  assert.equal(cpu.run.exitReason, KvmExit.None);
});

Deno.test("X86Cpu with a split irqchip: the window also needs LVT0 to accept ExtINT and no vector queued", () => {
  const { cpu, lapic, pic } = cpuRig({ picInKernel: false });
  cpu.requestInterruptWindow(true);
  enable(cpu);
  assert.equal(cpu.readyForInjection(), false, "LVT0 masked: an ExtINT could not be acknowledged");
  assert.equal(cpu.run.exitReason, KvmExit.None);
  lapic.write(0x350, 0x700);
  cpu.retire();
  assert.equal(cpu.run.exitReason, KvmExit.IrqWindowOpen);
  pic.vector = 0x20; // KVM_INTERRUPT queued
  assert.equal(cpu.readyForInjection(), false, "a vector is already waiting");
});

Deno.test("KVM_X86_SET_MCE on the vCPU: UCNA through LVT CMCI, #MC with CR4.MCE, shutdown without", () => {
  const { cpu, lapic } = cpuRig({ bsp: true });
  assert.equal(cpu.setupMce((1n << 10n) | (1n << 8n) | 4n), 0); // MCG_CMCI_P | MCG_CTL_P | 4 banks
  assert.equal((lapic.version >>> 16) & 0xff, 6);
  lapic.write(0x2f0, 0xa9);
  assert.equal(cpu.wrmsr(0x281, 1n << 30n), 0); // MC1_CTL2.CMCI_EN
  const ucna = 0xbc00000000010090n, srar = 0xbd80000000000134n;
  assert.equal(cpu.setMce(1, ucna, 0x1000n, 0n, 0n), 0);
  assert.deepEqual(vectorsOf(lapic.irr), [0xa9]);
  assert.equal(cpu.setMce(2, srar, 0x2000n, 0n, 5n), 0);
  assert.equal(cpu.shutdown, true, "CR4.MCE clear: KVM_REQ_TRIPLE_FAULT");
  const other = cpuRig({ bsp: true }).cpu;
  other.setupMce((1n << 8n) | 4n);
  assert.throws(() => other.movToCr4(0x20n), /only CR4.MCE/);
  assert.equal(other.movToCr4(0x40n), 0);
  assert.equal(other.setMce(2, srar, 0x2000n, 0n, 5n), 0);
  assert.equal(other.exceptionVector, 18);
  assert.equal(other.exceptionErrorCode, -1);
  assert.equal(other.rdmsr(0x40a), 0x2000n);
  assert.equal(other.snapshot(), null, "the banks are not saved");
});
