/**
 * Pass: read each `vm name { ... }` block against the settings table of the
 * platform its `arch` names.
 *
 * A vm body is a stream of words (`arch x86_64  vcpus 2  irqchip split`):
 * the table says which words are settings and how many values each takes,
 * so the grammar never needs to know them.
 *
 * @module
 */
import type { Loc, TopLevel, WordBlock, WordItem } from "../ast.ts";
import type { SettingSpec, Val } from "../../lib/core/table.ts";
import type { PlatformEntry } from "../../lib/core/platform.ts";
import type { VmDecl } from "../program.ts";
import { type CheckContext, fail, recover, suggest } from "./context.ts";

/**
 * Resolves every vm block. Names must be unique.
 *
 * @example
 * ```ts
 * import { type PlatformEntry, parse } from "../../mod.ts";
 * declare const x86: PlatformEntry;
 * const [vm] = checkVms(parse("vm g { arch x86_64 vcpus 2 }\n").body, [x86]);
 * vm.vcpus; // 2
 * ```
 */
export function checkVms(
  body: readonly TopLevel[],
  platforms: readonly PlatformEntry[],
  ctx: Pick<CheckContext, "problems"> = {},
): VmDecl[] {
  const out: VmDecl[] = [];
  const seen = new Map<string, Loc>();
  for (const s of body) {
    if (s.kind !== "vm") continue;
    recover(ctx, () => {
      const prev = seen.get(s.name.name);
      if (prev) {
        fail(s.name.loc, `vm '${s.name.name}' is declared twice`, undefined, [{
          loc: prev,
          message: "first declared here",
        }]);
      }
      seen.set(s.name.name, s.name.loc);
      out.push(checkVm(s.name.name, s.body, s.loc, platforms));
    });
  }
  return out;
}

function checkVm(
  name: string,
  body: WordBlock,
  loc: Loc,
  platforms: readonly PlatformEntry[],
): VmDecl {
  const platform = findPlatform(body, loc, platforms);
  const values: Record<string, Val> = {};
  readSettings(body.items, platform.settings, "", values);
  return { name, platform, settings: values, vcpus: platform.vcpuCount(values), loc };
}

/** Reads a stream of setting words into `values`, keys prefixed for nested blocks. */
function readSettings(
  items: readonly WordItem[],
  settings: readonly SettingSpec[],
  prefix: string,
  values: Record<string, Val>,
): void {
  const given = new Map<string, Loc>();
  // For messages only.
  const names = () => settings.map((x) => x.name);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    let key: string, keyLoc: Loc, value: WordItem | undefined;
    if (item.kind === "kv") {
      key = item.key;
      keyLoc = item.keyLoc;
      value = item.value;
    } else if (item.kind === "ident") {
      key = item.name;
      keyLoc = item.loc;
    } else {
      fail(item.loc, "expected a setting name here", settingHint("", names()));
    }
    const spec = byName(settings).get(key);
    if (!spec) {
      fail(
        keyLoc,
        `unknown ${prefix ? `'${prefix.slice(0, -1)}' ` : "vm "}setting '${key}'`,
        settingHint(key, names()),
      );
    }
    const prev = given.get(key);
    if (prev) {
      fail(keyLoc, `'${key}' is set twice`, undefined, [{ loc: prev, message: "first set here" }]);
    }
    given.set(key, keyLoc);
    if (spec.value.kind === "flag") {
      if (value) fail(value.loc, `'${key}' takes no value`);
      values[prefix + key] = 1;
    } else {
      if (!value) {
        value = items[++i];
        if (!value || value.kind === "words") {
          fail(keyLoc, `'${key}' needs a value`, describeSetting(spec));
        }
      }
      values[prefix + key] = settingValue(spec, value);
    }
    const next = items[i + 1];
    if (next?.kind === "words") {
      if (!spec.block) fail(next.loc, `'${key}' takes no block`);
      readSettings(next.items, spec.block, `${prefix}${key}.`, values);
      i++;
    }
  }
  // By index: a for-of over the pairs allocates an iterator result and a pair
  // iterator per default in code that has not been optimized, for every vm.
  const defaults = defaultsOf(settings, prefix);
  for (let i = 0; i < defaults.length; i++) {
    const d = defaults[i];
    if (!(d[0] in values)) values[d[0]] = d[1];
  }
}

// A table's settings by name, and its defaults under each prefix: worked out
// once per table, not for every vm block of every scenario.
const BY_NAME = new WeakMap<readonly SettingSpec[], Map<string, SettingSpec>>();
const DEFAULTS = new WeakMap<readonly SettingSpec[], Map<string, readonly [string, Val][]>>();

function byName(settings: readonly SettingSpec[]): Map<string, SettingSpec> {
  let map = BY_NAME.get(settings);
  if (map === undefined) {
    map = new Map();
    // The first of a name, as a search in table order finds it.
    for (const x of settings) if (!map.has(x.name)) map.set(x.name, x);
    BY_NAME.set(settings, map);
  }
  return map;
}

/**
 * The default of every setting that takes a value, keys prefixed, in the
 * order they are applied: each setting, then the defaults of its nested
 * block, which apply even when the block is absent (given values stay).
 */
function defaultsOf(settings: readonly SettingSpec[], prefix: string): readonly [string, Val][] {
  let byPrefix = DEFAULTS.get(settings);
  if (byPrefix === undefined) DEFAULTS.set(settings, byPrefix = new Map());
  let list = byPrefix.get(prefix);
  if (list === undefined) {
    const out: [string, Val][] = [];
    for (const spec of settings) {
      const k = prefix + spec.name;
      if (spec.value.kind !== "flag") out.push([k, spec.value.default]);
      if (spec.block) out.push(...defaultsOf(spec.block, `${k}.`));
    }
    byPrefix.set(prefix, list = out);
  }
  return list;
}

/**
 * A vm body's first `arch` word and the value given to it (`arch x86_64`
 * or `arch=x86_64`), as the checker reads it; undefined when it has none.
 * What a command reads to tell which models a scenario names before it
 * loads them (lib/load/arches.ts).
 *
 * @example
 * ```ts
 * import { parse } from "../parse.ts";
 * const vm = parse("vm g { vcpus 2 arch arm64 }\n").body[0];
 * if (vm.kind === "vm") archWord(vm.body)?.value; // the ident `arm64`
 * ```
 */
export function archWord(body: WordBlock): { word: WordItem; value?: WordItem } | undefined {
  return settingWord(body, "arch");
}

/**
 * A vm body's first word `name` and the value given to it (`name value` or
 * `name=value`), as {@link archWord} reads `arch`; undefined when it has none.
 *
 * @example
 * ```ts
 * import { parse } from "../parse.ts";
 * const vm = parse("vm g { arch x86_64 hypervisor xen }\n").body[0];
 * if (vm.kind === "vm") settingWord(vm.body, "hypervisor")?.value; // the ident `xen`
 * ```
 */
export function settingWord(
  body: WordBlock,
  name: string,
): { word: WordItem; value?: WordItem } | undefined {
  const items = body.items;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (it.kind === "ident" && it.name === name) return { word: it, value: items[i + 1] };
    if (it.kind === "kv" && it.key === name) return { word: it, value: it.value };
  }
  return undefined;
}

function findPlatform(
  body: WordBlock,
  loc: Loc,
  platforms: readonly PlatformEntry[],
): PlatformEntry {
  // For messages only.
  const all = () => platforms.flatMap((p) => p.arch);
  const found = archWord(body);
  if (found) {
    const v = found.value;
    if (!v || v.kind !== "ident") {
      fail(found.word.loc, "'arch' needs an architecture name", suggest("", all()));
    }
    const p = platforms.find((x) => x.arch.includes(v.name));
    if (!p) fail(v.loc, `unknown architecture '${v.name}'`, suggest(v.name, all()));
    return p;
  }
  fail(
    body.loc,
    "this vm has no 'arch'",
    `add one of: ${all().map((a) => `arch ${a}`).join(", ")}`,
    [
      { loc, message: "in this vm" },
    ],
  );
}

function settingValue(spec: SettingSpec, item: WordItem): Val {
  const v = spec.value;
  if (item.kind === "ident" && spec.refused?.[item.name]) {
    fail(item.loc, `'${spec.name} ${item.name}' is refused: ${spec.refused[item.name]}`);
  }
  if (v.kind === "enum") {
    if (item.kind !== "ident" || !v.values.includes(item.name)) {
      const word = item.kind === "ident" ? item.name : "";
      fail(
        item.loc,
        `'${spec.name}' must be one of ${v.values.join(", ")}`,
        suggest(word, v.values),
      );
    }
    return item.name;
  }
  if (v.kind === "list") {
    if (item.kind !== "list" || item.items.some((x) => x.kind !== "number")) {
      fail(item.loc, `'${spec.name}' needs a list of numbers such as [0, 3, 1]`);
    }
    return item.items.map((x) => {
      const n = (x as { value: bigint }).value;
      if (n < BigInt(v.min) || n > BigInt(v.max)) {
        fail(x.loc, `'${spec.name}' values must be in ${v.min}..${v.max}`);
      }
      return Number(n);
    });
  }
  if (v.kind === "int") {
    if (item.kind !== "number") {
      fail(item.loc, `'${spec.name}' needs a number`, describeSetting(spec));
    }
    const n = item.value;
    if (n < BigInt(v.min) || n > BigInt(v.max)) {
      fail(item.loc, `'${spec.name}' ${item.text} is out of range ${v.min}..${v.max}`);
    }
    return Number(n);
  }
  return 1;
}

function describeSetting(spec: SettingSpec): string {
  const v = spec.value;
  if (v.kind === "enum") return `${spec.name} takes one of: ${v.values.join(", ")}`;
  if (v.kind === "int") return `${spec.name} takes a number in ${v.min}..${v.max}`;
  if (v.kind === "list") return `${spec.name} takes a list of numbers in ${v.min}..${v.max}`;
  return `${spec.name} takes no value`;
}

/**
 * "Did you mean", or else every setting: a platform's settings are few
 * enough to list whatever their number (the general hint stops at 8).
 */
function settingHint(word: string, names: readonly string[]): string | undefined {
  return suggest(word, names) ??
    (names.length ? `expected one of: ${names.join(", ")}` : undefined);
}
