/**
 * The ONNX path against golden.json: logits from an independent PyTorch implementation of the same model.
 * Top-10 ids must match exactly, values within 1e-3, and the 24-token greedy continuation token for token.
 * tiny-coder is named explicitly; coder-15m is reached as the default model (no modelDir), so the test also
 * proves what the default is.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_PAST } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { generate } from '../../src/engine/generate';
import { readGolden, topK } from '../helpers/golden';
import { CODER_MODEL, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const MODELS = [
  { name: 'tiny-coder', dir: TINY_MODEL, modelDir: TINY_MODEL as string | undefined },
  { name: 'coder-15m (the default model)', dir: CODER_MODEL, modelDir: undefined },
];

for (const model of MODELS) {
  const prompts = readGolden(model.dir);

  describe(`${model.name} through our ONNX graphs vs golden.json`, () => {
    let engine: Engine;
    beforeAll(async () => {
      engine = await Engine.load({ modelDir: model.modelDir, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    });
    afterAll(() => engine?.dispose());

    it('loads the intended checkpoint and covers every golden prompt', () => {
      expect(fs.realpathSync(engine.checkpoint.dir)).toBe(fs.realpathSync(model.dir));
      expect(prompts.length).toBeGreaterThanOrEqual(6);
    });

    for (const prompt of prompts) {
      it(`${prompt.name}: top-10 ids exact, logits within 1e-3`, async () => {
        const ids = prompt.ids;
        const positions = prompt.top10.map((t) => t.position);
        const out = await engine.session.forward({
          ids,
          positions: ids.map((_, i) => i),
          past: EMPTY_PAST,
          logitIndex: [...positions, ids.length - 1],
        });
        const vocab = engine.config.vocabSize;
        prompt.top10.forEach((t, r) => {
          const row = out.logits.subarray(r * vocab, (r + 1) * vocab);
          expect(topK(row, 10)).toEqual(t.ids);
          t.ids.forEach((id, k) => expect(Math.abs(row[id]! - t.values[k]!)).toBeLessThan(1e-3));
        });
        const last = out.logits.subarray(positions.length * vocab);
        let maxDiff = 0;
        prompt.last_logits.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(last[i]! - v))));
        expect(maxDiff).toBeLessThan(1e-3);
      });

      it(`${prompt.name}: greedy continuation equals golden token for token`, async () => {
        // Chunked prefill of 256 so that the long prompt crosses chunk boundaries on the way.
        const result = await generate(engine.session, engine.tokenizer, prompt.ids, {
          maxTokens: 24,
          temperature: 0,
          prefillChunk: 256,
        });
        expect(result.tokenIds).toEqual(prompt.greedy.ids);
        expect(result.text).toBe(prompt.greedy.text);
      });
    }
  });
}
