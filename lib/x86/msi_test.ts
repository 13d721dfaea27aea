import assert from "node:assert/strict";
import { type ApicMessage, fixedMessage } from "./apic_message.ts";
import {
  decodeMsi,
  decodeMsiAddress,
  decodeMsiData,
  decodeMsiInto,
  encodeMsi,
  isMsiError,
  MsiDecoder,
  MsiStatus,
} from "./msi.ts";

Deno.test("decodeMsi() decodes every address and data field", () => {
  // dest 0x5a, redirection hint, logical; vector 0x41, lowest, level.
  assert.deepEqual(decodeMsi(0xfee5a00c, 0, 0x0000c141), {
    vector: 0x41,
    deliveryMode: 1,
    logical: true,
    dest: 0x5a,
    shorthand: 0,
    level: true,
    assert: true,
    sourceId: -1,
    source: "msi",
    redirectionHint: true,
  });
  assert.deepEqual(decodeMsi(0xfee01000, 0, 0x0441), {
    vector: 0x41,
    deliveryMode: 4,
    logical: false,
    dest: 0x01,
    shorthand: 0,
    level: false,
    assert: true,
    sourceId: -1,
    source: "msi",
    redirectionHint: false,
  });
});

Deno.test("decodeMsi() ignores data bit 14 and always asserts", () => {
  const m = decodeMsi(0xfee00000, 0, 0x8030);
  assert.ok(!isMsiError(m));
  assert.equal(m.assert, true);
  assert.equal(m.level, true);
});

Deno.test("decodeMsi() rejects an address outside 0xFEExxxxx", () => {
  const r = decodeMsi(0xfed01000, 0, 0x41);
  assert.ok(isMsiError(r));
  assert.equal(r.error, "address-base");
  assert.equal(r.errno, -22);
  const loose = decodeMsi(0xfed01000, 0, 0x41, { checkBase: false });
  assert.ok(!isMsiError(loose));
  assert.equal(loose.dest, 1);
});

Deno.test("decodeMsi() ignores address-high unless in x2APIC format", () => {
  const plain = decodeMsi(0xfee01000, 0x00000123, 0x41);
  assert.ok(!isMsiError(plain));
  assert.equal(plain.dest, 0x01);
  const wide = decodeMsi(0xfee01000, 0x00012300, 0x41, { x2apicFormat: true });
  assert.ok(!isMsiError(wide));
  assert.equal(wide.dest, 0x00012301);
  const bad = decodeMsi(0xfee01000, 0x00000001, 0x41, { x2apicFormat: true });
  assert.ok(isMsiError(bad));
  assert.equal(bad.error, "address-high");
  assert.equal(bad.errno, -22);
});

Deno.test("decodeMsiInto() fills a message in place", () => {
  const m = fixedMessage(0, 0, "ipi");
  assert.equal(decodeMsiInto(m, 0xfee02004, 0, 0x0251), MsiStatus.Ok);
  assert.equal(m.vector, 0x51);
  assert.equal(m.deliveryMode, 2);
  assert.equal(m.dest, 2);
  assert.equal(m.logical, true);
  assert.equal(m.source, "msi");
  assert.equal(decodeMsiInto(m, 0, 0, 0), MsiStatus.BadBase);
});

Deno.test("encodeMsi() builds the architectural words and round-trips", () => {
  assert.deepEqual(encodeMsi({ dest: 1, vector: 0x41 }), {
    addressLo: 0xfee01000,
    addressHi: 0,
    data: 0x4041,
  });
  const w = encodeMsi({
    dest: 0x5a,
    vector: 0x41,
    deliveryMode: "lowest",
    logical: true,
    redirectionHint: true,
    level: true,
  });
  assert.deepEqual(w, { addressLo: 0xfee5a00c, addressHi: 0, data: 0xc141 });
  const m = decodeMsi(w.addressLo, w.addressHi, w.data);
  assert.ok(!isMsiError(m));
  assert.deepEqual([m.dest, m.vector, m.deliveryMode, m.logical, m.redirectionHint, m.level], [
    0x5a,
    0x41,
    1,
    true,
    true,
    true,
  ]);
  assert.deepEqual(encodeMsi({ dest: 0x1234, vector: 0x30, x2apicFormat: true }), {
    addressLo: 0xfee34000,
    addressHi: 0x1200,
    data: 0x4030,
  });
  assert.throws(() => encodeMsi({ dest: 0x100, vector: 0x30 }), RangeError);
  assert.throws(() => encodeMsi({ dest: 0, vector: 0x100 }), RangeError);
});

Deno.test("decodeMsiAddress() and decodeMsiData() name every field", () => {
  assert.deepEqual(decodeMsiAddress(0xfee5a0ec), {
    dest_mode: 1,
    redirection_hint: 1,
    ext_dest: 0x07,
    dest: 0x5a,
    base: 0xfee,
  });
  assert.deepEqual(decodeMsiData(0x0000c541), {
    vector: 0x41,
    delivery_mode: 5,
    level: 1,
    trigger: 1,
  });
});

Deno.test("MsiDecoder: a write repeated is delivered as decoded; a change of any input, the x2APIC format or the source decodes again", () => {
  const seen: string[] = [];
  const sink = {
    deliver: (m: ApicMessage) => (seen.push(`${m.source} ${m.vector} ${m.dest} ${m.level}`), 1),
  };
  const options = { x2apicFormat: false };
  const msi = new MsiDecoder(sink, options);
  msi.writeMsi(0xfee01000, 0, 0x41, "msi");
  msi.writeMsi(0xfee01000, 0, 0x41, "msi");
  msi.writeMsi(0xfee02000, 0, 0x41, "msi"); // another destination
  msi.writeMsi(0xfee02000, 0, 0x8042, "msi"); // another vector, level
  msi.writeMsi(0xfee02000, 0x100, 0x8042, "msi"); // address-high ignored without x2APIC format
  options.x2apicFormat = true; // KVM_CAP_X2APIC_API enabled since
  msi.writeMsi(0xfee02000, 0x100, 0x8042, "msi"); // now destination 0x102
  msi.writeMsi(0xfee02000, 0x100, 0x8042, "ioapic");
  assert.deepEqual(seen, [
    "msi 65 1 false",
    "msi 65 1 false",
    "msi 65 2 false",
    "msi 66 2 true",
    "msi 66 2 true",
    "msi 66 258 true",
    "ioapic 66 258 true",
  ]);
  // A write that does not decode delivers nothing, and the next good one is decoded anew.
  assert.equal(msi.writeMsi(0xfee02000, 0x101, 0x8042, "msi"), -22);
  assert.equal(msi.status, MsiStatus.BadAddressHigh);
  assert.equal(msi.writeMsi(0xfee02000, 0x100, 0x8042, "msi"), 1);
  assert.equal(msi.status, MsiStatus.Ok);
  assert.equal(seen.length, 8);
});
