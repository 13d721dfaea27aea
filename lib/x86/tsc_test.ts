import assert from "node:assert/strict";
import { EventQueue } from "../core/event_queue.ts";
import { Trace } from "../core/trace.ts";
import { X86Vm } from "./vm.ts";
import { IA32_TSC_ADJUST_MSR, KvmTsc, KvmTscSync, TSC_CONSTANTS, TSC_HZ } from "./tsc.ts";

const GHZ = 1_000_000; // kHz

Deno.test("IA32_TSC_ADJUST is MSR 0x3b and named for scenarios", () => {
  assert.equal(IA32_TSC_ADJUST_MSR, 0x3b);
  assert.deepEqual(TSC_CONSTANTS, {
    IA32_TSC: 0x10,
    IA32_TSC_ADJUST: 0x3b,
    KVM_VCPU_TSC_CTRL: 0,
    KVM_VCPU_TSC_OFFSET: 0,
  });
});

Deno.test("a guest IA32_TSC write makes the TSC read the value and adds the step to IA32_TSC_ADJUST", () => {
  const t = new KvmTsc();
  t.guestWriteTsc(1000n, 5000n);
  assert.equal(t.read(1000n), 5000n);
  assert.equal(t.read(1500n), 5500n);
  assert.equal(t.adjust, 4000n);
  // Backwards: the step is negative, the register wraps as a u64.
  t.guestWriteTsc(2000n, 0n);
  assert.equal(t.read(2000n), 0n);
  assert.equal(t.adjust, BigInt.asUintN(64, 4000n - 6000n));
});

Deno.test("a guest IA32_TSC_ADJUST write moves the TSC by the register's change", () => {
  const t = new KvmTsc();
  t.guestWriteAdjust(300n);
  assert.equal(t.read(10n), 310n);
  t.guestWriteAdjust(100n);
  assert.equal(t.read(10n), 110n);
  assert.equal(t.adjust, 100n);
  assert.equal(t.untouched, false);
});

Deno.test("the VMM's IA32_TSC write: far from the course a new offset, IA32_TSC_ADJUST kept", () => {
  const sync = new KvmTscSync(), t = new KvmTsc();
  t.guestWriteAdjust(7n);
  assert.equal(sync.hostWriteTsc(t, 100n, 100, GHZ, 5n * TSC_HZ), false);
  assert.equal(t.read(100n), 5n * TSC_HZ);
  assert.equal(t.adjust, 7n);
  assert.equal(sync.curOffset, 5n * TSC_HZ - 100n);
});

Deno.test("the VMM's IA32_TSC write within a second of the last write's course takes the generation's offset", () => {
  const sync = new KvmTscSync(), a = new KvmTsc(), b = new KvmTsc();
  sync.hostWriteTsc(a, 0n, 0, GHZ, 10n * TSC_HZ);
  // 2 s later vCPU b is given a value 0.5 s short of a's course: it matches a.
  assert.equal(sync.hostWriteTsc(b, 2n * TSC_HZ, 2e9, GHZ, 11n * TSC_HZ + TSC_HZ / 2n), true);
  assert.equal(b.read(2n * TSC_HZ), a.read(2n * TSC_HZ));
  // At another rate it does not match (virtual_tsc_khz != last_tsc_khz).
  const c = new KvmTsc();
  assert.equal(sync.hostWriteTsc(c, 2n * TSC_HZ, 2e9, 2 * GHZ, 12n * TSC_HZ), false);
  // Before any VMM write only 0 matches (the vCPUs synchronized at creation).
  const fresh = new KvmTscSync(), d = new KvmTsc();
  assert.equal(fresh.hostWriteTsc(d, 50n, 50, GHZ, 40n), false);
  assert.equal(d.read(50n), 40n);
  assert.equal(new KvmTscSync().hostWriteTsc(new KvmTsc(), 50n, 50, GHZ, 0n), true);
});

Deno.test("KVM_VCPU_TSC_OFFSET sets the offset; the same offset again matches the generation", () => {
  const sync = new KvmTscSync(), a = new KvmTsc(), b = new KvmTsc();
  const minus = BigInt.asUintN(64, -5_000n);
  assert.equal(sync.setOffset(a, 10_000n, 10_000, GHZ, minus), false, "a new generation");
  assert.equal(a.read(10_000n), 5_000n);
  assert.equal(sync.curOffset, minus);
  assert.equal(sync.setOffset(b, 20_000n, 20_000, GHZ, minus), true, "the last offset again");
  assert.equal(b.read(20_000n), 15_000n);
  assert.equal(sync.lastWrite, 15_000n, "last_tsc_write: the TSC at the write");
  assert.equal(sync.userSet, true);
});

Deno.test("KvmTscSync's snapshot puts the state back and reset returns to creation", () => {
  const sync = new KvmTscSync();
  sync.created(2 * GHZ);
  const back = sync.snapshot();
  sync.hostWriteTsc(new KvmTsc(), 10n, 10, GHZ, 99n);
  assert.equal(sync.untouched, false);
  back();
  assert.equal(sync.untouched, true);
  assert.equal(sync.lastKhz, 2 * GHZ);
  sync.hostWriteTsc(new KvmTsc(), 10n, 10, GHZ, 99n);
  sync.reset();
  assert.deepEqual(
    [sync.lastWrite, sync.lastNsec, sync.userSet, sync.curOffset, sync.lastOffset, sync.lastKhz],
    [0n, 0, false, 0n, 0n, 2 * GHZ],
  );
});

Deno.test("a vCPU's TSC: its rate, plus the offset a guest write sets; a TSC deadline compares with it", () => {
  const queue = new EventQueue();
  let now = 1000;
  const vm = new X86Vm("guest", {
    lowestPriority: "kvm-vector-hashing",
    routing: "kvm",
    vcpus: 1,
    irqchip: "kernel",
    tscKhz: 2 * GHZ,
  }, { trace: new Trace(() => now), queue, now: () => now });
  const cpu = vm.cpus[0];
  assert.equal(cpu.rdmsr(0x10), 2000n, "2 GHz from 0 at creation");
  assert.equal(cpu.wrmsr(0x10, 10_000n), 0);
  assert.equal(cpu.rdmsr(0x10), 10_000n);
  assert.equal(cpu.rdmsr(IA32_TSC_ADJUST_MSR), 8_000n);
  now = 1500;
  assert.equal(vm.guestTscOf(0), 11_000n, "the rate runs on from the written value");
  // LVT Timer in TSC-deadline mode (vector 0xec), then a deadline 1000 cycles ahead: 500 ns.
  cpu.lapic.write(0xf0, 0x1ff);
  cpu.lapic.write(0x320, 0x400ec);
  assert.equal(cpu.wrmsr(0x6e0, 12_000n), 0);
  assert.equal(queue.peek()?.time, 2000);
});
