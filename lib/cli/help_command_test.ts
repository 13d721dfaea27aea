import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";

function scn(args: string[]): { code: number; out: string; err: string } {
  const out: string[] = [], err: string[] = [];
  const io: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    color: false,
    writeFile: () => {
      throw new Error("no writes expected");
    },
  };
  return { code: main(args, io), out: out.join("\n"), err: err.join("\n") };
}

Deno.test("scn help answers for every command", () => {
  const expect: Record<string, RegExp> = {
    run: /--max-steps N/,
    check: /scn check/,
    fmt: /--write/,
    minimize: /--max-runs N/,
    diff: /--against kvm/,
    explore: /parallel/,
    report: /scn report/,
  };
  for (const [topic, text] of Object.entries(expect)) {
    const c = scn(["help", topic]);
    assert.equal(c.code, 0, `scn help ${topic}: ${c.err}`);
    assert.match(c.out, text, topic);
  }
});

Deno.test("scn help suggests commands a partial or suffix name belongs to", () => {
  const suffix = scn(["help", "set_callback_irq"]);
  assert.equal(suffix.code, 2);
  assert.match(suffix.err, /did you mean .*'scn help xen set_callback_irq'/);
  const partial = scn(["help", "irq_lin"]);
  assert.match(partial.err, /'scn help kvm irq_line'/);
});

Deno.test("scn help write lists each architecture's register names from its register files", () => {
  const c = scn(["help", "write"]);
  assert.equal(c.code, 0);
  assert.match(c.out, /gicd\. ctlr typer/);
  assert.match(c.out, /lapic\. .*tpr/);
});
