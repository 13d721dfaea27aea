/**
 * The hypercall page: what a guest's WRMSR to the hypervisor's MSR
 * (CPUID leaf base+2 names it, 0x40000000 here) writes into guest memory.
 * The page is 128 stubs of 32 bytes; stub `i` is `mov $i, %eax; <the
 * host's hypercall instruction>; ret`, so a guest calls hypercall `i` at
 * `page + 32 * i`.
 *
 * - Xen (`guest_wrmsr_xen`, `init_hypercall_page`,
 *   `hvm_hypercall_page_initialise`, which picks the vendor's
 *   `vmx_init_hypercall_page` or `svm_init_hypercall_page`):
 *   the page is first filled with INT3 (0xCC); stub 23 (`__HYPERVISOR_iret`)
 *   is UD2 instead, since HVM guests have no iret hypercall. A page index
 *   (the value's low 12 bits) other than 0 is #GP.
 * - kvm-xen (`kvm_xen_write_hypercall_page`, with the VMM's
 *   KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL): every stub, 23 included, is the
 *   same pattern padded with INT3, its instruction the one the vendor's
 *   `patch_hypercall` writes; the MSR is the one KVM_XEN_HVM_CONFIG
 *   named; a page index other than 0 is #GP. The write also latches the
 *   shared_info layout to the vCPU's mode. Without INTERCEPT_HCALL KVM
 *   copies page `index` of the VMM's blob instead, which the model does not
 *   hold.
 *
 * Both write the host's instruction: VMCALL on Intel, VMMCALL on AMD. Its
 * bytes are the caller's to give (lib/x86/kvm_quirks.ts's
 * `HYPERCALL_INSN`, by the VM's `host_cpu`): lib/xen sits below lib/x86.
 *
 * @module
 */
import type { GuestMemory } from "../core/guest_memory.ts";
export { XEN_HYPERCALL_MSR } from "./abi.ts";

/**
 * Bytes per stub.
 *
 * @example
 * ```ts
 * HYPERCALL_STUB_SIZE * 128; // 4096
 * ```
 */
export const HYPERCALL_STUB_SIZE = 32;

/**
 * `__HYPERVISOR_iret`, the stub Xen leaves as UD2 for HVM guests.
 *
 * @example
 * ```ts
 * HYPERVISOR_IRET; // 23
 * ```
 */
export const HYPERVISOR_IRET = 23;

const PAGE = 4096;
const INT3 = 0xcc;
const MOV_EAX_IMM32 = 0xb8;
const RET = 0xc3;
const UD2 = [0x0f, 0x0b];

/**
 * Fills the hypercall page at `gpa` as `flavour` does, or says why the
 * WRMSR value is refused (#GP). `value` is the WRMSR's: page address in
 * bits 63:12, page index in bits 11:0; `insn` the host's hypercall
 * instruction's bytes.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * declare const mem: GuestMemory;
 * writeHypercallPage(mem, "xen", 0x30000n, [0x0f, 0x01, 0xd9]); // null: stubs at 0x30000
 * mem.read(0x30000 + 32 * 3, 8); // 0xb8
 * ```
 */
export function writeHypercallPage(
  mem: GuestMemory,
  flavour: "xen" | "kvm-xen",
  value: bigint,
  insn: readonly number[],
): string | null {
  const index = Number(value & 0xfffn);
  const gpa = Number(value & ~0xfffn);
  if (index !== 0) return `hypercall page index ${index} is not supported`;
  if (!mem.contains(gpa, PAGE)) return `hypercall page 0x${gpa.toString(16)} is not guest RAM`;
  mem.fill(gpa, PAGE, INT3);
  for (let i = 0; i < PAGE / HYPERCALL_STUB_SIZE; i++) {
    const p = gpa + i * HYPERCALL_STUB_SIZE;
    if (flavour === "xen" && i === HYPERVISOR_IRET) {
      mem.write(p, 8, UD2[0]);
      mem.write(p + 1, 8, UD2[1]);
      continue;
    }
    mem.write(p, 8, MOV_EAX_IMM32);
    mem.write(p + 1, 32, i);
    insn.forEach((b, k) => mem.write(p + 5 + k, 8, b));
    mem.write(p + 8, 8, RET);
  }
  return null;
}

/**
 * A guest's call of stub `nr` of the hypercall page at `page`: the EAX its
 * `mov` loads when the stub goes on to the host's hypercall instruction
 * `insn`, or why the call is no hypercall the model follows (the stub
 * holds something else: never written, overwritten, Xen's UD2 at 23, or
 * the other vendor's instruction, whose #UD the model does not follow
 * here).
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * declare const mem: GuestMemory;
 * writeHypercallPage(mem, "kvm-xen", 0x30000n, [0x0f, 0x01, 0xd9]);
 * stubInput(mem, 0x30000, 17, [0x0f, 0x01, 0xd9]); // 17n
 * ```
 */
export function stubInput(
  mem: GuestMemory,
  page: number,
  nr: number,
  insn: readonly number[],
): bigint | string {
  const p = page + nr * HYPERCALL_STUB_SIZE;
  const hex = (n: number) => `0x${n.toString(16)}`;
  if (nr >= PAGE / HYPERCALL_STUB_SIZE || !mem.contains(p, 9)) {
    return `stub ${nr} of the page at ${hex(page)} is not guest RAM in a hypercall page`;
  }
  const bytes = [5, 6, 7].map((k) => mem.byte(p + k));
  if (mem.byte(p) !== MOV_EAX_IMM32 || bytes.some((b, k) => b !== insn[k])) {
    return `the stub at ${hex(p)} is not mov $imm32, %eax then the host's hypercall ` +
      `instruction (${insn.map((b) => b.toString(16).padStart(2, "0")).join(" ")})`;
  }
  return BigInt(mem.read(p + 1, 32));
}
