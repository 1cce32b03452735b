/**
 * `node dist/bench.js weight-quality --model DIR --weight-bits B`: how far quantized weights move the model's
 * next-token distributions from the checkpoint's exact weights, on the long-file protocol of `repokv eval
 * long-file` (src/eval/long-file.ts): files of a repository in path order, each with its file header, longer than
 * prefix + target tokens; the target tokens after the prefix are scored. Both engines see the same ids at the same
 * positions; reported are the mean KL(exact ‖ quantized) per scored token and both mean NLLs.
 */
import * as fs from 'node:fs';
import type { WeightBits } from '../kernels/weight-quant';
import { formatFileHeader } from '../src/engine/fim';
import type { Engine } from '../src/engine/engine';
import { PlainKvCache } from '../src/engine/kv-cache';
import { klDivergence, mean, nllFromLogits } from '../src/eval/metrics';
import { scanWorkspace } from '../src/syntax';

export interface WeightQualityOptions {
  prefixTokens: number;
  targetTokens: number;
  /** Files are added until at least this many tokens are scored. */
  minTokens: number;
  progress?: (line: string) => void;
}

export interface WeightQualityResult {
  weightBits: WeightBits;
  klDivergence: number;
  nllExact: number;
  nllQuantized: number;
  tokens: number;
  files: number;
  /** Largest |logit difference| over every scored position and vocabulary entry. */
  maxAbsLogitDiff: number;
}

/** Logits [target, vocab] of `ids[prefix .. prefix+target)`'s predictions: the rows at positions prefix-1 .. end-2. */
async function targetLogits(engine: Engine, ids: number[], prefix: number, chunk = 256): Promise<Float32Array> {
  const c = engine.config;
  const cache = new PlainKvCache(c.numLayers, c.numKvHeads, c.headDim, ids.length);
  const rows: Float32Array[] = [];
  for (let start = 0; start < ids.length - 1; start += chunk) {
    const end = Math.min(ids.length - 1, start + chunk);
    const wanted: number[] = [];
    for (let p = Math.max(start, prefix - 1); p < end; p++) wanted.push(p - start);
    const out = await engine.session.forward({
      ids: ids.slice(start, end),
      positions: Array.from({ length: end - start }, (_, i) => start + i),
      past: cache,
      logitIndex: wanted.length ? wanted : [0],
    });
    cache.append(out.keys, out.values, end - start);
    if (wanted.length) rows.push(out.logits);
  }
  const all = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of rows) {
    all.set(r, o);
    o += r.length;
  }
  return all;
}

export async function benchWeightQuality(
  exact: Engine,
  quantized: Engine,
  weightBits: WeightBits,
  repo: string,
  opts: WeightQualityOptions,
): Promise<WeightQualityResult> {
  const { prefixTokens, targetTokens } = opts;
  const vocab = exact.config.vocabSize;
  const scan = await scanWorkspace(repo);
  const kl: number[] = [];
  const nllExact: number[] = [];
  const nllQuantized: number[] = [];
  let files = 0;
  let maxAbsLogitDiff = 0;
  for (const f of [...scan.files].sort((a, b) => a.path.localeCompare(b.path))) {
    if (kl.length >= opts.minTokens) break;
    const header = exact.fim ? formatFileHeader(exact.fim, f.path) : '';
    const ids = [...exact.encode(header), ...exact.encode(fs.readFileSync(f.absPath, 'utf8'))];
    if (ids.length < prefixTokens + targetTokens) continue;
    const used = ids.slice(0, prefixTokens + targetTokens);
    const targets = used.slice(prefixTokens);
    opts.progress?.(`weight-quality ${files + 1}: ${f.path}`);
    const p = await targetLogits(exact, used, prefixTokens);
    const q = await targetLogits(quantized, used, prefixTokens);
    kl.push(...klDivergence(p, q, vocab, targets.length));
    for (let i = 0; i < p.length; i++) maxAbsLogitDiff = Math.max(maxAbsLogitDiff, Math.abs(p[i]! - q[i]!));
    nllExact.push(...nllFromLogits(p, vocab, targets));
    nllQuantized.push(...nllFromLogits(q, vocab, targets));
    files++;
  }
  if (kl.length < opts.minTokens) {
    throw new Error(
      `${repo} has too few files of ${prefixTokens + targetTokens} tokens: ${kl.length} tokens scored, ` +
        `${opts.minTokens} wanted`,
    );
  }
  return {
    weightBits,
    klDivergence: mean(kl),
    nllExact: mean(nllExact),
    nllQuantized: mean(nllQuantized),
    tokens: kl.length,
    files,
    maxAbsLogitDiff,
  };
}
