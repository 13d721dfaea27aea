/**
 * What is particular to GICv2 as KVM emulates it: the banked SGI/PPI part
 * of the distributor (each vCPU sees its own), GICD_ITARGETSR bytes for
 * INTIDs below 32 reading as the accessing CPU, GICD_SGIR with its target
 * list filter, the per-source SGI pending state (GICD_SPENDSGIR /
 * GICD_CPENDSGIR, one bit per source CPU, delivered lowest source first
 * with the source in GICC_IAR[12:10]), ISPENDR/ICPENDR ignoring SGI bits,
 * and the memory-mapped CPU interface (GICC_CTLR, PMR, BPR, IAR, EOIR, RPR,
 * HPPIR, ABPR, APR0, DIR) over the same logic as the GICv3 one. Spurious
 * is 1023.
 *
 * Simplification: KVM runs a GICv2 guest without the Security Extensions,
 * and the model lets GICC_IAR acknowledge either group (AckCtl is kept but
 * not applied).
 *
 * Sources: Arm IHI 0048B (GICv2) 4.3.12 GICD_ITARGETSRn, 4.3.15 GICD_SGIR,
 * 4.3.16-17 GICD_CPENDSGIRn/SPENDSGIRn, 4.4 "CPU interface register
 * descriptions" (GICC_CTLR 4.4.1, GICC_IAR 4.4.4, GICC_EOIR 4.4.5, GICC_DIR
 * 4.4.15); Linux `arch/arm64/kvm/vgic/vgic-mmio-v2.c`
 * (`vgic_mmio_write_sgir`, `vgic_mmio_write_sgipendc`,
 * `vgic_mmio_write_sgipends`, `vgic_mmio_read_target`), `vgic-mmio.c`
 * (`vgic_mmio_write_spending`: SGIs are WI on GICv2), `vgic-v2.c`
 * (`vgic_v2_populate_lr`: one source per list register, lowest first).
 *
 * @module
 */
import {
  BankOffset,
  bankRead,
  bankWrite,
  PRIORITY_MASK,
  PRIVATE_COUNT,
  SGI_COUNT,
} from "./irq_state.ts";
import { EINVAL, ENXIO } from "./errno.ts";
import { GicdOffset } from "./gicv3_distributor.ts";
import type { Gic } from "./gic.ts";
import { iarValue } from "./cpu_interface_v3.ts";

/**
 * GICC register offsets.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2ReadCpu(gic, 0, GiccOffset.IAR); // acknowledge on vCPU0
 * ```
 */
export const GiccOffset = {
  CTLR: 0x00,
  PMR: 0x04,
  BPR: 0x08,
  IAR: 0x0c,
  EOIR: 0x10,
  RPR: 0x14,
  HPPIR: 0x18,
  ABPR: 0x1c,
  APR0: 0xd0,
  DIR: 0x1000,
} as const;

/**
 * GICC_CTLR bits of the (non-secure, KVM GICV) view.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2WriteCpu(gic, 0, GiccOffset.CTLR, GiccCtlr.EnableGrp0 | GiccCtlr.EOImode);
 * ```
 */
export const GiccCtlr = {
  EnableGrp0: 1 << 0,
  EnableGrp1: 1 << 1,
  AckCtl: 1 << 2,
  FIQEn: 1 << 3,
  CBPR: 1 << 4,
  EOImode: 1 << 9,
} as const;

/** The first INTID a bank-register offset covers, or -1 outside the banks. */
function firstIntid(offset: number): number {
  const O = BankOffset;
  if (offset >= O.IGROUPR && offset < O.IPRIORITYR) return ((offset & 0x7f) >> 2) * 32;
  if (offset >= O.IPRIORITYR && offset < O.IPRIORITYR + 0x400) return offset - O.IPRIORITYR;
  if (offset >= O.ITARGETSR && offset < O.ITARGETSR + 0x400) return offset - O.ITARGETSR;
  if (offset >= O.ICFGR && offset < O.ICFGR + 0x100) return ((offset - O.ICFGR) >> 2) * 16;
  return -1;
}

/**
 * GICD_SGIR written by `sender`: filter 0 uses CPUTargetList (bits naming
 * no vCPU are ignored), 1 is every vCPU but the sender, 2 the sender only,
 * 3 is reserved and KVM drops the write. Returns the vCPUs reached.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2WriteSgir(gic, 1, (2 << 24) | 1); // [1]: SGI1 to self, source CPU1
 * ```
 */
export function gicv2WriteSgir(gic: Gic, sender: number, value: number): number[] {
  const intid = value & 0xf;
  const filter = (value >>> 24) & 3;
  let targets: number;
  // A GICv2's vCPUs are created in vcpu_id order: the online ones are 0..n-1.
  const online = (1 << gic.createdVcpus) - 1;
  switch (filter) {
    case 0:
      targets = (value >>> 16) & 0xff & online;
      break;
    case 1:
      targets = online & ~(1 << sender);
      break;
    case 2:
      targets = 1 << sender;
      break;
    default:
      if (gic.trace.enabled) {
        gic.trace.emit(
          `vcpu${sender}`,
          "sgi",
          `GICD_SGIR filter 3 is reserved: SGI ${intid} dropped`,
        );
      }
      return [];
  }
  const reached: number[] = [];
  for (let c = 0; c < gic.vcpus; c++) {
    if ((targets & (1 << c)) === 0) continue;
    const bank = gic.rds[c].bank;
    bank.sgiSources![intid] |= 1 << sender;
    bank.cause[intid] = gic.trace.enabled ? gic.trace.currentCause : 0;
    reached.push(c);
  }
  if (gic.trace.enabled) {
    gic.trace.emit(
      `vcpu${sender}`,
      "sgi",
      `SGI ${intid} from cpu${sender} -> ${
        reached.length ? reached.map((c) => `vcpu${c}`).join(", ") : "nobody"
      }`,
    );
  }
  return reached;
}

/**
 * Reads a GICv2 distributor register as vCPU `cpu` sees it.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * import { BankOffset } from "./irq_state.ts";
 * declare const gic: Gic;
 * gicv2ReadDist(gic, 1, BankOffset.ITARGETSR, 4); // 0x02020202: bytes for 0-3 read as CPU1
 * ```
 */
export function gicv2ReadDist(gic: Gic, cpu: number, offset: number, size: 1 | 4): number {
  const O = GicdOffset;
  if (offset >= O.CPENDSGIR && offset < O.SPENDSGIR + 0x10) {
    const first = offset & 0xf;
    const s = gic.rds[cpu].bank.sgiSources!;
    let v = 0;
    const n = size === 1 ? 1 : 4;
    for (let k = 0; k < n; k++) if (first + k < SGI_COUNT) v |= s[first + k] << (8 * k);
    return v >>> 0;
  }
  if (offset === O.SGIR) return 0;
  const first = firstIntid(offset);
  if (first >= 0 && first < PRIVATE_COUNT) {
    if (offset >= BankOffset.ITARGETSR && offset < BankOffset.ITARGETSR + 0x400) {
      const me = 1 << cpu;
      return size === 1 ? me : (me | (me << 8) | (me << 16) | (me << 24)) >>> 0;
    }
    return bankRead(gic.rds[cpu].bank, offset, size) ?? 0;
  }
  return Number(gic.dist.read(offset, size));
}

/**
 * Writes a GICv2 distributor register as vCPU `cpu`. Returns false where
 * the write is ignored.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * import { GicdOffset } from "./gicv3_distributor.ts";
 * declare const gic: Gic;
 * gicv2WriteDist(gic, 0, GicdOffset.SPENDSGIR + 4, 0x0100, 4); // SGI5 pending from source 0
 * ```
 */
export function gicv2WriteDist(
  gic: Gic,
  cpu: number,
  offset: number,
  value: number,
  size: 1 | 4,
  cause = 0,
): boolean {
  const O = GicdOffset;
  if (offset === O.SGIR) {
    gicv2WriteSgir(gic, cpu, value);
    return true;
  }
  if (offset >= O.CPENDSGIR && offset < O.SPENDSGIR + 0x10) {
    const set = offset >= O.SPENDSGIR;
    const first = offset & 0xf;
    const bank = gic.rds[cpu].bank;
    const s = bank.sgiSources!;
    const n = size === 1 ? 1 : 4;
    for (let k = 0; k < n; k++) {
      const i = first + k;
      if (i >= SGI_COUNT) continue;
      const bits = (value >>> (8 * k)) & 0xff;
      if (set) {
        s[i] |= bits;
        if (bits) bank.cause[i] = cause;
      } else s[i] &= ~bits;
    }
    return true;
  }
  const first = firstIntid(offset);
  if (first >= 0 && first < PRIVATE_COUNT) {
    if (offset >= BankOffset.ITARGETSR) return false; // read-only for SGIs and PPIs
    return bankWrite(gic.rds[cpu].bank, offset, value, size, { v2Sgis: true, cause });
  }
  return gic.dist.write(offset, value, size, cause);
}

/**
 * Reads a GICC register of `cpu` (GICC_IAR acknowledges; SGIs carry the
 * source CPU in bits [12:10]).
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2ReadCpu(gic, 1, GiccOffset.IAR); // 0x401: SGI1 from CPU1
 * ```
 */
export function gicv2ReadCpu(gic: Gic, cpu: number, offset: number): number {
  const cif = gic.cifs[cpu];
  switch (offset) {
    case GiccOffset.CTLR:
      return cif.igrpen0 | (cif.igrpen1 << 1) | (gic.ackCtl[cpu] << 2) | (gic.fiqEn[cpu] << 3) |
        (cif.cbpr << 4) | (cif.eoiMode << 9);
    case GiccOffset.PMR:
      return cif.pmr;
    case GiccOffset.BPR:
      return cif.bpr0;
    case GiccOffset.ABPR:
      return cif.bpr1;
    case GiccOffset.IAR: {
      return iarValue(cif.acknowledge(-1));
    }
    case GiccOffset.RPR:
      return cif.rpr;
    case GiccOffset.HPPIR:
      return cif.hppir(-1);
    case GiccOffset.APR0:
      return (cif.ap0 | cif.ap1) >>> 0;
  }
  return 0;
}

/**
 * Writes a GICC register of `cpu`. EOIR and DIR take the INTID from bits
 * [9:0].
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2WriteCpu(gic, 0, GiccOffset.CTLR, GiccCtlr.EnableGrp0);
 * ```
 */
export function gicv2WriteCpu(gic: Gic, cpu: number, offset: number, value: number): boolean {
  const cif = gic.cifs[cpu];
  switch (offset) {
    case GiccOffset.CTLR:
      cif.igrpen0 = value & 1;
      cif.igrpen1 = (value >> 1) & 1;
      gic.ackCtl[cpu] = (value >> 2) & 1;
      gic.fiqEn[cpu] = (value >> 3) & 1;
      cif.cbpr = (value >> 4) & 1;
      cif.eoiMode = (value >> 9) & 1;
      return true;
    case GiccOffset.PMR:
      return cif.write("pmr", value);
    case GiccOffset.BPR:
      return cif.write("bpr0", value);
    case GiccOffset.ABPR:
      return cif.write("bpr1", value);
    case GiccOffset.EOIR:
      return cif.eoi(-1, value & 0x3ff);
    case GiccOffset.DIR:
      return cif.dir(value & 0x3ff);
  }
  return false;
}

// ---- the VMM's view: KVM_DEV_ARM_VGIC_GRP_DIST_REGS / _CPU_REGS ---------------------------

/**
 * GICC_IIDR as KVM's CPU_REGS attribute gives it (`vgic_mmio_read_vcpuif`):
 * ProductID 0x4b (KVM) in [31:20], architecture version 2 in [19:16],
 * Implementer 0x43b (Arm).
 */
export const KVM_GICC_IIDR = (0x4b << 20) | (0x2 << 16) | 0x43b;

/** GICC_IIDR's offset: the CPU interface's last register in the CPU_REGS group. */
const GICC_IIDR_OFFSET = 0xfc;

/** The per-INTID distributor registers and the bits each INTID takes (`vgic_v2_dist_registers`). */
const PER_IRQ_REGIONS: readonly (readonly [base: number, bitsPerIrq: number])[] = [
  [BankOffset.IGROUPR, 1],
  [BankOffset.ISENABLER, 1],
  [BankOffset.ICENABLER, 1],
  [BankOffset.ISPENDR, 1],
  [BankOffset.ICPENDR, 1],
  [BankOffset.ISACTIVER, 1],
  [BankOffset.ICACTIVER, 1],
  [BankOffset.IPRIORITYR, 8],
  [BankOffset.ITARGETSR, 8],
  [BankOffset.ICFGR, 2],
];

/**
 * Whether KVM's GICv2 distributor has a register at `offset` for a 32-bit
 * userspace access (`vgic_get_mmio_region` with `check_region`): aligned,
 * inside a register, and for a per-INTID register an INTID below nr_irqs.
 */
function v2DistRegionOk(gic: Gic, offset: number): boolean {
  if ((offset & 3) !== 0) return false;
  if (offset < 0x0c) return true; // CTLR, TYPER, IIDR
  if (offset === GicdOffset.SGIR) return true;
  if (offset >= GicdOffset.CPENDSGIR && offset < GicdOffset.SPENDSGIR + 0x10) return true;
  for (const [base, bpi] of PER_IRQ_REGIONS) {
    const length = (1024 * bpi) / 8;
    if (offset >= base && offset < base + length) {
      return ((offset - base) * 8) / bpi < gic.dist.nrIrqs;
    }
  }
  return false;
}

/** The checks both GICv2 register groups make first: 0, or -EINVAL / -ENXIO. */
function v2AttrCheck(gic: Gic, cpu: number): number {
  // vgic_v2_parse_attr: the attribute's CPUID field names a vcpu_id.
  if (!gic.vcpuExists(cpu)) return -EINVAL;
  // vgic_v2_attr_regs_access initialises a GICv2 on the spot (vgic_init).
  gic.lazyInit();
  return 0;
}

/**
 * KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_DIST_REGS) on a GICv2
 * (`vgic_v2_attr_regs_access` → `vgic_v2_dist_uaccess`): a 32-bit access
 * as vCPU `cpu` (the attribute's CPUID field) makes it, so banked SGI/PPI
 * registers are that vCPU's. Unlike a GICv3's, the access initialises the
 * vGIC (`vgic_init`) rather than failing with -EBUSY. An unknown vCPU is
 * -EINVAL; an unaligned offset, one with no register, or a per-INTID
 * register past nr_irqs is -ENXIO. Writes differ from the guest's where
 * KVM gives userspace its own handlers: GICD_IIDR must be written with the
 * value it reads (else -EINVAL), and writing it makes GICD_IGROUPR
 * writable from userspace (ignored until then: `v2_groups_user_writable`);
 * GICD_TYPER is ignored; ISPENDR sets the pending latch of each set bit
 * (an SGI gets `cpu` as its source) and ICPENDR clears it (an SGI loses
 * every source); ISACTIVER / ICACTIVER set and clear active with no side
 * effects. Everything else reads and writes as the guest's access does,
 * GICD_SGIR included. Returns the value read, 0 for a write, or a negative
 * errno.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2DistUaccess(gic, 0, 0x8); // GICD_IIDR
 * gicv2DistUaccess(gic, 0, 0x200, 1 << 3); // SGI3 pending, source vCPU0
 * ```
 */
export function gicv2DistUaccess(gic: Gic, cpu: number, offset: number, write?: number): number {
  const check = v2AttrCheck(gic, cpu);
  if (check !== 0) return check;
  if (!v2DistRegionOk(gic, offset)) return -ENXIO;
  if (write === undefined) return gicv2ReadDist(gic, cpu, offset, 4) >>> 0;
  const value = write >>> 0;
  const O = BankOffset;
  const first = ((offset & 0x7f) >> 2) * 32;
  const eachSetBit = (fn: (intid: number) => void) => {
    for (let b = 0; b < 32; b++) {
      const i = first + b;
      if (((value >>> b) & 1) !== 0 && i < gic.dist.nrIrqs) fn(i);
    }
  };
  const bankOf = (i: number) => (i < PRIVATE_COUNT ? gic.rds[cpu].bank : gic.dist.spis);
  if (offset === GicdOffset.TYPER) return 0;
  if (offset === GicdOffset.IIDR) {
    if (value !== gicv2ReadDist(gic, cpu, offset, 4) >>> 0) return -EINVAL;
    gic.v2GroupsUserWritable = true;
    return 0;
  }
  if (offset >= O.IGROUPR && offset < O.ISENABLER) {
    if (gic.v2GroupsUserWritable) gicv2WriteDist(gic, cpu, offset, value, 4);
    return 0;
  }
  if (offset >= O.ISPENDR && offset < O.ICPENDR) {
    eachSetBit((i) => {
      const bank = bankOf(i);
      if (i < SGI_COUNT) bank.sgiSources![i] |= 1 << cpu;
      else bank.latch[i] = 1;
    });
    return 0;
  }
  if (offset >= O.ICPENDR && offset < O.ISACTIVER) {
    eachSetBit((i) => {
      const bank = bankOf(i);
      if (i < SGI_COUNT) bank.sgiSources![i] = 0;
      else bank.latch[i] = 0;
    });
    return 0;
  }
  if (offset >= O.ISACTIVER && offset < O.IPRIORITYR) {
    const set = offset < O.ICACTIVER;
    eachSetBit((i) => {
      bankOf(i).active[i] = set ? 1 : 0;
    });
    return 0;
  }
  gicv2WriteDist(gic, cpu, offset, value, 4);
  return 0;
}

/**
 * KVM_GET/SET_DEVICE_ATTR(KVM_DEV_ARM_VGIC_GRP_CPU_REGS) on a GICv2
 * (`vgic_v2_cpuif_uaccess`, `vgic_v2_cpu_registers`): the CPU interface
 * state of vCPU `cpu` a VMM saves and restores. Only GICC_CTLR, PMR, BPR,
 * ABPR, APR0-3 and IIDR are there (-ENXIO for IAR, EOIR and the rest, and
 * for an unaligned offset); an unknown vCPU is -EINVAL; the access
 * initialises the vGIC. The ABI's own rules: GICC_PMR travels as
 * GICH_VMCR.VMPriMask, the five implemented priority bits shifted down
 * (priority 0xf0 reads 0x1e); APR<n> is the host GICv3's ICH_AP1R<n>, and
 * with five priority bits only APR0 exists (APR1-3 read 0 and ignore
 * writes: `vgic_v3_max_apr_idx`); GICC_IIDR reads {@link KVM_GICC_IIDR}
 * and ignores writes. Returns the value read, 0 for a write, or a negative
 * errno.
 *
 * @example
 * ```ts
 * import { Gic } from "./gic.ts";
 * declare const gic: Gic;
 * gicv2CpuUaccess(gic, 0, GiccOffset.PMR, 0x1e); // GICC_PMR priority 0xf0
 * ```
 */
export function gicv2CpuUaccess(gic: Gic, cpu: number, offset: number, write?: number): number {
  const check = v2AttrCheck(gic, cpu);
  if (check !== 0) return check;
  if ((offset & 3) !== 0) return -ENXIO;
  const cif = gic.cifs[cpu];
  const value = (write ?? 0) >>> 0;
  switch (offset) {
    case GiccOffset.CTLR:
    case GiccOffset.BPR:
    case GiccOffset.ABPR:
      if (write === undefined) return gicv2ReadCpu(gic, cpu, offset) >>> 0;
      gicv2WriteCpu(gic, cpu, offset, value);
      return 0;
    case GiccOffset.PMR:
      if (write === undefined) return (cif.pmr & PRIORITY_MASK) >>> 3;
      cif.write("pmr", (value << 3) & PRIORITY_MASK);
      return 0;
    case GICC_IIDR_OFFSET:
      return write === undefined ? KVM_GICC_IIDR : 0;
  }
  if (offset >= GiccOffset.APR0 && offset < GiccOffset.APR0 + 0x10) {
    if (offset !== GiccOffset.APR0) return 0;
    if (write === undefined) return cif.ap1 >>> 0;
    cif.write("ap1r0", value);
    return 0;
  }
  return -ENXIO;
}
