/**
 * The key smoothing vector of the fused layout (SmoothAttention, QServe arXiv 2405.04532): per layer, kv head and
 * channel, s_c = max_t |k_tc|^α, rounded to a power of two. Keys are stored divided by s and queries are
 * multiplied by it, so q·kᵀ is unchanged (exactly: powers of two scale floats without rounding) while the outlier
 * channels (Qwen2's key biases) no longer set the range of every token's per-token block.
 *
 * With centered keys (quantize.ts) it is measured on what gets quantized, the residuals k − μ: a channel's
 * constant offset is then the centers' business, and s only evens out the channels' spreads.
 *
 * It is a function of the model only: measured over the calibration corpus (calibration.ts's samples) prefilled
 * after the sink, so every index with the same model stores the same bytes.
 */
import type { DecoderSession } from '../../engine/decoder-session';
import { prefill } from '../../engine/generate';
import type { PlainKvCache } from '../../engine/kv-cache';
import { CALIBRATION_SAMPLES } from '../calibration';
import { centeredSmoothed, keyCenters } from './quantize';

/** SmoothAttention's migration strength for keys. */
export const DEFAULT_SMOOTHING_ALPHA = 0.5;

export class KeySmoothing {
  private constructor(
    /** [layer] → [KV·d] multipliers (query side); keys are divided by them. */
    readonly layers: Float32Array[],
    readonly kvHeads: number,
    readonly headDim: number,
  ) {}

  static identity(numLayers: number, kvHeads: number, headDim: number): KeySmoothing {
    return new KeySmoothing(
      Array.from({ length: numLayers }, () => new Float32Array(kvHeads * headDim).fill(1)),
      kvHeads,
      headDim,
    );
  }

  /** From per-layer max |k| [KV·d]: s = 2^round(α·log2 max), channels near zero left at 1. */
  static fromMaxAbs(maxAbs: Float32Array[], kvHeads: number, headDim: number, alpha: number): KeySmoothing {
    return new KeySmoothing(
      maxAbs.map((m) =>
        Float32Array.from(m, (x) => (x > 1e-6 && alpha > 0 ? 2 ** Math.round(alpha * Math.log2(x)) : 1)),
      ),
      kvHeads,
      headDim,
    );
  }

  /** Head h of layer l: [d]. */
  forHead(layer: number, head: number): Float32Array {
    return this.layers[layer]!.subarray(head * this.headDim, (head + 1) * this.headDim);
  }
}

/** Per-layer max |k| over token-major [n, KV, d] keys, accumulated into `into` ([KV·d] per layer). */
export function accumulateMaxAbs(into: Float32Array[], keys: Float32Array[], rowSize: number): void {
  keys.forEach((k, l) => {
    const m = into[l]!;
    for (let i = 0; i < k.length; i++) {
      const a = Math.abs(k[i]!);
      const c = i % rowSize;
      if (a > m[c]!) m[c] = a;
    }
  });
}

/** max |k − μ| per channel of one head's [n, d] keys, μ its fp16 means over groups of `centerGroup` tokens. */
export function residualMaxAbs(keys: Float32Array, n: number, d: number, centerGroup: number): Float32Array {
  const ones = new Float32Array(d).fill(1);
  const centers = centerGroup > 0 ? keyCenters(keys, n, d, centerGroup) : new Uint16Array(0);
  const residual = centeredSmoothed(keys, n, d, ones, centerGroup, centers);
  const m = new Float32Array(d);
  accumulateMaxAbs([m], [residual], d);
  return m;
}

export async function calibrateKeySmoothing(
  session: DecoderSession,
  sink: PlainKvCache,
  encode: (text: string) => number[],
  alpha = DEFAULT_SMOOTHING_ALPHA,
  /** The layout's center group (its value block), 0 when keys are not centered. */
  centerGroup = 0,
): Promise<KeySmoothing> {
  const { numLayers, numKvHeads: KV, headDim: d } = session.config;
  const maxAbs = Array.from({ length: numLayers }, () => new Float32Array(KV * d));
  for (const text of CALIBRATION_SAMPLES) {
    const ids = encode(text);
    const cache = sink.clone(ids.length);
    await prefill(session, cache, ids, { firstPosition: sink.length });
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < KV; h++) {
        const m = residualMaxAbs(cache.headKeys(l, h, sink.length), ids.length, d, centerGroup);
        accumulateMaxAbs([maxAbs[l]!.subarray(h * d, (h + 1) * d)], [m], d);
      }
    }
  }
  return KeySmoothing.fromMaxAbs(maxAbs, KV, d, alpha);
}
