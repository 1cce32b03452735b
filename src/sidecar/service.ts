/**
 * What the sidecar serves, independent of how it is transported: the JSON-RPC server (server.ts) adapts these
 * calls to the wire, and the repository engine (src/cache + src/syntax + src/engine) implements them. Tests
 * can substitute a fake implementation to exercise the protocol without a model.
 */

export interface CacheStatistics {
  files: number;
  segments: number;
  /** Tokens of all segments before eviction. */
  tokens: number;
  keptTokens: number;
  bytes: number;
  bytesPerToken: number;
  fp16BytesPerToken: number;
  compressionRatio: number;
  /** Relative Frobenius error of dequantized vs original keys and values, per layer. */
  quantError: { keys: number[]; values: number[] };
  /** Bits of keys per layer (protected layers have more), and kept ratio per layer. */
  keyBitsPerLayer: number[];
  keptRatioPerLayer: number[];
  /** Bytes per repository file (relative path → bytes), for the statistics view. */
  bytesPerFile: Record<string, number>;
  provider: string;
  /** Segment cache lookups served from memory or disk vs prefilled. */
  hits: number;
  misses: number;
  /** Prefill throughput measured over the last indexing work, tokens per second. */
  prefillTokensPerSecond: number;
  skipped: { path: string; reason: string }[];
}

export interface IndexProgress {
  doneTokens: number;
  totalTokens: number;
  doneSegments: number;
  totalSegments: number;
  /** Seconds left at the current rate, or null before a rate is known. */
  etaSeconds: number | null;
  phase: 'scanning' | 'prefilling' | 'idle';
}

/** A VS Code content change (TextDocumentContentChangeEvent) in plain data. */
export interface TextChange {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

export interface CompletionRequest {
  /** Workspace-relative path, forward slashes. */
  path: string;
  /** The document's full current text (the editor's buffer may be unsaved). */
  text: string;
  version: number;
  line: number;
  character: number;
  maxTokens: number;
}

export interface CompletionResult {
  text: string;
  tokens: number;
  contextTokens: number;
  ms: number;
}

export interface ChatRequest {
  messages: { role: 'user' | 'assistant'; content: string }[];
  /** Optional context the user attached: the selection or the current file. */
  attachments?: { path: string; text: string }[];
  maxTokens?: number;
}

export interface ChatResult {
  text: string;
  tokens: number;
  ms: number;
}

export type KvBits = 2 | 4 | 8 | 16;
export type EvictionPolicy = 'none' | 'snapkv' | 'defensive' | 'h2o';
export type ExecutionProvider = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type WeightBitsSetting = 'auto' | 4 | 8 | 32;
/** A `files.exclude`-style setting: globs, or globs mapped to true/false or to a sibling condition. */
export type ExcludeSetting = readonly string[] | Readonly<Record<string, boolean | { when: string }>>;

/** The `repokv.cache.*` settings (same meaning as the CLI's cache flags). */
export interface CacheSettings {
  kvBits: KvBits;
  keepRatio: number;
  sinkTokens: number;
  eviction: EvictionPolicy;
  /** Bound on the cache's memory; the on-disk store is bounded separately. */
  maxMemoryMB: number;
}

/** Everything a service is constructed from (the `initialize` request's settings). */
export interface ServiceSettings {
  /** A Hugging Face checkpoint directory; the sidecar's entry resolves '' to the bundled model. */
  modelPath: string;
  executionProvider: ExecutionProvider;
  /** `repokv.model.weightBits`: 32 = the checkpoint exactly, 8 or 4 = block-quantized; absent or 'auto' = by size. */
  weightBits?: WeightBitsSetting;
  cache: CacheSettings;
  /** Where the persistent segment store lives: the extension's global storage. */
  cacheDir: string;
  /** `files.exclude` and `repokv.exclude`, in that order, on top of `.gitignore`. */
  exclude: ExcludeSetting[];
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type ServiceLogger = (level: LogLevel, message: string) => void;

/**
 * How the sidecar makes a service: once per `initialize` (a settings change re-initialises, and the
 * content-addressed on-disk cache makes the new service re-index only what the change invalidated). May throw,
 * e.g. on an unusable checkpoint: the message is shown to the user as is.
 */
export type ServiceFactory = (
  settings: ServiceSettings,
  log: ServiceLogger,
) => RepositoryService | Promise<RepositoryService>;

export interface RepositoryService {
  /**
   * Scans and indexes the workspace folders; progress through `onProgress`. Resolves when the first index is done.
   * `signal` aborts the indexing (the user cancelled it): what is indexed so far stays usable.
   */
  open(folders: string[], signal?: AbortSignal): Promise<void>;
  /**
   * A document opened in the editor with its whole buffer, which may differ from the file on disk (unsaved
   * edits). Its versions restart: VS Code numbers each opening anew, so any version is accepted here.
   */
  documentOpened(path: string, version: number, text: string): Promise<void>;
  /** Editor changes bringing an opened document to `version`; a version not newer than the current is rejected. */
  documentChanged(path: string, version: number, changes: TextChange[]): Promise<void>;
  /** The editor closed the document: its unsaved buffer is gone and the file on disk is the truth again. */
  documentClosed(path: string): Promise<void>;
  /** A file changed on disk (text) or was deleted (null). */
  fileChanged(path: string, text: string | null): Promise<void>;
  complete(request: CompletionRequest, signal: AbortSignal): Promise<CompletionResult>;
  chat(request: ChatRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ChatResult>;
  stats(): Promise<CacheStatistics>;
  /** Drops the cache and indexes everything again; `signal` aborts it like `open`'s. */
  rebuild(signal?: AbortSignal): Promise<void>;
  onProgress(listener: (p: IndexProgress) => void): void;
  dispose(): Promise<void>;
}
