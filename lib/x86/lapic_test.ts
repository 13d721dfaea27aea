import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { setVector, testVector, vectorsOf } from "../core/vector_set.ts";
import { type ApicMessage, DeliveryMode, fixedMessage, Shorthand } from "./apic_message.ts";
import { Accept, Lapic, type LapicOptions, Lvt } from "./lapic.ts";

interface Rig {
  apic: Lapic;
  trace: Trace;
  eois: number[];
  sent: ApicMessage[];
}

function rig(opts: { bsp?: boolean; id?: number; enable?: boolean } & LapicOptions = {}): Rig {
  const trace = new Trace(() => 0);
  const eois: number[] = [];
  const sent: ApicMessage[] = [];
  const apic = new Lapic(opts.id ?? 0, {
    sink: {
      deliver(m) {
        sent.push({ ...m });
        return 1;
      },
    },
    eoiListener: { eoi: (v) => eois.push(v) },
    trace,
    name: "lapic0",
    bsp: opts.bsp ?? false,
  }, opts);
  if (opts.enable ?? true) apic.write(0xf0, 0x1ff);
  return { apic, trace, eois, sent };
}

function msg(vector: number, level = false): ApicMessage {
  const m = fixedMessage(vector, 0, "msi");
  m.level = level;
  return m;
}

function kinds(t: Trace): string[] {
  return t.events.map((e) => e.kind);
}

Deno.test("Lapic reset state matches KVM's reset for the BSP and an AP", () => {
  const bsp = rig({ bsp: true, enable: false }).apic;
  assert.equal(bsp.apicBase, 0xfee00900);
  assert.equal(bsp.read(0x20), 0);
  assert.equal(bsp.read(0xf0), 0xff);
  assert.equal(bsp.read(0xe0), 0xffffffff);
  assert.equal(bsp.read(0x350), 0x700);
  assert.equal(bsp.read(0x360), 0x10000);
  assert.equal(bsp.read(0x30), 0x00050014);
  const ap = rig({ id: 3, enable: false }).apic;
  assert.equal(ap.apicBase, 0xfee00800);
  assert.equal(ap.read(0x20), 0x03000000);
  for (const off of [0x320, 0x330, 0x340, 0x350, 0x360, 0x370]) {
    assert.equal(ap.read(off), 0x10000, `offset ${off.toString(16)}`);
  }
});

Deno.test("Lapic.ppr follows KVM's rule: TPR if its class >= ISRV class, else ISRV & 0xF0", () => {
  const { apic } = rig();
  assert.equal(apic.ppr, 0);
  apic.write(0x80, 0x25);
  assert.equal(apic.ppr, 0x25);
  setVector(apic.isr, 0x41);
  assert.equal(apic.ppr, 0x40);
  apic.write(0x80, 0x47);
  assert.equal(apic.ppr, 0x47);
  assert.equal(apic.read(0xa0), 0x47);
  apic.write(0x80, 0x4ff); // bits above 7:0 are reserved
  assert.equal(apic.tpr, 0xff);
});

Deno.test("Lapic nests by priority class and EOI pops the highest ISR bit (X86-37)", () => {
  const { apic, eois, trace } = rig();
  apic.accept(msg(0x30));
  assert.equal(apic.acknowledge(), 0x30);
  apic.accept(msg(0x35));
  assert.equal(apic.pendingVector(), -1, "0x35 is in the same class as 0x30");
  apic.accept(msg(0x40));
  assert.equal(apic.pendingVector(), 0x40);
  assert.equal(apic.acknowledge(), 0x40);
  assert.deepEqual(vectorsOf(apic.isr), [0x30, 0x40]);
  assert.equal(apic.eoi(), 0x40);
  assert.equal(apic.pendingVector(), -1);
  assert.equal(apic.eoi(), 0x30);
  assert.equal(apic.pendingVector(), 0x35);
  assert.equal(apic.acknowledge(), 0x35);
  assert.equal(apic.eoi(), 0x35);
  const before = trace.events.length;
  assert.equal(apic.eoi(), -1);
  assert.deepEqual(kinds(trace).slice(before), ["eoi.none"]);
  assert.deepEqual(eois, []);
  assert.deepEqual(vectorsOf(apic.isr), []);
  assert.deepEqual(vectorsOf(apic.irr), []);
});

Deno.test("Lapic.acknowledge() returns the spurious vector when TPR rose before INTA (X86-39)", () => {
  const { apic, eois } = rig();
  apic.accept(msg(0x45));
  assert.equal(apic.pendingVector(), 0x45);
  apic.write(0x80, 0x50);
  assert.equal(apic.acknowledge(), 0xff);
  assert.deepEqual(vectorsOf(apic.isr), []);
  assert.deepEqual(vectorsOf(apic.irr), [0x45]);
  assert.deepEqual(eois, []);
  apic.write(0xf0, 0x1e7);
  assert.equal(apic.acknowledge(), 0xe7);
});

Deno.test("Lapic rewrites TMR on each acceptance and EOI leaves it alone (X86-21)", () => {
  const { apic } = rig();
  apic.accept(msg(0x79, true));
  assert.equal(testVector(apic.tmr, 0x79), true);
  assert.equal(apic.acknowledge(), 0x79);
  apic.eoi();
  assert.equal(testVector(apic.tmr, 0x79), true);
  assert.equal(apic.read(0x180 + 0x30), 1 << (0x79 & 31));
  apic.accept(msg(0x79, false));
  assert.equal(testVector(apic.tmr, 0x79), false);
  assert.equal(apic.read(0x1b0), 0);
});

Deno.test("Lapic.eoi() broadcasts to the IOAPIC only when the TMR bit is set", () => {
  const { apic, eois, trace } = rig();
  apic.accept(msg(0x61, true));
  apic.accept(msg(0x51, false));
  apic.acknowledge();
  apic.write(0xb0, 0x1234); // xAPIC ignores the value
  assert.deepEqual(eois, [0x61]);
  apic.acknowledge();
  apic.eoi();
  assert.deepEqual(eois, [0x61]);
  const ev = trace.events.find((e) => e.kind === "eoi.broadcast")!;
  assert.equal(trace.get(ev.cause)!.kind, "eoi");
});

Deno.test("Lapic.eoi() honours SVR bit 12 only when Version bit 24 advertises it", () => {
  const plain = rig();
  plain.apic.write(0xf0, 0x11ff);
  assert.equal(plain.apic.svr, 0x1ff);
  const sup = rig({ eoiBroadcastSuppression: true });
  assert.equal(sup.apic.read(0x30), 0x01050014);
  sup.apic.write(0xf0, 0x11ff);
  assert.equal(sup.apic.svr, 0x11ff);
  sup.apic.accept(msg(0x61, true));
  sup.apic.acknowledge();
  assert.equal(sup.apic.eoi(), 0x61);
  assert.deepEqual(sup.eois, []);
});

Deno.test("Lapic merges a second request for a pending vector into its IRR bit", () => {
  const { apic, trace } = rig();
  assert.equal(apic.accept(msg(0x41)), Accept.Accepted);
  assert.equal(apic.accept(msg(0x41)), Accept.Merged);
  assert.deepEqual(kinds(trace).slice(-2), ["irr.set", "irr.merged"]);
  assert.equal(apic.acknowledge(), 0x41);
  // One may be in service while another waits.
  assert.equal(apic.accept(msg(0x41)), Accept.Accepted);
  assert.deepEqual(vectorsOf(apic.irr), [0x41]);
  assert.deepEqual(vectorsOf(apic.isr), [0x41]);
});

Deno.test("Lapic drops fixed messages while software-disabled but latches NMI/INIT/SIPI/SMI", () => {
  const { apic, trace } = rig({ enable: false });
  assert.equal(apic.accept(msg(0x41)), Accept.Dropped);
  assert.equal(trace.events.at(-1)!.kind, "dropped");
  const lp = msg(0x42);
  lp.deliveryMode = DeliveryMode.LowestPriority;
  assert.equal(apic.accept(lp), Accept.Dropped);
  assert.deepEqual(vectorsOf(apic.irr), []);
  const nmi = msg(0);
  nmi.deliveryMode = DeliveryMode.NMI;
  assert.equal(apic.accept(nmi), Accept.Accepted);
  assert.equal(apic.accept(nmi), Accept.Accepted);
  assert.equal(apic.nmiPending, 2);
  const init = msg(0);
  init.deliveryMode = DeliveryMode.INIT;
  assert.equal(apic.accept(init), Accept.Accepted);
  assert.equal(apic.initPending, true);
  const sipi = msg(0x9a);
  sipi.deliveryMode = DeliveryMode.StartUp;
  assert.equal(apic.accept(sipi), Accept.Accepted);
  assert.equal(apic.sipiVector, 0x9a);
  const smi = msg(0);
  smi.deliveryMode = DeliveryMode.SMI;
  assert.equal(apic.accept(smi), Accept.Accepted);
  assert.equal(apic.smiPending, true);
});

Deno.test("Lapic ignores INIT level de-assert but takes an edge INIT", () => {
  const { apic, trace } = rig();
  const deassert = msg(0, true);
  deassert.deliveryMode = DeliveryMode.INIT;
  deassert.assert = false;
  assert.equal(apic.accept(deassert), Accept.Dropped);
  assert.equal(apic.initPending, false);
  assert.equal(trace.events.at(-1)!.kind, "init.deassert");
  const edge = msg(0, false);
  edge.deliveryMode = DeliveryMode.INIT;
  edge.assert = false;
  assert.equal(apic.accept(edge), Accept.Accepted);
  assert.equal(apic.initPending, true);
});

Deno.test("Lapic accepts nothing while hardware-disabled and reads all-ones", () => {
  const { apic } = rig();
  assert.equal(apic.setApicBase(0xfee00000), true);
  assert.equal(apic.hardwareEnabled, false);
  assert.equal(apic.accept(msg(0x41)), Accept.Dropped);
  const nmi = msg(0);
  nmi.deliveryMode = DeliveryMode.NMI;
  assert.equal(apic.accept(nmi), Accept.Dropped);
  assert.equal(apic.nmiPending, 0);
  assert.equal(apic.read(0xf0), 0xffffffff);
  apic.write(0x80, 0x50);
  assert.equal(apic.tpr, 0);
  assert.equal(apic.setApicBase(0xfee00c00), false, "x2APIC not modelled yet");
  assert.equal(apic.setApicBase(0xfee00801), false, "reserved bit 0");
  assert.equal(apic.setApicBase(0xfee00800), true);
  assert.equal(apic.read(0x80), 0);
});

Deno.test("Lapic forces LVT masks while software-disabled and masks all LVTs when SVR.8 clears", () => {
  const { apic, trace } = rig({ enable: false });
  apic.write(0x350, 0x700);
  assert.equal(apic.read(0x350), 0x10700);
  assert.ok(kinds(trace).includes("lvt.masked"));
  apic.write(0xf0, 0x1ff);
  apic.write(0x350, 0x700);
  apic.write(0x320, 0x000200ef);
  assert.equal(apic.read(0x350), 0x700);
  assert.equal(apic.read(0x320), 0x000200ef);
  apic.write(0xf0, 0xff);
  assert.equal(apic.read(0x350), 0x10700);
  assert.equal(apic.read(0x320), 0x000300ef);
  assert.equal(apic.lvt[Lvt.Error], 0x10000);
});

Deno.test("Lapic LVT writes keep only KVM's writable bits and trace the reserved ones", () => {
  const { apic, trace } = rig();
  apic.write(0x320, 0xffffffff);
  assert.equal(apic.read(0x320), 0x000710ff);
  assert.equal(trace.events.at(-2)!.kind, "write.reserved");
  assert.equal(trace.events.at(-2)!.text, "lvt_timer: reserved bits 0xfff8ef00 ignored");
  apic.write(0x330, 0xffffffff);
  assert.equal(apic.read(0x330), 0x000117ff);
  apic.write(0x350, 0xffffffff);
  assert.equal(apic.read(0x350), 0x0001f7ff);
  apic.write(0x360, 0xffffffff);
  assert.equal(apic.read(0x360), 0x0001f7ff);
  apic.write(0x370, 0xffffffff);
  assert.equal(apic.read(0x370), 0x000110ff);
  apic.write(0x2f0, 0xffffffff); // no CMCI by default
  assert.equal(apic.read(0x2f0), 0);
  assert.equal(trace.events.at(-1)!.kind, "write.ignored");
});

Deno.test("Lapic.acceptsExtInt() follows KVM's LVT0 rule (X86-41)", () => {
  const { apic } = rig();
  apic.write(0x350, 0x10700);
  assert.equal(apic.acceptsExtInt(), false, "masked");
  apic.write(0x350, 0x40);
  assert.equal(apic.acceptsExtInt(), false, "fixed mode: KVM takes nothing");
  apic.write(0x350, 0x700);
  assert.equal(apic.acceptsExtInt(), true);
  assert.deepEqual(vectorsOf(apic.irr), []);
  apic.write(0x350, 0x10700);
  apic.setApicBase(0xfee00000);
  assert.equal(apic.acceptsExtInt(), true, "hardware-disabled: PIC wired to INTR");
});

Deno.test("Lapic ICR: writing ICR high sends nothing, ICR low sends, delivery status reads 0", () => {
  const { apic, sent, trace } = rig({ id: 2 });
  apic.write(0x310, 0x01abcdef);
  assert.equal(apic.read(0x310), 0x01000000);
  assert.equal(sent.length, 0);
  apic.write(0x300, 0x0000d8f1); // level, assert, logical, delivery status bit set, fixed
  assert.equal(sent.length, 1);
  assert.deepEqual(sent[0], {
    vector: 0xf1,
    deliveryMode: DeliveryMode.Fixed,
    logical: true,
    dest: 1,
    shorthand: Shorthand.None,
    level: true,
    assert: true,
    sourceId: 2,
    source: "ipi",
    redirectionHint: false,
  });
  assert.equal(apic.read(0x300), 0x0000c8f1);
  const ipi = trace.events.find((e) => e.kind === "ipi")!;
  assert.equal(ipi.text, "vector 0xf1 mode 0 logical dest 0x1 shorthand 0");
});

Deno.test("Lapic MMIO ignores unaligned writes, unknown and read-only registers", () => {
  const { apic, trace } = rig();
  apic.write(0x84, 0x50);
  assert.equal(apic.tpr, 0);
  apic.write(0x3f0, 0x41); // SELF IPI is x2APIC-only
  assert.equal(apic.read(0x3f0), 0);
  apic.write(0x30, 0);
  assert.equal(apic.read(0x30), 0x00050014);
  apic.write(0x200, 0xffffffff);
  assert.equal(apic.read(0x200), 0);
  assert.deepEqual(kinds(trace).slice(-4), [
    "write.ignored",
    "write.ignored",
    "write.ignored",
    "write.ignored",
  ]);
  apic.write(0xe0, 0x0);
  assert.equal(apic.read(0xe0), 0x0fffffff);
  apic.write(0xd0, 0x32abcdef);
  assert.equal(apic.read(0xd0), 0x32000000);
  apic.write(0x20, 0x05123456);
  assert.equal(apic.id, 5);
  assert.equal(apic.read(0x21), 0x00050000);
  assert.equal(apic.read(0x24), 0);
  apic.write(0x3e0, 0xf);
  assert.equal(apic.read(0x3e0), 0xb);
});

Deno.test("Lapic hot path allocates no trace events when tracing is off", () => {
  const { apic, trace } = rig();
  trace.enabled = false;
  apic.accept(msg(0x41, true));
  assert.equal(apic.acknowledge(), 0x41);
  assert.equal(apic.eoi(), 0x41);
  assert.deepEqual(kinds(trace), ["reset", "write"], "only reset and the SVR write");
});

Deno.test("Lapic drops a level-triggered fixed message with level de-asserted (KVM)", () => {
  const { apic, trace } = rig();
  const m = msg(0x61, true);
  m.assert = false;
  assert.equal(apic.accept(m), Accept.Dropped);
  assert.deepEqual(vectorsOf(apic.irr), []);
  assert.equal(trace.events.at(-1)!.text, "0x61: level de-assert");
});

Deno.test("Lapic forwards an edge EOI only for vectors the listener asks for, even with SVR.12", () => {
  const trace = new Trace(() => 0);
  const level: number[] = [], edge: number[] = [];
  const apic = new Lapic(0, {
    sink: { deliver: () => 1 },
    eoiListener: {
      eoi: (v) => level.push(v),
      wantsEdgeEoi: (v) => v === 0x28,
      edgeEoi: (v) => edge.push(v),
    },
    trace,
    name: "lapic0",
    bsp: false,
  }, { eoiBroadcastSuppression: true });
  apic.write(0xf0, 0x11ff); // enabled, EOI broadcast suppressed
  for (const v of [0x28, 0x41]) {
    apic.accept(msg(v));
    apic.acknowledge();
  }
  apic.eoi(); // 0x41: not wanted
  apic.eoi(); // 0x28: wanted
  apic.accept(msg(0x51, true));
  apic.acknowledge();
  apic.eoi(); // level, but suppressed by SVR bit 12
  assert.deepEqual(edge, [0x28]);
  assert.deepEqual(level, []);
});

Deno.test("Lapic without wantsEdgeEoi on its listener sends no edge EOI", () => {
  const { apic, eois } = rig();
  apic.accept(msg(0x28));
  apic.acknowledge();
  assert.equal(apic.eoi(), 0x28);
  assert.deepEqual(eois, []);
});
