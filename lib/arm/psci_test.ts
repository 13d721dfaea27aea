import assert from "node:assert/strict";
import {
  ARM_SMCCC,
  KVM_EXIT,
  KVM_MP_STATE,
  KVM_SMCCC_FILTER,
  KVM_SYSTEM_EVENT,
  Psci,
  PSCI_AFFINITY_LEVEL,
  PSCI_FN,
  PSCI_RET,
  type PsciHost,
  psciVersion,
  SMCCC_RET,
} from "./psci.ts";
import { EBUSY, EEXIST, EINVAL } from "./errno.ts";

/** A host of `n` created vCPUs whose MP states and resets the test sees. */
function host(n: number) {
  const state = new Array(n).fill(KVM_MP_STATE.RUNNABLE);
  const resets: number[] = [];
  let ran = false;
  const h: PsciHost & { resets: number[]; state: number[]; run(): void } = {
    vcpus: n,
    vcpuExists: () => true,
    mpState: (i) => state[i],
    setMpState: (i, s) => (state[i] = s),
    resetVcpu: (i) => resets.push(i),
    resetPstate: (i) => resets.push(100 + i),
    wfi: () => {},
    ranOnce: () => ran,
    emit: () => {},
    resets,
    state,
    run: () => (ran = true),
  };
  return h;
}

const none = [0n, 0n, 0n];

Deno.test("Psci: CPU_ON resets a stopped target with the entry PC and context ID, ALREADY_ON for a running one", () => {
  const h = host(2);
  const p = new Psci(h);
  p.call(0, PSCI_FN.PSCI_0_2_FN64_CPU_ON, [1n, 0x1000n, 0x55n], "hvc", 0);
  assert.equal(p.reg(0, 0), BigInt.asUintN(64, BigInt(PSCI_RET.ALREADY_ON)));
  h.state[1] = KVM_MP_STATE.STOPPED;
  p.call(0, PSCI_FN.PSCI_0_2_FN64_AFFINITY_INFO, [1n, 0n, 0n], "hvc", 0);
  assert.equal(p.reg(0, 0), BigInt(PSCI_AFFINITY_LEVEL.OFF));
  p.call(0, PSCI_FN.PSCI_0_2_FN64_CPU_ON, [1n, 0x1000n, 0x55n], "hvc", 0);
  assert.equal(p.reg(0, 0), 0n);
  assert.deepEqual(h.resets, [1]);
  assert.equal(h.state[1], KVM_MP_STATE.RUNNABLE);
  assert.equal(p.pc[1], 0x1000n);
  assert.equal(p.reg(1, 0), 0x55n);
});

Deno.test("Psci: SYSTEM_OFF stops every vCPU, exits SHUTDOWN with ndata 1, and leaves INTERNAL_FAILURE in x0", () => {
  const h = host(3);
  const p = new Psci(h);
  assert.equal(p.call(2, PSCI_FN.PSCI_0_2_FN_SYSTEM_OFF, none, "hvc", 0), "exit");
  assert.deepEqual(h.state, [5, 5, 5]);
  assert.equal(p.exitReason[2], KVM_EXIT.SYSTEM_EVENT);
  assert.equal(p.eventType[2], KVM_SYSTEM_EVENT.SHUTDOWN);
  assert.equal(p.eventNdata[2], 1);
  assert.equal(BigInt.asIntN(64, p.reg(2, 0)), BigInt(PSCI_RET.INTERNAL_FAILURE));
});

Deno.test("Psci: the SMCCC filter reserves the Arm Architecture ranges, refuses overlaps and, once a vCPU ran, any filter", () => {
  const h = host(1);
  const p = new Psci(h);
  assert.equal(p.setFilter(0x8000_0000, 1, KVM_SMCCC_FILTER.DENY, 0), -EEXIST);
  assert.equal(p.setFilter(0x8600_0000, 0x100, KVM_SMCCC_FILTER.FWD_TO_USER, 0), 0);
  assert.equal(p.setFilter(0x8600_00ff, 2, KVM_SMCCC_FILTER.DENY, 0), -EEXIST);
  assert.equal(p.setFilter(0x8600_0100, 0, KVM_SMCCC_FILTER.DENY, 0), -EINVAL);
  assert.equal(p.call(0, 0x8600_0010, none, "smc", 0), "exit");
  assert.equal(p.hypercallNr[0], 0x8600_0010);
  assert.equal(p.hypercallFlags[0], 1);
  h.run();
  assert.equal(p.setFilter(0x8700_0000, 1, KVM_SMCCC_FILTER.DENY, 0), -EBUSY);
});

Deno.test("Psci: a call no KVM service takes is NOT_SUPPORTED without a filter; PSCI 0.2 has no PSCI_FEATURES", () => {
  const p = new Psci(host(1));
  p.call(0, 0x8200_0001, none, "hvc", 0);
  assert.equal(BigInt.asIntN(64, p.reg(0, 0)), BigInt(SMCCC_RET.NOT_SUPPORTED));
  p.version = 2;
  p.call(
    0,
    PSCI_FN.PSCI_1_0_FN_PSCI_FEATURES,
    [BigInt(PSCI_FN.PSCI_0_2_FN_CPU_ON), 0n, 0n],
    "hvc",
    0,
  );
  assert.equal(BigInt.asIntN(64, p.reg(0, 0)), BigInt(PSCI_RET.NOT_SUPPORTED));
});

Deno.test("Psci under Xen: SMCCC 1.2, PSCI 1.1, CPU_ON by vaffinity with Thumb refused, SYSTEM_SUSPEND denied while another vCPU is up", () => {
  const h = host(2);
  const p = new Psci(h);
  p.callXen(0, 0x8000_0000, none, "hvc", 0);
  assert.equal(p.reg(0, 0), 0x1_0002n);
  p.callXen(0, PSCI_FN.PSCI_0_2_FN_PSCI_VERSION, none, "hvc", 0);
  assert.equal(p.reg(0, 0), 0x1_0001n);
  p.callXen(0, PSCI_FN.PSCI_1_0_FN64_SYSTEM_SUSPEND, [0x1000n, 0n, 0n], "hvc", 0);
  assert.equal(BigInt.asIntN(64, p.reg(0, 0)), BigInt(PSCI_RET.DENIED));
  h.state[1] = KVM_MP_STATE.STOPPED;
  p.callXen(0, PSCI_FN.PSCI_0_2_FN64_CPU_ON, [1n, 0x1001n, 0n], "hvc", 0);
  assert.equal(BigInt.asIntN(64, p.reg(0, 0)), BigInt(PSCI_RET.INVALID_ADDRESS));
  p.callXen(0, PSCI_FN.PSCI_0_2_FN64_CPU_ON, [1n, 0x1000n, 5n], "hvc", 0);
  assert.equal(p.reg(0, 0), 0n);
  assert.deepEqual(h.resets, [101], "PSTATE only: no KVM vCPU reset");
  assert.equal(p.reg(1, 0), 5n);
  h.state[1] = KVM_MP_STATE.STOPPED;
  p.callXen(0, PSCI_FN.PSCI_1_0_FN64_SYSTEM_SUSPEND, [0x1000n, 0n, 0n], "hvc", 0);
  assert.equal(p.reg(0, 0), 0n);
  assert.equal(p.xenShutdown, 2, "SHUTDOWN_suspend");
  assert.throws(() => p.callXen(0, 0x8400_0000, none, "hvc", 0xea1), /undefined-instruction/);
});

Deno.test("Psci: PSCI_FEATURES of every PSCI 1.x function, KVM at 1.0, 1.1 and 1.3 and Xen's domU", () => {
  const F = PSCI_FN;
  const NS = PSCI_RET.NOT_SUPPORTED;
  // Reported present by both at every 1.x version (kvm_psci_1_x_call, do_psci_1_0_features).
  const always = [
    F.PSCI_0_2_FN_PSCI_VERSION,
    F.PSCI_0_2_FN_CPU_SUSPEND,
    F.PSCI_0_2_FN64_CPU_SUSPEND,
    F.PSCI_0_2_FN_CPU_OFF,
    F.PSCI_0_2_FN_CPU_ON,
    F.PSCI_0_2_FN64_CPU_ON,
    F.PSCI_0_2_FN_AFFINITY_INFO,
    F.PSCI_0_2_FN64_AFFINITY_INFO,
    F.PSCI_0_2_FN_MIGRATE_INFO_TYPE,
    F.PSCI_0_2_FN_SYSTEM_OFF,
    F.PSCI_0_2_FN_SYSTEM_RESET,
    F.PSCI_1_0_FN_PSCI_FEATURES,
    ARM_SMCCC.VERSION_FUNC_ID,
  ];
  const suspend = [F.PSCI_1_0_FN_SYSTEM_SUSPEND, F.PSCI_1_0_FN64_SYSTEM_SUSPEND];
  const reset2 = [F.PSCI_1_1_FN_SYSTEM_RESET2, F.PSCI_1_1_FN64_SYSTEM_RESET2];
  const off2 = [F.PSCI_1_3_FN_SYSTEM_OFF2, F.PSCI_1_3_FN64_SYSTEM_OFF2];
  const absent = [F.PSCI_0_2_FN_MIGRATE, F.PSCI_0_2_FN64_MIGRATE, 0x8400_00ff];
  const features = (p: Psci, xen: boolean) => (fn: number) => {
    if (xen) p.callXen(0, F.PSCI_1_0_FN_PSCI_FEATURES, [BigInt(fn), 0n, 0n], "hvc", 0);
    else p.call(0, F.PSCI_1_0_FN_PSCI_FEATURES, [BigInt(fn), 0n, 0n], "hvc", 0);
    return Number(BigInt.asIntN(32, p.reg(0, 0)));
  };
  const answers = (p: Psci, xen: boolean, fns: readonly number[]) => fns.map(features(p, xen));
  const each = (fns: readonly number[], v: number) => fns.map(() => v);
  for (const [minor, want2, want3] of [[0, NS, NS], [1, 0, NS], [3, 0, 1]] as const) {
    const p = new Psci(host(1));
    p.version = psciVersion(1, minor);
    assert.deepEqual(answers(p, false, always), each(always, 0), `1.${minor}`);
    assert.deepEqual(answers(p, false, suspend), each(suspend, NS), `1.${minor}`);
    p.systemSuspend = true;
    assert.deepEqual(answers(p, false, suspend), each(suspend, 0), `1.${minor}`);
    assert.deepEqual(answers(p, false, reset2), each(reset2, want2), `1.${minor}`);
    assert.deepEqual(answers(p, false, off2), each(off2, want3), `1.${minor}`);
    assert.deepEqual(answers(p, false, absent), each(absent, NS), `1.${minor}`);
  }
  const x = new Psci(host(1));
  assert.deepEqual(answers(x, true, [...always, ...suspend]), each([...always, ...suspend], 0));
  assert.deepEqual(
    answers(x, true, [...reset2, ...off2, ...absent]),
    each([...reset2, ...off2, ...absent], NS),
  );
});
