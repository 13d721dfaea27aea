/**
 * KVM's APIC map as a bus keeps it (recalculated only when a LAPIC took a
 * new map stamp since the last look, anywhere in the process) against a map
 * computed afresh, after seeded random writes of every input of the map on
 * the APICs of two VMs. A writer that forgets its stamp, or a shortcut that
 * trusts a stale look, makes the two disagree.
 */
import assert from "node:assert/strict";
import { Prng } from "../core/prng.ts";
import { Trace } from "../core/trace.ts";
import { ApicBus } from "./apic_bus.ts";
import { Lapic } from "./lapic.ts";
import { KvmApicMap } from "./kvm_apic_map.ts";

function bus(n: number, trace: Trace): ApicBus {
  const b = new ApicBus(trace);
  for (let i = 0; i < n; i++) {
    const l = new Lapic(i, {
      sink: b,
      eoiListener: { eoi() {} },
      trace,
      name: `lapic${i}`,
      bsp: !i,
    });
    l.write(0xf0, 0x1ff);
    b.attach(l);
  }
  return b;
}

/** What a map answers, over every physical ID and a spread of logical destinations. */
function answers(m: KvmApicMap): string {
  const out: (number | boolean | string)[] = [m.valid, m.maxApicId, m.logicalMode];
  for (let id = 0; id <= 0x100; id++) out.push(m.physAt(id));
  for (const dest of [0x01, 0x03, 0x0f, 0x10, 0x21, 0x80, 0xff, 0x10001, 0x20003]) {
    const mask = m.logicalMask(dest);
    out.push(mask);
    for (let b = 0; b < 16 && mask > 0; b++) if (mask & (1 << b)) out.push(m.logicalAt(dest, b));
  }
  return out.join(",");
}

/** One random write of an input of KVM's map (ID, LDR, DFR, SVR, IA32_APIC_BASE, a reset). */
function write(l: Lapic, rng: Prng): void {
  switch (rng.below(7)) {
    case 0:
      l.write(0x20, rng.int(0, 3) << 24);
      return;
    case 1:
      l.write(0xd0, (1 << rng.int(0, 7)) << 24);
      return;
    case 2:
      l.write(0xe0, rng.chance(0.5) ? 0xffffffff : 0x0fffffff);
      return;
    case 3:
      l.write(0xf0, rng.chance(0.8) ? 0x1ff : 0xff);
      return;
    case 4:
      l.restoreWord(rng.chance(0.5) ? 0x20 : 0xd0, rng.int(0, 3) << 24);
      return;
    case 5: {
      // xAPIC, x2APIC or disabled, as userspace may set it.
      const base = 0xfee00000 | (l.apicBase & 0x100);
      l.setApicBase(rng.pick([base | 0x800, base | 0xc00, base]) >>> 0, true);
      return;
    }
    default:
      l.reset(rng.chance(0.5));
  }
}

Deno.test("KvmApicMap as the bus keeps it answers as a fresh one after every input write (seeded)", () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rng = new Prng(seed);
    const trace = new Trace(() => 0);
    trace.enabled = false;
    const buses = [bus(3, trace), bus(2, trace)];
    for (let i = 0; i < 300; i++) {
      const b = rng.pick(buses);
      // Several looks between writes, so that the shortcut is taken as well as refused.
      if (rng.chance(0.6)) write(rng.pick(b.lapics), rng);
      const fresh = new KvmApicMap(false);
      fresh.update(b.lapics);
      assert.equal(answers(b.kvmMap()), answers(fresh), `seed ${seed} step ${i}`);
    }
  }
});
