/**
 * KVM's firmware interface for arm64 guests: the SMC Calling Convention
 * calls a guest makes with HVC #0 (or SMC #0) and the function ID in x0,
 * KVM's PSCI (CPU_ON, CPU_OFF, AFFINITY_INFO, the system calls), the VMM's
 * SMCCC filter (KVM_ARM_VM_SMCCC_CTRL / KVM_ARM_VM_SMCCC_FILTER), the
 * vCPU's MP state (KVM_GET/SET_MP_STATE) and the exits these make
 * (KVM_EXIT_HYPERCALL, KVM_EXIT_SYSTEM_EVENT).
 *
 * - Dispatch (`kvm_smccc_call_handler`): the filter's action first
 *   (`kvm_smccc_filter_get_action`: HANDLE where no range is, and every call
 *   while no filter is configured); a HANDLE for a call neither the
 *   firmware bitmaps (`kvm_smccc_test_fw_bmap`, all features on by default)
 *   nor `kvm_smccc_default_allowed` (SMCCC_VERSION, ARCH_FEATURES, the
 *   Standard owner's functions 0-0x1f, which are PSCI's) let through is a
 *   DENY. DENY leaves SMCCC_RET_NOT_SUPPORTED (-1) in x0 and 0 in x1-x3;
 *   FWD_TO_USER exits with KVM_EXIT_HYPERCALL (`kvm_prepare_hypercall_exit`:
 *   `nr` the function ID, `flags` KVM_HYPERCALL_EXIT_SMC for an SMC) and
 *   leaves the registers to the VMM.
 * - The filter (`kvm_smccc_set_filter`): a non-zero pad, a range of no
 *   functions or one that wraps past 2^32, or an action past FWD_TO_USER is
 *   -EINVAL; -EBUSY once a vCPU has run; the first filter reserves the Arm
 *   Architecture ranges 0x80000000-0x8000ffff and 0xc0000000-0xc000ffff as
 *   HANDLE (`kvm_smccc_filter_insert_reserved`), so a range overlapping
 *   them or an earlier one is -EEXIST (the maple tree's insert).
 * - PSCI (`kvm_psci_call` -> `kvm_psci_1_x_call` / `kvm_psci_0_2_call`):
 *   the version is the VM's (KVM_REG_ARM_PSCI_VERSION, 1.3 by default with
 *   KVM_ARM_VCPU_PSCI_0_2, which the model's vCPUs have). CPU_ON
 *   (`kvm_psci_vcpu_on`): INVALID_PARAMS for an MPIDR with bits outside
 *   MPIDR_HWID_BITMASK or naming no vCPU, ALREADY_ON unless the target is
 *   STOPPED; else the target is reset with PC the entry point and x0 the
 *   context ID and made RUNNABLE. AFFINITY_INFO
 *   (`kvm_psci_vcpu_affinity_info`): ON when a vCPU whose affinity matches
 *   at the level is not STOPPED, OFF when some match, INVALID_PARAMS when
 *   none does or the level is past 3. CPU_OFF stops the caller. SYSTEM_OFF,
 *   SYSTEM_RESET, SYSTEM_RESET2 and SYSTEM_OFF2 (`kvm_prepare_system_event`)
 *   stop every vCPU and exit with KVM_EXIT_SYSTEM_EVENT (SHUTDOWN or RESET,
 *   ndata 1, data[0] the PSCI_OFF2 / PSCI_RESET2 flag), leaving
 *   INTERNAL_FAILURE in x0 for a VMM that runs the vCPU again. SYSTEM_OFF2
 *   takes type 0 or HIBERNATE_OFF and a zero cookie, else INVALID_PARAMS.
 *   SYSTEM_SUSPEND exits with type SUSPEND and registers unchanged once the
 *   VMM enabled KVM_CAP_ARM_SYSTEM_SUSPEND, else NOT_SUPPORTED. The 32-bit
 *   function IDs take only the low 32 bits of x1-x3
 *   (`kvm_psci_narrow_to_32bit`). CPU_SUSPEND is a WFI (`kvm_psci_vcpu_suspend`).
 * - SMC (`handle_smc`): an immediate other than 0 is reserved and leaves
 *   ~0 in x0; HVC's immediate is not looked at (`handle_hvc`).
 * - KVM_MP_STATE_SUSPENDED (`kvm_arm_vcpu_suspend`, `kvm_vcpu_suspend`):
 *   the vCPU waits as in WFI; once it would wake it exits with
 *   KVM_SYSTEM_EVENT_WAKEUP and stays suspended until made runnable.
 *
 * Not modelled: the functions KVM handles elsewhere (TRNG, PV time, the
 * vendor hypervisor service's UID, features and PTP) and the Spectre
 * workaround discovery (ARCH_FEATURES of ARM_SMCCC_ARCH_WORKAROUND_*,
 * which follow the host CPU): input errors; AArch32 guests and PSCI 0.1.
 * KVM applies CPU_ON's reset at the target's next KVM_RUN or register
 * access (KVM_REQ_VCPU_RESET); the model applies it at once.
 *
 * Sources: Linux `arch/arm64/kvm/hypercalls.c` (`kvm_smccc_call_handler`,
 * `kvm_smccc_get_action`, `kvm_smccc_default_allowed`,
 * `kvm_smccc_set_filter`, `kvm_smccc_filter_insert_reserved`,
 * `kvm_prepare_hypercall_exit`, `kvm_arm_get_fw_reg`, `kvm_arm_set_fw_reg`),
 * `arch/arm64/kvm/psci.c` (`kvm_psci_call`, `kvm_psci_1_x_call`,
 * `kvm_psci_0_2_call`, `kvm_psci_vcpu_on`, `kvm_psci_vcpu_affinity_info`,
 * `kvm_prepare_system_event`, `kvm_psci_system_suspend`,
 * `kvm_psci_narrow_to_32bit`), `arch/arm64/kvm/handle_exit.c`
 * (`handle_hvc`, `handle_smc`), `arch/arm64/kvm/arm.c`
 * (`kvm_arch_vcpu_ioctl_get_mpstate`, `kvm_arch_vcpu_ioctl_set_mpstate`, `kvm_vcpu_suspend`,
 * `kvm_vm_ioctl_enable_cap`), `include/uapi/linux/psci.h`,
 * `include/linux/arm-smccc.h`, `include/kvm/arm_psci.h`,
 * `include/uapi/linux/kvm.h`; Arm DEN 0022 (PSCI) and DEN 0028 (SMCCC).
 *
 * @module
 */
import { kvmMpidr } from "./gicv3_redistributor.ts";
import { EBUSY, EEXIST, EINVAL } from "./errno.ts";

/** PSCI's 0.2+ function IDs (uapi `psci.h`): SMC32 at 0x84000000 + n, SMC64 at 0xc4000000 + n. */
export const PSCI_FN = {
  PSCI_0_2_FN_PSCI_VERSION: 0x8400_0000,
  PSCI_0_2_FN_CPU_SUSPEND: 0x8400_0001,
  PSCI_0_2_FN_CPU_OFF: 0x8400_0002,
  PSCI_0_2_FN_CPU_ON: 0x8400_0003,
  PSCI_0_2_FN_AFFINITY_INFO: 0x8400_0004,
  PSCI_0_2_FN_MIGRATE: 0x8400_0005,
  PSCI_0_2_FN_MIGRATE_INFO_TYPE: 0x8400_0006,
  PSCI_0_2_FN_MIGRATE_INFO_UP_CPU: 0x8400_0007,
  PSCI_0_2_FN_SYSTEM_OFF: 0x8400_0008,
  PSCI_0_2_FN_SYSTEM_RESET: 0x8400_0009,
  PSCI_1_0_FN_PSCI_FEATURES: 0x8400_000a,
  PSCI_1_0_FN_SYSTEM_SUSPEND: 0x8400_000e,
  PSCI_1_1_FN_SYSTEM_RESET2: 0x8400_0012,
  PSCI_1_3_FN_SYSTEM_OFF2: 0x8400_0015,
  PSCI_0_2_FN64_CPU_SUSPEND: 0xc400_0001,
  PSCI_0_2_FN64_CPU_ON: 0xc400_0003,
  PSCI_0_2_FN64_AFFINITY_INFO: 0xc400_0004,
  PSCI_0_2_FN64_MIGRATE: 0xc400_0005,
  PSCI_0_2_FN64_MIGRATE_INFO_UP_CPU: 0xc400_0007,
  PSCI_1_0_FN64_SYSTEM_SUSPEND: 0xc400_000e,
  PSCI_1_1_FN64_SYSTEM_RESET2: 0xc400_0012,
  PSCI_1_3_FN64_SYSTEM_OFF2: 0xc400_0015,
} as const;

const F = PSCI_FN;

/** PSCI return codes (uapi `psci.h` PSCI_RET_*). */
export const PSCI_RET = {
  SUCCESS: 0,
  NOT_SUPPORTED: -1,
  INVALID_PARAMS: -2,
  DENIED: -3,
  ALREADY_ON: -4,
  ON_PENDING: -5,
  INTERNAL_FAILURE: -6,
  NOT_PRESENT: -7,
  DISABLED: -8,
  INVALID_ADDRESS: -9,
} as const;

/** AFFINITY_INFO's answers (PSCI_0_2_AFFINITY_LEVEL_*). */
export const PSCI_AFFINITY_LEVEL = { ON: 0, OFF: 1, ON_PENDING: 2 } as const;

/** MIGRATE_INFO_TYPE's answer: the Trusted OS is MP or absent (PSCI_0_2_TOS_MP). */
export const PSCI_0_2_TOS_MP = 2;
/** SYSTEM_OFF2's type HIBERNATE_OFF (PSCI_1_3_OFF_TYPE_HIBERNATE_OFF, bit 0). */
export const PSCI_1_3_OFF_TYPE_HIBERNATE_OFF = 1;
/** SYSTEM_RESET2's reset types: 0 is SYSTEM_WARM_RESET, from 0x80000000 vendor-specific. */
const RESET_TYPE_VENDOR_START = 0x8000_0000;

/** PSCI_VERSION(major, minor): major in bits 31:16, minor in 15:0. */
export const psciVersion = (major: number, minor: number): number => (major << 16) | minor;

/**
 * The PSCI versions KVM_SET_ONE_REG(KVM_REG_ARM_PSCI_VERSION) accepts from
 * a vCPU with KVM_ARM_VCPU_PSCI_0_2 (KVM_ARM_PSCI_0_2 .. KVM_ARM_PSCI_1_3);
 * the last is KVM_ARM_PSCI_LATEST, a VM's version until the VMM sets one.
 */
export const KVM_ARM_PSCI_VERSIONS: readonly number[] = [
  psciVersion(0, 2),
  psciVersion(1, 0),
  psciVersion(1, 1),
  psciVersion(1, 2),
  psciVersion(1, 3),
];
const PSCI_LATEST = psciVersion(1, 3);

/** The Arm Architecture calls of SMCCC (`arm-smccc.h`). */
export const ARM_SMCCC = {
  VERSION_FUNC_ID: 0x8000_0000,
  ARCH_FEATURES_FUNC_ID: 0x8000_0001,
  ARCH_WORKAROUND_1: 0x8000_8000,
  ARCH_WORKAROUND_2: 0x8000_7fff,
  ARCH_WORKAROUND_3: 0x8000_3fff,
  /** ARM_SMCCC_VERSION_1_1: what KVM's SMCCC_VERSION answers. */
  VERSION_1_1: 0x1_0001,
  /** ARM_SMCCC_HV_PV_TIME_FEATURES: Standard Hypervisor service, SMC64, function 0x20. */
  HV_PV_TIME_FEATURES: 0xc500_0020,
} as const;

/** SMCCC return codes (SMCCC_RET_*). */
export const SMCCC_RET = { SUCCESS: 0, NOT_SUPPORTED: -1, NOT_REQUIRED: -2 } as const;

/** struct kvm_smccc_filter's actions (uapi `kvm.h` enum kvm_smccc_filter_action). */
export const KVM_SMCCC_FILTER = { HANDLE: 0, DENY: 1, FWD_TO_USER: 2 } as const;
const NR_SMCCC_FILTER_ACTIONS = 3;

/** The Arm Architecture ranges the first filter reserves (SMC32, then SMC64). */
const RESERVED_RANGES: readonly [number, number][] = [
  [0x8000_0000, 0x8000_ffff],
  [0xc000_0000, 0xc000_ffff],
];

/** `kvm_run.exit_reason` values this module makes (uapi `kvm.h`). */
export const KVM_EXIT = { HYPERCALL: 3, SYSTEM_EVENT: 24 } as const;

/** `kvm_run.system_event.type` (KVM_SYSTEM_EVENT_*). */
export const KVM_SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, WAKEUP: 4, SUSPEND: 5 } as const;
/** data[0] of a SHUTDOWN from SYSTEM_OFF2 (KVM_SYSTEM_EVENT_SHUTDOWN_FLAG_PSCI_OFF2). */
export const KVM_SYSTEM_EVENT_SHUTDOWN_FLAG_PSCI_OFF2 = 1;
/** data[0] of a RESET from SYSTEM_RESET2 (KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2). */
export const KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2 = 1;
/** `kvm_run.hypercall.flags`: the call was an SMC (KVM_HYPERCALL_EXIT_SMC). */
export const KVM_HYPERCALL_EXIT_SMC = 1;

/** KVM_GET/SET_MP_STATE values arm64 knows (uapi `kvm.h`). */
export const KVM_MP_STATE = { RUNNABLE: 0, STOPPED: 5, SUSPENDED: 9 } as const;

/** KVM_CAP_ARM_SYSTEM_SUSPEND: the VM's capability for PSCI SYSTEM_SUSPEND's exit. */
export const KVM_CAP_ARM_SYSTEM_SUSPEND = 216;

/** MPIDR_HWID_BITMASK: Aff3 (39:32) and Aff2..Aff0 (23:0). */
const MPIDR_HWID_BITMASK = 0xff_00ff_ffffn;
/** MPIDR_EL1 bit 31, RES1, which KVM's reset value carries (`reset_mpidr`). */
const MPIDR_RES1 = 0x8000_0000;

const U64 = (1n << 64n) - 1n;
const u64 = (v: number | bigint) => BigInt.asUintN(64, BigInt(v));

/**
 * What the model needs of the VM: its vCPUs' existence and power (the
 * caller's ArmCpu), and KVM's reset of a vCPU.
 */
export interface PsciHost {
  /** vCPUs the VM has (vcpu_id 0..n-1). */
  readonly vcpus: number;
  /** KVM_CREATE_VCPU made vCPU `n`. */
  vcpuExists(n: number): boolean;
  /** KVM_GET_MP_STATE of vCPU `n`. */
  mpState(n: number): number;
  /** Sets vCPU `n`'s MP state. */
  setMpState(n: number, s: number): void;
  /** `kvm_reset_vcpu` of vCPU `n` (PSTATE, the vPMU's and timers' registers). */
  resetVcpu(n: number): void;
  /** Xen's `arch_vcpu_apply_guest_context` of a CPU_ON: PSTATE as PSR_GUEST64_INIT (DAIF set). */
  resetPstate(n: number): void;
  /** PSCI's CPU_SUSPEND: the caller waits as in WFI. */
  wfi(n: number): void;
  /** A vCPU has run (`kvm_vm_has_ran_once`). */
  ranOnce(): boolean;
  /** Trace text, when tracing. */
  emit(source: string, kind: string, text: string): void;
}

/** What one SMCCC call made: the result in x0, or an exit to the VMM. */
export type SmcccOutcome = "returned" | "exit";

/**
 * One VM's SMCCC and PSCI state as KVM keeps it: the PSCI version, the
 * SYSTEM_SUSPEND capability, the SMCCC filter, and per vCPU the registers
 * the calls use (x0-x3), the PC a CPU_ON left and the last exit. Every
 * field is public, so `scn explore`'s walk sees it.
 *
 * @example
 * ```ts
 * declare const host: PsciHost;
 * const p = new Psci(host);
 * p.setFilter(PSCI_FN.PSCI_0_2_FN_PSCI_VERSION, 1, KVM_SMCCC_FILTER.DENY, 0); // 0
 * p.call(0, PSCI_FN.PSCI_0_2_FN_PSCI_VERSION, [0n, 0n, 0n], "hvc", 0); // "returned", x0 -1
 * ```
 */
export class Psci {
  /** KVM_REG_ARM_PSCI_VERSION: the VM's PSCI version (`kvm->arch.psci_version`). */
  version: number = PSCI_LATEST;
  /** KVM_CAP_ARM_SYSTEM_SUSPEND was enabled (KVM_ARCH_FLAG_SYSTEM_SUSPEND_ENABLED). */
  systemSuspend: boolean = false;
  /**
   * The SMCCC filter's ranges as (first, last, action) triples, the
   * reserved Arm Architecture ranges among them; empty while no filter is
   * configured.
   */
  filter: number[] = [];
  /** Each vCPU's x0..x3 (64 bits), four per vCPU. */
  regs: bigint[];
  /** Each vCPU's PC as a CPU_ON reset left it, or -1 once it ran a statement since (the model has no PC for guest statements). */
  pc: bigint[];
  /** Each vCPU's `kvm_run.exit_reason` of its last exit from a call (0 before any). */
  exitReason: number[];
  /** `kvm_run.system_event.type`. */
  eventType: number[];
  /** `kvm_run.system_event.ndata`. */
  eventNdata: number[];
  /** `kvm_run.system_event.data[0]`. */
  eventData: number[];
  /** `kvm_run.hypercall.nr`. */
  hypercallNr: number[];
  /** `kvm_run.hypercall.flags`. */
  hypercallFlags: number[];
  /** Each vCPU was made KVM_MP_STATE_SUSPENDED and has not made its WAKEUP exit yet. */
  wakeArmed: boolean[];
  /**
   * Under Xen: the reason the domain shut itself down through PSCI
   * (`domain_shutdown`: SHUTDOWN_poweroff 0, reboot 1, suspend 2), -1 while
   * it has not.
   */
  xenShutdown = -1;

  readonly #host: PsciHost;

  /** The model of `host`'s vCPUs, all RUNNABLE with registers 0. */
  constructor(host: PsciHost) {
    this.#host = host;
    const n = host.vcpus;
    this.regs = new Array(n * 4).fill(0n);
    this.pc = new Array(n).fill(-1n);
    this.exitReason = new Array(n).fill(0);
    this.eventType = new Array(n).fill(0);
    this.eventNdata = new Array(n).fill(0);
    this.eventData = new Array(n).fill(0);
    this.hypercallNr = new Array(n).fill(0);
    this.hypercallFlags = new Array(n).fill(0);
    this.wakeArmed = new Array(n).fill(false);
  }

  /** `kvm_vcpu_suspend` found vCPU `cpu` runnable: KVM_EXIT_SYSTEM_EVENT of type WAKEUP, ndata 0. */
  wakeup(cpu: number): void {
    this.wakeArmed[cpu] = false;
    this.#systemEvent(cpu, KVM_SYSTEM_EVENT.WAKEUP, 0, 0);
  }

  /** vCPU `n`'s register x`i` (0-3). */
  reg(n: number, i: number): bigint {
    return this.regs[n * 4 + i];
  }

  /** MPIDR_EL1 of vCPU `n` as KVM resets it (`reset_mpidr`): RES1 bit 31 and its affinity. */
  static mpidr(n: number): number {
    return (MPIDR_RES1 | kvmMpidr(n)) >>> 0;
  }

  /**
   * KVM_SET_DEVICE_ATTR(KVM_ARM_VM_SMCCC_CTRL, KVM_ARM_VM_SMCCC_FILTER)
   * (`kvm_smccc_set_filter`): 0, or -EINVAL, -EBUSY, -EEXIST. `pad` stands for the struct's 15 pad bytes (0: all zero).
   */
  setFilter(base: number, nr: number, action: number, pad: number): number {
    if (pad !== 0) return -EINVAL;
    const last = base + nr - 1;
    // A range of no functions is -EINVAL wherever it starts (the newest
    // selftest's base 0 case), and so is one past 2^32 (u32 end < start).
    if (nr === 0 || last > 0xffff_ffff || action >= NR_SMCCC_FILTER_ACTIONS) return -EINVAL;
    if (this.#host.ranOnce()) return -EBUSY;
    if (this.filter.length === 0) {
      for (const [a, b] of RESERVED_RANGES) this.filter.push(a, b, KVM_SMCCC_FILTER.HANDLE);
    }
    for (let i = 0; i < this.filter.length; i += 3) {
      if (base <= this.filter[i + 1] && last >= this.filter[i]) return -EEXIST;
    }
    this.filter.push(base, last, action);
    return 0;
  }

  /** The filter's action for `fn` (`kvm_smccc_filter_get_action`): HANDLE where no range is. */
  filterAction(fn: number): number {
    for (let i = 0; i < this.filter.length; i += 3) {
      if (fn >= this.filter[i] && fn <= this.filter[i + 1]) return this.filter[i + 2];
    }
    return KVM_SMCCC_FILTER.HANDLE;
  }

  /**
   * The guest's HVC #`imm` (`conduit` "hvc") or SMC #`imm` with `fn` in
   * x0 and `args` in x1..x3, as KVM handles it. The registers are left as
   * the guest sees them afterwards ({@link Psci.reg}); an exit is recorded
   * in the vCPU's exit fields. Throws for what the model does not answer.
   */
  call(
    cpu: number,
    fn: number,
    args: readonly bigint[],
    conduit: "hvc" | "smc",
    imm: number,
  ): SmcccOutcome {
    const r = cpu * 4;
    this.regs[r] = u64(fn);
    for (let i = 1; i < 4; i++) this.regs[r + i] = u64(args[i - 1]);
    if (conduit === "smc" && imm !== 0) {
      // handle_smc: a non-zero immediate is reserved (DEN 0028 2.9).
      this.regs[r] = U64;
      return "returned";
    }
    let action = this.filterAction(fn);
    if (action === KVM_SMCCC_FILTER.HANDLE && !defaultAllowed(fn) && !firmwareBitmapCall(fn)) {
      action = KVM_SMCCC_FILTER.DENY;
    }
    if (action === KVM_SMCCC_FILTER.FWD_TO_USER) {
      this.exitReason[cpu] = KVM_EXIT.HYPERCALL;
      this.hypercallNr[cpu] = fn;
      this.hypercallFlags[cpu] = conduit === "smc" ? KVM_HYPERCALL_EXIT_SMC : 0;
      this.#host.emit(
        `vcpu${cpu}`,
        "kvm.exit",
        `KVM_EXIT_HYPERCALL nr 0x${fn.toString(16)} (the SMCCC filter forwards it)`,
      );
      return "exit";
    }
    if (action === KVM_SMCCC_FILTER.DENY) return this.#ret(cpu, SMCCC_RET.NOT_SUPPORTED);
    switch (fn) {
      case ARM_SMCCC.VERSION_FUNC_ID:
        return this.#ret(cpu, ARM_SMCCC.VERSION_1_1);
      case ARM_SMCCC.ARCH_FEATURES_FUNC_ID: {
        const feature = Number(args[0] & 0xffff_ffffn);
        if (
          feature === ARM_SMCCC.ARCH_WORKAROUND_1 || feature === ARM_SMCCC.ARCH_WORKAROUND_2 ||
          feature === ARM_SMCCC.ARCH_WORKAROUND_3
        ) {
          throw new PsciNotModelled(
            "ARCH_FEATURES of an ARM_SMCCC_ARCH_WORKAROUND_* follows the host CPU's Spectre state, which the model has no host for",
          );
        }
        return this.#ret(
          cpu,
          feature === ARM_SMCCC.HV_PV_TIME_FEATURES ? SMCCC_RET.SUCCESS : SMCCC_RET.NOT_SUPPORTED,
        );
      }
    }
    if (firmwareBitmapCall(fn)) {
      throw new PsciNotModelled(
        `function 0x${
          fn.toString(16)
        } is a TRNG, PV-time or vendor hypervisor (UID, features, PTP) call, which KVM answers and the model does not`,
      );
    }
    return this.#psci(cpu, fn);
  }

  /**
   * The same call as Xen on Arm answers it (`vsmccc_handle_call`): an HVC
   * or SMC64 with a non-zero immediate is not an SMCCC call (Xen injects an
   * undefined-instruction exception: thrown, as the model's vCPU does not
   * take it); SMCCC_VERSION is 1.2 (`handle_arch`); PSCI is 1.1 whatever
   * the VM (`do_vpsci_0_2_call`): CPU_ON finds the target by
   * `vaffinity_to_vcpuid` (Aff0 and Aff1 of the MPIDR_HWID bits, no check of
   * the rest), INVALID_ADDRESS for an odd entry point (Thumb, refused for a
   * 64-bit domain), ALREADY_ON unless the target is down; AFFINITY_INFO is
   * OFF when no vCPU matches (KVM: INVALID_PARAMS); SYSTEM_OFF and
   * SYSTEM_RESET shut the domain down (SHUTDOWN_poweroff / reboot) with
   * INTERNAL_FAILURE left in x0, no exit to a VMM; SYSTEM_SUSPEND is DENIED
   * while another vCPU is up, else suspends the domain and returns 0;
   * PSCI_FEATURES offers SYSTEM_SUSPEND to a domU and neither SYSTEM_RESET2
   * nor SYSTEM_OFF2; a call no service handles is -1. Not modelled (thrown):
   * PSCI 0.1 and the other pre-SMCCC IDs, the services' call count, UID and
   * revision queries, and CPU_ON's `vgic_clear_pending_irqs` of the target
   * (Xen's vGIC forgets the interrupts queued for it, which the model's
   * GICv3 keeps). Every vCPU starts up, as after the guest's boot-time
   * CPU_ONs (xl brings up vCPU 0 only).
   */
  callXen(
    cpu: number,
    fn: number,
    args: readonly bigint[],
    conduit: "hvc" | "smc",
    imm: number,
  ): void {
    const r = cpu * 4;
    if (imm !== 0) {
      throw new PsciNotModelled(
        `${conduit.toUpperCase()} #0x${
          imm.toString(16)
        }: not an SMCCC call to Xen (an HVC takes the hypercall ABI only with 0xEA1, \`xen hvc\`); Xen injects an undefined-instruction exception, which the model's vCPU does not take`,
      );
    }
    const is64 = (fn & 0x4000_0000) !== 0;
    this.regs[r] = u64(fn);
    for (let i = 1; i < 4; i++) {
      this.regs[r + i] = is64 ? u64(args[i - 1]) : u64(args[i - 1]) & 0xffff_ffffn;
    }
    if (fn <= 0x0100_ffff) {
      throw new PsciNotModelled(
        `function 0x${
          fn.toString(16)
        } is in SMCCC's range for pre-SMCCC APIs (Xen's PSCI 0.1), which the model does not answer`,
      );
    }
    const owner = (fn >>> 24) & 0x3f;
    const num = fn & 0xffff;
    if (owner === 0) {
      if (fn === ARM_SMCCC.VERSION_FUNC_ID) return this.#set(cpu, XEN_SMCCC_VERSION_1_2);
      if (fn === ARM_SMCCC.ARCH_FEATURES_FUNC_ID) {
        const feature = Number(this.regs[r + 1] & 0xffff_ffffn);
        if (
          feature === ARM_SMCCC.ARCH_WORKAROUND_1 || feature === ARM_SMCCC.ARCH_WORKAROUND_2 ||
          feature === ARM_SMCCC.ARCH_WORKAROUND_3
        ) {
          throw new PsciNotModelled(
            "ARCH_FEATURES of an ARM_SMCCC_ARCH_WORKAROUND_* follows the host CPU's mitigations, which the model has no host for",
          );
        }
        return this.#set(cpu, SMCCC_RET.NOT_SUPPORTED);
      }
    } else if (owner === 4 && num <= 0x1f) {
      return this.#xenPsci(cpu, fn);
    } else if ((owner === 4 || owner === 6) && num >= 0xff00) {
      throw new PsciNotModelled(
        `function 0x${
          fn.toString(16)
        }: the service's call count, UID and revision queries are not modelled`,
      );
    }
    // handle_sip with no platform or SCMI handler, no TEE mediator: unhandled.
    this.#set(cpu, SMCCC_RET.NOT_SUPPORTED);
  }

  /** `do_vpsci_0_2_call` (PSCI 1.1). */
  #xenPsci(cpu: number, fn: number): void {
    const r = cpu * 4;
    const x1 = this.regs[r + 1], x2 = this.regs[r + 2], x3 = this.regs[r + 3];
    switch (fn) {
      case F.PSCI_0_2_FN_PSCI_VERSION:
        return this.#set(cpu, psciVersion(1, 1));
      case F.PSCI_0_2_FN_CPU_OFF:
        this.#host.setMpState(cpu, KVM_MP_STATE.STOPPED);
        return this.#set(cpu, PSCI_RET.SUCCESS);
      case F.PSCI_0_2_FN_MIGRATE_INFO_TYPE:
        return this.#set(cpu, PSCI_0_2_TOS_MP);
      case F.PSCI_0_2_FN_SYSTEM_OFF:
      case F.PSCI_0_2_FN_SYSTEM_RESET:
        this.#xenShutdownDomain(fn === F.PSCI_0_2_FN_SYSTEM_OFF ? 0 : 1);
        return this.#set(cpu, PSCI_RET.INTERNAL_FAILURE);
      case F.PSCI_0_2_FN_CPU_ON:
      case F.PSCI_0_2_FN64_CPU_ON:
        return this.#set(cpu, this.#xenCpuOn(cpu, x1, x2, x3));
      case F.PSCI_0_2_FN_CPU_SUSPEND:
      case F.PSCI_0_2_FN64_CPU_SUSPEND:
        // vcpu_block_unless_event_pending: a standby, as a WFI.
        this.#host.wfi(cpu);
        return this.#set(cpu, PSCI_RET.SUCCESS);
      case F.PSCI_0_2_FN_AFFINITY_INFO:
      case F.PSCI_0_2_FN64_AFFINITY_INFO: {
        const level = x2 & 0xffff_ffffn;
        if (level > 3n) return this.#set(cpu, PSCI_RET.INVALID_PARAMS);
        const mask = MPIDR_HWID_BITMASK & ~((1n << (level * 8n)) - 1n);
        const want = x1 & mask;
        for (let i = 0; i < this.#host.vcpus; i++) {
          if ((xenVaffinity(i) & mask) === want && this.#host.mpState(i) !== KVM_MP_STATE.STOPPED) {
            return this.#set(cpu, PSCI_AFFINITY_LEVEL.ON);
          }
        }
        return this.#set(cpu, PSCI_AFFINITY_LEVEL.OFF);
      }
      case F.PSCI_1_0_FN_PSCI_FEATURES:
        return this.#set(cpu, xenPsciFeatures(Number(x1 & 0xffff_ffffn)));
      case F.PSCI_1_0_FN_SYSTEM_SUSPEND:
      case F.PSCI_1_0_FN64_SYSTEM_SUSPEND: {
        if ((x1 & 1n) !== 0n) return this.#set(cpu, PSCI_RET.INVALID_ADDRESS);
        for (let i = 0; i < this.#host.vcpus; i++) {
          if (i !== cpu && this.#host.mpState(i) !== KVM_MP_STATE.STOPPED) {
            return this.#set(cpu, PSCI_RET.DENIED);
          }
        }
        this.#xenShutdownDomain(2);
        return this.#set(cpu, PSCI_RET.SUCCESS);
      }
    }
    this.#set(cpu, SMCCC_RET.NOT_SUPPORTED);
  }

  /** `do_common_cpu_on`. */
  #xenCpuOn(cpu: number, target: bigint, entry: bigint, context: bigint): number {
    const aff = target & MPIDR_HWID_BITMASK;
    const id = Number(aff & 0xfn) | (Number((aff >> 8n) & 0xffn) << 4);
    if (id >= this.#host.vcpus) return PSCI_RET.INVALID_PARAMS;
    if ((entry & 1n) !== 0n) return PSCI_RET.INVALID_ADDRESS;
    if (this.#host.mpState(id) !== KVM_MP_STATE.STOPPED) return PSCI_RET.ALREADY_ON;
    this.#host.resetPstate(id);
    this.#start(id, entry, context);
    this.#host.emit(
      `vcpu${id}`,
      "psci",
      `CPU_ON from vcpu${cpu} (Xen): PC 0x${entry.toString(16)}, x0 0x${
        context.toString(16)
      }, woken`,
    );
    return PSCI_RET.SUCCESS;
  }

  /** `domain_shutdown(d, reason)`: every vCPU paused. */
  #xenShutdownDomain(reason: number): void {
    this.xenShutdown = reason;
    this.#stopAll();
    this.#host.emit(
      "xen",
      "shutdown",
      `domain_shutdown: ${["poweroff", "reboot", "suspend"][reason]}`,
    );
  }

  /** `set_user_reg(regs, 0, val)`: x0 only. */
  #set(cpu: number, val: number): void {
    this.regs[cpu * 4] = u64(val);
  }

  /** `kvm_psci_call` at the VM's version (0.2 or 1.x; the model's vCPUs have PSCI_0_2). */
  #psci(cpu: number, fn: number): SmcccOutcome {
    const major = this.version >>> 16, minor = this.version & 0xffff;
    if (major === 1) {
      const out = this.#psci1x(cpu, fn, minor);
      if (out !== undefined) return out;
    }
    return this.#psci02(cpu, fn);
  }

  /** `kvm_psci_1_x_call`: undefined where it falls through to 0.2's. */
  #psci1x(cpu: number, fn: number, minor: number): SmcccOutcome | undefined {
    const r = cpu * 4;
    switch (fn) {
      case F.PSCI_0_2_FN_PSCI_VERSION:
        return this.#ret(cpu, psciVersion(1, minor));
      case F.PSCI_1_0_FN_PSCI_FEATURES:
        return this.#ret(cpu, this.#features(Number(this.regs[r + 1] & 0xffff_ffffn), minor));
      case F.PSCI_1_0_FN_SYSTEM_SUSPEND:
      case F.PSCI_1_0_FN64_SYSTEM_SUSPEND:
        if (fn === F.PSCI_1_0_FN_SYSTEM_SUSPEND) this.#narrow(cpu);
        if (!this.systemSuspend) return this.#ret(cpu, PSCI_RET.NOT_SUPPORTED);
        // kvm_psci_system_suspend: the registers stay for the VMM to read.
        this.#systemEvent(cpu, KVM_SYSTEM_EVENT.SUSPEND, 0, 0);
        return "exit";
      case F.PSCI_1_1_FN_SYSTEM_RESET2:
      case F.PSCI_1_1_FN64_SYSTEM_RESET2: {
        if (fn === F.PSCI_1_1_FN_SYSTEM_RESET2) this.#narrow(cpu);
        if (minor < 1) return this.#ret(cpu, PSCI_RET.NOT_SUPPORTED);
        const type = Number(this.regs[r + 1] & 0xffff_ffffn);
        if (type === 0 || type >= RESET_TYPE_VENDOR_START) {
          this.#stopAll();
          this.#systemEvent(
            cpu,
            KVM_SYSTEM_EVENT.RESET,
            1,
            KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2,
          );
          this.regs[r] = u64(PSCI_RET.INTERNAL_FAILURE);
          return "exit";
        }
        return this.#ret(cpu, PSCI_RET.INVALID_PARAMS);
      }
      case F.PSCI_1_3_FN_SYSTEM_OFF2:
      case F.PSCI_1_3_FN64_SYSTEM_OFF2: {
        if (fn === F.PSCI_1_3_FN_SYSTEM_OFF2) this.#narrow(cpu);
        if (minor < 3) return this.#ret(cpu, PSCI_RET.NOT_SUPPORTED);
        const type = Number(this.regs[r + 1] & 0xffff_ffffn);
        if ((type !== 0 && type !== PSCI_1_3_OFF_TYPE_HIBERNATE_OFF) || this.regs[r + 2] !== 0n) {
          return this.#ret(cpu, PSCI_RET.INVALID_PARAMS);
        }
        this.#stopAll();
        this.#systemEvent(
          cpu,
          KVM_SYSTEM_EVENT.SHUTDOWN,
          1,
          KVM_SYSTEM_EVENT_SHUTDOWN_FLAG_PSCI_OFF2,
        );
        return this.#ret(cpu, PSCI_RET.INTERNAL_FAILURE, "exit");
      }
    }
    return undefined;
  }

  /**
   * CPU_ON's target as it starts, after KVM's or Xen's reset of it: the PC
   * at the entry point, x0 the context ID and x1-x3 zero (PSCI, CPU_ON),
   * and runnable.
   */
  #start(target: number, entry: bigint, context: bigint): void {
    const t = target * 4;
    this.regs.fill(0n, t, t + 4);
    this.regs[t] = context;
    this.pc[target] = entry;
    this.#host.setMpState(target, KVM_MP_STATE.RUNNABLE);
  }

  /** PSCI_FEATURES' answer for function `arg` at PSCI 1.`minor`. */
  #features(arg: number, minor: number): number {
    if (PSCI_PRESENT.has(arg)) return 0;
    switch (arg) {
      case F.PSCI_1_0_FN_SYSTEM_SUSPEND:
      case F.PSCI_1_0_FN64_SYSTEM_SUSPEND:
        return this.systemSuspend ? 0 : PSCI_RET.NOT_SUPPORTED;
      case F.PSCI_1_1_FN_SYSTEM_RESET2:
      case F.PSCI_1_1_FN64_SYSTEM_RESET2:
        return minor >= 1 ? 0 : PSCI_RET.NOT_SUPPORTED;
      case F.PSCI_1_3_FN_SYSTEM_OFF2:
      case F.PSCI_1_3_FN64_SYSTEM_OFF2:
        return minor >= 3 ? PSCI_1_3_OFF_TYPE_HIBERNATE_OFF : PSCI_RET.NOT_SUPPORTED;
    }
    return PSCI_RET.NOT_SUPPORTED;
  }

  /** `kvm_psci_0_2_call`. */
  #psci02(cpu: number, fn: number): SmcccOutcome {
    switch (fn) {
      case F.PSCI_0_2_FN_PSCI_VERSION:
        return this.#ret(cpu, psciVersion(0, 2));
      case F.PSCI_0_2_FN_CPU_SUSPEND:
      case F.PSCI_0_2_FN64_CPU_SUSPEND:
        this.#host.wfi(cpu);
        return this.#ret(cpu, PSCI_RET.SUCCESS);
      case F.PSCI_0_2_FN_CPU_OFF:
        this.#host.setMpState(cpu, KVM_MP_STATE.STOPPED);
        return this.#ret(cpu, PSCI_RET.SUCCESS);
      case F.PSCI_0_2_FN_CPU_ON:
      case F.PSCI_0_2_FN64_CPU_ON:
        if (fn === F.PSCI_0_2_FN_CPU_ON) this.#narrow(cpu);
        return this.#ret(cpu, this.#cpuOn(cpu));
      case F.PSCI_0_2_FN_AFFINITY_INFO:
      case F.PSCI_0_2_FN64_AFFINITY_INFO:
        if (fn === F.PSCI_0_2_FN_AFFINITY_INFO) this.#narrow(cpu);
        return this.#ret(cpu, this.#affinityInfo(cpu));
      case F.PSCI_0_2_FN_MIGRATE_INFO_TYPE:
        return this.#ret(cpu, PSCI_0_2_TOS_MP);
      case F.PSCI_0_2_FN_SYSTEM_OFF:
      case F.PSCI_0_2_FN_SYSTEM_RESET:
        this.#stopAll();
        this.#systemEvent(
          cpu,
          fn === F.PSCI_0_2_FN_SYSTEM_OFF ? KVM_SYSTEM_EVENT.SHUTDOWN : KVM_SYSTEM_EVENT.RESET,
          1,
          0,
        );
        return this.#ret(cpu, PSCI_RET.INTERNAL_FAILURE, "exit");
    }
    return this.#ret(cpu, PSCI_RET.NOT_SUPPORTED);
  }

  /** `kvm_psci_vcpu_on`. */
  #cpuOn(cpu: number): number {
    const r = cpu * 4;
    const id = this.regs[r + 1];
    if ((id & ~MPIDR_HWID_BITMASK) !== 0n) return PSCI_RET.INVALID_PARAMS;
    const target = this.#vcpuOfMpidr(id);
    if (target < 0) return PSCI_RET.INVALID_PARAMS;
    if (this.#host.mpState(target) !== KVM_MP_STATE.STOPPED) return PSCI_RET.ALREADY_ON;
    const entry = this.regs[r + 2], context = this.regs[r + 3];
    // KVM_REQ_VCPU_RESET -> kvm_reset_vcpu with reset_state's PC and x0.
    this.#host.resetVcpu(target);
    this.#start(target, entry, context);
    this.#host.emit(
      `vcpu${target}`,
      "psci",
      `CPU_ON from vcpu${cpu}: reset, PC 0x${entry.toString(16)}, x0 0x${
        context.toString(16)
      }, RUNNABLE`,
    );
    return PSCI_RET.SUCCESS;
  }

  /** `kvm_mpidr_to_vcpu`: the created vCPU with that affinity, or -1. */
  #vcpuOfMpidr(id: bigint): number {
    for (let i = 0; i < this.#host.vcpus; i++) {
      if (this.#host.vcpuExists(i) && BigInt(kvmMpidr(i)) === id) return i;
    }
    return -1;
  }

  /** `kvm_psci_vcpu_affinity_info`. */
  #affinityInfo(cpu: number): number {
    const r = cpu * 4;
    const target = this.regs[r + 1], level = this.regs[r + 2];
    if ((target & ~MPIDR_HWID_BITMASK) !== 0n) return PSCI_RET.INVALID_PARAMS;
    if (level > 3n) return PSCI_RET.INVALID_PARAMS;
    const mask = MPIDR_HWID_BITMASK & ~((1n << (level * 8n)) - 1n);
    const want = target & mask;
    let matching = 0;
    for (let i = 0; i < this.#host.vcpus; i++) {
      if (!this.#host.vcpuExists(i) || (BigInt(kvmMpidr(i)) & mask) !== want) continue;
      matching++;
      if (this.#host.mpState(i) !== KVM_MP_STATE.STOPPED) return PSCI_AFFINITY_LEVEL.ON;
    }
    return matching === 0 ? PSCI_RET.INVALID_PARAMS : PSCI_AFFINITY_LEVEL.OFF;
  }

  /** `kvm_psci_narrow_to_32bit`: x1..x3 keep their low 32 bits. */
  #narrow(cpu: number): void {
    for (let i = 1; i < 4; i++) this.regs[cpu * 4 + i] &= 0xffff_ffffn;
  }

  /** `kvm_prepare_system_event`'s first half: every vCPU STOPPED. */
  #stopAll(): void {
    for (let i = 0; i < this.#host.vcpus; i++) {
      if (this.#host.vcpuExists(i)) this.#host.setMpState(i, KVM_MP_STATE.STOPPED);
    }
  }

  #systemEvent(cpu: number, type: number, ndata: number, data: number): void {
    this.exitReason[cpu] = KVM_EXIT.SYSTEM_EVENT;
    this.eventType[cpu] = type;
    this.eventNdata[cpu] = ndata;
    this.eventData[cpu] = data;
    this.#host.emit(
      `vcpu${cpu}`,
      "kvm.exit",
      `KVM_EXIT_SYSTEM_EVENT type ${type} ndata ${ndata} data[0] ${data}`,
    );
  }

  /** `smccc_set_retval(val, 0, 0, 0)`. */
  #ret(cpu: number, val: number, outcome: SmcccOutcome = "returned"): SmcccOutcome {
    const r = cpu * 4;
    this.regs[r] = u64(val);
    this.regs[r + 1] = this.regs[r + 2] = this.regs[r + 3] = 0n;
    return outcome;
  }
}

/** Xen's SMCCC_VERSION answer (ARM_SMCCC_VERSION_1_2, vsmc.c `handle_arch`). */
export const XEN_SMCCC_VERSION_1_2 = 0x1_0002;

/** Xen's `vcpuid_to_vaffinity`: Aff0 the low 4 bits of the vCPU ID, Aff1 the next 8. */
function xenVaffinity(n: number): bigint {
  return BigInt((n & 0xf) | (((n >> 4) & 0xff) << 8));
}

/**
 * The functions PSCI_FEATURES reports present (0) at any PSCI 1.x version and
 * in any configuration, in KVM's `kvm_psci_1_x_call` and Xen's
 * `do_psci_1_0_features` alike: PSCI 0.2's calls, PSCI_FEATURES itself and
 * SMCCC_VERSION. What else each reports differs (SYSTEM_SUSPEND, RESET2, OFF2).
 */
const PSCI_PRESENT: ReadonlySet<number> = new Set([
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
]);

/** Xen's `do_psci_1_0_features` for a domU. */
function xenPsciFeatures(fn: number): number {
  return PSCI_PRESENT.has(fn) || fn === F.PSCI_1_0_FN_SYSTEM_SUSPEND ||
      fn === F.PSCI_1_0_FN64_SYSTEM_SUSPEND
    ? 0
    : PSCI_RET.NOT_SUPPORTED;
}

/** A call the model does not answer: the command layer turns it into an input error. */
export class PsciNotModelled extends Error {}

/** `kvm_smccc_default_allowed`: SMCCC_VERSION, ARCH_FEATURES, PSCI's range and KVM's PSCI 0.1 IDs. */
function defaultAllowed(fn: number): boolean {
  if (fn === ARM_SMCCC.VERSION_FUNC_ID || fn === ARM_SMCCC.ARCH_FEATURES_FUNC_ID) return true;
  // ARM_SMCCC_OWNER_NUM (29:24) Standard (4), ARM_SMCCC_FUNC_NUM (15:0) at most 0x1f.
  if (((fn >>> 24) & 0x3f) === 4 && (fn & 0xffff) <= 0x1f) return true;
  // KVM_PSCI_FN(0..3): KVM's PSCI 0.1 IDs, 0x95c1ba5e onwards.
  return fn >= 0x95c1_ba5e && fn <= 0x95c1_ba61;
}

/**
 * `kvm_smccc_test_fw_bmap` with every firmware bitmap feature on (KVM's
 * default): TRNG (Standard service 0x50-0x53), PV time (Standard
 * Hypervisor 0x20-0x21, SMC64), and the vendor hypervisor service's
 * features, UID and PTP calls.
 */
function firmwareBitmapCall(fn: number): boolean {
  switch (fn) {
    case 0x8400_0050: // ARM_SMCCC_TRNG_VERSION
    case 0x8400_0051: // ARM_SMCCC_TRNG_FEATURES
    case 0x8400_0052: // ARM_SMCCC_TRNG_GET_UUID
    case 0x8400_0053: // ARM_SMCCC_TRNG_RND32
    case 0xc400_0053: // ARM_SMCCC_TRNG_RND64
    case 0xc500_0020: // ARM_SMCCC_HV_PV_TIME_FEATURES
    case 0xc500_0021: // ARM_SMCCC_HV_PV_TIME_ST
    case 0x8600_0000: // ARM_SMCCC_VENDOR_HYP_KVM_FEATURES_FUNC_ID
    case 0x8600_ff01: // ARM_SMCCC_VENDOR_HYP_CALL_UID_FUNC_ID
    case 0x8600_0001: // ARM_SMCCC_VENDOR_HYP_KVM_PTP_FUNC_ID
      return true;
  }
  return false;
}

/**
 * The constants scenarios name (`PSCI_0_2_FN64_CPU_ON`, `PSCI_RET_ALREADY_ON`,
 * `KVM_SMCCC_FILTER_DENY`, `KVM_EXIT_SYSTEM_EVENT`, ...), from the tables above.
 *
 * @example
 * ```ts
 * PSCI_CONSTANTS.PSCI_RET_ALREADY_ON; // -4
 * ```
 */
export const PSCI_CONSTANTS: Readonly<Record<string, number>> = {
  ...PSCI_FN,
  ...Object.fromEntries(Object.entries(PSCI_RET).map(([k, v]) => [`PSCI_RET_${k}`, v])),
  ...Object.fromEntries(
    Object.entries(PSCI_AFFINITY_LEVEL).map(([k, v]) => [`PSCI_0_2_AFFINITY_LEVEL_${k}`, v]),
  ),
  PSCI_0_2_TOS_MP,
  PSCI_1_3_OFF_TYPE_HIBERNATE_OFF,
  ...Object.fromEntries(
    ["0_2", "1_0", "1_1", "1_2", "1_3"].map((
      v,
      i,
    ) => [`KVM_ARM_PSCI_${v}`, KVM_ARM_PSCI_VERSIONS[i]]),
  ),
  ARM_SMCCC_VERSION_FUNC_ID: ARM_SMCCC.VERSION_FUNC_ID,
  ARM_SMCCC_ARCH_FEATURES_FUNC_ID: ARM_SMCCC.ARCH_FEATURES_FUNC_ID,
  ARM_SMCCC_ARCH_WORKAROUND_1: ARM_SMCCC.ARCH_WORKAROUND_1,
  ARM_SMCCC_ARCH_WORKAROUND_2: ARM_SMCCC.ARCH_WORKAROUND_2,
  ARM_SMCCC_ARCH_WORKAROUND_3: ARM_SMCCC.ARCH_WORKAROUND_3,
  ARM_SMCCC_VERSION_1_1: ARM_SMCCC.VERSION_1_1,
  ARM_SMCCC_HV_PV_TIME_FEATURES: ARM_SMCCC.HV_PV_TIME_FEATURES,
  ...Object.fromEntries(Object.entries(SMCCC_RET).map(([k, v]) => [`SMCCC_RET_${k}`, v])),
  ...Object.fromEntries(
    Object.entries(KVM_SMCCC_FILTER).map(([k, v]) => [`KVM_SMCCC_FILTER_${k}`, v]),
  ),
  ...Object.fromEntries(Object.entries(KVM_EXIT).map(([k, v]) => [`KVM_EXIT_${k}`, v])),
  ...Object.fromEntries(
    Object.entries(KVM_SYSTEM_EVENT).map(([k, v]) => [`KVM_SYSTEM_EVENT_${k}`, v]),
  ),
  KVM_SYSTEM_EVENT_SHUTDOWN_FLAG_PSCI_OFF2,
  KVM_SYSTEM_EVENT_RESET_FLAG_PSCI_RESET2,
  KVM_HYPERCALL_EXIT_SMC,
  ...Object.fromEntries(Object.entries(KVM_MP_STATE).map(([k, v]) => [`KVM_MP_STATE_${k}`, v])),
  KVM_CAP_ARM_SYSTEM_SUSPEND,
};
