import assert from "node:assert/strict";
import { check, PASSES } from "./mod.ts";
import { MAX_PROBLEMS } from "./context.ts";
import { parse } from "../parse.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";

/** Every problem `check` reports for `text`, as [line, message]. */
function problems(text: string): [number, string][] {
  try {
    check(parse(text, "p.scn"), { platforms: PLATFORMS, text });
  } catch (e) {
    assert.ok(e instanceof ScnError);
    return e.diagnostics.map((d) => [d.loc.start.line, d.message]);
  }
  return [];
}

Deno.test("check() reports every problem of every pass in one run, in source order", () => {
  const text = [
    'scenario "several mistakes"',
    "tags a, a",
    "vm g { arch x86_64 vcpus 2 }",
    "vcpu0: eio",
    "vcpu3: sti",
    "expect $y == 1",
  ].join("\n") + "\n";
  assert.deepEqual(problems(text), [
    [2, "tag 'a' given twice"],
    [4, "unknown command 'eio' for vcpu0"],
    [5, "unknown vCPU 'vcpu3': vm 'g' has 2 vCPUs (vcpu0..vcpu1)"],
    [6, "'$y' is used before it is bound"],
  ]);
});

Deno.test("problems from different passes come in source order", () => {
  const text = 'scenario "t"\nvm g { arch x86_64 }\nvcpu0: eio\ntags b, b\n';
  assert.deepEqual(problems(text).map(([line]) => line), [3, 4]);
});

Deno.test("a statement that failed still binds its variable: no echo where it is used", () => {
  const text = 'scenario "t"\nvm g { arch x86_64 }\nlet $x = $nope\nexpect $x == 1\n';
  assert.deepEqual(problems(text), [[3, "'$nope' is used before it is bound"]]);
});

Deno.test("a problem inside a block is reported, and the statements after the block too", () => {
  const text =
    'scenario "t"\nvm g { arch x86_64 }\nrepeat 2 {\n  vcpu0: eio\n}\nvcpu0: lapic enabel\n';
  assert.deepEqual(problems(text).map(([line]) => line), [4, 6]);
});

Deno.test("a broken vm block skips the passes that read the vms: no echoes of it", () => {
  const text = 'scenario "t"\nvm g { arch x86_64 vcpus 0x100000 }\nvcpu0: eio\n';
  const found = problems(text);
  assert.equal(found.length, 1);
  assert.equal(found[0][0], 2);
});

Deno.test("the checker stops after MAX_PROBLEMS problems", () => {
  const lines = Array.from({ length: MAX_PROBLEMS + 20 }, () => "vcpu0: eio");
  const text = 'scenario "t"\nvm g { arch x86_64 }\n' + lines.join("\n") + "\n";
  assert.equal(problems(text).length, MAX_PROBLEMS);
});

Deno.test("PASSES: unique names, and a pass needs only passes that run before it", () => {
  const seen = new Set<string>();
  for (const p of PASSES) {
    assert.ok(!seen.has(p.name), `${p.name} twice`);
    for (const n of p.needs) assert.ok(seen.has(n), `${p.name} needs ${n}, which runs later`);
    seen.add(p.name);
  }
});
