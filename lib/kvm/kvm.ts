/**
 * Thin typed wrappers over the KVM ioctls: {@link KvmSystem} (`/dev/kvm`),
 * {@link KvmVm} (a VM fd and its guest memory) and {@link KvmVcpu} (a vCPU
 * fd and its mapped `kvm_run`). Each owns its fds and mappings and releases
 * them in `close()`; a VM closes its vCPUs.
 *
 * @module
 */
import {
  cpuidBuffer,
  decodeCpuid2,
  decodeIoapicState,
  decodeMsrs,
  decodePicState,
  decodeRegs,
  decodeSregs,
  decodeVcpuEvents,
  encodeCpuid2,
  encodeEnableCap,
  encodeIoapicState,
  encodeIrqfd,
  encodeIrqLevel,
  encodeIrqRouting,
  encodeMemoryRegion,
  encodeMsi,
  encodeMsrs,
  encodeRegs,
  encodeSregs,
  encodeU32,
  irqchipRequest,
  irqLevelStatus,
  KVM,
  KVM_API_VERSION,
  KVM_CAP,
  KVM_IRQCHIP,
  type KvmCpuidEntry2,
  type KvmIoapicState,
  type KvmIrqRoutingEntry,
  type KvmPicState,
  type KvmRegs,
  type KvmSregs,
  type KvmVcpuEvents,
  SIZEOF,
  type Struct,
  struct,
} from "./abi.ts";
import {
  closeFd,
  ioctlInt,
  ioctlIntResult,
  ioctlPtr,
  ioctlPtrResult,
  KvmUnavailable,
  mapAnonymous,
  type Mapping,
  mapShared,
  openDevice,
  unmap,
} from "./libc.ts";

/**
 * `/dev/kvm`: the API version, capabilities, and VM creation.
 *
 * @example
 * ```ts
 * import { KVM_CAP } from "./abi.ts";
 * using kvm = KvmSystem.open();
 * kvm.checkExtension(KVM_CAP.SPLIT_IRQCHIP); // > 0 when split irqchip is offered
 * ```
 */
export class KvmSystem {
  #fd: number;
  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Opens `/dev/kvm` and checks KVM_GET_API_VERSION. */
  static open(path = "/dev/kvm"): KvmSystem {
    const sys = new KvmSystem(openDevice(path));
    const v = ioctlInt(sys.#fd, KVM.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    if (v !== KVM_API_VERSION) {
      sys.close();
      throw new KvmUnavailable("no-kvm", `${path} speaks KVM API ${v}, not ${KVM_API_VERSION}`);
    }
    return sys;
  }

  /** KVM_CHECK_EXTENSION: 0 if absent, else the capability's value. */
  checkExtension(cap: number): number {
    return ioctlInt(this.#fd, KVM.CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
  }

  /** KVM_GET_VCPU_MMAP_SIZE: the size of a vCPU's kvm_run mapping. */
  vcpuMmapSize(): number {
    return ioctlInt(this.#fd, KVM.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }

  /** KVM_GET_SUPPORTED_CPUID. */
  supportedCpuid(): KvmCpuidEntry2[] {
    const s = cpuidBuffer(256);
    ioctlPtr(this.#fd, KVM.GET_SUPPORTED_CPUID, s.bytes, "KVM_GET_SUPPORTED_CPUID");
    return decodeCpuid2(s.view);
  }

  /** KVM_CREATE_VM (default type). */
  createVm(): KvmVm {
    const fd = ioctlInt(this.#fd, KVM.CREATE_VM, 0, "KVM_CREATE_VM");
    return new KvmVm(this, fd);
  }

  /** Closes the fd; VMs stay usable (they hold their own references in the kernel). */
  close(): void {
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A VM: guest memory slots, the in-kernel irqchip, GSI routing and the
 * injection ioctls.
 *
 * @example
 * ```ts
 * using vm = KvmSystem.open().createVm();
 * vm.createIrqchip();
 * vm.signalMsi(0xfee00000, 0, 0x41);
 * ```
 */
export class KvmVm {
  #fd: number;
  readonly vcpus: KvmVcpu[] = [];
  readonly #memory: Mapping[] = [];

  /** Use {@link KvmSystem.createVm}. */
  constructor(readonly system: KvmSystem, fd: number) {
    this.#fd = fd;
  }

  /** The VM fd. */
  get fd(): number {
    return this.#fd;
  }

  /** Allocates `size` bytes and maps them at guest physical `gpa` in `slot`; returns the bytes. */
  addMemory(slot: number, gpa: bigint, size: number): Uint8Array<ArrayBuffer> {
    const m = mapAnonymous(size, "mmap(guest memory)");
    this.#memory.push(m);
    const region = encodeMemoryRegion({
      slot,
      flags: 0,
      guest_phys_addr: gpa,
      memory_size: BigInt(size),
      userspace_addr: m.address,
    });
    ioctlPtr(this.#fd, KVM.SET_USER_MEMORY_REGION, region.bytes, "KVM_SET_USER_MEMORY_REGION");
    return m.bytes;
  }

  /** KVM_SET_TSS_ADDR (needed on Intel before running a vCPU). */
  setTssAddr(gpa: number): void {
    ioctlInt(this.#fd, KVM.SET_TSS_ADDR, gpa, "KVM_SET_TSS_ADDR");
  }

  /** KVM_CREATE_IRQCHIP: in-kernel PIC pair, IOAPIC and LAPICs. */
  createIrqchip(): void {
    ioctlInt(this.#fd, KVM.CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
  }

  /** KVM_ENABLE_CAP on the VM. */
  enableCap(cap: number, args: readonly bigint[] = []): void {
    ioctlPtr(this.#fd, KVM.ENABLE_CAP, encodeEnableCap(cap, args).bytes, "KVM_ENABLE_CAP");
  }

  /** KVM_CHECK_EXTENSION on the VM fd: the capability's value for this VM. */
  checkExtension(cap: number): number {
    return ioctlInt(this.#fd, KVM.CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
  }

  /** KVM_ENABLE_CAP as a scenario asks it: 0 or -errno. */
  enableCapResult(cap: number, arg: bigint, flags: number): number {
    return ioctlPtrResult(this.#fd, KVM.ENABLE_CAP, encodeEnableCap(cap, [arg], flags).bytes);
  }

  /** KVM_SET_BOOT_CPU_ID as a scenario asks it: 0 or -errno (-EBUSY once a vCPU exists). */
  setBootCpuIdResult(id: bigint): number {
    return ioctlIntResult(this.#fd, KVM.SET_BOOT_CPU_ID, id);
  }

  /** KVM_CREATE_IRQCHIP as a scenario asks it: 0 or -errno. */
  createIrqchipResult(): number {
    return ioctlIntResult(this.#fd, KVM.CREATE_IRQCHIP, 0);
  }

  /** KVM_IRQFD: 0 or -errno. */
  irqfd(fd: number, gsi: number, flags: number, resamplefd: number): number {
    return ioctlPtrResult(this.#fd, KVM.IRQFD, encodeIrqfd(fd, gsi, flags, resamplefd).bytes);
  }

  /** KVM_GET_IRQCHIP of `chipId`: the whole `struct kvm_irqchip`, or -errno. */
  getIrqchip(chipId: number): Struct | number {
    const s = irqchipRequest(chipId);
    const r = ioctlPtrResult(this.#fd, KVM.GET_IRQCHIP, s.bytes);
    return r < 0 ? r : s;
  }

  /** KVM_SET_IRQCHIP of a whole `struct kvm_irqchip`: 0 or -errno. */
  setIrqchip(s: Struct): number {
    return ioctlPtrResult(this.#fd, KVM.SET_IRQCHIP, s.bytes);
  }

  /** KVM_CAP_SPLIT_IRQCHIP with `reservedPins` IOAPIC routes reserved (LAPICs in kernel only). */
  enableSplitIrqchip(reservedPins = 24): void {
    this.enableCap(KVM_CAP.SPLIT_IRQCHIP, [BigInt(reservedPins)]);
  }

  /** KVM_SET_GSI_ROUTING: replaces the whole table; returns 0 or -errno. */
  setGsiRouting(entries: readonly KvmIrqRoutingEntry[], flags = 0): number {
    return ioctlPtrResult(this.#fd, KVM.SET_GSI_ROUTING, encodeIrqRouting(entries, flags).bytes);
  }

  /** KVM_IRQ_LINE_STATUS: returns the status (<0 masked/no route, 0 coalesced, >0 delivered) or -errno. */
  irqLineStatus(gsi: number, level: number): number {
    const s = encodeIrqLevel(gsi, level);
    const r = ioctlPtrResult(this.#fd, KVM.IRQ_LINE_STATUS, s.bytes);
    return r < 0 ? r : irqLevelStatus(s.view);
  }

  /** KVM_IRQ_LINE (no status). */
  irqLine(gsi: number, level: number): void {
    ioctlPtr(this.#fd, KVM.IRQ_LINE, encodeIrqLevel(gsi, level).bytes, "KVM_IRQ_LINE");
  }

  /** KVM_SIGNAL_MSI: >0 delivered, 0 blocked by the guest, or -errno. */
  signalMsi(addressLo: number, addressHi: number, data: number): number {
    return ioctlPtrResult(this.#fd, KVM.SIGNAL_MSI, encodeMsi(addressLo, addressHi, data).bytes);
  }

  /** KVM_GET_IRQCHIP for a PIC (chip 0 master, 1 slave). */
  getPic(chip: 0 | 1): KvmPicState {
    const s = irqchipRequest(chip);
    ioctlPtr(this.#fd, KVM.GET_IRQCHIP, s.bytes, "KVM_GET_IRQCHIP");
    return decodePicState(s.view);
  }

  /** KVM_GET_IRQCHIP for the IOAPIC. */
  getIoapic(): KvmIoapicState {
    const s = irqchipRequest(KVM_IRQCHIP.IOAPIC);
    ioctlPtr(this.#fd, KVM.GET_IRQCHIP, s.bytes, "KVM_GET_IRQCHIP");
    return decodeIoapicState(s.view);
  }

  /** KVM_SET_IRQCHIP for the IOAPIC. */
  setIoapic(state: KvmIoapicState): void {
    const s = irqchipRequest(KVM_IRQCHIP.IOAPIC);
    encodeIoapicState(s.view, state);
    ioctlPtr(this.#fd, KVM.SET_IRQCHIP, s.bytes, "KVM_SET_IRQCHIP");
  }

  /** KVM_CREATE_VCPU with this APIC ID, its kvm_run mapped. */
  createVcpu(id: number): KvmVcpu {
    const fd = ioctlInt(this.#fd, KVM.CREATE_VCPU, id, "KVM_CREATE_VCPU");
    let run: Mapping;
    try {
      run = mapShared(fd, this.system.vcpuMmapSize(), "mmap(kvm_run)");
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    const cpu = new KvmVcpu(id, fd, run);
    this.vcpus.push(cpu);
    return cpu;
  }

  /** Closes the vCPUs, the VM fd, and unmaps guest memory. */
  close(): void {
    for (const c of this.vcpus) c.close();
    this.vcpus.length = 0;
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
    // KVM holds no reference to the pages once the VM fd is gone.
    for (const m of this.#memory) unmap(m);
    this.#memory.length = 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A vCPU: KVM_RUN over the mapped kvm_run, register and LAPIC state, MSRs,
 * CPUID, events and MP state.
 *
 * @example
 * ```ts
 * declare const vm: KvmVm;
 * const cpu = vm.createVcpu(0);
 * cpu.run();
 * cpu.runView.getUint32(8, true); // exit_reason
 * ```
 */
export class KvmVcpu {
  #fd: number;
  #run: Mapping | undefined;
  /** The mapped `struct kvm_run`. */
  readonly runBytes: Uint8Array<ArrayBuffer>;
  /** A view on it (offsets in `KVM_RUN` of abi.ts). */
  readonly runView: DataView;

  /** Use {@link KvmVm.createVcpu}. */
  constructor(readonly id: number, fd: number, run: Mapping) {
    this.#fd = fd;
    this.#run = run;
    this.runBytes = run.bytes;
    this.runView = new DataView(run.bytes.buffer);
  }

  /** KVM_ENABLE_CAP on the vCPU (KVM_CAP_HYPERV_SYNIC, say). */
  enableCap(cap: number, args: readonly bigint[] = []): void {
    ioctlPtr(this.#fd, KVM.ENABLE_CAP, encodeEnableCap(cap, args).bytes, "KVM_ENABLE_CAP");
  }

  /** KVM_RUN: returns when the vCPU exits to userspace. */
  run(): void {
    ioctlInt(this.#fd, KVM.RUN, 0, "KVM_RUN");
  }

  /** KVM_GET_REGS. */
  getRegs(): KvmRegs {
    const s = struct(SIZEOF.kvm_regs);
    ioctlPtr(this.#fd, KVM.GET_REGS, s.bytes, "KVM_GET_REGS");
    return decodeRegs(s.view);
  }

  /** KVM_SET_REGS. */
  setRegs(r: KvmRegs): void {
    ioctlPtr(this.#fd, KVM.SET_REGS, encodeRegs(r).bytes, "KVM_SET_REGS");
  }

  /** KVM_GET_SREGS. */
  getSregs(): KvmSregs {
    const s = struct(SIZEOF.kvm_sregs);
    ioctlPtr(this.#fd, KVM.GET_SREGS, s.bytes, "KVM_GET_SREGS");
    return decodeSregs(s.view);
  }

  /** KVM_SET_SREGS. */
  setSregs(r: KvmSregs): void {
    ioctlPtr(this.#fd, KVM.SET_SREGS, encodeSregs(r).bytes, "KVM_SET_SREGS");
  }

  /** KVM_GET_LAPIC: the 1 KiB register page. */
  getLapic(): Uint8Array<ArrayBuffer> {
    const s = struct(SIZEOF.kvm_lapic_state);
    ioctlPtr(this.#fd, KVM.GET_LAPIC, s.bytes, "KVM_GET_LAPIC");
    return s.bytes;
  }

  /** KVM_SET_LAPIC. */
  setLapic(regs: Uint8Array<ArrayBuffer>): void {
    ioctlPtr(this.#fd, KVM.SET_LAPIC, regs, "KVM_SET_LAPIC");
  }

  /** KVM_GET_MSRS of one MSR; undefined if KVM does not return it. */
  getMsr(index: number): bigint | undefined {
    const s = encodeMsrs([{ index, data: 0n }]);
    const n = ioctlPtr(this.#fd, KVM.GET_MSRS, s.bytes, "KVM_GET_MSRS");
    return n === 1 ? decodeMsrs(s.view)[0].data : undefined;
  }

  /** KVM_SET_MSRS of one MSR; returns whether KVM accepted it. */
  setMsr(index: number, data: bigint): boolean {
    return ioctlPtr(this.#fd, KVM.SET_MSRS, encodeMsrs([{ index, data }]).bytes, "KVM_SET_MSRS") ===
      1;
  }

  /** KVM_SET_CPUID2. */
  setCpuid(entries: readonly KvmCpuidEntry2[]): void {
    ioctlPtr(this.#fd, KVM.SET_CPUID2, encodeCpuid2(entries).bytes, "KVM_SET_CPUID2");
  }

  /** KVM_GET_VCPU_EVENTS. */
  getEvents(): KvmVcpuEvents {
    const s = struct(SIZEOF.kvm_vcpu_events);
    ioctlPtr(this.#fd, KVM.GET_VCPU_EVENTS, s.bytes, "KVM_GET_VCPU_EVENTS");
    return decodeVcpuEvents(s.view);
  }

  /** KVM_GET_VCPU_EVENTS as the raw `struct kvm_vcpu_events`. */
  getEventsRaw(): Struct {
    const s = struct(SIZEOF.kvm_vcpu_events);
    ioctlPtr(this.#fd, KVM.GET_VCPU_EVENTS, s.bytes, "KVM_GET_VCPU_EVENTS");
    return s;
  }

  /** KVM_SET_VCPU_EVENTS of a raw `struct kvm_vcpu_events`: 0 or -errno. */
  setEventsRaw(s: Struct): number {
    return ioctlPtrResult(this.#fd, KVM.SET_VCPU_EVENTS, s.bytes);
  }

  /** KVM_GET_MP_STATE. */
  getMpState(): number {
    const s = encodeU32(0);
    ioctlPtr(this.#fd, KVM.GET_MP_STATE, s.bytes, "KVM_GET_MP_STATE");
    return s.view.getUint32(0, true);
  }

  /** KVM_SET_MP_STATE. */
  setMpState(state: number): void {
    ioctlPtr(this.#fd, KVM.SET_MP_STATE, encodeU32(state).bytes, "KVM_SET_MP_STATE");
  }

  /** KVM_INTERRUPT: 0 or -errno (-ENXIO with an in-kernel PIC, -EEXIST when one is queued). */
  interrupt(vector: number): number {
    return ioctlPtrResult(this.#fd, KVM.INTERRUPT, encodeU32(vector).bytes);
  }

  /** KVM_NMI. */
  nmi(): void {
    ioctlInt(this.#fd, KVM.NMI, 0, "KVM_NMI");
  }

  /** Unmaps kvm_run and closes the fd. */
  close(): void {
    if (this.#run) unmap(this.#run);
    this.#run = undefined;
    if (this.#fd >= 0) closeFd(this.#fd);
    this.#fd = -1;
  }
}
