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
} from "npm:@codemirror/view@6.43.15";
import { EditorState, RangeSetBuilder, StateEffect, StateField } from "npm:@codemirror/state@6.7.6";
import {
  bracketMatching,
  HighlightStyle,
  indentOnInput,
  StreamLanguage,
  syntaxHighlighting,
} from "npm:@codemirror/language@6.13.1";
import {
  defaultKeymap,
  history,
  historyKeymap,
  indentWithTab,
} from "npm:@codemirror/commands@6.11.1";
import { tags } from "npm:@lezer/highlight@1.2.5";

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
