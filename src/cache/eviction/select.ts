/**
 * Deterministic top-k with per-head quotas: the one selection routine behind every allocator.
 *
 * All (head, token) entries are ranked once by key (descending; ties to the lower token index, then the lower
 * head), then two passes over that ranking: first every head takes its best `floors[h]` entries, then the best
 * remaining entries of any head fill up to `total`. Uniform allocation is floors summing to the total (the
 * second pass is empty); Ada-KV is a small floor and a large second pass. One ranking, O(m log m) for m entries.
 */

/**
 * keys [heads, n] (no NaN; protected entries set to +Infinity by the caller) → keep mask [heads, n] with
 * exactly `total` ones, at least floors[h] in head h. Requires Σ floors ≤ total ≤ heads · n and floors[h] ≤ n.
 */
export function selectByQuota(keys: Float32Array, n: number, floors: Int32Array, total: number): Uint8Array {
  const heads = floors.length;
  const m = heads * n;
  const order = new Int32Array(m);
  for (let i = 0; i < m; i++) order[i] = i;
  // Entry id = head · n + token. Infinity − Infinity is NaN, which is falsy, so equal infinite keys tie-break too.
  order.sort((a, b) => keys[b] - keys[a] || (a % n) - (b % n) || a - b);

  const keep = new Uint8Array(m);
  const taken = new Int32Array(heads);
  let kept = 0;
  for (let i = 0; i < m; i++) {
    const id = order[i];
    const h = (id / n) | 0;
    if (taken[h] < floors[h]) {
      keep[id] = 1;
      taken[h]++;
      kept++;
    }
  }
  for (let i = 0; i < m && kept < total; i++) {
    const id = order[i];
    if (keep[id] === 0) {
      keep[id] = 1;
      kept++;
    }
  }
  return keep;
}
