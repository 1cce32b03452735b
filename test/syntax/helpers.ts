import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { qwenFileHeader, type Segment, type SegmentOptions } from '../../src/syntax/types';
import { seededRandom } from '../../src/engine/sampling';

export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'syntax');

/** The approximation the issue suggests: about 3.6 characters per token. */
export const approxTokens = (text: string): number => Math.ceil(text.length / 3.6);

export function segmentOptions(overrides: Partial<SegmentOptions> = {}): SegmentOptions {
  return { countTokens: approxTokens, fileHeader: qwenFileHeader, ...overrides };
}

export function readFixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** The engine's seeded generator (mulberry32), so that a failing random sequence can be replayed by its seed. */
export const rng: (seed: number) => () => number = seededRandom;

/** Checks the invariants every segment list must hold for `text`. */
export function expectWellFormed(segments: readonly Segment[], text: string, filePath: string): void {
  expect(segments.map((s) => s.text.slice(s.headerLength)).join('')).toBe(text);
  let offset = 0;
  let byte = 0;
  let line = 0;
  segments.forEach((s, i) => {
    expect(s.index).toBe(i);
    expect(s.path).toBe(filePath);
    expect(s.header).toBe(qwenFileHeader(filePath));
    expect(s.text.startsWith(s.header)).toBe(true);
    expect(s.start).toBe(offset);
    expect(s.end).toBeGreaterThan(s.start);
    expect(s.startByte).toBe(byte);
    expect(s.endByte - s.startByte).toBe(Buffer.byteLength(s.text.slice(s.headerLength), 'utf8'));
    expect(s.startLine).toBe(line);
    const body = s.text.slice(s.headerLength);
    const newlines = body.split('\n').length - 1;
    expect(s.endLine).toBe(line + newlines - (body.endsWith('\n') ? 1 : 0));
    expect(s.hash).toBe(createHash('sha256').update(s.text, 'utf8').digest('hex'));
    let prev = s.headerLength;
    for (const r of s.protected) {
      expect(r.start).toBeGreaterThanOrEqual(prev);
      expect(r.end).toBeGreaterThan(r.start);
      expect(r.end).toBeLessThanOrEqual(s.text.length);
      prev = r.end;
    }
    offset = s.end;
    byte = s.endByte;
    line += newlines;
  });
  expect(offset).toBe(text.length);
}

/** What must be identical between an incrementally kept list and a fresh one. */
export function fingerprint(segments: readonly Segment[]): unknown[] {
  return segments.map((s) => [
    s.hash,
    s.start,
    s.end,
    s.kind,
    s.names.join(','),
    JSON.stringify(s.protected),
    s.tokens,
  ]);
}
