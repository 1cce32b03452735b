/**
 * The incremental property: whatever sequence of edits a file goes through (typed characters, deletions,
 * multi-change events, moved declarations, whole-text reloads, creation and deletion), its segment list equals
 * hash for hash, in order, what a fresh segmentation of the final text gives. Seeded: a failure names its
 * seed and step, and replays.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DocumentStore } from '../../src/syntax/document-store';
import { segmentText } from '../../src/syntax/segmenter';
import type { ContentChange, Segment, SegmentDiff, SegmentOptions } from '../../src/syntax/types';
import { FIXTURES, expectWellFormed, fingerprint, readFixture, rng, segmentOptions } from './helpers';

const FIXTURE_FILES = fs.readdirSync(FIXTURES).sort();
const SEQUENCES_PER_LANGUAGE = Number(process.env.REPOKV_PROPERTY_SEQUENCES ?? 8);
const STEPS = 30;

const NOISE = [
  '{',
  '}',
  '(',
  ')',
  ';',
  '"',
  "'",
  '/*',
  '*/',
  '//',
  '#',
  '\n',
  '\n\n',
  ' ',
  '  ',
  'é',
  '😀',
  '中文',
  'x',
  'return ',
  'class ',
  'def ',
  'end\n',
  '<?php',
  '`',
];
const DECLARATIONS: Record<string, string[]> = {
  ts: [
    'export function zz(a: number): number {\n  return a + 1;\n}\n',
    'export class Zz {\n  m(): void {}\n}\n',
    "import { q } from 'q';\n",
  ],
  tsx: ['export const Zz = () => <div>zz</div>;\n', 'function zz() {\n  return 1;\n}\n'],
  js: ['function zz(a) {\n  return a + 1;\n}\n', 'class Zz {\n  m() {}\n}\n'],
  py: ['def zz(a):\n    return a + 1\n', 'class Zz:\n    def m(self):\n        pass\n', 'import zz\n'],
  go: ['func Zz(a int) int {\n\treturn a + 1\n}\n', 'type Zz struct {\n\tA int\n}\n'],
  rs: ['pub fn zz(a: i32) -> i32 {\n    a + 1\n}\n', 'impl Zz {\n    fn m(&self) {}\n}\n', 'use zz::Zz;\n'],
  java: ['    public int zz(int a) {\n        return a + 1;\n    }\n', 'class Zz {\n    void m() {}\n}\n'],
  c: ['int zz(int a) {\n    return a + 1;\n}\n', '#include <zz.h>\n', 'struct zz { int a; };\n'],
  cpp: [
    'int zz(int a) {\n    return a + 1;\n}\n',
    'class Zz {\npublic:\n    void m() {}\n};\n',
    'namespace zz {\nint q;\n}\n',
  ],
  cs: ['    public int Zz(int a) { return a + 1; }\n', 'public class Zz\n{\n    void M() { }\n}\n', 'using Zz;\n'],
  rb: ['def zz(a)\n  a + 1\nend\n', 'class Zz\n  def m\n  end\nend\n', "require 'zz'\n"],
  php: ['function zz($a) {\n    return $a + 1;\n}\n', 'class Zz {\n    public function m() {}\n}\n'],
  md: ['## Heading\n\nSome text.\n', '- item\n'],
};

function extOf(file: string): string {
  return file.slice(file.lastIndexOf('.') + 1);
}

/** VS Code's position of an offset, computed independently of the code under test. */
function position(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

/** Moves an offset off the second half of a surrogate pair (VS Code never splits one). */
function snap(text: string, offset: number): number {
  const c = text.charCodeAt(offset);
  return offset > 0 && offset < text.length && c >= 0xdc00 && c <= 0xdfff ? offset - 1 : offset;
}

function change(text: string, start: number, end: number, insert: string, withOffsets: boolean): ContentChange {
  const c: ContentChange = { range: { start: position(text, start), end: position(text, end) }, text: insert };
  if (withOffsets) {
    c.rangeOffset = start;
    c.rangeLength = end - start;
  }
  return c;
}

function applyLocally(text: string, c: ContentChange, start: number, end: number): string {
  return text.slice(0, start) + c.text + text.slice(end);
}

function expectConsistentDiff(diff: SegmentDiff, before: readonly Segment[]): void {
  const count = (list: readonly Segment[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const s of list) m.set(s.hash, (m.get(s.hash) ?? 0) + 1);
    return m;
  };
  expect([...diff.kept, ...diff.added].map((s) => s.index).sort((a, b) => a - b)).toEqual(
    diff.segments.map((s) => s.index),
  );
  // before − removed = kept, as multisets of hashes; kept + added = the new list (checked above by index)
  const old = count(before);
  for (const s of diff.removed) old.set(s.hash, old.get(s.hash)! - 1);
  for (const s of diff.kept) old.set(s.hash, (old.get(s.hash) ?? 0) - 1);
  for (const n of old.values()) expect(n).toBe(0);
}

interface Sim {
  store: DocumentStore;
  texts: Map<string, string>;
  versions: Map<string, number>;
}

async function checkAgainstFresh(sim: Sim, options: SegmentOptions, label: string): Promise<void> {
  expect(sim.store.paths().sort(), label).toEqual([...sim.texts.keys()].sort());
  for (const [path, text] of sim.texts) {
    expect(sim.store.get(path)!.text, `${label} text of ${path}`).toBe(text);
    const kept = sim.store.segments(path);
    const fresh = await segmentText(path, text, options);
    expect(fingerprint(kept), `${label} segments of ${path}`).toEqual(fingerprint(fresh));
    expect(kept.map((s) => s.text)).toEqual(fresh.map((s) => s.text));
  }
}

async function runSequence(mainFile: string, seed: number): Promise<{ moves: number; movedKept: number }> {
  const random = rng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const options = segmentOptions({
    maxSegmentTokens: pick([40, 96, 512]),
    minSegmentTokens: pick([0, 24, 128]),
  });
  const sim: Sim = {
    store: new DocumentStore({ ...options, maxTrees: pick([1, 64]) }),
    texts: new Map(),
    versions: new Map(),
  };
  const open = async (path: string, text: string): Promise<void> => {
    await sim.store.open(path, text, 1);
    sim.texts.set(path, text);
    sim.versions.set(path, 1);
  };
  const mainPath = `src/main.${extOf(mainFile)}`;
  await open(mainPath, readFixture(mainFile));
  let moves = 0;
  let movedKept = 0;

  for (let step = 0; step < STEPS; step++) {
    const label = `seed ${seed} step ${step}`;
    const roll = random();
    const paths = [...sim.texts.keys()];
    if (roll < 0.06) {
      // file creation (or reopen) from another fixture
      const file = pick(FIXTURE_FILES);
      await open(`extra/f${Math.floor(random() * 3)}.${extOf(file)}`, readFixture(file));
    } else if (roll < 0.1 && paths.length > 1) {
      const path = pick(paths.filter((p) => p !== mainPath));
      const before = sim.store.segments(path);
      const diff = await sim.store.remove(path);
      expect(diff.removed.length).toBe(before.length);
      sim.texts.delete(path);
    } else if (roll < 0.15) {
      // changed on disk: a whole new text
      const path = pick(paths);
      const text = sim.texts.get(path)!;
      const cut = snap(text, Math.floor(random() * text.length));
      const next = text.slice(cut) + text.slice(0, cut);
      const version = sim.versions.get(path)! + 1;
      await sim.store.setText(path, next, version);
      sim.texts.set(path, next);
      sim.versions.set(path, version);
    } else {
      const path = pick(paths);
      let text = sim.texts.get(path)!;
      const before = sim.store.segments(path);
      const changes: ContentChange[] = [];
      let movedHash: string | null = null;
      if (roll < 0.3 && before.length > 1) {
        // move a whole segment elsewhere: one event, two changes (cut, then paste)
        const seg = pick(before);
        const body = text.slice(seg.start, seg.end);
        const cut = change(text, seg.start, seg.end, '', random() < 0.7);
        text = applyLocally(text, cut, seg.start, seg.end);
        const targets = [
          0,
          ...before.filter((s) => s !== seg).map((s) => (s.start > seg.start ? s.start - body.length : s.start)),
          text.length,
        ];
        const at = pick(targets);
        const paste = change(text, at, at, body, random() < 0.7);
        text = applyLocally(text, paste, at, at);
        changes.push(cut, paste);
        movedHash = seg.hash;
        moves++;
      } else {
        const n = 1 + Math.floor(random() * 3);
        for (let i = 0; i < n; i++) {
          const start = snap(text, Math.floor(random() * (text.length + 1)));
          const r = random();
          const end =
            r < 0.5 ? start : snap(text, Math.min(text.length, start + Math.floor(random() * (r < 0.9 ? 12 : 300))));
          const insert = random() < 0.25 ? '' : random() < 0.5 ? pick(DECLARATIONS[extOf(path)] ?? NOISE) : pick(NOISE);
          const c = change(text, start, end, insert, random() < 0.7);
          text = applyLocally(text, c, start, end);
          changes.push(c);
        }
      }
      const version = sim.versions.get(path)! + 1 + Math.floor(random() * 2);
      const diff = await sim.store.applyChanges(path, version, changes);
      expectConsistentDiff(diff, before);
      if (movedHash && diff.kept.some((s) => s.hash === movedHash)) movedKept++;
      sim.texts.set(path, text);
      sim.versions.set(path, version);
      await expect(sim.store.applyChanges(path, version, [])).rejects.toThrow(/stale/);
    }
    if (step % 3 === 2 || step === STEPS - 1) await checkAgainstFresh(sim, options, label);
  }
  for (const [path, text] of sim.texts) expectWellFormed(sim.store.segments(path), text, path);
  sim.store.dispose();
  return { moves, movedKept };
}

describe('incremental segments equal a fresh segmentation after random edits', () => {
  it.each(FIXTURE_FILES)('%s', async (file) => {
    let moves = 0;
    let movedKept = 0;
    for (let i = 0; i < SEQUENCES_PER_LANGUAGE; i++) {
      const seed = 1000 * (FIXTURE_FILES.indexOf(file) + 1) + i;
      const r = await runSequence(file, seed);
      moves += r.moves;
      movedKept += r.movedKept;
    }
    // moving a whole segment usually keeps its cache entry (not always: merging can regroup it)
    if (moves > 4) expect(movedKept).toBeGreaterThan(0);
  });

  it('text files (line chunker)', async () => {
    const text = Array.from(
      { length: 60 },
      (_, i) => `Line ${i}: ${'lorem ipsum '.repeat(i % 7)}\n${i % 5 === 0 ? '\n' : ''}`,
    ).join('');
    const options = segmentOptions({ maxSegmentTokens: 48, minSegmentTokens: 16 });
    const store = new DocumentStore(options);
    await store.open('doc.md', text, 1);
    const random = rng(77);
    let current = text;
    for (let version = 2; version < 120; version++) {
      const start = Math.floor(random() * (current.length + 1));
      const end = Math.min(current.length, start + Math.floor(random() * 30));
      const insert = random() < 0.3 ? '' : random() < 0.5 ? '\n\n' : 'new words here ';
      const c = change(current, start, end, insert, true);
      current = applyLocally(current, c, start, end);
      await store.applyChanges('doc.md', version, [c]);
    }
    expect(fingerprint(store.segments('doc.md'))).toEqual(fingerprint(await segmentText('doc.md', current, options)));
  });
});
