/**
 * Decode-step time with the repository context held three ways, measured in one run:
 *   plain  — the engine's full-precision plain past (PlainKvCache of sink + N tokens, float32);
 *   kivi   — the compressed block, KIVI layout, dequantized in-graph per layer (kernels/dequantize.ts);
 *   fused  — the compressed block in MatMulNBits layout (kernels/fused-attention.ts).
 * Keys and values are random and quantized with the real quantizers (blocks.ts). The machine is shared and noisy:
 * the variants run interleaved, a short burst of consecutive steps each per round (timing.ts), and every ratio is
 * the median of per-round ratios.
 */
import { assembleFusedBlock } from '../../src/cache/fused/block';
import { segmentBytes } from '../../src/cache/segment-kv';
import { Engine } from '../../src/engine/engine';
import { median } from '../stats';
import { fusedQuant, kiviBlock, plainPast, SINK_TOKENS, syntheticSegments } from './blocks';
import { type DecodeCacheOptions } from './options';
import { apeFeed, fusedSession, kiviSession } from './sessions';
import { fmtMs, interleavedBursts, medianRatio } from './timing';

export const VARIANTS = ['plain', 'kivi', 'fused'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface DecodeCacheRow {
  contextTokens: number;
  /** Median decode-step milliseconds per variant. */
  ms: Record<Variant, number>;
  /** Medians of per-round ratios. */
  kiviVsPlain: number;
  fusedVsPlain: number;
  fusedVsKivi: number;
  /** Bytes the context occupies as graph inputs: float32 past, KIVI block, fused block (float32 statistics). */
  bytes: Record<Variant, number>;
  /** Bytes stored per original token (codes + fp16 statistics; plain: fp16 reference). */
  storedBytesPerToken: Record<Variant, number>;
  fusedCapacity: number;
}

export async function measureDecodeCache(engine: Engine, opts: DecodeCacheOptions): Promise<DecodeCacheRow[]> {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const log = opts.log ?? (() => {});
  const kivi = await kiviSession(engine, opts);
  const sink = plainPast(engine, SINK_TOKENS);
  const rows: DecodeCacheRow[] = [];
  for (const n of opts.contexts) {
    log(`context ${n}: quantizing synthetic segments`);
    const ctx = syntheticSegments(engine, n, opts);
    const kiviContext = kiviBlock(engine, ctx, opts);
    const quant = fusedQuant(Array(numLayers).fill(opts.bits), opts);
    const fusedBlock = assembleFusedBlock(
      ctx.fused,
      { numLayers, numKvHeads: KV, headDim: d, ...quant },
      ctx.smoothing,
    );
    log(`context ${n}: building the fused graph for capacity ${fusedBlock.capacity[0]}`);
    const fused = await fusedSession(engine, quant, fusedBlock.capacity, opts.threads);
    const plain = plainPast(engine, SINK_TOKENS + n);
    const firstPosition = SINK_TOKENS + opts.segmentTokens;
    const step: Record<Variant, () => Promise<unknown>> = {
      plain: () => engine.session.forward({ ids: [42], positions: [plain.length], past: plain, logitIndex: [0] }),
      kivi: () =>
        kivi.forward({
          ids: [42],
          positions: [firstPosition],
          past: sink,
          logitIndex: [0],
          extraFeeds: { ...kiviContext.feeds, ...apeFeed() },
        }),
      fused: () =>
        fused.forward({
          ids: [42],
          positions: [firstPosition],
          past: sink,
          logitIndex: [0],
          extraFeeds: { ...fusedBlock.feeds, ...apeFeed() },
        }),
    };
    for (const v of VARIANTS) for (let i = 0; i < 2; i++) await step[v](); // warm-up
    const byVariant = await interleavedBursts(
      VARIANTS.map((v) => [v, step[v]] as const),
      opts.steps,
      opts.burst,
    );
    const times = Object.fromEntries(byVariant) as Record<Variant, number[]>;
    await fused.release();
    const ratio = (a: Variant, b: Variant) => medianRatio(times[a], times[b]);
    const tokensStored = ctx.kivi.length * opts.segmentTokens;
    const stored = (bytes: number) => bytes / tokensStored;
    const kiviStored = ctx.kivi.reduce((s, seg) => s + segmentBytes(seg), 0);
    const fusedStored = ctx.fused.reduce((s, seg) => s + segmentBytes(seg), 0);
    rows.push({
      contextTokens: n,
      ms: { plain: median(times.plain), kivi: median(times.kivi), fused: median(times.fused) },
      kiviVsPlain: ratio('kivi', 'plain'),
      fusedVsPlain: ratio('fused', 'plain'),
      fusedVsKivi: ratio('fused', 'kivi'),
      bytes: { plain: plain.bytes, kivi: kiviContext.bytes, fused: fusedBlock.bytes },
      storedBytesPerToken: {
        plain: 2 * numLayers * KV * d * 2,
        kivi: stored(kiviStored),
        fused: stored(fusedStored),
      },
      fusedCapacity: fusedBlock.capacity[0]!,
    });
    log(`context ${n}: ${JSON.stringify(rows[rows.length - 1]!.ms)}`);
  }
  await kivi.release();
  return rows;
}

/** The machine the rounds ran on, printed in the table's heading. */
export interface MachineNote {
  /** 0 = onnxruntime's default. */
  threads: number;
  cpus: number;
  load: number[];
}

export function printDecodeCacheTable(rows: DecodeCacheRow[], opts: DecodeCacheOptions, machine: MachineNote): void {
  console.log(
    `decode step, ${opts.bits}-bit blocks (KIVI group ${opts.groupSize}; fused key block ${opts.keyBlock} ` +
      `channels, value block ${opts.valueBlock} tokens); medians of ${opts.steps} interleaved rounds ` +
      `of ${opts.burst} steps per variant (first not counted), ` +
      `${machine.cpus} CPUs, ${machine.threads || 'default'} intra-op threads, load average ` +
      `${machine.load.map((x) => x.toFixed(1)).join(' ')} at the end of the decode rounds\n`,
  );
  console.log(
    '| context | plain ms | KIVI ms | fused ms | KIVI ÷ plain | fused ÷ plain | fused ÷ KIVI | stored B/token plain·KIVI·fused |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const s = r.storedBytesPerToken;
    console.log(
      `| ${r.contextTokens} | ${fmtMs(r.ms.plain)} | ${fmtMs(r.ms.kivi)} | ${fmtMs(r.ms.fused)} | ` +
        `${r.kiviVsPlain.toFixed(2)} | ${r.fusedVsPlain.toFixed(2)} | ${r.fusedVsKivi.toFixed(2)} | ` +
        `${s.plain} · ${s.kivi.toFixed(1)} · ${s.fused.toFixed(1)} |`,
    );
  }
}
