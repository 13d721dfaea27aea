import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";

/**
 * `scn run` and `scn check` from the command line's own entry load only
 * the models their scenarios name (lib/api/platform_loaders.ts): each case
 * runs in a fresh `deno run` process and must print, byte for byte, what
 * main() prints in this process, where every model is loaded.
 */
const CASES: string[][] = [
  ["run", "scenarios/x86/readme_level_redelivery.scn"],
  ["run", "scenarios/arm/arm01_gicv2_sgi_self.scn"],
  ["run", "--trace", "scenarios/xen/xen_arm_12_debug_build_clobbers.scn"],
  ["run", "scenarios/xen/evtchn_free_port_not_usable.scn"],
  ["run", "--trace", "scenarios/xen/hypercall_page_msr_kvm_xen.scn"],
  ["run", "--trace", "scenarios/peers/kvm-selftests/x86/hyperv_clock.scn"],
  ["run", "tests/fixtures/cli/fail.scn"],
  ["run", "tests/fixtures/cli/bad_command.scn"],
  ["run", "tests/fixtures/include/main.scn"],
  ["check", "tests/fixtures/hosts/two_fenced.md"],
  ["run", "--trace", "tests/fixtures/cli/xfail.scn"],
  ["run", "tests/fixtures/cli/pass.scn", "scenarios/arm/arm01_gicv2_sgi_self.scn"],
  ["run", "tests/fixtures/no_such_file.scn"],
];

function inProcess(args: string[]): { code: number; out: string } {
  const lines: string[] = [];
  const io: Io = {
    out: (line) => lines.push(line),
    err: (line) => lines.push(line),
    color: false,
    writeFile: () => {},
  };
  const code = main(args, io);
  return { code, out: lines.map((l) => l + "\n").join("") };
}

async function fromEntry(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "lib/cli/main.ts", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

for (const args of CASES) {
  Deno.test(`scn ${args.join(" ")}: the entry loading only what it names prints what main() does`, async () => {
    assert.deepEqual(await fromEntry(args), inProcess(args));
  });
}

Deno.test("an arch no platform implements is refused naming every architecture, from the entry", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/riscv.scn`;
    await Deno.writeTextFile(file, 'scenario "t"\nvm g { arch riscv64 }\nrun\n');
    const entry = await fromEntry(["run", file]);
    assert.deepEqual(entry, inProcess(["run", file]));
    assert.match(entry.out, /unknown architecture 'riscv64'/);
    assert.equal(entry.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The modules of irqlab a `deno run` of the entry compiles, from Deno's
 * debug log (a line on its code cache for each). Deno's graph also reads
 * the files a literal dynamic import names, and it must: a module outside
 * that graph needs read permission for its file (see the test of
 * `--allow-read=DIR` below).
 */
async function modulesLoaded(args: string[]): Promise<string[]> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-L", "debug", "--allow-read", "lib/cli/main.ts", ...args],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const root = new URL("../../", import.meta.url).href;
  const found = new Set<string>();
  const log = new TextDecoder().decode(o.stderr);
  for (const m of log.matchAll(/code cache \w+ for ES module: (file:\/\/[^\s,]+)/g)) {
    if (m[1].startsWith(root)) found.add(m[1].slice(root.length));
  }
  return [...found].sort();
}

Deno.test("scn run of an x86 scenario does not load the Arm model, the other commands or a backend", async () => {
  const loaded = await modulesLoaded(["run", "scenarios/x86/readme_level_redelivery.scn"]);
  // What it needs, so that a change in Deno's log cannot pass this unseen.
  for (const f of ["lib/cli/main.ts", "dsl/scn_parser.js", "lib/x86/platform.ts"]) {
    assert.ok(loaded.includes(f), `${f} not among the modules loaded: ${loaded.join(" ")}`);
  }
  const needless = loaded.filter((f) =>
    /^lib\/(arm\/(?!arch\.ts)|kvm\/|diff\/|minimize\/)|^playground\//.test(f) ||
    /^lib\/cli\/(commands|help|explore_command|fmt_command|diff_command|minimize_command|report_command|kvm_run_command|run_workers)\.ts$/
      .test(f) ||
    /^lib\/report\/(json|junit|tap|html)\.ts$/.test(f)
  );
  assert.deepEqual(needless, []);
});

/**
 * lib/xen's implementation: what an x86 or Arm VM with a Xen domain is
 * built with (lib/xen/parts.ts). The rest of lib/xen (the command and state
 * tables of platform.ts and the ABI numbers and layouts they name) is the
 * language's, which every x86 scenario's check reads.
 */
const XEN_MODEL = /^lib\/xen\/(?!(platform|abi|layout|errno|hypercall|hypercall_path|parts)\.ts$)/;

/**
 * KVM's Hyper-V emulation: what an x86 VM with `hyperv_cpuid` or
 * `hyperv_synic` is built with (lib/x86/hyperv_parts.ts). Its command and
 * state tables (hyperv_commands.ts), CPUID table (hyperv_cpuid.ts) and the
 * numbers they name (hyperv_abi.ts) are the language's.
 */
const HYPERV_MODEL = /^lib\/x86\/(hyperv_(hypercall|synic|stimer|vcpu|build)\.ts)$/;

Deno.test("scn run of an x86 scenario without Xen or Hyper-V compiles nothing of their models", async () => {
  const loaded = await modulesLoaded(["run", "scenarios/x86/readme_level_redelivery.scn"]);
  for (const f of ["lib/xen/platform.ts", "lib/x86/hyperv_commands.ts"]) {
    assert.ok(loaded.includes(f), `${f} (tables) not loaded: ${loaded.join(" ")}`);
  }
  assert.deepEqual(loaded.filter((f) => XEN_MODEL.test(f) || HYPERV_MODEL.test(f)), []);
});

Deno.test("scn run of a Hyper-V scenario loads KVM's Hyper-V emulation (not Xen's), and it passes", async () => {
  const file = "scenarios/peers/kvm-selftests/x86/hyperv_clock.scn";
  const loaded = await modulesLoaded(["run", file]);
  for (
    const f of ["lib/x86/hyperv_build.ts", "lib/x86/hyperv_synic.ts", "lib/x86/hyperv_vcpu.ts"]
  ) {
    assert.ok(loaded.includes(f), `${f} not among the modules loaded: ${loaded.join(" ")}`);
  }
  assert.deepEqual(loaded.filter((f) => XEN_MODEL.test(f)), []);
  const entry = await fromEntry(["run", file]);
  assert.equal(entry.code, 0, entry.out);
  assert.match(entry.out, /^1 passed, 0 failed$/m);
});

Deno.test("scn run of a Xen scenario loads the Xen model, and it passes", async () => {
  const file = "scenarios/xen/evtchn_free_port_not_usable.scn";
  const loaded = await modulesLoaded(["run", file]);
  for (const f of ["lib/xen/build.ts", "lib/xen/domain.ts", "lib/xen/kvm_xen.ts"]) {
    assert.ok(loaded.includes(f), `${f} not among the modules loaded: ${loaded.join(" ")}`);
  }
  const entry = await fromEntry(["run", file]);
  assert.equal(entry.code, 0, entry.out);
  assert.match(entry.out, /^1 passed, 0 failed$/m);
});

Deno.test("a Xen or Hyper-V command in a vm without them is the same located error without their models", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases = [
      ["evtchn alloc_unbound -> $p", /hypervisor xen/],
      ["hyperv hypercall 0x5d", /hyperv_cpuid 1/],
    ] as const;
    for (const [command, says] of cases) {
      const file = `${dir}/without.scn`;
      await Deno.writeTextFile(
        file,
        `scenario "t"\nvm g { arch x86_64  vcpus 1 }\nvcpu0: ${command}\nrun\n`,
      );
      const entry = await fromEntry(["run", file]);
      assert.deepEqual(entry, inProcess(["run", file]));
      assert.match(entry.out, /without\.scn:3:\d+/);
      assert.match(entry.out, says);
      assert.equal(entry.code, 2);
      const loaded = await modulesLoaded(["run", file]);
      assert.deepEqual(loaded.filter((f) => XEN_MODEL.test(f) || HYPERV_MODEL.test(f)), []);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scn run of an Arm scenario does not load the x86 model", async () => {
  const loaded = await modulesLoaded(["run", "scenarios/arm/arm01_gicv2_sgi_self.scn"]);
  assert.ok(
    loaded.includes("lib/arm/platform.ts"),
    `lib/arm/platform.ts not loaded: ${loaded.join(" ")}`,
  );
  assert.deepEqual(loaded.filter((f) => /^lib\/x86\/(?!arch\.ts)/.test(f)), []);
});

Deno.test("scn run of an Arm scenario without Xen compiles nothing of Xen's model", async () => {
  const loaded = await modulesLoaded(["run", "scenarios/arm/arm01_gicv2_sgi_self.scn"]);
  // Its Xen commands and state paths are the language's (lib/arm/xen.ts), and stay.
  for (const f of ["lib/arm/xen.ts", "lib/xen/platform.ts"]) {
    assert.ok(loaded.includes(f), `${f} (tables) not loaded: ${loaded.join(" ")}`);
  }
  assert.deepEqual(loaded.filter((f) => XEN_MODEL.test(f)), []);
});

Deno.test("scn run of an Arm Xen scenario loads the Xen model, and it passes", async () => {
  const file = "scenarios/xen/xen_arm_12_debug_build_clobbers.scn";
  const loaded = await modulesLoaded(["run", file]);
  for (const f of ["lib/xen/build.ts", "lib/xen/domain.ts", "lib/xen/kvm_xen.ts"]) {
    assert.ok(loaded.includes(f), `${f} not among the modules loaded: ${loaded.join(" ")}`);
  }
  assert.deepEqual(loaded.filter((f) => /^lib\/x86\/(?!arch\.ts)/.test(f)), []);
  const entry = await fromEntry(["run", file]);
  assert.equal(entry.code, 0, entry.out);
  assert.match(entry.out, /^1 passed, 0 failed$/m);
});

Deno.test("scn run from another folder needs read permission for the scenario's folder only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A Xen scenario too: its model is loaded by a dynamic import.
    const files = [
      "x86/readme_level_redelivery.scn",
      "xen/evtchn_free_port_not_usable.scn",
      "xen/xen_arm_12_debug_build_clobbers.scn",
    ];
    for (const f of files) {
      await Deno.copyFile(`scenarios/${f}`, `${dir}/a.scn`);
      const main = new URL("./main.ts", import.meta.url).pathname;
      const o = await new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-read=${dir}`, main, "run", "a.scn"],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(o.code, 0, `${f}: ${dec.decode(o.stdout)}${dec.decode(o.stderr)}`);
      assert.match(dec.decode(o.stdout), /^1 passed, 0 failed$/m);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
