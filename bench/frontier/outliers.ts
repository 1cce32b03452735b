/**
 * `bench kv-outliers`: where the 2-bit step's error comes from, as statistics of the keys and values a repository
 * cache quantizes. Per layer, over a few segments of real files scored after the sink:
 *   channel ratio — max over channels of a channel's max |x| ÷ the median channel's (outlier channels);
 *   token ratio   — max over tokens of a token's max |x| ÷ the median token's (outlier tokens);
 * for keys after rotary (raw, and centered per 64-token block as the fused layout stores them, and that again
 * Hadamard-rotated), keys before rotary, and values (raw and rotated). Medians over segments and kv heads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { centeredSmoothed, keyCenters } from '../../src/cache/fused/quantize';
import { rotateRows } from '../../src/cache/fused/rotation';
import { RepositoryCache } from '../../src/cache/repository-cache';
import { gatherHead } from '../../src/cache/segment-prefill';
import type { Engine } from '../../src/engine/engine';
import { median } from '../stats';

export interface OutlierRow {
  layer: number;
  /** Name of the tensor → [channel ratio, token ratio]. */
  ratios: Record<string, [number, number]>;
}

function ratios(x: Float32Array, tokens: number, d: number): [number, number] {
  const chan = new Float64Array(d);
  const tok = new Float64Array(tokens);
  for (let t = 0; t < tokens; t++) {
    for (let c = 0; c < d; c++) {
      const a = Math.abs(x[t * d + c]!);
      if (a > chan[c]!) chan[c] = a;
      if (a > tok[t]!) tok[t] = a;
    }
  }
  const ratio = (v: Float64Array) => Math.max(...v) / Math.max(1e-12, median(Array.from(v)));
  return [ratio(chan), ratio(tok)];
}

/** Text chunks of about `chars` characters from the first `files` source files under `root`. */
function sampleTexts(root: string, files: number, chars: number): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (out.length >= files) return;
      const full = path.join(dir, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|py)$/.test(name)) {
        const text = fs.readFileSync(full, 'utf8');
        if (text.length > chars) out.push({ path: path.relative(root, full), text: text.slice(0, chars) });
      }
    }
  };
  walk(root);
  return out;
}

export async function kvOutliers(engine: Engine, roots: string[], filesPerRepo: number): Promise<OutlierRow[]> {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const acc = Array.from({ length: numLayers }, () => new Map<string, [number[], number[]]>());
  const push = (l: number, name: string, r: [number, number]) => {
    const m = acc[l]!;
    if (!m.has(name)) m.set(name, [[], []]);
    m.get(name)![0].push(r[0]);
    m.get(name)![1].push(r[1]);
  };
  for (const root of roots) {
    const cache = await RepositoryCache.open({ root, engine, config: DEFAULT_CACHE_CONFIG, store: null });
    try {
      const runtime = cache.runtime;
      const one = new Float32Array(d).fill(1);
      for (const source of sampleTexts(root, filesPerRepo, 3000)) {
        const scored = await runtime.score(source);
        const n = scored.shape.tokens;
        const all = Array.from({ length: n }, (_, i) => i);
        for (let l = 0; l < numLayers; l++) {
          for (let h = 0; h < KV; h++) {
            const keys = gatherHead(scored.rawKeys[l]!, all, h, KV, d);
            const centered = centeredSmoothed(keys, n, d, one, 64, keyCenters(keys, n, d, 64));
            const values = gatherHead(scored.rawValues[l]!, all, h, KV, d);
            push(l, 'keys', ratios(keys, n, d));
            push(l, 'keys pre-rotary', ratios(gatherHead(scored.rawKeysPreRope[l]!, all, h, KV, d), n, d));
            push(l, 'keys centered', ratios(centered, n, d));
            push(l, 'keys centered, rotated', ratios(rotateRows(centered, n, d), n, d));
            push(l, 'values', ratios(values, n, d));
            push(l, 'values rotated', ratios(rotateRows(values, n, d), n, d));
          }
        }
      }
    } finally {
      await cache.dispose();
    }
  }
  return acc.map((m, layer) => ({
    layer,
    ratios: Object.fromEntries([...m].map(([name, [c, t]]) => [name, [median(c), median(t)] as [number, number]])),
  }));
}

export function outlierTable(rows: OutlierRow[]): string {
  const names = Object.keys(rows[0]?.ratios ?? {});
  const lines = [
    `| layer | ${names.map((n) => `${n}: channel / token`).join(' | ')} |`,
    `|---:|${names.map(() => '---:|').join('')}`,
  ];
  for (const r of rows) {
    lines.push(`| ${r.layer} | ${names.map((n) => r.ratios[n]!.map((x) => x.toFixed(1)).join(' / ')).join(' | ')} |`);
  }
  return lines.join('\n');
}
