import assert from "node:assert/strict";
import type { Program } from "../../dsl/program.ts";
import type { StateHash, VmModel } from "../core/platform.ts";
import { ScnError } from "../core/diagnostic.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { checkText } from "../api/scenario.ts";
import { exploreLibrary } from "../../tests/explore_library.ts";
import { X86Vm } from "../x86/vm.ts";
import { ArmVm } from "../arm/vm.ts";
import { type Covered, runItem, Search, SearchContext } from "./explore.ts";
import { runProgram, type RunState } from "./run.ts";
import { Fingerprinter } from "./explore_fingerprint.ts";
import { setVersionChecks } from "../core/state_version.ts";
import { collectFiles, fileLoader } from "../load/files.ts";
import type { I8259ChipView } from "../x86/i8259.ts";

const scenarios = exploreLibrary;

interface Pairs {
  /** Fingerprint (models' hooks) to the exact reference of the first state that had it. */
  byKey: Map<string, string>;
  states: number;
  /** States that share a hook fingerprint with a state that differs from them in the reference. */
  merged: string[];
}

/**
 * Explores a program without the reduction, as `explore` does, computing at
 * every fingerprinted state both the fingerprint the search uses and the
 * reference: every published state path and every public field, word for
 * word (`exact`), with no model hook.
 */
function compare(program: Program): Pairs {
  const ctx = new SearchContext(program, { reduce: false, maxStates: 1000 });
  const reference = new Fingerprinter(program, { hooks: false, exact: true });
  const fast = ctx.fingerprinter;
  const of = fast.of.bind(fast);
  const pairs: Pairs = { byKey: new Map(), states: 0, merged: [] };
  fast.of = (state, position) => {
    const key = of(state, position);
    const ref = reference.of(state, position);
    const first = pairs.byKey.get(key);
    if (first === undefined) (pairs.byKey.set(key, ref), pairs.states++);
    else if (first !== ref) pairs.merged.push(key);
    return key;
  };
  const search = new Search(ctx);
  const seen: Covered = (k, z) => search.seen.covers(k, z);
  try {
    for (let d = 0; d < search.rounds.length; d++) {
      for (const item of search.rounds[d] ?? []) {
        // Past a failing order too: every state counts here, not the verdict.
        search.merge(runItem(item, ctx, seen));
      }
      search.rounds[d] = [];
    }
  } catch (e) {
    // A budget, or an order that errs: the states before it were compared.
    if (!(e instanceof ScnError)) throw e;
  }
  return pairs;
}

Deno.test("states with one fingerprint are equal in every state path and field (library)", () => {
  const all = scenarios();
  assert.ok(all.length >= 200, `only ${all.length} scenarios with parallel blocks`);
  const archs = new Set<string>();
  let states = 0;
  // Every digest kept under a version is checked against the words fed afresh, too.
  const was = setVersionChecks(true);
  try {
    for (const { file, program } of all) {
      for (const vm of program.vms) archs.add(String(vm.settings.arch));
      const pairs = compare(program);
      assert.deepEqual(pairs.merged, [], `${file}: states merged that differ`);
      states += pairs.states;
    }
  } finally {
    setVersionChecks(was);
  }
  // The hooks are what is under test: every platform has one, and there were states to compare.
  assert.ok(archs.has("x86_64") && archs.has("arm64"), [...archs].join(", "));
  assert.ok(states > 1000, `${states} states compared`);
});

Deno.test("every platform's VMs hash their private state (VmModel.hashPrivate)", () => {
  const seen = new Set<string>();
  for (const { program } of scenarios()) {
    const ctx = new SearchContext(program, { reduce: false, maxStates: 20 });
    const fast = ctx.fingerprinter;
    const of = fast.of.bind(fast);
    fast.of = (state, position) => {
      for (const vm of state.vms) {
        assert.equal(
          typeof vm.hashPrivate,
          "function",
          `${vm.constructor.name} has no hashPrivate`,
        );
        seen.add(vm.constructor.name);
      }
      return of(state, position);
    };
    try {
      runItem({ choices: [], sleep: [], cost: 0 }, ctx, () => false);
    } catch { /* budgets: the hook was seen before */ }
  }
  assert.deepEqual([...seen].sort(), ["ArmVm", "X86Vm"]);
});

Deno.test("the comparison finds a hook that leaves private state out", () => {
  // Orders that reach states differing only in what the models keep
  // private: x86 I/O APIC entries and LAPIC registers (two library
  // scenarios made parallel), and Arm's CNTV_CTL (masked, so no PPI shows it).
  const x86 = scenarios().filter(({ file }) =>
    /x86_19_mask_in_handler_then_unmask|x86_21_tmr_reflects_most_recent_acceptance/.test(file)
  );
  assert.equal(x86.length, 2);
  const arm = {
    file: "ctl.scn",
    program: checkText(
      `scenario "the guest and the VMM write CNTV_CTL in either order"
vm arm { arch arm64  vcpus 1  gic v3 }
parallel {
  vcpu0: timer ctl enable=1 imask=1
  vcpu0: nop
  vmm: kvm set_one_reg vcpu=0 reg=timer_ctl value=0
}
vcpu0: nop
`,
      "ctl.scn",
    ),
  };
  const cases: [VmModel, { file: string; program: Program }[]][] = [
    [X86Vm.prototype, x86],
    [ArmVm.prototype, [arm]],
  ];
  for (const [proto, programs] of cases) {
    const hook = proto.hashPrivate;
    proto.hashPrivate = (_h: StateHash) => {};
    try {
      for (const { file, program } of programs) {
        assert.notDeepEqual(compare(program).merged, [], file);
      }
    } finally {
      proto.hashPrivate = hook;
    }
    for (const { file, program } of programs) {
      assert.deepEqual(compare(program).merged, [], file);
    }
  }
});

/** A different value of the same kind, or undefined for what the walk sees only as a kind. */
function other(v: unknown): unknown {
  switch (typeof v) {
    case "number":
      return v + 1;
    case "boolean":
      return !v;
    case "string":
      return `${v}~`;
    case "bigint":
      return v + 1n;
    case "function":
    case "symbol":
      return undefined;
  }
  return { mutated: v === null || v === undefined ? 1 : 2 };
}

Deno.test("objects that hash their own fields feed every one of them (HashesFields)", () => {
  const missed = new Set<string>();
  const checked = new Set<string>();
  for (const { program } of scenarios()) {
    const fp = new Fingerprinter(program);
    const STOP = Symbol("stop");
    const check = (state: RunState) => {
      const base = fp.of(state, [0]);
      const changes = (): boolean => {
        try {
          return fp.of(state, [0]) !== base;
        } catch {
          // A stand-in the model cannot use (a timer replaced by a plain
          // object): the fingerprint read the field.
          return true;
        }
      };
      const seen = new Set<object>();
      const visit = (o: unknown): void => {
        if (o === null || typeof o !== "object" || seen.has(o)) return;
        seen.add(o);
        if (ArrayBuffer.isView(o)) return;
        const rec = o as Record<string, unknown>;
        const own = typeof rec.hashFields === "function";
        // Guest memory keeps its bytes private (pages made on first write) and
        // is written through its methods, which note the page.
        if (o instanceof GuestMemory && !checked.has("GuestMemory.bytes")) {
          checked.add("GuestMemory.bytes");
          for (const i of [0, o.size - 1]) {
            o.store(i, Uint8Array.of(o.byte(i) ^ 1));
            if (!changes()) missed.add(`GuestMemory.bytes[${i}]`);
            o.store(i, Uint8Array.of(o.byte(i) ^ 1));
          }
        }
        for (const k of Object.keys(o)) {
          const v = rec[k];
          const name = `${o.constructor.name}.${k}`;
          // A field is fed or not whatever the scenario: once is enough.
          if (own && !checked.has(name)) {
            checked.add(name);
            if (
              v instanceof Uint32Array || v instanceof Int32Array || v instanceof Uint8Array
            ) {
              // Every element: the last as well as the first.
              for (const i of [0, v.length - 1]) {
                v[i] ^= 1;
                if (!changes()) missed.add(`${name}[${i}]`);
                v[i] ^= 1;
              }
            } else {
              const w = other(v);
              if (w !== undefined) {
                rec[k] = w;
                if (!changes()) missed.add(name);
                rec[k] = v;
              }
            }
          }
          visit(v);
        }
        if (Array.isArray(o)) o.forEach(visit);
        if (o instanceof Map) o.forEach(visit);
      };
      state.vms.forEach(visit);
      assert.equal(fp.of(state, [0]), base, "the check restored the state");
    };
    try {
      runProgram(program, {
        // With the trace, so that fields kept only for it are flipped too.
        trace: true,
        history: "counts",
        scheduler: {
          next(_b, _done, state) {
            check(state);
            throw STOP;
          },
        },
      });
    } catch (e) {
      if (e !== STOP && !(e instanceof ScnError)) throw e;
    }
  }
  assert.deepEqual([...missed], []);
  // What is under test: the x86 vCPU, its LAPIC and its kvm_run are among the objects checked.
  for (const f of ["X86Cpu.interruptFlag", "Lapic.irr", "KvmRun.exitReason"]) {
    assert.ok(checked.has(f), f);
  }
});

Deno.test("the Xen domain's hook tells apart event-channel bindings no state path enumerates", () => {
  // `xen.evtchn[#].vcpu` has no bounds, so the fingerprint that read paths
  // never saw the binding: the two orders' states were taken as one.
  const program = checkText(
    `scenario "two vCPUs rebind one port in either order"
vm guest { arch x86_64  hypervisor xen  vcpus 2 }
vcpu0: evtchn alloc_unbound -> $p
parallel {
  vcpu0: evtchn bind_vcpu $p vcpu=1
  vcpu0: nop
  vcpu1: evtchn bind_vcpu $p vcpu=0
}
vcpu0: nop
`,
    "rebind.scn",
  );
  // After both binds, before the nop: vcpu1's bind last, or vcpu0's.
  const at = (order: number[]): string => {
    const fp = new Fingerprinter(program);
    let key = "";
    let k = 0;
    runProgram(program, {
      trace: false,
      history: "counts",
      scheduler: {
        next(_b, done, state) {
          if (done[0] && done[2] && !done[1]) key = fp.of(state, [0]);
          return order[k++];
        },
      },
    });
    return key;
  };
  assert.notEqual(at([0, 2, 1]), at([2, 0, 1]));
});

/** One x86 VM of two vCPUs whose run stops at a choice at once. */
const X86_AT_A_CHOICE = checkText(
  `scenario "one x86 guest at a choice"
vm guest { arch x86_64  vcpus 2 }
parallel {
  vcpu0: nop
  vcpu1: nop
}
`,
  "choice.scn",
);

/**
 * The fingerprint of a fresh run of {@link X86_AT_A_CHOICE} at its first
 * choice, taken after `change` has changed the VM there.
 */
function keyAtChoice(change: (vm: X86Vm) => void): string {
  const fp = new Fingerprinter(X86_AT_A_CHOICE);
  let key = "";
  runProgram(X86_AT_A_CHOICE, {
    trace: false,
    history: "counts",
    scheduler: {
      next(_b, done, state) {
        if (key === "") (change(state.vms[0] as X86Vm), key = fp.of(state, [0]));
        return done.indexOf(false);
      },
    },
  });
  return key;
}

Deno.test("fields hashed as small words (the vCPU's shadow, the EOI broadcast mode, the PIC's poll) tell every value apart", () => {
  const base = keyAtChoice(() => {});
  // Each value of each field: one fingerprint apiece; the first value is the VM's own, so its key is the base.
  const distinct = <T>(set: (vm: X86Vm, v: T) => void, values: readonly T[]) => {
    const keys = values.map((v) => keyAtChoice((vm) => set(vm, v)));
    assert.equal(new Set(keys).size, values.length, String(values));
    assert.equal(keys[0], base, `${values[0]} is the default`);
  };
  distinct((vm, v) => vm.cpus[1].shadow = v, ["none", "sti", "mov_ss"] as const);
  distinct((vm, v) => vm.eoiBroadcastMode = v, ["quirked", "enabled", "disabled"] as const);
  distinct((vm, v) => vm.pic!.poll = v, ["architectural", "kvm-legacy"] as const);
});

Deno.test("changes to the I/O APIC's and the 8259s' first and last pins and entries are new states", () => {
  const base = keyAtChoice(() => {});
  assert.equal(keyAtChoice(() => {}), base);
  const ioapic = (vm: X86Vm) => vm.ioapic!;
  const last = (vm: X86Vm) => ioapic(vm).pins - 1;
  const changes: [string, (vm: X86Vm) => void][] = [
    ["I/O APIC line 1", (vm) => ioapic(vm).setLine(1, 1)],
    ["I/O APIC last line", (vm) => ioapic(vm).setLine(last(vm), 1)],
    // IOREGSEL then IOWIN: the low word of the last pin's entry, unmasked.
    ["I/O APIC last entry", (vm) => {
      ioapic(vm).write(0x00, 0x10 + 2 * last(vm));
      ioapic(vm).write(0x10, 0x41);
    }],
    ["I/O APIC IOREGSEL", (vm) => ioapic(vm).write(0x00, 0x01)],
    ["8259 master IRQ 1", (vm) => vm.pic!.setIsaIrq(1, 1)],
    ["8259 slave IRQ 15", (vm) => vm.pic!.setIsaIrq(15, 1)],
  ];
  const keys = new Set([base]);
  for (const [what, change] of changes) {
    const key = keyAtChoice(change);
    assert.ok(!keys.has(key), `${what}: a state another already had`);
    keys.add(key);
  }
});

Deno.test("two VMs whose kvmclock offsets differ only above bit 31 are two states", () => {
  const at = (offset: number) => keyAtChoice((vm) => vm.kvmclockOffsetNs = offset);
  // KVM_SET_CLOCK to 5 s and to 5 s + 2^32 ns: the same low 32 bits.
  assert.notEqual(at(5e9), at(5e9 + 2 ** 32));
  assert.equal(at(5e9), at(5e9));
});

/** A write to the master 8259's IMR (a new value each time) that bypasses the chip's methods, and so its version. */
function unversionedWrite(vm: X86Vm): void {
  const master = vm.pic!.master as { -readonly [K in keyof I8259ChipView]: I8259ChipView[K] };
  master.imr = (master.imr + 1) & 0xff;
}

Deno.test("a write that does not bump its object's version: a stale digest, which version checks catch", () => {
  const fp = new Fingerprinter(X86_AT_A_CHOICE);
  const keys: string[] = [];
  const checked: unknown[] = [];
  runProgram(X86_AT_A_CHOICE, {
    trace: false,
    history: "counts",
    scheduler: {
      next(_b, done, state) {
        if (keys.length === 0) {
          const vm = state.vms[0] as X86Vm;
          keys.push(fp.of(state, [0]));
          unversionedWrite(vm);
          // The digest kept for the 8259s stands: the state reads as the one before.
          keys.push(fp.of(state, [0]));
          const was = setVersionChecks(true);
          try {
            fp.of(state, [0]);
          } catch (e) {
            checked.push(e);
          } finally {
            setVersionChecks(was);
          }
          // The snapshot's restore is skipped too: the write outlives it unless checked.
          const restore = state.snapshot!()!;
          unversionedWrite(vm);
          const imr = vm.pic!.master.imr;
          restore();
          assert.equal(vm.pic!.master.imr, imr, "the restore of an unchanged version does nothing");
          unversionedWrite(vm);
          setVersionChecks(true);
          try {
            restore();
          } catch (e) {
            checked.push(e);
          } finally {
            setVersionChecks(was);
          }
        }
        return done.indexOf(false);
      },
    },
  });
  assert.equal(keys[1], keys[0]);
  assert.equal(checked.length, 2);
  assert.match(String(checked[0]), /I8259Pair's state changed with no new version/);
  assert.match(
    String(checked[1]),
    /I8259Pair: a restore changed state written with no new version/,
  );
});

Deno.test("every library scenario, fingerprinted after every statement: each kept digest is the words fed afresh", () => {
  const files = collectFiles(["scenarios"]).files;
  assert.ok(files.length >= 500, `only ${files.length} scenarios`);
  const was = setVersionChecks(true);
  let states = 0;
  try {
    for (const file of files) {
      let program: Program;
      try {
        program = checkText(Deno.readTextFileSync(file), file, { load: fileLoader });
      } catch (e) {
        if (e instanceof ScnError) continue;
        throw e;
      }
      const fp = new Fingerprinter(program);
      // The first statements of each (a scenario's loop may run a million).
      let left = 100;
      try {
        runProgram(program, {
          trace: false,
          history: "counts",
          onStep: (_loc, state) => {
            if (left-- > 0) (fp.of(state, []), states++);
          },
        });
      } catch (e) {
        // A scenario's own runtime error (a budget); a failed check is an Error, rethrown.
        if (!(e instanceof ScnError)) throw new Error(`${file}: ${(e as Error).message}`);
      }
    }
  } finally {
    setVersionChecks(was);
  }
  assert.ok(states > 10_000, `${states} states`);
});
