import assert from "node:assert/strict";
import { check } from "../../dsl/check/mod.ts";
import { parse } from "../../dsl/parse.ts";
import { formatDiagnostic, ScnError } from "../core/diagnostic.ts";
import { PLATFORMS } from "../api/platforms.ts";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { X86Vm } from "./vm.ts";

/** The first check error of a scenario on one VM, formatted as the user sees it. */
function refusal(vm: string, lines: string): string {
  const text = `scenario "t"\nvm g { arch x86_64 ${vm} }\n${lines}`;
  try {
    check(parse(text, "t.scn"), { platforms: PLATFORMS, text });
  } catch (e) {
    assert.ok(e instanceof ScnError);
    assert.equal(e.diagnostics[0].kind, "check");
    return formatDiagnostic(e.diagnostics[0], () => text);
  }
  assert.fail(`no error for ${JSON.stringify(lines)}`);
}

const PVH = "hypervisor xen { domain pvh }";

Deno.test("a Xen PVH domain has a vLAPIC and no vPIC or vIOAPIC", () => {
  const trace = new Trace(() => 0);
  const env = { trace, queue: new EventQueue(), now: () => 0 };
  const base = {
    vcpus: 1,
    irqchip: "kernel" as const,
    lowestPriority: "kvm-vector-hashing" as const,
    routing: "kvm" as const,
    hypervisor: "xen" as const,
  };
  const pvh = new X86Vm("g", { ...base, xenDomain: "pvh" }, env);
  assert.equal(pvh.pic, null);
  assert.equal(pvh.ioapic, null);
  assert.equal(pvh.cpus[0].lapicInKernel, true);
  assert.equal(pvh.xen!.domain.callback.domainType, "pvh");
  const hvm = new X86Vm("g", base, env);
  assert.notEqual(hvm.ioapic, null);
  assert.notEqual(hvm.pic, null);
});

Deno.test("PVH: what drives or reads the vPIC and vIOAPIC is a located input error", () => {
  for (
    const [line, col] of [
      ["device nic: assert gsi=10\n", 13],
      ["device nic: pulse gsi=10\n", 13],
      ["vcpu0: pic inta\n", 8],
      ["expect ioapic.pin[2].mask == 1\n", 8],
      ["expect pic.master.imr == 0\n", 8],
    ] as const
  ) {
    const shown = refusal(PVH, line);
    assert.match(shown, /needs the vPIC and vIOAPIC, which a PVH domain does not have/, line);
    assert.match(shown, new RegExp(`t\\.scn:3:${col}`), line);
  }
  // The same lines check on an HVM domain.
  check(
    parse(`scenario "t"\nvm g { arch x86_64 hypervisor xen }\nvcpu0: pic inta\n`, "t.scn"),
    { platforms: PLATFORMS, text: "" },
  );
});

Deno.test("'domain' is a Xen setting: refused for kvm and kvm-xen", () => {
  for (const h of ["kvm", "kvm-xen"]) {
    assert.match(
      refusal(`hypervisor ${h} { domain pvh }`, ""),
      /KVM's Xen emulation runs HVM guests only/,
    );
  }
});

const PV = "hypervisor xen { domain pv }";

Deno.test("PV: LAPIC commands and paths, CLI/STI/HLT and the chips are located input errors", () => {
  for (
    const [line, want] of [
      ["vcpu0: lapic enable\n", /needs a LAPIC, which a Xen PV guest does not have/],
      ["vcpu0: eoi\n", /needs a LAPIC, which a Xen PV guest does not have/],
      ["expect vcpu0.lapic.irr == {}\n", /needs a LAPIC, which a Xen PV guest does not have/],
      ["vcpu0: sti\n", /masks with 'store vcpuN.info.evtchn_upcall_mask'/],
      ["vcpu0: cli\n", /masks with 'store vcpuN.info.evtchn_upcall_mask'/],
      ["vcpu0: hlt\n", /waits with 'xen sched_block'/],
      ["device nic: pulse gsi=3\n", /a PV domain does not have/],
      ["expect pic.master.irr == 0\n", /a PV domain does not have/],
    ] as const
  ) {
    const shown = refusal(PV, line);
    assert.match(shown, want, line);
    assert.match(shown, /t\.scn:3:\d+/, line);
  }
  assert.match(refusal(`${PV} lapic x2apic`, ""), /a Xen PV guest has no LAPIC/);
});

Deno.test("PV: the event callback is taken with RFLAGS.IF clear, masks events, and its return unmasks", () => {
  const trace = new Trace(() => 0);
  const vm = new X86Vm("g", {
    vcpus: 1,
    irqchip: "kernel",
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    hypervisor: "xen",
    xenDomain: "pv",
  }, { trace, queue: new EventQueue(), now: () => 0 });
  const d = vm.xen!.domain;
  const cpu = vm.cpus[0];
  assert.equal(vm.pic, null);
  assert.equal(vm.ioapic, null);
  assert.equal(cpu.interruptFlag, false);
  assert.equal(d.registerCallback(0, "event", 0xffff_ffff_8100_1000n, 0), 0);
  const p = d.evtchn.bindIpi(0);
  d.evtchn.send(p);
  assert.equal(cpu.canTake(), true);
  const taken = cpu.take();
  assert.equal(taken.kind, "event_callback");
  assert.equal(d.areas.read(0, "evtchn_upcall_mask"), 1n);
  assert.equal(cpu.canTake(), false); // still pending, but masked
  cpu.returnFromInterrupt();
  assert.equal(d.areas.read(0, "evtchn_upcall_mask"), 0n);
  assert.equal(cpu.canTake(), true); // the guest has not cleared evtchn_upcall_pending
  // HYPERVISOR_iret with RFLAGS.IF clear in the frame leaves events masked.
  d.pvIret(0, false);
  assert.equal(cpu.canTake(), false);
});

Deno.test("hypervisor xen: KVM ioctls are located input errors (Xen has no KVM); kvm-xen keeps them", () => {
  for (
    const line of [
      "vmm: kvm irq_line gsi=3 level=1\n",
      "vmm: kvm signal_msi address=0xfee00000 data=0x41\n",
      "vmm: kvm irqfd fd=7 gsi=40\n",
      "vmm: kvm xen_vcpu_set_runstate current vcpu=0 state=1\n",
    ]
  ) {
    const shown = refusal("hypervisor xen", line);
    assert.match(shown, /Xen has no KVM/, line);
    assert.match(shown, /t\.scn:3:\d+/, line);
  }
  const text = `scenario "t"\nvm g { arch x86_64 hypervisor kvm-xen }\n` +
    `vmm: kvm signal_msi address=0xfee00000 data=0x41\n` +
    `vmm: kvm xen_vcpu_set_runstate current vcpu=0 state=1\n`;
  check(parse(text, "t.scn"), { platforms: PLATFORMS, text });
});
