/**
 * KVM's own hypercalls that deliver interrupts, as the guest makes them
 * with VMCALL (VMMCALL on AMD): KVM_HC_SEND_IPI, the PV IPI a Linux guest
 * uses for multicast IPIs (`kvm_send_ipi_mask`). KVM sends a fixed (or the
 * ICR's) interrupt to every APIC whose physical ID is `min` plus a set bit
 * of the bitmaps, looked up in KVM's APIC map, and returns how many
 * accepted it.
 *
 * Sources: Linux `arch/x86/kvm/x86.c` (`kvm_emulate_hypercall`: CPL 0 only,
 * arguments truncated to 32 bits outside 64-bit mode), `lapic.c`
 * (`kvm_pv_send_ipi`, `__pv_send_ipi`: the high bitmap covers `min` plus the
 * bitmap width, added in u32 arithmetic; IDs above the map's `max_apic_id`
 * send nothing), `include/uapi/linux/kvm_para.h` (KVM_HC_SEND_IPI 10,
 * KVM_E* values), `Documentation/virt/kvm/x86/hypercalls.rst`. Under
 * KVM_CAP_ENFORCE_PV_FEATURE_CPUID, KVM_HC_KICK_CPU, KVM_HC_SEND_IPI and
 * KVM_HC_SCHED_YIELD need their KVM_FEATURE_* bit (kvm_pv_features.ts) and
 * return -KVM_ENOSYS without it, as does any number KVM does not know.
 *
 * @module
 */
import { CommandInputError } from "../core/diagnostic.ts";
import { getField, indexFields } from "../core/bitfield.ts";
import { type DeliveryMode, fixedMessage } from "./apic_message.ts";
import { ICR_LOW_FIELDS } from "./lapic_registers.ts";
import type { X86Command } from "./command.ts";
import { Accept } from "./lapic.ts";
import {
  guestPvHas,
  KVM_ENOSYS,
  KvmFeature,
  KvmHc,
  PV_HYPERCALL_FEATURE,
  PV_MSRS,
} from "./kvm_pv_features.ts";
import type { X86Vm } from "./vm.ts";
import { enterHypercall } from "./kvm_quirks.ts";
import { UD_VECTOR } from "./exceptions.ts";
import { UD_FAULT } from "./cpu.ts";

const KVM_HC_SEND_IPI = KvmHc.SEND_IPI;
/** `-KVM_EINVAL` and `-KVM_EOPNOTSUPP` (kvm_para.h: the host's EINVAL and EOPNOTSUPP). */
const KVM_EINVAL = 22, KVM_EOPNOTSUPP = 95;
const ICR = indexFields(ICR_LOW_FIELDS);
/** The bits a real-mode or 32-bit hypercall's registers keep. */
const U32 = 0xffff_ffff;

/**
 * `kvm_pv_send_ipi` for a 32-bit caller: the number of APICs that accepted,
 * or -KVM_EINVAL for a logical or shorthand ICR, -KVM_EOPNOTSUPP without
 * an in-kernel LAPIC (KVM has no APIC map).
 */
function pvSendIpi(vm: X86Vm, low: number, high: number, min: number, icr: number): number {
  // APIC_DEST_MASK and APIC_SHORT_MASK: only physical, no-shorthand ICRs.
  if (getField(ICR.dest_mode, icr) !== 0 || getField(ICR.shorthand, icr) !== 0) return -KVM_EINVAL;
  if (!vm.irqchipInKernel) return -KVM_EOPNOTSUPP;
  const map = vm.bus.kvmMap();
  const cluster = 32;
  const send = (bitmap: number, base: number): number => {
    if (base > map.maxApicId) return 0;
    let count = 0;
    const width = Math.min(64, map.maxApicId - base + 1);
    for (let i = 0; i < width && i < 32; i++) {
      if (((bitmap >>> i) & 1) === 0) continue;
      const n = map.physAt(base + i);
      if (n < 0) continue;
      const lapic = vm.cpus[n].lapic;
      const msg = fixedMessage(getField(ICR.vector, icr), lapic.id, "ipi");
      msg.deliveryMode = getField(ICR.delivery_mode, icr) as DeliveryMode;
      msg.assert = getField(ICR.level, icr) === 1;
      msg.level = getField(ICR.trigger, icr) === 1;
      if (lapic.accept(msg) !== Accept.Dropped) count++;
    }
    return count;
  };
  // min + cluster_size is u32 arithmetic: 0xffffffff + 32 wraps to 31.
  return send(low, min) + send(high, (min + cluster) >>> 0);
}

/**
 * KVM_HC_KICK_CPU (`kvm_pv_kick_cpu_op`, then `kvm_sched_yield`, the host
 * scheduler's): an APIC_DM_REMRD message to the physical APIC ID `apicid`
 * through KVM's APIC map ({@link X86Cpu.pvKick} on the vCPU it names;
 * nobody for an ID no vCPU has). Returns 0.
 */
function kickCpu(vm: X86Vm, apicid: number): number {
  if (!vm.irqchipInKernel) {
    throw new CommandInputError(
      "KVM_HC_KICK_CPU without an in-kernel LAPIC (no APIC map, no pv_unhalted wake-up) is not " +
        "modelled",
    );
  }
  const map = vm.bus.kvmMap();
  if (apicid === 0xff || apicid === 0xffff_ffff) {
    throw new CommandInputError(
      `KVM_HC_KICK_CPU to 0x${apicid.toString(16)}: a broadcast ID, which KVM's slow path ` +
        "would deliver to every APIC; not modelled",
    );
  }
  const n = apicid > map.maxApicId ? -1 : map.physAt(apicid);
  if (n >= 0) vm.cpus[n].pvKick();
  return 0;
}

/**
 * `vcpuN: vmcall`: KVM's interrupt hypercall.
 *
 * @example
 * ```ts
 * KVM_HYPERCALL_COMMANDS[0].name; // "vmcall"
 * ```
 */
export const KVM_HYPERCALL_COMMANDS: readonly X86Command[] = [{
  actor: "vcpu",
  name: "vmcall",
  backend: "vmcall",
  exits: true,
  doc: "VMCALL of a KVM hypercall (kvm_emulate_hypercall), from real or 32-bit mode at CPL 0: " +
    "nr=KVM_HC_SEND_IPI (10) with a0/a1 the low and high APIC-ID bitmaps, a2 the lowest ID " +
    "(min), a3 the ICR low word (kvm_pv_send_ipi): returns how many APICs accepted, " +
    "-KVM_EINVAL (-22) for a logical or shorthand ICR, -KVM_EOPNOTSUPP (-95) without an " +
    "in-kernel LAPIC; KVM_HC_SCHED_YIELD (11) and KVM_HC_VAPIC_POLL_IRQ (1) return 0; " +
    "KVM_HC_MAP_GPA_RANGE (12, no KVM_CAP_EXIT_HYPERCALL) and unknown numbers -KVM_ENOSYS " +
    "(-1000); under KVM_CAP_ENFORCE_PV_FEATURE_CPUID, KICK_CPU (5), SEND_IPI and SCHED_YIELD " +
    "without their KVM_FEATURE_* bit (PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD) -KVM_ENOSYS; " +
    "KICK_CPU otherwise (a1 the APIC ID) wakes that vCPU from HLT, or makes its next HLT not " +
    "halt (pv_unhalted), and returns 0; CLOCK_PAIRING (9) is not modelled (input error). " +
    "With at=, the instruction is the three bytes there: the host's own (host_cpu) runs as " +
    "above; the other vendor's (VMMCALL 0f 01 d9 on intel, VMCALL 0f 01 c1 on amd) raises " +
    "#UD, which KVM emulates: it writes the host's instruction over it and the guest executes " +
    "that (KVM_X86_QUIRK_FIX_HYPERCALL_INSN), or, that quirk off (KVM_CAP_DISABLE_QUIRKS2), " +
    "injects #UD and returns UD (-6), the bytes left (lib/x86/kvm_quirks.ts)",
  params: [
    {
      name: "nr",
      type: { kind: "int", min: 0, max: U32, what: "a KVM hypercall number" },
      doc: "EAX: KVM_HC_*",
    },
    ...["a0", "a1", "a2", "a3"].map((name, i) => ({
      name,
      type: { kind: "u64" as const },
      doc: `${["EBX", "ECX", "EDX", "ESI"][i]} (32 bits are kept)`,
      default: 0,
    })),
    {
      name: "at",
      type: { kind: "int", min: -1, max: U32, what: "a guest-physical address or -1" },
      doc: "where the instruction's bytes are (-1: none given, the host's own instruction)",
      default: -1,
    },
  ],
  returns: "EAX: the count, or -KVM_E*; UD (-6) if KVM injected #UD",
  requires: (s) =>
    s.hypervisor !== undefined && s.hypervisor !== "kvm"
      ? "KVM's own hypercalls need 'hypervisor kvm' (a Xen guest's VMCALL is a Xen hypercall)"
      : undefined,
  run: (vm, cpu, a) => {
    const at = a.at as number;
    if (at >= 0) {
      const entry = enterHypercall(
        vm.memory(),
        at,
        vm.config.hostCpu ?? "intel",
        vm.disabledQuirks,
      );
      if (entry === "ud") {
        vm.cpus[cpu].raiseSkipped(UD_VECTOR, "the other vendor's hypercall instruction");
        return UD_FAULT;
      }
      if (entry === "patched" && vm.trace.enabled) {
        vm.trace.emit(
          `vcpu${cpu}`,
          "hypercall",
          `#UD emulated: the host's hypercall written at 0x${at.toString(16)}`,
        );
      }
    }
    const nr = a.nr as number;
    // kvm_emulate_hypercall: ret starts as -KVM_ENOSYS; a gated call without its bit keeps it.
    const feature = PV_HYPERCALL_FEATURE[nr];
    if (feature !== undefined && !guestPvHas(vm.cpuidBits(cpu), feature)) return -KVM_ENOSYS;
    const r = (k: string) => Number(BigInt(a[k] as bigint) & BigInt(U32));
    switch (nr) {
      case KvmHc.VAPIC_POLL_IRQ:
      case KvmHc.SCHED_YIELD:
        // Both return 0; the directed yield (kvm_sched_yield) is the host scheduler's.
        return 0;
      case KVM_HC_SEND_IPI:
        return pvSendIpi(vm, r("a0"), r("a1"), r("a2"), r("a3"));
      case KvmHc.KICK_CPU:
        return kickCpu(vm, r("a1"));
      case KvmHc.CLOCK_PAIRING:
        throw new CommandInputError(
          `hypercall ${nr}: KVM takes it, and its clock reading (kvm_pv_clock_pairing) is not ` +
            "modelled",
        );
      default:
        // KVM_HC_MAP_GPA_RANGE without KVM_CAP_EXIT_HYPERCALL, and every unknown number.
        return -KVM_ENOSYS;
    }
  },
}];

/**
 * Named values for `vmcall`.
 *
 * @example
 * ```ts
 * KVM_HYPERCALL_CONSTANTS.KVM_HC_SEND_IPI; // 10
 * ```
 */
export const KVM_HYPERCALL_CONSTANTS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(KvmHc).map(([n, v]) => [`KVM_HC_${n}`, v])),
  KVM_ENOSYS,
  ...Object.fromEntries(Object.entries(KvmFeature).map(([n, v]) => [`KVM_FEATURE_${n}`, v])),
  ...Object.fromEntries(PV_MSRS.map((m) => [m.name, m.msr])),
};
