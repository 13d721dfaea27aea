import assert from "node:assert/strict";
import { check } from "./mod.ts";
import { parse } from "../parse.ts";
import type { Op } from "../program.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";
import { mainParams } from "../../lib/core/table.ts";
import { runProgram } from "../../lib/engine/run.ts";

const HEAD = 'scenario "a"\nvm g { arch x86_64  hypervisor xen  vcpus 1 }\n';

function call(line: string) {
  const text = HEAD + line + "\n";
  const op = check(parse(text, "a.scn"), { platforms: PLATFORMS, text }).body[0] as Op & {
    op: "do";
  };
  return op.call;
}

/** A call's arguments as name -> literal value, and its register access. */
function args(line: string) {
  const c = call(line);
  return {
    args: Object.fromEntries(
      c.args.map((a) => [a.param.name, a.expr.e === "lit" ? a.expr.value : a.expr.e]),
    ),
    register: c.register &&
      {
        name: c.register.spec.name,
        raw: c.register.raw?.e === "lit" ? c.register.raw.value : null,
        fields: c.register.fields.map((f) => f.field.name),
      },
  };
}

Deno.test("every command's main argument may be positional: its marked ones, else its first", () => {
  assert.deepEqual(
    args("vcpu0: evtchn bind_virq_number 24 vcpu=0"),
    args("vcpu0: evtchn bind_virq_number virq=24 vcpu=0"),
  );
  assert.deepEqual(args("vcpu0: ipi 0x41").args, args("vcpu0: ipi vector=0x41").args);
  assert.deepEqual(
    args("device nic: assert 14").args,
    args("device nic: assert gsi=14").args,
  );
});

Deno.test("every argument may be named, a register and its whole value too", () => {
  assert.deepEqual(
    args("vcpu0: write register=lapic.tpr value=0x50"),
    args("vcpu0: write lapic.tpr 0x50"),
  );
  assert.deepEqual(
    args("vcpu0: write register=ioapic.redtbl[3] vector=0x33 mask=1"),
    args("vcpu0: write ioapic.redtbl[3] vector=0x33 mask=1"),
  );
});

Deno.test("every command of every platform has both forms: a main parameter or only named ones", () => {
  for (const p of PLATFORMS) {
    for (const c of p.commands) {
      const main = mainParams(c);
      const register = c.params.some((x) => x.type.kind === "register");
      // A command with parameters has a main one, or a register (its own positional form).
      if (c.params.length) assert.ok(main.length > 0 || register, `${c.name} has no main argument`);
      for (const m of main) assert.ok(c.params.includes(m));
    }
  }
});

Deno.test("the positional form runs as the named one", () => {
  const text = HEAD + [
    "vcpu0: evtchn bind_virq_number 24 -> $r",
    "expect $r == -EINVAL",
    "",
  ].join("\n");
  assert.equal(
    runProgram(check(parse(text, "a.scn"), { platforms: PLATFORMS, text })).status,
    "pass",
  );
});
