import assert from "node:assert/strict";
import {
  GuestMemory,
  guestMemoryCommands,
  GuestMemoryError,
  guestMemoryState,
} from "./guest_memory.ts";
import { CommandInputError } from "./diagnostic.ts";
import type { StateHash } from "./platform.ts";

Deno.test("GuestMemory reads and writes little-endian words", () => {
  const m = new GuestMemory(64);
  m.write(0, 32, 0x11223344);
  assert.deepEqual([...m.bytes.subarray(0, 4)], [0x44, 0x33, 0x22, 0x11]);
  m.write(8, 64, 0x0102030405060708n);
  assert.equal(m.read(8, 64), 0x0102030405060708n);
  assert.equal(m.read(8, 8), 0x08);
  assert.equal(m.read(8, 16), 0x0708);
  m.write(16, 8, 0x1ff); // truncated
  assert.equal(m.read(16, 8), 0xff);
});

Deno.test("bit n of a bitmap is bit n%8 of byte n/8, whatever the word size", () => {
  const m = new GuestMemory(16);
  assert.equal(m.testAndSetBit(0, 66), false);
  assert.equal(m.bytes[8], 0b100);
  assert.equal(m.read(8, 64), 4n); // word 1 of 64-bit words, bit 2
  assert.equal(m.read(8, 32), 4); // word 2 of 32-bit words, bit 2
  assert.equal(m.testAndSetBit(0, 66), true);
  assert.equal(m.testBit(0, 66), true);
  assert.equal(m.testAndClearBit(0, 66), true);
  assert.equal(m.testAndClearBit(0, 66), false);
  m.setBit(0, 0);
  m.clearBit(0, 0);
  assert.equal(m.bytes[0], 0);
});

Deno.test("xchg returns the old value and stores the new one", () => {
  const m = new GuestMemory(16);
  m.write(8, 64, 0xffn);
  assert.equal(m.xchg(8, 64, 0n), 0xffn);
  assert.equal(m.read(8, 64), 0n);
});

Deno.test("copy, fill, and out-of-range accesses throw", () => {
  const m = new GuestMemory(32);
  m.write(0, 32, 0xdeadbeef);
  m.copy(16, 0, 4);
  assert.equal(m.read(16, 32), 0xdeadbeef);
  m.fill(16, 4, 0);
  assert.equal(m.read(16, 32), 0);
  assert.throws(() => m.read(30, 32), GuestMemoryError);
  assert.throws(() => m.testBit(0, 256), GuestMemoryError);
  assert.equal(m.contains(0, 32), true);
  assert.equal(m.contains(1, 32), false);
});

Deno.test("guestMemoryCommands: vcpu and vmm read and write the same RAM, refusing accesses past it", () => {
  const vm = { mem: new GuestMemory(16) };
  const cmds = guestMemoryCommands<typeof vm>((v) => v.mem);
  const find = (actor: string, name: string) =>
    cmds.find((c) => c.actor === actor && c.name === name)!;
  find("vcpu", "mem write").run(
    vm,
    0,
    { addr: 8, size: "u64", value: 0x1122334455667788n },
    "vcpu0",
  );
  assert.equal(find("vmm", "mem read").run(vm, -1, { addr: 8, size: "u8" }, "vmm"), 0x88);
  assert.equal(find("vmm", "mem read").run(vm, -1, { addr: 12, size: "u32" }, "vmm"), 0x11223344);
  // A 64-bit value past 2^53 stays a bigint.
  assert.equal(
    find("vcpu", "mem read").run(vm, 0, { addr: 8, size: "u64" }, "vcpu0"),
    0x1122334455667788n,
  );
  assert.throws(
    () => find("vmm", "mem read").run(vm, -1, { addr: 13, size: "u32" }, "vmm"),
    (e) =>
      e instanceof CommandInputError && /u32 access at 0xd is outside guest RAM/.test(e.message),
  );
});

Deno.test("guestMemoryState: mem.uN[addr] paths read little-endian, bounded where a whole access fits", () => {
  const vm = { mem: new GuestMemory(16) };
  vm.mem.write(0, 32, 0xa5a5a0a5);
  const paths = guestMemoryState<typeof vm>((v) => v.mem);
  const get = (p: string, addr: number) => paths.find((s) => s.pattern === p)!.get(vm, [addr]);
  assert.equal(get("mem.u32[#]", 0), 0xa5a5a0a5);
  assert.equal(get("mem.u16[#]", 1), 0xa5a0);
  assert.deepEqual(paths.map((s) => s.bounds!(vm)[0]), [16, 15, 13, 9]);
});

/** The words hashFields feeds, in order. */
function hashed(mem: GuestMemory): number[] {
  const out: number[] = [];
  const h: StateHash = {
    n: (x) => out.push(x | 0),
    num: (x) => out.push(x),
    big: (x) => out.push(Number(x)),
    bool: (x) => out.push(x ? 1 : 0),
    words: (a) => out.push(...Array.from(a)),
    block: (w, count) => out.push(...w.subarray(0, count)),
    value: () => out.push(NaN),
    fixed: (o, feed) => feed(h, o),
    versioned: (_v, o, feed) => feed(h, o),
  };
  mem.hashFields(h);
  return out;
}

Deno.test("GuestMemory hashes what every write method changed, in any page", () => {
  const writes: [string, (m: GuestMemory, at: number) => void][] = [
    ["write", (m, at) => m.write(at, 32, 0x01020304)],
    ["xchg", (m, at) => m.xchg(at, 64, 5n)],
    ["testAndSetBit", (m, at) => m.testAndSetBit(at, 9)],
    ["setBit", (m, at) => m.setBit(at, 3)],
    ["fill", (m, at) => m.fill(at, 3, 0x7f)],
    ["store", (m, at) => m.store(at, Uint8Array.of(1, 2, 3))],
    ["copy", (m, at) => (m.write(0, 8, 9), m.copy(at, 0, 1))],
  ];
  for (const [name, w] of writes) {
    for (const at of [0, 0x1ffc, 0x3ff8, 0x7ff0]) {
      const m = new GuestMemory(0x8000);
      const before = hashed(m);
      w(m, at);
      assert.notDeepEqual(hashed(m), before, `${name} at 0x${at.toString(16)}`);
      // Equal contents hash alike, whichever pages were written on the way.
      const n = new GuestMemory(0x8000);
      n.store(0, m.bytes.slice());
      assert.deepEqual(hashed(n), hashed(m), name);
    }
  }
  const m = new GuestMemory(0x8000);
  m.setBit(0x5000, 1);
  m.clearBit(0x5000, 1);
  assert.deepEqual(hashed(m), hashed(new GuestMemory(0x8000)), "cleared again: all zero");
  // Memory given from outside (a real VM's) may change behind the model's back: all of it counts.
  const outside = new Uint8Array(0x2000);
  const given = new GuestMemory(0x2000, outside);
  const before = hashed(given);
  outside[0x1234] = 1;
  assert.notDeepEqual(hashed(given), before);
});

Deno.test("nothing but GuestMemory writes guest memory's bytes (so it knows the pages written)", async () => {
  // lib/kvm's structures have `bytes` of their own, and its guest memory is given from outside.
  const write = /\.bytes(\[[^\]]*\]\s*([-+|&^]|<<|>>>?)?=[^=]|\.(set|fill|copyWithin)\()/;
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "kvm") await walk(path);
      else if (
        e.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts") &&
        !path.endsWith("/guest_memory.ts") && write.test(await Deno.readTextFile(path))
      ) offenders.push(path);
    }
  };
  await walk(new URL("..", import.meta.url).pathname.replace(/\/$/, ""));
  assert.deepEqual(offenders, []);
});

Deno.test("pages made on first write: untouched memory reads zero, accesses straddling a page keep little-endian order, and the whole buffer shows the same bytes", () => {
  const m = new GuestMemory(0x3000);
  assert.equal(m.read(0x2ff8, 64), 0n);
  assert.equal(m.read(0x1ffe, 32), 0);
  m.write(0x0ffe, 32, 0x11223344);
  assert.equal(m.read(0x0ffe, 32), 0x11223344);
  assert.equal(m.read(0x0ffc, 64), 0x0000_1122_3344_0000n);
  assert.deepEqual([m.byte(0x0ffe), m.byte(0x0fff), m.byte(0x1000), m.byte(0x1001)], [
    0x44,
    0x33,
    0x22,
    0x11,
  ]);
  // Overlapping copy across the page boundary moves like memmove.
  m.copy(0x0fff, 0x0ffe, 4);
  assert.equal(m.read(0x0ffe, 32), 0x22334444);
  assert.deepEqual([...m.slice(0x0ffe, 6)], [0x44, 0x44, 0x33, 0x22, 0x11, 0]);
  m.fill(0x2000, 0x1000, 0);
  m.setBit(0x2fff, 7);
  assert.equal(m.testBit(0x2fff, 7), true);
  const flat = new GuestMemory(0x3000, new Uint8Array(0x3000));
  flat.store(0, m.slice(0, 0x3000));
  assert.deepEqual(m.bytes, flat.bytes);
  // After the buffer is made, writes land in it.
  m.write(0x1800, 16, 0xbeef);
  assert.equal(m.bytes[0x1800], 0xef);
  assert.equal(m.read(0x1800, 16), 0xbeef);
});

Deno.test("GuestMemory.write() of a number cuts it to the access width as of a BigInt, and refuses a non-integer", () => {
  const mem = new GuestMemory(0x2000);
  mem.write(0x10, 8, -1);
  assert.equal(mem.read(0x10, 8), 0xff);
  mem.write(0x20, 16, 0x1_2345);
  assert.equal(mem.read(0x20, 16), 0x2345);
  mem.write(0x30, 32, 2 ** 40 + 7);
  assert.equal(mem.read(0x30, 32), 7);
  mem.write(0x40, 32, -2);
  assert.equal(mem.read(0x40, 32), 0xffff_fffe);
  mem.write(0xffe, 32, 0x1122_3344); // across the first page's end
  assert.equal(mem.read(0xffe, 32), 0x1122_3344);
  assert.throws(() => mem.write(0x50, 32, 1.5), RangeError);
  assert.throws(() => mem.write(0x50, 8, NaN), RangeError);
});
