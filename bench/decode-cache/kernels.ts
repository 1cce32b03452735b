/**
 * `--kernels`: one layer's attention over the block, KIVI graph rewrites side by side with the float32 reference
 * and the fused layout (task: make the unfused path faster), timed interleaved like the decode steps.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { assembleFusedBlock, type FusedRepositoryBlock } from '../../src/cache/fused/block';
import { dequantizeKeys, dequantizeValues, relativeError } from '../../src/cache/quantize';
import { syntheticBlock } from '../../src/cache/quantize/synthetic';
import { type RepositoryBlock } from '../../src/cache/repository-block';
import { Engine } from '../../src/engine/engine';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import { median } from '../stats';
import { fusedQuant, kiviBlock, syntheticSegments } from './blocks';
import { blockKernelGraph, KERNEL_VARIANTS, type KernelVariant } from './kernel-graph';
import { type DecodeCacheOptions } from './options';
import { fmtMs, interleavedBursts, medianRatio } from './timing';

export interface KernelRow {
  contextTokens: number;
  ms: Record<KernelVariant, number>;
  /** Median per-round ratio to `fp32-raw` (the same attention over float32 keys/values). */
  vsRaw: Record<KernelVariant, number>;
}

function kernelFeeds(
  variant: KernelVariant,
  kivi: RepositoryBlock,
  fused: FusedRepositoryBlock,
  raw: { keys: Float32Array; values: Float32Array },
  dims: { KV: number; G: number; d: number; sc: number },
): Record<string, ort.Tensor> {
  const { KV, G, d, sc } = dims;
  const feeds: Record<string, ort.Tensor> = {
    queries: new ort.Tensor('float32', syntheticBlock(KV * G, d, 5), [KV, G, 1, d]),
    bias: new ort.Tensor('float32', new Float32Array(KV * sc), [KV, 1, 1, sc]),
  };
  const f = kivi.feeds;
  if (variant === 'fp32-raw') {
    feeds.keys = new ort.Tensor('float32', raw.keys, [KV, sc, d]);
    feeds.values = new ort.Tensor('float32', raw.values, [KV, sc, d]);
  } else if (variant === 'fused-nbits') {
    for (const [name, t] of Object.entries(fused.feeds)) if (name.split('.')[1] === '0') feeds[name] = t;
  } else {
    const asF32 = variant !== 'kivi-current' && variant !== 'kivi-bitshift';
    const stat = (t: ort.Tensor) =>
      asF32 ? new ort.Tensor('float32', Float32Array.from(t.data as Uint16Array, f16BitsToF32), t.dims as number[]) : t;
    feeds.key_codes = f['compressed_key_codes.0']!;
    feeds.value_codes = f['compressed_value_codes.0']!;
    feeds.key_min = stat(f['compressed_key_min.0']!);
    feeds.key_scale = stat(f['compressed_key_scale.0']!);
    feeds.value_min = stat(f['compressed_value_min.0']!);
    feeds.value_scale = stat(f['compressed_value_scale.0']!);
  }
  return feeds;
}

export async function measureBlockKernels(
  engine: Engine,
  opts: DecodeCacheOptions & { variants?: KernelVariant[] },
): Promise<KernelRow[]> {
  const { numLayers, numKvHeads: KV, headDim: d, numHeads } = engine.config;
  const G = numHeads / KV;
  const variants = opts.variants ?? [...KERNEL_VARIANTS];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-block-kernels-'));
  const rows: KernelRow[] = [];
  try {
    for (const n of opts.contexts) {
      const ctx = syntheticSegments(engine, n, opts);
      const kivi = kiviBlock(engine, ctx, opts);
      const quant = fusedQuant(Array(numLayers).fill(opts.bits), opts);
      const fused = assembleFusedBlock(ctx.fused, { numLayers, numKvHeads: KV, headDim: d, ...quant }, ctx.smoothing, {
        capacity: Array(numLayers).fill(n),
      });
      const raw = { keys: new Float32Array(KV * n * d), values: new Float32Array(KV * n * d) };
      ctx.kivi.forEach((seg, s) => {
        for (let h = 0; h < KV; h++) {
          raw.keys.set(dequantizeKeys(seg.layers[0]![h]!.keys), (h * n + s * opts.segmentTokens) * d);
          raw.values.set(dequantizeValues(seg.layers[0]![h]!.values), (h * n + s * opts.segmentTokens) * d);
        }
      });
      const dims = {
        KV,
        G,
        d,
        sc: n,
        bits: opts.bits,
        group: opts.groupSize,
        layout: {
          keyBits: quant.keyBits,
          valueBits: quant.keyBits.map(() => quant.valueBits),
          keyBlock: quant.keyBlock,
          valueBlock: quant.valueBlock,
          capacity: fused.capacity,
          centerKeys: quant.centerKeys,
        },
      };
      const runs: { v: KernelVariant; session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }[] = [];
      for (const v of variants) {
        const vdir = path.join(dir, `${v}-${n}`);
        blockKernelGraph(v, dims).save(vdir, {});
        const session = await ort.InferenceSession.create(path.join(vdir, 'model.onnx'), {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
        });
        runs.push({ v, session, feeds: kernelFeeds(v, kivi, fused, raw, dims) });
      }
      // Every variant must compute the same context (up to the two layouts' different quantization).
      const outputs = new Map<KernelVariant, Float32Array>();
      for (const r of runs) outputs.set(r.v, (await r.session.run(r.feeds)).context!.data as Float32Array);
      const ref = outputs.get('kivi-current') ?? outputs.values().next().value!;
      for (const [v, out] of outputs) {
        if (v === 'fused-nbits' || v === 'fp32-raw') continue;
        const err = relativeError(ref, out);
        if (err > 1e-4) throw new Error(`block kernel ${v} disagrees with kivi-current (relative error ${err})`);
      }
      const times = await interleavedBursts(
        runs.map((r) => [r.v, () => r.session.run(r.feeds)] as const),
        opts.steps,
        opts.burst,
      );
      for (const r of runs) await r.session.release();
      const base = times.get('fp32-raw');
      rows.push({
        contextTokens: n,
        ms: Object.fromEntries(variants.map((v) => [v, median(times.get(v)!)])) as Record<KernelVariant, number>,
        vsRaw: Object.fromEntries(variants.map((v) => [v, base ? medianRatio(times.get(v)!, base) : NaN])) as Record<
          KernelVariant,
          number
        >,
      });
      opts.log?.(`block kernels ${n}: ${JSON.stringify(rows[rows.length - 1]!.ms)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function printKernelTable(kernels: KernelRow[]): void {
  const vs = kernels[0] ? (Object.keys(kernels[0].ms) as KernelVariant[]) : [];
  console.log(`\none layer's block attention (decode step), ms (÷ fp32-raw)\n`);
  console.log(`| context | ${vs.join(' | ')} |`);
  console.log(`|---:|${vs.map(() => '---:').join('|')}|`);
  for (const r of kernels) {
    console.log(
      `| ${r.contextTokens} | ${vs.map((v) => `${fmtMs(r.ms[v])} (${r.vsRaw[v].toFixed(2)})`).join(' | ')} |`,
    );
  }
}
