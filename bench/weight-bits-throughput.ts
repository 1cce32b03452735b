/**
 * `bench engine --weight-bits 32,4`: throughput of several weight precisions of one checkpoint, interleaved run by
 * run (all engines loaded first, then run r measures each in turn, odd runs in reverse order) so that a machine
 * whose load drifts during the benchmark affects every precision alike. Each row is the median over runs;
 * `decodeSpeedupVsExact` is the median of the per-run ratios to the exact weights' decode tokens/s measured in the
 * same run. With `--operators onnx,contrib`
 * each weight variant runs with both operator sets, and `prefillVsOnnx` / `decodeVsOnnx` are the medians of the
 * per-run ratios of the contrib rows to the onnx rows of the same weights.
 */
import type { OperatorSet } from '../kernels/decoder-ops';
import type { WeightBits } from '../kernels/weight-quant';
import type { Engine } from '../src/engine/engine';
import { measureEngineThroughput, type ThroughputRow } from './engine-throughput';
import type { MatMulProbe } from './matmul-throughput';
import { median } from './stats';

export interface WeightVariant {
  weightBits: WeightBits;
  /** MatMulNBits accuracy level; absent for exact weights. */
  accuracyLevel?: 0 | 4;
  /** Forced operator set; absent: the engine's rule (src/engine/graph-operators.ts). */
  operators?: OperatorSet;
}

export type WeightBitsRow = ThroughputRow &
  WeightVariant & {
    provider: string;
    runs: number;
    decodeSpeedupVsExact?: number;
    prefillVsOnnx?: number;
    decodeVsOnnx?: number;
  };

export async function measureWeightVariants(
  variants: WeightVariant[],
  load: (v: WeightVariant) => Promise<Engine>,
  probe: MatMulProbe,
  contexts: number[],
  runs: number,
  chunk: number,
): Promise<WeightBitsRow[]> {
  const engines: Engine[] = [];
  try {
    for (const v of variants) engines.push(await load(v));
    // perRun[run][variant][context]
    const perRun: ThroughputRow[][][] = [];
    for (let run = 0; run < runs; run++) {
      const rows: ThroughputRow[][] = [];
      // Odd runs go through the variants backwards, so that none is always measured first (or after another).
      const order = engines.map((_, i) => (run % 2 ? engines.length - 1 - i : i));
      for (const vi of order) rows[vi] = await measureEngineThroughput(engines[vi]!, probe, contexts, 1, 16, chunk);
      perRun.push(rows);
    }
    const operatorsOf = (vi: number) => engines[vi]!.session.variant.operators ?? 'onnx';
    const exact = variants.findIndex((v, vi) => v.weightBits === 32 && operatorsOf(vi) === 'onnx');
    const out: WeightBitsRow[] = [];
    variants.forEach((v, vi) => {
      const sameWeights = (wi: number) =>
        variants[wi]!.weightBits === v.weightBits && variants[wi]!.accuracyLevel === v.accuracyLevel;
      const onnx = variants.findIndex((_, wi) => sameWeights(wi) && operatorsOf(wi) === 'onnx');
      contexts.forEach((_, ci) => {
        const runsOf = perRun.map((r) => r[vi]![ci]!);
        const med = (f: (r: ThroughputRow) => number) => median(runsOf.map(f));
        const vsOnnx = (f: (r: ThroughputRow) => number) =>
          median(perRun.map((r) => f(r[vi]![ci]!) / f(r[onnx]![ci]!)));
        out.push({
          ...v,
          operators: operatorsOf(vi),
          provider: engines[vi]!.session.provider,
          runs,
          contextTokens: runsOf[0]!.contextTokens,
          prefillTokensPerSec: med((r) => r.prefillTokensPerSec),
          prefillGflops: med((r) => r.prefillGflops),
          prefillVsMatMul: med((r) => r.prefillVsMatMul),
          decodeTokensPerSec: med((r) => r.decodeTokensPerSec),
          decodeGflops: med((r) => r.decodeGflops),
          decodeVsMatMul: med((r) => r.decodeVsMatMul),
          matmulGflops: med((r) => r.matmulGflops),
          ...(exact >= 0
            ? {
                decodeSpeedupVsExact: median(
                  perRun.map((r) => r[vi]![ci]!.decodeTokensPerSec / r[exact]![ci]!.decodeTokensPerSec),
                ),
              }
            : {}),
          ...(onnx >= 0 && onnx !== vi
            ? { prefillVsOnnx: vsOnnx((r) => r.prefillTokensPerSec), decodeVsOnnx: vsOnnx((r) => r.decodeTokensPerSec) }
            : {}),
        });
      });
    });
    return out;
  } finally {
    for (const e of engines) await e.dispose();
  }
}
