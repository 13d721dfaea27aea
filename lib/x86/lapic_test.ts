import { stateHashRecord } from "../core/state_hash_record.ts";
import assert from "node:assert/strict";
import { Trace } from "../core/trace.ts";
import { testVector, vectorsOf } from "../core/vector_set.ts";
import { type ApicMessage, DeliveryMode, fixedMessage, Shorthand } from "./apic_message.ts";
import { EventQueue } from "../core/event_queue.ts";
import {
  Accept,
  EsrBit,
  type GpFault,
  isGpFault,
  Lapic,
  type LapicOptions,
  Lvt,
  SEABIOS_LVT0,
  SEABIOS_LVT1,
  x2apicLdr,
} from "./lapic.ts";

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
  apic.accept(msg(0x41));
  assert.equal(apic.acknowledge(), 0x41);
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

Deno.test("Lapic: a later SIPI replaces an unprocessed one; INIT discards it (KVM pending_events)", () => {
  const { apic, trace } = rig({ enable: false });
  const sipi = (v: number) => {
    const m = msg(v);
    m.deliveryMode = DeliveryMode.StartUp;
    return apic.accept(m);
  };
  assert.equal(sipi(0x9a), Accept.Accepted);
  assert.equal(sipi(0x9b), Accept.Accepted);
  assert.equal(apic.sipiVector, 0x9b);
  const init = msg(0);
  init.deliveryMode = DeliveryMode.INIT;
  apic.accept(init);
  assert.equal(apic.initPending, true);
  assert.equal(apic.sipiVector, -1);
  assert.deepEqual(kinds(trace).slice(-2), ["sipi.dropped", "init"]);
  assert.equal(sipi(0x9c), Accept.Accepted);
  assert.equal(apic.sipiVector, 0x9c, "a SIPI after the INIT stays");
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
  assert.equal(apic.setApicBase(0xfee00c00), false, "disabled -> x2APIC");
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
  // The timer-mode change (to the reserved mode 3) is traced after the write.
  const reserved = trace.events.findLast((e) => e.kind === "write.reserved")!;
  assert.equal(reserved.text, "lvt_timer: reserved bits 0xfff8ef00 ignored");
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

Deno.test("Lapic: a split-irqchip listener claims the EOIs it intercepts whatever TMR says, and SVR.12 only if the host honours it (KVM kvm_ioapic_send_eoi)", () => {
  const trace = new Trace(() => 0);
  const exits: number[] = [], level: number[] = [];
  let enabled = false; // KVM_SUPPRESS_EOI_BROADCAST_QUIRKED on a split irqchip
  const apic = new Lapic(0, {
    sink: { deliver: () => 1 },
    eoiListener: {
      eoi: (v) => level.push(v),
      exitsOnEoi: (v) => v === 0xa2 || v === 0xb0,
      exitEoi: (v) => exits.push(v),
    },
    trace,
    name: "lapic0",
    bsp: false,
    suppressEoiBroadcast: () => enabled,
  }, { eoiBroadcastSuppression: true });
  apic.write(0xf0, 0x11ff); // enabled, SVR.12 set
  const round = () => {
    for (const [v, lvl] of [[0xa2, true], [0xb0, false], [0xc1, true]] as const) {
      apic.accept(msg(v, lvl));
      apic.acknowledge();
      apic.eoi();
    }
  };
  round();
  assert.deepEqual(exits, [0xa2, 0xb0], "a level one despite SVR.12, and an edge one");
  assert.deepEqual(level, [0xc1], "0xC1 is level, not intercepted, and the bit is ignored");
  const exit = trace.events.find((e) => e.kind === "eoi" && e.text.startsWith("0xa2"))!;
  assert.ok(exit);
  enabled = true; // KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST
  round();
  assert.deepEqual(exits, [0xa2, 0xb0], "SVR.12 now stops every intercepted EOI");
  assert.deepEqual(level, [0xc1], "and the broadcast");
});

Deno.test("Lapic without wantsEdgeEoi on its listener sends no edge EOI", () => {
  const { apic, eois } = rig();
  apic.accept(msg(0x28));
  apic.acknowledge();
  assert.equal(apic.eoi(), 0x28);
  assert.deepEqual(eois, []);
});

// ---- x2APIC ------------------------------------------------------------------

/** An APIC whose host records IPIs and has a virtual clock. */
function x2rig(opts: { id?: number; bsp?: boolean } & LapicOptions = {}) {
  const trace = new Trace(() => now);
  const queue = new EventQueue();
  let now = 0;
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
    now: () => now,
    schedule: (at, fire) => queue.schedule(at, fire),
  }, opts);
  const advance = (to: number) => {
    for (;;) {
      const next = queue.peek();
      if (!next || next.time > to) break;
      queue.pop();
      now = next.time;
      next.fire();
    }
    now = to;
  };
  return { apic, trace, eois, sent, advance };
}

function gp(r: bigint | GpFault | null): string {
  assert.ok(isGpFault(r), `expected #GP, got ${r}`);
  return r.reason;
}

function ok(r: bigint | GpFault | null): bigint | null {
  assert.ok(!isGpFault(r), isGpFault(r) ? r.reason : "");
  return r;
}

Deno.test("Lapic xenErrors in x2APIC mode: reserved bits, a non-zero EOI and ICR bit 12 #GP (Xen guest_wrmsr_x2apic); KVM drops them", () => {
  for (const xen of [true, false]) {
    const { apic } = x2rig({ illegalVectorErrors: xen, xenErrors: xen });
    ok(apic.wrmsr(0x1b, 0xfee00c00n));
    ok(apic.wrmsr(0x80f, 0x1ffn)); // SVR enabled
    const tpr = apic.wrmsr(0x808, 0x1_20n); // TPR bit 8
    const svr = apic.wrmsr(0x80f, 0x11ffn); // directed EOI, not offered
    const lvt0 = apic.wrmsr(0x835, 0x2_0000n); // LVT0 bit 17
    const tdcr = apic.wrmsr(0x83e, 0x4n); // TDCR bit 2
    const icr = apic.wrmsr(0x830, 0x1030n); // ICR delivery status
    const eoi = apic.wrmsr(0x80b, 1n);
    if (xen) {
      assert.match(gp(tpr), /Xen: TPR reserved bits 0x100/);
      assert.match(gp(svr), /Xen: SVR reserved bits 0x1000/);
      assert.match(gp(lvt0), /reserved bits 0x20000/);
      assert.match(gp(tdcr), /reserved bits 0x4/);
      assert.match(gp(icr), /Xen: ICR bit 12/);
      assert.match(gp(eoi), /Xen: EOI writes must be 0/);
    } else {
      for (const r of [tpr, svr, lvt0, tdcr, icr, eoi]) assert.equal(ok(r), null);
    }
    assert.equal(ok(apic.wrmsr(0x808, 0x20n)), null, "kept bits are fine on both");
    assert.equal(ok(apic.wrmsr(0x80b, 0n)), null);
  }
});

Deno.test("IA32_APIC_BASE transitions follow KVM kvm_apic_set_base (X86-49)", () => {
  const { apic } = x2rig({ id: 3 });
  assert.equal(ok(apic.rdmsr(0x1b)), 0xfee00800n);
  assert.equal(apic.mode, "xapic");
  assert.equal(ok(apic.wrmsr(0x1b, 0xfee00c00n)), null, "xAPIC -> x2APIC");
  assert.equal(apic.mode, "x2apic");
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00800n)), /x2APIC -> xAPIC/);
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00400n)), /EXTD \(x2APIC\) without EN/);
  assert.equal(ok(apic.wrmsr(0x1b, 0xfee00000n)), null, "x2APIC -> disabled");
  assert.equal(apic.mode, "disabled");
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00c00n)), /disabled -> x2APIC/);
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00400n)), /without EN/);
  assert.equal(ok(apic.wrmsr(0x1b, 0xfee00800n)), null, "disabled -> xAPIC");
  assert.equal(apic.read(0x20), 0x03000000, "re-enabling restores the initial xAPIC ID");
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00801n)), /reserved bits 0x1/);
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00a00n)), /reserved bits 0x200/);
  assert.match(gp(apic.wrmsr(0x1b, (1n << 52n) | 0xfee00800n)), /MAXPHYADDR/);
  assert.equal(ok(apic.wrmsr(0x1b, 0xfee00800n)), null, "the current value is always fine");
  assert.equal(apic.mode, "xapic");
});

Deno.test("IA32_APIC_BASE: host-initiated writes may go x2APIC -> xAPIC and disabled -> x2APIC", () => {
  const { apic } = x2rig({ id: 2 });
  assert.equal(apic.setApicBase(0xfee00c00, true), true);
  assert.equal(apic.setApicBase(0xfee00800, true), true, "x2APIC -> xAPIC from userspace");
  assert.equal(apic.xapicId, 2);
  assert.equal(apic.setApicBase(0xfee00000, true), true);
  assert.equal(apic.setApicBase(0xfee00c00, true), true, "disabled -> x2APIC from userspace");
  assert.equal(apic.setApicBase(0xfee00400, true), false, "EXTD without EN is never valid");
});

Deno.test("IA32_APIC_BASE: EXTD is reserved without x2APIC in CPUID; BSP is stored as written", () => {
  const { apic } = x2rig({ x2apic: false, bsp: true });
  assert.match(gp(apic.wrmsr(0x1b, 0xfee00d00n)), /no x2APIC/);
  assert.equal(ok(apic.wrmsr(0x1b, 0xfee00800n)), null);
  assert.equal(apic.apicBase, 0xfee00800, "SDM: BSP flag is R/W; KVM keeps the guest's bit");
});

Deno.test("x2APIC mode: 32-bit read-only ID, derived read-only LDR, MMIO is a hole", () => {
  const { apic } = x2rig({ id: 0x23 });
  apic.write(0xf0, 0x1ff);
  apic.write(0xd0, 0x01000000);
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  assert.equal(apic.id, 0x23);
  assert.equal(ok(apic.rdmsr(0x802)), 0x23n);
  assert.equal(ok(apic.rdmsr(0x80d)), 0x00020008n, "(0x23 >> 4) << 16 | 1 << 3");
  assert.equal(apic.ldr, 0x00020008);
  assert.match(gp(apic.wrmsr(0x802, 5n)), /ID is read-only/);
  assert.match(gp(apic.wrmsr(0x80d, 5n)), /LDR is read-only/);
  assert.equal(apic.read(0x30), 0xffffffff, "MMIO reads all-ones in x2APIC mode");
  apic.write(0x80, 0x50);
  assert.equal(apic.tpr, 0, "MMIO writes dropped");
  assert.equal(ok(apic.rdmsr(0x80f)), 0x1ffn, "state carried over from xAPIC mode");
  ok(apic.wrmsr(0x808, 0x50n));
  assert.equal(apic.tpr, 0x50);
  assert.equal(apic.cr8, 5);
});

Deno.test("x2APIC MSRs #GP outside x2APIC mode, for absent registers and on bad values", () => {
  const { apic } = x2rig();
  assert.match(gp(apic.rdmsr(0x808)), /only in x2APIC mode/);
  assert.match(gp(apic.wrmsr(0x80b, 0n)), /only in x2APIC mode/);
  assert.match(gp(apic.rdmsr(0x123)), /not a local APIC MSR/);
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  for (
    const [msr, why] of [
      [0x80e, /DFR|Destination Format|does not exist/],
      [0x831, /does not exist/],
      [0x809, /does not exist/], // APR
      [0x80c, /does not exist/], // RRD
      [0x80b, /write-only/], // EOI
      [0x83f, /write-only/], // SELF IPI
      [0x801, /no x2APIC register/],
      [0x840, /no x2APIC register/],
      [0x82f, /CMCI/],
    ] as const
  ) {
    assert.match(gp(apic.rdmsr(msr)), why, hex(msr));
  }
  for (
    const [msr, value, why] of [
      [0x80e, 0n, /does not exist/],
      [0x831, 0n, /does not exist/],
      [0x803, 0n, /read-only/], // Version
      [0x80a, 0n, /read-only/], // PPR
      [0x810, 0n, /read-only/], // ISR
      [0x839, 0n, /read-only/], // TMCCT
      [0x828, 1n, /ESR writes must be 0/],
      [0x808, 1n << 32n, /63:32/],
      [0x83f, 0x1f1n, /SELF IPI bits 31:8/],
    ] as const
  ) {
    assert.match(gp(apic.wrmsr(msr, value)), why, hex(msr));
  }
  assert.equal(ok(apic.wrmsr(0x828, 0n)), null, "ESR write of 0 is fine");
  assert.equal(ok(apic.wrmsr(0x83e, 0xfn)), null);
  assert.equal(ok(apic.rdmsr(0x83e)), 0xbn);
});

Deno.test("x2APIC ICR is one 64-bit WRMSR with KVM's reserved bits (X86-47)", () => {
  const { apic, sent } = x2rig();
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  assert.equal(ok(apic.wrmsr(0x830, 0x1_000040f1n)), null);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].dest, 1);
  assert.equal(sent[0].vector, 0xf1);
  assert.equal(sent[0].assert, true);
  assert.equal(ok(apic.rdmsr(0x830)), 0x1_000040f1n, "reads back all 64 bits");
  for (const bad of [0x2000n, 0x10000n, 0x20000n, 0x100000n, 0x80000000n]) {
    assert.match(gp(apic.wrmsr(0x830, 0x1_000040f1n | bad)), /ICR reserved bits/);
  }
  assert.equal(sent.length, 1, "a #GP sends nothing");
  ok(apic.wrmsr(0x830, 0xffffffff_000010f2n)); // BUSY cleared, not a fault
  assert.equal(sent[1].dest, 0xffffffff);
  assert.equal(ok(apic.rdmsr(0x830)), 0xffffffff_000000f2n);
});

Deno.test("x2APIC SELF IPI (0x83F) sends a fixed edge self IPI; bits above 7 #GP (X86-43)", () => {
  const { apic, sent } = x2rig({ id: 4 });
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  ok(apic.wrmsr(0x830, 0x7_000000a1n));
  ok(apic.wrmsr(0x83f, 0xf1n));
  assert.equal(sent.length, 2);
  assert.equal(sent[1].shorthand, Shorthand.Self);
  assert.equal(sent[1].vector, 0xf1);
  assert.equal(sent[1].deliveryMode, DeliveryMode.Fixed);
  assert.equal(sent[1].level, false);
  assert.equal(ok(apic.rdmsr(0x830)), 0x7_000000a1n, "SELF IPI does not touch the ICR");
  gp(apic.wrmsr(0x83f, 0x1f1n));
  assert.equal(sent.length, 2);
});

Deno.test("x2APIC EOI: any 32-bit value is accepted (KVM; the SDM asks for 0)", () => {
  const { apic, eois } = x2rig();
  apic.write(0xf0, 0x1ff);
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  apic.accept(msg(0x61, true));
  apic.acknowledge();
  assert.equal(ok(apic.wrmsr(0x80b, 0x1234n)), null);
  assert.deepEqual(eois, [0x61]);
  gp(apic.wrmsr(0x80b, 1n << 32n));
});

Deno.test("INIT keeps x2APIC mode, the ID and the derived LDR; power-up reset returns to xAPIC", () => {
  const { apic } = x2rig({ id: 17 });
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  ok(apic.wrmsr(0x830, 0x1_000040f1n));
  apic.reset(true);
  assert.equal(apic.mode, "x2apic");
  assert.equal(ok(apic.rdmsr(0x802)), 17n);
  assert.equal(ok(apic.rdmsr(0x80d)), 0x00010002n);
  assert.equal(ok(apic.rdmsr(0x830)), 0n);
  apic.reset(false);
  assert.equal(apic.mode, "xapic");
  assert.equal(apic.read(0x20), 0x11000000);
  assert.equal(apic.read(0xd0), 0);
});

Deno.test("x2apicLdr() packs cluster and member bit", () => {
  assert.equal(x2apicLdr(0), 0x1);
  assert.equal(x2apicLdr(15), 0x8000);
  assert.equal(x2apicLdr(16), 0x10001);
  assert.equal(x2apicLdr(0x123), 0x120008);
});

// ---- the timer through the LAPIC ---------------------------------------------

Deno.test("Lapic timer: LVTT vector lands in IRR at expiry; TMCCT reads through MMIO", () => {
  const { apic, advance, trace } = x2rig();
  apic.write(0xf0, 0x1ff);
  apic.write(0x3e0, 0xb);
  apic.write(0x320, 0xec); // one-shot, vector 0xEC
  apic.write(0x380, 1000);
  advance(250);
  assert.equal(apic.read(0x390), 750);
  advance(1000);
  assert.deepEqual(vectorsOf(apic.irr), [0xec]);
  assert.equal(testVector(apic.tmr, 0xec), false, "the timer is edge-triggered");
  const set = trace.events.findLast((e) => e.kind === "irr.set")!;
  assert.deepEqual(trace.chain(set.id).map((e) => e.kind), ["timer.fire", "irr.set"]);
});

Deno.test("Lapic timer: a masked LVTT keeps counting but sets no IRR bit", () => {
  const { apic, advance } = x2rig();
  apic.write(0xf0, 0x1ff);
  apic.write(0x3e0, 0xb);
  apic.write(0x320, 0x200ec | 0x10000); // periodic, masked
  apic.write(0x380, 300_000);
  advance(450_000);
  assert.deepEqual(vectorsOf(apic.irr), []);
  assert.equal(apic.read(0x390), 150_000, "still counting");
  apic.write(0x320, 0x200ec); // unmask
  advance(600_000);
  assert.deepEqual(vectorsOf(apic.irr), [0xec]);
});

Deno.test("Lapic timer: TSC-deadline through IA32_TSC_DEADLINE; TMICT ignored; TMCCT 0", () => {
  const { apic, advance } = x2rig();
  apic.write(0xf0, 0x1ff);
  assert.equal(ok(apic.wrmsr(0x6e0, 5000n)), null, "ignored (not deadline mode), no #GP");
  assert.equal(ok(apic.rdmsr(0x6e0)), 0n);
  apic.write(0x320, 0x400ef); // TSC-deadline, vector 0xEF
  apic.write(0x380, 1000);
  assert.equal(apic.read(0x380), 0, "TMICT write ignored in TSC-deadline mode");
  ok(apic.wrmsr(0x6e0, 5000n));
  assert.equal(ok(apic.rdmsr(0x6e0)), 5000n);
  assert.equal(apic.read(0x390), 0);
  advance(5000);
  assert.deepEqual(vectorsOf(apic.irr), [0xef]);
  assert.equal(ok(apic.rdmsr(0x6e0)), 0n, "reads 0 after firing");
  apic.acknowledge();
  apic.eoi();
  ok(apic.wrmsr(0x6e0, 10n)); // in the past: at once
  assert.deepEqual(vectorsOf(apic.irr), [0xef]);
});

Deno.test("Lapic timer in x2APIC mode: LVTT, TDCR, TMICT and TMCCT are MSRs; TMICT in TSC-deadline mode is dropped without #GP", () => {
  const { apic, advance, trace } = x2rig();
  apic.write(0xf0, 0x1ff);
  ok(apic.wrmsr(0x1b, 0xfee00c00n));
  assert.equal(ok(apic.wrmsr(0x83e, 0xbn)), null); // divide by 1
  assert.equal(ok(apic.wrmsr(0x832, 0xecn)), null); // one-shot, vector 0xEC
  assert.equal(ok(apic.wrmsr(0x838, 1000n)), null);
  advance(400);
  assert.equal(ok(apic.rdmsr(0x839)), 600n);
  assert.match(gp(apic.wrmsr(0x839, 5n)), /read-only/);
  advance(1000);
  assert.deepEqual(vectorsOf(apic.irr), [0xec]);
  assert.equal(ok(apic.wrmsr(0x832, 0x400ecn)), null, "into TSC-deadline mode");
  assert.equal(ok(apic.rdmsr(0x838)), 0n, "the mode switch zeroed TMICT (KVM apic_update_lvtt)");
  // KVM's kvm_lapic_reg_write breaks out of the TMICT case with ret 0 here.
  assert.equal(ok(apic.wrmsr(0x838, 1000n)), null, "no #GP");
  assert.equal(ok(apic.rdmsr(0x838)), 0n);
  assert.equal(trace.events.at(-1)!.text, "timer_initial_count <- 0x3e8: TSC-deadline mode");
});

Deno.test("Lapic timer: one-shot switched to periodic mid-count keeps TMCCT and reloads at the wrap; an expired one is left alone (X86-53)", () => {
  const { apic, advance } = x2rig();
  apic.write(0xf0, 0x1ff);
  apic.write(0x3e0, 0xb); // divide by 1: TMCCT counts nanoseconds
  apic.write(0x320, 0xe5); // one-shot, vector 0xE5
  apic.write(0x380, 0x999999);
  advance(0x999999 - 0x400000); // TMCCT = 0x400000, below half
  assert.equal(apic.read(0x390), 0x400000);
  apic.write(0x320, 0x200e5); // periodic
  assert.equal(apic.read(0x380), 0x999999, "TMICT unchanged");
  assert.equal(apic.read(0x390), 0x400000, "the count goes on from where it was");
  advance(0x999999 - 1);
  assert.equal(apic.read(0x390), 1);
  assert.deepEqual(vectorsOf(apic.irr), []);
  advance(0x999999);
  assert.deepEqual(vectorsOf(apic.irr), [0xe5], "fires at the wrap");
  assert.equal(apic.read(0x390), 0x999999, "and reloads from TMICT");
  advance(0x999999 + 0x100);
  assert.equal(apic.read(0x390), 0x999999 - 0x100);

  const second = x2rig();
  second.apic.write(0xf0, 0x1ff);
  second.apic.write(0x3e0, 0xb);
  second.apic.write(0x320, 0xe6);
  second.apic.write(0x380, 1000);
  second.advance(1000);
  assert.deepEqual(vectorsOf(second.apic.irr), [0xe6]);
  second.apic.acknowledge();
  second.apic.eoi();
  second.apic.write(0x320, 0x200e6); // periodic, after the one-shot expired
  assert.equal(second.apic.read(0x390), 0);
  second.advance(10_000_000);
  assert.deepEqual(vectorsOf(second.apic.irr), [], "no interrupts");
  assert.equal(second.apic.read(0x390), 0);
  assert.equal(second.apic.read(0x380), 1000);
});

Deno.test("Lapic IA32_TSC_DEADLINE with the APIC hardware-disabled reads 0 and drops writes (KVM kvm_apic_present)", () => {
  const { apic, advance, trace } = x2rig();
  apic.write(0xf0, 0x1ff);
  apic.write(0x320, 0x400ef);
  apic.setApicBase(0xfee00000);
  assert.equal(ok(apic.wrmsr(0x6e0, 100n)), null);
  assert.equal(ok(apic.rdmsr(0x6e0)), 0n);
  assert.equal(trace.events.at(-1)!.text, "IA32_TSC_DEADLINE <- 0x64: APIC hardware-disabled");
  advance(1000);
  apic.setApicBase(0xfee00800);
  assert.deepEqual(vectorsOf(apic.irr), []);
  assert.equal(ok(apic.rdmsr(0x6e0)), 0n);
});

Deno.test("Lapic timer stops at INIT and power-up reset", () => {
  const { apic, advance } = x2rig();
  apic.write(0xf0, 0x1ff);
  apic.write(0x320, 0xec);
  apic.write(0x380, 1000);
  apic.reset(true);
  apic.write(0xf0, 0x1ff);
  apic.write(0x320, 0xec);
  advance(100_000);
  assert.deepEqual(vectorsOf(apic.irr), []);
  assert.equal(apic.read(0x380), 0);
});

// ---- LINT pins and errors ------------------------------------------------------

Deno.test("Lapic LINT1 in NMI mode (SeaBIOS's LVT1) makes an NMI on the rising edge only", () => {
  const { apic } = rig();
  apic.write(0x360, SEABIOS_LVT1);
  apic.setLint(1, 1);
  apic.setLint(1, 1);
  assert.equal(apic.nmiPending, 1, "NMI is edge-sensitive whatever the trigger bit");
  apic.setLint(1, 0);
  apic.setLint(1, 1);
  assert.equal(apic.nmiPending, 2);
  assert.equal(apic.lintLine(1), 1);
});

Deno.test("Lapic LINT masked: edges are lost; ExtINT mode leaves the vector to the PIC", () => {
  const { apic } = rig();
  apic.write(0x360, 0x10400);
  apic.setLint(1, 1);
  apic.setLint(1, 0);
  apic.write(0x360, 0x400);
  assert.equal(apic.nmiPending, 0, "a masked edge is not remembered");
  apic.write(0x350, SEABIOS_LVT0);
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), []);
  assert.equal(apic.extIntPending, false);
});

Deno.test("Lapic LINT0 fixed edge delivers its vector once per rising edge", () => {
  const { apic } = rig();
  apic.write(0x350, 0x51);
  apic.setLint(0, 1);
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), [0x51]);
  assert.equal(testVector(apic.tmr, 0x51), false);
  apic.acknowledge();
  apic.setLint(0, 0);
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), [0x51]);
});

Deno.test("Lapic LINT0 fixed level: remote IRR blocks until EOI, which re-delivers while high", () => {
  const { apic, eois } = rig();
  apic.write(0x350, 0x8052); // fixed, level, vector 0x52
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), [0x52]);
  assert.equal(testVector(apic.tmr, 0x52), true);
  assert.equal(apic.read(0x350) & 0x4000, 0x4000, "remote IRR set");
  assert.equal(apic.acknowledge(), 0x52);
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), [], "remote IRR holds it back");
  apic.eoi();
  assert.deepEqual(eois, [0x52], "a level vector's EOI is also broadcast");
  assert.deepEqual(vectorsOf(apic.irr), [0x52], "line still high: delivered again");
  assert.equal(apic.acknowledge(), 0x52);
  apic.setLint(0, 0);
  apic.eoi();
  assert.equal(apic.read(0x350) & 0x4000, 0, "remote IRR cleared");
  assert.deepEqual(vectorsOf(apic.irr), []);
});

Deno.test("Lapic LINT0 fixed level held high while masked is delivered on unmask", () => {
  const { apic } = rig();
  apic.write(0x350, 0x18053);
  apic.setLint(0, 1);
  assert.deepEqual(vectorsOf(apic.irr), []);
  apic.write(0x350, 0x8053);
  assert.deepEqual(vectorsOf(apic.irr), [0x53]);
});

Deno.test("Lapic with the APIC hardware-disabled: LINT1 is the CPU's NMI pin", () => {
  const { apic } = rig();
  apic.setApicBase(0xfee00000);
  apic.setLint(1, 1);
  assert.equal(apic.nmiPending, 1);
});

Deno.test("Lapic KVM default: illegal vectors are accepted and ESR stays 0", () => {
  const { apic } = rig();
  apic.write(0x370, 0xe3);
  assert.equal(apic.accept(msg(0x05)), Accept.Accepted);
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), 0);
});

Deno.test("Lapic illegalVectorErrors: receive/send illegal vector and illegal register set ESR and raise LVT Error", () => {
  const { apic, sent } = rig({ illegalVectorErrors: true });
  apic.write(0x370, 0xe3); // LVT Error, vector 0xE3
  assert.equal(apic.accept(msg(0x05)), Accept.Dropped);
  assert.deepEqual(vectorsOf(apic.irr), [0xe3], "the error interrupt, not vector 5");
  assert.equal(apic.read(0x280), 0, "ESR shows errors only after a write");
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), EsrBit.ReceiveIllegalVector);
  apic.write(0x300, 0x00040007); // self IPI, vector 7
  assert.equal(sent.length, 1, "still sent; receivers refuse it");
  apic.read(0x2a0); // no register at 0x2A0
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), EsrBit.SendIllegalVector | EsrBit.IllegalRegisterAddress);
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), 0);
});

Deno.test("Lapic illegalVectorErrors: an LVT Error entry with a vector 0-15 adds Receive Illegal Vector and delivers nothing", () => {
  const { apic } = rig({ illegalVectorErrors: true });
  apic.write(0x370, 0x0f); // LVT Error unmasked, vector 0x0F
  assert.equal(apic.accept(msg(0x20)), Accept.Accepted);
  apic.read(0x2a0); // illegal register: an error whose interrupt has an illegal vector
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), EsrBit.IllegalRegisterAddress | EsrBit.ReceiveIllegalVector);
  assert.deepEqual(vectorsOf(apic.irr), [0x20], "no error interrupt");
  apic.write(0x370, 0x1000f); // masked: the error alone
  apic.read(0x2a0);
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), EsrBit.IllegalRegisterAddress);
});

Deno.test("Lapic xenErrors: an illegal IPI is not sent, and no access sets Illegal Register Address (Xen vlapic_ipi, vlapic_error)", () => {
  const { apic, sent } = rig({ illegalVectorErrors: true, xenErrors: true });
  apic.write(0x370, 0x0f); // LVT Error with an illegal vector: XTF xsa-462's set-up
  apic.write(0x300, 0x0000000f); // fixed, physical, destination 0, vector 0x0F
  assert.equal(sent.length, 0, "not sent");
  apic.read(0x2a0);
  apic.write(0x2a0, 1);
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), EsrBit.SendIllegalVector | EsrBit.ReceiveIllegalVector);
  apic.write(0x300, 0x00000010); // a legal vector is sent
  assert.equal(sent.length, 1);
  apic.write(0x280, 0);
  assert.equal(apic.read(0x280), 0);
  const { apic: lone, sent: none } = rig({ xenErrors: true });
  lone.write(0x300, 0x0000000f);
  assert.equal(none.length, 1, "xenErrors alone does nothing: KVM detects no errors");
});

Deno.test("Lapic.setCr8() sets TPR[7:4]; cr8 reads it back", () => {
  const { apic } = rig();
  apic.setCr8(0x1f);
  assert.equal(apic.tpr, 0xf0);
  assert.equal(apic.cr8, 0xf);
  apic.write(0x80, 0x5a);
  assert.equal(apic.cr8, 5);
  apic.setApicBase(0xfee00000);
  apic.setCr8(3);
  assert.equal(apic.tpr, 0x30, "CR8 works with the APIC hardware-disabled (not MMIO)");
});

function hex(n: number): string {
  return "0x" + n.toString(16);
}

Deno.test("scn explore tells apart two LAPICs whose IA32_APIC_BASE differs only above bit 31", () => {
  const fed = (apic: Lapic) => stateHashRecord((h) => apic.hashPrivate(h));
  const a = rig({ bsp: true }).apic, b = rig({ bsp: true }).apic;
  assert.equal(fed(a), fed(b));
  // The same low 32 bits (base 0xfee00000, BSP, enabled), one more bit 32 of the base.
  assert.ok(b.setApicBase(0x1_fee0_0900n, true), "a base above 4 GiB is valid (MAXPHYADDR)");
  assert.equal(b.apicBase, 0x1_fee0_0900);
  assert.notEqual(fed(a), fed(b));
});

Deno.test("Lapic.writeEoi is a write of 0 to EOI: enabled, software- and hardware-disabled, x2APIC", () => {
  const setups: [string, (apic: Lapic) => void][] = [
    ["enabled", () => {}],
    ["software-disabled", (apic) => apic.write(0xf0, 0xff)],
    ["hardware-disabled", (apic) => apic.setApicBase(0xfee00000)],
    ["x2APIC", (apic) => apic.setApicBase(0xfee00c00)],
  ];
  for (const [name, setup] of setups) {
    const [a, b] = [rig({ bsp: true }), rig({ bsp: true })];
    for (const r of [a, b]) {
      r.apic.accept(msg(0x41, true));
      r.apic.acknowledge();
      setup(r.apic);
    }
    a.apic.write(0xb0, 0);
    b.apic.writeEoi();
    assert.deepEqual(kinds(b.trace), kinds(a.trace), name);
    assert.deepEqual(b.eois, a.eois, name);
    assert.deepEqual(vectorsOf(b.apic.isr), vectorsOf(a.apic.isr), name);
    const fed = (apic: Lapic) => stateHashRecord((h) => apic.hashPrivate(h));
    assert.deepEqual(fed(b.apic), fed(a.apic), name);
  }
  // The enabled case did EOI: the check above compares something.
  const r = rig();
  r.apic.accept(msg(0x41));
  r.apic.acknowledge();
  r.apic.writeEoi();
  assert.deepEqual(vectorsOf(r.apic.isr), []);
});
