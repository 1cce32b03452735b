/**
 * Which segments join a query's attention when the repository is larger than the attention budget (DESIGN §3):
 * rank by files the local text imports, identifier overlap with the local text, and recency of edits, then
 * take segments in rank order until the budget of repository tokens is spent. Identifier sets are computed once
 * per segment at index time; a query costs one pass over the candidates.
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
  const local = identifiersOf(localText);
  const imported = importedPaths(localText, localPath, new Set(candidates.map((c) => c.path)));
  const scored = candidates.map((c, order) => {
    let overlap = 0;
    for (const id of c.identifiers) if (local.has(id)) overlap++;
    return { c, order, score: (imported.has(c.path) ? 10 : 0) + overlap, recency: c.recency };
  });
  scored.sort((a, b) => b.score - a.score || b.recency - a.recency || a.order - b.order);
  const chosen: T[] = [];
  let left = budget;
  for (const s of scored) {
    if (s.c.tokens <= left) {
      chosen.push(s.c);
      left -= s.c.tokens;
    }
  }
  return chosen;
}
