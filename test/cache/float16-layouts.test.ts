/**
 * fp16 activations through the whole cache runtime (segment prefill with the scoring graph, eviction, 2-bit
 * quantization, the query graph over the repository block), in both storage layouts, against the same pipeline in
 * float32, on the CPU provider. The fused layout's block products stay float32 inside the fp16 graph: its zero points
 * (−min/scale) overflow fp16 on nearly constant blocks, which turned every logit into NaN before they were kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { targetLogits } from '../../src/cache/query-context';
import { CacheRuntime } from '../../src/cache/runtime';
import { Engine } from '../../src/engine/engine';
import { klDivergence, mean } from '../../src/eval/metrics';
import { REPO_ROOT, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

/** The e2e workspace's sources: real files whose fused blocks include nearly constant ones. */
const WORKSPACE = path.join(REPO_ROOT, 'test', 'e2e', 'workspace');
const SOURCES = ['src/geometry.ts', 'src/shapes.ts', 'tools/measure.py'].map((p) => ({
  path: p,
  text: fs.readFileSync(path.join(WORKSPACE, p), 'utf8'),
}));
const LOCAL =
  '<|file_sep|>geometry/main.ts\nimport { area } from "./shapes";\nimport { sum } from "./sum";\n\nconst total = ';
const TARGET = 'sum([area({ radius: 1 }), area({ radius: 2 })]);\n';

describe.each(['fused', 'kivi'] as const)('fp16 activations in the cache runtime (%s layout)', (quantLayout) => {
  const engines: Record<string, Engine> = {};
  const runtimes: Record<string, CacheRuntime> = {};

  beforeAll(async () => {
    for (const activations of ['float32', 'float16'] as const) {
      engines[activations] = await Engine.load({
        modelDir: TINY_MODEL,
        provider: 'cpu',
        cacheDir: TEST_CACHE_DIR,
        activations,
      });
      runtimes[activations] = await CacheRuntime.create(
        engines[activations],
        { ...DEFAULT_CACHE_CONFIG, quantLayout },
        'demo',
      );
    }
  });
  afterAll(async () => {
    for (const r of Object.values(runtimes)) await r.dispose();
    for (const e of Object.values(engines)) await e.dispose();
  });

  async function logitsOf(activations: string): Promise<Float32Array> {
    const runtime = runtimes[activations]!;
    const engine = engines[activations]!;
    expect(runtime.quantLayout).toBe(quantLayout);
    const kvs = await Promise.all(SOURCES.map((s) => runtime.prefill(s)));
    const ctx = await runtime.queryContext(kvs);
    return targetLogits(ctx, engine.encode(LOCAL), engine.encode(TARGET));
  }

  it('gives finite logits close to the float32 pipeline', async () => {
    const exact = await logitsOf('float32');
    const half = await logitsOf('float16');
    expect(half.every(Number.isFinite)).toBe(true);
    const vocab = engines.float32!.config.vocabSize;
    // fp16 prefill can move a 2-bit code across a rounding boundary, so this is looser than the plain graph's bound.
    expect(mean(klDivergence(exact, half, vocab, exact.length / vocab))).toBeLessThan(0.01);
  });
});
