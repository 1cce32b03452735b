/**
 * The extension host's side of the sidecar: starts the process (sidecar-process.ts), makes the requests of
 * protocol.ts, and keeps it alive: when the process dies it is restarted with exponential back-off (backoff.ts),
 * re-initialised, and `onDidStart` tells the document sync to send the open documents again. The persistent
 * cache makes a restart cheap: the new sidecar reloads segments instead of prefilling them.
 *
 * Nothing here imports `vscode`: the client is exercised over real pipes by the tests, and the host-specific
 * parts (messages to the user, the log channel) come in through the options.
 */
import {
  CancellationTokenSource,
  Emitter,
  type CancellationToken,
  type NotificationType,
  type RequestType,
} from 'vscode-jsonrpc/node';
import * as P from '../sidecar/protocol';
import { Backoff, type BackoffOptions } from './backoff';
import { systemClock, type Clock } from './completion/debounce';
import { isCancellation, isConnectionLoss, messageOf, untilCancelled, withTimeout } from './rpc-util';
import { launchSidecar, type LaunchOptions, type SidecarProcess } from './sidecar-process';

export type { ChildLike, SpawnFn } from './sidecar-process';

export type SidecarState = 'stopped' | 'starting' | 'indexing' | 'ready' | 'restarting' | 'failed';
export type Notify = (kind: 'warning' | 'error', message: string) => void;

export interface SidecarClientOptions extends LaunchOptions {
  /** Asked on every (re)start and re-initialise, so that it always carries the current settings. */
  readonly initializeParams: () => P.InitializeParams;
  /** A message the user should see (a crash, a failed start). */
  readonly notify: Notify;
  readonly backoff?: BackoffOptions;
  /** Schedules restarts; injectable for tests. */
  readonly clock?: Clock;
  /** How long `stop` waits for an orderly shutdown before killing. Default 2000 ms. */
  readonly shutdownGraceMs?: number;
}

export class SidecarClient {
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private running: SidecarProcess | undefined;
  private restartTimer: unknown;
  private indexing: CancellationTokenSource | undefined;
  private stopping = false;
  private disposed = false;
  private nextChatId = 0;
  private readonly chatListeners = new Map<string, (delta: string) => void>();
  private currentState: SidecarState = 'stopped';
  private error: string | undefined;

  private readonly stateEmitter = new Emitter<SidecarState>();
  private readonly progressEmitter = new Emitter<P.IndexProgress>();
  private readonly startEmitter = new Emitter<void>();
  private readonly outOfSyncEmitter = new Emitter<string>();
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onProgress = this.progressEmitter.event;
  /** A sidecar was (re)started or re-initialised: it knows no open document yet. */
  readonly onDidStart = this.startEmitter.event;
  /** The sidecar could not apply an edit of this path and needs the whole document again. */
  readonly onOutOfSync = this.outOfSyncEmitter.event;

  constructor(private readonly options: SidecarClientOptions) {
    this.backoff = new Backoff(options.backoff);
    this.clock = options.clock ?? systemClock;
  }

  get state(): SidecarState {
    return this.currentState;
  }

  /** Why the sidecar is in state `failed`. */
  get lastError(): string | undefined {
    return this.error;
  }

  start(): void {
    if (this.disposed || this.running) return;
    this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.setState('starting');
    let run: SidecarProcess;
    try {
      run = launchSidecar(this.options, this.clock.now(), {
        ended: (reason) => this.ended(run, reason),
        progress: (p) => this.progressEmitter.fire(p),
        chatDelta: (p) => this.chatListeners.get(p.requestId)?.(p.delta),
        outOfSync: (path) => this.outOfSyncEmitter.fire(path),
      });
    } catch (err) {
      this.crashed(this.clock.now(), `could not be started: ${messageOf(err)}`);
      return;
    }
    this.running = run;
    void this.initialize();
  }

  /** Sends `initialize` again with the current settings (a setting that shapes the cache or the model changed). */
  reinitialize(): void {
    if (this.running) void this.initialize();
    else void this.restart();
  }

  /** An orderly stop, then a fresh start with a fresh back-off sequence (`RepoKV: Restart Sidecar`). */
  async restart(): Promise<void> {
    await this.stop();
    this.backoff.reset();
    this.error = undefined;
    this.start();
  }

  /** Cancels the running indexing (initialize or rebuild); the sidecar keeps what it has indexed. */
  cancelIndexing(): void {
    this.indexing?.cancel();
  }

  /** A completion, or undefined when cancelled, unavailable or failed (a completion is never worth an error). */
  async complete(request: P.CompletionRequest, token: CancellationToken): Promise<P.CompletionResult | undefined> {
    if (!this.running || token.isCancellationRequested) return undefined;
    try {
      return await untilCancelled(this.request(P.CompleteRequest, request, token), token);
    } catch (err) {
      // Debug level: while the sidecar is down or failed, this would otherwise log once per keystroke.
      if (!isCancellation(err)) this.options.log('debug', `complete failed: ${messageOf(err)}`);
      return undefined;
    }
  }

  /** A chat answer streamed into `onDelta`; undefined when cancelled; throws when it failed. */
  async chat(
    request: P.ChatRequest,
    onDelta: (delta: string) => void,
    token: CancellationToken,
  ): Promise<P.ChatResult | undefined> {
    const requestId = `chat-${++this.nextChatId}`;
    this.chatListeners.set(requestId, onDelta);
    try {
      return await untilCancelled(this.request(P.ChatRequestType, { ...request, requestId }, token), token);
    } catch (err) {
      if (isCancellation(err)) return undefined;
      throw err;
    } finally {
      this.chatListeners.delete(requestId);
    }
  }

  stats(): Promise<P.CacheStatistics> {
    return this.request(P.StatsRequest, {});
  }

  validateModel(path: string): Promise<P.ValidateModelResult> {
    return this.request(P.ValidateModelRequest, { path });
  }

  /** Rebuilds the cache; resolves when done or cancelled with `cancelIndexing`. */
  async rebuild(): Promise<void> {
    try {
      await this.indexed(P.RebuildRequest, {});
    } catch (err) {
      if (this.running && this.currentState === 'indexing') this.setState('ready');
      throw err;
    }
  }

  /** Sends a notification if a sidecar runs; otherwise drops it, since a starting sidecar gets everything anew. */
  notify<T>(type: NotificationType<T>, params: T): void {
    const run = this.running;
    if (!run) return;
    try {
      run.connection.sendNotification(type, params as never).catch(() => undefined);
    } catch {
      // Closed under us (vscode-jsonrpc throws synchronously then): the exit handler restarts and re-sends.
    }
  }

  /** Asks the sidecar to shut down, and kills it if it has not exited within the grace period. */
  async stop(): Promise<void> {
    this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.indexing?.cancel();
    const run = this.running;
    if (!run) {
      this.setState('stopped');
      return;
    }
    this.stopping = true;
    try {
      const grace = this.options.shutdownGraceMs ?? 2000;
      const exited = new Promise<void>((resolve) => run.child.on('exit', () => resolve()));
      await withTimeout(this.request(P.ShutdownRequest, {}), grace);
      if (!run.ended) await withTimeout(exited, grace);
      // Killed if it has not exited by now; a no-op when it has.
      run.end('stopped');
    } finally {
      this.stopping = false;
      this.setState('stopped');
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.stop();
    this.disposed = true;
    for (const e of [this.stateEmitter, this.progressEmitter, this.startEmitter, this.outOfSyncEmitter]) e.dispose();
  }

  private async initialize(): Promise<void> {
    const run = this.running;
    if (!run) return;
    this.error = undefined;
    // The documents go right after `initialize` on the wire: the sidecar handles them once the service exists.
    const indexing = this.indexed(P.InitializeRequest, this.options.initializeParams());
    this.startEmitter.fire();
    try {
      const result = await indexing;
      if (result && result.protocolVersion !== P.PROTOCOL_VERSION) {
        this.fail(`the sidecar speaks protocol ${result.protocolVersion}, this extension ${P.PROTOCOL_VERSION}`);
      }
    } catch (err) {
      // A dead or replaced sidecar is the exit handler's business; anything else is a start that failed.
      if (this.running === run && !isConnectionLoss(err)) this.fail(messageOf(err));
    }
  }

  /**
   * A cancellable indexing request: state `indexing` until it ends, then `ready` if it succeeded or was cancelled
   * (a cancelled index is usable as far as it got); on failure the caller decides. Undefined when cancelled.
   */
  private async indexed<Q, R>(type: RequestType<Q, R, void>, params: Q): Promise<R | undefined> {
    this.indexing?.cancel();
    const source = new CancellationTokenSource();
    this.indexing = source;
    this.setState('indexing');
    let result: R | undefined;
    try {
      result = await this.request(type, params, source.token);
    } catch (err) {
      if (!isCancellation(err)) throw err;
    } finally {
      if (this.indexing === source) this.indexing = undefined;
      source.dispose();
    }
    if (!this.indexing && this.running && this.currentState === 'indexing') this.setState('ready');
    return result;
  }

  private request<Q, R>(type: RequestType<Q, R, void>, params: Q, token?: CancellationToken): Promise<R> {
    const run = this.running;
    if (!run) return Promise.reject(new Error('the RepoKV sidecar is not running'));
    try {
      return run.connection.sendRequest(type, params as never, token) as Promise<R>;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private ended(run: SidecarProcess, reason: string): void {
    if (this.running !== run) return;
    this.running = undefined;
    if (this.stopping || this.disposed) return;
    this.crashed(run.startedAt, reason);
  }

  private crashed(startedAt: number, reason: string): void {
    const delay = this.backoff.next(this.clock.now() - startedAt);
    if (delay === undefined) {
      this.fail(`the sidecar ${reason}, ${this.backoff.crashes - 1} times in a row; it is not restarted again`);
      this.options.notify('error', `RepoKV: the sidecar keeps failing (${reason}). Run "RepoKV: Restart Sidecar".`);
      return;
    }
    this.options.log('warn', `sidecar ${reason}; restart ${this.backoff.crashes} in ${delay} ms`);
    // One message per incident: the log has every retry; the user needs to hear about it once.
    if (this.backoff.crashes === 1) this.options.notify('warning', `RepoKV: the sidecar ${reason}; restarting it.`);
    this.setState('restarting');
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.start();
    }, delay);
  }

  private fail(message: string): void {
    this.error = message;
    this.options.log('error', message);
    this.setState('failed');
  }

  private setState(state: SidecarState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    if (!this.disposed) this.stateEmitter.fire(state);
  }
}
