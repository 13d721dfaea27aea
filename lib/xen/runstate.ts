/**
 * Xen runstate areas: `struct vcpu_runstate_info` (Xen `xen/include/public/
 * vcpu.h`) kept per vCPU and copied into guest memory where the guest
 * (VCPUOP_register_runstate_memory_area) or the VMM (KVM's
 * KVM_XEN_VCPU_ATTR_TYPE_RUNSTATE_ADDR) put it.
 *
 * Layout: `state` is an int, `state_entry_time` and `time[4]` are u64. The
 * 64-bit struct pads `state` to 8 bytes (48 bytes in all); the 32-bit compat
 * struct is packed (`#pragma pack(4)` in Xen's compat headers, KVM's
 * `struct compat_vcpu_runstate_info`), so `state_entry_time` is at +4 and
 * the struct is 44 bytes.
 *
 * Accounting (Xen `vcpu_runstate_change`, Linux `kvm_xen_update_runstate`):
 * on a change, the time since `state_entry_time` is added to the old
 * state's `time[]`, then `state` and `state_entry_time` take the new values.
 * Times are the model's virtual clock in ns, so they replay exactly.
 *
 * KVM (`kvm_xen_update_runstate`) also moves the host scheduler's run delay
 * of the vCPU thread since the last update (`sched_info.run_delay` -
 * `last_steal`) from running to runnable when the old state is running: time
 * the thread waited for a host CPU was stolen. Newer KVM clamps that steal to
 * the interval ("KVM: x86/xen: Don't account negative or excess steal time");
 * the model's run delay never exceeds the interval, so both agree. The run
 * delay is a scenario's choice (`kvm userspace_exit run_delay=`), as the
 * model has no host scheduler.
 *
 * The copy into the guest (Xen `update_runstate_area`, Linux
 * `kvm_xen_update_runstate_guest`) sets XEN_RUNSTATE_UPDATE (bit 63 of
 * `state_entry_time`, by writing that word's top byte alone) first when the
 * guest or VMM opted in, then writes the struct (flag still set), then
 * clears the bit (the top byte again). Most copies are one step of the
 * model; the VMM's KVM_XEN_VCPU_SET_ATTR(RUNSTATE_CURRENT) is made of those
 * stores (`writeSteps`), so `scn explore` lets another vCPU read the area
 * between them and see the flag, or, without it, a torn record.
 *
 * @module
 */
import { arrayOf } from "../core/arena.ts";
import type { GuestMemory } from "../core/guest_memory.ts";
import type { GuestWidth } from "./layout.ts";
import { XEN_ERRNO } from "./errno.ts";
export { RUNSTATE_COPY_STEPS } from "./abi.ts";

/**
 * When KVM copies a runstate area set by KVM_XEN_VCPU_SET_ATTR(RUNSTATE_ADDR)
 * (see {@link Runstates.register}): a kernel-version choice.
 *
 * @example
 * ```ts
 * const k: KvmRunstateArea = "next_update";
 * ```
 */
export type KvmRunstateArea = "copy_on_set" | "next_update";

/** `RUNSTATE_*` from `vcpu.h`. */
export const RUNSTATE = { running: 0, runnable: 1, blocked: 2, offline: 3 } as const;

/** A runstate's name, as `vcpu.h` spells it after `RUNSTATE_`. */
export type RunstateName = keyof typeof RUNSTATE;

/** Bit 63 of `state_entry_time` while an update is in progress (`XEN_RUNSTATE_UPDATE`). */
export const XEN_RUNSTATE_UPDATE = 1n << 63n;

/**
 * Byte offsets of `vcpu_runstate_info` for a guest width.
 *
 * @example
 * ```ts
 * runstateLayout(32).size; // 44
 * runstateLayout(64).time; // 16
 * ```
 */
export function runstateLayout(
  width: GuestWidth,
): { state: 0; entry: number; time: number; size: number } {
  return width === 64
    ? { state: 0, entry: 8, time: 16, size: 48 }
    : { state: 0, entry: 4, time: 12, size: 44 };
}

/** One vCPU's runstate as the hypervisor keeps it. */
export interface Runstate {
  state: number;
  entryTime: bigint;
  readonly time: bigint[];
  /** Guest-physical address of the registered area, or -1 for none. */
  area: number;
}

/**
 * The runstates of a domain's vCPUs and their guest copies. Every vCPU starts
 * running at time 0.
 *
 * @example
 * ```ts
 * import { GuestMemory } from "../core/guest_memory.ts";
 * const mem = new GuestMemory(0x10000);
 * const r = new Runstates(1, mem, () => 64);
 * r.register(0, 0x1000, 0n);
 * r.change(0, RUNSTATE.blocked, 500n); // time[running] += 500
 * mem.read(0x1000, 32);                // 2 (blocked)
 * ```
 */
export class Runstates {
  readonly vcpus: Runstate[];
  /** Whether copies set XEN_RUNSTATE_UPDATE while writing (VMASST / KVM's RUNSTATE_UPDATE_FLAG). */
  updateFlag = false;
  /**
   * kvm-xen, per vCPU: KVM_REQ_STEAL_UPDATE is pending (at first: the
   * first KVM_RUN is a vcpu_load too). Every vcpu_load
   * (`kvm_arch_vcpu_load`, so every vCPU ioctl) requests it, and the next
   * entry into the guest services it (`vcpu_enter_guest` ->
   * `record_steal_time` -> `kvm_xen_runstate_set_running`).
   */
  readonly entryUpdate: boolean[];
  /**
   * Per vCPU: the virtual time until which the vCPU is off its CPU, 0 when
   * it is not. kvm-xen: its thread is outside KVM_RUN (in the VMM after a
   * userspace exit, or scheduled out by the host), and its entry at that
   * time makes the runstate update. Xen: its scheduler runs another vCPU
   * on the pCPU. The vCPU executes and takes nothing before then.
   */
  readonly outsideUntil: number[];
  /** kvm-xen, per vCPU: the vCPU thread's host run delay so far (`sched_info.run_delay`), ns. */
  readonly runDelay: bigint[];
  /** kvm-xen, per vCPU: the run delay at the last update (`kvm_vcpu_xen.last_steal`). */
  readonly lastSteal: bigint[];
  /**
   * kvm-xen, per vCPU: KVM's `runstate_entry_time` is 0, which
   * `kvm_xen_update_runstate` takes for "never run": the time up to the
   * next update is offline, whatever the state says. True until the first
   * update, and again once the VMM's RUNSTATE_DATA sets entry time 0. The
   * model's first update may fall at virtual time 0, which stands for the
   * kvmclock of the first KVM_RUN (never 0 on a host), so an update clears
   * it whatever its time, and an ADJUST that leaves the entry time where it
   * was leaves it.
   */
  readonly neverRun: boolean[];

  constructor(count: number, readonly mem: GuestMemory, readonly width: () => GuestWidth) {
    this.vcpus = arrayOf(count, () => ({
      state: RUNSTATE.running,
      entryTime: 0n,
      time: [0n, 0n, 0n, 0n],
      area: -1,
    }));
    this.entryUpdate = arrayOf(count, () => true);
    this.outsideUntil = arrayOf(count, () => 0);
    this.runDelay = arrayOf(count, () => 0n);
    this.lastSteal = arrayOf(count, () => 0n);
    this.neverRun = arrayOf(count, () => true);
  }

  /**
   * Points vCPU `n`'s area at `gpa` (-1: none) and copies the runstate there
   * at once, as Xen and current KVM do on registration. -EFAULT when the
   * struct does not lie in guest RAM.
   *
   * `kvm` is how KVM_XEN_VCPU_SET_ATTR(RUNSTATE_ADDR) treats it:
   * `copy_on_set` (KVM with a second page cache, `runstate2_cache`: an
   * area may cross a page, `kvm_xen_update_runstate_guest` copies at once)
   * or `next_update` (older KVM, one cache: an area crossing a page is
   * -EINVAL and nothing is copied until the next update).
   */
  register(n: number, gpa: number, now: bigint, kvm: KvmRunstateArea = "copy_on_set"): number {
    const r = this.vcpus[n];
    if (gpa < 0) {
      r.area = -1;
      return 0;
    }
    const size = runstateLayout(this.width()).size;
    if (kvm === "next_update" && (gpa % 4096) + size > 4096) return -XEN_ERRNO.EINVAL;
    if (!this.mem.contains(gpa, size)) return -XEN_ERRNO.EFAULT;
    r.area = gpa;
    if (kvm === "copy_on_set") this.write(n, now);
    return 0;
  }

  /**
   * KVM_XEN_VCPU_SET_ATTR(RUNSTATE_ADDR) as `kvm` handles it: {@link register},
   * and with the two-page caches (`copy_on_set`) an area KVM cannot map
   * (-EFAULT from `kvm_gpc_activate`) deactivates both caches: the vCPU has
   * no area afterwards (`deactivate_out` in `kvm_xen_vcpu_set_attr`).
   */
  kvmRegister(n: number, gpa: number, now: bigint, kvm: KvmRunstateArea): number {
    const rc = this.register(n, gpa, now, kvm);
    if (rc === -XEN_ERRNO.EFAULT && kvm === "copy_on_set") this.vcpus[n].area = -1;
    return rc;
  }

  /** A state change at `now`: account the old state's time, enter the new one, copy. */
  change(n: number, state: number, now: bigint): void {
    this.#account(n, state, now);
    this.write(n, now);
  }

  #account(n: number, state: number, now: bigint): void {
    const r = this.vcpus[n];
    if (now > r.entryTime) r.time[r.state] += now - r.entryTime;
    r.state = state;
    r.entryTime = now;
  }

  /** vCPU `n` is off its CPU at `now` ({@link outsideUntil}): it executes and takes nothing. */
  outside(n: number, now: number): boolean {
    return now < this.outsideUntil[n];
  }

  /**
   * KVM's runstate change (`kvm_xen_update_runstate`): {@link change}, after
   * moving the run delay since the last update from running to runnable when
   * the vCPU was running (never more than the interval).
   */
  kvmChange(n: number, state: number, now: bigint): void {
    this.#kvmAccount(n, state, now);
    this.write(n, now);
  }

  /** {@link kvmChange} with its copy in {@link writeSteps}. */
  *kvmChangeSteps(n: number, state: number, now: bigint): Generator<void, void, void> {
    this.#kvmAccount(n, state, now);
    yield* this.writeSteps(n);
  }

  #kvmAccount(n: number, state: number, now: bigint): void {
    const r = this.vcpus[n];
    if (this.neverRun[n]) (r.state = RUNSTATE.offline, this.neverRun[n] = false);
    let steal = this.runDelay[n] - this.lastSteal[n];
    this.lastSteal[n] = this.runDelay[n];
    if (r.state === RUNSTATE.running && steal > 0n && now > r.entryTime) {
      const delta = now - r.entryTime;
      if (steal > delta) steal = delta;
      r.time[RUNSTATE.runnable] += steal;
      // #account then adds the rest of the interval (delta - steal) as running.
      r.entryTime += steal;
    }
    this.#account(n, state, now);
  }

  /**
   * Copies vCPU `n`'s runstate into its area, if it has one, as
   * {@link writeSteps} does, back to back.
   */
  write(n: number, _now: bigint): void {
    const at = this.vcpus[n].area;
    if (at < 0) return;
    const l = runstateLayout(this.width());
    if (this.updateFlag) this.#updateByte(n, at + l.entry, true);
    this.#state(n, at + l.state);
    this.#entryAndTimes(n, at + l.entry, at + l.time);
    if (this.updateFlag) this.#updateByte(n, at + l.entry, false);
  }

  /**
   * The copy as the separate stores it is ({@link RUNSTATE_COPY_STEPS}),
   * for `scn explore` to put another vCPU's reads between: with the update
   * flag, the top byte of `state_entry_time` with XEN_RUNSTATE_UPDATE (Xen
   * `update_runstate_area`, KVM `kvm_xen_update_runstate_guest` write only
   * that byte, so the low bytes still hold the old entry time); `state`;
   * `state_entry_time` (still flagged) and `time[]`; the top byte again,
   * without the flag. Without the flag the first and last steps do nothing.
   */
  *writeSteps(n: number): Generator<void, void, void> {
    const at = this.vcpus[n].area;
    if (at < 0) return;
    const l = runstateLayout(this.width());
    if (this.updateFlag) this.#updateByte(n, at + l.entry, true);
    yield;
    this.#state(n, at + l.state);
    yield;
    this.#entryAndTimes(n, at + l.entry, at + l.time);
    yield;
    if (this.updateFlag) this.#updateByte(n, at + l.entry, false);
  }

  #updateByte(n: number, entryAt: number, set: boolean): void {
    const top = Number(this.vcpus[n].entryTime >> 56n) & 0xff;
    this.mem.write(entryAt + 7, 8, set ? top | Number(XEN_RUNSTATE_UPDATE >> 56n) : top);
  }

  #state(n: number, at: number): void {
    this.mem.write(at, 32, this.vcpus[n].state);
  }

  #entryAndTimes(n: number, entryAt: number, timeAt: number): void {
    const r = this.vcpus[n];
    this.mem.write(entryAt, 64, this.updateFlag ? r.entryTime | XEN_RUNSTATE_UPDATE : r.entryTime);
    for (let i = 0; i < 4; i++) this.mem.write(timeAt + 8 * i, 64, r.time[i]);
  }

  /**
   * VCPUOP_get_runstate_info (Xen `do_vcpu_op` -> `vcpu_runstate_get`):
   * vCPU `n`'s record with the time in its current state so far added to
   * that state's `time[]` (`state_entry_time` unchanged), copied to `gpa` in
   * the `width` layout (the 32-bit caller's is the packed compat struct,
   * `xlat_vcpu_runstate_info`). -EFAULT when it does not lie in guest RAM.
   */
  copyInfo(n: number, gpa: number, width: GuestWidth, now: bigint): number {
    const r = this.vcpus[n];
    const l = runstateLayout(width);
    if (!this.mem.contains(gpa, l.size)) return -XEN_ERRNO.EFAULT;
    this.mem.write(gpa + l.state, 32, r.state);
    this.mem.write(gpa + l.entry, 64, r.entryTime);
    for (let i = 0; i < 4; i++) {
      const t = i === r.state && now > r.entryTime ? r.time[i] + now - r.entryTime : r.time[i];
      this.mem.write(gpa + l.time + 8 * i, 64, BigInt.asUintN(64, t));
    }
    return 0;
  }

  /**
   * KVM_XEN_VCPU_SET_ATTR(RUNSTATE_DATA) and (RUNSTATE_ADJUST)
   * (`kvm_xen_vcpu_set_attr`): a state past RUNSTATE_offline is -EINVAL
   * (ADJUST also takes all-ones: leave the state), `state_entry_time` must
   * equal the sum of the four times (-EINVAL), and the resulting entry time
   * may not lie after now (-EINVAL). DATA replaces, ADJUST adds.
   *
   * DATA sets KVM's own copy only: the guest's area keeps the old record
   * until the next update, which is at the latest the vCPU's next entry
   * ({@link entryUpdate}). ADJUST with a state is a runstate change
   * (`kvm_xen_update_runstate`); with all-ones it copies at once.
   */
  kvmSetData(
    n: number,
    adjust: boolean,
    state: bigint,
    entry: bigint,
    times: readonly bigint[],
    now: bigint,
  ): number {
    const keep = adjust && state === 0xffff_ffff_ffff_ffffn;
    if (state > BigInt(RUNSTATE.offline) && !keep) return -XEN_ERRNO.EINVAL;
    const sum = BigInt.asUintN(64, times.reduce((a, b) => a + b, 0n));
    if (entry !== sum) return -XEN_ERRNO.EINVAL;
    const r = this.vcpus[n];
    const newEntry = adjust ? BigInt.asUintN(64, r.entryTime + entry) : entry;
    if (now < newEntry) return -XEN_ERRNO.EINVAL;
    r.entryTime = newEntry;
    if (!adjust) this.neverRun[n] = newEntry === 0n;
    for (let i = 0; i < 4; i++) {
      r.time[i] = adjust ? BigInt.asUintN(64, r.time[i] + times[i]) : times[i];
    }
    if (!adjust) {
      r.state = Number(state);
      return 0;
    }
    if (keep) this.write(n, now);
    else this.kvmChange(n, Number(state), now);
    return 0;
  }

  /**
   * vCPU `n` enters the guest (kvm-xen, KVM_XEN_HVM_CONFIG with a hypercall
   * MSR: `kvm_xen_msr_enabled`): a pending {@link entryUpdate} accounts the
   * time since the last change to the current state and makes the vCPU
   * running, copying the record to its area. Returns whether it did.
   */
  kvmEnter(n: number, now: bigint): boolean {
    if (!this.entryUpdate[n]) return false;
    this.entryUpdate[n] = false;
    this.kvmChange(n, RUNSTATE.running, now);
    return true;
  }
}
