import assert from "node:assert/strict";
import { type Io, main, mainAsync } from "./main.ts";
import { KVM_TASK } from "./kvm_run_command.ts";
import { kvmTestsAvailable } from "../kvm/test_support.ts";
import type { ScenarioResult } from "../engine/run.ts";
import { exitCodeOf, type Outcome } from "../report/outcome.ts";
import { textReport } from "../report/text.ts";
import { junitReport } from "../report/junit.ts";
import { jsonReport } from "../report/json.ts";

const available = kvmTestsAvailable("lib/cli/kvm_run_command_test.ts");

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  const io: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    color: false,
    writeFile: () => {
      throw new Error("writes nothing");
    },
  };
  return { io, out, err };
}

Deno.test("scn run --backend kvm through the synchronous entry point names the task that works, exit 2", () => {
  const c = capture();
  const code = main(["run", "--backend", "kvm", "scenarios/x86/readme_level_redelivery.scn"], c.io);
  assert.equal(code, 2);
  assert.equal(c.err.length, 1);
  assert.ok(c.err[0].includes(KVM_TASK), c.err[0]);
  assert.deepEqual(c.out, []);
});

Deno.test("scn run --backend with an unknown backend is an input error, exit 2", () => {
  const c = capture();
  assert.equal(main(["run", "--backend", "qemu", "scenarios/x86"], c.io), 2);
  assert.match(c.err[0], /--backend is 'model' or 'kvm'/);
});

Deno.test("scn run --backend model runs the model as without the option", () => {
  const c = capture();
  assert.equal(
    main(["run", "--backend", "model", "scenarios/x86/readme_level_redelivery.scn"], c.io),
    0,
  );
  assert.equal(c.out.at(-1), "1 passed, 0 failed");
});

Deno.test({
  name: "scn run --backend kvm skips an arm64 scenario with the reason and counts it as skipped",
  ignore: !available,
  async fn() {
    const c = capture();
    const code = await mainAsync(
      ["run", "--backend", "kvm", "scenarios/arm/arm01_gicv2_sgi_self.scn"],
      c.io,
    );
    assert.equal(code, 0);
    assert.ok(c.out[0].startsWith("SKIP  scenarios/arm/arm01_gicv2_sgi_self.scn"), c.out[0]);
    assert.match(c.out[1], /the KVM backend runs x86_64 VMs only/);
    assert.equal(c.out.at(-1), "0 passed, 0 failed, 1 skipped");
  },
});

Deno.test({
  name: "scn run --backend kvm passes a scenario KVM agrees with",
  ignore: !available,
  async fn() {
    const c = capture();
    const code = await mainAsync(
      ["run", "--backend", "kvm", "scenarios/x86/x86_31_split_irqchip_eoi_exit_only_for_level.scn"],
      c.io,
    );
    assert.equal(code, 0, c.out.join("\n"));
    assert.equal(c.out.at(-1), "1 passed, 0 failed");
  },
});

Deno.test("textReport() shows a skipped scenario with its reason and counts it in the summary", () => {
  const skipped: ScenarioResult = {
    file: "a.scn",
    title: "t",
    tags: [],
    status: "skip",
    skipReason: "'kvm nmi': not expressible",
    expectFailure: null,
    failures: [],
    trace: [],
    took: [],
    steps: 0,
    time: 0,
  };
  const outcomes: Outcome[] = [{ kind: "result", file: "a.scn", result: skipped }];
  const lines = textReport(outcomes, { trace: false, replay: (f) => f }).map((l) => l.text);
  assert.deepEqual(lines, [
    "SKIP  a.scn  t",
    "      'kvm nmi': not expressible",
    "0 passed, 0 failed, 1 skipped",
  ]);
  assert.equal(exitCodeOf(outcomes), 0);
  assert.match(junitReport(outcomes), /<skipped message="'kvm nmi': not expressible"\/>/);
  assert.equal(
    JSON.parse(jsonReport(outcomes)).scenarios[0].skipReason,
    "'kvm nmi': not expressible",
  );
});
