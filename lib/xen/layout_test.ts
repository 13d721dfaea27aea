import assert from "node:assert/strict";
import {
  defaultVcpuInfoOffset,
  field,
  LAYOUT_32,
  LAYOUT_64,
  layoutFor,
  portWord,
} from "./layout.ts";
import { fakeDomain } from "./testing.ts";

Deno.test("64-bit shared_info offsets match the compiled header", () => {
  const s = LAYOUT_64.sharedInfo;
  assert.equal(field(s, "evtchn_pending").offset, 0x800);
  assert.equal(field(s, "evtchn_pending").size, 512);
  assert.equal(field(s, "evtchn_mask").offset, 0xa00);
  assert.equal(field(s, "wc_version").offset, 0xc00);
  assert.equal(field(s, "wc_sec").offset, 0xc04);
  assert.equal(field(s, "wc_nsec").offset, 0xc08);
  assert.equal(field(s, "wc_sec_hi").offset, 0xc0c);
  assert.equal(field(s, "arch.max_pfn").offset, 0xc10);
  assert.equal(field(s, "arch.p2m_generation").offset, 0xc38);
  assert.equal(LAYOUT_64.sharedInfoSize, 3136);
  assert.equal(LAYOUT_64.maxPorts2L, 4096);
});

Deno.test("compat shared_info offsets match the compiled header", () => {
  const s = LAYOUT_32.sharedInfo;
  assert.equal(field(s, "evtchn_pending").offset, 0x800);
  assert.equal(field(s, "evtchn_pending").size, 128);
  assert.equal(field(s, "evtchn_mask").offset, 0x880);
  assert.equal(field(s, "wc_version").offset, 0x900);
  assert.equal(field(s, "arch.max_pfn").offset, 0x90c);
  assert.equal(field(s, "wc_sec_hi").offset, 0x924);
  assert.equal(LAYOUT_32.sharedInfoSize, 2344);
  assert.equal(LAYOUT_32.maxPorts2L, 1024);
});

Deno.test("vcpu_info is 64 bytes with the selector at 8 or 4 and time at 32", () => {
  for (const [l, sel, cr2] of [[LAYOUT_64, 8, 16], [LAYOUT_32, 4, 8]] as const) {
    const v = l.vcpuInfo;
    assert.equal(field(v, "evtchn_upcall_pending").offset, 0);
    assert.equal(field(v, "evtchn_upcall_mask").offset, 1);
    assert.equal(field(v, "evtchn_pending_sel").offset, sel);
    assert.equal(field(v, "evtchn_pending_sel").size, l.wordBytes);
    assert.equal(field(v, "arch.cr2").offset, cr2);
    assert.equal(field(v, "time.version").offset, 32);
    assert.equal(field(v, "time.system_time").offset, 48);
    assert.equal(field(v, "time.flags").offset, 61);
    const end = Math.max(...v.map((f) => f.offset + f.size));
    assert.ok(end <= 64);
  }
  assert.equal(defaultVcpuInfoOffset(31), 0x7c0);
});

Deno.test("a port's selector index depends on the width, its byte does not", () => {
  assert.deepEqual(portWord(LAYOUT_64, 66), { word: 1, bit: 2 });
  assert.deepEqual(portWord(LAYOUT_32, 66), { word: 2, bit: 2 });
  assert.equal(layoutFor(32), LAYOUT_32);
  assert.throws(() => field(LAYOUT_64.sharedInfo, "nope"));
});

/**
 * Every offset and size the fact sheet (`shared/reference/xen-notes.md`,
 * sections 1 and 2) gives, for both layouts: [field, offset, size].
 */
const FACT_SHEET = {
  64: {
    sharedInfo: [
      ["vcpu_info", 0x000, 32 * 64],
      ["evtchn_pending", 0x800, 512],
      ["evtchn_mask", 0xa00, 512],
      ["wc_version", 0xc00, 4],
      ["wc_sec", 0xc04, 4],
      ["wc_nsec", 0xc08, 4],
      ["wc_sec_hi", 0xc0c, 4],
    ],
    archSharedInfo: [0xc10, 48],
    sharedInfoSize: 3136,
    vcpuInfo: [
      ["evtchn_upcall_pending", 0, 1],
      ["evtchn_upcall_mask", 1, 1],
      ["evtchn_pending_sel", 8, 8],
      ["arch.cr2", 16, 8],
    ],
    /** arch: cr2 + padding, from its offset up to `time`. */
    arch: [16, 16],
  },
  32: {
    sharedInfo: [
      ["vcpu_info", 0x000, 32 * 64],
      ["evtchn_pending", 0x800, 128],
      ["evtchn_mask", 0x880, 128],
      ["wc_version", 0x900, 4],
      ["wc_sec", 0x904, 4],
      ["wc_nsec", 0x908, 4],
      ["wc_sec_hi", 0x924, 4],
    ],
    archSharedInfo: [0x90c, 28],
    sharedInfoSize: 2344,
    vcpuInfo: [
      ["evtchn_upcall_pending", 0, 1],
      ["evtchn_upcall_mask", 1, 1],
      ["evtchn_pending_sel", 4, 4],
      ["arch.cr2", 8, 4],
    ],
    arch: [8, 24],
  },
} as const;

/** vcpu_time_info at vcpu_info + 32 in both layouts: [field, offset in the record, size]. */
const TIME_INFO = [
  ["time.version", 0, 4],
  ["time.tsc_timestamp", 8, 8],
  ["time.system_time", 16, 8],
  ["time.tsc_to_system_mul", 24, 4],
  ["time.tsc_shift", 28, 1],
  ["time.flags", 29, 1],
] as const;

for (const width of [64, 32] as const) {
  Deno.test(`fact sheet: every ${width}-bit shared_info and vcpu_info offset and size`, () => {
    const l = layoutFor(width);
    const f = FACT_SHEET[width];
    for (const [name, offset, size] of f.sharedInfo) {
      assert.deepEqual(
        [field(l.sharedInfo, name).offset, field(l.sharedInfo, name).size],
        [offset, size],
        `shared_info.${name}`,
      );
    }
    // arch_shared_info: six machine words from its offset (compat: wc_sec_hi last, inside it).
    const [archOff, archSize] = f.archSharedInfo;
    const arch = l.sharedInfo.filter((x) => x.name.startsWith("arch."));
    assert.equal(arch.length, 6);
    assert.equal(Math.min(...arch.map((x) => x.offset)), archOff);
    const archEnd = Math.max(
      ...arch.map((x) => x.offset + x.size),
      width === 32 ? field(l.sharedInfo, "wc_sec_hi").offset + 4 : 0,
    );
    assert.equal(archEnd - archOff, archSize, "arch_shared_info size");
    assert.equal(l.sharedInfoSize, f.sharedInfoSize);
    assert.equal(field(l.sharedInfo, "evtchn_pending").bits, width * width);
    for (const [name, offset, size] of f.vcpuInfo) {
      assert.deepEqual(
        [field(l.vcpuInfo, name).offset, field(l.vcpuInfo, name).size],
        [offset, size],
        `vcpu_info.${name}`,
      );
    }
    const [archVi, archViSize] = f.arch;
    assert.equal(field(l.vcpuInfo, "arch.cr2").offset, archVi);
    assert.equal(field(l.vcpuInfo, "time.version").offset - archVi, archViSize, "arch: cr2 + pad");
    for (const [name, offset, size] of TIME_INFO) {
      assert.deepEqual(
        [field(l.vcpuInfo, name).offset, field(l.vcpuInfo, name).size],
        [32 + offset, size],
        `vcpu_info.${name}`,
      );
    }
    assert.equal(l.wordBytes * 8, width);
  });
}

Deno.test("fact sheet: vCPU n's default vcpu_info is SI + 64n for n < 32", () => {
  for (let n = 0; n < 32; n++) assert.equal(defaultVcpuInfoOffset(n), 64 * n);
});

Deno.test("fact sheet: port p's pending bit is byte 0x800 + p/8, bit p%8, in both layouts", () => {
  for (const [width, maskBase] of [[64, 0xa00], [32, 0x880]] as const) {
    const { domain } = fakeDomain({ width, maxEvtchnPort: 4095 });
    const si = domain.sharedInfo();
    for (const p of [1, 7, 66, 1000]) {
      domain.evtchn.raiseOn(p, 0);
      const byte = domain.mem.read(si + 0x800 + Math.floor(p / 8), 8) as number;
      assert.equal((byte >> (p % 8)) & 1, 1, `port ${p}`);
      // The selector bit is p / W: 66 is selector bit 1 (64-bit) or 2 (32-bit).
      assert.equal(portWord(layoutFor(width), p).word, Math.floor(p / width));
      domain.mem.setBit(si + maskBase, p + 1);
      assert.equal(domain.evtchn.isMasked(p + 1), true, `mask base ${maskBase.toString(16)}`);
    }
  }
});
