import { describe, expect, it } from 'vitest';
import { DocumentStore, StaleVersionError, UnknownDocumentError } from '../../src/syntax/document-store';
import { segmentText } from '../../src/syntax/segmenter';
import { ContentChangeError } from '../../src/syntax/text-edit';
import type { ContentChange } from '../../src/syntax/types';
import { expectWellFormed, fingerprint, readFixture, segmentOptions } from './helpers';

const options = segmentOptions({ minSegmentTokens: 0 });

/** A change replacing `[start, end)` of `text`, with the range VS Code would send. */
function replace(text: string, start: number, end: number, insert: string): ContentChange {
  const pos = (offset: number): { line: number; character: number } => {
    const lines = text.slice(0, offset).split('\n');
    return { line: lines.length - 1, character: lines[lines.length - 1]!.length };
  };
  return { range: { start: pos(start), end: pos(end) }, rangeOffset: start, rangeLength: end - start, text: insert };
}

const THREE = 'function a() {\n  return 1;\n}\n\nfunction b() {\n  return 2;\n}\n\nfunction c() {\n  return 3;\n}\n';

describe('DocumentStore', () => {
  it('reports every segment as added on open and removed on delete', async () => {
    const store = new DocumentStore(options);
    const opened = await store.open('src/x.ts', THREE, 1);
    expect(opened.added.map((s) => s.names)).toEqual([['a'], ['b'], ['c']]);
    expect(opened.kept).toEqual([]);
    const removed = await store.remove('src/x.ts');
    expect(removed.removed.map((s) => s.hash)).toEqual(opened.added.map((s) => s.hash));
    expect(store.has('src/x.ts')).toBe(false);
  });

  it('re-prefills only the edited declaration', async () => {
    const store = new DocumentStore(options);
    const first = await store.open('src/x.ts', THREE, 1);
    const at = THREE.indexOf('return 2');
    const diff = await store.applyChanges('src/x.ts', 2, [replace(THREE, at + 7, at + 8, '42')]);
    expect(diff.added.map((s) => s.names)).toEqual([['b']]);
    expect(diff.removed.map((s) => s.hash)).toEqual([first.added[1]!.hash]);
    expect(diff.kept.map((s) => s.names)).toEqual([['a'], ['c']]);
    expect(store.get('src/x.ts')!.text).toContain('return 42;');
  });

  it('keeps the cache of a declaration that moved', async () => {
    const store = new DocumentStore(options);
    const first = await store.open('src/x.ts', THREE, 1);
    // cut `function a` (with its blank line) and paste it at the end, in one event of two changes
    const aEnd = THREE.indexOf('function b');
    const block = THREE.slice(0, aEnd);
    const afterCut = THREE.slice(aEnd);
    const diff = await store.applyChanges('src/x.ts', 2, [
      replace(THREE, 0, aEnd, ''),
      replace(afterCut, afterCut.length, afterCut.length, `\n${block.trimEnd()}\n`),
    ]);
    const aHash = first.added[0]!.hash;
    expect(diff.segments.map((s) => s.names[0])).toEqual(['b', 'c', 'a']);
    expect(diff.kept.map((s) => s.names[0])).toEqual(['b']);
    expect(diff.removed.map((s) => s.hash)).toContain(aHash); // `a` lost its trailing blank line: new text
    expect(store.segments('src/x.ts').map((s) => s.text.slice(s.headerLength))).toEqual([
      'function b() {\n  return 2;\n}\n\n',
      'function c() {\n  return 3;\n}\n\n',
      'function a() {\n  return 1;\n}\n',
    ]);
  });

  it('keeps the hash of a declaration moved with its blank line', async () => {
    const store = new DocumentStore(options);
    const first = await store.open('src/x.ts', THREE, 1);
    const bStart = THREE.indexOf('function b');
    const bEnd = THREE.indexOf('function c');
    const block = THREE.slice(bStart, bEnd);
    const afterCut = THREE.slice(0, bStart) + THREE.slice(bEnd);
    const diff = await store.applyChanges('src/x.ts', 2, [
      replace(THREE, bStart, bEnd, ''),
      replace(afterCut, 0, 0, block),
    ]);
    expect(diff.segments.map((s) => s.names[0])).toEqual(['b', 'a', 'c']);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    expect(diff.kept.map((s) => s.hash)).toEqual([first.added[1]!.hash, first.added[0]!.hash, first.added[2]!.hash]);
  });

  it('rejects stale versions and unknown documents with clear errors', async () => {
    const store = new DocumentStore(options);
    await store.open('x.py', 'def f():\n    return 1\n', 5);
    await expect(store.applyChanges('x.py', 5, [])).rejects.toThrow(StaleVersionError);
    await expect(store.applyChanges('x.py', 4, [])).rejects.toThrow(
      /version 4 is not newer than the current version 5/,
    );
    await expect(store.setText('x.py', 'x = 1\n', 3)).rejects.toThrow(StaleVersionError);
    await expect(store.applyChanges('nope.py', 1, [])).rejects.toThrow(UnknownDocumentError);
    // the store is still usable after a rejected update
    const diff = await store.setText('x.py', 'x = 1\n');
    expect(diff.version).toBe(6);
    // reopening restarts the version sequence, as VS Code does
    await store.open('x.py', 'y = 2\n', 1);
    expect(store.get('x.py')!.version).toBe(1);
  });

  it('rejects a change whose range disagrees with its offsets, and recovers', async () => {
    const store = new DocumentStore(options);
    const text = 'int a;\nint b;\n';
    await store.open('x.c', text, 1);
    const bad: ContentChange = {
      range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
      rangeOffset: 7,
      rangeLength: 1,
      text: 'x',
    };
    await expect(store.applyChanges('x.c', 2, [replace(text, 0, 0, '// c\n'), bad])).rejects.toThrow(
      ContentChangeError,
    );
    expect(store.get('x.c')!.text).toBe(text); // nothing of the failed event was applied
    const diff = await store.applyChanges('x.c', 2, [replace(text, 4, 5, 'z')]);
    expect(store.get('x.c')!.text).toBe('int z;\nint b;\n');
    expect(fingerprint(diff.segments)).toEqual(fingerprint(await segmentText('x.c', 'int z;\nint b;\n', options)));
  });

  it('accepts changes given by range only (offsets computed)', async () => {
    const store = new DocumentStore(options);
    await store.open('x.go', 'package x\n\nfunc A() {}\n', 1);
    await store.applyChanges('x.go', 2, [
      { range: { start: { line: 2, character: 5 }, end: { line: 2, character: 6 } }, text: 'Bee' },
    ]);
    expect(store.get('x.go')!.text).toBe('package x\n\nfunc Bee() {}\n');
    expect(store.segments('x.go').flatMap((s) => s.names)).toContain('Bee');
  });

  it('edits non-ASCII text incrementally (UTF-16 offsets) and matches a fresh parse', async () => {
    const store = new DocumentStore(options);
    let text = readFixture('sample.ts');
    await store.open('src/a.ts', text, 1);
    const edits: Array<[string, string]> = [
      ["'café ☕'", "'café ☕ 😀 naïve'"],
      ['return x * 2;', 'return x * 2; // ×2 😀'],
      ['export enum Level', '/** 中文 */\nexport enum Level'],
    ];
    let version = 1;
    for (const [from, to] of edits) {
      const at = text.indexOf(from);
      const change = replace(text, at, at + from.length, to);
      text = text.slice(0, at) + to + text.slice(at + from.length);
      await store.applyChanges('src/a.ts', ++version, [change]);
      expect(fingerprint(store.segments('src/a.ts'))).toEqual(
        fingerprint(await segmentText('src/a.ts', text, options)),
      );
    }
    expect(store.stats.incremental).toBe(3);
    expect(store.stats.errorReparses).toBe(0);
    expectWellFormed(store.segments('src/a.ts'), text, 'src/a.ts');
  });

  it('handles CRLF documents', async () => {
    const store = new DocumentStore(options);
    const text = 'def a():\r\n    return 1\r\n\r\ndef b():\r\n    return 2\r\n';
    await store.open('crlf.py', text, 1);
    // VS Code positions exclude the '\r' of '\r\n'
    const change: ContentChange = {
      range: { start: { line: 4, character: 11 }, end: { line: 4, character: 12 } },
      text: '7',
    };
    await store.applyChanges('crlf.py', 2, [change]);
    const expected = text.replace('return 2', 'return 7');
    expect(store.get('crlf.py')!.text).toBe(expected);
    expect(fingerprint(store.segments('crlf.py'))).toEqual(
      fingerprint(await segmentText('crlf.py', expected, options)),
    );
  });

  it('parses from scratch when the incremental tree has a syntax error', async () => {
    const store = new DocumentStore(options);
    const text = 'function a() {\n  return 1;\n}\n';
    await store.open('e.ts', text, 1);
    await store.applyChanges('e.ts', 2, [replace(text, 14, 14, '(((')]);
    expect(store.stats.errorReparses).toBe(1);
  });

  it('drops the least recently used trees beyond maxTrees and still updates correctly', async () => {
    const store = new DocumentStore({ ...options, maxTrees: 1 });
    await store.open('a.ts', THREE, 1);
    await store.open('b.ts', THREE, 1);
    const at = THREE.indexOf('return 1');
    await store.applyChanges('a.ts', 2, [replace(THREE, at, at + 6, 'yield')]); // a.ts lost its tree: fresh parse
    expect(store.stats.incremental).toBe(0);
    await store.applyChanges('a.ts', 3, [replace(THREE.replace('return 1', 'yield 1'), 0, 0, '\n')]);
    expect(store.stats.incremental).toBe(1);
    const final = `\n${THREE.replace('return 1', 'yield 1')}`;
    expect(fingerprint(store.segments('a.ts'))).toEqual(fingerprint(await segmentText('a.ts', final, options)));
    store.dispose();
  });

  it('sends files without a grammar to the line chunker', async () => {
    const store = new DocumentStore(options);
    const diff = await store.open('README.md', '# Title\n\nHello.\n', 1);
    expect(diff.segments.map((s) => s.kind)).toEqual(['lines']);
    expect(store.get('README.md')!.language).toBeNull();
  });
});
