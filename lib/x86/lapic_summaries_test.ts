/**
 * The LAPIC's IRR/ISR summaries (which words are not zero, as KVM keeps
 * `irr_pending`, `isr_count` and `highest_isr_cache`) and its copy of
 * IA32_APIC_BASE.EN against a
 * recomputation from the registers themselves, after every step of seeded
 * random sequences through every writer of IRR and ISR. A writer that forgets
 * to keep a summary in step makes `irrv`, `isrv`, `ppr` or `pendingVector`
 * disagree here.
 */
import assert from "node:assert/strict";
import { Prng } from "../core/prng.ts";
import { Trace } from "../core/trace.ts";
import { highestVector } from "../core/vector_set.ts";
import { DeliveryMode, fixedMessage } from "./apic_message.ts";
import { Lapic } from "./lapic.ts";

/** PPR and the deliverable vector as the SDM defines them, from the registers alone. */
function reference(apic: Lapic): { irrv: number; isrv: number; ppr: number; pending: number } {
  const irrv = highestVector(apic.irr), isrv = highestVector(apic.isr);
  const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
  const ppr = (apic.tpr & 0xf0) >= isrClass ? apic.tpr : isrClass;
  const pending = !apic.hardwareEnabled || irrv < 0 || (irrv & 0xf0) <= ppr ? -1 : irrv;
  return { irrv, isrv, ppr, pending };
}

function check(apic: Lapic, what: string): void {
  // IA32_APIC_BASE.EN is kept apart from IA32_APIC_BASE too.
  assert.equal(apic.hardwareEnabled, (apic.apicBase & 0x800) !== 0, `EN after ${what}`);
  const want = reference(apic);
  assert.deepEqual(
    { irrv: apic.irrv, isrv: apic.isrv, ppr: apic.ppr, pending: apic.pendingVector() },
    want,
    `after ${what}`,
  );
}

/** One random step through a writer of IRR, ISR, TPR or the APIC's enables; returns its name. */
function step(apic: Lapic, rng: Prng): string {
  const v = rng.int(0, 255);
  switch (rng.below(12)) {
    case 0:
    case 1:
    case 2: {
      const m = fixedMessage(v, 0, "msi");
      m.level = rng.chance(0.3);
      m.deliveryMode = rng.chance(0.9) ? DeliveryMode.Fixed : DeliveryMode.LowestPriority;
      apic.accept(m);
      return `accept 0x${v.toString(16)}`;
    }
    case 3:
    case 4:
      return `acknowledge -> 0x${apic.acknowledge().toString(16)}`;
    case 5:
      // The take's form: the caller passes what pendingVector said.
      return `acknowledge(pending) -> 0x${apic.acknowledge(apic.pendingVector()).toString(16)}`;
    case 6:
    case 7:
      return rng.chance(0.5) ? `eoi -> ${apic.eoi()}` : (apic.write(0xb0, 0), "EOI write");
    case 8:
      apic.write(0x80, v);
      return `TPR <- 0x${v.toString(16)}`;
    case 9: {
      // KVM_SET_LAPIC of one IRR, ISR or TMR word.
      const offset = rng.pick([0x100, 0x180, 0x200]) + 0x10 * rng.int(0, 7);
      const value = rng.chance(0.3) ? 0 : (rng.next() & rng.next()) >>> 0;
      apic.restoreWord(offset, value);
      return `restoreWord 0x${offset.toString(16)} 0x${value.toString(16)}`;
    }
    case 10: {
      const init = rng.chance(0.5);
      apic.reset(init);
      apic.write(0xf0, 0x1ff);
      return init ? "INIT" : "power-up reset";
    }
    default: {
      // Hardware-disable, or x2APIC mode, and back (IRR and ISR stay as they are).
      const base = apic.apicBase;
      const other = rng.chance(0.5) ? (base & ~0x800) >>> 0 : (base | 0xc00) >>> 0;
      assert.ok(apic.setApicBase(other, true));
      check(apic, `IA32_APIC_BASE <- 0x${other.toString(16)}`);
      assert.ok(apic.setApicBase(base, true));
      return "IA32_APIC_BASE there and back";
    }
  }
}

Deno.test("Lapic summaries of IRR and ISR match a recomputation after every writer (seeded)", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = new Prng(seed);
    const trace = new Trace(() => 0);
    trace.enabled = seed % 2 === 0;
    const apic = new Lapic(0, {
      sink: { deliver: () => 1 },
      eoiListener: { eoi() {} },
      trace,
      name: "lapic0",
      bsp: true,
    });
    apic.write(0xf0, 0x1ff);
    check(apic, "software-enable");
    const done: string[] = [];
    for (let i = 0; i < 400; i++) {
      done.push(step(apic, rng));
      check(apic, `seed ${seed}, steps ${done.slice(-4).join("; ")}`);
    }
  }
});

Deno.test("Lapic summaries: nested vectors come out highest first, the cache rescans below", () => {
  const trace = new Trace(() => 0);
  const apic = new Lapic(0, {
    sink: { deliver: () => 1 },
    eoiListener: { eoi() {} },
    trace,
    name: "lapic0",
    bsp: true,
  });
  apic.write(0xf0, 0x1ff);
  for (const v of [0x31, 0x52, 0x93, 0xe4]) {
    apic.accept(fixedMessage(v, 0, "msi"));
    assert.equal(apic.acknowledge(), v);
  }
  assert.equal(apic.isrv, 0xe4);
  // Each EOI clears the highest: the next highest comes from a rescan.
  assert.deepEqual([apic.eoi(), apic.eoi(), apic.eoi(), apic.eoi(), apic.eoi()], [
    0xe4,
    0x93,
    0x52,
    0x31,
    -1,
  ]);
  assert.equal(apic.isrv, -1);
});

Deno.test("Lapic untraced fast paths answer as the traced ones, step by step (seeded)", () => {
  const make = (traced: boolean) => {
    const trace = new Trace(() => 0);
    trace.enabled = traced;
    const eois: number[] = [];
    const apic = new Lapic(0, {
      sink: { deliver: () => 1 },
      eoiListener: { eoi: (v) => eois.push(v) },
      trace,
      name: "lapic0",
      bsp: true,
    });
    apic.write(0xf0, 0x1ff);
    return { apic, eois };
  };
  for (let seed = 1; seed <= 20; seed++) {
    const lean = make(false), traced = make(true);
    const rngLean = new Prng(seed), rngTraced = new Prng(seed);
    for (let i = 0; i < 300; i++) {
      const did = step(lean.apic, rngLean);
      assert.equal(step(traced.apic, rngTraced), did, `seed ${seed} step ${i}`);
      for (const r of ["irr", "isr", "tmr"] as const) {
        assert.deepEqual(lean.apic[r], traced.apic[r], `seed ${seed} ${r} after ${did}`);
      }
      assert.equal(lean.apic.ppr, traced.apic.ppr, `seed ${seed} PPR after ${did}`);
      assert.deepEqual(lean.eois, traced.eois, `seed ${seed} EOI broadcasts after ${did}`);
    }
  }
});
