import assert from "node:assert/strict";
import type { Args, RegisterAccess, Val } from "../core/table.ts";
import { fakeDomain } from "./testing.ts";
import { KvmXen } from "./kvm_xen.ts";
import {
  XEN_STRUCT_FILES,
  xenCommands,
  type XenMachine,
  xenState,
  type XenVm,
} from "./platform.ts";

/** A Xen model that stands in for the VM holding it: its own `xen`. */
type Machine = XenMachine & XenVm;

function machine(config = {}): Machine {
  const { domain } = fakeDomain(config);
  const m: XenMachine = { domain, kvm: new KvmXen(domain) };
  return Object.assign(m, { xen: m });
}

const cmds = xenCommands<Machine>();
const state = xenState<Machine>();
const cmd = (name: string) => cmds.find((c) => c.name === name)!;
const path = (pattern: string) => state.find((s) => s.pattern === pattern)!;

function access(
  prefix: string,
  name: string,
  index = 0,
  fileIndex = 0,
  extra: Record<string, Val> = {},
): Args {
  const file = XEN_STRUCT_FILES.find((f) => f.prefix === prefix)!;
  const register = file.registers.find((r) => r.name === name)!;
  const a: RegisterAccess & { fileIndex: number } = {
    register,
    file,
    index,
    fields: [],
    fileIndex,
  };
  const out: Record<string, Val> & { $register?: RegisterAccess } = { ...extra };
  out.$register = a;
  return out;
}

Deno.test("the seed 001 unmask bug, step by step through the command table", () => {
  const m = machine();
  cmd("xen set_evtchn_upcall_vector").run(m, 0, { vector: 0xf3, vcpu: -1 }, "vcpu0");
  m.domain.mem.write(0x10000, 8, 0); // the spurious registration event was handled
  const p = cmd("evtchn bind_ipi").run(m, 0, { vcpu: -1 }, "vcpu0") as number;
  cmd("evtchn mask").run(m, 0, { port: p }, "vcpu0");
  cmd("send").run(m, -1, { port: p }, "xen");
  assert.equal(path("shared.evtchn_pending[#]").get(m, [p]), 1);
  assert.equal(path("vcpu#.xen.upcall_pending").get(m, [0]), 0);
  cmd("bit clear").run(m, 0, access("shared", "evtchn_mask", p), "vcpu0");
  // The buggy guest tests the mask bit, which it has just cleared: no hypercall.
  assert.equal(cmd("bit test").run(m, 0, access("shared", "evtchn_mask", p), "vcpu0"), 0);
  assert.equal(path("vcpu#.xen.upcall_pending").get(m, [0]), 0);
  // The correct guest tests the pending bit, re-masks and calls EVTCHNOP_unmask.
  assert.equal(cmd("bit test").run(m, 0, access("shared", "evtchn_pending", p), "vcpu0"), 1);
  cmd("bit set").run(m, 0, access("shared", "evtchn_mask", p), "vcpu0");
  assert.equal(cmd("xen evtchn_unmask").run(m, 0, { port: p }, "vcpu0"), 0);
  assert.equal(path("vcpu#.info.evtchn_upcall_pending").get(m, [0]), 1n);
});

Deno.test("vcpu#.info accesses follow the vcpu_info wherever it is", () => {
  const m = machine({ vcpus: 2 });
  cmd("xen register_vcpu_info").run(m, 1, { gpa: 0x20000, offset: 0x40, vcpu: -1 }, "vcpu1");
  assert.equal(path("vcpu#.xen.vcpu_info").get(m, [1]), 0x20040);
  assert.equal(
    cmd("xchg").run(m, 1, access("vcpu#.info", "evtchn_pending_sel", 0, 1, { value: 0n }), ""),
    0xffff_ffff_ffff_ffffn,
  );
  cmd("bit clear").run(m, 1, access("vcpu#.info", "evtchn_upcall_pending", 0, 1), "vcpu1");
  assert.equal(path("vcpu#.info.evtchn_upcall_pending").get(m, [1]), 0n);
  assert.equal(m.domain.mem.read(0x20040, 8), 0);
});

Deno.test("set_callback_irq builds the parameter from its parts", () => {
  const m = machine();
  cmd("xen set_callback_irq").run(
    m,
    0,
    { vector: -1, gsi: -1, pci_device: 3, pin: 1, type: -1 },
    "vcpu0",
  );
  assert.equal(path("xen.callback").get(m, []), "pci_intx");
  cmd("xen set_callback_irq").run(
    m,
    0,
    { vector: 0xf3, gsi: -1, pci_device: -1, pin: 0, type: -1 },
    "",
  );
  assert.equal(path("xen.callback").get(m, []), "vector");
  assert.equal(path("xen.layout").get(m, []), 64);
});

Deno.test("vCPU parameters: the model's own vCPUs are bounded by the checker, hypercall and KVM ids are not", () => {
  // A guest may pass any vCPU number to a hypercall (the hypervisor answers
  // -ENOENT or -EINVAL), and KVM looks a vcpu_id up only when it delivers;
  // a vCPU the model itself acts on must exist.
  const bounded = new Set([
    "virq",
    "kvm xen_vcpu_set_attr",
    "kvm xen_vcpu_get_attr",
    "kvm xen_vcpu_set_timer",
    "kvm xen_vcpu_set_runstate",
    "kvm xen_vcpu_get_runstate",
    "kvm xen_hcall_result",
    "kvm userspace_exit",
    "kvm sched_out",
    "deschedule",
    "xen copy_vcpu_info",
  ]);
  for (const c of cmds) {
    for (const p of c.params) {
      if (p.name !== "vcpu") continue;
      assert.equal(p.type.kind, "int", c.name);
      if (p.type.kind !== "int") continue;
      assert.equal(p.type.decimal, true, `${c.name} vcpu= prints in decimal`);
      assert.equal(p.type.vcpu === true, bounded.has(c.name), `${c.name} vcpu= bounded`);
    }
  }
});

Deno.test("a 32-bit caller's set_timer_op passes the deadline as EBX (low) and ECX (high)", () => {
  const m = machine({ flavour: "kvm-xen" });
  cmd("xen cpu_mode").run(m, 0, { bits: 32 }, "vcpu0");
  cmd("xen set_timer_op").run(m, 0, { deadline: 0x1234_89ab_cdefn, cpl: 0 }, "vcpu0");
  const e = m.kvm.exits[0];
  assert.equal(e.input, 15n);
  assert.deepEqual(e.params.slice(0, 2), [0x89ab_cdefn, 0x1234n]);
  cmd("xen cpu_mode").run(m, 0, { bits: 64 }, "vcpu0");
  cmd("xen set_timer_op").run(m, 0, { deadline: 0x1234_89ab_cdefn, cpl: 0 }, "vcpu0");
  assert.equal(e.params[0], 0x1234_89ab_cdefn);
  assert.equal(path("vcpu#.exit.longmode").get(m, [0]), 1);
});

Deno.test("xen hypercall loads only the registers given; 32-bit names set the low halves' registers", () => {
  const m = machine({ flavour: "kvm-xen" });
  const none = Object.fromEntries(
    ["rdi", "rsi", "rdx", "r10", "r8", "r9", "ebx", "ecx", "edx", "esi", "edi", "ebp"].map((
      r,
    ) => [r, -1]),
  );
  cmd("xen hypercall").run(m, 0, { ...none, nr: 24, rdi: 6n, cpl: 0 }, "vcpu0");
  cmd("xen hypercall").run(m, 0, { ...none, nr: 24, ebx: 9, cpl: 0 }, "vcpu0");
  assert.equal(path("vcpu#.regs.rdi").get(m, [0]), 6n);
  assert.equal(path("vcpu#.regs.rbx").get(m, [0]), 9n);
  assert.equal(path("vcpu#.exit.params[#]").get(m, [0, 0]), 6n);
  assert.equal(path("vcpu#.exit.waiting").get(m, [0]), 1);
  assert.equal(cmd("kvm xen_hcall_result").run(m, -1, { vcpu: 0, result: 0n, errno: 22 }, ""), 1);
  assert.equal(path("vcpu#.regs.rax_signed").get(m, [0]), -22);
});
