import assert from "node:assert/strict";
import { ArmVm } from "./vm.ts";
import { testEnv } from "./test_env.ts";
import { KvmIrqType } from "./gic.ts";
import { TimerCtl } from "./timer.ts";
import { OWNER_PMU, OWNER_TIMER } from "./irq_state.ts";
import { PMU_HOST_TYPE, PMU_PMCR_N } from "./pmu.ts";

Deno.test("ArmVm wires the virtual timer to PPI 27, which KVM_IRQ_LINE cannot drive", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  vm.gic.vgicInitialised();
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 0, 27, 1), 0);
  assert.equal(vm.gic.rds[0].bank.isPending(27), false);
  vm.timers[0].virt.writeCval(100);
  vm.timers[0].virt.writeCtl(TimerCtl.ENABLE);
  env.advance(100);
  assert.equal(vm.gic.rds[0].bank.line[27], 1);
  assert.deepEqual(vm.gic.pendingOf(0), [27]);
});

Deno.test("ArmVm refuses KVM_IRQ_LINE type CPU and checks SPI and PPI ranges", () => {
  const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64 }, testEnv());
  vm.gic.vgicInitialised();
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.CPU, 0, 0, 1), -6);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 20, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 0, 40, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 2, 20, 1), -22);
  assert.equal(vm.gic.kvmIrqLine(KvmIrqType.PPI, 1, 20, 1), 0);
  assert.deepEqual(vm.gic.pendingOf(1), [20]);
});

Deno.test("ArmVm.createDevice() builds the vGIC version asked for, keeping the VMM's routing and irqfds", () => {
  const vm = new ArmVm("arm", { vcpus: 2, gic: 3, its: true, v4: false, nrIrqs: 64 }, testEnv());
  vm.gic.device.created = false;
  vm.gic.itsCreated = false;
  vm.gic.assignIrqfd(3, true);
  vm.gic.routing.setDefault(32);
  assert.equal(vm.createDevice("vgic_v2", true), 0);
  assert.equal(vm.gic.version, 3); // the trial made nothing
  assert.equal(vm.createDevice("vgic_v2"), 0);
  assert.equal(vm.gic.version, 2);
  assert.equal(vm.gic.its, null);
  assert.equal(vm.gic.resamplefds.get(3), 0);
  assert.equal(vm.gic.routing.gsiOfPin(5), 5);
  assert.equal(vm.gic.rds[1].bank.owner[27], OWNER_TIMER);
  assert.equal(vm.createDevice("vgic_v3"), -17); // -EEXIST
});

Deno.test("ArmVm.kvmIrqLine type CPU drives a vCPU's lines only without a vGIC", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  assert.equal(vm.kvmIrqLine(0, 0, 0, 1), -6); // -ENXIO: the vGIC is there
  vm.gic.device.created = false;
  assert.equal(vm.kvmIrqLine(0, 0, 2, 1), -22); // past KVM_ARM_IRQ_CPU_FIQ
  assert.equal(vm.kvmIrqLine(0, 0, 1, 1), 0);
  assert.equal(vm.signal(0), 2);
  assert.equal(vm.wouldWake(0), true);
  const cpu = vm.cpus[0];
  cpu.unmask("fiq");
  const t = cpu.take();
  assert.equal(t.kind, "fiq");
  assert.equal(t.vector, -1);
  assert.equal(vm.kvmIrqLine(0, 0, 1, 0), 0);
  assert.equal(vm.signal(0), 0);
});

Deno.test("ArmVm.pmuSetIrq / pmuInit follow kvm_arm_pmu_v3_set_attr and kvm_arm_pmu_v3_init", () => {
  const env = testEnv();
  const vm = new ArmVm("arm", {
    vcpus: 2,
    gic: 3,
    its: false,
    v4: false,
    nrIrqs: 64,
    pmuFeature: true,
  }, env);
  assert.equal(vm.pmuInit(0), -19); // -ENODEV: the vGIC is not initialised
  vm.gic.vgicInitialised();
  assert.equal(vm.pmuInit(0), -6); // -ENXIO: no IRQ
  assert.equal(vm.pmuSetIrq(0, 23), 0);
  assert.equal(vm.pmuSetIrq(1, 22), -22); // PPIs differ
  assert.equal(vm.pmuInit(0), 0);
  assert.equal(vm.gic.rds[0].bank.owner[23], OWNER_PMU);
  assert.equal(vm.pmuSetIrq(0, 23), -16); // created
  const plain = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, env);
  assert.equal(plain.pmuSetIrq(0, 23), -19);
});

Deno.test("ArmVm.pmuSetNrCounters / setPmcrUser: PMCR_EL0.N is the VM's, set only before INIT or the first run, never past the host's", () => {
  const vm = new ArmVm("arm", {
    vcpus: 2,
    gic: 3,
    its: false,
    v4: false,
    nrIrqs: 64,
    pmuFeature: true,
  }, testEnv());
  assert.equal(vm.pmuSetNrCounters(0, 7), -22); // -EINVAL: the host has 6
  assert.equal(vm.pmuSetNrCounters(0, 3), 0);
  assert.deepEqual(vm.pmus.map((p) => p.nr), [3, 3]); // every vCPU's
  vm.setPmcrUser(1, 9 << 11); // more than the host's: ignored
  assert.deepEqual(vm.pmus.map((p) => p.nr), [3, 3]);
  vm.setPmcrUser(1, 2 << 11);
  assert.deepEqual(vm.pmus.map((p) => p.nr), [2, 2]);
  vm.gic.vgicInitialised();
  assert.equal(vm.pmuSetIrq(0, 23), 0);
  assert.equal(vm.pmuInit(0), 0);
  assert.equal(vm.pmuSetNrCounters(0, 1), -16); // -EBUSY: initialised
  vm.timerPpis.immutable = true; // a vCPU has run
  assert.equal(vm.pmuSetNrCounters(1, 1), -16);
  vm.setPmcrUser(1, 1 << 11);
  assert.equal(vm.pmus[1].nr, 2);
  const plain = new ArmVm(
    "arm",
    { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 },
    testEnv(),
  );
  assert.equal(plain.pmuSetNrCounters(0, 1), -19); // -ENODEV
});

Deno.test("ArmVm.pmuSetPmu: the host PMU's perf type gives the VM its counters back; -ENXIO for another type, -EBUSY once initialised or run", () => {
  const vm = new ArmVm("arm", {
    vcpus: 2,
    gic: 3,
    its: false,
    v4: false,
    nrIrqs: 64,
    pmuFeature: true,
  }, testEnv());
  assert.equal(vm.pmuSetNrCounters(0, 1), 0);
  assert.equal(vm.pmuSetPmu(1, PMU_HOST_TYPE + 1), -6); // -ENXIO
  assert.deepEqual(vm.pmus.map((p) => p.nr), [1, 1]);
  assert.equal(vm.pmuSetPmu(1, PMU_HOST_TYPE), 0);
  assert.deepEqual(vm.pmus.map((p) => p.nr), [PMU_PMCR_N, PMU_PMCR_N]);
  vm.gic.vgicInitialised();
  assert.equal(vm.pmuSetIrq(0, 23), 0);
  assert.equal(vm.pmuInit(0), 0);
  assert.equal(vm.pmuSetPmu(0, PMU_HOST_TYPE + 1), -16); // -EBUSY: initialised, before the search
  vm.timerPpis.immutable = true; // a vCPU has run
  assert.equal(vm.pmuSetPmu(1, PMU_HOST_TYPE), -16);
  assert.equal(vm.pmuSetPmu(1, 0), -6); // no such PMU comes first
  const plain = new ArmVm(
    "arm",
    { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 },
    testEnv(),
  );
  assert.equal(plain.pmuSetPmu(0, PMU_HOST_TYPE), -19); // -ENODEV
});

Deno.test("ArmVm.idAa64pfr2Gcie: a GICv5 host's GCIE shows only to the VMM of a VM without a vGIC, before its first run", () => {
  const vm = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, testEnv());
  vm.gic.device.created = false;
  assert.equal(vm.idAa64pfr2Gcie("vmm"), 0); // not a GICv5 host
  vm.gic.device.hostV5 = true;
  assert.equal(vm.idAa64pfr2Gcie("vmm"), 1);
  assert.equal(vm.idAa64pfr2Gcie("guest"), 0);
  assert.match(vm.gicv5Undefined(), /ICH_HFGITR_EL2/);
  vm.gic.device.vcpuRan = true; // kvm_finalize_sys_regs
  assert.equal(vm.idAa64pfr2Gcie("vmm"), 0);
  const v3 = new ArmVm("arm", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, testEnv());
  v3.gic.device.hostV5 = true; // a vGICv3 on it: no GCIE (sanitise_id_aa64pfr2_el1)
  assert.equal(v3.idAa64pfr2Gcie("vmm"), 0);
  assert.equal(v3.idAa64pfr0Gic("guest"), 1);
});

Deno.test("ArmVm.vcpuInit: -EINVAL for other features; resets PSTATE, the vPMU and the timers but not the vGIC", () => {
  const env = testEnv();
  const vm = new ArmVm(
    "arm",
    { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64, pmuIrq: 23 },
    env,
  );
  vm.gic.vgicInitialised();
  const bank = vm.gic.rds[0].bank;
  vm.timers[0].virt.writeCval(0);
  vm.timers[0].virt.writeCtl(TimerCtl.ENABLE);
  bank.acknowledge(27);
  bank.setPending(3);
  vm.cpus[0].unmask("irq");
  vm.pmus[0].write("pmcr", 1);
  assert.equal(vm.vcpuInit(0, false), -22);
  assert.equal(vm.cpus[0].maskI, false); // refused: nothing reset
  assert.equal(vm.vcpuInit(0, true), 0);
  assert.equal(vm.cpus[0].maskI, true);
  assert.equal(vm.timers[0].virt.ctl, 0);
  assert.equal(bank.state(27), "inactive");
  assert.equal(bank.state(3), "pending");
  assert.equal(vm.pmus[0].pmcr & 1, 0);
  assert.equal(vm.pmus[0].irq, 23);
});

Deno.test("ArmVm.pmuSetFilter: KVM's checks, and the first range decides the default", () => {
  const vm = new ArmVm(
    "arm",
    { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true },
    testEnv(),
  );
  assert.equal(vm.pmuSetFilter(0, 0, 1, 2), -22); // action
  assert.equal(vm.pmuSetFilter(0, 0xffff, 2, 0), -22); // past 0x10000 events
  assert.equal(vm.pmuFilter, null);
  assert.equal(vm.pmuSetFilter(1, 0x11, 1, 0), 0); // ALLOW first: the rest denied
  assert.equal(vm.pmus[0].allowed(0x11), true);
  assert.equal(vm.pmus[0].allowed(0x08), false);
  assert.equal(vm.pmuSetFilter(0, 0, 0x20, 0), 0);
  assert.equal(vm.pmus[1].allowed(0x08), true);
  assert.equal(vm.pmus[1].allowed(0x20), false);
  vm.pmus[0].created = true;
  assert.equal(vm.pmuSetFilter(0, 0, 1, 1), -16); // initialised
  vm.timerPpis.immutable = true; // a vCPU has run
  assert.equal(vm.pmuSetFilter(1, 0, 1, 1), -16);
  assert.equal(
    new ArmVm("n", { vcpus: 1, gic: 3, its: false, v4: false, nrIrqs: 64 }, testEnv()).pmuSetFilter(
      0,
      0,
      1,
      0,
    ),
    -19,
  );
});

Deno.test("ArmVm: a vPMU on an SPI owns it, and its overflow drives the SPI's level", () => {
  const vm = new ArmVm(
    "arm",
    { vcpus: 2, gic: 3, its: false, v4: false, nrIrqs: 64, pmuFeature: true },
    testEnv(),
  );
  vm.gic.vgicInitialised();
  assert.equal(vm.pmuSetIrq(0, 40), 0);
  assert.equal(vm.pmuSetIrq(1, 40), -22); // another vCPU's SPI
  assert.equal(vm.pmuSetIrq(1, 100), 0);
  assert.equal(vm.pmuInit(1), -22); // no SPI 100 with 64 INTIDs
  assert.equal(vm.pmuInit(0), 0);
  const spis = vm.gic.dist.spis;
  assert.equal(spis.owner[40], OWNER_PMU);
  vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, 40, 1);
  assert.equal(spis.line[40] | spis.latch[40], 0); // the VMM cannot drive it
  const pmu = vm.pmus[0];
  spis.edge[40] = 0; // level, as the guest configures a PMU's SPI
  pmu.write("pmovsclr", 0xffff_ffff); // KVM's reset left UNKNOWN flags
  pmu.write("pmovsset", 1);
  pmu.write("pmintenset", 1);
  pmu.write("pmcr", 1);
  assert.equal(spis.line[40], 1);
  pmu.write("pmovsclr", 1);
  assert.equal(spis.line[40], 0);
});
