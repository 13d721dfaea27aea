/**
 * VS Code's own TextMate engine (vscode-textmate over Oniguruma) loaded with
 * the extension's grammars, for the grammar's tests and the playground's.
 *
 * @module
 */
import { optionalNpm, SKIPPED_NO_REGISTRY } from "../../tests/optional_npm.ts";

const ONIGURUMA = "npm:vscode-oniguruma@2.0.1";

/** The part of vscode-oniguruma used here. */
interface Oniguruma {
  loadWASM(wasm: ArrayBuffer): Promise<void>;
  OnigScanner: new (patterns: string[]) => unknown;
  OnigString: new (text: string) => unknown;
}
/** The part of a vscode-textmate grammar used here. */
interface Grammar {
  tokenizeLine(line: string, stack: unknown): {
    tokens: { startIndex: number; endIndex: number; scopes: string[] }[];
    ruleStack: unknown;
  };
}
/** The part of vscode-textmate's `Registry` used here. */
interface Registry {
  loadGrammar(scope: string): Promise<Grammar | null>;
}
/** The part of vscode-textmate used here. */
interface TextMate {
  INITIAL: unknown;
  Registry: new (options: {
    onigLib: Promise<{
      createOnigScanner(patterns: string[]): unknown;
      createOnigString(s: string): unknown;
    }>;
    loadGrammar(scope: string): Promise<unknown>;
    getInjections(scope: string): string[] | undefined;
  }) => Registry;
}

// Both are CommonJS: their exports come as the default export under Deno.
const onig = (await optionalNpm<{ default: Oniguruma }>(ONIGURUMA, "textmate"))?.default;
const vsctm = (await optionalNpm<{ default: TextMate }>("npm:vscode-textmate@9.3.2", "textmate"))
  ?.default;

/**
 * Whether VS Code's TextMate engine could be loaded; where the npm registry
 * cannot be reached, the tests that need it are ignored and say so.
 */
export const TEXTMATE = onig !== undefined && vsctm !== undefined;

/** A test that reads text with VS Code's engine: ignored, saying why, where it cannot be loaded. */
export function textmateTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: TEXTMATE ? name : name + SKIPPED_NO_REGISTRY, ignore: !TEXTMATE, fn });
}

const HERE = new URL("./", import.meta.url);
const SCN = JSON.parse(Deno.readTextFileSync(new URL("syntaxes/scn.tmLanguage.json", HERE)));
const MD_INJECTION = JSON.parse(
  Deno.readTextFileSync(new URL("syntaxes/scn.markdown.tmLanguage.json", HERE)),
);

// A minimal Markdown grammar: the injection needs a host scope to go into.
const MARKDOWN = {
  scopeName: "text.html.markdown",
  patterns: [{ match: ".+", name: "meta.paragraph.markdown" }],
};

let registry: Registry | undefined;
async function load(): Promise<Registry> {
  if (registry) return registry;
  if (!onig || !vsctm) throw new Error("VS Code's TextMate engine is not loaded (see TEXTMATE)");
  const wasm = await Deno.readFile(new URL("onig.wasm", import.meta.resolve(ONIGURUMA)));
  await onig.loadWASM(wasm.buffer);
  registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns),
      createOnigString: (s: string) => new onig.OnigString(s),
    }),
    loadGrammar: (scope: string) =>
      Promise.resolve(
        scope === "source.scn"
          ? SCN
          : scope === "markdown.scn.codeblock"
          ? MD_INJECTION
          : scope === "text.html.markdown"
          ? MARKDOWN
          : null,
      ),
    getInjections: (scope: string) =>
      scope === "text.html.markdown" ? ["markdown.scn.codeblock"] : undefined,
  });
  return registry;
}

/** Each token of each line: its text and innermost scope. */
export async function tokens(scope: string, text: string): Promise<[string, string[]][][]> {
  const grammar = (await (await load()).loadGrammar(scope))!;
  let stack = vsctm!.INITIAL;
  return text.split("\n").map((line) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    return r.tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes]);
  });
}

// [line, word, scope]: one or more per statement kind of dsl/scn.peggy.
export const SAMPLES: [string, string, string][] = [
  ['scenario "EOI re-delivers"', "scenario", "keyword.other.statement.scn"],
  ['scenario "EOI re-delivers"', '"EOI re-delivers"', "string.quoted.double.scn"],
  ["irqlab 1", "irqlab", "keyword.other.statement.scn"],
  ["irqlab 1", "1", "constant.numeric.decimal.scn"],
  ["tags x86, ioapic, X86-15", "tags", "keyword.other.statement.scn"],
  ['link "https://lore.kernel.org/kvm/x"', "link", "keyword.other.statement.scn"],
  ['expect failure "KVM drops it"', "failure", "keyword.other.expect.scn"],
  ['expect failure "why": vcpu0 took 0x41', "took", "keyword.other.took.scn"],
  ["vm guest { arch x86_64  vcpus 2  irqchip split }", "vm", "keyword.other.statement.scn"],
  ["vm guest { arch x86_64  vcpus 2  irqchip split }", "guest", "entity.name.section.vm.scn"],
  ["vm guest { arch x86_64  vcpus 2  irqchip split }", "2", "constant.numeric.decimal.scn"],
  ["let $base = 0xfee00000", "let", "keyword.other.statement.scn"],
  ["let $base = 0xfee00000", "$base", "variable.other.scn"],
  ["let $base = 0xfee00000", "0xfee00000", "constant.numeric.hex.scn"],
  ['include "_common.scn"', "include", "keyword.other.statement.scn"],
  ["repeat 3 { vcpu0: eoi }", "repeat", "keyword.control.flow.scn"],
  ["for $x in 0..3 { vcpu0: eoi }", "for", "keyword.control.flow.scn"],
  ["for $x in 0..3 { vcpu0: eoi }", "in", "keyword.control.flow.scn"],
  ["for $x in 0..3 { vcpu0: eoi }", "..", "keyword.operator.range.scn"],
  ["parallel {", "parallel", "keyword.control.flow.scn"],
  ["on vcpu0 vector 0x41 { eoi }", "on", "keyword.control.handler.scn"],
  ["on vcpu0 vector 0x41 { eoi }", "vcpu0", "entity.name.tag.actor.scn"],
  ["run", "run", "keyword.control.flow.scn"],
  ["run vcpu0 { sti; nop; cli }", "run", "keyword.control.flow.scn"],
  ["run vcpu0 { sti; nop; cli }", "vcpu0", "entity.name.tag.actor.scn"],
  ["vcpu[$i]: lapic enable", "vcpu[$i]", "entity.name.tag.actor.scn"],
  ["g.vcpu[$i + 1]: sti", "g.vcpu[$i + 1]", "entity.name.tag.actor.scn"],
  ["run vcpu[$i] { sti; nop }", "vcpu[$i]", "entity.name.tag.actor.scn"],
  ["on vcpu[0..3] vector 0x30 { eoi }", "vcpu[0..3]", "entity.name.tag.actor.scn"],
  ["expect vcpu[$i] took 0x30 once", "vcpu[$i]", "entity.name.tag.actor.scn"],
  ["g3.vmm: kvm run vcpu=0 -> $r", "run", "source.scn"],
  ["repeat 2 { run; vcpu0: eoi }", "run", "keyword.control.flow.scn"],
  ["run 5ms", "5ms", "constant.numeric.duration.scn"],
  ["run vcpu0 { sti; nop }", "run", "keyword.control.flow.scn"],
  ["expect vcpu0.lapic.isr == {0x41}", "expect", "keyword.other.expect.scn"],
  ["expect vcpu0.lapic.isr == {0x41}", "vcpu0.lapic.isr", "variable.other.property.scn"],
  ["expect vcpu0.lapic.isr == {0x41}", "==", "keyword.operator.comparison.scn"],
  ["expect vcpu1 took [0x40, 0x30] in order", "vcpu1", "entity.name.tag.actor.scn"],
  ["expect vcpu1 took 0x41 twice", "twice", "keyword.other.took.scn"],
  ["expect vcpu1 took nothing", "nothing", "keyword.other.took.scn"],
  ["expect ($r & 0x1) == 1 and not vcpu0.halted", "&", "keyword.operator.arithmetic.scn"],
  ["expect ($r & 0x1) == 1 and not vcpu0.halted", "and", "keyword.operator.logical.scn"],
  ["expect ($r & 0x1) == 1 and not vcpu0.halted", "not", "keyword.operator.logical.scn"],
  ["always vcpu0.lapic.ppr <= 0x40", "always", "keyword.other.expect.scn"],
  ["if $r == 0 { vcpu0: eoi } else { vcpu0: sti }", "if", "keyword.control.conditional.scn"],
  ["if $r == 0 { vcpu0: eoi } else { vcpu0: sti }", "else", "keyword.control.conditional.scn"],
  ["vcpu0: if $r == 0 { eoi }", "if", "keyword.control.conditional.scn"],
  ["vcpu0: lapic enable", "vcpu0", "entity.name.tag.actor.scn"],
  ["vcpu0: lapic enable", "lapic", "entity.name.function.command.scn"],
  ["vmm: kvm irq_line gsi=14 level=1 -> $r", "vmm", "entity.name.tag.actor.scn"],
  ["vmm: kvm irq_line gsi=14 level=1 -> $r", "kvm", "entity.name.function.command.scn"],
  ["vmm: kvm irq_line gsi=14 level=1 -> $r", "gsi", "variable.parameter.scn"],
  ["vmm: kvm irq_line gsi=14 level=1 -> $r", "->", "keyword.operator.binding.scn"],
  [
    "device nic: msi address=0xfee00000 data=0b0100_0001",
    "device nic",
    "entity.name.tag.actor.scn",
  ],
  [
    "device nic: msi address=0xfee00000 data=0b0100_0001",
    "0b0100_0001",
    "constant.numeric.binary.scn",
  ],
  ["guest.vcpu1: sti", "guest.vcpu1", "entity.name.tag.actor.scn"],
  ["eoi", "eoi", "source.scn"],
  [
    "vcpu0: write ioapic.redtbl[20] vector=0x9a  # PCI INTx",
    "# PCI INTx",
    "comment.line.number-sign.scn",
  ],
  [
    "vcpu0: write ioapic.redtbl[20] vector=0x9a  # PCI INTx",
    "ioapic.redtbl",
    "variable.other.property.scn",
  ],
  ["vcpu0: write ioapic.redtbl[20] vector=0x9a  # PCI INTx", "20", "constant.numeric.decimal.scn"],
  ["let $v = ($a << 4) | ~$b - 1", "<<", "keyword.operator.arithmetic.scn"],
];
