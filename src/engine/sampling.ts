/** Next-token choice: greedy, or temperature + nucleus (top-p) sampling from a seeded generator. */

export interface SamplingOptions {
  /** 0 (or below) = greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = no truncation. */
  topP: number;
  seed: number;
}

/** mulberry32: tiny, fast, and good enough to make sampled generations reproducible for a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export class Sampler {
  private readonly random: () => number;

  constructor(private readonly options: SamplingOptions) {
    this.random = seededRandom(options.seed);
  }

  next(logits: Float32Array): number {
    const { temperature, topP } = this.options;
    if (!(temperature > 0)) return argmax(logits);
    let max = -Infinity;
    for (const v of logits) if (v > max) max = v;
    const probs = new Float64Array(logits.length);
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      probs[i] = Math.exp((logits[i]! - max) / temperature);
      sum += probs[i]!;
    }
    const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
    // Keep the smallest prefix of the sorted distribution whose mass reaches topP (always at least one token).
    let kept = 0;
    let mass = 0;
    while (kept < order.length && (kept === 0 || mass / sum < topP)) mass += probs[order[kept++]!]!;
    let r = this.random() * mass;
    for (let k = 0; k < kept; k++) {
      r -= probs[order[k]!]!;
      if (r <= 0) return order[k]!;
    }
    return order[kept - 1]!;
  }
}
