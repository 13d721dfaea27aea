/**
 * The playground page: an editor for a scenario, and irqlab itself (parser,
 * checker, engine, every model) running in the browser, so a scenario runs,
 * is explored and is formatted with no server beyond static files.
 *
 * Results, the trace and the SVG timeline (`lib/report/svg.ts`) sit beside
 * the editor; failed expectations and input errors mark their lines. A link
 * `#scn=<base64url>` (`link.ts`) opens the page with a scenario loaded and
 * run; "Copy link" makes one. A menu offers the scenario library, which the
 * build puts in `dist/library.js` so that its includes resolve too.
 *
 * Bundled by `playground/build.ts` into `dist/irqlab.js`, a classic script
 * (pages opened from a file may not load modules), after `dist/codemirror.js`
 * and `dist/library.js`.
 *
 * @module
 */
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import type { CodeMirrorApi, DecorationSet } from "./codemirror.ts";
import { cmTokenFor, SCN_GRAMMAR, type Token, tokenizer } from "./highlight.ts";
import { scenarioFromHash, scenarioLink } from "./link.ts";
import { posix } from "./node_path.ts";
import { checkText } from "../../lib/api/scenario.ts";
import { runProgram } from "../../lib/engine/run.ts";
import { explore } from "../../lib/engine/explore.ts";
import { formatText } from "../../dsl/format.ts";
import { ScnError } from "../../lib/core/diagnostic.ts";
import type { Loader } from "../../dsl/check/mod.ts";
import type { Outcome } from "../../lib/report/outcome.ts";
import { textReport, traceLines } from "../../lib/report/text.ts";
import { type ExploreOutcome, exploreTextReport } from "../../lib/report/explore.ts";
import { timeline } from "../../lib/report/timeline.ts";
import { escapeXml, timelineSvg } from "../../lib/report/svg.ts";
import { decodeMagic } from "../../lib/report/decode.ts";
import type { ScenarioResult } from "../../lib/engine/run.ts";

const g = globalThis as {
  irqlabCodeMirror?: CodeMirrorApi;
  irqlabLibrary?: Record<string, string>;
};
const CM = g.irqlabCodeMirror!;
const LIBRARY: Record<string, string> = g.irqlabLibrary ?? {};

/** The name a scenario from a link or typed in runs under. */
const SCRATCH = "scenario.scn";
/** The scenario shown when the page opens with none in its link. */
const FIRST = "scenarios/x86/readme_level_redelivery.scn";
/** A browser tab should not spin for long: explore with a smaller budget than the CLI. */
const EXPLORE_MAX_STATES = 20_000;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// ---- the editor ---------------------------------------------------------------------

const tokenize = tokenizer(SCN_GRAMMAR);

/** The TextMate rules as a CodeMirror stream language: each line tokenized once. */
const scnLanguage = CM.StreamLanguage.define<{ line: string; tokens: Token[] }>({
  name: "scn",
  startState: () => ({ line: "", tokens: [] }),
  token(stream, state) {
    if (state.line !== stream.string) {
      state.line = stream.string;
      state.tokens = tokenize(stream.string);
    }
    const at = stream.pos;
    const t = state.tokens.find((x) => x.to > at);
    if (!t) {
      stream.skipToEnd();
      return null;
    }
    if (t.from > at) {
      stream.pos = t.from;
      return null;
    }
    stream.pos = t.to;
    return cmTokenFor(t.scope);
  },
  languageData: { commentTokens: { line: "#" } },
});

const t = CM.tags;
const scnStyle = CM.HighlightStyle.define([
  { tag: t.comment, color: "#6a737d", fontStyle: "italic" },
  { tag: t.string, color: "#032f62" },
  { tag: [t.keyword, t.controlKeyword], color: "#d73a49", fontWeight: "bold" },
  { tag: t.operator, color: "#d73a49" },
  { tag: t.number, color: "#005cc5" },
  { tag: t.tagName, color: "#22863a", fontWeight: "bold" },
  { tag: t.function(t.variableName), color: "#6f42c1" },
  { tag: t.className, color: "#e36209" },
  { tag: t.attributeName, color: "#6f42c1" },
  { tag: t.propertyName, color: "#005cc5" },
  { tag: t.variableName, color: "#e36209" },
]);

/** Lines to mark: failed expectations and input errors, with why. */
const setMarks = CM.StateEffect.define<{ line: number; why: string; cls: string }[]>();
const marks = CM.StateField.define<DecorationSet>({
  create: () => CM.Decoration.none,
  update(deco, tr) {
    for (const e of tr.effects) {
      if (!e.is(setMarks)) continue;
      const b = new CM.RangeSetBuilder<ReturnType<typeof CM.Decoration.line>>();
      const sorted = [...e.value].sort((a, b) => a.line - b.line);
      let last = 0;
      for (const m of sorted) {
        if (m.line < 1 || m.line > tr.state.doc.lines || m.line === last) continue;
        last = m.line;
        const at = tr.state.doc.line(m.line).from;
        b.add(at, at, CM.Decoration.line({ class: m.cls, attributes: { title: m.why } }));
      }
      return b.finish();
    }
    return tr.docChanged ? CM.Decoration.none : deco.map(tr.changes);
  },
  provide: (f) => CM.EditorView.decorations.from(f),
});

const view = new CM.EditorView({
  parent: $("editor"),
  state: CM.EditorState.create({
    doc: "",
    extensions: [
      CM.lineNumbers(),
      CM.highlightActiveLineGutter(),
      CM.history(),
      CM.drawSelection(),
      CM.indentOnInput(),
      CM.bracketMatching(),
      CM.highlightActiveLine(),
      scnLanguage,
      CM.syntaxHighlighting(scnStyle),
      marks,
      CM.keymap.of([
        { key: "Mod-Enter", run: () => (run(), true) },
        ...CM.defaultKeymap,
        ...CM.historyKeymap,
        CM.indentWithTab,
      ]),
    ],
  }),
});

let currentName = SCRATCH;

function setText(text: string, name: string): void {
  currentName = name;
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  $<HTMLElement>("name").textContent = name;
}

// ---- running ------------------------------------------------------------------------

/** Includes resolve inside the library, relative to the including file. */
const libraryLoader: Loader = (path, from) => {
  const name = posix.normalize(
    posix.isAbsolute(path) ? path : posix.join(posix.dirname(from), path),
  );
  const text = LIBRARY[name];
  return text === undefined ? undefined : { name, text };
};

function show(status: string, lines: string[], result?: ScenarioResult): void {
  const s = $("status");
  s.textContent = status;
  s.className = `status ${status.toLowerCase()}`;
  $("report").textContent = lines.join("\n");
  $("timeline").innerHTML = result && result.trace.length
    ? timelineSvg(timeline(result))
    : `<p class="none">${result ? "no events" : ""}</p>`;
  $("trace").textContent = result ? traceLines(result.trace).map((l) => l.text).join("\n") : "";
  // The scenario's magic numbers, decoded from the models' field tables as `scn report` does.
  const decoded = decodeMagic(view.state.doc.toString());
  $("decoded").innerHTML = decoded.length
    ? `<ul>${decoded.map((d) => `<li>line ${d.line}: ${escapeXml(d.text)}</li>`).join("")}</ul>`
    : "<p>no magic numbers</p>";
  const failures = result?.failures ?? [];
  view.dispatch({
    effects: setMarks.of(
      failures.filter((f) => f.loc.source === currentName).map((f) => ({
        line: f.loc.start.line,
        why: `${f.kind} ${f.text}: expected ${f.expected}; actual ${f.actual}`,
        cls: "cm-failed-line",
      })),
    ),
  });
}

function showError(e: unknown, file: string): void {
  if (!(e instanceof ScnError)) {
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    show("ERROR", [`internal error: ${message}`, "this is a bug in irqlab: please report it"]);
    return;
  }
  const sources = new Map([[currentName, view.state.doc.toString()]]);
  for (const [k, v] of Object.entries(LIBRARY)) sources.set(k, v);
  const outcome: Outcome = { kind: "input-error", file, diagnostics: e.diagnostics, sources };
  show("ERROR", textReport([outcome], { trace: false, replay: () => "" }).map((l) => l.text));
  view.dispatch({
    effects: setMarks.of(
      e.diagnostics.filter((d) => d.loc.source === currentName).map((d) => ({
        line: d.loc.start.line,
        why: d.message,
        cls: "cm-error-line",
      })),
    ),
  });
}

function run(): void {
  const text = view.state.doc.toString();
  try {
    const program = checkText(text, currentName, { load: libraryLoader });
    const result = runProgram(program);
    const outcome: Outcome = { kind: "result", file: currentName, result };
    const lines = textReport([outcome], {
      trace: false,
      replay: (f) => `deno task scn run ${f} --trace (the same trace is below)`,
    });
    show(result.status.toUpperCase(), lines.map((l) => l.text), result);
  } catch (e) {
    showError(e, currentName);
  }
}

function exploreNow(): void {
  const text = view.state.doc.toString();
  try {
    const program = checkText(text, currentName, { load: libraryLoader });
    const result = explore(program, { maxStates: EXPLORE_MAX_STATES });
    const outcome: ExploreOutcome = { kind: "explored", file: currentName, result };
    const lines = exploreTextReport([outcome], { trace: false }).map((l) => l.text);
    show(result.status.toUpperCase(), lines, result.counterexample?.result);
  } catch (e) {
    showError(e, currentName);
  }
}

function formatNow(): void {
  try {
    const formatted = formatText(view.state.doc.toString(), currentName);
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: formatted } });
  } catch (e) {
    showError(e, currentName);
  }
}

async function copyLink(): Promise<void> {
  const link = scenarioLink(location.href, view.state.doc.toString());
  history.replaceState(null, "", link);
  const box = $<HTMLInputElement>("link");
  box.value = link;
  box.hidden = false;
  box.select();
  try {
    await navigator.clipboard.writeText(link);
    $("copied").textContent = "copied";
  } catch {
    // A page from a file or plain http may not write the clipboard: the link is selected.
    $("copied").textContent = "select and copy";
  }
}

// ---- the library menu ---------------------------------------------------------------

function fillLibrary(): void {
  const menu = $<HTMLSelectElement>("library");
  const groups = new Map<string, HTMLOptGroupElement>();
  for (const path of Object.keys(LIBRARY).sort()) {
    if (posix.basename(path).startsWith("_")) continue;
    const dir = posix.dirname(path);
    let group = groups.get(dir);
    if (!group) {
      group = document.createElement("optgroup");
      group.label = dir;
      groups.set(dir, group);
      menu.append(group);
    }
    const o = document.createElement("option");
    o.value = path;
    o.textContent = posix.basename(path);
    group.append(o);
  }
  menu.addEventListener("change", () => {
    const text = LIBRARY[menu.value];
    if (text === undefined) return;
    setText(text, menu.value);
    history.replaceState(null, "", location.href.replace(/#.*$/, ""));
    run();
  });
}

// ---- start --------------------------------------------------------------------------

function openFromLocation(): void {
  const fromLink = scenarioFromHash(location.hash);
  if (location.hash.includes("scn=") && fromLink === undefined) {
    setText("", SCRATCH);
    show("ERROR", ["the link's #scn= is not a scenario (cut short when it was copied?)"]);
    return;
  }
  if (fromLink !== undefined) setText(fromLink, SCRATCH);
  else if (LIBRARY[FIRST] !== undefined) setText(LIBRARY[FIRST], FIRST);
  run();
}

$("run").addEventListener("click", run);
$("explore").addEventListener("click", exploreNow);
$("format").addEventListener("click", formatNow);
$("copy").addEventListener("click", () => void copyLink());
addEventListener("hashchange", openFromLocation);
fillLibrary();
openFromLocation();
document.body.dataset.ready = "1";
