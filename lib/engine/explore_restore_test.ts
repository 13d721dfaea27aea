import assert from "node:assert/strict";
import type { Program } from "../../dsl/program.ts";
import { ScnError } from "../core/diagnostic.ts";
import { Lapic } from "../x86/lapic.ts";
import { X86Vm } from "../x86/vm.ts";
import { exploreLibrary } from "../../tests/explore_library.ts";
import {
  explore,
  runItem,
  runItems,
  runSearch,
  Search,
  SearchContext,
  type SearchEvent,
  type WorkItem,
} from "./explore.ts";
import { Fingerprinter } from "./explore_fingerprint.ts";
import { checkText } from "../api/scenario.ts";

interface Recorded {
  /** The events of every item, in the order merged. */
  merged: SearchEvent[][];
  /** At every fingerprinted state, every state path and public field, word for word. */
  states: string[];
  /** The failing path, or the error that ended the search. */
  outcome: string;
}

/** Searches `program` and records everything the search saw. */
function record(program: Program, restore: boolean, reduce: boolean): Recorded {
  const ctx = new SearchContext(program, { reduce, maxStates: 1000, restore });
  const out: Recorded = { merged: [], states: [], outcome: "" };
  if (!reduce) {
    const reference = new Fingerprinter(program, { hooks: false, exact: true });
    const fast = ctx.fingerprinter;
    const of = fast.of.bind(fast);
    fast.of = (state, position) => {
      out.states.push(reference.of(state, position));
      return of(state, position);
    };
  }
  const search = new Search(ctx);
  const merge = search.merge.bind(search);
  search.merge = (events) => {
    out.merged.push(structuredClone([...events]));
    return merge(events);
  };
  try {
    out.outcome = JSON.stringify(runSearch(search));
  } catch (e) {
    if (!(e instanceof ScnError)) throw e;
    out.outcome = e.message;
  }
  return out;
}

/** Counts the restores x86 VMs make while `fn` runs. */
function countingRestores<T>(fn: () => T): { value: T; restores: number } {
  const original = X86Vm.prototype.snapshot;
  let restores = 0;
  X86Vm.prototype.snapshot = function (this: X86Vm) {
    const r = original.call(this);
    return r && (() => (restores++, r()));
  };
  try {
    return { value: fn(), restores };
  } finally {
    X86Vm.prototype.snapshot = original;
  }
}

/** The scenarios whose search differs between restoring and running again. */
function differing(reduce: boolean): string[] {
  const bad: string[] = [];
  for (const { file, program } of exploreLibrary()) {
    const again = record(program, false, reduce);
    const restored = record(program, true, reduce);
    try {
      assert.deepEqual(restored, again);
    } catch {
      bad.push(file);
    }
  }
  return bad;
}

Deno.test("orders started from the block's snapshot search as orders run again from the start (library)", () => {
  const { value: bad, restores } = countingRestores(() => differing(false));
  assert.deepEqual(bad, [], "searches that differ with restore on");
  // The snapshots are what is under test: they were used, and often.
  assert.ok(restores > 300, `${restores} restores`);
});

Deno.test("an order after one that went to the end starts from the snapshot, not a new VM", () => {
  // The bench's search: four of its orders go to the end of the scenario.
  const program = checkText(
    Deno.readTextFileSync(new URL("../../bench/scenarios/explore_interleave.scn", import.meta.url)),
    "explore_interleave.scn",
  );
  const original = X86Vm.prototype.snapshot;
  let snapshots = 0;
  X86Vm.prototype.snapshot = function (this: X86Vm) {
    snapshots++;
    return original.call(this);
  };
  let result;
  try {
    ({ value: result } = countingRestores(() => explore(program, { reduce: false })));
  } finally {
    X86Vm.prototype.snapshot = original;
  }
  assert.ok(result.stats.complete >= 2, `${result.stats.complete} orders went to the end`);
  // One VM, saved once: every later order, after an end too, is put back into it.
  assert.equal(snapshots, 1);
  // Restart-from-the-start gives the same search (the library tests above compare them).
  const again = explore(program, { reduce: false, restore: false });
  assert.deepEqual(result.stats, again.stats);
});

Deno.test("with the reduction on too, restoring changes no search (library)", () => {
  assert.deepEqual(differing(true), []);
});

Deno.test("a LAPIC that puts nothing back is caught by the comparison", () => {
  const original = Lapic.prototype.snapshot;
  Lapic.prototype.snapshot = function (this: Lapic) {
    const r = original.call(this);
    return r && (() => {});
  };
  try {
    const x86 = exploreLibrary().filter(({ program }) =>
      program.vms.some((vm) => vm.settings.arch === "x86_64")
    );
    const caught = x86.some(({ program }) => {
      try {
        assert.deepEqual(record(program, true, false), record(program, false, false));
        return false;
      } catch {
        return true;
      }
    });
    assert.ok(caught, "no library scenario told the sabotaged LAPIC apart");
  } finally {
    Lapic.prototype.snapshot = original;
  }
});

Deno.test("a worker's items run from a snapshot give each item's events as run alone (library)", () => {
  let restored = 0;
  for (const { file, program } of exploreLibrary()) {
    // Every item of a whole search, and the states it found: a worker's view late in a search.
    const ctx = new SearchContext(program, { reduce: false, maxStates: 1000, restore: false });
    const search = new Search(ctx);
    const items: WorkItem[] = [];
    const merge = search.merge.bind(search);
    search.merge = (events) => {
      for (const e of events) if (e.e === "push") items.push(e.item);
      return merge(events);
    };
    try {
      runSearch(search);
    } catch (e) {
      if (!(e instanceof ScnError)) throw e;
    }
    const seen = (k: string, z: readonly number[]) => search.seen.covers(k, z);
    const alone = items.map((item) => runItem(item, ctx, seen));
    const withRestore = new SearchContext(program, { reduce: false, maxStates: 1000 });
    const { value: together, restores } = countingRestores(() =>
      runItems(items, withRestore, seen)
    );
    restored += restores;
    assert.deepEqual(structuredClone(together), structuredClone(alone), file);
  }
  assert.ok(restored > 300, `${restored} restores`);
});

/**
 * Every field a class declares, and where its snapshot hook (`snapshot()`,
 * or `copyFrom()`) is, from the source. JavaScript cannot list `#private`
 * fields, so this is how a field added later without being saved is
 * caught: it must be named in the hook, saved or said to be fixed.
 */
function classesWithHooks(source: string): { name: string; fields: string[]; hook: string }[] {
  const out: { name: string; fields: string[]; hook: string }[] = [];
  const classes = source.matchAll(/^(?:export )?class (\w+)[^\n]*\{\n([\s\S]*?)^\}/gm);
  for (const [, name, body] of classes) {
    const hook = /^ {2}(?:snapshot|copyFrom)\([^\n]*\{\n([\s\S]*?)^ {2}\}/m.exec(body);
    if (hook === null) continue;
    const fields = new Set<string>();
    const decl =
      /^ {2}(?:(?:readonly|private|public|protected|static|declare|override) )*(#?[A-Za-z_$][\w$]*)[?!]?\s*[:=;]/gm;
    for (const m of body.matchAll(decl)) fields.add(m[1]);
    const ctor = /^ {2}constructor\(([\s\S]*?)\)\s*\{/m.exec(body);
    const params = /(?:^|[(,])\s*(?:readonly|public|private|protected) (\w+)\s*[:?]/g;
    for (const m of ctor?.[1].matchAll(params) ?? []) {
      fields.add(m[1]);
    }
    out.push({ name, fields: [...fields], hook: hook[0] });
  }
  return out;
}

const HOOKED = [
  "lib/x86/vm.ts",
  "lib/x86/cpu.ts",
  "lib/x86/lapic.ts",
  "lib/x86/lapic_timer.ts",
  "lib/x86/kvm_run.ts",
  "lib/x86/ioapic.ts",
  "lib/x86/i8259.ts",
  "lib/x86/kvm_routing.ts",
  "lib/x86/apic_bus.ts",
  "lib/x86/kvm_apic_map.ts",
  "lib/engine/history.ts",
  "lib/engine/run.ts",
  "lib/core/event_queue.ts",
];

Deno.test("every field of a class with a snapshot hook is named in the hook", () => {
  const missing: string[] = [];
  let classes = 0;
  for (const file of HOOKED) {
    const source = Deno.readTextFileSync(file);
    // The hook's doc comment says what is fixed at creation.
    const withDocs = source.replace(
      /^( *)\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\n +(snapshot|copyFrom)\(/gm,
      (_, indent: string, doc: string, name: string) =>
        `${indent}${name}(/* ${doc.replaceAll("\n", " ")} */ `,
    );
    for (const c of classesWithHooks(withDocs)) {
      classes++;
      for (const f of c.fields) {
        const word = new RegExp(`(?<![\\w$#])${f.replace("$", "\\$")}(?![\\w$])`);
        if (!word.test(c.hook)) missing.push(`${file}: ${c.name}.${f}`);
      }
    }
  }
  assert.deepEqual(
    missing,
    [],
    "fields a snapshot hook does not name: save and put back each one that can change " +
      "(scn explore would otherwise start orders from a state that lost it), or name it " +
      "in the hook's doc comment as fixed at creation, derived or scratch",
  );
  assert.ok(classes >= 13, `${classes} classes with hooks found`);
});
