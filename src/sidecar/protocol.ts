/**
 * The JSON-RPC protocol between the extension host (client) and the sidecar (server), over the sidecar's stdio.
 * Both sides import these types, so a change here is a compile error on the side that was not updated. Every
 * request and notification takes its params by name (one object), which is what `server.ts` validates.
 *
 * Cancellation is vscode-jsonrpc's own (`$/cancelRequest`): the server turns the request's CancellationToken into
 * the AbortSignal the service's decode loop checks every step, and answers a cancelled request with
 * `REQUEST_CANCELLED`.
 */
import { NotificationType, ParameterStructures, RequestType } from 'vscode-jsonrpc';
import type {
  CacheStatistics,
  ChatRequest,
  ChatResult,
  CompletionRequest,
  CompletionResult,
  IndexProgress,
  LogLevel,
  ServiceSettings,
  TextChange,
} from './service';

export type * from './service';

/** Bumped on an incompatible change; the client refuses a sidecar that answers another version. */
export const PROTOCOL_VERSION = 1;

/** Error codes the server answers with besides JSON-RPC's own (-32700 parse error … -32603 internal error). */
export const SidecarErrorCodes = {
  /** JSON-RPC (and LSP) code for a request cancelled by the client. */
  RequestCancelled: -32800,
  /** A request other than `initialize` before the service exists. */
  NotInitialized: -32002,
  /** The service failed (bad checkpoint, engine error): the message is meant for the user. */
  ServiceError: -32001,
} as const;

// ---- Requests -------------------------------------------------------------------------------------------------

export interface InitializeParams {
  /** Absolute paths of the workspace folders. */
  folders: string[];
  settings: ServiceSettings;
}
export interface InitializeResult {
  protocolVersion: number;
}
/**
 * Creates the service (again, on a settings change) and indexes the folders; answers once the first index is
 * done. Cancelling it stops the indexing, and the service stays usable with what it has.
 */
export const InitializeRequest = new RequestType<InitializeParams, InitializeResult, void>(
  'initialize',
  ParameterStructures.byName,
);

export const CompleteRequest = new RequestType<CompletionRequest, CompletionResult, void>(
  'complete',
  ParameterStructures.byName,
);

export interface ChatParams extends ChatRequest {
  /** Chosen by the client; the `chat/delta` notifications of this answer carry it. */
  requestId: string;
}
/** Streams the answer as `chat/delta` notifications, then answers with the whole result. */
export const ChatRequestType = new RequestType<ChatParams, ChatResult, void>('chat', ParameterStructures.byName);

export type EmptyParams = Record<string, never>;
export const StatsRequest = new RequestType<EmptyParams, CacheStatistics, void>('stats', ParameterStructures.byName);
/** Drops the cache and indexes again; cancellable like `initialize`. */
export const RebuildRequest = new RequestType<EmptyParams, null, void>('rebuild', ParameterStructures.byName);
/** Disposes the service; the sidecar exits after answering. */
export const ShutdownRequest = new RequestType<EmptyParams, null, void>('shutdown', ParameterStructures.byName);

export interface ValidateModelParams {
  path: string;
}
/** `ok: false` carries the checkpoint's error, naming the file and field at fault, to show as is. */
export type ValidateModelResult = { ok: true; description: string } | { ok: false; error: string };
/** Checks a checkpoint directory without loading it into the running service (`RepoKV: Select Model`). */
export const ValidateModelRequest = new RequestType<ValidateModelParams, ValidateModelResult, void>(
  'model/validate',
  ParameterStructures.byName,
);

// ---- Notifications, client → sidecar --------------------------------------------------------------------------

export interface DidOpenParams {
  path: string;
  version: number;
  text: string;
}
/** A document opened in the editor (also re-sent for every open document after a sidecar restart). */
export const DidOpenNotification = new NotificationType<DidOpenParams>('document/didOpen', ParameterStructures.byName);

export interface DidChangeParams {
  path: string;
  version: number;
  changes: TextChange[];
}
export const DidChangeNotification = new NotificationType<DidChangeParams>(
  'document/didChange',
  ParameterStructures.byName,
);

export interface DidCloseParams {
  path: string;
}
export const DidCloseNotification = new NotificationType<DidCloseParams>(
  'document/didClose',
  ParameterStructures.byName,
);

export interface FileChangedParams {
  path: string;
  /** The new text, or null when the file was deleted. */
  text: string | null;
}
/** A change on disk outside the editor (the file watcher). */
export const FileChangedNotification = new NotificationType<FileChangedParams>(
  'file/didChange',
  ParameterStructures.byName,
);

// ---- Notifications, sidecar → client --------------------------------------------------------------------------

export interface ChatDeltaParams {
  requestId: string;
  delta: string;
}
export const ChatDeltaNotification = new NotificationType<ChatDeltaParams>('chat/delta', ParameterStructures.byName);

export const ProgressNotification = new NotificationType<IndexProgress>('progress', ParameterStructures.byName);

export interface LogParams {
  level: LogLevel;
  message: string;
}
/** The sidecar's only log channel: its stdout carries the protocol, so nothing else may be printed there. */
export const LogNotification = new NotificationType<LogParams>('log', ParameterStructures.byName);

export interface OutOfSyncParams {
  path: string;
  reason: string;
}
/**
 * An editor change could not be applied (stale version, unknown document): the client answers by re-sending the
 * whole document with `document/didOpen`, which brings the two sides back in step.
 */
export const OutOfSyncNotification = new NotificationType<OutOfSyncParams>(
  'document/outOfSync',
  ParameterStructures.byName,
);
