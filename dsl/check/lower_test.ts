import assert from "node:assert/strict";
import { staticValue } from "./lower.ts";
import { check } from "./mod.ts";
import { parse } from "../parse.ts";
import type { Op, Program } from "../program.ts";
import { type Diagnostic, formatDiagnostic, ScnError } from "../../lib/core/diagnostic.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";

const HEAD = 'scenario "t"\nvm g { arch x86_64 vcpus 2 }\n';

function program(lines: string, head = HEAD): Program {
  const text = head + lines;
  return check(parse(text, "l.scn"), { platforms: PLATFORMS, text });
}

function lowerError(lines: string, head = HEAD): { d: Diagnostic; shown: string } {
  const text = head + lines;
  let err: unknown;
  try {
    check(parse(text, "l.scn"), { platforms: PLATFORMS, text });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, `expected a ScnError for ${JSON.stringify(lines)}`);
  const d = err.diagnostics[0];
  assert.equal(d.kind, "check");
  return { d, shown: formatDiagnostic(d, () => text) };
}

/** [line, column] of where a diagnostic starts. */
const at = (d: Diagnostic) => [d.loc.start.line, d.loc.start.column];

Deno.test("lowering resolves commands, parameters and their defaults", () => {
  const p = program("vcpu1: ipi vector=0x41 dest=1\n");
  const [op] = p.body;
  assert.equal(op.op, "do");
  if (op.op !== "do") return;
  assert.deepEqual([op.call.vm, op.call.cpu, op.call.source, op.call.spec.name], [
    0,
    1,
    "vcpu1",
    "ipi",
  ]);
  const args = Object.fromEntries(
    op.call.args.map((a) => [a.param.name, a.expr.e === "lit" ? a.expr.value : a.expr.e]),
  );
  assert.deepEqual(args, {
    vector: 0x41,
    dest: 1,
    delivery_mode: "fixed",
    dest_mode: "physical",
    shorthand: "none",
    trigger: "edge",
    level: 1,
  });
});

Deno.test("lowering keeps statement order and kinds", () => {
  const p = program([
    "let $v = 0x41",
    "vmm: kvm irq_line gsi=14 level=1 -> $r",
    "repeat 2 { vcpu0: nop }",
    "for $p in 0..2 { vcpu0: nop }",
    "parallel { vcpu0: nop\nvcpu1: nop }",
    "vcpu0: if $r == 1 { nop } else { cli }",
    "run 5ms",
    "always vcpu0.lapic.ppr <= 0x40",
    "expect $r == -EINVAL",
    "",
  ].join("\n"));
  assert.deepEqual(p.body.map((o: Op) => o.op), [
    "let",
    "do",
    "repeat",
    "for",
    "parallel",
    "if",
    "run",
    "always",
    "expect",
  ]);
  const exp = p.body[8];
  assert.equal(exp.op === "expect" && exp.text, "$r == -EINVAL");
  const run = p.body[6];
  assert.deepEqual(run.op === "run" && run.duration, {
    e: "lit",
    value: 5_000_000,
    loc: run.op === "run" ? run.duration!.loc : undefined,
  });
});

Deno.test("an unknown command is an error with 'did you mean'", async (t) => {
  const { d, shown } = lowerError("vcpu0: eio\n");
  assert.equal(d.message, "unknown command 'eio' for vcpu0");
  assert.equal(d.hint, "did you mean 'eoi'?");
  assert.deepEqual([...at(d), d.loc.end.column], [3, 8, 11]);
  await t.assertSnapshot(shown);
});

Deno.test("an unknown two-word command suggests the closest command", () => {
  const { d } = lowerError("vcpu0: lapic enabel\n");
  assert.equal(d.message, "unknown command 'lapic enabel' for vcpu0");
  assert.equal(d.hint, "did you mean 'lapic enable'?");
  const vmm = lowerError("vmm: kvm irq_lin gsi=1 level=1\n").d;
  assert.equal(vmm.message, "unknown command 'kvm irq_lin' for vmm");
  assert.equal(vmm.hint, "did you mean 'kvm irq_line'?");
});

Deno.test("an unknown vCPU is an error naming the vm's vCPUs", async (t) => {
  const { d, shown } = lowerError("vcpu5: nop\n");
  assert.equal(d.message, "unknown vCPU 'vcpu5': vm 'g' has 2 vCPUs (vcpu0..vcpu1)");
  assert.deepEqual(at(d), [3, 1]);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line]), [
    ["the vm is declared here", 2],
  ]);
  await t.assertSnapshot(shown);
});

Deno.test("an unknown vCPU in a state path is an error", () => {
  const { d } = lowerError("expect vcpu2.lapic.isr == {}\n");
  assert.equal(d.message, "vm 'g' has no vcpu2 (it has 2)");
  assert.deepEqual(at(d), [3, 8]);
});

Deno.test("values out of range are errors at the value", async (t) => {
  await t.step("vector 0x100", async (t) => {
    const { d, shown } = lowerError("vcpu0: ipi vector=0x100\n");
    assert.equal(d.message, "0x100 is out of range for a vector (0..0xff)");
    assert.deepEqual([...at(d), d.loc.end.column], [3, 19, 24]);
    await t.assertSnapshot(shown);
  });
  await t.step("redtbl[24] on 24 pins", async (t) => {
    const { d, shown } = lowerError("vcpu0: write ioapic.redtbl[24] vector=0x30\n");
    assert.equal(d.message, "24 is out of range for redtbl index (0..23)");
    assert.deepEqual(at(d), [3, 28]);
    await t.assertSnapshot(shown);
  });
  await t.step("a negative vector", () => {
    const { d } = lowerError("vcpu0: ipi vector=-1\n");
    assert.equal(d.message, "-1 is out of range for a vector (0..0xff)");
  });
  await t.step("a field wider than its bits", () => {
    const { d } = lowerError("vcpu0: write lapic.tpr class=0x10\n");
    assert.equal(d.message, "0x10 is out of range for field class (0..0xf)");
  });
  await t.step("an enum value not in the list", () => {
    const { d } = lowerError("vcpu0: ipi vector=0x41 trigger=levle\n");
    assert.equal(d.message, "'levle' is not one of: edge, level");
    assert.equal(d.hint, "did you mean 'level'?");
  });
});

Deno.test("an unknown state path is an error with a suggestion as it is written", async (t) => {
  const { d, shown } = lowerError("expect vcpu1.lapic.isx == {}\n");
  assert.equal(d.message, "unknown state path 'vcpu1.lapic.isx'");
  assert.equal(d.hint, "did you mean 'vcpu1.lapic.isr'?");
  assert.deepEqual([...at(d), d.loc.end.column], [3, 8, 23]);
  await t.assertSnapshot(shown);
  const pin = lowerError("expect ioapic.pin[2].remote_ir == 0\n").d;
  assert.equal(pin.hint, "did you mean 'ioapic.pin[n].remote_irr'?");
});

Deno.test("a state object by itself is not a value", () => {
  const { d } = lowerError("expect ioapic == 0\n");
  assert.equal(d.message, "'ioapic' is not a value by itself");
  assert.equal(d.hint, "read a field of it, such as vcpu0.lapic.isr");
});

Deno.test("an unknown name suggests a constant", () => {
  const { d } = lowerError("expect 0 == -EINVL\n");
  assert.equal(d.message, "unknown name 'EINVL'");
  assert.equal(d.hint, "did you mean 'EINVAL'?");
});

Deno.test("a variable used before it is bound is an error", async (t) => {
  const { d, shown } = lowerError("expect $x == 1\nlet $x = 1\n");
  assert.equal(d.message, "'$x' is used before it is bound");
  assert.equal(d.hint, "bind it with 'let $x = ...' or '-> $x' first");
  assert.deepEqual(at(d), [3, 8]);
  await t.assertSnapshot(shown);
  const typo = lowerError("let $vector = 1\nvcpu0: ipi vector=$vectr\n").d;
  assert.equal(typo.message, "'$vectr' is used before it is bound");
  assert.equal(typo.hint, "did you mean 'vector'?");
});

Deno.test("handler bodies may read variables bound anywhere", () => {
  const p = program("on vcpu0 vector 0x41 { ipi vector=$v }\nlet $v = 0x42\n");
  assert.equal(p.handlers.length, 1);
  assert.deepEqual([p.handlers[0].event, p.handlers[0].values, p.handlers[0].cpu], ["vector", [
    0x41,
  ], 0]);
});

Deno.test("'run' inside a handler is an error", async (t) => {
  const { d, shown } = lowerError("on vcpu0 vector 0x41 {\n  eoi\n  run\n}\n");
  assert.equal(
    d.message,
    "'run' cannot be used inside a handler: the handler already runs inside one",
  );
  assert.deepEqual(at(d), [5, 3]);
  await t.assertSnapshot(shown);
});

Deno.test("a second handler for the same vector is an error pointing at the first", async (t) => {
  const { d, shown } = lowerError(
    "on vcpu0 vector 0x41 { eoi }\non vcpu1 vector 0x41 { eoi }\non vcpu0 vector 0x40..0x42 { eoi }\n",
  );
  assert.equal(d.message, "a second handler for the same interrupt");
  assert.deepEqual(at(d), [5, 1]);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line]), [[
    "the first one is here",
    3,
  ]]);
  await t.assertSnapshot(shown);
});

Deno.test("handlers for different vectors, vCPUs and events coexist", () => {
  const p = program(
    "on vcpu0 vector 0x41 { eoi }\non vcpu0 vector {0x42, 0x43} { eoi }\non vcpu0 nmi { nop }\non vcpu1 vector 0x41 { eoi }\n",
  );
  assert.deepEqual(p.handlers.map((h) => [h.cpu, h.event, h.values]), [
    [0, "vector", [0x41]],
    [0, "vector", [0x42, 0x43]],
    [0, "nmi", null],
    [1, "vector", [0x41]],
  ]);
});

Deno.test("handler declarations are checked", async (t) => {
  await t.step("an unknown event", () => {
    const { d } = lowerError("on vcpu0 vectr 0x41 { eoi }\n");
    assert.equal(d.message, "unknown handler event 'vectr'");
    assert.equal(d.hint, "did you mean 'vector'?");
  });
  await t.step("nmi takes no value", () => {
    assert.equal(lowerError("on vcpu0 nmi 2 { nop }\n").d.message, "'nmi' takes no value");
  });
  await t.step("a handler for the vmm", () => {
    assert.equal(
      lowerError("on vmm vector 0x41 { nop }\n").d.message,
      "handlers belong to a vCPU (on vcpu0 vector 0x41 { ... })",
    );
  });
  await t.step("another vCPU's instruction inside a handler", () => {
    assert.equal(
      lowerError("on vcpu0 vector 0x41 { vcpu1: eoi }\n").d.message,
      "this handler runs on vcpu0: vcpu1 cannot execute in it",
    );
  });
});

Deno.test("actors and blocks are checked", async (t) => {
  await t.step("a command without an actor", () => {
    assert.equal(
      lowerError("eoi\n").d.message,
      "'eoi' needs an actor, as in 'vcpu0: eoi' or 'vmm: eoi'",
    );
  });
  await t.step("an unknown actor", () => {
    const { d } = lowerError("vnm: kvm irq_line gsi=1 level=1\n");
    assert.equal(d.message, "unknown actor 'vnm'");
    assert.equal(d.hint, "did you mean 'vmm'?");
  });
  await t.step("an unknown vm prefix", () => {
    assert.equal(lowerError("guest.vcpu0: nop\n").d.message, "unknown vm 'guest'");
  });
  await t.step("no vm at all", () => {
    const { d } = lowerError("vcpu0: nop\n", 'scenario "t"\n');
    assert.equal(d.message, "no vm is declared");
  });
  await t.step("several vms and no prefix", () => {
    const { d } = lowerError(
      "vcpu0: nop\n",
      'scenario "t"\nvm a { arch x86_64 }\nvm b { arch x86_64 }\n',
    );
    assert.equal(d.message, "several vms are declared: say which one 'vcpu0' belongs to");
    assert.equal(d.hint, "write 'a.vcpu0' or 'b.vcpu0'");
    assert.deepEqual(d.related?.map((r) => r.message), ["vm 'a'", "vm 'b'"]);
  });
  await t.step("a vm prefix picks the vm", () => {
    const p = program(
      "b.vcpu0: nop\n",
      'scenario "t"\nvm a { arch x86_64 }\nvm b { arch x86_64 }\n',
    );
    const op = p.body[0];
    assert.equal(op.op === "do" && op.call.vm, 1);
  });
  await t.step("a parallel block of non-actions", () => {
    assert.equal(
      lowerError("parallel { run }\n").d.message,
      "a parallel block holds actions (actor: command)",
    );
  });
  await t.step("binding a command that returns nothing", () => {
    assert.equal(lowerError("vcpu0: nop -> $x\n").d.message, "'nop' returns nothing to bind");
  });
  await t.step("a missing required parameter", () => {
    const { d } = lowerError("vmm: kvm irq_line gsi=1\n");
    assert.equal(d.message, "'kvm irq_line' needs 'level=': 1 assert, 0 de-assert");
    assert.equal(
      d.hint,
      "usage: kvm irq_line [gsi=]<a GSI (0..0xffffffff)> level=<a line level (0..1)>",
    );
  });
  await t.step("a parameter given twice", () => {
    assert.equal(lowerError("vcpu0: ipi vector=1 vector=2\n").d.message, "'vector' given twice");
  });
  await t.step("an unknown parameter", () => {
    const { d } = lowerError("vcpu0: ipi vectr=1\n");
    assert.equal(d.message, "'ipi' has no parameter 'vectr'");
    assert.equal(d.hint, "did you mean 'vector'?");
  });
  await t.step("a block for a command that takes none", () => {
    assert.equal(lowerError("vcpu0: nop { gsi=1 }\n").d.message, "'nop' takes no block");
  });
  await t.step("an unknown register field", () => {
    const { d } = lowerError("vcpu0: write ioapic.redtbl[1] vectr=0x30\n");
    assert.equal(d.message, "IOREDTBL has no field 'vectr'");
    assert.equal(d.hint, "did you mean 'vector'?");
  });
  await t.step("a whole value and fields together", () => {
    assert.equal(
      lowerError("vcpu0: write lapic.tpr 0x50 class=1\n").d.message,
      "give either a whole value or fields, not both",
    );
  });
});

Deno.test("routing entries are lowered one record per entry, with defaults", () => {
  const p = program(
    "vmm: kvm set_gsi_routing { gsi=0 irqchip=ioapic pin=2  gsi=24 address_lo=0xfee00000 data=0x41 }\n",
  );
  const op = p.body[0];
  assert.equal(op.op, "do");
  if (op.op !== "do") return;
  const entries = op.call.entries!.map((e) =>
    Object.fromEntries(e.map((x) => [x.param.name, x.expr.e === "lit" ? x.expr.value : "?"]))
  );
  assert.deepEqual(entries, [
    {
      gsi: 0,
      irqchip: "ioapic",
      pin: 2,
      type: "",
      address_lo: -1,
      address_hi: 0,
      data: 0,
      port: -1,
      vcpu: 0,
      sint: -1,
      priority: 0xffff_ffff,
    },
    {
      gsi: 24,
      address_lo: 0xfee00000,
      data: 0x41,
      type: "",
      irqchip: "",
      pin: -1,
      address_hi: 0,
      port: -1,
      vcpu: 0,
      sint: -1,
      priority: 0xffff_ffff,
    },
  ]);
});

Deno.test("staticValue() folds literals, sets, lists, ranges and negation", () => {
  const loc = {
    source: "x",
    start: { offset: 0, line: 1, column: 1 },
    end: { offset: 0, line: 1, column: 1 },
  };
  const lit = (value: number) => ({ e: "lit" as const, value, loc });
  assert.equal(staticValue(lit(5)), 5);
  assert.equal(staticValue({ e: "neg", operand: lit(5), loc }), -5);
  assert.deepEqual(staticValue({ e: "set", items: [lit(3), lit(1), lit(3)], loc }), [1, 3]);
  assert.deepEqual(staticValue({ e: "list", items: [lit(3), lit(1), lit(3)], loc }), [3, 1, 3]);
  assert.deepEqual(staticValue({ e: "range", from: lit(2), to: lit(5), loc }), [2, 3, 4, 5]);
  assert.equal(staticValue({ e: "var", name: "x", loc }), undefined);
  assert.equal(
    staticValue({ e: "set", items: [lit(1), { e: "var", name: "x", loc }], loc }),
    undefined,
  );
});

Deno.test("a missing ':' after an actor is named as such", () => {
  const { d } = lowerError("vcpu0 sti\n");
  assert.equal(d.message, "missing ':' after the actor 'vcpu0'");
  assert.equal(d.hint, "write 'vcpu0: sti'");
  assert.deepEqual(at(d), [3, 1]);
});

Deno.test("a statement keyword that did not parse as its statement gets its usage", () => {
  const { d } = lowerError("run 5 ms\n");
  assert.equal(d.message, "malformed 'run' statement");
  assert.equal(d.hint, "write 'run' alone, or 'run' with one duration such as 'run 5ms'");
  const e = lowerError("expect\n").d;
  assert.equal(e.message, "malformed 'expect' statement");
});

Deno.test("a variable bound in a handler can be read at the top level after it", () => {
  const p = program("on vcpu0 vector 0x41 { read lapic.ppr -> $ppr }\nrun\nexpect $ppr == 0x40\n");
  assert.equal(p.handlers.length, 1);
  assert.equal(p.body.at(-1)!.op, "expect");
});

Deno.test("a register file prefix with vcpu# matches vcpuN and records N", async (t) => {
  const XEN = 'scenario "t"\nvm g { arch x86_64 vcpus 2 hypervisor xen }\n';
  const reg = (line: string) => {
    const op = program(line, XEN).body[0];
    assert.equal(op.op, "do");
    if (op.op !== "do") throw new Error("unreachable");
    return op.call.register!;
  };
  await t.step("vcpu1.info.<field> is vCPU 1's vcpu_info", () => {
    const r = reg("vcpu0: bit clear vcpu1.info.evtchn_upcall_pending\n");
    assert.deepEqual([r.file.prefix, r.spec.name, r.fileIndex], [
      "vcpu#.info",
      "evtchn_upcall_pending",
      1,
    ]);
  });
  await t.step("a register name with a dot and an indexed one", () => {
    assert.equal(reg("vcpu0: load vcpu0.info.time.version\n").spec.name, "time.version");
    const r = reg("vcpu0: bit test vcpu0.info.evtchn_pending_sel[3]\n");
    assert.deepEqual([r.spec.name, r.fileIndex, r.index?.e], ["evtchn_pending_sel", 0, "lit"]);
  });
  await t.step("a plain prefix records no index", () => {
    assert.equal(reg("vcpu0: bit test shared.evtchn_mask[5]\n").fileIndex, undefined);
  });
  await t.step("a vCPU the vm does not have", () => {
    const { d } = lowerError("vcpu0: load vcpu7.info.evtchn_upcall_pending\n", XEN);
    assert.equal(d.message, "there is no vcpu7 (the vm has 2)");
    assert.deepEqual(at(d), [3, 13]);
  });
  await t.step("an unknown field names the vCPU as written", () => {
    const { d } = lowerError("vcpu0: load vcpu1.info.upcall_pending\n", XEN);
    assert.equal(d.message, "unknown register 'vcpu1.info.upcall_pending'");
  });
});

Deno.test("Xen commands and paths on a 'hypervisor kvm' vm are located check errors", () => {
  const { d } = lowerError("vcpu0: evtchn bind_ipi -> $p\n");
  assert.match(d.message, /needs a Xen guest: add 'hypervisor xen'/);
  assert.deepEqual(at(d), [3, 8]);
  assert.equal(d.related?.[0].message, "vm 'g' is declared here");
  const e = lowerError("expect vcpu1.xen.upcall_pending == 0\n").d;
  assert.match(e.message, /needs a Xen guest/);
});

Deno.test("a condition nested past the limit is a located error, not a stack overflow", () => {
  const chain = Array.from({ length: 3000 }, () => "1 == 1").join(" or ");
  const { d } = lowerError(`expect ${chain}\n`);
  assert.equal(d.message, "condition nested more than 256 deep");
  assert.deepEqual(at(d), [3, 8]);
});

Deno.test("a literal vCPU number beyond the vm is an error at the value", () => {
  const { d } = lowerError("vmm: kvm interrupt vcpu=2 vector=0x31\n");
  assert.equal(d.message, "vm 'g' has no vCPU 2 (it has 2)");
  assert.deepEqual(at(d), [3, 25]);
});

Deno.test("Xen settings that do nothing for the chosen hypervisor are refused at the vm", () => {
  const head = (vm: string) => `scenario "t"\n${vm}\n`;
  const e1 = lowerError("", head("vm g { arch x86_64 hypervisor kvm { guest 32 } }")).d;
  assert.match(e1.message, /^vm 'g': 'guest' and 'max_evtchn_port' describe a Xen guest/);
  assert.deepEqual(at(e1), [2, 1]);
  const e2 = lowerError("", head("vm g { arch x86_64 hypervisor kvm-xen { max_evtchn_port 9 } }"));
  assert.match(e2.d.message, /KVM's Xen emulation has none/);
  const e3 = lowerError("", head("vm g { arch x86_64 hypervisor xen { guest 48 } }")).d;
  assert.equal(e3.message, "vm 'g': 'guest' is 64 or 32, not 48");
  program("", head("vm g { arch x86_64 hypervisor xen { guest 32  max_evtchn_port 4096 } }"));
});

Deno.test("a took value naming a handler event without a value (nmi) lowers to that kind, not a constant", () => {
  const p = program("expect vcpu0 took [nmi, 2, EINVAL] in order\n");
  const [op] = p.body;
  assert.equal(op.op, "expect");
  if (op.op !== "expect" || op.cond.c !== "took") return;
  assert.deepEqual(op.cond.values.map((v) => v.e === "lit" ? v.value : v.e), ["nmi", 2, 22]);
  // `vector` takes a value, so it is no kind: an unknown name as before.
  const { d } = lowerError("expect vcpu0 took vector\n");
  assert.equal(d.message, "unknown name 'vector'");
  // Arm's irq and fiq are kinds in the same way.
  const arm = program(
    "expect vcpu0 took irq\n",
    'scenario "t"\nvm g { arch arm64 vcpus 1 }\n',
  ).body[0];
  assert.ok(arm.op === "expect" && arm.cond.c === "took");
  if (arm.op === "expect" && arm.cond.c === "took") {
    assert.deepEqual(arm.cond.values.map((v) => v.e === "lit" ? v.value : v.e), ["irq"]);
  }
});

Deno.test("irqchip userspace: LAPIC commands and paths are located errors; x2APIC and wait-for-sipi are refused", () => {
  const head = 'scenario "t"\nvm g { arch x86_64 vcpus 2 irqchip userspace }\n';
  for (const line of ["vcpu0: eoi\n", "vcpu0: lapic enable\n", "vcpu0: ipi vector=0x41\n"]) {
    const { d } = lowerError(line, head);
    assert.match(d.message, /needs an in-kernel LAPIC: use 'irqchip kernel' or 'irqchip split'/);
  }
  const { d } = lowerError("expect vcpu0.lapic.isr == {}\n", head);
  assert.match(d.message, /needs an in-kernel LAPIC/);
  // What KVM does offer without an irqchip still checks.
  program(
    "vmm: kvm interrupt vcpu=1 vector=0x30\nvmm: kvm nmi vcpu=0\nexpect vcpu0.exit_reason == 0\n",
    head,
  );
  for (
    const settings of ["irqchip userspace lapic x2apic", "irqchip userspace aps wait-for-sipi"]
  ) {
    const { d } = lowerError("", `scenario "t"\nvm g { arch x86_64 ${settings} }\n`);
    assert.match(d.message, /'irqchip userspace' has no in-kernel LAPIC/);
  }
});

Deno.test("'pic inta' needs the in-kernel PIC", () => {
  const { d } = lowerError(
    "vcpu0: pic inta\n",
    'scenario "t"\nvm g { arch x86_64 irqchip split }\n',
  );
  assert.match(d.message, /needs the in-kernel PIC: use 'irqchip kernel'/);
});
