/**
 * A RepositoryService without a model, for the protocol tests: deterministic answers, and magic words that make
 * it misbehave on purpose. It reports what happened to it through the service logger, which the server turns
 * into `log` notifications, so that a test on the other side of a pipe can see e.g. that its signal fired.
 * - settings.modelPath 'bad-model': the factory throws, as for an unusable checkpoint;
 * - settings.modelPath 'slow-index': `open` indexes until aborted;
 * - completion text containing SLOW: decodes step by step until aborted; THROW: fails; CRASH: the process exits;
 * - chat message 'forever': streams until aborted.
 */
import type {
  CacheStatistics,
  IndexProgress,
  RepositoryService,
  ServiceFactory,
  TextChange,
} from '../../src/sidecar/service';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const FAKE_STATS: CacheStatistics = {
  files: 3,
  segments: 7,
  tokens: 1200,
  keptTokens: 600,
  bytes: 48_000,
  bytesPerToken: 40,
  fp16BytesPerToken: 384,
  compressionRatio: 9.6,
  quantError: { keys: [0.1, 0.05], values: [0.08, 0.07] },
  keyBitsPerLayer: [4, 2],
  keptRatioPerLayer: [0.6, 0.4],
  bytesPerFile: { 'src/a.ts': 30_000, 'README.md': 18_000 },
  provider: 'cpu',
  hits: 5,
  misses: 2,
  prefillTokensPerSecond: 900,
  skipped: [{ path: '.env', reason: 'secret' }],
};

export const createFakeService: ServiceFactory = (settings, log) => {
  if (settings.modelPath === 'bad-model') throw new Error('bad-model/config.json: config.json is missing');
  const documents = new Map<string, { version: number; text: string }>();
  const listeners: ((p: IndexProgress) => void)[] = [];
  const progress = (p: Partial<IndexProgress>): void => {
    const full: IndexProgress = {
      doneTokens: 0,
      totalTokens: 100,
      doneSegments: 0,
      totalSegments: 4,
      etaSeconds: null,
      phase: 'prefilling',
      ...p,
    };
    for (const l of listeners) l(full);
  };

  const service: RepositoryService = {
    async open(folders, signal) {
      log('info', `open ${folders.join(',')} with ${settings.cache.kvBits} bits`);
      progress({ phase: 'scanning', totalTokens: 0 });
      for (let step = 0; settings.modelPath === 'slow-index' || step < 4; step++) {
        if (signal?.aborted) {
          log('info', `open aborted after ${step} steps`);
          progress({ phase: 'idle', doneTokens: step, totalTokens: 100 });
          signal.throwIfAborted();
        }
        progress({ doneTokens: step * 25, doneSegments: step });
        await sleep(5);
      }
      progress({ phase: 'idle', doneTokens: 100, doneSegments: 4, etaSeconds: 0 });
    },
    async documentOpened(path, version, text) {
      documents.set(path, { version, text });
      log('info', `opened ${path} v${version} (${text.length} chars)`);
    },
    async documentChanged(path, version, changes: TextChange[]) {
      const doc = documents.get(path);
      if (!doc) throw new Error(`no document ${path}`);
      if (version <= doc.version) {
        throw new Error(`stale edit for ${path}: version ${version} is not newer than ${doc.version}`);
      }
      await sleep(2); // long enough for a following edit to arrive while this one is applied
      for (const c of changes) {
        doc.text = doc.text.slice(0, c.rangeOffset) + c.text + doc.text.slice(c.rangeOffset + c.rangeLength);
      }
      doc.version = version;
      log('info', `changed ${path} v${version}: ${JSON.stringify(doc.text)}`);
    },
    async documentClosed(path) {
      documents.delete(path);
      log('info', `closed ${path}`);
    },
    async fileChanged(path, text) {
      log('info', `file ${path} ${text === null ? 'deleted' : `${text.length} chars`}`);
    },
    async complete(request, signal) {
      if (request.text.includes('CRASH')) process.exit(3);
      if (request.text.includes('THROW')) throw new Error('engine exploded');
      if (request.text.includes('SLOW')) {
        for (let step = 1; ; step++) {
          await sleep(5);
          if (signal.aborted) {
            log('info', `complete aborted after ${step} steps`);
            signal.throwIfAborted();
          }
        }
      }
      return { text: `/*${request.path}:${request.line}:${request.character}*/`, tokens: 1, contextTokens: 10, ms: 1 };
    },
    async chat(request, onText, signal) {
      const question = request.messages[request.messages.length - 1]?.content ?? '';
      if (question === 'forever') {
        for (let n = 0; ; n++) {
          if (signal.aborted) {
            log('info', `chat aborted after ${n} deltas`);
            signal.throwIfAborted();
          }
          onText('tick ');
          await sleep(5);
        }
      }
      const words = ['Hello', ' from', ' the', ' fake', ' service'];
      for (const w of words) {
        onText(w);
        await sleep(1);
      }
      return { text: words.join(''), tokens: words.length, ms: 5 };
    },
    async stats() {
      return FAKE_STATS;
    },
    async rebuild() {
      log('info', 'rebuild');
    },
    onProgress(listener) {
      listeners.push(listener);
    },
    async dispose() {
      log('info', 'disposed');
    },
  };
  return service;
};
