/**
 * The Xen hypercall ABI as an x86 HVM guest uses it: hypercall and
 * sub-operation numbers, the guest registers a call reads (the number in
 * RAX, six arguments in an order that depends on the mode, the result back
 * in RAX), and the record of KVM's exit to the VMM for a call it leaves to
 * userspace (`KVM_EXIT_XEN` of type `KVM_EXIT_XEN_HCALL`).
 *
 * Registers are modelled only as far as hypercalls use them: RAX, RBX, RCX,
 * RDX, RSI, RDI, RBP, R8, R9, R10, each 64 bits, per vCPU. A 32-bit guest
 * uses their low halves (EAX, EBX, ...).
 *
 * Sources: Xen `xen/include/public/xen.h` (`__HYPERVISOR_*` numbers),
 * `xen/include/public/{event_channel,sched,vcpu,version}.h` and
 * `public/hvm/hvm_op.h` (sub-operation numbers), `xen/arch/x86/hvm/
 * hypercall.c` (`hvm_hypercall`: arguments RDI, RSI, RDX, R10, R8, R9 in
 * long mode and EBX, ECX, EDX, ESI, EDI, EBP otherwise; any CPL other than
 * 0 gets -EPERM); Linux `include/uapi/linux/kvm.h` (`struct kvm_xen_exit`,
 * KVM_EXIT_XEN = 34, KVM_EXIT_XEN_HCALL = 1), `arch/x86/kvm/xen.c`
 * (`kvm_xen_hypercall`: the same argument order, the input from RAX, the
 * CPL, and `kvm_xen_hypercall_complete_userspace` writing the VMM's result
 * to RAX), `arch/x86/kvm/x86.c` (`kvm_emulate_hypercall`: without
 * Xen interception a VMCALL is a KVM hypercall, -KVM_EPERM from CPL > 0,
 * -KVM_ENOSYS for an unknown number), `include/uapi/linux/kvm_para.h`
 * (KVM_ENOSYS = 1000, KVM_EPERM = EPERM, KVM_HC_* numbers);
 * `tools/testing/selftests/kvm/x86/xen_vmcall_test.c` (stub 17 with six
 * argument values, the VMM's result checked in RAX).
 *
 * @module
 */
import { XEN_ERRNO } from "./errno.ts";

/**
 * `__HYPERVISOR_*` numbers of the calls the model knows (`xen.h`).
 *
 * @example
 * ```ts
 * HYPERCALL.event_channel_op; // 32
 * ```
 */
export const HYPERCALL = {
  set_callbacks: 4,
  set_timer_op: 15,
  xen_version: 17,
  vcpu_op: 24,
  vm_assist: 21,
  sched_op: 29,
  callback_op: 30,
  event_channel_op: 32,
  hvm_op: 34,
} as const;

/**
 * CALLBACKOP_* (`callback.h`), the first argument of callback_op.
 *
 * @example
 * ```ts
 * CALLBACKOP.register; // 0
 * ```
 */
export const CALLBACKOP = { register: 0, unregister: 1 } as const;

/**
 * The CALLBACKTYPE_* a PV guest registers for events (`callback.h`):
 * the event callback (upcalls) and the failsafe callback (a fault while
 * Xen reloads the guest's segments on its way back).
 *
 * @example
 * ```ts
 * CALLBACKTYPE.failsafe; // 1
 * ```
 */
export const CALLBACKTYPE = { event: 0, failsafe: 1 } as const;

/**
 * VMASST_TYPE_* (`xen.h`) and the ones a domain may set
 * (`arch_vm_assist_valid_mask`, xen/arch/x86/include/asm/domain.h): an HVM
 * or PVH domain only runstate_update_flag, a 64-bit PV one also the PV
 * assists and m2p_strict.
 *
 * @example
 * ```ts
 * VMASST_TYPE.runstate_update_flag; // 5
 * ```
 */
export const VMASST_TYPE = {
  "4gb_segments": 0,
  "4gb_segments_notify": 1,
  writable_pagetables: 2,
  pae_extended_cr3: 3,
  architectural_iopl: 4,
  runstate_update_flag: 5,
  m2p_strict: 32,
} as const;

/** CALLBACKF_mask_events: the failsafe callback is entered with events masked. */
export const CALLBACKF_MASK_EVENTS = 1;

/**
 * EVTCHNOP_* sub-operations (`event_channel.h`), the first argument of
 * event_channel_op.
 *
 * @example
 * ```ts
 * EVTCHNOP.send; // 4
 * ```
 */
export const EVTCHNOP = {
  bind_interdomain: 0,
  bind_virq: 1,
  bind_pirq: 2,
  close: 3,
  send: 4,
  status: 5,
  alloc_unbound: 6,
  bind_ipi: 7,
  bind_vcpu: 8,
  unmask: 9,
  reset: 10,
  init_control: 11,
  expand_array: 12,
  set_priority: 13,
} as const;

/**
 * SCHEDOP_* sub-operations (`sched.h`).
 *
 * @example
 * ```ts
 * SCHEDOP.poll; // 3
 * ```
 */
export const SCHEDOP = { yield: 0, block: 1, shutdown: 2, poll: 3 } as const;

/**
 * VCPUOP_* sub-operations the model implements (`vcpu.h`); the second
 * argument of vcpu_op is the target vCPU.
 *
 * @example
 * ```ts
 * VCPUOP.register_vcpu_info; // 10
 * ```
 */
export const VCPUOP = {
  get_runstate_info: 4,
  register_runstate_memory_area: 5,
  set_periodic_timer: 6,
  stop_periodic_timer: 7,
  set_singleshot_timer: 8,
  stop_singleshot_timer: 9,
  register_vcpu_info: 10,
  register_vcpu_time_memory_area: 13,
} as const;

/**
 * HVMOP_* sub-operations the model implements (`hvm_op.h`).
 *
 * @example
 * ```ts
 * HVMOP.set_evtchn_upcall_vector; // 23
 * ```
 */
export const HVMOP = { set_param: 0, get_param: 1, set_evtchn_upcall_vector: 23 } as const;

/**
 * `XENVER_version` (`version.h`): the xen_version sub-command KVM can answer
 * in the kernel.
 *
 * @example
 * ```ts
 * XENVER_version; // 0
 * ```
 */
export const XENVER_version = 0;

/**
 * KVM's own hypercall errors (`kvm_para.h`), returned when a VMCALL is not
 * intercepted as a Xen hypercall: -KVM_ENOSYS for an unknown number,
 * -KVM_EPERM (= -EPERM) from CPL > 0.
 *
 * @example
 * ```ts
 * -KVM_HC_ERRNO.KVM_ENOSYS; // -1000
 * ```
 */
export const KVM_HC_ERRNO = { KVM_ENOSYS: 1000, KVM_EPERM: 1 } as const;

/**
 * KVM's own hypercall numbers (`KVM_HC_*`), which the model does not
 * implement: a VMCALL with one of them and no Xen interception is refused
 * as out of scope rather than answered wrongly.
 *
 * @example
 * ```ts
 * KVM_OWN_HYPERCALLS.has(5); // KVM_HC_KICK_CPU
 * ```
 */
export const KVM_OWN_HYPERCALLS: ReadonlySet<number> = new Set([1, 5, 9, 10, 11, 12]);

/**
 * The general-purpose registers a hypercall reads or writes.
 *
 * @example
 * ```ts
 * GPRS.includes("r10"); // true
 * ```
 */
export const GPRS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10"] as const;

/**
 * One of {@link GPRS}.
 *
 * @example
 * ```ts
 * const r: Gpr = "rdi";
 * ```
 */
export type Gpr = typeof GPRS[number];

/**
 * The argument registers in ABI order for a 64-bit caller.
 *
 * @example
 * ```ts
 * ARG_REGS_64[3]; // "r10"
 * ```
 */
export const ARG_REGS_64: readonly Gpr[] = ["rdi", "rsi", "rdx", "r10", "r8", "r9"];

/**
 * The argument registers in ABI order for a 32-bit caller (their low halves:
 * EBX, ECX, EDX, ESI, EDI, EBP).
 *
 * @example
 * ```ts
 * ARG_REGS_32[0]; // "rbx", read as EBX
 * ```
 */
export const ARG_REGS_32: readonly Gpr[] = ["rbx", "rcx", "rdx", "rsi", "rdi", "rbp"];

/**
 * The 32-bit names a scenario may write, and the register whose low half each is.
 *
 * @example
 * ```ts
 * REG32.ebx; // "rbx"
 * ```
 */
export const REG32: Readonly<Record<string, Gpr>> = {
  eax: "rax",
  ebx: "rbx",
  ecx: "rcx",
  edx: "rdx",
  esi: "rsi",
  edi: "rdi",
  ebp: "rbp",
};

const U64 = 0xffff_ffff_ffff_ffffn;

/**
 * A number as the 64-bit register value it becomes (a negative errno is
 * sign-extended, as a C `long` result is).
 *
 * @example
 * ```ts
 * toU64(-22); // 0xffffffffffffffea
 * ```
 */
export function toU64(v: number | bigint): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

/**
 * `XEN_HYPERCALL_TAG` (arch-arm.h): the immediate of the HVC that calls Xen
 * on Arm. Xen's `do_trap_hypercall` injects an undefined-instruction
 * exception for any other.
 *
 * @example
 * ```ts
 * XEN_HYPERCALL_TAG.toString(16); // "ea1"
 * ```
 */
export const XEN_HYPERCALL_TAG = 0xea1;

/**
 * The arm64 registers the hypercall ABI uses (arch-arm.h "Hypercalls"):
 * the number in x16, up to five arguments in x0..x4, the result in x0.
 *
 * @example
 * ```ts
 * ARM_GPRS.includes("x16"); // true
 * ```
 */
export const ARM_GPRS = ["x0", "x1", "x2", "x3", "x4", "x16"] as const;

/**
 * One of {@link ARM_GPRS}.
 *
 * @example
 * ```ts
 * const r: ArmGpr = "x16";
 * ```
 */
export type ArmGpr = typeof ARM_GPRS[number];

/** The argument registers in ABI order (`HYPERCALL_ARG1`..`HYPERCALL_ARG5` on arm64). */
const ARM_ARG_REGS: readonly ArmGpr[] = ["x0", "x1", "x2", "x3", "x4"];

/**
 * How many arguments each hypercall in Arm's table takes (Xen
 * `xen/include/hypercall-defs.c`, the prototypes of the entries with an
 * `arm` handler: the generated `hypercall_args[]`). A debug build clobbers
 * that many argument registers after the call, x0 excepted. A number not
 * listed is not in Arm's table: -ENOSYS.
 *
 * @example
 * ```ts
 * ARM_HYPERCALL_ARGS[HYPERCALL.vcpu_op]; // 3
 * ```
 */
export const ARM_HYPERCALL_ARGS: Readonly<Record<number, number>> = {
  [HYPERCALL.xen_version]: 2,
  [HYPERCALL.vm_assist]: 2,
  [HYPERCALL.vcpu_op]: 3,
  [HYPERCALL.sched_op]: 2,
  [HYPERCALL.event_channel_op]: 2,
  [HYPERCALL.hvm_op]: 2,
};

/**
 * `__HYPERVISOR_*` numbers in Arm's table (hypercall-defs.c, `arm`
 * column "do") that no command of the model makes: platform_op,
 * memory_op, multicall, console_io, grant_table_op, xsm_op, sysctl, domctl,
 * argo_op, dm_op, hypfs_op. Their handlers take guest memory the model does
 * not lay out. Every number in neither this set nor
 * {@link ARM_HYPERCALL_ARGS} is -ENOSYS on Arm: outside the table, a
 * deprecated one (`dep`: sched_op_compat, event_channel_op_compat,
 * physdev_op_compat; `do_deprecated_hypercall`) or physdev_op
 * (`do_arm_physdev_op` without CONFIG_HAS_PCI).
 *
 * @example
 * ```ts
 * ARM_UNMODELLED_HYPERCALLS.has(12); // true: memory_op
 * ```
 */
export const ARM_UNMODELLED_HYPERCALLS: ReadonlySet<number> = new Set([
  7,
  12,
  13,
  18,
  20,
  27,
  35,
  36,
  39,
  41,
  42,
]);

/**
 * What a debug Xen (`#ifndef NDEBUG` in arm traps.c `do_trap_hypercall`)
 * writes into the argument registers x1.. a call used, and into x16, once
 * the call returns something other than -ENOSYS unpreempted.
 */
export const XEN_ARM_CLOBBER = 0xdeadbeefn;

/**
 * Which Xen build answers: `release` (NDEBUG, the registers keep their
 * values) or `debug` (the used argument registers and x16 are clobbered
 * with 0xDEADBEEF after each call).
 *
 * @example
 * ```ts
 * const b: XenBuild = "debug";
 * ```
 */
export type XenBuild = "release" | "debug";

/**
 * One arm64 vCPU's hypercall registers, as Xen's `do_trap_hvc64` reads and
 * writes them.
 *
 * @example
 * ```ts
 * const r = new ArmGuestRegs();
 * r.call(HYPERCALL.sched_op, [0n], () => 0, "debug");
 * r.get("x16"); // 0xdeadbeefn
 * ```
 */
export class ArmGuestRegs {
  /** Register values, 64 bits each (public, so explore's fingerprint sees them). */
  readonly values: Record<ArmGpr, bigint> = { x0: 0n, x1: 0n, x2: 0n, x3: 0n, x4: 0n, x16: 0n };

  /** Sets a register (the value is taken modulo 2^64). */
  set(r: ArmGpr, v: number | bigint): void {
    this.values[r] = BigInt(v) & U64;
  }

  /** Reads a register. */
  get(r: ArmGpr): bigint {
    return this.values[r];
  }

  /**
   * `HVC #0xEA1` with `nr` in x16 and `args` (undefined: the register as it
   * is) in x0..x4: runs `fn`, puts its result in x0, and in a debug build
   * clobbers the used argument registers but x0, and x16, unless the result
   * is -ENOSYS. Returns the result.
   */
  call(
    nr: number | bigint,
    args: readonly (bigint | undefined)[],
    fn: () => number,
    build: XenBuild,
  ): number {
    this.set("x16", nr);
    args.forEach((v, i) => {
      if (v !== undefined && i < ARM_ARG_REGS.length) this.set(ARM_ARG_REGS[i], v);
    });
    const rc = fn();
    this.set("x0", toU64(rc));
    if (build === "debug" && rc !== -XEN_ERRNO.ENOSYS) {
      const n = ARM_HYPERCALL_ARGS[Number(nr)] ?? 0;
      for (let i = 1; i < n; i++) this.set(ARM_ARG_REGS[i], XEN_ARM_CLOBBER);
      this.set("x16", XEN_ARM_CLOBBER);
    }
    return rc;
  }
}

/**
 * One vCPU's hypercall registers.
 *
 * @example
 * ```ts
 * const r = new GuestRegs();
 * r.set("rdi", 5n);
 * r.args(true)[0]; // 5n
 * ```
 */
export class GuestRegs {
  /** Register values, 64 bits each (public, so explore's fingerprint sees them). */
  readonly values: Record<Gpr, bigint> = {
    rax: 0n,
    rbx: 0n,
    rcx: 0n,
    rdx: 0n,
    rsi: 0n,
    rdi: 0n,
    rbp: 0n,
    r8: 0n,
    r9: 0n,
    r10: 0n,
  };

  /** Sets a register (the value is taken modulo 2^64). */
  set(r: Gpr, v: number | bigint): void {
    this.values[r] = BigInt(v) & U64;
  }

  /** Reads a register. */
  get(r: Gpr): bigint {
    return this.values[r];
  }

  /**
   * The hypercall number as KVM reads it: RAX, or EAX outside long mode
   * (`kvm_register_read` truncates to 32 bits there).
   */
  input(longmode: boolean): bigint {
    return longmode ? this.values.rax : this.values.rax & 0xffff_ffffn;
  }

  /** The six arguments in ABI order; 32-bit callers' are the low halves. */
  args(longmode: boolean): bigint[] {
    return longmode
      ? ARG_REGS_64.map((r) => this.values[r])
      : ARG_REGS_32.map((r) => this.values[r] & 0xffff_ffffn);
  }
}

/**
 * `struct kvm_xen_exit` of type KVM_EXIT_XEN_HCALL as the VMM last saw it on
 * one vCPU, plus how many such exits there were and whether the call still
 * waits for the VMM's answer.
 *
 * @example
 * ```ts
 * const e = new XenExit();
 * e.reason; // "none" until the first exit
 * ```
 */
export class XenExit {
  /** `exit_reason`: KVM_EXIT_XEN with type KVM_EXIT_XEN_HCALL, or none yet. */
  reason: "none" | "xen_hcall" = "none";
  /** KVM_EXIT_XEN exits so far. */
  count = 0;
  /** `u.hcall.longmode`: 1 for a 64-bit caller. */
  longmode = 0;
  /** `u.hcall.cpl`. */
  cpl = 0;
  /** `u.hcall.input`: the hypercall number. */
  input = 0n;
  /** `u.hcall.params[6]`. */
  readonly params: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n];
  /** `u.hcall.result` as the VMM last wrote it. */
  result = 0n;
  /** The call waits for the VMM (a raw hypercall that exited and is not answered yet). */
  waiting = false;
}
