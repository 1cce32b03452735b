/**
 * Runs tasks one after another per key, keys independently of each other. vscode-jsonrpc calls notification
 * handlers as messages arrive without waiting for the previous one's promise, so two quick edits of one file
 * would otherwise reach the service interleaved (the second applied before the first finished) while edits of
 * different files have no reason to wait for each other.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after every task queued before it under `key`; its failure does not stop the next one. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget settled keys, so that a long session over many files does not keep one entry per file forever.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Resolves once everything queued so far, under every key, has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }

  get size(): number {
    return this.tails.size;
  }
}
