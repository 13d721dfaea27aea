/**
 * The arm64 platform as the language sees it: the `vm` settings, the
 * commands each actor can issue, the readable state paths and the handler
 * events (`irq`, `fiq`, `intid N`).
 *
 * Everything here binds a name to the model. Register names and offsets
 * follow the specs: `gicd.<reg>` (GICD_*), `gicr.<reg>` (the acting vCPU's
 * redistributor, RD_base then SGI_base), `gicc.<reg>` (GICv2 GICC_*), and
 * `read icc_<reg>` / `write icc_<reg>` for the GICv3 system registers
 * (ICC_<REG>_EL1).
 *
 * @module
 */
import { ARM_ARCH, ARM_HYPERVISORS } from "./arch.ts";
import type {
  Args,
  CommandSpec,
  FieldSpec,
  HandlerEventSpec,
  ParamSpec,
  RegisterFile,
  RegisterSpec,
  SettingSpec,
  StateSpec,
  Val,
} from "../core/table.ts";
import { OWN_FLAGS, PLUMBING } from "../core/table.ts";
import type { Platform } from "../core/platform.ts";
import { CommandInputError, ScnError } from "../core/diagnostic.ts";
import { ArmVm, ID_AA64PFR0_GIC_SHIFT } from "./vm.ts";
import { SYNC } from "./cpu.ts";
import { EFAULT, ENOENT } from "./errno.ts";
import { GICV5_OPS, ID_AA64PFR2_GCIE_SHIFT } from "./gicv5_cpu_interface.ts";
import { BankOffset, LPI_BASE, PRIVATE_COUNT } from "./irq_state.ts";
import { GicdCtlr, GicdOffset, GicdTyper2 } from "./gicv3_distributor.ts";
import { GicrOffset } from "./gicv3_redistributor.ts";
import { ICC_REGISTERS, type IccRegister } from "./cpu_interface_v3.ts";
import {
  EINVAL,
  ENODEV,
  ENXIO,
  type HasAttrGroup,
  ITS_DOORBELL,
  KvmIrqType,
  nrIrqsProblem,
} from "./gic.ts";
import {
  EACCES,
  EBUSY,
  EEXIST,
  GitsBaser,
  GitsOffset,
  ITS_KVM_RELEASES,
  type ItsCommand,
  ItsError,
  type ItsKvmRelease,
} from "./its.ts";
import { LPI_PATHS } from "./lpi.ts";
import {
  GiccOffset,
  gicv2CpuUaccess,
  gicv2DistUaccess,
  gicv2ReadCpu,
  gicv2ReadDist,
  gicv2WriteCpu,
  gicv2WriteDist,
} from "./gicv2.ts";
import { type ArchTimer, CNTFRQ_HZ, TimerCtl, TimerIrqAttr } from "./timer.ts";
import {
  ID_AA64DFR0_PMUVER_SHIFT,
  ID_AA64DFR0_PMUVER_V3P5,
  type Pmu,
  PMU_CYCLE_IDX,
  PMU_HOST_TYPE,
  PMU_PMCR_N,
  PMU_REGISTERS,
  PmuEvent,
} from "./pmu.ts";
import { ArmMemoryMap } from "./memory_map.ts";
import { VGIC_MAX_CPUS, VgicAddrType, VgicErrno } from "./vgic_device.ts";
import type { ArmRoute } from "./kvm_routing.ts";
import { guestMemoryCommands, guestMemoryState } from "../core/guest_memory.ts";
import {
  decodeIts,
  explainArmMsi,
  explainIntid,
  explainItsResult,
  withIntidExplain,
} from "./explain.ts";

/** A literal argument as a bigint, or undefined when the scenario wrote none. */
const literalOf = (v: Val | undefined) =>
  typeof v === "number" || typeof v === "bigint" ? BigInt(v) : undefined;
import { ARM_XEN_COMMANDS, ARM_XEN_STATE } from "./xen.ts";
import { KVM_MP_STATE, PSCI_CONSTANTS } from "./psci.ts";
import {
  PSCI_COMMANDS,
  PSCI_ONE_REGS,
  PSCI_STATE,
  psciGetOneReg,
  psciSetOneReg,
} from "./psci_commands.ts";
import { XEN_CONSTANTS } from "../xen/platform.ts";

type Cmd = CommandSpec<ArmVm>;
type State = StateSpec<ArmVm>;

const U32 = { kind: "int", min: 0, max: 0xffff_ffff, what: "a 32-bit value" } as const;
const INTID = { kind: "int", min: 0, max: 0xffff, what: "an INTID" } as const;
const LPI = { kind: "int", min: 0, max: 0xffff_ffff, what: "an LPI INTID" } as const;
const DEVICE_ID = { kind: "int", min: 0, max: 0xffff_ffff, what: "a DeviceID" } as const;
const EVENT_ID = { kind: "int", min: 0, max: 0xffff_ffff, what: "an EventID" } as const;
const ICID = { kind: "int", min: 0, max: 0xffff, what: "an ICID" } as const;
const BIT = { kind: "int", min: 0, max: 1, what: "0 or 1" } as const;
/** KVM_ARM_VCPU_PSCI_0_2: features[0] bit 2 of struct kvm_vcpu_init (`arch/arm64/include/uapi/asm/kvm.h`). */
const VCPU_FEATURE_PSCI_0_2 = 1 << 2;
/** KVM_ARM_VCPU_PMU_V3: features[0] bit 3. */
const VCPU_FEATURE_PMU_V3 = 1 << 3;
const VCPU_ID = {
  kind: "int",
  min: 0,
  max: 511,
  what: "a vCPU index",
  decimal: true,
  vcpu: true,
} as const;
/** The timer registers KVM_GET/SET_ONE_REG reach (KVM_REG_ARM_TIMER_* and KVM_REG_ARM_PTIMER_*). */
const TIMER_REGS = [
  "timer_cnt",
  "timer_cval",
  "timer_ctl",
  "ptimer_cnt",
  "ptimer_cval",
  "ptimer_ctl",
] as const;
/** A `kvm set_gsi_routing` entry's words (struct kvm_irq_routing_entry). */
const ARM_ROUTE_PARAMS: readonly ParamSpec[] = [
  {
    name: "gsi",
    type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a GSI", decimal: true },
    doc: "the GSI this entry routes",
  },
  {
    name: "type",
    type: { kind: "enum", values: ["irqchip", "msi"] },
    doc: "KVM_IRQ_ROUTING_IRQCHIP or _MSI",
    default: "irqchip",
  },
  { name: "irqchip", type: U32, doc: "irqchip: the chip (0: the vGIC)", default: 0 },
  { name: "pin", type: U32, doc: "irqchip: the pin, SPI pin + 32", default: 0 },
  { name: "address_lo", type: U32, doc: "msi: address bits 31:0", default: ITS_DOORBELL },
  { name: "address_hi", type: U32, doc: "msi: address bits 63:32", default: 0 },
  { name: "data", type: U32, doc: "msi: the EventID", default: 0 },
  { name: "flags", type: U32, doc: "msi: KVM_MSI_VALID_DEVID = 1", default: 0 },
  { name: "devid", type: U32, doc: "msi: the DeviceID", default: 0 },
];

/** One scenario entry as KVM's routing entry. */
function toArmRoute(e: Readonly<Record<string, Val>>): ArmRoute {
  return {
    gsi: e.gsi as number,
    type: e.type as "irqchip" | "msi",
    irqchip: e.irqchip as number,
    pin: e.pin as number,
    addressLo: e.address_lo as number,
    addressHi: e.address_hi as number,
    data: e.data as number,
    flags: e.flags as number,
    devid: e.devid as number,
  };
}

/** ICC registers a CPU_SYSREGS attribute may name (the last ones are not in KVM's table). */
const SYSREG_NAMES = [
  "pmr",
  "bpr0",
  "bpr1",
  "ap0r0",
  "ap0r1",
  "ap0r2",
  "ap0r3",
  "ap1r0",
  "ap1r1",
  "ap1r2",
  "ap1r3",
  "ctlr",
  "sre",
  "igrpen0",
  "igrpen1",
  "iar1",
  "eoir1",
  "hppir1",
  "rpr",
  "dir",
  "sgi1r",
] as const;

/** KVM_DEV_ARM_VGIC_GRP_ADDR types as scenarios name them. */
/** The vCPU a GICv2 register attribute names (KVM_DEV_ARM_VGIC_CPUID, bits [39:32]). */
const V2_CPUID = {
  name: "vcpu",
  type: { kind: "int", min: 0, max: 0xff, what: "a vcpu_id" },
  doc: "the vcpu_id in the attribute's CPUID field",
} as const;
/** DIST_REGS' CPUID: only a GICv2 reads it, so it may be left out. */
const V2_ATTR_VCPU = {
  ...V2_CPUID,
  doc: "GICv2: the vcpu_id in the attribute's CPUID field (a GICv3's DIST_REGS ignores it)",
  default: 0,
} as const;

/**
 * A GICv2 register attribute (DIST_REGS / CPU_REGS): -ENXIO on a GICv3,
 * which has no CPU_REGS group; otherwise `access`, traced.
 */
function v2Attr(
  vm: ArmVm,
  op: "get_attr" | "set_attr",
  group: "DIST_REGS" | "CPU_REGS",
  a: Readonly<Record<string, unknown>>,
  access: () => number,
): number {
  const what = `${group} vcpu ${a.vcpu} offset ${hex(a.offset as number)}`;
  const r = vm.gic.version === 2 ? access() : -ENXIO;
  const shown = r < 0 ? `${r}` : op === "get_attr" ? `= ${hex(r)}` : `<- ${hex(a.value as number)}`;
  emit(vm, "kvm", op, `${what} ${shown}`);
  return r;
}

/** KVM_CREATE_DEVICE's Arm types: KVM_DEV_TYPE_ARM_VGIC_V2, _V3, _ITS. */
const DEVICE_TYPES = ["vgic_v2", "vgic_v3", "its", "vgic_v5", "other"] as const;
/** KVM_HAS_DEVICE_ATTR's groups, by the names `HasAttrGroup` gives them. */
const HAS_ATTR_GROUPS: readonly HasAttrGroup[] = [
  "addr",
  "dist_regs",
  "cpu_regs",
  "redist_regs",
  "cpu_sysregs",
  "nr_irqs",
  "ctrl",
  "level_info",
];
const ADDR_TYPES = ["v2_dist", "v2_cpu", "v3_dist", "v3_redist", "v3_redist_region"] as const;
const ADDR_TYPE_KEYS = ["V2_DIST", "V2_CPU", "V3_DIST", "V3_REDIST", "V3_REDIST_REGION"] as const;
const ITS_REG_OFFSET = {
  kind: "int",
  min: 0,
  max: 0xffff,
  what: "an offset in the ITS control frame",
} as const;
/**
 * An ITS command's RDbase: with GITS_TYPER.PTA=0 a processor number, which
 * KVM looks up with `kvm_get_vcpu_by_id`. Any 32-bit value can be written;
 * one naming no vCPU is KVM's to answer (E_ITS_MAPC_PROCNUM_OOR,
 * E_ITS_MOVALL_PROCNUM_OOR), so the checker does not refuse it.
 */
const RDBASE = {
  kind: "int",
  min: 0,
  max: 0xffff_ffff,
  what: "an RDbase (processor number)",
  decimal: true,
} as const;
const BYTE = { kind: "int", min: 0, max: 0xff, what: "a byte" } as const;

// ---- MMIO register files -------------------------------------------------------

interface MmioReg {
  spec: RegisterSpec;
  offset: number;
  /** Bytes between elements of an indexed register. */
  stride: number;
}

const f = (
  name: string,
  lsb: number,
  width: number,
  doc: string,
  readOnly?: boolean,
): FieldSpec => ({
  name,
  lsb,
  width,
  doc,
  readOnly,
});

function reg(
  name: string,
  title: string,
  offset: number,
  doc: string,
  extra: Partial<RegisterSpec> & { stride?: number } = {},
): MmioReg {
  const { stride, ...rest } = extra;
  return {
    spec: { name, title, width: 32, fields: [], doc, ...rest },
    offset,
    stride: stride ?? 4,
  };
}

/** Per-INTID bank registers with their count in 32-bit words. */
function bankRegs(prefix: "GICD" | "GICR", words: number, suffix: string): MmioReg[] {
  const O = BankOffset;
  const r = (n: string, off: number, doc: string, count = words) =>
    reg(
      `${n}${suffix}`,
      `${prefix}_${n.toUpperCase()}${suffix || "<n>"}`,
      off,
      doc,
      suffix ? {} : { count },
    );
  return [
    r("igroupr", O.IGROUPR, "1 bit per INTID: 1 = Group 1"),
    r("isenabler", O.ISENABLER, "write 1 to enable; reads the enables"),
    r("icenabler", O.ICENABLER, "write 1 to disable; reads the enables"),
    r("ispendr", O.ISPENDR, "write 1 to set the pending latch; reads pending"),
    r("icpendr", O.ICPENDR, "write 1 to clear the pending latch; reads pending"),
    r("isactiver", O.ISACTIVER, "write 1 to set active; reads active"),
    r("icactiver", O.ICACTIVER, "write 1 to clear active; reads active"),
  ];
}

const GICD_REGS: MmioReg[] = [
  reg("ctlr", "GICD_CTLR", GicdOffset.CTLR, "distributor control", {
    fields: [
      f("enablegrp0", 0, 1, "GICv2: KVM's one enable (both groups); GICv3: dropped by KVM"),
      f("enablegrp1", 1, 1, "GICv3: KVM's one enable (both groups); GICv2: dropped by KVM"),
      f("are", 4, 1, "affinity routing (GICv3: reads 1)", true),
      f("ds", 6, 1, "disable security (GICv3: reads 1)", true),
      f(
        "nassgireq",
        8,
        1,
        "GICv4.1: SGIs without an active state (kept only with GICD_TYPER2.nASSGIcap; read-only while Group 1 stays enabled)",
      ),
    ],
  }),
  reg("typer", "GICD_TYPER", GicdOffset.TYPER, "ITLinesNumber, CPUNumber, LPIS, IDbits", {
    readonly: true,
  }),
  reg("iidr", "GICD_IIDR", GicdOffset.IIDR, "implementer (KVM: 0x4b00343b)", { readonly: true }),
  reg("typer2", "GICD_TYPER2", GicdOffset.TYPER2, "GICv3: nASSGIcap (bit 8) on a GICv4.1 host", {
    readonly: true,
    fields: [f("nassgicap", 8, 1, "the VM may set GICD_CTLR.nASSGIreq (direct vSGIs)")],
  }),
  reg("statusr", "GICD_STATUSR", GicdOffset.STATUSR, "GICv3: KVM reads all ones, WI", {
    readonly: true,
  }),
  ...bankRegs("GICD", 32, ""),
  reg(
    "ipriorityr",
    "GICD_IPRIORITYR<n>",
    BankOffset.IPRIORITYR,
    "one byte per INTID (5 bits kept)",
    {
      count: 256,
    },
  ),
  reg(
    "itargetsr",
    "GICD_ITARGETSR<n>",
    BankOffset.ITARGETSR,
    "GICv2: one byte per INTID, bit = CPU",
    {
      count: 256,
    },
  ),
  reg("icfgr", "GICD_ICFGR<n>", BankOffset.ICFGR, "2 bits per INTID: bit 2n+1 = 1 edge", {
    count: 64,
  }),
  reg("sgir", "GICD_SGIR", GicdOffset.SGIR, "GICv2: generate an SGI", {
    writeonly: true,
    fields: [
      f("sgiintid", 0, 4, "the SGI"),
      f("nsatt", 15, 1, "non-secure attribute"),
      f("cputargetlist", 16, 8, "bit n = CPU n"),
      f("targetlistfilter", 24, 2, "0 list, 1 all but self, 2 self, 3 reserved"),
    ],
  }),
  reg(
    "cpendsgir",
    "GICD_CPENDSGIR<n>",
    GicdOffset.CPENDSGIR,
    "GICv2: clear SGI sources (byte per SGI)",
    {
      count: 4,
    },
  ),
  reg(
    "spendsgir",
    "GICD_SPENDSGIR<n>",
    GicdOffset.SPENDSGIR,
    "GICv2: set SGI sources (byte per SGI)",
    {
      count: 4,
    },
  ),
  reg("irouter", "GICD_IROUTER<n>", GicdOffset.IROUTER, "GICv3: route of SPI n (n = INTID)", {
    width: 64,
    count: 1020,
    stride: 8,
    fields: [
      f("aff0", 0, 8, "Aff0"),
      f("aff1", 8, 8, "Aff1"),
      f("aff2", 16, 8, "Aff2"),
      f("irm", 31, 1, "1: any PE (KVM drops it)"),
      f("aff3", 32, 8, "Aff3 (KVM drops it)"),
    ],
  }),
  reg("pidr2", "GICD_PIDR2", GicdOffset.PIDR2, "[7:4] architecture revision", { readonly: true }),
];

const S = GicrOffset.SGI_BASE;
const GICR_REGS: MmioReg[] = [
  reg("ctlr", "GICR_CTLR", GicrOffset.CTLR, "redistributor control", {
    fields: [f("enablelpis", 0, 1, "LPIs enabled at this redistributor")],
  }),
  reg("iidr", "GICR_IIDR", GicrOffset.IIDR, "implementer", { readonly: true }),
  reg("typer", "GICR_TYPER", GicrOffset.TYPER, "PLPIS, Last, Processor_Number, affinity", {
    width: 64,
    readonly: true,
    fields: [
      f("plpis", 0, 1, "physical LPIs supported"),
      f("last", 4, 1, "last redistributor of the region"),
      f("processor_number", 8, 16, "the vcpu_id"),
      f("affinity", 32, 32, "Aff3.Aff2.Aff1.Aff0"),
    ],
  }),
  reg("waker", "GICR_WAKER", GicrOffset.WAKER, "RAZ/WI in KVM"),
  reg("propbaser", "GICR_PROPBASER", GicrOffset.PROPBASER, "LPI configuration table", {
    width: 64,
    fields: [f("idbits", 0, 5, "LPI INTID bits - 1"), f("pa", 12, 40, "address >> 12")],
  }),
  reg("pendbaser", "GICR_PENDBASER", GicrOffset.PENDBASER, "LPI pending table", {
    width: 64,
    fields: [f("pa", 16, 36, "address >> 16"), f("ptz", 62, 1, "the table is zero")],
  }),
  reg("invlpir", "GICR_INVLPIR", GicrOffset.INVLPIR, "re-read one LPI's configuration", {
    writeonly: true,
  }),
  reg("invallr", "GICR_INVALLR", GicrOffset.INVALLR, "re-read every LPI's configuration", {
    writeonly: true,
  }),
  reg("syncr", "GICR_SYNCR", GicrOffset.SYNCR, "reads 0 (KVM completes at once)", {
    readonly: true,
  }),
  ...bankRegs("GICR", 1, "0").map((r) => ({ ...r, offset: r.offset + S })),
  reg("ipriorityr", "GICR_IPRIORITYR<n>", S + BankOffset.IPRIORITYR, "SGI/PPI priorities", {
    count: 8,
  }),
  reg("icfgr", "GICR_ICFGR<n>", S + BankOffset.ICFGR, "0: SGIs (edge), 1: PPIs (level)", {
    count: 2,
  }),
];

const GICC_REGS: MmioReg[] = [
  reg("ctlr", "GICC_CTLR", GiccOffset.CTLR, "CPU interface control", {
    fields: [
      f("enablegrp0", 0, 1, "Group 0 enable"),
      f("enablegrp1", 1, 1, "Group 1 enable"),
      f("ackctl", 2, 1, "acknowledge control"),
      f("fiqen", 3, 1, "Group 0 as FIQ"),
      f("cbpr", 4, 1, "Group 1 uses BPR"),
      f("eoimode", 9, 1, "1: EOIR drops priority only, DIR deactivates"),
    ],
  }),
  reg("pmr", "GICC_PMR", GiccOffset.PMR, "priority mask"),
  reg("bpr", "GICC_BPR", GiccOffset.BPR, "binary point"),
  reg("iar", "GICC_IAR", GiccOffset.IAR, "acknowledge: [9:0] INTID, [12:10] source CPU", {
    readonly: true,
  }),
  reg("eoir", "GICC_EOIR", GiccOffset.EOIR, "end of interrupt", { writeonly: true }),
  reg("rpr", "GICC_RPR", GiccOffset.RPR, "running priority", { readonly: true }),
  reg("hppir", "GICC_HPPIR", GiccOffset.HPPIR, "highest pending interrupt", { readonly: true }),
  reg("abpr", "GICC_ABPR", GiccOffset.ABPR, "aliased binary point (Group 1)"),
  reg("apr0", "GICC_APR0", GiccOffset.APR0, "active priorities"),
  reg("dir", "GICC_DIR", GiccOffset.DIR, "deactivate (EOImode=1)", { writeonly: true }),
];

const G = GitsOffset;
/** GITS_BASER / GITS_CBASER field positions, from the ITS model. */
const B = {
  PAGE_SIZE_SHIFT: Number(GitsBaser.PAGE_SIZE_SHIFT),
  SHAREABILITY_SHIFT: Number(GitsBaser.SHAREABILITY_SHIFT),
  ENTRY_SIZE_SHIFT: Number(GitsBaser.ENTRY_SIZE_SHIFT),
  OUTER_CACHE_SHIFT: Number(GitsBaser.OUTER_CACHE_SHIFT),
  TYPE_SHIFT: Number(GitsBaser.TYPE_SHIFT),
  INNER_CACHE_SHIFT: Number(GitsBaser.INNER_CACHE_SHIFT),
} as const;
const GITS_REGS: MmioReg[] = [
  reg("ctlr", "GITS_CTLR", G.CTLR, "ITS control: Enabled, Quiescent (CREADR == CWRITER)", {
    fields: [
      f("enabled", 0, 1, "the ITS translates and runs commands"),
      f("quiescent", 31, 1, "nothing left to run", true),
    ],
  }),
  reg("iidr", "GITS_IIDR", G.IIDR, "implementer (KVM: 0x4b00043b, ABI revision 0)", {
    readonly: true,
  }),
  reg("typer", "GITS_TYPER", G.TYPER, "PLPIS, ITT entry size, ID bits, Devbits, PTA=0", {
    width: 64,
    readonly: true,
    fields: [
      f("physical", 0, 1, "physical LPIs"),
      f("itt_entry_size", 4, 4, "bytes per ITE - 1"),
      f("idbits", 8, 5, "EventID bits - 1"),
      f("devbits", 13, 5, "DeviceID bits - 1"),
      f("pta", 19, 1, "0: RDbase is a processor number"),
    ],
  }),
  reg(
    "cbaser",
    "GITS_CBASER",
    G.CBASER,
    "command queue base (ignored while Enabled; zeroes CREADR and CWRITER)",
    {
      width: 64,
      fields: [
        f("size", 0, 8, "4 KB pages - 1"),
        f("shareability", B.SHAREABILITY_SHIFT, 2, "0 non, 1 inner, 2 outer"),
        f("pa", 12, 40, "address >> 12 (64 KB aligned in KVM)"),
        f("outercache", B.OUTER_CACHE_SHIFT, 3, "outer cacheability"),
        f("innercache", B.INNER_CACHE_SHIFT, 3, "inner cacheability"),
        f("valid", 63, 1, "the queue is valid"),
      ],
    },
  ),
  reg(
    "cwriter",
    "GITS_CWRITER",
    G.CWRITER,
    "offset of the next command to write: a write hands the ITS the commands up to it (vgic_mmio_write_its_cwriter); `its <command>` writes one and advances it",
    {
      width: 64,
      fields: [f("offset", 5, 15, "command index")],
    },
  ),
  reg("creadr", "GITS_CREADR", G.CREADR, "offset of the next command the ITS reads", {
    width: 64,
    readonly: true,
    fields: [f("offset", 5, 15, "command index")],
  }),
  reg(
    "baser",
    "GITS_BASER<n>",
    G.BASER,
    "table n: 0 devices, 1 collections, 2..7 RAZ/WI (ignored while Enabled)",
    {
      width: 64,
      count: 8,
      stride: 8,
      fields: [
        f("size", 0, 8, "pages - 1"),
        f("page_size", B.PAGE_SIZE_SHIFT, 2, "KVM: always 2 (64 KB)"),
        f("shareability", B.SHAREABILITY_SHIFT, 2, "0 non, 1 inner, 2 outer"),
        f("pa", 12, 36, "address >> 12"),
        f("entry_size", B.ENTRY_SIZE_SHIFT, 5, "bytes per entry - 1 (read-only)", true),
        f("outercache", B.OUTER_CACHE_SHIFT, 3, "outer cacheability"),
        f("type", B.TYPE_SHIFT, 3, "1 devices, 4 collections (read-only)", true),
        f("innercache", B.INNER_CACHE_SHIFT, 3, "inner cacheability"),
        f("indirect", 62, 1, "two-level table (KVM: devices only)"),
        f("valid", 63, 1, "the table is valid"),
      ],
    },
  ),
  reg("pidr2", "GITS_PIDR2", G.PIDR2, "[7:4] architecture revision (3)", { readonly: true }),
];

/**
 * GICD_* registers by name (`gicd.isenabler[1]`).
 *
 * @example
 * ```ts
 * GICD_FILE.registers.find((r) => r.name === "irouter")!.width; // 64
 * ```
 */
export const GICD_FILE: RegisterFile = { prefix: "gicd", registers: GICD_REGS.map((r) => r.spec) };
/**
 * The acting vCPU's GICR_* registers (`gicr.typer`, `gicr.icactiver0`).
 *
 * @example
 * ```ts
 * GICR_FILE.registers.find((r) => r.name === "typer")!.fields.map((f) => f.name);
 * // ["plpis", "last", "processor_number", "affinity"]
 * ```
 */
export const GICR_FILE: RegisterFile = { prefix: "gicr", registers: GICR_REGS.map((r) => r.spec) };
/**
 * GICv2 GICC_* registers of the acting vCPU (`gicc.iar`).
 *
 * @example
 * ```ts
 * GICC_FILE.registers.map((r) => r.name).includes("iar"); // true
 * ```
 */
export const GICC_FILE: RegisterFile = { prefix: "gicc", registers: GICC_REGS.map((r) => r.spec) };
/**
 * The vITS's GITS_* registers (`gits.ctlr`, `gits.baser[1]`).
 *
 * @example
 * ```ts
 * GITS_FILE.registers.find((r) => r.name === "baser")!.count; // 8
 * ```
 */
export const GITS_FILE: RegisterFile = { prefix: "gits", registers: GITS_REGS.map((r) => r.spec) };

const MMIO = new Map<RegisterSpec, { file: string; reg: MmioReg }>();
for (
  const [file, regs] of [
    ["gicd", GICD_REGS],
    ["gicr", GICR_REGS],
    ["gicc", GICC_REGS],
    ["gits", GITS_REGS],
  ] as const
) {
  for (const r of regs) MMIO.set(r.spec, { file, reg: r });
}

function composeValue(args: Args): bigint {
  const a = args.$register!;
  if (a.raw !== undefined) return a.raw;
  let v = 0n;
  for (const [fl, n] of a.fields) {
    v |= (BigInt(n) & ((1n << BigInt(fl.width)) - 1n)) << BigInt(fl.lsb);
  }
  return v;
}

function mmioAccess(args: Args): { file: string; offset: number; size: 1 | 4 | 8; name: string } {
  const a = args.$register!;
  const m = MMIO.get(a.register)!;
  const byte = args.byte as number;
  let offset = m.reg.offset + a.index * m.reg.stride;
  let size: 1 | 4 | 8 = a.register.width === 64 ? 8 : 4;
  if (byte >= 0) {
    offset += byte;
    size = 1;
  }
  const name = `${m.file}.${a.register.name}${
    a.register.count !== undefined ? `[${a.index}]` : ""
  }${byte >= 0 ? ` byte ${byte}` : ""}`;
  return { file: m.file, offset, size, name };
}

/**
 * A guest access to the GIC's frames needs a vGIC: without one the address
 * reaches no in-kernel device and KVM exits to the VMM (KVM_EXIT_MMIO),
 * which the model does not run.
 */
function needVgic(vm: ArmVm, what: string): void {
  if (!vm.gic.device.created) {
    throw new CommandInputError(
      `${what}: the VM has no vGIC yet (gic { deferred } before kvm create_device), so the access reaches no in-kernel device and exits to the VMM as KVM_EXIT_MMIO, which the model does not run`,
    );
  }
}

/** A GICv3 CPU interface instruction (`eoi`, `deactivate`, `sgi`) where the ICC registers UNDEF. */
function iccInstructionUndefs(vm: ArmVm, cpu: number, insn: string, reg: string): boolean {
  const why = vm.iccUndefined();
  if (why === undefined) return false;
  vm.cpus[cpu].undefined(`${insn} ${reg}: ${why}`);
  return true;
}

function mmioWrite(vm: ArmVm, cpu: number, args: Args): void {
  needVgic(vm, `write ${args.register}`);
  const { file, offset, size, name } = mmioAccess(args);
  const value = composeValue(args);
  const gic = vm.gic;
  const write = (id: number) => {
    let ok: boolean;
    if (file === "gicd") {
      ok = gic.version === 2
        ? gicv2WriteDist(gic, cpu, offset, Number(value & 0xffff_ffffn), size === 8 ? 4 : size, id)
        : gic.writeDist(offset, value, size, id);
    } else if (file === "gicr") {
      ok = gic.version === 3 && gic.writeGicr(cpu, offset, value, size, id);
    } else if (file === "gits") {
      ok = gic.its !== null && gic.its.writeRegister(offset, value, size);
    } else {
      ok = gic.version === 2 && gicv2WriteCpu(gic, cpu, offset, Number(value & 0xffff_ffffn));
    }
    if (!ok) {
      emit(vm, `vcpu${cpu}`, "write.ignored", `${name}: write ignored (RAZ/WI or read-only here)`);
    }
  };
  // Untraced, no text is built (and no event opened: the cause is 0).
  if (!vm.trace.enabled) write(0);
  else acting(vm, `vcpu${cpu}`, "write", `${name} <- 0x${value.toString(16)}`, write);
}

function mmioRead(vm: ArmVm, cpu: number, args: Args): Val {
  needVgic(vm, `read ${args.register}`);
  const { file, offset, size } = mmioAccess(args);
  const gic = vm.gic;
  if (file === "gicd") {
    if (gic.version === 2) return gicv2ReadDist(gic, cpu, offset, size === 8 ? 4 : size);
    return gic.dist.read(offset, size);
  }
  if (file === "gicr") return gic.version === 3 ? gic.rds[cpu].read(offset, size) : 0;
  if (file === "gits") return gic.its ? gic.its.readRegister(offset, size) : 0n;
  return gic.version === 2 ? gicv2ReadCpu(gic, cpu, offset) : 0;
}

// ---- helpers -------------------------------------------------------------------------

function emit(vm: ArmVm, source: string, kind: string, text: string): void {
  if (vm.trace.enabled) vm.trace.emit(source, kind, text);
}

/** Runs `fn` under a root trace event for the action. */
function acting<T>(
  vm: ArmVm,
  source: string,
  kind: string,
  text: string,
  fn: (id: number) => T,
): T {
  const id = vm.trace.emit(source, kind, text);
  vm.trace.open(id);
  try {
    return fn(id);
  } finally {
    vm.trace.close(id);
  }
}

/** KVM_SIGNAL_MSI of the command's arguments. */
const signalMsiOf = (vm: ArmVm, a: Args): number =>
  vm.gic.signalMsi(a.address as number, a.data as number, a.flags as number, a.devid as number);

const hex = (n: Val) =>
  typeof n === "number" || typeof n === "bigint" ? `0x${n.toString(16)}` : String(n);

/**
 * The result of an access that UNDEFs: the destination register is not
 * written, and the exception is taken at the next boundary.
 */
const UNDEF = -1;

/**
 * Whether the ICC access UNDEFs on this VM (no GICv3 system register
 * interface, or a register KVM's vGIC lacks); if so the vCPU raises it.
 */
function iccUndefs(vm: ArmVm, cpu: number, r: IccRegister, what: string): boolean {
  const write = what.startsWith("MSR");
  const why = vm.iccUndefined() ?? r.undef ??
    ((write ? r.access === "ro" : r.access === "wo")
      ? `the ${r.access === "ro" ? "read-only" : "write-only"} register has no ${
        write ? "MSR" : "MRS"
      } encoding (UNDEFINED)`
      : undefined);
  if (why === undefined) return false;
  vm.cpus[cpu].undefined(`${what}: ${why}`);
  return true;
}

function iccRead(vm: ArmVm, cpu: number, r: IccRegister): number {
  if (iccUndefs(vm, cpu, r, `MRS ${r.title}`)) return UNDEF;
  const cif = vm.gic.cifs[cpu];
  if (r.name === "iar0" || r.name === "iar1") {
    if (!vm.trace.enabled) return cif.read(r.name);
    return acting(vm, `vcpu${cpu}`, "read", `${r.title}`, () => {
      const v = cif.read(r.name);
      emit(vm, `vcpu${cpu}`, "ack", `${r.title} = ${v}`);
      return v;
    });
  }
  const v = cif.read(r.name);
  // Every instruction leaves an event, so an instruction window shows where each one fell.
  if (vm.trace.enabled) emit(vm, `vcpu${cpu}`, "read", `${r.title} = 0x${v.toString(16)}`);
  return v;
}

function iccWrite(vm: ArmVm, cpu: number, r: IccRegister, value: bigint): void {
  // Untraced, no text is built for it.
  if (!vm.trace.enabled) iccWriteBody(vm, cpu, r, value);
  else {
    acting(
      vm,
      `vcpu${cpu}`,
      "write",
      `${r.title} <- 0x${value.toString(16)}`,
      () => iccWriteBody(vm, cpu, r, value),
    );
  }
}

/** {@link iccWrite}'s write of the register. */
function iccWriteBody(vm: ArmVm, cpu: number, r: IccRegister, value: bigint): void {
  if (iccUndefs(vm, cpu, r, `MSR ${r.title}`)) return;
  if (r.name === "sgi1r" || r.name === "sgi0r" || r.name === "asgi1r") {
    // access_gic_sgi: with one Security state ASGI1R raises Group 0 SGIs, as SGI0R does.
    vm.gic.sgi(cpu, value, r.name !== "sgi1r");
    return;
  }
  if (!vm.gic.cifs[cpu].write(r.name, Number(value & 0xffff_ffffn))) {
    emit(vm, `vcpu${cpu}`, "write.ignored", `${r.title}: no effect`);
  }
}

function iccCommands(): Cmd[] {
  const out: Cmd[] = [];
  // Both directions of every register: the one it lacks UNDEFs, as on hardware.
  for (const r of ICC_REGISTERS) {
    {
      out.push({
        actor: "vcpu",
        name: `read icc_${r.name}`,
        doc: `MRS ${r.title}: ${r.access === "wo" ? "write-only: UNDEF" : r.doc}`,
        params: [],
        returns:
          "the register value, or UNDEF (-1) when the access is UNDEFINED (no GICv3 vGIC): the exception is taken at the next boundary",
        run: (vm, cpu) => iccRead(vm, cpu, r),
      });
    }
    {
      const params: ParamSpec[] = [
        {
          name: "value",
          type: { kind: "u64" },
          doc: "the whole value (or give fields)",
          positional: true,
          default: -1,
        },
        ...r.fields.map((fl): ParamSpec => ({
          name: fl.name,
          type: { kind: "int", min: 0, max: 2 ** fl.width - 1, what: fl.name },
          doc: fl.doc,
          default: -1,
        })),
      ];
      out.push({
        actor: "vcpu",
        name: `write icc_${r.name}`,
        doc: `MSR ${r.title}: ${r.access === "ro" ? "read-only: UNDEF" : r.doc}`,
        params,
        run: (vm, cpu, a) => {
          let v = typeof a.value === "bigint" ? a.value : -1n;
          if (v < 0n) {
            v = 0n;
            for (const fl of r.fields) {
              const n = a[fl.name] as number;
              if (n >= 0) v |= BigInt(n) << BigInt(fl.lsb);
            }
          }
          iccWrite(vm, cpu, r, v);
        },
      });
    }
  }
  return out;
}

/** End of the handler's interrupt: the EOIR of its group (GICC_EOIR on GICv2). */
function endOfInterrupt(vm: ArmVm, cpu: number, intid: number, deactivate: boolean): void {
  const c = vm.cpus[cpu];
  const id = intid >= 0 ? intid : c.currentIntid;
  const gic = vm.gic;
  const what = deactivate
    ? "DIR"
    : gic.version === 2
    ? "GICC_EOIR"
    : c.inFiq
    ? "ICC_EOIR0_EL1"
    : "ICC_EOIR1_EL1";
  // A handler's EOI, thousands in a run: untraced, no text is built for it.
  if (!vm.trace.enabled) eoiWrite(vm, cpu, id, deactivate, what);
  else {
    acting(
      vm,
      `vcpu${cpu}`,
      "write",
      `${what} <- ${id}`,
      () => eoiWrite(vm, cpu, id, deactivate, what),
    );
  }
}

/** {@link endOfInterrupt}'s write of EOIR (`what`) or DIR. */
function eoiWrite(vm: ArmVm, cpu: number, id: number, deactivate: boolean, what: string): void {
  const gic = vm.gic;
  if (gic.version === 2) needVgic(vm, deactivate ? "deactivate" : "eoi");
  else if (iccInstructionUndefs(vm, cpu, "MSR", deactivate ? "ICC_DIR_EL1" : what)) return;
  if (deactivate) {
    if (gic.version === 2) gicv2WriteCpu(gic, cpu, GiccOffset.DIR, id);
    else gic.cifs[cpu].dir(id);
  } else if (gic.version === 2) gicv2WriteCpu(gic, cpu, GiccOffset.EOIR, id);
  else gic.cifs[cpu].eoi(vm.cpus[cpu].inFiq ? 0 : 1, id);
}

/** What Linux's GIC drivers do to bring up the GIC for one CPU (and, once, the distributor and ITS). */
function gicEnable(vm: ArmVm, cpu: number): void {
  const gic = vm.gic;
  needVgic(vm, "gic enable");
  acting(vm, `vcpu${cpu}`, "gic.enable", "GIC init as Linux does it", () => {
    if (gic.version === 2) {
      gicv2WriteDist(gic, cpu, GicdOffset.CTLR, 1, 4);
      gicv2WriteCpu(gic, cpu, GiccOffset.CTLR, 1);
      gicv2WriteCpu(gic, cpu, GiccOffset.PMR, 0xf0);
      return;
    }
    // gic_dist_init, on the first CPU up: the distributor is disabled, then
    // enabled with nASSGIreq when GICD_TYPER2 offers nASSGIcap (Linux asks
    // for SGIs without an active state wherever it may).
    const d = gic.dist;
    if (!d.groupEnabled(1)) {
      const req = (Number(d.read(GicdOffset.TYPER2)) & GicdTyper2.nASSGIcap) !== 0
        ? GicdCtlr.nASSGIreq
        : 0;
      gic.writeDist(GicdOffset.CTLR, d.ctlr, 4);
      gic.writeDist(GicdOffset.CTLR, d.ctlr | GicdCtlr.EnableGrp1 | req, 4);
    }
    const cif = gic.cifs[cpu];
    cif.write("pmr", 0xf0);
    cif.write("bpr1", 0);
    cif.write("igrpen1", 1);
    if (gic.its) {
      // The configuration table with 16 LPI INTID bits (ITS_MAX_LPI_NRBITS)
      // and this vCPU's zeroed pending table, then EnableLPIs.
      const M = ArmMemoryMap;
      gic.writeGicr(cpu, GicrOffset.PROPBASER, BigInt(M.LPI_CONFIG) | 15n, 8);
      gic.writeGicr(
        cpu,
        GicrOffset.PENDBASER,
        BigInt(M.PENDING_TABLES + cpu * M.PENDING_TABLE_STRIDE),
        8,
      );
      gic.writeGicr(cpu, GicrOffset.CTLR, 1, 4);
      gic.its.linuxEnable();
    }
  });
}

/** Linux's SGI send: ICC_SGI1R_EL1 per Aff3.Aff2.Aff1 cluster (GICv3), GICD_SGIR (GICv2). */
function sendSgi(vm: ArmVm, cpu: number, a: Args): void {
  const gic = vm.gic;
  const intid = a.intid as number;
  const to = a.to as string;
  acting(
    vm,
    `vcpu${cpu}`,
    "sgi.send",
    `SGI ${intid} to ${to === "list" ? `{${(a.targets as number[]).join(", ")}}` : to}`,
    () => {
      if (gic.version === 2) {
        needVgic(vm, "sgi");
        const filter = to === "others" ? 1 : to === "self" ? 2 : 0;
        let list = 0;
        for (const t of a.targets as number[]) list |= 1 << t;
        gicv2WriteDist(
          gic,
          cpu,
          GicdOffset.SGIR,
          intid | ((list & 0xff) << 16) | (filter << 24),
          4,
        );
        return;
      }
      if (iccInstructionUndefs(vm, cpu, "MSR", "ICC_SGI1R_EL1")) return;
      if (to === "others") {
        gic.sgi(cpu, (BigInt(intid) << 24n) | (1n << 40n), false);
        return;
      }
      const targets = to === "self" ? [cpu] : (a.targets as number[]);
      const clusters = new Map<number, number>();
      for (const t of targets) {
        if (t >= gic.vcpus) continue;
        const cluster = t >> 4;
        clusters.set(cluster, (clusters.get(cluster) ?? 0) | (1 << (t & 0xf)));
      }
      for (const [cluster, list] of clusters) {
        const aff1 = BigInt(cluster & 0xff), aff2 = BigInt((cluster >> 8) & 0xff);
        gic.sgi(cpu, BigInt(list) | (aff1 << 16n) | (BigInt(intid) << 24n) | (aff2 << 32n), false);
      }
    },
  );
}

function its(vm: ArmVm, cpu: number, cmd: ItsCommand): number {
  const gic = vm.gic;
  if (!gic.its) {
    emit(vm, `vcpu${cpu}`, "its.missing", "no ITS in this VM ('gic v3 { its }')");
    return -ENODEV;
  }
  if (!vm.trace.enabled) return gic.its.command(cmd) ?? -1;
  return acting(vm, `vcpu${cpu}`, "its.cmd", `queue ${cmd.op}`, () => gic.its!.command(cmd) ?? -1);
}

const DEV_EVENT: ParamSpec[] = [
  { name: "device", type: DEVICE_ID, doc: "DeviceID" },
  { name: "event", type: EVENT_ID, doc: "EventID" },
];

function itsCommands(): Cmd[] {
  const devEv = (name: string, op: ItsCommand["op"], doc: string): Cmd => ({
    actor: "vcpu",
    name: `its ${name}`,
    doc,
    params: DEV_EVENT,
    returns: "KVM's result code: 0, an E_ITS_* value, -1 while queued",
    run: (vm, cpu, a) => its(vm, cpu, { op, device: a.device as number, event: a.event as number }),
  });
  return [
    {
      actor: "vcpu",
      name: "its mapd",
      doc:
        "MAPD: map a device with an ITT for 2^bits EventIDs (Size = bits - 1), or unmap it (valid=0)",
      params: [
        { name: "device", type: DEVICE_ID, doc: "DeviceID" },
        {
          name: "bits",
          type: { kind: "int", min: 1, max: 32, what: "EventID bits" },
          doc: "EventID bits (Size + 1)",
          default: 1,
        },
        { name: "valid", type: BIT, doc: "V", default: 1 },
        {
          name: "itt",
          type: { kind: "int", min: 0, max: 0xffff_ffff_ff00, what: "an ITT address" },
          doc:
            "ITT_addr: the ITT's guest-physical address (bits [51:8] kept; KVM_DEV_ARM_ITS_SAVE_TABLES writes the ITEs there)",
          default: 0,
        },
      ],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, {
          op: "MAPD",
          device: a.device as number,
          size: (a.bits as number) - 1,
          valid: a.valid as number,
          ittAddr: (a.itt as number) - ((a.itt as number) % 256),
        }),
    },
    {
      actor: "vcpu",
      name: "its mapc",
      doc:
        "MAPC: map a collection to a redistributor (target = vCPU index: GITS_TYPER.PTA=0), or remove it",
      params: [
        { name: "collection", type: ICID, doc: "ICID" },
        { name: "target", type: RDBASE, doc: "RDbase: the vCPU's processor number", default: 0 },
        { name: "valid", type: BIT, doc: "V", default: 1 },
      ],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, {
          op: "MAPC",
          collection: a.collection as number,
          target: a.target as number,
          valid: a.valid as number,
        }),
    },
    {
      actor: "vcpu",
      name: "its mapti",
      doc: "MAPTI: map (DeviceID, EventID) to a physical LPI in a collection",
      params: [
        ...DEV_EVENT,
        { name: "lpi", type: LPI, doc: "pINTID" },
        { name: "collection", type: ICID, doc: "ICID" },
      ],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, {
          op: "MAPTI",
          device: a.device as number,
          event: a.event as number,
          lpi: a.lpi as number,
          collection: a.collection as number,
        }),
    },
    {
      actor: "vcpu",
      name: "its mapi",
      doc: "MAPI: as MAPTI with pINTID = EventID",
      params: [...DEV_EVENT, { name: "collection", type: ICID, doc: "ICID" }],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, {
          op: "MAPI",
          device: a.device as number,
          event: a.event as number,
          collection: a.collection as number,
        }),
    },
    devEv("int", "INT", "INT: make the event's LPI pending as if the device had sent it"),
    devEv("clear", "CLEAR", "CLEAR: remove the event's LPI pending state"),
    devEv("discard", "DISCARD", "DISCARD: remove the ITE and its pending state"),
    devEv("inv", "INV", "INV: re-read the event's LPI configuration byte"),
    {
      actor: "vcpu",
      name: "its movi",
      doc: "MOVI: move the event to another collection (its pending state follows)",
      params: [...DEV_EVENT, { name: "collection", type: ICID, doc: "the new ICID" }],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, {
          op: "MOVI",
          device: a.device as number,
          event: a.event as number,
          collection: a.collection as number,
        }),
    },
    {
      actor: "vcpu",
      name: "its movall",
      doc: "MOVALL: move every LPI of one redistributor to another",
      params: [
        { name: "from", type: RDBASE, doc: "RDbase1" },
        { name: "to", type: RDBASE, doc: "RDbase2" },
      ],
      returns: "KVM's result code",
      run: (vm, cpu, a) =>
        its(vm, cpu, { op: "MOVALL", target: a.from as number, target2: a.to as number }),
    },
    {
      actor: "vcpu",
      name: "its invall",
      doc: "INVALL: re-read the configuration of every LPI of the collection's vCPU",
      params: [{ name: "collection", type: ICID, doc: "ICID" }],
      returns: "KVM's result code",
      run: (vm, cpu, a) => its(vm, cpu, { op: "INVALL", collection: a.collection as number }),
    },
    {
      actor: "vcpu",
      name: "its sync",
      doc: "SYNC: wait for earlier commands' effects (KVM: nothing to do)",
      params: [{ name: "target", type: RDBASE, doc: "RDbase", default: 0 }],
      returns: "KVM's result code",
      run: (vm, cpu, a) => its(vm, cpu, { op: "SYNC", target: a.target as number }),
    },
    {
      actor: "vcpu",
      name: "its enable",
      doc:
        "Linux's ITS bring-up (its_alloc_tables, its_probe_one): GITS_BASER0/1 and GITS_CBASER (64 KB queue) Valid where they are not, then GITS_CTLR.Enabled = 1 (runs queued commands)",
      params: [],
      run: (vm, cpu) =>
        acting(
          vm,
          `vcpu${cpu}`,
          "write",
          "GITS_BASER0/1, GITS_CBASER Valid; GITS_CTLR <- 1",
          () => {
            vm.gic.its?.linuxEnable();
          },
        ),
    },
    {
      actor: "vcpu",
      name: "its disable",
      doc: "GITS_CTLR.Enabled = 0 (vgic_mmio_write_its_ctlr: the translation cache is emptied)",
      params: [],
      run: (vm, cpu) =>
        acting(vm, `vcpu${cpu}`, "write", "GITS_CTLR <- 0", () => {
          vm.gic.its?.writeRegister(GitsOffset.CTLR, 0n, 4);
        }),
    },
  ];
}

function lpiConfig(
  vm: ArmVm,
  cpu: number,
  intid: number,
  value: number,
  invalidate: boolean,
): void {
  const gic = vm.gic;
  acting(
    vm,
    `vcpu${cpu}`,
    "lpi.config",
    `LPI ${intid} config byte <- ${hex(value)}${invalidate ? ", then INV" : ""}`,
    () => {
      gic.lpis.writeConfig(intid, value);
      if (invalidate) gic.invalidate(intid);
    },
  );
}

function timerOf(vm: ArmVm, cpu: number, a: Args) {
  return vm.timers[cpu][a.timer as "virt" | "phys"];
}

/** The guest's reads of the generic timer's system registers (Arm ARM D11, D17.10). */
const COUNTER_READS: ReadonlyArray<{
  name: string;
  title: string;
  doc: string;
  returns: string;
  read: (t: { virt: ArchTimer; phys: ArchTimer }) => Val;
}> = [
  {
    name: "cntvct",
    title: "CNTVCT_EL0",
    doc:
      "the virtual counter, 64 bits: the host counter less the VM's voffset (Arm ARM D11.2.1; Linux kvm_timer_vcpu_init)",
    returns: "the counter",
    read: (t) => t.virt.counter,
  },
  {
    name: "cntpct",
    title: "CNTPCT_EL0",
    doc: "the physical counter, 64 bits: the host counter less the VM's poffset (Arm ARM D11.2.1)",
    returns: "the counter",
    read: (t) => t.phys.counter,
  },
  {
    name: "cntfrq",
    title: "CNTFRQ_EL0",
    doc: "the counter frequency: 1 GHz here (Arm ARM D11.2.1, Armv8.6 fixes 1 GHz)",
    returns: "ticks per second",
    read: () => CNTFRQ_HZ,
  },
  ...(["virt", "phys"] as const).flatMap((w) => {
    const x = w === "virt" ? "V" : "P";
    return [
      {
        name: `cnt${x.toLowerCase()}_ctl`,
        title: `CNT${x}_CTL_EL0`,
        doc: "ENABLE, IMASK and ISTATUS (Arm ARM D11.2.4)",
        returns: "the register",
        read: (t: { virt: ArchTimer; phys: ArchTimer }) => t[w].ctl,
      },
      {
        name: `cnt${x.toLowerCase()}_cval`,
        title: `CNT${x}_CVAL_EL0`,
        doc: "the 64-bit compare value (Arm ARM D11.2.4)",
        returns: "the register",
        read: (t: { virt: ArchTimer; phys: ArchTimer }) => t[w].cval,
      },
      {
        name: `cnt${x.toLowerCase()}_tval`,
        title: `CNT${x}_TVAL_EL0`,
        doc:
          "CVAL - counter as a signed 32-bit value, <= 0 once expired (Arm ARM D11.2.4; Linux kvm_arm_timer_read)",
        returns: "a signed 32-bit value",
        read: (t: { virt: ArchTimer; phys: ArchTimer }) => t[w].tval,
      },
    ];
  }),
];

/** KVM_{SET,GET,HAS}_DEVICE_ATTR on a vCPU fd, group KVM_ARM_VCPU_PMU_V3_CTRL (0). */
function pmuAttrCommands(): Cmd[] {
  const vcpuParam = { name: "vcpu", type: VCPU_ID, doc: "the vCPU whose fd is used" };
  const fd = (vm: ArmVm, cpu: number) => {
    if (!vm.gic.vcpuExists(cpu)) {
      throw new CommandInputError(
        `vcpu${cpu}: the VMM has no vCPU fd for it yet: create it with \`kvm create_vcpu id=${cpu}\` first`,
      );
    }
  };
  return [
    {
      actor: "vmm",
      name: "kvm pmu_set_irq",
      doc:
        "KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ) (kvm_arm_pmu_v3_set_attr): -ENODEV without the PMU feature (vm { pmu vcpu_feature }), -EBUSY once initialised or when this vCPU's IRQ is set, -EINVAL without a vGIC, for an SGI, or for a PPI another vCPU's PMU does not share or an SPI another vCPU's PMU has (pmu_irq_is_valid: one PPI for all, or an SPI each, which the PMU then owns and drives, KVM_IRQ_LINE on it ignored)",
      params: [vcpuParam, { name: "irq", type: U32, doc: "the INTID (a PPI)" }],
      returns: "0 or -ENODEV / -EBUSY / -EINVAL",
      run: (vm, _c, a, source) => {
        const cpu = a.vcpu as number, irq = a.irq as number;
        fd(vm, cpu);
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${cpu} PMU_V3_IRQ <- ${irq}`,
          () => vm.pmuSetIrq(cpu, irq),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_get_irq",
      doc:
        "KVM_GET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_IRQ) (kvm_arm_pmu_v3_get_attr): the PMU's INTID; -EINVAL without a vGIC, -ENODEV without the PMU feature, -ENXIO before it is set",
      params: [vcpuParam],
      returns: "the INTID, or -EINVAL / -ENODEV / -ENXIO",
      run: (vm, _c, a) => {
        const cpu = a.vcpu as number;
        fd(vm, cpu);
        if (!vm.gic.device.created) return -EINVAL;
        const pmu = vm.pmus[cpu];
        if (pmu === undefined) return -ENODEV;
        return pmu.irq < 0 ? -ENXIO : pmu.irq;
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_init",
      doc:
        "KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_INIT) (kvm_arm_pmu_v3_init): -ENODEV without the PMU feature or (with a vGIC) before CTRL_INIT, -EBUSY when done already, -ENXIO without an IRQ; then the PMU owns its PPI (kvm_vgic_set_owner) and drives it",
      params: [vcpuParam],
      returns: "0 or -ENODEV / -EBUSY / -ENXIO",
      run: (vm, _c, a, source) => {
        const cpu = a.vcpu as number;
        fd(vm, cpu);
        const pmu = vm.pmus[cpu];
        const p = pmu?.irq ?? -1;
        if (p >= 0 && !pmu!.created && vm.timerPpis.ppi.includes(p)) {
          throw new CommandInputError(
            `kvm pmu_init: PPI ${p} is a timer's, so kvm_vgic_set_owner refuses it; that answer is not modelled`,
          );
        }
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${cpu} PMU_V3_INIT`,
          () => vm.pmuInit(cpu),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_set_nr_counters",
      doc:
        "KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_SET_NR_COUNTERS) (kvm_arm_pmu_v3_set_nr_counters): the VM's PMCR_EL0.N, every vCPU's; -ENODEV without the PMU feature, -EBUSY once this vCPU's PMU is initialised or a vCPU has run, -EINVAL for more than the host's 6",
      params: [vcpuParam, { name: "n", type: U32, doc: "the number of event counters" }],
      returns: "0 or -ENODEV / -EBUSY / -EINVAL",
      run: (vm, _c, a, source) => {
        const cpu = a.vcpu as number;
        fd(vm, cpu);
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${cpu} PMU_V3_SET_NR_COUNTERS <- ${a.n}`,
          () => vm.pmuSetNrCounters(cpu, a.n as number),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_set_pmu",
      doc:
        `KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_SET_PMU) (kvm_arm_pmu_v3_set_pmu): the host PMU the VM's vPMU is backed by, named by its perf type; the model's host has one, type ${PMU_HOST_TYPE}. -ENODEV without the PMU feature, -EBUSY once this vCPU's PMU is initialised, -ENXIO for a type no host PMU has, -EBUSY once a vCPU has run; else the VM takes that PMU again with its number of counters (kvm_arm_set_pmu: PMCR_EL0.N back to the host's ${PMU_PMCR_N}, undoing an earlier SET_NR_COUNTERS)`,
      params: [vcpuParam, {
        name: "id",
        type: {
          kind: "int",
          min: -0x8000_0000,
          max: 0x7fff_ffff,
          what: "a perf PMU type",
          decimal: true,
        },
        doc: "the int the attribute points at: a host PMU's perf type",
      }],
      returns: "0 or -ENODEV / -EBUSY / -ENXIO",
      run: (vm, _c, a, source) => {
        const cpu = a.vcpu as number;
        fd(vm, cpu);
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${cpu} PMU_V3_SET_PMU <- ${a.id}`,
          () => vm.pmuSetPmu(cpu, a.id as number),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_set_filter",
      doc:
        "KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, KVM_ARM_VCPU_PMU_V3_FILTER) with struct kvm_pmu_event_filter (kvm_arm_pmu_v3_set_attr): -ENODEV without the PMU feature, -EBUSY once this vCPU's PMU is initialised, -EINVAL when base + nevents passes 0x10000 or action is neither ALLOW (0) nor DENY (1), -EBUSY once a vCPU has run; else the VM's filter, made by the first call (all denied after an ALLOW, all allowed after a DENY), allows or denies the range. A denied event's counters do not count (no perf event: kvm_pmu_create_perf_event; the cycle counter is CPU_CYCLES, 0x11), SW_INCR and CHAIN count regardless, and PMCEID0/1_EL0 hide it (kvm_pmu_get_pmceid)",
      params: [
        vcpuParam,
        {
          name: "base",
          type: { kind: "int", min: 0, max: 0xffff, what: "an event number" },
          doc: "base_event: the first event",
        },
        {
          name: "nevents",
          type: { kind: "int", min: 0, max: 0xffff, what: "a count" },
          doc: "nevents: how many",
        },
        {
          name: "action",
          type: { kind: "int", min: 0, max: 0xff, what: "KVM_PMU_EVENT_ALLOW (0) or _DENY (1)" },
          doc: "action: 0 ALLOW, 1 DENY",
        },
      ],
      returns: "0 or -ENODEV / -EBUSY / -EINVAL",
      run: (vm, _c, a, source) => {
        const cpu = a.vcpu as number;
        fd(vm, cpu);
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${cpu} PMU_V3_FILTER base ${
            hex(a.base)
          } nevents ${a.nevents} action ${a.action}`,
          () => vm.pmuSetFilter(cpu, a.base as number, a.nevents as number, a.action as number),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm pmu_has_attr",
      doc:
        "KVM_HAS_DEVICE_ATTR(KVM_ARM_VCPU_PMU_V3_CTRL, attr) (kvm_arm_pmu_v3_has_attr): 0 for IRQ (0), INIT (1), FILTER (2), SET_PMU (3) and SET_NR_COUNTERS (4) on a vCPU with the PMU feature, else -ENXIO",
      params: [vcpuParam, { name: "attr", type: U32, doc: "the attribute" }],
      returns: "0 or -ENXIO",
      run: (vm, _c, a) => {
        fd(vm, a.vcpu as number);
        return vm.pmus.length > 0 && (a.attr as number) <= 4 ? 0 : -ENXIO;
      },
    },
  ];
}

/** The timer's vCPU attribute (KVM_ARM_VCPU_TIMER_IRQ_*): its number. */
const TIMER_ATTR = {
  kind: "int",
  min: 0,
  max: 0xffff_ffff,
  what: "a KVM_ARM_VCPU_TIMER_CTRL attribute (KVM_ARM_VCPU_TIMER_IRQ_VTIMER ...)",
  decimal: true,
} as const;

/** KVM_{SET,GET,HAS}_DEVICE_ATTR on a vCPU fd, group KVM_ARM_VCPU_TIMER_CTRL. */
function timerAttrCommands(): Cmd[] {
  const vcpuFd = (vm: ArmVm, cpu: number, what: string) => {
    if (!vm.gic.vcpuExists(cpu)) {
      throw new CommandInputError(
        `${what} vcpu${cpu}: the VMM has no vCPU fd for it yet: create it with \`kvm create_vcpu id=${cpu}\` first`,
      );
    }
  };
  const shown = (attr: number) => TIMER_ATTR_NAMES[attr] ?? `attr ${attr}`;
  return [
    {
      actor: "vmm",
      name: "kvm timer_set_irq",
      doc:
        "KVM_SET_DEVICE_ATTR(KVM_ARM_VCPU_TIMER_CTRL, attr) on a vCPU (kvm_arm_timer_set_attr): the PPI a timer drives, one table for the whole VM. -EINVAL without an in-kernel vGIC or for an INTID that is not a PPI (16-31), -EBUSY once a KVM_RUN froze them, -ENXIO for an unknown attribute; duplicates are accepted here and refused by the first KVM_RUN (-EINVAL, timer_irqs_are_valid)",
      params: [
        { name: "vcpu", type: VCPU_ID, doc: "the vCPU whose fd is used" },
        {
          name: "attr",
          type: TIMER_ATTR,
          doc: "KVM_ARM_VCPU_TIMER_IRQ_VTIMER (0), _PTIMER (1), _HVTIMER (2), _HPTIMER (3)",
        },
        { name: "irq", type: U32, doc: "the INTID" },
      ],
      returns: "0 or -EINVAL / -EBUSY / -ENXIO",
      run: (vm, _c, a, source) => {
        vcpuFd(vm, a.vcpu as number, "KVM_SET_DEVICE_ATTR");
        const attr = a.attr as number, irq = a.irq as number;
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_SET_DEVICE_ATTR vcpu${a.vcpu} TIMER_CTRL ${shown(attr)} <- ${irq}`,
          () => vm.setTimerIrq(attr, irq),
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm timer_get_irq",
      doc:
        "KVM_GET_DEVICE_ATTR(KVM_ARM_VCPU_TIMER_CTRL, attr) on a vCPU (kvm_arm_timer_get_attr): the PPI the timer drives (27 CNTV, 30 CNTP, 28 CNTHV, 26 CNTHP unless renumbered), or -ENXIO for an unknown attribute",
      params: [
        { name: "vcpu", type: VCPU_ID, doc: "the vCPU whose fd is used" },
        {
          name: "attr",
          type: TIMER_ATTR,
          doc: "KVM_ARM_VCPU_TIMER_IRQ_VTIMER (0) ... _HPTIMER (3)",
        },
      ],
      returns: "the INTID, or -ENXIO",
      run: (vm, _c, a, source) => {
        vcpuFd(vm, a.vcpu as number, "KVM_GET_DEVICE_ATTR");
        const attr = a.attr as number;
        return acting(
          vm,
          source,
          "ioctl",
          `KVM_GET_DEVICE_ATTR vcpu${a.vcpu} TIMER_CTRL ${shown(attr)}`,
          () => attr < vm.timerPpis.ppi.length ? vm.timerPpis.ppi[attr] : -ENXIO,
        );
      },
    },
    {
      actor: "vmm",
      name: "kvm timer_has_attr",
      doc:
        "KVM_HAS_DEVICE_ATTR(KVM_ARM_VCPU_TIMER_CTRL, attr) on a vCPU (kvm_arm_timer_has_attr): 0 for the four timer attributes, -ENXIO for others",
      params: [
        { name: "vcpu", type: VCPU_ID, doc: "the vCPU whose fd is used" },
        { name: "attr", type: TIMER_ATTR, doc: "the attribute" },
      ],
      returns: "0 or -ENXIO",
      run: (vm, _c, a) => {
        vcpuFd(vm, a.vcpu as number, "KVM_HAS_DEVICE_ATTR");
        return (a.attr as number) < vm.timerPpis.ppi.length ? 0 : -ENXIO;
      },
    },
  ];
}

/** KVM_ARM_VCPU_TIMER_IRQ_* by attribute number. */
const TIMER_ATTR_NAMES: readonly string[] = Object.keys(TimerIrqAttr).map((k) => `IRQ_${k}`);

/**
 * A vCPU's guest memory access is a MEM_ACCESS event for its vPMU (on a
 * host, the perf counter behind the event counts the guest's loads and
 * stores; here the scenario's `mem read` / `mem write`).
 */
function countsMemAccess(c: Cmd): Cmd {
  if (c.actor !== "vcpu") return c;
  return {
    ...c,
    run: (vm, cpu, a, source) => {
      const r = c.run(vm, cpu, a, source);
      if (vm.pmus.length > 0) vm.pmus[cpu].count(vm.pmus[cpu].validMask, PmuEvent.MEM_ACCESS);
      return r;
    },
  };
}

/** ID_AA64DFR0_EL1 with only PMUVer modelled: FEAT_PMUv3p5 with a vPMU, none without. */
function idAa64dfr0(vm: ArmVm): number {
  return vm.pmus.length > 0 ? ID_AA64DFR0_PMUVER_V3P5 << ID_AA64DFR0_PMUVER_SHIFT : 0;
}

/**
 * The PMU registers KVM_GET/SET_ONE_REG reach here (KVM_ARM64_SYS_REG of
 * SYS_PMCR_EL0 and the bit masks), and the bit-mask register each one is:
 * KVM keeps one register for a SET/CLR pair (`get_pmreg` / `set_pmreg`).
 */
const PMU_ONE_REGS = {
  pmcr_el0: "pmcr",
  pmcntenset_el0: "pmcntenset",
  pmcntenclr_el0: "pmcntenset",
  pmintenset_el1: "pmintenset",
  pmintenclr_el1: "pmintenset",
  pmovsset_el0: "pmovsset",
  pmovsclr_el0: "pmovsset",
} as const;

/** The vPMU of `cpu`, or undefined after raising the UNDEF KVM injects without one. */
function pmuOf(vm: ArmVm, cpu: number, what: string): Pmu | undefined {
  if (vm.pmus.length > 0) return vm.pmus[cpu];
  vm.cpus[cpu].undefined(
    `${what}: no vPMU (pmu_irq 0): KVM injects an UNDEF (check_pmu_access_disabled)`,
  );
  return undefined;
}

const PMU_COUNTER = {
  kind: "int",
  min: 0,
  max: PMU_CYCLE_IDX - 1,
  what: "an event counter (0-30; the VM has PMCR_EL0.N of them, 6 unless the VMM set fewer)",
  decimal: true,
} as const;

/**
 * Counter `idx` of `pmu` exists, or else the access UNDEFs
 * (`pmu_counter_idx_valid`: an event counter at PMCR_EL0.N or above).
 */
function pmuCounterValid(vm: ArmVm, cpu: number, pmu: Pmu, idx: number, what: string): boolean {
  if (pmu.counterValid(idx)) return true;
  vm.cpus[cpu].undefined(
    `${what}: counter ${idx} is not implemented (PMCR_EL0.N ${pmu.nr}): KVM injects an UNDEF (pmu_counter_idx_valid)`,
  );
  return false;
}

/**
 * MRS / MSR of the vPMU's registers (`access_pmcr`, `access_pmcnten`,
 * `access_pminten`, `access_pmovs`, `access_pmswinc`, `access_pmselr`,
 * `access_pmceid`, `access_pmu_evtyper`, `access_pmu_evcntr`).
 */
function pmuCommands(): Cmd[] {
  const out: Cmd[] = [];
  for (const r of PMU_REGISTERS) {
    if (r.access !== "wo") {
      out.push({
        actor: "vcpu",
        name: `read ${r.title.toLowerCase()}`,
        doc: `MRS ${r.title}: ${r.doc}`,
        params: [],
        returns: "the register value, or UNDEF (-1) without a vPMU",
        run: (vm, cpu) => {
          const pmu = pmuOf(vm, cpu, `MRS ${r.title}`);
          if (!pmu) return UNDEF;
          const v = pmu.read(r.name);
          if (vm.trace.enabled) emit(vm, `vcpu${cpu}`, "read", `${r.title} = 0x${v.toString(16)}`);
          return v;
        },
      });
    }
    if (r.access === "ro") continue;
    out.push({
      actor: "vcpu",
      name: `write ${r.title.toLowerCase()}`,
      doc: `MSR ${r.title}: ${r.doc}`,
      params: [{ name: "value", type: U32, doc: "the value", positional: true }],
      run: (vm, cpu, a) => {
        // Untraced, no text is built (the PMU ports write these thousands of times).
        if (!vm.trace.enabled) pmuOf(vm, cpu, `MSR ${r.title}`)?.write(r.name, a.value as number);
        else {
          acting(vm, `vcpu${cpu}`, "write", `${r.title} <- ${hex(a.value as number)}`, () => {
            pmuOf(vm, cpu, `MSR ${r.title}`)?.write(r.name, a.value as number);
          });
        }
      },
    });
  }
  // The counters and their types, named (PMEV*<n>_EL0, PMCCNTR_EL0) or
  // through PMSELR_EL0.SEL (PMXEV*_EL0). `n` undefined: PMSELR's choice.
  const regs = [
    { reg: "evtyper", title: "PMEVTYPER", n: true },
    { reg: "evcntr", title: "PMEVCNTR", n: true },
    { reg: "xevtyper", title: "PMXEVTYPER", n: false },
    { reg: "xevcntr", title: "PMXEVCNTR", n: false },
    { reg: "ccntr", title: "PMCCNTR", n: false },
  ] as const;
  for (const { reg, title, n: named } of regs) {
    const typer = reg === "evtyper" || reg === "xevtyper";
    const name = `${title}${named ? "<n>" : ""}_EL0`;
    const idxOf = (pmu: Pmu, a: Record<string, unknown>) =>
      reg === "ccntr" ? PMU_CYCLE_IDX : named ? a.n as number : pmu.pmselr;
    const what = reg === "ccntr"
      ? "the cycle counter, 64 bits"
      : typer
      ? `${
        named ? "counter n" : "the counter PMSELR_EL0.SEL selects (31: PMCCFILTR_EL0)"
      }'s event type (P [31], U [30], evtCount [15:0])`
      : `${
        named ? "event counter n" : "the counter PMSELR_EL0.SEL selects (31: PMCCNTR_EL0)"
      }, 64 bits`;
    const nParam = named
      ? [{ name: "n", type: PMU_COUNTER, doc: "the counter", positional: true }]
      : [];
    out.push({
      actor: "vcpu",
      name: `read pm${reg}_el0`,
      doc: `MRS ${name}: ${what}; a counter at PMCR_EL0.N or above UNDEFs`,
      params: nParam,
      returns: "the register value, or UNDEF (-1)",
      run: (vm, cpu, a) => {
        const pmu = pmuOf(vm, cpu, `MRS ${name}`);
        if (!pmu) return UNDEF;
        const idx = idxOf(pmu, a);
        if (!pmuCounterValid(vm, cpu, pmu, idx, `MRS ${name}`)) return UNDEF;
        const v = typer ? BigInt(pmu.readEvtyper(idx)) : pmu.readCounter(idx);
        if (vm.trace.enabled) {
          emit(vm, `vcpu${cpu}`, "read", `${title}${named ? idx : ""}_EL0 = 0x${v.toString(16)}`);
        }
        return v;
      },
    });
    out.push({
      actor: "vcpu",
      name: `write pm${reg}_el0`,
      doc: `MSR ${name}: ${
        typer
          ? `${what}; SW_INCR 0x00, INST_RETIRED 0x08, CPU_CYCLES 0x11, MEM_ACCESS 0x13 and CHAIN 0x1e count here`
          : `set ${what}`
      }; a counter at PMCR_EL0.N or above UNDEFs`,
      params: [
        ...nParam,
        { name: "value", type: { kind: "u64" }, doc: "the value", positional: true },
      ],
      run: (vm, cpu, a) => {
        const v = BigInt(a.value as number | bigint);
        const write = () => {
          const pmu = pmuOf(vm, cpu, `MSR ${name}`);
          if (!pmu) return;
          const idx = idxOf(pmu, a);
          if (!pmuCounterValid(vm, cpu, pmu, idx, `MSR ${name}`)) return;
          if (typer) pmu.writeEvtyper(idx, Number(v & 0xffff_ffffn));
          else pmu.writeCounter(idx, v);
        };
        // Untraced, no text is built.
        if (!vm.trace.enabled) write();
        else acting(vm, `vcpu${cpu}`, "write", `${name} <- 0x${v.toString(16)}`, write);
      },
    });
  }
  return out;
}

/**
 * Each vCPU statement retires one instruction in one cycle for its vPMU
 * (`nop N`: N): INST_RETIRED, CPU_CYCLES and PMCCNTR_EL0 count them. An
 * access that UNDEFs does not retire, but its cycle counts.
 */
function retires(c: Cmd): Cmd {
  if (c.actor !== "vcpu") return c;
  const k = c.name === "nop" ? (a: Record<string, unknown>) => a.count as number : () => 1;
  return {
    ...c,
    run: (vm, cpu, a, source) => {
      const r = c.run(vm, cpu, a, source);
      if (vm.pmus.length > 0) {
        const pmu = vm.pmus[cpu];
        if (vm.cpus[cpu].syncPending) pmu.count(pmu.validMask, PmuEvent.CPU_CYCLES, 1);
        else pmu.retire(k(a));
      }
      return r;
    },
  };
}

/**
 * The GICv5 CPU interface's instructions and registers: every access
 * UNDEFs, as on any VM the model makes (no vGICv5; lib/arm/gicv5_cpu_interface.ts).
 */
function gicv5Commands(): Cmd[] {
  const undef = (vm: ArmVm, cpu: number, what: string) => {
    vm.cpus[cpu].undefined(`${what}: ${vm.gicv5Undefined()}`);
    return UNDEF;
  };
  return GICV5_OPS.flatMap((o): Cmd[] => {
    if (o.kind === "gic") {
      return [{
        actor: "vcpu",
        name: `gic ${o.name}`,
        doc: `${o.title}, Xt (GICv5: ${o.doc}): UNDEFs without a vGICv5, which the model never has`,
        params: [{ name: "value", type: { kind: "u64" }, doc: "Xt", positional: true, default: 0 }],
        run: (vm, cpu) => void undef(vm, cpu, o.title),
      }];
    }
    if (o.kind === "gicr") {
      return [{
        actor: "vcpu",
        name: `gicr ${o.name}`,
        doc: `${o.title}, Xt (GICv5: ${o.doc}): UNDEFs without a vGICv5, which the model never has`,
        params: [],
        returns: "UNDEF (-1)",
        run: (vm, cpu) => undef(vm, cpu, o.title),
      }];
    }
    return [{
      actor: "vcpu",
      name: `read icc_${o.name}`,
      doc: `MRS ${o.title} (GICv5: ${o.doc}): UNDEFs without a vGICv5, which the model never has`,
      params: [],
      returns: "UNDEF (-1)",
      run: (vm, cpu) => undef(vm, cpu, `MRS ${o.title}`),
    }, {
      actor: "vcpu",
      name: `write icc_${o.name}`,
      doc: `MSR ${o.title} (GICv5: ${o.doc}${
        o.access === "ro" ? "; read-only" : ""
      }): UNDEFs without a vGICv5, which the model never has`,
      params: [{ name: "value", type: { kind: "u64" }, doc: "the value", positional: true }],
      run: (vm, cpu) => void undef(vm, cpu, `MSR ${o.title}`),
    }];
  });
}

const TIMER_PARAM: ParamSpec = {
  name: "timer",
  type: { kind: "enum", values: ["virt", "phys"] },
  doc:
    "virt: CNTV (PPI 27), phys: CNTP (PPI 30), unless the VMM renumbered them (kvm timer_set_irq)",
  default: "virt",
};

const VCPU_COMMANDS: Cmd[] = [
  {
    actor: "vcpu",
    name: "gic enable",
    doc:
      "bring the GIC up as Linux does: distributor group enable (GICv3: with GICD_CTLR.nASSGIreq when GICD_TYPER2.nASSGIcap offers it, gic_dist_init), this CPU interface (PMR 0xf0, Group 1 on; GICv2: GICC_CTLR=1), and with an ITS: PROPBASER (16 bits), EnableLPIs, GITS_CTLR.Enabled",
    params: [],
    run: (vm, cpu) => gicEnable(vm, cpu),
  },
  ...(["irqs", "fiqs"] as const).flatMap((w): Cmd[] => [
    {
      actor: "vcpu",
      name: `mask ${w}`,
      doc: `MSR DAIFSet: PSTATE.${w === "irqs" ? "I" : "F"} = 1`,
      params: [],
      touches: OWN_FLAGS,
      run: (vm, cpu) => vm.cpus[cpu].mask(w === "irqs" ? "irq" : "fiq"),
    },
    {
      actor: "vcpu",
      name: `unmask ${w}`,
      doc: `MSR DAIFClr: PSTATE.${w === "irqs" ? "I" : "F"} = 0`,
      params: [],
      touches: OWN_FLAGS,
      run: (vm, cpu) => vm.cpus[cpu].unmask(w === "irqs" ? "irq" : "fiq"),
    },
  ]),
  {
    actor: "vcpu",
    name: "wfi",
    doc:
      "WFI: sleep until an interrupt is pending (even one masked by PSTATE); the vPE is not resident meanwhile",
    params: [],
    run: (vm, cpu) => vm.cpus[cpu].wfi(),
  },
  {
    actor: "vcpu",
    name: "nop",
    doc:
      "an instruction that does nothing the model keeps (a NOP, ISB, DSB, or a counting loop's SUBS and B.GT); `nop N`: N of them (the vPMU counts N instructions and cycles)",
    params: [{
      name: "count",
      type: { kind: "int", min: 1, max: 1_000_000, what: "an instruction count", decimal: true },
      doc: "how many instructions",
      positional: true,
      default: 1,
    }],
    touches: OWN_FLAGS,
    run: (vm, cpu, a) => {
      if (vm.trace.enabled) {
        emit(vm, `vcpu${cpu}`, "nop", a.count === 1 ? "NOP" : `${a.count} NOPs`);
      }
    },
  },
  {
    actor: "vcpu",
    name: "eoi",
    doc:
      "end of interrupt: ICC_EOIR1/0_EL1 (GICC_EOIR on GICv2) with the handler's INTID, or the one given",
    params: [{
      name: "intid",
      type: INTID,
      doc: "the INTID (default: the handler's)",
      positional: true,
      default: -1,
    }],
    run: (vm, cpu, a) => endOfInterrupt(vm, cpu, a.intid as number, false),
  },
  {
    actor: "vcpu",
    name: "deactivate",
    doc:
      "ICC_DIR_EL1 (GICC_DIR on GICv2) with the handler's INTID, or the one given (EOImode=1 only)",
    params: [{
      name: "intid",
      type: INTID,
      doc: "the INTID (default: the handler's)",
      positional: true,
      default: -1,
    }],
    run: (vm, cpu, a) => endOfInterrupt(vm, cpu, a.intid as number, true),
  },
  {
    actor: "vcpu",
    name: "write",
    doc:
      "write a GIC register: gicd.<reg>[n], gicr.<reg> (this vCPU's), gicc.<reg> (GICv2), gits.<reg> (the ITS); byte=k for a byte access",
    params: [
      {
        name: "register",
        type: { kind: "register", files: [GICD_FILE, GICR_FILE, GICC_FILE, GITS_FILE] },
        doc: "gicd.<name>[n], gicr.<name>, gicc.<name>, gits.<name>",
      },
      {
        name: "byte",
        type: { kind: "int", min: 0, max: 3, what: "a byte lane" },
        doc: "byte access to this byte of the word",
        default: -1,
      },
    ],
    run: (vm, cpu, a) => mmioWrite(vm, cpu, a),
  },
  {
    actor: "vcpu",
    name: "read",
    doc: "read a GIC register as this vCPU (GICC_IAR acknowledges)",
    params: [
      {
        name: "register",
        type: { kind: "register", files: [GICD_FILE, GICR_FILE, GICC_FILE, GITS_FILE] },
        doc: "gicd.<name>[n], gicr.<name>, gicc.<name>, gits.<name>",
      },
      {
        name: "byte",
        type: { kind: "int", min: 0, max: 3, what: "a byte lane" },
        doc: "byte access",
        default: -1,
      },
    ],
    returns: "the register value",
    run: (vm, cpu, a) => mmioRead(vm, cpu, a),
  },
  ...iccCommands(),
  ...pmuCommands(),
  {
    actor: "vcpu",
    name: "read id_aa64dfr0_el1",
    doc:
      "MRS ID_AA64DFR0_EL1, of which only PMUVer [11:8] is modelled: 6 (FEAT_PMUv3p5) on a vCPU with a vPMU, 0 without (KVM's read_id_reg / vcpu_pmuver); the other fields describe the host CPU and read 0 here",
    params: [],
    returns: "the PMUVer field in place: (value >> 8) & 0xf",
    run: (vm, cpu) => {
      const v = idAa64dfr0(vm);
      emit(vm, `vcpu${cpu}`, "read", `ID_AA64DFR0_EL1.PMUVer = ${v >> ID_AA64DFR0_PMUVER_SHIFT}`);
      return v;
    },
  },
  {
    actor: "vcpu",
    name: "read id_aa64pfr2_el1",
    doc:
      "MRS ID_AA64PFR2_EL1, of which only GCIE [15:12] is modelled: 0 (KVM gives 1 only with a vGICv5, which the model does not have: sanitise_id_aa64pfr2_el1, kvm_finalize_sys_regs); the other fields read 0 here",
    params: [],
    returns: "the GCIE field in place: (value >> 12) & 0xf",
    run: (vm, cpu) => {
      const v = vm.idAa64pfr2Gcie("guest") << ID_AA64PFR2_GCIE_SHIFT;
      emit(vm, `vcpu${cpu}`, "read", `ID_AA64PFR2_EL1.GCIE = ${v >>> ID_AA64PFR2_GCIE_SHIFT}`);
      return v;
    },
  },
  ...gicv5Commands(),
  {
    actor: "vcpu",
    name: "read id_aa64pfr0_el1",
    doc:
      "MRS ID_AA64PFR0_EL1, of which only the GIC field [27:24] is modelled (1: GICv3 system registers, 0: none); the other fields describe the host CPU and read 0 here. KVM gives 1 with a GICv3 vGIC, 0 with a GICv2 one (kvm_vgic_create) or with none once the vCPU runs (kvm_finalize_sys_regs)",
    params: [],
    returns: "the GIC field in place: (value >> 24) & 0xf is 1 or 0",
    run: (vm, cpu) => {
      const v = vm.idAa64pfr0Gic("guest") << ID_AA64PFR0_GIC_SHIFT;
      emit(vm, `vcpu${cpu}`, "read", `ID_AA64PFR0_EL1.GIC = ${v >>> ID_AA64PFR0_GIC_SHIFT}`);
      return v;
    },
  },
  {
    actor: "vcpu",
    name: "sgi",
    doc: "send an SGI as Linux does (ICC_SGI1R_EL1 per cluster on GICv3, GICD_SGIR on GICv2)",
    params: [
      {
        name: "intid",
        type: { kind: "int", min: 0, max: 15, what: "an SGI" },
        doc: "the SGI",
        positional: true,
      },
      {
        name: "to",
        type: { kind: "enum", values: ["list", "self", "others"] },
        doc: "targets",
        default: "list",
      },
      {
        name: "targets",
        type: { kind: "set", min: 0, max: 511 },
        doc: "vCPU indexes (to=list)",
        default: [],
      },
    ],
    run: (vm, cpu, a) => sendSgi(vm, cpu, a),
  },
  ...itsCommands().map((c): Cmd => {
    // `its mapti` is MAPTI: the command's words after `its` are its opcode's name.
    const op = c.name.slice("its ".length).toUpperCase();
    return {
      ...c,
      explain: (a) => decodeIts(op, a),
      explainResult: (_a, v) => explainItsResult(v),
    };
  }),
  {
    actor: "vcpu",
    name: "lpi enable",
    doc:
      "Linux's LPI unmask: write the configuration byte (priority | Group1 | enable), then invalidate it",
    params: [
      { name: "intid", type: LPI, doc: "the LPI", positional: true },
      { name: "priority", type: BYTE, doc: "priority ([7:2] are kept)", default: 0xa0 },
    ],
    run: (vm, cpu, a) =>
      lpiConfig(vm, cpu, a.intid as number, ((a.priority as number) & 0xfc) | 3, true),
  },
  {
    actor: "vcpu",
    name: "lpi disable",
    doc: "Linux's LPI mask: clear the enable bit of the configuration byte, then invalidate it",
    params: [{ name: "intid", type: LPI, doc: "the LPI", positional: true }],
    run: (vm, cpu, a) =>
      lpiConfig(vm, cpu, a.intid as number, vm.gic.lpis.readConfig(a.intid as number) & ~1, true),
  },
  {
    actor: "vcpu",
    name: "lpi config",
    doc:
      "write an LPI configuration byte in memory only ([7:2] priority, [1] RES1, [0] enable): no invalidation",
    params: [
      { name: "intid", type: LPI, doc: "the LPI", positional: true },
      { name: "value", type: BYTE, doc: "the byte", positional: true },
    ],
    run: (vm, cpu, a) => lpiConfig(vm, cpu, a.intid as number, a.value as number, false),
  },
  {
    actor: "vcpu",
    name: "timer arm",
    doc: "CNTx_CVAL = counter + in, CNTx_CTL = ENABLE (IMASK clear)",
    params: [
      { name: "in", type: { kind: "duration" }, doc: "how far ahead (0: now)", default: 0 },
      TIMER_PARAM,
    ],
    run: (vm, cpu, a) =>
      acting(vm, `vcpu${cpu}`, "timer", `${a.timer} timer armed in ${a.in}ns`, () => {
        const t = timerOf(vm, cpu, a);
        t.writeCval(t.counter + BigInt(a.in as number));
        t.writeCtl(TimerCtl.ENABLE);
      }),
  },
  {
    actor: "vcpu",
    name: "timer ctl",
    doc: "write CNTx_CTL_EL0",
    params: [
      { name: "enable", type: BIT, doc: "ENABLE", default: 0 },
      { name: "imask", type: BIT, doc: "IMASK", default: 0 },
      TIMER_PARAM,
    ],
    run: (vm, cpu, a) =>
      acting(
        vm,
        `vcpu${cpu}`,
        "timer",
        `${a.timer} CTL <- enable=${a.enable} imask=${a.imask}`,
        () => timerOf(vm, cpu, a).writeCtl((a.enable as number) | ((a.imask as number) << 1)),
      ),
  },
  {
    actor: "vcpu",
    name: "timer cval",
    doc: "write CNTx_CVAL_EL0, 64 bits (counter ticks: 1 per ns; Arm ARM D11.2.4)",
    params: [{ name: "value", type: { kind: "u64" }, doc: "CVAL", positional: true }, TIMER_PARAM],
    run: (vm, cpu, a) =>
      acting(
        vm,
        `vcpu${cpu}`,
        "timer",
        `${a.timer} CVAL <- ${hex(a.value)}`,
        () => timerOf(vm, cpu, a).writeCval(a.value as bigint | number),
      ),
  },
  {
    actor: "vcpu",
    name: "timer tval",
    doc: "write CNTx_TVAL_EL0: CVAL = counter + value sign-extended from 32 bits (Arm ARM D11.2.4)",
    params: [
      {
        name: "value",
        type: { kind: "int", min: -0x8000_0000, max: 0xffff_ffff, what: "a 32-bit TimerValue" },
        doc: "TVAL (negative: already expired)",
        positional: true,
      },
      TIMER_PARAM,
    ],
    run: (vm, cpu, a) =>
      acting(
        vm,
        `vcpu${cpu}`,
        "timer",
        `${a.timer} TVAL <- ${a.value}`,
        () => timerOf(vm, cpu, a).writeTval(a.value as number),
      ),
  },
  ...COUNTER_READS.map((r): Cmd => ({
    actor: "vcpu",
    name: `read ${r.name}`,
    doc: `MRS ${r.title}: ${r.doc}`,
    params: [],
    returns: r.returns,
    run: (vm, cpu) => {
      const v = r.read(vm.timers[cpu]);
      emit(vm, `vcpu${cpu}`, "read", `${r.title} = ${typeof v === "bigint" ? hex(v) : v}`);
      return v;
    },
  })),
];

// ---- VMM and devices ---------------------------------------------------------------

const IRQ_TYPES = ["cpu", "spi", "ppi"] as const;

const VMM_COMMANDS: Cmd[] = [
  {
    actor: "vmm",
    name: "kvm irq_line",
    doc:
      "KVM_IRQ_LINE: irq = vcpu2_index<<28 | type<<24 | vcpu_index<<16 | num; type cpu drives the vCPU's IRQ (num 0) or FIQ (num 1) line itself (HCR_EL2.VI/VF, vcpu_interrupt_line) and only without a vGIC (-ENXIO with one; the handler gets INTID -1: no GIC to acknowledge), spi ignores vcpu, ppi needs 16..31; spi and ppi are -ENXIO until `kvm create_device` made a deferred vGIC; then kvm_vgic_inject_irq's vgic_lazy_init answers -EBUSY on a GICv3 until `kvm vgic_init` (after the type, vCPU and INTID < 32 checks; an SPI past nr_irqs is -EBUSY before, -EINVAL after) and initialises a GICv2 on the spot",
    params: [
      {
        name: "type",
        type: { kind: "enum", values: IRQ_TYPES },
        doc: "KVM_ARM_IRQ_TYPE_{CPU,SPI,PPI}",
        default: "spi",
      },
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 0xffff, what: "vcpu2*256 + vcpu" },
        doc: "target vCPU (ppi)",
        default: 0,
      },
      { name: "num", type: INTID, doc: "the INTID", default: 0 },
      { name: "level", type: BIT, doc: "1 assert, 0 de-assert" },
      { name: "irq", type: U32, doc: "the raw irq field instead of type/vcpu/num", default: -1 },
    ],
    returns: "0 or -ENXIO / -EINVAL",
    touches: [PLUMBING],
    run: (vm, _c, a, source) => {
      let type = IRQ_TYPES.indexOf(a.type as (typeof IRQ_TYPES)[number]);
      let vcpu = a.vcpu as number, num = a.num as number;
      const raw = a.irq as number;
      if (raw >= 0) {
        type = (raw >>> 24) & 0xf;
        vcpu = ((raw >>> 16) & 0xff) + ((raw >>> 28) & 0xf) * 256;
        num = raw & 0xffff;
      }
      const irq = (((vcpu >> 8) & 0xf) << 28) | (type << 24) | ((vcpu & 0xff) << 16) | num;
      // Untraced, no text is built (the cause is 0).
      if (!vm.trace.enabled) return vm.kvmIrqLine(type, vcpu, num, a.level as number, 0);
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_IRQ_LINE irq ${hex(irq >>> 0)} level ${a.level}`,
        (id) => vm.kvmIrqLine(type, vcpu, num, a.level as number, id),
      );
    },
  },
  {
    actor: "vmm",
    name: "kvm signal_msi",
    explain: (a) => explainArmMsi(literalOf(a.address), literalOf(a.data)),
    doc:
      "KVM_SIGNAL_MSI as Linux runs it: any flag but KVM_MSI_VALID_DEVID is -EINVAL (kvm_send_userspace_msi); a cached translation of (devid, data) delivers before the devid flag is checked (vgic_its_inject_msi, vgic_its_inject_cached_translation); else vgic_msi_to_its and the ITS translate",
    params: [
      { name: "devid", type: DEVICE_ID, doc: "DeviceID" },
      { name: "data", type: EVENT_ID, doc: "EventID" },
      { name: "flags", type: U32, doc: "KVM_MSI_VALID_DEVID = 1", default: 1 },
      {
        name: "address",
        type: U32,
        doc: "an address in the ITS's frames (default GITS_TRANSLATER's)",
        default: ITS_DOORBELL,
      },
    ],
    returns:
      "1 delivered, 0 blocked (translation failed), -EINVAL (flags, no devid, not an ITS), -EBUSY, -ENODEV",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      // Untraced, no text is built (vgic_lpi_stress signals 16,000).
      vm.trace.enabled
        ? acting(
          vm,
          source,
          "ioctl",
          `KVM_SIGNAL_MSI devid ${hex(a.devid)} data ${a.data}`,
          () => signalMsiOf(vm, a),
        )
        : signalMsiOf(vm, a),
  },
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_init",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT): initialise the vGIC once every vCPU exists; until then the VMM's register attributes return -EBUSY (the guest's own accesses are not checked)",
    params: [],
    returns: "0",
    run: (vm, _c, _a, source) =>
      acting(vm, source, "ioctl", "KVM_DEV_ARM_VGIC_CTRL_INIT", () => vm.gic.vgicInit()),
  }),
  {
    actor: "vmm",
    name: "kvm set_gsi_routing",
    doc:
      "KVM_SET_GSI_ROUTING on arm64 (kvm_set_irq_routing, kvm_set_routing_entry in vgic-irqfd.c): replace the table irqfds use; irqchip entries name SPI pin + 32, MSI entries go to the ITS (flags=1: KVM_MSI_VALID_DEVID with devid)",
    params: [],
    block: { entry: "gsi", params: ARM_ROUTE_PARAMS },
    returns: "0, or -EINVAL (and the old table stays)",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_GSI_ROUTING (${a.$entries!.length} entries)`,
        () => vm.gic.routing.set(a.$entries!.map(toArmRoute)),
      ),
  },
  {
    actor: "vmm",
    name: "kvm irqfd",
    doc:
      "KVM_IRQFD (kvm_irqfd_assign, irqfd_resampler_shutdown): bind an eventfd to a GSI (one eventfd per GSI here; binding it again is -EBUSY), with resample=1 a resamplefd too, or deassign=1 to unbind (a resampler left with no irqfd lowers the GSI's lines); a device's 'irqfd gsi=N' writes it. With a resamplefd the SPI is a level: raised by the write, lowered when the guest EOIs or DIRs it (vgic_v3_fold_lr_state -> kvm_notify_acked_irq -> irqfd_resampler_ack), which signals the resamplefd (state irqfd[gsi].resampled)",
    params: [
      {
        name: "gsi",
        type: { kind: "int", min: 0, max: 4095, what: "a GSI", decimal: true },
        doc: "the GSI",
      },
      { name: "deassign", type: BIT, doc: "KVM_IRQFD_FLAG_DEASSIGN", default: 0 },
      {
        name: "resample",
        type: BIT,
        doc: "KVM_IRQFD_FLAG_RESAMPLE, with a resamplefd",
        default: 0,
      },
    ],
    returns: "0 or -EBUSY",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_IRQFD gsi ${a.gsi}${a.deassign ? " deassign" : a.resample ? " resample" : ""}`,
        () =>
          a.deassign
            ? vm.gic.deassignIrqfd(a.gsi as number)
            : vm.gic.assignIrqfd(a.gsi as number, a.resample === 1),
      ),
  },
  {
    actor: "vmm",
    name: "kvm create_vcpu",
    doc:
      "KVM_CREATE_VCPU (kvm_vm_ioctl_create_vcpu, kvm_arch_vcpu_precreate, kvm_vgic_vcpu_init): -EINVAL for an id past KVM_MAX_VCPU_IDS or a VM at max_vcpus (the vGIC's once it exists: 8 for GICv2), -EBUSY once the vGIC is initialised, -EINVAL when its redistributor would take a slot while the frames fail vgic_v3_check_base, -EEXIST for an id in use; else 0 and the vCPU exists (its redistributor takes the next free slot, which moves GICR_TYPER.Last). The vCPUs are the vm's `vcpus { created N }`; any declared one may come next (a GICv2's in vcpu_id order)",
    params: [{
      name: "id",
      type: { kind: "int", min: 0, max: 0xffff_ffff, what: "a vcpu_id", decimal: true },
      doc: "the vcpu_id",
    }],
    returns: "0, -EINVAL, -EBUSY or -EEXIST",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_CREATE_VCPU ${a.id}`, () => {
        const id = a.id as number, gic = vm.gic;
        const r = gic.createVcpuResult(id);
        if (r === 0 && id >= gic.vcpus) {
          throw new CommandInputError(
            `KVM_CREATE_VCPU ${id} would succeed, but the vm declares vCPUs 0..${
              gic.vcpus - 1
            }: declare it in 'vcpus' (and 'created')`,
          );
        }
        // KVM numbers a GICv2's CPU interfaces by creation index, which the model does not follow.
        if (r === 0 && gic.version === 2 && id !== gic.nextVcpuId) {
          throw new CommandInputError(
            `KVM_CREATE_VCPU ${id} would succeed, but on a GICv2 the model needs vCPUs created in vcpu_id order: vcpu${gic.nextVcpuId} comes next`,
          );
        }
        if (r === 0) gic.addVcpu(id);
        emit(vm, "kvm", "create_vcpu", `KVM_CREATE_VCPU ${id}: ${r}`);
        return r;
      }),
  },
  {
    actor: "vmm",
    name: "kvm create_device",
    doc:
      "KVM_CREATE_DEVICE of a vGIC (either version, whatever the vm's `gic` setting names, until one exists) or an ITS (kvm_ioctl_create_device: -ENODEV for a type the host did not register: `gic { gicv2_host }` has no vgic_v3 and no its, `gic { no_v2_emulation }` no vgic_v2; test=1 is KVM_CREATE_DEVICE_TEST: 0, nothing made; vgic-init.c kvm_vgic_create: -EEXIST once a vGIC exists, -EBUSY once a vCPU has run, -E2BIG past 8 vCPUs for GICv2; vgic-its.c vgic_its_create). Needs `gic { deferred }` for the vGIC; an ITS may come before the vGIC or on a GICv2 (vgic_its_create checks neither): it stays inert, KVM_SIGNAL_MSI -ENODEV (vgic_has_its), until a GICv3 vGIC exists; a second ITS is an input error (the model has one)",
    params: [
      {
        name: "type",
        type: { kind: "enum", values: DEVICE_TYPES },
        doc:
          "KVM_DEV_TYPE_ARM_VGIC_V2, _V3, _ITS or _V5 (-ENODEV: registered only on a GICv5 host, `gic { gicv5_host }`, where the model, having no vGICv5, refuses it); other: a type arm64 KVM has no ops for (0, an x86 or PowerPC device), -ENODEV",
      },
      { name: "test", type: BIT, doc: "KVM_CREATE_DEVICE_TEST", default: 0 },
    ],
    returns: "0, -EEXIST, -ENODEV, -EBUSY or -E2BIG",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_CREATE_DEVICE ${a.type}${a.test ? " test" : ""}`, () => {
        const gic = vm.gic, asked = a.type as (typeof DEVICE_TYPES)[number];
        if (asked === "vgic_v5" && gic.device.hostV5) {
          throw new CommandInputError(
            "KVM_CREATE_DEVICE vgic_v5: a GICv5 host's KVM registers KVM_DEV_TYPE_ARM_VGIC_V5 (vgic_v5_probe), but the model has no vGICv5",
          );
        }
        if (asked === "other" || asked === "vgic_v5") {
          // kvm_ioctl_create_device: kvm_device_ops_table[type] is NULL
          // (only vgic_v5_probe, on a GICv5 host, registers KVM_DEV_TYPE_ARM_VGIC_V5).
          emit(vm, "kvm", "create_device", `KVM_CREATE_DEVICE of an unregistered type: ${-ENODEV}`);
          return -ENODEV;
        }
        const type = asked;
        const makes = a.test !== 1 && vm.deviceRegistered(type);
        // vgic_its_create asks nothing of the vGIC: an ITS made before it, or
        // on a GICv2, is KVM's answer 0; vgic_has_its keeps it inert there.
        if (type === "its" && makes) {
          if (gic.itsCreated) {
            throw new CommandInputError(
              "KVM_CREATE_DEVICE its: KVM would create a second ITS, but the model has one ITS per VM",
            );
          }
        }
        if (type === "vgic_v2" && makes && !gic.device.created && gic.version === 3) {
          const problem = vcpuIdsProblem({
            vcpus: gic.vcpus,
            gic: "v2",
            vcpu_ids: [...gic.creationOrder],
          });
          if (problem) throw new CommandInputError(`KVM_CREATE_DEVICE vgic_v2: ${problem}`);
        }
        const r = vm.createDevice(type, a.test === 1);
        emit(
          vm,
          "kvm",
          "create_device",
          `KVM_CREATE_DEVICE ${type}${a.test ? " (test)" : ""}: ${r}${
            type === "its" ? " (vgic_its_create)" : a.test ? "" : " (kvm_vgic_create)"
          }`,
        );
        return r;
      }),
  },
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_has_attr",
    doc:
      "KVM_HAS_DEVICE_ATTR on the vGIC (vgic_v3_has_attr, vgic_v2_has_attr): 0 when the device has the attribute, -ENXIO when not (GRP_ADDR: the version's address types; CTRL: INIT, and SAVE_PENDING_TABLES on GICv3; NR_IRQS always). Register groups: -EINVAL when the attribute names no vCPU (vgic_v2_parse_attr's CPUID in bits 39:32, vgic_v3_parse_attr's MPIDR in 63:32), -ENXIO unaligned; whether an aligned offset names a register is not modelled (input error)",
    params: [
      {
        name: "group",
        type: { kind: "enum", values: HAS_ATTR_GROUPS },
        doc: "KVM_DEV_ARM_VGIC_GRP_*",
      },
      {
        name: "attr",
        type: { kind: "u64" },
        doc: "the attribute (address type, CTRL op, or register attribute)",
      },
    ],
    returns: "0, -ENXIO or -EINVAL",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_HAS_DEVICE_ATTR ${a.group} ${hex(a.attr)}`, () => {
        const r = vm.gic.hasAttr(a.group as HasAttrGroup, BigInt(a.attr as bigint | number));
        if (r === undefined) {
          throw new CommandInputError(
            `KVM_HAS_DEVICE_ATTR ${a.group} ${
              hex(a.attr)
            }: whether that offset names a register (vgic_get_mmio_region) is not modelled`,
          );
        }
        emit(vm, "kvm", "has_attr", `${a.group} ${hex(a.attr)}: ${r}`);
        return r;
      }),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_set_addr",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR) (kvm_vgic_addr, vgic_check_iorange, vgic_v3_alloc_redist_region): place a frame; -EEXIST when set, -EINVAL misaligned / wrapping / overlapping another redistributor region / a bad region index / mixing the legacy region with regions, -E2BIG past the 40-bit IPA space, -ENXIO for the other GIC version's types. Once a v3_redist_region is set, the regions decide each redistributor's slot (vgic_register_redist_iodev: creation order, first region not full) and GICR_TYPER.Last (vgic_mmio_vcpu_rdist_is_last: the highest used slot of its region, clear for the last slot of a full region when a used region starts at its end, clear with no slot)",
    params: [
      {
        name: "type",
        type: { kind: "enum", values: ADDR_TYPES },
        doc: "KVM_VGIC_V{2,3}_ADDR_TYPE_*",
      },
      { name: "addr", type: { kind: "u64" }, doc: "the base address" },
      {
        name: "index",
        type: { kind: "int", min: 0, max: 0xfff, what: "a region index" },
        doc: "redist_region: the region's index",
        default: 0,
      },
      {
        name: "count",
        type: { kind: "int", min: 0, max: 0xfff, what: "a count" },
        doc: "redist_region: redistributors in it",
        default: 0,
      },
      {
        name: "flags",
        type: { kind: "int", min: 0, max: 0xf, what: "flags" },
        doc: "redist_region: must be 0",
        default: 0,
      },
      {
        name: "null",
        type: BIT,
        doc:
          "1: the attribute's user pointer (kvm_device_attr.addr) is NULL, so kvm_vgic_addr's get_user fails with -EFAULT before anything else; the other arguments are ignored",
        default: 0,
      },
    ],
    returns: "0 or -EEXIST / -EINVAL / -E2BIG / -ENXIO / -EFAULT",
    run: (vm, _c, a, source) => {
      if (a.null === 1) {
        return acting(vm, source, "ioctl", `KVM_SET_DEVICE_ATTR ADDR ${a.type} (NULL)`, () => {
          emit(vm, "kvm", "set_attr", `ADDR ${a.type}: ${-EFAULT} (get_user of a NULL pointer)`);
          return -EFAULT;
        });
      }
      const type =
        VgicAddrType[ADDR_TYPE_KEYS[ADDR_TYPES.indexOf(a.type as (typeof ADDR_TYPES)[number])]];
      let value = BigInt(a.addr as bigint | number);
      if (a.type === "v3_redist_region") {
        value = BigInt.asUintN(
          64,
          (BigInt(a.count as number) << 52n) | (value & ~0xffffn) |
            (BigInt(a.flags as number) << 12n) | BigInt(a.index as number),
        );
      }
      return acting(vm, source, "ioctl", `KVM_SET_DEVICE_ATTR ADDR ${a.type} ${hex(value)}`, () => {
        const r = vm.gic.setVgicAddr(type, value);
        if (r !== 0) emit(vm, "kvm", "set_attr", `ADDR ${a.type}: ${r}`);
        return r;
      });
    },
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_get_addr",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR): a frame's base (all ones while unset); for v3_redist_region the region packed as count<<52 | base | index, or -ENOENT",
    params: [
      {
        name: "type",
        type: { kind: "enum", values: ADDR_TYPES },
        doc: "KVM_VGIC_V{2,3}_ADDR_TYPE_*",
      },
      {
        name: "index",
        type: { kind: "int", min: 0, max: 0xfff, what: "a region index" },
        doc: "redist_region: which region",
        default: 0,
      },
    ],
    returns: "the address, or -ENOENT / -ENXIO",
    run: (vm, _c, a, source) => {
      const type =
        VgicAddrType[ADDR_TYPE_KEYS[ADDR_TYPES.indexOf(a.type as (typeof ADDR_TYPES)[number])]];
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_GET_DEVICE_ATTR ADDR ${a.type}`,
        () => vm.gic.device.getAddr(type, BigInt(a.index as number)),
      );
    },
  }),
  {
    actor: "vmm",
    name: "kvm run",
    doc:
      "KVM_RUN's answer while the vGIC is not ready (kvm_vgic_map_resources): GICv3 -ENXIO without the distributor or a redistributor for every vCPU, -EINVAL for overlapping frames (vgic_v3_check_base), -EBUSY before KVM_DEV_ARM_VGIC_CTRL_INIT; GICv2 -ENXIO without both frames, -EINVAL if they overlap, else it initialises itself; then 0. The guest's statements are not gated by it",
    params: [{ name: "vcpu", type: VCPU_ID, doc: "the vCPU" }],
    returns: "0 or -ENXIO / -EINVAL / -EBUSY",
    run: (vm, _c, a, source) => {
      const cpu = a.vcpu as number;
      if (!vm.gic.vcpuExists(cpu)) {
        throw new CommandInputError(
          `KVM_RUN vcpu${cpu}: the VMM has no vCPU fd for it yet: create it with \`kvm create_vcpu id=${cpu}\` first`,
        );
      }
      return acting(vm, source, "ioctl", `KVM_RUN vcpu${cpu}`, () => vm.run(cpu));
    },
  },
  {
    actor: "vmm",
    name: "kvm vcpu_init",
    doc:
      "KVM_ARM_VCPU_INIT again on a vCPU KVM_CREATE_VCPU and the first INIT made (kvm_arch_vcpu_ioctl_vcpu_init -> kvm_vcpu_set_target -> kvm_reset_vcpu): -ENOENT for a feature bit past KVM_ARM_VCPU_HAS_EL2_E2H0 (8), -EINVAL when KVM_ARM_VCPU_PMU_V3 (bit 3) differs from the VM's (kvm_vcpu_init_changed); else the vCPU is reset as KVM resets it: PSTATE DAIF set, no handler running, out of WFI; the vPMU's registers to sys_regs.c's reset values (PMCR_EL0 LC only, the SET/CLR masks, PMEVCNTR and PMEVTYPER from reset_unknown's 0x1de7ec7edbadc0de, PMCCFILTR 0; its IRQ, INIT and the VM's N stay); both timers' CTL 0 (CVAL kept) with their PPIs low, not pending and not active (kvm_timer_vcpu_reset, kvm_vgic_reset_mapped_irq). The vGIC's state (SGIs and PPIs, PMR, BPR, group enables, active priorities) is not reset. PSCI_0_2 (bit 2) is taken as the first INIT had it; the other features (POWER_OFF, EL1_32BIT, SVE, PTRAUTH, HAS_EL2) are not modelled",
    params: [
      { name: "vcpu", type: VCPU_ID, doc: "the vCPU" },
      { name: "features", type: U32, doc: "features[0] of struct kvm_vcpu_init" },
    ],
    returns: "0 or -ENOENT / -EINVAL",
    run: (vm, _c, a, source) => {
      const cpu = a.vcpu as number, f = a.features as number;
      if (!vm.gic.vcpuExists(cpu)) {
        throw new CommandInputError(
          `KVM_ARM_VCPU_INIT vcpu${cpu}: the VMM has no vCPU fd for it yet: create it with \`kvm create_vcpu id=${cpu}\` first`,
        );
      }
      if (vm.xen !== undefined) {
        throw new CommandInputError(
          "kvm vcpu_init: the vm runs under Xen (`hypervisor xen`), which has no KVM_ARM_VCPU_INIT",
        );
      }
      if (f >>> 9 !== 0) return -ENOENT;
      const unmodelled = f & ~(VCPU_FEATURE_PSCI_0_2 | VCPU_FEATURE_PMU_V3);
      if (unmodelled !== 0) {
        throw new CommandInputError(
          `kvm vcpu_init features=${hex(f)}: feature bits ${
            hex(unmodelled)
          } (POWER_OFF, EL1_32BIT, SVE, PTRAUTH, HAS_EL2) are not modelled; the model's vCPUs have PSCI_0_2 (1 << 2) and, with a vPMU, PMU_V3 (1 << 3)`,
        );
      }
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_ARM_VCPU_INIT vcpu${cpu} features ${hex(f)}`,
        () => vm.vcpuInit(cpu, (f & VCPU_FEATURE_PMU_V3) !== 0),
      );
    },
  },
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_get_nr_irqs",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_NR_IRQS) (vgic_get_common_attr): the INTIDs including SGIs and PPIs, nr_spis + 32; 32 while a deferred vGIC has no NR_IRQS write and is not initialised (nr_spis 0). Without `deferred` the vm's nr_irqs setting stands for the VMM's write",
    params: [],
    returns: "nr_spis + 32",
    run: (vm) => vm.gic.getNrIrqs(),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_set_nr_irqs",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_NR_IRQS) (vgic-kvm-device.c vgic_set_common_attr): -EINVAL unless a multiple of 32 in 64..VGIC_MAX_RESERVED (1023, so 992 is the largest); -EBUSY once nr_spis is set (an earlier write, or vgic_init chose the default 256: kvm_vgic_dist_init); else it decides the SPI count (nr_spis = value - 32). Without `gic { deferred }` the vm's nr_irqs setting was that write, so every write is -EBUSY",
    params: [{ name: "value", type: U32, doc: "INTIDs including the 32 SGIs and PPIs" }],
    returns: "0, -EINVAL or -EBUSY",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_DEVICE_ATTR NR_IRQS ${a.value}`,
        () => vm.gic.setNrIrqs(a.value as number),
      ),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_set_redist_reg",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS) (vgic_v3_attr_regs_access, vgic_v3_redist_uaccess): write a 32-bit redistributor register as a restore does; GICR_ISPENDR0 sets or clears each SGI/PPI's pending latch (vgic_v3_uaccess_write_pending), GICR_ICPENDR0 is ignored, ISACTIVER0 / ICACTIVER0 set and clear active",
    params: [
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 0xffff, what: "a vcpu_id" },
        doc: "the vcpu_id (the attribute carries its MPIDR)",
      },
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0x1ffff, what: "a redistributor offset" },
        doc: "offset in RD_base, +0x10000 for SGI_base",
      },
      { name: "value", type: U32, doc: "the 32-bit value" },
    ],
    returns: "0, -EBUSY before vgic_init, -EINVAL for no such vCPU, -ENXIO on GICv2",
    run: (vm, _c, a, source) => {
      // The vgic_irq ports save and restore registers in loops: no text unless traced.
      const body = () =>
        vm.gic.setRegAttr("redist", a.vcpu as number, a.offset as number, a.value as number);
      if (!vm.trace.enabled) return body();
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_DEVICE_ATTR REDIST_REGS vcpu ${a.vcpu} offset ${hex(a.offset)}`,
        body,
      );
    },
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_get_dist_reg",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_DIST_REGS): a 32-bit distributor register. GICv3 (vgic_v3_dist_uaccess): GICD_ISPENDR<n> shows the pending latches only (vgic_v3_uaccess_read_pending), GICD_ICPENDR<n> reads 0, -EBUSY before vgic_init. GICv2 (vgic_v2_attr_regs_access, vgic_v2_dist_uaccess): as vCPU `vcpu` reads it (banked SGI/PPI registers are its own), the access initialises the vGIC, -EINVAL for an unknown vCPU, -ENXIO for an unaligned offset, one with no register or a per-INTID register past nr_irqs",
    params: [
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0xffff, what: "a distributor offset" },
        doc: "the register's offset",
      },
      V2_ATTR_VCPU,
    ],
    returns: "the value, or -EBUSY (GICv3 before vgic_init), -EINVAL, -ENXIO",
    run: (vm, _c, a, source) => {
      const body = () =>
        vm.gic.version === 2
          ? v2Attr(
            vm,
            "get_attr",
            "DIST_REGS",
            a,
            () => gicv2DistUaccess(vm.gic, a.vcpu as number, a.offset as number),
          )
          : vm.gic.getDistReg(a.offset as number);
      if (!vm.trace.enabled) return body();
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_GET_DEVICE_ATTR DIST_REGS offset ${hex(a.offset)}`,
        body,
      );
    },
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_set_dist_reg",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_DIST_REGS): write a 32-bit distributor register as a restore does. GICv3: GICD_ISPENDR<n> sets or clears each SPI's pending latch, GICD_ICPENDR<n> is ignored, ISACTIVER / ICACTIVER set and clear active. GICv2 (vgic_v2_dist_uaccess, as vCPU `vcpu`): GICD_IIDR must be written with its value (-EINVAL) and makes GICD_IGROUPR writable (ignored before: vgic_mmio_uaccess_write_v2_group), TYPER is ignored, ISPENDR sets each set bit's latch (an SGI's source is `vcpu`), ICPENDR clears it (an SGI loses every source), ISACTIVER / ICACTIVER set and clear active",
    params: [
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0xffff, what: "a distributor offset" },
        doc: "the register's offset",
      },
      { name: "value", type: U32, doc: "the 32-bit value" },
      V2_ATTR_VCPU,
    ],
    returns: "0, or -EBUSY (GICv3 before vgic_init), -EINVAL, -ENXIO",
    run: (vm, _c, a, source) => {
      const body = () =>
        vm.gic.version === 2
          ? v2Attr(
            vm,
            "set_attr",
            "DIST_REGS",
            a,
            () => gicv2DistUaccess(vm.gic, a.vcpu as number, a.offset as number, a.value as number),
          )
          : vm.gic.setRegAttr("dist", 0, a.offset as number, a.value as number);
      if (!vm.trace.enabled) return body();
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_DEVICE_ATTR DIST_REGS offset ${hex(a.offset)}`,
        body,
      );
    },
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_get_cpu_reg",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CPU_REGS) on a GICv2 (vgic_v2_cpuif_uaccess, vgic_mmio_read_vcpuif): GICC_CTLR, PMR (as GICH_VMCR.VMPriMask: the priority >> 3), BPR, ABPR, APR0-3 (the host's ICH_AP1R<n>; APR1-3 read 0 with five priority bits) or IIDR of a vCPU; -ENXIO for any other offset and on a GICv3, -EINVAL for an unknown vCPU; the access initialises the vGIC",
    params: [
      V2_CPUID,
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0x1fff, what: "a CPU interface offset" },
        doc: "the GICC register's offset",
      },
    ],
    returns: "the value, or -EINVAL / -ENXIO",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_GET_DEVICE_ATTR CPU_REGS vcpu ${a.vcpu} offset ${hex(a.offset)}`,
        () =>
          v2Attr(vm, "get_attr", "CPU_REGS", a, () =>
            gicv2CpuUaccess(vm.gic, a.vcpu as number, a.offset as number)),
      ),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_set_cpu_reg",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CPU_REGS) on a GICv2 (vgic_v2_cpuif_uaccess, vgic_mmio_write_vcpuif, vgic_mmio_write_apr): restore GICC_CTLR, PMR (given as VMPriMask: priority >> 3), BPR, ABPR or APR0 of a vCPU; APR1-3 and IIDR ignore writes; -ENXIO for any other offset and on a GICv3, -EINVAL for an unknown vCPU",
    params: [
      V2_CPUID,
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0x1fff, what: "a CPU interface offset" },
        doc: "the GICC register's offset",
      },
      { name: "value", type: U32, doc: "the 32-bit value" },
    ],
    returns: "0, or -EINVAL / -ENXIO",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_DEVICE_ATTR CPU_REGS vcpu ${a.vcpu} offset ${hex(a.offset)}`,
        () =>
          v2Attr(vm, "set_attr", "CPU_REGS", a, () =>
            gicv2CpuUaccess(vm.gic, a.vcpu as number, a.offset as number, a.value as number)),
      ),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_cpu_sysreg",
    doc:
      "KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS) (vgic_v3_cpu_sysregs_uaccess): an ICC register of a vCPU as a VMM saves and restores it; only pmr, bpr0, bpr1, ap0rN, ap1rN, ctlr, sre, igrpen0, igrpen1 exist there (-ENXIO); give value= to write",
    params: [
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 0xffff, what: "a vcpu_id" },
        doc: "the vCPU (the attribute carries its MPIDR)",
      },
      { name: "reg", type: { kind: "enum", values: SYSREG_NAMES }, doc: "ICC_<reg>_EL1" },
      { name: "value", type: { kind: "u64" }, doc: "write this (omit to read)", default: -1 },
    ],
    returns: "the value read, or 0 written; -EINVAL, -ENXIO, -EBUSY",
    run: (vm, _c, a, source) => {
      const v = a.value;
      const write = typeof v === "bigint" ? v : (v as number) < 0 ? undefined : BigInt(v as number);
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_${write === undefined ? "GET" : "SET"}_DEVICE_ATTR CPU_SYSREGS vcpu ${a.vcpu} ICC_${
          (a.reg as string).toUpperCase()
        }_EL1`,
        () => vm.gic.cpuSysreg(a.vcpu as number, a.reg as string, write),
      );
    },
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_level_info",
    doc:
      "KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, VGIC_LEVEL_INFO_LINE_LEVEL) (vgic_v3_line_level_info_uaccess): the line levels of 32 INTIDs from intid (a multiple of 32), level-sensitive ones only; give value= to write",
    params: [
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 0xffff, what: "a vcpu_id" },
        doc: "the vCPU whose view (SGIs and PPIs are private)",
      },
      { name: "intid", type: INTID, doc: "the first INTID (a multiple of 32)" },
      {
        name: "value",
        type: { kind: "int", min: -1, max: 0xffff_ffff, what: "a 32-bit value" },
        doc: "write these levels (omit to read)",
        default: -1,
      },
    ],
    returns: "the levels read, or 0 written; -EINVAL, -EBUSY, -ENXIO",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_${(a.value as number) < 0 ? "GET" : "SET"}_DEVICE_ATTR LEVEL_INFO intid ${a.intid}`,
        () =>
          vm.gic.levelInfo(
            a.vcpu as number,
            a.intid as number,
            (a.value as number) < 0 ? undefined : (a.value as number),
          ),
      ),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_get_redist_reg",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS): read a 32-bit redistributor register of the vCPU with this vcpu_id (offset in RD_base, +0x10000 for SGI_base; GICR_TYPER's low word at 0x8)",
    params: [
      {
        name: "vcpu",
        type: { kind: "int", min: 0, max: 0xffff, what: "a vcpu_id" },
        doc: "the vcpu_id (the attribute carries its MPIDR)",
      },
      {
        name: "offset",
        type: { kind: "int", min: 0, max: 0x1ffff, what: "a redistributor offset" },
        doc: "the register's offset in the redistributor's two 64 KB frames",
      },
    ],
    returns: "the value, or -EBUSY before vgic_init, -EINVAL for no such vCPU, -ENXIO on GICv2",
    run: (vm, _c, a, source) => {
      const body = () => vm.gic.getRedistReg(a.vcpu as number, a.offset as number);
      if (!vm.trace.enabled) return body();
      return acting(
        vm,
        source,
        "ioctl",
        `KVM_GET_DEVICE_ATTR REDIST_REGS vcpu ${a.vcpu} offset ${hex(a.offset)}`,
        body,
      );
    },
  }),
  ...timerAttrCommands(),
  ...pmuAttrCommands(),
  {
    actor: "vmm",
    name: "kvm get_one_reg",
    doc:
      "KVM_GET_ONE_REG of a timer register: KVM_REG_ARM_TIMER_CNT / PTIMER_CNT (the counter now), TIMER_CVAL / PTIMER_CVAL, TIMER_CTL / PTIMER_CTL (kvm_arm_timer_get_reg; read_timer_ctl sets ISTATUS once the counter reached CVAL even with ENABLE clear); or id_aa64pfr0_el1 (KVM_ARM64_SYS_REG(SYS_ID_AA64PFR0_EL1)) with only its GIC field [27:24] modelled: the host's (1 on a GICv3 host) until a vGIC is created or a vCPU runs without one",
    params: [
      { name: "vcpu", type: VCPU_ID, doc: "the vCPU" },
      {
        name: "reg",
        type: {
          kind: "enum",
          values: [
            ...TIMER_REGS,
            "id_aa64pfr0_el1",
            "id_aa64pfr2_el1",
            "id_aa64dfr0_el1",
            ...Object.keys(PMU_ONE_REGS),
            ...PSCI_ONE_REGS,
          ],
        },
        doc: "the register",
      },
    ],
    returns: "the 64-bit value, or -ENOENT for a PMU register of a vCPU without a vPMU",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_GET_ONE_REG vcpu${a.vcpu} ${a.reg}`, () => {
        const fw = psciGetOneReg(vm, a.vcpu as number, a.reg as string);
        if (fw !== undefined) return fw;
        if (a.reg === "id_aa64pfr0_el1") {
          return BigInt(vm.idAa64pfr0Gic("vmm") << ID_AA64PFR0_GIC_SHIFT);
        }
        if (a.reg === "id_aa64dfr0_el1") return BigInt(idAa64dfr0(vm));
        if (a.reg === "id_aa64pfr2_el1") {
          return BigInt(vm.idAa64pfr2Gcie("vmm") << ID_AA64PFR2_GCIE_SHIFT);
        }
        const pmuReg = PMU_ONE_REGS[a.reg as keyof typeof PMU_ONE_REGS];
        if (pmuReg !== undefined) {
          // pmu_visibility: REG_HIDDEN without a vPMU, so -ENOENT.
          const pmu = vm.pmus[a.vcpu as number];
          return pmu === undefined ? -ENOENT : BigInt(pmu.read(pmuReg));
        }
        const t =
          vm.timers[a.vcpu as number][(a.reg as string).startsWith("ptimer") ? "phys" : "virt"];
        const what = (a.reg as string).replace(/^p?timer_/, "");
        // CTL through read_timer_ctl: ISTATUS whenever expired, even disabled.
        return what === "cnt" ? t.counter : what === "cval" ? t.cval : BigInt(t.kvmCtl);
      }),
  },
  {
    actor: "vmm",
    name: "kvm set_one_reg",
    doc:
      "KVM_SET_ONE_REG of a timer register (kvm_arm_timer_set_reg): TIMER_CNT / PTIMER_CNT set the VM's virtual / physical offset so the counter reads the value now, for every vCPU, and are ignored once KVM_ARM_SET_COUNTER_OFFSET was used; CVAL and CTL are written as the guest would; or of a PMU register (-ENOENT without a vPMU): pmcr_el0 (set_pmcr: N becomes the VM's number of event counters while no vCPU has run and N is at most the host's 6, else that field is ignored and the call still succeeds; E, D, X, DP, LP kept), the SET/CLR bit masks (set_pmreg: the pair's one register becomes the value, keeping only the counters that exist)",
    params: [
      { name: "vcpu", type: VCPU_ID, doc: "the vCPU" },
      {
        name: "reg",
        type: {
          kind: "enum",
          values: [
            ...TIMER_REGS,
            ...Object.keys(PMU_ONE_REGS),
            ...PSCI_ONE_REGS.filter((r) => r !== "mpidr_el1" && r !== "pc"),
          ],
        },
        doc: "the register",
      },
      { name: "value", type: { kind: "u64" }, doc: "the 64-bit value" },
    ],
    returns: "0, or -ENOENT for a PMU register of a vCPU without a vPMU",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_ONE_REG vcpu${a.vcpu} ${a.reg} <- ${hex(a.value)}`,
        () => {
          const reg = a.reg as string;
          const fw = psciSetOneReg(vm, a.vcpu as number, reg, BigInt(a.value as bigint | number));
          if (fw !== undefined) return fw;
          const pmuReg = PMU_ONE_REGS[reg as keyof typeof PMU_ONE_REGS];
          if (pmuReg !== undefined) {
            const pmu = vm.pmus[a.vcpu as number];
            if (pmu === undefined) return -ENOENT;
            const v = Number(BigInt(a.value as bigint | number) & 0xffff_ffffn);
            if (pmuReg === "pmcr") vm.setPmcrUser(a.vcpu as number, v);
            else pmu.setMaskUser(pmuReg, v);
            return 0;
          }
          const which = reg.startsWith("ptimer") ? "phys" : "virt";
          const t = vm.timers[a.vcpu as number][which];
          const value = BigInt(a.value as bigint | number);
          const what = reg.replace(/^p?timer_/, "");
          if (what === "cnt") {
            const off = vm.counterOffsets;
            if (off.vmWide) {
              emit(
                vm,
                "kvm",
                "set_one_reg",
                `${reg}: ignored (KVM_ARM_SET_COUNTER_OFFSET is in use)`,
              );
              return 0;
            }
            off[which] = BigInt.asUintN(64, BigInt(Math.floor(vm.now())) - value);
            for (const vt of vm.timers) vt[which].update();
          } else if (what === "cval") t.writeCval(value);
          else t.writeCtl(Number(value & 3n));
          return 0;
        },
      ),
  },
  {
    actor: "vmm",
    name: "kvm set_counter_offset",
    doc:
      "KVM_ARM_SET_COUNTER_OFFSET (kvm_vm_ioctl_set_counter_offset): one offset for the virtual and physical counters of every vCPU; from then on KVM_SET_ONE_REG of TIMER_CNT / PTIMER_CNT is ignored; a non-zero reserved field is -EINVAL",
    params: [
      {
        name: "offset",
        type: { kind: "u64" },
        doc: "counter_offset: subtracted from the host counter",
      },
      { name: "reserved", type: U32, doc: "must be 0", default: 0 },
    ],
    returns: "0 or -EINVAL",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_ARM_SET_COUNTER_OFFSET ${hex(a.offset)}`, () => {
        if ((a.reserved as number) !== 0) return -EINVAL;
        const off = vm.counterOffsets;
        const v = BigInt.asUintN(64, BigInt(a.offset as bigint | number));
        off.vmWide = true;
        off.virt = v;
        off.phys = v;
        for (const vt of vm.timers) {
          vt.virt.update();
          vt.phys.update();
        }
        return 0;
      }),
  },
  onDeviceFd("its", {
    actor: "vmm",
    name: "kvm its_ctrl",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL) on the ITS (vgic_its_ctrl): reset (KVM_DEV_ARM_ITS_CTRL_RESET: what a migration's fresh ITS is), save_tables (KVM_DEV_ARM_ITS_SAVE_TABLES: device, interrupt and collection tables into guest RAM, ABI 0), restore_tables (KVM_DEV_ARM_ITS_RESTORE_TABLES: read them back; restore GITS_BASER<n> first)",
    params: [{
      name: "op",
      type: { kind: "enum", values: ["reset", "save_tables", "restore_tables"] },
      doc: "the attribute",
      positional: true,
    }],
    returns:
      "0, -EINVAL, -EEXIST, -EACCES (a forwarded vLPI on a GICv4.0 host: vgic_its_save_itt), -ENODEV (no ITS)",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_SET_DEVICE_ATTR ITS CTRL ${a.op}`, () => {
        const its = vm.gic.its;
        if (!its) return -ENODEV;
        if (a.op === "reset") {
          its.reset();
          return 0;
        }
        return a.op === "save_tables" ? its.saveTables() : its.restoreTables();
      }),
  }),
  onDeviceFd("vgic", {
    actor: "vmm",
    name: "kvm vgic_save_pending_tables",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES) on the GICv3: each LPI's pending state into its target's pending table (vgic_v3_save_pending_tables); a forwarded vLPI's is read from its vPE on a GICv4.1 host and saved as clear on a GICv4.0 one",
    params: [],
    returns: "0, -ENXIO on a GICv2",
    run: (vm, _c, _a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        "KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES",
        () => vm.gic.savePendingTables(),
      ),
  }),
  onDeviceFd("its", {
    actor: "vmm",
    name: "kvm its_set_addr",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE) on the ITS (vgic_its_set_attr, vgic_check_iorange): place the ITS's two 64 KB frames; -EEXIST once placed, -EINVAL unless 64 KB aligned, -E2BIG past the 40-bit IPA space. KVM_SIGNAL_MSI then names the ITS by an address in those frames (until placed, the model's default ITS_BASE 0x8080000)",
    params: [{ name: "addr", type: { kind: "u64" }, doc: "the ITS base" }],
    returns: "0, -EEXIST, -EINVAL or -E2BIG",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_SET_DEVICE_ATTR ITS ADDR ${hex(a.addr)}`, () => {
        const r = vm.gic.device.setItsAddr(BigInt(a.addr as bigint | number));
        if (r !== 0) emit(vm, "kvm", "set_attr", `ITS ADDR: ${r}`);
        return r;
      }),
  }),
  onDeviceFd("its", {
    actor: "vmm",
    name: "kvm its_get_reg",
    doc:
      "KVM_GET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ITS_REGS) on the ITS device: a GITS_* register by offset (vgic_its_attr_regs_access: 8-byte alignment for the 64-bit ones, 4 for CTLR, IIDR and the ID registers)",
    params: [{ name: "offset", type: ITS_REG_OFFSET, doc: "the register's offset in ITS_base" }],
    returns: "the value, -EINVAL (misaligned), -ENXIO (no register there), -ENODEV (no ITS)",
    run: (vm, _c, a, source) =>
      acting(vm, source, "ioctl", `KVM_GET_DEVICE_ATTR ITS_REGS offset ${hex(a.offset)}`, () => {
        const its = vm.gic.its;
        if (!its) return -ENODEV;
        const v = its.getRegisterAttr(a.offset as number);
        emit(
          vm,
          "kvm",
          "get_attr",
          `ITS_REGS ${hex(a.offset)} = ${typeof v === "bigint" ? hex(v) : v}`,
        );
        return v;
      }),
  }),
  onDeviceFd("its", {
    actor: "vmm",
    name: "kvm its_set_reg",
    doc:
      "KVM_SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_ITS_REGS): write a GITS_* register as a restore does; GITS_IIDR takes revision 0 only, GITS_CREADR only while the ITS is disabled and inside the queue (vgic_mmio_uaccess_write_its_creadr), the rest as the guest writes them",
    params: [
      { name: "offset", type: ITS_REG_OFFSET, doc: "the register's offset in ITS_base" },
      { name: "value", type: { kind: "u64" }, doc: "the value" },
    ],
    returns: "0, -EINVAL, -EBUSY (CREADR while enabled), -ENXIO, -ENODEV",
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "ioctl",
        `KVM_SET_DEVICE_ATTR ITS_REGS offset ${hex(a.offset)} <- ${hex(a.value)}`,
        () => {
          const its = vm.gic.its;
          if (!its) return -ENODEV;
          const v = a.value;
          return its.setRegisterAttr(
            a.offset as number,
            typeof v === "bigint" ? v : BigInt(v as number),
          );
        },
      ),
  }),
  ...(["forward", "unforward"] as const).map((w): Cmd => ({
    actor: "vmm",
    name: `kvm ${w}`,
    doc: w === "forward"
      ? "VFIO's irq bypass meets KVM's MSI route: kvm_vgic_v4_set_forwarding upgrades the event's LPI to a vLPI (GICv4)"
      : "kvm_vgic_v4_unset_forwarding: the vLPI goes back to software injection",
    params: DEV_EVENT,
    returns: "0, or the vITS lookup's error",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      acting(vm, source, w, `${w} device ${hex(a.device)} event ${a.event}`, () => {
        const v4 = vm.gic.v4;
        const dev = a.device as number, ev = a.event as number;
        if (!v4 || !vm.gic.its) {
          emit(
            vm,
            source,
            "v4.missing",
            !vm.gic.its
              ? "no vITS: KVM forwards only LPIs the guest maps through its vITS; stays on software injection"
              : vm.gic.hostV41
              ? "no vPEs: nASSGIcap was cleared before CTRL_INIT (vgic_supports_direct_msis): stays on software injection"
              : "no GICv4 ('gic v3 { its v4 }'): stays on software injection",
          );
          return 0;
        }
        if (w === "unforward") {
          v4.unforward(dev, ev);
          return 0;
        }
        const t = vm.gic.its!.translate(dev, ev);
        v4.forward(dev, ev, "error" in t ? null : t.ite.lpi);
        return "error" in t ? t.error : 0;
      }),
  })),
];

function deviceId(source: string, given: number): number {
  if (given >= 0) return given;
  const name = source.replace(/^device /, "");
  const n = Number(name.replace(/_/g, ""));
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

const DEVICE_COMMANDS: Cmd[] = [
  {
    actor: "device",
    name: "msi",
    explain: (a) => explainArmMsi(undefined, literalOf(a.event)),
    doc:
      "the device writes its EventID to GITS_TRANSLATER; the DeviceID is the device's name (device 0x10) or devid=. A forwarded event goes to the vLPI",
    params: [
      { name: "event", type: EVENT_ID, doc: "EventID (the MSI data)" },
      {
        name: "devid",
        type: { kind: "int", min: -1, max: 0xffff_ffff },
        doc: "DeviceID, when the name is not one",
        default: -1,
      },
    ],
    returns: "0 when an LPI was made pending, else why it was dropped",
    touches: [PLUMBING],
    run: (vm, _c, a, source) => {
      const dev = deviceId(source, a.devid as number);
      return acting(
        vm,
        source,
        "msi",
        `MSI: GITS_TRANSLATER <- ${a.event} (DeviceID ${hex(dev)})`,
        () => {
          const its = vm.gic.its;
          if (!its) {
            emit(vm, source, "msi.dropped", "no ITS: nothing decodes the write");
            return -ENODEV;
          }
          const f = vm.gic.v4?.forwarding(dev, a.event as number);
          // Not forwarded: VFIO's eventfd → irqfd → KVM's MSI route → vITS.
          return its.translater(
            dev,
            a.event as number,
            f?.lpi ? "device MSI (vLPI)" : "device MSI via irqfd",
          );
        },
      );
    },
  },
  {
    actor: "device",
    name: "irqfd",
    doc:
      "the device writes the eventfd KVM_IRQFD bound to the GSI (irqfd_wakeup): each routing entry of the GSI is injected (kvm_arch_set_irq_inatomic, else irqfd_inject); before vgic_init an SPI is lost on a GICv3 (kvm_vgic_inject_irq's -EBUSY reaches nobody) and initialises a GICv2, an MSI is -ENODEV without vgic_has_its",
    params: [{
      name: "gsi",
      type: { kind: "int", min: 0, max: 4095, what: "a GSI", decimal: true },
      doc: "the GSI",
    }],
    returns: "how many routing entries delivered",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      acting(
        vm,
        source,
        "eventfd",
        `eventfd write (GSI ${a.gsi})`,
        () => vm.gic.irqfdSignal(a.gsi as number),
      ),
  },
  ...(["assert", "deassert", "pulse"] as const).map((w): Cmd => ({
    actor: "device",
    name: w,
    doc: `${w} the device's SPI line (KVM_IRQ_LINE type spi${
      w === "pulse" ? ", level 1 then 0" : ""
    })`,
    params: [{ name: "spi", type: INTID, doc: "the SPI INTID" }],
    returns: "the KVM_IRQ_LINE result",
    touches: [PLUMBING],
    run: (vm, _c, a, source) =>
      acting(vm, source, w, `SPI ${a.spi} ${w}`, (id) => {
        const n = a.spi as number;
        const r = vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, n, w === "deassert" ? 0 : 1, id);
        if (w === "pulse") vm.gic.kvmIrqLine(KvmIrqType.SPI, 0, n, 0, id);
        return r;
      }),
  })),
];

// ---- state -----------------------------------------------------------------------------

const vcpuBound = (vm: ArmVm) => [vm.cpus.length];
const INT_ANY = { kind: "int", min: -1, max: Number.MAX_SAFE_INTEGER } as const;
const STATES = ["inactive", "pending", "active", "active_pending"];

function intidState(
  prefix: string,
  bankFor: (vm: ArmVm, idx: readonly number[]) => { cpu: number; intid: number },
  bounds: (vm: ArmVm) => number[],
): State[] {
  const at = (vm: ArmVm, idx: readonly number[]) => {
    const { cpu, intid } = bankFor(vm, idx);
    return { bank: vm.gic.bankOf(cpu, intid), i: intid };
  };
  const num = (
    name: string,
    doc: string,
    get: (vm: ArmVm, idx: readonly number[]) => number,
  ): State => ({
    pattern: `${prefix}.${name}`,
    type: INT_ANY,
    doc,
    get,
    bounds,
  });
  return [
    num("pending", "1 when pending (latch, or level line high)", (vm, x) => {
      const { bank, i } = at(vm, x);
      return bank.isPending(i) ? 1 : 0;
    }),
    num("active", "1 when active", (vm, x) => at(vm, x).bank.active[at(vm, x).i]),
    num("enabled", "1 when enabled", (vm, x) => at(vm, x).bank.enabled[at(vm, x).i]),
    num("priority", "priority (5 bits kept)", (vm, x) => at(vm, x).bank.priority[at(vm, x).i]),
    num("group", "0 or 1", (vm, x) => at(vm, x).bank.group[at(vm, x).i]),
    num(
      "line",
      "the input line level (level-sensitive)",
      (vm, x) => at(vm, x).bank.line[at(vm, x).i],
    ),
    {
      pattern: `${prefix}.config`,
      type: { kind: "enum", values: ["level", "edge"] },
      doc: "edge or level",
      get: (vm, x) => (at(vm, x).bank.edge[at(vm, x).i] ? "edge" : "level"),
      bounds,
    },
    {
      pattern: `${prefix}.state`,
      type: { kind: "enum", values: STATES },
      doc: "inactive, pending, active, active_pending",
      get: (vm, x) => at(vm, x).bank.state(at(vm, x).i),
      bounds,
    },
  ];
}

function gicState(): State[] {
  const out: State[] = [];
  out.push(
    ...intidState(
      "vcpu#.gic.intid[#]",
      (_vm, [c, i]) => ({ cpu: c, intid: i }),
      (vm) => [vm.cpus.length, PRIVATE_COUNT],
    ),
    ...intidState(
      "gicd.intid[#]",
      (_vm, [i]) => ({ cpu: 0, intid: i }),
      (vm) => [vm.gic.dist.nrIrqs],
    ),
    {
      pattern: "gicd.intid[#].target",
      type: INT_ANY,
      doc: "the vCPU an SPI goes to (-1: none)",
      get: (vm, [i]) => (i < PRIVATE_COUNT ? 0 : vm.gic.dist.targetVcpu[i]),
      bounds: (vm) => [vm.gic.dist.nrIrqs],
    },
    {
      pattern: "gicd.ctlr",
      type: U32,
      doc: "GICD_CTLR",
      get: (vm) => Number(vm.gic.dist.read(GicdOffset.CTLR)),
    },
    {
      pattern: "gicd.typer2",
      type: U32,
      doc: "GICD_TYPER2: nASSGIcap (bit 8) while the VM has it",
      get: (vm) => Number(vm.gic.dist.read(GicdOffset.TYPER2)),
    },
    {
      pattern: "vgic.vsgis",
      type: BIT,
      doc:
        "GICv4.1: KVM delivers every vCPU's SGIs as vSGIs without an active state (vgic_v4_configure_vsgis after nASSGIreq)",
      get: (vm) => (vm.gic.vsgis ? 1 : 0),
    },
    {
      pattern: "vcpu#.gic.pending",
      type: { kind: "set", min: 0, max: 0xffff_ffff },
      doc: "INTIDs pending for the vCPU (SGIs, PPIs, SPIs targeting it, LPIs and vLPIs)",
      get: (vm, [c]) => vm.gic.pendingOf(c),
      bounds: vcpuBound,
    },
    {
      pattern: "vcpu#.gic.active",
      type: { kind: "set", min: 0, max: 0xffff_ffff },
      doc: "INTIDs active on the vCPU",
      get: (vm, [c]) => vm.gic.activeOf(c),
      bounds: vcpuBound,
    },
    {
      pattern: "vcpu#.gicr.typer",
      type: { kind: "u64" },
      doc: "GICR_TYPER",
      get: (vm, [c]) => vm.gic.rds[c].typer,
      bounds: vcpuBound,
    },
    {
      pattern: "vcpu#.gicr.region_index",
      type: INT_ANY,
      doc:
        "the redistributor's slot in its redistributor region: the vCPU's creation index in the legacy region; once regions are set through `kvm vgic_set_addr type=v3_redist_region`, the slot there (-1 with none)",
      get: (vm, [c]) => vm.gic.rds[c].regionIndex,
      bounds: vcpuBound,
    },
    {
      pattern: "vgic.initialized",
      type: BIT,
      doc:
        "1 once the vGIC is initialised (vgic_init): from the start for a plain `gic`, else by `vmm: kvm vgic_init` (KVM_DEV_ARM_VGIC_CTRL_INIT) or, on a GICv2, its first KVM_RUN, injection or register attribute",
      get: (vm) => (vm.gic.initialized ? 1 : 0),
    },
    ...Object.entries(TimerIrqAttr).map(([k, attr]): State => ({
      pattern: `timer_irq.${k.toLowerCase()}`,
      type: INTID,
      doc: `the PPI of every vCPU's ${k} (KVM's timer_data.ppi; kvm timer_set_irq renumbers it)`,
      get: (vm) => vm.timerPpis.ppi[attr],
    })),
    {
      pattern: "timer_irq.immutable",
      type: BIT,
      doc:
        "1 once a KVM_RUN with a vGIC validated the timer PPIs (KVM_ARCH_FLAG_TIMER_PPIS_IMMUTABLE): kvm timer_set_irq is -EBUSY",
      get: (vm) => (vm.timerPpis.immutable ? 1 : 0),
    },
    {
      pattern: "vgic.created",
      type: BIT,
      doc: "1 once KVM_CREATE_DEVICE made the vGIC (irqchip_in_kernel; vmm: kvm create_device)",
      get: (vm) => (vm.gic.device.created ? 1 : 0),
    },
    {
      pattern: "vgic.its_created",
      type: BIT,
      doc:
        "1 once KVM_CREATE_DEVICE made the ITS (vmm: kvm create_device type=its), even before the vGIC or on a GICv2, where it is inert (see vgic.has_its)",
      get: (vm) => (vm.gic.itsCreated ? 1 : 0),
    },
    {
      pattern: "vgic.has_its",
      type: BIT,
      doc:
        "vgic_has_its: 1 while an ITS device exists and the vGIC is a created GICv3; KVM_SIGNAL_MSI and MSI routes are -ENODEV otherwise",
      get: (vm) => (vm.gic.hasIts ? 1 : 0),
    },
    {
      pattern: "irqfd[#].resampled",
      type: INT_ANY,
      doc:
        "times KVM signalled the resamplefd of GSI #'s irqfd (irqfd_resampler_ack, on the guest's EOI or DIR of its level SPI); -1 without a resampling irqfd",
      get: (vm, [gsi]) => vm.gic.resamplefds.get(gsi) ?? -1,
      bounds: () => [4096],
    },
    {
      pattern: "vgic.version",
      type: INT_ANY,
      doc:
        "the vGIC's architecture version: the vm's `gic` setting, or the type a deferred vGIC's KVM_CREATE_DEVICE made",
      get: (vm) => vm.gic.version,
    },
    {
      pattern: "vgic.ready",
      type: BIT,
      doc: "1 once a KVM_RUN found the vGIC ready (vgic_ready; vmm: kvm run)",
      get: (vm) => (vm.gic.device.ready ? 1 : 0),
    },
    {
      pattern: "vcpu#.gicr.enable_lpis",
      type: BIT,
      doc: "GICR_CTLR.EnableLPIs",
      get: (vm, [c]) => (vm.gic.rds[c].enableLpis ? 1 : 0),
      bounds: vcpuBound,
    },
  );
  for (
    const name of [
      "pmr",
      "rpr",
      "bpr0",
      "bpr1",
      "ap0r0",
      "ap1r0",
      "ctlr",
      "igrpen0",
      "igrpen1",
      "hppir0",
      "hppir1",
    ]
  ) {
    out.push({
      pattern: `vcpu#.icc.${name}`,
      type: U32,
      doc: `ICC_${name.toUpperCase()}_EL1 (reading it here has no side effect)`,
      get: (vm, [c]) => vm.gic.cifs[c].read(name),
      bounds: vcpuBound,
    });
  }
  return out;
}

function cpuState(): State[] {
  const n = (
    name: string,
    doc: string,
    get: (vm: ArmVm, c: number) => number | boolean,
  ): State => ({
    pattern: `vcpu#.${name}`,
    type: INT_ANY,
    doc,
    get: (vm, [c]) => Number(get(vm, c)),
    bounds: vcpuBound,
  });
  const out: State[] = [
    n(
      "created",
      "1 once KVM_CREATE_VCPU made the vCPU (`vcpus { created N }`, vmm: kvm create_vcpu)",
      (vm, c) => vm.gic.vcpuExists(c),
    ),
    n("pstate.i", "PSTATE.I: IRQs masked", (vm, c) => vm.cpus[c].maskI),
    n("pstate.f", "PSTATE.F: FIQs masked", (vm, c) => vm.cpus[c].maskF),
    n("halted", "1 while blocked in WFI", (vm, c) => vm.cpus[c].halted),
    n("depth", "exception handlers running (nested)", (vm, c) => vm.cpus[c].depth),
    n(
      "esr_el1",
      "ESR_EL1: the syndrome of the last synchronous exception taken (EC [31:26], IL [25]; 0 before any)",
      (vm, c) => vm.cpus[c].esr,
    ),
    n("sync_taken", "synchronous exceptions taken (UNDEFs)", (vm, c) => vm.cpus[c].syncTaken),
    n("pmu.pmcr", "PMCR_EL0 as read (0 without a vPMU)", (vm, c) => vm.pmus[c]?.pmcr ?? 0),
    n("pmu.ovs", "PMOVSSET_EL0: the overflow flags", (vm, c) => vm.pmus[c]?.ovs ?? 0),
    n(
      "pmu.inten",
      "PMINTENSET_EL1: the overflow interrupt enables",
      (vm, c) => vm.pmus[c]?.inten ?? 0,
    ),
    n("pmu.cnten", "PMCNTENSET_EL0: the counter enables", (vm, c) => vm.pmus[c]?.cnten ?? 0),
    n("pmu.n", "PMCR_EL0.N: the VM's event counters", (vm, c) => vm.pmus[c]?.nr ?? 0),
    n("pmu.pmselr", "PMSELR_EL0.SEL", (vm, c) => vm.pmus[c]?.pmselr ?? 0),
    n("pmu.ccfiltr", "PMCCFILTR_EL0", (vm, c) => vm.pmus[c]?.ccfiltr ?? 0),
    n(
      "pmu.irq",
      "1 while the overflow interrupt is high (PMCR_EL0.E and PMOVSSET & PMINTENSET)",
      (vm, c) => vm.pmus[c]?.line ?? false,
    ),
    n(
      "last_ack_source",
      "GICC_IAR.CPUID of the last interrupt taken: a GICv2 SGI's sender, else -1 (Arm IHI 0048B 4.4.4)",
      (vm, c) => vm.cpus[c].lastAckSource,
    ),
    n("vpe.resident", "GICv4: the vPE is resident", (vm, c) => vm.gic.v4?.vpes[c].resident ?? 0),
    n(
      "vpe.pending_last",
      "GICv4: the doorbell reported a pending vLPI (or GICv4.1 vSGI)",
      (vm, c) => vm.gic.v4?.vpes[c].pendingLast ?? 0,
    ),
    n(
      "vpe.doorbell",
      "GICv4: doorbell enabled (while blocked)",
      (vm, c) => vm.gic.v4?.vpes[c].doorbell ?? 0,
    ),
    n("vpe.vlpis", "GICv4: vLPIs mapped to the vPE", (vm, c) => vm.gic.v4?.vpes[c].vlpis ?? 0),
  ];
  for (const t of ["virt", "phys"] as const) {
    out.push(
      n(
        `timer.${t}.ctl`,
        `CNT${t === "virt" ? "V" : "P"}_CTL_EL0 (ISTATUS included)`,
        (vm, c) => vm.timers[c][t].ctl,
      ),
      {
        pattern: `vcpu#.timer.${t}.cval`,
        type: { kind: "u64" },
        doc: `CNT${t === "virt" ? "V" : "P"}_CVAL_EL0, 64 bits (Arm ARM D11.2.4)`,
        get: (vm, [c]) => vm.timers[c][t].cval,
        bounds: vcpuBound,
      },
      {
        pattern: `vcpu#.timer.${t}.counter`,
        type: { kind: "u64" },
        doc: `CNT${t === "virt" ? "V" : "P"}CT_EL0: the ${
          t === "virt" ? "virtual" : "physical"
        } counter now (64 bits)`,
        get: (vm, [c]) => vm.timers[c][t].counter,
        bounds: vcpuBound,
      },
      {
        pattern: `vcpu#.timer.${t}.tval`,
        type: { kind: "int", min: -0x8000_0000, max: 0x7fff_ffff },
        doc: `CNT${
          t === "virt" ? "V" : "P"
        }_TVAL_EL0: CVAL - counter, signed 32 bits (Arm ARM D11.2.4)`,
        get: (vm, [c]) => vm.timers[c][t].tval,
        bounds: vcpuBound,
      },
      n(
        `timer.${t}.istatus`,
        "ISTATUS: enabled and the counter reached CVAL",
        (vm, c) => vm.timers[c][t].istatus,
      ),
      n(
        `timer.${t}.line`,
        "the level the timer drives onto its PPI",
        (vm, c) => vm.timers[c][t].line,
      ),
    );
  }
  return out;
}

function lpiState(): State[] {
  const lpiBound = (vm: ArmVm) => [vm.gic.lpis.limit];
  const get = (vm: ArmVm, i: number) => vm.gic.lpis.lpis.get(i);
  const n = (name: string, doc: string, read: (vm: ArmVm, i: number) => number): State => ({
    pattern: `lpi[#].${name}`,
    type: INT_ANY,
    doc,
    get: (vm, [i]) => read(vm, i),
    bounds: lpiBound,
  });
  return [
    n("mapped", "1 when an ITE maps it", (vm, i) => (get(vm, i) ? 1 : 0)),
    n("pending", "1 when pending", (vm, i) => (get(vm, i)?.pending ? 1 : 0)),
    n(
      "priority",
      "priority as KVM caches it (-1: not mapped)",
      (vm, i) => get(vm, i)?.priority ?? -1,
    ),
    n("enabled", "enable as KVM caches it", (vm, i) => (get(vm, i)?.enabled ? 1 : 0)),
    n("target", "target vCPU (-1: none)", (vm, i) => get(vm, i)?.target ?? -1),
    n("forwarded", "1 when it is a GICv4 vLPI", (vm, i) => (get(vm, i)?.forwarded ? 1 : 0)),
    n("config", "the configuration byte in guest memory", (vm, i) => vm.gic.lpis.readConfig(i)),
    {
      pattern: "lpi[#].path",
      type: { kind: "enum", values: LPI_PATHS },
      doc: "how it was last made pending: none, software, direct (vLPI, resident vPE), doorbell",
      get: (vm, [i]) => get(vm, i)?.path ?? "none",
      bounds: lpiBound,
    },
  ];
}

function itsState(): State[] {
  const ite = (vm: ArmVm, d: number, e: number) => vm.gic.its?.findIte(d, e);
  return [
    {
      pattern: "its.device[#].event[#].lpi",
      type: INT_ANY,
      doc: "the pINTID the event maps to (-1: no ITE)",
      get: (vm, [d, e]) => ite(vm, d, e)?.lpi.intid ?? -1,
    },
    {
      pattern: "its.device[#].event[#].collection",
      type: INT_ANY,
      doc: "the ICID of the event's ITE (-1: none or orphaned)",
      get: (vm, [d, e]) => ite(vm, d, e)?.icid ?? -1,
    },
    {
      pattern: "its.device[#].event[#].cached",
      type: BIT,
      doc:
        "1 while the translation cache holds (DeviceID, EventID) (vgic_its_cache_translation; emptied by vgic_its_invalidate_cache)",
      get: (vm, [d, e]) => (vm.gic.its?.cached(d, e) ? 1 : 0),
    },
    {
      pattern: "its.device[#].mapped",
      type: BIT,
      doc: "1 when MAPD mapped the device",
      get: (vm, [d]) => (vm.gic.its?.devices.has(d) ? 1 : 0),
    },
    {
      pattern: "its.collection[#].target",
      type: INT_ANY,
      doc: "the collection's vCPU (-1: unmapped or absent)",
      get: (vm, [c]) => vm.gic.its?.collectionTarget(c) ?? -1,
    },
    {
      pattern: "its.enabled",
      type: BIT,
      doc: "GITS_CTLR.Enabled",
      get: (vm) => (vm.gic.its?.enabled ? 1 : 0),
    },
    {
      pattern: "its.baser[#]",
      type: { kind: "u64" },
      doc: "GITS_BASER<n> (0 devices, 1 collections; 2..7 read 0: vgic_mmio_read_its_baser)",
      get: (vm, [n]) => vm.gic.its?.readRegister(GitsOffset.BASER + 8 * n, 8) ?? 0n,
      bounds: () => [8],
    },
    {
      pattern: "its.cbaser",
      type: { kind: "u64" },
      doc: "GITS_CBASER (vgic_mmio_write_its_cbaser)",
      get: (vm) => vm.gic.its?.cbaser ?? 0n,
    },
    {
      pattern: "its.quiescent",
      type: BIT,
      doc: "GITS_CTLR.Quiescent: CREADR == CWRITER (vgic_mmio_read_its_ctlr)",
      get: (vm) => (vm.gic.its?.quiescent ?? true) ? 1 : 0,
    },
    {
      pattern: "its.creadr",
      type: U32,
      doc: "GITS_CREADR (bytes)",
      get: (vm) => vm.gic.its?.creadr ?? 0,
    },
    {
      pattern: "its.cwriter",
      type: U32,
      doc: "GITS_CWRITER (bytes)",
      get: (vm) => vm.gic.its?.cwriter ?? 0,
    },
    {
      pattern: "its.last_error",
      type: INT_ANY,
      doc: "KVM's code for the last command (0 ok)",
      get: (vm) => vm.gic.its?.lastError ?? 0,
    },
  ];
}

// ---- the platform ----------------------------------------------------------------------

const SETTINGS: SettingSpec[] = [
  {
    name: "arch",
    doc: "the architecture",
    value: { kind: "enum", values: ["arm64"], default: "arm64" },
  },
  {
    name: "hypervisor",
    doc:
      "whose behaviour to model: KVM; or Xen (event channels whose upcall is PPI 31, GUEST_EVTCHN_PPI, shared_info and vcpu_info in arch-arm.h's layout; Xen's x86-only commands are refused); block: { build release|debug }",
    value: { kind: "enum", values: ARM_HYPERVISORS, default: ARM_HYPERVISORS[0] },
    block: [
      {
        name: "build",
        doc:
          "hypervisor xen: which Xen build answers the HVC #0xEA1 hypercalls (number in x16, arguments in x0..x4, result in x0): release (the default; the registers keep their values) or debug (arm traps.c do_trap_hypercall, #ifndef NDEBUG: after a call whose result is not -ENOSYS, the argument registers it used but x0, and x16, read 0xDEADBEEF)",
        value: { kind: "enum", values: ["release", "debug"], default: "release" },
      },
    ],
  },
  {
    name: "vcpus",
    doc:
      "number of vCPUs: vcpuN is the one with vcpu_id N (0..n-1), KVM's MPIDR for that id; block: { created N }",
    value: { kind: "int", min: 1, max: 512, default: 1 },
    block: [
      {
        name: "created",
        doc:
          "how many exist when the scenario starts (KVM's created_vcpus): the first N of vcpu_ids; the VMM creates the others with `kvm create_vcpu` (in any order; a GICv2's in vcpu_id order), and until then KVM knows no such vCPU (the default, 512, means all)",
        value: { kind: "int", min: 0, max: 512, default: 512 },
      },
    ],
  },
  {
    name: "vcpu_ids",
    doc:
      "the vcpu_ids in the order the VMM creates the vCPUs (KVM_CREATE_VCPU), each of 0..vcpus-1 once, e.g. vcpu_ids=[0, 3, 5, 4, 1, 2]; it sets each redistributor's slot in the legacy redistributor region, so GICR_TYPER.Last goes to the vCPU created last (GICv3; GICv2 takes only the default); [] means 0, 1, 2, ...",
    value: { kind: "list", min: 0, max: 511, default: [] },
  },
  {
    name: "irqchip",
    doc:
      "KVM/arm64 has only the in-kernel vGIC: a userspace irqchip (kernel_irqchip=off) does not exist for a GIC guest, so 'kernel' is the only value",
    value: { kind: "enum", values: ["kernel"], default: "kernel" },
    refused: {
      userspace:
        "KVM/arm64 has no userspace irqchip: the GIC is the in-kernel vGIC (KVM_CREATE_DEVICE), so interrupts cannot be injected with KVM_INTERRUPT",
      split:
        "split irqchip is an x86 mode (LAPIC in the kernel, IOAPIC and PIC in userspace); a GIC is not split",
    },
  },
  {
    name: "gic",
    doc:
      "the vGIC: v2 (KVM_DEV_TYPE_ARM_VGIC_V2, at most 8 vCPUs: kvm_vgic_create) or v3 (KVM_DEV_TYPE_ARM_VGIC_V3); block: { its  v4 | v4_1 }",
    value: { kind: "enum", values: ["v2", "v3"], default: "v3" },
    block: [
      {
        name: "its",
        doc: "a vITS (KVM_DEV_TYPE_ARM_VGIC_ITS; GICv3 only)",
        value: { kind: "flag" },
      },
      {
        name: "v4",
        doc:
          "the host's GIC is a GICv4(.0): direct injection of forwarded LPIs (needs the ITS); no vSGIs, so GICD_TYPER2.nASSGIcap reads 0",
        value: { kind: "flag" },
      },
      {
        name: "v4_1",
        doc:
          "the host's GIC is a GICv4.1 whose CPU interfaces take vSGIs (KVM's system_supports_direct_sgis): a GICv3 VM starts with GICD_TYPER2.nASSGIcap (kvm_vgic_create), the VMM may clear or set it through DIST_REGS until CTRL_INIT, and the guest's GICD_CTLR.nASSGIreq turns its SGIs into vSGIs without an active state (vgic_v4_configure_vsgis); vPEs exist with or without an ITS, and forwarded LPIs become vLPIs as with v4. A VM whose nASSGIcap is cleared at CTRL_INIT gets no vPEs, so no vLPIs either (vgic_supports_direct_msis)",
        value: { kind: "flag" },
      },
      {
        name: "deferred",
        doc:
          "the VMM creates the vGIC (and the ITS) itself with `vmm: kvm create_device` instead of before the scenario starts; a vCPU may run first",
        value: { kind: "flag" },
      },
      {
        name: "uninitialized",
        doc:
          "the VMM has not sent KVM_DEV_ARM_VGIC_CTRL_INIT yet: the scenario does (`vmm: kvm vgic_init`), and until then a GICv3's register attributes, KVM_IRQ_LINE and irqfds answer -EBUSY (a GICv2 initialises itself at its first KVM_RUN or injection). Without it (and without deferred) the VMM initialised the vGIC before the scenario starts",
        value: { kind: "flag" },
      },
      {
        name: "gicv2_host",
        doc:
          "the host's GIC is a GICv2: KVM registers only the vgic_v2 device type (kvm_register_vgic_device), so creating a vgic_v3 or an its is -ENODEV (needs deferred)",
        value: { kind: "flag" },
      },
      {
        name: "gicv5_host",
        doc:
          "the host's GIC is a GICv5 with FEAT_GCIE_LEGACY: KVM still offers the vgic_v3 device, and the VMM's KVM_GET_ONE_REG of ID_AA64PFR2_EL1 shows GCIE 1 until a vGIC exists or a vCPU runs without one; the model has no vGICv5, so every GICv5 CPU interface instruction and register (`gic cdaff`, `gicr cdia`, `read icc_pcr`, ...) UNDEFs in the guest",
        value: { kind: "flag" },
      },
      {
        name: "no_v2_emulation",
        doc:
          "the host cannot emulate a GICv2 (a GICv3 host without the GICv2 compatibility interface: can_emulate_gicv2 false), so creating a vgic_v2 is -ENODEV",
        value: { kind: "flag" },
      },
    ],
  },
  {
    name: "its_tables",
    doc: "how KVM's vITS treats its tables when the guest changes them, by kernel version " +
      "(lib/arm/its.ts ITS_KVM_RELEASES): newest (default; the stored Linux snapshot, with the " +
      "fixes arm64/vgic_its_save.c checks, first released in Linux 7.3: a GITS_BASER<n> write that changes the register " +
      "frees its devices or collections, vgic_mmio_write_its_baser; KVM_DEV_ARM_ITS_SAVE_TABLES " +
      "skips a device the device table no longer addresses, such as one whose level-2 block the " +
      "guest cleared from an indirect table, and the DTE before it names the next one it saves) " +
      "or linux_7_2 (Linux 7.2 and earlier: only clearing Valid frees them, so a shrunk collection " +
      "table is saved past its end, and such a device fails the save with -EINVAL after the " +
      "DTEs before it were written)",
    value: { kind: "enum", values: [...ITS_KVM_RELEASES], default: "newest" },
    refused: {
      pre_2026: "renamed linux_7_2: Linux 7.3 is the first release with the two fixes " +
        "(lib/arm/its.ts ITS_KVM_RELEASES), so the behaviour before them is 7.2's",
    },
  },
  {
    name: "pmu",
    doc:
      "vcpu_feature: every vCPU was created with the PMU feature (KVM_ARM_VCPU_PMU_V3) and the VMM sets its IRQ and initialises it itself (kvm pmu_set_irq, kvm pmu_init; until then KVM_RUN is -EINVAL); none (the default) unless pmu_irq says the VMM did all that",
    value: { kind: "enum", values: ["none", "vcpu_feature"], default: "none" },
  },
  {
    name: "pmu_irq",
    doc:
      "a vPMU on every vCPU whose overflow interrupt is this PPI (the VMM's KVM_ARM_VCPU_PMU_V3_IRQ, then KVM_ARM_VCPU_PMU_V3_INIT; QEMU's virt board uses 23), or 0 (the default): no vPMU unless `pmu vcpu_feature`, and without one the PMU registers UNDEF",
    value: { kind: "int", min: 0, max: 31, default: 0 },
  },
  {
    name: "nr_irqs",
    doc:
      "KVM_DEV_ARM_VGIC_GRP_NR_IRQS: INTIDs including SGIs and PPIs, the VMM's write before the scenario starts, so KVM's rules (vgic_set_common_attr) apply: a multiple of 32 from 64 to 992, never rounded; with `gic { deferred }` what vgic_init uses when no `kvm vgic_set_nr_irqs` came (KVM's default is 256)",
    value: { kind: "int", min: 64, max: 992, default: 256 },
  },
];

/** What an Arm handler's acknowledge read gave it. */
const ACK_BINDS: HandlerEventSpec["binds"] = [
  { name: "intid", doc: "the INTID acknowledged", from: "vector" },
  {
    name: "iar",
    doc: "the IAR value read: the INTID, and on GICv2 an SGI's source CPU in bits 12:10",
    from: "ack",
  },
];

const HANDLER_EVENTS: HandlerEventSpec[] = [
  {
    name: "irq",
    doc: "an IRQ exception (Group 1; GICv2: also Group 0 without FIQEn)",
    takesValue: false,
    binds: ACK_BINDS,
  },
  { name: "fiq", doc: "an FIQ exception (Group 0)", takesValue: false, binds: ACK_BINDS },
  {
    name: SYNC,
    doc:
      "a synchronous exception taken to EL1: an UNDEF (ESR_EL1.EC 0x00), such as an ICC_* access without a GICv3 vGIC; the handler returns past the instruction (ELR_EL1 + 4)",
    takesValue: false,
    binds: [{ name: "esr", doc: "ESR_EL1: EC [31:26], IL [25], ISS [24:0]", from: "ack" }],
  },
  {
    name: "intid",
    doc:
      "an IRQ or FIQ whose acknowledge returned this INTID (declare it before a plain irq handler)",
    takesValue: true,
    binds: ACK_BINDS,
  },
];

const CONSTANTS: Record<string, number> = {
  EINVAL,
  ENXIO,
  EBUSY,
  EEXIST,
  EACCES,
  E2BIG: VgicErrno.E2BIG,
  ENOENT: VgicErrno.ENOENT,
  ENODEV,
  SPURIOUS: 1023,
  UNDEF,
  ...Object.fromEntries(
    Object.entries(TimerIrqAttr).map(([k, v]) => [`KVM_ARM_VCPU_TIMER_IRQ_${k}`, v]),
  ),
  LPI_BASE,
  ...Object.fromEntries(Object.entries(ItsError).map(([k, v]) => [`E_ITS_${k}`, v])),
  // Redistributor offsets, for `kvm vgic_get_redist_reg offset=GICR_TYPER`.
  ...Object.fromEntries(Object.entries(GicrOffset).map(([k, v]) => [`GICR_${k}`, v])),
  // ITS register offsets, for `kvm its_get_reg offset=GITS_CREADR`.
  ...Object.fromEntries(Object.entries(GitsOffset).map(([k, v]) => [`GITS_${k}`, v])),
};

/**
 * Why a vm's `vcpu_ids` cannot be built, or undefined when it can. The
 * list must name each of 0..vcpus-1 once (vCPUs are named by vcpu_id, and
 * KVM_CREATE_VCPU refuses an id in use with -EEXIST); a GICv2 VM takes only
 * the default order, since KVM numbers GICv2 CPU interfaces by creation
 * index, which the model does not follow.
 *
 * @example
 * ```ts
 * vcpuIdsProblem({ vcpus: 3, gic: "v3", vcpu_ids: [0, 2, 2] });
 * // "vcpu_ids=[0, 2, 2] lists vcpu_id 2 twice: KVM_CREATE_VCPU refuses an id in use with -EEXIST"
 * ```
 */
export function vcpuIdsProblem(settings: Readonly<Record<string, Val>>): string | undefined {
  const ids = settings.vcpu_ids;
  if (!Array.isArray(ids) || ids.length === 0) return undefined;
  const n = settings.vcpus as number;
  const shown = `vcpu_ids=[${ids.join(", ")}]`;
  const seen = new Set<number>();
  for (const id of ids) {
    if (id >= n) {
      return `${shown} names vcpu_id ${id}, but vcpus ${n} gives vcpu_ids 0..${
        n - 1
      }: list each of them once, in creation order`;
    }
    if (seen.has(id)) {
      return `${shown} lists vcpu_id ${id} twice: KVM_CREATE_VCPU refuses an id in use with -EEXIST`;
    }
    seen.add(id);
  }
  if (ids.length !== n) {
    const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i));
    return `${shown} lists ${ids.length} of the ${n} vCPUs: add vcpu_id${
      missing.length === 1 ? "" : "s"
    } ${missing.join(", ")}`;
  }
  if (settings.gic === "v2" && ids.some((id, i) => id !== i)) {
    return `${shown} needs gic v3: KVM numbers GICv2 CPU interfaces by creation index, which the model does not follow`;
  }
  return undefined;
}

/** The vCPU count, after checking `vcpu_ids` against it. */
function vcpuCount(settings: Readonly<Record<string, Val>>): number {
  const ids = vcpuIdsProblem(settings);
  const gic = ids === undefined ? gicProblem(settings) : undefined;
  const problem = ids ?? gic;
  if (problem !== undefined) {
    // The platform contract gives no location for a setting; until the
    // checker offers a hook, the diagnostic names the setting instead.
    const at = { offset: 0, line: 1, column: 1 };
    throw new ScnError({
      kind: "check",
      message: problem,
      loc: { source: `<vm setting ${ids !== undefined ? "vcpu_ids" : "gic"}>`, start: at, end: at },
    });
  }
  return settings.vcpus as number;
}

/** GICv2's CPU interfaces: KVM's VGIC_V2_MAX_CPUS. */
const VGIC_V2_MAX_CPUS = VGIC_MAX_CPUS[2];

/**
 * Why KVM would refuse the vm's vGIC, or undefined: `kvm_vgic_create`
 * answers KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V2) with -E2BIG when more
 * vCPUs than a GICv2 can address (8) exist.
 *
 * @example
 * ```ts
 * gicProblem({ vcpus: 9, gic: "v2" }); // "gic v2 with 9 vCPUs: ..."
 * ```
 */
export function gicProblem(settings: Readonly<Record<string, Val>>): string | undefined {
  // The vCPUs KVM has when the vGIC is created: later ones meet max_vcpus.
  const n = Math.min(settings.vcpus as number, settings["vcpus.created"] as number ?? 512);
  // A deferred vGIC is created by a command, which answers -E2BIG itself.
  if (settings.gic === "v2" && n > VGIC_V2_MAX_CPUS && settings["gic.deferred"] !== 1) {
    return `gic v2 with ${n} vCPUs: KVM_CREATE_DEVICE(KVM_DEV_TYPE_ARM_VGIC_V2) is -E2BIG above ${VGIC_V2_MAX_CPUS} vCPUs (kvm_vgic_create, VGIC_V2_MAX_CPUS); use gic v3`;
  }
  return undefined;
}

/**
 * A command on a device fd (KVM_{SET,GET}_DEVICE_ATTR on the vGIC's or the
 * ITS's): until `kvm create_device` made that device (`gic { deferred }`)
 * the VMM has no fd to call, so the statement is a scenario error, not an
 * answer of KVM's. Ioctls on the VM fd (KVM_IRQ_LINE, KVM_SIGNAL_MSI,
 * KVM_IRQFD, KVM_SET_GSI_ROUTING) are not wrapped: KVM answers them.
 */
function onDeviceFd(device: "vgic" | "its", c: Cmd): Cmd {
  return {
    ...c,
    doc: `${c.doc}. On the ${device === "vgic" ? "vGIC" : "ITS"}'s device fd`,
    run: (vm, cpu, args, source) => {
      const gic = vm.gic;
      const missing = device === "vgic" ? !gic.device.created : gic.its !== null && !gic.itsCreated;
      if (device === "its" && gic.itsCreated && gic.its === null) {
        throw new CommandInputError(
          `${c.name}: KVM has this ITS device, inert on a GICv2 vGIC (vgic_has_its); the model hosts an ITS's attributes only where a GICv3 is or will be`,
        );
      }
      if (missing) {
        throw new CommandInputError(
          `${c.name}: the VMM has no ${
            device === "vgic" ? "vGIC" : "ITS"
          } device fd yet: make the device with \`kvm create_device type=${
            device === "vgic" ? `vgic_v${gic.version}` : "its"
          }\` first`,
        );
      }
      return c.run(vm, cpu, args, source);
    },
  };
}

/**
 * A vCPU's command, refused while that vCPU has not been created (`vcpus {
 * created N }` until `kvm create_vcpu`): KVM has no such vCPU, so nothing
 * it could run exists. A scenario error, not a KVM answer.
 */
function onCreatedVcpu(c: Cmd): Cmd {
  if (c.actor !== "vcpu") return c;
  const check = (vm: ArmVm, cpu: number) => {
    if (!vm.gic.vcpuExists(cpu)) {
      throw new CommandInputError(
        `vcpu${cpu} of vm '${vm.name}' is not created yet: the VMM creates it with \`kvm create_vcpu id=${cpu}\` first (vcpus { created ${vm.gic.createdVcpus} })`,
      );
    }
    if (vm.cpus[cpu].mpState !== 0) {
      throw new CommandInputError(
        vm.cpus[cpu].mpState === KVM_MP_STATE.SUSPENDED
          ? `vcpu${cpu} of vm '${vm.name}' is suspended (KVM_MP_STATE_SUSPENDED, the VMM's KVM_SET_MP_STATE): it executes nothing until \`kvm set_mp_state vcpu=${cpu} state=KVM_MP_STATE_RUNNABLE\``
          : `vcpu${cpu} of vm '${vm.name}' is powered off (KVM_MP_STATE_STOPPED: PSCI CPU_OFF, a system event or the VMM's KVM_SET_MP_STATE): it executes nothing until another vCPU's PSCI CPU_ON or \`kvm set_mp_state vcpu=${cpu} state=KVM_MP_STATE_RUNNABLE\``,
      );
    }
    // The PC a CPU_ON reset left is unknown once the vCPU executes.
    vm.psci.pc[cpu] = -1n;
    // The exception is taken before the next instruction, which only a boundary gives.
    if (vm.cpus[cpu].syncPending) {
      throw new CommandInputError(
        `vcpu${cpu} has an UNDEF to take first: a synchronous exception is taken at the next instruction boundary, so put \`run\` after the instruction that raised it (or write both in \`run vcpu${cpu} { }\`)`,
      );
    }
  };
  const steps = c.steps;
  return {
    ...c,
    run: (vm, cpu, args, source) => {
      check(vm, cpu);
      return c.run(vm, cpu, args, source);
    },
    steps: steps && {
      names: steps.names,
      run: (vm, cpu, args, source) => {
        check(vm, cpu);
        return steps.run(vm, cpu, args, source);
      },
    },
  };
}

/**
 * What KVM would refuse in a combination of settings, or undefined. The
 * `nr_irqs` setting is the VMM's KVM_DEV_ARM_VGIC_GRP_NR_IRQS write, so a
 * value `vgic_set_common_attr` answers with -EINVAL (not a multiple of 32)
 * is refused here, as the VMM would have been.
 *
 * @example
 * ```ts
 * checkSettings({ vcpus: 1, gic: "v3", nr_irqs: 100 });
 * // "nr_irqs 100: KVM_DEV_ARM_VGIC_GRP_NR_IRQS is -EINVAL: 100 is not a multiple of 32, ..."
 * ```
 */
export function checkSettings(settings: Readonly<Record<string, Val>>): string | undefined {
  const pmu = settings.pmu_irq;
  if (typeof pmu === "number" && pmu !== 0 && settings.pmu === "vcpu_feature") {
    return `pmu vcpu_feature with pmu_irq ${pmu}: pmu_irq is a vPMU the VMM already set up; vcpu_feature leaves it to the scenario (kvm pmu_set_irq, kvm pmu_init): say one`;
  }
  if (typeof pmu === "number" && pmu !== 0) {
    if (pmu < 16) {
      return `pmu_irq ${pmu}: KVM_ARM_VCPU_PMU_V3_IRQ takes a PPI (16-31) or an SPI, never an SGI (-EINVAL); the model has PPIs only`;
    }
    if (pmu === 27 || pmu === 30) {
      return `pmu_irq ${pmu}: the timer owns PPI ${pmu}, so the PMU's kvm_vgic_set_owner fails at the first KVM_RUN (-EBUSY)`;
    }
  }
  if (settings["gic.v4"] === 1 && settings["gic.v4_1"] === 1) {
    return "gic { v4 v4_1 }: name the host's GIC once: v4 (GICv4.0) or v4_1 (GICv4.1)";
  }
  if (settings["gic.gicv2_host"] === 1 && settings["gic.gicv5_host"] === 1) {
    return "gic { gicv2_host gicv5_host }: a host has one GIC";
  }
  if (settings["gic.gicv2_host"] === 1) {
    if (settings["gic.v4_1"] === 1 || settings["gic.v4"] === 1) {
      return "gic { gicv2_host v4 | v4_1 }: a GICv2 host has no GICv4";
    }
    if (settings["gic.no_v2_emulation"] === 1) {
      return "gic { gicv2_host no_v2_emulation }: a GICv2 host always emulates a GICv2";
    }
    if (settings["gic.deferred"] !== 1 && settings.gic === "v3") {
      return "gic v3 { gicv2_host }: KVM has no vgic_v3 on a GICv2 host (KVM_CREATE_DEVICE is -ENODEV); add deferred to let the VMM try";
    }
  }
  if (settings.hypervisor !== "xen" && settings["hypervisor.build"] === "debug") {
    return "'build' chooses the Xen build that answers hypercalls: use 'hypervisor xen'";
  }
  const n = settings.nr_irqs;
  const why = typeof n === "number" ? nrIrqsProblem(n) : undefined;
  if (why) return `nr_irqs ${n}: KVM_DEV_ARM_VGIC_GRP_NR_IRQS is -EINVAL: ${why}`;
  return undefined;
}

/**
 * The arm64 platform.
 *
 * @example
 * ```ts
 * armPlatform.commands.find((c) => c.name === "its movi")!.doc;
 * ```
 */
export const armPlatform: Platform<ArmVm> = {
  arch: ARM_ARCH,
  settings: SETTINGS,
  commands: [
    ...VCPU_COMMANDS,
    ...VMM_COMMANDS,
    ...DEVICE_COMMANDS,
    ...guestMemoryCommands<ArmVm>((vm) => vm.gic.memory()).map(countsMemAccess),
    ...PSCI_COMMANDS,
  ].map(retires).map((c) => withIntidExplain(c, [INTID, LPI])).concat(ARM_XEN_COMMANDS).map(
    onCreatedVcpu,
  ),
  explainTaken: explainIntid,
  state: [
    ...cpuState(),
    ...gicState(),
    ...lpiState(),
    ...itsState(),
    ...guestMemoryState<ArmVm>((vm) => vm.gic.memory(), (vm) => vm.gic.memorySize),
    ...PSCI_STATE,
  ].map((p) =>
    // An INTID named by its index: `scn report` gives its class.
    p.pattern.includes("intid[#]")
      ? { ...p, explainIndexes: (ix: readonly number[]) => explainIntid(ix[ix.length - 1]) }
      : p
  ).concat(ARM_XEN_STATE),
  // What a vCPU's GIC interface shows it: pending and active INTIDs, its
  // priority mask and running priority, and its own flags.
  observables: [
    "vcpu#.gic.pending",
    "vcpu#.gic.active",
    "vcpu#.icc.pmr",
    "vcpu#.icc.rpr",
    "vcpu#.halted",
    "vcpu#.pstate.i",
  ],
  handlerEvents: HANDLER_EVENTS,
  constants: { ...CONSTANTS, ...XEN_CONSTANTS, ...PSCI_CONSTANTS },
  // `xen` is the hypervisor itself (a peer domain's send, a VIRQ).
  actors: ["vmm", "xen"],
  vcpuCount,
  checkSettings,
  create: (name, s, env) => {
    const v3 = s.gic === "v3";
    const its = v3 && s["gic.its"] === 1;
    const ids = s.vcpu_ids as readonly number[] | undefined;
    const vm = new ArmVm(name, {
      vcpus: vcpuCount(s),
      created: s["vcpus.created"] as number | undefined,
      gic: v3 ? 3 : 2,
      its,
      v4: its && s["gic.v4"] === 1,
      v41: v3 && s["gic.v4_1"] === 1,
      nrIrqs: s.nr_irqs as number,
      vcpuIds: ids && ids.length > 0 ? ids : undefined,
      hypervisor: s.hypervisor === "xen" ? "xen" : "kvm",
      xenBuild: s["hypervisor.build"] === "debug" ? "debug" : "release",
      itsRelease: s.its_tables as ItsKvmRelease,
      pmuIrq: s.pmu_irq as number,
      pmuFeature: s.pmu === "vcpu_feature",
    }, env);
    if (s["gic.deferred"] === 1) {
      // The VMM's NR_IRQS write (or vgic_init's default) decides the SPIs.
      vm.gic.nrSpisSet = false;
      vm.gic.device.created = false;
      vm.gic.itsCreated = false;
    } else if (s["gic.uninitialized"] !== 1) {
      // A plain `gic` stands for a VMM that created and initialised the vGIC
      // once its vCPUs existed, before the scenario's first statement.
      vm.gic.vgicInitialised();
    }
    if (s["gic.no_v2_emulation"] === 1) vm.gic.device.canEmulateV2 = false;
    if (s["gic.gicv2_host"] === 1) vm.gic.device.hostV3 = false;
    if (s["gic.gicv5_host"] === 1) vm.gic.device.hostV5 = true;
    if (env.trace.enabled && s["gic.its"] === 1 && !v3) {
      env.trace.emit(
        "kvm",
        "create_device",
        "KVM_CREATE_DEVICE(ARM_VGIC_ITS) needs a GICv3: no ITS",
      );
    }
    if (env.trace.enabled && s["gic.v4"] === 1 && !its) {
      env.trace.emit("kvm", "create_device", "GICv4 forwarding needs an ITS: no direct injection");
    }
    return vm;
  },
  handlerMatches: (event, values, taken) => {
    if (event === "irq") return taken.kind === "irq";
    if (event === "fiq") return taken.kind === "fiq";
    if (event === SYNC) return taken.kind === SYNC;
    return taken.kind !== SYNC && values !== null && values.includes(taken.vector);
  },
};
