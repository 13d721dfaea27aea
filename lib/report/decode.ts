/**
 * Decoding the magic numbers of a scenario for `scn report`: MSI
 * address/data pairs, x86 ICR values and other LAPIC registers, IA32_APIC_BASE,
 * IOAPIC redirection entries, ITS commands and their error codes, and the
 * class of a GIC INTID.
 *
 * Every field comes from the model modules' own tables (MSI_ADDRESS_FIELDS,
 * the LAPIC register table, RTE_FIELDS, ItsOpcode, the GIC's INTID bounds),
 * so a decode can never disagree with what the model does.
 *
 * @module
 */
import { formatFields, joinWords, splitWords } from "../core/bitfield.ts";
import { MSI_ADDRESS_BASE, MSI_ADDRESS_FIELDS, MSI_DATA_FIELDS } from "../x86/msi.ts";
import {
  APIC_BASE_FIELDS,
  IA32_APIC_BASE_MSR,
  LAPIC_REGISTERS,
  type LapicRegister,
} from "../x86/lapic_registers.ts";
import { formatRte } from "../x86/ioapic.ts";
import { errorName, ItsOpcode } from "../arm/its.ts";
import { LPI_BASE, PRIVATE_COUNT, SGI_COUNT, SPURIOUS } from "../arm/irq_state.ts";
import { ITS_DOORBELL } from "../arm/gic.ts";

/** One decoded number: the line of the scenario it is on, and what it means. */
export interface Decoded {
  /** 1-based line in the text given to {@link decodeMagic}. */
  line: number;
  /** What it means, in one line. */
  text: string;
}

const NUM = "(0x[0-9a-fA-F_]+|0b[01_]+|[0-9][0-9_]*)";

/** The number a scenario writes, as a bigint. */
function num(s: string): bigint {
  return BigInt(s.replace(/_/g, ""));
}

function hex(n: bigint | number): string {
  return "0x" + n.toString(16);
}

/** The value of `name=N` on a line, or undefined. */
function arg(line: string, name: string): bigint | undefined {
  const m = new RegExp(`(?:^|[\\s,(])${name}=${NUM}(?![A-Za-z0-9_])`).exec(line);
  return m ? num(m[1]) : undefined;
}

/**
 * The class of a GIC INTID: SGI, PPI, SPI, special or LPI.
 *
 * @example
 * ```ts
 * intidClass(27); // "PPI (16-31: private to one PE)"
 * ```
 */
export function intidClass(intid: number): string {
  if (intid < SGI_COUNT) return `SGI (0-${SGI_COUNT - 1}: software-generated)`;
  if (intid < PRIVATE_COUNT) {
    return `PPI (${SGI_COUNT}-${PRIVATE_COUNT - 1}: private to one PE)`;
  }
  // The four INTIDs ending at the spurious one are special (1020-1023).
  const special = SPURIOUS - 3;
  if (intid < special) return `SPI (${PRIVATE_COUNT}-${special - 1}: shared, routed by GICD)`;
  if (intid === SPURIOUS) return `special (${SPURIOUS}: spurious, nothing to acknowledge)`;
  if (intid <= SPURIOUS) return `special (${special}-${SPURIOUS}: never a real interrupt)`;
  if (intid < LPI_BASE) return `reserved or extended range (${SPURIOUS + 1}-${LPI_BASE - 1})`;
  return `LPI (${LPI_BASE} and up: message-based, through the ITS or GICR_SETLPIR)`;
}

/**
 * Decodes an MSI address/data pair (x86) by the MSI field tables.
 *
 * @example
 * ```ts
 * decodeX86Msi(0xfee01000n, 0xc0b6n);
 * // "address 0xfee01000: dest_mode=physical ... dest=0x01 base=0xfee; data 0xc0b6: vector=0xb6 ..."
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

const X2APIC_OWN_LAYOUT = new Set(["id", "ldr"]);

function lapicByMsr(msr: number): LapicRegister | undefined {
  return LAPIC_REGISTERS.find((r) => r.msr === msr);
}

function lapicByName(name: string): LapicRegister | undefined {
  return LAPIC_REGISTERS.find((r) => r.name === name);
}

/**
 * Decodes a value written to or read from an MSR: IA32_APIC_BASE, or an
 * x2APIC register (0x830 is the whole 64-bit ICR); undefined for others.
 *
 * @example
 * ```ts
 * decodeMsr(0x830, 0x1_000040f1n);
 * // "ICR (MSR 0x830) 0x1000040f1: vector=0xf1 delivery_mode=fixed ...; destination x2APIC ID 0x1"
 * ```
 */
export function decodeMsr(msr: number, value: bigint): string | undefined {
  if (msr === IA32_APIC_BASE_MSR) {
    return `IA32_APIC_BASE (MSR ${hex(msr)}) ${hex(value)}: ${
      formatFields(APIC_BASE_FIELDS, value)
    }`;
  }
  const r = lapicByMsr(msr);
  // The x2APIC ID and LDR are whole 32-bit IDs, not the xAPIC layouts of the table.
  if (!r || !r.fields || X2APIC_OWN_LAYOUT.has(r.name)) return undefined;
  const { low, high } = splitWords(value);
  const icr = r.name === "icr_low";
  const name = icr ? "ICR" : r.specName;
  const fields = formatFields(r.fields, low);
  // In x2APIC mode ICR[63:32] is the whole destination x2APIC ID.
  const dest = icr ? `; destination x2APIC ID ${hex(high)}` : "";
  return `${name} (MSR ${hex(msr)}) ${hex(value)}: ${fields}${dest}`;
}

/**
 * Decodes a value of a LAPIC register named as the language names it.
 *
 * @example
 * ```ts
 * decodeLapic("icr_low", 0x4052n); // "ICR[31:0] 0x4052: vector=0x52 delivery_mode=fixed ..."
 * ```
 */
export function decodeLapic(name: string, value: bigint): string | undefined {
  const r = lapicByName(name);
  if (!r || !r.fields) return undefined;
  return `${r.specName} ${hex(value)}: ${formatFields(r.fields, value)}`;
}

/**
 * Decodes an IOAPIC redirection table entry (64 bits).
 *
 * @example
 * ```ts
 * decodeRte(20, 0x1809an); // "IOREDTBL20 0x1809a: vector=0x9a ... mask=1 dest=0x00"
 * ```
 */
export function decodeRte(pin: number, value: bigint): string {
  const { low, high } = splitWords(value);
  return `IOREDTBL${pin} ${hex(joinWords(low, high))}: ${formatRte(low, high)}`;
}

// The language's argument names of ITS commands, by the spec's field names.
const ITS_FIELDS: readonly [string, string][] = [
  ["device", "DeviceID"],
  ["event", "EventID"],
  ["lpi", "pINTID"],
  ["collection", "ICID"],
  ["target", "RDbase"],
  ["target2", "RDbase2"],
  ["size", "Size"],
  ["bits", "EventID bits"],
  ["valid", "V"],
];

/**
 * Decodes an ITS command as a scenario writes it (`its mapti device=...`).
 *
 * @example
 * ```ts
 * decodeItsCommand("its mapti device=0x10 event=3 lpi=8192 collection=0");
 * // "ITS MAPTI (opcode 0x0a): DeviceID 0x10, EventID 3, pINTID 8192, ICID 0"
 * ```
 */
export function decodeItsCommand(line: string): string | undefined {
  const m = /(?:^|[\s:])its[ \t]+([a-z]+)/.exec(line);
  if (!m) return undefined;
  const op = m[1].toUpperCase() as keyof typeof ItsOpcode;
  if (!(op in ItsOpcode)) return undefined;
  const parts: string[] = [];
  for (const [name, spec] of ITS_FIELDS) {
    const v = arg(line, name);
    if (v === undefined) continue;
    const shown = name === "device" ? hex(v) : String(v);
    parts.push(`${spec} ${shown}`);
  }
  const opcode = hex(ItsOpcode[op]).replace(/^0x(.)$/, "0x0$1");
  return `ITS ${op} (opcode ${opcode})${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/** What a variable was bound to, so that `expect $v == N` can be decoded. */
type Binding = { kind: "msr"; msr: number } | { kind: "its" } | { kind: "lapic"; name: string };

/**
 * Finds and decodes the magic numbers of a scenario, line by line, each
 * distinct decode once (at its first line).
 *
 * @example
 * ```ts
 * decodeMagic('vm g { arch x86_64 }\ndevice nvme: msi address=0xfee01000 data=0x41\n');
 * // [{ line: 2, text: "MSI address 0xfee01000: ...; data 0x41: vector=0x41 ..." }]
 * ```
 */
export function decodeMagic(text: string): Decoded[] {
  const arm = /\barch[ \t]+arm64\b/.test(text);
  const out: Decoded[] = [];
  const seen = new Set<string>();
  const add = (line: number, t: string | undefined) => {
    if (t === undefined || seen.has(t)) return;
    seen.add(t);
    out.push({ line, text: t });
  };
  const vars = new Map<string, Binding>();
  const lines = text.split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "");
    const n = i + 1;
    const bound = /->[ \t]*(\$[A-Za-z_][A-Za-z0-9_]*)/.exec(line)?.[1];

    if (/(?:^|[\s:])(?:msi|signal_msi)(?![A-Za-z0-9_])/.test(line)) {
      const address = arg(line, "address"), data = arg(line, "data");
      if (address !== undefined || data !== undefined) {
        if (!arm) add(n, decodeX86Msi(address, data));
        else {
          const at = address === undefined
            ? ""
            : address === BigInt(ITS_DOORBELL)
            ? ` to ${hex(address)} (the ITS's GITS_TRANSLATER)`
            : ` to ${hex(address)} (not the ITS doorbell ${hex(ITS_DOORBELL)})`;
          add(n, `MSI${at}${data === undefined ? "" : `: EventID ${data}`}`);
        }
      }
    }

    const msr = arg(line, "msr");
    if (msr !== undefined && /(?:^|[\s:])(?:wrmsr|rdmsr)(?![A-Za-z0-9_])/.test(line)) {
      const value = arg(line, "value");
      if (value !== undefined) add(n, decodeMsr(Number(msr), value));
      // What rdmsr binds is the register; what wrmsr binds is its status.
      if (bound && /\brdmsr\b/.test(line)) vars.set(bound, { kind: "msr", msr: Number(msr) });
    }

    const lapicWrite = new RegExp(`\\bwrite[ \\t]+lapic\\.([a-z_0-9]+)[ \\t]+(?:value=)?${NUM}`)
      .exec(line);
    if (lapicWrite) add(n, decodeLapic(lapicWrite[1], num(lapicWrite[2])));
    const lapicRead = /\bread[ \t]+lapic\.([a-z_0-9]+)/.exec(line);
    if (lapicRead && bound) vars.set(bound, { kind: "lapic", name: lapicRead[1] });
    const lapicExpect = new RegExp(`lapic\\.([a-z_0-9]+)[ \\t]*(?:==|!=)[ \\t]*${NUM}`).exec(line);
    if (lapicExpect) add(n, decodeLapic(lapicExpect[1], num(lapicExpect[2])));

    const rte = new RegExp(
      `redtbl\\[([0-9]+)\\][ \\t]*(?:value=|==[ \\t]*|!=[ \\t]*|[ \\t]+)${NUM}`,
    )
      .exec(line);
    if (rte && !/redtbl\[[0-9]+\][ \t]+[a-z_]+=/.test(line)) {
      add(n, decodeRte(Number(rte[1]), num(rte[2])));
    }

    const its = decodeItsCommand(line);
    if (its) {
      add(n, its);
      if (bound) vars.set(bound, { kind: "its" });
    }

    const compared = new RegExp(`(\\$[A-Za-z_][A-Za-z0-9_]*)[ \\t]*(?:==|!=)[ \\t]*${NUM}`)
      .exec(line);
    const b = compared ? vars.get(compared[1]) : undefined;
    if (compared && b) {
      const v = num(compared[2]);
      if (b.kind === "msr") add(n, decodeMsr(b.msr, v));
      else if (b.kind === "lapic") add(n, decodeLapic(b.name, v));
      else if (v !== 0n) add(n, `ITS result ${hex(v)}: ${errorName(Number(v))}`);
    }

    if (arm) {
      const intids = new RegExp(
        `(?:intid\\[|intid=|lpi=|sgiintid=|took[ \\t]+|vector[ \\t]+)${NUM}`,
        "g",
      );
      for (const m of line.matchAll(intids)) {
        const id = Number(num(m[1]));
        add(n, `INTID ${id}: ${intidClass(id)}`);
      }
    }
  });
  return out;
}
