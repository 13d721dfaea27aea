import assert from "node:assert/strict";
import {
  defaultVcpuInfoOffset,
  field,
  LAYOUT_32,
  LAYOUT_64,
  layoutFor,
  portWord,
} from "./layout.ts";

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
