import assert from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { runProgram } from "../engine/run.ts";
import { armPlatform } from "./platform.ts";
import { platformEntry } from "../core/platform.ts";
import { ScnError } from "../core/diagnostic.ts";
// The Xen model its Xen VMs are built with (lib/xen/parts.ts).
import "../xen/build.ts";

function run(text: string) {
  const program = check(parse(text, "t.scn"), {
    platforms: [platformEntry(armPlatform)],
    text,
  });
  return runProgram(program);
}

function checkErrors(text: string): { line: number; message: string }[] {
  try {
    run(text);
  } catch (e) {
    assert.ok(e instanceof ScnError, `expected a ScnError, got ${e}`);
    return e.diagnostics.filter((d) => d.kind === "check").map((d) => ({
      line: d.loc.start.line,
      message: d.message,
    }));
  }
  assert.fail("expected check errors");
}

Deno.test("arm64 Xen: the x86 upcall methods are refused at check time, located", () => {
  const errs = checkErrors(`scenario "x"
vm guest { arch arm64  hypervisor xen }
vcpu0: xen set_callback_irq vector=0xf3
vcpu0: xen set_evtchn_upcall_vector vector=0xf3
vcpu0: xen set_param callback_irq=0x02000000000000f3
expect xen.callback == none
`);
  assert.deepEqual(errs.map((e) => e.line), [3, 4, 5, 6]);
  assert.match(errs[0].message, /is x86 only: .*PPI 31/);
  assert.match(errs[2].message, /HVM_PARAM_CALLBACK_IRQ selects nothing/);
});

Deno.test("arm64 Xen: KVM's Xen emulation and the x86 layout's fields do not exist", () => {
  const errs = checkErrors(`scenario "x"
vm guest { arch arm64  hypervisor xen }
vmm: kvm xen_evtchn_send port=3 vcpu=0
expect vcpu0.info.arch.cr2 == 0
expect shared.arch.max_pfn == 0
`);
  assert.deepEqual(errs.map((e) => e.line), [3, 4, 5]);
  assert.match(errs[0].message, /only on x86/);
  assert.match(errs[1].message, /not in the Arm layout/);
});

Deno.test("arm64 without 'hypervisor xen' has no event channels", () => {
  const errs = checkErrors(`scenario "x"\nvm guest { arch arm64 }\nvcpu0: evtchn bind_ipi\n`);
  assert.match(errs[0].message, /needs a Xen guest: add 'hypervisor xen'/);
});

Deno.test("arm64 Xen: a send pends PPI 31 on the bound vCPU only, and the Arm offsets hold P and SEL", () => {
  const r = run(`scenario "x"
vm guest { arch arm64  hypervisor xen  vcpus 2  gic v3 }
vcpu1: xen register_vcpu_info gpa=0x20000
vcpu1: store vcpu1.info.evtchn_pending_sel 0
vcpu1: bit clear vcpu1.info.evtchn_upcall_pending
vcpu1: write gicr.icpendr0 0x80000000
vcpu0: evtchn bind_ipi -> $p0
xen: send $p0
expect vcpu0.gic.intid[31].state == pending
expect vcpu1.gic.intid[31].state == inactive
expect mem.u64[0x10030] == 0b10  # port 1
expect mem.u64[0x10008] == 1
`);
  assert.equal(r.status, "pass");
});

Deno.test("arm64 Xen: a hypercall from cpl > 0 is an input error (HVC is UNDEFINED at EL0), at cpl 0 it runs", () => {
  const vm = "vm g { arch arm64  hypervisor xen  vcpus 1  gic v3 }\n";
  assert.throws(
    () => run(`scenario "s"\n${vm}vcpu0: evtchn alloc_unbound cpl=3\n`),
    (e) => e instanceof ScnError && /UNDEFINED/.test(String(e)),
  );
  assert.equal(run(`scenario "s"\n${vm}vcpu0: evtchn alloc_unbound cpl=0\n`).status, "pass");
});

Deno.test("arm64 Xen: 'xen hvc' answers -ENOSYS for what Arm's table lacks and refuses the rest with a reason", () => {
  const vm = "vm g { arch arm64  hypervisor xen { build debug }  vcpus 1  gic v3 }\n";
  const ok = run(
    `scenario "s"\n${vm}vcpu0: xen hvc x16=15 x1=7 -> $r\nexpect $r == -ENOSYS\n` +
      "expect vcpu0.regs.x1 == 7\nexpect vcpu0.regs.x16 == 15\n",
  );
  assert.equal(ok.status, "pass");
  for (
    const [line, why] of [["x16=32", /named command/], ["x16=20", /does not/], [
      "imm=2 x16=15",
      /undefined/,
    ]]
  ) {
    assert.throws(
      () => run(`scenario "s"\n${vm}vcpu0: xen hvc ${line}\n`),
      (e) => e instanceof ScnError && (why as RegExp).test(String(e)),
      String(line),
    );
  }
});
