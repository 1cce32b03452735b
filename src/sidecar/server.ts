/**
 * Serves a RepositoryService over a vscode-jsonrpc connection: the adapter between the wire (protocol.ts) and the
 * service, with three duties the service should not have to think about:
 * - every incoming params object is validated first (validate.ts); a bad request is answered with InvalidParams
 *   naming the field, a bad notification is reported through `log`, and neither reaches the service;
 * - document notifications are applied one at a time per path, in arrival order, and a rejected edit (a stale
 *   version) is reported and answered with `document/outOfSync` instead of taking anything down;
 * - a request's CancellationToken becomes the AbortSignal the service checks, and a cancelled request is answered
 *   with RequestCancelled.
 */
import {
  ErrorCodes,
  ResponseError,
  type CancellationToken,
  type MessageConnection,
  type NotificationType,
} from 'vscode-jsonrpc';
import { KeyedQueue } from './keyed-queue';
import {
  ChatDeltaNotification,
  ChatRequestType,
  CompleteRequest,
  DidChangeNotification,
  DidCloseNotification,
  DidOpenNotification,
  FileChangedNotification,
  InitializeRequest,
  LogNotification,
  OutOfSyncNotification,
  PROTOCOL_VERSION,
  ProgressNotification,
  RebuildRequest,
  ShutdownRequest,
  SidecarErrorCodes,
  StatsRequest,
  ValidateModelRequest,
  type ValidateModelResult,
} from './protocol';
import type { LogLevel, RepositoryService, ServiceFactory } from './service';
import { InvalidParamsError, parseParams, parsers } from './validate';

export interface ServerOptions {
  /** Checks a checkpoint directory for `model/validate`; without it the request answers that it cannot. */
  validateModel?: (path: string) => ValidateModelResult | Promise<ValidateModelResult>;
  /** Called once `shutdown` has been answered, or the connection closed: the process entry exits. */
  onExit?: () => void;
}

export interface Server {
  /** Resolves when every queued document update has been applied (for tests and orderly shutdown). */
  idle(): Promise<void>;
  dispose(): Promise<void>;
}

type ParserKind = keyof typeof parsers;

export function startServer(
  factory: ServiceFactory,
  connection: MessageConnection,
  options: ServerOptions = {},
): Server {
  const documents = new KeyedQueue();
  /** The service of the latest `initialize`, as a promise: requests arriving while it is created wait for it. */
  let current: Promise<RepositoryService> | undefined;
  let shuttingDown = false;

  /** vscode-jsonrpc throws synchronously on a closed connection, and rejects when the write fails. */
  const notify = <T>(type: NotificationType<T>, params: T): void => {
    try {
      connection.sendNotification(type, params as never).catch(() => undefined);
    } catch {
      // The client is gone: there is nobody left to tell.
    }
  };
  const log = (level: LogLevel, message: string): void => notify(LogNotification, { level, message });

  async function service(method: string): Promise<RepositoryService> {
    if (shuttingDown)
      throw new ResponseError(SidecarErrorCodes.NotInitialized, `${method}: the sidecar is shutting down`);
    if (!current) throw new ResponseError(SidecarErrorCodes.NotInitialized, `${method}: send initialize first`);
    try {
      return await current;
    } catch (err) {
      throw new ResponseError(SidecarErrorCodes.NotInitialized, `${method}: no service (${messageOf(err)})`);
    }
  }

  function onRequest<K extends ParserKind, R>(
    method: string,
    kind: K,
    handler: (params: ReturnType<(typeof parsers)[K]>, signal: AbortSignal) => Promise<R>,
  ): void {
    connection.onRequest(method, async (raw: unknown, token: CancellationToken) => {
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      if (token.isCancellationRequested) controller.abort();
      try {
        const params = parseParams(kind, method, raw);
        const result = await handler(params, controller.signal);
        // A service may stop early and return what it had; the client asked to cancel, so it gets RequestCancelled.
        if (controller.signal.aborted)
          throw new ResponseError(SidecarErrorCodes.RequestCancelled, `${method} cancelled`);
        return result;
      } catch (err) {
        throw toResponseError(err, method, controller.signal);
      } finally {
        subscription.dispose();
      }
    });
  }

  function onNotification<K extends ParserKind>(
    method: string,
    kind: K,
    handler: (params: ReturnType<(typeof parsers)[K]>) => Promise<void>,
  ): void {
    // vscode-jsonrpc spreads positional params into arguments; one argument is the by-name object.
    connection.onNotification(method, async (...args: unknown[]) => {
      try {
        await handler(parseParams(kind, method, args.length === 1 ? args[0] : args));
      } catch (err) {
        // A notification has nobody to answer: the log is where the client's user can see what went wrong.
        log('error', messageOf(err));
      }
    });
  }

  onRequest(InitializeRequest.method, 'initialize', async (params, signal) => {
    const previous = current;
    const created = (async () => {
      // Re-initialising (settings changed): the old service lets go of the model and the cache files first.
      if (previous) await previous.then((s) => s.dispose()).catch(() => undefined);
      await documents.idle();
      const next = await factory(params.settings, log);
      next.onProgress((progress) => {
        if (current === created) notify(ProgressNotification, progress);
      });
      return next;
    })();
    current = created;
    created.catch(() => undefined); // awaited below and by later requests; never an unhandled rejection
    let next: RepositoryService;
    try {
      next = await created;
    } catch (err) {
      throw new ResponseError(SidecarErrorCodes.ServiceError, messageOf(err));
    }
    await next.open(params.folders, signal);
    return { protocolVersion: PROTOCOL_VERSION };
  });

  onRequest(CompleteRequest.method, 'complete', async (params, signal) =>
    (await service(CompleteRequest.method)).complete(params, signal),
  );

  onRequest(ChatRequestType.method, 'chat', async (params, signal) => {
    const { requestId, ...request } = params;
    const onText = (delta: string): void => {
      // A decode step may still finish after the cancellation: its text is of no use to anyone.
      if (!signal.aborted) notify(ChatDeltaNotification, { requestId, delta });
    };
    return (await service(ChatRequestType.method)).chat(request, onText, signal);
  });

  onRequest(StatsRequest.method, 'empty', async () => (await service(StatsRequest.method)).stats());

  onRequest(RebuildRequest.method, 'empty', async (_params, signal) => {
    await (await service(RebuildRequest.method)).rebuild(signal);
    return null;
  });

  onRequest(ValidateModelRequest.method, 'validateModel', async (params) => {
    if (!options.validateModel) return { ok: false, error: 'this sidecar cannot validate checkpoints' };
    try {
      return await options.validateModel(params.path);
    } catch (err) {
      return { ok: false, error: messageOf(err) };
    }
  });

  onRequest(ShutdownRequest.method, 'empty', async () => {
    await dispose();
    // The answer is written after this handler returns; leave the process a moment to flush it.
    setTimeout(() => options.onExit?.(), 20);
    return null;
  });

  onNotification(DidOpenNotification.method, 'didOpen', async (p) => {
    const s = await service(DidOpenNotification.method);
    await documents.run(p.path, () => s.documentOpened(p.path, p.version, p.text));
  });

  onNotification(DidChangeNotification.method, 'didChange', async (p) => {
    const s = await service(DidChangeNotification.method);
    try {
      await documents.run(p.path, () => s.documentChanged(p.path, p.version, p.changes));
    } catch (err) {
      const reason = messageOf(err);
      log('warn', `document/didChange ${p.path} v${p.version} rejected: ${reason}`);
      notify(OutOfSyncNotification, { path: p.path, reason });
    }
  });

  onNotification(DidCloseNotification.method, 'didClose', async (p) => {
    const s = await service(DidCloseNotification.method);
    await documents.run(p.path, () => s.documentClosed(p.path));
  });

  onNotification(FileChangedNotification.method, 'fileChanged', async (p) => {
    const s = await service(FileChangedNotification.method);
    await documents.run(p.path, () => s.fileChanged(p.path, p.text));
  });

  connection.onUnhandledNotification((n) => log('warn', `unknown notification ${n.method} ignored`));
  connection.onError(([error]) => process.stderr.write(`repokv sidecar: connection error: ${error.message}\n`));
  connection.onClose(() => {
    // The extension host went away (or closed our stdin): nobody is left to serve.
    void dispose().finally(() => options.onExit?.());
  });

  async function dispose(): Promise<void> {
    if (shuttingDown) return;
    shuttingDown = true;
    const last = current;
    current = undefined;
    if (last) await last.then((s) => s.dispose()).catch((err) => log('error', `dispose failed: ${messageOf(err)}`));
  }

  connection.listen();
  return { idle: () => documents.idle(), dispose };
}

function toResponseError(err: unknown, method: string, signal: AbortSignal): ResponseError<void> {
  if (err instanceof ResponseError) return err;
  if (err instanceof InvalidParamsError) return new ResponseError(ErrorCodes.InvalidParams, err.message);
  if (signal.aborted || (err instanceof Error && err.name === 'AbortError')) {
    return new ResponseError(SidecarErrorCodes.RequestCancelled, `${method} cancelled`);
  }
  return new ResponseError(SidecarErrorCodes.ServiceError, `${method} failed: ${messageOf(err)}`);
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
