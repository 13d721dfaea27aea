/**
 * The GICv5 CPU interface (FEAT_GCIE) as far as a guest without a vGICv5
 * sees it: its system instructions and registers exist only as names, and
 * every access UNDEFs.
 *
 * The model has no vGICv5 (KVM_DEV_TYPE_ARM_VGIC_V5 is not a device it
 * can create), so this is the whole of the interface on every VM it can
 * make: on a host without FEAT_GCIE the instructions and registers are
 * UNDEFINED (Arm ARM: unallocated encodings), and on a GICv5 host
 * (`gic { gicv5_host }`, with FEAT_GCIE_LEGACY so that KVM still offers a
 * vGICv3) KVM runs a VM without a vGICv5 with the GICv5 fine-grained traps
 * set (ICH_HFGITR_EL2 for the instructions, ICH_HFGRTR_EL2 /
 * ICH_HFGWTR_EL2 for the registers) and injects an UNDEF for each trapped
 * access (`undef_access`). ID_AA64PFR2_EL1.GCIE ([15:12]) reads 0 in such
 * a guest: KVM gives GCIE only with a vGICv5 (`sanitise_id_aa64pfr2_el1`)
 * and clears it at the first KVM_RUN without an irqchip
 * (`kvm_finalize_sys_regs`), while the VMM's KVM_GET_ONE_REG before that
 * run shows the host's, which KVM selftest `arm64/no-vgic.c` reads to
 * decide that the host has GICv5.
 *
 * Names follow Linux `arch/arm64/tools/sysreg` and the selftest's
 * `GICV5_OP_GIC_*` / `GICV5_OP_GICR_*` (Arm IHI 0099, GICv5 system
 * instructions GIC CD* and GICR CD*).
 *
 * @module
 */

/** ID_AA64PFR2_EL1.GCIE's position ([15:12]). */
export const ID_AA64PFR2_GCIE_SHIFT = 12;
/** ID_AA64PFR2_EL1.GCIE: FEAT_GCIE implemented. */
export const ID_AA64PFR2_GCIE_IMP = 1;

/**
 * One GICv5 CPU interface instruction or register: `gic` instructions
 * take a value (SYS), `gicr` ones return one (SYSL), registers are read
 * (`ro`) or read and written (`rw`).
 */
export interface Gicv5Op {
  /** The name as the scenario writes it after its kind (`cdaff`, `ppi_priorityr3`). */
  readonly name: string;
  /** The architectural name. */
  readonly title: string;
  /** `gic` (GIC CD*, writes Xt), `gicr` (GICR CD*, reads Xt), or an ICC register. */
  readonly kind: "gic" | "gicr" | "icc";
  /** For a register: read-only or read-write. */
  readonly access: "ro" | "rw";
  /** What it does on a GICv5, for `scn help`. */
  readonly doc: string;
}

const gic = (name: string, doc: string): Gicv5Op => ({
  name,
  title: `GIC ${name.toUpperCase()}`,
  kind: "gic",
  access: "rw",
  doc,
});
const gicr = (name: string, doc: string): Gicv5Op => ({
  name,
  title: `GICR ${name.toUpperCase()}`,
  kind: "gicr",
  access: "ro",
  doc,
});
const icc = (name: string, access: "ro" | "rw", doc: string): Gicv5Op => ({
  name,
  title: `ICC_${name.toUpperCase()}_EL1`,
  kind: "icc",
  access,
  doc,
});

/**
 * The GICv5 CPU interface's system instructions and EL1 registers.
 *
 * @example
 * ```ts
 * GICV5_OPS.filter((o) => o.kind === "gic").length; // 9
 * ```
 */
export const GICV5_OPS: readonly Gicv5Op[] = [
  gic("cdaff", "set an interrupt's affinity"),
  gic("cddi", "deactivate an interrupt"),
  gic("cddis", "disable an interrupt"),
  gic("cden", "enable an interrupt"),
  gic("cdeoi", "priority drop (end of interrupt)"),
  gic("cdhm", "set an interrupt's handling mode"),
  gic("cdpend", "set or clear an interrupt's pending state"),
  gic("cdpri", "set an interrupt's priority"),
  gic("cdrcfg", "request an interrupt's configuration (read back in ICC_ICSR_EL1)"),
  gicr("cdia", "acknowledge the highest priority pending interrupt"),
  gicr("cdnmia", "acknowledge the highest priority pending NMI"),
  icc("apr", "rw", "active priorities"),
  icc("cr0", "rw", "control: interface enable"),
  icc("hppir", "ro", "highest priority pending interrupt"),
  icc("iaffidr", "ro", "the PE's interrupt affinity ID"),
  icc("icsr", "rw", "interrupt configuration and state (GIC CDRCFG's answer)"),
  icc("idr0", "ro", "identification: ID and priority bits, GCIE_LEGACY"),
  icc("pcr", "rw", "priority mask"),
  ...["cactiver", "sactiver", "cpendr", "spendr", "enabler"].flatMap((r) =>
    [0, 1].map((n) => icc(`ppi_${r}${n}`, "rw", `PPIs ${n * 64}-${n * 64 + 63}: ${r}`))
  ),
  ...[0, 1].map((n) => icc(`ppi_hmr${n}`, "ro", `PPIs ${n * 64}-${n * 64 + 63}: handling modes`)),
  ...Array.from(
    { length: 16 },
    (_, n) => icc(`ppi_priorityr${n}`, "rw", `PPIs ${n * 8}-${n * 8 + 7}: priorities`),
  ),
];
