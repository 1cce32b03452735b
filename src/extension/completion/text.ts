/** Small text helpers shared by the post-processing steps. Lines are always split on `\n` (EOLs are normalised first). */

export function splitLines(text: string): string[] {
  return text.split('\n');
}

export function leadingWhitespace(line: string): string {
  return /^[ \t]*/.exec(line)?.[0] ?? '';
}

export function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** Visual width of leading whitespace, a tab advancing to the next multiple of `tabSize`. */
export function indentWidth(line: string, tabSize: number): number {
  let width = 0;
  for (const ch of leadingWhitespace(line))
    width = ch === '\t' ? (Math.floor(width / tabSize) + 1) * tabSize : width + 1;
  return width;
}

/** Leading whitespace of `width` columns in the document's style. */
export function makeIndent(width: number, indentUnit: string, tabSize: number): string {
  if (width <= 0) return '';
  if (indentUnit !== '\t') return ' '.repeat(width);
  return '\t'.repeat(Math.floor(width / tabSize)) + ' '.repeat(width % tabSize);
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
