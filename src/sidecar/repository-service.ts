/**
 * The sidecar's RepositoryService on the real engine: one repository cache per workspace folder (paths are
 * workspace-relative; in a multi-root workspace they start with the folder's name, as VS Code writes them),
 * background prefill through the scheduler, completions and chat in the foreground, a memory bound that keeps
 * the least recently used segments on disk only, and secrets and ignored files kept out of every update.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../cache/cache-config';
import { RepositoryCache } from '../cache/repository-cache';
import { cacheStatistics } from '../cache/repository-stats';
import { segmentBytes } from '../cache/segment-kv';
import { SegmentStore } from '../cache/store';
import { Engine } from '../engine/engine';
import { isSecretPath, WorkspaceFilter } from '../syntax';
import { PrefillScheduler } from './scheduler';
import type {
  CacheStatistics,
  ChatRequest,
  ChatResult,
  CompletionRequest,
  CompletionResult,
  IndexProgress,
  RepositoryService,
  ServiceLogger,
  ServiceSettings,
  TextChange,
} from './service';

const STORE_BYTES = 4 * 1024 ** 3;

export function cacheConfigFromSettings(settings: ServiceSettings): CacheConfig {
  const { kvBits, keepRatio, sinkTokens, eviction } = settings.cache;
  return {
    ...DEFAULT_CACHE_CONFIG,
    kBits: kvBits,
    vBits: kvBits,
    keepRatio,
    sinkTokens,
    eviction,
  };
}

interface Folder {
  root: string;
  name: string;
  cache: RepositoryCache;
  filter: WorkspaceFilter;
}

class EngineRepositoryService implements RepositoryService {
  private folders: Folder[] = [];
  private readonly listeners: ((p: IndexProgress) => void)[] = [];
  private readonly openDocs = new Set<string>();
  private readonly scheduler: PrefillScheduler;

  constructor(
    private readonly settings: ServiceSettings,
    private readonly engine: Engine,
    private readonly store: SegmentStore,
    private readonly config: CacheConfig,
    private readonly log: ServiceLogger,
  ) {
    this.scheduler = new PrefillScheduler(
      () => this.folders.map((f) => f.cache),
      (p) => this.listeners.forEach((l) => l(p)),
      () => this.enforceMemoryBound(),
    );
  }

  async open(folders: string[], signal?: AbortSignal): Promise<void> {
    const multiRoot = folders.length > 1;
    for (const root of folders) {
      const cache = await RepositoryCache.open({
        root,
        engine: this.engine,
        config: this.config,
        store: this.store,
        exclude: this.settings.exclude,
        log: (line) => this.log('info', line),
      });
      this.listeners.forEach((l) =>
        l({ phase: 'scanning', doneTokens: 0, totalTokens: 0, doneSegments: 0, totalSegments: 0, etaSeconds: null }),
      );
      await cache.scan(signal);
      await cache.runtime.warmUp();
      const name = multiRoot ? path.basename(root) : '';
      this.folders.push({ root, name, cache, filter: new WorkspaceFilter(root, { exclude: this.settings.exclude }) });
      this.log('info', `scanned ${root}: ${cache.fileEntries.size} files, ${cache.skipped.length} skipped`);
    }
    await this.scheduler.kick(signal);
  }

  /** The folder and folder-relative path of a workspace path; null for files outside every folder. */
  private route(p: string): { folder: Folder; rel: string } | null {
    if (p.startsWith('untitled:') || path.isAbsolute(p)) return null;
    for (const folder of this.folders) {
      if (!folder.name) return { folder, rel: p };
      if (p.startsWith(`${folder.name}/`)) return { folder, rel: p.slice(folder.name.length + 1) };
    }
    return null;
  }

  /** Secrets, ignored and excluded files never enter the cache, whatever event brings them. */
  private indexable(folder: Folder, rel: string): boolean {
    return !isSecretPath(rel) && !folder.filter.pathSkip(rel, false);
  }

  async documentOpened(p: string, version: number, text: string): Promise<void> {
    this.openDocs.add(p);
    const r = this.route(p);
    if (!r || !this.indexable(r.folder, r.rel)) return;
    this.scheduler.setOpen(r.rel, true);
    await r.folder.cache.openDocument(r.rel, text, version);
    void this.scheduler.kick();
  }

  async documentChanged(p: string, version: number, changes: TextChange[]): Promise<void> {
    const r = this.route(p);
    if (!r || !this.indexable(r.folder, r.rel) || !r.folder.cache.documents.has(r.rel)) return;
    this.scheduler.setActive(r.rel);
    this.scheduler.noteEdit(r.rel);
    await r.folder.cache.applyChanges(r.rel, version, changes);
    void this.scheduler.kick();
  }

  async documentClosed(p: string): Promise<void> {
    this.openDocs.delete(p);
    const r = this.route(p);
    if (!r || !this.indexable(r.folder, r.rel)) return;
    this.scheduler.setOpen(r.rel, false);
    // The file on disk is the truth again (unsaved edits were discarded or saved).
    const file = path.join(r.folder.root, r.rel);
    await r.folder.cache.setFile(r.rel, fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null);
    void this.scheduler.kick();
  }

  async fileChanged(p: string, text: string | null): Promise<void> {
    if (this.openDocs.has(p) && text !== null) return; // the editor's buffer wins while the document is open
    const r = this.route(p);
    if (!r || !this.indexable(r.folder, r.rel)) return;
    await r.folder.cache.setFile(r.rel, text);
    void this.scheduler.kick();
  }

  async complete(request: CompletionRequest, signal: AbortSignal): Promise<CompletionResult> {
    const r = this.route(request.path);
    const folder = r?.folder ?? this.folders[0];
    if (!folder) throw new Error('no workspace folder is open');
    if (r) this.scheduler.setActive(r.rel);
    return this.scheduler.foreground(() =>
      folder.cache.complete(
        {
          path: r?.rel ?? request.path,
          text: request.text,
          line: request.line,
          character: request.character,
          maxTokens: request.maxTokens,
        },
        signal,
      ),
    );
  }

  async chat(request: ChatRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ChatResult> {
    const folder = this.folders[0];
    if (!folder) throw new Error('no workspace folder is open');
    const result = await this.scheduler.foreground(() =>
      folder.cache.chat(request.messages, request.attachments ?? [], request.maxTokens ?? 256, onText, signal),
    );
    return { text: result.text, tokens: result.tokens, ms: result.ms };
  }

  async stats(): Promise<CacheStatistics> {
    const all = await Promise.all(this.folders.map((f) => cacheStatistics(f.cache)));
    if (all.length === 1) return all[0]!;
    return mergeStatistics(
      all,
      this.folders.map((f) => f.name),
    );
  }

  async rebuild(signal?: AbortSignal): Promise<void> {
    this.store.clear();
    const roots = this.folders.map((f) => f.root);
    await Promise.all(this.folders.map((f) => f.cache.dispose()));
    this.folders = [];
    await this.open(roots, signal);
  }

  onProgress(listener: (p: IndexProgress) => void): void {
    this.listeners.push(listener);
  }

  /** Keeps the prefilled segments in memory under repokv.cache.maxMemoryMB; the rest stay in the store only. */
  private enforceMemoryBound(): void {
    const bound = (this.settings.cache.maxMemoryMB * 1024 * 1024) / Math.max(1, this.folders.length);
    for (const f of this.folders) {
      const spilled = f.cache.spillToFit(bound, segmentBytes);
      if (spilled) this.log('debug', `memory bound: ${spilled} segments of ${f.root} kept on disk only`);
    }
  }

  async dispose(): Promise<void> {
    this.scheduler.stop();
    for (const f of this.folders) await f.cache.dispose();
    await this.engine.dispose();
  }
}

function mergeStatistics(all: CacheStatistics[], names: string[]): CacheStatistics {
  const sum = (f: (s: CacheStatistics) => number) => all.reduce((n, s) => n + f(s), 0);
  const tokens = sum((s) => s.tokens);
  const bytes = sum((s) => s.bytes);
  const bytesPerToken = tokens ? bytes / tokens : 0;
  const first = all[0]!;
  return {
    ...first,
    files: sum((s) => s.files),
    segments: sum((s) => s.segments),
    tokens,
    keptTokens: sum((s) => s.keptTokens),
    bytes,
    bytesPerToken,
    compressionRatio: bytesPerToken ? first.fp16BytesPerToken / bytesPerToken : 0,
    hits: sum((s) => s.hits),
    misses: sum((s) => s.misses),
    bytesPerFile: Object.assign(
      {},
      ...all.map((s, i) => Object.fromEntries(Object.entries(s.bytesPerFile).map(([p, b]) => [`${names[i]}/${p}`, b]))),
    ),
    skipped: all.flatMap((s, i) => s.skipped.map((k) => ({ ...k, path: `${names[i]}/${k.path}` }))),
  };
}

export async function createRepositoryService(
  settings: ServiceSettings,
  log: ServiceLogger,
): Promise<RepositoryService> {
  const engine = await Engine.load({
    modelDir: settings.modelPath,
    provider: settings.executionProvider,
    weightBits: settings.weightBits,
    cacheDir: settings.cacheDir,
    log: (line) => log('info', line),
  });
  const store = new SegmentStore(path.join(settings.cacheDir, 'store'), { maxBytes: STORE_BYTES });
  return new EngineRepositoryService(settings, engine, store, cacheConfigFromSettings(settings), log);
}
