/**
 * The guest's CPUID, as far as interrupt delivery shows in it: the fields
 * KVM keeps in step with the APIC (CPUID.1:EDX.APIC follows
 * IA32_APIC_BASE.EN, `kvm_update_cpuid_runtime`), the ones KVM_SET_CPUID2
 * sets for the LAPIC (CPUID.1:ECX x2APIC and TSC_DEADLINE,
 * `kvm_vcpu_after_set_cpuid`), and the APIC IDs the VMM writes into leaves
 * 1 and 0xB (the vCPU index, as QEMU and irqlab's KVM backend do). Every
 * other CPUID bit is the VMM's and the host's, so a scenario reads a named
 * field, never a whole register.
 *
 * Sources: Intel SDM vol. 2A, CPUID (leaf 01H: EBX[31:24] initial APIC ID,
 * ECX[21] x2APIC, ECX[24] TSC-Deadline, EDX[9] APIC; leaf 0BH: EDX x2APIC
 * ID); Linux `arch/x86/kvm/cpuid.c`.
 *
 * @module
 */
import type { BitField } from "../core/bitfield.ts";
import type { X86Command } from "./command.ts";
import { ApicBaseBit } from "./lapic_registers.ts";
import type { X86Vm } from "./vm.ts";
import { invtscSuppressed } from "./hyperv_cpuid.ts";
import { CommandInputError } from "../core/diagnostic.ts";

/** A Xen PV domain: its CPUID is Xen's PV policy, without the HVM-only features and IDs. */
function xenPv(vm: X86Vm): boolean {
  return vm.config.hypervisor === "xen" && vm.config.xenDomain === "pv";
}

/** One CPUID field: where it is, and what the model says it holds. */
export interface CpuidField {
  /** EAX on input. */
  readonly leaf: number;
  /** The output register. */
  readonly reg: "eax" | "ebx" | "ecx" | "edx";
  /** Its bits. */
  readonly bits: BitField;
  /** The field's value for vCPU `cpu`. */
  readonly get: (vm: X86Vm, cpu: number) => number;
  /** One line: what the bit is and who sets it. */
  readonly doc: string;
}

/**
 * The fields `vcpuN: cpuid` reads, by name.
 *
 * @example
 * ```ts
 * CPUID_FIELDS.apic.leaf; // 1
 * ```
 */
export const CPUID_FIELDS: Readonly<Record<string, CpuidField>> = {
  apic: {
    leaf: 1,
    reg: "edx",
    bits: { name: "apic", lsb: 9, width: 1 },
    get: (vm, cpu) => +((vm.cpus[cpu].lapic.apicBase & ApicBaseBit.EN) !== 0),
    doc: "CPUID.1:EDX[9], the APIC present: KVM clears it while IA32_APIC_BASE.EN is 0",
  },
  x2apic: {
    leaf: 1,
    reg: "ecx",
    bits: { name: "x2apic", lsb: 21, width: 1 },
    get: (vm, cpu) => xenPv(vm) ? 0 : +vm.cpuidBits(cpu).x2apic,
    doc: "CPUID.1:ECX[21], x2APIC: as KVM_SET_CPUID2 set it (1 until then; a Xen PV domain: 0, " +
      "X2APIC is an HVM-only feature in Xen's cpufeatureset.h)",
  },
  tsc_deadline: {
    leaf: 1,
    reg: "ecx",
    bits: { name: "tsc_deadline", lsb: 24, width: 1 },
    get: (vm, cpu) => +vm.cpuidBits(cpu).tscDeadline,
    doc: "CPUID.1:ECX[24], TSC-deadline timer mode: as KVM_SET_CPUID2 set it (1 until then)",
  },
  initial_apic_id: {
    leaf: 1,
    reg: "ebx",
    bits: { name: "initial_apic_id", lsb: 24, width: 8 },
    get: (vm, cpu) => xenPv(vm) ? 0 : vm.cpus[cpu].lapic.x2apicId & 0xff,
    doc:
      "CPUID.1:EBX[31:24], the initial xAPIC ID: the vCPU index, as the VMM sets it (Xen: twice it; a Xen PV domain: 0, guest_cpuid sets it for HVM only)",
  },
  invtsc: {
    leaf: 0x8000_0007,
    reg: "edx",
    bits: { name: "invtsc", lsb: 8, width: 1 },
    get: (vm, cpu) => {
      const hv = vm.hyperv[cpu];
      return hv !== undefined && vm.hvPartition !== null &&
          invtscSuppressed(hv.cpuidCache, vm.hvPartition.invtscControl)
        ? 0
        : 1;
    },
    doc: "CPUID.80000007H:EDX[8], the invariant TSC: the model's host has one; KVM hides it " +
      "while the Hyper-V CPUID offers HV_ACCESS_TSC_INVARIANT and HV_X64_MSR_TSC_INVARIANT_CONTROL " +
      "bit 0 is clear (kvm_hv_invtsc_suppressed)",
  },
  x2apic_id: {
    leaf: 0xb,
    reg: "edx",
    bits: { name: "x2apic_id", lsb: 0, width: 32 },
    get: (vm, cpu) => {
      if (xenPv(vm)) {
        throw new CommandInputError(
          "CPUID leaf 0xB in a Xen PV domain: Xen fixes its x2APIC ID only for guests with x2APIC " +
            "(HVM); what a PV guest reads there is not modelled",
        );
      }
      return vm.cpus[cpu].lapic.x2apicId;
    },
    doc: "CPUID.0BH:EDX, the x2APIC ID: the vCPU index, as the VMM sets it (Xen: twice it)",
  },
};

/**
 * `vcpuN: cpuid FIELD`: the guest executes CPUID and reads one field.
 *
 * @example
 * ```ts
 * CPUID_COMMANDS[0].name; // "cpuid"
 * ```
 */
export const CPUID_COMMANDS: readonly X86Command[] = [{
  actor: "vcpu",
  name: "cpuid",
  backend: "cpuid",
  exits: true,
  doc: "CPUID (always exits to KVM, which answers from KVM_SET_CPUID2's table kept in step " +
    "with the APIC, kvm_update_cpuid_runtime): one field, " +
    Object.entries(CPUID_FIELDS).map(([n, f]) => `${n} (${f.doc})`).join("; "),
  params: [{
    name: "field",
    type: { kind: "enum", values: Object.keys(CPUID_FIELDS) },
    doc: "the field read",
    positional: true,
  }],
  returns: "the field's value",
  run: (vm, cpu, a) => CPUID_FIELDS[a.field as string].get(vm, cpu),
}];
