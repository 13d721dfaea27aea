import assert from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { runProgram } from "../interp/run.ts";
import { armPlatform } from "./platform.ts";
import type { Platform } from "../interp/platform.ts";
import { ScnError } from "../core/diagnostic.ts";

function run(text: string) {
  const program = check(parse(text, "t.scn"), {
    platforms: [armPlatform as unknown as Platform],
    text,
  });
  return runProgram(program);
}

Deno.test("armPlatform runs the ITS MOVI example to a pass", () => {
  const r = run(`scenario "movi"
vm arm { arch arm64  vcpus 2  gic v3 { its } }
vcpu0: gic enable
vcpu1: gic enable
vcpu0: its mapd device=0x10 bits=4
vcpu0: its mapc collection=0 target=0
vcpu0: its mapc collection=1 target=1
vcpu0: its mapti device=0x10 event=3 lpi=8192 collection=0
vcpu0: lpi enable 8192 priority=0xa0
device 0x10: msi event=3
vcpu0: its movi device=0x10 event=3 collection=1
vcpu1: unmask irqs
run
expect vcpu1 took 8192 once
expect vcpu0 took nothing
`);
  assert.equal(r.status, "pass");
  assert.deepEqual(r.took.map((t) => [t.cpu, t.kind, t.vector]), [["vcpu1", "irq", 8192]]);
});

Deno.test("armPlatform refuses 'irqchip userspace' at check time", () => {
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  irqchip userspace }\n`),
    (e: unknown) =>
      e instanceof ScnError &&
      e.diagnostics[0].message.startsWith(
        "'irqchip userspace' is refused: KVM/arm64 has no userspace irqchip",
      ),
  );
});
