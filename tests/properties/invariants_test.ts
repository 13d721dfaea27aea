/**
 * Property tests of model invariants (x86, Xen 2-level, GICv3): fast-check generates statement
 * lists from a small palette (MSIs, IOAPIC entries and lines, TPR, STI/CLI,
 * EOIs, 8259 programming, INTA, runs), each list runs as a scenario, and
 * the invariant is checked after every timeline statement. A failure
 * prints fast-check's seed and path (replay with `{ seed, path }` in
 * {@link PARAMS}) and the shrunk scenario.
 */
import assert from "node:assert/strict";
import { checkText } from "../../lib/api/scenario.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";
import type { StateSpec, Val } from "../../lib/core/table.ts";
import type { PlatformEntry, VmModel } from "../../lib/core/platform.ts";
import { runProgram, type RunState } from "../../lib/engine/run.ts";
import { ARM, X86 } from "../../lib/api/platforms.ts";
import { SKIPPED_NO_REGISTRY } from "../optional_npm.ts";
import { type Arbitrary, type FastCheck, loadFastCheck } from "../fast_check.ts";

const fastCheck = await loadFastCheck("properties");

/** A test of a property, given fast-check; ignored, saying why, where it cannot be fetched. */
function propertyTest(name: string, fn: (fc: FastCheck) => void): void {
  Deno.test({
    name: fastCheck ? name : name + SKIPPED_NO_REGISTRY,
    ignore: !fastCheck,
    fn: () => fn(fastCheck!),
  });
}

/** Fixed seeds keep CI deterministic; the runs still cover hundreds of scenarios. */
const PARAMS = { numRuns: 150, seed: 20261207 };

const hex = (n: number) => `0x${n.toString(16)}`;
/** The LAPIC / IOAPIC palette: vCPUs, vectors, IOAPIC pins and one timeline statement. */
function apicPalette(fc: FastCheck) {
  const cpu = fc.integer({ min: 0, max: 1 });
  /** Vectors spread over the priority classes (fast-check favours a range's ends). */
  const vector = fc.tuple(fc.integer({ min: 1, max: 15 }), fc.integer({ min: 0, max: 15 }))
    .map(([cls, sub]) => cls * 16 + sub);
  const pin = fc.integer({ min: 16, max: 19 });

  /** One timeline statement of the LAPIC / IOAPIC palette. */
  const apicStatement: Arbitrary<string> = fc.oneof(
    cpu.map((c) => `vcpu${c}: sti`),
    cpu.map((c) => `vcpu${c}: cli`),
    cpu.map((c) => `vcpu${c}: eoi`),
    fc.tuple(cpu, fc.integer({ min: 0, max: 0xff })).map(([c, t]) =>
      `vcpu${c}: write lapic.tpr ${hex(t)}`
    ),
    fc.tuple(cpu, vector, fc.boolean()).map(([c, v, level]) =>
      `vmm: kvm signal_msi address=${hex(0xfee00000 + (c << 12))} data=${
        hex(v | (level ? 0xc000 : 0))
      }`
    ),
    fc.tuple(pin, vector, fc.boolean(), cpu, fc.boolean()).map(([p, v, level, c, mask]) =>
      `vcpu0: write ioapic.redtbl[${p}] vector=${hex(v)} trigger=${
        level ? "level" : "edge"
      } dest=${c} mask=${mask ? 1 : 0}`
    ),
    fc.tuple(pin, fc.integer({ min: 0, max: 1 })).map(([p, l]) =>
      `vmm: kvm irq_line gsi=${p} level=${l}`
    ),
    fc.tuple(cpu, vector).map(([c, v]) => `vcpu${c}: ipi vector=${hex(v)} dest=${1 - c}`),
    fc.constant("run"),
  );
  return { cpu, vector, pin, apicStatement };
}

/** A scenario of two vCPUs with enabled LAPICs and `body` on the timeline. */
function scenario(body: readonly string[], handlers = ""): string {
  return `scenario "property"\nvm g { arch x86_64  vcpus 2 }\n${handlers}` +
    `vcpu0: lapic enable\nvcpu1: lapic enable\n${body.join("\n")}\n`;
}

/** Runs `text`, calling `check` with a state reader after every timeline statement. */
function eachStep(
  text: string,
  check: (read: (path: string, ...ix: number[]) => Val, state: RunState, line: number) => void,
  platform: PlatformEntry = X86,
): void {
  const program = checkText(text, "property.scn", { platforms: [platform] });
  try {
    runProgram(program, {
      trace: false,
      maxSteps: 5000,
      onStep: (loc, state) => {
        const vm = state.vms[0];
        const read = (path: string, ...ix: number[]) => {
          const spec: StateSpec<VmModel> = platform.state.find((s) => s.pattern === path)!;
          return spec.get(vm, ix) as Val;
        };
        check(read, state, loc.start.line);
      },
    });
  } catch (e) {
    // A generated storm (a handler re-raising its own level line) runs out
    // of budget; every step before it was checked.
    if (!(e instanceof ScnError && e.diagnostics[0]?.kind === "budget")) throw e;
  }
}

const setOf = (v: Val) => v as readonly number[];

propertyTest("property: ISR holds at most one vector per priority class, none below 0x10", (fc) => {
  const { apicStatement } = apicPalette(fc);
  let nested = 0;
  // A vector is accepted only above PPR's class, and PPR is at least the
  // highest in-service class: nested interrupts climb class by class.
  fc.assert(
    fc.property(
      fc.array(apicStatement, { minLength: 10, maxLength: 40 }),
      fc.boolean(),
      (body, handlers) => {
        const h = handlers ? "on vcpu0 vector 0x40..0xff { }\n" : "";
        eachStep(scenario(body, h), (read, _s, line) => {
          for (const c of [0, 1]) {
            const isr = setOf(read("vcpu#.lapic.isr", c));
            const classes = isr.map((v) => v >> 4);
            assert.equal(
              new Set(classes).size,
              classes.length,
              `line ${line}: ISR ${isr.map(hex)}`,
            );
            assert.ok(isr.every((v) => v >= 0x10), `line ${line}: ISR ${isr.map(hex)}`);
            if (isr.length > 1) nested++;
          }
        });
      },
    ),
    PARAMS,
  );
  // The palette reaches what the property is about: nested in-service vectors.
  assert.ok(nested > 0, "no generated scenario nested two interrupts");
});

propertyTest("property: PPR follows TPR and the highest in-service class", (fc) => {
  const { apicStatement } = apicPalette(fc);
  fc.assert(
    fc.property(fc.array(apicStatement, { minLength: 10, maxLength: 40 }), (body) => {
      eachStep(scenario(body), (read, _s, line) => {
        for (const c of [0, 1]) {
          const tpr = read("vcpu#.lapic.tpr", c) as number;
          const isr = setOf(read("vcpu#.lapic.isr", c));
          const isrv = isr.length ? Math.max(...isr) : 0;
          // SDM 10.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0.
          const want = (tpr >> 4) >= (isrv >> 4) ? tpr : isrv & 0xf0;
          assert.equal(read("vcpu#.lapic.ppr", c), want, `line ${line}, vcpu${c}`);
        }
      });
    }),
    PARAMS,
  );
});

propertyTest(
  "property: an IOAPIC pin's remote IRR is set only while its entry is level-triggered",
  (fc) => {
    const { apicStatement } = apicPalette(fc);
    let set = 0;
    fc.assert(
      fc.property(fc.array(apicStatement, { minLength: 10, maxLength: 40 }), (body) => {
        eachStep(scenario(body), (read, _s, line) => {
          for (let p = 0; p < 24; p++) {
            if (read("ioapic.pin[#].remote_irr", p) === 1) {
              assert.equal(read("ioapic.pin[#].trigger", p), "level", `line ${line}, pin ${p}`);
              set++;
            }
          }
        });
      }),
      PARAMS,
    );
    assert.ok(set > 0, "no generated scenario set a remote IRR");
  },
);

propertyTest(
  "property: a level vector is never in IRR and ISR of one vCPU while its pin is the only source",
  (fc) => {
    const { cpu, pin } = apicPalette(fc);
    // With remote IRR set the IOAPIC sends nothing more for the pin until the
    // EOI, so the vector cannot be requested again while it is in service.
    const onlyIoapic = fc.oneof(
      cpu.map((c) => `vcpu${c}: sti`),
      cpu.map((c) => `vcpu${c}: eoi`),
      fc.tuple(pin, cpu).map(([p, c]) =>
        `vcpu0: write ioapic.redtbl[${p}] vector=${hex(0x50 + p)} trigger=level dest=${c}`
      ),
      fc.tuple(pin, fc.integer({ min: 0, max: 1 })).map(([p, l]) =>
        `vmm: kvm irq_line gsi=${p} level=${l}`
      ),
      fc.constant("run"),
    );
    let inService = 0;
    fc.assert(
      fc.property(fc.array(onlyIoapic, { minLength: 10, maxLength: 40 }), (body) => {
        eachStep(scenario(body), (read, _s, line) => {
          for (const c of [0, 1]) {
            const irr = new Set(setOf(read("vcpu#.lapic.irr", c)));
            const isr = setOf(read("vcpu#.lapic.isr", c));
            if (isr.length > 0 && irr.size > 0) inService++;
            const both = isr.filter((v) => irr.has(v));
            assert.deepEqual(both.map(hex), [], `line ${line}, vcpu${c}`);
          }
        });
      }),
      PARAMS,
    );
    assert.ok(
      inService > 0,
      "no generated scenario had a level vector requested while another was in service",
    );
  },
);

/** The 8259 palette: initialization words, masks, EOIs, lines, INTA and runs. */
function picStatement(fc: FastCheck): Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      // ICW1..ICW4 of the master (vector base 0x20, slave on IR2), normal or auto EOI.
      "vcpu0: out port=0x20 value=0x11\nvcpu0: out port=0x21 value=0x20\nvcpu0: out port=0x21 value=0x04\nvcpu0: out port=0x21 value=0x01",
      "vcpu0: out port=0x20 value=0x11\nvcpu0: out port=0x21 value=0x20\nvcpu0: out port=0x21 value=0x04\nvcpu0: out port=0x21 value=0x03",
      "vcpu0: out port=0xa0 value=0x11\nvcpu0: out port=0xa1 value=0x28\nvcpu0: out port=0xa1 value=0x02\nvcpu0: out port=0xa1 value=0x01",
      "vcpu0: out port=0x20 value=0x20",
      "vcpu0: out port=0xa0 value=0x20",
      "vcpu0: out port=0x20 value=0x0b",
      "vcpu0: sti",
      "vcpu0: cli",
      "vcpu0: pic inta",
      "run",
    ),
    fc.integer({ min: 0, max: 7 }).map((n) => `vcpu0: out port=0x20 value=${hex(0x60 | n)}`),
    fc.tuple(fc.constantFrom(0x21, 0xa1), fc.integer({ min: 0, max: 0xff })).map(([p, m]) =>
      `vcpu0: out port=${hex(p)} value=${hex(m)}`
    ),
    fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 1 })).map(([g, l]) =>
      `vmm: kvm irq_line gsi=${g} level=${l}`
    ),
  );
}

propertyTest("property: an 8259 ISR bit is set only by an interrupt acknowledge (INTA)", (fc) => {
  let acked = 0;
  fc.assert(
    fc.property(fc.array(picStatement(fc), { minLength: 10, maxLength: 40 }), (body) => {
      const text = scenario(body, "on vcpu0 vector 0x20..0x2f { }\n");
      const lines = text.split("\n");
      let before = [0, 0];
      let takes = 0;
      eachStep(text, (read, state, line) => {
        const after = [read("pic.master.isr") as number, read("pic.slave.isr") as number];
        const taken = state.took.filter((t) => t.kind === "extint").length;
        const inta = /pic inta/.test(lines[line - 1]) || taken > takes;
        for (const i of [0, 1]) {
          const gained = after[i] & ~before[i];
          assert.ok(
            gained === 0 || inta,
            `line ${line} (${lines[line - 1]}): ISR gained ${hex(gained)}`,
          );
          if (gained) acked++;
        }
        before = after;
        takes = taken;
      });
    }),
    PARAMS,
  );
  assert.ok(acked > 0, "no generated scenario acknowledged an 8259 interrupt");
});

/** Xen 2-level event channels: sends, masks and unmasks on three IPI-bound ports. */
function xenStatement(fc: FastCheck): Arbitrary<string> {
  return fc.tuple(
    fc.integer({ min: 0, max: 2 }),
    fc.constantFrom(
      "xen: send",
      "vcpu0: evtchn mask",
      "vcpu0: xen evtchn_unmask",
      "vcpu0: evtchn unmask",
    ),
  ).map(([p, op]) => `${op} $p${p}`);
}

propertyTest(
  "property: Xen 2-level: a pending unmasked port has its selector bit and upcall pending",
  (fc) => {
    // evtchn_2l_set_pending and the EVTCHNOP_unmask path: P && !M sets the
    // word's selector bit and evtchn_upcall_pending; nothing here clears them.
    let shown = 0;
    fc.assert(
      fc.property(fc.array(xenStatement(fc), { minLength: 5, maxLength: 30 }), (body) => {
        const text = `scenario "property"\nvm g { arch x86_64  hypervisor xen  vcpus 1 }\n` +
          "vcpu0: xen set_callback_irq vector=0xf3\n" +
          "vcpu0: evtchn bind_ipi -> $p0\nvcpu0: evtchn bind_ipi -> $p1\nvcpu0: evtchn bind_ipi -> $p2\n" +
          `${body.join("\n")}\n`;
        eachStep(text, (read, state, line) => {
          for (const name of ["p0", "p1", "p2"]) {
            const p = state.env.get(name) as number | undefined;
            if (p === undefined) continue;
            if (
              read("shared.evtchn_pending[#]", p) !== 1 || read("shared.evtchn_mask[#]", p) !== 0
            ) {
              continue;
            }
            shown++;
            const sel = Number(read("vcpu#.info.evtchn_pending_sel", 0));
            assert.ok((sel >> Math.floor(p / 64)) & 1, `line ${line}: port ${p}, selector ${sel}`);
            assert.equal(read("vcpu#.xen.upcall_pending", 0), 1, `line ${line}: port ${p}`);
          }
        });
      }),
      PARAMS,
    );
    assert.ok(shown > 0, "no generated scenario left a port pending and unmasked");
  },
);

/** GICv3, one CPU: SPI lines, acknowledges (IAR1), EOIs of the latest acknowledge, PMR. */
function gicOp(fc: FastCheck): Arbitrary<string> {
  return fc.oneof(
    fc.tuple(fc.integer({ min: 32, max: 39 }), fc.integer({ min: 0, max: 1 })).map((
      [n, l],
    ) => `vmm: kvm irq_line type=spi num=${n} level=${l}`),
    fc.constant("ack"),
    fc.constant("eoi"),
    fc.integer({ min: 2, max: 15 }).map((p) => `vcpu0: write icc_pmr ${hex(p * 16)}`),
  );
}

/** Statements from ops: each EOI names the latest acknowledge not yet EOI'd, as software must. */
function gicBody(ops: readonly string[]): string[] {
  const out: string[] = [], stack: number[] = [];
  let k = 0;
  for (const op of ops) {
    if (op === "ack") {
      out.push(`vcpu0: read icc_iar1 -> $a${k}`);
      stack.push(k++);
    } else if (op === "eoi") {
      const top = stack.pop();
      if (top !== undefined) out.push(`vcpu0: write icc_eoir1 $a${top}`);
    } else out.push(op);
  }
  return out;
}

/** The priorities of SPIs 32..39: two share one, so equal priorities must not nest. */
const SPI_PRIORITY = [0x80, 0x40, 0xc0, 0x20, 0xa0, 0x60, 0x40, 0xe0];

propertyTest(
  "property: GICv3: a CPU's active interrupts have pairwise distinct group priorities",
  (fc) => {
    // IAR1 acknowledges only above the running priority (the highest active
    // group priority), so nested activations climb.
    let nested = 0;
    fc.assert(
      fc.property(fc.array(gicOp(fc), { minLength: 10, maxLength: 40 }), (ops) => {
        const setup = SPI_PRIORITY.map((p, i) =>
          `vcpu0: write gicd.ipriorityr[${8 + (i >> 2)}] ${hex(p)} byte=${i % 4}`
        );
        const text = `scenario "property"\nvm arm { arch arm64  vcpus 1  gic v3 }\n` +
          `vcpu0: gic enable\n${setup.join("\n")}\nvcpu0: write gicd.isenabler[1] 0xff\n` +
          `${gicBody(ops).join("\n")}\n`;
        eachStep(text, (read, _s, line) => {
          const active = SPI_PRIORITY.filter((_, i) => read("gicd.intid[#].active", 32 + i) === 1);
          // The default binary point: the group priority is bits 7:1.
          const groups = new Set(active.map((p) => p >> 1));
          assert.equal(groups.size, active.length, `line ${line}: active ${active.map(hex)}`);
          if (active.length > 1) nested++;
        }, ARM);
      }),
      PARAMS,
    );
    assert.ok(nested > 0, "no generated scenario had two interrupts active at once");
  },
);
