/**
 * A seeded generator of random x86 scenarios for differential testing.
 *
 * It writes `.scn` text, so every case is a scenario a person can read,
 * replay with `scn run` and paste into a bug report. A case is a header
 * (title, tags, the `vm` block) and a list of units, each one statement or
 * handler declaration, so the shrinker can drop units and still have a
 * valid scenario: no unit refers to another (results are bound to
 * variables that nothing reads; the comparison reads them).
 *
 * What it exercises: 1-4 vCPUs in xAPIC or x2APIC mode; LAPIC enable,
 * SVR and LVT writes, TPR changes (by the register or the x2APIC MSR),
 * xAPIC LDRs; IOAPIC redirection entries (edge or level, masked, physical or
 * logical destinations, fixed or lowest priority); KVM_SET_GSI_ROUTING with
 * IOAPIC and MSI routes; KVM_IRQ_LINE raises and lowers; KVM_SIGNAL_MSI;
 * fixed IPIs (physical, logical, shorthands); STI/CLI; EOIs, in handlers and
 * on the timeline; and `run`s.
 *
 * Storms are avoided by construction: vectors of level-triggered entries
 * have no handler, so they are EOIed only by timeline statements, one
 * re-delivery per EOI; handlers EOI only edge vectors.
 *
 * @module
 */
import { deriveSeed, Prng } from "../core/prng.ts";

/** One generated scenario. */
export interface GeneratedCase {
  /** The `difftest --seed` it comes from. */
  seed: number;
  /** Its index in that run. */
  index: number;
  /** `scenario`, `tags`, comments and the `vm` block, in order. */
  header: string[];
  /** Handler declarations and timeline statements, one unit each, in order. */
  units: string[];
}

/** The range of statements a case has after its set-up. */
const MIN_OPS = 8, MAX_OPS = 32;

/**
 * Generates case `index` of the run seeded `seed`. The same pair gives the
 * same text on every machine.
 *
 * @example
 * ```ts
 * const c = generateCase(1, 41);
 * Deno.writeTextFileSync("case.scn", caseText(c));
 * ```
 */
export function generateCase(seed: number, index: number): GeneratedCase {
  return new Generator(seed, index).generate();
}

/**
 * The text of a case, with `units` in place of its own (the shrinker passes
 * subsets) and `comments` after the header's comments.
 *
 * @example
 * ```ts
 * declare const c: GeneratedCase;
 * caseText(c, c.units.slice(0, 3), ["# shrunk"]);
 * ```
 */
export function caseText(
  c: GeneratedCase,
  units: readonly string[] = c.units,
  comments: readonly string[] = [],
): string {
  const vm = c.header[c.header.length - 1];
  return [...c.header.slice(0, -1), ...comments, "", vm, "", ...units, ""].join("\n");
}

/** The command that regenerates and diffs this case alone. */
export function regenerateCommand(seed: number, index: number): string {
  return `deno task difftest --seed ${seed} --index ${index}`;
}

class Generator {
  readonly rng: Prng;
  readonly vcpus: number;
  readonly x2apic: boolean;
  readonly edge: number[];
  readonly level: number[];
  /** GSIs with a route now: the IOAPIC pin or MSI each reaches. */
  routed: number[] = [16, 17, 18, 19, 20, 21, 22, 23];
  /** GSIs this case has raised and not lowered. */
  readonly high = new Set<number>();
  /** xAPIC logical IDs (LDR bits 31:24) written so far, per vCPU. */
  readonly ldr: number[];
  readonly units: string[] = [];
  results = 0;

  constructor(readonly seed: number, readonly index: number) {
    this.rng = new Prng(deriveSeed(seed, index));
    this.vcpus = this.rng.int(1, 4);
    this.x2apic = this.rng.chance(0.3);
    const vectors = this.distinct(this.rng.int(4, 8), 0x20, 0xef);
    const nLevel = this.rng.int(1, 3);
    this.level = vectors.slice(0, nLevel);
    this.edge = vectors.slice(nLevel);
    this.ldr = new Array(this.vcpus).fill(0);
  }

  generate(): GeneratedCase {
    const header = [
      `scenario "generated x86 case ${this.seed}:${this.index}"`,
      "tags x86, generated",
      `# ${regenerateCommand(this.seed, this.index)}`,
      `vm guest { arch x86_64  vcpus ${this.vcpus}${this.x2apic ? "  lapic x2apic" : ""} }`,
    ];
    this.handlers();
    this.setup();
    const n = this.rng.int(MIN_OPS, MAX_OPS);
    for (let i = 0; i < n; i++) this.op();
    this.units.push("run");
    return { seed: this.seed, index: this.index, header, units: this.units };
  }

  // ---- the parts of a case -------------------------------------------------------

  handlers(): void {
    for (let c = 0; c < this.vcpus; c++) {
      if (!this.rng.chance(0.8)) continue;
      const mine = this.edge.filter(() => this.rng.chance(0.8));
      if (mine.length === 0) continue;
      this.units.push(`on vcpu${c} vector {${mine.map(hex).join(", ")}} { eoi }`);
    }
  }

  setup(): void {
    for (let c = 0; c < this.vcpus; c++) {
      if (this.rng.chance(0.9)) this.units.push(`vcpu${c}: lapic enable`);
      if (!this.x2apic && this.rng.chance(0.5)) {
        this.ldr[c] = 1 << this.rng.int(0, 7);
        this.units.push(`vcpu${c}: write lapic.ldr ${hex(this.ldr[c] * 0x1000000)}`);
      }
      if (this.rng.chance(0.85)) this.units.push(`vcpu${c}: sti`);
    }
    const pins = this.distinct(this.rng.int(1, 4), 16, 23);
    for (const pin of pins) this.redirection(pin);
  }

  op(): void {
    const kind = this.rng.weighted(
      [
        [14, "run"],
        [12, "raise"],
        [8, "lower"],
        [10, "msi"],
        [10, "ipi"],
        [6, "tpr"],
        [8, "eoi"],
        [6, "flags"],
        [6, "redirection"],
        [2, "routing"],
        [3, "lvt"],
        [2, "svr"],
      ] as const,
    );
    switch (kind) {
      case "run":
        this.units.push("run");
        return;
      case "raise": {
        const gsi = this.rng.chance(0.85) ? this.rng.pick(this.routed) : this.rng.int(0, 31);
        this.high.add(gsi);
        this.units.push(`vmm: kvm irq_line gsi=${gsi} level=1 -> ${this.result()}`);
        return;
      }
      case "lower": {
        const gsi = this.high.size > 0 && this.rng.chance(0.85)
          ? this.rng.pick([...this.high])
          : this.rng.pick(this.routed);
        this.high.delete(gsi);
        this.units.push(`vmm: kvm irq_line gsi=${gsi} level=0 -> ${this.result()}`);
        return;
      }
      case "msi": {
        const { address, data } = this.msi();
        this.units.push(
          `vmm: kvm signal_msi address=${hex(address)} data=${hex(data)} -> ${this.result()}`,
        );
        return;
      }
      case "ipi":
        this.units.push(this.ipi());
        return;
      case "tpr":
        this.units.push(this.tpr());
        return;
      case "eoi":
        this.units.push(`${this.cpu()}: eoi`);
        return;
      case "flags":
        this.units.push(
          `${this.cpu()}: ${this.rng.weighted([[5, "sti"], [2, "cli"], [2, "nop"]])}`,
        );
        return;
      case "redirection":
        this.redirection(this.rng.int(16, 23));
        return;
      case "routing":
        this.units.push(this.routing());
        return;
      case "lvt":
        this.units.push(this.lvt());
        return;
      case "svr":
        this.units.push(this.svr());
        return;
    }
  }

  // ---- statements -------------------------------------------------------------------

  /** A redirection entry: level entries take level vectors, which no handler EOIs. */
  redirection(pin: number): void {
    const level = this.rng.chance(0.35);
    const vector = this.rng.pick(level ? this.level : this.edge);
    const logical = this.rng.chance(0.25);
    const fields = [`vector=${hex(vector)}`];
    if (level) fields.push("trigger=level");
    if (logical) fields.push("dest_mode=logical");
    if (this.rng.chance(0.15)) fields.push("delivery_mode=lowest");
    fields.push(`dest=${hex(logical ? this.logicalDest(8) : this.physicalDest(0xff))}`);
    if (this.rng.chance(0.2)) fields.push("mask=1");
    this.units.push(`vcpu0: write ioapic.redtbl[${pin}] ${fields.join(" ")}`);
  }

  /** An MSI as the address/data pair KVM_SIGNAL_MSI and MSI routes take. */
  msi(): { address: number; data: number } {
    const logical = this.rng.chance(0.25);
    const dest = logical ? this.logicalDest(8) : this.physicalDest(0xff);
    const address = 0xfee00000 + dest * 0x1000 + (logical ? 4 : 0);
    const lowest = this.rng.chance(0.15) ? 0x100 : 0;
    const vector = this.rng.chance(0.85) ? this.rng.pick(this.edge) : this.rng.pick(this.level);
    return { address, data: vector | lowest };
  }

  ipi(): string {
    const from = this.cpu();
    const vector = this.rng.chance(0.9) ? this.rng.pick(this.edge) : this.rng.pick(this.level);
    const shorthand = this.rng.weighted([[6, "none"], [1, "self"], [1, "all"], [
      1,
      "all_but_self",
    ]]);
    const args = [`vector=${hex(vector)}`];
    if (shorthand !== "none") args.push(`shorthand=${shorthand}`);
    else if (this.rng.chance(0.3)) {
      args.push(`dest=${hex(this.logicalDest(this.x2apic ? 16 : 8))}`, "dest_mode=logical");
    } else {
      args.push(`dest=${hex(this.physicalDest(this.x2apic ? 0xffffffff : 0xff))}`);
    }
    if (shorthand === "none" && this.rng.chance(0.1)) args.push("delivery_mode=lowest");
    return `${from}: ipi ${args.join(" ")}`;
  }

  tpr(): string {
    const cpu = this.cpu();
    const cls = this.rng.int(0, 15);
    // Not MOV CR8: the KVM backend's guest runs in real mode, which has no CR8.
    const value = hex(cls * 16 + (this.rng.chance(0.2) ? this.rng.int(1, 15) : 0));
    return this.x2apic
      ? `${cpu}: wrmsr msr=0x808 value=${value}`
      : `${cpu}: write lapic.tpr ${value}`;
  }

  routing(): string {
    const entries: string[] = [];
    const routed: number[] = [];
    for (let gsi = 16; gsi <= 23; gsi++) {
      if (!this.rng.chance(0.7)) continue;
      // Mostly the identity; sometimes a GSI moved to another pin.
      const pin = this.rng.chance(0.8) ? gsi : this.rng.int(16, 23);
      entries.push(`gsi=${gsi} irqchip=ioapic pin=${pin}`);
      routed.push(gsi);
    }
    for (let i = this.rng.int(0, 2); i > 0; i--) {
      const gsi = this.rng.int(24, 31);
      if (routed.includes(gsi)) continue;
      const { address, data } = this.msi();
      entries.push(`gsi=${gsi} address_lo=${hex(address)} data=${hex(data)}`);
      routed.push(gsi);
    }
    if (routed.length > 0) this.routed = routed;
    const block = entries.map((e) => `  ${e}`).join("\n");
    return `vmm: kvm set_gsi_routing {\n${block}\n} -> ${this.result()}`;
  }

  lvt(): string {
    const cpu = this.cpu();
    const [name, msr] = this.rng.pick(LVTS);
    const masked = this.rng.chance(0.5) ? 0x10000 : 0;
    // LINT0 keeps ExtINT (the PIC's path) or becomes a fixed vector; the others are fixed.
    const low = name === "lvt0" && this.rng.chance(0.5) ? 0x700 : this.rng.pick(this.edge);
    const value = hex(masked | low);
    return this.x2apic
      ? `${cpu}: wrmsr msr=${hex(msr)} value=${value}`
      : `${cpu}: write lapic.${name} ${value}`;
  }

  svr(): string {
    const cpu = this.cpu();
    const value = hex(this.rng.chance(0.7) ? 0x1ff : 0xff);
    return this.x2apic
      ? `${cpu}: wrmsr msr=0x80f value=${value}`
      : `${cpu}: write lapic.svr ${value}`;
  }

  // ---- values -------------------------------------------------------------------------

  cpu(): string {
    return `vcpu${this.rng.int(0, this.vcpus - 1)}`;
  }

  /** Mostly a vCPU that exists; sometimes one that does not, or the broadcast ID. */
  physicalDest(broadcast: number): number {
    return this.rng.weighted([
      [8, this.rng.int(0, this.vcpus - 1)],
      [1, this.vcpus],
      [1, broadcast],
    ]);
  }

  /**
   * A logical destination: xAPIC flat, a bit mask of LDR bits (`bits` 8);
   * x2APIC cluster 0, bits = 1 << APIC ID (`bits` 16 for a 32-bit dest).
   */
  logicalDest(bits: 8 | 16): number {
    if (this.x2apic) {
      let mask = 0;
      for (let c = 0; c < this.vcpus; c++) if (this.rng.chance(0.5)) mask |= 1 << c;
      return bits === 16 ? mask : mask & 0xff;
    }
    const known = this.ldr.filter((l) => l !== 0);
    let mask = 0;
    for (const l of known) if (this.rng.chance(0.6)) mask |= l;
    return mask || 1 << this.rng.int(0, 7);
  }

  result(): string {
    return `$r${this.results++}`;
  }

  /** `count` distinct numbers of lo..hi, in the order drawn. */
  distinct(count: number, lo: number, hi: number): number[] {
    const out: number[] = [];
    while (out.length < count) {
      const v = this.rng.int(lo, hi);
      if (!out.includes(v)) out.push(v);
    }
    return out;
  }
}

/** The LVT entries generated cases write: xAPIC register name and x2APIC MSR. */
const LVTS = [["lvt_error", 0x837], ["lvt_thermal", 0x833], ["lvt0", 0x835]] as const;

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
