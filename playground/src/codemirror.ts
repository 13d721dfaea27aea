/**
 * The parts of CodeMirror 6 the playground uses, bundled ahead of time into
 * `playground/dist/codemirror.js` (`deno task playground-vendor`) and
 * committed, so that serving the page needs nothing from the network. The
 * bundle is a classic script that sets `globalThis.irqlabCodeMirror`: a page
 * opened from a file may not load modules.
 *
 * @module
 */
import {
  Decoration,
  type DecorationSet,
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { EditorState, RangeSetBuilder, StateEffect, StateField } from "@codemirror/state";
import {
  bracketMatching,
  HighlightStyle,
  indentOnInput,
  StreamLanguage,
  syntaxHighlighting,
} from "@codemirror/language";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { tags } from "@lezer/highlight";

/** What the playground's own bundle reads from `globalThis.irqlabCodeMirror`. */
export const CodeMirror = {
  Decoration,
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
  EditorState,
  RangeSetBuilder,
  StateEffect,
  StateField,
  bracketMatching,
  HighlightStyle,
  indentOnInput,
  StreamLanguage,
  syntaxHighlighting,
  defaultKeymap,
  history,
  historyKeymap,
  indentWithTab,
  tags,
};

/** The type of {@link CodeMirror}, for the playground's bundle. */
export type CodeMirrorApi = typeof CodeMirror;
export type { DecorationSet };

(globalThis as { irqlabCodeMirror?: CodeMirrorApi }).irqlabCodeMirror = CodeMirror;
