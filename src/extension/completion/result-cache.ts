/**
 * Remembers shown suggestions so that typing into one keeps showing its rest without asking the model again, the
 * way ghost text is expected to behave: after `const x = ` got `compute(a, b);`, typing `com` must show
 * `pute(a, b);` at once. An entry is found when the new text before the cursor is the old one plus a prefix of the
 * suggestion. Keys are independent of the document version (every keystroke bumps it) and of where the suggestion
 * came from; matching compares the cursor offset and the tail of the old prefix, so no full prefix is stored.
 * Least recently used entries are evicted beyond `capacity`.
 */

export interface ResultCacheOptions {
  /** Most entries kept, over all documents. Default 64. */
  readonly capacity?: number;
  /** Characters of the prefix kept to recognise it (its tail). Default 512. */
  readonly prefixTail?: number;
}

interface Entry {
  readonly uri: string;
  /** Length of the full prefix (the cursor offset) when the suggestion was made. */
  readonly prefixLength: number;
  /** The last `prefixTail` characters of that prefix. */
  readonly tail: string;
  readonly suggestion: string;
}

export class CompletionResultCache {
  private readonly capacity: number;
  private readonly prefixTail: number;
  /** Insertion order is recency order: the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry>();

  constructor(options: ResultCacheOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 64);
    this.prefixTail = Math.max(1, options.prefixTail ?? 512);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Remembers `suggestion` shown after `prefix` (the document text before the cursor) in document `uri`. */
  set(uri: string, prefix: string, suggestion: string): void {
    if (suggestion === '') return;
    const tail = prefix.slice(-this.prefixTail);
    const key = `${uri}\u0000${prefix.length}\u0000${tail}`;
    this.entries.delete(key);
    this.entries.set(key, { uri, prefixLength: prefix.length, tail, suggestion });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * The part of a remembered suggestion still to show after `prefix`, or undefined. A suggestion typed out
   * completely is a miss: what comes next needs a new request.
   */
  get(uri: string, prefix: string): string | undefined {
    let best: { key: string; entry: Entry; typed: number } | undefined;
    for (const [key, entry] of this.entries) {
      if (entry.uri !== uri) continue;
      const typed = prefix.length - entry.prefixLength;
      if (typed < 0 || typed >= entry.suggestion.length) continue;
      if (!prefix.endsWith(entry.suggestion.slice(0, typed))) continue;
      const at = entry.prefixLength;
      if (prefix.slice(at - entry.tail.length, at) !== entry.tail) continue;
      // Several entries can match (one made at `x`, another at `x.`): the latest request saw the most context.
      if (!best || typed <= best.typed) best = { key, entry, typed };
    }
    if (!best) return undefined;
    this.entries.delete(best.key);
    this.entries.set(best.key, best.entry);
    return best.entry.suggestion.slice(best.typed);
  }

  /** Forgets one document's entries (closed or changed elsewhere), or everything. */
  clear(uri?: string): void {
    if (uri === undefined) this.entries.clear();
    else for (const [key, entry] of this.entries) if (entry.uri === uri) this.entries.delete(key);
  }
}
