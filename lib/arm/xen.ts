/**
 * Xen on arm64: the command and state tables of `lib/xen/platform.ts`,
 * bound to {@link ArmVm}, with what does not exist for an Arm guest refused
 * by the checker (a located error naming why) rather than modelled wrongly.
 *
 * What differs from x86 is the upcall: Xen on Arm has no
 * HVM_PARAM_CALLBACK_IRQ methods and no per-vCPU LAPIC vector. Every
 * vCPU's upcall is the PPI GUEST_EVTCHN_PPI (31), which
 * `vcpu_mark_events_pending` (xen/arch/arm/domain.c) makes pending through
 * `vgic_inject_irq` on the 0→1 change of evtchn_upcall_pending; the guest
 * takes it through its GIC like any PPI. The layouts are `arch-arm.h`'s
 * ({@link LAYOUT_ARM}).
 *
 * Blocking: SCHEDOP_block's `local_event_delivery_enable` clears the
 * guest's PSTATE.I (xen/arch/arm/include/asm/event.h), not
 * evtchn_upcall_mask, and `local_events_need_delivery` asks the vGIC; a
 * blocked or polling vCPU sleeps as in WFI until an interrupt for it
 * (`vgic_inject_irq` -> `vcpu_kick`), a polled port or the poll's timeout.
 * Timers: the guest has the arch timer (PPI 27); set_timer_op is no Arm
 * hypercall (-ENOSYS) and Arm's `do_vcpu_op` refuses the VCPUOP timer
 * calls (-EINVAL).
 *
 * Sources: Xen `xen/include/public/arch-arm.h` (`GUEST_EVTCHN_PPI`,
 * `xen_ulong_t`, `XEN_LEGACY_MAX_VCPUS`, empty `arch_vcpu_info` and
 * `arch_shared_info`), `xen/arch/arm/domain.c` (`vcpu_mark_events_pending`,
 * `do_vcpu_op`: only VCPUOP_register_vcpu_info and
 * VCPUOP_register_runstate_memory_area), `xen/arch/arm/hvm.c` (`do_hvm_op`:
 * parameters are stored, nothing is a callback), `xen/arch/arm/traps.c`
 * (hypercalls are HVC #0xEA1: no hypercall page, no MSR; `do_trap_hypercall`
 * takes the number from x16 and the arguments from x0..x4 and leaves the
 * result in x0, which every named command does to `vcpuN.regs`).
 *
 * @module
 */
import type { Args, CommandSpec, Requirement, StateSpec, Val } from "../core/table.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import { XEN_ERRNO } from "../xen/errno.ts";
import {
  ARM_GPRS,
  ARM_HYPERCALL_ARGS,
  ARM_UNMODELLED_HYPERCALLS,
  EVTCHNOP,
  HYPERCALL,
  VCPUOP,
  XEN_HYPERCALL_TAG,
} from "../xen/hypercall.ts";
import { armHypercall } from "../xen/hypercall_path.ts";
import { xenCommands, xenState } from "../xen/platform.ts";
import { LAYOUT_ARM } from "../xen/layout.ts";
import type { ArmVm } from "./vm.ts";

const needXen: Requirement = (s) =>
  s.hypervisor === "xen" ? undefined : "needs a Xen guest: add 'hypervisor xen' to the vm block";

const NO_KVM_XEN = "belongs to KVM's Xen emulation, which exists only on x86";
const X86_UPCALL =
  "is x86 only: Xen on Arm has no callback GSI, INTx or vector; every upcall is PPI 31 (GUEST_EVTCHN_PPI, arch-arm.h)";

/** Commands an Arm Xen guest does not have, and why. */
const REFUSED: Readonly<Record<string, string>> = {
  "xen set_callback_irq": X86_UPCALL,
  "xen set_evtchn_upcall_vector": X86_UPCALL,
  "xen set_param":
    "is x86 only: on Arm, HVM_PARAM_CALLBACK_IRQ selects nothing (Xen's Arm do_hvm_op only stores it); every upcall is PPI 31",
  "xen hypercall_page":
    "is x86 only: an Arm guest calls Xen with HVC #0xEA1 and has no hypercall page",
  "xen cpu_mode": "is x86 only: on Arm the shared_info layout does not depend on the guest's width",
  "xen hypercall": NO_KVM_XEN,
  "xen copy_vcpu_info": NO_KVM_XEN,
  deschedule: "is modelled on x86 only: an arm64 vCPU has no hook that keeps it off its CPU",
  pirq:
    "is x86 only: Xen on Arm has no PIRQs (CONFIG_HAS_PIRQ is selected by xen/arch/x86/Kconfig alone); a device's interrupt reaches an Arm guest as a vGIC SPI",
};

/**
 * EVTCHNOP_bind_pirq reaches common/event_channel.c's `evtchn_bind_pirq`
 * on Arm too, which without CONFIG_HAS_PIRQ (only x86 selects it) answers
 * -EOPNOTSUPP before looking at the PIRQ.
 */
const ARM_BIND_PIRQ = "evtchn bind_pirq";

/**
 * The timer hypercalls of an x86 guest, as Xen on Arm answers them: the
 * guest's timer there is the architected one (GUEST_TIMER_VIRT_PPI 27,
 * GUEST_TIMER_PHYS_NS_PPI 30 in arch-arm.h), so set_timer_op is not in
 * Arm's hypercall table (`xen/include/hypercall-defs.c`: "-" in the arm
 * column, so -ENOSYS), and Arm's `do_vcpu_op` (xen/arch/arm/domain.c) takes
 * only VCPUOP_register_vcpu_info and VCPUOP_register_runstate_memory_area:
 * -ENOENT for a vCPU that does not exist, else -EINVAL.
 */
const ARM_TIMER_CALLS: Readonly<Record<string, "no_hypercall" | "vcpu_op">> = {
  "xen set_timer": "no_hypercall",
  "xen set_timer_op": "no_hypercall",
  "xen set_singleshot_timer": "vcpu_op",
  "xen stop_singleshot_timer": "vcpu_op",
  "xen set_periodic_timer": "vcpu_op",
  "xen stop_periodic_timer": "vcpu_op",
  // Not a timer, but refused the same way: Arm's do_vcpu_op has no case for it.
  "xen get_runstate_info": "vcpu_op",
  "xen register_vcpu_time_area": "vcpu_op",
};

/** The VCPUOP_* of each vcpu_op timer command (x0 of its HVC). */
const ARM_VCPUOP: Readonly<Record<string, number>> = {
  "xen set_singleshot_timer": VCPUOP.set_singleshot_timer,
  "xen stop_singleshot_timer": VCPUOP.stop_singleshot_timer,
  "xen set_periodic_timer": VCPUOP.set_periodic_timer,
  "xen stop_periodic_timer": VCPUOP.stop_periodic_timer,
  "xen get_runstate_info": VCPUOP.get_runstate_info,
  "xen register_vcpu_time_area": VCPUOP.register_vcpu_time_memory_area,
};

/** What the blocking hypercalls do differently on Arm, for `scn help`. */
const ARM_BLOCKING: Readonly<Record<string, string>> = {
  "xen sched_block":
    "On arm64 (xen/arch/arm/include/asm/event.h): it clears the guest's PSTATE.I, not evtchn_upcall_mask, returns at once if the vGIC has an interrupt to deliver, else the vCPU sleeps as in WFI until an interrupt for it (vgic_inject_irq -> vcpu_kick)",
  "xen sched_poll":
    "On arm64 the vCPU sleeps as in WFI until a polled port, the timeout, or an interrupt for it (vcpu_kick)",
};

/** What Xen on Arm returns for one of {@link ARM_TIMER_CALLS}. */
function armTimerCall(kind: "no_hypercall" | "vcpu_op", vm: ArmVm, cpu: number, a: Args): number {
  if (kind === "no_hypercall") return -XEN_ERRNO.ENOSYS;
  const target = a.vcpu === undefined || a.vcpu === -1 ? cpu : a.vcpu as number;
  return target < 0 || target >= vm.cpus.length ? -XEN_ERRNO.ENOENT : -XEN_ERRNO.EINVAL;
}

function refusal(name: string): string | undefined {
  // Every `kvm ...` command of lib/xen's table is KVM's Xen emulation (the ioctls, and the vCPU
  // thread's time outside KVM_RUN that only kvm-xen models).
  if (name.startsWith("kvm ")) return NO_KVM_XEN;
  return REFUSED[name];
}

/** Arm lays out no such field (arch-arm.h): the x86 PV words and cr2. */
const ARM_FIELDS = new Set([
  ...LAYOUT_ARM.sharedInfo.map((f) => `shared.${f.name}`),
  ...LAYOUT_ARM.vcpuInfo.map((f) => `vcpu#.info.${f.name}`),
  ...LAYOUT_ARM.vcpuInfo.map((f) => `shared.vcpu_info[#].${f.name}`),
]);

function stateRefusal(pattern: string): string | undefined {
  const base = pattern.replace(/\[#\]$/, "");
  if (base.startsWith("shared.") || base.startsWith("vcpu#.info.")) {
    return ARM_FIELDS.has(base) ? undefined : "is not in the Arm layout (arch-arm.h)";
  }
  if (
    pattern === "vcpu#.xen.upcall_vector" || pattern === "vcpu#.xen.global_vector" ||
    pattern.startsWith("xen.callback")
  ) {
    return X86_UPCALL;
  }
  if (pattern.startsWith("vcpu#.regs.") || pattern.startsWith("vcpu#.exit.")) {
    return "is x86 only: the hypercall registers and exits of the x86 ABI (arm64's are " +
      "vcpuN.regs.x0..x4 and x16)";
  }
  if (pattern.startsWith("kvm.")) return NO_KVM_XEN;
  return undefined;
}

function requirement(why: string | undefined): Requirement {
  if (why === undefined) return needXen;
  return (s: Readonly<Record<string, Val>>) =>
    s.hypervisor === "xen" ? `${why} (arch arm64)` : needXen(s);
}

/** The x0..x4 loads `xen hvc` takes (left out: the register keeps its value). */
const HVC_ARGS = ["x0", "x1", "x2", "x3", "x4"] as const;

/**
 * The Xen commands for arm64 VMs: every command of `lib/xen/platform.ts`,
 * each requiring `hypervisor xen`, and the x86-only ones refused with the
 * reason.
 *
 * @example
 * ```ts
 * const c = ARM_XEN_COMMANDS.find((c) => c.name === "xen set_callback_irq")!;
 * c.requires!({ hypervisor: "xen" }); // "is x86 only: ... (arch arm64)"
 * ```
 */
export const ARM_XEN_COMMANDS: readonly CommandSpec<ArmVm>[] = [
  ...xenCommands<ArmVm>().map(armCommand).map(fromEl1),
  hvcCommand(),
];

/**
 * `xen hvc`: an HVC the guest loads itself, for what no named command
 * makes: the numbers Arm's table answers -ENOSYS (arm traps.c
 * `do_trap_hypercall`). A wrong immediate and the numbers Xen handles are
 * input errors, each saying why.
 */
function hvcCommand(): CommandSpec<ArmVm> {
  return {
    actor: "vcpu",
    name: "xen hvc",
    backend: "xen",
    requires: needXen,
    doc: "HVC #imm with x16 and x0..x4 loaded as given (the rest keep their values), as Xen's " +
      "do_trap_hypercall takes it: a number outside Arm's table (hypercall-defs.c), a " +
      "deprecated one (do_deprecated_hypercall) or physdev_op (no CONFIG_HAS_PCI) leaves " +
      "-ENOSYS in x0 and, even in a debug build, every other register as it was. An immediate " +
      "other than 0xEA1 (Xen injects an undefined-instruction exception) and the numbers Xen " +
      "handles (use the named commands; memory_op and the like are not modelled) are input errors",
    params: [
      {
        name: "imm",
        type: { kind: "int", min: 0, max: 0xffff, what: "an HVC immediate" },
        doc: "the HVC immediate: 0xEA1 (XEN_HYPERCALL_TAG)",
        default: XEN_HYPERCALL_TAG,
      },
      { name: "x16", type: { kind: "u64" }, doc: "the hypercall number" },
      ...HVC_ARGS.map((r, i) => ({
        name: r,
        type: { kind: "u64" as const },
        doc: `argument ${i + 1} (left out: the register keeps its value)`,
        default: -1,
      })),
    ],
    returns: "x0 afterwards, read signed (-ENOSYS)",
    run: (vm, cpu, a) => {
      if (a.imm !== XEN_HYPERCALL_TAG) {
        throw new CommandInputError(
          `HVC #0x${(a.imm as number).toString(16)}: Xen injects an undefined-instruction ` +
            "exception for an immediate other than XEN_HYPERCALL_TAG (0xEA1), which the " +
            "model's Arm vCPU does not take",
        );
      }
      const nr = BigInt(a.x16 as number | bigint);
      if (nr < 64n && ARM_HYPERCALL_ARGS[Number(nr)] !== undefined) {
        throw new CommandInputError(
          `x16 = ${nr} is a hypercall the model handles: use its named command (the raw call's ` +
            "guest-memory arguments are not laid out)",
        );
      }
      if (nr < 64n && ARM_UNMODELLED_HYPERCALLS.has(Number(nr))) {
        throw new CommandInputError(
          `x16 = ${nr}: Xen on Arm handles this hypercall, and the model does not`,
        );
      }
      const args = HVC_ARGS.map((r) => a[r] === -1 ? undefined : BigInt(a[r] as number | bigint));
      armHypercall(vm.xen!.domain, cpu, "xen hvc", nr, args, () => -XEN_ERRNO.ENOSYS);
      return Number(BigInt.asIntN(64, vm.xen!.domain.armRegs[cpu].get("x0")));
    },
  };
}

/**
 * An HVC is UNDEFINED at EL0 (Arm ARM, HVC): a caller above CPL 0, which is
 * -EPERM from Xen on x86, takes an undefined-instruction exception on Arm
 * without reaching Xen, which the model's Arm vCPU cannot take.
 */
function fromEl1(c: CommandSpec<ArmVm>): CommandSpec<ArmVm> {
  if (!c.params.some((p) => p.name === "cpl") || c.run === undefined) return c;
  const run = c.run;
  return {
    ...c,
    run: (vm, cpu, a, source) => {
      if (((a.cpl as number | undefined) ?? 0) > 0) {
        throw new CommandInputError(
          `'${c.name}' with cpl ${a.cpl}: an HVC at EL0 is UNDEFINED on Arm, so the guest ` +
            "takes an undefined-instruction exception and Xen never sees the call (not modelled)",
        );
      }
      return run(vm, cpu, a, source);
    },
  };
}

/** One Xen command as Xen on arm64 has it: refused, answered as Arm does, or as it is. */
function armCommand(c: CommandSpec<ArmVm>): CommandSpec<ArmVm> {
  const why = refusal(c.name);
  // `scn help` shows the doc: a refused command says so there too.
  const doc = why === undefined ? c.doc : `refused on arm64: '${c.name}' ${why}`;
  const timer = ARM_TIMER_CALLS[c.name];
  if (timer !== undefined) {
    return {
      ...c,
      doc: `${c.doc}. On arm64 Xen answers ${
        timer === "no_hypercall"
          ? "-ENOSYS: set_timer_op is not in Arm's hypercall table (hypercall-defs.c)"
          : "-EINVAL (-ENOENT for no such vCPU): Arm's do_vcpu_op takes only register_vcpu_info and register_runstate_memory_area"
      }${
        c.name.includes("timer")
          ? "; the guest's timer is the arch timer, PPI 27 (GUEST_TIMER_VIRT_PPI)"
          : ""
      }`,
      backend: "xen",
      requires: needXen,
      steps: undefined,
      run: (vm, cpu, a) => {
        const target = a.vcpu === undefined || a.vcpu === -1 ? cpu : a.vcpu as number;
        const [nr, args] = timer === "no_hypercall"
          ? [HYPERCALL.set_timer_op, []]
          : [HYPERCALL.vcpu_op, [BigInt(ARM_VCPUOP[c.name]), BigInt(target)]];
        return armHypercall(
          vm.xen!.domain,
          cpu,
          c.name,
          nr,
          args,
          () => armTimerCall(timer, vm, cpu, a),
        );
      },
    };
  }
  if (c.name === ARM_BIND_PIRQ) {
    return {
      ...c,
      doc:
        `${c.doc}. On arm64 Xen answers -EOPNOTSUPP whatever the PIRQ: evtchn_bind_pirq is built without CONFIG_HAS_PIRQ, which only x86 selects`,
      backend: "xen",
      requires: needXen,
      steps: undefined,
      run: (vm, cpu) =>
        armHypercall(
          vm.xen!.domain,
          cpu,
          c.name,
          HYPERCALL.event_channel_op,
          [BigInt(EVTCHNOP.bind_pirq)],
          () => -XEN_ERRNO.EOPNOTSUPP,
        ),
    };
  }
  const armDoc = ARM_BLOCKING[c.name];
  return {
    ...c,
    doc: armDoc ? `${doc}. ${armDoc}` : doc,
    backend: "xen",
    requires: requirement(why),
  };
}

/**
 * The Xen state paths for arm64 VMs, with those of x86 fields and x86
 * mechanisms refused.
 *
 * @example
 * ```ts
 * ARM_XEN_STATE.find((p) => p.pattern === "vcpu#.xen.upcall_pending")!.requires!({ hypervisor: "xen" }); // undefined
 * ```
 */
export const ARM_XEN_STATE: readonly StateSpec<ArmVm>[] = [
  ...xenState<ArmVm>().map((p) => ({
    ...p,
    doc: stateRefusal(p.pattern) === undefined
      ? p.doc
      : `refused on arm64: '${p.pattern}' ${stateRefusal(p.pattern)}`,
    requires: requirement(stateRefusal(p.pattern)),
    bounds: p.bounds ??
      (p.pattern.startsWith("vcpu#") ? (vm: ArmVm) => [vm.cpus.length] : undefined),
  })),
  ...ARM_GPRS.map((r): StateSpec<ArmVm> => ({
    pattern: `vcpu#.regs.${r}`,
    type: { kind: "u64" },
    doc: `${r.toUpperCase()} as Xen's HVC #0xEA1 ABI uses it (arch-arm.h): ` +
      (r === "x16"
        ? "the hypercall number (a debug build leaves 0xDEADBEEF)"
        : r === "x0"
        ? "the first argument in, the result out"
        : "an argument (a debug build leaves 0xDEADBEEF in those a call used)"),
    get: (vm, [c]) => vm.xen!.domain.armRegs[c].get(r),
    requires: needXen,
    bounds: (vm) => [vm.cpus.length],
  })),
  {
    pattern: "vcpu#.regs.x0_signed",
    type: {
      kind: "int",
      min: Number.MIN_SAFE_INTEGER,
      max: Number.MAX_SAFE_INTEGER,
      what: "X0 read as a signed 64-bit number",
      decimal: true,
    },
    doc: "X0 read signed, as the guest reads a hypercall's result (-errno on failure)",
    get: (vm, [c]) => {
      const v = BigInt.asIntN(64, vm.xen!.domain.armRegs[c].get("x0"));
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v;
    },
    requires: needXen,
    bounds: (vm) => [vm.cpus.length],
  },
];
