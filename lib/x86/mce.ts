/**
 * KVM's virtual machine-check architecture of one vCPU: the global
 * registers (IA32_MCG_CAP, _STATUS, _CTL), the error-reporting banks
 * (IA32_MCi_CTL, _STATUS, _ADDR, _MISC at 0x400 + 4i, IA32_MCi_CTL2 at
 * 0x280 + i), their guest and host-initiated MSR accesses, and the VMM's
 * KVM_X86_SETUP_MCE / KVM_X86_SET_MCE. A UCNA error (uncorrected, no
 * action required) is recorded in its bank and, when the vCPU has
 * MCG_CMCI_P and the bank's CTL2.CMCI_EN is set, signalled through the
 * LAPIC's LVT CMCI; the caller ({@link X86Cpu}) does the delivery.
 *
 * Followed (Linux arch/x86/kvm, read for facts): x86.c
 * `kvm_arch_vcpu_create` (mcg_cap = KVM_MAX_MCE_BANKS, banks zeroed),
 * `kvm_vcpu_ioctl_x86_setup_mce`, `kvm_vcpu_ioctl_x86_set_mce`, `is_ucna`,
 * `kvm_vcpu_x86_set_ucna`, `set_msr_mce`, `get_msr_mce`,
 * `can_set_mci_status` (AMD only: on the model's Intel host a guest writes
 * only 0 to MCi_STATUS), `kvm_mce_cap_supported` with VMX's
 * `hardware_setup` (LMCE_P, CMCI_P; SVM's offers neither: `host_cpu amd`);
 * lapic.c `kvm_apic_after_set_mcg_cap`, `kvm_apic_calc_nr_lvt_entries`.
 * The Intel SDM vol. 3B ch. 16 names the fields.
 *
 * A non-UCNA uncorrected error is a #MC (`kvm_queue_exception(MC_VECTOR)`),
 * or KVM_REQ_TRIPLE_FAULT while MCG_STATUS.MCIP is set or CR4.MCE is clear:
 * of CR4 the vCPU model has only MCE (`mov cr4`, 0 at reset as KVM's CR4).
 * Not modelled: IA32_MCG_EXT_CTL (LMCE) and IA32_FEATURE_CONTROL.
 *
 * @module
 */
import type { HostCpu } from "./kvm_quirks.ts";
import { fieldByName, type FieldTable } from "../core/bitfield.ts";
import { EINVAL } from "./errno.ts";
import type { StateHash } from "../core/platform.ts";

/** KVM_MAX_MCE_BANKS: the banks KVM allocates per vCPU, and KVM_CAP_MCE's answer. */
export const KVM_MAX_MCE_BANKS = 32;

/** The machine-check MSRs' indices (Intel SDM vol. 4 table 2-2; msr-index.h). */
export const MCE_MSR = {
  P5_MC_ADDR: 0x0,
  P5_MC_TYPE: 0x1,
  MCG_CAP: 0x179,
  MCG_STATUS: 0x17a,
  MCG_CTL: 0x17b,
  MC0_CTL2: 0x280,
  MC0_CTL: 0x400,
} as const;

/** The four registers of bank i at 0x400 + 4i, in this order. */
export const MC_BANK_REGISTERS = ["ctl", "status", "addr", "misc"] as const;

/** IA32_MCG_CAP. */
export const MCG_CAP_FIELDS = [
  { name: "count", lsb: 0, width: 8 },
  { name: "ctl_p", lsb: 8, width: 1 },
  { name: "ext_p", lsb: 9, width: 1 },
  { name: "cmci_p", lsb: 10, width: 1 },
  { name: "tes_p", lsb: 11, width: 1 },
  { name: "ext_cnt", lsb: 16, width: 8 },
  { name: "ser_p", lsb: 24, width: 1 },
  { name: "elog_p", lsb: 26, width: 1 },
  { name: "lmce_p", lsb: 27, width: 1 },
] as const satisfies FieldTable;

/** IA32_MCG_STATUS. */
export const MCG_STATUS_FIELDS = [
  { name: "ripv", lsb: 0, width: 1 },
  { name: "eipv", lsb: 1, width: 1 },
  { name: "mcip", lsb: 2, width: 1 },
  { name: "lmce_s", lsb: 3, width: 1 },
] as const satisfies FieldTable;

/** IA32_MCi_STATUS. */
export const MCI_STATUS_FIELDS = [
  { name: "mca_code", lsb: 0, width: 16 },
  { name: "model_code", lsb: 16, width: 16 },
  { name: "ar", lsb: 55, width: 1 },
  { name: "s", lsb: 56, width: 1 },
  { name: "pcc", lsb: 57, width: 1 },
  { name: "addrv", lsb: 58, width: 1 },
  { name: "miscv", lsb: 59, width: 1 },
  { name: "en", lsb: 60, width: 1 },
  { name: "uc", lsb: 61, width: 1 },
  { name: "over", lsb: 62, width: 1 },
  { name: "val", lsb: 63, width: 1 },
] as const satisfies FieldTable;

/** IA32_MCi_CTL2 (exists only with MCG_CMCI_P); every other bit is reserved (#GP). */
export const MCI_CTL2_FIELDS = [
  { name: "cmci_threshold", lsb: 0, width: 15 },
  { name: "cmci_en", lsb: 30, width: 1 },
] as const satisfies FieldTable;

/** The bits of one field of a 64-bit register, as a mask. */
function mask<T extends FieldTable>(table: T, name: T[number]["name"]): bigint {
  const f = fieldByName(table, name)!;
  return ((1n << BigInt(f.width)) - 1n) << BigInt(f.lsb);
}

/** Bit masks of the fields, by their Linux names (`MCG_CMCI_P`, `MCI_STATUS_VAL`, ...). */
export const MCE_BITS = {
  MCG_BANKCNT_MASK: mask(MCG_CAP_FIELDS, "count"),
  MCG_CTL_P: mask(MCG_CAP_FIELDS, "ctl_p"),
  MCG_EXT_P: mask(MCG_CAP_FIELDS, "ext_p"),
  MCG_CMCI_P: mask(MCG_CAP_FIELDS, "cmci_p"),
  MCG_TES_P: mask(MCG_CAP_FIELDS, "tes_p"),
  MCG_EXT_CNT_MASK: mask(MCG_CAP_FIELDS, "ext_cnt"),
  MCG_SER_P: mask(MCG_CAP_FIELDS, "ser_p"),
  MCG_ELOG_P: mask(MCG_CAP_FIELDS, "elog_p"),
  MCG_LMCE_P: mask(MCG_CAP_FIELDS, "lmce_p"),
  MCG_STATUS_RIPV: mask(MCG_STATUS_FIELDS, "ripv"),
  MCG_STATUS_EIPV: mask(MCG_STATUS_FIELDS, "eipv"),
  MCG_STATUS_MCIP: mask(MCG_STATUS_FIELDS, "mcip"),
  MCG_STATUS_LMCES: mask(MCG_STATUS_FIELDS, "lmce_s"),
  MCI_STATUS_AR: mask(MCI_STATUS_FIELDS, "ar"),
  MCI_STATUS_S: mask(MCI_STATUS_FIELDS, "s"),
  MCI_STATUS_PCC: mask(MCI_STATUS_FIELDS, "pcc"),
  MCI_STATUS_ADDRV: mask(MCI_STATUS_FIELDS, "addrv"),
  MCI_STATUS_MISCV: mask(MCI_STATUS_FIELDS, "miscv"),
  MCI_STATUS_EN: mask(MCI_STATUS_FIELDS, "en"),
  MCI_STATUS_UC: mask(MCI_STATUS_FIELDS, "uc"),
  MCI_STATUS_OVER: mask(MCI_STATUS_FIELDS, "over"),
  MCI_STATUS_VAL: mask(MCI_STATUS_FIELDS, "val"),
  MCI_CTL2_CMCI_THRESHOLD_MASK: mask(MCI_CTL2_FIELDS, "cmci_threshold"),
  MCI_CTL2_CMCI_EN: mask(MCI_CTL2_FIELDS, "cmci_en"),
} as const;

const B = MCE_BITS;
const ALL_ONES = (1n << 64n) - 1n;

/**
 * `kvm_caps.supported_mce_cap` on an Intel host: KVM's MCG_CTL_P | MCG_SER_P,
 * plus what VMX's hardware_setup adds (MCG_LMCE_P, MCG_CMCI_P). What
 * KVM_X86_GET_MCE_CAP_SUPPORTED answers.
 */
export const KVM_MCE_CAP_SUPPORTED = B.MCG_CTL_P | B.MCG_SER_P | B.MCG_LMCE_P | B.MCG_CMCI_P;

/**
 * `kvm_caps.supported_mce_cap` by the host's vendor: {@link KVM_MCE_CAP_SUPPORTED}
 * on Intel; on AMD only KVM's own MCG_CTL_P | MCG_SER_P (`kvm_x86_vendor_init`
 * sets them afresh at each vendor module load, and SVM's hardware setup adds
 * nothing).
 *
 * @example
 * ```ts
 * kvmMceCapSupported("amd"); // 0x1000100n
 * ```
 */
export function kvmMceCapSupported(cpu: HostCpu): bigint {
  return cpu === "amd" ? B.MCG_CTL_P | B.MCG_SER_P : KVM_MCE_CAP_SUPPORTED;
}

/** The MSR is one of the machine-check MSRs KVM handles (`kvm_{get,set}_msr_common`'s MCE cases). */
export function isMceMsr(msr: number): boolean {
  return msr <= MCE_MSR.P5_MC_TYPE ||
    (msr >= MCE_MSR.MCG_CAP && msr <= MCE_MSR.MCG_CTL) ||
    (msr >= MCE_MSR.MC0_CTL2 && msr < MCE_MSR.MC0_CTL2 + KVM_MAX_MCE_BANKS) ||
    (msr >= MCE_MSR.MC0_CTL && msr < MCE_MSR.MC0_CTL + 4 * KVM_MAX_MCE_BANKS);
}

/** What KVM_X86_SET_MCE did: its return value, and what the vCPU is to do. */
export interface SetMceResult {
  /** 0 or -EINVAL. */
  readonly result: number;
  /**
   * none; `cmci`: a UCNA the vCPU signals through LVT CMCI (MCG_CMCI_P and
   * the bank's CMCI_EN); `mc`: a #MC exception is queued (`kvm_queue_exception`);
   * `shutdown`: KVM_REQ_TRIPLE_FAULT (MCIP already set, or CR4.MCE clear).
   */
  readonly signal: "none" | "cmci" | "mc" | "shutdown";
}

/**
 * One vCPU's machine-check registers.
 *
 * @example
 * ```ts
 * const m = new McBanks();
 * m.setup(MCE_BITS.MCG_CMCI_P | 10n); // 0
 * m.rdmsr(0x179, false); // 0x40an (MCG_CAP)
 * ```
 */
export class McBanks {
  /** IA32_MCG_CAP: KVM_MAX_MCE_BANKS banks and no capability until KVM_X86_SETUP_MCE. */
  mcgCap: bigint = BigInt(KVM_MAX_MCE_BANKS);
  /** IA32_MCG_STATUS. */
  mcgStatus = 0n;
  /** IA32_MCG_CTL (0 until a SETUP_MCE with MCG_CTL_P sets all ones). */
  mcgCtl = 0n;
  /** MCi_CTL, _STATUS, _ADDR, _MISC of every bank KVM allocates, 4 per bank. */
  readonly banks: BigUint64Array = new BigUint64Array(4 * KVM_MAX_MCE_BANKS);
  /** MCi_CTL2 of every bank. */
  readonly ctl2: BigUint64Array = new BigUint64Array(KVM_MAX_MCE_BANKS);
  /** Anything was set since creation (the VM's snapshot does not save these). */
  touched = false;

  /** The banks' and CTL2s' words, for {@link McBanks.hashInto}. */
  readonly #bankWords: Uint32Array = new Uint32Array(this.banks.buffer);
  readonly #ctl2Words: Uint32Array = new Uint32Array(this.ctl2.buffer);

  /** Feeds `h` every register, for `scn explore`'s fingerprints (the vCPU's `hashPrivate`). */
  hashInto(h: StateHash): void {
    h.big(this.mcgCap);
    h.big(this.mcgStatus);
    h.big(this.mcgCtl);
    h.words(this.#bankWords);
    h.words(this.#ctl2Words);
  }

  /** The vCPU's bank count (MCG_CAP[7:0]). */
  get bankCount(): number {
    return Number(this.mcgCap & B.MCG_BANKCNT_MASK);
  }

  /** MCG_CAP has MCG_CMCI_P: LVT CMCI exists and so does MCi_CTL2. */
  get cmciP(): boolean {
    return (this.mcgCap & B.MCG_CMCI_P) !== 0n;
  }

  /**
   * KVM_X86_SETUP_MCE (`kvm_vcpu_ioctl_x86_setup_mce`): -EINVAL for no bank,
   * more than KVM_MAX_MCE_BANKS, or a capability bit KVM does not offer
   * (`supported`, the host's {@link kvmMceCapSupported})
   * (MCG_EXT_CNT, bits 23:16, passes); else MCG_CAP is set, MCG_CTL all ones
   * with MCG_CTL_P, every bank's CTL all ones and, with MCG_CMCI_P, CTL2 0.
   * The caller tells the LAPIC (`kvm_apic_after_set_mcg_cap`).
   */
  setup(mcgCap: bigint, supported: bigint = KVM_MCE_CAP_SUPPORTED): number {
    const count = Number(mcgCap & B.MCG_BANKCNT_MASK);
    if (count === 0 || count > KVM_MAX_MCE_BANKS) return -EINVAL;
    if ((mcgCap & ~(supported | B.MCG_BANKCNT_MASK | B.MCG_EXT_CNT_MASK)) !== 0n) {
      return -EINVAL;
    }
    this.touched = true;
    this.mcgCap = mcgCap;
    if ((mcgCap & B.MCG_CTL_P) !== 0n) this.mcgCtl = ALL_ONES;
    for (let i = 0; i < count; i++) {
      this.banks[4 * i] = ALL_ONES;
      if ((mcgCap & B.MCG_CMCI_P) !== 0n) this.ctl2[i] = 0n;
    }
    return 0;
  }

  /**
   * KVM_X86_SET_MCE (`kvm_vcpu_ioctl_x86_set_mce`): -EINVAL for a bank past
   * the count or a status without VAL. A UCNA (`is_ucna`: MCG_STATUS 0, no
   * PCC, S or AR, VAL and UC set) is written to the bank whatever MCi_CTL
   * says (`kvm_vcpu_x86_set_ucna`) and signalled through LVT CMCI when the
   * vCPU has MCG_CMCI_P and the bank's CTL2.CMCI_EN is set. Any other
   * uncorrected error is dropped (answer 0) while MCG_CTL (with MCG_CTL_P)
   * or the bank's MCi_CTL is not all ones; else, with MCG_STATUS.MCIP set
   * or `cr4Mce` clear, it shuts the vCPU down and records nothing; else it
   * fills the bank (OVER if it held a valid error), sets MCG_STATUS and is
   * a #MC. A corrected error fills an empty or corrected bank (OVER if
   * valid), else only sets OVER on the uncorrected one there.
   */
  setMce(
    bank: number,
    status: bigint,
    addr: bigint,
    misc: bigint,
    mcgStatus: bigint,
    cr4Mce: boolean,
  ): SetMceResult {
    if (bank >= this.bankCount || (status & B.MCI_STATUS_VAL) === 0n) {
      return { result: -EINVAL, signal: "none" };
    }
    this.touched = true;
    const at = 4 * bank;
    const uc = (status & B.MCI_STATUS_UC) !== 0n;
    const mceOnly = B.MCI_STATUS_PCC | B.MCI_STATUS_S | B.MCI_STATUS_AR;
    if (mcgStatus === 0n && (status & mceOnly) === 0n && uc) {
      this.banks[at + 1] = status;
      this.banks[at + 2] = addr;
      this.banks[at + 3] = misc;
      this.mcgStatus = mcgStatus;
      const cmci = this.cmciP && (this.ctl2[bank] & B.MCI_CTL2_CMCI_EN) !== 0n;
      return { result: 0, signal: cmci ? "cmci" : "none" };
    }
    const old = this.banks[at + 1];
    const over = (old & B.MCI_STATUS_VAL) !== 0n ? B.MCI_STATUS_OVER : 0n;
    if (uc) {
      if ((this.mcgCap & B.MCG_CTL_P) !== 0n && this.mcgCtl !== ALL_ONES) {
        return { result: 0, signal: "none" };
      }
      if (this.banks[at] !== ALL_ONES) return { result: 0, signal: "none" };
      if ((this.mcgStatus & B.MCG_STATUS_MCIP) !== 0n || !cr4Mce) {
        return { result: 0, signal: "shutdown" };
      }
      this.banks[at + 2] = addr;
      this.banks[at + 3] = misc;
      this.mcgStatus = mcgStatus;
      this.banks[at + 1] = status | over;
      return { result: 0, signal: "mc" };
    }
    if ((old & B.MCI_STATUS_VAL) === 0n || (old & B.MCI_STATUS_UC) === 0n) {
      this.banks[at + 1] = status | over;
      this.banks[at + 2] = addr;
      this.banks[at + 3] = misc;
    } else {
      this.banks[at + 1] = old | B.MCI_STATUS_OVER;
    }
    return { result: 0, signal: "none" };
  }

  /**
   * RDMSR (`get_msr_mce`): the value, or null for #GP (guest) / a failed
   * KVM_GET_MSRS (host). MCi_CTL2 past the count, or any CTL2 from the guest
   * without MCG_CMCI_P, and MCG_CTL from the guest without MCG_CTL_P fail,
   * as do bank registers past the count.
   */
  rdmsr(msr: number, host: boolean): bigint | null {
    switch (msr) {
      case MCE_MSR.P5_MC_ADDR:
      case MCE_MSR.P5_MC_TYPE:
        return 0n;
      case MCE_MSR.MCG_CAP:
        return this.mcgCap;
      case MCE_MSR.MCG_STATUS:
        return this.mcgStatus;
      case MCE_MSR.MCG_CTL:
        return (this.mcgCap & B.MCG_CTL_P) === 0n && !host ? null : this.mcgCtl;
    }
    const n = this.bankCount;
    if (msr >= MCE_MSR.MC0_CTL2 && msr < MCE_MSR.MC0_CTL2 + KVM_MAX_MCE_BANKS) {
      if (msr >= MCE_MSR.MC0_CTL2 + n) return null;
      if (!this.cmciP && !host) return null;
      return this.ctl2[msr - MCE_MSR.MC0_CTL2];
    }
    if (msr >= MCE_MSR.MC0_CTL && msr < MCE_MSR.MC0_CTL + 4 * n) {
      return this.banks[msr - MCE_MSR.MC0_CTL];
    }
    return null;
  }

  /**
   * WRMSR (`set_msr_mce`): null when done, else why KVM refuses it (#GP for
   * the guest, a failed KVM_SET_MSRS for the host). MCG_CAP is read-only;
   * MCG_STATUS takes anything; MCG_CTL needs MCG_CTL_P (the host may write
   * 0) and takes only 0 or all ones; MCi_CTL2 needs MCG_CMCI_P (the host may
   * write 0) and a bank below the count, and a reserved bit faults; MCi_CTL
   * takes 0 or all ones (bits 10 and 0 may be clear: Linux's K8 GART and
   * UnixWare's workarounds); the guest writes only 0 to MCi_STATUS.
   */
  wrmsr(msr: number, value: bigint, host: boolean): string | null {
    const hex = `0x${value.toString(16)}`;
    const n = this.bankCount;
    if (msr === MCE_MSR.MCG_STATUS) {
      this.mcgStatus = value;
    } else if (msr === MCE_MSR.MCG_CTL) {
      if ((this.mcgCap & B.MCG_CTL_P) === 0n && (value !== 0n || !host)) {
        return "IA32_MCG_CTL exists only with MCG_CTL_P";
      }
      if (value !== 0n && value !== ALL_ONES) return `IA32_MCG_CTL takes 0 or all ones, not ${hex}`;
      this.mcgCtl = value;
    } else if (msr >= MCE_MSR.MC0_CTL2 && msr < MCE_MSR.MC0_CTL2 + KVM_MAX_MCE_BANKS) {
      const bank = msr - MCE_MSR.MC0_CTL2;
      if (bank >= n) return `IA32_MC${bank}_CTL2: the vCPU has ${n} banks`;
      if (!this.cmciP && (value !== 0n || !host)) {
        return `IA32_MC${bank}_CTL2 exists only with MCG_CMCI_P`;
      }
      if ((value & ~(B.MCI_CTL2_CMCI_EN | B.MCI_CTL2_CMCI_THRESHOLD_MASK)) !== 0n) {
        return `IA32_MC${bank}_CTL2 ${hex}: reserved bits set`;
      }
      this.ctl2[bank] = value;
    } else if (msr >= MCE_MSR.MC0_CTL && msr < MCE_MSR.MC0_CTL + 4 * KVM_MAX_MCE_BANKS) {
      const at = msr - MCE_MSR.MC0_CTL, bank = at >> 2, reg = MC_BANK_REGISTERS[at & 3];
      if (bank >= n) return `IA32_MC${bank}_${reg.toUpperCase()}: the vCPU has ${n} banks`;
      if (reg === "ctl" && value !== 0n && (value | (1n << 10n) | 1n) !== ALL_ONES) {
        return `IA32_MC${bank}_CTL takes 0 or all ones, not ${hex}`;
      }
      if (reg === "status" && !host && value !== 0n) {
        return `IA32_MC${bank}_STATUS: a guest may only clear it (Intel; AMD's McStatusWrEn ` +
          "is not modelled)";
      }
      this.banks[at] = value;
    } else if (msr === MCE_MSR.MCG_CAP) {
      return "IA32_MCG_CAP is read-only";
    } else {
      return `MSR 0x${msr.toString(16)} is not writable`;
    }
    this.touched = true;
    return null;
  }
}
