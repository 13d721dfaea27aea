/**
 * The `eoi` command runs once per interrupt and so makes the checks every
 * other guest instruction gets from the table's wrappers itself: these hold
 * it to what the wrappers do (the refusal while waiting for SIPI, the VM
 * exit first) and its untraced write to the traced one.
 */
import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { vectorsOf } from "../core/vector_set.ts";
import { fixedMessage } from "./apic_message.ts";
import { X86_COMMANDS } from "./platform.ts";
import { X86Vm } from "./vm.ts";

const command = (name: string) => X86_COMMANDS.find((c) => c.actor === "vcpu" && c.name === name)!;

function vm(traced: boolean, aps: "running" | "wait-for-sipi" = "running"): X86Vm {
  const trace = new Trace(() => 0);
  trace.enabled = traced;
  return new X86Vm("guest", {
    vcpus: 2,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    aps,
  }, { trace, queue: new EventQueue(), now: () => 0 });
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof CommandInputError);
    return e.message;
  }
  return "not refused";
}

Deno.test("eoi is refused on a vCPU waiting for SIPI with the words of every other instruction", () => {
  const v = vm(false, "wait-for-sipi");
  const nop = refusal(() => command("nop").run(v, 1, {}, "vcpu1"));
  assert.match(nop, /^vcpu1 executes nothing: it waits for INIT and SIPI/);
  assert.equal(refusal(() => command("eoi").run(v, 1, {}, "vcpu1")), nop);
});

Deno.test("eoi reports its VM exit before the write, traced or not", () => {
  for (const traced of [false, true]) {
    const v = vm(traced);
    const order: string[] = [];
    const cpu = v.cpus[0];
    cpu.hv = {
      globalVector: () => -1,
      woken: () => {},
      vmExit: () => order.push(`exit, ISR ${vectorsOf(cpu.lapic.isr)}`),
    };
    cpu.lapic.write(0xf0, 0x1ff);
    cpu.lapic.accept(fixedMessage(0x41, 0, "msi"));
    assert.equal(cpu.lapic.acknowledge(), 0x41);
    command("eoi").run(v, 0, {}, "vcpu0");
    assert.deepEqual(order, ["exit, ISR 65"], `traced ${traced}`);
    assert.deepEqual(vectorsOf(cpu.lapic.isr), [], `traced ${traced}`);
  }
});

Deno.test("eoi in x2APIC mode writes the EOI MSR, traced or not", () => {
  for (const traced of [false, true]) {
    const v = vm(traced);
    const lapic = v.cpus[0].lapic;
    lapic.write(0xf0, 0x1ff);
    assert.ok(lapic.setApicBase(0xfee00d00, true));
    lapic.accept(fixedMessage(0x41, 0, "msi"));
    assert.equal(lapic.acknowledge(), 0x41);
    command("eoi").run(v, 0, {}, "vcpu0");
    assert.deepEqual(vectorsOf(lapic.isr), [], `traced ${traced}`);
  }
});
