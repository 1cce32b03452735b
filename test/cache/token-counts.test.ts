import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PersistentTokenCounts, tokenizerIdentity } from '../../src/cache/token-counts';
import { TINY_MODEL } from '../helpers/paths';

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-token-counts-'));
afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

/** A stand-in tokenizer that counts its calls: one token per word. */
function counter() {
  const calls: string[] = [];
  return { calls, count: (t: string) => (calls.push(t), t.split(/\s+/).filter(Boolean).length) };
}

describe('persistent token counts', () => {
  it('a second run answers from disk; a save keeps only what the last run used', () => {
    const file = PersistentTokenCounts.fileFor(DIR, 'tok', '/repo');
    const first = counter();
    const a = new PersistentTokenCounts(file);
    expect(a.count('one two three', first.count)).toBe(3);
    expect(a.count('four five', first.count)).toBe(2);
    expect(a.count('one two three', first.count)).toBe(3); // memo within the run
    expect(first.calls).toHaveLength(2);
    a.save();

    const second = counter();
    const b = new PersistentTokenCounts(file);
    expect(b.count('one two three', second.count)).toBe(3);
    expect(b.count('six', second.count)).toBe(1);
    expect(second.calls).toEqual(['six']);
    b.save(); // 'four five' was not used: dropped from the file

    const third = counter();
    const c = new PersistentTokenCounts(file);
    c.count('four five', third.count);
    c.count('six', third.count);
    expect(third.calls).toEqual(['four five']);
  });

  it('treats a damaged or foreign file as empty, and names files by tokenizer and repository', () => {
    const file = path.join(DIR, 'damaged.json');
    for (const content of ['{"format":1,"counts":{"x":', '[]', '{"format":2,"counts":{}}', '']) {
      fs.writeFileSync(file, content);
      const run = counter();
      expect(new PersistentTokenCounts(file).count('a b', run.count)).toBe(2);
      expect(run.calls).toHaveLength(1);
    }
    const names = new Set([
      PersistentTokenCounts.fileFor(DIR, 'tok', '/repo'),
      PersistentTokenCounts.fileFor(DIR, 'tok', '/other'),
      PersistentTokenCounts.fileFor(DIR, 'tok2', '/repo'),
    ]);
    expect(names.size).toBe(3);
    expect(tokenizerIdentity(TINY_MODEL)).toBe(tokenizerIdentity(TINY_MODEL));
    expect(tokenizerIdentity(TINY_MODEL)).not.toBe(tokenizerIdentity(DIR));
  });
});
