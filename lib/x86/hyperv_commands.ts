/**
 * KVM's Hyper-V enlightenments as scenario commands and state paths: the
 * guest's hypercall through the Hyper-V hypercall page, the VMM's
 * KVM_HYPERV_EVENTFD and its answer to a KVM_EXIT_HYPERV_HCALL, and the
 * SynIC, synthetic timer and partition state KVM keeps. The facts live in
 * the model modules (`hyperv_synic.ts`, `hyperv_stimer.ts`,
 * `hyperv_hypercall.ts`); this file binds names to them, like
 * `vmm_ioctls.ts`, and `platform.ts` merges these tables in.
 *
 * @module
 */
import { toInt } from "../core/values.ts";
import type { ParamSpec, StateSpec, Val } from "../core/table.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { X86Command } from "./command.ts";
import type { X86Vm } from "./vm.ts";
import {
  HV_GENERIC_SET,
  HV_HYPERCALL,
  HV_HYPERCALL_MAX_XMM_REGISTERS,
  HV_MSR,
  HV_STATUS,
  HV_SYNIC_SINT_COUNT,
  HV_SYNIC_STIMER_COUNT,
  HV_TSC_PAGE,
  HVCALL,
  HVMSG_TIMER_EXPIRED,
  KVM_EXIT_HYPERV,
  KVM_HYPERV_CONN_ID_MASK,
  KVM_HYPERV_EVENTFD_DEASSIGN,
  SINT_FIELDS,
  STIMER_CONFIG_FIELDS,
  SYNIC_PAGE_FIELDS,
} from "./hyperv_abi.ts";
import type { FieldTable } from "../core/bitfield.ts";
import { UD_FAULT } from "./cpu.ts";
import { UD_VECTOR } from "./exceptions.ts";
import { HYPERV_CPUID_CONSTANTS } from "./hyperv_cpuid.ts";

/** `-KVM_ENOSYS`: what KVM's own hypercall path answers an unknown call. */
const KVM_ENOSYS = 1000n;
/** KVM_HC_VAPIC_POLL_IRQ (kvm_para.h): KVM's own hypercall that only answers 0. */
const KVM_HC_VAPIC_POLL_IRQ = 1n;
/** KVM's own hypercalls kvm_emulate_hypercall acts on (KICK_CPU, CLOCK_PAIRING, SEND_IPI, SCHED_YIELD, MAP_GPA_RANGE). */
const KVM_OWN_HYPERCALLS = new Set([1n, 5n, 9n, 10n, 11n, 12n]);

const VCPU: ParamSpec = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 254, what: "a vCPU index", decimal: true, vcpu: true },
  doc: "the vCPU whose exit it is",
};

/** Commands need the Hyper-V CPUID (`hyperv_cpuid 1` or a SynIC). */
export const needHyperv = (s: Readonly<Record<string, Val>>): string | undefined =>
  (s.hyperv_cpuid ?? 0) === 0 && (s.hyperv_synic ?? 0) === 0
    ? "needs Hyper-V's CPUID leaves: add 'hyperv_cpuid 1' (or 'hyperv_synic 1') to the vm block"
    : undefined;

function hvOf(vm: X86Vm, what: string) {
  const p = vm.hvPartition;
  if (p === null) {
    throw new CommandInputError(`'${what}' needs Hyper-V's CPUID ('hyperv_cpuid 1')`);
  }
  return p;
}

/** The XMM registers' halves an XMM fast hypercall reads, in the order KVM consumes them. */
const XMM_HALVES: readonly string[] = Array.from(
  { length: 2 * HV_HYPERCALL_MAX_XMM_REGISTERS },
  (_, i) => `xmm${i >> 1}_${i % 2 === 0 ? "lo" : "hi"}`,
);

const u64 = (v: Val): bigint => BigInt.asUintN(64, BigInt(v as number | bigint));

/**
 * `vcpuN: hyperv hypercall` and the VMM's Hyper-V ioctls.
 *
 * @example
 * ```ts
 * HYPERV_COMMANDS.map((c) => c.name); // ["hyperv hypercall", "kvm hyperv_hcall_result", "kvm hyperv_eventfd"]
 * ```
 */
export const HYPERV_COMMANDS: readonly X86Command[] = [
  {
    actor: "vcpu",
    name: "hyperv hypercall",
    backend: "hyperv hypercall",
    exits: true,
    requires: needHyperv,
    doc:
      "a 64-bit guest at CPL 0 calls through the Hyper-V hypercall page (HV_X64_MSR_HYPERCALL): " +
      "the stub KVM wrote sets EAX bit 31 when Xen hypercalls are intercepted too, then VMCALL; " +
      "KVM then runs kvm_hv_hypercall (RCX input: code 15:0, fast 16; RDX input GPA or fast " +
      "argument; R8 output GPA or second fast argument; XMM0..XMM5 an XMM fast call's input): " +
      "HVCALL_SEND_IPI (0x0b) and HVCALL_SEND_IPI_EX (0x15) send a fixed interrupt to the " +
      "vCPUs whose VP indexes the call names; HVCALL_SIGNAL_EVENT (0x5d) signals the eventfd " +
      "KVM_HYPERV_EVENTFD bound to the connection, HVCALL_POST_MESSAGE (0x5c) and an unbound " +
      "SIGNAL_EVENT exit to the VMM (KVM_EXIT_HYPERV_HCALL: vcpuN.hyperv.exit.*) until " +
      "'vmm: kvm hyperv_hcall_result'; without a guest OS ID the VMCALL is KVM's own hypercall",
    params: [
      { name: "rcx", type: { kind: "u64" }, doc: "the hypercall input value (code, fast bit)" },
      { name: "rdx", type: { kind: "u64" }, doc: "input GPA, or the fast argument", default: 0n },
      { name: "r8", type: { kind: "u64" }, doc: "output GPA", default: 0n },
      { name: "rax", type: { kind: "u64" }, doc: "RAX before the call", default: 0n },
      {
        name: "direct",
        type: { kind: "bool" },
        doc: "1: the guest executes VMCALL itself instead of calling the hypercall page (the KVM " +
          "selftests' hyperv_hypercall does), so RAX reaches KVM as given",
        default: 0,
      },
      ...XMM_HALVES.map((name) => ({
        name,
        type: { kind: "u64" } as const,
        doc: `${name.slice(0, 4).toUpperCase()} bits ${
          name.endsWith("lo") ? "63:0" : "127:64"
        }: an XMM fast call's input (HVCALL_SEND_IPI_EX)`,
        default: 0n,
      })),
    ],
    returns: "RAX afterwards: the HV_STATUS, or RAX as it was while the call waits for the VMM; " +
      "UD (-6) when KVM raised #UD (an XMM fast call Hyper-V CPUID enforcement refuses), " +
      "which the guest's fixup steps past",
    run: (vm, cpu, a) => {
      const p = hvOf(vm, "hyperv hypercall");
      const rax = a.direct === 1 ? u64(a.rax) : p.pageEax(u64(a.rax));
      // The guest calls whatever the page holds: the stub stays after the page is disabled.
      if (rax === null) {
        throw new CommandInputError(
          "the Hyper-V hypercall page holds no stub: write HV_X64_MSR_GUEST_OS_ID (0x40000000) " +
            "and then HV_X64_MSR_HYPERCALL (0x40000001) with bit 0 set first, or say direct=1 " +
            "for a VMCALL the guest executes itself",
        );
      }
      const hv = vm.hyperv[cpu];
      // kvm_emulate_hypercall: Xen's interception first, which hands EAX bit 31 to Hyper-V.
      if (vm.xen?.kvm.interceptsHypercalls() && (rax & 0x8000_0000n) === 0n) {
        throw new CommandInputError(
          "EAX bit 31 is clear and Xen hypercalls are intercepted: this VMCALL is a Xen " +
            "hypercall ('xen hypercall')",
        );
      }
      if (!p.hypercallsEnabled()) {
        // kvm_xen_hypercall hands bit 31 to Hyper-V only once it is enabled.
        if (vm.xen?.kvm.interceptsHypercalls()) {
          throw new CommandInputError(
            "no guest OS ID: with Xen hypercalls intercepted this VMCALL is a Xen hypercall " +
              "('xen hypercall')",
          );
        }
        // KVM's own hypercall path, nr = RAX: KVM_HC_VAPIC_POLL_IRQ answers 0, an unknown one -KVM_ENOSYS.
        const nr = rax & 0xffff_ffffn;
        if (nr !== KVM_HC_VAPIC_POLL_IRQ && KVM_OWN_HYPERCALLS.has(nr)) {
          throw new CommandInputError(
            `RAX ${nr} is KVM hypercall ${nr}: the model has KVM_HC_SEND_IPI as 'vmcall'`,
          );
        }
        hv.rax = nr === KVM_HC_VAPIC_POLL_IRQ ? 0n : BigInt.asUintN(64, -KVM_ENOSYS);
        return hv.rax;
      }
      const xmm = XMM_HALVES.map((name) => u64(a[name]));
      const r = p.hypercall64(cpu, u64(a.rcx), u64(a.rdx), u64(a.r8), xmm, hv.hypercallCpuid);
      if ("ud" in r) {
        // KVM queues #UD and does not complete the call: RAX keeps its value.
        vm.cpus[cpu].raiseSkipped(UD_VECTOR, r.ud);
        return UD_FAULT;
      }
      if ("exit" in r) {
        hv.hcallWaiting = true;
        hv.rax = rax;
        vm.cpus[cpu].run.hypervHcallExit(r.exit.input, r.exit.params[0], r.exit.params[1]);
        return rax;
      }
      hv.rax = BigInt(r.status);
      return hv.rax;
    },
  },
  {
    actor: "vmm",
    name: "kvm hyperv_hcall_result",
    backend: "hyperv hypercall",
    requires: needHyperv,
    doc: "after a KVM_EXIT_HYPERV_HCALL: the VMM writes u.hcall.result and runs the vCPU again, " +
      "and KVM puts it in RAX (kvm_hv_hypercall_complete_userspace; vcpuN.hyperv.rax)",
    params: [VCPU, {
      name: "result",
      type: { kind: "u64" },
      doc: "the 64-bit result",
      default: 0n,
    }],
    returns: "1 if a hypercall was waiting, 0 if none (KVM ignores the field then)",
    run: (vm, _c, a) => {
      hvOf(vm, "kvm hyperv_hcall_result");
      const hv = vm.hyperv[a.vcpu as number];
      if (!hv.hcallWaiting) return 0;
      hv.hcallWaiting = false;
      hv.rax = u64(a.result);
      vm.cpus[a.vcpu as number].run.hyperv.result = hv.rax;
      return 1;
    },
  },
  {
    actor: "vmm",
    name: "kvm hyperv_eventfd",
    backend: "KVM_HYPERV_EVENTFD",
    requires: needHyperv,
    doc:
      "KVM_HYPERV_EVENTFD (kvm_vm_ioctl_hv_eventfd): bind a SynIC connection ID to an eventfd, " +
      "which a guest's HVCALL_SIGNAL_EVENT then signals in the kernel (eventfd[fd]); " +
      "flags=1 (KVM_HYPERV_EVENTFD_DEASSIGN) unbinds",
    params: [
      {
        name: "conn_id",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a connection ID" },
        doc: `the connection ID (KVM_HYPERV_CONN_ID_MASK 0x${
          KVM_HYPERV_CONN_ID_MASK.toString(16)
        })`,
      },
      {
        name: "fd",
        type: { kind: "int", min: -1, max: 1023, what: "an eventfd", decimal: true },
        doc: "the eventfd (-1: not an eventfd, -EBADF)",
        default: -1,
      },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xffff_ffff, what: "flags" },
        doc: `0 assign, ${KVM_HYPERV_EVENTFD_DEASSIGN} KVM_HYPERV_EVENTFD_DEASSIGN`,
        default: 0,
      },
    ],
    returns: "0, -EINVAL (-22), -EEXIST (-17), -ENOENT (-2) or -EBADF (-9)",
    run: (vm, _c, a) =>
      hvOf(vm, "kvm hyperv_eventfd").eventfd(
        a.conn_id as number,
        a.fd as number,
        a.flags as number,
      ),
  },
];

const vcpuBound = (vm: X86Vm) => [vm.hyperv.length];
const U64 = { kind: "u64" } as const;
const toVal = (v: bigint): Val => toInt(v);

function vcpuPath(
  name: string,
  doc: string,
  get: (vm: X86Vm, c: number) => bigint | number | boolean,
  layout?: { readonly title: string; readonly fields: FieldTable },
): StateSpec<X86Vm> {
  return {
    pattern: `vcpu#.hyperv.${name}`,
    type: U64,
    doc,
    layout,
    get: (vm, [c]) => {
      const v = get(vm, c);
      return typeof v === "bigint" ? toVal(v) : Number(v);
    },
    bounds: vcpuBound,
    requires: needHyperv,
  };
}

/**
 * The state paths of KVM's Hyper-V emulation.
 *
 * @example
 * ```ts
 * HYPERV_STATE.some((s) => s.pattern === "vcpu#.hyperv.simp"); // true
 * ```
 */
export const HYPERV_STATE: readonly StateSpec<X86Vm>[] = [
  vcpuPath("scontrol", "SCONTROL (HV_X64_MSR_SCONTROL)", (vm, c) => vm.hyperv[c].synic.control),
  vcpuPath(
    "siefp",
    "SIEFP: the event flags page and its enable bit",
    (vm, c) => vm.hyperv[c].synic.evtPage,
    { title: "SIEFP", fields: SYNIC_PAGE_FIELDS },
  ),
  vcpuPath(
    "simp",
    "SIMP: the message page and its enable bit",
    (vm, c) => vm.hyperv[c].synic.msgPage,
    { title: "SIMP", fields: SYNIC_PAGE_FIELDS },
  ),
  vcpuPath(
    "synic_active",
    "1 once KVM_CAP_HYPERV_SYNIC(2) was enabled on the vCPU",
    (vm, c) => vm.hyperv[c].synic.active,
  ),
  {
    pattern: "vcpu#.hyperv.sint[#]",
    type: U64,
    doc: `SINTx: ${SINT_FIELDS.map((f) => f.name).join(", ")}`,
    layout: { title: "SINT", fields: SINT_FIELDS },
    get: (vm, [c, i]) => toVal(vm.hyperv[c].synic.sint[i]),
    bounds: (vm) => [vm.hyperv.length, HV_SYNIC_SINT_COUNT],
    requires: needHyperv,
  },
  {
    pattern: "vcpu#.hyperv.sint_gsi[#]",
    type: { kind: "int", min: -1, max: 0xffff_ffff },
    doc: "the GSI KVM acks for SINTx (sint_to_gsi, from the highest HV_SINT route naming it), " +
      "or -1",
    get: (vm, [c, i]) => vm.hyperv[c].synic.sintToGsi[i],
    bounds: (vm) => [vm.hyperv.length, HV_SYNIC_SINT_COUNT],
    requires: needHyperv,
  },
  ...(["config", "count", "exp_time", "msg_pending"] as const).map((f): StateSpec<X86Vm> => ({
    pattern: `vcpu#.hyperv.stimer[#].${f}`,
    type: U64,
    layout: f === "config" ? { title: "STIMER_CONFIG", fields: STIMER_CONFIG_FIELDS } : undefined,
    doc: {
      config: `STIMERn_CONFIG: ${STIMER_CONFIG_FIELDS.map((x) => x.name).join(", ")}`,
      count: "STIMERn_COUNT (100 ns units: a period, or a one-shot's reference time)",
      exp_time: "the reference time of the timer's next expiry (exp_time), 0 when none",
      msg_pending: "1 while an expiry waits for its message slot (msg_pending)",
    }[f],
    get: (vm, [c, i]) => {
      const t = vm.hyperv[c].stimers[i];
      return f === "config"
        ? toVal(t.config)
        : f === "count"
        ? toVal(t.count)
        : f === "exp_time"
        ? toVal(t.expTime)
        : Number(t.msgPending);
    },
    bounds: (vm) => [vm.hyperv.length, HV_SYNIC_STIMER_COUNT],
    requires: needHyperv,
  })),
  vcpuPath(
    "rax",
    "RAX after the vCPU's last 'hyperv hypercall' (its HV_STATUS)",
    (vm, c) => vm.hyperv[c].rax,
  ),
  vcpuPath("exits", "how many KVM_EXIT_HYPERV exits", (vm, c) => vm.cpus[c].run.hypervExits),
  vcpuPath(
    "exit.type",
    `the last KVM_EXIT_HYPERV's type: ${KVM_EXIT_HYPERV.SYNIC} SYNIC, ${KVM_EXIT_HYPERV.HCALL} HCALL, 0 none`,
    (vm, c) => vm.cpus[c].run.hyperv.type,
  ),
  vcpuPath(
    "exit.msr",
    "KVM_EXIT_HYPERV_SYNIC: the MSR written",
    (vm, c) => vm.cpus[c].run.hyperv.msr,
  ),
  vcpuPath(
    "exit.control",
    "KVM_EXIT_HYPERV_SYNIC: SCONTROL",
    (vm, c) => vm.cpus[c].run.hyperv.control,
  ),
  vcpuPath(
    "exit.evt_page",
    "KVM_EXIT_HYPERV_SYNIC: SIEFP",
    (vm, c) => vm.cpus[c].run.hyperv.evtPage,
  ),
  vcpuPath(
    "exit.msg_page",
    "KVM_EXIT_HYPERV_SYNIC: SIMP",
    (vm, c) => vm.cpus[c].run.hyperv.msgPage,
  ),
  vcpuPath(
    "exit.input",
    "KVM_EXIT_HYPERV_HCALL: the input value (RCX)",
    (vm, c) => vm.cpus[c].run.hyperv.input,
  ),
  {
    pattern: "vcpu#.hyperv.exit.params[#]",
    type: U64,
    doc: "KVM_EXIT_HYPERV_HCALL: params[0] the input GPA (RDX), params[1] the output GPA (R8)",
    get: (vm, [c, i]) => toVal(vm.cpus[c].run.hyperv.params[i]),
    bounds: (vm) => [vm.hyperv.length, 2],
    requires: needHyperv,
  },
  {
    pattern: "hyperv.guest_os_id",
    type: U64,
    doc: "HV_X64_MSR_GUEST_OS_ID",
    get: (vm) => toVal(vm.hvPartition?.guestOsId ?? 0n),
    requires: needHyperv,
  },
  {
    pattern: "hyperv.hypercall",
    type: U64,
    doc: "HV_X64_MSR_HYPERCALL: the hypercall page GPA | enable",
    get: (vm) => toVal(vm.hvPartition?.hypercall ?? 0n),
    requires: needHyperv,
  },
  {
    pattern: "hyperv.ref_time",
    type: U64,
    doc: "the partition reference time (HV_X64_MSR_TIME_REF_COUNT), 100 ns units: kvmclock / " +
      "100, or while the reference TSC page is SET KVM's formula from its copy of the page",
    get: (vm) => toVal(vm.hvPartition?.refTime() ?? 0n),
    requires: needHyperv,
  },
  {
    pattern: "hyperv.reference_tsc",
    type: U64,
    doc: "HV_X64_MSR_REFERENCE_TSC: the reference TSC page's GPA | enable",
    get: (vm) => toVal(vm.hvPartition?.referenceTsc ?? 0n),
    requires: needHyperv,
  },
  {
    pattern: "hyperv.tsc_page_status",
    type: U64,
    doc: `KVM's hv_tsc_page_status: ${
      Object.entries(HV_TSC_PAGE).map(([k, v]) => `${v} ${k}`).join(", ")
    }`,
    get: (vm) => vm.hvPartition?.tscPageStatus ?? 0,
    requires: needHyperv,
  },
];

/**
 * Named values for Hyper-V scenarios: the MSRs, hypercall codes and statuses.
 *
 * @example
 * ```ts
 * HYPERV_CONSTANTS.HV_X64_MSR_SIMP; // 0x40000083
 * ```
 */
export const HYPERV_CONSTANTS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(HV_MSR).map(([k, v]) => [`HV_X64_MSR_${k}`, v])),
  ...Object.fromEntries(
    Array.from(
      { length: HV_SYNIC_SINT_COUNT },
      (_, i) => [`HV_X64_MSR_SINT${i}`, HV_MSR.SINT0 + i],
    ),
  ),
  ...Object.fromEntries(
    Array.from({ length: HV_SYNIC_STIMER_COUNT }, (_, i) => [
      [`HV_X64_MSR_STIMER${i}_CONFIG`, HV_MSR.STIMER0_CONFIG + 2 * i],
      [`HV_X64_MSR_STIMER${i}_COUNT`, HV_MSR.STIMER0_COUNT + 2 * i],
    ]).flat(),
  ),
  ...Object.fromEntries(
    Object.entries(HVCALL).map(([k, v]) => [k.startsWith("EXT_") ? `HV_${k}` : `HVCALL_${k}`, v]),
  ),
  ...HYPERV_CPUID_CONSTANTS,
  HV_HYPERCALL_FAST_BIT: Number(HV_HYPERCALL.Fast),
  HV_GENERIC_SET_SPARSE_4K: HV_GENERIC_SET.SPARSE_4K,
  HV_GENERIC_SET_ALL: HV_GENERIC_SET.ALL,
  ...Object.fromEntries(Object.entries(HV_STATUS).map(([k, v]) => [`HV_STATUS_${k}`, v])),
  ...Object.fromEntries(Object.entries(HV_TSC_PAGE).map(([k, v]) => [`HV_TSC_PAGE_${k}`, v])),
  HVMSG_TIMER_EXPIRED,
  KVM_EXIT_HYPERV_SYNIC: KVM_EXIT_HYPERV.SYNIC,
  KVM_EXIT_HYPERV_HCALL: KVM_EXIT_HYPERV.HCALL,
};
