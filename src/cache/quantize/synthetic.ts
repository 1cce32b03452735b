/**
 * Deterministic synthetic KV blocks for the quantization tests and benchmarks: a seeded generator (so a failure
 * reproduces) and a key-like block with the features that stress a quantizer — Gaussian bulk, a few outlier
 * channels with large offsets (Qwen2's key biases reach 50–200) and constant channels (zero spread).
 */
import { seededRandom } from '../../engine/sampling';

/** Uniforms in [0, 1) from the engine's seeded generator (mulberry32), so a failure reproduces by its seed. */
export const seededUniform: (seed: number) => () => number = seededRandom;

/** Standard normal samples by Box–Muller over `seededUniform`. */
export function seededNormal(seed: number): () => number {
  const u = seededUniform(seed);
  return () => {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    return r * Math.cos(2 * Math.PI * u());
  };
}

export interface SyntheticBlockOptions {
  /** Channels given a large offset (sign alternates) of magnitude 50–200 and a spread of a few units. */
  outlierChannels?: number[];
  /** Channels holding one constant value over all tokens, as [channel, value] pairs. */
  constantChannels?: [number, number][];
  /** Standard deviation of the Gaussian bulk. */
  sigma?: number;
}

/** A token-major block of `tokens` × `d` values. */
export function syntheticBlock(
  tokens: number,
  d: number,
  seed: number,
  opts: SyntheticBlockOptions = {},
): Float32Array {
  const normal = seededNormal(seed);
  const u = seededUniform(seed ^ 0x9e3779b9);
  const sigma = opts.sigma ?? 1;
  const out = new Float32Array(tokens * d);
  for (let i = 0; i < out.length; i++) out[i] = sigma * normal();
  (opts.outlierChannels ?? []).forEach((c, k) => {
    const offset = (k % 2 === 0 ? 1 : -1) * (50 + 150 * u());
    const spread = 1 + 4 * u();
    for (let t = 0; t < tokens; t++) out[t * d + c] = offset + spread * normal();
  });
  for (const [c, value] of opts.constantChannels ?? []) {
    for (let t = 0; t < tokens; t++) out[t * d + c] = value;
  }
  return out;
}
