/**
 * The prompt and answer transformation at an indented cursor, on the real (Qwen2 byte-level BPE) tokenizer that
 * tiny-coder and coder-15m share: what is backed up, what the answer keeps, and that token healing's constraint
 * can only produce the typed indentation first, whatever the model prefers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  answerAfterIndent,
  ForcedTextConstraint,
  indentedCursor,
  parseIndentHandling,
  splitTypedIndent,
} from '../../src/engine/indented-cursor';
import { tokenTexts } from '../../src/engine/logit-constraint';
import { argmax, seededRandom } from '../../src/engine/sampling';
import { TextTokenizer } from '../../src/engine/tokenizer';
import { TINY_MODEL } from '../helpers/paths';

const PY = 'class Queue:\n    def put(self, item):\n        if self.full():\n            ';
const TS = 'export function f(a: number) {\n\t\tif (a > 1) {\n\t\t\t';

describe('splitTypedIndent', () => {
  it('backs a cursor after spaces up to its line start', () => {
    expect(splitTypedIndent(PY)).toEqual({ prefix: PY.slice(0, -12), typed: ' '.repeat(12) });
  });

  it('backs a cursor after tabs up to its line start', () => {
    expect(splitTypedIndent(TS)).toEqual({ prefix: TS.slice(0, -3), typed: '\t\t\t' });
  });

  it('keeps CRLF line ends in the prefix', () => {
    expect(splitTypedIndent('a\r\n  ')).toEqual({ prefix: 'a\r\n', typed: '  ' });
  });

  it('leaves column 0, a cursor after code, and indentation at the start of the text alone', () => {
    for (const before of ['x = 1\n', '    x = ', '    return x', 'def f():\n    if a and ', '    ', '']) {
      expect(splitTypedIndent(before)).toEqual({ prefix: before, typed: '' });
    }
  });
});

describe('answerAfterIndent', () => {
  const typed = ' '.repeat(8);
  it('removes the indentation the model repeats', () => {
    expect(answerAfterIndent(`${typed}return x\n${typed}y = 2`, typed)).toBe(`return x\n${typed}y = 2`);
    expect(answerAfterIndent('\t\treturn;', '\t\t')).toBe('return;');
  });

  it('lets the editor indentation stand over a deeper, shallower or differently made one', () => {
    expect(answerAfterIndent(`${typed}    x`, typed)).toBe('x');
    expect(answerAfterIndent('    return x', typed)).toBe('return x');
    expect(answerAfterIndent('\t\treturn x', typed)).toBe('return x');
  });

  it('keeps a line end the model writes, and changes nothing when nothing was typed', () => {
    expect(answerAfterIndent('\n    x', typed)).toBe('\n    x');
    expect(answerAfterIndent('  return x', '')).toBe('  return x');
  });
});

describe('on the real tokenizer', () => {
  let tok: TextTokenizer;
  let texts: readonly string[];
  beforeAll(() => {
    tok = TextTokenizer.fromDir(TINY_MODEL);
    texts = tokenTexts(tok);
  });

  it('a prompt ending at the indentation is tokenized unlike the same text followed by code', () => {
    const atCursor = tok.encode(PY);
    const inTraining = tok.encode(`${PY}raise Full`);
    // the indentation is one token at the cursor, split differently once a statement follows
    expect(inTraining.slice(0, atCursor.length)).not.toEqual(atCursor);
    expect(texts[atCursor.at(-1)!]).toBe(' '.repeat(12));
  });

  it('the backed-up prefix is tokenized as the start of the finished line is', () => {
    for (const before of [PY, TS]) {
      const { prefix } = splitTypedIndent(before);
      const ids = tok.encode(prefix);
      expect(tok.encode(`${before}return x`).slice(0, ids.length)).toEqual(ids);
    }
  });

  it('token healing can only start with the typed indentation, whatever the logits prefer', () => {
    const random = seededRandom(7);
    for (const typed of [' '.repeat(12), '\t\t\t', '  \t', ' ']) {
      for (let trial = 0; trial < 20; trial++) {
        const constraint = new ForcedTextConstraint(texts, typed);
        let text = '';
        // random logits, with whitespace-heavy and end-of-line tokens favoured as a confused model favours them
        for (let step = 0; step < 6; step++) {
          const logits = Float32Array.from(texts, (t) => random() + (/^\s+$/.test(t) ? 3 : 0));
          constraint.mask(logits);
          const id = argmax(logits);
          constraint.accept(id);
          text += texts[id];
        }
        expect(text.startsWith(typed)).toBe(true);
      }
    }
  });

  it('allows the training split of an indentation: 11 spaces, then a token starting with the 12th', () => {
    expect(texts.indexOf(' '.repeat(15))).toBeGreaterThan(0);
    const eleven = texts.indexOf(' '.repeat(11));
    const ret = texts.indexOf(' return');
    expect(eleven).toBeGreaterThan(0);
    expect(ret).toBeGreaterThan(0);
    const constraint = new ForcedTextConstraint(texts, ' '.repeat(12));
    const first = new Float32Array(texts.length);
    constraint.mask(first);
    expect(first[eleven]).toBe(0);
    expect(first[ret]).toBe(Number.NEGATIVE_INFINITY);
    // the 12-space token would end the indentation where training never ends one: the prompt's problem again
    expect(first[texts.indexOf(' '.repeat(12))]).toBe(Number.NEGATIVE_INFINITY);
    expect(first[texts.indexOf(' '.repeat(15))]).toBe(0);
    constraint.accept(eleven);
    const second = new Float32Array(texts.length);
    constraint.mask(second);
    expect(second[ret]).toBe(0);
    constraint.accept(ret);
    expect(constraint.done).toBe(true);
  });

  it('never allows ids outside the table (a padded model vocabulary)', () => {
    const constraint = new ForcedTextConstraint(texts, '    ');
    const logits = new Float32Array(texts.length + 8);
    constraint.mask(logits);
    expect(logits.subarray(texts.length).every((v) => v === Number.NEGATIVE_INFINITY)).toBe(true);
  });

  it('only heal constrains, and off leaves the prompt at the cursor', () => {
    expect(indentedCursor(tok, PY, 'heal').constraint()).toBeInstanceOf(ForcedTextConstraint);
    expect(indentedCursor(tok, PY, 'backup').constraint()).toBeUndefined();
    const off = indentedCursor(tok, PY, 'off');
    expect(off.prefix).toBe(PY);
    expect(off.answer('        x')).toBe('        x');
    const inLine = indentedCursor(tok, '    x = ', 'heal');
    expect(inLine.prefix).toBe('    x = ');
    expect(inLine.constraint()).toBeUndefined();
    expect(inLine.typedTokens).toBe(0);
  });
});

it('rejects an unknown handling by name', () => {
  expect(parseIndentHandling('heal')).toBe('heal');
  expect(() => parseIndentHandling('trim')).toThrow(/off, backup, heal.*"trim"/);
});
