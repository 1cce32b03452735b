/**
 * When to restart a sidecar that died. Exponential, so that a sidecar crashing at start (a broken model, a
 * missing native library) does not spin a CPU and flood the log, yet a one-off crash comes back at once; a
 * sidecar that then ran for a while starts the sequence over, since its next crash is a new incident.
 */

export interface BackoffOptions {
  /** Wait before the first restart. Default 500 ms. */
  readonly initialMs?: number;
  /** Longest wait. Default 30 s. */
  readonly maxMs?: number;
  /** A sidecar that ran at least this long resets the sequence. Default 60 s. */
  readonly resetAfterMs?: number;
  /** Consecutive quick crashes after which restarting stops until the user asks. Default 8. */
  readonly maxAttempts?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly resetAfterMs: number;
  private readonly maxAttempts: number;
  private attempts = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(0, options.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.resetAfterMs = options.resetAfterMs ?? 60_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  }

  /** Consecutive crashes so far in this sequence. */
  get crashes(): number {
    return this.attempts;
  }

  /**
   * Records a crash of a sidecar that had been running for `uptimeMs`; the wait before restarting it, or
   * undefined when it has crashed too often in a row to keep trying.
   */
  next(uptimeMs: number): number | undefined {
    if (uptimeMs >= this.resetAfterMs) this.attempts = 0;
    this.attempts++;
    if (this.attempts > this.maxAttempts) return undefined;
    return Math.min(this.maxMs, this.initialMs * 2 ** (this.attempts - 1));
  }

  /** A restart the user asked for starts a fresh sequence. */
  reset(): void {
    this.attempts = 0;
  }
}
