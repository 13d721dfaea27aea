/**
 * The language's side of KVM's arm64 firmware interface (lib/arm/psci.ts):
 * the guest's `smccc` call, the VMM's SMCCC filter, MP state and
 * KVM_CAP_ARM_SYSTEM_SUSPEND, the firmware and core registers
 * KVM_GET/SET_ONE_REG reach, and the state paths of the exits.
 *
 * @module
 */
import type { CommandSpec, StateSpec, Val } from "../core/table.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { ArmVm } from "./vm.ts";
import { EINVAL, ENXIO } from "./errno.ts";
import {
  KVM_ARM_PSCI_VERSIONS,
  KVM_CAP_ARM_SYSTEM_SUSPEND,
  KVM_MP_STATE,
  Psci,
  PsciNotModelled,
} from "./psci.ts";

const VCPU = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 511, what: "a vCPU index", decimal: true, vcpu: true },
  doc: "the vCPU",
} as const;
const U32 = { kind: "int", min: 0, max: 0xffff_ffff, what: "a 32-bit value" } as const;
const U64 = { kind: "u64" } as const;

/** Xen on Arm answers PSCI and SMCCC itself (vpsci.c, vsmc.c), which the model does not have. */
const needKvm = (s: Readonly<Record<string, Val>>) =>
  s.hypervisor === "xen"
    ? "needs 'hypervisor kvm': Xen on Arm's own PSCI and SMCCC handling (vpsci.c, vsmc.c) is not modelled"
    : undefined;

function traced<T>(vm: ArmVm, source: string, text: string, fn: () => T): T {
  const id = vm.trace.emit(source, "ioctl", text);
  vm.trace.open(id);
  try {
    return fn();
  } finally {
    vm.trace.close(id);
  }
}

/**
 * The registers `kvm get_one_reg` reads here: KVM_REG_ARM_PSCI_VERSION,
 * MPIDR_EL1 (KVM_ARM64_SYS_REG), the core registers PC and x0-x3
 * (ARM64_CORE_REG).
 */
export const PSCI_ONE_REGS: readonly string[] = [
  "psci_version",
  "mpidr_el1",
  "pc",
  "x0",
  "x1",
  "x2",
  "x3",
];

const X = ["x0", "x1", "x2", "x3"];

/**
 * KVM_GET_ONE_REG of one of {@link PSCI_ONE_REGS}, or undefined for
 * another register.
 *
 * @example
 * ```ts
 * import type { ArmVm } from "./vm.ts";
 * declare const vm: ArmVm;
 * psciGetOneReg(vm, 1, "mpidr_el1"); // 0x80000001n
 * ```
 */
export function psciGetOneReg(vm: ArmVm, cpu: number, reg: string): bigint | undefined {
  const p = vm.psci;
  if (reg === "psci_version") return BigInt(p.version);
  if (reg === "mpidr_el1") return BigInt(Psci.mpidr(cpu));
  if (reg === "pc") {
    if (p.pc[cpu] < 0n) {
      throw new CommandInputError(
        `kvm get_one_reg reg=pc: the model keeps no program counter for guest statements, only the entry point a PSCI CPU_ON reset gave vcpu${cpu} until it executes`,
      );
    }
    return p.pc[cpu];
  }
  const i = X.indexOf(reg);
  return i < 0 ? undefined : p.reg(cpu, i);
}

/**
 * KVM_SET_ONE_REG of KVM_REG_ARM_PSCI_VERSION (`kvm_arm_set_fw_reg`: 0.2
 * to 1.3 on a vCPU with KVM_ARM_VCPU_PSCI_0_2, which the model's have;
 * 0.1 and anything else -EINVAL) or of x0-x3; undefined for another register.
 *
 * @example
 * ```ts
 * import type { ArmVm } from "./vm.ts";
 * declare const vm: ArmVm;
 * psciSetOneReg(vm, 0, "psci_version", 0x10000n); // 0: PSCI 1.0 from now on
 * ```
 */
export function psciSetOneReg(
  vm: ArmVm,
  cpu: number,
  reg: string,
  value: bigint,
): number | undefined {
  const p = vm.psci;
  if (reg === "psci_version") {
    if (!KVM_ARM_PSCI_VERSIONS.includes(Number(value))) return -EINVAL;
    p.version = Number(value);
    return 0;
  }
  const i = X.indexOf(reg);
  if (i < 0) return undefined;
  p.regs[cpu * 4 + i] = BigInt.asUintN(64, value);
  return 0;
}

/**
 * The commands: the guest's `smccc` and the VMM's `kvm smccc_filter`,
 * `kvm smccc_has_attr`, `kvm get_mp_state`, `kvm set_mp_state` and
 * `kvm enable_cap`.
 *
 * @example
 * ```ts
 * PSCI_COMMANDS.map((c) => c.name); // ["smccc", "kvm smccc_filter", ...]
 * ```
 */
export const PSCI_COMMANDS: readonly CommandSpec<ArmVm>[] = [
  {
    actor: "vcpu",
    name: "smccc",
    doc:
      "an SMC Calling Convention call: HVC #imm (or SMC #imm with conduit=smc) with the function ID in x0 and x1-x3 as given, as KVM handles it (kvm_smccc_call_handler): the VMM's SMCCC filter first (DENY: SMCCC_RET_NOT_SUPPORTED; FWD_TO_USER: KVM_EXIT_HYPERCALL, vcpuN.hypercall.*), calls KVM neither lets through by default nor by its firmware bitmaps are denied; SMCCC_VERSION (1.1), ARCH_FEATURES, and PSCI at the VM's version (KVM_REG_ARM_PSCI_VERSION, 1.3 unless the VMM set one): PSCI_VERSION, PSCI_FEATURES, CPU_ON (target reset with PC = x2 and x0 = x3, RUNNABLE), CPU_OFF, AFFINITY_INFO, CPU_SUSPEND (a WFI), MIGRATE_INFO_TYPE, SYSTEM_OFF / SYSTEM_RESET / SYSTEM_RESET2 / SYSTEM_OFF2 (every vCPU STOPPED, KVM_EXIT_SYSTEM_EVENT, INTERNAL_FAILURE left in x0), SYSTEM_SUSPEND (KVM_EXIT_SYSTEM_EVENT SUSPEND once KVM_CAP_ARM_SYSTEM_SUSPEND is enabled). An SMC with a non-zero immediate leaves ~0 (handle_smc). TRNG, PV time, the vendor hypervisor calls and the Spectre workaround discovery are input errors (not modelled). Under hypervisor xen, Xen's answer (vsmccc_handle_call, vpsci.c): SMCCC 1.2, PSCI 1.1 with no SYSTEM_RESET2, SYSTEM_OFF2 or filter; CPU_ON INVALID_ADDRESS for an odd entry point; AFFINITY_INFO OFF where no vCPU matches; SYSTEM_OFF / SYSTEM_RESET / SYSTEM_SUSPEND shut the domain down (xen.shutdown), no exit; a non-zero immediate is an undefined instruction (input error)",
    params: [
      {
        name: "fn",
        type: U32,
        doc: "x0: the function ID (PSCI_0_2_FN64_CPU_ON, ARM_SMCCC_VERSION_FUNC_ID, ...)",
      },
      { name: "x1", type: U64, doc: "argument 1", default: 0 },
      { name: "x2", type: U64, doc: "argument 2", default: 0 },
      { name: "x3", type: U64, doc: "argument 3", default: 0 },
      {
        name: "conduit",
        type: { kind: "enum", values: ["hvc", "smc"] },
        doc: "the instruction: hvc (the default) or smc",
        default: "hvc",
      },
      {
        name: "imm",
        type: { kind: "int", min: 0, max: 0xffff, what: "an immediate" },
        doc: "the instruction's immediate (0 for SMCCC)",
        default: 0,
      },
    ],
    returns:
      "x0 afterwards, read signed: the PSCI or SMCCC result; after an exit to the VMM what x0 then holds (the function ID, or PSCI_RET_INTERNAL_FAILURE after a system event)",
    run: (vm, cpu, a) => {
      const args = [a.x1, a.x2, a.x3].map((v) => BigInt.asUintN(64, BigInt(v as number | bigint)));
      const conduit = a.conduit as "hvc" | "smc";
      try {
        if (vm.xen !== undefined) {
          vm.psci.callXen(cpu, a.fn as number, args, conduit, a.imm as number);
        } else vm.psci.call(cpu, a.fn as number, args, conduit, a.imm as number);
      } catch (e) {
        if (e instanceof PsciNotModelled) throw new CommandInputError(`smccc: ${e.message}`);
        throw e;
      }
      return Number(BigInt.asIntN(64, vm.psci.reg(cpu, 0)));
    },
  },
  {
    actor: "vmm",
    name: "kvm smccc_filter",
    requires: needKvm,
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_ARM_VM_SMCCC_CTRL, KVM_ARM_VM_SMCCC_FILTER) on the VM fd with struct kvm_smccc_filter (kvm_smccc_set_filter): -EINVAL for a non-zero pad, no functions, a range past 0xffffffff or an action past FWD_TO_USER (2); -EBUSY once a vCPU has run; the first filter reserves the Arm Architecture ranges 0x80000000-0x8000ffff and 0xc0000000-0xc000ffff for KVM, and a range overlapping them or an earlier one is -EEXIST; else functions base..base+nr-1 get the action (HANDLE 0, DENY 1, FWD_TO_USER 2)",
    params: [
      { name: "base", type: U32, doc: "the first function ID" },
      { name: "nr", type: U32, doc: "nr_functions" },
      {
        name: "action",
        type: { kind: "int", min: 0, max: 0xff, what: "a filter action" },
        doc: "KVM_SMCCC_FILTER_HANDLE / _DENY / _FWD_TO_USER",
      },
      {
        name: "pad",
        type: { kind: "int", min: 0, max: 0xff, what: "a byte" },
        doc: "the pad bytes (0: all zero)",
        default: 0,
      },
    ],
    returns: "0 or -EINVAL / -EBUSY / -EEXIST",
    run: (vm, _c, a, source) =>
      traced(
        vm,
        source,
        `KVM_SET_DEVICE_ATTR SMCCC_FILTER base 0x${
          (a.base as number).toString(16)
        } nr ${a.nr} action ${a.action}`,
        () =>
          vm.psci.setFilter(a.base as number, a.nr as number, a.action as number, a.pad as number),
      ),
  },
  {
    actor: "vmm",
    name: "kvm smccc_has_attr",
    requires: needKvm,
    doc:
      "KVM_HAS_DEVICE_ATTR(KVM_ARM_VM_SMCCC_CTRL, attr) on the VM fd (kvm_vm_smccc_has_attr): 0 for KVM_ARM_VM_SMCCC_FILTER (0), else -ENXIO",
    params: [{ name: "attr", type: U32, doc: "the attribute" }],
    returns: "0 or -ENXIO",
    run: (_vm, _c, a) => (a.attr === 0 ? 0 : -ENXIO),
  },
  {
    actor: "vmm",
    name: "kvm get_mp_state",
    requires: needKvm,
    doc:
      "KVM_GET_MP_STATE (kvm_arch_vcpu_ioctl_get_mpstate): KVM_MP_STATE_RUNNABLE (0), _STOPPED (5) or _SUSPENDED (9)",
    params: [VCPU],
    returns: "the MP state",
    run: (vm, _c, a) => vm.cpus[a.vcpu as number].mpState,
  },
  {
    actor: "vmm",
    name: "kvm set_mp_state",
    requires: needKvm,
    doc:
      "KVM_SET_MP_STATE (kvm_arch_vcpu_ioctl_set_mpstate): RUNNABLE (0) lets the vCPU run (the selftests' way back after a system event), STOPPED (5) powers it off as PSCI CPU_OFF does (kvm_arm_vcpu_power_off), SUSPENDED (9) suspends it (kvm_arm_vcpu_suspend): it runs nothing and takes nothing, and once an interrupt would wake it from WFI it exits with KVM_EXIT_SYSTEM_EVENT type KVM_SYSTEM_EVENT_WAKEUP and stays SUSPENDED until made RUNNABLE (kvm_vcpu_suspend); another state is -EINVAL",
    params: [
      VCPU,
      { name: "state", type: U32, doc: "KVM_MP_STATE_RUNNABLE or KVM_MP_STATE_STOPPED" },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      const cpu = a.vcpu as number, st = a.state as number;
      if (
        st !== KVM_MP_STATE.RUNNABLE && st !== KVM_MP_STATE.STOPPED &&
        st !== KVM_MP_STATE.SUSPENDED
      ) return -EINVAL;
      return traced(vm, source, `KVM_SET_MP_STATE vcpu${cpu} ${st}`, () => {
        vm.setMpState(cpu, st);
        return 0;
      });
    },
  },
  {
    actor: "vmm",
    name: "kvm enable_cap",
    requires: needKvm,
    doc:
      `KVM_ENABLE_CAP on the VM fd (kvm_vm_ioctl_enable_cap): flags other than 0 are -EINVAL; KVM_CAP_ARM_SYSTEM_SUSPEND (${KVM_CAP_ARM_SYSTEM_SUSPEND}) makes PSCI SYSTEM_SUSPEND an exit to the VMM (and PSCI_FEATURES report it). Other capabilities are not modelled (input error)`,
    params: [
      { name: "cap", type: U32, doc: "the capability (KVM_CAP_ARM_SYSTEM_SUSPEND)" },
      { name: "flags", type: U32, doc: "struct kvm_enable_cap's flags", default: 0 },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      if (a.flags !== 0) return -EINVAL;
      if (a.cap !== KVM_CAP_ARM_SYSTEM_SUSPEND) {
        throw new CommandInputError(
          `kvm enable_cap cap=${a.cap}: only KVM_CAP_ARM_SYSTEM_SUSPEND (${KVM_CAP_ARM_SYSTEM_SUSPEND}) is modelled on arm64`,
        );
      }
      return traced(vm, source, "KVM_ENABLE_CAP KVM_CAP_ARM_SYSTEM_SUSPEND", () => {
        vm.psci.systemSuspend = true;
        return 0;
      });
    },
  },
];

const vcpuBound = (vm: ArmVm) => [vm.cpus.length];
const INT = { kind: "int", min: -0x8000_0000, max: 0xffff_ffff } as const;

/**
 * The state paths: each vCPU's MP state, x0-x3 and the last exit a call made.
 *
 * @example
 * ```ts
 * PSCI_STATE.map((s) => s.pattern).includes("vcpu#.mp_state"); // true
 * ```
 */
export const PSCI_STATE: readonly StateSpec<ArmVm>[] = [
  {
    pattern: "xen.shutdown",
    type: INT,
    doc:
      "hypervisor xen: the reason the domain shut itself down through PSCI (domain_shutdown: SHUTDOWN_poweroff 0, SHUTDOWN_reboot 1, SHUTDOWN_suspend 2), -1 while it has not",
    get: (vm) => vm.psci.xenShutdown,
    requires: (s) => s.hypervisor === "xen" ? undefined : "needs 'hypervisor xen'",
  },
  {
    pattern: "vcpu#.mp_state",
    type: INT,
    doc: "KVM_GET_MP_STATE: KVM_MP_STATE_RUNNABLE (0), _STOPPED (5) or _SUSPENDED (9)",
    get: (vm, [c]) => vm.cpus[c].mpState,
    bounds: vcpuBound,
  },
  ...X.map((r, i): StateSpec<ArmVm> => ({
    pattern: `vcpu#.${r}`,
    type: { kind: "u64" },
    doc:
      `${r.toUpperCase()} as the SMCCC calls, a PSCI CPU_ON reset and the VMM's KVM_SET_ONE_REG left it (the model's other guest statements use no general-purpose register)`,
    get: (vm, [c]) => vm.psci.reg(c, i),
    bounds: vcpuBound,
  })),
  ...([
    [
      "exit_reason",
      "kvm_run.exit_reason of the last exit an SMCCC call made: KVM_EXIT_HYPERCALL (3) or KVM_EXIT_SYSTEM_EVENT (24); 0 before any",
      (p, c) => p.exitReason[c],
    ],
    [
      "system_event.type",
      "kvm_run.system_event.type: KVM_SYSTEM_EVENT_SHUTDOWN (1), _RESET (2), _WAKEUP (4), _SUSPEND (5)",
      (p, c) => p.eventType[c],
    ],
    [
      "system_event.ndata",
      "kvm_run.system_event.ndata (1 for SHUTDOWN and RESET, 0 for SUSPEND)",
      (p, c) => p.eventNdata[c],
    ],
    [
      "system_event.data0",
      "kvm_run.system_event.data[0]: KVM_SYSTEM_EVENT_SHUTDOWN_FLAG_PSCI_OFF2 / _RESET_FLAG_PSCI_RESET2",
      (p, c) => p.eventData[c],
    ],
    [
      "hypercall.nr",
      "kvm_run.hypercall.nr: the function ID the SMCCC filter forwarded",
      (p, c) => p.hypercallNr[c],
    ],
    [
      "hypercall.flags",
      "kvm_run.hypercall.flags: KVM_HYPERCALL_EXIT_SMC (bit 0) for an SMC",
      (p, c) => p.hypercallFlags[c],
    ],
  ] as [string, string, (p: Psci, c: number) => number][]).map((
    [name, doc, get],
  ): StateSpec<ArmVm> => ({
    pattern: `vcpu#.${name}`,
    type: INT,
    doc,
    get: (vm, [c]) => get(vm.psci, c),
    bounds: vcpuBound,
  })),
];
