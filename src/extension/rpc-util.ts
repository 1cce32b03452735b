/**
 * Small pieces of the client's plumbing around vscode-jsonrpc: cancellation that does not wait for the other
 * side, timeouts, and telling a cancelled or lost request from a failed one.
 */
import type { Readable } from 'node:stream';
import { ErrorCodes, ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import { SidecarErrorCodes } from '../sidecar/protocol';

/** What vscode-jsonrpc rejects pending requests with when the connection goes away. */
const CONNECTION_LOSS = [
  ErrorCodes.PendingResponseRejected,
  ErrorCodes.ConnectionInactive,
  ErrorCodes.MessageWriteError,
];

export function forwardLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  });
  stream.on('error', () => undefined);
}

/** Rejects with a cancellation as soon as `token` fires, without waiting for the sidecar to acknowledge it. */
export function untilCancelled<T>(promise: Promise<T>, token: CancellationToken): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cancelled = (): void => reject(new ResponseError(SidecarErrorCodes.RequestCancelled, 'cancelled'));
    const subscription = token.onCancellationRequested(cancelled);
    if (token.isCancellationRequested) cancelled();
    promise.then(resolve, reject).finally(() => subscription.dispose());
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => resolve(value),
      () => resolve(undefined),
    );
    promise.finally(() => clearTimeout(timer)).catch(() => undefined);
  });
}

export function isCancellation(err: unknown): boolean {
  return err instanceof ResponseError && err.code === SidecarErrorCodes.RequestCancelled;
}

export function isConnectionLoss(err: unknown): boolean {
  return err instanceof ResponseError && (CONNECTION_LOSS as readonly number[]).includes(err.code);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
