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

export interface RepositoryService {
  /** Scans and indexes the workspace folders; progress through `onProgress`. Resolves when the first index is done. */
  open(folders: string[]): Promise<void>;
  documentChanged(path: string, version: number, changes: TextChange[]): Promise<void>;
  /** A file changed on disk (text) or was deleted (null). */
  fileChanged(path: string, text: string | null): Promise<void>;
  complete(request: CompletionRequest, signal: AbortSignal): Promise<CompletionResult>;
  chat(request: ChatRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ChatResult>;
  stats(): Promise<CacheStatistics>;
  rebuild(): Promise<void>;
  onProgress(listener: (p: IndexProgress) => void): void;
  dispose(): Promise<void>;
}
