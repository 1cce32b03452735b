/**
 * The on-disk graph cache: variants of one checkpoint share one weights file (hard links to a content-addressed
 * copy), and each still loads and computes on its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { DecoderSession, EMPTY_PAST } from '../../src/engine/decoder-session';
import { ensureDecoderGraph } from '../../src/engine/graph-cache';
import { makeFixtureCheckpoint } from '../helpers/fixture-checkpoint';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-graph-cache-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

describe('graph cache', () => {
  it('shares one weights file between the variants of a checkpoint', async () => {
    const modelDir = path.join(ROOT, 'model');
    makeFixtureCheckpoint(modelDir, { arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2, seed: 3 });
    const checkpoint = loadCheckpoint(modelDir);
    const cacheDir = path.join(ROOT, 'cache');
    const plain = ensureDecoderGraph(checkpoint, { exposeHiddenStates: false }, cacheDir);
    const scoring = ensureDecoderGraph(checkpoint, { exposeHiddenStates: false, scoringWindow: 8 }, cacheDir);
    expect(path.dirname(plain)).not.toBe(path.dirname(scoring));
    const weights = (p: string) => fs.statSync(path.join(path.dirname(p), 'weights.bin'));
    expect(weights(plain).ino).toBe(weights(scoring).ino);
    const shared = fs.readdirSync(path.join(cacheDir, 'graphs', 'weights')).filter((f) => f.endsWith('.bin'));
    expect(shared).toHaveLength(1);
    expect(weights(plain).nlink).toBe(3); // the shared copy and the two graphs

    // Both graphs load through the shared file and agree on the logits.
    const logits: Float32Array[] = [];
    for (const variant of [{ exposeHiddenStates: false }, { exposeHiddenStates: false, scoringWindow: 8 }]) {
      const session = await DecoderSession.create(checkpoint, { provider: 'cpu', cacheDir, variant });
      const out = await session.forward({ ids: [1, 2, 3], positions: [0, 1, 2], past: EMPTY_PAST, logitIndex: [2] });
      logits.push(out.logits);
      await session.release();
    }
    expect(Array.from(logits[1]!)).toEqual(Array.from(logits[0]!));
  });
});
