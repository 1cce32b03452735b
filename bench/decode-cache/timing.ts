/**
 * Interleaved timing on a noisy shared machine: the variants run in turn, a short burst of consecutive runs each
 * per round (a decode runs one graph step after step, with its data warm), and the order rotates every round so no
 * variant always runs right after another's allocations.
 */
import { median, timeRuns } from '../stats';

/**
 * Per variant, one time per round: the median of its burst without the first run (which pays for caches the other
 * variants evicted), or the single run when the burst is 1.
 */
export async function interleavedBursts<K>(
  runs: readonly (readonly [K, () => Promise<unknown>])[],
  rounds: number,
  burst: number,
): Promise<Map<K, number[]>> {
  const times = new Map<K, number[]>(runs.map(([k]) => [k, []]));
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runs.length; j++) {
      const [k, run] = runs[(round + j) % runs.length]!;
      const ms = await timeRuns(Math.max(1, burst), async () => {
        await run();
      });
      times.get(k)!.push(median(ms.length > 1 ? ms.slice(1) : ms));
    }
  }
  return times;
}

/** Median of the per-round ratios a / b. */
export function medianRatio(a: number[], b: number[]): number {
  return median(a.map((t, i) => t / b[i]!));
}

export function fmtMs(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}
