/**
 * MSI delivery and EOI through the x86 model, with tracing off: one
 * iteration is KVM_SIGNAL_MSI of vector 0x41 to APIC 0 (kvm_routing.ts ->
 * msi.ts -> apic_bus.ts -> lapic.ts), the INTA cycle (IRR -> ISR) and the
 * EOI (ISR cleared).
 *
 * ```sh
 * deno task bench bench/msi_eoi_bench.ts
 * ```
 *
 * Reading the figure: cycles/s = 1e9 / (ns per iter). The goal is >= 2
 * million cycles per second, i.e. at most 500 ns/iter. The second bench runs
 * 1000 cycles per iteration, so its time divided by 1000 is the same figure
 * without the bench harness's per-call overhead.
 *
 * @module
 */
import { X86Vm } from "../lib/x86/vm.ts";
import { Trace } from "../lib/core/trace.ts";
import { EventQueue } from "../lib/core/event_queue.ts";

function makeVm(): X86Vm {
  const trace = new Trace(() => 0);
  trace.enabled = false;
  const vm = new X86Vm("bench", {
    vcpus: 1,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
  }, { trace, queue: new EventQueue(), now: () => 0 });
  vm.cpus[0].lapic.write(0xf0, 0x1ff); // SVR: software-enable, spurious 0xff
  return vm;
}

const vm = makeVm();
const lapic = vm.cpus[0].lapic;

// Check one cycle does what the bench claims, so it cannot measure a dropped message.
{
  const r = vm.routing.signalMsi(0xfee00000, 0, 0x41);
  const v = lapic.acknowledge();
  const e = lapic.eoi();
  if (r !== 1 || v !== 0x41 || e !== 0x41) {
    throw new Error(`MSI cycle broken: signalMsi=${r} acknowledge=${v} eoi=${e}`);
  }
  if (vm.trace.events.length !== 0) throw new Error("trace recorded events while disabled");
}

Deno.bench({
  name: "signalMsi + acknowledge + eoi (1 cycle)",
  group: "msi",
  baseline: true,
  fn() {
    vm.routing.signalMsi(0xfee00000, 0, 0x41);
    lapic.acknowledge();
    lapic.eoi();
  },
});

Deno.bench({
  name: "signalMsi + acknowledge + eoi (1000 cycles)",
  group: "msi",
  fn() {
    for (let i = 0; i < 1000; i++) {
      vm.routing.signalMsi(0xfee00000, 0, 0x41);
      lapic.acknowledge();
      lapic.eoi();
    }
  },
});
