/**
 * KVM's x86 quirks a VMM may turn off (KVM_CAP_DISABLE_QUIRKS and
 * KVM_CAP_DISABLE_QUIRKS2 on the VM), and the one of them the model follows
 * beyond its defaults: KVM_X86_QUIRK_FIX_HYPERCALL_INSN, with the host
 * vendor it depends on.
 *
 * A hypercall instruction is a vendor's: VMCALL (`0f 01 c1`) is Intel's
 * VMX, VMMCALL (`0f 01 d9`) AMD's SVM. The other vendor's raises #UD in
 * hardware, and KVM intercepts #UD on both (`handle_ud`), emulating the
 * instruction with EMULTYPE_TRAP_UD. Both instructions are EmulateOnUD in
 * the emulator's opcode table and run `em_hypercall`, whose
 * `emulator_fix_hypercall`, with the quirk on (KVM's default), writes the
 * host's own instruction over the guest's (`vmx_patch_hypercall`,
 * `svm_patch_hypercall`) and lets the guest execute it again, now the
 * native hypercall; with the quirk off it injects #UD and leaves the bytes.
 *
 * KVM_CAP_DISABLE_QUIRKS2 refuses bits KVM does not support with -EINVAL
 * and otherwise adds them to `kvm->arch.disabled_quirks`, at any time
 * (`kvm_vm_ioctl_enable_cap`); the older KVM_CAP_DISABLE_QUIRKS takes the
 * supported bits of any value. The model takes FIX_HYPERCALL_INSN; the
 * other quirks it names are input errors (their behaviour with the quirk
 * off is not modelled), and bits past them too, since which a host supports
 * depends on its KVM and vendor (IGNORE_GUEST_PAT needs self-snoop on Intel).
 *
 * Sources: Linux arch/x86/include/uapi/asm/kvm.h (KVM_X86_QUIRK_*),
 * include/uapi/linux/kvm.h (KVM_CAP_DISABLE_QUIRKS 116,
 * KVM_CAP_DISABLE_QUIRKS2 213), arch/x86/kvm/x86.c (`handle_ud`,
 * `emulator_fix_hypercall`, `kvm_vm_ioctl_enable_cap`), emulate.c
 * (`em_hypercall`, the group 7 opcode table), vmx/vmx.c
 * (`vmx_patch_hypercall`), svm/svm.c (`svm_patch_hypercall`),
 * tools/testing/selftests/kvm/x86/fix_hypercall_test.c.
 *
 * @module
 */
import { CommandInputError } from "../core/diagnostic.ts";
import type { GuestMemory } from "../core/guest_memory.ts";

/** The host CPU's vendor, whose KVM module (kvm_intel, kvm_amd) runs the guest. */
export type HostCpu = "intel" | "amd";

/**
 * KVM_X86_QUIRK_* bits (uapi asm/kvm.h), those of the stored Linux snapshot
 * up to IGNORE_GUEST_PAT.
 *
 * @example
 * ```ts
 * KVM_X86_QUIRK.FIX_HYPERCALL_INSN; // 32
 * ```
 */
export const KVM_X86_QUIRK = {
  LINT0_REENABLED: 1 << 0,
  CD_NW_CLEARED: 1 << 1,
  LAPIC_MMIO_HOLE: 1 << 2,
  OUT_7E_INC_RIP: 1 << 3,
  MISC_ENABLE_NO_MWAIT: 1 << 4,
  FIX_HYPERCALL_INSN: 1 << 5,
  MWAIT_NEVER_UD_FAULTS: 1 << 6,
  SLOT_ZAP_ALL: 1 << 7,
  STUFF_FEATURE_MSRS: 1 << 8,
  IGNORE_GUEST_PAT: 1 << 9,
} as const;

/** The quirks a VMM may turn off in the model. */
const MODELLED_QUIRKS = KVM_X86_QUIRK.FIX_HYPERCALL_INSN;

/**
 * The named values scenarios use: `KVM_X86_QUIRK_FIX_HYPERCALL_INSN`, ...
 *
 * @example
 * ```ts
 * KVM_QUIRK_CONSTANTS.KVM_X86_QUIRK_FIX_HYPERCALL_INSN; // 32
 * ```
 */
export const KVM_QUIRK_CONSTANTS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(KVM_X86_QUIRK).map(([n, v]) => [`KVM_X86_QUIRK_${n}`, v]),
);

/**
 * What KVM_ENABLE_CAP(KVM_CAP_DISABLE_QUIRKS2 when `checked`, else
 * KVM_CAP_DISABLE_QUIRKS) with `arg` does to `disabled`: the new set, or
 * -EINVAL's caller-given value when `checked` finds a bit KVM does not
 * support. Throws for quirks the model does not follow.
 *
 * @example
 * ```ts
 * disableQuirks(0, 32n, true); // 32
 * ```
 */
export function disableQuirks(disabled: number, arg: bigint, checked: boolean): number {
  if ((arg & ~BigInt(MODELLED_QUIRKS)) !== 0n) {
    const known = Object.entries(KVM_X86_QUIRK).filter(([, v]) => (BigInt(v) & arg) !== 0n)
      .filter(([, v]) => v !== MODELLED_QUIRKS).map(([n]) => `KVM_X86_QUIRK_${n}`);
    throw new CommandInputError(
      known.length > 0
        ? `turning off ${known.join(", ")} is not modelled: the model follows ` +
          "KVM_X86_QUIRK_FIX_HYPERCALL_INSN only"
        : `quirk bits 0x${arg.toString(16)}: past the ones the model knows, whether KVM ` +
          `supports them depends on the host${checked ? " (-EINVAL if not)" : ""}`,
    );
  }
  return disabled | Number(arg);
}

/**
 * The hypercall instructions' bytes (SDM VMCALL; APM VMMCALL).
 *
 * @example
 * ```ts
 * HYPERCALL_INSN.vmmcall; // [0x0f, 0x01, 0xd9]
 * ```
 */
export const HYPERCALL_INSN = {
  vmcall: [0x0f, 0x01, 0xc1],
  vmmcall: [0x0f, 0x01, 0xd9],
} as const;

/** A hypercall instruction's name. */
export type HypercallInsn = keyof typeof HYPERCALL_INSN;

/** The instruction a vendor's hardware executes as a hypercall. */
export function nativeHypercall(cpu: HostCpu): HypercallInsn {
  return cpu === "amd" ? "vmmcall" : "vmcall";
}

/** Which hypercall instruction the three bytes at `at` are; an input error for any other. */
export function hypercallAt(mem: GuestMemory, at: number): HypercallInsn {
  const bytes = [0, 1, 2].map((i) => Number(mem.read(at + i, 8)));
  for (const [name, insn] of Object.entries(HYPERCALL_INSN)) {
    if (insn.every((b, i) => bytes[i] === b)) return name as HypercallInsn;
  }
  throw new CommandInputError(
    `the bytes at 0x${at.toString(16)} (${
      bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")
    }) ` +
      "are neither VMCALL (0f 01 c1) nor VMMCALL (0f 01 d9)",
  );
}

/** The outcome of a hypercall instruction before the hypercall itself. */
export type HypercallEntry =
  /** The host's own instruction: the hypercall runs. */
  | "native"
  /** The other vendor's, patched to the host's (the quirk on): executed again, the hypercall runs. */
  | "patched"
  /** The other vendor's with the quirk off: #UD, the bytes left. */
  | "ud";

/**
 * The three bytes at `at` executed as a hypercall on a `cpu` host with
 * `disabled` quirks (`handle_ud` -> `em_hypercall` ->
 * `emulator_fix_hypercall`): patches them when KVM would.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * const mem = new GuestMemory(0x2000);
 * HYPERCALL_INSN.vmmcall.forEach((b, i) => mem.write(0x1000 + i, 8, b));
 * enterHypercall(mem, 0x1000, "intel", 0); // "patched": VMCALL written there
 * ```
 */
export function enterHypercall(
  mem: GuestMemory,
  at: number,
  cpu: HostCpu,
  disabled: number,
): HypercallEntry {
  const native = nativeHypercall(cpu);
  if (hypercallAt(mem, at) === native) return "native";
  if ((disabled & KVM_X86_QUIRK.FIX_HYPERCALL_INSN) !== 0) return "ud";
  HYPERCALL_INSN[native].forEach((b, i) => mem.write(at + i, 8, b));
  return "patched";
}
