import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { X86Vm } from "./vm.ts";
import { x86Platform } from "./platform.ts";
import { LAPIC_REGISTERS } from "./lapic_registers.ts";

Deno.test("every numeric x86 state path reads inside its declared range, high bits set (never negative)", () => {
  const vm = new X86Vm("guest", {
    vcpus: 1,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
  }, { trace: new Trace(() => 0), queue: new EventQueue(), now: () => 0 });
  const lapic = vm.cpus[0].lapic;
  lapic.write(0xf0, 0x1ff); // software-enable so writes to the LVTs keep their bits
  for (const r of LAPIC_REGISTERS) {
    if (r.access !== "rw" || r.width !== 32 || r.name === "svr") continue;
    lapic.write(r.offset, 0xa5a5a0a5);
  }
  let checked = 0;
  for (const s of x86Platform.state) {
    if (s.type.kind !== "int" || s.requires?.({ hypervisor: "kvm", irqchip: "kernel" })) continue;
    if (!s.pattern.startsWith("vcpu#.lapic.")) continue;
    const v = s.get(vm, [0]);
    assert.equal(typeof v, "number", s.pattern);
    assert.ok(
      (v as number) >= s.type.min && (v as number) <= s.type.max,
      `${s.pattern} = ${v} is outside ${s.type.min}..${s.type.max}`,
    );
    checked++;
  }
  assert.ok(checked > 50, `only ${checked} paths checked`);
  assert.equal(
    x86Platform.state.find((s) => s.pattern === "vcpu#.lapic.icr_low")!.get(vm, [0]),
    0xa5a5a0a5,
  );
});
