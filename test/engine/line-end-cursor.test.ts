/**
 * The first-token rule at the end of an unfinished line, on the real (Qwen2 byte-level BPE) tokenizer that
 * tiny-coder and coder-15m share: which cursors it applies to, and that under it the first token can neither end
 * the line, nor be blank only, nor be a special token, whatever the model prefers; later tokens are free.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tokenTexts } from '../../src/engine/logit-constraint';
import {
  ContinueLineConstraint,
  isLineEnd,
  isUnfinishedLineEnd,
  lineEndConstraint,
  parseLineEndHandling,
  promptsLeftToRight,
} from '../../src/engine/line-end-cursor';
import { argmax, seededRandom } from '../../src/engine/sampling';
import { TextTokenizer } from '../../src/engine/tokenizer';
import { TINY_MODEL } from '../helpers/paths';

describe('isUnfinishedLineEnd', () => {
  it('holds after code with only blanks or the end of the text after the cursor', () => {
    expect(isUnfinishedLineEnd("x\nconsole.log('fence', fence(", '')).toBe(true);
    expect(isUnfinishedLineEnd('  const total = ', '\n}\n')).toBe(true);
    expect(isUnfinishedLineEnd('    return', '  \r\n')).toBe(true);
    expect(isUnfinishedLineEnd('a = b.', '\t\nc')).toBe(true);
  });

  it('does not hold after a character that may end the line', () => {
    for (const end of [';', '{', '}', ':', ',', ')', ']']) {
      expect(isUnfinishedLineEnd(`  f(x)${end}`, '\nnext'), end).toBe(false);
      expect(isLineEnd(`  f(x)${end}`, '\nnext'), end).toBe(true);
    }
  });

  it('does not hold with code after the cursor, on a blank line, or at an indented cursor', () => {
    expect(isLineEnd('  foo(', 'a)\n')).toBe(false);
    expect(isLineEnd('x\n', '\ny')).toBe(false);
    expect(isLineEnd('x\n    ', '\ny')).toBe(false);
    expect(isLineEnd('', '')).toBe(false);
  });
});

describe('on the real tokenizer', () => {
  let tok: TextTokenizer;
  let texts: readonly string[];
  beforeAll(() => {
    tok = TextTokenizer.fromDir(TINY_MODEL);
    texts = tokenTexts(tok);
  });

  it('forbids line breaks, blank-only and special tokens first, and allows code and a leading space', () => {
    const c = new ContinueLineConstraint(texts, tok.specialTokenIds());
    const id = (s: string) => {
      const found = texts.indexOf(s); // a vocabulary entry spelling exactly s
      expect(found, JSON.stringify(s)).toBeGreaterThanOrEqual(0);
      return found;
    };
    for (const s of ['\n', '\n\n', ' ', '    ', '\t']) expect(c.allowed(id(s)), JSON.stringify(s)).toBe(false);
    // Every vocabulary entry that starts with a line break after optional blanks is forbidden, whatever follows.
    const breaking = texts.map((t, i) => [t, i] as const).filter(([t]) => /^[ \t]*\n./s.test(t));
    expect(breaking.length).toBeGreaterThan(0);
    for (const [t, i] of breaking) expect(c.allowed(i), JSON.stringify(t)).toBe(false);
    for (const s of ['x', ' x', ')', "'", ' =']) expect(c.allowed(id(s)), s).toBe(true);
    for (const special of tok.specialTokenIds()) expect(c.allowed(special)).toBe(false);
    expect(c.allowed(texts.length + 5)).toBe(false); // a padded vocabulary's ids have no text
  });

  it('the first token never ends the line, even when the model prefers it; then it lets go', () => {
    const random = seededRandom(3);
    const newline = tok.encode('\n')[0]!;
    for (let trial = 0; trial < 10; trial++) {
      const c = new ContinueLineConstraint(texts, tok.specialTokenIds());
      const logits = Float32Array.from(texts, () => random());
      logits[newline] = 100;
      c.mask(logits);
      const first = argmax(logits);
      expect(texts[first]).not.toMatch(/^[ \t]*(?:[\r\n]|$)/);
      c.accept();
      const next = Float32Array.from(texts, () => random());
      next[newline] = 100;
      c.mask(next);
      expect(argmax(next)).toBe(newline);
    }
  });

  it('applies only to unfinished line ends under continue; continue-always covers every line end; off never', () => {
    expect(lineEndConstraint(tok, '  x = f(', '\n', 'continue')).toBeInstanceOf(ContinueLineConstraint);
    expect(lineEndConstraint(tok, '  x = f();', '\n', 'continue')).toBeUndefined();
    expect(lineEndConstraint(tok, '  x = f();', '\n', 'continue-always')).toBeInstanceOf(ContinueLineConstraint);
    expect(lineEndConstraint(tok, '  x = f(', '\n', 'off')).toBeUndefined();
    expect(lineEndConstraint(tok, '  x = f(', '\n', 'left-to-right')).toBeUndefined();
    expect(lineEndConstraint(tok, '  x = f(', 'a)\n', 'continue')).toBeUndefined();
    expect(lineEndConstraint(tok, 'a\n    ', '\n', 'continue-always')).toBeUndefined();
  });

  it('prompts left to right only where its variant applies', () => {
    expect(promptsLeftToRight('  x = f(', '\n', 'left-to-right')).toBe(true);
    expect(promptsLeftToRight('  x = f();', '\n', 'left-to-right')).toBe(false);
    expect(promptsLeftToRight('  x = f();', '\n', 'left-to-right-always')).toBe(true);
    expect(promptsLeftToRight('  x = f(', '\n', 'continue')).toBe(false);
    expect(promptsLeftToRight('  x = f(', 'a)', 'left-to-right-always')).toBe(false);
  });

  it('refuses an unknown handling in words', () => {
    expect(() => parseLineEndHandling('sometimes')).toThrow(
      /one of off, continue, continue-always, left-to-right, left-to-right-always/,
    );
  });
});
