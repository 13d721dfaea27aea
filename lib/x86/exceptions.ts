/**
 * x86 exceptions as the vCPU raises and delivers them: the one table of
 * the architecture's exception vectors (mnemonic, fault / trap / abort,
 * benign / contributory / page-fault class, whether an error code is
 * pushed), the IDT-index error code a not-present gate produces, and the
 * rule that merges an exception raised while delivering another (double
 * fault, triple fault). The CPU model, the commands, `scn help` and the
 * constants (`NP_VECTOR`) read this table; nothing restates it.
 *
 * Sources: Intel SDM vol. 3A ch. 6, "Interrupt and Exception Handling":
 * table 6-1 (vectors, types, error codes), 6.13 "Error Code" (EXT bit 0,
 * IDT bit 1, the index in bits 15:3), 6.15 "Exception and Interrupt
 * Reference" (interrupt 8, table 6-4 / 6-5: benign, contributory and page
 * fault classes and which pairs make a double fault; a fault while
 * delivering #DF shuts the processor down). KVM `arch/x86/kvm/x86.c`:
 * `exception_class` (#DE, #TS, #NP, #SS, #GP contributory; #PF its own
 * class; #CP contributory only with CET, which the model has not: benign
 * here), `exception_type` (#DB, #BP, #OF traps; #DF, #MC aborts; the rest
 * faults), `kvm_multiple_exception` (a second exception while one is
 * pending or injected: after #DF a triple fault, KVM_REQ_TRIPLE_FAULT;
 * contributory on contributory, or non-benign on #PF, becomes #DF with
 * error code 0; otherwise the new one replaces the old), `x86.h`
 * `x86_exception_has_error_code` (#DF, #TS, #NP, #SS, #GP, #PF, #AC, and
 * #CP) and `kvm_exception_is_soft` (#BP and #OF raised by INT3 / INTO,
 * which KVM_GET_VCPU_EVENTS does not report).
 *
 * @module
 */

/** How an exception returns: a fault re-executes its instruction, a trap continues after it. */
export type ExceptionType = "fault" | "trap" | "abort";

/** The class the double-fault rule reads (SDM table 6-4). */
export type ExceptionClass = "benign" | "contributory" | "page_fault";

/** One row of {@link EXCEPTIONS}. */
export interface ExceptionSpec {
  /** The vector (0-31). */
  readonly vector: number;
  /** The SDM's mnemonic without '#': `DE`, `NP`. */
  readonly mnemonic: string;
  /** The SDM's description. */
  readonly name: string;
  /** Fault, trap or abort (KVM `exception_type`). */
  readonly type: ExceptionType;
  /** Benign, contributory or page fault (KVM `exception_class`). */
  readonly class: ExceptionClass;
  /** The processor pushes an error code (KVM `x86_exception_has_error_code`). */
  readonly errorCode: boolean;
}

const row = (
  vector: number,
  mnemonic: string,
  name: string,
  type: ExceptionType,
  cls: ExceptionClass,
  errorCode: boolean,
): ExceptionSpec => ({ vector, mnemonic, name, type, class: cls, errorCode });

/**
 * The architecture's exception vectors (SDM vol. 3A table 6-1). NMI
 * (vector 2) is an interrupt, not an exception: the vCPU takes it as
 * `nmi`, and KVM refuses it as an exception vector. 9 (coprocessor
 * segment overrun), 15 and 22-31 are reserved; KVM treats them as benign
 * faults without an error code, and so does {@link exceptionSpec}.
 *
 * @example
 * ```ts
 * EXCEPTIONS.find((e) => e.mnemonic === "NP")!.vector; // 11
 * ```
 */
export const EXCEPTIONS: readonly ExceptionSpec[] = [
  row(0, "DE", "divide error", "fault", "contributory", false),
  row(1, "DB", "debug", "trap", "benign", false),
  row(3, "BP", "breakpoint (INT3)", "trap", "benign", false),
  row(4, "OF", "overflow (INTO)", "trap", "benign", false),
  row(5, "BR", "BOUND range exceeded", "fault", "benign", false),
  row(6, "UD", "invalid opcode", "fault", "benign", false),
  row(7, "NM", "device not available", "fault", "benign", false),
  row(8, "DF", "double fault", "abort", "benign", true),
  row(10, "TS", "invalid TSS", "fault", "contributory", true),
  row(11, "NP", "segment not present", "fault", "contributory", true),
  row(12, "SS", "stack-segment fault", "fault", "contributory", true),
  row(13, "GP", "general protection", "fault", "contributory", true),
  row(14, "PF", "page fault", "fault", "page_fault", true),
  row(16, "MF", "x87 floating-point error", "fault", "benign", false),
  row(17, "AC", "alignment check", "fault", "benign", true),
  row(18, "MC", "machine check", "abort", "benign", false),
  row(19, "XM", "SIMD floating-point exception", "fault", "benign", false),
  row(20, "VE", "virtualization exception", "fault", "benign", false),
  row(21, "CP", "control protection (no CET here: benign)", "fault", "benign", true),
];

const RESERVED: ExceptionSpec = row(-1, "", "reserved", "fault", "benign", false);
const BY_VECTOR: readonly ExceptionSpec[] = Array.from(
  { length: 32 },
  (_, v) => EXCEPTIONS.find((e) => e.vector === v) ?? { ...RESERVED, vector: v },
);

/**
 * The row of exception vector `vector` (0-31); a reserved vector answers
 * as KVM treats it, a benign fault without an error code.
 *
 * @example
 * ```ts
 * exceptionSpec(0).class; // "contributory"
 * ```
 */
export function exceptionSpec(vector: number): ExceptionSpec {
  return BY_VECTOR[vector];
}

/** #DE, the vector `div` raises. */
export const DE_VECTOR = 0;
/** #BP, INT3's. */
export const BP_VECTOR = 3;
/** #OF, INTO's. */
export const OF_VECTOR = 4;
/** #UD. */
export const UD_VECTOR = 6;
/** #DF. */
export const DF_VECTOR = 8;
/** #NP. */
export const NP_VECTOR = 11;
/** #GP. */
export const GP_VECTOR = 13;
/** #MC. */
export const MC_VECTOR = 18;

/**
 * The scenario constants, `<MNEMONIC>_VECTOR` as Linux names them
 * (`NP_VECTOR` is 11), from {@link EXCEPTIONS}.
 *
 * @example
 * ```ts
 * EXCEPTION_CONSTANTS.DE_VECTOR; // 0
 * ```
 */
export const EXCEPTION_CONSTANTS: Readonly<Record<string, number>> = Object.fromEntries(
  EXCEPTIONS.map((e) => [`${e.mnemonic}_VECTOR`, e.vector]),
);

/** Error code bit 0, EXT: the fault happened while delivering an event external to the program. */
export const ERROR_CODE_EXT = 1;
/** Error code bit 1, IDT: the index (bits 15:3) names an IDT gate. */
export const ERROR_CODE_IDT = 2;

/**
 * The error code of a fault on IDT gate `vector` (a not-present gate's
 * #NP): the index in bits 15:3, IDT set, and EXT unless the event being
 * delivered was a software interrupt or exception (INT n, INT3, INTO)
 * (SDM 6.13).
 *
 * @example
 * ```ts
 * idtErrorCode(33, false); // 0x10a
 * ```
 */
export function idtErrorCode(vector: number, external: boolean): number {
  return (vector << 3) | ERROR_CODE_IDT | (external ? ERROR_CODE_EXT : 0);
}

/**
 * What becomes of exception `next`, raised while exception `prev` is
 * being delivered (KVM `kvm_multiple_exception`, SDM table 6-5): `triple`
 * when `prev` is #DF (shutdown); `double` for contributory on contributory
 * or a non-benign one on #PF (#DF with error code 0); otherwise `replace`
 * (`next` is delivered, `prev` is lost, as KVM does in the hope that
 * re-executing the instruction raises it again).
 *
 * @example
 * ```ts
 * mergeExceptions(0, 11); // "double": #NP while delivering #DE
 * mergeExceptions(3, 11); // "replace": #BP is benign
 * ```
 */
export function mergeExceptions(prev: number, next: number): "triple" | "double" | "replace" {
  if (prev === DF_VECTOR) return "triple";
  const c1 = exceptionSpec(prev).class, c2 = exceptionSpec(next).class;
  if (
    (c1 === "contributory" && c2 === "contributory") || (c1 === "page_fault" && c2 !== "benign")
  ) {
    return "double";
  }
  return "replace";
}

/**
 * An exception KVM_GET_VCPU_EVENTS leaves out (`kvm_exception_is_soft`):
 * #BP and #OF, raised by INT3 and INTO, which re-execute to raise it again
 * since the API has no instruction length for them.
 *
 * @example
 * ```ts
 * isSoftException(3); // true
 * ```
 */
export function isSoftException(vector: number): boolean {
  return vector === BP_VECTOR || vector === OF_VECTOR;
}

/**
 * `#NP(0x10a)`, `#DE`: an exception and its error code as the SDM writes them.
 *
 * @example
 * ```ts
 * describeException(11, 0x10a); // "#NP(0x10a)"
 * ```
 */
export function describeException(vector: number, errorCode: number): string {
  const m = exceptionSpec(vector).mnemonic || `vector ${vector}`;
  return errorCode >= 0 ? `#${m}(0x${errorCode.toString(16)})` : `#${m}`;
}
