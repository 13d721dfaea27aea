/**
 * KVM's machine-check ioctls as scenario commands: KVM_X86_SETUP_MCE and
 * KVM_X86_SET_MCE on a vCPU, KVM_X86_GET_MCE_CAP_SUPPORTED on /dev/kvm, and
 * the names of MCG_CAP's and MCi_CTL2's bits. The facts live in `mce.ts`;
 * `platform.ts` merges these tables in.
 *
 * @module
 */
import type { ParamSpec } from "../core/table.ts";
import type { X86Command } from "./command.ts";
import { KVM_MAX_MCE_BANKS, kvmMceCapSupported, MCE_BITS } from "./mce.ts";
import type { X86Vm } from "./vm.ts";

const VCPU: ParamSpec = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 254, what: "a vCPU index", decimal: true, vcpu: true },
  doc: "the vCPU whose ioctl it is",
};

const U64: ParamSpec["type"] = { kind: "u64" };

function emit(vm: X86Vm, source: string, text: string): number {
  return vm.trace.enabled ? vm.trace.emit(source, "ioctl", text) : 0;
}

/**
 * The machine-check names scenarios may use (those below 2^53: MCG_CAP's
 * capability bits, MCG_STATUS's, MCi_CTL2's CMCI_EN; MCi_STATUS's bits sit
 * at 55-63 and are written as numbers), and KVM_MAX_MCE_BANKS.
 *
 * @example
 * ```ts
 * MCE_CONSTANTS.MCG_CMCI_P; // 0x400
 * ```
 */
export const MCE_CONSTANTS: Readonly<Record<string, number>> = {
  KVM_MAX_MCE_BANKS,
  MCG_CTL_P: Number(MCE_BITS.MCG_CTL_P),
  MCG_CMCI_P: Number(MCE_BITS.MCG_CMCI_P),
  MCG_SER_P: Number(MCE_BITS.MCG_SER_P),
  MCG_LMCE_P: Number(MCE_BITS.MCG_LMCE_P),
  MCG_STATUS_RIPV: Number(MCE_BITS.MCG_STATUS_RIPV),
  MCG_STATUS_EIPV: Number(MCE_BITS.MCG_STATUS_EIPV),
  MCG_STATUS_MCIP: Number(MCE_BITS.MCG_STATUS_MCIP),
  MCI_CTL2_CMCI_EN: Number(MCE_BITS.MCI_CTL2_CMCI_EN),
};

/**
 * The machine-check ioctls.
 *
 * @example
 * ```ts
 * MCE_COMMANDS.map((c) => c.name); // ["kvm get_mce_cap_supported", "kvm setup_mce", "kvm set_mce"]
 * ```
 */
export const MCE_COMMANDS: readonly X86Command[] = [
  {
    actor: "vmm",
    name: "kvm get_mce_cap_supported",
    backend: "KVM_X86_GET_MCE_CAP_SUPPORTED",
    doc: "KVM_X86_GET_MCE_CAP_SUPPORTED on /dev/kvm: the MCG_CAP bits KVM_X86_SETUP_MCE " +
      "accepts (kvm_caps.supported_mce_cap): on an Intel host MCG_CTL_P | MCG_SER_P | " +
      "MCG_LMCE_P | MCG_CMCI_P (0x9000500), on an AMD one (host_cpu amd) MCG_CTL_P | " +
      "MCG_SER_P (0x1000100: SVM offers neither LMCE_P nor CMCI_P)",
    params: [],
    returns: "the supported MCG_CAP bits",
    run: (vm) => Number(kvmMceCapSupported(vm.config.hostCpu ?? "intel")),
  },
  {
    actor: "vmm",
    name: "kvm setup_mce",
    backend: "KVM_X86_SETUP_MCE",
    doc: "KVM_X86_SETUP_MCE (kvm_vcpu_ioctl_x86_setup_mce): sets the vCPU's IA32_MCG_CAP. " +
      "-EINVAL for 0 banks, more than KVM_MAX_MCE_BANKS (32) or an unsupported capability " +
      "bit; else MCG_CTL becomes all ones (with MCG_CTL_P), every bank's MCi_CTL all ones and " +
      "MCi_CTL2 0 (with MCG_CMCI_P), and LVT CMCI exists exactly when MCG_CMCI_P is set " +
      "(kvm_apic_after_set_mcg_cap: a new entry starts masked; Version's Max LVT Entry is 6 " +
      "with it, 5 without). Until then a vCPU has 32 banks, no capability, all registers 0",
    params: [VCPU, { name: "mcg_cap", type: U64, doc: "the MCG_CAP value (bank count in 7:0)" }],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      const supported = kvmMceCapSupported(vm.config.hostCpu ?? "intel");
      const r = vm.cpus[a.vcpu as number].setupMce(BigInt(a.mcg_cap as bigint), supported);
      emit(
        vm,
        source,
        `KVM_X86_SETUP_MCE vcpu${a.vcpu} 0x${BigInt(a.mcg_cap as bigint).toString(16)}: ${r}`,
      );
      return r;
    },
  },
  {
    actor: "vmm",
    name: "kvm set_mce",
    backend: "KVM_X86_SET_MCE",
    doc: "KVM_X86_SET_MCE (kvm_vcpu_ioctl_x86_set_mce) with struct kvm_x86_mce's fields: " +
      "-EINVAL for a bank past MCG_CAP's count or a status without VAL (bit 63). A UCNA " +
      "(mcg_status 0; VAL and UC set; PCC, S and AR clear) is written to the bank's STATUS, " +
      "ADDR and MISC whatever MCi_CTL says, and raises LVT CMCI when the vCPU has MCG_CMCI_P " +
      "and the bank's MCi_CTL2.CMCI_EN is set (kvm_vcpu_x86_set_ucna). A corrected error " +
      "(UC clear) fills an empty or corrected bank (OVER if it was valid) or sets OVER on an " +
      "uncorrected one. Any other uncorrected error is dropped (0) while MCG_CTL or the bank's " +
      "MCi_CTL is not all ones; else, with MCG_STATUS.MCIP set or CR4.MCE clear ('mov cr4'), " +
      "it shuts the vCPU down (KVM_REQ_TRIPLE_FAULT, KVM_EXIT_SHUTDOWN); else it fills the bank, " +
      "sets MCG_STATUS and raises #MC (vector 18) at the next boundary",
    params: [
      VCPU,
      {
        name: "bank",
        type: { kind: "int", min: 0, max: 255, what: "a bank", decimal: true },
        doc: "the bank",
      },
      { name: "status", type: U64, doc: "MCi_STATUS" },
      { name: "addr", type: U64, doc: "MCi_ADDR", default: 0 },
      { name: "misc", type: U64, doc: "MCi_MISC", default: 0 },
      { name: "mcg_status", type: U64, doc: "MCG_STATUS", default: 0 },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) => {
      const status = BigInt(a.status as bigint);
      const id = emit(
        vm,
        source,
        `KVM_X86_SET_MCE vcpu${a.vcpu} bank ${a.bank} status 0x${status.toString(16)}`,
      );
      return vm.trace.within(id, () =>
        vm.cpus[a.vcpu as number].setMce(
          a.bank as number,
          status,
          BigInt(a.addr as bigint),
          BigInt(a.misc as bigint),
          BigInt(a.mcg_status as bigint),
        ));
    },
  },
];
