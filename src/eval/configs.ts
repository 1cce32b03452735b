/**
 * The named configurations of `repokv eval` (DESIGN section 7). Cache flags given on the command line form the
 * base of every configuration (and are `custom` by themselves); each name then fixes bits and eviction.
 * Eviction in the `evict*` configurations is the default scorer.
 */
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../cache/cache-config';

export const NO_CONTEXT = 'no-context';

const NAMED: Record<string, Partial<CacheConfig>> = {
  full: { kBits: 16, vBits: 16, keepRatio: 1, eviction: 'none' },
  q2: { kBits: 2, vBits: 2, keepRatio: 1, eviction: 'none' },
  q4: { kBits: 4, vBits: 4, keepRatio: 1, eviction: 'none' },
  evict50: { kBits: 16, vBits: 16, keepRatio: 0.5, eviction: DEFAULT_CACHE_CONFIG.eviction },
  evict25: { kBits: 16, vBits: 16, keepRatio: 0.25, eviction: DEFAULT_CACHE_CONFIG.eviction },
  'q2-evict50': { kBits: 2, vBits: 2, keepRatio: 0.5, eviction: DEFAULT_CACHE_CONFIG.eviction },
  'q2-evict25': { kBits: 2, vBits: 2, keepRatio: 0.25, eviction: DEFAULT_CACHE_CONFIG.eviction },
  custom: {},
};

export const CONFIG_NAMES = [NO_CONTEXT, ...Object.keys(NAMED)];
export const DEFAULT_EVAL_CONFIGS = [NO_CONTEXT, 'full', 'q2', 'q4', 'evict50', 'evict25', 'q2-evict50', 'q2-evict25'];

/** Resolves a configuration name against the base (flags); `null` for `no-context`, which uses no cache. */
export function resolveConfig(name: string, base: CacheConfig): CacheConfig | null {
  if (name === NO_CONTEXT) return null;
  const named = NAMED[name];
  if (!named) throw new Error(`unknown eval configuration "${name}" (known: ${CONFIG_NAMES.join(', ')})`);
  return { ...base, ...named };
}

export function parseConfigList(list: string | undefined): string[] {
  const names = list
    ? list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : DEFAULT_EVAL_CONFIGS;
  for (const n of names)
    if (!CONFIG_NAMES.includes(n))
      throw new Error(`unknown eval configuration "${n}" (known: ${CONFIG_NAMES.join(', ')})`);
  // `full` is the reference of KL divergence and context gain retained: always measured.
  return names.includes('full') ? names : [...names, 'full'];
}
