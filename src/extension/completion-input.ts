/**
 * What a completion request is made from: the document as the model should see it, the cursor in it, and the
 * surroundings the post-processor needs. When the suggest widget has an item selected, VS Code only shows ghost
 * text that extends that item, so the request is made as if the item were already accepted: its text replaces
 * its range, the cursor sits after it, and the suggestion shown is the item's text plus the model's continuation.
 */
import * as vscode from 'vscode';
import type { CompletionContext } from './completion/postprocess';

/** Lines after the cursor's line the post-processor looks at (repetition and block-end checks). */
const FOLLOWING_LINES = 20;

export interface CompletionInput {
  /** The text the model sees (the document, with the selected suggest item applied). */
  readonly text: string;
  /** Everything before the cursor in `text`: the result cache's key. */
  readonly prefix: string;
  /** The cursor in `text`. */
  readonly line: number;
  readonly character: number;
  /** Where the shown item goes in the real document, and the text that precedes the model's continuation. */
  readonly replace: vscode.Range;
  readonly lead: string;
  readonly context: CompletionContext;
}

/**
 * The input at `position`, or undefined when the selected suggest item cannot be extended (its range is not
 * around the cursor on the cursor's line: then no ghost text would be shown anyway, so no request is worth it).
 */
export function completionInput(
  document: vscode.TextDocument,
  position: vscode.Position,
  selected: vscode.SelectedCompletionInfo | undefined,
): CompletionInput | undefined {
  const replace = selected ? selected.range : new vscode.Range(position, position);
  const lead = selected ? selected.text : '';
  if (selected) {
    const r = selected.range;
    const onCursorLine = r.start.line === position.line && r.end.line === position.line;
    if (!onCursorLine || r.start.character > position.character || r.end.character < position.character)
      return undefined;
    if (/[\r\n]/.test(lead)) return undefined;
  }
  const full = document.getText();
  const start = document.offsetAt(replace.start);
  const end = document.offsetAt(replace.end);
  const prefix = full.slice(0, start) + lead;
  const lineText = document.lineAt(position.line).text;
  const following: string[] = [];
  for (let l = position.line + 1; l < Math.min(document.lineCount, position.line + 1 + FOLLOWING_LINES); l++) {
    following.push(document.lineAt(l).text);
  }
  const { indentUnit, tabSize } = indentation(document);
  return {
    text: prefix + full.slice(end),
    prefix,
    line: replace.start.line,
    character: replace.start.character + lead.length,
    replace,
    lead,
    context: {
      linePrefix: lineText.slice(0, replace.start.character) + lead,
      lineSuffix: lineText.slice(replace.end.character),
      followingLines: following,
      indentUnit,
      tabSize,
      languageId: document.languageId,
    },
  };
}

/** The document's indentation as its editor is set up (detected or configured), else the language's settings. */
export function indentation(document: vscode.TextDocument): { indentUnit: string; tabSize: number } {
  const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
  const config = vscode.workspace.getConfiguration('editor', document);
  const tabSize = toNumber(editor?.options.tabSize) ?? toNumber(config.get('tabSize')) ?? 4;
  const insertSpaces = editor?.options.insertSpaces ?? config.get<boolean>('insertSpaces') ?? true;
  return { indentUnit: insertSpaces === false ? '\t' : ' '.repeat(tabSize), tabSize };
}

function toNumber(value: unknown): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined;
}
