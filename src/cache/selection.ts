/**
 * Which segments join a query's attention when the repository is larger than the attention budget (DESIGN §3):
 * rank candidates by the identifiers they share with the text before the cursor, each weighted by how rare it is
 * in the repository (inverse document frequency: `z` or `ZodType` in zod say nothing, `$ZodCheckLowerCaseDef`
 * says a lot), break ties by files the local text imports and by recency of edits, then take segments in rank
 * order until the budget of repository tokens is spent. Identifier sets are computed once per segment at index
 * time; a query costs one pass over the candidates.
 *
 * Measured on zod's first 100 tasks (BENCHMARKS.md): plain overlap counts with a large bonus for imported files
 * filled the budget with segments of the big files everything imports, and the context gain was −0.004 nats;
 * rarity-weighted overlap over the whole text before the cursor gave +0.049. Scoring only the last lines before
 * the cursor, or any import bonus on top of the overlap, did worse.
 */

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]{2,}/g;
const COMMON = new Set(
  'the and for not this that with from return import export const function class def self none true false null undefined let var new else elif while break continue async await yield public private static void int string number boolean type interface extends implements'.split(
    ' ',
  ),
);

export function identifiersOf(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(IDENTIFIER)) if (!COMMON.has(m[0].toLowerCase())) out.add(m[0]);
  return out;
}

export interface Candidate {
  path: string;
  tokens: number;
  identifiers: Set<string>;
  /** Larger = edited more recently. */
  recency: number;
}

/** Paths of the repository that the local text appears to import (by module path or file stem). */
export function importedPaths(localText: string, localPath: string, paths: Iterable<string>): Set<string> {
  const specs = new Set<string>();
  for (const m of localText.matchAll(/(?:from|import|require\(|include)\s*['"<]?([@\w./-]+)/g)) {
    const spec = m[1]!.replace(/^\.\//, '').replace(/\.(js|ts|py|mjs|cjs)$/, '');
    const last = spec.split(/[./]/).filter(Boolean).pop();
    if (last) specs.add(last);
  }
  const out = new Set<string>();
  for (const p of paths) {
    if (p === localPath) continue;
    const stem = p
      .split('/')
      .pop()!
      .replace(/\.[^.]+$/, '');
    if (
      specs.has(stem) ||
      (stem === 'index' || stem === '__init__' ? specs.has(p.split('/').slice(-2, -1)[0] ?? '') : false)
    ) {
      out.add(p);
    }
  }
  return out;
}

/**
 * Relevance of each candidate to the local text: Σ ln(N / df) over the identifiers it shares with it, df the
 * number of the N candidates holding the identifier (one every candidate holds scores 0).
 */
export function relevanceScores(candidates: readonly Candidate[], localText: string): number[] {
  const n = candidates.length;
  const local = identifiersOf(localText);
  const documentFrequency = new Map<string, number>();
  for (const c of candidates) {
    for (const id of c.identifiers) if (local.has(id)) documentFrequency.set(id, (documentFrequency.get(id) ?? 0) + 1);
  }
  return candidates.map((c) => {
    let score = 0;
    for (const id of c.identifiers) {
      const df = documentFrequency.get(id);
      if (df !== undefined) score += Math.log(n / df);
    }
    return score;
  });
}

/**
 * Candidates in rank order, cut at `budget` tokens (a candidate that alone exceeds what is left is skipped, so
 * smaller relevant ones can still fit). With a budget covering everything, all candidates are returned.
 */
export function selectSegments<T extends Candidate>(
  candidates: T[],
  localText: string,
  localPath: string,
  budget: number,
): T[] {
  const total = candidates.reduce((n, c) => n + c.tokens, 0);
  if (total <= budget) return candidates;
  const scores = relevanceScores(candidates, localText);
  const imported = importedPaths(localText, localPath, new Set(candidates.map((c) => c.path)));
  const ranked = candidates.map((c, order) => ({ c, order, score: scores[order]!, imported: +imported.has(c.path) }));
  ranked.sort((a, b) => b.score - a.score || b.imported - a.imported || b.c.recency - a.c.recency || a.order - b.order);
  const chosen: T[] = [];
  let left = budget;
  for (const r of ranked) {
    if (r.c.tokens <= left) {
      chosen.push(r.c);
      left -= r.c.tokens;
    }
  }
  return chosen;
}
