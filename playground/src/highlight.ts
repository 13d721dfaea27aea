/**
 * The editor's highlighting: the TextMate grammar of the VS Code extension
 * (`editors/vscode/syntaxes/scn.tmLanguage.json`) applied by a small reader
 * of its rules, so the playground and the editor colour a scenario alike
 * and the rules are written once.
 *
 * The grammar keeps to one-line `match` rules (with `captures`) and regular
 * expressions that Oniguruma and JavaScript read alike. The reader follows
 * TextMate's own search: at each position the rule whose match starts
 * earliest wins, the first listed on a tie. `highlight_test.ts` checks it
 * against VS Code's engine (vscode-textmate) on the whole library.
 *
 * @module
 */
import grammarJson from "../../editors/vscode/syntaxes/scn.tmLanguage.json" with { type: "json" };

/** A TextMate rule as this grammar writes them. */
export interface Rule {
  /** A one-line regular expression. */
  match?: string;
  /** The scope of what it matches. */
  name?: string;
  /** Scopes of its groups, by group number. */
  captures?: Record<string, { name: string }>;
  /** `#name`: the repository's rule of that name. */
  include?: string;
  /** Rules tried in order. */
  patterns?: Rule[];
}

/** A TextMate grammar as this reader needs it. */
export interface Grammar {
  /** The root scope: `source.scn`. */
  scopeName: string;
  /** Top-level rules, in order. */
  patterns: Rule[];
  /** Named rules for `include: "#name"`. */
  repository?: Record<string, Rule>;
}

/** A span of a line and its innermost scope. */
export interface Token {
  /** Offset of its first character. */
  from: number;
  /** Offset just past its last character. */
  to: number;
  /** Innermost scope: `keyword.control.flow.scn`, or the root scope. */
  scope: string;
}

interface Compiled {
  regex: RegExp;
  name?: string;
  captures: [number, string][];
}

/** The scn grammar, as the extension ships it. */
export const SCN_GRAMMAR: Grammar = grammarJson as Grammar;

/**
 * A line tokenizer for a grammar of one-line `match` rules.
 *
 * @example
 * ```ts
 * const tokenize = tokenizer(SCN_GRAMMAR);
 * tokenize("run 5ms").map((t) => t.scope);
 * // ["keyword.control.flow.scn", "source.scn", "constant.numeric.duration.scn"]
 * ```
 */
export function tokenizer(grammar: Grammar): (line: string) => Token[] {
  const rules: Compiled[] = [];
  const add = (r: Rule) => {
    if (r.include) {
      const inner = grammar.repository?.[r.include.replace(/^#/, "")];
      if (!inner) throw new Error(`grammar: no rule '${r.include}'`);
      add(inner);
    } else if (r.match !== undefined) {
      rules.push({
        regex: new RegExp(r.match, "gd"),
        name: r.name,
        captures: Object.entries(r.captures ?? {}).map(([k, v]) => [Number(k), v.name]),
      });
    } else {
      for (const p of r.patterns ?? []) add(p);
    }
  };
  for (const p of grammar.patterns) add(p);
  const root = grammar.scopeName;

  return (line) => {
    const out: Token[] = [];
    const push = (from: number, to: number, scope: string) => {
      if (to <= from) return;
      const last = out[out.length - 1];
      if (last && last.to === from && last.scope === scope) last.to = to;
      else out.push({ from, to, scope });
    };
    let pos = 0;
    while (pos < line.length) {
      let best: { m: RegExpExecArray; rule: Compiled } | undefined;
      for (const rule of rules) {
        rule.regex.lastIndex = pos;
        const m = rule.regex.exec(line);
        if (m && (!best || m.index < best.m.index)) best = { m, rule };
      }
      if (!best) break;
      const { m, rule } = best;
      const start = m.index, end = m.index + m[0].length;
      push(pos, start, root);
      // The rule's own scope under its captures, as TextMate nests them.
      const base = rule.name ?? root;
      let at = start;
      const spans = rule.captures
        .map(([g, scope]) => ({ span: m.indices?.[g], scope }))
        .filter((c): c is { span: [number, number]; scope: string } => c.span !== undefined)
        .sort((a, b) => a.span[0] - b.span[0]);
      for (const { span: [from, to], scope } of spans) {
        if (from < at) continue;
        push(at, from, base);
        push(from, to, scope);
        at = to;
      }
      push(at, end, base);
      pos = end > pos ? end : pos + 1;
      if (end === start) push(start, pos, root);
    }
    push(pos, line.length, root);
    return out;
  };
}

/**
 * The CodeMirror token name (a `@lezer/highlight` tag) for a TextMate scope,
 * so a CodeMirror highlight style can colour it.
 *
 * @example
 * ```ts
 * cmTokenFor("keyword.operator.comparison.scn"); // "operator"
 * ```
 */
export function cmTokenFor(scope: string): string | null {
  for (const [prefix, token] of SCOPE_TOKENS) if (scope.startsWith(prefix)) return token;
  return null;
}

const SCOPE_TOKENS: [string, string][] = [
  ["comment", "comment"],
  ["string", "string"],
  ["keyword.operator", "operator"],
  ["keyword.control", "controlKeyword"],
  ["keyword", "keyword"],
  ["constant.numeric", "number"],
  ["entity.name.tag", "tagName"],
  ["entity.name.function", "function"],
  ["entity.name.section", "className"],
  ["variable.parameter", "attributeName"],
  ["variable.other.property", "propertyName"],
  ["variable", "variableName"],
  ["punctuation", "punctuation"],
];
