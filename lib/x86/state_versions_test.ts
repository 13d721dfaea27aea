/**
 * The x86 objects whose `scn explore` digest is kept under a
 * {@link StateVersion} (the I/O APIC, the 8259s, KVM's routing, the
 * handled vectors): every public method is listed here as one that writes
 * or one that reads, and each call of a writer that changes what the
 * object feeds gives it a new version. A method added to one of these
 * classes fails the listing until it is classed; a writer that forgets its
 * bump fails its own row.
 */
import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import type { StateHash } from "../core/platform.ts";
import { stateHashRecord } from "../core/state_hash_record.ts";
import { Trace } from "../core/trace.ts";
import { I8259Pair } from "./i8259.ts";
import { Ioapic } from "./ioapic.ts";
import { IoapicHandledVectors } from "./ioapic_handled_vectors.ts";
import { GsiRouting } from "./kvm_routing.ts";
import { programRte } from "./test_vm.ts";
import { X86Vm } from "./vm.ts";

/** The version an object's `hashPrivate` hands to `versioned`, and the words it feeds under it. */
function versioned(o: { hashPrivate(h: StateHash): void }): { version: number; words: string } {
  let version = -1, words = "";
  const none = () => {};
  const h: StateHash = {
    n: none,
    num: none,
    big: none,
    bool: none,
    words: none,
    block: none,
    value: none,
    fixed: none,
    versioned(v, obj, feed) {
      version = v.value;
      words = stateHashRecord((r) => feed(r, obj));
    },
  };
  o.hashPrivate(h);
  assert.notEqual(version, -1, `${o.constructor.name}.hashPrivate feeds no versioned digest`);
  return { version, words };
}

function makeVm(): X86Vm {
  const vm = new X86Vm("guest", {
    vcpus: 2,
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    irqchip: "kernel",
  }, {
    trace: new Trace(() => 0),
    queue: new EventQueue(),
    now: () => 0,
  });
  for (const cpu of vm.cpus) cpu.lapic.write(0xf0, 0x1ff);
  return vm;
}

/**
 * A method call (after `setUp`, if any): `writes` must change what the
 * object feeds, and its version; `reads` must not change what it feeds.
 */
type Row<T> = [
  name: string,
  kind: "writes" | "reads",
  call: (o: T, vm: X86Vm) => unknown,
  setUp?: (o: T, vm: X86Vm) => void,
];

/** Runs each row on a fresh object from `make`, and checks every public member has a row. */
function check<T extends { hashPrivate(h: StateHash): void }>(
  cls: { prototype: object; name: string },
  make: () => { o: T; vm: X86Vm },
  rows: Row<T>[],
): void {
  const listed = new Set(rows.map((r) => r[0]));
  const hooks = new Set(["constructor", "hashFields", "hashPrivate", "snapshot"]);
  for (const name of Object.getOwnPropertyNames(cls.prototype)) {
    if (hooks.has(name)) continue;
    assert.ok(listed.has(name), `${cls.name}.${name}: not listed as a writer or a reader here`);
  }
  for (const [name, kind, call, setUp] of rows) {
    const { o, vm } = make();
    setUp?.(o, vm);
    const before = versioned(o);
    call(o, vm);
    const after = versioned(o);
    if (kind === "writes") {
      assert.notEqual(after.words, before.words, `${cls.name}.${name}: the row changes nothing`);
      assert.notEqual(
        after.version,
        before.version,
        `${cls.name}.${name} wrote with no new version`,
      );
    } else {
      assert.equal(after.words, before.words, `${cls.name}.${name} is listed as a reader`);
    }
  }
}

Deno.test("the I/O APIC: every write is a new version", () => {
  const make = () => {
    const vm = makeVm();
    const o = vm.ioapic!;
    programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
    programRte(vm, 8, { vector: 0x28, dest: 0 });
    o.setLine(20, 1);
    return { o, vm };
  };
  const rtcTick = (o: Ioapic) => void (o.setLine(8, 1), o.setLine(8, 0));
  check(Ioapic, make, [
    ["reset", "writes", (o) => o.reset()],
    ["read", "reads", (o) => o.read(0x10)],
    ["write", "writes", (o) => o.write(0x00, 0x12)],
    ["readIndirect", "reads", (o) => o.readIndirect(0x01)],
    ["writeIndirect", "writes", (o) => o.writeIndirect(0x10 + 2 * 5, 0x40)],
    ["setLine", "writes", (o) => o.setLine(3, 1)],
    ["eoi", "writes", (o) => o.eoi(0x9a)],
    ["suppressedEoi", "writes", (o) => o.suppressedEoi(0x28, 0), rtcTick],
    ["edgeEoi", "writes", (o) => o.edgeEoi(0x28, 0), rtcTick],
    ["wantsEdgeEoi", "reads", (o) => o.wantsEdgeEoi(0x9a)],
    ["remoteIrr", "reads", (o) => o.remoteIrr(20)],
    ["line", "reads", (o) => o.line(20)],
    ["rte", "reads", (o) => o.rte(20)],
    ["rteLow", "reads", (o) => o.rteLow(20)],
    ["rteHigh", "reads", (o) => o.rteHigh(20)],
    ["rtcPendingEoi", "reads", (o) => o.rtcPendingEoi],
    ["rtcAwaitedVector", "reads", (o) => o.rtcAwaitedVector(0)],
    ["kvmIrr", "reads", (o) => o.kvmIrr()],
    ["id", "reads", (o) => o.id],
    ["ioregsel", "reads", (o) => o.ioregsel],
    ["setKvmState", "writes", (o) => o.setKvmState({ id: 3, ioregsel: 0, irr: 0, redirtbl: [] })],
    // vCPU 0 holds the RTC's vector without a tick tracked: KVM_SET_LAPIC makes it owe the EOI.
    ["rtcRestoreOne", "writes", (o) => o.rtcRestoreOne(0), (o) => void o.setLine(8, 1, false)],
  ]);
});

Deno.test("the I/O APIC's storm timer's retry is a new version", () => {
  const queue = new EventQueue();
  let now = 0;
  const vm = new X86Vm("guest", {
    vcpus: 1,
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    irqchip: "kernel",
  }, {
    trace: new Trace(() => 0),
    queue,
    now: () => now,
  });
  vm.cpus[0].lapic.write(0xf0, 0x1ff);
  const o = vm.ioapic!;
  programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
  o.setLine(20, 1);
  // EOIs with the line held high until the storm guard defers the re-delivery.
  for (let i = 0; i < 10_000 && queue.size === 0; i++) o.eoi(0x9a);
  assert.equal(queue.size, 1, "the storm guard armed its timer");
  const before = versioned(o);
  const timer = queue.pop()!;
  now = timer.time;
  timer.fire();
  const after = versioned(o);
  assert.notEqual(after.words, before.words);
  assert.notEqual(after.version, before.version);
});

Deno.test("the 8259s: every write is a new version", () => {
  const make = () => {
    const vm = makeVm();
    const o = vm.pic!;
    // ICW1-4 on the master (vectors from 0x08, cascade on IR2, 8086 mode), nothing masked.
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0x21, 0]]) {
      o.ioWrite(port, v);
    }
    o.setIrq(0, 1, 1);
    return { o, vm };
  };
  check(I8259Pair, make, [
    ["specialMask", "reads", (o) => o.specialMask],
    ["master", "reads", (o) => o.master.irr],
    ["slave", "reads", (o) => o.slave.irr],
    ["reset", "writes", (o) => o.reset()],
    ["intr", "reads", (o) => o.intr()],
    ["setIrq", "writes", (o) => o.setIrq(0, 3, 1)],
    ["setIsaIrq", "writes", (o) => o.setIsaIrq(9, 1)],
    ["acknowledge", "writes", (o) => o.acknowledge()],
    ["ioWrite", "writes", (o) => o.ioWrite(0x21, 0x55)],
    // OCW3's poll command, then the read that ends it.
    ["ioRead", "writes", (o) => o.ioRead(0x20), (o) => o.ioWrite(0x20, 0x0c)],
    ["kvmState", "reads", (o) => o.kvmState(0)],
    ["setKvmState", "writes", (o) => o.setKvmState(0, { ...o.kvmState(0), imr: 0x12 })],
  ]);
});

Deno.test("KVM's routing: every write is a new version", () => {
  const make = () => {
    const vm = makeVm();
    return { o: vm.routing, vm };
  };
  check(GsiRouting, make, [
    ["mode", "reads", (o) => o.mode],
    ["useX2apicFormat", "writes", (o) => o.useX2apicFormat()],
    ["setRouting", "writes", (o) => o.setRouting([])],
    ["lastError", "reads", (o) => o.lastError],
    ["entries", "reads", (o) => o.entries()],
    ["view", "reads", (o) => o.view()],
    ["routesOf", "reads", (o) => o.routesOf(20)],
    ["irqLine", "reads", (o) => o.irqLine(20, 1)],
    ["signalMsi", "reads", (o) => o.signalMsi(0xfee00000, 0, 0x41)],
  ]);
});

Deno.test("the handled vectors: every write is a new version", () => {
  let blocked = -1;
  const make = () => {
    const vm = makeVm();
    const o = new IoapicHandledVectors({
      ioapic: vm.ioapic!,
      lapics: vm.cpus.map((c) => c.lapic),
      names: (l, dest, logical) => !logical && l.x2apicId === dest,
      hasAckNotifier: () => false,
      blocked: (cpu) => cpu === blocked,
      trace: new Trace(() => 0),
    });
    for (let i = 0; i < vm.cpus.length; i++) o.listener(i);
    programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 0 });
    o.scanAll();
    blocked = -1;
    return { o, vm };
  };
  /** Vector 0x9a pending at vCPU 0, its entry moved to vCPU 1: stale at vCPU 0. */
  const stale = (o: IoapicHandledVectors, vm: X86Vm) => {
    vm.ioapic!.setLine(20, 1);
    const old = vm.ioapic!.rte(20);
    programRte(vm, 20, { vector: 0x9a, trigger: "level", dest: 1 });
    o.entryWritten(20, old.low, old.high);
  };
  check(IoapicHandledVectors, make, [
    ["handles", "reads", (o) => o.handles(0, 0x9a)],
    ["vectors", "reads", (o) => o.vectors(0)],
    [
      "scan",
      "writes",
      (o, vm) => (programRte(vm, 21, { vector: 0x9b, trigger: "level" }), o.scan(0)),
    ],
    // A request while vCPU 1 is blocked: no scan yet, the request waits for its entry.
    ["scan", "writes", (o) => {
      blocked = 1;
      o.scan(1);
      blocked = -1;
    }],
    // The request that waited is served.
    ["entered", "writes", (o) => o.entered(1), (o, vm) => {
      programRte(vm, 21, { vector: 0x9b, trigger: "level", dest: 1 });
      blocked = 1;
      o.scan(1);
      blocked = -1;
    }],
    [
      "scanAll",
      "writes",
      (o, vm) => (programRte(vm, 21, { vector: 0x9b, trigger: "level" }), o.scanAll()),
    ],
    ["entryWritten", "writes", stale],
    ["listener", "writes", (o) => o.listener(2)],
    ["gate", "reads", (o) => o.gate(1, 0x9a)],
    // The EOI of the stale vector: vCPU 0 scans again and no longer holds it.
    ["afterEoi", "writes", (o) => o.afterEoi(0, 0x9a), (o, vm) => {
      stale(o, vm);
      const l = vm.cpus[0].lapic;
      l.acknowledge();
      l.eoi();
    }],
  ]);
});
