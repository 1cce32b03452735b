/**
 * Long-file fidelity (`repokv eval long-file`): for files longer than prefix + target tokens, the earlier part is
 * held in the configured compressed cache (prefilled after the sink, evicted, quantized) and the target tokens are
 * scored after it; `full` holds the same part unevicted at 16 bits and `no-context` holds nothing. The last
 * `localTokens` of the prefix stay at full precision as the local context in every configuration.
 *
 * Far-context gain = NLL(no-context) − NLL(full); each configuration's share of it is reported, alongside its
 * KL divergence from `full` over the target tokens, which stays meaningful when the gain is small.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CacheConfig } from '../cache/cache-config';
import { targetLogits } from '../cache/query-context';
import type { CacheRuntime } from '../cache/runtime';
import { fp16BytesPerToken, keptTokenCount, segmentBytes } from '../cache/segment-kv';
import type { Engine } from '../engine/engine';
import { scanWorkspace } from '../syntax';
import { NO_CONTEXT, resolveConfig } from './configs';
import { bootstrapCI, klDivergence, mean, nllFromLogits } from './metrics';

export interface LongFileOptions {
  configs: string[];
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  maxFiles: number;
  base: CacheConfig;
  progress?: (line: string) => void;
}

export interface LongFileConfigResult {
  name: string;
  files: number;
  nll: number;
  klDivergence: number;
  compressionRatio: number;
  bytesPerToken: number;
  keptRatio: number;
  farContextGainRetained: number | null;
}

export interface LongFileReport {
  repo: string;
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  farContextGain: number;
  farContextGainCI: [number, number];
  configs: LongFileConfigResult[];
}

async function filesWithTokens(engine: Engine, runtime: CacheRuntime, repo: string, need: number, maxFiles: number) {
  const scan = await scanWorkspace(repo);
  const files: { path: string; ids: number[]; headerTokens: number }[] = [];
  for (const f of [...scan.files].sort((a, b) => a.path.localeCompare(b.path))) {
    const header = engine.encode(runtime.fileHeader(f.path));
    const ids = [...header, ...engine.encode(fs.readFileSync(f.absPath, 'utf8'))];
    if (ids.length >= need) files.push({ path: f.path, ids, headerTokens: header.length });
    if (files.length >= maxFiles) break;
  }
  return files;
}

export async function evalLongFile(
  engine: Engine,
  base: CacheRuntime,
  repo: string,
  opts: LongFileOptions,
): Promise<LongFileReport> {
  const { prefixTokens, targetTokens, localTokens } = opts;
  const { numLayers, numKvHeads, headDim, vocabSize } = engine.config;
  const files = await filesWithTokens(engine, base, repo, prefixTokens + targetTokens, opts.maxFiles);
  if (files.length === 0) throw new Error(`no file in ${repo} has ${prefixTokens + targetTokens} tokens`);
  const runtimes = new Map(
    opts.configs.map((name) => {
      const resolved = resolveConfig(name, opts.base);
      return [name, resolved ? { runtime: base.derive(resolved.config), overrides: resolved.overrides } : null];
    }),
  );
  const perConfig = new Map<string, { nll: number[]; kl: number[]; bytes: number; tokens: number; kept: number }>();
  for (const name of opts.configs) perConfig.set(name, { nll: [], kl: [], bytes: 0, tokens: 0, kept: 0 });
  const sinkLen = base.sink.length;
  for (const [fi, file] of files.entries()) {
    opts.progress?.(`long-file ${fi + 1}/${files.length}: ${file.path}`);
    const cached = file.ids.slice(0, prefixTokens - localTokens);
    const local = file.ids.slice(prefixTokens - localTokens, prefixTokens);
    const target = file.ids.slice(prefixTokens, prefixTokens + targetTokens);
    const scored = await base.scoreInput({ ids: cached, headerTokens: file.headerTokens });
    // A neutral filler of the same template (header, then blank lines) scored at the same positions, for the
    // configurations that fill evicted slots instead of dropping them.
    const needsFiller = [...runtimes.values()].some((v) => v?.runtime.config.emptiedSlots === 'filler');
    const fillerIds = [...cached.slice(0, file.headerTokens)];
    const newline = engine.encode('\n');
    while (fillerIds.length < cached.length) fillerIds.push(newline[0]!);
    const filler = needsFiller ? await base.scoreInput({ ids: fillerIds, headerTokens: file.headerTokens }) : undefined;
    const logitsByConfig = new Map<string, Float32Array>();
    for (const [name, variant] of runtimes) {
      let logits: Float32Array;
      if (variant) {
        const { runtime } = variant;
        const kv = await runtime.compress(scored, variant.overrides, filler);
        const stats = perConfig.get(name)!;
        stats.bytes += segmentBytes(kv);
        stats.tokens += kv.tokens;
        stats.kept += keptTokenCount(kv) / (numLayers * numKvHeads);
        logits = await targetLogits(await runtime.queryContext([kv]), local, target);
      } else {
        // No cache: the local tokens at the same positions they have when the prefix is cached.
        const ids = [...local, ...target];
        const out = await engine.session.forward({
          ids,
          positions: ids.map((_, i) => sinkLen + cached.length + i),
          past: base.sink,
          logitIndex: target.map((_, i) => local.length - 1 + i),
        });
        logits = out.logits;
      }
      logitsByConfig.set(name, logits);
      perConfig.get(name)!.nll.push(mean(nllFromLogits(logits, vocabSize, target)));
    }
    const full = logitsByConfig.get('full')!;
    for (const [name, logits] of logitsByConfig) {
      perConfig.get(name)!.kl.push(mean(klDivergence(full, logits, vocabSize, target.length)));
    }
  }
  const fp16 = fp16BytesPerToken(numLayers, numKvHeads, headDim);
  const none = perConfig.get(NO_CONTEXT);
  const fullNll = perConfig.get('full')!.nll;
  const gains = none ? none.nll.map((v, i) => v - fullNll[i]!) : [];
  const farContextGain = none ? mean(gains) : NaN;
  return {
    repo: path.basename(repo),
    prefixTokens,
    targetTokens,
    localTokens,
    farContextGain,
    farContextGainCI: none ? bootstrapCI(gains, { resamples: 2000, seed: 1, level: 0.95 }) : [NaN, NaN],
    configs: opts.configs.map((name) => {
      const s = perConfig.get(name)!;
      const bytesPerToken = s.tokens ? s.bytes / s.tokens : 0;
      const nll = mean(s.nll);
      return {
        name,
        files: files.length,
        nll,
        klDivergence: mean(s.kl),
        bytesPerToken,
        compressionRatio: bytesPerToken ? fp16 / bytesPerToken : 0,
        keptRatio: s.tokens ? s.kept / s.tokens : 0,
        farContextGainRetained: none ? (mean(none.nll) - nll) / (mean(none.nll) - mean(fullNll)) : null,
      };
    }),
  };
}
