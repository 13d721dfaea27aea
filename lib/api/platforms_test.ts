import assert from "node:assert/strict";
import type { ModelEnv, Platform, PlatformEntry, VmModel } from "../core/platform.ts";
import { Trace } from "../core/trace.ts";
import { EventQueue } from "../core/event_queue.ts";
import { x86Platform } from "../x86/platform.ts";
import { armPlatform } from "../arm/platform.ts";
import type { X86Vm } from "../x86/vm.ts";
import { ARM, PLATFORMS, X86 } from "./platforms.ts";
import { checkText } from "./scenario.ts";
import { runProgram } from "../engine/run.ts";

function env(): ModelEnv {
  return { trace: new Trace(() => 0), queue: new EventQueue(), now: () => 0 };
}

function settingsOf(arch: string) {
  return checkText(`scenario "t"\nvm g { arch ${arch} }\n`, "t.scn").vms[0].settings;
}

Deno.test("the compiler refuses an Arm command given an x86 VM, and a typed platform as an entry", () => {
  const x86vm: X86Vm = x86Platform.create("g", settingsOf("x86_64"), env());
  const its = armPlatform.commands.find((c) => c.name === "its movi")!;
  // Each line below is a type error; deno check fails if one ever compiles.
  // @ts-expect-error an Arm command takes an ArmVm, not an X86Vm
  const call = () => its.run(x86vm, -1, {}, "vmm");
  // @ts-expect-error a platform is no platform of every VM type
  const widened: Platform<VmModel> = armPlatform;
  // @ts-expect-error only platformEntry() erases a platform's VM type
  const entry: PlatformEntry = x86Platform;
  // @ts-expect-error an Arm state path reads an ArmVm
  const read = () => armPlatform.state[0].get(x86vm, [0]);
  assert.equal(typeof call, "function");
  assert.ok(widened && entry && read);
});

Deno.test("an entry's command refuses a VM that another entry created", () => {
  const x86vm = X86.create("g", settingsOf("x86_64"), env());
  const sti = X86.commands.find((c) => c.actor === "vcpu" && c.name === "sti")!;
  sti.run(x86vm, 0, {}, "vcpu0");
  const armCommand = ARM.commands.find((c) => c.actor === "vcpu")!;
  assert.throws(
    () => armCommand.run(x86vm, 0, {}, "vcpu0"),
    /internal error: VM 'g' was not created by the arm64 platform/,
  );
  const armPath = ARM.state.find((s) => s.pattern.startsWith("vcpu#"))!;
  assert.throws(() => armPath.get(x86vm, [0]), /not created by the arm64 platform/);
});

Deno.test("an entry owns the VMs its create built, and gives its own commands' runs unchecked", () => {
  const x86vm = X86.create("g", settingsOf("x86_64"), env());
  const armvm = ARM.create("g", settingsOf("arm64"), env());
  assert.deepEqual(
    [X86.owns(x86vm), X86.owns(armvm), ARM.owns(armvm), ARM.owns(x86vm)],
    [true, false, true, false],
  );
  const sti = X86.commands.find((c) => c.actor === "vcpu" && c.name === "sti")!;
  const run = X86.uncheckedRun(sti)!;
  // The platform's typed run itself, not the erased wrapper that checks the VM first.
  assert.notEqual(run, sti.run);
  run(x86vm, 0, {}, "vcpu0");
  assert.equal((x86vm as X86Vm).cpus[0].interruptFlag, true);
  // Another entry's command, and a command replaced in a copy of the entry (a test's refusal),
  // have none: their callers use the command's own run.
  assert.equal(X86.uncheckedRun(ARM.commands[0]), null);
  const replaced = { ...sti, run: () => {} };
  const copy: PlatformEntry = {
    ...X86,
    commands: X86.commands.map((c) => c === sti ? replaced : c),
  };
  assert.equal(copy.uncheckedRun(replaced), null);
});

Deno.test("a run refuses a VM its platform's entry did not build", () => {
  const program = checkText(`scenario "t"\nvm g { arch x86_64 }\nvcpu0: sti\n`, "t.scn");
  const foreign: PlatformEntry = {
    ...X86,
    create: (name, settings, e) => ARM.create(name, settings, e),
  };
  const vms = program.vms.map((d) => ({ ...d, platform: foreign }));
  assert.throws(
    () => runProgram({ ...program, vms }, { trace: false }),
    /internal error: VM 'g' was not created by the x86_64 platform/,
  );
});

Deno.test("the registry lists each architecture once, x86 first", () => {
  assert.deepEqual(PLATFORMS.map((p) => p.arch.join("/")), ["x86_64", "arm64"]);
});

Deno.test("no source file casts to a platform type", async () => {
  const cast = /\bas\s+(?:unknown\s+as\s+)?(?:Platform|PlatformEntry)\b/;
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && !e.name.startsWith(".") && e.name !== "node_modules") await walk(path);
      else if (e.isFile && path.endsWith(".ts") && cast.test(await Deno.readTextFile(path))) {
        offenders.push(path);
      }
    }
  };
  const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  for (const top of ["lib", "dsl", "tests", "bench"]) {
    await walk(`${root}/${top}`).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  assert.deepEqual(offenders, []);
});
