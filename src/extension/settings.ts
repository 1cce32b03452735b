/**
 * The `repokv.*` settings (DESIGN section 7) read into the shapes the sidecar and the providers take. Values are
 * clamped here: settings.json is hand-edited, and a value outside the schema should degrade to the nearest usable
 * one rather than make the sidecar refuse to start.
 */
import * as vscode from 'vscode';
import type {
  EvictionPolicy,
  ExcludeSetting,
  ExecutionProvider,
  KvBits,
  ServiceSettings,
  WeightBitsSetting,
} from '../sidecar/protocol';

export interface CompletionSettings {
  readonly debounceMs: number;
  readonly maxTokens: number;
}

const PROVIDERS: readonly ExecutionProvider[] = ['auto', 'cuda', 'webgpu', 'cpu'];
const EVICTIONS: readonly EvictionPolicy[] = ['none', 'snapkv', 'defensive', 'h2o'];
const KV_BITS: readonly KvBits[] = [2, 4, 8, 16];
const WEIGHT_BITS: readonly WeightBitsSetting[] = ['auto', 4, 8, 32];

/** Settings whose change needs a new service (model, provider, cache shape, what is indexed). */
const SERVICE_SECTIONS = [
  'repokv.model',
  'repokv.executionProvider',
  'repokv.cache',
  'repokv.exclude',
  'files.exclude',
];

export function affectsService(event: vscode.ConfigurationChangeEvent): boolean {
  return SERVICE_SECTIONS.some((section) => event.affectsConfiguration(section));
}

export function readServiceSettings(cacheDir: string): ServiceSettings {
  const c = vscode.workspace.getConfiguration('repokv');
  const exclude: ExcludeSetting[] = [];
  const filesExclude = vscode.workspace.getConfiguration('files').get<unknown>('exclude');
  for (const setting of [filesExclude, c.get<unknown>('exclude')]) {
    if (typeof setting === 'object' && setting !== null) exclude.push(setting as ExcludeSetting);
  }
  return {
    modelPath: c.get<string>('model.path', '').trim(),
    executionProvider: pick(c.get<string>('executionProvider'), PROVIDERS, 'auto'),
    weightBits: pick(c.get<WeightBitsSetting>('model.weightBits'), WEIGHT_BITS, 'auto'),
    cache: {
      kvBits: pick(c.get<number>('cache.kvBits'), KV_BITS, 2),
      keepRatio: clamp(c.get('cache.keepRatio'), 0.01, 1, 0.5),
      sinkTokens: Math.round(clamp(c.get('cache.sinkTokens'), 0, 1024, 4)),
      eviction: pick(c.get<string>('cache.eviction'), EVICTIONS, 'defensive'),
      maxMemoryMB: clamp(c.get('cache.maxMemoryMB'), 1, 1 << 20, 1024),
    },
    cacheDir,
    exclude,
  };
}

export function readCompletionSettings(): CompletionSettings {
  const c = vscode.workspace.getConfiguration('repokv.completion');
  return {
    debounceMs: Math.round(clamp(c.get('debounceMs'), 0, 2000, 100)),
    maxTokens: Math.round(clamp(c.get('maxTokens'), 1, 4096, 64)),
  };
}

function pick<T extends string | number>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function clamp(value: unknown, lo: number, hi: number, fallback: number): number {
  const x = typeof value === 'number' && Number.isFinite(value) ? value : fallback;
  return Math.min(hi, Math.max(lo, x));
}
