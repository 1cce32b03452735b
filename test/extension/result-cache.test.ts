import { describe, expect, it } from 'vitest';
import { CompletionResultCache } from '../../src/extension/completion/result-cache';

const URI = 'file:///repo/a.ts';
const PREFIX = 'function f() {\n  const x = ';

describe('CompletionResultCache', () => {
  it('returns the whole suggestion at the same prefix', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, 'compute(a, b);');
    expect(cache.get(URI, PREFIX)).toBe('compute(a, b);');
  });

  it('returns the rest while the user types the suggestion, and again after backspace', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, 'compute(a, b);');
    expect(cache.get(URI, PREFIX + 'c')).toBe('ompute(a, b);');
    expect(cache.get(URI, PREFIX + 'compute(')).toBe('a, b);');
    expect(cache.get(URI, PREFIX + 'com')).toBe('pute(a, b);');
  });

  it('misses when the typed text diverges, is fully typed, or went before the old cursor', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, 'compute(a, b);');
    expect(cache.get(URI, PREFIX + 'x')).toBeUndefined();
    expect(cache.get(URI, PREFIX + 'compute(a, b);')).toBeUndefined();
    expect(cache.get(URI, PREFIX.slice(0, -1))).toBeUndefined();
  });

  it('misses in another document and when text before the cursor changed', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, 'compute(a, b);');
    expect(cache.get('file:///repo/b.ts', PREFIX + 'c')).toBeUndefined();
    expect(cache.get(URI, PREFIX.replace('f()', 'g()') + 'c')).toBeUndefined();
  });

  it('only keeps a tail of the prefix, yet still tells prefixes apart by it', () => {
    const cache = new CompletionResultCache({ prefixTail: 8 });
    const long = 'x'.repeat(10_000) + 'let y = ';
    cache.set(URI, long, 'other();');
    expect(cache.get(URI, long + 'oth')).toBe('er();');
    expect(cache.get(URI, 'z'.repeat(10_000) + 'let y = oth')).toBe('er();');
    expect(cache.get(URI, 'z'.repeat(10_000) + 'let q = oth')).toBeUndefined();
  });

  it('multi-line suggestions continue across a typed newline', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, '1;\n  return x;');
    expect(cache.get(URI, PREFIX + '1;\n  ')).toBe('return x;');
  });

  it('prefers the most recent request when several entries match', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, PREFIX, 'foo.bar();');
    cache.set(URI, PREFIX + 'foo.', 'baz();');
    expect(cache.get(URI, PREFIX + 'foo.b')).toBe('az();');
    expect(cache.get(URI, PREFIX + 'fo')).toBe('o.bar();');
  });

  it('evicts the least recently used entry beyond capacity', () => {
    const cache = new CompletionResultCache({ capacity: 2 });
    cache.set(URI, 'a', 'AAA');
    cache.set(URI, 'b', 'BBB');
    expect(cache.get(URI, 'a')).toBe('AAA');
    cache.set(URI, 'c', 'CCC');
    expect(cache.size).toBe(2);
    expect(cache.get(URI, 'b')).toBeUndefined();
    expect(cache.get(URI, 'a')).toBe('AAA');
    expect(cache.get(URI, 'c')).toBe('CCC');
  });

  it('clears one document or everything, and ignores empty suggestions', () => {
    const cache = new CompletionResultCache();
    cache.set(URI, 'a', 'AAA');
    cache.set('file:///b', 'a', 'BBB');
    cache.set(URI, 'z', '');
    expect(cache.size).toBe(2);
    cache.clear(URI);
    expect(cache.get(URI, 'a')).toBeUndefined();
    expect(cache.get('file:///b', 'a')).toBe('BBB');
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
