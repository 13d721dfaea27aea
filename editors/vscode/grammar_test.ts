// The TextMate grammar, read by VS Code's own engine (vscode-textmate over
// Oniguruma), on sample lines of every statement kind of dsl/scn.peggy.
import assert from "node:assert/strict";
import { SAMPLES, textmateTest, tokens } from "./test_textmate.ts";

const HERE = new URL("./", import.meta.url);
const SCN = JSON.parse(Deno.readTextFileSync(new URL("syntaxes/scn.tmLanguage.json", HERE)));

/** The innermost scope of `word` in `line` (its first occurrence as a token). */
async function scopeOf(line: string, word: string): Promise<string> {
  const [toks] = await tokens("source.scn", line);
  const t = toks.find(([text]) => text.trim() === word);
  assert.ok(t, `no token '${word}' in ${JSON.stringify(toks.map(([x]) => x))}`);
  return t[1].at(-1)!;
}

textmateTest(
  "the TextMate grammar gives each kind of statement its scopes under VS Code's engine",
  async () => {
    for (const [line, word, scope] of SAMPLES) {
      assert.equal(await scopeOf(line, word), scope, `'${word}' in: ${line}`);
    }
  },
);

Deno.test("the TextMate grammar covers every statement kind of dsl/scn.peggy", () => {
  const peggy = Deno.readTextFileSync(new URL("../../dsl/scn.peggy", import.meta.url));
  // Statement's alternatives, and those of KeywordStatement (the statements a
  // keyword starts) among them: each rule's lines up to the next blank line.
  const body = (rule: string) => new RegExp(`\\n${rule}\\n((?: .*\\n)+)`).exec(peggy)?.[1];
  const statement = body("Statement"), keyword = body("KeywordStatement");
  assert.ok(statement && keyword, "the Statement and KeywordStatement rules of dsl/scn.peggy");
  const kinds = `${statement}${keyword}`.match(/\b\w+Statement\b/g)!
    .filter((k) => k !== "KeywordStatement");
  assert.ok(kinds.includes("ScenarioStatement") && kinds.includes("CommandStatement"));
  // Each statement rule's first word, as the samples above write it.
  const firstWord: Record<string, string> = {
    ScenarioStatement: "scenario",
    VersionStatement: "irqlab",
    TagsStatement: "tags",
    LinkStatement: "link",
    ExpectFailureStatement: "expect failure",
    VmStatement: "vm",
    LetStatement: "let",
    IncludeStatement: "include",
    RepeatStatement: "repeat",
    ForStatement: "for",
    ParallelStatement: "parallel",
    HandlerStatement: "on",
    WindowStatement: "run vcpu0",
    RunStatement: "run",
    ExpectStatement: "expect",
    AlwaysStatement: "always",
    IfStatement: "if",
    ActionStatement: "vcpu0:",
    CommandStatement: "eoi",
  };
  for (const k of kinds) {
    const w = firstWord[k];
    assert.ok(w, `a new statement kind '${k}': add samples for it`);
    assert.ok(SAMPLES.some(([line]) => line.startsWith(w)), `no sample line for ${k}`);
  }
});

textmateTest(
  "an unclosed string runs to the end of its line only, as the parser reads it",
  async () => {
    const lines = await tokens("source.scn", 'scenario "open\nvcpu0: sti');
    assert.equal(lines[0].at(-1)![1].at(-1), "string.quoted.double.scn");
    assert.equal(lines[1][0][1].at(-1), "entity.name.tag.actor.scn");
  },
);

textmateTest("```scn blocks in Markdown are highlighted as source.scn, and only they", async () => {
  const md = [
    "A bug:",
    "```scn",
    "vcpu0: sti",
    "```",
    "vcpu0: sti",
    "~~~ scn",
    "run 5ms",
    "~~~",
  ].join("\n");
  const lines = await tokens("text.html.markdown", md);
  const inner = (i: number, word: string) => lines[i].find(([t]) => t.trim() === word)?.[1] ?? [];
  assert.ok(inner(2, "vcpu0").includes("meta.embedded.block.scn"));
  assert.equal(inner(2, "vcpu0").at(-1), "entity.name.tag.actor.scn");
  assert.ok(
    !lines[4].some(([, s]) => s.includes("source.scn") || s.includes("entity.name.tag.actor.scn")),
  );
  assert.equal(inner(6, "5ms").at(-1), "constant.numeric.duration.scn");
});

Deno.test("the extension's manifest names the grammar, the injection and the language configuration", () => {
  const pkg = JSON.parse(Deno.readTextFileSync(new URL("package.json", HERE)));
  const c = pkg.contributes;
  assert.deepEqual(c.languages[0].extensions, [".scn"]);
  for (const g of c.grammars) assert.ok(Deno.statSync(new URL(g.path, HERE)).isFile, g.path);
  assert.equal(c.grammars[0].scopeName, SCN.scopeName);
  assert.deepEqual(c.grammars[1].injectTo, ["text.html.markdown"]);
  const conf = JSON.parse(Deno.readTextFileSync(new URL(c.languages[0].configuration, HERE)));
  assert.equal(conf.comments.lineComment, "#");
  assert.ok(conf.brackets.some(([o, e]: string[]) => o === "{" && e === "}"));
});
