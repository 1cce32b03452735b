/**
 * Prefill and decode throughput of the engine on a checkpoint, each reported with the floating-point
 * throughput it achieved as a ratio of the onnxruntime MatMul throughput measured in the same run.
 *
 * FLOPs counted are the useful ones of a causal forward: the projections (2·T·in·out each), attention
 * (2·2·heads·headDim per query-key pair, causal pairs only, so masked work inside a chunk is not credited)
 * and the LM head for the positions whose logits are computed.
 */
import type { Engine } from '../src/engine/engine';
import { prefill } from '../src/engine/generate';
import { PlainKvCache } from '../src/engine/kv-cache';
import type { ModelConfig } from '../src/engine/model-config';
import { seededRandom } from '../src/engine/sampling';
import type { MatMulProbe } from './matmul-throughput';
import { median } from './stats';

export function projectionFlopsPerToken(c: ModelConfig): number {
  const attnProj = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  return 2 * c.numLayers * (attnProj + mlp);
}

/** Useful attention FLOPs for `queries` new tokens after `past` tokens (query i sees past + i + 1 keys). */
export function attentionFlops(c: ModelConfig, past: number, queries: number): number {
  const pairs = queries * past + (queries * (queries + 1)) / 2;
  return 4 * c.numLayers * c.numHeads * c.headDim * pairs;
}

export interface ThroughputRow {
  contextTokens: number;
  prefillTokensPerSec: number;
  prefillGflops: number;
  /** Median over runs of (prefill GFLOP/s ÷ MatMul GFLOP/s measured just before that run). */
  prefillVsMatMul: number;
  decodeTokensPerSec: number;
  decodeGflops: number;
  decodeVsMatMul: number;
  matmulGflops: number;
}

export async function measureEngineThroughput(
  engine: Engine,
  probe: MatMulProbe,
  contexts: number[],
  runs: number,
  decodeSteps = 16,
  chunk = 512,
): Promise<ThroughputRow[]> {
  const c = engine.config;
  const rows: ThroughputRow[] = [];
  const random = seededRandom(1);
  for (const n of contexts) {
    const ids = Array.from({ length: n }, () => 10 + Math.floor(random() * (c.vocabSize - 100)));
    const newCache = () => new PlainKvCache(c.numLayers, c.numKvHeads, c.headDim, n + decodeSteps + 1);
    const prefillFlops =
      n * projectionFlopsPerToken(c) + attentionFlops(c, 0, n) + Math.ceil(n / chunk) * 2 * c.hiddenSize * c.vocabSize;
    const decodeFlops = projectionFlopsPerToken(c) + attentionFlops(c, n, 1) + 2 * c.hiddenSize * c.vocabSize;
    await prefill(engine.session, newCache(), ids.slice(0, Math.min(n, 64)), { chunk }); // warm-up
    const prefillSec: number[] = [];
    const stepSec: number[] = [];
    const matmul: number[] = [];
    const prefillRatio: number[] = [];
    const decodeRatio: number[] = [];
    for (let run = 0; run < runs; run++) {
      const ceiling = await probe.gflops();
      matmul.push(ceiling);
      const cache = newCache();
      const t = performance.now();
      await prefill(engine.session, cache, ids, { chunk });
      const sec = (performance.now() - t) / 1000;
      prefillSec.push(sec);
      prefillRatio.push(prefillFlops / sec / 1e9 / ceiling);
      const steps: number[] = [];
      for (let step = 0; step < decodeSteps; step++) {
        const s = performance.now();
        const out = await engine.session.forward({
          ids: [ids[step]!],
          positions: [cache.length],
          past: cache,
          logitIndex: [0],
        });
        steps.push((performance.now() - s) / 1000);
        cache.append(out.keys, out.values, 1);
        cache.truncate(n); // every step decodes at the same context length
      }
      stepSec.push(median(steps));
      decodeRatio.push(decodeFlops / median(steps) / 1e9 / ceiling);
    }
    rows.push({
      contextTokens: n,
      prefillTokensPerSec: n / median(prefillSec),
      prefillGflops: prefillFlops / median(prefillSec) / 1e9,
      prefillVsMatMul: median(prefillRatio),
      decodeTokensPerSec: 1 / median(stepSec),
      decodeGflops: decodeFlops / median(stepSec) / 1e9,
      decodeVsMatMul: median(decodeRatio),
      matmulGflops: median(matmul),
    });
  }
  return rows;
}
