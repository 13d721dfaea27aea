import assert from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { format } from "../../dsl/format.ts";
import type { NumberLit, ScnFile, Statement } from "../../dsl/ast.ts";
import {
  allStatements,
  contains,
  mergeRepeats,
  numbersIn,
  replaceNode,
  simplerForms,
  smallerValues,
  withValue,
} from "./edits.ts";

function print(file: ScnFile, text: string, body: Statement[]): string {
  return format({ ...file, body, comments: [] }, text);
}

Deno.test("replaceNode() copies the path to the node and shares everything else", () => {
  const text = "vcpu0: sti\nrepeat 2 {\n  run\n  vcpu0: cli\n}\n";
  const file = parse(text, "t.scn");
  const repeat = file.body[1] as Statement & { kind: "repeat" };
  const edited = replaceNode(file, repeat.body, repeat.body.slice(1));
  assert.notEqual(edited, file);
  assert.equal(edited.body[0], file.body[0], "an untouched statement is shared");
  assert.equal((edited.body[1] as typeof repeat).body[0], repeat.body[1], "the kept one too");
  assert.equal(edited.body[1].loc, repeat.loc, "locations are kept");
  assert.equal(file.body.length, 2);
  assert.equal(repeat.body.length, 2, "the original is not changed");
  assert.equal(print(edited, text, edited.body), "vcpu0: sti\nrepeat 2 {\n  vcpu0: cli\n}\n");
});

Deno.test("mergeRepeats() adds the counts of two repeats of one body, in the first one's base", () => {
  const text = "repeat 0x2 {\n  run\n}\nrepeat 3 {\n  run\n}\nrepeat 3 {\n  vcpu0: sti\n}\n";
  const file = parse(text, "t.scn");
  const [a, b, c] = file.body;
  const merged = mergeRepeats(a, b);
  assert.ok(merged);
  assert.equal(print(file, text, [merged]), "repeat 0x5 {\n  run\n}\n");
  assert.equal(mergeRepeats(b, c), null, "different bodies stay apart");
  assert.equal(mergeRepeats(a, parse("run\n").body[0]), null, "only repeats merge");
});

Deno.test("simplerForms() unwraps repeat, parallel and both if branches, hands an actor to its commands, drops a run's duration", () => {
  const text = [
    "repeat 2 {\n  run\n}",
    "parallel {\n  vcpu0: sti\n  vcpu1: sti\n}",
    "vcpu0: if bit test x {\n  eoi\n} else {\n  cli\n}",
    "run 5ms",
    "for $i in 0..2 {\n  run\n}",
    "on vcpu0 vector 0x41 { eoi }",
    "",
  ].join("\n");
  const file = parse(text, "t.scn");
  const forms = file.body.map((s) => simplerForms(s).map((b) => print(file, text, b)));
  assert.deepEqual(forms, [
    ["run\n"],
    ["vcpu0: sti\nvcpu1: sti\n"],
    ["vcpu0: eoi\n", "vcpu0: cli\n"],
    ["run\n"],
    [],
    [],
  ]);
});

Deno.test("withValue() writes the new value in the literal's base; smallerValues() tries 0, 1, half", () => {
  const file = parse("vcpu0: write x a=0x30 b=0XFF c=0b110 d=1_000\n", "t.scn");
  const [hex, upper, bin, dec] = numbersIn(file.body[0]) as NumberLit[];
  assert.deepEqual(
    [withValue(hex, 0x18n), withValue(upper, 0x7fn), withValue(bin, 3n), withValue(dec, 500n)].map((
      n,
    ) => n.text),
    ["0x18", "0X7F", "0b11", "500"],
  );
  assert.equal(withValue(hex, 0x18n).value, 0x18n);
  assert.deepEqual(smallerValues(0x30n), [0n, 1n, 0x18n]);
  assert.deepEqual(smallerValues(1n), [0n]);
  assert.deepEqual(smallerValues(0n), []);
});

Deno.test("allStatements() lists nested statements in source order; contains() goes by location", () => {
  const file = parse("run\nrepeat 2 {\n  vcpu0: sti\n}\nexpect x == 1\n", "t.scn");
  const all = allStatements(file);
  assert.deepEqual(all.map((s) => s.kind), ["run", "repeat", "action", "expect"]);
  assert.ok(contains(all[1], all[2]));
  assert.ok(!contains(all[1], all[3]));
});
