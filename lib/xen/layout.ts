/**
 * Byte layouts of Xen's `struct shared_info` and `struct vcpu_info` for x86
 * guests, in the native 64-bit form and the 32-bit ("compat") form, and for
 * Arm guests (`xen/include/public/arch-arm.h`: `xen_ulong_t` is 64-bit,
 * `XEN_LEGACY_MAX_VCPUS` is 1, `arch_vcpu_info` and `arch_shared_info`
 * are empty). This is
 * the only place in irqlab where these offsets live: the event-channel model,
 * the DSL's guest-structure paths and the tests all read this table.
 *
 * Sources: Xen `xen/include/public/xen.h` (`struct shared_info`,
 * `struct vcpu_info`, `struct vcpu_time_info`, `XEN_LEGACY_MAX_VCPUS`),
 * `xen/include/public/arch-x86/xen.h` (`xen_ulong_t`, `struct
 * arch_shared_info`, `struct arch_vcpu_info`, `wc_sec_hi` placement for
 * `__i386__`), `xen/include/public/event_channel.h` (2-level port counts).
 * Offsets were cross-checked against KVM's build-time asserts in Linux
 * `arch/x86/kvm/xen.c` (`kvm_xen_shared_info_init`: `wc_sec_hi` at 0xc0c /
 * 0x924 and `wc` at 0xc00 / 0x900).
 *
 * 64-bit: `xen_ulong_t` is 8 bytes, so the bitmaps are 64 words of 64 bits
 * (4096 ports). Compat: `xen_ulong_t` is 4 bytes, 32 words of 32 bits (1024
 * ports), and `wc_sec_hi` moves into `arch_shared_info`. `vcpu_info` is 64
 * bytes in both, with `evtchn_pending_sel` at 8 or 4 and `arch` sized so
 * that `time` lands at 32 either way.
 *
 * @module
 */

/**
 * A guest frame is 4 KiB.
 *
 * @example
 * ```ts
 * declare const gfn: number, offset: number;
 * const gpa = gfn * XEN_PAGE_SIZE + offset;
 * ```
 */
export const XEN_PAGE_SIZE = 4096;

/**
 * A guest's word size as Xen latches it for the shared_info layout.
 *
 * @example
 * ```ts
 * layoutFor(32 as GuestWidth).maxPorts2L; // 1024
 * ```
 */
export type GuestWidth = 64 | 32;

/**
 * How a field is stored. `word` is `xen_ulong_t` (8 or 4 bytes); `bitmap` an array of them.
 *
 * @example
 * ```ts
 * field(LAYOUT_64.sharedInfo, "evtchn_mask").kind; // "bitmap"
 * ```
 */
export type FieldKind = "u8" | "s8" | "u16" | "u32" | "u64" | "bitmap" | "bytes";

/**
 * One named field of a Xen shared structure, at its real offset.
 *
 * @example
 * ```ts
 * field(LAYOUT_32.vcpuInfo, "evtchn_pending_sel"); // { offset: 4, size: 4, ... }
 * ```
 */
export interface XenField {
  /** The C member path: `evtchn_pending`, `time.system_time`, `arch.cr2`. */
  readonly name: string;
  /** Byte offset from the start of the structure. */
  readonly offset: number;
  /** Size in bytes (the whole array for bitmaps). */
  readonly size: number;
  readonly kind: FieldKind;
  /** For bitmaps: the number of bits (ports). */
  readonly bits?: number;
  readonly doc: string;
}

/**
 * Which architecture's public headers a layout follows: `x86`
 * (`arch-x86/xen.h`) or `arm` (`arch-arm.h`, arm32 and arm64 alike).
 *
 * @example
 * ```ts
 * const a: XenArch = "arm";
 * ```
 */
export type XenArch = "x86" | "arm";

/**
 * Everything that depends on the guest's width (and, for Arm, the architecture).
 *
 * @example
 * ```ts
 * LAYOUT_64.bitsPerWord; // 64
 * ```
 */
export interface XenLayout {
  readonly width: GuestWidth;
  /** Whose headers: the x86 layouts or the Arm one. */
  readonly arch: XenArch;
  /** `sizeof(struct vcpu_info)`: 64 on x86, 48 on Arm (its `arch_vcpu_info` is empty). */
  readonly vcpuInfoSize: number;
  /** `XEN_LEGACY_MAX_VCPUS`: vcpu_info slots inside shared_info (32 on x86, 1 on Arm). */
  readonly legacyVcpus: number;
  /** `sizeof(xen_ulong_t)`. */
  readonly wordBytes: 8 | 4;
  /** Bits per `evtchn_pending[]` word, and so ports per selector bit. */
  readonly bitsPerWord: 64 | 32;
  /** 2-level port limit: bitsPerWord² (`EVTCHN_2L_NR_CHANNELS`, 4096 or 1024). */
  readonly maxPorts2L: number;
  /** `sizeof(struct shared_info)`. */
  readonly sharedInfoSize: number;
  /** `struct shared_info` members. */
  readonly sharedInfo: readonly XenField[];
  /** `struct vcpu_info` members (64 bytes in both layouts). */
  readonly vcpuInfo: readonly XenField[];
}

/**
 * `XEN_LEGACY_MAX_VCPUS` on x86: vcpu_info slots inside shared_info.
 *
 * @example
 * ```ts
 * XEN_LEGACY_MAX_VCPUS; // 32
 * ```
 */
export const XEN_LEGACY_MAX_VCPUS = 32;

/**
 * `sizeof(struct vcpu_info)` on x86, both layouts.
 *
 * @example
 * ```ts
 * VCPU_INFO_SIZE * 3; // offset of vcpu_info[3] in shared_info
 * ```
 */
export const VCPU_INFO_SIZE = 64;

function timeFields(base: number): XenField[] {
  // struct vcpu_time_info has explicit padding, so it is the same in both layouts.
  return [
    {
      name: "time.version",
      offset: base + 0,
      size: 4,
      kind: "u32",
      doc: "odd while Xen updates the record",
    },
    {
      name: "time.tsc_timestamp",
      offset: base + 8,
      size: 8,
      kind: "u64",
      doc: "TSC at the last update",
    },
    {
      name: "time.system_time",
      offset: base + 16,
      size: 8,
      kind: "u64",
      doc: "ns since boot at tsc_timestamp",
    },
    {
      name: "time.tsc_to_system_mul",
      offset: base + 24,
      size: 4,
      kind: "u32",
      doc: "TSC to ns multiplier (32.32 fixed point)",
    },
    {
      name: "time.tsc_shift",
      offset: base + 28,
      size: 1,
      kind: "s8",
      doc: "shift applied to the TSC delta first",
    },
    {
      name: "time.flags",
      offset: base + 29,
      size: 1,
      kind: "u8",
      doc: "bit 0 TSC_STABLE, bit 1 GUEST_STOPPED",
    },
  ];
}

function vcpuInfoFields(width: GuestWidth): XenField[] {
  const w = width === 64 ? 8 : 4;
  return [
    {
      name: "evtchn_upcall_pending",
      offset: 0,
      size: 1,
      kind: "u8",
      doc: "UP: set by Xen when an unmasked event is newly flagged; cleared by the guest",
    },
    {
      name: "evtchn_upcall_mask",
      offset: 1,
      size: 1,
      kind: "u8",
      doc: "UM: PV upcall mask; HVM delivery ignores it",
    },
    {
      name: "evtchn_pending_sel",
      offset: w,
      size: w,
      kind: w === 8 ? "u64" : "u32",
      doc: "selector: bit i set when evtchn_pending[i] may hold an unmasked event for this vCPU",
    },
    {
      name: "arch.cr2",
      offset: 2 * w,
      size: w,
      kind: w === 8 ? "u64" : "u32",
      doc: "PV page-fault address (arch_vcpu_info)",
    },
    ...timeFields(32),
  ];
}

function sharedInfoFields(width: GuestWidth): XenField[] {
  const w = width === 64 ? 8 : 4;
  const bits = w * 8;
  const bitmapBytes = bits * w; // bits words of w bytes
  const pending = XEN_LEGACY_MAX_VCPUS * VCPU_INFO_SIZE;
  const mask = pending + bitmapBytes;
  const wc = mask + bitmapBytes;
  const word = w === 8 ? "u64" : "u32";
  const out: XenField[] = [
    {
      name: "vcpu_info",
      offset: 0,
      size: XEN_LEGACY_MAX_VCPUS * VCPU_INFO_SIZE,
      kind: "bytes",
      doc: "the default vcpu_info of vCPUs 0..31",
    },
    {
      name: "evtchn_pending",
      offset: pending,
      size: bitmapBytes,
      kind: "bitmap",
      bits: bits * bits,
      doc: "P: one bit per port, set by Xen, cleared by the guest",
    },
    {
      name: "evtchn_mask",
      offset: mask,
      size: bitmapBytes,
      kind: "bitmap",
      bits: bits * bits,
      doc: "M: one bit per port, owned by the guest",
    },
    { name: "wc_version", offset: wc, size: 4, kind: "u32", doc: "wallclock seqcount" },
    { name: "wc_sec", offset: wc + 4, size: 4, kind: "u32", doc: "wallclock seconds (low)" },
    { name: "wc_nsec", offset: wc + 8, size: 4, kind: "u32", doc: "wallclock nanoseconds" },
  ];
  // arch_shared_info: six machine words; the compat one appends wc_sec_hi.
  const arch = width === 64 ? wc + 16 : wc + 12;
  const archNames = [
    "max_pfn",
    "pfn_to_mfn_frame_list_list",
    "nmi_reason",
    "p2m_cr3",
    "p2m_vaddr",
    "p2m_generation",
  ];
  if (width === 64) {
    out.push({
      name: "wc_sec_hi",
      offset: wc + 12,
      size: 4,
      kind: "u32",
      doc: "wallclock seconds (high), top level on x86-64",
    });
  }
  archNames.forEach((n, i) =>
    out.push({
      name: `arch.${n}`,
      offset: arch + i * w,
      size: w,
      kind: word,
      doc: "PV-only arch_shared_info word",
    })
  );
  if (width === 32) {
    out.push({
      name: "wc_sec_hi",
      offset: arch + 6 * w,
      size: 4,
      kind: "u32",
      doc: "wallclock seconds (high), last member of the i386 arch_shared_info",
    });
  }
  return out;
}

function makeLayout(width: GuestWidth): XenLayout {
  const shared = sharedInfoFields(width);
  const last = shared.reduce((a, f) => Math.max(a, f.offset + f.size), 0);
  const w = width === 64 ? 8 : 4;
  return {
    width,
    arch: "x86",
    vcpuInfoSize: VCPU_INFO_SIZE,
    legacyVcpus: XEN_LEGACY_MAX_VCPUS,
    wordBytes: w,
    bitsPerWord: width,
    maxPorts2L: width * width,
    sharedInfoSize: last,
    sharedInfo: shared,
    vcpuInfo: vcpuInfoFields(width),
  };
}

/**
 * The x86-64 layout: 4096 ports, bitmaps at 0x800 / 0xa00, wallclock at 0xc00.
 *
 * @example
 * ```ts
 * field(LAYOUT_64.sharedInfo, "evtchn_mask").offset; // 0xa00
 * ```
 */
export const LAYOUT_64: XenLayout = makeLayout(64);

/**
 * The 32-bit (compat) layout: 1024 ports, bitmaps at 0x800 / 0x880, wallclock at 0x900.
 *
 * @example
 * ```ts
 * field(LAYOUT_32.sharedInfo, "wc_sec_hi").offset; // 0x924
 * ```
 */
export const LAYOUT_32: XenLayout = makeLayout(32);

/** `XEN_LEGACY_MAX_VCPUS` on Arm: only vCPU 0 has a slot in shared_info. */
const ARM_LEGACY_MAX_VCPUS = 1;
/** `sizeof(struct vcpu_info)` on Arm: 16 bytes of header, no arch part, 32 of time. */
const ARM_VCPU_INFO_SIZE = 48;

function armLayout(): XenLayout {
  // arch-arm.h: xen_ulong_t is uint64_t for arm32 and arm64 alike, so the
  // bitmaps and the selector are 64-bit words; arch_vcpu_info and
  // arch_shared_info are empty structs, so `time` follows the selector at
  // 16 and nothing follows `wc_sec_hi` (top level: not __i386__).
  const w = 8;
  const bitmapBytes = 64 * w;
  const pending = ARM_LEGACY_MAX_VCPUS * ARM_VCPU_INFO_SIZE;
  const mask = pending + bitmapBytes;
  const wc = mask + bitmapBytes;
  const vcpuInfo = vcpuInfoFields(64).filter((f) => !f.name.startsWith("arch."))
    .filter((f) => !f.name.startsWith("time."));
  const sharedInfo: XenField[] = [
    {
      name: "vcpu_info",
      offset: 0,
      size: pending,
      kind: "bytes",
      doc: "the default vcpu_info of vCPU 0 (Arm has one legacy slot)",
    },
    ...sharedInfoFields(64).filter((f) => f.kind === "bitmap" || f.name.startsWith("wc_")).map(
      (f): XenField => {
        const at: Record<string, number> = {
          evtchn_pending: pending,
          evtchn_mask: mask,
          wc_version: wc,
          wc_sec: wc + 4,
          wc_nsec: wc + 8,
          wc_sec_hi: wc + 12,
        };
        return { ...f, offset: at[f.name] };
      },
    ),
  ];
  return {
    width: 64,
    arch: "arm",
    vcpuInfoSize: ARM_VCPU_INFO_SIZE,
    legacyVcpus: ARM_LEGACY_MAX_VCPUS,
    wordBytes: 8,
    bitsPerWord: 64,
    maxPorts2L: 64 * 64,
    sharedInfoSize: wc + 16,
    sharedInfo,
    vcpuInfo: [...vcpuInfo, ...timeFields(16)],
  };
}

/**
 * The Arm layout (`arch-arm.h`), the same for arm32 and arm64 guests:
 * 64-bit words, 4096 ports, one legacy vcpu_info of 48 bytes, so the
 * bitmaps sit at 0x30 / 0x230 and the wallclock at 0x430; in vcpu_info the
 * selector is at 8 and `time` at 16.
 *
 * @example
 * ```ts
 * field(LAYOUT_ARM.sharedInfo, "evtchn_pending").offset; // 0x30
 * field(LAYOUT_ARM.vcpuInfo, "time.system_time").offset; // 32
 * ```
 */
export const LAYOUT_ARM: XenLayout = armLayout();

/**
 * The layout for a width (x86), or the Arm layout whatever the width.
 *
 * @example
 * ```ts
 * layoutFor(32).maxPorts2L; // 1024
 * layoutFor(32, "arm").maxPorts2L; // 4096: xen_ulong_t is 64-bit on arm32 too
 * ```
 */
export function layoutFor(width: GuestWidth, arch: XenArch = "x86"): XenLayout {
  if (arch === "arm") return LAYOUT_ARM;
  return width === 64 ? LAYOUT_64 : LAYOUT_32;
}

/**
 * A field by name; throws for a name the table does not have (a model bug).
 *
 * @example
 * ```ts
 * field(LAYOUT_64.vcpuInfo, "evtchn_pending_sel").offset; // 8
 * ```
 */
export function field(fields: readonly XenField[], name: string): XenField {
  const f = fields.find((x) => x.name === name);
  if (!f) throw new Error(`no Xen field '${name}'`);
  return f;
}

/**
 * Offset of vCPU `n`'s default vcpu_info in shared_info (n < 32).
 *
 * @example
 * ```ts
 * defaultVcpuInfoOffset(3); // 0xc0
 * defaultVcpuInfoOffset(0, LAYOUT_ARM.vcpuInfoSize); // 0
 * ```
 */
export function defaultVcpuInfoOffset(n: number, size: number = VCPU_INFO_SIZE): number {
  return n * size;
}

/**
 * Where a port lives in the 2-level bitmaps: the selector bit (word index)
 * and the bit inside that word.
 *
 * @example
 * ```ts
 * portWord(LAYOUT_64, 66); // { word: 1, bit: 2 }
 * portWord(LAYOUT_32, 66); // { word: 2, bit: 2 }
 * ```
 */
export function portWord(layout: XenLayout, port: number): { word: number; bit: number } {
  return { word: Math.floor(port / layout.bitsPerWord), bit: port % layout.bitsPerWord };
}
