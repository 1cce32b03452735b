/**
 * Cache statistics as the CLI's `index`/`stats` and the extension's statistics view report them, measured from
 * the actual buffers (DESIGN §3 "Memory accounting": bytes per original token = stored bytes ÷ tokens before
 * eviction; the fp16 reference = 2 · layers · kvHeads · headDim · 2 bytes).
 */
import type { CacheStatistics } from '../sidecar/service';
import { relativeError } from './quantize';
import type { CacheEntry, RepositoryCache } from './repository-cache';
import { gatherHead } from './segment-prefill';
import { fp16BytesPerToken } from './segment-kv';

export async function cacheStatistics(cache: RepositoryCache, errorSamples = 6): Promise<CacheStatistics> {
  const { numLayers, numKvHeads, headDim } = cache.engine.config;
  const files = new Set<string>();
  const bytesPerFile: Record<string, number> = {};
  const keptPerLayer = new Float64Array(numLayers);
  let tokens = 0;
  let keptTokens = 0;
  let bytes = 0;
  let segments = 0;
  for (const entry of cache.entries.values()) {
    files.add(entry.path);
    segments += entry.refs;
    if (!entry.summary) continue; // registered but not prefilled yet
    const b = entry.summary.bytes;
    bytes += b;
    tokens += entry.summary.tokens;
    bytesPerFile[entry.path] = (bytesPerFile[entry.path] ?? 0) + b;
    entry.summary.keptPerLayer.forEach((kept, l) => {
      keptPerLayer[l]! += kept;
      keptTokens += kept / (numLayers * numKvHeads);
    });
  }
  const fp16 = fp16BytesPerToken(numLayers, numKvHeads, headDim);
  const bytesPerToken = tokens ? bytes / tokens : 0;
  return {
    files: files.size,
    segments,
    tokens,
    keptTokens: Math.round(keptTokens),
    bytes,
    bytesPerToken,
    fp16BytesPerToken: fp16,
    compressionRatio: bytesPerToken ? fp16 / bytesPerToken : 0,
    quantError: await quantizationError(cache, errorSamples),
    keyBitsPerLayer: [...cache.runtime.keyBits],
    keptRatioPerLayer: Array.from(keptPerLayer, (k) => (tokens ? k / (tokens * numKvHeads) : 0)),
    bytesPerFile,
    provider: cache.engine.session.provider,
    hits: cache.hits,
    misses: cache.misses,
    prefillTokensPerSecond: cache.prefillMs ? cache.prefillTokens / (cache.prefillMs / 1000) : 0,
    skipped: cache.skipped.map((s) => ({ path: s.path, reason: s.reason })),
  };
}

/**
 * Relative Frobenius error of the kept tokens' dequantized keys and values per layer, measured on a sample of
 * the repository's own segments (re-scored, since the store keeps no full-precision copy).
 */
type QuantError = { keys: number[]; values: number[] };

/**
 * The last measurement per cache and the sample it was made on: the status bar asks for statistics after every
 * edit's prefill, and re-scoring the same samples each time would compete with completions for nothing.
 */
const measured = new WeakMap<RepositoryCache, { sample: string; error: QuantError }>();

async function quantizationError(cache: RepositoryCache, samples: number): Promise<QuantError> {
  const entries = [...cache.entries.values()].sort((a, b) => a.key.localeCompare(b.key)).slice(0, samples);
  const sample = entries.map((e) => e.key).join(',');
  const previous = measured.get(cache);
  if (previous?.sample === sample) return previous.error;
  const error = await measureQuantizationError(cache, entries);
  measured.set(cache, { sample, error });
  return error;
}

async function measureQuantizationError(cache: RepositoryCache, entries: CacheEntry[]): Promise<QuantError> {
  const { runtime } = cache;
  const { numLayers, numKvHeads: KV, headDim: d } = cache.engine.config;
  const err = { keys: new Float64Array(numLayers), values: new Float64Array(numLayers) };
  const ref = { keys: new Float64Array(numLayers), values: new Float64Array(numLayers) };
  for (const entry of entries) {
    const scored = await runtime.score({
      path: entry.path,
      text: entry.text.slice(entry.bodyOffset),
      protectedRanges: entry.protectedRanges,
    });
    const kv = await runtime.compress(scored);
    const keySource =
      runtime.quantLayout === 'kivi' && runtime.config.preRopeKeys ? scored.rawKeysPreRope : scored.rawKeys;
    for (let l = 0; l < kv.layers.length; l++) {
      for (let h = 0; h < KV; h++) {
        const kept = kv.layers[l]![h]!.kept;
        const deq = await runtime.dequantizeHead(kv, l, h);
        for (const [kind, raw] of [
          ['keys', keySource[l]!],
          ['values', scored.rawValues[l]!],
        ] as const) {
          const original = gatherHead(raw, kept, h, KV, d);
          const e = relativeError(original, deq[kind]);
          let norm = 0;
          for (const x of original) norm += x * x;
          err[kind][l]! += e * e * norm;
          ref[kind][l]! += norm;
        }
      }
    }
  }
  const ratio = (kind: 'keys' | 'values') =>
    Array.from(err[kind], (e, l) => (ref[kind][l] ? Math.sqrt(e / ref[kind][l]!) : 0));
  return { keys: ratio('keys'), values: ratio('values') };
}
