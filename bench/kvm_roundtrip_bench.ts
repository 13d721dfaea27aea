/**
 * Interrupt round trips on real KVM beside the same on the model. One
 * round trip: KVM_SIGNAL_MSI of vector 0x41 to APIC 0, the guest accepting
 * it at an open instruction boundary (its IVT handler exits to report the
 * vector), the handler's EOI (a write to the xAPIC EOI register), and its
 * IRET back to the monitor (see lib/kvm/guest.ts).
 *
 * ```sh
 * deno bench --allow-read --allow-ffi bench/kvm_roundtrip_bench.ts
 * ```
 *
 * Reading the figure: round trips/s = 1e9 / (ns per iter). Without FFI
 * permission or /dev/kvm only the model bench runs, and a line says why.
 *
 * @module
 */
import { X86Vm } from "../lib/x86/vm.ts";
import { Trace } from "../lib/core/trace.ts";
import { EventQueue } from "../lib/core/event_queue.ts";
import { KvmSystem } from "../lib/kvm/kvm.ts";
import { closeLibc } from "../lib/kvm/libc.ts";
import { lapicVectors } from "../lib/kvm/abi.ts";
import {
  Action,
  enterMonitor,
  GUEST_MEMORY,
  loadGuest,
  post,
  runUntilStop,
} from "../lib/kvm/guest.ts";
import { kvmUnavailableReason } from "../lib/kvm/test_support.ts";

// ---- the model -----------------------------------------------------------------------

const trace = new Trace(() => 0);
trace.enabled = false;
const model = new X86Vm("bench", {
  vcpus: 1,
  irqchip: "kernel",
  lowestPriority: "kvm-vector-hashing",
  routing: "kvm",
}, { trace, queue: new EventQueue(), now: () => 0 });
const lapic = model.cpus[0].lapic;
lapic.write(0xf0, 0x1ff); // SVR: software-enable

function modelRoundTrip(): void {
  model.routing.signalMsi(0xfee00000, 0, 0x41);
  const v = lapic.acknowledge();
  const e = lapic.eoi();
  if (v !== 0x41 || e !== 0x41) throw new Error(`model round trip broken: ${v} ${e}`);
}

Deno.bench({
  name: "model: signalMsi + acknowledge + eoi (1 round trip)",
  group: "roundtrip",
  baseline: true,
  fn: modelRoundTrip,
});

// ---- KVM -------------------------------------------------------------------------------

const why = kvmUnavailableReason();
if (why) {
  console.log(`kvm_roundtrip_bench: the KVM bench is skipped: ${why}`);
} else {
  const sys = KvmSystem.open();
  const vm = sys.createVm();
  vm.setTssAddr(0xfffb_d000);
  vm.createIrqchip();
  const mem = vm.addMemory(0, 0n, GUEST_MEMORY);
  const img = loadGuest(mem);
  const cpu = vm.createVcpu(0);
  cpu.setCpuid(sys.supportedCpuid());
  enterMonitor(cpu, 0, img);
  runUntilStop(cpu);
  post(mem, 0, Action.LapicWrite, 0xf0, 0x1ff); // SVR: software-enable
  runUntilStop(cpu);

  const kvmRoundTrip = () => {
    vm.signalMsi(0xfee0_0000, 0, 0x41);
    post(mem, 0, Action.ProbeSti);
    const stop = runUntilStop(cpu);
    if (stop.at !== "vector" || stop.vector !== 0x41) {
      throw new Error(`KVM round trip broken: ${JSON.stringify(stop)}`);
    }
    post(mem, 0, Action.LapicWrite, 0xb0, 0); // EOI
    runUntilStop(cpu);
    post(mem, 0, Action.Iret);
    runUntilStop(cpu);
  };
  // One checked trip first, so the bench cannot measure a dropped MSI.
  kvmRoundTrip();
  if (lapicVectors(cpu.getLapic(), 0x200).length !== 0) throw new Error("IRR not empty");

  Deno.bench({
    name: "kvm: KVM_SIGNAL_MSI + guest handler entry + EOI + IRET (1 round trip)",
    group: "roundtrip",
    fn: kvmRoundTrip,
  });

  globalThis.addEventListener("unload", () => {
    vm.close();
    sys.close();
    closeLibc();
  });
}
