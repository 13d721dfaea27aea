/**
 * Every error code of every hypercall and KVM Xen ioctl the model
 * implements, one row each: the operation, the code, why, and a call that
 * must return it. The last test checks the table against the list of codes
 * each operation documents, so an operation cannot lose a path unnoticed.
 *
 * Sources as in the modules under test (Xen `common/event_channel.c`,
 * `common/event_fifo.c`, `common/domain.c`, `common/sched/core.c`,
 * `arch/x86/hvm/hvm.c`, `arch/x86/hvm/hypercall.c`; Linux
 * `arch/x86/kvm/xen.c`; QEMU `hw/i386/kvm/xen_evtchn.c`,
 * `target/i386/kvm/xen-emu.c`).
 */
import assert from "node:assert/strict";
import { fakeDomain } from "./testing.ts";
import { DOMID_SELF, EVTCHNSTAT, VIRQ } from "./evtchn.ts";
import { XEN_ERRNO, type XenErrnoName } from "./errno.ts";
import { KVM_XEN_EVTCHN, KVM_XEN_INVALID, KVM_XEN_PRIO_2LEVEL, KvmXen } from "./kvm_xen.ts";
import type { KvmXenEvtchnAttr } from "./kvm_xen.ts";
import { namedHypercall } from "./hypercall_path.ts";
import { FIFO } from "./fifo.ts";
import type { XenDomainConfig } from "./domain.ts";

type Code = XenErrnoName | "KVM_ENOSYS" | "KVM_EPERM";

interface Case {
  op: string;
  code: Code;
  why: string;
  run: () => number;
}

const value = (c: Code) =>
  c === "KVM_ENOSYS" ? -1000 : c === "KVM_EPERM" ? -1 : -XEN_ERRNO[c as XenErrnoName];

function dom(config: Partial<XenDomainConfig> = {}) {
  const { domain, host } = fakeDomain({ vcpus: 2, ...config });
  return { d: domain, e: domain.evtchn, host, kvm: new KvmXen(domain) };
}

/** A domain whose ports are all taken (xl's cap lowered to 3). */
function full(config: Partial<XenDomainConfig> = {}) {
  const x = dom({ maxEvtchnPort: 3, ...config });
  while (x.e.allocUnbound(DOMID_SELF, DOMID_SELF) > 0) { /* fill */ }
  return x;
}

/** Two domains that know each other (ids 1 and 2). */
function pair() {
  const a = dom({ domid: 1 }), b = dom({ domid: 2 });
  a.d.peers.set(2, b.d);
  b.d.peers.set(1, a.d);
  return { a, b };
}

const attr = (a: Partial<KvmXenEvtchnAttr>): KvmXenEvtchnAttr => ({
  sendPort: 10,
  type: EVTCHNSTAT.interdomain,
  flags: 0,
  deliverPort: 3,
  vcpu: 0,
  priority: KVM_XEN_PRIO_2LEVEL,
  eventfd: -1,
  ...a,
});

const P = KVM_XEN_PRIO_2LEVEL;

const CASES: Case[] = [
  // ---- EVTCHNOP_alloc_unbound ----
  {
    op: "EVTCHNOP_alloc_unbound",
    code: "ESRCH",
    why: "no such domain",
    run: () => dom().e.allocUnbound(5, DOMID_SELF),
  },
  {
    op: "EVTCHNOP_alloc_unbound",
    code: "EPERM",
    why: "another domain's port",
    run: () => pair().a.e.allocUnbound(2, DOMID_SELF),
  },
  {
    op: "EVTCHNOP_alloc_unbound",
    code: "ENOSPC",
    why: "no free port",
    run: () => full().e.allocUnbound(DOMID_SELF, DOMID_SELF),
  },
  {
    op: "EVTCHNOP_alloc_unbound",
    code: "EPERM",
    why: "Xen: domain 0 (the hardware domain) exists and is not this one",
    run: () => dom().e.allocUnbound(0, DOMID_SELF),
  },
  {
    op: "EVTCHNOP_alloc_unbound",
    code: "EPERM",
    why: "kvm-xen (QEMU): a remote domain other than QEMU (0) or the guest",
    run: () => dom({ flavour: "kvm-xen" }).e.allocUnbound(DOMID_SELF, 5),
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "EINVAL",
    why: "Xen: domain 0 offers this domain no port",
    run: () => dom().e.bindInterdomain(0, 1),
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "ENOENT",
    why: "kvm-xen (QEMU): no backend port of QEMU's (domain 0) is open",
    run: () => dom({ flavour: "kvm-xen" }).e.bindInterdomain(0, 3),
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "EINVAL",
    why: "kvm-xen (QEMU): remote port 0, refused before a local port is taken",
    run: () => full({ flavour: "kvm-xen" }).e.bindInterdomain(DOMID_SELF, 0),
  },
  {
    op: "EVTCHNOP_close",
    code: "ENOENT",
    why: "kvm-xen (QEMU): a free port",
    run: () => dom({ flavour: "kvm-xen" }).e.close(9),
  },
  {
    op: "EVTCHNOP_unmask",
    code: "EINVAL",
    why: "kvm-xen (QEMU): a free port",
    run: () => dom({ flavour: "kvm-xen" }).e.unmask(9),
  },
  {
    op: "EVTCHNOP_status",
    code: "EPERM",
    why: "Xen: a port of domain 0",
    run: () => {
      const s = dom().e.status(0, 1);
      return typeof s === "number" ? s : 0;
    },
  },
  {
    op: "EVTCHNOP_status",
    code: "EINVAL",
    why: "another domain's invalid port (checked before XSM)",
    run: () => {
      const s = pair().a.e.status(2, 5000);
      return typeof s === "number" ? s : 0;
    },
  },
  {
    op: "EVTCHNOP_status",
    code: "EINVAL",
    why: "kvm-xen (QEMU): port 0",
    run: () => {
      const s = dom({ flavour: "kvm-xen" }).e.status(DOMID_SELF, 0);
      return typeof s === "number" ? s : 0;
    },
  },
  {
    op: "EVTCHNOP_reset",
    code: "EPERM",
    why: "Xen: domain 0",
    run: () => dom().e.reset(0),
  },
  {
    op: "EVTCHNOP_bind_pirq",
    code: "EPERM",
    why: "a PV domain has no access to any PIRQ (pirq_access_permitted)",
    run: () => dom({ type: "pv" }).e.bindPirq(5),
  },
  // ---- EVTCHNOP_bind_interdomain ----
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "ESRCH",
    why: "no such remote domain",
    run: () => dom().e.bindInterdomain(5, 1),
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "ENOSPC",
    why: "no free local port",
    run: () => full().e.bindInterdomain(DOMID_SELF, 1),
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "EINVAL",
    why: "the remote port is not unbound",
    run: () => {
      const { e } = dom();
      return e.bindInterdomain(DOMID_SELF, e.bindIpi(0));
    },
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "EINVAL",
    why: "the remote port is offered to another domain",
    run: () => {
      const { a, b } = pair();
      return a.e.bindInterdomain(2, b.e.allocUnbound(DOMID_SELF, DOMID_SELF));
    },
  },
  {
    op: "EVTCHNOP_bind_interdomain",
    code: "EINVAL",
    why: "the remote port is not valid",
    run: () => dom().e.bindInterdomain(DOMID_SELF, 5000),
  },
  // ---- EVTCHNOP_bind_virq ----
  {
    op: "EVTCHNOP_bind_virq",
    code: "EINVAL",
    why: "VIRQ >= NR_VIRQS",
    run: () => dom().e.bindVirq(24, 0),
  },
  {
    op: "EVTCHNOP_bind_virq",
    code: "EINVAL",
    why: "a global VIRQ on a vCPU other than 0",
    run: () => dom().e.bindVirq(VIRQ.console, 1),
  },
  {
    op: "EVTCHNOP_bind_virq",
    code: "EBUSY",
    why: "a global VIRQ: the hardware domain's, not this domU's",
    run: () => dom().e.bindVirq(VIRQ.console, 0),
  },
  {
    op: "EVTCHNOP_bind_virq",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().e.bindVirq(VIRQ.timer, 2),
  },
  {
    op: "EVTCHNOP_bind_virq",
    code: "EEXIST",
    why: "already bound on that vCPU",
    run: () => {
      const { e } = dom();
      e.bindVirq(VIRQ.timer, 1);
      return e.bindVirq(VIRQ.timer, 1);
    },
  },
  {
    op: "EVTCHNOP_bind_virq",
    code: "ENOSPC",
    why: "no free port",
    run: () => full().e.bindVirq(VIRQ.timer, 0),
  },
  // ---- EVTCHNOP_bind_ipi ----
  {
    op: "EVTCHNOP_bind_ipi",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().e.bindIpi(2),
  },
  {
    op: "EVTCHNOP_bind_ipi",
    code: "ENOSPC",
    why: "no free port",
    run: () => full().e.bindIpi(0),
  },
  // ---- EVTCHNOP_bind_pirq ----
  {
    op: "EVTCHNOP_bind_pirq",
    code: "EINVAL",
    why: "PIRQ >= nr_pirqs",
    run: () => dom().e.bindPirq(256),
  },
  {
    op: "EVTCHNOP_bind_pirq",
    code: "EEXIST",
    why: "Xen: the PIRQ already has a port",
    run: () => {
      const { e } = dom();
      e.bindPirq(5);
      return e.bindPirq(5);
    },
  },
  {
    op: "EVTCHNOP_bind_pirq",
    code: "EBUSY",
    why: "kvm-xen (QEMU): the PIRQ already has a port",
    run: () => {
      const { e } = dom({ flavour: "kvm-xen" });
      e.bindPirq(5);
      return e.bindPirq(5);
    },
  },
  {
    op: "EVTCHNOP_bind_pirq",
    code: "ENOSPC",
    why: "no free port",
    run: () => full().e.bindPirq(5),
  },
  // ---- EVTCHNOP_close ----
  { op: "EVTCHNOP_close", code: "EINVAL", why: "port 0 is reserved", run: () => dom().e.close(0) },
  { op: "EVTCHNOP_close", code: "EINVAL", why: "a free port", run: () => dom().e.close(30) },
  { op: "EVTCHNOP_close", code: "EINVAL", why: "an invalid port", run: () => dom().e.close(5000) },
  // ---- EVTCHNOP_send ----
  { op: "EVTCHNOP_send", code: "EINVAL", why: "an invalid port", run: () => dom().e.send(5000) },
  { op: "EVTCHNOP_send", code: "EINVAL", why: "port 0 (reserved)", run: () => dom().e.send(0) },
  {
    op: "EVTCHNOP_send",
    code: "EINVAL",
    why: "a VIRQ port",
    run: () => {
      const { e } = dom();
      return e.send(e.bindVirq(VIRQ.timer, 0));
    },
  },
  {
    op: "EVTCHNOP_send",
    code: "EINVAL",
    why: "a PIRQ port",
    run: () => {
      const { e } = dom();
      return e.send(e.bindPirq(3));
    },
  },
  // ---- EVTCHNOP_status ----
  {
    op: "EVTCHNOP_status",
    code: "ESRCH",
    why: "no such domain",
    run: () => dom().e.status(5, 1) as number,
  },
  {
    op: "EVTCHNOP_status",
    code: "EPERM",
    why: "another domain",
    run: () => pair().a.e.status(2, 1) as number,
  },
  {
    op: "EVTCHNOP_status",
    code: "EINVAL",
    why: "an invalid port (no bucket yet)",
    run: () => dom().e.status(DOMID_SELF, 64) as number,
  },
  // ---- EVTCHNOP_bind_vcpu ----
  {
    op: "EVTCHNOP_bind_vcpu",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => {
      const { e } = dom();
      return e.bindVcpu(e.allocUnbound(DOMID_SELF, DOMID_SELF), 2);
    },
  },
  {
    op: "EVTCHNOP_bind_vcpu",
    code: "EINVAL",
    why: "an invalid port",
    run: () => dom().e.bindVcpu(5000, 1),
  },
  {
    op: "EVTCHNOP_bind_vcpu",
    code: "EINVAL",
    why: "a per-vCPU VIRQ",
    run: () => {
      const { e } = dom();
      return e.bindVcpu(e.bindVirq(VIRQ.timer, 0), 1);
    },
  },
  {
    op: "EVTCHNOP_bind_vcpu",
    code: "EINVAL",
    why: "an IPI port",
    run: () => {
      const { e } = dom();
      return e.bindVcpu(e.bindIpi(0), 1);
    },
  },
  {
    op: "EVTCHNOP_bind_vcpu",
    code: "EINVAL",
    why: "a free port",
    run: () => dom().e.bindVcpu(9, 1),
  },
  // ---- EVTCHNOP_unmask ----
  {
    op: "EVTCHNOP_unmask",
    code: "EINVAL",
    why: "an invalid port",
    run: () => dom().e.unmask(5000),
  },
  // ---- EVTCHNOP_reset ----
  { op: "EVTCHNOP_reset", code: "ESRCH", why: "no such domain", run: () => dom().e.reset(5) },
  { op: "EVTCHNOP_reset", code: "EPERM", why: "another domain", run: () => pair().a.e.reset(2) },
  // ---- EVTCHNOP_init_control ----
  {
    op: "EVTCHNOP_init_control",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().e.initControl(0x20, 0, 99),
  },
  {
    op: "EVTCHNOP_init_control",
    code: "EINVAL",
    why: "offset past 4096 - 72",
    run: () => dom().e.initControl(0x20, 4030, 0),
  },
  {
    op: "EVTCHNOP_init_control",
    code: "EINVAL",
    why: "offset not 8-aligned",
    run: () => dom().e.initControl(0x20, 12, 0),
  },
  {
    op: "EVTCHNOP_init_control",
    code: "EINVAL",
    why: "a frame outside guest memory",
    run: () => dom().e.initControl(0x10_0000, 0, 0),
  },
  {
    op: "EVTCHNOP_init_control",
    code: "EINVAL",
    why: "the vCPU has a control block already",
    run: () => {
      const { e } = dom();
      e.initControl(0x20, 0, 0);
      return e.initControl(0x20, 0x100, 0);
    },
  },
  {
    op: "EVTCHNOP_init_control",
    code: "ENOSYS",
    why: "kvm-xen: QEMU has no FIFO",
    run: () => dom({ flavour: "kvm-xen" }).e.initControl(0x20, 0, 0),
  },
  // ---- EVTCHNOP_expand_array ----
  {
    op: "EVTCHNOP_expand_array",
    code: "EOPNOTSUPP",
    why: "FIFO is not on",
    run: () => dom().e.expandArray(0x21),
  },
  {
    op: "EVTCHNOP_expand_array",
    code: "EINVAL",
    why: "a frame outside guest memory",
    run: () => {
      const { e } = dom();
      e.initControl(0x20, 0, 0);
      return e.expandArray(0x10_0000);
    },
  },
  {
    op: "EVTCHNOP_expand_array",
    code: "ENOSPC",
    why: "all 128 pages added",
    run: () => {
      const { e } = dom();
      e.initControl(0x20, 0, 0);
      for (let i = 0; i < FIFO.MAX_ARRAY_PAGES; i++) assert.equal(e.expandArray(0x100 + i), 0);
      return e.expandArray(0x21);
    },
  },
  {
    op: "EVTCHNOP_expand_array",
    code: "ENOSYS",
    why: "kvm-xen: QEMU has no FIFO",
    run: () => dom({ flavour: "kvm-xen" }).e.expandArray(0x21),
  },
  // ---- EVTCHNOP_set_priority ----
  {
    op: "EVTCHNOP_set_priority",
    code: "EINVAL",
    why: "an invalid port",
    run: () => dom().e.setPriority(5000, 1),
  },
  {
    op: "EVTCHNOP_set_priority",
    code: "ENOSYS",
    why: "2-level has no priorities",
    run: () => {
      const { e } = dom();
      return e.setPriority(e.bindIpi(0), 1);
    },
  },
  {
    op: "EVTCHNOP_set_priority",
    code: "EACCES",
    why: "FIFO: a free port (not evtchn_usable)",
    run: () => {
      const { e } = dom();
      e.initControl(0x20, 0, 0);
      return e.setPriority(9, 3);
    },
  },
  {
    op: "EVTCHNOP_set_priority",
    code: "EINVAL",
    why: "FIFO: priority past 15",
    run: () => {
      const { e } = dom();
      e.initControl(0x20, 0, 0);
      return e.setPriority(e.bindIpi(0), 16);
    },
  },
  // ---- HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ) ----
  {
    op: "HVMOP_set_param",
    code: "EINVAL",
    why: "kvm-xen: a global vector of 1..15",
    run: () => dom({ flavour: "kvm-xen" }).d.setParam(0, 0, (2n << 56n) | 5n),
  },
  // ---- HVMOP_set_evtchn_upcall_vector ----
  {
    op: "HVMOP_set_evtchn_upcall_vector",
    code: "EINVAL",
    why: "vector below 0x10",
    run: () => dom().d.callback.setUpcallVector(0, 0x0f),
  },
  {
    op: "HVMOP_set_evtchn_upcall_vector",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.callback.setUpcallVector(2, 0xf3),
  },
  // ---- VCPUOP_register_vcpu_info ----
  {
    op: "VCPUOP_register_vcpu_info",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.registerVcpuInfo(2, 0x20, 0),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "EINVAL",
    why: "offset not inside the frame",
    run: () => dom().d.registerVcpuInfo(1, 0x20, 4096),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "EBUSY",
    why: "registered already",
    run: () => {
      const { d } = dom();
      d.registerVcpuInfo(1, 0x20, 0);
      return d.registerVcpuInfo(1, 0x21, 0);
    },
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "ENXIO",
    why: "not aligned to the word size",
    run: () => dom().d.registerVcpuInfo(1, 0x20, 4),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "ENXIO",
    why: "crosses the page",
    run: () => dom().d.registerVcpuInfo(1, 0x20, 4064),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "EINVAL",
    why: "a frame outside guest memory",
    run: () => dom().d.registerVcpuInfo(1, 0x10_0000, 0),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "EINVAL",
    why: "kvm-xen: the VMM cannot copy to a frame outside guest memory",
    run: () => dom({ flavour: "kvm-xen" }).d.registerVcpuInfo(1, 0x10_0000, 0),
  },
  {
    op: "VCPUOP_register_vcpu_info",
    code: "EINVAL",
    why: "kvm-xen: KVM's attribute refuses an area crossing a page",
    run: () => dom({ flavour: "kvm-xen" }).d.registerVcpuInfo(1, 0x20, 4064),
  },
  // ---- VCPUOP timers ----
  {
    op: "VCPUOP_set_singleshot_timer",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.timers.setSingleshot(0, 7, 1000),
  },
  {
    op: "VCPUOP_set_singleshot_timer",
    code: "EINVAL",
    why: "another vCPU",
    run: () => dom().d.timers.setSingleshot(0, 1, 1000),
  },
  {
    op: "VCPUOP_stop_singleshot_timer",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.timers.stopSingleshotOp(0, 7),
  },
  {
    op: "VCPUOP_stop_singleshot_timer",
    code: "EINVAL",
    why: "another vCPU",
    run: () => dom().d.timers.stopSingleshotOp(0, 1),
  },
  {
    op: "VCPUOP_set_periodic_timer",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.timers.setPeriodic(0, 7, 2_000_000),
  },
  {
    op: "VCPUOP_set_periodic_timer",
    code: "EINVAL",
    why: "a period below 1 ms",
    run: () => dom().d.timers.setPeriodic(0, 0, 999_999),
  },
  {
    op: "VCPUOP_set_periodic_timer",
    code: "EINVAL",
    why: "a period past STIME_DELTA_MAX (2^62 - 1 ns; QEMU's check too)",
    run: () => dom({ flavour: "kvm-xen" }).d.timers.setPeriodic(0, 0, 2 ** 62),
  },
  {
    op: "VCPUOP_stop_periodic_timer",
    code: "ENOENT",
    why: "no such vCPU",
    run: () => dom().d.timers.stopPeriodic(0, 7),
  },
  // ---- SCHEDOP_poll ----
  {
    op: "SCHEDOP_poll",
    code: "EINVAL",
    why: "more than 128 ports",
    run: () => dom().d.timers.poll(0, new Array(129).fill(1), 0),
  },
  {
    op: "SCHEDOP_poll",
    code: "EINVAL",
    why: "Xen: a reserved port (0)",
    run: () => dom().d.timers.poll(0, [0], 0),
  },
  {
    op: "SCHEDOP_poll",
    code: "EINVAL",
    why: "Xen: a free port",
    run: () => dom().d.timers.poll(0, [10], 0),
  },
  {
    op: "SCHEDOP_poll",
    code: "EINVAL",
    why: "a port past the limit",
    run: () => dom().d.timers.poll(0, [5000], 0),
  },
  {
    op: "SCHEDOP_poll",
    code: "EINVAL",
    why: "kvm-xen: a bad port after a pending one (KVM checks them all first)",
    run: () => {
      const { d } = dom({ flavour: "kvm-xen" });
      d.evtchn.raiseOn(3, 0);
      return d.timers.poll(0, [3, 5000], 0);
    },
  },
  {
    op: "SCHEDOP_poll",
    code: "EFAULT",
    why: "kvm-xen: struct sched_poll is not in guest memory",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      return kvm.kernelHypercall(0, true, 29n, [3n, 0x1f_fff0n, 0n, 0n, 0n, 0n])!;
    },
  },
  {
    op: "SCHEDOP_poll",
    code: "EFAULT",
    why: "kvm-xen: the ports array is not in guest memory",
    run: () => {
      const { d, kvm } = dom({ flavour: "kvm-xen" });
      d.mem.write(0x30000, 64, 0x1f_fff0n);
      d.mem.write(0x30008, 32, 8);
      return kvm.kernelHypercall(0, true, 29n, [3n, 0x30000n, 0n, 0n, 0n, 0n])!;
    },
  },
  // ---- SCHEDOP_block ----
  {
    op: "SCHEDOP_block",
    code: "ENOSYS",
    why: "kvm-xen: not in KVM, and QEMU has no SCHEDOP_block",
    run: () => {
      const { d, kvm } = dom({ flavour: "kvm-xen" });
      return namedHypercall(
        { domain: d, kvm },
        0,
        { name: "sched_block", input: 29, args: [1n], cpl: 0 },
        () => -XEN_ERRNO.ENOSYS,
      );
    },
  },
  // ---- EVTCHNOP_send handled by KVM ----
  {
    op: "EVTCHNOP_send",
    code: "EFAULT",
    why: "kvm-xen: struct evtchn_send is not in guest memory",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      return kvm.kernelHypercall(0, true, 32n, [4n, 0x1f_fffen, 0n, 0n, 0n, 0n])!;
    },
  },
  // ---- any hypercall from CPL > 0 ----
  {
    op: "any hypercall",
    code: "EPERM",
    why: "Xen: from CPL 3",
    run: () => {
      const { d, kvm } = dom();
      return namedHypercall(
        { domain: d, kvm },
        0,
        { name: "x", input: 32, args: [4n], cpl: 3 },
        () => 0,
      );
    },
  },
  {
    op: "any hypercall",
    code: "EPERM",
    why: "kvm-xen: from CPL 3, exits and QEMU refuses",
    run: () => {
      const { d, kvm } = dom({ flavour: "kvm-xen" });
      return namedHypercall(
        { domain: d, kvm },
        0,
        { name: "x", input: 32, args: [4n], cpl: 3 },
        () => 0,
      );
    },
  },
  {
    op: "any hypercall",
    code: "KVM_ENOSYS",
    why: "kvm-xen without INTERCEPT_HCALL: a KVM hypercall it does not know",
    run: () => {
      const { d, kvm } = dom({ flavour: "kvm-xen" });
      kvm.hvmConfig({ ...kvm.config, flags: 0 });
      return namedHypercall(
        { domain: d, kvm },
        0,
        { name: "x", input: 32, args: [4n], cpl: 0 },
        () => 0,
      );
    },
  },
  {
    op: "any hypercall",
    code: "KVM_EPERM",
    why: "kvm-xen without INTERCEPT_HCALL: a KVM hypercall from CPL 3",
    run: () => {
      const { d, kvm } = dom({ flavour: "kvm-xen" });
      kvm.hvmConfig({ ...kvm.config, flags: 0 });
      return namedHypercall(
        { domain: d, kvm },
        0,
        { name: "x", input: 32, args: [4n], cpl: 3 },
        () => 0,
      );
    },
  },
  // ---- KVM ioctls ----
  {
    op: "KVM_XEN_HVM_CONFIG",
    code: "EINVAL",
    why: "a flag userspace may not set",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      return kvm.hvmConfig({ ...kvm.config, flags: 1 << 2 });
    },
  },
  {
    op: "KVM_XEN_HVM_CONFIG",
    code: "EINVAL",
    why: "INTERCEPT_HCALL with a blob",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      return kvm.hvmConfig({ ...kvm.config, blobSize64: 1 });
    },
  },
  {
    op: "KVM_XEN_HVM_CONFIG",
    code: "EINVAL",
    why: "a hypercall MSR outside 0x40000000..0x4fffffff",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      return kvm.hvmConfig({ ...kvm.config, msr: 0x1b });
    },
  },
  {
    op: "KVM_XEN_ATTR_TYPE_SHARED_INFO",
    code: "EFAULT",
    why: "a frame no memslot holds (outside guest memory)",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setSharedInfo(0x1000n),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_UPCALL_VECTOR",
    code: "EINVAL",
    why: "a vector of 1..15",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setUpcallVector(0x0f),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "send port 0",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ sendPort: 0 })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "send port past the 2-level limit (long_mode 0: 1024)",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen", width: 32 });
      return kvm.setEvtchnAttr(attr({ sendPort: 1024 }));
    },
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "ENOENT",
    why: "DEASSIGN of a port not intercepted",
    run: () =>
      dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ flags: KVM_XEN_EVTCHN.DEASSIGN })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "ENOENT",
    why: "UPDATE of a port not intercepted",
    run: () =>
      dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ flags: KVM_XEN_EVTCHN.UPDATE })),
  },
  ...(
    [
      ["UPDATE changing the type", { type: EVTCHNSTAT.ipi, deliverPort: 10 }],
      ["UPDATE changing the deliver port", { deliverPort: 4 }],
      ["UPDATE with a priority other than 2-level", { priority: 0 }],
    ] as const
  ).map(([why, change]): Case => ({
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why,
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      assert.equal(kvm.setEvtchnAttr(attr({})), 0);
      return kvm.setEvtchnAttr(attr({ flags: KVM_XEN_EVTCHN.UPDATE, ...change }));
    },
  })),
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "UPDATE of an eventfd entry",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      assert.equal(kvm.setEvtchnAttr(attr({ deliverPort: 0, eventfd: 4 })), 0);
      return kvm.setEvtchnAttr(attr({ deliverPort: 0, eventfd: 4, flags: KVM_XEN_EVTCHN.UPDATE }));
    },
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "more than one flag",
    run: () =>
      dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(
        attr({ flags: KVM_XEN_EVTCHN.DEASSIGN | KVM_XEN_EVTCHN.UPDATE }),
      ),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "an IPI delivering to another port",
    run: () =>
      dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(
        attr({ type: EVTCHNSTAT.ipi, deliverPort: 11 }),
      ),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "an interdomain deliver port past the limit",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ deliverPort: 4096 })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EBADF",
    why: "deliver port 0 and no eventfd",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ deliverPort: 0 })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "a type other than interdomain or ipi",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ type: EVTCHNSTAT.virq })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EINVAL",
    why: "a priority other than 2-level",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setEvtchnAttr(attr({ priority: 7 })),
  },
  {
    op: "KVM_XEN_ATTR_TYPE_EVTCHN",
    code: "EEXIST",
    why: "the send port is intercepted already",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      assert.equal(kvm.setEvtchnAttr(attr({})), 0);
      return kvm.setEvtchnAttr(attr({ deliverPort: 0, eventfd: 2 }));
    },
  },
  {
    op: "KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO",
    code: "EINVAL",
    why: "an area crossing a page",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setVcpuInfo(0, 0x20fe0n),
  },
  {
    op: "KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO",
    code: "EFAULT",
    why: "an address no memslot holds (outside guest memory)",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setVcpuInfo(0, 0x1000_0000n),
  },
  {
    op: "KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID",
    code: "EINVAL",
    why: "a Xen vcpu_id at KVM_MAX_VCPUS or past it",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setVcpuId(0, 4096n),
  },
  {
    op: "KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR",
    code: "EINVAL",
    why: "a vector of 1..15",
    run: () => dom({ flavour: "kvm-xen" }).kvm.setVcpuUpcallVector(0, 0x0f),
  },
  {
    op: "KVM_XEN_HVM_EVTCHN_SEND",
    code: "EINVAL",
    why: "port 0",
    run: () => dom({ flavour: "kvm-xen" }).kvm.evtchnSend({ port: 0, vcpu: 0, priority: P }),
  },
  {
    op: "KVM_XEN_HVM_EVTCHN_SEND",
    code: "EINVAL",
    why: "a port past the limit",
    run: () => dom({ flavour: "kvm-xen" }).kvm.evtchnSend({ port: 4096, vcpu: 0, priority: P }),
  },
  {
    op: "KVM_XEN_HVM_EVTCHN_SEND",
    code: "EINVAL",
    why: "a priority other than 2-level",
    run: () => dom({ flavour: "kvm-xen" }).kvm.evtchnSend({ port: 3, vcpu: 0, priority: 0 }),
  },
  {
    op: "KVM_XEN_HVM_EVTCHN_SEND",
    code: "EINVAL",
    why: "an unknown vcpu_id",
    run: () => dom({ flavour: "kvm-xen" }).kvm.evtchnSend({ port: 3, vcpu: 7, priority: P }),
  },
  {
    op: "KVM_XEN_HVM_EVTCHN_SEND",
    code: "EINVAL",
    why: "no shared_info",
    run: () => {
      const { kvm } = dom({ flavour: "kvm-xen" });
      kvm.setSharedInfo(KVM_XEN_INVALID);
      return kvm.evtchnSend({ port: 3, vcpu: 0, priority: P });
    },
  },
  {
    op: "KVM_SET_GSI_ROUTING (XEN_EVTCHN)",
    code: "EINVAL",
    why: "a priority other than 2-level",
    run: () => dom({ flavour: "kvm-xen" }).kvm.validateRoute({ port: 3, vcpu: 0, priority: 0 }),
  },
];

for (const op of [...new Set(CASES.map((c) => c.op))]) {
  Deno.test(`error paths: ${op}`, () => {
    for (const c of CASES.filter((x) => x.op === op)) {
      assert.equal(c.run(), value(c.code), `${op}: ${c.why} should be -${c.code}`);
    }
  });
}

/** The codes each operation can return in the model; the table above must reach every one. */
const DOCUMENTED: Readonly<Record<string, readonly Code[]>> = {
  EVTCHNOP_alloc_unbound: ["ESRCH", "EPERM", "ENOSPC"],
  EVTCHNOP_bind_interdomain: ["ESRCH", "ENOSPC", "EINVAL", "ENOENT"],
  EVTCHNOP_bind_virq: ["EINVAL", "ENOENT", "EBUSY", "EEXIST", "ENOSPC"],
  EVTCHNOP_bind_ipi: ["ENOENT", "ENOSPC"],
  EVTCHNOP_bind_pirq: ["EINVAL", "EPERM", "EEXIST", "EBUSY", "ENOSPC"],
  EVTCHNOP_close: ["EINVAL", "ENOENT"],
  EVTCHNOP_send: ["EINVAL", "EFAULT"],
  EVTCHNOP_status: ["ESRCH", "EPERM", "EINVAL"],
  EVTCHNOP_bind_vcpu: ["ENOENT", "EINVAL"],
  EVTCHNOP_unmask: ["EINVAL"],
  EVTCHNOP_reset: ["ESRCH", "EPERM"],
  EVTCHNOP_init_control: ["ENOENT", "EINVAL", "ENOSYS"],
  EVTCHNOP_expand_array: ["EOPNOTSUPP", "EINVAL", "ENOSPC", "ENOSYS"],
  EVTCHNOP_set_priority: ["EINVAL", "ENOSYS", "EACCES"],
  HVMOP_set_param: ["EINVAL"],
  HVMOP_set_evtchn_upcall_vector: ["EINVAL", "ENOENT"],
  VCPUOP_register_vcpu_info: ["ENOENT", "EINVAL", "EBUSY", "ENXIO"],
  VCPUOP_set_singleshot_timer: ["ENOENT", "EINVAL"],
  VCPUOP_stop_singleshot_timer: ["ENOENT", "EINVAL"],
  VCPUOP_set_periodic_timer: ["ENOENT", "EINVAL"],
  VCPUOP_stop_periodic_timer: ["ENOENT"],
  SCHEDOP_poll: ["EINVAL", "EFAULT"],
  SCHEDOP_block: ["ENOSYS"],
  "any hypercall": ["EPERM", "KVM_ENOSYS", "KVM_EPERM"],
  KVM_XEN_HVM_CONFIG: ["EINVAL"],
  KVM_XEN_ATTR_TYPE_SHARED_INFO: ["EFAULT"],
  KVM_XEN_ATTR_TYPE_UPCALL_VECTOR: ["EINVAL"],
  KVM_XEN_ATTR_TYPE_EVTCHN: ["EINVAL", "ENOENT", "EBADF", "EEXIST"],
  KVM_XEN_VCPU_ATTR_TYPE_VCPU_INFO: ["EINVAL", "EFAULT"],
  KVM_XEN_VCPU_ATTR_TYPE_UPCALL_VECTOR: ["EINVAL"],
  KVM_XEN_VCPU_ATTR_TYPE_VCPU_ID: ["EINVAL"],
  KVM_XEN_HVM_EVTCHN_SEND: ["EINVAL"],
  "KVM_SET_GSI_ROUTING (XEN_EVTCHN)": ["EINVAL"],
};

Deno.test("error paths: every documented code of every operation has a case", () => {
  const covered = new Map<string, Set<Code>>();
  for (const c of CASES) covered.set(c.op, (covered.get(c.op) ?? new Set()).add(c.code));
  assert.deepEqual([...covered.keys()].sort(), Object.keys(DOCUMENTED).sort());
  for (const [op, codes] of Object.entries(DOCUMENTED)) {
    assert.deepEqual([...covered.get(op)!].sort(), [...codes].sort(), op);
  }
});

Deno.test("set_timer_op, SCHEDOP_block (Xen) and SCHEDOP_yield never fail", () => {
  const { d, kvm } = dom();
  assert.equal(d.timers.setTimerOp(0, -5n), 0);
  assert.equal(d.timers.setTimerOp(0, 0), 0);
  assert.equal(d.timers.block(0), 0);
  const k = dom({ flavour: "kvm-xen" }).kvm;
  assert.equal(k.kernelHypercall(0, true, 29n, [0n, 0n, 0n, 0n, 0n, 0n]), 0);
  assert.ok(kvm);
});
