/**
 * What the numbers of an x86 scenario mean, for `scn report`: MSI
 * address/data pairs and MSR values (IA32_APIC_BASE, the x2APIC registers),
 * decoded by the model's own field tables. The platform's command entries
 * point at these (`explain`); register writes and state paths decode by
 * their register's fields without help.
 *
 * @module
 */
import { formatFields, splitWords } from "../core/bitfield.ts";
import { MSI_ADDRESS_BASE, MSI_ADDRESS_FIELDS, MSI_DATA_FIELDS } from "./msi.ts";
import { APIC_BASE_FIELDS, IA32_APIC_BASE_MSR, LAPIC_REGISTERS } from "./lapic_registers.ts";
import {
  HV_MSR,
  isSintMsr,
  isStimerMsr,
  SINT_FIELDS,
  STIMER_CONFIG_FIELDS,
  SYNIC_PAGE_FIELDS,
} from "./hyperv_abi.ts";

function hex(n: bigint | number): string {
  return "0x" + n.toString(16);
}

/**
 * Decodes an MSI address/data pair by the MSI field tables.
 *
 * @example
 * ```ts
 * decodeX86Msi(0xfee01000n, 0xc0b6n);
 * // "MSI address 0xfee01000: dest_mode=physical ... dest=0x01 base=0xfee; data 0xc0b6: vector=0xb6 ..."
 * ```
 */
export function decodeX86Msi(address?: bigint, data?: bigint): string {
  const parts: string[] = [];
  if (address !== undefined) {
    const low = Number(address & 0xffffffffn);
    const note = low >>> 20 === MSI_ADDRESS_BASE
      ? ""
      : ` (not an interrupt: bits 31:20 must read ${hex(MSI_ADDRESS_BASE)})`;
    parts.push(`address ${hex(address)}: ${formatFields(MSI_ADDRESS_FIELDS, low)}${note}`);
  }
  if (data !== undefined) {
    parts.push(`data ${hex(data)}: ${formatFields(MSI_DATA_FIELDS, Number(data & 0xffffffffn))}`);
  }
  return `MSI ${parts.join("; ")}`;
}

/** The x2APIC ID and LDR are whole 32-bit IDs, not the xAPIC layouts of the table. */
const X2APIC_OWN_LAYOUT = new Set(["id", "ldr"]);

/**
 * Decodes a value written to or read from an MSR: IA32_APIC_BASE, an
 * x2APIC register (0x830 is the whole 64-bit ICR), or a Hyper-V SINTx,
 * SIMP, SIEFP or STIMERn_CONFIG; undefined for others.
 *
 * @example
 * ```ts
 * decodeMsr(0x830, 0x1_000040f1n);
 * // "ICR (MSR 0x830) 0x1000040f1: vector=0xf1 delivery_mode=fixed ...; destination x2APIC ID 0x1"
 * ```
 */
export function decodeMsr(msr: number, value: bigint): string | undefined {
  const hv = decodeHypervMsr(msr, value);
  if (hv !== undefined) return hv;
  if (msr === IA32_APIC_BASE_MSR) {
    return `IA32_APIC_BASE (MSR ${hex(msr)}) ${hex(value)}: ${
      formatFields(APIC_BASE_FIELDS, value)
    }`;
  }
  const r = LAPIC_REGISTERS.find((x) => x.msr === msr);
  if (!r || !r.fields || X2APIC_OWN_LAYOUT.has(r.name)) return undefined;
  const { low, high } = splitWords(value);
  const icr = r.name === "icr_low";
  const name = icr ? "ICR" : r.specName;
  const fields = formatFields(r.fields, low);
  // In x2APIC mode ICR[63:32] is the whole destination x2APIC ID.
  const dest = icr ? `; destination x2APIC ID ${hex(high)}` : "";
  return `${name} (MSR ${hex(msr)}) ${hex(value)}: ${fields}${dest}`;
}

/** A Hyper-V SynIC or timer MSR's value by its field table, or undefined. */
function decodeHypervMsr(msr: number, value: bigint): string | undefined {
  if (isSintMsr(msr)) {
    return `SINT${msr - HV_MSR.SINT0} (MSR ${hex(msr)}) ${hex(value)}: ${
      formatFields(SINT_FIELDS, value)
    }`;
  }
  if (msr === HV_MSR.SIMP || msr === HV_MSR.SIEFP) {
    const name = msr === HV_MSR.SIMP ? "SIMP" : "SIEFP";
    return `${name} (MSR ${hex(msr)}) ${hex(value)}: ${formatFields(SYNIC_PAGE_FIELDS, value)}`;
  }
  if (isStimerMsr(msr) && (msr - HV_MSR.STIMER0_CONFIG) % 2 === 0) {
    const n = (msr - HV_MSR.STIMER0_CONFIG) / 2;
    return `STIMER${n}_CONFIG (MSR ${hex(msr)}) ${hex(value)}: ${
      formatFields(STIMER_CONFIG_FIELDS, value)
    }`;
  }
  return undefined;
}

/** A literal argument as a bigint, or undefined when the scenario did not write one. */
export function literal(v: unknown): bigint | undefined {
  return typeof v === "number" || typeof v === "bigint" ? BigInt(v) : undefined;
}
