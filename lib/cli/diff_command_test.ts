import assert from "node:assert/strict";
import type { PlatformEntry } from "../core/platform.ts";
import { X86 } from "../api/platforms.ts";
import { droppedEoiPlatform } from "../diff/test_platforms.ts";
import { type BackendLoader, BackendUnavailable, loadBackend } from "../diff/backend.ts";
import { diffCommand } from "./diff_command.ts";
import type { Io } from "./main.ts";

// Paths are relative to the repository root, where `deno task test` runs.
const EOI = "scenarios/x86/lapic_eoi_pops_highest_isr.scn";
const CLI = "tests/fixtures/cli";

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

async function diff(args: string[], load?: BackendLoader): Promise<Captured> {
  const c: Captured = { code: -1, out: [], err: [] };
  const io: Io = {
    out: (line) => c.out.push(line),
    err: (line) => c.err.push(line),
    color: false,
    writeFile: () => {
      throw new Error("scn diff writes no files");
    },
  };
  c.code = await diffCommand(args, io, load);
  return c;
}

const model: BackendLoader = () => Promise.resolve(X86);
const planted: BackendLoader = () => Promise.resolve(droppedEoiPlatform());

Deno.test("loadBackend() names a missing platform module and one without kvmPlatform()", async () => {
  const missing = new URL("../kvm/no_such_platform.ts", import.meta.url).href;
  await assert.rejects(() => loadBackend("kvm", missing), (e: unknown) => {
    assert.ok(e instanceof BackendUnavailable);
    assert.equal(e.message, "lib/kvm/no_such_platform.ts is not part of this build yet");
    assert.equal(e.needsFfi, false);
    return true;
  });
  const wrong = new URL("../load/files.ts", import.meta.url).href;
  await assert.rejects(() => loadBackend("kvm", wrong), (e: unknown) => {
    assert.ok(e instanceof BackendUnavailable);
    assert.equal(e.message, "lib/load/files.ts does not export kvmPlatform()");
    return true;
  });
});

Deno.test("scn diff on this machine either diffs against kvm or says in one line why not", async () => {
  // Without lib/kvm/platform.ts, FFI permission or /dev/kvm: one line, exit 2.
  // With them: a real diff of a scenario the model passes.
  const c = await diff([EOI]);
  if (c.code === 2) {
    assert.deepEqual(c.out, []);
    assert.equal(c.err.length, 1);
    assert.match(
      c.err[0],
      /^scn diff: the kvm backend (is not available: .+|needs --allow-ffi: run 'deno task diff FILES\.\.\.')$/,
    );
  } else {
    assert.ok(c.code === 0 || c.code === 1, `exit ${c.code}`);
    // The host's quirks, if its probes found any, come first.
    const results = c.out.filter((l) => !l.startsWith("host: "));
    assert.match(results[0], new RegExp(`^(AGREE|DISAGREE|SKIPPED) +${EOI}`));
  }
});

Deno.test("scn diff exits 0 and says AGREE when the backend behaves as the model", async () => {
  const c = await diff([EOI, `${CLI}/pass.scn`], model);
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, [
    `AGREE     ${EOI}  (16 steps)`,
    `AGREE     ${CLI}/pass.scn  (6 steps)`,
    "2 agree, 0 disagree, 0 skipped",
  ]);
});

Deno.test("scn diff exits 1 and locates each disagreement when the backend drops an EOI", async () => {
  const c = await diff([EOI], planted);
  assert.equal(c.code, 1);
  assert.equal(c.out[0], `DISAGREE  ${EOI}  EOI clears only the highest in-service vector`);
  assert.equal(
    c.out[1],
    `  ${EOI}:19:8: vcpu0.lapic.isr: model {0x31, 0x72} | kvm {0x31, 0x72, 0x93}`,
  );
  assert.equal(c.out[2], "      after: vcpu0: eoi");
  assert.ok(c.out.includes(`  ${EOI}:20:1: expect at 20:1: model held | kvm failed`));
  assert.equal(c.out.at(-1), "0 agree, 1 disagree, 0 skipped");
});

Deno.test("scn diff refuses an unknown --against and a missing file list with exit 2", async () => {
  const a = await diff(["--against", "model-bug", EOI], planted);
  assert.deepEqual([a.code, a.err], [2, ["scn diff: --against takes kvm, not 'model-bug'"]]);
  const b = await diff([], model);
  assert.equal(b.code, 2);
  assert.match(b.err[0], /name scenario files/);
});

Deno.test("scn diff says to add --allow-ffi when the backend lacks FFI permission", async () => {
  const c = await diff([EOI], () => Promise.reject(new BackendUnavailable("no ffi", true)));
  assert.deepEqual([c.code, c.err], [
    2,
    ["scn diff: the kvm backend needs --allow-ffi: run 'deno task diff FILES...'"],
  ]);
});

Deno.test("scn diff reports lib/kvm's KvmUnavailable raised while running as one line, exit 2", async () => {
  class KvmUnavailable extends Error {
    constructor(readonly reason: string, message: string) {
      super(message);
      this.name = "KvmUnavailable";
    }
  }
  const base = X86;
  const noDevice: PlatformEntry = {
    ...base,
    create: () => {
      throw new KvmUnavailable("no-kvm", "/dev/kvm does not exist");
    },
  };
  const c = await diff([EOI], () => Promise.resolve(noDevice));
  assert.deepEqual([c.code, c.err], [
    2,
    ["scn diff: the kvm backend is not available: /dev/kvm does not exist"],
  ]);
});

Deno.test("scn diff gives a located input error and exit 2 for a bad scenario", async () => {
  const c = await diff([`${CLI}/bad_command.scn`], model);
  assert.equal(c.code, 2);
  assert.match(c.err[0], /^tests\/fixtures\/cli\/bad_command\.scn:\d+:\d+: error: /);
  assert.ok(c.err[0].includes("^"), "the message quotes the line with a caret");
  assert.equal(c.out.at(-1), "0 agree, 0 disagree, 0 skipped, 1 input errors");
});

Deno.test("scn diff skips a scenario of another architecture, saying which", async () => {
  const arm = "scenarios/arm/" + [...Deno.readDirSync("scenarios/arm")]
    .map((e) => e.name).filter((n) => n.endsWith(".scn") && !n.startsWith("_")).sort()[0];
  const c = await diff([arm], model);
  assert.equal(c.code, 0);
  assert.deepEqual(c.out, [
    `SKIPPED   ${arm}  'arch arm64': the kvm backend runs x86 only`,
    "0 agree, 0 disagree, 1 skipped",
  ]);
});
