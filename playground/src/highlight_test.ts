import assert from "node:assert/strict";
import { collectFiles } from "../../lib/load/files.ts";
import { SAMPLES, textmateTest, tokens } from "../../editors/vscode/test_textmate.ts";
import { cmTokenFor, SCN_GRAMMAR, tokenizer } from "./highlight.ts";

const tokenize = tokenizer(SCN_GRAMMAR);

/** Per character, the innermost scope VS Code's engine gives it. */
async function vscodeScopes(text: string): Promise<string[][]> {
  const lines = await tokens("source.scn", text);
  return lines.map((toks) => toks.flatMap(([t, scopes]) => Array(t.length).fill(scopes.at(-1)!)));
}

/** Per character, the innermost scope the playground gives it. */
function playgroundScopes(text: string): string[][] {
  return text.split("\n").map((line) => {
    const out: string[] = Array(line.length).fill(SCN_GRAMMAR.scopeName);
    for (const t of tokenize(line)) out.fill(t.scope, t.from, t.to);
    return out;
  });
}

textmateTest("the playground colours every sample line as VS Code does", async () => {
  const text = SAMPLES.map(([line]) => line).join("\n");
  assert.deepEqual(playgroundScopes(text), await vscodeScopes(text));
});

textmateTest("the playground colours the whole scenario library as VS Code does", async () => {
  const { files } = collectFiles(["scenarios"]);
  assert.ok(files.length > 100);
  for (const f of files) {
    const text = Deno.readTextFileSync(f).replace(/\r\n?/g, "\n");
    const ours = playgroundScopes(text), theirs = await vscodeScopes(text);
    ours.forEach((line, i) => assert.deepEqual(line, theirs[i], `${f}:${i + 1}`));
  }
});

Deno.test("every scope the grammar names has a CodeMirror colour", () => {
  const scopes = new Set<string>();
  for (const r of Object.values(SCN_GRAMMAR.repository ?? {})) {
    if (r.name) scopes.add(r.name);
    for (const c of Object.values(r.captures ?? {})) scopes.add(c.name);
  }
  for (const s of scopes) {
    if (s.startsWith("keyword.operator.assignment") || s.startsWith("punctuation.separator")) {
      continue;
    }
    assert.notEqual(cmTokenFor(s), null, s);
  }
});
