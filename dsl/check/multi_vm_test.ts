import assert from "node:assert/strict";
import { check } from "./mod.ts";
import { parse } from "../parse.ts";
import { formatText } from "../format.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";
import { runProgram } from "../../lib/engine/run.ts";

const TWO = 'scenario "two"\nvm g { arch x86_64  hypervisor xen  vcpus 1 }\n' +
  "vm h { arch x86_64  vcpus 1 }\n";

function run(lines: string) {
  const text = TWO + lines;
  return runProgram(check(parse(text, "m.scn"), { platforms: PLATFORMS, text }));
}

function errorOf(lines: string): { message: string; hint?: string } {
  try {
    run(lines);
  } catch (e) {
    assert.ok(e instanceof ScnError);
    return { message: e.diagnostics[0].message, hint: e.diagnostics[0].hint };
  }
  throw new Error("no error");
}

Deno.test("every actor can be named in any VM: g.device d4, g.vmm, g.xen, g.vcpu0", () => {
  const r = run([
    "g.vcpu0: lapic enable",
    "g.vcpu0: write ioapic.redtbl[4] vector=0x44 trigger=level dest=0",
    "g.device d4: assert gsi=4",
    "expect g.ioapic.pin[4].remote_irr == 1",
    "expect h.ioapic.pin[4].remote_irr == 0",
    "h.vmm: kvm irq_line gsi=5 level=1",
    "expect h.ioapic.pin[5].line == 1",
    "g.vcpu0: evtchn bind_ipi -> $p",
    "g.xen: send $p",
    "expect g.shared.evtchn_pending[$p] == 1",
    "",
  ].join("\n"));
  assert.equal(r.status, "pass", JSON.stringify(r.failures.map((f) => [f.text, f.actual])));
});

Deno.test("with several VMs, an actor or path without one says the forms that work", () => {
  assert.deepEqual(errorOf("device d4: assert gsi=4\n"), {
    message: "several vms are declared: say which one 'device d4' belongs to",
    hint: "write 'g.device d4' or 'h.device d4'",
  });
  assert.deepEqual(errorOf("vmm: kvm irq_line gsi=5 level=1\n"), {
    message: "several vms are declared: say which one 'vmm' belongs to",
    hint: "write 'g.vmm' or 'h.vmm'",
  });
  assert.deepEqual(errorOf("xen: send 3\n"), {
    message: "several vms are declared: say which one 'xen' belongs to",
    hint: "write 'g.xen' or 'h.xen'",
  });
  assert.deepEqual(errorOf("expect ioapic.pin[4].line == 0\n"), {
    message: "several vms are declared: say which one 'ioapic.pin[4].line' belongs to",
    hint: "write 'g.ioapic.pin[4].line' or 'h.ioapic.pin[4].line'",
  });
});

Deno.test("scn fmt keeps a VM-qualified device actor", () => {
  const text = TWO + "g.device   d4:  assert gsi=4\n";
  assert.equal(formatText(text).slice(TWO.length), "g.device d4: assert gsi=4\n");
});
