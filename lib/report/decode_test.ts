import assert from "node:assert/strict";
import { decodeLayout, decodeMagic } from "./decode.ts";
import { decodeMsr, decodeX86Msi } from "../x86/explain.ts";
import { decodeIts, intidClass } from "../arm/explain.ts";
import { ICR_LOW_FIELDS } from "../x86/lapic_registers.ts";
import { RTE_FIELDS } from "../x86/ioapic.ts";

Deno.test("decodeX86Msi() reads destination ID, dest mode, redirection hint, vector, delivery mode and trigger", () => {
  assert.equal(
    decodeX86Msi(0xfee0100cn, 0xc1b6n),
    "MSI address 0xfee0100c: dest_mode=logical redirection_hint=1 ext_dest=0x00 dest=0x01 base=0xfee; " +
      "data 0xc1b6: vector=0xb6 delivery_mode=lowest level=assert trigger=level",
  );
});

Deno.test("decodeX86Msi() says when the address is not in the interrupt window", () => {
  assert.match(decodeX86Msi(0xfed00000n), /not an interrupt: bits 31:20 must read 0xfee/);
});

Deno.test("decodeMsr() reads the 64-bit x2APIC ICR with its destination in the high word", () => {
  assert.equal(
    decodeMsr(0x830, 0x3_000840f1n),
    "ICR (MSR 0x830) 0x3000840f1: vector=0xf1 delivery_mode=fixed dest_mode=physical " +
      "delivery_status=idle level=assert trigger=edge shorthand=all; destination x2APIC ID 0x3",
  );
});

Deno.test("decodeMsr() reads IA32_APIC_BASE and skips registers whose x2APIC layout differs", () => {
  assert.match(
    decodeMsr(0x1b, 0xfee00c00n) ?? "",
    /^IA32_APIC_BASE \(MSR 0x1b\) 0xfee00c00: .*extd=1 enable=1/,
  );
  assert.equal(decodeMsr(0x802, 1n), undefined, "x2APIC ID is a whole 32-bit ID");
  assert.equal(decodeMsr(0x10, 5n), undefined, "IA32_TSC has no fields");
});

Deno.test("decodeMsr() reads Hyper-V SINTx, SIMP and STIMERn_CONFIG by their field tables", () => {
  assert.equal(
    decodeMsr(0x40000092, 0x200b0n),
    "SINT2 (MSR 0x40000092) 0x200b0: vector=0xb0 masked=0 auto_eoi=1 polling=0",
  );
  assert.equal(
    decodeMsr(0x40000083, 0x10001n),
    "SIMP (MSR 0x40000083) 0x10001: enable=1 page=0x0000000000010",
  );
  assert.equal(
    decodeMsr(0x400000b2, 0x1f33n),
    "STIMER1_CONFIG (MSR 0x400000b2) 0x1f33: enable=1 periodic=1 lazy=0 auto_enable=0 " +
      "apic_vector=0xf3 direct_mode=1 sintx=0x0",
  );
  assert.equal(decodeMsr(0x400000b3, 10000n), undefined, "STIMERn_COUNT has no fields");
});

Deno.test("decodeLayout() reads an xAPIC ICR low word by the register table", () => {
  assert.equal(
    decodeLayout("ICR[31:0]", ICR_LOW_FIELDS, 0x4052n),
    "ICR[31:0] 0x4052: vector=0x52 delivery_mode=fixed dest_mode=physical delivery_status=idle " +
      "level=assert trigger=edge shorthand=none",
  );
});

Deno.test("decodeLayout() reads a 64-bit IOAPIC redirection entry, destination in bits 63:56", () => {
  assert.equal(
    decodeLayout("IOREDTBL20", RTE_FIELDS, 0x0200_0000_0001_a09an),
    "IOREDTBL20 0x20000000001a09a: vector=0x9a delivery_mode=fixed dest_mode=physical " +
      "delivery_status=0 polarity=low remote_irr=0 trigger=level mask=1 dest=0x02",
  );
});

Deno.test("decodeIts() names the opcode and the spec's fields of an ITS command", () => {
  assert.equal(
    decodeIts("MAPTI", { device: 0x10, event: 3, lpi: 8192, collection: 0 }),
    "ITS MAPTI (opcode 0x0a): DeviceID 0x10, EventID 3, pINTID 8192, ICID 0",
  );
  assert.equal(decodeIts("FROB", { device: 1 }), undefined);
});

Deno.test("intidClass() gives SGI, PPI, SPI, special and LPI at their bounds", () => {
  assert.deepEqual(
    [0, 15, 16, 31, 32, 1019, 1020, 1023, 1024, 8192].map((n) => intidClass(n).split(" ")[0]),
    ["SGI", "SGI", "PPI", "PPI", "SPI", "SPI", "special", "special", "reserved", "LPI"],
  );
});

Deno.test("decodeMagic() decodes each distinct number once at its first line, including values bound by rdmsr", () => {
  const text = [
    'scenario "x"',
    "vm guest { arch x86_64  vcpus 2  lapic x2apic }",
    "device nvme: msi address=0xfee01000 data=0x41   # the NIC",
    "device nvme: msi address=0xfee01000 data=0x41",
    "vcpu0: wrmsr msr=0x830 value=0x00000001_000040f1 -> $w",
    "expect $w == 0",
    "vcpu0: rdmsr msr=0x830 -> $icr",
    "expect $icr == 0x00000001_000040f2",
    "vcpu0: write ioapic.redtbl[3] 0x1_0031",
  ].join("\n");
  const d = decodeMagic(text);
  assert.deepEqual(d.map((x) => x.line), [3, 5, 8, 9]);
  assert.match(d[0].text, /dest=0x01 .*vector=0x41/);
  assert.match(d[2].text, /^ICR \(MSR 0x830\) 0x1000040f2: vector=0xf2/);
  assert.match(d[3].text, /^IOREDTBL3 0x10031: vector=0x31 .*mask=1/);
});

Deno.test("decodeMagic() on an arm64 scenario reads MSIs as EventIDs and classes INTIDs", () => {
  const text = [
    'scenario "x"',
    "vm arm { arch arm64  vcpus 1  gic v3 { its } }",
    "vmm: kvm signal_msi address=0x08090040 devid=2 data=20",
    "expect vcpu0.gic.intid[27].pending == 1",
  ].join("\n");
  assert.deepEqual(decodeMagic(text), [
    { line: 3, text: "MSI to 0x8090040 (the ITS's GITS_TRANSLATER): EventID 20" },
    { line: 4, text: "INTID 27: PPI (16-31: private to one PE)" },
  ]);
});

Deno.test("decodeMagic() reads the checked program: numbers in titles and comments are not calls", () => {
  const text = [
    'scenario "msi address=0xfee01000 data=0x41 is what the NIC writes"',
    "vm guest { arch x86_64 }",
    "# vcpu0: wrmsr msr=0x830 value=0x1_000040f1",
    "vcpu0: sti",
  ].join("\n");
  assert.deepEqual(decodeMagic(text), []);
});

Deno.test("decodeMagic() decodes by the platform's tables: an arm64 ITS command and its result", () => {
  const text = [
    'scenario "x"',
    "vm arm { arch arm64  vcpus 1  gic v3 { its } }",
    "vcpu0: its mapti device=0x10 event=3 lpi=8192 collection=0 -> $r",
    "expect $r == 0x010801",
  ].join("\n");
  const d = decodeMagic(text);
  assert.equal(d[0].text, "ITS MAPTI (opcode 0x0a): DeviceID 0x10, EventID 3, pINTID 8192, ICID 0");
  assert.match(d.map((x) => x.text).join("\n"), /ITS result 0x10801: /);
});

Deno.test("decodeMagic() decodes the MSI entries of a routing table at their own lines", () => {
  const text = [
    'scenario "routes"',
    "vm g { arch x86_64 }",
    "vmm: kvm set_gsi_routing {",
    "  gsi=2 irqchip=ioapic pin=2",
    "  gsi=24 address_lo=0xfee01000 data=0x4041",
    "}",
  ].join("\n");
  const d = decodeMagic(text);
  assert.equal(d.length, 1);
  assert.equal(d[0].line, 5);
  assert.match(d[0].text, /^GSI 24 route: MSI address 0xfee01000: .*dest=0x01 .*vector=0x41/);
});
