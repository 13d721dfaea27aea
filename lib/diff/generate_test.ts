import assert from "node:assert/strict";
import { runProgram } from "../engine/run.ts";
import { checkText } from "../api/scenario.ts";
import { X86 } from "../api/platforms.ts";
import { caseText, generateCase } from "./generate.ts";

const CASES = 400;

Deno.test("generateCase() gives scenarios that pass 'scn check' and run on the model, over many seeds", () => {
  for (const seed of [1, 2, 0xdead]) {
    for (let i = 0; i < CASES / 4; i++) {
      const text = caseText(generateCase(seed, i));
      let program;
      try {
        program = checkText(text, `gen_${seed}_${i}.scn`, { platforms: [X86] });
      } catch (e) {
        assert.fail(`case ${seed}:${i} does not check: ${(e as Error).message}\n${text}`);
      }
      // No storms: every case settles within the default step budget.
      const r = runProgram(program, { trace: false });
      assert.equal(r.status, "pass", `case ${seed}:${i}`);
    }
  }
});

Deno.test("generateCase() is deterministic for a seed and index, and differs between them", () => {
  assert.equal(caseText(generateCase(1, 5)), caseText(generateCase(1, 5)));
  assert.notEqual(caseText(generateCase(1, 5)), caseText(generateCase(1, 6)));
  assert.notEqual(caseText(generateCase(1, 5)), caseText(generateCase(2, 5)));
});

Deno.test("generateCase() covers every kind of statement the issue lists, over a few hundred cases", () => {
  const all = Array.from({ length: CASES }, (_, i) => caseText(generateCase(3, i))).join("\n");
  const wanted = [
    /vcpus 1 /,
    /vcpus 4 /,
    /lapic x2apic/,
    /: lapic enable/,
    /write lapic\.tpr|wrmsr msr=0x808/,
    /write lapic\.lvt|wrmsr msr=0x83[357]/,
    /write lapic\.svr|wrmsr msr=0x80f/,
    /write lapic\.ldr/,
    /write ioapic\.redtbl\[\d+\] .*trigger=level/,
    /write ioapic\.redtbl\[\d+\] .*mask=1/,
    /dest_mode=logical/,
    /delivery_mode=lowest/,
    /irqchip=ioapic pin=/,
    /gsi=\d+ address_lo=/,
    /kvm irq_line gsi=\d+ level=1/,
    /kvm irq_line gsi=\d+ level=0/,
    /kvm signal_msi/,
    /ipi vector=\S+ dest=/,
    /shorthand=self/,
    /shorthand=all_but_self/,
    /shorthand=all\b/,
    /: sti/,
    /: cli/,
    /\{ eoi \}/,
    /^vcpu\d: eoi$/m,
    /^run$/m,
  ];
  for (const w of wanted) assert.match(all, w);
});

Deno.test("caseText() with a subset of units still checks (the shrinker relies on it)", () => {
  const c = generateCase(4, 0);
  for (let drop = 0; drop < c.units.length; drop++) {
    const units = c.units.filter((_, i) => i !== drop);
    checkText(caseText(c, units, ["# shrunk"]), "s.scn", { platforms: [X86] });
  }
});
