/**
 * What the numbers of an Arm scenario mean, for `scn report`: the class of
 * a GIC INTID, ITS commands with the spec's field names and their result
 * codes, MSI writes to the ITS doorbell. The platform's entries point at
 * these (`explain`, `explainTaken`).
 *
 * @module
 */
import type { CommandSpec, ParamType, Val } from "../core/table.ts";
import { errorName, ItsOpcode } from "./its.ts";
import { LPI_BASE, PRIVATE_COUNT, SGI_COUNT, SPURIOUS } from "./irq_state.ts";
import { ITS_DOORBELL } from "./gic.ts";

function hex(n: bigint | number): string {
  return "0x" + n.toString(16);
}

function literal(v: Val | undefined): bigint | undefined {
  return typeof v === "number" || typeof v === "bigint" ? BigInt(v) : undefined;
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

/** `INTID n: class`, the line `scn report` gives an INTID. */
export function explainIntid(intid: number): string {
  return `INTID ${intid}: ${intidClass(intid)}`;
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
 * Decodes an ITS command from its opcode's name and the arguments written.
 *
 * @example
 * ```ts
 * decodeIts("MAPTI", { device: 0x10, event: 3, lpi: 8192, collection: 0 });
 * // "ITS MAPTI (opcode 0x0a): DeviceID 0x10, EventID 3, pINTID 8192, ICID 0"
 * ```
 */
export function decodeIts(op: string, args: Readonly<Record<string, Val>>): string | undefined {
  if (!(op in ItsOpcode)) return undefined;
  const parts: string[] = [];
  for (const [name, spec] of ITS_FIELDS) {
    const v = literal(args[name]);
    if (v === undefined) continue;
    parts.push(`${spec} ${name === "device" ? hex(v) : String(v)}`);
  }
  const opcode = hex(ItsOpcode[op as keyof typeof ItsOpcode]).replace(/^0x(.)$/, "0x0$1");
  return `ITS ${op} (opcode ${opcode})${parts.length ? `: ${parts.join(", ")}` : ""}`;
}

/**
 * An ITS command's result code (what `-> $r` of `its ...` binds).
 *
 * @example
 * ```ts
 * explainItsResult(0x010801n); // "ITS result 0x10801: E_ITS_MAPTI_UNMAPPED_DEVICE ..."
 * ```
 */
export function explainItsResult(value: bigint): string | undefined {
  return value === 0n ? undefined : `ITS result ${hex(value)}: ${errorName(Number(value))}`;
}

/**
 * An MSI write on Arm: where it goes and the EventID it carries.
 *
 * @example
 * ```ts
 * explainArmMsi(0x8090040n, 3n); // "MSI to 0x8090040 (the ITS's GITS_TRANSLATER): EventID 3"
 * ```
 */
export function explainArmMsi(address?: bigint, data?: bigint): string | undefined {
  if (address === undefined && data === undefined) return undefined;
  const at = address === undefined
    ? ""
    : address === BigInt(ITS_DOORBELL)
    ? ` to ${hex(address)} (the ITS's GITS_TRANSLATER)`
    : ` to ${hex(address)} (not the ITS doorbell ${hex(ITS_DOORBELL)})`;
  return `MSI${at}${data === undefined ? "" : `: EventID ${data}`}`;
}

/**
 * Gives a command an `explain` for the INTIDs its arguments name: the
 * parameters whose type is one of `intidTypes`.
 *
 * @example
 * ```ts
 * import type { CommandSpec, ParamType } from "../core/table.ts";
 * declare const cmd: CommandSpec<unknown>, INTID: ParamType;
 * withIntidExplain(cmd, [INTID]);
 * ```
 */
export function withIntidExplain<M>(
  c: CommandSpec<M>,
  intidTypes: readonly ParamType[],
): CommandSpec<M> {
  if (c.explain) return c;
  const names = c.params.filter((p) => intidTypes.includes(p.type)).map((p) => p.name);
  if (names.length === 0) return c;
  return {
    ...c,
    explain: (a) => {
      const lines = names.flatMap((n) => {
        const v = literal(a[n]);
        return v === undefined ? [] : [explainIntid(Number(v))];
      });
      return lines.length ? lines.join("; ") : undefined;
    },
  };
}
