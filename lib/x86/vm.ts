/**
 * One x86 VM as KVM builds it: vCPUs with local APICs on an APIC bus, and,
 * depending on the irqchip mode, the in-kernel 8259A pair and IOAPIC behind
 * KVM's GSI routing.
 *
 * - `kernel` (KVM_CREATE_IRQCHIP): PIC pair, IOAPIC (24 pins) and LAPICs in
 *   the kernel; KVM's default routing; KVM_INTERRUPT refused (-ENXIO).
 * - `split` (KVM_CAP_SPLIT_IRQCHIP with 24 reserved I/O APIC pins): only
 *   the LAPICs are in the kernel; GSIs are MSI routes, PIC interrupts arrive
 *   through KVM_INTERRUPT, and the EOI of a vector a level MSI route of GSI
 *   0-23 sends to the vCPU exits with KVM_EXIT_IOAPIC_EOI
 *   ({@link SplitEoiExits}).
 * - `userspace` (no KVM_CREATE_IRQCHIP): no in-kernel LAPIC, PIC or I/O
 *   APIC. Userspace injects with KVM_INTERRUPT after asking for an
 *   interrupt window; KVM_IRQ_LINE is -ENXIO, KVM_SIGNAL_MSI and
 *   KVM_SET_GSI_ROUTING -EINVAL. Each vCPU still carries a {@link Lapic}
 *   object, which holds IA32_APIC_BASE (KVM keeps that MSR without an
 *   in-kernel APIC) and receives nothing.
 *
 * The LAPIC timers run on the engine's event queue. `lapic x2apic` puts
 * every LAPIC in x2APIC mode at creation (as userspace's KVM_SET_MSRS of
 * IA32_APIC_BASE would); `x2apic_api` holds KVM_CAP_X2APIC_API's flags;
 * `aps wait-for-sipi` starts the APs in KVM_MP_STATE_UNINITIALIZED as KVM
 * does, instead of running (the default, so scenarios need no INIT/SIPI).
 *
 * With `hypervisor xen` or `kvm-xen` the VM also carries a Xen domain
 * (`lib/xen`): event channels, shared_info and vcpu_info in guest memory,
 * the upcall, timers and blocking hypercalls. The glue here
 * ({@link XenHost}) is how that model reaches the vCPUs: a per-vCPU upcall
 * vector sets IRR (Xen: `vlapic_set_irq`; KVM: a fixed MSI to the vCPU's
 * APIC ID), a GSI callback drives the line through the routing table, a
 * kick wakes a blocked vCPU, and the global callback vector is offered by
 * the vCPU itself ({@link X86Cpu.globalVector}). `xen` models Xen's vIOAPIC
 * with 48 pins (Xen `VIOAPIC_NUM_PINS`); `kvm-xen` keeps KVM's 24 and adds
 * Xen event-channel routing entries.
 *
 * Source: Linux `Documentation/virt/kvm/api.rst` (KVM_CREATE_IRQCHIP,
 * KVM_CAP_SPLIT_IRQCHIP, KVM_INTERRUPT), `arch/x86/kvm/irq.c`.
 *
 * @module
 */
import { arenaU8 } from "../core/arena.ts";
import { maskedWords, maskedWordsSize } from "../core/state_words.ts";
import type { ModelEnv, VmModel } from "../core/platform.ts";
import { hashTrace, type Trace } from "../core/trace.ts";
import { ApicBus, type LowestPriorityPolicy } from "./apic_bus.ts";
import { Accept, Lapic } from "./lapic.ts";
import { ApicBaseBit } from "./lapic_registers.ts";
import { KvmRun, SplitEoiExits, type SplitEoiHost } from "./kvm_run.ts";
import type { HvSynic } from "./hyperv_synic.ts";
import type { HvStimer } from "./hyperv_stimer.ts";
import type { HvPartition } from "./hyperv_hypercall.ts";
import { HV_SYNIC_STIMER_COUNT } from "./hyperv_abi.ts";
import { hypervParts } from "./hyperv_parts.ts";
import { KvmPvEoi } from "./kvm_pv_eoi.ts";
import { KVM_SUPPORTED_PV_FEATURES, type PvCpuid } from "./kvm_pv_features.ts";
import type { HvVcpu } from "./hyperv_vcpu.ts";
import { Ioapic, IoapicVersion } from "./ioapic.ts";
import { GuestTsc } from "./guest_tsc.ts";
import { QEMU_IOAPIC_PINS, QemuIoapic, type QemuIoapicRoute } from "./qemu_ioapic.ts";
import { decodeMsi, decodeMsiInto, msiAddressLow, MsiDecoder, MsiStatus } from "./msi.ts";
import { IoapicHandledVectors } from "./ioapic_handled_vectors.ts";
import { testVector } from "../core/vector_set.ts";
import { I8259Pair, type PicSpecialMaskPolicy } from "./i8259.ts";
import {
  GsiRouting,
  KVM_IOAPIC_NUM_PINS,
  KvmIrqchip,
  type RoutingEntry,
  type XenRouteTarget,
} from "./kvm_routing.ts";
import { type ExtIntSource, HeldExtInt, type HypervisorHooks, X86Cpu } from "./cpu.ts";
import { EEXIST, EINVAL, ENXIO } from "./errno.ts";
import { type ApicMessage, type EoiListener, fixedMessage } from "./apic_message.ts";
import type { EventQueue } from "../core/event_queue.ts";
import type { XenDomain, XenHost } from "../xen/domain.ts";
import type { XenDomainType } from "../xen/evtchn.ts";
import type { KvmRunstateArea } from "../xen/runstate.ts";
import { NR_HVM_DOMU_IRQS, XEN_HYPERCALL_MSR } from "../xen/abi.ts";
import type { XenMachine } from "../xen/platform.ts";
import type { GuestWidth } from "../xen/layout.ts";
import { GuestMemory } from "../core/guest_memory.ts";
import { xenMachine } from "./xen_parts.ts";
import { xenParts } from "../xen/parts.ts";
import { Irqfds } from "./irqfd.ts";
import { KvmTsc, KvmTscSync } from "./tsc.ts";
import { KvmClock } from "./kvmclock.ts";
import { type HostCpu, HYPERCALL_INSN, nativeHypercall } from "./kvm_quirks.ts";
import { CommandInputError } from "../core/diagnostic.ts";
import type { StateHash } from "../core/platform.ts";

/**
 * Guest RAM of a VM without a Xen domain, in bytes (a Xen domain brings its
 * own, holding shared_info and the hypercall page): 2 MiB, allocated at the
 * first access so that VMs which never touch memory cost nothing.
 *
 * @example
 * ```ts
 * X86_RAM_SIZE; // 0x200000
 * ```
 */
export const X86_RAM_SIZE = 0x200000;

/**
 * A vCPU's CPUID bits the model follows (KVM_SET_CPUID2's CPUID.1:ECX
 * x2APIC and TSC_DEADLINE, KVM_CPUID_FEATURES.EAX) and KVM's
 * `pv_cpuid.enforce` (KVM_CAP_ENFORCE_PV_FEATURE_CPUID).
 */
export interface VcpuCpuid extends PvCpuid {
  /** CPUID.1:ECX[21]. */
  readonly x2apic: boolean;
  /** CPUID.1:ECX[24]. */
  readonly tscDeadline: boolean;
}

/**
 * A vCPU's {@link VcpuCpuid} before any KVM_SET_CPUID2: KVM_GET_SUPPORTED_CPUID's
 * bits (x2APIC, TSC_DEADLINE, {@link KVM_SUPPORTED_PV_FEATURES}), enforcement off.
 *
 * @example
 * ```ts
 * DEFAULT_VCPU_CPUID.pvEnforce; // false
 * ```
 */
export const DEFAULT_VCPU_CPUID: VcpuCpuid = Object.freeze({
  x2apic: true,
  tscDeadline: true,
  kvmFeatures: KVM_SUPPORTED_PV_FEATURES,
  pvEnforce: false,
});

/**
 * KVM's irqchip modes: KVM_CREATE_IRQCHIP, KVM_CAP_SPLIT_IRQCHIP, or neither.
 *
 * @example
 * ```ts
 * const mode: IrqchipMode = "userspace"; // QEMU's kernel-irqchip=off
 * ```
 */
export type IrqchipMode = "kernel" | "split" | "userspace";

/**
 * KVM_CAP_X2APIC_API flags (api.rst).
 *
 * @example
 * ```ts
 * X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk; // 3
 * ```
 */
export const X2apicApi = {
  /** KVM_X2APIC_API_USE_32BIT_IDS. */
  Use32BitIds: 1,
  /** KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK. */
  DisableBroadcastQuirk: 2,
  /**
   * KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST: directed EOI offered and SVR
   * bit 12 honoured; split irqchip only.
   */
  EnableSuppressEoiBroadcast: 4,
  /** KVM_X2APIC_DISABLE_SUPPRESS_EOI_BROADCAST: directed EOI neither offered nor honoured. */
  DisableSuppressEoiBroadcast: 8,
} as const;

/** `KVM_X2APIC_API_VALID_FLAGS` of current Linux (x86.c): every flag of {@link X2apicApi}. */
export const X2APIC_API_VALID_FLAGS = X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk |
  X2apicApi.EnableSuppressEoiBroadcast | X2apicApi.DisableSuppressEoiBroadcast;

/**
 * KVM's `enum kvm_suppress_eoi_broadcast_mode` (kvm_host.h, Linux 6.19):
 * what the two suppress-EOI-broadcast flags of KVM_CAP_X2APIC_API chose,
 * `quirked` while the VMM set neither (the legacy behaviour).
 */
export type EoiBroadcastMode = "quirked" | "enabled" | "disabled";

/**
 * Why KVM_CAP_X2APIC_API refuses `flags` with -EINVAL in `irqchip` mode
 * (`kvm_vm_ioctl_enable_cap`, in its order), or undefined if it takes them:
 * an unknown flag, ENABLE and DISABLE of EOI-broadcast suppression
 * together, or ENABLE without a split irqchip (KVM's I/O APIC has no EOI
 * register to take a directed EOI).
 *
 * @example
 * ```ts
 * x2apicApiRefusal(4, "kernel"); // "KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST needs a split irqchip"
 * ```
 */
export function x2apicApiRefusal(flags: bigint | number, irqchip: IrqchipMode): string | undefined {
  const f = BigInt(flags);
  if ((f & ~BigInt(X2APIC_API_VALID_FLAGS)) !== 0n) {
    return `flags beyond KVM_X2APIC_API_VALID_FLAGS (${X2APIC_API_VALID_FLAGS})`;
  }
  const both = BigInt(X2apicApi.EnableSuppressEoiBroadcast | X2apicApi.DisableSuppressEoiBroadcast);
  if ((f & both) === both) {
    return "KVM_X2APIC_ENABLE_ and _DISABLE_SUPPRESS_EOI_BROADCAST together";
  }
  if ((f & BigInt(X2apicApi.EnableSuppressEoiBroadcast)) !== 0n && irqchip !== "split") {
    return "KVM_X2APIC_ENABLE_SUPPRESS_EOI_BROADCAST needs a split irqchip";
  }
  return undefined;
}

/**
 * The suppress-EOI-broadcast mode KVM_CAP_X2APIC_API's `flags` leave after
 * `mode` (`kvm_vm_ioctl_enable_cap`): a call with neither flag keeps it.
 *
 * @example
 * ```ts
 * eoiBroadcastModeAfter("quirked", 8); // "disabled"
 * ```
 */
export function eoiBroadcastModeAfter(mode: EoiBroadcastMode, flags: number): EoiBroadcastMode {
  if (flags & X2apicApi.EnableSuppressEoiBroadcast) return "enabled";
  if (flags & X2apicApi.DisableSuppressEoiBroadcast) return "disabled";
  return mode;
}

/**
 * KVM_CAP_SPLIT_IRQCHIP args[0] as QEMU passes it: the I/O APIC's 24 pins.
 * GSIs below it belong to userspace's I/O APIC (their level MSI routes make
 * EOI exits).
 *
 * @example
 * ```ts
 * SPLIT_RESERVED_PINS; // 24
 * ```
 */
export const SPLIT_RESERVED_PINS = 24;

/**
 * `struct kvm_clock_data`'s flags (include/uapi/linux/kvm.h): what
 * KVM_GET_CLOCK reports; KVM_SET_CLOCK takes any of them
 * (KVM_CLOCK_VALID_FLAGS) and acts on KVM_CLOCK_REALTIME only.
 *
 * @example
 * ```ts
 * KVM_CLOCK.REALTIME; // 4
 * ```
 */
export const KVM_CLOCK = { TSC_STABLE: 0x2, REALTIME: 0x4, HOST_TSC: 0x8 } as const;
/** KVM_CLOCK_VALID_FLAGS (x86.c): a KVM_SET_CLOCK flag outside them is -EINVAL. */
const KVM_CLOCK_VALID_FLAGS = KVM_CLOCK.TSC_STABLE | KVM_CLOCK.REALTIME | KVM_CLOCK.HOST_TSC;

/**
 * Whose hypervisor runs the guest: plain KVM, Xen, or KVM's Xen emulation
 * (Linux `arch/x86/kvm/xen.c` with a VMM such as QEMU).
 *
 * @example
 * ```ts
 * const h: Hypervisor = "kvm-xen";
 * ```
 */
export type Hypervisor = "kvm" | "xen" | "kvm-xen";

/**
 * Pins of Xen's vIOAPIC for an HVM guest (`VIOAPIC_NUM_PINS`: 16 ISA IRQs
 * and 32 PCI INTx GSIs).
 *
 * @example
 * ```ts
 * XEN_VIOAPIC_PINS; // 48
 * ```
 */
export const XEN_VIOAPIC_PINS: number = NR_HVM_DOMU_IRQS;

/** How a VM is built. */
export interface X86VmConfig {
  /** vCPUs, created with vCPU ids (and APIC IDs) 0..vcpus-1. */
  vcpus: number;
  /** KVM_CREATE_IRQCHIP (`kernel`), KVM_CAP_SPLIT_IRQCHIP (`split`), or neither. */
  irqchip: IrqchipMode;
  /** How a lowest-priority interrupt picks its CPU (KVM's and QEMU's choices). */
  lowestPriority: LowestPriorityPolicy;
  /** Initial GSI routing in kernel mode: KVM's default or QEMU's (IRQ0 on IOAPIC pin 2). */
  routing: "kvm" | "qemu";
  /** Default `kvm`: no Xen domain. */
  hypervisor?: Hypervisor;
  /** Xen guests: the word size the shared_info layout starts latched to. Default 64. */
  guestWidth?: GuestWidth;
  /** Xen: the toolstack's event-channel port cap (xl `max_event_channels`). Default 1023. */
  maxEvtchnPort?: number;
  /**
   * `hypervisor xen`: the domain type; a PVH domain has no vPIC or vIOAPIC,
   * a PV one no emulated interrupt controller at all. Default `hvm`.
   */
  xenDomain?: XenDomainType;
  /** `hypervisor kvm-xen`: when KVM copies a runstate area it is given. Default `copy_on_set`. */
  kvmRunstateArea?: KvmRunstateArea;
  /** Whom an eventfd's irqfd excludes, by kernel version (see `lib/x86/irqfd.ts`). Default `exclusive`. */
  irqfdEventfd?: "exclusive" | "per_vm";
  /** KVM_CAP_X86_APIC_BUS_CYCLES_NS made before the vCPUs: the APIC bus cycle in ns. Default 1. */
  apicBusCycleNs?: number;
  /** The Linux release whose KVM_CHECK_EXTENSION answers the VMM gets (`kvm_caps.ts`). Default `newest`. */
  kvmCaps?: "linux_6_10" | "linux_6_11" | "newest";
  /** `hypervisor kvm-xen`: the wall time KVM writes into shared_info, in seconds. Default 0. */
  kvmWallclockSec?: number;
  /** `hypervisor xen`: HVM_PARAM_VPT_ALIGN, a periodic vLAPIC timer's ticks on multiples of its period. Default true (xl's). */
  xenVptAlign?: boolean;
  /** KVM keeps its master clock (a stable-TSC host): KVM_GET_CLOCK's flags and realtime. Default false. */
  kvmMasterClock?: boolean;
  /** AMD AVIC is active (`apicv amd_avic`): the LAPICs keep ICR2 whole. Default false. */
  amdAvic?: boolean;
  /** The host CPU's vendor (`host_cpu`): which hypercall instruction is native. Default `intel`. */
  hostCpu?: HostCpu;
  /** The guest runs in 64-bit mode (`cpu_mode long`, the default), else 32-bit protected mode. */
  longMode?: boolean;
  /** The LAPIC mode every vCPU starts in. Default `xapic`. */
  lapicMode?: "xapic" | "x2apic";
  /** KVM_CAP_X2APIC_API flags ({@link X2apicApi}). Default 0. */
  x2apicApi?: number;
  /** KVM_CAP_SPLIT_IRQCHIP args[0]: I/O APIC pins userspace reserves. Default 24. */
  splitPins?: number;
  /** IOAPICVER bits 7:0: 0x11 (KVM, default) or 0x20 (with the EOI register, as QEMU's). */
  ioapicVersion?: number;
  /**
   * KVM_SET_TSC_KHZ on the VM before its vCPUs (`kvm->arch.default_tsc_khz`,
   * KVM_CAP_VM_TSC_CONTROL): every vCPU's TSC rate in kHz. Default 0, the
   * host's (1 GHz).
   */
  tscKhz?: number;
  /**
   * `irqchip split`: whose I/O APIC userspace has. `none` (default): the
   * scenario is the VMM and plays it with KVM's ioctls; `qemu`: QEMU's
   * (`lib/x86/qemu_ioapic.ts`), its routes reserved at creation.
   */
  splitIoapic?: "none" | "qemu";
  /** `split_ioapic qemu { version N }`: QEMU's I/O APIC's version property, 0x20 (default) or 0x11. */
  qemuIoapicVersion?: number;
  /** Whether the PIC applies OCW3 special mask mode ({@link PicSpecialMaskPolicy}). */
  picSpecialMask?: PicSpecialMaskPolicy;
  /**
   * KVM_SET_BOOT_CPU_ID made before the vCPUs (`kvm->arch.bsp_vcpu_id`):
   * the vCPU with this ID is the BSP (IA32_APIC_BASE.BSP, LINT0 re-enabled
   * as ExtINT, RUNNABLE with an in-kernel LAPIC); every other vCPU is an
   * AP, and with an ID no vCPU has there is no BSP. Default 0.
   */
  bootCpu?: number;
  /** `wait-for-sipi`: APs start KVM_MP_STATE_UNINITIALIZED (KVM's way). Default `running`. */
  aps?: "running" | "wait-for-sipi";
  /**
   * KVM_ENABLE_CAP on every vCPU before it ran ({@link HvSynic}): 1
   * KVM_CAP_HYPERV_SYNIC, 2 KVM_CAP_HYPERV_SYNIC2 (SIMP and SIEFP pages not
   * zeroed); 0 none. Either implies {@link X86VmConfig.hypervCpuid}. Default 0.
   */
  hypervSynic?: 0 | 1 | 2;
  /** KVM_SET_CPUID2 gave every vCPU Hyper-V's CPUID leaves (`hyperv_enabled`). Default false. */
  hypervCpuid?: boolean;
}

/**
 * Feeds `h` a VM's settings field by field: the generic walk (a key list
 * and a shape check) was ~6% of every fingerprint `scn explore` takes. They
 * never change after creation and every run of a search builds its VM from
 * the same ones, so a field missing here could not merge two states of one
 * search; all are fed all the same.
 */
function hashConfig(h: StateHash, c: X86VmConfig): void {
  h.value(c.vcpus);
  h.value(c.irqchip);
  h.value(c.lowestPriority);
  h.value(c.routing);
  h.value(c.hypervisor);
  h.value(c.guestWidth);
  h.value(c.maxEvtchnPort);
  h.value(c.xenDomain);
  h.value(c.kvmRunstateArea);
  h.value(c.irqfdEventfd);
  h.value(c.kvmCaps);
  h.value(c.kvmWallclockSec);
  h.value(c.xenVptAlign);
  h.value(c.kvmMasterClock);
  h.value(c.amdAvic);
  h.value(c.hostCpu);
  h.value(c.longMode);
  h.value(c.lapicMode);
  h.value(c.x2apicApi);
  h.value(c.splitPins);
  h.value(c.ioapicVersion);
  h.value(c.qemuIoapicVersion);
  h.value(c.picSpecialMask);
  h.value(c.aps);
  h.value(c.hypervSynic);
  h.value(c.hypervCpuid);
}

/**
 * The x86 VMs of one run that assigned an irqfd, by the environment the
 * engine gives them all: the VMs of one VMM process, whose eventfds KVM's
 * host-wide irqfd rule sees. Each run has its own environment, so nothing
 * outlives it.
 */
const VMS_OF_RUN = new WeakMap<ModelEnv, X86Vm[]>();

/**
 * Where {@link X86Vm.hashFields} writes its scalars, fed in one
 * `StateHash.block` call (a call per word cost more than hashing it):
 * grown for a VM with more vCPUs (the MMIO read cache's words).
 */
let VM_HASHED = new Int32Array(64);
/** A double and its two words, for the kvmclock offset. */
const VM_F64 = new Float64Array(1);
const VM_F64_WORDS = new Uint32Array(VM_F64.buffer);

/**
 * An x86 VM.
 *
 * @example
 * ```ts
 * import { type ModelEnv } from "../../mod.ts";
 * declare const env: ModelEnv;
 * const vm = new X86Vm("guest", { vcpus: 2, irqchip: "kernel", lowestPriority: "kvm-vector-hashing", routing: "kvm" }, env);
 * vm.routing.signalMsi(0xfee01000, 0, 0x41); // 1: vcpu1's IRR has 0x41
 * ```
 */
export class X86Vm implements VmModel {
  /** The APIC bus: where IPIs, MSIs and I/O APIC messages find their LAPICs. */
  readonly bus: ApicBus;
  /** The vCPUs, by vCPU index. */
  readonly cpus: X86Cpu[] = [];
  /** The in-kernel 8259 pair (`irqchip kernel`, not a Xen PVH domain), else null. */
  readonly pic: I8259Pair | null;
  /** The in-kernel I/O APIC (`irqchip kernel`, not a Xen PVH domain), else null. */
  readonly ioapic: Ioapic | null;
  /** KVM's GSI routing table and the ioctls that use it. */
  readonly routing: GsiRouting;
  /** Where the VM's models record events. */
  readonly trace: Trace;
  /** The Xen domain and KVM's Xen API, with `hypervisor xen` or `kvm-xen`; else undefined. */
  readonly xen: XenMachine | undefined;
  /**
   * Guest RAM once something has touched it (see {@link X86Vm.memory});
   * public so that `scn explore`'s fingerprint sees its bytes.
   */
  ram: GuestMemory | undefined;
  /** KVM_IRQFD's irqfds and their resamplers. */
  readonly irqfds: Irqfds;
  /** How many times KVM signalled each eventfd (resamplefds), by fd. */
  readonly eventfds: Map<number, number> = new Map();
  /**
   * The first 8 bytes of each vCPU's emulator read cache (`struct
   * x86_emulate_ctxt`'s `mem_read.data`, zeroed at vCPU creation), 8 per
   * vCPU: an emulated MMIO load copies its result from there, and a device
   * that answers fills it first. KVM never clears it between instructions,
   * so a load nobody answers gets what the vCPU's last one left.
   */
  readonly mmioReadCache: Uint8Array;
  /**
   * {@link X86Vm.mmioReadCache} as 32-bit words, a view of the same arena
   * bytes (8 per vCPU, 8-byte aligned), for `scn explore`'s fingerprint: two
   * words a vCPU rather than eight bytes.
   */
  readonly #mmioReadWords: Uint32Array;
  readonly #userspace: HeldExtInt[] = [];
  readonly #splitEois: SplitEoiExits | null;
  /** KVM's per-vCPU `ioapic_handled_vectors` (in-kernel I/O APIC under KVM), or null. */
  readonly #handled: IoapicHandledVectors | null;
  /** The constructor has finished: LAPIC resets then ask for scans. */
  #built = false;
  readonly #splitHost: SplitEoiHost | null;
  /** Each vCPU's Hyper-V state, with the Hyper-V CPUID (`hyperv_cpuid`, `hyperv_synic`); else empty. */
  readonly hyperv: HvVcpu[] = [];
  /** The VM's Hyper-V partition state, with the Hyper-V CPUID; else null. */
  readonly hvPartition: HvPartition | null;
  readonly #msi: MsiDecoder;
  /**
   * KVM_CAP_X2APIC_API's USE_32BIT_IDS and DISABLE_BROADCAST_QUIRK as
   * enabled so far: the `x2apic_api` setting's, then any KVM_ENABLE_CAP's.
   */
  x2apicApi: number;
  /**
   * KVM_SET_CPUID2's interrupt and PV feature bits per vCPU, with KVM's
   * `pv_cpuid.enforce`, once either was set ({@link DEFAULT_VCPU_CPUID} before).
   */
  readonly #cpuid: (VcpuCpuid | undefined)[] = [];
  /**
   * KVM's `kvm->arch.suppress_eoi_broadcast_mode`: the `x2apic_api`
   * setting's choice, then each KVM_CAP_X2APIC_API that names one.
   */
  eoiBroadcastMode: EoiBroadcastMode;
  /**
   * KVM's `kvm->arch.exception_payload_enabled` (KVM_CAP_EXCEPTION_PAYLOAD):
   * KVM_GET/SET_VCPU_EVENTS keep a pending exception apart from an injected one.
   */
  exceptionPayloadEnabled = false;
  /**
   * KVM's `kvm->arch.disabled_quirks` (KVM_CAP_DISABLE_QUIRKS2): KVM_X86_QUIRK_*
   * bits the VMM turned off, of which the model follows FIX_HYPERCALL_INSN
   * (lib/x86/kvm_quirks.ts).
   */
  disabledQuirks = 0;
  /**
   * KVM's `ka->boot_vcpu_runs_old_kvmclock`: vCPU 0's guest last wrote the
   * legacy MSR_KVM_SYSTEM_TIME, which keeps KVM from using its master clock
   * (lib/x86/kvmclock.ts).
   */
  #bootVcpuRunsOldKvmclock = false;
  /** The run's environment: its irqfd list ({@link VMS_OF_RUN}) is keyed by it. */
  readonly #env: ModelEnv;
  /** Whether the VM is in its run's irqfd list ({@link VMS_OF_RUN}). */
  #joinedRun = false;

  /**
   * The VM's kvmclock in ns: the model's time since the VM was built (KVM's
   * `kvmclock_offset` starts it at 0 at creation) plus what KVM_SET_CLOCK
   * moved it by. The TSC does not move with it.
   */
  kvmclockNs(): number {
    return this.#env.now() + this.kvmclockOffsetNs;
  }

  /**
   * Whether KVM uses its master clock (`ka->use_master_clock`): a host with
   * a stable TSC (`kvm_master_clock 1`) whose boot vCPU does not run the
   * old kvmclock (`pvclock_update_vm_gtod_copy`).
   */
  masterClock(): boolean {
    return this.config.kvmMasterClock === true && !this.#bootVcpuRunsOldKvmclock;
  }

  /**
   * vCPU 0's guest wrote a kvmclock MSR (`kvm_write_system_time`): the old
   * one (`legacy`) or the new. A change is KVM_REQ_MASTERCLOCK_UPDATE, whose
   * record rewrites the MSR write's clock update makes anyway.
   */
  #bootVcpuClock(legacy: boolean): void {
    if (this.#bootVcpuRunsOldKvmclock === legacy) return;
    if (this.config.kvmMasterClock === true && this.hvPartition !== null) {
      throw new CommandInputError(
        "vCPU 0 changing between the old and the new kvmclock MSR turns KVM's master clock " +
          (legacy ? "off" : "on") + ", which with Hyper-V's reference TSC page is not modelled",
      );
    }
    this.#bootVcpuRunsOldKvmclock = legacy;
  }

  /**
   * Every vCPU's clock update (KVM_REQ_CLOCK_UPDATE on each, as
   * KVM_REQ_GLOBAL_CLOCK_UPDATE and KVM_SET_CLOCK ask): each kvmclock that
   * is on rewrites its record (lib/x86/kvmclock.ts), at once.
   */
  kvmclockUpdateAll(): void {
    for (const cpu of this.cpus) cpu.kvmclock?.update();
  }

  /** The model's time since the VM was built, ns: the host's TSC (1 GHz) lib/x86/tsc.ts offsets. */
  now(): number {
    return this.#env.now();
  }

  /**
   * vCPU 0's TSC (the one KVM's clocks read): from 0 at the VM's creation,
   * at its KVM_SET_TSC_KHZ rate (the host's 1 GHz, the model's ns, unless set).
   */
  guestTsc(): bigint {
    return this.guestTscOf(0);
  }

  /**
   * vCPU `cpu`'s TSC now (`kvm_read_l1_tsc`).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.guestTscOf(1); // 2000n at 1000 ns with 'tsc_khz 2000000'
   * ```
   */
  guestTscOf(cpu: number): bigint {
    const c = this.cpus[cpu];
    // The vCPU's rate and offset (X86Cpu.guestTsc); while the vCPUs are being made, the rate.
    if (c !== undefined) return c.guestTsc();
    const t = this.#tscs[cpu];
    const now = this.#env.now();
    return t === undefined ? BigInt(Math.floor(now)) : t.read(now);
  }

  /**
   * KVM_SET_TSC_KHZ on vCPU `cpu` ({@link GuestTsc.set}): 0 or -EINVAL.
   * The ratio changes, not the TSC offset, so the TSC jumps to the new
   * rate's reading; an armed TSC deadline keeps its expiry.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.setTscKhz(0, 2_000_000); // 0
   * ```
   */
  setTscKhz(cpu: number, khz: number): number {
    const r = this.#tscs[cpu].set(khz);
    if (r === 0) this.#tscSet = true;
    if (this.trace.enabled) {
      this.trace.emit(`vcpu${cpu}`, "tsc_khz", `KVM_SET_TSC_KHZ ${khz}: ${r}`);
    }
    return r;
  }

  /**
   * KVM_GET_TSC_KHZ of vCPU `cpu`: its `virtual_tsc_khz`.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.tscKhz(0); // 1000000 unless set
   * ```
   */
  tscKhz(cpu: number): number {
    return this.#tscs[cpu].khz;
  }

  /** Each vCPU's TSC rate (KVM_SET_TSC_KHZ). */
  readonly #tscs: GuestTsc[] = [];
  /** Some vCPU's TSC rate was set (else every one is the host's: nothing to hash or save). */
  #tscSet = false;

  /**
   * The host's CLOCK_REALTIME in ns: the wall time at the VM's creation
   * (the kvm-xen setting `kvm_wallclock`, else 0) plus the model's time
   * since; KVM_SET_CLOCK does not move it.
   */
  hostRealtimeNs(): bigint {
    return BigInt(this.config.kvmWallclockSec ?? 0) * 1_000_000_000n +
      BigInt(Math.floor(this.#env.now()));
  }

  /**
   * KVM_SET_CLOCK (`kvm_vm_ioctl_set_clock`): -EINVAL for a flag outside
   * KVM_CLOCK_VALID_FLAGS; with KVM_CLOCK_REALTIME the host's realtime past
   * `realtime` is added (never stepping back); the kvmclock reads `clock`
   * from now on; the Hyper-V reference TSC page is asked to follow
   * (`kvm_hv_request_tsc_page_update`) and every vCPU's clock update, done
   * as it next enters (at once here), fills it again. Returns 0 or -EINVAL.
   */
  setClock(clock: bigint, flags: number, realtime: bigint): number {
    if ((flags & ~KVM_CLOCK_VALID_FLAGS) !== 0) return -EINVAL;
    let c = clock;
    if ((flags & KVM_CLOCK.REALTIME) !== 0) {
      const now = this.hostRealtimeNs();
      if (now > realtime) c += now - realtime;
    }
    // kvmclock_offset is a u64 that wraps: the kvmclock reads `c` now.
    this.kvmclockOffsetNs = Number(BigInt.asIntN(64, c - BigInt(Math.floor(this.#env.now()))));
    this.hvPartition?.clockUpdate();
    this.kvmclockUpdateAll();
    return 0;
  }

  /**
   * The VM's name in the scenario. Fixed at creation: an accessor rather
   * than a field, so that `scn explore`'s fingerprint need not hash it at
   * every state.
   */
  get name(): string {
    return this.#name;
  }
  readonly #name: string;

  /** Builds the VM as KVM would have it after creating the irqchip and the vCPUs. */
  constructor(name: string, readonly config: X86VmConfig, env: ModelEnv) {
    this.#name = name;
    this.#env = env;
    const trace = env.trace;
    this.trace = trace;
    this.#irqchipInKernel = config.irqchip !== "userspace";
    const hypervisor = config.hypervisor ?? "kvm";
    const pins = hypervisor === "xen" ? XEN_VIOAPIC_PINS : KVM_IOAPIC_NUM_PINS;
    const api = config.x2apicApi ?? 0;
    this.mmioReadCache = arenaU8(8 * config.vcpus);
    const cache = this.mmioReadCache;
    this.#mmioReadWords = new Uint32Array(cache.buffer, cache.byteOffset, cache.length >> 2);
    this.eoiBroadcastMode = eoiBroadcastModeAfter("quirked", api);
    this.bus = new ApicBus(trace, {
      lowestPriority: config.lowestPriority,
      name: "apicbus",
      x2apicApi: {
        use32BitIds: (api & X2apicApi.Use32BitIds) !== 0,
        disableBroadcastQuirk: (api & X2apicApi.DisableBroadcastQuirk) !== 0,
      },
    });
    const lapicInKernel = config.irqchip !== "userspace";
    const hypervEnabled = (config.hypervSynic ?? 0) !== 0 || config.hypervCpuid === true;
    this.hvPartition = hypervEnabled
      // KVM's Hyper-V emulation is loaded only for VMs that have it (lib/x86/hyperv_parts.ts).
      ? new (hypervParts().HvPartition)({
        mem: () => this.memory(),
        kvmclockNs: () => this.kvmclockNs(),
        tsc: () => this.guestTsc(),
        tscScale: () => this.#tscs[0].pvclockScale(),
        masterClock: () => this.masterClock(),
        hypercallInsn: () => HYPERCALL_INSN[nativeHypercall(config.hostCpu ?? "intel")],
        xenHypercalls: () => this.xen?.kvm.interceptsHypercalls() ?? false,
        signal: (fd) => this.eventfds.set(fd, (this.eventfds.get(fd) ?? 0) + 1),
        synicActive: (n) => this.hyperv[n]?.synic.active ?? false,
        lapicInKernel: () => lapicInKernel,
        sendIpi: (vector, inSet) => {
          // kvm_for_each_vcpu: in vCPU order, each one's VP index tested.
          for (let i = 0; i < this.hyperv.length; i++) {
            if (inSet !== null && !inSet(this.hyperv[i].vpIndex)) continue;
            const lapic = this.cpus[i].lapic;
            lapic.accept(fixedMessage(vector, lapic.id, "local"));
          }
        },
        emit: (kind, detail) => void (trace.enabled && trace.emit("kvm", kind, detail)),
      })
      : null;
    const kernel = config.irqchip === "kernel";
    // Xen gives a PVH domU a vLAPIC only (emulation_flags_ok), a PV one nothing.
    const chips = kernel && (config.xenDomain ?? "hvm") === "hvm";
    // The one way interrupt messages written as MSIs reach the APIC bus:
    // devices' (KVM_SIGNAL_MSI, MSI routes) and the I/O APIC's alike.
    const msi = new MsiDecoder(this.bus, { x2apicFormat: (api & X2apicApi.Use32BitIds) !== 0 });
    this.#msi = msi;
    this.x2apicApi = api & (X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk);
    this.ioapic = chips
      ? new Ioapic({
        sink: this.bus,
        msi,
        trace,
        name: "ioapic",
        schedule: (delay, fire) => env.queue.schedule(env.now() + delay, fire),
        ack: (pin) => this.#acked(KvmIrqchip.Ioapic, pin),
        hasAckNotifier: (pin) => this.#hasAckNotifier(KvmIrqchip.Ioapic, pin),
        rtcDestinations: (addressLo, data) => this.#pendingEoiVcpus(addressLo, data, true),
        vcpusWithoutPendingEoi: (addressLo, data) => this.#pendingEoiVcpus(addressLo, data, false),
        entryWritten: (pin, oldLow, oldHigh) => this.#handled?.entryWritten(pin, oldLow, oldHigh),
        stateRestored: () => this.#handled?.scanAll(),
      }, {
        version: config.ioapicVersion ?? IoapicVersion.KVM,
        pins,
        avic: config.amdAvic ?? false,
        xenRegisters: hypervisor === "xen",
      })
      : null;
    this.pic = chips
      ? new I8259Pair({
        trace,
        name: "pic",
        ack: (irq) => this.#acked(irq < 8 ? KvmIrqchip.PicMaster : KvmIrqchip.PicSlave, irq & 7),
        // Xen's vpic_ioport_write has no ack notifiers to run at ICW1.
        acceptsIntr: hypervisor === "xen"
          ? undefined
          : () => this.cpus.some((c) => c.lapic.acceptsExtInt()),
      }, { specialMask: config.picSpecialMask })
      : null;
    const eoi: EoiListener = this.ioapic ?? { eoi: () => {} };
    // KVM's in-kernel I/O APIC hears only the EOIs of each vCPU's
    // ioapic_handled_vectors; Xen's vIOAPIC hears every level EOI.
    const handled = this.ioapic !== null && hypervisor !== "xen"
      ? new IoapicHandledVectors({
        ioapic: this.ioapic,
        lapics: this.bus.lapics,
        names: (l, dest, logical) => this.#namedByIoapic(l, dest, logical),
        hasAckNotifier: (pin) => this.#hasAckNotifier(KvmIrqchip.Ioapic, pin),
        // #hasAckNotifier's own first test.
        mayHaveAckNotifiers: () => this.irqfds.list.length !== 0,
        // HLT, or waiting for INIT / SIPI: blocked in the kernel (a vCPU being built is not).
        blocked: (cpu) => this.cpus[cpu]?.halted ?? false,
        trace,
      })
      : null;
    const splitHost: SplitEoiHost | null = config.irqchip === "split"
      ? {
        routes: () => this.routing.view(),
        bus: this.bus,
        reservedPins: config.splitPins ?? SPLIT_RESERVED_PINS,
        x2apicFormat: (api & X2apicApi.Use32BitIds) !== 0,
        // HLT, or waiting for INIT / SIPI: blocked in the kernel (a vCPU being built is not).
        blocked: (cpu) => this.cpus[cpu]?.halted ?? false,
        trace,
        // QEMU's kvm_cpu_exec: KVM_EXIT_IOAPIC_EOI -> ioapic_eoi_broadcast, before the next KVM_RUN.
        userspaceEoi: config.splitIoapic === "qemu"
          ? (v) => this.qemuIoapic!.eoiBroadcast(v)
          : undefined,
      }
      : null;
    const split = splitHost ? new SplitEoiExits(splitHost) : null;
    this.#splitHost = splitHost;
    this.#splitEois = split;
    this.#handled = handled;
    for (let i = 0; i < config.vcpus; i++) {
      // kvm_arch_vcpu_create: kvm_set_tsc_khz(default_tsc_khz), then the TSC synchronized at 0.
      const tsc = new GuestTsc();
      if ((config.tscKhz ?? 0) !== 0 && tsc.set(config.tscKhz!) === 0) this.#tscSet = true;
      this.#tscs.push(tsc);
      const run = new KvmRun(`vcpu${i}`, trace);
      // KVM's TSC offset and IA32_TSC_ADJUST; not where Xen's or Hyper-V's time pages would
      // have to follow the TSC.
      const tscRegs = hypervisor === "kvm" && this.hvPartition === null ? new KvmTsc() : undefined;
      // Xen's vlapic_reset gives vCPU n APIC ID 2n; KVM takes the VMM's vcpu_id.
      const lapic = new Lapic(hypervisor === "xen" ? 2 * i : i, {
        sink: this.bus,
        eoiListener: split ? split.listener(i, run) : handled ? handled.listener(i) : eoi,
        trace,
        name: `lapic${i}`,
        bsp: i === (config.bootCpu ?? 0),
        softwareEnabled: hypervisor === "kvm"
          ? undefined
          : () => this.xen!.domain.callback.lapicEnabled(i),
        // Xen: vlapic_set_irq -> vcpu_kick -> vcpu_unblock ends SCHEDOP_block.
        irrSet: hypervisor === "xen" ? () => this.xen!.domain.timers.kick(i) : undefined,
        now: env.now,
        schedule: (at, fire) => env.queue.schedule(at, fire),
        directedEoiOffered: () => this.offersDirectedEoi,
        suppressEoiBroadcast: () => this.suppressesEoiBroadcast,
        mapChanged: () => this.#apicMapChanged(),
        // The TSC a deadline compares with: the rate's, plus the offset (lib/x86/tsc.ts).
        tsc: tscRegs === undefined ? tsc : {
          read: (ns) => tscRegs.read(tsc.read(ns)),
          nsWhenReaches: (t) => tsc.nsWhenReaches(BigInt.asUintN(64, t - tscRegs.offset)),
        },
      }, {
        // kvm_apic_set_version: the guest's CPUID has x2APIC (the model's default).
        eoiBroadcastSuppression: this.offersDirectedEoi,
        busCycleNs: config.apicBusCycleNs,
        avicIcr2: config.amdAvic ?? false,
        // Xen's vlapic detects illegal vectors (vlapic_ipi, vlapic_set_irq ->
        // vlapic_error, ESR latched from pending_esr); KVM's never sets ESR.
        // Xen's vlapic_do_init masks every LVT; KVM_X86_QUIRK_LINT0_REENABLED is KVM's.
        lint0Reenabled: hypervisor !== "xen",
        illegalVectorErrors: hypervisor === "xen",
        xenErrors: hypervisor === "xen",
        idWhole: hypervisor === "xen",
        // Xen's vLAPIC timer is one of its vpts, on a 100 MHz APIC bus.
        xenVpt: hypervisor === "xen" ? { align: config.xenVptAlign ?? true } : undefined,
      });
      // KVM's PV EOI (MSR_KVM_PV_EOI_EN); Xen has none.
      const pvEoi = hypervisor === "xen" ? undefined : new KvmPvEoi({
        mem: () => this.memory(),
        memorySize: () => this.memorySize,
        cachesHighestIsr: !(config.amdAvic ?? false),
        ioapicHandles: (v) =>
          this.#handled?.handles(i, v) ?? this.#splitEois?.handles(i, v) ?? false,
        emit: (kind, detail) => void (trace.enabled && trace.emit(`vcpu${i}`, kind, detail)),
      });
      const hyperv = this.hvPartition === null
        ? undefined
        : this.#hypervVcpu(i, lapic, this.hvPartition, env, pvEoi);
      if (config.lapicMode === "x2apic") {
        // As userspace's KVM_SET_MSRS would: host-initiated, straight from reset.
        lapic.setApicBase((lapic.apicBase | ApicBaseBit.EXTD) >>> 0, true);
      }
      this.bus.attach(lapic);
      let source: ExtIntSource | null = this.pic;
      if (config.irqchip === "split") {
        const u = new HeldExtInt();
        this.#userspace.push(u);
        source = u;
      }
      this.cpus.push(
        new X86Cpu(i, lapic, source, trace, {
          lapicInKernel,
          picInKernel: kernel,
          waitForSipi: config.aps === "wait-for-sipi" && i !== (config.bootCpu ?? 0),
          longMode: config.longMode ?? true,
          now: env.now,
          run,
          hyperv,
          pvEoi,
          entered: handled !== null
            ? (n) => handled.entered(n)
            : split !== null
            ? (n) => split.entered(n)
            : undefined,
          // KVM's PV MSRs; a Xen guest has none.
          pvCpuid: pvEoi === undefined ? undefined : () => this.cpuidBits(i),
          tsc,
          tscRegs,
          // KVM's kvmclock; a Xen guest's time records are lib/xen's.
          kvmclock: hypervisor === "kvm"
            ? new KvmClock({
              mem: () => this.memory(),
              memorySize: () => this.memorySize,
              kvmclockNs: () => this.kvmclockNs(),
              tsc: () => this.guestTscOf(i),
              scale: () => tsc.pvclockScale(),
              stable: () => this.masterClock(),
              emit: (text) => void (trace.enabled && trace.emit(`vcpu${i}`, "kvmclock", text)),
              updateAll: () => this.kvmclockUpdateAll(),
              guestWrote: i === 0 ? (legacy) => this.#bootVcpuClock(legacy) : undefined,
            })
            : undefined,
        }),
      );
    }
    // kvm_arch_vcpu_postcreate synchronized each vCPU at TSC 0, at the VM's rate.
    this.#tscSync.created(this.#tscs[0].khz);
    if (hypervisor === "kvm") {
      this.xen = undefined;
    } else {
      const glue = new XenGlue(this, env.queue, env.now);
      // The Xen model is loaded only for VMs that have it (lib/xen/parts.ts).
      this.xen = xenMachine(config, glue, trace);
      const domain = this.xen.domain;
      this.ram = domain.mem;
      for (const cpu of this.cpus) cpu.hv = glue;
      if (hypervisor === "kvm-xen") {
        // The KVM_RUN after each exit to the VMM is a vcpu_load: its entry updates the runstate.
        const entry = domain.runstate.entryUpdate;
        this.cpus.forEach((cpu, i) => cpu.run.onExit = () => entry[i] = true);
      }
    }
    const kvmXen = hypervisor === "kvm-xen" ? this.xen!.kvm : undefined;
    // Only KVM has routing entries of Xen type; Xen itself has no KVM table.
    const xenRoutes: XenRouteTarget | undefined = kvmXen && {
      validateRoute: (r) => kvmXen.validateRoute(r),
      deliver: (r) => kvmXen.deliver(r),
      setRoutes: (entries) => kvmXen.setRoutes(entries),
    };
    const exclusive = (config.irqfdEventfd ?? "exclusive") === "exclusive";
    this.irqfds = new Irqfds({
      setGsi: (gsi, level) => void this.routing.irqLine(gsi, level),
      irqchipInKernel: () => config.irqchip !== "userspace",
      irqchipKernel: () => config.irqchip === "kernel",
      eventfds: this.eventfds,
      boundElsewhere: (fd) => {
        // A VM joins its run's list at its first KVM_IRQFD, whatever its
        // rule (another VM's may be exclusive): one without irqfds binds no
        // eventfd, and a WeakMap entry for every VM made building one 10x
        // slower (GC of ephemerons; `scn explore` builds a VM per order).
        let peers = VMS_OF_RUN.get(env);
        if (peers === undefined) VMS_OF_RUN.set(env, peers = []);
        if (!peers.includes(this)) (peers.push(this), this.#joinedRun = true);
        return exclusive &&
          peers.some((vm) => vm !== this && vm.irqfds.list.some((q) => q.fd === fd));
      },
      ackNotifiersChanged: () => this.requestIoapicScan(),
      trace,
    });
    this.routing = new GsiRouting({
      pic: this.pic ?? undefined,
      ioapic: this.ioapic ?? undefined,
      sink: this.bus,
      msi,
      trace,
      // Without an irqchip the ioctls that reach the table are refused first
      // (see irqLine, signalMsi, setGsiRouting); an empty table stands in.
      mode: kernel ? "kernel" : "split",
      name: "kvm",
      xen: xenRoutes,
      hyperv: { setIrq: (vp, sint) => this.#synicOf(vp)?.setIrq(sint) ?? -EINVAL },
      ioapicPins: pins,
      x2apicFormat: (api & X2apicApi.Use32BitIds) !== 0,
    });
    if (kernel && config.routing === "qemu") this.routing.setRouting(GsiRouting.qemuDefault());
    if (config.irqchip === "split" && config.splitIoapic === "qemu") {
      this.qemuIoapic = new QemuIoapic({
        // kvm_set_irq: KVM_IRQ_LINE_STATUS, QEMU's own ioctl.
        setIrq: (gsi, level) => this.routing.irqLine(gsi, level),
        updateRoutes: (routes) => this.#qemuIoapicRoutes(routes),
        schedule: (delay, fire) => env.queue.schedule(env.now() + delay, fire),
        signal: (fd) => this.eventfds.set(fd, (this.eventfds.get(fd) ?? 0) + 1),
        trace,
        name: "ioapic",
      }, config.qemuIoapicVersion);
      // kvm_arch_init_irq_routing: one MSI route (address 0, data 0) per
      // pin, before any vCPU exists, so no scan follows.
      const reserved: RoutingEntry[] = [];
      for (let gsi = 0; gsi < QEMU_IOAPIC_PINS; gsi++) {
        reserved.push({ gsi, type: "msi", addressLo: 0, addressHi: 0, data: 0 });
      }
      this.routing.setRouting(reserved);
    } else this.qemuIoapic = null;
    this.#built = true;
  }

  /**
   * QEMU's `kvm_irqchip_update_msi_route` for each route (the first entry
   * of its GSI in QEMU's table, which is the table it last committed, is
   * replaced; a GSI the table lacks is -ESRCH and skipped), then
   * `kvm_irqchip_commit_routes`: KVM_SET_GSI_ROUTING of the whole table,
   * which asks every vCPU to scan its EOI exits.
   */
  #qemuIoapicRoutes(routes: readonly QemuIoapicRoute[]): void {
    const table = this.routing.entries();
    for (const r of routes) {
      const i = table.findIndex((e) => e.gsi === r.gsi);
      if (i < 0) continue;
      table[i] = { gsi: r.gsi, type: "msi", addressLo: r.addressLo, addressHi: 0, data: r.data };
    }
    this.setGsiRouting(table);
  }

  /**
   * `synic_get`: the active SynIC of the vCPU whose VP index is `vp`
   * (`get_vcpu_by_vpidx`), or undefined.
   */
  #synicOf(vp: number): HvSynic | undefined {
    if (this.hyperv.length === 0) return undefined;
    const s = hypervParts().findByVpIndex(this.hyperv, vp)?.synic;
    return s?.active ? s : undefined;
  }

  /**
   * `kvm_hv_irq_routing_update`: each HV_SINT route tells its SynIC which
   * GSI is its SINT's (for acks). A SINT whose route went away keeps the
   * GSI it had: KVM never resets `sint_to_gsi` to -1.
   */
  #hvRoutingUpdate(): void {
    if (this.hyperv.length === 0) return;
    // KVM walks the GSIs upwards: the highest GSI naming a SINT is the one it keeps.
    const routes = this.routing.view().filter((e) => e.type === "hv_sint");
    routes.sort((a, b) => a.gsi - b.gsi);
    for (const e of routes) {
      if (e.type !== "hv_sint") continue;
      const s = this.#synicOf(e.vcpu);
      if (s !== undefined && e.sint < s.sintToGsi.length) s.sintToGsi[e.sint] = e.gsi;
    }
  }

  /**
   * vCPU `i`'s Hyper-V state (`kvm_hv_vcpu_init`), its SynIC activated as
   * the `hyperv_synic` setting says (`kvm_hv_activate_synic`), wired to its
   * LAPIC: the SynIC's auto-EOI and EOI-ack vectors, and the interrupts of
   * SINTs and direct-mode timers.
   */
  #hypervVcpu(
    i: number,
    lapic: Lapic,
    partition: HvPartition,
    env: ModelEnv,
    pvEoi: KvmPvEoi | undefined,
  ): HvVcpu {
    const trace = this.trace, name = `vcpu${i}`;
    const emit = (kind: string, detail: string) =>
      void (trace.enabled && trace.emit(name, kind, detail));
    const tracing = () => trace.enabled;
    const interrupt = (vector: number) =>
      lapic.accept(fixedMessage(vector, lapic.id, "local")) === Accept.Dropped ? 0 : 1;
    const { HvSynic, HvStimer, HvVcpu } = hypervParts();
    let hv: HvVcpu | null = null;
    const synic = new HvSynic({
      mem: () => this.memory(),
      interrupt,
      ackedGsi: (gsi) => this.irqfds.acked(gsi),
      ackedSint: (sint) => hv!.ackedSint(sint),
      exit: (msr, control, evtPage, msgPage) =>
        this.cpus[i].run.hypervSynicExit(msr, control, evtPage, msgPage),
      emit,
      tracing,
    });
    const stimers: HvStimer[] = [];
    for (let t = 0; t < HV_SYNIC_STIMER_COUNT; t++) {
      stimers.push(
        new HvStimer(t, {
          refTime: () => partition.refTime(),
          nowNs: env.now,
          schedule: (at, fire) => env.queue.schedule(at, fire),
          deliverMessage: (sint, msg, noRetry) => synic.deliverMessage(sint, msg, noRetry),
          interrupt: (vector) => interrupt(vector) === 1,
          synicActive: () => synic.active,
          emit,
          tracing,
        }),
      );
    }
    const mode = this.config.hypervSynic ?? 0;
    if (mode !== 0) {
      synic.activate(mode === 2);
      lapic.useAutoEoi(synic.autoEoi);
      lapic.useSynicEoi(synic.vectors, (v) => synic.sendEoi(v));
    }
    hv = new HvVcpu(
      i,
      synic,
      stimers,
      partition,
      this.#irqchipInKernel ? lapic : null,
      pvEoi ?? null,
      this.config.apicBusCycleNs ?? 1,
    );
    hv.runtimeNs = env.now;
    hv.tscKhz = () => this.#tscs[i].khz;
    // The vCPU is built after its Hyper-V state: its kvm_run is found at the event.
    hv.onSystemEvent = (type, why) => this.cpus[i].run.systemEvent(type, why);
    this.hyperv.push(hv);
    return hv;
  }

  /**
   * `kvm_notify_acked_irq`: the GSI the routing table maps this irqchip
   * pin to (the last route naming it, as KVM's `chip[][]` map keeps) hears
   * the ack.
   */
  #acked(irqchip: number, pin: number): void {
    if (this.irqfds.list.length === 0) return;
    const gsi = this.#gsiOfPin(irqchip, pin);
    if (gsi >= 0) this.irqfds.acked(gsi);
  }

  /**
   * KVM `kvm_irq_has_notifier`: a resampling irqfd (the only ack notifier
   * modelled; KVM's PIT has one on GSI 0) listens on the GSI `pin` maps to.
   */
  /**
   * `kvm_make_scan_ioapic_request`: every vCPU scans its
   * `ioapic_handled_vectors` (in-kernel I/O APIC), or the split irqchip's
   * routes; KVM asks after KVM_SET_LAPIC, an ack notifier change, an APIC
   * map change.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.requestIoapicScan();
   * ```
   */
  requestIoapicScan(): void {
    this.#handled?.scanAll();
    this.#splitEois?.rescan();
  }

  /**
   * vCPU `cpu`'s `ioapic_handled_vectors`, lowest first: the vectors whose
   * EOI reaches the in-kernel I/O APIC, or exits to userspace's with a
   * split irqchip; none under Xen or without an irqchip.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.ioapicHandledVectors(0); // [0x9a]
   * ```
   */
  ioapicHandledVectors(cpu: number): number[] {
    if (this.#handled !== null) return this.#handled.vectors(cpu);
    return this.#splitEois?.vectors(cpu) ?? [];
  }

  /** `kvm_recalculate_apic_map` ran: it ends with a scan request for every vCPU. */
  #apicMapChanged(): void {
    if (this.#built) this.requestIoapicScan();
  }

  /** KVM `kvm_apic_match_dest` of an I/O APIC message to `dest` in that mode. */
  #namedByIoapic(l: Lapic, dest: number, logical: boolean): boolean {
    const m = this.#scanMessage;
    const status = decodeMsiInto(m, msiAddressLow(dest, logical, false), 0, 0, this.#msi.options);
    return status === MsiStatus.Ok && this.bus.matches(l, m, null);
  }
  /** Reused by `#namedByIoapic`: a scan makes no message. */
  readonly #scanMessage: ApicMessage = fixedMessage(0, 0, "msi");

  #hasAckNotifier(irqchip: number, pin: number): boolean {
    if (this.irqfds.list.length === 0) return false;
    const gsi = this.#gsiOfPin(irqchip, pin);
    return gsi >= 0 && this.irqfds.list.some((q) => q.gsi === gsi && q.resamplefd >= 0);
  }

  /**
   * The vCPU IDs, in vCPU order, whose LAPIC the message (`addressLo`,
   * `data`) names and that have its vector in IRR or ISR, or (`pending`
   * false) in neither (KVM `kvm_apic_match_dest` and `kvm_apic_pending_eoi`,
   * as the RTC's EOI tracking asks them).
   */
  #pendingEoiVcpus(addressLo: number, data: number, pending: boolean): number[] {
    const m = decodeMsi(addressLo, 0, data, this.#msi.options);
    if ("error" in m) return [];
    const out: number[] = [];
    for (const l of this.bus.lapics) {
      if ((testVector(l.irr, m.vector) || testVector(l.isr, m.vector)) !== pending) continue;
      if (this.bus.matches(l, m, null)) out.push(l.x2apicId);
    }
    return out;
  }

  /** KVM `kvm_irq_map_chip_pin`: the GSI routed to `pin` last, or -1. */
  #gsiOfPin(irqchip: number, pin: number): number {
    let gsi = -1;
    for (const e of this.routing.view()) {
      if (e.type === "irqchip" && e.irqchip === irqchip && e.pin === pin) gsi = e.gsi;
    }
    return gsi;
  }

  /**
   * Guest-physical memory: the Xen domain's, or RAM allocated now.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.memory().write(0x1000, 32, 0xdeadbeef);
   * ```
   */
  /** Feeds `h` the public fields, for `scn explore` (`HashesFields`). */
  hashFields(h: StateHash): void {
    h.fixed(this.config, hashConfig);
    // The bus, the vCPUs, the I/O APIC, the routing and the irqfds are this
    // VM's alone, made with it, and never met elsewhere in the walk: their
    // hooks are called directly, not through `h.value` (which looks an
    // object up among those met, to feed one met twice by reference). Which
    // of them there are follows from the configuration, fed above. The
    // LAPICs (on the bus and each vCPU's) and the PIC (each vCPU's ExtINT
    // source too) go by `h.value`.
    this.bus.hashFields(h);
    // The vCPUs themselves, not the array first: it is the VM's own.
    const cpus = this.cpus;
    h.n(cpus.length);
    for (let i = 0; i < cpus.length; i++) cpus[i].hashFields(h);
    h.value(this.pic);
    this.ioapic?.hashFields(h);
    this.qemuIoapic?.hashFields(h);
    this.routing.hashFields(h);
    hashTrace(h, this.trace);
    this.irqfds.hashFields(h);
    // The scalars in one block (see VM_HASHED): which of the Xen domain,
    // guest RAM and the eventfds there are (mostly none: no walk), the EOI
    // broadcast mode and the exception payload flag, not a string hashed.
    const xen = this.xen, ram = this.ram, eventfds = this.eventfds;
    const mode = this.eoiBroadcastMode, cache = this.#mmioReadWords;
    const tscSynced = !this.#tscSync.untouched;
    const need = 4 + maskedWordsSize(cache.length);
    if (VM_HASHED.length < need) VM_HASHED = new Int32Array(need);
    const w = VM_HASHED;
    w[0] = (xen !== undefined ? 1 : 0) | (ram !== undefined ? 2 : 0) |
      (eventfds.size !== 0 ? 4 : 0) | (this.exceptionPayloadEnabled ? 8 : 0) |
      // The quirks: FIX_HYPERCALL_INSN (bit 5, the one the model takes) as bit 7.
      (this.disabledQuirks << 2) | (this.#bootVcpuRunsOldKvmclock ? 256 : 0) |
      ((mode === "quirked" ? 1 : mode === "enabled" ? 2 : mode === "disabled" ? 3 : 0) << 4) |
      // The VMM never wrote a TSC (the rule): a bit of the word, no bigint.
      (tscSynced ? 64 : 0);
    w[1] = this.x2apicApi;
    // ns, a 64-bit offset: by its double's two words (the low 32 bits alone
    // would tell offsets apart only below 2^32).
    VM_F64[0] = this.kvmclockOffsetNs;
    w[2] = VM_F64_WORDS[0];
    w[3] = VM_F64_WORDS[1];
    h.block(w, maskedWords(w, 4, cache));
    if (xen !== undefined) h.value(xen);
    if (ram !== undefined) h.value(ram);
    if (eventfds.size !== 0) h.value(eventfds);
    if (tscSynced) this.#tscSync.hashInto(h);
    for (const hv of this.hyperv) hv.hashFields(h);
    this.hvPartition?.hashFields(h);
  }

  /**
   * Feeds `h` what the VM's models keep private: LAPIC registers and
   * timers, vCPU interrupt frames, I/O APIC entries, the 8259s, routes,
   * split-irqchip EOI state and the Xen domain's channels.
   */
  hashPrivate(h: StateHash): void {
    for (const cpu of this.cpus) cpu.hashPrivate(h);
    this.ioapic?.hashPrivate(h);
    this.qemuIoapic?.hashPrivate(h);
    this.pic?.hashPrivate(h);
    this.routing.hashPrivate(h);
    this.#splitEois?.hashPrivate(h);
    this.#handled?.hashPrivate(h);
    // Every vCPU at the host's TSC rate (the rule): one word.
    if (!this.#tscSet) h.n(0);
    else {
      h.n(1);
      for (const t of this.#tscs) (h.n(t.khz), h.big(t.ratio));
    }
    // Both empty (no userspace chip, no KVM_SET_CPUID2: the rule): one word.
    if (this.#userspace.length === 0 && this.#cpuid.length === 0) h.n(0);
    else (h.n(1), h.value(this.#userspace), h.value(this.#cpuid));
    this.xen?.domain.hashPrivate(h);
  }

  /**
   * Saves the whole VM (every vCPU, LAPIC, chip and route) and returns a
   * function that puts it back into these same objects, for `scn explore`
   * (`VmModel.snapshot`). Null for what it does not save: a Xen guest, the
   * split irqchip, guest memory already made, irqfds assigned, an armed
   * LAPIC timer, Hyper-V state (hyperv, hvPartition). Fixed at creation, not saved: #name, config, trace, xen,
   * #splitEois, #splitHost, #userspace, #env, #irqchipInKernel, qemuIoapic (only with
   * the split irqchip, which is not saved), #built (set at the
   * constructor's end); mmioReadCache is saved and put back through
   * #mmioReadWords, a view of its bytes; scratch: #scanMessage (rewritten before each read); #msi's
   * status and message are the last write's, set before they are read.
   */
  snapshot(): (() => boolean) | null {
    if (
      this.xen !== undefined || this.#splitEois !== null || this.#userspace.length > 0 ||
      this.hyperv.length > 0 ||
      this.ram !== undefined || this.irqfds.list.length > 0 || this.irqfds.unread.size > 0
    ) return null;
    const cpus: (() => void)[] = [];
    for (const cpu of this.cpus) {
      const r = cpu.snapshot();
      if (r === null) return null;
      cpus.push(r);
    }
    const ioapic = this.ioapic?.snapshot(), pic = this.pic?.snapshot();
    const handled = this.#handled?.snapshot();
    const routing = this.routing.snapshot(), bus = this.bus.snapshot();
    const eventfds = [...this.eventfds], cpuid = [...this.#cpuid];
    // As words (two a vCPU): a loop of stores puts them back, not a builtin's call.
    const mmioReadWords = this.#mmioReadWords.slice();
    const x2apicApi = this.x2apicApi, x2apicFormat = this.#msi.options.x2apicFormat;
    const eoiBroadcastMode = this.eoiBroadcastMode;
    const exceptionPayloadEnabled = this.exceptionPayloadEnabled;
    const disabledQuirks = this.disabledQuirks;
    const bootVcpuRunsOldKvmclock = this.#bootVcpuRunsOldKvmclock;
    const kvmclockOffsetNs = this.kvmclockOffsetNs;
    const tscSync = this.#tscSync.untouched ? null : this.#tscSync.snapshot();
    const listed = this.#joinedRun;
    // Every vCPU at the host's TSC rate (the rule): nothing saved.
    const tscs = this.#tscSet ? this.#tscs.map((t) => [t.khz, t.ratio] as const) : null;
    return () => {
      if (tscSync !== null) tscSync();
      else if (!this.#tscSync.untouched) this.#tscSync.reset();
      for (let i = 0; i < cpus.length; i++) cpus[i]();
      ioapic?.();
      handled?.();
      pic?.();
      routing();
      bus();
      this.ram = undefined;
      if (this.irqfds.list.length > 0) this.irqfds.list.length = 0;
      if (this.irqfds.unread.size > 0) this.irqfds.unread.clear();
      // Mostly empty before and after: then nothing to do (a restore per order).
      if (this.eventfds.size > 0 || eventfds.length > 0) {
        this.eventfds.clear();
        for (const [k, v] of eventfds) this.eventfds.set(k, v);
      }
      if (this.#cpuid.length > 0 || cpuid.length > 0) {
        this.#cpuid.length = 0;
        this.#cpuid.push(...cpuid);
      }
      this.eoiBroadcastMode = eoiBroadcastMode;
      this.exceptionPayloadEnabled = exceptionPayloadEnabled;
      this.disabledQuirks = disabledQuirks;
      this.#bootVcpuRunsOldKvmclock = bootVcpuRunsOldKvmclock;
      this.kvmclockOffsetNs = kvmclockOffsetNs;
      const words = this.#mmioReadWords;
      for (let i = 0; i < words.length; i++) words[i] = mmioReadWords[i];
      if (tscs !== null) {
        for (let i = 0; i < tscs.length; i++) this.#tscs[i].restore(tscs[i][0], tscs[i][1]);
      } else if (this.#tscSet) { for (const t of this.#tscs) t.set(0); }
      this.#tscSet = tscs !== null;
      this.x2apicApi = x2apicApi;
      const options = this.#msi.options;
      if (options.x2apicFormat !== x2apicFormat) {
        if (x2apicFormat === undefined) delete options.x2apicFormat;
        else options.x2apicFormat = x2apicFormat;
      }
      // Joined the run's irqfd list since: leave it, as if never assigned.
      if (this.#joinedRun && !listed) {
        const now = VMS_OF_RUN.get(this.#env)!;
        now.splice(now.indexOf(this), 1);
        this.#joinedRun = false;
      }
      return true;
    };
  }

  memory(): GuestMemory {
    return this.ram ??= new GuestMemory(X86_RAM_SIZE);
  }

  /** The size of guest RAM in bytes, without allocating it. */
  get memorySize(): number {
    return this.ram?.size ?? X86_RAM_SIZE;
  }

  /**
   * KVM_SET_CPUID2's interrupt bits for vCPU `cpu` (CPUID.1:ECX x2APIC and
   * TSC_DEADLINE): what the LAPIC allows follows them
   * (`kvm_vcpu_after_set_cpuid`); directed EOI is offered with x2APIC when
   * the I/O APIC is not in the kernel (`kvm_apic_set_version`). Returns 0,
   * or -EINVAL for a change once the vCPU has run (`kvm_cpuid_check_equal`).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.setCpuid(0, { x2apic: false, tscDeadline: true }); // EXTD now #GPs
   * ```
   */
  setCpuid(
    cpu: number,
    bits: { x2apic: boolean; tscDeadline: boolean; kvmFeatures?: number },
  ): number {
    const c = this.cpus[cpu];
    const old = this.cpuidBits(cpu);
    const kvmFeatures = (bits.kvmFeatures ?? old.kvmFeatures) >>> 0;
    if (
      c.hasRun && (old.x2apic !== bits.x2apic || old.tscDeadline !== bits.tscDeadline ||
        old.kvmFeatures !== kvmFeatures)
    ) {
      // kvm_set_cpuid after KVM_RUN: kvm_cpuid_check_equal refuses any change.
      if (this.trace.enabled) {
        this.trace.emit(
          "kvm",
          "cpuid",
          `KVM_SET_CPUID2 vcpu${cpu}: -EINVAL (changed after KVM_RUN)`,
        );
      }
      return -EINVAL;
    }
    // kvm_update_pv_runtime: pv_cpuid.features follows the new KVM_CPUID_FEATURES.EAX.
    this.#cpuid[cpu] = {
      x2apic: bits.x2apic,
      tscDeadline: bits.tscDeadline,
      kvmFeatures,
      pvEnforce: old.pvEnforce,
    };
    c.lapic.setCpuid({
      x2apic: bits.x2apic,
      tscDeadline: bits.tscDeadline,
      directedEoi: bits.x2apic && this.offersDirectedEoi,
    });
    if (this.trace.enabled) {
      this.trace.emit(
        "kvm",
        "cpuid",
        `KVM_SET_CPUID2 vcpu${cpu}: x2APIC ${+bits.x2apic}, TSC_DEADLINE ${+bits
          .tscDeadline}, KVM_CPUID_FEATURES.EAX 0x${kvmFeatures.toString(16)}`,
      );
    }
    return 0;
  }

  /**
   * vCPU `cpu`'s CPUID bits as KVM_SET_CPUID2 last set them and its
   * `pv_cpuid.enforce` ({@link DEFAULT_VCPU_CPUID} until then).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.cpuidBits(0).x2apic; // true
   * ```
   */
  cpuidBits(cpu: number): VcpuCpuid {
    return this.#cpuid[cpu] ?? DEFAULT_VCPU_CPUID;
  }

  /**
   * KVM_ENABLE_CAP(KVM_CAP_ENFORCE_PV_FEATURE_CPUID) on vCPU `cpu`
   * (`kvm_vcpu_ioctl_enable_cap`: `pv_cpuid.enforce = args[0]`, at any time).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.setPvEnforce(0, true); // PV MSRs and hypercalls now need their CPUID bits
   * ```
   */
  setPvEnforce(cpu: number, on: boolean): void {
    this.#cpuid[cpu] = { ...this.cpuidBits(cpu), pvEnforce: on };
    if (this.trace.enabled) {
      this.trace.emit("kvm", "cpuid", `KVM_CAP_ENFORCE_PV_FEATURE_CPUID vcpu${cpu}: ${+on}`);
    }
  }

  /**
   * KVM_CAP_X2APIC_API's USE_32BIT_IDS (1) and DISABLE_BROADCAST_QUIRK (2)
   * once the vCPUs exist (x86.c kvm_vm_ioctl_enable_cap only ever sets
   * `x2apic_format` and `x2apic_broadcast_quirk_disabled`): every reader
   * sees them from the next message on (MSI decoding and route checks,
   * the split irqchip's EOI exits, KVM_GET/SET_LAPIC's ID format), except
   * KVM's APIC map, which takes 32-bit IDs at its next recalculation (the
   * cap marks nothing dirty).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.enableX2apicApi(X2apicApi.DisableBroadcastQuirk);
   * ```
   */
  enableX2apicApi(flags: number): void {
    const use32 = (flags & X2apicApi.Use32BitIds) !== 0;
    this.bus.enableX2apicApi({
      use32BitIds: use32,
      disableBroadcastQuirk: (flags & X2apicApi.DisableBroadcastQuirk) !== 0,
    });
    if (use32) {
      this.#msi.options.x2apicFormat = true;
      this.routing.useX2apicFormat();
      if (this.#splitHost) this.#splitHost.x2apicFormat = true;
    }
    this.x2apicApi |= flags & (X2apicApi.Use32BitIds | X2apicApi.DisableBroadcastQuirk);
  }

  /**
   * Whether KVM offers directed EOI to a guest with CPUID x2APIC
   * (`kvm_lapic_advertise_suppress_eoi_broadcast`, read when
   * `kvm_apic_set_version` sets Version bit 24: at KVM_SET_CPUID2 and at
   * each INIT or reset, not when KVM_CAP_X2APIC_API changes the mode).
   * Quirked: only when the I/O APIC is not in the kernel, since KVM's has
   * no EOI register (without an in-kernel LAPIC the question is userspace's,
   * and the model's LAPIC offers nothing).
   */
  get offersDirectedEoi(): boolean {
    const mode = this.eoiBroadcastMode;
    return mode === "quirked" ? this.config.irqchip === "split" : mode === "enabled";
  }

  /**
   * Whether a LAPIC whose SVR bit 12 is set suppresses the EOI broadcast
   * (`kvm_lapic_suppress_eoi_broadcast`, read at each EOI). Quirked: only
   * with the in-kernel I/O APIC, where the bit is writable by KVM_SET_LAPIC
   * alone; a split irqchip's EOI exits whatever the bit says, the legacy
   * behaviour VMMs without directed EOI came to rely on.
   */
  get suppressesEoiBroadcast(): boolean {
    const mode = this.eoiBroadcastMode;
    return mode === "quirked" ? this.config.irqchip !== "split" : mode === "enabled";
  }

  /** Whether KVM has an irqchip at all (not `irqchip userspace`). */
  get irqchipInKernel(): boolean {
    return this.#irqchipInKernel;
  }
  /** From the configuration, which does not change: asked by every KVM_SIGNAL_MSI. */
  readonly #irqchipInKernel: boolean;
  /**
   * KVM's `kvmclock_offset` less its value at creation, in ns: what
   * KVM_SET_CLOCK moved the kvmclock by ({@link X86Vm.setClock}). Declared
   * last: the fields the interrupt paths use keep their slots.
   */
  kvmclockOffsetNs = 0;
  /** KVM's TSC synchronization state (lib/x86/tsc.ts), which the VMM's IA32_TSC writes use. */
  readonly #tscSync = new KvmTscSync();
  /** {@link KvmTscSync}: the VM's TSC synchronization state. */
  get tscSync(): KvmTscSync {
    return this.#tscSync;
  }

  /**
   * QEMU's userspace I/O APIC (`irqchip split` with `split_ioapic qemu`),
   * else null. Declared last: the fields the interrupt paths use keep
   * their slots.
   */
  readonly qemuIoapic: QemuIoapic | null;

  /**
   * KVM_IRQ_LINE_STATUS on `gsi`: the routing table's answer, or -ENXIO
   * without an in-kernel irqchip (`kvm_vm_ioctl_irq_line`).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.irqLine(14, 1); // 1 with an unmasked RTE 14
   * ```
   */
  irqLine(gsi: number, level: 0 | 1): number {
    if (!this.irqchipInKernel) return this.#refused("KVM_IRQ_LINE", -ENXIO);
    return this.routing.irqLine(gsi, level);
  }

  /**
   * A device's interrupt line `gsi` goes to `level`: KVM_IRQ_LINE_STATUS
   * ({@link X86Vm.irqLine}), except that with QEMU's userspace I/O APIC
   * the lines of its pins reach it (`ioapic_set_irq`, which makes the
   * KVM_IRQ_LINE itself; GSI 0 is its pin 2).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.deviceLine(5, 1);
   * ```
   */
  deviceLine(gsi: number, level: 0 | 1): number {
    const q = this.qemuIoapic;
    if (q !== null && gsi < QEMU_IOAPIC_PINS) return q.setIrq(gsi, level);
    return this.irqLine(gsi, level);
  }

  /**
   * KVM_SIGNAL_MSI: the routing layer's answer, or -EINVAL without an
   * in-kernel irqchip (`kvm_send_userspace_msi`).
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.signalMsi(0xfee00000, 0, 0x41); // 1
   * ```
   */
  signalMsi(addressLo: number, addressHi: number, data: number): number {
    if (!this.irqchipInKernel) return this.#refused("KVM_SIGNAL_MSI", -EINVAL);
    return this.routing.signalMsi(addressLo, addressHi, data);
  }

  /**
   * KVM_SET_GSI_ROUTING: 0 or -EINVAL; always -EINVAL without an in-kernel
   * irqchip (`kvm_arch_can_set_irq_routing`), and for `flags` other than 0.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.setGsiRouting([]); // 0
   * ```
   */
  setGsiRouting(entries: readonly RoutingEntry[], flags = 0): number {
    if (!this.irqchipInKernel) return this.#refused("KVM_SET_GSI_ROUTING", -EINVAL);
    // kvm_vm_ioctl refuses struct kvm_irq_routing's flags before reading any entry.
    if (flags !== 0) return -EINVAL;
    const rc = this.routing.setRouting(entries);
    if (rc === 0) {
      // kvm_arch_irq_routing_update: kvm_hv_irq_routing_update, then the scan.
      this.#hvRoutingUpdate();
      this.#splitEois?.rescan();
    }
    return rc;
  }

  /**
   * KVM_NMI: queue an NMI for a vCPU (`kvm_inject_nmi`), in every irqchip
   * mode. The vCPU keeps at most two (one while NMIs are blocked). Returns 0.
   *
   * @example
   * ```ts
   * declare const vm: X86Vm;
   * vm.kvmNmi(0); // 0
   * ```
   */
  kvmNmi(cpu: number): number {
    const l = this.cpus[cpu].lapic;
    l.nmiPending++;
    if (this.trace.enabled) {
      this.trace.emit("kvm", "nmi", `KVM_NMI vcpu${cpu}: NMI queued (${l.nmiPending})`);
    }
    // KVM_REQ_NMI: process_nmi at the next entry makes KVM_REQ_EVENT.
    this.cpus[cpu].eventRequested();
    return 0;
  }

  #refused(ioctl: string, errno: number): number {
    if (this.trace.enabled) {
      this.trace.emit("kvm", "ioctl.refused", `${ioctl}: ${errno} (no in-kernel irqchip)`);
    }
    return errno;
  }

  /**
   * KVM_INTERRUPT: queue an external interrupt vector for a vCPU. Refused
   * with -ENXIO when the PIC is in the kernel; in split mode one vector may
   * wait (a second gets -EEXIST) until LVT0 accepts ExtINT; without an
   * in-kernel irqchip it is injected at the next entry whatever IF says
   * (userspace must wait for the interrupt window).
   */
  kvmInterrupt(cpu: number, vector: number): number {
    const t = this.trace;
    if (this.config.irqchip === "userspace") return this.cpus[cpu].queueInterrupt(vector);
    if (this.config.irqchip === "kernel") {
      if (t.enabled) {
        t.emit("kvm", "interrupt", `KVM_INTERRUPT vcpu${cpu}: -ENXIO (the PIC is in the kernel)`);
      }
      return -ENXIO;
    }
    const u = this.#userspace[cpu];
    if (u.vector >= 0) {
      if (t.enabled) {
        t.emit(
          "kvm",
          "interrupt",
          `KVM_INTERRUPT vcpu${cpu}: -EEXIST (0x${u.vector.toString(16)} still queued)`,
        );
      }
      return -EEXIST;
    }
    u.vector = vector;
    if (t.enabled) {
      t.emit(
        "kvm",
        "interrupt",
        `KVM_INTERRUPT vcpu${cpu} vector 0x${vector.toString(16)} queued as ExtINT`,
      );
    }
    return 0;
  }
}

/**
 * The x86 side of a Xen domain: what {@link XenDomain} asks of the machine
 * ({@link XenHost}) and what a vCPU asks of the hypervisor
 * ({@link HypervisorHooks}). One per VM; nothing here allocates per call.
 */
class XenGlue implements XenHost, HypervisorHooks {
  /** Reused for every upcall-vector IRR request. */
  readonly #msg: ApicMessage = fixedMessage(0, 0, "msi");

  constructor(
    readonly vm: X86Vm,
    readonly queue: EventQueue,
    readonly now: () => number,
  ) {}

  #domain(): XenDomain {
    return this.vm.xen!.domain;
  }

  lapicEnabled(n: number): boolean {
    const l = this.vm.cpus[n].lapic;
    return l.hardwareEnabled && l.softwareEnabled;
  }

  /**
   * Xen: `vlapic_set_irq(vlapic, vector, 0)` straight into vCPU `n`'s
   * vLAPIC. kvm-xen: `kvm_xen_inject_vcpu_vector` sends a fixed, physical,
   * edge MSI to APIC ID = the vCPU's vcpu_id, which the bus routes like any
   * other (a guest that changed its xAPIC ID no longer receives it).
   */
  lapicSetIrr(n: number, vector: number): void {
    const m = this.#msg;
    m.vector = vector;
    m.dest = n;
    if (this.#domain().flavour === "xen") this.vm.cpus[n].lapic.accept(m);
    else this.vm.bus.deliver(m);
  }

  /**
   * `vcpu_kick` / `kvm_vcpu_kick`: ends SCHEDOP_block or SCHEDOP_poll. Xen
   * also ends a HLT with IF=1, since `hvm_hlt` is SCHEDOP_block and any kick
   * unblocks it; under KVM a halted vCPU re-checks for an interrupt it can
   * take ({@link X86Cpu.canTake}) and otherwise stays halted.
   */
  kick(n: number): void {
    const d = this.#domain();
    d.timers.kick(n);
    const cpu = this.vm.cpus[n];
    if (d.flavour === "xen" && cpu.halted && cpu.interruptFlag) {
      cpu.halted = false;
      const t = this.vm.trace;
      if (t.enabled) t.emit(cpu.name, "wake", "HLT ended by vcpu_kick");
    }
  }

  /** The callback GSI (or PCI INTx GSI) line, through the VM's GSI routing. */
  setGsiLevel(gsi: number, level: 0 | 1): void {
    this.vm.routing.irqLine(gsi, level);
  }

  pvUpcallDue(n: number): boolean {
    return this.#domain().pvUpcallDue(n);
  }

  pvEnterCallback(n: number): number {
    return this.#domain().pvEnterCallback(n);
  }

  pvIret(n: number, rflagsIf: boolean): void {
    this.#domain().pvIret(n, rflagsIf);
  }

  /** kvm-xen: KVM's runstate update at entry ({@link KvmXen.vcpuEntry}). */
  enter(n: number): boolean {
    const x = this.vm.xen!;
    return x.domain.flavour === "kvm-xen" && x.kvm.vcpuEntry(n);
  }

  /**
   * The vCPU is off its CPU (`Runstates.outsideUntil`): kvm-xen, its thread
   * is outside KVM_RUN; Xen, its scheduler runs another vCPU.
   */
  outside(n: number): boolean {
    return this.#domain().runstate.outside(n, this.now());
  }

  /** `local_events_need_delivery` (HVM): an interrupt could be injected now. */
  interruptDeliverable(n: number): boolean {
    return this.vm.cpus[n].canTake();
  }

  /** HLT or a blocking hypercall: the vCPU is halted. */
  halted(n: number): boolean {
    return this.vm.cpus[n].halted;
  }

  /** A blocking hypercall halts the vCPU until it ends. */
  setBlocked(n: number, blocked: boolean): void {
    // A crashed domain's vCPUs never run again (domain_crash).
    this.vm.cpus[n].halted = blocked || this.#domain().crashed !== "";
  }

  /** KVM signalled eventfd `fd`: each KVM_IRQFD bound to it raises its GSI. */
  signalEventfd(fd: number): void {
    this.vm.irqfds.signal(fd);
  }

  globalVector(n: number): number {
    return this.#domain().globalVector(n);
  }

  woken(n: number): void {
    this.#domain().timers.kick(n);
  }

  vmExit(_n: number): void {
    this.#domain().vmExit();
  }

  /** The host's own hypercall instruction (`host_cpu`): Xen's and KVM's page stubs hold it. */
  hypercallInsn(): readonly number[] {
    return HYPERCALL_INSN[nativeHypercall(this.vm.config.hostCpu ?? "intel")];
  }

  /**
   * The hypercall-page MSR: Xen's own at 0x40000000 (`guest_wrmsr_xen`), or
   * the one KVM_XEN_HVM_CONFIG configured (`kvm_xen_write_hypercall_page`).
   */
  wrmsr(n: number, msr: number, value: bigint): string | null | undefined {
    const x = this.vm.xen!;
    if (x.domain.flavour === "kvm-xen") return x.kvm.writeHypercallMsr(n, msr, value);
    if (msr !== XEN_HYPERCALL_MSR) return undefined;
    const why = xenParts().writeHypercallPage(x.domain.mem, value, this.hypercallInsn());
    if (why === null && this.vm.trace.enabled) {
      this.vm.trace.emit("xen", "hypercall_page", `hypercall page at 0x${value.toString(16)}`);
    }
    return why;
  }
}
