import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { KvmSystem } from "./kvm.ts";
import { closeLibc } from "./libc.ts";
import { lapicVectors } from "./abi.ts";
import {
  Action,
  assembleGuest,
  enterMonitor,
  GUEST_MEMORY,
  Layout,
  loadGuest,
  post,
  result,
  runUntilStop,
} from "./guest.ts";
import { kvmTestsAvailable } from "./test_support.ts";

const available = kvmTestsAvailable("lib/kvm/guest_test.ts");

const ISR = 0x100, IRR = 0x200;

Deno.test("assembleGuest() starts with the monitor's OUT to port 0x10 at 0x2000", () => {
  const img = assembleGuest();
  assertEquals(img.monitor, Layout.code);
  assertEquals([...img.code.slice(0, 2)], [0xe6, 0x10]);
  // Stub 0x41: mov al, 0x41; out 0x11, al.
  assertEquals([...img.stubs.slice(0x41 * 8, 0x41 * 8 + 4)], [0xb0, 0x41, 0xe6, 0x11]);
});

function boot() {
  const sys = KvmSystem.open();
  const vm = sys.createVm();
  vm.setTssAddr(0xfffb_d000);
  vm.createIrqchip();
  const mem = vm.addMemory(0, 0n, GUEST_MEMORY);
  const img = loadGuest(mem);
  const cpu = vm.createVcpu(0);
  cpu.setCpuid(sys.supportedCpuid());
  enterMonitor(cpu, 0, img);
  assertEquals(runUntilStop(cpu), { at: "monitor" });
  const dispose = () => {
    vm.close();
    sys.close();
    closeLibc();
  };
  return { vm, cpu, mem, dispose };
}

Deno.test({
  name:
    "an MSI from KVM_SIGNAL_MSI is taken by the guest handler and EOI'd when the guest writes EOI",
  ignore: !available,
  fn() {
    const { vm, cpu, mem, dispose } = boot();
    try {
      post(mem, 0, Action.LapicWrite, 0xf0, 0x1ff); // SVR: software-enable
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      assertEquals(vm.signalMsi(0xfee0_0000, 0, 0x41), 1);
      post(mem, 0, Action.ProbeSti);
      assertEquals(runUntilStop(cpu), { at: "vector", vector: 0x41 });
      // Accepted: out of IRR. (This provider's KVM_GET_LAPIC shows no ISR bit
      // while the handler runs; the report in platform.ts says so.)
      assertEquals(lapicVectors(cpu.getLapic(), IRR), []);
      post(mem, 0, Action.LapicWrite, 0xb0, 0); // EOI, from inside the handler
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      assertEquals(lapicVectors(cpu.getLapic(), ISR), []);
      post(mem, 0, Action.Iret);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      // Nothing else pending: the next probe comes straight back.
      post(mem, 0, Action.ProbeSti);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      // The same vector again is taken again: nothing of the first one is left in service.
      assertEquals(vm.signalMsi(0xfee0_0000, 0, 0x41), 1);
      post(mem, 0, Action.ProbeSti);
      assertEquals(runUntilStop(cpu), { at: "vector", vector: 0x41 });
    } finally {
      dispose();
    }
  },
});

Deno.test({
  name: "a probe takes nothing when the LAPIC is software-disabled and an MSI was signalled",
  ignore: !available,
  fn() {
    const { vm, cpu, mem, dispose } = boot();
    try {
      // KVM drops MSIs to a software-disabled LAPIC (SVR bit 8 clear after reset).
      vm.signalMsi(0xfee0_0000, 0, 0x41);
      post(mem, 0, Action.ProbeSti);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
    } finally {
      dispose();
    }
  },
});

Deno.test({
  name: "rdmsr of IA32_APIC_BASE returns the xAPIC base when run by the guest",
  ignore: !available,
  fn() {
    const { cpu, mem, dispose } = boot();
    try {
      post(mem, 0, Action.Rdmsr, 0x1b);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      // 0xfee00000 | EN (bit 11) | BSP (bit 8).
      assertEquals(result(mem, 0, "outEax") >>> 0, 0xfee0_0900);
      // An x2APIC MSR in xAPIC mode raises #GP.
      post(mem, 0, Action.Rdmsr, 0x802);
      assertEquals(runUntilStop(cpu), { at: "gp" });
      post(mem, 0, Action.SkipFault);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
      // Back at the monitor's own level: the next action runs normally.
      post(mem, 0, Action.Rdmsr, 0x1b);
      assertEquals(runUntilStop(cpu), { at: "monitor" });
    } finally {
      dispose();
    }
  },
});
