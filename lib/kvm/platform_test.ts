import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { runProgram } from "../engine/run.ts";
import { X86_COMMANDS, x86Platform } from "../x86/platform.ts";
import type { X86Command } from "../x86/command.ts";
import { BackendUnsupported, KVM_OPS, kvmPlatform } from "./platform.ts";
import { kvmTestsAvailable } from "./test_support.ts";

const available = kvmTestsAvailable("lib/kvm/platform_test.ts");

function run(text: string) {
  const program = check(parse(text, "t.scn"), {
    platforms: [kvmPlatform()],
  });
  return runProgram(program);
}

Deno.test("kvmPlatform() offers the x86 platform's commands, state paths and settings by name", () => {
  const kvm = kvmPlatform();
  assertEquals(kvm.commands.map((c) => c.name), x86Platform.commands.map((c) => c.name));
  assertEquals(kvm.state.map((s) => s.pattern), x86Platform.state.map((s) => s.pattern));
  assertEquals(kvm.settings, x86Platform.settings);
});

Deno.test("every x86 command is bound to a KVM operation or refused with a reason", () => {
  // The registry's commands are the table whose entries carry the trait.
  assertEquals(x86Platform.commands, X86_COMMANDS);
  const refused: string[] = [];
  for (const c of X86_COMMANDS) {
    const op = KVM_OPS[c.backend];
    if (op === undefined) {
      throw new Error(`'${c.name}' has backend '${c.backend}', which KVM does not bind`);
    }
    if (typeof op !== "function") refused.push(`${c.name}: ${op.refused}`);
  }
  // Everything the model can run but KVM cannot, by name: a new refusal shows here.
  assertEquals(
    refused.filter((r) => !r.endsWith("this KVM has no Xen support")).sort(),
    [
      "add: the guest monitor has no ADD action whose flags a scenario could use",
      "div: the guest monitor has no DIV action (and no #DE handler in its IDT)",
      "hyperv hypercall: the backend's guest monitor sets no Hyper-V CPUID and has no hypercall page",
      "idt: the guest monitor's IDT is its own; a scenario cannot edit its gates",
      "int: the guest monitor has no INT n action (its IDT has no such entries)",
      "inta: a model probe: KVM runs the acknowledge cycle only when it injects",
      "into: the guest monitor has no INTO action (and no #OF handler in its IDT)",
      "iret: the guest monitor has no IRET action of its own (it runs in real mode)",
      "kvm enable_vcpu_cap: the backend does not issue KVM_ENABLE_CAP on a vCPU fd yet",
      "kvm get_clock: the host's kvmclock and CLOCK_REALTIME are its own, not the scenario's virtual time, so the model and /dev/kvm cannot agree on them",
      "kvm get_mce_cap_supported: the backend does not issue the machine-check ioctls yet",
      "kvm get_tsc_khz: the host's TSC rate is its own, not the model's 1 GHz",
      "kvm hyperv_eventfd: the backend binds no Hyper-V connections",
      "kvm hyperv_hcall_result: the backend's guest monitor sets no Hyper-V CPUID and has no hypercall page",
      "kvm request_interrupt_window: kvm_run.request_interrupt_window: the guest monitor does not follow IRQ-window exits",
      "kvm set_clock: the host's kvmclock is its own, not the scenario's virtual time, so the model and /dev/kvm cannot agree on it",
      "kvm set_cpuid2: the guest monitor's CPUID is set before its first KVM_RUN, which a change after it would fail",
      "kvm set_mce: the backend does not issue the machine-check ioctls yet",
      "kvm set_tsc_khz: the backend's guest runs at the host's TSC rate, not the scenario's",
      "kvm setup_mce: the backend does not issue the machine-check ioctls yet",
      "kvm tsc_get_attr: the backend sets and reads no vCPU TSC offset (KVM_VCPU_TSC_CTRL)",
      "kvm tsc_has_attr: the backend sets and reads no vCPU TSC offset (KVM_VCPU_TSC_CTRL)",
      "kvm tsc_set_attr: the backend sets and reads no vCPU TSC offset (KVM_VCPU_TSC_CTRL)",
      "mov cr4: the guest monitor has no MOV to CR4 action",
      "mov cr8: CR8 exists only in 64-bit mode, and the guest runs in real mode",
      "mov ss: the guest monitor has no MOV SS action",
      "pic inta: a model probe: KVM runs the INTA cycle only when it injects",
      "pv_eoi: the guest monitor enables no PV EOI (MSR_KVM_PV_EOI_EN) and has no such action",
      "qemu irqfd_notifier: QEMU's emulated resamplefd belongs to its userspace I/O APIC, which the backend does not play",
      "rdtsc: the backend's TSC is the host's, not the model's time",
      "vmcall: a real-mode VMCALL from the guest monitor never came back from KVM_RUN on the development host (its PVM provider), so the backend does not issue one",
    ],
  );
});

Deno.test("a renamed x86 command keeps its KVM binding, and one without a binding does not compile", () => {
  const eoi = X86_COMMANDS.find((c) => c.backend === "lapic eoi")!;
  const renamed: X86Command = { ...eoi, name: "apic eoi" };
  assertEquals(typeof KVM_OPS[renamed.backend], "function");
  // @ts-expect-error an x86 command must say how a real-VM backend runs it
  const unbound: X86Command = { actor: "vcpu", name: "x", doc: "", params: [], run: () => {} };
  assertEquals(unbound.backend, undefined);
});

Deno.test({
  name: "an MSI is taken by the guest handler, whose body runs inside it, when run on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "msi"
vm guest { arch x86_64  vcpus 1 }
on vcpu0 vector 0x41 { eoi }
vcpu0: lapic enable
vcpu0: sti
vmm: kvm signal_msi address=0xfee00000 data=0x41 -> $r
expect $r == 1
expect vcpu0.lapic.irr == {0x41}
run
expect vcpu0 took 0x41 once
expect vcpu0.lapic.irr == {}
expect vcpu0.lapic.isr == {}
expect vcpu0.depth == 0
expect vcpu0.if == 1
`);
    assertEquals(r.failures.map((f) => `${f.text}: ${f.actual}`), []);
    assertEquals(r.status, "pass");
  },
});

Deno.test({
  name: "with IF=0 nothing is taken and the vector waits in IRR when run on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "if0"
vm guest { arch x86_64  vcpus 1 }
vcpu0: lapic enable
vmm: kvm signal_msi address=0xfee00000 data=0x41
run
expect vcpu0 took nothing
expect vcpu0.lapic.irr == {0x41}
`);
    assertEquals(r.status, "pass");
  },
});

Deno.test({
  name: "rdmsr of an x2APIC MSR in xAPIC mode returns GP and counts a #GP when run on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "gp"
vm guest { arch x86_64  vcpus 1 }
vcpu0: rdmsr msr=0x802 -> $v
expect $v == GP
expect vcpu0.gp_faults == 1
vcpu0: rdmsr msr=0x1b -> $b
expect $b == 0xfee00900
`);
    assertEquals(r.failures.map((f) => `${f.text}: ${f.actual}`), []);
  },
});

Deno.test({
  name: "KVM_NMI is taken by the guest's NMI handler with IF=0 when run on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "nmi"
vm guest { arch x86_64  vcpus 1 }
on vcpu0 nmi { nop }
vmm: kvm nmi vcpu=0
expect vcpu0.nmi_pending == 1
run
expect vcpu0 took nmi once
expect vcpu0 took 2 0 times
expect vcpu0.nmi_pending == 0
`);
    assertEquals(r.failures.map((f) => `${f.text}: ${f.actual}`), []);
  },
});

Deno.test({
  name: "a command the backend cannot express throws BackendUnsupported with its reason",
  ignore: !available,
  fn() {
    throws(
      () =>
        run(`scenario "cr8"
vm guest { arch x86_64  vcpus 1 }
vcpu0: mov cr8 value=2
`),
      (e: unknown) => e instanceof BackendUnsupported && /CR8/.test(e.reason),
    );
  },
});

Deno.test({
  name: "a Xen VM is refused with BackendUnsupported before any ioctl",
  ignore: !available,
  fn() {
    throws(
      () =>
        run(`scenario "xen"
vm guest { arch x86_64  vcpus 1  hypervisor xen }
`),
      (e: unknown) => e instanceof BackendUnsupported && /Xen/.test(e.reason),
    );
  },
});

Deno.test({
  name: "an AP waiting for SIPI executes nothing, and runs the monitor after INIT and SIPI on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "sipi"
vm guest { arch x86_64  vcpus 2  aps wait-for-sipi }
expect vcpu1.mp_state == KVM_MP_STATE_UNINITIALIZED
vcpu0: lapic enable
vcpu0: ipi dest=1 delivery_mode=init
run
expect vcpu1.mp_state == KVM_MP_STATE_INIT_RECEIVED
vcpu0: ipi dest=1 delivery_mode=startup vector=0x9a
run
expect vcpu1.mp_state == KVM_MP_STATE_RUNNABLE
expect vcpu1.cs_selector == 0x9a00
vcpu1: lapic enable
vcpu1: sti
vcpu0: ipi dest=1 vector=0x61
run
expect vcpu1 took 0x61 once
`);
    assertEquals(r.failures.map((f) => `${f.text}: ${f.actual}`), []);
  },
});

Deno.test({
  name: "vector 2 from an 8259 with vector base 0 is taken as vector 2, not an NMI, on KVM",
  ignore: !available,
  fn() {
    // The 8259 is uninitialised (vector bases 0): GSI 10 is the slave's IR2,
    // vector 0 + 2, delivered through the BSP's LVT0 (ExtINT).
    const r = run(`scenario "vector 2"
vm guest { arch x86_64  vcpus 1 }
vcpu0: sti
vmm: kvm irq_line gsi=10 level=1
run
expect vcpu0 took 2 once
expect vcpu0 took nmi 0 times
`);
    assertEquals(r.failures.map((f) => f.text), []);
  },
});

Deno.test({
  name: "a vCPU numbered by a loop variable (vcpu[$i]) runs each vCPU's statements on KVM",
  ignore: !available,
  fn() {
    const r = run(`scenario "loop"
vm guest { arch x86_64  vcpus 2 }
on vcpu[0..1] vector 0x30 { eoi }
for $i in 0..1 {
  vcpu[$i]: lapic enable
  vcpu[$i]: sti
  vcpu[$i]: nop
}
let $i = 1
vcpu0: ipi 0x30 dest=$i
run
expect vcpu[$i] took 0x30 once
expect vcpu[$i].lapic.isr == {}
expect vcpu[$i - 1] took nothing
`);
    assertEquals(r.failures.map((f) => `${f.text}: ${f.actual}`), []);
    assertEquals(r.status, "pass");
  },
});
