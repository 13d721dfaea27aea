import { x86Platform } from "../x86/platform.ts";
import { platformEntry } from "../core/platform.ts";
import assert from "node:assert/strict";
import { type Io, main } from "./main.ts";
import { processFile } from "./process.ts";
import { collectFiles, fileLoader } from "../load/files.ts";

// Paths are relative to the repository root, where `deno task test` runs.
const CLI = "tests/fixtures/cli";
const INC = "tests/fixtures/include";

interface Captured {
  code: number;
  out: string[];
  err: string[];
  styles: string[];
  files: Map<string, string>;
}

function scn(
  args: string[],
  options: {
    color?: boolean;
    writeFile?: Io["writeFile"];
    platforms?: Io["platforms"];
    runCommand?: string;
  } = {},
): Captured {
  const c: Captured = { code: -1, out: [], err: [], styles: [], files: new Map() };
  const io: Io = {
    out: (line, style) => {
      c.out.push(line);
      c.styles.push(style ?? "");
    },
    err: (line) => c.err.push(line),
    color: options.color ?? false,
    writeFile: options.writeFile ?? ((path, text) => c.files.set(path, text)),
    platforms: options.platforms,
    runCommand: options.runCommand,
  };
  c.code = main(args, io);
  return c;
}

Deno.test("scn run: a passing scenario exits 0 with 'N passed, M failed' last", () => {
  const c = scn(["run", `${CLI}/pass.scn`]);
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, [
    `PASS  ${CLI}/pass.scn  an IPI to self is taken once`,
    "1 passed, 0 failed",
  ]);
  assert.deepEqual(c.err, []);
});

Deno.test("scn run: a failed expectation exits 1 and names the replay command", () => {
  const c = scn(["run", `${CLI}/fail.scn`]);
  assert.equal(c.code, 1);
  assert.equal(c.out[0], `FAIL  ${CLI}/fail.scn  expects the wrong vector`);
  assert.equal(c.out[1], `  ${CLI}/fail.scn:8:1: expect vcpu0 took 0x42`);
  assert.equal(c.out.at(-2), `  replay: deno task scn run ${CLI}/fail.scn --trace`);
  assert.equal(c.out.at(-1), "0 passed, 1 failed");
});

Deno.test("scn run: the replay line names the command that ran it (the KVM backend's)", () => {
  const c = scn(["run", `${CLI}/fail.scn`], { runCommand: "deno task scn-kvm run --backend kvm" });
  assert.equal(
    c.out.at(-2),
    `  replay: deno task scn-kvm run --backend kvm ${CLI}/fail.scn --trace`,
  );
});

Deno.test("scn run: XFAIL exits 0, XPASS exits 1", () => {
  const x = scn(["run", `${CLI}/xfail.scn`]);
  assert.equal(x.code, 0);
  assert.equal(x.out.at(-1), "1 passed, 0 failed");
  const p = scn(["run", `${CLI}/xpass.scn`]);
  assert.equal(p.code, 1);
  assert.equal(p.out.at(-1), "0 passed, 1 failed");
});

Deno.test("scn run: a check error exits 2 and quotes the source", async (t) => {
  const c = scn(["run", `${CLI}/bad_command.scn`]);
  assert.equal(c.code, 2);
  assert.equal(c.out.at(-1), "0 passed, 0 failed, 1 error");
  await t.assertSnapshot(c.out.join("\n"));
});

Deno.test("scn run --max-steps: a runaway run is a budget error, exit 2", () => {
  const c = scn(["run", "--max-steps", "50", `${CLI}/storm.scn`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out.slice(0, 4), [
    `ERROR ${CLI}/storm.scn`,
    `  ${CLI}/storm.scn:8:1: error: step budget exhausted: this 'run' did not settle within 50 steps`,
    "    8 | run",
    "      | ^^^",
  ]);
});

Deno.test("scn run: an internal error exits 3 and says it is a bug", async () => {
  const dir = await Deno.makeTempDir({ prefix: "irqlab_cli_" });
  try {
    const file = `${dir}/broken.scn`;
    await Deno.writeTextFile(file, `scenario "broken model"\nvm g { arch x86_64 }\nrun\n`);
    // A platform whose VM factory throws stands for a bug in a model.
    const broken = platformEntry({
      ...x86Platform,
      create: () => {
        throw new TypeError("model exploded");
      },
    });
    const c = scn(["run", file], { platforms: [broken] });
    assert.equal(c.code, 3);
    assert.equal(c.out[0], `ERROR ${file}: internal error: TypeError: model exploded`);
    assert.equal(c.out[1], "  this is a bug in irqlab: please report it with the scenario");
    assert.equal(c.out.at(-1), "0 passed, 0 failed, 1 error");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scn run: input nested too deeply to parse is a located budget error where it passes the budget, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "irqlab_cli_" });
  try {
    const deep = `${dir}/deep.scn`;
    const n = 20_000;
    await Deno.writeTextFile(
      deep,
      `scenario "deep"\nexpect ${"(".repeat(n)}1 == 1${")".repeat(n)}\n`,
    );
    const c = scn(["run", deep]);
    assert.equal(c.code, 2);
    assert.equal(c.out[0], `ERROR ${deep}`);
    // `expect ` is 7 columns; the 201st parenthesis is the one past the budget.
    assert.match(c.out[1], /deep\.scn:2:208: error: nested more than 200 levels deep/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scn run: a missing file exits 2", () => {
  const c = scn(["run", `${CLI}/nope.scn`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.out, [
    `ERROR ${CLI}/nope.scn`,
    `  ${CLI}/nope.scn:1:1: error: no such file or directory '${CLI}/nope.scn'`,
    "(0 expected failures, 0 unexpected passes, 1 errors)",
    "0 passed, 0 failed, 1 error",
  ]);
});

Deno.test("scn run: a directory runs its scenarios sorted, the worst exit code wins", () => {
  const c = scn(["run", "--max-steps", "100", CLI]);
  assert.equal(c.code, 2);
  const heads = c.out.filter((l) => /^[A-Z]+ +\S/.test(l)).map((l) =>
    l.split(/\s+/).slice(0, 2).join(" ")
  );
  assert.deepEqual(heads, [
    `ERROR ${CLI}/bad_command.scn`,
    `FAIL ${CLI}/fail.scn`,
    `PASS ${CLI}/pass.scn`,
    `ERROR ${CLI}/storm.scn`,
    `XFAIL ${CLI}/xfail.scn`,
    `XPASS ${CLI}/xpass.scn`,
  ]);
  assert.deepEqual(c.out.slice(-2), [
    "(1 expected failures, 1 unexpected passes, 2 errors)",
    "2 passed, 2 failed, 2 errors",
  ]);
});

Deno.test("scn run: scenarios assembled with include run, and include errors quote every file", async (t) => {
  assert.equal(scn(["run", `${INC}/main.scn`]).code, 0);
  const c = scn(["run", `${INC}/cycle.scn`]);
  assert.equal(c.code, 2);
  await t.assertSnapshot(c.out.join("\n"));
  const m = scn(["run", `${INC}/missing.scn`]);
  assert.equal(m.code, 2);
  assert.equal(
    m.out[1],
    `  ${INC}/missing.scn:2:9: error: cannot read included file '_nowhere.scn': ` +
      `no such file '${INC}/_nowhere.scn'`,
  );
});

Deno.test("scn run --json prints one JSON document with scenarios and summary", () => {
  const c = scn(["run", "--json", `${CLI}/fail.scn`, `${CLI}/pass.scn`, `${CLI}/bad_command.scn`]);
  assert.equal(c.code, 2);
  assert.equal(c.out.length, 1);
  const doc = JSON.parse(c.out[0]);
  assert.deepEqual(
    doc.scenarios.map((s: { file: string; title?: string; tags?: string[]; status: string }) => [
      s.file,
      s.title,
      s.tags,
      s.status,
    ]),
    [
      [`${CLI}/fail.scn`, "expects the wrong vector", ["fixture"], "fail"],
      [`${CLI}/pass.scn`, "an IPI to self is taken once", ["fixture", "ipi"], "pass"],
      [`${CLI}/bad_command.scn`, undefined, undefined, "error"],
    ],
  );
  assert.deepEqual(
    doc.scenarios[0].failures.map((
      f: { line: number; column: number; text: string },
    ) => [f.line, f.column, f.text]),
    [[8, 1, "vcpu0 took 0x42"]],
  );
  assert.deepEqual(
    doc.scenarios[2].errors.map((
      e: { line: number; column: number; message: string; hint: string },
    ) => [
      e.line,
      e.column,
      e.message,
      e.hint,
    ]),
    [[3, 8, "unknown command 'eio' for vcpu0", "did you mean 'eoi'?"]],
  );
  assert.deepEqual(doc.summary, {
    passed: 1,
    failed: 2,
    xfail: 0,
    xpass: 0,
    errors: 1,
    skipped: 0,
  });
});

Deno.test("scn run --junit - prints JUnit XML after the text report", () => {
  const c = scn(["run", "--junit", "-", `${CLI}/pass.scn`, `${CLI}/xfail.scn`]);
  assert.equal(c.code, 0);
  assert.equal(c.out[c.out.length - 2], "2 passed, 0 failed");
  const xml = c.out.at(-1)!;
  assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'), xml);
  assert.match(xml, /<testsuite name="irqlab" tests="2" failures="0" errors="0" skipped="1">/);
  assert.match(xml, /<skipped message="expected failure: waiting for a fix"\/>/);
  assert.equal(c.files.size, 0);
});

Deno.test("scn run --junit FILE writes the file, and explains a missing permission", () => {
  const c = scn(["run", "--junit", "/tmp/out.junit.xml", `${CLI}/pass.scn`]);
  assert.equal(c.code, 0);
  assert.deepEqual([...c.files.keys()], ["/tmp/out.junit.xml"]);
  assert.match(c.files.get("/tmp/out.junit.xml")!, /tests="1" failures="0"/);
  const denied = scn(["run", "--junit", "r.xml", `${CLI}/pass.scn`], {
    writeFile: () => {
      throw new Deno.errors.NotCapable("no");
    },
  });
  assert.equal(denied.code, 2);
  assert.deepEqual(denied.err, [
    "scn: writing 'r.xml' needs write permission: run with --allow-write=r.xml",
  ]);
  const broken = scn(["run", "--junit", "r.xml", `${CLI}/pass.scn`], {
    writeFile: () => {
      throw new Error("disk full");
    },
  });
  assert.equal(broken.code, 2);
  assert.deepEqual(broken.err, ["scn: cannot write 'r.xml': disk full"]);
});

Deno.test("scn run --trace prints each event with its cause under the scenario", () => {
  const c = scn(["run", "--trace", `${CLI}/pass.scn`]);
  assert.equal(c.code, 0);
  assert.equal(c.out[0], `PASS  ${CLI}/pass.scn  an IPI to self is taken once`);
  const events = c.out.slice(1, -1);
  assert.ok(events.length > 3);
  events.forEach((l, i) => assert.match(l, new RegExp(`^  #${i + 1} @0ns \\S+ \\S+: .*`)));
  assert.ok(events.some((l) => / vcpu0 took: 0x41 {2}<- #\d+$/.test(l)), events.join("\n"));
  assert.equal(c.out.at(-1), "1 passed, 0 failed");
});

Deno.test("scn run passes styles only with colour on and --no-color off", () => {
  const colored = scn(["run", `${CLI}/pass.scn`], { color: true });
  assert.deepEqual(colored.styles, ["color: green", "color: green"]);
  const plain = scn(["run", "--no-color", `${CLI}/pass.scn`], { color: true });
  assert.deepEqual(plain.styles, ["", ""]);
});

Deno.test("scn check parses and checks without running, and never says passed", () => {
  const storm = scn(["check", `${CLI}/storm.scn`, `${CLI}/fail.scn`]);
  assert.equal(storm.code, 0);
  assert.deepEqual(storm.out, [
    `CHECKED ${CLI}/storm.scn  a level-triggered pin whose handler never lowers the line`,
    `CHECKED ${CLI}/fail.scn  expects the wrong vector`,
    "2 checked, 0 with errors",
  ]);
  // A file that `scn run` fails is checked, not passed.
  assert.equal(scn(["run", `${CLI}/fail.scn`]).code, 1);
  const bad = scn(["check", `${CLI}/bad_command.scn`]);
  assert.equal(bad.code, 2);
  assert.equal(bad.out[1], `  ${CLI}/bad_command.scn:3:8: error: unknown command 'eio' for vcpu0`);
});

Deno.test("scn help prints the overview and each topic", async (t) => {
  await t.step("no command and --help print the overview", () => {
    for (const args of [[], ["help"], ["--help"], ["run", "-h"]]) {
      const c = scn(args);
      assert.equal(c.code, 0);
      assert.equal(
        c.out[0],
        "irqlab: a testbed for the interrupt plumbing of virtual machine monitors.",
      );
    }
  });
  await t.step("language", () => {
    const c = scn(["help", "language"]);
    assert.equal(c.code, 0);
    assert.equal(c.out[0], "A .scn file, one statement per line ('#' starts a comment):");
    assert.ok(c.out.some((l) => l.includes("on vcpu0 vector 0x41 { eoi }")));
  });
  await t.step("settings, commands, state, handlers, actors", () => {
    const topics: [string, string][] = [
      ["settings", "  vcpus 1..255 (default 1): number of vCPUs (APIC IDs 0..n-1)"],
      // A block's settings are listed under the setting they follow.
      ["settings", "    gic { its flag }: a vITS (KVM_DEV_TYPE_ARM_VGIC_ITS; GICv3 only)"],
      [
        "commands",
        "  vmm: kvm irq_line  - KVM_IRQ_LINE_STATUS: set a GSI's level on every route of it",
      ],
      [
        "vcpu",
        "  vcpuN: eoi  - write the local APIC EOI register: clears the highest ISR bit (x2APIC mode: WRMSR 0x80b)",
      ],
      ["device", "  device X: msi  - the device writes an MSI (delivered with KVM_SIGNAL_MSI)"],
      ["state", "  vcpuN.lapic.isr  a set of numbers in 0..0xff: ISR: the set vectors"],
      ["handlers", "  on vcpuN nmi { ... }: a non-maskable interrupt"],
    ];
    for (const [topic, line] of topics) {
      const c = scn(["help", topic]);
      assert.equal(c.code, 0, topic);
      assert.ok(c.out.includes("[x86_64]"), topic);
      assert.ok(c.out.includes(line), `${topic}: ${line}`);
    }
    assert.ok(!scn(["help", "vcpu"]).out.some((l) => l.startsWith("  vmm:")));
  });
  await t.step("one command, one or two words", () => {
    // Other platforms may list their own 'eoi'; check the x86 section.
    const x86 = (out: string[]) => out.slice(out.indexOf("[x86_64]"));
    const one = scn(["help", "eoi"]);
    assert.equal(one.code, 0);
    assert.deepEqual(x86(one.out).slice(0, 3).filter((l) => !l.startsWith("[")), [
      "  vcpuN: eoi  - write the local APIC EOI register: clears the highest ISR bit (x2APIC mode: WRMSR 0x80b)",
    ]);
    const two = scn(["help", "kvm", "irq_line"]);
    assert.equal(two.code, 0);
    assert.deepEqual(x86(two.out).slice(0, 6), [
      "[x86_64]",
      "  vmm: kvm irq_line  - KVM_IRQ_LINE_STATUS: set a GSI's level on every route of it",
      // Every command's main argument may be positional, and every argument named.
      "      usage: kvm irq_line <gsi> level=<level>",
      "         or: kvm irq_line gsi=<gsi> level=<level>",
      "      gsi=a GSI (0..0xffffffff): the GSI",
      "      level=a line level (0..1): 1 assert, 0 de-assert",
    ]);
  });
  await t.step("an unknown topic exits 2", () => {
    const c = scn(["help", "frobnicate"]);
    assert.equal(c.code, 2);
    assert.deepEqual(c.out, []);
    assert.deepEqual(c.err, ["scn help: no topic 'frobnicate'; try 'scn help'"]);
  });
});

Deno.test("bad command lines exit 2 with a message on stderr", async (t) => {
  await t.step("an unknown option", () => {
    const c = scn(["run", "--frobnicate", `${CLI}/pass.scn`]);
    assert.equal(c.code, 2);
    assert.deepEqual(c.out, []);
    assert.equal(c.err.length, 2);
    assert.match(c.err[0], /^scn: Unknown option '--frobnicate'/);
    assert.equal(c.err[1], "try 'scn help'");
  });
  await t.step("an unknown command", () => {
    const c = scn(["walk", "x"]);
    assert.equal(c.code, 2);
    assert.deepEqual(c.err, [
      "scn: unknown command 'walk'; expected run, check, explore, fmt, minimize, report, diff or help",
    ]);
  });
  await t.step("no files", () => {
    const c = scn(["run"]);
    assert.equal(c.code, 2);
    assert.deepEqual(c.err, [
      "scn run: name scenario files or directories, e.g. 'scn run scenarios'",
    ]);
  });
  await t.step("a bad --max-steps", () => {
    for (const n of ["0", "-3", "1.5", "many"]) {
      const c = scn(["run", `--max-steps=${n}`, `${CLI}/pass.scn`]);
      assert.equal(c.code, 2, n);
      assert.deepEqual(c.err, [`scn: --max-steps needs a positive whole number, not '${n}'`]);
    }
  });
});

Deno.test("collectFiles() walks directories sorted, skips _fragments and reports missing paths", () => {
  assert.deepEqual(collectFiles([INC, `${INC}/_a.scn`, "tests/fixtures/none"]), {
    files: [`${INC}/cycle.scn`, `${INC}/main.scn`, `${INC}/missing.scn`, `${INC}/_a.scn`],
    missing: ["tests/fixtures/none"],
  });
});

Deno.test("fileLoader() resolves includes against the including file and stays in its folder", () => {
  const vm = fileLoader("_vm.scn", `${INC}/main.scn`);
  assert.ok(vm && "name" in vm);
  assert.equal(vm.name, `${INC}/_vm.scn`);
  const up = fileLoader("../include/./_vm.scn", `${CLI}/x.scn`);
  assert.ok(up && "refused" in up);
  assert.match(up.refused, /leads out of the including file's folder/);
  const none = fileLoader("_none.scn", `${INC}/main.scn`);
  assert.ok(none && "refused" in none);
  assert.match(none.refused, /no such file/);
});

Deno.test("processFile() in check mode reports the file checked, not passed", () => {
  const o = processFile(`${CLI}/fail.scn`, "check");
  assert.deepEqual(o, {
    kind: "checked",
    file: `${CLI}/fail.scn`,
    title: "expects the wrong vector",
    tags: ["fixture"],
  });
});

Deno.test("scn check --max-input-bytes: a file over the default budget is refused unless the user raises it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "irqlab_cli_" });
  try {
    // Just over the 4 MiB a stranger's scenario may hold.
    const file = `${dir}/big.scn`;
    const head = 'scenario "big"\nvm guest { arch x86_64 }\n';
    Deno.writeTextFileSync(file, head + "vcpu0: nop\n" + ";".repeat(4 * 1024 * 1024));
    const refused = scn(["check", file]);
    assert.equal(refused.code, 2);
    assert.match(refused.out.join("\n"), /big\.scn:1:1: error: .* larger than 4194304 bytes/);
    assert.match(refused.out.join("\n"), /raise it with --max-input-bytes N/);
    const raised = scn(["check", "--max-input-bytes", "5000000", file]);
    assert.equal(raised.code, 0, raised.out.join("\n"));
    assert.match(raised.out.join("\n"), /CHECKED .*big\.scn/);
    // Lowered below the file's size, it is refused at that size.
    const lowered = scn(["run", "--max-input-bytes=1000", file]);
    assert.equal(lowered.code, 2);
    assert.match(lowered.out.join("\n"), /larger than 1000 bytes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scn --max-input-bytes is checked like the other numeric options", () => {
  for (const n of ["0", "-3", "1.5", "4MiB", "0x10"]) {
    const c = scn(["check", `--max-input-bytes=${n}`, `${CLI}/pass.scn`]);
    assert.equal(c.code, 2, n);
    assert.deepEqual(c.err, [`scn: --max-input-bytes needs a positive whole number, not '${n}'`]);
  }
  const c = scn(["explore", "--max-input-bytes", "100", `${CLI}/pass.scn`]);
  assert.equal(c.code, 2);
  assert.deepEqual(c.err, [
    "scn explore: --max-input-bytes is an option of 'scn run' and 'scn check'",
  ]);
});
