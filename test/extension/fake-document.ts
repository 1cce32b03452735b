/**
 * A text document over a string for the extension tests, with the behaviour of VS Code's that RepoKV relies on:
 * zero-based positions, the version bumped by every edit, and change events whose ranges are in the old text.
 */
import { Position, type Range, type Uri } from '../helpers/fake-vscode';

/** `edit` applies a change the way the editor does and returns the change event. */
export class FakeTextDocument {
  version = 1;
  isClosed = false;
  constructor(
    readonly uri: Uri,
    private text: string,
    readonly languageId = 'typescript',
  ) {}
  get lineCount(): number {
    return this.lines().length;
  }
  getText(range?: Range): string {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }
  lineAt(line: number | Position): { text: string } {
    return { text: this.lines()[typeof line === 'number' ? line : line.line] ?? '' };
  }
  offsetAt(p: Position): number {
    const lines = this.lines();
    let offset = 0;
    for (let l = 0; l < p.line && l < lines.length; l++) offset += lines[l]!.length + 1;
    return Math.min(this.text.length, offset + p.character);
  }
  positionAt(offset: number): Position {
    const before = this.text.slice(0, offset).split('\n');
    return new Position(before.length - 1, before[before.length - 1]!.length);
  }
  edit(
    range: Range,
    text: string,
  ): {
    document: FakeTextDocument;
    contentChanges: { range: Range; rangeOffset: number; rangeLength: number; text: string }[];
    reason: undefined;
  } {
    const start = this.offsetAt(range.start);
    const end = this.offsetAt(range.end);
    this.text = this.text.slice(0, start) + text + this.text.slice(end);
    this.version++;
    const change = { range, rangeOffset: start, rangeLength: end - start, text };
    return { document: this, contentChanges: [change], reason: undefined };
  }
  private lines(): string[] {
    return this.text.split('\n');
  }
}
