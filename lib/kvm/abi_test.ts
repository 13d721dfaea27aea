import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  decodeMsrs,
  decodeRegs,
  decodeSregs,
  encodeIrqRouting,
  encodeMsi,
  encodeMsrs,
  encodeRegs,
  encodeSregs,
  IOAPIC_STATE,
  ioc,
  KVM,
  KVM_RUN,
  lapicVectors,
  MEMORY_REGION,
  SEGMENT,
  setLapicRegister,
  SIZEOF,
  SREGS,
  struct,
  VCPU_EVENTS,
} from "./abi.ts";

// Every expected number below is read off the x86_64 kernel headers:
// include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h.

Deno.test("SIZEOF gives the sizeof of each structure when compiled for x86_64", () => {
  assertEquals(SIZEOF, {
    kvm_userspace_memory_region: 32, // u32 slot, u32 flags, 3 x u64
    kvm_regs: 144, // 18 x u64 (asm/kvm.h)
    kvm_segment: 24, // u64 base, u32 limit, u16 selector, 8 x u8, u8 padding
    kvm_dtable: 16, // u64 base, u16 limit, u16 padding[3]
    kvm_sregs: 312, // 8 segments, 2 dtables, 7 x u64, u64 interrupt_bitmap[4]
    kvm_lapic_state: 1024, // KVM_APIC_REG_SIZE 0x400
    kvm_pic_state: 16, // 16 x u8
    kvm_ioapic_state: 216, // u64, 4 x u32, redirtbl[KVM_IOAPIC_NUM_PINS 24] x u64
    kvm_irqchip: 520, // u32 chip_id, u32 pad, union { char dummy[512]; ... }
    kvm_irq_level: 8,
    kvm_irq_routing: 8, // u32 nr, u32 flags, entries[]
    kvm_irq_routing_entry: 48, // u32 gsi, type, flags, pad, union { u32 pad[8]; ... }
    kvm_msi: 32, // 5 x u32, u8 pad[12]
    kvm_vcpu_events: 64,
    kvm_msrs: 8,
    kvm_msr_entry: 16,
    kvm_cpuid2: 8,
    kvm_cpuid_entry2: 40, // 7 x u32, u32 padding[3]
    kvm_enable_cap: 104, // u32 cap, u32 flags, u64 args[4], u8 pad[64]
    kvm_irqfd: 32, // u32 fd, gsi, flags, resamplefd, u8 pad[16]
    kvm_mp_state: 4,
    kvm_interrupt: 4,
    kvm_run_head: 288, // 32 bytes of header + the 256-byte exit union
  });
});

Deno.test("KVM gives the kernel's ioctl numbers when encoded with _IO/_IOR/_IOW/_IOWR", () => {
  // _IOC layout (asm-generic/ioctl.h): dir 31:30, size 29:16, type 15:8, nr 7:0.
  assertEquals(ioc(3, 0xae, 0x05, 8), 0xc008ae05);
  assertEquals(
    Object.fromEntries(Object.entries(KVM).map(([k, v]) => [k, v.toString(16)])),
    {
      GET_API_VERSION: "ae00",
      CREATE_VM: "ae01",
      CHECK_EXTENSION: "ae03",
      GET_VCPU_MMAP_SIZE: "ae04",
      GET_SUPPORTED_CPUID: "c008ae05",
      CREATE_VCPU: "ae41",
      SET_USER_MEMORY_REGION: "4020ae46",
      SET_TSS_ADDR: "ae47",
      SET_IDENTITY_MAP_ADDR: "4008ae48",
      CREATE_IRQCHIP: "ae60",
      SET_BOOT_CPU_ID: "ae78",
      IRQ_LINE: "4008ae61",
      GET_IRQCHIP: "c208ae62",
      SET_IRQCHIP: "8208ae63", // _IOR in kvm.h, although userspace writes it
      IRQ_LINE_STATUS: "c008ae67",
      SET_GSI_ROUTING: "4008ae6a",
      ENABLE_CAP: "4068aea3",
      SIGNAL_MSI: "4020aea5",
      IRQFD: "4020ae76",
      RUN: "ae80",
      GET_REGS: "8090ae81",
      SET_REGS: "4090ae82",
      GET_SREGS: "8138ae83",
      SET_SREGS: "4138ae84",
      INTERRUPT: "4004ae86",
      GET_MSRS: "c008ae88",
      SET_MSRS: "4008ae89",
      GET_LAPIC: "8400ae8e",
      SET_LAPIC: "4400ae8f",
      SET_CPUID2: "4008ae90",
      GET_MP_STATE: "8004ae98",
      SET_MP_STATE: "4004ae99",
      NMI: "ae9a",
      GET_VCPU_EVENTS: "8040ae9f",
      SET_VCPU_EVENTS: "4040aea0",
    },
  );
});

Deno.test("KVM_RUN gives kvm_run's field offsets when read from kvm.h", () => {
  assertEquals(KVM_RUN.request_interrupt_window, 0);
  assertEquals(KVM_RUN.immediate_exit, 1);
  assertEquals(KVM_RUN.exit_reason, 8); // after u8 padding1[6]
  assertEquals(KVM_RUN.ready_for_interrupt_injection, 12);
  assertEquals(KVM_RUN.if_flag, 13);
  assertEquals(KVM_RUN.flags, 14);
  assertEquals(KVM_RUN.cr8, 16);
  assertEquals(KVM_RUN.apic_base, 24);
  // The exit union starts at 32.
  assertEquals([KVM_RUN.io_direction, KVM_RUN.io_size, KVM_RUN.io_port], [32, 33, 34]);
  assertEquals([KVM_RUN.io_count, KVM_RUN.io_data_offset], [36, 40]);
  assertEquals([KVM_RUN.mmio_phys_addr, KVM_RUN.mmio_data, KVM_RUN.mmio_len], [32, 40, 48]);
  assertEquals(KVM_RUN.mmio_is_write, 52);
  assertEquals(KVM_RUN.eoi_vector, 32);
});

Deno.test("SREGS and SEGMENT give kvm_sregs' offsets when read from asm/kvm.h", () => {
  assertEquals(SEGMENT.selector, 12);
  assertEquals(SEGMENT.type, 14);
  assertEquals(SEGMENT.unusable, 22);
  assertEquals([SREGS.ss, SREGS.ldt, SREGS.gdt, SREGS.idt], [120, 168, 192, 208]);
  assertEquals([SREGS.cr0, SREGS.efer, SREGS.apic_base], [224, 264, 272]);
  assertEquals(SREGS.interrupt_bitmap + 4 * 8, SIZEOF.kvm_sregs);
});

Deno.test("VCPU_EVENTS gives kvm_vcpu_events' offsets when read from asm/kvm.h", () => {
  assertEquals(VCPU_EVENTS.interrupt_injected, 8);
  assertEquals(VCPU_EVENTS.interrupt_shadow, 11);
  assertEquals(VCPU_EVENTS.nmi_pending, 13);
  assertEquals(VCPU_EVENTS.sipi_vector, 16);
  assertEquals(VCPU_EVENTS.flags, 20);
  assertEquals(VCPU_EVENTS.triple_fault_pending, 28);
  // u8 reserved[26] then exception_has_payload, then the u64 payload.
  assertEquals(VCPU_EVENTS.exception_has_payload, 28 + 1 + 26);
  assertEquals(VCPU_EVENTS.exception_payload + 8, SIZEOF.kvm_vcpu_events);
});

Deno.test("IOAPIC_STATE and MEMORY_REGION give the headers' offsets", () => {
  assertEquals(IOAPIC_STATE.redirtbl, 24);
  assertEquals(IOAPIC_STATE.redirtbl + 24 * 8, SIZEOF.kvm_ioapic_state);
  assertEquals(MEMORY_REGION.userspace_addr + 8, SIZEOF.kvm_userspace_memory_region);
});

Deno.test("encodeRegs() and decodeRegs() round-trip rip and rflags at 128 and 136", () => {
  const r = decodeRegs(struct(SIZEOF.kvm_regs).view);
  r.rip = 0x1234n;
  r.rflags = 0x202n;
  const s = encodeRegs(r);
  assertEquals(s.view.getBigUint64(128, true), 0x1234n);
  assertEquals(decodeRegs(s.view).rflags, 0x202n);
});

Deno.test("encodeSregs() writes cr0 at 224 and the CS selector at 12", () => {
  const r = decodeSregs(struct(SIZEOF.kvm_sregs).view);
  r.cr0 = 0x11n;
  r.cs.selector = 8;
  const s = encodeSregs(r);
  assertEquals(s.view.getBigUint64(224, true), 0x11n);
  assertEquals(s.view.getUint16(12, true), 8);
  assertEquals(decodeSregs(s.view).cs.selector, 8);
});

Deno.test("encodeIrqRouting() lays out an MSI entry's address and data in the union", () => {
  const s = encodeIrqRouting([
    { gsi: 5, type: "irqchip", irqchip: 2, pin: 5 },
    { gsi: 24, type: "msi", address_lo: 0xfee00000, address_hi: 0, data: 0x41 },
  ]);
  assertEquals(s.bytes.length, 8 + 2 * 48);
  assertEquals(s.view.getUint32(0, true), 2); // nr
  assertEquals(s.view.getUint32(8 + 4, true), 1); // KVM_IRQ_ROUTING_IRQCHIP
  assertEquals(s.view.getUint32(8 + 16 + 4, true), 5); // irqchip.pin
  assertEquals(s.view.getUint32(56 + 4, true), 2); // KVM_IRQ_ROUTING_MSI
  assertEquals(s.view.getUint32(56 + 16, true), 0xfee00000);
  assertEquals(s.view.getUint32(56 + 24, true), 0x41);
});

Deno.test("encodeMsi() puts data at offset 8 and flags 0", () => {
  const s = encodeMsi(0xfee01000, 0, 0x4041);
  assertEquals(s.view.getUint32(0, true), 0xfee01000);
  assertEquals(s.view.getUint32(8, true), 0x4041);
  assertEquals(s.view.getUint32(12, true), 0);
});

Deno.test("encodeMsrs() puts an entry's data after its index and reserved word", () => {
  const s = encodeMsrs([{ index: 0x80b, data: 7n }]);
  assertEquals(s.view.getUint32(8, true), 0x80b);
  assertEquals(s.view.getBigUint64(16, true), 7n);
  assertEquals(decodeMsrs(s.view), [{ index: 0x80b, data: 7n }]);
});

Deno.test("lapicVectors() reads ISR bits at 16-byte strides", () => {
  const regs = new Uint8Array(1024);
  setLapicRegister(regs, 0x100 + 0x20, 1 << 1); // ISR word 2, bit 1: vector 0x41
  assertEquals(lapicVectors(regs, 0x100), [0x41]);
});
