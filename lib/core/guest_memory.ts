/**
 * Guest physical memory: a flat byte buffer with little-endian accessors and
 * the atomic bit operations that guests and the hypervisor use on shared
 * structures (Linux `sync_set_bit`, `sync_test_and_clear_bit`, `xchg`; Xen
 * `guest_test_and_set_bit`). Every architecture keeps its guest RAM in one:
 * Xen's shared_info, vcpu_info and hypercall page, and the tables a device
 * reads (the ITS's device and collection tables), live there, and scenarios
 * reach it through {@link guestMemoryCommands} and {@link guestMemoryState}.
 *
 * Bit numbering follows x86 `bts`/`btr` on a little-endian bitmap: bit `n`
 * of the bitmap at `addr` is bit `n % 8` of byte `addr + n / 8`, whatever the
 * word size the C code uses. That is why a port's pending bit sits at the same
 * byte for 32-bit and 64-bit guests; only the selector index differs (see
 * {@link ./layout.ts}).
 *
 * The model is single-threaded, so every operation here is trivially atomic;
 * the names say which operation a real guest would need to use.
 *
 * Sources: Intel SDM vol. 2 (BTS, BTR, BT, XCHG: bit offsets into memory
 * operands); Xen `xen/include/public/xen.h` (shared_info is guest memory the
 * guest maps); Linux `arch/x86/include/asm/sync_bitops.h` (the guest side).
 *
 * @module
 */
import { arenaU8 } from "./arena.ts";
import { toInt } from "./values.ts";
import type { CommandSpec, ParamSpec, StateSpec, Val } from "./table.ts";
import { CommandInputError } from "./diagnostic.ts";
import type { StateHash } from "./platform.ts";

/**
 * Width of a plain memory access, in bits.
 *
 * @example
 * ```ts
 * declare const mem: GuestMemory;
 * mem.read(0x808, 8 as AccessWidth);
 * ```
 */
export type AccessWidth = 8 | 16 | 32 | 64;

/** The granule in which guest memory notes what was written. */
const PAGE_BYTES = 4096;
const PAGE_SHIFT = 12;
const PAGE_MASK = PAGE_BYTES - 1;

/**
 * A guest-physical address range that the model refuses to touch: an
 * access outside the buffer. Real hardware would hit MMIO or unbacked space;
 * here it is a scenario error, so it throws.
 *
 * @example
 * ```ts
 * try { new GuestMemory(16).read(16, 8); } catch (e) { e instanceof GuestMemoryError; }
 * ```
 */
export class GuestMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GuestMemoryError";
  }
}

/**
 * Guest RAM: bytes, little-endian words and atomic bit operations.
 *
 * @example
 * ```ts
 * const mem = new GuestMemory(0x10000);
 * mem.write(0x800, 64, 0x4n);          // evtchn_pending[0] = port 2 pending
 * mem.testBit(0x800, 2);               // true
 * mem.testAndClearBit(0x800, 2);       // true, and now clear
 * mem.xchg(0x8, 64, 0n);               // old evtchn_pending_sel, now 0
 * ```
 */
export class GuestMemory {
  /**
   * The whole memory as one buffer, once made: given (a real VM's mapped
   * RAM), or asked for through {@link bytes}. Until then {@link #pages} holds
   * the pages written so far.
   */
  #flat: Uint8Array | null = null;
  #view: DataView | null = null;
  /** The flat memory by 32-bit word, for hashing; null when not 4-byte aligned. */
  #words: Int32Array | null = null;
  /**
   * Before {@link #flat}: each page of {@link PAGE_BYTES} made at its first
   * write (Xen's 2 MiB domains touch a handful); a page never written reads
   * as zeros. With its DataView and word view, so accesses allocate nothing.
   */
  #pages: (Uint8Array | undefined)[] | null = null;
  #pageViews: (DataView | undefined)[] = [];
  #pageWords: (Int32Array | undefined)[] = [];
  /** Per page of {@link PAGE_BYTES}: written since creation (all, for memory given). */
  readonly #written: Uint8Array;

  /**
   * `size` bytes of zeroed memory starting at guest-physical address 0, or
   * the first `size` of `bytes` when given (a real VM's mapped RAM).
   */
  constructor(readonly size: number, bytes?: Uint8Array) {
    this.#written = arenaU8(Math.ceil(size / PAGE_BYTES));
    if (bytes === undefined) {
      this.#pages = [];
      return;
    }
    // Memory not made here may hold anything, written by anyone.
    this.#written.fill(1);
    this.#flatten(bytes);
  }

  /**
   * The memory as one buffer. Read it freely; write it only through the
   * methods below, which note the pages written (a test scans the sources
   * for other writes): `scn explore` hashes those pages alone. The first
   * use makes the whole buffer; hot readers use {@link byte} instead.
   */
  get bytes(): Uint8Array {
    if (this.#flat === null) {
      const flat = new Uint8Array(this.size), pages = this.#pages!;
      for (let p = 0; p < pages.length; p++) {
        const page = pages[p];
        if (page !== undefined) flat.set(page, p * PAGE_BYTES);
      }
      this.#flatten(flat);
    }
    return this.#flat!;
  }

  #flatten(bytes: Uint8Array): void {
    this.#flat = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, this.size);
    this.#words = bytes.byteOffset % 4 === 0
      ? new Int32Array(bytes.buffer, bytes.byteOffset, this.size >>> 2)
      : null;
    this.#pages = null;
    this.#pageViews = [];
    this.#pageWords = [];
  }

  /**
   * The byte at `addr` (0 outside the memory), without making the whole
   * buffer: what a vCPU's check of evtchn_upcall_pending at every
   * instruction boundary reads.
   *
   * @example
   * ```ts
   * new GuestMemory(0x1000).byte(0x40); // 0
   * ```
   */
  byte(addr: number): number {
    const flat = this.#flat;
    if (flat !== null) return addr < this.size ? flat[addr] ?? 0 : 0;
    const page = this.#pages![addr >>> PAGE_SHIFT];
    return page === undefined ? 0 : page[addr & PAGE_MASK] ?? 0;
  }

  /** The page holding `addr`, made (zeroed) if it was never written. */
  #page(addr: number): Uint8Array {
    const pages = this.#pages!, p = addr >>> PAGE_SHIFT;
    let page = pages[p];
    if (page === undefined) {
      const start = p * PAGE_BYTES;
      // A view of an arena slab: a buffer of its own costs about 1 µs.
      page = arenaU8(Math.min(PAGE_BYTES, this.size - start));
      while (pages.length < p) pages.push(undefined);
      pages[p] = page;
      this.#pageViews[p] = new DataView(page.buffer, page.byteOffset, page.length);
      this.#pageWords[p] = new Int32Array(page.buffer, page.byteOffset, page.length >>> 2);
    }
    return page;
  }

  /**
   * Feeds `h` the size and the pages ever written, for `scn explore`
   * (`HashesFields`): the others are still zero. A word at a time, the
   * words that are not zero with their index.
   */
  hashFields(h: StateHash): void {
    h.n(this.size);
    const written = this.#written, perPage = PAGE_BYTES >>> 2;
    if (this.#flat !== null) {
      const words = this.#words;
      if (words === null) {
        h.value(this.#flat);
        return;
      }
      for (let p = 0; p < written.length; p++) {
        if (written[p] === 0) continue;
        const end = Math.min(words.length, (p + 1) * perPage);
        for (let i = p * perPage; i < end; i++) if (words[i] !== 0) (h.n(i), h.n(words[i]));
      }
    } else {
      // A page written but never made (filled with zeros) is all zero.
      const pageWords = this.#pageWords;
      for (let p = 0; p < pageWords.length; p++) {
        const words = pageWords[p];
        if (words === undefined) continue;
        const base = p * perPage;
        for (let k = 0; k < words.length; k++) if (words[k] !== 0) (h.n(base + k), h.n(words[k]));
      }
    }
    for (let b = (this.size >>> 2) * 4; b < this.size; b++) h.n(this.byte(b));
  }

  /** Notes `[addr, addr + length)` as written (already checked to be inside). */
  #wrote(addr: number, length: number): void {
    if (length <= 0) return;
    const last = ((addr + length - 1) / PAGE_BYTES) | 0;
    for (let p = (addr / PAGE_BYTES) | 0; p <= last; p++) this.#written[p] = 1;
  }

  /** Whether `[addr, addr + length)` lies inside the buffer. */
  contains(addr: number, length: number): boolean {
    return Number.isInteger(addr) && addr >= 0 && length >= 0 && addr + length <= this.size;
  }

  #check(addr: number, length: number): void {
    if (!this.contains(addr, length)) {
      throw new GuestMemoryError(
        `guest access at 0x${addr.toString(16)} (+${length}) is outside the ${this.size}-byte RAM`,
      );
    }
  }

  /**
   * A little-endian load. 64-bit loads return a bigint; narrower ones a number.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.read(0xc00, 32); // wc_version of a 64-bit shared_info at 0
   * ```
   */
  read(addr: number, width: AccessWidth): number | bigint {
    const n = width / 8;
    this.#check(addr, n);
    let v = this.#view, at = addr;
    if (v === null) {
      const off = addr & PAGE_MASK;
      if (off + n > PAGE_BYTES) return this.#readBytes(addr, width);
      const pv = this.#pageViews[addr >>> PAGE_SHIFT];
      if (pv === undefined) return width === 64 ? 0n : 0;
      v = pv, at = off;
    }
    switch (width) {
      case 8:
        return v.getUint8(at);
      case 16:
        return v.getUint16(at, true);
      case 32:
        return v.getUint32(at, true);
      case 64:
        return v.getBigUint64(at, true);
    }
  }

  /** A load that straddles two pages, a byte at a time. */
  #readBytes(addr: number, width: AccessWidth): number | bigint {
    let r = 0n;
    for (let k = width / 8 - 1; k >= 0; k--) r = (r << 8n) | BigInt(this.byte(addr + k));
    return width === 64 ? r : Number(r);
  }

  /**
   * A little-endian load as a bigint, whatever the width.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.readBig(0x8, 32); // a compat evtchn_pending_sel
   * ```
   */
  readBig(addr: number, width: AccessWidth): bigint {
    const r = this.read(addr, width);
    return typeof r === "bigint" ? r : BigInt(r);
  }

  /**
   * A little-endian store; the value is truncated to the width.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.write(0x0, 8, 1); // evtchn_upcall_pending of vcpu_info[0] = 1
   * ```
   */
  write(addr: number, width: AccessWidth, value: number | bigint): void {
    const n = width / 8;
    this.#check(addr, n);
    this.#wrote(addr, n);
    // An integer number up to 32 bits wide needs no BigInt: DataView's setters store it modulo
    // 2^width, exactly as BigInt.asUintN would cut it (and the rest throw where BigInt() does).
    const narrow = width !== 64 && typeof value === "number" && Number.isInteger(value);
    const big = narrow
      ? 0n
      : BigInt.asUintN(width, typeof value === "bigint" ? value : BigInt(value));
    let v = this.#view, at = addr;
    if (v === null) {
      const off = addr & PAGE_MASK;
      if (off + n > PAGE_BYTES) {
        // Straddles two pages: a byte at a time, little-endian.
        const b = narrow ? BigInt.asUintN(width, BigInt(value)) : big;
        for (let k = 0; k < n; k++) {
          const a = addr + k;
          this.#page(a)[a & PAGE_MASK] = Number((b >> BigInt(8 * k)) & 0xffn);
        }
        return;
      }
      this.#page(addr);
      v = this.#pageViews[addr >>> PAGE_SHIFT]!, at = off;
    }
    switch (width) {
      case 8:
        v.setUint8(at, narrow ? value as number : Number(big));
        return;
      case 16:
        v.setUint16(at, narrow ? value as number : Number(big), true);
        return;
      case 32:
        v.setUint32(at, narrow ? value as number : Number(big), true);
        return;
      case 64:
        v.setBigUint64(at, big, true);
        return;
    }
  }

  /**
   * Atomic exchange (`xchg`): stores `value`, returns the old contents.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * const sel = mem.xchg(0x8, 64, 0n); // what Linux's 2L upcall handler does
   * ```
   */
  xchg(addr: number, width: AccessWidth, value: number | bigint): bigint {
    const old = this.readBig(addr, width);
    this.write(addr, width, value);
    return old;
  }

  #bitAddr(addr: number, bit: number): number {
    if (!Number.isInteger(bit) || bit < 0) {
      throw new GuestMemoryError(`bit number ${bit} is not a non-negative integer`);
    }
    const byte = addr + (bit >>> 3);
    this.#check(byte, 1);
    return byte;
  }

  /**
   * `bt`: whether bit `bit` of the bitmap at `addr` is set.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.testBit(0xa00, 66); // evtchn_mask bit of port 66 (64-bit layout)
   * ```
   */
  testBit(addr: number, bit: number): boolean {
    return (this.byte(this.#bitAddr(addr, bit)) & (1 << (bit & 7))) !== 0;
  }

  /** Sets (`set`) or clears the bit mask `m` of byte `b`; returns whether it was set. */
  #updateBit(b: number, m: number, set: boolean): boolean {
    this.#wrote(b, 1);
    let bytes = this.#flat, at = b;
    if (bytes === null) bytes = this.#page(b), at = b & PAGE_MASK;
    const old = (bytes[at] & m) !== 0;
    if (set) bytes[at] |= m;
    else bytes[at] &= ~m;
    return old;
  }

  /**
   * `lock bts`: sets the bit; returns whether it was already set.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.testAndSetBit(0x800, 66); // false the first time
   * ```
   */
  testAndSetBit(addr: number, bit: number): boolean {
    return this.#updateBit(this.#bitAddr(addr, bit), 1 << (bit & 7), true);
  }

  /**
   * `lock btr`: clears the bit; returns whether it was set.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.testAndClearBit(0x800, 66);
   * ```
   */
  testAndClearBit(addr: number, bit: number): boolean {
    return this.#updateBit(this.#bitAddr(addr, bit), 1 << (bit & 7), false);
  }

  /**
   * `lock bts` without using the result (`sync_set_bit`).
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.setBit(0xa00, 7); // mask port 7
   * ```
   */
  setBit(addr: number, bit: number): void {
    this.testAndSetBit(addr, bit);
  }

  /**
   * `lock btr` without using the result (`sync_clear_bit`).
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.clearBit(0xa00, 7); // unmask port 7 locally
   * ```
   */
  clearBit(addr: number, bit: number): void {
    this.testAndClearBit(addr, bit);
  }

  /**
   * A copy of `length` bytes at `addr` (zeros where never written), without
   * making the whole buffer.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.slice(0x40, 64); // a vcpu_info, to move it
   * ```
   */
  slice(addr: number, length: number): Uint8Array {
    this.#check(addr, length);
    if (this.#flat !== null) return this.#flat.slice(addr, addr + length);
    const out = new Uint8Array(length), pages = this.#pages!;
    for (let done = 0; done < length;) {
      const a = addr + done, off = a & PAGE_MASK;
      const chunk = Math.min(length - done, PAGE_BYTES - off);
      const page = pages[a >>> PAGE_SHIFT];
      if (page !== undefined) out.set(page.subarray(off, off + chunk), done);
      done += chunk;
    }
    return out;
  }

  /**
   * Copies `length` bytes inside guest memory (what VCPUOP_register_vcpu_info
   * does with the old vcpu_info).
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.copy(0x20000, 0x40, 64); // vcpu_info[1] to a new home
   * ```
   */
  copy(dst: number, src: number, length: number): void {
    this.#check(src, length);
    this.#check(dst, length);
    if (this.#flat !== null) {
      this.#wrote(dst, length);
      this.#flat.copyWithin(dst, src, src + length);
      return;
    }
    // Through a copy, so overlapping ranges move as memmove would.
    this.store(dst, this.slice(src, length));
  }

  /**
   * Stores `data` at `addr` (a vcpu_info copied in from another memory).
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory, old: GuestMemory;
   * mem.store(0x20000, old.slice(0x40, 64));
   * ```
   */
  store(addr: number, data: Uint8Array): void {
    this.#check(addr, data.length);
    this.#wrote(addr, data.length);
    if (this.#flat !== null) {
      this.#flat.set(data, addr);
      return;
    }
    for (let done = 0; done < data.length;) {
      const a = addr + done, off = a & PAGE_MASK;
      const chunk = Math.min(data.length - done, PAGE_BYTES - off);
      this.#page(a).set(data.subarray(done, done + chunk), off);
      done += chunk;
    }
  }

  /**
   * Sets `length` bytes to `value`.
   *
   * @example
   * ```ts
   * declare const mem: GuestMemory;
   * mem.fill(0x20000, 64, 0); // zero a vcpu_info
   * ```
   */
  fill(addr: number, length: number, value: number): void {
    this.#check(addr, length);
    this.#wrote(addr, length);
    if (this.#flat !== null) {
      this.#flat.fill(value, addr, addr + length);
      return;
    }
    const pages = this.#pages!;
    for (let done = 0; done < length;) {
      const a = addr + done, off = a & PAGE_MASK;
      const chunk = Math.min(length - done, PAGE_BYTES - off);
      // Zeros on a page never made are already there.
      if ((value & 0xff) !== 0 || pages[a >>> PAGE_SHIFT] !== undefined) {
        this.#page(a).fill(value, off, off + chunk);
      }
      done += chunk;
    }
  }
}

/** The access sizes scenarios name, by their width in bits. */
export const ACCESS_SIZES: Readonly<Record<string, AccessWidth>> = {
  u8: 8,
  u16: 16,
  u32: 32,
  u64: 64,
};

const ADDRESS: ParamSpec = {
  name: "addr",
  type: { kind: "int", min: 0, max: Number.MAX_SAFE_INTEGER, what: "a guest-physical address" },
  doc: "the guest-physical address",
  positional: true,
};

const SIZE: ParamSpec = {
  name: "size",
  type: { kind: "enum", values: Object.keys(ACCESS_SIZES) },
  doc: "the access: u8, u16, u32 or u64 (little-endian)",
  positional: true,
};

/** A value as the tables carry it: a number, or a bigint past 2^53. */
function toVal(v: number | bigint): Val {
  return typeof v === "bigint" ? toInt(v) : v;
}

/** The access as a scenario error when it leaves RAM, not as a model bug. */
function mustFit(mem: GuestMemory, addr: number, width: AccessWidth): void {
  if (!mem.contains(addr, width / 8)) outsideRam(mem, addr, width);
}

/** {@link mustFit}'s error, apart so that the check stays small enough to inline. */
function outsideRam(mem: GuestMemory, addr: number, width: AccessWidth): never {
  throw new CommandInputError(
    `a u${width} access at 0x${addr.toString(16)} is outside guest RAM ` +
      `(0x0..0x${(mem.size - 1).toString(16)})`,
  );
}

/**
 * `mem read` and `mem write` for the guest (`vcpuN:`, a load or store that
 * stays in the guest) and the VMM (`vmm:`, through its mapping of guest
 * RAM): the same bytes either way. `memoryOf` gives a VM's RAM; `touches`
 * is the footprint both declare for `scn explore`.
 *
 * @example
 * ```ts
 * const cmds = guestMemoryCommands<{ mem: GuestMemory }>((vm) => vm.mem);
 * cmds.map((c) => `${c.actor}: ${c.name}`); // ["vcpu: mem read", "vcpu: mem write", ...]
 * ```
 */
export function guestMemoryCommands<M>(
  memoryOf: (vm: M) => GuestMemory,
  touches: readonly string[] = [GUEST_MEMORY],
): CommandSpec<M>[] {
  const value: ParamSpec = {
    name: "value",
    type: { kind: "u64" },
    doc: "the value stored (truncated to the access size)",
    positional: true,
  };
  const actors = [
    ["vcpu", "a guest load from", "a guest store to", "(a MOV that stays in the guest)"],
    [
      "vmm",
      "the VMM reads",
      "the VMM writes",
      "(through its mapping, KVM_SET_USER_MEMORY_REGION: the same pages)",
    ],
  ] as const;
  return actors.flatMap(([actor, load, store, how]): CommandSpec<M>[] => [
    {
      actor,
      name: "mem read",
      doc: `${load} guest-physical memory ${how}: mem read 0x1000 u32 -> $v`,
      params: [ADDRESS, SIZE],
      returns: "the little-endian value read",
      touches,
      run: (vm, _cpu, a) => {
        const mem = memoryOf(vm);
        const addr = a.addr as number, w = ACCESS_SIZES[a.size as string];
        mustFit(mem, addr, w);
        return toVal(mem.read(addr, w));
      },
    },
    {
      actor,
      name: "mem write",
      doc: `${store} guest-physical memory, little-endian ${how}: mem write 0x1000 u32 0x1`,
      params: [ADDRESS, SIZE, value],
      touches,
      run: (vm, _cpu, a) => {
        const mem = memoryOf(vm);
        const addr = a.addr as number, w = ACCESS_SIZES[a.size as string];
        mustFit(mem, addr, w);
        mem.write(addr, w, a.value as bigint);
      },
    },
  ]);
}

/** The footprint name of guest RAM, for `scn explore`. */
export const GUEST_MEMORY = "memory";

/**
 * The state paths `mem.u8[addr]`, `mem.u16[addr]`, `mem.u32[addr]` and
 * `mem.u64[addr]`: guest-physical memory read little-endian, as a VMM
 * inspecting it would (`expect mem.u32[0xc00] == 2`).
 *
 * @example
 * ```ts
 * guestMemoryState<{ mem: GuestMemory }>((vm) => vm.mem).map((s) => s.pattern);
 * // ["mem.u8[#]", "mem.u16[#]", "mem.u32[#]", "mem.u64[#]"]
 * ```
 */
export function guestMemoryState<M>(
  memoryOf: (vm: M) => GuestMemory,
  sizeOf: (vm: M) => number = (vm) => memoryOf(vm).size,
): StateSpec<M>[] {
  return Object.entries(ACCESS_SIZES).map(([name, w]): StateSpec<M> => ({
    pattern: `mem.${name}[#]`,
    type: w === 64 ? { kind: "u64" } : { kind: "int", min: 0, max: 2 ** w - 1 },
    doc: `the ${w}-bit little-endian value at a guest-physical address`,
    // Every address a whole access fits at.
    bounds: (vm) => [Math.max(0, sizeOf(vm) - w / 8 + 1)],
    get: (vm, [addr]) => toVal(memoryOf(vm).read(addr, w)),
  }));
}
