import assert from "node:assert/strict";
import { checkVms } from "./vms.ts";
import { check } from "./mod.ts";
import { parse } from "../parse.ts";
import { type Diagnostic, formatDiagnostic, ScnError } from "../../lib/core/diagnostic.ts";
import { PLATFORMS } from "../../lib/api/platforms.ts";
import type { PlatformEntry } from "../../lib/core/platform.ts";

function vms(text: string) {
  return checkVms(parse(text, "v.scn").body, PLATFORMS);
}

function vmError(text: string): Diagnostic {
  let err: unknown;
  try {
    vms(text);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError, "expected a ScnError");
  assert.equal(err.diagnostics[0].kind, "check");
  return err.diagnostics[0];
}

const show = (d: Diagnostic, text: string) => formatDiagnostic(d, () => text);

Deno.test("checkVms() fills every default of an x86 vm", () => {
  const [vm] = vms("vm g { arch x86_64 }\n");
  assert.equal(vm.name, "g");
  assert.equal(vm.vcpus, 1);
  assert.deepEqual(vm.platform.arch, ["x86_64"]);
  assert.deepEqual(vm.settings, {
    arch: "x86_64",
    hypervisor: "kvm",
    vcpus: 1,
    cpu_mode: "long",
    irqchip: "kernel",
    lapic: "xapic",
    x2apic_api: 0,
    hyperv_synic: 0,
    hyperv_cpuid: 0,
    split_pins: 24,
    tsc_khz: 0,
    split_ioapic: "none",
    ioapic_version: 0x11,
    pic_special_mask: "architectural",
    boot_cpu: 0,
    aps: "running",
    lowest_priority: "kvm-vector-hashing",
    routing: "kvm",
    apic_bus_cycle_ns: 1,
    irqfd_eventfd: "exclusive",
    apicv: "none",
    host_cpu: "intel",
    kvm_master_clock: 0,
    kvm_caps: "newest",
    "hypervisor.guest": 64,
    "hypervisor.max_evtchn_port": 1023,
    "hypervisor.vpt_align": 1,
    "hypervisor.domain": "hvm",
    "hypervisor.kvm_runstate": "copy_on_set",
    "hypervisor.kvm_wallclock": 0,
    "split_ioapic.version": 0x20,
  });
  assert.deepEqual([vm.loc.start.line, vm.loc.start.column], [1, 1]);
});

Deno.test("checkVms() reads words and name=value settings alike, in any order", () => {
  const [a, b] = vms(
    "vm a { vcpus 4 irqchip split arch x86_64 lowest_priority first }\n" +
      "vm b { arch=x86_64 vcpus=255 routing=qemu }\n",
  );
  assert.deepEqual([a.name, a.vcpus, a.settings.irqchip, a.settings.lowest_priority], [
    "a",
    4,
    "split",
    "first",
  ]);
  assert.deepEqual([b.name, b.vcpus, b.settings.routing], ["b", 255, "qemu"]);
});

Deno.test("checkVms() ignores statements other than vm", () => {
  assert.deepEqual(vms('scenario "x"\nvcpu0: nop\n'), []);
});

Deno.test("an unknown setting is an error with a suggestion", async (t) => {
  const text = "vm g { arch x86_64 vcpu 2 }\n";
  const d = vmError(text);
  assert.equal(d.message, "unknown vm setting 'vcpu'");
  assert.equal(d.hint, "did you mean 'vcpus'?");
  assert.deepEqual([d.loc.start.column, d.loc.end.column], [20, 24]);
  await t.assertSnapshot(show(d, text));
});

Deno.test("an unknown setting far from every name lists the settings", () => {
  const d = vmError("vm g { arch x86_64 frobnicate }\n");
  assert.equal(d.message, "unknown vm setting 'frobnicate'");
  assert.equal(
    d.hint,
    "expected one of: arch, hypervisor, vcpus, cpu_mode, irqchip, lapic, x2apic_api, hyperv_synic, hyperv_cpuid, " +
      "split_pins, tsc_khz, split_ioapic, " +
      "ioapic_version, pic_special_mask, boot_cpu, aps, lowest_priority, routing, apic_bus_cycle_ns, irqfd_eventfd, apicv, host_cpu, kvm_master_clock, kvm_caps",
  );
});

Deno.test("a vm without arch is an error with the vm as related location", () => {
  const text = "vm g {\n  vcpus 2\n}\n";
  const d = vmError(text);
  assert.equal(d.message, "this vm has no 'arch'");
  const arches = PLATFORMS.flatMap((p) => p.arch);
  assert.ok(arches.includes("x86_64"));
  assert.equal(d.hint, `add one of: ${arches.map((a) => `arch ${a}`).join(", ")}`);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line]), [["in this vm", 1]]);
  assert.equal(
    show(d, text).replace(/\n {2}= .*/, ""),
    [
      "v.scn:1:6: error: this vm has no 'arch'",
      "  1 | vm g {",
      "    |      ^",
      "v.scn:1:1: note: in this vm",
      "  1 | vm g {",
      "    | ^^^^^^",
    ].join("\n"),
  );
});

Deno.test("an unknown architecture is an error with a suggestion", () => {
  const d = vmError("vm g { arch x86_46 }\n");
  assert.equal(d.message, "unknown architecture 'x86_46'");
  assert.equal(d.hint, "did you mean 'x86_64'?");
  assert.equal(d.loc.start.column, 13);
});

Deno.test("a setting given twice is an error pointing at the first", () => {
  const d = vmError("vm g { arch x86_64 vcpus 2 vcpus=3 }\n");
  assert.equal(d.message, "'vcpus' is set twice");
  assert.deepEqual([d.loc.start.column, d.related?.[0].loc.start.column], [28, 20]);
  assert.equal(d.related?.[0].message, "first set here");
});

Deno.test("setting values are checked against the table", async (t) => {
  await t.step("an int out of range", () => {
    const d = vmError("vm g { arch x86_64 vcpus 256 }\n");
    assert.equal(d.message, "'vcpus' 256 is out of range 1..255");
    assert.equal(d.loc.start.column, 26);
  });
  await t.step("zero vCPUs", () => {
    assert.equal(
      vmError("vm g { arch x86_64 vcpus 0 }\n").message,
      "'vcpus' 0 is out of range 1..255",
    );
  });
  await t.step("an int setting given a name", () => {
    const d = vmError("vm g { arch x86_64 vcpus many }\n");
    assert.equal(d.message, "'vcpus' needs a number");
    assert.equal(d.hint, "vcpus takes a number in 1..255");
  });
  await t.step("an enum value that is not in the list", () => {
    const d = vmError("vm g { arch x86_64 irqchip splt }\n");
    assert.equal(d.message, "'irqchip' must be one of kernel, split, userspace");
    assert.equal(d.hint, "did you mean 'split'?");
  });
  await t.step("a setting with no value at the end", () => {
    const d = vmError("vm g { arch x86_64 irqchip }\n");
    assert.equal(d.message, "'irqchip' needs a value");
    assert.equal(d.hint, "irqchip takes one of: kernel, split, userspace");
  });
  await t.step("a block after a setting that takes none", () => {
    const d = vmError("vm g { arch x86_64 vcpus 2 { x } }\n");
    assert.equal(d.message, "'vcpus' takes no block");
  });
  await t.step("a value where a setting name should be", () => {
    const d = vmError("vm g { arch x86_64 42 }\n");
    assert.equal(d.message, "expected a setting name here");
    assert.equal(d.loc.start.column, 20);
  });
});

Deno.test("two vms with one name are an error pointing at the first", () => {
  const d = vmError("vm g { arch x86_64 }\nvm g { arch x86_64 }\n");
  assert.equal(d.message, "vm 'g' is declared twice");
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [2, 4]);
  assert.deepEqual(d.related?.map((r) => [r.message, r.loc.start.line]), [[
    "first declared here",
    1,
  ]]);
});

Deno.test("a refused setting value says why the modelled system refuses it", () => {
  const text = 'scenario "t"\nvm a { arch arm64  irqchip userspace }\n';
  let err: unknown;
  try {
    check(parse(text, "r.scn"), { platforms: PLATFORMS, text });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ScnError);
  const d = err.diagnostics[0];
  assert.match(d.message, /^'irqchip userspace' is refused: KVM\/arm64 has no userspace irqchip/);
  assert.deepEqual([d.loc.start.line, d.loc.start.column], [2, 28]);
});

Deno.test("a list setting takes [a, b, c] and range-checks each number", () => {
  const fake: PlatformEntry = {
    ...PLATFORMS[0],
    arch: ["fake"],
    settings: [
      { name: "arch", doc: "", value: { kind: "enum", values: ["fake"], default: "fake" } },
      { name: "ids", doc: "", value: { kind: "list", min: 0, max: 7, default: [0] } },
    ],
    vcpuCount: () => 1,
  };
  const [vm] = checkVms(parse("vm g { arch fake  ids=[0, 3, 5] }\n", "l.scn").body, [fake]);
  assert.deepEqual(vm.settings.ids, [0, 3, 5]);
  const [d] = checkVms(parse("vm g { arch fake }\n", "l.scn").body, [fake]);
  assert.deepEqual(d.settings.ids, [0]);
  assert.throws(
    () => checkVms(parse("vm g { arch fake  ids=[0, 9] }\n", "l.scn").body, [fake]),
    (e: unknown) =>
      e instanceof ScnError && e.diagnostics[0].message === "'ids' values must be in 0..7",
  );
});

/** The first diagnostic of checking a whole scenario made of `vm`. */
function settingsError(vm: string): string {
  const text = `scenario "t"\n${vm}`;
  try {
    check(parse(text, "s.scn"), { platforms: PLATFORMS, text });
  } catch (e) {
    assert.ok(e instanceof ScnError);
    return e.diagnostics[0].message;
  }
  throw new Error("no error");
}

Deno.test("x86: AMD AVIC needs an AMD host, and QEMU's I/O APIC version its device and 0x11 or 0x20", () => {
  assert.match(
    settingsError("vm g { arch x86_64  apicv amd_avic }\n"),
    /'apicv amd_avic' is AMD's AVIC: it needs 'host_cpu amd'/,
  );
  assert.match(
    settingsError("vm g { arch x86_64  irqchip split  split_ioapic none { version 0x11 } }\n"),
    /needs 'split_ioapic qemu'/,
  );
  assert.match(
    settingsError("vm g { arch x86_64  irqchip split  split_ioapic qemu { version 0x12 } }\n"),
    /version 0x11 or 0x20 \(ioapic_realize\), not 0x12/,
  );
  const [q] = vms("vm g { arch x86_64  irqchip split  split_ioapic qemu { version 0x11 } }\n");
  assert.equal(q.settings["split_ioapic.version"], 0x11);
});
