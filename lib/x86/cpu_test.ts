import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { DeliveryMode, fixedMessage } from "./apic_message.ts";
import { type ExtIntSource, X86Cpu } from "./cpu.ts";
import { Lapic } from "./lapic.ts";

/** A PIC stand-in: INTR while `vector` is set; INTA hands it out once. */
class FakePic implements ExtIntSource {
  vector = -1;
  intr(): boolean {
    return this.vector >= 0;
  }
  acknowledge(): number {
    const v = this.vector;
    this.vector = -1;
    return v;
  }
}

interface Rig {
  cpu: X86Cpu;
  lapic: Lapic;
  pic: FakePic;
  trace: Trace;
}

/**
 * One vCPU with a software-enabled LAPIC (an AP, so LVT0 starts masked) and
 * a fake PIC. `lvt0` sets LVT LINT0.
 */
function rig(opts: { lvt0?: number } = {}): Rig {
  const trace = new Trace(() => 0);
  const lapic = new Lapic(0, {
    sink: { deliver: () => -1 },
    eoiListener: { eoi() {} },
    trace,
    name: "lapic0",
    bsp: false,
  });
  lapic.write(0xf0, 0x1ff);
  if (opts.lvt0 !== undefined) lapic.write(0x350, opts.lvt0);
  const pic = new FakePic();
  return { cpu: new X86Cpu(0, lapic, pic, trace), lapic, pic, trace };
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
  const { cpu, lapic } = rig();
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
  const { cpu, lapic } = rig();
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

Deno.test("X86Cpu: STI with IF already set opens no shadow", () => {
  const { cpu, lapic } = rig();
  enable(cpu);
  raise(lapic, 0x41);
  cpu.sti();
  assert.equal(cpu.shadow, "none");
  assert.equal(cpu.canTake(), true);
});

Deno.test("X86Cpu: HLT with IF=0 is not woken by a fixed interrupt but is by an NMI", () => {
  const { cpu, lapic } = rig();
  cpu.hlt();
  assert.equal(cpu.halted, true);
  raise(lapic, 0x41);
  assert.equal(cpu.canTake(), false, "a fixed interrupt cannot wake HLT with IF=0");
  assert.equal(cpu.halted, true);
  nmi(lapic);
  assert.equal(cpu.canTake(), true);
  const t = cpu.take();
  assert.equal(t.kind, "nmi");
  assert.equal(t.vector, 2);
  assert.equal(cpu.halted, false, "the NMI woke it");
});

Deno.test("X86Cpu: HLT with IF=1 is woken by a fixed interrupt", () => {
  const { cpu, lapic } = rig();
  enable(cpu);
  cpu.hlt();
  raise(lapic, 0x41);
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.take().vector, 0x41);
  assert.equal(cpu.halted, false);
});

Deno.test("X86Cpu: a second NMI waits for the first one's IRET, whatever IF says", () => {
  const { cpu, lapic } = rig();
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
  cpu.returnFromInterrupt(); // the 0x41 handler
  assert.equal(cpu.nmiBlocked, true, "IRET from a nested maskable handler keeps NMIs blocked");
  cpu.returnFromInterrupt(); // the NMI handler
  assert.equal(cpu.nmiBlocked, false);
  assert.equal(cpu.canTake(), true);
  assert.equal(cpu.take().kind, "nmi");
  assert.equal(lapic.nmiPending, 0);
});

Deno.test("X86Cpu: an NMI waits for the end of an STI shadow (KVM)", () => {
  const { cpu, lapic } = rig();
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
    const { cpu, pic } = rig({ lvt0 });
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
  const { cpu, pic } = rig({ lvt0: 0x700 });
  pic.vector = 0x20;
  assert.equal(cpu.extIntReady(), true);
  assert.equal(cpu.canTake(), false);
});

Deno.test("X86Cpu: take() picks NMI, then ExtINT, then the LAPIC", () => {
  const { cpu, lapic, pic } = rig({ lvt0: 0x700 });
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
  assert.deepEqual(order, ["nmi:2", "extint:20", "vector:f1"]);
  assert.equal(cpu.canTake(), false);
});

Deno.test("X86Cpu: take()'s cause is the trace event that set the IRR bit", () => {
  const { cpu, lapic, trace } = rig();
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
  const { cpu, lapic, pic } = rig({ lvt0: 0x700 });
  enable(cpu);
  nmi(lapic);
  assert.equal(cpu.take().cause, 0);
  cpu.returnFromInterrupt();
  pic.vector = 0x20;
  assert.equal(cpu.take().cause, 0);
});

Deno.test("X86Cpu: IRET with no frame is ignored", () => {
  const { cpu, trace } = rig();
  enable(cpu);
  cpu.returnFromInterrupt();
  assert.equal(cpu.interruptFlag, true);
  assert.equal(trace.events.at(-1)!.kind, "iret");
});
