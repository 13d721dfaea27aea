import assert from "node:assert/strict";
import { checkText } from "../api/scenario.ts";
import { History, type TookCond } from "./history.ts";
import type { Val } from "../core/table.ts";
import { valEquals } from "../core/values.ts";

/** The list semantics of `took` that the counted history must answer alike. */
function reference(
  takes: { kind: string; vector: number }[],
  wanted: Val[],
  count: number | null,
  inOrder: boolean,
): boolean {
  const m = (t: { kind: string; vector: number }, w: Val) =>
    typeof w === "string" ? t.kind === w : valEquals(t.vector, w);
  for (const w of wanted) {
    const n = takes.filter((t) => m(t, w)).length;
    if (count === null ? n === 0 : n !== count) return false;
  }
  if (!inOrder) return true;
  const seq = takes.filter((t) => wanted.some((w) => m(t, w)));
  return seq.length === wanted.length && seq.every((t, i) => m(t, wanted[i]));
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

Deno.test("counted history answers 'took' as the list of takes does (random takes and lists)", () => {
  const kinds = ["vector", "vector", "vector", "nmi", "extint"];
  const rnd = lcg(7);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  for (let trial = 0; trial < 300; trial++) {
    const wanted: Val[] = Array.from(
      { length: 1 + Math.floor(rnd() * 3) },
      () => rnd() < 0.2 ? "nmi" : pick([0x30, 0x40, 0x50]),
    );
    const variable = rnd() < 0.3;
    const lines = [
      'scenario "t"',
      "vm g { arch x86_64  vcpus 2 }",
      ...(variable ? [`let $w = ${typeof wanted[0] === "string" ? 0x30 : wanted[0]}`] : []),
      `expect vcpu1 took [${
        wanted.map((
          w,
          i,
        ) => (variable && i === 0 ? "$w" : typeof w === "string" ? w : `0x${w.toString(16)}`))
          .join(", ")
      }] in order`,
    ];
    if (variable && typeof wanted[0] === "string") wanted[0] = 0x30;
    const program = checkText(lines.join("\n") + "\n", "t.scn");
    const cond = (program.body.find((o) => o.op === "expect") as { cond: TookCond }).cond;
    const h = new History(program, [["vcpu0", "vcpu1"]], false);
    const takes: { kind: string; vector: number }[] = [];
    const n = Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) {
      const kind = pick(kinds);
      const vector = kind === "nmi" ? -1 : pick([0x30, 0x40, 0x50, 0x60]);
      takes.push({ kind, vector });
      h.record(0, 1, kind, vector, 0, 0);
      // Another vCPU's takes are not this one's.
      if (rnd() < 0.3) h.record(0, 0, kind, vector, 0, 0);
      const inOrder = h.inOrder(cond, wanted) &&
        wanted.every((w) => h.count(0, 1, w) > 0);
      assert.equal(
        inOrder,
        reference(takes, wanted, null, true),
        JSON.stringify({ wanted, takes }),
      );
      for (const w of wanted) {
        assert.equal(
          h.count(0, 1, w),
          takes.filter((t) => reference([t], [w], null, false)).length,
        );
      }
    }
    assert.equal(h.total(0, 1), n);
    assert.equal(h.records.length, 0, "a counted history keeps no records");
  }
});

Deno.test("a full history keeps every take as a record; a counted one only counts", () => {
  const program = checkText('scenario "t"\nvm g { arch x86_64 }\n', "t.scn");
  const full = new History(program, [["vcpu0"]], true);
  const counted = new History(program, [["vcpu0"]], false);
  for (let i = 0; i < 1000; i++) {
    full.record(0, 0, "vector", 0x41, i, i + 1);
    counted.record(0, 0, "vector", 0x41, i, i + 1);
  }
  assert.equal(full.records.length, 1000);
  assert.deepEqual(full.records[999], {
    vm: "g",
    cpu: "vcpu0",
    kind: "vector",
    vector: 0x41,
    time: 999,
    event: 1000,
  });
  assert.equal(counted.records.length, 0);
  assert.equal(counted.count(0, 0, 0x41), 1000);
  assert.equal(counted.summary(0, 0), "0x41 (1000 times)");
});

Deno.test("a guessed first take changes no count, summary, digest or restore (random takes, right and wrong guesses)", () => {
  const program = checkText('scenario "t"\nvm g { arch x86_64 }\n', "t.scn");
  const rnd = lcg(11);
  const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
  const kinds = ["vector", "vector", "nmi", "extint"], vectors = [0x30, 0x41, 0x50];
  /** Everything a reader can see of vCPU 0's history. */
  const seen = (h: History) => {
    const fed: (number | string)[] = [];
    h.digest((x) => fed.push(x), (s) => fed.push(s));
    return JSON.stringify({
      total: h.total(0, 0),
      counts: [...vectors, "vector", "nmi", "extint"].map((w) => h.count(0, 0, w)),
      summary: h.summary(0, 0),
      fed,
    });
  };
  for (let trial = 0; trial < 300; trial++) {
    const plain = new History(program, [["vcpu0"]], false);
    const guessed = new History(program, [["vcpu0"]], false);
    guessed.guess(0, 0, pick(kinds), pick(vectors));
    const restores: { plain: () => void; guessed: () => void; at: string }[] = [];
    const n = Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.2) {
        restores.push({ plain: plain.snapshot(), guessed: guessed.snapshot(), at: seen(plain) });
      }
      const kind = pick(kinds), vector = kind === "nmi" ? -1 : pick(vectors);
      plain.record(0, 0, kind, vector, 0, 0);
      guessed.record(0, 0, kind, vector, 0, 0);
      if (rnd() < 0.5) assert.equal(seen(guessed), seen(plain));
    }
    assert.equal(seen(guessed), seen(plain));
    for (const r of restores.reverse()) {
      r.plain();
      r.guessed();
      assert.equal(seen(plain), r.at);
      assert.equal(seen(guessed), r.at);
    }
  }
});
