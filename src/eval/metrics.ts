/**
 * Metrics of `repokv eval run` (DESIGN section 6): pure functions over predictions, logits and per-task
 * values. Log-probabilities are computed in float64 from float32 logits, with the max subtracted first, so that
 * large logits neither overflow nor lose the small differences the comparisons between configurations are about.
 */
import { seededRandom } from '../engine/sampling';

/** 1 when the prediction equals the ground truth up to trailing whitespace, else 0 (averages into a rate). */
export function exactMatch(prediction: string, truth: string): number {
  return prediction.trimEnd() === truth.trimEnd() ? 1 : 0;
}

/** Levenshtein distance over code points, two rows of O(min(n, m)) memory. */
export function levenshtein(a: string, b: string): number {
  let s = Array.from(a);
  let t = Array.from(b);
  if (s.length < t.length) [s, t] = [t, s];
  let prev = new Uint32Array(t.length + 1);
  let curr = new Uint32Array(t.length + 1);
  for (let j = 0; j <= t.length; j++) prev[j] = j;
  for (let i = 1; i <= s.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const substitution = prev[j - 1]! + (s[i - 1] === t[j - 1] ? 0 : 1);
      curr[j] = Math.min(substitution, prev[j]! + 1, curr[j - 1]! + 1);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[t.length]!;
}

/**
 * 1 − Levenshtein / max(length), in [0, 1]; 1 for two empty strings. Trailing whitespace is trimmed as in
 * `exactMatch`, so that an exact match always has similarity 1.
 */
export function editSimilarity(prediction: string, truth: string): number {
  const p = prediction.trimEnd();
  const t = truth.trimEnd();
  const longest = Math.max(Array.from(p).length, Array.from(t).length);
  return longest === 0 ? 1 : 1 - levenshtein(p, t) / longest;
}

/** log Σ exp(row), computed stably in float64. */
function logSumExp(logits: Float32Array, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]!);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i]! - max);
  return max + Math.log(sum);
}

function checkRows(logits: Float32Array, vocab: number, rows: number, what: string): void {
  if (!Number.isInteger(vocab) || vocab <= 0) throw new RangeError(`vocab must be a positive integer, got ${vocab}`);
  if (logits.length !== vocab * rows) {
    throw new RangeError(`${what} has ${logits.length} values, expected ${rows} rows × ${vocab} = ${rows * vocab}`);
  }
}

/**
 * Negative log-likelihood (nats) of each target under its row of logits: row i (`logits[i·vocab, (i+1)·vocab)`)
 * is the distribution that predicts `targets[i]`.
 */
export function nllFromLogits(logits: Float32Array, vocab: number, targets: readonly number[]): number[] {
  checkRows(logits, vocab, targets.length, 'logits');
  return targets.map((target, row) => {
    if (!Number.isInteger(target) || target < 0 || target >= vocab)
      throw new RangeError(`target ${target} at row ${row} is outside [0, ${vocab})`);
    const offset = row * vocab;
    return logSumExp(logits, offset, vocab) - logits[offset + target]!;
  });
}

/** KL(P ‖ Q) in nats for each row, P and Q given as logits (softmax taken here). */
export function klDivergence(pLogits: Float32Array, qLogits: Float32Array, vocab: number, rows: number): number[] {
  checkRows(pLogits, vocab, rows, 'pLogits');
  checkRows(qLogits, vocab, rows, 'qLogits');
  const out: number[] = [];
  for (let row = 0; row < rows; row++) {
    const offset = row * vocab;
    const lp = logSumExp(pLogits, offset, vocab);
    const lq = logSumExp(qLogits, offset, vocab);
    let kl = 0;
    for (let i = 0; i < vocab; i++) {
      const logP = pLogits[offset + i]! - lp;
      const p = Math.exp(logP);
      if (p === 0) continue; // 0 · log 0 = 0, also when Q masks the token
      kl += p * (logP - (qLogits[offset + i]! - lq));
    }
    // rounding can leave a tiny negative value for (almost) identical rows; KL is never negative
    out.push(Math.max(0, kl));
  }
  return out;
}

/** Which tokens overlap the character span [start, end) (token spans are half-open, in the same unit). */
export function overlapMask(
  tokenSpans: ReadonlyArray<readonly [number, number]>,
  start: number,
  end: number,
): boolean[] {
  return tokenSpans.map(([s, e]) => s < end && e > start);
}

/**
 * Identifier exact match from teacher-forced argmax correctness: 1 when every target token overlapping the
 * identifier span is the argmax of its row, else 0. Throws when no token overlaps (the span is outside the targets).
 */
export function identifierTokensCorrect(correct: readonly boolean[], overlapping: readonly boolean[]): number {
  if (correct.length !== overlapping.length)
    throw new RangeError(`${correct.length} correctness flags for ${overlapping.length} tokens`);
  if (!overlapping.some(Boolean)) throw new RangeError('no target token overlaps the identifier');
  return overlapping.every((o, i) => !o || correct[i]) ? 1 : 0;
}

/** Arithmetic mean; NaN for no values (JSON turns it into null rather than a made-up 0). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  resamples?: number;
  seed: number;
  /** Confidence level (default 0.95). */
  level?: number;
}

/** The q-quantile of sorted values, linearly interpolated. */
function quantile(sorted: Float64Array, q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** Percentile bootstrap confidence interval of the mean; the same seed gives the same interval. */
export function bootstrapCI(values: readonly number[], opts: BootstrapOptions): [number, number] {
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  if (values.length === 0) throw new RangeError('bootstrapCI needs at least one value');
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new RangeError(`resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const random = seededRandom(opts.seed);
  const n = values.length;
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[Math.floor(random() * n)]!;
    means[r] = sum / n;
  }
  means.sort();
  const tail = (1 - level) / 2;
  return [quantile(means, tail), quantile(means, 1 - tail)];
}

/**
 * Share of the repository context's benefit a configuration keeps: (none − config) / (none − full), 1 for the
 * full cache, 0 for no better than no context. NaN when the full cache gains nothing (the ratio is undefined);
 * read it together with `contextGain(...).significant`.
 */
export function contextGainRetained(nllNone: number, nllConfig: number, nllFull: number): number {
  const gain = nllNone - nllFull;
  return gain === 0 ? NaN : (nllNone - nllConfig) / gain;
}

export interface ContextGain {
  /** Mean over tasks of NLL without context − NLL with the full cache (nats). */
  gain: number;
  /** Bootstrap interval of that mean (95 % unless `level` says otherwise). */
  ci: [number, number];
  /** The interval excludes 0: the context measurably helps (or hurts), so retained ratios mean something. */
  significant: boolean;
}

/** The context gain from paired per-task NLLs, with its bootstrap interval (default seed 0). */
export function contextGain(
  nllNonePerTask: readonly number[],
  nllFullPerTask: readonly number[],
  opts: Partial<BootstrapOptions> = {},
): ContextGain {
  if (nllNonePerTask.length !== nllFullPerTask.length) {
    throw new RangeError(`${nllNonePerTask.length} no-context values for ${nllFullPerTask.length} full-cache values`);
  }
  const diffs = nllNonePerTask.map((v, i) => v - nllFullPerTask[i]!);
  const ci = bootstrapCI(diffs, { ...opts, seed: opts.seed ?? 0 });
  return { gain: mean(diffs), ci, significant: ci[0] > 0 || ci[1] < 0 };
}
