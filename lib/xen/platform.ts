/**
 * The Xen part of the language: commands for guest hypercalls (`xen ...`,
 * `evtchn ...`), guest bit operations on shared_info and vcpu_info, the
 * hypervisor actor (`xen: send $p`), the VMM's KVM Xen ioctls, and the
 * readable state paths. It is generic over the VM type so that an
 * architecture platform (`lib/x86/platform.ts`) can merge these tables for
 * VMs built with `hypervisor xen` or `hypervisor kvm-xen`.
 *
 * Every offset comes from {@link ./layout.ts}; every rule from the model
 * modules. This file only binds names to them.
 *
 * @module
 */
import type {
  Args,
  CommandSpec,
  ParamSpec,
  RegisterFile,
  RegisterSpec,
  StateSpec,
  Val,
} from "../core/table.ts";
import { stepwise } from "../core/table.ts";
import type { XenDomain } from "./domain.ts";
import type { KvmXen, KvmXenVcpuAttr } from "./kvm_xen.ts";
import type { ChannelStatus } from "./evtchn.ts";
import {
  DOMID_SELF,
  EVTCHNSTAT,
  FIFO,
  KVM_XEN_EVTCHN,
  KVM_XEN_INVALID,
  KVM_XEN_PRIO_2LEVEL,
  NR_VIRQS,
  RAISE_STEPS,
  RUNSTATE_COPY_STEPS,
  VIRQ,
  VMM_COPY_STEPS,
} from "./abi.ts";
import {
  CALLBACKF_MASK_EVENTS,
  CALLBACKOP,
  CALLBACKTYPE,
  EVTCHNOP,
  type Gpr,
  GPRS,
  HVMOP,
  HYPERCALL,
  REG32,
  SCHEDOP,
  toU64,
  VCPUOP,
  type XenExit,
} from "./hypercall.ts";
import { namedHypercall, rawHypercall } from "./hypercall_path.ts";
import type { EvtchnIntercept } from "./kvm_xen.ts";
import {
  defaultVcpuInfoOffset,
  LAYOUT_64,
  XEN_LEGACY_MAX_VCPUS,
  XEN_PAGE_SIZE,
  type XenField,
  type XenLayout,
} from "./layout.ts";
import { XEN_ERRNO } from "./errno.ts";
import type { AccessWidth } from "../core/guest_memory.ts";
import { CommandInputError } from "../core/diagnostic.ts";

/** The Xen model attached to a VM. */
export interface XenMachine {
  domain: XenDomain;
  kvm: KvmXen;
}

/**
 * A VM as the Xen commands and state paths reach it: its Xen model, or
 * undefined for `hypervisor kvm`. Both platforms' VMs are one.
 *
 * @example
 * ```ts
 * const vm: XenVm = { xen: undefined };
 * ```
 */
export interface XenVm {
  readonly xen: XenMachine | undefined;
}

/**
 * How the platform finds a VM's Xen model (undefined for `hypervisor kvm`).
 *
 * @example
 * ```ts
 * import { X86Vm } from "../x86/vm.ts";
 * const xenOf: XenOf<X86Vm> = (vm) => vm.xen;
 * ```
 */
export type XenOf<M> = (vm: M) => XenMachine | undefined;

/**
 * A command used on a VM without a Xen domain: a scenario error worth a
 * clear message.
 *
 * @example
 * ```ts
 * throw new NoXenError("evtchn send");
 * ```
 */
export class NoXenError extends CommandInputError {
  constructor(command: string) {
    super(`'${command}' needs 'hypervisor xen' or 'hypervisor kvm-xen' in the vm block`);
    this.name = "NoXenError";
  }
}

const PORT = { kind: "int", min: 0, max: 0xffff_ffff, what: "a port" } as const;
/**
 * A vCPU number passed to a hypercall: any value reaches the hypervisor,
 * which answers -ENOENT (or -EINVAL) for one the domain does not have.
 */
const VCPU_SELF = {
  kind: "int",
  min: -1,
  max: 0xffff,
  what: "a vCPU (-1: the caller)",
  decimal: true,
} as const;
/** One of the VM's own vCPUs (the model acts on it: the checker bounds it by the vCPU count). */
const VCPU = {
  kind: "int",
  min: 0,
  max: 0xffff,
  what: "a vCPU",
  vcpu: true,
  decimal: true,
} as const;
/**
 * A KVM vcpu_id in an ioctl argument: KVM looks it up when it delivers and
 * fails then (-EINVAL), so any value is accepted here.
 */
const KVM_VCPU_ID = {
  kind: "int",
  min: 0,
  max: 0xffff,
  what: "a KVM vcpu_id",
  decimal: true,
} as const;
/** KVM_XEN_HVM_SET_ATTR / GET_ATTR types the model has (KVM_XEN_ATTR_TYPE_*). */
const KVM_XEN_HVM_ATTRS = [
  "long_mode",
  "shared_info",
  "upcall_vector",
  "xen_version",
  "runstate_update_flag",
] as const;
/** Eventfds the model counts signals on (fds 0..63). */
const EVENTFDS = 64;
const VECTOR = { kind: "int", min: 0, max: 255, what: "a vector" } as const;
const U32 = { kind: "int", min: 0, max: 0xffff_ffff, what: "a 32-bit value" } as const;
const DOM = { kind: "int", min: 0, max: 0xffff, what: "a domid (DOMID_SELF = 0x7ff0)" } as const;

function toRegister(f: XenField, prefix: string): RegisterSpec {
  const bitmap = f.kind === "bitmap";
  const sel = f.name === "evtchn_pending_sel";
  return {
    name: f.name,
    title: `${prefix}.${f.name}`,
    width: f.size === 8 || bitmap ? 64 : 32,
    fields: [],
    count: bitmap ? f.bits : sel ? 64 : undefined,
    // Bit operations take a bit; load, store and xchg may name the whole word.
    indexOptional: bitmap || sel,
    doc: f.doc,
  };
}

/**
 * Guest structures as register files for `bit`, `load`, `store` and `xchg`:
 * `shared.<field>` (shared_info) and `vcpu#.info.<field>` (that vCPU's
 * vcpu_info wherever it is now). Indexed names are bitmaps: the index is a
 * bit (a port, or a selector bit).
 *
 * @example
 * ```ts
 * XEN_STRUCT_FILES[0].prefix; // "shared"
 * ```
 */
export const XEN_STRUCT_FILES: readonly RegisterFile[] = [
  {
    prefix: "shared",
    registers: LAYOUT_64.sharedInfo.filter((f) => f.kind !== "bytes").map((f) =>
      toRegister(f, "shared_info")
    ),
  },
  {
    prefix: "vcpu#.info",
    registers: LAYOUT_64.vcpuInfo.map((f) => toRegister(f, "vcpu_info")),
  },
];

const STRUCT: ParamSpec = {
  name: "path",
  type: { kind: "register", files: XEN_STRUCT_FILES },
  doc: "shared.<field>[bit] or vcpuN.info.<field>",
};

/** Where a structure access lands: memory, address, width, bit. */
interface Place {
  mem: XenDomain["mem"];
  /** Start of the field: bit operations count bits from here. */
  addr: number;
  /** The word that load, store and xchg access (a bitmap's word holding the bit). */
  wordAddr: number;
  width: AccessWidth;
  /** The bit for indexed (bitmap) names, or -1. */
  bit: number;
}

/**
 * A register access on a file whose prefix holds a `vcpu#` slot: the
 * checker records the vCPU number it matched as `fileIndex`.
 */
type StructAccess = NonNullable<Args["$register"]> & { fileIndex?: number };

/** A 64-bit attribute as the tables carry values: a number up to 2^53, else a bigint. */
function small(v: bigint): Val {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function place(x: XenMachine, args: Args): Place {
  const r: StructAccess = args.$register!;
  const d = x.domain;
  const layout: XenLayout = d.layout();
  const isShared = r.file.prefix === "shared";
  const fields = isShared ? layout.sharedInfo : layout.vcpuInfo;
  const f = fields.find((ff) => ff.name === r.register.name);
  if (!f) {
    throw new CommandInputError(
      `${r.register.name} does not exist in the ${
        layout.arch === "arm" ? "Arm" : `${layout.width}-bit`
      } layout`,
    );
  }
  let base: number;
  let mem = d.mem;
  if (isShared) {
    base = d.sharedInfo();
    if (base < 0) throw new CommandInputError("no shared_info is mapped");
  } else {
    const ref = d.areas.ref(r.fileIndex ?? 0);
    // Xen's dummy vcpu_info (vCPUs >= 32 before registration) is hypervisor memory.
    if (!ref || ref.mem !== d.mem) {
      throw new CommandInputError(`vcpu${r.fileIndex ?? 0} has no vcpu_info the guest can reach`);
    }
    base = ref.addr;
    mem = ref.mem;
  }
  const indexed = r.register.count !== undefined;
  const limit = f.kind === "bitmap" ? f.bits! : f.size * 8;
  if (indexed && r.index >= limit) {
    throw new CommandInputError(`bit ${r.index} is past ${r.register.name} (${limit} bits)`);
  }
  if (f.kind === "bitmap") {
    // Bit n lives in xen_ulong_t word n / W; a whole-word access takes that word.
    const w = layout.wordBytes;
    const word = Math.floor(r.index / (w * 8));
    return {
      mem,
      addr: base + f.offset,
      wordAddr: base + f.offset + word * w,
      width: (w * 8) as AccessWidth,
      bit: r.index,
    };
  }
  const addr = base + f.offset;
  return {
    mem,
    addr,
    wordAddr: addr,
    width: (f.size * 8) as AccessWidth,
    bit: indexed ? r.index : -1,
  };
}

/**
 * The value of `store` / `xchg`: written after the field (`store
 * vcpu0.info.evtchn_upcall_pending 0`, which the checker reads as the
 * access's raw value) or as `value=`; 0 when neither is given.
 */
const VALUE: ParamSpec = {
  name: "value",
  type: { kind: "u64" },
  doc: "the value (or write it right after the field)",
  default: 0n,
};

function valueOf(a: Args): bigint {
  const raw = a.$register?.raw;
  return raw !== undefined ? raw : BigInt(a.value as bigint | number);
}

/** The GPA of `port`'s FIFO event word, for a guest access. */
function fifoWord(d: XenDomain, port: number): number {
  const a = d.evtchn.fifo.wordAddr(port);
  if (a < 0) throw new CommandInputError(`port ${port} has no FIFO event word yet (expand_array)`);
  return a;
}

function need<M>(xenOf: XenOf<M>, vm: M, name: string): XenMachine {
  const x = xenOf(vm);
  if (!x) throw new NoXenError(name);
  return x;
}

/**
 * {@link need} for a KVM vCPU ioctl on vCPU `n`: its vcpu_load requests the
 * runstate update that vCPU's next entry makes (`KvmXen.vcpuIoctl`).
 */
function needVcpu<M>(xenOf: XenOf<M>, vm: M, name: string, n: number): XenMachine {
  const x = need(xenOf, vm, name);
  x.kvm.vcpuIoctl(n);
  return x;
}

const self = (v: Val, caller: number) => (v === -1 ? caller : v as number);

/** What a named hypercall command loads: its number and the arguments it knows. */
interface CallShape {
  input: number;
  /** Argument values by ABI position; the rest keep their registers' values. */
  args?: (x: XenMachine, cpu: number, a: Args) => readonly (bigint | undefined)[];
  /** kvm-xen: KVM's in-kernel handling from CPL 0, or undefined to exit to the VMM. */
  kernel?: (x: XenMachine, cpu: number, a: Args) => number | undefined;
}

/**
 * A guest frame number from a 64-bit argument (`control_gfn`, `array_gfn`
 * are u64 in `event_channel.h`): past 2^53 it stays a number far beyond any
 * guest memory, which is all the model needs to refuse it.
 */
const frame = (v: Val) => Number(v as bigint);

/**
 * The fields of `struct evtchn_status` (xen/include/public/event_channel.h)
 * other than `status`, each read by an `evtchn status_<field>` command: the
 * field, what it holds, and what the command returns.
 */
const STATUS_FIELDS: readonly (readonly [
  Exclude<keyof ChannelStatus, "status">,
  string,
  string,
])[] = [
  ["dom", "the unbound/interdomain `dom` field", "the domid, or -errno"],
  [
    "port",
    "the interdomain `port` field (the remote end's port; 0 for other states)",
    "the remote port, or -errno",
  ],
  ["vcpu", "the `vcpu` field (the vCPU the port notifies, notify_vcpu_id)", "the vCPU, or -errno"],
  [
    "number",
    "the `virq` or `pirq` field of a VIRQ or PIRQ port (0 for other states)",
    "the VIRQ or PIRQ, or -errno",
  ],
];
const evtchnOp = (cmd: number, kernel?: CallShape["kernel"]): CallShape => ({
  input: HYPERCALL.event_channel_op,
  args: () => [BigInt(cmd)],
  kernel,
});
const schedOp = (cmd: number, kernel?: CallShape["kernel"]): CallShape => ({
  input: HYPERCALL.sched_op,
  args: () => [BigInt(cmd)],
  kernel,
});
const hvmOp = (cmd: number): CallShape => ({
  input: HYPERCALL.hvm_op,
  args: () => [BigInt(cmd)],
});
/** vcpu_op(cmd, vcpuid, arg): the target is the second argument. */
const vcpuOp = (cmd: number): CallShape => ({
  input: HYPERCALL.vcpu_op,
  args: (_x, cpu, a) => [BigInt(cmd), toU64(self(a.vcpu, cpu))],
});
/**
 * set_timer_op(deadline): one 64-bit argument, or low and high halves from
 * 32-bit code. On kvm-xen, KVM serves it once the vCPU has a timer port.
 */
const setTimerOp = (deadline: (x: XenMachine, a: Args) => bigint): CallShape => ({
  input: HYPERCALL.set_timer_op,
  args: (x, cpu, a) => {
    const t = toU64(deadline(x, a));
    return x.domain.cpuMode[cpu] === 64 ? [t] : [t & 0xffff_ffffn, t >> 32n];
  },
  kernel: (x, cpu, a) => x.kvm.hcallSetTimerOp(cpu, toU64(deadline(x, a))),
});
/** VCPUOP_{set,stop}_singleshot_timer: KVM serves them once the vCPU has a timer port. */
const singleshotOp = (cmd: number, deadline: (a: Args) => bigint | null): CallShape => ({
  ...vcpuOp(cmd),
  kernel: (x, cpu, a) => x.kvm.hcallSingleshot(cpu, self(a.vcpu, cpu), deadline(a)),
});

/**
 * EVTCHNOP_bind_virq. On kvm-xen QEMU binds it and, for VIRQ_TIMER, hands
 * the port to KVM (`kvm_xen_set_vcpu_virq` -> `kvm_xen_set_vcpu_timer`:
 * KVM_XEN_VCPU_ATTR_TYPE_TIMER with the deadline QEMU's own single-shot
 * timer holds, `xen_singleshot_timer_ns`), so KVM serves that vCPU's timer
 * hypercalls from then on.
 */
function qemuTimerVirq(x: XenMachine, virq: number, vcpu: number): number {
  const port = x.domain.evtchn.bindVirq(virq, vcpu);
  if (port > 0 && virq === VIRQ.timer && x.domain.flavour === "kvm-xen") {
    const qemu = x.domain.timers.vcpus[vcpu];
    const deadline = qemu.singleshot ? BigInt(qemu.singleshotDeadline) : 0n;
    x.kvm.setTimer(vcpu, port, KVM_XEN_PRIO_2LEVEL, deadline);
  }
  return port;
}

/**
 * EVTCHNOP_close. On kvm-xen QEMU's `close_port` gives a VIRQ_TIMER port
 * back (`kvm_xen_set_vcpu_virq(vcpu, VIRQ_TIMER, 0)`): KVM's timer stops and
 * the timer hypercalls exit again; in kernel mode it takes an IPI port back
 * from KVM ({@link KvmXen.qemuIpiClosed}).
 */
function closeQemuTimerVirq(x: XenMachine, port: number): number {
  const ch = x.domain.evtchn.channel(port);
  const qemu = x.domain.flavour === "kvm-xen";
  const timer = qemu && ch?.state === "virq" && ch.virq === VIRQ.timer;
  const ipi = qemu && ch?.state === "ipi";
  const vcpu = ch?.notifyVcpu ?? 0;
  const rc = x.domain.evtchn.close(port);
  if (rc === 0 && timer) x.kvm.setTimer(vcpu, 0, KVM_XEN_PRIO_2LEVEL, 0n);
  if (rc === 0 && ipi) x.kvm.qemuIpiClosed(port);
  return rc;
}

/**
 * EVTCHNOP_reset. On kvm-xen QEMU's soft reset closes every port with
 * `close_port`, so in kernel mode KVM forgets the IPI ports.
 */
function resetQemuPorts(x: XenMachine, dom: number): number {
  const e = x.domain.evtchn;
  const ipis: number[] = [];
  if (x.domain.flavour === "kvm-xen") {
    for (let p = 1; p < e.maxPorts && e.isValid(p); p++) {
      if (e.channel(p)?.state === "ipi") ipis.push(p);
    }
  }
  const rc = e.reset(dom);
  if (rc === 0) { for (const p of ipis) x.kvm.qemuIpiClosed(p); }
  return rc;
}

/** HVM_PARAM_CALLBACK_IRQ; on kvm-xen QEMU decides its kernel mode from it. */
function setCallbackParam(x: XenMachine, cpu: number, value: bigint): number {
  const rc = x.domain.setParam(cpu, 0, value);
  if (rc === 0 && x.domain.flavour === "kvm-xen") x.kvm.qemuCallbackParam(value);
  return rc;
}

/** The `cpl` parameter every hypercall command takes. */
const CPL: ParamSpec = {
  name: "cpl",
  type: { kind: "int", min: 0, max: 3, what: "a privilege level", decimal: true },
  doc: "the caller's CPL: above 0, Xen answers -EPERM; KVM exits to the VMM, which answers -EPERM",
  default: 0,
};

/** The argument registers `xen hypercall` takes, 64-bit names then 32-bit ones. */
const REG_PARAMS: ParamSpec[] = [
  ...(["rdi", "rsi", "rdx", "r10", "r8", "r9"] as const).map((r, i): ParamSpec => ({
    name: r,
    type: { kind: "u64" },
    doc: `argument ${i + 1} of a 64-bit caller (left out: the register keeps its value)`,
    default: -1,
  })),
  ...(["ebx", "ecx", "edx", "esi", "edi", "ebp"] as const).map((r, i): ParamSpec => ({
    name: r,
    type: U32,
    doc: `argument ${i + 1} of a 32-bit caller, the low half of ${
      REG32[r].toUpperCase()
    } (left out: the register keeps its value)`,
    default: -1,
  })),
];

/**
 * The commands, for a VM type `M`.
 *
 * @example
 * ```ts
 * import { X86Vm } from "../x86/vm.ts";
 * const cmds = xenCommands<X86Vm>();
 * cmds.find((c) => c.name === "evtchn bind_ipi")!.returns; // "the port, or -errno"
 * ```
 */
export function xenCommands<M extends XenVm>(): readonly CommandSpec<M>[] {
  return XEN_COMMANDS;
}

// The tables are built once, by top-level code of this module (an arrow called in place, whose
// parentheses survive the TypeScript emit): V8 compiles that with the module, so Deno's code cache
// keeps it. A function called from another module's top level was compiled again in every process
// (xenCommands, some 60 KB of source: about 1.2 ms of each x86 or Arm scenario's run).
const XEN_COMMANDS: readonly CommandSpec<XenVm>[] = ((): CommandSpec<XenVm>[] => {
  type M = XenVm;
  const xenOf: XenOf<M> = (vm) => vm.xen;
  /**
   * A hypercall command: `body` is the call's effect as Xen, or (kvm-xen,
   * after the exit) as the modelled VMM, performs it. Every one takes `cpl=`.
   */
  const hc = (
    name: string,
    doc: string,
    params: ParamSpec[],
    body: (x: XenMachine, cpu: number, a: Args) => number,
    returns: string,
    shape: CallShape,
  ): CommandSpec<M> => ({
    actor: "vcpu",
    name,
    doc,
    params: [...params, CPL],
    returns,
    run: (vm, cpu, a) => {
      const x = need(xenOf, vm, name);
      return namedHypercall(
        x,
        cpu,
        {
          name,
          input: shape.input,
          args: shape.args?.(x, cpu, a) ?? [],
          cpl: (a.cpl as number | undefined) ?? 0,
        },
        () => body(x, cpu, a),
        shape.kernel && (() => shape.kernel!(x, cpu, a)),
      );
    },
  });
  /** A VM exit that is not a hypercall (an MSR write, a model probe). */
  const exiting = (
    name: string,
    doc: string,
    params: ParamSpec[],
    body: (x: XenMachine, cpu: number, a: Args) => number,
  ): CommandSpec<M> => ({
    actor: "vcpu",
    name,
    doc,
    params,
    returns: "0 or -errno",
    run: (vm, cpu, a) => {
      const x = need(xenOf, vm, name);
      return x.domain.hypercall(cpu, name, () => body(x, cpu, a));
    },
  });
  /** KVM handles a guest EVTCHNOP_send on an intercepted port in the kernel. */
  const sendInKernel: CallShape["kernel"] = (x, _c, a) => x.kvm.hcallEvtchnSend(a.port as number);
  const bitOp = (
    op: "set" | "clear" | "test" | "test_and_clear" | "test_and_set",
  ): CommandSpec<M> => ({
    actor: "vcpu",
    name: `bit ${op}`,
    doc: `guest ${
      op === "test" ? "bt" : op === "set" ? "lock bts" : op === "clear" ? "lock btr" : `lock ${op}`
    } on a guest structure (a flag without [n] is bit 0)`,
    params: [STRUCT],
    returns: op === "set" || op === "clear" ? undefined : "the old bit (0 or 1)",
    run: (vm, cpu, a) => {
      const x = need(xenOf, vm, `bit ${op}`);
      const p = place(x, a);
      const bit = Math.max(p.bit, 0);
      const m = p.mem;
      const t = x.domain.trace;
      if (t.enabled && op !== "test") {
        t.emit(`vcpu${cpu}`, "bit", `${op} ${a.$register!.register.title} bit ${bit}`);
      }
      switch (op) {
        case "test":
          return m.testBit(p.addr, bit) ? 1 : 0;
        case "set":
          m.setBit(p.addr, bit);
          return;
        case "clear":
          m.clearBit(p.addr, bit);
          return;
        case "test_and_clear":
          return m.testAndClearBit(p.addr, bit) ? 1 : 0;
        case "test_and_set":
          return m.testAndSetBit(p.addr, bit) ? 1 : 0;
      }
    },
  });
  return [
    bitOp("set"),
    bitOp("clear"),
    bitOp("test"),
    bitOp("test_and_clear"),
    bitOp("test_and_set"),
    {
      actor: "vcpu",
      name: "load",
      doc: "guest load of a whole guest-structure field",
      params: [STRUCT],
      returns: "the value",
      run: (vm, _cpu, a) => {
        const p = place(need(xenOf, vm, "load"), a);
        return p.mem.read(p.wordAddr, p.width);
      },
    },
    {
      actor: "vcpu",
      name: "store",
      doc: "guest store to a whole guest-structure field",
      params: [STRUCT, VALUE],
      run: (vm, cpu, a) => {
        const x = need(xenOf, vm, "store");
        const p = place(x, a);
        const v = valueOf(a);
        p.mem.write(p.wordAddr, p.width, v);
        const t = x.domain.trace;
        if (t.enabled) {
          t.emit(`vcpu${cpu}`, "store", `${a.$register!.register.title} <- 0x${v.toString(16)}`);
        }
      },
    },
    {
      actor: "vcpu",
      name: "xchg",
      doc: "guest xchg on a guest-structure field (as Linux reads evtchn_pending_sel)",
      params: [STRUCT, VALUE],
      returns: "the old value",
      run: (vm, _cpu, a) => {
        const p = place(need(xenOf, vm, "xchg"), a);
        return p.mem.xchg(p.wordAddr, p.width, valueOf(a));
      },
    },
    // ---- a raw hypercall and its exit to the VMM ------------------------------------------
    {
      actor: "vcpu",
      name: "xen hypercall",
      doc: "call hypercall stub `nr` (RAX = nr) with the argument registers given (the rest keep " +
        "their values); a 64-bit caller passes RDI, RSI, RDX, R10, R8, R9, a 32-bit one EBX, ECX, " +
        "EDX, ESI, EDI, EBP (see 'xen cpu_mode'). kvm-xen only: KVM answers xen_version " +
        "(XENVER_version, once the xen_version attribute is set), EVTCHNOP_send on an intercepted " +
        "port and SCHEDOP_poll/yield in the kernel from CPL 0; every other call, and every call " +
        "from CPL > 0, exits to the VMM (vcpuN.exit.*) and waits for 'vmm: kvm xen_hcall_result'. " +
        "Under hypervisor xen, Xen handles every hypercall itself and nothing exits to a VMM: " +
        "use the named commands there",
      params: [
        {
          name: "nr",
          type: {
            kind: "int",
            min: 0,
            max: 0xffff_ffff,
            what: "a hypercall number",
            decimal: true,
          },
          doc: "the hypercall number (__HYPERVISOR_*), loaded into RAX",
          positional: true,
        },
        ...REG_PARAMS,
        CPL,
        {
          name: "page",
          type: { kind: "int", min: -1, max: 0xffff_ffff, what: "a guest-physical address or -1" },
          doc: "a call through stub nr of the hypercall page at this address: it must be mov " +
            "$imm32, %eax then the host's hypercall instruction (host_cpu: VMCALL 0f 01 c1 on " +
            "intel, VMMCALL 0f 01 d9 on amd), and RAX is its imm32 (-1: the guest loads RAX " +
            "and executes the instruction itself)",
          default: -1,
        },
      ],
      returns:
        "RAX afterwards, read signed: the result, or still nr while the call waits for the VMM",
      run: (vm, cpu, a) => {
        const x = need(xenOf, vm, "xen hypercall");
        let input = BigInt(a.nr as number);
        if ((a.page as number) >= 0) {
          const r = x.kvm.pageCall(a.page as number, a.nr as number);
          if (typeof r === "string") throw new CommandInputError(r);
          input = r;
        }
        const loads: [Gpr, bigint][] = [];
        for (const p of REG_PARAMS) {
          const v = a[p.name];
          if (v === -1) continue;
          loads.push([REG32[p.name] ?? (p.name as Gpr), BigInt(v as number | bigint)]);
        }
        return rawHypercall(x, cpu, input, loads, a.cpl as number);
      },
    },
    // ---- event channels --------------------------------------------------------------
    hc(
      "evtchn bind_ipi",
      "EVTCHNOP_bind_ipi",
      [{ name: "vcpu", type: VCPU_SELF, doc: "the vCPU it notifies", default: -1 }],
      (x, cpu, a) => {
        const vcpu = self(a.vcpu, cpu);
        const port = x.domain.evtchn.bindIpi(vcpu);
        if (port > 0 && x.domain.flavour === "kvm-xen") x.kvm.qemuIpiBound(port, vcpu);
        return port;
      },
      "the port, or -errno",
      evtchnOp(EVTCHNOP.bind_ipi),
    ),
    hc(
      "evtchn bind_virq",
      "EVTCHNOP_bind_virq",
      [
        {
          name: "virq",
          type: { kind: "enum", values: Object.keys(VIRQ) },
          doc: "the VIRQ",
          positional: true,
        },
        { name: "vcpu", type: VCPU_SELF, doc: "the vCPU", default: -1 },
      ],
      (x, cpu, a) => qemuTimerVirq(x, VIRQ[a.virq as string], self(a.vcpu, cpu)),
      "the port, or -errno",
      evtchnOp(EVTCHNOP.bind_virq),
    ),
    hc(
      "evtchn bind_virq_number",
      "EVTCHNOP_bind_virq with a raw VIRQ number (to see -EINVAL for 24 and up)",
      [
        { name: "virq", type: { kind: "int", min: 0, max: 255 }, doc: "the VIRQ number" },
        { name: "vcpu", type: VCPU_SELF, doc: "the vCPU", default: -1 },
      ],
      (x, cpu, a) => qemuTimerVirq(x, a.virq as number, self(a.vcpu, cpu)),
      `the port, or -errno (NR_VIRQS = ${NR_VIRQS})`,
      evtchnOp(EVTCHNOP.bind_virq),
    ),
    hc(
      "evtchn bind_pirq",
      "EVTCHNOP_bind_pirq",
      [{ name: "pirq", type: U32, doc: "the PIRQ", positional: true }],
      (x, _c, a) => x.domain.evtchn.bindPirq(a.pirq as number),
      "the port, or -errno",
      evtchnOp(EVTCHNOP.bind_pirq),
    ),
    hc(
      "evtchn alloc_unbound",
      "EVTCHNOP_alloc_unbound",
      [
        { name: "dom", type: DOM, doc: "whose port", default: DOMID_SELF },
        { name: "remote_dom", type: DOM, doc: "who may bind it", default: DOMID_SELF },
      ],
      (x, _c, a) => x.domain.evtchn.allocUnbound(a.dom as number, a.remote_dom as number),
      "the port, or -errno",
      evtchnOp(EVTCHNOP.alloc_unbound),
    ),
    hc(
      "evtchn bind_interdomain",
      "EVTCHNOP_bind_interdomain",
      [
        { name: "remote_dom", type: DOM, doc: "the peer domain", default: DOMID_SELF },
        { name: "remote_port", type: PORT, doc: "the peer's unbound port" },
      ],
      (x, _c, a) =>
        x.domain.evtchn.bindInterdomain(a.remote_dom as number, a.remote_port as number),
      "the local port, or -errno",
      evtchnOp(EVTCHNOP.bind_interdomain),
    ),
    ...(["close", "send", "unmask"] as const).map((op) =>
      hc(
        `xen evtchn_${op}`,
        `EVTCHNOP_${op} (the raw hypercall)` +
          (op === "send" ? "; kvm-xen: in the kernel for an intercepted port" : ""),
        [{ name: "port", type: PORT, doc: "the port", positional: true }],
        (x, _c, a) =>
          op === "close"
            ? closeQemuTimerVirq(x, a.port as number)
            : x.domain.evtchn[op](a.port as number),
        "0 or -errno",
        evtchnOp(EVTCHNOP[op], op === "send" ? sendInKernel : undefined),
      )
    ),
    hc(
      "evtchn close",
      "EVTCHNOP_close",
      [{ name: "port", type: PORT, doc: "the port", positional: true }],
      (x, _c, a) => closeQemuTimerVirq(x, a.port as number),
      "0 or -errno",
      evtchnOp(EVTCHNOP.close),
    ),
    hc(
      "evtchn send",
      "EVTCHNOP_send. kvm-xen: KVM handles it in the kernel when the VMM intercepted the port " +
        "(kvm xen_evtchn_attr: raise the deliver port, or signal the eventfd); otherwise it exits " +
        "to the VMM, whose port table sends it",
      [{ name: "port", type: PORT, doc: "the port", positional: true }],
      (x, _c, a) => x.domain.evtchn.send(a.port as number),
      "0 or -errno",
      evtchnOp(EVTCHNOP.send, sendInKernel),
    ),
    hc(
      "evtchn status",
      "EVTCHNOP_status: returns the EVTCHNSTAT_* code (0 closed .. 5 ipi)",
      [
        { name: "port", type: PORT, doc: "the port", positional: true },
        { name: "dom", type: DOM, doc: "the domain", default: DOMID_SELF },
      ],
      (x, _c, a) => {
        const s = x.domain.evtchn.status(a.dom as number, a.port as number);
        return typeof s === "number" ? s : s.status;
      },
      "EVTCHNSTAT_* or -errno",
      evtchnOp(EVTCHNOP.status),
    ),
    // The other fields of struct evtchn_status, each a command of its own reading the calling
    // domain's port, from one table.
    ...STATUS_FIELDS.map(([field, doc, returns]) =>
      hc(
        `evtchn status_${field}`,
        `EVTCHNOP_status: ${doc}`,
        [{ name: "port", type: PORT, doc: "the port", positional: true }],
        (x, _c, a) => {
          const s = x.domain.evtchn.status(DOMID_SELF, a.port as number);
          return typeof s === "number" ? s : s[field];
        },
        returns,
        evtchnOp(EVTCHNOP.status),
      )
    ),
    hc(
      "evtchn bind_vcpu",
      "EVTCHNOP_bind_vcpu",
      [
        { name: "port", type: PORT, doc: "the port", positional: true },
        { name: "vcpu", type: VCPU_SELF, doc: "the new vCPU" },
      ],
      (x, cpu, a) => x.domain.evtchn.bindVcpu(a.port as number, self(a.vcpu, cpu)),
      "0 or -errno",
      evtchnOp(EVTCHNOP.bind_vcpu),
    ),
    hc(
      "evtchn reset",
      "EVTCHNOP_reset",
      [{ name: "dom", type: DOM, doc: "the domain", default: DOMID_SELF }],
      (x, _c, a) => resetQemuPorts(x, a.dom as number),
      "0 or -errno",
      evtchnOp(EVTCHNOP.reset),
    ),
    {
      actor: "vcpu",
      name: "evtchn mask",
      doc: "the guest sets the port's bit in evtchn_mask (FIFO: MASKED in its event word)",
      params: [{ name: "port", type: PORT, doc: "the port", positional: true }],
      run: (vm, _cpu, a) => {
        const d = need(xenOf, vm, "evtchn mask").domain;
        if (d.evtchn.fifo.active) {
          d.mem.setBit(fifoWord(d, a.port as number), FIFO.MASKED);
          return;
        }
        const m = d.layout().sharedInfo.find((f) => f.name === "evtchn_mask")!;
        if (d.sharedInfo() < 0) throw new CommandInputError("no shared_info is mapped");
        if ((a.port as number) >= m.bits!) {
          throw new CommandInputError(`port ${a.port} is past evtchn_mask (${m.bits} bits)`);
        }
        d.mem.setBit(d.sharedInfo() + m.offset, a.port as number);
      },
    },
    {
      actor: "vcpu",
      name: "evtchn unmask",
      doc: "Linux's HVM unmask: clear M; if P is set, set M again and call EVTCHNOP_unmask. " +
        "FIFO: clear MASKED (a cmpxchg that waits out BUSY); if PENDING, call EVTCHNOP_unmask. " +
        "Only the hypercall is a VM exit",
      params: [{ name: "port", type: PORT, doc: "the port", positional: true }, CPL],
      returns: "0 or -errno",
      run: (vm, cpu, a) => {
        const x = need(xenOf, vm, "evtchn unmask");
        const d = x.domain;
        const p = a.port as number;
        const unmaskHypercall = () =>
          namedHypercall(
            x,
            cpu,
            {
              name: "evtchn unmask",
              input: HYPERCALL.event_channel_op,
              args: [BigInt(EVTCHNOP.unmask)],
              cpl: (a.cpl as number | undefined) ?? 0,
            },
            () => d.evtchn.unmask(p),
          );
        if (d.evtchn.fifo.active) {
          const w = fifoWord(d, p);
          d.mem.clearBit(w, FIFO.MASKED);
          return d.mem.testBit(w, FIFO.PENDING) ? unmaskHypercall() : 0;
        }
        const si = d.sharedInfo();
        if (si < 0 || p >= d.layout().maxPorts2L) return unmaskHypercall();
        const l = d.layout().sharedInfo;
        const mask = si + l.find((f) => f.name === "evtchn_mask")!.offset;
        const pend = si + l.find((f) => f.name === "evtchn_pending")!.offset;
        d.mem.clearBit(mask, p);
        if (!d.mem.testBit(pend, p)) return 0;
        d.mem.setBit(mask, p);
        return unmaskHypercall();
      },
    },
    // ---- FIFO ABI -------------------------------------------------------------------------
    hc(
      "evtchn init_control",
      "EVTCHNOP_init_control: a vCPU's FIFO control block; the first success switches to FIFO",
      [
        { name: "gfn", type: { kind: "u64" }, doc: "control_gfn: the control block's frame" },
        { name: "offset", type: U32, doc: "offset in the frame (8-aligned, <= 4024)", default: 0 },
        { name: "vcpu", type: VCPU_SELF, doc: "the vCPU (default: the caller)", default: -1 },
      ],
      (x, cpu, a) =>
        x.domain.evtchn.initControl(frame(a.gfn), a.offset as number, self(a.vcpu, cpu)),
      "link_bits (17), or -errno",
      evtchnOp(EVTCHNOP.init_control),
    ),
    hc(
      "evtchn expand_array",
      "EVTCHNOP_expand_array: the next event-array page (1024 ports)",
      [{ name: "gfn", type: { kind: "u64" }, doc: "array_gfn: the page's frame" }],
      (x, _c, a) => x.domain.evtchn.expandArray(frame(a.gfn)),
      "0 or -errno",
      evtchnOp(EVTCHNOP.expand_array),
    ),
    hc(
      "evtchn set_priority",
      "EVTCHNOP_set_priority (FIFO: 0 highest .. 15 lowest, 7 default)",
      [
        { name: "port", type: PORT, doc: "the port", positional: true },
        { name: "priority", type: U32, doc: "the queue" },
      ],
      (x, _c, a) => x.domain.evtchn.setPriority(a.port as number, a.priority as number),
      "0 or -errno",
      evtchnOp(EVTCHNOP.set_priority),
    ),
    {
      actor: "vcpu",
      name: "evtchn fifo_init_page",
      doc:
        "the guest fills a page with MASKED event words before adding it (Linux init_array_page)",
      params: [{ name: "gfn", type: U32, doc: "the page's frame" }],
      run: (vm, _cpu, a) => {
        const d = need(xenOf, vm, "evtchn fifo_init_page").domain;
        const gpa = (a.gfn as number) * XEN_PAGE_SIZE;
        if (!d.mem.contains(gpa, XEN_PAGE_SIZE)) {
          throw new CommandInputError(`frame 0x${(a.gfn as number).toString(16)} is not RAM`);
        }
        for (let o = 0; o < XEN_PAGE_SIZE; o += 4) d.mem.write(gpa + o, 32, 1 << FIFO.MASKED);
      },
    },
    // ---- HVM ops, vCPU ops, sched ops -------------------------------------------------------
    hc(
      "xen set_evtchn_upcall_vector",
      "HVMOP_set_evtchn_upcall_vector (kvm-xen: the VMM sets KVM's per-vCPU vector attribute)",
      [
        { name: "vector", type: VECTOR, doc: "the LAPIC vector (>= 0x10)" },
        { name: "vcpu", type: VCPU_SELF, doc: "the vCPU", default: -1 },
      ],
      (x, cpu, a) => x.domain.callback.setUpcallVector(self(a.vcpu, cpu), a.vector as number),
      "0 or -errno",
      hvmOp(HVMOP.set_evtchn_upcall_vector),
    ),
    hc(
      "xen set_param",
      "HVMOP_set_param with a raw value (callback_irq = HVM_PARAM_CALLBACK_IRQ)",
      [
        { name: "callback_irq", type: { kind: "u64" }, doc: "the raw parameter value" },
      ],
      (x, cpu, a) => setCallbackParam(x, cpu, a.callback_irq as bigint),
      "0 or -errno",
      hvmOp(HVMOP.set_param),
    ),
    hc(
      "xen set_callback_irq",
      "HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ) from its parts: vector=, gsi=, or pci_device= pin=; none of them = off",
      [
        { name: "vector", type: VECTOR, doc: "type 2: the global callback vector", default: -1 },
        { name: "gsi", type: { kind: "int", min: 0, max: 255 }, doc: "type 0: a GSI", default: -1 },
        {
          name: "pci_device",
          type: { kind: "int", min: 0, max: 31 },
          doc: "type 1: PCI device",
          default: -1,
        },
        { name: "pin", type: { kind: "int", min: 0, max: 3 }, doc: "INTA=0..INTD=3", default: 0 },
        {
          name: "type",
          type: { kind: "int", min: 0, max: 255 },
          doc: "raw type (e.g. 3: unknown)",
          default: -1,
        },
      ],
      (x, cpu, a) => {
        let v = 0n;
        if ((a.vector as number) >= 0) v = (2n << 56n) | BigInt(a.vector as number);
        else if ((a.gsi as number) >= 0) v = BigInt(a.gsi as number);
        else if ((a.pci_device as number) >= 0) {
          v = (1n << 56n) | (BigInt(a.pci_device as number) << 11n) | BigInt(a.pin as number);
        }
        if ((a.type as number) >= 0) v = (BigInt(a.type as number) << 56n) | (v & 0xffn);
        return setCallbackParam(x, cpu, v);
      },
      "0 or -errno",
      hvmOp(HVMOP.set_param),
    ),
    hc(
      "xen register_vcpu_info",
      "VCPUOP_register_vcpu_info (gfn = gpa >> 12; offset added to the low bits)",
      [
        { name: "gpa", type: U32, doc: "guest-physical address" },
        { name: "offset", type: U32, doc: "offset within the frame", default: 0 },
        { name: "vcpu", type: VCPU_SELF, doc: "the vCPU", default: -1 },
      ],
      (x, cpu, a) => {
        const gpa = a.gpa as number;
        return x.domain.registerVcpuInfo(
          self(a.vcpu, cpu),
          Math.floor(gpa / XEN_PAGE_SIZE),
          (gpa % XEN_PAGE_SIZE) + (a.offset as number),
        );
      },
      "0 or -errno",
      vcpuOp(VCPUOP.register_vcpu_info),
    ),
    hc(
      "xen callback_register",
      "CALLBACKOP_register (Xen xen/arch/x86/pv/callback.c register_guest_callback): a PV " +
        "guest's event callback (its upcall: until one is registered, a due upcall crashes the " +
        "domain, entry.S create_bounce_frame_bad_bounce_ip) or failsafe callback " +
        "(mask_events=1: CALLBACKF_mask_events). A non-canonical address is -EINVAL; HVM and " +
        "PVH guests have no callback_op (hypercall-defs.c), -ENOSYS, as QEMU answers kvm-xen",
      [
        {
          name: "type",
          type: { kind: "enum", values: Object.keys(CALLBACKTYPE) },
          doc: "CALLBACKTYPE_event or _failsafe",
          positional: true,
        },
        { name: "address", type: { kind: "u64" }, doc: "the callback's entry point" },
        {
          name: "mask_events",
          type: { kind: "int", min: 0, max: 1 },
          doc: "failsafe: CALLBACKF_mask_events",
          default: 0,
        },
      ],
      (x, cpu, a) =>
        x.domain.registerCallback(
          cpu,
          a.type as keyof typeof CALLBACKTYPE,
          a.address as bigint,
          (a.mask_events as number) === 1 ? CALLBACKF_MASK_EVENTS : 0,
        ),
      "0, -EINVAL or -ENOSYS",
      { input: HYPERCALL.callback_op, args: () => [BigInt(CALLBACKOP.register)] },
    ),
    hc(
      "xen callback_unregister",
      "CALLBACKOP_unregister (unregister_guest_callback): the event and failsafe callbacks " +
        "cannot be unregistered, -EINVAL (PV; -ENOSYS otherwise)",
      [
        {
          name: "type",
          type: { kind: "enum", values: Object.keys(CALLBACKTYPE) },
          doc: "CALLBACKTYPE_event or _failsafe",
          positional: true,
        },
      ],
      (x, cpu) => x.domain.unregisterCallback(cpu),
      "-EINVAL or -ENOSYS",
      { input: HYPERCALL.callback_op, args: () => [BigInt(CALLBACKOP.unregister)] },
    ),
    hc(
      "xen set_callbacks",
      "HYPERVISOR_set_callbacks (64-bit PV do_set_callbacks): registers the event and failsafe " +
        "callbacks (and a syscall one, not modelled), ignoring their errors; -ENOSYS for HVM and PVH",
      [
        { name: "event", type: { kind: "u64" }, doc: "the event callback" },
        { name: "failsafe", type: { kind: "u64" }, doc: "the failsafe callback", default: 0n },
      ],
      (x, cpu, a) => x.domain.setCallbacks(cpu, a.event as bigint, a.failsafe as bigint),
      "0 or -ENOSYS",
      {
        input: HYPERCALL.set_callbacks,
        args: (_x, _c, a) => [a.event as bigint, a.failsafe as bigint, 0n],
      },
    ),
    hc(
      "xen vm_assist",
      "HYPERVISOR_vm_assist (Xen xen/common/domain.c do_vm_assist): enable or disable a " +
        "VMASST_TYPE; only runstate_update_flag (5) is valid for HVM and PVH, PV also takes 0-4 " +
        "and 32 (arch_vm_assist_valid_mask); others -EINVAL. runstate_update_flag makes runstate " +
        "copies set XEN_RUNSTATE_UPDATE. kvm-xen: QEMU has no handler, -ENOSYS",
      [
        {
          name: "cmd",
          type: { kind: "enum", values: ["enable", "disable"] },
          doc: "VMASST_CMD_enable (0) or _disable (1)",
          positional: true,
        },
        { name: "type", type: U32, doc: "the VMASST_TYPE number" },
      ],
      (x, _c, a) => x.domain.vmAssist(a.cmd === "enable" ? 0 : 1, a.type as number),
      "0, -EINVAL or -ENOSYS",
      {
        input: HYPERCALL.vm_assist,
        args: (_x, _c, a) => [a.cmd === "enable" ? 0n : 1n, BigInt(a.type as number)],
      },
    ),
    hc(
      "xen register_runstate_area",
      "VCPUOP_register_runstate_memory_area for the calling vCPU (Xen xen/common/domain.c; QEMU " +
        "sets KVM's RUNSTATE_ADDR): the current vcpu_runstate_info (48 bytes, 44 packed for a " +
        "32-bit guest) is copied to gpa at once and at every runstate change; 0 unregisters",
      [{ name: "gpa", type: U32, doc: "guest address of the struct (paging off: the GPA)" }],
      (x, cpu, a) => x.domain.registerRunstateArea(cpu, a.gpa as number),
      "0 or -EFAULT",
      // The model registers only the caller's own area: vcpuid is the calling vCPU.
      {
        input: HYPERCALL.vcpu_op,
        args: (_x, cpu) => [BigInt(VCPUOP.register_runstate_memory_area), BigInt(cpu)],
      },
    ),
    hc(
      "xen register_vcpu_time_area",
      "VCPUOP_register_vcpu_time_memory_area (Xen xen/arch/x86/domain.c arch_do_vcpu_op): a " +
        "second struct vcpu_time_info (32 bytes) at gpa, written now and with every time " +
        "update as the one in vcpu_info is (update_secondary_system_time; none without a " +
        "vcpu_info); 0 for none, -ENOENT for a vCPU the domain lacks. kvm-xen: QEMU sets " +
        "KVM's VCPU_TIME_INFO attribute to gpa and answers 0 (-EFAULT for a record that would " +
        "cross a page)",
      [
        { name: "gpa", type: U32, doc: "guest address of the record (paging off: the GPA)" },
        { name: "vcpu", type: VCPU_SELF, doc: "whose record", default: -1 },
      ],
      (x, cpu, a) => {
        const target = self(a.vcpu, cpu), gpa = a.gpa as number;
        return x.domain.flavour === "kvm-xen"
          ? x.kvm.qemuRegisterTimeArea(target, gpa)
          : x.domain.registerTimeArea(target, gpa);
      },
      "0 or -errno",
      vcpuOp(VCPUOP.register_vcpu_time_memory_area),
    ),
    hc(
      "xen get_runstate_info",
      "VCPUOP_get_runstate_info (Xen xen/common/domain.c do_vcpu_op -> vcpu_runstate_get): " +
        "vcpu's vcpu_runstate_info, with the time in its current state so far added to that " +
        "state's time[], copied to gpa (48 bytes; 44 packed from 32-bit code). -ENOENT for a " +
        "vCPU the domain lacks, -EFAULT outside guest RAM. kvm-xen: QEMU has no case for it, " +
        "-ENOSYS (-ENOENT for a missing vCPU first)",
      [
        { name: "gpa", type: U32, doc: "guest address of the struct (paging off: the GPA)" },
        { name: "vcpu", type: VCPU_SELF, doc: "whose runstate", default: -1 },
      ],
      (x, cpu, a) => x.domain.getRunstateInfo(cpu, self(a.vcpu, cpu), a.gpa as number),
      "0 or -errno",
      {
        input: HYPERCALL.vcpu_op,
        args: (_x, cpu, a) => [
          BigInt(VCPUOP.get_runstate_info),
          toU64(self(a.vcpu, cpu)),
          BigInt(a.gpa as number),
        ],
      },
    ),
    hc(
      "xen set_timer",
      "set_timer_op(now + in): a relative convenience for the absolute hypercall",
      [{ name: "in", type: { kind: "duration" }, doc: "from now" }],
      (x, cpu, a) => x.domain.timers.setTimerOp(cpu, x.domain.host.now() + (a.in as number)),
      "0 or -errno",
      setTimerOp((x, a) => BigInt(x.domain.host.now() + (a.in as number))),
    ),
    hc(
      "xen set_timer_op",
      "set_timer_op(deadline): absolute ns; 0 cancels (Xen do_set_timer_op; on kvm-xen KVM's " +
        "kvm_xen_hcall_set_timer_op serves it without an exit once the VMM has set the vCPU's " +
        "KVM_XEN_VCPU_ATTR_TYPE_TIMER port, and its expiry raises that port)",
      [{ name: "deadline", type: { kind: "u64" }, doc: "absolute system time, ns" }],
      (x, cpu, a) => x.domain.timers.setTimerOp(cpu, BigInt.asIntN(64, a.deadline as bigint)),
      "0 or -errno",
      setTimerOp((_x, a) => a.deadline as bigint),
    ),
    hc(
      "xen set_singleshot_timer",
      "VCPUOP_set_singleshot_timer (only for the calling vCPU; a deadline already past fires " +
        "at once whatever flags say: VCPU_SSHOTTMR_future's -ETIME is gone from Xen since " +
        "19c6cbd909 and from KVM's kvm_xen_hcall_vcpu_op). On kvm-xen with a TIMER port KVM " +
        "serves it in the kernel and answers -EINVAL for any other vCPU, even one the VM lacks " +
        "(Xen: -ENOENT)",
      [
        { name: "deadline", type: { kind: "u64" }, doc: "absolute ns" },
        {
          name: "flags",
          type: { kind: "int", min: 0, max: 0xffff_ffff, what: "VCPU_SSHOTTMR_* flags" },
          doc: "vcpu_set_singleshot_timer.flags: VCPU_SSHOTTMR_future (1) is accepted and ignored",
          default: 0,
        },
        { name: "vcpu", type: VCPU_SELF, doc: "target", default: -1 },
      ],
      (x, cpu, a) => x.domain.timers.setSingleshot(cpu, self(a.vcpu, cpu), a.deadline as bigint),
      "0 or -errno",
      singleshotOp(VCPUOP.set_singleshot_timer, (a) => a.deadline as bigint),
    ),
    hc(
      "xen stop_singleshot_timer",
      "VCPUOP_stop_singleshot_timer (kvm-xen with a TIMER port: KVM's kvm_xen_stop_timer)",
      [{ name: "vcpu", type: VCPU_SELF, doc: "target", default: -1 }],
      (x, cpu, a) => x.domain.timers.stopSingleshotOp(cpu, self(a.vcpu, cpu)),
      "0 or -errno",
      singleshotOp(VCPUOP.stop_singleshot_timer, () => null),
    ),
    hc(
      "xen set_periodic_timer",
      "VCPUOP_set_periodic_timer (1ms <= period <= STIME_DELTA_MAX, 2^62 - 1 ns)",
      [
        { name: "period", type: { kind: "duration" }, doc: "the period" },
        { name: "vcpu", type: VCPU_SELF, doc: "target", default: -1 },
      ],
      (x, cpu, a) => x.domain.timers.setPeriodic(cpu, self(a.vcpu, cpu), a.period as number),
      "0 or -errno",
      vcpuOp(VCPUOP.set_periodic_timer),
    ),
    hc(
      "xen stop_periodic_timer",
      "VCPUOP_stop_periodic_timer",
      [{ name: "vcpu", type: VCPU_SELF, doc: "target", default: -1 }],
      (x, cpu, a) => x.domain.timers.stopPeriodic(cpu, self(a.vcpu, cpu)),
      "0 or -errno",
      vcpuOp(VCPUOP.stop_periodic_timer),
    ),
    hc(
      "xen sched_block",
      "SCHEDOP_block (kvm-xen: KVM leaves it to the VMM, and QEMU has no SCHEDOP_block: -ENOSYS)",
      [],
      (x, cpu) => x.domain.flavour === "kvm-xen" ? -XEN_ERRNO.ENOSYS : x.domain.timers.block(cpu),
      "0 or -errno",
      schedOp(SCHEDOP.block),
    ),
    hc(
      "xen sched_poll",
      "SCHEDOP_poll (timeout: Xen absolute ns, kvm-xen relative; 0 = none). kvm-xen: always in " +
        "the kernel from CPL 0, as KVM's poll with EVTCHN_SEND configured, else as SCHEDOP_yield (0)",
      [
        { name: "ports", type: { kind: "set", min: 0, max: 0xffff_ffff }, doc: "the ports" },
        { name: "timeout", type: { kind: "u64" }, doc: "timeout", default: 0 },
      ],
      (x, cpu, a) => x.domain.timers.poll(cpu, a.ports as readonly number[], a.timeout as bigint),
      "0 or -errno",
      schedOp(
        SCHEDOP.poll,
        (x, cpu, a) =>
          x.kvm.pollInKernel()
            ? x.domain.timers.poll(cpu, a.ports as readonly number[], a.timeout as bigint)
            : 0,
      ),
    ),
    exiting(
      "xen hypercall_page",
      "write the hypercall-page MSR: latches the shared_info layout from this vCPU's mode",
      [],
      (x, cpu) => {
        x.domain.latch(cpu);
        return 0;
      },
    ),
    exiting(
      "xen cpu_mode",
      "model probe: the vCPU's mode changes (32-bit or long mode) without a latch; it also " +
        "picks the argument registers of its hypercalls",
      [{
        name: "bits",
        type: { kind: "int", min: 32, max: 64, what: "32 or 64" },
        doc: "mode",
        positional: true,
      }],
      (x, cpu, a) => {
        if (a.bits !== 32 && a.bits !== 64) return -XEN_ERRNO.EINVAL;
        x.domain.cpuMode[cpu] = a.bits;
        return 0;
      },
    ),
    // ---- the hypervisor side ------------------------------------------------------------------
    stepwise<M>(
      {
        actor: "hypervisor",
        name: "send",
        doc:
          "raise a port as its remote end would (a peer's send, a device backend); under 'scn explore' its writes (P; M test and selector; UP) are separate steps the guest can come between",
        params: [{ name: "port", type: PORT, doc: "the port", positional: true }],
        returns: "1 delivered, 0 already pending, <0 error",
      },
      RAISE_STEPS,
      (vm, _c, a) => need(xenOf, vm, "send").domain.raiseSteps(a.port as number),
    ),
    {
      actor: "hypervisor",
      name: "deschedule",
      doc: "Xen's scheduler preempts a running vCPU now and runs it again after for " +
        "(sched_switch -> vcpu_runstate_change: runnable, copied to its runstate area, then " +
        "running); meanwhile it executes and takes nothing. kvm-xen's counterpart is the " +
        "host's preemption of the vCPU thread, 'vmm: kvm sched_out'",
      params: [
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
        { name: "for", type: { kind: "duration" }, doc: "until it runs again" },
      ],
      run: (vm, _c, a) => {
        const d = need(xenOf, vm, "deschedule").domain;
        if (d.flavour !== "xen") {
          throw new CommandInputError(
            "under kvm-xen the vCPU is a host thread that KVM does not schedule: " +
              "'vmm: kvm sched_out' is the host's preemption of it",
          );
        }
        d.deschedule(a.vcpu as number, a.for as number);
        return 0;
      },
    },
    {
      actor: "hypervisor",
      name: "virq",
      doc: "raise a VIRQ (per-vCPU VIRQs on vcpu=)",
      params: [
        {
          name: "virq",
          type: { kind: "enum", values: Object.keys(VIRQ) },
          doc: "the VIRQ",
          positional: true,
        },
        { name: "vcpu", type: VCPU, doc: "the vCPU", default: 0 },
      ],
      returns: "as for send",
      run: (vm, _c, a) => need(xenOf, vm, "virq").domain.virq(a.virq as string, a.vcpu as number),
    },
    {
      actor: "hypervisor",
      name: "pirq",
      doc: "a physical IRQ mapped to a PIRQ fires",
      params: [{ name: "pirq", type: U32, doc: "the PIRQ", positional: true }],
      returns: "as for send",
      run: (vm, _c, a) => need(xenOf, vm, "pirq").domain.evtchn.raisePirq(a.pirq as number),
    },
    // ---- the VMM's KVM Xen ioctls ----------------------------------------------------------------
    {
      actor: "vmm",
      name: "kvm xen_evtchn_send",
      doc: "KVM_XEN_HVM_EVTCHN_SEND",
      params: [
        { name: "port", type: PORT, doc: "the port" },
        { name: "vcpu", type: KVM_VCPU_ID, doc: "KVM vcpu_id" },
        {
          name: "priority",
          type: U32,
          doc: "must be 0xffffffff (2-level)",
          default: 0xffff_ffff,
        },
      ],
      returns: "0 or -errno",
      run: (vm, _c, a) =>
        need(xenOf, vm, "kvm xen_evtchn_send").kvm.evtchnSend({
          port: a.port as number,
          vcpu: a.vcpu as number,
          priority: a.priority as number,
        }),
    },
    {
      actor: "vmm",
      name: "kvm xen_hvm_config",
      doc: "KVM_XEN_HVM_CONFIG (a kvm-xen VM starts with QEMU's: INTERCEPT_HCALL | EVTCHN_SEND = " +
        "0x22, msr 0x40000000)",
      params: [
        { name: "flags", type: U32, doc: "KVM_XEN_HVM_CONFIG_* flags", default: 0 },
        { name: "msr", type: U32, doc: "hypercall-page MSR", default: 0x40000000 },
        { name: "blob_size_64", type: VECTOR, doc: "blob size", default: 0 },
      ],
      returns: "0 or -EINVAL",
      run: (vm, _c, a) =>
        need(xenOf, vm, "kvm xen_hvm_config").kvm.hvmConfig({
          flags: a.flags as number,
          msr: a.msr as number,
          blobAddr32: 0n,
          blobAddr64: 0n,
          blobSize32: 0,
          blobSize64: a.blob_size_64 as number,
        }),
    },
    {
      actor: "vmm",
      name: "kvm xen_set_attr",
      doc: "KVM_XEN_HVM_SET_ATTR: long_mode, shared_info (gfn), upcall_vector, xen_version " +
        "(what XENVER_version answers in the kernel; 0 = leave it to the VMM), " +
        "runstate_update_flag (copies set XEN_RUNSTATE_UPDATE while they write; 'scn explore' " +
        "shows it between the steps of 'kvm xen_vcpu_set_runstate current')",
      params: [
        {
          name: "type",
          type: { kind: "enum", values: KVM_XEN_HVM_ATTRS },
          doc: "the attribute",
          positional: true,
        },
        { name: "value", type: { kind: "u64" }, doc: "its value", positional: true },
      ],
      returns: "0, -EINVAL, or -EFAULT for an area outside guest RAM (no memslot)",
      run: (vm, _c, a) => {
        const k = need(xenOf, vm, "kvm xen_set_attr").kvm;
        const v = a.value as bigint;
        if (a.type === "long_mode") return k.setLongMode(v !== 0n);
        if (a.type === "shared_info") return k.setSharedInfo(v);
        if (a.type === "xen_version") return k.setXenVersion(Number(v & 0xffff_ffffn));
        if (a.type === "runstate_update_flag") return k.setRunstateUpdateFlag(v !== 0n);
        return v > 255n ? -XEN_ERRNO.EINVAL : k.setUpcallVector(Number(v));
      },
    },
    {
      actor: "vmm",
      name: "kvm xen_evtchn_attr",
      doc:
        "KVM_XEN_HVM_SET_ATTR(KVM_XEN_ATTR_TYPE_EVTCHN): KVM handles the guest's EVTCHNOP_send " +
        "on send_port itself, raising deliver_port on vcpu (interdomain, or ipi with deliver_port = " +
        "send_port) or, with deliver_port 0, signalling eventfd (kvm.eventfd[N]). flags: 0 assign, " +
        "KVM_XEN_EVTCHN_DEASSIGN, KVM_XEN_EVTCHN_UPDATE (vcpu and priority only), " +
        "KVM_XEN_EVTCHN_RESET (all)",
      params: [
        { name: "send_port", type: PORT, doc: "the port the guest sends on", default: 0 },
        {
          name: "type",
          type: { kind: "enum", values: Object.keys(EVTCHNSTAT) },
          doc: "EVTCHNSTAT_*: interdomain or ipi (a zeroed field is closed)",
          default: "closed",
        },
        { name: "flags", type: U32, doc: "0 or one KVM_XEN_EVTCHN_* flag", default: 0 },
        {
          name: "deliver_port",
          type: PORT,
          doc: "the local port raised; 0: the eventfd",
          default: 0,
        },
        { name: "vcpu", type: KVM_VCPU_ID, doc: "KVM vcpu_id of the delivery", default: 0 },
        {
          name: "priority",
          type: U32,
          doc: "must be 0xffffffff (2-level)",
          default: 0xffff_ffff,
        },
        {
          name: "eventfd",
          type: { kind: "int", min: -1, max: EVENTFDS - 1, what: "an fd", decimal: true },
          doc:
            "the eventfd signalled when deliver_port is 0 (any fd >= 0 is an eventfd the VMM made)",
          default: -1,
        },
      ],
      returns: "0 or -errno",
      run: (vm, _c, a) =>
        need(xenOf, vm, "kvm xen_evtchn_attr").kvm.setEvtchnAttr({
          sendPort: a.send_port as number,
          type: EVTCHNSTAT[a.type as keyof typeof EVTCHNSTAT],
          flags: a.flags as number,
          deliverPort: a.deliver_port as number,
          vcpu: a.vcpu as number,
          priority: a.priority as number,
          eventfd: a.eventfd as number,
        }),
    },
    {
      actor: "vmm",
      name: "kvm xen_hcall_result",
      doc: "after a KVM_EXIT_XEN of 'xen hypercall': the VMM writes u.hcall.result and runs the " +
        "vCPU again, and KVM puts the result in RAX (vcpuN.regs.rax)",
      params: [
        { name: "vcpu", type: VCPU, doc: "the vCPU that exited" },
        { name: "result", type: { kind: "u64" }, doc: "the 64-bit result", default: 0n },
        {
          name: "errno",
          type: { kind: "int", min: 0, max: 4095, what: "an errno", decimal: true },
          doc: "instead of result: -errno (errno=ENOSYS)",
          default: 0,
        },
      ],
      returns: "1 if a hypercall was waiting, 0 if none (KVM ignores the field then)",
      run: (vm, _c, a) => {
        const k = need(xenOf, vm, "kvm xen_hcall_result").kvm;
        const errno = a.errno as number;
        if (errno !== 0 && BigInt(a.result as bigint | number) !== 0n) {
          throw new CommandInputError("give result= or errno=, not both");
        }
        const result = errno !== 0 ? toU64(-errno) : BigInt(a.result as bigint | number);
        return k.completeHypercall(a.vcpu as number, result);
      },
    },
    {
      actor: "vmm",
      name: "kvm xen_vcpu_set_timer",
      doc: "KVM_XEN_VCPU_SET_ATTR(KVM_XEN_VCPU_ATTR_TYPE_TIMER) (kvm_xen_vcpu_set_attr, " +
        "kvm_xen_start_timer): KVM's in-kernel Xen timer raises port on the vCPU at expires " +
        "(ns; already past: at once); port 0 turns it off",
      params: [
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
        { name: "port", type: U32, doc: "the timer VIRQ's port (timer_virq); 0 turns it off" },
        {
          name: "priority",
          type: U32,
          doc: "KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL (0xffffffff, the default); any other is " +
            "-EINVAL",
          default: KVM_XEN_PRIO_2LEVEL,
        },
        { name: "expires", type: { kind: "u64" }, doc: "deadline in ns; 0 leaves it stopped" },
      ],
      returns: "0 or -EINVAL",
      run: (vm, _c, a) =>
        needVcpu(xenOf, vm, "kvm xen_vcpu_set_timer", a.vcpu as number).kvm.setTimer(
          a.vcpu as number,
          a.port as number,
          a.priority as number,
          a.expires as bigint,
        ),
    },
    {
      actor: "vmm",
      name: "kvm xen_get_attr",
      doc: "KVM_XEN_HVM_GET_ATTR (kvm_xen_hvm_get_attr): long_mode, shared_info (the GFN, " +
        "0xffffffffffffffff when none), upcall_vector, xen_version, runstate_update_flag; " +
        "evtchn is -ENOENT (KVM cannot read the EVTCHN table back)",
      params: [
        {
          name: "type",
          type: { kind: "enum", values: [...KVM_XEN_HVM_ATTRS, "evtchn"] },
          doc: "the attribute",
          positional: true,
        },
      ],
      returns: "the attribute's value",
      run: (vm, _c, a) => {
        const k = need(xenOf, vm, "kvm xen_get_attr").kvm;
        if (a.type === "evtchn") return -XEN_ERRNO.ENOENT; // no GET case for it
        return small(k.getAttr(a.type as (typeof KVM_XEN_HVM_ATTRS)[number]));
      },
    },
    {
      actor: "vmm",
      name: "kvm xen_vcpu_get_attr",
      doc: "KVM_XEN_VCPU_GET_ATTR (kvm_xen_vcpu_get_attr): vcpu_info (the GPA, " +
        "0xffffffffffffffff when KVM has none), vcpu_time_info (likewise), vcpu_id (the Xen " +
        "vCPU number), upcall_vector, or TIMER's port (timer_port), " +
        "armed deadline (timer_expires, 0 once fired) and priority (timer_priority: always " +
        "KVM_IRQ_ROUTING_XEN_EVTCHN_PRIO_2LEVEL, 0xffffffff)",
      params: [
        {
          name: "type",
          type: {
            kind: "enum",
            values: [
              "vcpu_info",
              "vcpu_time_info",
              "vcpu_id",
              "upcall_vector",
              "timer_port",
              "timer_expires",
              "timer_priority",
            ],
          },
          doc: "the attribute",
          positional: true,
        },
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
      ],
      returns: "the attribute's value",
      run: (vm, _c, a) => {
        const k = needVcpu(xenOf, vm, "kvm xen_vcpu_get_attr", a.vcpu as number).kvm;
        return small(k.getVcpuAttr(a.type as KvmXenVcpuAttr, a.vcpu as number));
      },
    },
    stepwise<M>(
      {
        actor: "vmm",
        name: "kvm xen_vcpu_set_runstate",
        doc:
          "KVM_XEN_VCPU_SET_ATTR runstate attributes (kvm_xen_vcpu_set_attr): addr (RUNSTATE_ADDR: " +
          "gpa, 0xffffffffffffffff turns it off), current (RUNSTATE_CURRENT: state), data " +
          "(RUNSTATE_DATA: replaces state, entry_time and the times) or adjust (RUNSTATE_ADJUST: adds " +
          "them; state 0xffffffffffffffff keeps the state). A state past offline (3), an entry_time " +
          "other than the sum of the times, or an entry time after now is -EINVAL. DATA sets KVM's " +
          "copy only; like every vCPU ioctl this one makes the vCPU's next entry mark it running " +
          "and copy the record (record_steal_time -> kvm_xen_runstate_set_running). current's copy is " +
          "KVM's separate stores, which 'scn explore' splits (XEN_RUNSTATE_UPDATE set, state, " +
          "entry time and times, flag cleared: kvm_xen_update_runstate_guest)",
        params: [
          {
            name: "type",
            type: { kind: "enum", values: ["addr", "current", "data", "adjust"] },
            doc: "the attribute",
            positional: true,
          },
          { name: "vcpu", type: VCPU, doc: "the vCPU" },
          { name: "gpa", type: { kind: "u64" }, doc: "addr: the GPA", default: 0n },
          {
            name: "state",
            type: { kind: "u64" },
            doc: "RUNSTATE_running 0, runnable 1, blocked 2, offline 3",
            default: 0n,
          },
          { name: "entry_time", type: { kind: "u64" }, doc: "state_entry_time, ns", default: 0n },
          { name: "running", type: { kind: "u64" }, doc: "time_running, ns", default: 0n },
          { name: "runnable", type: { kind: "u64" }, doc: "time_runnable, ns", default: 0n },
          { name: "blocked", type: { kind: "u64" }, doc: "time_blocked, ns", default: 0n },
          { name: "offline", type: { kind: "u64" }, doc: "time_offline, ns", default: 0n },
        ],
        returns: "0, -EINVAL or -EFAULT",
      },
      RUNSTATE_COPY_STEPS,
      function* (vm, _c, a) {
        const d = needVcpu(xenOf, vm, "kvm xen_vcpu_set_runstate", a.vcpu as number).domain;
        const n = a.vcpu as number;
        const now = BigInt(d.host.now());
        const state = a.state as bigint;
        if (a.type === "addr") {
          const gpa = a.gpa as bigint;
          const to = gpa === KVM_XEN_INVALID ? -1 : Number(gpa);
          return d.runstate.kvmRegister(n, to, now, d.kvmRunstateArea());
        }
        if (a.type === "current") {
          if (state > 3n) return -XEN_ERRNO.EINVAL;
          // kvm_xen_vcpu_set_attr(RUNSTATE_CURRENT) -> kvm_xen_update_runstate.
          yield* d.runstate.kvmChangeSteps(n, Number(state), now);
          return 0;
        }
        const times = [a.running, a.runnable, a.blocked, a.offline] as bigint[];
        return d.runstate.kvmSetData(
          n,
          a.type === "adjust",
          state,
          a.entry_time as bigint,
          times,
          now,
        );
      },
    ),
    {
      actor: "vmm",
      name: "kvm xen_vcpu_get_runstate",
      doc:
        "KVM_XEN_VCPU_GET_ATTR runstate attributes (kvm_xen_vcpu_get_attr): addr (-ENOENT when " +
        "none), current / state, and RUNSTATE_DATA's entry_time, running, runnable, blocked, offline",
      params: [
        {
          name: "field",
          type: {
            kind: "enum",
            values: ["addr", "state", "entry_time", "running", "runnable", "blocked", "offline"],
          },
          doc: "what to read",
          positional: true,
        },
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
      ],
      returns: "the value, or -ENOENT for addr when none is set",
      run: (vm, _c, a) => {
        const r = needVcpu(xenOf, vm, "kvm xen_vcpu_get_runstate", a.vcpu as number).domain.runstate
          .vcpus[a.vcpu as number];
        switch (a.field) {
          case "addr":
            return r.area < 0 ? -XEN_ERRNO.ENOENT : r.area;
          case "state":
            return r.state;
          case "entry_time":
            return small(r.entryTime);
          default: {
            const i = ["running", "runnable", "blocked", "offline"].indexOf(a.field as string);
            return small(r.time[i]);
          }
        }
      },
    },
    {
      actor: "vmm",
      name: "kvm userspace_exit",
      doc:
        "kvm-xen (the one model of what a vCPU's time outside KVM_RUN does): vCPU's KVM_RUN returns to the VMM now (a ucall, an exit the VMM handles) " +
        "and the VMM calls KVM_RUN again after for; of that time its thread waited run_delay " +
        "on a host run queue (sched_info.run_delay; no more than for). Meanwhile the vCPU " +
        "executes and takes nothing (interrupts and KVM's requests wait for the entry); the " +
        "VMM's statements written after this one act inside that time. The re-entry's " +
        "vcpu_load makes the runstate update (record_steal_time -> " +
        "kvm_xen_runstate_set_running; the runstate stays running meanwhile), which moves " +
        "run_delay from running to runnable (kvm_xen_update_runstate's steal time)",
      params: [
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
        {
          name: "for",
          type: { kind: "duration" },
          doc: "the VMM's time until KVM_RUN (0: at once)",
        },
        {
          name: "run_delay",
          type: { kind: "duration" },
          doc: "host run-queue wait within it",
          default: 0,
        },
      ],
      run: (vm, _c, a) => {
        const x = need(xenOf, vm, "kvm userspace_exit");
        const away = a.for as number, delay = a.run_delay as number;
        if (delay > away) throw new CommandInputError("run_delay is part of for: no more than it");
        x.kvm.leaveRun(a.vcpu as number, away, delay, false);
        return 0;
      },
    },
    {
      actor: "vmm",
      name: "kvm sched_out",
      doc: "kvm-xen: the host scheduler preempts vCPU's thread inside KVM_RUN now and runs it " +
        "again after for (kvm_sched_out with vcpu->preempted, kvm_sched_in): the vCPU is " +
        "runnable meanwhile (kvm_arch_vcpu_put -> kvm_xen_runstate_set_preempted, with a " +
        "hypercall MSR configured), executes and takes nothing, and its entry makes it running; " +
        "refused for a halted vCPU (HLT, SCHEDOP_block / poll), whose thread sleeps off the run " +
        "queue: KVM would not mark it preempted",
      params: [
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
        { name: "for", type: { kind: "duration" }, doc: "how long the thread waits to run" },
      ],
      run: (vm, _c, a) => {
        const x = need(xenOf, vm, "kvm sched_out");
        x.kvm.schedOut(a.vcpu as number, a.for as number);
        return 0;
      },
    },
    {
      actor: "vmm",
      name: "kvm xen_vcpu_set_attr",
      doc: "KVM_XEN_VCPU_SET_ATTR: vcpu_info (gpa), vcpu_time_info (gpa of a second time " +
        "record KVM keeps, VCPU_TIME_INFO; all-ones turns it off), upcall_vector, or vcpu_id " +
        "(VCPU_ID: the Xen vCPU number KVM's in-kernel VCPUOP_{set,stop}_singleshot_timer " +
        "compare with their target; it starts at the vCPU index; KVM_MAX_VCPUS (4096) or " +
        "more is -EINVAL)",
      params: [
        {
          name: "type",
          type: {
            kind: "enum",
            values: ["vcpu_info", "vcpu_time_info", "upcall_vector", "vcpu_id"],
          },
          doc: "the attribute",
          positional: true,
        },
        { name: "vcpu", type: VCPU, doc: "the vCPU" },
        { name: "value", type: { kind: "u64" }, doc: "its value" },
      ],
      returns: "0, -EINVAL, or -EFAULT for an area outside guest RAM (no memslot)",
      run: (vm, _c, a) => {
        const k = needVcpu(xenOf, vm, "kvm xen_vcpu_set_attr", a.vcpu as number).kvm;
        const v = a.value as bigint;
        if (a.type === "vcpu_info") return k.setVcpuInfo(a.vcpu as number, v);
        if (a.type === "vcpu_time_info") return k.setVcpuTimeInfo(a.vcpu as number, v);
        if (a.type === "vcpu_id") return k.setVcpuId(a.vcpu as number, v);
        return v > 255n ? -XEN_ERRNO.EINVAL : k.setVcpuUpcallVector(a.vcpu as number, Number(v));
      },
    },
    stepwise<M>(
      {
        actor: "vmm",
        name: "xen copy_vcpu_info",
        doc:
          "the VMM copies a vCPU's current vcpu_info to gpa (before setting KVM's attribute); a memcpy, which 'scn explore' splits before evtchn_pending_sel",
        params: [
          { name: "vcpu", type: VCPU, doc: "the vCPU" },
          { name: "gpa", type: U32, doc: "destination" },
        ],
        returns: "0 or -EINVAL",
      },
      VMM_COPY_STEPS,
      (vm, _c, a) =>
        need(xenOf, vm, "xen copy_vcpu_info").domain.areas.vmmCopySteps(
          a.vcpu as number,
          a.gpa as number,
        ),
    ),
  ];
})();

/**
 * The readable state paths, for a VM type `M`.
 *
 * @example
 * ```ts
 * import { X86Vm } from "../x86/vm.ts";
 * xenState<X86Vm>().map((s) => s.pattern); // ["shared.evtchn_pending[#]", ...]
 * ```
 */
export function xenState<M extends XenVm>(): readonly StateSpec<M>[] {
  return XEN_STATE;
}

// Built once, as XEN_COMMANDS is.
const XEN_STATE: readonly StateSpec<XenVm>[] = ((): StateSpec<XenVm>[] => {
  type M = XenVm;
  const xenOf: XenOf<M> = (vm) => vm.xen;
  const bit = { kind: "int", min: 0, max: 1 } as const;
  const num = { kind: "u64" } as const;
  const d = (vm: M) => need(xenOf, vm, "state").domain;
  const out: StateSpec<M>[] = [];
  for (const name of ["evtchn_pending", "evtchn_mask"]) {
    out.push({
      pattern: `shared.${name}[#]`,
      type: bit,
      doc: `shared_info.${name}: the bit of port n`,
      get: (vm, [p]) => {
        const dom = d(vm);
        const f = dom.layout().sharedInfo.find((x) => x.name === name)!;
        if (dom.sharedInfo() < 0 || p >= f.bits!) return 0;
        return dom.mem.testBit(dom.sharedInfo() + f.offset, p) ? 1 : 0;
      },
      bounds: () => [4096],
    });
  }
  for (const f of LAYOUT_64.sharedInfo) {
    if (f.kind === "bitmap" || f.kind === "bytes") continue;
    out.push({
      pattern: `shared.${f.name}`,
      type: num,
      doc: `shared_info.${f.name}: ${f.doc}`,
      get: (vm) => {
        const dom = d(vm);
        const g = dom.layout().sharedInfo.find((x) => x.name === f.name)!;
        return dom.sharedInfo() < 0
          ? 0n
          : dom.mem.readBig(dom.sharedInfo() + g.offset, (g.size * 8) as AccessWidth);
      },
    });
  }
  for (const f of LAYOUT_64.vcpuInfo) {
    out.push({
      pattern: `vcpu#.info.${f.name}`,
      type: num,
      doc: `vcpu_info.${f.name}: ${f.doc}`,
      get: (vm, [c]) => d(vm).areas.read(c, f.name),
    });
  }
  for (const f of LAYOUT_64.vcpuInfo) {
    out.push({
      pattern: `shared.vcpu_info[#].${f.name}`,
      type: num,
      doc: `the default vcpu_info slot n inside shared_info (used or not): ${f.name}`,
      get: (vm, [n]) => {
        const dom = d(vm);
        const g = dom.layout().vcpuInfo.find((x) => x.name === f.name)!;
        const si = dom.sharedInfo();
        if (si < 0) return 0n;
        return dom.mem.readBig(
          si + defaultVcpuInfoOffset(n) + g.offset,
          (g.size * 8) as AccessWidth,
        );
      },
      bounds: () => [XEN_LEGACY_MAX_VCPUS],
    });
  }
  out.push({
    pattern: "vcpu#.info.evtchn_pending_sel[#]",
    type: bit,
    doc: "one selector bit",
    get: (vm, [c, b]) => Number((d(vm).areas.read(c, "evtchn_pending_sel") >> BigInt(b)) & 1n),
    bounds: (vm) => [d(vm).vcpuCount, 64],
  });
  const xv = (name: string, doc: string, get: (dom: XenDomain, c: number) => Val) =>
    out.push({
      pattern: `vcpu#.xen.${name}`,
      type: { kind: "int", min: -1, max: 0xffff_ffff },
      doc,
      get: (vm, [c]) => get(d(vm), c),
    });
  xv(
    "upcall_pending",
    "evtchn_upcall_pending as the hypervisor reads it",
    (x, c) => x.upcallPending(c) ? 1 : 0,
  );
  xv("upcall_vector", "the per-vCPU upcall vector (0 = none)", (x, c) => x.callback.perVcpu[c]);
  xv("global_vector", "the global callback vector offered now, or -1", (x, c) => x.globalVector(c));
  xv(
    "vcpu_info",
    "GPA of the vcpu_info, -1 when the guest cannot see it",
    (x, c) => x.areas.gpa(c),
  );
  xv(
    "blocked",
    "1 while in SCHEDOP_block or SCHEDOP_poll",
    (x, c) => x.timers.vcpus[c].blocked ? 1 : 0,
  );
  xv("polling", "1 while in SCHEDOP_poll", (x, c) => x.timers.vcpus[c].polling ? 1 : 0);
  xv(
    "event_callback_set",
    "PV: 1 once an event callback is registered (CALLBACKOP_register, set_callbacks)",
    (x, c) => x.pvCallbacks[c].event !== 0n ? 1 : 0,
  );
  out.push({
    pattern: "xen.runstate_update_flag",
    type: { kind: "int", min: 0, max: 1 },
    doc:
      "1 while runstate copies set XEN_RUNSTATE_UPDATE (Xen: VMASST_TYPE_runstate_update_flag; " +
      "kvm-xen: KVM's RUNSTATE_UPDATE_FLAG attribute)",
    get: (vm) => d(vm).runstate.updateFlag ? 1 : 0,
  });
  out.push({
    pattern: "xen.crashed",
    type: { kind: "int", min: 0, max: 1 },
    doc: "1 once Xen crashed the domain (domain_crash); its vCPUs run no more",
    get: (vm) => d(vm).crashed !== "" ? 1 : 0,
  });
  out.push({
    pattern: "vcpu#.xen.woke_by",
    type: { kind: "enum", values: ["", "event", "timeout", "kick"] },
    doc: "why the last block or poll ended",
    get: (vm, [c]) => d(vm).timers.vcpus[c].wokeBy,
  });
  out.push({
    pattern: "xen.fifo",
    type: bit,
    doc: "1 once the domain uses the FIFO ABI",
    get: (vm) => d(vm).evtchn.fifo.active ? 1 : 0,
  });
  out.push({
    pattern: "fifo.word[#]",
    type: { kind: "int", min: 0, max: 0xffff_ffff },
    doc: "the port's FIFO event word (0 while its page is missing)",
    get: (vm, [p]) => d(vm).evtchn.fifo.word(p),
    bounds: () => [FIFO.NR_CHANNELS],
  });
  for (
    const [name, b] of [["pending", FIFO.PENDING], ["masked", FIFO.MASKED], [
      "linked",
      FIFO.LINKED,
    ], ["busy", FIFO.BUSY]] as const
  ) {
    out.push({
      pattern: `fifo.word[#].${name}`,
      type: bit,
      doc: `the ${name.toUpperCase()} bit (${b}) of the port's event word`,
      get: (vm, [p]) => (d(vm).evtchn.fifo.word(p) >>> b) & 1,
      bounds: () => [FIFO.NR_CHANNELS],
    });
  }
  out.push({
    pattern: "fifo.word[#].link",
    type: { kind: "int", min: 0, max: FIFO.LINK_MASK },
    doc: "LINK (bits 16:0): the next port in the queue",
    get: (vm, [p]) => d(vm).evtchn.fifo.word(p) & FIFO.LINK_MASK,
    bounds: () => [FIFO.NR_CHANNELS],
  });
  out.push({
    pattern: "vcpu#.fifo.ready",
    type: { kind: "int", min: 0, max: 0xffff_ffff },
    doc: "READY of the vCPU's control block: bit q = queue q has a head",
    get: (vm, [c]) => d(vm).evtchn.fifo.ready(c),
  });
  out.push({
    pattern: "vcpu#.fifo.head[#]",
    type: { kind: "int", min: 0, max: 0xffff_ffff },
    doc: "HEAD[q] of the vCPU's control block",
    get: (vm, [c, q]) => d(vm).evtchn.fifo.head(c, q),
    bounds: (vm) => [d(vm).vcpuCount, FIFO.MAX_QUEUES],
  });
  // ---- hypercall registers and KVM's exits to the VMM ---------------------------------
  const k = (vm: M) => need(xenOf, vm, "state").kvm;
  const u64 = { kind: "u64" } as const;
  for (const r of GPRS) {
    out.push({
      pattern: `vcpu#.regs.${r}`,
      type: u64,
      doc: `${r.toUpperCase()} as the hypercall ABI uses it` +
        (r === "rax" ? ": the hypercall number in, the result out" : ""),
      get: (vm, [c]) => d(vm).regs[c].get(r),
    });
  }
  out.push({
    pattern: "vcpu#.regs.rax_signed",
    type: {
      kind: "int",
      min: Number.MIN_SAFE_INTEGER,
      max: Number.MAX_SAFE_INTEGER,
      what: "RAX read as a signed 64-bit number",
      decimal: true,
    },
    doc: "RAX read signed, as the guest reads a hypercall's long result (-errno on failure)",
    get: (vm, [c]) => {
      const v = BigInt.asIntN(64, d(vm).regs[c].get("rax"));
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v;
    },
  });
  out.push({
    pattern: "vcpu#.exit.reason",
    type: { kind: "enum", values: ["none", "xen_hcall"] },
    doc: "kvm-xen: the last KVM_EXIT_XEN (exit_reason 34) of the vCPU, of type " +
      "KVM_EXIT_XEN_HCALL, or none yet (vcpuN.exit_reason does not show Xen exits yet)",
    get: (vm, [c]) => k(vm).exits[c].reason,
  });
  const exitNum = (name: string, doc: string, get: (e: XenExit) => Val) =>
    out.push({
      pattern: `vcpu#.exit.${name}`,
      type: name === "input" || name === "result" ? u64 : { kind: "int", min: 0, max: 0xffff_ffff },
      doc: `kvm-xen: ${doc}`,
      get: (vm, [c]) => get(k(vm).exits[c]),
    });
  exitNum("count", "how many KVM_EXIT_XEN exits the vCPU made", (e) => e.count);
  exitNum(
    "longmode",
    "u.hcall.longmode of the last exit: 1 for a 64-bit caller",
    (e) => e.longmode,
  );
  exitNum("cpl", "u.hcall.cpl of the last exit", (e) => e.cpl);
  exitNum("input", "u.hcall.input of the last exit: the hypercall number", (e) => e.input);
  exitNum("result", "u.hcall.result as the VMM last wrote it", (e) => e.result);
  exitNum(
    "waiting",
    "1 while a 'xen hypercall' waits for 'kvm xen_hcall_result'",
    (e) => e.waiting ? 1 : 0,
  );
  out.push({
    pattern: "vcpu#.exit.params[#]",
    type: u64,
    doc: "kvm-xen: u.hcall.params[i] of the last exit (64-bit: RDI, RSI, RDX, R10, R8, R9; " +
      "32-bit: EBX, ECX, EDX, ESI, EDI, EBP)",
    get: (vm, [c, i]) => k(vm).exits[c].params[i],
    bounds: (vm) => [d(vm).vcpuCount, 6],
  });
  out.push({
    pattern: "kvm.eventfd[#]",
    type: { kind: "int", min: 0, max: Number.MAX_SAFE_INTEGER },
    doc: "kvm-xen: how many times KVM signalled eventfd n for an intercepted EVTCHNOP_send",
    get: (vm, [fd]) => k(vm).eventfds.get(fd) ?? 0,
    bounds: () => [EVENTFDS],
  });
  out.push({
    pattern: "kvm.evtchn[#].type",
    type: { kind: "enum", values: ["none", "interdomain", "ipi"] },
    doc: "kvm-xen: whether KVM intercepts EVTCHNOP_send on port n (KVM_XEN_ATTR_TYPE_EVTCHN), " +
      "and as which type",
    get: (vm, [p]) => {
      const e = k(vm).evtchnPorts.get(p);
      return !e ? "none" : e.type === EVTCHNSTAT.ipi ? "ipi" : "interdomain";
    },
    bounds: () => [4096],
  });
  for (
    const [name, doc, get] of [
      ["deliver_port", "the port KVM raises (0: it signals an eventfd)", (e) => e.port],
      ["vcpu", "the KVM vcpu_id it raises the port on", (e) => e.vcpu],
      ["eventfd", "the eventfd it signals, or -1", (e) => e.eventfd],
    ] as const satisfies readonly (readonly [string, string, (e: EvtchnIntercept) => number])[]
  ) {
    out.push({
      pattern: `kvm.evtchn[#].${name}`,
      type: { kind: "int", min: -1, max: 0xffff_ffff },
      doc: `kvm-xen: for an intercepted send port n, ${doc} (-1 when not intercepted)`,
      get: (vm, [p]) => {
        const e = k(vm).evtchnPorts.get(p);
        return e ? get(e) : -1;
      },
      bounds: () => [4096],
    });
  }
  out.push({
    pattern: "xen.layout",
    type: { kind: "int", min: 32, max: 64 },
    doc: "the latched shared_info layout: 64 or 32",
    get: (vm) => d(vm).layout().width,
  });
  out.push({
    pattern: "xen.callback",
    type: { kind: "enum", values: ["none", "gsi", "pci_intx", "vector"] },
    doc: "the HVM_PARAM_CALLBACK_IRQ method",
    get: (vm) => d(vm).callback.via.type,
  });
  out.push({
    pattern: "xen.callback_gsi",
    type: { kind: "int", min: -1, max: 255 },
    doc: "the GSI of a GSI or PCI INTx callback (INTx: Xen's wiring of device and pin), else -1",
    get: (vm) => {
      const via = d(vm).callback.via;
      return via.type === "gsi" || via.type === "pci_intx" ? via.gsi : -1;
    },
  });
  out.push({
    pattern: "xen.callback_line",
    type: bit,
    doc: "1 while the GSI/INTx callback line is asserted",
    get: (vm) => d(vm).callback.lineAsserted ? 1 : 0,
  });
  out.push({
    pattern: "xen.evtchn[#].vcpu",
    type: { kind: "int", min: 0, max: 0xffff },
    doc: "the port's notify vCPU",
    get: (vm, [p]) => d(vm).evtchn.channel(p)?.notifyVcpu ?? 0,
  });
  out.push({
    pattern: "xen.evtchn[#].state",
    type: {
      kind: "enum",
      values: ["invalid", "free", "reserved", "unbound", "interdomain", "pirq", "virq", "ipi"],
    },
    doc: "the port's state",
    get: (vm, [p]) => d(vm).evtchn.channel(p)?.state ?? "invalid",
  });
  return out;
})();

/**
 * Whether a state path exists only under KVM's Xen emulation (KVM's exits
 * to the VMM, its eventfds and EVTCHNOP_send interception table), for the
 * platform's `requires`.
 *
 * @example
 * ```ts
 * kvmXenOnlyPath("vcpu#.exit.reason"); // true
 * kvmXenOnlyPath("vcpu#.regs.rax");    // false
 * ```
 */
export function kvmXenOnlyPath(pattern: string): boolean {
  return pattern.startsWith("vcpu#.exit.") || pattern.startsWith("kvm.");
}

/**
 * Named constants for scenarios: errno names, DOMID_SELF and the
 * KVM_XEN_EVTCHN_* flags of `kvm xen_evtchn_attr`.
 *
 * @example
 * ```ts
 * XEN_CONSTANTS.ENOSPC; // 28
 * ```
 */
export const XEN_CONSTANTS: Readonly<Record<string, number>> = {
  ...XEN_ERRNO,
  DOMID_SELF,
  KVM_XEN_EVTCHN_DEASSIGN: KVM_XEN_EVTCHN.DEASSIGN,
  KVM_XEN_EVTCHN_UPDATE: KVM_XEN_EVTCHN.UPDATE,
  KVM_XEN_EVTCHN_RESET: KVM_XEN_EVTCHN.RESET,
};
