import assert from "node:assert/strict";
import { parse } from "../../dsl/parse.ts";
import { check } from "../../dsl/check/mod.ts";
import { runProgram } from "../engine/run.ts";
import { armPlatform, checkSettings, vcpuIdsProblem } from "./platform.ts";
import { platformEntry } from "../core/platform.ts";
import { ScnError } from "../core/diagnostic.ts";

function run(text: string) {
  const program = check(parse(text, "t.scn"), {
    platforms: [platformEntry(armPlatform)],
    text,
  });
  return runProgram(program);
}

Deno.test("armPlatform runs the ITS MOVI example to a pass", () => {
  const r = run(`scenario "movi"
vm arm { arch arm64  vcpus 2  gic v3 { its } }
vcpu0: gic enable
vcpu1: gic enable
vcpu0: its mapd device=0x10 bits=4
vcpu0: its mapc collection=0 target=0
vcpu0: its mapc collection=1 target=1
vcpu0: its mapti device=0x10 event=3 lpi=8192 collection=0
vcpu0: lpi enable 8192 priority=0xa0
device 0x10: msi event=3
vcpu0: its movi device=0x10 event=3 collection=1
vcpu1: unmask irqs
run
expect vcpu1 took 8192 once
expect vcpu0 took nothing
`);
  assert.equal(r.status, "pass");
  assert.deepEqual(r.took.map((t) => [t.cpu, t.kind, t.vector]), [["vcpu1", "irq", 8192]]);
});

Deno.test("armPlatform refuses 'irqchip userspace' at check time", () => {
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  irqchip userspace }\n`),
    (e: unknown) =>
      e instanceof ScnError &&
      e.diagnostics[0].message.startsWith(
        "'irqchip userspace' is refused: KVM/arm64 has no userspace irqchip",
      ),
  );
});

Deno.test("'its_tables pre_2026', the old name of linux_7_2, is a located error that names the new one", () => {
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  gic v3 { its }  its_tables pre_2026 }\n`),
    (e: unknown) =>
      e instanceof ScnError &&
      e.diagnostics[0].message.startsWith("'its_tables pre_2026' is refused: renamed linux_7_2") &&
      e.diagnostics[0].loc.start.line === 2,
  );
});

Deno.test("vcpuIdsProblem() wants each vcpu_id 0..vcpus-1 once, and GICv3 for a non-default order", () => {
  const p = (vcpus: number, ids: number[], gic = "v3") =>
    vcpuIdsProblem({ vcpus, gic, vcpu_ids: ids });
  assert.equal(p(6, [0, 3, 5, 4, 1, 2]), undefined);
  assert.equal(p(3, []), undefined);
  assert.equal(p(2, [0, 1], "v2"), undefined);
  assert.match(p(3, [0, 2, 2])!, /lists vcpu_id 2 twice: KVM_CREATE_VCPU refuses an id in use/);
  assert.match(p(3, [0, 3, 1])!, /names vcpu_id 3, but vcpus 3 gives vcpu_ids 0..2/);
  assert.match(p(4, [0, 3])!, /lists 2 of the 4 vCPUs: add vcpu_ids 1, 2$/);
  assert.match(p(2, [1, 0], "v2")!, /needs gic v3/);
});

Deno.test("armPlatform rejects a bad vcpu_ids list at check time with a located error", () => {
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  vcpus 3  vcpu_ids=[0, 1, 1] }\n`),
    (e: unknown) =>
      e instanceof ScnError && e.diagnostics[0].kind === "check" &&
      e.diagnostics[0].loc.start.line >= 1 &&
      /lists vcpu_id 1 twice/.test(e.diagnostics[0].message),
  );
});

Deno.test("armPlatform refuses a GICv2 with more than 8 vCPUs as KVM_CREATE_DEVICE does (-E2BIG)", () => {
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  vcpus 9  gic v2 }\n`),
    (e: unknown) =>
      e instanceof ScnError && e.diagnostics[0].kind === "check" &&
      /-E2BIG above 8 vCPUs/.test(e.diagnostics[0].message),
  );
  assert.equal(run(`scenario "x"\nvm arm { arch arm64  vcpus 8  gic v2 }\n`).status, "pass");
});

Deno.test("armPlatform: vcpu_ids orders the redistributor region; vgic_get_redist_reg waits for vgic_init", () => {
  const r = run(`scenario "typer"
vm arm { arch arm64  vcpus 3  gic v3 { its uninitialized }  vcpu_ids=[2, 0, 1] }
vmm: kvm vgic_get_redist_reg vcpu=0 offset=GICR_TYPER -> $busy
vmm: kvm vgic_init
vmm: kvm vgic_set_addr type=v3_redist addr=0x10000
vmm: kvm vgic_get_redist_reg vcpu=0 offset=GICR_TYPER -> $t0
vmm: kvm vgic_get_redist_reg vcpu=1 offset=GICR_TYPER -> $t1
vmm: kvm vgic_get_redist_reg vcpu=2 offset=GICR_TYPER -> $t2
expect $busy == -EBUSY
expect $t0 == 0x001                # PLPIS: the VM has an ITS
expect $t1 == 0x111                # created last
expect $t2 == 0x201
expect vcpu2.gicr.region_index == 0
expect vgic.initialized == 1
`);
  assert.equal(r.status, "pass", JSON.stringify(r.failures));
});

Deno.test("the nr_irqs setting takes KVM's NR_IRQS values only: a multiple of 32, never rounded", () => {
  assert.equal(checkSettings({ nr_irqs: 992 }), undefined);
  assert.match(checkSettings({ nr_irqs: 100 })!, /-EINVAL: 100 is not a multiple of 32.*write 96/);
  assert.throws(
    () => run(`scenario "x"\nvm arm { arch arm64  nr_irqs 1024 }\n`),
    (e: unknown) => e instanceof ScnError && /out of range 64\.\.992/.test(e.message),
  );
});

Deno.test("a vCPU not created yet runs nothing until kvm create_vcpu makes it", () => {
  const head =
    `scenario "x"\nvm arm { arch arm64  vcpus 2 { created 1 }  gic v3 { uninitialized } }\n`;
  assert.throws(
    () => run(head + "vcpu1: unmask irqs\n"),
    (e: unknown) => e instanceof ScnError && /vcpu1 of vm 'arm' is not created yet/.test(e.message),
  );
  const r = run(head + "vmm: kvm create_vcpu id=1 -> $r\nvcpu1: unmask irqs\nexpect $r == 0\n");
  assert.equal(r.status, "pass");
  // KVM would take id 5 too, but the vm declares no such vCPU.
  assert.throws(
    () => run(head + "vmm: kvm create_vcpu id=5\n"),
    (e: unknown) =>
      e instanceof ScnError && /would succeed, but the vm declares vCPUs 0\.\.1/.test(e.message),
  );
  // Out of vcpu_ids order is fine on a GICv3: it becomes the next created.
  const three =
    `scenario "x"\nvm arm { arch arm64  vcpus 3 { created 1 }  gic v3 { uninitialized } }\n`;
  const out = run(
    three +
      "vmm: kvm create_vcpu id=2 -> $a\nvmm: kvm create_vcpu id=1 -> $b\nexpect $a == 0 and $b == 0\n" +
      "expect vcpu1.gicr.region_index == 2\n",
  );
  assert.equal(out.status, "pass", JSON.stringify(out.failures));
});

Deno.test("a vGIC or ITS device attribute before kvm create_device made the device is a scenario error: no fd to call", () => {
  const head = `scenario "x"\nvm arm { arch arm64  gic v3 { its deferred } }\n`;
  assert.throws(
    () => run(head + "vmm: kvm vgic_set_addr type=v3_dist addr=0x8000000\n"),
    (e: unknown) =>
      e instanceof ScnError &&
      /kvm vgic_set_addr: the VMM has no vGIC device fd yet: make the device with `kvm create_device type=vgic_v3`/
        .test(e.message),
  );
  assert.throws(
    () => run(head + "vmm: kvm create_device type=vgic_v3\nvmm: kvm its_ctrl reset\n"),
    (e: unknown) => e instanceof ScnError && /no ITS device fd yet/.test(e.message),
  );
  const r = run(
    head + "vmm: kvm create_device type=vgic_v3\nvmm: kvm vgic_init -> $r\nexpect $r == 0\n",
  );
  assert.equal(r.status, "pass");
});

Deno.test("a statement of a vCPU that is not runnable is a located error saying which MP state holds it", () => {
  const vm = `vm arm { arch arm64  vcpus 2  gic v3 }\n`;
  const refused = (setup: string, what: RegExp) =>
    assert.throws(
      () => run(`scenario "x"\n${vm}${setup}\nvcpu1: nop\n`),
      (e: unknown) =>
        e instanceof ScnError && what.test(e.diagnostics[0].message) &&
        e.diagnostics[0].loc.start.line === 4,
    );
  refused("vcpu1: smccc fn=PSCI_0_2_FN_CPU_OFF", /powered off \(KVM_MP_STATE_STOPPED/);
  refused(
    "vmm: kvm set_mp_state vcpu=1 state=KVM_MP_STATE_SUSPENDED",
    /suspended \(KVM_MP_STATE_SUSPENDED/,
  );
});
