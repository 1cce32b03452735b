/**
 * `--quality REPO`: fidelity of the KIVI and fused layouts on a real repository, by the long-file protocol of
 * src/eval/long-file.ts — NLL and KL vs full precision, and the reconstruction error of keys and values.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CacheConfig } from '../../src/cache/cache-config';
import { assembleFusedBlock } from '../../src/cache/fused/block';
import { dequantizeFusedKeys, dequantizeFusedValues } from '../../src/cache/fused/quantize';
import { compressSegmentFused, type FusedQuantConfig } from '../../src/cache/fused/segment';
import { calibrateKeySmoothing, KeySmoothing } from '../../src/cache/fused/smoothing';
import { dequantizeKeys, dequantizeValues, relativeError } from '../../src/cache/quantize';
import { type QueryContext, targetLogits } from '../../src/cache/query-context';
import { CacheRuntime } from '../../src/cache/runtime';
import { compressSegment, gatherHead, type ScoredSegment } from '../../src/cache/segment-prefill';
import { segmentBytes } from '../../src/cache/segment-kv';
import { DecoderSession } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { resolveConfig } from '../../src/eval/configs';
import { klDivergence, mean, nllFromLogits } from '../../src/eval/metrics';
import { scanWorkspace } from '../../src/syntax';
import { fusedSession } from './sessions';

export interface QualityOptions {
  /** Named eval configurations (src/eval/configs.ts) measured in both layouts, e.g. q2, q2-evict50. */
  configs: string[];
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  maxFiles: number;
  keyBlock: number;
  valueBlock: number;
  /** Fused-layout variants: key centering on or off and the smoothing strength α (0 = none). */
  fusedVariants: FusedVariant[];
  base: CacheConfig;
  log?: (line: string) => void;
}

export interface QualityRow {
  name: string;
  layout: 'kivi' | 'fused';
  /** The fused variant (`center α=0.5`, ...), '-' for KIVI. */
  variant: string;
  files: number;
  nll: number;
  klDivergence: number;
  bytesPerToken: number;
  /** Mean over files and heads of the relative Frobenius error per layer (keys in the original space). */
  keyError: number[];
  valueError: number[];
}

export interface QualityReport {
  repo: string;
  files: number;
  fullNll: number;
  rows: QualityRow[];
}

export interface FusedVariant {
  centerKeys: boolean;
  alpha: number;
}

/** `center:0.5,raw:0` → variants. */
export function parseFusedVariants(list: string): FusedVariant[] {
  return list.split(',').map((item) => {
    const [mode, alpha] = item.split(':');
    if ((mode !== 'center' && mode !== 'raw') || !(Number(alpha) >= 0)) {
      throw new Error(`fused variant "${item}": expected center:α or raw:α`);
    }
    return { centerKeys: mode === 'center', alpha: Number(alpha) };
  });
}

const variantLabel = (v: FusedVariant) => `${v.centerKeys ? 'center' : 'raw'} α=${v.alpha}`;

export async function measureLayoutQuality(engine: Engine, repo: string, opts: QualityOptions): Promise<QualityReport> {
  const { numLayers, numKvHeads: KV, headDim: d, vocabSize } = engine.config;
  const log = opts.log ?? (() => {});
  const runtime = await CacheRuntime.create(engine, opts.base, path.basename(repo));
  const smoothings = new Map<string, KeySmoothing>();
  for (const v of opts.fusedVariants) {
    const centerGroup = v.centerKeys ? opts.valueBlock : 0;
    smoothings.set(
      variantLabel(v),
      v.alpha === 0
        ? KeySmoothing.identity(numLayers, KV, d)
        : await calibrateKeySmoothing(engine.session, runtime.sink, (t) => engine.encode(t), v.alpha, centerGroup),
    );
  }
  const full = runtime.derive(resolveConfig('full', opts.base)!.config);
  const named = opts.configs.map((name) => ({ name, runtime: runtime.derive(resolveConfig(name, opts.base)!.config) }));
  const fusedSessions = new Map<string, DecoderSession>();
  const scan = await scanWorkspace(repo);
  const need = opts.prefixTokens + opts.targetTokens;
  type Acc = { row: QualityRow; nll: number[]; kl: number[]; bytes: number; tokens: number; errCount: number };
  const acc = new Map<string, Acc>();
  const accOf = (name: string, layout: 'kivi' | 'fused', variant: string): Acc => {
    const key = `${name}/${layout}/${variant}`;
    if (!acc.has(key)) {
      acc.set(key, {
        row: {
          name,
          layout,
          variant,
          files: 0,
          nll: 0,
          klDivergence: 0,
          bytesPerToken: 0,
          keyError: Array(numLayers).fill(0),
          valueError: Array(numLayers).fill(0),
        },
        nll: [],
        kl: [],
        bytes: 0,
        tokens: 0,
        errCount: 0,
      });
    }
    return acc.get(key)!;
  };
  const fullNll: number[] = [];
  let files = 0;
  try {
    for (const f of [...scan.files].sort((a, b) => a.path.localeCompare(b.path))) {
      if (files >= opts.maxFiles) break;
      const header = engine.encode(runtime.fileHeader(f.path));
      const ids = [...header, ...engine.encode(fs.readFileSync(f.absPath, 'utf8'))];
      if (ids.length < need) continue;
      files++;
      log(`quality ${files}: ${f.path}`);
      const cached = ids.slice(0, opts.prefixTokens - opts.localTokens);
      const local = ids.slice(opts.prefixTokens - opts.localTokens, opts.prefixTokens);
      const target = ids.slice(opts.prefixTokens, need);
      const scored = await runtime.scoreInput({ ids: cached, headerTokens: header.length });
      const logitsOf = (ctx: QueryContext) => targetLogits(ctx, local, target);
      const fullLogits = await logitsOf(await full.queryContext([compressSegment(scored, full.config, full.keyBits)]));
      fullNll.push(mean(nllFromLogits(fullLogits, vocabSize, target)));
      const record = (a: Acc, logits: Float32Array, bytes: number) => {
        a.nll.push(mean(nllFromLogits(logits, vocabSize, target)));
        a.kl.push(mean(klDivergence(fullLogits, logits, vocabSize, target.length)));
        a.bytes += bytes;
        a.tokens += cached.length;
      };
      for (const { name, runtime: rt } of named) {
        const kv = compressSegment(scored, rt.config, rt.keyBits);
        const kiviAcc = accOf(name, 'kivi', '-');
        record(kiviAcc, await logitsOf(await rt.queryContext([kv])), segmentBytes(kv));
        addErrors(
          kiviAcc,
          scored,
          kv.layers.map((heads) => heads.map((hd) => hd.kept)),
          (l, h) => ({
            keys: dequantizeKeys(kv.layers[l]![h]!.keys),
            values: dequantizeValues(kv.layers[l]![h]!.values),
          }),
        );
        for (const v of opts.fusedVariants) {
          const smoothing = smoothings.get(variantLabel(v))!;
          const quant: FusedQuantConfig = {
            keyBits: rt.keyBits,
            valueBits: rt.config.vBits,
            keyBlock: opts.keyBlock,
            valueBlock: opts.valueBlock,
            centerKeys: v.centerKeys,
          };
          const fseg = compressSegmentFused(scored, rt.config, quant, smoothing);
          const block = assembleFusedBlock([fseg], { numLayers, numKvHeads: KV, headDim: d, ...quant }, smoothing, {
            apeScale: rt.config.apeScale,
          });
          const key = JSON.stringify([quant, block.capacity]);
          if (!fusedSessions.has(key)) fusedSessions.set(key, await fusedSession(engine, quant, block.capacity));
          const ctx: QueryContext = {
            session: fusedSessions.get(key)!,
            sink: runtime.sink,
            block,
            firstPosition: runtime.sink.length + scored.shape.tokens,
            apeTemperature: rt.config.apeTemperature,
          };
          const fusedAcc = accOf(name, 'fused', variantLabel(v));
          record(fusedAcc, await logitsOf(ctx), segmentBytes(fseg));
          addErrors(
            fusedAcc,
            scored,
            fseg.layers.map((heads) => heads.map((hd) => hd.kept)),
            (l, h) => ({
              keys: dequantizeFusedKeys(fseg.layers[l]![h]!.keys, smoothing.forHead(l, h)),
              values: dequantizeFusedValues(fseg.layers[l]![h]!.values),
            }),
          );
        }
      }
    }
  } finally {
    for (const s of fusedSessions.values()) await s.release();
    // Derived runtimes share the base's scoring session: release only their own compressed sessions.
    for (const rt of [...named.map((n) => n.runtime), full]) await (await rt.compressedSession()).release();
    await runtime.dispose();
  }
  if (files === 0) throw new Error(`no file in ${repo} has ${need} tokens`);
  const rows = [...acc.values()].map((a) => ({
    ...a.row,
    files,
    nll: mean(a.nll),
    klDivergence: mean(a.kl),
    bytesPerToken: a.bytes / a.tokens,
    keyError: a.row.keyError.map((e) => e / a.errCount),
    valueError: a.row.valueError.map((e) => e / a.errCount),
  }));
  return { repo: path.basename(repo), files, fullNll: mean(fullNll), rows };

  function addErrors(
    a: Acc,
    scored: ScoredSegment,
    kept: Uint16Array[][],
    dequantized: (l: number, h: number) => { keys: Float32Array; values: Float32Array },
  ): void {
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < KV; h++) {
        const idx = kept[l]![h]!;
        const deq = dequantized(l, h);
        a.row.keyError[l]! += relativeError(gatherHead(scored.rawKeys[l]!, idx, h, KV, d), deq.keys) / KV;
        a.row.valueError[l]! += relativeError(gatherHead(scored.rawValues[l]!, idx, h, KV, d), deq.values) / KV;
      }
    }
    a.errCount++;
  }
}

export function printQualityTable(q: QualityReport): void {
  console.log(`\nlayout fidelity on ${q.repo}: ${q.files} files, full-precision NLL ${q.fullNll.toFixed(4)}\n`);
  console.log(
    '| config | layout | variant | NLL | KL vs full | bytes/token | key error per layer | value error per layer |',
  );
  console.log('|---|---|---:|---:|---:|---:|---|---|');
  for (const r of q.rows) {
    const errs = (e: number[]) => e.map((x) => x.toFixed(3)).join(' ');
    console.log(
      `| ${r.name} | ${r.layout} | ${r.variant} | ${r.nll.toFixed(4)} | ${r.klDivergence.toFixed(4)} | ` +
        `${r.bytesPerToken.toFixed(1)} | ${errs(r.keyError)} | ${errs(r.valueError)} |`,
    );
  }
}
