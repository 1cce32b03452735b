import type { LanguageInfo } from './languages';

/** One bracket outside strings and comments. */
export interface BracketEvent {
  readonly offset: number;
  readonly char: string;
  readonly open: boolean;
}

const OPENERS = '([{';
const CLOSERS = ')]}';

/**
 * The brackets of `text` that are code, skipping string literals and comments. An approximation by design: it knows
 * nothing of the lines above the cursor (a string or comment opened there is invisible), template literals are one
 * opaque string, and an unterminated `'`/`"` string stops at the end of its line, which limits the damage of a
 * misread apostrophe to one line.
 */
export function scanBrackets(text: string, lang: LanguageInfo): BracketEvent[] {
  const events: BracketEvent[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    const lineComment = lang.lineComments.find((c) => text.startsWith(c, i));
    if (lineComment !== undefined) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? n : eol;
      continue;
    }
    if (lang.blockComments && text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      continue;
    }
    if (lang.quotes.includes(ch)) {
      i = skipString(text, i, ch);
      continue;
    }
    const open = OPENERS.indexOf(ch);
    const close = CLOSERS.indexOf(ch);
    if (open >= 0 || close >= 0) events.push({ offset: i, char: ch, open: open >= 0 });
    i++;
  }
  return events;
}

/** Index just past the string starting at `start`. Triple quotes and backticks may span lines; others may not. */
function skipString(text: string, start: number, quote: string): number {
  const triple = quote !== '`' && text.startsWith(quote.repeat(3), start);
  const delimiter = triple ? quote.repeat(3) : quote;
  const multiline = triple || quote === '`';
  let i = start + delimiter.length;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      i += 2;
      continue;
    }
    if (ch === '\n' && !multiline) return i;
    if (text.startsWith(delimiter, i)) return i + delimiter.length;
    i++;
  }
  return text.length;
}
