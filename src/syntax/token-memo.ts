import type { CountTokens } from './types';

/**
 * Remembers token counts between two segmentations of the same file, so that an edit only pays the
 * tokenizer for the pieces it changed. Only two generations are kept: the counts used by the previous run
 * (looked up) and the ones used by this run (kept for the next), so memory stays bounded by the file.
 */
export class TokenMemo {
  private current = new Map<string, number>();

  constructor(
    private readonly countTokens: CountTokens,
    private previous: Map<string, number> = new Map(),
  ) {}

  count(text: string): number {
    if (text.length === 0) return 0;
    let n = this.current.get(text) ?? this.previous.get(text);
    if (n === undefined) n = this.countTokens(text);
    this.current.set(text, n);
    return n;
  }

  /** Starts a new generation: what this run used becomes what the next run may reuse. */
  rotate(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}
