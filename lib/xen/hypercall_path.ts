/**
 * Who answers a guest's hypercall, and how its registers change.
 *
 * - `hypervisor xen`: Xen itself, always; nothing exits to a VMM. A call
 *   from CPL > 0 gets -EPERM (`hvm_hypercall`).
 * - `hypervisor kvm-xen`: KVM's `kvm_xen_hypercall`. A call from CPL > 0
 *   always exits to the VMM (KVM_EXIT_XEN, KVM_EXIT_XEN_HCALL); from CPL 0
 *   KVM answers a few calls in the kernel ({@link KvmXen.kernelHypercall})
 *   and exits for the rest. Without KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL the
 *   VMCALL is KVM's own hypercall instead (-KVM_ENOSYS, -KVM_EPERM).
 *
 * Two entry points:
 *
 * - {@link namedHypercall}, for the named commands (`evtchn send`, `xen
 *   set_timer_op`, ...). After an exit the modelled VMM, QEMU's Xen
 *   emulation (`target/i386/kvm/xen-emu.c`, `hw/i386/kvm/xen_evtchn.c`),
 *   answers at once: -EPERM from CPL > 0 (`do_kvm_xen_handle_exit`), else
 *   the model's handling of the call. The command loads RAX with the number
 *   and the argument registers it knows (the sub-operation, a vCPU id, a
 *   set_timer_op deadline); arguments that are guest pointers are not
 *   modelled and keep their registers' values.
 * - {@link rawHypercall}, for `xen hypercall`: the scenario loads the
 *   registers, and after an exit the scenario's `vmm:` answers with `kvm
 *   xen_hcall_result` (KVM writes that result to RAX when the vCPU runs
 *   again).
 *
 * Sources: Xen `xen/arch/x86/hvm/hypercall.c` (`hvm_hypercall`); Linux
 * `arch/x86/kvm/xen.c` (`kvm_xen_hypercall`,
 * `kvm_xen_hypercall_complete_userspace`), `arch/x86/kvm/x86.c`
 * (`kvm_emulate_hypercall`: `if (!op_64_bit) ret = (u32)ret`); QEMU
 * `target/i386/kvm/xen-emu.c` (`kvm_xen_handle_exit`,
 * `do_kvm_xen_handle_exit`: CPL > 0 → -EPERM; unimplemented → -ENOSYS).
 *
 * @module
 */
import type { XenDomain } from "./domain.ts";
import type { KvmXen } from "./kvm_xen.ts";
import {
  ARG_REGS_32,
  ARG_REGS_64,
  type Gpr,
  KVM_HC_ERRNO,
  KVM_OWN_HYPERCALLS,
  toU64,
} from "./hypercall.ts";
import { XEN_ERRNO } from "./errno.ts";
import { CommandInputError } from "../core/diagnostic.ts";

/**
 * The Xen domain and KVM's side of it.
 *
 * @example
 * ```ts
 * import { XenDomain } from "./domain.ts";
 * import { KvmXen } from "./kvm_xen.ts";
 * declare const domain: XenDomain;
 * const m: HypercallMachine = { domain, kvm: new KvmXen(domain) };
 * ```
 */
export interface HypercallMachine {
  domain: XenDomain;
  kvm: KvmXen;
}

/**
 * A named hypercall command's call.
 *
 * @example
 * ```ts
 * const c: NamedCall = { name: "evtchn send", input: 32, args: [4n], cpl: 0 };
 * ```
 */
export interface NamedCall {
  /** For the trace. */
  name: string;
  /** `__HYPERVISOR_*`: what goes in RAX. */
  input: number;
  /**
   * Argument values by ABI position (the sub-operation first); undefined,
   * or positions past the end, leave the register as it is.
   */
  args: readonly (bigint | undefined)[];
  /** The caller's privilege level. */
  cpl: number;
}

/** Loads RAX and the known arguments; returns whether the caller is in long mode. */
function load(d: XenDomain, caller: number, input: bigint, args: readonly (bigint | undefined)[]) {
  const longmode = d.cpuMode[caller] === 64;
  const regs = d.regs[caller];
  regs.set("rax", input);
  const names = longmode ? ARG_REGS_64 : ARG_REGS_32;
  args.forEach((v, i) => {
    if (v !== undefined) regs.set(names[i], v);
  });
  return longmode;
}

/**
 * `kvm_emulate_hypercall` when Xen hypercalls are not intercepted: -KVM_EPERM
 * from CPL > 0, else -KVM_ENOSYS; a 32-bit caller's RAX gets the value as
 * 32 bits.
 */
function kvmOwnHypercall(d: XenDomain, caller: number, longmode: boolean, cpl: number): number {
  const rc = cpl > 0 ? -KVM_HC_ERRNO.KVM_EPERM : -KVM_HC_ERRNO.KVM_ENOSYS;
  d.regs[caller].set("rax", longmode ? toU64(rc) : toU64(rc) & 0xffff_ffffn);
  return rc;
}

/**
 * A named hypercall from vCPU `caller`. `handler` is the call's effect as
 * Xen (xen) or the modelled VMM (kvm-xen, after the exit) performs it;
 * `kernel`, for kvm-xen, is KVM's in-kernel handling, returning undefined
 * when KVM leaves the call to the VMM. Returns the result, which also lands
 * in RAX (sign-extended).
 *
 * @example
 * ```ts
 * declare const m: HypercallMachine;
 * namedHypercall(m, 0, { name: "evtchn send", input: 32, args: [4n], cpl: 3 }, () => 0);
 * // xen: -EPERM; kvm-xen: a KVM_EXIT_XEN with cpl 3, then QEMU's -EPERM
 * ```
 */
export function namedHypercall(
  m: HypercallMachine,
  caller: number,
  call: NamedCall,
  handler: () => number,
  kernel?: () => number | undefined,
): number {
  const d = m.domain;
  if (d.config.arch === "arm") {
    return armHypercall(
      d,
      caller,
      call.name,
      call.input,
      call.args,
      () => call.cpl > 0 ? -XEN_ERRNO.EPERM : handler(),
    );
  }
  if (d.flavour === "kvm-xen") m.kvm.reenter(caller);
  const longmode = load(d, caller, BigInt(call.input), call.args);
  return d.hypercall(caller, call.name, () => {
    if (d.flavour === "xen") {
      const rc = call.cpl > 0 ? -XEN_ERRNO.EPERM : handler();
      d.regs[caller].set("rax", toU64(rc));
      return rc;
    }
    const kvm = m.kvm;
    if (!kvm.interceptsHypercalls()) return kvmOwnHypercall(d, caller, longmode, call.cpl);
    if (call.cpl === 0 && kernel) {
      const r = kernel();
      if (r !== undefined) {
        d.regs[caller].set("rax", toU64(r));
        return r;
      }
    }
    const regs = d.regs[caller];
    const e = kvm.exitToVmm(caller, longmode, call.cpl, regs.input(longmode), regs.args(longmode));
    const rc = call.cpl > 0 ? -XEN_ERRNO.EPERM : handler();
    // The VMM writes u.hcall.result and runs the vCPU again.
    e.result = toU64(rc);
    regs.set("rax", e.result);
    return rc;
  });
}

/**
 * An arm64 guest's `HVC #0xEA1` from vCPU `caller` (Xen arm traps.c
 * `do_trap_hvc64` -> `do_trap_hypercall`): `nr` in x16 and `args` in x0..x4
 * (undefined: the register as it is), `fn` as the call's effect, its
 * result in x0, and a debug build's clobbering of the registers the call
 * used ({@link ArmGuestRegs.call}). Returns the result.
 *
 * @example
 * ```ts
 * import type { XenDomain } from "./domain.ts";
 * declare const d: XenDomain;
 * armHypercall(d, 0, "xen set_timer_op", 15, [], () => -38); // not in Arm's table
 * ```
 */
export function armHypercall(
  d: XenDomain,
  caller: number,
  name: string,
  nr: number | bigint,
  args: readonly (bigint | undefined)[],
  fn: () => number,
): number {
  return d.hypercall(
    caller,
    name,
    () => d.armRegs[caller].call(nr, args, fn, d.config.build ?? "release"),
  );
}

/**
 * `xen hypercall`: vCPU `caller` executes the hypercall stub for `input`
 * after loading `loads` into its registers (kvm-xen only). KVM answers in
 * the kernel (the result lands in RAX) or exits to the VMM and the call
 * waits for `kvm xen_hcall_result`. Returns RAX afterwards, read signed:
 * the result, or still the hypercall number while the call waits.
 *
 * @example
 * ```ts
 * declare const m: HypercallMachine;
 * rawHypercall(m, 0, 17n, [["rdi", 1n]], 0); // 17: exited, waits for the VMM
 * m.kvm.completeHypercall(0, 42n);           // RAX = 42
 * ```
 */
export function rawHypercall(
  m: HypercallMachine,
  caller: number,
  input: bigint,
  loads: readonly (readonly [Gpr, bigint])[],
  cpl: number,
): number {
  const d = m.domain, kvm = m.kvm;
  kvm.reenter(caller);
  const regs = d.regs[caller];
  regs.set("rax", input);
  for (const [r, v] of loads) regs.set(r, v);
  const longmode = d.cpuMode[caller] === 64;
  const nr = regs.input(longmode);
  return d.hypercall(caller, `hypercall ${nr}`, () => {
    if (!kvm.interceptsHypercalls()) {
      if (cpl === 0 && KVM_OWN_HYPERCALLS.has(Number(nr))) {
        throw new CommandInputError(
          `without INTERCEPT_HCALL, hypercall ${nr} is one of KVM's own (KVM_HC_*), which irqlab does not model`,
        );
      }
      return kvmOwnHypercall(d, caller, longmode, cpl);
    }
    const params = regs.args(longmode);
    if (cpl === 0) {
      const r = kvm.kernelHypercall(caller, longmode, nr, params);
      if (r !== undefined) {
        regs.set("rax", toU64(r));
        return r;
      }
    }
    kvm.exitToVmm(caller, longmode, cpl, nr, params).waiting = true;
    return Number(BigInt.asIntN(64, regs.get("rax")));
  });
}
