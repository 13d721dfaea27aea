/**
 * The few libc functions the KVM backend needs, bound with Deno FFI:
 * `open`, `close`, `ioctl` (twice: with a buffer argument and with an
 * integer argument, since FFI signatures are fixed), `mmap`, `munmap` and
 * `__errno_location` for the errno of a failed call.
 *
 * The library is opened on first use, so importing this module needs no
 * permission; failures become {@link KvmUnavailable} (no FFI permission, no
 * libc) or {@link KvmIoctlError} (a call that returned -1), never a bare
 * stack trace.
 *
 * @module
 */

/**
 * Why the KVM backend cannot run at all: `ffi` (no --allow-ffi), `libc`, `no-kvm`.
 *
 * @example
 * ```ts
 * throw new KvmUnavailable("no-kvm", "/dev/kvm does not exist");
 * ```
 */
export class KvmUnavailable extends Error {
  /**
   * @example
   * ```ts
   * new KvmUnavailable("no-kvm", "/dev/kvm does not exist");
   * ```
   */
  constructor(readonly reason: "ffi" | "libc" | "no-kvm", message: string) {
    super(message);
    this.name = "KvmUnavailable";
  }
}

/**
 * A libc call that failed, with the errno it left.
 *
 * @example
 * ```ts
 * throw new KvmIoctlError("KVM_RUN", 4);
 * ```
 */
export class KvmIoctlError extends Error {
  /**
   * @example
   * ```ts
   * new KvmIoctlError("KVM_RUN", 4); // EINTR
   * ```
   */
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: ${errnoName(errno)} (errno ${errno})`);
    this.name = "KvmIoctlError";
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  22: "EINVAL",
  25: "ENOTTY",
  95: "EOPNOTSUPP",
};

/**
 * The symbolic name of an errno value, or `errno N`.
 *
 * @example
 * ```ts
 * errnoName(22); // "EINVAL"
 * ```
 */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  ioctl_ptr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  ioctl_u64: { name: "ioctl", parameters: ["i32", "u64", "u64"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

let lib: Lib | undefined;

/**
 * open(2) flags and mmap(2) constants (Linux x86_64).
 *
 * @example
 * ```ts
 * O_RDWR | O_CLOEXEC;
 * ```
 */
export const O_RDWR = 2, O_CLOEXEC = 0o2000000;
const PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

/**
 * Whether Deno grants FFI to this process (`--allow-ffi`).
 *
 * @example
 * ```ts
 * if (!ffiPermitted()) console.log("run with --allow-ffi");
 * ```
 */
export function ffiPermitted(): boolean {
  return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
}

function libc(): Lib {
  if (lib) return lib;
  if (!ffiPermitted()) {
    throw new KvmUnavailable("ffi", "the KVM backend needs FFI permission (--allow-ffi)");
  }
  try {
    lib = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw new KvmUnavailable("ffi", "the KVM backend needs FFI permission (--allow-ffi)");
    }
    throw new KvmUnavailable("libc", `cannot load libc.so.6: ${(e as Error).message}`);
  }
  return lib;
}

function errno(): number {
  const p = libc().symbols.__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/**
 * open(2); throws {@link KvmUnavailable} `no-kvm` for a missing or
 * inaccessible device, {@link KvmIoctlError} otherwise.
 *
 * @example
 * ```ts
 * const fd = openDevice("/dev/kvm");
 * ```
 */
export function openDevice(path: string): number {
  const name = new TextEncoder().encode(path + "\0");
  const fd = libc().symbols.open(name, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const e = errno();
    if (e === 2 || e === 13 || e === 1 || e === 6 || e === 19) {
      throw new KvmUnavailable("no-kvm", `cannot open ${path}: ${errnoName(e)}`);
    }
    throw new KvmIoctlError(`open(${path})`, e);
  }
  return fd;
}

/**
 * close(2); errors are ignored (the fd is gone either way).
 *
 * @example
 * ```ts
 * closeFd(openDevice("/dev/kvm"));
 * ```
 */
export function closeFd(fd: number): void {
  libc().symbols.close(fd);
}

/**
 * ioctl(2) with a structure argument; returns its non-negative result or
 * throws {@link KvmIoctlError} named `name`.
 *
 * @example
 * ```ts
 * import { KVM, type Struct } from "./abi.ts";
 * declare const regs: Struct, vcpuFd: number;
 * ioctlPtr(vcpuFd, KVM.GET_REGS, regs.bytes, "KVM_GET_REGS");
 * ```
 */
export function ioctlPtr(fd: number, request: number, arg: Uint8Array, name: string): number {
  const r = libc().symbols.ioctl_ptr(fd, BigInt(request), arg);
  if (r < 0) throw new KvmIoctlError(name, errno());
  return r;
}

/**
 * ioctl(2) with an integer argument (or none: pass 0).
 *
 * @example
 * ```ts
 * import { KVM } from "./abi.ts";
 * declare const kvmFd: number;
 * ioctlInt(kvmFd, KVM.GET_API_VERSION, 0, "KVM_GET_API_VERSION"); // 12
 * ```
 */
export function ioctlInt(fd: number, request: number, arg: number | bigint, name: string): number {
  const r = libc().symbols.ioctl_u64(fd, BigInt(request), BigInt(arg));
  if (r < 0) throw new KvmIoctlError(name, errno());
  return r;
}

/**
 * ioctl(2) that may fail with an errno the caller wants as a value
 * (KVM_SIGNAL_MSI, KVM_INTERRUPT): returns the result or `-errno`.
 *
 * @example
 * ```ts
 * import { KVM, type Struct } from "./abi.ts";
 * declare const irq: Struct, vcpuFd: number;
 * ioctlPtrResult(vcpuFd, KVM.INTERRUPT, irq.bytes); // -6 (ENXIO) with an in-kernel PIC
 * ```
 */
export function ioctlPtrResult(fd: number, request: number, arg: Uint8Array): number {
  const r = libc().symbols.ioctl_ptr(fd, BigInt(request), arg);
  return r < 0 ? -errno() : r;
}

/** eventfd(2) flags: EFD_NONBLOCK | EFD_CLOEXEC. */
const EFD_NONBLOCK = 0o4000, EFD_CLOEXEC = 0o2000000;
const EAGAIN = 11;

/**
 * eventfd(2), non-blocking: a counter KVM_IRQFD listens to or signals.
 *
 * @example
 * ```ts
 * const fd = createEventfd();
 * closeFd(fd);
 * ```
 */
export function createEventfd(): number {
  const fd = libc().symbols.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw new KvmIoctlError("eventfd", errno());
  return fd;
}

/**
 * Adds 1 to an eventfd's counter, as a device signalling it does.
 *
 * @example
 * ```ts
 * declare const fd: number;
 * signalEventfd(fd);
 * ```
 */
export function signalEventfd(fd: number): void {
  const one = new Uint8Array(8);
  one[0] = 1;
  if (libc().symbols.write(fd, one, 8n) !== 8n) throw new KvmIoctlError("write(eventfd)", errno());
}

/**
 * Reads and clears an eventfd's counter: how many signals arrived since the
 * last read (0 when none: the fd is non-blocking).
 *
 * @example
 * ```ts
 * declare const fd: number;
 * drainEventfd(fd); // 0
 * ```
 */
export function drainEventfd(fd: number): number {
  const buf = new Uint8Array(8);
  const r = libc().symbols.read(fd, buf, 8n);
  if (r === 8n) return Number(new DataView(buf.buffer).getBigUint64(0, true));
  const e = errno();
  if (e === EAGAIN) return 0;
  throw new KvmIoctlError("read(eventfd)", e);
}

/**
 * ioctl(2) with an integer argument whose errno the caller wants as a
 * value (KVM_CREATE_IRQCHIP asked twice): the result or `-errno`.
 *
 * @example
 * ```ts
 * import { KVM } from "./abi.ts";
 * declare const vmFd: number;
 * ioctlIntResult(vmFd, KVM.CREATE_IRQCHIP, 0); // -17 (EEXIST) the second time
 * ```
 */
export function ioctlIntResult(fd: number, request: number, arg: number | bigint): number {
  const r = libc().symbols.ioctl_u64(fd, BigInt(request), BigInt(arg));
  return r < 0 ? -errno() : r;
}

/**
 * A mapping made by {@link mapShared} or {@link mapAnonymous}.
 *
 * @example
 * ```ts
 * const m: Mapping = mapAnonymous(4096, "scratch");
 * ```
 */
export interface Mapping {
  /** Where it is, for munmap and for KVM (`userspace_addr`). */
  pointer: Deno.PointerObject;
  /** Its address as a number. */
  address: bigint;
  /** Its bytes, readable and writable from JavaScript. */
  bytes: Uint8Array<ArrayBuffer>;
  length: number;
}

function mapped(p: Deno.PointerValue, length: number, what: string): Mapping {
  const address = p === null ? 0n : BigInt(Deno.UnsafePointer.value(p));
  // mmap returns MAP_FAILED, (void *)-1, on error.
  if (p === null || address === 0xffff_ffff_ffff_ffffn) {
    throw new KvmIoctlError(what, errno());
  }
  const buffer = Deno.UnsafePointerView.getArrayBuffer(p, length);
  return { pointer: p, address, bytes: new Uint8Array(buffer), length };
}

/**
 * mmap(2) of a file descriptor, shared, read-write (a vCPU's kvm_run).
 *
 * @example
 * ```ts
 * declare const mmapSize: number, vcpuFd: number;
 * const run = mapShared(vcpuFd, mmapSize, "mmap(kvm_run)");
 * ```
 */
export function mapShared(fd: number, length: number, what: string): Mapping {
  const p = libc().symbols.mmap(null, BigInt(length), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
  return mapped(p, length, what);
}

/**
 * Anonymous private read-write memory (guest RAM), zeroed.
 *
 * @example
 * ```ts
 * const ram = mapAnonymous(0x100000, "guest memory");
 * ```
 */
export function mapAnonymous(length: number, what: string): Mapping {
  const p = libc().symbols.mmap(
    null,
    BigInt(length),
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS,
    -1,
    0n,
  );
  return mapped(p, length, what);
}

/**
 * munmap(2).
 *
 * @example
 * ```ts
 * unmap(mapAnonymous(4096, "scratch"));
 * ```
 */
export function unmap(m: Mapping): void {
  libc().symbols.munmap(m.pointer, BigInt(m.length));
}

/**
 * Closes the library handle (tests run with the resource sanitizer; the
 * next call opens it again).
 *
 * @example
 * ```ts
 * closeLibc();
 * ```
 */
export function closeLibc(): void {
  lib?.close();
  lib = undefined;
}
