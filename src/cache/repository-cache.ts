/**
 * The whole repository in the cache: scans the workspace, keeps each file's segments current through the
 * syntax layer, prefills what is new (or reloads it from the on-disk store), releases what is gone, and answers
 * completion and chat queries over the selected segments. Segments are reference-counted by their store key, so
 * two identical segments share one entry and a segment that only moved keeps its cache.
 */
import * as path from 'node:path';
import type { Engine } from '../engine/engine';
import type { GenerateOptions } from '../engine/generate';
import type { Logger } from '../engine/providers';
import type { ChatMessage } from '../engine/tokenizer';
import {
  DocumentStore,
  type ExcludeSetting,
  initSyntax,
  readIndexable,
  scanWorkspace,
  type Segment,
  type SegmentDiff,
  type SkippedFile,
} from '../syntax';
import type { ContentChange } from '../syntax/types';
import type { CacheConfig } from './cache-config';
import { chatPrompt } from './prompts';
import { type CompletionRequest, completionPrompt } from './completion-prompt';
import { generateInContext } from './query-context';
import { LocalPrefillReuse } from './local-reuse';
import { CacheRuntime } from './runtime';
import { PersistentTokenCounts, tokenizerIdentity } from './token-counts';
import { type CachedSegment, segmentBytes } from './segment-kv';
import { identifiersOf, selectSegments } from './selection';
import { keyedConfig, segmentKey, type SegmentStore } from './store';

export interface RepositoryCacheOptions {
  root: string;
  engine: Engine;
  config: CacheConfig;
  /** On-disk store (null = memory only). */
  store: SegmentStore | null;
  exclude?: ExcludeSetting[];
  minSegmentTokens?: number;
  maxSegmentTokens?: number;
  log?: Logger;
}

export interface CacheEntry {
  key: string;
  path: string;
  text: string;
  bodyOffset: number;
  protectedRanges: { start: number; end: number }[];
  tokens: number;
  identifiers: Set<string>;
  kv: CachedSegment | null;
  /** Prefilled and stored, but dropped from memory by the memory bound: reloaded from the store when a query needs it. */
  spilled: boolean;
  /** Bytes and kept (head, token) pairs per layer of the prefilled entry, kept when it is spilled (statistics). */
  summary: { tokens: number; bytes: number; keptPerLayer: number[] } | null;
  refs: number;
  recency: number;
}

export interface PrefillProgress {
  doneTokens: number;
  totalTokens: number;
  doneSegments: number;
  totalSegments: number;
}

export interface QueryResult {
  text: string;
  tokens: number;
  contextTokens: number;
  ms: number;
}

export class RepositoryCache {
  readonly entries = new Map<string, CacheEntry>();
  readonly fileEntries = new Map<string, string[]>();
  skipped: SkippedFile[] = [];
  hits = 0;
  misses = 0;
  prefillTokens = 0;
  prefillMs = 0;
  /** Prompt tokens whose prefill was reused from the previous query (local-reuse.ts). */
  reusedPromptTokens = 0;
  private clock = 0;
  private readonly localReuse = new LocalPrefillReuse();

  private constructor(
    readonly options: RepositoryCacheOptions,
    readonly runtime: CacheRuntime,
    readonly documents: DocumentStore,
    private readonly tokenCounts: PersistentTokenCounts,
  ) {}

  static async open(options: RepositoryCacheOptions): Promise<RepositoryCache> {
    await initSyntax();
    const { engine, config } = options;
    const runtime = await CacheRuntime.create(engine, config, path.basename(path.resolve(options.root)), options.log);
    // Beside the segment store (same lifetime and location); without a store, a memo for this run only.
    const countsFile = options.store
      ? PersistentTokenCounts.fileFor(
          path.join(path.dirname(options.store.root), 'token-counts'),
          tokenizerIdentity(engine.checkpoint.dir),
          options.root,
        )
      : null;
    const tokenCounts = new PersistentTokenCounts(countsFile);
    const documents = new DocumentStore({
      countTokens: (t) => tokenCounts.count(t, (text) => engine.encode(text).length),
      fileHeader: (p) => runtime.fileHeader(p),
      minSegmentTokens: options.minSegmentTokens,
      maxSegmentTokens: options.maxSegmentTokens,
    });
    return new RepositoryCache(options, runtime, documents, tokenCounts);
  }

  get engine(): Engine {
    return this.options.engine;
  }

  /** Reads every indexable file and registers its segments; nothing is prefilled yet (see `prefillPending`). */
  async scan(signal?: AbortSignal): Promise<void> {
    const result = await scanWorkspace(this.options.root, { exclude: this.options.exclude, signal });
    this.skipped = [...result.skipped];
    for (const file of result.files) {
      const content = await readIndexable(file.absPath, file.path);
      if (!('text' in content)) {
        this.skipped.push({ path: file.path, reason: content.reason, detail: content.detail });
        continue;
      }
      this.applyDiff(await this.documents.open(file.path, content.text));
    }
    this.tokenCounts.save();
  }

  async applyChanges(path: string, version: number, changes: readonly ContentChange[]): Promise<void> {
    this.applyDiff(await this.documents.applyChanges(path, version, changes));
  }

  /** A file created or changed on disk (text), or deleted (null). */
  async setFile(path: string, text: string | null): Promise<void> {
    if (text === null) {
      if (this.documents.has(path)) this.applyDiff(await this.documents.remove(path));
      this.fileEntries.delete(path);
      return;
    }
    this.applyDiff(
      await (this.documents.has(path) ? this.documents.setText(path, text) : this.documents.open(path, text)),
    );
  }

  /** Segments registered but not yet prefilled, most recently touched first. */
  pending(): CacheEntry[] {
    return [...this.unfilled()].sort((a, b) => b.recency - a.recency);
  }

  /** Segments registered but not yet prefilled, in no particular order (for scans that need no sorting). */
  *unfilled(): Generator<CacheEntry> {
    for (const e of this.entries.values()) if (!e.kv && !e.spilled) yield e;
  }

  /**
   * Prefills (or reloads from the store) every pending segment. `shouldYield` is polled between segments so a
   * scheduler can let a completion request run first.
   */
  async prefillPending(
    onProgress?: (p: PrefillProgress) => void,
    signal?: AbortSignal,
    shouldYield?: () => Promise<void>,
  ): Promise<void> {
    const todo = this.pending();
    const totalTokens = todo.reduce((n, e) => n + e.tokens, 0);
    let doneTokens = 0;
    for (const [i, entry] of todo.entries()) {
      if (signal?.aborted) return;
      await shouldYield?.();
      await this.fill(entry);
      doneTokens += entry.tokens;
      onProgress?.({ doneTokens, totalTokens, doneSegments: i + 1, totalSegments: todo.length });
    }
  }

  /**
   * Drops prefilled segments from memory, least recently used first, until they fit in `maxBytes`. Only entries
   * the store holds are dropped (they come back from disk when a query selects them); without a store nothing is.
   */
  spillToFit(maxBytes: number, bytesOf: (kv: CachedSegment) => number): number {
    const store = this.options.store;
    if (!store) return 0;
    const resident = [...this.entries.values()].filter((e) => e.kv).sort((a, b) => a.recency - b.recency);
    let bytes = resident.reduce((n, e) => n + bytesOf(e.kv!), 0);
    let spilled = 0;
    for (const e of resident) {
      if (bytes <= maxBytes) break;
      if (!store.has(e.key)) continue;
      bytes -= bytesOf(e.kv!);
      e.kv = null;
      e.spilled = true;
      spilled++;
    }
    return spilled;
  }

  /** Reloads spilled entries a query selected (a corrupt or evicted store entry is prefilled again). */
  private async ensureResident(entries: CacheEntry[]): Promise<void> {
    for (const e of entries) {
      if (e.kv) continue;
      e.spilled = false;
      await this.fill(e);
    }
  }

  /** Loads every registered segment the store already holds, prefilling nothing (for statistics). */
  loadStored(): void {
    const store = this.options.store;
    if (!store) return;
    for (const entry of this.entries.values()) {
      const kv = entry.kv ? null : store.get(entry.key);
      if (kv) {
        this.hits++;
        this.setKv(entry, kv);
      }
    }
  }

  /** A document opened in the editor: its buffer (maybe unsaved) replaces what was read from disk. */
  async openDocument(path: string, text: string, version: number): Promise<void> {
    this.applyDiff(await this.documents.open(path, text, version));
  }

  /** The cache entry of one segment: reloaded from the store when present, else prefilled and stored. */
  async fill(entry: CacheEntry): Promise<void> {
    if (entry.kv || this.entries.get(entry.key) !== entry) return;
    const stored = this.options.store?.get(entry.key) ?? null;
    if (stored) {
      this.hits++;
      this.setKv(entry, stored);
      return;
    }
    this.misses++;
    const started = performance.now();
    const kv = await this.runtime.prefill({
      path: entry.path,
      text: entry.text.slice(entry.bodyOffset),
      protectedRanges: entry.protectedRanges,
    });
    this.prefillMs += performance.now() - started;
    this.prefillTokens += entry.tokens;
    this.setKv(entry, kv);
    this.options.store?.put(entry.key, kv);
  }

  private setKv(entry: CacheEntry, kv: CachedSegment): void {
    entry.kv = kv;
    entry.summary = {
      tokens: kv.tokens,
      bytes: segmentBytes(kv),
      keptPerLayer: kv.layers.map((heads) => heads.reduce((n, h) => n + h.kept.length, 0)),
    };
  }

  private keyOf(segment: Segment): string {
    return segmentKey({
      modelId: this.engine.checkpoint.identity,
      // The resolved layout, not `auto`: the same settings store different bytes on different providers.
      config: {
        ...keyedConfig(this.runtime.config),
        keyBits: this.runtime.keyBits,
        quantLayout: this.runtime.quantLayout,
        // Quantized weights give different keys and values; exact weights keep the keys they always had.
        ...this.engine.weights,
      },
      sinkPrefix: this.runtime.sinkPrefix,
      segmentText: segment.text,
    });
  }

  private applyDiff(diff: SegmentDiff): void {
    const stamp = ++this.clock;
    const previous = this.fileEntries.get(diff.path) ?? [];
    const keys: string[] = [];
    // Take the new references before dropping the old ones, so a segment present before and after (even if
    // it moved) never reaches zero references and keeps its prefilled entry.
    for (const segment of diff.segments) {
      const key = this.keyOf(segment);
      keys.push(key);
      const existing = this.entries.get(key);
      if (existing) {
        existing.refs++;
        existing.recency = stamp;
        continue;
      }
      const bodyOffset = segment.headerLength;
      this.entries.set(key, {
        key,
        path: segment.path,
        text: segment.text,
        bodyOffset,
        protectedRanges: segment.protected
          .map((r) => ({ start: r.start - bodyOffset, end: r.end - bodyOffset }))
          .filter((r) => r.end > 0),
        tokens: segment.tokens,
        identifiers: identifiersOf(segment.text),
        kv: null,
        spilled: false,
        summary: null,
        refs: 1,
        recency: stamp,
      });
    }
    for (const key of previous) this.release(key);
    if (keys.length) this.fileEntries.set(diff.path, keys);
    else this.fileEntries.delete(diff.path);
  }

  private release(key: string): void {
    const entry = this.entries.get(key);
    if (entry && --entry.refs <= 0) this.entries.delete(key);
  }

  /**
   * Segments of other files selected for a query from `localPath` within the attention budget: prefilled ones
   * only, unless `includePending` (the evaluation prefills what it selects itself).
   */
  contextFor(localPath: string, localText: string, includePending = false): CacheEntry[] {
    const candidates = [...this.entries.values()].filter(
      (e) => (includePending || e.kv || e.spilled) && e.path !== localPath,
    );
    // Default: a quarter of the model's context. Segments attended in parallel at overlapping positions distract
    // a model beyond what it saw in training: on zod, 4096 repository tokens cost the bundled model 0.08 nats per
    // line while 512–1024 cost nothing (BENCHMARKS.md).
    const budget = this.runtime.config.contextBudget ?? Math.floor(this.engine.config.maxPositionEmbeddings / 4);
    return selectSegments(candidates, localText, localPath, budget);
  }

  async complete(request: CompletionRequest, signal?: AbortSignal): Promise<QueryResult> {
    const started = performance.now();
    const query = completionPrompt(this.engine, request);
    const context = request.useRepository === false ? [] : this.contextFor(request.path, query.before);
    const stopTokenIds = [...(this.engine.fim?.stopTokenIds ?? []), ...this.engine.stopTokenIds];
    const result = await this.run(query.prompt, context, query.maxTokens, stopTokenIds, started, {
      signal,
      constraint: query.constraint,
    });
    return { ...result, text: query.answer(result.text) };
  }

  async chat(
    messages: ChatMessage[],
    attachments: { path: string; text: string }[],
    maxTokens: number,
    onText?: (delta: string) => void,
    signal?: AbortSignal,
  ): Promise<QueryResult> {
    const started = performance.now();
    const prompt = chatPrompt(this.engine, messages, attachments);
    const question = messages.map((m) => m.content).join('\n');
    const context = this.contextFor('', `${question}\n${attachments.map((a) => a.text).join('\n')}`);
    return this.run(prompt, context, maxTokens, this.engine.stopTokenIds, started, { signal, onText });
  }

  private async run(
    prompt: string,
    context: CacheEntry[],
    maxTokens: number,
    stopTokenIds: number[],
    started: number,
    options: Pick<GenerateOptions, 'signal' | 'onText' | 'constraint'>,
  ): Promise<QueryResult> {
    await this.ensureResident(context);
    const ctx = await this.runtime.queryContext(context.map((e) => e.kv!));
    const promptIds = this.engine.encode(prompt);
    // The local tokens' keys depend on the block they attended to and on where they sit: same segments, same place.
    const contextKey = [ctx.firstPosition, ...context.map((e) => e.key)].join('\n');
    const resume = this.localReuse.take(contextKey, promptIds, ctx.sink.length);
    this.reusedPromptTokens += resume?.reused ?? 0;
    const result = await generateInContext(
      ctx,
      this.engine.tokenizer,
      promptIds,
      { maxTokens, stopTokenIds, ...options },
      resume,
    );
    this.localReuse.keep(contextKey, promptIds, result.cache, ctx.sink.length);
    return {
      text: result.text,
      tokens: result.tokenIds.length,
      contextTokens: context.reduce((n, e) => n + e.tokens, 0) + this.runtime.sink.length + promptIds.length,
      ms: Math.round(performance.now() - started),
    };
  }

  async dispose(): Promise<void> {
    this.localReuse.clear(); // a kept device state is freed while the session that made it still exists
    await this.runtime.dispose();
  }
}
